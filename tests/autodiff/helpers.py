"""Helpers shared by several test modules in tests/autodiff.

- Functional-API references (`RNG`, `val`, `fd_jacobian`, `is_plain_array`): test_functional.py,
  test_jacobians_hessians.py, test_nesting_and_pytrees.py.
- Tensor leaves (`leaf`): test_tensor*.py.
- Op tables and their checks (test_ops_*.py): every op's value against numpy/scipy and its
  derivatives (to second order, forward and reverse) against finite differences, one table per
  family, so that a new op is one new row. A row is (op, f, reference, domain). `domain` is
  (low, high) for uniform samples, or a sampler `(rng, shape) -> array` for ops with kinks or ties
  (see `nonzero`, `distinct`, `avoiding`). `test_every_op_is_in_a_table` (test_ops_properties.py)
  fails when an op is added to ops/ without a row here (or, for ops/linalg.py and ops/special.py,
  in the tables of test_linalg_special.py). Ops are matched by identity: one row per object, so an
  alias (ad.abs is ad.absolute, ad.amax is ad.max) needs no row of its own; that the aliases are
  the same objects is test_aliases_are_the_same_objects.
"""
import os
import zlib

import numpy as np
import scipy.special as sp

import autodiff as ad
from autodiff import Tensor

class _PerTestRNG:
    """A numpy Generator per test, seeded by the running test's name (pytest's
    PYTEST_CURRENT_TEST, without its phase): a test's data do not depend on which tests ran
    before it. `RNG.standard_normal(3)` etc. call the current test's generator."""

    def __init__(self):
        self._test, self._gen = None, None

    def _current(self):
        test = os.environ.get("PYTEST_CURRENT_TEST", "").rsplit(" (", 1)[0]
        if test != self._test:
            self._test, self._gen = test, rng_for("RNG", test)
        return self._gen

    def __getattr__(self, name):
        return getattr(self._current(), name)


# The functional-API tests' generator (test_functional.py, test_jacobians_hessians.py).
RNG = _PerTestRNG()


# ---- functional API -----------------------------------------------------------------------------
def val(x):
    """The numpy value of x (a Tensor or array), for comparisons."""
    return np.asarray(x.value if isinstance(x, Tensor) else x)


def fd_jacobian(f, x, h=1e-6):
    """Central differences of a map from an array to an array: shape out + x.shape."""
    x = np.asarray(x, dtype=np.float64)
    y0 = val(f(x))
    J = np.zeros(y0.shape + x.shape)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = h
        J[(Ellipsis,) + i] = (val(f(x + e)) - val(f(x - e))) / (2 * h)
    return J


def is_plain_array(x):
    return isinstance(x, np.ndarray) and not isinstance(x, Tensor)


# ---- Tensor API ---------------------------------------------------------------------------------
def leaf(x, dtype=None):
    return Tensor(np.asarray(x, dtype=dtype if dtype is not None else np.float64),
                  requires_grad=True)


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
    ("arcsin", ad.arcsin, np.arcsin, (-0.8, 0.8)),
    ("arccos", ad.arccos, np.arccos, (-0.8, 0.8)),
    ("arctan", ad.arctan, np.arctan, (-3, 3)),
    ("sinh", ad.sinh, np.sinh, (-3, 3)),
    ("cosh", ad.cosh, np.cosh, (-3, 3)),
    ("arcsinh", ad.arcsinh, np.arcsinh, (-3, 3)),
    ("arccosh", ad.arccosh, np.arccosh, (1.2, 4)),
    ("arctanh", ad.arctanh, np.arctanh, (-0.8, 0.8)),
    ("log2", ad.log2, np.log2, (0.1, 4)),
    ("log10", ad.log10, np.log10, (0.1, 4)),
    ("exp2", ad.exp2, np.exp2, (-3, 3)),
]


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
    ("hypot", ad.hypot, np.hypot, nonzero(0.3, 2), (-2, 2)),
    ("arctan2", ad.arctan2, np.arctan2, (-2, 2), (0.3, 2)),  # x > 0: off the branch cut
    ("logaddexp", ad.logaddexp, np.logaddexp, (-3, 3), (-3, 3)),
    ("logaddexp2", ad.logaddexp2, np.logaddexp2, (-3, 3), (-3, 3)),
    # |x/y| in (0.07, 0.88): away from the jumps of floor(x/y) and trunc(x/y)
    ("mod", ad.mod, np.mod, nonzero(0.2, 2.2), nonzero(2.5, 3.0)),
    ("mod", lambda x, y: x % y, np.mod, nonzero(0.2, 2.2), (2.5, 3.0)),
    ("mod", lambda x, y: 5.0 % y + x % 2.5, lambda x, y: 5.0 % y + x % 2.5, (0.2, 2.2),
     (2.1, 2.4)),
    ("fmod", ad.fmod, np.fmod, nonzero(0.2, 2.2), nonzero(2.5, 3.0)),
]


