"""The peers of bench/accuracy.py: NumPyro SVI (AutoNormal, AutoMultivariateNormal; Adam(0.01),
float64) and PyMC (ADVI, FullRankADVI through pm.fit), 10,000 steps each as
bench/advi_bench.py runs them, on the same posteriors; imported only when installed.

Mirrors: eight schools, logistic_regression (the same model as advi_bench's `logistic`) and
radon_centered (advi_bench's `radon`) come from bench/advi_models.py; the others are written
here from the zoo modules and the posteriordb Stan programs (same priors, same site names, so
the reference's sites are found in the peers' draws). Stochastic volatility is NumPyro's only
(its AR(1) recursion as a `lax.scan`; a PyTensor scan is left for later).

k-hat for a peer: log w = log p(x, theta) - log q(theta) over 1000 draws theta ~ q, both in
the constrained space (the Jacobians of the peer's transforms cancel in the ratio), then
`ppl.infer.diagnostics.psis`: the same statistic as `VIResult.psis_khat`, in the peer's own
parametrisation.
NumPyro: numpyro.infer.util.log_density of the seeded guide (its auxiliary latent and Delta
sites give log q) and of the model at the guide's draws. PyMC: q's mean and L (or sd) over its
flat value-variable vector (`group.ordering`), log p from `model.compile_logp(jacobian=True)`
in the same unconstrained space, log q the Gaussian's density.
"""
import importlib
import importlib.util
import math
import time

import numpy as np

import advi_models
from ppl.infer.diagnostics import psis

STEPS = advi_models.PEER_STEPS
KHAT_DRAWS = 1000


def available():
    """[(library, version)] of the peers that import."""
    out = []
    for mod in ("numpyro", "pymc"):
        if importlib.util.find_spec(mod) is not None:
            out.append((mod, getattr(importlib.import_module(mod), "__version__", "?")))
    return out


# ---- mirrors ------------------------------------------------------------------------------------
def _es_data(d):
    return {"sigma": np.asarray(d["sigma"], float), "y": np.asarray(d["y"], float)}


