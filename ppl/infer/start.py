"""A sound start: the mode of the unconstrained log density, found scale-free, with its Hessian.

From each of several initial points (the model's default initial point, a few of Stan's random
ones, u ~ Uniform(-2, 2) unconstrained, and any the caller gives, e.g. data-informed ones):

1. L-BFGS-B (scipy) on -log p with the engine's gradient, in coordinates z = c + s * u whose
   scales s = 1 / sqrt(-H_ii) come from the Hessian's diagonal at the previous round's end
   (s = 1 in the first round); a few rounds, so that a coefficient of 1e5 and a log-scale of 1
   both move in units of their own curvature (Pathfinder's start, Zhang et al., JMLR 2022,
   also begins with L-BFGS);
2. Newton's method where the Hessian H (the engine's, forward over reverse) is negative
   definite: z <- z + t (-H)^-1 g, t halved until log p rises, until the Newton decrement
   lambda^2 = g^T (-H)^-1 g (the predicted rise, in nats: affine-invariant, so scale-free)
   is under 1e-10.

The highest mode over the starts wins. A start whose density is not finite is skipped; when
no mode exists (a density that grows without bound, a flat direction) the record says so
and why: `status` is never "mode" with an astronomic point.

    >>> import numpy as np
    >>> st = find_mode(lambda z: -0.5 * ((z - 3.0) ** 2).sum() / 1e8, [np.zeros(2)])
    >>> st.status, np.round(st.mode, 6).tolist()
    ('mode', [3.0, 3.0])
"""
import math
from dataclasses import dataclass

import numpy as np

import autodiff as ad

__all__ = ["Start", "find_mode", "model_start", "lbfgs", "Density"]

_ROUNDS = 4            # L-BFGS rounds, each rescaled by the Hessian's diagonal at the last end
_NEWTON_STEPS = 50
_DECREMENT = 1e-10     # Newton stops when g^T (-H)^-1 g < this (nats)
_GTOL_SD = 1e-3        # an L-BFGS round is enough when max |s_i g_i| < this (in sd units)


@dataclass(frozen=True, repr=False)
class Start:
    """Where `find_mode` ended.

    mode: (D,) the mode (status "mode"), else the best point reached (None for "no_finite");
    hessian: (D, D) Hessian of log p there (None if not finite or not computed);
    log_density: log p at `mode`; status: "mode" (a finite maximum with a negative-definite
    Hessian), "not_definite" (the gradient vanishes but -H is not positive definite: a flat
    or saddle direction), "no_mode" (the optimiser did not settle: the density may grow
    without bound) or "no_finite" (no start had a finite density and gradient); message:
    what happened, in words; starts: initial points tried; evaluations: gradient calls;
    initial: the initial point with the highest finite log density (a fallback start);
    program: log p's compiled program (`ad.compile_value_and_grad`) where it agrees with log p
    at the mode, else None.
    """
    mode: np.ndarray
    hessian: np.ndarray
    log_density: float
    status: str
    message: str
    starts: int = 0
    evaluations: int = 0
    initial: np.ndarray = None
    program: object = None

    @property
    def ok(self):
        """Whether a finite mode with a negative-definite Hessian was found."""
        return self.status == "mode"

    @property
    def scales(self):
        """1 / sqrt(-H_ii) where -H_ii > 0 (the meanfield sds of a Gaussian at the mode),
        else 1; a (D,) array (ones when there is no Hessian)."""
        if self.hessian is None:
            return None if self.mode is None else np.ones(len(self.mode))
        return _diag_scales(self.hessian)

    def __repr__(self):
        lp = f"{self.log_density:.6g}" if self.log_density is not None else "None"
        return (f"Start(status={self.status!r}, log_density={lp}, starts={self.starts}, "
                f"evaluations={self.evaluations}: {self.message})")


def _diag_scales(H):
    d = -np.diag(H)
    ok = np.isfinite(d) & (d > 0)
    return np.where(ok, 1.0 / np.sqrt(np.where(ok, d, 1.0)), 1.0)


