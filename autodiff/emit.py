"""A Program (compile.py) as Python source: one line per entry, compiled once.

    v3 = v1 * v2          # operators on numpy arrays, or on floats
    v4 = f0(v3)           # the primitive's numpy function; math.exp where the entry is a float

An entry whose shapes are all () and float64 is computed on Python floats (`math`), a tenth of a
numpy call; a numpy function reading such a float gets it as a 0-d array. Peepholes: scalars
stacked into a vector are one `np.array([...])`; a vector taken apart into scalars is indexing
into its `tolist()`; a gradient assembled from pieces (a sum of scatter-adds into zeros) is one
buffer, each piece added into it in place.
"""
import math
import re

import numpy as np

from . import ops
from .ops import shape as _shape_ops

__all__ = ["Emitter"]


# ---- emitting Python ---------------------------------------------------------------------------
_INFIX = {"add": "+", "subtract": "-", "multiply": "*", "divide": "/"}


def _softplus(x):
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))


def _sigmoid(x):
    return 1.0 / (1.0 + math.exp(-x))


_SCALAR = {ops.exp: math.exp, ops.log: math.log, ops.log1p: math.log1p, ops.expm1: math.expm1,
           ops.sqrt: math.sqrt, ops.sin: math.sin, ops.cos: math.cos, ops.tan: math.tan,
           ops.tanh: math.tanh, ops.lgamma: math.lgamma, ops.erf: math.erf,
           ops.erfc: math.erfc, ops.absolute: abs, ops.sigmoid: _sigmoid,
           ops.softplus: _softplus, ops.power: math.pow}
_F64 = np.dtype(np.float64)
_FREE_SIZE = 4096        # arrays of at least this many elements are freed after their last use
_NAME = re.compile(r"\bv(\d+)\b")


def _scalar_const(v):
    return (isinstance(v, (int, float)) and not isinstance(v, bool)) or (
        isinstance(v, (np.ndarray, np.generic)) and v.ndim == 0 and v.dtype == _F64)


