"""Linear algebra and special functions: values against numpy/scipy, derivatives to second order
(forward and reverse, against finite differences), dtypes and error messages."""
import numpy as np
import pytest
import scipy.linalg as sla
import scipy.special as sps
from scipy import stats

import autodiff as ad

RNG = np.random.default_rng(20240601)


def spd(n, *batch, rng=RNG):
    """A well-conditioned symmetric positive definite matrix (or stack of them)."""
    a = rng.standard_normal(batch + (n, n))
    return a @ np.swapaxes(a, -1, -2) + n * np.eye(n)


def lower(n, *batch):
    """A well-conditioned lower-triangular matrix, with garbage above the diagonal."""
    a = RNG.standard_normal(batch + (n, n))
    return a + 3 * np.eye(n) * np.sign(np.diagonal(a, 0, -2, -1))[..., None]


def pos(*shape, lo=0.5, hi=3.0):
    return RNG.uniform(lo, hi, shape)


def check(f, *args):
    ad.check_grads(f, args, order=2, modes=("fwd", "rev"))


# ---- special functions -------------------------------------------------------------------------
# Rows name their op: test_every_op_is_in_a_table (test_ops_properties.py) reads UNARY, BINARY and
# DEDICATED, one row per op object (gammaln is lgamma: no row of its own).
UNARY = [  # (op, f, reference, x)
    ("lgamma", ad.lgamma, sps.gammaln, pos(5)),
    ("digamma", ad.digamma, sps.digamma, pos(5)),
    ("polygamma", lambda x: ad.polygamma(1, x), lambda x: sps.polygamma(1, x), pos(5)),
    ("polygamma", lambda x: ad.polygamma(3, x), lambda x: sps.polygamma(3, x), pos(5)),
    ("erf", ad.erf, sps.erf, RNG.uniform(-2, 2, 5)),
    ("erfc", ad.erfc, sps.erfc, RNG.uniform(-2, 2, 5)),
    ("ndtr", ad.ndtr, sps.ndtr, RNG.uniform(-3, 3, 5)),
    ("log_ndtr", ad.log_ndtr, sps.log_ndtr, np.array([-30.0, -8.0, -1.5, 0.3, 4.0])),
    ("gamma", ad.gamma, sps.gamma, np.array([-1.5, -0.3, 0.4, 1.7, 4.2])),
    ("rgamma", ad.rgamma, sps.rgamma, np.array([-1.5, -0.3, 0.4, 1.7, 4.2])),
    ("multigammaln", lambda x: ad.multigammaln(x, 3), lambda x: np.vectorize(
        lambda a: sps.multigammaln(a, 3))(x), pos(5, lo=1.2, hi=4.0)),
    ("erfinv", ad.erfinv, sps.erfinv, RNG.uniform(-0.9, 0.9, 5)),
    ("erfcinv", ad.erfcinv, sps.erfcinv, RNG.uniform(0.1, 1.9, 5)),
    ("ndtri", ad.ndtri, sps.ndtri, RNG.uniform(0.05, 0.95, 5)),
    ("logit", ad.logit, sps.logit, RNG.uniform(0.05, 0.95, 5)),
    ("j0", ad.j0, sps.j0, RNG.uniform(-6, 6, 5)),
    ("j1", ad.j1, sps.j1, RNG.uniform(-6, 6, 5)),
    ("jn", lambda x: ad.jn(3, x), lambda x: sps.jn(3, x), RNG.uniform(-6, 6, 5)),
    ("y0", ad.y0, sps.y0, pos(5, lo=0.5, hi=6.0)),
    ("y1", ad.y1, sps.y1, pos(5, lo=0.5, hi=6.0)),
    ("yn", lambda x: ad.yn(2, x), lambda x: sps.yn(2, x), pos(5, lo=0.5, hi=6.0)),
    ("i0", ad.i0, sps.i0, RNG.uniform(-3, 3, 5)),
    ("i1", ad.i1, sps.i1, RNG.uniform(-3, 3, 5)),
    ("iv", lambda x: ad.iv(1.5, x), lambda x: sps.iv(1.5, x), pos(5)),
    ("ive", lambda x: ad.ive(2, x), lambda x: sps.ive(2, x), np.array([-3.0, -0.7, 0.4, 2.0, 9.0])),
]


