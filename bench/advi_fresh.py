"""Fresh processes, end to end (import + model + fit), for advi_bench.py's third table.

    python bench/advi_fresh.py LIBRARY MODEL FAMILY DATA.npz

imports LIBRARY (wengert, numpyro or pymc) and nothing of the others, builds MODEL (one of
advi_bench's four) on the arrays in DATA.npz and fits it once under FAMILY as advi_bench does
(Wengert: `ppl.advi(model, family, seed=1)` with the case's options; NumPyro: SVI with
AutoNormal / AutoMultivariateNormal, Adam(0.01), 10,000 steps, float64; PyMC: `pm.fit`, 10,000
steps of ADVI / FullRankADVI), then prints one line. `fresh_rows` times such commands with
`subprocess` + `time.perf_counter` (the interpreter's start-up included), writing the data
first so that no process simulates or reads anything else.
"""
import importlib.util
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
LABELS = {("wengert", "meanfield"): "Wengert ppl.advi meanfield",
          ("wengert", "fullrank"): "Wengert ppl.advi fullrank",
          ("numpyro", "meanfield"): "NumPyro SVI AutoNormal",
          ("numpyro", "fullrank"): "NumPyro SVI AutoMultivariateNormal",
          ("pymc", "meanfield"): "PyMC ADVI", ("pymc", "fullrank"): "PyMC FullRankADVI"}


def _load(path):
    """The npz arrays, 0-d integer arrays as ints (J, T)."""
    with np.load(path) as f:
        return {k: int(v) if v.ndim == 0 and v.dtype.kind == "i" else v for k, v in f.items()}


def fit_wengert(name, family, data):
    import ppl
    if name == "eight_schools":
        from models import eight_schools as zoo
        model, opts = zoo.model, {}
    elif name == "logistic":
        from models import logistic_regression as zoo
        model, opts = zoo.model, {}
    elif name in ("arma", "garch"):                 # the zoo's loop models
        zoo = importlib.import_module(f"models.{name}")
        model, opts = zoo.model, {}
    elif name == "radon":
        from models import radon as zoo
        model, opts = zoo.centered.model, {}
    else:
        from models import stochastic_volatility as zoo
        model = zoo.model
        opts = {"precondition": None, "init": {
            "mu": np.array(np.mean(np.log(data["y"] ** 2)) + 1.27), "phi": np.array(0.0),
            "sigma": np.array(1.0), "h_std": np.zeros(data["T"])}}   # advi_models.sv_init
    fit = ppl.advi(model(**data), family=family, seed=1, progress=False, **opts, method="advi")
    return f"steps {fit.steps}"


def fit_numpyro(name, family, data):
    import jax
    import numpyro
    from numpyro.infer import SVI, Trace_ELBO
    from numpyro.infer.autoguide import AutoMultivariateNormal, AutoNormal

    import advi_peers
    numpyro.enable_x64()
    fn = advi_peers.numpyro_models()[name]
    guide = (AutoNormal if family == "meanfield" else AutoMultivariateNormal)(fn)
    svi = SVI(fn, guide, numpyro.optim.Adam(0.01), Trace_ELBO())
    data = {k: jax.numpy.asarray(v) if isinstance(v, np.ndarray) else v for k, v in data.items()}
    res = svi.run(jax.random.PRNGKey(1), advi_peers.PEER_STEPS, progress_bar=False, **data)
    return f"loss {float(res.losses[-1]):.4g}"


def fit_pymc(name, family, data):
    import pymc as pm

    import advi_peers
    with advi_peers.pymc_models()[name](**data):
        approx = pm.fit(n=advi_peers.PEER_STEPS, random_seed=1, progressbar=False,
                        method="advi" if family == "meanfield" else "fullrank_advi")
    return f"loss {float(approx.hist[-1]):.4g}"


def fresh_rows(cases, libraries, families, runs, timeout=None):
    """[(model, library label, median seconds or None, runs timed, note)]: every case x
    library x family in a fresh process, `runs[model]` times each (a run past `timeout`
    seconds is stopped and not timed)."""
    out, tmp = [], tempfile.mkdtemp(prefix="advi_fresh_")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [REPO] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    try:
        for name, data in cases.items():
            path = os.path.join(tmp, f"{name}.npz")
            np.savez(path, **data)
            for lib in libraries:
                for family in families:
                    cmd = [sys.executable, os.path.join(HERE, "advi_fresh.py"), lib, name,
                           family, path]
                    times, errors = [], []
                    for _ in range(runs[name]):
                        t = time.perf_counter()
                        try:
                            p = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True,
                                               env=env, timeout=timeout)
                        except subprocess.TimeoutExpired:
                            errors.append(f"stopped after {timeout} s")
                            continue
                        if p.returncode:                # a failed run is not timed
                            errors.append(f"exit {p.returncode}: {p.stderr.strip()[-200:]}")
                        else:
                            times.append(time.perf_counter() - t)
                    note = (f"{len(errors)} of {runs[name]} failed, e.g. {errors[-1]}"
                            if errors else "")
                    out.append((name, LABELS[lib, family],
                                statistics.median(times) if times else None, len(times), note))
                    print(f"  fresh: {name} {LABELS[lib, family]}: "
                          f"{out[-1][2] and round(out[-1][2], 2)} s", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


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


def cli_rows(runs):
    """[(what, median seconds or None, runs, note)] for `wengert fit eight_schools` and
    `python -c "import ppl"` (the issue's < 1 s target)."""
    exe, cmds = wengert_command(), []
    if exe:
        cmds.append(("`wengert fit eight_schools` (console script, import included)",
                     [exe, "fit", "eight_schools"], exe + " (a fresh seed each run)"))
        cmds.append(("`wengert fit eight_schools --seed 1`",
                     [exe, "fit", "eight_schools", "--seed", "1"],
                     "seed 1: the same steps every run"))
    else:
        cmds.append(("`wengert fit eight_schools`", None, "wengert is not installed"))
    cmds.append(('`python -c "import ppl"`', [sys.executable, "-c", "import ppl"], ""))
    out = []
    for what, cmd, note in cmds:
        if cmd is None:
            out.append((what, None, 0, note))
            continue
        times = []
        for _ in range(runs):
            t = time.perf_counter()
            p = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
            if not p.returncode:
                times.append(time.perf_counter() - t)
        if len(times) < runs:
            note = f"{runs - len(times)} of {runs} runs failed (not timed) " + note
        out.append((what, statistics.median(times) if times else None, len(times), note))
    return out


def available(libraries=("wengert", "numpyro", "pymc")):
    """The libraries that import here (wengert always)."""
    return [lib for lib in libraries
            if lib == "wengert" or importlib.util.find_spec(lib) is not None]


if __name__ == "__main__":
    lib, model_name, fam, data_path = sys.argv[1:5]
    fit = {"wengert": fit_wengert, "numpyro": fit_numpyro, "pymc": fit_pymc}[lib]
    arrays = _load(data_path)
    if lib != "wengert" and model_name == "eight_schools":
        arrays.pop("J")                         # the peers' mirrors take (sigma, y)
    print(lib, model_name, fam, fit(model_name, fam, arrays))
