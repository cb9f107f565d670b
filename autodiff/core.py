"""Primitives, traces and the backward pass: the machinery under `Tensor`.

A *primitive* is a numpy function with one derivative rule per argument: a VJP rule for reverse
mode and a JVP rule for forward mode, both written with engine ops so that they can be
differentiated again.

Differentiation is organised in *traces* (autograd's and JAX's design): each active
transformation has a level; a traced Tensor is a box around a value of the level below (a numpy
array at the bottom). A primitive applied to boxes unboxes the top level only, applies itself to
what is inside (which may record on a lower level), and boxes the answer again:

- `ReverseTrace` records a node (primitive, unboxed inputs, parent boxes, params) per
  application: the Wengert list. `backward_pass` visits each node once, users before inputs.
- `ForwardTrace` carries (value, tangent) pairs: one pass, nothing recorded. The tangent has a
  leading batch axis of size B, so that B directional derivatives travel in one pass (vector
  forward mode); `jvp` uses B = 1, `jacfwd` and `hessian` B = the input size.
- `BatchTrace` (batching.py) carries a stack of values along a leading axis: `vmap`.
"""
from heapq import heapify, heappop, heappush

import numpy as np

from .tensor import Tensor, _ids, _new, getval

_alloc = object.__new__
_REAL = {np.dtype(np.float64), np.dtype(np.float32)}  # the common dtypes: no complex check

# ---------------------------------------------------------------------------------------------
# grad mode
_grad_enabled = [True]


class no_grad:
    """Context manager (and decorator) in which operations are not recorded."""

    def __enter__(self):
        self._prev = _grad_enabled[0]
        _grad_enabled[0] = False

    def __exit__(self, *exc):
        _grad_enabled[0] = self._prev

    def __call__(self, fn):
        def wrapper(*args, **kwargs):
            with self.__class__():
                return fn(*args, **kwargs)
        wrapper.__name__, wrapper.__doc__ = fn.__name__, fn.__doc__
        return wrapper


class enable_grad(no_grad):
    """Context manager that turns recording back on inside `no_grad`."""

    def __enter__(self):
        self._prev = _grad_enabled[0]
        _grad_enabled[0] = True


def is_grad_enabled():
    """Whether operations on Tensors are being recorded (False inside `no_grad`)."""
    return _grad_enabled[0]


# ---------------------------------------------------------------------------------------------
# primitives
class Primitive:
    """A numpy function with a derivative rule per positional argument.

    `vjp[i](g, ans, *args, **params)` returns the cotangent of argument i given the output's
    cotangent g (any shape that broadcasts to argument i: the engine sums it back).
    `jvp[i](t, ans, *args, **params)` returns the output's tangent given argument i's tangent t,
    which has a leading batch axis: t.shape == (B,) + shape(args[i]); for an `elementwise`
    primitive t is first reshaped to (B,) + (1,)*(ans.ndim - arg.ndim) + arg.shape, so that
    right-aligned broadcasting against the other arguments just works.
    Keyword `params` (axis, shape, index...) are never differentiated.
    `batch(prim, args, batched, **params)` is the batching rule (`vmap`): args are the
    arguments with a leading batch axis where `batched[i]`, as they are otherwise; it returns
    the output with the batch axis leading, written with engine ops. An `elementwise` primitive
    gets `batching.leading` unless it brings its own.
    """

    def __init__(self, name, fn, vjp=None, jvp=None, elementwise=False, doc=None, batch=None):
        self.__doc__ = doc or f"The primitive `{name}`."
        self.name = name
        self.fn = fn
        self.vjps = () if vjp is None else vjp if isinstance(vjp, (tuple, Each)) else (vjp,)
        self.jvps = () if jvp is None else jvp if isinstance(jvp, (tuple, Each)) else (jvp,)
        self.elementwise = elementwise
        self.batch = batch

    def __repr__(self):
        return f"<primitive {self.name}>"

    def __call__(self, *args, **params):
        top = None
        boxed = False
        for a in args:
            if isinstance(a, Tensor):
                boxed = True
                tr = a._trace
                if tr is not None and (top is None or tr.level > top.level):
                    top = tr
        if top is not None:
            if top.level < 0:
                raise ValueError(f"{self.name}: an argument is a Tensor from a transformation "
                                 f"(grad, jvp, ...) that has returned; only its value is left: "
                                 f"use .value, or compute inside the function")
            return top.apply(self, args, params)
        if boxed:  # constant Tensors in, constant Tensor out
            return Tensor(self.forward([getval(a) for a in args], params))
        try:  # plain numpy in, plain numpy out (the forward method, inlined: the hot path)
            return self.fn(*args, **params)
        except (ValueError, TypeError, IndexError, np.linalg.LinAlgError) as e:
            raise self.error(e, args, params) from e

    def forward(self, vals, params):
        """The numpy function on unboxed values; numpy's errors come back naming the op."""
        try:
            return self.fn(*vals, **params)
        except (ValueError, TypeError, IndexError, np.linalg.LinAlgError) as e:
            raise self.error(e, vals, params) from e

    def error(self, e, vals, params):
        shapes = ", ".join(f"a {type(v).__name__} of {len(v)}" if isinstance(v, (list, tuple))
                           else str(np.shape(getval(v))) for v in vals)
        extra = ", " + ", ".join(f"{k}={v!r}" for k, v in params.items()) if params else ""
        return type(e)(f"{self.name}: {e} (argument shapes {shapes}{extra})")

    def complex_error(self):
        """Complex values are not differentiated (no conjugate rules): refused where they
        appear, rather than a derivative that silently drops the imaginary part."""
        return TypeError(f"{self.name}: the result is complex; complex numbers cannot be "
                         f"differentiated here (only real floating-point values): keep complex "
                         f"arithmetic outside the differentiated function")

    def batch_rule(self):
        """The batching rule (`vmap`): its own, or `batching.leading` for an elementwise one."""
        if self.batch is None:
            if not self.elementwise:
                raise TypeError(f"no batching rule for `{self.name}`")
            from .ops.shape import leading  # noqa: PLC0415 -- written with the ops
            self.batch = leading
        return self.batch

    def vjp(self, i):
        """The VJP rule for argument i."""
        return self._rule(self.vjps, i, "VJP")

    def jvp(self, i):
        """The JVP rule for argument i."""
        return self._rule(self.jvps, i, "JVP")

    def _rule(self, rules, i, kind):
        r = rules[i] if isinstance(rules, Each) or i < len(rules) else None
        if r is None:
            raise TypeError(f"no {kind} for `{self.name}` w.r.t. argument {i}")
        return r


