"""Point estimates to compare ADVI with: the MAP (`map_estimate`) and the Laplace approximation.

map_estimate: z* = argmax_z log p(x, T(z)) [+ log|det J_T(z)| with jacobian=True], by scipy's
L-BFGS-B on the engine's value and gradient (`mode.find_mode`), over the flat unconstrained
vector z of `Model.unconstrained_log_density`.

laplace: q(z) = N(z*, (-H)^-1), H = d^2/dz^2 [log p(x, T(z)) + log|det J_T(z)|] at its mode z*
(the engine's Hessian, forward over reverse), returned as a full-rank `VIResult` whose
diagnostics are a `LaplaceDiagnostics`.
"""
import warnings
from dataclasses import dataclass

import numpy as np

from ..distributions.base import validation_enabled
from . import mode
from .config import site_of
from .result import LaplaceDiagnostics, VIResult

__all__ = ["map_estimate", "laplace", "MAPResult"]

_INIT_TRIES = 100  # random initial points tried before giving up (as Stan)


@dataclass(frozen=True, repr=False)
class MAPResult:
    """The optimum found by `map_estimate`.

    params: dict site -> constrained value at the optimum (latent and deterministic sites);
    z: (D,) the unconstrained optimum; log_density: the maximised objective at z
    (log p(x, T(z)), plus log|det J_T(z)| when `jacobian`); success, message, iterations: as
    scipy's L-BFGS-B reports them; grad_norm: max_i |d log_density / d z_i| at z; jacobian: the
    objective used; nonfinite: evaluations that met a non-finite density or gradient.
    """
    params: dict
    z: np.ndarray
    log_density: float
    success: bool
    message: str
    iterations: int
    grad_norm: float
    jacobian: bool = False
    nonfinite: int = 0

    def __repr__(self):
        ps = ", ".join(f"{n}={np.array2string(np.asarray(v), precision=4)}"
                       for n, v in self.params.items())
        return (f"MAPResult({ps}; log_density={self.log_density:.6g}, success={self.success}, "
                f"iterations={self.iterations}, grad_norm={self.grad_norm:.3g})")


def _check_args(model, fname, maxiter=1, tol=1.0):
    if not hasattr(model, "unconstrained_log_density") or not hasattr(model, "parameters"):
        raise TypeError(f"{fname}: model must be a bound ppl.Model (call the @ppl.model "
                        f"function with its data), got {type(model).__name__}")
    if model.num_params == 0:
        raise ValueError(f"{fname}: model {model.name!r} has no latent parameters (every "
                         "sample site is observed): there is nothing to optimise")
    if isinstance(maxiter, bool) or not isinstance(maxiter, (int, np.integer)) or maxiter < 1:
        raise ValueError(f"{fname}: maxiter must be a positive integer, got {maxiter!r}")
    if not (isinstance(tol, (int, float)) and np.isfinite(tol) and tol > 0):
        raise ValueError(f"{fname}: tol must be a positive finite number, got {tol!r}")


def _finite(v, g):
    return bool(np.isfinite(v) and np.all(np.isfinite(g)))


def _start(model, init, seed, lp, fname):
    """unconstrain(init), or Stan's random initial point (initial_point(seed) first, then
    fresh draws, up to 100) where the density and its gradient are finite."""
    if init is not None:
        z0 = model.unconstrain(init)
        if not (np.all(np.isfinite(z0)) and _finite(*lp(z0))):
            raise ValueError(f"{fname}: the log density or its gradient is not finite at init "
                             f"(unconstrained point {z0}); a value on or outside its support?")
        return z0
    rng = np.random.default_rng(seed)
    for i in range(_INIT_TRIES):
        z0 = model.unconstrain(model.initial_point(seed if i == 0 else rng.integers(2**63)))
        if _finite(*lp(z0)):
            return z0
    raise ValueError(f"{fname}: model {model.name!r} has a non-finite log density or gradient "
                     f"at {_INIT_TRIES} random initial points; give a point with init=")


