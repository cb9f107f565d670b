"""What the zoo's test modules (tests/models/test_zoo*.py) share: a flat unconstrained vector
split by parameter, one ADVI fit per (entry, family, seed, options) for the whole session, and
numpy/scipy references that never call the engine: self-normalised importance sampling around
the mode of a hand-written log density, the exact posterior of a Gaussian linear model
(quadrature over sigma), weighted moments, and fit errors in reference standard deviations.

    >>> m, d = bound("eight_schools")
    >>> sorted((k, v.shape) for k, v in pieces(m, np.zeros((5, m.num_params))).items())
    [('mu', (5, 1)), ('tau', (5, 1)), ('theta_tilde', (5, 8))]
"""
import numpy as np
import scipy.optimize as so
import scipy.stats as st

import ppl
from models import load_model

__all__ = ["bound", "pieces", "fit_of", "importance_sampling", "weighted_moments",
           "standardised_errors", "normal_linear_reference"]


def bound(name):
    """(the zoo entry `name` bound to its shipped data, that data dict)."""
    entry = load_model(name)
    d = entry.data()
    return entry.model(**d), d


def pieces(m, z):
    """Flat unconstrained z, (D,) or (S, D) -> dict site -> z[..., offset:offset + size]."""
    return {n: z[..., p.offset:p.offset + p.size] for n, p in m.parameters.items()}


_FITS = {}


def fit_of(name, family="fullrank", seed=0, method="advi", **options):
    """ppl.advi(entry `name` on its data, family, seed, method, **options) (method "advi": the
    zoo tests pin stochastic ADVI, whose tolerances they state), run once per session for
    every test module. `init` may be a function of the data dict (as
    stochastic_volatility.initial_point); the options must be hashable (they key the cache)."""
    key = (name, family, seed, method, tuple(sorted(options.items())))
    if key not in _FITS:
        m, d = bound(name)
        if callable(options.get("init")):
            options = options | {"init": options["init"](d)}
        _FITS[key] = ppl.advi(m, family=family, seed=seed, progress=False, method=method,
                              **options)
    return _FITS[key]


# ---- importance sampling -------------------------------------------------------------------
def _fd_gradient(f, x, h=1e-6):
    """Central finite-difference gradient of f (batched over rows) at x, in one call of f."""
    E = np.eye(len(x)) * h
    v = f(np.concatenate([x + E, x - E]))
    return (v[:len(x)] - v[len(x):]) / (2 * h)


def _fd_hessian(f, x, h=1e-4):
    """Central finite-difference Hessian of f (batched over rows) at x, in one call of f."""
    n = len(x)
    E = np.eye(n) * h
    i, j = np.triu_indices(n)
    pts = [x + E[i] + E[j], x + E[i] - E[j], x - E[i] + E[j], x - E[i] - E[j]]
    a, b, c, d = f(np.concatenate(pts)).reshape(4, -1)
    H = np.empty((n, n))
    H[i, j] = H[j, i] = (a - b - c + d) / (4 * h * h)
    return H


def importance_sampling(log_p, z0, draws, seed, df=None, inflate=1.0):
    """Self-normalised importance sampling of a hand-written log density `log_p` ((S, D) ->
    (S,), numpy/scipy only) from q = t_df(z_hat, inflate^2 (-H)^-1), a multivariate t (df=None:
    a Gaussian) at the mode z_hat (BFGS from z0 with central-difference gradients; asserted to
    be a stationary point: BFGS may report a loss of precision) and H the central-difference
    Hessian there. The weights are plain p / q, self-normalised (no smoothing: nothing of
    ppl's, so that the reference is independent of the code under test); k-hat is the shape
    of a generalized Pareto fitted by scipy's maximum likelihood to the largest
    ceil(min(0.2 S, 3 sqrt(S))) weights' exceedances (Vehtari et al., Pareto smoothed
    importance sampling, 2024, for the tail size): < 0.5 reliable, < 0.7 usable.
    seed: scipy's random_state (an int seeds a RandomState, a Generator is used as it is).
    Returns z (draws, D), the normalised weights (draws,), k-hat and the effective sample
    size 1 / sum w^2 (the Monte Carlo error of a mean is about sd / sqrt(ESS)).

        >>> z, w, khat, ess = importance_sampling(
        ...     lambda z: st.norm.logpdf(z, 1.0, 2.0).sum(-1), np.zeros(2), 4000, seed=0, df=10)
        >>> bool(khat < 0.5 and ess > 3000), np.round(weighted_moments(w, z)[1], 1)
        (True, array([2., 2.]))
    """
    res = so.minimize(lambda z: -log_p(z[None])[0], z0, jac=lambda z: -_fd_gradient(log_p, z),
                      method="BFGS")
    assert np.max(np.abs(res.jac)) < 1e-3, res
    cov = inflate ** 2 * np.linalg.inv(-_fd_hessian(log_p, res.x))
    q = st.multivariate_normal(res.x, cov) if df is None else st.multivariate_t(res.x, cov, df)
    z = q.rvs(draws, random_state=seed)
    lw = log_p(z) - q.logpdf(z)
    w = np.exp(lw - lw.max())
    w /= w.sum()
    return z, w, tail_shape(w), 1.0 / np.sum(w * w)


