"""Hostile input, as a new user meets it (issue 13): each row is one bad input, through the
command (exit code, one line on stderr, no traceback) or the Python API (exception type, one-line
message naming what is wrong).

Cases owned elsewhere and not in this table: an improper posterior during ADVI and PSIS on
all -inf log weights (ppl/infer). `np.exp(tensor)` is no longer hostile: numpy functions with an
`ad.` namesake dispatch to it; `np.array([traced, ...])` cannot, and its message names `ad.stack`.
"""
import json
import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import autodiff as ad
import ppl
from ppl import _arviz, dist
from ppl.data import zarr_array
from tests.ppl.glm import poisson_glm
from wengert import main

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RNG = np.random.default_rng(13)
X = RNG.normal(size=50)
Y = RNG.poisson(np.exp(0.5 + 0.95 * X)).astype(float)

MODELS = textwrap.dedent("""
    import numpy as np
    import autodiff as ad
    import ppl
    from ppl import dist

    def poisson_glm(x, y):
        alpha = ppl.sample("alpha", dist.Normal(0.0, 5.0))
        beta = ppl.sample("beta", dist.Normal(0.0, 5.0))
        with ppl.plate("data", len(x)):
            ppl.sample("y", dist.Poisson(ad.exp(alpha + beta * x)), obs=y)

    def uses_np_array():
        mu = ppl.sample("mu", dist.Normal(0.0, 1.0))
        ppl.sample("y", dist.Poisson(ad.exp(np.array([mu, mu]))), obs=np.array([3.0, 1.0]))

    def uses_dot_value():
        mu = ppl.sample("mu", dist.Normal(0.0, 1.0))
        if mu.value > 0:
            pass
        ppl.sample("y", dist.Normal(mu, 1.0), obs=3.0)

    def cannot_start():
        mu = ppl.sample("mu", dist.Normal(0.0, 1.0))
        ppl.factor("wall", ad.log(mu - 5.0))

    def poisson_rows(x, y):
        alpha = ppl.sample("alpha", dist.Normal(0.0, 5.0))
        beta = ppl.sample("beta", dist.Normal(0.0, 5.0))
        with ppl.plate("data", len(x)) as idx:
            ppl.sample("y", dist.Poisson(ad.exp(alpha + beta * x[idx])), obs=y[idx])

    def two_plates(x, y):
        mu = ppl.sample("mu", dist.Normal(0.0, 10.0))
        with ppl.plate("a", 5):
            ppl.sample("u", dist.Normal(mu, 1.0), obs=np.zeros(5))
        with ppl.plate("data", len(x)):
            ppl.sample("y", dist.Normal(mu, 1.0), obs=y)

    def normal_mean():
        mu = ppl.sample("mu", dist.Normal(0.0, 10.0))
        with ppl.plate("data", 3):
            ppl.sample("y", dist.Normal(mu, 1.0), obs=np.array([0.5, 1.0, 1.5]))
""")


@pytest.fixture(scope="module")
def d(tmp_path_factory):
    d = tmp_path_factory.mktemp("hostile")
    (d / "m.py").write_text(MODELS)
    (d / "pois.json").write_text(json.dumps({"x": X.tolist(), "y": Y.tolist()}))
    (d / "y_col.json").write_text(json.dumps({"x": X.tolist(), "y": [[v] for v in Y]}))
    (d / "x_col.json").write_text(json.dumps({"x": [[v] for v in X], "y": Y.tolist()}))
    (d / "x_str.json").write_text(json.dumps({"x": "abc", "y": Y.tolist()}))
    (d / "x_inf.json").write_text(json.dumps({"x": [0.0, float("inf")] + X[2:].tolist(),
                                              "y": Y.tolist()}))
    (d / "deep.json").write_text("{\"x\": " + "[" * 100_000 + "]" * 100_000 + "}")
    (d / "init.json").write_text(json.dumps({"mu": 1.0}))
    (d / "results").mkdir()
    _zarr_stores(d)
    (d / "outdir").mkdir()
    return d


def _zarr_stores(d):
    """empty.zarr: a Zarr group with no arrays; text.zarr: an array of strings; pois.zarr:
    the Poisson data in chunks of 20 rows."""
    import zarr
    zarr.open_group(str(d / "empty.zarr"), mode="w")
    g = zarr.open_group(str(d / "pois.zarr"), mode="w")
    zarr_array(g, "x", shape=X.shape, chunks=(20,), dtype="float64")[:] = X
    zarr_array(g, "y", shape=Y.shape, chunks=(20,), dtype="float64")[:] = Y
    g = zarr.open_group(str(d / "text.zarr"), mode="w")
    zarr_array(g, "x", shape=(3,), chunks=(3,), dtype=str)[:] = np.array(["a", "b", "c"])


