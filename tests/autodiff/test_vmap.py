"""vmap against a Python loop over the batch, for every op in the gradient tables (helpers.py,
test_linalg_special.py): each argument mapped or not, and at order 2 under composition
(vmap(grad), grad of the sum of a vmap, vmap(hessian), vmap(vmap), vmap(jvp)). Ops whose
forward or derivative rules read values (kinks, ties, masks, sort orders) read them through
`value_op` / `stop_gradient`, per row, so every row is checked at both orders."""
import importlib
import itertools
import pkgutil

import numpy as np
import pytest

import autodiff as ad
from autodiff.core import Primitive

from . import test_linalg_special as tls
from .helpers import BINARY, PRODUCTS, REDUCTIONS, SHAPE_OPS, UNARY, rng_for, sample, val

B = 3


def stacked(rng, shp, domain, mapped):
    return sample(rng, ((B,) if mapped else ()) + shp, domain)


def loop(f, args, mapped):
    rows = [f(*[a[i] if m else a for a, m in zip(args, mapped)]) for i in range(B)]
    return np.stack([val(r) for r in rows])


def check_vmap(f, args, mapped, rtol=1e-12):
    got = ad.vmap(f, in_axes=tuple(0 if m else None for m in mapped))(*args)
    np.testing.assert_allclose(val(got), loop(f, args, mapped), rtol=rtol, atol=1e-12)


def check_vmap_grad(f, args, mapped, rtol=1e-9, argnum=0):
    """vmap(grad) and grad(sum(vmap)) against a loop of grads, in argument `argnum` (when it is
    mapped, for the second)."""
    def g(*a):
        return ad.sum(f(*a))
    axes = tuple(0 if m else None for m in mapped)
    dg = ad.grad(g, argnum)
    got = ad.vmap(dg, in_axes=axes)(*args)
    np.testing.assert_allclose(val(got), loop(dg, args, mapped), rtol=rtol, atol=1e-12)
    if mapped[argnum]:
        def total(x):
            return ad.sum(ad.vmap(g, in_axes=axes)(*args[:argnum], x, *args[argnum + 1:]))
        np.testing.assert_allclose(val(ad.grad(total)(args[argnum])), loop(dg, args, mapped),
                                   rtol=rtol, atol=1e-12)


@pytest.mark.parametrize("shp", [(), (2, 3)], ids=str)
@pytest.mark.parametrize("op,f,ref,domain", UNARY, ids=[r[0] for r in UNARY])
def test_unary(op, f, ref, domain, shp):
    x = stacked(rng_for(op, shp, "vmap"), shp, domain, True)
    check_vmap(f, (x,), (True,))
    check_vmap_grad(f, (x,), (True,))


@pytest.mark.parametrize("mapped", [(True, True), (True, False), (False, True)], ids=str)
@pytest.mark.parametrize("shapes", [((), ()), ((2, 3), (3,)), ((3,), (2, 3))], ids=str)
@pytest.mark.parametrize("op,f,ref,dx,dy", BINARY, ids=[r[0] for r in BINARY])
def test_binary(op, f, ref, dx, dy, shapes, mapped):
    rng = rng_for(op, shapes, mapped, "vmap")
    args = (stacked(rng, shapes[0], dx, mapped[0]), stacked(rng, shapes[1], dy, mapped[1]))
    check_vmap(f, args, mapped)
    check_vmap_grad(f, args, mapped)


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", [None, 0, -1, (0, 1)], ids=str)
@pytest.mark.parametrize("op,f,ref,domain", REDUCTIONS, ids=[r[0] for r in REDUCTIONS])
def test_reductions(op, f, ref, domain, axis, keepdims):
    x = stacked(rng_for(op, axis, keepdims, "vmap"), (2, 3), domain, True)
    check_vmap(lambda x: f(x, axis, keepdims), (x,), (True,))
    check_vmap_grad(lambda x: f(x, axis, keepdims), (x,), (True,))


