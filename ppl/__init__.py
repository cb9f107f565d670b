"""Probabilistic programming on the `autodiff` engine: distributions, constraints, transforms,
models (`@ppl.model`, `ppl.sample`, `ppl.plate`) and, on top, ADVI."""
from . import constraints, distributions
from . import distributions as dist
