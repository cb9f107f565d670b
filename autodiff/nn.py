"""Neural-network building blocks on the engine: modules, layers, activations; the losses
(in losses.py) are re-exported here.

A `Module` holds its parameters as leaf Tensors (requires_grad=True) in plain attributes, and
its submodules likewise; `named_parameters()` walks them in the order they were assigned.
Layers are batch-first: a `Linear` computes `x @ W + b` with W of shape (in, out), one matrix
product per layer for the whole batch. The paper's `Neuron` and `Layer` are the same thing with
an activation. Losses are functions of Tensors; they return scalar Tensors (means over the batch).
Everything keeps the dtype of its inputs: float32 parameters and float32 data give float32
outputs, gradients and optimizer state.

>>> import numpy as np
>>> from autodiff import nn
>>> net = nn.MLP([2, 8, 3], "tanh", rng=np.random.default_rng(0))
>>> [name for name, _ in net.named_parameters()]
['0.weight', '0.bias', '2.weight', '2.bias']
>>> loss = nn.cross_entropy(net(np.ones((4, 2))), np.array([0, 1, 2, 1]))
>>> loss.backward(); net[0].weight.grad.shape
(2, 8)
"""
import math

import numpy as np

from .core import primitive
from .ops.products import (_matmul_batch, _matmul_jvp_a, _matmul_jvp_b, _matmul_vjp_a,
                           _matmul_vjp_b, matmul)
from .ops.elementwise import add
from .losses import binary_cross_entropy_with_logits, cross_entropy, mse, nll
from .ops import relu, reshape, sigmoid, softplus, tanh
from .tensor import Tensor, getval

__all__ = ["Module", "Linear", "Sequential", "MLP", "Activation", "Layer", "Neuron", "relu",
           "sigmoid", "tanh", "softplus", "identity", "mse", "cross_entropy",
           "binary_cross_entropy_with_logits", "nll"]


def identity(x):
    """x itself: the "linear" activation."""
    return x


ACTIVATIONS = {"relu": relu, "sigmoid": sigmoid, "tanh": tanh, "softplus": softplus,
               "linear": identity}


def _activation(activation, what="activation"):
    """(name, function) for an activation given by name or as a callable."""
    if callable(activation):
        for name, fn in ACTIVATIONS.items():  # nn.relu, ad.sigmoid (a Primitive: no __name__)
            if activation is fn:
                return name, fn
        return getattr(activation, "__name__", type(activation).__name__), activation
    if activation not in ACTIVATIONS:
        raise ValueError(f"{what} must be one of {sorted(ACTIVATIONS)} or a callable, "
                         f"got {activation!r}")
    return activation, ACTIVATIONS[activation]


def _positive_int(n, what):
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"{what} must be an integer, got {type(n).__name__}")
    if n < 1:
        raise ValueError(f"{what} must be >= 1, got {n}")
    return int(n)


# x @ W + b as one primitive: one tape entry per layer instead of two, and the bias added in place
# (together ~4% of an MNIST MLP step). The rules are matmul's and the bias's, in engine ops.
def _linear_fwd(x, W, b):
    out = np.matmul(x, W)
    out += b
    return out


def _bias_jvp(t, ans, x, W, b):
    return reshape(t, t.shape[:1] + (1,) * (ans.ndim - 1) + t.shape[1:])  # batch axis first


_linear = primitive(
    "linear", _linear_fwd,
    vjp=(lambda g, ans, x, W, b: _matmul_vjp_a(g, ans, x, W),
         lambda g, ans, x, W, b: _matmul_vjp_b(g, ans, x, W), lambda g, ans, x, W, b: g),
    jvp=(lambda t, ans, x, W, b: _matmul_jvp_a(t, ans, x, W),
         lambda t, ans, x, W, b: _matmul_jvp_b(t, ans, x, W), _bias_jvp),
    batch=lambda prim, args, batched: add.batch_rule()(
        add, [_matmul_batch(matmul, args[:2], batched[:2]), args[2]],
        (batched[0] or batched[1], batched[2])),
    doc="x @ W + b for a bias b of shape (out,).")


