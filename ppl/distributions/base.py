"""The Distribution base class, its shape contract, and the two wrappers every family gets:
`expand(batch_shape)` (ExpandedDistribution) and `to_event(n)` (Independent).

Shapes, once for all families (as NumPyro and PyTorch):

    sample(rng, sample_shape)  ->  sample_shape + batch_shape + event_shape   (numpy array)
    log_prob(value)            ->  sample_shape + batch_shape                 (Tensor or array)

`batch_shape` is the broadcast shape of the parameters (less their event axes); `event_shape`
is the shape of one draw (() for scalars, (k,) for a vector family). Parameters may be
numbers, numpy arrays or engine Tensors; log_prob is differentiable in the value and in
every Tensor parameter. A value outside the support has log_prob = -inf, never NaN.
"""
import contextlib

import numpy as np

import autodiff as ad
from autodiff import Tensor, getval, shape_of

from .. import constraints

_sg = ad.stop_gradient  # a value without derivative: numpy, or per row under vmap

__all__ = ["Distribution", "ExpandedDistribution", "Independent", "enable_validation",
           "validation_enabled", "is_validation_enabled", "as_param", "broadcast_shape"]

_VALIDATE = [True]
CDFS = {}  # family -> {"cdf", "log_cdf", "icdf"}: filled by cdf.py


def enable_validation(flag=True):
    """Turn validation on (the default) or off, globally.

    On: parameters are checked on construction (ValueError naming them), log_prob gives -inf
    outside the support, observed data are checked for NaN. Off (NumPyro's
    validate_args=False): none of that, for speed where the model has been checked once
    already (ADVI's steps); a value outside the support then gets whatever the density's
    formula gives there, possibly NaN.
    """
    _VALIDATE[0] = bool(flag)


def is_validation_enabled():
    """Whether distributions check their parameters on construction."""
    return _VALIDATE[0]


@contextlib.contextmanager
def validation_enabled(flag=True):
    """Context manager: validation (see `enable_validation`) on or off inside the block.
    ADVI turns it off for its steps, after checking the model at the initial point: an
    invalid parameter there should give a non-finite density to retry, not stop the fit."""
    old = _VALIDATE[0]
    _VALIDATE[0] = bool(flag)
    try:
        yield
    finally:
        _VALIDATE[0] = old


def broadcast_shape(*params):
    """The broadcast shape of the parameters' values (np.broadcast_shapes, with a fast path
    for the common case of equal shapes: distributions are built on every model run)."""
    try:
        shapes = [p.shape for p in params]  # arrays and Tensors alike
    except AttributeError:
        shapes = [shape_of(p) for p in params]
    first = shapes[0]
    for s in shapes[1:]:
        if s != first:
            return np.broadcast_shapes(*shapes)
    return first


def as_param(x, name):
    """A parameter as a float numpy array, or the Tensor itself (kept, so gradients flow)."""
    t = type(x)
    if t is Tensor or t is float:  # the common cases first: one model run builds many
        return x if t is Tensor else np.asarray(x)
    if t is np.ndarray and x.dtype.kind == "f":
        return x
    if isinstance(x, Tensor):
        return x
    if isinstance(x, (bool, np.bool_)):
        raise TypeError(f"parameter {name!r} must be a number, array or Tensor, got a bool")
    try:
        a = np.asarray(x)
    except Exception as e:  # ragged lists and the like
        raise TypeError(f"parameter {name!r} must be a number, array or Tensor, "
                        f"got {type(x).__name__}") from e
    if a.dtype == object or not (np.issubdtype(a.dtype, np.number) or a.dtype == bool):
        raise TypeError(f"parameter {name!r} must be numeric, got {type(x).__name__} "
                        f"of dtype {a.dtype}")
    return a if np.issubdtype(a.dtype, np.floating) else a.astype(np.float64)


def _describe(v):
    v = np.asarray(getval(v))
    if v.size == 1:
        return repr(v.reshape(()).item())
    head = ", ".join(f"{b:g}" for b in v.ravel()[:6])
    return f"array of shape {v.shape} ({head}{', ...' if v.size > 6 else ''})"


