"""Reductions (sum, max, min, prod, logsumexp, cumsum) and softmax, with axis and keepdims."""
import math
import operator

from ..backend import np
from ..core import primitive
from ..tensor import getval
from ..values import value_op
from .elementwise import exp, where
from .shape import (_ndim, _shape, broadcast_to, flip, leading, neg_axes, reshape, stack,
                    transpose)
from ..tensor import Tensor


def _array(x):
    """A list or tuple (of Tensors, arrays or numbers, nested) as one array, as numpy reads it:
    stacked when it holds a Tensor, so that np.mean([a, b])'s ad.mean([a, b]) keeps gradients."""
    if not isinstance(x, (list, tuple)):
        return x
    items = [_array(i) for i in x]
    if any(isinstance(i, Tensor) for i in items):
        return stack(items)
    return np.asarray(items, dtype=float)


def _kd_shape(shape, axes):
    """The keepdims=True shape of a reduction over negative `axes`."""
    n = len(shape)
    return tuple(1 if d - n in axes else s for d, s in enumerate(shape))


def _unreduce(g, x, axes):
    """The output cotangent g broadcast back over the reduced axes of x."""
    shape = _shape(x)
    n = len(shape)
    if axes != tuple(range(-n, -n + len(axes))):  # reduced axes not leading: mark their places
        g = reshape(g, _kd_shape(shape, axes))
    return broadcast_to(g, shape)


def _keep(y, x, axes):
    """An output-shaped y (answer or cotangent) with the reduced axes of x kept as length 1:
    it broadcasts against x without a copy."""
    return reshape(y, _kd_shape(_shape(x), axes))


# ---- sum ---------------------------------------------------------------------------------------
# numpy's ufunc.reduce: np.sum's Python wrapper costs more than the sum of a small array
_sum = primitive("sum", lambda x, axes, keepdims: np.add.reduce(x, axis=axes, keepdims=keepdims),
                 vjp=lambda g, ans, x, axes, keepdims: _unreduce(g, x, axes),
                 jvp=lambda t, ans, x, axes, keepdims: _sum(t, axes=axes, keepdims=keepdims),
                 batch=leading)


def sum(x, axis=None, keepdims=False):
    """Sum over `axis` (all axes by default)."""
    x = _array(x)
    return _sum(x, axes=neg_axes(axis, _ndim(x), "sum"), keepdims=keepdims)


def mean(x, axis=None, keepdims=False):
    """Arithmetic mean over `axis`: sum(x) / n."""
    x = _array(x)
    shape = _shape(x)
    axes = neg_axes(axis, len(shape), "mean")
    n = math.prod(shape[a] for a in axes)
    return _sum(x, axes=axes, keepdims=keepdims) / n


def var(x, axis=None, keepdims=False, ddof=0):
    """Variance over `axis`: mean((x - mean(x))^2) * n / (n - ddof)."""
    x = _array(x)
    shape = _shape(x)
    n = math.prod(shape[a] for a in neg_axes(axis, len(shape), "var"))
    d = x - mean(x, axis=axis, keepdims=True)
    return sum(d * d, axis=axis, keepdims=keepdims) / (n - ddof)


def std(x, axis=None, keepdims=False, ddof=0):
    """Standard deviation: sqrt(var(x)); the gradient is 0 where var(x) = 0."""
    v = var(x, axis=axis, keepdims=keepdims, ddof=ddof)
    zero = value_op(operator.eq, v, 0)  # per row under vmap
    if not np.any(getval(zero)):
        return v ** 0.5
    # var is flat there (its gradient is 0) but sqrt's is infinite: 0 * inf would be nan.
    # Over one element std is 0 everywhere, so 0 is the derivative; elsewhere it is a subgradient
    return where(zero, 0.0, where(zero, 1.0, v) ** 0.5)


# ---- max / min: the gradient is shared equally between tied maxima ------------------------------
def _argmax_weights(x, ans, axes):
    # per row under vmap: axes are negative, and ans is reshaped to x's rank inside
    return value_op(_weights, x, ans, axes=axes)


def _weights(xr, ans, axes):
    mask = (xr == np.reshape(ans, _kd_shape(xr.shape, axes))).astype(xr.dtype)
    return mask / mask.sum(axis=axes, keepdims=True)


def _extremum(name, fn):
    p = primitive(name, lambda x, axes, keepdims: fn(x, axis=axes, keepdims=keepdims),
                  vjp=lambda g, ans, x, axes, keepdims:
                      _keep(g, x, axes) * _argmax_weights(x, ans, axes),
                  jvp=lambda t, ans, x, axes, keepdims:
                      _sum(t * _argmax_weights(x, ans, axes), axes=axes, keepdims=keepdims),
                  batch=leading)

    def reduce(x, axis=None, keepdims=False):
        x = _array(x)
        return p(x, axes=neg_axes(axis, _ndim(x), name), keepdims=keepdims)
    reduce.__name__ = name
    reduce.__doc__ = (f"{name.capitalize()}imum over `axis`; tied elements share the gradient "
                      f"equally.")
    return reduce


