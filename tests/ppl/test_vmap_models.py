"""A model's log density under ad.vmap: its Python sees one draw's shapes (issue 15, item 1).

Every zoo model's unconstrained log density and its gradient, batched over draws, against the
loop over the draws; then the distributions' value masks (support checks, branch-free
reflections, zero guards) with rows that take different branches, so that a mask read from
the whole stack would be caught."""
import numpy as np
import pytest

import autodiff as ad
from models import list_models, load_model
from ppl import constraints, dist

ZOO = [name for name, _ in list_models()]


def rows_vs_loop(f, X, rtol=1e-9):
    got, dgot = ad.vmap(f)(X), ad.vmap(ad.grad(f))(X)
    want = np.array([float(ad.getval(f(x))) for x in X])
    dwant = np.stack([ad.grad(f)(x) for x in X])
    np.testing.assert_allclose(got, want, rtol=rtol, atol=1e-10)
    np.testing.assert_allclose(dgot, dwant, rtol=rtol, atol=1e-10)
    assert np.isfinite(dwant).all()  # a NaN on both sides would compare equal
    return got


@pytest.mark.parametrize("name", ZOO)
def test_zoo_log_density_under_vmap(name):
    zoo = load_model(name)
    m = zoo.model(**zoo.data())
    Z = np.random.default_rng(len(name)).normal(0.0, 0.6, (3, m.num_params))
    lp = rows_vs_loop(m.unconstrained_log_density, Z)
    assert len(set(lp.tolist())) == 3  # three different draws, not one row repeated


@pytest.mark.parametrize("name", ["eight_schools", "garch", "lkj_covariance"])
def test_zoo_hessian_under_vmap(name):
    """Order 2 under vmap: vmap(hessian) of the log density against the loop."""
    zoo = load_model(name)
    m = zoo.model(**zoo.data())
    Z = np.random.default_rng(1).normal(0.0, 0.5, (2, m.num_params))
    f = m.unconstrained_log_density
    np.testing.assert_allclose(ad.vmap(ad.hessian(f))(Z), np.stack([ad.hessian(f)(z) for z in Z]),
                               rtol=1e-8, atol=1e-8)


X = np.array([[0.3, 1.4, -0.2, 0.05], [0.6, 0.2, 0.9, 0.7], [2.0, -1.0, 0.1, 0.5]])
MASKED = [  # (name, f(row) -> scalar): each row takes its own branches
    ("uniform support", lambda x: ad.sum(dist.Uniform(0.0, 1.0).log_prob(x))),
    ("uniform batched bound", lambda x: ad.sum(dist.Uniform(0.0, 1.0 + x[0] ** 2).log_prob(
        x[1:]))),
    ("weibull at 0", lambda x: ad.sum(dist.Weibull(ad.exp(x[0]), 1.0).log_prob(
        ad.stop_gradient(ad.relu(x[1:] - 0.15))))),  # zeros in some rows
    ("truncated normal flips", lambda x: ad.sum(dist.TruncatedNormal(
        x[0], 1.0, low=-0.5, high=1.5).log_prob(ad.clip(x[1:], -0.4, 1.4)))),
    ("normal log_cdf", lambda x: ad.sum(dist.Normal(x[0], 1.0).log_cdf(3.0 * x[1:]))),
    ("laplace log_cdf and icdf", lambda x: ad.sum(dist.Laplace(0.0, 1.0).log_cdf(x)) + ad.sum(
        dist.Laplace(0.0, 1.0).icdf(ad.sigmoid(2.0 * x)))),
    ("student t cdf and icdf", lambda x: ad.sum(dist.StudentT(4.0, 0.0, 1.0).cdf(x)) + ad.sum(
        dist.StudentT(4.0, 0.0, 1.0).icdf(ad.sigmoid(3.0 * x)))),
    ("improper ordered", lambda x: ad.sum(dist.ImproperUniform(constraints.ordered, (), (2,))
                                          .log_prob(x[:2])) + ad.sum(x)),
    ("half normal mean", lambda x: ad.sum(dist.HalfNormal(ad.exp(x)).log_prob(
        dist.HalfNormal(ad.exp(x)).mean))),
]


@pytest.mark.parametrize("name,f", MASKED, ids=[r[0] for r in MASKED])
def test_value_masks_per_row(name, f):
    rows_vs_loop(f, X)


def test_a_category_per_row_is_refused():
    d = dist.Categorical(probs=np.array([0.2, 0.3, 0.5]))
    with pytest.raises(TypeError, match="per row under vmap"):
        ad.vmap(lambda k: d.log_prob(k))(np.array([0.0, 2.0]))


def test_a_branch_on_a_draw_is_refused():
    def branchy(z):
        return ad.sum(z) if z[0] > 0 else -ad.sum(z)
    with pytest.raises(TypeError, match="branch on a value"):
        ad.vmap(branchy)(X)
