"""Deterministic ADVI against stochastic ADVI, side by side in one run: the seconds of a
whole fit of each zoo model in each family, `ppl.advi(model, family, seed=0)` at its default
(method="auto", deterministic ADVI on these models) and with method="advi" (Stan's stochastic
algorithm, the previous default), interleaved so that load drifts hit both.

    python bench/dadvi_speed.py                           # the zoo's regressions, 5 fits each
    python bench/dadvi_speed.py --only radon,seeds --repeats 3

Per model and family: the median seconds each way and their ratio dadvi / advi (under 1:
deterministic ADVI is faster). The first fit of each is a warm-up (imports, recordings) and
not timed.
"""
import argparse
import statistics
import time
import warnings

import timing

timing.pin_blas_threads()

import ppl  # noqa: E402
from models import load_model  # noqa: E402

REGRESSIONS = ("linear_regression", "kidiq", "earnings", "logistic_regression",
               "poisson_regression", "negbin_regression")


def one(model, family, method):
    """Seconds of one fit; "dadvi" is the default's (method="auto") deterministic fit, which
    takes fullrank above 50 parameters as meanfield + LRVB."""
    t = time.perf_counter()
    fit = ppl.advi(model, family=family, seed=0, progress=False,
                   method="auto" if method == "dadvi" else method)
    if fit.method != method:
        raise SystemExit(f"{model.name} {family}: the default ran {fit.method}, not {method}")
    return time.perf_counter() - t


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", default=",".join(REGRESSIONS), help="comma-separated zoo names")
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args(argv)
    t0, load0 = time.perf_counter(), timing.print_load_start()
    print("| model | family | D | stochastic ADVI s | deterministic ADVI s | ratio |")
    print("|---|---|---:|---:|---:|---:|")
    worst = 0.0
    for name in [s for s in args.only.split(",") if s]:
        entry = load_model(name)
        model = entry.model(**entry.data())
        for family in ("meanfield", "fullrank"):
            times = {"advi": [], "dadvi": []}
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                for method in times:                    # warm-up
                    one(model, family, method)
                for _ in range(args.repeats):
                    for method in times:
                        times[method].append(one(model, family, method))
            a, d = (statistics.median(times[m]) for m in ("advi", "dadvi"))
            worst = max(worst, d / a)
            print(f"| {name} | {family} | {model.num_params} | {a:.3f} | {d:.3f} | "
                  f"{d / a:.2f} |", flush=True)
    print(f"\nlargest ratio dadvi / advi: {worst:.2f}")
    timing.print_load_end(t0, load0)


if __name__ == "__main__":
    main()
