"""autodiff.optim: SGD and Adam against hand-written numpy references of their update rules;
optimizer state; checkpoints (round trip, bit-identical resumption, interrupted saves)."""
import os

import numpy as np
import pytest

import autodiff as ad
from autodiff import nn, optim

SHAPES = [(3, 2), (2,), ()]


def quadratic(seed=0, dtype=np.float64):
    """Parameters and f(params) = sum_k 0.5 c_k p_k^2 + d_k p_k; its gradient is c p + d."""
    rng = np.random.default_rng(seed)
    p0 = [rng.normal(size=s).astype(dtype) for s in SHAPES]
    c = [rng.uniform(0.5, 2.0, size=s).astype(dtype) for s in SHAPES]
    d = [rng.normal(size=s).astype(dtype) for s in SHAPES]
    params = [ad.Tensor(p.copy(), requires_grad=True) for p in p0]

    def loss():
        return sum(ad.sum(0.5 * ck * p * p + dk * p) for p, ck, dk in zip(params, c, d))

    def grads(ps):
        return [ck * p + dk for p, ck, dk in zip(ps, c, d)]
    return params, p0, loss, grads


def run(opt, params, loss, steps):
    for _ in range(steps):
        opt.zero_grad()
        loss().backward()
        opt.step()
    return [p.value for p in params]


@pytest.mark.parametrize("momentum, wd", [(0.0, 0.0), (0.9, 0.0), (0.5, 0.1), (0.0, 0.05)])
def test_sgd_matches_the_update_rule(momentum, wd):
    params, p, loss, grads = quadratic()
    got = run(optim.SGD(params, lr=0.1, momentum=momentum, weight_decay=wd), params, loss, 6)
    buf = None
    for _ in range(6):  # PyTorch's rule, by hand
        g = [gk + wd * pk for gk, pk in zip(grads(p), p)]
        if momentum:
            buf = g if buf is None else [momentum * b + gk for b, gk in zip(buf, g)]
            g = buf
        p = [pk - 0.1 * gk for pk, gk in zip(p, g)]
    for a, b in zip(got, p):
        np.testing.assert_allclose(a, b, rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("wd", [0.0, 0.1])
def test_adam_matches_the_papers_algorithm(wd):
    params, p, loss, grads = quadratic(1)
    lr, (b1, b2), eps = 0.05, (0.8, 0.99), 1e-3  # a large eps makes its placement matter
    got = run(optim.Adam(params, lr=lr, betas=(b1, b2), eps=eps, weight_decay=wd), params, loss,
              7)
    m = [np.zeros_like(pk) for pk in p]
    v = [np.zeros_like(pk) for pk in p]
    for t in range(1, 8):  # Kingma & Ba, Algorithm 1, with PyTorch's eps placement
        g = [gk + wd * pk for gk, pk in zip(grads(p), p)]
        m = [b1 * mk + (1 - b1) * gk for mk, gk in zip(m, g)]
        v = [b2 * vk + (1 - b2) * gk ** 2 for vk, gk in zip(v, g)]
        p = [pk - lr * (mk / (1 - b1 ** t)) / (np.sqrt(vk / (1 - b2 ** t)) + eps)
             for pk, mk, vk in zip(p, m, v)]
    for a, b in zip(got, p):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-15)


def test_updates_in_place_keep_leaves_and_skip_missing_grads():
    params, p0, loss, _ = quadratic()
    ids = [id(p) for p in params]
    opt = optim.Adam(params, lr=0.1)
    run(opt, params, loss, 2)
    assert [id(p) for p in params] == ids
    assert all(p.is_leaf and p.requires_grad for p in params)
    frozen = params[1].value.copy()
    step_before = opt.state[1]["step"]
    loss().backward()
    params[1].grad = None  # no gradient: neither the value nor the state moves
    opt.step()
    assert np.array_equal(params[1].value, frozen) and opt.state[1]["step"] == step_before
    assert opt.state[0]["step"] == 3
    opt.zero_grad()
    assert all(p.grad is None for p in params)


@pytest.mark.parametrize("make", [lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9),
                                  lambda ps: optim.Adam(ps, lr=0.1)], ids=["sgd", "adam"])
def test_float32_parameters_and_state_stay_float32(make):
    params, _, loss, _ = quadratic(dtype=np.float32)
    opt = make(params)
    run(opt, params, loss, 3)
    assert all(p.dtype == np.float32 for p in params)
    assert all(v.dtype == np.float32 for st in opt.state for v in st.values()
               if isinstance(v, np.ndarray))


@pytest.mark.parametrize("call, exc, match", [
    (lambda p: optim.SGD(p, lr=0.0), ValueError, "lr"),
    (lambda p: optim.SGD(p, lr=-1.0), ValueError, "lr"),
    (lambda p: optim.SGD(p, lr="0.1"), TypeError, "lr"),
    (lambda p: optim.SGD(p, lr=float("nan")), ValueError, "lr"),
    (lambda p: optim.SGD(p, lr=0.1, momentum=1.0), ValueError, "momentum"),
    (lambda p: optim.SGD(p, lr=0.1, weight_decay=-0.1), ValueError, "weight_decay"),
    (lambda p: optim.Adam(p, betas=(0.9, 1.0)), ValueError, "betas\\[1\\]"),
    (lambda p: optim.Adam(p, betas=0.9), ValueError, "betas"),
    (lambda p: optim.Adam(p, eps=-1e-8), ValueError, "eps"),
    (lambda p: optim.Adam([], lr=0.1), ValueError, "params"),
    (lambda p: optim.Adam(p[0], lr=0.1), TypeError, "params"),
    (lambda p: optim.Adam([np.zeros(2)]), TypeError, "params\\[0\\]"),
    (lambda p: optim.Adam([ad.Tensor(np.zeros(2))]), ValueError, "params\\[0\\]"),
    (lambda p: optim.Adam([p[0] * 2]), ValueError, "leaf"),
    (lambda p: optim.Adam([p[0], p[0]]), ValueError, "params\\[1\\]"),
])
def test_bad_arguments_name_themselves(call, exc, match):
    params, _, _, _ = quadratic()
    with pytest.raises(exc, match=match):
        call(params)


