"""Discrete families against scipy.stats: one table, one row per parameter set.

Each row: the class, its parameters (most broadcast to a (2, 3) batch), a builder of the frozen
scipy.stats reference (bernoulli, binom, poisson, nbinom with n = phi, p = phi/(phi + mu),
geom with loc=-1, and multinomial with n = 1 at one-hot points for Categorical), the value domain
(random integers in the support, and points outside it: non-integer, negative, above n, nan),
and the parameters that log_prob is differentiated in (values are data: never differentiated).
"""
import warnings

import numpy as np
import pytest
from scipy import special, stats

import autodiff as ad
from ppl.distributions import discrete as D

from .dist_checks import (assert_log_prob_matches, assert_log_prob_param_grads,
                          assert_minus_inf_outside, assert_moments,
                          assert_sample_shape_and_support)


# ---- value domains: (draw(rng, shape) of points in the support, points outside it) -----------
def binary(p):
    return lambda rng, shape: rng.integers(0, 2, shape), [0.5, -1.0, 2.0, np.nan]


def counts(p):
    return lambda rng, shape: rng.integers(0, 25, shape), [-1.0, 1.5, np.inf, np.nan]


def upto_n(p):
    n = np.asarray(p["total_count"])
    return (lambda rng, shape: np.floor(rng.uniform(0, 1, shape) * (n + 1)),
            [-1.0, n + 1.0, 0.5, np.nan])


def categories(p):
    k = np.shape(p.get("probs", p.get("logits")))[-1]
    return lambda rng, shape: rng.integers(0, k, shape), [-1.0, float(k), 1.5, np.nan]


# ---- references -------------------------------------------------------------------------------
def _probs(p):
    return np.asarray(p["probs"]) if "probs" in p else special.expit(np.asarray(p["logits"]))


class CategoricalRef:
    """scipy.stats.multinomial(1, p) at the one-hot point of k; moments of the label k from
    scipy.stats.rv_discrete per batch member."""

    def __init__(self, p):
        self.p = np.asarray(p)

    def logpmf(self, k):
        k = np.asarray(k)
        return stats.multinomial(1, self.p).logpmf(np.eye(self.p.shape[-1])[k.astype(int)])

    def _moment(self, name):
        K = self.p.shape[-1]
        rows = self.p.reshape(-1, K)
        out = [getattr(stats.rv_discrete(values=(np.arange(K), r)), name)() for r in rows]
        return np.reshape(out, self.p.shape[:-1])

    def mean(self):
        return self._moment("mean")

    def var(self):
        return self._moment("var")


def _categorical(p):
    if "probs" in p:
        return CategoricalRef(p["probs"])
    return CategoricalRef(special.softmax(np.asarray(p["logits"]), axis=-1))


def _nbinom(p):
    mu, phi = np.asarray(p["mean"]), np.asarray(p["concentration"])
    return stats.nbinom(phi, phi / (phi + mu))


def row(cls, params, ref, domain, grad, rtol=1e-10, tag=""):
    return pytest.param(cls, params, ref, domain, grad, rtol, id=f"{cls.__name__}{tag}")


R3, C21 = [0.1, 0.45, 0.8], [[0.3], [0.7]]  # a (3,) and a (2, 1) parameter: batch (2, 3)
L23 = [[-2.5, 0.0, 1.2], [0.4, -0.7, 3.0]]
PK = np.array([[0.1, 0.2, 0.3, 0.4], [0.7, 0.1, 0.1, 0.1]])
ROWS = [
    row(D.Bernoulli, dict(probs=R3), lambda p: stats.bernoulli(_probs(p)), binary, ["probs"]),
    row(D.Bernoulli, dict(logits=L23), lambda p: stats.bernoulli(_probs(p)), binary, ["logits"],
        tag="-logits"),
    row(D.Binomial, dict(total_count=[[5.0], [12.0]], probs=R3),
        lambda p: stats.binom(p["total_count"], _probs(p)), upto_n, ["probs"]),
    row(D.Binomial, dict(total_count=[3.0, 7.0, 20.0], logits=[[-1.5], [0.7]]),
        lambda p: stats.binom(p["total_count"], _probs(p)), upto_n, ["logits"], tag="-logits"),
    row(D.Poisson, dict(rate=[0.5, 3.0, 12.0]), lambda p: stats.poisson(p["rate"]), counts,
        ["rate"]),
    row(D.Poisson, dict(log_rate=L23), lambda p: stats.poisson(np.exp(p["log_rate"])), counts,
        ["log_rate"], tag="-log_rate"),
    row(D.NegativeBinomial, dict(mean=[0.5, 3.0, 20.0], concentration=[[0.7], [5.0]]), _nbinom,
        counts, ["mean", "concentration"]),
    row(D.Categorical, dict(probs=PK), _categorical, categories, ["probs"]),
    row(D.Categorical, dict(logits=[[0.5, -1.0, 2.0, 0.0, 1.0]] * 2 + [[3.0, 0.0, 0.0, -2.0, 0.1]]),
        _categorical, categories, ["logits"], tag="-logits"),
    row(D.Geometric, dict(probs=R3), lambda p: stats.geom(_probs(p), loc=-1), counts, ["probs"]),
    row(D.Geometric, dict(logits=C21), lambda p: stats.geom(_probs(p), loc=-1), counts,
        ["logits"], tag="-logits"),
]


