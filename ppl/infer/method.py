"""Which method `ppl.advi` runs when it is not told (method="auto"), and why.

bench/accuracy.py (README "Accuracy") measured deterministic ADVI (`ppl.dadvi`: fixed draws,
trust-region Newton, linear-response covariances, PSIS resampling) as accurate as stochastic
ADVI or more on every zoo and posteriordb entry but two (censored, garch meanfield; both
judged "miss" by their verdicts), at a comparable time (0.25-1.02x on the regressions,
bench/dadvi_speed.py). It needs
the full data at every step and forms per-draw Hessians, so "auto" takes it where that holds:

- deterministic ADVI when the model reads all its data (no minibatches, nothing on disk), has
  at most 100 unconstrained parameters, and none of stochastic ADVI's own options was given;
  fullrank above 50 parameters (whose variational parameters grow as D^2) is fitted as
  meanfield with linear-response covariances, a full covariance all the same (radon's 89:
  0.11 sd against stochastic fullrank's 1.37);
- family="lowrank" (for hundreds of parameters): deterministic ADVI at any D when the data
  are in memory and no stochastic option was given (stochastic volatility, D = 503: 0.15 sd
  off in about 40 s with the re-whitening rounds of `whiten`, where stochastic lowrank
  stopped 32 sd off);
- stochastic ADVI otherwise: minibatches need stochastic gradients; beyond those sizes
  DADVI's Newton steps cost minutes where ADVI's take seconds (stochastic volatility, D = 503);
  an option such as steps=... asks for the stochastic algorithm by name.

`choose` returns the method, the reason in words (`fit.info["method"]`) and the family to fit.
"""
import numpy as np

from ..centring import dependent_sites
from .config import has_subsample
from .dadvi import _DENSE_D
from .fit import _FULLRANK_MAX as FULLRANK_MAX     # ppl.dadvi refuses fullrank above it

__all__ = ["choose", "centred_for_stochastic", "STOCHASTIC_DEFAULTS"]

# ppl.advi's options that only stochastic ADVI has, with their defaults
STOCHASTIC_DEFAULTS = {"steps": 10_000, "optimizer": "stan", "eta": None, "adapt_iter": 50,
                       "tol_rel_obj": 0.01, "eval_elbo": 100, "grad_samples": 1,
                       "elbo_samples": 100, "lr": None, "average": True,
                       "precondition": "laplace"}


def given_options(options):
    """The names of stochastic ADVI's options whose value differs from the default."""
    out = []
    for name, default in STOCHASTIC_DEFAULTS.items():
        v = options[name]
        same = v is default if default is None else (type(v) is type(default) and v == default)
        if not same:
            out.append(name)
    return out


def choose(model, family, options):
    """(method, why in words, family to fit) for `ppl.advi(model, family=..., **options)`
    with method="auto" (the module docstring); options: ppl.advi's stochastic-only
    arguments. A fullrank request with 50 < D <= 100 is met by meanfield deterministic ADVI
    with linear-response covariances, whose result is a full-covariance Gaussian."""
    given = given_options(options)
    D = model.num_params
    if has_subsample(model) or model.layouts:
        return "advi", ("auto: stochastic ADVI, the model reads minibatches or data on disk "
                        "(deterministic ADVI needs every row at every step)"), family
    if given:
        return ("advi", f"auto: stochastic ADVI, its options were given ({', '.join(given)})",
                family)
    if family == "lowrank":
        return "dadvi", (f"auto: deterministic ADVI, the low-rank family, {D} parameters, all "
                         "the data in memory"), family
    if D > _DENSE_D:
        return "advi", (f"auto: stochastic ADVI, {D} parameters (deterministic ADVI's Newton "
                        f"steps take up to {_DENSE_D})"), family
    if family == "fullrank" and D > FULLRANK_MAX:
        return "dadvi", (f"auto: deterministic ADVI, meanfield with linear-response "
                         f"covariances for fullrank's full covariance ({D} parameters: a "
                         f"fullrank q above {FULLRANK_MAX} has {D * (D + 3) // 2} variational "
                         "parameters)"), "meanfield"
    return "dadvi", (f"auto: deterministic ADVI, {D} parameters, all the data in memory; "
                     "ppl.dadvi has its own options"), family


def centred_for_stochastic(model, centring, seed):
    """The model stochastic ADVI fits under `ppl.advi`'s `centring`: "learn" takes the
    centredness (and the quantile choice for truncated-normal sites) of a short deterministic
    meanfield fit (30 fixed draws, lam learned jointly with q, no linear response) where that
    can run (data in memory, D + #lam <= 100), else the model as written; a number or dict
    fixes lam; None (or a model centred already) leaves it."""
    if centring is None or model.centring:
        return model
    if not isinstance(centring, str):
        return model.centred(centring)
    if centring != "learn":
        raise ValueError(f"advi: centring must be 'learn', None, a number in [0, 1] or a dict "
                         f"site -> lam, got {centring!r}")
    sites, truncated = dependent_sites(model)
    P = sum(int(np.prod(s, dtype=np.int64)) for s in sites.values())
    if not (sites or truncated) or has_subsample(model) or model.layouts or \
            model.num_params + P > _DENSE_D:
        return model
    from .fit import dadvi  # noqa: PLC0415 -- fit imports this module
    try:
        fit = dadvi(model, "meanfield", draws=30, max_draws=30, seed=seed, lrvb=False,
                    resample=False, progress=False, centring="learn")
    except (ValueError, FloatingPointError, np.linalg.LinAlgError):
        return model
    return fit.model
