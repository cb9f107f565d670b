"""VIResult built by hand from known mu/omega/L: draws through the bijectors against closed
forms (scipy.stats), log q against scipy's multivariate normal, the summary table against
numpy, PSIS k-hat on a conjugate model where q is (or is far from) the exact posterior, plots,
and the errors users meet."""
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

import ppl
from ppl import dist
from ppl.infer import AdviDiagnostics, ElboHistory, LaplaceDiagnostics, VIResult

ROOT = Path(__file__).resolve().parents[3]
Y = np.array([0.8, 1.9, 1.1, 2.4, 1.6])
PRIOR_SD = 10.0


@ppl.model
def normal_mean(y):
    mu = ppl.sample("mu", dist.Normal(0.0, PRIOR_SD))
    with ppl.plate("obs", len(y)):
        ppl.sample("y", dist.Normal(mu, 1.0), obs=y)


def exact_posterior(y=Y):
    """Normal mean, known unit variance, N(0, 10^2) prior: (posterior mean, posterior sd)."""
    prec = 1.0 / PRIOR_SD ** 2 + len(y)
    return y.sum() / prec, prec ** -0.5


@ppl.model
def half_normal():
    ppl.sample("s", dist.HalfNormal(2.0))


@ppl.model
def plated(y):
    loc = ppl.sample("loc", dist.Normal(0.0, 1.0))
    beta = ppl.sample("beta", dist.Normal(np.zeros(2), 1.0))      # batch (2,), no plate
    ppl.sample("p", dist.Dirichlet(np.ones(3)))                   # event (3,), 2 free coords
    with ppl.plate("group", len(y)):
        z = ppl.sample("z", dist.Normal(loc, 1.0))
        ppl.deterministic("w", z + beta[0])
        ppl.sample("y", dist.Normal(z, 1.0), obs=y)


@ppl.model
def three_normals():
    ppl.sample("x", dist.Normal(np.zeros(3), 1.0))


@ppl.model
def matrix_site():
    ppl.sample("m", dist.Normal(np.zeros((2, 3)), 1.0))


def plated_fit(seed=3, **kw):
    """A meanfield result; keywords of `AdviDiagnostics` go into its record."""
    m = plated(np.array([0.5, -0.2, 1.0]))
    d = m.num_params                                            # 1 + 2 + 2 + 3 = 8
    rng = np.random.default_rng(0)
    record = {k: kw.pop(k) for k in list(kw) if k in AdviDiagnostics.__dataclass_fields__}
    return VIResult(m, "meanfield", rng.normal(size=d), rng.normal(size=d) * 0.3 - 1.0,
                    seed=seed, diagnostics=AdviDiagnostics(**record), **kw)


def fullrank_L(d, seed=0):
    rng = np.random.default_rng(seed)
    L = np.tril(rng.normal(size=(d, d)) * 0.5, -1) + np.diag(np.exp(rng.normal(size=d) * 0.3))
    return L


# ---- construction and q ---------------------------------------------------------------------
def test_params_meanfield_and_fullrank_are_copies():
    m = three_normals()
    mu, omega = np.array([1.0, 2.0, 3.0]), np.array([-1.0, 0.0, 0.5])
    fit = VIResult(m, "meanfield", mu, omega)
    p = fit.params
    assert set(p) == {"mu", "omega"}
    np.testing.assert_array_equal(p["mu"], mu)
    np.testing.assert_array_equal(p["omega"], omega)
    p["mu"][0] = 99.0
    assert fit.params["mu"][0] == 1.0
    np.testing.assert_allclose(fit.L, np.diag(np.exp(omega)))
    L = fullrank_L(3)
    fr = VIResult(m, "fullrank", mu, np.log(np.diag(L)), L)
    assert set(fr.params) == {"mu", "L"}
    np.testing.assert_array_equal(fr.params["L"], L)


@pytest.mark.parametrize("family", ["meanfield", "fullrank"])
def test_log_q_matches_scipy(family):
    m = three_normals()
    mu = np.array([0.3, -1.0, 2.0])
    L = fullrank_L(3, seed=1) if family == "fullrank" else np.diag([0.5, 2.0, 1.3])
    fit = VIResult(m, family, mu, np.log(np.diag(L)), L if family == "fullrank" else None)
    z = np.random.default_rng(2).normal(size=(7, 3)) * 2
    ref = stats.multivariate_normal(mu, L @ L.T).logpdf(z)
    np.testing.assert_allclose(fit.log_q(z), ref, rtol=1e-12)
    assert isinstance(fit.log_q(z[0]), float)
    np.testing.assert_allclose(fit.log_q(z[0]), ref[0], rtol=1e-12)


