"""Matrix bijectors (event_dim 2) from a flat unconstrained vector: Cholesky factors of
correlation matrices, lower-triangular factors with a positive diagonal, and positive-definite
(covariance) matrices.

Formulas follow the Stan Reference Manual, "Constraint transforms": "Cholesky factors of
correlation matrices", "Cholesky factors of covariance matrices" and "Covariance matrices".
Entries are filled row by row (Stan's order: (1,0), (2,0), (2,1), ... = np.tril_indices).
"""
import functools
import math

import numpy as np

import autodiff as ad

from .. import constraints
from .base import ComposeTransform, Transform, _dtype, _shape, biject_to

__all__ = ["CorrCholeskyTransform", "LowerCholeskyTransform", "CholeskyProductTransform",
           "PositiveDefiniteTransform"]


def _side(n, strict, name):
    """K with K(K-1)/2 = n (strict lower triangle) or K(K+1)/2 = n (with the diagonal)."""
    K = int(round((math.sqrt(1 + 8 * n) + (1 if strict else -1)) / 2))
    if K * (K + (-1 if strict else 1)) // 2 != n:
        tri = "K(K-1)/2" if strict else "K(K+1)/2"
        raise ValueError(f"{name}: a vector of length {n} is not {tri} for any K")
    return K


@functools.lru_cache(maxsize=64)
def _layout(K, strict):
    """(rows, cols, fill): the triangle's indices in Stan's order, and a K x K map with the
    position + 1 of each entry in the vector and 0 elsewhere (so gathering from the vector with
    a zero prepended builds the matrix, and the VJP is a scatter-add)."""
    rows, cols = np.tril_indices(K, -1 if strict else 0)
    fill = np.zeros((K, K), dtype=np.intp)
    fill[rows, cols] = np.arange(1, len(rows) + 1)
    for a in (rows, cols, fill):
        a.setflags(write=False)
    return rows, cols, fill


def _fill(v, fill):
    """The matrix whose entries are v at the places `fill` names, 0 elsewhere."""
    zero = np.zeros(_shape(v)[:-1] + (1,), dtype=_dtype(v))
    return ad.getitem(ad.concatenate([zero, v], axis=-1), (Ellipsis, fill))


def _matrix_side(shape, name):
    if len(shape) < 2 or shape[-1] != shape[-2]:
        raise ValueError(f"{name}: needs square matrices, got shape {tuple(shape)}")
    return shape[-1]


def _log1m_tanh2(x):
    """log(1 - tanh(x)^2) = 2 (log 2 - x - softplus(-2x)), finite for any finite x."""
    return 2.0 * (math.log(2.0) - x - ad.softplus(-2.0 * x))


