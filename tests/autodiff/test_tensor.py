"""Tensor / Node API: construction, reverse-mode gradients of every operator against closed
forms, accumulation, detach, no_grad, float32, comparisons, indexing, errors, deep graphs, repr.

Every expected gradient here is an independent reference (a closed form or numpy), never the
engine's own output.
"""
import math
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import autodiff as ad
from autodiff import Node, Tensor, no_grad


def leaf(x, dtype=None):
    return Tensor(np.asarray(x, dtype=dtype if dtype is not None else np.float64),
                  requires_grad=True)


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


# ---- backward semantics -------------------------------------------------------------------------
class TestBackward:
    def test_accumulates_across_calls(self):
        x = leaf([1.0, 2.0, 3.0])
        y = ad.sum(x * x)
        y.backward()
        y.backward()
        np.testing.assert_allclose(x.grad, 2 * 2 * np.array([1.0, 2.0, 3.0]))

    def test_accumulates_across_graphs(self):
        x = Node(3.0)
        (x * x).backward()
        (-x).backward()
        assert x.grad == 6.0 - 1.0

    def test_zero_grad_resets(self):
        x = Node(3.0)
        (x * x).backward()
        x.zero_grad()
        assert x.grad is None
        (x * 2).backward()
        assert x.grad == 2.0

    def test_seed_scales_gradient(self):
        x = Node(3.0)
        (x * x).backward(5.0)
        assert x.grad == 30.0

    def test_seed_may_be_a_constant_tensor(self):
        x = Node(3.0)
        (x * x).backward(Tensor(2.0))
        assert x.grad == 12.0

    def test_vector_output_with_seed(self):
        a = np.array([1.0, 2.0, 3.0])
        x = leaf(a)
        s = np.array([1.0, -1.0, 0.5])
        (x ** 3).backward(s)
        np.testing.assert_allclose(x.grad, 3 * a ** 2 * s)

    def test_only_leaves_get_grad(self):
        x = Node(2.0)
        h = x * 3
        (h * h).backward()
        assert x.grad == 2 * 6.0 * 3
        assert h.grad is None

    def test_constant_operands_get_no_grad(self):
        x = Node(2.0)
        c = Tensor(5.0)
        (x * c).backward()
        assert c.grad is None
        assert x.grad == 5.0

    def test_detach_stops_gradient(self):
        x = Node(3.0)
        d = x.detach()
        assert not d.requires_grad and d.is_leaf
        assert float(d.value) == 3.0
        (x * d).backward()           # d/dx (x * const) = const
        assert x.grad == 3.0

    def test_detach_of_intermediate(self):
        x = leaf([1.0, 2.0])
        h = x * x
        hd = h.detach()
        np.testing.assert_array_equal(hd.value, [1.0, 4.0])
        assert not hd.requires_grad
        ad.sum(x * hd).backward()
        np.testing.assert_allclose(x.grad, [1.0, 4.0])

    def test_numpy_method_is_detached(self):
        x = leaf([1.0, 2.0])
        arr = (x * 2).numpy()
        assert isinstance(arr, np.ndarray)
        np.testing.assert_array_equal(arr, [2.0, 4.0])

    def test_requires_grad_false_on_non_leaf_is_refused(self):
        y = leaf([1.0]) * 2
        with pytest.raises(ValueError):
            y.requires_grad = False


# ---- no_grad ------------------------------------------------------------------------------------
class TestNoGrad:
    def test_results_do_not_require_grad(self):
        x = leaf([1.0, 2.0])
        with no_grad():
            y = x * 2 + 1
        # an op on Tensors gives a Tensor, recorded or not (as in PyTorch)
        assert isinstance(y, Tensor)
        assert not y.requires_grad
        np.testing.assert_array_equal(y.value, [3.0, 5.0])

    def test_nothing_recorded_so_backward_refuses(self):
        x = leaf([1.0, 2.0])
        with no_grad():
            y = ad.sum(x * x)
        with pytest.raises((ValueError, AttributeError)):
            y.backward()
        assert x.grad is None

    def test_values_are_still_computed(self):
        x = leaf([1.0, 4.0])
        with no_grad():
            y = ad.sqrt(x) * 3
        np.testing.assert_allclose(np.asarray(getattr(y, "value", y)), [3.0, 6.0])

    def test_is_grad_enabled_restored(self):
        assert ad.is_grad_enabled()
        with no_grad():
            assert not ad.is_grad_enabled()
            with no_grad():
                assert not ad.is_grad_enabled()
            assert not ad.is_grad_enabled()
        assert ad.is_grad_enabled()

    def test_restored_after_exception(self):
        with pytest.raises(RuntimeError):
            with no_grad():
                raise RuntimeError("boom")
        assert ad.is_grad_enabled()

    def test_enable_grad_inside_no_grad(self):
        x = leaf([1.0, 2.0])
        with no_grad():
            with ad.enable_grad():
                y = ad.sum(x * x)
        assert y.requires_grad
        y.backward()
        np.testing.assert_allclose(x.grad, [2.0, 4.0])

    def test_decorator(self):
        @no_grad()
        def f(t):
            assert not ad.is_grad_enabled()
            return t * 2

        x = leaf([1.0])
        y = f(x)
        assert not getattr(y, "requires_grad", False)
        assert ad.is_grad_enabled()

    def test_recording_resumes_after(self):
        x = leaf([1.0, 2.0])
        with no_grad():
            x * 2
        y = ad.sum(x * 3)
        y.backward()
        np.testing.assert_allclose(x.grad, [3.0, 3.0])


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


