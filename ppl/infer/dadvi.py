"""Deterministic ADVI (Giordano, Ingram, Broderick, "Black Box Variational Inference with a
Deterministic Objective: Faster, More Accurate, and Even More Black Box", JMLR 2024).

Draw eps_1..eps_M ~ N(0, I_D) once, as antithetic pairs (eps, -eps), so the draws' mean is
exactly 0 and a Gaussian target's means come out exact. Work in coordinates u whitened at the
start: zeta = c + A u (A lower-triangular, or diagonal for meanfield, so q stays in its
family). With q(u) = N(m, L L^T), u_m = m + L eps_m, maximise the fixed-draw ELBO

    F(eta) = (1/M) sum_m log p(c + A u_m) + sum(omega) + log|det A| + D/2 (1 + log 2 pi),

eta = (m, omega) for meanfield (L = diag(exp(omega))) and (m, omega, l) for fullrank
(L = diag(exp(omega)) + strictly lower l), with scipy's trust-region Newton-CG on the
engine's gradients and Hessians of log p (forward over reverse) by the chain rule: with
J_m = d u_m / d eta and r_m = grad_u log p at u_m,

    grad F = (1/M) sum_m J_m^T r_m + d entropy / d eta,
    Hess F v = (1/M) sum_m J_m^T H_m J_m v + [0, (1/M) sum_m r_m eps_m exp(omega) v_omega, 0].

It stops on the gradient norm (in whitened units: a fraction of a posterior sd).

Monte Carlo error of the optimum (the sandwich of M-estimation, the paper's section 4):
Cov(eta_hat) ~= H^-1 V H^-1 / K, V the covariance of the per-unit gradients over the K = M / 2
antithetic pairs (the units that are independent): `lrvb.sandwich_cov`.

Two extensions. family="lowrank": L L^T = diag(exp(omega))^2 + B B^T, eta = (m, omega, B's
lower trapezoid), u_m = m + exp(omega) e1_m + B e2_m from D + r normals, the entropy
H[q] = D/2 (1 + log 2 pi) + sum(omega) + log|det(I + W^T W)| / 2 (W = B / exp(omega) by rows;
its Hessian by the engine). Point parameters (`points`): the last P coordinates of log p's
argument, the same at every draw and without entropy (learned centredness, `ppl.centring`),
maximised jointly with q.

    >>> import numpy as np, autodiff as ad
    >>> P = np.array([[2.0, 1.9], [1.9, 2.0]])
    >>> fit = fixed_draw_fit(lambda u: -0.5 * u @ (P @ u), np.zeros(2), family="meanfield")
    >>> np.round(fit.mu, 9).tolist(), bool(fit.converged)
    ([0.0, 0.0], True)
"""
import math
from dataclasses import dataclass, field

import numpy as np

import autodiff as ad

from .draws import _batch, _batch_second, _nan_rows, antithetic, evaluate_draws, record
from .families import default_rank, family as make_family

__all__ = ["FixedDrawELBO", "FixedDrawFit", "fixed_draw_fit",
           "gaussian_start"]

_LOG_2PI_E = 1.0 + math.log(2.0 * math.pi)
_DENSE_D = 100       # up to this D, per-draw Hessians are formed (one batched forward-over-
#                      reverse pass per eta) once Hessian-vector products at that eta have been
#                      asked for D // 2 times (a Hessian costs D / 8 to D of them: measured 3x
#                      at D = 26 (seeds), 8x at 21 (linear_regression), 110x at 89 (radon);
#                      radon meanfield 3.0 s -> 0.87 s, the small models within 10%; below
#                      D = 8, and for fullrank, at once); above, Hessian-vector products
#                      always


