"""ADVI's moving parts, one at a time, against independent references: the Gaussian families
(transform, entropy vs scipy, gradients vs finite differences, the whitened mean step),
Stan's step-size sequence and Adam against hand loops, the averaging window's mean and split
R-hat against numpy, a hand formula and ArviZ, and the whitening at the mode against the
covariance of a Gaussian target. All deterministic (fixed seeds, no fits): they take
milliseconds.
"""
import math

import numpy as np
import pytest
from scipy import stats

import arviz as az
import ppl
from ppl import dist
from ppl.advi_steps import Adam, StanStep, Window
from ppl.families import Fullrank, Meanfield

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
    q.step(lam, opt, grad)
    np.testing.assert_allclose(opt.seen[:3], L.T @ grad[:3], rtol=1e-14)
    np.testing.assert_array_equal(opt.seen[3:], grad[3:])
    np.testing.assert_allclose(lam[:3], before[:3] + L @ delta[:3], rtol=1e-14)
    np.testing.assert_allclose(lam[3:], before[3:] + delta[3:], rtol=1e-14)


# ---- optimisers ---------------------------------------------------------------------------------
GRADS = np.array([[3.0, -0.5], [1.0, 0.2], [-2.0, 4.0], [0.5, 0.5], [10.0, -3.0], [0.0, 1.0]])


def test_stan_step_sequence_matches_a_hand_loop():
    # rho_k = eta k^(-1/2 + 1e-16) / (1 + sqrt(s_k)); s_1 = g_1^2, s_k = 0.1 g_k^2 + 0.9 s_(k-1)
    eta = 0.7
    opt = StanStep(eta)
    s = None
    for k, g in enumerate(GRADS, start=1):
        s = g ** 2 if s is None else 0.1 * g ** 2 + 0.9 * s
        expected = eta * k ** (-0.5 + 1e-16) / (1.0 + np.sqrt(s)) * g
        np.testing.assert_allclose(opt.direction(g), expected, rtol=1e-14)
    assert opt.k == len(GRADS)


def test_stan_step_first_direction():
    # the docstring's example written out: 1 * 1^(-1/2) * 3 / (1 + sqrt(9)) = 0.75
    assert StanStep(1.0).direction(np.array([3.0]))[0] == pytest.approx(0.75, rel=1e-15)


