"""Multivariate families (the improper ones are in test_dist_improper.py).

Multivariate rows: the class, its parameters (batch axes broadcast between loc and the matrix in
most rows), a builder of the reference, the value domain (random points in the support, points
outside it), the parameters for the moment check, and whether to check second derivatives.
References: scipy.stats.multivariate_normal (all three parametrisations, as a covariance),
multivariate_t and dirichlet, per batch member. scipy has no LKJ: LKJCholesky is checked against
an independent numpy formula (det(L L^T)^(eta - 1), the Jacobian of L -> L L^T, and NumPyro's
multigammaln form of the normaliser), a Beta density and quadrature for dim 2, Monte Carlo
integration for dim 3, and the Beta marginal of the sampler's correlations.
"""
import math

import numpy as np
import pytest
from scipy import integrate, special, stats

import autodiff as ad
from ppl.distributions import multivariate as M

from .dist_checks import (assert_log_prob_grads, assert_log_prob_matches,
                          assert_log_prob_param_grads, assert_minus_inf_outside, assert_moments,
                          assert_sample_shape_and_support)

_R = np.random.default_rng(42)


def _spd(k, *batch):
    a = _R.normal(size=batch + (k, k))
    return a @ np.swapaxes(a, -1, -2) / k + 0.5 * np.eye(k)


S3, S3x2, S2 = _spd(3), _spd(3, 2), _spd(2)
L3x3 = np.linalg.cholesky(_spd(3, 3))


# ---- references: one frozen scipy distribution per batch member ------------------------------
class Batched:
    """logpdf, mean and var of a batch of references: `one(index)` gives (logpdf, mean, var)
    of the member at a batch index; logpdf(x) loops over the batch."""

    def __init__(self, batch_shape, event_rank, one):
        self.batch, self.e, self.one = tuple(batch_shape), event_rank, one

    def logpdf(self, x):
        x = np.asarray(x, float)
        full = np.broadcast_shapes(x.shape, self.batch + x.shape[x.ndim - self.e:])
        x = np.broadcast_to(x, full)
        s = full[:len(full) - len(self.batch) - self.e]
        out = np.empty(s + self.batch)
        for b in np.ndindex(self.batch):
            xb = x[(Ellipsis,) + b + (slice(None),) * self.e]
            out[(Ellipsis,) + b] = np.reshape(self.one(b)[0](xb), s)
        return out

    def _stack(self, i):
        return np.stack([self.one(b)[i]() for b in np.ndindex(self.batch)]).reshape(
            self.batch + np.shape(self.one((0,) * len(self.batch))[i]()))

    def mean(self):
        return self._stack(1)

    def var(self):
        return self._stack(2)


def _member(a, b, batch, core):
    """Parameter a (batch axes, then `core` event axes) at batch index b."""
    a = np.asarray(a, float)
    return np.broadcast_to(a, batch + a.shape[a.ndim - core:])[b]


def _mvn(p):
    k = np.shape(next(p[n] for n in ("covariance_matrix", "precision_matrix", "scale_tril")
                      if n in p))[-1]
    loc = np.broadcast_to(p.get("loc", 0.0), np.shape(p.get("loc", 0.0))[:-1] + (k,))
    name, m = next((n, np.asarray(p[n])) for n in ("covariance_matrix", "precision_matrix",
                                                   "scale_tril") if n in p)
    batch = np.broadcast_shapes(loc.shape[:-1], m.shape[:-2])

    def one(b):
        mb = _member(m, b, batch, 2)
        cov = {"covariance_matrix": mb, "precision_matrix": np.linalg.inv(mb) if
               name == "precision_matrix" else None, "scale_tril": mb @ mb.T}[name]
        fr = stats.multivariate_normal(_member(loc, b, batch, 1), cov)
        return fr.logpdf, lambda: fr.mean, lambda: np.diag(fr.cov)
    return Batched(batch, 1, one)


def _mvt(p):
    L = np.asarray(p["scale_tril"])
    loc = np.asarray(p["loc"])
    batch = np.broadcast_shapes(np.shape(p["df"]), loc.shape[:-1], L.shape[:-2])

    def one(b):
        df, lb = _member(p["df"], b, batch, 0), _member(L, b, batch, 2)
        fr = stats.multivariate_t(_member(loc, b, batch, 1), lb @ lb.T, df=df)
        marg = stats.t(df, fr.loc, np.sqrt(np.diag(fr.shape)))   # the univariate marginals
        return fr.logpdf, marg.mean, marg.var
    return Batched(batch, 1, one)


