"""Functional API (JAX conventions): grad, value_and_grad, vjp, jvp, jacfwd, jacrev, hessian,
hvp; nesting, perturbation confusion, pytrees, argnums, errors.

References are independent of the engine: closed forms, numpy, and central finite differences
computed here with plain numpy evaluations.
"""
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import autodiff as ad
from autodiff import Tensor, grad, hessian, hvp, jacfwd, jacrev, jvp, value_and_grad, vjp
from autodiff.core import ForwardTrace

RNG = np.random.default_rng(7)


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
        t0 = time.perf_counter()
        g = grad(chain)(1.0)
        assert time.perf_counter() - t0 < 5.0
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


# ---- Jacobians ----------------------------------------------------------------------------------
_A = RNG.standard_normal((4, 3))
_B = RNG.standard_normal((3, 3))
FUNCTIONS = {
    "tanh_matvec": lambda x: ad.tanh(_A @ x),
    "outer_exp": lambda x: ad.sum(ad.exp(ad.reshape(x, (3, 1)) * ad.reshape(x, (1, 3))), axis=0),
    "index_mix": lambda x: x[[2, 0, 0]] * x[1] + x[::-1] ** 2,
    "div_log": lambda x: ad.log(1 + x * x) / (2 + ad.sin(x)),
    "mat_chain": lambda x: ad.sum(ad.reshape(x, (3, 1)) @ ad.reshape(x, (1, 3)) @ _B, axis=1),
    "softmax": lambda x: ad.softmax(_A @ x),
    "stack_T": lambda x: ad.reshape(ad.stack([x, x ** 3]).T, (-1,)),
    "cumsum_prod": lambda x: ad.cumsum(x) * ad.prod(x),
    "var_std": lambda x: ad.stack([ad.var(x), ad.std(x), ad.mean(x)]),
    "vec_mat": lambda x: x @ _B,
}
X0 = np.array([0.3, -0.8, 1.1])


