"""The zoo's regressions and GLMs (kidiq, kidiq_normal, linear_regression, logistic_regression,
seeds, poisson_regression, negbin_regression): each log density against one written by hand
with scipy (rtol 1e-10), the data checked, and ADVI fits (seed 0, defaults otherwise) against
independent references computed here in numpy/scipy from those hand-written densities.

References:
- kidiq, kidiq_normal, linear_regression: exact. Given sigma, beta is Gaussian (flat or Normal
  prior, Normal likelihood), so p(sigma | y) is known in closed form up to a constant and the
  moments are 1-D integrals over sigma (`conjugate_reference`, a 4001-point grid).
- logistic_regression, poisson_regression, negbin_regression: importance sampling from a
  multivariate t (df 10) at the mode of the hand-written density, scaled by the inverse of its
  finite-difference Hessian (`laplace_is_reference`), 8000 draws, Pareto-smoothed weights; the
  test asserts k-hat < 0.7 (here -0.5 to 0.3) and ESS > 2500 (a mean's Monte Carlo error under
  0.02 sd; here ESS 7250-7500).
- seeds: that importance sampling fails (k-hat 2.1): the joint mode of the non-centred density
  sits at sigma = 3.4, far from the posterior (sigma about 0.34 +- 0.14). Instead
  `seeds_reference` integrates over sigma (80 points) and, given sigma, where (alpha, b_raw)
  is log-concave, importance-samples around Newton's mode (largest k-hat 0.24). Its Monte
  Carlo error, from 5 seeds of its draws: means 0.006 sd, sds about 3%.

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
  seeds fullrank (no precond.)  alphas 0.150 / 0.215, b 0.428 / 0.337, sigma 0.815 / 0.455
Seed 0 (tested) is within every bound; seed 2 of linear_regression is not: Stan's eta
adaptation picks eta = 0.01 (its ELBO estimates: -573.6 at eta 1, -572.5 at 0.01, noise), the
run stops at step 1300 and sigma's mean is 0.85 sd low (2.863 against 2.999); eta=0.1 gives
2.988.
"""
import json

import numpy as np
import pytest
import scipy.optimize as so
import scipy.special as sp
import scipy.stats as st

import ppl
from models import load_model
from ppl import handlers
from ppl.psis import psis
from tests.ppl import posteriordb as pdb

TOL_MEAN = 0.25
TOL_SD = 0.25

_FITS = {}
# seeds: no Laplace preconditioning (see the module docstring)
OPTIONS = {"seeds": {"precondition": None}}


def fit_of(name, family, seed=0):
    key = (name, family, seed)
    if key not in _FITS:
        entry = load_model(name)
        _FITS[key] = ppl.advi(entry.model(**entry.data()), family=family, seed=seed,
                              **OPTIONS.get(name, {}))
    return _FITS[key]


def pieces(m, z):
    """Flat unconstrained z, (D,) or (S, D) -> dict site -> z[..., offset:offset + size]."""
    return {n: z[..., p.offset:p.offset + p.size] for n, p in m.parameters.items()}


def positive(name):
    return name in ("sigma", "phi")


def constrained(m, z):
    """The latents at z by hand (exp for sigma and phi; seeds' b = sigma b_raw added)."""
    out = {n: np.exp(v[..., 0]) if positive(n) else (v[..., 0] if v.shape[-1] == 1 and
                                                       not m.parameters[n].shape else v)
           for n, v in pieces(m, z).items()}
    if "b_raw" in out:
        out["b"] = out["sigma"][..., None] * out["b_raw"]
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


