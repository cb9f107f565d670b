"""The raw-dollar earnings regression (models/earnings.py): ppl.dadvi in both families against
its exact posterior (flat priors: beta | sigma Gaussian, sigma by quadrature), where Stan-style
ADVI's step sizes and starts fail (coefficients ~1e4, residual sd 2e4, correlation -0.998)."""
import numpy as np
import pytest

import ppl
from tests.models.zoo_reference import bound, normal_linear_reference


@pytest.fixture(scope="module")
def exact():
    m, d = bound("earnings")
    X = np.column_stack([np.ones(d["N"]), d["height"]])
    # flat on sigma > 0: log p(sigma) = 0
    return m, normal_linear_reference(X, d["earn"], None, lambda s: 0.0 * s)


def test_data_are_simulated_at_the_stated_scales():
    from models import earnings
    d = earnings.data()
    assert d["N"] == 1192 and abs(np.mean(d["height"]) - 66.6) < 0.5
    X = np.column_stack([np.ones(d["N"]), d["height"]])
    b = np.linalg.lstsq(X, d["earn"], rcond=None)[0]
    assert 1e4 < abs(b[0]) < 1e5 and 1e4 < np.std(d["earn"] - X @ b) < 3e4


@pytest.mark.parametrize("family", ["meanfield", "fullrank"])
def test_dadvi_matches_the_exact_posterior(exact, family):
    m, (mean, sd) = exact
    fit = ppl.dadvi(m, family=family, seed=0)
    assert fit.converged and fit.start.status == "mode"
    for k in ("beta", "sigma"):
        err = np.atleast_1d((np.asarray(fit.mean[k]) - mean[k]) / sd[k])
        ratio = np.atleast_1d(np.asarray(fit.sd[k]) / sd[k])
        assert np.all(np.abs(err) < 0.15), (k, err)
        assert np.all(np.abs(ratio - 1) < 0.1), (k, ratio)
    assert fit.verdict.reliable, fit.verdict
    # the intercept-slope correlation of the returned Gaussian (LRVB): (X'X)^-1's
    d = m.kwargs
    X = np.column_stack([np.ones(1192), d["height"]])
    C = np.linalg.inv(X.T @ X)
    cov = fit.L @ fit.L.T
    assert abs(cov[0, 1] / np.sqrt(cov[0, 0] * cov[1, 1])
               - C[0, 1] / np.sqrt(C[0, 0] * C[1, 1])) < 2e-3
