"""Continuous univariate families against scipy.stats: one table, one row per parameter set.

Each row: the class, its parameters (shapes (3,) and (2, 1) broadcast to a (2, 3) batch in most
rows), a builder of the frozen scipy.stats reference, the value domain (an interval inside the
support for random points, and points outside it), and the parameters for the sample-moment
check (None where the fourth moment is infinite: the check's standard error needs it).
A new family is one more row; the coverage guard in test_dist_continuous_api.py fails without it.
API checks (construction errors, float32, expand/to_event) are in test_dist_continuous_api.py.
"""
import warnings

import numpy as np
import pytest
from scipy import integrate, stats

import autodiff as ad
from ppl.distributions import bounded as B
from ppl.distributions import continuous as C
from ppl.distributions import positive as P

from .dist_checks import (assert_log_prob_grads, assert_log_prob_matches, assert_moments,
                          assert_sample_shape_and_support)

SAME = "same"  # moment check at the row's own parameters


# ---- value domains: (low, high) for random points in the support, and points outside it ------
def real(p):
    return -4.0, 4.0, [np.inf, -np.inf, np.nan]


def positive(p):
    return 0.05, 6.0, [-1.0, 0.0, -np.inf, np.inf, np.nan]


def nonnegative(p):  # 0 is in the support (its value there: test_dist_review.py)
    return 0.05, 6.0, [-1.0, -1e-300, -np.inf, np.inf, np.nan]


def unit(p):
    return 0.02, 0.98, [-0.5, 1.5, np.nan]


def between(p):
    low, high = np.asarray(p["low"]), np.asarray(p["high"])
    return low, high, [low - 1.0, high + 0.5, np.nan]


def truncated(p):
    loc, scale = np.asarray(p["loc"]), np.asarray(p["scale"])
    low, high = p.get("low"), p.get("high")
    lo = loc - 3.0 * scale if low is None else np.asarray(low)
    hi = loc + 3.0 * scale if high is None else np.asarray(high)
    out = [np.nan] + ([] if low is None else [lo - 1.0]) + ([] if high is None else [hi + 0.5])
    return lo, hi, out


# ---- references scipy.stats lacks ------------------------------------------------------------
class HalfT:
    """|t(df, 0, scale)|: logpdf from scipy's t; mean and variance by quadrature (independent of
    the closed forms in positive.py)."""

    def __init__(self, df, scale):
        self.df, self.scale = np.asarray(df, float), np.asarray(scale, float)
        self.t = stats.t(self.df, 0.0, self.scale)

    def logpdf(self, x):
        x = np.asarray(x, float)
        with np.errstate(invalid="ignore"):
            return np.where(x > 0, np.log(2.0) + self.t.logpdf(x), -np.inf)

    def _moment(self, k):
        def one(df, scale):
            f = lambda x: 2.0 * x ** k * stats.t.pdf(x, df, 0.0, scale)
            return integrate.quad(f, 0.0, np.inf, epsabs=0.0, epsrel=1e-11, limit=200)[0]
        return np.vectorize(one)(self.df, self.scale)

    def mean(self):
        return np.where(self.df > 1.0, self._moment(1), np.inf)

    def var(self):
        m2 = np.where(self.df > 2.0, self.scale ** 2 * self.df / np.maximum(self.df - 2.0, 1e-300),
                      np.inf)
        return np.where(self.df > 2.0, m2 - self.mean() ** 2, np.inf)


def _truncnorm(p):
    loc, scale = np.asarray(p["loc"]), np.asarray(p["scale"])
    a = -np.inf if p.get("low") is None else (np.asarray(p["low"]) - loc) / scale
    b = np.inf if p.get("high") is None else (np.asarray(p["high"]) - loc) / scale
    return stats.truncnorm(a, b, loc, scale)


def row(cls, params, ref, domain, moments=SAME, rtol=1e-10, tag=""):
    return pytest.param(cls, params, ref, domain, params if moments is SAME else moments, rtol,
                        id=f"{cls.__name__}{tag}")


