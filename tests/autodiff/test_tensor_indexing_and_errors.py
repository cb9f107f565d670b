"""Tensor / Node API: comparisons (numpy bool arrays, usable as masks), indexing and its
gradients, and errors (shape mismatches, dtypes, seeds, backward on constants).

Every expected gradient here is an independent reference (a closed form or numpy), never the
engine's own output.
"""
import numpy as np
import pytest

import autodiff as ad
from autodiff import Node, Tensor

from .helpers import leaf


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


@pytest.mark.parametrize("index", [[0, 2, 2, -1, 0, 4], [3, 3, 3]])
def test_gather_over_rows_gradient_adds_repeats_as_numpy_add_at(index):
    """x[:, index] (the batched gather of a hierarchical model's x[county] under vmap, one
    bincount) and x[index] on one axis: the gradient of sum(w * x[..]) is w scattered with
    repeats adding up, as np.add.at writes it."""
    rng = np.random.default_rng(0)
    idx = np.array(index)
    x = rng.standard_normal((3, 5))
    w = rng.standard_normal((3, idx.size))
    g = ad.grad(lambda t: ad.sum(w * t[:, idx]))(x)
    want = np.zeros((3, 5))
    np.add.at(want, (slice(None), idx), w)
    np.testing.assert_allclose(g, want, rtol=1e-15)
    per_row = ad.vmap(ad.grad(lambda r: ad.sum(w[0] * r[idx])))(x)
    want_row = np.zeros((3, 5))
    np.add.at(want_row, (slice(None), idx), np.broadcast_to(w[0], (3, idx.size)))
    np.testing.assert_allclose(per_row, want_row, rtol=1e-15)
