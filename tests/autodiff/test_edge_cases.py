"""Edge cases, each a regression test for an engine bug: Tensors leaked out of a finished
transformation, axis arguments out of range, broadcast_to to fewer dimensions, derivatives of
power at 0, astype to integer dtypes, logdet of a matrix with det <= 0, prod's gradient on long
vectors and with zeros.

References are independent of the engine: numpy (values and its errors), closed forms, and
check_grads (finite differences).
"""
import tracemalloc

import numpy as np
import pytest

import autodiff as ad
from autodiff import Tensor

RNG = np.random.default_rng(20240917)


def _is_plain(a):
    return isinstance(a, np.ndarray) and not isinstance(a, Tensor)


# ---- a Tensor leaked out of a finished transformation ------------------------------------------
def _leak_from_grad():
    leak = []
    g = ad.grad(lambda x: (leak.append(x), ad.sum(x * x))[1])(np.ones(2))
    np.testing.assert_array_equal(g, [2.0, 2.0])
    return leak[0]


def test_leaked_tensor_in_a_later_grad_raises():
    # the later grad's trace gets the finished one's level: the box must not pass for its own
    box = _leak_from_grad()
    with pytest.raises(ValueError, match="has returned"):
        ad.grad(lambda y: ad.sum(box * y))(np.ones(2))
    with pytest.raises(ValueError, match="has returned"):
        ad.jvp(lambda y: box * y, (np.ones(2),), (np.ones(2),))


def test_leaked_tensor_used_alone_raises_but_keeps_its_value():
    box = _leak_from_grad()
    with pytest.raises(ValueError, match="multiply: .*has returned"):
        box * 2
    with pytest.raises(ValueError, match="sum: .*has returned"):
        ad.sum(box)
    np.testing.assert_array_equal(box.value, np.ones(2))  # the message's way out works
    np.testing.assert_array_equal(box.value * 2, [2.0, 2.0])


# ---- axis arguments -----------------------------------------------------------------------------
X3 = np.arange(24.0).reshape(2, 3, 4)

BAD_AXES = [  # (op, call on the ad module or numpy, argument)
    ("transpose", lambda m, x: m.transpose(x, (0, 4, 2)), X3),
    ("moveaxis", lambda m, x: m.moveaxis(x, 5, 0), X3),
    ("moveaxis", lambda m, x: m.moveaxis(x, 0, -4), X3),
    ("expand_dims", lambda m, x: m.expand_dims(x, 7), X3),
    ("expand_dims", lambda m, x: m.expand_dims(x, -5), X3),
    ("squeeze", lambda m, x: m.squeeze(x, axis=2), np.ones((1, 3))),
    ("squeeze", lambda m, x: m.squeeze(x, axis=-3), np.ones((1, 3))),
    ("swapaxes", lambda m, x: m.swapaxes(x, 0, 5), X3),
    ("swapaxes", lambda m, x: m.swapaxes(x, -4, 0), X3),
]


@pytest.mark.parametrize("op, call, x", BAD_AXES, ids=[r[0] for r in BAD_AXES])
def test_axis_out_of_range_raises_naming_the_op(op, call, x):
    with pytest.raises(ValueError):  # numpy refuses it too (AxisError is a ValueError)
        call(np, x)
    for arg in (x, Tensor(x)):
        with pytest.raises(ValueError, match=rf"{op}: axis -?\d+ is out of bounds"):
            call(ad, arg)
    with pytest.raises(ValueError, match=op):  # and under a transformation
        ad.grad(lambda x: ad.sum(call(ad, x)))(x)


VALID_NEGATIVE_AXES = [  # (op, call on the ad module or numpy, the numpy inverse for the VJP)
    ("moveaxis", lambda m, x: m.moveaxis(x, -1, 0), lambda w: np.moveaxis(w, 0, -1)),
    ("moveaxis", lambda m, x: m.moveaxis(x, 0, -2), lambda w: np.moveaxis(w, -2, 0)),
    ("expand_dims", lambda m, x: m.expand_dims(x, -1), lambda w: w[..., 0]),
    ("expand_dims", lambda m, x: m.expand_dims(x, -4), lambda w: w[0]),
    ("swapaxes", lambda m, x: m.swapaxes(x, -1, 0), lambda w: np.swapaxes(w, -1, 0)),
    ("transpose", lambda m, x: m.transpose(x, (-1, 0, -2)), lambda w: w.transpose(1, 2, 0)),
]


@pytest.mark.parametrize("op, call, inverse", VALID_NEGATIVE_AXES,
                         ids=[r[0] for r in VALID_NEGATIVE_AXES])
