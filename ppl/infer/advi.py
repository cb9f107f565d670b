"""ADVI: automatic differentiation variational inference (Kucukelbir et al., JMLR 2017), as
Stan implements it, plus whitening at the mode, iterate averaging and a restart. One flow:

1. the start: the initial point z0, and (`precondition="laplace"`) coordinates whitened at the
   mode, zeta = z_hat + C u (`mode.whitening`), kept when their Laplace start has the higher
   ELBO;
2. the objective: the stochastic ELBO of a Gaussian family q in those coordinates
   (`objective.Elbo`, `families`):
       ELBO(mu, L) = E_eps[log p(x, T^-1(zeta)) + log|det J_T^-1(zeta)|] + H[q];
3. the steps: Stan's step-size sequence with eta adapted (`optim.adapt_eta`), or Adam;
4. when to stop: Stan's relative-ELBO rule, then averaging windows until the iterates settle
   (`convergence`); without Stan's rule by half of `steps`, the second half is averaged. If
   `steps` runs out before the windows settle, the fit is not converged;
5. a whitened fit that does not converge (the joint mode of a hierarchical model can sit far
   from the posterior's mass) is run once more from Stan's start, and the fit with the higher
   final ELBO is returned (`fit.info["restart"]` gives both);
6. the result: a `VIResult` with an `AdviDiagnostics` record.

`fit.rhat` is the split R-hat of the raw iterates over the last window: autocorrelated, so it
reads above 1.1 even on accurate fits; the drift (`fit.info["drift"]`) is the criterion.
"""
import math
import time
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from ..centring import copy_of
from ..distributions.base import validation_enabled
from .config import (AdviConfig, check_model, has_subsample, initial_point, progress_bar,
                     rows_per_step,
                     site_of)
from .convergence import DRIFT, WINDOW_MIN, StanRule, Window, settled
from .families import family as make_family
from .method import centred_for_stochastic, choose, given_options
from .mode import whitening
from .objective import Coordinates, Elbo, LogDensity
from .optim import Adam, StanStep, adapt_eta
from .result import AdviDiagnostics, VIResult

__all__ = ["advi", "Attempt", "ImproperPosteriorError"]

SCALE_GROWTH = 20.0    # log of the factor by which q's sd may grow from the start: e^20 = 5e8


