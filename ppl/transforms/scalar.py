"""Elementwise bijectors (event_dim 0) and the supports they serve: real, positive,
nonnegative, greater_than, less_than, interval, unit_interval (and real_vector).

Bounds and affine parameters may be numbers, arrays or engine Tensors that depend on other
parameters (Stan's `<lower=0, upper=1-alpha1>`): gradients flow into them.
"""
import numpy as np

import autodiff as ad
from autodiff import getval

from .. import constraints
from .base import Transform, _as_event_dim, _fmt, _param, _shape, biject_to

__all__ = ["IdentityTransform", "ExpTransform", "SoftplusTransform", "AffineTransform",
           "SigmoidTransform", "IntervalTransform", "LowerBoundTransform", "UpperBoundTransform"]


def _logit(y):
    """log y - log(1 - y): -inf at 0 and +inf at 1 (not NaN)."""
    with np.errstate(divide="ignore"):
        return ad.log(y) - ad.log1p(-y)


def _log_sigmoid_pair(x):
    """log sigmoid(x) + log sigmoid(-x) = log(sigmoid'(x)) = -softplus(x) - softplus(-x), finite
    for any finite x (log(sigmoid(x)) would give -inf from x ~ -750)."""
    return -ad.softplus(x) - ad.softplus(-x)


class IdentityTransform(Transform):
    """y = x; log|J| = 0. `event_dim` > 0 makes it act on vectors (real_vector) or arrays.

    >>> IdentityTransform()(np.array([1.0, -2.0]))
    array([ 1., -2.])
    """

    def __init__(self, event_dim=0):
        self._event_dim = int(event_dim)

    @property
    def domain(self):
        if self._event_dim == 1:
            return constraints.real_vector
        return _as_event_dim(constraints.real, self._event_dim)

    codomain = domain

    def forward(self, x):
        return x

    def inverse(self, y):
        return y

    def log_abs_det_jacobian(self, x, y):
        shape = _shape(x)
        return np.zeros(shape[:len(shape) - self._event_dim], dtype=np.result_type(getval(x), 0.0))

    def __repr__(self):
        return f"IdentityTransform(event_dim={self._event_dim})" if self._event_dim else \
            "IdentityTransform()"


class ExpTransform(Transform):
    """y = e^x onto positive; log|J| = x.

    >>> t = ExpTransform()
    >>> float(t(0.0)), float(t.inv(1.0)), float(t.log_abs_det_jacobian(2.0, t(2.0)))
    (1.0, 0.0, 2.0)
    """
    codomain = constraints.positive

    def forward(self, x):
        return ad.exp(x)

    def inverse(self, y):
        with np.errstate(divide="ignore"):
            return ad.log(y)

    def log_abs_det_jacobian(self, x, y):
        return x


class SoftplusTransform(Transform):
    """y = log(1 + e^x) onto positive; log|J| = log sigmoid(x) = -softplus(-x).

    Grows linearly rather than exponentially (NumPyro's `softplus_positive`).

    >>> t = SoftplusTransform()
    >>> round(float(t.inv(t(3.0))), 12)
    3.0
    """
    codomain = constraints.positive

    def forward(self, x):
        return ad.softplus(x)

    def inverse(self, y):
        with np.errstate(divide="ignore"):  # x = y + log(1 - e^-y): -inf at y = 0
            return y + ad.log(-ad.expm1(-y))

    def log_abs_det_jacobian(self, x, y):
        return ad.log_sigmoid(x)


class AffineTransform(Transform):
    """y = loc + scale x on the reals; log|J| = log|scale|. loc and scale may be Tensors.

    >>> t = AffineTransform(1.0, -2.0)
    >>> float(t(3.0)), float(t.inv(-5.0)), float(t.log_abs_det_jacobian(3.0, t(3.0)))
    (-5.0, 3.0, 0.6931471805599453)
    """

    def __init__(self, loc, scale):
        self.loc, self.scale = loc, scale

    def forward(self, x):
        return _param(self.loc, x) + _param(self.scale, x) * x

    def inverse(self, y):
        return (y - _param(self.loc, y)) / _param(self.scale, y)

    def log_abs_det_jacobian(self, x, y):
        scale = _param(self.scale, x)
        shape = np.broadcast_shapes(_shape(x), _shape(self.loc), _shape(scale))
        return ad.broadcast_to(ad.log(ad.abs(scale)), shape)

    def __repr__(self):
        return f"AffineTransform(loc={_fmt(self.loc)}, scale={_fmt(self.scale)})"


class SigmoidTransform(Transform):
    """y = 1 / (1 + e^-x) onto unit_interval; log|J| = -softplus(x) - softplus(-x).

    >>> t = SigmoidTransform()
    >>> float(t(0.0)), float(t.inv(1.0)), float(t.log_abs_det_jacobian(0.0, 0.5))
    (0.5, inf, -1.3862943611198906)
    """
    codomain = constraints.unit_interval

    def forward(self, x):
        return ad.sigmoid(x)

    def inverse(self, y):
        return _logit(y)

    def log_abs_det_jacobian(self, x, y):
        return _log_sigmoid_pair(x)


