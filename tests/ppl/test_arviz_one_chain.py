"""The draws of a VI fit are one chain of independent draws from q, stored as such: chain dim
of size 1 (no fake chains), a posterior attribute saying so, and an ArviZ summary without R-hat
and without ArviZ 0.23's "Shape validation failed" warning. Runs on ArviZ 0.23 and 1.x."""
import logging

import numpy as np
import pytest

import ppl
from ppl import _arviz, dist

az = pytest.importorskip("arviz")


@pytest.fixture(scope="module")
def fit():
    @ppl.model
    def normal_mean(y):
        mu = ppl.sample("mu", dist.Normal(0.0, 10.0))
        with ppl.plate("data", len(y)):
            ppl.sample("y", dist.Normal(mu, 1.0), obs=y)
    return ppl.advi(normal_mean(np.linspace(-1.0, 2.0, 12)), steps=400, seed=0, progress=False)


def test_one_chain_of_independent_draws(fit):
    idata = fit.to_arviz(draws=400, seed=1)
    post = idata["posterior"]
    assert dict(post.sizes)["chain"] == 1 and dict(post.sizes)["draw"] == 400
    assert post.attrs["draws"] == _arviz.ONE_CHAIN
    # independent draws: ArviZ's effective sample size is about the number of draws
    table = fit.summary(draws=400, seed=1, kind="all")
    assert float(table.loc["mu", "ess_bulk"]) > 0.7 * 400


def test_summary_has_no_rhat_and_no_shape_warning(fit):
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    log = getattr(az, "_log", logging.getLogger("arviz"))
    if hasattr(log, "cache"):
        log.cache.clear()        # ArviZ 0.23 logs each message once per session
    log.addHandler(handler)
    try:
        for kind in ("all", "diagnostics", "stats"):
            table = fit.summary(draws=200, seed=2, kind=kind)
            assert "r_hat" not in table.columns
            assert not table.isna().any().any(), table
    finally:
        log.removeHandler(handler)
    assert not [r for r in records if "Shape validation" in str(r.msg)]