def from_jvp(prim, args, batched, **params):
    """The batching rule of a unary primitive linear in its argument (reshape, transpose,
    indexing): its JVP rule, whose tangents carry a leading batch axis, applied to the stacked
    values."""
    x = args[0]
    return prim.jvp(0)(x, None, x, **params)


class Each:
    """Rules for a primitive with any number of arguments: `Each(f)[i]` is f bound to i."""

    __slots__ = ("f",)

    def __init__(self, f):
        self.f = f

    def __getitem__(self, i):
        f = self.f
        return lambda *a, **p: f(i, *a, **p)


def primitive(name, fn, vjp=None, jvp=None, elementwise=False, doc=None, batch=None):
    """Define a primitive: `exp = primitive("exp", np.exp, vjp=lambda g, ans, x: g * ans,
    jvp=lambda t, ans, x: t * ans, elementwise=True, doc="e^x")`. Rules may be one function
    (one argument), a tuple (one per argument, None where not differentiable) or `Each(f)`;
    `batch` is the batching rule (see `Primitive`; elementwise primitives have one)."""
    return Primitive(name, fn, vjp, jvp, elementwise, doc, batch)



# ---------------------------------------------------------------------------------------------
# traces
class ReverseTrace:
    """Records each primitive application as a node (primitive, inputs, parents, params).

    A trace opened by a transformation (`grad`, `vjp`) also keeps its nodes in order on `tape`,
    a plain list (the Wengert list): backward walks it in reverse, and it could be replayed with
    new input values without re-running the Python that built it. The transformation takes the
    tape off the trace when the function returns (nodes point at their trace, so a trace holding
    its tape would be a reference cycle). The base trace of imperative use keeps no tape (it
    would grow forever); its backward orders nodes by creation id.
    """

    __slots__ = ("level", "tape")
    reverse = True
    batched = False

    def __init__(self, level, tape=True):
        self.level = level
        self.tape = [] if tape else None

    def __repr__(self):
        return f"<reverse trace {self.level}>"

    def apply(self, prim, args, params):
        # the hot path of every recorded operation: kept flat on purpose
        vals = []
        parents = []
        lower = False
        for a in args:
            if isinstance(a, Tensor):
                tr = a._trace
                if tr is self:
                    parents.append(a)
                    a = a._v
                else:
                    parents.append(None)
                    if tr is None:
                        a = a._v
                if self.level and isinstance(a, Tensor):
                    lower = True
            else:
                parents.append(None)
            vals.append(a)
        if lower:
            ans = prim(*vals, **params)
        else:  # prim.forward and tensor._new, inlined: each saves ~0.1 us per op (W1 is ~2 us)
            try:
                ans = prim.fn(*vals, **params)
            except (ValueError, TypeError, IndexError, np.linalg.LinAlgError) as e:
                raise prim.error(e, vals, params) from e
        if ans.dtype not in _REAL and ans.dtype.kind == "c":
            raise prim.complex_error()
        if not _grad_enabled[0]:  # not recorded: a constant, as PyTorch gives under no_grad
            return ans if isinstance(ans, Tensor) else _new(ans, None)
        t = _alloc(Tensor)
        t._v = ans
        t._trace = self
        t._node = (prim, vals, parents, params)
        t._tangent = None
        t.grad = None
        t._id = next(_ids)
        if self.tape is not None:
            self.tape.append(t)
        return t


