"""Shape primitives: reshape, transpose, broadcast_to, concatenate, indexing; and compositions.

Axes are normalised to negative numbers before they reach a rule, so that the same rule serves a
tangent with a leading batch axis.
"""
import builtins
import math

from ..backend import np
from ..core import Each, from_jvp, primitive, sum_to
from ..tensor import Tensor
from ..values import stop_gradient


def _shape(x):
    try:
        return x.shape
    except AttributeError:
        return np.shape(x)


def _ndim(x):
    try:
        return x.ndim
    except AttributeError:
        return np.ndim(x)


_axes_memo = {}


def neg_axes(axis, ndim, op="reduce"):
    """axis (None, int or tuple) as a sorted tuple of negative axes, checked against ndim."""
    key = (tuple(axis) if isinstance(axis, list) else axis, ndim)
    try:
        return _axes_memo[key]
    except (KeyError, TypeError):
        pass
    if axis is None:
        out = tuple(range(-ndim, 0))
    else:  # _axis checks bounds; a 0-d array takes axis 0 or -1, as numpy's reductions do
        axes = axis if isinstance(axis, (tuple, list)) else (axis,)
        idx = {_axis(a, builtins.max(ndim, 1), op) for a in axes}
        out = tuple(sorted(a - ndim for a in idx)) if ndim else ()
    if len(_axes_memo) < 4096:
        _axes_memo[key] = out
    return out


def _axis(a, ndim, op):
    """One axis as a non-negative index, checked against ndim."""
    a = int(a)
    if not -ndim <= a < ndim:
        raise ValueError(f"{op}: axis {a} is out of bounds for an array of dimension {ndim}")
    return a % ndim


