"""Review of the distributions at awkward points, each against an independent reference
(scipy.stats / scipy.special, exact integer arithmetic, closed forms, finite differences):
support boundaries, parameters where a naive formula cancels, zero-probability categories,
validation off, sampling (Kolmogorov-Smirnov against scipy cdfs), and the shape contract for
expanded and reinterpreted multivariate families with their default bijectors.
"""
import math
import warnings

import numpy as np
import pytest
from scipy import stats

import autodiff as ad
from ppl import constraints
from ppl import distributions as dist
from ppl.distributions import validation_enabled
from ppl.transforms import biject_to


def _quiet(f, *args):
    """f(*args) with every numpy warning an error (no division by zero deep in a formula)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return f(*args)


# ---- zero on the half-line: in the support where scipy has a density there -------------------
AT_ZERO = [
    (dist.Exponential, dict(rate=2.0), stats.expon(scale=0.5)),
    (dist.HalfNormal, dict(scale=2.0), stats.halfnorm(scale=2.0)),
    (dist.HalfCauchy, dict(scale=2.0), stats.halfcauchy(scale=2.0)),
    (dist.HalfStudentT, dict(df=3.0, scale=2.0), None),  # 2 t(3, 0, 2).pdf(0)
    (dist.Gamma, dict(concentration=0.5, rate=2.0), stats.gamma(0.5, scale=0.5)),
    (dist.Gamma, dict(concentration=1.0, rate=2.0), stats.gamma(1.0, scale=0.5)),
    (dist.Gamma, dict(concentration=3.0, rate=2.0), stats.gamma(3.0, scale=0.5)),
    (dist.Weibull, dict(scale=2.0, concentration=0.5), stats.weibull_min(0.5, scale=2.0)),
    (dist.Weibull, dict(scale=2.0, concentration=1.0), stats.weibull_min(1.0, scale=2.0)),
    (dist.Weibull, dict(scale=2.0, concentration=3.0), stats.weibull_min(3.0, scale=2.0)),
    (dist.ChiSquared, dict(df=1.0), stats.chi2(1.0)),
    (dist.ChiSquared, dict(df=2.0), stats.chi2(2.0)),
    (dist.ChiSquared, dict(df=5.0), stats.chi2(5.0)),
    (dist.LogNormal, dict(loc=0.0, scale=1.0), stats.lognorm(1.0)),
    (dist.InverseGamma, dict(concentration=2.0, rate=1.0), stats.invgamma(2.0)),
]


# with validation off, only the families whose support is closed at 0 (LogNormal and
# InverseGamma have x > 0: with validation off their formula at 0 is unguarded, as NumPyro's)
CLOSED = {dist.LogNormal: False, dist.InverseGamma: False}
ZERO_CASES = [pytest.param(c, p, r, v, id=f"{c.__name__}{tuple(p.values())}-validate={v}")
              for c, p, r in AT_ZERO for v in (True, False) if v or CLOSED.get(c, True)]


@pytest.mark.parametrize("cls, params, ref, validate", ZERO_CASES)
def test_log_prob_at_zero_matches_scipy(cls, params, ref, validate):
    want = np.log(2.0) + stats.t(3.0, 0.0, 2.0).logpdf(0.0) if ref is None else ref.logpdf(0.0)
    closed = CLOSED.get(cls, True)
    x = np.array([0.0, 0.7])
    with validation_enabled(validate):
        d = cls(**params)
        got = np.asarray(_quiet(d.log_prob, x))
    np.testing.assert_allclose(got[0], want, rtol=1e-12)
    np.testing.assert_allclose(got[1], np.log(2.0) + stats.t(3.0, 0.0, 2.0).logpdf(0.7)
                               if ref is None else ref.logpdf(0.7), rtol=1e-12)
    assert bool(d.support.check(0.0)) == closed
    assert not d.support.check(-1e-300) and not d.support.check(np.inf)


@pytest.mark.parametrize("cls, params", [(dist.Gamma, dict(concentration=1.0, rate=2.0)),
                                         (dist.Weibull, dict(scale=2.0, concentration=1.0)),
                                         (dist.ChiSquared, dict(df=2.0))])
def test_gradient_at_zero_where_the_density_is_finite(cls, params):
    """At x = 0 with shape parameter 1 the density is the exponential one: the rate's gradient
    is finite and equals a central difference of scipy's logpdf at 0."""
    names = list(params)

    def f(*ps):
        return ad.sum(cls(**dict(zip(names, ps))).log_prob(np.zeros(2)))

    grads = _quiet(ad.grad(f, argnums=tuple(range(len(names)))), *map(np.asarray, params.values()))
    rate_name = {"Gamma": "rate", "Weibull": "scale", "ChiSquared": None}[cls.__name__]
    for name, g in zip(names, grads):
        assert np.isfinite(g), (name, g)
    if rate_name is not None:
        i, h = names.index(rate_name), 1e-6
        up, dn = dict(params), dict(params)
        up[rate_name] += h
        dn[rate_name] -= h
        fd = (2 * np.asarray(cls(**up).log_prob(0.0)) - 2 * np.asarray(cls(**dn).log_prob(0.0))) / (
            2 * h)
        np.testing.assert_allclose(grads[i], fd, rtol=1e-6)


