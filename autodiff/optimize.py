"""Newton's method on the engine's derivatives: root finding and minimisation.

`newton(f, x0)` solves f(x) = 0 for f: R -> R or R^n -> R^n with the derivative or Jacobian from
forward mode; `minimize_newton(f, x0)` minimises a scalar f with the Hessian from
forward-over-reverse. Both globalise the Newton step with a backtracking (Armijo) line search and
return a `NewtonResult`. Failures that leave no usable step (a singular Jacobian, non-finite
values, a line search that cannot decrease the merit function) raise `NewtonError`, which carries
the last iterate and its residual.
"""
from dataclasses import dataclass, field

import numpy as np
from scipy.linalg import cho_factor, cho_solve

from .functional import hessian, jacfwd, jvp, value_and_grad
from .tensor import getval

__all__ = ["newton", "minimize_newton", "NewtonResult", "NewtonError"]

_ARMIJO_C = 1e-4  # sufficient-decrease constant (Nocedal and Wright, Numerical Optimization)
_MAX_HALVINGS = 40  # smallest trial step 2^-40


class NewtonError(RuntimeError):
    """Newton's method could not continue; `.x` is the last iterate, `.residual` its residual
    (||f(x)||_inf for `newton`, ||grad f(x)||_inf for `minimize_newton`), `.iterations` the
    number of steps taken."""

    def __init__(self, message, x, residual, iterations):
        super().__init__(message)
        self.x, self.residual, self.iterations = x, residual, iterations


@dataclass(repr=False)
class NewtonResult:
    """What Newton's method found.

    x: the last iterate (a float for a scalar problem, else an array); fun: f(x) (the residual
    vector for `newton`, the objective for `minimize_newton`); iterations: Newton steps taken;
    converged: whether the convergence test passed; history: one (x_k, r_k) pair per iterate,
    starting at x0, with r_k = ||f(x_k)||_inf (root) or ||grad f(x_k)||_inf (minimum);
    message: why it stopped; modified_steps: (minimize_newton) steps where the Hessian was not
    positive definite and was shifted.
    """
    x: object
    fun: object
    iterations: int
    converged: bool
    history: list = field(default_factory=list)
    message: str = ""
    modified_steps: int = 0

    def __repr__(self):
        return (f"NewtonResult(x={_fmt(self.x)}, fun={_fmt(self.fun)}, "
                f"iterations={self.iterations}, converged={self.converged}, "
                f"message={self.message!r})")


def _fmt(v):
    return np.array2string(np.asarray(v), precision=10) if np.ndim(v) else repr(float(v))


def _start(x0, tol, maxiter, fname, tol_name="tol"):
    kind = np.asarray(getval(x0)).dtype.kind if not isinstance(x0, str) else "U"
    if kind == "c":
        raise TypeError(f"{fname}: x0 is complex; only real problems are solved")
    if kind not in "biuf":  # None, strings, objects (np.array(None, float) would be nan)
        raise TypeError(f"{fname}: x0 must be a float or a 1-d array of floats, got "
                        f"{x0!r:.60}")
    x = np.array(getval(x0), dtype=np.float64)
    if x.ndim > 1:
        raise ValueError(f"{fname}: x0 must be a scalar or 1-d, got shape {x.shape}")
    if x.ndim == 1 and x.size == 0:
        raise ValueError(f"{fname}: x0 is empty")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{fname}: x0 is not finite: {x}")
    if not (isinstance(tol, (int, float, np.floating)) and np.isfinite(tol) and tol > 0):
        raise ValueError(f"{fname}: {tol_name} (the tolerance) must be a positive finite "
                         f"number, got {tol!r}")
    if not isinstance(maxiter, (int, np.integer)) or isinstance(maxiter, bool) or maxiter < 1:
        raise ValueError(f"{fname}: maxiter must be an integer >= 1, got {maxiter!r}")
    return x


def _out(x):
    return float(x) if x.ndim == 0 else x.copy()


def _norm(v):
    return float(np.max(np.abs(v))) if np.size(v) else 0.0


def _call(f, x, shape, fname):
    """f(x) at a plain point as a float array of the expected shape (NaN where not finite)."""
    v = np.asarray(getval(f(x)), dtype=np.float64)
    if v.shape != shape:
        raise ValueError(f"{fname}: f returned shape {v.shape} for x of shape {x.shape}; "
                         f"expected {shape}")
    return v