def test_valid_negative_axes_match_numpy(op, call, inverse):
    want = call(np, X3)
    got = call(ad, Tensor(X3))
    assert got.shape == want.shape
    np.testing.assert_array_equal(got.value, want)
    w = RNG.standard_normal(want.shape)
    g = ad.grad(lambda x: ad.sum(call(ad, x) * w))(X3)
    np.testing.assert_array_equal(g, inverse(w))  # a permutation: the VJP moves w back


def test_squeeze_of_a_0d_array_has_no_axis_to_name():
    x = np.array(1.0)
    with pytest.raises(ValueError):
        np.squeeze(x, (0,))  # numpy 2 lets an int 0 or -1 through here (as a reduction would)
    for axis in (0, -1, (0,), 1):
        for arg in (x, Tensor(x)):
            with pytest.raises(ValueError, match="squeeze: axis -?\\d+ is out of bounds"):
                ad.squeeze(arg, axis)
    assert ad.squeeze(Tensor(x)).shape == ()


def test_cumsum_of_a_0d_array_along_axis_0_is_a_1_vector():
    x = np.array(1.5)
    for axis in (0, -1, None):
        want = np.cumsum(x, axis=axis)  # [1.5]: numpy cumulates a 0-d array as a 1-vector
        got = ad.cumsum(Tensor(x), axis=axis)
        assert got.shape == want.shape == (1,)
        np.testing.assert_array_equal(got.value, want)
        assert float(ad.grad(lambda x, axis=axis: ad.sum(ad.cumsum(x, axis=axis)))(x)) == 1.0
    with pytest.raises(ValueError):
        np.cumsum(x, axis=1)
    with pytest.raises(ValueError, match="out of bounds"):
        ad.cumsum(Tensor(x), axis=1)


def test_broadcast_to_fewer_dimensions_raises_as_numpy():
    x = np.ones((1, 1, 3))
    with pytest.raises(ValueError):
        np.broadcast_to(x, (3,))
    for arg in (x, Tensor(x)):
        with pytest.raises(ValueError, match="broadcast_to"):
            ad.broadcast_to(arg, (3,))
    with pytest.raises(ValueError, match="broadcast_to"):
        ad.grad(lambda x: ad.sum(ad.broadcast_to(x, (1, 3))))(x)
    # the same size but more dimensions is a broadcast
    np.testing.assert_array_equal(ad.broadcast_to(Tensor(x), (2, 1, 1, 3)).value,
                                  np.broadcast_to(x, (2, 1, 1, 3)))


# ---- power at 0 ---------------------------------------------------------------------------------
def _nth(f, n):
    for _ in range(n):
        f = ad.grad(f)
    return f


@pytest.mark.parametrize("f, n, want", [
    (lambda x: x ** 0.0, 1, 0.0),   # d/dx 1; not 0 * 0^-1 = 0 * inf
    (lambda x: x ** 1.0, 2, 0.0),   # d/dx 1
    (lambda x: x ** 2, 3, 0.0),     # d/dx 2
    (lambda x: x ** 3, 2, 0.0),     # 6x at 0
    (lambda x: x ** 2.0, 2, 2.0),
    (lambda x: x ** 1.0, 1, 1.0),   # 1 * 0^0
    (lambda x: x ** 3.0, 3, 6.0),
], ids=["x^0'", "x^1''", "x^2'''", "x^3''", "x^2''", "x^1'", "x^3'''"])
def test_power_derivatives_at_zero_are_finite_and_exact(f, n, want):
    with np.errstate(all="raise"):  # no inf or nan on the way either
        got = _nth(f, n)(0.0)
    assert np.isfinite(got) and got == want
    # forward mode: the n-th derivative as jvp over (n - 1) grads
    _, t = ad.jvp(_nth(f, n - 1), (0.0,), (1.0,))
    assert np.isfinite(t) and t == want