def lp_seeds(m, d, z):
    """Binomial with logits: log C(n, r) + r log expit(eta) + (n - r) log expit(-eta) (exact
    for any eta, where scipy's binom.logpmf(r, n, expit(eta)) loses digits once |eta| > 10)."""
    p = pieces(m, z)
    a = [p[k][..., 0] for k in ("alpha0", "alpha1", "alpha2", "alpha12")]
    log_sigma, b_raw = p["sigma"][..., 0], p["b_raw"]
    sigma = np.exp(log_sigma)
    x1, x2, r, n = d["x1"], d["x2"], d["r"], d["n"]
    eta = (a[0][..., None] + a[1][..., None] * x1 + a[2][..., None] * x2
           + a[3][..., None] * x1 * x2 + sigma[..., None] * b_raw)
    log_choose = sp.gammaln(n + 1) - sp.gammaln(r + 1) - sp.gammaln(n - r + 1)
    return (sum(st.norm.logpdf(v, 0.0, 10.0) for v in a)
            + st.halfcauchy.logpdf(sigma, scale=1.0) + log_sigma
            + st.norm.logpdf(b_raw).sum(-1)
            + (log_choose + r * sp.log_expit(eta) + (n - r) * sp.log_expit(-eta)).sum(-1))


def grad_seeds(m, d, z):
    """d lp_seeds / dz for z of shape (S, 26), by hand: with res = r - n expit(eta),
    d/d alpha = sum res * column - alpha / 100, d/d b_raw = sigma res - b_raw,
    d/d log sigma = sigma sum(res b_raw) - 2 sigma^2 / (1 + sigma^2) + 1."""
    p = pieces(m, z)
    a = [p[k] for k in ("alpha0", "alpha1", "alpha2", "alpha12")]
    sigma, b_raw = np.exp(p["sigma"]), p["b_raw"]
    cols = [np.ones(d["N"]), d["x1"], d["x2"], d["x1"] * d["x2"]]
    eta = sum(ak * c for ak, c in zip(a, cols)) + sigma * b_raw
    res = d["r"] - d["n"] * sp.expit(eta)
    g = {k: (res * c).sum(-1, keepdims=True) - ak / 100.0
         for k, ak, c in zip(("alpha0", "alpha1", "alpha2", "alpha12"), a, cols)}
    g["sigma"] = (sigma * (res * b_raw).sum(-1, keepdims=True) - 2 * sigma ** 2 / (1 + sigma ** 2)
                  + 1.0)
    g["b_raw"] = sigma * res - b_raw
    out = np.empty_like(z)
    for k, v in g.items():
        info = m.parameters[k]
        out[..., info.offset:info.offset + info.size] = v
    return out


HAND = {"kidiq": lp_kidiq,
        "kidiq_normal": lambda m, d, z: lp_kidiq(m, d, z, beta_sd=100.0),
        "linear_regression": lp_linear_regression,
        "logistic_regression": lp_logistic_regression,
        "poisson_regression": lp_poisson_regression,
        "negbin_regression": lp_negbin_regression,
        "seeds": lp_seeds}
NAMES = sorted(HAND)


@pytest.mark.parametrize("name", NAMES)
def test_log_density_matches_scipy_by_hand(name):
    entry = load_model(name)
    d = entry.data()
    m = entry.model(**d)
    rng = np.random.default_rng(11)
    for _ in range(3):
        z = rng.normal(size=m.num_params)
        expected = float(HAND[name](m, d, z))
        assert float(m.unconstrained_log_density(z)) == pytest.approx(expected, rel=1e-10)
        got = m.constrain(z)
        for site, value in constrained(m, z).items():
            np.testing.assert_allclose(got[site], value, rtol=1e-12)


