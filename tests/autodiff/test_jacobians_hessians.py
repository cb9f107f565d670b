"""Functional API (JAX conventions): jacfwd, jacrev, hessian, hvp.

References are independent of the engine: closed forms, numpy, and central finite differences
computed with plain numpy evaluations (helpers.fd_jacobian).
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import autodiff as ad
from autodiff import grad, hessian, hvp, jacfwd, jacrev

from .helpers import RNG, fd_jacobian, is_plain_array, rng_for, val


# ---- Jacobians ----------------------------------------------------------------------------------
_A = rng_for("_A").standard_normal((4, 3))     # module constants: seeded by their names
_B = rng_for("_B").standard_normal((3, 3))
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
