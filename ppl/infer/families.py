"""q's families: a Gaussian in the model's unconstrained space, and its parametrisations.

`Gaussian` is q itself, q(zeta) = N(mu, L L^T), and owns its maths (written once here):

    zeta = mu + L eps, eps ~ N(0, I_D)                            (the reparameterisation)
    log q(zeta) = -|L^-1 (zeta - mu)|^2 / 2 - sum(omega) - D/2 log 2 pi
    H[q] = D/2 (1 + log 2 pi) + sum(omega),    omega = log diag(L)

The families say how a flat vector lam (what an optimiser moves) holds q:

- `Meanfield`: lam = [mu, omega], L = diag(exp(omega)).
- `Fullrank`:  lam = [mu, omega, l], L = diag(exp(omega)) + the strictly lower triangle l
  (row by row). The log-diagonal keeps L a valid Cholesky factor at every step; at omega = 0,
  l = 0 it is Stan's identity start.
- `LowRank`:   lam = [mu, omega, B], covariance diag(exp(omega))^2 + B B^T with B (D, r):
  2 D + r D parameters where fullrank has D (D + 3) / 2 (503 parameters: 2,000 at r = 2
  against 127,000); zeta = mu + exp(omega) e1 + B e2 from D + r normals.

Given g = grad_zeta log p(zeta) at one draw, the chain rule through zeta = mu + L eps gives
d/dmu = g, d/domega = g eps exp(omega), d/dl = tril(g eps^T, -1); the entropy adds 1 to each
d/domega. `step` is the families' natural-gradient step for the mean.

    >>> import numpy as np
    >>> q = Meanfield(2)
    >>> lam = q.init(np.array([1.0, -1.0]))
    >>> q.transform(lam, np.array([0.5, 2.0]))
    array([1.5, 1. ])
"""
import math
from dataclasses import dataclass
from typing import Optional

import numpy as np

__all__ = ["Gaussian", "Meanfield", "Fullrank", "LowRank", "family", "default_rank"]

_HALF_LOG_2PI_E = 0.5 * (1.0 + math.log(2.0 * math.pi))
_LOG_2PI = math.log(2.0 * math.pi)


@dataclass(frozen=True, eq=False)
class Gaussian:
    """q(zeta) = N(mu, L L^T): mu and omega (D,); L (D, D) lower-triangular with diagonal
    exp(omega), or None for the diagonal scale diag(exp(omega)) (meanfield)."""
    mu: np.ndarray
    omega: np.ndarray
    L: Optional[np.ndarray] = None

    @property
    def dim(self):
        return self.mu.size

    def transform(self, eps):
        """zeta = mu + L eps (eps of shape (D,) or (S, D))."""
        if self.L is None:
            return self.mu + np.exp(self.omega) * eps
        return self.mu + eps @ self.L.T

    def sample(self, rng, draws):
        """(draws, D) draws of q from `rng` (a numpy Generator)."""
        return self.transform(rng.standard_normal((draws, self.dim)))

    def log_q(self, zeta):
        """log N(zeta | mu, L L^T) = -|L^-1 (zeta - mu)|^2 / 2 - sum(omega) - D/2 log 2 pi,
        for zeta of shape (D,) (a float) or (S, D) (an (S,) array)."""
        z = np.asarray(zeta, dtype=float)
        r = z - self.mu
        if self.L is None:
            eps = r * np.exp(-self.omega)
        else:
            from scipy.linalg import solve_triangular  # noqa: PLC0415 -- ppl loads it already
            eps = solve_triangular(self.L, r.T, lower=True).T
        out = -0.5 * np.sum(eps * eps, axis=-1) - np.sum(self.omega) - 0.5 * self.dim * _LOG_2PI
        return float(out) if z.ndim == 1 else out

    def entropy(self):
        """H[q] = D/2 (1 + log 2 pi) + sum(omega)."""
        return self.dim * _HALF_LOG_2PI_E + float(np.sum(self.omega))

    def sd(self):
        """The marginal sds: exp(omega) (meanfield) or the row norms of L."""
        return np.exp(self.omega) if self.L is None else np.sqrt(np.sum(self.L * self.L, axis=1))


