"""ADVI: automatic differentiation variational inference (Kucukelbir et al., JMLR 2017), as
Stan implements it, plus iterate averaging.

A Gaussian q(zeta) = N(mu, L L^T) lives in the model's unconstrained space; `meanfield` has
L = diag(exp(omega)), `fullrank` a lower-triangular L whose diagonal is exp(omega). With
zeta = mu + L eps, eps ~ N(0, I) (the reparameterisation),

    ELBO(mu, L) = E_eps[log p(x, T^-1(zeta)) + log|det J_T^-1(zeta)|] + H[q],
    H[q] = D/2 (1 + log 2 pi) + sum(omega),

and, with g = grad_zeta log p(zeta) from the engine at each draw,
grad_mu = E[g], grad_L = E[tril(g eps^T)] + diag(1 / L_dd), so
grad_omega = E[g eps] exp(omega) + 1.

Stan's steps: rho_k = eta k^(-1/2 + 1e-16) / (tau + sqrt(s_k)), s_k = alpha g_k^2 + (1 - alpha)
s_(k-1), alpha = 0.1, tau = 1; eta from an adaptation phase (100, 10, 1, 0.1, 0.01 for
`adapt_iter` steps each, best ELBO). Every `eval_elbo` steps the ELBO is estimated with
`elbo_samples` draws (no tape is recorded); the relative change |(ELBO_k - ELBO_(k-1)) / ELBO_k|
enters a circular buffer, and Stan stops when its mean or median is under `tol_rel_obj`.

Beyond Stan: that rule stops while the iterates still move (with |ELBO| in the hundreds it
can fire at the third estimate). After it fires the fit goes on for an averaging window as
long as the run so far (at least 10 ELBO estimates' worth of steps, within `steps`) and
returns the average of the iterates there (Polyak-Ruppert; Dhaka et al., NeurIPS 2020). A
window counts as settled when the ELBO no longer rises (second half vs first, 2 standard
errors) and the half means of the iterates moved less than 0.1 of q's sd (0.1 in log sd for
the scales: `fit.info["drift"]`); otherwise another window follows. `fit.rhat` is the split
R-hat of the raw iterates over the last window: autocorrelated, so it reads above 1.1 even on
accurate fits; the drift is the criterion. Without Stan's rule by half of `steps`, the second
half is averaged. If `steps` runs out before the windows settle, the fit is not converged.
Two more departures, `precondition` and the mean step, are in `advi_steps.precondition` and
`families.Meanfield.step`. A whitened fit that does not converge (the joint mode of a
hierarchical model can sit far from the posterior's mass: seeds, radon under fullrank) is run
once more from Stan's start, and the fit with the higher final ELBO is returned
(`fit.info["restart"]` gives both).

Draws whose log density or gradient is not finite are redrawn (10 tries) and left out of the
ELBO estimates, as Stan does: q is fitted to the posterior restricted to where the density is
finite, so a model that is NaN on part of its support pulls q there (fix the model).
"""
import math
import numbers
import sys
import time

import numpy as np

import autodiff as ad

from .distributions.base import validation_enabled
from . import advi_steps
from .advi_steps import Adam, Run, StanStep, Window
from .families import Fullrank, Meanfield
from .results import VIResult

__all__ = ["advi"]

ETA_SEQUENCE = (100.0, 10.0, 1.0, 0.1, 0.01)
_WINDOW_MIN = 10    # averaging windows last at least this many ELBO evaluations
_DRIFT = 0.1        # settled: the half means of a window moved less than 0.1 sd


