"""Benchmark of Wengert's autodiff engine against hand-written numpy and peer AD libraries.

    python bench/ad_bench.py                 # full run (~0.7 s of timing per cell)
    python bench/ad_bench.py --quick         # fewer repeats (~0.15 s per cell)
    python bench/ad_bench.py --json out.json # also dump every row (and the machine) as JSON
    python bench/ad_bench.py --only W3,W5    # a subset of the workloads

Workloads (every library computes the same function; results are checked to agree before
anything is timed, and a row says MISMATCH otherwise):

  W1  scalar chain of 1,000 ops (sin, mul, exp, mul, add repeated 200 times), value + gradient;
      reported per op. Peers: a micrograd-style pure-Python Value class, autograd, torch eager.
  W2  eight-schools non-centred log density, value_and_grad per call.
  W3  logistic-regression log likelihood, N=10,000, D=50, float64: sum(y*z - softplus(z)).
  W4  MLP 784-512-10 step, batch 128, float32: forward + mean cross-entropy + backward.
  W5  f(x) = sum(softplus(A x)) + |x|^2/2, A 200x100: full Hessian and one Hessian-vector product.

Each cell is the median over repeated samples (time.perf_counter, warm-up first), one BLAS
thread throughout. "x hand" is the ratio to the hand-written numpy (or plain Python) baseline
computing the same quantity; "x wengert" the ratio to Wengert's primary row of the same group.

autograd and torch are optional: they are used only when importable (the table says
"not installed" otherwise). The engine's tests never depend on them.

This file is the command line; the rest lives beside it: timing.py (timer, machine and load
report, table, JSON), ad_cases.py (the libraries, rows and result checks), ad_workloads_small.py
(W1, W2) and ad_workloads_array.py (W3 to W5).
"""
import os
import sys

# the sibling modules (timing, ad_cases, ad_workloads_*) importable however this file is run
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import timing  # noqa: E402  (standard library only)

timing.pin_blas_threads()  # one BLAS / OpenMP thread, before numpy (or torch) is imported

import argparse  # noqa: E402
import time  # noqa: E402
from typing import Callable, NamedTuple, Optional  # noqa: E402

from ad_cases import HAS_FUNCTIONAL, Skip, compare, peer_versions, torch  # noqa: E402
from ad_workloads_array import w3_cases, w4_cases, w4_dtype_warning, w5_cases  # noqa: E402
from ad_workloads_small import w1_cases, w2_cases  # noqa: E402


class Workload(NamedTuple):
    title: str
    cases: Callable  # () -> (cases, reference, tolerances, (unit, units per call))
    target: Optional[float] = None  # Wengert's primary row should be <= target x hand
    target_group: str = ""  # the group whose primary row the target applies to
    warning: Optional[Callable] = None  # () -> text of a WARNING line after the table, or ""


WORKLOADS = {
    "W1": Workload("W1 scalar chain, 1,000 ops, value+grad", w1_cases),
    "W2": Workload("W2 eight schools (non-centred), value_and_grad", w2_cases),
    "W3": Workload("W3 logistic regression N=10,000 D=50, value_and_grad", w3_cases, 1.10),
    "W4": Workload("W4 MLP 784-512-10 step, batch 128, float32", w4_cases, 1.15,
                   warning=w4_dtype_warning),
    "W5": Workload("W5 Hessian of sum(softplus(Ax)) + |x|^2/2, A 200x100", w5_cases, 20.0,
                   target_group="Hessian"),
}


def check_case(c, ref, tol, row):
    """Run case `c` once and check its result against `ref`: fills row's check and note."""
    if isinstance(c, Skip):
        row["note"] = c.why
        return
    r = ref[c.group] if isinstance(ref, dict) else ref
    try:
        got = c.result(c.fn())
        ok, msg = compare(got, r, **tol)
        row["check"] = "ok" if ok else "MISMATCH"
        row["note"] = "" if ok else msg
        row["max_rel_err"] = msg if ok else None
    except Exception as e:  # noqa: BLE001 - a benchmark reports, it does not stop
        row["check"] = "error"
        row["note"] = f"{type(e).__name__}: {e}"[:200]