def test_fullrank_covariance_recovered_from_draws():
    m = three_normals()
    L = fullrank_L(3, seed=4)
    mu = np.array([1.0, -2.0, 0.5])
    fit = VIResult(m, "fullrank", mu, np.log(np.diag(L)), L, seed=0)
    x = fit.sample(20000)["x"]
    cov = L @ L.T
    se = np.sqrt((np.outer(np.diag(cov), np.diag(cov)) + cov ** 2) / 20000)
    assert np.all(np.abs(np.cov(x.T) - cov) < 5 * se)
    assert np.all(np.abs(x.mean(0) - mu) < 5 * np.sqrt(np.diag(cov) / 20000))


def test_positive_site_draws_are_lognormal():
    # s = exp(zeta), zeta ~ N(0.3, 0.2^2): s ~ LogNormal(0.3, 0.2)
    fit = VIResult(half_normal(), "meanfield", np.array([0.3]), np.log([0.2]), seed=1)
    ref = stats.lognorm(s=0.2, scale=np.exp(0.3))
    se = ref.std() / np.sqrt(1000)
    assert abs(fit.mean["s"] - ref.mean()) < 4 * se
    assert abs(fit.sd["s"] - ref.std()) < 6 * ref.std() / np.sqrt(2 * 1000)
    s = fit.sample(20000, seed=2)["s"]
    assert s.shape == (20000,) and np.all(s > 0)
    assert stats.kstest(s, ref.cdf).pvalue > 1e-3
    np.testing.assert_allclose(np.quantile(s, [0.05, 0.5, 0.95]),
                               ref.ppf([0.05, 0.5, 0.95]), rtol=0.02)


def test_sample_shapes_deterministic_sites_and_simplex():
    fit = plated_fit()
    d = fit.sample(50, seed=1)
    assert {k: v.shape for k, v in d.items()} == {
        "loc": (50,), "beta": (50, 2), "p": (50, 3), "z": (50, 3), "w": (50, 3)}
    np.testing.assert_allclose(d["w"], d["z"] + d["beta"][:, :1])
    np.testing.assert_allclose(d["p"].sum(1), 1.0)
    # the draws are T(mu + exp(omega) eps): loc and beta are on the real line
    eps = np.random.default_rng(1).standard_normal((50, fit.mu.size))
    zeta = fit.mu + eps * np.exp(fit.omega)
    np.testing.assert_allclose(d["loc"], zeta[:, 0])
    np.testing.assert_allclose(d["beta"], zeta[:, 1:3])


def test_sample_reproducible_and_default_seed():
    fit = plated_fit(seed=7)
    a, b = fit.sample(20, seed=5), fit.sample(20, seed=5)
    c = fit.sample(20, seed=6)
    np.testing.assert_array_equal(a["z"], b["z"])
    assert not np.allclose(a["z"], c["z"])
    np.testing.assert_array_equal(fit.sample(20)["z"], fit.sample(20, seed=7)["z"])
    again = plated_fit(seed=7)
    np.testing.assert_array_equal(fit.mean["z"], again.mean["z"])
    draws = fit.sample(1000, seed=7)
    np.testing.assert_allclose(fit.mean["w"], draws["w"].mean(0))
    np.testing.assert_allclose(fit.sd["beta"], draws["beta"].std(0, ddof=1))


def test_mean_and_sd_of_real_site_match_mu_and_sigma():
    mu, sd = exact_posterior()
    fit = VIResult(normal_mean(Y), "meanfield", np.array([mu]), np.log([sd]), seed=0)
    assert abs(fit.mean["mu"] - mu) < 4 * sd / np.sqrt(1000)
    assert abs(fit.sd["mu"] / sd - 1) < 4 / np.sqrt(2 * 1000)


@pytest.mark.parametrize("draws", [0, -3, 1.5, "10", None, True])
def test_bad_draws(draws):
    fit = plated_fit()
    with pytest.raises(ValueError, match="draws"):
        fit.sample(draws)
    with pytest.raises(ValueError, match="draws"):
        fit.summary_text(draws)


