"""ADVI's optimisers against hand loops: Stan's step-size sequence and Adam (the engine's
`autodiff.optim.Adam` behind an ascent direction); eta's adaptation on scripted ELBOs."""
import math

import numpy as np
import pytest

from ppl.infer.families import Meanfield
from ppl.infer.objective import Estimate
from ppl.infer.optim import Adam, StanStep, adapt_eta

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


# ---- eta's adaptation on a scripted ELBO --------------------------------------------------------
class ScriptedElbo:
    """An objective for `adapt_eta` whose ELBO after the steps is scripted per eta: the gradient
    is 1 for q's mean and 0 for its log-scale, so after n Stan steps with scale eta the mean is
    eta / 2 * sum_k k^(-1/2) (s_k = 1): the estimate reads eta off it. Records the draws each
    estimate was given."""

    def __init__(self, script, se=0.2, adapt_iter=50):
        self.q, self.script, self.se, self.seen = Meanfield(1), script, se, []
        self.per_eta = 0.5 * sum(k ** (-0.5 + 1e-16) for k in range(1, adapt_iter + 1))

    def draws(self):
        return np.zeros((10, 1))

    def grad(self, lam):
        return np.array([1.0, 0.0])

    def estimate(self, lam, eps=None):
        self.seen.append(eps)
        if lam[0] == 0.0:
            value = self.script["init"]
        else:
            eta = min(self.script, key=lambda e: math.inf if e == "init" else
                      abs(math.log(lam[0] / self.per_eta / e)))
            value = self.script[eta]
        return Estimate(value, self.se if math.isfinite(value) else math.inf, 0)


def adapt(script, se=0.2):
    objective = ScriptedElbo(script, se)
    return adapt_eta(objective, objective.q.init(np.zeros(1)), 50), objective


def test_the_smallest_eta_does_not_win_by_standing_still():
    # 0.01 best by 0.3 < 2 sqrt(2) 0.2: within noise of it, 0.1 moves further
    out, _ = adapt({"init": -10.5, 100.0: -math.inf, 10.0: -math.inf, 1.0: -12.0, 0.1: -10.3,
                    0.01: -10.0})
    assert out.eta == 0.1 and out.elbos[0.01] == -10.0
    # beyond the noise the smallest eta is kept
    out, _ = adapt({"init": -10.5, 100.0: -math.inf, 10.0: -math.inf, 1.0: -12.0, 0.1: -11.0,
                    0.01: -10.0})
    assert out.eta == 0.01


def test_the_best_eta_wins_otherwise_and_stan_stops_after_a_worse_one():
    out, _ = adapt({"init": -10.5, 100.0: -math.inf, 10.0: -50.0, 1.0: -10.1, 0.1: -10.0,
                    0.01: -10.2})
    assert out.eta == 0.1
    out, _ = adapt({"init": -20.0, 100.0: -15.0, 10.0: -16.0, 1.0: -1.0, 0.1: -1.0,
                    0.01: -1.0})
    assert out.eta == 100.0 and list(out.elbos) == [100.0, 10.0]   # Stan's early stop


def test_every_elbo_of_the_adaptation_uses_the_same_draws():
    # common random numbers: the etas' ELBOs differ by their q, not by independent noise
    _, objective = adapt({"init": -10.5, 100.0: -math.inf, 10.0: -math.inf, 1.0: -12.0,
                          0.1: -10.3, 0.01: -10.0})
    first = objective.seen[0]
    assert first is not None and len(objective.seen) == 6     # the start and 5 etas
    assert all(eps is first for eps in objective.seen)


def test_no_finite_elbo_is_a_runtime_error():
    with pytest.raises(RuntimeError, match="every step size failed"):
        adapt({"init": -10.0, 100.0: -math.inf, 10.0: -math.inf, 1.0: -math.inf,
               0.1: -math.inf, 0.01: -math.inf})
