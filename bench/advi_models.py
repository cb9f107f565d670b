"""What advi_bench.py runs: the data (typed in, or simulated with fixed seeds), the models in
Wengert, NumPyro and PyMC (same priors), and the references the fits are scored against.

    eight_schools  non-centred; y, sigma typed in (Rubin 1981); reference: posteriordb's NUTS
                   summary (../shared/data/posteriordb/...), or none when that file is absent
    logistic       N = 10,000, D = 50, X ~ N(0, 1), beta_true = linspace(-0.5, 0.5, 50), seed 0;
                   beta ~ N(0, 1); reference: importance-reweighted Laplace (below)
    radon          J = 85 counties, N = 919 houses (every county has one, the rest spread with
                   lognormal weights), floor x ~ Bernoulli(0.17), seed 1; centred a_j ~ N(mu_a,
                   sigma_a), y ~ N(a_county + b x, sigma_y); reference: a Gibbs sampler in numpy

Importance-reweighted Laplace (`importance_reference`): ppl.laplace gives the mode z* and H^-1 in
the unconstrained space; S draws of a multivariate t (10 degrees of freedom) with that centre
and scale, weighted by p(z) / q_t(z) (Pareto-smoothed), give the reference means and sds of the
constrained draws. It converges to the exact posterior whatever the Laplace error (already
O(1/sqrt(N)) sd at N = 10,000); a mean's Monte Carlo error is about sd / sqrt(ESS), and k-hat
under 0.7 says the proposal covers the posterior (both printed). The centred radon density has
no mode (it grows without bound as sigma_a -> 0), hence the Gibbs sampler there.
"""
import importlib.util
import json
import math
import os
import statistics
import time

import numpy as np

import autodiff as ad
import ppl
from models import eight_schools as zoo_eight_schools
from ppl import dist
from ppl.distributions.base import validation_enabled

HERE = os.path.dirname(os.path.abspath(__file__))
POSTERIORDB = os.path.join(HERE, "..", "..", "shared", "data", "posteriordb")
FAMILIES = ("meanfield", "fullrank")
PEER_STEPS = 10_000      # the peers have no stopping rule: a fixed number of steps
SCAN = 100               # NumPyro steps per compiled loop when timing a step
ES_REFERENCE = os.path.join(POSTERIORDB, "eight_schools-eight_schools_noncentered",
                            "reference_summary.json")

# ---- data ---------------------------------------------------------------------------------------
# eight schools: the zoo's model and data (models/eight_schools.py), typed in once

LR_N, LR_D = 10_000, 50
LR_BETA_TRUE = np.linspace(-0.5, 0.5, LR_D)

RADON_J, RADON_N = 85, 919
RADON_TRUE = {"mu_a": 1.5, "sigma_a": 0.35, "b": -0.65, "sigma_y": 0.75}