def advi(model, family="meanfield", steps=10_000, optimizer="stan", eta=None, adapt_iter=50,
         tol_rel_obj=0.01, eval_elbo=100, grad_samples=1, elbo_samples=100, lr=None,
         seed=None, init=None, progress=None, average=True, precondition="laplace"):
    """Fit q(zeta) = N(mu, L L^T) to the posterior of a bound `Model` by maximising
    ELBO = E_q[log p(x, T^-1(zeta)) + log|det J|] + H[q] (see the module docstring).

    family: "meanfield" or "fullrank". optimizer: "stan" (adaptive step-size sequence, `eta`
    adapted unless given) or "adam" (`lr`, default 0.01). `average=False` returns Stan's last
    iterate instead of the window average. Ctrl-C returns the fit so far (not converged).
    precondition="laplace" (default) runs the algorithm in coordinates whitened at the mode
    (see `ppl.advi_steps.precondition`); None runs Stan's algorithm as is, from the initial point.
    Returns a `VIResult`.
    """
    cfg = _check_args(model, family, steps, optimizer, eta, adapt_iter, tol_rel_obj, eval_elbo,
                      grad_samples, elbo_samples, lr)
    eta, lr = (None if v is None else float(v) for v in (eta, lr))
    ss = np.random.SeedSequence(seed)
    seed_used = ss.entropy if seed is None else seed
    init_ss, grad_ss, elbo_ss, sub_ss = ss.spawn(4)
    q = (Meanfield if family == "meanfield" else Fullrank)(model.num_params)
    if init is None:
        init = model.initial_point(int(init_ss.generate_state(1)[0]))
    z0 = _unconstrain_init(model, init)
    _check_initial_point(model, z0)
    sub_rng = np.random.default_rng(sub_ss) if _has_subsample(model, init) else None
    run = Run(model, q, sub_rng, np.random.default_rng(grad_ss), np.random.default_rng(elbo_ss),
               grad_samples, elbo_samples, z0)
    lam0 = q.init(np.zeros(model.num_params))
    bar = _progress_bar(progress, steps, model)
    t0 = time.perf_counter()
    out = _attempt_state(eta, {"adaptation": {}, "preconditioned": "no: not asked"}, lam0)
    first = None
    try:
        with validation_enabled(False):
            run.record(z0)
            if precondition == "laplace":
                out["info"]["preconditioned"] = advi_steps.precondition(run, family)
            _attempt(run, lam0, cfg, out, bar, optimizer, eta, lr, average)
            if run.C is not None and not out["converged"]:
                # the whitened start failed to converge (a mode far from the posterior's
                # mass, as in hierarchical models): once more from Stan's start, keep the
                # higher ELBO
                first = out
                first["zeta_q"] = run.to_zeta(first["lam"])
                first["final_elbo"] = run.elbo(first["lam"])
                run.centre, run.C, run.log_det_C = z0, None, 0.0
                out = _attempt_state(eta, {"adaptation": {}, "preconditioned": "no: restarted "
                                           "from Stan's start after the whitened fit failed"},
                                     lam0)
                if bar is not None:
                    bar.reset()
                try:
                    _attempt(run, lam0, cfg, out, bar, optimizer, eta, lr, average)
                except (FloatingPointError, RuntimeError) as e:   # the whitened fit stands
                    first["info"]["restart"] = ("kept the whitened fit: the restart from "
                                                f"Stan's start failed ({e})")
                    out = first
    except KeyboardInterrupt:
        out["converged"] = False
        out["info"]["interrupted"] = True
        out["reason"] = "interrupted (Ctrl-C) after %d steps; the result so far" % out["steps"]
        window = out.get("window")
        if average and window is not None and window.n >= 8:   # the window's average so far
            out["lam"] = window.mean()
            out["reason"] += f" (the mean of the last {window.n} iterates)"
    finally:
        if bar is not None:
            bar.close()
    if first is not None and out is not first:
        out["final_elbo"] = run.elbo(out["lam"])
        both = (f"ELBO {first['final_elbo']:.6g} from the whitened start (not converged), "
                f"{out['final_elbo']:.6g} from Stan's")
        if first["final_elbo"] > out["final_elbo"]:
            first["info"]["restart"] = f"kept the whitened fit: {both}"
            if out["info"].get("interrupted"):     # Ctrl-C in the restart: still "interrupted"
                first["info"]["interrupted"] = True
                first["reason"] = ("interrupted (Ctrl-C) in the restart from Stan's start; "
                                   "the whitened fit: " + first["reason"])
            out = first
        else:
            out["info"]["restart"] = f"kept the restart: {both}"
    seconds = time.perf_counter() - t0
    out["info"].update(seconds=seconds, dropped_elbo_draws=out["dropped"],
                       replay=run.replay_note,
                       gradient_evaluations=run.n_grad,
                       rows_per_second=_rows_per_step(model) * run.n_grad / seconds)
    mu, omega, L = out.get("zeta_q") or run.to_zeta(out["lam"])
    return VIResult(model, family, mu, omega, L, method="advi",
                    elbo_history=tuple(np.asarray(h) for h in out["history"]),
                    converged=out["converged"], stop_reason=out["reason"], eta=out["eta"],
                    optimizer=optimizer, steps=out["steps"], skipped=out["skipped"],
                    rhat=out["rhat"], seed=seed_used, info=out["info"])


