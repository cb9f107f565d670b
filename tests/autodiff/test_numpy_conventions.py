"""The calling conventions numpy users write, against numpy/scipy: numpy's functions on Tensors
(dispatched to the engine, or refused by name), reductions of Python lists, einsum's sublist
form, where with one argument, logsumexp's weights, trace/diagonal's default axes, check_grads
on list and tuple arguments."""
import numpy as np
import pytest
import scipy.special as sps

import autodiff as ad

RNG = np.random.default_rng(19)


# ---- numpy's functions on Tensors ---------------------------------------------------------------
NUMPY_FORMS = [  # (numpy form, engine form): same value and gradient
    (lambda x: np.sum(np.exp(x) * np.ones(3)), lambda x: ad.sum(ad.exp(x))),
    (lambda x: np.ones((2, 3)) @ x - np.ones(2) + x[0],
     lambda x: ad.matmul(np.ones((2, 3)), x) - 1.0 + x[0]),
    (lambda x: np.sum(np.stack([x, 2 * x]), axis=0, keepdims=True, out=None),
     lambda x: ad.sum(ad.stack([x, 2 * x]), axis=0, keepdims=True)),
    (lambda x: np.mean(x) + np.std(x, 0, None, None, 1) + np.var(x),
     lambda x: ad.mean(x) + ad.std(x, ddof=1) + ad.var(x)),
    (lambda x: np.linalg.norm(np.concatenate([x, x])), lambda x: ad.norm(ad.concatenate([x, x]))),
    (lambda x: np.trace(np.outer(x, x)) + np.max(x), lambda x: ad.sum(x * x) + ad.max(x)),
    (lambda x: np.einsum("i,i->", x, np.sin(x)) + np.logaddexp(x, 0.5).sum(),
     lambda x: ad.sum(x * ad.sin(x)) + ad.sum(ad.logaddexp(x, 0.5))),
    (lambda x: np.hypot(x, 1.0) % 1.0 + np.true_divide(x, 2.0) + np.positive(x),
     lambda x: ad.mod(ad.hypot(x, 1.0), 1.0) + x / 2.0 + x),
    (lambda x: np.sum(x.sum(axis=None, dtype=None, out=None) * x.mean(None, None, None)),
     lambda x: ad.sum(x) * ad.mean(x)),
]


@pytest.mark.parametrize("i", range(len(NUMPY_FORMS)))
def test_numpy_functions_on_tensors_run_the_engine(i):
    f, g = NUMPY_FORMS[i]
    x = RNG.uniform(0.2, 0.9, 3)
    np.testing.assert_allclose(ad.grad(lambda x: ad.sum(f(x)))(x),
                               ad.grad(lambda x: ad.sum(g(x)))(x), rtol=1e-12)
    ad.check_grads(lambda x: f(x), (x,), order=2)


def test_numpy_functions_on_constant_tensors_give_numpy_values():
    t = ad.Tensor([1.0, -2.0, 3.0])
    assert isinstance(np.sum(t), np.floating | float) and float(np.sum(t)) == 2.0
    assert isinstance(np.shape(t), tuple) and np.argmax(t) == 2
    assert isinstance(t < np.zeros(3), np.ndarray) and isinstance(np.isfinite(t), np.ndarray)
    np.testing.assert_array_equal(np.exp(t), np.exp([1.0, -2.0, 3.0]))


def test_what_has_no_engine_equivalent_is_refused_by_name():
    x = np.array([1.0, 2.0])
    with pytest.raises(TypeError, match=r"np\.cbrt .* would lose its gradient"):
        ad.grad(lambda x: ad.sum(np.cbrt(x)))(x)
    with pytest.raises(TypeError, match=r"np\.add\.reduce .* use ad\.sum"):
        ad.grad(lambda x: np.add.reduce(x))(x)
    with pytest.raises(TypeError, match=r"np\.nanmean .* would lose its gradient"):
        ad.grad(lambda x: np.nanmean(x))(x)
    with pytest.raises(TypeError, match=r"ad\.stack"):
        ad.grad(lambda x: ad.sum(np.array([x[0], x[1]])))(x)
    with pytest.raises(TypeError, match=r"ad\.r_"):
        ad.grad(lambda x: ad.sum(np.r_[x, x]))(x)
    with pytest.raises(TypeError, match="out="):
        ad.grad(lambda x: np.sum(x, out=np.zeros(())))(x)
    # value-only functions work on traced values: no gradient to lose
    assert ad.grad(lambda x: ad.sum(x) * float(np.argmax(x) + np.all(np.isfinite(x))))(x)[0] == 2


