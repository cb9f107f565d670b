"""Radon, varying intercepts by county, non-centred (Gelman and Hill 2007, ch. 12)

Log radon y_i in house i of county j[i], with a floor indicator x_i (0: basement, 1: first
floor), and a county intercept a_j drawn around a state-wide mean:

    mu_a ~ Normal(0, 10),  sigma_a ~ HalfNormal(5),  b ~ Normal(0, 10),  sigma_y ~ HalfNormal(5),
    a_raw_j ~ Normal(0, 1),  a_j = mu_a + sigma_a * a_raw_j   (deterministic),   j = 1..J,
    y_i ~ Normal(a_county[i] + b x_i, sigma_y),   i = 1..N.

This is the varying-intercept model of Gelman and Hill, "Data Analysis Using Regression and
Multilevel/Hierarchical Models", 2007, ch. 12 (and Gelman, "Multilevel (hierarchical)
modeling: what it can and cannot do", Technometrics, 2006), with weakly informative priors.
`radon_centered` in the zoo samples a_j ~ Normal(mu_a, sigma_a) directly: the same posterior,
but with a funnel in (sigma_a, a) that a Gaussian in the unconstrained space fits poorly; the
non-centred form here is the usual remedy.

Data: simulated with numpy.random.default_rng(1) from the true parameters
TRUE = {"mu_a": 1.5, "sigma_a": 0.35, "b": -0.65, "sigma_y": 0.75}, in the shape of the
Minnesota radon survey (J = 85 counties, N = 919 houses): every county gets one house, the
other 834 are spread over counties with lognormal(0, 1) weights, x_i ~ Bernoulli(0.17),
a_j = mu_a + sigma_a * N(0, 1), y_i = a_county[i] + b x_i + sigma_y * N(0, 1). (Not the real
survey: it is not typed in.) bench/advi_bench.py uses the same arrays.

    >>> from models import radon
    >>> m = radon.model(**radon.data())
    >>> m.num_params, list(m.parameters)
    (89, ['mu_a', 'sigma_a', 'b', 'sigma_y', 'a_raw'])
"""
import numpy as np

import ppl
from models import Entry
from ppl import dist

__all__ = ["model", "data", "simulate", "TRUE", "centered"]

TRUE = {"mu_a": 1.5, "sigma_a": 0.35, "b": -0.65, "sigma_y": 0.75}


def simulate(seed=1, J=85, N=919):
    """County index (each county once, the rest by lognormal weights), floor x ~ Bernoulli(0.17),
    and y ~ N(a_county + b x, sigma_y) with a_j ~ N(mu_a, sigma_a), all at TRUE."""
    rng = np.random.default_rng(seed)
    w = rng.lognormal(0.0, 1.0, J)
    county = np.concatenate([np.arange(J), rng.choice(J, N - J, p=w / w.sum())])
    x = (rng.random(N) < 0.17).astype(float)
    t = TRUE
    a = t["mu_a"] + t["sigma_a"] * rng.normal(size=J)
    y = a[county] + t["b"] * x + t["sigma_y"] * rng.normal(size=N)
    return {"county": county, "x": x, "J": J, "y": y}


def data():
    """The shipped data: simulate() at its defaults (seed 1, J = 85 counties, N = 919 houses)."""
    return simulate()


def _hyperpriors():
    return (ppl.sample("mu_a", dist.Normal(0.0, 10.0)),
            ppl.sample("sigma_a", dist.HalfNormal(5.0)),
            ppl.sample("b", dist.Normal(0.0, 10.0)),
            ppl.sample("sigma_y", dist.HalfNormal(5.0)))


@ppl.model
def radon(county, x, J, y=None):
    """Non-centred: a = mu_a + sigma_a * a_raw, a_raw ~ N(0, 1); y ~ N(a_county + b x, sigma_y)."""
    mu_a, sigma_a, b, sigma_y = _hyperpriors()
    with ppl.plate("county", J):
        a_raw = ppl.sample("a_raw", dist.Normal(0.0, 1.0))
        a = ppl.deterministic("a", mu_a + sigma_a * a_raw)
    with ppl.plate("house", len(x)):
        ppl.sample("y", dist.Normal(a[county] + b * x, sigma_y), obs=y)


@ppl.model
def radon_centered(county, x, J, y=None):
    """Centred: a ~ N(mu_a, sigma_a); y ~ N(a_county + b x, sigma_y)."""
    mu_a, sigma_a, b, sigma_y = _hyperpriors()
    with ppl.plate("county", J):
        a = ppl.sample("a", dist.Normal(mu_a, sigma_a))
    with ppl.plate("house", len(x)):
        ppl.sample("y", dist.Normal(a[county] + b * x, sigma_y), obs=y)


model = radon


centered = Entry(radon_centered, data, """\
Radon, varying intercepts by county, centred: a_j ~ N(mu_a, sigma_a).

    mu_a ~ Normal(0, 10),  sigma_a ~ HalfNormal(5),  b ~ Normal(0, 10),  sigma_y ~ HalfNormal(5),
    a_j ~ Normal(mu_a, sigma_a),  y_i ~ Normal(a_county[i] + b x_i, sigma_y).

Gelman and Hill 2007, ch. 12, as `radon` in the zoo but centred: as sigma_a -> 0 the a_j are
squeezed together (a funnel), and the unconstrained density has no mode (it grows without bound
there), so ADVI fits sigma_a poorly; `radon` is the same posterior written without the funnel.
Data: the same simulated arrays (numpy.random.default_rng(1), TRUE = {"mu_a": 1.5, "sigma_a":
0.35, "b": -0.65, "sigma_y": 0.75}, J = 85, N = 919); bench/advi_bench.py fits this form.
""")