# ---- comparisons --------------------------------------------------------------------------------
class TestComparisons:
    @pytest.mark.parametrize("op", ["__lt__", "__le__", "__gt__", "__ge__", "__eq__", "__ne__"])
    def test_return_numpy_bool_arrays(self, op):
        a = np.array([1.0, 2.0, 3.0])
        b = np.array([2.0, 2.0, 2.0])
        for lhs in (Tensor(a), leaf(a)):
            for rhs in (b, Tensor(b), leaf(b), 2.0):
                got = getattr(lhs, op)(rhs)
                assert isinstance(got, np.ndarray) and not isinstance(got, Tensor)
                assert got.dtype == bool
                np.testing.assert_array_equal(got, getattr(a, op)(np.asarray(b)))

    def test_operator_syntax(self):
        t = leaf([1.0, 2.0, 3.0])
        np.testing.assert_array_equal(t < 2, [True, False, False])
        np.testing.assert_array_equal(t >= 2, [False, True, True])
        np.testing.assert_array_equal(t == Tensor([1.0, 0.0, 3.0]), [True, False, True])
        np.testing.assert_array_equal(t != 3, [True, True, False])

    def test_comparison_result_usable_as_mask(self):
        x = leaf([-1.0, 2.0, -3.0, 4.0])
        ad.sum(x * (x > 0)).backward()
        np.testing.assert_array_equal(x.grad, [0.0, 1.0, 0.0, 1.0])

    def test_tensor_is_hashable(self):
        t = Tensor([1.0])
        assert {t: 1}[t] == 1


# ---- indexing -----------------------------------------------------------------------------------
class TestIndexing:
    def test_integer(self):
        x = leaf([1.0, 2.0, 3.0])
        x[1].backward()
        np.testing.assert_array_equal(x.grad, [0.0, 1.0, 0.0])

    def test_negative_integer_and_value(self):
        x = leaf([1.0, 2.0, 3.0])
        y = x[-1] * 5
        assert float(y.value) == 15.0
        y.backward()
        np.testing.assert_array_equal(x.grad, [0.0, 0.0, 5.0])

    def test_slice_with_step(self):
        x = leaf([1.0, 2.0, 3.0, 4.0])
        x[::-2].backward(np.array([10.0, 20.0]))
        np.testing.assert_array_equal(x.grad, [0.0, 20.0, 0.0, 10.0])

    def test_repeated_integer_indices_accumulate(self):
        x = leaf([1.0, 2.0, 3.0])
        ad.sum(x[[0, 0, 2, 0]] * np.array([1.0, 2.0, 3.0, 4.0])).backward()
        np.testing.assert_array_equal(x.grad, [7.0, 0.0, 3.0])

    def test_boolean_mask(self):
        a = np.array([1.0, -2.0, 3.0, -4.0])
        x = leaf(a)
        y = x[a > 0]
        np.testing.assert_array_equal(y.value, [1.0, 3.0])
        ad.sum(y * y).backward()
        np.testing.assert_array_equal(x.grad, [2.0, 0.0, 6.0, 0.0])

    def test_two_dimensional(self):
        a = np.arange(12.0).reshape(3, 4)
        x = leaf(a)
        x[1:, ::2].backward(np.array([[1.0, 2.0], [3.0, 4.0]]))
        expected = np.zeros((3, 4))
        expected[1:, ::2] = [[1.0, 2.0], [3.0, 4.0]]
        np.testing.assert_array_equal(x.grad, expected)

    def test_column_and_ellipsis_and_newaxis(self):
        a = np.arange(12.0).reshape(3, 4)
        x = leaf(a)
        np.testing.assert_array_equal(x[:, 1].value, a[:, 1])
        np.testing.assert_array_equal(x[..., 2].value, a[..., 2])
        assert x[None].shape == (1, 3, 4)
        (ad.sum(x[:, 1] * np.array([1.0, 2.0, 3.0])) + ad.sum(x[None])).backward()
        expected = np.ones((3, 4))
        expected[:, 1] += [1.0, 2.0, 3.0]
        np.testing.assert_array_equal(x.grad, expected)

    def test_integer_array_pair(self):
        a = np.arange(12.0).reshape(3, 4)
        x = leaf(a)
        y = x[[0, 2, 0], [1, 3, 1]]
        np.testing.assert_array_equal(y.value, a[[0, 2, 0], [1, 3, 1]])
        ad.sum(y).backward()
        expected = np.zeros((3, 4))
        expected[0, 1] = 2.0
        expected[2, 3] = 1.0
        np.testing.assert_array_equal(x.grad, expected)

    def test_float_index_refused(self):
        with pytest.raises(TypeError):
            leaf([1.0, 2.0])[np.array([0.0])]


