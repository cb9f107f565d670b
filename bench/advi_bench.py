"""ADVI end to end: microseconds per step, steps to convergence, seconds per fit, where a fit's
time goes, and the error of the posterior means and sds against a reference, for eight schools,
a logistic regression (N = 10,000, D = 50), a radon-style hierarchical model (85 counties) and
stochastic volatility (T = 500, 503 parameters), under the meanfield and fullrank families; each
model fitted end to end in fresh processes (import + fit); `wengert fit eight_schools`.

    python bench/advi_bench.py                     # ~4 min (~25 min with both peers)
    python bench/advi_bench.py --quick             # fewer repeats, shorter references
    python bench/advi_bench.py --only eight_schools,radon      # "fresh": that table alone
    PYTHONPATH=$PWD /tmp/peers/bin/python bench/advi_bench.py  # a venv with numpyro / pymc

Columns. us/step: median (interleaved rounds, `timing.Timer`) of one ADVI gradient step, i.e.
`run.elbo_grad(lam)` (one draw, the model's log density and gradient through the engine, the
pullback to (mu, omega or L)) plus the Stan optimiser's update, on ADVI's own `Run` set up as
a fit sets it up (tape recorded, whitened at the mode when the fit is). steps: `fit.steps`
(Stan's rule fired at `fit.info["stan_converged_at"]`, then the averaging windows ran).
fit s: median of 3 calls of `ppl.advi(model, family=..., seed=1, progress=False)` (1 for
stochastic volatility, whose Wengert fit starts from a data-based point without the whitening:
advi_models.sv_init). x Wengert: the peer's us/step or fit s over Wengert's. ELBO/grad:
the time of the 100-draw ELBO estimates (every 100 steps, no tape) over the time of the
gradient steps, in the main loop of a fit instrumented separately. err: max over scalars of
|mean - reference mean| / reference sd, with fit.mean and fit.sd (1000 draws); sd ratio: the
range of fit sd / reference sd. Stochastic volatility is scored against its simulated truth:
err in the fit's own sds over mu, phi, sigma, and the share of the 500 true h_t inside the fit's
90% intervals (in the sd column).

Peers, when importable (same models, same priors, same process): NumPyro SVI with AutoNormal /
AutoMultivariateNormal, Adam(0.01), float64, 10,000 steps (no stopping rule); us/step is a
jitted `lax.scan` of 100 `svi.update`s divided by 100 (what `svi.run` does; one jitted update
called from Python is in the row's note), fit s is `svi.run` (compilation included). PyMC `pm.fit`
(ADVI / FullRankADVI, its defaults, 10,000 steps); us/step is its compiled step function. The
header prints PyTensor's BLAS (`pytensor.config.blas__ldflags`; empty: none linked, pip's
default, and PyTensor's C code falls back to its own loops for dot products).

Fresh processes (advi_fresh.py): each model x library, meanfield (`--fresh-fullrank` adds the
fullrank family), `python bench/advi_fresh.py LIB MODEL FAMILY data.npz`: import, model, one
fit as above; median of 3 runs for eight schools, 1 for the others (1 and 1 with --quick).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import timing  # noqa: E402

timing.pin_blas_threads()
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false "
                      "intra_op_parallelism_threads=1")
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import argparse  # noqa: E402
import contextlib  # noqa: E402
import importlib  # noqa: E402
import importlib.util  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections import defaultdict  # noqa: E402

import numpy as np  # noqa: E402

import advi_fresh  # noqa: E402
import advi_models  # noqa: E402
import ppl  # noqa: E402
from ppl.distributions.base import validation_enabled  # noqa: E402
from ppl.infer import families, objective  # noqa: E402
from ppl.infer.optim import StanStep  # noqa: E402

_advi = importlib.import_module("ppl.infer.advi")   # the module (ppl.advi is the function)
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FAMILIES = advi_models.FAMILIES
QUOTED = [  # issue 4, measured by its author, 1 thread: (model, library, us per step)
    ("eight_schools", "NumPyro (jit), quoted, not measured here", 14.0),
    ("eight_schools", "PyMC, quoted, not measured here", 30.0),
    ("logistic", "NumPyro (jit, float64), quoted, not measured here", 226.0),
    ("logistic", "PyMC, quoted, not measured here", 1059.0),
]


def row(name, family, library, **kw):
    """A table row with every column (None: not measured)."""
    r = dict(model=name, family=family, library=library, step_s=None, steps=None, stan_at=None,
             fit_s=None, elbo_ratio=None, err=None, worst="", sd_lo=None, sd_hi=None, note="",
             cover=None)
    r.update(kw)
    return r


def truth_accuracy(mean, sd, lo, hi, ref):
    """Against a simulated truth: err = max over the scalar sites of |mean - true| / the fit's
    own sd (worst: where), cover = the share of the vector site's true values (h) inside the
    fit's 90% intervals."""
    scalars = [k for k, v in ref.mean.items() if np.ndim(v) == 0]
    err = [abs(float(mean[k]) - float(ref.mean[k])) / float(sd[k]) for k in scalars]
    i = int(np.argmax(err))
    out = dict(err=err[i], worst=scalars[i] + " (own sd)")
    for k, v in ref.mean.items():
        if np.ndim(v) and lo is not None:
            out["cover"] = float(np.mean((v >= lo[k]) & (v <= hi[k])))
    return out