R3, C21 = [0.5, 1.0, 3.0], [[0.7], [1.8]]  # a (3,) and a (2, 1) parameter: batch (2, 3)
ROWS = [
    row(C.Normal, dict(loc=[-1.0, 0.5, 2.0], scale=C21), lambda p: stats.norm(p["loc"], p["scale"]),
        real),
    row(C.Normal, dict(loc=0.3, scale=1.1), lambda p: stats.norm(p["loc"], p["scale"]), real,
        tag="-scalar"),
    row(C.Cauchy, dict(loc=[[-1.0], [0.5]], scale=R3),
        lambda p: stats.cauchy(p["loc"], p["scale"]), real, moments=None),
    row(C.StudentT, dict(df=[0.8, 2.5, 9.0], loc=[[0.0], [1.5]], scale=R3),
        lambda p: stats.t(p["df"], p["loc"], p["scale"]), real,
        moments=dict(df=[6.0, 9.0, 30.0], loc=[[0.0], [1.5]], scale=R3)),
    row(C.Laplace, dict(loc=[-1.0, 0.0, 2.0], scale=C21),
        lambda p: stats.laplace(p["loc"], p["scale"]), real),
    row(C.Logistic, dict(loc=[[-1.0], [0.5]], scale=R3),
        lambda p: stats.logistic(p["loc"], p["scale"]), real),
    row(B.Uniform, dict(low=[-1.0, 0.0, 2.0], high=[[3.0], [5.5]]),
        lambda p: stats.uniform(p["low"], np.subtract(p["high"], p["low"])), between),
    # both bounds; a + b > 0 in some members only, so both sides of the reflection are used
    row(B.TruncatedNormal, dict(loc=[0.0, 1.0, -2.0], scale=[1.0, 0.5, 2.0], low=-1.0, high=2.0),
        _truncnorm, truncated, tag="-interval"),
    row(B.TruncatedNormal, dict(loc=[[0.3], [-0.5]], scale=[0.8, 1.0, 1.5], low=[-1.0, 0.0, 0.5]),
        _truncnorm, truncated, tag="-low"),
    row(B.TruncatedNormal, dict(loc=[0.3, -0.5, 1.0], scale=1.0, high=[[0.0], [2.0]]),
        _truncnorm, truncated, tag="-high"),
    # narrow (log1mexp near 0) and far tails on both sides (Phi(b) - Phi(a) ~ 1e-5 .. 1e-16)
    row(B.TruncatedNormal, dict(loc=0.0, scale=1.0, low=[0.0, 4.0, -9.0], high=[0.1, 7.0, -8.0]),
        _truncnorm, truncated, tag="-tails"),
    row(B.TruncatedNormal, dict(loc=0.5, scale=2.0), _truncnorm, truncated, tag="-unbounded"),
    row(P.HalfNormal, dict(scale=R3), lambda p: stats.halfnorm(scale=p["scale"]), nonnegative),
    row(P.HalfCauchy, dict(scale=C21), lambda p: stats.halfcauchy(scale=p["scale"]), nonnegative,
        moments=None),
    row(P.HalfStudentT, dict(df=[1.5, 3.0, 7.0], scale=C21), lambda p: HalfT(p["df"], p["scale"]),
        nonnegative, moments=dict(df=[6.0, 9.0, 30.0], scale=C21)),
    row(P.LogNormal, dict(loc=[-0.5, 0.0, 1.0], scale=[[0.3], [1.2]]),
        lambda p: stats.lognorm(p["scale"], scale=np.exp(p["loc"])), positive,
        moments=dict(loc=[-0.5, 0.0, 1.0], scale=[[0.2], [0.4]])),
    row(P.Exponential, dict(rate=[0.5, 1.0, 4.0]), lambda p: stats.expon(scale=1 / np.asarray(
        p["rate"])), nonnegative),
    row(P.Gamma, dict(concentration=[0.5, 2.0, 7.0], rate=1.3),
        lambda p: stats.gamma(p["concentration"], scale=1 / np.asarray(p["rate"])), nonnegative),
    row(P.Gamma, dict(concentration=[0.5, 2.0, 7.0], rate=[[0.5], [3.0]]),
        lambda p: stats.gamma(p["concentration"], scale=1 / np.asarray(p["rate"])), nonnegative,
        tag="-broadcast"),
    row(P.InverseGamma, dict(concentration=[0.5, 2.5, 6.0], rate=[[0.5], [2.0]]),
        lambda p: stats.invgamma(p["concentration"], scale=p["rate"]), positive,
        moments=dict(concentration=[9.0, 12.0, 20.0], rate=[[0.5], [2.0]])),
    row(B.Beta, dict(concentration1=[0.5, 1.0, 4.0], concentration0=[[0.7], [3.0]]),
        lambda p: stats.beta(p["concentration1"], p["concentration0"]), unit),
    row(P.Weibull, dict(scale=[0.5, 1.0, 2.0], concentration=[[0.8], [3.0]]),
        lambda p: stats.weibull_min(p["concentration"], scale=p["scale"]), nonnegative),
    row(P.ChiSquared, dict(df=[0.5, 3.0, 10.0]), lambda p: stats.chi2(p["df"]), nonnegative),
]

ORDER_2 = {C.Normal, P.Gamma, B.Beta, C.StudentT}  # second derivatives as a spot check


def _points(d, p, domain, rng, k=4):
    """k random points per batch member, strictly inside the domain's interval."""
    lo, hi, _ = domain(p)
    u = rng.uniform(0.02, 0.98, (k,) + d.batch_shape)
    return np.asarray(lo) + (np.asarray(hi) - np.asarray(lo)) * u