def add_ratios(timed):
    """ratio_hand and ratio_wengert of every timed row, within its group."""
    for _, row in timed:
        if row["median_s"] is None:
            continue
        hand = [r for cc, r in timed if getattr(cc, "hand", False) and r["group"] == row["group"]
                and r["median_s"]]
        weng = [r for cc, r in timed if getattr(cc, "primary", False)
                and r["group"] == row["group"] and r["median_s"]]
        if hand:
            row["ratio_hand"] = row["median_s"] / hand[0]["median_s"]
        if weng:
            row["ratio_wengert"] = row["median_s"] / weng[0]["median_s"]


def target_note(w, c, row):
    """The note shown for a row: with the verdict on the workload's target for its primary row
    (also recorded in the row as target and meets_target)."""
    note = row["note"]
    if (w.target and getattr(c, "primary", False) and row["ratio_hand"]
            and row["group"] == w.target_group):
        verdict = "meets" if row["ratio_hand"] <= w.target else "MISSES"
        note = f"{verdict} target <= {w.target:g}x hand " + note
        row["target"] = w.target
        row["meets_target"] = row["ratio_hand"] <= w.target
    return note


def run_workload(key, timer, out_rows):
    """Check, time and print one workload; append its rows to `out_rows`."""
    w = WORKLOADS[key]
    cases, ref, tol, (unit, per) = w.cases()
    timing.print_table_header(w.title, unit, per)
    timed = []
    for c in cases:
        row = dict(workload=key, library=c.lib, group=c.group, median_s=None, p25_s=None,
                   p75_s=None, per_unit_s=None, unit=unit, ratio_hand=None,
                   ratio_wengert=None, check=None, note="")
        check_case(c, ref, tol, row)
        timed.append((c, row))
    to_time = [(c, row) for c, row in timed if row["check"] in ("ok", "MISMATCH")]
    for (_, row), (med, p25, p75) in zip(to_time, timer([c.fn for c, _ in to_time])):
        row.update(median_s=med, p25_s=p25, p75_s=p75, per_unit_s=med / per)
    add_ratios(timed)
    notes = [target_note(w, c, row) if row["median_s"] is not None else row["note"]
             for c, row in timed]
    timing.print_table_rows([row for _, row in timed], per, notes)
    warning = w.warning() if w.warning else ""
    if warning:
        print(f"  WARNING: {warning}")
    out_rows.extend(r for _, r in timed)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="fewer repeats (~0.15 s per cell)")
    p.add_argument("--json", metavar="PATH", help="write all rows and the machine as JSON")
    p.add_argument("--only", metavar="W1,W3", help="comma-separated workloads to run")
    p.add_argument("--budget", type=float, help="seconds of timing per cell (overrides --quick)")
    a = p.parse_args(argv)
    budget = a.budget or (0.15 if a.quick else 0.7)
    rounds = 4 if a.quick else 10
    keys = [k.strip().upper() for k in a.only.split(",")] if a.only else list(WORKLOADS)
    for k in keys:
        if k not in WORKLOADS:
            p.error(f"unknown workload {k}; choose from {', '.join(WORKLOADS)}")
    m = timing.machine_info(peer_versions(),
                            torch_threads=torch.get_num_threads() if torch else None)
    print(f"Wengert autodiff benchmark: median of repeated timings, {budget:g} s per cell in "
          f"{rounds} interleaved rounds, 1 BLAS thread")
    print(f"  python {m['python']}, numpy {m['numpy']}, autograd {m['autograd'] or 'not installed'}"
          f", torch {m['torch'] or 'not installed'}; {m['cpu']}")
    load0 = timing.print_load_start()
    if not HAS_FUNCTIONAL:
        print("  note: autodiff.value_and_grad/hessian/hvp not found: functional rows skipped")
    rows = []
    t0 = time.perf_counter()
    timer = timing.Timer(budget, rounds)
    for k in keys:
        run_workload(k, timer, rows)
    m["load_average"] = timing.print_load_end(t0, load0)
    if a.json:
        timing.write_json(a.json, dict(machine=m, budget_s=budget, rows=rows))
    bad = [r for r in rows if r["check"] in ("MISMATCH", "error")]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
