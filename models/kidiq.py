"""Kid's test score on mother's IQ, flat-prior linear regression (Gelman and Hill; posteriordb)

Child's test score regressed on the mother's IQ, with Stan's default flat prior on the
coefficients:

    beta = (beta_1, beta_2) flat (improper: log p = 0 on R^2),  sigma ~ HalfCauchy(2.5),
    kid_score_i ~ Normal(beta_1 + beta_2 mom_iq_i, sigma),  i = 1..N.

This is posteriordb's `kidiq-kidscore_momiq` (same priors, same site names `beta`, `sigma`, same
data keywords `N`, `kid_score`, `mom_iq`, so its data.json works with
`wengert fit kidiq --data data.json`; the other kidiq columns in that file, `mom_hs`,
`mom_hs_new`, `mom_iq_new`, are accepted and unused). Source: Gelman and Hill, "Data Analysis
Using Regression and Multilevel/Hierarchical Models", 2007, chapter 3 (the National Longitudinal
Survey of Youth children). The flat prior is proper in the posterior as soon as the design has
full rank; the variant `kidiq_normal` puts beta_d ~ Normal(0, 100) on the same regression.

Data: the real 434 children are not shipped (they are posteriordb's); the shipped data are
SIMULATED kidiq-style with numpy.random.default_rng(434) from the true parameters
TRUE = {"beta": (26, 0.6), "sigma": 18}: mom_iq_i ~ Normal(100, 15), kid_score_i from the model
(close to the real fit: posteriordb's posterior means are beta = (25.9, 0.61), sigma = 18.3).

    >>> from models import kidiq
    >>> m = kidiq.model(**kidiq.data())
    >>> m.num_params, list(m.parameters)
    (3, ['beta', 'sigma'])
"""
import numpy as np

import ppl
from models import Entry
from ppl import constraints, dist

__all__ = ["model", "data", "simulate", "normal", "TRUE"]

TRUE = {"beta": np.array([26.0, 0.6]), "sigma": 18.0}


def simulate(seed=434, N=434):
    """mom_iq ~ N(100, 15); kid_score ~ N(beta_1 + beta_2 mom_iq, sigma) at TRUE."""
    rng = np.random.default_rng(seed)
    mom_iq = rng.normal(100.0, 15.0, N)
    kid_score = TRUE["beta"][0] + TRUE["beta"][1] * mom_iq + TRUE["sigma"] * rng.normal(size=N)
    return {"N": N, "kid_score": kid_score, "mom_iq": mom_iq}


def data():
    """The shipped data: simulate() at its defaults (N = 434, seed 434)."""
    return simulate()


# mom_hs, mom_hs_new, mom_iq_new: in posteriordb's kidiq data.json (for its other kidiq models);
# named here so that file binds as it is, and unused. (kidiq_normal leaves them out: its one
# keyword defaulting to None is the observed one, which bench/sbc.py looks for.)
@ppl.model
def kidiq(N, mom_iq, kid_score=None, mom_hs=None, mom_hs_new=None, mom_iq_new=None):
    """beta flat on R^2; sigma ~ HalfCauchy(2.5); kid_score ~ N(beta_1 + beta_2 mom_iq, sigma)."""
    beta = ppl.sample("beta", dist.ImproperUniform(constraints.real, (), (2,)))
    sigma = ppl.sample("sigma", dist.HalfCauchy(2.5))
    with ppl.plate("child", int(N)):
        ppl.sample("kid_score", dist.Normal(beta[0] + beta[1] * mom_iq, sigma), obs=kid_score)


@ppl.model
def kidiq_normal(N, mom_iq, kid_score=None):
    """beta_d ~ N(0, 100); sigma ~ HalfCauchy(2.5); kid_score ~ N(beta_1 + beta_2 mom_iq, sigma)."""
    beta = ppl.sample("beta", dist.Normal(np.zeros(2), 100.0).to_event(1))
    sigma = ppl.sample("sigma", dist.HalfCauchy(2.5))
    with ppl.plate("child", int(N)):
        ppl.sample("kid_score", dist.Normal(beta[0] + beta[1] * mom_iq, sigma), obs=kid_score)


model = kidiq


normal = Entry(kidiq_normal, data, """\
Kid's test score on mother's IQ, with weakly informative Normal(0, 100) priors on beta.

    beta_1, beta_2 ~ Normal(0, 100) independently,  sigma ~ HalfCauchy(2.5),
    kid_score_i ~ Normal(beta_1 + beta_2 mom_iq_i, sigma),  i = 1..N.

The proper-prior twin of `kidiq` (same data, same likelihood, same sigma prior; only beta's prior
differs). Scores and IQs are on a 0-200 scale, so an intercept or a score-per-IQ-point slope
beyond +-200 is implausible: sd 100 rules out nothing sensible and keeps the prior proper (so
the prior predictive can be drawn), while with the 434 shipped children it moves beta's
posterior means by 0.015 posterior sd and its sds by 0.2% (exact, by quadrature over sigma).
Data: the same simulated children as `kidiq`. Its keywords are N, mom_iq, kid_score only
(posteriordb's kidiq data.json, with three more columns, is for `kidiq`).
""")
