"""Elementwise ops, unary and binary (with broadcasting): values against numpy/scipy and
derivatives to second order, forward and reverse, against finite differences (tables UNARY and
BINARY in helpers.py); gradient conventions at kinks."""
import numpy as np
import pytest

import autodiff as ad

from .helpers import BINARY, UNARY, check_case, rng_for, sample

# ---- elementwise: unary -------------------------------------------------------------------------
UNARY_SHAPES = [(), (3,), (2, 3)]


@pytest.mark.parametrize("shp", UNARY_SHAPES, ids=str)
@pytest.mark.parametrize("op,f,ref,domain", UNARY, ids=[r[0] for r in UNARY])
def test_unary(op, f, ref, domain, shp):
    x = sample(rng_for(op, shp), shp, domain)
    check_case(f, ref, (x,))


# ---- elementwise: binary, with broadcasting -----------------------------------------------------
BINARY_SHAPES = [((), ()), ((3,), (3,)), ((2, 3), (2, 3)), ((1, 3), (2, 3)), ((2, 3), (1, 3)),
                 ((3, 1), (1, 4)), ((), (2, 3)), ((2, 3), ()), ((2, 3), (3,))]


@pytest.mark.parametrize("shapes", BINARY_SHAPES, ids=str)
@pytest.mark.parametrize("op,f,ref,dx,dy", BINARY, ids=[r[0] for r in BINARY])
def test_binary(op, f, ref, dx, dy, shapes):
    rng = rng_for(op, shapes)
    x, y = sample(rng, shapes[0], dx), sample(rng, shapes[1], dy)
    check_case(f, ref, (x, y))


def test_kink_conventions():
    """relu and abs have gradient 0 at 0; sign is a numpy array (no gradient)."""
    x = np.array([-1.0, 0.0, 2.0])
    np.testing.assert_array_equal(ad.grad(lambda x: ad.sum(ad.relu(x)))(x), [0, 0, 1])
    np.testing.assert_array_equal(ad.grad(lambda x: ad.sum(ad.abs(x)))(x), [-1, 0, 1])
    s = ad.sign(ad.Tensor(x))
    assert isinstance(s, np.ndarray)
    np.testing.assert_array_equal(s, np.sign(x))
    np.testing.assert_array_equal(ad.grad(lambda x: ad.sum(ad.sign(x) * x))(x), np.sign(x))