def _make(cls, params, validate_args=None):
    """cls(**params) where the named (differentiated) parameters are replaced by keywords."""
    return lambda **ps: cls(**{**params, **ps}, validate_args=validate_args)


def _points(d, p, domain, rng, k=4):
    draw, _ = domain(p)
    return np.asarray(draw(rng, (k,) + d.batch_shape), float)


def _outside(d, p, domain):
    _, out = domain(p)
    return np.stack([np.broadcast_to(np.asarray(o, float), d.batch_shape) for o in out])


@pytest.mark.parametrize("cls, params, ref, domain, grad, rtol", ROWS)
def test_log_prob_matches_scipy(cls, params, ref, domain, grad, rtol):
    d, rng = cls(**params), np.random.default_rng(0)
    x = _points(d, params, domain, rng)
    assert_log_prob_matches(d, ref(params).logpmf, x, rtol=rtol)
    # one value against the whole batch (broadcasting), and integer values
    assert_log_prob_matches(d, ref(params).logpmf, x[(0,) * x.ndim], rtol=rtol)
    assert_log_prob_matches(d, ref(params).logpmf, x.astype(np.int64), rtol=rtol)
    assert np.shape(d.log_prob(x)) == x.shape


@pytest.mark.parametrize("cls, params, ref, domain, grad, rtol", ROWS)
def test_outside_support_is_minus_inf_with_zero_gradient(cls, params, ref, domain, grad, rtol):
    d = cls(**params)
    inside = _points(d, params, domain, np.random.default_rng(1), k=2)
    assert_minus_inf_outside(_make(cls, params), {n: params[n] for n in grad}, inside,
                             _outside(d, params, domain))


@pytest.mark.parametrize("cls, params, ref, domain, grad, rtol", ROWS)
def test_sample_shape_support_and_moments(cls, params, ref, domain, grad, rtol):
    rng = np.random.default_rng(2)
    d = cls(**params)
    assert_sample_shape_and_support(d, rng, (5, 2))
    assert_sample_shape_and_support(d, rng, ())
    assert d.sample(rng, (3,)).dtype == np.int64
    assert_moments(d, rng, n=40_000)


@pytest.mark.parametrize("cls, params, ref, domain, grad, rtol", ROWS)
def test_mean_variance_match_scipy(cls, params, ref, domain, grad, rtol):
    d, r = cls(**params), ref(params)
    for got, want in ((d.mean, r.mean()), (d.variance, r.var())):
        assert np.shape(got) == d.batch_shape
        np.testing.assert_allclose(got, np.broadcast_to(want, d.batch_shape), rtol=1e-10)


@pytest.mark.parametrize("cls, params, ref, domain, grad, rtol", ROWS)
def test_log_prob_gradients_in_the_parameters(cls, params, ref, domain, grad, rtol):
    d, rng = cls(**params), np.random.default_rng(3)
    x = _points(d, params, domain, rng, k=2)
    # validation off: finite differences step off the simplex (Categorical probs)
    assert_log_prob_param_grads(_make(cls, params, False), {n: params[n] for n in grad}, x,
                                order=2 if cls in (D.Bernoulli, D.NegativeBinomial) else 1)


def test_every_family_is_in_the_table():
    covered = {r.values[0] for r in ROWS}
    assert {getattr(D, n) for n in D.__all__} <= covered


# ---- parametrisations --------------------------------------------------------------------------
@pytest.mark.parametrize("make, k", [
    (lambda **a: D.Bernoulli(**a), [0.0, 1.0, 1.0]),
    (lambda **a: D.Binomial(9.0, **a), [0.0, 4.0, 9.0]),
    (lambda **a: D.Geometric(**a), [0.0, 3.0, 17.0]),
])
def test_probs_and_logits_agree(make, k):
    p = np.array([0.05, 0.5, 0.93])
    a, b = make(probs=p), make(logits=special.logit(p))
    np.testing.assert_allclose(a.log_prob(k), b.log_prob(k), rtol=1e-12)
    np.testing.assert_allclose(a.logits, special.logit(p), rtol=1e-12)
    np.testing.assert_allclose(b.probs, p, rtol=1e-12)


