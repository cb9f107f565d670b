"""The zoo's time series, mixtures and simplexes (ar, gp_regression, normal_mixture,
dirichlet_categorical, hmm): each log density against one written by hand with scipy and
hand-written Jacobians (rtol 1e-10), each data set checked, the custom distributions' draws
checked, and one fullrank ADVI fit per entry (seed 0, defaults otherwise) against an
independent reference.

References (numpy/scipy only, never the engine):
- dirichlet_categorical: exact, the posterior is Dirichlet(alpha + counts).
- ar: exact up to 1-D quadrature. Given sigma, (alpha, beta) is Gaussian (Normal prior, Normal
  likelihood on the lagged design), so p(sigma | y) is closed form up to a constant; the
  posterior moments are integrals over a 4001-point sigma grid (`ar_reference`, by
  tests/models/zoo_reference.py's `normal_linear_reference`).
- gp_regression, normal_mixture, hmm: importance sampling from a multivariate t (10 degrees of
  freedom) centred at the mode of the hand-written density, scale the inverse of its
  finite-difference Hessian (`laplace_is_reference`, by zoo_reference's
  `importance_sampling`), 8000 draws, Pareto-smoothed
  self-normalised weights; the tests assert k-hat < 0.5 (the reference is reliable) and a Monte
  Carlo error of its means, sd / sqrt(ESS), under 0.02 reference sd.

Tolerances (all fullrank, which can represent the posterior correlations: alpha with beta in
the AR, rho with alpha in the GP, mu_1 with log(mu_2 - mu_1) in the mixture, where meanfield
puts mu_1's sd 40% low): means within 0.25 reference sd (the issue's bar; `fit.mean` is over
1000 draws of q, Monte Carlo error about 0.03 sd) and sds within 25% of the reference.

Seed sweep, seeds 0..4, by hand (worst |mean error| in reference sd; worst |sd ratio - 1|;
range of fit.psis_khat()); the tests run seed 0:
  ar                     fullrank 0.08, 0.11, k -0.42..0.39   (meanfield 0.07, 0.20: sds low)
  gp_regression          fullrank 0.10, 0.06, k 0.26..0.90   (meanfield 0.16, 0.14), see below
  normal_mixture         fullrank 0.10, 0.12, k -0.30..0.60   (meanfield 0.09, 0.43: mu_1's sd
                         about 40% low, the mu_1 / log(mu_2 - mu_1) correlation it cannot hold)
  dirichlet_categorical  fullrank 0.11, 0.09, k 0.05..1.12    (meanfield 0.11, 0.10)
  hmm                    fullrank 0.09, 0.14, k 0.29..0.75    (meanfield 0.12, 0.09)
The Dirichlet's k-hat is high although its moments are good: in stick-breaking coordinates the
posterior of the rare category (a_1 = 8) has an exponential left tail that a Gaussian q cannot
match, so a few draws 3-4 sd out carry large weights. gp_regression: a trial step of ADVI's
step-size adaptation can reach log (rho, alpha, sigma) ~ (630, 345, 61) (seed 4), where
K + sigma^2 I is not positive definite in floating point; that used to stop the fit with a
LinAlgError from the replayed tape (fullrank seed 4, meanfield seeds 2 and 3). Since ADVI
counts a failed Cholesky as a NaN draw (ebc7e8e, 2836d25) every seed 0..4 finishes: the
numbers above are re-measured with it (fullrank seed 4 has k-hat 0.90, its moments are good).
"""
import numpy as np
import pytest
import scipy.special as sp
import scipy.stats as st

from models import load_model
from tests.models.zoo_reference import (bound, fit_of, importance_sampling,
                                        normal_linear_reference, pieces, standardised_errors,
                                        weighted_moments)

TOL_MEAN = 0.25
TOL_SD = 0.25
NAMES = ["ar", "gp_regression", "normal_mixture", "dirichlet_categorical", "hmm"]


