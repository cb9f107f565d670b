"""The objective, against closed forms: the ELBO estimate of a Gaussian target in whitened
coordinates against its exact ELBO (catches a dropped log|det C|), the gradient with several
draws against the mean of single-draw gradients (catches a dropped division), and the
one (S, D) evaluation against the model run row by row."""
import math

import numpy as np
import pytest

import autodiff as ad
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


# ---- the compiled density: batched ELBO, batched gradients, the audit (issue 15) --------------
def _eight_schools():
    from models import eight_schools
    return eight_schools.model(**eight_schools.data())


def _spy(density):
    """Count the compiled program's batched passes."""
    calls = {"values": 0, "batch": 0}
    r = density.replay

    def counted(name):
        fn = getattr(r, name)

        def call(X):
            calls[name] += 1
            return fn(X)
        return call
    for name in calls:
        setattr(r, name, counted(name))
    return calls


@pytest.mark.parametrize("where", ["identity", "triangular"])
@pytest.mark.parametrize("family", [Meanfield, Fullrank])
def test_batched_elbo_and_gradient_equal_the_draws_one_at_a_time(family, where):
    """One batched pass of the compiled density over the draws gives the ELBO estimate and the
    grad_samples > 1 gradient that the model itself gives draw by draw (the same draws)."""
    m = _eight_schools()
    d = m.num_params
    q = family(d)
    lam = q.init(np.linspace(-1.0, 1.0, d))
    C = np.tril(np.full((d, d), 0.1)) + np.diag(np.linspace(0.5, 1.5, d))
    coords = (Coordinates(np.zeros(d)) if where == "identity"
              else Coordinates(np.full(d, 0.2), C, float(np.log(np.diag(C)).sum())))
    compiled, fresh = LogDensity(m), LogDensity(m)
    compiled.record(np.zeros(d))
    assert compiled.replay_note.startswith("yes") and fresh.replay is None
    calls = _spy(compiled)
    elbos = [Elbo(density, q, coords, np.random.default_rng(3), np.random.default_rng(4),
                  grad_samples=4, elbo_samples=50) for density in (compiled, fresh)]
    want = elbos[1].estimate(lam)
    got = elbos[0].estimate(lam)
    assert got.dropped == want.dropped == 0
    np.testing.assert_allclose(got.value, want.value, rtol=1e-10)
    np.testing.assert_allclose(got.se, want.se, rtol=1e-8)
    np.testing.assert_allclose(elbos[0].grad(lam), elbos[1].grad(lam), rtol=1e-9, atol=1e-12)
    assert calls == {"values": 1, "batch": 1}
    assert compiled.n_grad == fresh.n_grad == 4 and compiled.replay is not None


def test_an_overflowing_recursion_keeps_its_program_and_says_so():
    """ARMA(1, 1) with |theta| > 1 overflows at the probe points around the start: both the
    program and a fresh run give inf/NaN there, which is not a branch (issue 15)."""
    from models import arma
    density = LogDensity(arma.model(**arma.data()))
    density.record(np.array([0.0, 0.5, 6.0, 0.0]))
    assert density.replay is not None, density.replay_note
    assert "ops compiled; at" in density.replay_note and "overflows" in density.replay_note
    Z = np.array([[0.0, 0.5, 6.0, 0.0], [0.0, 0.5, 0.3, 0.0]])
    vals = density.evaluate(Z)                # the estimate's audit: inf/NaN in both agree
    assert not np.isfinite(vals[0]) and np.isfinite(vals[1]) and density.replay is not None


@ppl.model
def branching():
    x = ppl.sample("x", dist.Normal(0.0, 1.0))
    ppl.factor("branch", x if float(ad.getval(x)) > 0 else -x)     # |x|, by a branch


def test_a_model_that_branches_on_a_value_runs_without_its_program_and_says_so():
    density = LogDensity(branching())
    density.record(np.array([0.3]))
    assert density.replay is None
    assert "(the model branches on a value)" in density.replay_note, density.replay_note
    assert "probe points" in density.replay_note