def accuracy(mean, sd, ref, lo=None, hi=None):
    """err = max over the reference's scalars of |mean - ref mean| / ref sd, the scalar where
    it is (worst), and the min and max of sd / ref sd (a truth reference: truth_accuracy)."""
    if ref.truth:
        return truth_accuracy(mean, sd, lo, hi, ref)
    err, ratio, labels = [], [], []
    for name, m in ref.mean.items():
        s = np.asarray(ref.sd[name], dtype=float).ravel()
        err.append(np.abs(np.asarray(mean[name], dtype=float).ravel() - np.ravel(m)) / s)
        ratio.append(np.asarray(sd[name], dtype=float).ravel() / s)
        labels += [name] if np.ndim(m) == 0 else [f"{name}[{i}]" for i in range(s.size)]
    err, ratio = np.concatenate(err), np.concatenate(ratio)
    i = int(np.argmax(err))
    return dict(err=float(err[i]), worst=labels[i], sd_lo=float(ratio.min()),
                sd_hi=float(ratio.max()))


# ---- Wengert ------------------------------------------------------------------------------------
def wengert_step(model, family, advi_kw, elbo_samples=100):
    """(one gradient step + optimiser update, one ELBO estimate over `elbo_samples` draws) as
    functions on ADVI's own objective, set up as `ppl.advi(model, **advi_kw)` sets it up (its
    density compiled; whitened at the mode when it would be)."""
    q = families.family(family, model.num_params)
    init = advi_kw.get("init") or model.initial_point(0)
    z0 = model.unconstrain(init)
    density = objective.LogDensity(model)
    elbo = objective.Elbo(density, q, objective.Coordinates(z0), np.random.default_rng(1),
                          np.random.default_rng(2), 1, elbo_samples)
    lam = q.init(np.zeros(model.num_params))
    with validation_enabled(False):
        density.record(z0)
        if advi_kw.get("precondition", "laplace") is not None:
            elbo, _ = _advi._whiten(elbo, lam)
    opt = StanStep(0.1)

    def step():
        g = elbo.grad(lam)
        if g is not None:
            q.step(lam, opt, g)
    return step, lambda: elbo.estimate(lam)


@contextlib.contextmanager
def instrumented():
    """Time a fit's parts: {(phase, kind): seconds}, phase "setup" (recording the tape, the
    whitening at the mode), "adapt" (eta adaptation) or "main"; kind "grad" (Elbo.grad),
    "elbo" (Elbo.estimate) or "total" (the whole phase)."""
    acc, phase = defaultdict(float), ["main"]
    run_cls = objective.Elbo

    def timed(kind, f):
        def wrapper(*a, **k):
            t = time.perf_counter()
            try:
                return f(*a, **k)
            finally:
                acc[phase[0], kind] += time.perf_counter() - t
        return wrapper

    def phased(name, f):
        def wrapper(*a, **k):
            old, phase[0], t = phase[0], name, time.perf_counter()
            try:
                return f(*a, **k)
            finally:
                phase[0] = old
                acc[name, "total"] += time.perf_counter() - t
        return wrapper
    patches = [(run_cls, "estimate", timed, "elbo"), (run_cls, "grad", timed, "grad"),
               (objective.LogDensity, "record", phased, "setup"),
               (_advi, "_whiten", phased, "setup"), (_advi, "adapt_eta", phased, "adapt")]
    saved = [(owner, attr, getattr(owner, attr)) for owner, attr, _, _ in patches
             if hasattr(owner, attr)]
    for (owner, attr, f), (_, _, wrap, kind) in zip(saved, [p for p in patches
                                                            if hasattr(p[0], p[1])]):
        setattr(owner, attr, wrap(kind, f))
    try:
        yield acc
    finally:
        for owner, attr, f in saved:
            setattr(owner, attr, f)


