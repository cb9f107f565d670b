"""The compiled tape's bars (issue 15), measured side by side in one run (medians, interleaved
rounds, one BLAS thread):

    python bench/compile_bench.py            # ~2 min
    python bench/compile_bench.py --quick    # fewer repeats, one fresh fit per model
    python bench/compile_bench.py --no-fresh # skip the fresh-process fits

Rows:
  value+grad  eight schools, ARMA(1, 1), GARCH(1, 1) (models/arma.py, garch.py: Python loops over
              200 observations): hand-written (numpy for eight schools, Python floats with
              derivatives carried forward for the loops: loop_baselines.py), the engine's eager
              `value_and_grad`, and `compile_value_and_grad`'s program. Bars: eight schools
              within 3x hand, the loop models within 5x hand.
  ADVI        one eight-schools meanfield gradient step (advi_bench.wengert_step: ADVI's own
              LogDensity and Elbo, density compiled, whitened at the mode); bar: under 40 us.
              The ELBO estimate over 100 draws against the same estimate over one draw; bar:
              under 10x.
  batch       `.batch(X)` over 100 draws against 100 single calls (when the program has one).
  fresh       `ppl.advi(model, family="meanfield", seed=1)` in a fresh process, import included
              (advi_fresh.py); bars: ARMA and GARCH under 3 s, eight schools no slower.
Results are checked against the hand-written ones before anything is timed.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import timing  # noqa: E402

timing.pin_blas_threads()

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

import advi_bench  # noqa: E402
import advi_fresh  # noqa: E402
import autodiff as ad  # noqa: E402
from ad_workloads_small import es_hand  # noqa: E402
from loop_baselines import arma_hand, garch_hand  # noqa: E402
from models import arma, eight_schools, garch  # noqa: E402
from ppl.distributions.base import validation_enabled  # noqa: E402


def _models():
    """name -> (bound model, z, hand-written (value, grad) at z as a function)."""
    es = eight_schools.model(**eight_schools.data())
    z_es = np.concatenate([[1.5, 0.7], np.random.default_rng(8).standard_normal(8)])
    ad_ = arma.data()
    y = ad_["y"].tolist()
    gd = garch.data()
    r, s1 = gd["r"].tolist(), gd["sigma1"]
    return {
        "eight_schools": (es, z_es, lambda z: es_hand(z[0], z[1], z[2:])),
        "arma": (arma.model(**ad_), np.array([0.4, 0.5, 0.3, 0.0]),
                 lambda z: arma_hand(z.tolist(), y)),
        "garch": (garch.model(**gd), np.array([0.05, -2.0, -1.5, 1.0]),
                  lambda z: garch_hand(z.tolist(), r, s1)),
    }


def _flat(vg):
    v, g = vg
    parts = g if isinstance(g, (tuple, list)) else [g]
    return float(v), np.concatenate([np.ravel(np.asarray(p, dtype=float)) for p in parts])


def _check(name, label, got, ref):
    v, g = _flat(got)
    rv, rg = _flat(ref)
    ok = np.isclose(v, rv, rtol=1e-9) and np.allclose(g, rg, rtol=1e-8, atol=1e-10)
    if not ok:
        print(f"  WARNING: {name} {label} disagrees with the hand-written result: {v} vs {rv}")
    return ok


def value_grad_rows(timer):
    rows = []
    for name, (m, z, hand) in _models().items():
        rows += _model_rows(timer, name, m.unconstrained_log_density, z, hand)
    return rows


def _model_rows(timer, name, f, z, hand):
    t = time.perf_counter()
    comp = ad.compile_value_and_grad(f, z)
    t_comp = time.perf_counter() - t
    eager = ad.value_and_grad(f)
    cases = [("hand-written", lambda: hand(z)), ("engine value_and_grad (eager)",
                                                lambda: eager(z)),
             ("compile_value_and_grad", lambda: comp(z))]
    rows = []
    with validation_enabled(False):
        for label, fn in cases[1:]:
            _check(name, label, fn(), hand(z))
        meds = timer([fn for _, fn in cases])
    base = meds[0][0]
    for (label, _), (med, _, _) in zip(cases, meds):
        rows.append((name, label, med, med / base))
    rows.append((name, f"(recording + compiling, once: {len(comp)} ops)", t_comp, None))
    if hasattr(comp, "batch"):
        X = z + 0.01 * np.random.default_rng(0).standard_normal((100, z.size))
        comp.batch(X)
        b, loop = timer([lambda: comp.batch(X), lambda: [comp(x) for x in X]])
        rows.append((name, ".batch over 100 draws", b[0], None))
        rows.append((name, "100 single compiled calls", loop[0], loop[0] / b[0]))
    return rows


def advi_rows(timer):
    """ADVI's own objective (ppl.infer: LogDensity compiled, Elbo whitened at the mode), as a
    meanfield fit sets it up: one gradient step, and ELBO estimates over 1 and 100 draws."""
    es = eight_schools.model(**eight_schools.data())
    step, elbo100 = advi_bench.wengert_step(es, "meanfield", {})
    _, elbo1 = advi_bench.wengert_step(es, "meanfield", {}, elbo_samples=1)
    with validation_enabled(False):
        (s, _, _), (e100, _, _), (e1, _, _) = timer([step, elbo100, elbo1])
    return [("eight_schools", "ADVI step (meanfield, Elbo.grad + Stan update)", s, None),
            ("eight_schools", "ELBO estimate, 1 draw", e1, 1.0),
            ("eight_schools", "ELBO estimate, 100 draws", e100, e100 / e1)]


def fresh_rows(runs):
    """Fresh-process meanfield fits of eight schools, ARMA and GARCH (advi_fresh.py)."""
    cases = {"eight_schools": eight_schools.data(), "arma": arma.data(), "garch": garch.data()}
    got = advi_fresh.fresh_rows(cases, ["wengert"], ("meanfield",),
                                {n: runs for n in cases}, timeout=120)
    return [(m, f"fresh process: {lib} ({n} runs) {note}", t, None)
            for m, lib, t, n, note in got]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--no-fresh", action="store_true")
    args = p.parse_args(argv)
    timer = timing.Timer(*((0.15, 5) if args.quick else (0.7, 10)))
    t0, load0 = time.perf_counter(), timing.print_load_start()
    rows = value_grad_rows(timer) + advi_rows(timer)
    if not args.no_fresh:
        rows += fresh_rows(1 if args.quick else 3)
    print("\n| model | what | median | x first row of the model |")
    print("|---|---|---:|---:|")
    for name, label, med, ratio in rows:
        print(f"| {name} | {label} | {timing.fmt_time(med)} | "
              f"{'-' if ratio is None else f'{ratio:.2f}'} |")
    print("\nBars (issue 15): eight schools compiled <= 3x hand; loop models compiled <= 5x "
          "hand; ADVI step < 40 us; ELBO 100 draws < 10x 1 draw; ARMA / GARCH fresh fit < 3 s.")
    timing.print_load_end(t0, load0)


if __name__ == "__main__":
    main()