def advi(model, family="meanfield", steps=10_000, optimizer="stan", eta=None, adapt_iter=50,
         tol_rel_obj=0.01, eval_elbo=100, grad_samples=1, elbo_samples=100, lr=None,
         seed=None, init=None, progress=None, average=True, precondition="laplace",
         method="auto", centring="learn", rank=None):
    """Fit q(zeta) = N(mu, L L^T) to the posterior of a bound `Model` by maximising
    ELBO = E_q[log p(x, T^-1(zeta)) + log|det J|] + H[q] (see the module docstring).

    method: "advi" (Stan's stochastic algorithm, below), "dadvi" (deterministic ADVI with
    linear-response covariances: `ppl.dadvi(model, family, seed=, init=, progress=)`), or
    "auto" (default): deterministic where bench/accuracy.py found it more accurate at a
    comparable time (all the data in memory, D <= 100, fullrank above 50 as meanfield with
    linear-response covariances, none of the stochastic options below given), else
    stochastic (`ppl.infer.method`; `fit.info["method"]` says which and why). When "auto"
    chose deterministic ADVI and it fails (a start outside the posterior's mass), stochastic
    ADVI runs instead and `fit.info["method"]` says so.

    family: "meanfield", "fullrank" or "lowrank" (covariance diag(d)^2 + B B^T in coordinates
    whitened at the mode, B of `rank` columns, default 2: for hundreds of parameters, where
    fullrank's D (D + 3) / 2 are too many). optimizer: "stan" (adaptive step-size sequence,
    `eta` adapted unless given) or "adam" (`lr`, default 0.01). Every `eval_elbo` steps the ELBO
    is estimated with `elbo_samples` draws; each gradient averages `grad_samples` draws; Stan's
    rule stops when the relative ELBO change is under `tol_rel_obj`. `average=False` returns
    Stan's last iterate instead of the window average. Ctrl-C returns the fit so far (not
    converged). precondition="laplace" (default) runs the algorithm in coordinates whitened at
    the mode; None runs Stan's algorithm as is, from the initial point (`init`, a dict of
    constrained values, or a random point from `seed`). centring: "learn" (default) gives each
    location-scale site whose location or scale depends on other latents (theta ~ N(mu, tau) in
    a hierarchy) a centredness lam in [0, 1] per element, learned jointly with q by the
    fixed-draw objective (`ppl.centring`; stochastic ADVI fits q at the lam of a short
    deterministic meanfield fit, when the data are in memory and D + #lam <= 100, else the model
    as written); None fits the model as written; a number or a dict site -> lam fixes it
    (`Model.centred`); a truncated-normal site with such parameters (a censored value) is fitted
    as written and by its quantile function, the higher ELBO kept. Results stay in the model's
    own parameterisation; `fit.info["centring"]` holds the lam used. Returns a `VIResult`.
    """
    check_model(model)
    cfg = AdviConfig(family, steps, optimizer, eta, adapt_iter, tol_rel_obj, eval_elbo,
                     grad_samples, elbo_samples, lr, average, precondition, rank)
    options = dict(steps=steps, optimizer=optimizer, eta=eta, adapt_iter=adapt_iter,
                   tol_rel_obj=tol_rel_obj, eval_elbo=eval_elbo, grad_samples=grad_samples,
                   elbo_samples=elbo_samples, lr=lr, average=average, precondition=precondition)
    why, fit_family = None, cfg.family
    if method == "auto":
        method, why, fit_family = choose(model, cfg.family, options)
    if method == "dadvi":
        fit, failure = _deterministic(model, fit_family, seed, init, progress, options, why,
                                      centring, rank)
        if fit is not None:
            return fit
        why = f"auto: stochastic ADVI; deterministic ADVI failed: {failure}"
    elif method != "advi":
        raise ValueError(f"advi: method must be 'auto', 'advi' or 'dadvi', got {method!r}")
    model = centred_for_stochastic(model, centring, seed)
    ss = np.random.SeedSequence(seed)
    seed_used = ss.entropy if seed is None else seed
    init_ss, grad_ss, elbo_ss, sub_ss = ss.spawn(4)
    q = make_family(cfg.family, model.num_params, cfg.rank)
    if init is None:
        init = model.initial_point(int(init_ss.generate_state(1)[0]))
    z0 = initial_point(model, init)
    sub_rng = np.random.default_rng(sub_ss) if has_subsample(model) else None
    density = LogDensity(model, sub_rng)
    objective = Elbo(density, q, Coordinates(z0), np.random.default_rng(grad_ss),
                     np.random.default_rng(elbo_ss), cfg.grad_samples, cfg.elbo_samples)
    lam0 = q.init(np.zeros(model.num_params))
    bar = progress_bar(progress, cfg.steps, model)
    t0 = time.perf_counter()
    attempt, first = Attempt(lam0, cfg.eta, "no: not asked"), None
    try:
        with validation_enabled(False):
            density.record(z0)
            if cfg.precondition == "laplace":
                objective, attempt.info["preconditioned"] = _whiten(objective, lam0)
            _attempt(objective, lam0, cfg, attempt, bar)
            if objective.coords.whitened and not attempt.converged:
                # the whitened start failed to converge (a mode far from the posterior's
                # mass, as in hierarchical models): once more from Stan's start, keep the
                # higher ELBO
                first = attempt
                first.gaussian = objective.coords.gaussian(q, first.lam)
                first.final_elbo = objective.estimate(first.lam).value
                objective = objective.at(Coordinates(z0))
                attempt = Attempt(lam0, cfg.eta, "no: restarted from Stan's start after the "
                                  "whitened fit failed")
                if bar is not None:
                    bar.reset()
                try:
                    _attempt(objective, lam0, cfg, attempt, bar)
                except (FloatingPointError, RuntimeError) as e:   # the whitened fit stands
                    first.info["restart"] = ("kept the whitened fit: the restart from "
                                             f"Stan's start failed ({e})")
                    attempt = first
    except KeyboardInterrupt:
        _interrupted(attempt, cfg.average)
    finally:
        if bar is not None:
            bar.close()
    if first is not None and attempt is not first:
        attempt = _better(first, attempt, objective)
    seconds = time.perf_counter() - t0
    attempt.info.update(seconds=seconds, dropped_elbo_draws=attempt.dropped,
                        replay=density.replay_note, gradient_evaluations=density.n_grad,
                        rows_per_second=rows_per_step(model) * density.n_grad / seconds)
    if why is not None:
        attempt.info["method"] = why
    if q.name == "lowrank":
        attempt.info["rank"] = q.rank
    if model.centring:
        attempt.info["centring"] = copy_of(model.centring)
    mu, omega, L = attempt.gaussian or objective.coords.gaussian(q, attempt.lam)
    diagnostics = AdviDiagnostics(
        elbo_history=(np.asarray(attempt.iterations), np.asarray(attempt.elbos)),
        eta=attempt.eta, optimizer=cfg.optimizer, steps=attempt.steps,
        skipped=attempt.skipped, rhat=attempt.rhat)
    return VIResult(model, cfg.family, mu, omega, L, diagnostics=diagnostics,
                    converged=attempt.converged, stop_reason=attempt.reason, seed=seed_used,
                    info=attempt.info)


