"""Timing harness shared by the benchmark scripts under bench/.

Standard library only, so a script can import it before numpy, pin BLAS to one thread, and only
then import numpy (and torch, autograd, the engine):

    import timing
    timing.pin_blas_threads()          # before numpy is imported anywhere
    import numpy as np

    timer = timing.Timer(budget=0.7, rounds=10)
    (med, p25, p75), = timer([fn])     # seconds per call of each function, timed side by side

Pieces:

  pin_blas_threads()        one BLAS / OpenMP thread (environment variables)
  Timer(budget, rounds)     median and quartiles per call, interleaved rounds, gc frozen
  fmt_time(s)               "2.16 ms", "25.8 ns", "-"
  machine_info(versions)    python, library versions, CPU, platform, thread settings (a dict)
  print_load_start()        CPU count and the load average before the run
  print_load_end(t0, load0) total time and load after the run, with a warning if it was busy
  print_table_header(...)   the header of a results table
  print_table_rows(...)     its rows (the row dicts described under print_table_rows)
  write_json(path, data)    the results as JSON
"""
import gc
import json
import os
import platform
import statistics
import sys
import time
import warnings

BLAS_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                    "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


def pin_blas_threads():
    """Set every BLAS / OpenMP thread-count variable to 1.

    The libraries read them once, when first loaded: call this before numpy (or torch) is
    imported anywhere. A warning says when numpy is already loaded and it comes too late.
    """
    if "numpy" in sys.modules:
        warnings.warn("pin_blas_threads() after numpy was imported: BLAS may use more threads",
                      stacklevel=2)
    for k in BLAS_THREAD_VARS:
        os.environ[k] = "1"


class Timer:
    """Median seconds per call of several functions, timed side by side.

    Each function is calibrated (warm-up, then `inner` calls per sample so that a sample lasts
    ~1/40 of the budget), then all of them are sampled in interleaved rounds: a burst of load on
    the machine then hits every library of a workload alike instead of one cell.
    """

    def __init__(self, budget, rounds):
        """`budget`: seconds of timed calls per function; `rounds`: interleaved rounds."""
        self.budget = budget
        self.rounds = rounds

    def _calibrate(self, fn):
        fn()  # warm-up (a result check has usually run it once too)
        t0 = time.perf_counter()
        fn()
        one = max(time.perf_counter() - t0, 1e-7)
        end = time.perf_counter() + 0.05 * self.budget
        while time.perf_counter() < end:
            fn()
        return max(1, int(self.budget / 40 / one))

    def __call__(self, fns):
        """[(median, p25, p75)] seconds per call, one per function of `fns`.

        Garbage is collected and what is alive frozen into the permanent generation first, so
        that the collections during the timing are cheaper and steadier. Round r starts with
        function r (mod len(fns)), so no function is always first after a switch.
        """
        gc.collect()
        gc.freeze()
        inner = [self._calibrate(f) for f in fns]
        samples = [[] for _ in fns]
        slot = self.budget / self.rounds
        for r in range(self.rounds):
            order = list(range(len(fns)))
            order = order[r % len(order):] + order[:r % len(order)] if order else order
            for i in order:
                f, n, out = fns[i], inner[i], samples[i]
                end = time.perf_counter() + slot
                while True:
                    t = time.perf_counter()
                    for _ in range(n):
                        f()
                    t1 = time.perf_counter()
                    out.append((t1 - t) / n)
                    if t1 >= end:
                        break
        res = []
        for s in samples:
            q = statistics.quantiles(s, n=4) if len(s) > 1 else s * 3
            res.append((statistics.median(s), q[0], q[2]))
        return res


def fmt_time(s):
    """Seconds as three significant digits in s, ms, us or ns; "-" for None."""
    if s is None:
        return "-"
    for unit, k in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if s >= k:
            return f"{s / k:.3g} {unit}"
    return f"{s / 1e-9:.3g} ns"


def machine_info(versions, **extra):
    """A dict describing the run: python, `versions` ({library: version or None}), cpu,
    platform, the first three BLAS thread variables, then `extra` (e.g. torch_threads=1)."""
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return dict(python=platform.python_version(), **versions, cpu=cpu,
                platform=platform.platform(),
                threads={k: os.environ[k] for k in BLAS_THREAD_VARS[:3]}, **extra)


def print_load_start():
    """Print the CPU count and the 1-minute load average; return that load average."""
    load0 = os.getloadavg()[0]
    print(f"  {os.cpu_count()} CPUs, load average {load0:.2f} at start")
    return load0


def print_load_end(t0, load0):
    """Print the seconds since `t0` (time.perf_counter) and the load average now, and a warning
    when the machine was busy (load above half the CPUs); return [load0, load at the end]."""
    load1 = os.getloadavg()[0]
    print(f"\n(total {time.perf_counter() - t0:.0f} s; load average {load1:.2f} at the end)")
    if max(load0, load1) > 0.5 * (os.cpu_count() or 1):
        print("WARNING: the machine was busy: absolute times are inflated; the ratios, timed in "
              "interleaved rounds, are the numbers to trust")
    return [load0, load1]


def print_table_header(title, unit, per):
    """Print a blank line, `title`, and the column header. The "per `unit`" column is shown
    only when a call does `per` > 1 units of work (e.g. unit="op", per=1000)."""
    print(f"\n{title}")
    per_col = "per " + unit if per != 1 else ""
    hdr = (f"  {'library':<48} {'median':>10} {per_col:>10} {'x hand':>8} "
           f"{'x wengert':>9} {'IQR':>6}  check")
    print(hdr)
    print("  " + "-" * (len(hdr) - 2))


def print_table_rows(rows, per, notes=None):
    """Print one line per row dict, and a WARNING line after each row whose check is MISMATCH.

    A row has library, median_s, p25_s, p75_s, per_unit_s, ratio_hand, ratio_wengert, check and
    note; median_s None means not timed (skipped or failed), shown with dashes. `notes`, one
    per row, replaces the note shown for timed rows (the row's own note stays as it is).
    """
    notes = notes or [row["note"] for row in rows]
    for row, note in zip(rows, notes):
        lib = row["library"]
        if row["median_s"] is None:
            print(f"  {lib:<48} {'-':>10} {'-':>10} {'-':>8} {'-':>9} {'-':>6}  "
                  f"{row['check'] or ''} {row['note']}")
            continue
        rh = f"{row['ratio_hand']:.2f}" if row["ratio_hand"] else "-"
        rw = f"{row['ratio_wengert']:.2f}" if row["ratio_wengert"] else "-"
        iqr = f"{100 * (row['p75_s'] - row['p25_s']) / row['median_s']:.0f}%"
        per_s = fmt_time(row["per_unit_s"]) if per != 1 else ""
        print(f"  {lib:<48} {fmt_time(row['median_s']):>10} {per_s:>10} {rh:>8} {rw:>9} "
              f"{iqr:>6}  {row['check']} {note}")
        if row["check"] == "MISMATCH":
            print(f"  WARNING: {lib} disagrees with the reference: {row['note']}")


def write_json(path, data):
    """Write `data` as indented JSON to `path` (creating its folder) and say so."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as fh:
        json.dump(data, fh, indent=1)
    print(f"wrote {path}")