class Meanfield:
    """q = N(mu, diag(exp(omega))^2); lam = [mu, omega]."""

    name = "meanfield"

    def __init__(self, dim):
        self.dim = self.noise_dim = int(dim)       # noise_dim: normals per draw
        self.size = 2 * self.dim
        self._set_constants()

    def _set_constants(self):
        """Per-family constants, built once: dH/dlam (1 on omega, 0 elsewhere), and ones."""
        self._dH = np.zeros(self.size)
        self._dH[self.dim:2 * self.dim] = 1.0
        self._ones = np.ones(self.size)
        for a in (self._dH, self._ones):
            a.setflags(write=False)

    def __repr__(self):
        return f"{type(self).__name__}({self.dim})"

    def init(self, mu):
        """lam at mean `mu` and unit scales (omega = 0, as Stan)."""
        return np.concatenate([np.asarray(mu, dtype=float), np.zeros(self.size - self.dim)])

    def gaussian(self, lam):
        """The Gaussian that lam holds (views into lam: do not keep across steps)."""
        d = self.dim
        return Gaussian(lam[:d], lam[d:2 * d], None)

    def unpack(self, lam):
        """(mu, omega, L) as copies; L is None for meanfield."""
        g = self.gaussian(lam)
        return g.mu.copy(), g.omega.copy(), None if g.L is None else g.L.copy()

    def transform(self, lam, eps):
        """zeta = mu + L eps (eps of shape (D,) or (S, D)); `Gaussian.transform`'s maths,
        without building the Gaussian (this runs at every step)."""
        d = self.dim
        return lam[:d] + np.exp(lam[d:2 * d]) * eps

    def entropy(self, lam):
        """H[q] (see `Gaussian.entropy`)."""
        return self.gaussian(lam).entropy()

    def grad_log_p(self, lam, eps, g):
        """d log p(mu + L eps) / d lam, given g = grad_zeta log p."""
        return np.concatenate([g, g * eps * np.exp(lam[self.dim:])])

    def grad_entropy(self, lam):
        """dH/dlam: 0 for mu and l, 1 for each omega."""
        return self._dH.copy()

    def grad_elbo(self, lam, eps, g):
        """grad_log_p(lam, eps, g) + grad_entropy(lam): one draw's ELBO gradient in lam."""
        out = self.grad_log_p(lam, eps, g)
        out += self._dH
        return out

    def step(self, lam, opt, grad):
        """lam after one optimiser step, the mean's in coordinates whitened by q itself: the
        optimiser sees d/dnu = L^T grad_mu for mu = mu_k + L nu, and mu moves by L times its
        step (a natural-gradient step for the mean, Sigma grad_mu up to the optimiser's
        scaling), so a mean whose posterior sd is 10 moves ten times as far as one whose sd
        is 1. `opt.direction(g)` is the optimiser's ascent step for gradient g.
        Meanfield's L is diagonal: w = [exp(omega), 1, ..., 1] scales both the gradient
        (L^T on mu, the identity on omega) and the step (1 * x is exactly x)."""
        d = self.dim
        w = self._ones.copy()
        np.exp(lam[d:2 * d], out=w[:d])
        return lam + w * opt.direction(w * grad)


class Fullrank(Meanfield):
    """q = N(mu, L L^T), L = diag(exp(omega)) + strictly lower l; lam = [mu, omega, l]."""

    name = "fullrank"

    def __init__(self, dim):
        self.dim = self.noise_dim = int(dim)
        self.rows, self.cols = np.tril_indices(self.dim, -1)
        self.size = 2 * self.dim + self.rows.size
        self._set_constants()

    def scale_tril(self, lam):
        """L = diag(exp(omega)) + tril(l, -1)."""
        d = self.dim
        L = np.diag(np.exp(lam[d:2 * d]))
        L[self.rows, self.cols] = lam[2 * d:]
        return L

    def gaussian(self, lam):
        d = self.dim
        return Gaussian(lam[:d], lam[d:2 * d], self.scale_tril(lam))

    def transform(self, lam, eps):
        return lam[:self.dim] + eps @ self.scale_tril(lam).T

    def step(self, lam, opt, grad):
        """`Meanfield.step` with L = `scale_tril(lam)` (built once)."""
        d = self.dim
        L = self.scale_tril(lam)
        grad = grad.copy()
        grad[:d] = L.T @ grad[:d]
        delta = opt.direction(grad)
        new = lam.copy()
        new[:d] += L @ delta[:d]
        new[d:] += delta[d:]
        return new

    def grad_log_p(self, lam, eps, g):
        d = self.dim
        return np.concatenate([g, g * eps * np.exp(lam[d:2 * d]), g[self.rows] * eps[self.cols]])


