"""examples/mlp_mnist.py --quick runs and learns: >= 90% test accuracy on the offline data.

The offline default (the 10,000 MNIST test digits split 8,000 / 2,000) reaches ~93% after the
3 quick epochs (94-95% after 10); a broken gradient or optimizer stays near 10%.
"""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_mlp_mnist_quick_learns(tmp_path):
    datasets = pytest.importorskip("models.datasets")
    if datasets.find_mnist_dir()[0] is None:
        pytest.skip("no MNIST files on this machine (see models/datasets.py)")
    path = [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(path))
    ckpt = tmp_path / "mlp.npz"
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "mlp_mnist.py"), "--quick",
                          "--save", str(ckpt)], capture_output=True, text=True, env=env,
                         timeout=300, check=True).stdout
    epochs = re.findall(r"^\s+(\d+)\s+([\d.]+)\s+([\d.]+)%\s+([\d.]+)%\s+([\d.]+)$", out, re.M)
    assert [int(e[0]) for e in epochs] == [1, 2, 3], out
    losses = [float(e[1]) for e in epochs]
    assert losses[-1] < losses[0], out
    acc = float(re.search(r"test accuracy ([\d.]+)% after 3 epochs", out).group(1))
    assert acc >= 90.0, out
    assert ckpt.is_file()
