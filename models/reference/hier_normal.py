"""A hierarchical normal with J groups, its two parameterisations, and its exact posterior.

    mu ~ N(0, 5),  tau ~ HalfNormal(5),  theta_j ~ N(mu, tau),  y_j ~ N(theta_j, sigma_j),

written centred (theta sampled) or non-centred (theta = mu + tau theta_tilde, theta_tilde ~
N(0, 1)). theta integrates out, y_j | mu, tau ~ N(mu, sqrt(tau^2 + sigma_j^2)), and mu given
tau is Gaussian too, so the posterior of (mu, tau, theta) reduces to one integral over tau:
`exact_posterior` takes it by the trapezoid rule on a fine grid in log tau (the reference of
bench/hierarchical.py and tests/ppl/test_centring.py; numpy only, no engine).

Regimes (`simulate`): "poor" groups have sigma_j = 5 tau (the data say little about each
theta_j: non-centred is the right form), "rich" ones sigma_j = tau / 5 (centred is).

    >>> data = simulate("rich", J=4)
    >>> ref = exact_posterior(data)
    >>> sorted(ref.mean), ref.mean["theta"].shape
    (['mu', 'tau', 'theta'], (4,))
"""
from types import SimpleNamespace

import numpy as np

import ppl
from ppl import dist

__all__ = ["simulate", "centered", "noncentered", "exact_posterior", "TRUE"]

TRUE = {"mu": 1.0, "tau": 1.0}
MU_SD, TAU_SCALE = 5.0, 5.0


def simulate(regime, J=30, seed=0):
    """Data dict (y, sigma) of J groups from TRUE: sigma_j = 5 tau ("poor") or tau / 5 ("rich"),
    theta_j ~ N(mu, tau), y_j ~ N(theta_j, sigma_j)."""
    if regime not in ("poor", "rich"):
        raise ValueError(f"regime must be 'poor' or 'rich', got {regime!r}")
    rng = np.random.default_rng(seed)
    sigma = np.full(J, TRUE["tau"] * (5.0 if regime == "poor" else 0.2))
    theta = TRUE["mu"] + TRUE["tau"] * rng.standard_normal(J)
    return {"y": theta + sigma * rng.standard_normal(J), "sigma": sigma}


def _hyper():
    return (ppl.sample("mu", dist.Normal(0.0, MU_SD)),
            ppl.sample("tau", dist.HalfNormal(TAU_SCALE)))


@ppl.model
def centered(y, sigma):
    """theta_j ~ N(mu, tau) sampled directly."""
    mu, tau = _hyper()
    with ppl.plate("group", len(y)):
        theta = ppl.sample("theta", dist.Normal(mu, tau))
        ppl.sample("y", dist.Normal(theta, sigma), obs=y)


@ppl.model
def noncentered(y, sigma):
    """theta = mu + tau theta_tilde, theta_tilde ~ N(0, 1)."""
    mu, tau = _hyper()
    with ppl.plate("group", len(y)):
        tt = ppl.sample("theta_tilde", dist.Normal(0.0, 1.0))
        theta = ppl.deterministic("theta", mu + tau * tt)
        ppl.sample("y", dist.Normal(theta, sigma), obs=y)


def exact_posterior(data, grid=20001, lo=1e-8, hi=100.0):
    """Posterior means and sds of mu, tau and theta (a SimpleNamespace: mean, sd dicts) by
    quadrature over t = log tau:

        p(t | y) ∝ tau HalfNormal(tau | 5) N(y | 0, V + 25 11^T),  V = diag(tau^2 + sigma^2),
        mu | tau, y ~ N(m, s^2),  s^-2 = 1/25 + sum 1/v_j,  m = s^2 sum y_j / v_j,
        theta_j | mu, tau, y ~ N(b_j y_j + (1 - b_j) mu, b_j sigma_j^2),  b_j = tau^2 / v_j."""
    y, sig2 = np.asarray(data["y"], float), np.asarray(data["sigma"], float) ** 2
    t = np.linspace(np.log(lo), np.log(hi), grid)
    tau = np.exp(t)
    v = tau[:, None] ** 2 + sig2[None, :]                         # (G, J)
    prec = 1.0 / MU_SD ** 2 + np.sum(1.0 / v, axis=1)
    s2 = 1.0 / prec
    m = s2 * np.sum(y / v, axis=1)
    # log N(y | 0, V + 25 11^T) by the mu-integral: Gaussian in mu times N(mu | 0, 25)
    log_marg = (-0.5 * np.sum(np.log(2 * np.pi * v) + y ** 2 / v, axis=1)
                - 0.5 * np.log(MU_SD ** 2) + 0.5 * np.log(s2) + 0.5 * m ** 2 / s2)
    log_w = log_marg + (-0.5 * (tau / TAU_SCALE) ** 2) + t        # HalfNormal(tau) d tau/dt
    w = np.exp(log_w - log_w.max())
    w /= np.trapezoid(w, t) if hasattr(np, "trapezoid") else np.trapz(w, t)

    def expect(f):
        f = np.asarray(f, float)
        wf = w.reshape((-1,) + (1,) * (f.ndim - 1)) * f
        return np.trapezoid(wf, t, axis=0) if hasattr(np, "trapezoid") else \
            np.trapz(wf, t, axis=0)
    b = tau[:, None] ** 2 / v                                     # (G, J)
    th_mean = b * y + (1.0 - b) * m[:, None]
    th_var = b * sig2 + (1.0 - b) ** 2 * s2[:, None]
    mean = {"mu": expect(m), "tau": expect(tau), "theta": expect(th_mean)}
    second = {"mu": expect(s2 + m ** 2), "tau": expect(tau ** 2),
              "theta": expect(th_var + th_mean ** 2)}
    sd = {k: np.sqrt(second[k] - mean[k] ** 2) for k in mean}
    return SimpleNamespace(mean=mean, sd=sd, source=f"quadrature over log tau, {grid} points")