def stick_breaking(x):
    """Stan Reference Manual, "Unit simplex", on the last axis of x (..., K - 1):
    z_k = inv_logit(x_k - log(K - k)), y_k = (1 - sum_{j<k} y_j) z_k, y_K the rest;
    log|J| = sum_k log(z_k (1 - z_k) (1 - sum_{j<k} y_j)). Returns (y (..., K), log|J|)."""
    K = x.shape[-1] + 1
    y = np.zeros(x.shape[:-1] + (K,))
    rest, lj = np.ones(x.shape[:-1]), np.zeros(x.shape[:-1])
    for k in range(1, K):
        z = sp.expit(x[..., k - 1] - np.log(K - k))
        y[..., k - 1] = rest * z
        lj = lj + np.log(z) + np.log1p(-z) + np.log(rest)
        rest = rest - y[..., k - 1]
    y[..., K - 1] = rest
    return y, lj


# ---- log densities by hand: z of shape (D,) or (S, D) -> () or (S,) -----------------------------
def lp_ar(m, d, z):
    """alpha ~ N(0, 10), beta ~ N(0, 1), sigma ~ N+(0, 5) (+ log sigma); the AR terms by a loop."""
    p = pieces(m, z)
    alpha, beta, log_sigma = p["alpha"][..., 0], p["beta"], p["sigma"][..., 0]
    sigma = np.exp(log_sigma)
    y, K = d["y"], d["K"]
    out = (st.norm.logpdf(alpha, 0, 10) + st.norm.logpdf(beta).sum(-1)
           + st.halfnorm.logpdf(sigma, scale=5) + log_sigma)
    for t in range(K, d["T"]):
        mu = alpha + sum(beta[..., k] * y[t - 1 - k] for k in range(K))
        out = out + st.norm.logpdf(y[t], mu, sigma)
    return out


def gp_cov(x, alpha, rho, sigma):
    """alpha^2 exp(-(x_i - x_j)^2 / (2 rho^2)) + (sigma^2 + 1e-9) I, batched over the draws."""
    a, r, s = (np.asarray(v)[..., None, None] for v in (alpha, rho, sigma))
    d2 = np.subtract.outer(x, x) ** 2
    return a * a * np.exp(-d2 / (2 * r * r)) + (s * s + 1e-9) * np.eye(len(x))


def lp_gp_regression(m, d, z):
    """rho ~ InvGamma(5, 5), alpha, sigma ~ N+(0, 1), each + log for exp; y ~ MVN(0, cov) by a
    batched Cholesky (scipy's multivariate_normal agrees: see the density test)."""
    p = pieces(m, z)
    lr, la, ls = p["rho"][..., 0], p["alpha"][..., 0], p["sigma"][..., 0]
    rho, alpha, sigma = np.exp(lr), np.exp(la), np.exp(ls)
    L = np.linalg.cholesky(gp_cov(d["x"], alpha, rho, sigma))
    w = np.linalg.solve(L, np.broadcast_to(d["y"], L.shape[:-1])[..., None])[..., 0]
    lik = (-0.5 * (w * w).sum(-1) - np.log(np.diagonal(L, axis1=-2, axis2=-1)).sum(-1)
           - 0.5 * d["N"] * np.log(2 * np.pi))
    return (st.invgamma.logpdf(rho, 5, scale=5) + lr + st.halfnorm.logpdf(alpha) + la
            + st.halfnorm.logpdf(sigma) + ls + lik)


