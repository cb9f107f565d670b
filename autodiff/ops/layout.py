"""numpy's array-manipulation vocabulary, composed from the shape primitives (reshape,
transpose, broadcast_to, concatenate, getitem): splitting, stacking, tiling, repeating, rolling,
padding, rotating, differencing. None has a rule of its own: each is exact, and its derivatives
(any order, both modes) are those of the primitives it is made of. Sorting is the exception:
two primitives over a negative axis (`sort` and the permutation its rules apply), so that it
batches under vmap, where an index array read from the values would hold the whole stack.
"""
import builtins

from ..backend import np
from ..core import primitive
from ..tensor import getval
from ..values import stop_gradient, value_op
from .shape import (_axis, _ndim, _shape, broadcast_to, concatenate, flip, getitem, leading,
                    reshape, transpose)


def ravel(x):
    """x as a 1-D array (row-major order)."""
    return reshape(x, (-1,))


def _along(axis, n, idx):
    """An index applying `idx` along axis `axis` of an n-dimensional array."""
    return (slice(None),) * axis + (idx,)


# ---- at least k dimensions ---------------------------------------------------------------------
def _atleast(xs, k, place):
    out = []
    for x in xs:
        shape = _shape(x)
        x = x if hasattr(x, "shape") else np.asarray(x, dtype=float)
        out.append(x if len(shape) >= k else reshape(x, place(shape)))
    return out[0] if len(out) == 1 else out


def atleast_1d(*xs):
    """Each input with at least 1 dimension (a scalar becomes shape (1,))."""
    return _atleast(xs, 1, lambda s: (1,))


def atleast_2d(*xs):
    """Each input with at least 2 dimensions: () -> (1, 1), (n,) -> (1, n)."""
    return _atleast(xs, 2, lambda s: (1,) * (2 - len(s)) + s)


def atleast_3d(*xs):
    """Each input with at least 3 dimensions: () -> (1, 1, 1), (n,) -> (1, n, 1),
    (m, n) -> (m, n, 1), as numpy."""
    return _atleast(xs, 3, lambda s: {0: (1, 1, 1), 1: (1,) + s + (1,), 2: s + (1,)}[len(s)])


# ---- stacking ----------------------------------------------------------------------------------
def _seq(xs, name):
    xs = list(xs)
    if not xs:
        raise ValueError(f"{name}: need at least one array")
    return xs


def vstack(xs):
    """Stack arrays vertically (along axis 0), 1-D arrays as rows."""
    return concatenate([atleast_2d(x) for x in _seq(xs, "vstack")], axis=0)


row_stack = vstack


def hstack(xs):
    """Stack arrays horizontally: along axis 0 for 1-D arrays, along axis 1 otherwise."""
    xs = [atleast_1d(x) for x in _seq(xs, "hstack")]
    return concatenate(xs, axis=0 if _ndim(xs[0]) == 1 else 1)


def dstack(xs):
    """Stack arrays along the third axis (after atleast_3d)."""
    return concatenate([atleast_3d(x) for x in _seq(xs, "dstack")], axis=2)


def column_stack(xs):
    """Stack 1-D arrays as columns of a 2-D array (2-D arrays are joined as they are)."""
    cols = []
    for x in _seq(xs, "column_stack"):
        n = _ndim(x)
        cols.append(reshape(x, (-1, 1)) if n < 2 else x)
    return concatenate(cols, axis=1)


def append(arr, values, axis=None):
    """arr with values appended: both flattened when axis is None, else joined along axis."""
    if axis is None:
        return concatenate([ravel(arr), ravel(values)])
    return concatenate([arr, values], axis=axis)


# ---- splitting ---------------------------------------------------------------------------------
def array_split(x, indices_or_sections, axis=0):
    """Split x along axis into sub-arrays: n nearly equal sections, or at the given indices."""
    n = _ndim(x)
    axis = _axis(axis, n, "array_split")
    size = _shape(x)[axis]
    if isinstance(indices_or_sections, (int, np.integer)):
        k = int(indices_or_sections)
        if k <= 0:
            raise ValueError(f"array_split: the number of sections must be > 0, got {k}")
        q, r = divmod(size, k)
        bounds = [0] + list(np.cumsum([q + 1] * r + [q] * (k - r)))
    else:
        bounds = [0] + [int(i) for i in indices_or_sections] + [size]
    return [getitem(x, _along(axis, n, slice(a, builtins.max(a, b))))
            for a, b in zip(bounds[:-1], bounds[1:])]


def split(x, indices_or_sections, axis=0):
    """Split x along axis into equal sections (ValueError if they cannot be) or at indices."""
    if isinstance(indices_or_sections, (int, np.integer)):
        size = _shape(x)[_axis(axis, _ndim(x), "split")]
        if indices_or_sections <= 0 or size % indices_or_sections:
            raise ValueError(f"split: an axis of length {size} does not divide into "
                             f"{indices_or_sections} equal sections (use array_split)")
    return array_split(x, indices_or_sections, axis)


