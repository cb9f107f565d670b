"""AR(K) autoregression: y_t on its own K previous values (Stan User's Guide; simulated data)

    alpha ~ Normal(0, 10),  beta_k ~ Normal(0, 1) (k = 1..K),  sigma ~ HalfNormal(5),
    y_t ~ Normal(alpha + sum_k beta_k y_{t-k}, sigma),   t = K+1..T,

conditional on the first K values (they enter only as lags). The likelihood is one vectorised
Normal over the T - K rows of the lagged design matrix X[t, k] = y_{t-k}, built from the data
with numpy (outside the tape).

Source: Stan User's Guide, "Time-series models", "Autoregressive models", the AR(K) program
(which gives no priors). The data keywords (`K`, `T`, `y`) are posteriordb's `arK`, whose
priors differ (beta ~ Normal(0, 10), sigma ~ Cauchy+(0, 2.5)); the priors here are ours,
weakly informative on the scale of a unit-scale series. They do not restrict beta to the
stationary region: about half the prior's draws of beta give explosive series (bench/sbc.py
found 28 of 50 beyond 1e6), which the fit, conditional on the first K values, allows.

Data: simulated with numpy.random.default_rng(SEED) from the true parameters
TRUE = {"alpha": 0.5, "beta": [0.5, -0.3], "sigma": 1.0} (a stationary AR(2): both roots of
1 - 0.5 z + 0.3 z^2 lie outside the unit circle), K = 2, T = 200, after a burn-in of 100 steps
from y = 0 (see `simulate`). With y=None the model draws a series of length T the same way.

    >>> from models import ar
    >>> m = ar.model(**ar.data())
    >>> m.num_params, list(m.parameters)
    (4, ['alpha', 'beta', 'sigma'])
"""
import numpy as np

import autodiff as ad
import ppl
from autodiff import Tensor, getval
from ppl import constraints, dist
from ppl.distributions.base import Distribution

__all__ = ["model", "data", "simulate", "lags", "ARProcess", "TRUE", "SEED"]

SEED = 20240607
TRUE = {"alpha": 0.5, "beta": np.array([0.5, -0.3]), "sigma": 1.0}
BURN_IN = 100


def lags(y, K):
    """The lagged design matrix X[..., t, k] = y[..., K + t - 1 - k]: shape (..., T - K, K).
    A numpy array for data y (no tape); engine ops when y is itself a latent (y=None)."""
    T = np.shape(getval(y))[-1]
    return ad.stack([y[..., K - 1 - k:T - 1 - k] for k in range(K)], axis=-1)


class ARProcess(Distribution):
    """ARProcess(alpha, beta, sigma, T): a series y_1..y_T of the AR(K) process, K = len(beta);
    log p(y) = sum_{t>K} log N(y_t | alpha + sum_k beta_k y_{t-k}, sigma) (given y_1..y_K).

    Draws start from y = 0 and run BURN_IN steps before the T kept.
    """
    arg_constraints = {}
    support = constraints.real_vector

    def __init__(self, alpha, beta, sigma, T):
        self.alpha, self.beta, self.sigma = alpha, beta, sigma
        self.K = int(np.shape(getval(beta))[-1])
        super().__init__((), (int(T),), validate_args=False)

    def sample(self, rng, sample_shape=()):
        a, b, s = (np.asarray(getval(p), dtype=float) for p in (self.alpha, self.beta, self.sigma))
        T, K = self.event_shape[0], self.K
        y = np.zeros(tuple(sample_shape) + (BURN_IN + T,))
        eps = rng.standard_normal(y.shape)
        for t in range(K, y.shape[-1]):   # a simulation, not on the tape
            y[..., t] = a + y[..., t - K:t][..., ::-1] @ b + s * eps[..., t]
        return y[..., BURN_IN:]

    def log_prob(self, value):
        y = value if isinstance(value, Tensor) else np.asarray(value, dtype=float)
        mu = self.alpha + ad.matmul(lags(y, self.K), self.beta)
        return ad.sum(dist.Normal(mu, self.sigma).log_prob(y[..., self.K:]), axis=-1)

    def __repr__(self):
        return f"ARProcess(K={self.K}, T={self.event_shape[0]})"


@ppl.model
def ar(K, T, y=None):
    """alpha ~ N(0, 10), beta ~ N(0, 1), sigma ~ N+(0, 5); y_t ~ N(alpha + beta . y_{t-1..t-K},
    sigma)."""
    alpha = ppl.sample("alpha", dist.Normal(0.0, 10.0))
    with ppl.plate("lag", K):
        beta = ppl.sample("beta", dist.Normal(0.0, 1.0))
    sigma = ppl.sample("sigma", dist.HalfNormal(5.0))
    ppl.sample("y", ARProcess(alpha, beta, sigma, T), obs=y)


model = ar


def simulate(seed=SEED, T=200):
    """Data keywords {K, T, y}: an AR(2) series of length T drawn at TRUE."""
    rng = np.random.default_rng(seed)
    y = ARProcess(TRUE["alpha"], TRUE["beta"], TRUE["sigma"], T).sample(rng)
    return {"K": len(TRUE["beta"]), "T": T, "y": y}


def data():
    """The shipped data: simulate() with its defaults (K = 2, T = 200)."""
    return simulate()
