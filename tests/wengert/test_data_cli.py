"""`wengert fit model.py:fn --data store.zarr --subsample N`: a Zarr group's arrays are the
model's keyword arguments, the large ones read from disk by rows (issue 17)."""
import re
import textwrap

import numpy as np
import pytest

import ppl
from ppl import dist
from ppl.data import zarr_array
from wengert import main

zarr = pytest.importorskip("zarr")   # in the test extra: installed wherever the tests run

MODEL = textwrap.dedent("""
    import ppl
    from ppl import dist

    def logistic(X, y, prior_sd):
        beta = ppl.sample("beta", dist.Normal(0.0, prior_sd).expand([X.shape[1]]).to_event(1))
        with ppl.plate("data", len(y)) as idx:
            ppl.sample("y", dist.Bernoulli(logits=X[idx] @ beta), obs=y[idx])
""")


def test_fit_a_zarr_store_by_minibatches(tmp_path, capsys):
    rng = np.random.default_rng(4)
    n, d = 1500, 2
    X = rng.normal(size=(n, d)).astype(np.float32)
    y = (rng.random(n) < 1 / (1 + np.exp(-X @ np.array([1.0, -0.5])))).astype(np.float32)
    g = zarr.open_group(str(tmp_path / "s.zarr"), mode="w")
    zarr_array(g, "X", shape=X.shape, chunks=(200, d), dtype="float32")[:] = X
    zarr_array(g, "y", shape=y.shape, chunks=(200,), dtype="float32")[:] = y
    zarr_array(g, "prior_sd", shape=(), dtype="float64")[()] = 2.0   # one chunk: in memory
    (tmp_path / "m.py").write_text(MODEL)
    code = main(["fit", f"{tmp_path}/m.py:logistic", "--data", str(tmp_path / "s.zarr"),
                 "--subsample", "100", "--seed", "2", "--quiet", "--draws", "200"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "rows per second:" in out and "(100 per minibatch)" in out
    # the posterior means against the mode of the same model on the data in memory
    @ppl.model
    def logistic(X, y):
        beta = ppl.sample("beta", dist.Normal(0.0, 2.0).expand([d]).to_event(1))
        with ppl.plate("data", len(y)):
            ppl.sample("y", dist.Bernoulli(logits=X @ beta), obs=y)
    mode = ppl.map_estimate(logistic(X.astype(float), y.astype(float)), seed=0)
    means = [float(v) for v in re.findall(r"beta\[\d\]\s+(-?\d+\.\d+)", out)]
    np.testing.assert_allclose(means, mode.params["beta"], atol=0.15)
