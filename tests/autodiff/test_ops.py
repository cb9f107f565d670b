"""Every op's value against numpy/scipy and its derivatives (to second order, forward and reverse)
against finite differences: one table per family, so that a new op is one new row.

A row is (op, f, reference, domain). `domain` is (low, high) for uniform samples, or a sampler
`(rng, shape) -> array` for ops with kinks or ties (see `nonzero`, `distinct`, `avoiding`).
`test_every_op_is_in_a_table` fails when an op is added to ops/ without a row here.
"""
import inspect
import warnings
import zlib

import numpy as np
import pytest
import scipy.special as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import mutually_broadcastable_shapes

import autodiff as ad
from autodiff.core import Primitive, primitive
from autodiff.ops import elementwise, products, reductions, shape
from autodiff.tensor import _raw


# ---- domains ------------------------------------------------------------------------------------
def nonzero(low, high):
    """|x| in [low, high] with a random sign: keeps finite differences off a kink at 0."""
    def sample(rng, shp):
        return rng.uniform(low, high, shp) * rng.choice([-1.0, 1.0], shp)
    return sample


def avoiding(low, high, *kinks):
    """Uniform on [low, high], each value pushed 0.1 to 0.2 away from every kink."""
    def sample(rng, shp):
        x = rng.uniform(low, high, shp)
        for k in kinks:
            x = np.where(np.abs(x - k) < 0.1, x + np.where(x >= k, 0.1, -0.1), x)
        return x
    return sample


def distinct(rng, shp):
    """Values about 3/n apart (no ties for max/min), in random order, in [-1.55, 1.55]."""
    n = int(np.prod(shp, dtype=int))
    x = np.linspace(-1.5, 1.5, max(n, 2))[:n] + rng.uniform(-0.05, 0.05, n)
    return rng.permutation(x).reshape(shp)


def sample(rng, shp, domain):
    if callable(domain):
        return np.asarray(domain(rng, shp), dtype=np.float64)
    return rng.uniform(domain[0], domain[1], shp)


def rng_for(*key):
    """A Generator seeded by the test case, so each case is reproducible on its own."""
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def value_of(y):
    assert isinstance(y, ad.Tensor), f"expected a Tensor, got {type(y).__name__}"
    return y.value


def check_case(f, ref, args, rtol=1e-10, atol=1e-12):
    """(a) f on constant Tensors equals the reference on the arrays; (b) check_grads, order 2."""
    got = value_of(f(*[ad.Tensor(a) for a in args]))
    want = ref(*args)
    assert got.shape == np.shape(want), (got.shape, np.shape(want))
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)
    ad.check_grads(f, args, order=2)


# ---- elementwise: unary -------------------------------------------------------------------------
def _where_ref(x):
    return np.where(x > 0, x * x, np.sin(x))


UNARY = [
    ("negative", ad.negative, np.negative, (-2, 2)),
    ("negative", lambda x: -x, np.negative, (-2, 2)),
    ("exp", ad.exp, np.exp, (-2, 2)),
    ("log", ad.log, np.log, (0.1, 4)),
    ("log1p", ad.log1p, np.log1p, (-0.8, 3)),
    ("expm1", ad.expm1, np.expm1, (-2, 2)),
    ("sqrt", ad.sqrt, np.sqrt, (0.1, 4)),
    ("sin", ad.sin, np.sin, (-3, 3)),
    ("cos", ad.cos, np.cos, (-3, 3)),
    ("tan", ad.tan, np.tan, (-1.2, 1.2)),
    ("tanh", ad.tanh, np.tanh, (-2, 2)),
    ("sigmoid", ad.sigmoid, sp.expit, (-4, 4)),
    ("softplus", ad.softplus, lambda x: np.logaddexp(x, 0.0), (-4, 4)),
    ("log_sigmoid", ad.log_sigmoid, sp.log_expit, (-4, 4)),
    ("absolute", ad.absolute, np.abs, nonzero(0.2, 2)),
    ("abs", ad.abs, np.abs, nonzero(0.2, 2)),
    ("abs", abs, np.abs, nonzero(0.2, 2)),
    ("relu", ad.relu, lambda x: np.maximum(x, 0.0), nonzero(0.2, 2)),
    ("square", ad.square, np.square, (-2, 2)),
    ("reciprocal", ad.reciprocal, np.reciprocal, nonzero(0.3, 2)),
    ("clip", lambda x: ad.clip(x, -0.5, 0.7), lambda x: np.clip(x, -0.5, 0.7),
     avoiding(-1.5, 1.5, -0.5, 0.7)),
    ("clip", lambda x: ad.clip(x, None, 0.7), lambda x: np.minimum(x, 0.7),
     avoiding(-1.5, 1.5, 0.7)),
    ("clip", lambda x: ad.clip(x, -0.5, None), lambda x: np.maximum(x, -0.5),
     avoiding(-1.5, 1.5, -0.5)),
    ("power", lambda x: x ** 3, lambda x: x ** 3, (-2, 2)),
    ("power", lambda x: x ** 0.5, np.sqrt, (0.1, 4)),
    ("power", lambda x: x ** -1.5, lambda x: x ** -1.5, (0.3, 3)),
    ("power", lambda x: 2.0 ** x, lambda x: 2.0 ** x, (-2, 2)),
    ("power", lambda x: ad.power(x, x), lambda x: x ** x, (0.2, 2)),
    ("maximum", lambda x: ad.maximum(x, 0.3), lambda x: np.maximum(x, 0.3), avoiding(-2, 2, 0.3)),
    ("minimum", lambda x: ad.minimum(0.3, x), lambda x: np.minimum(0.3, x), avoiding(-2, 2, 0.3)),
    ("where", lambda x: ad.where(x > 0, x * x, ad.sin(x)), _where_ref, nonzero(0.2, 2)),
    ("astype", lambda x: ad.astype(x, np.float64), lambda x: x, (-2, 2)),
    ("add", lambda x: x + x, lambda x: 2 * x, (-2, 2)),
    ("multiply", lambda x: x * x * x, lambda x: x ** 3, (-2, 2)),
    ("divide", lambda x: ad.sin(x) / x, lambda x: np.sin(x) / x, nonzero(0.3, 2)),
]
UNARY_SHAPES = [(), (3,), (2, 3)]


