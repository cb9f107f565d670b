"""Zoo entries with matrix and bounded parameters (corr_cholesky, positive_definite,
greater_than, less_than): lkj_covariance, wishart_covariance and censored.

Each log density is compared at 3 random unconstrained points with one written by hand with
scipy.stats, with the log-Jacobians of Stan's transforms written from the Stan Reference Manual
("Cholesky factors of correlation matrices", "Covariance matrices", "Lower bounded scalar",
"Upper bounded scalar"), rtol 1e-10. Each entry then gets one ADVI fit (seed 0, cached), judged
against a reference that does not use the engine. Tolerances, with the worst values seen over
seeds 0..4 (printed by hand once; 1000 draws of q for the means and sds, whose Monte Carlo
error is ~0.03 sd):

- wishart_covariance, fullrank, against the exact posterior InvWishart(nu + N, Psi + S):
  every entry of Sigma's mean within 0.2 posterior sd (worst 0.08), every sd within 20%
  (ratios 0.88 .. 1.03). Six parameters, an almost Gaussian posterior in the log-Cholesky
  space: fullrank should be close. wishart_covariance_cholesky, the same posterior with L as
  the parameter (lower_cholesky), the same bounds (worst 0.08, ratios 0.88 .. 1.03: its
  unconstrained density is the same function, so at seeds 0..4 its draws agree to 1e-12).
- lkj_covariance, fullrank, against importance sampling (20,000 draws) from a Gaussian at the
  mode of the hand-written density, its covariance 1.2^2 times the inverse of the
  finite-difference Hessian (tests/models/zoo_reference.py), PSIS k-hat < 0.5 (reliable):
  mu, tau and the correlations Omega_ij within 0.25 reference sd (worst 0.14) and sds within
  25% (ratios 0.97 .. 1.14); and TRUE recovery: every mu, tau, Omega_ij within 3 posterior sd
  of its true value (worst 2.37 sd: mu_2, whose sample mean in the simulated data lies 2.5
  standard errors from TRUE; a property of the data set, the same at every seed). The IS
  reference has k-hat 0.00 and an effective sample size of ~12,000 of 20,000. Meanfield (not
  tested) gives sds 0.65 .. 0.99 of the reference: mu's entries are correlated through Omega.
- censored, fullrank, against 2-D quadrature of the marginal posterior of (mu, sigma):
  mu's mean within 0.25 reference sd (worst -0.14), sigma's within 0.4 (worst -0.33), both
  sds within 25% (ratios 0.89 .. 1.06). sigma's looser bound is the Gaussian family's, not the
  optimiser's: run to tol_rel_obj=0.001, fullrank still gives -0.24 .. -0.28 sd (k-hat
  0.86 .. 0.95: log(y - U) of a censored value is skewed, and it correlates with sigma).
  Meanfield is worse for sigma (+1.0 .. +1.1 sd) and is not tested. The censored values:
  above U / below L, and their means within 0.4 sd of their quadrature means (worst 0.31);
  their sds are not tested: q is Gaussian in log(y - U), a heavy right tail in y, and
  overstates them 1.1 .. 2.1 times.
"""
import numpy as np
import pytest
import scipy.stats as st
from scipy.special import betaln

from models import load_model
from tests.models.zoo_reference import bound, fit_of, importance_sampling, weighted_moments


# ---- lkj_covariance ----------------------------------------------------------------------------
def _corr_cholesky_by_hand(x, K):
    """Stan Reference Manual, "Cholesky factors of correlation matrices": z = tanh(x) fills the
    strict lower triangle row by row; L_i0 = z_i0, L_ij = z_ij sqrt(1 - sum_{j'<j} L_ij'^2),
    L_ii = sqrt(1 - sum_{j<i} L_ij^2); log|J| = sum_{i>j} log(1 - z_ij^2)
    + 1/2 log(1 - sum_{j'<j} L_ij'^2). x has shape (..., K(K-1)/2)."""
    z = np.tanh(x)
    L = np.zeros(x.shape[:-1] + (K, K))
    L[..., 0, 0] = 1.0
    log_j = np.zeros(x.shape[:-1])
    k = 0
    for i in range(1, K):
        sum_sq = np.zeros(x.shape[:-1])
        for j in range(i):
            L[..., i, j] = z[..., k] * np.sqrt(1.0 - sum_sq)
            log_j = log_j + np.log1p(-z[..., k] ** 2) + 0.5 * np.log1p(-sum_sq)
            sum_sq = sum_sq + L[..., i, j] ** 2
            k += 1
        L[..., i, i] = np.sqrt(1.0 - sum_sq)
    return L, log_j


