"""The model zoo: the registry, every entry's log density and gradient at its initial point,
and eight schools against a log density written by hand with scipy.stats."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.stats as st

import autodiff as ad
import models
from models import ZOO, list_models, load_model
from ppl import handlers
from tests.models.zoo_reference import pieces

POSTERIORDB = Path(__file__).resolve().parents[3] / "shared" / "data" / "posteriordb"
NAMES = sorted(ZOO)


def test_registry_lists_every_entry_with_its_docstring_first_line():
    rows = list_models()
    assert [name for name, _ in rows] == NAMES
    for name, desc in rows:
        doc = load_model(name).__doc__
        assert doc and desc == doc.strip().splitlines()[0].rstrip("."), name


def test_unknown_model_names_the_known_ones():
    with pytest.raises(ValueError, match="unknown model 'nope'.*eight_schools, "):
        load_model("nope")


def test_listing_imports_no_model_and_datasets_still_import():
    code = ("import sys, models; models.list_models(); "
            "assert 'ppl' not in sys.modules and 'numpy' not in sys.modules, sorted(sys.modules);"
            "from models import datasets")
    subprocess.run([sys.executable, "-c", code], check=True)
    from models import datasets
    assert datasets.__name__ == "models.datasets" and models.datasets is datasets


def _finite_differences(f, z, h=1e-6):
    out = np.empty_like(z)
    for i in range(z.size):
        e = np.zeros_like(z)
        e[i] = h
        out[i] = (float(f(z + e)) - float(f(z - e))) / (2 * h)
    return out


@pytest.mark.parametrize("name", NAMES)
def test_entry_log_density_and_gradient_at_the_initial_point(name):
    entry = load_model(name)
    data = entry.data()
    assert isinstance(data, dict) and callable(getattr(entry.model, "model_fn", None))
    m = entry.model(**data)
    assert m.num_params > 0
    z0 = m.unconstrain(m.initial_point(seed=0))
    lp, g = ad.value_and_grad(m.unconstrained_log_density)(z0)
    assert np.isfinite(float(lp)) and g.shape == z0.shape and np.all(np.isfinite(g))
    fd = _finite_differences(m.unconstrained_log_density, z0)
    np.testing.assert_allclose(g, fd, rtol=1e-5, atol=1e-6)


def test_eight_schools_noncentred_matches_scipy_by_hand():
    es = load_model("eight_schools")
    d = es.data()
    y, sigma = d["y"], d["sigma"]
    m = es.model(**d)
    assert sorted(m.parameters) == ["mu", "tau", "theta_trans"]
    rng = np.random.default_rng(7)
    for _ in range(3):
        z = rng.normal(size=m.num_params)
        p = pieces(m, z)
        mu, log_tau, tt = p["mu"][0], p["tau"][0], p["theta_trans"]
        tau = np.exp(log_tau)
        theta = mu + tau * tt
        expected = (st.norm.logpdf(mu, 0, 5) + st.halfcauchy.logpdf(tau, scale=5) + log_tau
                    + st.norm.logpdf(tt).sum() + st.norm.logpdf(y, theta, sigma).sum())
        assert float(m.unconstrained_log_density(z)) == pytest.approx(expected, rel=1e-12)
        np.testing.assert_allclose(m.constrain(z)["theta"], theta, rtol=1e-12)


def test_eight_schools_centred_matches_scipy_by_hand():
    es = load_model("eight_schools_centered")
    d = es.data()
    m = es.model(**d)
    assert sorted(m.parameters) == ["mu", "tau", "theta"]
    z = np.random.default_rng(8).normal(size=m.num_params)
    p = pieces(m, z)
    mu, log_tau, theta = p["mu"][0], p["tau"][0], p["theta"]
    tau = np.exp(log_tau)
    expected = (st.norm.logpdf(mu, 0, 5) + st.halfcauchy.logpdf(tau, scale=5) + log_tau
                + st.norm.logpdf(theta, mu, tau).sum()
                + st.norm.logpdf(d["y"], theta, d["sigma"]).sum())
    assert float(m.unconstrained_log_density(z)) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("name", ["eight_schools", "eight_schools_centered"])
def test_eight_schools_data_and_plate_named_school(name):
    entry = load_model(name)
    d = entry.data()
    assert d["J"] == 8
    np.testing.assert_array_equal(d["y"], [28, 8, -3, 7, -1, 1, 18, 12])     # BDA3 Table 5.2
    np.testing.assert_array_equal(d["sigma"], [15, 10, 16, 11, 9, 11, 10, 18])
    m = entry.model(**d)
    init = m.initial_point(seed=1)
    with handlers.trace() as tr, handlers.substitute(init):
        m.fn(*m.args, **m.kwargs)
    for site in ("theta", "y"):
        assert [p.name for p in tr.sites[site]["plates"]] == ["school"]
        assert np.shape(tr.sites[site]["value"]) == (8,)


@pytest.mark.skipif(not POSTERIORDB.is_dir(), reason="no ../shared/data/posteriordb here")
def test_eight_schools_data_equal_posteriordb_and_its_data_json_binds():
    pdb = json.loads((POSTERIORDB / "eight_schools-eight_schools_noncentered" / "data.json")
                     .read_text())
    d = load_model("eight_schools").data()
    assert pdb["J"] == d["J"]
    np.testing.assert_array_equal(pdb["y"], d["y"])
    np.testing.assert_array_equal(pdb["sigma"], d["sigma"])
    m = load_model("eight_schools").model(**{k: np.asarray(v) for k, v in pdb.items()})
    z = np.linspace(-1, 1, m.num_params)
    ref = load_model("eight_schools").model(**d)
    assert float(m.unconstrained_log_density(z)) == float(ref.unconstrained_log_density(z))


def _base_constraint(c):
    """The constraint under any `independent` wrappers (a plate of positives is `positive`)."""
    from ppl import constraints
    while isinstance(c, type(constraints.independent(constraints.real, 1))):
        c = c.base
    return c


def test_the_zoo_uses_every_bijector_the_ppl_registers():
    # Every constraint class with a registered bijector is the support of some zoo parameter,
    # so each transform (and its log-Jacobian) runs inside a real model and a real fit.
    # Not needed: real_vector (the identity, as real).
    from ppl import constraints
    from ppl.transforms import biject_to
    registered = set(biject_to._factories) - {type(constraints.independent(constraints.real, 1))}
    exempt = {type(constraints.real_vector)}
    used = {}
    for name in NAMES:
        entry = load_model(name)
        for p in entry.model(**entry.data()).parameters.values():
            used.setdefault(type(_base_constraint(p.constraint)), name)
    missing = sorted(cls.__name__ for cls in registered - exempt - set(used))
    assert not missing, f"no zoo model has a parameter with support {missing}"
