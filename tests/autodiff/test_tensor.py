"""Tensor / Node API: construction, reverse-mode gradients of every operator against closed
forms, float32, repr. Backward semantics, no_grad and deep graphs are in test_tensor_backward.py;
comparisons, indexing and errors in test_tensor_indexing_and_errors.py.

Every expected gradient here is an independent reference (a closed form or numpy), never the
engine's own output.
"""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import autodiff as ad
from autodiff import Node, Tensor

from .helpers import leaf


# ---- construction and attributes ----------------------------------------------------------------
class TestConstruction:
    def test_python_numbers_and_lists_become_float64(self):
        for v in (3, 2.5, [1, 2, 3], [[1.0, 2.0]], True):
            t = Tensor(v)
            assert t.dtype == np.float64
            assert isinstance(t.value, np.ndarray)
            np.testing.assert_array_equal(t.value, np.asarray(v, dtype=np.float64))

    def test_float32_is_kept(self):
        t = Tensor(np.ones((2, 3), dtype=np.float32))
        assert t.dtype == np.float32
        assert Tensor(np.float32(2.0)).dtype == np.float32

    def test_float64_array_is_kept(self):
        a = np.arange(6.0).reshape(2, 3)
        t = Tensor(a)
        assert t.dtype == np.float64
        assert t.shape == (2, 3)
        assert t.ndim == 2
        assert t.size == 6
        np.testing.assert_array_equal(t.value, a)

    def test_explicit_dtype(self):
        t = Tensor([1, 2], dtype=np.float32)
        assert t.dtype == np.float32

    def test_tensor_of_tensor_copies_value_not_graph(self):
        x = leaf([1.0, 2.0])
        t = Tensor(x * 2)
        assert not t.requires_grad
        np.testing.assert_array_equal(t.value, [2.0, 4.0])

    def test_default_does_not_require_grad(self):
        t = Tensor([1.0])
        assert not t.requires_grad
        assert t.grad is None
        assert t.is_leaf

    def test_requires_grad_flag(self):
        t = Tensor([1.0, 2.0], requires_grad=True)
        assert t.requires_grad
        assert t.is_leaf
        assert t.grad is None

    def test_requires_grad_can_be_set_on_a_leaf(self):
        t = Tensor([1.0, 2.0])
        t.requires_grad = True
        y = ad.sum(t * t)
        y.backward()
        np.testing.assert_allclose(t.grad, [2.0, 4.0])

    def test_result_of_op_is_not_a_leaf(self):
        y = leaf([1.0]) * 2
        assert y.requires_grad
        assert not y.is_leaf

    def test_node_is_float64_and_requires_grad(self):
        n = Node(2)
        assert isinstance(n, Tensor)
        assert n.dtype == np.float64
        assert n.requires_grad
        assert n.shape == ()

    def test_len_iter_float(self):
        t = Tensor([1.0, 2.0, 3.0])
        assert len(t) == 3
        assert [float(e) for e in t] == [1.0, 2.0, 3.0]
        assert float(Tensor(2.5)) == 2.5
        assert Tensor(4.0).item() == 4.0
        with pytest.raises(TypeError):
            len(Tensor(1.0))

    def test_transpose_property(self):
        t = Tensor(np.arange(6.0).reshape(2, 3))
        np.testing.assert_array_equal(t.T.value, np.arange(6.0).reshape(2, 3).T)

    def test_constant_tensor_converts_to_numpy(self):
        np.testing.assert_array_equal(np.asarray(Tensor([1.0, 2.0])), [1.0, 2.0])

    def test_differentiated_tensor_refuses_silent_numpy_conversion(self):
        with pytest.raises(TypeError):
            np.asarray(leaf([1.0, 2.0]))


# ---- the paper's example ------------------------------------------------------------------------
class TestPaperExample:
    def test_exact_values(self):
        w, x, y, z = Node(2), Node(3), Node(4), Node(2)
        a = (x + y) ** z - w
        a.backward()
        assert float(a.value) == 47.0
        assert x.grad == 14
        assert y.grad == 14
        assert z.grad == 49 * math.log(7)
        assert w.grad == -1

    def test_grads_are_numpy_not_tensors(self):
        x, y = Node(3), Node(4)
        (x * y).backward()
        assert not isinstance(x.grad, Tensor)
        assert isinstance(x.grad, (np.ndarray, np.generic))
        assert x.grad == 4 and y.grad == 3


