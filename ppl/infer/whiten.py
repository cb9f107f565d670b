"""Deterministic ADVI's whitening, zeta = c + A u: at the mode, and for the low-rank family
re-made from the fit itself.

At the mode (`at_mode`): meanfield and lowrank A = diag(1 / sqrt(-H_ii)), fullrank
A = chol((-H)^-1); no mode: A = I from the best initial point.

Low-rank rounds (`lowrank_rounds`). q = N(m, diag(d)^2 + B B^T) in u can only widen the
diagonal along r directions; where the posterior is narrower than the diagonal along many
directions at once (stochastic volatility's non-centred h_std: its data fix ~30 slow
components of the log volatility path) no r-dimensional B reaches it, and phi came out 1.3 sd
off at every rank tried. A Gaussian optimum of the ELBO satisfies Sigma^-1 = E_q[-grad^2 log p]
(Opper and Archambeau, "The variational Gaussian approximation revisited", Neural Computation
2009), so each round sets

    A <- A chol(Hbar^-1),  Hbar = -(1/K) sum_k grad_u^2 log p(u_k)  (the fit's first K draws),

re-centres at the fit's mean and refits the low-rank q in the new u; q's covariance in zeta is
A (diag(d)^2 + B B^T) A^T. All rounds use the same draws, so their ELBOs compare, paired draw
by draw: a round is kept only when its gain exceeds twice its standard error over the
antithetic pairs (a dense whitening can fit the draws rather than the posterior: eight schools
at seed 0 went from "good" to "miss" on a gain within the noise). The rounds stop at a round
not kept, at one that gains under `tol` nats, when Hbar is not positive definite, or after
`rounds`. Each round costs K D Hessian-vector products and one refit; it is run up to
D = `MAX_D` (the dense D x D whitening).

    >>> import numpy as np
    >>> from ppl.infer.dadvi import fixed_draw_fit
    >>> P = 0.1 * np.eye(3) + 3.9             # narrow along (1, 1, 1): not diag + B B^T
    >>> log_p = lambda u: -0.5 * u @ (P @ u)
    >>> fit = fixed_draw_fit(log_p, np.zeros(3), np.ones(3), "lowrank", draws=200, seed=0,
    ...                      rank=1)
    >>> new, rounds = lowrank_rounds(fit, log_p)
    >>> v = np.ones(3) / np.sqrt(3)   # q's sd along v before and after; the exact 1 / sqrt(v P v)
    >>> sd = [float(np.sqrt(v @ f.L @ f.L.T @ v)) for f in (fit, new)] + [1 / np.sqrt(v @ P @ v)]
    >>> np.round(sd, 2).tolist()
    [0.44, 0.29, 0.29]
"""
import math

import numpy as np

import autodiff as ad

from .dadvi import fixed_draw_fit

__all__ = ["at_mode", "expected_hessian", "lowrank_rounds", "MAX_D"]

MAX_D = 1000        # the dense whitening: D^2 floats, a D^3 Cholesky, K D products a round
_CHUNK = 32         # Hessian-vector products per draw in one batched pass
_SE = 2.0           # a round is kept when its ELBO gain exceeds this many standard errors


def at_mode(st, family, D):
    """(centre, A, note) from the start `st` (`start.model_start`)."""
    if st.ok:
        if family != "fullrank":    # lowrank too: a dense whitening at a mode far from the
            #                         mass (stochastic volatility's, phi 0.57) left it 17 sd
            #                         off; `lowrank_rounds` whitens it from q instead
            return st.mode, st.scales, "at the mode, by 1 / sqrt(-H_ii)"
        C = np.linalg.inv(-st.hessian)
        return st.mode, np.linalg.cholesky(0.5 * (C + C.T)), "at the mode, by chol((-H)^-1)"
    centre = st.initial if st.initial is not None else st.mode
    return centre, np.ones(D), f"none: {st.status} ({st.message}); from the best initial point"


