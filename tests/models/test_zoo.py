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
from tests.models.zoo_reference import fit_of, pieces

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
    assert sorted(m.parameters) == ["mu", "tau", "theta_tilde"]
    rng = np.random.default_rng(7)
    for _ in range(3):
        z = rng.normal(size=m.num_params)
        p = pieces(m, z)
        mu, log_tau, tt = p["mu"][0], p["tau"][0], p["theta_tilde"]
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


# ---- eight schools fitted: the posterior by quadrature, independent of ../shared -----------
def _eight_schools_by_quadrature():
    """Posterior means and sds of mu, tau and theta: theta integrated out exactly (y_j | mu,
    tau ~ N(mu, sqrt(sigma_j^2 + tau^2))), then a 801 x 2001 grid in (mu, log tau); theta_j |
    mu, tau, y is normal with precision 1/sigma_j^2 + 1/tau^2. Agrees with posteriordb's NUTS
    summary (mu 4.397 +- 3.318 here, 4.39 +- 3.32 there; tau 3.598 +- 3.22, 3.60 +- 3.19)."""
    d = load_model("eight_schools").data()
    y, s = d["y"][:, None, None], d["sigma"][:, None, None]
    mu = np.linspace(-30.0, 40.0, 801)[:, None]
    log_tau = np.linspace(-12.0, 6.0, 2001)[None, :]
    tau = np.exp(log_tau)
    lp = (st.norm.logpdf(mu, 0, 5) + st.halfcauchy.logpdf(tau, scale=5) + log_tau
          + st.norm.logpdf(y, mu, np.sqrt(s ** 2 + tau ** 2)).sum(0))
    w = np.exp(lp - lp.max())
    w /= w.sum()
    prec = 1 / s ** 2 + 1 / tau ** 2
    cond_mean = (y / s ** 2 + mu / tau ** 2) / prec
    out = {}
    for name, f, f2 in (("mu", mu, mu ** 2), ("tau", tau, tau ** 2),
                        ("theta", cond_mean, cond_mean ** 2 + 1 / prec)):
        m = (w * f).sum(axis=(-2, -1))
        out[name] = (m, np.sqrt((w * f2).sum(axis=(-2, -1)) - m ** 2))
    return out


@pytest.fixture(scope="module")
def quadrature():
    return _eight_schools_by_quadrature()


def _errors(fit, ref):
    d = fit.sample(4000, seed=0)
    err = {k: float(np.max(np.abs(d[k].mean(0) - m) / s)) for k, (m, s) in ref.items()}
    ratio = {k: np.atleast_1d(d[k].std(0) / s) for k, (m, s) in ref.items()}
    return err, ratio


@pytest.mark.parametrize("family", ["meanfield", "fullrank"])
def test_eight_schools_fit_against_quadrature(quadrature, family):
    # Seeds 0..4 (errors in reference sd, worst): mu 0.07 meanfield / 0.07 fullrank, tau 0.23 /
    # 0.28 (low: a Gaussian in log tau), theta 0.22 / 0.17; sd ratios of mu and tau 0.98-1.29.
    err, ratio = _errors(fit_of("eight_schools", family), quadrature)
    assert err["mu"] < 0.25 and err["theta"] < 0.25 and err["tau"] < 0.35, err
    assert all(np.all((0.75 < r) & (r < 1.35)) for k, r in ratio.items() if k != "theta"), ratio


def test_eight_schools_centred_fit_is_the_funnel_and_k_hat_says_so(quadrature):
    # The same posterior written centred, fitted as written (centring=None): q cannot follow
    # the funnel. Seeds 0..4, meanfield: mu 0.07-1.23 sd off, tau 0.03-1.32, sd of tau
    # 0.22-0.65 of the posterior's. What holds is the warning: k-hat above 0.7 (0.96 at seed
    # 0), and q too narrow in tau.
    import warnings
    fit = fit_of("eight_schools_centered", "meanfield", centring=None)
    err, ratio = _errors(fit, quadrature)
    assert err["mu"] < 1.5 and err["tau"] < 1.5, err
    assert ratio["tau"][0] < 0.7, ratio
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert fit.psis_khat(draws=1000, seed=0) > 0.7


@pytest.mark.parametrize("family", ["meanfield", "fullrank"])
def test_eight_schools_centred_default_fit_learns_to_non_centre(quadrature, family):
    # ppl.advi's default (deterministic ADVI, centredness learned jointly with q) on the
    # funnel: as written it was 1.16 (meanfield) and 0.70 (fullrank) sd off at seed 0 under a
    # "miss" verdict; learned centring takes theta near non-centred (lam 0.00-0.15), where
    # the non-centred model's fit is accurate: within 0.3 sd, sds within [0.8, 1.25].
    fit = fit_of("eight_schools_centered", family, method="auto")
    assert fit.method == "dadvi"
    lam = fit.info["centring"]["theta"]
    assert lam.shape == (8,) and np.max(lam) < 0.3, lam
    err, ratio = _errors(fit, quadrature)
    assert max(err.values()) < 0.3, err
    assert all(np.all((0.8 <= r) & (r <= 1.25)) for r in ratio.values()), ratio