class Density:
    """log p and its gradient as floats / numpy, non-finite -> (-inf, None); counts calls;
    `hessian(z)`: the (symmetrised) Hessian, None where not finite.

    compiled=True: log p is recorded once (`ad.compile_value_and_grad`, at the first point
    asked for) and its program answers the value-and-gradient calls (Hessians, a few per run,
    are fresh: recording a Hessian program costs more than a few of them on a long program);
    `verify(z)` compares it with a fresh run of log p at z and turns it off for good when
    they differ (a branch on a value that the recording froze)."""

    def __init__(self, log_density, hessian=None, compiled=False):
        self.f = log_density
        self.vg = ad.value_and_grad(log_density)
        self.hess = hessian if hessian is not None else ad.hessian(log_density)
        self.calls = 0
        self.program = None
        self._tries = 5 if compiled and hessian is None else 0    # points to record at

    def _compiled(self, z):
        """The program, recorded at the first point where log p and its gradient are finite
        (tried at up to 5 points)."""
        if self._tries and self.program is None:
            self._tries -= 1
            try:
                with np.errstate(all="ignore"):
                    program = ad.compile_value_and_grad(self.f, z)
                    v, g = program(z)
                if np.isfinite(v) and np.all(np.isfinite(g)):
                    self.program, self._tries = program, 0
            except (TypeError, ValueError, ArithmeticError, np.linalg.LinAlgError):
                pass
        return self.program

    def __call__(self, z):
        self.calls += 1
        z = np.asarray(z, dtype=float)
        program = self._compiled(z)
        with np.errstate(all="ignore"):
            try:
                v, g = (program or self.vg)(z)
            except (FloatingPointError, np.linalg.LinAlgError, OverflowError):
                return -math.inf, None
        v, g = float(v), np.asarray(g, dtype=float)
        if not (math.isfinite(v) and np.all(np.isfinite(g))):
            return -math.inf, None
        return v, g

    def hessian(self, z):
        z = np.asarray(z, dtype=float)
        with np.errstate(all="ignore"):
            try:
                H = np.asarray(self.hess(z), dtype=float)
            except (FloatingPointError, np.linalg.LinAlgError, OverflowError):
                return None
        return 0.5 * (H + H.T) if np.all(np.isfinite(H)) else None

    def verify(self, z):
        """Whether the compiled program (if any) agrees with a fresh run of log p at z (value
        and gradient); when not, it is turned off and False returned."""
        if self.program is None:
            return True
        z = np.asarray(z, dtype=float)
        try:
            ok = self.program.check(z)
        except (ArithmeticError, ValueError, TypeError, np.linalg.LinAlgError):
            ok = False
        if not ok:
            self.program = None
        return ok


def lbfgs(lp, z0, s=None, maxiter=1000, gtol=1e-10):
    """L-BFGS-B (scipy) on -log p(z0 + s u) from u = 0 (s: (D,) scales; None: on -log p(z)
    from z0 itself, so that coordinates near 0 keep their absolute precision), its
    relative-decrease test only at rounding level; lp: a `Density`. A non-finite point is
    answered with a finite penalty (the best value so far plus 1e3 (1 + |best|)) and a zero
    gradient, so the line search backtracks (L-BFGS-B cannot take inf or NaN). The one L-BFGS
    of ppl.infer (this module's rounds; `mode.find_mode` for map_estimate and laplace).
    Returns (z, scipy's result, the number of non-finite points met)."""
    import scipy.optimize   # noqa: PLC0415 -- here, not at import: `wengert fit` starts fast
    z0 = np.asarray(z0, dtype=float)
    direct = s is None
    to_z = (lambda u: u) if direct else (lambda u: z0 + s * u)
    s = 1.0 if direct else s
    state = {"best": math.inf, "nonfinite": 0}

    def objective(u):
        v, g = lp(to_z(u))
        if g is None:
            state["nonfinite"] += 1
            b = state["best"] if math.isfinite(state["best"]) else 0.0
            return b + 1e3 * (1.0 + abs(b)), np.zeros_like(u)
        state["best"] = min(state["best"], -v)
        return -v, -g * s

    u0 = z0 if direct else np.zeros_like(z0)
    res = scipy.optimize.minimize(objective, u0, jac=True, method="L-BFGS-B",
                                  options={"maxiter": int(maxiter), "gtol": gtol,
                                           "ftol": 1e3 * np.finfo(float).eps})
    return to_z(np.asarray(res.x, dtype=float)), res, state["nonfinite"]


def _newton(lp, z, v, g, H):
    """Damped Newton from z while -H stays positive definite; returns (z, v, g, H, done,
    note)."""
    for _ in range(_NEWTON_STEPS):
        try:
            c = np.linalg.cholesky(-H)
        except np.linalg.LinAlgError:
            return z, v, g, H, False, "the Hessian is not negative definite here"
        d = np.linalg.solve(c.T, np.linalg.solve(c, g))    # (-H)^-1 g
        dec = float(g @ d)
        if dec < _DECREMENT:
            return z, v, g, H, True, f"Newton decrement {dec:.2g}"
        t = 1.0
        while t > 1e-10:
            v1, g1 = lp(z + t * d)
            if g1 is not None and v1 >= v - 1e-12 * abs(v):
                break
            t *= 0.5
        else:
            return z, v, g, H, dec < 1e-6, f"the line search stalled (decrement {dec:.2g})"
        z, v, g = z + t * d, v1, g1
        H1 = lp.hessian(z)
        if H1 is None:
            return z, v, g, H, False, "the Hessian is not finite here"
        H = H1
    return z, v, g, H, False, f"no convergence in {_NEWTON_STEPS} Newton steps"


