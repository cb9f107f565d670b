"""ADVI details found in review: each test checks one behaviour against an independent reference
(Stan's C++ in stan/variational/advi.hpp, `ppl.infer.diagnostics.split_rhat`, the CLI's
documented exit codes); each failed before its fix."""
import sys

import numpy as np
import pytest

import autodiff as ad
import ppl
from ppl import dist
from ppl.infer.convergence import Window
from ppl.infer.diagnostics import split_rhat
from wengert import cli

Y = np.array([0.3, 2.1, 1.7, -0.4, 1.2])


@ppl.model
def normal_mean(y, m0=1.0, s0=2.0, sigma=1.5):
    mu = ppl.sample("mu", dist.Normal(m0, s0))
    with ppl.plate("n", len(y)):
        ppl.sample("y", dist.Normal(mu, sigma), obs=y)


def stan_cpp_rule_fires_at(iterations, elbos, tol, cb_size):
    """Stan's stochastic_gradient_ascent, line by line: `double elbo(0.0)` before the loop,
    then at each evaluation elbo_prev = elbo; elbo = calc_ELBO(); delta = |(elbo_prev - elbo)
    / elbo| (so the first delta is 1); push into a circular buffer of cb_size; stop when its
    mean < tol or circ_buff_median < tol, where circ_buff_median is v[n / 2] after
    nth_element (the upper median, not the average of the two middle values)."""
    buf, prev = [], 0.0
    for it, e in zip(iterations, elbos):
        buf = (buf + [abs((prev - e) / e)])[-cb_size:]
        prev = e
        if np.mean(buf) < tol or np.sort(buf)[len(buf) // 2] < tol:
            return int(it)
    return None


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_stan_rule_is_stans(seed):
    # advi.py:205-215 starts with no previous ELBO (Stan's first change is |0 - E| / |E| = 1)
    # and uses np.median (Stan: the upper median), so it stops at the second estimate where
    # Stan cannot stop before the third
    fit = ppl.advi(normal_mean(Y), seed=seed, average=False, precondition=None, method="advi")
    it, elbo = fit.elbo_history
    cb = max(int(0.1 * 10_000 / 100), 2)
    if "Monte Carlo noise" in fit.stop_reason:       # the noise rule, beyond Stan, came first
        assert stan_cpp_rule_fires_at(it, elbo, 0.01, cb) is None
    else:
        assert fit.info.get("stan_converged_at") == stan_cpp_rule_fires_at(it, elbo, 0.01, cb)


def test_window_rhat_is_split_rhat_far_from_zero():
    # Window.rhat (convergence.py) takes variances as sum(x^2) - n mean^2: with
    # iterates near 1e6 jittering at 1e-2, the cancellation loses the variance
    rng = np.random.default_rng(0)
    x = 1e6 + 1e-2 * (0.05 * np.cumsum(rng.standard_normal((1000, 4)), 0)
                      + rng.standard_normal((1000, 4)))
    w = Window(x[0], 1000)
    for row in x:
        w.add(row)
    assert w.rhat() == pytest.approx(float(split_rhat(x).max()), rel=1e-3)


def test_each_window_is_judged_on_its_own_elbo_estimates(monkeypatch):
    # advi.py:185-187: a window is judged before the ELBO at its last step is appended, and the
    # next window's `first` is taken before that append, so each window's trend test misses
    # its own last estimate and the next one gets it
    advi_mod = sys.modules["ppl.infer.advi"]
    judged = []
    real = advi_mod.settled

    def spy(q, window, elbos, drift):
        judged.append(list(elbos))
        return real(q, window, elbos, drift)

    monkeypatch.setattr(advi_mod, "settled", spy)
    from models import eight_schools as es
    fit = ppl.advi(es.model(**es.data()), seed=3, method="advi")
    at = fit.info["stan_converged_at"]
    assert len(judged) >= 2
    it, elbo = fit.elbo_history
    size = min(max(at, advi_mod.WINDOW_MIN * 100), 10_000 - at)
    for j, got in enumerate(judged):
        lo, hi = at + j * size, at + (j + 1) * size
        want = list(elbo[(it > lo) & (it <= hi)])
        assert got == want, f"window {j} over steps ({lo}, {hi}]"


def test_cli_plot_with_no_elbo_history_is_not_a_traceback(tmp_path, capsys):
    # --steps below eval_elbo=100 gives no ELBO estimates; fit.plot_elbo raises ValueError,
    # which cli._fit does not catch (cli.py:277-279)
    try:
        code = cli.main(["fit", "eight_schools", "--steps", "50", "--seed", "0", "--quiet",
                         "--plot", str(tmp_path / "figs")])
    except ValueError as e:
        pytest.fail(f"wengert raised instead of returning an exit code: {e}")
    err = capsys.readouterr().err.strip()
    assert code in (0, 1) and len(err.splitlines()) <= 1


def test_cli_every_step_size_failed_is_one_line_exit_1(monkeypatch, capsys):
    # ppl.advi raises RuntimeError when every eta fails (advi.py:148-153); the CLI documents
    # exit 1 with one line for a failed fit but catches only ValueError/FloatingPointError
    def failing(*args, **kwargs):
        raise RuntimeError("ADVI: every step size failed (...)")

    monkeypatch.setattr(ppl, "advi", failing)
    try:
        code = cli.main(["fit", "eight_schools", "--seed", "0", "--quiet"])
    except RuntimeError as e:
        pytest.fail(f"wengert raised instead of returning exit code 1: {e}")
    err = capsys.readouterr().err.strip()
    assert code == 1 and len(err.splitlines()) == 1 and "step size" in err


def test_a_fit_without_seed_saves_to_netcdf(tmp_path):
    # advi.py:77 records SeedSequence().entropy (a 128-bit int) as fit.seed; to_arviz puts it
    # in the posterior attributes (results.py:306), which netCDF cannot store (no HDF5 type)
    pytest.importorskip("arviz")
    from models import eight_schools as es
    from ppl import _arviz
    fit = ppl.advi(es.model(**es.data()), steps=300, method="advi")
    path = _arviz.to_netcdf(fit.to_arviz(draws=50), tmp_path / "fit.nc")
    back = _arviz.from_netcdf(path)
    assert "posterior" in _arviz.groups(back)


def test_the_step_cap_before_the_windows_settle_is_not_converged(monkeypatch):
    # Stan's rule fires, then windows repeat while the iterates still move; when `steps` runs
    # out first the fit is the last window's mean but NOT converged (it said converged before:
    # seeds' fullrank fit hit the cap with sigma still drifting, 4.7 sd off, "converged")
    advi_mod = sys.modules["ppl.infer.advi"]
    monkeypatch.setattr(advi_mod, "DRIFT", 0.0)         # never settled
    m = normal_mean(Y)
    fit = ppl.advi(m, seed=0, steps=6000, method="advi")
    assert fit.info["stan_converged_at"] < 6000 and fit.info["unsettled"]
    assert not fit.converged and "NOT settled: steps=6000" in fit.stop_reason
    monkeypatch.setattr(advi_mod, "DRIFT", 0.1)
    fit = ppl.advi(m, seed=0, steps=6000, method="advi")
    assert fit.converged and "unsettled" not in fit.info


@ppl.model
def correlated_pair(y):
    rho = ppl.sample("rho", dist.Normal(0.0, 0.3))
    cov = ad.stack([ad.stack([1.0 + 0 * rho, rho]), ad.stack([rho, 1.0 + 0 * rho])])
    with ppl.plate("n", len(y)):
        ppl.sample("y", dist.MultivariateNormal(np.zeros(2), covariance_matrix=cov), obs=y)


def _raise_linalg(z):
    raise np.linalg.LinAlgError("Matrix is singular.")


def test_a_failed_cholesky_in_the_replayed_tape_is_a_nan_density_as_in_a_fresh_run():
    # gp_regression's fullrank fit at seed 4 died with LinAlgError: the replayed tape calls the
    # Cholesky factorisation directly, where a fresh run's MultivariateNormal returns NaN
    from ppl.infer.objective import LogDensity
    m = correlated_pair(np.array([[0.5, 0.4], [-0.2, 0.1], [1.0, 0.7]]))
    with dist.validation_enabled(False):                    # as during a fit
        run = LogDensity(m)
        run.record(np.zeros(1))         # its audit points reach |rho| > 1 too
        assert run.replay is not None, run.replay_note
        bad = np.array([1.5])                               # rho = 1.5: not a covariance
        assert np.isnan(float(m.unconstrained_log_density(bad)))
        with pytest.raises(np.linalg.LinAlgError):
            run.replay(bad)
        lp, g = run._value_and_grad(bad)
        assert np.isnan(lp) and np.isnan(g).all() and np.isnan(run._value(bad))
        good = np.array([0.2])
        assert run._value_and_grad(good)[0] == pytest.approx(
            float(m.unconstrained_log_density(good)))
        # a fresh run that raises (a zero on a scale_tril's diagonal) is a NaN draw too
        run.value_and_grad = run.log_p = _raise_linalg
        run.replay = None
        assert np.isnan(run._value_and_grad(good)[0]) and np.isnan(run._value(good))
    fit = ppl.advi(m, family="fullrank", seed=0, init={"rho": 0.0}, method="advi")
    assert fit.converged and abs(fit.mean["rho"]) < 1 and fit.info["replay"].startswith("yes")


@pytest.mark.parametrize("spoil", [1, 2])
def test_a_whitened_fit_that_fails_restarts_from_stans_start_and_the_higher_elbo_wins(
        monkeypatch, spoil):
    # non-centred hierarchical models (seeds, radon under fullrank) have a joint mode far from
    # the posterior's mass; whitened there, the fit hit the step cap far off. Here attempt
    # `spoil` is made to fail (not converged, its mean 8 sd off): the other one must be kept.
    advi_mod = sys.modules["ppl.infer.advi"]
    real, calls = advi_mod._optimise, []

    def optimise(objective, lam0, cfg, attempt, *args):
        real(objective, lam0, cfg, attempt, *args)
        calls.append(objective.coords.whitened)
        if len(calls) == spoil:
            attempt.converged, attempt.lam = False, attempt.lam + 8.0 * (np.arange(
                attempt.lam.size) == 0)
    monkeypatch.setattr(advi_mod, "_optimise", optimise)
    y = Y
    fit = ppl.advi(normal_mean(y), seed=0, method="advi")
    assert calls == ([True, False] if spoil == 1 else [True])
    if spoil == 2:            # the whitened fit converged: no restart, nothing spoiled
        assert "restart" not in fit.info and fit.converged
        return
    assert fit.info["restart"].startswith("kept the restart") and fit.converged
    assert fit.info["preconditioned"].startswith("no: restarted")
    prec = 1 / 2.0 ** 2 + len(y) / 1.5 ** 2                    # the conjugate posterior
    exact_mean = (1.0 / 2.0 ** 2 + y.sum() / 1.5 ** 2) / prec
    assert abs(fit.mean["mu"] - exact_mean) < 0.25 * prec ** -0.5     # the bar


def _spoil_attempts(monkeypatch, second):
    """The whitened attempt runs but does not converge; the restart then runs `second`."""
    advi_mod = sys.modules["ppl.infer.advi"]
    real, calls = advi_mod._optimise, []

    def optimise(objective, lam0, cfg, attempt, *args):
        calls.append(objective.coords.whitened)
        if len(calls) == 2:
            second(attempt)
        real(objective, lam0, cfg, attempt, *args)
        attempt.converged = False
    monkeypatch.setattr(advi_mod, "_optimise", optimise)
    return calls


def _diverge(attempt):
    raise FloatingPointError("ADVI diverged at step 100")


def test_a_restart_that_diverges_keeps_the_whitened_fit(monkeypatch):
    # advi.py: the restart from Stan's start is extra; when it diverges (FloatingPointError)
    # or finds no step size (RuntimeError), advi raised and lost the whitened fit it had
    calls = _spoil_attempts(monkeypatch, _diverge)
    fit = ppl.advi(normal_mean(Y), seed=0, method="advi")
    assert calls == [True, False]
    assert fit.info["restart"].startswith("kept the whitened fit: the restart")
    assert fit.info["preconditioned"].startswith("yes") and not fit.converged
    prec = 1 / 2.0 ** 2 + len(Y) / 1.5 ** 2
    exact_mean = (1.0 / 2.0 ** 2 + Y.sum() / 1.5 ** 2) / prec
    assert abs(fit.mean["mu"] - exact_mean) < 0.25 * prec ** -0.5


def _interrupt(attempt):
    attempt.steps = 3
    raise KeyboardInterrupt


def test_ctrl_c_in_the_restart_keeps_the_better_fit_so_far(monkeypatch):
    # advi.py: Ctrl-C during the restart returned the restart's first steps (near Stan's
    # start: mu -0.82, exact 0.93) and dropped the whole whitened fit
    _spoil_attempts(monkeypatch, _interrupt)
    fit = ppl.advi(normal_mean(Y), seed=0, method="advi")
    assert fit.info["interrupted"] and fit.stop_reason.startswith("interrupted")
    assert fit.info["restart"].startswith("kept the whitened fit")
    prec = 1 / 2.0 ** 2 + len(Y) / 1.5 ** 2
    exact_mean = (1.0 / 2.0 ** 2 + Y.sum() / 1.5 ** 2) / prec
    assert abs(fit.mean["mu"] - exact_mean) < 0.25 * prec ** -0.5
