"""The objective: the model's log density at draws, and the stochastic ELBO over it.

`LogDensity.evaluate(Z)` is the ONE place where the model's unconstrained log density (and its
gradient) is evaluated at a batch of draws Z, shape (S, D): the ELBO estimates, its gradient
with several draws, and k-hat's log p all go through it.

`Elbo` is the stochastic objective of ADVI for a family q (lam -> Gaussian) in coordinates
zeta = centre + C u (`Coordinates`: C = I, or a whitening at the mode):

    ELBO(lam) = E_eps[log p(centre + C T_lam(eps))] + H[q_lam] + log|det C|,

estimated with `elbo_samples` fresh draws (no tape), and its gradient in lam by the
reparameterisation with `grad_samples` draws (see `families`).

Draws whose log density or gradient is not finite are redrawn (10 tries) and left out of the
ELBO estimates, as Stan does: q is fitted to the posterior restricted to where the density is
finite, so a model that is NaN on part of its support pulls q there (fix the model).
"""
import math
from dataclasses import dataclass
from typing import NamedTuple, Optional

import numpy as np

import autodiff as ad

from ..distributions.base import validation_enabled

__all__ = ["LogDensity", "Coordinates", "Elbo", "Estimate"]

_RETRIES = 10        # fresh draws tried for a non-finite gradient before the step is skipped
_AUDIT_RECORD = 8    # points where a recorded tape must agree with the model before replay
_AUDIT = 5           # draws of each ELBO estimate also run through the model, to compare


