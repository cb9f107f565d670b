"""An observed value computed from parameters keeps its gradient (issue 13).

Stan users write an ARMA model as `err ~ normal(0, sigma)` with err computed from mu, phi and
theta; `ppl.sample(..., obs=err)` must then differentiate through err, exactly as
`ppl.factor` of the same density does. References: the factor spelling, finite differences,
and the closed-form posterior of a normal mean.
"""
import numpy as np

import autodiff as ad
import ppl
from ppl import dist

Y = np.random.default_rng(18).normal(1.0, 1.0, size=20)


@ppl.model
def as_obs(y):
    mu = ppl.sample("mu", dist.Normal(0.0, 10.0))
    sigma = ppl.sample("sigma", dist.HalfNormal(2.0))
    ppl.sample("err", dist.Normal(0.0, sigma).expand((len(y),)).to_event(1), obs=y - mu)


@ppl.model
def as_factor(y):
    mu = ppl.sample("mu", dist.Normal(0.0, 10.0))
    sigma = ppl.sample("sigma", dist.HalfNormal(2.0))
    ppl.factor("err", ad.sum(dist.Normal(0.0, sigma).log_prob(y - mu)))


def _fd_grad(f, z, h=1e-6):
    return np.array([(f(z + h * e) - f(z - h * e)) / (2 * h) for e in np.eye(len(z))])


def test_obs_depending_on_parameters_has_the_factor_spellings_gradient():
    z = np.array([0.3, 0.1])
    m_obs, m_fac = as_obs(Y), as_factor(Y)
    v_obs, g_obs = ad.value_and_grad(m_obs.unconstrained_log_density)(z)
    v_fac, g_fac = ad.value_and_grad(m_fac.unconstrained_log_density)(z)
    fd = _fd_grad(lambda u: float(m_obs.unconstrained_log_density(u)), z)
    assert np.isclose(float(v_obs), float(v_fac))
    np.testing.assert_allclose(g_obs, g_fac, rtol=1e-10)
    np.testing.assert_allclose(g_obs, fd, rtol=1e-6)
    assert abs(g_obs[0]) > 1.0    # the likelihood's pull on mu, not the prior's alone


def test_advi_on_obs_of_a_parameter_finds_the_conjugate_posterior():
    @ppl.model
    def shifted(y):
        mu = ppl.sample("mu", dist.Normal(0.0, 10.0))
        with ppl.plate("data", len(y)):
            ppl.sample("err", dist.Normal(0.0, 1.0), obs=y - mu)

    fit = ppl.advi(shifted(Y), seed=1, progress=False)
    var = 1.0 / (1.0 / 100.0 + len(Y))
    draws = fit.sample(4000, seed=2)["mu"]
    assert abs(draws.mean() - var * Y.sum()) < 0.3 * np.sqrt(var)
    assert abs(draws.std() / np.sqrt(var) - 1.0) < 0.25


def test_an_obs_computed_from_parameters_is_not_reported_as_data():
    m = as_obs(Y)
    assert "err" not in m.observed     # its value moves with mu: it is not observed data

    @ppl.model
    def plain(y):
        mu = ppl.sample("mu", dist.Normal(0.0, 10.0))
        ppl.sample("y", dist.Normal(mu, 1.0).expand((len(y),)).to_event(1), obs=y)
    np.testing.assert_array_equal(plain(Y).observed["y"], Y)