class TestJacobians:
    @pytest.mark.parametrize("name", list(FUNCTIONS))
    def test_jacfwd_equals_jacrev_equals_fd(self, name):
        f = FUNCTIONS[name]
        Jf = jacfwd(f)(X0)
        Jr = jacrev(f)(X0)
        assert is_plain_array(Jf) and is_plain_array(Jr)
        Jn = fd_jacobian(f, X0)
        assert Jf.shape == Jr.shape == Jn.shape
        np.testing.assert_allclose(Jf, Jr, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(Jf, Jn, rtol=1e-6, atol=1e-7)

    def test_closed_form_elementwise(self):
        x = np.array([0.5, 1.0, 2.0])
        expected = np.diag(np.cos(x))
        np.testing.assert_allclose(jacfwd(ad.sin)(x), expected)
        np.testing.assert_allclose(jacrev(ad.sin)(x), expected)

    def test_matrix_in_matrix_out_shape_and_values(self):
        X = RNG.standard_normal((2, 3))
        M = RNG.standard_normal((3, 2))

        def f(X):
            return X @ M  # (2, 2); d out[i,j] / d X[k,l] = [i == k] M[l, j]
        expected = np.einsum("ik,lj->ijkl", np.eye(2), M)
        for jac in (jacfwd, jacrev):
            J = jac(f)(X)
            assert J.shape == (2, 2, 2, 3)
            np.testing.assert_allclose(J, expected)

    def test_scalar_in_and_out(self):
        for jac in (jacfwd, jacrev):
            J = jac(lambda x: x ** 3)(2.0)
            assert np.shape(J) == ()
            assert float(J) == 12.0

    def test_argnums_tuple(self):
        x, y = np.array([1.0, 2.0]), np.array([3.0, 5.0])
        for jac in (jacfwd, jacrev):
            Jx, Jy = jac(lambda x, y: x * y, argnums=(0, 1))(x, y)
            np.testing.assert_allclose(Jx, np.diag(y))
            np.testing.assert_allclose(Jy, np.diag(x))

    def test_pytree_in_and_out(self):
        def f(p):
            return {"prod": p["a"] * p["b"], "sq": [ad.sum(p["a"] ** 2)]}
        p = {"a": np.array([1.0, 2.0]), "b": np.array(3.0)}
        for jac in (jacfwd, jacrev):
            J = jac(f)(p)
            np.testing.assert_allclose(J["prod"]["a"], 3.0 * np.eye(2))
            np.testing.assert_allclose(J["prod"]["b"], [1.0, 2.0])
            np.testing.assert_allclose(J["sq"][0]["a"], [2.0, 4.0])
            np.testing.assert_allclose(J["sq"][0]["b"], 0.0)
            assert isinstance(J["sq"], list)

    def test_tuple_output(self):
        for jac in (jacfwd, jacrev):
            J1, J2 = jac(lambda x: (x * 2, ad.sum(x)))(np.ones(3))
            np.testing.assert_allclose(J1, 2 * np.eye(3))
            np.testing.assert_allclose(J2, np.ones(3))

    def test_constant_output_gives_zeros(self):
        for jac in (jacfwd, jacrev):
            J = jac(lambda x: np.ones(2))(np.ones(3))
            np.testing.assert_array_equal(J, np.zeros((2, 3)))

    def test_float32(self):
        x = np.array([1.0, 2.0], dtype=np.float32)
        for jac in (jacfwd, jacrev):
            J = jac(lambda x: x * x)(x)
            assert J.dtype == np.float32
            np.testing.assert_allclose(J, np.diag(2 * x))

    def test_jacobian_alias(self):
        np.testing.assert_allclose(ad.jacobian(ad.exp)(np.zeros(2)), np.eye(2))


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 2 ** 31 - 1), st.integers(1, 4), st.integers(1, 4))
def test_random_mlp_jacfwd_equals_jacrev_and_fd(seed, n_in, n_out):
    rng = np.random.default_rng(seed)
    W1, b1 = rng.standard_normal((5, n_in)), rng.standard_normal(5)
    W2 = rng.standard_normal((n_out, 5))
    x = rng.standard_normal(n_in)

    def f(x):
        h = ad.tanh(W1 @ x + b1)
        return W2 @ (h * ad.sigmoid(h)) + ad.sum(x ** 2)
    Jf, Jr = jacfwd(f)(x), jacrev(f)(x)
    np.testing.assert_allclose(Jf, Jr, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(Jf, fd_jacobian(f, x), rtol=1e-5, atol=1e-7)


# ---- Hessians -----------------------------------------------------------------------------------
class TestHessian:
    def test_logistic_loss_closed_form(self):
        n, d = 20, 4
        A = RNG.standard_normal((n, d))
        y = np.where(RNG.standard_normal(n) > 0, 1.0, -1.0)
        w = RNG.standard_normal(d) * 0.5

        def loss(w):
            # sum_i log(1 + exp(-y_i a_i.w)) + |w|^2 / 2
            return ad.sum(ad.log1p(ad.exp(-y * (A @ w)))) + 0.5 * ad.sum(w * w)
        s = 1.0 / (1.0 + np.exp(-(A @ w)))
        expected = A.T @ np.diag(s * (1 - s)) @ A + np.eye(d)
        H = hessian(loss)(w)
        assert is_plain_array(H) and H.shape == (d, d)
        np.testing.assert_allclose(H, expected, rtol=1e-10, atol=1e-12)
        # gradient too: -A^T (y * sigmoid(-y a.w)) + w
        g = grad(loss)(w)
        np.testing.assert_allclose(g, -A.T @ (y / (1 + np.exp(y * (A @ w)))) + w, rtol=1e-10)

    def test_quadratic_form(self):
        M = RNG.standard_normal((3, 3))
        x = RNG.standard_normal(3)
        H = hessian(lambda x: x @ (M @ x))(x)
        np.testing.assert_allclose(H, M + M.T, rtol=1e-12, atol=1e-12)

    @pytest.mark.parametrize("name", ["tanh_matvec", "outer_exp", "div_log", "softmax",
                                      "cumsum_prod", "var_std", "index_mix"])
    def test_vs_finite_differences_of_grad(self, name):
        f = FUNCTIONS[name]
        w = np.arange(1.0, 1.0 + val(f(X0)).size)

        def s(x):
            return ad.sum(f(x) * w)
        H = hessian(s)(X0)
        Hn = fd_jacobian(lambda x: grad(s)(x), X0)
        np.testing.assert_allclose(H, Hn, rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(H, H.T, rtol=1e-10, atol=1e-10)

    def test_argnums_tuple(self):
        a, b = np.array([1.0, 2.0]), np.array(3.0)
        (Haa, Hab), (Hba, Hbb) = hessian(lambda a, b: ad.sum(a ** 2) * b, argnums=(0, 1))(a, b)
        np.testing.assert_allclose(Haa, 2 * 3.0 * np.eye(2))
        np.testing.assert_allclose(Hab, 2 * a)
        np.testing.assert_allclose(Hba, 2 * a)
        np.testing.assert_allclose(Hbb, 0.0)

    def test_dict_argument(self):
        p = {"a": np.array([1.0, 2.0]), "b": np.array(3.0)}
        H = hessian(lambda p: ad.sum(p["a"] ** 2 * p["b"]))(p)
        np.testing.assert_allclose(H["a"]["a"], 6.0 * np.eye(2))
        np.testing.assert_allclose(H["a"]["b"], [2.0, 4.0])
        np.testing.assert_allclose(H["b"]["a"], [2.0, 4.0])
        np.testing.assert_allclose(H["b"]["b"], 0.0)


class TestHVP:
    def test_closed_form(self):
        x = np.array([1.0, 2.0, -0.5])
        v = np.array([0.3, -1.0, 2.0])
        # f = sum(x^3) + x0 x1  ->  H = diag(6x) + [[0,1,0],[1,0,0],[0,0,0]]
        Hv = hvp(lambda x: ad.sum(x ** 3) + x[0] * x[1], x, v)
        H = np.diag(6 * x)
        H[0, 1] = H[1, 0] = 1.0
        assert is_plain_array(Hv)
        np.testing.assert_allclose(Hv, H @ v)

    def test_logistic_vs_finite_difference_of_grad(self):
        A = RNG.standard_normal((10, 3))
        x = RNG.standard_normal(3)
        v = RNG.standard_normal(3)

        def f(x):
            return ad.sum(ad.softplus(A @ x)) + ad.sum(ad.sin(x))
        h = 1e-5
        ref = (grad(f)(x + h * v) - grad(f)(x - h * v)) / (2 * h)
        np.testing.assert_allclose(hvp(f, x, v), ref, rtol=1e-6, atol=1e-8)
        s = 1 / (1 + np.exp(-(A @ x)))
        H = A.T @ np.diag(s * (1 - s)) @ A - np.diag(np.sin(x))
        np.testing.assert_allclose(hvp(f, x, v), H @ v, rtol=1e-10)


# ---- nesting and perturbation confusion ---------------------------------------------------------
class TestNesting:
    def test_grad_of_grad(self):
        assert float(grad(grad(lambda x: x ** 4))(2.0)) == 48.0

    def test_third_derivative(self):
        np.testing.assert_allclose(grad(grad(grad(ad.sin)))(0.3), -np.cos(0.3))

    def test_jacfwd_of_grad(self):
        x = np.array([1.0, 2.0])
        np.testing.assert_allclose(jacfwd(grad(lambda x: ad.sum(x ** 3)))(x), np.diag(6 * x))

    def test_jacrev_of_grad(self):
        x = np.array([1.0, 2.0])
        np.testing.assert_allclose(jacrev(grad(lambda x: ad.sum(x ** 3)))(x), np.diag(6 * x))

    def test_jacfwd_of_jacfwd(self):
        x = np.array([0.3, 0.7])
        s = lambda x: ad.sum(ad.sin(x) * x)  # noqa: E731
        np.testing.assert_allclose(jacfwd(jacfwd(s))(x), np.diag(2 * np.cos(x) - x * np.sin(x)))

    def test_jacrev_of_jacfwd(self):
        x = np.array([0.3, 0.7])
        s = lambda x: ad.sum(ad.sin(x) * x)  # noqa: E731
        np.testing.assert_allclose(jacrev(jacfwd(s))(x), np.diag(2 * np.cos(x) - x * np.sin(x)))

    def test_jacfwd_of_jacrev(self):
        x = np.array([0.3, 0.7])
        s = lambda x: ad.sum(ad.sin(x) * x)  # noqa: E731
        np.testing.assert_allclose(jacfwd(jacrev(s))(x), np.diag(2 * np.cos(x) - x * np.sin(x)))

    def test_jacrev_of_jacrev(self):
        x = np.array([0.3, 0.7])
        s = lambda x: ad.sum(ad.sin(x) * x)  # noqa: E731
        np.testing.assert_allclose(jacrev(jacrev(s))(x), np.diag(2 * np.cos(x) - x * np.sin(x)))

    def test_grad_through_inner_jacrev(self):
        # d/dx sum(diag(cos x)) = -sin x
        x = np.array([0.3, 0.7])
        g = grad(lambda x: ad.sum(jacrev(ad.sin)(x)))(x)
        np.testing.assert_allclose(g, -np.sin(x))

    def test_grad_through_inner_jacfwd(self):
        x = np.array([0.3, 0.7])
        g = grad(lambda x: ad.sum(jacfwd(ad.sin)(x)))(x)
        np.testing.assert_allclose(g, -np.sin(x))

    def test_jvp_of_grad_and_grad_of_jvp(self):
        f = lambda x: x ** 3  # noqa: E731
        # d/dx [3x^2] = 6x at 2 = 12
        assert float(jvp(grad(f), (2.0,), (1.0,))[1]) == 12.0
        assert float(grad(lambda x: jvp(f, (x,), (1.0,))[1])(2.0)) == 12.0


class TestPerturbationConfusion:
    """d/dx [x * d/dy (x + y)] = 1: the inner derivative must not see x's perturbation."""

    def test_reverse_over_reverse(self):
        assert float(grad(lambda x: x * grad(lambda y: x + y)(1.0))(3.0)) == 1.0

    def test_forward_over_forward(self):
        inner = lambda x: jvp(lambda y: x + y, (1.0,), (1.0,))[1]  # noqa: E731
        assert float(jvp(lambda x: x * inner(x), (3.0,), (1.0,))[1]) == 1.0

    def test_forward_over_reverse(self):
        assert float(jvp(lambda x: x * grad(lambda y: x + y)(1.0), (3.0,), (1.0,))[1]) == 1.0

    def test_reverse_over_forward(self):
        inner = lambda x: jvp(lambda y: x + y, (1.0,), (1.0,))[1]  # noqa: E731
        assert float(grad(lambda x: x * inner(x))(3.0)) == 1.0

    def test_jacfwd_nested(self):
        x = np.array([3.0, 2.0])
        # x_i * d/dy_j (x_i + y_i) = x_i * delta_ij; d/dx_k of that = delta_ij delta_ik
        J = jacfwd(lambda x: x * jacfwd(lambda y: x + y)(np.ones(2)))(x)
        expected = np.zeros((2, 2, 2))
        expected[0, 0, 0] = expected[1, 1, 1] = 1.0
        np.testing.assert_array_equal(J, expected)

    def test_siskind_pearlmutter(self):
        # d/dx [x * d/dy (x y)] = d/dx x^2 = 2x
        assert float(grad(lambda x: x * grad(lambda y: x * y)(5.0))(3.0)) == 6.0
        inner = lambda x: jvp(lambda y: x * y, (5.0,), (1.0,))[1]  # noqa: E731
        assert float(jvp(lambda x: x * inner(x), (3.0,), (1.0,))[1]) == 6.0


# ---- pytrees ------------------------------------------------------------------------------------
class TestPytrees:
    def test_grad_dict(self):
        p = {"a": np.array([1.0, 2.0]), "b": (np.array([3.0, 4.0]), np.array(5.0))}
        g = grad(lambda p: ad.sum(p["a"] * p["b"][0]) + p["b"][1] ** 2)(p)
        assert set(g) == {"a", "b"} and isinstance(g["b"], tuple)
        np.testing.assert_allclose(g["a"], [3.0, 4.0])
        np.testing.assert_allclose(g["b"][0], [1.0, 2.0])
        np.testing.assert_allclose(g["b"][1], 10.0)

    def test_grad_list_and_nested(self):
        xs = [np.array(2.0), [np.array([1.0, -1.0]), {"k": np.array(3.0)}]]
        g = grad(lambda xs: xs[0] * ad.sum(xs[1][0]) + xs[1][1]["k"] ** 3)(xs)
        assert isinstance(g, list) and isinstance(g[1], list) and isinstance(g[1][1], dict)
        np.testing.assert_allclose(g[0], 0.0)
        np.testing.assert_allclose(g[1][0], [2.0, 2.0])
        np.testing.assert_allclose(g[1][1]["k"], 27.0)

    def test_grad_pytree_with_scalar_leaves_and_tensors(self):
        p = {"w": Tensor([1.0, 2.0]), "c": 3.0}
        g = grad(lambda p: ad.sum(p["w"] * p["c"]))(p)
        assert is_plain_array(g["w"]) and is_plain_array(g["c"])
        np.testing.assert_allclose(g["w"], [3.0, 3.0])
        np.testing.assert_allclose(g["c"], 3.0)

    def test_tree_flatten_roundtrip(self):
        tree = {"b": (1.0, [2.0, 3.0]), "a": 4.0}
        leaves, tdef = ad.tree_flatten(tree)
        assert leaves == [4.0, 1.0, 2.0, 3.0]  # dict keys sorted
        assert ad.tree_unflatten(tdef, leaves) == tree


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
