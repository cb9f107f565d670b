"""Diagnostics of a fit: Pareto-smoothed importance sampling (PSIS) with its k-hat, and the
split R-hat, in numpy. The k-hat thresholds live here, once (`KHAT_GOOD`, `KHAT_BAD`).

PSIS (Vehtari, Simpson, Gelman, Yao, Gabry, "Pareto smoothed importance sampling", JMLR 2024;
first version 2015): given S log importance ratios r_s = log p(theta_s) - log q(theta_s),

1. take the M = ceil(min(0.2 S, 3 sqrt(S))) largest ratios as the tail, and the largest ratio
   outside it as the threshold u;
2. fit a generalized Pareto distribution GPD(k, sigma) to the exceedances exp(r) - exp(u) with
   the empirical-Bayes method of Zhang & Stephens ("A new and efficient estimation method for
   the generalized Pareto distribution", Technometrics 2009), and shrink the shape towards 0.5
   with the weakly informative prior of Vehtari et al. (prior sample size 10):
   k <- (M k + 10 * 0.5) / (M + 10);
3. replace the tail ratios, in order, by exp(u) + F^{-1}((z - 1/2) / M), z = 1..M, where F is
   the fitted GPD's CDF, and truncate every weight at the largest raw weight.

k-hat (the fitted shape) is the diagnostic: below 0.5 the importance weights (and the
approximation q) are reliable, 0.5-0.7 usable with care, above 0.7 unreliable (Yao, Vehtari,
Simpson, Gelman, "Yes, but did it work?: Evaluating variational inference", ICML 2018).

    >>> import numpy as np
    >>> lw, k = psis(np.random.default_rng(0).normal(size=1000) * 0.1)
    >>> round(float(np.exp(lw).sum()), 12), bool(k < 0.5)
    (1.0, True)
"""
import math

import numpy as np

__all__ = ["rhat_from_halves", "psis", "gpd_fit", "split_rhat", "khat", "khat_words",
           "KHAT_GOOD", "KHAT_BAD", "NoFiniteWeights"]

KHAT_GOOD = 0.5    # Yao et al. 2018: below this the importance weights are reliable
KHAT_BAD = 0.7     # above this the approximation is unreliable (0.5-0.7: usable with care)
_PRIOR_K, _PRIOR_N = 0.5, 10   # weakly informative prior on the shape: 10 pseudo-draws at 0.5


def _logsumexp(a):
    m = np.max(a)
    if not np.isfinite(m):
        return m
    return m + math.log(np.sum(np.exp(a - m)))


def gpd_fit(x):
    """Fit GPD(k, sigma) to exceedances x >= 0 (Zhang & Stephens 2009, plus the shape prior).

    Profile log likelihood over theta = -k / sigma: with k(theta) = mean(log(1 - theta x)),
    l(theta) = n (log(-theta / k(theta)) - k(theta) - 1); theta_hat is its posterior mean over
    the grid theta_j = 1/x_(n) + (1 - sqrt(m / (j - 1/2))) / (3 x_(q1)), j = 1..m,
    m = 30 + floor(sqrt(n)), with x_(q1) the first-quartile order statistic. Then
    k = mean(log(1 - theta_hat x)), sigma = -k / theta_hat, and k is shrunk:
    k <- (n k + 10 * 0.5) / (n + 10). Returns (k, sigma); (inf, nan) when x has no spread.

        >>> x = np.random.default_rng(1).pareto(2.0, 20000)   # Lomax: GPD with k = 1/2
        >>> abs(gpd_fit(x)[0] - 0.5) < 0.05
        True
    """
    x = np.sort(np.asarray(x, dtype=float))
    n = x.size
    if n == 0 or not x[-1] > 0:
        return math.inf, math.nan
    m = 30 + int(math.sqrt(n))
    j = np.arange(1, m + 1)
    x_q1 = x[int(n / 4 + 0.5) - 1]
    if not x_q1 > 0:            # more than a quarter of the tail at the threshold
        x_q1 = x[x > 0][0]
    theta = 1.0 / x[-1] + (1.0 - np.sqrt(m / (j - 0.5))) / (3.0 * x_q1)
    k_theta = np.mean(np.log1p(-theta[:, None] * x[None, :]), axis=1)   # = -k of Zhang
    with np.errstate(divide="ignore", invalid="ignore"):
        prof = n * (np.log(-theta / k_theta) - k_theta - 1.0)
    ok = np.isfinite(prof)
    if not ok.any():
        return math.inf, math.nan
    w = np.exp(prof[ok] - _logsumexp(prof[ok]))
    theta_hat = float(np.sum(w * theta[ok]))
    k = float(np.mean(np.log1p(-theta_hat * x)))
    sigma = -k / theta_hat
    k = (n * k + _PRIOR_N * _PRIOR_K) / (n + _PRIOR_N)
    return k, sigma


def _gpd_quantile(p, k, sigma):
    """F^{-1}(p) = sigma ((1 - p)^(-k) - 1) / k, and -sigma log(1 - p) at k = 0."""
    if abs(k) < 1e-12:
        return -sigma * np.log1p(-p)
    return sigma * np.expm1(-k * np.log1p(-p)) / k


