"""Multivariate normal with an LKJ prior on the correlation matrix (Stan User's Guide)

The covariance is split into scales and a correlation matrix, Sigma = diag(tau) Omega diag(tau),
with Omega = L_Omega L_Omega^T and an LKJ prior on its Cholesky factor:

    mu_d ~ Normal(0, 10),  tau_d ~ HalfCauchy(2.5),  d = 1..D,
    L_Omega ~ LKJCholesky(D, eta = 2),
    y_n ~ MultivariateNormal(mu, scale_tril = diag(tau) L_Omega),  n = 1..N,
    Omega = L_Omega L_Omega^T   (deterministic).

Source: Stan User's Guide, "Multivariate priors for hierarchical models" (the `lkj_corr_cholesky`
parametrisation); Lewandowski, Kurowicka and Joe, "Generating random correlation matrices
based on vines and extended onion method", J. Multivariate Analysis, 2009, for the LKJ density.
L_Omega is a `corr_cholesky` parameter (Stan's tanh / partial-correlation transform).

Data: simulated with numpy.random.default_rng(SEED) from the true parameters TRUE = {"mu":
[1, -2, 0.5], "tau": [1, 2, 0.5], "Omega": [[1, 0.6, -0.3], [0.6, 1, 0.2], [-0.3, 0.2, 1]]},
D = 3, N = 100 (see `simulate`).

    >>> from models import lkj_covariance as lkj
    >>> m = lkj.model(**lkj.data())
    >>> m.num_params, list(m.parameters)
    (9, ['mu', 'tau', 'L_Omega'])
"""
import numpy as np

import ppl
from ppl import dist

__all__ = ["model", "data", "simulate", "TRUE", "SEED", "ETA"]

SEED = 20261126
ETA = 2.0
TRUE = {
    "mu": np.array([1.0, -2.0, 0.5]),
    "tau": np.array([1.0, 2.0, 0.5]),
    "Omega": np.array([[1.0, 0.6, -0.3],
                       [0.6, 1.0, 0.2],
                       [-0.3, 0.2, 1.0]]),
}
TRUE["L_Omega"] = np.linalg.cholesky(TRUE["Omega"])


def simulate(seed=SEED, N=100):
    """y_n ~ MVN(TRUE mu, diag(tau) Omega diag(tau)), n = 1..N: {"N", "D", "y" (N, D)}."""
    rng = np.random.default_rng(seed)
    scale_tril = TRUE["tau"][:, None] * TRUE["L_Omega"]
    D = len(TRUE["mu"])
    y = TRUE["mu"] + rng.standard_normal((N, D)) @ scale_tril.T
    return {"N": N, "D": D, "y": y}


def data():
    """The shipped data: simulate() with the default seed, N = 100 draws of dimension D = 3."""
    return simulate()


@ppl.model
def lkj_covariance(N, D, y=None):
    """y_n ~ MVN(mu, diag(tau) L_Omega), L_Omega ~ LKJCholesky(D, 2), tau ~ HalfCauchy(2.5)."""
    with ppl.plate("dim", D):
        mu = ppl.sample("mu", dist.Normal(0.0, 10.0))
        tau = ppl.sample("tau", dist.HalfCauchy(2.5))
    L_Omega = ppl.sample("L_Omega", dist.LKJCholesky(D, ETA))
    ppl.deterministic("Omega", L_Omega @ L_Omega.T)
    scale_tril = tau[:, None] * L_Omega     # diag(tau) L_Omega
    with ppl.plate("obs", N):
        ppl.sample("y", dist.MultivariateNormal(mu, scale_tril=scale_tril), obs=y)


model = lkj_covariance
