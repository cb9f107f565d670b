"""Implied volatility by Newton-Raphson on a binomial tree written with engine ops.

A European call is priced with the Cox-Ross-Rubinstein tree (N steps), every operation an
engine op, so d price / d sigma (vega) comes from automatic differentiation; then sigma is solved
from a market price with `autodiff.newton`, as in Wunkaew, Liu and Golubnichiy, "Automatic
differentiation for the implied volatility", arXiv 2207.09033, 2022.

Checks printed: the tree price and its AD vega converge to Black-Scholes (closed form with
scipy.stats.norm) as N grows; the implied vol of Black-Scholes prices, solved with the engine's
Black-Scholes formula and its AD vega, recovers the input sigma.

    python examples/implied_volatility.py [--quick] [--out DIR]
"""
import argparse
import math
import pathlib
import sys
import time

import numpy as np
from scipy.stats import norm

try:
    import autodiff as ad
except ImportError:  # run from a checkout that is not installed: the repository root
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
    import autodiff as ad

S0, STRIKE, T, RATE, SIGMA = 100.0, 100.0, 1.0, 0.05, 0.2


def crr_price(S, K, T, r, sigma, N):
    """European call on the Cox-Ross-Rubinstein tree, in engine ops (sigma may be traced).

    u = e^(sigma sqrt(dt)), d = 1/u, p = (e^(r dt) - d) / (u - d), dt = T/N;
    V_N[j] = max(S u^j d^(N-j) - K, 0); V_n = e^(-r dt) (p V_{n+1}[1:] + (1 - p) V_{n+1}[:-1]).
    Vectorised over the N + 1 nodes of a level; N steps of backward induction.
    """
    dt = T / N
    step = sigma * math.sqrt(dt)
    u = ad.exp(step)
    d = 1.0 / u
    p = (math.exp(r * dt) - d) / (u - d)
    p_val = float(p.value) if isinstance(p, ad.Tensor) else float(p)
    if not 0.0 < p_val < 1.0:
        raise ValueError(f"crr_price: risk-neutral probability p = {p_val:.4g} is outside (0, 1); "
                         f"use more steps (N = {N}) or a larger sigma")
    j = np.arange(N + 1, dtype=np.float64)
    V = ad.maximum(S * ad.exp(step * (2.0 * j - N)) - K, 0.0)
    disc, q = math.exp(-r * dt), 1.0 - p
    for _ in range(N):
        V = disc * (p * V[1:] + q * V[:-1])
    return V[0]


