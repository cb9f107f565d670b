"""Bayesian linear regression with many predictors, Normal(0, 10) coefficients (posteriordb sblri)

    beta_d ~ Normal(0, 10),  d = 1..D,   sigma ~ HalfNormal(10),
    y_i ~ Normal(x_i . beta, sigma),     i = 1..N   (no separate intercept: put a column of
                                                     ones in X to have one).

This is posteriordb's `sblri-blr` (Stan: normal_lpdf(beta | 0, 10), normal_lpdf(sigma | 0, 10)
with sigma > 0), with its site names `beta`, `sigma` and data keywords `N`, `D`, `X`, `y`, so its
data.json works with `wengert fit linear_regression --data data.json`. Given sigma the
posterior of beta is Gaussian (conjugate), which makes the exact posterior a one-dimensional
integral over sigma: the fit test's reference.

Data: simulated with numpy.random.default_rng(200) from the true parameters
TRUE = {"beta": numpy.linspace(-2, 2, 20), "sigma": 3}: N = 200 rows, D = 20 predictors,
X_nd ~ Normal(0, 1) independently, y from the model.

    >>> from models import linear_regression as lr
    >>> m = lr.model(**lr.data())
    >>> m.num_params, list(m.parameters)
    (21, ['beta', 'sigma'])
"""
import numpy as np

import ppl
from ppl import dist

__all__ = ["model", "data", "simulate", "TRUE"]

TRUE = {"beta": np.linspace(-2.0, 2.0, 20), "sigma": 3.0}


def simulate(seed=200, N=200, D=20):
    """X ~ N(0, 1) (N x D); y ~ N(X beta, sigma) at TRUE (beta = linspace(-2, 2, D))."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N, D))
    y = X @ np.linspace(-2.0, 2.0, D) + TRUE["sigma"] * rng.normal(size=N)
    return {"N": N, "D": D, "X": X, "y": y}


def data():
    """The shipped data: simulate() at its defaults (N = 200, D = 20, seed 200)."""
    return simulate()


@ppl.model
def linear_regression(N, D, X, y=None):
    """beta_d ~ N(0, 10); sigma ~ HalfNormal(10); y ~ N(X beta, sigma)."""
    with ppl.plate("predictor", int(D)):
        beta = ppl.sample("beta", dist.Normal(0.0, 10.0))
    sigma = ppl.sample("sigma", dist.HalfNormal(10.0))
    with ppl.plate("row", int(N)):
        ppl.sample("y", dist.Normal(X @ beta, sigma), obs=y)


model = linear_regression
