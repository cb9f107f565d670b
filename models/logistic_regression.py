"""Logistic regression, standard normal coefficients, simulated Gaussian predictors

    beta_d ~ Normal(0, 1),  d = 1..D,
    y_i ~ Bernoulli(logits = x_i . beta),  i = 1..N   (no separate intercept).

The textbook Bayesian GLM (e.g. Gelman et al., "Bayesian Data Analysis", 3rd ed., 2013,
section 16.3) in the form of bench/advi_models.py's `logistic` (same priors, site name `beta`,
data keywords `x`, `y`): `simulate(N=10_000, D=50)` gives exactly the benchmark's arrays.

Data: simulated with numpy.random.default_rng(0) from the true parameters
TRUE = {"beta": numpy.linspace(-0.5, 0.5, D)}: x_nd ~ Normal(0, 1) (drawn first, row by row),
then y_i = [u_i < expit(x_i . beta)] with u_i ~ Uniform(0, 1). The shipped data are N = 500,
D = 5 (TRUE below); the benchmark uses N = 10,000, D = 50.

    >>> from models import logistic_regression as lr
    >>> m = lr.model(**lr.data())
    >>> m.num_params, list(m.parameters)
    (5, ['beta'])
"""
import numpy as np

import ppl
from ppl import dist

__all__ = ["model", "data", "simulate", "TRUE"]

TRUE = {"beta": np.linspace(-0.5, 0.5, 5)}


def simulate(seed=0, N=500, D=5):
    """x ~ N(0, 1) (N x D); y ~ Bernoulli(expit(x beta)), beta = linspace(-0.5, 0.5, D)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(N, D))
    y = (rng.random(N) < 1.0 / (1.0 + np.exp(-x @ np.linspace(-0.5, 0.5, D)))).astype(float)
    return {"x": x, "y": y}


def data():
    """The shipped data: simulate() at its defaults (N = 500, D = 5, seed 0)."""
    return simulate()


@ppl.model
def logistic_regression(x, y=None):
    """beta ~ N(0, I); y ~ Bernoulli(logits = x beta)."""
    with ppl.plate("predictor", x.shape[1]):
        beta = ppl.sample("beta", dist.Normal(0.0, 1.0))
    with ppl.plate("row", x.shape[0]):
        ppl.sample("y", dist.Bernoulli(logits=x @ beta), obs=y)


model = logistic_regression
