"""ADVI end to end: microseconds per step, steps to convergence, seconds per fit, where a fit's
time goes, and the error of the posterior means and sds against a reference, for eight schools,
a logistic regression (N = 10,000, D = 50) and a radon-style hierarchical model, under the
meanfield and fullrank families; and `wengert fit eight_schools` in a fresh process.

    python bench/advi_bench.py                     # ~2 min (~6 min with both peers)
    python bench/advi_bench.py --quick             # fewer repeats, shorter references
    python bench/advi_bench.py --only eight_schools,radon      # "fresh": that table alone
    PYTHONPATH=$PWD /tmp/peers/bin/python bench/advi_bench.py  # a venv with numpyro / pymc

Columns. us/step: median (interleaved rounds, `timing.Timer`) of one ADVI gradient step, i.e.
`run.elbo_grad(lam)` (one draw, the model's log density and gradient through the engine, the
pullback to (mu, omega or L)) plus the Stan optimiser's update, on ADVI's own `Run` set up as
a fit sets it up (tape recorded, whitened at the mode when the fit is). steps: `fit.steps`
(Stan's rule fired at `fit.info["stan_converged_at"]`, then the averaging windows ran).
fit s: median of 3 calls of `ppl.advi(model, family=..., seed=1, progress=False)`. ELBO/grad:
the time of the 100-draw ELBO estimates (every 100 steps, no tape) over the time of the
gradient steps, in the main loop of a fit instrumented separately. err: max over scalars of
|mean - reference mean| / reference sd, with fit.mean and fit.sd (1000 draws); sd ratio: the
range of fit sd / reference sd.

Peers, when importable (same models, same priors, same process): NumPyro SVI with AutoNormal /
AutoMultivariateNormal, Adam(0.01), float64, 10,000 steps (no stopping rule); us/step is a
jitted `lax.scan` of 100 `svi.update`s divided by 100 (what `svi.run` does; one jitted update
called from Python is in the row's note), fit s is `svi.run` (compilation included). PyMC `pm.fit`
(ADVI / FullRankADVI, its defaults, 10,000 steps); us/step is its compiled step function.
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
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
from collections import defaultdict  # noqa: E402

import numpy as np  # noqa: E402

import advi_models  # noqa: E402
import ppl  # noqa: E402
from ppl import advi_steps  # noqa: E402
from ppl.distributions.base import validation_enabled  # noqa: E402
from ppl.families import Fullrank, Meanfield  # noqa: E402

_advi = importlib.import_module("ppl.advi")      # the module (ppl.advi is the function)
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
             fit_s=None, elbo_ratio=None, err=None, worst="", sd_lo=None, sd_hi=None, note="")
    r.update(kw)
    return r


def accuracy(mean, sd, ref):
    """err = max over the reference's scalars of |mean - ref mean| / ref sd, the scalar where
    it is (worst), and the min and max of sd / ref sd."""
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
def _run_class():
    """ADVI's draws-and-density object (`advi_steps.Run`; `ppl.advi._Run` before it moved)."""
    return getattr(advi_steps, "Run", None) or _advi._Run


def wengert_step(model, family):
    """(one gradient step + optimiser update, one 100-draw ELBO estimate) as functions on
    ADVI's own `Run`, set up as `ppl.advi` sets it up (its tape recorded for replay when ADVI
    does that; preconditioned at the mode when it would be)."""
    q = (Meanfield if family == "meanfield" else Fullrank)(model.num_params)
    z0 = model.unconstrain(model.initial_point(0))
    run = _run_class()(model, q, None, np.random.default_rng(1), np.random.default_rng(2), 1,
                       100, z0)
    with validation_enabled(False):
        if hasattr(run, "record"):
            run.record(z0)
        advi_steps.precondition(run, family)
    lam, opt = q.init(np.zeros(model.num_params)), advi_steps.StanStep(0.1)

    def step():
        g = run.elbo_grad(lam)
        if g is not None:
            q.step(lam.copy(), opt, g)
    return step, lambda: run.elbo(lam)


@contextlib.contextmanager
def instrumented():
    """Time a fit's parts: {(phase, kind): seconds}, phase "setup" (recording the tape, the
    whitening at the mode), "adapt" (eta adaptation) or "main"; kind "grad" (run.elbo_grad),
    "elbo" (run.elbo) or "total" (the whole phase)."""
    acc, phase = defaultdict(float), ["main"]
    run_cls = _run_class()

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
    patches = [(run_cls, "elbo", timed, "elbo"), (run_cls, "elbo_grad", timed, "grad"),
               (run_cls, "record", phased, "setup"), (advi_steps, "precondition", phased,
                                                      "setup"),
               (_advi, "_adapt_eta", phased, "adapt")]
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

    def __init__(self, name, model, data):
        self.name, self.model, self.parts = name, model, []

    def steps(self):
        """{(family, kind): function}: one gradient step, one 100-draw ELBO estimate."""
        out = {}
        for family in FAMILIES:
            try:
                out[family, "step"], out[family, "elbo"] = wengert_step(self.model, family)
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
                ppl.advi(self.model, family=family, seed=1, progress=False)
                fits.append(time.perf_counter() - t)
            with instrumented() as acc:
                t = time.perf_counter()
                fit = ppl.advi(self.model, family=family, seed=1, progress=False)
                total = time.perf_counter() - t
            grad_all = sum(v for (p, k), v in acc.items() if k == "grad")
            elbo_all = sum(v for (p, k), v in acc.items() if k == "elbo")
            main = acc["main", "elbo"] / acc["main", "grad"] if acc["main", "grad"] else None
            rows.append(dict(family=family, library=self.label, step_s=step_s,
                             steps=fit.steps, stan_at=fit.info.get("stan_converged_at"),
                             fit_s=statistics.median(fits), elbo_ratio=main, mean=fit.mean,
                             sd=fit.sd))
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