def _resolve(shape, size):
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(int(n) for n in shape)
    if -1 in shape:
        known = math.prod(n for n in shape if n != -1)
        if known == 0 or size % known:
            raise ValueError(f"reshape: cannot reshape an array of size {size} into shape {shape}")
        shape = tuple(size // known if n == -1 else n for n in shape)
    if math.prod(shape) != size:
        raise ValueError(f"reshape: cannot reshape an array of size {size} into shape {shape}")
    return shape


_reshape = primitive("reshape", lambda x, shape: x.reshape(shape),
                     vjp=lambda g, ans, x, shape: _reshape(g, shape=_shape(x)),
                     jvp=lambda t, ans, x, shape: _reshape(t, shape=t.shape[:1] + shape),
                     batch=from_jvp)


# ---- batching rules shared by the ops (the machinery is in batching.py) --------------------------
def batch_size(args, batched):
    """The batch size: the length of the leading axis of the first batched argument."""
    for a, b in zip(args, batched):
        if b:
            return _shape(a)[0]
    raise ValueError("a batching rule got no batched argument")


def align(args, batched):
    """The batched arguments padded with length-1 axes after their batch axis to the rank of
    the highest-rank row: right-aligned broadcasting then pairs rows with rows, and unbatched
    arguments with every row."""
    ranks = [len(_shape(a)) - b for a, b in zip(args, batched)]
    rank = builtins.max(ranks)
    out = []
    for a, b, r in zip(args, batched, ranks):
        if b and r < rank:
            s = _shape(a)
            a = _reshape(a, shape=s[:1] + (1,) * (rank - r) + s[1:])
        out.append(a)
    return out


def leading(prim, args, batched, **params):
    """The batching rule of a primitive that maps over leading axes (elementwise ones,
    reductions over negative axes, numpy.linalg's stacks): align, then apply it."""
    return prim(*align(args, batched), **params)


def unbatched_to(x, size):
    """x repeated `size` times along a new leading axis."""
    s = _shape(x)
    return _broadcast_to(_reshape(x, shape=(1,) + s), shape=(size,) + s)


def reshape(x, shape):
    """x with a new shape of the same size (-1 allowed once)."""
    if type(shape) is not tuple or -1 in shape:
        shape = _resolve(shape, math.prod(_shape(x)))  # one row's size under vmap
    if shape == _shape(x):
        return x
    return _reshape(np.asarray(x) if isinstance(x, (list, float, int)) else x, shape=shape)


_transpose = primitive("transpose", lambda x, axes: x.transpose(axes),
                       vjp=lambda g, ans, x, axes: _transpose(g, axes=tuple(np.argsort(axes))),
                       jvp=lambda t, ans, x, axes: _transpose(
                           t, axes=(0,) + tuple(a + 1 for a in axes)), batch=from_jvp)


def transpose(x, axes=None):
    """Permute the axes (reverse them by default)."""
    n = _ndim(x)
    axes = tuple(range(n))[::-1] if axes is None else tuple(_axis(a, n, "transpose") for a in axes)
    if sorted(axes) != list(range(n)):
        raise ValueError(f"transpose: axes {axes} are not a permutation of {n} axes")
    if axes == tuple(range(n)):
        return x
    return _transpose(x, axes=axes)


def swapaxes(x, axis1, axis2):
    """x with two axes interchanged."""
    n = _ndim(x)
    a1, a2 = _axis(axis1, n, "swapaxes"), _axis(axis2, n, "swapaxes")
    axes = list(range(n))
    axes[a1], axes[a2] = a2, a1
    return transpose(x, axes)


def moveaxis(x, source, destination):
    """x with axis `source` moved to position `destination`."""
    n = _ndim(x)
    src, dst = _axis(source, n, "moveaxis"), _axis(destination, n, "moveaxis")
    axes = [a for a in range(n) if a != src]
    axes.insert(dst, src)
    return transpose(x, axes)


def _broadcast_jvp(t, ans, x, shape):
    pad = len(shape) + 1 - t.ndim
    if pad:
        t = _reshape(t, shape=t.shape[:1] + (1,) * pad + t.shape[1:])
    return _broadcast_to(t, shape=t.shape[:1] + shape)


def _broadcast(x, shape):
    # a writable copy: cheaper than np.broadcast_to's view for the small arrays of models
    out = np.empty(shape, dtype=np.result_type(x))
    out[...] = x
    return out


_broadcast_to = primitive("broadcast_to", _broadcast,
                          vjp=lambda g, ans, x, shape: sum_to(g, _shape(x)), jvp=_broadcast_jvp,
                          batch=from_jvp)


def broadcast_to(x, shape):
    """x broadcast to `shape` (numpy's rules); the gradient is summed back."""
    if type(shape) is not tuple:
        shape = tuple(int(n) for n in shape)
    xshape = _shape(x)
    if xshape == shape:
        return x
    if len(xshape) > len(shape):  # numpy's assignment would drop leading 1s: not a broadcast
        raise ValueError(f"broadcast_to: cannot broadcast shape {xshape} to {shape}")
    return _broadcast_to(x, shape=shape)


expand = broadcast_to


def expand_dims(x, axis):
    """x with a new axis of length 1 at `axis`."""
    shape = list(_shape(x))
    shape.insert(_axis(axis, len(shape) + 1, "expand_dims"), 1)
    return reshape(x, tuple(shape))


unsqueeze = expand_dims


def squeeze(x, axis=None):
    """x without the length-1 axes (all of them, or those in `axis`)."""
    shape = _shape(x)
    if axis is None:
        return reshape(x, tuple(n for n in shape if n != 1))
    axes = {_axis(a, len(shape), "squeeze")
            for a in (axis if isinstance(axis, (tuple, list)) else (axis,))}
    for a in axes:
        if shape[a] != 1:
            raise ValueError(f"squeeze: axis {a} has length {shape[a]}, not 1")
    return reshape(x, tuple(n for i, n in enumerate(shape) if i not in axes))


# ---- indexing -----------------------------------------------------------------------------------
def _per_row_index():
    return TypeError("an index that differs per row under vmap (read from a batched value) "
                     "would index with the whole stack: select with ad.where, or multiply by a "
                     "one-hot mask")


def _index(idx):
    """An index as a tuple of numpy-ready items (Tensors and lists become arrays)."""
    if not isinstance(idx, tuple):
        idx = (idx,)
    out = []
    for i in idx:
        if isinstance(i, Tensor):
            i = stop_gradient(i)
            if isinstance(i, Tensor):
                raise _per_row_index()
        elif isinstance(i, list):
            i = np.asarray(i)
        if isinstance(i, np.ndarray) and i.dtype.kind == "f":
            raise TypeError(f"index arrays must be integer or boolean, got dtype {i.dtype}")
        out.append(i)
    return tuple(out)


def _scatter(g, idx, shape):
    """zeros(shape) with g added at idx: repeated integer indices add up. x[:, index] over
    rows (a batched gather, as under vmap) is one `np.bincount`: 4x faster than `np.add.at`,
    whose fast path covers one axis only."""
    out = np.zeros(shape, dtype=np.result_type(g))
    ints = [k for k, i in enumerate(idx) if isinstance(i, np.ndarray) and i.dtype.kind in "iu"]
    if not ints:
        out[idx] = g
    elif (ints == [len(shape) - 1] and len(idx) == len(shape) and len(shape) > 1
          and out.dtype == np.float64 and idx[-1].ndim == 1
          and builtins.all(i == slice(None) for i in idx[:-1])):
        n, rows = shape[-1], int(np.prod(shape[:-1], dtype=np.int64))
        index = np.where(idx[-1] < 0, idx[-1] + n, idx[-1])
        flat = (np.arange(rows)[:, None] * n + index).ravel()
        out[...] = np.bincount(flat, weights=np.ravel(g), minlength=rows * n).reshape(shape)
    else:
        np.add.at(out, idx, g)
    return out


def _split(idx):
    """Whether numpy moves the axes of x[idx]'s advanced indices to the front: they are
    separated by a slice, None or Ellipsis (x[0, :, [1, 2]])."""
    adv = [k for k, i in enumerate(idx)
           if isinstance(i, (np.ndarray, int, np.integer)) and not isinstance(i, bool)]
    return (builtins.any(isinstance(idx[k], np.ndarray) for k in adv)
            and adv[-1] - adv[0] + 1 != len(adv))


def _batch_last(idx):
    """idx followed by a slice over a trailing batch axis."""
    return idx + ((slice(None),) if builtins.any(i is Ellipsis for i in idx)
                  else (Ellipsis, slice(None)))


def _getitem_jvp(t, ans, x, idx):
    if not _split(idx):
        return _getitem(t, idx=(slice(None),) + idx)
    # t[:, 0, :, [1, 2]] would put the batch axis second: index with it last, then move it back
    return moveaxis(_getitem(moveaxis(t, 0, -1), idx=_batch_last(idx)), -1, 0)


def _unindex_jvp(t, ans, x, idx, shape):
    if not _split(idx):
        return _unindex(t, idx=(slice(None),) + idx, shape=t.shape[:1] + shape)
    out = _unindex(moveaxis(t, 0, -1), idx=_batch_last(idx), shape=shape + t.shape[:1])
    return moveaxis(out, -1, 0)


_getitem = primitive("getitem", lambda x, idx: x[idx],
                     vjp=lambda g, ans, x, idx: _unindex(g, idx=idx, shape=_shape(x)),
                     jvp=_getitem_jvp, batch=from_jvp)
_unindex = primitive("scatter_add", _scatter,
                     vjp=lambda g, ans, x, idx, shape: _getitem(g, idx=idx), jvp=_unindex_jvp,
                     batch=from_jvp)


def getitem(x, idx):
    """x[idx]: basic slicing and integer/boolean array indexing; the VJP scatter-adds."""
    return _getitem(x, idx=_index(idx))


def scatter_add(g, idx, shape):
    """zeros(shape) with g added at x[idx] (repeated indices accumulate): the VJP of x[idx]."""
    return _unindex(g, idx=_index(idx), shape=tuple(shape))


def take_along_axis(arr, indices, axis):
    """numpy.take_along_axis, as integer-array indexing (so its VJP is a scatter-add)."""
    shape = _shape(arr)
    indices = stop_gradient(indices)
    if isinstance(indices, Tensor):
        raise _per_row_index()
    n = len(shape)
    axis = _axis(axis, n, "take_along_axis")
    idx = []
    for d in range(n):
        if d == axis:
            idx.append(indices)
        else:
            r = [1] * n
            r[d] = shape[d]
            idx.append(np.arange(shape[d]).reshape(r))
    return _getitem(arr, idx=tuple(idx))


def flip(x, axis=None):
    """x reversed along `axis` (all axes by default)."""
    n = _ndim(x)
    axes = {a % n for a in neg_axes(axis, n, "flip")}
    return getitem(x, tuple(slice(None, None, -1) if d in axes else slice(None) for d in range(n)))


# ---- joining ------------------------------------------------------------------------------------
def _concat_vjp(i, g, ans, *xs, axis):
    start = builtins.sum(_shape(x)[axis] for x in xs[:i])
    stop = start + _shape(xs[i])[axis]
    return _getitem(g, idx=(Ellipsis, slice(start, stop)) + (slice(None),) * (-axis - 1))


def _concat_jvp(i, t, ans, *xs, axis):
    start = builtins.sum(_shape(x)[axis] for x in xs[:i])
    stop = start + _shape(xs[i])[axis]
    idx = (Ellipsis, slice(start, stop)) + (slice(None),) * (-axis - 1)
    return _unindex(t, idx=idx, shape=t.shape[:1] + ans.shape)


def _concat_batch(prim, xs, batched, axis):
    n = batch_size(xs, batched)
    return _concatenate(*[x if b else unbatched_to(x, n) for x, b in zip(xs, batched)],
                        axis=axis)


_concatenate = primitive("concatenate", lambda *xs, axis: np.concatenate(xs, axis=axis),
                         vjp=Each(_concat_vjp), jvp=Each(_concat_jvp), batch=_concat_batch)


def concatenate(xs, axis=0):
    """Join a sequence of arrays along an existing axis."""
    xs = list(xs)
    if not xs:
        raise ValueError("concatenate: need at least one array")
    n = _ndim(xs[0])
    if n == 0:
        raise ValueError("concatenate: zero-dimensional arrays cannot be concatenated")
    return _concatenate(*xs, axis=neg_axes(axis, n, "concatenate")[0])


def stack(xs, axis=0):
    """Join a sequence of same-shaped arrays along a new axis."""
    xs = list(xs)
    if not xs:
        raise ValueError("stack: need at least one array")
    shapes = {_shape(x) for x in xs}
    if len(shapes) > 1:
        raise ValueError(f"stack: all arrays must have the same shape, got {sorted(shapes)}")
    axis = _axis(axis, len(next(iter(shapes))) + 1, "stack")
    return concatenate([expand_dims(x, axis) for x in xs], axis=axis)
