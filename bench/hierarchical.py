"""The hierarchical normal with J groups against its exact posterior (quadrature over tau,
models/reference/hier_normal.py): data-poor (sigma_j = 5 tau) and data-rich (sigma_j = tau / 5)
groups, written centred or non-centred, meanfield and fullrank, with learned centring (the
default) and without (centring=None), under ppl.advi's default method and stochastic ADVI.

    python bench/hierarchical.py [--J 30] [--seed 1] [--method auto,advi] [--family lowrank]

Prints one row per model, family and method: as written (centring=None) and with learned
centring side by side, each max |mean - exact mean| / exact sd over mu, tau and theta, the
range of sd / exact sd, the verdict and k-hat; the learned centredness (mean and range) and
the seconds of the learned fit.
Bars (issue 16): error under 0.3 sd, sd ratios in [0.8, 1.25].
"""
import argparse
import os
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import ppl  # noqa: E402
from models.reference import hier_normal as hn  # noqa: E402


def score(fit, ref):
    """(max |mean error| / sd, its site, min and max sd ratio) over mu, tau and theta."""
    worst, site, ratios = -1.0, "", []
    for k in ref.mean:
        err = np.abs(np.ravel(fit.mean[k]) - np.ravel(ref.mean[k])) / np.ravel(ref.sd[k])
        i = int(np.argmax(err))
        if err[i] > worst:
            worst, site = float(err[i]), k + (f"[{i}]" if err.size > 1 else "")
        ratios.append(np.ravel(fit.sd[k]) / np.ravel(ref.sd[k]))
    ratios = np.concatenate(ratios)
    return worst, site, float(ratios.min()), float(ratios.max())


def fit_row(model, family, method, centring, seed, ref):
    """(cells of one fit: error (site), sd ratio, verdict (k-hat); lam; seconds; within bars)."""
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = ppl.advi(model, family=family, method=method, seed=seed, progress=False,
                       centring=centring)
        v = fit.verdict
    secs = time.perf_counter() - t
    err, site, lo, hi = score(fit, ref)
    lam = fit.info.get("centring", {}).get("theta")
    lam_s = "-" if lam is None else f"{lam.mean():.2f} ({lam.min():.2f}-{lam.max():.2f})"
    ok = err < 0.3 and 0.8 <= lo and hi <= 1.25
    return (f"{err:.2f} ({site}) | {lo:.2f}-{hi:.2f} | {v.kind} ({v.khat:.2f})", lam_s, secs,
            ok, fit.method)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--J", type=int, default=30)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--method", default="auto,advi")
    ap.add_argument("--family", default="meanfield,fullrank")
    args = ap.parse_args(argv)
    print("| regime | written | family | method | as written: error (site) | sd ratio | "
          "verdict (k-hat) | learned centring: error (site) | sd ratio | verdict (k-hat) | "
          "lam mean (range) | s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---:|")
    bad = 0
    for regime in ("poor", "rich"):
        data = hn.simulate(regime, J=args.J)
        ref = hn.exact_posterior(data)
        for written in ("centered", "noncentered"):
            model = getattr(hn, written)(**data)
            for family in args.family.split(","):
                for method in args.method.split(","):
                    learned, lam_s, secs, ok, ran = fit_row(model, family, method, "learn",
                                                            args.seed, ref)
                    before = "(nothing to centre) | | " if written == "noncentered" else \
                        fit_row(model, family, method, None, args.seed, ref)[0]
                    bad += method == "auto" and not ok
                    print(f"| {regime} | {written} | {family} | {ran} | {before} | {learned} | "
                          f"{lam_s} | {secs:.2f} |", flush=True)
    print(f"\ndefault (auto, learned centring) rows outside the bars (0.3 sd, [0.8, 1.25]): {bad}")


if __name__ == "__main__":
    main()
