"""A compact Hamiltonian Monte Carlo reference sampler, for posteriors where importance-reweighted
Laplace fails (k-hat >= 0.7, or no mode): bench/accuracy.py scores ADVI against it.

Target: the model's unconstrained density log p(z) = log p(x, T(z)) + log|det J_T(z)|, its value
and gradient from a recorded tape (`autodiff.compile_value_and_grad`, checked against fresh runs
of the model at a few points; `ad.value_and_grad` otherwise). HMC (Neal, "MCMC using Hamiltonian
dynamics", 2011) with a metric Sigma = S S^T, run in whitened coordinates u = S^-1 z:

    H(u, r) = -log p(S u) + |r|^2 / 2,   r ~ N(0, I),
    leapfrog: r += eps/2 S^T grad log p(z);  u += eps r;  r += eps/2 S^T grad log p(z),

n = ceil(T / eps) steps with a jittered integration time T ~ U(0.5, 1.5) pi / 2 (a quarter
period of a unit Gaussian: nearly independent draws when Sigma matches the posterior), then
accept with probability min(1, exp(H_0 - H_n)); |H_n - H_0| > 1000 is a divergence.

Warm-up, Stan-style: up to 100 dimensions Sigma starts as the Laplace covariance when
`ppl.laplace` finds a mode, chains started at Laplace draws; otherwise (and always above 100
dimensions, where the warm-up draws are too few for a dense estimate) Sigma = I, chains
started at Stan's uniform(-2, 2) initial points. The step size follows dual averaging
(Hoffman & Gelman, "The No-U-Turn sampler", JMLR 2014; target acceptance 0.8) throughout; two
windows (25% and 50% of the warm-up) re-estimate Sigma from their draws, pooled over chains
(shrunk as Stan does: n/(n+5) Sigma_hat + 1e-3 * 5/(n+5) I), dense up to 100 dimensions and
diagonal above. Diagnostics on every constrained scalar: split R-hat
over all chains (`ppl.infer.diagnostics.rhat_from_halves` with 2 x chains halves, BDA3 11.4) and the
effective sample size (BDA3 11.5, Geyer's initial monotone sequence). `hmc_reference` returns
an `advi_models.Reference` whose `ok` is max R-hat < 1.01 and no divergences after warm-up.

    >>> import numpy as np, ppl
    >>> @ppl.model
    ... def mean(y):
    ...     mu = ppl.sample("mu", ppl.dist.Normal(0.0, 10.0))
    ...     ppl.sample("y", ppl.dist.Normal(mu, 1.0), obs=y)
    >>> ref = hmc_reference(mean(np.array([1.0, 2.0, 3.0])), draws=300, warmup=200, seed=1)
    >>> ref.ok, abs(float(ref.mean["mu"]) - 6 / 3.01) < 0.1       # conjugate: mean 1.993
    (True, True)
"""
import math
import time
import warnings

import numpy as np
from scipy.linalg import solve_triangular

import autodiff as ad
import ppl
from advi_models import Reference
from ppl.distributions.base import validation_enabled
from ppl.infer.diagnostics import rhat_from_halves

__all__ = ["hmc_reference", "density", "ess", "rhat"]

DELTA, GAMMA, T0, KAPPA = 0.8, 0.05, 10.0, 0.75      # dual averaging (Hoffman & Gelman 2014)
MAX_STEPS = 1024
DENSE_UP_TO = 100


def density(model):
    """z -> (log p(z), grad log p(z)), the compiled tape when it agrees with the model at 8
    points around the initial point, else the engine's value_and_grad; and a note."""
    z0 = model.unconstrain(model.initial_point(0))
    vg = ad.value_and_grad(model.unconstrained_log_density)
    try:
        with np.errstate(all="ignore"), validation_enabled(False):
            r = ad.compile_value_and_grad(model.unconstrained_log_density, z0)
            probe = np.random.default_rng(0).standard_normal((8, z0.size))
            if all(r.check(z0 + 0.5 * (i + 1) * p) for i, p in enumerate(probe)):
                vg, note = r, "compiled tape"
            else:
                note = "no replay (the tape disagrees with the model)"
    except (ValueError, TypeError, ArithmeticError, np.linalg.LinAlgError) as e:
        note = f"no replay ({e})"

    def f(z):
        with np.errstate(all="ignore"), validation_enabled(False):
            v, g = vg(z)
        return float(v), np.asarray(g, dtype=float)
    return f, note


