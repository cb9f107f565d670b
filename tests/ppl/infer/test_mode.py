"""The whitening at the mode against the covariance of a Gaussian target."""
import numpy as np
import pytest

import ppl
from ppl import dist
from ppl.infer.families import Fullrank, Meanfield
from ppl.infer.mode import whitening
from ppl.infer.objective import Coordinates

LOC = np.array([1.0, -2.0, 0.5])
COV = np.array([[2.0, 1.2, 0.5], [1.2, 1.0, 0.3], [0.5, 0.3, 1.5]])


@ppl.model
def gaussian_target(loc, cov):
    ppl.sample("x", dist.MultivariateNormal(loc, covariance_matrix=cov))


@pytest.mark.parametrize("name", ["meanfield", "fullrank"])
def test_precondition_whitens_a_gaussian_target(name):
    # For a Gaussian target the mode is the mean and the Hessian is -Sigma^-1: fullrank whitens
    # with C C^T = Sigma, meanfield with C = 1 / sqrt(diag(Sigma^-1)) (its known optimum).
    m = gaussian_target(LOC, COV)
    q = (Meanfield if name == "meanfield" else Fullrank)(3)
    found = whitening(m, np.zeros(3), name)
    assert not isinstance(found, str), found
    coords = Coordinates(*found)
    np.testing.assert_allclose(coords.centre, LOC, atol=1e-8)
    if name == "fullrank":
        np.testing.assert_allclose(coords.C @ coords.C.T, COV, rtol=1e-8)
        assert np.allclose(coords.C, np.tril(coords.C))
    else:
        np.testing.assert_allclose(coords.C, 1 / np.sqrt(np.diag(np.linalg.inv(COV))),
                                   rtol=1e-8)
    assert coords.log_det_C == pytest.approx(np.log(np.abs(np.linalg.det(
        coords.C if coords.C.ndim == 2 else np.diag(coords.C)))), rel=1e-10)
    mu, omega, L = coords.gaussian(q, q.init(np.zeros(3)))  # the start: the Laplace approx.
    np.testing.assert_allclose(mu, LOC, atol=1e-8)
    if name == "fullrank":
        np.testing.assert_allclose(L @ L.T, COV, rtol=1e-8)
        np.testing.assert_allclose(omega, np.log(np.diag(L)), rtol=1e-12)