class LogDensity:
    """z -> log p(x, T(z)) + log|det J_T(z)|, the model's unconstrained log density, at a batch
    of draws (`evaluate`). `sub_rng`: the generator of subsampled plates' indices, or None
    (all the data).

    Without subsampled plates the density's value and gradient can be compiled once (`record`,
    `autodiff.compile_value_and_grad`) and the program runs at each draw; a batch of draws is
    one batched pass of it (`.values`, `.batch`). The model's Python runs only to record and to
    audit: the program must agree with the model at `probes` points around where it was
    recorded, and each batch of values runs its first `audit_draws` draws through the model too
    (where both give inf or NaN, as an overflowing recursion can, counts as agreeing: no branch
    there); a mismatch (a model that branches on a value) turns the program off for good. A
    branch taken only in a region those checks never visit would go unseen: `replay_note` says
    what ran."""

    def __init__(self, model, sub_rng=None, audit_draws=_AUDIT):
        self.model, self.sub_rng, self.audit_draws = model, sub_rng, audit_draws
        self.value_and_grad = ad.value_and_grad(self.log_p)
        self.replay, self.replay_note = None, "no: not recorded"
        self.n_grad = 0           # gradient evaluations so far

    def __repr__(self):
        return f"LogDensity({self.model.name}, replay {self.replay_note})"

    def log_p(self, z):
        return self.model.unconstrained_log_density(z, self.sub_rng)

    def record(self, z, probes=_AUDIT_RECORD):
        """Run the density's compiled program from now on if it was recorded at z and agrees
        with fresh runs at `probes` points around it (value and gradient; inf or NaN in both
        is an overflow, not a branch)."""
        if self.sub_rng is not None:
            self.replay_note = "no: subsampled plates draw new indices at every step"
            return
        if self.model.layouts:
            self.replay_note = "no: data on disk, read chunk by chunk"
            return
        try:
            with np.errstate(all="ignore"), validation_enabled(False):
                r = ad.compile_value_and_grad(self.model.unconstrained_log_density, z)
                probe = np.random.default_rng(0).standard_normal((probes,) + z.shape)
                verdicts = [self._audit(r, z + 0.5 * (i + 1) * p) for i, p in enumerate(probe)]
        except (ValueError, TypeError, ArithmeticError, np.linalg.LinAlgError) as e:
            self.replay_note = f"no: {e}"
            return
        differs = [v for v in verdicts if v.startswith("differs")]
        if differs:
            self.replay_note = (f"no: the recorded tape disagrees with a fresh run at "
                                f"{len(differs)} of {probes} probe points (the model branches "
                                f"on a value): {differs[0][len('differs: '):]}")
            return
        over = verdicts.count("overflow")
        self.replay, self.replay_note = r, f"yes: {len(r)} ops compiled" + (
            f"; at {over} of {probes} probe points the density overflows (inf or NaN in both "
            f"the program and a fresh run: not a branch)" if over else "")

    def _audit(self, r, z):
        """`r.audit(z)`: "agrees", "overflow" or "differs: ..."; a linear-algebra failure in
        the program agrees with a fresh run that gives a non-finite density there."""
        try:
            return r.audit(z)
        except np.linalg.LinAlgError:
            with ad.no_grad():
                finite = np.isfinite(self._value(z, replayed=False))
            return "differs: a linear-algebra failure" if finite else "agrees"

    def _value_and_grad(self, z):
        """(log p, gradient) at z, replayed or fresh; NaN where a linear-algebra op fails (a
        matrix not positive definite, a zero on a triangular factor's diagonal in floating
        point): a non-finite draw, retried as any other."""
        try:
            if self.sub_rng is None and self.model.layouts:   # all the data on disk: map-reduce
                return self.model.full_value_and_grad(z)
            return (self.value_and_grad if self.replay is None else self.replay)(z)
        except np.linalg.LinAlgError:
            return math.nan, np.full(z.shape, math.nan)

    def _value(self, z, replayed=True):
        """log p at z without a tape, replayed (when there is a replay) or fresh; NaN where
        linear algebra fails."""
        try:
            if replayed and self.replay is not None:
                return float(self.replay.value(z))
            return float(ad.getval(self.log_p(z)))
        except np.linalg.LinAlgError:
            return math.nan

    def evaluate(self, Z, grad=False):
        """log p at each row of Z (S, D): values (S,), and with `grad` also their gradients
        (S, D). Non-finite where the density is undefined (NaN where linear algebra fails).
        The one multi-draw evaluation: with a compiled program, one batched pass of it
        (`.values`, `.batch`; row by row when linear algebra fails in the batch)."""
        Z = np.asarray(Z, dtype=float)
        if grad:
            self.n_grad += len(Z)
            with np.errstate(all="ignore"):
                if self.replay is not None:       # the program reads no validation flag
                    return self._values_and_grads(Z)
                with validation_enabled(False):
                    return self._values_and_grads(Z)
        with np.errstate(all="ignore"), validation_enabled(False):
            if self.model.layouts:      # data on disk: every draw in one pass over the chunks
                return np.asarray(self.model.full_log_density(Z), dtype=float)
            with ad.no_grad():
                if self.replay is not None:
                    vals = self._batched(Z)
                    for i in range(min(self.audit_draws, len(Z))):
                        fresh = self._value(Z[i], replayed=False)
                        overflow = not (np.isfinite(fresh) or np.isfinite(vals[i]))
                        if not (overflow or np.isclose(fresh, vals[i], rtol=1e-9, atol=1e-12)):
                            self.replay = None
                            self.replay_note = (f"off after {self.n_grad} gradients: the "
                                                f"replay gave {vals[i]!r} where the model "
                                                f"gives {fresh!r}")
                            break
                if self.replay is None:
                    vals = np.array([self._value(z) for z in Z], dtype=float)
        return vals

    def _values_and_grads(self, Z):
        """(values, gradients) at the rows of Z: one call of the program for one row, one
        batched pass for several; row by row where linear algebra fails."""
        if len(Z) == 1:                             # a copy: the caller writes into it
            v, g = self._value_and_grad(Z[0])
            return np.array([v], dtype=float), np.array(g, dtype=float)[None]
        if self.replay is not None:
            try:
                return self.replay.batch(Z)
            except np.linalg.LinAlgError:
                pass
        vals, grads = np.empty(len(Z)), np.empty(Z.shape)
        for i, z in enumerate(Z):
            vals[i], grads[i] = self._value_and_grad(z)
        return vals, grads

    def _batched(self, Z):
        """log p at the rows of Z by one batched pass of the program; row by row (NaN where
        linear algebra fails) when the batch fails."""
        if len(Z) > 1:
            try:
                return np.asarray(self.replay.values(Z), dtype=float)
            except np.linalg.LinAlgError:
                pass
        return np.array([self._value(z) for z in Z], dtype=float)


def _all_finite(a):
    """Whether every entry of the array `a` is finite (`np.isfinite(a).all()`, one call)."""
    return bool(np.logical_and.reduce(np.isfinite(a), axis=None))


@dataclass(frozen=True, eq=False)
class Coordinates:
    """zeta = centre + C u: the coordinates u the optimiser works in. C is None (the identity),
    a (D,) diagonal or a (D, D) lower-triangular matrix; log_det_C = log|det C|."""
    centre: np.ndarray
    C: Optional[np.ndarray] = None
    log_det_C: float = 0.0

    @property
    def whitened(self):
        return self.C is not None

    def to_zeta(self, u):
        """zeta = centre + C u (u of shape (D,) or (S, D))."""
        if self.C is None:
            return self.centre + u
        return self.centre + (u * self.C if self.C.ndim == 1 else u @ self.C.T)

    def pullback(self, g):
        """grad_u = C^T grad_zeta (g of shape (D,))."""
        if self.C is None:
            return g
        return g * self.C if self.C.ndim == 1 else self.C.T @ g

    def gaussian(self, q, lam):
        """(mu, omega, L) of q_lam pushed to the model's unconstrained space:
        N(centre + C m, C S C^T); L is None for a diagonal result."""
        m, omega, L = q.unpack(lam)
        if self.C is None:
            return self.centre + m, omega, L
        if self.C.ndim == 1:
            return (self.to_zeta(m), omega + np.log(self.C),
                    None if L is None else self.C[:, None] * L)
        L = self.C @ (np.diag(np.exp(omega)) if L is None else L)
        return self.to_zeta(m), np.log(np.diag(L)), L