def numpyro_mirrors():
    """case name -> (NumPyro model, data adapter): see `_table`."""
    import jax.numpy as jnp
    import numpyro
    import numpyro.distributions as nd
    es = advi_models.numpyro_models()["eight_schools"]

    def kidiq(mom_iq, kid_score):
        beta = numpyro.sample("beta", nd.ImproperUniform(nd.constraints.real, (), (2,)))
        sigma = numpyro.sample("sigma", nd.HalfCauchy(2.5))
        with numpyro.plate("n", len(mom_iq)):
            numpyro.sample("kid_score", nd.Normal(beta[0] + beta[1] * mom_iq, sigma),
                           obs=kid_score)

    def blr(X, y):
        with numpyro.plate("d", X.shape[1]):
            beta = numpyro.sample("beta", nd.Normal(0.0, 10.0))
        sigma = numpyro.sample("sigma", nd.HalfNormal(10.0))
        with numpyro.plate("n", len(y)):
            numpyro.sample("y", nd.Normal(jnp.matmul(X, beta), sigma), obs=y)

    def kidiq_normal(mom_iq, kid_score):
        beta = numpyro.sample("beta", nd.Normal(0.0, 100.0).expand([2]).to_event(1))
        sigma = numpyro.sample("sigma", nd.HalfCauchy(2.5))
        with numpyro.plate("n", len(mom_iq)):
            numpyro.sample("kid_score", nd.Normal(beta[0] + beta[1] * mom_iq, sigma),
                           obs=kid_score)

    def es_centered(sigma, y):
        mu = numpyro.sample("mu", nd.Normal(0.0, 5.0))
        tau = numpyro.sample("tau", nd.HalfCauchy(5.0))
        with numpyro.plate("school", len(sigma)):
            theta = numpyro.sample("theta", nd.Normal(mu, tau))
            numpyro.sample("y", nd.Normal(theta, sigma), obs=y)

    def radon(county, x, J, y):
        mu_a = numpyro.sample("mu_a", nd.Normal(0.0, 10.0))
        sigma_a = numpyro.sample("sigma_a", nd.HalfNormal(5.0))
        b = numpyro.sample("b", nd.Normal(0.0, 10.0))
        sigma_y = numpyro.sample("sigma_y", nd.HalfNormal(5.0))
        with numpyro.plate("county", J):
            a_raw = numpyro.sample("a_raw", nd.Normal(0.0, 1.0))
            a = numpyro.deterministic("a", mu_a + sigma_a * a_raw)
        with numpyro.plate("house", len(y)):
            numpyro.sample("y", nd.Normal(a[county] + b * x, sigma_y), obs=y)

    def poisson(x, exposure, y):
        alpha = numpyro.sample("alpha", nd.Normal(0.0, 5.0))
        with numpyro.plate("covariate", x.shape[1]):
            beta = numpyro.sample("beta", nd.Normal(0.0, 1.0))
        with numpyro.plate("row", x.shape[0]):
            numpyro.sample("y", nd.Poisson(exposure * jnp.exp(alpha + x @ beta)), obs=y)

    def negbin(x, exposure, y):
        alpha = numpyro.sample("alpha", nd.Normal(0.0, 5.0))
        with numpyro.plate("covariate", x.shape[1]):
            beta = numpyro.sample("beta", nd.Normal(0.0, 1.0))
        phi = numpyro.sample("phi", nd.Gamma(2.0, 0.1))
        with numpyro.plate("row", x.shape[0]):
            numpyro.sample("y", nd.NegativeBinomial2(exposure * jnp.exp(alpha + x @ beta), phi),
                           obs=y)

    def seeds(n, x1, x2, r):
        a = [numpyro.sample(f"alpha{k}", nd.Normal(0.0, 10.0)) for k in ("0", "1", "2", "12")]
        sigma = numpyro.sample("sigma", nd.HalfCauchy(1.0))
        with numpyro.plate("plate", len(n)):
            b_raw = numpyro.sample("b_raw", nd.Normal(0.0, 1.0))
            b = numpyro.deterministic("b", sigma * b_raw)
            logits = a[0] + a[1] * x1 + a[2] * x2 + a[3] * x1 * x2 + b
            numpyro.sample("r", nd.Binomial(n.astype(int), logits=logits), obs=r)

    bench = advi_models.numpyro_models()
    return dict(_table(es, kidiq, blr, kidiq_normal, es_centered, radon, poisson, negbin, bench),
                seeds=(seeds, _seeds_data),
                stochastic_volatility=(bench["stochastic_volatility"],
                                       lambda d: {"T": int(d["T"]), "y": d["y"]}))


def _seeds_data(d):
    return {k: np.asarray(d[k], float) for k in ("n", "x1", "x2", "r")}


def _table(es, kidiq, blr, kidiq_normal, es_centered, radon, poisson, negbin, bench):
    """case name -> (mirror, data adapter), the same for both peers."""
    kid = lambda d: {"mom_iq": d["mom_iq"], "kid_score": d["kid_score"]}  # noqa: E731
    lm = lambda d: {"X": d["X"], "y": d["y"]}                              # noqa: E731
    same = lambda d: d                                                     # noqa: E731
    return {"pdb/eight_schools": (es, _es_data), "eight_schools": (es, _es_data),
            "eight_schools_centered": (es_centered, _es_data),
            "pdb/kidiq": (kidiq, kid), "kidiq": (kidiq, kid),
            "kidiq_normal": (kidiq_normal, kid),
            "pdb/sblri": (blr, lm), "linear_regression": (blr, lm),
            "logistic_regression": (bench["logistic"], same),
            "radon": (radon, same), "radon_centered": (bench["radon"], same),
            "poisson_regression": (poisson, same), "negbin_regression": (negbin, same)}


