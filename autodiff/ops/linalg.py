"""Linear algebra: einsum, triangular and general solves, Cholesky, inverse, log-determinants,
and the diagonal and triangle helpers composed from indexing.

Matrix functions act on the last two axes and broadcast over leading (batch) axes, as
numpy.linalg does. A JVP's tangent has one more leading axis than its argument; `_align` pads it
with length-1 axes so that its batch axes line up with the answer's.
"""
import string

from ..backend import np, sla
from ..core import Each, primitive
from ..tensor import getval
from ..values import value_op
from .elementwise import where
from .products import matmul
from .reductions import sum
from .shape import _shape, broadcast_to, getitem, leading, reshape, swapaxes, transpose


def _T(x):
    return swapaxes(x, -1, -2)


def _align(t, ans):
    """The tangent t, shape (B,) + s, padded to (B,) + (1, ...) + s of rank ans.ndim + 1."""
    k = len(_shape(ans)) + 1 - t.ndim  # ans's own rank: one row's under vmap
    return reshape(t, t.shape[:1] + (1,) * k + t.shape[1:]) if k > 0 else t


def _check_square(name, shape):
    if len(shape) < 2 or shape[-1] != shape[-2]:
        raise ValueError(f"{name}: expected square matrices in the last two axes, got an array "
                         f"of shape {shape}")


def _check_rhs(name, sa, sb):
    """b's shape against a's: (n,) is one vector, (..., n, k) a stack of matrices (numpy 2)."""
    _check_square(name, sa)
    n = sb[0] if len(sb) == 1 else (sb[-2] if len(sb) >= 2 else None)
    if n != sa[-1]:
        raise ValueError(f"{name}: a has shape {sa}, so b must have shape ({sa[-1]},) or "
                         f"(..., {sa[-1]}, k); got {sb}")
    return len(sb) == 1


# ---- einsum ------------------------------------------------------------------------------------
def _parse(subscripts, shapes):
    """numpy einsum subscripts as (input terms, output term): explicit, one letter per axis."""
    s = subscripts.replace(" ", "")
    if s.count("->") > 1:
        raise ValueError(f"einsum: more than one '->' in {subscripts!r}")
    ins, out = s.split("->") if "->" in s else (s, None)
    ins = ins.split(",")
    if len(ins) != len(shapes):
        raise ValueError(f"einsum: {subscripts!r} names {len(ins)} operands, got {len(shapes)}")
    free = [c for c in string.ascii_letters if c not in s]
    ells = []
    for i, (term, shape) in enumerate(zip(ins, shapes)):
        k = len(shape) - len(term.replace("...", ""))
        if term.count("...") > 1 or (k != 0 and "..." not in term) or k < 0:
            raise ValueError(f"einsum: term {term!r} does not fit operand {i} of shape {shape}")
        ells.append(k)
    ell = "".join(free[:max(ells, default=0)])  # ellipsis axes get unused letters, right-aligned
    ins = [t.replace("...", ell[len(ell) - k:]) for t, k in zip(ins, ells)]
    for i, term in enumerate(ins):
        bad = [c for c in term if c not in string.ascii_letters]
        if bad:
            raise ValueError(f"einsum: invalid character {bad[0]!r} in {subscripts!r}")
        rep = [c for c in term if term.count(c) > 1]
        if rep:
            raise ValueError(f"einsum: index {rep[0]!r} repeats within operand {i} "
                             f"({subscripts!r}); take the diagonal first with diagonal()")
    size = {}
    for i, (term, shape) in enumerate(zip(ins, shapes)):
        for c, n in zip(term, shape):
            if size.setdefault(c, n) != n and 1 not in (n, size[c]):
                raise ValueError(f"einsum: index {c!r} has lengths {size[c]} and {n} in "
                                 f"{subscripts!r} (operand {i} has shape {shape})")
            size[c] = max(size[c], n)
    letters = "".join(ins)
    if out is None:  # numpy's implicit mode: broadcast axes, then the once-used letters sorted
        out = ell + "".join(sorted(c for c in set(letters) if letters.count(c) == 1
                                   and c not in ell))
    else:
        out = out.replace("...", ell)
        for c in out:
            if c not in letters or out.count(c) > 1:
                raise ValueError(f"einsum: output index {c!r} in {subscripts!r} is "
                                 f"{'repeated' if c in letters else 'not in any input'}")
    return tuple(ins), out


