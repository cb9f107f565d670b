"""The zoo's hierarchical and many-latent entries: radon (non-centred and centred) and stochastic
volatility. Log densities against scipy by hand; fits against independent references.

radon (non-centred), meanfield, seed 0, against a Gibbs sampler in numpy
(models/reference/radon_gibbs.py; 4 chains x 2000 kept sweeps, split R-hat 1.000, Monte Carlo error
of a mean about 0.03 sd). Seeds 0..4 measured by hand (worst): |mean - ref| / ref sd: mu_a 0.03, b
0.07, sigma_y 0.22, a_j 0.28, sigma_a 0.73; sd / ref sd: b 0.92, sigma_y 0.97-1.01, a_j 0.90-1.14,
mu_a 0.48-0.51, sigma_a 0.54-0.57. Tolerances: means within 0.4 ref sd (sigma_a: 1.0, meanfield
misses the skew of the scale), sds within 20% for b, sigma_y and the a_j; mu_a and sigma_a are
correlated with all 85 a_raw_j, which meanfield cannot represent: their sd ratio must lie in
[0.4, 0.75] (it is the known underestimate, and it must not get worse or vanish silently).
Fullrank is worse on this form. Before c03749a sigma_a ended 17-22 ref sd off at seeds 0..4
(sd ratio 2.1-2.3): ADVI's default whitening at the joint mode (not at the posterior; the joint
mode of a non-centred hierarchy sits at a large sigma_a) starts it in the wrong place. Since
c03749a ADVI reruns such a fit from Stan's start (re-measured, seeds 0..4: sigma_a 0.4-2.7 ref
sd off, sd ratio 0.56-0.67; mu_a 0.68, sigma_y 0.93, a_j 0.85 ref sd). Not tested; reported.

radon_centered, fullrank, seed 0, against the same Gibbs draws. Seeds 0..4 (worst): mu_a 0.07,
b 0.04, sigma_y 0.64, a_j 0.40, sigma_a 1.72 ref sd; sd ratios 0.99-1.30. The funnel (no mode:
the density grows without bound as sigma_a -> 0) costs sigma_a its accuracy. Tolerances: mu_a and
b within 0.25, sigma_y and a_j within 0.8, sigma_a within 2.5 ref sd; sds within 0.8-1.5x.
(Meanfield on the centred form is erratic: 0.2 to 7 sd off over seeds 0..4.)

stochastic_volatility, meanfield, seeds 0..4, against NumPyro's NUTS on the same data (1000
draws: mu -1.22 +- 0.26, phi 0.942 +- 0.029, sigma 0.277 +- 0.071), in units of NUTS's sd:
mu within 0.5, phi and sigma within 1.6 (meanfield's sds are about 2.5x too small and its phi
and sigma sit low: measured 0.45-0.47 for mu, 1.13-1.38 for phi, 0.97-1.08 for sigma at seeds
0, 1, 2, 4), and at least 85% of the 500 simulated h_t inside their 90% interval. Seed 3 stops
in a local optimum of the ELBO at phi 0.25, sigma 0.57 (24 and 4.4 NUTS sd off): the test
holds at 4 of the 5 seeds and asserts that at most one fails (a failure rate of 1/5 is what
it shows; it is deterministic, the seeds being fixed). Before, the bar was 4 sds of the fit
itself at seed 0 only (sigma 3.93 there; 4.25-5.92 at seeds 1-4).
The fit uses a data-based initial point (`stochastic_volatility.initial_point`: mu at
mean(log y^2) + 1.27, phi 0, sigma 1, h_std 0) and precondition=None: from Stan's random
initial point phi ends at 0.67 or near 0; and the default whitening finds the joint mode of
the non-centred density, a degenerate point (sigma ~ 40, phi ~ 0: h fits log y^2), and the fit
stays there (phi 0.03); since c03749a ADVI then reruns from Stan's start, with the result
above (so `wengert fit stochastic_volatility` misses the posterior). Reported, not fixed here.
"""
import numpy as np
import pytest
import scipy.stats as st
from scipy.special import log_expit

from models import radon as zoo_radon
from models import stochastic_volatility as zoo_sv
from models.reference.radon_gibbs import COLUMNS, gibbs, split_rhat
from tests.models.zoo_reference import bound, fit_of, pieces, standardised_errors


