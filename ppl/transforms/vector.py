"""Vector bijectors (event_dim 1): the stick-breaking simplex and the ordered vectors.

Formulas follow the Stan Reference Manual, "Constraint transforms" (unit simplex, ordered and
positive-ordered vectors); indices below are 1-based as there.
"""
import numpy as np

import autodiff as ad

from .. import constraints
from .base import Transform, _dtype, _shape, biject_to

__all__ = ["StickBreakingTransform", "OrderedTransform", "PositiveOrderedTransform"]


def _zeros_last(x, n=1):
    """Zeros shaped like x with the last axis of length n (in x's dtype)."""
    return np.zeros(_shape(x)[:-1] + (n,), dtype=_dtype(x))


class StickBreakingTransform(Transform):
    """Stan's unit-simplex map from R^(K-1) onto the K-simplex:
    z_k = sigmoid(x_k - log(K - k)), y_k = z_k (1 - sum_{j<k} y_j) for k < K, y_K the rest;
    log|J| = sum_{k<K} [log z_k + log(1 - z_k) + log(1 - sum_{j<k} y_j)].

    x = 0 maps to the uniform simplex. Computed in log space: the remaining stick
    1 - sum_{j<k} y_j = prod_{j<k} (1 - z_j) is exp of a cumulative sum of log sigmoid(-u),
    so every y_k and log|J| stay finite for |x| up to ~700.

    >>> t = StickBreakingTransform()
    >>> t(np.zeros(2))
    array([0.33333333, 0.33333333, 0.33333333])
    >>> t.forward_shape((5, 2)), t.inverse_shape((5, 3))
    ((5, 3), (5, 2))
    """
    domain = constraints.real_vector
    codomain = constraints.simplex

    @staticmethod
    def _offset(x):
        n = _shape(x)[-1]  # K - 1; log(K - k) for k = 1..K-1
        return np.log(np.arange(n, 0, -1, dtype=_dtype(x)))

    def _parts(self, x):
        u = x - self._offset(x)
        log_z, log_1mz = ad.log_sigmoid(u), ad.log_sigmoid(-u)
        # log of the stick left before piece k, k = 1..K: 0, then cumulative sums of log(1 - z)
        log_rest = ad.concatenate([_zeros_last(x), ad.cumsum(log_1mz, axis=-1)], axis=-1)
        return log_z, log_1mz, log_rest

    def forward(self, x):
        log_z, _, log_rest = self._parts(x)
        return ad.exp(ad.concatenate([log_z, _zeros_last(x)], axis=-1) + log_rest)

    def inverse(self, y):
        # z_k = y_k / r_k and 1 - z_k = r_{k+1} / r_k with r_k = sum_{j>=k} y_j (a reverse
        # cumulative sum, accurate where 1 - sum_{j<k} y_j would cancel)
        rest = ad.flip(ad.cumsum(ad.flip(y, -1), axis=-1), -1)
        with np.errstate(divide="ignore"):
            x = ad.log(y[..., :-1]) - ad.log(rest[..., 1:])
        return x + self._offset(x)

    def log_abs_det_jacobian(self, x, y):
        log_z, log_1mz, log_rest = self._parts(x)
        return ad.sum(log_z + log_1mz + log_rest[..., :-1], axis=-1)

    def forward_shape(self, shape):
        if len(shape) < 1:
            raise ValueError("StickBreakingTransform: needs a vector, got shape ()")
        return tuple(shape[:-1]) + (shape[-1] + 1,)

    def inverse_shape(self, shape):
        if len(shape) < 1 or shape[-1] < 1:
            raise ValueError(f"StickBreakingTransform: needs a simplex of K >= 1, got {shape}")
        return tuple(shape[:-1]) + (shape[-1] - 1,)


class OrderedTransform(Transform):
    """Stan's ordered vector: y_1 = x_1, y_k = y_{k-1} + e^(x_k); log|J| = sum_{k>1} x_k.

    >>> OrderedTransform()(np.array([1.0, 0.0, 0.0]))
    array([1., 2., 3.])
    """
    domain = constraints.real_vector
    codomain = constraints.ordered

    def forward(self, x):
        return ad.cumsum(ad.concatenate([x[..., :1], ad.exp(x[..., 1:])], axis=-1), axis=-1)

    def inverse(self, y):
        with np.errstate(divide="ignore"):
            return ad.concatenate([y[..., :1], ad.log(y[..., 1:] - y[..., :-1])], axis=-1)

    def log_abs_det_jacobian(self, x, y):
        return ad.sum(x[..., 1:], axis=-1)


class PositiveOrderedTransform(Transform):
    """Stan's positive_ordered: e^ on the first element, then the ordered map, i.e.
    y_k = sum_{j<=k} e^(x_j); log|J| = sum_k x_k.

    >>> PositiveOrderedTransform()(np.zeros(3))
    array([1., 2., 3.])
    """
    domain = constraints.real_vector
    codomain = constraints.positive_ordered

    def forward(self, x):
        return ad.cumsum(ad.exp(x), axis=-1)

    def inverse(self, y):
        with np.errstate(divide="ignore"):
            return ad.log(ad.concatenate([y[..., :1], y[..., 1:] - y[..., :-1]], axis=-1))

    def log_abs_det_jacobian(self, x, y):
        return ad.sum(x, axis=-1)


@biject_to.register(constraints.simplex)
def _biject_simplex(c):
    return StickBreakingTransform()


@biject_to.register(constraints.ordered)
def _biject_ordered(c):
    return OrderedTransform()


@biject_to.register(constraints.positive_ordered)
def _biject_positive_ordered(c):
    return PositiveOrderedTransform()