def _dirichlet(p):
    a = np.asarray(p["concentration"])
    batch = a.shape[:-1]

    def one(b):
        fr = stats.dirichlet(a[b])

        def logpdf(x):
            return fr.logpdf(x.reshape(-1, x.shape[-1]).T)
        return logpdf, fr.mean, fr.var
    return Batched(batch, 1, one)


def lkj_log_density(L, eta):
    """An independent formula for LKJCholesky's log density, one matrix L: the LKJ density of
    C = L L^T, (eta - 1) log det C - log c_D(eta), with NumPyro's multigammaln form of c_D, plus
    log |dC/dL| = sum_j (D - j) log L_jj (1-based j) for the strictly lower entries of L."""
    D = L.shape[-1]
    logdet = np.linalg.slogdet(L @ L.T)[1]
    jac = np.sum((D - np.arange(1, D + 1)) * np.log(np.diag(L)))
    alpha = eta + 0.5 * (D - 1)
    log_c = (0.5 * (D - 1) * math.log(math.pi) + special.multigammaln(alpha - 0.5, D - 1)
             - (D - 1) * special.gammaln(alpha))
    return (eta - 1.0) * logdet + jac - log_c


def _lkj(p):
    eta = np.asarray(p["concentration"], float)
    return Batched(eta.shape, 2, lambda b: (
        lambda x: np.array([lkj_log_density(xi, eta[b]) for xi in x.reshape((-1,) + x.shape[-2:])]),
        None, None))


# ---- value domains: (draw(rng, shape) in the support, points outside it) ----------------------
def vectors(p, k):
    return (lambda rng, shape: 2.0 * rng.standard_normal(shape + (k,)),
            [np.r_[np.inf, np.zeros(k - 1)], np.r_[np.zeros(k - 1), np.nan]])


def simplex(p, k):
    return (lambda rng, shape: rng.dirichlet(np.ones(k), shape),
            [np.r_[1.2, -0.2, np.zeros(k - 2)], np.full(k, 0.5), np.r_[np.nan, np.ones(k - 1)]])


def random_corr_cholesky(rng, shape, k):
    """Cholesky factors of random correlation matrices: rows of a random lower-triangular
    matrix with a positive diagonal, normalised (not the onion sampler under test)."""
    a = np.tril(rng.standard_normal(shape + (k, k)))
    i = np.arange(k)
    a[..., i, i] = np.abs(a[..., i, i]) + 0.3
    return a / np.linalg.norm(a, axis=-1, keepdims=True)


def corr_cholesky(p, k):
    eye = np.eye(k)
    upper = eye.copy()
    upper[0, 1] = 0.1                               # not lower-triangular
    upper[0] /= np.linalg.norm(upper[0])
    long_row = eye.copy()
    long_row[1, 0] = 0.5                            # a row of norm > 1
    neg = np.diag(np.r_[1.0, -1.0, np.ones(k - 2)])  # a negative diagonal
    return (lambda rng, shape: random_corr_cholesky(rng, shape, k),
            [upper, long_row, neg, np.full((k, k), np.nan)])


SAME = "same"


def row(cls, params, ref, domain, grad, moments=SAME, order=1, tag=""):
    return pytest.param(cls, params, ref, domain, grad, params if moments is SAME else moments,
                        order, id=f"{cls.__name__}{tag}")


ROWS = [
    row(M.MultivariateNormal, dict(loc=_R.normal(size=(4, 3)), covariance_matrix=S3), _mvn,
        lambda p: vectors(p, 3), "value", order=2, tag="-cov-batch-loc"),
    row(M.MultivariateNormal, dict(loc=[0.5, -1.0, 2.0], precision_matrix=S3x2), _mvn,
        lambda p: vectors(p, 3), "value", tag="-precision-batch-matrix"),
    row(M.MultivariateNormal, dict(loc=_R.normal(size=(2, 1, 3)), scale_tril=L3x3), _mvn,
        lambda p: vectors(p, 3), "value", order=2, tag="-scale_tril-broadcast"),
    row(M.MultivariateNormal, dict(covariance_matrix=S2), _mvn, lambda p: vectors(p, 2), "value",
        tag="-default-loc"),
    row(M.MultivariateStudentT, dict(df=[2.5, 7.0], loc=[0.5, -1.0, 2.0],
                                     scale_tril=np.linalg.cholesky(S3)), _mvt,
        lambda p: vectors(p, 3), "value",
        moments=dict(df=[9.0, 12.0], loc=[0.5, -1.0, 2.0], scale_tril=np.linalg.cholesky(S3))),
    row(M.Dirichlet, dict(concentration=[[0.5, 2.0, 1.0], [3.0, 0.8, 6.0]]), _dirichlet,
        lambda p: simplex(p, 3), "params", order=2),
    row(M.Dirichlet, dict(concentration=[0.3, 1.0, 4.0, 2.5]), _dirichlet,
        lambda p: simplex(p, 4), "params", tag="-4"),
    row(M.LKJCholesky, dict(dim=3, concentration=[0.5, 1.0, 3.0]), _lkj,
        lambda p: corr_cholesky(p, 3), "params", moments=None),
    row(M.LKJCholesky, dict(dim=4, concentration=2.0), _lkj, lambda p: corr_cholesky(p, 4),
        "params", moments=None, tag="-4"),
]


