"""The averaging window's mean and split R-hat against numpy, a hand formula and ArviZ.
Deterministic: milliseconds."""
import math

import numpy as np
import pytest

import arviz as az
from ppl.infer.convergence import Window

def ar1(n, phi=0.5, seed=0):
    """A stationary AR(1) series x_t = phi x_(t-1) + e_t started from its stationary law."""
    rng = np.random.default_rng(seed)
    x = np.empty(n)
    x[0] = rng.standard_normal() / math.sqrt(1 - phi ** 2)
    for t in range(1, n):
        x[t] = phi * x[t - 1] + rng.standard_normal()
    return x


def split_rhat_by_hand(x):
    """BDA3's split R-hat of one series: halves as two chains of n, W the mean within-half
    variance, B = n var(half means); R = sqrt(((n - 1) / n W + B / n) / W)."""
    n = len(x) // 2
    halves = np.stack([x[:n], x[-n:]])
    w = halves.var(axis=1, ddof=1).mean()
    b = n * halves.mean(axis=1).var(ddof=1)
    return math.sqrt(((n - 1) / n * w + b / n) / w)


def filled_window(series):
    x = np.column_stack(series)
    w = Window(x[0], len(x))
    for row in x:
        assert not w.full
        w.add(row)
    assert w.full
    return w, x


def test_window_mean_is_the_mean_of_the_iterates():
    rng = np.random.default_rng(3)
    w, x = filled_window([rng.normal(2.0, 1.0, 500), rng.normal(-1.0, 0.1, 500)])
    np.testing.assert_allclose(w.mean(), x.mean(axis=0), rtol=1e-12)


def test_window_rhat_stationary_and_trending():
    n = 2000                                    # even: both halves have n / 2 iterates
    stationary = ar1(n, seed=1)
    trending = ar1(n, seed=2) + np.linspace(0.0, 3.0, n)
    ref = {name: split_rhat_by_hand(x) for name, x in
           [("stationary", stationary), ("trending", trending)]}
    # the hand formula and ArviZ agree: ArviZ wants two chains, so it gets the two halves and
    # its classic ("identity": no further splitting) R-hat
    for name, x in [("stationary", stationary), ("trending", trending)]:
        halves = np.stack([x[:n // 2], x[n // 2:]])
        assert float(az.rhat(halves, method="identity")) == pytest.approx(ref[name], rel=1e-10)
    assert ref["stationary"] < 1.01 and ref["trending"] > 1.1
    for name, x in [("stationary", stationary), ("trending", trending)]:
        w, _ = filled_window([x])
        assert w.rhat() == pytest.approx(ref[name], rel=1e-9)
    # several coordinates: the largest R-hat
    w, _ = filled_window([stationary, trending])
    assert w.rhat() == pytest.approx(ref["trending"], rel=1e-9)


def test_window_rhat_nan_when_too_short():
    w, _ = filled_window([np.arange(5.0)])
    assert math.isnan(w.rhat())
