"""biject_to for every constraint in ppl.constraints (a new constraint without a bijector fails
here), errors for discrete and unknown supports, bounds as Tensors that depend on other
parameters, and references that do not use the engine: Stan's stick-breaking and
correlation-Cholesky maps written out in plain numpy, and central finite-difference Jacobians.
"""
import numpy as np
import pytest

import autodiff as ad
from ppl import constraints as C
from ppl import transforms as T
from ppl.transforms import biject_to

from .test_transforms import draw_codomain, free_coords

# every factory in constraints.__all__ needs example arguments here
FACTORY_ARGS = {
    "greater_than": (1.5,), "less_than": (-2.0,), "interval": (0.0, 2.0),
    "integer_interval": (0, 3), "independent": (C.positive, 1),
}
EXPECTED = {
    "real": T.IdentityTransform, "real_vector": T.IdentityTransform,
    "positive": T.ExpTransform, "nonnegative": T.ExpTransform,
    "unit_interval": T.SigmoidTransform, "greater_than": T.LowerBoundTransform,
    "less_than": T.UpperBoundTransform, "interval": T.IntervalTransform,
    "simplex": T.StickBreakingTransform, "ordered": T.OrderedTransform,
    "positive_ordered": T.PositiveOrderedTransform, "corr_cholesky": T.CorrCholeskyTransform,
    "lower_cholesky": T.LowerCholeskyTransform,
    "positive_definite": T.PositiveDefiniteTransform, "independent": T.IndependentTransform,
}
DISCRETE = {"boolean", "nonnegative_integer", "integer_interval"}


def _constraints():
    out = []
    for name in C.__all__:
        obj = getattr(C, name)
        if obj is C.Constraint:
            continue
        if isinstance(obj, type):
            assert name in FACTORY_ARGS, f"add example arguments for constraints.{name}"
            obj = obj(*FACTORY_ARGS[name])
        out.append((name, obj))
    return out


@pytest.mark.parametrize("name,c", _constraints(), ids=[n for n, _ in _constraints()])
def test_biject_to_covers_every_constraint(name, c):
    if name in DISCRETE:
        with pytest.raises(ValueError, match="discrete site cannot be mapped"):
            biject_to(c)
        return
    assert name in EXPECTED, f"no expected bijector listed for constraints.{name}"
    t = biject_to(c)
    assert type(t) is EXPECTED[name], (name, t)
    assert t.event_dim == c.event_dim and t.unconstrained_event_dim <= 1
    # 3 free coordinates fit every vector support: simplex K=4, corr_cholesky K=3, lower K=2
    x = np.random.default_rng(0).normal(size=(2,) + (3,) * t.unconstrained_event_dim)
    y = t(x)
    assert np.all(c.check(y)), (name, y)
    assert np.shape(y) == t.forward_shape(x.shape)
    np.testing.assert_allclose(t.inv(y), x, atol=1e-10)
    assert repr(t)


def test_biject_to_errors_name_the_constraint():
    with pytest.raises(ValueError, match=r"integer_interval\(lower_bound=0.0, upper_bound=3.0\)"):
        biject_to(C.integer_interval(0, 3))
    with pytest.raises(ValueError, match="discrete"):
        biject_to(C.independent(C.boolean, 1))

    class Sphere(C.Constraint):
        event_dim = 1

    with pytest.raises(NotImplementedError, match="no bijector registered for sphere"):
        biject_to(Sphere())


def test_subclasses_choose_their_own_bijector_or_the_parents():
    assert type(biject_to(C.interval(0.0, 1.0))) is T.IntervalTransform
    assert type(biject_to(C.unit_interval)) is T.SigmoidTransform
    t = biject_to(C.independent(C.interval(-1.0, 1.0), 2))
    assert t.event_dim == 2 and t.unconstrained_event_dim == 2
    assert t.log_abs_det_jacobian(np.zeros((4, 2, 3)), t(np.zeros((4, 2, 3)))).shape == (4,)


# ---- bounds as Tensors -------------------------------------------------------------------------
def test_interval_bound_depending_on_another_parameter():
    # Stan's <lower=0, upper=1-alpha>: the gradient flows through the bound into alpha
    x = np.array([-0.7, 0.3, 2.0])

    def f(alpha):
        t = biject_to(C.interval(0.0, 1.0 - alpha))
        y = t(x)
        return ad.sum(y) + ad.sum(t.log_abs_det_jacobian(x, y))

    alpha = np.array(0.25)
    sig = 1.0 / (1.0 + np.exp(-x))
    # d/dalpha [(1 - alpha) sum sigmoid(x) + n log(1 - alpha) + ...] = -sum sigmoid - n / (1-alpha)
    want = -sig.sum() - x.size / (1.0 - alpha)
    np.testing.assert_allclose(ad.grad(f)(alpha), want, rtol=1e-12)
    ad.check_grads(f, (alpha,), order=2)

    a = ad.Tensor(0.25, requires_grad=True)
    t = biject_to(C.interval(0.0, 1.0 - a))
    ad.sum(t(x)).backward()
    np.testing.assert_allclose(a.grad, -sig.sum())