# ---- operators against closed forms -------------------------------------------------------------
RNG = np.random.default_rng(42)
A = RNG.uniform(0.5, 2.0, size=(3, 4))
B = RNG.uniform(0.5, 2.0, size=(3, 4))
G = RNG.standard_normal((3, 4))  # a seed (cotangent)


def _grads(op, a=A, b=B, seed=G):
    x, y = leaf(a), leaf(b)
    out = op(x, y)
    out.backward(seed)
    return x.grad, y.grad


class TestOperators:
    def test_add(self):
        gx, gy = _grads(lambda x, y: x + y)
        np.testing.assert_allclose(gx, G)
        np.testing.assert_allclose(gy, G)

    def test_sub(self):
        gx, gy = _grads(lambda x, y: x - y)
        np.testing.assert_allclose(gx, G)
        np.testing.assert_allclose(gy, -G)

    def test_mul(self):
        gx, gy = _grads(lambda x, y: x * y)
        np.testing.assert_allclose(gx, G * B)
        np.testing.assert_allclose(gy, G * A)

    def test_div(self):
        gx, gy = _grads(lambda x, y: x / y)
        np.testing.assert_allclose(gx, G / B)
        np.testing.assert_allclose(gy, -G * A / B ** 2)

    def test_pow(self):
        gx, gy = _grads(lambda x, y: x ** y)
        np.testing.assert_allclose(gx, G * B * A ** (B - 1))
        np.testing.assert_allclose(gy, G * A ** B * np.log(A))

    def test_neg(self):
        x = leaf(A)
        (-x).backward(G)
        np.testing.assert_allclose(x.grad, -G)

    def test_reflected_scalar_operators(self):
        x = leaf(A)
        out = 2.0 + x
        out = out + (3.0 - x) + (4.0 * x) + (5.0 / x) + (2.0 ** x)
        out.backward(G)
        expected = G * (1 - 1 + 4 - 5.0 / A ** 2 + 2.0 ** A * np.log(2.0))
        np.testing.assert_allclose(x.grad, expected)

    def test_numpy_array_on_the_left(self):
        x = leaf([1.0, 2.0])
        r = np.array([10.0, 20.0]) - x
        assert isinstance(r, Tensor)
        np.testing.assert_array_equal(r.value, [9.0, 18.0])
        ad.sum(np.array([3.0, 4.0]) * r).backward()
        np.testing.assert_allclose(x.grad, [-3.0, -4.0])

    def test_pow_at_zero_base(self):
        x, y = Node(0.0), Node(2.0)
        (x ** y).backward()
        assert x.grad == 0.0   # 2 * 0 ** 1
        assert y.grad == 0.0   # 0 ** 2 * log 0 -> 0, not nan

    def test_matmul_matrix_vector(self):
        M = RNG.standard_normal((2, 3))
        v = RNG.standard_normal(3)
        g = RNG.standard_normal(2)
        X, y = leaf(M), leaf(v)
        (X @ y).backward(g)
        np.testing.assert_allclose(X.grad, np.outer(g, v))
        np.testing.assert_allclose(y.grad, M.T @ g)

    def test_matmul_matrix_matrix(self):
        M = RNG.standard_normal((2, 3))
        N = RNG.standard_normal((3, 4))
        g = RNG.standard_normal((2, 4))
        X, Y = leaf(M), leaf(N)
        (X @ Y).backward(g)
        np.testing.assert_allclose(X.grad, g @ N.T)
        np.testing.assert_allclose(Y.grad, M.T @ g)

    def test_vector_dot_vector(self):
        a, b = RNG.standard_normal(4), RNG.standard_normal(4)
        x, y = leaf(a), leaf(b)
        out = x @ y
        assert out.shape == ()
        out.backward()
        np.testing.assert_allclose(x.grad, b)
        np.testing.assert_allclose(y.grad, a)

    def test_numpy_matrix_at_tensor(self):
        M = RNG.standard_normal((2, 3))
        x = leaf(RNG.standard_normal(3))
        ad.sum(M @ x).backward()
        np.testing.assert_allclose(x.grad, M.T @ np.ones(2))

    def test_broadcast_gradients_are_summed_back(self):
        a = RNG.standard_normal((3, 1))
        b = RNG.standard_normal((1, 4))
        g = RNG.standard_normal((3, 4))
        x, y = leaf(a), leaf(b)
        (x * y).backward(g)
        np.testing.assert_allclose(x.grad, (g * b).sum(axis=1, keepdims=True))
        np.testing.assert_allclose(y.grad, (g * a).sum(axis=0, keepdims=True))
        assert x.grad.shape == (3, 1) and y.grad.shape == (1, 4)

    def test_broadcast_scalar_tensor(self):
        s = Node(2.0)
        v = leaf([1.0, 2.0, 3.0])
        ad.sum(s * v).backward()
        assert s.grad == 6.0
        np.testing.assert_allclose(v.grad, [2.0, 2.0, 2.0])

    def test_same_leaf_used_twice(self):
        x = Node(3.0)
        (x * x + x).backward()
        assert x.grad == 7.0

    def test_diamond_graph(self):
        # y = a*b with a = x^2, b = sin x  ->  dy/dx = 2x sin x + x^2 cos x
        x = Node(0.7)
        a = x * x
        b = ad.sin(x)
        (a * b).backward()
        np.testing.assert_allclose(x.grad, 2 * 0.7 * np.sin(0.7) + 0.49 * np.cos(0.7))

    def test_methods(self):
        a = RNG.standard_normal((2, 3))
        x = leaf(a)
        out = x.sum() + x.mean(axis=0).sum() + x.exp().sum() + x.reshape(3, 2)[0, 1]
        out.backward()
        expected = np.ones_like(a) + 0.5 + np.exp(a)
        expected.reshape(3, 2)[0, 1] += 1
        np.testing.assert_allclose(x.grad, expected)


