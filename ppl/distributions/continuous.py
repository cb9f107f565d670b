"""Continuous univariate families on the real line (or an interval of it): Normal, Cauchy,
StudentT, Laplace, Logistic, Uniform, TruncatedNormal. Positive-support families are in
`positive.py`.

Every log_prob is a handful of engine ops on the value and the parameters; constants are
Python floats, so float32 inputs give float32 densities.
"""
import math

import numpy as np

import autodiff as ad
from autodiff import getval

from .. import constraints
from .base import Distribution, as_param, broadcast_shape
from .kernels import normal_log_prob

_sg = ad.stop_gradient  # a value without derivative: numpy, or per row under vmap

__all__ = ["Normal", "Cauchy", "StudentT", "Laplace", "Logistic"]

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)
_LOG_PI = math.log(math.pi)
_LOG_2 = math.log(2.0)


def _full(x, shape):
    """A numpy array of `shape` from a number, array or Tensor (mean, variance); under vmap a
    box of the batch traces (each row's own)."""
    v = _sg(x)
    return ad.broadcast_to(v, shape) if isinstance(v, ad.Tensor) else np.broadcast_to(v, shape)


def _dtype(*params):
    """The floating dtype of the parameters (float32 stays float32)."""
    return np.result_type(*(getval(p) for p in params))


def _student_t_log_prob(z, df, scale):
    """log density of StudentT(df, 0, scale) at z * scale: 1 betaln instead of 2 lgammas,
    accurate for large df where lgamma((df+1)/2) - lgamma(df/2) cancels."""
    half = np.asarray(0.5, _dtype(df))  # the engine takes a Python 0.5 to betaln as float64
    return (-(0.5 * (df + 1.0)) * ad.log1p(z * z / df)
            - (ad.betaln(0.5 * df, half) + 0.5 * ad.log(df) + ad.log(scale)))


class Normal(Distribution):
    """Normal(loc, scale): log p(x) = -((x - loc)/scale)^2 / 2 - log scale - log(2 pi)/2.

    >>> float(Normal(0.0, 1.0).log_prob(0.0))
    -0.9189385332046727
    """
    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real

    def __init__(self, loc=0.0, scale=1.0, *, validate_args=None):
        self.loc, self.scale = as_param(loc, "loc"), as_param(scale, "scale")
        super().__init__(broadcast_shape(self.loc, self.scale),
                         validate_args=validate_args)

    def sample(self, rng, sample_shape=()):
        eps = rng.standard_normal(self.shape(sample_shape))
        return getval(self.loc) + getval(self.scale) * eps

    def log_prob(self, value):
        return self._mask(value, lambda x: normal_log_prob(x, self.loc, self.scale))

    @property
    def mean(self):
        return np.broadcast_to(_sg(self.loc), self.batch_shape)

    @property
    def variance(self):
        return np.broadcast_to(_sg(self.scale) ** 2, self.batch_shape)


class Cauchy(Distribution):
    """Cauchy(loc, scale): log p(x) = -log(1 + ((x - loc)/scale)^2) - log scale - log pi.

    >>> round(float(Cauchy(0.0, 1.0).log_prob(1.0)), 6)
    -1.837877
    """
    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real

    def __init__(self, loc=0.0, scale=1.0, *, validate_args=None):
        self.loc, self.scale = as_param(loc, "loc"), as_param(scale, "scale")
        super().__init__(broadcast_shape(self.loc, self.scale), validate_args=validate_args)

    def sample(self, rng, sample_shape=()):
        return getval(self.loc) + getval(self.scale) * rng.standard_cauchy(self.shape(sample_shape))

    def log_prob(self, value):
        def lp(x):
            z = (x - self.loc) / self.scale
            return -ad.log1p(z * z) - (ad.log(self.scale) + _LOG_PI)
        return self._mask(value, lp)

    @property
    def mean(self):  # undefined, as NumPyro
        return np.full(self.batch_shape, np.nan, _dtype(self.loc, self.scale))

    @property
    def variance(self):
        return np.full(self.batch_shape, np.nan, _dtype(self.loc, self.scale))

    def _support_point(self, v):
        return np.broadcast_to(_sg(self.loc), np.broadcast_shapes(v.shape, self.batch_shape))


