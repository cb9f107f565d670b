"""The Wengert list as a program: f's value and gradient recorded once, as one straight-line
Python function.

`compile_value_and_grad(f, x0)` runs `value_and_grad(f)` once at x0 under a recording trace:
the forward sweep and the reverse sweep (whose VJP rules are engine ops) land on one flat tape
of primitive applications, the *program*, with x as its only input and (f(x), grad f(x)) as its
outputs. The program is simplified (equal subexpressions computed once, multiplications by one
and additions of zero dropped, entries nobody reads removed; work on constants was already done
while recording) and emitted as Python source, compiled once with `compile`/`exec`:

    v3 = v1 * v2
    v4 = exp(v3)          # math.exp where the entry's shapes are all (): a float, not an array

so that a call runs no interpreter, no dispatch and no shape checks. Where every shape of an
entry is (), it is computed on Python floats with `math` (a tenth of a numpy call); such a float
program falls back to the numpy one for the call when Python raises where numpy would return
inf or NaN (overflow, log 0, division by zero).

`.batch(X)` and `.values(X)` evaluate S rows at once: the program mapped over a leading axis
(`vmap` of the program, recorded and emitted the same way, once per S).

The recording is f's trace at x0, as with JAX's `jit`: a branch on a value (`if x > 0`), a value
taken out of the engine (`float(x)`), or a derivative rule that reads a value (abs's sign) is
frozen at x0. `check(x)` compares the program with a fresh run of f; callers that cannot vouch
for f should call it (ADVI does, at 8 points, and on every ELBO estimate's first draws).

    >>> import numpy as np
    >>> import autodiff as ad
    >>> r = compile_value_and_grad(lambda x: ad.sum(ad.exp(x) * x), np.zeros(2))
    >>> value, g = r(np.array([0.0, 1.0]))    # d/dx x e^x = (1 + x) e^x
    >>> float(value), g
    (2.718281828459045, array([1.        , 5.43656366]))
    >>> r.check(np.array([0.5, -1.0]))
    True
    >>> r.batch(np.array([[0.0, 1.0], [1.0, 1.0]]))[0]
    array([2.71828183, 5.43656366])
"""
import numpy as np

from . import ops
from .backend import keep_heap_pad
from .batching import vmap
from .core import ReverseTrace, enable_grad, new_trace
from .emit import Emitter
from .functional import _primal, hessian, hvp, jacfwd, jvp, value_and_grad
from .tensor import Tensor, _new, getval

__all__ = ["compile_value_and_grad", "Compiled", "Program", "record"]


# ---- the program ------------------------------------------------------------------------------
class Program:
    """A flat program: `entries` [(prim, args, params, shape, dtype)], an argument being
    ("s", k) for slot k (slots 0..n_in-1 the inputs, then one per entry) or ("c", value);
    `outputs` [argument]; `shapes` and `dtypes` per slot."""

    def __init__(self, n_in, shapes, dtypes, entries, outputs):
        self.n_in, self.entries, self.outputs = n_in, entries, outputs
        self.shapes, self.dtypes = shapes, dtypes

    def __len__(self):
        return len(self.entries)

    def __repr__(self):
        return f"<program: {self.n_in} input(s), {len(self.entries)} ops>"

    def run(self, *inputs):
        """The program by calling its primitives (traceable: `vmap` maps it over rows)."""
        env = list(inputs)
        for prim, args, params, _, _ in self.entries:
            env.append(prim(*[env[a] if k == "s" else a for k, a in args], **params))
        return tuple(env[a] if k == "s" else a for k, a in self.outputs)