@pytest.mark.parametrize("make,args,y_in", [
    (lambda lo, hi: T.IntervalTransform(lo, hi), (np.array(-1.0), np.array([2.0, 3.0, 4.0])), 0.5),
    (lambda lo, hi: T.LowerBoundTransform(lo + hi), (np.array(-1.0), np.array(0.5)), 1.0),
    (lambda lo, hi: T.UpperBoundTransform(lo * hi), (np.array(-1.0), np.array(0.5)), -2.0),
    (lambda loc, scale: T.AffineTransform(loc, scale), (np.array(0.3), np.array([-2.0, 1.5, 3.0])),
     0.7),
], ids=["interval", "lower_bound", "upper_bound", "affine"])
def test_grads_in_the_parameters(make, args, y_in):
    x = np.array([-1.3, 0.2, 0.9])
    y_in = np.full(3, y_in)  # a fixed point of the codomain: its inverse moves with the bounds

    def f(x, p, q):
        t = make(p, q)
        y = t(x)
        return (ad.sum(y) + ad.sum(t.log_abs_det_jacobian(x, y)) + ad.sum(t.inv(y_in))
                + ad.sum(t.inv.log_abs_det_jacobian(y_in, t.inv(y_in))))

    ad.check_grads(f, (x, *args), order=2)


def test_interval_saturates_on_the_bounds_and_inverts_to_infinity():
    t = T.IntervalTransform(0.1, 0.7)
    y = t(np.array([-800.0, -50.0, 50.0, 800.0]))
    np.testing.assert_array_equal(y, [0.1, 0.1, 0.7, 0.7])
    assert np.all(C.interval(0.1, 0.7).check(y))
    np.testing.assert_array_equal(t.inv(np.array([0.1, 0.7])), [-np.inf, np.inf])
    np.testing.assert_array_equal(T.SigmoidTransform().inv(np.array([0.0, 1.0])),
                                  [-np.inf, np.inf])
    ladj = t.log_abs_det_jacobian(np.array([-800.0, 800.0]), None)
    np.testing.assert_allclose(ladj, np.log(0.6) - 800.0)


# ---- references without the engine ------------------------------------------------------------
def stick_breaking_stan(x):
    """Stan Reference Manual, "Unit simplex": z_k = inv_logit(x_k + log(1 / (K - k))),
    y_k = (1 - sum_{k'<k} y_k') z_k, y_K = 1 - sum_{k<K} y_k,
    log|J| = sum_{k<K} log(z_k (1 - z_k) (1 - sum_{k'<k} y_k'))."""
    K = len(x) + 1
    y, lj = np.zeros(K), 0.0
    for k in range(1, K):
        z = 1.0 / (1.0 + np.exp(-(x[k - 1] + np.log(1.0 / (K - k)))))
        rest = 1.0 - y[:k - 1].sum()
        y[k - 1] = rest * z
        lj += np.log(z * (1 - z) * rest)
    y[K - 1] = 1.0 - y[:K - 1].sum()
    return y, lj


def corr_cholesky_stan(x):
    """Stan Reference Manual, "Cholesky factors of correlation matrices": z = tanh(x) fill the
    strict lower triangle row by row; w_i1 = z_i1, w_ij = z_ij sqrt(1 - sum_{j'<j} w_ij'^2),
    w_ii = sqrt(1 - sum_{j<i} w_ij^2); log|J| = sum_{i>j} log(1 - z_ij^2)
    + 1/2 sum_{i>j} log(1 - sum_{j'<j} w_ij'^2)."""
    K = int(round((1 + np.sqrt(1 + 8 * len(x))) / 2))
    w, lj, pos = np.zeros((K, K)), 0.0, 0
    w[0, 0] = 1.0
    for i in range(1, K):
        for j in range(i):
            z = np.tanh(x[pos])
            pos += 1
            lj += np.log(1 - z * z)
            left = 1.0 - np.sum(w[i, :j] ** 2)
            lj += 0.5 * np.log(left)
            w[i, j] = z * np.sqrt(left)
        w[i, i] = np.sqrt(1.0 - np.sum(w[i, :i] ** 2))
    return w, lj


