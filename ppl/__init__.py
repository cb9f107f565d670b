"""Probabilistic programming on the `autodiff` engine: distributions, constraints, transforms,
models (`@ppl.model`, `ppl.sample`, `ppl.plate`) and, on top, ADVI."""
from . import constraints, distributions, handlers, transforms
from . import distributions as dist
from .model import Model, model
from .primitives import deterministic, factor, plate, sample
from . import infer
from .infer import ElboHistory, MAPResult, VIResult, advi, dadvi, laplace, map_estimate

__all__ = ["constraints", "distributions", "dist", "handlers", "transforms", "infer", "model",
           "Model",
           "sample", "plate", "deterministic", "factor", "advi", "VIResult", "ElboHistory",
           "map_estimate", "laplace", "MAPResult", "dadvi"]
