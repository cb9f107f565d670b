"""PSIS and split R-hat: against ArviZ (0.23's `psislw`, or ArviZ 1.x's array-level
`arviz_stats.base.array_stats.psislw`), closed forms (the tail index of |t_nu| weights is
1/nu; a GPD's shape), and hand formulas.

The tail length M: the paper says min(0.2 S, 3 sqrt(S)); we round up, as the loo R package
and ArviZ 0.23 do, while ArviZ 1.x rounds down. The comparisons use S where the two agree
(S <= 225 with 0.2 S whole, or 3 sqrt(S) whole); there, every k-hat and weight agrees to
rounding error, so the tolerance is 1e-10.
"""
import math

import numpy as np
import pytest
from scipy import stats

import arviz as az
from ppl.infer.diagnostics import gpd_fit, psis, split_rhat

AZ1 = int(az.__version__.split(".")[0]) >= 1


def arviz_psislw(lw):
    if AZ1:
        from arviz_stats.base import array_stats
        # ArviZ 1.x's psislw takes log-likelihood values (PSIS-LOO ratios are 1 / p(y_i | th))
        out, k = array_stats.psislw(-np.asarray(lw))
    else:
        out, k = az.psislw(np.asarray(lw).copy())
    return np.asarray(out), float(k)


def weight_sets():
    rng = np.random.default_rng(11)
    return {
        "normal ratio": 0.5 * rng.normal(size=2500),
        "t nu=2 tail": np.log(np.abs(rng.standard_t(2.0, size=3600))),
        "t nu=1.25 tail": np.log(np.abs(rng.standard_t(1.25, size=3600))),
        "q too narrow": 0.5 * 0.99 * rng.normal(size=400) ** 2,
        "small S=30": rng.normal(size=30),
        "S=100": 2.0 * rng.normal(size=100),
        "S=2500 lognormal": 1.5 * rng.normal(size=2500) + 40.0,
    }


@pytest.mark.parametrize("name", list(weight_sets()))
def test_matches_arviz_psislw(name):
    lw = weight_sets()[name]
    ours, k = psis(lw)
    ref, k_ref = arviz_psislw(lw)
    assert math.isfinite(k)
    assert abs(k - k_ref) < 1e-10
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-10)


@pytest.mark.parametrize("nu", [1.0, 2.0, 4.0])
def test_khat_of_t_tails_is_one_over_nu(nu):
    # P(|t| > x) ~ x^-nu: importance weights |t| have Pareto tail index k = 1/nu
    t = stats.t(nu).rvs(size=10000, random_state=np.random.default_rng(int(nu * 10)))
    _, k = psis(np.log(np.abs(t)))
    assert abs(k - 1 / nu) < 0.12


def test_gpd_fit_recovers_known_shape_and_scale():
    x = stats.genpareto(c=0.3, scale=2.0).rvs(size=20000, random_state=np.random.default_rng(5))
    k, sigma = gpd_fit(x)
    assert abs(k - 0.3) < 0.04
    assert abs(sigma / 2.0 - 1) < 0.05
    # Zhang & Stephens' estimate is close to the maximum likelihood one at this n (the prior's
    # 10 pseudo-draws at 0.5 move it by ~0.1%)
    c_mle, _, scale_mle = stats.genpareto.fit(x, floc=0)
    assert abs(k - c_mle) < 0.01 and abs(sigma / scale_mle - 1) < 0.02


def test_weights_normalised_body_kept_and_tail_truncated():
    lw = np.log(np.abs(np.random.default_rng(2).standard_t(1.5, size=900)))
    out, k = psis(lw)
    assert abs(np.exp(out).sum() - 1) < 1e-12
    m = math.ceil(min(0.2 * 900, 3 * math.sqrt(900)))
    order = np.argsort(lw)
    body, tail = order[:-m], order[-m:]
    shift = out[body] - lw[body]
    np.testing.assert_allclose(shift, shift[0], atol=1e-12)       # body only normalised
    assert np.all(out[tail] - shift[0] <= lw.max() + 1e-12)         # truncated at max raw
    assert np.all(np.diff(out[tail]) >= -1e-12)                     # order kept in the tail
    assert not np.allclose(out[tail] - shift[0], lw[tail])           # and it was smoothed


def test_shift_invariance_and_minus_inf():
    lw = np.random.default_rng(3).normal(size=500)
    a, ka = psis(lw)
    b, kb = psis(lw + 1234.5)
    np.testing.assert_allclose(a, b, atol=1e-9)
    assert abs(ka - kb) < 1e-9
    c, kc = psis(np.r_[lw, -np.inf, -np.inf])
    assert np.all(c[-2:] == -np.inf) and math.isfinite(kc)
    assert abs(np.exp(c).sum() - 1) < 1e-12


def test_too_few_draws_and_flat_weights():
    lw = np.random.default_rng(4).normal(size=20)       # tail of 4 < 5: nothing fitted
    out, k = psis(lw)
    assert k == math.inf
    np.testing.assert_allclose(out, lw - np.log(np.exp(lw).sum()), atol=1e-12)
    assert math.isfinite(psis(np.r_[lw, 0.5])[1])      # S = 21: a tail of 5
    out, k = psis(np.full(100, 3.0))                    # q = p: no tail at all
    assert k == -math.inf
    np.testing.assert_allclose(np.exp(out), 0.01)


@pytest.mark.parametrize("bad", [[np.nan, 0.0, 1.0], [np.inf, 0.0, 1.0], np.zeros((3, 3)),
                                 [1.0], [-np.inf, -np.inf]])
def test_psis_errors(bad):
    with pytest.raises(ValueError, match="log_weights|-inf"):
        psis(bad)


# ---- split R-hat ----------------------------------------------------------------------------
def split_rhat_by_hand(x):
    """BDA3 11.4 for the two halves, written out with loops."""
    n = len(x) // 2
    chains = [x[:n], x[len(x) - n:]]
    means = [sum(c) / n for c in chains]
    grand = sum(means) / 2
    b = n * sum((mm - grand) ** 2 for mm in means)          # / (m - 1) with m = 2 chains
    w = sum(sum((v - mm) ** 2 for v in c) / (n - 1) for c, mm in zip(chains, means)) / 2
    return math.sqrt(((n - 1) / n * w + b / n) / w)


@pytest.mark.parametrize("n", [9, 10, 1001])
def test_split_rhat_matches_hand_formula_and_arviz(n):
    rng = np.random.default_rng(n)
    x = np.cumsum(rng.normal(size=(n, 3)), axis=0) * 0.05 + rng.normal(size=(n, 3))
    r = split_rhat(x)
    assert r.shape == (3,)
    h = n // 2
    for j in range(3):
        assert abs(split_rhat(x[:, j]) - split_rhat_by_hand(list(x[:, j]))) < 1e-12
        halves = np.stack([x[:h, j], x[n - h:, j]])     # (chain=2, draw=h), split by hand
        assert abs(r[j] - float(az.rhat(halves, method="identity"))) < 1e-10
    assert isinstance(split_rhat(x[:, 0]), float)


def test_split_rhat_detects_a_trend_and_errors():
    assert split_rhat(np.linspace(0, 1, 200)) > 1.5
    assert abs(split_rhat(np.random.default_rng(0).normal(size=20000)) - 1) < 0.005
    assert math.isnan(split_rhat(np.ones(10)))
    for bad in (np.zeros(3), np.zeros((5, 2, 2))):
        with pytest.raises(ValueError, match="split_rhat"):
            split_rhat(bad)