@pytest.mark.parametrize("op,f,ref,shapes", SHAPE_OPS + PRODUCTS,
                         ids=[r[0] for r in SHAPE_OPS + PRODUCTS])
def test_shape_ops_and_products(op, f, ref, shapes):
    rng = rng_for(op, shapes, "vmap")
    for mapped in itertools.islice(itertools.product([True, False], repeat=len(shapes)), 3):
        if not any(mapped) or (op == "dot" and not mapped[0]):  # ndarray.dot(box): numpy's
            continue
        args = tuple(stacked(rng, s, (-2, 2), m) for s, m in zip(shapes, mapped))
        check_vmap(f, args, mapped)
        check_vmap_grad(f, args, mapped)


SPD = np.array([[2.0, 0.3, 0.1], [0.3, 1.5, -0.2], [0.1, -0.2, 1.0]])
LINALG = [  # (op, f, shapes, domain), the matrices made positive definite inside f
    ("cholesky", lambda a: ad.cholesky(SPD + 0.1 * (a + ad.transpose(a))), [(3, 3)]),
    ("inv", lambda a: ad.inv(SPD + 0.1 * a), [(3, 3)]),
    ("solve", lambda a, b: ad.solve(SPD + 0.1 * a, b), [(3, 3), (3, 2)]),
    ("solve", lambda a, b: ad.solve(SPD + 0.1 * a, b), [(3, 3), (3,)]),
    ("solve_triangular", lambda a, b: ad.solve_triangular(SPD + 0.1 * a, b), [(3, 3), (3, 2)]),
    ("solve_triangular", lambda a, b: ad.solve_triangular(SPD + 0.1 * a, b, lower=False),
     [(3, 3), (3,)]),
    ("logdet", lambda a: ad.logdet(SPD + 0.1 * a), [(3, 3)]),
    ("slogdet", lambda a: ad.slogdet(SPD + 0.1 * a)[1], [(3, 3)]),
    ("diagonal", lambda a: ad.diagonal(a, 1), [(3, 3)]),
    ("trace", ad.trace, [(3, 3)]),
    ("tril", ad.tril, [(3, 3)]),
    ("triu", lambda a: ad.triu(a, 1), [(3, 3)]),
    *[("einsum", lambda *o, s=s: ad.einsum(s, *o), shapes) for s, shapes in tls.EINSUM],
    *[(op, f, [(4,)]) for op, f, _, _ in tls.UNARY],
    *[(op, f, [(3, 1), (4,)]) for op, f, _ in tls.BINARY],
]


@pytest.mark.parametrize("op,f,shapes", LINALG, ids=[r[0] for r in LINALG])
def test_linalg_and_special(op, f, shapes):
    rng = rng_for(op, shapes, "vmap")
    domain = (0.5, 3) if op in {r[0] for r in tls.UNARY + tls.BINARY} else (-1, 1)
    domains = [domain] * len(shapes)
    if op in tls.UNIT_LAST_ARG:
        domains[-1] = (0.1, 0.9)
    argnum = len(shapes) - 1 if op in tls.LAST_ARG_ONLY else 0  # the shape parameters have none
    for mapped in [(True,) * len(shapes), (True,) + (False,) * (len(shapes) - 1),
                   (False,) * (len(shapes) - 1) + (True,)]:
        args = tuple(stacked(rng, s, d, m) for s, d, m in zip(shapes, domains, mapped))
        check_vmap(f, args, mapped, rtol=1e-10)
        check_vmap_grad(f, args, mapped, rtol=1e-8, argnum=argnum)


