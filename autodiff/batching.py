"""Batching: `vmap(f)` runs f once on a stack of inputs, as if on each row in turn.

A `BatchTrace` box (a `Row`) holds a value with one more axis than f's Python sees: the batch
axis, kept in front. Its `shape` is the shape of one row, so f is written for one row. A
primitive applied to boxes calls its batching rule (`Primitive.batch`), the third rule beside
its VJP and JVP: `rule(prim, args, batched, **params)` gets the arguments one level down, the
batched ones with their batch axis in front (`batched[i]`), and returns the output with its
batch axis in front, written with engine ops so that it can be differentiated and batched
again. Two rules serve most primitives:

- `leading`: the primitive maps over leading axes (elementwise ones, reductions over negative
  axes, numpy.linalg's stacks of matrices): pad each batched argument after its batch axis to
  the common rank, then call the primitive itself. Elementwise primitives get it for free.
- `from_jvp`: a unary primitive linear in its argument (reshape, transpose, indexing): its JVP
  rule already takes a leading batch axis of tangents, so it batches values as well.

Adding a primitive: `batch=leading` or `batch=from_jvp` where one of them fits (nothing for an
elementwise one), else a rule of a few lines (see `matmul`, `einsum`, `concatenate`).

Values without derivative (masks, signs, ties, sort orders) are read per row: `x > 0` on a
box is a boolean box of the batch traces, and `value_op(fn, *args)` runs any such numpy
function on each row's values (rules read values through it, or through `stop_gradient`,
which keeps the batch boxes). `getval(x)` is the whole stack, as with JAX's tracers; a Python
branch on a value (`if x > 0`, `float(x)`) raises a TypeError under vmap. The compiled tape
(compile.py) records such branches at one point instead.
"""
import math

import numpy as np

from .core import from_jvp, new_trace
from .ops import moveaxis
from .ops.shape import _shape, align, batch_size, leading, unbatched_to
from .tensor import Tensor, _new

__all__ = ["vmap", "BatchTrace", "leading", "from_jvp", "align", "batch_size", "unbatched_to"]


class Row(Tensor):
    """A box of a BatchTrace: it holds a stack of values, and the function sees one row."""

    __slots__ = ()

    @property
    def shape(self):
        """The shape of one row."""
        return self._v.shape[1:]

    @property
    def ndim(self):
        """The number of axes of one row."""
        return self._v.ndim - 1

    @property
    def size(self):
        """The number of elements of one row."""
        return math.prod(self._v.shape[1:])

    def __len__(self):
        if self._v.ndim == 1:
            raise TypeError("len() of a 0-d Tensor")
        return self._v.shape[1]

    def __float__(self):
        raise TypeError("float() of a value under vmap: each row has its own; keep it a "
                        "Tensor (ad.where for a branch)")

    __int__ = __float__

    def item(self):
        """Refused: under vmap each row has its own value."""
        raise TypeError("item() of a value under vmap: each row has its own; keep it a Tensor")

    def __bool__(self):
        raise TypeError("a Python branch on a value (`if x > 0`, bool(x)) under vmap: each row "
                        "may go its own way, so vmap cannot run it; write the branch with "
                        "ad.where(x > 0, a, b), or loop over the rows")


def _box(v, trace):
    t = _new(v, trace)
    t.__class__ = Row
    return t


class BatchTrace:
    """Carries a stack of `size` values along a leading axis: one pass for all of them."""

    __slots__ = ("level", "size")
    reverse = False
    batched = True

    def __init__(self, level, size):
        self.level = level
        self.size = size

    def __repr__(self):
        return f"<batch trace {self.level}, size {self.size}>"

    def box(self, v):
        """v (a stack of rows, batch axis in front) as a box of this trace."""
        return _box(v, self)

    def apply(self, prim, args, params):
        vals = []
        batched = []
        for a in args:
            if isinstance(a, Tensor):
                if a._trace is self:
                    batched.append(True)
                    a = a._v
                else:
                    batched.append(False)
                    if a._trace is None:
                        a = a._v
            else:
                batched.append(False)
            vals.append(a)
        rule = prim.batch or prim.batch_rule()
        return _box(rule(prim, vals, tuple(batched), **params), self)