class WengertLib:
    """Wengert's rows: `steps()` the functions to time, `results()` the fits and moments."""
    label = "Wengert ppl.advi"

    def __init__(self, name, model, data, advi_kw=None):
        self.name, self.model, self.parts = name, model, []
        self.advi_kw = advi_kw or {}

    def steps(self):
        """{(family, kind): function}: one gradient step, one 100-draw ELBO estimate."""
        out = {}
        for family in FAMILIES:
            try:
                out[family, "step"], out[family, "elbo"] = wengert_step(self.model, family,
                                                                        self.advi_kw)
            except (AttributeError, TypeError) as e:    # ADVI's internals changed
                print(f"  (no step timing for {self.name} {family}: {type(e).__name__}: {e})")
        return out

    def results(self, times, sites, repeats):
        """One dict per family (as advi_models.NumPyroLib.results, plus the step at which
        Stan's rule fired and the ELBO / grad ratio); the time breakdown goes to `self.parts`."""
        rows = []
        for family in FAMILIES:
            step_s, elbo_s = times.get((family, "step")), times.get((family, "elbo"))
            fits = []
            for _ in range(repeats):
                t = time.perf_counter()
                ppl.advi(self.model, family=family, seed=1, progress=False, **self.advi_kw,
                         method="advi")
                fits.append(time.perf_counter() - t)
            with instrumented() as acc:
                t = time.perf_counter()
                fit = ppl.advi(self.model, family=family, seed=1, progress=False,
                               **self.advi_kw, method="advi")
                total = time.perf_counter() - t
            grad_all = sum(v for (p, k), v in acc.items() if k == "grad")
            elbo_all = sum(v for (p, k), v in acc.items() if k == "elbo")
            main = acc["main", "elbo"] / acc["main", "grad"] if acc["main", "grad"] else None
            rows.append(dict(family=family, library=self.label, step_s=step_s,
                             steps=fit.steps, stan_at=fit.info.get("stan_converged_at"),
                             fit_s=statistics.median(fits), elbo_ratio=main, mean=fit.mean,
                             sd=fit.sd, **_interval(fit.sample(1000, seed=2), sites)))
            n_grad = fit.info.get("gradient_evaluations")
            known = sum(acc[k] for k in (("setup", "total"), ("adapt", "total"),
                                         ("main", "grad"), ("main", "elbo")))
            self.parts.append(dict(
                model=self.name, family=family, n_grad=n_grad, total=total,
                per_grad=total / n_grad if n_grad else None, setup=acc["setup", "total"],
                adapt=acc["adapt", "total"], grad=acc["main", "grad"],
                elbo=acc["main", "elbo"], rest=total - known, ratio_main=main,
                ratio_all=elbo_all / grad_all if grad_all else None,
                micro=elbo_s / (100 * step_s) if step_s and elbo_s else None,
                precondition=fit.info.get("preconditioned", "")))
        return rows


def _interval(draws, sites):
    """The 5% and 95% quantiles of `draws` (dict of arrays) at `sites`."""
    return dict(lo={k: np.quantile(draws[k], 0.05, axis=0) for k in sites},
                hi={k: np.quantile(draws[k], 0.95, axis=0) for k in sites})