def tail_shape(w):
    """The shape k of a generalized Pareto fitted (scipy, maximum likelihood) to the exceedances
    of the largest M = ceil(min(0.2 S, 3 sqrt(S))) weights over the next largest: k-hat.

        >>> bool(tail_shape(np.random.default_rng(0).pareto(1 / 0.8, 4000)) > 0.6)
        True
    """
    s = np.sort(np.asarray(w, dtype=float))
    m = int(np.ceil(min(0.2 * s.size, 3 * np.sqrt(s.size))))
    x = s[-m:] - s[-m - 1]
    return float(st.genpareto.fit(x / x.mean(), floc=0.0)[0])


def weighted_moments(w, values):
    """(mean, sd) of draws `values` (S, ...) under normalised weights w (S,); for a dict of
    draws, (dict of means, dict of sds)."""
    if isinstance(values, dict):
        moments = {k: weighted_moments(w, v) for k, v in values.items()}
        return {k: mo[0] for k, mo in moments.items()}, {k: mo[1] for k, mo in moments.items()}
    mean = np.tensordot(w, values, axes=1)
    return mean, np.sqrt(np.tensordot(w, (values - mean) ** 2, axes=1))


def standardised_errors(fit, mean, sd):
    """site -> ((fit mean - mean) / sd, fit sd / sd), each at least 1-D, for the sites of
    `mean` (dicts of reference means and sds)."""
    return {k: (np.atleast_1d((np.asarray(fit.mean[k]) - mean[k]) / sd[k]),
                np.atleast_1d(np.asarray(fit.sd[k]) / sd[k])) for k in mean}


# ---- the Gaussian linear model ---------------------------------------------------------------
def normal_linear_reference(X, y, beta_sd, log_prior_sigma, grid=4001):
    """Exact posterior means and sds of y ~ N(X beta, sigma^2 I), beta ~ N(0, diag(beta_sd)^2)
    (beta_sd a scalar or one per column; None: flat) and sigma ~ exp(log_prior_sigma), by
    quadrature over sigma. Returns ({"beta", "sigma"} means, {"beta", "sigma"} sds).

    In gamma = beta / beta_sd (X scaled by beta_sd, gamma ~ N(0, I)), with A = X'X / sigma^2 + I
    (+ 0 for flat) and h = X'y / sigma^2, gamma | sigma, y ~ N(A^-1 h, A^-1) and integrating it
    out gives
        log p(sigma | y) = log p(sigma) - N log sigma - y'y / (2 sigma^2) + h'A^-1 h / 2
                           - log|A| / 2 + const
    (for the flat prior, -(N - D) log sigma - RSS / (2 sigma^2) + const: |X'X| is a
    constant). With X = U diag(s) V' everything is diagonal in V: a_k = s_k^2 / sigma^2 (+ 1),
    h_k = s_k (U'y)_k / sigma^2. Then E[gamma] = V E[h/a] and Cov[gamma] = V (diag E[1/a] +
    Cov[h/a]) V' (the law of total variance). The grid (trapezoid rule) spans 0.5 to 2 times
    the least-squares sigma and is asserted to hold the posterior.

        >>> X = np.column_stack([np.ones(200), np.linspace(-1, 1, 200)])
        >>> y = X @ [1.0, 2.0] + np.random.default_rng(0).normal(size=200)
        >>> mean, sd = normal_linear_reference(X, y, None, lambda s: -np.log(s))
        >>> bool(np.allclose(mean["beta"], np.linalg.lstsq(X, y, rcond=None)[0]))
        True
    """
    n, dim = X.shape
    scale = np.ones(dim) if beta_sd is None else np.broadcast_to(beta_sd, (dim,)).astype(float)
    U, s, Vt = np.linalg.svd(X * scale, full_matrices=False)
    c = U.T @ y
    s_hat = np.sqrt((y @ y - c @ c) / (n - dim))          # least squares' sigma
    sig = np.linspace(0.5 * s_hat, 2.0 * s_hat, grid)[:, None]
    a = s ** 2 / sig ** 2 + (0.0 if beta_sd is None else 1.0)
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
    mean = {"beta": scale * (Vt.T @ mean_v), "sigma": sigma_mean}
    sd = {"beta": scale * np.sqrt(np.diag(cov)),
          "sigma": np.sqrt(w @ (sig[:, 0] - sigma_mean) ** 2)}
    return mean, sd