class Emitter:
    """Python source for a Program; `scalar` computes entries whose shapes are () on floats."""

    def __init__(self, p, scalar):
        self.p, self.names, self.lines = p, {}, []
        self.scalar = [scalar and shape == () and dtype == _F64
                       and all(p.shapes[a] == () and p.dtypes[a] == _F64 if k == "s"
                               else _scalar_const(a) for k, a in args)
                       for _, args, _, shape, dtype in p.entries]
        self.floats = 0
        self.float_slots = set()   # slots that hold Python floats when the program runs
        self.read_as_float = {a for i, (_, args, _, _, _) in enumerate(p.entries)
                              if self.scalar[i] for k, a in args if k == "s"}

    def bind(self, value, stem):
        key = (stem, id(value))
        if key not in self.names:
            self.names[key] = (f"{stem}{len(self.names)}", value)
        return self.names[key][0]

    def const(self, v, as_float):
        if as_float or isinstance(v, (int, float)) and not isinstance(v, bool):
            x = float(v) if as_float or isinstance(v, float) else int(v)
            if math.isfinite(x):
                return repr(x)
        return self.bind(v, "c")

    def arg(self, a, as_float):
        k, v = a
        return f"v{v}" if k == "s" else self.const(v, as_float)

    def emit(self):
        p = self.p
        n_in = p.n_in
        packs, items, tolist = self._peepholes()
        deferred, inplace = self._scatters()
        live = self._live(packs, items, deferred, inplace)
        for i, (prim, args, params, shape, dtype) in enumerate(p.entries):
            s = n_in + i
            if s in deferred or s not in live:
                continue
            if s in inplace:
                acc, sc = inplace[s]
                _, (g,), sparams, _, _ = p.entries[sc - n_in]
                idx = sparams["idx"]
                k = self.bind(idx, "k")
                if any(isinstance(j, np.ndarray) and j.dtype.kind in "iu" for j in idx):
                    self.lines.append(f"{self.bind(np.add.at, 'f')}(v{acc}, {k}, "
                                      f"{self.arg(g, False)})")
                else:
                    self.lines.append(f"v{acc}[{k}] += {self.arg(g, False)}")
                self.lines.append(f"v{s} = v{acc}")
            elif s in packs:
                srcs = ", ".join(self.arg(a, True) for a in packs[s])
                self.lines.append(f"v{s} = _array([{srcs}])")
            elif s in items:
                g, j = items[s]
                self.lines.append(f"v{s} = L{g}[{j}]")
                self.float_slots.add(s)
            elif self.scalar[i]:
                self.floats += 1
                self.lines.append(f"v{s} = {self._scalar_expr(prim, args, params)}")
                self.float_slots.add(s)
            else:
                expr = self._array_expr(prim, args, params)
                if shape == () and dtype == _F64 and s in self.read_as_float:
                    expr = f"float({expr})"
                    self.float_slots.add(s)
                self.lines.append(f"v{s} = {expr}")
            if s in tolist:
                self.lines.append(f"L{s} = v{s}.tolist()")
        outs = []
        for k, v in p.outputs:
            outs.append(f"v{v}" if k == "s" else f"{self.bind(v, 'c')}.copy()")
        self.lines = self._free_dead(self.lines, {v for k, v in p.outputs if k == "s"})
        names = sorted(self.names.values())
        params = ", ".join([f"v{i}" for i in range(n_in)] + [f"{n}={n}" for n, _ in names]
                           + ["_array=_array", "_asarray=_asarray"])
        body = "\n".join("    " + ln for ln in self.lines + [f"return ({', '.join(outs)},)"])
        src = f"def _program({params}):\n{body}\n"
        namespace = {n: v for n, v in names}
        namespace["_array"], namespace["_asarray"] = np.array, np.asarray
        exec(compile(src, "<autodiff program>", "exec"), namespace)  # noqa: S102 -- our source
        fn = namespace["_program"]
        fn.source = src
        return fn

    def _free_dead(self, lines, outputs):
        """`del` each large array slot (at least _FREE_SIZE elements) after the last line that
        names it, so that its memory is reused within the call: the program's peak memory is
        what is live, not the sum of every intermediate (which made glibc hand pages back and
        fault them in again on every call: 8x slower on a batched Hessian of 1 MB arrays)."""
        big = {s for s in range(len(self.p.shapes)) if s not in outputs
               and s not in self.float_slots and math.prod(self.p.shapes[s]) >= _FREE_SIZE}
        if not big:
            return lines
        last = {}
        for i, ln in enumerate(lines):
            for m in _NAME.finditer(ln):
                s = int(m.group(1))
                if s in big:
                    last[s] = i
        dead = {}
        for s, i in last.items():
            dead.setdefault(i, []).append(s)
        out = []
        for i, ln in enumerate(lines):
            out.append(ln)
            if i in dead:
                out.append("del " + ", ".join(f"v{s}" for s in sorted(dead[i])))
        return out

    def _scalar_expr(self, prim, args, params):
        a = [self.arg(x, True) for x in args]
        if prim.name in _INFIX and prim in (ops.add, ops.subtract, ops.multiply, ops.divide):
            return f"{a[0]} {_INFIX[prim.name]} {a[1]}"
        if prim is ops.negative:
            return f"-{a[0]}"
        if prim is ops.power and args[1][0] == "c" and _scalar_const(args[1][1]) \
                and float(args[1][1]) == 2.0:
            return f"{a[0]} * {a[0]}"    # as numpy's power does for a square
        f = _SCALAR.get(prim)
        if f is not None:
            return f"{self.bind(f, 'f')}({', '.join(a)})"
        return self._call(prim, a, params)

    def _array_expr(self, prim, args, params):
        a = [self.arg(x, False) for x in args]
        if prim not in (ops.add, ops.subtract, ops.multiply, ops.divide, ops.power,
                        ops.negative):   # a float read by a numpy function: a 0-d array
            a = [f"_asarray({v})" if k == "s" and x in self.float_slots else v
                 for v, (k, x) in zip(a, args)]
        if prim in (ops.add, ops.subtract, ops.multiply, ops.divide):
            return f"{a[0]} {_INFIX[prim.name]} {a[1]}"
        if prim is ops.power:
            return f"{a[0]} ** {a[1]}"
        if prim is ops.negative:
            return f"-{a[0]}"
        if prim is _shape_ops._getitem:
            return f"{a[0]}[{self.bind(params['idx'], 'k')}]"
        if prim is _shape_ops._reshape:
            return f"{a[0]}.reshape({self.bind(params['shape'], 'k')})"
        return self._call(prim, a, params)

    def _call(self, prim, a, params):
        kw = [f"{k}={self.bind(v, 'k')}" for k, v in params.items()]
        return f"{self.bind(prim.fn, 'f')}({', '.join(a + kw)})"

    def _live(self, packs, items, deferred, inplace):
        """The slots still read once the peepholes have replaced what they read: a stack's
        reshapes and the slices of its gradient are not."""
        p, n_in = self.p, self.p.n_in
        live = {a for k, a in p.outputs if k == "s"}
        for i in range(len(p.entries) - 1, -1, -1):
            s = n_in + i
            if s not in live:
                continue
            if s in packs:
                reads = [a for k, a in packs[s] if k == "s"]
            elif s in items:
                reads = [items[s][0]]
            elif s in inplace:
                acc, sc = inplace[s]
                reads = [acc] + [a for k, a in p.entries[sc - n_in][1] if k == "s"]
            else:
                reads = [a for k, a in p.entries[i][1] if k == "s"]
            live.update(reads)
        return live

    def _scatters(self):
        """Gradients assembled from pieces (x[0], x[1:4], ...: a sum of scatter-adds into
        zeros) become one buffer that each piece is added into in place."""
        p, n_in = self.p, self.p.n_in
        readers = {}
        for _, args, _, _, _ in p.entries:
            for k, a in args:
                if k == "s":
                    readers[a] = readers.get(a, 0) + 1
        for k, a in p.outputs:
            if k == "s":
                readers[a] = readers.get(a, 0) + 1
        unindex = _shape_ops._unindex
        owned, deferred, inplace = set(), set(), {}
        for i, (prim, args, _, shape, dtype) in enumerate(p.entries):
            s = n_in + i
            if prim is unindex:
                owned.add(s)
            elif prim is ops.add and all(k == "s" for k, _ in args):
                (_, x), (_, y) = args
                for acc, sc in ((x, y), (y, x)):
                    if (acc in owned and sc != acc and sc >= n_in
                            and p.entries[sc - n_in][0] is unindex and sc not in deferred
                            and readers.get(acc) == 1 and readers.get(sc) == 1
                            and p.shapes[acc] == shape
                            and p.dtypes[acc] == dtype == p.dtypes[sc]):
                        deferred.add(sc)
                        owned.discard(sc)
                        inplace[s] = (acc, sc)
                        owned.add(s)
                        break
        return deferred, inplace

    def _peepholes(self):
        """Scalars stacked into a vector (concatenate of reshapes to (1,)) become one
        np.array([...]) of floats; a vector taken apart into scalars (reshape to () of a
        one-element slice, the stack's VJP) becomes indexing into its list of floats."""
        p, n_in = self.p, self.p.n_in
        if not any(self.scalar):
            return {}, {}, set()
        made = {n_in + i: e for i, e in enumerate(p.entries)}
        packs, items, tolist = {}, {}, set()
        for s, (prim, args, params, shape, dtype) in made.items():
            if prim is _shape_ops._concatenate and dtype == _F64 and len(shape) == 1 \
                    and params.get("axis") == -1:
                srcs = []
                for k, a in args:
                    if k == "c" and np.shape(a) == (1,) and np.result_type(a) == _F64:
                        srcs.append(("c", np.asarray(a).reshape(())))
                        continue
                    e = made.get(a) if k == "s" else None
                    if e is None or e[0] is not _shape_ops._reshape or e[3] != (1,):
                        break
                    (ks, src), = e[1]
                    if ks != "s" or p.shapes[src] != () or p.dtypes[src] != _F64:
                        break
                    srcs.append(("s", src))
                else:
                    packs[s] = srcs
            elif prim is _shape_ops._reshape and shape == () and dtype == _F64:
                (k, a), = args
                e = made.get(a) if k == "s" else None
                if e is None or e[0] is not _shape_ops._getitem:
                    continue
                (kg, g), = e[1]
                idx = e[2]["idx"]
                if (kg == "s" and len(p.shapes[g]) == 1 and p.dtypes[g] == _F64
                        and len(idx) == 2 and idx[0] is Ellipsis and isinstance(idx[1], slice)
                        and idx[1].step is None and idx[1].stop == idx[1].start + 1):
                    items[s] = (g, idx[1].start)
                    tolist.add(g)
        return packs, items, tolist
