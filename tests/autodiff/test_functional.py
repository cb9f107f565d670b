"""Functional API (JAX conventions): grad, value_and_grad, vjp, jvp; argnums, numpy results,
errors. Jacobians and Hessians are in test_jacobians_hessians.py, nesting, perturbation confusion
and pytrees in test_nesting_and_pytrees.py.

References are independent of the engine: closed forms, numpy, and central finite differences
computed with plain numpy evaluations (helpers.fd_jacobian).
"""
import numpy as np
import pytest

import autodiff as ad
from autodiff import Tensor, grad, hessian, hvp, jacfwd, jacrev, jvp, value_and_grad, vjp
from autodiff.core import ForwardTrace

from .helpers import RNG, fd_jacobian, is_plain_array, val


# ---- grad / value_and_grad ----------------------------------------------------------------------
class TestGrad:
    def test_closed_form_vector(self):
        x = RNG.standard_normal(5)
        g = grad(lambda x: ad.sum(ad.sin(x) * x))(x)
        assert is_plain_array(g) and g.shape == x.shape
        np.testing.assert_allclose(g, np.cos(x) * x + np.sin(x))

    def test_closed_form_matrix(self):
        X = RNG.standard_normal((3, 4))
        g = grad(lambda X: ad.sum(X ** 3) / 3.0)(X)
        assert g.shape == (3, 4)
        np.testing.assert_allclose(g, X ** 2)

    def test_scalar_argument(self):
        g = grad(lambda x: x ** 3)(2.0)
        assert is_plain_array(g) and g.shape == ()
        assert float(g) == 12.0

    def test_returns_zero_for_constant_function(self):
        g = grad(lambda x: 3.0)(np.ones(4))
        assert is_plain_array(g)
        np.testing.assert_array_equal(g, np.zeros(4))

    def test_unused_argument_gets_zero(self):
        gx, gy = grad(lambda x, y: ad.sum(x * 2.0), argnums=(0, 1))(np.ones(2), np.ones(3))
        np.testing.assert_array_equal(gx, [2.0, 2.0])
        np.testing.assert_array_equal(gy, np.zeros(3))

    def test_tensor_argument_and_tensor_output(self):
        x = Tensor([1.0, 2.0])
        g = grad(lambda t: (t * t).sum())(x)
        assert is_plain_array(g)
        np.testing.assert_allclose(g, [2.0, 4.0])

    def test_value_and_grad(self):
        x = np.array([1.0, 3.0])
        v, g = value_and_grad(lambda x: ad.sum(x ** 2))(x)
        assert is_plain_array(v) and is_plain_array(g)
        assert float(v) == 10.0
        np.testing.assert_allclose(g, [2.0, 6.0])

    def test_value_and_grad_argnums_tuple(self):
        x, y = np.array([1.0, 2.0]), np.array([3.0, 4.0])
        v, (gx, gy) = value_and_grad(lambda x, y: ad.sum(x * y), argnums=(0, 1))(x, y)
        assert float(v) == 11.0
        np.testing.assert_allclose(gx, y)
        np.testing.assert_allclose(gy, x)

    def test_argnums_int_selects_argument(self):
        x, y = np.array([1.0, 2.0]), np.array([3.0, 4.0])
        g = grad(lambda x, y: ad.sum(x * y ** 2), argnums=1)(x, y)
        np.testing.assert_allclose(g, 2 * x * y)

    def test_argnums_negative(self):
        x, y = np.array([1.0, 2.0]), np.array([3.0, 4.0])
        g = grad(lambda x, y: ad.sum(x * y ** 2), argnums=-1)(x, y)
        np.testing.assert_allclose(g, 2 * x * y)

    def test_argnums_tuple_order(self):
        x, y, z = np.array(2.0), np.array(3.0), np.array(5.0)
        gz, gx = grad(lambda x, y, z: x * y * z, argnums=(2, 0))(x, y, z)
        assert float(gz) == 6.0 and float(gx) == 15.0

    def test_non_differentiated_arg_may_be_int(self):
        g = grad(lambda x, n: ad.sum(x ** n), argnums=0)(np.array([1.0, 2.0]), 3)
        np.testing.assert_allclose(g, [3.0, 12.0])

    def test_keyword_arguments_pass_through(self):
        g = grad(lambda x, scale=1.0: ad.sum(x * scale))(np.ones(2), scale=3.0)
        np.testing.assert_allclose(g, [3.0, 3.0])

    def test_float32_gradient_stays_float32(self):
        x = np.array([1.0, 2.0], dtype=np.float32)
        g = grad(lambda x: ad.sum(x ** 2 * 1.5))(x)
        assert g.dtype == np.float32
        np.testing.assert_allclose(g, 3.0 * x)

    def test_matches_finite_differences(self):
        A = RNG.standard_normal((4, 3))
        x = RNG.standard_normal(3)

        def f(x):
            return ad.sum(ad.tanh(A @ x) ** 2) + ad.logsumexp(x)
        np.testing.assert_allclose(grad(f)(x), fd_jacobian(f, x), rtol=1e-6, atol=1e-8)

    def test_deep_chain_through_grad(self):
        def chain(x):
            for _ in range(100_000):
                x = x * 1.0000001
            return x
        g = grad(chain)(1.0)  # 100,000 nodes: the backward pass must not recurse
        np.testing.assert_allclose(g, 1.0000001 ** 100_000, rtol=1e-10)

    def test_does_not_touch_leaf_grad_of_closed_over_tensor(self):
        W = Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
        grad(lambda v: ad.sum(W @ v))(np.ones(3))
        assert W.grad is None


