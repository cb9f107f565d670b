"""ADVI's moving parts: the ELBO and its gradient over draws (`Run`), Stan's step-size
sequence, Adam, the averaging window with its drift and split R-hat, and the whitening at the
mode (`ppl.advi` puts them together).

    >>> import numpy as np
    >>> step = StanStep(eta=1.0)
    >>> step.direction(np.array([3.0]))          # 1 * 1^(-1/2) * 3 / (1 + sqrt(9))
    array([0.75])
"""
import math

import numpy as np

import autodiff as ad

from .psis import rhat_from_halves

__all__ = ["Run", "StanStep", "Adam", "Window", "precondition"]

_RETRIES = 10        # fresh draws tried for a non-finite gradient before the step is skipped
_AUDIT_RECORD = 8    # points where a recorded tape must agree with the model before replay
_AUDIT = 5           # draws of each ELBO estimate also run through the model, to compare


class Run:
    """The model's log density and the draws: ELBO gradient and ELBO estimates.

    Without subsampled plates the density's tape is recorded once (`record`) and replayed at
    each draw (`autodiff.compile_value_and_grad`): the model's Python runs only to record and
    to audit: the tape must agree with the model at 8 points around where it was recorded, and
    each ELBO estimate runs its first 5 draws through the model too; a mismatch (a model that
    branches on a value) turns the replay off for the rest of the fit. A branch taken only in
    a region those checks never visit would go unseen: `fit.info["replay"]` says what ran."""

    def __init__(self, model, q, sub_rng, grad_rng, elbo_rng, grad_samples, elbo_samples,
                 centre):
        self.model, self.q, self.sub_rng = model, q, sub_rng
        # zeta = centre + C u: the algorithm runs in u (C = I, or a whitening at the mode)
        self.centre, self.C, self.log_det_C = centre, None, 0.0
        self.grad_rng, self.elbo_rng = grad_rng, elbo_rng
        self.grad_samples, self.elbo_samples = grad_samples, elbo_samples
        self.value_and_grad = ad.value_and_grad(self.log_p)
        self.replay, self.replay_note = None, "no: not recorded"
        self.skipped = self.dropped = self.n_grad = 0

    def record(self, z):
        """Replay the density's tape from now on if it was recorded at z and agrees with fresh
        runs at `_AUDIT_RECORD` points around it (value and gradient)."""
        if self.sub_rng is not None:
            self.replay_note = "no: subsampled plates draw new indices at every step"
            return
        if self.model.layouts:
            self.replay_note = "no: data on disk, read chunk by chunk"
            return
        try:
            with np.errstate(all="ignore"):
                r = ad.compile_value_and_grad(self.model.unconstrained_log_density, z)
                probe = np.random.default_rng(0).standard_normal((_AUDIT_RECORD,) + z.shape)
                ok = all(self._agrees(r, z + 0.5 * (i + 1) * p) for i, p in enumerate(probe))
        except (ValueError, TypeError, ArithmeticError, np.linalg.LinAlgError) as e:
            self.replay_note = f"no: {e}"
            return
        if not ok:
            self.replay_note = ("no: the recorded tape disagrees with a fresh run elsewhere "
                                "(the model branches on a value)")
            return
        self.replay, self.replay_note = r, f"yes: {len(r)} recorded ops"

    def log_p(self, z):
        return self.model.unconstrained_log_density(z, self.sub_rng)

    def _agrees(self, r, z):
        """Whether replay `r` agrees with a fresh run at z; a linear-algebra failure in the
        replay agrees with a fresh run that gives a non-finite density there."""
        try:
            return r.check(z)
        except np.linalg.LinAlgError:
            with ad.no_grad():
                return not np.isfinite(self._value(z, replayed=False))

    def _value_and_grad(self, zeta):
        """(log p, gradient) at zeta, replayed or fresh; NaN where a linear-algebra op fails (a
        matrix not positive definite, a zero on a triangular factor's diagonal in floating
        point): a non-finite draw, retried as any other."""
        try:
            if self.sub_rng is None and self.model.layouts:    # full data on disk: map-reduce
                return self.model.full_value_and_grad(zeta)
            return (self.replay or self.value_and_grad)(zeta)
        except np.linalg.LinAlgError:
            return math.nan, np.full(zeta.shape, math.nan)

    def _value(self, zeta, replayed=True):
        """log p at zeta without a tape, replayed (when there is a replay) or fresh; NaN where
        linear algebra fails."""
        try:
            if replayed and self.replay is not None:
                return float(self.replay.value(zeta))
            return float(self.log_p(zeta))
        except np.linalg.LinAlgError:
            return math.nan

    def elbo_grad(self, lam, count=True):
        """Monte Carlo gradient of the ELBO in lam, or None when no finite draw was found in
        `_RETRIES` tries (counted in `skipped` when `count`; the adaptation does not count)."""
        q, total = self.q, None
        for _ in range(self.grad_samples):
            for _ in range(_RETRIES):
                eps = self.grad_rng.standard_normal(q.dim)
                zeta = self.zeta(q.transform(lam, eps))
                self.n_grad += 1
                with np.errstate(all="ignore"):
                    lp, g = self._value_and_grad(zeta)
                    g = self.pullback(g)
                if np.isfinite(lp) and np.all(np.isfinite(g)):
                    break
            else:
                self.skipped += count
                return None
            gl = q.grad_log_p(lam, eps, g)
            total = gl if total is None else total + gl
        if self.grad_samples > 1:
            total /= self.grad_samples
        return total + q.grad_entropy(lam)

    def elbo(self, lam, se=False):
        """ELBO estimate with `elbo_samples` draws, evaluated without a tape. Non-finite draws
        are dropped (and counted); -inf when none is finite. With `se`, also its Monte Carlo
        standard error sd(log p) / sqrt(draws)."""
        q = self.q
        eps = self.elbo_rng.standard_normal((self.elbo_samples, q.dim))
        zetas = self.zeta(q.transform(lam, eps))
        vals = np.empty(self.elbo_samples)
        with ad.no_grad(), np.errstate(all="ignore"):
            if self.model.layouts:       # data on disk: all draws in one map-reduce pass
                vals[:] = self.model.full_log_density(zetas)
            elif self.replay is not None:
                for i in range(self.elbo_samples):
                    vals[i] = self._value(zetas[i])
                for i in range(min(_AUDIT, self.elbo_samples)):
                    fresh = self._value(zetas[i], replayed=False)
                    if not np.isclose(fresh, vals[i], rtol=1e-9, atol=1e-12, equal_nan=True):
                        self.replay = None
                        self.replay_note = (f"off after {self.n_grad} gradients: the replay "
                                            f"gave {vals[i]!r} where the model gives {fresh!r}")
                        break
            if self.replay is None and not self.model.layouts:
                for i in range(self.elbo_samples):
                    vals[i] = self._value(zetas[i])
        ok = np.isfinite(vals)
        self.dropped += int((~ok).sum())
        if not ok.any():
            return (-math.inf, math.inf) if se else -math.inf
        value = float(vals[ok].mean()) + q.entropy(lam) + self.log_det_C
        if not se:
            return value
        return value, float(vals[ok].std(ddof=1) / math.sqrt(ok.sum())) if ok.sum() > 1 else 0.0

    def zeta(self, u):
        """zeta = centre + C u (u of shape (D,) or (S, D))."""
        if self.C is None:
            return self.centre + u
        return self.centre + (u * self.C if self.C.ndim == 1 else u @ self.C.T)

    def pullback(self, g):
        """grad_u = C^T grad_zeta."""
        if self.C is None:
            return g
        return g * self.C if self.C.ndim == 1 else self.C.T @ g

    def to_zeta(self, lam):
        """(mu, omega, L) of q in the model's unconstrained space: N(centre + C m, C S C^T)."""
        m, omega, L = self.q.unpack(lam)
        if self.C is None:
            return self.centre + m, omega, L
        if self.C.ndim == 1:
            return self.zeta(m), omega + np.log(self.C), None if L is None else self.C[:, None] * L
        L = self.C @ L
        return self.zeta(m), np.log(np.diag(L)), L


