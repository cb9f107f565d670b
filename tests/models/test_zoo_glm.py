"""The zoo's regressions and GLMs (kidiq, kidiq_normal, linear_regression, logistic_regression,
seeds, poisson_regression, negbin_regression): each log density against one written by hand
with scipy (rtol 1e-10), the data checked, and ADVI fits (seed 0, defaults otherwise) against
independent references computed here in numpy/scipy from those hand-written densities.

References:
- kidiq, kidiq_normal, linear_regression: exact. Given sigma, beta is Gaussian (flat or Normal
  prior, Normal likelihood), so p(sigma | y) is known in closed form up to a constant and the
  moments are 1-D integrals over sigma (`normal_linear_reference` in
  tests/models/zoo_reference.py, a 4001-point grid).
- logistic_regression, poisson_regression, negbin_regression: importance sampling from a
  multivariate t (df 10) at the mode of the hand-written density, scaled by the inverse of its
  finite-difference Hessian (zoo_reference's `importance_sampling`), 8000 draws,
  Pareto-smoothed weights; the test asserts k-hat < 0.7 (here -0.5 to 0.3) and ESS > 2500 (a
  mean's Monte Carlo error under 0.02 sd; here ESS 7250-7500).
- seeds: that importance sampling fails (k-hat 2.1): the joint mode of the density in
  non-centred coordinates (b_raw = b / sigma) sits at sigma = 3.4, far from the posterior
  (sigma about 0.34 +- 0.14), and the centred one (the zoo's form) has none. Instead
  `seeds_reference` (tests/models/seeds_reference.py) integrates over sigma (80 points) and,
  given sigma, where (alpha, b_raw) is log-concave, importance-samples around Newton's mode
  (largest k-hat 0.24). Its Monte Carlo error, from 5 seeds of its draws: means 0.006 sd, sds
  about 3%.

Tolerances: means within 0.25 reference sd (the issue's bar; `fit.mean` averages 1000 draws of
q: Monte Carlo error about 0.03 sd), sds within 25% (1000 draws: about 2%). Fullrank for every
entry (it can represent the correlations); meanfield, the CLI's default, for the five cheap
ones, where kidiq's beta sds are only required to be too small (intercept and slope correlate
at -0.99 and meanfield's are 0.15 of the truth). seeds is fitted with fullrank and
precondition=None: with the default Laplace preconditioning fullrank starts at that
unrepresentative mode, and before c03749a it settled there (seed 0: ELBO -77.4 against -72;
sigma's mean +4.7 sd). Since c03749a ADVI reruns such a fit from Stan's start, and the
defaults do about as well (re-measured, seeds 0..4: alphas 0.11 / 0.31, b 0.36 / 0.29, sigma
0.69 / 0.46); the test keeps precondition=None, one attempt instead of two. seeds' sigma (a
Gaussian in log sigma for a posterior with mass near 0) and b are held loosely: sigma's mean
within 1 sd and sd within 50%, b's means 0.5 sd and sds 40%, the alphas at 0.25 sd and 30%.

Seed sweep, seeds 0..4 by hand (worst |mean error| in reference sd / worst |sd ratio - 1|):
  kidiq, kidiq_normal fullrank  beta 0.134 / 0.066, sigma 0.116 / 0.091
  kidiq meanfield               beta 0.110 / (0.85 too small), sigma 0.141 / 0.096
  linear_regression fullrank    beta 0.125 / 0.111, sigma 0.852 (seed 2) / 0.132
  linear_regression meanfield   beta 0.124 / 0.145, sigma 0.849 (seed 2) / 0.132
  logistic_regression fullrank  0.166 / 0.114;  meanfield 0.133 / 0.099
  poisson_regression fullrank   0.079 / 0.117;  meanfield 0.063 / 0.123
  negbin_regression fullrank    0.091 / 0.082;  meanfield 0.076 / 0.061
  seeds fullrank (no precond.)  alphas 0.200 / 0.284, b 0.473 / 0.408, sigma 0.833 / 0.394
                                (written centred, centredness learned; the earlier
                                hand-non-centred form: 0.150 / 0.215, 0.428 / 0.337,
                                0.815 / 0.455)
Seed 0 (tested) is within every bound; seed 2 of linear_regression is not: Stan's eta
adaptation picks eta = 0.01 (its ELBO estimates: -573.6 at eta 1, -572.5 at 0.01, noise), the
run stops at step 1300 and sigma's mean is 0.85 sd low (2.863 against 2.999); eta=0.1 gives
2.988.
"""
import json
import warnings

