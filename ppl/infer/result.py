"""`VIResult`: a Gaussian approximation q in a model's unconstrained space, and what it gives.

q(zeta) = N(mu, L L^T) over the flat unconstrained vector zeta (meanfield: L = diag(exp(omega))).
Draws are zeta = mu + L eps, eps ~ N(0, I), mapped to the constrained space by the model's
bijectors (theta = T(zeta), deterministic sites included), so every summary here is a Monte
Carlo summary of T_#q. ADVI (`ppl.advi`), deterministic ADVI (`ppl.dadvi`) and the Laplace
approximation (`ppl.laplace`) return one, with their own diagnostics in `fit.diagnostics`
(`AdviDiagnostics`, `DadviDiagnostics`, `LaplaceDiagnostics`); so can a user, from known
mu/omega/L. Every fit has a verdict (`fit.verdict`, `verdict.judge`: k-hat and whether PSIS
reweighting moves the moments, with a remedy that exists for this fit), and can have its draws
PSIS-resampled (`fit.resample = True`; ppl.dadvi's default), which the summaries then say:

    >>> import numpy as np, ppl
    >>> from ppl import dist
    >>> @ppl.model
    ... def scale():
    ...     ppl.sample("s", dist.HalfNormal(1.0))
    >>> fit = VIResult(scale(), "meanfield", mu=np.array([0.0]), omega=np.array([-3.0]), seed=0)
    >>> round(float(fit.mean["s"]), 2)              # E exp(N(0, e^-6)) = exp(e^-6 / 2)
    1.0
    >>> fit.sample(5, seed=1)["s"].shape
    (5,)
"""
import copy
import functools
import math
import operator
import warnings

import numpy as np

import autodiff as ad
from autodiff import getval

from ..distributions.base import validation_enabled
from ..model import Model
from . import plots
from .plots import elements
from .families import Gaussian
from .objective import LogDensity
from .records import RECORDS, AdviDiagnostics, DadviDiagnostics, ElboHistory, LaplaceDiagnostics
from .resample import psis_resample
from .verdict import judge

__all__ = ["VIResult", "ElboHistory", "AdviDiagnostics", "LaplaceDiagnostics",
           "DadviDiagnostics"]

def _check_draws(draws):
    if isinstance(draws, bool):
        raise ValueError(f"draws must be a positive integer, got {draws!r}")
    try:
        n = operator.index(draws)
    except TypeError:
        raise ValueError(f"draws must be a positive integer, got {draws!r}") from None
    if n < 1:
        raise ValueError(f"draws must be a positive integer, got {draws!r}")
    return n


def _vector(x, name, d):
    a = np.asarray(getval(x), dtype=float)
    if a.shape != (d,):
        raise ValueError(f"{name} must have shape ({d},) (the model's num_params), "
                         f"got shape {a.shape}")
    return a.copy()


def _fmt(v):
    """A table cell: 3 decimals for moderate magnitudes, 3 significant digits otherwise."""
    return f"{v:>10.3f}" if v == 0 or 0.01 <= abs(v) < 1e6 else f"{v:>10.3g}"


