"""GARCH(1, 1) volatility, written with a Python loop over time (Stan User's Guide; simulated data)

    mu ~ Flat,  alpha0 ~ HalfFlat,
    (alpha1, beta1) uniform on the triangle {alpha1 > 0, beta1 > 0, alpha1 + beta1 < 1},
    sigma_1 = sigma1 (data),
    sigma_t = sqrt(alpha0 + alpha1 (r_{t-1} - mu)^2 + beta1 sigma_{t-1}^2),   t = 2..T,
    r_t ~ Normal(mu, sigma_t),

the volatility recursion one step per observation, as a user writes it: a Python loop over t
(T = 200 steps, about 1,000 recorded operations). Stan declares beta1 with the upper bound
1 - alpha1; here beta1 = (1 - alpha1) u with u ~ Uniform(0, 1) and a `ppl.factor` of
log(1 - alpha1) (the Jacobian of u -> beta1), which is exactly Stan's flat prior on the triangle.

Source: Stan User's Guide, "Time-series models", "Modeling temporal heteroscedasticity", the
GARCH(1, 1) program (its priors are the implicit flat ones on the constrained parameters).

Data: simulated with numpy.random.default_rng(SEED) from TRUE = {"mu": 0.05, "alpha0": 0.1,
"alpha1": 0.15, "beta1": 0.75}, sigma1 = 1 (the stationary sd sqrt(alpha0 / (1 - alpha1 -
beta1))), r_t = mu + sigma_t eps_t, eps_t ~ N(0, 1), T = 200 (see `simulate`).

    >>> from models import garch
    >>> m = garch.model(**garch.data())
    >>> m.num_params, list(m.parameters)
    (4, ['mu', 'alpha0', 'alpha1', 'u'])
"""
import numpy as np

import autodiff as ad
import ppl
from ppl import dist

__all__ = ["model", "data", "simulate", "TRUE", "SEED"]

SEED = 20261205
TRUE = {"mu": 0.05, "alpha0": 0.1, "alpha1": 0.15, "beta1": 0.75}


@ppl.model
def garch(T, r, sigma1):
    """mu, alpha0 flat; (alpha1, beta1) uniform on the stationary triangle; sigma_t^2 = alpha0 +
    alpha1 (r_{t-1} - mu)^2 + beta1 sigma_{t-1}^2; r_t ~ N(mu, sigma_t)."""
    mu = ppl.sample("mu", dist.Flat())
    alpha0 = ppl.sample("alpha0", dist.HalfFlat())
    alpha1 = ppl.sample("alpha1", dist.Uniform(0.0, 1.0))
    u = ppl.sample("u", dist.Uniform(0.0, 1.0))
    beta1 = ppl.deterministic("beta1", (1.0 - alpha1) * u)
    ppl.factor("triangle", ad.log(1.0 - alpha1))
    sigma = [sigma1]
    for t in range(1, T):
        sigma.append(ad.sqrt(alpha0 + alpha1 * (r[t - 1] - mu) ** 2 + beta1 * sigma[t - 1] ** 2))
    ppl.sample("r", dist.Normal(mu, ad.stack(sigma)), obs=r)


model = garch


def simulate(seed=SEED, T=200):
    """Data keywords {T, r, sigma1}: a GARCH(1, 1) series of length T drawn at TRUE."""
    rng = np.random.default_rng(seed)
    mu, a0, a1, b1 = (TRUE[k] for k in ("mu", "alpha0", "alpha1", "beta1"))
    sigma1 = float(np.sqrt(a0 / (1.0 - a1 - b1)))
    eps = rng.standard_normal(T)
    r, s = np.empty(T), sigma1
    for t in range(T):
        if t:
            s = np.sqrt(a0 + a1 * (r[t - 1] - mu) ** 2 + b1 * s * s)
        r[t] = mu + s * eps[t]
    return {"T": T, "r": r, "sigma1": sigma1}


def data():
    """The shipped data: simulate() with its defaults (T = 200)."""
    return simulate()
