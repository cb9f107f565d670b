"""Two-component normal mixture with ordered means, marginalised with logsumexp (simulated data)

    theta ~ Beta(5, 5),  mu = (mu_1 < mu_2) ordered with mu_k ~ Normal(0, 10),
    sigma ~ HalfNormal(2) (one scale shared by both components),
    log p(y_n) = logsumexp(log theta + log N(y_n | mu_1, sigma),
                           log(1 - theta) + log N(y_n | mu_2, sigma)),   n = 1..N.

The component labels are summed out, so every parameter is continuous; ordering the means
removes the label switching (the posterior's mirror mode). mu's support is set with an improper
uniform on ordered vectors and its Normal(0, 10) prior added with ppl.factor, as Stan's
`ordered[2] mu; mu ~ normal(0, 10);` (so the model has no prior draws; `NormalMixture.sample`
simulates y given the parameters, for posterior predictive checks). Source: Stan User's Guide,
"Finite mixtures" ("Summing out the responsibility parameter": log_mix / log_sum_exp,
ordered locations).

Data: N = 200 draws simulated with numpy.random.default_rng(SEED) from the true parameters
TRUE = {"theta": 0.3, "mu": [-2.0, 2.0], "sigma": 1.0} (means 4 sd apart; see `simulate`).

    >>> from models import normal_mixture as nm
    >>> m = nm.model(**nm.data())
    >>> m.num_params, list(m.parameters)
    (4, ['theta', 'mu', 'sigma'])
"""
import numpy as np

import autodiff as ad
import ppl
from autodiff import Tensor, getval
from ppl import constraints, dist
from ppl.distributions.base import Distribution

__all__ = ["model", "data", "simulate", "NormalMixture", "TRUE", "SEED"]

SEED = 271828
TRUE = {"theta": 0.3, "mu": np.array([-2.0, 2.0]), "sigma": 1.0}


class NormalMixture(Distribution):
    """NormalMixture(log_weights, loc, scale): a scalar y from sum_k w_k N(loc_k, scale), the K
    components on the last axis of log_weights and loc;
    log p(y) = logsumexp_k(log w_k + log N(y | loc_k, scale)).
    """
    arg_constraints = {}
    support = constraints.real

    def __init__(self, log_weights, loc, scale):
        self.log_weights, self.loc, self.scale = log_weights, loc, scale
        super().__init__(np.shape(loc)[:-1], (), validate_args=False)  # one draw's under vmap

    def sample(self, rng, sample_shape=()):
        w = np.exp(np.asarray(getval(self.log_weights)))
        loc = np.asarray(getval(self.loc))
        shape = self.shape(sample_shape)
        k = (rng.random(shape + (1,)) > np.cumsum(w, axis=-1)[..., :-1]).sum(axis=-1)
        return np.take_along_axis(np.broadcast_to(loc, shape + loc.shape[-1:]), k[..., None],
                                  axis=-1)[..., 0] + np.asarray(getval(self.scale)) * \
            rng.standard_normal(shape)

    def log_prob(self, value):
        y = value if isinstance(value, Tensor) else np.asarray(value, dtype=float)
        lp = self.log_weights + dist.Normal(self.loc, self.scale).log_prob(y[..., None])
        return ad.logsumexp(lp, axis=-1)

    def __repr__(self):
        return f"NormalMixture(K={np.shape(getval(self.loc))[-1]})"


@ppl.model
def normal_mixture(N, y=None):
    """theta ~ Beta(5, 5), mu ordered ~ N(0, 10), sigma ~ N+(0, 2);
    y_n ~ theta N(mu_1, sigma) + (1 - theta) N(mu_2, sigma)."""
    theta = ppl.sample("theta", dist.Beta(5.0, 5.0))
    mu = ppl.sample("mu", dist.ImproperUniform(constraints.ordered, (), (2,)))
    ppl.factor("mu_prior", ad.sum(dist.Normal(0.0, 10.0).log_prob(mu)))
    sigma = ppl.sample("sigma", dist.HalfNormal(2.0))
    log_weights = ad.stack([ad.log(theta), ad.log1p(-theta)])
    with ppl.plate("data", N):
        ppl.sample("y", NormalMixture(log_weights, mu, sigma), obs=y)


model = normal_mixture


def simulate(seed=SEED, N=200):
    """Data keywords {N, y}: N draws from the mixture at TRUE."""
    rng = np.random.default_rng(seed)
    z = rng.random(N) >= TRUE["theta"]          # False: component 1 (weight theta)
    y = TRUE["mu"][z.astype(int)] + TRUE["sigma"] * rng.standard_normal(N)
    return {"N": N, "y": y}


def data():
    """The shipped data: simulate() with its defaults (N = 200)."""
    return simulate()
