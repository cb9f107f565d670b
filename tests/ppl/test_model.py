"""Models: the unconstrained log density against hand-written ones (scipy.stats and the
transforms' formulas written out in numpy), plates, subsampling, and the errors users meet."""
import numpy as np
import pytest
from scipy import special, stats

import autodiff as ad
import ppl
from ppl import dist

Y8 = np.array([28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0])
SIGMA8 = np.array([15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0])


@ppl.model
def eight_schools(sigma, y=None):
    mu = ppl.sample("mu", dist.Normal(0.0, 5.0))
    tau = ppl.sample("tau", dist.HalfCauchy(5.0))
    with ppl.plate("school", len(sigma)):
        theta_tilde = ppl.sample("theta_tilde", dist.Normal(0.0, 1.0))
        theta = ppl.deterministic("theta", mu + tau * theta_tilde)
        ppl.sample("y", dist.Normal(theta, sigma), obs=y)


def eight_schools_by_hand(z):
    mu, log_tau, tt = z[0], z[1], z[2:]
    tau = np.exp(log_tau)
    return (stats.norm(0, 5).logpdf(mu) + stats.halfcauchy(scale=5).logpdf(tau) + log_tau
            + stats.norm.logpdf(tt).sum() + stats.norm(mu + tau * tt, SIGMA8).logpdf(Y8).sum())


@pytest.fixture
def m8():
    return eight_schools(SIGMA8, Y8)


def test_eight_schools_parameters(m8):
    assert list(m8.parameters) == ["mu", "tau", "theta_tilde"]
    assert m8.parameters["theta_tilde"].shape == (8,)
    assert m8.parameters["tau"].constraint is ppl.constraints.nonnegative
    assert [p.offset for p in m8.parameters.values()] == [0, 1, 2]
    assert m8.num_params == 10
    assert list(m8.observed) == ["y"]
    assert "10 unconstrained parameters" in repr(m8)


def test_eight_schools_unconstrained_density_matches_hand_written(m8):
    rng = np.random.default_rng(1)
    for _ in range(5):
        z = rng.normal(size=10)
        np.testing.assert_allclose(float(m8.unconstrained_log_density(z)),
                                   eight_schools_by_hand(z), rtol=1e-12)


def test_eight_schools_gradient_and_hessian(m8):
    z = np.random.default_rng(2).normal(size=10)
    ad.check_grads(m8.unconstrained_log_density, (z,), order=2)
    h = ad.hessian(m8.unconstrained_log_density)(z)
    g = ad.grad(m8.unconstrained_log_density)
    eps = 1e-5
    fd = np.stack([(g(z + eps * e) - g(z - eps * e)) / (2 * eps) for e in np.eye(10)])
    np.testing.assert_allclose(h, fd, rtol=1e-6, atol=1e-6)


def test_log_density_at_constrained_values(m8):
    z = np.random.default_rng(3).normal(size=10)
    params = m8.constrain(z, deterministic=False)
    # the constrained density lacks only the log-Jacobian of tau = exp(z_1)
    np.testing.assert_allclose(float(m8.log_density(params)), eight_schools_by_hand(z) - z[1],
                               rtol=1e-12)


def test_flatten_constrain_round_trips(m8):
    z = np.random.default_rng(4).normal(size=10)
    np.testing.assert_allclose(m8.flatten(m8.unflatten(z)), z)
    params = m8.constrain(z)
    theta = params["mu"] + params["tau"] * params["theta_tilde"]
    np.testing.assert_allclose(params["theta"], theta)
    np.testing.assert_allclose(m8.unconstrain({k: params[k] for k in m8.parameters}), z,
                               rtol=1e-12)


def test_initial_point_is_stans_uniform_minus_two_two(m8):
    z = m8.unconstrain(m8.initial_point(seed=5))
    assert np.all(np.abs(z) < 2) and np.std(z) > 0.3
    np.testing.assert_array_equal(m8.unconstrain(m8.initial_point(seed=5)), z)


