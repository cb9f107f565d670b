"""The seeds posterior by hand in numpy/scipy, independent of the engine (the reference for the
zoo's seeds fit test, tests/models/test_zoo_glm.py): its log density and gradient written by
hand, and the posterior moments by importance sampling given sigma, integrated over sigma.

    >>> from tests.models.zoo_reference import bound
    >>> m, d = bound("seeds")
    >>> mean, sd, khat = seeds_reference(m, d, grid=10, draws=200)
    >>> sorted(mean), mean["b"].shape, bool(0.2 < mean["sigma"] < 0.5)
    (['alpha0', 'alpha1', 'alpha12', 'alpha2', 'b', 'sigma'], (21,), True)
"""
import numpy as np
import scipy.special as sp
import scipy.stats as st

from ppl.infer.diagnostics import psis
from tests.models.zoo_reference import pieces

__all__ = ["lp_seeds", "seeds_reference"]


def lp_seeds(m, d, z):
    """The zoo's seeds (b ~ N(0, sigma), centred) at unconstrained z: binomial with logits,
    log C(n, r) + r log expit(eta) + (n - r) log expit(-eta) (exact for any eta, where scipy's
    binom.logpmf(r, n, expit(eta)) loses digits once |eta| > 10)."""
    p = pieces(m, z)
    a = [p[k][..., 0] for k in ("alpha0", "alpha1", "alpha2", "alpha12")]
    log_sigma, b = p["sigma"][..., 0], p["b"]
    sigma = np.exp(log_sigma)
    eta = (a[0][..., None] + a[1][..., None] * d["x1"] + a[2][..., None] * d["x2"]
           + a[3][..., None] * d["x1"] * d["x2"] + b)
    return (sum(st.norm.logpdf(v, 0.0, 10.0) for v in a)
            + st.halfcauchy.logpdf(sigma, scale=1.0) + log_sigma
            + st.norm.logpdf(b, 0.0, sigma[..., None]).sum(-1) + _binomial(d, eta))


def _binomial(d, eta):
    r, n = d["r"], d["n"]
    log_choose = sp.gammaln(n + 1) - sp.gammaln(r + 1) - sp.gammaln(n - r + 1)
    return (log_choose + r * sp.log_expit(eta) + (n - r) * sp.log_expit(-eta)).sum(-1)


def _cols(d):
    return np.column_stack([np.ones(d["N"]), d["x1"], d["x2"], d["x1"] * d["x2"]])


def _lp_given_sigma(d, theta, sigma):
    """log p(alpha, b_raw, r | sigma), theta = (alpha (4), b_raw (N)) (..., 4 + N): the
    non-centred coordinates, b = sigma b_raw, in which it is log-concave."""
    eta = theta[..., :4] @ _cols(d).T + sigma * theta[..., 4:]
    return (st.norm.logpdf(theta[..., :4], 0.0, 10.0).sum(-1)
            + st.norm.logpdf(theta[..., 4:]).sum(-1) + _binomial(d, eta))


def _grad_given_sigma(d, theta, sigma):
    """d _lp_given_sigma / d theta by hand: res = r - n expit(eta), d/d alpha = X^T res -
    alpha / 100, d/d b_raw = sigma res - b_raw."""
    X = _cols(d)
    eta = X @ theta[:4] + sigma * theta[4:]
    res = d["r"] - d["n"] * sp.expit(eta)
    return np.concatenate([X.T @ res - theta[:4] / 100.0, sigma * res - theta[4:]])


def seeds_reference(m, d, sigma_max=2.0, grid=80, draws=1000, df=10.0, seed=0):
    """Posterior means and sds of seeds' alphas, sigma and b: an integral over
    sigma (midpoint rule, `grid` points on (0, sigma_max)) of importance sampling given sigma.

    Given sigma, theta = (alpha, b_raw), b = sigma b_raw, has a log-concave density (Gaussian
    priors, binomial likelihood linear in theta through eta = X alpha + sigma b_raw), found by
    Newton's method (gradient `_grad_given_sigma`, Hessian -(A' diag(n p (1 - p)) A +
    diag(1/100 x 4, 1 x 21)), A = [X, sigma I]). At each sigma a multivariate t (df 10) around
    that mode with the inverse Hessian as scale gives the evidence Z(sigma) = p(y | sigma) and
    the conditional moments (self-normalised; the same t draws at every sigma, so Z is smooth in
    sigma, in antithetic pairs); then p(sigma | y) is proportional to HalfCauchy(sigma; 1)
    Z(sigma). m: the bound model (its density is not used: the reference is written here).
    Returns mean, sd (dicts by site) and
    the largest k-hat over the grid."""
    theta_names = ("alpha0", "alpha1", "alpha2", "alpha12")
    n_plates = d["N"]
    dim = 4 + n_plates
    X = _cols(d)
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

    for sigma in sigmas:
        A = np.column_stack([X, sigma * np.eye(n_plates)])
        for _ in range(50):
            p = sp.expit(A @ theta)
            H = A.T @ (A * (d["n"] * p * (1 - p))[:, None]) + np.diag(prior_prec)
            step = np.linalg.solve(H, _grad_given_sigma(d, theta, sigma))
            theta = theta + step
            if np.max(np.abs(step)) < 1e-10:
                break
        L = np.linalg.cholesky(np.linalg.inv(H))
        th = theta + t_draws @ L.T
        lw = _lp_given_sigma(d, th, sigma) - (log_t - np.sum(np.log(np.diag(L))))
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
