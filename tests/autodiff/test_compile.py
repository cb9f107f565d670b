"""A compiled tape gives the same value and gradient as running the function again, checked
against `value_and_grad` (itself checked against finite differences elsewhere) and against
central differences here; on floats (shapes ()) and on arrays; over many rows at once (.batch,
.values) as row by row; its audit tells an overflow from a branch."""
import math

import numpy as np
import pytest

import autodiff as ad

RNG = np.random.default_rng(0)
A = RNG.normal(size=(30, 5))
Y = (RNG.random(30) < 0.5).astype(float)


def logistic(w):
    # matmul, broadcasting against data, softplus, sums with axes, a Gaussian prior
    eta = A @ w[:5] + w[5]
    return -ad.sum(ad.softplus(eta) - Y * eta) - 0.5 * ad.sum(w * w)


def shapes(x):
    # getitem, reshape, transpose, broadcasting in both directions, exp/log, a scalar slot
    m = ad.reshape(x[1:7], (2, 3))
    return ad.sum(ad.exp(m) * ad.transpose(m)[:, :1].T) + ad.log(1.0 + x[0] ** 2) * x[7]


def recursion(x):
    # a loop over scalars, as a time-series model is written: the float program
    y = np.linspace(-1.0, 1.0, 30)
    mu, phi, s = x[0], x[1], ad.exp(x[2])
    err, errs = y[0] - mu, []
    for t in range(1, 30):
        err = y[t] - mu - phi * y[t - 1] - 0.3 * ad.tanh(err)
        errs.append(err)
    e = ad.stack(errs)
    return -ad.sum(e * e) / (2 * s * s) - 29 * x[2] + ad.log1p(x[1] ** 2) + ad.softplus(x[0])