def _unwritable(d):
    """A folder this process cannot write in: a read-only folder, or /proc when running as
    root (root writes through permissions)."""
    ro = d / "readonly"
    ro.mkdir(exist_ok=True)
    ro.chmod(0o500)
    try:
        (ro / "probe").touch()
    except OSError:
        return str(ro)
    (ro / "probe").unlink()
    if os.path.isdir("/proc/self"):
        return "/proc"
    pytest.skip("no folder this process cannot write in (root without /proc)")


PM = "{d}/m.py:poisson_glm"
CLI = [
    # silent wrong answers before: column-shaped data
    ([PM, "--data", "{d}/y_col.json"], 2,
     r"site 'y': observed data of shape \(50, 1\) broadcast with the distribution's shape "
     r"\(50,\) to \(50, 50\), beyond plate 'data' \(size 50, dim -1\)"),
    ([PM, "--data", "{d}/x_col.json"], 2,
     r"site 'y': its distribution has batch shape \(50, 1\), which reaches beyond plate 'data'"),
    # data named by argument
    ([PM, "--data", "{d}/x_str.json"], 2,
     r"model 'poisson_glm' rejects the data: argument 'x' is 'abc', .*expected numbers"),
    ([PM, "--data", "{d}/x_inf.json"], 2,
     r"rejects the data: argument 'x' holds 1 non-finite value\(s\) \(first at index 1\)"),
    ([PM, "--data", "{d}/deep.json"], 2, r"data file '.*deep.json' is nested too deeply"),
    ([PM, "--data", "{d}/results"], 2, r"data file '.*results' is a folder \(and not a Zarr "
     r"group"),
    (["{d}/results:fn"], 2, r"model file '.*results' is a folder"),
    # data on disk and on a cluster (issue 17)
    ([PM, "--data", "{d}/empty.zarr"], 2, r"the Zarr group '.*empty.zarr' holds no arrays"),
    ([PM, "--data", "{d}/text.zarr"], 2, r"Zarr array 'x' in '.*text.zarr' has dtype .*; "
     r"expected numbers"),
    ([PM, "--data", "{d}/pois.zarr", "--subsample", "0"], 2,
     r"argument --subsample: expected a positive integer, got '0'"),
    ([PM, "--data", "{d}/pois.zarr", "--subsample", "x"], 2,
     r"argument --subsample: expected a positive integer, got 'x'"),
    ([PM, "--data", "{d}/pois.zarr"], 2, r"model 'poisson_glm' rejects the data: .*data on "
     r"disk \(a memmap, Zarr or Dask array\) are read by rows: index them with the indices of "
     r"the plate"),
    (["{d}/m.py:poisson_rows", "--data", "{d}/pois.zarr", "--subsample", "51"], 2,
     r"--subsample 51: model 'poisson_rows': the subsample size of plate 'data' must be an "
     r"integer in \[1, 50\]"),
    (["{d}/m.py:two_plates", "--data", "{d}/pois.json", "--subsample", "10"], 2,
     r"--subsample 10: model 'two_plates': name the plate to subsample: it has 2 plates"),
    ([PM, "--data", "{d}/pois.zarr", "--scheduler", "tcp://127.0.0.1:1"], 2,
     r"--scheduler 'tcp://127.0.0.1:1': cannot connect to a Dask scheduler there"),
    ([PM, "--data", "{d}/pois.zarr", "--scheduler", "not an address"], 2,
     r"--scheduler 'not an address': cannot connect"),
    # outputs, checked before the fit
    ([PM, "--data", "{d}/pois.json", "--out", "{d}/outdir"], 2,
     r"--out '.*outdir' is a folder; give a file name"),
    ([PM, "--data", "{d}/pois.json", "--out", "{d}/pois.json/fit.nc"], 2,
     r"--out '.*pois.json/fit.nc': '.*pois.json' is a file, not a folder"),
    ([PM, "--data", "{d}/pois.json", "--out", "{ro}/fit.nc"], 2,
     r"--out '.*fit.nc': cannot write in the folder"),
    ([PM, "--data", "{d}/pois.json", "--plot", "{d}/pois.json"], 2,
     r"--plot '.*pois.json' is a file; give a folder"),
    ([PM, "--data", "{d}/pois.json", "--plot", "{d}/pois.json/figs"], 2,
     r"--plot '.*figs': '.*pois.json' is a file, not a folder"),
    ([PM, "--data", "{d}/pois.json", "--plot", "{ro}/figs"], 2, r"--plot '.*figs': cannot"),
    # --init
    ([PM, "--data", "{d}/pois.json", "--init", "{{\"alpha\": 0"], 2, r"--init is not valid JSON"),
    ([PM, "--data", "{d}/pois.json", "--init", "{d}/init.json"], 2,
     r"--init file .* must give every latent site of model 'poisson_glm' \(alpha, beta\); "
     r"missing: alpha, beta, unknown: mu"),
    ([PM, "--data", "{d}/pois.json", "--init", "{d}/nofile.json"], 2,
     r"--init '.*nofile.json': neither a JSON object nor a file"),
    (["{d}/m.py:normal_mean", "--init", "{{\"mu\": [1, 2]}}"], 2,
     r"--init: 'mu' must have shape \(\), got \(2,\)"),
    # --method
    ([PM, "--data", "{d}/pois.json", "--method", "nuts"], 2,
     r"argument --method: invalid choice: 'nuts' \(choose from '?auto'?, '?advi'?, '?dadvi'?\)"),
    ([PM, "--data", "{d}/pois.json", "--method", "dadvi", "--steps", "50"], 2,
     r"--steps is ADVI's step limit; --method dadvi takes no steps"),
    (["{d}/m.py:cannot_start", "--method", "dadvi"], 1,
     r"the fit failed: dadvi: .*not finite at any of the 4 initial point.*from the command: "
     r"--init"),
    # --family lowrank, --rank, --centring (issue 16)
    ([PM, "--data", "{d}/pois.json", "--rank", "1"], 2,
     r"--rank is the low-rank family's: give --family lowrank"),
    ([PM, "--data", "{d}/pois.json", "--family", "lowrank", "--rank", "x"], 2,
     r"--rank: expected a positive integer"),
    ([PM, "--data", "{d}/pois.json", "--centring", "maybe"], 2,
     r"argument --centring: invalid choice: 'maybe'"),
    (["{d}/m.py:normal_mean", "--family", "lowrank"], 1,
     r"the fit failed: family='lowrank' needs a rank from 1 to D - 1 = 0 .* use 'meanfield'"),
    ([PM, "--data", "{d}/pois.json", "--family", "lowrank", "--rank", "2"], 1,
     r"the fit failed: family='lowrank' needs a rank from 1 to D - 1 = 1 .* family='fullrank'"),
    # a fit that cannot start names --init
    (["{d}/m.py:cannot_start", "--steps", "50"], 1,
     r"the fit failed: .*not finite at the initial point.*from the command: --init"),
    # the model's own code
    (["{d}/m.py:uses_np_array", "--steps", "50"], 2,
     r"model 'uses_np_array' fails when differentiated: TypeError: .*Tensor.*ad\."),
    (["{d}/m.py:uses_dot_value", "--steps", "50"], 2,
     r"model 'uses_dot_value' fails when run: AttributeError: .*ad\.getval\(x\)"),
]