def _make(cls, params, validate_args=None):
    return lambda **ps: cls(**{**params, **ps}, validate_args=validate_args)


def _floats(params):
    return {n: v for n, v in params.items() if n != "dim"}


def _points(d, domain, rng, k=4):
    draw, _ = domain
    return draw(rng, (k,) + d.batch_shape)


def _outside(d, domain):
    _, out = domain
    return np.stack([np.broadcast_to(o, d.batch_shape + d.event_shape) for o in out])


@pytest.mark.parametrize("cls, params, ref, domain, grad, moments, order", ROWS)
def test_log_prob_matches_reference(cls, params, ref, domain, grad, moments, order):
    d, rng = cls(**params), np.random.default_rng(0)
    x = _points(d, domain(params), rng)
    assert_log_prob_matches(d, ref(params).logpdf, x)
    # one event against the whole batch: broadcasting
    one = x[(0,) * (x.ndim - d.event_dim)]
    assert_log_prob_matches(d, ref(params).logpdf, one)
    assert np.shape(d.log_prob(one)) == d.batch_shape
    assert np.shape(d.log_prob(x)) == (4,) + d.batch_shape


@pytest.mark.parametrize("cls, params, ref, domain, grad, moments, order", ROWS)
def test_outside_support_is_minus_inf_with_zero_gradient(cls, params, ref, domain, grad, moments,
                                                         order):
    d = cls(**params)
    dom = domain(params)
    inside = _points(d, dom, np.random.default_rng(1), k=2)
    assert_minus_inf_outside(_make(cls, {"dim": params["dim"]} if "dim" in params else {}),
                             _floats(params), inside, _outside(d, dom))


@pytest.mark.parametrize("cls, params, ref, domain, grad, moments, order", ROWS)
def test_sample_shape_support_and_moments(cls, params, ref, domain, grad, moments, order):
    rng = np.random.default_rng(2)
    d = cls(**params)
    assert_sample_shape_and_support(d, rng, (5, 2))
    assert_sample_shape_and_support(d, rng, ())
    if moments is not None:
        assert_moments(cls(**moments), rng, n=40_000)


# LKJ has no scipy reference: its moments are checked in test_lkj_moments
@pytest.mark.parametrize("cls, params, ref, domain, grad, moments, order",
                         [r for r in ROWS if r.values[0] is not M.LKJCholesky])
def test_mean_variance_match_reference(cls, params, ref, domain, grad, moments, order):
    d, r = cls(**params), ref(params)
    for got, want in ((d.mean, r.mean()), (d.variance, r.var())):
        assert np.shape(got) == d.batch_shape + d.event_shape
        np.testing.assert_allclose(got, np.broadcast_to(want, np.shape(got)), rtol=1e-10)


@pytest.mark.parametrize("cls, params, ref, domain, grad, moments, order", ROWS)
def test_log_prob_gradients(cls, params, ref, domain, grad, moments, order):
    d, rng = cls(**params), np.random.default_rng(3)
    x = _points(d, domain(params), rng, k=2)
    # validation off: finite differences make matrices slightly asymmetric (the Cholesky reads
    # the symmetric part, as JAX) or lift a scale_tril's upper triangle (never read)
    make = _make(cls, {"dim": params["dim"]} if "dim" in params else {}, validate_args=False)
    if grad == "value":
        assert_log_prob_grads(make, _floats(params), x, order=order)
    else:
        assert_log_prob_param_grads(make, _floats(params), x, order=order)


def test_every_family_is_in_a_table():
    assert {getattr(M, n) for n in M.__all__} <= {r.values[0] for r in ROWS}


