"""The peers of advi_bench.py: the same models in NumPyro and PyMC (same priors, same site names,
same parameterisations) and their fits: NumPyro SVI (AutoNormal, AutoMultivariateNormal,
Adam(0.01), float64) and PyMC (ADVI, FullRankADVI through pm.fit, its defaults), 10,000 steps
each (no stopping rule). Imports nothing of Wengert's (the fresh-process runs of
advi_fresh.py time a peer's own import and fit), and numpyro / pymc only when called.

Stochastic volatility is written in each library as in models/stochastic_volatility.py:
non-centred (h_std ~ N(0, 1)); NumPyro solves the AR(1) recursion x_t = phi x_(t-1) + e_t by the
same 9 doublings x <- x + phi^k shift_k(x) as Wengert. PyMC multiplies e by the T x T
lower-triangular matrix of phi^(t - s) instead (O(T^2) a step, 250,000 entries): PyTensor's graph
rewriter had not finished compiling the doubling's ADVI step function after 10 minutes, while the
matrix form compiles in ~11 s. All three log densities agree at random points (to 1e-12).
"""
import importlib.util
import statistics
import time

import numpy as np

FAMILIES = ("meanfield", "fullrank")
PEER_STEPS = 10_000      # the peers have no stopping rule: a fixed number of steps
SCAN = 100               # NumPyro steps per compiled loop when timing a step


def _doubling(e, phi, T, concatenate, zeros):
    """x_t = sum_(s <= t) phi^(t - s) e_s, t < T, in ceil(log2 T) shifted adds (any array
    library; T a Python int, since PyTensor's shapes are symbolic)."""
    x, c, k = e, phi, 1
    while k < T:
        x = x + c * concatenate([zeros(k), x[:T - k]])
        c, k = c * c, 2 * k
    return x


# ---- mirrors -----------------------------------------------------------------------------------
def numpyro_models():
    """name -> NumPyro model function taking the same data keywords as the Wengert model."""
    import jax.numpy as jnp
    import numpyro
    import numpyro.distributions as nd

    def np_eight_schools(sigma, y):
        mu = numpyro.sample("mu", nd.Normal(0.0, 5.0))
        tau = numpyro.sample("tau", nd.HalfCauchy(5.0))
        with numpyro.plate("school", len(sigma)):
            theta_tilde = numpyro.sample("theta_tilde", nd.Normal(0.0, 1.0))
            theta = numpyro.deterministic("theta", mu + tau * theta_tilde)
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

    def np_sv(T, y):
        mu = numpyro.sample("mu", nd.Cauchy(0.0, 10.0))
        phi = numpyro.sample("phi", nd.Uniform(-1.0, 1.0))
        sigma = numpyro.sample("sigma", nd.HalfCauchy(5.0))
        with numpyro.plate("time", T):
            h_std = numpyro.sample("h_std", nd.Normal(0.0, 1.0))
            e = sigma * h_std * jnp.where(jnp.arange(T) == 0, 1.0 / jnp.sqrt(1.0 - phi * phi),
                                          1.0)
            h = numpyro.deterministic("h", mu + _doubling(e, phi, T, jnp.concatenate,
                                                        jnp.zeros))
            numpyro.sample("y", nd.Normal(0.0, jnp.exp(h / 2.0)), obs=y)

    return {"eight_schools": np_eight_schools, "logistic": np_logistic, "radon": np_radon,
            "stochastic_volatility": np_sv}


def pymc_models():
    """name -> a function building the PyMC model of `name` on `data` (the same priors)."""
    import pymc as pm
    import pytensor.tensor as pt

    def eight_schools(sigma, y):
        with pm.Model() as m:
            mu = pm.Normal("mu", 0.0, 5.0)
            tau = pm.HalfCauchy("tau", 5.0)
            theta_tilde = pm.Normal("theta_tilde", 0.0, 1.0, shape=len(sigma))
            theta = pm.Deterministic("theta", mu + tau * theta_tilde)
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

    def stochastic_volatility(T, y):
        with pm.Model() as m:
            mu = pm.Cauchy("mu", 0.0, 10.0)
            phi = pm.Uniform("phi", -1.0, 1.0)
            sigma = pm.HalfCauchy("sigma", 5.0)
            h_std = pm.Normal("h_std", 0.0, 1.0, shape=T)
            first = (np.arange(T) == 0).astype(float)
            e = sigma * h_std * (1.0 + first * (1.0 / pt.sqrt(1.0 - phi * phi) - 1.0))
            lag = np.subtract.outer(np.arange(T), np.arange(T))      # t - s
            powers = phi ** np.arange(T, dtype=float)                 # not the doubling: below
            h = pm.Deterministic("h", mu + pt.dot(powers[np.maximum(lag, 0)] * (lag >= 0), e))
            pm.Normal("y", 0.0, pt.exp(h / 2.0), observed=y)
        return m

    return {"eight_schools": eight_schools, "logistic": logistic, "radon": radon,
            "stochastic_volatility": stochastic_volatility}


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
    """Means, sds and the 5% and 95% quantiles (the 90% interval) of draws by site."""
    return dict(mean={k: v.mean(0) for k, v in draws.items()},
                sd={k: v.std(0, ddof=1) for k, v in draws.items()},
                lo={k: np.quantile(v, 0.05, axis=0) for k, v in draws.items()},
                hi={k: np.quantile(v, 0.95, axis=0) for k, v in draws.items()})


def peers():
    """The peer classes whose library is importable."""
    return [lib for mod, lib in (("numpyro", NumPyroLib), ("pymc", PyMCLib))
            if importlib.util.find_spec(mod) is not None]