def _attempt_state(eta, info, lam0):
    return dict(lam=lam0, converged=False, reason="", history=([], []), eta=eta, steps=0,
                rhat=math.nan, info=info, skipped=0, dropped=0)


def _attempt(run, lam0, cfg, out, bar, optimizer, eta, lr, average):
    """One fit from the run's current start: eta's adaptation (unless given), then the steps;
    its own skipped steps and dropped ELBO draws are counted in `out`."""
    skipped, dropped = run.skipped, run.dropped
    try:
        if optimizer == "stan" and eta is None:
            out["eta"] = _adapt_eta(run, lam0, cfg, out["info"], bar)
        _optimise(run, lam0, cfg, out, bar, optimizer, out["eta"], lr, average)
    finally:
        out["skipped"], out["dropped"] = run.skipped - skipped, run.dropped - dropped


def _adapt_eta(run, lam0, cfg, info, bar):
    """Stan's adaptation: each eta in turn runs `adapt_iter` steps from the start; keep the
    best ELBO; stop early once an eta does worse than the best (after some improvement).
    Beyond Stan: the largest eta whose ELBO is within 2 sqrt(2) Monte Carlo standard errors
    of the best is kept (equal within noise, it moves further in the same number of steps;
    from a near-optimal start the smallest eta would otherwise win by standing still). Also
    unlike Stan: the best ELBO so far is kept (Stan overwrites it with each eta's), a NaN or
    -inf ELBO moves on to the next eta (Stan stops), and the last eta is not required to beat
    the initial ELBO; an error is raised only when no eta gives a finite ELBO."""
    elbo_init = run.elbo(lam0)
    best, eta_best = -math.inf, None
    tried, errors = info["adaptation"], {}
    for eta in ETA_SEQUENCE:
        lam, opt = lam0.copy(), StanStep(eta)
        with np.errstate(all="ignore"):
            diverged = False
            for _ in range(cfg["adapt_iter"]):
                g = run.elbo_grad(lam, count=False)
                if g is None or not np.all(np.isfinite(lam)):
                    diverged = True       # no finite draw here: this eta has left the posterior
                    break
                run.q.step(lam, opt, g)
            elbo, errors[eta] = (-math.inf, math.inf) if diverged or not np.all(
                np.isfinite(lam)) else run.elbo(lam, se=True)
        tried[eta] = elbo
        if bar is not None:
            bar.set_postfix_str(f"adapting eta={eta:g} ELBO={elbo:.4g}", refresh=True)
        if not math.isfinite(elbo):
            continue                      # NaN or diverged: move on to a smaller eta
        if elbo < best and best > elbo_init:
            break                         # worse than the best after an improvement: stop
        if elbo > best:
            best, eta_best = elbo, eta
    if eta_best is None:
        raise RuntimeError(
            f"ADVI: every step size failed (ELBO after {cfg['adapt_iter']} steps for eta = "
            f"{', '.join(f'{e:g}: {v:.4g}' for e, v in tried.items())}; initial ELBO "
            f"{elbo_init:.4g}). The model may be ill-conditioned or misspecified; try "
            "init=..., eta=..., or optimizer='adam'")
    info["elbo_init"] = elbo_init
    for eta, elbo in tried.items():                # in decreasing eta
        if elbo >= best - 2.0 * math.sqrt(2.0) * errors[eta_best]:
            return eta
    return eta_best


