"""ADVI with its defaults (only the model and a seed) on posteriordb's reference posteriors in
../shared/data/posteriordb, each under meanfield and fullrank, against the gold-standard NUTS
summaries (10 x 1000 draws; their own error is under 0.01 reference sd). Means and sds come
from 4000 draws of q (Monte Carlo error about 0.02 reference sd).

Every fit is held over seeds 0..4 (30 fits, about 20 s), in units of the reference sd:
- means of the location parameters (eight schools' mu, the regression coefficients): 0.25, the
  issue's accuracy bar; scales (tau, sigma) and eight schools' thetas: 0.3, because a Gaussian
  in log tau puts tau's mean low: the fullrank optimum itself (grad_samples=8, 20,000 steps)
  has tau at -0.18 sd and meanfield's at -0.22, so this is q's bias, not the optimiser's.
- sds: q's sd / reference sd in (0.75, 1.4). The top is for eight schools, whose thetas come
  out 5-37% wide (the funnel's neck in tau pulls q wide in theta); the regressions are within
  8%. Meanfield kidiq is held to theory instead: for a Gaussian posterior the meanfield optimum
  gives each coefficient its conditional sd, sqrt(1 - rho^2) of the marginal one, rho the
  intercept-slope correlation computable from the data (-0.99 here: ratio 0.15), within 15%.

Measured over seeds 0..4 (worst; `errors` in a loop over seeds): means -- eight schools mu
0.06 meanfield, 0.05 fullrank; thetas 0.22 and 0.17; tau 0.22 and 0.27; kidiq 0.03 and 0.06;
sblri coefficients 0.09 and 0.05, sigma 0.04 and 0.06. sd ratios -- eight schools 0.94-1.30
meanfield, 1.00-1.36 fullrank; kidiq sigma 1.00-1.05; sblri 0.93-1.05. (Before the eta
adaptation's common draws, kidiq meanfield reached 0.09 and fullrank eight schools 1.37.)
"""
import numpy as np
import pytest

import ppl

from tests.ppl import posteriordb as pdb

pytestmark = pytest.mark.skipif(not pdb.available(), reason=pdb.MISSING)

TOL = 0.25          # the bar, in reference sd
LOOSE = 0.3         # scales: q's own bias in log scale is about 0.2 (see the module docstring)
SD_RANGE = (0.75, 1.4)    # q's sd / reference sd (see the module docstring)
SEEDS = range(5)

_FITS = {}


def fit_of(name, family, seed=0):
    key = (name, family, seed)
    if key not in _FITS:
        _FITS[key] = ppl.advi(pdb.bound(name), family=family, seed=seed, method="advi")
    return _FITS[key]


def _moments(fit):
    draws = fit.sample(4000, seed=0)
    flat = pdb.stan_names({k: np.asarray(v) for k, v in draws.items()})
    return {k: a.mean() for k, a in flat.items()}, {k: a.std() for k, a in flat.items()}


def errors(fit, name):
    """(mean - reference mean) / reference sd and q's sd / reference sd, for every reference
    name (Stan's, 1-based), from 4000 draws of q."""
    ref = pdb.load_reference(name)
    mean, sd = _moments(fit)
    err = {k: float((mean[k] - r["mean"]) / r["sd"]) for k, r in ref.items()}
    ratio = {k: float(sd[k] / r["sd"]) for k, r in ref.items()}
    print(f"{name} {fit.family}: " + ", ".join(f"{k} {err[k]:+.3f} (sd x{ratio[k]:.2f})"
                                                for k in ref)
          + f"; {fit.stop_reason}; rhat {fit.rhat:.2f}")
    return err, ratio


def _sds_in_range(ratio, names):
    lo, hi = SD_RANGE
    bad = {k: round(ratio[k], 3) for k in names if not lo < ratio[k] < hi}
    assert not bad, f"sd ratios outside {SD_RANGE}: {bad}"


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("family", ["meanfield", "fullrank"])
def test_eight_schools(family, seed):
    err, ratio = errors(fit_of(pdb.EIGHT_SCHOOLS, family, seed), pdb.EIGHT_SCHOOLS)
    assert abs(err["mu"]) < TOL
    assert abs(err["tau"]) < LOOSE
    assert all(abs(err[f"theta[{j}]"]) < LOOSE for j in range(1, 9))
    _sds_in_range(ratio, ratio)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("family", ["meanfield", "fullrank"])
def test_kidiq(family, seed):
    err, ratio = errors(fit_of(pdb.KIDIQ, family, seed), pdb.KIDIQ)
    assert abs(err["beta[1]"]) < TOL and abs(err["beta[2]"]) < TOL
    assert abs(err["sigma"]) < LOOSE
    if family == "fullrank":
        _sds_in_range(ratio, ratio)
        return
    _sds_in_range(ratio, ["sigma"])
    # meanfield on a Gaussian posterior: the optimum's sd of each coefficient is its
    # conditional sd, sqrt(1 - rho^2) times the marginal one, with rho the posterior
    # correlation of intercept and slope; under a flat prior Cov(beta | sigma) is
    # proportional to (X'X)^-1, so rho = -sum(x) / sqrt(N sum(x^2)), from the data alone.
    x = pdb.load_data(pdb.KIDIQ)["mom_iq"]
    rho = -x.sum() / np.sqrt(x.size * (x * x).sum())
    for k in ("beta[1]", "beta[2]"):
        assert ratio[k] == pytest.approx(np.sqrt(1 - rho * rho), rel=0.15), k


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("family", ["meanfield", "fullrank"])
def test_sblri(family, seed):
    err, ratio = errors(fit_of(pdb.BLR, family, seed), pdb.BLR)
    assert all(abs(err[f"beta[{d}]"]) < TOL for d in range(1, 6))
    assert abs(err["sigma"]) < LOOSE
    _sds_in_range(ratio, ratio)


def test_the_models_match_the_references_dimensions():
    # the models written here have posteriordb's unconstrained dimension and parameter names
    for name in (pdb.EIGHT_SCHOOLS, pdb.KIDIQ, pdb.BLR):
        summary = (pdb.ROOT / name / "reference_summary.json").read_text()
        m = pdb.bound(name)
        assert f'"unconstrained_dim": {m.num_params},' in summary
        point = pdb.stan_names({k: np.asarray(v)[None] for k, v in
                                m.constrain(np.zeros(m.num_params)).items()})
        assert set(pdb.load_reference(name)) <= set(point)