def psis(log_weights):
    """Pareto-smoothed log importance weights, normalised (logsumexp = 0), and k-hat.

    `log_weights`: (S,) log ratios log p - log q (up to a constant; -inf allowed, for a draw
    where p = 0). The M = ceil(min(0.2 S, 3 sqrt(S))) largest weights are replaced by the
    quantiles of a generalized Pareto fitted to them (see the module docstring), then truncated
    at the largest raw weight. With fewer than 5 tail draws (S <= 20) nothing is fitted: the
    weights are only normalised and k-hat is inf (too few draws to judge).

        >>> lw, k = psis(np.zeros(100))     # equal weights: no tail to fit
        >>> round(float(np.exp(lw[0])), 12), k
        (0.01, -inf)
    """
    lw = np.asarray(log_weights, dtype=float)
    if lw.ndim != 1 or lw.size < 2:
        raise ValueError(f"psis: log_weights must be a 1-D array of at least 2 values, got "
                         f"shape {lw.shape}")
    if np.isnan(lw).any() or np.isposinf(lw).any():
        raise ValueError(f"psis: log_weights contain {int(np.isnan(lw).sum())} NaN and "
                         f"{int(np.isposinf(lw).sum())} +inf value(s); only finite values or "
                         "-inf (zero weight) are allowed")
    if not np.isfinite(lw).any():
        raise NoFiniteWeights("psis: every log weight is -inf (no draw has positive weight)")
    s = lw.size
    lw = lw - lw.max()                 # the largest raw weight is now 1 (log 0)
    tail = int(math.ceil(min(0.2 * s, 3.0 * math.sqrt(s))))
    khat = math.inf
    if tail >= 5:
        order = np.argsort(lw, kind="stable")
        idx = order[-tail:]
        log_u = lw[order[-tail - 1]]
        u = math.exp(log_u)
        x = np.exp(lw[idx]) - u        # ascending exceedances over the threshold
        if not x[-1] > 0:
            khat = -math.inf           # the tail is flat: nothing heavy about it
        else:
            khat, sigma = gpd_fit(x)
            if math.isfinite(khat):
                p = (np.arange(1, tail + 1) - 0.5) / tail
                smoothed = np.log(u + _gpd_quantile(p, khat, sigma))
                lw[idx] = np.minimum(smoothed, 0.0)
    return lw - _logsumexp(lw), float(khat)


class NoFiniteWeights(ValueError):
    """Every importance weight is zero: no draw has a finite log density."""


def khat(log_p, log_q):
    """PSIS k-hat of the importance ratios log p - log q over S draws ((S,) arrays each); a NaN
    log p (the density undefined there) counts as a draw of zero weight. Raises
    `NoFiniteWeights` (a ValueError) when no draw has a finite log density.

        >>> z = np.random.default_rng(0).normal(size=1000)
        >>> bool(khat(-0.5 * z ** 2, -0.5 * z ** 2) < KHAT_GOOD)    # q = p: equal weights
        True
    """
    lw = np.asarray(log_p, dtype=float) - np.asarray(log_q, dtype=float)
    lw = np.where(np.isnan(lw), -np.inf, lw)
    if not np.isfinite(lw).any():
        raise NoFiniteWeights(
            f"k-hat: none of the {lw.size} draws of q has a finite log density (every "
            "importance weight is 0): q lies where the model's density is undefined or -inf, "
            "or the posterior is improper")
    return psis(lw)[1]


def khat_words(k):
    """k-hat in words (Yao et al. 2018): "good" below `KHAT_GOOD`, "ok" up to `KHAT_BAD`,
    "unreliable" above."""
    if not k == k:
        return "not computed"
    return "good" if k < KHAT_GOOD else "ok" if k <= KHAT_BAD else "unreliable"


def split_rhat(x):
    """Classic split R-hat of one chain (Gelman et al., Bayesian Data Analysis 3rd ed., 11.4).

    The n draws are split into a first and a last half of h = floor(n / 2) each (the middle
    draw is dropped when n is odd); with W the mean within-half variance and B / h the
    variance of the two half means, R-hat = sqrt(((h - 1) / h W + B / h) / W).
    `x`: (n,) for one quantity (returns a float) or (n, k) for k quantities (returns (k,)).

        >>> bool(abs(split_rhat(np.random.default_rng(0).normal(size=4000)) - 1) < 0.01)
        True
        >>> bool(split_rhat(np.linspace(0, 1, 100)) > 1.5)     # a trend
        True
    """
    a = np.asarray(x, dtype=float)
    if a.ndim not in (1, 2) or a.shape[0] < 4:
        raise ValueError(f"split_rhat: x must have shape (n,) or (n, k) with n >= 4 draws, "
                         f"got shape {a.shape}")
    h = a.shape[0] // 2
    halves = np.stack([a[:h], a[a.shape[0] - h:]])           # (2, h, ...)
    r = rhat_from_halves(h, halves.mean(axis=1), halves.var(axis=1, ddof=1))
    return float(r) if a.ndim == 1 else r


def rhat_from_halves(h, means, variances):
    """R-hat = sqrt(((h - 1) / h W + B / h) / W) from two halves of h draws each: their
    `means` and `variances` (ddof 1), arrays of shape (2, ...); W the mean variance, B / h the
    variance of the means. Shared by `split_rhat` and ADVI's streaming averaging window."""
    w = np.mean(variances, axis=0)
    b = h * np.var(means, axis=0, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.sqrt(((h - 1) / h * w + b / h) / w)
