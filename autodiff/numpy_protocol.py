"""numpy's override protocols for Tensor: `np.exp(t)`, `X @ t`, `np.sum(t)`, `np.stack([a, b])`.

A ufunc or array function with an autodiff namesake runs that namesake, so the gradient flows
(`np.exp(t)` is `ad.exp(t)`). Functions that return no differentiable value (comparisons,
`np.shape`, `np.argmax`, `np.isfinite`, rounding) run on the numpy values; under vmap the
elementwise ones run per row (`value_op`), np.shape/ndim/size give one row's, and the rest
(argmax, unique, ...) are refused rather than read the whole stack. On constant Tensors
every other function also runs on the values, as numpy would on arrays. On a Tensor being
differentiated anything else raises a TypeError naming the function, rather than computing a
value whose derivative would be silently lost. `np.array([a, b])`, `np.r_` and `np.c_` cannot
be intercepted (numpy converts each item with `__array__`, which refuses): use `ad.stack`,
`ad.r_`, `ad.c_`.
"""
import inspect

import numpy as np

from . import ops
from .tensor import Tensor
from .values import _batched as _batched_args
from .values import value_op

_VALUE_UFUNCS = {  # no derivative (0 almost everywhere) or a boolean result: numpy on values
    "less", "less_equal", "greater", "greater_equal", "equal", "not_equal", "isfinite",
    "isnan", "isinf", "signbit", "logical_and", "logical_or", "logical_not", "logical_xor",
    "floor", "ceil", "trunc", "rint", "sign", "floor_divide", "isnat", "spacing"}
_VALUE_FUNCS = {
    "shape", "ndim", "size", "result_type", "all", "any", "allclose", "isclose", "array_equal",
    "array_equiv", "argmax", "argmin", "argsort", "argwhere", "nonzero", "flatnonzero",
    "count_nonzero", "iscomplexobj", "isrealobj", "round", "around", "searchsorted", "unique",
    "may_share_memory", "shares_memory", "array_repr", "array_str", "can_cast", "min_scalar_type",
    "sort_complex", "digitize", "histogram", "bincount", "isin", "copyto", "array2string"}
_ROW_FUNCS = {"shape", "ndim", "size"}  # the Tensor's own: one row's under vmap
# value functions that may see the whole stack under vmap: a check over every row is a check
# over each (np.all(x > 0) in a validation), the rest read no values
_STACK_OK = {"shape", "ndim", "size", "result_type", "all", "any", "iscomplexobj",
             "isrealobj", "array_repr", "array_str", "array2string", "may_share_memory",
             "shares_memory", "can_cast", "min_scalar_type"}
_PER_ROW = {"all": np.all, "any": np.any}  # with an axis: per row under vmap
_IGNORED = {"optimize", "kind", "order", "casting", "subok", "stable", "where", "initial"}
_UFUNC_NAMES = {"true_divide": "divide", "positive": None, "conjugate": None, "conj": None}


def _batched(x):
    if isinstance(x, Tensor):
        return _batched_args((x,))
    if isinstance(x, (list, tuple)):
        return any(_batched(i) for i in x)
    if isinstance(x, dict):
        return any(_batched(i) for i in x.values())
    return False


def _whole_stack(what):
    return TypeError(f"{what} on a value under vmap would read the whole stack of rows, not "
                     f"one row: write it with ad.* ops (comparisons, ad.where, ad.sign), or loop "
                     f"over the rows")


def _traced(x):
    if isinstance(x, Tensor):
        return x._trace is not None
    if isinstance(x, (list, tuple)):
        return any(_traced(i) for i in x)
    if isinstance(x, dict):
        return any(_traced(i) for i in x.values())
    return False


def _values(x):
    if isinstance(x, Tensor):
        return x.value
    if isinstance(x, (list, tuple)):
        return type(x)(_values(i) for i in x)
    if isinstance(x, dict):
        return {k: _values(v) for k, v in x.items()}
    return x


def _lost(name, what="function"):
    return TypeError(f"np.{name} on a Tensor being differentiated would lose its gradient, and "
                     f"autodiff has no {what} of that name: write it with ad.* ops, or apply "
                     f"it to .detach().value on purpose")