def test_prior_sample_and_predictive(m8):
    s = m8.prior_sample(seed=0)
    assert set(s) == {"mu", "tau", "theta_tilde", "theta"} and s["theta"].shape == (8,)
    assert s["tau"] > 0
    pp = m8.prior_predictive(draws=2000, seed=1)
    assert pp["y"].shape == (2000, 8) and pp["mu"].shape == (2000,)
    # mu ~ N(0, 5): mean within 5 standard errors, sd within 10%
    assert abs(pp["mu"].mean()) < 5 * 5 / np.sqrt(2000)
    assert abs(pp["mu"].std() / 5 - 1) < 0.1
    assert not np.allclose(pp["y"][0], Y8)


def test_trace_records_sites_and_log_probs(m8):
    params = m8.constrain(np.zeros(10), deterministic=False)
    tr = m8.trace(params)
    assert list(tr) == ["mu", "tau", "theta_tilde", "theta", "y"]
    assert tr["y"].is_observed and not tr["mu"].is_observed and tr["theta"].log_prob is None
    np.testing.assert_allclose(tr["y"].log_prob, stats.norm(0, SIGMA8).logpdf(Y8))


# ---- a simplex and a bound that depends on another parameter ---------------------------------
@ppl.model
def bounded_simplex(counts):
    alpha1 = ppl.sample("alpha1", dist.Uniform(0.0, 1.0))
    beta1 = ppl.sample("beta1", dist.Uniform(0.0, 1.0 - alpha1))  # Stan: upper=1-alpha1
    p = ppl.sample("p", dist.Dirichlet(np.array([2.0, 3.0, 4.0])))
    ppl.factor("counts", ad.sum(counts * ad.log(p)))
    ppl.sample("obs", dist.Normal(alpha1 + beta1, 0.5), obs=0.7)


def _stick_breaking(y):
    """Stan reference manual, 'Unit simplex': z_k = logit^-1(y_k - log(K - k)), k = 1..K-1."""
    k_total = len(y) + 1
    x, remaining, log_det = np.zeros(k_total), 1.0, 0.0
    for k in range(k_total - 1):
        z = special.expit(y[k] - np.log(k_total - k - 1))
        x[k] = remaining * z
        log_det += np.log(remaining) + np.log(z) + np.log1p(-z)
        remaining -= x[k]
    x[-1] = remaining
    return x, log_det


def bounded_simplex_by_hand(z, counts):
    a = special.expit(z[0])
    la = np.log(a) + np.log1p(-a)
    b = (1 - a) * special.expit(z[1])
    lb = np.log(1 - a) + np.log(special.expit(z[1])) + np.log1p(-special.expit(z[1]))
    p, lp_ = _stick_breaking(z[2:4])
    return (stats.uniform(0, 1).logpdf(a) + la + stats.uniform(0, 1 - a).logpdf(b) + lb
            + stats.dirichlet([2.0, 3.0, 4.0]).logpdf(p) + lp_ + np.sum(counts * np.log(p))
            + stats.norm(a + b, 0.5).logpdf(0.7))


def test_simplex_and_dependent_bound_density_matches_hand_written():
    counts = np.array([3.0, 1.0, 5.0])
    m = bounded_simplex(counts)
    assert m.num_params == 4 and m.parameters["p"].unconstrained_shape == (2,)
    rng = np.random.default_rng(6)
    for _ in range(5):
        z = rng.normal(size=4)
        np.testing.assert_allclose(float(m.unconstrained_log_density(z)),
                                   bounded_simplex_by_hand(z, counts), rtol=1e-10)
    ad.check_grads(m.unconstrained_log_density, (rng.normal(size=4),), order=2)


def test_dependent_bound_is_read_per_run():
    m = bounded_simplex(np.ones(3))
    params = m.constrain(np.array([1.5, -0.3, 0.1, 0.2]))
    assert 0 < params["beta1"] < 1 - params["alpha1"]
    np.testing.assert_allclose(m.unconstrain({k: params[k] for k in m.parameters}),
                               [1.5, -0.3, 0.1, 0.2], rtol=1e-10)


# ---- plates ------------------------------------------------------------------------------------
@ppl.model
def regression(x, y, batch=None):
    mu = ppl.sample("mu", dist.Normal(0.0, 10.0))
    with ppl.plate("data", len(y), subsample_size=batch) as idx:
        ppl.sample("y", dist.Normal(mu * x[idx], 1.0), obs=y[idx])


