"""Continuous univariate families on the real line (or an interval of it): Normal, Cauchy,
StudentT, Laplace, Logistic, Uniform, TruncatedNormal. Positive-support families are in
`positive.py`.

Every log_prob is a handful of engine ops on the value and the parameters; constants are
Python floats, so float32 inputs give float32 densities.
"""
import math

import numpy as np
from scipy import special as sp

import autodiff as ad
from autodiff.tensor import _raw

from .. import constraints
from .base import Distribution, as_param, broadcast_shape
from .kernels import normal_log_prob

__all__ = ["Normal", "Cauchy", "StudentT", "Laplace", "Logistic", "Uniform", "TruncatedNormal"]

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)
_LOG_PI = math.log(math.pi)
_LOG_2 = math.log(2.0)


def _full(x, shape):
    """A numpy array of `shape` from a number, array or Tensor (mean, variance)."""
    return np.broadcast_to(np.asarray(_raw(x)), shape)


def _dtype(*params):
    """The floating dtype of the parameters (float32 stays float32)."""
    return np.result_type(*(_raw(p) for p in params))


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
        return _raw(self.loc) + _raw(self.scale) * eps

    def log_prob(self, value):
        return self._mask(value, lambda x: normal_log_prob(x, self.loc, self.scale))

    @property
    def mean(self):
        return np.broadcast_to(_raw(self.loc), self.batch_shape)

    @property
    def variance(self):
        return np.broadcast_to(_raw(self.scale) ** 2, self.batch_shape)


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
        return _raw(self.loc) + _raw(self.scale) * rng.standard_cauchy(self.shape(sample_shape))

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
        return np.broadcast_to(_raw(self.loc), np.broadcast_shapes(v.shape, self.batch_shape))


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
        t = rng.standard_t(np.broadcast_to(_raw(self.df), shape), shape)
        return _raw(self.loc) + _raw(self.scale) * t

    def log_prob(self, value):
        def lp(x):
            return _student_t_log_prob((x - self.loc) / self.scale, self.df, self.scale)
        return self._mask(value, lp)

    @property
    def mean(self):  # nan for df <= 1, as NumPyro
        df = _raw(self.df)
        return _full(np.where(df > 1.0, _raw(self.loc), np.nan), self.batch_shape)

    @property
    def variance(self):  # inf for 1 < df <= 2, nan for df <= 1, as NumPyro
        df, scale = _raw(self.df), _raw(self.scale)
        with np.errstate(divide="ignore", invalid="ignore"):
            var = np.where(df > 2.0, scale ** 2 * df / (df - 2.0), np.inf)
        return _full(np.where(df > 1.0, var, np.nan), self.batch_shape)

    def _support_point(self, v):
        return np.broadcast_to(_raw(self.loc), np.broadcast_shapes(v.shape, self.batch_shape))


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
        return _raw(self.loc) + _raw(self.scale) * rng.laplace(size=self.shape(sample_shape))

    def log_prob(self, value):
        def lp(x):
            return -ad.abs(x - self.loc) / self.scale - (ad.log(self.scale) + _LOG_2)
        return self._mask(value, lp)

    @property
    def mean(self):
        return _full(self.loc, self.batch_shape)

    @property
    def variance(self):
        return _full(2.0 * _raw(self.scale) ** 2, self.batch_shape)


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
        return _raw(self.loc) + _raw(self.scale) * rng.logistic(size=self.shape(sample_shape))

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
        return _full(_raw(self.scale) ** 2 * (math.pi ** 2 / 3.0), self.batch_shape)


class Uniform(Distribution):
    """Uniform(low, high): log p(x) = -log(high - low) on low <= x <= high.

    >>> round(float(Uniform(0.0, 4.0).log_prob(1.0)), 6)
    -1.386294
    """
    arg_constraints = {"low": constraints.real, "high": constraints.real}

    def __init__(self, low=0.0, high=1.0, *, validate_args=None):
        self.low, self.high = as_param(low, "low"), as_param(high, "high")
        self.arg_constraints = {"low": constraints.real,
                                "high": constraints.greater_than(self.low)}
        self.support = constraints.interval(self.low, self.high)
        super().__init__(broadcast_shape(self.low, self.high), validate_args=validate_args)

    def sample(self, rng, sample_shape=()):
        low, high = _raw(self.low), _raw(self.high)
        return low + (high - low) * rng.random(self.shape(sample_shape))

    def log_prob(self, value):
        def lp(x):  # x * 0.0 gives the result the shape sample_shape + batch_shape
            return x * 0.0 - ad.log(self.high - self.low)
        return self._mask(value, lp)

    @property
    def mean(self):
        return _full(0.5 * (_raw(self.low) + _raw(self.high)), self.batch_shape)

    @property
    def variance(self):
        return _full((_raw(self.high) - _raw(self.low)) ** 2 / 12.0, self.batch_shape)


def _log1mexp(d):
    """log(1 - e^d) for d < 0: log(-expm1(d)) near 0, log1p(-e^d) further out (Maechler,
    Accurately computing log(1 - exp(-|a|)), 2012). Both branches are finite for d < 0."""
    near = np.asarray(_raw(d)) > -_LOG_2
    if near.all():
        return ad.log(-ad.expm1(d))
    if not near.any():
        return ad.log1p(-ad.exp(d))
    return ad.where(near, ad.log(-ad.expm1(d)), ad.log1p(-ad.exp(d)))