def _lkj_log_normaliser(K, eta):
    """log of c_K in LKJ density = det(Omega)^(eta - 1) / c_K (Lewandowski, Kurowicka and Joe
    2009, eq. 16): sum_{k=1}^{K-1} [(2 eta - 2 + K - k)(K - k) log 2
    + (K - k) log B(eta + (K - k - 1)/2, eta + (K - k - 1)/2)]."""
    k = np.arange(1, K)
    b = eta + (K - k - 1) / 2.0
    return float(np.sum((2 * eta - 2 + K - k) * (K - k) * np.log(2.0) + (K - k) * betaln(b, b)))


def _lkj_by_hand(z, d, eta, mvn_by_scipy=False):
    """The unconstrained log density of lkj_covariance at z (shape (S, 9)), in numpy/scipy.
    The LKJ density on L is that of Omega = L L^T times the Jacobian of L -> Omega,
    prod_{i=2..K} L_ii^(K - i) (1-based)."""
    D, y = d["D"], d["y"]
    mu, log_tau, x = z[:, :D], z[:, D:2 * D], z[:, 2 * D:]
    tau = np.exp(log_tau)
    L, log_j = _corr_cholesky_by_hand(x, D)
    Omega = L @ np.swapaxes(L, -1, -2)
    diag = np.diagonal(L, axis1=-2, axis2=-1)
    lkj = ((eta - 1) * np.linalg.slogdet(Omega)[1] - _lkj_log_normaliser(D, eta)
           + np.sum((D - np.arange(1, D + 1)) * np.log(diag), axis=-1))
    Sigma = tau[:, :, None] * Omega * tau[:, None, :]
    if mvn_by_scipy:
        like = np.array([st.multivariate_normal.logpdf(y, mu[s], Sigma[s]).sum()
                         for s in range(len(z))])
    else:   # vectorised over draws for importance sampling
        C = tau[:, :, None] * L
        w = np.linalg.solve(C, np.swapaxes(y[None] - mu[:, None, :], -1, -2))
        like = (-0.5 * np.sum(w * w, axis=(-2, -1)) - len(y) * np.sum(np.log(tau * diag), -1)
                - 0.5 * y.size * np.log(2 * np.pi))
    prior = (st.norm.logpdf(mu, 0, 10).sum(-1) + st.halfcauchy.logpdf(tau, scale=2.5).sum(-1)
             + log_tau.sum(-1))
    return prior + lkj + log_j + like, {"mu": mu, "tau": tau, "Omega": Omega}


def test_lkj_covariance_matches_scipy_by_hand():
    lkj = load_model("lkj_covariance")
    d = lkj.data()
    m = lkj.model(**d)
    assert list(m.parameters) == ["mu", "tau", "L_Omega"] and m.num_params == 9
    z = np.random.default_rng(11).normal(size=(3, m.num_params))
    expected, values = _lkj_by_hand(z, d, lkj.ETA, mvn_by_scipy=True)
    np.testing.assert_allclose(_lkj_by_hand(z, d, lkj.ETA)[0], expected, rtol=1e-10)
    for s in range(3):
        assert float(m.unconstrained_log_density(z[s])) == pytest.approx(expected[s], rel=1e-10)
        np.testing.assert_allclose(m.constrain(z[s])["Omega"], values["Omega"][s], rtol=1e-10)


def test_lkj_normaliser_by_hand_is_the_known_one_for_k_2():
    # K = 2: Omega has one free entry r, density (1 - r^2)^(eta - 1) / (2^(2 eta - 1) B(eta, eta))
    for eta in (0.5, 1.0, 2.0, 3.5):
        assert _lkj_log_normaliser(2, eta) == pytest.approx(
            (2 * eta - 1) * np.log(2) + betaln(eta, eta), rel=1e-14)


