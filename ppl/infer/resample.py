"""PSIS importance resampling of q's draws (as Stan's Pathfinder does: Zhang, Carpenter,
Gelman, Vehtari, "Pathfinder: Parallel quasi-Newton variational inference", JMLR 2022).

Draw S from q, log weights log p - log q, smooth them with PSIS (`ppl.psis`; Vehtari et al.),
and draw `size` of the S in proportion to the smoothed weights w (with replacement: exactly
proportional). Valid as a correction only where k-hat < 0.7 (Yao et al., ICML 2018); above,
the draws are returned as they are and the record says so. The effective sample size is
ESS = 1 / sum_s w_s^2.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(0.0, 1.5, size=(20000, 1))          # q = N(0, 1.5^2), target N(0.5, 1)
    >>> lq = -0.5 * (x[:, 0] / 1.5) ** 2
    >>> lp = -0.5 * (x[:, 0] - 0.5) ** 2
    >>> r = psis_resample(x, lp, lq, size=5000, seed=1)
    >>> r.applied, round(float(r.draws.mean()), 1)
    (True, 0.5)
"""
import math
from dataclasses import dataclass

import numpy as np

from .diagnostics import psis
from .verdict import KHAT_OK

__all__ = ["Resampled", "psis_resample"]


@dataclass(frozen=True, repr=False)
class Resampled:
    """draws: (size, D) the resampled draws (q's own first `size` when not applied); indices:
    their rows in the input (None when not applied); khat; ess: 1 / sum w^2 of the smoothed
    weights; applied: whether the resampling was done; message: what was done, in words."""
    draws: np.ndarray
    indices: np.ndarray
    khat: float
    ess: float
    applied: bool
    message: str

    def __repr__(self):
        return f"Resampled({len(self.draws)} draws, applied={self.applied}: {self.message})"


def psis_resample(draws, log_p, log_q, size=None, seed=None):
    """Resample `size` rows of draws (S, D) with probabilities the PSIS-smoothed weights of
    log_p - log_q (each (S,)) when k-hat < 0.7; size defaults to S. NaN log p is a zero
    weight. Returns a `Resampled`."""
    x = np.asarray(draws, dtype=float)
    lp, lq = np.asarray(log_p, dtype=float), np.asarray(log_q, dtype=float)
    if x.ndim != 2 or lp.shape != (len(x),) or lq.shape != (len(x),):
        raise ValueError(f"psis_resample: draws must be (S, D) and log_p, log_q (S,), got "
                         f"{x.shape}, {lp.shape}, {lq.shape}")
    S = len(x)
    size = S if size is None else size
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
        raise ValueError(f"psis_resample: size must be a positive integer, got {size!r}")
    with np.errstate(all="ignore"):
        lw = lp - lq
    lw = np.where(np.isnan(lw) | np.isposinf(lw), -np.inf, lw)
    if not np.isfinite(lw).any():
        return Resampled(x[:size], None, math.inf, 0.0, False, "not resampled: no draw has a "
                         "finite log weight")
    lws, k = psis(lw)
    w = np.exp(lws)
    w /= w.sum()
    ess = float(1.0 / np.sum(w ** 2))
    if not k < KHAT_OK:
        return Resampled(x[:size], None, k, ess, False, f"not resampled: k-hat {k:.2f} over "
                         f"{S} draws of q, >= {KHAT_OK} (the weights are unreliable); q's own "
                         f"draws")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    idx = rng.choice(S, size=int(size), replace=True, p=w)
    return Resampled(x[idx], idx, k, ess, True, f"PSIS-resampled {size} of {S} draws "
                     f"(k-hat {k:.2f}, ESS {ess:.0f})")
