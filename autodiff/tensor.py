"""The Tensor: a numpy array plus what differentiation needs (the trace that records it, the
node that made it, its gradient), numpy-style operators and `backward()`; and `Node`, the
paper's scalar API on the same class.

How operations are recorded and differentiated (primitives, traces, the backward pass) is in
core.py. Imperative use (`Tensor(x, requires_grad=True)`, `Node(2.0)`, `.backward()`) records on
the permanent base trace, level 0; `grad`, `jvp` and friends open traces above it.
"""
import itertools
import math
import operator as _op

import numpy as np

__all__ = ["Tensor", "Node"]


class Tensor:
    """A numpy array that records the operations applied to it, for differentiation.

    `Tensor(value, requires_grad=False, dtype=None)`: Python numbers and lists become float64;
    numpy arrays keep their dtype (float32 stays float32). Only floating tensors may require grad.

    >>> x = Tensor(3.0, requires_grad=True)
    >>> y = x * x + 2 * x
    >>> y.backward(); float(x.grad)
    8.0
    """

    __slots__ = ("_v", "_trace", "_node", "_id", "_tangent", "grad", "__weakref__")
    __array_priority__ = 1000.0
    __hash__ = object.__hash__  # __eq__ is elementwise

    def __init__(self, value, requires_grad=False, dtype=None):
        if isinstance(value, Tensor):
            value = value.value
        if dtype is not None:
            value = np.asarray(value, dtype=dtype)
        elif isinstance(value, np.ndarray) or isinstance(value, np.generic):
            value = np.asarray(value)
        else:
            value = np.asarray(value, dtype=np.float64)
        self._v = value
        self._trace = None
        self._node = None
        self._id = 0
        self._tangent = None
        self.grad = None
        if requires_grad:
            self.requires_grad = True

    # -- state --------------------------------------------------------------------------------
    @property
    def value(self):
        """The numpy array inside (through any number of nested traces)."""
        v = self._v
        while isinstance(v, Tensor):
            v = v._v
        return v

    data = value

    @property
    def requires_grad(self):
        """Whether operations on this Tensor are recorded for reverse mode (settable on leaves)."""
        return self._trace is not None and self._trace.reverse

    @requires_grad.setter
    def requires_grad(self, flag):
        if not flag:
            if self._node is not None:
                raise ValueError("requires_grad=False on a non-leaf Tensor: use .detach()")
            self._trace = None
            return
        if self._trace is not None:
            return
        _check_float(self._v, "requires_grad=True")
        self._trace = BASE
        self._id = next(_ids)

    @property
    def is_leaf(self):
        """True for a Tensor made by the user rather than by an operation."""
        return self._node is None

    @property
    def shape(self):
        """The shape of the value, as numpy's."""
        return self._v.shape

    @property
    def dtype(self):
        """The numpy dtype of the value."""
        return self._v.dtype

    @property
    def ndim(self):
        """The number of axes."""
        return self._v.ndim

    @property
    def size(self):
        """The number of elements."""
        return self._v.size

    @property
    def T(self):
        """The transpose (axes reversed), differentiable."""
        return transpose(self)

    def __len__(self):
        if self._v.ndim == 0:
            raise TypeError("len() of a 0-d Tensor")
        return self._v.shape[0]

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __float__(self):
        return float(self.value)

    def __int__(self):
        return int(self.value)

    def __bool__(self):
        return bool(self.value)

    def __array__(self, dtype=None, copy=None):
        if self._trace is not None:
            raise TypeError("a Tensor that is being differentiated cannot become a numpy array "
                            "(the derivative would be lost): build arrays of traced values with "
                            "ad.stack([a, b]), ad.concatenate, ad.r_[a, b] or ad.c_[a, b] (not "
                            "np.array, np.r_, np.c_), use the autodiff function of the same name "
                            "instead of numpy's, or .detach().value on purpose")
        return np.asarray(self._v, dtype=dtype)

    # numpy's protocols: np.exp(t), X @ t, np.sum(t), np.stack([a, b]) reach the autodiff
    # functions of the same names (numpy_protocol.py); what has none is refused by name
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if method == "__call__" and not kwargs:  # `X * t` with X an array: the hot case
            fn = _protocol.UFUNCS.get(ufunc)
            if fn is not None:
                return fn(*inputs)
        return _protocol.array_ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        return _protocol.array_function(func, args, kwargs)

    def __repr__(self):
        body = np.array2string(np.asarray(self.value), separator=", ", prefix="Tensor(")
        extra = ""
        if self._trace is not None:
            extra = f", op={self._node[0].name}" if self._node else ", requires_grad=True"
        if self.dtype != np.float64:
            extra += f", dtype={self.dtype}"
        return f"Tensor({body}{extra})"

    def detach(self):
        """A constant Tensor with the same value, cut from the graph."""
        return Tensor(self.value)

    def zero_grad(self):
        """Forget the accumulated gradient: `.grad` becomes None."""
        self.grad = None

    def numpy(self):
        """The value as a numpy array (detached: no gradient flows through it)."""
        return self.detach().value

    def item(self):
        """The value of a one-element Tensor as a Python number."""
        return self.value.item()

    # -- backward -----------------------------------------------------------------------------
    def backward(self, seed=None):
        """Accumulate d(self)/d(leaf) * seed into `.grad` of every leaf that requires grad.

        `seed` (the cotangent) defaults to 1 for a scalar and is required otherwise; gradients
        add up across calls (call `zero_grad` to reset), as in PyTorch and the paper.
        """
        tr = self._trace
        if tr is None or not tr.reverse:
            raise ValueError("backward() on a Tensor that does not require grad: no input of its "
                             "graph was created with requires_grad=True")
        seed = _make_seed(self, seed)
        for leaf, g in backward_pass([(self, seed)]):
            if isinstance(g, np.ndarray) or isinstance(g, np.generic):
                g = np.asarray(g, dtype=leaf._v.dtype) if g.dtype != leaf._v.dtype else g
            leaf.grad = g if leaf.grad is None else leaf.grad + g

    # -- operators ----------------------------------------------------------------------------
    def __add__(self, other): return add(self, other)
    def __radd__(self, other): return add(other, self)
    def __sub__(self, other): return subtract(self, other)
    def __rsub__(self, other): return subtract(other, self)
    def __mul__(self, other): return multiply(self, other)
    def __rmul__(self, other): return multiply(other, self)
    def __truediv__(self, other): return divide(self, other)
    def __rtruediv__(self, other): return divide(other, self)
    def __pow__(self, other): return power(self, other)
    def __rpow__(self, other): return power(other, self)
    def __matmul__(self, other): return matmul(self, other)
    def __rmatmul__(self, other): return matmul(other, self)
    def __mod__(self, other): return mod(self, other)
    def __rmod__(self, other): return mod(other, self)
    def __neg__(self): return negative(self)
    def __pos__(self): return self
    def __abs__(self): return absolute(self)
    def __getitem__(self, idx): return getitem(self, idx)

    # comparisons carry no gradient: they return numpy boolean arrays (under vmap, a boolean
    # box of the batch traces: each row compares its own values; see `value_op`)
    def __lt__(self, other): return _compare(_op.lt, self, other)
    def __le__(self, other): return _compare(_op.le, self, other)
    def __gt__(self, other): return _compare(_op.gt, self, other)
    def __ge__(self, other): return _compare(_op.ge, self, other)
    def __eq__(self, other): return _compare(_op.eq, self, other)
    def __ne__(self, other): return _compare(_op.ne, self, other)
    def __invert__(self): return value_op(np.logical_not, self)
    def __and__(self, other): return value_op(np.logical_and, self, other)
    def __rand__(self, other): return value_op(np.logical_and, other, self)
    def __or__(self, other): return value_op(np.logical_or, self, other)
    def __ror__(self, other): return value_op(np.logical_or, other, self)

    def all(self, axis=None):
        """numpy's all on the value (no gradient); under vmap over every row's values unless
        an axis is given (then per row, a boolean box)."""
        return _protocol.array_function(np.all, (self,), {} if axis is None else {"axis": axis})

    def any(self, axis=None):
        """numpy's any on the value (no gradient), as `all`."""
        return _protocol.array_function(np.any, (self,), {} if axis is None else {"axis": axis})

    # numpy-style methods: the autodiff functions of the same names
    # (dtype=None and out=None are accepted as numpy's reductions pass them on: np.sum(t))
    def sum(self, axis=None, dtype=None, out=None, keepdims=False):
        return sum(_no_out(self, dtype, out, "sum"), axis=axis, keepdims=keepdims)

    def mean(self, axis=None, dtype=None, out=None, keepdims=False):
        return mean(_no_out(self, dtype, out, "mean"), axis=axis, keepdims=keepdims)

    def max(self, axis=None, out=None, keepdims=False):
        return max(_no_out(self, None, out, "max"), axis=axis, keepdims=keepdims)

    def min(self, axis=None, out=None, keepdims=False):
        return min(_no_out(self, None, out, "min"), axis=axis, keepdims=keepdims)

    def prod(self, axis=None, dtype=None, out=None, keepdims=False):
        return prod(_no_out(self, dtype, out, "prod"), axis=axis, keepdims=keepdims)

    def var(self, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
        return var(_no_out(self, dtype, out, "var"), axis=axis, keepdims=keepdims, ddof=ddof)

    def std(self, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
        return std(_no_out(self, dtype, out, "std"), axis=axis, keepdims=keepdims, ddof=ddof)

    def ravel(self): return reshape(self, (-1,))
    def flatten(self): return reshape(self, (-1,))
    def squeeze(self, axis=None): return squeeze(self, axis)
    def reshape(self, *shape):
        return reshape(self, shape[0] if len(shape) == 1 else shape)
    def transpose(self, *axes):
        return transpose(self, (axes[0] if len(axes) == 1 else axes) if axes else None)
    def exp(self): return exp(self)
    def log(self): return log(self)
    def dot(self, other): return dot(self, other)
    def astype(self, dtype): return astype(self, dtype)


def Node(value, requires_grad=True):
    """The paper's scalar API: a float64 Tensor that requires grad.

    >>> w, x, y, z = Node(2), Node(3), Node(4), Node(2)
    >>> a = (x + y) ** z - w
    >>> a.backward(); float(x.grad), float(w.grad)
    (14.0, -1.0)
    """
    return Tensor(np.asarray(getval(value), dtype=np.float64), requires_grad=requires_grad)


def getval(x):
    """The numpy value of x, through every box of every active transformation; x itself when it
    is not a Tensor (a numpy array or a Python number), so model code may call it on either.
    Like `.detach()` the result carries no gradient: `ad.getval(mu) > 0` to branch on a value."""
    while isinstance(x, Tensor):
        x = x._v
    return x


def _check_float(v, what):
    dt = np.result_type(v)
    if not np.issubdtype(dt, np.floating):
        raise TypeError(f"{what} needs a floating-point value; got dtype {dt} "
                        f"(convert with .astype(float) first)")


def _no_out(x, dtype, out, name):
    """x for a reduction method called with numpy's dtype/out arguments (only None allowed)."""
    if out is not None:
        raise TypeError(f"Tensor.{name}: out= is not supported (Tensors are not written in "
                        f"place); use the returned value")
    return x if dtype is None else astype(x, dtype)


_ids = itertools.count(1)  # creation order: a valid topological order of every graph


def _new(v, trace, node=None, tangent=None):
    t = Tensor.__new__(Tensor)
    t._v = v
    t._trace = trace
    t._node = node
    t._tangent = tangent
    t.grad = None
    t._id = next(_ids)
    return t


def _make_seed(out, seed):
    shape = out.shape
    if seed is None:
        if math.prod(shape) != 1:
            raise ValueError(f"backward() on a Tensor of shape {shape} needs a seed: the cotangent "
                             f"of the same shape (it defaults to 1 only for a scalar)")
        return np.ones(shape, dtype=out.dtype)
    seed = getval(seed) if not isinstance(seed, Tensor) or seed._trace is None else seed
    if np.shape(seed) != shape:
        if math.prod(shape) == 1 and np.size(seed) == 1:
            return np.reshape(np.asarray(seed, dtype=out.dtype), shape)
        raise ValueError(f"backward(): seed has shape {np.shape(seed)} but the Tensor has "
                         f"shape {shape}")
    if not isinstance(seed, Tensor):
        seed = np.asarray(seed, dtype=out.dtype)
        if not np.all(np.isfinite(seed)):
            raise ValueError("backward(): the seed contains NaN or inf")
    return seed


# the machinery and the operators resolve to modules that build on this one
from .core import (BASE, Each, ForwardTrace, Primitive, ReverseTrace, backward_pass,  # noqa: E402,F401
                   enable_grad, is_grad_enabled, new_trace, no_grad, primitive, sum_to)
from .ops import (absolute, add, astype, divide, dot, exp, getitem, log,  # noqa: E402
                  matmul, max, mean, min, multiply, negative, power, prod, reshape, subtract, sum,
                  transpose)
from .ops import mod, squeeze, std, var  # noqa: E402
from .values import _compare, value_op  # noqa: E402,F401
from . import numpy_protocol as _protocol  # noqa: E402
