"""The data a model is bound to: lists become arrays, and a failure names the argument.

Data read from JSON arrive as (nested) lists; numpy would multiply them as Python sequences
(`can't multiply sequence by non-int`) or fail deep in a ufunc. `check_arguments` turns each
list argument into an array (integers stay integers, so they can index; anything with a
float becomes float64) and refuses, by name, lists that are not rectangular lists of numbers
`blame_argument` explains a model run that failed on its data: a string where numbers are
expected, or an inf or NaN, is named by its argument.
"""
import inspect

import numpy as np

__all__ = ["check_arguments", "blame_argument"]


def _names(fn, args, kwargs):
    """(name, value) of every argument, as the function's signature names them."""
    try:
        bound = inspect.signature(fn).bind_partial(*args, **kwargs).arguments
    except (TypeError, ValueError):
        bound = None
    if bound is None:
        return [(f"#{i}", a) for i, a in enumerate(args)] + list(kwargs.items())
    out = []
    for name, value in bound.items():
        kind = inspect.signature(fn).parameters[name].kind
        if kind is inspect.Parameter.VAR_POSITIONAL:
            out += [(f"{name}[{i}]", v) for i, v in enumerate(value)]
        elif kind is inspect.Parameter.VAR_KEYWORD:
            out += list(value.items())
        else:
            out.append((name, value))
    return out


def _as_array(model, name, value):
    try:
        a = np.asarray(value)
    except ValueError:
        a = None
    if a is None or a.dtype == object:
        raise TypeError(f"model {model!r}: argument {name!r} is a ragged or mixed list; "
                        "expected numbers (a number, an array or a rectangular nested list of "
                        "numbers)")
    if a.dtype.kind == "b":
        return a
    if a.dtype.kind in "iu":
        return a.astype(np.int64)
    if a.dtype.kind == "f":
        return a.astype(np.float64)
    kinds = sorted({type(v).__name__ for v in a.ravel().tolist()} - {"int", "float", "bool"})
    raise TypeError(f"model {model!r}: argument {name!r} holds {', '.join(kinds) or a.dtype} "
                    "values; expected numbers (a number, an array or a (nested) list of numbers)")


def _positional_names(fn, n):
    try:
        params = [p for p in inspect.signature(fn).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        params = []
    return [params[i].name if i < len(params) else f"#{i}" for i in range(n)]


def check_arguments(model, fn, args, kwargs):
    """(args, kwargs) with list arguments as numpy arrays; a TypeError naming the argument
    for a list that is not a rectangular list of numbers."""
    names = _positional_names(fn, len(args))
    args = [_as_array(model, n, a) if isinstance(a, list) else a for n, a in zip(names, args)]
    kwargs = {k: _as_array(model, k, v) if isinstance(v, list) else v
              for k, v in kwargs.items()}
    return tuple(args), kwargs


def blame_argument(model, fn, args, kwargs, error):
    """A clearer error for a model run that failed with `error` on its data, or None: the
    argument given as a string where numbers are used, or holding inf or NaN."""
    named = _names(fn, args, kwargs)
    if isinstance(error, TypeError):
        for name, value in named:
            if isinstance(value, str) or (isinstance(value, np.ndarray)
                                          and value.dtype.kind in "USO"):
                shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
                return TypeError(f"model {model!r}: argument {name!r} is {shown}, and the model "
                                 "computes with it: expected numbers (a number, an array or a "
                                 "(nested) list of numbers)")
    if isinstance(error, (ValueError, FloatingPointError)):
        for name, value in named:
            if isinstance(value, (np.ndarray, float)) and np.asarray(value).dtype.kind == "f" \
                    and not np.isfinite(value).all():
                a = np.asarray(value)
                bad = ~np.isfinite(a)
                first = tuple(int(i) for i in np.argwhere(bad)[0]) if a.ndim else ()
                where = f" (first at index {first[0] if len(first) == 1 else first})" \
                    if first else ""
                return ValueError(f"model {model!r}: argument {name!r} holds "
                                  f"{int(bad.sum())} non-finite value(s){where}, and the "
                                  f"model fails on them: {error}")
    return None
