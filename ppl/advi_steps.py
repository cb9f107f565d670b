"""ADVI's moving parts: Stan's step-size sequence, Adam, the averaging window with its split
R-hat, and the whitening at the mode (`ppl.advi` puts them together).

    >>> import numpy as np
    >>> step = StanStep(eta=1.0)
    >>> step.direction(np.array([3.0]))          # 1 * 1^(-1/2) * 3 / (1 + sqrt(9))
    array([0.75])
"""
import math

import numpy as np

import autodiff as ad

__all__ = ["StanStep", "Adam", "Window", "precondition"]


class StanStep:
    """Stan's step: lam += eta k^(-1/2 + 1e-16) g / (tau + sqrt(s_k))."""

    def __init__(self, eta, tau=1.0, alpha=0.1):
        self.eta, self.tau, self.alpha, self.k, self.s = eta, tau, alpha, 0, None

    def direction(self, g):
        self.k += 1
        self.s = g * g if self.s is None else self.alpha * g * g + (1 - self.alpha) * self.s
        return self.eta * self.k ** (-0.5 + 1e-16) * g / (self.tau + np.sqrt(self.s))


class Adam:
    """Adam (Kingma and Ba) ascending the ELBO: lam += lr m_hat / (sqrt(v_hat) + eps)."""

    def __init__(self, lr, betas=(0.9, 0.999), eps=1e-8):
        self.lr, (self.b1, self.b2), self.eps, self.k = lr, betas, eps, 0
        self.m = self.v = 0.0

    def direction(self, g):
        self.k += 1
        self.m = self.b1 * self.m + (1 - self.b1) * g
        self.v = self.b2 * self.v + (1 - self.b2) * g * g
        m_hat = self.m / (1 - self.b1 ** self.k)
        v_hat = self.v / (1 - self.b2 ** self.k)
        return self.lr * m_hat / (np.sqrt(v_hat) + self.eps)


class Window:
    """Running sums of the iterates over a window of `size` steps, per half: their mean, and
    the split R-hat of the iterates (the two halves as two chains; Gelman et al., BDA3)."""

    def __init__(self, lam, size):
        self.size, self.n, self.half = size, 0, size // 2
        self.sums = np.zeros((2, lam.size))
        self.squares = np.zeros((2, lam.size))

    @property
    def full(self):
        return self.n >= self.size

    def add(self, lam):
        h = 0 if self.n < self.size - self.half else 1
        self.sums[h] += lam
        self.squares[h] += lam * lam
        self.n += 1

    def mean(self):
        return self.sums.sum(0) / self.n

    def rhat(self):
        """max over coordinates of sqrt(((n-1)/n W + B/n) / W), each half a chain of n."""
        n1, n2 = self.size - self.half, self.n - (self.size - self.half)
        n = min(n1, n2)
        if n < 4:
            return math.nan
        counts = np.array([[n1], [n2]], dtype=float)
        means = self.sums / counts
        var = (self.squares - counts * means ** 2) / (counts - 1)
        w = var.mean(0)
        b = n * means.var(axis=0, ddof=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.sqrt(np.where(w > 0, ((n - 1) / n * w + b / n) / w, 1.0))
        return float(np.max(r))


def precondition(run, family):
    """Whiten the unconstrained space at the mode: zeta = z_hat + C u, with z_hat the mode of the
    unconstrained density (Newton's method on the engine's Hessian), H its Hessian there, and C
    = cholesky(H^-1) (fullrank) or diag(H_ii^(-1/2)) (meanfield: the meanfield optimum of a
    Gaussian target). In u the posterior is close to N(0, I), which Stan's per-coordinate step
    sizes handle well; q keeps its family (C is lower-triangular or diagonal). The start (u =
    0, omega = 0) is the Laplace approximation. Skipped (C = I, zeta = initial point, as Stan)
    when there is no finite mode with a negative-definite Hessian, or when that start has a
    lower ELBO than Stan's. Returns what was done, for `fit.info`."""
    model = run.model
    try:
        with np.errstate(all="ignore"):
            found = ad.minimize_newton(lambda z: -model.unconstrained_log_density(z),
                                       run.centre, gtol=1e-3, maxiter=100)  # rough is enough
            z_hat = np.asarray(found.x, dtype=float)
            H = np.asarray(ad.hessian(model.unconstrained_log_density)(z_hat)) * -1.0
        if not (found.converged and np.all(np.isfinite(H))):
            return f"no: Newton's method found no mode in {found.iterations} steps"
        if family == "fullrank":
            C = np.linalg.cholesky(np.linalg.inv(0.5 * (H + H.T)))   # C C^T = H^-1
            log_det = float(np.sum(np.log(np.diag(C))))
        else:
            d = np.diag(H)
            if not np.all(d > 0):
                raise np.linalg.LinAlgError("non-positive curvature")
            C = 1.0 / np.sqrt(d)
            log_det = float(np.sum(np.log(C)))
    except ad.NewtonError as e:
        return f"no: Newton's method found no mode ({e})"
    except np.linalg.LinAlgError as e:
        return f"no: the Hessian at the mode is not negative definite ({e})"
    lam0 = run.q.init(np.zeros(model.num_params))
    stan_elbo = run.elbo(lam0)
    saved = run.centre, run.C, run.log_det_C
    run.centre, run.C, run.log_det_C = z_hat, C, log_det
    laplace_elbo = run.elbo(lam0)
    if not laplace_elbo > stan_elbo:
        run.centre, run.C, run.log_det_C = saved
        return (f"no: the Laplace start's ELBO {laplace_elbo:.4g} is not above the initial "
                f"point's {stan_elbo:.4g}")
    return "yes: whitened at the mode by its Hessian"
