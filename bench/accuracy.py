"""ADVI's accuracy against reference posteriors: the three posteriordb posteriors (gold-standard
NUTS) and every model of the zoo, under the meanfield and fullrank families, with NumPyro's and
PyMC's ADVI side by side when they are importable.

    python bench/accuracy.py                    # everything (~9 min on 2 cores with peers)
    python bench/accuracy.py --quick            # shorter references, posteriordb + 3 (<1 min)
    python bench/accuracy.py --only pdb/kidiq,radon --family fullrank --no-peers
    python bench/accuracy.py --only kidiq,earnings --method advi,auto --no-peers
    PYTHONPATH=$PWD /tmp/peers/bin/python bench/accuracy.py --json bench/out/accuracy.json

Columns, per model, family and library, against the reference means m_i and sds s_i of every
scalar i the reference has (constrained, deterministic sites included):

    mean err  = max_i |mean_i - m_i| / s_i  (and the i where it is, 0-based), from 1000
                draws of q (Monte Carlo error about 0.03 s_i); constant scalars (s_i = 0: the
                unit diagonal of a correlation matrix) are left out;
    sd ratio  = min_i .. max_i of sd_i / s_i;
    k-hat     = fit.psis_khat(): the Pareto k of log p(z) - log q(z), z ~ q (1000 draws;
                < 0.5 good, 0.5-0.7 usable, > 0.7 unreliable: Yao et al. 2018). Peers: the
                same statistic in their own unconstrained space (bench/accuracy_peers.py);
    steps     = fit.steps, and (in brackets) the step at which Stan's relative-ELBO rule fired
                (fit.info["stan_converged_at"]); the rest are the averaging windows. "!" marks
                a fit that stopped at the step cap. Peers run a fixed 10,000 steps;
    s         = wall seconds of ppl.advi(model, family=..., seed=0) (plus the zoo entry's
                advi_options, as `wengert fit` passes them), median of 3 (--quick, or
                a fit over 5 s: 1) (peers: one svi.run / pm.fit, compilation included).

References (the "reference" column): posteriordb's NUTS summaries (10 x 1000 draws) for the
posteriordb rows and for zoo entries whose shipped data are posteriordb's (eight schools: the
centred and non-centred forms have one posterior over mu, tau, theta); for radon and
radon_centered (one posterior, the data of bench/advi_models.py) the Gibbs sampler in numpy
`advi_models.radon_gibbs_reference` (4 chains, used when its split R-hat < 1.01); otherwise
Laplace + PSIS importance sampling (`advi_models.importance_reference`) when its k-hat < 0.7;
otherwise HMC (`hmc_reference.py`, 4 chains) when its split R-hat < 1.01 and at most 0.1%
of the transitions after warm-up diverged (cached in bench/out/references/, keyed by the
model's source file, its data, the sampler's source and the settings; --no-cache
recomputes); otherwise none, and the row says why.
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(1, os.path.dirname(HERE))       # the repository, when wengert isn't installed
import timing  # noqa: E402

timing.pin_blas_threads()
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false "
                      "intra_op_parallelism_threads=1")
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402

import advi_models  # noqa: E402
import reference_choice  # noqa: E402
import ppl  # noqa: E402
from advi_models import Reference  # noqa: E402

FAMILIES = ("meanfield", "fullrank", "lowrank")
POSTERIORDB = advi_models.POSTERIORDB
# posteriordb rows: (row name, folder, zoo entry binding its data.json, the tests' model)
PDB = [("pdb/eight_schools", "eight_schools-eight_schools_noncentered", "eight_schools",
        "eight_schools_noncentered"),
       ("pdb/kidiq", "kidiq-kidscore_momiq", "kidiq", "kidscore_momiq"),
       ("pdb/sblri", "sblri-blr", "linear_regression", "blr")]
QUICK_ZOO = ("eight_schools_centered", "logistic_regression", "radon")


def _pdb_tests_module():
    """tests/ppl/posteriordb.py (the Stan programs written out), loaded by path."""
    path = os.path.join(os.path.dirname(HERE), "tests", "ppl", "posteriordb.py")
    spec = importlib.util.spec_from_file_location("pdb_models", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def pdb_reference(folder, shapes):
    """posteriordb's NUTS summary as a Reference by site ("beta[2]" -> beta[1]), restricted
    to the sites of `shapes` (site -> shape) whose elements it has all of; None if none."""
    with open(os.path.join(POSTERIORDB, folder, "reference_summary.json")) as fh:
        p = json.load(fh)["parameters"]
    mean, sd = {}, {}
    for site, shape in shapes.items():
        if len(shape) > 1:
            continue
        keys = [site] if shape == () else [f"{site}[{i + 1}]" for i in range(shape[0])]
        if all(k in p for k in keys):
            mean[site] = np.array([p[k]["mean"] for k in keys]).reshape(shape)
            sd[site] = np.array([p[k]["sd"] for k in keys]).reshape(shape)
    return Reference(mean, sd, "posteriordb NUTS, 10 x 1000 draws") if mean else None


def _shapes(model):
    return {k: np.shape(v) for k, v in model.constrain(np.zeros(model.num_params)).items()}


def _pdb_data(folder):
    with open(os.path.join(POSTERIORDB, folder, "data.json")) as fh:
        raw = json.load(fh)
    return {k: np.asarray(v, dtype=float) if isinstance(v, list) else v
            for k, v in raw.items()}


def _same_data(data, folder):
    """Whether every keyword of `data` is posteriordb's `folder` data.json's (equal values)."""
    pd = _pdb_data(folder)
    return all(k in pd and np.shape(v) == np.shape(pd[k]) and np.allclose(v, pd[k])
               for k, v in data.items())


def _same(a, b):
    return a.keys() == b.keys() and all(np.shape(a[k]) == np.shape(b[k]) and
                                        np.allclose(a[k], b[k]) for k in a)


class Case:
    """One row group: a bound model, its data, the reference (made lazily) and the peers' key."""

    def __init__(self, name, model, data, make_ref, peer=None, note="", options=None):
        self.name, self.model, self.data, self.make_ref = name, model, data, make_ref
        self.peer, self.note = peer, note
        self.options = options or {}     # the zoo entry's advi_options(data), as wengert fit


