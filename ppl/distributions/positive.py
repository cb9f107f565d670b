"""Continuous univariate families on the positive half-line: HalfNormal, HalfCauchy, HalfStudentT,
LogNormal, Exponential, Gamma, InverseGamma, Weibull, ChiSquared; and Beta on the unit interval.

As in `continuous.py`: few engine ops per log_prob, Python float constants (float32 stays
float32), values outside the support give -inf through `Distribution._mask`. Supports include 0
(as scipy.stats, PyMC, PyTorch) except for LogNormal and InverseGamma, whose density vanishes there.
"""
import math

import numpy as np
from scipy import special as sp

import autodiff as ad
from autodiff import getval

from .. import constraints
from .base import Distribution, as_param, broadcast_shape
from .kernels import normal_log_prob
from .continuous import _HALF_LOG_2PI, _LOG_2, _dtype, _full, _student_t_log_prob

_sg = ad.stop_gradient  # a value without derivative: numpy, or per row under vmap

__all__ = ["HalfNormal", "HalfCauchy", "HalfStudentT", "LogNormal", "Exponential", "Gamma",
           "InverseGamma", "Weibull", "ChiSquared"]

_LOG_2_OVER_PI = math.log(2.0 / math.pi)


def _c_log(c, x):
    """c log x, and 0 where c == 0 and x == 0 (xlogy only when x has a 0: it costs ~5 logs)."""
    if (_sg(x) == 0).any():  # under vmap: in any row
        return ad.xlogy(c, x)
    return c * ad.log(x)


def _broadcast_point(p, v, batch_shape):
    """p broadcast against the value and the batch (an interior point for `_mask`)."""
    return np.broadcast_to(p, np.broadcast_shapes(v.shape, batch_shape))  # a Tensor: ad's


class HalfNormal(Distribution):
    """HalfNormal(scale): log p(x) = log(2/pi)/2 - log scale - (x/scale)^2 / 2, x >= 0.

    >>> round(float(HalfNormal(1.0).log_prob(1.0)), 6)
    -0.725791
    """
    arg_constraints = {"scale": constraints.positive}
    support = constraints.nonnegative

    def __init__(self, scale=1.0, *, validate_args=None):
        self.scale = as_param(scale, "scale")
        super().__init__(broadcast_shape(self.scale), validate_args=validate_args)

    def sample(self, rng, sample_shape=()):
        return getval(self.scale) * np.abs(rng.standard_normal(self.shape(sample_shape)))

    def log_prob(self, value):
        # twice the Normal(0, scale) density: the fused kernel, one tape entry plus the log 2
        return self._mask(value, lambda x: normal_log_prob(x, 0.0, self.scale) + _LOG_2)

    @property
    def mean(self):
        return _full(_sg(self.scale) * math.sqrt(2.0 / math.pi), self.batch_shape)

    @property
    def variance(self):
        return _full(_sg(self.scale) ** 2 * (1.0 - 2.0 / math.pi), self.batch_shape)


class HalfCauchy(Distribution):
    """HalfCauchy(scale): log p(x) = log(2/pi) - log scale - log(1 + (x/scale)^2), x >= 0.

    >>> round(float(HalfCauchy(1.0).log_prob(1.0)), 6)
    -1.14473
    """
    arg_constraints = {"scale": constraints.positive}
    support = constraints.nonnegative

    def __init__(self, scale=1.0, *, validate_args=None):
        self.scale = as_param(scale, "scale")
        super().__init__(broadcast_shape(self.scale), validate_args=validate_args)

    def sample(self, rng, sample_shape=()):
        return getval(self.scale) * np.abs(rng.standard_cauchy(self.shape(sample_shape)))

    def log_prob(self, value):
        def lp(x):
            z = x / self.scale
            return -ad.log1p(z * z) - (ad.log(self.scale) - _LOG_2_OVER_PI)
        return self._mask(value, lp)

    @property
    def mean(self):
        return np.full(self.batch_shape, np.inf, _dtype(self.scale))

    @property
    def variance(self):
        return np.full(self.batch_shape, np.inf, _dtype(self.scale))

    def _support_point(self, v):
        return _broadcast_point(_sg(self.scale), v, self.batch_shape)


