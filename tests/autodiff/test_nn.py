"""autodiff.nn: modules (names, state, modes), layers and losses.

Every layer's and loss's derivatives are checked against central finite differences to second
order in both modes (`ad.check_grads`); loss values against independent scipy/numpy formulas;
small networks must learn XOR and two interleaved spirals to a stated accuracy.
"""
import numpy as np
import pytest
import scipy.special as sp

import autodiff as ad
from autodiff import nn, optim

RNG = np.random.default_rng(20)


def rng(seed=0):
    return np.random.default_rng(seed)


def functional(module):
    """module(x) as a function f(x, *parameter values) (for check_grads), and those values."""
    names = [n for n, _ in module.named_parameters()]
    values = [p.value.copy() for _, p in module.named_parameters()]

    def owner(name):
        *path, attr = name.split(".")
        m = module
        for part in path:
            m = getattr(m, part)
        return m, attr

    def f(x, *vals):
        saved = [getattr(*owner(n)) for n in names]
        try:
            for n, v in zip(names, vals):
                setattr(*owner(n), v)
            return module(x)
        finally:
            for n, v in zip(names, saved):
                setattr(*owner(n), v)
    return f, values


# ---- module API ----------------------------------------------------------------------------------
class Block(nn.Module):
    def __init__(self):
        self.scale = ad.Tensor(np.ones(3), requires_grad=True)
        self.body = nn.Sequential(nn.Linear(3, 4, rng=rng()), nn.relu, nn.Linear(4, 2, rng=rng()))
        self.heads = [nn.Linear(2, 1, rng=rng(1)), nn.Linear(2, 1, bias=False, rng=rng(2))]
        self.constant = ad.Tensor(np.zeros(2))  # no requires_grad: not a parameter
        self.tied = self.body[0].weight  # a shared Tensor is listed once

    def forward(self, x):
        h = self.body(x * self.scale)
        return self.heads[0](h) + self.heads[1](h)


def test_named_parameters_in_assignment_order_with_dotted_names():
    b = Block()
    assert [n for n, _ in b.named_parameters()] == [
        "scale", "body.0.weight", "body.0.bias", "body.2.weight", "body.2.bias",
        "heads.0.weight", "heads.0.bias", "heads.1.weight"]
    assert [p for _, p in b.named_parameters()] == b.parameters()
    assert [n for n, _ in b.named_modules()] == ["", "body", "body.0", "body.1", "body.2",
                                                  "heads.0", "heads.1"]


def test_zero_grad_state_dict_and_load_state_dict():
    b = Block()
    b(RNG.normal(size=(5, 3))).sum().backward()
    assert all(p.grad is not None for p in b.parameters())
    b.zero_grad()
    assert all(p.grad is None for p in b.parameters())
    sd = b.state_dict()
    sd["scale"][:] = 7.0  # a copy: the module is unchanged
    assert np.all(b.scale.value == 1.0)
    w = b.body[0].weight
    b.load_state_dict(sd)
    assert b.body[0].weight is w and np.all(b.scale.value == 7.0)
    sd["scale"] = sd["scale"].astype(np.float32)  # the module keeps its dtype
    b.load_state_dict(sd)
    assert b.scale.dtype == np.float64


@pytest.mark.parametrize("change, match", [
    (lambda sd: sd.pop("scale"), "missing parameters \\['scale'\\]"),
    (lambda sd: sd.update(extra=np.ones(2)), "unexpected \\['extra'\\]"),
    (lambda sd: sd.update(scale=np.ones(4)), "'scale' has shape \\(3,\\)"),
])
def test_load_state_dict_names_the_mismatch(change, match):
    b = Block()
    sd = b.state_dict()
    change(sd)
    with pytest.raises(ValueError, match=match):
        b.load_state_dict(sd)


def test_train_eval_recursive_and_repr():
    b = Block()
    assert b.eval() is b and not b.training and not b.body[2].training and not b.heads[0].training
    assert b.train() is b and all(m.training for _, m in b.named_modules())
    r = repr(nn.MLP([3, 5, 2], "sigmoid", rng=rng()))
    assert "(0): Linear(in_features=3, out_features=5" in r and "(1): Activation(sigmoid)" in r
    assert repr(nn.Neuron(3, "linear")) == "Neuron(input_dim=3, activation='linear')"