class _Chain:
    """One chain's state: position z, log p, gradient, and its dual-averaging state."""

    def __init__(self, z, f):
        self.z, self.leapfrogs = z, 0
        self.lp, self.g = f(z)
        self.restart(0.1)

    def restart(self, eps):
        self.eps, self.mu, self.hbar, self.log_eps_bar, self.t = eps, math.log(10 * eps), \
            0.0, 0.0, 0

    def adapt(self, accept):
        """log eps_t = mu - sqrt(t)/gamma Hbar_t, Hbar_t = (1 - 1/(t+t0)) Hbar + (delta - a)/
        (t+t0); log eps_bar = t^-kappa log eps_t + (1 - t^-kappa) log eps_bar."""
        self.t += 1
        t = self.t
        self.hbar += ((DELTA - accept) - self.hbar) / (t + T0)
        log_eps = self.mu - math.sqrt(t) / GAMMA * self.hbar
        w = t ** -KAPPA
        self.log_eps_bar = w * log_eps + (1 - w) * self.log_eps_bar
        self.eps = math.exp(log_eps)


def _transition(ch, f, S, rng):
    """One HMC transition of chain `ch` with metric factor S ((D, D) lower or (D,) diagonal):
    returns (acceptance probability, divergent)."""
    dense = S.ndim == 2
    mul = (lambda u: S @ u) if dense else (lambda u: S * u)
    mul_t = (lambda g: S.T @ g) if dense else (lambda g: S * g)
    u = solve_triangular(S, ch.z, lower=True) if dense else ch.z / S
    r = rng.standard_normal(u.size)
    h0 = -ch.lp + 0.5 * r @ r
    eps = ch.eps
    n = min(MAX_STEPS, max(1, math.ceil(rng.uniform(0.5, 1.5) * 0.5 * math.pi / eps)))
    lp, g = ch.lp, mul_t(ch.g)
    gz = ch.g
    ch.leapfrogs += n
    for _ in range(n):
        r = r + 0.5 * eps * g
        u = u + eps * r
        lp, gz = f(mul(u))
        g = mul_t(gz)
        if not (math.isfinite(lp) and np.all(np.isfinite(g))):
            return 0.0, True
        r = r + 0.5 * eps * g
    dh = (-lp + 0.5 * r @ r) - h0
    if not math.isfinite(dh) or dh > 1000.0:
        return 0.0, True
    accept = 1.0 if dh <= 0 else math.exp(-dh)
    if rng.random() < accept:
        ch.z, ch.lp, ch.g = mul(u), lp, gz
    return accept, False


def _metric(draws):
    """S with S S^T = n/(n+5) Cov + 1e-3 5/(n+5) I of (n, D) draws (Stan's regularisation);
    the Cholesky factor up to DENSE_UP_TO dimensions, else the sd vector."""
    n, d = draws.shape
    if d <= DENSE_UP_TO:
        cov = np.cov(draws, rowvar=False).reshape(d, d)
        cov = n / (n + 5.0) * cov + 1e-3 * 5.0 / (n + 5.0) * np.eye(d)
        return np.linalg.cholesky(cov)
    var = n / (n + 5.0) * draws.var(axis=0, ddof=1) + 1e-3 * 5.0 / (n + 5.0)
    return np.sqrt(var)


def rhat(x):
    """Split R-hat of (chains, n, K) draws: each chain's two halves are sequences (BDA3 11.4),
    per quantity (K,)."""
    h = x.shape[1] // 2
    halves = np.concatenate([x[:, :h], x[:, x.shape[1] - h:]], axis=0)
    return rhat_from_halves(h, halves.mean(axis=1), halves.var(axis=1, ddof=1))


def ess(x):
    """Effective sample size of (chains, n, K) draws, per quantity (BDA3 11.5): rho_t =
    1 - (W - mean acov_t) / var+, tau = -1 + 2 sum of Geyer's monotone pair sums, ESS = M n / tau.
    """
    m, n, k = x.shape
    xc = x - x.mean(axis=1, keepdims=True)
    size = 2 ** math.ceil(math.log2(2 * n))
    spec = np.fft.rfft(xc, n=size, axis=1)
    acov = np.fft.irfft(spec * np.conj(spec), n=size, axis=1)[:, :n] / n     # (m, n, k)
    w = x.var(axis=1, ddof=1).mean(axis=0)
    var_plus = (n - 1) / n * w + x.mean(axis=1).var(axis=0, ddof=1) if m > 1 else w
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = 1.0 - (w - acov.mean(axis=0)) / var_plus                      # (n, k)
    out = np.empty(k)
    for j in range(k):
        pairs = rho[: n - n % 2, j].reshape(-1, 2).sum(axis=1)
        stop = np.flatnonzero(~(pairs > 0))
        pairs = pairs[: stop[0] if stop.size else pairs.size]
        pairs = np.minimum.accumulate(pairs) if pairs.size else pairs
        tau = -1.0 + 2.0 * pairs.sum() if pairs.size else 1.0
        out[j] = m * n / max(tau, 1.0 / math.log10(max(m * n, 10)))
    return out


