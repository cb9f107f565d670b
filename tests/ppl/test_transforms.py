"""Bijectors, table-driven: every row is checked for the round trip, the support, shapes,
log|det J| against the engine's own Jacobian between the free coordinates, derivatives to
2nd order, float32 and extreme inputs. A new transform is one row in CASES.

Registry, Tensor bounds and independent references (numpy, Stan's formulas) are in
test_transforms_registry.py.
"""
import numpy as np
import pytest

import autodiff as ad
from ppl import constraints as C
from ppl.transforms import (AffineTransform, CholeskyProductTransform, ComposeTransform,
                            CorrCholeskyTransform, ExpTransform, IdentityTransform,
                            IndependentTransform, IntervalTransform, LowerBoundTransform,
                            LowerCholeskyTransform, OrderedTransform, PositiveDefiniteTransform,
                            PositiveOrderedTransform, SigmoidTransform, SoftplusTransform,
                            StickBreakingTransform, UpperBoundTransform, biject_to)


# ---- the table ---------------------------------------------------------------------------------
def _normal(rng, shape):
    return 1.2 * rng.normal(size=shape)


def _positive(rng, shape):
    return np.exp(rng.normal(size=shape))


# id -> (make the transform, unconstrained event shape, draw of the input, (largest |x| whose
# forward value is representable, largest |x| whose value the inverse maps back without NaN)).
# Past the second limit several simplex / correlation entries underflow to exactly 0 and x is
# no longer determined by y; PD's L L^T squares e^x, and its inverse (a Cholesky factorisation)
# fails once the diagonal spans e^-50 .. 50^2.
FULL, FIFTY = (700, 700), (700, 50)
CASES = {
    "identity": (IdentityTransform, (), _normal, FULL),
    "real_vector": (lambda: biject_to(C.real_vector), (3,), _normal, FULL),
    "exp": (ExpTransform, (), _normal, FULL),
    "softplus": (SoftplusTransform, (), _normal, FULL),
    "affine": (lambda: AffineTransform(0.5, -2.0), (), _normal, FULL),
    "sigmoid": (SigmoidTransform, (), _normal, FULL),
    "interval": (lambda: IntervalTransform(-1.0, 3.0), (), _normal, FULL),
    "lower_bound": (lambda: LowerBoundTransform(1.5), (), _normal, FULL),
    "upper_bound": (lambda: UpperBoundTransform(-2.0), (), _normal, FULL),
    "stick_breaking_K2": (StickBreakingTransform, (1,), _normal, FULL),
    "stick_breaking_K4": (StickBreakingTransform, (3,), _normal, FIFTY),
    "ordered": (OrderedTransform, (4,), _normal, FULL),
    "positive_ordered": (PositiveOrderedTransform, (4,), _normal, FULL),
    "corr_cholesky_K2": (CorrCholeskyTransform, (1,), _normal, FULL),
    "corr_cholesky_K3": (CorrCholeskyTransform, (3,), _normal, FIFTY),
    "corr_cholesky_K4": (CorrCholeskyTransform, (6,), _normal, FIFTY),
    "lower_cholesky_K3": (LowerCholeskyTransform, (6,), _normal, FULL),
    "positive_definite_K3": (PositiveDefiniteTransform, (6,), _normal, (50, 0)),
    "compose_affine_exp": (lambda: ComposeTransform([AffineTransform(1.0, 0.5), ExpTransform()]),
                           (), _normal, FULL),
    "compose_affine_stick": (
        lambda: ComposeTransform([AffineTransform(0.5, 2.0), StickBreakingTransform()]),
        (3,), _normal, FIFTY),
    "compose_cholesky_product": (
        lambda: ComposeTransform([LowerCholeskyTransform(), CholeskyProductTransform()]),
        (3,), _normal, (50, 0)),
    "independent_exp": (lambda: IndependentTransform(ExpTransform(), 1), (3,), _normal, FULL),
    "independent_interval": (lambda: biject_to(C.independent(C.interval(0.0, 2.0), 1)), (2,),
                             _normal, FULL),
    "exp_inverse": (lambda: ExpTransform().inv, (), _positive, (0, 0)),
    "sigmoid_inverse": (lambda: SigmoidTransform().inv, (),
                        lambda rng, shape: rng.uniform(0.05, 0.95, size=shape), (0, 0)),
}
IDS = list(CASES)
BATCHES = [(), (3,)]