def _lkj_summaries(values):
    """(S, 9) columns: mu (3), tau (3), Omega_10, Omega_20, Omega_21."""
    rows, cols = np.tril_indices(3, -1)
    return np.concatenate([values["mu"], values["tau"], values["Omega"][:, rows, cols]], -1)


def test_lkj_covariance_fullrank_against_importance_sampling():
    lkj = load_model("lkj_covariance")
    d = lkj.data()
    fit = fit_of("lkj_covariance")
    zs, w, khat, _ = importance_sampling(lambda z: _lkj_by_hand(z, d, lkj.ETA)[0],
                                         np.zeros(fit.model.num_params), 20_000, seed=3,
                                         inflate=1.2)
    assert khat < 0.5
    ref_mean, ref_sd = weighted_moments(w, _lkj_summaries(_lkj_by_hand(zs, d, lkj.ETA)[1]))
    draws = fit.sample(1000, seed=0)
    got = _lkj_summaries(draws)
    np.testing.assert_array_less(np.abs(got.mean(0) - ref_mean) / ref_sd, 0.25)
    np.testing.assert_allclose(got.std(0, ddof=1) / ref_sd, 1.0, atol=0.25)


def test_lkj_covariance_recovers_the_true_parameters():
    lkj = load_model("lkj_covariance")
    fit = fit_of("lkj_covariance")
    got = _lkj_summaries(fit.sample(1000, seed=0))
    true = _lkj_summaries({k: lkj.TRUE[k][None] for k in ("mu", "tau", "Omega")})[0]
    np.testing.assert_array_less(np.abs(got.mean(0) - true) / got.std(0, ddof=1), 3.0)


def test_lkj_covariance_data_are_reproducible_and_the_omega_site_is_a_correlation():
    lkj = load_model("lkj_covariance")
    a, b, c = lkj.simulate(), lkj.simulate(), lkj.simulate(seed=1)
    np.testing.assert_array_equal(a["y"], b["y"])
    assert a["y"].shape == (100, 3) and not np.allclose(a["y"], c["y"])
    np.testing.assert_allclose(np.diag(lkj.TRUE["Omega"]), 1.0)
    m = lkj.model(**lkj.data())
    omega = m.constrain(np.random.default_rng(0).normal(size=m.num_params))["Omega"]
    np.testing.assert_allclose(np.diag(omega), 1.0, rtol=1e-12)
    assert np.all(np.linalg.eigvalsh(omega) > 0)


# ---- wishart_covariance ------------------------------------------------------------------------
def _covariance_by_hand(x, K):
    """Stan Reference Manual, "Cholesky factors of covariance matrices": x fills the lower
    triangle of L row by row, L_kk = exp(x_kk), log|dL/dx| = sum_k x_kk; then Sigma = L L^T,
    log|dSigma/dL| = K log 2 + sum_k (K - k + 1) log L_kk. Together they are Stan's
    "Covariance matrices" transform, log|J| = K log 2 + sum_k (K - k + 2) x_kk: the prior is on
    Sigma for both wishart entries. Returns (Sigma, log|dL/dx| + log|dSigma/dL|)."""
    L = np.zeros((K, K))
    L[np.tril_indices(K)] = x
    xd = np.diag(L).copy()
    L[np.diag_indices(K)] = np.exp(xd)
    return L @ L.T, xd.sum() + K * np.log(2) + np.sum((K - np.arange(1, K + 1) + 1) * xd)


def _wishart_by_hand(z, d):
    """log InvWishart(Sigma | nu, Psi) + sum_n log N(y_n | mu, Sigma) + log|J| at z; Sigma."""
    Sigma, log_j = _covariance_by_hand(z, d["D"])
    return (st.invwishart.logpdf(Sigma, df=d["nu"], scale=d["Psi"])
            + st.multivariate_normal.logpdf(d["y"], d["mu"], Sigma).sum() + log_j), Sigma


def _exact_posterior(d):
    """InvWishart(nu + N, Psi + S): its mean and the variance of each entry,
    Var Sigma_ij = ((n - D + 1) P_ij^2 + (n - D - 1) P_ii P_jj) / ((n - D)(n - D - 1)^2 (n - D - 3))
    with n = nu + N, P = Psi + S (the standard formula; checked against scipy's draws below)."""
    r = d["y"] - d["mu"]
    n, P, D = d["nu"] + d["N"], d["Psi"] + r.T @ r, d["D"]
    dg = np.diag(P)
    var = (((n - D + 1) * P ** 2 + (n - D - 1) * np.outer(dg, dg))
           / ((n - D) * (n - D - 1) ** 2 * (n - D - 3)))
    return n, P, P / (n - D - 1), var