# ---- errors -------------------------------------------------------------------------------------
class TestErrors:
    @pytest.mark.parametrize("requires_grad", [False, True])
    def test_shape_mismatch_names_op_and_shapes(self, requires_grad):
        with pytest.raises(ValueError) as e:
            Tensor(np.ones(3), requires_grad=requires_grad) + Tensor(np.ones(4))
        msg = str(e.value)
        assert "add" in msg
        assert "(3,)" in msg and "(4,)" in msg

    def test_shape_mismatch_mul_and_matmul(self):
        with pytest.raises(ValueError, match="multiply"):
            leaf(np.ones((2, 3))) * Tensor(np.ones(2))
        with pytest.raises(ValueError, match="matmul"):
            leaf(np.ones((2, 3))) @ Tensor(np.ones((2, 3)))

    @pytest.mark.parametrize("value", [np.arange(3), np.array([True, False]), np.int32(3)])
    def test_requires_grad_on_non_float_is_type_error(self, value):
        with pytest.raises(TypeError):
            Tensor(value, requires_grad=True)

    def test_non_float_without_requires_grad_is_allowed(self):
        t = Tensor(np.arange(3))
        assert t.dtype.kind == "i"

    def test_backward_of_non_scalar_needs_seed(self):
        y = leaf(np.ones(3)) * 2
        with pytest.raises(ValueError) as e:
            y.backward()
        assert "seed" in str(e.value) and "(3,)" in str(e.value)

    @pytest.mark.parametrize("seed", [np.nan, np.inf, -np.inf])
    def test_non_finite_scalar_seed(self, seed):
        x = Node(2.0)
        with pytest.raises(ValueError):
            (x * x).backward(seed)
        assert x.grad is None

    def test_nan_in_array_seed(self):
        x = leaf(np.ones(3))
        with pytest.raises(ValueError):
            (x * 2).backward(np.array([1.0, np.nan, 1.0]))
        assert x.grad is None

    @pytest.mark.parametrize("seed", [np.ones(2), np.ones((3, 1)), np.ones(4)])
    def test_wrong_seed_shape(self, seed):
        x = leaf(np.ones(3))
        with pytest.raises(ValueError) as e:
            (x * 2).backward(seed)
        assert "shape" in str(e.value)

    def test_backward_on_constant(self):
        with pytest.raises(ValueError):
            Tensor([1.0, 2.0]).sum().backward()


# ---- deep graphs --------------------------------------------------------------------------------
class TestDeepChain:
    N = 100_000

    def test_multiplicative_chain(self):
        t0 = time.perf_counter()
        x = Node(1.0)
        y = x
        for _ in range(self.N):
            y = y * 1.0000001
        y.backward()
        elapsed = time.perf_counter() - t0
        np.testing.assert_allclose(x.grad, 1.0000001 ** self.N, rtol=1e-10)
        assert elapsed < 5.0, f"depth-{self.N} chain took {elapsed:.2f}s"

    def test_additive_chain(self):
        t0 = time.perf_counter()
        x = Node(1.0)
        y = x
        for _ in range(self.N):
            y = y + 0.0
        y.backward()
        elapsed = time.perf_counter() - t0
        assert x.grad == 1.0
        assert elapsed < 5.0, f"depth-{self.N} chain took {elapsed:.2f}s"

    def test_chain_through_shared_intermediates(self):
        # y_{k+1} = y_k + y_k  ->  d y_n / dx = 2^n (each node reached by two edges)
        n = 1000
        x = Node(1.0)
        y = x
        for _ in range(n):
            y = y + y
        y.backward()
        assert x.grad == 2.0 ** n


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
