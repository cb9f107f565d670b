"""Values without derivative, read per row under vmap: shapes, masks, signs, sort orders.

`getval(x)` is the numpy value through every box: under vmap it is the whole stack of rows, so
a mask computed from it (`getval(x) > 0`) pairs the wrong rows with the wrong values. The
functions here keep the batch traces' boxes (and drop the differentiating ones): outside vmap
they cost a walk down the boxes and return numpy, as before; under vmap they return a box of
the batch traces whose rows are each row's own. Comparison operators on Tensors go through
`value_op`, so `ad.where(x > 0, a, b)` is right under vmap.
"""
import math

import numpy as np

from .core import Primitive
from .tensor import Tensor, getval

__all__ = ["shape_of", "stop_gradient", "value_op"]


def shape_of(x):
    """x's shape: a Tensor's own (one row's under vmap, where numpy's would be the stack's),
    numpy's for anything else."""
    return x.shape if isinstance(x, Tensor) else np.shape(x)


def _batch_traces(x):
    """The batch traces (vmap) that box x, outermost box first; empty outside vmap."""
    out = []
    while isinstance(x, Tensor):
        tr = x._trace
        if tr is not None and tr.batched:
            out.append(tr)
        x = x._v
    return out


def stop_gradient(x):
    """x's value, carrying no derivative: a numpy array outside vmap (`np.asarray(getval(x))`);
    under vmap the value still boxed by each batch trace, so that the function sees its own
    row (getval would give the whole stack). Masks read from values start here:
    `ad.where(ad.stop_gradient(x) > 0, a, b)` is right under vmap, and as fast as numpy
    outside it."""
    traces = _batch_traces(x)
    v = getval(x)
    if not traces:
        return np.asarray(v)
    for tr in reversed(traces):
        v = tr.box(v)
    return v


def _batched(args):
    for a in args:
        while isinstance(a, Tensor):
            tr = a._trace
            if tr is not None and tr.batched:
                return True
            a = a._v
    return False


def _compare(op, x, y):
    """op(x, y) on values: value_op's fast path for the comparison operators (one walk)."""
    a = x
    while isinstance(a, Tensor):
        tr = a._trace
        if tr is not None and tr.batched:
            return value_op(op, x, y)
        a = a._v
    b = y
    while isinstance(b, Tensor):
        tr = b._trace
        if tr is not None and tr.batched:
            return value_op(op, x, y)
        b = b._v
    return op(a, b)


_value_prims = {}


def value_op(fn, *args, **params):
    """fn applied to the values of args, with no derivative: a numpy function elementwise (or
    over trailing axes of a single argument), such as a comparison, a mask or a sign.

    Outside vmap it is `fn(*map(getval, args))` (numpy out); under vmap it runs per row, and its
    result is a box of the batch traces (a boolean one for a comparison) that `where`,
    arithmetic and further comparisons understand.
    """
    if not _batched(args):
        return fn(*[getval(a) for a in args], **params)
    prim = _value_prims.get(fn)
    if prim is None:
        prim = Primitive(getattr(fn, "__name__", "value_op"), fn, elementwise=True)
        if not hasattr(fn, "__self__") or isinstance(fn.__self__, type(math)):
            _value_prims[fn] = prim  # functions and ufuncs; a bound method is not kept
    return prim(*[stop_gradient(a) for a in args], **params)