class HalfStudentT(Distribution):
    """HalfStudentT(df, scale): |StudentT(df, 0, scale)|, log p(x) = log 2
    + StudentT(df, 0, scale).log_prob(x), x >= 0.

    >>> round(float(HalfStudentT(3.0, 1.0).log_prob(1.0)), 6)
    -0.883106
    """
    arg_constraints = {"df": constraints.positive, "scale": constraints.positive}
    support = constraints.nonnegative

    def __init__(self, df, scale=1.0, *, validate_args=None):
        self.df, self.scale = as_param(df, "df"), as_param(scale, "scale")
        super().__init__(broadcast_shape(self.df, self.scale), validate_args=validate_args)

    def sample(self, rng, sample_shape=()):
        shape = self.shape(sample_shape)
        return getval(self.scale) * np.abs(rng.standard_t(np.broadcast_to(getval(self.df), shape)))

    def log_prob(self, value):
        def lp(x):
            return _student_t_log_prob(x / self.scale, self.df, self.scale) + _LOG_2
        return self._mask(value, lp)

    @property
    def mean(self):  # 2 scale sqrt(df) / (B(df/2, 1/2) (df - 1)); inf for df <= 1
        df, scale = _sg(self.df), _sg(self.scale)
        with np.errstate(divide="ignore", invalid="ignore"):
            m = 2.0 * scale * np.sqrt(df) * np.exp(-sp.betaln(0.5 * df, 0.5)) / (df - 1.0)
        return _full(np.where(df > 1.0, m, np.inf).astype(_dtype(df, scale)), self.batch_shape)

    @property
    def variance(self):  # E x^2 = scale^2 df / (df - 2); inf for df <= 2
        df, scale = _sg(self.df), _sg(self.scale)
        with np.errstate(divide="ignore", invalid="ignore"):
            v = scale ** 2 * df / (df - 2.0) - self.mean ** 2
        return _full(np.where(df > 2.0, v, np.inf), self.batch_shape)

    def _support_point(self, v):
        return _broadcast_point(_sg(self.scale), v, self.batch_shape)


class LogNormal(Distribution):
    """LogNormal(loc, scale): log p(x) = -((log x - loc)/scale)^2 / 2 - log x - log scale
    - log(2 pi)/2, x > 0.

    >>> round(float(LogNormal(0.0, 1.0).log_prob(1.0)), 6)
    -0.918939
    """
    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.positive

    def __init__(self, loc=0.0, scale=1.0, *, validate_args=None):
        self.loc, self.scale = as_param(loc, "loc"), as_param(scale, "scale")
        super().__init__(broadcast_shape(self.loc, self.scale), validate_args=validate_args)

    def sample(self, rng, sample_shape=()):
        eps = rng.standard_normal(self.shape(sample_shape))
        return np.exp(getval(self.loc) + getval(self.scale) * eps)

    def log_prob(self, value):
        def lp(x):
            log_x = ad.log(x)
            z = (log_x - self.loc) / self.scale
            return -0.5 * (z * z) - log_x - (ad.log(self.scale) + _HALF_LOG_2PI)
        return self._mask(value, lp)

    @property
    def mean(self):
        return _full(np.exp(_sg(self.loc) + 0.5 * _sg(self.scale) ** 2), self.batch_shape)

    @property
    def variance(self):
        s2 = _sg(self.scale) ** 2
        return _full(np.expm1(s2) * np.exp(2.0 * _sg(self.loc) + s2), self.batch_shape)

    def _support_point(self, v):  # the median: the mean overflows for a large scale
        return _broadcast_point(np.exp(_sg(self.loc)), v, self.batch_shape)


