"""Eight schools, non-centred hierarchical normal (Rubin 1981; posteriordb).

A hierarchical normal model of the effects of coaching programmes in eight schools:

    theta_tilde_j ~ Normal(0, 1),  mu ~ Normal(0, 5),  tau ~ HalfCauchy(5),
    theta_j = mu + tau * theta_tilde_j   (deterministic),
    y_j ~ Normal(theta_j, sigma_j),      j = 1..J = 8, sigma_j known.

This is posteriordb's `eight_schools_noncentered` (same priors, same site names: `mu`, `tau`,
`theta_tilde`, `theta`); the centred form, `eight_schools_centered` in the zoo, samples
theta_j ~ Normal(mu, tau) directly and has the funnel that makes it hard for NUTS and ADVI alike.

Data (typed in, 16 numbers): the estimated effects y_j of special coaching on SAT-V scores and
their standard errors sigma_j in eight high schools, from Rubin, "Estimation in parallel
randomized experiments", Journal of Educational Statistics, 1981, as tabulated in Gelman,
Carlin, Stern, Dunson, Vehtari and Rubin, "Bayesian Data Analysis", 3rd ed., 2013, Table 5.2.
The data keywords are posteriordb's (`J`, `y`, `sigma`), so its data.json works with
`wengert fit eight_schools --data data.json`.

    >>> from models import eight_schools as es
    >>> m = es.model(**es.data())
    >>> m.num_params, list(m.parameters)
    (10, ['mu', 'tau', 'theta_tilde'])
"""
import numpy as np

import ppl
from models import Entry
from ppl import dist

__all__ = ["model", "data", "centered"]

Y = [28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0]
SIGMA = [15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0]


def data():
    """The shipped data: J = 8 schools, effects y and standard errors sigma (BDA3 Table 5.2)."""
    return {"J": 8, "y": np.array(Y), "sigma": np.array(SIGMA)}


@ppl.model
def eight_schools(J, sigma, y=None):
    """Non-centred: theta = mu + tau * theta_tilde, theta_tilde ~ N(0, 1); y ~ N(theta, sigma)."""
    mu = ppl.sample("mu", dist.Normal(0.0, 5.0))
    tau = ppl.sample("tau", dist.HalfCauchy(5.0))
    with ppl.plate("school", J):
        theta_tilde = ppl.sample("theta_tilde", dist.Normal(0.0, 1.0))
        theta = ppl.deterministic("theta", mu + tau * theta_tilde)
        ppl.sample("y", dist.Normal(theta, sigma), obs=y)


@ppl.model
def eight_schools_centered(J, sigma, y=None):
    """Centred: theta ~ N(mu, tau); y ~ N(theta, sigma)."""
    mu = ppl.sample("mu", dist.Normal(0.0, 5.0))
    tau = ppl.sample("tau", dist.HalfCauchy(5.0))
    with ppl.plate("school", J):
        theta = ppl.sample("theta", dist.Normal(mu, tau))
        ppl.sample("y", dist.Normal(theta, sigma), obs=y)


model = eight_schools


centered = Entry(eight_schools_centered, data, """\
Eight schools, centred: theta ~ N(mu, tau), the funnel.

    mu ~ Normal(0, 5),  tau ~ HalfCauchy(5),  theta_j ~ Normal(mu, tau),
    y_j ~ Normal(theta_j, sigma_j),  j = 1..8, sigma_j known.

posteriordb's `eight_schools_centered`. As tau -> 0 the thetas are squeezed together (Neal's
funnel), which a Gaussian in the unconstrained space fits poorly: compare its k-hat with the
non-centred `eight_schools`, the same posterior over (mu, tau, theta) written so the funnel
vanishes. Data: the same 16 numbers (Rubin 1981; Gelman et al., BDA3, Table 5.2).
""")