def pdb_cases(zoo):
    """The posteriordb rows, with the zoo's model where it has one with the reference's site
    names, else tests/ppl/posteriordb.py's."""
    if not os.path.isdir(POSTERIORDB):
        print(f"  (no {POSTERIORDB}: the posteriordb rows are skipped)")
        return []
    tests_pdb, out = _pdb_tests_module(), []
    for name, folder, zname, tname in PDB:
        data, model, note = _pdb_data(folder), None, ""
        if zname in zoo:
            try:
                entry = zoo[zname]
                kw = {k: (int(v) if k in ("N", "D", "J") else v) for k, v in data.items()
                      if k in entry.model.model_fn.__code__.co_varnames}
                model = entry.model(**kw)
                if pdb_reference(folder, _shapes(model)) is None:
                    raise ValueError("no reference site in the zoo model")
                note = f"zoo {zname}"
            except Exception as e:          # noqa: BLE001 -- any failure: the tests' model
                model, note = None, f"tests' {tname} (zoo {zname}: {type(e).__name__})"
        if model is None:
            model, note = tests_pdb.bound(folder), note or f"tests' {tname}"
        out.append(Case(name, model, data, (lambda f=folder, m=model: pdb_reference(
            f, _shapes(m))), peer=name, note=note))
    return out


def zoo_cases(zoo, only, quick, ref_draws, hmc_draws):
    """Every zoo entry that imports and binds its shipped data."""
    out = []
    for name, entry in zoo.items():
        if only and name not in only or not only and quick and name not in QUICK_ZOO:
            continue
        try:
            data = entry.data()
            model = entry.model(**data)
        except Exception as e:                  # noqa: BLE001 -- an entry under construction
            print(f"  (zoo {name}: skipped, {type(e).__name__}: {e})")
            continue
        folder = next((f for _, f, _, _ in PDB if os.path.isdir(POSTERIORDB)
                       and _same_data(data, f)), None)

        def make(model=model, folder=folder, name=name, data=data):
            if name in ("radon", "radon_centered") and _same(data, advi_models.radon_data()):
                ref = advi_models.radon_gibbs_reference(data, 4 * ref_draws)
                ref.kind = "Gibbs"
                if float(re.search(r"R-hat (\S+)$", ref.source).group(1)) < 1.01:
                    return ref
            if folder is not None:
                ref = pdb_reference(folder, _shapes(model))
                if ref is not None:
                    ref.source += " (the shipped data are posteriordb's)"
                    ref.kind = "posteriordb"
                    return ref
            ref, notes = reference_choice.chosen_reference(model, ref_draws, hmc_draws)
            if ref is None:
                return "none: " + "; ".join(notes)
            if notes:
                ref.source += " (" + "; ".join(notes) + ")"
            return ref
        opts = getattr(entry, "advi_options", None)
        out.append(Case(name, model, data, make, peer=name,
                        options=opts(data) if opts is not None else None))
    return out