def _log_ndtr_diff(a, b):
    """log(Phi(b) - Phi(a)) for a < b, stable in both tails: where a + b > 0 the interval is
    reflected, Phi(b) - Phi(a) = Phi(-a) - Phi(-b), so log_ndtr works in its accurate left tail."""
    flip = np.asarray(_raw(a)) > -np.asarray(_raw(b))
    if flip.all():
        a, b = -b, -a
    elif flip.any():
        a, b = ad.where(flip, -b, a), ad.where(flip, -a, b)
    lb = ad.log_ndtr(b)
    return lb + _log1mexp(ad.log_ndtr(a) - lb)


class TruncatedNormal(Distribution):
    """TruncatedNormal(loc, scale, low=None, high=None): log p(x) = -z^2/2 - log scale
    - log(2 pi)/2 - log(Phi(b) - Phi(a)), z = (x - loc)/scale, a, b the standardised bounds.

    A missing bound is -inf / +inf. Sampling is by the inverse cdf, in logs (the far tails).
    `variance` uses the closed form 1 + (a phi(a) - b phi(b))/Z - ((phi(a) - phi(b))/Z)^2, which
    cancels for intervals much narrower than scale (relative error ~1e-6 at width 1e-3 scale).

    >>> round(float(TruncatedNormal(0.0, 1.0, low=0.0).log_prob(1.0)), 6)
    -0.725791
    """
    arg_constraints = {"loc": constraints.real, "scale": constraints.positive,
                       "low": constraints.real, "high": constraints.real}

    def __init__(self, loc=0.0, scale=1.0, *, low=None, high=None, validate_args=None):
        self.loc, self.scale = as_param(loc, "loc"), as_param(scale, "scale")
        self.low = None if low is None else as_param(low, "low")
        self.high = None if high is None else as_param(high, "high")
        if self.low is None:
            self.support = constraints.real if self.high is None \
                else constraints.less_than(self.high)
        elif self.high is None:
            self.support = constraints.greater_than(self.low)
        else:
            self.support = constraints.interval(self.low, self.high)
            self.arg_constraints = dict(type(self).arg_constraints,
                                        high=constraints.greater_than(self.low))
        params = [p for p in (self.loc, self.scale, self.low, self.high) if p is not None]
        self._dtype = _dtype(*params)
        super().__init__(broadcast_shape(*params), validate_args=validate_args)

    def _log_normalizer(self):
        """log(Phi(b) - Phi(a)), engine ops on the parameters."""
        a = None if self.low is None else (self.low - self.loc) / self.scale
        b = None if self.high is None else (self.high - self.loc) / self.scale
        if a is None:
            return 0.0 if b is None else ad.log_ndtr(b)
        return ad.log_ndtr(-a) if b is None else _log_ndtr_diff(a, b)

    def log_prob(self, value):
        def lp(x):
            z = (x - self.loc) / self.scale
            return -0.5 * (z * z) - (ad.log(self.scale) + _HALF_LOG_2PI + self._log_normalizer())
        return self._mask(value, lp)

    def _bounds(self):
        """Standardised bounds a, b as numpy arrays (-inf, +inf where missing)."""
        loc, scale = _raw(self.loc), _raw(self.scale)
        a = -np.inf if self.low is None else (_raw(self.low) - loc) / scale
        b = np.inf if self.high is None else (_raw(self.high) - loc) / scale
        return np.asarray(a), np.asarray(b)

    def sample(self, rng, sample_shape=()):
        a, b = self._bounds()
        flip = a > -b  # reflect so that the interval lies in Phi's accurate left tail
        lo, hi = np.where(flip, -b, a), np.where(flip, -a, b)
        u = rng.random(self.shape(sample_shape))
        with np.errstate(divide="ignore"):  # u == 0 gives log 0 = -inf: a draw at lo
            # Phi(x) = (1 - u) Phi(lo) + u Phi(hi), in logs: both may underflow
            log_p = np.logaddexp(sp.log_ndtr(lo) + np.log1p(-u), sp.log_ndtr(hi) + np.log(u))
        x = np.clip(sp.ndtri_exp(log_p), lo, hi)
        x = np.clip(np.where(flip, -x, x), a, b)
        return _raw(self.loc) + _raw(self.scale) * x

    def _standard_moments(self):
        """(E z, Var z) of the standardised truncated normal, from phi(a)/Z and phi(b)/Z."""
        a, b = self._bounds()
        log_z = np.asarray(_raw(self._log_normalizer()))
        pa = np.exp(-0.5 * a * a - _HALF_LOG_2PI - log_z)
        pb = np.exp(-0.5 * b * b - _HALF_LOG_2PI - log_z)
        apa = np.where(np.isfinite(a), a, 0.0) * pa  # a phi(a) -> 0 as a -> -inf
        bpb = np.where(np.isfinite(b), b, 0.0) * pb
        m = pa - pb
        return m, 1.0 + (apa - bpb) - m * m

    @property
    def mean(self):
        m, _ = self._standard_moments()
        return _full((_raw(self.loc) + _raw(self.scale) * m).astype(self._dtype), self.batch_shape)

    @property
    def variance(self):
        _, v = self._standard_moments()
        return _full((_raw(self.scale) ** 2 * v).astype(self._dtype), self.batch_shape)

    def _support_point(self, v):
        loc, scale = _raw(self.loc), _raw(self.scale)
        if self.low is None:
            p = loc if self.high is None else np.minimum(loc, _raw(self.high) - scale)
        elif self.high is None:
            p = np.maximum(loc, _raw(self.low) + scale)
        else:
            p = 0.5 * (_raw(self.low) + _raw(self.high))
        return np.broadcast_to(p, np.broadcast_shapes(v.shape, self.batch_shape))
