"""q's families, against independent references: the transform, the entropy and log q vs
scipy, the gradients vs finite differences, the whitened mean step. Deterministic: milliseconds.
"""
import math

import numpy as np
import pytest
from scipy import stats

from ppl.infer.families import Fullrank, Gaussian, Meanfield

MU = np.array([0.5, -1.0, 2.0])
OMEGA = np.array([0.3, -0.7, 0.1])
TRIL = np.array([0.4, -0.2, 0.9])            # strictly lower entries (1,0), (2,0), (2,1)


def meanfield_lam():
    return np.concatenate([MU, OMEGA])


def fullrank_lam():
    return np.concatenate([MU, OMEGA, TRIL])


def hand_L(family):
    """The scale matrix written out: diag(exp(omega)) plus, for fullrank, the lower triangle
    row by row."""
    L = np.diag(np.exp(OMEGA))
    if family == "fullrank":
        L[1, 0], L[2, 0], L[2, 1] = TRIL
    return L


def family(name):
    return (Meanfield(3), meanfield_lam()) if name == "meanfield" else (Fullrank(3),
                                                                         fullrank_lam())


# ---- families -----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["meanfield", "fullrank"])
def test_transform_is_mu_plus_L_eps(name):
    q, lam = family(name)
    L = hand_L(name)
    eps = np.random.default_rng(0).standard_normal((7, 3))
    np.testing.assert_allclose(q.transform(lam, eps[0]), MU + L @ eps[0], rtol=1e-14)
    np.testing.assert_allclose(q.transform(lam, eps), MU + eps @ L.T, rtol=1e-14)
    mu, omega, L_out = q.unpack(lam)
    np.testing.assert_array_equal(mu, MU)
    np.testing.assert_array_equal(omega, OMEGA)
    if name == "fullrank":
        np.testing.assert_allclose(L_out, L, rtol=1e-15)
    else:
        assert L_out is None


@pytest.mark.parametrize("name", ["meanfield", "fullrank"])
def test_init_is_stans_start(name):
    q, _ = family(name)
    lam = q.init(MU)
    assert lam.shape == (q.size,)
    np.testing.assert_array_equal(q.transform(lam, np.ones(3)), MU + 1.0)   # L = I
    assert q.entropy(lam) == pytest.approx(1.5 * (1 + math.log(2 * math.pi)), rel=1e-14)


@pytest.mark.parametrize("name", ["meanfield", "fullrank"])
def test_entropy_matches_scipy(name):
    q, lam = family(name)
    L = hand_L(name)
    ref = stats.multivariate_normal(MU, L @ L.T).entropy()
    assert q.entropy(lam) == pytest.approx(ref, rel=1e-12)


def quadratic_log_p():
    """log p(z) = -(z - a)^T A (z - a) / 2 and its gradient, A positive definite."""
    a = np.array([1.0, 0.5, -0.3])
    A = np.array([[2.0, 0.6, -0.3], [0.6, 1.5, 0.2], [-0.3, 0.2, 0.8]])
    return (lambda z: -0.5 * (z - a) @ A @ (z - a)), (lambda z: -A @ (z - a))


@pytest.mark.parametrize("name", ["meanfield", "fullrank"])
def test_gradient_matches_finite_differences(name):
    # f(lam) = log p(mu + L eps) + H[q] for a fixed eps: a Monte Carlo-free objective whose
    # gradient is exactly what one draw contributes. f is a polynomial in lam (and exp(omega)),
    # so central differences with h = 1e-6 are good to ~1e-8.
    q, lam = family(name)
    log_p, grad = quadratic_log_p()
    eps = np.array([0.7, -1.3, 0.4])

    def f(lam_):
        return log_p(q.transform(lam_, eps)) + q.entropy(lam_)

    analytic = q.grad_log_p(lam, eps, grad(q.transform(lam, eps))) + q.grad_entropy(lam)
    h = 1e-6
    numeric = np.array([(f(lam + h * e) - f(lam - h * e)) / (2 * h) for e in np.eye(lam.size)])
    assert analytic.shape == lam.shape
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-7)


class _Recorder:
    """An optimiser that records the gradient it is given and returns a fixed direction."""

    def __init__(self, delta):
        self.delta, self.seen = delta, None

    def direction(self, g):
        self.seen = g.copy()
        return self.delta.copy()