def _fresh(ins, out):
    used = set(out).union(*ins)
    for c in string.ascii_letters:
        if c not in used:
            return c
    raise ValueError("einsum: no letter left for the tangent's batch axis")


def _einsum_vjp(i, g, ans, *ops, ins, out):
    mine = ins[i]
    others = ins[:i] + ins[i + 1:]
    seen = set(out).union(*others)
    kept = "".join(c for c in mine if c in seen)
    r = _einsum(g, *ops[:i], *ops[i + 1:], ins=(out,) + others, out=kept)
    # letters summed within operand i alone: the cotangent is constant along them
    size = dict(zip(kept, _shape(r)))
    r = reshape(r, tuple(size.get(c, 1) for c in mine))
    target = tuple(max(size.get(c, 1), n) for c, n in zip(mine, _shape(ops[i])))
    return broadcast_to(r, target)  # wider than operand i where it broadcast: the engine sums


def _einsum_jvp(i, t, ans, *ops, ins, out):
    z = _fresh(ins, out)
    return _einsum(*ops[:i], t, *ops[i + 1:], ins=ins[:i] + (z + ins[i],) + ins[i + 1:],
                   out=z + out)


def _einsum_batch(prim, ops, batched, ins, out):
    z = _fresh(ins, out)  # the batch axis: a letter of its own, kept in the output
    return _einsum(*ops, ins=tuple(z + t if b else t for t, b in zip(ins, batched)), out=z + out)


_einsum = primitive("einsum",
                    lambda *ops, ins, out: np.einsum(",".join(ins) + "->" + out, *ops,
                                                     optimize=len(ops) > 2),
                    vjp=Each(_einsum_vjp), jvp=Each(_einsum_jvp), batch=_einsum_batch)


def _from_sublists(first, rest):
    """numpy's sublist form einsum(a, [0, 1], b, [1, 2], [0, 2]) as ('ab,bc->ac', a, b)."""
    args = (first,) + tuple(rest)
    ops_, subs = args[0::2], args[1::2]
    out = None
    if len(args) % 2:  # an odd count: the last item is the output sublist
        ops_, out = ops_[:-1], args[-1]

    def letters(sub):
        if not isinstance(sub, (list, tuple)):
            raise TypeError("einsum: the subscripts must be a string such as 'ij,jk->ik', or "
                            "sublists of integers: einsum(a, [0, 1], b, [1, 2], [0, 2])")
        return "".join("..." if i is Ellipsis else string.ascii_letters[int(i)] for i in sub)
    s = ",".join(letters(sub) for sub in subs)
    return (s if out is None else s + "->" + letters(out)), ops_


def einsum(subscripts, *operands):
    """numpy.einsum('ij,jk->ik', a, b): sum over the indices not in the output.

    Explicit ('->') and implicit modes, '...', and numpy's sublist form
    einsum(a, [0, 1], b, [1, 2], [0, 2]) are supported; an index repeated within one operand
    (a diagonal) is not: use diagonal() first.
    """
    if not isinstance(subscripts, str):
        subscripts, operands = _from_sublists(subscripts, operands)
    ins, out = _parse(subscripts, [_shape(o) for o in operands])
    return _einsum(*operands, ins=ins, out=out)


# ---- triangular solve --------------------------------------------------------------------------
def _trisolve_fwd(a, b, lower):
    """x with a x = b: a (..., n, n) triangular, b (..., n, k), batch axes broadcast."""
    a, b = np.asarray(a), np.asarray(b)
    n = a.shape[-1]
    if a.ndim == 2:  # one call: the columns of every batch of b side by side
        bb = np.moveaxis(b, -2, 0)
        x = sla.solve_triangular(a, bb.reshape(n, -1), lower=lower,
                                check_finite=False)
        return np.moveaxis(x.reshape(bb.shape), 0, -2)
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    a = np.broadcast_to(a, batch + a.shape[-2:])
    b = np.broadcast_to(b, batch + b.shape[-2:])
    xs = [sla.solve_triangular(a[j], b[j], lower=lower, check_finite=False)
          for j in np.ndindex(batch)]
    if not xs:
        return np.zeros(batch + b.shape[-2:], dtype=np.result_type(a, b, np.float32))
    return np.stack(xs).reshape(batch + b.shape[-2:])


