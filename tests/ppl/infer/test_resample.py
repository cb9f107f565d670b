"""ppl.infer.resample: PSIS resampling recovers a known target from a wider Gaussian, and is
refused (q's draws returned, said so) when k-hat >= 0.7 or no weight is finite."""
import numpy as np
import pytest
import scipy.stats as st

from ppl.infer.resample import psis_resample


def test_resampling_a_wide_gaussian_recovers_the_target():
    rng = np.random.default_rng(0)
    x = rng.normal(0.0, 2.0, size=(20000, 2))                 # q = N(0, 2^2 I)
    target = st.multivariate_normal([1.0, -0.5], [[1.0, 0.6], [0.6, 1.0]])
    r = psis_resample(x, target.logpdf(x), st.norm.logpdf(x, 0, 2).sum(1), 4000, seed=1)
    assert r.applied and r.khat < 0.7 and r.indices.shape == (4000,)
    assert 2000 < r.ess < 20000 and "PSIS-resampled 4000 of 20000" in r.message
    np.testing.assert_allclose(r.draws.mean(0), [1.0, -0.5], atol=0.06)
    np.testing.assert_allclose(np.cov(r.draws.T), [[1.0, 0.6], [0.6, 1.0]], atol=0.08)
    assert st.kstest(r.draws[:, 0], st.norm(1.0, 1.0).cdf).pvalue > 1e-3


def test_high_khat_or_no_finite_weight_returns_q_draws_and_says_so():
    rng = np.random.default_rng(1)
    x = rng.normal(0.0, 0.2, size=(2000, 1))                  # q far too narrow
    r = psis_resample(x, st.norm.logpdf(x, 0, 1).sum(1), st.norm.logpdf(x, 0, 0.2).sum(1), 500)
    assert not r.applied and r.khat >= 0.7 and "not resampled" in r.message
    np.testing.assert_array_equal(r.draws, x[:500])
    r = psis_resample(x, np.full(2000, np.nan), np.zeros(2000))
    assert not r.applied and "no draw" in r.message


def test_bad_arguments():
    with pytest.raises(ValueError, match="size"):
        psis_resample(np.zeros((30, 1)), np.zeros(30), np.zeros(30), size=0)
    with pytest.raises(ValueError, match=r"\(S, D\)"):
        psis_resample(np.zeros((30, 1)), np.zeros(29), np.zeros(30))
