"""ppl.infer.dadvi: the fixed-draw ELBO's gradient and Hessian-vector products against finite
differences, exact means on Gaussian targets, determinism, and the sandwich against the spread
of the optimum over independent sets of draws."""
import numpy as np
import pytest

import autodiff as ad
from ppl.infer.dadvi import FixedDrawELBO, fixed_draw_fit, gaussian_start
from ppl.infer.lrvb import sandwich_cov
from ppl.infer.draws import antithetic, evaluate_draws, record


def skewed(z):
    """A smooth non-Gaussian log density in 3-D."""
    return (ad.sum(2.0 * z - 3.0 * ad.log(1.0 + ad.exp(z))) - 0.1 * ad.sum(z ** 4) / 4.0
            + 0.3 * z[0] * z[1])


def skewed_np(Z):
    return (np.sum(2.0 * Z - 3.0 * np.log1p(np.exp(Z)) - 0.025 * Z ** 4, axis=-1)
            + 0.3 * Z[..., 0] * Z[..., 1])


def _fd(f, x, h=1e-6):
    return np.array([(f(x + h * e) - f(x - h * e)) / (2 * h) for e in np.eye(x.size)])


@pytest.mark.parametrize("family", ["meanfield", "fullrank"])
def test_value_gradient_and_hessp_match_finite_differences(family):
    rng = np.random.default_rng(0)
    eps = rng.standard_normal((8, 3))
    A = np.array([0.5, 2.0, 1.5]) if family == "meanfield" else np.array(
        [[0.5, 0.0, 0.0], [0.3, 2.0, 0.0], [-0.2, 0.4, 1.5]])
    c = np.array([0.1, -0.2, 0.3])
    obj = FixedDrawELBO(skewed, eps, family, c, A)
    eta = 0.3 * rng.standard_normal(obj.size)

    def F(e):       # the objective written out in numpy: the independent reference
        Z = obj.points(e)
        zeta = c + (Z * A if A.ndim == 1 else Z @ A.T)
        logdet = np.sum(np.log(np.abs(A if A.ndim == 1 else np.diag(A))))
        return skewed_np(zeta).mean() + e[3:6].sum() + logdet + 1.5 * (1 + np.log(2 * np.pi))
    _agrees_with(obj, F, eta, rng.standard_normal(obj.size))