@pytest.mark.parametrize("op, f, ref, x", UNARY, ids=[r[0] for r in UNARY])
def test_unary_special_values_and_derivatives(op, f, ref, x):
    np.testing.assert_allclose(f(x), ref(x), rtol=1e-10, atol=0)
    check(f, x)


BINARY = [  # (op, f, reference)
    ("xlogy", ad.xlogy, sps.xlogy),
    ("xlog1py", ad.xlog1py, sps.xlog1py),
    ("betaln", ad.betaln, sps.betaln),
    ("beta", ad.beta, sps.beta),
    ("gammainc", ad.gammainc, sps.gammainc),
    ("gammaincc", ad.gammaincc, sps.gammaincc),
    ("betainc", lambda a, x: ad.betainc(a, 2.5, x), lambda a, x: sps.betainc(a, 2.5, x)),
    ("gammaincinv", ad.gammaincinv, sps.gammaincinv),
    ("betaincinv", lambda a, q: ad.betaincinv(a, 2.5, q), lambda a, q: sps.betaincinv(a, 2.5, q)),
]


# rows differentiable in their last argument only (no closed-form rule for the shape
# parameters a, b: their VJP and JVP raise), and rows whose last argument lies in (0, 1)
LAST_ARG_ONLY = {"gammainc", "gammaincc", "betainc", "gammaincinv", "betaincinv"}
UNIT_LAST_ARG = {"betainc", "gammaincinv", "betaincinv"}


@pytest.mark.parametrize("op, f, ref", BINARY, ids=[r[0] for r in BINARY])
def test_binary_special_broadcasting(op, f, ref):
    x, y = pos(3, 1), pos(4)
    if op in UNIT_LAST_ARG:
        y = y / 3.5  # x or q in (0, 1)
    out = f(x, y)
    assert out.shape == (3, 4)
    np.testing.assert_allclose(out, ref(x, y), rtol=1e-10, atol=0)
    if op in LAST_ARG_ONLY:  # in x only
        check(lambda y: f(x, y), y)
    else:
        check(f, x, y)


@pytest.mark.parametrize("f, argnum", [(lambda a: ad.gammainc(a, 1.5), 0),
                                       (lambda a: ad.gammaincc(a, 1.5), 0),
                                       (lambda a: ad.betainc(a, 2.0, 0.3), 0),
                                       (lambda b: ad.betainc(2.0, b, 0.3), 1)])
def test_incomplete_gamma_and_beta_refuse_derivatives_in_their_shapes(f, argnum):
    """No closed form for d/da: the rule mechanism's error names the op and the argument."""
    with pytest.raises(TypeError, match=rf"no VJP for `\w+` w.r.t. argument {argnum}"):
        ad.grad(f)(2.0)
    with pytest.raises(TypeError, match=rf"no JVP for `\w+` w.r.t. argument {argnum}"):
        ad.jvp(f, (2.0,), (1.0,))


def test_gammasgn_is_a_plain_array():
    x = np.array([-1.5, -0.5, 2.0])
    s = ad.gammasgn(ad.Tensor(x))
    assert isinstance(s, np.ndarray)
    np.testing.assert_array_equal(s, sps.gammasgn(x))


