"""Matrix decompositions and what is built on them: eigh, svd, det, pinv, norm.

eigh and svd return several arrays; each output is its own primitive (the factorisation is
recomputed per output, cheap next to a Python-level model), so a function that uses only the
eigenvalues differentiates only their rule. Rules are the published ones written with engine
ops, so they differentiate again: Giles, "An extended collection of matrix derivative results
for forward and reverse mode AD", 2008 (eigh); Townsend, "Differentiating the singular value
decomposition", 2016 (svd). Both divide by differences of (squared) eigen/singular values: the
derivatives of the vectors are undefined where two of them coincide (repeated eigenvalues), as
in every AD system.
"""

from ..backend import np
from ..core import primitive
from ..tensor import getval
from ..values import value_op
from .elementwise import abs, exp, sqrt, where
from .linalg import _check_square, _logabsdet, _T, _sign_of_det
from .products import matmul
from .reductions import max, min, sum
from .shape import _ndim, _shape, expand_dims, leading, neg_axes, reshape, squeeze, transpose


def _diag_embed(v):
    """(..., n) -> (..., n, n) with v on the diagonal."""
    n = _shape(v)[-1]
    return expand_dims(v, -1) * np.eye(n, dtype=np.result_type(getval(v)))


def _off(d):
    """F[i, j] = 1 / d[i, j] off the diagonal, 0 on it (a numpy-free composition)."""
    n = _shape(d)[-1]
    eye = np.eye(n, dtype=bool)
    return where(eye, 0.0, 1.0 / where(eye, 1.0, d))


def _diag_part(m):
    n = _shape(m)[-1]
    return sum(m * np.eye(n, dtype=np.result_type(getval(m))), axis=-1)


# ---- symmetric eigendecomposition --------------------------------------------------------------
def _eigh_np(a):
    return np.linalg.eigh(0.5 * (a + np.swapaxes(a, -1, -2)))


def _eigh_F(w):
    # F[i, j] = 1/(w_j - w_i): infinite for repeated eigenvalues (no derivative of the vectors)
    return _off(expand_dims(w, -2) - expand_dims(w, -1))


def _sym(x):
    return 0.5 * (x + _T(x))


# a-bar = V diag(w-bar) V^T + V (F o V^T V-bar) V^T, symmetrised (a is symmetrised first)
_eigvals = primitive(
    "eigh_values", lambda a: _eigh_np(a)[0],
    vjp=lambda g, w, a: _sym(matmul(_eigvecs(a) * expand_dims(g, -2), _T(_eigvecs(a)))),
    jvp=lambda t, w, a: _diag_part(matmul(_T(_eigvecs(a)), matmul(_sym(t), _eigvecs(a)))),
    batch=leading)  # numpy.linalg maps over leading axes, as do the rules (axes -1, -2)


def _eigvecs_vjp(g, v, a):
    inner = _eigh_F(_eigvals(a)) * matmul(_T(v), g)
    return _sym(matmul(v, matmul(inner, _T(v))))


def _eigvecs_jvp(t, v, a):
    return matmul(v, _eigh_F(_eigvals(a)) * matmul(_T(v), matmul(_sym(t), v)))


_eigvecs = primitive("eigh_vectors", lambda a: _eigh_np(a)[1], vjp=_eigvecs_vjp,
                     jvp=_eigvecs_jvp, batch=leading)


def eigh(a):
    """(w, v) with a = v diag(w) v^T for symmetric a, w ascending (numpy.linalg.eigh).

    Like cholesky, a is symmetrised first ((a + a^T)/2), so gradients are symmetric. Each
    eigenvector's sign is arbitrary: differentiate sign-free functions of v (v v^T, v**2).
    """
    _check_square("eigh", _shape(a))
    return _eigvals(a), _eigvecs(a)


def eigvalsh(a):
    """The eigenvalues of symmetric a, ascending; d w_i = v_i^T da v_i."""
    _check_square("eigvalsh", _shape(a))
    return _eigvals(a)


def eig(a):
    """Refused: the eigenvalues of a general matrix are complex, and complex numbers are not
    differentiated here. Use eigh for a symmetric matrix."""
    raise TypeError("eig: the eigenvalues of a general matrix are complex, and complex numbers "
                    "are not differentiated (see README, 'Do and don't'); use ad.eigh for a "
                    "symmetric matrix, or np.linalg.eig on plain values")


# ---- singular value decomposition --------------------------------------------------------------
def _svd_np(a):
    return np.linalg.svd(a, full_matrices=False)


def _svd_parts(a):
    """(U, s, V) of a, traced (V = Vh^T), and F[i, j] = 1/(s_j^2 - s_i^2)."""
    u, s, v = _svd_u(a), _svd_s(a), _T(_svd_vh(a))
    s2 = s * s
    return u, s, v, _off(expand_dims(s2, -2) - expand_dims(s2, -1))


def _eye_like(x, n):
    return np.eye(n, dtype=np.result_type(getval(x)))


def _svd_u_vjp(g, u, a):
    u, s, v, F = _svd_parts(a)
    ug = matmul(_T(u), g)
    core = matmul(F * (ug - _T(ug)), _diag_embed(s))
    proj = g - matmul(u, ug)  # (I - U U^T) U-bar
    return matmul(matmul(u, core) + proj / expand_dims(s, -2), _T(v))


def _svd_vh_vjp(g, vh, a):
    u, s, v, F = _svd_parts(a)
    gv = _T(g)  # V-bar
    vg = matmul(_T(v), gv)
    core = matmul(_diag_embed(s), F * (vg - _T(vg)))
    proj = _T(gv - matmul(v, vg))  # V-bar^T (I - V V^T)
    return matmul(u, matmul(core, _T(v)) + proj / expand_dims(s, -1))


