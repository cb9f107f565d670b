"""ADVI's Gaussian families, as flat parameter vectors lam (what the optimiser moves).

Both are q(zeta) = N(mu, L L^T) with zeta = mu + L eps, eps ~ N(0, I_D):

- `Meanfield`: lam = [mu, omega], L = diag(exp(omega)).
- `Fullrank`:  lam = [mu, omega, l], L = diag(exp(omega)) + the strictly lower triangle l
  (row by row). The log-diagonal keeps L a valid Cholesky factor at every step; at omega = 0,
  l = 0 it is Stan's identity start.

Entropy H[q] = D/2 (1 + log 2 pi) + sum(omega). Given g = grad_zeta log p(zeta) at one draw,
the chain rule through zeta = mu + L eps gives d/dmu = g, d/domega = g eps exp(omega),
d/dl = tril(g eps^T, -1); the entropy adds 1 to each d/domega.

    >>> import numpy as np
    >>> q = Meanfield(2)
    >>> lam = q.init(np.array([1.0, -1.0]))
    >>> q.transform(lam, np.array([0.5, 2.0]))
    array([1.5, 1. ])
"""
import math

import numpy as np

__all__ = ["Meanfield", "Fullrank"]

_HALF_LOG_2PI_E = 0.5 * (1.0 + math.log(2.0 * math.pi))


class Meanfield:
    """q = N(mu, diag(exp(omega))^2); lam = [mu, omega]."""

    def __init__(self, dim):
        self.dim = int(dim)
        self.size = 2 * self.dim

    def init(self, mu):
        """lam at mean `mu` and unit scales (omega = 0, as Stan)."""
        return np.concatenate([np.asarray(mu, dtype=float), np.zeros(self.dim)])

    def unpack(self, lam):
        """(mu, omega, L); L is None for meanfield."""
        d = self.dim
        return lam[:d].copy(), lam[d:].copy(), None

    def transform(self, lam, eps):
        """zeta = mu + exp(omega) * eps (eps of shape (D,) or (S, D))."""
        d = self.dim
        return lam[:d] + np.exp(lam[d:]) * eps

    def grad_log_p(self, lam, eps, g):
        """d log p(mu + L eps) / d lam, given g = grad_zeta log p."""
        return np.concatenate([g, g * eps * np.exp(lam[self.dim:])])

    def step(self, lam, opt, grad):
        """One optimiser step, the mean's in coordinates whitened by q itself: the optimiser
        sees d/dnu = L^T grad_mu for mu = mu_k + L nu, and mu moves by L times its step (a
        natural-gradient step for the mean, Sigma grad_mu up to the optimiser's scaling), so
        a mean whose posterior sd is 10 moves ten times as far as one whose sd is 1."""
        d = self.dim
        grad = grad.copy()
        grad[:d] = self.scale_t(lam, grad[:d])
        delta = opt.direction(grad)
        lam[:d] += self.scale(lam, delta[:d])
        lam[d:] += delta[d:]

    def scale(self, lam, v):
        """L v."""
        return np.exp(lam[self.dim:2 * self.dim]) * v

    scale_t = scale   # L^T v: L is diagonal

    def entropy(self, lam):
        """H[q] = D/2 (1 + log 2 pi) + sum(omega)."""
        return self.dim * _HALF_LOG_2PI_E + float(np.sum(lam[self.dim:2 * self.dim]))

    def grad_entropy(self, lam):
        """dH/dlam: 0 for mu, 1 for each omega."""
        out = np.zeros(self.size)
        out[self.dim:2 * self.dim] = 1.0
        return out


class Fullrank(Meanfield):
    """q = N(mu, L L^T), L = diag(exp(omega)) + strictly lower l; lam = [mu, omega, l]."""

    def __init__(self, dim):
        super().__init__(dim)
        self.rows, self.cols = np.tril_indices(self.dim, -1)
        self.size = 2 * self.dim + self.rows.size

    def init(self, mu):
        return np.concatenate([super().init(mu), np.zeros(self.rows.size)])

    def scale_tril(self, lam):
        """L = diag(exp(omega)) + tril(l, -1)."""
        d = self.dim
        L = np.diag(np.exp(lam[d:2 * d]))
        L[self.rows, self.cols] = lam[2 * d:]
        return L

    def unpack(self, lam):
        d = self.dim
        return lam[:d].copy(), lam[d:2 * d].copy(), self.scale_tril(lam)

    def scale(self, lam, v):
        return self.scale_tril(lam) @ v

    def scale_t(self, lam, v):
        return self.scale_tril(lam).T @ v

    def transform(self, lam, eps):
        """zeta = mu + L eps (eps of shape (D,) or (S, D))."""
        return lam[:self.dim] + eps @ self.scale_tril(lam).T

    def grad_log_p(self, lam, eps, g):
        d = self.dim
        return np.concatenate([g, g * eps * np.exp(lam[d:2 * d]), g[self.rows] * eps[self.cols]])