def hmc_reference(model, draws=1000, warmup=1000, chains=4, seed=0):
    """HMC draws of `model`'s posterior (see the module docstring): a Reference with the
    constrained means and sds by site, `ok` (max R-hat < 1.01, no divergence after warm-up),
    `rhat` (max), `ess` (min), `divergent` and `seconds`."""
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    f, note = density(model)
    d = model.num_params
    centre, S, start = None, np.ones(d), "identity, adapted diagonal"
    try:
        if d > DENSE_UP_TO:
            raise ValueError("Stan's default: a diagonal metric")
        with np.errstate(all="ignore"), warnings.catch_warnings(record=True):
            lap = ppl.laplace(model, seed=seed)
        if not lap.converged:                    # no mode (e.g. a scale going to 0)
            raise ValueError(lap.stop_reason)
        centre, S, start = lap.mu, lap.L, "Laplace, adapted"
    except (ValueError, np.linalg.LinAlgError, FloatingPointError):
        pass
    chs = []
    for _ in range(chains):
        if centre is not None:
            z = centre + (S @ rng.standard_normal(d) if S.ndim == 2 else
                          S * rng.standard_normal(d))
        else:
            z = model.unconstrain(model.initial_point(int(rng.integers(2 ** 31))))
        chs.append(_Chain(z, f))
    init_buf, win1 = int(0.15 * warmup), int(0.25 * warmup)
    win2 = int(0.5 * warmup)
    phases = [("da", init_buf), ("window", win1), ("window", win2),
              ("da", warmup - init_buf - win1 - win2)]
    for kind, n in phases:
        kept = []
        for ch in chs:
            for _ in range(n):
                a, _ = _transition(ch, f, S, rng)
                ch.adapt(a)
                if kind == "window":
                    kept.append(ch.z)
        if kind == "window" and len(kept) > 10:
            S = _metric(np.array(kept))
            for ch in chs:
                ch.restart(ch.eps)
    out, divergent, accepts = [], 0, []
    for ch in chs:
        ch.eps = math.exp(ch.log_eps_bar)
        zs = []
        for _ in range(draws):
            a, div = _transition(ch, f, S, rng)
            divergent += div
            accepts.append(a)
            zs.append(ch.z)
        out.append(zs)
    rows = [[model.constrain(z) for z in zs] for zs in out]
    mean, sd, scalars = {}, {}, []
    for name in rows[0][0]:
        a = np.array([[r[name] for r in rs] for rs in rows], dtype=float)   # (C, n, *shape)
        flat = a.reshape(chains, draws, -1)
        scalars.append(flat)
        mean[name] = flat.mean(axis=(0, 1)).reshape(a.shape[2:])
        sd[name] = flat.reshape(-1, flat.shape[2]).std(axis=0, ddof=1).reshape(a.shape[2:])
    x = np.concatenate(scalars, axis=2)
    # a constant scalar (e.g. a fixed corner of a Cholesky factor) has no R-hat or ESS
    live = x.reshape(-1, x.shape[2]).std(axis=0) > 0
    r_max = float(np.nanmax(rhat(x[:, :, live]))) if live.any() else 1.0
    e_min = float(np.min(ess(x[:, :, live]))) if live.any() else float(chains * draws)
    steps = sum(ch.leapfrogs for ch in chs) / (chains * (draws + warmup))
    ref = Reference(mean, sd, f"HMC, {chains} x {draws} draws after {warmup} warm-up "
                              f"(metric {start}; "
                              f"{note}; {steps:.0f} leapfrog steps per draw), max R-hat "
                              f"{r_max:.3f}, min ESS {e_min:.0f}, {divergent} divergent")
    ref.ok = r_max < 1.01 and divergent == 0
    ref.rhat, ref.ess, ref.divergent = r_max, e_min, divergent
    ref.accept = float(np.mean(accepts))
    ref.seconds = time.perf_counter() - t0
    return ref