class Exponential(Distribution):
    """Exponential(rate): log p(x) = log rate - rate x, x >= 0.

    >>> round(float(Exponential(2.0).log_prob(1.0)), 6)
    -1.306853
    """
    arg_constraints = {"rate": constraints.positive}
    support = constraints.nonnegative

    def __init__(self, rate=1.0, *, validate_args=None):
        self.rate = as_param(rate, "rate")
        super().__init__(broadcast_shape(self.rate), validate_args=validate_args)

    def sample(self, rng, sample_shape=()):
        return rng.standard_exponential(self.shape(sample_shape)) / getval(self.rate)

    def log_prob(self, value):
        return self._mask(value, lambda x: ad.log(self.rate) - self.rate * x)

    @property
    def mean(self):
        return _full(1.0 / _sg(self.rate), self.batch_shape)

    @property
    def variance(self):
        return _full(_sg(self.rate) ** -2.0, self.batch_shape)


class Gamma(Distribution):
    """Gamma(concentration, rate): log p(x) = a log b + (a-1) log x - b x - lgamma(a), x >= 0.

    >>> round(float(Gamma(2.0, 1.0).log_prob(1.0)), 6)
    -1.0
    """
    arg_constraints = {"concentration": constraints.positive, "rate": constraints.positive}
    support = constraints.nonnegative

    def __init__(self, concentration, rate=1.0, *, validate_args=None):
        self.concentration = as_param(concentration, "concentration")
        self.rate = as_param(rate, "rate")
        super().__init__(broadcast_shape(self.concentration, self.rate),
                         validate_args=validate_args)

    def sample(self, rng, sample_shape=()):
        shape = self.shape(sample_shape)
        a = np.broadcast_to(getval(self.concentration), shape)
        return rng.standard_gamma(a, shape) / getval(self.rate)

    def log_prob(self, value):
        a, b = self.concentration, self.rate

        def lp(x):
            return _c_log(a - 1.0, x) - b * x + (a * ad.log(b) - ad.lgamma(a))
        return self._mask(value, lp)

    @property
    def mean(self):
        return _full(_sg(self.concentration) / _sg(self.rate), self.batch_shape)

    @property
    def variance(self):
        return _full(_sg(self.concentration) / _sg(self.rate) ** 2, self.batch_shape)


class InverseGamma(Distribution):
    """InverseGamma(concentration, rate): 1/Gamma(concentration, rate),
    log p(x) = a log b - lgamma(a) - (a+1) log x - b/x, x > 0.

    >>> round(float(InverseGamma(2.0, 1.0).log_prob(1.0)), 6)
    -1.0
    """
    arg_constraints = {"concentration": constraints.positive, "rate": constraints.positive}
    support = constraints.positive

    def __init__(self, concentration, rate=1.0, *, validate_args=None):
        self.concentration = as_param(concentration, "concentration")
        self.rate = as_param(rate, "rate")
        super().__init__(broadcast_shape(self.concentration, self.rate),
                         validate_args=validate_args)

    def sample(self, rng, sample_shape=()):
        shape = self.shape(sample_shape)
        a = np.broadcast_to(getval(self.concentration), shape)
        return getval(self.rate) / rng.standard_gamma(a, shape)

    def log_prob(self, value):
        a, b = self.concentration, self.rate

        def lp(x):
            return -(a + 1.0) * ad.log(x) - b / x + (a * ad.log(b) - ad.lgamma(a))
        return self._mask(value, lp)

    @property
    def mean(self):  # inf for concentration <= 1, as NumPyro
        a, b = _sg(self.concentration), _sg(self.rate)
        with np.errstate(divide="ignore", invalid="ignore"):
            return _full(np.where(a > 1.0, b / (a - 1.0), np.inf), self.batch_shape)

    @property
    def variance(self):  # inf for concentration <= 2
        a, b = _sg(self.concentration), _sg(self.rate)
        with np.errstate(divide="ignore", invalid="ignore"):
            v = b ** 2 / ((a - 1.0) ** 2 * (a - 2.0))
        return _full(np.where(a > 2.0, v, np.inf), self.batch_shape)

    def _support_point(self, v):  # the mode: the mean is inf for concentration <= 1
        return _broadcast_point(_sg(self.rate) / (_sg(self.concentration) + 1.0), v,
                                self.batch_shape)


