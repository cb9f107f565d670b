"""Reductions (with axis and keepdims) and ops along an axis: values against numpy/scipy and
derivatives to second order, forward and reverse, against finite differences (tables REDUCTIONS
and AXIS_OPS in helpers.py); 0-d inputs, zeros in prod, ties in max/min."""
import inspect

import numpy as np
import pytest

import autodiff as ad

from .helpers import AXIS_OPS, REDUCTIONS, check_case, rng_for, sample

# ---- reductions ---------------------------------------------------------------------------------
REDUCTION_CASES = ([((2, 3), axis, kd) for axis in (None, 0, 1, -1, (0, 1), (-1, 0))
                    for kd in (False, True)]
                   + [((3,), None, False), ((3,), 0, True), ((2, 1, 3), (0, 2), False)])
# ddof=1 needs two elements along the reduced axes: these only for the ddof=0 rows
SMALL_CASES = [((2, 1, 3), -2, True), ((), None, False), ((), None, True)]


def _reduction_cases():
    for row in REDUCTIONS:
        ddof = "ddof" in inspect.getsource(row[1])
        for shp, axis, kd in REDUCTION_CASES + ([] if ddof else SMALL_CASES):
            yield pytest.param(*row, shp, axis, kd, id=f"{row[0]}-{shp}-axis={axis}-kd={kd}")


@pytest.mark.parametrize("op,f,ref,domain,shp,axis,keepdims", list(_reduction_cases()))
def test_reduction(op, f, ref, domain, shp, axis, keepdims):
    x = sample(rng_for(op, shp, axis, keepdims), shp, domain)
    check_case(lambda x: f(x, axis=axis, keepdims=keepdims),
               lambda x: ref(x, axis=axis, keepdims=keepdims), (x,))


# ---- ops with an axis ---------------------------------------------------------------------------
AXIS_CASES = [((3,), 0), ((3,), -1), ((2, 3), 0), ((2, 3), 1), ((2, 3), -1), ((2, 2, 3), 1)]


def _axis_cases():
    for row in AXIS_OPS:
        for shp, axis in AXIS_CASES + [((2, 3), None), ((), None)]:
            if row[0] != "cumsum" and shp == ():
                continue
            yield pytest.param(*row, shp, axis, id=f"{row[0]}-{shp}-axis={axis}")


@pytest.mark.parametrize("op,f,ref,shp,axis", list(_axis_cases()))
def test_axis_op(op, f, ref, shp, axis):
    x = sample(rng_for(op, shp, axis), shp, (-2, 2))
    check_case(lambda x: f(x, axis=axis), lambda x: ref(x, axis=axis), (x,))


def test_reductions_of_a_0d_array_take_axis_0_and_minus_1():
    """As np.sum: a 0-d array has one axis to name, 0 or -1 (np.mean refuses it; we do not)."""
    x = np.array(1.5)
    for f in (ad.sum, ad.max, ad.min, ad.prod, ad.logsumexp, ad.mean):
        for axis in (0, -1):
            for kd in (False, True):
                out = f(ad.Tensor(x), axis=axis, keepdims=kd)
                assert out.shape == () and float(out) == pytest.approx(1.5)
                g = ad.grad(lambda x, f=f, axis=axis, kd=kd: f(x, axis=axis, keepdims=kd))
                assert float(g(x)) == 1.0
    with pytest.raises(ValueError, match="out of bounds"):
        ad.sum(ad.Tensor(x), axis=1)


def test_prod_with_zeros_is_exact():
    x = np.array([[0.0, 2.0, 3.0], [0.0, 0.0, 5.0]])
    np.testing.assert_array_equal(ad.grad(lambda x: ad.sum(ad.prod(x, axis=1)))(x),
                                  [[6.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    np.testing.assert_array_equal(ad.grad(lambda x: ad.prod(x))(np.array([0.0, 2.0, 3.0])),
                                  [6.0, 0.0, 0.0])
    ad.check_grads(lambda x: ad.prod(x, axis=-1), (x,), order=2)


def test_max_min_ties_share_the_gradient_equally():
    x = np.array([1.0, 3.0, 3.0, -1.0])
    np.testing.assert_allclose(ad.grad(ad.max)(x), [0, 0.5, 0.5, 0])
    np.testing.assert_allclose(ad.grad(ad.min)(-x), [0, 0.5, 0.5, 0])
    m = np.array([[2.0, 2.0, 2.0], [1.0, 0.0, 1.0]])
    np.testing.assert_allclose(ad.grad(lambda m: ad.sum(ad.max(m, axis=1)))(m),
                               [[1 / 3, 1 / 3, 1 / 3], [0.5, 0, 0.5]])
    np.testing.assert_allclose(ad.jacfwd(lambda m: ad.max(m, axis=0))(m)[0],
                               [[1, 0, 0], [0, 0, 0]])
    # forward mode: the tangent of a tie is the mean of the tied tangents
    _, t = ad.jvp(ad.max, (x,), (np.array([0.0, 1.0, 3.0, 5.0]),))
    assert float(t) == pytest.approx(2.0)
    # elementwise maximum/minimum: 1/2 to each side at a tie, in both modes
    a, b = np.array([1.0, 2.0]), np.array([1.0, 0.0])
    np.testing.assert_allclose(ad.grad(lambda a, b: ad.sum(ad.maximum(a, b)), (0, 1))(a, b),
                               [[0.5, 1.0], [0.5, 0.0]])
    np.testing.assert_allclose(ad.grad(lambda a, b: ad.sum(ad.minimum(a, b)), (0, 1))(a, b),
                               [[0.5, 0.0], [0.5, 1.0]])
    np.testing.assert_allclose(ad.jvp(ad.maximum, (a, b), (np.ones(2), np.zeros(2)))[1],
                               [0.5, 1.0])


def test_std_at_zero_variance_has_gradient_zero_not_nan():
    """std = sqrt(var): var's gradient is 0 there and sqrt's infinite; the product must be 0
    (over one element std is 0 everywhere), in both modes and at second order."""
    assert float(ad.grad(ad.std)(np.array(3.5))) == 0.0
    f = lambda x: ad.sum(ad.std(x, axis=0))  # noqa: E731
    np.testing.assert_array_equal(ad.grad(f)(np.ones((1, 3))), np.zeros((1, 3)))
    np.testing.assert_array_equal(ad.jacfwd(f)(np.ones((1, 3))), np.zeros((1, 3)))
    np.testing.assert_array_equal(ad.hessian(f)(np.ones((1, 3))), np.zeros((1, 3, 1, 3)))
    ad.check_grads(lambda x: ad.std(x, axis=0), (np.array([[1.0, -2.0, 0.5]]),), order=2)
    # a column of equal values next to one that varies: each keeps its own derivative
    x = np.array([[2.0, 1.0], [2.0, 3.0]])
    np.testing.assert_allclose(ad.grad(f)(x), [[0.0, -0.5], [0.0, 0.5]])