def test_wishart_covariance_matches_scipy_by_hand():
    m, d = bound("wishart_covariance")
    assert list(m.parameters) == ["Sigma"] and m.num_params == 6
    for z in np.random.default_rng(12).normal(size=(3, m.num_params)):
        assert float(m.unconstrained_log_density(z)) == pytest.approx(_wishart_by_hand(z, d)[0],
                                                                      rel=1e-10)


def test_wishart_covariance_cholesky_matches_scipy_by_hand():
    m, d = bound("wishart_covariance_cholesky")
    assert list(m.parameters) == ["L_Sigma"] and m.num_params == 6
    for z in np.random.default_rng(14).normal(size=(3, m.num_params)):
        expected, Sigma = _wishart_by_hand(z, d)
        assert float(m.unconstrained_log_density(z)) == pytest.approx(expected, rel=1e-10)
        np.testing.assert_allclose(m.constrain(z)["Sigma"], Sigma, rtol=1e-12)


def test_wishart_exact_posterior_formulas_agree_with_scipy():
    # the reference itself: scipy's mean, and the variance formula against 200,000 draws
    d = load_model("wishart_covariance").data()
    n, P, mean, var = _exact_posterior(d)
    np.testing.assert_allclose(st.invwishart(n, P).mean(), mean, rtol=1e-12)
    draws = st.invwishart(n, P).rvs(200_000, random_state=1)
    np.testing.assert_allclose(draws.var(0), var, rtol=0.03)


@pytest.mark.parametrize("name", ["wishart_covariance", "wishart_covariance_cholesky"])
def test_wishart_covariance_fullrank_against_the_exact_posterior(name):
    fit = fit_of(name)
    d = load_model(name).data()
    _, _, mean, var = _exact_posterior(d)
    draws = fit.sample(1000, seed=0)["Sigma"]
    np.testing.assert_array_less(np.abs(draws.mean(0) - mean) / np.sqrt(var), 0.2)
    np.testing.assert_allclose(draws.std(0, ddof=1) / np.sqrt(var), 1.0, atol=0.2)


def test_wishart_covariance_data_are_reproducible():
    wc = load_model("wishart_covariance")
    a, b, c = wc.simulate(), wc.simulate(), wc.simulate(seed=1)
    np.testing.assert_array_equal(a["y"], b["y"])
    assert a["y"].shape == (50, 3) and not np.allclose(a["y"], c["y"])
    assert np.all(np.linalg.eigvalsh(wc.TRUE["Sigma"]) > 0)


# ---- censored ----------------------------------------------------------------------------------
def _censored_by_hand(z, d):
    """mu, log sigma, then y_cens_hi = U + e^x (Stan's lower bound, log|J| = x) and
    y_cens_lo = L - e^x (upper bound, log|J| = x); every value's density N(mu, sigma)."""
    n_hi = d["n_hi"]
    mu, log_sigma, x_hi, x_lo = z[0], z[1], z[2:2 + n_hi], z[2 + n_hi:]
    sigma = np.exp(log_sigma)
    y_hi, y_lo = d["U"] + np.exp(x_hi), d["L"] - np.exp(x_lo)
    y_all = np.concatenate([d["y_obs"], y_hi, y_lo])
    return (st.norm.logpdf(mu, 0, 10) + st.halfnorm.logpdf(sigma, scale=5) + log_sigma
            + st.norm.logpdf(y_all, mu, sigma).sum() + x_hi.sum() + x_lo.sum())


def test_censored_matches_scipy_by_hand():
    m, d = bound("censored")
    assert list(m.parameters) == ["mu", "sigma", "y_cens_hi", "y_cens_lo"]
    for z in np.random.default_rng(13).normal(size=(3, m.num_params)):
        assert float(m.unconstrained_log_density(z)) == pytest.approx(_censored_by_hand(z, d),
                                                                      rel=1e-10)


