"""Replay a recorded tape: the Wengert list run again at new inputs, without the Python that
built it.

`value_and_grad` runs f every call: each op goes through Tensor dispatch and the trace's
bookkeeping, and f's own Python (a model's handlers, its distribution objects) runs again.
`compile_value_and_grad(f, x0)` records f once at x0 and returns a `Replay` whose calls run
only the recorded primitives' numpy functions forward and their VJP rules backward:

    f(x) and grad f(x) = the tape's forward and reverse sweeps at x.

The recording is only f's trace at x0, as with JAX's `jit`: a branch on a value (`if x > 0`)
or a value taken out of the engine (`float(x)`, `np.asarray(x)`) is frozen at x0. `check(x)`
compares the replay with a fresh run of f; callers that cannot vouch for f should call it.

    >>> import numpy as np
    >>> import autodiff as ad
    >>> r = compile_value_and_grad(lambda x: ad.sum(ad.exp(x) * x), np.zeros(2))
    >>> value, g = r(np.array([0.0, 1.0]))    # d/dx x e^x = (1 + x) e^x
    >>> float(value), g
    (2.718281828459045, array([1.        , 5.43656366]))
    >>> r.check(np.array([0.5, -1.0]))
    True
"""
import numpy as np

from .core import ReverseTrace, new_trace, sum_to
from .functional import _primal, value_and_grad
from .tensor import Tensor, _new

__all__ = ["compile_value_and_grad", "Replay"]


def compile_value_and_grad(f, x0):
    """Record scalar-valued f at the float array x0; return a `Replay` of its tape."""
    x0 = _primal(x0, "compile_value_and_grad: x0")
    with new_trace(ReverseTrace) as tr:
        box = _new(x0, tr)
        out = f(box)
    tape, tr.tape = tr.tape, None
    if not (isinstance(out, Tensor) and out._trace is tr):
        raise ValueError("compile_value_and_grad: f's output does not depend on its input "
                         "through the engine; nothing to record")
    if out.size != 1:
        raise TypeError(f"compile_value_and_grad: f must return a scalar, got shape "
                        f"{out.shape}")
    return Replay(f, box, out, tape)


class Replay:
    """A recorded tape as a program: entry i holds (numpy function, recorded argument values,
    argument slots (-1 for a constant), params, VJP rules). Slot 0 is the input."""

    def __init__(self, f, box, out, tape):
        self.f = f
        slot = {id(box): 0}
        for i, t in enumerate(tape):
            slot[id(t)] = i + 1
        self.program = []
        for t in tape:
            prim, vals, parents, params = t._node
            args = tuple(-1 if p is None else slot[id(p)] for p in parents)
            vjps = tuple(None if a < 0 else prim.vjp(k) for k, a in enumerate(args))
            self.program.append((prim.fn, tuple(vals), args, params, vjps))
        self.out = slot[id(out)]
        self.shape, self.dtype = box.shape, box.dtype

    def __len__(self):
        return len(self.program)

    def _forward(self, x):
        x = np.asarray(x, dtype=self.dtype)
        if x.shape != self.shape:
            raise ValueError(f"Replay: the input has shape {x.shape}; it was recorded with "
                             f"{self.shape}")
        env = [x]
        for fn, vals, args, params, _ in self.program:
            env.append(fn(*[v if a < 0 else env[a] for a, v in zip(args, vals)], **params))
        return env

    def value(self, x):
        """f(x) by the forward sweep alone (no cotangents)."""
        return self._forward(x)[self.out]

    def __call__(self, x):
        """(f(x), grad f(x)) by one forward and one reverse sweep over the tape."""
        env = self._forward(x)
        ans = env[self.out]
        grads = [None] * len(env)
        grads[self.out] = np.ones_like(ans)
        program = self.program
        for i in range(self.out, 0, -1):
            g = grads[i]
            if g is None:
                continue
            _, vals, args, params, vjps = program[i - 1]
            cur = [v if a < 0 else env[a] for a, v in zip(args, vals)]
            for k, a in enumerate(args):
                if a < 0:
                    continue
                gi = vjps[k](g, env[i], *cur, **params)
                shape = np.shape(cur[k])
                if np.shape(gi) != shape:
                    gi = sum_to(gi, shape)
                grads[a] = gi if grads[a] is None else grads[a] + gi
        g0 = grads[0]
        return ans, np.zeros(self.shape, self.dtype) if g0 is None else np.asarray(g0)

    def check(self, x, rtol=1e-9, atol=1e-12):
        """Whether the replay at x agrees with a fresh run of f (value and gradient)."""
        with np.errstate(all="ignore"):
            v, g = self(x)
            v2, g2 = value_and_grad(self.f)(np.asarray(x, dtype=self.dtype))
        return bool(np.allclose(v, v2, rtol, atol, equal_nan=True)
                    and np.allclose(g, g2, rtol, atol, equal_nan=True))