def _outside(d, p, domain):
    """The domain's outside points, each broadcast over the batch: shape (m,) + batch_shape."""
    _, _, out = domain(p)
    return np.stack([np.broadcast_to(np.asarray(o, float), d.batch_shape) for o in out])


@pytest.mark.parametrize("cls, params, ref, domain, moments, rtol", ROWS)
def test_log_prob_matches_scipy(cls, params, ref, domain, moments, rtol):
    d, rng = cls(**params), np.random.default_rng(0)
    x = _points(d, params, domain, rng)
    assert_log_prob_matches(d, ref(params).logpdf, x, rtol=rtol)
    # one value against the whole batch, and one batch member's point: broadcasting
    assert_log_prob_matches(d, ref(params).logpdf, x[(0,) * x.ndim], rtol=rtol)
    assert np.shape(d.log_prob(x)) == x.shape


@pytest.mark.parametrize("cls, params, ref, domain, moments, rtol", ROWS)
def test_outside_support_is_minus_inf_with_zero_gradient(cls, params, ref, domain, moments, rtol):
    d, rng = cls(**params), np.random.default_rng(1)
    inside, outside = _points(d, params, domain, rng, k=2), _outside(d, params, domain)
    x = np.concatenate([inside, outside])
    names = list(params)
    arrays = [np.asarray(v, float) for v in params.values()]

    def f(x, *ps):
        return ad.sum(cls(**dict(zip(names, ps))).log_prob(x))

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lp = np.asarray(d.log_prob(x))
        grads = ad.grad(f, argnums=tuple(range(1 + len(arrays))))(x, *arrays)
    assert np.all(np.isfinite(lp[:2])) and np.all(lp[2:] == -np.inf), lp
    for g in grads:
        assert np.all(np.isfinite(g)), g
    assert np.all(grads[0][2:] == 0.0)


@pytest.mark.parametrize("cls, params, ref, domain, moments, rtol", ROWS)
def test_sample_shape_support_and_moments(cls, params, ref, domain, moments, rtol):
    rng = np.random.default_rng(2)
    d = cls(**params)
    assert_sample_shape_and_support(d, rng, (5, 2))
    assert_sample_shape_and_support(d, rng, ())
    if moments is not None:
        assert_moments(cls(**moments), rng, n=40_000)


@pytest.mark.parametrize("cls, params, ref, domain, moments, rtol", ROWS)
def test_mean_variance_match_scipy(cls, params, ref, domain, moments, rtol):
    d, r = cls(**params), ref(params)
    # quadrature (HalfStudentT's reference) is good to ~1e-9; scipy's closed forms to ~1e-15
    tol = 1e-7 if cls is P.HalfStudentT else 1e-10
    for got, want in ((d.mean, r.mean()), (d.variance, r.var())):
        got, want = np.asarray(got), np.broadcast_to(want, d.batch_shape)
        assert got.shape == d.batch_shape
        finite = np.isfinite(want)
        np.testing.assert_allclose(got[finite], want[finite], rtol=tol)
        # undefined moments: NumPyro's conventions (nan or inf) where scipy has nan or inf
        assert not np.any(np.isfinite(got[~finite])), (got, want)


@pytest.mark.parametrize("cls, params, ref, domain, moments, rtol", ROWS)
def test_log_prob_gradients(cls, params, ref, domain, moments, rtol):
    d, rng = cls(**params), np.random.default_rng(3)
    x = _points(d, params, domain, rng, k=2)
    assert_log_prob_grads(cls, params, x, order=2 if cls in ORDER_2 else 1)


def test_cauchy_and_half_cauchy_moments_as_numpyro():
    assert np.all(np.isnan(C.Cauchy(0.0, [1.0, 2.0]).mean))
    assert np.all(np.isnan(C.Cauchy(0.0, 1.0).variance))
    assert np.all(P.HalfCauchy([1.0, 2.0]).mean == np.inf)
    t = C.StudentT([0.5, 1.5, 3.0])
    np.testing.assert_array_equal(t.mean, [np.nan, 0.0, 0.0])
    np.testing.assert_array_equal(t.variance, [np.nan, np.inf, 3.0])
    np.testing.assert_array_equal(P.InverseGamma([1.0, 2.0, 3.0]).variance[:2], [np.inf, np.inf])


def test_truncated_normal_far_tail_is_finite_and_samples_stay_inside():
    d = B.TruncatedNormal(0.0, 1.0, low=[30.0, -40.0], high=[31.0, -39.0])
    x = d.sample(np.random.default_rng(4), (1000,))
    assert np.all(d.support.check(x)) and np.all(np.isfinite(d.log_prob(x)))
    # the density's mass sits within ~1/|a| of the near bound
    np.testing.assert_allclose(d.mean, [30.0 + 1 / 30.0, -39.0 - 1 / 39.0], rtol=2e-3)