# ---- references ------------------------------------------------------------------------------
def conjugate_reference(X, y, beta_sd, log_prior_sigma, grid=4001):
    """Exact posterior moments of y ~ N(X beta, sigma), beta ~ N(0, beta_sd^2 I) (or flat:
    beta_sd=None) and sigma ~ exp(log_prior_sigma), by quadrature over sigma.

    With A = X'X / sigma^2 + I / beta_sd^2 and h = X'y / sigma^2, beta | sigma, y ~ N(A^-1 h,
    A^-1) and integrating beta out gives
        log p(sigma | y) = log p(sigma) - N log sigma - y'y / (2 sigma^2) + h'A^-1 h / 2
                           - log|A| / 2 + const
    (for the flat prior, -(N - D) log sigma - RSS / (2 sigma^2) + const: |X'X| is a
    constant). With X = U diag(s) V' everything is diagonal in V: a_k = s_k^2 / sigma^2 +
    1 / beta_sd^2, h_k = s_k (U'y)_k / sigma^2. Then E[beta] = V E[h/a] and
    Cov[beta] = V (diag E[1/a] + Cov[h/a]) V' (the law of total variance).
    """
    n, dim = X.shape
    U, s, Vt = np.linalg.svd(X, full_matrices=False)
    c = U.T @ y
    s_hat = np.sqrt((y @ y - c @ c) / (n - dim))          # least squares' sigma
    sig = np.linspace(0.5 * s_hat, 2.0 * s_hat, grid)[:, None]
    a = s ** 2 / sig ** 2 + (0.0 if beta_sd is None else 1.0 / beta_sd ** 2)
    h = s * c / sig ** 2
    log_post = (log_prior_sigma(sig[:, 0]) - n * np.log(sig[:, 0]) - (y @ y) / (2 * sig[:, 0] ** 2)
                + 0.5 * (h ** 2 / a).sum(1) - 0.5 * np.log(a).sum(1))
    w = np.exp(log_post - log_post.max())
    assert w[0] < 1e-12 and w[-1] < 1e-12                # the grid holds the posterior
    w[[0, -1]] *= 0.5                                      # the trapezoid rule
    w /= w.sum()
    m_v = h / a
    mean_v = w @ m_v
    cov_v = np.diag(w @ (1.0 / a)) + (m_v - mean_v).T @ ((m_v - mean_v) * w[:, None])
    cov = Vt.T @ cov_v @ Vt
    sigma_mean = w @ sig[:, 0]
    mean = {"beta": Vt.T @ mean_v, "sigma": sigma_mean}
    sd = {"beta": np.sqrt(np.diag(cov)),
          "sigma": np.sqrt(w @ (sig[:, 0] - sigma_mean) ** 2)}
    return mean, sd


def _neg_hessian(f, z, h=1e-3):
    """-d^2 f / dz dz' at z by central differences, all 4 D^2 points in one call of f."""
    dim = z.size
    E = h * np.eye(dim)
    pts = [z + si * E[:, None, :] + sj * E[None, :, :] for si in (1, -1) for sj in (1, -1)]
    fp = [f(p.reshape(-1, dim)).reshape(dim, dim) for p in pts]
    H = (fp[0] - fp[1] - fp[2] + fp[3]) / (4 * h * h)
    return -0.5 * (H + H.T)


def laplace_is_reference(m, logp, draws=8000, df=10.0, seed=0):
    """Posterior means and sds of the latents (and `constrained`'s extras) by importance
    sampling: z ~ t_df(z_hat, H^-1) around the mode z_hat of the hand-written `logp` (BFGS
    with finite-difference gradients), weights p / q Pareto-smoothed (ppl.psis.psis).
    Returns mean, sd (dicts by site), k-hat and the effective sample size."""
    res = so.minimize(lambda z: -float(logp(z)), np.zeros(m.num_params), method="BFGS")
    z_hat = res.x
    cov = np.linalg.inv(_neg_hessian(logp, z_hat))
    q = st.multivariate_t(loc=z_hat, shape=cov, df=df, seed=np.random.default_rng(seed))
    Z = q.rvs(draws)
    lw, khat = psis(logp(Z) - q.logpdf(Z))
    w = np.exp(lw)
    mean, sd = {}, {}
    for site, v in constrained(m, Z).items():
        mean[site] = np.tensordot(w, v, axes=1)
        sd[site] = np.sqrt(np.tensordot(w, (v - mean[site]) ** 2, axes=1))
    return mean, sd, khat, 1.0 / np.sum(w ** 2)