@pytest.mark.parametrize("shp", UNARY_SHAPES, ids=str)
@pytest.mark.parametrize("op,f,ref,domain", UNARY, ids=[r[0] for r in UNARY])
def test_unary(op, f, ref, domain, shp):
    x = sample(rng_for(op, shp), shp, domain)
    check_case(f, ref, (x,))


# ---- elementwise: binary, with broadcasting -----------------------------------------------------
def _checker(x, y):
    """A fixed condition pattern over the broadcast shape of x and y."""
    shp = np.broadcast_shapes(np.shape(x), np.shape(y))
    return np.indices(shp).sum(axis=0) % 2 == 0 if shp else np.array(True)


BINARY = [  # (op, f, reference, domain of x, domain of y)
    ("add", ad.add, np.add, (-2, 2), (-2, 2)),
    ("add", lambda x, y: x + y, np.add, (-2, 2), (-2, 2)),
    ("subtract", ad.subtract, np.subtract, (-2, 2), (-2, 2)),
    ("subtract", lambda x, y: x - y, np.subtract, (-2, 2), (-2, 2)),
    ("multiply", ad.multiply, np.multiply, (-2, 2), (-2, 2)),
    ("multiply", lambda x, y: x * y, np.multiply, (-2, 2), (-2, 2)),
    ("divide", ad.divide, np.divide, (-2, 2), nonzero(0.5, 2)),
    ("divide", lambda x, y: x / y, np.divide, (-2, 2), nonzero(0.5, 2)),
    ("power", ad.power, np.power, (0.5, 2), (-2, 2)),
    ("power", lambda x, y: x ** y, np.power, (0.5, 2), (-2, 2)),
    # |x| >= 0.2 > |y|: no ties, and both sides win somewhere
    ("maximum", ad.maximum, np.maximum, nonzero(0.2, 2), (-0.1, 0.1)),
    ("maximum", lambda x, y: ad.maximum(y, x), lambda x, y: np.maximum(y, x),
     nonzero(0.2, 2), (-0.1, 0.1)),
    ("minimum", ad.minimum, np.minimum, nonzero(0.2, 2), (-0.1, 0.1)),
    ("where", lambda x, y: ad.where(_checker(x, y), x, y),
     lambda x, y: np.where(_checker(x, y), x, y), (-2, 2), (-2, 2)),
    ("hypot", lambda x, y: ad.sqrt(x * x + y * y), np.hypot, (0.3, 2), (0.3, 2)),
]
BINARY_SHAPES = [((), ()), ((3,), (3,)), ((2, 3), (2, 3)), ((1, 3), (2, 3)), ((2, 3), (1, 3)),
                 ((3, 1), (1, 4)), ((), (2, 3)), ((2, 3), ()), ((2, 3), (3,))]


@pytest.mark.parametrize("shapes", BINARY_SHAPES, ids=str)
@pytest.mark.parametrize("op,f,ref,dx,dy", BINARY, ids=[r[0] for r in BINARY])
def test_binary(op, f, ref, dx, dy, shapes):
    rng = rng_for(op, shapes)
    x, y = sample(rng, shapes[0], dx), sample(rng, shapes[1], dy)
    check_case(f, ref, (x, y))


# ---- reductions ---------------------------------------------------------------------------------
REDUCTIONS = [  # (op, f(x, axis, keepdims), reference, domain)
    ("sum", ad.sum, np.sum, (-2, 2)),
    ("sum", lambda x, axis, keepdims: x.sum(axis=axis, keepdims=keepdims), np.sum, (-2, 2)),
    ("mean", ad.mean, np.mean, (-2, 2)),
    ("max", ad.max, np.max, distinct),
    ("amax", ad.amax, np.amax, distinct),
    ("min", ad.min, np.min, distinct),
    ("amin", ad.amin, np.amin, distinct),
    ("prod", ad.prod, np.prod, nonzero(0.5, 1.5)),
    # numpy, not scipy: sp.logsumexp(0-d, keepdims=True) has shape (1,), numpy's rule says ()
    ("logsumexp", ad.logsumexp,
     lambda x, axis, keepdims: np.log(np.sum(np.exp(x), axis=axis, keepdims=keepdims)), (-3, 3)),
    ("var", ad.var, np.var, (-2, 2)),
    ("var", lambda x, axis, keepdims: ad.var(x, axis=axis, keepdims=keepdims, ddof=1),
     lambda x, axis, keepdims: np.var(x, axis=axis, keepdims=keepdims, ddof=1), (-2, 2)),
    ("std", ad.std, np.std, (-2, 2)),
    ("std", lambda x, axis, keepdims: ad.std(x, axis=axis, keepdims=keepdims, ddof=1),
     lambda x, axis, keepdims: np.std(x, axis=axis, keepdims=keepdims, ddof=1), (-2, 2)),
]
REDUCTION_CASES = ([((2, 3), axis, kd) for axis in (None, 0, 1, -1, (0, 1), (-1, 0))
                    for kd in (False, True)]
                   + [((3,), None, False), ((3,), 0, True), ((2, 1, 3), (0, 2), False)])
