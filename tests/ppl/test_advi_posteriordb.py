"""ADVI with its defaults (only the model and a seed) on posteriordb's reference posteriors in
../shared/data/posteriordb: posterior means within 0.25 reference sd (the issue's accuracy bar)
for eight schools' mu under meanfield, and the regression coefficients of kidiq and sblri under
meanfield and fullrank. Scales (tau, sigma) are printed and held to a loose 0.5 sd: meanfield's
log-normal tau for eight schools is known to sit low (about -0.2 sd here).

Means are those of `fit.mean` (1000 draws of q, Monte Carlo error about 0.03 reference sd).
The references are NUTS means over 10 x 1000 draws (their own error is under 0.01 sd).

Seed sweep, seeds 0..4 (error in reference sd; the worst coefficient), advi.py as of 9fc63e9:
  eight schools mu, meanfield:  -0.06 -0.05 +0.07 -0.20 +0.03
                tau:            -0.25 -0.26 -0.19 +1.04 -0.21   <- seed 3 (see below)
  kidiq beta, meanfield:         0.03  0.03  0.02  0.11  0.03
  kidiq beta, fullrank:          0.15  0.04  0.01  0.01  0.03
  sblri beta, meanfield:         0.07  0.06  0.06  0.06  0.05
  sblri beta, fullrank:          0.09  0.07  0.09  0.05  0.07
Every required mean is within 0.25 sd for every seed, so seed 0 (the first, not the best) is
used. Eight schools seed 3 (meanfield) stops by Stan's rule at step 1500 while the ELBO still
climbs (-36.9 to -31.8 over the run, R-hat 3.8): tau's mean is 6.9 against 3.6 and mu is
-0.20 sd off; the loose scale check would fail there.
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
