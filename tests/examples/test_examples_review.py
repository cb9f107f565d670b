"""Review of the examples: they start from a checkout that is not installed, a bad --data is a
one-line error (no traceback), and a VAE run stopped mid-epoch by Ctrl-C and resumed prints and
saves exactly what the uninterrupted run does (train ELBO of the interrupted epoch included)."""
import importlib.util
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from .idx_files import write_bar_idx

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
# the script run as from a fresh checkout: the editable install's import hook removed
NOT_INSTALLED = ("import runpy, sys; sys.meta_path[:] = [f for f in sys.meta_path if "
                 "'__editable__' not in getattr(f, '__module__', '')]; sys.path[:] = [p for p in "
                 "sys.path if p and os.path.abspath(p) != {root!r}]; sys.argv = {argv!r}; "
                 "runpy.run_path({script!r}, run_name='__main__')")


def run_script(name, args, cwd, not_installed=False):
    script = str(EXAMPLES / f"{name}.py")
    env = dict(os.environ, MPLBACKEND="Agg")
    env.pop("PYTHONPATH", None)
    if not_installed:
        code = "import os; " + NOT_INSTALLED.format(root=str(ROOT), argv=[script, *args],
                                                    script=script)
        cmd = [sys.executable, "-c", code]
    else:
        cmd = [sys.executable, script, *args]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("name", ["implied_volatility", "why_autodiff", "mlp_mnist",
                                  "vae_mnist"])
def test_each_example_starts_from_a_checkout_that_is_not_installed(name, tmp_path):
    r = run_script(name, ["--help"], tmp_path, not_installed=True)
    assert r.returncode == 0 and "usage:" in r.stdout, r.stderr


write_idx = write_bar_idx


@pytest.mark.parametrize("name", ["mlp_mnist", "vae_mnist"])
def test_a_bad_data_folder_is_a_one_line_error(name, tmp_path):
    r = run_script(name, ["--quick", "--data", str(tmp_path / "missing")], tmp_path)
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    assert "no MNIST files in" in r.stderr and "missing" in r.stderr
    bad = write_idx(tmp_path / "bad", 10, 10)
    data = (bad / "t10k-images-idx3-ubyte.gz").read_bytes()
    (bad / "t10k-images-idx3-ubyte.gz").write_bytes(data[:len(data) // 2])   # truncated
    r = run_script(name, ["--quick", "--data", str(bad)], tmp_path)
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    assert "t10k-images-idx3-ubyte.gz" in r.stderr


@pytest.fixture(scope="module")
def vae_example():
    spec = importlib.util.spec_from_file_location("example_vae_mnist_review",
                                                  EXAMPLES / "vae_mnist.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def history(path):
    with np.load(path / "checkpoint.npz") as z:
        return z["extra/history"][:, :2], {k: z[k] for k in z.files if k.startswith("model/")}


def test_ctrl_c_mid_epoch_then_resume_equals_the_uninterrupted_run(vae_example, tmp_path,
                                                                     monkeypatch, capsys):
    data = write_idx(tmp_path / "idx")
    common = ["--quick", "--no-progress", "--epochs", "2", "--data", str(data), "--iwae-k", "2"]
    monkeypatch.setattr(vae_example, "write_pictures", lambda *a, **k: [])
    assert vae_example.main(common + ["--out", str(tmp_path / "a")]) == 0
    real_step, calls = vae_example.optim.Adam.step, []

    def step(self):                      # Ctrl-C arrives during the 3rd step of epoch 2
        calls.append(1)
        if len(calls) == 8 + 3:
            os.kill(os.getpid(), signal.SIGINT)
        return real_step(self)
    monkeypatch.setattr(vae_example.optim.Adam, "step", step)
    out_b = ["--out", str(tmp_path / "b")]
    assert vae_example.main(common + out_b) == 130
    with np.load(tmp_path / "b" / "checkpoint.npz") as z:
        assert (int(z["extra/epoch"]), int(z["extra/batch"])) == (1, 3)
    monkeypatch.setattr(vae_example.optim.Adam, "step", real_step)
    capsys.readouterr()
    assert vae_example.main(common + out_b + ["--resume"]) == 0
    printed = capsys.readouterr().out
    (ha, ma), (hb, mb) = history(tmp_path / "a"), history(tmp_path / "b")
    np.testing.assert_array_equal(ha, hb)             # train and test ELBO of both epochs
    for k in ma:
        np.testing.assert_array_equal(ma[k], mb[k], err_msg=k)
    assert f"{ha[1, 0]:>11.2f} {ha[1, 1]:>10.2f}" in printed


def test_mid_epoch_resume_with_other_batches_is_refused(vae_example, tmp_path, monkeypatch):
    data = write_idx(tmp_path / "idx", 600, 100)
    common = ["--quick", "--no-progress", "--data", str(data), "--out", str(tmp_path / "o")]
    monkeypatch.setattr(vae_example, "write_pictures", lambda *a, **k: [])
    real_step = vae_example.optim.Adam.step

    def step(self):
        os.kill(os.getpid(), signal.SIGINT)
        return real_step(self)
    monkeypatch.setattr(vae_example.optim.Adam, "step", step)
    assert vae_example.main(common) == 130
    monkeypatch.setattr(vae_example.optim.Adam, "step", real_step)
    with pytest.raises(SystemExit, match="mid-epoch.*--batch"):
        vae_example.main(common + ["--resume", "--batch", "64"])
