"""Functional API (JAX conventions): transforms nested in transforms, perturbation confusion,
pytree arguments and results.

References are closed forms.
"""
import numpy as np
import pytest

import autodiff as ad
from autodiff import Tensor, grad, jacfwd, jacrev, jvp

from .helpers import is_plain_array


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

    @pytest.mark.parametrize("outer, inner", [(jacfwd, jacfwd), (jacrev, jacfwd),
                                              (jacfwd, jacrev), (jacrev, jacrev)],
                             ids=["fwd-of-fwd", "rev-of-fwd", "fwd-of-rev", "rev-of-rev"])
    def test_jacobian_of_jacobian(self, outer, inner):
        # Hessian of sum(x sin x): diag(2 cos x - x sin x)
        x = np.array([0.3, 0.7])
        s = lambda x: ad.sum(ad.sin(x) * x)  # noqa: E731
        np.testing.assert_allclose(outer(inner(s))(x), np.diag(2 * np.cos(x) - x * np.sin(x)))

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