import numpy as np
import pytest
import scipy.special as sp
import scipy.stats as st

from models import load_model
import ppl
from ppl import handlers
from tests.models.seeds_reference import lp_seeds, seeds_reference
from tests.models.zoo_reference import (bound, fit_of, importance_sampling,
                                        normal_linear_reference, pieces, standardised_errors,
                                        weighted_moments)
from tests.ppl import posteriordb as pdb

TOL_MEAN = 0.25
TOL_SD = 0.25


def positive(name):
    return name in ("sigma", "phi")


def constrained(m, z):
    """The latents at z by hand (exp for sigma and phi)."""
    out = {n: np.exp(v[..., 0]) if positive(n) else (v[..., 0] if v.shape[-1] == 1 and
                                                       not m.parameters[n].shape else v)
           for n, v in pieces(m, z).items()}
    return out


# ---- log densities by hand, with scipy: z of shape (D,) or (S, D) -> () or (S,) ----------------
def lp_kidiq(m, d, z, beta_sd=None):
    """sigma ~ HalfCauchy(2.5) (+ log sigma for exp); beta flat or N(0, beta_sd)."""
    p = pieces(m, z)
    beta, log_sigma = p["beta"], p["sigma"][..., 0]
    sigma = np.exp(log_sigma)
    mu = beta[..., :1] + beta[..., 1:] * d["mom_iq"]
    out = (st.halfcauchy.logpdf(sigma, scale=2.5) + log_sigma
           + st.norm.logpdf(d["kid_score"], mu, sigma[..., None]).sum(-1))
    if beta_sd is not None:
        out = out + st.norm.logpdf(beta, 0.0, beta_sd).sum(-1)
    return out


def lp_linear_regression(m, d, z):
    p = pieces(m, z)
    beta, log_sigma = p["beta"], p["sigma"][..., 0]
    sigma = np.exp(log_sigma)
    return (st.norm.logpdf(beta, 0.0, 10.0).sum(-1) + st.halfnorm.logpdf(sigma, scale=10.0)
            + log_sigma + st.norm.logpdf(d["y"], beta @ d["X"].T, sigma[..., None]).sum(-1))


def lp_logistic_regression(m, d, z):
    """Bernoulli(y | logits eta) = expit(eta) for y = 1, expit(-eta) for y = 0."""
    beta = pieces(m, z)["beta"]
    eta = beta @ d["x"].T
    return st.norm.logpdf(beta).sum(-1) + sp.log_expit((2.0 * d["y"] - 1.0) * eta).sum(-1)


def lp_poisson_regression(m, d, z):
    p = pieces(m, z)
    alpha, beta = p["alpha"][..., 0], p["beta"]
    mean = d["exposure"] * np.exp(alpha[..., None] + beta @ d["x"].T)
    return (st.norm.logpdf(alpha, 0.0, 5.0) + st.norm.logpdf(beta).sum(-1)
            + st.poisson.logpmf(d["y"], mean).sum(-1))


def lp_negbin_regression(m, d, z):
    """NB2 as scipy's nbinom(n = phi, p = phi / (phi + mean)); phi ~ Gamma(2, rate 0.1)."""
    p = pieces(m, z)
    alpha, beta, log_phi = p["alpha"][..., 0], p["beta"], p["phi"][..., 0]
    phi = np.exp(log_phi)
    mean = d["exposure"] * np.exp(alpha[..., None] + beta @ d["x"].T)
    return (st.norm.logpdf(alpha, 0.0, 5.0) + st.norm.logpdf(beta).sum(-1)
            + st.gamma.logpdf(phi, 2.0, scale=10.0) + log_phi
            + st.nbinom.logpmf(d["y"], phi[..., None], phi[..., None] / (phi[..., None] + mean))
            .sum(-1))


HAND = {"kidiq": lp_kidiq,
        "kidiq_normal": lambda m, d, z: lp_kidiq(m, d, z, beta_sd=100.0),
        "linear_regression": lp_linear_regression,
        "logistic_regression": lp_logistic_regression,
        "poisson_regression": lp_poisson_regression,
        "negbin_regression": lp_negbin_regression,
        "seeds": lp_seeds}                 # in tests/models/seeds_reference.py
