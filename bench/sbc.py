"""Coverage of fullrank ADVI's 90% intervals over data simulated from the prior: a small
simulation-based calibration (Talts, Betancourt, Simpson, Vehtari, Gelman, "Validating Bayesian
inference algorithms with simulation-based calibration", 2018) of zoo models.

    python bench/sbc.py                          # 50 replications: ~5 min on 2 busy cores
    python bench/sbc.py --reps 5                 # a smoke run
    python bench/sbc.py --models ar,eight_schools --reps 100 --seed 3

For each model and replication r: draw theta_r ~ p(theta) and y_r ~ p(y | theta_r) (the
model run under `ppl.handlers.seed` with its observed keyword set to None, the other data as
shipped), fit `ppl.advi(model(y_r), family="fullrank", seed=r)`, take S = 999 draws
theta^(s) ~ q, and for every scalar element k of every constrained site (deterministic ones
included; constant elements, e.g. a Cholesky factor's [0, 0], left out):

    covered_rk = [q_0.05 <= theta_rk <= q_0.95]       (empirical quantiles of the draws)
    rank_rk    = #{s : theta^(s)_k < theta_rk}         in {0, ..., S}.

If q were the exact posterior, covered_rk ~ Bernoulli(0.9) and rank_rk ~ Uniform{0..S}
(Talts et al., Theorem 1). Printed per model: coverage = mean of covered over r and k, with
its binomial standard error sqrt(c (1 - c) / n), n = reps x scalars (the scalars of one
replication are correlated, so this understates the error somewhat); the site whose coverage is
furthest from 0.9; and the p-value of Pearson's chi-square test of the ranks, pooled, against
uniformity in B = 10 equal bins (df = B - 1; pooled ranks of correlated scalars: read a small
p as "look at the histogram", not as an exact level). Under-coverage with a U-shaped histogram
means q is too narrow; a skewed histogram, that q is shifted.

The last column repeats the coverage over the replications whose simulated data stay below
1e6 in magnitude: a prior that allows explosive draws (ar's beta ~ N(0, 1) puts much of its
mass on non-stationary AR(2) processes, series up to 1e100 over T = 200) gives data no
floating-point fit can handle, and those replications then dominate the coverage.

A prior must be proper to draw from: improper sites (dist.ImproperUniform plus a
`ppl.factor` prior) are drawn by the rules in PRIOR_DRAWS, each equal in law to the model's
prior (normal_mixture: ordered means with independent N(0, 10) priors are the sorted pair of
two N(0, 10) draws). Replications whose fit fails are counted and left out.
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(1, os.path.dirname(HERE))       # the repository, when wengert isn't installed
import timing  # noqa: E402

timing.pin_blas_threads()

import argparse  # noqa: E402
import inspect  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402
from scipy import stats  # noqa: E402

import autodiff as ad  # noqa: E402
import ppl  # noqa: E402
from ppl import handlers  # noqa: E402

DEFAULT_MODELS = ("linear_regression", "logistic_regression", "poisson_regression", "ar",
                  "normal_mixture", "eight_schools")
DRAWS, BINS, LEVEL = 999, 10, 0.9
TAME = 1e6        # simulated data larger than this in magnitude: an explosive prior draw
PRIOR_DRAWS = {   # zoo name -> {site: rng -> value}, for sites with an improper distribution
    "normal_mixture": {"mu": lambda rng: np.sort(rng.normal(0.0, 10.0, 2))},
}


class Simulator:
    """A zoo entry's prior draws: `draw(rng)` -> (truth: site -> value, data for the fit)."""

    def __init__(self, name):
        from models import load_model
        self.name, self.entry = name, load_model(name)
        self.data = self.entry.data()
        fn = self.entry.model.model_fn
        sig = inspect.signature(fn)
        obs = [k for k, p in sig.parameters.items() if p.default is None
               and self.data.get(k) is not None]
        if len(obs) != 1:
            raise ValueError(f"needs one observed keyword defaulting to None, found {obs}")
        self.key = obs[0]
        bound = self.entry.model(**self.data)
        sites = list(bound.observed)
        self.site = self.key if self.key in sites else sites[0] if len(sites) == 1 else None
        if self.site is None:
            raise ValueError(f"cannot tell which observed site keyword {self.key!r} feeds")
        self.latent = list(bound.parameters)
        self.fn, self.kwargs = fn, {k: v for k, v in self.data.items() if k != self.key}

    def draw(self, rng):
        """theta ~ prior, y ~ p(y | theta): the model run with its observed keyword None."""
        fixed = {k: f(rng) for k, f in PRIOR_DRAWS.get(self.name, {}).items()}
        with ad.no_grad(), handlers.trace() as tr, handlers.seed(rng), \
                handlers.substitute(fixed):
            self.fn(**self.kwargs)
        truth = {n: np.asarray(ad.getval(m["value"])) for n, m in tr.sites.items()
                 if m["type"] in ("sample", "deterministic") and n != self.site}
        y = np.asarray(ad.getval(tr.sites[self.site]["value"]))
        return truth, {**self.kwargs, self.key: y.astype(np.asarray(self.data[self.key]).dtype)}