# ---- modules -------------------------------------------------------------------------------------
class Module:
    """Base class: parameters and submodules are attributes, found in assignment order.

    Subclasses set Tensors with requires_grad=True (parameters) and Modules as attributes
    (lists or tuples of them too) and define `forward`; `module(x)` calls `forward(x)`.
    Parameter names are dotted attribute paths ("encoder.0.weight"); a Tensor shared by two
    modules is listed once, under its first name. There is no `__init__` to call.
    """

    training = True

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def _children(self):
        """(name, value) of the attributes that are parameters or modules, in order."""
        for name, value in vars(self).items():
            if isinstance(value, (list, tuple)):
                for i, item in enumerate(value):
                    if isinstance(item, (Module, Tensor)):
                        yield f"{name}.{i}", item
            elif isinstance(value, (Module, Tensor)):
                yield name, value

    def named_modules(self):
        """[(dotted name, module)] of this module ("" first) and every submodule, in order; a
        module reached by two paths is listed once, under its first name."""
        out, seen = [], set()
        stack = [("", self)]  # depth first, in attribute order
        while stack:
            prefix, m = stack.pop()
            if id(m) in seen:
                continue
            seen.add(id(m))
            out.append((prefix[:-1], m))
            stack.extend(reversed([(prefix + n + ".", v) for n, v in m._children()
                                   if isinstance(v, Module)]))
        return out

    def named_parameters(self):
        """[(dotted name, Tensor)] of every parameter, submodules' included, in order."""
        out, seen = [], set()
        stack = [("", self)]  # depth first, in attribute order
        while stack:
            prefix, value = stack.pop()
            if isinstance(value, Module):
                stack.extend(reversed([(prefix + n + ".", v) for n, v in value._children()]))
            elif value.requires_grad and id(value) not in seen:
                seen.add(id(value))
                out.append((prefix[:-1], value))
        return out

    def parameters(self):
        """The parameters (leaf Tensors), in the order of `named_parameters()`."""
        return [p for _, p in self.named_parameters()]

    def zero_grad(self):
        """Forget every parameter's gradient (`.grad` becomes None)."""
        for p in self.parameters():
            p.grad = None

    def state_dict(self):
        """{name: copy of the parameter's numpy array}."""
        return {name: p.value.copy() for name, p in self.named_parameters()}

    def load_state_dict(self, state):
        """Set every parameter from {name: array}; names and shapes must match exactly.

        Values are copied and converted to the parameter's dtype; the parameter Tensors stay the
        same objects (an optimizer holding them keeps working). A failed load changes nothing.
        """
        params = dict(self.named_parameters())
        missing = [n for n in params if n not in state]
        unexpected = [n for n in state if n not in params]
        if missing or unexpected:
            raise ValueError(f"load_state_dict: missing parameters {missing}, unexpected "
                             f"{unexpected} (module {type(self).__name__})")
        new = {}  # every value checked before any is set: a failed load changes nothing
        for name, p in params.items():
            value = np.asarray(getval(state[name]))
            if value.dtype.kind not in "biuf":
                raise TypeError(f"load_state_dict: parameter {name!r}: the state gives dtype "
                                f"{value.dtype}, not a real number array")
            if value.shape != p.shape:
                raise ValueError(f"load_state_dict: parameter {name!r} has shape {p.shape}, "
                                 f"the state gives {value.shape}")
            new[name] = value.astype(p.dtype, copy=True)
        for name, p in params.items():
            p._v = new[name]

    def train(self, mode=True):
        """Set `.training` on this module and every submodule; returns self."""
        for _, m in self.named_modules():
            m.training = bool(mode)
        return self

    def eval(self):
        """`train(False)`: evaluation mode; returns self."""
        return self.train(False)

    def extra_repr(self):
        """What `repr` shows between the parentheses of a module without submodules."""
        return ""

    def __repr__(self):
        subs = [(n, v) for n, v in self._children() if isinstance(v, Module)]
        if not subs:
            return f"{type(self).__name__}({self.extra_repr()})"
        lines = [f"  ({n}): " + repr(m).replace("\n", "\n  ") for n, m in subs]
        return f"{type(self).__name__}(\n" + "\n".join(lines) + "\n)"


class Activation(Module):
    """An activation function as a module: `Activation("relu")`, or any callable."""

    def __init__(self, activation):
        self.name, self.fn = _activation(activation)

    def forward(self, x):
        return self.fn(x)

    def extra_repr(self):
        return self.name


