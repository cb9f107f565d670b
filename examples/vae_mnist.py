"""A variational autoencoder on MNIST (Kingma and Welling, Auto-Encoding Variational Bayes, 2014).

Encoder 784-400-(mu, log sigma^2), decoder z-400-784 Bernoulli logits, z = mu + sigma * eps,
the ELBO E_q[log p(x|z)] - KL(q(z|x) || N(0, I)) with the analytic KL, Adam, float32. Each epoch
prints the mean training ELBO and the test ELBO per datapoint (nats; epoch 0 is the untrained
network) and writes a checkpoint; at the end the importance-weighted estimate of log p(x)
(Burda, Grosse and Salakhutdinov, Importance Weighted Autoencoders, 2016) and PNG pictures.

    python examples/vae_mnist.py                      # 10 epochs, 20-D latent, offline data
    python examples/vae_mnist.py --latent 2           # and a picture of the 2-D latent space
    python examples/vae_mnist.py --resume --epochs 20 # go on from the last checkpoint
    python examples/vae_mnist.py --quick              # 2 epochs on 4,000 images: seconds
    python examples/vae_mnist.py --data /usr/share/datasets/fashion-mnist

Without --data it uses `models.datasets.default_data()` (the full MNIST once downloaded with
`python -m models.datasets download`, else the 10,000 MNIST test digits of a development machine
split 8,000 / 2,000). Ctrl-C saves a checkpoint mid-epoch; --resume continues exactly where it
stopped (parameters, Adam state, the shuffle, the random-number generator and the epoch's running
ELBO), given the same data and --batch.
"""
import argparse
import json
import os
import signal
import sys
import time
from pathlib import Path

# One BLAS thread unless the caller says otherwise, set before numpy loads BLAS: this network's
# matrices are small, and on a busy 2-core machine OpenBLAS's default threads made an epoch 18x
# slower (6.5 s instead of 0.36 s, --quick).
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

try:
    import autodiff  # noqa: F401
except ImportError:  # run from a checkout that is not installed: the repository root
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from autodiff import no_grad, optim  # noqa: E402
from models.datasets import default_data  # noqa: E402
from models.vae import VAE  # noqa: E402

OUT = Path(__file__).resolve().parent / "out" / "vae"


def test_elbo(vae, X, seed, batch=1000):
    """ELBO per datapoint on X (nats), with the same eps at every call (rng from `seed`)."""
    rng = np.random.default_rng(seed)
    total = 0.0
    with no_grad():
        for i in range(0, len(X), batch):
            total += float(vae.elbo(X[i:i + batch], rng).value) * len(X[i:i + batch])
    return total / len(X)