@pytest.mark.parametrize("args, code, message", CLI, ids=[" ".join(r[0]) for r in CLI])
def test_command(d, args, code, message, capsys):
    ro = _unwritable(d) if any("{ro}" in a for a in args) else ""
    argv = ["fit"] + [a.format(d=d, ro=ro) for a in args] + ["--seed", "1", "--quiet"]
    assert main(argv) == code
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert err.count("\n") == 1 and err.startswith("wengert: error: "), err
    assert re.search(message, err), err
    if code == 2 and "fails when" not in message:
        assert out == ""        # nothing fitted


@pytest.mark.parametrize("args", [
    ["{d}/m.py:cannot_start", "--steps", "50"], ["{d}/m.py:uses_np_array", "--steps", "50"],
    [PM, "--data", "{d}/y_col.json"]])
def test_a_real_process_prints_one_line_and_no_traceback(d, args):
    # no pytest capture in between: warnings and tracebacks would reach stderr
    out = subprocess.run([sys.executable, "-m", "wengert", "fit", *[a.format(d=d) for a in args],
                          "--seed", "1", "--quiet"], capture_output=True, text=True, cwd=REPO)
    assert out.returncode in (1, 2)
    assert out.stderr.count("\n") == 1 and out.stderr.startswith("wengert: error: "), out.stderr


def test_init_from_the_command_reaches_advi(d, capsys, monkeypatch):
    seen = {}
    real = ppl.advi

    def advi(model, **kwargs):
        seen.update(kwargs)
        return real(model, **kwargs)
    monkeypatch.setattr(ppl, "advi", advi)
    assert main(["fit", f"{d}/m.py:normal_mean", "--init", "{\"mu\": 0.75}", "--steps", "200",
                 "--seed", "1", "--quiet"]) == 0
    assert seen["init"] == {"mu": 0.75}
    assert "initial values from --init" in capsys.readouterr().out