def bench_model(name, model, data, ref, timer, repeats, libs):
    """Every library's step functions for `name` timed side by side, then each one's fits:
    (rows, Wengert's time breakdown)."""
    built = [lib(name, model, data) for lib in libs]
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
            fam, lib = r.pop("family"), r.pop("library")
            if ref is None:
                r["note"] = "no reference " + r.get("note", "")
            elif mean is not None:
                r.update(accuracy(mean, sd, ref))
            rows.append(row(name, fam, lib, **r))
    return rows, built[0].parts


# ---- fresh processes ----------------------------------------------------------------------------
NUMPYRO_SCRIPT = """\
import numpy as np, jax, numpyro, numpyro.distributions as nd
from numpyro.infer import SVI, Trace_ELBO
from numpyro.infer.autoguide import AutoNormal
numpyro.enable_x64()
def model(sigma, y):
    mu = numpyro.sample("mu", nd.Normal(0.0, 5.0))
    tau = numpyro.sample("tau", nd.HalfCauchy(5.0))
    with numpyro.plate("school", 8):
        tt = numpyro.sample("theta_trans", nd.Normal(0.0, 1.0))
        numpyro.sample("y", nd.Normal(mu + tau * tt, sigma), obs=y)
y = np.array([28., 8., -3., 7., -1., 1., 18., 12.])
sigma = np.array([15., 10., 16., 11., 9., 11., 10., 18.])
svi = SVI(model, AutoNormal(model), numpyro.optim.Adam(0.01), Trace_ELBO())
res = svi.run(jax.random.PRNGKey(1), 10000, sigma, y, progress_bar=False)
print(res.params["mu_auto_loc"])
"""
PYMC_SCRIPT = """\
import numpy as np, pymc as pm
y = np.array([28., 8., -3., 7., -1., 1., 18., 12.])
sigma = np.array([15., 10., 16., 11., 9., 11., 10., 18.])
with pm.Model():
    mu = pm.Normal("mu", 0.0, 5.0)
    tau = pm.HalfCauchy("tau", 5.0)
    tt = pm.Normal("theta_trans", 0.0, 1.0, shape=8)
    pm.Normal("y", mu + tau * tt, sigma, observed=y)
    approx = pm.fit(n=10000, method="advi", random_seed=1, progressbar=False)
print(approx.mean.eval()[:2])
"""


def wengert_command():
    """The `wengert` console script (resolved through a pyenv shim, whose bash wrapper would add
    its own start-up), or None when it is not installed."""
    path = shutil.which("wengert")
    if path and "/.pyenv/shims/" in path:
        try:
            path = subprocess.run(["pyenv", "which", "wengert"], capture_output=True,
                                  text=True, check=True).stdout.strip() or path
        except (OSError, subprocess.CalledProcessError):
            pass
    return path


def fresh_rows(runs):
    """[(what, median seconds or None, runs, note)] for the end-to-end commands."""
    cmds = []
    exe = wengert_command()
    if exe:
        cmds.append(("`wengert fit eight_schools` (console script, import included)",
                     [exe, "fit", "eight_schools"], exe + " (a fresh seed each run)"))
        cmds.append(("`wengert fit eight_schools --seed 1`",
                     [exe, "fit", "eight_schools", "--seed", "1"],
                     "seed 1: the same steps every run"))
    else:
        cmds.append(("`wengert fit eight_schools`", None, "wengert is not installed"))
    cmds.append(('`python -c "import ppl"`', [sys.executable, "-c", "import ppl"], ""))
    for mod, script, what in (("numpyro", NUMPYRO_SCRIPT, "NumPyro eight schools, AutoNormal"),
                              ("pymc", PYMC_SCRIPT, "PyMC eight schools, ADVI")):
        if importlib.util.find_spec(mod) is not None:
            cmds.append((f"{what}, 10,000 steps (python -c, import + compile included)",
                         [sys.executable, "-c", script], ""))
    out = []
    for what, cmd, note in cmds:
        if cmd is None:
            out.append((what, None, 0, note))
            continue
        times, errors = [], []
        for _ in range(runs):
            t = time.perf_counter()
            p = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
            if p.returncode:                        # a failed run is not timed
                errors.append(f"exit code {p.returncode}: {p.stderr.strip()[-200:]}")
            else:
                times.append(time.perf_counter() - t)
        if errors:
            note = f"{len(errors)} of {runs} runs failed (not timed), e.g. {errors[-1]}"
        out.append((what, statistics.median(times) if times else None, len(times), note))
    return out


