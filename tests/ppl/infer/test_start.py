"""ppl.infer.start against closed forms: quadratic modes at any scale, the raw-dollar
regression's mode (least squares and sigma^2 = RSS / (N - 1)), and the three failures."""
import numpy as np
import pytest

import autodiff as ad
import ppl
from ppl import constraints, dist
from ppl.infer.start import find_mode, model_start


def test_quadratic_mode_and_hessian_at_wildly_different_scales():
    scales = np.array([1e-3, 1.0, 1e5])
    C = np.array([[1.0, 0.9, 0.2], [0.9, 1.0, 0.1], [0.2, 0.1, 1.0]]) * np.outer(scales, scales)
    P, m = np.linalg.inv(C), np.array([1e-3, -2.0, 7e5])
    st = find_mode(lambda z: -0.5 * (z - m) @ (P @ (z - m)), [np.zeros(3), np.ones(3)])
    assert st.status == "mode" and st.ok
    np.testing.assert_allclose(st.mode / scales, m / scales, atol=1e-6)
    np.testing.assert_allclose(st.hessian, -P, rtol=1e-8)
    np.testing.assert_allclose(st.scales, 1.0 / np.sqrt(np.diag(P)), rtol=1e-8)


@ppl.model
def dollars(x, y):
    beta = ppl.sample("beta", dist.ImproperUniform(constraints.real, (), (2,)))
    sigma = ppl.sample("sigma", dist.ImproperUniform(constraints.positive, (), ()))
    with ppl.plate("row", len(y)):
        ppl.sample("y", dist.Normal(beta[0] + beta[1] * x, sigma), obs=y)


def test_raw_dollar_regression_mode_is_least_squares_from_stans_starts():
    # coefficients 5e4 and 1.2e4 on an uncentred predictor, residual sd 2e4
    rng = np.random.default_rng(3)
    x = rng.normal(66.0, 4.0, 1192)
    y = 5e4 + 1.2e4 * x + 2e4 * rng.normal(size=x.size)
    st = model_start(dollars(x, y), seed=0)
    X = np.column_stack([np.ones_like(x), x])
    b, rss = np.linalg.lstsq(X, y, rcond=None)[:2]
    # density of (beta, log sigma), flat priors: -(N - 1) log sigma - RSS / (2 sigma^2)
    s2 = rss[0] / (x.size - 1)
    assert st.status == "mode", st
    sd = np.sqrt(np.diag(np.linalg.inv(X.T @ X / s2)))         # the posterior sds at the mode
    np.testing.assert_allclose(st.mode[:2] / sd, b / sd, atol=1e-6)
    np.testing.assert_allclose(np.exp(2 * st.mode[2]), s2, rtol=1e-8)
    H = np.zeros((3, 3))
    H[:2, :2], H[2, 2] = -X.T @ X / s2, -2.0 * (x.size - 1)
    np.testing.assert_allclose(st.hessian, H, rtol=1e-6, atol=1e-9 * np.abs(H).max())
    assert np.isclose(st.log_density, -(x.size - 1) * 0.5 * np.log(s2) - rss[0] / (2 * s2)
                      - 0.5 * x.size * np.log(2 * np.pi), rtol=1e-10)


def test_a_density_without_a_maximum_is_no_mode_never_a_mode():
    st = find_mode(lambda z: ad.sum(z) - 1e-3 * ad.sum(ad.exp(-z)), [np.zeros(2)], maxiter=50)
    assert st.status == "no_mode" and not st.ok and "without bound" in st.message


def test_a_flat_direction_is_not_definite():
    st = find_mode(lambda z: -0.5 * z[0] ** 2 + 0.0 * z[1], [np.array([1.0, 2.0])])
    assert st.status == "not_definite" and "flat or saddle" in st.message


def test_no_finite_start_says_so():
    st = find_mode(lambda z: ad.log(-ad.exp(z[0])), [np.zeros(1), np.ones(1)])
    assert st.status == "no_finite" and st.mode is None and "2 initial point" in st.message


def test_the_best_of_several_starts_wins():
    # two modes: -0.5 (z - 3)^2 (height 0) and -0.5 (z + 3)^2 - 2 (height -2)
    def lp(z):
        a, b = -0.5 * (z[0] - 3.0) ** 2, -0.5 * (z[0] + 3.0) ** 2 - 2.0
        m = ad.maximum(a, b)
        return m + ad.log(ad.exp(a - m) + ad.exp(b - m))
    st = find_mode(lp, [np.array([-3.0]), np.array([2.0])])
    assert st.status == "mode" and abs(st.mode[0] - 3.0) < 0.05


def test_bad_arguments():
    with pytest.raises(ValueError, match="maxiter"):
        find_mode(lambda z: -z @ z, [np.zeros(2)], maxiter=0)
    with pytest.raises(ValueError, match="starts is empty"):
        find_mode(lambda z: -z @ z, [])
    with pytest.raises(ValueError, match="random_starts"):
        model_start(dollars(np.ones(3), np.ones(3)), random_starts=-1)


def test_the_compiled_density_agrees_and_a_frozen_branch_falls_back_to_fresh_runs():
    # a branch on a value: recorded at the first start (z0 > 0: the wrong half for the mode at
    # -3), the program would climb the wrong density; verify() at the run's end catches it
    def branchy(z):
        if float(ad.getval(z)[0]) > 0:
            return -0.5 * ad.sum((z - 1.0) ** 2) - 10.0
        return -0.5 * ad.sum((z + 3.0) ** 2) / 4.0
    st = find_mode(branchy, [np.array([0.5, 0.5]), np.array([-1.0, -1.0])])
    assert st.status == "mode"
    np.testing.assert_allclose(st.mode, [-3.0, -3.0], atol=1e-6)
    np.testing.assert_allclose(st.hessian, -0.25 * np.eye(2), atol=1e-8)
    # a smooth density: the program is kept and returned with the start, and it is exact
    st = find_mode(lambda z: -ad.sum(ad.cosh(z - 2.0)), [np.zeros(3)])
    assert st.program is not None and st.program.check(st.mode)
    np.testing.assert_allclose(st.mode, 2.0, atol=1e-8)
    fresh = find_mode(lambda z: -ad.sum(ad.cosh(z - 2.0)), [np.zeros(3)], compiled=False)
    assert fresh.program is None
    np.testing.assert_allclose(st.mode, fresh.mode, atol=1e-10)
    np.testing.assert_allclose(st.hessian, fresh.hessian, rtol=1e-10)