def test_adam_matches_a_hand_loop():
    lr, b1, b2, eps = 0.05, 0.8, 0.99, 1e-8
    opt = Adam(lr, betas=(b1, b2))
    m = v = np.zeros(2)
    for k, g in enumerate(GRADS, start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        expected = lr * (m / (1 - b1 ** k)) / (np.sqrt(v / (1 - b2 ** k)) + eps)
        np.testing.assert_allclose(opt.direction(g), expected, rtol=1e-13)


def test_adam_first_step_is_lr_times_the_sign():
    # after one step m_hat = g and v_hat = g^2, so the step is lr * g / (|g| + eps)
    d = Adam(0.01).direction(np.array([5.0, -0.2]))
    np.testing.assert_allclose(d, [0.01, -0.01], rtol=1e-6)


# ---- the averaging window -----------------------------------------------------------------------
def ar1(n, phi=0.5, seed=0):
    """A stationary AR(1) series x_t = phi x_(t-1) + e_t started from its stationary law."""
    rng = np.random.default_rng(seed)
    x = np.empty(n)
    x[0] = rng.standard_normal() / math.sqrt(1 - phi ** 2)
    for t in range(1, n):
        x[t] = phi * x[t - 1] + rng.standard_normal()
    return x


def split_rhat_by_hand(x):
    """BDA3's split R-hat of one series: halves as two chains of n, W the mean within-half
    variance, B = n var(half means); R = sqrt(((n - 1) / n W + B / n) / W)."""
    n = len(x) // 2
    halves = np.stack([x[:n], x[-n:]])
    w = halves.var(axis=1, ddof=1).mean()
    b = n * halves.mean(axis=1).var(ddof=1)
    return math.sqrt(((n - 1) / n * w + b / n) / w)


def filled_window(series):
    x = np.column_stack(series)
    w = Window(x[0], len(x))
    for row in x:
        assert not w.full
        w.add(row)
    assert w.full
    return w, x


def test_window_mean_is_the_mean_of_the_iterates():
    rng = np.random.default_rng(3)
    w, x = filled_window([rng.normal(2.0, 1.0, 500), rng.normal(-1.0, 0.1, 500)])
    np.testing.assert_allclose(w.mean(), x.mean(axis=0), rtol=1e-12)


def test_window_rhat_stationary_and_trending():
    n = 2000                                    # even: both halves have n / 2 iterates
    stationary = ar1(n, seed=1)
    trending = ar1(n, seed=2) + np.linspace(0.0, 3.0, n)
    ref = {name: split_rhat_by_hand(x) for name, x in
           [("stationary", stationary), ("trending", trending)]}
    # the hand formula and ArviZ agree: ArviZ wants two chains, so it gets the two halves and
    # its classic ("identity": no further splitting) R-hat
    for name, x in [("stationary", stationary), ("trending", trending)]:
        halves = np.stack([x[:n // 2], x[n // 2:]])
        assert float(az.rhat(halves, method="identity")) == pytest.approx(ref[name], rel=1e-10)
    assert ref["stationary"] < 1.01 and ref["trending"] > 1.1
    for name, x in [("stationary", stationary), ("trending", trending)]:
        w, _ = filled_window([x])
        assert w.rhat() == pytest.approx(ref[name], rel=1e-9)
    # several coordinates: the largest R-hat
    w, _ = filled_window([stationary, trending])
    assert w.rhat() == pytest.approx(ref["trending"], rel=1e-9)


def test_window_rhat_nan_when_too_short():
    w, _ = filled_window([np.arange(5.0)])
    assert math.isnan(w.rhat())


# ---- whitening at the mode ----------------------------------------------------------------------
LOC = np.array([1.0, -2.0, 0.5])
COV = np.array([[2.0, 1.2, 0.5], [1.2, 1.0, 0.3], [0.5, 0.3, 1.5]])


@ppl.model
def gaussian_target(loc, cov):
    ppl.sample("x", dist.MultivariateNormal(loc, covariance_matrix=cov))


@pytest.mark.parametrize("name", ["meanfield", "fullrank"])
def test_precondition_whitens_a_gaussian_target(name):
    # For a Gaussian target the mode is the mean and the Hessian is -Sigma^-1: fullrank whitens
    # with C C^T = Sigma, meanfield with C = 1 / sqrt(diag(Sigma^-1)) (its known optimum).
    from ppl.advi_steps import Run               # the state precondition() works on
    from ppl.advi_steps import precondition
    m = gaussian_target(LOC, COV)
    q = (Meanfield if name == "meanfield" else Fullrank)(3)
    rng = np.random.default_rng(0)
    run = Run(m, q, None, rng, np.random.default_rng(1), 1, 100, np.zeros(3))
    assert precondition(run, name).startswith("yes")
    np.testing.assert_allclose(run.centre, LOC, atol=1e-8)
    if name == "fullrank":
        np.testing.assert_allclose(run.C @ run.C.T, COV, rtol=1e-8)
        assert np.allclose(run.C, np.tril(run.C))
    else:
        np.testing.assert_allclose(run.C, 1 / np.sqrt(np.diag(np.linalg.inv(COV))), rtol=1e-8)
    mu, omega, L = run.to_zeta(q.init(np.zeros(3)))   # the start is the Laplace approximation
    np.testing.assert_allclose(mu, LOC, atol=1e-8)
    if name == "fullrank":
        np.testing.assert_allclose(L @ L.T, COV, rtol=1e-8)
        np.testing.assert_allclose(omega, np.log(np.diag(L)), rtol=1e-12)