# ---- printing -----------------------------------------------------------------------------------
def _f(v, fmt):
    return "-" if v is None else format(v, fmt)


def print_fits(rows, parts):
    """The table of fits and the table of where Wengert's fit time goes."""
    print("\n| model | family | library | us/step | x Wengert | steps (Stan rule at) | fit s "
          "| ELBO / grad time | max mean err / ref sd (site) | sd / ref sd |")
    print("|---|---|---|---:|---:|---:|---:|---:|---|---|")
    base = {(r["model"], r["family"]): r["step_s"] for r in rows
            if r["library"].startswith("Wengert")}
    for r in rows:
        w = base.get((r["model"], r["family"]))
        x = f"{r['step_s'] / w:.2f}" if r["step_s"] and w else "-"
        steps = "-" if r["steps"] is None else f"{r['steps']}" + (
            f" ({r['stan_at']})" if r["stan_at"] else "")
        err = "-" if r["err"] is None else f"{r['err']:.2f} ({r['worst']})"
        sd = "-" if r["sd_lo"] is None else f"{r['sd_lo']:.2f}-{r['sd_hi']:.2f}"
        print(f"| {r['model']} | {r['family']} | {r['library']} | "
              f"{_f(r['step_s'] and r['step_s'] * 1e6, '.0f')} | {x} | {steps} | "
              f"{_f(r['fit_s'], '.2f')} | {_f(r['elbo_ratio'], '.2f')} | {err} | {sd} |"
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


def print_tables(rows, parts, fresh, refs):
    """The three Markdown tables (those with rows) and the references."""
    if rows:
        print_fits(rows, parts)
    if fresh:
        print("\nFresh process, end to end (median wall seconds, subprocess + perf_counter):\n")
        print("| command | median s | runs | note |")
        print("|---|---:|---:|---|")
        for what, med, n, note in fresh:
            print(f"| {what} | {_f(med, '.2f')} | {n} | {note} |")
    if refs:
        print("\nReferences:")
    for name, ref in refs.items():
        print(f"  {name}: {ref.source if ref is not None else 'no reference (file absent)'}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="fewer repeats, shorter references")
    p.add_argument("--only", default="", help="comma-separated models: "
                   "eight_schools, logistic, radon; 'fresh' for the fresh-process table alone")
    p.add_argument("--no-fresh", action="store_true", help="skip the fresh-process table")
    args = p.parse_args(argv)
    budget, rounds, repeats, ref_draws, runs = ((0.15, 5, 1, 2000, 3) if args.quick
                                                else (0.7, 10, 3, 8000, 5))
    only = [s for s in args.only.split(",") if s]
    cases = advi_models.cases(ref_draws)
    bad = [s for s in only if s not in cases and s != "fresh"]
    if bad:
        p.error(f"--only: unknown {bad}; expected some of {', '.join(cases)}, fresh")
    timer = timing.Timer(budget, rounds)
    t0, load0 = time.perf_counter(), timing.print_load_start()
    versions = {m: getattr(importlib.import_module(m), "__version__", "?")
                for m in ("numpyro", "jax", "pymc") if importlib.util.find_spec(m)}
    print(f"  python {sys.version.split()[0]}; peers: {versions or 'none importable'}")
    rows, parts, refs = [], [], {}
    libs = [WengertLib] + advi_models.peers()
    for name, (model, data, make_ref) in cases.items():
        if only and name not in only:
            continue
        print(f"  {name}: reference ...", flush=True)
        refs[name] = ref = make_ref()
        print(f"  {name}: timing the steps of {', '.join(c.__name__[:-3] for c in libs)} "
              "side by side ...", flush=True)
        r, pt = bench_model(name, model, data, ref, timer, repeats, libs)
        rows += r
        parts += pt
        if len(libs) == 1:
            rows += [row(m, "meanfield", lib, step_s=us * 1e-6) for m, lib, us in QUOTED
                     if m == name]
    fresh = [] if args.no_fresh or (only and "fresh" not in only) else fresh_rows(runs)
    print_tables(rows, parts, fresh, refs)
    if len(libs) == 1:
        print("\nNo peer importable: the NumPyro / PyMC rows are issue 4's quoted numbers, not "
              "measured here. Quoted too: NumPyro spends 5-9 s, PyMC 1-28 s on setup and "
              "compilation in a fresh process.")
    print("Targets (issue 4): eight schools < 150 us/step; logistic <= 1.2x NumPyro per step; "
          "`wengert fit eight_schools` < 1 s end to end.")
    timing.print_load_end(t0, load0)


if __name__ == "__main__":
    main()