def lp_normal_mixture(m, d, z):
    """theta = expit (+ log theta (1 - theta)); mu = (x1, x1 + e^x2) (+ x2); sigma = e^x (+ x)."""
    p = pieces(m, z)
    x_theta, x_mu, ls = p["theta"][..., 0], p["mu"], p["sigma"][..., 0]
    theta, sigma = sp.expit(x_theta), np.exp(ls)
    mu1, mu2 = x_mu[..., 0], x_mu[..., 0] + np.exp(x_mu[..., 1])
    y = d["y"]
    comp = np.stack([np.log(theta)[..., None] + st.norm.logpdf(y, mu1[..., None],
                                                                sigma[..., None]),
                     np.log1p(-theta)[..., None] + st.norm.logpdf(y, mu2[..., None],
                                                                  sigma[..., None])])
    return (st.beta.logpdf(theta, 5, 5) + np.log(theta) + np.log1p(-theta)
            + st.norm.logpdf(mu1, 0, 10) + st.norm.logpdf(mu2, 0, 10) + x_mu[..., 1]
            + st.halfnorm.logpdf(sigma, scale=2) + ls
            + sp.logsumexp(comp, axis=0).sum(-1))


def lp_dirichlet_categorical(m, d, z):
    theta, lj = stick_breaking(pieces(m, z)["theta"])
    counts = np.bincount(d["y"], minlength=d["K"])
    return st.dirichlet(d["alpha"]).logpdf(theta.T) + lj + np.log(theta) @ counts


def hmm_forward(y, Gamma, lam):
    """log p(y) for a batch (S, 2, 2) of transition matrices and (S, 2) of rates: the forward
    algorithm step by step in log space, started at the stationary distribution (solved)."""
    S = Gamma.shape[0]
    A = np.swapaxes(np.eye(2) - Gamma + 1.0, -1, -2)
    delta = np.linalg.solve(A, np.ones((S, 2, 1)))[..., 0]
    log_emit = st.poisson.logpmf(y[:, None, None], lam)          # (T, S, 2)
    log_Gamma = np.log(Gamma)
    log_alpha = np.log(delta) + log_emit[0]
    for t in range(1, len(y)):
        a = log_alpha[..., :, None] + log_Gamma      # (S, from i, to j)
        log_alpha = np.logaddexp(a[..., 0, :], a[..., 1, :]) + log_emit[t]
    return np.logaddexp(log_alpha[..., 0], log_alpha[..., 1])


def lp_hmm(m, d, z):
    """Rows of Gamma by stick-breaking (K = 2: expit), Dirichlet(1, 1) = 1 each; lambda =
    (e^x1, e^x1 + e^x2) (+ x1 + x2), Gamma(2, rate 0.1) each; y by `hmm_forward`."""
    single, z = np.ndim(z) == 1, np.atleast_2d(z)
    p = pieces(m, z)
    Gamma, lj = stick_breaking(p["Gamma"].reshape(-1, 2, 1))
    xl = p["lambda"]
    lam = np.stack([np.exp(xl[:, 0]), np.exp(xl[:, 0]) + np.exp(xl[:, 1])], axis=-1)
    rows = st.dirichlet.logpdf(Gamma.reshape(-1, 2).T, [1, 1]).reshape(-1, 2)  # (S, 2 rows)
    out = (rows.sum(-1) + lj.sum(-1)
           + st.gamma.logpdf(lam, 2, scale=10).sum(-1) + xl.sum(-1)
           + hmm_forward(d["y"], Gamma, lam))
    return out[0] if single else out


LOG_DENSITY = {"ar": lp_ar, "gp_regression": lp_gp_regression,
               "normal_mixture": lp_normal_mixture,
               "dirichlet_categorical": lp_dirichlet_categorical, "hmm": lp_hmm}


@pytest.mark.parametrize("name", NAMES)
def test_log_density_matches_scipy_by_hand(name):
    m, d = bound(name)
    rng = np.random.default_rng(11)
    for _ in range(3):
        z = 0.5 * rng.normal(size=m.num_params)
        expected = LOG_DENSITY[name](m, d, z)
        np.testing.assert_allclose(float(m.unconstrained_log_density(z)), expected, rtol=1e-10)


