"""Discrete families: Bernoulli, Binomial, Poisson, NegativeBinomial (NB2), Categorical, Geometric.

Values are data (ADVI observes discrete sites, it does not draw them): log_prob is differentiable
in the parameters (probs, logits, rate, ...), and a value that is not an integer of the support
(non-integer, negative, above total_count) has log_prob = -inf. Families with a probability take
`probs=` or `logits=` (exactly one, as NumPyro) and expose both; the log-density is computed from
the one given, in the stable form for logits (x l - softplus(l)). Draws are int64 arrays.
"""
import numpy as np

import autodiff as ad
from autodiff import Tensor, getval, shape_of

from .. import constraints
from .base import Distribution, as_param
from .kernels import bernoulli_logits_log_prob

_sg = ad.stop_gradient  # a value without derivative: numpy, or per row under vmap

__all__ = ["Bernoulli", "Binomial", "Poisson", "NegativeBinomial", "Categorical", "Geometric"]

# above this total_count (Binomial) or concentration (NegativeBinomial), log C(n, k) and
# log Gamma(k + phi) - log Gamma(phi) - log k! lose more than ~1e-9 to cancellation between
# lgammas of size n log n; one betaln (scipy's asymptotic form, ~4x the cost) stays accurate
_BIG = 1e6


def _shape(x):
    return shape_of(x)


def _full(x, shape):
    v = _sg(x)  # under vmap each row's own value, boxed
    return ad.broadcast_to(v, shape) if isinstance(v, Tensor) else np.broadcast_to(v, shape)


def _data(value, *params):
    """A value as a float array (ints and bools as the parameters' float dtype); Tensors kept."""
    if isinstance(value, Tensor):
        return value
    v = np.asarray(value)
    if np.issubdtype(v.dtype, np.floating):
        return v
    return v.astype(np.result_type(*(getval(p) for p in params if p is not None), np.float32))


def _one_of(cls, probs, logits):
    """(name, parameter) of the single one given among probs and logits."""
    if (probs is None) == (logits is None):
        raise ValueError(f"{cls}: give exactly one of 'probs' or 'logits', got "
                         f"{'both' if probs is not None else 'neither'}")
    if probs is not None:
        return "probs", as_param(probs, "probs")
    return "logits", as_param(logits, "logits")


class _ProbsLogits(Distribution):
    """Shared by the families with a probability parameter: `probs` and `logits` both exposed,
    the one not given computed on first use (and kept)."""
    _simplex = False   # Categorical: probs on the simplex, logits normalised by log_softmax

    def _set_probs_logits(self, probs, logits):
        name, p = _one_of(type(self).__name__, probs, logits)
        self._given = name
        self._probs, self._logits = (p, None) if name == "probs" else (None, p)
        c = (constraints.simplex if self._simplex else constraints.unit_interval) \
            if name == "probs" else constraints.real
        # only the given parameter is validated (probs = 0 is valid, its logits -inf are not)
        self.arg_constraints = {**self.arg_constraints, name: c}
        return p

    @property
    def probs(self):
        if self._probs is None:
            self._probs = ad.softmax(self._logits) if self._simplex else ad.sigmoid(self._logits)
        return self._probs

    @property
    def logits(self):
        if self._logits is None:
            with np.errstate(divide="ignore"):
                p = self._probs
                self._logits = ad.log(p) if self._simplex else ad.log(p) - ad.log1p(-p)
        return self._logits

    def _support_point(self, v):
        return np.zeros(np.broadcast_shapes(v.shape, self.batch_shape))


class Bernoulli(_ProbsLogits):
    """Bernoulli(probs | logits): log p(x) = x log p + (1 - x) log(1 - p), x in {0, 1}.

    >>> round(float(Bernoulli(probs=0.3).log_prob(1)), 6)
    -1.203973
    """
    arg_constraints = {}
    support = constraints.boolean
    is_discrete = True

    def __init__(self, probs=None, logits=None, *, validate_args=None):
        p = self._set_probs_logits(probs, logits)
        super().__init__(_shape(p), validate_args=validate_args)

    def sample(self, rng, sample_shape=()):
        p = getval(self.probs)
        return (rng.random(self.shape(sample_shape)) < p).astype(np.int64)

    def log_prob(self, value):
        def lp(x):
            if self._given == "logits":
                return bernoulli_logits_log_prob(x, self._logits)
            return ad.xlogy(x, self._probs) + ad.xlog1py(1.0 - x, -self._probs)
        return self._mask(_data(value, self._probs, self._logits), lp)

    @property
    def mean(self):
        return _full(self.probs, self.batch_shape)

    @property
    def variance(self):
        p = _sg(self.probs)
        return _full(p * (1.0 - p), self.batch_shape)