def tile(images, ncol, side=28):
    """(n, side*side) images in [0, 1] -> one (rows*side, ncol*side) picture, 1-pixel gaps."""
    n = len(images)
    nrow = -(-n // ncol)
    out = np.ones((nrow * (side + 1) - 1, ncol * (side + 1) - 1), np.float32)
    for k, img in enumerate(images):
        r, c = divmod(k, ncol)
        out[r * (side + 1):r * (side + 1) + side, c * (side + 1):c * (side + 1) + side] = \
            img.reshape(side, side)
    return out


def write_pictures(vae, X, y, out, rng):
    """reconstructions.png, samples.png and, for a 2-D latent space, latent.png."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no pictures (pip install matplotlib)")
        return []
    x = X[:32]
    pairs = np.stack([x.reshape(4, 8, -1), vae.reconstruct(x).reshape(4, 8, -1)], axis=1)
    paths = [out / "reconstructions.png", out / "samples.png"]
    # rows: 8 test digits, their reconstructions, 8 more, ...
    plt.imsave(paths[0], tile(pairs.reshape(64, -1), 8), cmap="gray", vmin=0, vmax=1)
    plt.imsave(paths[1], tile(vae.sample(100, rng), 10), cmap="gray", vmin=0, vmax=1)
    if vae.z_dim == 2:
        from scipy.stats import norm

        with no_grad():
            mu = vae.encode(X[:5000])[0].value
        # the learned manifold: decoded images on a grid of prior quantiles (the paper's Fig. 4)
        q = norm.ppf(np.linspace(0.05, 0.95, 15)).astype(np.float32)
        z = np.stack(np.meshgrid(q, q[::-1]), -1).reshape(-1, 2)
        with no_grad():
            grid = 1 / (1 + np.exp(-vae.decode(z).value))
        fig, ax = plt.subplots(1, 2, figsize=(12, 6))
        s = ax[0].scatter(mu[:, 0], mu[:, 1], c=y[:5000], cmap="tab10", s=2)
        fig.colorbar(s, ax=ax[0], ticks=range(10))
        ax[0].set(title="test digits: the encoder's mean", xlabel="z1", ylabel="z2")
        ax[1].imshow(tile(grid, 15), cmap="gray")
        ax[1].set(title="decoded prior quantiles", xticks=[], yticks=[])
        fig.tight_layout()
        paths.append(out / "latent.png")
        fig.savefig(paths[-1], dpi=80)
        plt.close(fig)
    return paths


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--epochs", type=int, help="total epochs (default 10, 2 with --quick)")
    p.add_argument("--latent", type=int, default=20, help="latent dimensions (default 20)")
    p.add_argument("--batch", type=int, default=128, help="minibatch size (default 128)")
    p.add_argument("--lr", type=float, default=1e-3, help="Adam step size (default 1e-3)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data", metavar="DIR", help="folder of MNIST-format IDX files")
    p.add_argument("--out", metavar="DIR", default=str(OUT),
                   help="checkpoint and pictures (default examples/out/vae)")
    p.add_argument("--resume", action="store_true", help="continue from DIR/checkpoint.npz")
    p.add_argument("--quick", action="store_true",
                   help="2 epochs on 4,000 training images, 1,000 test: a few seconds")
    p.add_argument("--iwae-k", type=int, default=100, help="importance samples (default 100)")
    p.add_argument("--iwae-n", type=int, default=1000,
                   help="test digits for the IWAE estimate (default 1000)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    a = p.parse_args(argv)
    from tqdm.auto import tqdm

    try:
        data = default_data(seed=a.seed, data_dir=a.data)
    except (OSError, ValueError) as e:  # no MNIST files in --data, a truncated or foreign file
        sys.exit(f"vae_mnist: cannot read the data: {e}")
    (X, _), (X_test, y_test) = data["train"], data["test"]
    epochs = a.epochs if a.epochs is not None else 2 if a.quick else 10
    iwae_n = min(a.iwae_n, 100) if a.quick else a.iwae_n
    if a.quick:
        X, X_test, y_test = X[:4000], X_test[:1000], y_test[:1000]
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    ckpt = out / "checkpoint.npz"

    vae = VAE(X.shape[1], 400, a.latent, rng=np.random.default_rng(a.seed))
    opt = optim.Adam(vae.parameters(), lr=a.lr)
    rng = np.random.default_rng(a.seed + 1)          # shuffles and eps of training
    epoch, start, perm, history = 0, 0, None, []
    partial = (0.0, 0, 0.0)  # a resumed epoch's (sum of ELBO x images, images, seconds) so far
    if a.resume and ckpt.exists():
        try:
            extra = optim.load(ckpt, vae, opt)
        except ValueError as e:
            sys.exit(f"{ckpt} does not fit these settings ({e}); use another --out or no "
                     f"--resume")
        epoch, start = extra["epoch"], extra["batch"]
        perm = extra["perm"] if start else None
        if start and (len(perm) != len(X) or extra.get("batch_size", a.batch) != a.batch):
            sys.exit(f"{ckpt} stopped mid-epoch with {len(perm):,} training images in batches "
                     f"of {extra.get('batch_size', '?')}; resume with the same data, --quick "
                     f"and --batch (here {len(X):,} and {a.batch})")
        if start:
            partial = (extra.get("epoch_sum", 0.0), extra.get("epoch_seen", 0),
                       extra.get("epoch_seconds", 0.0))
        rng.bit_generator.state = json.loads(extra["rng_state"])
        history = [tuple(r) for r in np.reshape(extra["history"], (-1, 3))]
        print(f"resumed from {ckpt}: epoch {epoch}" + (f", batch {start}" if start else ""))
    elif a.resume:
        print(f"no checkpoint at {ckpt}: starting afresh")

    def save(batch_index=0, part=(0.0, 0, 0.0)):
        optim.save(ckpt, vae, opt, epoch=epoch, batch=batch_index,
                   perm=perm if perm is not None else np.zeros(0, np.int64),
                   rng_state=json.dumps(rng.bit_generator.state), latent=a.latent,
                   history=np.array(history, dtype=np.float64).reshape(-1, 3),
                   batch_size=a.batch, epoch_sum=part[0], epoch_seen=part[1],
                   epoch_seconds=part[2])

    print(f"VAE 784-400-({a.latent} mu, {a.latent} log sigma^2), decoder {a.latent}-400-784 "
          f"Bernoulli logits; Adam lr {a.lr:g}, batch {a.batch}, float32")
    print(f"data: {data['source']}" + (" (--quick: a subset)" if a.quick else ""))
    print(f"{'epoch':>5} {'train ELBO':>11} {'test ELBO':>10} {'seconds':>8}")
    if epoch == 0 and start == 0:
        print(f"{0:>5} {'-':>11} {test_elbo(vae, X_test, a.seed + 2):>10.2f} {'-':>8}")
    for e, tr, te_, secs in [(i + 1, *h) for i, h in enumerate(history)]:
        print(f"{e:>5} {tr:>11.2f} {te_:>10.2f} {secs:>8.2f}  (from the checkpoint)")
    n_batches = -(-len(X) // a.batch)
    stop = []  # Ctrl-C (SIGINT) appends here: the loop saves and returns between two steps
    previous = signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    try:
        while epoch < epochs:
            if start == 0:
                perm = rng.permutation(len(X))
            (total, seen, before), partial = partial, (0.0, 0, 0.0)
            t0 = time.perf_counter()
            bar = tqdm(range(start, n_batches), desc=f"epoch {epoch + 1}", leave=False,
                       disable=True if a.no_progress else None, file=sys.stdout)
            for b in bar:
                xb = X[perm[b * a.batch:(b + 1) * a.batch]]
                opt.zero_grad()
                elbo = vae.elbo(xb, rng)
                (-elbo).backward()
                opt.step()
                total += float(elbo.value) * len(xb)
                seen += len(xb)
                if b % 10 == 0:
                    bar.set_postfix(elbo=f"{total / seen:.1f}")
                if stop and b + 1 < n_batches:
                    bar.close()
                    save(b + 1, (total, seen, before + time.perf_counter() - t0))
                    print(f"\ninterrupted: saved {ckpt} at epoch {epoch + 1}, batch {b + 1} "
                          f"of {n_batches}; continue with --resume", flush=True)
                    return 130
            bar.close()
            secs = before + time.perf_counter() - t0
            epoch, start = epoch + 1, 0
            history.append((total / max(seen, 1), test_elbo(vae, X_test, a.seed + 2), secs))
            save()
            print(f"{epoch:>5} {history[-1][0]:>11.2f} {history[-1][1]:>10.2f} {secs:>8.2f}",
                  flush=True)
            if stop:
                print(f"interrupted: saved {ckpt} after epoch {epoch}; continue with --resume")
                return 130
    finally:
        signal.signal(signal.SIGINT, previous)

    final = test_elbo(vae, X_test, a.seed + 2)
    print(f"test ELBO per datapoint after {epoch} epochs: {final:.2f} nats "
          f"({len(X_test):,} test images)")
    t0 = time.perf_counter()
    Xi = X_test[:iwae_n]
    lp = vae.iwae_log_px(Xi, k=a.iwae_k, rng=np.random.default_rng(a.seed + 3))
    print(f"IWAE log p(x), k={a.iwae_k}, {len(Xi):,} test images: {lp.mean():.2f} "
          f"+- {lp.std(ddof=1) / np.sqrt(len(lp)):.2f} nats (ELBO on the same images "
          f"{test_elbo(vae, Xi, a.seed + 2):.2f}; {time.perf_counter() - t0:.1f} s)")
    paths = write_pictures(vae, X_test, y_test, out, np.random.default_rng(a.seed + 4))
    if paths:
        print("wrote " + ", ".join(os.path.relpath(p) for p in paths))
    return 0


if __name__ == "__main__":
    sys.exit(main())
