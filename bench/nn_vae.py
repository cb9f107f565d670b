"""The VAE rows of bench/nn_bench.py, and a test-ELBO comparison after the same epochs.

    python bench/nn_bench.py --only vae [--data DIR]   # seconds per epoch, side by side
    python bench/nn_vae.py --epochs 10 [--data DIR]    # test ELBO per epoch: Wengert vs torch

The network of Kingma and Welling (Auto-Encoding Variational Bayes, 2014) as in the PyTorch
example: 784-400 ReLU-(20 mu, 20 log sigma^2), 20-400 ReLU-784 Bernoulli logits; loss the mean
over the batch of BCE-with-logits (summed over pixels) + analytic KL; Adam lr 1e-3; batch 128;
float32. Every library starts from the same weights (Wengert's `models.vae.VAE` init, copied) and
sees the same minibatches and the same eps, so losses agree to float32 rounding.

  wengert   models.vae.VAE + autodiff.optim.Adam (the example's training step)
  hand      numpy forward, backprop written out, Adam in place (one temporary per update)
  torch     nn.Linear layers, F.binary_cross_entropy_with_logits, torch.optim.Adam
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
if __name__ == "__main__":
    import timing  # noqa: E402  (standard library only)

    timing.pin_blas_threads()

import argparse  # noqa: E402
import math  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from ad_cases import torch  # noqa: E402  (puts the repo on sys.path; one torch thread)

from autodiff import no_grad, optim  # noqa: E402
from models.datasets import default_data  # noqa: E402
from models.vae import VAE  # noqa: E402

VAE_SPEC = dict(hidden=400, latent=20, batch=128, lr=1e-3, seed=0)
NAMES = ["enc", "enc_mu", "enc_logvar", "dec", "dec_logits"]


def vae_init(spec, d_in=784):
    """Shared float32 initial weights [W, b] * 5, W of shape (in, out), in NAMES order."""
    vae = VAE(d_in, spec["hidden"], spec["latent"], rng=np.random.default_rng(spec["seed"]))
    return [p.value.copy() for p in vae.parameters()]


def minibatches(n, spec):
    """A function giving the next epoch's [(index array, eps)], the same for every library."""
    rng = np.random.default_rng(spec["seed"] + 1)

    def epoch():
        order = rng.permutation(n)
        return [(idx, rng.standard_normal((len(idx), spec["latent"]), dtype=np.float32))
                for idx in (order[i:i + spec["batch"]] for i in range(0, n, spec["batch"]))]
    return epoch


def first_batch(X, spec):
    eps = np.random.default_rng(spec["seed"] + 2).standard_normal((spec["batch"], spec["latent"]),
                                                                  dtype=np.float32)
    return X[:spec["batch"]], eps


# ---- Wengert ------------------------------------------------------------------------------------
def vae_wengert(X, params, spec):
    vae = VAE(X.shape[1], spec["hidden"], spec["latent"])
    vae.load_state_dict(dict(zip([f"{n}.{k}" for n in NAMES for k in ("weight", "bias")],
                                 params)))
    opt = optim.Adam(vae.parameters(), lr=spec["lr"])
    next_epoch = minibatches(len(X), spec)

    def epoch():
        total, steps = 0.0, next_epoch()
        for idx, eps in steps:
            opt.zero_grad()
            loss = -vae.elbo(X[idx], eps=eps)
            loss.backward()
            opt.step()
            total += float(loss.value)
        return total / len(steps)

    def check():
        x, eps = first_batch(X, spec)
        loss = -vae.elbo(x, eps=eps)
        loss.backward()
        out = (loss.value, *[p.grad for p in vae.parameters()])
        vae.zero_grad()
        return out

    def test_loss(Xt, eps):
        with no_grad():
            return -float(vae.elbo(Xt, eps=eps).value)
    return ("wengert (models.vae.VAE, optim.Adam)", epoch, check, False, True), test_loss