class Binomial(_ProbsLogits):
    """Binomial(total_count, probs | logits): log p(k) = log C(n, k) + k log p + (n - k) log(1 - p).

    >>> round(float(Binomial(10, probs=0.3).log_prob(3)), 6)
    -1.321151
    """
    arg_constraints = {"total_count": constraints.nonnegative_integer}
    is_discrete = True

    def __init__(self, total_count=1, probs=None, logits=None, *, validate_args=None):
        self.total_count = as_param(total_count, "total_count")
        p = self._set_probs_logits(probs, logits)
        self.support = constraints.integer_interval(0, self.total_count)
        super().__init__(np.broadcast_shapes(_shape(self.total_count), _shape(p)),
                         validate_args=validate_args)

    def sample(self, rng, sample_shape=()):
        shape = self.shape(sample_shape)
        n = np.broadcast_to(getval(self.total_count), shape).astype(np.int64)
        return rng.binomial(n, np.broadcast_to(getval(self.probs), shape))

    def log_prob(self, value):
        n = self.total_count

        def lp(k):
            if np.any(np.asarray(getval(n)) > _BIG):  # the lgammas cancel: one betaln instead
                log_choose = -ad.log1p(n) - ad.betaln(k + 1.0, n - k + 1.0)
            else:
                log_choose = ad.lgamma(n + 1.0) - ad.lgamma(k + 1.0) - ad.lgamma(n - k + 1.0)
            if self._given == "logits":
                return log_choose + k * self._logits - n * ad.softplus(self._logits)
            return log_choose + ad.xlogy(k, self._probs) + ad.xlog1py(n - k, -self._probs)
        return self._mask(_data(value, n, self._probs, self._logits), lp)

    @property
    def mean(self):
        return _full(_sg(self.total_count) * _sg(self.probs), self.batch_shape)

    @property
    def variance(self):
        p = _sg(self.probs)
        return _full(_sg(self.total_count) * p * (1.0 - p), self.batch_shape)


class Poisson(Distribution):
    """Poisson(rate | log_rate): log p(k) = k log(rate) - rate - log k!.

    With `log_rate` (the GLM form) log p(k) = k log_rate - exp(log_rate) - log k!.

    >>> round(float(Poisson(2.0).log_prob(3)), 6)
    -1.712318
    """
    arg_constraints = {}
    support = constraints.nonnegative_integer
    is_discrete = True

    def __init__(self, rate=None, *, log_rate=None, validate_args=None):
        if (rate is None) == (log_rate is None):
            raise ValueError("Poisson: give exactly one of 'rate' or 'log_rate', got "
                             f"{'both' if rate is not None else 'neither'}")
        if rate is not None:
            self._rate, self._log_rate = as_param(rate, "rate"), None
            self.arg_constraints = {"rate": constraints.positive}
            p = self._rate
        else:
            self._rate, self._log_rate = None, as_param(log_rate, "log_rate")
            self.arg_constraints = {"log_rate": constraints.real}
            p = self._log_rate
        super().__init__(_shape(p), validate_args=validate_args)

    @property
    def rate(self):
        if self._rate is None:
            self._rate = ad.exp(self._log_rate)
        return self._rate

    @property
    def log_rate(self):
        if self._log_rate is None:
            self._log_rate = ad.log(self._rate)
        return self._log_rate

    def sample(self, rng, sample_shape=()):
        return rng.poisson(np.broadcast_to(getval(self.rate), self.shape(sample_shape)))

    def log_prob(self, value):
        def lp(k):
            if self._rate is None:  # given log_rate
                return k * self._log_rate - ad.exp(self._log_rate) - ad.lgamma(k + 1.0)
            return ad.xlogy(k, self._rate) - self._rate - ad.lgamma(k + 1.0)
        return self._mask(_data(value, self._rate, self._log_rate), lp)

    def _support_point(self, v):
        return np.zeros(np.broadcast_shapes(v.shape, self.batch_shape))

    @property
    def mean(self):
        return _full(self.rate, self.batch_shape)

    @property
    def variance(self):
        return _full(self.rate, self.batch_shape)


class NegativeBinomial(Distribution):
    """NegativeBinomial(mean, concentration), NB2 (Stan's neg_binomial_2): variance mu + mu^2/phi;
    log p(k) = log Gamma(k + phi) - log Gamma(phi) - log k! + phi log(phi/(mu + phi))
    + k log(mu/(mu + phi)).

    >>> round(float(NegativeBinomial(2.0, 3.0).log_prob(1)), 6)
    -1.350155
    """
    arg_constraints = {"mean": constraints.positive, "concentration": constraints.positive}
    support = constraints.nonnegative_integer
    is_discrete = True

    def __init__(self, mean, concentration, *, validate_args=None):
        self._mean = as_param(mean, "mean")
        self.concentration = as_param(concentration, "concentration")
        super().__init__(np.broadcast_shapes(_shape(self._mean), _shape(self.concentration)),
                         validate_args=validate_args)

    def sample(self, rng, sample_shape=()):
        shape = self.shape(sample_shape)
        mu, phi = getval(self._mean), getval(self.concentration)
        lam = rng.gamma(np.broadcast_to(phi, shape), np.broadcast_to(mu / phi, shape))
        return rng.poisson(lam)

    def log_prob(self, value):
        mu, phi = self._mean, self.concentration

        def lp(k):
            if np.any(np.asarray(getval(phi)) > _BIG):  # near the Poisson limit the lgammas cancel
                log_choose = -ad.betaln(k + 1.0, phi) - ad.log(k + phi)
            else:
                log_choose = ad.lgamma(k + phi) - ad.lgamma(phi) - ad.lgamma(k + 1.0)
            # phi log(phi/(mu + phi)) = -phi log1p(mu/phi): no cancellation for phi >> mu
            return (log_choose - phi * ad.log1p(mu / phi)
                    + k * (ad.log(mu) - ad.log(mu + phi)))
        return self._mask(_data(value, mu, phi), lp)

    def _support_point(self, v):
        return np.zeros(np.broadcast_shapes(v.shape, self.batch_shape))

    @property
    def mean(self):
        """The parameter `mean` (NumPyro's name), which is also the moment, as a numpy array;
        the parameter as given (a Tensor, say) is `_mean`."""
        return _full(self._mean, self.batch_shape)

    @property
    def variance(self):
        mu = _sg(self._mean)
        return _full(mu + mu * mu / _sg(self.concentration), self.batch_shape)


