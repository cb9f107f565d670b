"""VIResult -> ArviZ through ppl/_arviz.py, under whichever ArviZ is installed (0.23's
InferenceData on Python 3.11, 1.x's DataTree on 3.12; .ci/run runs this file under both):
groups, dims named after plates, coords, values against the draws and independent densities,
the ELBO group, the netCDF round trip, and the summary table."""
import numpy as np
import pandas as pd
import pytest
from scipy import stats

import ppl
from ppl import _arviz, dist
from ppl.infer import LaplaceDiagnostics, VIResult

from .infer.test_result import Y, exact_posterior, normal_mean, plated_fit

GROUPS = {"posterior", "observed_data", "sample_stats", "elbo_history"}


def dims_of(obj, group, var):
    return tuple(obj[group][var].dims)


@pytest.fixture(scope="module")
def fit():
    return plated_fit(elbo_history=(np.array([100, 200, 300]), np.array([-90.0, -40.0, -38.5])),
                      converged=True, stop_reason="relative ELBO change under 0.01", eta=1.0,
                      optimizer="stan", steps=300, rhat=1.01)


@pytest.fixture(scope="module")
def obj(fit):
    return fit.to_arviz(draws=200, seed=4)


def test_groups(obj):
    assert set(_arviz.groups(obj)) == GROUPS


def test_posterior_dims_named_after_plates(obj):
    assert dims_of(obj, "posterior", "loc") == ("chain", "draw")
    assert dims_of(obj, "posterior", "z") == ("chain", "draw", "group")
    assert dims_of(obj, "posterior", "w") == ("chain", "draw", "group")      # deterministic
    assert dims_of(obj, "posterior", "beta") == ("chain", "draw", "beta_dim_0")
    assert dims_of(obj, "posterior", "p") == ("chain", "draw", "p_dim_0")      # event axis
    assert obj["posterior"]["z"].shape == (1, 200, 3)
    assert obj["posterior"]["p"].shape == (1, 200, 3)
    np.testing.assert_array_equal(obj["posterior"]["group"].values, [0, 1, 2])
    assert dims_of(obj, "observed_data", "y") == ("group",)
    np.testing.assert_array_equal(obj["observed_data"]["y"].values, [0.5, -0.2, 1.0])


def test_posterior_values_are_the_draws(fit, obj):
    draws = fit.sample(200, seed=4)
    for name, a in draws.items():
        np.testing.assert_array_equal(obj["posterior"][name].values[0], a)


def test_nested_plates_name_both_axes():
    @ppl.model
    def nested():
        with ppl.plate("a", 2):
            with ppl.plate("b", 3):
                ppl.sample("x", dist.Normal(0.0, 1.0))
    m = nested()
    o = VIResult(m, "meanfield", np.zeros(6), np.zeros(6), seed=0).to_arviz(10)
    assert dims_of(o, "posterior", "x") == ("chain", "draw", "b", "a")
    assert o["posterior"]["x"].shape == (1, 10, 3, 2)
    assert set(_arviz.groups(o)) == {"posterior", "sample_stats"}   # no data, no history


def test_sample_stats_lp_and_log_q_are_the_densities():
    mu, sd = exact_posterior()
    q_mu, q_sd = mu + 0.1, 0.8 * sd
    f = VIResult(normal_mean(Y), "meanfield", np.array([q_mu]), np.log([q_sd]), seed=2)
    o = f.to_arviz(100)
    z = o["posterior"]["mu"].values[0]
    lp = stats.norm(0, 10).logpdf(z) + stats.norm(z[:, None], 1).logpdf(Y).sum(1)
    np.testing.assert_allclose(o["sample_stats"]["lp"].values[0], lp, rtol=1e-12)
    np.testing.assert_allclose(o["sample_stats"]["log_q"].values[0],
                               stats.norm(q_mu, q_sd).logpdf(z), rtol=1e-12)
    assert dims_of(o, "sample_stats", "lp") == ("chain", "draw")


def test_elbo_group_and_attrs(obj):
    g = obj["elbo_history"]
    assert tuple(g["elbo"].dims) == ("iteration",)
    np.testing.assert_array_equal(g["iteration"].values, [100, 200, 300])
    np.testing.assert_array_equal(g["elbo"].values, [-90.0, -40.0, -38.5])
    attrs = obj["posterior"].attrs
    assert attrs["family"] == "meanfield" and attrs["method"] == "advi"
    assert attrs["optimizer"] == "stan" and attrs["steps"] == 300 and attrs["converged"] == 1
    assert attrs["inference_library"] == "wengert" and attrs["seed"] == 3


def test_netcdf_round_trip(obj, tmp_path):
    path = _arviz.to_netcdf(obj, tmp_path / "fit.nc")
    back = _arviz.from_netcdf(path)
    assert set(_arviz.groups(back)) == GROUPS
    for group in ("posterior", "observed_data", "sample_stats", "elbo_history"):
        for var in obj[group].data_vars:
            assert dims_of(back, group, var) == dims_of(obj, group, var)
            np.testing.assert_array_equal(back[group][var].values, obj[group][var].values)
    assert back["posterior"].attrs["stop_reason"] == "relative ELBO change under 0.01"
    np.testing.assert_array_equal(back["posterior"]["group"].values, [0, 1, 2])


def test_summary_rows_and_numbers(fit):
    s = fit.summary(draws=300, seed=1)
    assert isinstance(s, pd.DataFrame)
    rows = ["loc", "beta[0]", "beta[1]", "p[0]", "p[1]", "p[2]", "z[0]", "z[1]", "z[2]",
            "w[0]", "w[1]", "w[2]"]
    assert list(s.index) == rows
    draws = fit.sample(300, seed=1)
    np.testing.assert_allclose(s.loc["z[1]", "mean"], draws["z"][:, 1].mean(), rtol=1e-10)
    np.testing.assert_allclose(s.loc["p[2]", "sd"], draws["p"][:, 2].std(ddof=1), rtol=1e-10)
    assert s.shape[1] == 4              # mean, sd and a two-sided interval


def test_adapter_without_optional_groups():
    post = {"a": np.arange(6.0).reshape(1, 6)}
    o = _arviz.to_arviz(post, attrs={"x": None, "flag": True})
    assert _arviz.groups(o) == ["posterior"]
    assert "x" not in o["posterior"].attrs and o["posterior"].attrs["flag"] == 1


def test_laplace_style_result_has_no_elbo_group():
    mu, sd = exact_posterior()
    L = np.array([[sd]])
    f = VIResult(normal_mean(Y), "fullrank", np.array([mu]), np.log([sd]), L,
                 diagnostics=LaplaceDiagnostics(0.0, 1, 0.0, -np.eye(1) / sd ** 2), seed=0)
    o = f.to_arviz(50)
    assert set(_arviz.groups(o)) == {"posterior", "observed_data", "sample_stats"}
    assert o["posterior"].attrs["method"] == "laplace"