def test_gp_batched_likelihood_equals_scipy_multivariate_normal():
    m, d = bound("gp_regression")
    z = np.random.default_rng(12).normal(size=(3, 3)) * 0.5
    rho, alpha, sigma = np.exp(z).T
    lik = [st.multivariate_normal(np.zeros(d["N"]), gp_cov(d["x"], a, r, s)).logpdf(d["y"])
           for r, a, s in zip(rho, alpha, sigma)]
    prior = (st.invgamma.logpdf(rho, 5, scale=5) + st.halfnorm.logpdf(alpha)
             + st.halfnorm.logpdf(sigma) + z.sum(-1))
    np.testing.assert_allclose(lp_gp_regression(m, d, z), prior + lik, rtol=1e-10)


# ---- references ------------------------------------------------------------------------------
def ar_reference(d):
    """Posterior means and sds of alpha, beta, sigma for the AR model, a Gaussian linear model
    on the design X = [1, y_{t-1}, ..., y_{t-K}] (t = K..T-1) with prior sds (10, 1, ..., 1) and
    sigma ~ N+(0, 5): exact up to quadrature over sigma (`normal_linear_reference`)."""
    y, K = d["y"], d["K"]
    X = np.column_stack([np.ones(d["T"] - K)] + [y[K - 1 - k:d["T"] - 1 - k] for k in range(K)])
    ref = normal_linear_reference(X, y[K:], np.r_[10.0, np.ones(K)],
                                  lambda s: st.halfnorm.logpdf(s, scale=5))
    return tuple({"alpha": v["beta"][0], "beta": v["beta"][1:], "sigma": v["sigma"]}
                 for v in ref)


def laplace_is_reference(name, constrain, draws=8000):
    """Importance sampling of entry `name`'s hand-written density from a multivariate t(10) at
    its mode (BFGS from TRUE; zoo_reference's `importance_sampling`, seed 0). `constrain`:
    (m, (S, D) z) -> dict name -> (S, ...). Returns (means, sds, k-hat, the Monte Carlo error
    of the means in sd, 1 / sqrt(ESS))."""
    m, d = bound(name)
    z, w, khat, ess = importance_sampling(lambda z: LOG_DENSITY[name](m, d, z),
                                          m.unconstrain(load_model(name).TRUE), draws, seed=0,
                                          df=10)
    return (*weighted_moments(w, constrain(m, z)), khat, 1.0 / np.sqrt(ess))


def _positive(x):
    return np.exp(x[..., 0])


def constrain_gp(m, z):
    p = pieces(m, z)
    return {n: _positive(p[n]) for n in ("rho", "alpha", "sigma")}


def constrain_mixture(m, z):
    p = pieces(m, z)
    mu = np.stack([p["mu"][:, 0], p["mu"][:, 0] + np.exp(p["mu"][:, 1])], axis=-1)
    return {"theta": sp.expit(p["theta"][:, 0]), "mu": mu, "sigma": _positive(p["sigma"])}


def constrain_hmm(m, z):
    p = pieces(m, z)
    xl = p["lambda"]
    return {"Gamma": stick_breaking(p["Gamma"].reshape(-1, 2, 1))[0],
            "lambda": np.stack([np.exp(xl[:, 0]), np.exp(xl[:, 0]) + np.exp(xl[:, 1])], -1)}


CONSTRAIN = {"gp_regression": constrain_gp, "normal_mixture": constrain_mixture,
             "hmm": constrain_hmm}


def dirichlet_reference(d):
    """The exact posterior Dirichlet(a), a = alpha + counts: means a / a0, sds
    sqrt(a (a0 - a) / (a0^2 (a0 + 1)))."""
    a = d["alpha"] + np.bincount(d["y"], minlength=d["K"])
    a0 = a.sum()
    return {"theta": a / a0}, {"theta": np.sqrt(a * (a0 - a) / (a0 * a0 * (a0 + 1)))}


_REFS = {}


