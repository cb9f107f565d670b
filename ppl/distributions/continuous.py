"""Continuous univariate families on the real line: Normal, Cauchy, StudentT, Laplace, Logistic."""
import math

import numpy as np

import autodiff as ad
from autodiff.tensor import _raw

from .. import constraints
from .base import Distribution, as_param

__all__ = ["Normal"]

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


class Normal(Distribution):
    """Normal(loc, scale): log p(x) = -((x - loc)/scale)^2 / 2 - log scale - log(2 pi)/2.

    >>> Normal(0.0, 1.0).log_prob(0.0)
    -0.918938533...
    """
    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real

    def __init__(self, loc=0.0, scale=1.0, *, validate_args=None):
        self.loc, self.scale = as_param(loc, "loc"), as_param(scale, "scale")
        super().__init__(np.broadcast_shapes(np.shape(_raw(self.loc)), np.shape(_raw(self.scale))),
                         validate_args=validate_args)

    def sample(self, rng, sample_shape=()):
        eps = rng.standard_normal(self.shape(sample_shape))
        return _raw(self.loc) + _raw(self.scale) * eps

    def log_prob(self, value):
        def lp(x):
            z = (x - self.loc) / self.scale
            return -0.5 * (z * z) - ad.log(self.scale) - _HALF_LOG_2PI
        return self._mask(value, lp)

    @property
    def mean(self):
        return np.broadcast_to(_raw(self.loc), self.batch_shape)

    @property
    def variance(self):
        return np.broadcast_to(_raw(self.scale) ** 2, self.batch_shape)
