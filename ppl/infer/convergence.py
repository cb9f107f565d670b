"""When ADVI stops: Stan's relative-ELBO rule, then iterate averaging over windows.

Stan's rule (`StanRule`): every `eval_elbo` steps the relative change |(ELBO_k - ELBO_(k-1)) /
ELBO_k| enters a circular buffer; converged when its mean or its (upper) median is under
`tol_rel_obj`. Beyond Stan, also when the median of the last 10 changes |ELBO_k - ELBO_(k-1)|
is within the Monte Carlo noise of the estimates (2 sqrt(2) standard errors): where |ELBO| is
a few nats (a trivial conjugate model) the relative change is noise over a small number and
Stan's rule never fires. Either can fire while the iterates still move (with |ELBO| in the
hundreds, at the third estimate), so ADVI then averages the iterates over a `Window`
(Polyak-Ruppert; Dhaka et al., NeurIPS 2020) until one is settled (`settled`): the ELBO no
longer rises and the iterates' half means moved less than `DRIFT` of q's sd.
"""
import math

import numpy as np

from .diagnostics import rhat_from_halves

__all__ = ["StanRule", "Window", "settled", "trending", "DRIFT", "WINDOW_MIN"]

WINDOW_MIN = 4     # averaging windows last at least this many ELBO evaluations (then as
                   # many as they need: a window that has not settled is followed by another)
DRIFT = 0.1        # settled: the half means of a window moved less than 0.1 sd
NOISE_WINDOW = 10  # the noise rule looks at the last 10 ELBO changes


class StanRule:
    """Stan's rule over a circular buffer of `size` relative changes. As Stan, the ELBO starts
    at 0, so the first relative change is 1 and the mean rule cannot fire before that entry
    leaves the buffer."""

    def __init__(self, size, tol):
        self.size, self.tol, self.buffer, self.prev = size, tol, [], 0.0
        self.changes = []

    def __repr__(self):
        return f"StanRule(size={self.size}, tol={self.tol:g}, last={self.last:.3g})"

    @property
    def last(self):
        return self.buffer[-1] if self.buffer else math.nan

    def update(self, elbo, se=0.0):
        """Push |(ELBO_prev - ELBO) / ELBO| (and |ELBO_prev - ELBO|); returns "mean" or "median"
        (the relative rule that fired, Stan's `circ_buff_median` being the upper median),
        "noise" (the median change within 2 sqrt(2) `se`, the estimate's standard error) or
        None. `reason()` says it in words."""
        rel = abs((self.prev - elbo) / elbo) if elbo != 0 else math.inf
        self.changes.append(abs(self.prev - elbo))
        self.prev = elbo
        self.buffer.append(rel)
        del self.buffer[:-self.size], self.changes[:-NOISE_WINDOW]
        mid = len(self.buffer) // 2
        mean_cb, med_cb = float(np.mean(self.buffer)), float(sorted(self.buffer)[mid])
        self.value = min(mean_cb, med_cb)
        self.change = float(sorted(self.changes)[len(self.changes) // 2])
        self.noise = 2.0 * math.sqrt(2.0) * se
        if mean_cb < self.tol:
            return "mean"
        if med_cb < self.tol:
            return "median"
        return "noise" if len(self.changes) == NOISE_WINDOW and self.change < self.noise else None

    def reason(self, fired, k):
        if fired == "noise":
            return (f"the median ELBO change {self.change:.3g} is within its Monte Carlo noise "
                    f"({self.noise:.3g}) at step {k}")
        return (f"the {fired} relative ELBO change {self.value:.3g} < tol_rel_obj={self.tol:g} "
                f"at step {k}")


class Window:
    """Running sums of the iterates over a window of `size` steps, per half: their mean, and
    the split R-hat of the iterates (the two halves as two chains; Gelman et al., BDA3)."""

    def __init__(self, lam, size):
        self.size, self.n, self.half = size, 0, size // 2
        self.shift = lam.copy()          # sums of lam - shift: no cancellation far from 0
        self.sums = np.zeros((2, lam.size))
        self.squares = np.zeros((2, lam.size))

    def __repr__(self):
        return f"Window({self.n}/{self.size} steps)"

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
        sd = q.gaussian(self.mean()).sd()
        return float(max(np.max(np.abs(m2[:d] - m1[:d]) / sd),
                         np.max(np.abs(m2[d:2 * d] - m1[d:2 * d]))))

    def rhat(self):
        """Split R-hat of the iterates, the two halves as two chains (max over coordinates;
        `diagnostics.rhat_from_halves` on the halves' streamed means and variances)."""
        n1, n2 = self.size - self.half, self.n - (self.size - self.half)
        n = min(n1, n2)
        if n < 4:
            return math.nan
        counts = np.array([[n1], [n2]], dtype=float)
        means = self.sums / counts
        var = (self.squares - counts * means ** 2) / (counts - 1)
        r = rhat_from_halves(n, means, var)
        return float(np.max(np.where(np.isfinite(r), r, 1.0)))


def settled(q, window, elbos, drift=DRIFT):
    """Whether a full window is settled: the ELBO estimates over it (`elbos`) no longer rise
    and the iterates' half means moved less than `drift` (`Window.drift`). Returns (settled,
    the drift)."""
    moved = window.drift(q)
    return moved < drift and not trending(elbos), moved


def trending(elbos):
    """Whether the ELBO estimates still rise: the mean of the second half exceeds the first's
    by more than two standard errors (Welch)."""
    n = len(elbos) // 2
    if n < 2:
        return False
    a, b = np.asarray(elbos[:n]), np.asarray(elbos[-n:])
    return b.mean() - a.mean() > 2.0 * math.sqrt((a.var(ddof=1) + b.var(ddof=1)) / n)
