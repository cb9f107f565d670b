"""`ppl.dadvi`: a sound start, deterministic ADVI, linear-response covariances and a verdict, as
one call returning a `VIResult`.

1. `start.model_start`: the mode and its Hessian H (scale-free L-BFGS then Newton, best of
   several initial points); no finite point: a ValueError saying why.
2. Whitening at the mode, zeta = mode + A u: meanfield A = diag(1 / sqrt(-H_ii)) (meanfield's
   own optimum for a Gaussian), fullrank A = cholesky((-H)^-1); no mode: Stan's start, A = I
   (`whiten.at_mode`).
3. `dadvi.fixed_draw_fit`: the fixed-draw ELBO maximised by trust-region Newton-CG; lowrank
   (D <= 1000) then re-whitened by the expected Hessian under q and refitted while a round
   raises the ELBO by more than twice its standard error (`whiten.lowrank_rounds`).
4. The Monte Carlo sd of the means (the sandwich); while it exceeds `mc_fraction` (0.1) of the
   posterior sd (LRVB's, else q's) the draws double, up to `max_draws`. Why 0.1: the accuracy
   bar is 0.3 sd, and 0.1 keeps the fixed draws' error under it at three standard errors.
5. `lrvb.lrvb_cov`: Cov_LR of the means; the result is then the Gaussian N(mu, Cov_LR),
   returned as a fullrank VIResult (`fit.q_family` keeps the family that was fitted).
6. With resample=True (default), the result's draws are PSIS-resampled from 4 x as many draws
   of that Gaussian when k-hat < 0.7 (`VIResult.resample`), so summaries are the
   importance-corrected ones; `fit.resampled` and `summary_text` say so.
7. `fit.verdict`: `verdict.judge` on those same 4000 draws (one k-hat for the resampling,
   the verdict and the table), made when first asked for, as for every fit.

The result is the one result type, a `VIResult` whose `diagnostics` is a `DadviDiagnostics`
(M, the draws' history, the Monte Carlo sd of the optimum, LRVB, the start).

    >>> import numpy as np, ppl
    >>> @ppl.model
    ... def coin(flips):
    ...     p = ppl.sample("p", ppl.dist.Beta(1.0, 1.0))
    ...     ppl.sample("flips", ppl.dist.Bernoulli(p), obs=flips)
    >>> fit = dadvi(coin(np.array([1.0] * 7 + [0.0] * 3)), seed=0)
    >>> round(float(fit.mean["p"]), 1), fit.verdict.kind in ("good", "light_tails")
    (0.7, True)
"""
import math
import time

import numpy as np

from ..centring import Learned, centrable_sites, copy_of, quantile_sites
from ..distributions.base import validation_enabled
from .config import progress_bar
from .dadvi import _DENSE_D, fixed_draw_fit
from .draws import antithetic
from .families import default_rank, family as make_family
from .lrvb import DENSE_MAX, cg_solve, lrvb_cov, sandwich_cov
from .records import DadviDiagnostics
from .result import VIResult
from .start import model_start
from .whiten import MAX_D, at_mode, lowrank_rounds

__all__ = ["dadvi"]

_FULLRANK_MAX = 50      # fullrank's cost grows as D^2 parameters times 2 (D + 1) draws
_COLUMNS_MAX = 1000     # up to this many variational parameters F's Hessian may be formed
#                         column by column (8 MB; its solve under a second)