def test_special_first_derivatives_are_the_textbook_ones():
    x = pos(4)
    np.testing.assert_allclose(ad.grad(lambda x: ad.sum(ad.lgamma(x)))(x), sps.digamma(x),
                               rtol=1e-12)
    np.testing.assert_allclose(ad.grad(lambda x: ad.sum(ad.digamma(x)))(x),
                               sps.polygamma(1, x), rtol=1e-12)
    np.testing.assert_allclose(ad.grad(lambda x: ad.sum(ad.polygamma(2, x)))(x),
                               sps.polygamma(3, x), rtol=1e-12)
    np.testing.assert_allclose(ad.grad(lambda x: ad.sum(ad.ndtr(x)))(x - 2),
                               stats.norm.pdf(x - 2), rtol=1e-12)
    np.testing.assert_allclose(ad.grad(lambda x: ad.sum(ad.erf(x)))(x - 2),
                               2 / np.sqrt(np.pi) * np.exp(-(x - 2) ** 2), rtol=1e-12)
    a, b = pos(4), pos(4)
    da, db = ad.grad(lambda a, b: ad.sum(ad.betaln(a, b)), argnums=(0, 1))(a, b)
    np.testing.assert_allclose(da, sps.digamma(a) - sps.digamma(a + b), rtol=1e-12)
    np.testing.assert_allclose(db, sps.digamma(b) - sps.digamma(a + b), rtol=1e-12)


def test_log_ndtr_gradient_is_finite_in_the_far_left_tail():
    x = np.array([-40.0, -20.0, -5.0])
    g = ad.grad(lambda x: ad.sum(ad.log_ndtr(x)))(x)
    ref = np.exp(stats.norm.logpdf(x) - sps.log_ndtr(x))  # phi/Phi, both tiny
    np.testing.assert_allclose(g, ref, rtol=1e-10)
    assert np.all(g > -x)  # phi(x)/Phi(x) > -x for x < 0


def test_xlogy_at_zero_is_zero_with_zero_gradients():
    x, y = np.array([0.0, 0.0, 2.0]), np.array([0.0, 3.0, 3.0])
    np.testing.assert_array_equal(ad.xlogy(x, y), [0.0, 0.0, 2 * np.log(3)])
    dx, dy = ad.grad(lambda x, y: ad.sum(ad.xlogy(x, y)), argnums=(0, 1))(x, y)
    np.testing.assert_allclose(dx, [0.0, np.log(3), np.log(3)])
    np.testing.assert_allclose(dy, [0.0, 0.0, 2 / 3])
    # x = 0, y > 0 is a regular point: the second derivatives there are checked too
    check(ad.xlogy, np.array([0.0, 1.5]), np.array([2.0, 0.5]))
    dx1, dy1 = ad.grad(lambda x, y: ad.sum(ad.xlog1py(x, y)), argnums=(0, 1))(
        np.array([0.0]), np.array([-1.0]))
    assert dx1[0] == 0.0 and dy1[0] == 0.0


def test_polygamma_rejects_a_non_integer_order():
    with pytest.raises(ValueError, match="polygamma"):
        ad.polygamma(1.5, 2.0)


# ---- linear algebra ----------------------------------------------------------------------------
DEDICATED = {  # op: the test below that checks it against numpy/scipy (the guard verifies it)
    "einsum": "test_einsum", "cholesky": "test_cholesky",
    "solve_triangular": "test_solve_triangular", "solve": "test_solve", "inv": "test_inv",
    "slogdet": "test_slogdet_and_logdet", "logdet": "test_slogdet_and_logdet",
    "diagonal": "test_diagonal_and_trace", "trace": "test_diagonal_and_trace",
    "tril": "test_tril_triu", "triu": "test_tril_triu",
    "gammasgn": "test_gammasgn_is_a_plain_array",
    "svd": "test_svd", "pinv": "test_pinv", "eigh": "test_eigh", "eigvalsh": "test_eigh",
    "det": "test_det", "norm": "test_norm", "eig": "test_eig_is_refused",
}