def test_power_with_a_tensor_exponent_containing_zeros():
    x = np.array([0.0, 0.0, 2.0, 0.0, 0.7, 0.0, 3.0])
    y = np.array([0.0, 1.0, 0.0, 2.0, 2.5, 3.0, 0.0])
    with np.errstate(divide="ignore"):
        logx = np.where(x > 0, np.log(np.where(x > 0, x, 1.0)), 0.0)  # x^y log x is 0 at x = 0
    # d/dx x^y = y x^(y-1) (0 where y = 0); d/dy = x^y log x (0 where x = 0)
    dx = np.array([0.0, 1.0, 0.0, 0.0, 2.5 * 0.7 ** 1.5, 0.0, 0.0])
    dy = x ** y * logx
    gx, gy = ad.grad(lambda x, y: ad.sum(x ** y), (0, 1))(x, y)
    np.testing.assert_allclose(gx, dx, rtol=1e-14, atol=0)
    np.testing.assert_allclose(gy, dy, rtol=1e-14, atol=0)
    # second derivatives: y (y-1) x^(y-2) and x^y log^2 x
    dxx = np.array([0.0, 0.0, 0.0, 2.0, 2.5 * 1.5 * 0.7 ** 0.5, 0.0, 0.0])
    hx = ad.hessian(lambda x: ad.sum(x ** y))(x)
    hy = ad.hessian(lambda y: ad.sum(x ** y))(y)
    for h, d in ((hx, dxx), (hy, x ** y * logx ** 2)):
        assert np.all(np.isfinite(h))
        np.testing.assert_allclose(np.diag(h), d, rtol=1e-14, atol=0)
        np.testing.assert_array_equal(h - np.diag(np.diag(h)), 0.0)
    # forward mode agrees
    np.testing.assert_allclose(np.diag(ad.jacfwd(lambda x: x ** y)(x)), dx, rtol=1e-14)


def test_power_mixed_second_derivative_at_a_zero_exponent():
    # d^2/dx dy x^y = x^(y-1) (1 + y log x): 1/x at y = 0, x != 0, in either order and mode
    x, y = np.array([0.5, 2.0, 1.5]), np.array([0.0, 0.0, 1.0])
    want = x ** (y - 1) * (1 + y * np.log(x))
    dx = lambda x, y: ad.grad(lambda x: ad.sum(x ** y))(x)  # noqa: E731
    dy = lambda x, y: ad.grad(lambda y: ad.sum(x ** y))(y)  # noqa: E731
    np.testing.assert_allclose(ad.grad(lambda x: ad.sum(dy(x, y)))(x), want, rtol=1e-14)
    np.testing.assert_allclose(ad.grad(lambda y: ad.sum(dx(x, y)))(y), want, rtol=1e-14)
    np.testing.assert_allclose(ad.jvp(lambda y: dx(x, y), (y,), (np.ones(3),))[1], want,
                               rtol=1e-14)
    # a regular point (x > 0): finite differences to order 2
    ad.check_grads(lambda x, y: x ** y, (x, y), order=2)


# ---- astype -------------------------------------------------------------------------------------
def test_astype_to_integer_or_bool_is_a_plain_array_without_gradient():
    x = np.array([1.7, -2.3, 0.4])
    for dtype in (np.int64, np.int32, bool):
        for arg in (x, Tensor(x), Tensor(x, requires_grad=True)):
            out = ad.astype(arg, dtype)
            assert _is_plain(out) and out.dtype == np.dtype(dtype)
            np.testing.assert_array_equal(out, x.astype(dtype))
        out = Tensor(x, requires_grad=True).astype(dtype)  # the method too
        assert _is_plain(out) and out.dtype == np.dtype(dtype)
    # a constant of x: it contributes nothing to the gradient
    np.testing.assert_array_equal(
        ad.grad(lambda x: ad.sum(ad.astype(x, np.int64) * 1.5))(x), np.zeros(3))
    np.testing.assert_array_equal(
        ad.grad(lambda x: ad.sum(ad.astype(x, np.int64) * x))(x), x.astype(np.int64))
    _, t = ad.jvp(lambda x: ad.astype(x, np.int64) * x, (x,), (np.ones(3),))
    np.testing.assert_array_equal(t, x.astype(np.int64))


def test_astype_to_float32_keeps_the_gradient():
    x = np.array([1.7, -2.3, 0.4])
    g = ad.grad(lambda x: ad.sum(ad.astype(x, np.float32) ** 2))(x)
    assert _is_plain(g) and g.dtype == np.float64  # cast back to the input's dtype
    np.testing.assert_allclose(g, 2 * x, rtol=1e-6)
    leaf = Tensor(x, requires_grad=True)
    y = ad.sum(leaf.astype(np.float32) * 3.0)
    assert y.dtype == np.float32
    y.backward()
    assert leaf.grad.dtype == np.float64
    np.testing.assert_array_equal(leaf.grad, np.full(3, 3.0))