class Categorical(_ProbsLogits):
    """Categorical(probs | logits) over {0, ..., K-1}: log p(k) = log probs[k]
    = logits[k] - logsumexp(logits); the last axis of the parameter indexes the K categories.

    >>> round(float(Categorical(probs=np.array([0.2, 0.5, 0.3])).log_prob(1)), 6)
    -0.693147
    """
    arg_constraints = {}
    is_discrete = True
    _simplex = True

    def __init__(self, probs=None, logits=None, *, validate_args=None):
        p = self._set_probs_logits(probs, logits)
        shape = _shape(p)
        if len(shape) == 0:
            raise ValueError(f"Categorical: {self._given!r} needs a last axis of K categories, "
                             "got a scalar")
        self.num_categories = shape[-1]
        self.support = constraints.integer_interval(0, shape[-1] - 1)
        super().__init__(shape[:-1], validate_args=validate_args)

    def sample(self, rng, sample_shape=()):
        p = np.asarray(getval(self.probs))
        cum = np.cumsum(p, axis=-1)
        u = rng.random(self.shape(sample_shape) + (1,)) * cum[..., -1:]
        k = np.sum(cum[..., :-1] <= u, axis=-1)   # u in [cum[k-1], cum[k]) -> k
        return k.astype(np.int64)

    def log_prob(self, value):
        def lp(k):
            if isinstance(_sg(k), Tensor):
                raise TypeError(f"{type(self).__name__}.log_prob: a category that differs "
                                f"per row under vmap (it would index with the whole stack): "
                                f"loop over the rows")
            k = np.asarray(getval(k)).astype(np.intp)
            # with probs, pick then take the log: log of every probability would put 0 * inf
            # = nan into the gradient of a category of probability 0 that no value takes
            p = ad.log_softmax(self._logits) if self._given == "logits" else self._probs
            shape = np.broadcast_shapes(k.shape, self.batch_shape)
            if _shape(p)[:-1] != shape:
                p = ad.broadcast_to(p, shape + (self.num_categories,))
            idx = np.broadcast_to(k, shape)[..., None]
            picked = ad.reshape(ad.take_along_axis(p, idx, axis=-1), shape)
            if self._given == "logits":
                return picked
            with np.errstate(divide="ignore"):
                return ad.log(picked)
        return self._mask(value, lp)

    @property
    def mean(self):
        """The mean of the label k (sum_k k p_k; NumPyro gives nan)."""
        p = _sg((self.probs))
        return np.asarray(p @ np.arange(self.num_categories, dtype=p.dtype))

    @property
    def variance(self):
        p = _sg((self.probs))
        k = np.arange(self.num_categories, dtype=p.dtype)
        return np.asarray(p @ (k * k) - (p @ k) ** 2)


class Geometric(_ProbsLogits):
    """Geometric(probs | logits): the number of failures before the first success (as NumPyro),
    log p(k) = k log(1 - p) + log p, k = 0, 1, ...

    >>> round(float(Geometric(probs=0.25).log_prob(2)), 6)
    -1.961659
    """
    arg_constraints = {}
    support = constraints.nonnegative_integer
    is_discrete = True

    def __init__(self, probs=None, logits=None, *, validate_args=None):
        p = self._set_probs_logits(probs, logits)
        super().__init__(_shape(p), validate_args=validate_args)

    def sample(self, rng, sample_shape=()):
        p = np.broadcast_to(getval(self.probs), self.shape(sample_shape))
        return rng.geometric(p) - 1

    def log_prob(self, value):
        def lp(k):
            if self._given == "logits":
                return -(k * ad.softplus(self._logits) + ad.softplus(-self._logits))
            return ad.xlog1py(k, -self._probs) + ad.log(self._probs)
        return self._mask(_data(value, self._probs, self._logits), lp)

    @property
    def mean(self):
        p = _sg(self.probs)
        return _full((1.0 - p) / p, self.batch_shape)

    @property
    def variance(self):
        p = _sg(self.probs)
        return _full((1.0 - p) / (p * p), self.batch_shape)