# ---- Categorical: a category of probability 0 that no value takes ------------------------------
def test_categorical_zero_probability_category_has_finite_gradient():
    """d/dp_j sum_i log p_{k_i} = n_j / p_j: 0 for a category nobody takes, even where p_j = 0
    (log of every probability then 0 * inf gave nan)."""
    p = np.array([0.0, 0.25, 0.75])
    k = np.array([1.0, 2.0, 2.0])
    lp, g = _quiet(ad.value_and_grad(lambda p: ad.sum(dist.Categorical(probs=p).log_prob(k))), p)
    np.testing.assert_allclose(lp, np.log(0.25) + 2 * np.log(0.75), rtol=1e-14)
    np.testing.assert_allclose(g, [0.0, 1 / 0.25, 2 / 0.75], rtol=1e-14)
    # batched, with a sample axis: still the counts over the probabilities
    P = np.array([[0.0, 0.5, 0.5], [0.2, 0.0, 0.8]])
    K = np.array([[1.0, 0.0], [2.0, 2.0]])           # (sample 2, batch 2)
    g = _quiet(ad.grad(lambda p: ad.sum(dist.Categorical(probs=p).log_prob(K))), P)
    np.testing.assert_allclose(g, [[0.0, 1 / 0.5, 1 / 0.5], [1 / 0.2, 0.0, 1 / 0.8]], rtol=1e-14)


# ---- counts where the textbook formula cancels -------------------------------------------------
@pytest.mark.parametrize("mu, phi, k", [(5.0, 1e12, 3.0), (5.0, 1e15, 7.0), (2.0, 1e9, 0.0)])
def test_negative_binomial_near_the_poisson_limit(mu, phi, k):
    """NB2(mu, phi) -> Poisson(mu) as phi -> inf, with log-pmf difference O(k^2/phi)
    (lgamma(k + phi) - lgamma(phi) and phi log(phi/(mu + phi)) cancel in float64)."""
    got = float(dist.NegativeBinomial(mu, phi).log_prob(k))
    np.testing.assert_allclose(got, stats.poisson(mu).logpmf(k), rtol=1e-8, atol=1e-8)


def test_negative_binomial_large_concentration_gradient_matches_poisson_limit():
    g = ad.grad(lambda m: ad.sum(dist.NegativeBinomial(m, 1e12).log_prob(np.array([3.0, 9.0]))))(
        np.asarray(5.0))
    np.testing.assert_allclose(g, (3.0 + 9.0) / 5.0 - 2.0, rtol=1e-8)  # d/dmu Poisson log-pmf


@pytest.mark.parametrize("n, p, k", [(10**9, 1e-9, 2), (10**12, 3e-12, 3), (10**9, 1e-9, 0)])
def test_binomial_large_total_count_matches_exact_binomial_coefficient(n, p, k):
    want = math.log(math.comb(n, k)) + k * math.log(p) + (n - k) * math.log1p(-p)
    got = float(dist.Binomial(float(n), probs=p).log_prob(float(k)))
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-10)