def _optimise(run, lam0, cfg, out, bar, optimizer, eta, lr, average):
    """The main loop: steps, Stan's convergence rule, then averaging windows until the
    iterates settle (see `_settled`). Without Stan's rule by half the cap, the second half of
    the run is averaged."""
    steps, every, tol = cfg["steps"], cfg["eval_elbo"], cfg["tol_rel_obj"]
    opt = StanStep(eta) if optimizer == "stan" else Adam(0.01 if lr is None else lr)
    lam = lam0.copy()
    out["lam"] = lam
    cb = []
    cb_size = max(int(0.1 * steps / every), 2)
    iters, elbos = out["history"]
    info = out["info"]
    # as Stan: the ELBO starts at 0, so the first relative change is 1 and the mean rule
    # cannot fire before that entry leaves the buffer
    elbo_prev, window, first, stan_at = 0.0, None, 0, None
    k = 0
    while k < steps:
        k += 1
        g = run.elbo_grad(lam)
        if g is not None:
            run.q.step(lam, opt, g)
        out["steps"] = k
        if window is not None:
            window.add(lam)
        elif average and k == steps // 2 and steps - k >= 8:
            window, first = Window(lam, steps - k), len(elbos)       # fallback: tail average
            out["window"] = window
            info["windows"] = 1
        if k % every == 0:
            if bar is not None:
                bar.update(every)
            elbo = run.elbo(lam)
            iters.append(k)
            elbos.append(elbo)
            if not np.all(np.isfinite(lam)):
                raise FloatingPointError(
                    f"ADVI diverged at step {k}: the variational parameters are not finite "
                    f"(eta={eta}); try a smaller eta or lr")
            if stan_at is None and _stan_rule(elbo, elbo_prev, cb, cb_size, tol, out, k, bar,
                                              eta):
                stan_at = info["stan_converged_at"] = k
                if not average:
                    return
                if window is None:            # a tail window already running just goes on
                    size = min(max(k, _WINDOW_MIN * every), steps - k)
                    if size < 8:
                        return
                    window, first = Window(lam, size), len(elbos)
                    out["window"] = window
                    info["windows"] = 1
            elbo_prev = elbo
        if window is not None and window.full and stan_at is not None:
            # judged after the window's own last ELBO estimate (a tail window ends at the cap)
            settled = _settled(run.q, window, elbos[first:], info)
            if settled or steps - k < window.size:
                if not settled:               # the cap came first: not converged after all
                    out["converged"] = False
                    info["unsettled"] = True
                break
            window, first = Window(lam, window.size), len(elbos)   # not settled: go on
            out["window"] = window
            info["windows"] += 1
    if stan_at is None:
        last = cb[-1] if cb else math.nan
        out["reason"] = (f"reached steps={steps} before the relative ELBO change fell under "
                         f"tol_rel_obj={tol:g} (last {last:.3g})")
    if window is None or window.n < 8:
        return
    out["lam"], out["rhat"] = window.mean(), window.rhat()
    info["window"] = window.n
    info["drift"] = window.drift(run.q)
    more = info["windows"] - 1
    out["reason"] += (f"; averaged the iterates of the last {window.n} steps" + (
        f" (after {more} more window(s) while the iterates still moved)" if more else ""))
    if info.get("unsettled"):
        out["reason"] += (f"; NOT settled: steps={steps} came while the iterates still moved "
                          f"(drift {info['drift']:.2g} >= {_DRIFT:g} sd): raise steps")


