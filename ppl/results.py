"""`VIResult`: a Gaussian approximation q in a model's unconstrained space, and what it gives.

q(zeta) = N(mu, L L^T) over the flat unconstrained vector zeta (meanfield: L = diag(exp(omega))).
Draws are zeta = mu + L eps, eps ~ N(0, I), mapped to the constrained space by the model's
bijectors (theta = T(zeta), deterministic sites included), so every summary here is a Monte
Carlo summary of T_#q. ADVI (`ppl.advi`) and the Laplace approximation (`ppl.laplace`) return
one; so can a user, from known mu/omega/L:

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
import functools
import math
import operator
import warnings
from collections import namedtuple

import numpy as np

import autodiff as ad
from autodiff import getval

from .distributions.base import validation_enabled
from .model import Model
from .psis import psis

__all__ = ["VIResult", "ElboHistory"]

ElboHistory = namedtuple("ElboHistory", ["iteration", "elbo"])
ElboHistory.__doc__ = "The ELBO estimates of a fit: `iteration` (int array) and `elbo` (float)."

_LOG_2PI = math.log(2.0 * math.pi)
_KHAT_BAD = 0.7          # Yao et al. 2018: above this the approximation is unreliable
_MAX_PANELS = 16         # plot_posterior draws at most this many scalar elements


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


def _elements(name, a):
    """(label, column) for each scalar element of draws `a` of shape (draws, *shape)."""
    flat = a.reshape(a.shape[0], -1)
    if a.ndim == 1:
        return [(name, flat[:, 0])]
    return [(f"{name}[{','.join(map(str, idx))}]", flat[:, i])
            for i, idx in enumerate(np.ndindex(*a.shape[1:]))]


def _fmt(v):
    """A table cell: 3 decimals for moderate magnitudes, 3 significant digits otherwise."""
    return f"{v:>10.3f}" if v == 0 or 0.01 <= abs(v) < 1e6 else f"{v:>10.3g}"


def _needs_matplotlib(what):
    try:
        from matplotlib.figure import Figure  # noqa: PLC0415 -- lazy: plots are optional
    except ImportError as e:
        raise ImportError(f"{what} needs matplotlib: pip install matplotlib "
                          "(or pip install 'wengert[examples]')") from e
    return Figure


class VIResult:
    """A fitted Gaussian q(zeta) = N(mu, L L^T) in `model`'s unconstrained space.

    model: the bound ppl.Model; family: "meanfield" or "fullrank"; mu, omega: (D,) arrays
    (omega = log diag of the scale: log sigma for meanfield); L: (D, D) lower-triangular with
    diag exp(omega) for fullrank, None for meanfield. The keywords record how the fit went
    (see the attributes of the same names); `seed` is the default seed of every method that
    draws, so `mean`, `sd`, `to_arviz()` and `summary_text()` agree with each other.
    """

    def __init__(self, model, family, mu, omega, L=None, *, method="advi", elbo_history=None,
                 converged=True, stop_reason="", eta=None, optimizer=None, steps=0, skipped=0,
                 rhat=float("nan"), seed=None, info=None):
        if not isinstance(model, Model):
            raise TypeError(f"model must be a bound ppl.Model, got {type(model).__name__}")
        if family not in ("meanfield", "fullrank"):
            raise ValueError(f"family must be 'meanfield' or 'fullrank', got {family!r}")
        if method not in ("advi", "laplace"):
            raise ValueError(f"method must be 'advi' or 'laplace', got {method!r}")
        d = model.num_params
        self.model, self.family, self.method = model, family, method
        self.mu, self.omega = _vector(mu, "mu", d), _vector(omega, "omega", d)
        if family == "meanfield":
            if L is not None:
                raise ValueError("L must be None for family='meanfield' (the scale is "
                                 "diag(exp(omega)))")
            self._L = None
        else:
            self._L = self._check_L(L, d)
        self.elbo_history = None if elbo_history is None else self._check_history(elbo_history)
        self.converged, self.stop_reason = bool(converged), str(stop_reason)
        self.eta, self.optimizer = eta, optimizer
        self.steps, self.skipped, self.rhat = int(steps), int(skipped), float(rhat)
        self.seed, self.info = seed, dict(info or {})

    def _check_L(self, L, d):
        if L is None:
            raise ValueError("family='fullrank' needs L, the (D, D) lower-triangular scale")
        L = np.asarray(getval(L), dtype=float)
        if L.shape != (d, d):
            raise ValueError(f"L must have shape ({d}, {d}), got shape {L.shape}")
        if np.any(np.triu(L, 1) != 0):
            raise ValueError("L must be lower-triangular (it has entries above the diagonal)")
        diag = np.diag(L)
        if not np.all(diag > 0):
            raise ValueError(f"L must have a positive diagonal, got {diag}")
        if not np.allclose(np.log(diag), self.omega, rtol=1e-6, atol=1e-9):
            raise ValueError("omega must be log(diag(L)) for family='fullrank'")
        return L.copy()

    @staticmethod
    def _check_history(h):
        try:
            it, elbo = (np.asarray(a) for a in h)
        except (TypeError, ValueError):
            raise ValueError("elbo_history must be a pair (iterations, elbo values) or None, "
                             f"got {type(h).__name__}") from None
        if it.ndim != 1 or it.shape != elbo.shape:
            raise ValueError(f"elbo_history: iterations and ELBO values must be 1-D arrays of "
                             f"one length, got shapes {it.shape} and {elbo.shape}")
        return ElboHistory(it.astype(np.int64), elbo.astype(float))

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

    def sample_unconstrained(self, draws=1000, seed=None):
        """(draws, D) draws zeta = mu + L eps of q (meanfield: mu + exp(omega) * eps)."""
        eps = self._rng(seed).standard_normal((_check_draws(draws), self.mu.size))
        if self._L is None:
            return self.mu + eps * np.exp(self.omega)
        return self.mu + eps @ self._L.T

    def log_q(self, zeta):
        """log N(zeta | mu, L L^T) = -|L^{-1}(zeta - mu)|^2 / 2 - sum(omega) - D/2 log 2 pi,
        for zeta of shape (D,) (a float) or (n, D) (an (n,) array)."""
        z = np.asarray(getval(zeta), dtype=float)
        if z.ndim not in (1, 2) or z.shape[-1] != self.mu.size:
            raise ValueError(f"zeta must have shape ({self.mu.size},) or (n, {self.mu.size}), "
                             f"got shape {z.shape}")
        r = z - self.mu
        if self._L is None:
            eps = r * np.exp(-self.omega)
        else:
            from scipy.linalg import solve_triangular  # noqa: PLC0415 -- ppl loads it already
            eps = solve_triangular(self._L, r.T, lower=True).T
        out = -0.5 * np.sum(eps * eps, axis=-1) - np.sum(self.omega) - 0.5 * self.mu.size * \
            _LOG_2PI
        return float(out) if z.ndim == 1 else out

    def _log_p(self, zeta):
        """log p(x, T(zeta)) + log|det J_T(zeta)| per row: full data, no tape, no validation
        (draws are in the support by construction); NaN where the density is undefined."""
        if self.model.layouts:          # data on disk: every draw in one pass over the chunks
            with validation_enabled(False):
                return np.asarray(self.model.full_log_density(np.asarray(zeta)), dtype=float)
        out = np.empty(len(zeta))
        with ad.no_grad(), validation_enabled(False), np.errstate(all="ignore"):
            for i, z in enumerate(zeta):
                out[i] = float(getval(self.model.unconstrained_log_density(z)))
        return out

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
            elements = _elements(name, a)
            for label, x in elements[:max_rows]:
                sd = float(np.std(x, ddof=1)) if x.size > 1 else float("nan")
                rows.append((label, float(np.mean(x)), sd, *np.quantile(x, [0.05, 0.5, 0.95])))
            if max_rows is not None and len(elements) > max_rows:
                rows.append(f"{name}: {len(elements)} elements, {int(max_rows)} shown"
                            + (f"; {note}" if note else ""))
        width = max([len(r[0]) for r in rows if not isinstance(r, str)] + [4])
        head = f"{'':<{width}} " + " ".join(f"{c:>10}" for c in
                                             ("mean", "sd", "5%", "50%", "95%"))
        lines = [r if isinstance(r, str) else f"{r[0]:<{width}} " + " ".join(_fmt(v) for v in r[1:])
                 for r in rows]
        return "\n".join([head, *lines])

    # ---- diagnostics --------------------------------------------------------------------------
    def psis_khat(self, draws=1000, seed=None):
        """The Pareto k-hat of the importance ratios log p(zeta) - log q(zeta), zeta ~ q
        (Yao, Vehtari, Simpson, Gelman, "Yes, but did it work?", ICML 2018), with
        log p the unconstrained log density (Jacobian included, all the data). Warns above 0.7.
        A draw where log p is NaN counts as one of zero weight.
        """
        n = _check_draws(draws)
        if n < 21:
            raise ValueError(f"draws must be at least 21 for k-hat (its Pareto tail, the "
                             f"largest ceil(draws / 5), needs 5 draws), got {draws!r}")
        zeta = self.sample_unconstrained(n, seed)
        lw = self._log_p(zeta) - self.log_q(zeta)
        _, k = psis(np.where(np.isnan(lw), -np.inf, lw))
        if k > _KHAT_BAD:
            hint = ("the posterior is far from Gaussian at its mode; try ppl.advi" if
                    self.method == "laplace" else "try family='fullrank' or more steps (a "
                    "smaller tol_rel_obj)")
            warnings.warn(f"PSIS k-hat = {k:.2f} > {_KHAT_BAD}: the {self.method} "
                          f"{self.family} approximation is unreliable (its draws miss much of "
                          f"the posterior); {hint}", UserWarning, stacklevel=2)
        return k

    # ---- ArviZ --------------------------------------------------------------------------------
    def _dims(self, draws):
        """Dim names per site (plate name, else '<site>_dim_<i>') and coords of the plates,
        from one traced run of the model at the first draw."""
        from . import handlers  # noqa: PLC0415
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
        (chain=1, draw; plate axes named after their plates), observed_data, sample_stats
        (`lp` = log p(x, T(zeta)) + log|det J|, `log_q`) and `elbo_history` (when there is
        one). Save it with `ppl._arviz.to_netcdf(obj, path)`."""
        from . import _arviz  # noqa: PLC0415
        zeta = self.sample_unconstrained(draws, seed)
        post = self._constrain(zeta)
        dims, coords = self._dims(post)
        observed = {n: np.asarray(getval(v)) for n, v in self.model.observed.items()}
        stats = {"lp": self._log_p(zeta)[None], "log_q": self.log_q(zeta)[None]}
        attrs = {"inference_library": "wengert", "model": self.model.name,
                 "method": self.method, "family": self.family, "converged": self.converged,
                 "stop_reason": self.stop_reason, "eta": self.eta, "optimizer": self.optimizer,
                 "steps": self.steps, "skipped": self.skipped, "rhat": self.rhat,
                 "seed": self.seed if isinstance(self.seed, int) else None}
        return _arviz.to_arviz({n: a[None] for n, a in post.items()}, observed, stats,
                               self.elbo_history, dims, coords, attrs)

    def summary(self, draws=1000, seed=None, **kwargs):
        """ArviZ's summary table (pandas DataFrame) of `to_arviz(draws, seed)`; keywords go
        to arviz.summary (default kind="stats": mean, sd and an interval)."""
        from . import _arviz  # noqa: PLC0415
        return _arviz.summary(self.to_arviz(draws, seed), **kwargs)

    # ---- pictures -----------------------------------------------------------------------------
    def plot_elbo(self, path):
        """Write a PNG of the ELBO against the iteration (a symlog axis when it spans orders
        of magnitude). Needs matplotlib; returns str(path)."""
        if self.elbo_history is None or len(self.elbo_history.iteration) == 0:
            raise ValueError(f"plot_elbo: this {self.method} result has no ELBO history")
        Figure = _needs_matplotlib("plot_elbo")
        it, elbo = self.elbo_history
        fig = Figure(figsize=(6, 4))
        ax = fig.add_subplot()
        ax.plot(it, elbo, marker=".")
        finite = elbo[np.isfinite(elbo)]
        if finite.size and np.ptp(finite) > 100 * max(1.0, abs(finite[-1])):
            ax.set_yscale("symlog", linthresh=max(1.0, abs(finite[-1])))
        ax.set_xlabel("iteration")
        ax.set_ylabel("ELBO")
        ax.set_title(f"{self.model.name}: {self.method} {self.family}")
        fig.tight_layout()
        fig.savefig(str(path), dpi=100)
        return str(path)

    def plot_posterior(self, path, draws=1000, seed=None):
        """Write a PNG grid of histograms of the draws, one panel per scalar element (the
        first 16). Needs matplotlib; returns str(path)."""
        Figure = _needs_matplotlib("plot_posterior")
        panels = [p for n, a in self.sample(draws, seed).items() for p in _elements(n, a)]
        if not panels:
            raise ValueError(f"plot_posterior: model {self.model.name!r} has no sites to plot")
        shown = panels[:_MAX_PANELS]
        cols = min(4, len(shown))
        rows = -(-len(shown) // cols)
        fig = Figure(figsize=(3 * cols, 2.4 * rows))
        for i, (label, x) in enumerate(shown):
            ax = fig.add_subplot(rows, cols, i + 1)
            ax.hist(x, bins=40, density=True, color="C0", alpha=0.7)
            ax.axvline(float(np.mean(x)), color="C3")
            ax.set_title(label, fontsize=9)
            ax.tick_params(labelsize=7)
        more = f" (first {len(shown)} of {len(panels)})" if len(panels) > len(shown) else ""
        fig.suptitle(f"{self.model.name}: {self.method} {self.family}{more}", fontsize=10)
        fig.tight_layout()
        fig.savefig(str(path), dpi=100)
        return str(path)

    def __repr__(self):
        state = "converged" if self.converged else "not converged"
        last = ""
        if self.elbo_history is not None and len(self.elbo_history.elbo):
            last = f", ELBO {self.elbo_history.elbo[-1]:.4g}"
        if self.method == "laplace":
            return (f"VIResult(laplace, {self.model.name}: {self.mu.size} params, Gaussian at "
                    f"the unconstrained mode)")
        return (f"VIResult({self.method} {self.family}, {self.model.name}: {self.mu.size} "
                f"params, {state} after {self.steps} steps{last})")