def test_subsampled_plate_is_an_unbiased_estimate():
    rng = np.random.default_rng(7)
    x, y = rng.normal(size=50), rng.normal(size=50) + 1.0
    m = regression(x, y, batch=10)
    params = {"mu": np.array(0.8)}
    full = float(m.log_density(params))          # no rng: all the data
    np.testing.assert_allclose(full, float(regression(x, y).log_density(params)))
    est = np.array([float(m.log_density(params, rng=rng)) for _ in range(3000)])
    assert est.std() > 0                          # really subsampled
    assert abs(est.mean() - full) < 5 * est.std() / np.sqrt(len(est))
    # each estimate is N/n times the log likelihood of a subset of 10 distinct points
    lp_i = stats.norm(0.8 * x, 1).logpdf(y)
    prior = stats.norm(0, 10).logpdf(0.8)
    with ppl.handlers.trace() as tr, ppl.handlers.subsample(np.random.default_rng(8)), \
            ppl.handlers.substitute(params):
        regression.model_fn(x, y, 10)
    idx = tr.sites["y"]["plates"][0].indices
    assert len(np.unique(idx)) == 10 and tr.sites["y"]["scale"] == 5.0
    np.testing.assert_allclose(float(m.log_density(params, rng=np.random.default_rng(8))),
                               prior + 5.0 * lp_i[idx].sum())


def test_nested_plates_broadcast_on_their_own_axes():
    @ppl.model
    def grid():
        with ppl.plate("rows", 3):
            with ppl.plate("cols", 4):
                ppl.sample("a", dist.Normal(0.0, 1.0))
            with ppl.plate("cols2", 4, dim=-2):
                ppl.sample("b", dist.Normal(np.zeros(3), 1.0))
    m = grid()
    assert m.parameters["a"].shape == (4, 3)
    assert m.parameters["b"].shape == (4, 3)
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    np.testing.assert_allclose(float(m.log_density({"a": a, "b": b})),
                               stats.norm.logpdf(a).sum() + stats.norm.logpdf(b).sum(),
                               rtol=1e-12)


def test_a_plate_at_dim_minus_2_gives_row_effects_their_own_axis():
    # y[i, j] ~ N(r_i + c_j, s): the row effects live on the plate at dim=-2, shape (4, 1),
    # and broadcast against the column effects (3,); log density against scipy by hand
    @ppl.model
    def rows_cols(y):
        with ppl.plate("cols", 3):
            c = ppl.sample("c", dist.Normal(0.0, 1.0))
        with ppl.plate("rows", 4, dim=-2):
            r = ppl.sample("r", dist.Normal(0.0, 2.0))
            with ppl.plate("cols", 3):
                ppl.sample("y", dist.Normal(r + c, 0.5), obs=y)
    rng = np.random.default_rng(4)
    y = rng.normal(size=(4, 3))
    m = rows_cols(y)
    assert m.parameters["r"].shape == (4, 1) and m.parameters["c"].shape == (3,)
    r, c = rng.normal(size=(4, 1)), rng.normal(size=3)
    expected = (stats.norm.logpdf(c).sum() + stats.norm.logpdf(r, 0.0, 2.0).sum()
                + stats.norm.logpdf(y, r + c[None, :], 0.5).sum())
    np.testing.assert_allclose(float(m.log_density({"r": r, "c": c})), expected, rtol=1e-12)
    # a row effect moved changes only its row's likelihood
    r2 = r.copy()
    r2[1, 0] += 0.7
    diff = float(m.log_density({"r": r2, "c": c})) - float(m.log_density({"r": r, "c": c}))
    want = (stats.norm.logpdf(r2[1, 0], 0, 2) - stats.norm.logpdf(r[1, 0], 0, 2)
            + stats.norm.logpdf(y[1], r2[1, 0] + c, 0.5).sum()
            - stats.norm.logpdf(y[1], r[1, 0] + c, 0.5).sum())
    assert diff == pytest.approx(want, rel=1e-10)


def test_factor_adds_to_the_joint():
    @ppl.model
    def f():
        x = ppl.sample("x", dist.Normal(0.0, 1.0))
        ppl.factor("penalty", -2.0 * x * x)
    m = f()
    np.testing.assert_allclose(float(m.log_density({"x": 0.5})),
                               stats.norm.logpdf(0.5) - 0.5)


