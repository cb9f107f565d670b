"""Seconds per training epoch of neural networks: Wengert vs hand-written numpy vs PyTorch.

    python bench/nn_bench.py                   # full run (~3 s of timing per cell)
    python bench/nn_bench.py --quick           # ~0.6 s per cell
    python bench/nn_bench.py --data DIR        # also on the MNIST-format IDX files in DIR
    python bench/nn_bench.py --only mlp-relu   # a subset of the workloads
    python bench/nn_bench.py --json bench/out/nn.json

Workloads (one row per library; every library trains the same network from the same weights
on the same minibatches, float32, one BLAS thread, torch.set_num_threads(1)):

  mlp-sigmoid, mlp-relu  the paper's classifier (Section IX): 784-128-10, sigmoid or relu hidden
                         layer, softmax + mean cross entropy, plain SGD (lr 0.1), batch 100.
                         Wengert: nn.MLP + nn.cross_entropy + optim.SGD. Hand: numpy forward,
                         backprop and in-place updates. PyTorch: nn.Sequential of nn.Linear,
                         F.cross_entropy, torch.optim.SGD (when torch is importable).
  vae                    Kingma and Welling's VAE, 784-400-(20, 20), 20-400-784, Adam lr 1e-3,
                         batch 128 (rows in bench/nn_vae.py; its own script compares the test
                         ELBO of Wengert, hand numpy and PyTorch after the same epochs).

Before timing, each library's loss and gradients at the shared initial weights on the first
minibatch are checked against the hand-written ones, and then one epoch of each is run (the
warm-up) and its mean loss compared; a row says MISMATCH otherwise. Times are medians over
epochs timed in interleaved rounds (timing.Timer); "per step" is the median epoch divided by
its minibatches; "x hand" is the ratio to the hand-written numpy row.

Data: `models.datasets.default_data()` (the full MNIST when downloaded, else the 10,000 MNIST
test digits of a development machine split 8,000 / 2,000: an epoch is 80 steps), plus the
folder given by --data (e.g. /usr/share/datasets/fashion-mnist: 60,000 images, 600 steps).

Adding a workload: write `xxx_trainers(data, spec) -> [Trainer, ...]` and add a `Workload` to
WORKLOADS; the checking, timing and printing below are shared.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import timing  # noqa: E402  (standard library only)

timing.pin_blas_threads()  # one BLAS / OpenMP thread, before numpy (or torch) is imported

import argparse  # noqa: E402
import time  # noqa: E402
from typing import Callable, NamedTuple, Optional  # noqa: E402

import numpy as np  # noqa: E402
from ad_cases import compare, peer_versions, torch  # noqa: E402  (puts the repo on sys.path)
from scipy.special import expit  # noqa: E402

from autodiff import nn, optim  # noqa: E402
from models.datasets import default_data  # noqa: E402


class Trainer(NamedTuple):
    """One library's row. `epoch()` trains one epoch and returns its mean minibatch loss;
    `check()` returns (loss, grads...) at the current weights on the first minibatch (as numpy,
    in the hand row's layout), without updating anything."""
    lib: str
    epoch: Callable[[], float]
    check: Callable[[], tuple]
    hand: bool = False
    primary: bool = False


class Workload(NamedTuple):
    title: str
    trainers: Callable  # (data, spec) -> [Trainer]; data = dict(train=(X, y), ...)
    spec: dict  # the workload's settings, passed to `trainers`
    target: Optional[float] = None  # Wengert's row should be <= target x hand


def batches(n, batch, seed):
    """A function that returns the next epoch's minibatch index arrays (same for every row)."""
    rng = np.random.default_rng(seed)

    def epoch():
        order = rng.permutation(n)
        return [order[i:i + batch] for i in range(0, n, batch)]
    return epoch


# =================================================================================================
# MLP: the paper's 784-h-10 classifier
def mlp_init(d_in, hidden, n_out, seed):
    """Shared float32 initial weights (W1, b1, W2, b2), W of shape (in, out)."""
    net = nn.MLP([d_in, hidden, n_out], "relu", rng=np.random.default_rng(seed),
                 dtype=np.float32)
    return [p.value.copy() for p in net.parameters()]


def mlp_wengert(X, y, params, spec):
    net = nn.MLP([X.shape[1], spec["hidden"], 10], spec["activation"], dtype=np.float32)
    net.load_state_dict(dict(zip(["0.weight", "0.bias", "2.weight", "2.bias"], params)))
    opt = optim.SGD(net.parameters(), lr=spec["lr"])
    next_epoch = batches(len(X), spec["batch"], spec["seed"])

    def epoch():
        total, steps = 0.0, next_epoch()
        for idx in steps:
            opt.zero_grad()
            loss = nn.cross_entropy(net(X[idx]), y[idx])
            loss.backward()
            opt.step()
            total += float(loss)
        return total / len(steps)

    def check():
        idx = np.arange(spec["batch"])
        loss = nn.cross_entropy(net(X[idx]), y[idx])
        loss.backward()
        out = (loss.value, *[p.grad for p in net.parameters()])
        net.zero_grad()
        return out
    return Trainer("wengert (nn.MLP, nn.cross_entropy, optim.SGD)", epoch, check, primary=True)


def mlp_hand(X, y, params, spec):
    W1, b1, W2, b2 = [p.copy() for p in params]
    sigmoid = spec["activation"] == "sigmoid"
    lr = np.float32(spec["lr"])
    next_epoch = batches(len(X), spec["batch"], spec["seed"])

    def grads(Xb, yb):
        n = len(yb)
        rows = np.arange(n)
        z1 = Xb @ W1
        z1 += b1
        h = expit(z1) if sigmoid else np.maximum(z1, 0)
        logits = h @ W2
        logits += b2
        m = logits.max(axis=1, keepdims=True)
        e = np.exp(logits - m)
        s = e.sum(axis=1, keepdims=True)
        loss = np.mean(np.log(s[:, 0]) + m[:, 0] - logits[rows, yb])
        d = e / s
        d[rows, yb] -= 1
        d /= n
        dh = d @ W2.T
        dz = dh * (h * (1 - h)) if sigmoid else dh * (z1 > 0)
        return loss, Xb.T @ dz, dz.sum(axis=0), h.T @ d, d.sum(axis=0)

    def epoch():
        total, steps = 0.0, next_epoch()
        for idx in steps:
            loss, *g = grads(X[idx], y[idx])
            for p, gp in zip((W1, b1, W2, b2), g):
                p -= lr * gp
            total += float(loss)
        return total / len(steps)

    def check():
        idx = np.arange(spec["batch"])
        return grads(X[idx], y[idx])
    return Trainer("hand-written numpy backprop", epoch, check, hand=True)


def mlp_torch(X, y, params, spec):
    tnn, F = torch.nn, torch.nn.functional
    act = tnn.Sigmoid() if spec["activation"] == "sigmoid" else tnn.ReLU()
    net = tnn.Sequential(tnn.Linear(X.shape[1], spec["hidden"]), act,
                         tnn.Linear(spec["hidden"], 10))
    with torch.no_grad():
        for p, v in zip(net.parameters(), params):  # torch keeps W as (out, in)
            p.copy_(torch.from_numpy(np.ascontiguousarray(v.T)))
    opt = torch.optim.SGD(net.parameters(), lr=spec["lr"])
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    next_epoch = batches(len(X), spec["batch"], spec["seed"])

    def epoch():
        total, steps = 0.0, next_epoch()
        for idx in steps:
            idx = torch.from_numpy(idx)
            opt.zero_grad()
            loss = F.cross_entropy(net(Xt[idx]), yt[idx])
            loss.backward()
            opt.step()
            total += loss.item()
        return total / len(steps)

    def check():
        idx = slice(0, spec["batch"])
        loss = F.cross_entropy(net(Xt[idx]), yt[idx])
        grads = torch.autograd.grad(loss, list(net.parameters()))
        return (loss.item(), *[g.numpy().T for g in grads])
    return Trainer(f"torch {torch.__version__} eager (nn.Sequential, optim.SGD)", epoch,
                   check)


def mlp_trainers(data, spec):
    X, y = data["train"]
    params = mlp_init(X.shape[1], spec["hidden"], 10, spec["seed"])
    rows = [mlp_wengert(X, y, params, spec), mlp_hand(X, y, params, spec)]
    if torch is not None:
        rows.append(mlp_torch(X, y, params, spec))
    return rows


MLP_SPEC = dict(hidden=128, batch=100, lr=0.1, seed=0)
WORKLOADS = {
    "mlp-sigmoid": Workload("MLP 784-128-10 sigmoid, SGD, batch 100, float32", mlp_trainers,
                            dict(MLP_SPEC, activation="sigmoid"), 1.15),
    "mlp-relu": Workload("MLP 784-128-10 relu, SGD, batch 100, float32", mlp_trainers,
                         dict(MLP_SPEC, activation="relu"), 1.15),
}

# The VAE's rows are in bench/nn_vae.py (so that this file stays readable in one sitting).
from nn_vae import VAE_SPEC, vae_rows  # noqa: E402

WORKLOADS["vae"] = Workload("VAE 784-400-20 (Kingma and Welling), Adam, batch 128, float32",
                            lambda data, spec: [Trainer(*row) for row in vae_rows(data, spec)],
                            VAE_SPEC, 1.15)


# =================================================================================================
# check, time, print
def run_workload(key, data, data_name, timer, out_rows):
    """Check, time and print one workload on one data set; append its rows to `out_rows`."""
    w = WORKLOADS[key]
    trainers = w.trainers(data, w.spec)
    steps = -(-len(data["train"][0]) // w.spec.get("batch", len(data["train"][0])))
    timing.print_table_header(f"{w.title} -- {data_name}: seconds per epoch", "step", steps)
    rows = [dict(workload=key, data=data_name, library=t.lib, median_s=None, p25_s=None,
                 p75_s=None, per_unit_s=None, unit="step", ratio_hand=None, ratio_wengert=None,
                 check=None, note="") for t in trainers]
    ref = next(t for t in trainers if t.hand).check()
    for t, row in zip(trainers, rows):
        try:
            ok, msg = compare(t.check(), ref, rtol=2e-4, atol=1e-6)
        except Exception as e:  # noqa: BLE001 - a benchmark reports, it does not stop
            row.update(check="error", note=f"{type(e).__name__}: {e}"[:200])
            continue
        row.update(check="ok" if ok else "MISMATCH", note="" if ok else f"first step: {msg}")
    losses = [t.epoch() if row["check"] != "error" else None for t, row in zip(trainers, rows)]
    ref_loss = next(v for t, v in zip(trainers, losses) if t.hand)
    for row, v in zip(rows, losses):
        row["epoch1_loss"] = v
        if v is not None and abs(v - ref_loss) > 1e-3 * abs(ref_loss) and row["check"] == "ok":
            row.update(check="MISMATCH", note=f"epoch loss {v:.6f} vs hand {ref_loss:.6f}")
    timed = [(t, row) for t, row in zip(trainers, rows) if row["check"] != "error"]
    for (_, row), (med, p25, p75) in zip(timed, timer([t.epoch for t, _ in timed])):
        row.update(median_s=med, p25_s=p25, p75_s=p75, per_unit_s=med / steps)
    hand = next(r for t, r in zip(trainers, rows) if t.hand)
    weng = next(r for t, r in zip(trainers, rows) if t.primary)
    notes = []
    for t, row in zip(trainers, rows):
        if row["median_s"] is not None:
            row["ratio_hand"] = row["median_s"] / hand["median_s"] if hand["median_s"] else None
            row["ratio_wengert"] = row["median_s"] / weng["median_s"] if weng["median_s"] \
                else None
        note = row["note"]
        if t.primary and w.target and row["ratio_hand"]:
            row["target"], row["meets_target"] = w.target, row["ratio_hand"] <= w.target
            note = f"{'meets' if row['meets_target'] else 'MISSES'} target <= {w.target:g}x " \
                   f"hand {note}"
        notes.append(note)
    if torch is None:
        rows.append(dict(library="torch", median_s=None, check=None, note="not installed"))
        notes.append("not installed")
    timing.print_table_rows(rows, steps, notes)
    out_rows.extend(rows)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="fewer repeats (~0.6 s per cell)")
    p.add_argument("--json", metavar="PATH", help="write all rows and the machine as JSON")
    p.add_argument("--only", metavar="KEYS", help=f"comma-separated, of {', '.join(WORKLOADS)}")
    p.add_argument("--data", metavar="DIR", help="also run on the IDX files in DIR")
    p.add_argument("--budget", type=float, help="seconds of timing per cell (overrides --quick)")
    a = p.parse_args(argv)
    budget = a.budget or (0.6 if a.quick else 3.0)
    rounds = 3 if a.quick else 6
    keys = [k.strip() for k in a.only.split(",")] if a.only else list(WORKLOADS)
    for k in keys:
        if k not in WORKLOADS:
            p.error(f"unknown workload {k}; choose from {', '.join(WORKLOADS)}")
    sets = []
    try:
        sets.append(("offline default", default_data()))
    except FileNotFoundError as e:
        if not a.data:
            p.error(str(e))
        print(f"  no default data ({e}); only --data")
    if a.data:
        sets.append((a.data, default_data(data_dir=a.data)))
    m = timing.machine_info(peer_versions(), torch_threads=torch.get_num_threads() if torch
                            else None)
    print(f"Wengert nn benchmark: seconds per epoch, median of {budget:g} s per cell in "
          f"{rounds} interleaved rounds, 1 BLAS thread")
    print(f"  python {m['python']}, numpy {m['numpy']}, torch {m['torch'] or 'not installed'}; "
          f"{m['cpu']}")
    for name, data in sets:
        print(f"  data ({name}): {data['source']}")
    load0 = timing.print_load_start()
    rows = []
    t0 = time.perf_counter()
    timer = timing.Timer(budget, rounds)
    for name, data in sets:
        for k in keys:
            run_workload(k, data, name, timer, rows)
    m["load_average"] = timing.print_load_end(t0, load0)
    if a.json:
        timing.write_json(a.json, dict(machine=m, budget_s=budget, rows=rows))
    return 1 if any(r["check"] in ("MISMATCH", "error") for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