def _agrees_with(obj, F, eta, u):
    """obj's value equals F's, its gradient F's finite differences, its Hessian-vector
    products (and dense Hessian) the finite differences of its gradient along u."""
    v, g = obj.value_and_grad(eta)
    assert np.isclose(v, F(eta), rtol=1e-12)
    np.testing.assert_allclose(g, _fd(F, eta), rtol=1e-6, atol=1e-7)
    fd_hv = (obj.value_and_grad(eta + 1e-6 * u)[1] - obj.value_and_grad(eta - 1e-6 * u)[1]) / 2e-6
    np.testing.assert_allclose(obj.hessp(eta, u), fd_hv, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(obj.hessian(eta) @ u, fd_hv, rtol=1e-5, atol=1e-6)


def test_hessian_vector_path_agrees_with_the_dense_path():
    eps = antithetic(np.random.default_rng(1), 6, 3)
    dense = FixedDrawELBO(skewed, eps, "fullrank", np.zeros(3), np.ones(3))
    hvp = FixedDrawELBO(skewed, eps, "fullrank", np.zeros(3), np.ones(3))
    hvp.dense = False
    eta, v = np.linspace(-0.3, 0.3, dense.size), np.linspace(1.0, -1.0, dense.size)
    np.testing.assert_allclose(dense.hessp(eta, v), hvp.hessp(eta, v), rtol=1e-10)


def test_evaluate_draws_matches_numpy_and_marks_non_finite_rows():
    Z = np.array([[0.1, 0.2, 0.3], [1.0, -1.0, 0.5]])
    vals, grads, hess = evaluate_draws(skewed, Z, order=2)
    np.testing.assert_allclose(vals, skewed_np(Z), rtol=1e-12)
    np.testing.assert_allclose(grads[1], _fd(lambda z: skewed_np(z), Z[1]), rtol=1e-6)
    assert hess.shape == (2, 3, 3) and np.allclose(hess, hess.transpose(0, 2, 1))
    vals, _ = evaluate_draws(lambda z: ad.sum(ad.log(z)), np.array([[1.0, 2.0], [-1.0, 2.0]]))
    assert np.isfinite(vals[0]) and vals[1] == -np.inf


def test_evaluate_draws_batched_pass_equals_the_loop():
    Z = np.random.default_rng(2).normal(size=(30, 3))
    program = record(skewed, np.zeros(3))
    assert program is not None
    got = evaluate_draws(skewed, Z, program=program)
    np.testing.assert_allclose(got[0], skewed_np(Z), rtol=1e-12)
    np.testing.assert_allclose(got[1], evaluate_draws(skewed, Z)[1], rtol=1e-12)
    # a non-finite row is marked in the batched pass too
    log = lambda z: ad.sum(ad.log(z))
    vals, _ = evaluate_draws(log, np.array([[1.0, 2.0], [-1.0, 2.0]]),
                             program=record(log, np.ones(2)))
    assert np.isfinite(vals[0]) and vals[1] == -np.inf
    # a branch on a value, frozen at the recording (z > 0 there): the first row disagrees, so
    # the rows are evaluated one at a time, as the function says
    branchy = lambda z: ad.sum(z ** 2) if ad.getval(z)[0] > 0 else -ad.sum(z ** 2)
    Zb = np.array([[-1.0, 2.0], [1.0, 1.0]])
    vals, _ = evaluate_draws(branchy, Zb, program=record(branchy, np.ones(2)))
    np.testing.assert_allclose(vals, [-5.0, 2.0])


def test_batched_second_derivatives_equal_the_loop_and_a_frozen_branch_falls_back():
    Z = np.random.default_rng(3).normal(size=(12, 3))
    T = np.random.default_rng(4).normal(size=(12, 3))
    program = record(skewed, np.zeros(3))
    for tangents in (None, T):
        batched = evaluate_draws(skewed, Z, 2, tangents=tangents, program=program)[2]
        loop = evaluate_draws(skewed, Z, 2, tangents=tangents)[2]
        np.testing.assert_allclose(batched, loop, rtol=1e-11, atol=1e-13)
        only = evaluate_draws(skewed, Z, 2, tangents=tangents, first=False, program=program)
        assert only[0] is None and np.allclose(only[2], loop, rtol=1e-11, atol=1e-13)
    # second derivatives of a branch frozen at the recording: the first row disagrees, so the
    # rows are differentiated one at a time, as the function says
    branchy = lambda z: ad.sum(z ** 3) if ad.getval(z)[0] > 0 else -ad.sum(z ** 3)
    Zb = np.array([[-1.0, 2.0], [1.0, 1.0]])
    H = evaluate_draws(branchy, Zb, 2, first=False, program=record(branchy, np.ones(2)))[2]
    np.testing.assert_allclose(H[0], -np.diag(6.0 * Zb[0]))
    np.testing.assert_allclose(H[1], np.diag(6.0 * Zb[1]))


@pytest.mark.parametrize("family", ["meanfield", "fullrank"])
def test_gaussian_start_is_the_fixed_draw_optimum_on_a_standard_normal(family):
    # F(m, L) = -(m^T m + tr(L S L^T)) / 2 + log det L + const on log p = -u^T u / 2, whose
    # maximum over lower-triangular L is L S L^T = I (fullrank; diagonal: L_ii^2 S_ii = 1)
    eps = antithetic(np.random.default_rng(5), 12, 4)
    S = eps.T @ eps / 12
    eta = gaussian_start(eps, family)
    obj = FixedDrawELBO(lambda u: -0.5 * ad.sum(u * u), eps, family, np.zeros(4), np.ones(4))
    L = obj.scale_tril(eta)
    if family == "fullrank":
        np.testing.assert_allclose(L @ S @ L.T, np.eye(4), atol=1e-12)
    else:
        np.testing.assert_allclose(np.diag(L) ** 2 * np.diag(S), 1.0, rtol=1e-12)
    assert np.max(np.abs(obj.value_and_grad(eta)[1])) < 1e-12
    fit = fixed_draw_fit(lambda u: -0.5 * ad.sum(u * u), np.zeros(4), family=family, eps=eps)
    assert fit.iterations == 0 and fit.converged


def test_antithetic_draws_have_mean_zero_and_need_an_even_count():
    eps = antithetic(np.random.default_rng(0), 10, 4)
    np.testing.assert_allclose(eps.mean(axis=0), 0.0, atol=1e-15)
    with pytest.raises(ValueError, match="even"):
        antithetic(np.random.default_rng(0), 7, 4)


@pytest.mark.parametrize("family", ["meanfield", "fullrank"])
def test_gaussian_target_means_exact_and_fit_deterministic(family):
    Sigma = np.array([[4.0, 1.8, 0.0], [1.8, 1.0, 0.3], [0.0, 0.3, 0.5]])
    P, m = np.linalg.inv(Sigma), np.array([10.0, -3.0, 0.5])
    fit = fixed_draw_fit(lambda z: -0.5 * (z - m) @ (P @ (z - m)), np.zeros(3),
                         family=family, draws=20, seed=4)
    assert fit.converged and fit.grad_norm < 1e-5
    np.testing.assert_allclose(fit.mu, m, atol=1e-6)
    again = fixed_draw_fit(lambda z: -0.5 * (z - m) @ (P @ (z - m)), np.zeros(3),
                           family=family, draws=20, seed=4)
    np.testing.assert_array_equal(fit.eta, again.eta)
    if family == "meanfield":     # KL(q||p) optimum is 1 / sqrt(P_ii), up to the draws' noise
        np.testing.assert_allclose(np.diag(fit.L), 1 / np.sqrt(np.diag(P)), rtol=0.4)


def test_sandwich_sd_matches_the_spread_of_the_optimum_over_draw_sets():
    # the coin's posterior in logit space, Beta(8, 4): log p = 8 z - 12 log(1 + e^z)
    def lp(z):
        return ad.sum(8.0 * z - 12.0 * ad.log(1.0 + ad.exp(z)))
    mus, sds = [], []
    for seed in range(40):
        fit = fixed_draw_fit(lp, np.array([0.69]), family="meanfield", draws=30, seed=seed)
        obj = fit.objective
        cov = sandwich_cov(obj, fit.eta, obj.hessian(fit.eta))
        mus.append(fit.mu[0])
        sds.append(np.sqrt(cov[0, 0]) * obj.A[0])
    spread, predicted = np.std(mus, ddof=1), np.sqrt(np.mean(np.square(sds)))
    assert 0.7 < spread / predicted < 1.5, (spread, predicted)


def test_bad_arguments():
    with pytest.raises(ValueError, match="family"):
        fixed_draw_fit(lambda z: -z @ z, np.zeros(2), family="diagonal")
    with pytest.raises(ValueError, match="diagonal"):
        fixed_draw_fit(lambda z: -z @ z, np.zeros(2), A=np.eye(2))
    with pytest.raises(ValueError, match="not finite"):
        fixed_draw_fit(lambda z: ad.sum(ad.log(z)), np.array([0.01, 0.01]), draws=10, seed=0)


@pytest.mark.parametrize("family", ["meanfield", "fullrank"])
def test_the_dense_hessian_equals_one_hessian_vector_product_per_column(family):
    eps = antithetic(np.random.default_rng(6), 8, 3)
    A = np.array([0.5, 2.0, 1.5])
    obj = FixedDrawELBO(skewed, eps, family, np.array([0.1, -0.2, 0.3]), A)
    eta = 0.2 * np.random.default_rng(7).standard_normal(obj.size)
    columns = np.column_stack([obj.hessp(eta, e) for e in np.eye(obj.size)])
    np.testing.assert_allclose(obj.hessian(eta), 0.5 * (columns + columns.T), rtol=1e-10,
                               atol=1e-12)
    # and the Jacobian of the draws against finite differences of u_m(eta)
    J = obj.jacobian(eta)
    fd = np.stack([(obj.points(eta + 1e-6 * e) - obj.points(eta - 1e-6 * e)) / 2e-6
                   for e in np.eye(obj.size)], axis=-1)
    np.testing.assert_allclose(J, fd, rtol=1e-6, atol=1e-8)


def test_lowrank_objective_against_numpy_and_finite_differences():
    rng = np.random.default_rng(4)
    D, r = 3, 2
    eps = antithetic(rng, 8, D + r)
    A, c = np.array([0.5, 2.0, 1.5]), np.array([0.1, -0.2, 0.3])
    obj = FixedDrawELBO(skewed, eps, "lowrank", c, A, rank=r)
    assert obj.size == 2 * D + 5            # B (3, 2) with B[0, 1] = 0: its lower trapezoid
    eta = 0.3 * rng.standard_normal(obj.size)

    def F(e):       # written out in numpy: B from its trapezoid, the Gaussian entropy
        B = np.zeros((D, r))
        B[np.tril_indices(D, 0, r)] = e[2 * D:]
        cov = np.diag(np.exp(2 * e[D:2 * D])) + B @ B.T
        U = e[:D] + np.exp(e[D:2 * D]) * eps[:, :D] + eps[:, D:] @ B.T
        ent = 0.5 * np.linalg.slogdet(2 * np.pi * np.e * cov)[1] + np.sum(np.log(A))
        return skewed_np(c + U * A).mean() + ent
    _agrees_with(obj, F, eta, rng.standard_normal(obj.size))


@pytest.mark.parametrize("method", ["dadvi", "advi"])
def test_lowrank_fit_recovers_a_diagonal_plus_rank_one_gaussian(method):
    """Target N(m, diag(d^2) + b b^T), D = 6: a rank-1 q holds it exactly; deterministic ADVI
    with linear-response covariances and stochastic ADVI both recover its sds and the
    correlations b brings (up to 0.8)."""
    import warnings

    import ppl
    from ppl import dist
    d = np.array([0.5, 1.0, 0.3, 2.0, 0.8, 1.2])
    b = np.array([1.0, -0.5, 0.6, 2.0, 0.0, 1.0])
    cov = np.diag(d * d) + np.outer(b, b)
    m = np.arange(6.0)

    @ppl.model
    def target():
        ppl.sample("x", dist.MultivariateNormal(m, covariance_matrix=cov))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if method == "dadvi":
            fit = ppl.dadvi(target(), family="lowrank", rank=1, seed=0, draws=60,
                            resample=False)
            assert fit.diagnostics.lrvb is not None and fit.info["rank"] == 1
        else:
            fit = ppl.advi(target(), family="lowrank", rank=1, seed=0, method="advi",
                           progress=False)
            assert fit.family == "lowrank" and fit.info["rank"] == 1
    x = fit.sample(20_000, seed=1)["x"]
    sd = np.sqrt(np.diag(cov))
    np.testing.assert_allclose(x.mean(0), m, atol=0.1 * sd.max())
    np.testing.assert_allclose(x.std(0) / sd, 1.0, atol=0.1)
    np.testing.assert_allclose(np.corrcoef(x.T), cov / np.outer(sd, sd), atol=0.1)