class Distribution:
    """A probability distribution with a batch of independent members.

    Subclasses set `arg_constraints` (parameter name -> constraint), `support`, call
    `super().__init__(batch_shape, event_shape)` after storing their parameters under those
    names, and implement `sample` and `log_prob` (use `self._mask(value, lp)` or
    `self._log_prob_checked` so that values outside the support give -inf).
    """
    arg_constraints = {}
    support = None
    is_discrete = False

    def __init__(self, batch_shape=(), event_shape=(), validate_args=None):
        self._batch_shape = tuple(batch_shape)
        self._event_shape = tuple(event_shape)
        if validate_args is None:
            validate_args = _VALIDATE[0]
        if validate_args:
            self._validate_params()

    # ---- shapes --------------------------------------------------------------------------------
    @property
    def batch_shape(self):
        return self._batch_shape

    @property
    def event_shape(self):
        return self._event_shape

    @property
    def event_dim(self):
        return len(self._event_shape)

    def shape(self, sample_shape=()):
        """sample_shape + batch_shape + event_shape."""
        return tuple(sample_shape) + self._batch_shape + self._event_shape

    # ---- the interface -------------------------------------------------------------------------
    def sample(self, rng, sample_shape=()):
        """Draws as a numpy array of shape sample_shape + batch_shape + event_shape."""
        raise NotImplementedError

    def log_prob(self, value):
        """log p(value), of shape sample_shape + batch_shape."""
        raise NotImplementedError

    def cdf(self, value):
        """P(X <= value), of shape sample_shape + batch_shape: 0 below the support, 1 above;
        differentiable in the value and the parameters where a closed form exists (cdf.py)."""
        rules = self._cdf_rules("cdf")
        if rules["cdf"] is not None:
            return rules["cdf"](self, value)
        return ad.exp(rules["log_cdf"](self, value))

    def log_cdf(self, value):
        """log P(X <= value): -inf below the support (accurate in the left tail where the family
        has its own form, e.g. Normal's log_ndtr)."""
        rules = self._cdf_rules("log_cdf")
        if rules["log_cdf"] is not None:
            return rules["log_cdf"](self, value)
        with np.errstate(divide="ignore"):
            return ad.log(rules["cdf"](self, value))

    def icdf(self, q):
        """The quantile function: x with cdf(x) = q, for q in [0, 1] (NaN outside)."""
        rules = self._cdf_rules("icdf")
        if rules["icdf"] is None:
            raise NotImplementedError(f"{type(self).__name__} has no icdf")
        return rules["icdf"](self, q)

    def _cdf_rules(self, what):
        rules = CDFS.get(type(self))
        if rules is None:
            raise NotImplementedError(f"{type(self).__name__} has no {what}")
        return rules

    @property
    def mean(self):
        raise NotImplementedError(f"{type(self).__name__} has no mean")

    @property
    def variance(self):
        raise NotImplementedError(f"{type(self).__name__} has no variance")

    def expand(self, batch_shape):
        """The same distribution broadcast to a larger batch_shape (plates use this)."""
        batch_shape = tuple(int(s) for s in batch_shape)
        if batch_shape == self._batch_shape:
            return self
        return ExpandedDistribution(self, batch_shape)

    def to_event(self, reinterpreted_batch_ndims=None):
        """Fold the n rightmost batch axes into the event (all of them when n is None)."""
        n = len(self._batch_shape) if reinterpreted_batch_ndims is None \
            else reinterpreted_batch_ndims
        return self if n == 0 else Independent(self, n)

    # ---- helpers for subclasses ----------------------------------------------------------------
    def _validate_params(self):
        for name, c in self.arg_constraints.items():
            v = getattr(self, name, None)
            if v is None:
                continue
            ok = c.check(v)
            if not ok.all():  # under vmap: every row
                raise ValueError(f"{type(self).__name__}: parameter {name!r} must satisfy "
                                 f"{c!r}, got {_describe(v)}")

    def _check_value(self, value):
        """The support test on value, as a boolean array of shape sample + batch."""
        return self.support.check(value)

    def _mask(self, value, log_prob_fn):
        """log_prob_fn(value) where value is in the support, -inf elsewhere.

        With validation off, log_prob_fn(value) as it is. The common case (all in the
        support) costs one check. Otherwise the density is
        evaluated at a point inside the support (so no NaN and no warning from numpy) and the
        outside entries are replaced by -inf, with zero gradient.
        """
        if not _VALIDATE[0]:
            return log_prob_fn(value)
        v = _sg(value)  # under vmap each row's own (boxed)
        ok = self._check_value(v)
        if ok.all():
            return log_prob_fn(value)
        inside = _event_broadcast(ok, self.event_dim)
        safe = ad.where(inside, v, self._support_point(v))
        value = ad.where(inside, value, safe) if isinstance(value, Tensor) else safe
        lp = log_prob_fn(value)
        return ad.where(ok, lp, -np.inf)

    def _support_point(self, v):
        """A value inside the support with v's shape (used to evaluate masked-out entries)."""
        m = _sg(self.mean)
        return ad.broadcast_to(m, np.broadcast_shapes(v.shape, m.shape))

    def _validate_sample(self, value):
        return self._check_value(value)

    def __repr__(self):
        params = ", ".join(f"{k}={_short(getattr(self, k))}" for k in self.arg_constraints
                           if getattr(self, k, None) is not None)
        return f"{type(self).__name__}({params})"