class StanStep:
    """Stan's step: lam += eta k^(-1/2 + 1e-16) g / (tau + sqrt(s_k))."""

    def __init__(self, eta, tau=1.0, alpha=0.1):
        self.eta, self.tau, self.alpha, self.k, self.s = eta, tau, alpha, 0, None

    def direction(self, g):
        self.k += 1
        self.s = g * g if self.s is None else self.alpha * g * g + (1 - self.alpha) * self.s
        return self.eta * self.k ** (-0.5 + 1e-16) * g / (self.tau + np.sqrt(self.s))


class Adam:
    """Adam (Kingma and Ba) ascending the ELBO: lam += lr m_hat / (sqrt(v_hat) + eps)."""

    def __init__(self, lr, betas=(0.9, 0.999), eps=1e-8):
        self.lr, (self.b1, self.b2), self.eps, self.k = lr, betas, eps, 0
        self.m = self.v = 0.0

    def direction(self, g):
        self.k += 1
        self.m = self.b1 * self.m + (1 - self.b1) * g
        self.v = self.b2 * self.v + (1 - self.b2) * g * g
        m_hat = self.m / (1 - self.b1 ** self.k)
        v_hat = self.v / (1 - self.b2 ** self.k)
        return self.lr * m_hat / (np.sqrt(v_hat) + self.eps)


