"""Data larger than memory: minibatch ADVI on a logistic regression in a Zarr store on disk.

    python bench/bigdata_bench.py --n 5e7 --d 50          # writes /tmp/wengert-bigdata.zarr,
                                                          # fits, deletes it (--keep keeps it)
    python bench/bigdata_bench.py --n 5e7 --passes-only   # only the passes, local and Dask

One run, printed side by side and written to --json:
1. the store, written chunk by chunk by bench/make_zarr.py (seconds);
2. the fit: `ppl.advi` with the data plate subsampled (--batch rows from --blocks chunks per
   step), the mode found by Newton on map-reduce gradients, the minibatches anchored there
   (control variate), the ELBO estimates that decide convergence as full-data map-reduce
   passes; peak memory of this process (ru_maxrss) after the fit;
3. the reference: the Laplace approximation at this N, by a hand-written numpy Newton over the
   chunks (X^T W X summed chunk by chunk: independent of the engine), and the simulation's
   truth; the fit's means in units of the reference's posterior sd;
4. rows per second: minibatch gradients from the store (plain and anchored) against the same
   model on an in-memory numpy slice of 10^6 rows; full-data gradient passes likewise;
5. the full-data ELBO (2 draws) and gradient as Dask map-reduce on a distributed.LocalCluster
   with 1 and 2 worker processes (each worker reads its chunks from the store), wall times
   side by side (medians of --repeats), against the local pass in this process.
"""
import argparse
import json
import os
import resource
import shutil
import sys
import time

import numpy as np

import autodiff as ad
import ppl
from ppl import dist

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_zarr  # noqa: E402  (a sibling script)


def make_model(batch, blocks):
    @ppl.model
    def logistic(X, y):
        beta = ppl.sample("beta", dist.Normal(0.0, 1.0).expand([X.shape[1]]).to_event(1))
        with ppl.plate("data", len(y), subsample_size=batch, blocks=blocks) as idx:
            ppl.sample("y", dist.Bernoulli(logits=X[idx] @ beta), obs=y[idx])
    return logistic


def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def laplace_numpy(X, y, tol=1e-8, maxiter=30):
    """Mode and covariance of the posterior of beta (prior N(0, 1)), Newton's method with the
    gradient X^T (y - p) - beta and Hessian -(X^T W X + I) summed chunk by chunk."""
    d = X.shape[1]
    beta = np.zeros(d)
    step = X.chunks[0]
    it = 0
    while it < maxiter:
        it += 1
        g, H = -beta.copy(), -np.eye(d)
        for lo in range(0, X.shape[0], step):
            Xc = np.asarray(X[lo:lo + step], dtype=np.float64)
            yc = np.asarray(y[lo:lo + step], dtype=np.float64)
            p = 1.0 / (1.0 + np.exp(-(Xc @ beta)))
            g += Xc.T @ (yc - p)
            H -= (Xc * (p * (1 - p))[:, None]).T @ Xc
        delta = np.linalg.solve(-H, g)
        beta = beta + delta
        if np.max(np.abs(delta)) < tol:
            break
    return beta, np.linalg.inv(-H), it


def rows_per_second(fn, rows, repeats):
    fn()
    t = time.perf_counter()
    for _ in range(repeats):
        fn()
    return rows * repeats / (time.perf_counter() - t)


def cluster_times(model, z, workers, repeats):
    from distributed import Client, LocalCluster
    zs = z + np.zeros((2, z.size))
    out = {}
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster):
        model.full_value_and_grad(z)                     # warm: workers import ppl
        for name, call in (("gradient", lambda: model.full_value_and_grad(z)),
                           ("elbo_2_draws", lambda: model.full_log_density(zs))):
            ts = []
            for _ in range(repeats):
                t = time.perf_counter()
                call()
                ts.append(time.perf_counter() - t)
            out[name] = float(np.median(ts))
        out["value"] = float(model.full_value_and_grad(z)[0])
    return out