def test_binomial_large_total_count_gradient_in_probs():
    n, k, p = 1e9, np.array([0.0, 2.0, 5.0]), 2e-9
    g = ad.grad(lambda q: ad.sum(dist.Binomial(n, probs=q).log_prob(k)))(np.asarray(p))
    np.testing.assert_allclose(g, np.sum(k / p - (n - k) / (1 - p)), rtol=1e-9)


# ---- validation off: an invalid parameter gives a non-finite density, not an exception ---------
@pytest.mark.parametrize("name", ["covariance_matrix", "precision_matrix"])
def test_mvn_not_positive_definite_with_validation_off_is_not_an_exception(name):
    bad = np.array([[1.0, 2.0], [2.0, 1.0]])        # eigenvalues 3 and -1
    good = np.eye(2)
    with validation_enabled(False):
        d = dist.MultivariateNormal(np.zeros(2), **{name: np.stack([good, bad])})
        lp = np.asarray(d.log_prob(np.zeros((4, 1, 2))))
    assert lp.shape == (4, 2)
    np.testing.assert_allclose(lp[:, 0], stats.multivariate_normal(np.zeros(2)).logpdf([0, 0]))
    assert not np.any(np.isfinite(lp[:, 1]))
    with pytest.raises(ValueError, match=name):    # validation on: named at construction
        dist.MultivariateNormal(np.zeros(2), **{name: bad})


# ---- NaN values: -inf, as every other value outside the support (documented in base) -----------
NAN_CASES = [
    dist.Normal(0.0, 1.0), dist.Gamma(2.0, 1.0), dist.Beta(2.0, 2.0), dist.Exponential(1.0),
    dist.TruncatedNormal(0.0, 1.0, low=0.0), dist.Uniform(0.0, 1.0),
    dist.Bernoulli(probs=0.3), dist.Binomial(5, probs=0.3), dist.Poisson(2.0),
    dist.NegativeBinomial(2.0, 3.0), dist.Geometric(probs=0.3),
    dist.Categorical(probs=np.array([0.2, 0.8])),
    dist.Flat(), dist.HalfFlat(),
]


@pytest.mark.parametrize("d", NAN_CASES, ids=repr)
def test_nan_value_is_minus_inf_with_zero_gradient(d):
    x = np.array([np.nan, np.nan])
    lp = np.asarray(_quiet(d.log_prob, x))
    np.testing.assert_array_equal(lp, [-np.inf, -np.inf])


def test_multivariate_nan_value_is_minus_inf():
    for d, x in [(dist.MultivariateNormal(np.zeros(2), scale_tril=np.eye(2)), [np.nan, 0.0]),
                 (dist.Dirichlet(np.ones(3)), [np.nan, 0.5, 0.5]),
                 (dist.LKJCholesky(2, 1.0), [[1.0, 0.0], [np.nan, 1.0]])]:
        assert _quiet(d.log_prob, np.asarray(x)) == -np.inf, d


# ---- sampling: the right distribution, reproducibly --------------------------------------------
def _half_t_cdf(df, scale):
    return lambda x: 2.0 * stats.t(df, 0.0, scale).cdf(x) - 1.0


KS = [
    (dist.Gamma(0.05, 2.0), stats.gamma(0.05, scale=0.5).cdf),
    (dist.Beta(0.1, 0.2), stats.beta(0.1, 0.2).cdf),
    (dist.StudentT(0.7, 1.0, 2.0), stats.t(0.7, 1.0, 2.0).cdf),
    (dist.HalfStudentT(2.5, 2.0), _half_t_cdf(2.5, 2.0)),
    (dist.TruncatedNormal(0.0, 1.0, low=8.0), stats.truncnorm(8.0, np.inf).cdf),
    (dist.TruncatedNormal(1.0, 2.0, high=-30.0), stats.truncnorm(-np.inf, -15.5, 1.0, 2.0).cdf),
    (dist.TruncatedNormal(0.0, 1.0, low=-1.0, high=1e-3), stats.truncnorm(-1.0, 1e-3).cdf),
    (dist.Weibull(2.0, 0.5), stats.weibull_min(0.5, scale=2.0).cdf),
    (dist.InverseGamma(3.0, 2.0), stats.invgamma(3.0, scale=2.0).cdf),
    (dist.ChiSquared(0.3), stats.chi2(0.3).cdf),
    (dist.HalfCauchy(2.0), stats.halfcauchy(scale=2.0).cdf),
]


