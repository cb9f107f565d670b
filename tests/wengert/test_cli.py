"""`wengert`: argument parsing, the error paths (exit 2, one line on stderr), fits of zoo and
file models end to end, --out and --plot, Ctrl-C, and the installed console script."""
import json
import re
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import ppl
from wengert import cli
from wengert.io import read_data

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

MODELS_PY = textwrap.dedent("""
    import numpy as np
    import ppl
    from ppl import dist

    CONST = 3

    def coin(flips):
        p = ppl.sample("p", dist.Beta(1.0, 1.0))
        with ppl.plate("flips", len(flips)):
            ppl.sample("y", dist.Bernoulli(probs=p), obs=flips)

    @ppl.model
    def normal_mean(y, scale=1.0):
        mu = ppl.sample("mu", dist.Normal(0.0, 10.0))
        with ppl.plate("n", len(y)):
            ppl.sample("y", dist.Normal(mu, scale), obs=y)

    def no_data():
        ppl.sample("x", dist.Normal(1.0, 2.0))

    bound = normal_mean(np.array([1.0, 2.0, 3.0]))

    def helper():
        return 2

    def nowhere():
        ppl.sample("x", dist.Normal(0.0, 1.0))
        ppl.factor("impossible", float("-inf"))

    def interrupted():
        ppl.sample("x", dist.Normal(1.0, 2.0))
""")


@pytest.fixture
def files(tmp_path):
    (tmp_path / "m.py").write_text(MODELS_PY)
    (tmp_path / "broken.py").write_text("def f(:\n")
    (tmp_path / "raises.py").write_text("raise RuntimeError('boom')\n")
    for name, obj in {"coin.json": {"flips": [1, 0, 1, 1, 1, 0, 1]},
                      "list.json": [1, 2], "extra.json": {"flips": [1, 0], "n": 2},
                      "ragged.json": {"flips": [[1, 0], [1]]}, "words.json": {"flips": ["a"]},
                      "empty.json": {}, "es_bad.json": {"J": 8, "y": [1.0, 2.0],
                                                        "sigma": [1.0, 2.0, 3.0]}}.items():
        (tmp_path / name).write_text(json.dumps(obj))
    (tmp_path / "bad.json").write_text('{"flips": [1, 0,}')
    (tmp_path / "latin1.json").write_bytes(b'{"flips": "\xe9"}')
    return tmp_path