def _make(case):
    make, event, draw, _ = CASES[case]
    return make(), event, draw


def _base(c):
    while isinstance(c, type(C.independent(C.real, 1))):
        c = c.base
    return c


def free_coords(t, y):
    """The free coordinates of the constrained value y, per event, as a flat last axis."""
    c = _base(t.codomain)
    if isinstance(c, type(C.simplex)):
        return y[..., :-1]
    if isinstance(c, (type(C.lower_cholesky), type(C.positive_definite))):
        K = np.shape(ad.getval(y))[-1]
        strict = isinstance(c, type(C.corr_cholesky))
        rows, cols = np.tril_indices(K, -1 if strict else 0)
        return y[..., rows, cols]
    return y


def draw_codomain(c, shape, rng):
    """A point of constraint c of the given (constrained) shape, drawn without any bijector."""
    c, n = _base(c), c.event_dim - _base(c).event_dim
    kind = type(c)
    if kind is type(C.real) or kind is type(C.real_vector):
        return rng.normal(size=shape)
    if kind in (type(C.positive), type(C.nonnegative)):
        return rng.exponential(size=shape) + 0.05
    if kind is type(C.unit_interval):
        return rng.uniform(0.02, 0.98, size=shape)
    if kind is type(C.interval(0, 1)):
        lo, hi = c.lower_bound, c.upper_bound
        return lo + (hi - lo) * rng.uniform(0.02, 0.98, size=shape)
    if kind is type(C.greater_than(0)):
        return c.lower_bound + rng.exponential(size=shape) + 0.05
    if kind is type(C.less_than(0)):
        return c.upper_bound - rng.exponential(size=shape) - 0.05
    if kind is type(C.simplex):
        return rng.dirichlet(np.full(shape[-1], 2.0), size=shape[:-1])
    if kind is type(C.ordered):
        return np.sort(rng.normal(size=shape), axis=-1) + np.arange(shape[-1]) * 0.1
    if kind is type(C.positive_ordered):
        return np.cumsum(rng.exponential(size=shape) + 0.05, axis=-1)
    K = shape[-1]
    a = rng.normal(size=shape[:-2] + (K, K + 2))
    cov = a @ np.swapaxes(a, -1, -2) + 0.5 * np.eye(K)
    if kind is type(C.positive_definite):
        return cov
    if kind is type(C.corr_cholesky):
        sd = np.sqrt(np.diagonal(cov, axis1=-2, axis2=-1))
        return np.linalg.cholesky(cov / (sd[..., :, None] * sd[..., None, :]))
    if kind is type(C.lower_cholesky):
        return np.linalg.cholesky(cov)
    raise AssertionError(f"draw_codomain: add a sampler for {c!r} (event dims {n})")


# ---- checks ------------------------------------------------------------------------------------
@pytest.mark.parametrize("batch", BATCHES, ids=str)
@pytest.mark.parametrize("case", IDS)
def test_round_trip_support_and_shapes(case, batch):
    t, event, draw = _make(case)
    rng = np.random.default_rng(0)
    x = draw(rng, batch + event)
    y = t(x)
    assert np.shape(y) == t.forward_shape(x.shape)
    assert t.inverse_shape(np.shape(y)) == x.shape
    ok = t.codomain.check(y)
    assert ok.shape == batch and np.all(ok), (t.codomain, y)
    assert t.domain.check(x).shape == batch
    np.testing.assert_allclose(t.inv(y), x, rtol=1e-9, atol=1e-9)
    ladj = t.log_abs_det_jacobian(x, y)
    assert np.shape(ladj) == batch
    assert t.inv.log_abs_det_jacobian(y, x).shape == batch
    np.testing.assert_allclose(t.inv.log_abs_det_jacobian(y, x), -ladj)


