"""Matrix products: matmul (batched, numpy's 1-D rules), dot, outer."""

from ..backend import np
from ..core import primitive
from .shape import _ndim, _shape, align, expand_dims, reshape, swapaxes


def _drop(x, axis):
    """x without the length-1 axis `axis`."""
    s = list(_shape(x))
    del s[axis]
    return reshape(x, tuple(s))


def _matmul_vjp_a(g, ans, a, b):
    na, nb = _ndim(a), _ndim(b)
    if nb == 1:
        return expand_dims(g, -1) * b if na > 1 else g * b
    if na == 1:
        return matmul(b, g) if nb == 2 else _drop(matmul(b, expand_dims(g, -1)), -1)
    return matmul(g, swapaxes(b, -1, -2))


def _matmul_vjp_b(g, ans, a, b):
    na, nb = _ndim(a), _ndim(b)
    if na == 1:
        return reshape(a, (-1, 1)) * expand_dims(g, -2) if nb > 1 else g * a
    if nb == 1:  # X @ w: the gradient of w is g @ X, one product and no transposes
        return matmul(g, a) if na == 2 else _drop(matmul(swapaxes(a, -1, -2),
                                                         expand_dims(g, -1)), -1)
    return matmul(swapaxes(a, -1, -2), g)


def _pad(t, k):
    """Insert k length-1 axes after the tangent's batch axis (keeps the batch axis leftmost)."""
    return reshape(t, t.shape[:1] + (1,) * k + t.shape[1:]) if k > 0 else t


def _matmul_jvp_a(t, ans, a, b):
    na, nb = _ndim(a), _ndim(b)
    if nb == 1:
        return matmul(t, b)
    if na == 1:
        out = matmul(reshape(t, t.shape[:1] + (1,) * (nb - 1) + t.shape[1:]), b)
        return _drop(out, -2)
    return matmul(_pad(t, nb - na), b)


def _matmul_jvp_b(t, ans, a, b):
    na, nb = _ndim(a), _ndim(b)
    if na == 1:
        return matmul(t, a) if nb == 1 else matmul(a, t)
    if nb == 1:
        out = matmul(a, reshape(t, t.shape[:1] + (1,) * (na - 2) + t.shape[1:] + (1,)))
        return _drop(out, -1)
    return matmul(a, _pad(t, na - nb))


def _matmul_batch(prim, args, batched):
    # rows of vectors become rows of matrices (1, n) and (n, 1); then the batch axis is one
    # more leading axis of the stacks, aligned as for any broadcasting primitive
    (a, b), (ba, bb) = args, batched
    va, vb = len(_shape(a)) - ba == 1, len(_shape(b)) - bb == 1
    if va:
        a = expand_dims(a, -2)
    if vb:
        b = expand_dims(b, -1)
    out = matmul(*align([a, b], batched))
    if va and vb:
        return reshape(out, _shape(out)[:-2])
    return _drop(out, -1) if vb else _drop(out, -2) if va else out


matmul = primitive("matmul", np.matmul, vjp=(_matmul_vjp_a, _matmul_vjp_b),
                   jvp=(_matmul_jvp_a, _matmul_jvp_b), batch=_matmul_batch,
                   doc="Matrix product a @ b with numpy's rules: batched over leading axes, "
                       "1-D operands promoted to vectors; d(a@b) = da @ b + a @ db.")


def dot(a, b):
    """numpy.dot for arrays of up to two dimensions (a product with a scalar otherwise)."""
    na, nb = _ndim(a), _ndim(b)
    if na == 0 or nb == 0:
        return a * b
    if na > 2 or nb > 2:
        raise ValueError(f"dot: arrays of {na} and {nb} dimensions; use matmul or einsum "
                         f"for batched products")
    return matmul(a, b)


def outer(a, b):
    """Outer product of two vectors (flattened first, as numpy): out[i, j] = a[i] * b[j]."""
    return reshape(a, (-1, 1)) * reshape(b, (1, -1))
