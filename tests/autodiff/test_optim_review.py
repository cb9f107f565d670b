"""Review of autodiff.optim and autodiff.checkpoint: per-parameter Adam steps, gradient
accumulation, malformed optimizer state, all-or-nothing checkpoint loads, corrupted files, and
the atomic write (temporary file in the same folder, fsync, rename, folder fsync).

References: the update rules computed by hand in numpy."""
import os
import zipfile

import numpy as np
import pytest

import autodiff as ad
from autodiff import nn, optim


def test_adam_step_counts_are_per_parameter():
    """A parameter without a gradient at a step is skipped: its moments and its step count
    (hence its bias correction) stay as they were, as in PyTorch."""
    a = ad.Tensor(np.array([1.0, -2.0]), requires_grad=True)
    b = ad.Tensor(np.array(3.0), requires_grad=True)
    lr, (b1, b2), eps = 0.1, (0.9, 0.999), 1e-8
    opt = optim.Adam([a, b], lr=lr)
    ref = {"a": [a.value.copy(), 0.0, 0.0, 0], "b": [b.value.copy(), 0.0, 0.0, 0]}
    for k in range(5):
        opt.zero_grad()
        loss = ad.sum(a * a) + (b * b * b if k % 2 == 0 else 0.0)   # b gets a grad 3 times
        loss.backward()
        opt.step()
        grads = {"a": 2 * ref["a"][0]}
        if k % 2 == 0:
            grads["b"] = 3 * ref["b"][0] ** 2
        for name, g in grads.items():
            p, m, v, t = ref[name]
            t += 1
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g * g
            p = p - lr * (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + eps)
            ref[name] = [p, m, v, t]
    np.testing.assert_allclose(a.value, ref["a"][0], rtol=1e-14)
    np.testing.assert_allclose(b.value, ref["b"][0], rtol=1e-14)
    assert opt.state[0]["step"] == 5 and opt.state[1]["step"] == 3


def test_gradients_accumulate_until_zero_grad():
    w = ad.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    opt = optim.SGD([w], lr=0.5)
    ad.sum(w * w).backward()
    ad.sum(3.0 * w).backward()                 # no zero_grad: 2w + 3
    np.testing.assert_array_equal(w.grad, [5.0, 7.0])
    opt.step()
    np.testing.assert_array_equal(w.value, [1.0 - 2.5, 2.0 - 3.5])
    opt.zero_grad()
    assert w.grad is None
    opt.step()                                 # no gradient: nothing moves
    np.testing.assert_array_equal(w.value, [-1.5, -1.5])


def adam_state():
    params = [ad.Tensor(np.ones((2, 2)), requires_grad=True),
              ad.Tensor(np.ones(3), requires_grad=True)]
    opt = optim.Adam(params, lr=0.1)
    sum(ad.sum(p * p) for p in params).backward()
    opt.step()
    return opt


@pytest.mark.parametrize("change, match", [
    (lambda sd: sd.update({"state.5.exp_avg": np.ones(3)}), "state.5.exp_avg"),
    (lambda sd: sd.update({"state.1.velocity": np.ones(3)}), "state.1.velocity"),
    (lambda sd: sd.pop("state.0.step"), "state.0.step"),
    (lambda sd: sd.pop("state.1.exp_avg_sq"), "state.1.exp_avg_sq"),
    (lambda sd: sd.update({"state.x.step": 1}), "state.x.step"),
])
def test_malformed_optimizer_state_is_a_clear_error(change, match):
    sd = adam_state().state_dict()
    change(sd)
    fresh = adam_state()
    with pytest.raises(ValueError, match=match):
        fresh.load_state_dict(sd)


# ---- checkpoints ---------------------------------------------------------------------------------
def net_and_opt(seed, kind=optim.Adam):
    net = nn.MLP([3, 4, 2], "tanh", rng=np.random.default_rng(seed), dtype=np.float32)
    opt = kind(net.parameters(), lr=0.1)
    nn.cross_entropy(net(np.ones((2, 3), np.float32)), np.array([0, 1])).backward()
    opt.step()
    return net, opt


def test_a_failed_load_changes_neither_module_nor_optimizer(tmp_path):
    path = tmp_path / "ckpt.npz"
    optim.save(path, *net_and_opt(0))                       # Adam state
    net, sgd = net_and_opt(1, optim.SGD)
    before = net.state_dict()
    with pytest.raises(ValueError, match="Adam"):
        optim.load(path, net, sgd)                          # the wrong optimizer kind
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(v, before[k], err_msg=k)


def test_loaded_float32_optimizer_state_stays_float32(tmp_path):
    path = tmp_path / "ckpt.npz"
    optim.save(path, *net_and_opt(0))
    net, opt = net_and_opt(1)
    optim.load(path, net, opt)
    assert all(st[k].dtype == np.float32 for st in opt.state for k in optim.Adam.slots)
    assert all(p.dtype == np.float32 for p in net.parameters())


@pytest.mark.parametrize("corrupt", ["truncated", "garbage", "empty", "bit-flip"])
def test_a_corrupted_checkpoint_is_a_clear_error(tmp_path, corrupt):
    path = tmp_path / "ckpt.npz"
    net, opt = net_and_opt(0)
    optim.save(path, net, opt, epoch=1)
    data = path.read_bytes()
    with zipfile.ZipFile(path) as z:                        # a byte inside the first array
        first = z.infolist()[0]
    pos = first.header_offset + 30 + len(first.filename) + 100
    data = {"truncated": data[:len(data) // 2], "garbage": b"not a checkpoint " * 20,
            "empty": b"", "bit-flip": data[:pos] + bytes([data[pos] ^ 0xFF]) + data[pos + 1:]
            }[corrupt]
    path.write_bytes(data)
    before = net.state_dict()
    with pytest.raises(ValueError, match="ckpt.npz.*(corrupt|not a checkpoint)"):
        optim.load(path, net, opt)
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(v, before[k], err_msg=k)


def test_save_writes_beside_the_target_fsyncs_and_renames(tmp_path, monkeypatch):
    calls = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        calls.append(("fsync", os.path.isdir(f"/proc/self/fd/{fd}") if os.path.exists(
            "/proc/self/fd") else None))
        return real_fsync(fd)

    def replace(src, dst):
        calls.append(("replace", os.path.dirname(os.fspath(src)), os.fspath(dst)))
        return real_replace(src, dst)
    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    path = tmp_path / "ckpt.npz"
    optim.save(path, *net_and_opt(0))
    kinds = [c[0] for c in calls]
    assert kinds[:2] == ["fsync", "replace"]                 # the data is on disk before
    assert calls[1][1] == str(tmp_path) and calls[1][2] == str(path)
    if os.name == "posix":                                  # the rename is made durable too
        assert kinds == ["fsync", "replace", "fsync"] and calls[2][1] in (True, None)