@pytest.mark.parametrize("d, cdf", KS, ids=[repr(d) for d, _ in KS])
def test_samples_pass_kolmogorov_smirnov_against_scipy(d, cdf):
    x = d.sample(np.random.default_rng(11), (4000,))
    assert stats.kstest(x, cdf).pvalue > 1e-3
    np.testing.assert_array_equal(x, d.sample(np.random.default_rng(11), (4000,)))


def test_dirichlet_and_mvt_marginals_pass_kolmogorov_smirnov():
    rng = np.random.default_rng(12)
    a = np.array([0.05, 0.3, 2.0])
    x = dist.Dirichlet(a).sample(rng, (4000,))
    for i in range(3):   # x_i ~ Beta(a_i, a_0 - a_i)
        assert stats.kstest(x[:, i], stats.beta(a[i], a.sum() - a[i]).cdf).pvalue > 1e-3
    L = np.array([[2.0, 0.0], [1.0, 1.5]])
    x = dist.MultivariateStudentT(3.0, np.array([1.0, -1.0]), L).sample(rng, (4000,))
    assert stats.kstest(x[:, 0], stats.t(3.0, 1.0, 2.0).cdf).pvalue > 1e-3
    assert stats.kstest(x[:, 1], stats.t(3.0, -1.0, math.sqrt(1.0 + 2.25)).cdf).pvalue > 1e-3


# ---- shapes of expanded / reinterpreted multivariate families and their bijectors --------------
def test_expanded_multivariate_shapes_and_log_prob():
    rng = np.random.default_rng(13)
    L = np.array([[1.0, 0.0], [0.5, 2.0]])
    mvn = dist.MultivariateNormal(np.array([1.0, -1.0]), scale_tril=L)
    e = mvn.expand((4, 3))
    x = e.sample(rng, (5,))
    assert x.shape == (5, 4, 3, 2) and e.mean.shape == e.variance.shape == (4, 3, 2)
    ref = stats.multivariate_normal(np.array([1.0, -1.0]), L @ L.T).logpdf(x)
    np.testing.assert_allclose(e.log_prob(x), ref, rtol=1e-12)
    ind = e.to_event(1)
    assert (ind.batch_shape, ind.event_shape) == ((4,), (3, 2))
    np.testing.assert_allclose(ind.log_prob(x), ref.sum(-1), rtol=1e-12)


@pytest.mark.parametrize("make, free", [
    (lambda: dist.Dirichlet(np.array([1.0, 2.0, 3.0])).expand((4,)), (4, 2)),
    (lambda: dist.Dirichlet(np.array([1.0, 2.0, 3.0])).expand((4,)).to_event(1), (4, 2)),
    (lambda: dist.Normal(np.zeros(3), 1.0).to_event(1).expand((2,)), (2, 3)),
    (lambda: dist.Gamma(np.full((2, 3), 2.0), 1.0).to_event(2), (2, 3)),
    (lambda: dist.LKJCholesky(3, np.array([1.0, 2.0])).to_event(1), (2, 3)),
])
def test_biject_to_of_wrapped_supports_sums_log_det_over_the_event(make, free):
    """The bijector of an expanded/reinterpreted support: shapes round trip, and its log|J| is
    the per-member log|J| of the base bijector summed over the reinterpreted axes only."""
    d = make()
    t = biject_to(d.support)
    assert t.inverse_shape(d.shape()) == free and t.forward_shape(free) == d.shape()
    z = np.random.default_rng(14).normal(size=free)
    y = np.asarray(t(z))
    assert y.shape == d.shape() and np.all(d.support.check(y))
    np.testing.assert_allclose(t.inv(y), z, rtol=1e-10, atol=1e-12)
    base = biject_to(d.support.base if isinstance(d.support, constraints.independent)
                     else d.support)
    per = np.asarray(base.log_abs_det_jacobian(z, y))
    ld = np.asarray(t.log_abs_det_jacobian(z, y))
    assert ld.shape == d.batch_shape
    np.testing.assert_allclose(ld, per.reshape(d.batch_shape + (-1,)).sum(-1)
                               if per.shape != d.batch_shape else per, rtol=1e-12)