@pytest.mark.parametrize("case", IDS)
def test_forward_of_inverse_on_the_codomain(case):
    t, event, draw = _make(case)
    rng = np.random.default_rng(1)
    shape = t.forward_shape((3,) + event)
    y = draw_codomain(t.codomain, shape, rng)
    x = t.inv(y)
    assert np.shape(x) == (3,) + event and np.all(np.isfinite(x))
    np.testing.assert_allclose(t(x), y, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("batch", BATCHES, ids=str)
@pytest.mark.parametrize("case", IDS)
def test_log_abs_det_jacobian_is_slogdet_of_engine_jacobian(case, batch):
    t, event, draw = _make(case)
    x = draw(np.random.default_rng(2), batch + event)
    ladj = np.asarray(t.log_abs_det_jacobian(x, t(x)))
    for b in np.ndindex(*batch):
        J = ad.jacfwd(lambda e: free_coords(t, t(e)))(x[b])
        n = int(np.prod(event, dtype=int))
        J = np.asarray(J).reshape(-1, n)
        assert J.shape == (n, n), f"{n} free inputs but {J.shape[0]} free outputs"
        sign, logdet = np.linalg.slogdet(J)
        assert sign != 0
        np.testing.assert_allclose(ladj[b], logdet, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("batch", BATCHES, ids=str)
@pytest.mark.parametrize("case", IDS)
def test_grads_to_second_order(case, batch):
    t, event, draw = _make(case)
    x = draw(np.random.default_rng(3), batch + event)
    ad.check_grads(lambda x: ad.sum(t.log_abs_det_jacobian(x, t(x))) + ad.sum(t(x)), (x,),
                   order=2)


@pytest.mark.parametrize("case", IDS)
def test_inverse_grads_to_second_order(case):
    t, event, _ = _make(case)
    y = draw_codomain(t.codomain, t.forward_shape((2,) + event), np.random.default_rng(4))
    sym = isinstance(_base(t.codomain), type(C.positive_definite))
    # a Cholesky factorisation reads one triangle: differentiate along symmetric matrices only

    def f(y):
        y = 0.5 * (y + ad.swapaxes(y, -1, -2)) if sym else y
        x = t.inv(y)
        return ad.sum(t.inv.log_abs_det_jacobian(y, x)) + ad.sum(x)

    ad.check_grads(f, (y,), order=2)


@pytest.mark.parametrize("case", IDS)
def test_float32_stays_float32(case):
    t, event, draw = _make(case)
    x = draw(np.random.default_rng(5), (2,) + event).astype(np.float32)
    y = t(x)
    assert np.asarray(y).dtype == np.float32
    assert np.asarray(t.log_abs_det_jacobian(x, y)).dtype == np.float32
    assert np.asarray(t.inv(y)).dtype == np.float32
    np.testing.assert_allclose(t.inv(y), x, rtol=2e-3, atol=2e-3)


def _extreme_cases():
    """(case, size) pairs whose domain is the real line and whose forward map is finite at
    |x| = size in float64 (each row states its limit)."""
    out = []
    for case in IDS:
        t, _, _ = _make(case)
        if isinstance(_base(t.domain), (type(C.real), type(C.real_vector))):
            out += [(case, size) for size in (50.0, 700.0) if size <= CASES[case][3][0]]
    return out


@pytest.mark.parametrize("case, size", _extreme_cases())
def test_extreme_inputs_stay_finite(case, size):
    t, event, _ = _make(case)
    inv_limit = CASES[case][3][1]
    pattern = np.array([1.0, -1.0, 1.0, 1.0, -1.0, -1.0])
    n = int(np.prod(event, dtype=int))
    for signs in (np.ones(n), -np.ones(n), np.resize(pattern, n)):
        x = size * signs.reshape(event)
        with np.errstate(over="ignore", under="ignore"):
            y = t(x)
            ladj = t.log_abs_det_jacobian(x, y)
            g = ad.grad(lambda x: ad.sum(t.log_abs_det_jacobian(x, t(x))))(x)
        assert np.all(np.isfinite(y)), (x, y)
        assert np.all(np.isfinite(ladj)), (x, ladj)
        assert np.all(np.isfinite(g)), (x, g)
        if size <= inv_limit:
            with np.errstate(over="ignore", under="ignore"):
                back = t.inv(y)
            assert not np.any(np.isnan(back)), (x, back)
