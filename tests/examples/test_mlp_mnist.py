"""examples/mlp_mnist.py --quick runs and learns, on whichever data the offline default finds.

The threshold depends on the data it reports (a broken gradient or optimizer stays near 10% on
any of them): the 10,000 MNIST test digits split 8,000 / 2,000 reach ~93% after the 3 quick
epochs, the full MNIST more; the full Fashion-MNIST ~85%; the synthetic stand-in digits ~99%.
"""
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
THRESHOLDS = {"MNIST": 90.0, "Fashion-MNIST": 80.0, "synthetic digits": 95.0}


def test_mlp_mnist_quick_learns(tmp_path):
    path = [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(path))
    ckpt = tmp_path / "mlp.npz"
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "mlp_mnist.py"), "--quick",
                          "--save", str(ckpt)], capture_output=True, text=True, env=env,
                         timeout=300, check=True).stdout
    source = re.search(r"^data: (.*)$", out, re.M).group(1)
    kind = next(k for k in ("Fashion-MNIST", "synthetic digits", "MNIST") if k in source)
    epochs = re.findall(r"^\s+(\d+)\s+([\d.]+)\s+([\d.]+)%\s+([\d.]+)%\s+([\d.]+)$", out, re.M)
    assert [int(e[0]) for e in epochs] == [1, 2, 3], out
    losses = [float(e[1]) for e in epochs]
    assert losses[-1] < losses[0], out
    acc = float(re.search(r"test accuracy ([\d.]+)% after 3 epochs", out).group(1))
    assert acc >= THRESHOLDS[kind], out
    assert ckpt.is_file()