# ---- vmap ----------------------------------------------------------------------------------------
def _axes(spec, n, what):
    """in_axes / out_axes: one int or None for all, or a tuple with one entry per item."""
    if spec is None or isinstance(spec, int):
        return [spec] * n
    spec = tuple(spec)
    if len(spec) != n:
        raise ValueError(f"vmap: {what} has {len(spec)} entries for {n} items")
    for a in spec:
        if a is not None and not isinstance(a, int):
            raise TypeError(f"vmap: each entry of {what} must be an int or None, got {a!r}")
    return list(spec)


def vmap(f, in_axes=0, out_axes=0):
    """f mapped over an axis of its inputs: vmap(f)(X)[i] = f(X[i]), in one pass.

    `in_axes`: for each positional argument, the axis to map over (None: not mapped, passed
    whole to every row); one int or None applies to all. Arguments may be pytrees (each leaf
    mapped over the same axis). `out_axes`: where the batch axis goes in each output (an int
    for all, or one per item of a tuple output). f sees the shapes of one row. It composes
    with grad, jvp, hessian and itself in any order (JAX's semantics).

    >>> import autodiff as ad
    >>> vmap(lambda x: ad.sum(x * x))(np.arange(6.0).reshape(3, 2))
    array([ 1., 13., 41.])
    >>> vmap(ad.grad(lambda x: ad.sum(x ** 3)))(np.ones((2, 2)))
    array([[3., 3.],
           [3., 3.]])
    """
    from .functional import tree_flatten, tree_unflatten  # noqa: PLC0415 -- functional imports ops

    def batched(*args):
        axes = _axes(in_axes, len(args), "in_axes")
        size, flat = None, []
        for i, (arg, ax) in enumerate(zip(args, axes)):
            leaves, tdef = tree_flatten(arg)
            if ax is not None:
                for leaf in leaves:
                    s = _shape(leaf)
                    if not -len(s) <= ax < len(s):
                        raise ValueError(f"vmap: in_axes {ax} for argument {i} of shape {s}")
                    if size is None:
                        size = s[ax]
                    elif s[ax] != size:
                        raise ValueError(f"vmap: argument {i} has {s[ax]} rows along axis "
                                         f"{ax}, another argument {size}")
            flat.append((leaves, tdef, ax))
        if size is None:
            raise ValueError("vmap: no argument is mapped (every in_axes is None)")
        with new_trace(BatchTrace, size) as tr:
            new = []
            for leaves, tdef, ax in flat:
                if ax is not None:
                    leaves = [_box(_lift(leaf, ax), tr) for leaf in leaves]
                new.append(tree_unflatten(tdef, leaves))
            out = f(*new)
        leaves, tdef = tree_flatten(out)
        top = isinstance(out, tuple)
        oax = _axes(out_axes, len(out) if top else 1, "out_axes")
        if top:
            per = [oax[k] for k, o in enumerate(out) for _ in tree_flatten(o)[0]]
        else:
            per = oax * len(leaves)
        return tree_unflatten(tdef, [_lower(o, tr, size, ax) for o, ax in zip(leaves, per)])
    batched.__name__ = f"vmap({getattr(f, '__name__', 'f')})"
    return batched


def _lift(x, ax):
    """An argument leaf with its mapped axis moved to the front (engine ops: it may be a box)."""
    if not isinstance(x, Tensor):
        x = np.asarray(x)
    elif x._trace is None:
        x = x._v
    return moveaxis(x, ax, 0) if ax % max(len(_shape(x)), 1) else x


def _lower(o, tr, size, ax):
    """An output leaf one level down, its batch axis at `ax` (repeated if it was unbatched)."""
    if isinstance(o, Tensor) and o._trace is tr:
        v = o._v
    else:
        if isinstance(o, Tensor) and o._trace is None:
            o = o._v
        if ax is None:
            return o
        v = unbatched_to(o if isinstance(o, Tensor) else np.asarray(o), size)
    if ax is None:
        raise ValueError("vmap: out_axes None for an output that depends on a mapped input")
    if ax != 0:
        v = moveaxis(v, 0, ax)
    return v