class LowRank(Meanfield):
    """q = N(mu, diag(d)^2 + B B^T), d = exp(omega), B (D, r); lam = [mu, omega, B row by
    row]. Draws take D + r normals (`noise_dim`): zeta = mu + d e1 + B e2. With W = B / d
    (row-wise) and K = I_r + W^T W,

        H[q] = D/2 (1 + log 2 pi) + sum(omega) + log|det K| / 2,
        dH/dB = (B K^-1) / d^2 (row-wise),   dH/domega_i = 1 - sum_j (W K^-1)_ij W_ij.

    B starts small and fixed (0.01 times normals of seed 0, scaled by 1 / sqrt(D)): at B = 0
    the ELBO's gradient in B vanishes (a saddle) and B would never move."""

    name = "lowrank"

    def __init__(self, dim, rank):
        self.dim, self.rank = int(dim), int(rank)
        self.noise_dim = self.dim + self.rank
        self.size = 2 * self.dim + self.dim * self.rank
        self._set_constants()

    def __repr__(self):
        return f"LowRank({self.dim}, rank={self.rank})"

    def init(self, mu):
        B0 = np.random.default_rng(0).standard_normal(self.dim * self.rank)
        return np.concatenate([np.asarray(mu, dtype=float), np.zeros(self.dim),
                               0.01 * B0 / math.sqrt(self.dim)])

    def factor(self, lam):
        """B (D, r) (a view into lam)."""
        return lam[2 * self.dim:].reshape(self.dim, self.rank)

    def _K(self, lam):
        d = np.exp(lam[self.dim:2 * self.dim])
        W = self.factor(lam) / d[:, None]
        return d, W, np.eye(self.rank) + W.T @ W

    def scale_tril(self, lam):
        """The Cholesky factor of diag(d)^2 + B B^T (D x D: for results, not steps)."""
        d, B = np.exp(lam[self.dim:2 * self.dim]), self.factor(lam)
        return np.linalg.cholesky(np.diag(d * d) + B @ B.T)

    def gaussian(self, lam):
        L = self.scale_tril(lam)
        return Gaussian(lam[:self.dim], np.log(np.diag(L)), L)

    def transform(self, lam, eps):
        d = self.dim
        e1, e2 = eps[..., :d], eps[..., d:]
        return lam[:d] + np.exp(lam[d:2 * d]) * e1 + e2 @ self.factor(lam).T

    def entropy(self, lam):
        _, _, K = self._K(lam)
        return (self.dim * _HALF_LOG_2PI_E + float(np.sum(lam[self.dim:2 * self.dim])) +
                0.5 * float(np.linalg.slogdet(K)[1]))

    def grad_log_p(self, lam, eps, g):
        d = self.dim
        return np.concatenate([g, g * eps[:d] * np.exp(lam[d:2 * d]), np.outer(g, eps[d:])
                               .ravel()])

    def grad_entropy(self, lam):
        d, W, K = self._K(lam)
        WK = np.linalg.solve(K, W.T).T                    # W K^-1 (K symmetric)
        return np.concatenate([np.zeros(self.dim), 1.0 - np.sum(WK * W, axis=1),
                               (WK / d[:, None]).ravel()])

    def grad_elbo(self, lam, eps, g):
        return self.grad_log_p(lam, eps, g) + self.grad_entropy(lam)


def default_rank(dim):
    """r = 2 (1 for D = 2). Measured (stochastic volatility, D = 503, by deterministic ADVI
    with the re-whitening rounds of `whiten.lowrank_rounds`): rank 1, 2, 3, 5 gave 0.24,
    0.16, 0.15, 0.32 sd of error in 70, 42, 31, 41 s; above rank 4 the fixed-draw optimum
    had collapsed columns (no linear response; seeds, D = 26, rank 5 and 6). NumPyro's
    round(sqrt(D)) would be 22 there."""
    return max(1, min(2, dim - 1))


FAMILIES = {"meanfield": Meanfield, "fullrank": Fullrank, "lowrank": LowRank}


def family(name, dim, rank=None):
    """The family called `name` ("meanfield", "fullrank" or "lowrank", of `rank`: default
    `default_rank(dim)`) over D = dim parameters."""
    if name not in FAMILIES:
        raise ValueError(f"family must be one of {sorted(FAMILIES)}, got {name!r}")
    if name == "lowrank":
        r = default_rank(dim) if rank is None else rank
        if dim < 2 or not 1 <= r < dim:
            raise ValueError(f"family='lowrank' needs a rank from 1 to D - 1 = {dim - 1} (the "
                             f"model's D = {dim} parameters), got rank={r}; "
                             + ("use 'meanfield'" if dim < 2 else "family='fullrank' is the "
                                "full covariance"))
        return LowRank(dim, r)
    return FAMILIES[name](dim)