def test_a_write_that_fails_after_the_fit_keeps_the_fit(d, capsys, monkeypatch):
    real = _arviz.to_netcdf

    def full_disk(obj, path):
        if str(path).endswith("wanted.nc"):
            raise OSError(28, "No space left on device")
        return real(obj, path)
    monkeypatch.setattr(_arviz, "to_netcdf", full_disk)
    code = main(["fit", f"{d}/m.py:normal_mean", "--out", f"{d}/wanted.nc", "--steps", "200",
                 "--seed", "1", "--quiet"])
    out, err = capsys.readouterr()
    assert code == 1 and "Traceback" not in out + err
    assert "mean" in out and "mu" in out            # the fit is printed
    assert err.count("\n") == 1
    m = re.search(r"could not write --out '.*wanted.nc' \(OSError: .*No space left on device\); "
                  r"(the fit was written to (\S+) instead|the fit is printed above \(a copy in "
                  r"the temporary folder failed too: .+\))$", err.strip())
    assert m, err
    if m.group(2) is None:      # the spare copy failed as well (once in ~6 full-suite runs
        return                  # here, cause not found): the printed fit is what is left
    spare = m.group(2)
    try:
        back = _arviz.from_netcdf(spare)
        assert dict(back["posterior"].sizes)["chain"] == 1
    finally:
        os.unlink(spare)


# ---- the Python API ------------------------------------------------------------------------------
@ppl.model
def in_plate(kind, value):
    mu = ppl.sample("mu", dist.Normal(0.0, 1.0))
    with ppl.plate("rows", 5):
        if kind == "deterministic":
            ppl.deterministic("eta", mu * value)
        else:
            ppl.factor("lik", -0.5 * (value - mu) ** 2)


@ppl.model
def dot_value():
    mu = ppl.sample("mu", dist.Normal(0.0, 1.0))
    ppl.sample("y", dist.Normal(mu, 1.0 + 0.0 * float(mu.value)), obs=1.0)


@ppl.model
def np_array():
    mu = ppl.sample("mu", dist.Normal(0.0, 1.0))
    ppl.sample("y", dist.Poisson(ad.exp(np.array([mu, mu]))), obs=np.array([3.0, 1.0]))


API = [
    (lambda: poisson_glm(X, Y[:, None]), ValueError,
     r"site 'y': observed data of shape \(50, 1\) .* to \(50, 50\), beyond plate 'data'"),
    (lambda: poisson_glm(X[:, None], Y), ValueError,
     r"site 'y': its distribution has batch shape \(50, 1\), which reaches beyond plate"),
    (lambda: poisson_glm(X.tolist(), [[v] for v in Y]), ValueError,
     r"site 'y': observed data of shape \(50, 1\)"),
    (lambda: in_plate("deterministic", np.ones((5, 1))), ValueError,
     r"deterministic site 'eta': its value has shape \(5, 1\), which does not fit plate"),
    (lambda: in_plate("factor", np.ones(3)), ValueError,
     r"factor site 'lik': its log weight has shape \(3,\), which does not fit plate 'rows'"),
    (lambda: poisson_glm("abc", Y), TypeError,
     r"model 'poisson_glm': argument 'x' is 'abc', and the model computes with it: expected "
     r"numbers"),
    (lambda: poisson_glm(["a"] * 50, Y), TypeError,
     r"argument 'x' holds str values; expected numbers"),
    (lambda: poisson_glm([1.0, [2.0]] + [0.0] * 48, Y), TypeError,
     r"argument 'x' is a ragged or mixed list"),
    (lambda: poisson_glm(np.r_[np.inf, X[1:]], Y), ValueError,
     r"argument 'x' holds 1 non-finite value\(s\) \(first at index 0\)"),
    (lambda: dot_value(), AttributeError,
     r"model 'dot_value': .*has no attribute 'value'.*read it with ad\.getval\(x\)"),
    (lambda: ppl.advi(np_array(), steps=50, seed=0, progress=False), TypeError,
     r"Tensor.*ad\.stack"),
    # issue 16: centring and the low-rank family
    (lambda: ppl.advi(poisson_glm(X, Y), family="lowrank", rank=0), ValueError,
     r"advi: rank must be a positive integer, got 0"),
    (lambda: ppl.advi(poisson_glm(X, Y), rank=2), ValueError,
     r"advi: rank is the low-rank family's; family='meanfield' takes none"),
    (lambda: ppl.dadvi(poisson_glm(X, Y), centring="yes"), ValueError,
     r"dadvi: centring must be 'learn', None, a number in \[0, 1\] or a dict"),
    (lambda: ppl.advi(poisson_glm(X, Y), centring="yes", method="advi"), ValueError,
     r"advi: centring must be 'learn', None, a number in \[0, 1\] or a dict"),
    (lambda: poisson_glm(X, Y).centred({"alpha": 0.5}), ValueError,
     r"centring: 'alpha' is not a site partial centring applies to .* has \[\]"),
]


@pytest.mark.parametrize("call, error, message", API, ids=[m[:40] for _, _, m in API])
def test_api(call, error, message):
    with pytest.raises(error) as info:
        call()
    text = str(info.value)
    assert "\n" not in text
    assert re.search(message, text), text