def _svd_u_jvp(t, u, a):
    u, s, v, F = _svd_parts(a)
    dp = matmul(_T(u), matmul(t, v))
    S = _diag_embed(s)
    du = matmul(u, F * (matmul(dp, S) + matmul(S, _T(dp))))
    return du + (matmul(t, v) - matmul(u, dp)) / expand_dims(s, -2)


def _svd_vh_jvp(t, vh, a):
    u, s, v, F = _svd_parts(a)
    dp = matmul(_T(u), matmul(t, v))
    S = _diag_embed(s)
    dv = matmul(v, F * (matmul(S, dp) + matmul(_T(dp), S)))
    dv = dv + (matmul(_T(t), u) - matmul(v, _T(dp))) / expand_dims(s, -2)
    return _T(dv)


_svd_s = primitive(
    "svd_values", lambda a: _svd_np(a)[1],
    vjp=lambda g, s, a: matmul(_svd_u(a) * expand_dims(g, -2), _svd_vh(a)),
    jvp=lambda t, s, a: _diag_part(matmul(_T(_svd_u(a)), matmul(t, _T(_svd_vh(a))))),
    batch=leading)
_svd_u = primitive("svd_u", lambda a: _svd_np(a)[0], vjp=_svd_u_vjp, jvp=_svd_u_jvp,
                   batch=leading)
_svd_vh = primitive("svd_vh", lambda a: _svd_np(a)[2], vjp=_svd_vh_vjp, jvp=_svd_vh_jvp,
                    batch=leading)


def svd(a, full_matrices=False, compute_uv=True):
    """(U, s, Vh) with a = U diag(s) Vh, the thin SVD (numpy.linalg.svd(a, False)); s alone
    with compute_uv=False. ds_i = u_i^T da v_i. The derivatives of U and Vh need distinct
    non-zero singular values; each singular vector's sign is arbitrary."""
    if _ndim(a) < 2:
        raise ValueError(f"svd: needs a matrix (or a stack), got shape {_shape(a)}")
    if full_matrices and compute_uv:
        raise ValueError("svd: only full_matrices=False (the thin SVD) is differentiable")
    if not compute_uv:
        return _svd_s(a)
    return _svd_u(a), _svd_s(a), _svd_vh(a)


def pinv(a):
    """Moore-Penrose pseudo-inverse, V diag(1/s) U^T from the thin SVD (a of full rank)."""
    u, s, vh = svd(a)
    return matmul(_T(vh) / expand_dims(s, -2), _T(u))


# ---- determinant and norms ---------------------------------------------------------------------
def det(a):
    """det a = sign * exp(log|det a|) (from slogdet); d det = det tr(a^-1 da), a invertible."""
    _check_square("det", _shape(a))
    return _sign_of_det(a) * exp(_logabsdet(a))


def _count_nonzero(x, axis, keepdims):
    return np.sum(x != 0, axis=axis, keepdims=keepdims).astype(float)


def _vector_norm(x, ord, axis, keepdims):
    if ord is None or ord == 2:
        return sqrt(sum(x * x, axis=axis, keepdims=keepdims))
    if ord == np.inf:
        return max(abs(x), axis=axis, keepdims=keepdims)
    if ord == -np.inf:
        return min(abs(x), axis=axis, keepdims=keepdims)
    if ord == 0:
        return value_op(_count_nonzero, x, axis=neg_axes(axis, _ndim(x), "norm"),
                        keepdims=keepdims)  # per row under vmap: negative axes
    if ord == 1:
        return sum(abs(x), axis=axis, keepdims=keepdims)
    return sum(abs(x) ** ord, axis=axis, keepdims=keepdims) ** (1.0 / ord)


def _matrix_norm(x, ord, axes, keepdims):
    r, c = axes
    n = _ndim(x)
    if ord in (None, "fro"):
        out = sqrt(sum(x * x, axis=axes, keepdims=True))
    elif ord in ("nuc", 2, -2):  # from the singular values of the (r, c) matrices
        m = transpose(x, [d for d in range(n) if d not in (r, c)] + [r, c])
        s = _svd_s(m)
        out = sum(s, axis=-1) if ord == "nuc" else (max if ord == 2 else min)(s, axis=-1)
        out = reshape(out, tuple(1 if d in (r, c) else k for d, k in enumerate(_shape(x))))
    elif ord in (1, -1, np.inf, -np.inf):
        red, keep = (r, c) if ord in (1, -1) else (c, r)  # column sums (1) or row sums (inf)
        sums = sum(abs(x), axis=red, keepdims=True)
        out = (max if ord > 0 else min)(sums, axis=keep, keepdims=True)
    else:
        raise ValueError(f"norm: invalid order {ord!r} for matrices")
    if keepdims:
        return out
    return squeeze(out, axes)


def norm(x, ord=None, axis=None, keepdims=False):
    """numpy.linalg.norm: vector p-norms (sum |x|^p)^(1/p), inf/-inf, 0 (a count, no gradient);
    matrix norms 'fro', 'nuc', 1, -1, 2, -2, inf, -inf over two axes. The 2-norm's gradient
    x/|x| is undefined at x = 0."""
    n = _ndim(x)
    if axis is None:
        if ord is None:  # the Frobenius norm of the flattened array
            return _vector_norm(x, None, None, keepdims)
        axis = tuple(range(n)) if n in (1, 2) else None
        if axis is None:
            raise ValueError(f"norm: ord={ord!r} needs an axis for a {n}-d array")
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    axes = tuple(int(a) % n for a in axes)
    if len(axes) == 1:
        return _vector_norm(x, ord, axes[0], keepdims)
    if len(axes) == 2:
        return _matrix_norm(x, ord, axes, keepdims)
    raise ValueError(f"norm: axis must name 1 or 2 axes, got {axis!r}")