# ---- reductions ---------------------------------------------------------------------------------
REDUCTIONS = [  # (op, f(x, axis, keepdims), reference, domain)
    ("sum", ad.sum, np.sum, (-2, 2)),
    ("sum", lambda x, axis, keepdims: x.sum(axis=axis, keepdims=keepdims), np.sum, (-2, 2)),
    ("mean", ad.mean, np.mean, (-2, 2)),
    ("max", ad.max, np.max, distinct),
    ("min", ad.min, np.min, distinct),
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


# ---- ops with an axis ---------------------------------------------------------------------------
AXIS_OPS = [  # ops with an axis but no keepdims: (op, f(x, axis), reference)
    ("cumsum", ad.cumsum, np.cumsum),
    ("softmax", ad.softmax, sp.softmax),
    ("log_softmax", ad.log_softmax, sp.log_softmax),
]


# ---- shape ops and indexing ---------------------------------------------------------------------
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
    # numpy's array-manipulation vocabulary (ops/layout.py): lists become stacked outputs
    *[(name, lambda *xs, f=f: ad.stack(f(*xs)) if isinstance(f(*xs), list) else f(*xs),
       lambda *xs, g=g: np.stack(g(*xs)) if isinstance(g(*xs), list) else g(*xs), shapes)
      for name, f, g, shapes in [
        ("ravel", ad.ravel, np.ravel, [(2, 3)]),
        ("ravel", lambda x: x.ravel() + x.flatten(), lambda x: 2 * x.ravel(), [(2, 3)]),
        ("squeeze", lambda x: x.squeeze(), lambda x: x.squeeze(), [(1, 3, 1)]),
        ("squeeze", lambda x: x.squeeze(0), lambda x: x.squeeze(0), [(1, 3, 1)]),
        ("atleast_1d", ad.atleast_1d, np.atleast_1d, [()]),
        ("atleast_1d", lambda x, y: ad.atleast_1d(x, y)[1], lambda x, y: np.atleast_1d(x, y)[1],
         [(), (2, 3)]),
        ("atleast_2d", ad.atleast_2d, np.atleast_2d, [(3,)]),
        ("atleast_2d", ad.atleast_2d, np.atleast_2d, [()]),
        ("atleast_3d", ad.atleast_3d, np.atleast_3d, [(3,)]),
        ("atleast_3d", ad.atleast_3d, np.atleast_3d, [(2, 3)]),
        ("atleast_3d", ad.atleast_3d, np.atleast_3d, [()]),
        ("vstack", lambda x, y: ad.vstack([x, y]), lambda x, y: np.vstack([x, y]), [(3,), (2, 3)]),
        ("row_stack", lambda x, y: ad.row_stack((x, y)), lambda x, y: np.vstack((x, y)),
         [(3,), (3,)]),
        ("hstack", lambda x, y: ad.hstack([x, y]), lambda x, y: np.hstack([x, y]), [(3,), (2,)]),
        ("hstack", lambda x, y: ad.hstack([x, y]), lambda x, y: np.hstack([x, y]),
         [(2, 3), (2, 1)]),
        ("dstack", lambda x, y: ad.dstack([x, y]), lambda x, y: np.dstack([x, y]), [(3,), (3,)]),
        ("column_stack", lambda x, y: ad.column_stack([x, y]),
         lambda x, y: np.column_stack([x, y]), [(3,), (3, 2)]),
        ("append", ad.append, np.append, [(2, 2), (3,)]),
        ("append", lambda x, y: ad.append(x, y, axis=1), lambda x, y: np.append(x, y, axis=1),
         [(2, 2), (2, 1)]),
        ("split", lambda x: ad.split(x, 2), lambda x: np.split(x, 2), [(4, 3)]),
        ("split", lambda x: ad.split(x, [1, 2], axis=1)[2],
         lambda x: np.split(x, [1, 2], axis=1)[2], [(2, 4)]),
        ("array_split", lambda x: ad.array_split(x, 3)[0], lambda x: np.array_split(x, 3)[0],
         [(5,)]),
        ("array_split", lambda x: ad.array_split(x, 3)[2], lambda x: np.array_split(x, 3)[2],
         [(5,)]),
        ("hsplit", lambda x: ad.hsplit(x, 2), lambda x: np.hsplit(x, 2), [(3, 4)]),
        ("vsplit", lambda x: ad.vsplit(x, [1])[1], lambda x: np.vsplit(x, [1])[1], [(3, 2)]),
        ("dsplit", lambda x: ad.dsplit(x, 2), lambda x: np.dsplit(x, 2), [(1, 2, 4)]),
        ("flipud", ad.flipud, np.flipud, [(3, 2)]),
        ("fliplr", ad.fliplr, np.fliplr, [(3, 2)]),
        *[("rot90", lambda x, k=k, ax=ax: ad.rot90(x, k, ax),
           lambda x, k=k, ax=ax: np.rot90(x, k, ax), [(2, 3, 4)])
          for k in (1, 2, 3, -1) for ax in ((0, 1), (2, 0))],
        ("tile", lambda x: ad.tile(x, 2), lambda x: np.tile(x, 2), [(3,)]),
        ("tile", lambda x: ad.tile(x, (2, 1, 3)), lambda x: np.tile(x, (2, 1, 3)), [(2, 2)]),
        ("tile", lambda x: ad.tile(x, (2,)), lambda x: np.tile(x, (2,)), [(2, 3)]),
        ("repeat", lambda x: ad.repeat(x, 2), lambda x: np.repeat(x, 2), [(2, 3)]),
        ("repeat", lambda x: ad.repeat(x, [1, 0, 3], axis=1),
         lambda x: np.repeat(x, [1, 0, 3], axis=1), [(2, 3)]),
        ("roll", lambda x: ad.roll(x, 2), lambda x: np.roll(x, 2), [(2, 3)]),
        ("roll", lambda x: ad.roll(x, -1, axis=1), lambda x: np.roll(x, -1, axis=1), [(2, 3)]),
        ("roll", lambda x: ad.roll(x, (1, 2), axis=(0, 1)),
         lambda x: np.roll(x, (1, 2), axis=(0, 1)), [(2, 3)]),
        ("diff", ad.diff, np.diff, [(2, 4)]),
        ("diff", lambda x: ad.diff(x, 2, axis=0), lambda x: np.diff(x, 2, axis=0), [(4, 2)]),
        ("diff", lambda x: ad.diff(x, prepend=0.5, append=x[:1]),
         lambda x: np.diff(x, prepend=0.5, append=x[:1]), [(4,)]),
        *[("pad", lambda x, m=m: ad.pad(x, ((1, 2), (0, 1)), mode=m),
           lambda x, m=m: np.pad(x, ((1, 2), (0, 1)), mode=m), [(2, 3)])
          for m in ("constant", "edge", "reflect", "symmetric", "wrap")],
        ("pad", lambda x: ad.pad(x, 1, constant_values=(0.5, -1.0)),
         lambda x: np.pad(x, 1, constant_values=(0.5, -1.0)), [(2, 3)]),
        ("diag", ad.diag, np.diag, [(3,)]),
        ("diag", lambda x: ad.diag(x, 1), lambda x: np.diag(x, 1), [(3,)]),
        ("diag", lambda x: ad.diag(x, -2), lambda x: np.diag(x, -2), [(3, 4)]),
        ("sort", ad.sort, np.sort, [(2, 4)]),
        ("sort", lambda x: ad.sort(x, axis=0), lambda x: np.sort(x, axis=0), [(3, 2)]),
        ("sort", lambda x: ad.sort(x, axis=None), lambda x: np.sort(x, axis=None), [(2, 3)]),
        ("r_", lambda x, y: ad.r_[x, y, 2.0], lambda x, y: np.r_[x, y, 2.0], [(2,), ()]),
        ("c_", lambda x, y: ad.c_[x, y], lambda x, y: np.c_[x, y], [(3,), (3, 2)]),
    ]],
]


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
    *[("tensordot", lambda a, b, ax=ax: ad.tensordot(a, b, ax),
       lambda a, b, ax=ax: np.tensordot(a, b, ax), s) for ax, s in [
        (2, [(2, 3, 4), (3, 4, 2)]), (1, [(2, 3), (3, 2)]), (0, [(2,), (3,)]),
        (([0, 2], [2, 0]), [(2, 3, 4), (4, 3, 2)]), ((1, 0), [(2, 3), (3,)])]],
    ("inner", ad.inner, np.inner, [(3,), (3,)]),
    ("inner", ad.inner, np.inner, [(2, 3), (4, 3)]),
    ("inner", ad.inner, np.inner, [(), (2, 3)]),
    ("vdot", ad.vdot, np.vdot, [(2, 3), (2, 3)]),
    ("kron", ad.kron, np.kron, [(2, 3), (2, 2)]),
    ("kron", ad.kron, np.kron, [(3,), (2, 2)]),
    ("cross", ad.cross, np.cross, [(3,), (3,)]),
    ("cross", ad.cross, np.cross, [(2, 3), (1, 3)]),
    ("cross", lambda a, b: ad.cross(a, b, axis=0), lambda a, b: np.cross(a, b, axis=0),
     [(3, 2), (3, 2)]),
]
