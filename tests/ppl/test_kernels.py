"""Fused log densities against scipy, the composed formula and finite differences."""
import numpy as np
import pytest
from scipy import special, stats

import autodiff as ad
from ppl.distributions.kernels import bernoulli_logits_log_prob, normal_log_prob

SHAPES = [((), (), ()), ((3,), (), ()), ((2, 3), (3,), (2, 1)), ((), (4,), ())]


def _args(shapes, rng):
    x, loc, scale = (rng.normal(size=s) for s in shapes)
    return x, loc, np.exp(0.5 * scale)


@pytest.mark.parametrize("shapes", SHAPES)
def test_normal_log_prob_value_matches_scipy(shapes):
    x, loc, scale = _args(shapes, np.random.default_rng(0))
    np.testing.assert_allclose(normal_log_prob(x, loc, scale), stats.norm(loc, scale).logpdf(x),
                               rtol=1e-13)


@pytest.mark.parametrize("shapes", SHAPES)
def test_normal_log_prob_derivatives_to_second_order(shapes):
    args = _args(shapes, np.random.default_rng(1))
    ad.check_grads(lambda *a: ad.sum(normal_log_prob(*a)), args, order=2)


def test_normal_log_prob_gradient_equals_the_composed_formula():
    x, loc, scale = _args(((2, 3), (3,), (2, 1)), np.random.default_rng(2))

    def composed(x, loc, scale):
        r = (x - loc) / scale
        return ad.sum(-0.5 * r * r - ad.log(scale) - 0.5 * np.log(2 * np.pi))
    fused = lambda x, loc, scale: ad.sum(normal_log_prob(x, loc, scale))
    for i in range(3):
        np.testing.assert_allclose(ad.grad(fused, argnums=i)(x, loc, scale),
                                   ad.grad(composed, argnums=i)(x, loc, scale), rtol=1e-12)
    np.testing.assert_allclose(ad.hessian(fused, argnums=2)(x, loc, scale),
                               ad.hessian(composed, argnums=2)(x, loc, scale), rtol=1e-12)


def test_normal_log_prob_keeps_float32():
    x = np.ones(3, np.float32)
    out = normal_log_prob(ad.Tensor(x), np.float32(0.5), np.float32(2.0))
    assert out.dtype == np.float32


@pytest.mark.parametrize("shape_x, shape_l", [((), ()), ((5,), (5,)), ((2, 3), (3,))])
def test_bernoulli_logits_log_prob_matches_scipy_and_its_derivatives(shape_x, shape_l):
    rng = np.random.default_rng(3)
    x = (rng.random(shape_x) < 0.4).astype(float)
    logits = 3.0 * rng.normal(size=shape_l)
    # scipy.stats.bernoulli(expit(l)) rounds p first (1e-12 off at l = 10): log_expit is exact
    want = x * special.log_expit(logits) + (1.0 - x) * special.log_expit(-logits)
    np.testing.assert_allclose(bernoulli_logits_log_prob(x, logits), want, rtol=1e-13)
    p = special.expit(logits)
    np.testing.assert_allclose(bernoulli_logits_log_prob(x, logits), stats.bernoulli(p).logpmf(x),
                               rtol=1e-10)
    ad.check_grads(lambda a, b: ad.sum(bernoulli_logits_log_prob(a, b)), (x, logits), order=2)


def test_bernoulli_logits_log_prob_is_finite_at_extreme_logits():
    out = bernoulli_logits_log_prob(np.array([1.0, 0.0, 1.0, 0.0]),
                                    np.array([800.0, 800.0, -800.0, -800.0]))
    np.testing.assert_array_equal(out, [0.0, -800.0, -800.0, 0.0])
    g = ad.grad(lambda lg: ad.sum(bernoulli_logits_log_prob(np.array([1.0, 0.0]), lg)))(
        np.array([800.0, -800.0]))
    np.testing.assert_array_equal(g, [0.0, 0.0])
