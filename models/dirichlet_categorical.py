"""Dirichlet-categorical: category probabilities on the simplex, exact posterior known (simulated)

    theta ~ Dirichlet(alpha)   (a K-simplex; alpha given as data),
    y_n ~ Categorical(theta),  n = 1..N,   y_n in {0, ..., K-1}.

Conjugate: the posterior is exactly Dirichlet(alpha + counts), counts_k = #{n : y_n = k}, so
ADVI on the stick-breaking coordinates of the simplex can be checked against closed-form
moments. Source: the textbook conjugate pair (Gelman et al., "Bayesian Data Analysis", 3rd ed.,
2013, section 3.4, the multinomial model); the simplex transform is Stan's stick-breaking
(Stan Reference Manual, "Unit simplex").

With y=None the model cannot be bound (y would be a latent discrete site, which ppl refuses);
bound to data, `prior_predictive` still draws theta and y from the prior.

Data: K = 4, alpha = (1, 1, 1, 1) (uniform on the simplex) and N = 100 labels simulated with
numpy.random.default_rng(SEED) from TRUE = {"theta": [0.1, 0.2, 0.3, 0.4]} (see `simulate`).

    >>> from models import dirichlet_categorical as dc
    >>> m = dc.model(**dc.data())
    >>> m.num_params, m.parameters["theta"].shape
    (3, (4,))
"""
import numpy as np

import ppl
from ppl import dist

__all__ = ["model", "data", "simulate", "TRUE", "SEED"]

SEED = 161803
TRUE = {"theta": np.array([0.1, 0.2, 0.3, 0.4])}


@ppl.model
def dirichlet_categorical(K, N, alpha, y=None):
    """theta ~ Dirichlet(alpha); y_n ~ Categorical(theta)."""
    theta = ppl.sample("theta", dist.Dirichlet(np.broadcast_to(np.asarray(alpha, float), (K,))))
    with ppl.plate("data", N):
        ppl.sample("y", dist.Categorical(probs=theta), obs=y)


model = dirichlet_categorical


def simulate(seed=SEED, N=100):
    """Data keywords {K, N, alpha, y}: N labels y_n ~ Categorical(TRUE theta), alpha = 1."""
    rng = np.random.default_rng(seed)
    K = len(TRUE["theta"])
    y = rng.choice(K, size=N, p=TRUE["theta"])
    return {"K": K, "N": N, "alpha": np.ones(K), "y": y}


def data():
    """The shipped data: simulate() with its defaults (K = 4, N = 100)."""
    return simulate()