# ---- logdet -------------------------------------------------------------------------------------
def test_logdet_is_nan_where_det_is_not_positive():
    assert np.linalg.det(-np.eye(3)) < 0
    assert np.isnan(float(ad.logdet(-np.eye(3))))
    a = 2 * np.eye(3)
    np.testing.assert_allclose(ad.logdet(a), np.log(8.0), rtol=1e-14)
    np.testing.assert_allclose(ad.grad(ad.logdet)(a), np.linalg.inv(a).T, rtol=1e-14)
    # batched: each matrix on its own
    out = ad.logdet(np.stack([a, -np.eye(3)]))
    np.testing.assert_allclose(out[0], np.log(8.0), rtol=1e-14)
    assert np.isnan(out[1])
    # a general matrix with det > 0: log det, gradient inv(a).T
    b = RNG.standard_normal((4, 4))
    b[0] *= np.sign(np.linalg.det(b))
    np.testing.assert_allclose(ad.logdet(b), np.log(np.linalg.det(b)), rtol=1e-10)
    np.testing.assert_allclose(ad.grad(ad.logdet)(b), np.linalg.inv(b).T, rtol=1e-10)


# ---- prod ---------------------------------------------------------------------------------------
def _prod_of_others(x):
    """prod_{j != i} x_j, computed directly (exact with zeros)."""
    return np.array([np.prod(np.delete(x, i)) for i in range(x.size)])


def test_prod_gradient_on_a_long_vector():
    # magnitudes near 1 so that the product of 10,000 stays in range (the product of 10,000
    # standard normals underflows to 0, which would make the comparison vacuous)
    n = 10_000
    logs = RNG.normal(0.0, 0.02, n)
    signs = RNG.choice([-1.0, 1.0], n)
    x = signs * np.exp(logs)
    assert np.all(x != 0)
    # prod / x_i in log space: sign * exp(sum of logs - log |x_i|)
    ref = np.prod(signs) * signs * np.exp(np.sum(logs) - logs)
    assert np.all(np.abs(ref) > 1e-30) and np.all(np.isfinite(ref))
    tracemalloc.start()
    try:
        g = ad.grad(ad.prod)(x)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    np.testing.assert_allclose(g, ref, rtol=1e-10)
    # prod / x_i needs O(n) memory; the exact product of the others (for zeros) takes an n x n
    # matrix, 800 MB here. Memory, not time: deterministic (the vectors are 80 kB each)
    assert peak < 8e6, f"prod's gradient on {n} elements peaked at {peak / 1e6:.0f} MB"
    t = RNG.standard_normal(n)
    _, dt = ad.jvp(ad.prod, (x,), (t,))
    np.testing.assert_allclose(dt, ref @ t, rtol=1e-8)


@pytest.mark.parametrize("zeros", [(), (3,), (1, 6)], ids=["none", "one", "two"])
def test_prod_gradient_with_and_without_zeros(zeros):
    x = RNG.uniform(0.5, 1.5, 8) * RNG.choice([-1.0, 1.0], 8)
    x[list(zeros)] = 0.0
    g = ad.grad(ad.prod)(x)
    if zeros:  # exactly the product of the others: no division by 0
        np.testing.assert_array_equal(g, _prod_of_others(x))
    else:
        np.testing.assert_allclose(g, _prod_of_others(x), rtol=1e-14)
    assert np.count_nonzero(g) == {0: 8, 1: 1, 2: 0}[len(zeros)]
    ad.check_grads(ad.prod, (x,), order=2)
    # along an axis: rows with and without zeros in one array
    m = np.stack([x, np.abs(x) + 0.5])
    gm = ad.grad(lambda m: ad.sum(ad.prod(m, axis=1) * np.array([2.0, -1.0])))(m)
    np.testing.assert_allclose(gm, [2 * _prod_of_others(m[0]), -_prod_of_others(m[1])],
                               rtol=1e-14)
    ad.check_grads(lambda m: ad.prod(m, axis=-1), (m,), order=2)


# ---- complex values are refused where they appear -----------------------------------------------
@pytest.mark.parametrize("f", [
    lambda x: ad.sum(ad.abs(x * (1 + 1j))),
    lambda x: ad.sum(x * (1 + 0.2j)),
    lambda x: ad.sum(x + np.array([1j, 0.0])),
    lambda x: ad.sum(ad.astype(x, np.complex128)),
])
def test_complex_values_raise_a_type_error_naming_the_op(f):
    """No conjugate rules: the derivative would drop the imaginary part without an error
    (grad gave [0, 0] for |x (1 + i)|, whose gradient is sqrt(2)), so both modes refuse."""
    x = np.array([1.0, 2.0])
    with pytest.raises(TypeError, match=r"(multiply|add|astype): the result is complex"):
        ad.grad(f)(x)
    with pytest.raises(TypeError, match="complex"):
        ad.jvp(f, (x,), (np.ones(2),))
    with pytest.raises(TypeError, match="complex"):
        ad.grad(lambda x: x * (1 + 0.2j))(1.0)
    # outside differentiation complex arithmetic is plain numpy's
    assert ad.abs(np.array([1.0, 2.0]) * (1 + 1j)).dtype == np.float64
