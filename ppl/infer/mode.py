"""The mode of the unconstrained log density and its Hessian, for `map_estimate`, `laplace` and
ADVI's whitening, on the routines of `start` (the one mode finder of ppl.infer):

    z* = argmax_z log p(x, T(z)) [+ log|det J_T(z)|],   H = d^2/dz^2 log p(x, T(z)) + ... at z*

`find_mode`: z* by `start.lbfgs` (L-BFGS-B on the engine's value and gradient, as Stan's
`optimize`: map_estimate's contract of maxiter, tol and scipy's message); `whitening`: z* and
H by `start.find_mode` (scale-free L-BFGS rounds, then Newton where H is definite: what
ppl.dadvi starts from); H comes from the engine (forward over reverse).
"""
import math
from collections import namedtuple
from dataclasses import dataclass
from typing import Optional

import numpy as np

import autodiff as ad

from ..distributions.base import validation_enabled
from .start import Density, lbfgs
from .start import find_mode as scale_free_mode

_Found = namedtuple("_Found", "mode hessian")   # a mode and log p's Hessian there

__all__ = ["Mode", "find_mode", "hessian", "whitening", "log_density_and_grad"]


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


def _on_disk(model, jacobian, fname="map_estimate"):
    """Whether the model's data are on disk (map-reduce passes); they give log p with the
    log-Jacobian, so jacobian=False is refused there, naming it."""
    if not getattr(model, "layouts", None):
        return False
    if not jacobian:
        raise ValueError(f"{fname}: model {model.name!r} reads data from disk, whose passes "
                         "over the chunks give the density of z with the log-Jacobian: use "
                         "jacobian=True (the centre of ppl.laplace); the constrained mode "
                         "without it needs the data in memory")
    return True


def log_density_and_grad(model, jacobian):
    """z -> (log density, its gradient) as a float and a numpy vector, one reverse pass (data
    on disk: one map-reduce pass over the chunks, `Model.full_value_and_grad`)."""
    if _on_disk(model, jacobian):
        def full(z):
            with np.errstate(all="ignore"), validation_enabled(False):
                return model.full_value_and_grad(np.asarray(z, dtype=float))
        return full
    vg = ad.value_and_grad(lambda z: model.unconstrained_log_density(z, jacobian=jacobian))

    def f(z):
        with np.errstate(all="ignore"):
            v, g = vg(np.asarray(z, dtype=float))
        return float(v), np.asarray(g, dtype=float)
    return f


def hessian(model, z):
    """d^2/dz^2 [log p(x, T(z)) + log|det J_T(z)|] at z (the engine's, forward over reverse;
    data on disk: summed chunk by chunk, `Model.full_hessian`)."""
    with np.errstate(all="ignore"), validation_enabled(False):
        if getattr(model, "layouts", None):
            return np.asarray(model.full_hessian(np.asarray(z, dtype=float))[2], dtype=float)
        return np.asarray(ad.hessian(model.unconstrained_log_density)(z), dtype=float)


def _disk_mode(model, z0, tol, with_hessian):
    """`find_mode` for data on disk: Newton's method on map-reduce gradients with a Hessian
    from some of the chunks (`Model.full_mode`: a few passes where L-BFGS takes dozens), to
    max_i |d/dz_i| <= max(tol, 1e-3)."""
    lp = log_density_and_grad(model, True)
    try:
        with validation_enabled(False):
            z, _ = model.full_mode(z0, gtol=max(tol, 1e-3))
        converged, message = True, "Newton's method on the full data (map-reduce) converged"
    except FloatingPointError as e:
        z, converged, message = np.asarray(z0, dtype=float), False, str(e)
    v, g = lp(z)
    return Mode(z, v, converged and _finite(v, g), message, -1,
                float(np.max(np.abs(g))) if g is not None else math.nan,
                hessian(model, z) if with_hessian else None)


def find_mode(model, z0, jacobian=True, tol=1e-9, maxiter=1000, with_hessian=False):
    """The mode of the unconstrained log density from z0 by L-BFGS-B (`start.lbfgs`, the one
    L-BFGS of ppl.infer) with gtol `tol`, as Stan's `optimize`: a `Mode`.

    Data on disk: Newton's method on map-reduce passes instead (`_disk_mode`; jacobian=True
    only). converged also needs max_i |d/dz_i| <= max(tol, 1e-5 max(1, |log p|)) at the end, as
    L-BFGS-B's relative-decrease test also stops, with a steady gradient, on a density that
    grows without bound (centred eight schools, tau -> 0). Non-finite values met during the
    line search are penalised so that it backtracks (`start.lbfgs`); `nonfinite` counts them.
    with_hessian: also the Hessian at the optimum (of the density with the Jacobian).
    """
    if _on_disk(model, jacobian):
        return _disk_mode(model, z0, tol, with_hessian)
    lp = log_density_and_grad(model, jacobian)
    density = Density(lambda z: model.unconstrained_log_density(z, jacobian=jacobian))
    # off for the search (as ADVI), so that a parameter made invalid by rounding (a scale
    # exp(u) = 0) is a non-finite density, not an error
    with validation_enabled(False):
        z, res, nonfinite = lbfgs(density, z0, None, maxiter, tol)
        v, g = lp(z)
    success, message = bool(res.success), str(res.message)
    grad_norm = float(np.max(np.abs(g)))
    if not _finite(v, g):
        success, message = False, f"non-finite log density or gradient at the end ({message})"
    elif success and grad_norm > max(tol, 1e-5 * max(1.0, abs(v))):
        success, message = False, (f"{message}, but the gradient is still {grad_norm:.3g} "
                                   "(the density may have no mode: unbounded, e.g. a scale "
                                   "going to 0)")
    return Mode(z, v, success, message, int(res.nit), grad_norm,
                hessian(model, z) if with_hessian else None, nonfinite)


def whitening(model, z0, family):
    """Coordinates zeta = z_hat + C u whitened at the mode z_hat by H, the Hessian there:
    C = cholesky(H^-1) (fullrank, lowrank) or diag(H_ii^-1/2) (meanfield: the meanfield
    optimum of a Gaussian target). The mode comes from `start.find_mode` from z0 (scale-free
    L-BFGS, then Newton where H is definite: the routine ppl.dadvi starts from). Returns (z_hat, C,
    log|det C|), or a string saying why there is none (no finite mode with a negative-definite
    Hessian)."""
    if model.layouts:       # data on disk: Newton on map-reduce gradients and Hessians
        try:
            z_hat, H = model.full_mode(np.asarray(z0, dtype=float), gtol=1e-3)
        except (ad.NewtonError, FloatingPointError, np.linalg.LinAlgError) as e:
            return f"no: Newton's method on the data found no mode ({e})"
        if not np.all(np.isfinite(H)):
            return "no: the Hessian at the mode is not finite"
        found = _Found(z_hat, -H)
    else:
        with validation_enabled(False):
            found = scale_free_mode(model.unconstrained_log_density,
                                    [np.asarray(z0, dtype=float)])
        if not found.ok:
            return f"no: {found.status}: {found.message}"
    H = -found.hessian
    try:
        if family in ("fullrank", "lowrank"):     # lowrank: its start is then the Laplace
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
    return found.mode, C, log_det
