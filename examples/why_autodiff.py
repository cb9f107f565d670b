"""Why automatic differentiation: AD against finite differences and symbolic differentiation.

The claim (the paper's introduction; Baydin et al., "Automatic differentiation in machine
learning: a survey", JMLR 2018): AD is exact to rounding where finite differences are not, and
cheaper than symbolic differentiation, whose expressions swell. Measured here for three
functions of one variable, each with a size n:

- logistic map (a deep composition): l_1 = x, l_{k+1} = 4 l_k (1 - l_k), f = l_{n+1};
- product of many terms: f = prod_{i=1..n} (x + i/n);
- log density of a Gaussian mixture: f = log sum_{k=1..n} w_k N(x | m_k, s_k^2).

1. Forward differences (f(x+h) - f(x))/h against the AD derivative for h = 1e-1 ... 1e-15: the
   V-shaped error curve (truncation error ~h on the right, rounding error ~eps/h on the left);
   central differences too. The AD derivative itself is compared with the exact one (sympy's
   derivative evaluated at 50 digits).
2. Symbolic differentiation with sympy as n grows: time to differentiate and compile
   (lambdify), size of the derivative (count_ops), time to evaluate it, against one AD gradient.

    python examples/why_autodiff.py [--quick] [--out DIR]      (sympy optional)
"""
import argparse
import math
import pathlib
import statistics
import sys
import time

import numpy as np

try:
    import autodiff as ad
except ImportError:  # run from a checkout that is not installed: the repository root
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
    import autodiff as ad

try:
    import sympy as sp
except ImportError:  # optional: the symbolic column is skipped
    sp = None

MIX_RNG = np.random.default_rng(0)
MIX = MIX_RNG.normal(size=64), MIX_RNG.uniform(0.5, 2.0, 64), MIX_RNG.dirichlet(np.ones(64))


# ---- the functions, once with engine ops and once with sympy ------------------------------------
def logistic(x, n):
    for _ in range(n):
        x = 4.0 * x * (1.0 - x)
    return x


def product_ad(x, n):
    return ad.prod(x + np.arange(1, n + 1) / n)


def product_sym(x, n):
    return sp.Mul(*[x + sp.Float(i / n) for i in range(1, n + 1)])


def _mixture_params(n):
    m, s, w = (a[:n] for a in MIX)
    return m, s, w / w.sum()


def mixture_ad(x, n):
    m, s, w = _mixture_params(n)
    z = (x - m) / s
    return ad.logsumexp(np.log(w) - np.log(s) - 0.5 * math.log(2 * math.pi) - 0.5 * z * z)


def mixture_sym(x, n):
    m, s, w = _mixture_params(n)
    c = sp.Float(1 / math.sqrt(2 * math.pi))
    return sp.log(sp.Add(*[sp.Float(wk / sk) * c * sp.exp(-(x - sp.Float(mk)) ** 2 /
                                                        sp.Float(2 * sk * sk))
                           for mk, sk, wk in zip(m, s, w)]))


# name: (engine f, sympy f, point, n for the V curve, sizes (quick), sizes (full))
FAMILIES = {
    "logistic map": (logistic, logistic, 0.3, 8, [2, 4, 6], [2, 4, 6, 8, 10]),
    "product": (product_ad, product_sym, 0.5, 20, [5, 10, 20], [5, 10, 20, 40, 80]),
    "mixture log density": (mixture_ad, mixture_sym, 0.7, 5, [2, 4, 8], [2, 4, 8, 16, 32, 64]),
}
HS = 10.0 ** -np.arange(1, 16)


def _median_time(fn, x, repeat):
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn(x)
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def exact_derivative(sym_f, n, x0):
    """d f / dx at x0 from sympy, evaluated with 50 significant digits (None without sympy)."""
    if sp is None:
        return None
    x = sp.Symbol("x")
    return float(sp.N(sp.diff(sym_f(x, n), x).xreplace({x: sp.Float(x0, 60)}), 50))


def fd_errors(f, x0, d_ad):
    """Relative errors of forward and central differences against the AD derivative, per h."""
    fx = float(f(x0))
    fwd = np.array([abs((float(f(x0 + h)) - fx) / h - d_ad) for h in HS]) / abs(d_ad)
    cen = np.array([abs((float(f(x0 + h)) - float(f(x0 - h))) / (2 * h) - d_ad)
                    for h in HS]) / abs(d_ad)
    return fwd, cen


def finite_difference_table():
    rows = []
    for name, (f_ad, f_sym, x0, n, _, _) in FAMILIES.items():
        f = lambda x, f_ad=f_ad, n=n: f_ad(x, n)
        d_ad = float(ad.grad(f)(x0))
        exact = exact_derivative(f_sym, n, x0)
        fwd, cen = fd_errors(f, x0, d_ad)
        rows.append(dict(name=name, n=n, x0=x0, d_ad=d_ad, exact=exact,
                         ad_err=None if exact is None else abs(d_ad - exact) / abs(exact),
                         fwd=fwd, cen=cen, fwd_best=float(fwd.min()),
                         fwd_h=float(HS[fwd.argmin()]), cen_best=float(cen.min()),
                         cen_h=float(HS[cen.argmin()])))
    return rows


