"""The radon posterior by Gibbs sampling in numpy, independent of the engine (the reference for
the zoo's radon fit test in tests/models and for bench/advi_bench.py's radon rows).

    >>> from models import radon
    >>> draws = gibbs(radon.data(), sweeps=20, chains=2)
    >>> draws.shape                                  # (chains, kept sweeps, 4 + J)
    (2, 10, 89)
"""
import numpy as np

__all__ = ["gibbs", "split_rhat", "COLUMNS"]

COLUMNS = ["mu_a", "sigma_a", "b", "sigma_y"]   # then a_1..a_J


def gibbs(data, sweeps, chains=4, seed=0):
    """Draws (chains, sweeps // 2, 4 + J) of (mu_a, sigma_a, b, sigma_y, a_1..a_J): a_j, mu_a
    and b from their normal full conditionals; sigma_y and sigma_a by an independence Metropolis
    step whose proposal is the inverse-gamma conditional under a flat prior on the scale,
    accepted with probability min(1, HalfNormal(new | 5) / HalfNormal(old | 5)). Priors:
    mu_a, b ~ N(0, 10), sigma_a, sigma_y ~ HalfNormal(5). Half the sweeps are burn-in."""
    county, x, y, J = data["county"], data["x"], data["y"], data["J"]
    n = y.size
    Z = np.zeros((n, J))
    Z[np.arange(n), county] = 1.0
    n_j, xx = Z.sum(0), x @ x
    rng = np.random.default_rng(seed)
    C = chains
    mu_a, b = rng.normal(size=C), rng.normal(size=C)
    sig_a, sig_y = np.exp(rng.normal(size=C)), np.exp(rng.normal(size=C))
    a = mu_a[:, None] + rng.normal(size=(C, J))
    keep = []

    def scale_step(old, ss, dof):          # target s^-dof exp(-ss / 2s^2) HalfNormal(s | 5)
        new = np.sqrt(0.5 * ss / rng.gamma(0.5 * (dof - 1), 1.0, size=C))
        accept = np.log(rng.random(C)) < -(new ** 2 - old ** 2) / 50.0
        return np.where(accept, new, old)
    for t in range(sweeps):
        prec = n_j / sig_y[:, None] ** 2 + 1.0 / sig_a[:, None] ** 2
        rhs = ((y - b[:, None] * x) @ Z) / sig_y[:, None] ** 2 + (mu_a / sig_a ** 2)[:, None]
        a = rhs / prec + rng.normal(size=(C, J)) / np.sqrt(prec)
        prec = J / sig_a ** 2 + 1.0 / 100.0
        mu_a = a.sum(1) / sig_a ** 2 / prec + rng.normal(size=C) / np.sqrt(prec)
        fit = a[:, county]
        prec = xx / sig_y ** 2 + 1.0 / 100.0
        b = ((y - fit) @ x) / sig_y ** 2 / prec + rng.normal(size=C) / np.sqrt(prec)
        sig_y = scale_step(sig_y, np.sum((y - fit - b[:, None] * x) ** 2, axis=1), n)
        sig_a = scale_step(sig_a, np.sum((a - mu_a[:, None]) ** 2, axis=1), J)
        if t >= sweeps // 2:
            keep.append(np.column_stack([mu_a, sig_a, b, sig_y, a]))
    return np.stack(keep, axis=1)


def split_rhat(draws):
    """max over quantities of the split R-hat of (chains, n, k) draws (BDA3, 11.4)."""
    h = draws.shape[1] // 2
    halves = np.concatenate([draws[:, :h], draws[:, h:2 * h]], axis=0)
    w = halves.var(axis=1, ddof=1).mean(0)
    b = h * halves.mean(axis=1).var(axis=0, ddof=1)
    return float(np.max(np.sqrt(((h - 1) / h * w + b / h) / w)))