class StudentT(Distribution):
    """StudentT(df, loc, scale): log p(x) = -(df+1)/2 log(1 + z^2/df) - log B(df/2, 1/2)
    - log(df)/2 - log scale, with z = (x - loc)/scale.

    >>> round(float(StudentT(3.0).log_prob(0.0)), 6)
    -1.000889
    """
    arg_constraints = {"df": constraints.positive, "loc": constraints.real,
                       "scale": constraints.positive}
    support = constraints.real

    def __init__(self, df, loc=0.0, scale=1.0, *, validate_args=None):
        self.df, self.loc = as_param(df, "df"), as_param(loc, "loc")
        self.scale = as_param(scale, "scale")
        super().__init__(broadcast_shape(self.df, self.loc, self.scale),
                         validate_args=validate_args)

    def sample(self, rng, sample_shape=()):
        shape = self.shape(sample_shape)
        t = rng.standard_t(np.broadcast_to(getval(self.df), shape), shape)
        return getval(self.loc) + getval(self.scale) * t

    def log_prob(self, value):
        def lp(x):
            return _student_t_log_prob((x - self.loc) / self.scale, self.df, self.scale)
        return self._mask(value, lp)

    @property
    def mean(self):  # nan for df <= 1, as NumPyro
        df = _sg(self.df)
        return _full(np.where(df > 1.0, _sg(self.loc), np.nan), self.batch_shape)

    @property
    def variance(self):  # inf for 1 < df <= 2, nan for df <= 1, as NumPyro
        df, scale = _sg(self.df), _sg(self.scale)
        with np.errstate(divide="ignore", invalid="ignore"):
            var = np.where(df > 2.0, scale ** 2 * df / (df - 2.0), np.inf)
        return _full(np.where(df > 1.0, var, np.nan), self.batch_shape)

    def _support_point(self, v):
        return np.broadcast_to(_sg(self.loc), np.broadcast_shapes(v.shape, self.batch_shape))


class Laplace(Distribution):
    """Laplace(loc, scale): log p(x) = -|x - loc|/scale - log(2 scale).

    >>> round(float(Laplace(0.0, 1.0).log_prob(1.0)), 6)
    -1.693147
    """
    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real

    def __init__(self, loc=0.0, scale=1.0, *, validate_args=None):
        self.loc, self.scale = as_param(loc, "loc"), as_param(scale, "scale")
        super().__init__(broadcast_shape(self.loc, self.scale), validate_args=validate_args)

    def sample(self, rng, sample_shape=()):
        return getval(self.loc) + getval(self.scale) * rng.laplace(size=self.shape(sample_shape))

    def log_prob(self, value):
        def lp(x):
            return -ad.abs(x - self.loc) / self.scale - (ad.log(self.scale) + _LOG_2)
        return self._mask(value, lp)

    @property
    def mean(self):
        return _full(self.loc, self.batch_shape)

    @property
    def variance(self):
        return _full(2.0 * _sg(self.scale) ** 2, self.batch_shape)


class Logistic(Distribution):
    """Logistic(loc, scale): log p(x) = -z - 2 softplus(-z) - log scale, z = (x - loc)/scale.

    >>> round(float(Logistic(0.0, 1.0).log_prob(0.0)), 6)
    -1.386294
    """
    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real

    def __init__(self, loc=0.0, scale=1.0, *, validate_args=None):
        self.loc, self.scale = as_param(loc, "loc"), as_param(scale, "scale")
        super().__init__(broadcast_shape(self.loc, self.scale), validate_args=validate_args)

    def sample(self, rng, sample_shape=()):
        return getval(self.loc) + getval(self.scale) * rng.logistic(size=self.shape(sample_shape))

    def log_prob(self, value):
        def lp(x):
            z = (x - self.loc) / self.scale
            return -z - 2.0 * ad.softplus(-z) - ad.log(self.scale)
        return self._mask(value, lp)

    @property
    def mean(self):
        return _full(self.loc, self.batch_shape)

    @property
    def variance(self):
        return _full(_sg(self.scale) ** 2 * (math.pi ** 2 / 3.0), self.batch_shape)
