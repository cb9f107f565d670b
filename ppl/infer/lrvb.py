"""Linear-response covariances (LRVB: Giordano, Broderick, Jordan, "Covariances, robustness and
variational Bayes", JMLR 2018; section 3 of Giordano, Ingram, Broderick, JMLR 2024).

At the optimum eta_hat of a variational objective F (the fixed-draw ELBO of `ppl.infer.dadvi`),
the posterior covariance of E_q[f] is estimated by the sensitivity of the optimum:

    Cov_LR(f) = (d E_q[f] / d eta)^T (-H)^-1 (d E_q[f] / d eta),   H = Hess F(eta_hat).

For the means themselves (f = zeta, E_q[zeta] = mu, d E / d eta = [I, 0]) that is the mu-mu
block of (-H)^-1: column i solves (-H) x = e_i. Meanfield q then recovers the correlations it
cannot represent (exact for a Gaussian target). For a small problem (at most `DENSE_MAX` means)
-H is formed and solved densely; above, each column comes from conjugate gradients on
Hessian-vector products only (H is never formed). `sandwich_cov` is the optimum's own Monte
Carlo error under the fixed draws (the sandwich H^-1 V H^-1 / K).

    >>> import numpy as np
    >>> H = -np.array([[2.0, 1.0, 0.0], [1.0, 2.0, 0.0], [0.0, 0.0, 5.0]])
    >>> np.round(lrvb_cov(lambda v: H @ v, 3, [0, 1]).cov, 4).tolist()
    [[0.6667, -0.3333], [-0.3333, 0.6667]]
"""
from dataclasses import dataclass

import numpy as np

__all__ = ["LRVB", "lrvb_cov", "cg_solve", "sandwich_cov", "DENSE_MAX"]

DENSE_MAX = 50      # at most this many means: a dense solve; above: conjugate gradients


@dataclass(frozen=True, repr=False)
class LRVB:
    """cov: (k, k) the mu-mu block of (-H)^-1 for the k requested indices; method: "dense"
    or "cg"; iterations: total CG iterations (0 for dense)."""
    cov: np.ndarray
    method: str
    iterations: int = 0

    @property
    def sd(self):
        """sqrt of cov's diagonal."""
        return np.sqrt(np.diag(self.cov))

    def __repr__(self):
        return f"LRVB({self.cov.shape[0]} means, {self.method}, {self.iterations} CG steps)"


def lrvb_cov(hessp, size, idx, method="auto", rtol=1e-10, maxiter=None):
    """The mu-mu block of (-H)^-1, [(-H)^-1]_{idx, idx}, from v -> H v (`hessp`, H of size
    (size, size), symmetric, negative definite at a maximum).

    method: "dense" (form H by `size` products, solve), "cg" (one conjugate-gradient solve
    per index), or "auto" (dense when len(idx) <= DENSE_MAX). Raises ValueError when -H is
    not positive definite (the optimum is not a strict maximum: no linear response).
    """
    idx = np.asarray(idx, dtype=int)
    if idx.ndim != 1 or idx.size == 0 or idx.min() < 0 or idx.max() >= size:
        raise ValueError(f"lrvb_cov: idx must be a non-empty list of indices below size="
                         f"{size}, got {idx!r}")
    if method not in ("auto", "dense", "cg"):
        raise ValueError(f"lrvb_cov: method must be 'auto', 'dense' or 'cg', got {method!r}")
    if method == "auto":
        method = "dense" if idx.size <= DENSE_MAX else "cg"
    if method == "dense":
        negH = -np.column_stack([hessp(e) for e in np.eye(size)])
        negH = 0.5 * (negH + negH.T)
        try:
            c = np.linalg.cholesky(negH)
        except np.linalg.LinAlgError:
            raise ValueError("lrvb_cov: -H is not positive definite: the variational optimum "
                             "is not a strict maximum") from None
        E = np.zeros((size, idx.size))
        E[idx, np.arange(idx.size)] = 1.0
        X = np.linalg.solve(c.T, np.linalg.solve(c, E))
        cov = X[idx]
        return LRVB(0.5 * (cov + cov.T), "dense")
    return _cg_cov(hessp, size, idx, rtol, maxiter)


def cg_solve(hessp, b, rtol=1e-10, maxiter=None):
    """x = (-H)^-1 b by conjugate gradients on v -> H v, checking the curvature
    p^T (-H) p > 0 at every step; returns (x, iterations). Raises ValueError when -H is not
    positive definite along the way or CG does not converge in `maxiter` (default 10 size)."""
    b = np.asarray(b, dtype=float)
    maxiter = 10 * b.size if maxiter is None else int(maxiter)
    x, r = np.zeros_like(b), b.copy()
    p, rr = r.copy(), float(r @ r)
    tol = rtol * max(np.sqrt(rr), 1e-300)
    for it in range(1, maxiter + 1):
        if np.sqrt(rr) <= tol:
            return x, it - 1
        Ap = -hessp(p)
        curv = float(p @ Ap)
        if not curv > 0:
            raise ValueError("lrvb_cov: -H is not positive definite (conjugate gradients met "
                             f"curvature {curv:.3g}): the optimum is not a strict maximum")
        a = rr / curv
        x += a * p
        r -= a * Ap
        rr_new = float(r @ r)
        p = r + (rr_new / rr) * p
        rr = rr_new
    if np.sqrt(rr) <= tol:
        return x, maxiter
    raise ValueError(f"lrvb_cov: conjugate gradients did not converge in {maxiter} steps "
                     f"(relative residual {np.sqrt(rr) / max(tol / rtol, 1e-300):.3g})")


def _cg_cov(hessp, size, idx, rtol, maxiter):
    """Columns i in idx of (-H)^-1 by `cg_solve`."""
    cols, total = [], 0
    for i in idx:
        b = np.zeros(size)
        b[i] = 1.0
        x, n = cg_solve(hessp, b, rtol, maxiter)
        total += n
        cols.append(x[idx])
    cov = np.column_stack(cols)
    return LRVB(0.5 * (cov + cov.T), "cg", total)


def sandwich_cov(obj, eta, H=None, solve=None, idx=None):
    """Cov(eta_hat) ~= H^-1 V H^-1 / K (K antithetic pairs; V the covariance of their
    gradients): the matrix over q's parameters, or its idx x idx block. H^-1 from the dense H,
    else from `solve(b)` = H^-1 b (e.g. conjugate gradients on Hessian-vector products).
    Point parameters (learned centredness) are held at their values: the error is q's within
    the family they choose, and solve and H are over q's parameters alone (H may hold them)."""
    n = obj.size - obj.P
    G = obj.unit_grads(eta)[:, :n]
    H = None if H is None else H[:n, :n]
    K = len(G)
    Gc = G - G.mean(axis=0)
    if solve is None:
        X = np.linalg.solve(H, Gc.T)            # (size, K)
    else:
        X = np.column_stack([solve(g) for g in Gc])
    if idx is not None:
        X = X[idx]
    return X @ X.T / ((K - 1) * K)