# ---- einsum ------------------------------------------------------------------------------------
EINSUM = [
    ("ij,jk->ik", [(2, 3), (3, 4)]),
    ("ij,jk", [(2, 3), (3, 4)]),              # implicit output
    ("ba,Ac", [(2, 3), (2, 2)]),              # implicit, mixed case: numpy's letter order
    ("ij,ij->i", [(1, 3), (2, 3)]),           # a length-1 axis broadcasts
    ("ij,k->k", [(2, 3), (4,)]),              # indices summed within one operand only
    ("i,j->ij", [(3,), (2,)]),
    ("ijk->ki", [(2, 3, 2)]),
    ("ij->", [(2, 3)]),
    ("...ij,jk->...ik", [(2, 2, 3), (3, 2)]),
    ("...i,...i", [(2, 1, 3), (2, 3)]),
    ("ijk,jl,lm->im", [(2, 2, 2), (2, 3), (3, 2)]),
    (",i->i", [(), (3,)]),
]


@pytest.mark.parametrize("subs, shapes", EINSUM, ids=[s for s, _ in EINSUM])
def test_einsum(subs, shapes):
    ops = [RNG.standard_normal(s) for s in shapes]
    out = ad.einsum(subs, *ops)
    ref = np.einsum(subs, *ops)
    assert np.shape(out) == ref.shape
    np.testing.assert_allclose(out, ref, rtol=1e-10, atol=1e-12)
    check(lambda *xs: ad.einsum(subs, *xs), *ops)


@pytest.mark.parametrize("subs, shapes, match", [
    ("ii->i", [(2, 2)], "repeats within operand 0"),
    ("ij->k", [(2, 2)], "not in any input"),
    ("ij,jk->ik", [(2, 3), (4, 5)], "index 'j' has lengths 3 and 4"),
    ("ij,jk->ik", [(2, 3)], "names 2 operands, got 1"),
    ("ij", [(2, 3, 4)], "does not fit operand 0"),
])
def test_einsum_errors(subs, shapes, match):
    with pytest.raises(ValueError, match=match):
        ad.einsum(subs, *[np.ones(s) for s in shapes])


# ---- solves, inverse, determinants -------------------------------------------------------------
def test_cholesky():
    a = spd(3)
    L = ad.cholesky(a)
    np.testing.assert_allclose(L, np.linalg.cholesky(a), rtol=1e-10)
    check(ad.cholesky, a)
    check(ad.cholesky, spd(2, 2))  # batched
    # the gradient is symmetric: a is symmetrised before the factorisation
    w = RNG.standard_normal((3, 3))
    g = ad.grad(lambda a: ad.sum(ad.cholesky(a) * w))(a)
    np.testing.assert_allclose(g, g.T, rtol=1e-12)


def test_cholesky_log_determinant_matches_logdet():
    a = spd(4)
    f = lambda a: 2.0 * ad.sum(ad.log(ad.diagonal(ad.cholesky(a))))  # noqa: E731
    np.testing.assert_allclose(f(a), np.linalg.slogdet(a)[1], rtol=1e-10)
    np.testing.assert_allclose(ad.grad(f)(a), np.linalg.inv(a), rtol=1e-10)
    # cholesky reads the symmetric part of a, so compare with logdet of the symmetric part
    sym_logdet = lambda a: ad.logdet(0.5 * (a + a.T))  # noqa: E731
    np.testing.assert_allclose(ad.hessian(f)(a), ad.hessian(sym_logdet)(a), rtol=1e-8,
                               atol=1e-12)


@pytest.mark.parametrize("low", [True, False])
def test_solve_triangular(low):
    a = lower(3) if low else lower(3).T
    b, v = RNG.standard_normal((3, 2)), RNG.standard_normal(3)
    for rhs in (b, v):
        np.testing.assert_allclose(ad.solve_triangular(a, rhs, lower=low),
                                   sla.solve_triangular(a, rhs, lower=low), rtol=1e-10)
        check(lambda a, b: ad.solve_triangular(a, b, lower=low), a, rhs)
    # only one triangle is read: the other one gets no gradient
    ga = ad.grad(lambda a: ad.sum(ad.solve_triangular(a, b, lower=low)))(a)
    other = np.triu(ga, 1) if low else np.tril(ga, -1)
    assert np.all(other == 0) and np.any(ga != 0)