@settings(max_examples=25, deadline=None)
@given(st.sampled_from([((3,), (3,)), ((2, 3), (3,)), ((2, 1), (1, 3)), ((4, 1, 2), (3, 1)),
                        ((), (2, 2)), ((1,), (5,))]),
       st.integers(0, 2 ** 31 - 1))
def test_broadcast_mul_matches_numpy_reduction(shapes, seed):
    sa, sb = shapes
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal(sa), rng.standard_normal(sb)
    out_shape = np.broadcast_shapes(sa, sb)
    g = rng.standard_normal(out_shape)
    x, y = leaf(a), leaf(b)
    (x * y).backward(g)

    def reduce_to(full, shape):
        full = full.sum(axis=tuple(range(full.ndim - len(shape))))
        return full.sum(axis=tuple(i for i, n in enumerate(shape) if n == 1), keepdims=True)
    np.testing.assert_allclose(x.grad, reduce_to(g * b, sa).reshape(sa))
    np.testing.assert_allclose(y.grad, reduce_to(g * a, sb).reshape(sb))


# ---- float32 ------------------------------------------------------------------------------------
class TestFloat32:
    def test_ops_keep_float32(self):
        x = leaf(np.array([1.0, 2.0, 3.0]), dtype=np.float32)
        assert x.dtype == np.float32
        y = x * 2.5 + 1.0
        y = ad.exp(y / 3.0) - x ** 2
        assert y.dtype == np.float32
        z = ad.sum(y)
        assert z.dtype == np.float32
        z.backward()
        assert x.grad.dtype == np.float32
        a = np.array([1.0, 2.0, 3.0])
        np.testing.assert_allclose(x.grad, np.exp((a * 2.5 + 1) / 3) * 2.5 / 3 - 2 * a,
                                   rtol=1e-5)

    def test_float32_matmul(self):
        M = np.arange(6, dtype=np.float32).reshape(2, 3)
        v = leaf(np.array([1.0, -1.0, 2.0]), dtype=np.float32)
        ad.sum(M @ v).backward()
        assert v.grad.dtype == np.float32
        np.testing.assert_allclose(v.grad, M.sum(axis=0))


# ---- repr ---------------------------------------------------------------------------------------
class TestRepr:
    def test_constant(self):
        r = repr(Tensor([1.0, 2.0]))
        assert r.startswith("Tensor(") and "1." in r and "2." in r
        assert "requires_grad" not in r

    def test_leaf(self):
        assert "requires_grad=True" in repr(Node(3.0))

    def test_op_result_names_op(self):
        assert "multiply" in repr(Node(2.0) * 3)

    def test_float32_shows_dtype(self):
        assert "float32" in repr(Tensor(np.ones(2, dtype=np.float32)))
