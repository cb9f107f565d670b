"""VIResult.summary_text(max_rows=...): long sites are cut to their first rows plus a count
line; the rows shown are those of the full table."""
import numpy as np
import pytest

import ppl
from ppl import dist


@pytest.fixture(scope="module")
def fit():
    @ppl.model
    def many(y):
        mu = ppl.sample("mu", dist.Normal(0.0, 1.0))
        with ppl.plate("data", len(y)):
            z = ppl.sample("z", dist.Normal(mu, 1.0))
            ppl.sample("y", dist.Normal(z, 1.0), obs=y)
    return ppl.advi(many(np.linspace(-1, 1, 30)), steps=300, seed=0, progress=False)


def test_long_sites_show_their_first_rows_and_a_count(fit):
    full = fit.summary_text(draws=200, seed=1).splitlines()
    cut = fit.summary_text(draws=200, seed=1, max_rows=3, note="--all for every row")
    lines = cut.splitlines()
    assert len(full) == 1 + 1 + 30 and len(lines) == 1 + 1 + 3 + 1
    assert lines[-1] == "z: 30 elements, 3 shown; --all for every row"
    # same columns and numbers as the full table's rows (the label column is narrower)
    assert [r.split() for r in lines[1:5]] == [r.split() for r in full[1:5]]


def test_short_sites_and_no_limit_are_unchanged(fit):
    assert fit.summary_text(draws=100, seed=2, max_rows=30) == fit.summary_text(draws=100, seed=2)


@pytest.mark.parametrize("bad", [0, -1, 2.5, True])
def test_max_rows_must_be_a_positive_integer(fit, bad):
    with pytest.raises(ValueError, match="max_rows must be a positive integer"):
        fit.summary_text(max_rows=bad)