def test_state_dict_round_trip_and_mismatches():
    params, _, loss, _ = quadratic()
    opt = optim.Adam(params, lr=0.1, betas=(0.8, 0.9))
    run(opt, params, loss, 3)
    sd = opt.state_dict()
    assert all(isinstance(v, (np.ndarray, int, float, str, tuple)) for v in sd.values())
    other = optim.Adam(quadratic()[0], lr=0.5)
    other.load_state_dict(sd)
    assert other.lr == 0.1 and other.betas == (0.8, 0.9)
    for a, b in zip(other.state, opt.state):
        assert a["step"] == b["step"] == 3
        assert all(np.array_equal(a[k], b[k]) and a[k] is not b[k] for k in optim.Adam.slots)
    with pytest.raises(ValueError, match="SGD"):
        optim.SGD(quadratic()[0], lr=0.1).load_state_dict(sd)
    with pytest.raises(ValueError, match="3 parameters"):
        optim.Adam(quadratic()[0][:2]).load_state_dict(sd)


# ---- checkpoints ---------------------------------------------------------------------------------
def setup(seed):
    net = nn.MLP([4, 6, 3], "tanh", rng=np.random.default_rng(seed), dtype=np.float32)
    return net, optim.Adam(net.parameters(), lr=0.01)


def batches():
    rng = np.random.default_rng(9)
    return [(rng.normal(size=(8, 4)).astype(np.float32), rng.integers(0, 3, 8))
            for _ in range(10)]


def train(net, opt, data):
    for X, y in data:
        opt.zero_grad()
        nn.cross_entropy(net(X), y).backward()
        opt.step()


def test_checkpoint_round_trip_and_identical_resumption(tmp_path):
    data = batches()
    net, opt = setup(0)
    train(net, opt, data)  # the uninterrupted run: 10 steps
    a, a_opt = setup(0)
    train(a, a_opt, data[:5])
    path = tmp_path / "ckpt.npz"
    optim.save(path, a, a_opt, epoch=5, note="half way", seeds=np.arange(3))
    b, b_opt = setup(1)  # another initialisation, restored from the file
    extra = optim.load(path, b, b_opt)
    assert extra["epoch"] == 5 and extra["note"] == "half way"
    assert np.array_equal(extra["seeds"], np.arange(3))
    for (n, p), q in zip(a.named_parameters(), b.parameters()):
        assert np.array_equal(p.value, q.value) and q.dtype == np.float32, n
    for sa, sb in zip(a_opt.state, b_opt.state):
        assert sa["step"] == sb["step"] == 5
        assert np.array_equal(sa["exp_avg"], sb["exp_avg"])
        assert np.array_equal(sa["exp_avg_sq"], sb["exp_avg_sq"])
    train(b, b_opt, data[5:])
    for p, q in zip(net.parameters(), b.parameters()):
        assert np.array_equal(p.value, q.value)  # bit-identical to the uninterrupted run
    with np.load(path, allow_pickle=False) as z:
        assert {k.split("/")[0] for k in z.files} == {"model", "optim", "extra"}


@pytest.mark.parametrize("fail", ["savez", "replace", "interrupt"])
def test_interrupted_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch, fail):
    net, opt = setup(0)
    path = tmp_path / "ckpt.npz"
    optim.save(path, net, opt, epoch=1)
    before = path.read_bytes()
    train(net, opt, batches()[:2])
    real_savez = np.savez

    def crash_during_write(fh, **arrays):
        real_savez(fh, **dict(list(arrays.items())[:2]))  # part of the file is written
        raise KeyboardInterrupt if fail == "interrupt" else OSError("disk full")

    def crash_on_rename(src, dst):
        raise OSError("rename failed")
    if fail == "replace":
        monkeypatch.setattr(os, "replace", crash_on_rename)
    else:
        monkeypatch.setattr(np, "savez", crash_during_write)
    with pytest.raises((OSError, KeyboardInterrupt)):
        optim.save(path, net, opt, epoch=2)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["ckpt.npz"]  # no temporary file left behind
    fresh, fresh_opt = setup(3)
    assert optim.load(path, fresh, fresh_opt) == {"epoch": 1}


def test_load_refuses_pickles_and_mismatches(tmp_path):
    net, opt = setup(0)
    path = tmp_path / "ckpt.npz"
    with pytest.raises(TypeError, match="obj"):
        optim.save(path, net, obj={"a": 1})
    assert not path.exists() and os.listdir(tmp_path) == []
    np.savez(path, **{"model/0.weight": np.array([{"a": 1}], dtype=object)})
    with pytest.raises(ValueError, match="allow_pickle"):
        optim.load(path, net)
    optim.save(path, net)
    with pytest.raises(ValueError, match="no optimizer state"):
        optim.load(path, net, opt)
    with pytest.raises(ValueError, match="'0.weight' has shape"):
        optim.load(path, nn.MLP([5, 6, 3], rng=np.random.default_rng(0)))
    np.savez(path, weights=np.ones(2))
    with pytest.raises(ValueError, match="not a checkpoint"):
        optim.load(path, net)