# ---- hand-written numpy -------------------------------------------------------------------------
def _softplus(x):
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


def hand_loss_and_grads(P, x, eps, grads=True):
    """-ELBO (batch mean) and its gradients in P's order, backprop written out."""
    W1, b1, Wm, bm, Wv, bv, W3, b3, W4, b4 = P
    inv_n = np.float32(1.0 / len(x))
    a1 = x @ W1
    a1 += b1
    h = np.maximum(a1, 0)
    mu = h @ Wm
    mu += bm
    lv = h @ Wv
    lv += bv
    std = np.exp(0.5 * lv)
    z = std * eps
    z += mu
    a3 = z @ W3
    a3 += b3
    h3 = np.maximum(a3, 0)
    logits = h3 @ W4
    logits += b4
    sp = _softplus(logits)
    var = std * std
    loss = (np.sum(sp) - np.vdot(x, logits) + 0.5 * np.sum(mu * mu + var - 1 - lv)) * inv_n
    if not grads:
        return loss
    d = np.exp(logits - sp)  # sigmoid(logits), from the softplus as the engine does
    d -= x
    d *= inv_n
    dh3 = d @ W4.T
    dh3 *= a3 > 0
    dz = dh3 @ W3.T
    dmu = mu * inv_n
    dmu += dz
    dlv = dz * eps
    dlv *= 0.5 * std
    dlv += (0.5 * inv_n) * (var - 1)
    dh = dmu @ Wm.T
    dh += dlv @ Wv.T
    dh *= a1 > 0
    return loss, (x.T @ dh, dh.sum(0), h.T @ dmu, dmu.sum(0), h.T @ dlv, dlv.sum(0),
                  z.T @ dh3, dh3.sum(0), h3.T @ d, d.sum(0))


def vae_hand(X, params, spec):
    P = [p.copy() for p in params]
    M = [np.zeros_like(p) for p in P]
    V = [np.zeros_like(p) for p in P]
    b1, b2, lr, adam_eps = 0.9, 0.999, spec["lr"], 1e-8
    t = [0]
    next_epoch = minibatches(len(X), spec)

    def epoch():
        total, steps = 0.0, next_epoch()
        for idx, eps in steps:
            loss, g = hand_loss_and_grads(P, X[idx], eps)
            t[0] += 1
            c2 = math.sqrt(1 - b2 ** t[0])
            step = np.float32(lr / (1 - b1 ** t[0]) * c2)  # Adam, Kingma and Ba's Section 2
            for p, m, v, gp in zip(P, M, V, g):
                m *= b1
                m += (1 - b1) * gp
                v *= b2
                gp *= gp
                gp *= 1 - b2
                v += gp
                d = np.sqrt(v)
                d += np.float32(adam_eps * c2)
                np.divide(m, d, out=d)
                d *= step
                p -= d
            total += float(loss)
        return total / len(steps)

    def check():
        loss, g = hand_loss_and_grads(P, *first_batch(X, spec))
        return (loss, *g)

    def test_loss(Xt, eps):
        return float(hand_loss_and_grads(P, Xt, eps, grads=False))
    return ("hand-written numpy backprop + Adam", epoch, check, True, False), test_loss