def test_solve_triangular_batched_and_broadcast():
    a, b = lower(3, 2), RNG.standard_normal((3, 1))
    ref = np.stack([sla.solve_triangular(a[i], b, lower=True) for i in range(2)])
    np.testing.assert_allclose(ad.solve_triangular(a, b), ref, rtol=1e-10)
    check(ad.solve_triangular, a, b)
    check(ad.solve_triangular, lower(2), RNG.standard_normal((2, 2, 1)))


@pytest.mark.parametrize("sa, sb", [((3, 3), (3,)), ((3, 3), (3, 2)), ((2, 2, 2), (2, 1)),
                                    ((2, 2), (3, 2, 1)), ((2, 2, 2), (2,))])
def test_solve(sa, sb):
    a = spd(sa[-1], *sa[:-2]) + 0.3 * RNG.standard_normal(sa)  # not symmetric
    b = RNG.standard_normal(sb)
    out = ad.solve(a, b)
    ref = np.linalg.solve(a, b)
    assert out.shape == ref.shape
    np.testing.assert_allclose(out, ref, rtol=1e-10)
    check(ad.solve, a, b)


def test_inv():
    a = spd(3) + 0.3 * RNG.standard_normal((3, 3))
    np.testing.assert_allclose(ad.inv(a), np.linalg.inv(a), rtol=1e-10)
    check(ad.inv, a)
    check(ad.inv, spd(2, 2))


def test_slogdet_and_logdet():
    a = RNG.standard_normal((3, 3))
    a[0] *= np.sign(np.linalg.det(a)) * -1  # det < 0: the sign is -1, log|det| still works
    sign, logabs = ad.slogdet(a)
    ref_sign, ref_log = np.linalg.slogdet(a)
    assert isinstance(sign, np.ndarray) or np.isscalar(sign)
    assert sign == ref_sign == -1.0
    np.testing.assert_allclose(logabs, ref_log, rtol=1e-10)
    np.testing.assert_allclose(ad.grad(lambda a: ad.slogdet(a)[1])(a), np.linalg.inv(a).T,
                               rtol=1e-10)
    check(lambda a: ad.slogdet(a)[1], a)
    s = spd(3, 2)
    np.testing.assert_allclose(ad.logdet(s), np.linalg.slogdet(s)[1], rtol=1e-10)
    check(ad.logdet, s)


# ---- diagonals and triangles -------------------------------------------------------------------
@pytest.mark.parametrize("offset, axis1, axis2", [(0, -2, -1), (1, 0, 2), (-1, 2, 0), (2, 1, 0)])
def test_diagonal_and_trace(offset, axis1, axis2):
    x = RNG.standard_normal((3, 4, 3))
    np.testing.assert_array_equal(ad.diagonal(x, offset, axis1, axis2),
                                  np.diagonal(x, offset, axis1, axis2))
    np.testing.assert_allclose(ad.trace(x, offset, axis1, axis2),
                               np.trace(x, offset, axis1, axis2), rtol=1e-12)
    check(lambda x: ad.diagonal(x, offset, axis1, axis2) ** 2, x)
    check(lambda x: ad.trace(x, offset, axis1, axis2) ** 2, x)


@pytest.mark.parametrize("k", [-1, 0, 1])
def test_tril_triu(k):
    x = RNG.standard_normal((2, 3, 4))
    np.testing.assert_array_equal(ad.tril(x, k), np.tril(x, k))
    np.testing.assert_array_equal(ad.triu(x, k), np.triu(x, k))
    np.testing.assert_array_equal(ad.grad(lambda x: ad.sum(ad.tril(x, k)))(x),
                                  np.tril(np.ones((3, 4)), k) * np.ones((2, 1, 1)))
    check(lambda x: ad.tril(x, k) ** 2, x)
    check(lambda x: ad.triu(x, k) ** 2, x)