def reference(name):
    """(means, sds, k-hat or None, Monte Carlo error or 0) for the entry's shipped data."""
    if name not in _REFS:
        d = load_model(name).data()
        if name == "ar":
            _REFS[name] = (*ar_reference(d), None, 0.0)
        elif name == "dirichlet_categorical":
            _REFS[name] = (*dirichlet_reference(d), None, 0.0)
        else:
            _REFS[name] = laplace_is_reference(name, CONSTRAIN[name])
    return _REFS[name]


def errors(fit, name):
    """(worst |mean - ref| / ref sd, worst |sd / ref sd - 1|) over every latent element."""
    errs = standardised_errors(fit, *reference(name)[:2]).values()
    return (max(float(np.max(np.abs(e))) for e, _ in errs),
            max(float(np.max(np.abs(r - 1))) for _, r in errs))


# ---- fits --------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["gp_regression", "normal_mixture", "hmm"])
def test_importance_sampling_references_are_reliable(name):
    _, _, khat, mcse = reference(name)
    assert khat < 0.5 and mcse < 0.02


def test_ar_reference_grid_agrees_with_importance_sampling():
    means, sds, khat, mcse = laplace_is_reference(
        "ar", lambda m, z: {"alpha": z[:, 0], "beta": z[:, 1:3], "sigma": np.exp(z[:, 3])},
        draws=4000)
    ref_means, ref_sds = reference("ar")[:2]
    assert khat < 0.5
    for n in ref_means:
        np.testing.assert_allclose(means[n], ref_means[n], atol=4 * mcse * np.max(ref_sds[n]))
        np.testing.assert_allclose(sds[n], ref_sds[n], rtol=0.05)


@pytest.mark.parametrize("name", NAMES)
def test_fullrank_fit_matches_reference(name):
    fit = fit_of(name)
    assert fit.converged, fit.stop_reason
    mean_err, sd_err = errors(fit, name)
    assert mean_err < TOL_MEAN, (name, mean_err)
    assert sd_err < TOL_SD, (name, sd_err)


@pytest.mark.parametrize("name", ["ar", "gp_regression", "normal_mixture", "hmm"])
def test_the_truth_lies_within_3_posterior_sd(name):
    """The simulated data carry their TRUE parameters (a check of `simulate`)."""
    means, sds = reference(name)[:2]
    for n, v in load_model(name).TRUE.items():
        assert np.all(np.abs(means[n] - v) < 3 * sds[n]), (n, means[n], v, sds[n])


def test_dirichlet_truth_within_3_exact_sd():
    means, sds = dirichlet_reference(load_model("dirichlet_categorical").data())
    assert np.all(np.abs(means["theta"] - load_model("dirichlet_categorical").TRUE["theta"])
                  < 3 * sds["theta"])


# ---- data --------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_simulated_data_are_reproducible_and_depend_on_the_seed(name):
    mod = load_model(name)
    a, b, c = mod.simulate(), mod.simulate(), mod.simulate(seed=mod.SEED + 1)
    assert a.keys() == b.keys() == mod.data().keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
        np.testing.assert_array_equal(a[k], mod.data()[k])
    assert not np.array_equal(a["y"], c["y"])


def test_data_shapes_and_ranges():
    ar, gp, nm, dc, hmm = (load_model(n).data() for n in NAMES)
    assert ar["K"] == 2 and ar["T"] == 200 and ar["y"].shape == (200,)
    assert gp["N"] == 30 and gp["x"].shape == gp["y"].shape == (30,)
    assert np.all(np.diff(gp["x"]) > 0) and -5 <= gp["x"][0] and gp["x"][-1] <= 5
    assert nm["N"] == 200 and nm["y"].shape == (200,)
    assert dc["K"] == 4 and dc["N"] == 100 and set(dc["y"]) <= {0, 1, 2, 3}
    np.testing.assert_array_equal(dc["alpha"], np.ones(4))
    assert hmm["T"] == 120 and hmm["y"].shape == (120,) and hmm["y"].min() >= 0
    assert np.issubdtype(hmm["y"].dtype, np.integer)


