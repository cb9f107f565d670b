"""Each method's own record of how its fit went, held by the one result type (`VIResult`) as
`fit.diagnostics`: `AdviDiagnostics` (ppl.advi), `LaplaceDiagnostics` (ppl.laplace) and
`DadviDiagnostics` (ppl.dadvi). Their fields read as attributes of the result (`fit.eta`,
`fit.draws`); `attrs()` gives what ArviZ keeps of them (numbers and strings)."""
import math
from collections import namedtuple
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

__all__ = ["ElboHistory", "AdviDiagnostics", "LaplaceDiagnostics", "DadviDiagnostics",
           "RECORDS"]

ElboHistory = namedtuple("ElboHistory", ["iteration", "elbo"])
ElboHistory.__doc__ = "The ELBO estimates of a fit: `iteration` (int array) and `elbo` (float)."


def _plain(record, skip=()):
    """The record's numbers and strings (ArviZ attributes: netCDF takes nothing else)."""
    return {k: v for k, v in vars(record).items() if k not in skip
            and (v is None or isinstance(v, (bool, int, float, str, np.integer, np.floating)))}


@dataclass(frozen=True)
class AdviDiagnostics:
    """How an ADVI fit went: its ELBO estimates (an `ElboHistory`, or an (iterations, values)
    pair), the step-size scale `eta` (Stan's optimizer), the `optimizer`, the `steps` taken,
    the `skipped` steps (no finite draw), and `rhat`, the split R-hat of the raw iterates
    over the last averaging window."""
    elbo_history: Optional[ElboHistory] = None
    eta: Optional[float] = None
    optimizer: Optional[str] = None
    steps: int = 0
    skipped: int = 0
    rhat: float = math.nan
    method = "advi"

    def __post_init__(self):
        if self.elbo_history is not None:
            object.__setattr__(self, "elbo_history", _check_history(self.elbo_history))
        object.__setattr__(self, "steps", int(self.steps))
        object.__setattr__(self, "skipped", int(self.skipped))
        object.__setattr__(self, "rhat", float(self.rhat))

    def attrs(self):
        """The record's numbers and strings, for ArviZ."""
        return _plain(self)


@dataclass(frozen=True)
class LaplaceDiagnostics:
    """How a Laplace fit went: the log density at the mode (Jacobian included), the
    optimiser's iterations, max |gradient| there, and the Hessian H there (D, D)."""
    log_density: float
    iterations: int
    grad_norm: float
    hessian: np.ndarray
    method = "laplace"

    def attrs(self):
        """The record's numbers and strings, for ArviZ."""
        return _plain(self)


@dataclass(frozen=True)
class DadviDiagnostics:
    """How a deterministic-ADVI fit went (`ppl.dadvi`).

    draws: M, the fixed draws at the end; draws_history: ((M, ELBO, max Monte Carlo sd / sd,
    trust-region steps), ...) per M tried; mc_sd: (D,) Monte Carlo sd of the optimum's means
    (unconstrained; the sandwich); mc_sd_over_sd: its largest ratio to a posterior sd;
    q_family: the family fitted ("meanfield" / "fullrank": the result is fullrank when LRVB
    gave its covariance); lrvb: how LRVB's covariance was computed, or None when it was not
    used; start: the `start.Start` record (the mode and its Hessian); whitening: in words;
    elbo: F at the optimum; steps, grad_norm, message: trust-region Newton-CG's. (The verdict
    is the result's, `fit.verdict`, as for every method.)"""
    draws: int
    draws_history: tuple
    mc_sd: np.ndarray
    mc_sd_over_sd: float
    q_family: str
    lrvb: Optional[str]
    start: Any
    whitening: str
    elbo: float = math.nan
    steps: int = 0
    grad_norm: float = math.nan
    message: str = ""
    method = "dadvi"

    @property
    def elbo_history(self):
        """The fixed-draw ELBO at each M tried (`iteration` holds M)."""
        return ElboHistory(np.array([h[0] for h in self.draws_history], dtype=np.int64),
                           np.array([h[1] for h in self.draws_history], dtype=float))

    def attrs(self):
        """The record's numbers and strings, for ArviZ (the start in words)."""
        return {**_plain(self), "lrvb": self.lrvb or "no", "start": repr(self.start)}


RECORDS = (AdviDiagnostics, LaplaceDiagnostics, DadviDiagnostics)


def _check_history(h):
    try:
        it, elbo = (np.asarray(a) for a in h)
    except (TypeError, ValueError):
        raise ValueError("elbo_history must be a pair (iterations, elbo values) or None, "
                         f"got {type(h).__name__}") from None
    if it.ndim != 1 or it.shape != elbo.shape:
        raise ValueError(f"elbo_history: iterations and ELBO values must be 1-D arrays of "
                         f"one length, got shapes {it.shape} and {elbo.shape}")
    return ElboHistory(it.astype(np.int64), elbo.astype(float))