def pass_times(model, z, repeats, local=None, t_local=None):
    """Wall seconds of a full-data gradient and 2-draw ELBO pass: locally (no Dask), then on a
    LocalCluster of 1 and 2 worker processes (their value checked against the local one)."""
    if local is None:
        t = time.perf_counter()
        local = model.full_value_and_grad(z)
        t_local = time.perf_counter() - t
    t = time.perf_counter()
    local_elbo = model.full_log_density(z + np.zeros((2, z.size)))
    times = {"local_no_dask": {"gradient": round(t_local, 2),
                               "elbo_2_draws": round(time.perf_counter() - t, 2)}}
    assert local_elbo.shape == (2,)
    for w in (1, 2):
        c = cluster_times(model, z, w, repeats)
        if not np.isclose(c.pop("value"), local[0], rtol=1e-10):
            raise AssertionError("the cluster's pass differs from the local one")
        times[f"local_cluster_{w}_worker"] = {k: round(v, 2) for k, v in c.items()}
    return times


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=float, default=1e6)
    p.add_argument("--d", type=int, default=50)
    p.add_argument("--chunk", type=int, default=20_000)
    p.add_argument("--batch", type=int, default=1000)
    p.add_argument("--blocks", type=int, default=4)
    p.add_argument("--steps", type=int, default=20_000)
    p.add_argument("--eval-elbo", type=int, default=500)
    p.add_argument("--elbo-samples", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--store", default="/tmp/wengert-bigdata.zarr")
    p.add_argument("--keep", action="store_true", help="keep the store afterwards")
    p.add_argument("--no-cluster", action="store_true")
    p.add_argument("--passes-only", action="store_true",
                   help="no fit and no reference: only the full-data passes, local and on a "
                   "LocalCluster of 1 and 2 workers, at the simulation's truth")
    p.add_argument("--json", default=None)
    a = p.parse_args(argv)
    import zarr
    n = int(a.n)
    res = {"n": n, "d": a.d, "chunk": a.chunk, "batch": a.batch, "blocks": a.blocks}
    report = lambda k, v: (res.__setitem__(k, v), print(f"{k}: {v}", flush=True),
                           a.json and open(a.json, "w").write(json.dumps(res, indent=1)))
    try:
        t = time.perf_counter()
        if not os.path.exists(a.store):
            make_zarr.write(a.store, "logistic", n, a.d, a.chunk, seed=0, progress=False)
            report("write_seconds", round(time.perf_counter() - t, 1))
        group = zarr.open_group(a.store, mode="r")
        truth = np.asarray(group.attrs["beta"])
        X, y = group["X"], group["y"]
        report("store_gb", round(n * (a.d + 1) * 4 / 1e9, 2))
        model = make_model(a.batch, a.blocks)(X, y)
        report("peak_mb_before_fit", round(peak_mb(), 1))
        if a.passes_only:
            report("full_pass_wall_seconds", pass_times(model, truth, a.repeats))
            return res

        t = time.perf_counter()
        fit = ppl.advi(model, seed=1, steps=a.steps, eval_elbo=a.eval_elbo,
                       elbo_samples=a.elbo_samples, progress=False)
        report("fit_seconds", round(time.perf_counter() - t, 1))
        report("peak_mb_after_fit", round(peak_mb(), 1))
        report("fit_converged", bool(fit.converged))
        report("fit_steps", int(fit.steps))
        report("fit_reason", fit.stop_reason)
        report("fit_preconditioned", fit.info.get("preconditioned"))
        report("fit_rows_per_second_overall", round(fit.info["rows_per_second"]))
        mu, sd_q = np.asarray(fit.mu), np.exp(np.asarray(fit.omega))
        zq = (mu - truth) / sd_q         # the truth within the fit's own spread: RMS near 1
        report("fit_mean_minus_truth_in_q_sd_rms_max", [round(float(np.sqrt(np.mean(zq ** 2))),
                                                              3), round(float(np.abs(zq).max()),
                                                                        3)])
        report("fit_mean_and_sd", [mu.tolist(), sd_q.tolist()])

        t = time.perf_counter()
        ref, cov, iters = laplace_numpy(X, y)
        sd = np.sqrt(np.diag(cov))
        report("reference_seconds", round(time.perf_counter() - t, 1))
        report("reference_newton_steps", iters)
        report("posterior_sd_median", float(np.median(sd)))
        dev = np.abs(mu - ref) / sd
        report("max_abs_mean_minus_laplace_in_sd", round(float(dev.max()), 4))
        report("bar_means_within_0.1_sd", bool(dev.max() < 0.1))
        report("sd_q_over_sd_laplace_range", [round(float(v), 3) for v in
                                              (np.min(sd_q / sd), np.max(sd_q / sd))])
        zt = (truth - ref) / sd
        report("truth_minus_laplace_in_sd_rms_max", [round(float(np.sqrt(np.mean(zt ** 2))), 3),
                                                     round(float(np.abs(zt).max()), 3)])
        report("bar_peak_under_1.5GB", bool(res["peak_mb_after_fit"] < 1536))

        # rows per second: the store against an in-memory numpy slice of 10^6 rows
        m_rows = min(n, 1_000_000)
        rng = np.random.default_rng(0)
        z = ref.copy()
        plain = model
        anchored = model.anchored(z)
        vg = lambda m: (lambda: ad.value_and_grad(
            lambda q: m.unconstrained_log_density(q, rng))(z))
        speeds = {"minibatch_zarr": rows_per_second(vg(plain), a.batch, 200),
                  "minibatch_zarr_anchored": rows_per_second(vg(anchored), a.batch, 200)}
        Xm = np.asarray(X[:m_rows])
        ym = np.asarray(y[:m_rows])
        mem = make_model(a.batch, a.blocks)(Xm, ym)
        speeds["minibatch_numpy_1e6"] = rows_per_second(vg(mem), a.batch, 200)
        speeds["full_pass_numpy_1e6"] = rows_per_second(
            lambda: mem.full_value_and_grad(z), m_rows, a.repeats)
        t = time.perf_counter()
        local = model.full_value_and_grad(z)
        t_local = time.perf_counter() - t
        speeds["full_pass_zarr_local"] = n / t_local
        report("rows_per_second", {k: round(v) for k, v in speeds.items()})
        if not a.no_cluster:
            report("full_pass_wall_seconds", pass_times(model, z, a.repeats, local, t_local))
    finally:
        if not a.keep and os.path.exists(a.store):
            shutil.rmtree(a.store)
    return res


if __name__ == "__main__":
    main()