# ---- layers --------------------------------------------------------------------------------------
def test_linear_is_one_affine_map_batch_first():
    lin = nn.Linear(4, 3, rng=rng())
    x = RNG.normal(size=(6, 4))
    np.testing.assert_allclose(lin(x).value, x @ lin.weight.value + lin.bias.value)
    assert lin.weight.shape == (4, 3) and np.all(lin.bias.value == 0)
    assert nn.Linear(4, 3, bias=False).bias is None


def test_initialisation_statistics_and_seeding():
    a = np.sqrt(6 / (400 + 300))
    w = nn.Linear(400, 300, rng=rng()).weight.value
    assert np.abs(w).max() <= a and abs(w.std() / (a / np.sqrt(3)) - 1) < 0.02
    w = nn.Linear(400, 300, rng=rng(), init="he").weight.value
    assert abs(w.std() / np.sqrt(2 / 400) - 1) < 0.02 and abs(w.mean()) < 0.002
    same = [nn.MLP([5, 4, 2], rng=rng(3)).state_dict() for _ in range(2)]
    assert all(np.array_equal(same[0][k], same[1][k]) for k in same[0])
    other = nn.MLP([5, 4, 2], rng=rng(4)).state_dict()
    assert not np.array_equal(same[0]["0.weight"], other["0.weight"])


LAYERS = [
    ("linear", lambda: nn.Linear(4, 3, rng=rng())),
    ("linear-no-bias", lambda: nn.Linear(4, 3, bias=False, rng=rng())),
    ("layer-relu", lambda: nn.Layer(4, 3, "relu", rng=rng())),
    ("layer-sigmoid", lambda: nn.Layer(4, 3, "sigmoid", rng=rng())),
    ("layer-linear", lambda: nn.Layer(4, 3, "linear", rng=rng())),
    ("neuron", lambda: nn.Neuron(4, "sigmoid", rng=rng())),
    ("mlp-relu", lambda: nn.MLP([4, 5, 3], "relu", rng=rng())),
    ("mlp-tanh-softplus", lambda: nn.MLP([4, 3, 3, 2], "tanh", rng=rng(),
                                          output_activation="softplus")),
    ("sequential", lambda: nn.Sequential(nn.Linear(4, 3, rng=rng()), nn.sigmoid,
                                         nn.Layer(3, 2, "linear", rng=rng()))),
]


@pytest.mark.parametrize("make", [m for _, m in LAYERS], ids=[n for n, _ in LAYERS])
@pytest.mark.parametrize("x_shape", [(3, 4), (4,)], ids=["batch", "one-vector"])
def test_layer_gradients_match_finite_differences(make, x_shape):
    module = make()
    x = RNG.normal(size=x_shape)
    f, values = functional(module)
    ad.check_grads(f, (x, *values), order=2)  # w.r.t. the input and every parameter


def test_neuron_and_layer_shapes():
    n = nn.Neuron(4, "relu", rng=rng())
    assert n(np.ones((7, 4))).shape == (7,) and n(np.ones(4)).shape == ()
    assert nn.Layer(4, 3, rng=rng())(np.ones(4)).shape == (3,)
    layer, x = nn.Layer(4, 3, "sigmoid", rng=rng()), RNG.normal(size=(2, 4))
    np.testing.assert_allclose(layer(x).value,
                               sp.expit(x @ layer.weight.value + layer.bias.value), rtol=1e-14)


def test_float32_end_to_end():
    net = nn.MLP([6, 5, 3], "sigmoid", rng=rng(), dtype=np.float32)
    x = RNG.normal(size=(4, 6)).astype(np.float32)
    out = net(x)
    loss = nn.cross_entropy(out, np.array([0, 2, 1, 1]))
    loss.backward()
    assert out.dtype == np.float32 and loss.dtype == np.float32
    assert all(p.dtype == np.float32 and p.grad.dtype == np.float32 for p in net.parameters())
    for fn in (nn.mse, nn.binary_cross_entropy_with_logits):
        assert fn(out, np.zeros((4, 3))).dtype == np.float32  # float64 data: no promotion