# ---- dtypes and errors -------------------------------------------------------------------------
F32_CASES = [
    (ad.lgamma, (pos(3),)), (ad.digamma, (pos(3),)), (lambda x: ad.polygamma(1, x), (pos(3),)),
    (ad.erf, (pos(3),)), (ad.erfc, (pos(3),)), (ad.ndtr, (pos(3),)), (ad.log_ndtr, (pos(3),)),
    (ad.xlogy, (pos(3), pos(3))), (ad.xlog1py, (pos(3), pos(3))), (ad.betaln, (pos(3), pos(3))),
    (ad.gamma, (pos(3),)), (ad.erfinv, (pos(3) / 4,)), (ad.logit, (pos(3) / 4,)),
    (ad.j1, (pos(3),)),
    (lambda x: ad.multigammaln(x + 1.0, 2), (pos(3),)), (ad.beta, (pos(3), pos(3))),
    (lambda a: ad.svd(a)[1], (pos(3, 2),)), (lambda a: ad.eigh(a)[0], (spd(3),)),
    (ad.det, (spd(3),)), (ad.norm, (pos(3),)),
    (lambda a, b: ad.einsum("ij,jk->ik", a, b), (spd(3), pos(3, 2))),
    (ad.cholesky, (spd(3),)), (ad.solve_triangular, (lower(3), pos(3, 2))),
    (ad.solve, (spd(3), pos(3))), (ad.inv, (spd(3),)), (ad.logdet, (spd(3),)),
    (ad.trace, (spd(3),)), (ad.tril, (spd(3),)), (ad.triu, (spd(3),)),
]


@pytest.mark.parametrize("i", range(len(F32_CASES)))
def test_float32_stays_float32(i):
    f, args = F32_CASES[i]
    args = tuple(a.astype(np.float32) for a in args)
    assert np.asarray(f(*args)).dtype == np.float32
    loss = lambda *a: ad.sum(f(*a))  # noqa: E731
    grads = ad.grad(loss, argnums=tuple(range(len(args))))(*args)
    assert all(np.asarray(g).dtype == np.float32 for g in grads)
    assert np.asarray(ad.jacfwd(f)(*args)).dtype == np.float32
    assert np.asarray(ad.hessian(lambda x: loss(x, *args[1:]))(args[0])).dtype == np.float32
    ad.check_grads(f, args, order=2, modes=("fwd", "rev"))  # float32 tolerances


@pytest.mark.parametrize("f", [ad.cholesky, ad.inv, ad.logdet, lambda a: ad.slogdet(a),
                               lambda a: ad.solve(a, np.ones(3)),
                               lambda a: ad.solve_triangular(a, np.ones(2))])
def test_non_square_matrices_are_rejected(f):
    with pytest.raises(ValueError, match=r"square matrices .* shape \(2, 3\)"):
        f(np.ones((2, 3)))


def test_solve_shape_mismatch_and_non_positive_definite():
    with pytest.raises(ValueError, match=r"solve: a has shape \(3, 3\).*got \(2,\)"):
        ad.solve(np.eye(3), np.ones(2))
    with pytest.raises(np.linalg.LinAlgError, match="cholesky"):
        ad.cholesky(-np.eye(2))
    with pytest.raises(ValueError, match="diagonal"):
        ad.diagonal(np.ones(3))


# ---- decompositions (ops/decomp.py) -------------------------------------------------------------
# Eigen- and singular vectors have arbitrary signs: the checks use sign-free functions of them.
# Random matrices have distinct eigen/singular values (the derivatives need them).
@pytest.mark.parametrize("shape", [(4, 3), (3, 4), (3, 3), (2, 3, 2)], ids=str)
def test_svd(shape):
    a = RNG.standard_normal(shape)
    u, s, vh = ad.svd(a)
    ru, rs, rvh = np.linalg.svd(a, full_matrices=False)
    np.testing.assert_allclose(s, rs, rtol=1e-10)
    np.testing.assert_allclose(np.abs(u), np.abs(ru), rtol=1e-8)
    np.testing.assert_allclose(np.abs(vh), np.abs(rvh), rtol=1e-8)
    np.testing.assert_allclose(ad.svd(a, compute_uv=False), rs, rtol=1e-10)
    check(lambda a: ad.svd(a)[1], a)
    check(lambda a: ad.svd(a)[0] ** 2, a)
    check(lambda a: ad.svd(a)[2] ** 2, a)
    # ds_i = u_i^T da v_i, the textbook first derivative
    g = ad.grad(lambda a: ad.sum(ad.svd(a)[1]))(a)
    np.testing.assert_allclose(g, ru @ rvh, rtol=1e-8, atol=1e-12)


