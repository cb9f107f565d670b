"""ARMA(1, 1) time series, written with a Python loop over time (Stan User's Guide; simulated data)

    mu ~ Normal(0, 10),  phi ~ Normal(0, 2),  theta ~ Normal(0, 2),  sigma ~ HalfCauchy(5),
    nu_1 = mu + phi mu,                                   err_1 = y_1 - nu_1,
    nu_t = mu + phi y_{t-1} + theta err_{t-1},            err_t = y_t - nu_t,   t = 2..T,
    err_t ~ Normal(0, sigma),

the errors err_t = y_t - E[y_t | y_{1..t-1}] computed by the recursion, one step per observation,
as a user writes it: a Python loop over t whose every step is a handful of scalar operations on
the tape (T = 200 steps, about 1,000 recorded operations). The likelihood is a `ppl.factor` on
the stacked errors (they are functions of the parameters, not data). phi and theta are not
restricted to the stationary and invertible region, as in the Guide's program: for |theta| > 1
the error recursion grows like theta^T and overflows to inf far from the posterior.

Source: Stan User's Guide, "Time-series models", "Moving average models", the ARMA(1, 1)
program and its priors (mu ~ normal(0, 10), phi, theta ~ normal(0, 2), sigma ~ cauchy(0, 5)
with sigma > 0).

Data: simulated with numpy.random.default_rng(SEED) from TRUE = {"mu": 0.5, "phi": 0.6,
"theta": 0.3, "sigma": 1.0}: y_t = mu + phi y_{t-1} + theta eps_{t-1} + eps_t, eps_t ~ N(0,
sigma), T = 200 kept after a burn-in of 100 steps from y = eps = 0 (see `simulate`).

    >>> from models import arma
    >>> m = arma.model(**arma.data())
    >>> m.num_params, list(m.parameters)
    (4, ['mu', 'phi', 'theta', 'sigma'])
"""
import numpy as np

import autodiff as ad
import ppl
from ppl import dist

__all__ = ["model", "data", "simulate", "TRUE", "SEED"]

SEED = 20261204
TRUE = {"mu": 0.5, "phi": 0.6, "theta": 0.3, "sigma": 1.0}
BURN_IN = 100


@ppl.model
def arma(T, y):
    """mu ~ N(0, 10), phi, theta ~ N(0, 2), sigma ~ C+(0, 5); err_t = y_t - mu - phi y_{t-1} -
    theta err_{t-1} ~ N(0, sigma)."""
    mu = ppl.sample("mu", dist.Normal(0.0, 10.0))
    phi = ppl.sample("phi", dist.Normal(0.0, 2.0))
    theta = ppl.sample("theta", dist.Normal(0.0, 2.0))
    sigma = ppl.sample("sigma", dist.HalfCauchy(5.0))
    nu = mu + phi * mu
    err = y[0] - nu
    errs = [err]
    for t in range(1, T):
        nu = mu + phi * y[t - 1] + theta * err
        err = y[t] - nu
        errs.append(err)
    ppl.factor("err", ad.sum(dist.Normal(0.0, sigma).log_prob(ad.stack(errs))))


model = arma


def simulate(seed=SEED, T=200):
    """Data keywords {T, y}: an ARMA(1, 1) series of length T drawn at TRUE."""
    rng = np.random.default_rng(seed)
    mu, phi, theta, sigma = (TRUE[k] for k in ("mu", "phi", "theta", "sigma"))
    eps = sigma * rng.standard_normal(BURN_IN + T)
    y = np.zeros(BURN_IN + T)
    for t in range(1, BURN_IN + T):
        y[t] = mu + phi * y[t - 1] + theta * eps[t - 1] + eps[t]
    return {"T": T, "y": y[BURN_IN:]}


def data():
    """The shipped data: simulate() with its defaults (T = 200)."""
    return simulate()