class Weibull(Distribution):
    """Weibull(scale, concentration): log p(x) = log(k/scale) + (k-1) log(x/scale) - (x/scale)^k,
    x >= 0, with k = concentration (NumPyro's argument order).

    >>> round(float(Weibull(1.0, 2.0).log_prob(1.0)), 6)
    -0.306853
    """
    arg_constraints = {"scale": constraints.positive, "concentration": constraints.positive}
    support = constraints.nonnegative

    def __init__(self, scale, concentration, *, validate_args=None):
        self.scale = as_param(scale, "scale")
        self.concentration = as_param(concentration, "concentration")
        super().__init__(broadcast_shape(self.scale, self.concentration),
                         validate_args=validate_args)

    def sample(self, rng, sample_shape=()):
        shape = self.shape(sample_shape)
        k = np.broadcast_to(getval(self.concentration), shape)
        return getval(self.scale) * rng.weibull(k, shape)

    def log_prob(self, value):
        k = self.concentration

        def lp(x):
            z = x / self.scale
            zero = _sg(x) == 0
            if zero.any():  # z^k = 0 at 0 (exp(k log 0) gives 0 * inf in d/dk)
                zk = ad.where(zero, 0.0, ad.exp(k * ad.log(ad.where(zero, 1.0, z))))
                return ad.xlogy(k - 1.0, z) - zk + ad.log(k / self.scale)
            log_z = ad.log(z)
            return (k - 1.0) * log_z - ad.exp(k * log_z) + ad.log(k / self.scale)
        return self._mask(value, lp)

    @property
    def mean(self):
        k = _sg(self.concentration)
        return _full(_sg(self.scale) * np.exp(sp.gammaln(1.0 + 1.0 / k)), self.batch_shape)

    @property
    def variance(self):
        k = _sg(self.concentration)
        g1, g2 = np.exp(sp.gammaln(1.0 + 1.0 / k)), np.exp(sp.gammaln(1.0 + 2.0 / k))
        return _full(_sg(self.scale) ** 2 * (g2 - g1 * g1), self.batch_shape)

    def _support_point(self, v):  # the mean overflows for a small concentration
        return _broadcast_point(_sg(self.scale), v, self.batch_shape)


class ChiSquared(Distribution):
    """ChiSquared(df) = Gamma(df/2, 1/2): log p(x) = (df/2 - 1) log x - x/2 - (df/2) log 2
    - lgamma(df/2), x >= 0.

    >>> round(float(ChiSquared(2.0).log_prob(1.0)), 6)
    -1.193147
    """
    arg_constraints = {"df": constraints.positive}
    support = constraints.nonnegative

    def __init__(self, df, *, validate_args=None):
        self.df = as_param(df, "df")
        super().__init__(broadcast_shape(self.df), validate_args=validate_args)

    def sample(self, rng, sample_shape=()):
        shape = self.shape(sample_shape)
        return 2.0 * rng.standard_gamma(np.broadcast_to(0.5 * getval(self.df), shape), shape)

    def log_prob(self, value):
        h = 0.5 * self.df

        def lp(x):
            return _c_log(h - 1.0, x) - 0.5 * x - (h * _LOG_2 + ad.lgamma(h))
        return self._mask(value, lp)

    @property
    def mean(self):
        return _full(self.df, self.batch_shape)

    @property
    def variance(self):
        return _full(2.0 * _sg(self.df), self.batch_shape)
