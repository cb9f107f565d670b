"""Small MNIST-format IDX files for the example tests, on machines without MNIST."""
import gzip
import struct

import numpy as np


def write_bar_idx(folder, n_train=1000, n_test=200):
    """train-/t10k- images and labels: bright 6x3 bars at random places, the label from the
    bar's row (learnable structure for a classifier or a VAE). Returns `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        X = np.zeros((n, 28, 28), np.uint8)
        rows, cols = rng.integers(4, 20, n), rng.integers(4, 20, n)
        for i in range(n):
            X[i, rows[i]:rows[i] + 6, cols[i]:cols[i] + 3] = 255
        y = (rows // 2).astype(np.uint8) % 10
        for kind, a in (("images-idx3", X), ("labels-idx1", y)):
            head = bytes([0, 0, 8, a.ndim]) + struct.pack(f">{a.ndim}I", *a.shape)
            (folder / f"{prefix}-{kind}-ubyte.gz").write_bytes(gzip.compress(head + a.tobytes()))
    return folder
