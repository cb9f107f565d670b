"""Matrix products: matmul (batched, numpy's 1-D rules), dot, outer; tensordot, inner, vdot,
kron and cross composed from them."""
import builtins
import math

from ..backend import np
from ..core import primitive
from .shape import _ndim, _shape, align, expand_dims, moveaxis, reshape, swapaxes, transpose


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


# ---- contractions composed from matmul ----------------------------------------------------------
def tensordot(a, b, axes=2):
    """sum over the paired axes of a and b (numpy.tensordot): axes=N pairs a's last N with b's
    first N; axes=(axes_a, axes_b) names them. As transpose, reshape and one matmul."""
    sa, sb = _shape(a), _shape(b)
    if isinstance(axes, (int, np.integer)):
        axa, axb = list(range(len(sa) - int(axes), len(sa))), list(range(int(axes)))
    else:
        axa, axb = ([x] if isinstance(x, (int, np.integer)) else list(x) for x in axes)
    axa = [int(i) % builtins.max(len(sa), 1) for i in axa]
    axb = [int(i) % builtins.max(len(sb), 1) for i in axb]
    if len(axa) != len(axb) or any(sa[i] != sb[j] for i, j in zip(axa, axb)):
        raise ValueError(f"tensordot: shapes {sa} and {sb} do not match along axes {axa} "
                         f"and {axb}")
    fa = [i for i in range(len(sa)) if i not in axa]
    fb = [j for j in range(len(sb)) if j not in axb]
    k = math.prod(sa[i] for i in axa)
    a2 = reshape(transpose(a, fa + axa), (math.prod(sa[i] for i in fa), k))
    b2 = reshape(transpose(b, axb + fb), (k, math.prod(sb[j] for j in fb)))
    return reshape(matmul(a2, b2), tuple(sa[i] for i in fa) + tuple(sb[j] for j in fb))


def inner(a, b):
    """Sum over the last axes of a and b (numpy.inner); a product with a scalar."""
    if _ndim(a) == 0 or _ndim(b) == 0:
        return a * b
    return tensordot(a, b, ([-1], [-1]))


def vdot(a, b):
    """sum(a * b) over both arrays flattened (real numbers: numpy.vdot)."""
    return matmul(reshape(a, (-1,)), reshape(b, (-1,)))


def kron(a, b):
    """Kronecker product: out[i*p + k, j*q + l] = a[i, j] b[k, l], in any number of axes."""
    sa, sb = _shape(a), _shape(b)
    d = builtins.max(len(sa), len(sb))
    sa, sb = (1,) * (d - len(sa)) + tuple(sa), (1,) * (d - len(sb)) + tuple(sb)
    out = (reshape(a, tuple(v for s in sa for v in (s, 1)))
           * reshape(b, tuple(v for s in sb for v in (1, s))))
    return reshape(out, tuple(x * y for x, y in zip(sa, sb)))


def cross(a, b, axis=-1):
    """Cross product of 3-vectors along `axis` (of 2-vectors: the z component, a scalar per
    pair), broadcasting over the other axes."""
    a, b = moveaxis(a, axis, -1), moveaxis(b, axis, -1)
    n, m = _shape(a)[-1], _shape(b)[-1]
    if n != m or n not in (2, 3):
        raise ValueError(f"cross: both vectors must have length 2 or 3 along axis {axis}, got "
                         f"{n} and {m}")
    a0, a1, b0, b1 = a[..., 0], a[..., 1], b[..., 0], b[..., 1]
    if n == 2:
        return a0 * b1 - a1 * b0
    a2, b2 = a[..., 2], b[..., 2]
    from .shape import stack
    return moveaxis(stack([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], axis=-1),
                    -1, axis)
