"""What advi_bench.py runs: the data (typed in, or simulated with fixed seeds), the models in
Wengert, NumPyro and PyMC (same priors), and the references the fits are scored against.

    eight_schools  non-centred; y, sigma typed in (Rubin 1981); reference: posteriordb's NUTS
                   summary (../shared/data/posteriordb/...), or none when that file is absent
    logistic       N = 10,000, D = 50, X ~ N(0, 1), beta_true = linspace(-0.5, 0.5, 50), seed 0;
                   beta ~ N(0, 1); reference: importance-reweighted Laplace (below)
    logistic       from the zoo: models/logistic_regression.py, simulate(seed=0, N=10_000, D=50)
    radon          from the zoo: models/radon.py, `radon_centered` and its simulate() (J = 85
                   counties, N = 919 houses, seed 1); centred a_j ~ N(mu_a, sigma_a),
                   y ~ N(a_county + b x, sigma_y); reference: a Gibbs sampler in numpy
                   (models/reference/radon_gibbs.py, shared with the zoo's fit test)
    stochastic_volatility  from the zoo: models/stochastic_volatility.py, T = 500, seed 0,
                   non-centred; reference: the simulated truth (mu, phi, sigma scored in the
                   fit's own sds; the share of the 500 true h_t inside the 90% intervals)

Importance-reweighted Laplace (`importance_reference`): ppl.laplace gives the mode z* and H^-1 in
the unconstrained space; S draws of a multivariate t (10 degrees of freedom) with that centre
and scale, weighted by p(z) / q_t(z) (Pareto-smoothed), give the reference means and sds of the
constrained draws. It converges to the exact posterior whatever the Laplace error (already
O(1/sqrt(N)) sd at N = 10,000); a mean's Monte Carlo error is about sd / sqrt(ESS), and k-hat
under 0.7 says the proposal covers the posterior (both printed). The centred radon density has
no mode (it grows without bound as sigma_a -> 0), hence the Gibbs sampler there. Stochastic
volatility has neither a usable mode (its joint mode is degenerate: sigma ~ 40, h fitting log y^2)
nor conjugate conditionals, and 503 dimensions: it is scored against the truth it was simulated
from, which a calibrated posterior covers (a fit within ~3 of its sds; ~90% of h_t covered).

The peers' mirrors and fits are in advi_peers.py (re-exported here: numpyro_models, pymc_models,
NumPyroLib, PyMCLib, peers, PEER_STEPS).
"""
import json
import math
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
if REPO not in sys.path:            # the repository, when wengert isn't installed
    sys.path.insert(0, REPO)

import autodiff as ad  # noqa: E402
import ppl  # noqa: E402,F401
from advi_peers import (FAMILIES, PEER_STEPS, SCAN, NumPyroLib, PyMCLib,  # noqa: E402,F401
                        numpyro_models, peers, pymc_models)
from models import eight_schools as zoo_eight_schools  # noqa: E402
from models import logistic_regression as zoo_logistic  # noqa: E402
from models import radon as zoo_radon  # noqa: E402
from models import stochastic_volatility as zoo_sv  # noqa: E402
from ppl.distributions.base import validation_enabled  # noqa: E402
from models.reference.radon_gibbs import gibbs, split_rhat  # noqa: E402

POSTERIORDB = os.path.join(HERE, "..", "..", "shared", "data", "posteriordb")
ES_REFERENCE = os.path.join(POSTERIORDB, "eight_schools-eight_schools_noncentered",
                            "reference_summary.json")

# ---- data ---------------------------------------------------------------------------------------
# every model and its data come from the zoo (models/): one copy of each

LR_N, LR_D = 10_000, 50
LR_BETA_TRUE = np.linspace(-0.5, 0.5, LR_D)
RADON_J, RADON_N = 85, 919
RADON_TRUE = zoo_radon.TRUE
logistic = zoo_logistic.model               # beta ~ N(0, I), y ~ Bernoulli(logits = x beta)
radon = zoo_radon.centered.model            # centred: a_j ~ N(mu_a, sigma_a)


def logistic_data():
    """X (10,000 x 50) ~ N(0, 1) and y ~ Bernoulli(expit(X beta_true)), seed 0 (the zoo's)."""
    return zoo_logistic.simulate(seed=0, N=LR_N, D=LR_D)


def radon_data():
    """The zoo's radon data: 85 counties, 919 houses, seed 1 (models/radon.py, simulate)."""
    return zoo_radon.simulate(seed=1, J=RADON_J, N=RADON_N)


def sv_data():
    """The zoo's stochastic volatility series, T = 500, seed 0, and the simulated h."""
    return zoo_sv.simulate_with_h(seed=0, T=500)


def sv_init(data):
    """A data-based initial point for Wengert's SV fit: mu = mean(log y^2) + 1.27 (E log chi2_1
    = -1.27), phi 0, sigma 1, h_std 0 (see tests/models/test_zoo_hierarchical.py: from Stan's
    random initial point, or whitened at the degenerate joint mode, the fit goes astray)."""
    return {"mu": np.array(np.mean(np.log(data["y"] ** 2)) + 1.27), "phi": np.array(0.0),
            "sigma": np.array(1.0), "h_std": np.zeros(data["T"])}


# ---- references ---------------------------------------------------------------------------------
class Reference:
    """Posterior means and sds by site name (arrays), and where they come from. `truth`: the
    means are the simulated true values and there are no sds (advi_bench scores a fit in its
    own sds and by interval coverage)."""

    def __init__(self, mean, sd, source, truth=False):
        self.mean, self.sd, self.source, self.truth = mean, sd, source, truth