# ---- root finding -------------------------------------------------------------------------------
def newton(f, x0, tol=1e-12, maxiter=50, raise_on_failure=False):
    """Root of f by Newton-Raphson: x_{k+1} = x_k - t_k J(x_k)^{-1} f(x_k), J = df/dx from AD.

    f maps a float to a float, or an (n,) array to an (n,) array, written with engine ops.
    The derivative comes from forward mode: for a scalar x one `jvp` with tangent 1 gives f and
    f' in one pass; for x in R^n `jacfwd` pushes the n basis tangents through f in one pass. For
    the small n Newton is used for that is cheaper than reverse mode's n backward passes (one per
    output) and keeps no tape.

    The step length t_k in (0, 1] halves until 0.5|f|^2 decreases enough (Armijo); trial points
    where f is not finite are rejected, so f may have a restricted domain (log, sqrt).
    Converged when ||f(x_k)||_inf <= tol and the Newton step is small, ||dx||_inf <=
    sqrt(tol) (1 + ||x_k||_inf) (this rejects iterates running off to infinity where f vanishes),
    or when the full step itself is ||dx||_inf <= tol (1 + ||x_k||_inf) (then x_k + dx is
    returned if |f| is no larger there, else x_k).

    Parameters: f; x0, a float or an (n,) float array; tol > 0; maxiter >= 1, the most Newton
    steps; raise_on_failure: raise NewtonError instead of returning converged=False when
    maxiter steps do not converge.
    Returns a NewtonResult. Raises NewtonError (a RuntimeError with `.x`, `.residual`,
    `.iterations`) when the Jacobian is singular, f or J is not finite, or the line search fails.

    >>> import autodiff as ad
    >>> r = newton(lambda x: x ** 2 - 2.0, 1.0)
    >>> round(r.x, 12), r.converged, r.iterations
    (1.414213562373, True, 5)
    >>> newton(lambda v: ad.stack([v[0] ** 2 + v[1] ** 2 - 4.0, v[0] - v[1]]),
    ...        np.array([1.0, 0.5])).x
    array([1.41421356, 1.41421356])
    """
    x = _start(x0, tol, maxiter, "newton")
    scalar = x.ndim == 0
    if scalar:
        derivative = lambda z: jvp(f, (z,), (np.ones(()),))
    else:
        jac = jacfwd(f)
        derivative = lambda z: (None, jac(z))

    def jacobian_at(z):
        J = np.asarray(getval(derivative(z)[1]), dtype=np.float64)
        if J.shape != x.shape * 2:
            raise ValueError(f"newton: the Jacobian has shape {J.shape}, expected "
                             f"{x.shape * 2}; f must map R^n to R^n")
        return J

    F = _call(f, x, x.shape, "newton")
    history = [(_out(x), _norm(F))]
    it = 0
    while True:
        r = _norm(F)
        if not np.all(np.isfinite(F)):
            raise NewtonError(f"newton: f(x) is not finite at iteration {it}, x = {_fmt(x)}",
                              _out(x), r, it)
        if r == 0.0:
            return NewtonResult(_out(x), _out(F), it, True, history,
                                f"converged: f(x) = 0 exactly after {it} iterations")
        J = jacobian_at(x)
        if not np.all(np.isfinite(J)):
            raise NewtonError(f"newton: the Jacobian is not finite at iteration {it}, "
                              f"x = {_fmt(x)}, ||f(x)|| = {r:.3e}", _out(x), r, it)
        dx = _newton_step(J, F, x, r, it)
        xn = _norm(x)
        if r <= tol and _norm(dx) <= np.sqrt(tol) * (1.0 + xn):
            return NewtonResult(_out(x), _out(F), it, True, history,
                                f"converged: ||f(x)|| = {r:.3e} <= tol after {it} iterations")
        if it == maxiter:
            break
        if _norm(dx) <= tol * (1.0 + xn):  # the step is below the tolerance: stop, taking it
            with np.errstate(all="ignore"):  # if it does not increase |f|
                Ft = _call(f, x + dx, x.shape, "newton")
            if _norm(Ft) <= r:
                x, F, it = x + dx, Ft, it + 1
                history.append((_out(x), _norm(F)))
            return NewtonResult(_out(x), _out(F), it, True, history,
                                f"converged: Newton step {_norm(dx):.3e} <= tol (1 + ||x||) "
                                f"after {it} iterations, ||f(x)|| = {_norm(F):.3e}")
        phi0 = 0.5 * float(np.sum(F * F))
        t = 1.0  # Armijo on phi = 0.5|f|^2: phi'(0) = f.J dx = -|f|^2 along the Newton step
        for _ in range(_MAX_HALVINGS + 1):
            xt = x + t * dx
            with np.errstate(all="ignore"):  # a trial outside f's domain is simply rejected
                Ft = _call(f, xt, x.shape, "newton")
                phit = 0.5 * float(np.sum(Ft * Ft))  # inf when |f|^2 overflows: rejected too
            if np.isfinite(phit) and phit <= (1.0 - 2.0 * _ARMIJO_C * t) * phi0:
                break
            t *= 0.5
        else:
            raise NewtonError(
                f"newton: line search failed at iteration {it}: no step along the Newton "
                f"direction decreases |f|^2 (a local minimum of |f|^2 that is not a root?); "
                f"x = {_fmt(x)}, ||f(x)|| = {r:.3e}", _out(x), r, it)
        x, F, it = xt, Ft, it + 1
        history.append((_out(x), _norm(F)))
    x_first = history[0][0]
    grew = "" if _norm(x) <= 10.0 * (1.0 + _norm(np.asarray(x_first))) else (
        f"; the iterates appear to diverge (||x|| grew from {_norm(np.asarray(x_first)):.3g} "
        f"to {_norm(x):.3g})")
    msg = (f"newton: no convergence in maxiter={maxiter} iterations: x = {_fmt(x)}, "
           f"||f(x)|| = {_norm(F):.3e}, last Newton step {_norm(dx):.3e}{grew}")
    if raise_on_failure:
        raise NewtonError(msg, _out(x), _norm(F), it)
    return NewtonResult(_out(x), _out(F), it, False, history, msg)