def _check(model, family, draws, max_draws, mc_fraction):
    from ..model import Model  # noqa: PLC0415
    if not isinstance(model, Model):
        raise TypeError(f"dadvi: model must be a bound ppl.Model (call the @ppl.model factory "
                        f"with its data), got {type(model).__name__}")
    if model.num_params == 0:
        raise ValueError(f"dadvi: model {model.name!r} has no latent parameters to fit")
    if family not in ("meanfield", "fullrank", "lowrank"):
        raise ValueError(f"dadvi: family must be 'meanfield', 'fullrank' or 'lowrank', got "
                         f"{family!r}")
    for name, v in (("draws", draws), ("max_draws", max_draws)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 2 or v % 2:
            raise ValueError(f"dadvi: {name} must be an even integer >= 2 (antithetic pairs), "
                             f"got {v!r}")
    if not (isinstance(mc_fraction, (int, float)) and 0 < mc_fraction and
            math.isfinite(mc_fraction)):
        raise ValueError(f"dadvi: mc_fraction must be a positive number, got {mc_fraction!r}")


def _covariances(obj, eta, A, lrvb, D):
    """(Cov_LR in zeta or None, note, MC sd of the means in zeta). With point parameters
    (learned centredness) both are q's with the points held at their values (the Hessian
    without their rows): the family they chose, fitted."""
    n = obj.size - obj.P
    # the dense Hessian: from the per-draw Hessians, or one product per column (size of them,
    # where conjugate gradients take tens per mean: radon's 89 means 6,441)
    dense = obj.dense or D <= DENSE_MAX or obj.size <= _COLUMNS_MAX
    H = obj.hessian(eta) if dense else None

    def hessp_q(v):
        return H[:n, :n] @ v if dense else obj.hessp(eta, np.concatenate(
            [v, np.zeros(obj.P)]))[:n]
    cov_u, note = None, None
    if lrvb:
        try:
            res = lrvb_cov(hessp_q, n, np.arange(D), "dense" if dense else "cg")
            cov_u, note = res.cov, repr(res)
        except ValueError as e:
            note = f"failed: {e}"
    try:
        cm = sandwich_cov(obj, eta, H, None if dense else (lambda b: -cg_solve(hessp_q, b)[0]),
                          idx=np.arange(D))
        cz = A[:, None] * cm * A[None, :] if A.ndim == 1 else A @ cm @ A.T
        mc_sd = np.sqrt(np.diag(cz))
    except (ValueError, np.linalg.LinAlgError):
        mc_sd = np.full(D, np.nan)
    cov = None
    if cov_u is not None:
        cov = A[:, None] * cov_u * A[None, :] if A.ndim == 1 else A @ cov_u @ A.T
    return cov, note, mc_sd


def _centring(model, centring):
    """(the `Learned` density or None, the model to fit) for dadvi's `centring`: "learn"
    learns lam for the location-scale sites the model has not fixed already."""
    if centring is None:
        return None, model
    if isinstance(centring, str):
        if centring != "learn":
            raise ValueError(f"dadvi: centring must be 'learn', None, a number in [0, 1] or a "
                             f"dict site -> lam, got {centring!r}")
        sites = {n: s for n, s in centrable_sites(model).items() if n not in model.centring}
        if not sites:
            return None, model
        learned = Learned(model, sites)
        learned.start_model = model.centred({n: 0.5 for n in sites})
        return learned, model
    return None, model.centred(centring)


def dadvi(model, family="meanfield", draws=30, seed=None, lrvb=None, max_draws=240,
          mc_fraction=0.1, gtol=1e-6, maxiter=200, init=None, random_starts=3,
          resample=True, progress=None, centring=None, rank=None):
    """Deterministic ADVI of a bound `Model` (the steps in the module docstring).

    family: "meanfield", "fullrank" or "lowrank" (q's family during the fit; lowrank's
    covariance diag(d)^2 + B B^T, B of `rank` columns, default 2, its draws
    D + rank normals, at least 2 (rank + 1) of them).
    draws: M fixed draws (even: antithetic pairs; fullrank takes at least 2 (D + 1), so that
    the M / 2 pairs span the D dimensions, else the objective is unbounded), doubled while
    the Monte Carlo sd of a mean exceeds mc_fraction of its posterior sd, up to max_draws.
    lrvb: return N(mu, Cov_LR) (a fullrank VIResult) instead of q itself; default None:
    when D <= 100, where the per-draw Hessians are formed (above, each of the D columns is a
    conjugate-gradient solve of M Hessian-vector products per step: ask with lrvb=True).
    gtol: trust-ncg's gradient tolerance in whitened units. init: a dict of constrained
    values tried as one more initial point; random_starts: Stan's random initial points
    tried besides the model's default. resample: draws (and so every summary)
    PSIS-resampled from the returned Gaussian when k-hat < 0.7 (its shape in unconstrained
    space corrected, as Stan's Pathfinder does). progress: a bar of trust-region steps (None:
    on a terminal). Ctrl-C during the fit returns the highest-ELBO point so far, marked
    interrupted and not converged. centring: "learn" (each location-scale site whose
    location or scale depends on other latents gets a centredness lam in [0, 1] per element,
    maximised jointly with q: `ppl.centring`), None (the model as written), or a fixed lam
    (a number, or a dict site -> lam) as `Model.centred` takes; the result's model is the
    centred one (`fit.model.centring`, `fit.info["centring"]`), its draws and summaries in
    the model's own parameterisation. With "learn", a truncated-normal site whose parameters
    depend on other latents (a censored value) is fitted both as written and non-centred by
    its quantile function, and the fit with the higher fixed-draw ELBO is returned
    (`fit.info["quantile_choice"]` says which and by how much).
    Returns a `VIResult` (method "dadvi"; its `diagnostics` a `DadviDiagnostics`). Raises
    ValueError when no initial point has a finite density.
    """
    _check(model, family, draws, max_draws, mc_fraction)
    if rank is not None and (family != "lowrank" or isinstance(rank, bool) or
                             not isinstance(rank, (int, np.integer)) or rank < 1):
        raise ValueError(f"dadvi: rank must be a positive integer with family='lowrank', got "
                         f"rank={rank!r} with family={family!r}")
    if family == "lowrank":
        make_family(family, model.num_params, rank)          # the rank fits D, or ValueError
    args = dict(family=family, draws=draws, seed=seed, lrvb=lrvb, max_draws=max_draws,
                mc_fraction=mc_fraction, gtol=gtol, maxiter=maxiter, init=init,
                random_starts=random_starts, resample=resample, progress=progress,
                centring=centring, rank=rank)
    if centring == "learn":
        truncated = [n for n in quantile_sites(model) if n not in model.centring]
        if truncated:
            return _choose_quantile(model, truncated, args)
    return _dadvi(model, **args)


def _choose_quantile(model, truncated, args):
    """centring="learn" with truncated-normal sites whose parameters depend on other latents:
    the fit as written and the fit with those sites non-centred by the quantile function
    (`ppl.centring.quantile_forward`), the one with the higher fixed-draw ELBO (both bound the
    same log evidence, so the higher is the closer q). Ctrl-C in the first returns it."""
    first = _dadvi(model, **args)
    if first.info.get("interrupted"):
        return first
    second = _dadvi(model.centred({n: "quantile" for n in truncated}), **args)
    best, other = (second, first) if second.diagnostics.elbo > first.diagnostics.elbo \
        else (first, second)
    how = "non-centred by the quantile function" if best is second else "as written"
    best.info["quantile_choice"] = (
        f"{', '.join(truncated)} {how}: fixed-draw ELBO {best.diagnostics.elbo:.6g} against "
        f"{other.diagnostics.elbo:.6g}")
    best.info["seconds"] += other.info["seconds"]
    return best


def _dadvi(model, family, draws, seed, lrvb, max_draws, mc_fraction, gtol, maxiter, init,
           random_starts, resample, progress, centring, rank):
    """`dadvi` for one parameterisation."""
    if family == "fullrank" and model.num_params > _FULLRANK_MAX:
        raise ValueError(
            f"dadvi: family='fullrank' with {model.num_params} parameters means "
            f"{model.num_params * (model.num_params + 3) // 2} variational parameters and at "
            f"least {2 * (model.num_params + 1)} fixed draws (radon's 89 take over 10 "
            f"minutes); above {_FULLRANK_MAX} use family='meanfield', whose linear-response "
            "covariance (lrvb=True) is a full covariance")
    if lrvb is None:
        lrvb = model.num_params <= _DENSE_D
    t0 = time.perf_counter()
    ss = np.random.SeedSequence(seed)
    seed_used = ss.entropy if seed is None else seed
    start_ss, draw_ss, _ = ss.spawn(3)     # the third stream was the verdict's
    D = model.num_params
    learned, model = _centring(model, centring)
    with validation_enabled(False):
        st = model_start(model if learned is None else learned.start_model, start_ss,
                         random_starts, [init] if init is not None else ())
    if st.status == "no_finite":
        raise ValueError(f"dadvi: model {model.name!r}: {st.message}; give init=...")
    centre, A, white = at_mode(st, family, D)
    rng = np.random.default_rng(draw_ss)
    M = int(draws)
    if family == "fullrank" and M < 2 * (D + 1):
        # the pairs must span R^D, else F is unbounded along a direction no draw sees
        M = 2 * (D + 1)
    r = (default_rank(D) if rank is None else int(rank)) if family == "lowrank" else 0
    M = max(M, 2 * (r + 1))             # lowrank: the pairs span B's r directions
    eps = antithetic(rng, M, D + r)
    eta, history, program = None, [], st.program
    log_p, P = model.unconstrained_log_density, 0
    if learned is not None:         # w = (z, v), lam = sigmoid(v), v from 0 (lam = 1/2)
        log_p, P, program = learned.log_p, learned.size, None
        centre = np.concatenate([centre, np.zeros(P)])
    bar = progress_bar(progress, maxiter, model, "DADVI")
    interrupted, fit, rounds = False, None, 0
    try:
        with validation_enabled(False):
            while True:
                step = None if bar is None else (lambda e: bar.update())
                fit = fixed_draw_fit(log_p, centre, A, family, eps=eps, eta0=eta, gtol=gtol,
                                     maxiter=maxiter, program=program, points=P, rank=r,
                                     callback=step)
                if r and D <= MAX_D and not fit.info.get("interrupted"):
                    fit, k = lowrank_rounds(fit, log_p, gtol=gtol, maxiter=maxiter,
                                            callback=step)
                    rounds += k
                obj = fit.objective
                A = obj.A[:D] if obj.A.ndim == 1 else obj.A[:D, :D]
                # the next M's start (the rounds' objective is over q alone, points bound)
                centre, eta, program = (obj.c, fit.eta, obj.program) if obj.P == P else (
                    np.concatenate([obj.c, fit.point]), np.concatenate([fit.eta, np.zeros(P)]),
                    None)
                interrupted = bool(fit.info.get("interrupted"))
                cov, lr_note, mc_sd = (None, "skipped: interrupted", np.full(D, np.nan)) \
                    if interrupted else _covariances(obj, fit.eta, A, lrvb, D)
                post_sd = np.sqrt(np.diag(cov)) if cov is not None else \
                    np.sqrt(np.sum(fit.L ** 2, axis=1))
                worst = float(np.nanmax(mc_sd / post_sd)) if not interrupted else math.nan
                history.append((M, fit.elbo, worst, fit.iterations))
                if interrupted or not worst > mc_fraction or 2 * M > max(max_draws, M):
                    break
                eps = np.concatenate([eps, antithetic(rng, M, D + r)])     # keep the first M
                M *= 2
                if bar is not None:
                    bar.reset()
    except KeyboardInterrupt:       # in the covariances: the fit stands, without LRVB
        if fit is None:             # nothing fitted yet
            raise
        interrupted, cov, lr_note, mc_sd, worst = True, None, "skipped: interrupted", \
            np.full(D, np.nan), math.nan
        fit.converged = False
    finally:
        if bar is not None:
            bar.close()
    if interrupted:
        stop = (f"interrupted (Ctrl-C) after {fit.iterations} trust-region steps with M = {M} "
                "draws; the result so far (no linear-response covariance, no Monte Carlo "
                "error)")
    else:
        stop = (f"trust-ncg: {fit.message} (max |grad| {fit.grad_norm:.2g}) with M = {M} "
                f"draws; Monte Carlo sd of the means up to {worst:.2g} of the posterior sd")
        if worst > mc_fraction:
            stop += f" (over {mc_fraction:g} at max_draws={max_draws})"
    info = {"trust_region": fit.message, "mc_fraction": mc_fraction}
    if rounds:
        white += (f"; then {rounds} round{'s' * (rounds > 1)} by chol(Hbar^-1), Hbar the "
                  "expected -Hessian under q")
    if learned is not None:
        model = model.centred(learned.lams(fit.point))
        stop += "; centredness learned for " + ", ".join(learned.sites)
    if model.centring:
        info["centring"] = copy_of(model.centring)
    if interrupted:
        info["interrupted"] = True
    if lrvb and cov is None and not interrupted:
        info["lrvb_failed"] = lr_note
    if cov is not None:
        L = np.linalg.cholesky(0.5 * (cov + cov.T))
    else:
        L = None if family == "meanfield" else fit.L
    omega = np.log(np.diag(fit.L if L is None else L))
    record = DadviDiagnostics(
        draws=M, draws_history=tuple(history), mc_sd=mc_sd, mc_sd_over_sd=worst,
        q_family=family, lrvb=None if cov is None else lr_note, start=st, whitening=white,
        elbo=fit.elbo, steps=fit.iterations, grad_norm=fit.grad_norm, message=fit.message)
    kind = "meanfield" if L is None else "lowrank" if cov is None and r else "fullrank"
    if r:
        info["rank"] = r
    result = VIResult(model, kind, fit.mu, omega, L,
                      diagnostics=record, converged=fit.converged, stop_reason=stop,
                      seed=seed_used, info=info, resample=resample)
    result.info["seconds"] = time.perf_counter() - t0
    return result