def posteriordb_reference():
    """Eight schools' NUTS summary from posteriordb (theta[1..8], mu, tau), or None."""
    if not os.path.exists(ES_REFERENCE):
        return None
    with open(ES_REFERENCE) as fh:
        p = json.load(fh)["parameters"]
    mean = {"mu": np.array(p["mu"]["mean"]), "tau": np.array(p["tau"]["mean"]),
            "theta": np.array([p[f"theta[{i}]"]["mean"] for i in range(1, 9)])}
    sd = {"mu": np.array(p["mu"]["sd"]), "tau": np.array(p["tau"]["sd"]),
          "theta": np.array([p[f"theta[{i}]"]["sd"] for i in range(1, 9)])}
    return Reference(mean, sd, "posteriordb NUTS, 10 x 1000 draws")


def importance_reference(model, draws, seed=0, df=10.0):
    """Importance-reweighted Laplace (see the module docstring): E_p[f] ~ sum_s w_s f(T(z_s)),
    z_s ~ t_df(z*, H^-1), w_s proportional to p(z_s) / q_t(z_s), Pareto-smoothed."""
    lap = ppl.laplace(model, seed=seed)
    mu, L = lap.mu, lap.L
    d = mu.size
    rng = np.random.default_rng(seed)
    u = rng.standard_normal((draws, d)) / np.sqrt(rng.chisquare(df, draws) / df)[:, None]
    z = mu + u @ L.T
    log_q = -0.5 * (df + d) * np.log1p(np.sum(u * u, axis=1) / df)   # up to a constant
    log_p = np.empty(draws)
    with ad.no_grad(), validation_enabled(False), np.errstate(all="ignore"):
        for i in range(draws):
            log_p[i] = float(model.unconstrained_log_density(z[i]))
    lw = np.where(np.isfinite(log_p), log_p - log_q, -np.inf)
    try:
        from ppl.infer.diagnostics import psis
        lw, khat = psis(lw)
    except ImportError:                     # ppl.infer not there yet: plain normalised weights
        lw, khat = lw - lw.max(), math.nan
        lw -= math.log(np.exp(lw).sum())
    w = np.exp(lw)
    ess = 1.0 / float(np.sum(w * w))
    rows = [model.constrain(zi) for zi in z]
    mean, sd = {}, {}
    for name in rows[0]:
        a = np.stack([r[name] for r in rows]).reshape(draws, -1)
        m = w @ a
        mean[name] = m.reshape(np.shape(rows[0][name]))
        sd[name] = np.sqrt(np.maximum(w @ (a - m) ** 2, 0.0)).reshape(np.shape(rows[0][name]))
    return Reference(mean, sd, f"Laplace + importance sampling, {draws} t10 draws, "
                               f"ESS {ess:.0f}, k-hat {khat:.2f}")


def radon_gibbs_reference(data, sweeps, chains=4, seed=0):
    """The radon posterior by Gibbs sampling in numpy, independent of the engine
    (models/reference/radon_gibbs.py: normal full conditionals for a_j, mu_a, b; independence
    Metropolis steps for sigma_y and sigma_a). Half the sweeps are burn-in."""
    draws = gibbs(data, sweeps, chains=chains, seed=seed)      # (chains, kept sweeps, 4 + J)
    rhat = split_rhat(draws)
    flat = draws.reshape(-1, draws.shape[2])
    m, sd = flat.mean(0), flat.std(0, ddof=1)
    names = ["mu_a", "sigma_a", "b", "sigma_y"]
    mean = {k: m[i] for i, k in enumerate(names)}
    sds = {k: sd[i] for i, k in enumerate(names)}
    mean["a"], sds["a"] = m[4:], sd[4:]
    return Reference(mean, sds, f"Gibbs sampler in numpy, {chains} x {sweeps // 2} kept sweeps, "
                                f"max split R-hat {rhat:.3f}")


def sv_truth_reference(h):
    """The simulated truth of the SV data: mu, phi, sigma (TRUE) and the 500 h_t."""
    mean = {k: np.array(v) for k, v in zoo_sv.TRUE.items()}
    mean["h"] = h
    return Reference(mean, None, "the simulated truth (TRUE, h); err in the fit's own sds",
                     truth=True)


# ---- the benchmark's model list -----------------------------------------------------------------
def cases(ref_draws):
    """name -> (bound Wengert model, data dict, reference factory (called once, lazily),
    options: "advi" keyword arguments for Wengert's fit, "repeats" a cap on timed fits)."""
    zoo = zoo_eight_schools.data()
    es = {"sigma": zoo["sigma"], "y": zoo["y"]}          # what the peers' versions take
    lr, rd = logistic_data(), radon_data()
    sv, h = sv_data()
    return {
        "eight_schools": (zoo_eight_schools.model(**zoo), es, posteriordb_reference, {}),
        "logistic": (logistic(**lr), lr, lambda: importance_reference(logistic(**lr),
                                                                      ref_draws), {}),
        "radon": (radon(**rd), rd, lambda: radon_gibbs_reference(rd, 4 * ref_draws), {}),
        "stochastic_volatility": (zoo_sv.model(**sv), sv, lambda: sv_truth_reference(h),
                                  {"advi": {"init": sv_init(sv), "precondition": None},
                                   "repeats": 1}),
    }