NAMES = sorted(HAND)


@pytest.mark.parametrize("name", NAMES)
def test_log_density_matches_scipy_by_hand(name):
    m, d = bound(name)
    rng = np.random.default_rng(11)
    for _ in range(3):
        z = rng.normal(size=m.num_params)
        expected = float(HAND[name](m, d, z))
        assert float(m.unconstrained_log_density(z)) == pytest.approx(expected, rel=1e-10)
        got = m.constrain(z)
        for site, value in constrained(m, z).items():
            np.testing.assert_allclose(got[site], value, rtol=1e-12)


_REFS = {}


def reference(name):
    """(mean, sd) of entry `name`'s posterior on its shipped data, computed once."""
    if name in _REFS:
        return _REFS[name]
    m, d = bound(name)
    if name in ("kidiq", "kidiq_normal"):
        X = np.column_stack([np.ones(d["N"]), d["mom_iq"]])
        ref = normal_linear_reference(X, d["kid_score"], None if name == "kidiq" else 100.0,
                                      lambda s: st.halfcauchy.logpdf(s, scale=2.5))
    elif name == "linear_regression":
        ref = normal_linear_reference(d["X"], d["y"], 10.0,
                                      lambda s: st.halfnorm.logpdf(s, scale=10.0))
    elif name == "seeds":
        mean, sd, khat = seeds_reference(m, d)
        print(f"seeds reference: largest k-hat given sigma {khat:.2f}")
        assert khat < 0.7, khat
        ref = mean, sd
    else:
        # a multivariate t (df 10) at the mode, started at 0
        z, w, khat, ess = importance_sampling(lambda z: HAND[name](m, d, z),
                                              np.zeros(m.num_params), 8000,
                                              np.random.default_rng(0), df=10.0)
        print(f"{name} reference: k-hat {khat:.2f}, ESS {ess:.0f}")
        assert khat < 0.7 and ess > 2500, (khat, ess)    # MC error of a mean < 0.02 sd
        ref = weighted_moments(w, constrained(m, z))
    _REFS[name] = ref
    return ref


def errors(fit, name):
    """(fit mean - reference mean) / reference sd and fit sd / reference sd - 1, by site."""
    errs = standardised_errors(fit, *reference(name))
    err, ratio = {k: e for k, (e, _) in errs.items()}, {k: r - 1.0 for k, (_, r) in errs.items()}
    print(f"{name} {fit.family} seed {fit.seed}: " + "; ".join(
        f"{k} mean {np.abs(err[k]).max():.3f} sd {np.abs(ratio[k]).max():.3f}" for k in err))
    return err, ratio


FAMILY = {name: "fullrank" for name in NAMES}


@pytest.mark.parametrize("name", [n for n in NAMES if n != "seeds"])
def test_fit_matches_the_reference(name):
    err, ratio = errors(fit_of(name, FAMILY[name]), name)
    for k in err:
        assert np.all(np.abs(err[k]) < TOL_MEAN), (k, err[k])
        assert np.all(np.abs(ratio[k]) < TOL_SD), (k, ratio[k])


@pytest.mark.parametrize("name", ["kidiq", "linear_regression", "logistic_regression",
                                  "poisson_regression", "negbin_regression"])
def test_meanfield_fit_means_match_the_reference(name):
    # the CLI's default family: means as tight; sds too, but kidiq's beta (correlation -0.99
    # between intercept and slope) which meanfield can only get too narrow
    err, ratio = errors(fit_of(name, "meanfield"), name)
    for k in err:
        assert np.all(np.abs(err[k]) < TOL_MEAN), (k, err[k])
        if name == "kidiq" and k == "beta":
            assert np.all(ratio[k] < -0.5), ratio[k]
        else:
            assert np.all(np.abs(ratio[k]) < TOL_SD), (k, ratio[k])


