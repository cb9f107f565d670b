"""Properties across ops: every op has a table row, float32 throughout, broadcasting binary ops
(hypothesis), numerically stable forms, numpy operands on the left, and check_grads itself."""
import inspect
import re
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import mutually_broadcastable_shapes

import autodiff as ad
from autodiff.core import Primitive, primitive
from autodiff.ops import (bessel, decomp, elementwise, layout, linalg, products, reductions,
                          shape, special, trig)
from autodiff import getval

from . import test_linalg_special as linalg_special
from .helpers import (AXIS_OPS, BINARY, PRODUCTS, REDUCTIONS, SHAPE_OPS, UNARY, avoiding, distinct,
                      nonzero, rng_for, sample, value_of)


# ---- every op has a row -------------------------------------------------------------------------
NOT_OPS = {"neg_axes",  # a helper for axis arguments
           "align", "batch_size", "leading", "unbatched_to"}  # batching rules (test_vmap.py)
OP_MODULES = (elementwise, trig, reductions, shape, layout, products, linalg, decomp, special,
              bessel)
# one object under two names, as numpy's (and torch's / scipy's) names expect
ALIASES = [("abs", "absolute"), ("amax", "max"), ("amin", "min"), ("pow", "power"),
           ("concat", "concatenate"), ("expand", "broadcast_to"), ("unsqueeze", "expand_dims"),
           ("gammaln", "lgamma"), ("psi", "digamma"), ("remainder", "mod"),
           ("row_stack", "vstack")]
# aliases made in ops/__init__.py (numpy 2's and scipy's names), not seen by module scans
INIT_ALIASES = [("true_divide", "divide"), ("expit", "sigmoid"), ("asin", "arcsin"),
                ("acos", "arccos"), ("atan", "arctan"), ("atan2", "arctan2"),
                ("asinh", "arcsinh"), ("acosh", "arccosh"), ("atanh", "arctanh")]


def _public_ops(module):
    for name, obj in vars(module).items():
        if name.startswith("_") or name in NOT_OPS:
            continue
        if isinstance(obj, Primitive) or (inspect.isfunction(obj)
                                          and obj.__module__ == module.__name__):
            yield name, obj


def _ops_by_identity():
    """{id(op): (op, its public names)} over OP_MODULES: an alias or a re-export is one op."""
    ops = {}
    for m in OP_MODULES:
        for name, obj in _public_ops(m):
            ops.setdefault(id(obj), (obj, set()))[1].add(name)
    return ops


def test_every_op_is_in_a_table():
    rows = (UNARY + BINARY + REDUCTIONS + AXIS_OPS + SHAPE_OPS + PRODUCTS
            + linalg_special.UNARY + linalg_special.BINARY)
    names = {r[0] for r in rows} | set(linalg_special.DEDICATED)
    names |= {"getitem", "sign"}  # test_ops_shape_and_products.py, test_ops_elementwise.py
    names |= {"argsort"}  # test_ops_shape_and_products.py (an index array: no gradient)
    # rows named after no op (e.g. "hypot", a composite) cover nothing
    tabled = {id(getattr(ad, n)) for n in names if hasattr(ad, n)}
    ops = _ops_by_identity()
    assert len(ops) > 60, f"found only {len(ops)} ops"
    missing = sorted(sorted(ns)[0] for i, (_, ns) in ops.items() if i not in tabled)
    assert not missing, ("ops without a row in helpers.py or test_linalg_special.py: "
                         f"{missing}")


def test_dedicated_linalg_tests_exist_and_call_their_op():
    for op, test in linalg_special.DEDICATED.items():
        fn = getattr(linalg_special, test, None)
        assert inspect.isfunction(fn), f"DEDICATED[{op!r}]: no {test} in test_linalg_special.py"
        assert re.search(rf"\bad\.{op}\(", inspect.getsource(fn)), f"{test} never calls ad.{op}"


def test_aliases_are_the_same_objects():
    for alias, name in ALIASES + INIT_ALIASES:
        assert getattr(ad, alias) is getattr(ad, name), (alias, name)
    # every alias among the ops is listed above (a new one needs a line there, not a row)
    listed = {frozenset(p) for p in ALIASES}
    for _, names in _ops_by_identity().values():
        if len(names) > 1:
            assert frozenset(names) in listed, f"unlisted aliases {sorted(names)}"
    assert ad.max is not ad.min and ad.abs is not ad.sign
    # the builtin abs on a Tensor is the same op: value and gradient (sign) as numpy's
    x = np.array([-1.5, 0.5, 2.0])
    np.testing.assert_array_equal(value_of(abs(ad.Tensor(x))), np.abs(x))
    np.testing.assert_array_equal(ad.grad(lambda x: ad.sum(abs(x)))(x), np.sign(x))


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
        np.testing.assert_allclose(ad.grad(lambda w, expr=expr: ad.sum(expr(w)))(w0), grad)
        ad.check_grads(expr, (w0,), order=2)


# ---- the checker itself -------------------------------------------------------------------------
_off_vjp = primitive("off_vjp", np.exp, vjp=lambda g, ans, x: g * ans * 1.001,
                     jvp=lambda t, ans, x: t * ans, elementwise=True)
_off_jvp = primitive("off_jvp", np.exp, vjp=lambda g, ans, x: g * ans,
                     jvp=lambda t, ans, x: t * ans * 1.001, elementwise=True)
# first derivative right, but written in raw numpy: its own derivative is 0, not -sin
_raw_sin = primitive("raw_sin", np.sin, vjp=lambda g, ans, x: g * np.cos(getval(x)),
                     jvp=lambda t, ans, x: t * np.cos(getval(x)), elementwise=True)


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
