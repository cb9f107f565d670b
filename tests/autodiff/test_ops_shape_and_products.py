"""Shape ops, indexing and matrix products: values against numpy and derivatives to second
order, forward and reverse, against finite differences (tables SHAPE_OPS and PRODUCTS in
helpers.py, index expressions in GETITEM here)."""
import numpy as np
import pytest

import autodiff as ad

from .helpers import PRODUCTS, SHAPE_OPS, check_case, rng_for

# ---- shape ops and indexing ---------------------------------------------------------------------
_MASK = np.array([[True, False, True], [False, False, True]])

GETITEM = [  # index expressions, applied to x of the given shape
    (1, (3,)), (-1, (2, 3)), (slice(1, None), (3,)), (slice(None, None, -1), (3,)),
    (slice(None, None, -2), (2, 5)), ((slice(None), slice(None, None, -2)), (2, 5)),
    ((0, slice(1, None)), (2, 3)), ((1, 2), (2, 3)), (None, ()), (None, (2, 3)),
    ((Ellipsis,), ()), ((Ellipsis, 1), (2, 3, 2)),
    ((slice(None), None, slice(None, None, 2)), (2, 3)),
    ((Ellipsis, None), (2, 3)), ((1, Ellipsis, None, slice(1, 2)), (2, 3, 2)),
    ([0, 0, 2], (3,)), (np.array([[0, 1], [1, 1]]), (3,)), ((slice(None), [2, 0, 2]), (2, 3)),
    (([1, 0, 1], [2, 2, 2]), (2, 3)), ((Ellipsis, [1, 1]), (2, 2, 3)),
    ((0, slice(None), [1, 2, 1]), (2, 3, 4)),  # split advanced indices: numpy moves them first
    (([0, 1], slice(None), [3, 3]), (2, 3, 4)),
    ((np.array([[0], [1]]), slice(1, 3), np.array([0, 2, 2])), (2, 3, 4)),
    (_MASK, (2, 3)), (np.array([True, False, True]), (3,)),
    ((slice(None), [True, False, True]), (2, 3)), ((_MASK, slice(None, None, -1)), (2, 3, 2)),
    ((1, _MASK[0], 0), (2, 3, 2)), ((_MASK[0], slice(None), 0), (3, 2, 2)),
    (np.array(True), ()),
]


@pytest.mark.parametrize("op,f,ref,shapes", SHAPE_OPS, ids=[r[0] for r in SHAPE_OPS])
def test_shape_op(op, f, ref, shapes):
    rng = rng_for(op, shapes)
    check_case(f, ref, tuple(rng.uniform(-2, 2, s) for s in shapes))


@pytest.mark.parametrize("idx,shp", GETITEM, ids=[f"getitem-{i}-{s}" for i, s in GETITEM])
def test_getitem(idx, shp):
    x = rng_for(repr(idx), shp).uniform(-2, 2, shp)
    check_case(lambda x: x[idx], lambda x: x[idx], (x,))
    check_case(lambda x: ad.getitem(x, idx), lambda x: x[idx], (x,))


def test_getitem_repeated_indices_add_up():
    g = ad.grad(lambda x: ad.sum(x[[0, 2, 0, 0]] * np.array([1.0, 2.0, 3.0, 4.0])))(np.zeros(3))
    np.testing.assert_array_equal(g, [8.0, 0.0, 2.0])
    g = ad.grad(lambda x: ad.sum(x[_MASK] * 2.0))(np.zeros((2, 3)))
    np.testing.assert_array_equal(g, 2.0 * _MASK)


def test_getitem_with_index_tensor():
    i = ad.Tensor(np.array([2, 0, 2]))
    g = ad.grad(lambda x: ad.sum(x[i]))(np.arange(3.0))
    np.testing.assert_array_equal(g, [1.0, 0.0, 2.0])


# ---- matrix products ----------------------------------------------------------------------------
@pytest.mark.parametrize("op,f,ref,shapes", PRODUCTS,
                         ids=[f"{r[0]}-{'@'.join(map(str, r[3]))}" for r in PRODUCTS])
def test_product(op, f, ref, shapes):
    rng = rng_for(op, shapes)
    check_case(f, ref, tuple(rng.uniform(-2, 2, s) for s in shapes))


def test_dot_rejects_batched_arrays():
    with pytest.raises(ValueError, match="dot"):
        ad.dot(ad.Tensor(np.ones((2, 2, 2))), ad.Tensor(np.ones((2, 2))))


def test_argsort_is_an_index_array_and_sort_sends_gradients_home():
    x = np.array([[3.0, 1.0, 2.0], [0.5, 0.5, -1.0]])
    idx = ad.argsort(ad.Tensor(x))
    assert isinstance(idx, np.ndarray) and idx.dtype.kind == "i"
    np.testing.assert_array_equal(idx, np.argsort(x, kind="stable"))
    w = np.array([1.0, 10.0, 100.0])  # weights by rank: each element gets its rank's weight
    g = ad.grad(lambda x: ad.sum(ad.sort(x) * w))(x)
    np.testing.assert_array_equal(g, [[100.0, 1.0, 10.0], [10.0, 100.0, 1.0]])


def test_split_family_errors_and_numpy_conventions():
    with pytest.raises(ValueError, match="does not divide into 2 equal sections"):
        ad.split(ad.Tensor(np.ones(3)), 2)
    with pytest.raises(ValueError, match="vsplit"):
        ad.vsplit(np.ones(3), 1)
    with pytest.raises(TypeError, match="slices and strings"):
        ad.r_[0:3]
    parts = ad.array_split(ad.Tensor(np.arange(7.0)), 3)
    assert [p.shape for p in parts] == [a.shape for a in np.array_split(np.arange(7.0), 3)]
