"""What the probabilistic layer costs on top of the engine: a model's unconstrained log density
and its gradient (what every ADVI step evaluates), against the same density written directly
with engine ops and by hand in numpy.

    python bench/ppl_bench.py            # ~20 s
    python bench/ppl_bench.py --quick

Rows per model: `Model.unconstrained_log_density` through `ad.value_and_grad` (sample / plate /
transforms / distributions), the same with validation off (no parameter, support or data
checks: how ADVI's steps run it), the same function written with engine ops on a flat vector,
and hand-written numpy value + gradient. Results are checked to agree before timing. Also printed:
the number of tape entries one evaluation records.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import timing  # noqa: E402

timing.pin_blas_threads()

import argparse  # noqa: E402
import math  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

import autodiff as ad  # noqa: E402
import ppl  # noqa: E402
from ppl import dist  # noqa: E402

HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)

# ---- eight schools, non-centred ------------------------------------------------------------------
Y8 = np.array([28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0])
SIGMA8 = np.array([15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0])


@ppl.model
def eight_schools(sigma, y):
    mu = ppl.sample("mu", dist.Normal(0.0, 5.0))
    tau = ppl.sample("tau", dist.HalfCauchy(5.0))
    with ppl.plate("school", len(sigma)):
        theta_tilde = ppl.sample("theta_tilde", dist.Normal(0.0, 1.0))
        ppl.sample("y", dist.Normal(mu + tau * theta_tilde, sigma), obs=y)


ES_CONST = (-math.log(5.0) - HALF_LOG_2PI + math.log(2.0 / (math.pi * 5.0)) - 8 * HALF_LOG_2PI
            - float(np.sum(np.log(SIGMA8))) - 8 * HALF_LOG_2PI)


def es_engine(z):
    mu, lt, tt = z[0], z[1], z[2:]
    tau = ad.exp(lt)
    r = (Y8 - (mu + tau * tt)) / SIGMA8
    return (-0.5 * (mu / 5.0) ** 2 - ad.log1p((tau / 5.0) ** 2) + lt
            - 0.5 * ad.sum(tt * tt) - 0.5 * ad.sum(r * r) + ES_CONST)


def es_hand(z):
    mu, lt, tt = z[0], z[1], z[2:]
    tau = np.exp(lt)
    r = (Y8 - (mu + tau * tt)) / SIGMA8
    q = (tau / 5.0) ** 2
    lp = -0.5 * (mu / 5.0) ** 2 - np.log1p(q) + lt - 0.5 * tt @ tt - 0.5 * r @ r + ES_CONST
    gr = r / SIGMA8
    g = np.empty(10)
    g[0] = -mu / 25.0 + gr.sum()
    g[1] = -2 * q / (1 + q) + 1 + tau * (gr @ tt)
    g[2:] = -tt + tau * gr
    return lp, g


# ---- logistic regression, N = 10,000, D = 50 ---------------------------------------------------
_rng = np.random.default_rng(0)
XL = _rng.normal(size=(10_000, 50))
YL = (_rng.random(10_000) < 1 / (1 + np.exp(-XL @ _rng.normal(size=50) * 0.3))).astype(float)


@ppl.model
def logistic(x, y):
    beta = ppl.sample("beta", dist.Normal(np.zeros(x.shape[1]), 1.0).to_event(1))
    with ppl.plate("data", len(y)):
        ppl.sample("y", dist.Bernoulli(logits=x @ beta), obs=y)


LR_CONST = -50 * HALF_LOG_2PI


def lr_engine(z):
    u = XL @ z
    return ad.sum(YL * u - ad.softplus(u)) - 0.5 * ad.sum(z * z) + LR_CONST


def lr_hand(z):
    u = XL @ z
    sp = np.maximum(u, 0) + np.log1p(np.exp(-np.abs(u)))
    lp = YL @ u - sp.sum() - 0.5 * z @ z + LR_CONST
    return lp, XL.T @ (YL - np.exp(u - sp)) - z


MODELS = {
    "eight_schools": (eight_schools(SIGMA8, Y8), es_engine, es_hand, 10),
    "logistic": (logistic(XL, YL), lr_engine, lr_hand, 50),
}


def tape_length(f, z):
    """Entries recorded by one reverse pass of f at z."""
    from autodiff import core
    n = [0]
    old = core.ReverseTrace.apply

    def counting(self, *a, **k):
        n[0] += 1
        return old(self, *a, **k)
    core.ReverseTrace.apply = counting
    try:
        ad.value_and_grad(f)(z)
    finally:
        core.ReverseTrace.apply = old
    return n[0]


def bench_model(name, model, engine_fn, hand_fn, d, timer):
    """Check the four rows agree, time them side by side, print them."""
    z = np.random.default_rng(1).normal(size=d) * 0.3
    via_model = ad.value_and_grad(model.unconstrained_log_density)
    via_engine = ad.value_and_grad(engine_fn)

    def unchecked():
        with dist.validation_enabled(False):
            return via_model(z)
    (v1, g1), (v2, g2), (v3, g3), (v4, g4) = via_model(z), via_engine(z), hand_fn(z), \
        unchecked()
    ok = np.allclose([v1, v2, v4], v3, rtol=1e-10) and all(
        np.allclose(g, g3, rtol=1e-8) for g in (g1, g2, g4))
    rows = timer([lambda: via_model(z), unchecked, lambda: via_engine(z),
                  lambda: hand_fn(z)])
    hand = rows[-1][0]
    print(f"\n{name}: value_and_grad of the log density, {d} parameters"
          f"{'' if ok else '   WARNING: results disagree'}")
    n_model = tape_length(model.unconstrained_log_density, z)
    for label, (med, p25, p75), n in zip(
            ("ppl Model.unconstrained_log_density", "  the same, validation off (ADVI)",
             "same density in engine ops", "hand-written numpy"), rows,
            (n_model, n_model, tape_length(engine_fn, z), 0)):
        print(f"  {label:38s} {timing.fmt_time(med):>10s}  [{timing.fmt_time(p25)}, "
              f"{timing.fmt_time(p75)}]  {med / hand:6.2f}x hand"
              + (f"  {n} tape entries" if n else ""))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="fewer repeats (noisier)")
    args = p.parse_args(argv)
    budget, rounds = (0.15, 5) if args.quick else (0.7, 10)
    timer = timing.Timer(budget, rounds)
    t0, load0 = time.perf_counter(), timing.print_load_start()
    for name, (model, engine_fn, hand_fn, d) in MODELS.items():
        bench_model(name, model, engine_fn, hand_fn, d, timer)
    timing.print_load_end(t0, load0)


if __name__ == "__main__":
    main()