def seeds_reference(m, d, sigma_max=2.0, grid=80, draws=1000, df=10.0, seed=0):
    """Posterior means and sds of seeds' alphas, sigma and b = sigma b_raw: an integral over
    sigma (midpoint rule, `grid` points on (0, sigma_max)) of importance sampling given sigma.

    Given sigma, theta = (alpha, b_raw) has a log-concave density (Gaussian priors, binomial
    likelihood linear in theta through eta = X alpha + sigma b_raw), found by Newton's method
    (gradient `grad_seeds`, Hessian -(A' diag(n p (1 - p)) A + diag(1/100 x 4, 1 x 21)),
    A = [X, sigma I]). At each sigma a multivariate t (df 10) around that mode with the inverse
    Hessian as scale gives the evidence Z(sigma) = p(y | sigma) and the conditional moments
    (self-normalised; the same t draws at every sigma, so Z is smooth in sigma, in antithetic
    pairs); then
    p(sigma | y) is proportional to HalfCauchy(sigma; 1) Z(sigma). Returns mean, sd (dicts by
    site) and the largest k-hat over the grid."""
    info = m.parameters
    theta_names = ("alpha0", "alpha1", "alpha2", "alpha12", "b_raw")
    idx = np.concatenate([np.arange(info[k].offset, info[k].offset + info[k].size)
                          for k in theta_names])
    n_plates, dim = d["N"], idx.size
    X = np.column_stack([np.ones(n_plates), d["x1"], d["x2"], d["x1"] * d["x2"]])
    prior_prec = np.r_[np.full(4, 1.0 / 100.0), np.ones(n_plates)]
    rng = np.random.default_rng(seed)
    e, u = rng.standard_normal((draws // 2, dim)), rng.chisquare(df, draws // 2)
    e, u = np.concatenate([e, -e]), np.concatenate([u, u])    # antithetic pairs
    t_draws = e * np.sqrt(df / u)[:, None]                   # standard multivariate t draws
    log_t = (sp.gammaln((df + dim) / 2) - sp.gammaln(df / 2) - dim / 2 * np.log(df * np.pi)
             - (df + dim) / 2 * np.log1p((e * e).sum(1) / u))
    theta = np.zeros(dim)
    log_w, moments, khat = [], [], -np.inf
    sigmas = (np.arange(grid) + 0.5) * sigma_max / grid

    def z_of(th, sigma):
        z = np.empty(th.shape[:-1] + (m.num_params,))
        z[..., idx], z[..., info["sigma"].offset] = th, np.log(sigma)
        return z

    for sigma in sigmas:
        # log p(theta, y | sigma): the hand-written density less sigma's prior and Jacobian
        def cond(th, sigma=sigma):
            return (lp_seeds(m, d, z_of(th, sigma)) - st.halfcauchy.logpdf(sigma)
                    - np.log(sigma))
        A = np.column_stack([X, sigma * np.eye(n_plates)])
        for _ in range(50):
            p = sp.expit(A @ theta)
            H = A.T @ (A * (d["n"] * p * (1 - p))[:, None]) + np.diag(prior_prec)
            step = np.linalg.solve(H, grad_seeds(m, d, z_of(theta, sigma))[idx])
            theta = theta + step
            if np.max(np.abs(step)) < 1e-10:
                break
        L = np.linalg.cholesky(np.linalg.inv(H))
        th = theta + t_draws @ L.T
        lw = cond(th) - (log_t - np.sum(np.log(np.diag(L))))
        khat = max(khat, psis(lw)[1])
        log_w.append(sp.logsumexp(lw) - np.log(lw.size) + st.halfcauchy.logpdf(sigma))
        w = sp.softmax(lw)
        q = np.column_stack([th[:, :4], sigma * th[:, 4:]])      # alpha and b
        moments.append((w @ q, w @ q ** 2))
    W = sp.softmax(np.array(log_w))
    assert W[-1] < 1e-6 * W.max(), W[-1] / W.max()        # the grid holds the posterior
    m1 = W @ np.array([mo[0] for mo in moments])
    m2 = W @ np.array([mo[1] for mo in moments])
    sd_q = np.sqrt(m2 - m1 ** 2)
    mean = {k: m1[i] for i, k in enumerate(theta_names[:4])} | {"b": m1[4:]}
    sd = {k: sd_q[i] for i, k in enumerate(theta_names[:4])} | {"b": sd_q[4:]}
    mean["sigma"] = W @ sigmas
    sd["sigma"] = np.sqrt(W @ (sigmas - mean["sigma"]) ** 2)
    return mean, sd, khat


_REFS = {}


def reference(name):
    """(mean, sd) of entry `name`'s posterior on its shipped data, computed once."""
    if name in _REFS:
        return _REFS[name]
    entry = load_model(name)
    d = entry.data()
    if name in ("kidiq", "kidiq_normal"):
        X = np.column_stack([np.ones(d["N"]), d["mom_iq"]])
        ref = conjugate_reference(X, d["kid_score"], None if name == "kidiq" else 100.0,
                                  lambda s: st.halfcauchy.logpdf(s, scale=2.5))
    elif name == "linear_regression":
        ref = conjugate_reference(d["X"], d["y"], 10.0,
                                  lambda s: st.halfnorm.logpdf(s, scale=10.0))
    elif name == "seeds":
        m = entry.model(**d)
        mean, sd, khat = seeds_reference(m, d)
        print(f"seeds reference: largest k-hat given sigma {khat:.2f}")
        assert khat < 0.7, khat
        ref = mean, sd
    else:
        m = entry.model(**d)
        mean, sd, khat, ess = laplace_is_reference(m, lambda z: HAND[name](m, d, z))
        print(f"{name} reference: k-hat {khat:.2f}, ESS {ess:.0f}")
        assert khat < 0.7 and ess > 2500, (khat, ess)    # MC error of a mean < 0.02 sd
        ref = mean, sd
    _REFS[name] = ref
    return ref


def errors(fit, name):
    """(fit mean - reference mean) / reference sd and fit sd / reference sd - 1, by site."""
    mean, sd = reference(name)
    err = {k: np.atleast_1d((fit.mean[k] - mean[k]) / sd[k]) for k in mean}
    ratio = {k: np.atleast_1d(fit.sd[k] / sd[k] - 1.0) for k in mean}
    print(f"{name} {fit.family} seed {fit.seed}: " + "; ".join(
        f"{k} mean {np.abs(err[k]).max():.3f} sd {np.abs(ratio[k]).max():.3f}" for k in mean))
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


def test_seeds_fit_matches_the_reference():
    # fullrank without preconditioning; sigma and b loosely (see the module docstring)
    err, ratio = errors(fit_of("seeds", FAMILY["seeds"]), "seeds")
    for k in ("alpha0", "alpha1", "alpha2", "alpha12"):
        assert abs(err[k][0]) < TOL_MEAN and abs(ratio[k][0]) < 0.3, (k, err[k], ratio[k])
    assert np.all(np.abs(err["b"]) < 0.5) and np.all(np.abs(ratio["b"]) < 0.4)
    assert abs(err["sigma"][0]) < 1.0 and abs(ratio["sigma"][0]) < 0.5


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


def test_logistic_simulate_reproduces_the_benchmark_data():
    # bench/advi_models.py's logistic_data() recipe (as of dd8686b): N = 10,000, D = 50, seed 0
    from models import logistic_regression
    rng = np.random.default_rng(0)
    x = rng.normal(size=(10_000, 50))
    y = (rng.random(10_000) < 1.0 / (1.0 + np.exp(-x @ np.linspace(-0.5, 0.5, 50)))).astype(float)
    d = logistic_regression.simulate(N=10_000, D=50)
    np.testing.assert_array_equal(d["x"], x)
    np.testing.assert_array_equal(d["y"], y)
    np.testing.assert_array_equal(logistic_regression.TRUE["beta"], np.linspace(-0.5, 0.5, 5))


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
