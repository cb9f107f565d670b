"""Review of autodiff.nn and autodiff.losses: what test_nn.py did not pin down.

References are independent of the code under test: scipy.stats (Kolmogorov-Smirnov tests of the
initial weights against the Glorot/He laws), numpy hand computations, and central finite
differences of the whole network (the Hessian of an MLP loss).
"""
import numpy as np
import pytest
from scipy import special, stats

import autodiff as ad
from autodiff import nn


def rng(seed=0):
    return np.random.default_rng(seed)


# ---- modules -------------------------------------------------------------------------------------
class Shared(nn.Module):
    """One Linear reached by two attribute paths: its parameters are listed once."""

    def __init__(self):
        self.a = nn.Linear(3, 3, rng=rng(0))
        self.b = nn.Linear(3, 2, rng=rng(1))
        self.again = self.a

    def forward(self, x):
        return self.b(self.again(self.a(x)))


def test_shared_submodule_parameters_once_and_order_stable():
    m = Shared()
    names = [n for n, _ in m.named_parameters()]
    assert names == ["a.weight", "a.bias", "b.weight", "b.bias"]
    assert names == [n for n, _ in m.named_parameters()]          # the same on every call
    assert [n for n, _ in Shared().named_parameters()] == names    # and for every instance
    assert [n for n, _ in m.named_modules()] == ["", "a", "b"]     # "again" is "a"
    m.load_state_dict(m.state_dict())
    assert m.eval() is m and not m.again.training and not m.b.training


def test_failed_load_state_dict_leaves_the_module_unchanged():
    net = nn.MLP([3, 4, 2], rng=rng(0))
    before = net.state_dict()
    bad = {k: v + 1.0 for k, v in before.items()}
    bad["2.weight"] = np.ones((5, 5))                   # the last parameter does not fit
    with pytest.raises(ValueError, match="'2.weight' has shape"):
        net.load_state_dict(bad)
    for k, v in net.state_dict().items():               # nothing half-loaded
        np.testing.assert_array_equal(v, before[k], err_msg=k)


def test_load_state_dict_rejects_non_numeric_values_naming_the_parameter():
    net = nn.Linear(2, 2, rng=rng(0))
    sd = net.state_dict()
    sd["bias"] = np.array(["a", "b"])
    with pytest.raises(TypeError, match="'bias'"):
        net.load_state_dict(sd)


def test_activation_given_as_an_engine_function_keeps_its_name_and_he_init():
    # nn.sigmoid is an engine primitive: the module's repr names it, not "Primitive"
    assert repr(nn.Activation(nn.sigmoid)) == "Activation(sigmoid)"
    assert "Activation(sigmoid)" in repr(nn.MLP([2, 3, 1], nn.sigmoid, rng=rng()))
    # MLP(..., nn.relu) is the same network as MLP(..., "relu"): He initialisation
    by_name = nn.MLP([50, 40, 3], "relu", rng=rng(3)).state_dict()
    by_fn = nn.MLP([50, 40, 3], nn.relu, rng=rng(3)).state_dict()
    for k in by_name:
        np.testing.assert_array_equal(by_name[k], by_fn[k], err_msg=k)


@pytest.mark.parametrize("n_in, n_out", [(300, 200), (50, 400)])
def test_linear_init_follows_the_glorot_and_he_laws(n_in, n_out):
    """Kolmogorov-Smirnov against the exact laws: U(-a, a), a = sqrt(6 / (in + out)) and
    N(0, 2 / in); a wrong scale (e.g. sqrt(2/(in+out)) or 1/in) fails by far."""
    a = np.sqrt(6.0 / (n_in + n_out))
    w = nn.Linear(n_in, n_out, rng=rng(11)).weight.value.ravel()
    assert stats.kstest(w, stats.uniform(-a, 2 * a).cdf).pvalue > 1e-3
    assert stats.kstest(w, stats.uniform(-0.9 * a, 1.8 * a).cdf).pvalue < 1e-6  # can fail
    w = nn.Linear(n_in, n_out, rng=rng(12), init="he").weight.value.ravel()
    assert stats.kstest(w, stats.norm(0, np.sqrt(2.0 / n_in)).cdf).pvalue > 1e-3
    assert stats.kstest(w, stats.norm(0, 0.9 * np.sqrt(2.0 / n_in)).cdf).pvalue < 1e-6