def _newton_step(J, F, x, r, it):
    """dx solving J dx = -F; NewtonError when J is singular to working precision."""
    if J.ndim == 0:
        if J == 0.0:
            raise NewtonError(f"newton: the derivative is zero at iteration {it}, x = {_fmt(x)}, "
                              f"|f(x)| = {r:.3e}", _out(x), r, it)
        return -F / J
    s = np.linalg.svd(J, compute_uv=False)
    if s[0] == 0.0 or s[-1] <= s[0] * J.shape[0] * np.finfo(np.float64).eps:
        cond = np.inf if s[-1] == 0.0 else s[0] / s[-1]
        raise NewtonError(f"newton: the Jacobian is singular at iteration {it} (condition "
                          f"number {cond:.3g}), x = {_fmt(x)}, ||f(x)|| = {r:.3e}",
                          _out(x), r, it)
    return np.linalg.solve(J, -F)


# ---- minimisation -------------------------------------------------------------------------------
def minimize_newton(f, x0, gtol=1e-8, maxiter=100, raise_on_failure=False):
    """Minimum of a scalar f by Newton steps: x_{k+1} = x_k - t_k H(x_k)^{-1} grad f(x_k).

    The gradient comes from reverse mode (`value_and_grad`), the Hessian from forward-over-reverse
    (`hessian`: all n tangents through the gradient's computation in one pass). Where the Hessian
    is not positive definite (its Cholesky factorisation fails) the step falls back towards a
    gradient step: it solves (H + tau I) p = -grad f with the smallest tau in beta, 2 beta,
    4 beta, ... that lets the Cholesky factorisation succeed, so p tends to -grad f / tau as tau
    grows (beta = 1e-3 max(1, max_i |H_ii|)). A pure gradient step would crawl along valleys
    like Rosenbrock's. The step length t_k halves from 1 until f decreases enough (Armijo).
    Converged when ||grad f(x_k)||_inf <= gtol.

    Parameters: f, written with engine ops; x0, a float or an (n,) float array; gtol > 0;
    maxiter >= 1; raise_on_failure as in `newton`.
    Returns a NewtonResult (fun = f(x); modified_steps counts the shifted-Hessian steps). Raises
    NewtonError when f or its derivatives are not finite or the line search fails.

    >>> import autodiff as ad
    >>> rosen = lambda v: (1.0 - v[0]) ** 2 + 100.0 * (v[1] - v[0] ** 2) ** 2
    >>> r = minimize_newton(rosen, np.array([-1.2, 1.0]))
    >>> r.x, r.converged
    (array([1., 1.]), True)
    """
    x = _start(x0, gtol, maxiter, "minimize_newton", "gtol")
    scalar = x.ndim == 0
    g_fn = value_and_grad((lambda v: f(v[0])) if scalar else f)
    h_fn = hessian((lambda v: f(v[0])) if scalar else f)
    x = np.atleast_1d(x)
    out = (lambda z: float(z[0])) if scalar else (lambda z: z.copy())

    def fg(z):
        val, g = g_fn(z)
        return float(np.asarray(getval(val))), np.asarray(getval(g), dtype=np.float64)

    val, g = fg(x)
    history = [(out(x), _norm(g))]
    it = n_mod = 0
    while True:
        r = _norm(g)
        if not (np.isfinite(val) and np.all(np.isfinite(g))):
            raise NewtonError(f"minimize_newton: f or its gradient is not finite at iteration "
                              f"{it}, x = {_fmt(x)}", out(x), r, it)
        if r <= gtol:
            return NewtonResult(out(x), val, it, True, history,
                                f"converged: ||grad f(x)|| = {r:.3e} <= gtol after {it} "
                                f"iterations", n_mod)
        if it == maxiter:
            break
        H = np.asarray(getval(h_fn(x)), dtype=np.float64)
        if not np.all(np.isfinite(H)):
            raise NewtonError(f"minimize_newton: the Hessian is not finite at iteration {it}, "
                              f"x = {_fmt(x)}", out(x), r, it)
        p, shifted = _descent_direction(H, g)
        n_mod += shifted
        with np.errstate(all="ignore"):
            slope = float(g @ p)  # < 0 for both directions
        if not np.isfinite(slope):
            raise NewtonError(f"minimize_newton: f appears unbounded below: the step overflows "
                              f"at iteration {it}, x = {_fmt(x)}, f(x) = {val:.6g}",
                              out(x), r, it)
        t = 1.0
        for _ in range(_MAX_HALVINGS + 1):
            xt = x + t * p
            with np.errstate(all="ignore"):
                vt = float(np.asarray(getval(f(xt[0] if scalar else xt))))
            if np.isfinite(vt) and vt <= val + _ARMIJO_C * t * slope:
                break
            t *= 0.5
        else:
            raise NewtonError(f"minimize_newton: line search failed at iteration {it}: no step "
                              f"decreases f; x = {_fmt(x)}, ||grad f(x)|| = {r:.3e}",
                              out(x), r, it)
        x, it = xt, it + 1
        val, g = fg(x)
        history.append((out(x), _norm(g)))
    msg = (f"minimize_newton: no convergence in maxiter={maxiter} iterations: x = {_fmt(x)}, "
           f"f(x) = {val:.6g}, ||grad f(x)|| = {_norm(g):.3e}")
    if raise_on_failure:
        raise NewtonError(msg, out(x), _norm(g), it)
    return NewtonResult(out(x), val, it, False, history, msg, n_mod)


def _descent_direction(H, g):
    """(p, shifted): p = -(H + tau I)^{-1} g with the smallest tau in 0, beta, 2 beta, ... that
    makes H + tau I positive definite (Cholesky with added multiple of the identity, Nocedal and
    Wright, Numerical Optimization, 2006, Algorithm 3.3); shifted says whether tau > 0."""
    beta = 1e-3 * max(1.0, float(np.max(np.abs(np.diag(H)))))
    d_min = float(np.min(np.diag(H)))
    tau = 0.0 if d_min > 0 else beta - d_min
    eye = np.eye(H.shape[0])
    for _ in range(100):
        try:
            return -cho_solve(cho_factor(H + tau * eye), g), tau > 0
        except np.linalg.LinAlgError:
            tau = max(2.0 * tau, beta)
    return -g, True  # unreachable for finite H: tau doubles past every eigenvalue