class CorrCholeskyTransform(Transform):
    """Stan's map from R^(K(K-1)/2) onto Cholesky factors of K x K correlation matrices:
    z = tanh(x) are canonical partial correlations, L_ij = z_ij sqrt(1 - sum_{j'<j} L_ij'^2)
    below the diagonal, L_ii = sqrt(1 - sum_{j<i} L_ij^2);
    log|J| = sum_{i>j} [log(1 - z_ij^2) + 1/2 log(1 - sum_{j'<j} L_ij'^2)].

    The remaining row norms are exp of cumulative sums of log(1 - z^2) (computed stably from
    x), so the rows keep unit norm when tanh saturates, and the inverse recovers x there too.

    >>> t = CorrCholeskyTransform()
    >>> L = t(np.zeros(3))
    >>> L
    array([[1., 0., 0.],
           [0., 1., 0.],
           [0., 0., 1.]])
    >>> t.forward_shape((6,)), t.inverse_shape((4, 4))
    ((4, 4), (6,))
    """
    domain = constraints.real_vector
    codomain = constraints.corr_cholesky

    def forward(self, x):
        K = _side(_shape(x)[-1], True, "CorrCholeskyTransform")
        _, _, fill = _layout(K, True)
        log_rest = ad.cumsum(_fill(_log1m_tanh2(x), fill), axis=-1)  # row i: sum_{j'<=j}
        log_rest = ad.concatenate([np.zeros(_shape(log_rest)[:-1] + (1,), _dtype(x)),
                                   log_rest[..., :-1]], axis=-1)     # sum_{j'<j}
        w = _fill(ad.tanh(x), fill) + np.eye(K, dtype=_dtype(x))    # z below, 1 on the diagonal
        return w * ad.exp(0.5 * log_rest)

    def inverse(self, y):
        K = _matrix_side(_shape(y), "CorrCholeskyTransform")
        rows, cols, _ = _layout(K, True)
        # rest_ij = sum_{j'>=j} L_ij'^2 = 1 - sum_{j'<j} L_ij'^2, without the cancellation
        rest = ad.flip(ad.cumsum(ad.flip(ad.tril(y * y), -1), axis=-1), -1)
        v, r0, r1 = y[..., rows, cols], rest[..., rows, cols], rest[..., rows, cols + 1]
        z = v / ad.sqrt(r0)
        # atanh(z) = log1p(z) - 1/2 log(1 - z^2), 1 - z^2 = r1 / r0; by odd symmetry on |z|
        s = ad.where(ad.stop_gradient(v) >= 0, 1.0, -1.0)
        s = s.astype(_dtype(y)) if s.dtype != _dtype(y) else s
        with np.errstate(divide="ignore"):
            return s * (ad.log1p(s * z) + 0.5 * (ad.log(r0) - ad.log(r1)))

    def log_abs_det_jacobian(self, x, y):
        # sum_{i>j} 1/2 sum_{j'<j} log(1 - z_ij'^2) counts each entry (i, j') i - 1 - j' times
        rows, cols, _ = _layout(_side(_shape(x)[-1], True, "CorrCholeskyTransform"), True)
        weight = (1.0 + 0.5 * (rows - 1 - cols)).astype(_dtype(x))
        return ad.sum(weight * _log1m_tanh2(x), axis=-1)

    def forward_shape(self, shape):
        K = _side(shape[-1], True, "CorrCholeskyTransform")
        return tuple(shape[:-1]) + (K, K)

    def inverse_shape(self, shape):
        K = _matrix_side(shape, "CorrCholeskyTransform")
        return tuple(shape[:-2]) + (K * (K - 1) // 2,)


class LowerCholeskyTransform(Transform):
    """Stan's Cholesky factor of a covariance: x in R^(K(K+1)/2) fills the lower triangle row
    by row, with e^ on the diagonal; log|J| = sum of the diagonal x's.

    >>> LowerCholeskyTransform()(np.array([0.0, 2.0, 0.0]))
    array([[1., 0.],
           [2., 1.]])
    """
    domain = constraints.real_vector
    codomain = constraints.lower_cholesky

    @staticmethod
    def _diag(n):
        rows, cols, fill = _layout(_side(n, False, "LowerCholeskyTransform"), False)
        return rows == cols, fill

    def forward(self, x):
        on, fill = self._diag(_shape(x)[-1])
        # exp only where on the diagonal (exp of a large off-diagonal x would give inf * 0)
        return _fill(ad.where(on, ad.exp(ad.where(on, x, 0.0)), x), fill)

    def inverse(self, y):
        K = _matrix_side(_shape(y), "LowerCholeskyTransform")
        rows, cols, _ = _layout(K, False)
        on, v = rows == cols, y[..., rows, cols]
        with np.errstate(divide="ignore"):
            return ad.where(on, ad.log(ad.where(on, v, 1.0)), v)

    def log_abs_det_jacobian(self, x, y):
        on, _ = self._diag(_shape(x)[-1])
        return ad.sum(x[..., np.flatnonzero(on)], axis=-1)

    def forward_shape(self, shape):
        K = _side(shape[-1], False, "LowerCholeskyTransform")
        return tuple(shape[:-1]) + (K, K)

    def inverse_shape(self, shape):
        K = _matrix_side(shape, "LowerCholeskyTransform")
        return tuple(shape[:-2]) + (K * (K + 1) // 2,)


class CholeskyProductTransform(Transform):
    """y = L L^T from lower_cholesky onto positive_definite, between the lower triangles:
    log|J| = K log 2 + sum_k (K - k + 1) log L_kk (k = 1..K). Inverse: the Cholesky factor.

    >>> CholeskyProductTransform()(np.array([[1.0, 0.0], [2.0, 3.0]]))
    array([[ 1.,  2.],
           [ 2., 13.]])
    """
    domain = constraints.lower_cholesky
    codomain = constraints.positive_definite

    def forward(self, x):
        return ad.matmul(x, ad.swapaxes(x, -1, -2))

    def inverse(self, y):
        return ad.cholesky(y)

    def log_abs_det_jacobian(self, x, y):
        K = _shape(x)[-1]
        power = np.arange(K, 0, -1).astype(_dtype(x))
        return K * math.log(2.0) + ad.sum(power * ad.log(ad.diagonal(x, 0, -2, -1)), axis=-1)


class PositiveDefiniteTransform(ComposeTransform):
    """Stan's covariance-matrix map: LowerCholeskyTransform then L L^T, from R^(K(K+1)/2)
    onto K x K positive-definite matrices; log|J| = K log 2 + sum_k (K - k + 2) x_kk, x_kk
    the diagonal entries of the vector (k = 1..K).

    >>> t = PositiveDefiniteTransform()
    >>> t(np.array([0.0, 2.0, 0.0]))
    array([[1., 2.],
           [2., 5.]])
    >>> t.forward_shape((3,)), t.inverse_shape((2, 2))
    ((2, 2), (3,))
    """

    def __init__(self):
        super().__init__([LowerCholeskyTransform(), CholeskyProductTransform()])

    def log_abs_det_jacobian(self, x, y):  # the chain's sum in closed form, from x alone
        n = _shape(x)[-1]
        K = _side(n, False, "PositiveDefiniteTransform")
        rows, cols, _ = _layout(K, False)
        diag = np.flatnonzero(rows == cols)
        power = np.arange(K + 1, 1, -1).astype(_dtype(x))
        return K * math.log(2.0) + ad.sum(power * x[..., diag], axis=-1)

    def __repr__(self):
        return "PositiveDefiniteTransform()"


@biject_to.register(constraints.corr_cholesky)
def _biject_corr_cholesky(c):
    return CorrCholeskyTransform()


@biject_to.register(constraints.lower_cholesky)
def _biject_lower_cholesky(c):
    return LowerCholeskyTransform()


@biject_to.register(constraints.positive_definite)
def _biject_positive_definite(c):
    return PositiveDefiniteTransform()
