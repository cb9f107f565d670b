"""A replayed tape gives the same value and gradient as running the function again, checked
against `value_and_grad` (itself checked against finite differences elsewhere) and against
central differences here."""
import numpy as np
import pytest

import autodiff as ad

RNG = np.random.default_rng(0)
A = RNG.normal(size=(30, 5))
Y = (RNG.random(30) < 0.5).astype(float)


def logistic(w):
    # matmul, broadcasting against data, softplus, sums with axes, a Gaussian prior
    eta = A @ w[:5] + w[5]
    return -ad.sum(ad.softplus(eta) - Y * eta) - 0.5 * ad.sum(w * w)


def shapes(x):
    # getitem, reshape, transpose, broadcasting in both directions, exp/log, a scalar slot
    m = ad.reshape(x[1:7], (2, 3))
    return ad.sum(ad.exp(m) * ad.transpose(m)[:, :1].T) + ad.log(1.0 + x[0] ** 2) * x[7]


@pytest.mark.parametrize("f, n", [(logistic, 6), (shapes, 8)])
def test_replay_equals_a_fresh_run_at_new_points(f, n):
    r = ad.compile_value_and_grad(f, RNG.normal(size=n))
    vg = ad.value_and_grad(f)
    for _ in range(5):
        x = RNG.normal(size=n)
        v, g = r(x)
        v2, g2 = vg(x)
        np.testing.assert_allclose(v, v2, rtol=1e-13)
        np.testing.assert_allclose(g, g2, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(r.value(x), v2, rtol=1e-13)
        assert r.check(x)


def test_replay_gradient_against_central_differences():
    r = ad.compile_value_and_grad(logistic, np.zeros(6))
    x = RNG.normal(size=6)
    h = 1e-6
    fd = [(r.value(x + h * e) - r.value(x - h * e)) / (2 * h) for e in np.eye(6)]
    np.testing.assert_allclose(r(x)[1], fd, rtol=1e-6, atol=1e-8)


def test_a_branch_on_a_value_is_frozen_and_check_says_so():
    def f(x):
        return ad.sum(x * x) if float(x[0]) > 0 else ad.sum(x)
    r = ad.compile_value_and_grad(f, np.array([1.0, 2.0]))
    assert r.check(np.array([3.0, -1.0]))          # same branch
    assert not r.check(np.array([-3.0, -1.0]))     # the other branch: the replay is stale


def test_float32_kept_and_input_checked():
    r = ad.compile_value_and_grad(lambda x: ad.sum(x ** 3), np.ones(3, dtype=np.float32))
    v, g = r(np.array([1.0, 2.0, 3.0], dtype=np.float32))
    assert g.dtype == np.float32 and float(v) == 36.0
    np.testing.assert_array_equal(g, [3.0, 12.0, 27.0])
    with pytest.raises(ValueError, match="recorded with"):
        r(np.ones(4))


def test_outputs_that_cannot_be_replayed_are_errors():
    with pytest.raises(ValueError, match="does not depend"):
        ad.compile_value_and_grad(lambda x: 3.0, np.ones(2))
    with pytest.raises(TypeError, match="scalar"):
        ad.compile_value_and_grad(lambda x: x * 2.0, np.ones(2))
    with pytest.raises(TypeError, match="floating-point"):
        ad.compile_value_and_grad(lambda x: ad.sum(x), np.ones(2, dtype=int))


def test_unused_input_gets_a_zero_gradient():
    r = ad.compile_value_and_grad(lambda x: ad.sum(x[:1] * 2.0), np.ones(3))
    np.testing.assert_array_equal(r(np.ones(3))[1], [2.0, 0.0, 0.0])