# ddof=1 needs two elements along the reduced axes: these only for the ddof=0 rows
SMALL_CASES = [((2, 1, 3), -2, True), ((), None, False), ((), None, True)]


def _reduction_cases():
    for row in REDUCTIONS:
        ddof = "ddof" in inspect.getsource(row[1])
        for shp, axis, kd in REDUCTION_CASES + ([] if ddof else SMALL_CASES):
            yield pytest.param(*row, shp, axis, kd, id=f"{row[0]}-{shp}-axis={axis}-kd={kd}")


@pytest.mark.parametrize("op,f,ref,domain,shp,axis,keepdims", list(_reduction_cases()))
def test_reduction(op, f, ref, domain, shp, axis, keepdims):
    x = sample(rng_for(op, shp, axis, keepdims), shp, domain)
    check_case(lambda x: f(x, axis=axis, keepdims=keepdims),
               lambda x: ref(x, axis=axis, keepdims=keepdims), (x,))


AXIS_OPS = [  # ops with an axis but no keepdims: (op, f(x, axis), reference)
    ("cumsum", ad.cumsum, np.cumsum),
    ("softmax", ad.softmax, sp.softmax),
    ("log_softmax", ad.log_softmax, sp.log_softmax),
]
AXIS_CASES = [((3,), 0), ((3,), -1), ((2, 3), 0), ((2, 3), 1), ((2, 3), -1), ((2, 2, 3), 1)]


def _axis_cases():
    for row in AXIS_OPS:
        for shp, axis in AXIS_CASES + [((2, 3), None), ((), None)]:
            if row[0] != "cumsum" and shp == ():
                continue
            yield pytest.param(*row, shp, axis, id=f"{row[0]}-{shp}-axis={axis}")


@pytest.mark.parametrize("op,f,ref,shp,axis", list(_axis_cases()))
def test_axis_op(op, f, ref, shp, axis):
    x = sample(rng_for(op, shp, axis), shp, (-2, 2))
    check_case(lambda x: f(x, axis=axis), lambda x: ref(x, axis=axis), (x,))


def test_reductions_of_a_0d_array_take_axis_0_and_minus_1():
    """As np.sum: a 0-d array has one axis to name, 0 or -1 (np.mean refuses it; we do not)."""
    x = np.array(1.5)
    for f in (ad.sum, ad.max, ad.min, ad.prod, ad.logsumexp, ad.mean):
        for axis in (0, -1):
            for kd in (False, True):
                out = f(ad.Tensor(x), axis=axis, keepdims=kd)
                assert out.shape == () and float(out) == pytest.approx(1.5)
                assert float(ad.grad(lambda x: f(x, axis=axis, keepdims=kd))(x)) == 1.0
    with pytest.raises(ValueError, match="out of bounds"):
        ad.sum(ad.Tensor(x), axis=1)