def test_categorical_probs_and_logits_agree():
    p = np.array([[0.1, 0.6, 0.3], [0.2, 0.2, 0.6]])
    a, b = D.Categorical(probs=p), D.Categorical(logits=np.log(p) + 3.0)   # logits unnormalised
    k = np.array([[0, 2], [1, 1], [2, 0]])
    np.testing.assert_allclose(a.log_prob(k), b.log_prob(k), rtol=1e-12)
    np.testing.assert_allclose(b.probs, p, rtol=1e-12)
    np.testing.assert_allclose(a.logits, np.log(p), rtol=1e-12)
    assert a.support.upper_bound == 2 and a.batch_shape == (2,)


def test_poisson_rate_and_log_rate_agree():
    rate = np.array([0.2, 1.0, 40.0])
    k = np.array([[0.0, 3.0, 41.0], [2.0, 0.0, 1.0]])
    a, b = D.Poisson(rate), D.Poisson(log_rate=np.log(rate))
    np.testing.assert_allclose(a.log_prob(k), b.log_prob(k), rtol=1e-12)
    np.testing.assert_allclose(b.rate, rate, rtol=1e-14)
    np.testing.assert_allclose(a.log_rate, np.log(rate), rtol=1e-14)


def test_logits_forms_are_stable_at_extreme_logits():
    lg = np.array([-800.0, 800.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_allclose(D.Bernoulli(logits=lg).log_prob([1.0, 0.0]), [-800.0, -800.0])
        np.testing.assert_allclose(D.Binomial(4.0, logits=lg).log_prob([0.0, 4.0]), [0.0, 0.0],
                                   atol=1e-300)
        g = ad.grad(lambda t: ad.sum(D.Bernoulli(logits=t).log_prob([1.0, 0.0])))(lg)
        np.testing.assert_allclose(g, [1.0, -1.0])


def test_value_types_and_float32():
    d = D.Bernoulli(probs=np.float32(0.3))
    assert np.asarray(d.log_prob(np.array([True, False]))).dtype == np.float32
    np.testing.assert_allclose(d.log_prob(np.array([True, False])), np.log([0.3, 0.7]),
                               rtol=1e-6)
    assert np.asarray(D.Poisson(np.float32(2.0)).log_prob(3)).dtype == np.float32


def test_parameters_as_tensors_and_probs_zero():
    p = ad.Tensor(np.array([0.2, 0.7]))
    lp = D.Binomial(5.0, probs=p).log_prob(np.array([1.0, 5.0]))
    assert isinstance(lp, ad.Tensor)
    # probs on the boundary are valid: log_prob is -inf or 0, without warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(D.Bernoulli(probs=[0.0, 1.0]).log_prob([0.0, 0.0]),
                                      [0.0, -np.inf])


def test_expand_and_to_event():
    rng = np.random.default_rng(5)
    d = D.Bernoulli(probs=[0.2, 0.9]).expand((4, 2))
    x = d.sample(rng, (3,))
    assert x.shape == (3, 4, 2) and np.asarray(d.log_prob(x)).shape == (3, 4, 2)
    c = D.Categorical(probs=PK).to_event(1)
    assert c.batch_shape == () and c.event_shape == (2,)
    k = np.array([3, 0])
    np.testing.assert_allclose(c.log_prob(k), np.log(PK[0, 3] * PK[1, 0]), rtol=1e-12)


@pytest.mark.parametrize("make, names", [
    (lambda: D.Bernoulli(probs=1.5), ["'probs'", "1.5"]),
    (lambda: D.Bernoulli(), ["'probs'", "'logits'"]),
    (lambda: D.Bernoulli(probs=0.5, logits=0.0), ["'probs'", "'logits'"]),
    (lambda: D.Bernoulli(logits=np.inf), ["'logits'", "inf"]),
    (lambda: D.Binomial(2.5, probs=0.5), ["'total_count'", "2.5"]),
    (lambda: D.Binomial(-1.0, probs=0.5), ["'total_count'", "-1"]),
    (lambda: D.Binomial(3.0, probs=[0.5, -0.2]), ["'probs'", "-0.2"]),
    (lambda: D.Poisson(-1.0), ["'rate'", "-1"]),
    (lambda: D.Poisson(), ["'rate'", "'log_rate'"]),
    (lambda: D.Poisson(1.0, log_rate=0.0), ["'rate'", "'log_rate'"]),
    (lambda: D.NegativeBinomial(-2.0, 1.0), ["'mean'", "-2"]),
    (lambda: D.NegativeBinomial(1.0, 0.0), ["'concentration'", "0"]),
    (lambda: D.Categorical(probs=[0.5, 0.6]), ["'probs'", "0.6"]),
    (lambda: D.Categorical(logits=[np.nan, 0.0]), ["'logits'", "nan"]),
    (lambda: D.Categorical(probs=0.5), ["'probs'", "scalar"]),
    (lambda: D.Geometric(probs=-0.1), ["'probs'", "-0.1"]),
])
def test_invalid_parameters_raise_naming_parameter_and_value(make, names):
    with pytest.raises(ValueError) as e:
        make()
    for n in names:
        assert n in str(e.value), (n, str(e.value))
