"""Probabilistic programming on the `autodiff` engine: distributions, constraints, transforms,
models (`@ppl.model`, `ppl.sample`, `ppl.plate`) and, on top, ADVI."""
from . import constraints, distributions, handlers, transforms
from . import distributions as dist
from .model import Model, model
from .primitives import deterministic, factor, plate, sample
from .results import ElboHistory, VIResult
from .advi import advi
from .laplace import MAPResult, laplace, map_estimate
from .infer import dadvi

__all__ = ["constraints", "distributions", "dist", "handlers", "transforms", "model", "Model",
           "sample", "plate", "deterministic", "factor", "advi", "VIResult", "ElboHistory",
           "map_estimate", "laplace", "MAPResult", "dadvi"]