def array_ufunc(ufunc, method, inputs, kwargs):
    name = ufunc.__name__
    traced = _traced(inputs)
    if kwargs.get("out") is not None:
        raise TypeError(f"np.{name}(..., out=...) on a Tensor: Tensors are not written in "
                        f"place; use the returned value of ad.{name}")
    if name in _VALUE_UFUNCS and method == "__call__" and not kwargs and _batched(inputs):
        return value_op(ufunc, *inputs)  # under vmap: each row's own values
    if name in _VALUE_UFUNCS or not (traced or method == "__call__"):
        if _batched(inputs):
            raise _whole_stack(f"np.{name}.{method}")
        return getattr(ufunc, method)(*_values(inputs), **_values(kwargs))
    if method != "__call__":
        hint = {"add": "ad.sum or ad.cumsum", "multiply": "ad.prod", "maximum": "ad.max",
                "minimum": "ad.min"}.get(name, "the ad.* reduction")
        raise TypeError(f"np.{name}.{method} on a Tensor being differentiated would lose its "
                        f"gradient: use {hint}")
    name = _UFUNC_NAMES.get(name, name)
    if name is None:  # positive, conjugate: the identity on real numbers
        return inputs[0]
    fn = getattr(ops, name, None)
    if fn is None:
        if traced:
            raise _lost(ufunc.__name__, "ufunc")
        return ufunc(*_values(inputs), **_values(kwargs))
    return fn(*inputs)


# the arithmetic ufuncs, straight to their primitives (Tensor.__array_ufunc__'s fast path)
UFUNCS = {np.add: ops.add, np.subtract: ops.subtract, np.multiply: ops.multiply,
          np.divide: ops.divide, np.power: ops.power, np.matmul: ops.matmul,
          np.negative: ops.negative, np.exp: ops.exp, np.log: ops.log}

_signatures = {}


def _signature(func):
    if func not in _signatures:
        try:
            _signatures[func] = inspect.signature(func)
        except (TypeError, ValueError):  # a C function without one: arguments pass as given
            _signatures[func] = None
    return _signatures[func]


def array_function(func, args, kwargs):
    name = func.__name__
    if name in _ROW_FUNCS and len(args) == 1 and not kwargs and isinstance(args[0], Tensor):
        return getattr(args[0], name)  # one row's under vmap
    if name in _PER_ROW and args and _batched(args[0]):  # np.all(mask, axis=-1) per row
        axis = kwargs.get("axis", args[1] if len(args) > 1 else None)
        if axis is not None and len(args) <= 2 and set(kwargs) <= {"axis", "keepdims"}:
            n = args[0].ndim if isinstance(args[0], Tensor) else np.ndim(args[0])
            axes = tuple(int(a) % n - n for a in (axis if isinstance(axis, tuple) else (axis,)))
            return value_op(_PER_ROW[name], args[0], axis=axes,
                            keepdims=kwargs.get("keepdims", False))
    if name in _VALUE_FUNCS or not _traced((args, kwargs)):
        if name not in _STACK_OK and _batched((args, kwargs)):
            raise _whole_stack(f"np.{name}")
        return func(*_values(args), **_values(kwargs))
    fn = getattr(ops, name, None)
    if fn is None:
        raise _lost(name)
    sig = _signature(func)
    if sig is None:
        kwargs = dict(kwargs)
        if kwargs.pop("out", None) is not None:
            raise TypeError(f"np.{name}(..., out=...) on a Tensor: use the returned value")
        return fn(*args, **kwargs)
    arguments = dict(sig.bind(*args, **kwargs).arguments)
    if arguments.pop("out", None) is not None:
        raise TypeError(f"np.{name}(..., out=...) on a Tensor: Tensors are not written in "
                        f"place; use the returned value of ad.{name}")
    dtype = arguments.pop("dtype", None)
    for k in _IGNORED & set(arguments):
        del arguments[k]
    positional = []
    for p in sig.parameters.values():
        if p.name not in arguments:
            if p.kind is p.VAR_KEYWORD:
                continue
            break
        if p.kind is p.VAR_POSITIONAL:
            positional.extend(arguments.pop(p.name))
            break
        if p.kind is p.KEYWORD_ONLY:
            break
        positional.append(arguments.pop(p.name))
    extra = {}
    for k in list(arguments):
        if sig.parameters[k].kind is inspect.Parameter.VAR_KEYWORD:
            extra.update(arguments.pop(k))
    try:
        out = fn(*positional, **arguments, **extra)
    except TypeError as e:
        raise TypeError(f"np.{name} on a Tensor runs ad.{name}, which does not take these "
                        f"arguments ({e}); call ad.{name} directly") from e
    return out if dtype is None else ops.astype(out, dtype)


