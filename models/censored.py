"""Normal data censored on both sides, the censored values estimated as parameters (Stan)

Values above U are recorded only as "above U" (right-censored), values below L only as "below
L" (left-censored). As in the Stan User's Guide, "Censored data" (its first version), the
censored values are parameters on their known side of the bound with the normal density:

    mu ~ Normal(0, 10),  sigma ~ HalfNormal(5),
    y_obs_n ~ Normal(mu, sigma),                          n = 1..N_obs,
    y_cens_hi_i ~ Normal(mu, sigma) restricted to (U, inf),   i = 1..n_hi,
    y_cens_lo_i ~ Normal(mu, sigma) restricted to (-inf, L),  i = 1..n_lo.

Stan writes the restriction as `<lower=U>` / `<upper=L>` parameters plus `target +=
normal_lpdf(...)`. Here the same joint density is split as p(value | censored) P(censored):

    N(y | mu, sigma) 1{y > U} = TruncatedNormal(y | mu, sigma, low=U) * P(y > U | mu, sigma),

so `y_cens_hi` is a TruncatedNormal(low=U) site (support greater_than(U), Stan's U + e^x) and
`factor("censored_hi", n_hi log P(y > U))` adds the probability of being censored; the same
with less_than(L) (L - e^x) below. Why not ImproperUniform(greater_than(U)) + factor(normal
log density), which is Stan's form word for word: the density is the same, but an improper
site cannot be drawn, so `prior_sample` (used by bench/sbc) would fail; here the prior
predictive draws each censored value from its distribution given that it was censored.
Integrating the censored values out leaves n_hi log P(y > U) + n_lo log P(y < L), Stan's
second version and the reference of the tests.

Data: simulated with numpy.random.default_rng(SEED) from the true parameters TRUE = {"mu": 2,
"sigma": 3}, N = 100 draws censored at U = 5 and L = -1 (see `simulate`).

    >>> from models import censored
    >>> d = censored.data()
    >>> d["N_obs"] + d["n_hi"] + d["n_lo"], censored.model(**d).num_params
    (100, 32)
"""
import numpy as np

import autodiff as ad
import ppl
from ppl import dist

__all__ = ["model", "data", "simulate", "TRUE", "SEED", "UPPER", "LOWER"]

SEED = 20261128
TRUE = {"mu": 2.0, "sigma": 3.0}
UPPER, LOWER = 5.0, -1.0


def simulate(seed=SEED, N=100, U=UPPER, L=LOWER):
    """y ~ Normal(TRUE mu, TRUE sigma), N draws; those above U / below L are kept only as
    counts n_hi / n_lo. Returns the keywords {"N_obs", "n_hi", "n_lo", "U", "L", "y_obs"}."""
    rng = np.random.default_rng(seed)
    y = TRUE["mu"] + TRUE["sigma"] * rng.standard_normal(N)
    y_obs = y[(y <= U) & (y >= L)]
    return {"N_obs": len(y_obs), "n_hi": int((y > U).sum()), "n_lo": int((y < L).sum()),
            "U": U, "L": L, "y_obs": y_obs}


def data():
    """The shipped data: simulate() with the default seed, N = 100, U = 5, L = -1."""
    return simulate()


@ppl.model
def censored(N_obs, n_hi, n_lo, U, L, y_obs=None):
    """y_obs ~ N(mu, sigma); censored y_cens_hi > U and y_cens_lo < L, each N(mu, sigma)."""
    mu = ppl.sample("mu", dist.Normal(0.0, 10.0))
    sigma = ppl.sample("sigma", dist.HalfNormal(5.0))
    with ppl.plate("obs", N_obs):
        ppl.sample("y_obs", dist.Normal(mu, sigma), obs=y_obs)
    with ppl.plate("censored_hi", n_hi):
        ppl.sample("y_cens_hi", dist.TruncatedNormal(mu, sigma, low=U))
    with ppl.plate("censored_lo", n_lo):
        ppl.sample("y_cens_lo", dist.TruncatedNormal(mu, sigma, high=L))
    # log P(y > U) = log Phi((mu - U) / sigma), log P(y < L) = log Phi((L - mu) / sigma)
    ppl.factor("censored_hi", n_hi * ad.log_ndtr((mu - U) / sigma))
    ppl.factor("censored_lo", n_lo * ad.log_ndtr((L - mu) / sigma))


model = censored
