"""Newton's method on AD derivatives against scipy.optimize, closed forms and the theory
(quadratic convergence at a simple root, linear at a double one)."""
import math

import numpy as np
import pytest
from scipy import optimize as so

import autodiff as ad
from autodiff import NewtonError, minimize_newton, newton


def errors(result, root):
    return [float(np.max(np.abs(np.asarray(x) - root))) for x, _ in result.history]


# ---- convergence rate ---------------------------------------------------------------------------
def test_scalar_error_squares_each_step_near_a_simple_root():
    r = newton(lambda x: x ** 2 - 2.0, 1.0)
    e = errors(r, math.sqrt(2.0))
    assert r.converged and e[-1] < 1e-15
    # e_{k+1} / e_k^2 -> |f''/(2 f')| = 1 / (2 sqrt 2) at the root
    ratios = [b / a ** 2 for a, b in zip(e, e[1:]) if a < 0.1 and b > 1e-14]
    assert len(ratios) >= 2
    np.testing.assert_allclose(ratios, 1 / (2 * math.sqrt(2.0)), rtol=0.1)


def test_system_correct_digits_double_each_step():
    f = lambda v: ad.stack([v[0] ** 2 + v[1] ** 2 - 4.0, ad.exp(v[0]) + v[1] - 1.0])
    r = newton(f, np.array([1.0, -1.0]))
    root = so.fsolve(lambda v: [v[0] ** 2 + v[1] ** 2 - 4, np.exp(v[0]) + v[1] - 1],
                     [1.0, -1.0], xtol=1e-14)
    e = errors(r, root)
    pairs = [(a, b) for a, b in zip(e, e[1:]) if a < 1e-2 and b > 1e-14]
    assert pairs
    for a, b in pairs:
        assert -math.log10(b) >= 1.8 * -math.log10(a), e


def test_double_root_converges_only_linearly():
    # the rate test above can fail: at a double root the error halves instead of squaring
    r = newton(lambda x: (x - 1.0) ** 2, 3.0)
    e = errors(r, 1.0)
    assert r.converged and abs(r.x - 1.0) < 1e-5
    np.testing.assert_allclose([b / a for a, b in zip(e[:10], e[1:11])], 0.5, rtol=1e-6)


# ---- against scipy ------------------------------------------------------------------------------
def test_scalar_root_matches_scipy_newton_with_fprime():
    r = newton(lambda x: ad.cos(x) - x, 1.0)
    ref = so.newton(lambda x: np.cos(x) - x, 1.0, fprime=lambda x: -np.sin(x) - 1, tol=1e-15)
    assert r.converged and abs(r.x - ref) < 1e-14 and abs(r.fun) < 1e-12


def test_two_by_two_system_matches_scipy_root_and_fsolve():
    f = lambda v: ad.stack([v[0] ** 2 + v[1] ** 2 - 4.0, ad.exp(v[0]) + v[1] - 1.0])
    g = lambda v: [v[0] ** 2 + v[1] ** 2 - 4, np.exp(v[0]) + v[1] - 1]
    x0 = np.array([1.0, -1.0])
    r = newton(f, x0)
    hybr = so.root(g, x0, method="hybr", options={"xtol": 1e-14})
    assert hybr.success and r.converged
    np.testing.assert_allclose(r.x, hybr.x, atol=1e-12)
    np.testing.assert_allclose(r.x, so.fsolve(g, x0, xtol=1e-14), atol=1e-12)
    np.testing.assert_allclose(g(r.x), 0.0, atol=1e-12)


def test_broyden_tridiagonal_system_matches_scipy_root_with_analytic_jacobian():
    n = 10
    zero = np.zeros(1)

    def f(x):  # f_i = (3 - 2 x_i) x_i - x_{i-1} - 2 x_{i+1} + 1, x_0 = x_{n+1} = 0
        left = ad.concatenate([zero, x[:-1]])
        right = ad.concatenate([x[1:], zero])
        return (3.0 - 2.0 * x) * x - left - 2.0 * right + 1.0

    def f_np(x):
        return (3 - 2 * x) * x - np.r_[0, x[:-1]] - 2 * np.r_[x[1:], 0] + 1

    def jac_np(x):
        return np.diag(3 - 4 * x) - np.eye(n, k=-1) - 2 * np.eye(n, k=1)

    x0 = -np.ones(n)
    np.testing.assert_allclose(ad.jacfwd(f)(x0), jac_np(x0), rtol=1e-14)
    r = newton(f, x0)
    ref = so.root(f_np, x0, jac=jac_np, method="lm", options={"xtol": 1e-15, "ftol": 1e-15})
    assert r.converged and ref.success
    np.testing.assert_allclose(r.x, ref.x, atol=1e-12)
    assert r.iterations <= 6


# ---- Rosenbrock against scipy Newton-CG ---------------------------------------------------------
def rosen(x):
    return ad.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


@pytest.mark.parametrize("x0", [[-1.2, 1.0], [1.3, 0.7, 0.8, 1.9, 1.2]])
def test_rosenbrock_matches_scipy_newton_cg(x0):
    x0 = np.array(x0)
    r = minimize_newton(rosen, x0)
    ref = so.minimize(so.rosen, x0, method="Newton-CG", jac=so.rosen_der, hess=so.rosen_hess,
                      options={"xtol": 1e-12})
    assert r.converged and ref.success
    np.testing.assert_allclose(r.x, ref.x, atol=1e-8)
    np.testing.assert_allclose(r.x, 1.0, atol=1e-8)
    assert abs(r.fun - so.rosen(r.x)) < 1e-20
    # Iterations: exact Newton steps with an Armijo search take 21 (2-d) and 15 (5-d); scipy's
    # Newton-CG (inexact CG solves, Wolfe line search) takes 86 and 25 on scipy 1.17. We assert
    # only that ours need no more than scipy's, and at most 30.
    assert r.iterations <= min(ref.nit, 30), (r.iterations, ref.nit)