def bench_model(name, model, data, ref, timer, repeats, libs, advi_kw):
    """Every library's step functions for `name` timed side by side, then each one's fits:
    (rows, Wengert's time breakdown)."""
    built = [lib(name, model, data, advi_kw) if lib is WengertLib else lib(name, model, data)
             for lib in libs]
    fns = [(i, key, f) for i, b in enumerate(built) for key, f in b.steps().items()]
    with validation_enabled(False):
        meds = timer([f for _, _, f in fns])
    times = [{} for _ in built]
    for (i, key, _), (med, _, _) in zip(fns, meds):
        times[i][key] = med
    rows, sites = [], list(ref.mean) if ref is not None else []
    for b, t in zip(built, times):
        print(f"  {name}: {b.__class__.__name__[:-3]} fits ...", flush=True)
        for r in b.results(t, sites, repeats):
            mean, sd = r.pop("mean", None), r.pop("sd", None)
            lo, hi = r.pop("lo", None), r.pop("hi", None)
            fam, lib = r.pop("family"), r.pop("library")
            if ref is None:
                r["note"] = "no reference " + r.get("note", "")
            elif mean is not None:
                r.update(accuracy(mean, sd, ref, lo, hi))
            rows.append(row(name, fam, lib, **r))
    return rows, built[0].parts


# ---- printing -----------------------------------------------------------------------------------
def _f(v, fmt):
    return "-" if v is None else format(v, fmt)


def _x(v, base):
    return f"{v / base:.2f}" if v and base else "-"