class FixedDrawELBO:
    """F(eta) of the module docstring for a log density in whitened coordinates.

    log_p: engine-differentiable zeta -> scalar; eps: (M, D) fixed draws; family: "meanfield"
    or "fullrank"; centre c: (D,); A: (D,) (diagonal) or (D, D) lower-triangular whitening;
    batched: values and derivatives at the M draws by batched passes of log p's compiled
    program: `program` if given, else recorded at the centre (`record`), where it can be.
    Methods take eta as a flat vector: value_and_grad(eta), hessp(eta, v), unit_grads(eta).
    """

    def __init__(self, log_p, eps, family, centre, A, batched=True, program=None, points=0,
                 rank=0):
        self.log_p, self.eps, self.family = log_p, np.asarray(eps, float), family
        self.r = int(rank) if family == "lowrank" else 0
        self.M, self.D = self.eps.shape[0], self.eps.shape[1] - self.r
        self.e1, self.e2 = self.eps[:, :self.D], self.eps[:, self.D:]
        self.P = P = int(points)
        self.c, A = np.asarray(centre, float), np.asarray(A, float)
        diag = A if A.ndim == 1 else np.diag(A)
        self.log_det_A = float(np.sum(np.log(np.abs(diag))))
        if P:                       # the point coordinates: zeta = c + u, unwhitened
            A = np.concatenate([A, np.ones(P)]) if A.ndim == 1 else \
                np.block([[A, np.zeros((self.D, P))], [np.zeros((P, self.D)), np.eye(P)]])
        self.A = A
        self.rows, self.cols = np.tril_indices(self.D, -1)
        # the third block of eta: fullrank's strictly lower l, or lowrank's B (D, r) with
        # B_ij = 0 for j > i (its lower trapezoid: B and B Q for orthogonal Q give the same q,
        # so without it F's Hessian is singular and LRVB fails)
        self.brows, self.bcols = np.tril_indices(self.D, 0, self.r)
        self.nl = self.rows.size if family == "fullrank" else self.brows.size
        self._lowrank = make_family("lowrank", self.D, self.r) if self.r else None
        # eta's entries in `families.LowRank`'s layout [mu, omega, B by rows]
        self._keep = np.concatenate([np.arange(2 * self.D),
                                     2 * self.D + self.brows * self.r + self.bcols])
        self.size = 2 * self.D + self.nl + P
        self.dense = self.D + P <= _DENSE_D
        # fullrank (D <= 50): CG over its D (D + 3) / 2 parameters asks for many products
        self._switch = self.D // 2 if self.D >= 8 and family != "fullrank" else 0
        self._hvps_here = 0
        self._key, self._cache, self.evaluations, self._second_ok = None, None, 0, None
        self._batched_here = False
        if program is None and batched:
            program = record(log_p, self.c)
        self.program = program if batched else None

    # ---- the map eta -> u_m and its Jacobian --------------------------------------------------
    def factor(self, eta):
        """lowrank's B (D, r), zero above its diagonal."""
        B = np.zeros((self.D, self.r))
        B[self.brows, self.bcols] = eta[2 * self.D:2 * self.D + self.nl]
        return B

    def _full(self, eta):
        """[mu, omega, B by rows]: `families.LowRank`'s lam."""
        return np.concatenate([eta[:2 * self.D], self.factor(eta).ravel()])


    def scale_tril(self, eta):
        """L (D, D) of q in u (lowrank: the Cholesky factor of its covariance)."""
        D = self.D
        if self.r:
            B = self.factor(eta)
            return np.linalg.cholesky(np.diag(np.exp(2 * eta[D:2 * D])) + B @ B.T)
        L = np.diag(np.exp(eta[D:2 * D]))
        if self.family == "fullrank":
            L[self.rows, self.cols] = eta[2 * D:2 * D + self.nl]
        return L

    def _with_point(self, U, p):
        """(M, D) rows, each followed by the P point coordinates p."""
        return U if not self.P else np.concatenate([U, np.broadcast_to(p, (self.M, self.P))],
                                                   axis=1)

    def points(self, eta):
        """u_m = m + L eps_m, (M, D) (then the point coordinates: (M, D + P))."""
        D = self.D
        if self.family == "fullrank":
            U = eta[:D] + self.eps @ self.scale_tril(eta).T
        else:
            U = eta[:D] + np.exp(eta[D:2 * D]) * self.e1
            if self.r:
                U = U + self.e2 @ self.factor(eta).T
        return self._with_point(U, eta[self.size - self.P:])

    def _to_zeta(self, U):
        return self.c + (U * self.A if self.A.ndim == 1 else U @ self.A.T)

    def _pull(self, G):
        """A^T applied to each row of G (zeta-space gradients -> u-space)."""
        return G * self.A if self.A.ndim == 1 else G @ self.A

    def _push(self, V):
        return V * self.A if self.A.ndim == 1 else V @ self.A.T

    def _jvp(self, eta, v):
        """J_m v for every m: (M, D + P)."""
        D = self.D
        out = v[:D] + np.exp(eta[D:2 * D]) * v[D:2 * D] * self.e1
        if self.family == "fullrank":
            T = np.zeros((D, D))
            T[self.rows, self.cols] = v[2 * D:2 * D + self.nl]
            out = out + self.eps @ T.T
        elif self.r:
            out = out + self.e2 @ self.factor(v).T
        return self._with_point(out, v[self.size - self.P:])

    def _vjp_mean(self, eta, R):
        """(1/M) sum_m J_m^T r_m: (size,), without the (M, size) array of `_vjp`."""
        D = self.D
        R, Rp = R[:, :D], R[:, D:]
        parts = [R.mean(axis=0), (R * self.e1).mean(axis=0) * np.exp(eta[D:2 * D])]
        if self.family == "fullrank":
            parts.append((R.T @ self.eps)[self.rows, self.cols] / self.M)
        elif self.r:
            parts.append((R.T @ self.e2)[self.brows, self.bcols] / self.M)
        return np.concatenate(parts + [Rp.mean(axis=0)])

    def _vjp(self, eta, R):
        """J_m^T r_m for every m: (M, size)."""
        D = self.D
        R, Rp = R[:, :D], R[:, D:]
        parts = [R, R * self.e1 * np.exp(eta[D:2 * D])]
        if self.family == "fullrank":
            parts.append(R[:, self.rows] * self.eps[:, self.cols])
        elif self.r:
            parts.append(R[:, self.brows] * self.e2[:, self.bcols])
        return np.concatenate(parts + [Rp], axis=1)

    # ---- the objective ------------------------------------------------------------------------
    def _at(self, eta, order=1):
        """(values, u-gradients[, u-Hessians]) of log p at the draws, cached per eta: the
        Hessians are added (not the values recomputed) when first asked for at this eta."""
        key = eta.tobytes()
        if self._key != key:
            self.evaluations += 1
            Z = self._to_zeta(self.points(eta))
            done = _batch(self.program, Z) if self.program is not None else None
            if done is None:            # no program, or it disagrees with log p here
                vals, G = evaluate_draws(self.log_p, Z)
            else:
                vals, G = done
                vals[~(np.isfinite(vals) & np.all(np.isfinite(G), axis=1))] = -math.inf
            self._cache, self._key, self._hvps_here = (vals, self._pull(G)), key, 0
            self._batched_here = done is not None
        if order == 2 and len(self._cache) < 3:
            H = self._second(self._to_zeta(self.points(eta)), None)
            if self.A.ndim == 1:
                H = H * self.A[None, :, None] * self.A[None, None, :]
            else:
                H = self.A.T @ H @ self.A
            self._cache = self._cache + (H,)
        return self._cache

    def _second(self, Z, tangents):
        """Hessians (tangents None) or HVPs of log p at the rows of Z (zeta), rows with a
        non-finite entry NaN: by the program's batched pass where its values and gradients
        agreed with log p at this eta's first draw (checked at each eta), its second
        derivatives compared with a fresh run once (the derivative of the same recorded
        gradient: a frozen branch shows in the gradient first); else by the loop of
        `evaluate_draws`."""
        if self.program is not None and self._batched_here and self._second_ok is not False:
            out = _batch_second(self.program, self.log_p, Z, tangents,
                                check=self._second_ok is None)
            if out is not None:
                self._second_ok = True
                return _nan_rows(out)
            self._second_ok = False
        return evaluate_draws(self.log_p, Z, 2, tangents=tangents, first=False)[2]

    def entropy(self, eta):
        """H[q] in zeta = D/2 (1 + log 2 pi) + sum(omega) + log|det A| (lowrank: plus
        log|det K| / 2, `families.LowRank`)."""
        if self.r:
            return self._lowrank.entropy(self._full(eta)) + self.log_det_A
        return 0.5 * self.D * _LOG_2PI_E + float(np.sum(eta[self.D:2 * self.D])) + \
            self.log_det_A

    def _entropy_grad(self, eta):
        g = np.zeros(self.size)
        if self.r:
            g[:self.size - self.P] = self._lowrank.grad_entropy(self._full(eta))[self._keep]
        else:
            g[self.D:2 * self.D] = 1.0
        return g

    def _entropy_hvp(self, eta, v):
        """Hess H[q] v: 0 but for lowrank (the engine's forward-over-reverse on log|det K|)."""
        out = np.zeros(self.size)
        if self.r:
            out[:self.size - self.P] = np.asarray(
                ad.hvp(self._log_det_K, self._full(eta), self._full(v)), dtype=float)[self._keep]
        return out

    def _log_det_K(self, lam):
        """log|det K| / 2 with K = I_r + W^T W, W = B / exp(omega) by rows (engine ops)."""
        D, r = self.D, self.r
        W = lam[2 * D:].reshape((D, r)) / ad.exp(lam[D:2 * D])[:, None]
        return 0.5 * ad.logdet(np.eye(r) + W.T @ W)

    def value_and_grad(self, eta):
        """(F, grad F); F = -inf (and a NaN gradient) if any draw's density is not finite."""
        vals, G = self._at(eta)[:2]
        if not np.all(np.isfinite(vals)):
            return -math.inf, np.full(self.size, np.nan)
        g = self._vjp_mean(eta, G) + self._entropy_grad(eta)
        return float(vals.mean()) + self.entropy(eta), g

    def hessp(self, eta, v):
        """Hess F(eta) v, by the chain rule on the per-draw Hessians (or HVPs) of log p."""
        D = self.D
        Jv = self._jvp(eta, v)
        _, G = self._at(eta)[:2]
        if self.dense and (len(self._cache) == 3 or self._hvps_here >= self._switch):
            _, G, H = self._at(eta, order=2)
            HJv = np.matmul(H, Jv[:, :, None])[:, :, 0]
        else:
            self._hvps_here += 1
            HJv = self._pull(self._second(self._to_zeta(self.points(eta)), self._push(Jv)))
        hv = self._vjp_mean(eta, HJv)
        hv[D:2 * D] += (G[:, :D] * self.e1).mean(axis=0) * np.exp(eta[D:2 * D]) * v[D:2 * D]
        return hv + self._entropy_hvp(eta, v) if self.r else hv

    def jacobian(self, eta):
        """J_m = d u_m / d eta for every draw, (M, D + P, size): the mean block I, the
        log-scale block exp(omega_i) eps_mi on the diagonal, (fullrank) e_i eps_mj for l_ij,
        and I for the point coordinates."""
        M, D, P = self.M, self.D, self.P
        J = np.zeros((M, D + P, self.size))
        J[:, np.arange(D), np.arange(D)] = 1.0
        J[:, np.arange(D), D + np.arange(D)] = np.exp(eta[D:2 * D]) * self.e1
        if self.family == "fullrank":
            J[:, self.rows, 2 * D + np.arange(self.nl)] = self.eps[:, self.cols]
        elif self.r:
            J[:, self.brows, 2 * D + np.arange(self.nl)] = self.e2[:, self.bcols]
        J[:, D + np.arange(P), self.size - P + np.arange(P)] = 1.0
        return J

    def hessian(self, eta):
        """The dense (size, size) Hessian of F: with the per-draw Hessians H_m (D <= 100),
        (1/M) sum_m J_m^T H_m J_m plus the log-scale diagonal (one matrix product over all
        draws); otherwise one `hessp` per column."""
        if not self.dense:
            H = np.column_stack([self.hessp(eta, e) for e in np.eye(self.size)])
            return 0.5 * (H + H.T)
        D = self.D
        _, G, Hm = self._at(eta, order=2)
        J = self.jacobian(eta)
        HJ = np.matmul(Hm, J)                                    # (M, D, size)
        H = J.reshape(-1, self.size).T @ HJ.reshape(-1, self.size) / self.M
        idx = D + np.arange(D)
        H[idx, idx] += (G[:, :D] * self.e1).mean(axis=0) * np.exp(eta[D:2 * D])
        if self.r:
            n, keep = self.size - self.P, self._keep
            H[:n, :n] += np.asarray(ad.hessian(self._log_det_K)(self._full(eta)),
                                    dtype=float)[np.ix_(keep, keep)]
        return 0.5 * (H + H.T)

    def unit_grads(self, eta):
        """(K, size) gradients of F per independent unit: the antithetic pairs' means."""
        _, G = self._at(eta)[:2]
        per = self._vjp(eta, G) + self._entropy_grad(eta)
        return per.reshape(self.M // 2, 2, -1).mean(axis=1)


def gaussian_start(eps, family):
    """eta where F is maximal for the standard normal target in u (log p = -u^T u / 2): m = 0
    and L S L^T = I for the draws' second moment S = eps^T eps / M, that is L = chol(S)^-1
    (fullrank) or L_ii = S_ii^(-1/2) (meanfield). With the whitening at the mode this is the
    Laplace approximation corrected for the fixed draws: F's optimum itself where the
    posterior is that Gaussian. eps that span too few directions for chol: unit scales."""
    M, D = eps.shape
    S = eps.T @ eps / M
    if family == "meanfield":
        return np.concatenate([np.zeros(D), -0.5 * np.log(np.diag(S))])
    try:
        L = np.linalg.inv(np.linalg.cholesky(S))
    except np.linalg.LinAlgError:
        return np.zeros(2 * D + D * (D - 1) // 2)
    rows, cols = np.tril_indices(D, -1)
    return np.concatenate([np.zeros(D), np.log(np.diag(L)), L[rows, cols]])


@dataclass(repr=False)
class FixedDrawFit:
    """What `fixed_draw_fit` found. mu (D,), L (D, D) of q in zeta; eta the optimum in the
    whitened coordinates; objective: the FixedDrawELBO; elbo: F(eta); converged, message,
    iterations (trust-region steps), grad_norm (max |grad F| at the end, whitened units),
    point: the point parameters (`fixed_draw_fit`'s points; empty when none)."""
    mu: np.ndarray
    L: np.ndarray
    eta: np.ndarray
    objective: FixedDrawELBO
    elbo: float
    converged: bool
    message: str
    iterations: int
    grad_norm: float
    info: dict = field(default_factory=dict)
    point: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def __repr__(self):
        return (f"FixedDrawFit({self.objective.family}, D={self.objective.D}, "
                f"M={self.objective.M}, ELBO {self.elbo:.6g}, converged={self.converged})")


def fixed_draw_fit(log_p, centre, A=None, family="meanfield", draws=30, seed=None, eps=None,
                   eta0=None, gtol=1e-6, maxiter=200, batched=True, program=None,
                   callback=None, points=0, rank=None):
    """Maximise the fixed-draw ELBO F (module docstring) with scipy's trust-ncg.

    log_p: engine-differentiable zeta -> scalar (D,); centre: (D,) start (the mode); A: (D,)
    or (D, D) lower-triangular whitening, zeta = centre + A u (default identity); draws: M,
    even (antithetic pairs) unless `eps` (M, D) is given; eta0: a start in whitened
    coordinates (default u-mean 0, unit scales); batched, program: see `FixedDrawELBO`
    (program: log p compiled by `record` or `ad.compile_value_and_grad`); callback(eta):
    called after each trust-region step. Ctrl-C returns the highest-F point so far, not
    converged (`info["interrupted"]`). points: the last P coordinates of log p's argument
    are point parameters maximised jointly with q (the same value at every draw, no entropy:
    learned centredness), starting at centre's last P. family="lowrank": q's covariance in u
    is diag(exp(omega))^2 + B B^T with B of `rank` columns (default 2), its
    draws D + rank normals each, B starting small (`families.LowRank.init`). Returns a
    FixedDrawFit.
    """
    import scipy.optimize  # noqa: PLC0415 -- here, not at import: `wengert fit` starts fast
    if family not in ("meanfield", "fullrank", "lowrank"):
        raise ValueError(f"family must be 'meanfield', 'fullrank' or 'lowrank', got {family!r}")
    centre = np.asarray(centre, dtype=float)
    P = int(points)
    D = centre.size - P
    r = (default_rank(D) if rank is None else int(rank)) if family == "lowrank" else 0
    A = np.ones(D) if A is None else np.asarray(A, dtype=float)
    if family == "meanfield" and A.ndim != 1:
        raise ValueError("meanfield needs a diagonal whitening A of shape (D,)")
    if eps is None:
        eps = antithetic(np.random.default_rng(seed), int(draws), D + r)
    obj = FixedDrawELBO(log_p, eps, family, centre, A, batched, program, points=P, rank=r)
    if eta0 is None:
        start = gaussian_start(obj.e1, "meanfield" if r else family)
        B0 = make_family("lowrank", D, r).init(np.zeros(D))[2 * D:].reshape(D, r)[
            obj.brows, obj.bcols] if r else np.zeros(0)
        eta0 = np.concatenate([start, B0, np.zeros(P)])
    f0 = obj.value_and_grad(eta0)[0]
    if not math.isfinite(f0):
        raise ValueError("dadvi: the log density is not finite at some of the fixed draws "
                         "around the start; the start is outside the posterior's mass")

    best = {"f": f0, "eta": np.array(eta0, dtype=float), "steps": 0}

    def neg(eta):
        v, g = obj.value_and_grad(eta)
        if not math.isfinite(v):
            return math.inf, np.zeros_like(eta)
        if v > best["f"]:
            best["f"], best["eta"] = v, np.array(eta, dtype=float)
        return -v, -g

    def step(eta):
        best["steps"] += 1
        if callback is not None:
            callback(eta)

    info = {}
    try:
        res = scipy.optimize.minimize(neg, eta0, jac=True,
                                      hessp=lambda e, v: -obj.hessp(e, v), callback=step,
                                      method="trust-ncg", options={"gtol": gtol,
                                                                   "maxiter": maxiter})
        eta, message, steps = np.asarray(res.x, dtype=float), str(res.message), int(res.nit)
    except KeyboardInterrupt:
        eta, steps, res = best["eta"], best["steps"], None
        message = f"interrupted (Ctrl-C) after {steps} steps; the highest F so far"
        info["interrupted"] = True
    elbo, g = obj.value_and_grad(eta)
    gnorm = float(np.max(np.abs(g)))
    # trust-ncg also stops when rounding leaves no predicted improvement: converged if close
    converged = res is not None and (bool(res.success) or gnorm < 1e3 * gtol)
    Lu = obj.scale_tril(eta)
    mu = centre[:D] + (A * eta[:D] if A.ndim == 1 else A @ eta[:D])
    L = A[:, None] * Lu if A.ndim == 1 else A @ Lu
    info["evaluations"] = obj.evaluations
    return FixedDrawFit(mu, L, eta, obj, elbo, converged, message, steps, gnorm, info,
                        point=centre[D:] + eta[obj.size - P:])