def test_constructor_errors():
    m = three_normals()
    mu, om = np.zeros(3), np.zeros(3)
    with pytest.raises(TypeError, match="model"):
        VIResult(object(), "meanfield", mu, om)
    with pytest.raises(ValueError, match="family"):
        VIResult(m, "full", mu, om)
    with pytest.raises(TypeError, match="diagnostics"):
        VIResult(m, "meanfield", mu, om, diagnostics="nuts")
    with pytest.raises(ValueError, match="mu"):
        VIResult(m, "meanfield", np.zeros(2), om)
    with pytest.raises(ValueError, match="omega"):
        VIResult(m, "meanfield", mu, np.zeros((3, 1)))
    with pytest.raises(ValueError, match="L must be None"):
        VIResult(m, "meanfield", mu, om, np.eye(3))
    with pytest.raises(ValueError, match="needs L"):
        VIResult(m, "fullrank", mu, om)
    with pytest.raises(ValueError, match="lower-triangular"):
        VIResult(m, "fullrank", mu, om, np.eye(3) + np.triu(np.ones((3, 3)), 1))
    with pytest.raises(ValueError, match="positive diagonal"):
        VIResult(m, "fullrank", mu, om, -np.eye(3))
    with pytest.raises(ValueError, match=r"omega must be log\(diag\(L\)\)"):
        VIResult(m, "fullrank", mu, om, 2 * np.eye(3))
    with pytest.raises(ValueError, match="elbo_history"):
        AdviDiagnostics(elbo_history=(np.arange(3), np.zeros(4)))


def test_elbo_history_and_repr():
    fit = plated_fit(elbo_history=([100, 200], [-50.0, -20.5]), steps=200, converged=False,
                     stop_reason="the cap of 200 steps", eta=0.1, optimizer="stan")
    assert isinstance(fit.elbo_history, ElboHistory)
    np.testing.assert_array_equal(fit.elbo_history.iteration, [100, 200])
    np.testing.assert_array_equal(fit.elbo_history.elbo, [-50.0, -20.5])
    r = repr(fit)
    assert "meanfield" in r and "plated" in r and "not converged" in r and "-20.5" in r
    assert len(r) < 120 and "\n" not in r
    assert fit.eta == 0.1 and fit.steps == 200 and fit.stop_reason.startswith("the cap")


# ---- the plain-text summary -----------------------------------------------------------------
def parse_table(text):
    lines = text.splitlines()
    assert lines[0].split() == ["mean", "sd", "5%", "50%", "95%"]
    return {ln.split()[0]: [float(v) for v in ln.split()[1:]] for ln in lines[1:]}


def test_summary_text_numbers_match_numpy():
    fit = plated_fit()
    table = parse_table(fit.summary_text(400, seed=9))
    draws = fit.sample(400, seed=9)
    assert list(table)[:4] == ["loc", "beta[0]", "beta[1]", "p[0]"]
    assert len(table) == 1 + 2 + 3 + 3 + 3
    for label, col in [("loc", draws["loc"]), ("beta[1]", draws["beta"][:, 1]),
                       ("p[2]", draws["p"][:, 2]), ("z[0]", draws["z"][:, 0]),
                       ("w[2]", draws["w"][:, 2])]:
        ref = [col.mean(), col.std(ddof=1), *np.quantile(col, [0.05, 0.5, 0.95])]
        np.testing.assert_allclose(table[label], ref, rtol=5e-3, atol=5e-4)
    labels = parse_table(VIResult(matrix_site(), "meanfield", np.zeros(6), np.zeros(6),
                                  seed=0).summary_text(50))
    assert list(labels) == ["m[0,0]", "m[0,1]", "m[0,2]", "m[1,0]", "m[1,1]", "m[1,2]"]


def test_summary_text_imports_neither_arviz_nor_scipy_stats():
    code = textwrap.dedent("""
        import sys
        import numpy as np, ppl
        from ppl import dist
        from ppl.infer import AdviDiagnostics, VIResult
        @ppl.model
        def f(y):
            a = ppl.sample("a", dist.HalfNormal(1.0))
            with ppl.plate("n", len(y)):
                ppl.sample("y", dist.Normal(0.0, a), obs=y)
        m = f(np.array([0.1, -0.3]))
        fit = VIResult(m, "fullrank", np.zeros(1), np.zeros(1), np.eye(1), seed=0,
                       diagnostics=AdviDiagnostics(elbo_history=([1], [-1.0])))
        print(fit.summary_text(100))
        print(fit.mean["a"], repr(fit))
        bad = [m for m in ("arviz", "scipy.stats", "matplotlib") if m in sys.modules]
        assert not bad, bad
        print("CLEAN")
    """)
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "CLEAN" in out.stdout and "a " in out.stdout