# ---- radon ------------------------------------------------------------------------------------
def _radon_by_hand(d, p, centred):
    mu_a, log_sa, b, log_sy = p["mu_a"][0], p["sigma_a"][0], p["b"][0], p["sigma_y"][0]
    sigma_a, sigma_y = np.exp(log_sa), np.exp(log_sy)
    lp = (st.norm.logpdf(mu_a, 0, 10) + st.halfnorm.logpdf(sigma_a, scale=5) + log_sa
          + st.norm.logpdf(b, 0, 10) + st.halfnorm.logpdf(sigma_y, scale=5) + log_sy)
    if centred:
        a = p["a"]
        lp += st.norm.logpdf(a, mu_a, sigma_a).sum()
    else:
        a = mu_a + sigma_a * p["a_raw"]
        lp += st.norm.logpdf(p["a_raw"]).sum()
    return lp + st.norm.logpdf(d["y"], a[d["county"]] + b * d["x"], sigma_y).sum(), a


@pytest.mark.parametrize("name", ["radon", "radon_centered"])
def test_radon_matches_scipy_by_hand(name):
    m, d = bound(name)
    centred = name == "radon_centered"
    assert list(m.parameters) == ["mu_a", "sigma_a", "b", "sigma_y", "a" if centred else "a_raw"]
    rng = np.random.default_rng(11)
    for _ in range(3):
        z = rng.normal(size=m.num_params)
        expected, a = _radon_by_hand(d, pieces(m, z), centred)
        assert float(m.unconstrained_log_density(z)) == pytest.approx(expected, rel=1e-10)
        np.testing.assert_allclose(m.constrain(z)["a"], a, rtol=1e-12)


def test_radon_data_simulated_reproducibly_in_survey_shape():
    d = zoo_radon.simulate()
    assert (d["J"], d["y"].shape, d["x"].shape, d["county"].shape) == (85, (919,), (919,), (919,))
    assert set(np.unique(d["county"])) == set(range(85))        # every county has a house
    assert set(np.unique(d["x"])) == {0.0, 1.0}
    for k, v in zoo_radon.data().items():
        np.testing.assert_array_equal(v, d[k])
    assert not np.array_equal(zoo_radon.simulate(seed=2)["y"], d["y"])
    small = zoo_radon.simulate(seed=3, J=10, N=50)
    assert small["J"] == 10 and small["y"].shape == (50,) and small["county"].max() == 9
    draw = zoo_radon.model(county=d["county"], x=d["x"], J=85).prior_sample(seed=0)
    assert draw["a"].shape == (85,) and draw["a_raw"].shape == (85,)


@pytest.fixture(scope="module")
def gibbs_reference():
    draws = gibbs(zoo_radon.data(), sweeps=4000, chains=4, seed=0)
    assert split_rhat(draws) < 1.01
    flat = draws.reshape(-1, draws.shape[2])
    cols = {k: flat[:, i] for i, k in enumerate(COLUMNS)}
    cols["a"] = flat[:, 4:]
    return {k: v.mean(0) for k, v in cols.items()}, {k: v.std(0, ddof=1) for k, v in cols.items()}


def _standardised(fit, ref):
    """site -> (max |mean - ref mean| / ref sd, min and max of sd / ref sd)."""
    return {k: (float(np.max(np.abs(e))), float(r.min()), float(r.max()))
            for k, (e, r) in standardised_errors(fit, *ref).items()}


def test_radon_noncentred_meanfield_matches_gibbs(gibbs_reference):
    res = _standardised(fit_of("radon", "meanfield"), gibbs_reference)
    for site in ("mu_a", "b", "sigma_y", "a"):
        assert res[site][0] < 0.4, (site, res)
    assert res["sigma_a"][0] < 1.0, res
    for site in ("b", "sigma_y", "a"):
        assert 0.8 < res[site][1] and res[site][2] < 1.2, (site, res)
    for site in ("mu_a", "sigma_a"):
        assert 0.4 < res[site][1] <= res[site][2] < 0.75, (site, res)


def test_radon_centred_fullrank_matches_gibbs_within_the_funnel_bias(gibbs_reference):
    res = _standardised(fit_of("radon_centered", "fullrank"), gibbs_reference)
    bars = {"mu_a": 0.25, "b": 0.25, "sigma_y": 0.8, "a": 0.8, "sigma_a": 2.5}
    for site, bar in bars.items():
        assert res[site][0] < bar, (site, res)
        assert 0.8 < res[site][1] and res[site][2] < 1.5, (site, res)


@pytest.mark.parametrize("name", ["radon", "radon_centered"])
def test_the_default_meanfield_fit_matches_gibbs_in_both_forms(gibbs_reference, name):
    # ppl.advi's default on 89 parameters: deterministic ADVI whose linear-response covariance
    # restores the correlations of mu_a and sigma_a with the a_j that meanfield drops (above:
    # sd ratios 0.4-0.75), in the non-centred and the centred (funnel) form alike. Measured
    # at seed 0: means within 0.11 (radon) / 0.09 (centred) ref sd, sd ratios 0.90-1.08
    fit = fit_of(name, "meanfield", method="auto")
    assert fit.method == "dadvi" and fit.lrvb and fit.converged
    res = _standardised(fit, gibbs_reference)
    for site, (err, lo, hi) in res.items():
        assert err < 0.25 and 0.8 < lo and hi < 1.25, (site, res)