def record(fn, inputs):
    """The Program of fn at `inputs` (float arrays): every primitive applied to them, in order."""
    with enable_grad(), new_trace(ReverseTrace) as tr:   # recorded even under no_grad
        boxes = [_new(x, tr) for x in inputs]
        outs = fn(*boxes)
    tape, tr.tape = tr.tape, None
    slot = {id(b): i for i, b in enumerate(boxes)}
    shapes = [x.shape for x in inputs]
    dtypes = [x.dtype for x in inputs]
    entries = []
    for t in tape:
        prim, vals, parents, params = t._node
        args = tuple(("c", v) if p is None else ("s", slot[id(p)])
                     for p, v in zip(parents, vals))
        slot[id(t)] = len(shapes)
        v = t._v
        shapes.append(np.shape(v))
        dtypes.append(np.result_type(v))
        entries.append((prim, args, params, shapes[-1], dtypes[-1]))
    outputs = [("s", slot[id(o)]) if isinstance(o, Tensor) and o._trace is tr
               else ("c", np.asarray(getval(o))) for o in outs]
    return simplify(Program(len(inputs), shapes, dtypes, entries, outputs))


def _const_key(v):
    if isinstance(v, (bool, int, float)):
        return (type(v), v)
    if isinstance(v, np.ndarray) and v.ndim == 0 or isinstance(v, np.generic):
        return (np.result_type(v).str, v.item())
    return ("id", id(v))


def _is_const(v, value):
    """Whether constant v is `value` everywhere (a Python number or a float array)."""
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return v == value
    return (isinstance(v, (np.ndarray, np.generic)) and np.result_type(v).kind == "f"
            and v.size <= 64 and bool(np.all(v == value)))


def simplify(p):
    """Equal subexpressions once, x * 1 and x + 0 dropped (where they change neither shape nor
    dtype), then only the entries the outputs read, renumbered."""
    alias = {}      # slot -> argument that replaces it
    seen = {}       # key -> slot
    keep = []       # (old slot, entry with remapped args)
    for i, (prim, args, params, shape, dtype) in enumerate(p.entries):
        s = p.n_in + i
        args = tuple(alias.get(a, ("s", a)) if k == "s" else (k, a) for k, a in args)
        other = _identity(prim, args, shape, dtype, p)
        if other is not None:
            alias[s] = other
            continue
        try:
            key = (prim, tuple(a if k == "s" else _const_key(a) for k, a in args),
                   tuple(sorted(params.items())))
            hash(key)
        except TypeError:   # unhashable params (index arrays): not shared
            key = None
        if key is not None and key in seen:
            alias[s] = ("s", seen[key])
            continue
        if key is not None:
            seen[key] = s
        keep.append((s, (prim, args, params, shape, dtype)))
    outputs = [alias.get(a, ("s", a)) if k == "s" else (k, a) for k, a in p.outputs]
    # dead code: walk back from the outputs
    live = {a for k, a in outputs if k == "s"}
    for s, (_, args, _, _, _) in reversed(keep):
        if s in live:
            live.update(a for k, a in args if k == "s")
    new = {i: i for i in range(p.n_in)}
    shapes, dtypes, entries = list(p.shapes[:p.n_in]), list(p.dtypes[:p.n_in]), []
    for s, (prim, args, params, shape, dtype) in keep:
        if s not in live:
            continue
        new[s] = len(shapes)
        shapes.append(shape)
        dtypes.append(dtype)
        entries.append((prim, tuple(("s", new[a]) if k == "s" else (k, a) for k, a in args),
                        params, shape, dtype))
    outputs = [("s", new[a]) if k == "s" else (k, a) for k, a in outputs]
    return Program(p.n_in, shapes, dtypes, entries, outputs)


def _identity(prim, args, shape, dtype, p):
    """The argument that the entry equals (x * 1, 1 * x, x / 1, x ** 1, x + 0, 0 + x, x - 0),
    or None."""
    if prim not in (ops.multiply, ops.add, ops.subtract, ops.divide, ops.power) \
            or len(args) != 2:
        return None
    unit = 1 if prim in (ops.multiply, ops.divide, ops.power) else 0
    for mine, other in ((0, 1), (1, 0)):
        if prim in (ops.subtract, ops.divide, ops.power) and mine == 0:
            continue
        k, v = args[mine]
        ko, o = args[other]
        if k != "c" or not _is_const(v, unit) or ko != "s":
            continue
        if p.shapes[o] == shape and p.dtypes[o] == dtype:
            return args[other]
    return None


