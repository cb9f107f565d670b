"""Write a simulated GLM of any size to a Zarr store, chunk by chunk (never all in memory).

    python bench/make_zarr.py /tmp/logistic.zarr --model logistic --n 50000000 --d 50
    python bench/make_zarr.py /tmp/poisson.zarr --model poisson --n 1000000 --d 10

The group holds X (n, d) and y (n,), float32, in chunks of `--chunk` rows, uncompressed (random
floats do not compress; reads then cost no decompression). The true coefficients are stored
beside them, in the group's attributes (beta; alpha for the Poisson GLM), with n, d, the
seed and the model:

    logistic: X_ij ~ N(0, 1), beta_j ~ N(0, 0.3^2), y_i ~ Bernoulli(sigmoid(x_i . beta))
    poisson:  X_ij ~ N(0, 1), beta_j ~ N(0, 0.1^2), alpha = 0.5,
              y_i ~ Poisson(exp(alpha + x_i . beta))

Each chunk is drawn from its own seed (SeedSequence(seed).spawn), so a store does not depend
on the order it was written in. Needs zarr (pip install 'wengert[data]').
"""
import argparse
import time

import numpy as np

from ppl.data import zarr_array


def truth(model, d, seed):
    """The true coefficients: dict of lists."""
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])
    if model == "logistic":
        return {"beta": (0.3 * rng.standard_normal(d)).tolist()}
    return {"alpha": 0.5, "beta": (0.1 * rng.standard_normal(d)).tolist()}


def chunk_rows(model, n_rows, coef, ss):
    """(X, y) of one chunk, float32, drawn from the seed sequence `ss`."""
    rng = np.random.default_rng(ss)
    beta = np.asarray(coef["beta"], dtype=np.float32)
    X = rng.standard_normal((n_rows, len(beta)), dtype=np.float32)
    eta = X @ beta
    if model == "logistic":
        y = rng.random(n_rows, dtype=np.float32) < 1.0 / (1.0 + np.exp(-eta))
    else:
        y = rng.poisson(np.exp(coef["alpha"] + eta.astype(np.float64)))
    return X, y.astype(np.float32)


def _array(group, name, shape, chunks):
    return zarr_array(group, name, shape, chunks, dtype="float32", compress=False)


def write(path, model="logistic", n=1_000_000, d=50, chunk=20_000, seed=0, progress=True):
    """Write the store at `path`; returns the true coefficients."""
    import zarr
    if model not in ("logistic", "poisson"):
        raise ValueError(f"make_zarr: model must be 'logistic' or 'poisson', got {model!r}")
    for name, v in (("n", n), ("d", d), ("chunk", chunk)):
        if int(v) != v or v < 1:
            raise ValueError(f"make_zarr: {name} must be a positive integer, got {v!r}")
    n, d, chunk = int(n), int(d), int(chunk)
    coef = truth(model, d, seed)
    group = zarr.open_group(str(path), mode="w")
    X = _array(group, "X", (n, d), (chunk, d))
    y = _array(group, "y", (n,), (chunk,))
    starts = range(0, n, chunk)
    seeds = np.random.SeedSequence(seed).spawn(len(starts) + 1)[1:]
    t0 = time.perf_counter()
    for k, (lo, ss) in enumerate(zip(starts, seeds)):
        hi = min(lo + chunk, n)
        Xc, yc = chunk_rows(model, hi - lo, coef, ss)
        X[lo:hi] = Xc
        y[lo:hi] = yc
        if progress and (k + 1) % 200 == 0:
            print(f"  {hi:,} rows ({time.perf_counter() - t0:.0f} s)", flush=True)
    group.attrs.update({"model": model, "n": n, "d": d, "seed": seed, **coef})
    return coef


def main(argv=None):
    p = argparse.ArgumentParser(description="Write a simulated logistic regression or Poisson "
                                "GLM to a Zarr store, chunk by chunk.")
    p.add_argument("path")
    p.add_argument("--model", choices=("logistic", "poisson"), default="logistic")
    p.add_argument("--n", type=float, default=1e6, help="rows (e.g. 5e7)")
    p.add_argument("--d", type=int, default=50)
    p.add_argument("--chunk", type=int, default=20_000, help="rows per chunk")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    t0 = time.perf_counter()
    write(a.path, a.model, int(a.n), a.d, a.chunk, a.seed)
    print(f"wrote {a.path}: {a.model}, n={int(a.n):,}, d={a.d}, chunks of {a.chunk} rows, "
          f"{time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
