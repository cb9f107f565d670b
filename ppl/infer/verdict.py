"""Verdicts that tell the truth: what PSIS says about a Gaussian approximation q, in words,
with a remedy that exists for this fit.

Given S draws zeta_s ~ q with log p(zeta_s) (unconstrained, Jacobian included) and log q(zeta_s):

- k-hat: the Pareto shape of the smoothed importance ratios w_s ~ p / q (PSIS, `diagnostics.psis`;
  Yao, Vehtari, Simpson, Gelman, "Yes, but did it work?", ICML 2018): above 0.7 the weights
  have (nearly) infinite variance.
- Whether reweighting moves q's moments: per coordinate, the PSIS mean m_w = sum_s w_s x_s
  against q's sample mean m_q, with the Monte Carlo error of the difference
  sum_s (w_s - 1/S) (x_s - m_w), se = sqrt(sum_s (w_s - 1/S)^2 (x_s - m_w)^2) (the delta
  method for self-normalised importance sampling), and likewise the variances. A move counts
  when it exceeds 2 se plus a floor of 0.1 q-sd for the mean, 10% for the sd (what
  bench/accuracy.py resolves; its bars are 0.3 sd and [0.8, 1.25]).

The verdict ("kind"):
- "good": k-hat <= 0.7 and the moments do not move;
- "reweight": k-hat <= 0.7 but they move: q is off, and PSIS resampling corrects it, provided
  the relative ESS is at least 0.1 and no sd grows under reweighting (an importance proposal
  must not be narrower than the target: where q is, the posterior's tails go unseen). k-hat's
  own sampling error is about 0.2 at S = 1000: a meanfield q on a posterior correlated at
  0.999 reads 0.5-1.1; failing either proviso, the verdict is "miss";
- "light_tails": k-hat > 0.7, yet the moments do not move and the weights are not dominated by
  a few draws (relative ESS >= 0.25): q's tails are lighter than the posterior's, its means and
  sds are fine (a coin's posterior in logit space);
- "miss": k-hat > 0.7 and the moments move or a few draws carry the weight: the draws miss
  the posterior;
- "no_finite": no draw has a finite log weight.

Meanfield cannot represent correlations: at the mode, with Sigma = (-H)^-1, meanfield's sd of
coordinate i is 1 / sqrt(-H_ii) and the posterior's sqrt(Sigma_ii); `meanfield_warning`
speaks when their ratio falls under 0.8 for some i (the accuracy bar), unless LRVB corrected it.

    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(size=(1000, 1))
    >>> lp = -0.5 * x[:, 0] ** 2
    >>> judge(x, lp, lp, family="fullrank").kind
    'good'
"""
import math
from dataclasses import dataclass

import numpy as np

from .diagnostics import KHAT_BAD, psis

__all__ = ["Verdict", "judge", "meanfield_warning", "KHAT_OK"]

KHAT_OK = KHAT_BAD     # Yao et al. 2018: above it the weights are unreliable
_MEAN_FLOOR = 0.1      # a reweighted mean within 0.1 q-sd (+ 2 se) has not moved
_SD_FLOOR = 0.1        # a reweighted sd within 10% (+ 2 se) has not moved
_ESS_LIGHT = 0.25      # relative ESS above which a high k-hat is a tail, not a miss
_ESS_REWEIGHT = 0.1    # below this relative ESS, reweighting rests on too few draws
_MF_RATIO = 0.8        # meanfield sd / posterior sd below this: warn
_LOWRANK_FROM = 50     # above this D the remedy is lowrank, not fullrank (ppl.dadvi's limit)


