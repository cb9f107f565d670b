"""ADVI's optimisers against hand loops: Stan's step-size sequence and Adam (the engine's
`autodiff.optim.Adam` behind an ascent direction)."""
import numpy as np
import pytest

from ppl.infer.optim import Adam, StanStep

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