class ForwardTrace:
    """Carries a batch of tangents with each value: one pass, no graph."""

    __slots__ = ("level", "batch")
    reverse = False
    batched = False

    def __init__(self, level, batch):
        self.level = level
        self.batch = batch

    def __repr__(self):
        return f"<forward trace {self.level}, batch {self.batch}>"

    def apply(self, prim, args, params):
        vals = []
        tans = []
        lower = False
        for a in args:
            if isinstance(a, Tensor):
                if a._trace is self:
                    tans.append(a._tangent)
                    a = a._v
                else:
                    tans.append(None)
                    if a._trace is None:
                        a = a._v
                if isinstance(a, Tensor):
                    lower = True
            else:
                tans.append(None)
            vals.append(a)
        ans = prim(*vals, **params) if lower else prim.forward(vals, params)
        if ans.dtype.kind == "c":
            raise prim.complex_error()
        out_shape = (self.batch,) + ans.shape
        out_t = None
        for i, t in enumerate(tans):
            if t is None:
                continue
            if prim.elementwise and t.ndim < len(out_shape):
                t = reshape(t, t.shape[:1] + (1,) * (len(out_shape) - t.ndim) + t.shape[1:])
            c = prim.jvp(i)(t, ans, *vals, **params)
            out_t = c if out_t is None else out_t + c
        if out_t is None:
            return ans
        if out_t.shape != out_shape:
            out_t = broadcast_to(out_t, out_shape)
        return _new(ans, self, tangent=out_t)


BASE = ReverseTrace(0, tape=False)
_levels = [0]  # the highest level in use


class new_trace:
    """`with new_trace(ReverseTrace) as tr:` a trace one level above every active one."""

    def __init__(self, cls, *args):
        self.cls, self.args = cls, args

    def __enter__(self):
        _levels.append(_levels[-1] + 1)
        self.trace = self.cls(_levels[-1], *self.args)
        return self.trace

    def __exit__(self, *exc):
        _levels.pop()
        self.trace.level = -1  # finished: its boxes must not be mistaken for a live trace's


def backward_pass(outputs, tape=None):
    """Reverse accumulation from [(output, seed), ...] on the outputs' reverse trace.

    Each node is visited once, after every node that uses it: in reverse `tape` order when the
    trace's tape is given, otherwise newest first by creation id (a heap), as for the tape-less
    base trace. Iterative, so graphs of any depth work. Yields (leaf, gradient) for every leaf.
    """
    grads = {}  # Tensor -> cotangent (Tensors hash by identity)
    for out, seed in outputs:
        grads[out] = grads[out] + seed if out in grads else seed
    if tape is not None:
        for node in reversed(tape):
            g = grads.pop(node, None)
            if g is not None:
                _propagate(node, g, grads, None)
        yield from grads.items()  # what is left are the leaves
        return
    heap = [(-t._id, t) for t in grads]
    heapify(heap)
    while heap:
        node = heappop(heap)[1]
        g = grads.pop(node)
        if node._node is None:
            yield node, g
        else:
            _propagate(node, g, grads, heap)


def _propagate(node, g, grads, heap):
    """Send node's cotangent g to its parents through the VJP rules."""
    prim, vals, parents, params = node._node
    ans = node._v
    for i, p in enumerate(parents):
        if p is None:
            continue
        gi = prim.vjp(i)(g, ans, *vals, **params)
        shape = vals[i].shape
        if gi.shape != shape:
            gi = sum_to(gi, shape)
        if p in grads:
            grads[p] = grads[p] + gi
        else:
            grads[p] = gi
            if heap is not None:
                heappush(heap, (-p._id, p))


def sum_to(g, shape):
    """Sum a broadcast cotangent back to `shape`: the one place broadcasting is undone."""
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(i + lead for i, n in enumerate(shape)
                                      if n == 1 and g.shape[i + lead] != 1)
    if axes:
        g = sum(g, axis=axes)
    if g.shape != shape:
        g = reshape(g, shape)
    return g



from .ops import broadcast_to, reshape, sum  # noqa: E402