# ---- stochastic volatility --------------------------------------------------------------------
def _sv_by_hand(y, p):
    mu, x_phi, log_sigma, h_std = p["mu"][0], p["phi"][0], p["sigma"][0], p["h_std"]
    phi, sigma = -1.0 + 2.0 / (1.0 + np.exp(-x_phi)), np.exp(log_sigma)
    h = np.empty(h_std.size)                    # the recursion, one step at a time
    h[0] = mu + sigma * h_std[0] / np.sqrt(1.0 - phi ** 2)
    for t in range(1, h.size):
        h[t] = mu + phi * (h[t - 1] - mu) + sigma * h_std[t]
    lp = (st.cauchy.logpdf(mu, 0, 10)
          + st.uniform.logpdf(phi, -1, 2) + np.log(2.0) + log_expit(x_phi) + log_expit(-x_phi)
          + st.halfcauchy.logpdf(sigma, scale=5) + log_sigma
          + st.norm.logpdf(h_std).sum() + st.norm.logpdf(y, 0.0, np.exp(h / 2.0)).sum())
    return lp, h


def test_stochastic_volatility_matches_scipy_by_hand():
    d = zoo_sv.data()
    m = zoo_sv.model(**d)
    assert list(m.parameters) == ["mu", "phi", "sigma", "h_std"] and m.num_params == 503
    rng = np.random.default_rng(12)
    for i in range(3):
        z = rng.normal(size=m.num_params) * 0.5
        z[1] = [-2.5, 0.3, 3.0][i]                       # phi negative, near 0, near 1
        expected, h = _sv_by_hand(d["y"], pieces(m, z))
        assert float(m.unconstrained_log_density(z)) == pytest.approx(expected, rel=1e-10)
        np.testing.assert_allclose(m.constrain(z)["h"], h, rtol=1e-10, atol=1e-12)


def test_stochastic_volatility_data_simulated_reproducibly():
    d, h = zoo_sv.simulate_with_h()
    assert d["T"] == 500 and d["y"].shape == (500,) and h.shape == (500,)
    np.testing.assert_array_equal(zoo_sv.data()["y"], d["y"])
    np.testing.assert_array_equal(zoo_sv.simulate()["y"], d["y"])
    assert not np.array_equal(zoo_sv.simulate(seed=1)["y"], d["y"])
    t = zoo_sv.TRUE       # the simulated path has the AR(1) moments it should (loosely)
    assert abs(h.mean() - t["mu"]) < 0.5
    assert np.corrcoef(h[1:], h[:-1])[0, 1] > 0.8
    resid = h[1:] - t["mu"] - t["phi"] * (h[:-1] - t["mu"])
    assert 0.2 < resid.std() < 0.3
    draw = zoo_sv.model(T=50).prior_sample(seed=0)
    assert draw["h"].shape == (50,) and -1 < draw["phi"] < 1


SV_NUTS = {"mu": (-1.22, 0.26), "phi": (0.942, 0.029), "sigma": (0.277, 0.071)}  # mean, sd
SV_BAR = {"mu": 0.5, "phi": 1.6, "sigma": 1.6}                           # in NUTS sd


def test_stochastic_volatility_meanfield_recovers_the_posterior_over_seeds():
    _, h_true = zoo_sv.simulate_with_h()
    failed = []
    for seed in range(5):
        fit = fit_of("stochastic_volatility", "meanfield", seed=seed,
                     init=zoo_sv.initial_point, precondition=None)
        off = {k: abs(float(fit.mean[k]) - m) / sd for k, (m, sd) in SV_NUTS.items()}
        lo, hi = np.quantile(fit.sample(1000, seed=1)["h"], [0.05, 0.95], axis=0)
        cover = float(np.mean((h_true >= lo) & (h_true <= hi)))
        if any(off[k] > SV_BAR[k] for k in off) or cover < 0.85:
            failed.append((seed, {k: round(v, 2) for k, v in off.items()}, cover))
    assert len(failed) <= 1, failed


def test_stochastic_volatility_start_survives_a_zero_return():
    # real returns are often exactly 0 on some days: log(0) must not make the start -inf
    d = zoo_sv.data()
    y = d["y"].copy()
    y[[3, 10]] = 0.0
    start = zoo_sv.initial_point({**d, "y": y})
    assert np.isfinite(start["mu"]) and abs(start["mu"] - zoo_sv.initial_point(d)["mu"]) < 0.2
    m = zoo_sv.model(**{**d, "y": y})
    assert np.isfinite(float(m.unconstrained_log_density(m.unconstrain(start))))