class Estimate(NamedTuple):
    """An ELBO estimate: its value, Monte Carlo standard error, and the draws left out."""
    value: float
    se: float
    dropped: int


class Elbo:
    """The stochastic ELBO of family `q` over `density` in coordinates `coords`; draws for
    gradients from `grad_rng`, for estimates from `elbo_rng`. `at(coords)` gives the same
    objective (the same generators) in other coordinates."""

    def __init__(self, density, q, coords, grad_rng, elbo_rng, grad_samples=1,
                 elbo_samples=100):
        self.density, self.q, self.coords = density, q, coords
        self.grad_rng, self.elbo_rng = grad_rng, elbo_rng
        self.grad_samples, self.elbo_samples = grad_samples, elbo_samples

    def __repr__(self):
        return (f"Elbo({self.q!r}, whitened={self.coords.whitened}, grad_samples="
                f"{self.grad_samples}, elbo_samples={self.elbo_samples})")

    def at(self, coords):
        return Elbo(self.density, self.q, coords, self.grad_rng, self.elbo_rng,
                    self.grad_samples, self.elbo_samples)

    def grad(self, lam):
        """Monte Carlo gradient of the ELBO in lam, the mean over `grad_samples` draws of
        grad_lam log p(zeta(lam, eps)), plus grad_lam H[q]; None when some draw found no
        finite log density and gradient in `_RETRIES` tries (the step is then skipped)."""
        q = self.q
        eps = self.grad_rng.standard_normal((self.grad_samples, q.noise_dim))
        lp, g = self._log_p_and_grad(lam, eps)
        if not (_all_finite(lp) and _all_finite(g)):
            for _ in range(_RETRIES - 1):
                bad = ~(np.isfinite(lp) & np.isfinite(g).all(axis=1))
                if not bad.any():
                    break
                eps[bad] = self.grad_rng.standard_normal((int(bad.sum()), q.noise_dim))
                lp[bad], g[bad] = self._log_p_and_grad(lam, eps[bad])
            else:
                if not np.all(np.isfinite(lp) & np.isfinite(g).all(axis=1)):
                    return None
        if self.grad_samples == 1:
            return q.grad_elbo(lam, eps[0], g[0])
        total = q.grad_log_p(lam, eps[0], g[0])
        for i in range(1, self.grad_samples):
            total = total + q.grad_log_p(lam, eps[i], g[i])
        total /= self.grad_samples
        return total + q.grad_entropy(lam)

    def _log_p_and_grad(self, lam, eps):
        """log p and grad_u log p at the draws u = T_lam(eps), eps (S, D): one batched
        evaluation (each row's zeta and pullback computed as a vector, as one draw would)."""
        q, coords = self.q, self.coords
        if len(eps) == 1:
            Z = coords.to_zeta(q.transform(lam, eps[0]))[None]
        else:
            Z = np.stack([coords.to_zeta(q.transform(lam, e)) for e in eps])
        lp, g = self.density.evaluate(Z, grad=True)
        if coords.C is None:
            return lp, g
        with np.errstate(all="ignore"):
            if coords.C.ndim == 1:
                g *= coords.C                       # each row's C^T g, diagonal C
            else:
                for i in range(len(g)):
                    g[i] = coords.pullback(g[i])
        return lp, g

    def draws(self):
        """Fresh standard-normal draws eps (elbo_samples, q.noise_dim) for `estimate`."""
        return self.elbo_rng.standard_normal((self.elbo_samples, self.q.noise_dim))

    def estimate(self, lam, eps=None):
        """ELBO estimate with `elbo_samples` draws: mean log p over the finite draws + H[q] +
        log|det C|, its standard error sd(log p) / sqrt(draws), and the number of non-finite
        draws left out; (-inf, inf, S) when none is finite. `eps`: the standard-normal draws
        to use (fresh ones by default; the same ones for estimates to be compared)."""
        q = self.q
        if eps is None:
            eps = self.draws()
        vals = self.density.evaluate(self.coords.to_zeta(q.transform(lam, eps)))
        ok = np.isfinite(vals)
        dropped = int((~ok).sum())
        if not ok.any():
            return Estimate(-math.inf, math.inf, dropped)
        value = float(vals[ok].mean()) + q.entropy(lam) + self.coords.log_det_C
        se = float(vals[ok].std(ddof=1) / math.sqrt(ok.sum())) if ok.sum() > 1 else 0.0
        return Estimate(value, se, dropped)
