"""Losses for `autodiff.nn`: functions of Tensors that return scalar Tensors (means over the
batch, unless `reduction` says otherwise; a mean over an empty batch is a ValueError, not nan).
Re-exported as `autodiff.nn.mse`, ....

>>> import numpy as np
>>> float(mse(np.array([1.0, 3.0]), np.array([0.0, 1.0])))
2.5
"""
import numpy as np

from .core import primitive
from .ops import getitem, mean, reshape, softmax, softplus, stack, sum
from .tensor import Tensor, getval
from .values import shape_of

__all__ = ["mse", "cross_entropy", "binary_cross_entropy_with_logits", "nll"]


# ---- losses --------------------------------------------------------------------------------------
def _as_data(target, like, what):
    """A target that is data (not a Tensor) as an array of the prediction's float dtype."""
    if isinstance(target, Tensor):
        return target
    target = np.asarray(target)
    if not (np.issubdtype(target.dtype, np.number) or target.dtype == bool):
        raise TypeError(f"{what} must be numeric, got dtype {target.dtype}")
    dt = np.result_type(getval(like))
    return target.astype(dt if np.issubdtype(dt, np.floating) else np.float64, copy=False)


def _check_same_shape(pred, target, a, b):
    if shape_of(pred) != shape_of(target):  # one row's under vmap
        raise ValueError(f"{b} has shape {shape_of(target)} but {a} has shape "
                         f"{shape_of(pred)}; they must match (no broadcasting in a loss)")


def _nonempty(x, what):
    """A mean over no elements is 0/0: say so instead of returning nan (and failing later)."""
    if np.size(getval(x)) == 0:
        raise ValueError(f"{what} is empty (shape {np.shape(getval(x))}): the mean loss of an "
                         f"empty batch is undefined")


def _classes(x, labels, what):
    """x of shape (..., C) as (n, C) and integer `labels` of shape (...) as (n,), checked."""
    shape = np.shape(getval(x))
    if len(shape) < 1:
        raise ValueError(f"{what} must have a class axis (shape (..., C)), got a scalar")
    _nonempty(x, what)
    labels = np.asarray(getval(labels))
    if not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(f"labels must be integers (class indices), got dtype {labels.dtype}")
    if labels.shape != shape[:-1]:
        raise ValueError(f"labels has shape {labels.shape} but {what} has shape {shape}: "
                         f"labels must have shape {shape[:-1]}")
    if labels.size and (labels.min() < 0 or labels.max() >= shape[-1]):
        raise ValueError(f"labels must lie in [0, {shape[-1]}), got values in "
                         f"[{labels.min()}, {labels.max()}]")
    return (x if len(shape) == 2 else reshape(x, (-1, shape[-1]))), labels.reshape(-1)


def mse(pred, target):
    """Mean squared error: mean((pred - target)^2); shapes must match."""
    _check_same_shape(pred, target, "pred", "target")
    _nonempty(pred, "pred")
    d = pred - _as_data(target, pred, "target")
    return mean(d * d)


# The fused loss is one tape entry instead of six (logsumexp, gather, sums, scales): that Python
# overhead is ~5% of an MNIST MLP step. Its rules are written with engine ops, so they nest.
def _xent_fwd(logits, labels):
    m = np.maximum.reduce(logits, axis=-1, keepdims=True)
    z = logits - m
    lse = np.log(np.add.reduce(np.exp(z), axis=-1))
    n = labels.shape[0]
    return np.asarray((lse.sum() - z[np.arange(n), labels].sum()) / n, dtype=logits.dtype)


def _xent_slope(logits, labels):
    """(softmax(logits) - onehot(labels)) / n: the gradient of the mean cross entropy."""
    onehot = np.zeros(getval(logits).shape, dtype=np.result_type(getval(logits)))
    onehot[np.arange(labels.shape[0]), labels] = 1.0
    return (softmax(logits, axis=-1) - onehot) * (1.0 / labels.shape[0])


def _xent_vjp(g, ans, logits, labels):
    if isinstance(logits, np.ndarray) and isinstance(g, np.ndarray):
        # first order on plain arrays (every training step): numpy directly, 3x fewer calls
        e = np.exp(logits - np.maximum.reduce(logits, axis=-1, keepdims=True))
        e /= np.add.reduce(e, axis=-1, keepdims=True)
        e[np.arange(labels.shape[0]), labels] -= 1.0
        e *= g * (1.0 / labels.shape[0])
        return e
    return g * _xent_slope(logits, labels)  # traced (higher order): engine ops


def _xent_batch(prim, args, batched):
    # rows one at a time: a loss of a whole minibatch is rarely mapped over
    (logits, labels), n = args, _shape0(args, batched)
    return stack([_xent(logits[i] if batched[0] else logits,
                        getval(labels)[i] if batched[1] else labels) for i in range(n)])


def _shape0(args, batched):
    return next(a.shape[0] for a, b in zip(args, batched) if b)


_xent = primitive("cross_entropy", _xent_fwd, vjp=_xent_vjp,
                  jvp=lambda t, ans, logits, labels: sum(t * _xent_slope(logits, labels),
                                                         axis=(-2, -1)), batch=_xent_batch)


def cross_entropy(logits, labels):
    """Mean categorical cross entropy from logits: mean_i [logsumexp(l_i) - l_i[y_i]].

    `logits` (..., C), `labels` integer class indices of shape (...). Computed from the
    max-shifted logits, so it is finite for any finite logits; d/dl = (softmax(l) - onehot) / n.

    >>> float(cross_entropy(np.array([[0.0, 0.0], [1000.0, 0.0]]), np.array([0, 0])))
    0.34657359027997264
    """
    logits, labels = _classes(logits, labels, "logits")
    return _xent(logits, labels=labels)


def nll(log_probs, labels):
    """Mean negative log likelihood of class indices: -mean_i log_probs[i, y_i].

    `log_probs` (..., C), e.g. `log_softmax(logits)`; `labels` integers of shape (...).
    """
    log_probs, labels = _classes(log_probs, labels, "log_probs")
    return -mean(getitem(log_probs, (np.arange(labels.shape[0]), labels)))


_REDUCTIONS = ("mean", "sum", "none")


def binary_cross_entropy_with_logits(logits, targets, reduction="mean"):
    """Binary cross entropy from logits: softplus(l) - t l, elementwise, then reduced.

    Equals -[t log sigmoid(l) + (1 - t) log(1 - sigmoid(l))] and is finite for any l.
    `targets` (probabilities in [0, 1]) has the shape of `logits`; `reduction` is "mean",
    "sum" or "none".

    >>> float(binary_cross_entropy_with_logits(np.array([0.0, 800.0]), np.array([1.0, 1.0])))
    0.34657359027997264
    """
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    _check_same_shape(logits, targets, "logits", "targets")
    if reduction == "mean":
        _nonempty(logits, "logits")
    out = softplus(logits) - _as_data(targets, logits, "targets") * logits
    if reduction == "mean":
        return mean(out)
    return sum(out) if reduction == "sum" else out