def logistic_data():
    """X (10,000 x 50) ~ N(0, 1) and y ~ Bernoulli(expit(X beta_true)), seed 0."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(LR_N, LR_D))
    y = (rng.random(LR_N) < 1.0 / (1.0 + np.exp(-x @ LR_BETA_TRUE))).astype(float)
    return {"x": x, "y": y}


def radon_data():
    """County index (every county at least once, the rest by lognormal weights), floor
    indicator, and log radon from the model at RADON_TRUE, seed 1."""
    rng = np.random.default_rng(1)
    w = rng.lognormal(0.0, 1.0, RADON_J)
    county = np.concatenate([np.arange(RADON_J),
                             rng.choice(RADON_J, RADON_N - RADON_J, p=w / w.sum())])
    x = (rng.random(RADON_N) < 0.17).astype(float)
    t = RADON_TRUE
    a = t["mu_a"] + t["sigma_a"] * rng.normal(size=RADON_J)
    y = a[county] + t["b"] * x + t["sigma_y"] * rng.normal(size=RADON_N)
    return {"county": county, "x": x, "J": RADON_J, "y": y}


# ---- Wengert models -----------------------------------------------------------------------------
@ppl.model
def logistic(x, y):
    """beta ~ N(0, I), y ~ Bernoulli(logits = x beta)."""
    beta = ppl.sample("beta", dist.Normal(np.zeros(x.shape[1]), 1.0).to_event(1))
    with ppl.plate("data", len(y)):
        ppl.sample("y", dist.Bernoulli(logits=x @ beta), obs=y)


@ppl.model
def radon(county, x, J, y):
    """mu_a ~ N(0, 10), sigma_a ~ HalfNormal(5), b ~ N(0, 10), sigma_y ~ HalfNormal(5),
    a_j ~ N(mu_a, sigma_a), y ~ N(a_county + b x, sigma_y)."""
    mu_a = ppl.sample("mu_a", dist.Normal(0.0, 10.0))
    sigma_a = ppl.sample("sigma_a", dist.HalfNormal(5.0))
    b = ppl.sample("b", dist.Normal(0.0, 10.0))
    sigma_y = ppl.sample("sigma_y", dist.HalfNormal(5.0))
    with ppl.plate("county", J):
        a = ppl.sample("a", dist.Normal(mu_a, sigma_a))
    with ppl.plate("house", len(y)):
        ppl.sample("y", dist.Normal(a[county] + b * x, sigma_y), obs=y)


# ---- references ---------------------------------------------------------------------------------
class Reference:
    """Posterior means and sds by site name (arrays), and where they come from."""

    def __init__(self, mean, sd, source):
        self.mean, self.sd, self.source = mean, sd, source


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
        from ppl.psis import psis
        lw, khat = psis(lw)
    except ImportError:                     # ppl.psis not there yet: plain normalised weights
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
    """The radon posterior by Gibbs sampling in numpy, independent of the engine: a_j, mu_a and
    b from their normal full conditionals; sigma_y and sigma_a by an independence Metropolis step
    whose proposal is the inverse-gamma conditional under a flat prior on the scale, accepted
    with probability min(1, HalfNormal(new) / HalfNormal(old)). Half the sweeps are burn-in."""
    county, x, y, J = data["county"], data["x"], data["y"], data["J"]
    n = y.size
    Z = np.zeros((n, J))
    Z[np.arange(n), county] = 1.0
    n_j, xx = Z.sum(0), x @ x
    rng = np.random.default_rng(seed)
    C = chains
    mu_a, b = rng.normal(size=C), rng.normal(size=C)
    sig_a, sig_y = np.exp(rng.normal(size=C)), np.exp(rng.normal(size=C))
    a = mu_a[:, None] + rng.normal(size=(C, J))
    keep = []

    def scale_step(old, ss, dof):          # target s^-dof exp(-ss / 2s^2) HalfNormal(s | 5)
        new = np.sqrt(0.5 * ss / rng.gamma(0.5 * (dof - 1), 1.0, size=C))
        accept = np.log(rng.random(C)) < -(new ** 2 - old ** 2) / 50.0
        return np.where(accept, new, old)
    for t in range(sweeps):
        prec = n_j / sig_y[:, None] ** 2 + 1.0 / sig_a[:, None] ** 2
        rhs = ((y - b[:, None] * x) @ Z) / sig_y[:, None] ** 2 + (mu_a / sig_a ** 2)[:, None]
        a = rhs / prec + rng.normal(size=(C, J)) / np.sqrt(prec)
        prec = J / sig_a ** 2 + 1.0 / 100.0
        mu_a = a.sum(1) / sig_a ** 2 / prec + rng.normal(size=C) / np.sqrt(prec)
        fit = a[:, county]
        prec = xx / sig_y ** 2 + 1.0 / 100.0
        b = ((y - fit) @ x) / sig_y ** 2 / prec + rng.normal(size=C) / np.sqrt(prec)
        sig_y = scale_step(sig_y, np.sum((y - fit - b[:, None] * x) ** 2, axis=1), n)
        sig_a = scale_step(sig_a, np.sum((a - mu_a[:, None]) ** 2, axis=1), J)
        if t >= sweeps // 2:
            keep.append(np.column_stack([mu_a, sig_a, b, sig_y, a]))
    draws = np.stack(keep, axis=1)         # (chains, kept sweeps, 4 + J)
    rhat = _split_rhat(draws)
    flat = draws.reshape(-1, draws.shape[2])
    m, sd = flat.mean(0), flat.std(0, ddof=1)
    names = ["mu_a", "sigma_a", "b", "sigma_y"]
    mean = {k: m[i] for i, k in enumerate(names)}
    sds = {k: sd[i] for i, k in enumerate(names)}
    mean["a"], sds["a"] = m[4:], sd[4:]
    return Reference(mean, sds, f"Gibbs sampler in numpy, {C} x {sweeps // 2} kept sweeps, "
                                f"max split R-hat {rhat:.3f}")


def _split_rhat(draws):
    """max over quantities of the split R-hat of (chains, n, k) draws (BDA3, 11.4)."""
    h = draws.shape[1] // 2
    halves = np.concatenate([draws[:, :h], draws[:, h:2 * h]], axis=0)
    w = halves.var(axis=1, ddof=1).mean(0)
    b = h * halves.mean(axis=1).var(axis=0, ddof=1)
    return float(np.max(np.sqrt(((h - 1) / h * w + b / h) / w)))


# ---- the benchmark's model list -----------------------------------------------------------------
def cases(ref_draws):
    """name -> (bound Wengert model, data dict, reference factory (called once, lazily))."""
    zoo = zoo_eight_schools.data()
    es = {"sigma": zoo["sigma"], "y": zoo["y"]}          # what the peers' versions take
    lr, rd = logistic_data(), radon_data()
    return {
        "eight_schools": (zoo_eight_schools.model(**zoo), es, posteriordb_reference),
        "logistic": (logistic(**lr), lr, lambda: importance_reference(logistic(**lr),
                                                                      ref_draws)),
        "radon": (radon(**rd), rd, lambda: radon_gibbs_reference(rd, 4 * ref_draws)),
    }


# ---- peers: the same models in NumPyro and PyMC, their fits (imported only when installed) ---
def numpyro_models():
    """name -> NumPyro model function taking the same data keywords as the Wengert model."""
    import jax.numpy as jnp
    import numpyro
    import numpyro.distributions as nd

    def np_eight_schools(sigma, y):
        mu = numpyro.sample("mu", nd.Normal(0.0, 5.0))
        tau = numpyro.sample("tau", nd.HalfCauchy(5.0))
        with numpyro.plate("school", len(sigma)):
            theta_trans = numpyro.sample("theta_trans", nd.Normal(0.0, 1.0))
            theta = numpyro.deterministic("theta", mu + tau * theta_trans)
            numpyro.sample("y", nd.Normal(theta, sigma), obs=y)

    def np_logistic(x, y):
        beta = numpyro.sample("beta", nd.Normal(jnp.zeros(x.shape[1]), 1.0).to_event(1))
        with numpyro.plate("data", len(y)):
            numpyro.sample("y", nd.Bernoulli(logits=x @ beta), obs=y)

    def np_radon(county, x, J, y):
        mu_a = numpyro.sample("mu_a", nd.Normal(0.0, 10.0))
        sigma_a = numpyro.sample("sigma_a", nd.HalfNormal(5.0))
        b = numpyro.sample("b", nd.Normal(0.0, 10.0))
        sigma_y = numpyro.sample("sigma_y", nd.HalfNormal(5.0))
        with numpyro.plate("county", J):
            a = numpyro.sample("a", nd.Normal(mu_a, sigma_a))
        with numpyro.plate("house", len(y)):
            numpyro.sample("y", nd.Normal(a[county] + b * x, sigma_y), obs=y)

    return {"eight_schools": np_eight_schools, "logistic": np_logistic, "radon": np_radon}


def pymc_models():
    """name -> a function building the PyMC model of `name` on `data` (the same priors)."""
    import pymc as pm

    def eight_schools(sigma, y):
        with pm.Model() as m:
            mu = pm.Normal("mu", 0.0, 5.0)
            tau = pm.HalfCauchy("tau", 5.0)
            theta_trans = pm.Normal("theta_trans", 0.0, 1.0, shape=len(sigma))
            theta = pm.Deterministic("theta", mu + tau * theta_trans)
            pm.Normal("y", theta, sigma, observed=y)
        return m

    def logistic(x, y):
        with pm.Model() as m:
            beta = pm.Normal("beta", 0.0, 1.0, shape=x.shape[1])
            pm.Bernoulli("y", logit_p=x @ beta, observed=y)
        return m

    def radon(county, x, J, y):
        with pm.Model() as m:
            mu_a = pm.Normal("mu_a", 0.0, 10.0)
            sigma_a = pm.HalfNormal("sigma_a", 5.0)
            b = pm.Normal("b", 0.0, 10.0)
            sigma_y = pm.HalfNormal("sigma_y", 5.0)
            a = pm.Normal("a", mu_a, sigma_a, shape=J)
            pm.Normal("y", a[county] + b * x, sigma_y, observed=y)
        return m

    return {"eight_schools": eight_schools, "logistic": logistic, "radon": radon}


class NumPyroLib:
    """NumPyro SVI (AutoNormal, AutoMultivariateNormal, Adam(0.01), float64)."""

    def __init__(self, name, model, data):
        import jax
        import numpyro
        from numpyro.infer import SVI, Trace_ELBO
        from numpyro.infer.autoguide import AutoMultivariateNormal, AutoNormal
        numpyro.enable_x64()
        self.name, self.jax = name, jax
        self.fn = numpyro_models()[name]
        self.data = {k: jax.numpy.asarray(v) if isinstance(v, np.ndarray) else v
                     for k, v in data.items()}
        self.svi = {}
        for family, guide in zip(FAMILIES, (AutoNormal, AutoMultivariateNormal)):
            g = guide(self.fn)
            self.svi[family] = (g, SVI(self.fn, g, numpyro.optim.Adam(0.01), Trace_ELBO()))

    def steps(self):
        """{(family, "py"): one jitted update from Python, (family, "scan"): SCAN updates in
        one compiled loop}."""
        jax, data, out = self.jax, self.data, {}
        for family, (_, svi) in self.svi.items():
            state = [svi.init(jax.random.PRNGKey(0), **data)]
            update = jax.jit(lambda s, svi=svi: svi.update(s, **data))
            scan = jax.jit(lambda s, svi=svi: jax.lax.scan(
                lambda c, _: svi.update(c, **data), s, None, length=SCAN))

            def step(update=update, state=state):
                state[0], loss = update(state[0])
                loss.block_until_ready()

            def steps(scan=scan, state=state):
                state[0], losses = scan(state[0])
                losses.block_until_ready()
            out[family, "py"], out[family, "scan"] = step, steps
        return out

    def results(self, times, sites, repeats):
        """One dict per family: library, step_s, steps, fit_s, note, mean, sd (of `sites`)."""
        from numpyro.infer import Predictive
        jax, rows = self.jax, []
        for family, (guide, svi) in self.svi.items():
            fits = []
            for _ in range(repeats):
                t = time.perf_counter()
                res = svi.run(jax.random.PRNGKey(1), PEER_STEPS, progress_bar=False,
                              **self.data)
                jax.block_until_ready(res.params)
                fits.append(time.perf_counter() - t)
            draws = Predictive(self.fn, guide=guide, params=res.params, num_samples=1000,
                               return_sites=sites)(jax.random.PRNGKey(2), **self.data)
            draws = {k: np.asarray(v) for k, v in draws.items()}
            py = times[family, "py"]
            rows.append(dict(family=family, library=f"NumPyro SVI {type(guide).__name__}",
                             step_s=times[family, "scan"] / SCAN, steps=PEER_STEPS,
                             fit_s=statistics.median(fits),
                             note=f"jitted update called from Python: {py * 1e6:.0f} us/step",
                             **_moments(draws)))
        return rows


class PyMCLib:
    """PyMC ADVI / FullRankADVI through pm.fit with its defaults."""

    def __init__(self, name, model, data):
        import pymc as pm
        self.name, self.pm = name, pm
        self.model = pymc_models()[name](**data)
        self.kinds = dict(zip(FAMILIES, ((pm.ADVI, "advi"), (pm.FullRankADVI,
                                                              "fullrank_advi"))))

    def steps(self):
        """{(family, "step"): the compiled step function pm.fit calls (loss included)}."""
        out = {}
        for family, (cls, _) in self.kinds.items():
            with self.model:
                out[family, "step"] = cls(random_seed=0).objective.step_function(score=True)
        return out

    def results(self, times, sites, repeats):
        """One dict per family, as NumPyroLib.results (pm.fit failing: a note, no moments)."""
        rows = []
        for family, (cls, method) in self.kinds.items():
            label, fits = f"PyMC {cls.__name__}", []
            try:
                for _ in range(repeats):
                    t = time.perf_counter()
                    with self.model:
                        approx = self.pm.fit(n=PEER_STEPS, method=method, random_seed=1,
                                             progressbar=False)
                    fits.append(time.perf_counter() - t)
            except FloatingPointError as e:             # pm.fit stops on a NaN parameter
                rows.append(dict(family=family, library=label, step_s=times[family, "step"],
                                 note=f"pm.fit failed: {str(e).splitlines()[0]}"))
                continue
            post = approx.sample(1000, random_seed=2).posterior
            draws = {k: post[k].values.reshape((-1,) + post[k].shape[2:]) for k in sites}
            rows.append(dict(family=family, library=label, step_s=times[family, "step"],
                             steps=PEER_STEPS, fit_s=statistics.median(fits),
                             **_moments(draws)))
        return rows


def _moments(draws):
    return dict(mean={k: v.mean(0) for k, v in draws.items()},
                sd={k: v.std(0, ddof=1) for k, v in draws.items()})


def peers():
    """The peer classes whose library is importable."""
    return [lib for mod, lib in (("numpyro", NumPyroLib), ("pymc", PyMCLib))
            if importlib.util.find_spec(mod) is not None]