def _stan_rule(elbo, elbo_prev, cb, cb_size, tol, out, k, bar, eta):
    """Stan's rule: push |(ELBO_prev - ELBO) / ELBO| into the circular buffer; converged when
    its mean or its (upper) median, as Stan's `circ_buff_median`, is under tol."""
    rel = abs((elbo_prev - elbo) / elbo) if elbo != 0 else math.inf
    cb.append(rel)
    del cb[:-cb_size]
    if bar is not None:
        bar.set_postfix_str(f"ELBO={elbo:.5g} rel={rel:.3g} eta={eta}", refresh=False)
    mean_cb, med_cb = float(np.mean(cb)), float(sorted(cb)[len(cb) // 2])
    rule = "mean" if mean_cb < tol else "median" if med_cb < tol else None
    if rule is None:
        return False
    out["converged"] = True
    out["reason"] = (f"the {rule} relative ELBO change {min(mean_cb, med_cb):.3g} < "
                     f"tol_rel_obj={tol:g} at step {k}")
    return True


def _settled(q, window, elbos, info):
    """A window is settled when the ELBO no longer rises and the iterates' half means moved
    less than `_DRIFT` (in q's sd for the means, in log sd for the scales)."""
    info["drift"] = drift = window.drift(q)
    return drift < _DRIFT and not _trending(elbos)


def _trending(elbos):
    """Whether the ELBO estimates still rise: the mean of the second half exceeds the first's
    by more than two standard errors (Welch)."""
    n = len(elbos) // 2
    if n < 2:
        return False
    a, b = np.asarray(elbos[:n]), np.asarray(elbos[-n:])
    return b.mean() - a.mean() > 2.0 * math.sqrt((a.var(ddof=1) + b.var(ddof=1)) / n)


# ---- checks -------------------------------------------------------------------------------------
def _check_args(model, family, steps, optimizer, eta, adapt_iter, tol_rel_obj, eval_elbo,
                grad_samples, elbo_samples, lr):
    from .model import Model
    if not isinstance(model, Model):
        raise TypeError(f"advi: model must be a bound ppl.Model (call the @ppl.model factory "
                        f"with its data), got {type(model).__name__}")
    if model.num_params == 0:
        raise ValueError(f"advi: model {model.name!r} has no latent parameters to fit")
    if family not in ("meanfield", "fullrank"):
        raise ValueError(f"advi: family must be 'meanfield' or 'fullrank', got {family!r}")
    if optimizer not in ("stan", "adam"):
        raise ValueError(f"advi: optimizer must be 'stan' or 'adam', got {optimizer!r}")
    cfg = {}
    for name, v in (("steps", steps), ("adapt_iter", adapt_iter), ("eval_elbo", eval_elbo),
                    ("grad_samples", grad_samples), ("elbo_samples", elbo_samples)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"advi: {name} must be a positive integer, got {v!r}")
        cfg[name] = int(v)
    for name, v in (("tol_rel_obj", tol_rel_obj), ("eta", eta), ("lr", lr)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, numbers.Real)
                              or not v > 0 or not math.isfinite(v)):
            raise ValueError(f"advi: {name} must be a positive number, got {v!r}")
    if tol_rel_obj is None:
        raise ValueError("advi: tol_rel_obj must be a positive number, got None")
    if optimizer == "stan" and lr is not None:
        raise ValueError("advi: lr is Adam's step size; with optimizer='stan' give eta=...")
    if optimizer == "adam" and eta is not None:
        raise ValueError("advi: eta is the Stan optimizer's step-size scale; with "
                         "optimizer='adam' give lr=...")
    cfg["tol_rel_obj"] = float(tol_rel_obj)
    return cfg


def _unconstrain_init(model, init):
    """init (dict of constrained values) -> flat z, naming the site whose value is outside
    its support."""
    if isinstance(init, dict):
        for name, p in model.parameters.items():
            if name in init and not np.all(p.constraint.check(np.asarray(init[name]))):
                raise ValueError(f"advi: init[{name!r}] = {init[name]!r} is outside the support "
                                 f"{p.constraint!r} of site {name!r}")
    try:
        return model.unconstrain(init)
    except (ValueError, TypeError) as e:
        raise type(e)(f"advi: init {init!r} cannot be used: {e}") from None


def _check_initial_point(model, z0):
    """A clear error naming the site whose log density is not finite at the start."""
    with np.errstate(all="ignore"):
        lp, g = model.full_value_and_grad(z0)        # data on disk: chunk by chunk
    if np.isfinite(lp) and np.all(np.isfinite(g)):
        return
    params = model.constrain(z0, deterministic=False)
    bad = []
    with np.errstate(all="ignore"):
        for name, site in model.trace(params).items():
            if site.log_prob is not None and not np.all(np.isfinite(ad.getval(
                    site.log_prob))):
                bad.append(f"{name!r} ({site.fn!r})" if site.fn is not None else repr(name))
    where = ("the log density of site(s) " + ", ".join(bad) + " is not finite there") if bad \
        else "every site's log density is finite there, so a transform's log-Jacobian or " \
             "the gradient is not"
    what = "log density" if not np.isfinite(lp) else "gradient"
    raise ValueError(f"advi: the {what} of model {model.name!r} is not finite at the initial "
                     f"point {params}: {where}. Give init=... with values inside the support")


def _has_subsample(model, init):
    return bool(model.subsampled)       # the plates' own subsample_size or Model.subsample


def _rows_per_step(model):
    """Rows of data one gradient evaluation reads: the minibatch, or every plate's rows."""
    sizes = {n: size for n, (size, _, _) in model.plates.items()}
    return sum({**sizes, **model.subsampled}.values()) or 1


def _progress_bar(progress, steps, model):
    if progress is None:
        progress = sys.stderr.isatty()
    if not progress:
        return None
    from tqdm.auto import tqdm
    if model.subsampled or model.layouts:    # counts rows: the rate shows rows per second
        return tqdm(total=steps, desc=f"ADVI {model.name}", unit="row", leave=False,
                    unit_scale=_rows_per_step(model))
    return tqdm(total=steps, desc=f"ADVI {model.name}", unit="step", leave=False)
