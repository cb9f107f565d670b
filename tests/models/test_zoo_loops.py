"""The zoo's loop models (ARMA(1, 1), GARCH(1, 1): Python loops over 200 observations): their
log density against one written by hand with numpy and scipy.stats (vectorised over draws, no
engine), the compiled program against both, overflow told from a branch on the real model, and
the fullrank fits against importance sampling of the hand-written density (zoo_reference)."""
import numpy as np
import pytest
import scipy.special as sp
import scipy.stats as st

import autodiff as ad
from models import load_model
from tests.models.zoo_reference import (bound, fit_of, importance_sampling, standardised_errors,
                                        weighted_moments)

TOL_MEAN = 0.25
TOL_SD = 0.25


def lp_arma(d, z):
    """(S, 4) unconstrained (mu, phi, theta, log sigma) -> (S,) log density, Jacobian included."""
    mu, phi, theta, s = z.T
    y = d["y"]
    err = y[0] - mu * (1 + phi)
    errs = [err]
    for t in range(1, len(y)):
        err = y[t] - mu - phi * y[t - 1] - theta * err
        errs.append(err)
    sigma = np.exp(s)
    return (st.norm.logpdf(mu, 0, 10) + st.norm.logpdf(phi, 0, 2) + st.norm.logpdf(theta, 0, 2)
            + st.halfcauchy.logpdf(sigma, scale=5) + s
            + st.norm.logpdf(np.stack(errs), 0, sigma).sum(0))


def lp_garch(d, z):
    """(S, 4) unconstrained (mu, log alpha0, logit alpha1, logit u) -> (S,) log density."""
    mu, a0 = z[:, 0], np.exp(z[:, 1])
    a1, u = sp.expit(z[:, 2]), sp.expit(z[:, 3])
    b1 = (1 - a1) * u
    r = d["r"]
    sig, lp = np.full(len(z), d["sigma1"]), st.norm.logpdf(r[0], mu, d["sigma1"])
    for t in range(1, len(r)):
        sig = np.sqrt(a0 + a1 * (r[t - 1] - mu) ** 2 + b1 * sig ** 2)
        lp = lp + st.norm.logpdf(r[t], mu, sig)
    log_jac = z[:, 1] + np.log(a1 * (1 - a1)) + np.log(u * (1 - u))
    return lp + np.log(1 - a1) + log_jac


LOG_DENSITY = {"arma": lp_arma, "garch": lp_garch}


def constrain(name, z):
    if name == "arma":
        return {"mu": z[:, 0], "phi": z[:, 1], "theta": z[:, 2], "sigma": np.exp(z[:, 3])}
    a1, u = sp.expit(z[:, 2]), sp.expit(z[:, 3])
    return {"mu": z[:, 0], "alpha0": np.exp(z[:, 1]), "alpha1": a1, "beta1": (1 - a1) * u}


@pytest.mark.parametrize("name", ["arma", "garch"])
def test_log_density_and_compiled_program_match_the_hand_written_one(name):
    m, d = bound(name)
    true = load_model(name).TRUE
    z = (m.unconstrain(true) if name == "arma" else np.array(
        [true["mu"], np.log(true["alpha0"]), sp.logit(true["alpha1"]),
         sp.logit(true["beta1"] / (1 - true["alpha1"]))]))
    Z = z + 0.1 * np.random.default_rng(0).standard_normal((5, 4))
    ref = LOG_DENSITY[name](d, Z)
    got = [float(m.unconstrained_log_density(x)) for x in Z]
    np.testing.assert_allclose(got, ref, rtol=1e-10)
    r = ad.compile_value_and_grad(m.unconstrained_log_density, Z[0])
    np.testing.assert_allclose(r.values(Z), ref, rtol=1e-10)
    h = 1e-6
    fd = [(LOG_DENSITY[name](d, Z[1:2] + h * e) - LOG_DENSITY[name](d, Z[1:2] - h * e))[0]
          / (2 * h) for e in np.eye(4)]
    np.testing.assert_allclose(r(Z[1])[1], fd, rtol=1e-5, atol=1e-6)


def test_arma_overflow_is_not_a_branch():
    """|theta| > 1: the error recursion grows like theta^200 and overflows in both the program
    and a fresh run (the issue's ARMA fit that lost its replay to 'the model branches')."""
    m, _ = bound("arma")
    r = ad.compile_value_and_grad(m.unconstrained_log_density, np.zeros(4))
    assert r.audit(np.array([0.0, 0.5, 0.3, 0.0])) == "agrees"
    assert r.audit(np.array([0.0, 0.5, 40.0, 0.0])) == "overflow"


@pytest.mark.parametrize("name", ["arma", "garch"])
def test_fullrank_fit_matches_importance_sampling(name):
    m, d = bound(name)
    fit = fit_of(name)
    assert fit.converged, fit.stop_reason
    assert fit.info["replay"].startswith("yes"), fit.info["replay"]
    z, w, khat, ess = importance_sampling(lambda z: LOG_DENSITY[name](d, z),
                                          np.asarray(fit.mu), 8000, seed=0, df=5, inflate=1.3)
    assert khat < 0.7 and ess > 500
    errs = standardised_errors(fit, *weighted_moments(w, constrain(name, z))).values()
    assert max(float(np.max(np.abs(e))) for e, _ in errs) < TOL_MEAN
    assert max(float(np.max(np.abs(r - 1))) for _, r in errs) < TOL_SD


@pytest.mark.parametrize("family", ["meanfield", "fullrank"])
@pytest.mark.parametrize("name", ["arma", "garch"])
def test_the_default_fit_is_accurate_or_its_verdict_says_not(name, family):
    # ppl.advi's default (deterministic ADVI here, with linear-response covariances under
    # meanfield) against importance sampling of the hand-written density: within the bars,
    # or a "miss" verdict (GARCH meanfield: alpha1 0.42 sd off, k-hat 0.73; issue 14's bar)
    m, d = bound(name)
    fit = fit_of(name, family, method="auto")
    assert fit.method == "dadvi" and fit.converged, fit.stop_reason
    z, w, khat, ess = importance_sampling(lambda z: LOG_DENSITY[name](d, z),
                                          np.asarray(fit.mu), 8000, seed=0, df=5, inflate=1.3)
    assert khat < 0.7 and ess > 500
    errs = standardised_errors(fit, *weighted_moments(w, constrain(name, z))).values()
    worst = max(float(np.max(np.abs(e))) for e, _ in errs)
    sd_off = max(float(np.max(np.abs(np.log(r)))) for _, r in errs)
    if name == "arma":          # the bar: accurate in both families
        assert worst < 0.3 and sd_off < np.log(1.25), (worst, sd_off)
    else:
        assert (worst < 0.3 and sd_off < np.log(1.25)) or fit.verdict.kind == "miss", (
            worst, sd_off, fit.verdict)