@pytest.mark.parametrize("t,ref,n", [
    (T.StickBreakingTransform(), stick_breaking_stan, 1),
    (T.StickBreakingTransform(), stick_breaking_stan, 5),
    (T.CorrCholeskyTransform(), corr_cholesky_stan, 1),
    (T.CorrCholeskyTransform(), corr_cholesky_stan, 6),
    (T.CorrCholeskyTransform(), corr_cholesky_stan, 10),
], ids=["simplex2", "simplex6", "corr2", "corr4", "corr5"])
def test_against_stan_reference_in_numpy(t, ref, n):
    rng = np.random.default_rng(7)
    for _ in range(3):
        x = 1.5 * rng.normal(size=n)
        y_ref, lj_ref = ref(x)
        np.testing.assert_allclose(t(x), y_ref, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(t.log_abs_det_jacobian(x, t(x)), lj_ref, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(t(np.zeros(n)), ref(np.zeros(n))[0], atol=1e-15)


def _fd_jacobian(f, x, h=1e-6):
    cols = []
    for i in range(x.size):
        e = np.zeros_like(x)
        e.flat[i] = h
        cols.append((np.asarray(f(x + e)) - np.asarray(f(x - e))).ravel() / (2 * h))
    return np.stack(cols, axis=1)


@pytest.mark.parametrize("t,n", [
    (T.StickBreakingTransform(), 4),
    (T.CorrCholeskyTransform(), 6),
    (T.PositiveDefiniteTransform(), 6),
    (T.LowerCholeskyTransform(), 3),
    (T.IntervalTransform(-2.0, 5.0), 1),
], ids=["simplex", "corr_cholesky", "positive_definite", "lower_cholesky", "interval"])
def test_log_abs_det_jacobian_against_finite_differences(t, n):
    # numpy in, numpy out: the engine's ops compute no derivative here
    x = 0.8 * np.random.default_rng(8).normal(size=n)
    J = _fd_jacobian(lambda e: free_coords(t, t(e)), x)
    sign, logdet = np.linalg.slogdet(J)
    assert sign != 0
    np.testing.assert_allclose(t.log_abs_det_jacobian(x, t(x)), logdet, rtol=1e-7, atol=1e-7)


def test_positive_definite_closed_form_equals_the_chain():
    # Stan's covariance-matrix log|J| = K log 2 + sum_k (K - k + 2) x_kk, against the generic
    # composition LowerCholesky -> L L^T summed part by part
    chain = T.ComposeTransform([T.LowerCholeskyTransform(), T.CholeskyProductTransform()])
    x = np.random.default_rng(9).normal(size=(4, 10))
    np.testing.assert_allclose(T.PositiveDefiniteTransform().log_abs_det_jacobian(x, None),
                               chain.log_abs_det_jacobian(x, chain(x)), rtol=1e-12)


def test_corr_cholesky_inverse_is_accurate_where_tanh_saturates():
    t = T.CorrCholeskyTransform()
    x = np.array([30.0, -25.0, 3.0])
    L = t(x)
    assert np.all(C.corr_cholesky.check(L))
    np.testing.assert_allclose(t.inv(L), x, rtol=1e-9)  # atanh(L / norm) alone would give inf


# ---- the object protocol -----------------------------------------------------------------------
def test_inverse_is_cached_and_reprs_read_well():
    t = T.ExpTransform()
    assert t.inv is t.inv and t.inv.inv is t
    assert t.inv.domain is C.positive and t.inv.codomain is C.real
    assert repr(t.inv) == "ExpTransform().inv"
    assert repr(T.IntervalTransform(0.0, ad.Tensor(2.0))) == \
        "IntervalTransform(lower=0.0, upper=2.0)"
    assert repr(biject_to(C.independent(C.positive, 1))) == \
        "IndependentTransform(ExpTransform(), 1)"
    assert repr(T.ComposeTransform([T.ExpTransform(), T.AffineTransform(1.0, 2.0)])) == \
        "ComposeTransform([ExpTransform(), AffineTransform(loc=1.0, scale=2.0)])"
    assert repr(biject_to(C.real_vector)) == "IdentityTransform(event_dim=1)"


def test_compose_event_dim_bookkeeping():
    t = T.ComposeTransform([T.AffineTransform(0.5, 2.0), T.StickBreakingTransform()])
    assert t.unconstrained_event_dim == 1 and t.event_dim == 1
    assert t.forward_shape((5, 3)) == (5, 4) and t.inverse_shape((5, 4)) == (5, 3)
    t = T.PositiveDefiniteTransform()
    assert (t.unconstrained_event_dim, t.event_dim) == (1, 2)
    assert t.inv.forward_shape((2, 3, 3)) == (2, 6)


@pytest.mark.parametrize("t,shape,match", [
    (T.CorrCholeskyTransform(), (5,), r"K\(K-1\)/2"),
    (T.LowerCholeskyTransform(), (4,), r"K\(K\+1\)/2"),
])
def test_bad_event_sizes_are_named(t, shape, match):
    with pytest.raises(ValueError, match=match):
        t(np.zeros(shape))
    with pytest.raises(ValueError, match=match):
        t.forward_shape(shape)


def test_codomain_draws_cover_the_supports():
    # the sampler used by the table test draws points each constraint accepts
    rng = np.random.default_rng(10)
    for c, shape in [(C.simplex, (3, 4)), (C.corr_cholesky, (2, 3, 3)),
                     (C.positive_definite, (3, 3)), (C.interval(-1.0, 2.0), (5,))]:
        assert np.all(c.check(draw_codomain(c, shape, rng))), c