class Window:
    """Running sums of the iterates over a window of `size` steps, per half: their mean, and
    the split R-hat of the iterates (the two halves as two chains; Gelman et al., BDA3)."""

    def __init__(self, lam, size):
        self.size, self.n, self.half = size, 0, size // 2
        self.shift = lam.copy()          # sums of lam - shift: no cancellation far from 0
        self.sums = np.zeros((2, lam.size))
        self.squares = np.zeros((2, lam.size))

    @property
    def full(self):
        return self.n >= self.size

    def add(self, lam):
        h = 0 if self.n < self.size - self.half else 1
        d = lam - self.shift
        self.sums[h] += d
        self.squares[h] += d * d
        self.n += 1

    def mean(self):
        return self.shift + self.sums.sum(0) / self.n

    def drift(self, q):
        """How far the iterates moved within the window: max over coordinates of the change of
        the half means, |mean2 - mean1|, for each mean in units of q's sd there and for each
        log-scale omega as is (0.1: the sd changed by 10%). Small when the window is
        stationary at the scale that matters for the posterior summaries."""
        n1 = self.size - self.half
        n2 = self.n - n1
        if n2 < 1:
            return math.inf
        m1, m2 = self.sums[0] / n1, self.sums[1] / n2
        d = q.dim
        _, omega, L = q.unpack(self.mean())
        sd = np.exp(omega) if L is None else np.sqrt(np.sum(L * L, axis=1))
        return float(max(np.max(np.abs(m2[:d] - m1[:d]) / sd),
                         np.max(np.abs(m2[d:2 * d] - m1[d:2 * d]))))

    def rhat(self):
        """Split R-hat of the iterates, the two halves as two chains (max over coordinates;
        `psis.rhat_from_halves` on the halves' streamed means and variances)."""
        n1, n2 = self.size - self.half, self.n - (self.size - self.half)
        n = min(n1, n2)
        if n < 4:
            return math.nan
        counts = np.array([[n1], [n2]], dtype=float)
        means = self.sums / counts
        var = (self.squares - counts * means ** 2) / (counts - 1)
        r = rhat_from_halves(n, means, var)
        return float(np.max(np.where(np.isfinite(r), r, 1.0)))


def precondition(run, family):
    """Whiten the unconstrained space at the mode: zeta = z_hat + C u, with z_hat the mode of the
    unconstrained density (Newton's method on the engine's Hessian), H its Hessian there, and C
    = cholesky(H^-1) (fullrank) or diag(H_ii^(-1/2)) (meanfield: the meanfield optimum of a
    Gaussian target). In u the posterior is close to N(0, I), which Stan's per-coordinate step
    sizes handle well; q keeps its family (C is lower-triangular or diagonal). The start (u =
    0, omega = 0) is the Laplace approximation. Skipped (C = I, zeta = initial point, as Stan)
    when there is no finite mode with a negative-definite Hessian, or when that start has a
    lower ELBO than Stan's. Returns what was done, for `fit.info`."""
    model = run.model
    try:
        if model.layouts:       # data on disk: Newton on map-reduce gradients and Hessians
            z_hat, H = model.full_mode(run.centre, gtol=1e-3)
        else:
            with np.errstate(all="ignore"):
                found = ad.minimize_newton(lambda z: -model.unconstrained_log_density(z),
                                           run.centre, gtol=1e-3, maxiter=100)  # rough is enough
                z_hat = np.asarray(found.x, dtype=float)
                H = np.asarray(ad.hessian(model.unconstrained_log_density)(z_hat)) * -1.0
            if not found.converged:
                return f"no: Newton's method found no mode in {found.iterations} steps"
        if not np.all(np.isfinite(H)):
            return "no: the Hessian at the mode is not finite"
        if family == "fullrank":
            C = np.linalg.cholesky(np.linalg.inv(0.5 * (H + H.T)))   # C C^T = H^-1
            log_det = float(np.sum(np.log(np.diag(C))))
        else:
            d = np.diag(H)
            if not np.all(d > 0):
                raise np.linalg.LinAlgError("non-positive curvature")
            C = 1.0 / np.sqrt(d)
            log_det = float(np.sum(np.log(C)))
    except (ad.NewtonError, FloatingPointError) as e:
        return f"no: Newton's method found no mode ({e})"
    except np.linalg.LinAlgError as e:
        return f"no: the Hessian at the mode is not negative definite ({e})"
    lam0 = run.q.init(np.zeros(model.num_params))
    stan_elbo = run.elbo(lam0)
    saved = run.centre, run.C, run.log_det_C
    run.centre, run.C, run.log_det_C = z_hat, C, log_det
    laplace_elbo = run.elbo(lam0)
    if not laplace_elbo > stan_elbo:
        run.centre, run.C, run.log_det_C = saved
        return (f"no: the Laplace start's ELBO {laplace_elbo:.4g} is not above the initial "
                f"point's {stan_elbo:.4g}")
    if model.layouts and model.subsampled:   # minibatches of data on disk: control variate
        run.model = model.anchored(z_hat)
        return "yes: whitened at the mode by its Hessian; minibatches anchored there"
    return "yes: whitened at the mode by its Hessian"