def _tri(a, lower):
    """The triangle of a square matrix that a triangular solve reads (boolean mask)."""
    m = np.tri(_shape(a)[-1], dtype=bool)
    return m if lower else m.T


def _trisolve_vjp_a(g, ans, a, b, lower):
    # only the triangle is read, so the cotangent of the other one is zero
    bbar = _trisolve(_T(a), g, lower=not lower)
    return where(_tri(a, lower), -matmul(bbar, _T(ans)), 0.0)


def _trisolve_jvp_a(t, ans, a, b, lower):
    da = where(_tri(a, lower), _align(t, ans), 0.0)
    return -_trisolve(a, matmul(da, ans), lower=lower)


_trisolve = primitive("solve_triangular", _trisolve_fwd,
                      vjp=(_trisolve_vjp_a,
                           lambda g, ans, a, b, lower: _trisolve(_T(a), g, lower=not lower)),
                      jvp=(_trisolve_jvp_a,
                           lambda t, ans, a, b, lower: _trisolve(a, _align(t, ans), lower=lower)),
                      batch=leading)


def _vector_rhs(prim, name, a, b, **params):
    """prim(a, b) with numpy 2's convention: b of shape (n,) is one vector."""
    sb = _shape(b)
    if _check_rhs(name, _shape(a), sb):
        x = prim(a, reshape(b, sb + (1,)), **params)
        return reshape(x, _shape(x)[:-1])
    return prim(a, b, **params)


def solve_triangular(a, b, lower=True):
    """x = a^-1 b for triangular a; only a's lower (or upper, lower=False) triangle is read.

    The default is lower=True (scipy's is False); b is a vector when b.ndim == 1.
    """
    return _vector_rhs(_trisolve, "solve_triangular", a, b, lower=bool(lower))


# ---- general solve and inverse -----------------------------------------------------------------
def _solve_vjp_a(g, ans, a, b):
    return -matmul(_solve(_T(a), g), _T(ans))


_solve = primitive("solve", np.linalg.solve,
                   vjp=(_solve_vjp_a, lambda g, ans, a, b: _solve(_T(a), g)),
                   jvp=(lambda t, ans, a, b: -_solve(a, matmul(_align(t, ans), ans)),
                        lambda t, ans, a, b: _solve(a, _align(t, ans))), batch=leading)


def solve(a, b):
    """x = a^-1 b; b of shape (n,) is a vector, (..., n, k) a stack of matrices (numpy 2)."""
    return _vector_rhs(_solve, "solve", a, b)


_inv = primitive("inv", np.linalg.inv,
                 vjp=lambda g, ans, a: -matmul(_T(ans), matmul(g, _T(ans))),
                 jvp=lambda t, ans, a: -matmul(ans, matmul(t, ans)), batch=leading)


def inv(a):
    """a^-1; d(a^-1) = -a^-1 da a^-1."""
    _check_square("inv", _shape(a))
    return _inv(a)


# ---- determinants ------------------------------------------------------------------------------
_logabsdet = primitive(
    "logabsdet", lambda a: np.linalg.slogdet(a)[1],
    vjp=lambda g, ans, a: reshape(g, _shape(g) + (1, 1)) * _T(_inv(a)),
    jvp=lambda t, ans, a: sum(t * _T(_inv(a)), axis=(-2, -1)), batch=leading)


def slogdet(a):
    """(sign, log|det a|): the sign as a plain numpy array; d log|det a|/da = a^-T."""
    _check_square("slogdet", _shape(a))
    return _sign_of_det(a), _logabsdet(a)


def logdet(a):
    """log det a; NaN where det a <= 0 (as torch.logdet), where the log is not real.

    d log det a = tr(a^-1 da). For positive definite a, prefer 2 sum(log(diag(cholesky(a)))).
    """
    _check_square("logdet", _shape(a))
    sign = _sign_of_det(a)
    out = _logabsdet(a)
    return out if np.all(getval(sign) > 0) else where(sign > 0, out, np.nan)


def _det_sign(a):
    return np.linalg.slogdet(a)[0]