GENERAL = np.array([[0.3, 1.2, -0.4], [0.8, -0.5, 0.6], [-0.7, 0.2, 0.9]])
DECOMP = [  # (op, f): decompositions, norms, determinants and remainders, each row with its own
    ("det", lambda a: ad.det(GENERAL + a)),  # sign: det changes sign between rows
    ("slogdet", lambda a: ad.slogdet(GENERAL + a)[0] * ad.slogdet(GENERAL + a)[1]),
    ("logdet", lambda a: ad.logdet(SPD + 0.1 * a)),
    ("pinv", lambda a: ad.pinv(GENERAL + a)),
    ("eigh", lambda a: ad.eigh(SPD + 0.1 * (a + ad.transpose(a)))[0]),
    ("svd", lambda a: ad.svd(GENERAL + a)[1]),
    *[("norm", lambda a, o=o: ad.norm(a, o)) for o in (None, 1, np.inf, "fro", "nuc")],
    ("norm", lambda a: ad.norm(a, 0, axis=1) + ad.norm(a, 3, axis=0)),
    ("mod", lambda a: ad.mod(2.0 * a, ad.abs(a[0]) + 0.3) + ad.fmod(3.0 * a, 0.7)),
]


@pytest.mark.parametrize("op,f", DECOMP, ids=[r[0] for r in DECOMP])
def test_decompositions_norms_and_remainders(op, f):
    rng = rng_for(op, "vmap decomp")
    a = rng.uniform(-1, 1, (B, 3, 3))
    a[:, 0, 0] = [-0.5, 0.0, 0.5]  # a zero for norm 0, and different signs
    if op == "det":
        a[1] = -2.0 * GENERAL + 0.1 * a[1]  # det(GENERAL + a) < 0 in one row only
    check_vmap(f, (a,), (True,), rtol=1e-10)
    check_vmap_grad(f, (a,), (True,), rtol=1e-8)


def f2(x):
    return ad.sum(ad.exp(0.3 * x) * ad.sin(x)) + ad.logsumexp(x) * x[0]


def test_order_two_compositions():
    X = np.random.default_rng(0).uniform(-1, 1, (B, 4))
    H = ad.vmap(ad.hessian(f2))(X)
    np.testing.assert_allclose(H, np.stack([ad.hessian(f2)(x) for x in X]), rtol=1e-10)
    np.testing.assert_allclose(ad.hessian(lambda x: ad.sum(ad.vmap(f2)(x)))(X.ravel().reshape(
        B, 4)).reshape(B * 4, B * 4)[:4, :4], ad.hessian(f2)(X[0]), rtol=1e-10)
    V = np.ones_like(X)
    np.testing.assert_allclose(ad.vmap(lambda x, v: ad.hvp(f2, x, v))(X, V),
                               np.stack([ad.hvp(f2, x, v) for x, v in zip(X, V)]), rtol=1e-10)
    np.testing.assert_allclose(ad.vmap(lambda x: ad.jvp(f2, (x,), (np.ones(4),))[1])(X),
                               [ad.jvp(f2, (x,), (np.ones(4),))[1] for x in X], rtol=1e-12)
    XX = np.random.default_rng(1).uniform(-1, 1, (2, B, 4))
    np.testing.assert_allclose(ad.vmap(ad.vmap(ad.grad(f2)))(XX),
                               [[ad.grad(f2)(x) for x in row] for row in XX], rtol=1e-12)
    np.testing.assert_allclose(ad.vmap(ad.vmap(f2), in_axes=1, out_axes=1)(XX.swapaxes(0, 1)),
                               np.swapaxes([[f2(x) for x in row] for row in XX], 0, 1),
                               rtol=1e-12)
    # nested differentiation under vmap: d/dx [x d/dy (x + y)] = 1 per row
    np.testing.assert_allclose(
        ad.vmap(ad.grad(lambda x: x * ad.grad(lambda y: x + y)(1.0)))(np.arange(3.0)), 1.0)