class Linear(Module):
    """Affine map y = x @ W + b, batch-first; W has shape (in_features, out_features).

    init "glorot": W ~ U(-a, a), a = sqrt(6 / (in + out)) (Glorot & Bengio, Understanding the
    difficulty of training deep feedforward neural networks, 2010); "he": W ~ N(0, 2 / in)
    (He et al., Delving deep into rectifiers, 2015). The bias starts at zero.

    >>> lin = Linear(3, 2, rng=np.random.default_rng(0), dtype=np.float32)
    >>> lin(np.ones((5, 3), dtype=np.float32)).shape, lin.weight.dtype
    ((5, 2), dtype('float32'))
    """

    def __init__(self, in_features, out_features, bias=True, *, rng=None, init="glorot",
                 dtype=np.float64):
        self.in_features = _positive_int(in_features, "in_features")
        self.out_features = _positive_int(out_features, "out_features")
        if rng is None:
            rng = np.random.default_rng()
        elif not isinstance(rng, np.random.Generator):
            raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
        dtype = np.dtype(dtype)
        if not np.issubdtype(dtype, np.floating):
            raise TypeError(f"dtype must be a floating dtype, got {dtype}")
        shape = (self.in_features, self.out_features)
        if init == "glorot":
            a = math.sqrt(6.0 / (self.in_features + self.out_features))
            w = rng.uniform(-a, a, size=shape)
        elif init == "he":
            w = rng.normal(0.0, math.sqrt(2.0 / self.in_features), size=shape)
        else:
            raise ValueError(f"init must be 'glorot' or 'he', got {init!r}")
        self.weight = Tensor(w.astype(dtype), requires_grad=True)
        self.bias = Tensor(np.zeros(self.out_features, dtype), requires_grad=True) if bias \
            else None

    def forward(self, x):
        return x @ self.weight if self.bias is None else _linear(x, self.weight, self.bias)

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}, dtype={self.weight.dtype}")


class Sequential(Module):
    """Modules applied one after the other; children are named "0", "1", ... and indexable.

    Plain callables (e.g. `nn.relu`) are accepted and wrapped in `Activation`.
    """

    def __init__(self, *modules):
        for i, m in enumerate(modules):
            if not isinstance(m, Module):
                if not callable(m):
                    raise TypeError(f"Sequential: argument {i} is a {type(m).__name__}, not a "
                                    f"Module or a callable")
                m = Activation(m)
            setattr(self, str(i), m)
        self._keys = tuple(str(i) for i in range(len(modules)))

    def __getitem__(self, i):
        return getattr(self, self._keys[i])

    def __len__(self):
        return len(self._keys)

    def __iter__(self):
        return (getattr(self, k) for k in self._keys)

    def forward(self, x):
        children = vars(self)
        for k in self._keys:
            x = children[k](x)
        return x


class MLP(Sequential):
    """Multilayer perceptron: Linear(sizes[0], sizes[1]), activation, ..., Linear(.., sizes[-1]).

    `activation` ("relu", "sigmoid", "tanh", "softplus", "linear" or a callable) follows every
    hidden layer, `output_activation` (default none) the last. Weights use He initialisation
    for relu and Glorot otherwise; `rng` (numpy Generator) seeds them all.
    """

    def __init__(self, sizes, activation="relu", *, rng=None, dtype=np.float64,
                 output_activation=None):
        sizes = list(sizes)
        if len(sizes) < 2:
            raise ValueError(f"sizes must list at least an input and an output size, got {sizes}")
        act_name, _ = _activation(activation)
        if output_activation is not None:
            _activation(output_activation, "output_activation")
        rng = np.random.default_rng() if rng is None else rng
        init = "he" if act_name == "relu" else "glorot"
        layers = []
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(Linear(n_in, n_out, rng=rng, init=init, dtype=dtype))
            if i < len(sizes) - 2:
                layers.append(Activation(activation))
        if output_activation is not None:
            layers.append(Activation(output_activation))
        super().__init__(*layers)


class Layer(Linear):
    """The paper's layer of neurons: activation(x @ W + b), one matrix product for the batch.

    `activation` is "relu" | "sigmoid" | "linear" (or "tanh", "softplus"); x has shape
    (batch, input_dim) or (input_dim,), the output (batch, output_dim) or (output_dim,).

    >>> Layer(3, 4, "sigmoid", rng=np.random.default_rng(0))(np.zeros(3)).value
    array([0.5, 0.5, 0.5, 0.5])
    """

    def __init__(self, input_dim, output_dim, activation="relu", *, rng=None, dtype=np.float64):
        self.activation, self.fn = _activation(activation)
        super().__init__(input_dim, output_dim, rng=rng, dtype=dtype,
                         init="he" if self.activation == "relu" else "glorot")

    def forward(self, x):
        return self.fn(super().forward(x))

    def extra_repr(self):
        return (f"input_dim={self.in_features}, output_dim={self.out_features}, "
                f"activation={self.activation!r}")


class Neuron(Layer):
    """The paper's neuron: activation(x . w + b); output shape (batch,), or () for one x."""

    def __init__(self, input_dim, activation="relu", *, rng=None, dtype=np.float64):
        super().__init__(input_dim, 1, activation, rng=rng, dtype=dtype)

    def forward(self, x):
        y = super().forward(x)
        return reshape(y, y.shape[:-1])

    def extra_repr(self):
        return f"input_dim={self.in_features}, activation={self.activation!r}"