def bbsr_price(S, K, T, r, sigma, N):
    """The CRR tree with its 1/N error removed (Broadie and Detemple, "American option
    valuation: new bounds, approximations, and a comparison of existing methods", 1996):
    BBS(n) replaces the last step of an n-step tree by the Black-Scholes price over dt, which
    smooths the payoff's kink so the error falls like 1/n for every strike, without CRR's
    odd-even and strike-position oscillation; then Richardson: BBSR = 2 BBS(N) - BBS(N/2).
    Still engine ops, so still differentiable in sigma."""
    return 2.0 * _bbs(S, K, T, r, sigma, N) - _bbs(S, K, T, r, sigma, N // 2)


def _bbs(S, K, T, r, sigma, N):
    dt = T / N
    step = sigma * math.sqrt(dt)
    u = ad.exp(step)
    d = 1.0 / u
    p = (math.exp(r * dt) - d) / (u - d)
    x = step * (2.0 * np.arange(N, dtype=np.float64) - (N - 1))   # log(S_j / S) at level N-1
    d1 = (math.log(S / K) + x + r * dt) / step + 0.5 * step
    V = S * ad.exp(x) * ad.ndtr(d1) - K * math.exp(-r * dt) * ad.ndtr(d1 - step)
    disc, q = math.exp(-r * dt), 1.0 - p
    for _ in range(N - 1):
        V = disc * (p * V[1:] + q * V[:-1])
    return V[0]


def bs_price(S, K, T, r, sigma):
    """Black-Scholes call in engine ops: S Phi(d1) - K e^(-rT) Phi(d2)."""
    sq = sigma * math.sqrt(T)
    d1 = (math.log(S / K) + r * T) / sq + 0.5 * sq
    return S * ad.ndtr(d1) - K * math.exp(-r * T) * ad.ndtr(d1 - sq)


def bs_reference(S, K, T, r, sigma):
    """(price, vega) in closed form with scipy.stats.norm: the independent reference."""
    sq = sigma * math.sqrt(T)
    d1 = (math.log(S / K) + r * T) / sq + 0.5 * sq
    price = S * norm.cdf(d1) - K * math.exp(-r * T) * norm.cdf(d1 - sq)
    return float(price), float(S * norm.pdf(d1) * math.sqrt(T))


def vega(pricer, sigma):
    """(price, d price / d sigma) by forward mode: one scalar input, so one tangent rides along
    the N backward-induction steps and no tape of them is kept (reverse mode would record ~5N
    nodes and walk them back)."""
    price, dprice = ad.jvp(pricer, (float(sigma),), (1.0,))
    return float(price), float(dprice)


def implied_vol(market_price, pricer, S=S0, K=STRIKE, T=T, r=RATE, tol=1e-12):
    """sigma with pricer(sigma) = market_price by `autodiff.newton` (derivative: forward mode).
    Start: Manaster and Koehler, "The calculation of implied variances from the Black-Scholes
    model", 1982, sigma0 = sqrt(2 |ln(S/K) + rT| / T), from which Newton converges on the
    Black-Scholes price."""
    sigma0 = max(math.sqrt(2.0 * abs(math.log(S / K) + r * T) / T), 0.1)
    return ad.newton(lambda s: pricer(s) - market_price, sigma0, tol=tol)


def tree_table(Ns):
    """One row per N: tree price and AD vega against Black-Scholes; the tree's implied vol of the
    Black-Scholes price."""
    bs, bs_vega = bs_reference(S0, STRIKE, T, RATE, SIGMA)
    rows = []
    for N in Ns:
        pricer = lambda s, N=N: crr_price(S0, STRIKE, T, RATE, s, N)
        t0 = time.perf_counter()
        price, v = vega(pricer, SIGMA)
        res = implied_vol(bs, pricer)
        seconds = time.perf_counter() - t0
        extra = implied_vol(bs, lambda s, N=N: bbsr_price(S0, STRIKE, T, RATE, s, N))
        rows.append(dict(N=N, price=price, price_err=abs(price - bs), vega=v,
                         vega_err=abs(v - bs_vega), iv=res.x, iv_err=abs(res.x - SIGMA),
                         its=res.iterations, converged=res.converged, seconds=seconds,
                         iv_extrap_err=abs(extra.x - SIGMA)))
    return bs, bs_vega, rows


def bs_round_trip(strikes, sigmas, N_tree):
    """Implied vols of Black-Scholes prices (scipy closed form): with the engine's BS formula,
    and (round trip) of tree prices with the same tree."""
    rows = []
    for K in strikes:
        for sigma in sigmas:
            market, _ = bs_reference(S0, K, T, RATE, sigma)
            res = implied_vol(market, lambda s, K=K: bs_price(S0, K, T, RATE, s), K=K)
            tree = lambda s, K=K: crr_price(S0, K, T, RATE, s, N_tree)
            res_tree = implied_vol(float(tree(sigma)), tree, K=K)
            rows.append(dict(K=K, sigma=sigma, price=market, iv=res.x,
                             iv_err=abs(res.x - sigma), its=res.iterations,
                             tree_err=abs(res_tree.x - sigma), tree_its=res_tree.iterations))
    return rows


def plot(Ns, out):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    bs, bs_vega = bs_reference(S0, STRIKE, T, RATE, SIGMA)
    pe, ve, ie = [], [], []
    for N in Ns:
        pricer = lambda s, N=N: crr_price(S0, STRIKE, T, RATE, s, N)
        price, v = vega(pricer, SIGMA)
        pe.append(abs(price - bs))
        ve.append(abs(v - bs_vega))
        ie.append(abs(implied_vol(bs, pricer).x - SIGMA))
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    ax.loglog(Ns, pe, "o-", ms=3, label="|tree price - Black-Scholes price|")
    ax.loglog(Ns, ve, "s-", ms=3, label="|AD vega of the tree - Black-Scholes vega|")
    ax.loglog(Ns, ie, "^-", ms=3, label="|tree implied vol of the BS price - sigma|")
    ax.loglog(Ns, [pe[0] * Ns[0] / n for n in Ns], "k--", lw=0.8, label="1/N")
    ax.set_xlabel("tree steps N")
    ax.set_ylabel("absolute error")
    ax.set_title(f"CRR call, S=K={S0:g}, T={T:g}, r={RATE:g}, sigma={SIGMA:g}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = pathlib.Path(out) / "implied_vol_convergence.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small trees (a few seconds)")
    ap.add_argument("--out", default="examples/out", help="folder for the PNG")
    args = ap.parse_args(argv)
    Ns = [25, 100, 400] if args.quick else [25, 100, 400, 1600, 3200]
    plot_Ns = [int(n) for n in np.unique(np.geomspace(10, 200 if args.quick else 2000, 16)
                                         .round())]
    N_tree = 100 if args.quick else 400

    bs, bs_vega, rows = tree_table(Ns)
    print(f"European call S={S0:g} K={STRIKE:g} T={T:g} r={RATE:g} sigma={SIGMA:g}: "
          f"Black-Scholes price {bs:.8f}, vega {bs_vega:.8f} (scipy.stats.norm)")
    print("CRR tree in engine ops; vega by forward-mode AD; iv = Newton-Raphson implied vol of "
          "the Black-Scholes price on the tree;\nextrap.: the same with the tree's last step "
          "smoothed by Black-Scholes and Richardson-extrapolated (bbsr_price)")
    print(f"{'N':>6} {'tree price':>12} {'|tree-BS|':>10} {'AD vega':>11} {'|vega-BS|':>10} "
          f"{'iv':>12} {'|iv-sigma|':>10} {'its':>4} {'seconds':>8} {'extrap. |iv-sigma|':>19}")
    for w in rows:
        print(f"{w['N']:>6} {w['price']:>12.8f} {w['price_err']:>10.2e} {w['vega']:>11.6f} "
              f"{w['vega_err']:>10.2e} {w['iv']:>12.10f} {w['iv_err']:>10.2e} {w['its']:>4} "
              f"{w['seconds']:>8.3f} {w['iv_extrap_err']:>19.2e}")

    trip = bs_round_trip([80.0, 100.0, 120.0], [0.1, 0.3, 0.6], N_tree)
    print()
    print("Implied vol of Black-Scholes prices by Newton-Raphson with AD vega (engine formula, "
          f"ad.ndtr); tree: round trip of a CRR price, N={N_tree}")
    print(f"{'K':>6} {'sigma':>6} {'BS price':>12} {'iv':>14} {'|iv-sigma|':>10} {'its':>4} "
          f"{'tree |iv-sigma|':>16} {'its':>4}")
    for w in trip:
        print(f"{w['K']:>6g} {w['sigma']:>6g} {w['price']:>12.8f} {w['iv']:>14.12f} "
              f"{w['iv_err']:>10.2e} {w['its']:>4} {w['tree_err']:>16.2e} {w['tree_its']:>4}")
    print(f"max |iv - sigma|: Black-Scholes {max(w['iv_err'] for w in trip):.2e}, "
          f"tree round trip {max(w['tree_err'] for w in trip):.2e}")

    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    print(f"wrote {plot(plot_Ns, out)}")


if __name__ == "__main__":
    main()
