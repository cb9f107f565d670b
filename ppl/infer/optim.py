"""ADVI's optimisers, each an ascent `direction(g)` for the ELBO's gradient g: Stan's
adaptive step-size sequence (`StanStep`, with its eta adaptation `adapt_eta`) and Adam (the
engine's `autodiff.optim.Adam`, the one Adam of the house).

    >>> import numpy as np
    >>> StanStep(eta=1.0).direction(np.array([3.0]))      # 1 * 1^(-1/2) * 3 / (1 + sqrt(9))
    array([0.75])
"""
import math
from dataclasses import dataclass, field

import numpy as np

import autodiff as ad
from autodiff import optim

__all__ = ["StanStep", "Adam", "adapt_eta", "Adaptation", "ETA_SEQUENCE"]

ETA_SEQUENCE = (100.0, 10.0, 1.0, 0.1, 0.01)


class StanStep:
    """Stan's step: rho_k = eta k^(-1/2 + 1e-16) / (tau + sqrt(s_k)), s_k = alpha g_k^2 +
    (1 - alpha) s_(k-1) (s_1 = g_1^2), alpha = 0.1, tau = 1; the step is rho_k g_k."""

    def __init__(self, eta, tau=1.0, alpha=0.1):
        self.eta, self.tau, self.alpha, self.k, self.s = eta, tau, alpha, 0, None

    def __repr__(self):
        return f"StanStep(eta={self.eta:g}, k={self.k})"

    def direction(self, g):
        self.k += 1
        self.s = g * g if self.s is None else self.alpha * g * g + (1 - self.alpha) * self.s
        return self.eta * self.k ** (-0.5 + 1e-16) * g / (self.tau + np.sqrt(self.s))


class Adam:
    """Adam (Kingma and Ba) ascending the ELBO: the step lr m_hat / (sqrt(v_hat) + eps) of
    `autodiff.optim.Adam` for the loss -ELBO, read off a shadow parameter held at 0."""

    def __init__(self, lr, betas=(0.9, 0.999), eps=1e-8):
        self.lr = lr
        self._shadow = None
        self._opt_args = dict(lr=lr, betas=betas, eps=eps)

    def __repr__(self):
        return f"Adam(lr={self.lr:g})"

    def direction(self, g):
        if self._shadow is None:
            self._shadow = ad.Tensor(np.zeros(g.shape), requires_grad=True)
            self._opt = optim.Adam([self._shadow], **self._opt_args)
        value = self._shadow.value
        value[...] = 0.0
        self._shadow.grad = -g                     # the loss is -ELBO
        self._opt.step()
        return value.copy()


@dataclass
class Adaptation:
    """What eta's adaptation saw: the ELBO after `adapt_iter` steps per eta tried (-inf where
    it diverged), their Monte Carlo standard errors, the initial ELBO, the eta chosen."""
    elbos: dict = field(default_factory=dict)
    errors: dict = field(default_factory=dict)
    elbo_init: float = math.nan
    eta: float = math.nan
    dropped: int = 0


def adapt_eta(objective, lam0, adapt_iter, progress=None):
    """Stan's adaptation: each eta in `ETA_SEQUENCE` runs `adapt_iter` steps from lam0; keep the
    best ELBO; stop early once an eta does worse than the best (after some improvement).
    Beyond Stan: every ELBO here is estimated with the same draws (common random numbers:
    their differences are the q's, not the Monte Carlo noise of independent estimates, which
    made the winner a matter of luck), and the smallest eta does not win by standing still
    (`choose_eta`). Also
    unlike Stan: the best ELBO so far is kept (Stan overwrites it with each eta's), a NaN or
    -inf ELBO moves on to the next eta (Stan stops), and the last eta is not required to beat
    the initial ELBO. Returns an `Adaptation`; raises RuntimeError when no eta gives a finite
    ELBO. `progress(text)` is told each eta's ELBO."""
    q = objective.q
    out = Adaptation()
    eps = objective.draws()          # common random numbers: every ELBO here uses these draws
    start = objective.estimate(lam0, eps)
    out.elbo_init, out.dropped = start.value, start.dropped
    best = -math.inf
    for eta in ETA_SEQUENCE:
        lam, opt = lam0.copy(), StanStep(eta)
        with np.errstate(all="ignore"):
            diverged = False
            for _ in range(adapt_iter):
                g = objective.grad(lam)
                if g is None or not np.all(np.isfinite(lam)):
                    diverged = True       # no finite draw here: this eta has left the posterior
                    break
                lam = q.step(lam, opt, g)
            if diverged or not np.all(np.isfinite(lam)):
                elbo, se = -math.inf, math.inf
            else:
                est = objective.estimate(lam, eps)
                elbo, se, out.dropped = est.value, est.se, out.dropped + est.dropped
        out.elbos[eta], out.errors[eta] = elbo, se
        if progress is not None:
            progress(f"adapting eta={eta:g} ELBO={elbo:.4g}")
        if not math.isfinite(elbo):
            continue                      # NaN or diverged: move on to a smaller eta
        if elbo < best and best > out.elbo_init:
            break                         # worse than the best after an improvement: stop
        best = max(best, elbo)
    finite = {e: v for e, v in out.elbos.items() if math.isfinite(v)}
    if not finite:
        raise RuntimeError(
            f"ADVI: every step size failed (ELBO after {adapt_iter} steps for eta = "
            f"{', '.join(f'{e:g}: {v:.4g}' for e, v in out.elbos.items())}; initial ELBO "
            f"{out.elbo_init:.4g}). The model may be ill-conditioned or misspecified; try "
            "init=..., eta=..., or optimizer='adam'")
    out.eta = choose_eta(out.elbos, out.errors)
    return out


def choose_eta(elbos, errors):
    """The eta with the best ELBO (ties to the larger), as Stan; but when that is the smallest
    eta of `ETA_SEQUENCE` and the next larger one is within 2 sqrt(2) Monte Carlo standard
    errors of it, the larger one: from a near-optimal start (the whitened, Laplace start) the
    smallest eta wins by standing still, and then its fit stays at the start (linear_regression
    at seed 2: eta 0.01, sigma 0.85 sd off, "converged"). `elbos` and `errors`: eta -> ELBO
    after the adaptation's steps and its standard error, in decreasing eta."""
    eta_best, best = None, -math.inf
    for eta, elbo in elbos.items():
        if math.isfinite(elbo) and elbo > best:
            best, eta_best = elbo, eta
    if eta_best == ETA_SEQUENCE[-1]:
        larger = ETA_SEQUENCE[-2]
        elbo = elbos.get(larger, -math.inf)
        if math.isfinite(elbo) and elbo >= best - 2.0 * math.sqrt(2.0) * max(
                errors[eta_best], errors[larger]):
            return larger
    return eta_best
