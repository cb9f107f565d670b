"""bench/accuracy.py's reference where neither posteriordb nor a Gibbs sampler has one:
Laplace + PSIS importance sampling when its k-hat < 0.7, else HMC (`hmc_reference`), whose
draws are cached under bench/out/references/ (keyed on the model's source file, its data, the
sampler's source and the settings; `USE_CACHE = False` recomputes)."""
import hashlib
import inspect
import json
import os
import re
import warnings

import numpy as np

import advi_models
import hmc_reference
from advi_models import Reference
from ppl.distributions.base import validation_enabled

HERE = os.path.dirname(os.path.abspath(__file__))
KHAT_OK = 0.7
USE_CACHE = True
CACHE = os.path.join(HERE, "out", "references")    # bench/out/ is not tracked


def cached_hmc(model, draws, seed):
    """hmc_reference(model, draws, warmup=draws, seed), read from CACHE when this model (its
    module's source), data, sampler source and settings ran before (the HMC reference of
    stochastic volatility takes minutes); written there after a run. Off with --no-cache.

    HMC runs on the model with its centrable sites non-centred (`Model.centred`, lam = 0; the
    draws are reported in the model's own parameterisation): a hierarchical scale's funnel
    biases HMC on the centred form (seeds written centred: sigma 0.13 sd off the quadrature of
    tests/models/seeds_reference.py, non-centred 0.003)."""
    from ppl.centring import centrable_sites  # noqa: PLC0415
    sites = [n for n in centrable_sites(model) if n not in model.centring]
    if sites:
        model = model.centred({n: 0.0 for n in sites})
    h = hashlib.sha1(f"{model.name} {draws} {seed}".encode() + (
        f" non-centred {sorted(sites)}".encode() if sites else b""))
    for v in list(model.args) + sorted(model.kwargs.items(), key=lambda kv: kv[0]):
        h.update(np.ascontiguousarray(v[1] if isinstance(v, tuple) else v).tobytes())
    for src in (hmc_reference.__file__, inspect.getsourcefile(model.fn)):
        with open(src, "rb") as fh:
            h.update(fh.read())
    path = os.path.join(CACHE, f"{model.name}-{h.hexdigest()[:16]}.json")
    if USE_CACHE and os.path.exists(path):
        with open(path) as fh:
            c = json.load(fh)
        ref = Reference({k: np.array(v) for k, v in c["mean"].items()},
                        {k: np.array(v) for k, v in c["sd"].items()},
                        c["source"] + f" (cached in {os.path.relpath(path, HERE)})")
        ref.ok, ref.rhat, ref.divergent = c["ok"], c["rhat"], c["divergent"]
        return ref
    ref = hmc_reference.hmc_reference(model, draws=draws, warmup=draws, seed=seed)
    if sites:
        ref.source += f"; non-centred: {', '.join(sites)}"
    os.makedirs(CACHE, exist_ok=True)
    with open(path, "w") as fh:
        json.dump(dict(mean={k: np.asarray(v).tolist() for k, v in ref.mean.items()},
                       sd={k: np.asarray(v).tolist() for k, v in ref.sd.items()},
                       source=ref.source, ok=bool(ref.ok), rhat=ref.rhat,
                       divergent=int(ref.divergent)), fh)
    return ref


def chosen_reference(model, draws, hmc_draws, seed=0):
    """Laplace + PSIS-IS when its k-hat < 0.7, else HMC when R-hat < 1.01, else None; with
    the sources tried ("kind" on the Reference: "IS" or "HMC")."""
    notes = []
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            with validation_enabled(False):  # its t10 draws reach extreme values
                ref = advi_models.importance_reference(model, draws, seed=seed)
        k = float(re.search(r"k-hat (\S+)$", ref.source).group(1))
        if k < KHAT_OK:
            ref.kind = "IS"
            return ref, notes
        notes.append(f"IS k-hat {k:.2f}")
    except (ValueError, np.linalg.LinAlgError, FloatingPointError) as e:
        notes.append(f"no IS ({str(e).splitlines()[0][:60]})")
    ref = cached_hmc(model, hmc_draws, seed)
    # a few divergent transitions in 4 x draws (non-centred stochastic volatility: 2 in 4000)
    # move no mean or sd by the 0.1 reference sd this table resolves; more say HMC failed
    if ref.rhat < 1.01 and ref.divergent <= 0.001 * 4 * hmc_draws:
        ref.kind = "HMC"
        return ref, notes
    notes.append(f"HMC R-hat {ref.rhat:.3f}, {ref.divergent} divergent")
    return None, notes
