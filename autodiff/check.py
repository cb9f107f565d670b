"""check_grads: reverse and forward mode against central finite differences, to any order."""
import numpy as np

from .functional import jacfwd, jacrev, jvp, tree_flatten, tree_unflatten, vjp
from .ops import concatenate, getitem, reshape
from .tensor import getval

__all__ = ["check_grads"]


def _flat_function(f, args):
    """f as a map R^n -> R^m between flat vectors, plus the flat float64 point and dtypes.
    Arguments may be pytrees (lists, tuples, dicts of arrays or numbers): each leaf is an input."""
    leaves, treedef = tree_flatten(tuple(args))
    arrays = [np.asarray(getval(a)) for a in leaves]
    for a in arrays:
        if not np.issubdtype(a.dtype, np.floating) and a.dtype.kind not in "iub":
            raise TypeError(f"check_grads: arguments must be real numbers or arrays, or lists, "
                            f"tuples and dicts of them; got a leaf of dtype {a.dtype}")
    arrays = [a.astype(np.float64) if a.dtype.kind in "iub" else a for a in arrays]
    shapes = [a.shape for a in arrays]
    sizes = [a.size for a in arrays]

    def F(x):
        parts, off = [], 0
        for shape, n in zip(shapes, sizes):
            parts.append(reshape(getitem(x, slice(off, off + n)), shape))
            off += n
        outs, _ = tree_flatten(f(*tree_unflatten(treedef, parts)))
        outs = [reshape(o, (-1,)) for o in outs]
        return outs[0] if len(outs) == 1 else concatenate(outs)

    x0 = np.concatenate([a.ravel() for a in arrays]) if arrays else np.zeros(0)
    return F, x0, shapes


def _position(flat_i, shapes):
    """'argument k[index]' for a flat input position."""
    for k, shape in enumerate(shapes):
        n = int(np.prod(shape, dtype=int))
        if flat_i < n:
            idx = [int(j) for j in np.unravel_index(flat_i, shape)] if shape else ""
            return f"argument {k}{idx}"
        flat_i -= n
    return "?"


def _compare(name, got, ref, rtol, atol, shapes, order):
    got = np.asarray(got, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    if got.shape != ref.shape:
        raise AssertionError(f"check_grads: {name} Jacobian has shape {got.shape}, expected "
                             f"{ref.shape} (order {order})")
    scale = max(1.0, float(np.max(np.abs(ref)))) if ref.size else 1.0
    err = np.abs(got - ref) - (atol * scale + rtol * np.abs(ref))
    bad = ~(err <= 0)  # NaN counts as a failure
    if bad.any():
        i = np.unravel_index(np.argmax(np.where(np.isnan(err), np.inf, err)), err.shape)
        out_i, in_i = (i if len(i) == 2 else (0, i[-1]))
        raise AssertionError(
            f"check_grads: {name} mode disagrees with finite differences (order {order}) at "
            f"output[{int(out_i)}] w.r.t. {_position(int(in_i), shapes)}: AD {float(got[i])!r}, "
            f"numerical {float(ref[i])!r}; {int(bad.sum())} of {bad.size} entries off "
            f"(rtol={rtol}, atol={atol})")


def check_grads(f, args, order=2, modes=("fwd", "rev"), eps=1e-6, rtol=None, atol=None,
                seed=0):
    """Check f's derivatives at `args` against central finite differences, up to `order`.

    Reverse mode (jacrev, and vjp with a random cotangent v) and forward mode (jacfwd, and jvp
    with a random tangent u) are each compared with the central-difference Jacobian
    J[:, i] = (F(x + h e_i) - F(x - h e_i)) / 2h, computed in float64. For order > 1 the same
    check runs on the derivative maps x -> vjp(v) and x -> jvp(u), so second derivatives are
    checked in every combination (forward-over-reverse included). Raises AssertionError naming
    the worst element. Cost: 2n evaluations of f per order for n inputs; meant for tests.

    >>> import autodiff as ad
    >>> check_grads(lambda x: ad.sum(ad.exp(x) * x), (np.array([0.1, 0.2]),))
    """
    args = tuple(args)
    leaves = tree_flatten(args)[0]
    for m in modes:
        if m not in ("fwd", "rev"):
            raise ValueError(f"check_grads: modes must be 'fwd' and/or 'rev', got {m!r}")
    dtypes = [np.result_type(getval(a)) for a in leaves]
    low = any(np.dtype(d).itemsize < 8 for d in dtypes if np.issubdtype(d, np.floating))
    rtol = rtol if rtol is not None else (2e-3 if low else 1e-5)
    atol = atol if atol is not None else (2e-4 if low else 1e-6)
    F, x0, shapes = _flat_function(f, args)
    x64 = x0.astype(np.float64)
    F64, _, _ = _flat_function(f, tree_unflatten(tree_flatten(args)[1], [
        np.asarray(getval(a), dtype=np.float64) for a in leaves]))
    _check(F, F64, x0, x64, order, modes, eps, rtol, atol, shapes, np.random.default_rng(seed))


def _numerical_jacobian(F, x, eps):
    cols = []
    for i in range(x.size):
        h = eps * max(1.0, abs(x[i]))
        xp, xm = x.copy(), x.copy()
        xp[i] += h
        xm[i] -= h
        cols.append((np.asarray(F(xp), dtype=np.float64) - np.asarray(F(xm), dtype=np.float64))
                    / (xp[i] - xm[i]))
    y = np.asarray(F(x))
    return np.stack(cols, axis=-1).reshape(y.size, x.size) if cols else np.zeros((y.size, 0))


def _check(F, F64, x, x64, order, modes, eps, rtol, atol, shapes, rng, level=1):
    num = _numerical_jacobian(F64, x64, eps)
    u = rng.standard_normal(x.size).astype(x.dtype)
    v = rng.standard_normal(num.shape[0]).astype(x.dtype)
    if "fwd" in modes:
        _compare("forward (jacfwd)", np.reshape(jacfwd(F)(x), num.shape), num, rtol, atol,
                 shapes, level)
        _compare("forward (jvp)", np.reshape(jvp(F, (x,), (u,))[1], (-1, 1)),
                 (num @ u.astype(np.float64))[:, None], rtol, atol, shapes, level)
    if "rev" in modes:
        _compare("reverse (jacrev)", np.reshape(jacrev(F)(x), num.shape), num, rtol, atol,
                 shapes, level)
        _compare("reverse (vjp)", np.reshape(vjp(F, x)[1](v)[0], (1, -1)),
                 (v.astype(np.float64) @ num)[None, :], rtol, atol, shapes, level)
    if order > 1:
        # the derivative maps are themselves checked: second derivatives in all combinations
        nxt_rtol, nxt_atol = rtol * 10, atol * 10
        if "rev" in modes:
            v64 = v.astype(np.float64)

            def G(z):
                return vjp(F, z)[1](v)[0]

            def G64(z):
                return vjp(F64, z)[1](v64)[0]
            _check(G, G64, x, x64, order - 1, modes, eps, nxt_rtol, nxt_atol, shapes, rng,
                   level + 1)
        if "fwd" in modes:
            u64 = u.astype(np.float64)

            def H(z):
                return jvp(F, (z,), (u,))[1]

            def H64(z):
                return jvp(F64, (z,), (u64,))[1]
            _check(H, H64, x, x64, order - 1, modes, eps, nxt_rtol, nxt_atol, shapes, rng,
                   level + 1)