# ---- PyTorch ------------------------------------------------------------------------------------
def vae_torch(X, params, spec):
    tnn, F = torch.nn, torch.nn.functional
    sizes = [(X.shape[1], spec["hidden"]), (spec["hidden"], spec["latent"]),
             (spec["hidden"], spec["latent"]), (spec["latent"], spec["hidden"]),
             (spec["hidden"], X.shape[1])]
    enc, fmu, flv, dec, out = layers = [tnn.Linear(i, o) for i, o in sizes]
    with torch.no_grad():
        for layer, w, b in zip(layers, params[::2], params[1::2]):  # torch keeps W as (out, in)
            layer.weight.copy_(torch.from_numpy(np.ascontiguousarray(w.T)))
            layer.bias.copy_(torch.from_numpy(b))
    ps = [p for layer in layers for p in (layer.weight, layer.bias)]
    opt = torch.optim.Adam(ps, lr=spec["lr"])
    Xt = torch.from_numpy(X)
    next_epoch = minibatches(len(X), spec)

    def loss_fn(x, eps):
        h = F.relu(enc(x))
        mu, lv = fmu(h), flv(h)
        z = mu + torch.exp(0.5 * lv) * eps
        logits = out(F.relu(dec(z)))
        bce = F.binary_cross_entropy_with_logits(logits, x, reduction="sum")
        kld = -0.5 * torch.sum(1 + lv - mu.pow(2) - lv.exp())
        return (bce + kld) / len(x)

    def epoch():
        total, steps = 0.0, next_epoch()
        for idx, eps in steps:
            opt.zero_grad()
            loss = loss_fn(Xt[torch.from_numpy(idx)], torch.from_numpy(eps))
            loss.backward()
            opt.step()
            total += loss.item()
        return total / len(steps)

    def check():
        x, eps = first_batch(X, spec)
        loss = loss_fn(torch.from_numpy(x), torch.from_numpy(eps))
        g = torch.autograd.grad(loss, ps)
        return (loss.item(), *[gi.numpy().T if gi.ndim == 2 else gi.numpy() for gi in g])

    def test_loss(Xt_, eps):
        with torch.no_grad():
            return loss_fn(torch.from_numpy(Xt_), torch.from_numpy(eps)).item()
    return (f"torch {torch.__version__} eager (nn.Linear, optim.Adam)", epoch, check, False,
            False), test_loss


def vae_rows(data, spec):
    """[(lib, epoch, check, hand, primary)] for nn_bench.py's Trainer(*row)."""
    X = data["train"][0]
    params = vae_init(spec, X.shape[1])
    makers = [vae_wengert, vae_hand] + ([vae_torch] if torch is not None else [])
    return [make(X, params, spec)[0] for make in makers]


# ---- the test ELBO after the same epochs --------------------------------------------------------
def compare_elbo(data, epochs, spec=VAE_SPEC):
    """Train every library `epochs` epochs from the same start; print the test loss (-ELBO per
    datapoint, nats, the same eps for all) after each; return {lib: [loss per epoch]}."""
    X, Xt = data["train"][0], data["test"][0]
    params = vae_init(spec, X.shape[1])
    eps = np.random.default_rng(spec["seed"] + 3).standard_normal((len(Xt), spec["latent"]),
                                                                  dtype=np.float32)
    makers = [vae_wengert, vae_hand] + ([vae_torch] if torch is not None else [])
    libs = [make(X, params, spec) for make in makers]
    names = ["wengert", "hand numpy", "torch"][:len(libs)]
    print(f"test loss -ELBO per datapoint (nats) on {len(Xt):,} test images, same init, "
          f"minibatches and eps; seconds per epoch in brackets")
    print(f"{'epoch':>5} " + " ".join(f"{n:>22}" for n in names))
    hist = {n: [] for n in names}
    for e in range(1, epochs + 1):
        cells = []
        for n, (row, test_loss) in zip(names, libs):
            t0 = time.perf_counter()
            row[1]()
            secs = time.perf_counter() - t0
            hist[n].append(test_loss(Xt, eps))
            cells.append(f"{hist[n][-1]:>13.3f} ({secs:5.2f} s)")
        print(f"{e:>5} " + " ".join(f"{c:>22}" for c in cells), flush=True)
    ref = hist["wengert"][-1]
    for n in names[1:]:
        print(f"after {epochs} epochs: wengert - {n} = {ref - hist[n][-1]:+.3f} nats")
    return hist


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--data", metavar="DIR", help="IDX files (default: the offline default)")
    a = p.parse_args(argv)
    data = default_data(data_dir=a.data)
    print(f"data: {data['source']}; torch {torch.__version__ if torch else 'not installed'}, "
          f"1 thread")
    compare_elbo(data, a.epochs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
