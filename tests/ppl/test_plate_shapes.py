"""A site inside a plate may not reach beyond the plate's batch axes (issue 13: column data).

A column y of shape (n, 1) against a plate of size n broadcasts to an n x n likelihood: the fit
runs and is silently wrong. These are refused, naming the site, the plate and both shapes;
legitimate shapes (dim=-2 plates, event dims, expand, subsampling) are checked to still work
and to give the log density scipy gives.
"""
import json

import numpy as np
import pytest
import scipy.stats as st

import ppl
from ppl import dist
from tests.ppl.glm import poisson_glm

RNG = np.random.default_rng(13)
X = RNG.normal(size=50)
Y = RNG.poisson(np.exp(0.5 + 0.95 * X)).astype(float)


def test_vector_data_give_scipys_log_density():
    m = poisson_glm(X, Y)
    ref = st.norm(0, 5).logpdf([0.3, 0.8]).sum() + st.poisson(np.exp(0.3 + 0.8 * X)).logpmf(Y).sum()
    assert np.isclose(float(m.log_density({"alpha": 0.3, "beta": 0.8})), ref)


@pytest.mark.parametrize("args, match", [
    ((X, Y[:, None]), r"site 'y': observed data of shape \(50, 1\) broadcast with the "
                      r"distribution's shape \(50,\) to \(50, 50\), beyond plate 'data' "
                      r"\(size 50, dim -1\)"),
    ((X[:, None], Y), r"site 'y': its distribution has batch shape \(50, 1\), which reaches "
                      r"beyond plate 'data' \(size 50, dim -1\)"),
    ((list(X), [[v] for v in Y]), r"site 'y': observed data of shape \(50, 1\)"),
])
def test_column_data_are_refused_by_the_api(args, match):
    with pytest.raises(ValueError, match=match):
        poisson_glm(*args)


def test_deterministic_and_factor_reaching_beyond_the_plate_are_refused():
    @ppl.model
    def det(x):
        mu = ppl.sample("mu", dist.Normal(0.0, 1.0))
        with ppl.plate("data", 5):
            ppl.deterministic("eta", mu * x)

    @ppl.model
    def fac(x):
        mu = ppl.sample("mu", dist.Normal(0.0, 1.0))
        with ppl.plate("data", 5):
            ppl.factor("lik", -0.5 * (x - mu) ** 2)

    det(np.ones(5))
    fac(np.ones(5))
    with pytest.raises(ValueError, match=r"deterministic site 'eta': its value has shape "
                       r"\(5, 1\), which does not fit plate 'data' \(size 5, dim -1\)"):
        det(np.ones((5, 1)))
    with pytest.raises(ValueError, match=r"factor site 'lik': its log weight has shape "
                       r"\(3,\), which does not fit plate 'data'"):
        fac(np.ones(3))


def test_legitimate_shapes_still_work_and_are_scored_right():
    y2 = RNG.normal(size=(4, 3))

    @ppl.model
    def grid(y):
        mu = ppl.sample("mu", dist.Normal(0.0, 1.0))
        with ppl.plate("cols", 3):
            with ppl.plate("rows", 4, dim=-2):
                ppl.sample("y", dist.Normal(mu, 1.0), obs=y)
        with ppl.plate("rows2", 4, dim=-2):    # batch (4, 1) broadcast against obs (4, 3)
            ppl.sample("z", dist.Normal(mu, 1.0).expand((1, 3)), obs=y)
        with ppl.plate("vec", 4):              # event dims: obs (4, 3), batch (4,), event (3,)
            ppl.sample("w", dist.Normal(mu, 1.0).expand((3,)).to_event(1), obs=y)
        with ppl.plate("sub", 4, subsample_size=2) as idx:
            ppl.sample("s", dist.Normal(mu, 1.0), obs=y[idx, 0])

    m = grid(y2)
    ref = (st.norm(0, 1).logpdf(0.2) + 3 * st.norm(0.2, 1).logpdf(y2).sum()
           + st.norm(0.2, 1).logpdf(y2[:, 0]).sum())
    assert np.isclose(float(m.log_density({"mu": 0.2})), ref)


def test_column_data_are_refused_by_the_command(tmp_path, capsys):
    from wengert.cli import main
    model = tmp_path / "mymodels.py"
    model.write_text(
        "import autodiff as ad, ppl\nfrom ppl import dist\n\n"
        "def poisson_glm(x, y):\n"
        "    alpha = ppl.sample('alpha', dist.Normal(0.0, 5.0))\n"
        "    beta = ppl.sample('beta', dist.Normal(0.0, 5.0))\n"
        "    with ppl.plate('data', len(x)):\n"
        "        ppl.sample('y', dist.Poisson(ad.exp(alpha + beta * x)), obs=y)\n")
    data = tmp_path / "y_col.json"
    data.write_text(json.dumps({"x": X.tolist(), "y": [[v] for v in Y.tolist()]}))
    assert main(["fit", f"{model}:poisson_glm", "--data", str(data), "--quiet"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1
    assert "site 'y': observed data of shape (50, 1)" in err and "plate 'data'" in err
