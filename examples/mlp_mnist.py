"""The paper's MNIST classifier (Section IX): a 784-h-10 perceptron trained by minibatch SGD.

One hidden layer (sigmoid or relu), a softmax output trained with the categorical cross entropy,
SGD on shuffled minibatches, float32 throughout. Each epoch prints the mean training loss, the
accuracy on the training and test sets, and the seconds its training steps took (evaluation
excluded).

    python examples/mlp_mnist.py                      # h=128, relu, 10 epochs, offline data
    python examples/mlp_mnist.py --activation sigmoid --lr 0.5 --momentum 0
    python examples/mlp_mnist.py --quick              # 3 epochs: a few seconds
    python examples/mlp_mnist.py --data DIR           # a folder of IDX files (full MNIST, or
                                                      # /usr/share/datasets/fashion-mnist)

Without --data it uses `models.datasets.default_data()`: the full MNIST when it has been
downloaded (`python -m models.datasets download`), otherwise the 10,000 MNIST test digits of a
development machine split 8,000 train / 2,000 test.
"""
import argparse
import os
import sys
import time

# One BLAS thread unless the caller says otherwise, set before numpy loads BLAS: the matrices
# are small, and on a busy 2-core machine OpenBLAS's default threads slow an epoch down severalfold.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

try:
    import autodiff  # noqa: F401
except ImportError:  # run from a checkout that is not installed: the repository root
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from autodiff import nn, no_grad, optim  # noqa: E402
from models.datasets import default_data  # noqa: E402


def accuracy(net, X, y, batch=2000):
    """Fraction of rows of X whose largest logit is at the label."""
    hits = 0
    with no_grad():
        for i in range(0, len(X), batch):
            hits += int(np.sum(np.argmax(net(X[i:i + batch]).value, axis=1) == y[i:i + batch]))
    return hits / len(X)


def train_epoch(net, opt, X, y, batch_size, rng):
    """One pass over (X, y) in shuffled minibatches; returns the mean minibatch loss."""
    order = rng.permutation(len(X))
    total = 0.0
    n_batches = 0
    for i in range(0, len(X), batch_size):
        idx = order[i:i + batch_size]
        opt.zero_grad()
        loss = nn.cross_entropy(net(X[idx]), y[idx])
        loss.backward()
        opt.step()
        total += float(loss)
        n_batches += 1
    return total / n_batches


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--hidden", type=int, default=128, help="hidden units h (default 128)")
    p.add_argument("--activation", choices=("relu", "sigmoid"), default="relu")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--lr", type=float, default=0.1, help="SGD step size (default 0.1)")
    p.add_argument("--momentum", type=float, default=0.9, help="SGD momentum (default 0.9)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data", metavar="DIR", help="folder of MNIST-format IDX files")
    p.add_argument("--save", metavar="PATH", help="write the trained model and optimizer (.npz)")
    p.add_argument("--quick", action="store_true", help="3 epochs: a run of a few seconds")
    a = p.parse_args(argv)
    epochs = min(a.epochs, 3) if a.quick else a.epochs

    try:
        data = default_data(data_dir=a.data)
    except (OSError, ValueError) as e:  # no MNIST files in --data, a truncated or foreign file
        sys.exit(f"mlp_mnist: cannot read the data: {e}")
    (X, y), (X_test, y_test) = data["train"], data["test"]
    rng = np.random.default_rng(a.seed)
    net = nn.MLP([X.shape[1], a.hidden, 10], a.activation, rng=rng, dtype=np.float32)
    opt = optim.SGD(net.parameters(), lr=a.lr, momentum=a.momentum)
    print(f"MLP {X.shape[1]}-{a.hidden}-10 ({a.activation}), softmax + cross entropy; SGD lr "
          f"{a.lr:g}, momentum {a.momentum:g}, batch {a.batch_size}, float32")
    print(f"data: {data['source']}")
    print(f"{'epoch':>5} {'loss':>8} {'train acc':>10} {'test acc':>9} {'seconds':>8}")
    train_s = 0.0
    for epoch in range(1, epochs + 1):
        t0 = time.perf_counter()
        loss = train_epoch(net, opt, X, y, a.batch_size, rng)
        secs = time.perf_counter() - t0
        train_s += secs
        print(f"{epoch:>5} {loss:>8.4f} {100 * accuracy(net, X, y):>9.2f}% "
              f"{100 * accuracy(net, X_test, y_test):>8.2f}% {secs:>8.2f}", flush=True)
    acc = accuracy(net, X_test, y_test)
    print(f"test accuracy {100 * acc:.2f}% after {epochs} epochs "
          f"({train_s:.1f} s of training, {train_s / epochs:.2f} s per epoch)")
    if a.save:
        optim.save(a.save, net, opt, epoch=epochs, test_accuracy=acc)
        print(f"saved {a.save}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