def test_neuron_and_layer_agree_with_numpy_on_one_vector_and_a_batch():
    layer = nn.Layer(4, 3, "relu", rng=rng(1))
    layer.bias._v[:] = [0.5, -0.5, 0.0]
    W, b = layer.weight.value, layer.bias.value
    X = rng(2).normal(size=(5, 4))
    np.testing.assert_allclose(layer(X).value, np.maximum(X @ W + b, 0), rtol=1e-15)
    for x in X:
        np.testing.assert_allclose(layer(x).value, np.maximum(x @ W + b, 0), rtol=1e-15)
    neuron = nn.Neuron(4, "sigmoid", rng=rng(3))
    w, c = neuron.weight.value[:, 0], neuron.bias.value[0]
    np.testing.assert_allclose(neuron(X).value, special.expit(X @ w + c), rtol=1e-15)
    assert neuron(X[0]).shape == () and float(neuron(X[0])) == pytest.approx(
        special.expit(X[0] @ w + c), rel=1e-15)


# ---- float32 -------------------------------------------------------------------------------------
def test_float32_every_loss_and_its_gradient():
    z = ad.Tensor(rng(4).normal(size=(3, 4)).astype(np.float32), requires_grad=True)
    y = np.array([0, 3, 1])
    for loss in (nn.cross_entropy(z, y), nn.nll(ad.log_softmax(z), y),
                 nn.binary_cross_entropy_with_logits(z, np.full((3, 4), 0.5)),
                 nn.mse(z, np.zeros((3, 4)))):
        z.grad = None
        loss.backward()
        assert loss.dtype == np.float32 and z.grad.dtype == np.float32


# ---- losses on edge inputs -----------------------------------------------------------------------
@pytest.mark.parametrize("call", [
    lambda z: nn.cross_entropy(z, np.zeros(0, np.int64)),
    lambda z: nn.nll(z, np.zeros(0, np.int64)),
    lambda z: nn.mse(z, np.zeros((0, 3))),
    lambda z: nn.binary_cross_entropy_with_logits(z, np.zeros((0, 3))),
], ids=["cross_entropy", "nll", "mse", "bce"])
def test_a_mean_over_an_empty_batch_is_a_clear_error(call):
    # before: nan with a RuntimeWarning, and ZeroDivisionError in backward()
    z = ad.Tensor(np.zeros((0, 3)), requires_grad=True)
    with pytest.raises(ValueError, match="empty"):
        call(z)


def test_bce_sum_and_none_of_an_empty_batch_are_fine():
    z = np.zeros((0, 3))
    assert float(nn.binary_cross_entropy_with_logits(z, z, "sum")) == 0.0
    assert nn.binary_cross_entropy_with_logits(z, z, "none").shape == (0, 3)


def test_huge_logits_float32_cross_entropy_and_gradient():
    z = np.array([[1e38, 0.0, -1e38], [0.0, 0.0, 0.0]], np.float32)  # float32 max: 3.4e38
    loss, g = ad.value_and_grad(lambda t: nn.cross_entropy(t, np.array([2, 1])))(z)
    assert loss.dtype == np.float32 and float(loss) == pytest.approx((2e38 + np.log(3)) / 2)
    assert np.all(np.isfinite(g))
    np.testing.assert_allclose(g, [[0.5, 0, -0.5], [1 / 6, -1 / 3, 1 / 6]], rtol=1e-6)


# ---- second order --------------------------------------------------------------------------------
def test_hessian_of_an_mlp_loss_matches_finite_differences_of_its_gradient():
    net = nn.MLP([3, 4, 2], "tanh", rng=rng(5))
    X, y = rng(6).normal(size=(6, 3)), np.array([0, 1, 1, 0, 1, 0])
    W0 = net[0].weight

    def loss(w):
        saved = W0._v
        try:
            net[0].weight = w
            return nn.cross_entropy(net(X), y)
        finally:
            net[0].weight = W0
            W0._v = saved

    w = W0.value.copy()
    # the derivatives depend on the other layers' parameters (requires_grad Tensors, recorded
    # on the base tape), so they come back as Tensors: compare their values
    H = ad.hessian(loss)(w).value                             # (3, 4, 3, 4)
    g = lambda v: ad.grad(loss)(v).value
    h, n = 1e-5, w.size
    fd = np.empty((n, n))
    for i in range(n):
        e = np.zeros(n)
        e[i] = h
        fd[:, i] = ((g(w + e.reshape(w.shape)) - g(w - e.reshape(w.shape))) / (2 * h)).ravel()
    np.testing.assert_allclose(H.reshape(n, n), fd, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(H.reshape(n, n), H.reshape(n, n).T, atol=1e-12)