def symbolic_table(quick, repeat):
    rows = []
    for name, (f_ad, f_sym, x0, _, sizes_q, sizes_f) in FAMILIES.items():
        for n in sizes_q if quick else sizes_f:
            f = lambda x, f_ad=f_ad, n=n: f_ad(x, n)
            g = ad.grad(f)
            g(x0)  # warm up
            row = dict(name=name, n=n, ad_s=_median_time(g, x0, repeat),
                       d_ad=float(g(x0)))
            if sp is not None:
                x = sp.Symbol("x")
                expr = f_sym(x, n)
                sp.core.cache.clear_cache()  # no derivative left over from table 1
                t0 = time.perf_counter()
                d = sp.diff(expr, x)
                row["diff_s"] = time.perf_counter() - t0
                t0 = time.perf_counter()
                d_fn = sp.lambdify(x, d, "math")
                row["lambdify_s"] = time.perf_counter() - t0
                row["ops_f"], row["ops_d"] = sp.count_ops(expr), sp.count_ops(d)
                row["eval_s"] = _median_time(d_fn, x0, repeat)
                row["d_sym"] = float(d_fn(x0))
            rows.append(row)
    return rows


# ---- output -------------------------------------------------------------------------------------
def print_tables(fd_rows, sym_rows):
    if sp is None:
        print("sympy is not installed: the exact and symbolic columns are skipped "
              "(install with: pip install -e \".[examples]\")")
    print("1. Finite differences against the AD derivative (relative errors; exact = sympy "
          "derivative at 50 digits)")
    print(f"{'function':<20} {'n':>3} {'x':>4} {'AD derivative':>22} {'|AD-exact|':>10} "
          f"{'fwd best h':>10} {'fwd error':>9} {'cen best h':>10} {'cen error':>9}")
    for w in fd_rows:
        ad_err = "n/a" if w["ad_err"] is None else f"{w['ad_err']:.1e}"
        print(f"{w['name']:<20} {w['n']:>3} {w['x0']:>4g} {w['d_ad']:>22.16g} {ad_err:>10} "
              f"{w['fwd_h']:>10.0e} {w['fwd_best']:>9.1e} {w['cen_h']:>10.0e} "
              f"{w['cen_best']:>9.1e}")
    print()
    print("2. Symbolic differentiation (sympy) against AD as the expression grows (medians)")
    print(f"{'function':<20} {'n':>3} {'ops f':>7} {'ops df':>8} {'diff ms':>9} "
          f"{'lambdify ms':>11} {'eval us':>9} {'AD grad us':>10} {'|AD-sym|':>9}")
    for w in sym_rows:
        if "diff_s" in w:
            rel = abs(w["d_ad"] - w["d_sym"]) / max(abs(w["d_sym"]), 1e-300)
            sym = (f"{w['ops_f']:>7} {w['ops_d']:>8} {w['diff_s'] * 1e3:>9.2f} "
                   f"{w['lambdify_s'] * 1e3:>11.1f} {w['eval_s'] * 1e6:>9.1f}")
            rel = f"{rel:>9.1e}"
        else:
            sym, rel = f"{'-':>7} {'-':>8} {'-':>9} {'-':>11} {'-':>9}", f"{'-':>9}"
        print(f"{w['name']:<20} {w['n']:>3} {sym} {w['ad_s'] * 1e6:>10.1f} {rel}")


def plot(fd_rows, sym_rows, out):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    fig, axes = plt.subplots(1, len(fd_rows), figsize=(12, 3.8), sharey=True)
    for ax, w in zip(axes, fd_rows):
        ax.loglog(HS, np.maximum(w["fwd"], 1e-17), "o-", ms=3, label="forward difference")
        ax.loglog(HS, np.maximum(w["cen"], 1e-17), "s-", ms=3, label="central difference")
        if w["ad_err"] is not None:
            ax.axhline(max(w["ad_err"], 1e-17), color="k", lw=1,
                       label="AD vs exact" + (" (= 0)" if w["ad_err"] == 0 else ""))
        ax.set_title(f"{w['name']}, n={w['n']}, x={w['x0']:g}", fontsize=9)
        ax.set_xlabel("h")
        ax.invert_xaxis()
    axes[0].set_ylabel("relative error of df/dx")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    paths.append(pathlib.Path(out) / "why_autodiff_fd_error.png")
    fig.savefig(paths[-1], dpi=90)
    plt.close(fig)

    fig, axes = plt.subplots(1, len(FAMILIES), figsize=(12, 3.8))
    for ax, name in zip(axes, FAMILIES):
        rows = [w for w in sym_rows if w["name"] == name]
        ns = [w["n"] for w in rows]
        if rows and "diff_s" in rows[0]:
            ax.semilogy(ns, [w["diff_s"] + w["lambdify_s"] for w in rows], "o-", ms=3,
                        label="sympy diff + lambdify (once)")
            ax.semilogy(ns, [w["eval_s"] for w in rows], "s-", ms=3,
                        label="sympy derivative, one evaluation")
        ax.semilogy(ns, [w["ad_s"] for w in rows], "^-", ms=3, label="AD gradient, one call")
        if name != "logistic map":  # sizes double
            ax.set_xscale("log", base=2)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("n")
    axes[0].set_ylabel("seconds")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    paths.append(pathlib.Path(out) / "why_autodiff_symbolic_cost.png")
    fig.savefig(paths[-1], dpi=90)
    plt.close(fig)
    return paths


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (a few seconds)")
    ap.add_argument("--out", default="examples/out", help="folder for the PNGs")
    args = ap.parse_args(argv)
    fd_rows = finite_difference_table()
    sym_rows = symbolic_table(args.quick, repeat=5 if args.quick else 21)
    print_tables(fd_rows, sym_rows)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for path in plot(fd_rows, sym_rows, out):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