class TestClosureOverTrainableTensor:
    def test_gradient_value_and_outer_backward(self):
        Wv = RNG.standard_normal((2, 3))
        W = Tensor(Wv, requires_grad=True)
        gx = grad(lambda x: ad.sum(ad.tanh(W @ x)))(np.ones(3))
        s = 1 - np.tanh(Wv @ np.ones(3)) ** 2
        np.testing.assert_allclose(val(gx), Wv.T @ s)
        # the gradient still depends on W: it can be differentiated w.r.t. W (d/dW of a
        # linear functional c . (W^T s) for f = sum(W x) is the outer product 1 c^T)
        gx2 = grad(lambda x: ad.sum(W @ x))(np.ones(3))
        np.testing.assert_allclose(val(gx2), Wv.sum(axis=0))
        c = np.array([1.0, 2.0, 3.0])
        ad.sum(gx2 * c).backward()
        np.testing.assert_allclose(W.grad, np.outer(np.ones(2), c))

    def test_constant_tensor_closure_gives_numpy(self):
        W = Tensor(RNG.standard_normal((2, 3)))
        g = grad(lambda x: ad.sum(W @ x))(np.ones(3))
        assert is_plain_array(g)
        np.testing.assert_allclose(g, W.value.sum(axis=0))


# ---- vjp ----------------------------------------------------------------------------------------
class TestVJP:
    def test_against_explicit_jacobian(self):
        A = RNG.standard_normal((4, 3))
        x = RNG.standard_normal(3)
        ct = RNG.standard_normal(4)
        out, f_vjp = vjp(lambda x: ad.exp(A @ x), x)
        assert is_plain_array(out)
        np.testing.assert_allclose(out, np.exp(A @ x))
        (g,) = f_vjp(ct)
        J = np.exp(A @ x)[:, None] * A
        assert is_plain_array(g)
        np.testing.assert_allclose(g, ct @ J)

    def test_vjp_fn_reusable(self):
        x = np.array([1.0, 2.0])
        _, f_vjp = vjp(lambda x: x ** 2, x)
        np.testing.assert_allclose(f_vjp(np.array([1.0, 0.0]))[0], [2.0, 0.0])
        np.testing.assert_allclose(f_vjp(np.array([0.0, 1.0]))[0], [0.0, 4.0])

    def test_multiple_primals(self):
        x, y = np.array([1.0, 2.0]), np.array([3.0, 5.0])
        out, f_vjp = vjp(lambda x, y: x * y, x, y)
        gx, gy = f_vjp(np.array([1.0, 10.0]))
        np.testing.assert_allclose(gx, [3.0, 50.0])
        np.testing.assert_allclose(gy, [1.0, 20.0])

    def test_pytree_output_cotangent(self):
        x = np.array([1.0, 2.0])
        out, f_vjp = vjp(lambda x: {"a": x * 2, "b": ad.sum(x ** 2)}, x)
        np.testing.assert_allclose(out["a"], [2.0, 4.0])
        assert float(out["b"]) == 5.0
        (g,) = f_vjp({"a": np.array([1.0, 2.0]), "b": np.array(3.0)})
        np.testing.assert_allclose(g, 2 * np.array([1.0, 2.0]) + 3.0 * 2 * x)

    def test_pytree_primal(self):
        p = {"w": np.array([1.0, 2.0]), "b": np.array(0.5)}
        out, f_vjp = vjp(lambda p: p["w"] * p["b"], p)
        (g,) = f_vjp(np.array([1.0, 1.0]))
        np.testing.assert_allclose(g["w"], [0.5, 0.5])
        np.testing.assert_allclose(g["b"], 3.0)

    def test_wrong_cotangent_shape(self):
        _, f_vjp = vjp(lambda x: x * 2, np.ones(2))
        with pytest.raises(ValueError):
            f_vjp(np.ones(3))