def run_main(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


ERRORS = [
    (["fit", "no_such"], "unknown model 'no_such'.*eight_schools"),
    (["fit", "{d}/m.py"], "name the model function"),
    (["fit", "{d}/missing.py:f"], "not found"),
    (["fit", "{d}/m.py:"], "expected path/to/file.py:function"),
    (["fit", "{d}/m.py:absent"], "has no function 'absent'"),
    (["fit", "{d}/m.py:CONST"], "not a model function \\(got int\\)"),
    (["fit", "{d}/m.py:helper"], "no latent variables"),
    (["fit", "{d}/broken.py:f"], "SyntaxError"),
    (["fit", "{d}/raises.py:f"], "RuntimeError: boom"),
    (["fit", "{d}/m.py:coin"], "missing data key\\(s\\) flips.*it takes \\(flips\\)"),
    (["fit", "{d}/m.py:coin", "--data", "{d}/nofile.json"], "data file .* not found"),
    (["fit", "{d}/m.py:coin", "--data", "{d}"], "data file .* is a folder"),
    (["fit", "{d}/m.py:coin", "--data", "{d}/latin1.json"], "cannot read data file"),
    (["fit", "{d}/m.py:coin", "--data", "{d}/bad.json"], "not valid JSON.*line 1"),
    (["fit", "{d}/m.py:coin", "--data", "{d}/list.json"], "must hold a JSON object.*got .*list"),
    (["fit", "{d}/m.py:coin", "--data", "{d}/extra.json"], "unknown data key\\(s\\) n"),
    (["fit", "{d}/m.py:coin", "--data", "{d}/empty.json"], "missing data key\\(s\\) flips"),
    (["fit", "{d}/m.py:coin", "--data", "{d}/ragged.json"], "rectangular"),
    (["fit", "{d}/m.py:coin", "--data", "{d}/words.json"], "list of numbers"),
    (["fit", "{d}/m.py:bound", "--data", "{d}/coin.json"], "already bound"),
    (["fit", "eight_schools", "--data", "{d}/es_bad.json"], "rejects the data"),
    (["fit", "eight_schools", "--data", "{d}/coin.json"], "unknown data key\\(s\\) flips"),
    (["fit", "eight_schools", "--steps", "0"], "--steps: expected a positive integer"),
    (["fit", "eight_schools", "--rank", "2"], "--rank is the low-rank family's"),
    (["fit", "eight_schools", "--family", "lowrank", "--rank", "0"],
     "--rank: expected a positive integer"),
    (["fit", "eight_schools", "--steps", "1.5"], "--steps: expected a positive integer"),
    (["fit", "eight_schools", "--draws", "20"], "--draws: expected an integer >= 21"),
    (["fit", "eight_schools", "--seed", "-1"], "--seed: expected a non-negative integer"),
    (["fit", "eight_schools", "--family", "diag"], "invalid choice: 'diag'"),
    (["fit", "eight_schools", "--out", "{d}/no/dir/fit.nc"], "--out .*does not exist"),
    (["fit", "eight_schools", "--plot", "{d}/m.py"], "--plot .* is a file; give a folder"),
    (["fit", "eight_schools", "--bogus"], "unrecognized arguments: --bogus"),
    (["fit"], "required: MODEL"),
    ([], "a command is required"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
]


@pytest.mark.parametrize("argv, message", ERRORS, ids=[" ".join(a) or "none" for a, _ in ERRORS])
def test_errors_are_one_line_exit_2(files, capsys, argv, message):
    code, out, err = run_main(capsys, *[a.format(d=files) for a in argv])
    assert code == 2
    assert out == ""  # nothing was fitted or printed
    assert err.count("\n") == 1 and err.startswith("wengert: error: ")
    assert re.search(message, err), err


def test_fit_failure_exits_1_with_one_line(files, capsys):
    code, out, err = run_main(capsys, "fit", f"{files}/m.py:nowhere", "--quiet")
    assert code == 1
    assert err.count("\n") == 1 and err.startswith("wengert: error: the fit failed: ")
    assert "'impossible'" in err and "Traceback" not in err


def test_version_help_and_models(capsys):
    code, out, _ = run_main(capsys, "--version")
    assert code == 0 and out.startswith("wengert ")
    code, out, _ = run_main(capsys, "fit", "--help")
    assert code == 0 and "--family {meanfield,fullrank,lowrank}" in out
    code, out, _ = run_main(capsys, "models")
    lines = out.splitlines()
    from models import ZOO
    assert code == 0 and [ln.split()[0] for ln in lines] == sorted(ZOO)
    assert len(ZOO) >= 12 and "posteriordb" in dict(ln.split(None, 1) for ln in lines)[
        "eight_schools"]


def test_read_data_types(files):
    (files / "types.json").write_text(json.dumps(
        {"ints": [1, 2], "floats": [[1.5, 2], [3, 4]], "n": 3, "s": 0.5, "name": "x",
         "flag": True, "none": None}))
    d = read_data(files / "types.json")
    assert d["ints"].dtype.kind == "i" and d["floats"].shape == (2, 2)
    assert d["floats"].dtype == np.float64
    assert d["n"] == 3 and type(d["n"]) is int and d["s"] == 0.5 and d["name"] == "x"
    assert d["flag"] is True and d["none"] is None


def _judged(q_sd, family, method="advi"):
    # q = N(0, q_sd^2) against a N(0, 1) posterior, 1000 draws
    from scipy import stats
    from ppl.infer import judge
    x = np.random.default_rng(0).normal(0.0, q_sd, size=(1000, 1))
    return judge(x, stats.norm.logpdf(x).sum(1), stats.norm.logpdf(x, 0, q_sd).sum(1), family,
                 method=method)


def test_verdict_words():
    from ppl.infer import Verdict
    assert re.search(r"^k-hat -?\d\.\d\d: good \(PSIS over 1000 draws of q: < 0.5 good, "
                     r"<= 0.7 ok", cli._verdict_line(_judged(1.05, "meanfield")))
    # a good verdict's words are k-hat's, by ppl.infer.diagnostics' thresholds (one set)
    from ppl.infer.diagnostics import khat_words
    for k in (0.2, 0.5, 0.7):
        good = Verdict("good", k, 900.0, 1000, np.zeros(1), np.ones(1), "", "")
        assert cli._verdict_line(good).split(": ")[1].startswith(khat_words(k)), k
    assert "ok after reweighting" in cli._verdict_line(_judged(1.3, "fullrank"))
    narrow = cli._verdict_line(_judged(0.3, "meanfield"))
    assert re.search(r"unreliable; the draws miss.*family='fullrank'.*more steps", narrow)
    narrow = cli._verdict_line(_judged(0.3, "fullrank", "dadvi"))     # remedies that exist
    assert "more fixed draws" in narrow and "fullrank'" not in narrow and "steps" not in narrow
    light = Verdict("light_tails", 0.81, 700.0, 1000, np.zeros(1), np.ones(1),
                    "PSIS k-hat 0.81, ESS 700 of 1000: q's tails are lighter", "")
    assert re.search(r"^k-hat 0.81: ok, light tails; q's tails are lighter",
                     cli._verdict_line(light))
    none = Verdict("no_finite", np.inf, 0.0, 1000, np.zeros(1), np.zeros(1), "none finite", "")
    assert cli._verdict_line(none).startswith("k-hat: not computed: none finite")


def _rows(out):
    return {line.split()[0]: line for line in out.splitlines() if line.strip()}


def test_fit_file_models(files, capsys):
    # a plain function with data: Beta(1, 1) prior, 5 heads in 7 -> Beta(6, 3), mean 2/3
    coin = ["fit", f"{files}/m.py:coin", "--data", f"{files}/coin.json", "--seed", "3",
            "--quiet", "--draws", "400", "--steps", "400"]
    code, out, err = run_main(capsys, *coin)
    assert code == 0, err
    # the same seed gives the same printout (timings aside)
    code2, out2, _ = run_main(capsys, *coin)
    strip = lambda s: [ln for ln in s.splitlines() if not ln.startswith("seconds")]
    assert code2 == 0 and strip(out2) == strip(out)
    assert out.startswith("Model(coin: 1 unconstrained parameters; p[])")
    assert "ADVI meanfield, seed 3" in out and "k-hat" in out and "seconds: fit" in out
    assert "p" in _rows(out)
    # an @ppl.model factory with a default argument left out; a bound Model; no data
    for spec in ("normal_mean", "bound"):
        (files / "y.json").write_text(json.dumps({"y": [1.0, 2.0, 3.0]}))
        extra = ["--data", f"{files}/y.json"] if spec == "normal_mean" else []
        code, out, err = run_main(capsys, "fit", f"{files}/m.py:{spec}", *extra, "--seed", "1",
                                  "--quiet", "--family", "fullrank", "--steps", "400")
        assert code == 0, err
        assert "ADVI fullrank" in out and "mu" in _rows(out)
    code, out, err = run_main(capsys, "fit", f"{files}/m.py:no_data", "--quiet", "--seed", "2",
                              "--steps", "400")
    assert code == 0, err
    assert "x" in _rows(out)


def test_eight_schools_prints_rows_and_convergence(capsys):
    code, out, err = run_main(capsys, "fit", "eight_schools", "--steps", "2000", "--seed", "1",
                              "--quiet")
    assert code == 0, err
    rows = _rows(out)
    assert "mu" in rows and "tau" in rows
    conv = [ln for ln in out.splitlines() if "converged:" in ln]
    assert len(conv) == 1 and "steps" in conv[0] and "eta" in conv[0] and "R-hat" in conv[0]
    assert re.search(r"^k-hat \d\.\d\d: (good|ok|unreliable)", out, re.M)


def test_dadvi_fits_a_zoo_regression_as_its_exact_posterior(capsys):
    # the raw-dollar earnings regression (flat priors): beta | sigma Gaussian, sigma by
    # quadrature; Stan's ADVI fails on it, `--method dadvi` must not
    from tests.models.zoo_reference import bound, normal_linear_reference
    m, d = bound("earnings")
    X = np.column_stack([np.ones(d["N"]), d["height"]])
    mean, sd = normal_linear_reference(X, d["earn"], None, lambda s: 0.0 * s)
    code, out, err = run_main(capsys, "fit", "earnings", "--method", "dadvi", "--seed", "0",
                              "--quiet")
    assert code == 0, err
    assert "DADVI meanfield, seed 0" in out and "(PSIS-resampled 1000 of 4000 draws" in out
    rows = _rows(out)
    for label, m_i, s_i in (("beta[0]", mean["beta"][0], sd["beta"][0]),
                            ("beta[1]", mean["beta"][1], sd["beta"][1]),
                            ("sigma", mean["sigma"], sd["sigma"])):
        cells = [float(c) for c in rows[label].split()[1:3]]
        assert abs(cells[0] - m_i) < 0.2 * s_i and abs(cells[1] / s_i - 1) < 0.15, label
    assert re.search(r"^converged: trust-ncg", out, re.M)
    assert re.search(r"^k-hat -?\d\.\d\d: (good|ok)", out, re.M)


def test_out_and_plot(tmp_path, capsys):
    xr = pytest.importorskip("xarray")
    out_nc, figs = tmp_path / "fit.nc", tmp_path / "figs" / "deeper"
    code, out, err = run_main(capsys, "fit", "eight_schools", "--seed", "4", "--quiet",
                              "--draws", "200", "--steps", "400", "--out", out_nc, "--plot", figs)
    assert code == 0, err
    post = xr.open_dataset(out_nc, group="posterior")
    assert post["theta"].dims == ("chain", "draw", "school")
    assert post["theta"].shape == (1, 200, 8) and set(post.data_vars) >= {"mu", "tau"}
    # the adapter reads it back, with the draws the summary table was computed from
    from ppl import _arviz
    back = _arviz.from_netcdf(out_nc)
    assert {"posterior", "observed_data", "sample_stats"} <= set(_arviz.groups(back))
    mu_row = _rows(out)["mu"].split()
    assert float(mu_row[1]) == pytest.approx(float(post["mu"].mean()), abs=1e-3)
    for name in ("elbo.png", "posterior.png"):
        assert (figs / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_ctrl_c_prints_the_partial_fit_then_exits_130(files, capsys, monkeypatch):
    from ppl.infer.objective import Elbo
    real, calls = Elbo.grad, [0]

    def grad(self, *args, **kwargs):     # Ctrl-C arrives at the 300th gradient step
        calls[0] += 1
        if calls[0] == 300:
            raise KeyboardInterrupt
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Elbo, "grad", grad)
    code, out, err = run_main(capsys, "fit", f"{files}/m.py:interrupted", "--quiet",
                              "--seed", "0", "--method", "advi")
    assert code == 130
    assert "NOT converged: interrupted" in out and "x" in _rows(out) and "k-hat" in out


def test_ctrl_c_in_the_default_deterministic_fit_prints_it_then_exits_130(files, capsys,
                                                                          monkeypatch):
    import importlib
    dadvi_mod = importlib.import_module("ppl.infer.dadvi")
    real, calls = dadvi_mod.FixedDrawELBO.value_and_grad, [0]

    def value_and_grad(self, *args):    # Ctrl-C at the trust region's first evaluation
        calls[0] += 1
        if calls[0] == 2:
            raise KeyboardInterrupt
        return real(self, *args)

    monkeypatch.setattr(dadvi_mod.FixedDrawELBO, "value_and_grad", value_and_grad)
    code, out, err = run_main(capsys, "fit", f"{files}/m.py:interrupted", "--quiet",
                              "--seed", "0")
    assert code == 130 and out.splitlines()[1].startswith("DADVI meanfield, seed 0 (auto: ")
    assert "NOT converged: interrupted" in out and "x" in _rows(out) and "k-hat" in out


def test_ctrl_c_outside_the_fit(monkeypatch, capsys):
    def advi(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(ppl, "advi", advi)
    code, out, err = run_main(capsys, "fit", "eight_schools", "--quiet")
    assert code == 130 and err == "wengert: interrupted\n"


def test_console_script_subprocess(tmp_path):
    # the command of the checkout under test (not whichever `wengert` is first on PATH)
    bad = subprocess.run([sys.executable, "-m", "wengert", "fit", "eight_schools", "--data",
                          str(tmp_path / "x.json")], capture_output=True, text=True, cwd=REPO)
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr.startswith("wengert: error: data file") and bad.stderr.count("\n") == 1
    # the fit path must not pull in the heavy libraries (the < 1 s target)
    probe = subprocess.run([sys.executable, "-c", textwrap.dedent("""
        import sys
        from wengert import cli
        cli.main(["fit", "eight_schools", "--steps", "300", "--seed", "1", "--quiet"])
        heavy = [m for m in ("arviz", "matplotlib", "pandas", "scipy.stats", "xarray")
                 if m in sys.modules]
        print("HEAVY", heavy)
    """)], capture_output=True, text=True, cwd=REPO)
    assert "HEAVY []" in probe.stdout, probe.stdout + probe.stderr


def test_the_command_runs_with_one_blas_thread_unless_told_otherwise(tmp_path):
    # the console script enters through wengert.main, which sets the BLAS thread variables
    # before numpy loads; a value in the environment wins
    code = textwrap.dedent("""
        import os, sys, wengert
        assert "numpy" not in sys.modules
        wengert.main(["models"])
        print("THREADS", os.environ["OPENBLAS_NUM_THREADS"], os.environ["OMP_NUM_THREADS"])
    """)
    env = {k: v for k, v in os.environ.items()
           if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         cwd=REPO)
    assert "THREADS 1 1" in out.stdout and "eight_schools" in out.stdout, out.stderr
    env["OMP_NUM_THREADS"] = "2"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         cwd=REPO)
    assert "THREADS 1 2" in out.stdout, out.stderr


def test_a_closed_pipe_is_exit_141_without_a_traceback():
    # `wengert fit ... | head -1`: the reader leaves after one line
    p = subprocess.Popen([sys.executable, "-m", "wengert", "models"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env={**os.environ, "PYTHONUNBUFFERED": "1"},
                         cwd=REPO)
    p.stdout.close()                                  # nobody reads: every print breaks
    err = p.stderr.read().decode()
    assert p.wait() == 141 and "Traceback" not in err, err


@pytest.fixture
def seen_by_advi(monkeypatch):
    """The keyword arguments the command passes to ppl.advi, which then stops the command."""
    import ppl
    seen = {}

    def advi(model, **kwargs):
        seen.update(kwargs)
        raise RuntimeError("stop here")
    monkeypatch.setattr(ppl, "advi", advi)
    return seen


def test_a_zoo_entrys_advi_options_reach_ppl_advi(seen_by_advi, capsys):
    # stochastic_volatility recommends a data-based start without whitening (advi_options)
    from models import stochastic_volatility as sv
    seen = seen_by_advi
    code, out, err = run_main(capsys, "fit", "stochastic_volatility", "--seed", "3")
    assert code == 1 and "stop here" in err
    assert "the zoo entry's options: init, precondition" in out
    assert seen["precondition"] is None and seen["seed"] == 3
    want = sv.initial_point(sv.data())
    assert set(seen["init"]) == set(want) and all(
        np.array_equal(seen["init"][k], want[k]) for k in want)
    seen.clear()
    run_main(capsys, "fit", "eight_schools", "--seed", "3")
    assert "init" not in seen and "precondition" not in seen


def test_a_zoo_entrys_stochastic_options_do_not_pick_the_method(seen_by_advi, capsys):
    # stochastic_volatility's precondition=None is advice for stochastic ADVI; with it counted
    # as the user's, "auto" ran --family lowrank stochastically (32 sd off) instead of by
    # deterministic ADVI (0.15 sd)
    seen = seen_by_advi
    code, out, err = run_main(capsys, "fit", "stochastic_volatility", "--family", "lowrank",
                              "--seed", "3")
    assert code == 1 and "DADVI lowrank" in out and "not used by DADVI: precondition" in out
    assert "init" in seen and "precondition" not in seen and seen["method"] == "auto"
    seen.clear()
    run_main(capsys, "fit", "stochastic_volatility", "--family", "lowrank", "--steps", "500",
             "--seed", "3")                        # the user's own option: stochastic
    assert seen["precondition"] is None and seen["steps"] == 500


def test_a_zoo_entrys_advi_options_that_fail_on_the_users_data_fall_back(tmp_path, capsys):
    # cli._bind called advi_options(data) unguarded: stochastic_volatility's y is optional
    # (no y: the prior), and {"T": 20} gave a KeyError traceback instead of a fit
    path = tmp_path / "d.json"
    path.write_text('{"T": 20}')
    code, out, err = run_main(capsys, "fit", "stochastic_volatility", "--data", path,
                              "--seed", "0", "--steps", "200", "--quiet")
    assert code == 0 and "ADVI's defaults are used" in err and "KeyError" in err, err
    assert "the zoo entry's options" not in out


def test_fit_learns_the_centring_and_says_so(capsys):
    code, out, _ = run_main(capsys, "fit", "eight_schools_centered", "--seed", "1", "--quiet")
    assert code == 0
    line = next(x for x in out.splitlines() if x.startswith("centring"))
    lo, hi = (float(v) for v in line.split("theta lam ")[1].split(" ")[0].split("-"))
    assert 0.0 <= lo <= hi < 0.3               # near non-centred: eight schools is data-poor
    code, out, _ = run_main(capsys, "fit", "eight_schools_centered", "--seed", "1", "--quiet",
                            "--centring", "none")
    assert code == 0 and "miss" in out and "centring='learn'" in out   # the remedy named
    assert not any(x.startswith("centring") for x in out.splitlines())


def test_fit_lowrank_family_by_deterministic_advi(capsys):
    code, out, _ = run_main(capsys, "fit", "eight_schools", "--family", "lowrank", "--rank",
                            "1", "--seed", "0", "--quiet")
    assert code == 0 and "DADVI lowrank" in out and "converged: trust-ncg" in out
