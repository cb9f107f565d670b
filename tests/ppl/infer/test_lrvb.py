"""ppl.infer.lrvb: the mu-mu block of (-H)^-1 by dense solves and by conjugate gradients, and
LRVB under meanfield against exact posteriors: a 2-D Gaussian at correlation 0.999 and a
regression with an uncentred predictor (exact by quadrature over sigma)."""
import numpy as np
import pytest

import ppl
from ppl import constraints, dist
from ppl.infer.dadvi import fixed_draw_fit
from ppl.infer.lrvb import cg_solve, lrvb_cov
from tests.models.zoo_reference import normal_linear_reference


def test_dense_and_cg_agree_with_numpy_inverse():
    rng = np.random.default_rng(0)
    B = rng.standard_normal((9, 9))
    negH = B @ B.T + 0.5 * np.eye(9)
    idx = [0, 3, 4]
    exact = np.linalg.inv(negH)[np.ix_(idx, idx)]
    for method in ("dense", "cg"):
        res = lrvb_cov(lambda v: -negH @ v, 9, idx, method=method)
        np.testing.assert_allclose(res.cov, exact, rtol=1e-8, atol=1e-12)
        assert res.method == method and (res.iterations > 0) == (method == "cg")
    x, n = cg_solve(lambda v: -negH @ v, np.arange(9.0))
    np.testing.assert_allclose(negH @ x, np.arange(9.0), atol=1e-8)


def test_not_positive_definite_is_an_error_naming_it():
    H = np.diag([-1.0, 2.0])
    for method in ("dense", "cg"):
        with pytest.raises(ValueError, match="not positive definite"):
            lrvb_cov(lambda v: H @ v, 2, [0, 1], method=method)
    with pytest.raises(ValueError, match="idx"):
        lrvb_cov(lambda v: v, 2, [5])


@pytest.mark.parametrize("method", ["dense", "cg"])
def test_meanfield_lrvb_is_exact_on_a_gaussian_at_correlation_0999(method):
    sd = np.array([1.0, 30.0])
    Sigma = np.array([[1.0, 0.999], [0.999, 1.0]]) * np.outer(sd, sd)
    P = np.linalg.inv(Sigma)
    fit = fixed_draw_fit(lambda z: -0.5 * z @ (P @ z), np.array([0.3, -2.0]),
                         A=1.0 / np.sqrt(np.diag(P)), family="meanfield", draws=30, seed=1)
    obj = fit.objective
    q_sd = np.diag(fit.L)
    assert np.all(q_sd < 0.1 * sd)          # meanfield alone: sds 0.045 of the truth
    res = lrvb_cov(lambda v: obj.hessp(fit.eta, v), obj.size, [0, 1], method=method)
    cov = res.cov * np.outer(obj.A, obj.A)      # whitened u -> zeta
    np.testing.assert_allclose(cov, Sigma, rtol=1e-6)


@ppl.model
def height_regression(x, y):
    beta = ppl.sample("beta", dist.ImproperUniform(constraints.real, (), (2,)))
    sigma = ppl.sample("sigma", dist.HalfCauchy(5.0))
    with ppl.plate("row", len(y)):
        ppl.sample("y", dist.Normal(beta[0] + beta[1] * x, sigma), obs=y)


def test_meanfield_lrvb_regression_with_an_uncentred_predictor_matches_the_exact_posterior():
    rng = np.random.default_rng(11)
    x = rng.normal(100.0, 15.0, 300)
    y = 20.0 + 0.6 * x + 10.0 * rng.normal(size=x.size)
    X = np.column_stack([np.ones_like(x), x])
    mean, sd = normal_linear_reference(
        X, y, None, lambda s: -np.log1p((s / 5.0) ** 2))   # HalfCauchy(5) in sigma
    # beta's marginal is a scale mixture of N(b, s^2 (X'X)^-1): its correlation is (X'X)^-1's
    C = np.linalg.inv(X.T @ X)
    rho = C[0, 1] / np.sqrt(C[0, 0] * C[1, 1])
    assert rho < -0.99
    fit = ppl.dadvi(height_regression(x, y), family="meanfield", seed=0)
    assert fit.lrvb and fit.family == "fullrank"     # N(mu, Cov_LR)
    cov = fit.L @ fit.L.T
    np.testing.assert_allclose(np.sqrt(np.diag(cov))[:2], sd["beta"], rtol=0.05)
    assert abs(cov[0, 1] / np.sqrt(cov[0, 0] * cov[1, 1]) - rho) < 1e-3
    np.testing.assert_allclose((fit.mu[:2] - mean["beta"]) / sd["beta"], 0.0, atol=0.05)
    np.testing.assert_allclose(fit.sd["beta"] / sd["beta"], 1.0, atol=0.1)
    no_lrvb = ppl.dadvi(height_regression(x, y), family="meanfield", seed=0, lrvb=False)
    assert no_lrvb.family == "meanfield" and np.all(np.exp(no_lrvb.omega[:2]) < 0.2 * sd["beta"])
