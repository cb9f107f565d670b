"""The objective, against closed forms: the ELBO estimate of a Gaussian target in whitened
coordinates against its exact ELBO (catches a dropped log|det C|), the gradient with several
draws against the mean of single-draw gradients (catches a dropped division), and the
one (S, D) evaluation against the model run row by row."""
import math

import numpy as np
import pytest

import ppl
from ppl import dist
from ppl.infer.families import Fullrank, Meanfield
from ppl.infer.objective import Coordinates, Elbo, LogDensity

LOC = np.array([1.0, -2.0])
COV = np.array([[2.0, 0.6], [0.6, 0.5]])


@ppl.model
def gaussian_target(loc, cov):
    ppl.sample("x", dist.MultivariateNormal(loc, covariance_matrix=cov))


def exact_elbo(mu, S):
    """E_q[log N(z | LOC, COV)] + H[q] for q = N(mu, S), in closed form."""
    P = np.linalg.inv(COV)
    d = mu - LOC
    e_log_p = -0.5 * (np.trace(P @ S) + d @ P @ d + 2 * math.log(2 * math.pi)
                      + np.linalg.slogdet(COV)[1])
    return e_log_p + 0.5 * np.linalg.slogdet(2 * math.pi * math.e * S)[1]


COORDS = {
    "identity": Coordinates(np.zeros(2)),
    "diagonal": Coordinates(np.array([0.5, -1.0]), np.array([3.0, 2.0]),
                            math.log(3.0 * 2.0)),
    "triangular": Coordinates(np.array([0.5, -1.0]), np.array([[2.5, 0.0], [-0.7, 1.6]]),
                              math.log(2.5 * 1.6)),
}


@pytest.mark.parametrize("where", list(COORDS))
@pytest.mark.parametrize("family", [Meanfield, Fullrank])
def test_elbo_estimate_matches_the_exact_elbo_of_a_gaussian_target(family, where):
    coords = COORDS[where]
    q = family(2)
    lam = np.concatenate([[0.3, -0.4], [0.2, -0.5], [0.35][:q.size - 4]])
    elbo = Elbo(LogDensity(gaussian_target(LOC, COV)), q, coords, np.random.default_rng(0),
                np.random.default_rng(1), elbo_samples=20_000)
    est = elbo.estimate(lam)
    mu, omega, L = coords.gaussian(q, lam)
    L = np.diag(np.exp(omega)) if L is None else L
    exact = exact_elbo(mu, L @ L.T)
    # log|det C| is 1.8 and 1.4 nats here; 4 standard errors are under 0.5
    assert est.dropped == 0 and 4 * est.se < 0.5
    assert abs(est.value - exact) < 4 * est.se, (est.value, exact, est.se)


@pytest.mark.parametrize("where", ["identity", "triangular"])
@pytest.mark.parametrize("family", [Meanfield, Fullrank])
def test_several_draws_average_the_single_draw_gradients(family, where):
    # eps for grad_samples = 4 are the next 4 rows of the same stream as 4 single-draw calls
    q, coords = family(2), COORDS[where]
    lam = np.concatenate([[0.3, -0.4], [0.2, -0.5], [0.35][:q.size - 4]])
    density = LogDensity(gaussian_target(LOC, COV))
    one = Elbo(density, q, coords, np.random.default_rng(5), np.random.default_rng(1))
    singles = np.mean([one.grad(lam) for _ in range(4)], axis=0)
    four = Elbo(density, q, coords, np.random.default_rng(5), np.random.default_rng(1),
                grad_samples=4)
    np.testing.assert_allclose(four.grad(lam), singles, rtol=1e-12, atol=1e-14)


def test_the_mean_gradient_is_the_exact_elbo_gradient():
    # many draws: the Monte Carlo gradient of the ELBO tends to the exact one (finite
    # differences of the closed form), within a few standard errors
    q, coords = Fullrank(2), COORDS["triangular"]
    lam = np.array([0.3, -0.4, 0.2, -0.5, 0.35])
    elbo = Elbo(LogDensity(gaussian_target(LOC, COV)), q, coords, np.random.default_rng(2),
                np.random.default_rng(1), grad_samples=4000)
    got = elbo.grad(lam)

    def f(lam_):
        mu, omega, L = coords.gaussian(q, lam_)
        return exact_elbo(mu, L @ L.T)
    h = 1e-6
    fd = np.array([(f(lam + h * e) - f(lam - h * e)) / (2 * h) for e in np.eye(lam.size)])
    np.testing.assert_allclose(got, fd, atol=0.15)


def test_a_fit_with_several_draws_per_gradient_has_the_exact_posterior_sd():
    # the conjugate normal mean: grad_samples=4 (dropping its averaging made sd 0.76x exact)
    y = np.array([0.3, 2.1, 1.7, -0.4, 1.2])

    @ppl.model
    def normal_mean(y):
        mu = ppl.sample("mu", dist.Normal(1.0, 2.0))
        with ppl.plate("n", len(y)):
            ppl.sample("y", dist.Normal(mu, 1.5), obs=y)
    prec = 1 / 4 + len(y) / 1.5 ** 2
    mean, sd = (1 / 4 + y.sum() / 1.5 ** 2) / prec, prec ** -0.5
    for seed in range(3):
        fit = ppl.advi(normal_mean(y), grad_samples=4, seed=seed, precondition=None)
        assert abs(float(fit.mean["mu"]) - mean) < 0.1 * sd
        assert float(fit.sd["mu"]) == pytest.approx(sd, rel=0.1)


def test_evaluate_is_the_model_row_by_row():
    m = gaussian_target(LOC, COV)
    Z = np.random.default_rng(0).normal(size=(7, 2))
    density = LogDensity(m)
    want = np.array([float(m.unconstrained_log_density(z)) for z in Z])
    np.testing.assert_allclose(density.evaluate(Z), want, rtol=1e-12)
    vals, grads = density.evaluate(Z, grad=True)
    np.testing.assert_allclose(vals, want, rtol=1e-12)
    np.testing.assert_allclose(grads, -(Z - LOC) @ np.linalg.inv(COV), rtol=1e-10)
    density.record(Z[0])                      # replayed: the same numbers
    assert density.replay is not None
    np.testing.assert_allclose(density.evaluate(Z), want, rtol=1e-12)