def test_pinv():
    for a in (RNG.standard_normal((4, 3)), RNG.standard_normal((2, 5))):
        np.testing.assert_allclose(ad.pinv(a), np.linalg.pinv(a), rtol=1e-9, atol=1e-12)
        check(ad.pinv, a)


@pytest.mark.parametrize("shape", [(3, 3), (2, 4, 4)], ids=str)
def test_eigh(shape):
    a = RNG.standard_normal(shape)
    w, v = ad.eigh(a)
    rw, rv = np.linalg.eigh(0.5 * (a + np.swapaxes(a, -1, -2)))
    np.testing.assert_allclose(w, rw, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(np.abs(v), np.abs(rv), rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(ad.eigvalsh(a), rw, rtol=1e-10, atol=1e-12)
    check(lambda a: ad.eigh(a)[0], a)
    check(lambda a: ad.eigh(a)[1] ** 2, a)
    check(lambda a: ad.eigvalsh(a), a)
    # dw_i = v_i^T da v_i (symmetrised)
    g = ad.grad(lambda a: ad.eigh(a)[0][..., -1].sum())(a)
    top = rv[..., :, -1:]
    outer = top @ np.swapaxes(top, -1, -2)
    np.testing.assert_allclose(g, outer, rtol=1e-8, atol=1e-12)


def test_det():
    for a in (RNG.standard_normal((3, 3)), RNG.standard_normal((2, 2, 2))):
        np.testing.assert_allclose(ad.det(a), np.linalg.det(a), rtol=1e-10)
        check(ad.det, a)
    a = RNG.standard_normal((3, 3))
    np.testing.assert_allclose(ad.grad(ad.det)(a), np.linalg.det(a) * np.linalg.inv(a).T,
                               rtol=1e-9)


NORMS = [((3,), None, None), ((3,), 1, None), ((3,), 3, None), ((3,), np.inf, None),
         ((3,), -np.inf, None), ((2, 3), None, None), ((2, 3), "fro", None),
         ((2, 3), "nuc", None), ((3, 2), 2, None), ((3, 2), -2, None), ((2, 3), 1, None),
         ((2, 3), -1, None), ((2, 3), np.inf, None), ((2, 3), -np.inf, None),
         ((2, 3, 4), None, 1), ((2, 3, 4), 2, (0, 2)), ((2, 3, 4), "nuc", (2, 0)),
         ((2, 3, 4), np.inf, (1, 2))]


@pytest.mark.parametrize("shape, ord, axis", NORMS, ids=[f"{s}-{o}-{a}" for s, o, a in NORMS])
def test_norm(shape, ord, axis):
    x = RNG.uniform(0.2, 2.0, shape) * RNG.choice([-1.0, 1.0], shape)  # off |x| = 0 kinks
    for kd in (False, True):
        np.testing.assert_allclose(ad.norm(x, ord, axis, kd), np.linalg.norm(x, ord, axis, kd),
                                   rtol=1e-10)
    if ord not in (np.inf, -np.inf, 1, -1) or len(shape) == 1 or axis is not None:
        check(lambda x: ad.norm(x, ord, axis), x)
    np.testing.assert_array_equal(ad.norm(np.array([0.0, 2.0, -1.0]), 0), 2.0)


def test_eig_is_refused():
    with pytest.raises(TypeError, match="complex"):
        ad.eig(np.eye(2))
