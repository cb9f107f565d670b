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

__all__ = ["lp_seeds", "grad_seeds", "seeds_reference"]


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