def _sign_of_det(a):
    """The sign of det a (no derivative): numpy, or under vmap each row's own, boxed."""
    return value_op(_det_sign, a)


# ---- Cholesky ----------------------------------------------------------------------------------
def _phi(x, like):
    """Lower triangle of x with the diagonal halved."""
    n = _shape(like)[-1]
    dtype = np.result_type(getval(like))
    return x * (np.tri(n, dtype=dtype) - 0.5 * np.eye(n, dtype=dtype))


def _cholesky_vjp(g, L, a):
    # Murray 2016, "Differentiation of the Cholesky decomposition", symmetric form:
    # abar = sym(L^-T Phi(L^T g) L^-1)
    p = _phi(matmul(_T(L), g), L)
    z = _trisolve(_T(L), p, lower=False)           # L^-T P
    s = _trisolve(_T(L), _T(z), lower=False)        # (L^-T P L^-1)^T; symmetrised below
    return 0.5 * (s + _T(s))


def _cholesky_jvp(t, L, a):
    # dL = L Phi(L^-1 dA L^-T), dA the symmetric part of the tangent
    da = 0.5 * (t + _T(t))
    y = _trisolve(L, da, lower=True)               # L^-1 dA
    x = _trisolve(L, _T(y), lower=True)            # L^-1 dA L^-T (dA symmetric)
    return matmul(L, _phi(x, L))


_cholesky = primitive("cholesky",
                      lambda a: np.linalg.cholesky(0.5 * (a + np.swapaxes(a, -1, -2))),
                      vjp=_cholesky_vjp, jvp=_cholesky_jvp, batch=leading)


def cholesky(a):
    """Lower-triangular L with L L^T = a, for symmetric positive definite a.

    Like JAX, a is symmetrised first ((a + a^T)/2), so the gradient is symmetric and agrees
    with finite differences in every entry.
    """
    _check_square("cholesky", _shape(a))
    return _cholesky(a)


# ---- diagonals and triangles (compositions: no rules of their own) ------------------------------
def diagonal(x, offset=0, axis1=0, axis2=1):
    """x[..., i, i + offset] over axes axis1 and axis2; the diagonal becomes the last axis.

    The default axes are 0 and 1, as numpy.diagonal's; for a stack of matrices pass
    axis1=-2, axis2=-1.
    """
    shape = _shape(x)
    nd = len(shape)
    if nd < 2:
        raise ValueError(f"diagonal: needs at least 2 dimensions, got shape {shape}")
    if not (-nd <= axis1 < nd and -nd <= axis2 < nd) or axis1 % nd == axis2 % nd:
        raise ValueError(f"diagonal: axes {axis1}, {axis2} are not two distinct axes of an "
                         f"array of shape {shape}")
    a1, a2 = axis1 % nd, axis2 % nd
    x = transpose(x, [d for d in range(nd) if d not in (a1, a2)] + [a1, a2])
    n1, n2 = shape[a1], shape[a2]
    offset = int(offset)
    size = max(0, min(n1, n2 - offset) if offset >= 0 else min(n1 + offset, n2))
    rows = np.arange(size) + max(0, -offset)
    return getitem(x, (Ellipsis, rows, rows + offset))


def trace(x, offset=0, axis1=0, axis2=1):
    """sum_i x[..., i, i + offset]: the sum of diagonal(x, offset, axis1, axis2); axes 0 and 1
    by default, as numpy.trace (axis1=-2, axis2=-1 for a stack of matrices)."""
    return sum(diagonal(x, offset, axis1, axis2), axis=-1)


def _triangle(name, x, keep):
    shape = _shape(x)
    if len(shape) < 2:
        raise ValueError(f"{name}: needs at least 2 dimensions, got shape {shape}")
    return where(keep(shape[-2], shape[-1]), x, 0.0)


def tril(x, k=0):
    """x with the entries above the k-th diagonal set to 0 (last two axes)."""
    return _triangle("tril", x, lambda n, m: np.tri(n, m, k, dtype=bool))


def triu(x, k=0):
    """x with the entries below the k-th diagonal set to 0 (last two axes)."""
    return _triangle("triu", x, lambda n, m: ~np.tri(n, m, k - 1, dtype=bool))