@pytest.mark.parametrize("family", ["fullrank", "meanfield"])
def test_linear_regression_fits_hold_over_seeds(family):
    # seeds 0..4, bars in reference sd. Seed 2 failed both families (sigma 0.85 sd off): eta's
    # adaptation compared independent noisy ELBO estimates, and from the whitened (Laplace)
    # start the smallest eta won by standing still; its fit stayed at the Laplace start and
    # "converged". Measured after the fix (common draws, `optim.choose_eta`): worst mean 0.13
    # (fullrank) and 0.12 (meanfield), worst sd 0.11 and 0.09; eta 0.1 at every seed.
    for seed in range(5):
        err, ratio = errors(fit_of("linear_regression", family, seed=seed), "linear_regression")
        for k in err:
            assert np.all(np.abs(err[k]) < TOL_MEAN), (seed, k, err[k])
            assert np.all(np.abs(ratio[k]) < TOL_SD), (seed, k, ratio[k])


def test_seeds_fit_matches_the_reference():
    # fullrank without preconditioning; sigma and b loosely (see the module docstring)
    err, ratio = errors(fit_of("seeds", FAMILY["seeds"], precondition=None), "seeds")
    for k in ("alpha0", "alpha1", "alpha2", "alpha12"):
        assert abs(err[k][0]) < TOL_MEAN and abs(ratio[k][0]) < 0.3, (k, err[k], ratio[k])
    assert np.all(np.abs(err["b"]) < 0.5) and np.all(np.abs(ratio["b"]) < 0.4)
    assert abs(err["sigma"][0]) < 1.0 and abs(ratio["sigma"][0]) < 0.5


@pytest.mark.parametrize("rounds", [True, False])
def test_seeds_lowrank_q_matches_the_reference_only_when_rewhitened(rounds, monkeypatch):
    """q itself (20,000 of its draws, no PSIS resampling) of the low-rank family by the default
    (deterministic ADVI, centring learned), seed 0: re-whitened from q (`ppl.infer.whiten`),
    every mean within 0.25 sd of the quadrature reference and every sd within [0.8, 1.2] of
    its (measured, seeds 0..2: 0.12-0.16, sds 0.84-1.11); in diagonal coordinates only the
    smallest sd ratio is under 0.8 (seeds 0..2: 0.72, 0.87, 0.72; means 0.15-0.25 sd off)."""
    if not rounds:
        monkeypatch.setattr("ppl.infer.fit.MAX_D", 0)
    m, d = bound("seeds")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = ppl.advi(m, family="lowrank", seed=0, progress=False)
        fit.resample = False
        draws = fit.sample(20_000, seed=1)
    mean, sd = reference("seeds")
    err = max(np.max(np.abs(np.asarray(draws[k]).mean(0) - mean[k]) / sd[k]) for k in mean)
    ratio = np.concatenate([np.atleast_1d(np.asarray(draws[k]).std(0) / sd[k]) for k in mean])
    assert ("round" in fit.diagnostics.whitening) == rounds
    if rounds:
        assert err < 0.25 and 0.8 < ratio.min() and ratio.max() < 1.2, (err, ratio)
    else:
        assert ratio.min() < 0.8, ratio


# ---- the data -----------------------------------------------------------------------------------
def test_seeds_data_are_the_bugs_table():
    d = load_model("seeds").data()
    assert d["N"] == 21 and all(len(d[k]) == 21 for k in ("r", "n", "x1", "x2"))
    # BUGS Examples Vol. I, Seeds: 424 of 831 seeds germinated; 5, 6, 5, 5 plates per
    # (x1, x2) cell (0, 0), (0, 1), (1, 0), (1, 1); plate 16 has 0 of 4
    assert d["r"].sum() == 424 and d["n"].sum() == 831
    cells = [int(np.sum((d["x1"] == i) & (d["x2"] == j))) for i in (0, 1) for j in (0, 1)]
    assert cells == [5, 6, 5, 5]
    assert (d["r"][15], d["n"][15]) == (0, 4) and np.all(d["r"] <= d["n"])


SIMULATED = {"kidiq": ("kid_score",), "linear_regression": ("X", "y"),
             "logistic_regression": ("x", "y"), "count_regression": ("x", "exposure", "y")}


@pytest.mark.parametrize("module", sorted(SIMULATED))
def test_simulated_data_are_reproducible_and_depend_on_the_seed(module):
    mod = __import__(f"models.{module}", fromlist=["simulate"])
    a, b, c = mod.simulate(), mod.simulate(), mod.simulate(seed=12345)
    for key in SIMULATED[module]:
        np.testing.assert_array_equal(a[key], b[key])
        assert not np.array_equal(a[key], c[key]), key
    for k, v in mod.data().items():
        np.testing.assert_array_equal(v, a[k])