@dataclass(frozen=True, repr=False)
class Verdict:
    """kind: "good", "reweight", "light_tails", "miss" or "no_finite" (module docstring);
    khat; ess: PSIS effective sample size 1 / sum w^2; draws: S; shift: (D,) (m_w - m_q) / q-sd;
    sd_ratio: (D,) reweighted sd / q's sd; message and hint: in words; warning: the meanfield
    correlation warning or ""."""
    kind: str
    khat: float
    ess: float
    draws: int
    shift: np.ndarray
    sd_ratio: np.ndarray
    message: str
    hint: str
    warning: str = ""

    @property
    def reliable(self):
        """Whether q's means and sds can be used as they are ("good" or "light_tails")."""
        return self.kind in ("good", "light_tails")

    def __str__(self):
        return " ".join(s for s in (self.message, self.hint, self.warning) if s)

    def __repr__(self):
        return f"Verdict({self.kind!r}, k-hat {self.khat:.2f}: {self}"[:300] + ")"


def _remedies(family, lrvb, method, reparam="none", dim=0):
    """Remedies that exist for this fit (`method` "advi", "dadvi" or "laplace"), most useful
    first: never fullrank to a fullrank fit, nor more steps to a fit that has none; above
    `_LOWRANK_FROM` parameters (dim) the low-rank family instead of fullrank (stochastic
    fullrank on stochastic volatility's 503 stopped 31 sd off, lowrank is within 0.2).
    reparam: "learned" (the fit's centredness was learned, `ppl.centring`), "available" (the
    model has sites it could learn one for) or "none"."""
    out = []
    richer = ("family='lowrank' (a diagonal plus low-rank covariance by deterministic ADVI)"
              if dim > _LOWRANK_FROM else "family='fullrank'")
    if method == "laplace":
        out.append("ppl.dadvi or ppl.advi (the posterior is far from Gaussian at its mode)")
    if family == "meanfield" and not lrvb:
        out += ["linear-response covariances (ppl.dadvi(..., lrvb=True))", richer]
    elif family == "meanfield" or family == "fullrank" and dim > _LOWRANK_FROM:
        out.append(richer)
    elif family == "lowrank":
        out.append("a larger rank (rank=...)" + (" or family='fullrank'" if dim <= _LOWRANK_FROM
                                                  else ""))
    if method == "dadvi":
        out.append("more fixed draws (draws=...)")
    elif method == "advi":
        out.append("more steps (a smaller tol_rel_obj)")
    if reparam == "available":
        out.append("learned centring (centring='learn')")
    elif reparam == "learned":
        out.append("a sampler (NUTS in Stan, PyMC or NumPyro): with its centredness learned "
                   "the posterior is still not Gaussian in the unconstrained space (a funnel "
                   "at small data, a heavy or skewed tail); a normalising-flow family would "
                   "bend q to it (not in Wengert yet)")
    else:
        out.append("a reparameterisation (e.g. non-centred hierarchical scales, centred and "
                   "scaled predictors)")
    return out


def meanfield_warning(hessian, lrvb=False):
    """"" or a warning that meanfield's sds are too small at the mode: min_i of
    (1 / sqrt(-H_ii)) / sqrt([(-H)^-1]_ii) < 0.8 (correlations it cannot represent)."""
    if lrvb or hessian is None:
        return ""
    H = np.asarray(hessian, dtype=float)
    try:
        sigma = np.linalg.inv(-H)
    except np.linalg.LinAlgError:
        return ""
    d, s = -np.diag(H), np.diag(sigma)
    if not (np.all(d > 0) and np.all(s > 0)):
        return ""
    ratio = 1.0 / np.sqrt(d * s)
    i = int(np.argmin(ratio))
    if ratio[i] >= _MF_RATIO:
        return ""
    c = sigma / np.sqrt(np.outer(s, s))
    np.fill_diagonal(c, 0.0)
    return (f"Meanfield cannot represent the posterior's correlations (up to "
            f"{np.max(np.abs(c)):.3f} at the mode): its sd of coordinate {i} is "
            f"{ratio[i]:.2f} of the posterior's there; use ppl.dadvi(..., lrvb=True) or "
            "family='fullrank'.")