def test_ar_truth_is_stationary():
    beta = load_model("ar").TRUE["beta"]
    roots = np.roots(np.r_[-beta[::-1], 1.0])     # 1 - beta_1 z - beta_2 z^2 = 0
    assert np.all(np.abs(roots) > 1)


def test_hmm_stationary_distribution():
    hmm = load_model("hmm")
    G = np.array([[0.7, 0.3], [0.45, 0.55]])
    vals, vecs = np.linalg.eig(G.T)
    v = np.real(vecs[:, np.argmin(np.abs(vals - 1))])
    np.testing.assert_allclose(hmm.stationary(G), v / v.sum(), rtol=1e-12)
    np.testing.assert_allclose(hmm.stationary(hmm.TRUE["Gamma"]), [2 / 3, 1 / 3], rtol=1e-12)


# ---- the custom distributions: log_prob and draws ----------------------------------------------
@pytest.mark.parametrize("T", [1, 2, 3, 8, 33])
def test_poisson_hmm_tree_forward_equals_the_step_by_step_recursion(T):
    hmm = load_model("hmm")
    rng = np.random.default_rng(T)
    G = np.array([[0.6, 0.4], [0.25, 0.75]])
    lam, y = np.array([1.5, 6.0]), rng.poisson(4.0, T)
    delta = np.array([G[1, 0], G[0, 1]]) / (G[0, 1] + G[1, 0])
    got = float(hmm.PoissonHMM(delta, G, lam, T).log_prob(y))
    np.testing.assert_allclose(got, hmm_forward(y, G[None], lam[None])[0], rtol=1e-12)


def test_poisson_hmm_draws_follow_the_chain():
    hmm = load_model("hmm")
    G, lam = np.array([[0.9, 0.1], [0.3, 0.7]]), np.array([1.0, 60.0])
    delta = np.array([0.75, 0.25])
    y = hmm.PoissonHMM(delta, G, lam, 50).sample(np.random.default_rng(0), (400,))
    assert y.shape == (400, 50)
    s = (y > 20).astype(int)                       # the rates are far apart: states are plain
    assert abs(s[:, 0].mean() - 0.25) < 0.07
    for i in range(2):
        frac = s[:, 1:][s[:, :-1] == i].mean()     # P(s_t = 1 | s_{t-1} = i)
        assert abs(frac - G[i, 1]) < 0.02, (i, frac)


def test_ar_process_draws_recover_their_coefficients():
    ar = load_model("ar")
    y = ar.ARProcess(0.5, np.array([0.5, -0.3]), 1.0, 20_000).sample(np.random.default_rng(0))
    X = np.column_stack([np.ones(len(y) - 2), y[1:-1], y[:-2]])
    coef, res = np.linalg.lstsq(X, y[2:], rcond=None)[:2]
    np.testing.assert_allclose(coef, [0.5, 0.5, -0.3], atol=0.03)
    assert abs(np.sqrt(res[0] / len(X)) - 1.0) < 0.02
    assert ar.ARProcess(0.0, np.zeros(2), 1.0, 7).sample(np.random.default_rng(1), (3,)).shape \
        == (3, 7)


def test_normal_mixture_draws():
    nm = load_model("normal_mixture")
    d = nm.NormalMixture(np.log([0.3, 0.7]), np.array([-10.0, 10.0]), 2.0)
    y = d.sample(np.random.default_rng(0), (20_000,))
    low = y < 0
    assert abs(low.mean() - 0.3) < 0.01
    assert abs(y[low].mean() + 10) < 0.06 and abs(y[~low].std() - 2.0) < 0.04
    np.testing.assert_allclose(float(d.log_prob(1.0)), np.log(
        0.3 * st.norm.pdf(1.0, -10, 2) + 0.7 * st.norm.pdf(1.0, 10, 2)), rtol=1e-12)
