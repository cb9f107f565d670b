"""Review of autodiff.optimize: input shapes and types, tolerance semantics, the history, error
messages that name the argument, NewtonError's attributes and unbounded objectives.

References: closed-form roots and minima, residuals recomputed in numpy."""
import math
import warnings

import numpy as np
import pytest

import autodiff as ad
from autodiff import NewtonError, minimize_newton, newton


@pytest.mark.parametrize("x0, scalar", [
    (1.0, True), (np.array(1.0), True), (np.float32(1.0), True), (ad.Tensor(1.0), True),
    ([1.0], False), (np.array([1.0], np.float32), False),
], ids=["float", "0-d", "np.float32", "Tensor", "list", "float32-(1,)"])
def test_newton_input_kinds_give_the_same_root_in_float64(x0, scalar):
    r = newton(lambda x: x * x - 2.0, x0)
    assert r.converged
    if scalar:
        assert isinstance(r.x, float) and isinstance(r.fun, float)
    else:
        assert isinstance(r.x, np.ndarray) and r.x.shape == (1,) and r.x.dtype == np.float64
    assert abs(float(np.squeeze(r.x)) - math.sqrt(2.0)) < 1e-15


def test_newton_system_from_a_float32_list_start():
    r = newton(lambda v: ad.stack([v[0] * v[1] - 6.0, v[0] - v[1] + 1.0]),
               [np.float32(1.0), np.float32(1.5)])
    assert r.converged and r.x.dtype == np.float64
    np.testing.assert_allclose(r.x, [2.0, 3.0], rtol=1e-14)


def test_newton_history_holds_each_iterate_and_its_residual():
    f_np = lambda x: np.array([np.exp(x[0]) - 2.0, x[0] * x[1] - 1.0])
    r = newton(lambda v: ad.stack([ad.exp(v[0]) - 2.0, v[0] * v[1] - 1.0]), np.array([1.0, 1.0]))
    assert r.converged and len(r.history) == r.iterations + 1
    np.testing.assert_array_equal(r.history[0][0], [1.0, 1.0])
    for x, res in r.history:
        assert res == pytest.approx(np.max(np.abs(f_np(x))), rel=1e-12, abs=1e-300)
    np.testing.assert_array_equal(r.history[-1][0], r.x)
    np.testing.assert_allclose(r.x, [math.log(2.0), 1 / math.log(2.0)], rtol=1e-14)


@pytest.mark.parametrize("tol", [1e-3, 1e-8])
def test_a_looser_tol_stops_earlier_and_still_meets_it(tol):
    f = lambda x: ad.exp(x) - 5.0
    loose, tight = newton(f, 0.0, tol=tol), newton(f, 0.0)
    assert loose.converged and abs(loose.fun) <= tol and abs(math.exp(loose.x) - 5) <= tol
    assert loose.iterations < tight.iterations


def test_minimize_newton_gtol_and_history_against_the_hand_gradient():
    grad = lambda v: np.array([4 * (v[0] - 1) ** 3 + v[1], v[0] + 2 * v[1]])
    f = lambda v: (v[0] - 1.0) ** 4 + v[0] * v[1] + v[1] ** 2
    for gtol in (1e-2, 1e-10):
        r = minimize_newton(f, [3.0, 1.0], gtol=gtol)
        assert r.converged and np.max(np.abs(grad(r.x))) <= gtol
        assert len(r.history) == r.iterations + 1
        for x, res in r.history:
            assert res == pytest.approx(np.max(np.abs(grad(x))), rel=1e-12)


def test_minimize_newton_on_a_0d_array_and_float32_start():
    r = minimize_newton(lambda x: ad.exp(x - 0.5) + ad.exp(0.5 - x), np.array(2.0, np.float32))
    assert r.converged and isinstance(r.x, float) and abs(r.x - 0.5) < 1e-8
    assert r.fun == pytest.approx(2.0, rel=1e-15)


@pytest.mark.parametrize("call, exc, match", [
    (lambda: newton(lambda x: x, 1.0, tol=0.0), ValueError, "newton: tol "),
    (lambda: newton(lambda x: x, 1.0, tol="1e-3"), ValueError, "newton: tol "),
    (lambda: minimize_newton(lambda x: x * x, 1.0, gtol=-1.0), ValueError,
     "minimize_newton: gtol "),
    (lambda: newton(lambda x: x, None), TypeError, "x0"),
    (lambda: newton(lambda x: x, [1.0, None]), TypeError, "x0"),
    (lambda: minimize_newton(lambda x: x * x, None), TypeError, "x0"),
    (lambda: newton(lambda x: x, 1.0, maxiter=2.5), ValueError, "maxiter"),
])
def test_errors_name_the_argument(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_newton_error_carries_the_last_iterate_residual_and_iterations():
    # f(x) = x^2 + 1 from x = 2: a root-free function; Newton heads for x = 0, where f' = 0
    with pytest.raises(NewtonError) as info, np.errstate(all="ignore"):
        newton(lambda x: x * x + 1.0, 2.0)
    e = info.value
    assert isinstance(e.x, float) and e.residual == pytest.approx(e.x ** 2 + 1.0, rel=1e-15)
    assert isinstance(e.iterations, int) and e.iterations >= 1
    assert f"iteration {e.iterations}" in str(e)


def test_unbounded_objective_is_a_newton_error_without_numpy_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")                      # no overflow RuntimeWarning leaks
        with pytest.raises(NewtonError, match="unbounded|line search|not finite") as info:
            minimize_newton(lambda x: -x * x, 1.0)
    assert abs(info.value.x) > 1e6


def test_maxiter_is_the_most_newton_steps():
    for k in (1, 3):
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # rejected trials (exp(x)^2 overflows) stay silent
            r = newton(lambda x: ad.exp(x) - 1e6, 0.0, maxiter=k)
        assert r.iterations == k and not r.converged and len(r.history) == k + 1
        assert f"maxiter={k}" in r.message
