"""Tensor / Node API: backward semantics (accumulation, seeds, detach), no_grad and enable_grad,
deep graphs.

Every expected gradient here is an independent reference (a closed form or numpy), never the
engine's own output.
"""
import numpy as np
import pytest

import autodiff as ad
from autodiff import Node, Tensor, no_grad

from .helpers import leaf


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


# ---- deep graphs --------------------------------------------------------------------------------
class TestDeepChain:
    N = 100_000

    def test_multiplicative_chain(self):
        x = Node(1.0)
        y = x
        for _ in range(self.N):
            y = y * 1.0000001
        y.backward()  # far past the recursion limit: the backward pass must be iterative
        np.testing.assert_allclose(x.grad, 1.0000001 ** self.N, rtol=1e-10)

    def test_additive_chain(self):
        x = Node(1.0)
        y = x
        for _ in range(self.N):
            y = y + 0.0
        y.backward()
        assert x.grad == 1.0

    def test_chain_through_shared_intermediates(self):
        # y_{k+1} = y_k + y_k  ->  d y_n / dx = 2^n (each node reached by two edges)
        n = 1000
        x = Node(1.0)
        y = x
        for _ in range(n):
            y = y + y
        y.backward()
        assert x.grad == 2.0 ** n
