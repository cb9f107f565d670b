"""cdf, log_cdf and icdf of every continuous family in the distribution table
(test_dist_continuous.ROWS) against scipy.stats: values, outside the support, the round trip
icdf(cdf(x)) = x, and derivatives against finite differences in the value, the quantile and
every parameter with a closed-form derivative (the others raise the rule mechanism's error)."""
import numpy as np
import pytest
from scipy import stats

import autodiff as ad
from ppl.distributions import bounded as B
from ppl.distributions import continuous as C
from ppl.distributions import positive as P

from .test_dist_continuous import ROWS, _outside, _points

# parameters that enter through an incomplete gamma or beta function's shape: no derivative
NO_DERIVATIVE = {C.StudentT: {"df"}, P.HalfStudentT: {"df"}, P.Gamma: {"concentration"},
                 P.InverseGamma: {"concentration"}, P.ChiSquared: {"df"},
                 B.Beta: {"concentration1", "concentration0"}}
ORDER_2 = {C.Normal, C.Logistic, P.Exponential, P.Weibull, B.TruncatedNormal}


def _ref(ref, params):
    r = ref(params)
    if isinstance(r, stats._distn_infrastructure.rv_continuous_frozen):
        return r
    t = stats.t(r.df, 0.0, r.scale)  # HalfT: |t|
    return type("HalfTRef", (), {"cdf": lambda self, x: np.where(x > 0, 2 * t.cdf(x) - 1, 0.0),
                                 "logcdf": lambda self, x: np.log(self.cdf(x)),
                                 "ppf": lambda self, q: t.ppf(0.5 + 0.5 * q)})()


@pytest.mark.parametrize("cls, params, ref, domain, moments, rtol", ROWS)
def test_cdf_log_cdf_icdf_match_scipy(cls, params, ref, domain, moments, rtol):
    d, r = cls(**params), _ref(ref, params)
    x = _points(d, params, domain, np.random.default_rng(5))
    tol = 1e-9 if cls is not B.TruncatedNormal else 1e-7  # ndtri of a difference of ndtr's
    np.testing.assert_allclose(d.cdf(x), r.cdf(x), rtol=tol, atol=1e-300)
    # atol: near the top, log cdf ~ -1e-21; an error of 1e-21 there is a relative 1e-21 in cdf
    np.testing.assert_allclose(d.log_cdf(x), r.logcdf(x), rtol=tol, atol=1e-15)
    q = np.random.default_rng(6).uniform(0.02, 0.98, x.shape)
    np.testing.assert_allclose(d.icdf(q), r.ppf(q), rtol=tol)
    top = r.cdf(x) < 0.999  # further out the cdf rounds towards 1 and cannot be inverted
    with np.errstate(divide="ignore"):  # icdf(1) = inf where the cdf rounded to 1
        back = np.asarray(d.icdf(d.cdf(x)))
    np.testing.assert_allclose(back[top], x[top], rtol=1e-7)
    # outside the support: 0 below, 1 above, NaN at NaN; icdf is NaN outside [0, 1]
    out = _outside(d, params, domain)
    with np.errstate(invalid="ignore"):
        want = r.cdf(np.where(np.isnan(out), 0.0, out))
    got = np.asarray(d.cdf(out))
    np.testing.assert_array_equal(got[~np.isnan(out)], want[~np.isnan(out)])
    assert np.all(np.isnan(got[np.isnan(out)]))
    assert np.all(np.isnan(np.asarray(d.icdf(np.array([-0.1, 1.5])[:, None] + 0 * q[:1]))))


@pytest.mark.parametrize("cls, params, ref, domain, moments, rtol", ROWS)
def test_cdf_and_icdf_gradients(cls, params, ref, domain, moments, rtol):
    d = cls(**params)
    x = _points(d, params, domain, np.random.default_rng(7), k=2)
    q = np.random.default_rng(8).uniform(0.1, 0.9, x.shape)
    fixed = NO_DERIVATIVE.get(cls, set())
    names = [n for n in params if n not in fixed]
    consts = {n: v for n, v in params.items() if n in fixed}
    order = 2 if cls in ORDER_2 else 1

    def make(ps):
        return cls(**consts, **dict(zip(names, ps)))
    arrays = [np.asarray(params[n], float) for n in names]
    ad.check_grads(lambda x, *ps: ad.sum(make(ps).cdf(x)), (x, *arrays), order=order)
    ad.check_grads(lambda x, *ps: ad.sum(make(ps).log_cdf(x)), (x, *arrays), order=order)
    ad.check_grads(lambda q, *ps: ad.sum(make(ps).icdf(q)), (q, *arrays), order=order)
    for n in fixed:  # these are refused by name, not differentiated wrongly
        others = {k: v for k, v in params.items() if k != n}

        def f(p, n=n, others=others):
            return ad.sum(cls(**others, **{n: p}).cdf(x))
        with pytest.raises(TypeError, match=r"no VJP for `\w+` w.r.t. argument"):
            ad.grad(f)(np.asarray(params[n], float))


def test_normal_log_cdf_is_accurate_in_the_far_left_tail():
    d = C.Normal(0.0, 1.0)
    x = np.array([-40.0, -10.0])
    np.testing.assert_allclose(d.log_cdf(x), stats.norm.logcdf(x), rtol=1e-12)
    np.testing.assert_allclose(C.Cauchy(0.0, 1.0).cdf(-1e10), stats.cauchy.cdf(-1e10), rtol=1e-12)


def test_families_without_a_cdf_say_so():
    from ppl.distributions import multivariate as M
    with pytest.raises(NotImplementedError, match="has no cdf"):
        M.MultivariateNormal(np.zeros(2), np.eye(2)).cdf(np.zeros(2))


def test_expanded_distribution_has_its_base_cdf():
    d = C.Normal(0.5, 2.0).expand((3,))
    x = np.array([-1.0, 0.0, 2.0])
    np.testing.assert_allclose(d.cdf(x), stats.norm(0.5, 2.0).cdf(x), rtol=1e-12)
    assert np.shape(d.cdf(0.3)) == (3,) and np.shape(d.icdf(0.3)) == (3,)
    np.testing.assert_allclose(d.log_cdf(0.3), stats.norm(0.5, 2.0).logcdf([0.3] * 3))


@pytest.mark.parametrize("df", [1.0, 3.0, 7.5])
@pytest.mark.parametrize("x", [0.5, 0.5 + 1e-10, 0.5 - 3e-9])
def test_student_t_cdf_gradient_is_the_pdf_at_and_near_the_location(df, x):
    """At x = loc the betainc form's derivative is 0 * inf; the cdf's derivative is the pdf."""
    g = ad.grad(lambda x: C.StudentT(df, 0.5, 2.0).cdf(x))(np.array(x))
    g_loc = ad.grad(lambda m: C.StudentT(df, m, 2.0).cdf(np.array(x)))(np.array(0.5))
    pdf = stats.t.pdf(x, df, 0.5, 2.0)
    np.testing.assert_allclose([g, -g_loc], [pdf, pdf], rtol=1e-12)
    # scipy's stdtr rounds to 1/2 within ~1e-9 of the centre at df = 1: arctan there
    ref = stats.cauchy(0.5, 2.0) if df == 1.0 else stats.t(df, 0.5, 2.0)
    np.testing.assert_allclose(C.StudentT(df, 0.5, 2.0).cdf(np.array(x)), ref.cdf(x), rtol=1e-14)