def hsplit(x, indices_or_sections):
    """split along axis 1 (axis 0 for 1-D arrays)."""
    return split(x, indices_or_sections, axis=1 if _ndim(x) > 1 else 0)


def vsplit(x, indices_or_sections):
    """split along axis 0 (x must have at least 2 dimensions)."""
    if _ndim(x) < 2:
        raise ValueError("vsplit: needs an array of at least 2 dimensions")
    return split(x, indices_or_sections, axis=0)


def dsplit(x, indices_or_sections):
    """split along axis 2 (x must have at least 3 dimensions)."""
    if _ndim(x) < 3:
        raise ValueError("dsplit: needs an array of at least 3 dimensions")
    return split(x, indices_or_sections, axis=2)


# ---- flips and rotations -----------------------------------------------------------------------
def flipud(x):
    """x reversed along axis 0."""
    return flip(x, 0)


def fliplr(x):
    """x reversed along axis 1."""
    if _ndim(x) < 2:
        raise ValueError("fliplr: needs an array of at least 2 dimensions")
    return flip(x, 1)


def rot90(x, k=1, axes=(0, 1)):
    """x rotated by 90 degrees k times in the plane of `axes` (from the first towards the
    second), as numpy.rot90."""
    n = _ndim(x)
    a0, a1 = _axis(axes[0], n, "rot90"), _axis(axes[1], n, "rot90")
    if a0 == a1:
        raise ValueError("rot90: the two axes must differ")
    k %= 4
    if k == 0:
        return x
    if k == 2:
        return flip(flip(x, a0), a1)
    perm = list(range(n))
    perm[a0], perm[a1] = perm[a1], perm[a0]
    return transpose(flip(x, a1), perm) if k == 1 else flip(transpose(x, perm), a1)


# ---- repetition --------------------------------------------------------------------------------
def tile(x, reps):
    """x repeated reps[d] times along each axis d (numpy.tile): broadcast, then reshape."""
    reps = (int(reps),) if isinstance(reps, (int, np.integer)) else tuple(int(r) for r in reps)
    shape = _shape(x)
    d = builtins.max(len(reps), len(shape))
    shape = (1,) * (d - len(shape)) + tuple(shape)
    reps = (1,) * (d - len(reps)) + reps
    x = reshape(x, tuple(v for s in shape for v in (1, s)))
    x = broadcast_to(x, tuple(v for r, s in zip(reps, shape) for v in (r, s)))
    return reshape(x, tuple(r * s for r, s in zip(reps, shape)))


def repeat(x, repeats, axis=None):
    """Each element repeated (numpy.repeat): x flattened first when axis is None. As indexing,
    so its derivative sums over the copies."""
    if axis is None:
        x, axis = ravel(x), 0
    n = _ndim(x)
    axis = _axis(axis, n, "repeat")
    idx = np.repeat(np.arange(_shape(x)[axis]), np.asarray(getval(repeats)))
    return getitem(x, _along(axis, n, idx))


def roll(x, shift, axis=None):
    """x shifted cyclically by `shift` places along `axis` (flattened when axis is None)."""
    if axis is None:
        return reshape(roll(ravel(x), shift, 0), _shape(x))
    shifts = shift if isinstance(shift, (tuple, list)) else (shift,)
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    if len(axes) != len(shifts):
        shifts = np.broadcast_to(shifts, (len(axes),))
    n = _ndim(x)
    for s, a in zip(shifts, axes):
        a = _axis(a, n, "roll")
        size = _shape(x)[a]
        x = getitem(x, _along(a, n, (np.arange(size) - int(s)) % builtins.max(size, 1)))
    return x


def diff(x, n=1, axis=-1, prepend=None, append=None):
    """The n-th forward difference along axis: out[i] = x[i + 1] - x[i], n times."""
    nd = _ndim(x)
    axis = _axis(axis, nd, "diff")
    def edge(e):  # a scalar becomes a slab of length 1 along axis, as numpy
        if _ndim(e) > 0:
            return e
        shape = list(_shape(x))
        shape[axis] = 1
        return broadcast_to(e, tuple(shape))
    if prepend is not None or append is not None:
        parts = [edge(e) for e in (prepend,) if e is not None] + [x]
        x = concatenate(parts + [edge(e) for e in (append,) if e is not None], axis=axis)
    for _ in range(int(n)):
        x = (getitem(x, _along(axis, nd, slice(1, None)))
             - getitem(x, _along(axis, nd, slice(None, -1))))
    return x