# ---- errors ------------------------------------------------------------------------------------
def test_latent_discrete_site_is_named():
    @ppl.model
    def bad():
        ppl.sample("k", dist.Poisson(3.0))
    with pytest.raises(ValueError, match="'k' is a latent discrete"):
        bad()


def test_duplicate_site_names():
    @ppl.model
    def bad():
        ppl.sample("a", dist.Normal(0.0, 1.0))
        ppl.sample("a", dist.Normal(0.0, 1.0))
    with pytest.raises(ValueError, match="duplicate site name 'a'"):
        bad()


def test_nan_in_observed_data():
    with pytest.raises(ValueError, match="site 'y'.*NaN"):
        eight_schools(SIGMA8, np.r_[Y8[:7], np.nan])


def test_obs_shape_that_does_not_broadcast():
    with pytest.raises(ValueError, match=r"site 'y'.*\(5,\).*\(8,\)"):
        eight_schools(SIGMA8, np.zeros(5))


def test_sites_that_change_between_runs():
    @ppl.model
    def moody():
        mu = ppl.sample("mu", dist.Normal(0.0, 1.0))
        if mu > 0:
            ppl.sample("extra", dist.Normal(0.0, 1.0))
    m = moody()
    z = np.full(m.num_params, -1.0 if "extra" in m.parameters else 1.0)
    with pytest.raises(ValueError, match="must not depend on random values"):
        m.unconstrained_log_density(z)


def test_wrong_params_and_vectors(m8):
    with pytest.raises(ValueError, match=r"missing \['tau', 'theta_tilde'\]"):
        m8.log_density({"mu": 0.0})
    with pytest.raises(ValueError, match="length 10"):
        m8.unconstrained_log_density(np.zeros(9))
    with pytest.raises(TypeError, match="dict"):
        m8.log_density([0.0])


def test_misuse_outside_a_model_and_bad_arguments():
    with pytest.raises(RuntimeError, match="outside a model run"):
        ppl.sample("x", dist.Normal(0.0, 1.0))
    with pytest.raises(TypeError, match="distribution"):
        ppl.sample("x", 3.0, obs=1.0)
    with pytest.raises(ValueError, match="size must be a positive integer"):
        ppl.plate("p", 0)
    with pytest.raises(ValueError, match="subsample_size"):
        ppl.plate("p", 5, subsample_size=6)

    @ppl.model
    def mismatch():
        with ppl.plate("p", 3):
            ppl.sample("x", dist.Normal(np.zeros(4), 1.0))
    with pytest.raises(ValueError, match="size 4 on batch axis -1.*plate 'p' has size 3"):
        mismatch()


def test_latent_inside_subsampled_plate_is_refused():
    @ppl.model
    def local(n):
        with ppl.plate("data", n, subsample_size=2):
            ppl.sample("z", dist.Normal(0.0, 1.0))
    with pytest.raises(ValueError, match="subsampled plate"):
        local(10)


def test_observed_values_outside_the_support():
    @ppl.model
    def coin(flips):
        p = ppl.sample("p", dist.Beta(1.0, 1.0))
        with ppl.plate("flips", len(flips)):
            ppl.sample("y", dist.Bernoulli(probs=p), obs=flips)
    with pytest.raises(ValueError, match=r"site 'y': 1 observed value\(s\) outside the support"):
        coin(np.array([1.0, 0.0, 2.0]))


def test_validation_off_gives_the_same_density_without_the_checks(m8):
    z = np.random.default_rng(9).normal(size=10)
    with dist.validation_enabled(False):
        assert not dist.is_validation_enabled()
        fast = ad.value_and_grad(m8.unconstrained_log_density)(z)
        # no support check: a Normal scale of 0 is not refused, and log_prob is not masked
        with np.errstate(divide="ignore", invalid="ignore"):
            assert not np.isfinite(float(dist.Normal(0.0, 0.0).log_prob(1.0)))
        assert np.isfinite(float(dist.HalfNormal(1.0).log_prob(-1.0)))
    slow = ad.value_and_grad(m8.unconstrained_log_density)(z)
    np.testing.assert_allclose(fast[0], slow[0], rtol=1e-14)
    np.testing.assert_allclose(fast[1], slow[1], rtol=1e-14)
    assert dist.HalfNormal(1.0).log_prob(-1.0) == -np.inf