# ---- PSIS k-hat -----------------------------------------------------------------------------
def test_psis_khat_small_when_q_is_the_exact_posterior():
    mu, sd = exact_posterior()
    exact = VIResult(normal_mean(Y), "meanfield", np.array([mu]), np.log([sd]), seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert exact.psis_khat() < 0.5
    # a q 20% wider than the posterior: bounded weights (k-hat < 0.5), but reweighting
    # narrows the sd beyond its Monte Carlo error: the verdict says so, and resampling fixes it
    wide = VIResult(normal_mean(Y), "meanfield", np.array([mu]), np.log([1.2 * sd]), seed=1)
    with pytest.warns(UserWarning, match="q is off.*fit.resample = True"):
        assert wide.psis_khat(seed=1) < 0.5
    assert wide.verdict.kind == "reweight" and wide.sd["mu"] > 1.15 * sd
    wide.resample = True
    assert wide.sd["mu"] == pytest.approx(sd, rel=0.06) and "PSIS-resampled" in wide.resampled


def test_psis_khat_large_and_warns_when_q_is_far_too_narrow():
    mu, sd = exact_posterior()
    narrow = VIResult(normal_mean(Y), "meanfield", np.array([mu]), np.log([0.1 * sd]), seed=0)
    with pytest.warns(UserWarning, match="unreliable.*fullrank.*more steps"):
        k = narrow.psis_khat(2000)
    # weights exp(c eps^2) with c = (1 - 0.1^2) / 2: tail index 2c = 0.99
    assert k > 0.7 and abs(k - 0.99) < 0.2


def test_psis_khat_log_p_is_the_unconstrained_density():
    # HalfNormal(2) with q = its exact unconstrained density: log s has density
    # p(s) s = HalfNormal pdf(s) * s, not Gaussian; check the weights against scipy directly
    fit = VIResult(half_normal(), "meanfield", np.array([0.5]), np.log([0.6]), seed=3)
    zeta = fit.sample_unconstrained(50, seed=4)[:, 0]
    lp = fit._log_p(zeta[:, None])
    np.testing.assert_allclose(lp, stats.halfnorm(scale=2).logpdf(np.exp(zeta)) + zeta,
                               rtol=1e-12)
    with pytest.raises(ValueError, match="draws"):
        fit.psis_khat(20)


# ---- pictures ---------------------------------------------------------------------------------
def test_plots_write_pngs(tmp_path):
    fit = plated_fit(elbo_history=(np.arange(1, 21) * 100, -np.logspace(5, 1, 20)))
    for f, name in [(fit.plot_elbo, "elbo.png"), (fit.plot_posterior, "post.png")]:
        path = f(tmp_path / name)
        data = Path(path).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
    many = VIResult(matrix_site(), "meanfield", np.zeros(6), np.zeros(6))
    assert Path(many.plot_posterior(tmp_path / "m.png")).exists()
    with pytest.raises(ValueError, match="no ELBO history"):
        many.plot_elbo(tmp_path / "none.png")


def test_plots_without_matplotlib_say_so(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    fit = plated_fit(elbo_history=([1, 2], [-3.0, -2.0]))
    with pytest.raises(ImportError, match="plot_elbo needs matplotlib"):
        fit.plot_elbo(tmp_path / "e.png")
    with pytest.raises(ImportError, match="plot_posterior needs matplotlib"):
        fit.plot_posterior(tmp_path / "p.png")


def test_a_laplace_result_carries_no_advi_fields():
    # one result type; each method's diagnostics in its own record (issue 14)
    m = three_normals()
    H = -np.eye(3)
    fit = VIResult(m, "fullrank", np.zeros(3), np.zeros(3), np.eye(3), seed=0,
                   diagnostics=LaplaceDiagnostics(-1.5, 7, 1e-9, H))
    assert fit.method == "laplace" and fit.log_density == -1.5 and fit.iterations == 7
    for name in ("eta", "elbo_history", "steps", "rhat", "optimizer", "skipped"):
        with pytest.raises(AttributeError, match=name):
            getattr(fit, name)
    advi_fit = VIResult(m, "meanfield", np.zeros(3), np.zeros(3))
    assert advi_fit.method == "advi" and advi_fit.elbo_history is None
    with pytest.raises(AttributeError, match="hessian"):
        assert advi_fit.hessian is None


def test_khat_log_density_is_one_batched_pass_equal_to_the_model():
    # k-hat's and to_arviz's log p: the density compiled once per result, one pass per call
    from models import eight_schools
    m = eight_schools.model(**eight_schools.data())
    fit = ppl.advi(m, family="meanfield", seed=1, progress=False, tol_rel_obj=0.05)
    zeta = fit.sample_unconstrained(40, seed=0)
    want = [float(m.unconstrained_log_density(z)) for z in zeta]
    np.testing.assert_allclose(fit._log_p(zeta), want, rtol=1e-10)
    density = fit._density(None)
    assert density.replay is not None and density.replay_note.startswith("yes")
    passes = []
    values = density.replay.values
    density.replay.values = lambda X: passes.append(len(X)) or values(X)
    np.testing.assert_allclose(fit._log_p(zeta[::-1]), want[::-1], rtol=1e-10)
    assert passes == [40] and fit._density(None) is density
