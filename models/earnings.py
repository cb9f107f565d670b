"""Earnings in raw dollars on height, flat-prior linear regression (Gelman and Hill; simulated)

The regression a new user writes first, in the data's own units:

    beta = (beta_1, beta_2) flat (improper: log p = 0 on R^2),  sigma flat on (0, inf),
    earn_i ~ Normal(beta_1 + beta_2 height_i, sigma),  i = 1..N.

With an uncentred predictor (height in inches, around 66) the intercept and slope correlate at
about -0.998 in the posterior, and everything is large: the intercept around -6e4 with
posterior sd around 1e4, the slope around 1.3e3, sigma around 2e4 (log sigma around 10). Such
scales break step-size tuning and starts in [-2, 2]: the test bed of `ppl.infer.start`.
The flat priors (Stan's defaults) make the posterior exact in closed form given sigma, and a
one-dimensional quadrature over sigma gives the whole of it (the tests' reference).

Data: SIMULATED with numpy.random.default_rng(1192) from TRUE = {"beta": (-60000, 1300),
"sigma": 20000}: N = 1192 heights ~ Normal(66.6, 3.8) inches (the size and spread of Gelman and
Hill's `earnings` survey, chapter 4; its least-squares fit is about -61000 + 1300 height with
residual sd 19000), earnings from the model.

    >>> from models import earnings
    >>> m = earnings.model(**earnings.data())
    >>> m.num_params, list(m.parameters)
    (3, ['beta', 'sigma'])
"""
import numpy as np

import ppl
from ppl import constraints, dist

__all__ = ["model", "data", "simulate", "TRUE"]

TRUE = {"beta": np.array([-60000.0, 1300.0]), "sigma": 20000.0}


def simulate(seed=1192, N=1192):
    """height ~ N(66.6, 3.8); earn ~ N(beta_1 + beta_2 height, sigma) at TRUE."""
    rng = np.random.default_rng(seed)
    height = rng.normal(66.6, 3.8, N)
    earn = TRUE["beta"][0] + TRUE["beta"][1] * height + TRUE["sigma"] * rng.normal(size=N)
    return {"N": N, "earn": earn, "height": height}


def data():
    """The shipped data: simulate() at its defaults (N = 1192, seed 1192)."""
    return simulate()


@ppl.model
def earnings(N, height, earn=None):
    """beta flat on R^2; sigma flat on (0, inf); earn ~ N(beta_1 + beta_2 height, sigma)."""
    beta = ppl.sample("beta", dist.ImproperUniform(constraints.real, (), (2,)))
    sigma = ppl.sample("sigma", dist.ImproperUniform(constraints.positive, (), ()))
    with ppl.plate("person", int(N)):
        ppl.sample("earn", dist.Normal(beta[0] + beta[1] * height, sigma), obs=earn)


model = earnings