def test_simulated_data_follow_their_truth():
    # loose checks of the simulation recipes against TRUE (least squares / sample moments)
    from models import count_regression, kidiq, linear_regression
    d = kidiq.simulate(N=20_000)
    X = np.column_stack([np.ones(20_000), d["mom_iq"]])
    coef, rss = np.linalg.lstsq(X, d["kid_score"], rcond=None)[:2]
    np.testing.assert_allclose(coef, kidiq.TRUE["beta"], rtol=0.05)
    assert np.sqrt(rss[0] / 20_000) == pytest.approx(kidiq.TRUE["sigma"], rel=0.02)
    assert d["mom_iq"].mean() == pytest.approx(100, abs=0.5)
    d = linear_regression.simulate(N=100_000)
    coef = np.linalg.lstsq(d["X"], d["y"], rcond=None)[0]
    np.testing.assert_allclose(coef, linear_regression.TRUE["beta"], atol=0.05)
    nb = count_regression.simulate(N=50_000, overdispersed=True)
    po = count_regression.simulate(N=50_000)
    np.testing.assert_array_equal(nb["x"], po["x"])       # one design, two count models
    t = count_regression.TRUE
    mean = po["exposure"] * np.exp(t["alpha"] + po["x"] @ t["beta"])
    assert po["y"].mean() == pytest.approx(mean.mean(), rel=0.02)
    # NB2: E[(y - mu)^2 - mu] = mu^2 / phi
    phi = np.sum(mean ** 2) / np.sum((nb["y"] - mean) ** 2 - mean)
    assert phi == pytest.approx(t["phi"], rel=0.1)


@pytest.mark.parametrize("name", NAMES)
def test_prior_predictive_draws_where_the_prior_is_proper(name):
    # the model function itself under ppl.handlers.seed (a Model cannot be bound with a
    # discrete site left unobserved: it would be a latent discrete variable)
    entry = load_model(name)
    d = entry.data()
    obs = {"kidiq": "kid_score", "kidiq_normal": "kid_score", "seeds": "r"}.get(name, "y")
    run = handlers.seed(np.random.default_rng(0), entry.model.model_fn)
    kwargs = {k: v for k, v in d.items() if k != obs}
    if name == "kidiq":                                    # flat beta: nothing to draw
        with pytest.raises(NotImplementedError, match="improper"):
            run(**kwargs)
        return
    with handlers.trace() as tr:
        run(**kwargs)
    draw = np.asarray(tr.sites[obs]["value"])
    assert draw.shape == np.shape(d[obs]) and np.all(np.isfinite(draw))
    if name in ("seeds",):
        assert np.all((draw >= 0) & (draw <= d["n"]))


# ---- posteriordb's data bind (only where ../shared/data/posteriordb is on this machine) ---------
@pytest.mark.skipif(not pdb.available(pdb.KIDIQ), reason=pdb.MISSING)
def test_kidiq_on_posteriordb_data_is_posteriordbs_model():
    raw = json.loads((pdb.ROOT / pdb.KIDIQ / "data.json").read_text())
    zoo = load_model("kidiq").model(**{k: np.asarray(v) for k, v in raw.items()})  # as the CLI
    ref = pdb.bound(pdb.KIDIQ)
    assert list(zoo.parameters) == list(ref.parameters) == ["beta", "sigma"]
    rng = np.random.default_rng(3)
    for _ in range(3):
        z = rng.normal(size=3) * [10.0, 0.5, 1.0] + [26.0, 0.6, 2.9]
        assert float(zoo.unconstrained_log_density(z)) == pytest.approx(
            float(ref.unconstrained_log_density(z)), rel=1e-12)


@pytest.mark.skipif(not pdb.available(pdb.BLR), reason=pdb.MISSING)
def test_linear_regression_on_posteriordb_data_is_posteriordbs_blr():
    raw = json.loads((pdb.ROOT / pdb.BLR / "data.json").read_text())
    zoo = load_model("linear_regression").model(**{k: np.asarray(v) for k, v in raw.items()})
    ref = pdb.bound(pdb.BLR)
    z = np.random.default_rng(4).normal(size=ref.num_params)
    assert zoo.num_params == ref.num_params == 6
    assert float(zoo.unconstrained_log_density(z)) == pytest.approx(
        float(ref.unconstrained_log_density(z)), rel=1e-12)