# ---- losses --------------------------------------------------------------------------------------
def test_losses_match_independent_formulas():
    logits = RNG.normal(size=(5, 4)) * 3
    y = np.array([0, 3, 1, 1, 2])
    rows = np.arange(5)
    ref_ce = -np.mean(sp.log_softmax(logits, axis=1)[rows, y])
    np.testing.assert_allclose(float(nn.cross_entropy(logits, y)), ref_ce, rtol=1e-13)
    lp = sp.log_softmax(logits, axis=1)
    np.testing.assert_allclose(float(nn.nll(lp, y)), ref_ce, rtol=1e-13)
    t = RNG.random((5, 4))
    bce = -(t * sp.log_expit(logits) + (1 - t) * sp.log_expit(-logits))
    np.testing.assert_allclose(nn.binary_cross_entropy_with_logits(logits, t, "none"), bce,
                               rtol=1e-12)  # numpy in, numpy out
    np.testing.assert_allclose(float(nn.binary_cross_entropy_with_logits(logits, t, "sum")),
                               bce.sum(), rtol=1e-12)
    np.testing.assert_allclose(float(nn.binary_cross_entropy_with_logits(logits, t)),
                               bce.mean(), rtol=1e-12)
    np.testing.assert_allclose(float(nn.mse(logits, t)), np.mean((logits - t) ** 2),
                               rtol=1e-13)
    # leading axes are flattened: (2, 3, C) logits with (2, 3) labels; a single example
    l3, y3 = RNG.normal(size=(2, 3, 4)), np.array([[0, 1, 2], [3, 2, 1]])
    np.testing.assert_allclose(float(nn.cross_entropy(l3, y3)),
                               float(nn.cross_entropy(l3.reshape(6, 4), y3.reshape(6))))
    np.testing.assert_allclose(float(nn.cross_entropy(logits[1], 3)), -lp[1, 3], rtol=1e-13)


def test_losses_are_stable_for_huge_logits():
    logits = np.array([[1e4, 0.0, -1e4], [-1e4, 1e4, 0.0]])
    assert float(nn.cross_entropy(logits, np.array([0, 1]))) == 0.0
    np.testing.assert_allclose(float(nn.cross_entropy(logits, np.array([1, 2]))), 1e4)
    g = ad.grad(lambda z: nn.cross_entropy(z, np.array([1, 0])))(logits)
    np.testing.assert_allclose(g, [[0.5, -0.5, 0], [-0.5, 0.5, 0]], atol=1e-300)
    b = nn.binary_cross_entropy_with_logits(np.array([1e4, -1e4]), np.array([0.0, 1.0]), "none")
    np.testing.assert_allclose(b, [1e4, 1e4])
    assert np.all(np.isfinite(ad.grad(lambda z: nn.binary_cross_entropy_with_logits(
        z, np.array([0.0, 1.0])))(np.array([1e4, -1e4]))))


LOSSES = [
    ("cross_entropy", lambda z: nn.cross_entropy(z, np.array([1, 0, 3])), (3, 4)),
    ("cross_entropy-3d", lambda z: nn.cross_entropy(z, np.array([[1, 0], [2, 2]])), (2, 2, 3)),
    ("nll", lambda z: nn.nll(ad.log_softmax(z), np.array([1, 0, 3])), (3, 4)),
    ("bce-mean", lambda z: nn.binary_cross_entropy_with_logits(z, np.full((3, 4), 0.3)), (3, 4)),
    ("bce-none", lambda z: nn.binary_cross_entropy_with_logits(z, np.eye(3), "none"), (3, 3)),
    ("bce-targets", lambda t: nn.binary_cross_entropy_with_logits(np.ones(3), t, "sum"), (3,)),
    ("mse-pred", lambda p: nn.mse(p, np.arange(6.0).reshape(2, 3)), (2, 3)),
    ("mse-target", lambda t: nn.mse(np.ones((2, 3)), t), (2, 3)),
]


@pytest.mark.parametrize("loss, shape", [(f, s) for _, f, s in LOSSES],
                         ids=[n for n, _, _ in LOSSES])
def test_loss_gradients_match_finite_differences(loss, shape):
    ad.check_grads(loss, (RNG.normal(size=shape),), order=2)


def test_cross_entropy_gradient_is_softmax_minus_onehot():
    logits, y = RNG.normal(size=(4, 3)), np.array([2, 0, 0, 1])
    g = ad.grad(lambda z: nn.cross_entropy(z, y))(logits)
    np.testing.assert_allclose(g, (sp.softmax(logits, axis=1) - np.eye(3)[y]) / 4, rtol=1e-12)


