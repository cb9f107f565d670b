"""examples/vae_mnist.py --quick in a subprocess: it learns, writes pictures, resumes exactly."""
import os
import re
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

from .idx_files import write_bar_idx

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "examples" / "vae_mnist.py"
SHARED = ROOT.parent / "shared" / "data" / "mnist"
ROW = re.compile(r"^\s*(\d+)\s+(\S+)\s+(-?\d+\.\d+)\s+(\S+)(.*)$", re.M)


@pytest.fixture(scope="module")
def workdir():
    # not pytest's tmp_path: concurrent pytest sessions of the same user prune each other's
    # numbered folders, and these runs take seconds
    with tempfile.TemporaryDirectory(prefix="wengert-vae-test-") as d:
        yield Path(d)


@pytest.fixture(scope="module")
def data_args(workdir):
    """The offline default on machines that have it; else small generated IDX files."""
    if SHARED.is_dir():
        return []
    folder = write_bar_idx(workdir / "idx", 4000, 1000)
    return ["--data", str(folder)]


def run(args, data_args, **kw):
    env = dict(os.environ, MPLBACKEND="Agg")
    cmd = [sys.executable, "-u", str(SCRIPT), "--quick", "--no-progress", *data_args, *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120, **kw)


def rows(stdout):
    """{epoch: (test ELBO, text after the numbers)} from the printed table."""
    return {int(m[1]): (float(m[3]), m[5]) for m in ROW.finditer(stdout)}


def model_arrays(path):
    with np.load(path) as z:
        return {k: z[k] for k in z.files if k.startswith("model/")}


@pytest.fixture(scope="module")
def quick(workdir, data_args):
    out = workdir / "quick"
    r = run(["--out", str(out)], data_args)
    assert r.returncode == 0, r.stderr
    return out, r.stdout


def test_quick_learns_and_writes_pictures(quick):
    out, stdout = quick
    table = rows(stdout)
    assert sorted(table) == [0, 1, 2]
    elbo = [table[e][0] for e in range(3)]
    assert all(np.isfinite(elbo)) and elbo[0] < -400          # random init: ~ -550 nats
    assert elbo[2] > elbo[1] > elbo[0] + 100
    m = re.search(r"IWAE log p\(x\), k=100, 100 test images: (-?[\d.]+) \+- ([\d.]+) nats "
                  r"\(ELBO on the same images (-?[\d.]+)", stdout)
    assert m, stdout
    assert float(m[1]) > float(m[3])                           # the bound is tighter
    for name in ("reconstructions.png", "samples.png", "checkpoint.npz"):
        assert (out / name).stat().st_size > 1000, name
    for name in ("reconstructions.png", "samples.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_resume_continues_bit_identically(quick, workdir, data_args):
    out, _ = quick
    tmp_path = workdir / "resumed"
    r = run(["--out", str(tmp_path), "--epochs", "1"], data_args)
    assert r.returncode == 0, r.stderr
    r = run(["--out", str(tmp_path), "--epochs", "2", "--resume"], data_args)
    assert r.returncode == 0, r.stderr
    table = rows(r.stdout)
    assert "resumed from" in r.stdout and sorted(table) == [1, 2]
    assert "from the checkpoint" in table[1][1] and "from the checkpoint" not in table[2][1]
    a, b = model_arrays(out / "checkpoint.npz"), model_arrays(tmp_path / "checkpoint.npz")
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)   # as if never interrupted


def test_ctrl_c_saves_and_resume_goes_on(workdir, data_args):
    tmp_path = workdir / "ctrl-c"
    env = dict(os.environ, MPLBACKEND="Agg")
    cmd = [sys.executable, "-u", str(SCRIPT), "--quick", "--no-progress", "--epochs", "500",
           "--out", str(tmp_path), *data_args]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        for line in p.stdout:
            if re.match(r"^\s+1\s", line):                      # epoch 1 done: training
                p.send_signal(signal.SIGINT)
                break
        stdout = p.stdout.read()
        assert p.wait(timeout=60) == 130, p.stderr.read()
    finally:
        p.kill()
    assert "interrupted: saved" in stdout
    with np.load(tmp_path / "checkpoint.npz") as z:
        epoch, batch = int(z["extra/epoch"]), int(z["extra/batch"])
    assert epoch >= 1
    r = run(["--out", str(tmp_path), "--epochs", str(epoch + 1), "--resume"], data_args)
    assert r.returncode == 0, r.stderr
    assert f"after {epoch + 1} epochs" in r.stdout
    assert (f"batch {batch}" in r.stdout) == (batch > 0)