# ---- padding -----------------------------------------------------------------------------------
def pad(x, pad_width, mode="constant", constant_values=0):
    """x padded by pad_width[d] = (before, after) along each axis d, as numpy.pad with mode
    'constant' (constant_values), 'edge', 'reflect', 'symmetric' or 'wrap'."""
    n = _ndim(x)
    width = np.broadcast_to(np.asarray(pad_width, dtype=int), (n, 2))
    if mode not in ("constant", "edge", "reflect", "symmetric", "wrap"):
        raise ValueError(f"pad: mode must be 'constant', 'edge', 'reflect', 'symmetric' or "
                         f"'wrap', got {mode!r}")
    values = np.broadcast_to(np.asarray(getval(constant_values), dtype=float), (n, 2)) \
        if mode == "constant" and not hasattr(constant_values, "_trace") else None
    for d in range(n):
        before, after = int(width[d, 0]), int(width[d, 1])
        if before == after == 0:
            continue
        if mode != "constant":  # numpy.pad of the positions gives the index to read
            idx = np.pad(np.arange(_shape(x)[d]), (before, after), mode=mode)
            x = getitem(x, _along(d, n, idx))
            continue
        parts = []
        for k, w in ((0, before), (None, 0), (1, after)):
            if k is None:
                parts.append(x)
            elif w:
                shape = list(_shape(x))
                shape[d] = w
                c = constant_values if values is None else values[d, k]
                parts.append(broadcast_to(c, tuple(shape)) if _ndim(c) == 0
                             else np.full(shape, c))
        x = concatenate(parts, axis=d)
    return x


# ---- diagonals and sorting ---------------------------------------------------------------------
def diag(v, k=0):
    """A 2-D array with v on its k-th diagonal (v 1-D), or the k-th diagonal of v (v 2-D)."""
    n = _ndim(v)
    if n == 2:
        from .linalg import diagonal
        return diagonal(v, k, 0, 1)
    if n != 1:
        raise ValueError(f"diag: needs a 1-D or 2-D array, got shape {_shape(v)}")
    from .shape import scatter_add
    m = _shape(v)[0]
    size = m + abs(int(k))
    rows = np.arange(m) + builtins.max(0, -k)
    return scatter_add(v, (rows, rows + k), (size, size))


def _argsort(x, axis):
    return np.argsort(x, axis=axis, kind="stable")


def argsort(x, axis=-1):
    """The indices that sort x along axis (stable), as a numpy integer array (under vmap, a box
    of each row's indices): no gradient."""
    n = _ndim(x)
    return value_op(_argsort, x, axis=_axis(axis, n, "argsort") - n if n else -1)


def _permute_fn(v, x, axis, inverse):
    """v reordered along axis as sorting x reorders it (inverse: put back), broadcast."""
    shape = np.broadcast_shapes(np.shape(v), np.shape(x))
    perm = np.argsort(np.broadcast_to(x, shape), axis=axis, kind="stable")
    v = np.broadcast_to(v, shape)
    if not inverse:
        return np.take_along_axis(v, perm, axis)
    out = np.empty(shape, dtype=v.dtype)
    np.put_along_axis(out, perm, v, axis)
    return out


# linear in v; x (its sort order) is a value without derivative (stop_gradient): its VJP and
# JVP are the inverse and the same permutation. Both map over leading axes (axis < 0).
_permute = primitive(
    "permute_sorted", _permute_fn,
    vjp=(lambda g, ans, v, x, axis, inverse: _permute(g, x, axis=axis, inverse=not inverse),
         None),
    jvp=(lambda t, ans, v, x, axis, inverse: _permute(t, x, axis=axis, inverse=inverse), None),
    batch=leading)
_sort = primitive(
    "sort", lambda x, axis: np.sort(x, axis=axis, kind="stable"),
    vjp=lambda g, ans, x, axis: _permute(g, stop_gradient(x), axis=axis, inverse=True),
    jvp=lambda t, ans, x, axis: _permute(t, stop_gradient(x), axis=axis, inverse=False),
    batch=leading)


def sort(x, axis=-1):
    """x sorted along axis (flattened when axis is None), stable; the gradient goes back to each
    element's place (ties keep their order). A primitive over a negative axis, so that it
    batches by leading axes under vmap."""
    if axis is None:
        x, axis = ravel(x), -1
    n = _ndim(x)
    if n == 0:
        return x
    x = x if hasattr(x, "shape") else np.asarray(x, dtype=float)
    return _sort(x, axis=_axis(axis, n, "sort") - n)


# ---- index tricks --------------------------------------------------------------------------------
class _Concat:
    """`ad.r_[a, b, c]` (join along axis 0, scalars as length 1) and `ad.c_[a, b]` (1-D arrays
    as columns, joined along the last axis), for traced values; no slice or string forms."""

    def __init__(self, name, columns):
        self.name, self.columns = name, columns

    def __getitem__(self, items):
        items = items if isinstance(items, tuple) else (items,)
        for i in items:
            if isinstance(i, (slice, str)):
                raise TypeError(f"ad.{self.name}[...] joins arrays only; slices and strings "
                                f"are not supported: use np.{self.name} on plain values")
        if not self.columns:
            return concatenate([atleast_1d(i) for i in items], axis=0)
        cols = [reshape(i, (-1, 1)) if _ndim(i) < 2 else i for i in items]
        return concatenate(cols, axis=-1)

    def __repr__(self):
        return f"ad.{self.name}"


r_ = _Concat("r_", columns=False)
c_ = _Concat("c_", columns=True)