def judge(draws, log_p, log_q, family="meanfield", lrvb=False, method="dadvi",
          hessian=None, reparam="none"):
    """The `Verdict` on q from its draws (S, D), log p (S,) and log q (S,) (module docstring).
    family, lrvb, method, reparam (`_remedies`): what the fit was, to name only remedies that
    exist for it;
    hessian: (D, D) of log p at the mode, for the meanfield warning. Never raises on
    non-finite values: NaN log p counts as a draw of zero weight."""
    x = np.asarray(draws, dtype=float)
    lp, lq = np.asarray(log_p, dtype=float), np.asarray(log_q, dtype=float)
    if x.ndim != 2 or lp.shape != (len(x),) or lq.shape != (len(x),):
        raise ValueError(f"judge: draws must be (S, D) and log_p, log_q (S,), got "
                         f"{x.shape}, {lp.shape}, {lq.shape}")
    S, D = x.shape
    if S < 21:
        raise ValueError(f"judge: at least 21 draws are needed for k-hat, got {S}")
    warning = meanfield_warning(hessian, lrvb) if family == "meanfield" else ""
    remedies = _remedies(family, lrvb, method, reparam, D)
    with np.errstate(all="ignore"):
        lw = lp - lq
    lw = np.where(np.isnan(lw) | np.isposinf(lw), -np.inf, lw)
    nan = np.full(D, np.nan)
    if not np.isfinite(lw).any():
        return Verdict("no_finite", math.inf, 0.0, S, nan, nan,
                       f"k-hat: none of the {S} draws of q has a finite log density under "
                       "the model: q sits where the posterior has no mass (or it is "
                       "improper).",
                       "Try: " + "; ".join(remedies) + ".", warning)
    lws, k = psis(lw)
    w = np.exp(lws)
    ess = float(1.0 / np.sum(w ** 2))
    m_q, sd_q = x.mean(axis=0), x.std(axis=0)
    sd_q = np.where(sd_q > 0, sd_q, 1.0)
    m_w = w @ x
    r = x - m_w
    v_w = w @ r ** 2
    dw = (w - 1.0 / S)[:, None]
    se_m = np.sqrt(np.sum(dw ** 2 * r ** 2, axis=0))
    se_v = np.sqrt(np.sum(dw ** 2 * (r ** 2 - v_w) ** 2, axis=0))
    shift = (m_w - m_q) / sd_q
    ratio = np.sqrt(v_w) / sd_q
    moved_m = np.abs(shift) > 2.0 * se_m / sd_q + _MEAN_FLOOR
    moved_s = np.abs(ratio - 1.0) > 2.0 * se_v / (2.0 * sd_q ** 2) + _SD_FLOOR
    moved = moved_m | moved_s
    widened = moved_s & (ratio > 1.0)      # q narrower than the posterior: tails unseen
    worst = (f"reweighting moves the means by up to {np.max(np.abs(shift)):.2f} of q's sd "
             f"and the sds by a factor {np.min(ratio):.2f}..{np.max(ratio):.2f}")
    head = f"PSIS k-hat {k:.2f}, ESS {ess:.0f} of {S}"
    if k <= KHAT_OK and not moved.any():
        kind, msg, hint = "good", f"{head}: q agrees with the posterior.", ""
    elif k <= KHAT_OK and ess >= _ESS_REWEIGHT * S and not widened.any():
        kind = "reweight"
        msg = f"{head}: {worst} (beyond their Monte Carlo error), q is off."
        hint = ("The weights are reliable: PSIS resampling corrects it "
                "(fit.resample = True; ppl.dadvi's default).")
    elif not moved.any() and ess >= _ESS_LIGHT * S:
        kind = "light_tails"
        msg = (f"{head}: q's tails are lighter than the posterior's, but reweighting moves no "
               "mean or sd beyond its Monte Carlo error: means and sds are fine; tail "
               "probabilities and extreme quantiles are not.")
        hint = ""
    else:
        kind = "miss"
        why = worst if moved.any() else f"a few draws carry the weight (ESS {ess:.0f})"
        msg = f"{head}: the draws miss the posterior ({why}); q's moments are unreliable."
        hint = "Try: " + "; ".join(remedies) + "."
    return Verdict(kind, float(k), ess, S, shift, ratio, msg, hint, warning)