def test_indefinite_hessian_is_shifted_and_the_saddle_avoided():
    f = lambda v: v[0] ** 4 / 4 - v[0] ** 2 / 2 + v[1] ** 2  # minima (+-1, 0), saddle (0, 0)
    x0 = np.array([0.1, 1.0])
    # pure Newton with the analytic Hessian goes to the saddle from here
    x = x0.copy()
    for _ in range(30):
        x = x - np.linalg.solve(np.diag([3 * x[0] ** 2 - 1, 2.0]), [x[0] ** 3 - x[0], 2 * x[1]])
    np.testing.assert_allclose(x, 0.0, atol=1e-12)
    r = minimize_newton(f, x0)
    assert r.converged and r.modified_steps >= 1
    np.testing.assert_allclose(np.abs(r.x), [1.0, 0.0], atol=1e-10)
    assert np.all(np.linalg.eigvalsh(ad.hessian(f)(r.x)) > 0)


def test_scalar_minimum_matches_closed_form():
    r = minimize_newton(lambda x: (x - 2.0) ** 4 + x, 0.0)  # 4 (x - 2)^3 = -1
    assert r.converged and isinstance(r.x, float)
    assert abs(r.x - (2.0 - 0.25 ** (1 / 3))) < 1e-10


# ---- line search, singular and divergent cases --------------------------------------------------
@pytest.mark.parametrize("f, x0, root", [
    (lambda x: ad.sign(x) * ad.abs(x) ** (1 / 3), 1.0, 0.0),  # pure Newton: x -> -2x
    (lambda x: ad.log(x), 3.0, 1.0),  # the full step lands at x < 0, outside log's domain
    (lambda x: ad.tanh(x), 2.0, 0.0),  # pure Newton diverges from |x0| > 1.09
])
def test_line_search_rescues_cases_where_pure_newton_fails(f, x0, root):
    r = newton(f, x0, maxiter=100)
    assert r.converged and abs(r.x - root) < 1e-10
    assert all(b[1] <= a[1] for a, b in zip(r.history, r.history[1:]))  # |f| decreases


def test_zero_derivative_raises_with_last_iterate_and_residual():
    with pytest.raises(NewtonError, match="derivative is zero") as info:
        newton(lambda x: x ** 2 + 1.0, 1.0)  # no real root: Newton lands on x = 0
    assert info.value.x == 0.0 and info.value.residual == 1.0 and info.value.iterations == 1


def test_singular_jacobian_raises():
    f = lambda v: ad.stack([v[0] + v[1], 2.0 * v[0] + 2.0 * v[1] - 1.0])  # inconsistent
    with pytest.raises(NewtonError, match="Jacobian is singular") as info:
        newton(f, np.array([1.0, 2.0]))
    np.testing.assert_array_equal(info.value.x, [1.0, 2.0])
    assert info.value.residual == 5.0
    assert isinstance(info.value, RuntimeError)


@pytest.mark.parametrize("f, x0", [(lambda x: x * ad.exp(-x), 2.0), (ad.exp, 0.0)])
def test_divergence_reported_not_converged_and_raised_on_request(f, x0):
    # iterates run off to infinity where f vanishes: |f| < tol, yet the Newton step stays ~1
    r = newton(f, x0)
    assert not r.converged and r.iterations == 50
    assert abs(r.x) > 40 and abs(r.fun) < 1e-12 and "diverge" in r.message
    with pytest.raises(NewtonError, match="no convergence") as info:
        newton(f, x0, raise_on_failure=True)
    assert info.value.x == r.x and info.value.residual == abs(r.fun)


@np.errstate(all="ignore")
def test_non_finite_values_raise():
    with pytest.raises(NewtonError, match="not finite"):
        newton(lambda x: ad.sqrt(x) - 1.0, 0.0)  # derivative infinite at 0
    with pytest.raises(NewtonError, match="not finite"):
        newton(lambda x: ad.log(x), -1.0)
    with pytest.raises(NewtonError, match="line search failed"):
        newton(lambda x: x ** 2 + 1.0, 0.5)  # stuck at |f|^2's minimum x = 0, not a root


def test_maxiter_stops_and_the_result_says_so():
    r = newton(lambda x: x ** 2 - 2.0, 1.0, maxiter=2)
    assert not r.converged and r.iterations == 2 and len(r.history) == 3
    assert "maxiter=2" in r.message and "NewtonResult(x=" in repr(r)


# ---- input checks -------------------------------------------------------------------------------
def test_bad_input_names_the_argument():
    f = lambda x: x - 1.0
    with pytest.raises(ValueError, match="x0 is not finite"):
        newton(f, np.nan)
    with pytest.raises(ValueError, match="tolerance"):
        newton(f, 0.0, tol=0.0)
    with pytest.raises(ValueError, match="maxiter"):
        newton(f, 0.0, maxiter=0)
    with pytest.raises(ValueError, match="shape"):
        newton(lambda v: v[:2], np.zeros(3))
    with pytest.raises(ValueError, match="x0 must be a scalar or 1-d"):
        newton(f, np.zeros((2, 2)))
    with pytest.raises(TypeError, match="x0"):
        newton(f, "one")
    with pytest.raises(ValueError, match="tolerance"):
        minimize_newton(lambda x: x * x, 1.0, gtol=-1.0)
    assert newton(f, 3).x == 1.0  # an integer start is converted to float