def _deterministic(model, family, seed, init, progress, options, why, centring, rank):
    """(ppl.dadvi's fit, None), or (None, why it failed) when "auto" chose it and it raised
    ValueError or FloatingPointError (stochastic ADVI then runs). method="dadvi" given by
    name: stochastic options are an error, and so is a failure."""
    from .fit import dadvi  # noqa: PLC0415 -- fit imports this package's modules
    if why is None:                 # asked for by name
        given = given_options(options)
        if given:
            raise ValueError(f"advi: {', '.join(given)} are stochastic ADVI's options; "
                             "method='dadvi' takes none (ppl.dadvi has its own)")
        return dadvi(model, family=family, seed=seed, init=init, progress=progress,
                     centring=centring, rank=rank), None
    try:
        fit = dadvi(model, family=family, seed=seed, init=init, progress=progress,
                    centring=centring, rank=rank)
    except (ValueError, FloatingPointError, np.linalg.LinAlgError) as e:
        return None, str(e)
    fit.info["method"] = why
    return fit, None


@dataclass(eq=False)
class Attempt:
    """One fit from one start, as it goes: q's parameters lam (in the objective's
    coordinates), eta, the ELBO estimates, the counters, the averaging window, `info` (what
    `fit.info` reports), and at the end whether and why it converged. `gaussian` is q in the
    model's space, (mu, omega, L), once the attempt's coordinates are gone (a restart)."""
    lam: np.ndarray
    eta: Optional[float]
    preconditioned: str
    info: dict = field(default_factory=dict)
    converged: bool = False
    reason: str = ""
    iterations: list = field(default_factory=list)
    elbos: list = field(default_factory=list)
    steps: int = 0
    rhat: float = math.nan
    skipped: int = 0
    dropped: int = 0
    window: Optional[Window] = None
    final_elbo: float = math.nan
    gaussian: Optional[tuple] = None
    scale_checked: bool = False

    def __post_init__(self):
        self.info.update(adaptation={}, preconditioned=self.preconditioned)