class VIResult:
    """A fitted Gaussian q(zeta) = N(mu, L L^T) in `model`'s unconstrained space.

    model: the bound ppl.Model; family: "meanfield", "fullrank" or "lowrank"; mu, omega: (D,)
    arrays (omega = log diag of the scale: log sigma for meanfield); L: (D, D)
    lower-triangular with diag exp(omega) (lowrank: the Cholesky factor of its covariance),
    None for meanfield. `diagnostics`: the method's own record
    (`AdviDiagnostics`, the default, `DadviDiagnostics` or `LaplaceDiagnostics`); its fields
    read as attributes (`fit.eta`, `fit.elbo_history`; `fit.log_density` of a Laplace fit,
    `fit.draws` of a DADVI one). `resample`: draws PSIS-resampled (see `sample_unconstrained`).
    `converged`,
    `stop_reason` and `info` say how the fit went; `seed` is the default seed of every method
    that draws, so `mean`, `sd`, `to_arviz()` and `summary_text()` agree with each other.
    """

    def __init__(self, model, family, mu, omega, L=None, *, diagnostics=None, converged=True,
                 stop_reason="", seed=None, info=None, resample=False):
        if not isinstance(model, Model):
            raise TypeError(f"model must be a bound ppl.Model, got {type(model).__name__}")
        if family not in ("meanfield", "fullrank", "lowrank"):
            raise ValueError(f"family must be 'meanfield', 'fullrank' or 'lowrank', got "
                             f"{family!r}")
        if diagnostics is None:
            diagnostics = AdviDiagnostics()
        if not isinstance(diagnostics, RECORDS):
            raise TypeError(f"diagnostics must be an AdviDiagnostics, DadviDiagnostics or "
                            f"LaplaceDiagnostics, got {type(diagnostics).__name__}")
        d = model.num_params
        self.model, self.family, self.diagnostics = model, family, diagnostics
        self.mu, self.omega = _vector(mu, "mu", d), _vector(omega, "omega", d)
        if family == "meanfield":
            if L is not None:
                raise ValueError("L must be None for family='meanfield' (the scale is "
                                 "diag(exp(omega)))")
            self._L = None
        else:
            self._L = self._check_L(L, d)
        self.q = Gaussian(self.mu, self.omega, self._L)
        self.converged, self.stop_reason = bool(converged), str(stop_reason)
        self.seed, self.info = seed, dict(info or {})
        self._resample, self._resampled = bool(resample), None

    @property
    def method(self):
        """"advi", "dadvi" or "laplace": what made the fit (from its diagnostics record)."""
        return self.diagnostics.method

    def __getattr__(self, name):
        # the method's own diagnostics read as attributes: fit.eta, fit.elbo_history, ...
        diagnostics = self.__dict__.get("diagnostics")
        kind = type(diagnostics)
        if diagnostics is not None and (name in kind.__dataclass_fields__ or
                                        isinstance(getattr(kind, name, None), property)):
            return getattr(diagnostics, name)
        raise AttributeError(f"{type(self).__name__} of method "
                             f"{getattr(diagnostics, 'method', '?')!r} has no attribute "
                             f"{name!r}")

    def _check_L(self, L, d):
        if L is None:
            raise ValueError(f"family={self.family!r} needs L, the (D, D) lower-triangular "
                             "scale")
        L = np.asarray(getval(L), dtype=float)
        if L.shape != (d, d):
            raise ValueError(f"L must have shape ({d}, {d}), got shape {L.shape}")
        if np.any(np.triu(L, 1) != 0):
            raise ValueError("L must be lower-triangular (it has entries above the diagonal)")
        diag = np.diag(L)
        if not np.all(diag > 0):
            raise ValueError(f"L must have a positive diagonal, got {diag}")
        if not np.allclose(np.log(diag), self.omega, rtol=1e-6, atol=1e-9):
            raise ValueError(f"omega must be log(diag(L)) for family={self.family!r}")
        return L.copy()

    # ---- q itself -----------------------------------------------------------------------------
    @property
    def L(self):
        """The (D, D) scale matrix of q: L (fullrank) or diag(exp(omega)) (meanfield)."""
        return np.diag(np.exp(self.omega)) if self._L is None else self._L.copy()

    @property
    def params(self):
        """{"mu", "omega"} (meanfield) or {"mu", "L"} (fullrank), as copies."""
        if self._L is None:
            return {"mu": self.mu.copy(), "omega": self.omega.copy()}
        return {"mu": self.mu.copy(), "L": self._L.copy()}

    def _rng(self, seed):
        seed = self.seed if seed is None else seed
        return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)

    @property
    def resample(self):
        """Whether draws (and so `mean`, `sd`, the summaries, `to_arviz`) are PSIS-resampled
        from q (see `sample_unconstrained`); settable on any fit (ppl.dadvi's default: on)."""
        return self._resample

    @resample.setter
    def resample(self, on):
        if not isinstance(on, (bool, np.bool_)):
            raise TypeError(f"resample must be True or False, got {on!r}")
        self._resample = bool(on)
        self.__dict__.pop("_default_draws", None)

    @property
    def resampled(self):
        """What the last draws were: None (q's own, resample off), else in words ("PSIS-
        resampled 1000 of 4000 draws (k-hat 0.41, ESS 2650)" or why not)."""
        return self._resampled

    def sample_unconstrained(self, draws=1000, seed=None):
        """(draws, D) draws zeta = mu + L eps of q (meanfield: mu + exp(omega) * eps); with
        `resample` on, `draws` of 4 x draws of q resampled in proportion to their PSIS weights
        p / q when k-hat < 0.7 (as Stan's Pathfinder), else q's own (`resampled` says which).
        """
        n = _check_draws(draws)
        if not self._resample:
            return self.q.sample(self._rng(seed), n)
        zeta, lp, lq, rng = self._draws_of_q(4 * n, seed)
        r = psis_resample(zeta, lp, lq, n, seed=rng)
        self._resampled = r.message
        return r.draws

    def _draws_of_q(self, count, seed):
        """`count` draws of q with log p and log q, and the generator as it stands after
        drawing them (a copy each call, so that resampling twice picks the same rows): the
        draws behind resampled summaries (4 n for n) and `judge(count)` alike, so that the
        verdict and the resampling share one k-hat. The last (count, seed) is kept."""
        key = (count, seed if seed is not None else self.seed)
        cached = self.__dict__.get("_weights")
        if cached is None or cached[0] != key:
            rng = self._rng(seed)
            zeta = self.q.sample(rng, count)
            entry = (zeta, self._log_p(zeta), self.log_q(zeta), rng)
            if isinstance(seed, np.random.Generator) or (seed is None and self.seed is None):
                return entry                 # a generator, or no seed: fresh draws each time
            cached = self._weights = (key, entry)
        zeta, lp, lq, rng = cached[1]
        return zeta, lp, lq, copy.deepcopy(rng)

    def log_q(self, zeta):
        """log N(zeta | mu, L L^T) = -|L^{-1}(zeta - mu)|^2 / 2 - sum(omega) - D/2 log 2 pi,
        for zeta of shape (D,) (a float) or (n, D) (an (n,) array)."""
        z = np.asarray(getval(zeta), dtype=float)
        if z.ndim not in (1, 2) or z.shape[-1] != self.mu.size:
            raise ValueError(f"zeta must have shape ({self.mu.size},) or (n, {self.mu.size}), "
                             f"got shape {z.shape}")
        return self.q.log_q(z)

    def _log_p(self, zeta):
        """log p(x, T(zeta)) + log|det J_T(zeta)| per row: full data, no tape, no validation
        (draws are in the support by construction); NaN where the density is undefined. One
        batched pass of the density compiled once per result (`_density`), checked against
        the model at the first 3 rows; the model row by row where it cannot be compiled or
        disagrees. Data on disk: every draw in one map-reduce pass over the chunks."""
        zeta = np.asarray(zeta, dtype=float)
        if self.model.layouts:
            with validation_enabled(False):
                return np.asarray(self.model.full_log_density(zeta), dtype=float)
        return self._density(zeta[0] if len(zeta) else None).evaluate(zeta)

    def _density(self, z):
        """The model's `LogDensity` for this result, compiled at z the first time (no probe
        points: the first 3 rows of each evaluation are checked against the model instead)."""
        density = self.__dict__.get("_log_density")
        if density is None:
            density = self._log_density = LogDensity(self.model, audit_draws=3)
        if z is not None and density.replay_note == "no: not recorded":
            density.record(z, probes=0)
        return density

    def _constrain(self, zeta):
        """Constrained draws of every latent and deterministic site: name -> (n, *shape).
        Without validation, as during the fit: a draw of q may give a distribution parameters
        it rejects (a covariance not positive definite) though the draw itself is fine."""
        with validation_enabled(False), ad.no_grad():
            rows = [self.model.constrain(z) for z in zeta]
        return {n: np.stack([r[n] for r in rows]) for n in rows[0]}

    # ---- draws and their summaries ------------------------------------------------------------
    def sample(self, draws=1000, seed=None):
        """`draws` draws of T(zeta), zeta ~ q: dict site -> array (draws, *site shape), latent
        and deterministic sites. seed=None uses the result's `seed` (fresh when that is None).
        """
        return self._constrain(self.sample_unconstrained(draws, seed))

    @functools.cached_property
    def _default_draws(self):
        return self.sample(1000, seed=self.seed)

    @property
    def mean(self):
        """Posterior means by site (from 1000 draws with the result's seed)."""
        return {n: a.mean(axis=0) for n, a in self._default_draws.items()}

    @property
    def sd(self):
        """Posterior standard deviations by site (the same 1000 draws as `mean`)."""
        return {n: a.std(axis=0, ddof=1) for n, a in self._default_draws.items()}

    def summary_text(self, draws=1000, seed=None, max_rows=None, note=""):
        """A plain-text table: one row per scalar element (`theta[0]`), columns mean, sd
        (ddof=1) and the 5%, 50%, 95% quantiles of the draws. Imports neither arviz nor scipy.

        With `max_rows`, a site of more elements shows its first `max_rows` and a line saying
        how many it has (`h: 500 elements, 10 shown`, then `; note` when given).
        """
        if max_rows is not None and (isinstance(max_rows, bool) or int(max_rows) != max_rows
                                     or max_rows < 1):
            raise ValueError(f"summary_text: max_rows must be a positive integer or None, got "
                             f"{max_rows!r}")
        rows = []
        for name, a in self.sample(draws, seed).items():
            rows_of = elements(name, a)
            for label, x in rows_of[:max_rows]:
                sd = float(np.std(x, ddof=1)) if x.size > 1 else float("nan")
                rows.append((label, float(np.mean(x)), sd, *np.quantile(x, [0.05, 0.5, 0.95])))
            if max_rows is not None and len(rows_of) > max_rows:
                rows.append(f"{name}: {len(rows_of)} elements, {int(max_rows)} shown"
                            + (f"; {note}" if note else ""))
        width = max([len(r[0]) for r in rows if not isinstance(r, str)] + [4])
        head = f"{'':<{width}} " + " ".join(f"{c:>10}" for c in
                                             ("mean", "sd", "5%", "50%", "95%"))
        lines = [r if isinstance(r, str)
                 else f"{r[0]:<{width}} " + " ".join(_fmt(v) for v in r[1:]) for r in rows]
        if self._resample:      # the table is of reweighted draws: say so
            lines.append(f"({self._resampled})")
        return "\n".join([head, *lines])

    # ---- diagnostics --------------------------------------------------------------------------
    def judge(self, draws=1000, seed=None):
        """The `verdict.Verdict` on q from `draws` draws of q itself (never resampled): PSIS
        k-hat of log p - log q (Yao et al., ICML 2018; log p the unconstrained density,
        Jacobian included, all the data), whether reweighting moves q's means and sds beyond
        their Monte Carlo error, and a remedy that exists for this fit. `judge(4 * n, seed)`
        sees the very draws that resampled summaries of n draws come from (the first n of
        them are q's own summaries). Never raises on draws without a finite density (kind
        "no_finite")."""
        n = _check_draws(draws)
        if n < 21:
            raise ValueError(f"draws must be at least 21 for k-hat (its Pareto tail, the "
                             f"largest ceil(draws / 5), needs 5 draws), got {draws!r}")
        zeta, lp, lq, _ = self._draws_of_q(n, seed)
        d = self.diagnostics
        hessian = getattr(d, "hessian", None)
        if isinstance(d, DadviDiagnostics):
            hessian = d.start.hessian if d.start is not None and d.start.ok else None
        return judge(zeta, lp, lq, getattr(d, "q_family", self.family),
                     getattr(d, "lrvb", None) is not None, self.method, hessian,
                     self._reparam())

    def _reparam(self):
        """"learned" when the fit's model is centred, "available" when it has sites partial
        centring applies to, else "none" (for the verdict's remedies)."""
        from ..centring import dependent_sites  # noqa: PLC0415
        if self.model.centring:
            return "learned"
        try:
            if any(dependent_sites(self.model)):
                return "available"
        except Exception:   # noqa: BLE001 -- a model that cannot run on a Tensor: no remedy
            pass
        return "none"

    @functools.cached_property
    def verdict(self):
        """The fit's `Verdict`: `judge(4000)` with the result's seed, the draws that its default
        summaries (`mean`, `sd`: 1000 draws, resampled or not) come from: one k-hat for the
        verdict, the resampling and the table."""
        return self.judge(4000, self.seed)

    def psis_khat(self, draws=1000, seed=None):
        """The Pareto k-hat of the importance ratios log p(zeta) - log q(zeta), zeta ~ q, from
        `judge`: warns with the verdict when q's moments are unreliable (not on a k-hat above
        0.7 whose reweighting moves no mean or sd: tails lighter than the posterior's). When
        no draw has a finite log p there is no k-hat: warns so and returns NaN."""
        v = self.judge(draws, seed)
        if not v.reliable:
            text = str(v)
            warnings.warn(text if text.startswith("PSIS") else f"PSIS {text}", UserWarning,
                          stacklevel=2)
        return math.nan if v.kind == "no_finite" else v.khat

    # ---- ArviZ --------------------------------------------------------------------------------
    def _dims(self, draws):
        """Dim names per site (plate name, else '<site>_dim_<i>') and coords of the plates,
        from one traced run of the model at the first draw."""
        from .. import handlers  # noqa: PLC0415
        point = {n: draws[n][0] for n in self.model.parameters}
        with ad.no_grad():
            sites = self.model._run(handlers.substitute(point))
        dims, coords = {}, {}
        for name, msg in sites.items():
            if msg["type"] not in ("sample", "deterministic"):
                continue
            shape = np.shape(getval(msg["value"]))
            # a distribution's plate axes sit in its batch shape; a deterministic's are taken
            # to be its trailing axes
            full = len(msg["fn"].shape()) if msg["fn"] is not None else len(shape)
            batch = len(msg["fn"].batch_shape) if msg["fn"] is not None else len(shape)
            names = [f"{name}_dim_{i}" for i in range(len(shape))]
            for p in msg["plates"]:
                axis = batch + p.dim - (full - len(shape))
                if 0 <= axis < len(shape) and shape[axis] == p.size:
                    names[axis] = p.name
                    coords[p.name] = np.arange(p.size)
            if names:
                dims[name] = names
        return dims, coords

    def to_arviz(self, draws=1000, seed=None):
        """An ArviZ object (DataTree on ArviZ 1.x, InferenceData on 0.23) with groups posterior
        (chain=1, draw; plate axes named after their plates), observed_data (the data in
        memory; sites whose data stay on disk are named in the attribute `observed_on_disk`,
        not copied into memory), sample_stats
        (`lp` = log p(x, T(zeta)) + log|det J|, `log_q`) and `elbo_history` (when there is
        one). Save it with `ppl._arviz.to_netcdf(obj, path)`."""
        from .. import _arviz  # noqa: PLC0415
        zeta = self.sample_unconstrained(draws, seed)
        post = self._constrain(zeta)
        dims, coords = self._dims(post)
        observed = {n: np.asarray(getval(v)) for n, v in self.model.observed.items()}
        stats = {"lp": self._log_p(zeta)[None], "log_q": self.log_q(zeta)[None]}
        attrs = {"inference_library": "wengert", "model": self.model.name,
                 "method": self.method, "family": self.family, "converged": self.converged,
                 "stop_reason": self.stop_reason, **self.diagnostics.attrs(),
                 "resampled": self._resampled or "no", "verdict": str(self.verdict),
                 "observed_on_disk": ", ".join(getattr(self.model, "observed_on_disk", ()))
                 or "none",
                 "seed": self.seed if isinstance(self.seed, int) else None}
        return _arviz.to_arviz({n: a[None] for n, a in post.items()}, observed, stats,
                               getattr(self.diagnostics, "elbo_history", None), dims, coords,
                               attrs)

    def summary(self, draws=1000, seed=None, **kwargs):
        """ArviZ's summary table (pandas DataFrame) of `to_arviz(draws, seed)`; keywords go
        to arviz.summary (default kind="stats": mean, sd and an interval)."""
        from .. import _arviz  # noqa: PLC0415
        return _arviz.summary(self.to_arviz(draws, seed), **kwargs)

    # ---- pictures -----------------------------------------------------------------------------
    def plot_elbo(self, path):
        """Write a PNG of the ELBO against the iteration (a symlog axis when it spans orders
        of magnitude). Needs matplotlib; returns str(path)."""
        return plots.plot_elbo(self, path)

    def plot_posterior(self, path, draws=1000, seed=None):
        """Write a PNG grid of histograms of the draws, one panel per scalar element (the
        first 16). Needs matplotlib; returns str(path)."""
        return plots.plot_posterior(self, path, draws, seed)

    def __repr__(self):
        state = "converged" if self.converged else "not converged"
        last = ""
        if self.method == "laplace":
            return (f"VIResult(laplace, {self.model.name}: {self.mu.size} params, Gaussian at "
                    f"the unconstrained mode)")
        if self.method == "dadvi":
            d = self.diagnostics
            lr = " + LRVB" if d.lrvb else ""
            return (f"VIResult(dadvi {d.q_family}{lr}, {self.model.name}: {self.mu.size} "
                    f"params, {state}, M={d.draws})")
        if self.elbo_history is not None and len(self.elbo_history.elbo):
            last = f", ELBO {self.elbo_history.elbo[-1]:.4g}"
        return (f"VIResult({self.method} {self.family}, {self.model.name}: {self.mu.size} "
                f"params, {state} after {self.steps} steps{last})")