def test_prod_with_zeros_is_exact():
    x = np.array([[0.0, 2.0, 3.0], [0.0, 0.0, 5.0]])
    np.testing.assert_array_equal(ad.grad(lambda x: ad.sum(ad.prod(x, axis=1)))(x),
                                  [[6.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    np.testing.assert_array_equal(ad.grad(lambda x: ad.prod(x))(np.array([0.0, 2.0, 3.0])),
                                  [6.0, 0.0, 0.0])
    ad.check_grads(lambda x: ad.prod(x, axis=-1), (x,), order=2)


def test_max_min_ties_share_the_gradient_equally():
    x = np.array([1.0, 3.0, 3.0, -1.0])
    np.testing.assert_allclose(ad.grad(ad.max)(x), [0, 0.5, 0.5, 0])
    np.testing.assert_allclose(ad.grad(ad.min)(-x), [0, 0.5, 0.5, 0])
    m = np.array([[2.0, 2.0, 2.0], [1.0, 0.0, 1.0]])
    np.testing.assert_allclose(ad.grad(lambda m: ad.sum(ad.max(m, axis=1)))(m),
                               [[1 / 3, 1 / 3, 1 / 3], [0.5, 0, 0.5]])
    np.testing.assert_allclose(ad.jacfwd(lambda m: ad.max(m, axis=0))(m)[0],
                               [[1, 0, 0], [0, 0, 0]])
    # forward mode: the tangent of a tie is the mean of the tied tangents
    _, t = ad.jvp(ad.max, (x,), (np.array([0.0, 1.0, 3.0, 5.0]),))
    assert float(t) == pytest.approx(2.0)
    # elementwise maximum/minimum: 1/2 to each side at a tie, in both modes
    a, b = np.array([1.0, 2.0]), np.array([1.0, 0.0])
    np.testing.assert_allclose(ad.grad(lambda a, b: ad.sum(ad.maximum(a, b)), (0, 1))(a, b),
                               [[0.5, 1.0], [0.5, 0.0]])
    np.testing.assert_allclose(ad.grad(lambda a, b: ad.sum(ad.minimum(a, b)), (0, 1))(a, b),
                               [[0.5, 0.0], [0.5, 1.0]])
    np.testing.assert_allclose(ad.jvp(ad.maximum, (a, b), (np.ones(2), np.zeros(2)))[1],
                               [0.5, 1.0])


def test_kink_conventions():
    """relu and abs have gradient 0 at 0; sign is a numpy array (no gradient)."""
    x = np.array([-1.0, 0.0, 2.0])
    np.testing.assert_array_equal(ad.grad(lambda x: ad.sum(ad.relu(x)))(x), [0, 0, 1])
    np.testing.assert_array_equal(ad.grad(lambda x: ad.sum(ad.abs(x)))(x), [-1, 0, 1])
    s = ad.sign(ad.Tensor(x))
    assert isinstance(s, np.ndarray)
    np.testing.assert_array_equal(s, np.sign(x))
    np.testing.assert_array_equal(ad.grad(lambda x: ad.sum(ad.sign(x) * x))(x), np.sign(x))


# ---- shape ops and indexing ---------------------------------------------------------------------
_MASK = np.array([[True, False, True], [False, False, True]])
_IDX = np.array([[2, 0, 2], [1, 1, 0]])


def _take_ref(x, idx, axis):
    return np.take_along_axis(x, idx, axis)


def _scatter_ref(g, idx, shp):
    out = np.zeros(shp)
    np.add.at(out, idx, g)
    return out


SHAPE_OPS = [  # (op, f, reference, input shapes)
    ("reshape", lambda x: ad.reshape(x, (3, 2)), lambda x: x.reshape(3, 2), [(2, 3)]),
    ("reshape", lambda x: ad.reshape(x, (-1,)), lambda x: x.reshape(-1), [(2, 3)]),
    ("reshape", lambda x: x.reshape(1, 1), lambda x: x.reshape(1, 1), [()]),
    ("reshape", lambda x: ad.reshape(x, ()), lambda x: x.reshape(()), [(1, 1)]),
    ("reshape", lambda x: x.reshape(2, -1, 2), lambda x: x.reshape(2, -1, 2), [(2, 3, 2)]),
    ("transpose", ad.transpose, np.transpose, [(2, 3)]),
    ("transpose", lambda x: x.T, lambda x: x.T, [(2, 3, 4)]),
    ("transpose", lambda x: ad.transpose(x, (1, 0, 2)), lambda x: x.transpose(1, 0, 2),
     [(2, 3, 4)]),
    ("transpose", lambda x: ad.transpose(x, (-1, 0, 1)), lambda x: x.transpose(2, 0, 1),
     [(2, 3, 4)]),
    ("transpose", lambda x: x.transpose(2, 0, 1), lambda x: x.transpose(2, 0, 1), [(2, 3, 4)]),
    ("swapaxes", lambda x: ad.swapaxes(x, 0, 2), lambda x: np.swapaxes(x, 0, 2), [(2, 3, 4)]),
    ("swapaxes", lambda x: ad.swapaxes(x, -1, 0), lambda x: np.swapaxes(x, -1, 0), [(2, 3)]),
    ("moveaxis", lambda x: ad.moveaxis(x, 0, -1), lambda x: np.moveaxis(x, 0, -1), [(2, 3, 4)]),
    ("moveaxis", lambda x: ad.moveaxis(x, -1, 0), lambda x: np.moveaxis(x, -1, 0), [(2, 3, 4)]),
    ("moveaxis", lambda x: ad.moveaxis(x, 2, 1), lambda x: np.moveaxis(x, 2, 1), [(2, 3, 4)]),
    ("broadcast_to", lambda x: ad.broadcast_to(x, (2, 3)), lambda x: np.broadcast_to(x, (2, 3)),
     [(3,)]),
    ("broadcast_to", lambda x: ad.broadcast_to(x, (4, 2, 3)),
     lambda x: np.broadcast_to(x, (4, 2, 3)), [(1, 3)]),
    ("broadcast_to", lambda x: ad.broadcast_to(x, (2, 2)), lambda x: np.broadcast_to(x, (2, 2)),
     [()]),
    ("broadcast_to", lambda x: ad.broadcast_to(x, (3, 4)), lambda x: np.broadcast_to(x, (3, 4)),
     [(3, 1)]),
    ("expand", lambda x: ad.expand(x, (2, 3, 2)), lambda x: np.broadcast_to(x, (2, 3, 2)),
     [(3, 1)]),
    ("expand_dims", lambda x: ad.expand_dims(x, 0), lambda x: np.expand_dims(x, 0), [(2, 3)]),
    ("expand_dims", lambda x: ad.expand_dims(x, -1), lambda x: np.expand_dims(x, -1), [(2, 3)]),
    ("expand_dims", lambda x: ad.expand_dims(x, 1), lambda x: np.expand_dims(x, 1), [(2, 3)]),
    ("unsqueeze", lambda x: ad.unsqueeze(x, 0), lambda x: np.expand_dims(x, 0), [()]),
    ("squeeze", ad.squeeze, np.squeeze, [(1, 3, 1)]),
    ("squeeze", lambda x: ad.squeeze(x, 0), lambda x: np.squeeze(x, 0), [(1, 3, 1)]),
    ("squeeze", lambda x: ad.squeeze(x, (0, -1)), lambda x: np.squeeze(x, (0, -1)),
     [(1, 3, 1)]),
    ("concatenate", lambda x, y: ad.concatenate([x, y]), lambda x, y: np.concatenate([x, y]),
     [(2, 3), (1, 3)]),
    ("concatenate", lambda x, y: ad.concatenate((x, y), axis=-1),
     lambda x, y: np.concatenate((x, y), axis=-1), [(2, 3), (2, 2)]),
    ("concatenate", lambda x, y, z: ad.concatenate([x, y, z], axis=1),
     lambda x, y, z: np.concatenate([x, y, z], axis=1), [(2, 1, 2), (2, 2, 2), (2, 1, 2)]),
    ("concatenate", lambda x, y: ad.concatenate([x, np.ones(2), y]),
     lambda x, y: np.concatenate([x, np.ones(2), y]), [(3,), (1,)]),
    ("stack", lambda x, y: ad.stack([x, y]), lambda x, y: np.stack([x, y]), [(3,), (3,)]),
    ("stack", lambda x, y, z: ad.stack([x, y, z], axis=-1),
     lambda x, y, z: np.stack([x, y, z], axis=-1), [(2, 3), (2, 3), (2, 3)]),
    ("stack", lambda x, y: ad.stack([x, y], axis=1), lambda x, y: np.stack([x, y], axis=1),
     [(2, 3), (2, 3)]),
    ("stack", lambda x, y: ad.stack([x, y]), lambda x, y: np.stack([x, y]), [(), ()]),
    ("flip", ad.flip, np.flip, [(2, 3)]),
    ("flip", lambda x: ad.flip(x, 0), lambda x: np.flip(x, 0), [(2, 3)]),
    ("flip", lambda x: ad.flip(x, -1), lambda x: np.flip(x, -1), [(2, 3)]),
    ("flip", lambda x: ad.flip(x, (0, 2)), lambda x: np.flip(x, (0, 2)), [(2, 3, 2)]),
    ("take_along_axis", lambda x: ad.take_along_axis(x, _IDX, 1),
     lambda x: _take_ref(x, _IDX, 1), [(2, 3)]),
    ("take_along_axis", lambda x: ad.take_along_axis(x, _IDX % 2, 0),
     lambda x: _take_ref(x, _IDX % 2, 0), [(2, 3)]),
    ("take_along_axis", lambda x: ad.take_along_axis(x, np.array([[1], [0]]), -1),
     lambda x: _take_ref(x, np.array([[1], [0]]), -1), [(2, 3)]),
    ("take_along_axis", lambda x: ad.take_along_axis(x, np.array([[0, 0]]), 0),
     lambda x: _take_ref(x, np.array([[0, 0]]), 0), [(2, 2)]),
    ("scatter_add", lambda g: ad.scatter_add(g, np.array([0, 2, 0, 0]), (3,)),
     lambda g: _scatter_ref(g, np.array([0, 2, 0, 0]), (3,)), [(4,)]),
    ("scatter_add", lambda g: ad.scatter_add(g, (slice(None), np.array([1, 1])), (2, 3)),
     lambda g: _scatter_ref(g, (slice(None), np.array([1, 1])), (2, 3)), [(2, 2)]),
    ("scatter_add", lambda g: ad.scatter_add(g, (1, slice(None, None, -2)), (2, 3)),
     lambda g: _scatter_ref(g, (1, slice(None, None, -2)), (2, 3)), [(2,)]),
    ("scatter_add", lambda g: ad.scatter_add(g, (0, slice(None), np.array([1, 3, 1])), (2, 2, 4)),
     lambda g: _scatter_ref(g, (0, slice(None), np.array([1, 3, 1])), (2, 2, 4)), [(3, 2)]),
]

GETITEM = [  # index expressions, applied to x of the given shape
    (1, (3,)), (-1, (2, 3)), (slice(1, None), (3,)), (slice(None, None, -1), (3,)),
    (slice(None, None, -2), (2, 5)), ((slice(None), slice(None, None, -2)), (2, 5)),
    ((0, slice(1, None)), (2, 3)), ((1, 2), (2, 3)), (None, ()), (None, (2, 3)),
    ((Ellipsis,), ()), ((Ellipsis, 1), (2, 3, 2)),
    ((slice(None), None, slice(None, None, 2)), (2, 3)),
    ((Ellipsis, None), (2, 3)), ((1, Ellipsis, None, slice(1, 2)), (2, 3, 2)),
    ([0, 0, 2], (3,)), (np.array([[0, 1], [1, 1]]), (3,)), ((slice(None), [2, 0, 2]), (2, 3)),
    (([1, 0, 1], [2, 2, 2]), (2, 3)), ((Ellipsis, [1, 1]), (2, 2, 3)),
    ((0, slice(None), [1, 2, 1]), (2, 3, 4)),  # split advanced indices: numpy moves them first
    (([0, 1], slice(None), [3, 3]), (2, 3, 4)),
    ((np.array([[0], [1]]), slice(1, 3), np.array([0, 2, 2])), (2, 3, 4)),
    (_MASK, (2, 3)), (np.array([True, False, True]), (3,)),
    ((slice(None), [True, False, True]), (2, 3)), ((_MASK, slice(None, None, -1)), (2, 3, 2)),
    ((1, _MASK[0], 0), (2, 3, 2)), ((_MASK[0], slice(None), 0), (3, 2, 2)),
    (np.array(True), ()),
]


@pytest.mark.parametrize("op,f,ref,shapes", SHAPE_OPS, ids=[r[0] for r in SHAPE_OPS])
def test_shape_op(op, f, ref, shapes):
    rng = rng_for(op, shapes)
    check_case(f, ref, tuple(rng.uniform(-2, 2, s) for s in shapes))


@pytest.mark.parametrize("idx,shp", GETITEM, ids=[f"getitem-{i}-{s}" for i, s in GETITEM])
def test_getitem(idx, shp):
    x = rng_for(repr(idx), shp).uniform(-2, 2, shp)
    check_case(lambda x: x[idx], lambda x: x[idx], (x,))
    check_case(lambda x: ad.getitem(x, idx), lambda x: x[idx], (x,))


def test_getitem_repeated_indices_add_up():
    g = ad.grad(lambda x: ad.sum(x[[0, 2, 0, 0]] * np.array([1.0, 2.0, 3.0, 4.0])))(np.zeros(3))
    np.testing.assert_array_equal(g, [8.0, 0.0, 2.0])
    g = ad.grad(lambda x: ad.sum(x[_MASK] * 2.0))(np.zeros((2, 3)))
    np.testing.assert_array_equal(g, 2.0 * _MASK)


def test_getitem_with_index_tensor():
    i = ad.Tensor(np.array([2, 0, 2]))
    g = ad.grad(lambda x: ad.sum(x[i]))(np.arange(3.0))
    np.testing.assert_array_equal(g, [1.0, 0.0, 2.0])


# ---- matrix products ----------------------------------------------------------------------------
PRODUCTS = [  # (op, f, reference, shapes)
    *[("matmul", ad.matmul, np.matmul, s) for s in [
        [(3,), (3,)], [(3,), (3, 4)], [(2, 3), (3,)], [(2, 3), (3, 4)], [(3,), (2, 3, 4)],
        [(2, 2, 3), (3, 4)], [(2, 3, 4), (2, 4, 2)], [(1, 3, 4), (2, 4, 2)], [(2, 3, 4), (4,)],
        [(2, 3), (2, 3, 2)], [(2, 1, 2, 3), (3, 3, 2)], [(1, 1), (1, 1)]]],
    ("matmul", lambda a, b: a @ b, np.matmul, [(2, 3), (3, 2)]),
    ("matmul", lambda a, b: a @ b, np.matmul, [(2, 2, 3), (3,)]),
    *[("dot", ad.dot, np.dot, s) for s in [
        [(3,), (3,)], [(2, 3), (3,)], [(3,), (3, 2)], [(2, 3), (3, 2)], [(), (3,)], [(2, 2), ()]]],
    ("dot", lambda a, b: a.dot(b), np.dot, [(2, 3), (3,)]),
    ("outer", ad.outer, np.outer, [(3,), (2,)]),
    ("outer", ad.outer, np.outer, [(2, 2), (3,)]),
    ("outer", ad.outer, np.outer, [(), (2,)]),
]


@pytest.mark.parametrize("op,f,ref,shapes", PRODUCTS,
                         ids=[f"{r[0]}-{'@'.join(map(str, r[3]))}" for r in PRODUCTS])
def test_product(op, f, ref, shapes):
    rng = rng_for(op, shapes)
    check_case(f, ref, tuple(rng.uniform(-2, 2, s) for s in shapes))


def test_dot_rejects_batched_arrays():
    with pytest.raises(ValueError, match="dot"):
        ad.dot(ad.Tensor(np.ones((2, 2, 2))), ad.Tensor(np.ones((2, 2))))


# ---- every op has a row -------------------------------------------------------------------------
NOT_OPS = {"neg_axes"}  # a helper for axis arguments


def _public_ops(module):
    for name, obj in vars(module).items():
        if name.startswith("_") or name in NOT_OPS:
            continue
        if isinstance(obj, Primitive) or (inspect.isfunction(obj)
                                          and obj.__module__ == module.__name__):
            yield name


def test_every_op_is_in_a_table():
    tabled = {r[0] for r in UNARY + BINARY + REDUCTIONS + AXIS_OPS + SHAPE_OPS + PRODUCTS}
    tabled |= {"getitem", "sign"}  # test_getitem, test_kink_conventions
    ops = {n for m in (elementwise, reductions, shape, products) for n in _public_ops(m)}
    assert ops, "found no ops"
    assert ops <= tabled, f"ops without a row in test_ops.py: {sorted(ops - tabled)}"


# ---- float32 ------------------------------------------------------------------------------------
FLOAT32 = [  # (op, f, shapes, domain)
    ("exp", ad.exp, [(2, 3)], (-2, 2)),
    ("log", ad.log, [(3,)], (0.1, 4)),
    ("sigmoid", ad.sigmoid, [(3,)], (-3, 3)),
    ("softplus", ad.softplus, [(3,)], (-3, 3)),
    ("tanh", ad.tanh, [(2, 3)], (-2, 2)),
    ("sqrt", ad.sqrt, [(3,)], (0.1, 4)),
    ("power", lambda x: x ** 1.5 + 2.0 ** x, [(3,)], (0.1, 2)),
    ("multiply", lambda x, y: x * y + x / y, [(2, 3), (3,)], (0.5, 2)),
    ("maximum", lambda x, y: ad.maximum(x, y), [(2, 3), (2, 3)], (-2, 2)),
    ("clip", lambda x: ad.clip(x, -0.5, 0.7) + ad.relu(x) + ad.maximum(x, 0.3),
     [(2, 3)], avoiding(-2, 2, -0.5, 0, 0.3, 0.7)),
    ("where", lambda x: ad.where(x > 0, x, 2.0 * x), [(3,)], nonzero(0.2, 2)),
    ("matmul", ad.matmul, [(2, 3), (3, 2)], (-2, 2)),
    ("sum", lambda x: ad.sum(x, axis=0), [(2, 3)], (-2, 2)),
    ("mean", lambda x: ad.mean(x) * ad.std(x), [(2, 3)], (-2, 2)),
    ("max", lambda x: ad.max(x, axis=-1), [(2, 3)], distinct),
    ("logsumexp", lambda x: ad.logsumexp(x, axis=1), [(2, 3)], (-3, 3)),
    ("softmax", ad.softmax, [(2, 3)], (-3, 3)),
    ("getitem", lambda x: x[[0, 1, 1], ::-1], [(2, 3)], (-2, 2)),
    ("concatenate", lambda x, y: ad.concatenate([x, y]), [(3,), (2,)], (-2, 2)),
]


@pytest.mark.parametrize("op,f,shapes,domain", FLOAT32, ids=[r[0] for r in FLOAT32])
def test_float32(op, f, shapes, domain):
    rng = rng_for("f32", op)
    xs = [sample(rng, s, domain).astype(np.float32) for s in shapes]
    out = f(*[ad.Tensor(x) for x in xs])
    assert out.dtype == np.float32
    w = rng.standard_normal(out.shape).astype(np.float32)
    loss = lambda *a: ad.sum(f(*a) * w)  # noqa: E731
    argnums = tuple(range(len(xs)))
    g32 = ad.grad(loss, argnums)(*xs)
    g64 = ad.grad(loss, argnums)(*[x.astype(np.float64) for x in xs])
    leaves = [ad.Tensor(x, requires_grad=True) for x in xs]
    loss(*leaves).backward()
    for a, b, leaf in zip(g32, g64, leaves):
        assert a.dtype == np.float32 and leaf.grad.dtype == np.float32
        assert b.dtype == np.float64
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(leaf.grad, b, rtol=1e-4, atol=1e-5)
    ad.check_grads(f, xs, order=1)  # float32 tolerances


def test_astype_roundtrip_keeps_gradient_dtype():
    x = np.array([0.5, 1.5])
    g = ad.grad(lambda x: ad.sum(ad.exp(ad.astype(x, np.float32))))(x)
    assert g.dtype == np.float64
    np.testing.assert_allclose(g, np.exp(x), rtol=1e-6)
    x32 = ad.Tensor(x.astype(np.float32), requires_grad=True)
    y = ad.sum(x32.astype(np.float64) ** 2)
    assert y.dtype == np.float64
    y.backward()
    assert x32.grad.dtype == np.float32
    np.testing.assert_allclose(x32.grad, 2 * x, rtol=1e-6)


# ---- hypothesis: broadcasting binary ops --------------------------------------------------------
def _np_sum_to(g, shp):
    """Independent of the engine's sum_to: sum leading axes, then axes where shp has 1."""
    while g.ndim > len(shp):
        g = g.sum(axis=0)
    for i, n in enumerate(shp):
        if n == 1 and g.shape[i] != 1:
            g = g.sum(axis=i, keepdims=True)
    return g


HYPO_OPS = {  # op: (f, numpy f, d/dx, d/dy, positive base)
    "add": (lambda x, y: x + y, np.add, lambda x, y: 1.0 + 0 * y, lambda x, y: 1.0 + 0 * x),
    "subtract": (lambda x, y: x - y, np.subtract, lambda x, y: 1.0 + 0 * y,
                 lambda x, y: -1.0 + 0 * x),
    "multiply": (ad.multiply, np.multiply, lambda x, y: y + 0 * x, lambda x, y: x + 0 * y),
    "divide": (lambda x, y: x / y, np.divide, lambda x, y: 1 / y + 0 * x, lambda x, y: -x / y**2),
    "maximum": (ad.maximum, np.maximum, lambda x, y: (x > y) * 1.0, lambda x, y: (y > x) * 1.0),
    "power": (lambda x, y: x ** y, np.power, lambda x, y: y * x ** (y - 1),
              lambda x, y: x ** y * np.log(x)),
}


@settings(max_examples=25, deadline=None)
@given(op=st.sampled_from(sorted(HYPO_OPS)),
       shapes=mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3),
       seed=st.integers(0, 2**32 - 1))
def test_broadcasting_binary_ops(op, shapes, seed):
    f, ref, dfdx, dfdy = HYPO_OPS[op]
    sx, sy = shapes.input_shapes
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.5, 2.0, sx) if op == "power" else rng.uniform(-2, 2, sx)
    # |y| >= 0.3 for divide; x and y are never equal (ties have measure zero)
    y = nonzero(0.3, 2.0)(rng, sy)
    out = f(ad.Tensor(x), ad.Tensor(y))
    assert out.shape == shapes.result_shape
    np.testing.assert_allclose(value_of(out), ref(x, y), rtol=1e-12)
    w = rng.standard_normal(shapes.result_shape)
    gx, gy = ad.grad(lambda x, y: ad.sum(f(x, y) * w), (0, 1))(x, y)
    assert gx.shape == sx and gy.shape == sy
    np.testing.assert_allclose(gx, _np_sum_to(w * dfdx(x, y), sx), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(gy, _np_sum_to(w * dfdy(x, y), sy), rtol=1e-10, atol=1e-12)


# ---- numerically stable forms -------------------------------------------------------------------
def _finite_everywhere(f, x):
    """f, its gradient and its Hessian-vector product at x, with numpy errors as exceptions."""
    with np.errstate(over="raise", invalid="raise", divide="raise"), warnings.catch_warnings():
        warnings.simplefilter("error")
        val = value_of(f(ad.Tensor(x)))
        g = ad.grad(lambda x: ad.sum(f(x)))(x)
        hv = ad.hvp(lambda x: ad.sum(f(x)), x, np.ones_like(x))
    for a in (val, g, hv):
        assert np.all(np.isfinite(a)), a
    return val, g, hv


BIG = np.array([-1000.0, 1000.0])


@pytest.mark.parametrize("op,f,value,grad", [
    ("softplus", ad.softplus, [0.0, 1000.0], [0.0, 1.0]),
    ("log_sigmoid", ad.log_sigmoid, [-1000.0, 0.0], [1.0, 0.0]),
    ("sigmoid", ad.sigmoid, [0.0, 1.0], [0.0, 0.0]),
    ("logsumexp", ad.logsumexp, 1000.0, [0.0, 1.0]),
    ("log_softmax", ad.log_softmax, [-2000.0, 0.0], [1.0, -1.0]),
    ("softmax", ad.softmax, [0.0, 1.0], [0.0, 0.0]),
], ids=lambda v: v if isinstance(v, str) else "")
def test_stable_at_plus_minus_1000(op, f, value, grad):
    val, g, _ = _finite_everywhere(f, BIG)
    np.testing.assert_allclose(val, value, atol=1e-12)
    np.testing.assert_allclose(g, grad, atol=1e-12)


def test_logsumexp_and_softmax_at_equal_large_values():
    for c in (-1000.0, 1000.0):
        x = np.full((2, 3), c)
        val, g, _ = _finite_everywhere(lambda x: ad.logsumexp(x, axis=1), x)
        np.testing.assert_allclose(val, c + np.log(3.0))
        np.testing.assert_allclose(g, np.full((2, 3), 1 / 3))
        val, g, _ = _finite_everywhere(lambda x: ad.softmax(x, axis=0), x)
        np.testing.assert_allclose(val, 0.5)
        np.testing.assert_allclose(g, 0.0, atol=1e-12)
        val, _, _ = _finite_everywhere(lambda x: ad.log_softmax(x, axis=-1), x)
        np.testing.assert_allclose(val, -np.log(3.0))


def test_logsumexp_of_minus_inf():
    x = np.array([-np.inf, 0.0])
    assert float(ad.logsumexp(ad.Tensor(x))) == 0.0
    np.testing.assert_array_equal(ad.grad(ad.logsumexp)(x), [0.0, 1.0])
    with np.errstate(divide="ignore"):  # log(0), as numpy
        assert float(ad.logsumexp(ad.Tensor(np.full(2, -np.inf)))) == -np.inf


# ---- numpy operands on the left -----------------------------------------------------------------
def test_numpy_operands_give_tensors_and_gradients():
    X = np.arange(6.0).reshape(2, 3)
    w0 = np.array([0.5, -1.0, 2.0])
    w = ad.Tensor(w0, requires_grad=True)
    cases = [  # (expression in w, numpy value, gradient of its sum)
        (lambda w: X @ w, X @ w0, X.sum(axis=0)),
        (lambda w: np.ones(3) - w, 1 - w0, -np.ones(3)),
        (lambda w: 2.0 ** w, 2.0 ** w0, 2.0 ** w0 * np.log(2.0)),
        (lambda w: np.float64(2) * w, 2 * w0, 2 * np.ones(3)),
        (lambda w: np.float64(3) / w, 3 / w0, -3 / w0 ** 2),
        (lambda w: np.array(2.0) ** w, 2.0 ** w0, 2.0 ** w0 * np.log(2.0)),
        (lambda w: np.ones((2, 3)) * w, np.ones((2, 3)) * w0, 2 * np.ones(3)),
        (lambda w: np.eye(3)[0] + w, np.eye(3)[0] + w0, np.ones(3)),
    ]
    for expr, want, grad in cases:
        w.zero_grad()
        out = expr(w)
        assert isinstance(out, ad.Tensor), type(out)
        np.testing.assert_allclose(out.value, want)
        ad.sum(out).backward()
        np.testing.assert_allclose(w.grad, grad)
        np.testing.assert_allclose(ad.grad(lambda w: ad.sum(expr(w)))(w0), grad)
        ad.check_grads(expr, (w0,), order=2)


# ---- the checker itself -------------------------------------------------------------------------
_off_vjp = primitive("off_vjp", np.exp, vjp=lambda g, ans, x: g * ans * 1.001,
                     jvp=lambda t, ans, x: t * ans, elementwise=True)
_off_jvp = primitive("off_jvp", np.exp, vjp=lambda g, ans, x: g * ans,
                     jvp=lambda t, ans, x: t * ans * 1.001, elementwise=True)
# first derivative right, but written in raw numpy: its own derivative is 0, not -sin
_raw_sin = primitive("raw_sin", np.sin, vjp=lambda g, ans, x: g * np.cos(_raw(x)),
                     jvp=lambda t, ans, x: t * np.cos(_raw(x)), elementwise=True)


def test_checker_accepts_correct_rules():
    x = np.array([0.3, -0.7])
    ad.check_grads(ad.exp, (x,), order=2)
    ad.check_grads(_raw_sin, (x,), order=1)


@pytest.mark.parametrize("prim,modes", [(_off_vjp, ("rev",)), (_off_vjp, ("fwd", "rev")),
                                        (_off_jvp, ("fwd",)), (_off_jvp, ("fwd", "rev"))])
def test_checker_catches_a_rule_off_by_0_1_percent(prim, modes):
    with pytest.raises(AssertionError, match="disagrees with finite differences"):
        ad.check_grads(prim, (np.array([0.3, -0.7]),), order=1, modes=modes)


@pytest.mark.parametrize("modes", [("rev",), ("fwd",)])
def test_checker_catches_a_wrong_second_derivative(modes):
    x = np.array([0.3, -0.7])
    ad.check_grads(_raw_sin, (x,), order=1, modes=modes)
    with pytest.raises(AssertionError, match="disagrees with finite differences"):
        ad.check_grads(_raw_sin, (x,), order=2, modes=modes)