def _whiten(objective, lam0):
    """The objective in coordinates whitened at the mode (`mode.whitening`), when that start
    (u = 0, omega = 0: the Laplace approximation) has a higher ELBO than Stan's; else the
    objective as it was. Returns (objective, what was done)."""
    coords = objective.coords
    model = objective.density.model
    found = whitening(model, coords.centre, objective.q.name)
    if isinstance(found, str):
        return objective, found
    stan_elbo = objective.estimate(lam0).value
    whitened = objective.at(Coordinates(*found))
    laplace_elbo = whitened.estimate(lam0).value
    if not laplace_elbo > stan_elbo:
        return objective, (f"no: the Laplace start's ELBO {laplace_elbo:.4g} is not above the "
                           f"initial point's {stan_elbo:.4g}")
    if model.layouts and model.subsampled:   # minibatches of data on disk: control variate
        whitened.density.model = model.anchored(found[0])
        return whitened, "yes: whitened at the mode by its Hessian; minibatches anchored there"
    return whitened, "yes: whitened at the mode by its Hessian"


def _attempt(objective, lam0, cfg, attempt, bar):
    """One fit from the objective's start: eta's adaptation (unless given), then the steps."""
    if cfg.optimizer == "stan" and cfg.eta is None:
        told = None if bar is None else (lambda text: bar.set_postfix_str(text, refresh=True))
        adaptation = adapt_eta(objective, lam0, cfg.adapt_iter, told)
        attempt.info["adaptation"] = adaptation.elbos
        attempt.info["elbo_init"] = adaptation.elbo_init
        attempt.eta, attempt.dropped = adaptation.eta, attempt.dropped + adaptation.dropped
    _optimise(objective, lam0, cfg, attempt, bar)


def _optimise(objective, lam0, cfg, attempt, bar):
    """The main loop: steps, Stan's convergence rule, then averaging windows until the
    iterates settle (`convergence.settled`). Without Stan's rule by half the cap, the second
    half of the run is averaged."""
    steps, every, q, info = cfg.steps, cfg.eval_elbo, objective.q, attempt.info
    opt = StanStep(attempt.eta) if cfg.optimizer == "stan" else Adam(
        0.01 if cfg.lr is None else cfg.lr)
    lam = attempt.lam = lam0.copy()
    rule = StanRule(max(int(0.1 * steps / every), 2), cfg.tol_rel_obj)
    window, first, stan_at, k = None, 0, None, 0
    while k < steps:
        k += 1
        g = objective.grad(lam)
        if g is None:
            attempt.skipped += 1
        else:
            lam = attempt.lam = q.step(lam, opt, g)
        attempt.steps = k
        _check_proper(objective, lam, attempt, k)
        if window is not None:
            window.add(lam)
        elif cfg.average and k == steps // 2 and steps - k >= 8:
            window, first = Window(lam, steps - k), len(attempt.elbos)  # fallback: the tail
            attempt.window, info["windows"] = window, 1
        if k % every == 0:
            if bar is not None:
                bar.update(every)
            est = objective.estimate(lam)
            attempt.dropped += est.dropped
            attempt.iterations.append(k)
            attempt.elbos.append(est.value)
            _check_proper(objective, lam, attempt, k, est.value)
            if not np.all(np.isfinite(lam)):
                raise FloatingPointError(
                    f"ADVI diverged at step {k}: the variational parameters are not finite "
                    f"(eta={attempt.eta}); try a smaller eta or lr")
            if stan_at is None:
                fired = rule.update(est.value, est.se)
                if bar is not None:
                    bar.set_postfix_str(f"ELBO={est.value:.5g} rel={rule.last:.3g} "
                                        f"eta={attempt.eta}", refresh=False)
                if fired:
                    attempt.converged = True
                    attempt.reason = rule.reason(fired, k)
                    stan_at = info["stan_converged_at"] = k
                    if not cfg.average:
                        return
                    if window is None:        # a tail window already running just goes on
                        size = min(max(k, WINDOW_MIN * every), steps - k)
                        if size < 8:
                            return
                        window, first = Window(lam, size), len(attempt.elbos)
                        attempt.window, info["windows"] = window, 1
        if window is not None and window.full and stan_at is not None:
            # judged after the window's own last ELBO estimate (a tail window ends at the cap)
            ok, info["drift"] = settled(q, window, attempt.elbos[first:], DRIFT)
            if ok or steps - k < window.size:
                if not ok:                    # the cap came first: not converged after all
                    attempt.converged = False
                    info["unsettled"] = True
                break
            window, first = Window(lam, window.size), len(attempt.elbos)   # go on
            attempt.window = window
            info["windows"] += 1
    if stan_at is None:
        attempt.reason = (f"reached steps={steps} before the relative ELBO change fell under "
                          f"tol_rel_obj={cfg.tol_rel_obj:g} (last {rule.last:.3g})")
    if window is None or window.n < 8:
        return
    attempt.lam, attempt.rhat = window.mean(), window.rhat()
    info["window"] = window.n
    info["drift"] = window.drift(q)
    more = info["windows"] - 1
    attempt.reason += (f"; averaged the iterates of the last {window.n} steps" + (
        f" (after {more} more window(s) while the iterates still moved)" if more else ""))
    if info.get("unsettled"):
        attempt.reason += (f"; NOT settled: steps={steps} came while the iterates still moved "
                           f"(drift {info['drift']:.2g} >= {DRIFT:g} sd): raise steps")