def pymc_mirrors():
    """case name -> (function building the PyMC model from the adapted data, data adapter)."""
    import pymc as pm
    es = advi_models.pymc_models()["eight_schools"]

    def kidiq(mom_iq, kid_score):
        with pm.Model() as m:
            beta = pm.Flat("beta", shape=2)
            sigma = pm.HalfCauchy("sigma", 2.5)
            pm.Normal("kid_score", beta[0] + beta[1] * mom_iq, sigma, observed=kid_score)
        return m

    def blr(X, y):
        with pm.Model() as m:
            beta = pm.Normal("beta", 0.0, 10.0, shape=X.shape[1])
            sigma = pm.HalfNormal("sigma", 10.0)
            pm.Normal("y", X @ beta, sigma, observed=y)
        return m

    def kidiq_normal(mom_iq, kid_score):
        with pm.Model() as m:
            beta = pm.Normal("beta", 0.0, 100.0, shape=2)
            sigma = pm.HalfCauchy("sigma", 2.5)
            pm.Normal("kid_score", beta[0] + beta[1] * mom_iq, sigma, observed=kid_score)
        return m

    def es_centered(sigma, y):
        with pm.Model() as m:
            mu = pm.Normal("mu", 0.0, 5.0)
            tau = pm.HalfCauchy("tau", 5.0)
            theta = pm.Normal("theta", mu, tau, shape=len(sigma))
            pm.Normal("y", theta, sigma, observed=y)
        return m

    def radon(county, x, J, y):
        with pm.Model() as m:
            mu_a = pm.Normal("mu_a", 0.0, 10.0)
            sigma_a = pm.HalfNormal("sigma_a", 5.0)
            b = pm.Normal("b", 0.0, 10.0)
            sigma_y = pm.HalfNormal("sigma_y", 5.0)
            a_raw = pm.Normal("a_raw", 0.0, 1.0, shape=J)
            a = pm.Deterministic("a", mu_a + sigma_a * a_raw)
            pm.Normal("y", a[county] + b * x, sigma_y, observed=y)
        return m

    def poisson(x, exposure, y):
        with pm.Model() as m:
            alpha = pm.Normal("alpha", 0.0, 5.0)
            beta = pm.Normal("beta", 0.0, 1.0, shape=x.shape[1])
            pm.Poisson("y", exposure * pm.math.exp(alpha + x @ beta), observed=y)
        return m

    def negbin(x, exposure, y):
        with pm.Model() as m:
            alpha = pm.Normal("alpha", 0.0, 5.0)
            beta = pm.Normal("beta", 0.0, 1.0, shape=x.shape[1])
            phi = pm.Gamma("phi", alpha=2.0, beta=0.1)
            pm.NegativeBinomial("y", mu=exposure * pm.math.exp(alpha + x @ beta), alpha=phi,
                                observed=y)
        return m

    def seeds(n, x1, x2, r):
        with pm.Model() as m:
            a = [pm.Normal(f"alpha{k}", 0.0, 10.0) for k in ("0", "1", "2", "12")]
            sigma = pm.HalfCauchy("sigma", 1.0)
            b_raw = pm.Normal("b_raw", 0.0, 1.0, shape=len(n))
            b = pm.Deterministic("b", sigma * b_raw)
            pm.Binomial("r", n.astype(int), logit_p=a[0] + a[1] * x1 + a[2] * x2
                        + a[3] * x1 * x2 + b, observed=r)
        return m

    return dict(_table(es, kidiq, blr, kidiq_normal, es_centered, radon, poisson, negbin,
                       advi_models.pymc_models()), seeds=(seeds, _seeds_data))


