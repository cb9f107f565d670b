"""ppl.advi's method="auto": deterministic ADVI where it applies (ppl.infer.method), stochastic
ADVI otherwise, the reason in fit.info["method"], and the fallback when the deterministic fit
fails."""
import importlib

import numpy as np
import pytest

import ppl
from models import load_model
from ppl import dist
from ppl.infer.method import STOCHASTIC_DEFAULTS, choose


def bound(name):
    e = load_model(name)
    return e.model(**e.data())


@ppl.model
def minibatched(y, batch):
    mu = ppl.sample("mu", dist.Normal(0.0, 10.0))
    with ppl.plate("n", len(y), subsample_size=batch) as idx:
        ppl.sample("y", dist.Normal(mu, 1.0), obs=y[idx])


def test_choose_names_the_method_its_reason_and_the_family_to_fit():
    kidiq, radon, sv = bound("kidiq"), bound("radon"), bound("stochastic_volatility")
    assert choose(kidiq, "meanfield", STOCHASTIC_DEFAULTS)[::2] == ("dadvi", "meanfield")
    assert choose(kidiq, "fullrank", STOCHASTIC_DEFAULTS)[::2] == ("dadvi", "fullrank")
    method, why, family = choose(kidiq, "meanfield", {**STOCHASTIC_DEFAULTS, "steps": 500})
    assert method == "advi" and "steps" in why
    assert choose(kidiq, "meanfield", {**STOCHASTIC_DEFAULTS, "average": 1})[0] == "advi"
    assert choose(sv, "meanfield", STOCHASTIC_DEFAULTS)[0] == "advi"          # D = 503
    method, why, family = choose(radon, "fullrank", STOCHASTIC_DEFAULTS)     # D = 89
    assert (method, family) == ("dadvi", "meanfield") and "linear-response" in why
    m = minibatched(np.linspace(-1.0, 1.0, 50), 10)
    method, why, _ = choose(m, "meanfield", STOCHASTIC_DEFAULTS)
    assert method == "advi" and "minibatches" in why


def test_the_default_runs_what_choose_says_and_records_why():
    kidiq = bound("kidiq")
    fit = ppl.advi(kidiq, seed=0, progress=False)
    assert fit.method == "dadvi" and fit.info["method"].startswith("auto: deterministic")
    same = ppl.dadvi(kidiq, seed=0, progress=False)
    np.testing.assert_array_equal(fit.mu, same.mu)              # the same fit, not another
    fit = ppl.advi(kidiq, seed=0, steps=400, progress=False)
    assert fit.method == "advi" and "steps" in fit.info["method"]
    fit = ppl.advi(kidiq, seed=0, progress=False, method="advi")
    assert fit.method == "advi" and "method" not in fit.info
    radon = ppl.advi(bound("radon"), family="fullrank", seed=0, progress=False)
    assert radon.method == "dadvi" and radon.family == "fullrank" and radon.lrvb
    assert radon.q_family == "meanfield"


def test_a_failed_deterministic_fit_falls_back_to_stochastic_advi_and_says_so(monkeypatch):
    fit_mod = importlib.import_module("ppl.infer.fit")

    def fails(*args, **kwargs):
        raise ValueError("dadvi: the log density is not finite at some of the fixed draws")
    monkeypatch.setattr(fit_mod, "dadvi", fails)
    fit = ppl.advi(bound("kidiq"), seed=0, progress=False)
    assert fit.method == "advi" and fit.converged
    assert fit.info["method"] == ("auto: stochastic ADVI; deterministic ADVI failed: dadvi: "
                                  "the log density is not finite at some of the fixed draws")
    with pytest.raises(ValueError, match="not finite at some of the fixed draws"):
        ppl.advi(bound("kidiq"), seed=0, progress=False, method="dadvi")   # by name: raised


def test_bad_method_arguments_name_the_argument():
    kidiq = bound("kidiq")
    with pytest.raises(ValueError, match="method must be 'auto', 'advi' or 'dadvi'"):
        ppl.advi(kidiq, method="nuts")
    with pytest.raises(ValueError, match="steps, eta are stochastic ADVI's options"):
        ppl.advi(kidiq, method="dadvi", steps=10, eta=0.1)