class ImproperPosteriorError(RuntimeError):
    """The posterior does not normalise: q's scale grows without bound as the ELBO rises."""


def _check_proper(objective, lam, attempt, k, est=None):
    """Stop with an `ImproperPosteriorError` when q's sd along a coordinate has grown by more
    than e^SCALE_GROWTH from the start while the ELBO is above every earlier estimate: a
    posterior that does not normalise (a Flat prior no data constrain) lets the entropy grow
    without bound. A proper posterior's scale stops growing; a diverging step size lowers the
    ELBO. `est`: the ELBO estimate at lam (taken here when the scale first crosses the bound,
    before exp(omega) can overflow)."""
    d = objective.q.dim
    omega = lam[d:2 * d]
    grown = int(np.argmax(omega))
    if not omega[grown] > SCALE_GROWTH:
        return
    if est is None:
        if attempt.scale_checked:
            return
        attempt.scale_checked = True
        est = objective.estimate(lam).value
    earlier = [e for e in attempt.elbos if np.isfinite(e)] + [attempt.info.get("elbo_init",
                                                                                -math.inf)]
    if not (np.isfinite(est) and est >= max(earlier)):
        return
    model = objective.density.model
    raise ImproperPosteriorError(
        f"ADVI: the posterior of model {model.name!r} does not normalise: q's sd along "
        f"'{site_of(model, grown)}' grew by a factor of {math.exp(omega[grown]):.3g} in {k} "
        "steps while the ELBO kept rising (an improper prior, such as Flat() or HalfFlat(), "
        "that no data constrain?); give that site a proper prior")


def _interrupted(attempt, average):
    """Ctrl-C: the attempt so far, not converged (its window's mean when it has one)."""
    attempt.converged = False
    attempt.info["interrupted"] = True
    attempt.reason = "interrupted (Ctrl-C) after %d steps; the result so far" % attempt.steps
    window = attempt.window
    if average and window is not None and window.n >= 8:   # the window's average so far
        attempt.lam = window.mean()
        attempt.reason += f" (the mean of the last {window.n} iterates)"


def _better(first, restart, objective):
    """The whitened attempt that did not converge, or its restart from Stan's start (in
    `objective`'s coordinates): the higher final ELBO wins."""
    restart.final_elbo = objective.estimate(restart.lam).value
    both = (f"ELBO {first.final_elbo:.6g} from the whitened start (not converged), "
            f"{restart.final_elbo:.6g} from Stan's")
    if first.final_elbo > restart.final_elbo:
        first.info["restart"] = f"kept the whitened fit: {both}"
        if restart.info.get("interrupted"):     # Ctrl-C in the restart: still "interrupted"
            first.info["interrupted"] = True
            first.reason = ("interrupted (Ctrl-C) in the restart from Stan's start; the "
                            "whitened fit: " + first.reason)
        return first
    restart.info["restart"] = f"kept the restart: {both}"
    return restart