# ---- fits ---------------------------------------------------------------------------------------
def numpyro_fit(fn, data, family, sites, seed=1):
    """svi.run for STEPS steps: a row dict with seconds, steps, khat, mean and sd of `sites`."""
    import jax
    import numpyro
    from numpyro import handlers
    from numpyro.infer import SVI, Predictive, Trace_ELBO
    from numpyro.infer.autoguide import AutoMultivariateNormal, AutoNormal
    from numpyro.infer.util import log_density
    numpyro.enable_x64()
    data = {k: jax.numpy.asarray(v) if isinstance(v, np.ndarray) else v
            for k, v in data.items()}
    guide = (AutoNormal if family == "meanfield" else AutoMultivariateNormal)(fn)
    svi = SVI(fn, guide, numpyro.optim.Adam(0.01), Trace_ELBO())
    t = time.perf_counter()
    res = svi.run(jax.random.PRNGKey(seed), STEPS, progress_bar=False, **data)
    jax.block_until_ready(res.params)
    secs = time.perf_counter() - t
    draws = Predictive(fn, guide=guide, params=res.params, num_samples=1000,
                       return_sites=sites)(jax.random.PRNGKey(seed + 1), **data)

    def log_w(key):
        lq, tr = log_density(handlers.seed(guide, key), (), data, res.params)
        latent = {k: s["value"] for k, s in tr.items() if s["type"] == "sample"
                  and not s["is_observed"] and not s["infer"].get("is_auxiliary")}
        lp, _ = log_density(fn, (), data, latent)
        return lp - lq
    lw = np.asarray(jax.jit(jax.vmap(log_w))(jax.random.split(jax.random.PRNGKey(seed + 2),
                                                               KHAT_DRAWS)))
    return _row(family, f"NumPyro {type(guide).__name__}", secs, lw,
                {k: np.asarray(v) for k, v in draws.items()})


def pymc_fit(build, data, family, sites, seed=1):
    """pm.fit for STEPS steps (ADVI or FullRankADVI): a row dict as numpyro_fit's."""
    import pymc as pm
    model = build(**data)
    method, label = (("advi", "PyMC ADVI") if family == "meanfield" else
                     ("fullrank_advi", "PyMC FullRankADVI"))
    t = time.perf_counter()
    try:
        with model:
            approx = pm.fit(n=STEPS, method=method, random_seed=seed, progressbar=False)
    except FloatingPointError as e:                     # pm.fit stops on a NaN parameter
        return dict(family=family, library=label, note=f"pm.fit failed: "
                    f"{str(e).splitlines()[0][:80]}")
    secs = time.perf_counter() - t
    post = approx.sample(1000, random_seed=seed + 1).posterior
    draws = {k: post[k].values.reshape((-1,) + post[k].shape[2:]) for k in sites}
    g = approx.groups[0]
    mean = g.mean.eval()
    rng = np.random.default_rng(seed + 2)
    eps = rng.standard_normal((KHAT_DRAWS, mean.size))
    if family == "meanfield":
        sd = g.std.eval()
        z, log_det = mean + eps * sd, np.sum(np.log(sd))
    else:
        L = g.L.eval()
        z, log_det = mean + eps @ L.T, np.sum(np.log(np.abs(np.diag(L))))
    log_q = -0.5 * np.sum(eps * eps, axis=1) - log_det - 0.5 * mean.size * math.log(2 * math.pi)
    logp = model.compile_logp(jacobian=True)
    lp = np.empty(KHAT_DRAWS)
    for i, zi in enumerate(z):
        point = {name: zi[slc].reshape(shape) for name, (_, slc, shape, _) in g.ordering.items()}
        lp[i] = logp(point)
    return _row(family, label, secs, lp - log_q, draws)


def _row(family, library, secs, lw, draws):
    lw = np.where(np.isfinite(lw), lw, -np.inf)
    khat = psis(lw)[1] if np.isfinite(lw).any() else math.nan
    return dict(family=family, library=library, seconds=secs, steps=STEPS, khat=khat,
                mean={k: v.mean(0) for k, v in draws.items()},
                sd={k: v.std(0, ddof=1) for k, v in draws.items()})


def rows(case, data, families, sites):
    """The peers' rows for accuracy.py's case `case` (no mirror: none)."""
    out = []
    libs = [(mod, mirrors, fit) for mod, mirrors, fit in
            (("numpyro", numpyro_mirrors, numpyro_fit), ("pymc", pymc_mirrors, pymc_fit))
            if importlib.util.find_spec(mod) is not None]
    for mod, mirrors, fit in libs:
        mirror = mirrors().get(case)
        if mirror is None:
            continue
        fn, adapt = mirror
        for family in families:
            print(f"    {mod} {family} ...", flush=True)
            try:
                out.append(fit(fn, adapt(data), family, sites))
            except Exception as e:                      # noqa: BLE001 -- a failed fit: a row
                out.append(dict(family=family, library=mod, note=f"failed: {type(e).__name__}"
                                f": {str(e).splitlines()[0][:80]}"))
    return out