def replicate(sim, r, seed):
    """One replication: {label: (covered, rank)} per non-constant scalar, or an error string."""
    rng = np.random.default_rng([seed, r])
    truth, data = sim.draw(rng)
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            fit = ppl.advi(sim.entry.model(**data), family="fullrank", seed=r, progress=False,
                           method="advi")
            draws = fit.sample(DRAWS, seed=r + 1)
    except Exception as e:                              # noqa: BLE001 -- counted, left out
        return f"{type(e).__name__}: {str(e).splitlines()[0][:80]}"
    out = {"_scale": float(np.max(np.abs(data[sim.key])))}
    lo_q, hi_q = (1 - LEVEL) / 2, (1 + LEVEL) / 2
    for name, a in draws.items():
        if name not in truth:
            continue
        a = a.reshape(DRAWS, -1)
        t = np.ravel(truth[name])
        lo, hi = np.quantile(a, [lo_q, hi_q], axis=0)
        for k in range(a.shape[1]):
            if np.ptp(a[:, k]) == 0:                    # a constant element
                continue
            label = name if a.shape[1] == 1 and np.ndim(truth[name]) == 0 else f"{name}[{k}]"
            out[label] = (bool(lo[k] <= t[k] <= hi[k]), int(np.sum(a[:, k] < t[k])))
    return out


def summarise(name, results, failures, seconds):
    """A dict: coverage, its standard error, n, the worst site, the chi-square p of the ranks."""
    scales = [res.pop("_scale") for res in results]
    cov = np.array([c for res in results for c, _ in res.values()], dtype=float)
    ranks = np.array([k for res in results for _, k in res.values()])
    tame = [c for res, s in zip(results, scales) if s < TAME for c, _ in res.values()]
    by_site = {}
    for res in results:
        for label, (c, _) in res.items():
            by_site.setdefault(label.split("[")[0], []).append(c)
    worst = max(by_site, key=lambda s: abs(np.mean(by_site[s]) - LEVEL)) if by_site else "-"
    counts = np.bincount(ranks * BINS // (DRAWS + 1), minlength=BINS) if ranks.size else \
        np.zeros(BINS)
    p = float(stats.chisquare(counts).pvalue) if ranks.size else float("nan")
    c = float(cov.mean()) if cov.size else float("nan")
    return dict(model=name, reps=len(results), failed=len(failures), n=int(cov.size),
                coverage=c, se=float(np.sqrt(c * (1 - c) / max(cov.size, 1))),
                worst=worst, worst_cov=float(np.mean(by_site[worst])) if by_site else None,
                chi2_p=p, counts=counts.tolist(), seconds=seconds,
                tame_reps=sum(s < TAME for s in scales),
                tame_cov=float(np.mean(tame)) if tame else float("nan"),
                failures=failures[:3])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--reps", type=int, default=50, help="replications per model (default 50)")
    p.add_argument("--models", default=",".join(DEFAULT_MODELS),
                   help="comma-separated zoo names (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", default=None, help="write the summaries here")
    args = p.parse_args(argv)
    t0, load0 = time.perf_counter(), timing.print_load_start()
    rows = []
    for name in [m for m in args.models.split(",") if m]:
        try:
            sim = Simulator(name)
        except Exception as e:                          # noqa: BLE001 -- not in the zoo (yet)
            print(f"  {name}: skipped ({type(e).__name__}: {e})")
            continue
        t, results, failures = time.perf_counter(), [], []
        for r in range(args.reps):
            res = replicate(sim, r, args.seed)
            (failures if isinstance(res, str) else results).append(res)
        rows.append(summarise(name, results, failures, time.perf_counter() - t))
        s = rows[-1]
        print(f"  {name}: coverage {s['coverage']:.3f} +- {s['se']:.3f} over {s['n']} scalars, "
              f"chi-square p {s['chi2_p']:.3f}, {s['failed']} failed, {s['seconds']:.0f} s",
              flush=True)
    print(f"\nFullrank ADVI, central {LEVEL:.0%} intervals from {DRAWS} draws of q; "
          f"{args.reps} replications per model, seed {args.seed}:\n")
    print("| model | reps (failed) | scalars x reps | coverage +- se | furthest site "
          "(coverage) | rank chi-square p | rank counts in 10 bins | coverage, reps with "
          "max abs(y) < 1e6 | s |")
    print("|---|---:|---:|---|---|---:|---|---|---:|")
    for s in rows:
        wc = "-" if s["worst_cov"] is None else f"{s['worst']} ({s['worst_cov']:.2f})"
        print(f"| {s['model']} | {s['reps']} ({s['failed']}) | {s['n']} | {s['coverage']:.3f} "
              f"+- {s['se']:.3f} | {wc} | {s['chi2_p']:.3f} | "
              f"{' '.join(map(str, s['counts']))} | {s['tame_cov']:.3f} ({s['tame_reps']} "
              f"reps) | {s['seconds']:.0f} |")
    for s in rows:
        for f in s["failures"]:
            print(f"  {s['model']}: a failed fit: {f}")
    if args.json:
        timing.write_json(args.json, rows)
    print(f"\n(total {time.perf_counter() - t0:.0f} s; load average {load0:.2f} at the start, "
          f"{os.getloadavg()[0]:.2f} at the end)")


if __name__ == "__main__":
    main()