def map_estimate(model, init=None, seed=None, jacobian=False, maxiter=1000, tol=1e-9):
    """The mode: z* = argmax_z log p(x, T(z)) (+ log|det J_T(z)| if jacobian), by L-BFGS-B.

    With jacobian=False (default) T(z*) is the posterior mode of the constrained parameters
    (Stan's `optimize`, PyMC's `find_MAP`); with jacobian=True z* is the mode of the density of
    z in unconstrained space (the centre of `laplace`).

    model: a bound ppl.Model. init: dict site -> constrained starting value, or None for Stan's
    random initial point (`model.initial_point(seed)`, redrawn where the density is not finite).
    maxiter: L-BFGS-B's iteration limit. tol: its gtol, max_i |d/dz_i| <= tol (its relative
    decrease test fires only at rounding level); success also needs max_i |d/dz_i| <=
    max(tol, 1e-5 max(1, |log_density|)) at the end, as that test also stops, with a steady
    gradient, on a density that grows without bound (centred eight schools, tau -> 0).
    A non-finite density or gradient met during the line search is answered with a finite
    penalty (the best value so far plus 1e3 (1 + |best|)) and a zero gradient, so the search
    backtracks instead of stopping (L-BFGS-B cannot take inf or NaN); `nonfinite` counts them.
    Returns a MAPResult; warns (RuntimeWarning) with scipy's message if it did not converge.

    >>> import numpy as np, ppl
    >>> @ppl.model
    ... def mean(y):
    ...     mu = ppl.sample("mu", ppl.dist.Normal(0.0, 10.0))
    ...     ppl.sample("y", ppl.dist.Normal(mu, 1.0), obs=y)
    >>> fit = map_estimate(mean(np.array([1.0, 2.0, 3.0])), init={"mu": 0.0})
    >>> fit.success, round(float(fit.params["mu"]), 4)          # 6 / (3 + 1/100)
    (True, 1.9934)
    """
    _check_args(model, "map_estimate", maxiter, tol)
    if not isinstance(jacobian, (bool, np.bool_)):
        raise TypeError(f"map_estimate: jacobian must be True or False, got {jacobian!r}")
    lp = mode.log_density_and_grad(model, bool(jacobian))
    z0 = _start(model, init, seed, lp, "map_estimate")
    found = mode.find_mode(model, z0, bool(jacobian), tol, maxiter)
    with validation_enabled(False):
        params = model.constrain(found.z)
    if not found.converged:
        warnings.warn(f"map_estimate: L-BFGS-B did not converge for model {model.name!r}: "
                      f"{found.message}", RuntimeWarning, stacklevel=2)
    return MAPResult(params, found.z, found.log_density, found.converged, found.message,
                     found.iterations, found.grad_norm, bool(jacobian), found.nonfinite)


def _covariance(model, H):
    """Sigma = (-H)^-1 and its Cholesky factor; ValueError naming the coordinates along which
    -H has no or negative curvature (eigenvalue <= D eps max|eigenvalue|)."""
    prec = -0.5 * (H + H.T)
    w, V = np.linalg.eigh(prec)
    cutoff = max(np.abs(w).max(), np.finfo(float).tiny) * len(w) * np.finfo(float).eps
    bad = np.flatnonzero(w <= cutoff)
    if bad.size:
        names = []
        for k in bad:
            v = np.abs(V[:, k])
            for i in np.flatnonzero(v >= 0.3 * v.max()):
                if site_of(model, i) not in names:
                    names.append(site_of(model, i))
        raise ValueError(
            f"laplace: the negative Hessian of model {model.name!r}'s log density at the mode is "
            f"not positive definite (eigenvalues {np.array2string(w[bad], precision=3)}): no or "
            f"negative curvature along {names}; the posterior is flat there (an improper prior "
            "with no data on it, an unidentified sum) or the optimum is a saddle")
    sigma = (V / w) @ V.T
    return sigma, np.linalg.cholesky(0.5 * (sigma + sigma.T))


def laplace(model, init=None, seed=None, maxiter=1000, tol=1e-9):
    """The Laplace approximation in unconstrained space: q(z) = N(z*, (-H)^-1), where z* is the
    mode of log p(x, T(z)) + log|det J_T(z)| and H its Hessian there.

    The mode is taken WITH the Jacobian term (map_estimate(jacobian=True)), as Stan's
    `laplace_sample`: q approximates the density of z itself, whose draws T(z) are then
    posterior draws. H comes from the engine (`ad.hessian`, forward over reverse).
    Arguments as map_estimate; `seed` is also the result's default seed for draws.
    Returns a full-rank VIResult (method "laplace"; mu = z*, L = cholesky((-H)^-1),
    converged and stop_reason from the optimiser). Raises ValueError, naming the parameters,
    where -H is not positive definite.

    >>> import numpy as np, ppl
    >>> @ppl.model
    ... def mean(y):
    ...     mu = ppl.sample("mu", ppl.dist.Normal(0.0, 10.0))
    ...     ppl.sample("y", ppl.dist.Normal(mu, 1.0), obs=y)
    >>> fit = laplace(mean(np.array([1.0, 2.0, 3.0])), seed=0)
    >>> round(float(fit.params["L"][0, 0]), 4)          # posterior sd: 1 / sqrt(3 + 1/100)
    0.5764
    """
    _check_args(model, "laplace", maxiter, tol)
    fit = map_estimate(model, init, seed, jacobian=True, maxiter=maxiter, tol=tol)
    H = mode.hessian(model, fit.z)
    if not np.all(np.isfinite(H)):
        raise ValueError(f"laplace: the Hessian of model {model.name!r}'s log density at the "
                         f"mode is not finite: {H}")
    _, L = _covariance(model, H)
    return VIResult(model, "fullrank", mu=fit.z, omega=np.log(np.diag(L)), L=L,
                    diagnostics=LaplaceDiagnostics(fit.log_density, fit.iterations,
                                                   fit.grad_norm, H),
                    converged=fit.success, stop_reason=fit.message, seed=seed,
                    info={"log_density": fit.log_density, "iterations": fit.iterations,
                          "grad_norm": fit.grad_norm, "hessian": H})