# ---- compile_value_and_grad --------------------------------------------------------------------
def compile_value_and_grad(f, x0):
    """Record scalar-valued f's value and gradient at the float array x0 as one program;
    return it compiled (`Compiled`): r(x) = (f(x), grad f(x))."""
    x0 = _primal(x0, "compile_value_and_grad: x0")
    if isinstance(x0, Tensor):
        raise TypeError("compile_value_and_grad: x0 must be a numpy array, not a Tensor being "
                        "differentiated")
    prog = record(lambda x: value_and_grad(f)(x), [x0])
    if prog.outputs[0][0] == "c":
        raise ValueError("compile_value_and_grad: f's output does not depend on its input "
                         "through the engine; nothing to record")
    return Compiled(f, x0, prog)


class Compiled:
    """f's value and gradient as a compiled program (see the module docstring).

    `r(x)` -> (f(x), grad f(x)); `r.value(x)` -> f(x); `r.batch(X)` -> (values (S,), grads
    (S, D)) and `r.values(X)` -> (S,) for the S rows of X, one pass each; `r.check(x)` and
    `r.audit(x)` compare with a fresh run of f. `len(r)`: the program's ops; `r.source`: its
    Python.
    """

    _heap = None        # whether backend.keep_heap_pad took effect (asked once per process)

    def __init__(self, f, x0, program):
        if Compiled._heap is None:
            Compiled._heap = keep_heap_pad()
        self.f, self.program = f, program
        self.shape, self.dtype = x0.shape, x0.dtype
        self._safe = Emitter(program, scalar=False).emit()
        em = Emitter(program, scalar=True)
        fast = em.emit()
        self._fast = fast if em.floats else None
        self.source = (fast if em.floats else self._safe).source
        self._value = self._batched = self._values = None
        self._cache = {}
        self.batch_note = "batched"

    def __len__(self):
        return len(self.program)

    def __repr__(self):
        return f"<compiled value and gradient: {len(self)} ops, input {self.shape}>"

    def _input(self, x):
        x = np.asarray(x, dtype=self.dtype)
        if x.shape != self.shape:
            raise ValueError(f"compiled program: the input has shape {x.shape}; it was "
                             f"recorded with {self.shape}")
        return x

    def __call__(self, x):
        """(f(x), grad f(x)) by the compiled program."""
        x = self._input(x)
        if self._fast is not None:
            try:
                return self._fast(x)
            except (ArithmeticError, ValueError):  # a float overflowed or left math's domain
                pass
        return self._safe(x)

    def value(self, x):
        """f(x) alone (the reverse sweep not run)."""
        if self._value is None:
            p = simplify(Program(self.program.n_in, self.program.shapes, self.program.dtypes,
                                 self.program.entries, self.program.outputs[:1]))
            safe = Emitter(p, scalar=False).emit()
            em = Emitter(p, scalar=True)
            fast = em.emit()
            self._value = (fast if em.floats else None, safe)
        fast, safe = self._value
        x = self._input(x)
        if fast is not None:
            try:
                return fast(x)[0]
            except (ArithmeticError, ValueError):
                pass
        return safe(x)[0]

    # -- many rows at once -------------------------------------------------------------------------
    def _rows(self, X):
        X = np.asarray(X, dtype=self.dtype)
        if X.ndim != len(self.shape) + 1 or X.shape[1:] != self.shape:
            raise ValueError(f"compiled program: X must have shape (S,) + {self.shape}, got "
                             f"{X.shape}")
        return X

    def _mapped(self, kind, X):
        """The program over the S rows of X (`vmap` of it, recorded at X and emitted), built
        once per S."""
        key = (kind, X.shape[0])
        if key not in self._cache:
            p = self.program
            if kind == "values":
                p = simplify(Program(p.n_in, p.shapes, p.dtypes, p.entries, p.outputs[:1]))
            elif kind in ("hessians", "hvps"):
                p = simplify(Program(p.n_in, p.shapes, p.dtypes, p.entries, p.outputs[1:2]))
            if kind == "hessians":       # forward over the recorded reverse sweep, per row
                fn = (lambda X, p=p: (vmap(jacfwd(lambda x: p.run(x)[0]))(X),))
            elif kind == "hvps":
                fn = (lambda X, V, p=p: (vmap(lambda x, v: jvp(lambda y: p.run(y)[0], (x,),
                                                               (v,))[1])(X, V),))
            else:
                fn = (lambda X, p=p: vmap(p.run)(X))
            try:
                with np.errstate(all="ignore"):
                    mp = record(fn, [X] * (2 if kind == "hvps" else 1))
                self._cache[key] = Emitter(mp, scalar=False).emit()
            except np.linalg.LinAlgError:           # at these rows: record at the next call
                raise
            except (TypeError, ValueError) as e:    # a primitive that cannot be batched
                self.batch_note = f"rows one at a time: {e}"
                self._cache[key] = None
        return self._cache[key]

    def batch(self, X):
        """(values (S,), gradients (S, D)) at the S rows of X, in one pass of the program."""
        X = self._rows(X)
        fn = self._mapped("both", X)
        if fn is None:
            rows = [self(x) for x in X]
            return (np.array([float(v) for v, _ in rows]),
                    np.stack([g for _, g in rows]) if rows else np.zeros(X.shape))
        v, g = fn(X)
        return np.asarray(v, dtype=self.dtype).reshape(X.shape[0]), g

    def hessians(self, X):
        """Hessians of f at the S rows of X, (S, D, D), in one pass: the recorded gradient
        program differentiated in forward mode (`jacfwd`) and mapped over the rows. f's
        branches are frozen as in the program: compare a row with `hessian(f)` to vouch for
        it (ppl.infer.draws does, once per fit)."""
        X = self._rows(X)
        fn = self._mapped("hessians", X)
        if fn is None:
            return np.stack([hessian(self.f)(x) for x in X])
        return np.asarray(fn(X)[0], dtype=self.dtype).reshape(X.shape + self.shape)

    def hvps(self, X, V):
        """Hessian-vector products H(x_s) v_s at the S rows of X and V, (S,) + x's shape, in
        one pass (forward over the recorded reverse sweep, mapped over the rows)."""
        X, V = self._rows(X), self._rows(V)
        if V.shape != X.shape:
            raise ValueError(f"compiled program: V must have the shape of X {X.shape}, got "
                             f"{V.shape}")
        fn = self._mapped("hvps", X)
        if fn is None:
            return np.stack([hvp(self.f, x, v) for x, v in zip(X, V)])
        return np.asarray(fn(X, V)[0], dtype=self.dtype).reshape(X.shape)

    def values(self, X):
        """f at the S rows of X, in one pass of the program's forward sweep: shape (S,)."""
        X = self._rows(X)
        fn = self._mapped("values", X)
        if fn is None:
            return np.array([float(self.value(x)) for x in X])
        return np.asarray(fn(X)[0], dtype=self.dtype).reshape(X.shape[0])

    # -- the audit ---------------------------------------------------------------------------------
    def audit(self, x, rtol=1e-9, atol=1e-12):
        """Compare the program at x with a fresh run of f: "agrees"; "overflow" when both give
        a non-finite value there (a recursion overflowing, not a branch: the same program);
        otherwise "differs: ..." (f branches on a value, or reads one out of the engine)."""
        x = self._input(x)
        with np.errstate(all="ignore"):
            v, g = self(x)
            v2, g2 = value_and_grad(self.f)(x)
        if not (np.isfinite(v) or np.isfinite(v2)):
            return "overflow"
        if np.allclose(v, v2, rtol, atol, equal_nan=True) and np.allclose(
                g, g2, rtol, atol, equal_nan=True):
            return "agrees"
        return f"differs: the program gives {float(v)!r} where f gives {float(v2)!r}"

    def check(self, x, rtol=1e-9, atol=1e-12):
        """Whether the program at x agrees with a fresh run of f (value and gradient; both
        non-finite counts as agreeing: see `audit`)."""
        return not self.audit(x, rtol, atol).startswith("differs")


Replay = Compiled   # the name of the interpreted tape this replaces