# ---- jvp ----------------------------------------------------------------------------------------
class TestJVP:
    def test_closed_form(self):
        x = RNG.standard_normal(4)
        v = RNG.standard_normal(4)
        out, t = jvp(lambda x: ad.sin(x) * x, (x,), (v,))
        assert is_plain_array(out) and is_plain_array(t)
        np.testing.assert_allclose(out, np.sin(x) * x)
        np.testing.assert_allclose(t, (np.cos(x) * x + np.sin(x)) * v)

    def test_equals_jacobian_times_tangent_from_jacrev(self):
        A = RNG.standard_normal((5, 3))
        x = RNG.standard_normal(3)
        v = RNG.standard_normal(3)

        def f(x):
            return ad.softmax(A @ x) * ad.sum(x ** 2)
        _, t = jvp(f, (x,), (v,))
        J = jacrev(f)(x)
        np.testing.assert_allclose(t, J @ v, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(t, fd_jacobian(f, x) @ v, rtol=1e-6, atol=1e-8)

    def test_multiple_primals(self):
        x, y = np.array([1.0, 2.0]), np.array([3.0, 4.0])
        dx, dy = np.array([1.0, 0.0]), np.array([0.0, 1.0])
        out, t = jvp(lambda x, y: x * y ** 2, (x, y), (dx, dy))
        np.testing.assert_allclose(out, x * y ** 2)
        np.testing.assert_allclose(t, dx * y ** 2 + x * 2 * y * dy)

    def test_scalars(self):
        out, t = jvp(lambda x: x ** 3, (2.0,), (1.0,))
        assert float(out) == 8.0 and float(t) == 12.0

    def test_pytree_in_and_out(self):
        p = {"a": np.array([1.0, 2.0]), "b": (np.array(3.0), [np.array([1.0, -1.0])])}
        tp = {"a": np.array([1.0, 1.0]), "b": (np.array(2.0), [np.array([0.5, 0.0])])}

        def f(p):
            a, (b, [c]) = p["a"], p["b"]
            return {"s": ad.sum(a * c) * b, "v": [a ** 2, c + b]}
        out, t = jvp(f, (p,), (tp,))
        a, b, c = p["a"], p["b"][0], p["b"][1][0]
        ta, tb, tc = tp["a"], tp["b"][0], tp["b"][1][0]
        np.testing.assert_allclose(out["s"], np.sum(a * c) * b)
        np.testing.assert_allclose(t["s"], (np.sum(ta * c) + np.sum(a * tc)) * b
                                   + np.sum(a * c) * tb)
        np.testing.assert_allclose(t["v"][0], 2 * a * ta)
        np.testing.assert_allclose(t["v"][1], tc + tb)
        assert isinstance(t["v"], list)

    def test_constant_output_has_zero_tangent(self):
        out, t = jvp(lambda x: np.ones(2), (np.ones(3),), (np.ones(3),))
        np.testing.assert_array_equal(t, np.zeros(2))

    def test_float32(self):
        x = np.array([1.0, 2.0], dtype=np.float32)
        out, t = jvp(lambda x: x ** 2, (x,), (np.ones(2, dtype=np.float32),))
        assert out.dtype == np.float32 and t.dtype == np.float32
        np.testing.assert_allclose(t, 2 * x)

    def test_is_true_forward_mode(self):
        seen = {}

        def f(x):
            seen["trace"] = x._trace
            seen["requires_grad"] = x.requires_grad
            y = ad.exp(x) * x
            seen["y_requires_grad"] = y.requires_grad
            seen["y_is_leaf"] = y.is_leaf
            return y
        x = np.array([0.5, -1.0])
        out, t = jvp(f, (x,), (np.ones(2),))
        assert isinstance(seen["trace"], ForwardTrace)
        assert seen["requires_grad"] is False
        assert seen["y_requires_grad"] is False
        assert seen["y_is_leaf"] is True  # no reverse node recorded
        np.testing.assert_allclose(t, np.exp(x) * (1 + x))

    def test_tangent_shape_mismatch(self):
        with pytest.raises(ValueError):
            jvp(lambda x: x * 2, (np.ones(3),), (np.ones(4),))

    def test_tangent_structure_mismatch(self):
        with pytest.raises(ValueError):
            jvp(lambda x, y: x * y, (np.ones(2), np.ones(2)), (np.ones(2),))


# ---- results are numpy --------------------------------------------------------------------------
def test_all_transforms_return_numpy_for_tensor_inputs():
    x = Tensor([1.0, 2.0])
    f = lambda t: t * t  # noqa: E731
    s = lambda t: (t * t).sum()  # noqa: E731
    outs = [grad(s)(x), *value_and_grad(s)(x), vjp(f, x)[0], vjp(f, x)[1](np.ones(2))[0],
            *jvp(f, (x,), (np.ones(2),)), jacfwd(f)(x), jacrev(f)(x), hessian(s)(x),
            hvp(s, x, np.ones(2))]
    for o in outs:
        assert is_plain_array(o), type(o)


# ---- errors -------------------------------------------------------------------------------------
class TestErrors:
    def test_grad_integer_argument_names_it(self):
        with pytest.raises(TypeError, match="argument 0"):
            grad(lambda x: ad.sum(x))(np.arange(3))

    def test_grad_integer_second_argument_names_it(self):
        with pytest.raises(TypeError, match="argument 1"):
            grad(lambda x, y: ad.sum(x * y), argnums=1)(np.ones(2), np.array([1, 2]))

    def test_grad_bool_argument(self):
        with pytest.raises(TypeError):
            grad(lambda x: ad.sum(x))(np.array([True, False]))

    @pytest.mark.parametrize("transform", [jacfwd, jacrev])
    def test_jacobian_integer_argument(self, transform):
        with pytest.raises(TypeError, match="argument 0"):
            transform(lambda x: x * 2)(np.arange(3))

    def test_jvp_and_vjp_integer_primal(self):
        with pytest.raises(TypeError):
            jvp(lambda x: x * 2, (np.arange(2),), (np.ones(2),))
        with pytest.raises(TypeError):
            vjp(lambda x: x * 2, np.arange(2))

    def test_grad_of_non_scalar_output(self):
        with pytest.raises(TypeError) as e:
            grad(lambda x: x * 2)(np.ones(3))
        assert "scalar" in str(e.value)

    def test_grad_of_non_scalar_constant_output(self):
        with pytest.raises(TypeError):
            grad(lambda x: np.ones(2))(np.ones(2))

    @pytest.mark.parametrize("argnums", [1, -2, (0, 1), (3,)])
    @pytest.mark.parametrize("transform", [grad, value_and_grad, jacfwd, jacrev])
    def test_argnums_out_of_range(self, transform, argnums):
        with pytest.raises(ValueError, match="argnums"):
            transform(lambda x: ad.sum(x), argnums=argnums)(np.ones(2))


def test_each_test_draws_from_its_own_generator():
    # RNG is seeded by the running test's name: the same numbers whatever ran before
    import os

    from .helpers import rng_for
    name = os.environ["PYTEST_CURRENT_TEST"].rsplit(" (", 1)[0]
    first = RNG.standard_normal(3)
    np.testing.assert_array_equal(first, rng_for("RNG", name).standard_normal(3))
    assert not np.array_equal(RNG.standard_normal(3), first)       # one stream per test
