"""Gaussian-process regression, exponentiated quadratic kernel, marginal likelihood (simulated data)

    rho ~ InverseGamma(5, 5),  alpha ~ HalfNormal(1),  sigma ~ HalfNormal(1),
    K_ij = alpha^2 exp(-(x_i - x_j)^2 / (2 rho^2)),
    y ~ MultivariateNormal(0, K + (sigma^2 + 1e-9) I),

the latent function integrated out, so only the three hyperparameters are sampled; 1e-9 on the
diagonal is a jitter for the Cholesky factor (the delta of the Guide's latent-variable GP).
Source: Stan User's Guide, "Gaussian processes", "Fitting a Gaussian process" (the
marginal-likelihood program with gp_exp_quad_cov and these priors: rho ~ inv_gamma(5, 5),
alpha, sigma ~ std_normal() on <lower=0>).

Data: N = 30 inputs x ~ Uniform(-5, 5) (sorted) and y drawn from the model's own GP at
TRUE = {"rho": 1.0, "alpha": 1.0, "sigma": 0.3}, simulated with
numpy.random.default_rng(SEED) (see `simulate`).

    >>> from models import gp_regression as gp
    >>> m = gp.model(**gp.data())
    >>> m.num_params, list(m.parameters)
    (3, ['rho', 'alpha', 'sigma'])
"""
import numpy as np

import autodiff as ad
import ppl
from ppl import dist

__all__ = ["model", "data", "simulate", "exp_quad", "TRUE", "SEED", "JITTER"]

SEED = 314159
TRUE = {"rho": 1.0, "alpha": 1.0, "sigma": 0.3}
JITTER = 1e-9


def exp_quad(x, alpha, rho):
    """K_ij = alpha^2 exp(-(x_i - x_j)^2 / (2 rho^2)); squared distances from numpy (data)."""
    d2 = (np.asarray(x)[:, None] - np.asarray(x)[None, :]) ** 2
    return alpha * alpha * ad.exp(d2 * (-0.5 / (rho * rho)))


@ppl.model
def gp_regression(N, x, y=None):
    """rho ~ InvGamma(5, 5), alpha, sigma ~ N+(0, 1); y ~ MVN(0, K(x; alpha, rho) + sigma^2 I).
    """
    rho = ppl.sample("rho", dist.InverseGamma(5.0, 5.0))
    alpha = ppl.sample("alpha", dist.HalfNormal(1.0))
    sigma = ppl.sample("sigma", dist.HalfNormal(1.0))
    cov = exp_quad(x, alpha, rho) + (sigma * sigma + JITTER) * np.eye(N)
    ppl.sample("y", dist.MultivariateNormal(np.zeros(N), covariance_matrix=cov), obs=y)


model = gp_regression


def simulate(seed=SEED, N=30):
    """Data keywords {N, x, y}: sorted x ~ U(-5, 5), y ~ MVN(0, K(x) + sigma^2 I) at TRUE."""
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(-5.0, 5.0, N))
    d2 = (x[:, None] - x[None, :]) ** 2
    cov = TRUE["alpha"] ** 2 * np.exp(-0.5 * d2 / TRUE["rho"] ** 2) \
        + (TRUE["sigma"] ** 2 + JITTER) * np.eye(N)
    y = np.linalg.cholesky(cov) @ rng.standard_normal(N)
    return {"N": N, "x": x, "y": y}


def data():
    """The shipped data: simulate() with its defaults (N = 30)."""
    return simulate()
