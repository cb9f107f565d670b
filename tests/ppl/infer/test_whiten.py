"""ppl.infer.whiten: the expected Hessian under q against closed-form per-draw Hessians, and the
low-rank rounds against exact Gaussian covariances that diag + B B^T cannot hold and against
the full-rank Gaussian optimum of a non-Gaussian target."""
import warnings

import numpy as np
import pytest

import autodiff as ad
import ppl
from ppl import dist
from ppl.infer import whiten
from ppl.infer.dadvi import FixedDrawELBO, fixed_draw_fit
from ppl.infer.draws import antithetic


def skewed(z):
    """A smooth non-Gaussian log density in 3-D."""
    return (ad.sum(2.0 * z - 3.0 * ad.log(1.0 + ad.exp(z))) - 0.1 * ad.sum(z ** 4) / 4.0
            + 0.3 * z[0] * z[1])


def skewed_hessian(z):
    """Its Hessian in closed form: diag(-3 s (1 - s) - 0.3 z^2) + 0.3 at (0, 1), s = sigmoid."""
    s = 1.0 / (1.0 + np.exp(-z))
    H = np.diag(-3.0 * s * (1.0 - s) - 0.3 * z * z)
    H[0, 1] = H[1, 0] = 0.3
    return H


def narrow(D, k=3):
    """Q = I + 20 V V^T, V (D, k) orthonormal at random: N(0, Q^-1) is 21 times narrower
    along k directions than across, which diag + B B^T (it can only add variance to a
    diagonal along B) cannot hold; stochastic volatility's h_std is like it."""
    V = np.linalg.qr(np.random.default_rng(0).standard_normal((D, k)))[0]
    return np.eye(D) + 20.0 * V @ V.T


@pytest.mark.parametrize("dense_path", [True, False])
@pytest.mark.parametrize("diagonal_A", [True, False])
def test_expected_hessian_is_minus_the_mean_per_draw_hessian(dense_path, diagonal_A):
    rng = np.random.default_rng(0)
    D, r = 3, 1
    eps = antithetic(rng, 10, D + r)
    A = np.array([0.5, 2.0, 1.5]) if diagonal_A else np.array(
        [[0.5, 0.0, 0.0], [0.3, 2.0, 0.0], [-0.2, 0.4, 1.5]])
    c = np.array([0.1, -0.2, 0.3])
    obj = FixedDrawELBO(skewed, eps, "lowrank", c, A, rank=r)
    obj.dense = dense_path
    eta = 0.3 * rng.standard_normal(obj.size)
    Z = obj._to_zeta(obj.points(eta))
    K = 10 if dense_path else 6             # the HVP path uses the first K draws
    Az = np.diag(A) if diagonal_A else A
    want = -np.mean([Az.T @ skewed_hessian(z) @ Az for z in Z[:K]], axis=0)
    np.testing.assert_allclose(whiten.expected_hessian(obj, eta, draws=K), want, rtol=1e-10,
                               atol=1e-12)


def test_rounds_reach_a_gaussian_that_diag_plus_rank_one_cannot_hold():
    """N(0, Q^-1), Q = `narrow(8)`: rank 1 in diagonal coordinates is far off (sds up to 2x
    too small); after the rounds q's covariance is Q^-1 up to the fixed draws' error
    (M = 400), and the ELBO rose."""
    D = 8
    Q = narrow(D)
    cov = np.linalg.inv(Q)

    def log_p(u):
        return -0.5 * u @ (Q @ u)
    fit = fixed_draw_fit(log_p, np.zeros(D), np.ones(D), "lowrank", draws=400, seed=1, rank=1)
    new, rounds = whiten.lowrank_rounds(fit, log_p)
    assert rounds >= 1 and new.elbo > fit.elbo
    sd = np.sqrt(np.diag(cov))

    def rel(L):
        return np.max(np.abs(L @ L.T - cov) / np.outer(sd, sd))
    assert rel(fit.L) > 0.5             # the diagonal-coordinates fit cannot hold it ...
    assert rel(new.L) < 0.1             # ... the re-whitened one does
    np.testing.assert_allclose(new.mu, 0.0, atol=1e-8)