@pytest.mark.parametrize("name", ["meanfield", "fullrank"])
def test_step_moves_mu_by_L_times_the_direction(name):
    # The mean's step is taken in coordinates whitened by q: the optimiser sees L^T grad_mu,
    # and mu moves by L (the scale before the step) times the optimiser's direction; the
    # other coordinates (omega, l) move by the direction itself.
    q, lam = family(name)
    L = hand_L(name)
    grad = np.linspace(-1.0, 2.0, lam.size)
    delta = np.linspace(0.3, -0.4, lam.size)
    opt = _Recorder(delta)
    before = lam.copy()
    lam = q.step(lam, opt, grad)
    np.testing.assert_allclose(opt.seen[:3], L.T @ grad[:3], rtol=1e-14)
    np.testing.assert_array_equal(opt.seen[3:], grad[3:])
    np.testing.assert_allclose(lam[:3], before[:3] + L @ delta[:3], rtol=1e-14)
    np.testing.assert_allclose(lam[3:], before[3:] + delta[3:], rtol=1e-14)




@pytest.mark.parametrize("name", ["meanfield", "fullrank"])
def test_gaussian_log_q_matches_scipy(name):
    q, lam = family(name)
    g = q.gaussian(lam)
    L = hand_L(name)
    z = np.random.default_rng(0).normal(size=(5, 3))
    ref = stats.multivariate_normal(MU, L @ L.T).logpdf(z)
    np.testing.assert_allclose(g.log_q(z), ref, rtol=1e-12)
    assert g.log_q(z[0]) == pytest.approx(ref[0], rel=1e-12)
    np.testing.assert_allclose(g.sd(), np.sqrt(np.diag(L @ L.T)), rtol=1e-14)
    assert isinstance(g, Gaussian)


# ---- the low-rank family -------------------------------------------------------------------------
def lowrank_lam(D=5, r=2, seed=1):
    from ppl.infer.families import LowRank
    q = LowRank(D, r)
    return q, 0.5 * np.random.default_rng(seed).standard_normal(q.size)


def test_lowrank_entropy_and_log_q_against_scipy():
    q, lam = lowrank_lam()
    D = q.dim
    d, B = np.exp(lam[D:2 * D]), lam[2 * D:].reshape(D, q.rank)
    cov = np.diag(d * d) + B @ B.T
    ref = stats.multivariate_normal(lam[:D], cov)
    assert q.entropy(lam) == pytest.approx(ref.entropy(), rel=1e-12)
    x = np.random.default_rng(2).standard_normal((4, D))
    np.testing.assert_allclose(q.gaussian(lam).log_q(x), ref.logpdf(x), rtol=1e-10)


def test_lowrank_draws_have_its_covariance_and_its_gradients_match_finite_differences():
    q, lam = lowrank_lam()
    D = q.dim
    eps = np.random.default_rng(3).standard_normal((200_000, q.noise_dim))
    Z = q.transform(lam, eps)
    g = q.gaussian(lam)
    np.testing.assert_allclose(np.cov(Z.T), g.L @ g.L.T, atol=0.03)
    fd = np.array([(q.entropy(lam + 1e-6 * e) - q.entropy(lam - 1e-6 * e)) / 2e-6
                   for e in np.eye(q.size)])
    np.testing.assert_allclose(q.grad_entropy(lam), fd, atol=1e-7)
    e = eps[0]

    def f(v):      # log p = -|zeta|^2 / 2 at one draw
        return -0.5 * np.sum(q.transform(v, e) ** 2)
    fd = np.array([(f(lam + 1e-6 * u) - f(lam - 1e-6 * u)) / 2e-6 for u in np.eye(q.size)])
    np.testing.assert_allclose(q.grad_log_p(lam, e, -q.transform(lam, e)), fd, atol=1e-7)
    assert Z.shape == (200_000, D)


def test_lowrank_rank_checks_and_default():
    from ppl.infer.families import default_rank, family
    assert family("lowrank", 503).rank == 2 and default_rank(2) == 1
    with pytest.raises(ValueError, match="family must be one of"):
        family("lowrnk", 3)
    with pytest.raises(ValueError, match="rank from 1 to D - 1 = 9 .* family='fullrank'"):
        family("lowrank", 10, 10)
    with pytest.raises(ValueError, match="use 'meanfield'"):
        family("lowrank", 1)
