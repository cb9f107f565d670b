"""First-order optimizers over leaf Tensors: SGD (with momentum) and Adam; checkpoints.

An optimizer holds the parameter Tensors (`module.parameters()`), reads their `.grad` after
`backward()` and updates their values in place: the Tensors stay the same leaf objects, so a
module keeps working with them. Parameters whose `.grad` is None are skipped. State (momentum
buffers, Adam moments) has each parameter's dtype, so float32 training stays float32.

>>> import numpy as np
>>> from autodiff import Tensor, optim
>>> w = Tensor(np.array([1.0, -2.0]), requires_grad=True)
>>> opt = optim.SGD([w], lr=0.1)
>>> loss = (w * w).sum(); loss.backward(); opt.step(); opt.zero_grad()
>>> w.value
array([ 0.8, -1.6])

`save(path, module, optimizer)` / `load(path, module, optimizer)` (from checkpoint.py) write and
read both in one `.npz` file, atomically.
"""
import math
import numbers

import numpy as np

from .checkpoint import load, save
from .tensor import Tensor

__all__ = ["Optimizer", "SGD", "Adam", "save", "load"]


def _number(x, what, low=None, high=None, low_open=False, high_open=True):
    """x as a float, checked to be a real number in the given range; errors name `what`."""
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError(f"{what} must be a real number, got {type(x).__name__}")
    x = float(x)
    if not math.isfinite(x) or (low is not None and (x < low or (low_open and x == low))) or \
            (high is not None and (x > high or (high_open and x == high))):
        lo = "-inf" if low is None else f"{low:g}"
        hi = "inf" if high is None else f"{high:g}"
        raise ValueError(f"{what} must lie in {'(' if low_open else '['}{lo}, {hi}"
                         f"{')' if high_open else ']'}, got {x}")
    return x


class Optimizer:
    """Base class: `params` (a list of leaf Tensors that require grad), per-parameter `state`
    (a dict of numpy arrays each), hyperparameters as attributes named in `hyper`."""

    hyper = ()
    slots = ()  # names of the per-parameter state arrays (shaped like the parameter)
    counters = ()  # names of the per-parameter state integers

    def __init__(self, params):
        if isinstance(params, Tensor):
            raise TypeError("params must be an iterable of Tensors (e.g. module.parameters()),"
                            " got a single Tensor")
        params = list(params)
        if not params:
            raise ValueError("params is empty: nothing to optimize")
        seen = set()
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"params[{i}] is a {type(p).__name__}, not a Tensor")
            if not (p.requires_grad and p.is_leaf):
                raise ValueError(f"params[{i}] must be a leaf Tensor with requires_grad=True")
            if id(p) in seen:
                raise ValueError(f"params[{i}] appears twice")
            seen.add(id(p))
        self.params = params
        self.state = [{} for _ in params]

    def zero_grad(self):
        """Forget every parameter's gradient (`.grad` becomes None)."""
        for p in self.params:
            p.grad = None

    def step(self):
        """Update every parameter that has a gradient."""
        for p, st in zip(self.params, self.state):
            g = p.grad
            if g is None:
                continue
            v = p._v  # the numpy array of a base-level leaf, updated in place
            if not v.flags.writeable:  # e.g. a broadcast or a loaded read-only array
                v = p._v = v.copy()
            self._update(v, np.asarray(g, dtype=v.dtype), st)

    def _update(self, v, g, st):
        raise NotImplementedError

    def state_dict(self):
        """A flat dict of numpy arrays and Python scalars: the optimizer's kind, its
        hyperparameters, and "state.{i}.{slot}" for parameter i's state."""
        out = {"kind": type(self).__name__, "n_params": len(self.params)}
        out.update({k: getattr(self, k) for k in self.hyper})
        for i, st in enumerate(self.state):
            for k, v in st.items():
                if not k.startswith("_"):
                    out[f"state.{i}.{k}"] = v.copy() if isinstance(v, np.ndarray) else v
        return out

    def load_state_dict(self, state):
        """Restore what `state_dict` gave (hyperparameters included); the kind, the number of
        parameters, the state's keys and every state array's shape must match. A failed load
        changes nothing."""
        kind = str(np.asarray(state.get("kind", "")))
        if kind != type(self).__name__:
            raise ValueError(f"load_state_dict: the state is for {kind or 'an unknown kind'}, "
                             f"this optimizer is {type(self).__name__}")
        n = int(np.asarray(state.get("n_params", -1)))
        if n != len(self.params):
            raise ValueError(f"load_state_dict: the state has {n} parameters, this optimizer "
                             f"has {len(self.params)}")
        known = self.slots + self.counters
        new = [{} for _ in self.params]
        for key, value in state.items():
            if not key.startswith("state."):
                continue
            _, i, slot = (key.split(".", 2) + ["", ""])[:3]
            if not (i.isdigit() and int(i) < n and slot in known):
                raise ValueError(f"load_state_dict: unexpected key {key!r}: expected "
                                 f"state.<i>.<name>, i < {n}, name in {known}")
            p, value = self.params[int(i)], np.asarray(value)
            if slot in self.slots:
                if value.shape != p.shape:
                    raise ValueError(f"load_state_dict: {key} has shape {value.shape}, "
                                     f"parameter {i} has shape {p.shape}")
                value = value.astype(p.dtype, copy=True)
            else:
                if value.size != 1:
                    raise ValueError(f"load_state_dict: {key} must be a number, got shape "
                                     f"{value.shape}")
                value = value.item()
            new[int(i)][slot] = value
        for i, st in enumerate(new):  # a parameter's state is all there or absent
            missing = [f"state.{i}.{k}" for k in known if k not in st]
            if st and missing:
                raise ValueError(f"load_state_dict: {', '.join(missing)} missing")
        hyper = {k: _hyper_value(state[k]) for k in self.hyper if k in state}
        for k, v in hyper.items():  # set only once everything has been checked
            setattr(self, k, v)
        self.state = new

    def __repr__(self):
        hp = ", ".join(f"{k}={getattr(self, k)!r}" for k in self.hyper)
        return f"{type(self).__name__}({len(self.params)} parameters, {hp})"


