"""ppl.dadvi with its fixed draws' values and gradients from one batched pass of the compiled
log density (`ppl.infer.dadvi.evaluate_draws` with a program, the default) against the same fit
with the rows evaluated one at a time (the recording switched off), side by side in one run.

    PYTHONPATH=$PWD python bench/dadvi_batch.py                       # the zoo's regressions
    PYTHONPATH=$PWD python bench/dadvi_batch.py --only kidiq --repeats 5

Per zoo model and family: the median seconds of `repeats` identical fits each way (interleaved,
so load drifts hit both), their ratio, and the largest difference of the two fits' means
(they must agree to rounding: the same draws, the same optimiser).
"""
import argparse
import importlib
import statistics
import time
import warnings

import timing

timing.pin_blas_threads()

import numpy as np  # noqa: E402

import ppl  # noqa: E402
from models import load_model  # noqa: E402

dadvi_mod = importlib.import_module("ppl.infer.dadvi")  # the module (ppl.infer.dadvi: the call)

MODELS = ("linear_regression", "kidiq", "logistic_regression", "earnings")


def fit(model, family, batched):
    real = dadvi_mod.record
    if not batched:
        dadvi_mod.record = lambda log_p, z: None       # no program: rows one at a time
    try:
        t = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            f = ppl.dadvi(model, family=family, seed=0, resample=False)
        return time.perf_counter() - t, f
    finally:
        dadvi_mod.record = real


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", default=",".join(MODELS))
    p.add_argument("--family", default="meanfield,fullrank")
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args(argv)
    t0, load0 = time.perf_counter(), timing.print_load_start()
    print(f"{'model':<22} {'family':<10} {'D':>3} {'batched s':>10} {'loop s':>8} "
          f"{'loop/batched':>13} {'max |d mu|':>11}")
    for name in args.only.split(","):
        entry = load_model(name)
        model = entry.model(**entry.data())
        for family in args.family.split(","):
            times = {True: [], False: []}
            fits = {}
            for _ in range(args.repeats):
                for batched in (True, False):
                    s, fits[batched] = fit(model, family, batched)
                    times[batched].append(s)
            b, lo = statistics.median(times[True]), statistics.median(times[False])
            dmu = float(np.max(np.abs(fits[True].mu - fits[False].mu)))
            print(f"{name:<22} {family:<10} {model.num_params:>3} {b:>10.3f} {lo:>8.3f} "
                  f"{lo / b:>13.2f} {dmu:>11.2g}", flush=True)
    timing.print_load_end(t0, load0)


if __name__ == "__main__":
    main()