def test_in_axes_out_axes_pytrees_and_errors():
    X = np.arange(12.0).reshape(3, 4)
    out = ad.vmap(lambda d, w: {"s": ad.sum(d["a"] * w), "b": d["b"]},
                  in_axes=(0, None))({"a": X, "b": X[:, 0]}, np.ones(4))
    np.testing.assert_allclose(out["s"], X.sum(1))
    np.testing.assert_allclose(out["b"], X[:, 0])
    np.testing.assert_allclose(ad.vmap(lambda x: x * 2.0, in_axes=1, out_axes=1)(X), 2 * X)
    np.testing.assert_allclose(ad.vmap(lambda x: 5.0)(X), [5.0] * 3)   # unbatched output
    with pytest.raises(ValueError, match="rows"):
        ad.vmap(lambda a, b: a + b)(np.ones(3), np.ones(4))
    with pytest.raises(ValueError, match="no argument is mapped"):
        ad.vmap(lambda a: a, in_axes=None)(np.ones(3))


def test_every_primitive_has_a_batching_rule():
    """The coverage guard: a primitive added without a batching rule fails here."""
    import autodiff.losses
    import autodiff.nn
    import ppl.distributions.kernels
    ops = [importlib.import_module(f"autodiff.ops.{m.name}")
           for m in pkgutil.iter_modules(ad.ops.__path__)]  # every module of ops/, new ones too
    assert {"trig", "layout", "decomp", "bessel", "special", "products"} <= {
        m.__name__.rsplit(".", 1)[1] for m in ops}
    mods = [*ops, autodiff.nn, autodiff.losses, ppl.distributions.kernels]
    prims = {id(p): p for m in mods for p in vars(m).values() if isinstance(p, Primitive)}
    assert len(prims) > 60
    missing = []
    for p in prims.values():
        try:
            p.batch_rule()
        except TypeError:
            missing.append(p.name)
    assert not missing, f"primitives without a batching rule: {missing}"
    bare = Primitive("bare", np.sin)
    with pytest.raises(TypeError, match="no batching rule for `bare`"):
        ad.vmap(lambda x: bare(x))(np.ones(2))


def test_value_reads_per_row():
    """Comparisons, masks, np.* dispatch and np.shape on a vmapped value see one row; a
    Python branch on one, or a numpy function that would read the whole stack, is refused."""
    X = np.array([[-1.0, 2.0, 0.5], [3.0, -0.5, -2.0]])

    def f(x):
        assert np.shape(x) == (3,) and np.ndim(x) == 1 and np.size(x) == 3
        m = (x > 0) & ~(x > 2.5)                  # a boolean box: each row's own mask
        y = np.where(m, np.exp(x), np.sin(x))     # numpy dispatch on boxes
        return ad.sum(y * np.isfinite(x)) + ad.sum(np.sort(x) * np.arange(3.0))

    def ref(x):
        m = (x > 0) & ~(x > 2.5)
        return np.sum(np.where(m, np.exp(x), np.sin(x))) + np.sort(x) @ np.arange(3.0)
    np.testing.assert_allclose(ad.vmap(f)(X), [ref(x) for x in X], rtol=1e-13)
    np.testing.assert_allclose(ad.vmap(ad.grad(f))(X), [ad.grad(f)(x) for x in X], rtol=1e-13)
    with pytest.raises(TypeError, match="branch on a value"):
        ad.vmap(lambda x: x if x[0] > 0 else -x)(X)
    with pytest.raises(TypeError, match="under vmap"):
        ad.vmap(lambda x: float(x[0]))(X)
    with pytest.raises(TypeError, match="whole stack"):
        ad.vmap(lambda x: x[np.argmax(x)])(X)
    with pytest.raises(TypeError, match="index that differs per row"):
        ad.vmap(lambda x: x[ad.argsort(x)])(X)
    with pytest.raises(TypeError, match="index that differs per row"):
        ad.vmap(lambda x: ad.take_along_axis(x, ad.argsort(x), 0))(X)
    # outside vmap comparisons stay numpy booleans, as before
    assert isinstance(ad.Tensor(X) > 0, np.ndarray)
    np.testing.assert_array_equal(ad.stop_gradient(ad.Tensor(X)), X)