max = amax = _extremum("max", np.maximum.reduce)
min = amin = _extremum("min", np.minimum.reduce)


# ---- prod ---------------------------------------------------------------------------------------
def _prod_others(x, ans, axes):
    """prod_{j != i} x_j along the reduced axes: ans / x_i, or where some x_i is 0, the exact
    product of the others (O(n^2) memory in the reduced size n)."""
    if np.all(getval(x) != 0):
        return _keep(ans, x, axes) / x
    shape = _shape(x)
    nd = len(shape)
    keep = [d for d in range(nd) if d - nd not in axes]
    red = [d for d in range(nd) if d - nd in axes]
    xt = transpose(x, keep + red)
    n = math.prod(shape[d] for d in red)
    flat = reshape(xt, tuple(shape[d] for d in keep) + (n,))
    eye = np.eye(n, dtype=bool)
    others = _prod(where(eye, 1.0, reshape(flat, _shape(flat)[:-1] + (1, n))),
                   axes=(-1,), keepdims=False)
    others = reshape(others, tuple(shape[d] for d in keep) + tuple(shape[d] for d in red))
    return transpose(others, tuple(np.argsort(keep + red)))


_prod = primitive("prod", lambda x, axes, keepdims: np.multiply.reduce(x, axis=axes,
                                                                         keepdims=keepdims),
                  vjp=lambda g, ans, x, axes, keepdims:
                      _keep(g, x, axes) * _prod_others(x, ans, axes),
                  jvp=lambda t, ans, x, axes, keepdims:
                      _sum(t * _prod_others(x, ans, axes), axes=axes, keepdims=keepdims),
                  batch=leading)


def prod(x, axis=None, keepdims=False):
    """Product over `axis`."""
    x = _array(x)
    return _prod(x, axes=neg_axes(axis, _ndim(x), "prod"), keepdims=keepdims)


# ---- logsumexp: own rule for stability ----------------------------------------------------------
def _logsumexp(x, axes, keepdims):
    m = np.maximum.reduce(x, axis=axes, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    out = np.log(np.add.reduce(np.exp(x - m), axis=axes, keepdims=True)) + m
    if keepdims:
        return out
    n = out.ndim
    return out.reshape(tuple(s for d, s in enumerate(out.shape) if d - n not in axes))


_lse = primitive("logsumexp", _logsumexp,
                 vjp=lambda g, ans, x, axes, keepdims:
                     _keep(g, x, axes) * exp(x - _keep(ans, x, axes)),
                 jvp=lambda t, ans, x, axes, keepdims:
                     _sum(t * exp(x - _keep(ans, x, axes)), axes=axes, keepdims=keepdims),
                 batch=leading)


def logsumexp(x, axis=None, keepdims=False, b=None):
    """log(sum(b exp(x))) over `axis` (b = 1 by default; b >= 0, broadcast against x),
    computed as m + log(sum(exp(x + log b - m))), m = max(x + log b)."""
    x = _array(x)
    if b is not None:
        bv = np.asarray(getval(b))
        if np.any(bv < 0):
            raise ValueError("logsumexp: the weights b must be >= 0 (a negative sum has no "
                             "real logarithm)")
        if isinstance(b, Tensor):
            from .elementwise import log
            x = x + log(b)
        else:
            with np.errstate(divide="ignore"):
                x = x + np.log(bv)
    return _lse(x, axes=neg_axes(axis, _ndim(x), "logsumexp"), keepdims=keepdims)


def log_softmax(x, axis=-1):
    """x - logsumexp(x) along `axis`: log-probabilities, finite for any finite x."""
    return x - logsumexp(x, axis=axis, keepdims=True)


def softmax(x, axis=-1):
    """exp(x_i) / sum_j exp(x_j) along `axis`, computed as exp(log_softmax(x))."""
    return exp(log_softmax(x, axis=axis))


# ---- cumsum -------------------------------------------------------------------------------------
_cumsum = primitive("cumsum", lambda x, axis: np.cumsum(x, axis=axis),
                    vjp=lambda g, ans, x, axis: flip(_cumsum(flip(g, axis), axis=axis), axis),
                    jvp=lambda t, ans, x, axis: _cumsum(t, axis=axis), batch=leading)


def cumsum(x, axis=None):
    """Cumulative sum along `axis` (of the flattened array when axis is None)."""
    if axis is None or _ndim(x) == 0:  # numpy: a 0-d array is cumulated as a 1-vector
        x = reshape(x, (-1,))
        axis = 0 if axis is None else axis
    return _cumsum(x, axis=neg_axes(axis, _ndim(x), "cumsum")[0])