def load_zoo():
    """name -> zoo entry, for the entries that import."""
    from models import ZOO, load_model
    zoo = {}
    for name in ZOO:
        try:
            zoo[name] = load_model(name)
        except Exception as e:                  # noqa: BLE001
            print(f"  (zoo {name}: does not import: {type(e).__name__}: {e})")
    return zoo


# ---- scoring ------------------------------------------------------------------------------------
def score(mean, sd, ref):
    """err = max over the reference's scalars of |mean - ref mean| / ref sd, its label, and
    the range of sd / ref sd."""
    err, ratio, labels = [], [], []
    for name, m in ref.mean.items():
        s, m = np.asarray(ref.sd[name], dtype=float).ravel(), np.ravel(m)
        live = s > 1e-9 * np.maximum(1.0, np.abs(m))    # not a constant (a diagonal of 1s)
        with np.errstate(all="ignore"):
            err.append((np.abs(np.asarray(mean[name], dtype=float).ravel() - m) / s)[live])
            ratio.append((np.asarray(sd[name], dtype=float).ravel() / s)[live])
        idx = [""] if np.ndim(ref.mean[name]) == 0 else [
            "[" + ",".join(map(str, i)) + "]" for i in np.ndindex(*np.shape(ref.mean[name]))]
        labels += [name + i for i, ok in zip(idx, live) if ok]
    err, ratio = np.concatenate(err), np.concatenate(ratio)
    i = int(np.nanargmax(err)) if np.isfinite(err).any() else 0
    return dict(err=float(err[i]), worst=labels[i], sd_lo=float(np.nanmin(ratio)),
                sd_hi=float(np.nanmax(ratio)))


def wengert_rows(case, families, seed, repeats, method="auto"):
    """ppl.advi as a user calls it (method "auto": the default, deterministic or stochastic
    ADVI by `ppl.infer.method`), stochastic ADVI by name ("advi"), or ppl.dadvi ("dadvi"),
    under each family: seconds (median of `repeats` identical fits), steps, k-hat, means and
    sds."""
    rows = []
    for family in families:
        times = []
        try:
            while len(times) < repeats and sum(times) < 5.0:   # a slow fit is timed once
                t = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    if method == "dadvi":     # its own start: the entry's ADVI options
                        fit = ppl.dadvi(case.model, family=family, seed=seed)  # don't apply
                    elif family == "lowrank" and method == "auto":   # the entry's start only
                        init = case.options.get("init")
                        fit = ppl.advi(case.model, family=family, seed=seed, progress=False,
                                       init=init)
                    else:                       # as `wengert fit` passes them
                        fit = ppl.advi(case.model, family=family, seed=seed, progress=False,
                                       method=method, **case.options)
                times.append(time.perf_counter() - t)
        except Exception as e:                  # noqa: BLE001 -- a failed fit is a row
            rows.append(dict(family=family, library=f"Wengert {method}",
                             note=f"failed: {e}"[:120]))
            continue
        secs = statistics.median(times)
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            verdict = fit.verdict       # the fit's own: on the draws behind mean and sd
        khat = verdict.khat if verdict.kind != "no_finite" else float("nan")
        ran = fit.method if method == "auto" else method
        rows.append(dict(family=family, library=f"Wengert {method}", seconds=secs, khat=khat,
                         steps=fit.steps, stan_at=fit.info.get("stan_converged_at"),
                         capped=ran == "advi" and fit.info.get("stan_converged_at") is None,
                         mean=fit.mean, sd=fit.sd, note=f"verdict {verdict.kind}" + (
                             f", M={fit.draws}" if ran == "dadvi" else "") + (
                             f", ran {ran}" if method == "auto" else "")))
    return rows


# ---- printing -----------------------------------------------------------------------------------
def _f(v, fmt):
    return "-" if v is None or (isinstance(v, float) and np.isnan(v)) else format(v, fmt)


