"""The mode of the unconstrained log density and its Hessian: the one routine behind
`map_estimate`, `laplace` and ADVI's whitening.

    z* = argmax_z log p(x, T(z)) [+ log|det J_T(z)|],   H = d^2/dz^2 log p(x, T(z)) + ... at z*

found by scipy's L-BFGS-B on the engine's value and gradient (`method="lbfgs"`, precise, as
Stan's `optimize`) or by Newton's method on the engine's Hessian (`method="newton"`, a rough
mode in few steps, enough for a whitening); H comes from the engine (forward over reverse).
"""
import math
from dataclasses import dataclass
from typing import Optional

import numpy as np

import autodiff as ad

from ..distributions.base import validation_enabled

__all__ = ["Mode", "find_mode", "hessian", "whitening", "log_density_and_grad"]

_FTOL = 1e3 * np.finfo(float).eps  # stop on relative decrease only at rounding level (as Stan)


@dataclass(frozen=True, eq=False)
class Mode:
    """z: (D,) the optimum; log_density there; hessian: (D, D) of the log density there (None
    unless asked); converged and message from the optimiser; iterations (-1: the optimiser
    failed outright); grad_norm: max_i
    |d log_density / d z_i| at z; nonfinite: evaluations that met a non-finite value."""
    z: np.ndarray
    log_density: float
    converged: bool
    message: str
    iterations: int
    grad_norm: float = math.nan
    hessian: Optional[np.ndarray] = None
    nonfinite: int = 0


def _finite(v, g):
    return bool(np.isfinite(v) and np.all(np.isfinite(g)))


def log_density_and_grad(model, jacobian):
    """z -> (log density, its gradient) as a float and a numpy vector, one reverse pass."""
    vg = ad.value_and_grad(lambda z: model.unconstrained_log_density(z, jacobian=jacobian))

    def f(z):
        with np.errstate(all="ignore"):
            v, g = vg(np.asarray(z, dtype=float))
        return float(v), np.asarray(g, dtype=float)
    return f


def hessian(model, z):
    """d^2/dz^2 [log p(x, T(z)) + log|det J_T(z)|] at z (the engine's, forward over reverse)."""
    with np.errstate(all="ignore"), validation_enabled(False):
        return np.asarray(ad.hessian(model.unconstrained_log_density)(z), dtype=float)


def find_mode(model, z0, method="lbfgs", jacobian=True, tol=1e-9, maxiter=1000,
              with_hessian=False):
    """The mode of the unconstrained log density from z0: a `Mode`.

    method "lbfgs": L-BFGS-B with gtol `tol` (its relative-decrease test fires only at
    rounding level); converged also needs max_i |d/dz_i| <= max(tol, 1e-5 max(1, |log p|)) at
    the end, as that test also stops, with a steady gradient, on a density that grows without
    bound (centred eight schools, tau -> 0). A non-finite value met during the line search is
    answered with a finite penalty (the best value so far plus 1e3 (1 + |best|)) and a zero
    gradient, so the search backtracks (L-BFGS-B cannot take inf or NaN).
    method "newton": `autodiff.minimize_newton` with gtol `tol` (jacobian=True only).
    with_hessian: also the Hessian at the optimum (of the density with the Jacobian).
    """
    if method == "newton":
        try:
            with np.errstate(all="ignore"):
                found = ad.minimize_newton(lambda z: -model.unconstrained_log_density(z), z0,
                                           gtol=tol, maxiter=maxiter)
        except ad.NewtonError as e:
            return Mode(np.asarray(z0, dtype=float), math.nan, False,
                        f"Newton's method found no mode ({e})", -1)
        z = np.asarray(found.x, dtype=float)
        message = "" if found.converged else \
            f"Newton's method found no mode in {found.iterations} steps"
        mode = Mode(z, math.nan, bool(found.converged), message, int(found.iterations))
    elif method == "lbfgs":
        mode = _lbfgs(model, z0, jacobian, tol, maxiter)
    else:
        raise ValueError(f"find_mode: method must be 'lbfgs' or 'newton', got {method!r}")
    if not with_hessian or (method == "newton" and mode.iterations < 0):
        return mode
    return Mode(mode.z, mode.log_density, mode.converged, mode.message, mode.iterations,
                mode.grad_norm, hessian(model, mode.z), mode.nonfinite)


def _lbfgs(model, z0, jacobian, tol, maxiter):
    lp = log_density_and_grad(model, jacobian)
    state = {"best": np.inf, "nonfinite": 0}

    def objective(z):
        v, g = lp(z)
        if _finite(v, g):
            state["best"] = min(state["best"], -v)
            return -v, -g
        state["nonfinite"] += 1
        best = state["best"] if np.isfinite(state["best"]) else 0.0
        return best + 1e3 * (1.0 + abs(best)), np.zeros_like(g)

    # off for the search (as ADVI), so that a parameter made invalid by rounding (a scale
    # exp(u) = 0) is a non-finite density, not an error
    with validation_enabled(False):
        import scipy.optimize   # here, not at import: `wengert fit` must start fast
        res = scipy.optimize.minimize(objective, z0, jac=True, method="L-BFGS-B", options={
            "maxiter": int(maxiter), "gtol": tol, "ftol": _FTOL})
        z = np.asarray(res.x, dtype=float)
        v, g = lp(z)
    success, message = bool(res.success), str(res.message)
    grad_norm = float(np.max(np.abs(g)))
    if not _finite(v, g):
        success, message = False, f"non-finite log density or gradient at the end ({message})"
    elif success and grad_norm > max(tol, 1e-5 * max(1.0, abs(v))):
        success, message = False, (f"{message}, but the gradient is still {grad_norm:.3g} "
                                   "(the density may have no mode: unbounded, e.g. a scale "
                                   "going to 0)")
    return Mode(z, v, success, message, int(res.nit), grad_norm, None, state["nonfinite"])


def whitening(model, z0, family):
    """Coordinates zeta = z_hat + C u whitened at the mode z_hat (Newton from z0, gtol 1e-3:
    rough is enough) by H, the Hessian there: C = cholesky(H^-1) (fullrank) or diag(H_ii^-1/2)
    (meanfield: the meanfield optimum of a Gaussian target). Returns (z_hat, C, log|det C|), or
    a string saying why there is none (no finite mode with a negative-definite Hessian)."""
    try:
        found = find_mode(model, z0, method="newton", tol=1e-3, maxiter=100, with_hessian=True)
    except np.linalg.LinAlgError as e:
        return f"no: the Hessian at the mode is not negative definite ({e})"
    if found.hessian is None:
        return "no: " + found.message
    H = found.hessian * -1.0
    if not (found.converged and np.all(np.isfinite(H))):
        return f"no: Newton's method found no mode in {found.iterations} steps"
    try:
        if family == "fullrank":
            C = np.linalg.cholesky(np.linalg.inv(0.5 * (H + H.T)))   # C C^T = H^-1
            log_det = float(np.sum(np.log(np.diag(C))))
        else:
            d = np.diag(H)
            if not np.all(d > 0):
                raise np.linalg.LinAlgError("non-positive curvature")
            C = 1.0 / np.sqrt(d)
            log_det = float(np.sum(np.log(C)))
    except np.linalg.LinAlgError as e:
        return f"no: the Hessian at the mode is not negative definite ({e})"
    return found.z, C, log_det