class IntervalTransform(Transform):
    """y = lower + (upper - lower) sigmoid(x) onto interval(lower, upper);
    log|J| = log(upper - lower) - softplus(x) - softplus(-x).

    Bounds may be Tensors (gradients flow into them). For x > 0 the value is computed as
    upper - (upper - lower) sigmoid(-x), so that a saturated sigmoid lands on a bound exactly
    and never outside the interval. The inverse gives -inf / +inf at the bounds.

    >>> t = IntervalTransform(-1.0, 3.0)
    >>> float(t(0.0)), float(t(50.0)), float(t.inv(3.0))
    (1.0, 3.0, inf)
    """

    def __init__(self, lower, upper):
        self.lower, self.upper = lower, upper

    @property
    def codomain(self):
        return constraints.interval(self.lower, self.upper)

    def forward(self, x):
        lo, hi = _param(self.lower, x), _param(self.upper, x)
        width = hi - lo
        return ad.where(ad.stop_gradient(x) > 0, hi - width * ad.sigmoid(-x),
                        lo + width * ad.sigmoid(x))

    def inverse(self, y):
        with np.errstate(divide="ignore"):  # log(y - lo) - log(hi - y): no cancellation in 1-u
            return ad.log(y - _param(self.lower, y)) - ad.log(_param(self.upper, y) - y)

    def log_abs_det_jacobian(self, x, y):
        return ad.log(_param(self.upper, x) - _param(self.lower, x)) + _log_sigmoid_pair(x)

    def __repr__(self):
        return f"IntervalTransform(lower={_fmt(self.lower)}, upper={_fmt(self.upper)})"


class LowerBoundTransform(Transform):
    """y = lower + e^x onto greater_than(lower) (Stan's `<lower=a>`); log|J| = x.

    >>> t = LowerBoundTransform(2.0)
    >>> float(t(0.0)), float(t.inv(3.0))
    (3.0, 0.0)
    """

    def __init__(self, lower):
        self.lower = lower

    @property
    def codomain(self):
        return constraints.greater_than(self.lower)

    def forward(self, x):
        return _param(self.lower, x) + ad.exp(x)

    def inverse(self, y):
        with np.errstate(divide="ignore"):
            return ad.log(y - _param(self.lower, y))

    def log_abs_det_jacobian(self, x, y):
        return ad.broadcast_to(x, np.broadcast_shapes(_shape(x), _shape(self.lower)))

    def __repr__(self):
        return f"LowerBoundTransform(lower={_fmt(self.lower)})"


class UpperBoundTransform(Transform):
    """y = upper - e^x onto less_than(upper) (Stan's `<upper=b>`); log|J| = x.

    >>> t = UpperBoundTransform(2.0)
    >>> float(t(0.0)), float(t.inv(1.0))
    (1.0, 0.0)
    """

    def __init__(self, upper):
        self.upper = upper

    @property
    def codomain(self):
        return constraints.less_than(self.upper)

    def forward(self, x):
        return _param(self.upper, x) - ad.exp(x)

    def inverse(self, y):
        with np.errstate(divide="ignore"):
            return ad.log(_param(self.upper, y) - y)

    def log_abs_det_jacobian(self, x, y):
        return ad.broadcast_to(x, np.broadcast_shapes(_shape(x), _shape(self.upper)))

    def __repr__(self):
        return f"UpperBoundTransform(upper={_fmt(self.upper)})"


# ---- registry ----------------------------------------------------------------------------------
@biject_to.register(constraints.real)
def _biject_real(c):
    return IdentityTransform()


@biject_to.register(constraints.real_vector)
def _biject_real_vector(c):
    return IdentityTransform(event_dim=1)


# positive and nonnegative -> exp, as Stan. NumPyro also maps `positive` to exp, and uses
# softplus only for its separate `softplus_positive` / `softplus_lower_cholesky` supports, where
# linear growth keeps gradients moderate for large x; we have no such supports, so exp throughout.
@biject_to.register(constraints.positive)
@biject_to.register(constraints.nonnegative)
def _biject_positive(c):
    return ExpTransform()


@biject_to.register(constraints.greater_than)
def _biject_greater_than(c):
    return LowerBoundTransform(c.lower_bound)


@biject_to.register(constraints.less_than)
def _biject_less_than(c):
    return UpperBoundTransform(c.upper_bound)


@biject_to.register(constraints.interval)
def _biject_interval(c):
    return IntervalTransform(c.lower_bound, c.upper_bound)


@biject_to.register(constraints.unit_interval)
def _biject_unit_interval(c):
    return SigmoidTransform()