def print_table(rows):
    print("\n| model | reference | family | library | max mean err / ref sd (param) | "
          "sd / ref sd | k-hat | steps (Stan rule at) | s |")
    print("|---|---|---|---|---|---|---:|---:|---:|")
    for r in rows:
        err = "-" if r.get("err") is None else f"{r['err']:.2f} ({r['worst']})"
        sd = "-" if r.get("sd_lo") is None else f"{r['sd_lo']:.2f}..{r['sd_hi']:.2f}"
        steps = "-" if r.get("steps") is None else f"{r['steps']}" + (
            f" ({r['stan_at']})" if r.get("stan_at") else (" !" if r.get("capped") else ""))
        note = f" {r['note']}" if r.get("note") else ""
        print(f"| {r['model']} | {r['ref']} | {r['family']} | {r['library']} | {err} | {sd} | "
              f"{_f(r.get('khat'), '.2f')} | {steps} | {_f(r.get('seconds'), '.1f')} |{note}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true",
                   help="shorter references; the zoo limited to " + ", ".join(QUICK_ZOO)
                   + "; peers on the posteriordb rows only")
    p.add_argument("--only", default="", help="comma-separated rows: pdb/eight_schools, "
                   "pdb/kidiq, pdb/sblri, zoo names")
    p.add_argument("--family", choices=("meanfield", "fullrank", "lowrank", "both", "all"),
                   default="both", help="both: meanfield and fullrank; all: and lowrank "
                   "(rank 2; deterministic ADVI with the entry's init, its other options "
                   "are stochastic ADVI's)")
    p.add_argument("--json", default=None, help="write the rows and references here")
    p.add_argument("--peers", dest="peers", action="store_true", default=None,
                   help="run NumPyro / PyMC (default: when importable)")
    p.add_argument("--no-peers", dest="peers", action="store_false")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--method", default="auto",
                   help="comma-separated: auto (ppl.advi's default: deterministic or "
                   "stochastic by ppl.infer.method), advi (stochastic, method='advi'), dadvi "
                   "(ppl.dadvi: deterministic ADVI + LRVB); each gets its rows")
    p.add_argument("--no-cache", action="store_true",
                   help="recompute the HMC references (else read from bench/out/references/)")
    args = p.parse_args(argv)
    reference_choice.USE_CACHE = not args.no_cache
    families = {"both": FAMILIES[:2], "all": FAMILIES}.get(args.family, (args.family,))
    ref_draws, hmc_draws = (1000, 500) if args.quick else (4000, 1000)
    only = [s for s in args.only.split(",") if s]
    methods = [s for s in args.method.split(",") if s]
    if not methods or any(m not in ("auto", "advi", "dadvi") for m in methods):
        p.error(f"--method: auto, advi, dadvi (comma-separated), got {args.method!r}")
    t0, load0 = time.perf_counter(), timing.print_load_start()
    peers = []
    if args.peers is not False:
        import accuracy_peers
        peers = accuracy_peers.available()
        if args.peers and not peers:
            p.error("--peers: neither numpyro nor pymc imports")
    print(f"  python {sys.version.split()[0]}; peers: "
          f"{', '.join(f'{n} {v}' for n, v in peers) or 'none'}", flush=True)
    zoo = load_zoo()
    cases = [c for c in pdb_cases(zoo) if not only or c.name in only]
    cases += zoo_cases(zoo, only, args.quick, ref_draws, hmc_draws)
    rows, refs = [], {}
    for case in cases:
        print(f"  {case.name}: reference ...", flush=True)
        t = time.perf_counter()
        try:
            ref = case.make_ref()
        except Exception as e:                  # noqa: BLE001 -- a row without a reference
            ref = f"none: the reference failed ({type(e).__name__}: {e})"
        if isinstance(ref, str) or ref is None:
            label, source = "none", ref or "none"
            ref = None
        else:
            label, source = getattr(ref, "kind", "posteriordb"), ref.source
        refs[case.name] = dict(source=source, seconds=time.perf_counter() - t,
                               model=case.note or "zoo")
        print(f"    {source} ({refs[case.name]['seconds']:.0f} s)", flush=True)
        print(f"  {case.name}: fits ...", flush=True)
        got = []
        for method in methods:
            got += wengert_rows(case, families, args.seed, 1 if args.quick else 3, method)
        if peers and not (args.quick and not case.name.startswith("pdb/")):
            got += accuracy_peers.rows(case.peer, case.data, families,
                                       list(ref.mean) if ref is not None else [])
        for r in got:
            mean, sd = r.pop("mean", None), r.pop("sd", None)
            if ref is not None and mean is not None:
                r.update(score(mean, sd, ref))
            rows.append(dict(model=case.name, ref=label, **r))
    order = {f: i for i, f in enumerate(FAMILIES)}
    rows.sort(key=lambda r: ([c.name for c in cases].index(r["model"]), order[r["family"]]))
    print_table(rows)
    print("\nReferences:")
    for name, r in refs.items():
        print(f"  {name} [{r['model']}]: {r['source']} ({r['seconds']:.0f} s)")
    if args.json:
        timing.write_json(args.json, dict(rows=rows, references=refs,
                                          machine=timing.machine_info(dict(peers))))
    load1 = os.getloadavg()[0]
    print(f"\n(total {time.perf_counter() - t0:.0f} s; load average {load0:.2f} at the start, "
          f"{load1:.2f} at the end" + ("; the machine was busy: seconds are inflated)" if
                                       max(load0, load1) > 0.5 * (os.cpu_count() or 1) else ")"))


if __name__ == "__main__":
    main()