def _short(v):
    v = getval(v)
    a = np.asarray(v)
    return f"{a.item():g}" if a.size == 1 else f"<array {a.shape}>"


def _broadcasts_to(shape, target):
    """Whether `shape` broadcasts to exactly `target` (numpy's rules, right-aligned)."""
    if len(shape) > len(target):
        return False
    return all(a == 1 or a == b for a, b in zip(shape, target[len(target) - len(shape):]))


def _event_broadcast(ok, event_dim):
    return ok.reshape(ok.shape + (1,) * event_dim) if event_dim else ok


class ExpandedDistribution(Distribution):
    """`base` broadcast to `batch_shape`; independent draws along every expanded axis."""

    def __init__(self, base, batch_shape):
        if not _broadcasts_to(base.batch_shape, tuple(batch_shape)):
            raise ValueError(f"expand: batch_shape {tuple(batch_shape)} is not a broadcast of "
                             f"the distribution's batch_shape {base.batch_shape}")
        self.base = base
        self.support = base.support
        self.is_discrete = base.is_discrete
        super().__init__(batch_shape, base.event_shape, validate_args=False)

    def sample(self, rng, sample_shape=()):
        sample_shape = tuple(sample_shape)
        n, b = len(self._batch_shape), self.base.batch_shape
        padded = (1,) * (n - len(b)) + tuple(b)
        grown = [i for i in range(n) if padded[i] == 1 and self._batch_shape[i] != 1]
        x = self.base.sample(rng, sample_shape + tuple(self._batch_shape[i] for i in grown))
        s, k = len(sample_shape), len(grown)
        x = x.reshape(x.shape[:s + k] + padded + self._event_shape)
        x = np.squeeze(x, axis=tuple(s + k + i for i in grown))
        return np.moveaxis(x, list(range(s, s + k)), [s + i for i in grown])

    def log_prob(self, value):
        lp = self.base.log_prob(value)
        have = shape_of(lp)
        if have == self._batch_shape or have[len(have) - len(self._batch_shape):] \
                == self._batch_shape:
            return lp
        return ad.broadcast_to(lp, np.broadcast_shapes(have, self._batch_shape))

    def _grown(self, out):
        have = shape_of(out)
        return out if have[len(have) - len(self._batch_shape):] == self._batch_shape \
            else ad.broadcast_to(out, np.broadcast_shapes(have, self._batch_shape))

    def cdf(self, value):
        return self._grown(self.base.cdf(value))

    def log_cdf(self, value):
        return self._grown(self.base.log_cdf(value))

    def icdf(self, q):
        return self._grown(self.base.icdf(q))

    @property
    def mean(self):
        return np.broadcast_to(_sg(self.base.mean), self.shape())

    @property
    def variance(self):
        return np.broadcast_to(_sg(self.base.variance), self.shape())

    def expand(self, batch_shape):
        return self.base.expand(batch_shape)

    def __repr__(self):
        return f"{self.base!r}.expand({self._batch_shape})"


class Independent(Distribution):
    """`base` with its n rightmost batch axes read as event axes: log_prob sums over them.

    log p(x) = sum over the reinterpreted axes of base.log_prob(x)
    """

    def __init__(self, base, reinterpreted_batch_ndims):
        n = reinterpreted_batch_ndims
        if int(n) != n or not 0 <= n <= len(base.batch_shape):
            raise ValueError("to_event: reinterpreted_batch_ndims must be an integer in "
                             f"[0, {len(base.batch_shape)}] (the batch rank of {base!r}), "
                             f"got {n!r}")
        n = int(n)
        self.base, self.reinterpreted_batch_ndims = base, n
        self.support = constraints.independent(base.support, n)
        self.is_discrete = base.is_discrete
        cut = len(base.batch_shape) - n
        super().__init__(base.batch_shape[:cut], base.batch_shape[cut:] + base.event_shape,
                         validate_args=False)

    def sample(self, rng, sample_shape=()):
        return self.base.sample(rng, sample_shape)

    def log_prob(self, value):
        lp = self.base.log_prob(value)
        return ad.sum(lp, axis=tuple(range(-self.reinterpreted_batch_ndims, 0)))

    @property
    def mean(self):
        return self.base.mean

    @property
    def variance(self):
        return self.base.variance

    def __repr__(self):
        return f"{self.base!r}.to_event({self.reinterpreted_batch_ndims})"