@pytest.mark.parametrize("f, n", [(logistic, 6), (shapes, 8), (recursion, 3)])
def test_replay_equals_a_fresh_run_at_new_points(f, n):
    r = ad.compile_value_and_grad(f, RNG.normal(size=n))
    vg = ad.value_and_grad(f)
    for _ in range(5):
        x = RNG.normal(size=n)
        v, g = r(x)
        v2, g2 = vg(x)
        np.testing.assert_allclose(v, v2, rtol=1e-13)
        np.testing.assert_allclose(g, g2, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(r.value(x), v2, rtol=1e-13)
        assert r.check(x)


@pytest.mark.parametrize("f, n", [(logistic, 6), (recursion, 3)])
def test_compiled_gradient_against_central_differences(f, n):
    r = ad.compile_value_and_grad(f, np.zeros(n))
    x = RNG.normal(size=n) * 0.5
    h = 1e-6
    fd = [(r.value(x + h * e) - r.value(x - h * e)) / (2 * h) for e in np.eye(n)]
    np.testing.assert_allclose(r(x)[1], fd, rtol=1e-6, atol=1e-8)


def test_scalar_entries_run_on_floats_and_fall_back_to_numpy():
    r = ad.compile_value_and_grad(recursion, np.zeros(3))
    assert r._fast is not None and "_array([" in r.source   # floats, stacked in one call
    # exp(x[2]) overflows in math (OverflowError): numpy's inf and nan, as a fresh run gives
    x = np.array([0.1, 0.2, 800.0])
    with np.errstate(all="ignore"):
        v, g = r(x)
        v2, g2 = ad.value_and_grad(recursion)(x)
    np.testing.assert_array_equal(v, v2)
    np.testing.assert_array_equal(g, g2)


def test_equal_subexpressions_once_and_unread_gradients_dropped():
    r = ad.compile_value_and_grad(lambda x: ad.sum(ad.exp(x)) + ad.sum(ad.exp(x)), np.ones(3))
    # one exp, shared by both sums and the gradient
    assert sum(e[0] is ad.exp for e in r.program.entries) == 1 and len(r) == 4
    np.testing.assert_allclose(r(np.zeros(3))[1], 2.0 * np.ones(3))
    # the gradient of a constant factor is never computed: one multiply, by the constant
    c = np.arange(3.0)
    r = ad.compile_value_and_grad(lambda x: ad.sum(x * c), np.ones(3))
    assert len(r) <= 3


@pytest.mark.parametrize("f, n", [(logistic, 6), (shapes, 8), (recursion, 3)])
def test_batch_and_values_equal_the_rows_one_at_a_time(f, n):
    r = ad.compile_value_and_grad(f, RNG.normal(size=n) * 0.5)
    X = RNG.normal(size=(7, n)) * 0.5
    v, g = r.batch(X)
    assert v.shape == (7,) and g.shape == (7, n) and r.batch_note == "batched"
    rows = [r(x) for x in X]
    np.testing.assert_allclose(v, [float(a) for a, _ in rows], rtol=1e-12)
    np.testing.assert_allclose(g, [b for _, b in rows], rtol=1e-11, atol=1e-13)
    with ad.no_grad():   # recorded all the same
        np.testing.assert_allclose(r.values(X), v, rtol=1e-12)
    with pytest.raises(ValueError, match="shape"):
        r.batch(np.ones((2, n + 1)))


def test_audit_tells_an_overflow_from_a_branch():
    def explodes(x):   # theta^t: overflows for |theta| > 1 at large t; no branch
        e, out = 1.0, 0.0
        for _ in range(800):
            e = x[0] * e
            out = out + e
        return out
    r = ad.compile_value_and_grad(explodes, np.array([0.5]))
    assert r.audit(np.array([0.7])) == "agrees"
    assert r.audit(np.array([3.0])) == "overflow" and r.check(np.array([3.0]))

    def branch(x):
        return ad.sum(x * x) if float(x[0]) > 0 else ad.sum(x)
    r = ad.compile_value_and_grad(branch, np.array([1.0, 2.0]))
    assert r.audit(np.array([-3.0, -1.0])).startswith("differs")
    assert math.isfinite(float(r.value(np.array([2.0, 2.0]))))


def test_a_branch_on_a_value_is_frozen_and_check_says_so():
    def f(x):
        return ad.sum(x * x) if float(x[0]) > 0 else ad.sum(x)
    r = ad.compile_value_and_grad(f, np.array([1.0, 2.0]))
    assert r.check(np.array([3.0, -1.0]))          # same branch
    assert not r.check(np.array([-3.0, -1.0]))     # the other branch: the replay is stale


def test_float32_kept_and_input_checked():
    r = ad.compile_value_and_grad(lambda x: ad.sum(x ** 3), np.ones(3, dtype=np.float32))
    v, g = r(np.array([1.0, 2.0, 3.0], dtype=np.float32))
    assert g.dtype == np.float32 and float(v) == 36.0
    np.testing.assert_array_equal(g, [3.0, 12.0, 27.0])
    v, g = r.batch(np.ones((2, 3), dtype=np.float32))
    assert g.dtype == np.float32
    with pytest.raises(ValueError, match="recorded with"):
        r(np.ones(4))


def test_outputs_that_cannot_be_replayed_are_errors():
    with pytest.raises(ValueError, match="does not depend"):
        ad.compile_value_and_grad(lambda x: 3.0, np.ones(2))
    with pytest.raises(TypeError, match="scalar"):
        ad.compile_value_and_grad(lambda x: x * 2.0, np.ones(2))
    with pytest.raises(TypeError, match="floating-point"):
        ad.compile_value_and_grad(lambda x: ad.sum(x), np.ones(2, dtype=int))


def test_unused_input_gets_a_zero_gradient():
    r = ad.compile_value_and_grad(lambda x: ad.sum(x[:1] * 2.0), np.ones(3))
    np.testing.assert_array_equal(r(np.ones(3))[1], [2.0, 0.0, 0.0])


def test_a_linear_algebra_failure_in_a_batch_is_raised_and_the_next_batch_is_batched():
    def f(x):
        a = ad.reshape(x, (2, 2))
        return ad.sum(ad.log(ad.diagonal(ad.cholesky(a @ ad.transpose(a) - 0.5 * np.eye(2)))))
    r = ad.compile_value_and_grad(f, np.array([2.0, 0.1, 0.3, 1.5]))
    bad = np.array([[2.0, 0.1, 0.3, 1.5], [0.1, 0.0, 0.0, 0.1]])   # the second: not PD
    with pytest.raises(np.linalg.LinAlgError):
        r.batch(bad)
    good = np.array([[2.0, 0.1, 0.3, 1.5], [1.5, 0.2, -0.1, 2.0]])
    v, g = r.batch(good)
    assert r.batch_note == "batched"
    np.testing.assert_allclose(g, [r(x)[1] for x in good], rtol=1e-12)


def big(w):
    # arrays of 30 x 400 = 12,000 elements: the emitted program frees them after their last
    # use (`del`); an in-place scatter into the gradient buffer must survive that
    X = np.linspace(-1.0, 1.0, 12000).reshape(30, 400)
    eta = ad.sum(X * w[:1], axis=0) + ad.exp(w[1]) * ad.sum(X * X, axis=0)
    return -ad.sum(ad.softplus(eta)) - 0.5 * ad.sum(w * w)


@pytest.mark.parametrize("f, n", [(logistic, 6), (shapes, 8), (recursion, 3), (big, 2)])
def test_batched_hessians_and_hvps_equal_fresh_ones_row_by_row(f, n):
    # forward over the recorded reverse sweep, mapped over rows, against ad.hessian / ad.hvp
    r = ad.compile_value_and_grad(f, RNG.normal(size=n) * 0.5)
    X, V = RNG.normal(size=(6, n)) * 0.5, RNG.normal(size=(6, n))
    H = r.hessians(X)
    assert H.shape == (6, n, n)
    np.testing.assert_allclose(H, [ad.hessian(f)(x) for x in X], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(r.hvps(X, V), [ad.hvp(f, x, v) for x, v in zip(X, V)],
                               rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match="V must have the shape of X"):
        r.hvps(X, V[:3])


def test_the_hessian_of_a_branch_is_frozen_at_the_recording():
    # as value and gradient: the batched Hessian follows the branch taken at x0, so a caller
    # compares a row with a fresh ad.hessian (ppl.infer.draws does)
    def f(x):
        return ad.sum(x ** 3) if float(x[0]) > 0 else -ad.sum(x ** 3)
    r = ad.compile_value_and_grad(f, np.array([1.0, 2.0]))
    X = np.array([[2.0, 1.0], [-2.0, 1.0]])
    H = r.hessians(X)
    np.testing.assert_allclose(H[0], ad.hessian(f)(X[0]))
    np.testing.assert_allclose(H[1], -ad.hessian(f)(X[1]))     # the other branch's, frozen


def test_large_intermediates_are_freed_after_their_last_use():
    r = ad.compile_value_and_grad(big, np.array([0.1, -0.2]))
    assert "del v" in r.source
    for x in (np.array([0.3, -1.0]), np.array([-0.5, -2.0])):   # twice: nothing stale
        v, g = r(x)
        v2, g2 = ad.value_and_grad(big)(x)
        np.testing.assert_allclose(v, v2, rtol=1e-13)
        np.testing.assert_allclose(g, g2, rtol=1e-12)
    # small programs have nothing to free
    assert "del " not in ad.compile_value_and_grad(logistic, np.zeros(6)).source


def test_keep_heap_pad_respects_the_users_settings(monkeypatch):
    from autodiff.backend import keep_heap_pad
    monkeypatch.setenv("MALLOC_TOP_PAD_", "0")
    assert keep_heap_pad() is False             # glibc's own variable wins
    monkeypatch.delenv("MALLOC_TOP_PAD_")
    monkeypatch.setenv("WENGERT_MALLOC_TOP_PAD", "0")
    assert keep_heap_pad() is False             # 0: leave glibc's default
    monkeypatch.setenv("WENGERT_MALLOC_TOP_PAD", "lots")
    with pytest.raises(ValueError, match="WENGERT_MALLOC_TOP_PAD"):
        keep_heap_pad()
