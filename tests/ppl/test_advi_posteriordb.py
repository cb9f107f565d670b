"""ADVI with its defaults (only the model and a seed) on posteriordb's reference posteriors in
../shared/data/posteriordb: posterior means within 0.25 reference sd (the issue's accuracy bar)
for eight schools' mu under meanfield, and the regression coefficients of kidiq and sblri under
meanfield and fullrank. Scales (tau, sigma) are printed and held to a loose 0.5 sd: meanfield's
log-normal tau for eight schools is known to sit low (about -0.2 sd here).

Means are those of `fit.mean` (1000 draws of q, Monte Carlo error about 0.03 reference sd).
The references are NUTS means over 10 x 1000 draws (their own error is under 0.01 sd).

Seed sweep, seeds 0..4 (error in reference sd, worst coefficient), advi.py as of d90a443:
  eight schools mu, meanfield:  +0.07 -0.06 +0.07 +0.08 +0.05   (tau -0.25 -0.25 -0.19 -0.23 -0.22)
  kidiq beta, meanfield:        0.03  0.03  0.02  0.69  0.09    <- seed 3 fails
  kidiq beta, fullrank:         0.15  0.04  0.01  0.01  0.03
  sblri beta, meanfield:        0.05  0.06  0.05  524   0.10    <- seed 3 fails
  sblri beta, fullrank:         598   0.07  4.4   1.7   5.8     <- seeds 0, 2, 3, 4 fail
The sblri failures were a bug (the whitening's Newton tolerance, fixed in 2953f78); after it
and the adaptation's retries (next commit) every case here passes. The kidiq meanfield seed-3
case (0.69 sd before those commits) is the ridge of a -0.99 correlation that meanfield crawls
along; it passes now on a different random stream, and is kept as a test of that seed.
"""
import numpy as np
import pytest

import ppl

from . import posteriordb as pdb

pytestmark = pytest.mark.skipif(not pdb.available(), reason=pdb.MISSING)

TOL = 0.25          # the bar, in reference sd
LOOSE = 0.5         # scales: reported, loosely held

BLR_NEWTON = ("advi.py: for sblri the whitening at the mode is skipped ('Newton's method found "
              "no mode in 100 steps'): Newton reaches the mode but |grad| stalls at 1.6e-5 "
              "(seed 0), above precondition()'s absolute gtol=1e-6, rounding error at a mode "
              "whose Hessian is ~1e6; Stan's plain algorithm then runs to the 10,000-step cap "
              "without converging (fullrank, and meanfield for seed 3)")
KIDIQ_RIDGE = ("advi.py: kidiq meanfield, seed 3 (eta 1): beta[1], beta[2] off by -0.67, +0.69 "
               "sd though converged=True (rhat 2.18); the posterior correlation is -0.989 and the "
               "mean random-walks along the ridge during the 1000-step window")

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


@pytest.mark.parametrize("name, reason", [
    pytest.param(pdb.KIDIQ, KIDIQ_RIDGE, id="kidiq"),
    pytest.param(pdb.BLR, BLR_NEWTON, id="sblri"),
])
def test_meanfield_coefficients_seed_3(name, reason):
    # the seed sweep's meanfield failures (see the module docstring)
    err = errors(fit_of(name, "meanfield", seed=3), name)
    assert all(abs(e) < TOL for k, e in err.items() if k.startswith("beta"))


def test_the_models_match_the_references_dimensions():
    # the models written here have posteriordb's unconstrained dimension and parameter names
    for name in (pdb.EIGHT_SCHOOLS, pdb.KIDIQ, pdb.BLR):
        summary = (pdb.ROOT / name / "reference_summary.json").read_text()
        m = pdb.bound(name)
        assert f'"unconstrained_dim": {m.num_params},' in summary
        point = pdb.stan_names({k: np.asarray(v)[None] for k, v in
                                m.constrain(np.zeros(m.num_params)).items()})
        assert set(pdb.load_reference(name)) <= set(point)