def print_fits(rows, parts):
    """The table of fits and the table of where Wengert's fit time goes."""
    print("\n| model | family | library | us/step | x Wengert | steps (Stan rule at) | fit s "
          "| x Wengert | ELBO / grad time | max mean err / ref sd (site) | sd / ref sd |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---|---|")
    base = {(r["model"], r["family"]): r for r in rows if r["library"].startswith("Wengert")}
    for r in rows:
        w = base.get((r["model"], r["family"]), {})
        steps = "-" if r["steps"] is None else f"{r['steps']}" + (
            f" ({r['stan_at']})" if r["stan_at"] else "")
        err = "-" if r["err"] is None else f"{r['err']:.2f} ({r['worst']})"
        sd = "-" if r["sd_lo"] is None else f"{r['sd_lo']:.2f}-{r['sd_hi']:.2f}"
        if r["cover"] is not None:
            sd = f"h cover {r['cover']:.2f}"
        print(f"| {r['model']} | {r['family']} | {r['library']} | "
              f"{_f(r['step_s'] and r['step_s'] * 1e6, '.0f')} | "
              f"{_x(r['step_s'], w.get('step_s'))} | {steps} | {_f(r['fit_s'], '.2f')} | "
              f"{_x(r['fit_s'], w.get('fit_s'))} | {_f(r['elbo_ratio'], '.2f')} | {err} | {sd} |"
              + (f" {r['note']}" if r["note"] else ""))
    print("\nWhere a Wengert fit's time goes (one instrumented fit, seconds):\n")
    print("| model | family | grad evals | fit s / grad eval | setup: tape, whitening | eta "
          "adaptation | main-loop gradient steps | main-loop ELBO estimates | rest | ELBO / "
          "grad (main, all, microbench) |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for p in parts:
        print(f"| {p['model']} | {p['family']} | {p['n_grad']} | "
              f"{_f(p['per_grad'] and p['per_grad'] * 1e6, '.0f')} us | {p['setup']:.3f} | "
              f"{p['adapt']:.3f} | {p['grad']:.3f} | {p['elbo']:.3f} | {p['rest']:.3f} | "
              f"{_f(p['ratio_main'], '.2f')}, {_f(p['ratio_all'], '.2f')}, "
              f"{_f(p['micro'], '.2f')} |")
    print("\n(microbench: one 100-draw ELBO estimate / 100 timed gradient steps; whitening: "
          + "; ".join(sorted({f"{p['model']} {p['family']}: {p['precondition']}"
                              for p in parts})) + ")")


def print_fresh(fresh, cli):
    """The fresh-process tables: each model x library (ratio to Wengert's same family), and
    the command-line rows."""
    if fresh:
        print("\nFresh process, end to end: import + model + one fit (median wall seconds, "
              "subprocess + perf_counter; advi_fresh.py):\n")
        print("| model | library | median s | x Wengert | runs | note |")
        print("|---|---|---:|---:|---:|---|")
        base = {(m, lib.split()[-1]): t for m, lib, t, _, _ in fresh
                if lib.startswith("Wengert")}
        fam = {"AutoNormal": "meanfield", "ADVI": "meanfield"}
        for m, lib, t, n, note in fresh:
            w = base.get((m, fam.get(lib.split()[-1], "fullrank")))
            if lib.startswith("Wengert"):
                w = None
            print(f"| {m} | {lib} | {_f(t, '.2f')} | {_x(t, w)} | {n} | {note} |")
    if cli:
        print("\n| command | median s | runs | note |")
        print("|---|---:|---:|---|")
        for what, med, n, note in cli:
            print(f"| {what} | {_f(med, '.2f')} | {n} | {note} |")


def print_header():
    """Versions of the peers and the BLAS PyTensor links (empty flags: none)."""
    versions = {m: getattr(importlib.import_module(m), "__version__", "?")
                for m in ("numpyro", "jax", "pymc") if importlib.util.find_spec(m)}
    print(f"  python {sys.version.split()[0]}; numpy {np.__version__}; peers: "
          f"{versions or 'none importable'}")
    if importlib.util.find_spec("pytensor"):
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import pytensor
            flags = pytensor.config.blas__ldflags
        print(f"  PyTensor BLAS (pytensor.config.blas__ldflags): {flags!r}"
              + ("" if flags else " -- empty: no BLAS linked, PyMC's dot products run in "
                 "PyTensor's own C loops"))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="fewer repeats, shorter references")
    p.add_argument("--only", default="", help="comma-separated models: eight_schools, "
                   "logistic, radon, stochastic_volatility; 'fresh' for the fresh-process "
                   "tables alone")
    p.add_argument("--no-fresh", action="store_true", help="skip the fresh-process tables")
    p.add_argument("--fresh-fullrank", action="store_true",
                   help="fresh processes for the fullrank family too")
    args = p.parse_args(argv)
    budget, rounds, repeats, ref_draws, runs = ((0.15, 5, 1, 2000, 1) if args.quick
                                                else (0.7, 10, 3, 8000, 3))
    only = [s for s in args.only.split(",") if s]
    cases = advi_models.cases(ref_draws)
    bad = [s for s in only if s not in cases and s != "fresh"]
    if bad:
        p.error(f"--only: unknown {bad}; expected some of {', '.join(cases)}, fresh")
    timer = timing.Timer(budget, rounds)
    t0, load0 = time.perf_counter(), timing.print_load_start()
    print_header()
    rows, parts, refs = [], [], {}
    libs = [WengertLib] + advi_models.peers()
    for name, (model, data, make_ref, opts) in cases.items():
        if only and name not in only:
            continue
        print(f"  {name}: reference ...", flush=True)
        refs[name] = ref = make_ref()
        print(f"  {name}: timing the steps of {', '.join(c.__name__[:-3] for c in libs)} "
              "side by side ...", flush=True)
        r, pt = bench_model(name, model, data, ref, timer, min(repeats, opts.get("repeats", 9)),
                            libs, opts.get("advi", {}))
        rows += r
        parts += pt
        if len(libs) == 1:
            rows += [row(m, "meanfield", lib, step_s=us * 1e-6) for m, lib, us in QUOTED
                     if m == name]
    fresh, cli = [], []
    if not args.no_fresh and (not only or "fresh" in only):
        fresh_cases = {n: c[1] if n != "eight_schools" else c[0].kwargs
                       for n, c in cases.items() if not only or n in only or only == ["fresh"]}
        fams = FAMILIES if args.fresh_fullrank else ("meanfield",)
        fresh = advi_fresh.fresh_rows(fresh_cases, advi_fresh.available(), fams,
                                      {n: runs if n == "eight_schools" else 1
                                       for n in fresh_cases})
        cli = advi_fresh.cli_rows(5 if not args.quick else 3)
    if rows:
        print_fits(rows, parts)
    print_fresh(fresh, cli)
    if refs:
        print("\nReferences:")
    for name, ref in refs.items():
        print(f"  {name}: {ref.source if ref is not None else 'no reference (file absent)'}")
    if len(libs) == 1:
        print("\nNo peer importable: the NumPyro / PyMC rows are issue 4's quoted numbers, not "
              "measured here.")
    print("Targets (issue 4): eight schools < 150 us/step; logistic <= 1.2x NumPyro per step; "
          "`wengert fit eight_schools` < 1 s end to end.")
    timing.print_load_end(t0, load0)


if __name__ == "__main__":
    main()
