"""ADVI with its defaults (only the model and a seed) on posteriordb's reference posteriors in
../shared/data/posteriordb: posterior means within 0.25 reference sd (the issue's accuracy bar)
for eight schools' mu under meanfield, and the regression coefficients of kidiq and sblri under
meanfield and fullrank. Scales (tau, sigma) are printed and held to a loose 0.5 sd: meanfield's
log-normal tau for eight schools is known to sit low (about -0.2 sd here).

Means are those of `fit.mean` (1000 draws of q, Monte Carlo error about 0.03 reference sd).
The references are NUTS means over 10 x 1000 draws (their own error is under 0.01 sd).

Seed sweep, seeds 0..4, advi.py as of 8a0c148 (4000 draws of q; error in reference sd, the
worst of each group): eight schools tau meanfield -0.24 -0.17 -0.20 +0.18 -0.19, fullrank -0.17
-0.16 -0.10 (theta) +0.09 (theta) -0.28 (mu and theta within 0.2); kidiq meanfield <= 0.09,
fullrank <= 0.06; sblri meanfield <= 0.11 (sigma), fullrank <= 0.06. tau's bias is q's, not the
optimiser's: the fullrank optimum (grad_samples=8, 20,000 steps) puts tau's mean at -0.18 sd
and meanfield's at -0.22 (a Gaussian in log tau), so the loose scale bound. Every required mean
is within 0.25 sd for every seed, so seed 0 (the first, not the best) is used. Before the
windows repeated until settled, meanfield seed 3 stopped while the ELBO still climbed and put
tau at +1.04 sd.
"""
import numpy as np
import pytest

import ppl

from . import posteriordb as pdb

pytestmark = pytest.mark.skipif(not pdb.available(), reason=pdb.MISSING)

TOL = 0.25          # the bar, in reference sd
LOOSE = 0.5         # scales: reported, loosely held

_FITS = {}


def fit_of(name, family, seed=0):
    key = (name, family, seed)
    if key not in _FITS:
        _FITS[key] = ppl.advi(pdb.bound(name), family=family, seed=seed)
    return _FITS[key]


def errors(fit, name):
    """(mean - reference mean) / reference sd for every reference name (Stan's, 1-based)."""
    ref = pdb.load_reference(name)
    means = pdb.stan_names({k: np.asarray(v)[None] for k, v in fit.mean.items()})
    out = {k: float((means[k][0] - r["mean"]) / r["sd"]) for k, r in ref.items()}
    print(f"{name} {fit.family}: " + ", ".join(f"{k} {e:+.3f}" for k, e in out.items())
          + f"; {fit.stop_reason}; rhat {fit.rhat:.2f}")
    return out


def test_eight_schools_mu_meanfield():
    err = errors(fit_of(pdb.EIGHT_SCHOOLS, "meanfield"), pdb.EIGHT_SCHOOLS)
    assert abs(err["mu"]) < TOL
    assert abs(err["tau"]) < LOOSE
    assert all(abs(err[f"theta[{j}]"]) < LOOSE for j in range(1, 9))


@pytest.mark.parametrize("family", ["meanfield", "fullrank"])
def test_kidiq_coefficients(family):
    err = errors(fit_of(pdb.KIDIQ, family), pdb.KIDIQ)
    assert abs(err["beta[1]"]) < TOL and abs(err["beta[2]"]) < TOL
    assert abs(err["sigma"]) < LOOSE


@pytest.mark.parametrize("family", [
    "meanfield",
    "fullrank"])
def test_sblri_coefficients(family):
    err = errors(fit_of(pdb.BLR, family), pdb.BLR)
    assert all(abs(err[f"beta[{d}]"]) < TOL for d in range(1, 6))
    assert abs(err["sigma"]) < LOOSE


def test_the_models_match_the_references_dimensions():
    # the models written here have posteriordb's unconstrained dimension and parameter names
    for name in (pdb.EIGHT_SCHOOLS, pdb.KIDIQ, pdb.BLR):
        summary = (pdb.ROOT / name / "reference_summary.json").read_text()
        m = pdb.bound(name)
        assert f'"unconstrained_dim": {m.num_params},' in summary
        point = pdb.stan_names({k: np.asarray(v)[None] for k, v in
                                m.constrain(np.zeros(m.num_params)).items()})
        assert set(pdb.load_reference(name)) <= set(point)