def _censored_quadrature(d):
    """The marginal posterior of (mu, sigma) on a grid (the censored values integrated out):
    sum log N(y_obs) + n_hi log P(y > U) + n_lo log P(y < L) + priors. Returns the grid and
    normalised weights."""
    mu, sigma = np.meshgrid(np.linspace(-1.5, 5.5, 241), np.linspace(1.5, 7.0, 241),
                            indexing="ij")
    lp = (st.norm.logpdf(d["y_obs"][:, None, None], mu, sigma).sum(0)
          + d["n_hi"] * st.norm.logsf(d["U"], mu, sigma)
          + d["n_lo"] * st.norm.logcdf(d["L"], mu, sigma)
          + st.norm.logpdf(mu, 0, 10) + st.halfnorm.logpdf(sigma, scale=5))
    w = np.exp(lp - lp.max())
    w /= w.sum()
    assert w[[0, -1]].sum() + w[:, [0, -1]].sum() < 1e-12   # the grid holds the posterior
    return mu, sigma, w


def test_censored_fullrank_against_quadrature():
    d = load_model("censored").data()
    fit = fit_of("censored")
    mu, sigma, w = _censored_quadrature(d)
    draws = fit.sample(1000, seed=0)
    for name, grid, tol in (("mu", mu, 0.25), ("sigma", sigma, 0.4)):
        ref_mean = np.sum(w * grid)
        ref_sd = np.sqrt(np.sum(w * (grid - ref_mean) ** 2))
        assert abs(draws[name].mean() - ref_mean) / ref_sd < tol, name
        assert draws[name].std(ddof=1) / ref_sd == pytest.approx(1.0, abs=0.25), name
    # each censored value: average its truncated-normal mean and variance given (mu, sigma)
    for name, side in (("y_cens_hi", 1), ("y_cens_lo", -1)):
        tn_mean, tn_var = _truncated_normal_moments(mu, sigma, d["U"] if side > 0 else d["L"],
                                                    side)
        ref_mean = np.sum(w * tn_mean)
        ref_sd = np.sqrt(np.sum(w * (tn_var + tn_mean ** 2)) - ref_mean ** 2)
        got = draws[name]
        assert np.all(side * (got - (d["U"] if side > 0 else d["L"])) > 0)
        np.testing.assert_array_less(np.abs(got.mean(0) - ref_mean) / ref_sd, 0.4)


def _truncated_normal_moments(mu, sigma, bound, side):
    """Mean and variance of N(mu, sigma) restricted to y > bound (side 1) or y < bound (-1):
    with a = side (bound - mu) / sigma and lambda = phi(a) / (1 - Phi(a)), the mean is
    mu + side sigma lambda and the variance sigma^2 (1 + a lambda - lambda^2)."""
    a = side * (bound - mu) / sigma
    lam = np.exp(st.norm.logpdf(a) - st.norm.logsf(a))
    return mu + side * sigma * lam, sigma ** 2 * (1 + a * lam - lam ** 2)


def test_truncated_normal_moments_by_hand_agree_with_scipy():
    for side, lo, hi in ((1, 0.7, np.inf), (-1, -np.inf, 0.7)):
        m, v = _truncated_normal_moments(np.array([0.3, -1.0]), np.array([2.0, 0.5]), 0.7, side)
        for i, (mu, sigma) in enumerate(((0.3, 2.0), (-1.0, 0.5))):
            ref = st.truncnorm((lo - mu) / sigma, (hi - mu) / sigma, mu, sigma)
            assert (m[i], v[i]) == pytest.approx((ref.mean(), ref.var()), rel=1e-10)


def test_censored_data_are_reproducible_and_split_at_the_bounds():
    cen = load_model("censored")
    a, b, c = cen.simulate(), cen.simulate(), cen.simulate(seed=1)
    np.testing.assert_array_equal(a["y_obs"], b["y_obs"])
    assert a["N_obs"] + a["n_hi"] + a["n_lo"] == 100 and a["n_hi"] > 5 and a["n_lo"] > 5
    assert a["N_obs"] == len(a["y_obs"]) and np.all((a["y_obs"] >= a["L"]) & (a["y_obs"] <= a["U"]))
    assert a["N_obs"] != c["N_obs"] or not np.allclose(a["y_obs"], c["y_obs"])
