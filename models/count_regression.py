"""Poisson regression with a log link and an exposure offset, simulated counts

    alpha ~ Normal(0, 5),  beta_k ~ Normal(0, 1),  k = 1..K,
    y_i ~ Poisson(exposure_i exp(alpha + x_i . beta)),  i = 1..N
          (log rate = log exposure_i + alpha + x_i . beta: the offset has coefficient 1).

The standard count GLM (McCullagh and Nelder, "Generalized Linear Models", 2nd ed., 1989,
chapter 6; Gelman and Hill, 2007, section 6.2, for the exposure offset). Its overdispersed twin
`negbin_regression` (`negbin` here) replaces the Poisson with a negative binomial.

Data: simulated with numpy.random.default_rng(0) from the true parameters
TRUE = {"alpha": 1.5, "beta": (0.4, -0.3, 0.2), "phi": 5} (phi for the negative binomial
only): N = 200 rows, K = 3 covariates x_ik ~ Normal(0, 1), exposure_i ~ Uniform(0.5, 2); the
Poisson and the negative-binomial data share x and the exposure (drawn first), then their y.

    >>> from models import count_regression as cr
    >>> m = cr.model(**cr.data())
    >>> m.num_params, list(m.parameters)
    (4, ['alpha', 'beta'])
"""
import numpy as np

import autodiff as ad
import ppl
from models import Entry
from ppl import dist

__all__ = ["model", "data", "simulate", "negbin", "TRUE"]

TRUE = {"alpha": 1.5, "beta": np.array([0.4, -0.3, 0.2]), "phi": 5.0}


def simulate(seed=0, N=200, overdispersed=False):
    """x ~ N(0, 1) (N x 3), exposure ~ U(0.5, 2); y ~ Poisson(mean) at TRUE, or with
    `overdispersed` y ~ NegativeBinomial(mean, phi): the gamma-Poisson mixture with shape phi."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(N, TRUE["beta"].size))
    exposure = rng.uniform(0.5, 2.0, N)
    mean = exposure * np.exp(TRUE["alpha"] + x @ TRUE["beta"])
    if overdispersed:
        mean = rng.gamma(TRUE["phi"], mean / TRUE["phi"])
    return {"x": x, "exposure": exposure, "y": rng.poisson(mean).astype(float)}


def data():
    """The shipped Poisson data: simulate() at its defaults (N = 200, seed 0)."""
    return simulate()


def negbin_data():
    """The shipped negative-binomial data: simulate(overdispersed=True) (same x, exposure)."""
    return simulate(overdispersed=True)


@ppl.model
def poisson_regression(x, exposure, y=None):
    """alpha ~ N(0, 5); beta ~ N(0, 1); y ~ Poisson(exposure exp(alpha + x beta))."""
    alpha = ppl.sample("alpha", dist.Normal(0.0, 5.0))
    with ppl.plate("covariate", x.shape[1]):
        beta = ppl.sample("beta", dist.Normal(0.0, 1.0))
    with ppl.plate("row", x.shape[0]):
        ppl.sample("y", dist.Poisson(log_rate=np.log(exposure) + alpha + x @ beta), obs=y)


@ppl.model
def negbin_regression(x, exposure, y=None):
    """alpha ~ N(0, 5); beta ~ N(0, 1); phi ~ Gamma(2, 0.1);
    y ~ NegativeBinomial(exposure exp(alpha + x beta), phi)."""
    alpha = ppl.sample("alpha", dist.Normal(0.0, 5.0))
    with ppl.plate("covariate", x.shape[1]):
        beta = ppl.sample("beta", dist.Normal(0.0, 1.0))
    phi = ppl.sample("phi", dist.Gamma(2.0, 0.1))
    with ppl.plate("row", x.shape[0]):
        mean = exposure * ad.exp(alpha + x @ beta)
        ppl.sample("y", dist.NegativeBinomial(mean, phi), obs=y)


model = poisson_regression


negbin = Entry(negbin_regression, negbin_data, """\
Negative-binomial (NB2) regression with a log link and an exposure offset, simulated counts.

    alpha ~ Normal(0, 5),  beta_k ~ Normal(0, 1),  phi ~ Gamma(2, rate 0.1),
    y_i ~ NegativeBinomial(mean_i, phi),  mean_i = exposure_i exp(alpha + x_i . beta),
    Var(y_i) = mean_i + mean_i^2 / phi   (Stan's neg_binomial_2; phi -> inf is the Poisson).

Hilbe, "Negative Binomial Regression", 2nd ed., 2011 (NB2); the Gamma(2, 0.1) prior on phi
(mean 20, mode 10, density 0 at phi = 0) keeps phi away from the degenerate phi -> 0 while its
long right tail leaves the near-Poisson region open. Data: simulated, see `count_regression`:
the same x and exposure with y from the gamma-Poisson mixture at TRUE phi = 5.
""")
