"""examples/implied_volatility.py and examples/why_autodiff.py: run with --quick in a subprocess
(numbers parsed from their tables, PNGs written) and their functions checked against
independent references (scipy.stats.norm closed forms, finite differences, hand derivatives)."""
import importlib.util
import math
import os
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest
from scipy.stats import norm

import autodiff as ad

ROOT = pathlib.Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def load(name):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(args, tmp_path, code=None):
    env = dict(os.environ, MPLBACKEND="Agg",
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    cmd = [sys.executable] + (["-c", code] if code else []) + args + ["--out", str(tmp_path)]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def assert_png(path):
    assert path.exists() and path.stat().st_size > 5000
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def rows(text, first):
    """Whitespace-split lines of a table: those whose first cell matches the pattern `first`."""
    return [line.split() for line in text.splitlines() if re.match(first, line.strip())]


def black_scholes(S, K, T, r, sigma):
    d1 = (math.log(S / K) + (r + sigma ** 2 / 2) * T) / (sigma * math.sqrt(T))
    d2 = d1 - sigma * math.sqrt(T)
    return (S * norm.cdf(d1) - K * math.exp(-r * T) * norm.cdf(d2),
            S * norm.pdf(d1) * math.sqrt(T))


# ---- implied volatility -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def iv():
    return load("implied_volatility")


def test_implied_vol_script_table_and_png(tmp_path):
    out = run([str(EXAMPLES / "implied_volatility.py"), "--quick"], tmp_path)
    price, vega = black_scholes(100.0, 100.0, 1.0, 0.05, 0.2)
    tree = [r for r in rows(out, r"^\d+\s+\d+\.\d{8}\s") if len(r) == 10]
    assert [int(r[0]) for r in tree] == [25, 100, 400]
    assert float(tree[-1][-1]) < 1e-6   # the smoothed, extrapolated tree at N = 400
    for N, p, p_err, v, v_err, sig, s_err, its, _, _ in tree:
        N = int(N)
        assert abs(float(p) - price) == pytest.approx(float(p_err), rel=0.02)
        assert abs(float(v) - vega) == pytest.approx(float(v_err), rel=0.02)
        assert 1.0 < N * float(p_err) < 3.0  # CRR converges like 1/N at the money
        assert abs(float(sig) - 0.2) == pytest.approx(float(s_err), rel=0.02)
        assert float(s_err) < 0.06 / N and int(its) <= 8
    trip = [r for r in rows(out, r"^(80|100|120)\s+0\.\d") if len(r) == 8]
    assert len(trip) == 9
    for K, sigma, p, sig, err, its, tree_err, tree_its in trip:
        assert float(p) == pytest.approx(black_scholes(100.0, float(K), 1.0, 0.05,
                                                       float(sigma))[0], abs=1e-8)
        assert abs(float(sig) - float(sigma)) < 1e-6 and float(err) < 1e-10
        assert float(tree_err) < 1e-9 and int(its) <= 12 and int(tree_its) <= 12
    assert_png(tmp_path / "implied_vol_convergence.png")


def test_tree_converges_to_black_scholes_and_its_ad_vega_to_the_closed_form(iv):
    price, vega = black_scholes(100.0, 100.0, 1.0, 0.05, 0.2)
    errs = {}
    for N in (250, 1000):
        p, v = iv.vega(lambda s, N=N: iv.crr_price(100.0, 100.0, 1.0, 0.05, s, N), 0.2)
        errs[N] = abs(p - price), abs(v - vega)
        assert errs[N][0] < 3.0 / N and errs[N][1] < 12.0 / N
    # both errors shrink like 1/N: four times the steps, a quarter of the error
    assert 3.0 < errs[250][0] / errs[1000][0] < 5.0
    assert 3.0 < errs[250][1] / errs[1000][1] < 5.0


def test_ad_vega_of_the_tree_matches_its_finite_difference(iv):
    f = lambda s: iv.crr_price(90.0, 100.0, 0.5, 0.03, s, 200)
    h = 1e-6
    fd = (float(f(0.3 + h)) - float(f(0.3 - h))) / (2 * h)
    _, v = iv.vega(f, 0.3)
    assert v == pytest.approx(fd, rel=1e-7)
    assert float(ad.grad(f)(0.3)) == pytest.approx(v, rel=1e-12)  # reverse mode agrees


def test_black_scholes_in_engine_ops_and_implied_vol_recovery(iv):
    for K, sigma in [(70.0, 0.15), (100.0, 0.4), (140.0, 0.8)]:
        price, vega = black_scholes(100.0, K, 1.0, 0.05, sigma)
        p, v = iv.vega(lambda s, K=K: iv.bs_price(100.0, K, 1.0, 0.05, s), sigma)
        assert p == pytest.approx(price, rel=1e-13) and v == pytest.approx(vega, rel=1e-12)
        res = iv.implied_vol(price, lambda s, K=K: iv.bs_price(100.0, K, 1.0, 0.05, s), K=K)
        assert res.converged and abs(res.x - sigma) < 1e-10


def test_extrapolated_tree_recovers_sigma_of_black_scholes_prices_to_1e6(iv):
    # the plain tree's 1/N error caps its implied vol at ~1e-5 for N in the thousands; smoothed
    # and Richardson-extrapolated (BBSR), N = 400 reaches the 1e-6 at the money (away
    # from it the strike's position between nodes leaves errors of a few 1e-6: not claimed)
    for K, sigma in [(100.0, 0.2), (100.0, 0.3), (100.0, 0.5)]:
        price, _ = black_scholes(100.0, K, 1.0, 0.05, sigma)
        res = iv.implied_vol(price, lambda s, K=K: iv.bbsr_price(
            100.0, K, 1.0, 0.05, s, 400), K=K)
        assert res.converged and abs(res.x - sigma) < 1e-6, (K, sigma, res.x)


def test_tree_rejects_a_probability_outside_zero_one(iv):
    with pytest.raises(ValueError, match="outside"):
        iv.crr_price(100.0, 100.0, 1.0, 0.05, 0.01, 1)


# ---- why autodiff -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def why():
    return load("why_autodiff")


def test_why_autodiff_script_tables_and_pngs(tmp_path):
    out = run([str(EXAMPLES / "why_autodiff.py"), "--quick"], tmp_path)
    fd = rows(out, r"^(logistic map|product|mixture log density)\s+\d+\s+0\.\d")
    assert len(fd) == 3
    for r in fd:
        ad_err, fwd_h, fwd_err, cen_h, cen_err = map(float, r[-5:])
        assert ad_err < 1e-13  # AD: exact to rounding
        assert 1e-11 <= fwd_h <= 1e-6 and 1e-10 < fwd_err < 1e-5  # bottom of the V
        assert cen_err < fwd_err
    sym = [r[-8:] for r in rows(out, r"^(logistic map|product|mixture log density)"
                                     r"\s+\d+\s+\d+\s+\d+\s")]
    assert len(sym) == 9
    for ops_f, ops_df, *_, rel in sym:
        assert float(rel) < 1e-12 and int(ops_df) > int(ops_f)
    logistic = [(int(r[0]), int(r[1])) for r in sym[:3]]  # n = 2, 4, 6: the swell
    assert logistic[2][1] / logistic[0][1] > 3 * logistic[2][0] / logistic[0][0]
    for name in ("why_autodiff_fd_error.png", "why_autodiff_symbolic_cost.png"):
        assert_png(tmp_path / name)


def test_why_autodiff_runs_without_sympy(tmp_path):
    code = ("import runpy, sys; sys.modules['sympy'] = None; "
            "sys.argv = ['why_autodiff.py'] + sys.argv[1:]; "
            f"runpy.run_path({str(EXAMPLES / 'why_autodiff.py')!r}, run_name='__main__')")
    out = run(["--quick"], tmp_path, code=code)
    assert "sympy is not installed" in out and 'pip install -e ".[examples]"' in out
    assert len(rows(out, r"^(logistic map|product|mixture log density)\s+\d+\s+-")) == 9
    assert_png(tmp_path / "why_autodiff_fd_error.png")
    assert_png(tmp_path / "why_autodiff_symbolic_cost.png")


def test_ad_derivatives_match_hand_derivatives(why):
    x = 0.7
    m, s, w = why._mixture_params(5)
    comp = w / (s * math.sqrt(2 * math.pi)) * np.exp(-0.5 * ((x - m) / s) ** 2)
    hand = float(np.sum(comp * -(x - m) / s ** 2) / np.sum(comp))
    assert float(ad.grad(lambda v: why.mixture_ad(v, 5))(x)) == pytest.approx(hand, rel=1e-14)
    a = np.arange(1, 21) / 20
    hand = float(np.prod(0.5 + a) * np.sum(1 / (0.5 + a)))
    assert float(ad.grad(lambda v: why.product_ad(v, 20))(0.5)) == pytest.approx(hand, rel=1e-13)
    y, dy = 0.3, 1.0  # the logistic map's derivative by the chain rule, step by step
    for _ in range(8):
        y, dy = 4 * y * (1 - y), 4 * (1 - 2 * y) * dy
    assert float(ad.grad(lambda v: why.logistic(v, 8))(0.3)) == pytest.approx(dy, rel=1e-13)


def test_forward_difference_error_is_v_shaped(why):
    f = lambda v: why.mixture_ad(v, 5)
    d = float(ad.grad(f)(0.7))
    fwd, cen = why.fd_errors(f, 0.7, d)
    i = int(np.argmin(fwd))
    assert 6 <= i <= 9  # best h in 1e-7 .. 1e-10, near sqrt(eps)
    assert fwd[0] > 1e3 * fwd[i] and fwd[-1] > 1e3 * fwd[i]  # both arms rise
    assert np.all(np.diff(fwd[:i - 1]) < 0)  # truncation arm: error falls with h
    assert cen.min() < fwd.min() / 10