def test_r_and_c_of_traced_values():
    x, y = RNG.standard_normal(3), RNG.standard_normal((3, 2))
    np.testing.assert_array_equal(ad.r_[ad.Tensor(x), 1.0, x], np.r_[x, 1.0, x])
    np.testing.assert_array_equal(ad.c_[ad.Tensor(x), y], np.c_[x, y])
    g = ad.grad(lambda x: ad.sum(ad.r_[x, 2 * x] ** 2))(x)
    np.testing.assert_allclose(g, 10 * x)


# ---- reductions of lists, einsum sublists, where(c), logsumexp(b) -------------------------------
@pytest.mark.parametrize("name", ["mean", "std", "var", "sum", "prod", "max", "min"])
def test_reductions_of_a_python_list_of_traced_values(name):
    x = np.array([0.3, -1.2, 2.0])
    ad_f, np_f = getattr(ad, name), getattr(np, name)
    f = lambda x: ad_f([x[0], x[1] * x[2], 2.0])  # noqa: E731
    np.testing.assert_allclose(f(ad.Tensor(x)), np_f([x[0], x[1] * x[2], 2.0]), rtol=1e-12)
    ad.check_grads(f, (x,), order=2)
    m = lambda x: ad_f([x, 2 * x], axis=0)  # noqa: E731
    np.testing.assert_allclose(m(ad.Tensor(x)), np_f([x, 2 * x], axis=0), rtol=1e-12)


def test_einsum_sublist_form():
    a, b = RNG.standard_normal((2, 3)), RNG.standard_normal((3, 4))
    np.testing.assert_allclose(ad.einsum(a, [0, 1], b, [1, 2], [0, 2]),
                               np.einsum(a, [0, 1], b, [1, 2], [0, 2]), rtol=1e-12)
    np.testing.assert_allclose(ad.einsum(a, [Ellipsis, 1], b, [1, 2]),
                               np.einsum(a, [Ellipsis, 1], b, [1, 2]), rtol=1e-12)
    ad.check_grads(lambda a, b: ad.einsum(a, [0, 1], b, [1, 2], [2, 0]), (a, b), order=2)
    with pytest.raises(TypeError, match="sublists"):
        ad.einsum(a, "x")


def test_where_with_one_argument_is_nonzero():
    c = np.array([[True, False], [False, True]])
    for got, want in zip(ad.where(ad.Tensor(c.astype(float))), np.where(c)):
        np.testing.assert_array_equal(got, want)
    with pytest.raises(ValueError, match="both x and y"):
        ad.where(c, 1.0)


def test_logsumexp_with_weights():
    x, b = RNG.standard_normal((2, 3)), RNG.uniform(0.5, 2.0, (2, 3))
    b0 = b * np.array([1.0, 0.0, 1.0])
    for bb in (b, b0, 2.0):
        for axis in (None, 1):
            np.testing.assert_allclose(ad.logsumexp(x, axis=axis, b=bb),
                                       sps.logsumexp(x, axis=axis, b=bb), rtol=1e-12)
    ad.check_grads(lambda x, b: ad.logsumexp(x, axis=1, b=b), (x, b), order=2)
    g = ad.grad(lambda x: ad.logsumexp(x, b=b0))(x)
    assert np.all(g[:, 1] == 0.0)
    with pytest.raises(ValueError, match="b must be >= 0"):
        ad.logsumexp(x, b=-b)


def test_trace_and_diagonal_default_to_axes_0_and_1_as_numpy():
    x = RNG.standard_normal((3, 4, 2))
    np.testing.assert_array_equal(ad.diagonal(x), np.diagonal(x))
    np.testing.assert_allclose(ad.trace(x), np.trace(x), rtol=1e-12)
    np.testing.assert_allclose(ad.trace(x, 1), np.trace(x, 1), rtol=1e-12)
    ad.check_grads(ad.trace, (x,), order=2)


# ---- check_grads on lists and tuples ------------------------------------------------------------
def test_check_grads_takes_list_and_tuple_arguments():
    ad.check_grads(lambda xs: ad.sum(ad.exp(xs[0])) * ad.sum(xs[1]),
                   ([np.ones(2), RNG.standard_normal(3)],))
    ad.check_grads(lambda xs, d: xs[0] * xs[1] * d["a"], ((1.0, 2.0), {"a": np.ones(2)}))
    with pytest.raises(AssertionError, match="argument 0"):  # still checks: a wrong rule fails
        bad = ad.primitive("bad", np.sin, vjp=lambda g, ans, x: g * ad.cos(x) * 1.001,
                           jvp=lambda t, ans, x: t * ad.cos(x) * 1.001, elementwise=True)
        ad.check_grads(lambda xs: bad(xs[0]) + xs[1], ([0.3, 0.4],))