def _hyper_value(v):
    v = np.asarray(v)
    return tuple(float(x) for x in v) if v.ndim else float(v)


class SGD(Optimizer):
    """Stochastic gradient descent with momentum and L2 weight decay (PyTorch's rule):

    g <- grad + weight_decay * p;  b <- momentum * b + g (b = g at the first step);
    p <- p - lr * b  (p <- p - lr * g when momentum is 0).

    >>> w = Tensor(np.array([1.0]), requires_grad=True)
    >>> opt = SGD([w], lr=0.5, momentum=0.9)
    >>> for _ in range(2):
    ...     opt.zero_grad(); (w * w).sum().backward(); opt.step()
    >>> w.value                                 # 1 - 0.5*2 = 0; 0 - 0.5*(0.9*2 + 0) = -0.9
    array([-0.9])
    """

    hyper = ("lr", "momentum", "weight_decay")
    slots = ("momentum_buffer",)

    def __init__(self, params, lr, momentum=0.0, weight_decay=0.0):
        super().__init__(params)
        self.lr = _number(lr, "lr", 0.0, None, low_open=True)
        self.momentum = _number(momentum, "momentum", 0.0, 1.0)
        self.weight_decay = _number(weight_decay, "weight_decay", 0.0, None)

    def _update(self, v, g, st):
        if self.weight_decay:
            g = g + self.weight_decay * v
        if self.momentum:
            b = st.get("momentum_buffer")
            if b is None:
                st["momentum_buffer"] = b = np.array(g)  # a copy, 0-d arrays included
            else:
                b *= self.momentum
                b += g
            g = b
        v -= self.lr * g


class Adam(Optimizer):
    """Adam (Kingma & Ba, Adam: A Method for Stochastic Optimization, 2015), as PyTorch's:

    g <- grad + weight_decay * p;  m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2;
    p <- p - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps), t = the parameter's step.

    >>> w = Tensor(np.array([1.0, -1.0]), requires_grad=True)
    >>> opt = Adam([w], lr=0.1)
    >>> (w * w).sum().backward(); opt.step(); w.value  # the first step moves each by ~lr
    array([ 0.9, -0.9])
    """

    hyper = ("lr", "betas", "eps", "weight_decay")
    slots = ("exp_avg", "exp_avg_sq")
    counters = ("step",)

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params)
        self.lr = _number(lr, "lr", 0.0, None, low_open=True)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        self.betas = (_number(betas[0], "betas[0]", 0.0, 1.0),
                      _number(betas[1], "betas[1]", 0.0, 1.0))
        self.eps = _number(eps, "eps", 0.0, None)
        self.weight_decay = _number(weight_decay, "weight_decay", 0.0, None)

    def _update(self, v, g, st):
        b1, b2 = self.betas
        if self.weight_decay:
            g = g + self.weight_decay * v
        if "exp_avg" not in st:
            st["exp_avg"], st["exp_avg_sq"], st["step"] = np.zeros_like(v), np.zeros_like(v), 0
        m, s = st["exp_avg"], st["exp_avg_sq"]
        st["step"] = t = st["step"] + 1
        # one scratch array per parameter (not state: never saved), so a step allocates nothing
        buf = st.get("_scratch")
        if buf is None or buf.shape != v.shape or buf.dtype != v.dtype:
            buf = st["_scratch"] = np.empty_like(v)
        np.multiply(g, 1.0 - b1, out=buf)
        m *= b1
        m += buf
        np.multiply(g, g, out=buf)
        buf *= 1.0 - b2
        s *= b2
        s += buf
        np.sqrt(s, out=buf)
        buf *= 1.0 / math.sqrt(1.0 - b2 ** t)
        buf += self.eps
        np.divide(m, buf, out=buf)
        buf *= self.lr / (1.0 - b1 ** t)
        v -= buf
