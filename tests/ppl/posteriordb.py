"""The posteriordb examples in ../shared/data/posteriordb, for the ADVI accuracy tests.

Each folder `<name>` there has data.json (posteriordb's data, verbatim), model.stan and
reference_summary.json (per Stan output name, e.g. "beta[1]": mean, sd, quantiles over 10 x 1000
NUTS draws). The models below are written here from those Stan programs, independently of the
zoo in models/, so a slip in either shows up as a disagreement. The shared folder is on the
project's machines (and its CI) but not in every clone: `available()` says whether it is here,
and nothing is ever copied into the repository.
"""
import json
from pathlib import Path

import numpy as np

import ppl
from ppl import dist

ROOT = Path(__file__).resolve().parents[3] / "shared" / "data" / "posteriordb"
MISSING = f"reference files not here: no {ROOT} (a clone without ../shared; CI on our machines " \
          "has it)"

EIGHT_SCHOOLS = "eight_schools-eight_schools_noncentered"
KIDIQ = "kidiq-kidscore_momiq"
BLR = "sblri-blr"


def available(name=None):
    """Whether the shared posteriordb folder (or the example `name` in it) is on this machine."""
    path = ROOT if name is None else ROOT / name
    return path.is_dir()


def load_data(name):
    """posteriordb's data.json of example `name`: dict of numbers and float arrays."""
    raw = json.loads((ROOT / name / "data.json").read_text())
    return {k: (np.asarray(v, dtype=float) if isinstance(v, list) else v) for k, v in raw.items()}


def load_reference(name):
    """reference_summary.json's "parameters": Stan output name -> {"mean", "sd", ...}."""
    return json.loads((ROOT / name / "reference_summary.json").read_text())["parameters"]


# ---- the Stan programs, written out --------------------------------------------------------------
@ppl.model
def eight_schools_noncentered(J, y, sigma):
    """theta_trans_j ~ N(0, 1); mu ~ N(0, 5); tau ~ cauchy(0, 5), tau > 0;
    theta = theta_trans * tau + mu; y_j ~ N(theta_j, sigma_j)."""
    mu = ppl.sample("mu", dist.Normal(0.0, 5.0))
    tau = ppl.sample("tau", dist.HalfCauchy(5.0))
    with ppl.plate("school", int(J)):
        theta_trans = ppl.sample("theta_trans", dist.Normal(0.0, 1.0))
        theta = ppl.deterministic("theta", theta_trans * tau + mu)
        ppl.sample("y", dist.Normal(theta, sigma), obs=y)


@ppl.model
def kidscore_momiq(N, kid_score, mom_iq):
    """beta flat (Stan's default, improper); sigma ~ cauchy(0, 2.5), sigma > 0;
    kid_score ~ N(beta[1] + beta[2] * mom_iq, sigma)."""
    beta = ppl.sample("beta", dist.ImproperUniform(ppl.constraints.real, (), (2,)))
    sigma = ppl.sample("sigma", dist.HalfCauchy(2.5))
    with ppl.plate("n", int(N)):
        ppl.sample("kid_score", dist.Normal(beta[0] + beta[1] * mom_iq, sigma), obs=kid_score)


@ppl.model
def blr(N, D, X, y):
    """beta_d ~ N(0, 10); sigma ~ N(0, 10), sigma > 0 (a half-normal); y ~ N(X beta, sigma)."""
    with ppl.plate("d", int(D)):
        beta = ppl.sample("beta", dist.Normal(0.0, 10.0))
    sigma = ppl.sample("sigma", dist.HalfNormal(10.0))
    with ppl.plate("n", int(N)):
        ppl.sample("y", dist.Normal(X @ beta, sigma), obs=y)


def bound(name):
    """The model of example `name` bound to its data.json."""
    d = load_data(name)
    if name == EIGHT_SCHOOLS:
        return eight_schools_noncentered(d["J"], d["y"], d["sigma"])
    if name == KIDIQ:
        return kidscore_momiq(d["N"], d["kid_score"], d["mom_iq"])
    if name == BLR:
        return blr(d["N"], d["D"], d["X"], d["y"])
    raise ValueError(f"unknown posteriordb example {name!r}")


def stan_names(draws):
    """Flatten a dict site -> (draws, *shape) into Stan's names ("beta[1]", 1-based): dict
    name -> (draws,)."""
    out = {}
    for site, a in draws.items():
        a = np.asarray(a)
        if a.ndim == 1:
            out[site] = a
        else:
            for i in range(a.shape[1]):
                out[f"{site}[{i + 1}]"] = a[:, i]
    return out