def test_rounds_reach_the_fullrank_optimum_of_a_non_gaussian_target():
    """At its optimum a Gaussian q has Sigma^-1 = E_q[-grad^2 log p]: for a skewed target with
    `narrow` correlations, D = 6, the rounds' q (rank 1) and the fullrank fit agree (M = 2000
    each, other draws: both near the population optimum); before the rounds they do not."""
    Q = narrow(6)

    def log_p(z):
        return ad.sum(2.0 * z - 3.0 * ad.log(1.0 + ad.exp(z))) - 0.5 * z @ (Q @ z)
    fit = fixed_draw_fit(log_p, np.zeros(6), np.ones(6), "lowrank", draws=2000, seed=2,
                         rank=1)
    new, rounds = whiten.lowrank_rounds(fit, log_p, draws=2000)
    full = fixed_draw_fit(log_p, np.zeros(6), None, "fullrank", draws=2000, seed=3)
    assert rounds >= 1
    sd = np.sqrt(np.diag(full.L @ full.L.T))
    np.testing.assert_allclose(new.mu, full.mu, atol=0.05 * sd.max())

    def cor(f):
        return f.L @ f.L.T / np.outer(sd, sd)
    np.testing.assert_allclose(cor(new), cor(full), atol=0.1)
    assert np.max(np.abs(cor(fit) - cor(full))) > 0.4


def test_rounds_stop_on_ctrl_c_with_the_fit_so_far(monkeypatch):
    Q = narrow(6)

    def log_p(u):
        return -0.5 * u @ (Q @ u)
    fit = fixed_draw_fit(log_p, np.zeros(6), np.ones(6), "lowrank", draws=40, seed=0, rank=1)
    calls = []
    real = whiten.expected_hessian

    def interrupted_second_time(obj, eta, draws=16):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(obj, eta, draws)
    monkeypatch.setattr(whiten, "expected_hessian", interrupted_second_time)
    new, rounds = whiten.lowrank_rounds(fit, log_p)
    assert rounds == 1 and new.info["interrupted"] and new.elbo > fit.elbo


@pytest.fixture
def narrow_model():
    D = 8
    cov = np.linalg.inv(narrow(D))

    @ppl.model
    def narrow_gaussian():
        ppl.sample("x", dist.MultivariateNormal(np.zeros(D), covariance_matrix=cov))
    return narrow_gaussian(), cov


def test_dadvi_lowrank_says_it_rewhitened_and_is_right(narrow_model, monkeypatch):
    model, cov = narrow_model
    sd = np.sqrt(np.diag(cov))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = ppl.dadvi(model, family="lowrank", rank=1, seed=0, draws=200, lrvb=False,
                        resample=False)
        assert "round" in fit.diagnostics.whitening
        x = fit.sample(20_000, seed=1)["x"]
        np.testing.assert_allclose(x.std(0) / sd, 1.0, atol=0.15)
        monkeypatch.setattr("ppl.infer.fit.MAX_D", 4)      # above it: diagonal whitening only
        plain = ppl.dadvi(model, family="lowrank", rank=1, seed=0, draws=200, lrvb=False,
                          resample=False)
    assert "round" not in plain.diagnostics.whitening
    y = plain.sample(20_000, seed=1)["x"]
    assert np.max(np.abs(y.std(0) / sd - 1.0)) > 0.3


def test_a_round_is_kept_only_beyond_twice_its_standard_error(monkeypatch):
    """The gain's standard error is over antithetic pairs of the paired log p differences
    (checked against numpy at the draws); a round within it is not kept."""
    Q = narrow(6)

    def log_p(u):
        return -0.5 * u @ (Q @ u)
    fit = fixed_draw_fit(log_p, np.zeros(6), np.ones(6), "lowrank", draws=40, seed=0, rank=1)
    new, rounds = whiten.lowrank_rounds(fit, log_p, rounds=1)
    assert rounds == 1

    def at_draws(f):
        U = f.objective._to_zeta(f.objective.points(f.eta))
        return -0.5 * np.einsum("mi,ij,mj->m", U, Q, U)
    pairs = (at_draws(new) - at_draws(fit)).reshape(-1, 2).mean(axis=1)
    se = pairs.std(ddof=1) / np.sqrt(pairs.size)
    assert whiten._gain_se(fit, new) == pytest.approx(se, rel=1e-10) and se > 0
    gain = new.elbo - fit.elbo
    monkeypatch.setattr(whiten, "_SE", 1.01 * gain / se)        # the gain just inside it
    assert whiten.lowrank_rounds(fit, log_p, rounds=1)[1] == 0