@pytest.mark.parametrize("call, exc, match", [
    (lambda: nn.cross_entropy(np.zeros((2, 3)), np.array([0.0, 1.0])), TypeError, "labels"),
    (lambda: nn.cross_entropy(np.zeros((2, 3)), np.array([0, 3])), ValueError, "labels"),
    (lambda: nn.cross_entropy(np.zeros((2, 3)), np.array([0, 1, 2])), ValueError, "labels"),
    (lambda: nn.cross_entropy(np.float64(1.0), 0), ValueError, "logits"),
    (lambda: nn.nll(np.zeros((2, 3)), np.array([-1, 0])), ValueError, "labels"),
    (lambda: nn.binary_cross_entropy_with_logits(np.zeros(2), np.zeros(2), "avg"), ValueError,
     "reduction"),
    (lambda: nn.binary_cross_entropy_with_logits(np.zeros(2), np.zeros(3)), ValueError,
     "targets"),
    (lambda: nn.mse(np.zeros((3, 1)), np.zeros(3)), ValueError, "target"),
    (lambda: nn.mse(np.zeros(2), np.array(["a", "b"])), TypeError, "target"),
    (lambda: nn.Linear(0, 3), ValueError, "in_features"),
    (lambda: nn.Linear(2, 2.5), TypeError, "out_features"),
    (lambda: nn.Linear(2, 3, init="xavier"), ValueError, "init"),
    (lambda: nn.Linear(2, 3, rng=42), TypeError, "rng"),
    (lambda: nn.Linear(2, 3, dtype=np.int32), TypeError, "dtype"),
    (lambda: nn.MLP([3]), ValueError, "sizes"),
    (lambda: nn.MLP([3, 2], "gelu"), ValueError, "activation"),
    (lambda: nn.MLP([3, 2], output_activation="max"), ValueError, "output_activation"),
    (lambda: nn.Layer(3, 2, "swish"), ValueError, "activation"),
    (lambda: nn.Sequential(nn.Linear(2, 2), 3), TypeError, "argument 1"),
])
def test_bad_inputs_name_the_argument(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


# ---- learning ------------------------------------------------------------------------------------
def test_paper_layers_learn_xor():
    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = np.array([0.0, 1.0, 1.0, 0.0])
    net = nn.Sequential(nn.Layer(2, 8, "sigmoid", rng=rng(0)), nn.Neuron(8, "linear", rng=rng(1)))
    opt = optim.Adam(net.parameters(), lr=0.1)
    for _ in range(300):
        opt.zero_grad()
        loss = nn.binary_cross_entropy_with_logits(net(X), y)
        loss.backward()
        opt.step()
    assert float(loss) < 0.05
    assert np.array_equal(net(X).value > 0, y > 0)  # 100%


def spirals(n, rng):
    """Two interleaved spirals (n points each, 1.5 turns, noise 0.1): not linearly separable."""
    t = np.sqrt(rng.random(n)) * 3 * np.pi
    arm = np.stack([t * np.cos(t), t * np.sin(t)], axis=1) / (3 * np.pi)
    X = np.concatenate([arm, -arm]) + 0.02 * rng.standard_normal((2 * n, 2))
    return X, np.repeat([0, 1], n)


def test_mlp_learns_spirals_to_95_percent_on_held_out_points():
    X, y = spirals(300, rng(5))
    X_test, y_test = spirals(300, rng(6))
    net = nn.MLP([2, 32, 32, 2], "relu", rng=rng(0))
    opt = optim.Adam(net.parameters(), lr=0.02)
    for _ in range(400):
        opt.zero_grad()
        nn.cross_entropy(net(X), y).backward()
        opt.step()
    assert np.mean(net(X_test).value.argmax(axis=1) == y_test) >= 0.95


def test_one_sgd_step_lowers_the_loss_on_a_fixed_batch():
    net = nn.MLP([10, 16, 3], "sigmoid", rng=rng(0), dtype=np.float32)
    X = RNG.normal(size=(32, 10)).astype(np.float32)
    y = RNG.integers(0, 3, 32)
    before = nn.cross_entropy(net(X), y)
    before.backward()
    optim.SGD(net.parameters(), lr=0.1).step()
    assert float(nn.cross_entropy(net(X), y)) < float(before) - 1e-4