# ---- MultivariateNormal -------------------------------------------------------------------------
def test_mvn_parametrisations_agree_with_scipy_cov():
    loc = np.array([0.3, -0.2, 1.0])
    L = np.linalg.cholesky(S3)
    ds = [M.MultivariateNormal(loc, covariance_matrix=S3),
          M.MultivariateNormal(loc, precision_matrix=np.linalg.inv(S3)),
          M.MultivariateNormal(loc, scale_tril=L)]
    fr = stats.multivariate_normal(loc, S3)
    x = np.random.default_rng(4).normal(size=(6, 3))
    for d in ds:
        np.testing.assert_allclose(d.covariance_matrix, fr.cov, rtol=1e-10)
        np.testing.assert_allclose(d.scale_tril, L, rtol=1e-10)
        np.testing.assert_allclose(d.precision_matrix @ fr.cov, np.eye(3), atol=1e-10)
        np.testing.assert_allclose(d.log_prob(x), fr.logpdf(x), rtol=1e-10)


def test_mvn_sample_covariance():
    d = M.MultivariateNormal([1.0, -1.0, 0.0], covariance_matrix=S3)
    n = 40_000
    x = d.sample(np.random.default_rng(5), (n,))
    sd = np.sqrt(np.diag(S3))
    se = np.sqrt((np.outer(sd, sd) ** 2 + S3 ** 2) / n)   # standard error of a sample covariance
    assert np.all(np.abs(np.cov(x.T) - S3) <= 6 * se)


def test_mvn_gradient_in_tensor_scale_tril_and_covariance():
    x = np.random.default_rng(6).normal(size=(5, 3))
    L = np.linalg.cholesky(S3)

    def f(L, x):
        return ad.sum(M.MultivariateNormal(0.0, scale_tril=ad.tril(L)).log_prob(x))
    ad.check_grads(f, (L, x), order=2)

    def g(a, x):   # covariance a a^T + I: positive definite under any perturbation
        cov = ad.matmul(a, ad.transpose(a)) + np.eye(3)
        return ad.sum(M.MultivariateNormal(0.0, covariance_matrix=cov).log_prob(x))
    ad.check_grads(g, (L, x), order=2)


# ---- Dirichlet and LKJCholesky: value gradients through a map onto the manifold -------------
def test_dirichlet_value_gradient_through_softmax():
    a = np.array([[0.5, 2.0, 1.0], [3.0, 0.8, 6.0]])
    y = np.random.default_rng(7).normal(size=(2, 3))

    def f(y, a):
        return ad.sum(M.Dirichlet(a, validate_args=False).log_prob(ad.softmax(y)))
    ad.check_grads(f, (y, a), order=2)


def test_lkj_value_gradient_through_row_normalisation():
    a = random_corr_cholesky(np.random.default_rng(8), (2,), 4) * 2.0

    def f(a, eta):
        b = ad.tril(a)
        L = b / ad.sqrt(ad.sum(b * b, axis=-1, keepdims=True))
        return ad.sum(M.LKJCholesky(4, eta, validate_args=False).log_prob(L))
    ad.check_grads(f, (a, np.array([0.7, 2.5])), order=1)


def test_lkj_dim2_is_a_scaled_beta_and_integrates_to_one():
    """dim 2: L = [[1, 0], [r, sqrt(1 - r^2)]], r the correlation, r ~ 2 Beta(eta, eta) - 1;
    the free coordinate of L is r itself (Jacobian 1)."""
    r = np.linspace(-0.99, 0.99, 13)
    L = np.zeros((13, 2, 2))
    L[:, 0, 0], L[:, 1, 0], L[:, 1, 1] = 1.0, r, np.sqrt(1.0 - r * r)
    for eta in (0.5, 1.0, 2.7):
        d = M.LKJCholesky(2, eta)
        want = stats.beta(eta, eta).logpdf((r + 1.0) / 2.0) - math.log(2.0)
        np.testing.assert_allclose(d.log_prob(L), want, rtol=1e-10)

        def density(r, d=d):
            return math.exp(float(d.log_prob(np.array([[1.0, 0.0], [r, math.sqrt(1 - r * r)]]))))
        total = integrate.quad(density, -1.0, 1.0, epsabs=0.0, epsrel=1e-11, limit=200)[0]
        assert abs(total - 1.0) < 1e-8, (eta, total)