def expected_hessian(obj, eta, draws=16):
    """Hbar = -(1/K) sum_k grad_u^2 log p over q's fixed draws, in the objective's u (the q
    block, point parameters held): (D, D), symmetric. From the per-draw Hessians at all M
    draws where the objective forms them (D + P <= 100), else from K D batched
    Hessian-vector products at the first K = min(draws, M)."""
    D = obj.D
    if obj.dense:
        H = obj._at(eta, order=2)[2][:, :D, :D].mean(axis=0)
        return -0.5 * (H + H.T)
    K = min(int(draws), obj.M)
    obj._at(eta)                            # is the batched program valid here
    Z = obj._to_zeta(obj.points(eta))[:K]
    width = Z.shape[1]
    H = np.zeros((D, D))
    for j0 in range(0, D, _CHUNK):
        cols = np.arange(j0, min(D, j0 + _CHUNK))
        T = np.zeros((cols.size, width))
        T[np.arange(cols.size), cols] = 1.0
        HV = obj._second(np.repeat(Z, cols.size, axis=0), np.tile(obj._push(T), (K, 1)))
        H[:, cols] = obj._pull(HV)[:, :D].reshape(K, cols.size, D).mean(axis=0).T
    return -0.5 * (H + H.T)


def _gain_se(old, new):
    """The standard error of new.elbo - old.elbo over the fixed draws' antithetic pairs (the
    independent units): the entropies are exact, the log p terms paired draw by draw."""
    d = new.objective._at(new.eta)[0] - old.objective._at(old.eta)[0]
    pairs = d.reshape(-1, 2).mean(axis=1)
    return float(np.std(pairs, ddof=1) / math.sqrt(pairs.size)) if pairs.size > 1 else 0.0


def lowrank_rounds(fit, log_p, rounds=10, tol=0.02, draws=16, **kw):
    """(the best fit, the number of rounds that improved it): `fixed_draw_fit` of the low-rank
    family re-whitened by the expected Hessian under q (module docstring); kw: passed to
    `fixed_draw_fit` (gtol, maxiter, callback). Point parameters (learned centredness) stay
    at fit.point: a refit that moved them took radon_centered 163 Newton steps, for a lower
    ELBO; an improved fit's objective is then over q alone (its log p has them bound), its
    `point` fit.point. A round interrupted by Ctrl-C returns the better of the two fits with
    info["interrupted"]."""
    done, point = 0, fit.point
    obj = fit.objective
    D, r = obj.D, obj.r
    q_log_p = log_p if not point.size else (lambda z: log_p(ad.concatenate([z, point])))
    for _ in range(rounds):
        try:
            Hu = expected_hessian(obj, fit.eta, draws)
            Li = np.linalg.inv(np.linalg.cholesky(Hu))       # Hbar^-1 = Li^T Li
            C = Li.T @ Li
            Au = np.linalg.cholesky(0.5 * (C + C.T))
        except np.linalg.LinAlgError:       # Hbar not positive definite: keep this whitening
            break
        except KeyboardInterrupt:
            fit.info["interrupted"] = True
            return fit, done
        if not np.all(np.isfinite(Au)):
            break
        A = obj.A[:D, None] * Au if obj.A.ndim == 1 else obj.A[:D, :D] @ Au
        new = fixed_draw_fit(q_log_p, fit.mu, A, "lowrank", eps=obj.eps, rank=r,
                             program=obj.program if obj.P == 0 else None, **kw)
        new.point = point
        gain = new.elbo - fit.elbo
        if new.info.get("interrupted"):
            best = new if gain > 0 else fit
            best.info["interrupted"] = True
            return best, done + (gain > 0)
        if not (math.isfinite(gain) and gain > _SE * _gain_se(fit, new)):
            break
        fit, obj, done = new, new.objective, done + 1
        if gain < tol:
            break
    return fit, done