def _one(lp, z0, maxiter):
    """(z, v, H, status, note) from one initial point. The compiled program is checked
    against log p where the run begins and where it ends; where they differ it is turned off
    and the run is made (again) with fresh evaluations."""
    lp(z0)                      # records the program at the first finite point
    lp.verify(z0)
    r = _run(lp, z0, maxiter)
    if r is not None and not lp.verify(r[0]):
        r = _run(lp, z0, maxiter)
    return r


def _run(lp, z0, maxiter):
    v, g = lp(z0)
    if g is None:
        return None
    z, s, H = z0, np.ones_like(z0), None
    for _ in range(_ROUNDS):
        z = lbfgs(lp, z, s, maxiter)[0]
        v, g = lp(z)
        if g is None:
            return None
        H = lp.hessian(z)
        if H is None:
            break
        s = _diag_scales(H)
        if np.max(np.abs(s * g)) < _GTOL_SD:
            break
    if H is None:
        return z, v, None, "no_mode", "the Hessian is not finite at the optimiser's end"
    z, v, g, H, done, note = _newton(lp, z, v, g, H)
    if done:
        return z, v, H, "mode", note
    w = np.linalg.eigvalsh(-H)
    if np.max(np.abs(_diag_scales(H) * g)) < _GTOL_SD:
        return z, v, H, "not_definite", (
            f"the gradient vanishes but -H is not positive definite (smallest eigenvalue "
            f"{w[0]:.3g}): a flat or saddle direction ({note})")
    return z, v, H, "no_mode", (
        f"the optimiser did not settle (max |gradient| {np.max(np.abs(g)):.3g}, log density "
        f"{v:.6g} at max |z| {np.max(np.abs(z)):.3g}): the density may grow without bound "
        f"({note})")


def find_mode(log_density, starts, hessian=None, maxiter=1000, compiled=True):
    """The highest mode of log_density over runs from each of `starts` (see the module
    docstring): L-BFGS rounds rescaled by the Hessian's diagonal, then Newton.

    log_density: engine-differentiable z -> scalar; starts: iterable of (D,) arrays;
    hessian: optional z -> (D, D) (default ad.hessian(log_density)); compiled: evaluate log p
    by its compiled program (`Density`), checked against fresh runs where each run ends.
    Returns a `Start`; its `program` is the compiled program when it agreed with log p at the
    mode (None otherwise).
    """
    if isinstance(maxiter, bool) or not isinstance(maxiter, (int, np.integer)) or maxiter < 1:
        raise ValueError(f"find_mode: maxiter must be a positive integer, got {maxiter!r}")
    lp = Density(log_density, hessian, compiled)
    runs, n, best = [], 0, (-math.inf, None)
    for z0 in starts:
        n += 1
        z0 = np.asarray(z0, dtype=float)
        if z0.ndim != 1:
            raise ValueError(f"find_mode: each start must be a (D,) vector, got shape {z0.shape}")
        v0 = lp(z0)[0]
        if v0 > best[0]:
            best = (v0, z0)
        r = _one(lp, z0, int(maxiter))
        if r is not None:
            runs.append(r)
    if n == 0:
        raise ValueError("find_mode: starts is empty")
    if not runs:
        return Start(None, None, -math.inf, "no_finite", f"the log density or its gradient is "
                     f"not finite at any of the {n} initial point(s)", n, lp.calls)
    modes = [r for r in runs if r[3] == "mode"]
    z, v, H, status, note = max(modes or runs, key=lambda r: r[1])
    msg = (f"mode found ({note}); best of {len(modes)} mode(s) from {n} start(s)" if modes
           else note)
    return Start(z, H, v, status, msg, n, lp.calls, best[1],
                 lp.program if lp.verify(z) else None)


def model_start(model, seed=None, random_starts=3, inits=(), maxiter=1000):
    """`find_mode` on model.unconstrained_log_density (Jacobian included) from the model's
    default initial point (`model.initial_point(seed)`), `random_starts` more of Stan's
    random points (u ~ Uniform(-2, 2)) and `inits` (dicts of constrained values)."""
    from ..distributions.base import validation_enabled  # noqa: PLC0415
    if isinstance(random_starts, bool) or not isinstance(random_starts, (int, np.integer)) \
            or random_starts < 0:
        raise ValueError(f"model_start: random_starts must be a non-negative integer, got "
                         f"{random_starts!r}")
    ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    seeds = [int(s.generate_state(1)[0]) for s in ss.spawn(1 + int(random_starts))]
    points = [model.unconstrain(p) for p in inits]
    points += [model.unconstrain(model.initial_point(s)) for s in seeds]
    with validation_enabled(False):
        return find_mode(model.unconstrained_log_density, points, maxiter=maxiter)