def test_lkj_dim3_integrates_to_one_by_monte_carlo():
    """Uniform points on the box [-1, 1]^3 of (L21, L31, L32); outside the support (row 3 of
    norm > 1) the density is 0. The integral 8 E[p] should be 1 within 5 standard errors."""
    rng = np.random.default_rng(9)
    n = 400_000
    u = rng.uniform(-1.0, 1.0, (n, 3))
    ok = u[:, 1] ** 2 + u[:, 2] ** 2 < 1.0
    u = u[ok]
    L = np.zeros((len(u), 3, 3))
    L[:, 0, 0] = 1.0
    L[:, 1, 0], L[:, 1, 1] = u[:, 0], np.sqrt(1.0 - u[:, 0] ** 2)
    L[:, 2, 0], L[:, 2, 1] = u[:, 1], u[:, 2]
    L[:, 2, 2] = np.sqrt(1.0 - u[:, 1] ** 2 - u[:, 2] ** 2)
    for eta in (1.0, 2.0, 4.0):
        p = np.zeros(n)
        p[ok] = np.exp(M.LKJCholesky(3, eta).log_prob(L))
        est, se = 8.0 * p.mean(), 8.0 * p.std() / math.sqrt(n)
        assert abs(est - 1.0) < 5 * se, (eta, est, se)


def test_lkj_sampler_marginals_are_beta():
    """Under LKJ(eta) in dimension D every correlation is 2 Beta(b, b) - 1, b = eta - 1 + D/2."""
    rng = np.random.default_rng(10)
    for D, eta in ((3, 0.7), (4, 2.0), (5, 1.0)):
        L = M.LKJCholesky(D, eta).sample(rng, (4000,))
        C = L @ np.swapaxes(L, -1, -2)
        np.testing.assert_allclose(np.diagonal(C, axis1=-2, axis2=-1), 1.0, rtol=1e-12)
        b = eta - 1.0 + D / 2.0
        for i, j in ((1, 0), (D - 1, D - 2), (D - 1, 0)):
            p = stats.kstest((C[:, i, j] + 1.0) / 2.0, stats.beta(b, b).cdf).pvalue
            assert p > 1e-3, (D, eta, i, j, p)


def test_lkj_moments():
    rng = np.random.default_rng(11)
    for D, eta in ((3, [0.5, 1.0, 3.0]), (4, 2.0)):
        d = M.LKJCholesky(D, eta)
        assert_moments(d, rng, n=40_000)
        b = np.asarray(eta) - 1.0 + D / 2.0
        # Var L_21 = Var C_21 = Var(2 Beta(b, b) - 1)
        np.testing.assert_allclose(d.variance[..., 1, 0], 4.0 * stats.beta(b, b).var(),
                                   rtol=1e-12)


# ---- construction errors -----------------------------------------------------------------------
@pytest.mark.parametrize("make, names", [
    (lambda: M.MultivariateNormal([0.0, 0.0]),
     ["'covariance_matrix'", "'precision_matrix'", "'scale_tril'"]),
    (lambda: M.MultivariateNormal(0.0, covariance_matrix=S2, scale_tril=np.eye(2)),
     ["'covariance_matrix'", "'scale_tril'"]),
    (lambda: M.MultivariateNormal(0.0, covariance_matrix=[[1.0, 2.0], [2.0, 1.0]]),
     ["'covariance_matrix'", "2"]),
    (lambda: M.MultivariateNormal(0.0, precision_matrix=-np.eye(2)), ["'precision_matrix'"]),
    (lambda: M.MultivariateNormal(0.0, scale_tril=np.diag([1.0, -3.0])), ["'scale_tril'", "-3"]),
    (lambda: M.MultivariateNormal(0.0, scale_tril=[[1.0, 0.5], [0.0, 1.0]]), ["'scale_tril'"]),
    (lambda: M.MultivariateNormal(np.zeros(4), covariance_matrix=S3), ["'loc'", "(4,)"]),
    (lambda: M.MultivariateNormal([np.nan, 0.0], covariance_matrix=S2), ["'loc'", "nan"]),
    (lambda: M.MultivariateNormal(0.0, covariance_matrix=np.ones((3, 2))),
     ["'covariance_matrix'", "square"]),
    (lambda: M.MultivariateNormal(np.zeros((3, 2)), covariance_matrix=_spd(2, 4)),
     ["'loc'", "'covariance_matrix'"]),
    (lambda: M.MultivariateStudentT(-1.0, 0.0, np.eye(2)), ["'df'", "-1"]),
    (lambda: M.Dirichlet([1.0, -1.0]), ["'concentration'", "-1"]),
    (lambda: M.Dirichlet(2.0), ["'concentration'", "scalar"]),
    (lambda: M.LKJCholesky(1), ["'dim'", "1"]),
    (lambda: M.LKJCholesky(2.5), ["'dim'", "2.5"]),
    (lambda: M.LKJCholesky(3, -1.0), ["'concentration'", "-1"]),
])
def test_invalid_parameters_raise_naming_parameter_and_value(make, names):
    with pytest.raises(ValueError) as e:
        make()
    for n in names:
        assert n in str(e.value), (n, str(e.value))
