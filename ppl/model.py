"""`@ppl.model` and `Model`: a model function bound to its data, and its log densities.

The joint log density at constrained values theta (a dict, site name -> array) is

    log p(x, theta) = sum over sites s of scale_s * sum(log p_s(value_s | parents))

(plus every `factor`). Each latent site is mapped to R^n by `biject_to(site.support)`; with
z the flat vector of all unconstrained coordinates and theta = T(z),

    log p_unconstrained(z) = log p(x, T(z)) + sum over latent sites of log|det J_T(z_s)|.

Transforms are taken per run, from the support the site has in that run, so a bound that
depends on another parameter (Stan's `real<lower=0, upper=1-alpha1> beta1`) is handled.

    >>> import numpy as np, ppl
    >>> from ppl import dist
    >>> @ppl.model
    ... def coin(flips):
    ...     p = ppl.sample("p", dist.Beta(1.0, 1.0))
    ...     with ppl.plate("flips", len(flips)):
    ...         ppl.sample("y", dist.Bernoulli(probs=p), obs=flips)
    >>> m = coin(np.array([1.0, 0.0, 1.0, 1.0]))
    >>> m.parameters["p"].shape, m.num_params
    ((), 1)
    >>> round(float(m.log_density({"p": 0.75})), 4)   # 3 log(0.75) + log(0.25)
    -2.2493
"""
import copy
import functools
from dataclasses import dataclass

import numpy as np

import autodiff as ad
from autodiff import Tensor, getval

from . import centring, handlers, mapreduce
from .binding import blame_argument, check_arguments
from .primitives import _obs_shape_error
from .transforms import biject_to

__all__ = ["model", "Model", "ParamInfo"]


def model(fn):
    """Decorator: `fn(*data)` becomes a factory; calling it with data gives a bound Model."""
    @functools.wraps(fn)
    def bind(*args, **kwargs):
        return Model(fn, args, kwargs)
    bind.model_fn = fn
    return bind


@dataclass(frozen=True)
class ParamInfo:
    """A latent site: constrained `shape`, `constraint`, unconstrained `unconstrained_shape`
    (a simplex of K has K - 1 free coordinates), its `size` and `offset` in the flat vector."""
    name: str
    shape: tuple
    constraint: object
    unconstrained_shape: tuple
    size: int
    offset: int


def _check_obs_support(name, obs, fn):
    ok = np.asarray(fn.support.check(obs))
    if not ok.all():
        bad = np.asarray(obs)[~ok] if ok.shape == np.shape(obs) else np.empty(0)
        what = f" (e.g. {bad.ravel()[0].item()!r})" if bad.size else ""
        raise ValueError(f"site {name!r}: {int((~ok).sum())} observed value(s) outside the "
                         f"support {fn.support!r} of {fn!r}{what}")


def _total(x):
    """sum(x), without a tape entry when x is already a scalar."""
    nd = x.ndim if isinstance(x, (Tensor, np.ndarray)) else np.ndim(x)
    return x if nd == 0 else ad.sum(x)


def _add(total, x):
    """total + x, without a tape entry for the first term (total is the float 0.0)."""
    return x if type(total) is float and total == 0.0 else total + x


class _Unconstrained(handlers.Messenger):
    """Give each latent site the constrained image of its slice of z; record log|det J|."""

    def __init__(self, pieces, centring=None):
        super().__init__()
        self.pieces, self.centring = pieces, centring or {}
        self.log_det = 0.0

    def process(self, msg):
        if msg["type"] != "sample" or msg["is_observed"] or msg["value"] is not None:
            return
        z = self.pieces.get(msg["name"])
        if z is None:
            return
        lam = self.centring.get(msg["name"])
        if lam is not None:             # partial centring (ppl.centring)
            msg["value"], log_det = centring.quantile_forward(msg["fn"], z) \
                if isinstance(lam, str) else centring.forward(msg["fn"], z, lam)
            self.log_det = _add(self.log_det, log_det)
            return
        t = biject_to(msg["fn"].support)
        value = t(z)
        msg["value"] = value
        self.log_det = _add(self.log_det, _total(t.log_abs_det_jacobian(z, value)))


class _Init(handlers.Messenger):
    """Stan's initialisation: each latent site at T(u), u ~ Uniform(-2, 2) unconstrained."""

    def __init__(self, rng, radius=2.0):
        super().__init__()
        self.rng, self.radius = rng, radius

    def process(self, msg):
        if msg["type"] == "sample" and not msg["is_observed"] and msg["value"] is None:
            fn = msg["fn"]
            if fn.is_discrete or fn.support.is_discrete:
                raise ValueError(
                    f"site {msg['name']!r} is a latent discrete variable ({fn!r}); ADVI and "
                    "the unconstrained density need continuous latents: observe it (obs=...) "
                    "or sum it out of the model (e.g. with logsumexp)")
            t = biject_to(fn.support)
            shape = t.inverse_shape(fn.shape())
            msg["value"] = t(self.rng.uniform(-self.radius, self.radius, size=shape))


class Model(mapreduce.OnData):
    """A model function bound to its data (what `@ppl.model` factories return).

    Attributes: `parameters` (name -> ParamInfo, in the order the model samples them),
    `num_params` (length of the flat unconstrained vector), `observed` (name -> data held in
    memory), `observed_on_disk` (the observed sites whose data stay on disk), `sources`
    (argument -> `ppl.data.Source` for data on disk: memmap, Zarr, Dask), `layouts` (plate
    over such data -> its chunk boundaries). Data on disk are read chunk by
    chunk: runs that need shapes only read the first chunk, minibatches read blocks, and
    `full_value_and_grad`, `full_hessian` map the chunks (`ppl.mapreduce.OnData`).
    """

    def __init__(self, fn, args=(), kwargs=None):
        self.name = getattr(fn, "__name__", "model")
        self.fn = fn
        self.args, self.kwargs = check_arguments(self.name, fn, tuple(args), dict(kwargs or {}))
        self.args, self.kwargs, self.sources = mapreduce.wrap_arguments(self.args, self.kwargs)
        self._probe = mapreduce.probe_ranges(self.sources)
        self.layouts = {}
        try:
            sites = self._run(_Init(np.random.default_rng(0)), probe=True)
        except (TypeError, ValueError, FloatingPointError) as e:
            clearer = blame_argument(self.name, fn, self.args, self.kwargs, e)
            if clearer is None:
                raise
            raise clearer from e
        except AttributeError as e:
            if "'value'" not in str(e):
                raise
            raise AttributeError(f"model {self.name!r}: {e}; a site's value is a numpy array "
                                 "here and an engine Tensor under ADVI: read it with "
                                 "ad.getval(x), which works on both") from e
        params, offset = {}, 0
        self.observed, self.observed_on_disk = {}, []
        self.layouts = mapreduce.data_layouts(sites, self.sources)
        self.plates, self.subsample_sizes = mapreduce.plates_of(sites), {}
        self.anchor, self.centring = None, {}
        for name, msg in sites.items():
            if msg["type"] != "sample":
                continue
            fn_ = msg["fn"]
            if msg["is_observed"] and any(p.name in self.layouts for p in msg["plates"]):
                _check_obs_support(name, msg["value"], fn_)     # the first chunk's
                self.observed_on_disk.append(name)              # data on disk stay there
                continue
            if msg["is_observed"]:
                try:
                    np.broadcast_shapes(np.shape(msg["value"]), fn_.shape())
                except ValueError:
                    raise _obs_shape_error(name, msg["value"], fn_) from None
                _check_obs_support(name, msg["value"], fn_)
                self.observed[name] = msg["value"]
                continue
            if any(p.subsample_size is not None and p.subsample_size < p.size
                   for p in msg["plates"]):
                raise ValueError(f"site {name!r}: a latent site inside a subsampled plate is "
                                 "not supported (each step would see different copies of it); "
                                 "use a plate without subsample_size for local latents")
            t = biject_to(fn_.support)
            ushape = tuple(t.inverse_shape(fn_.shape()))
            size = int(np.prod(ushape, dtype=np.int64))
            params[name] = ParamInfo(name, tuple(fn_.shape()), fn_.support, ushape, size, offset)
            offset += size
        self.parameters = params
        self.num_params = offset
        if self.observed and offset:
            self._drop_computed_observations()

    def _drop_computed_observations(self):
        """`observed` keeps data, not an `obs=` computed from parameters (Stan's ARMA `err`):
        a second start that changes a site's observed value shows it depends on them."""
        try:
            again = self._run(_Init(np.random.default_rng(1)), probe=True)
        except Exception:            # a model whose sites depend on random values: keep all
            return
        for name, value in list(self.observed.items()):
            other = again.get(name, {}).get("value")
            if other is not value and not np.array_equal(np.asarray(getval(other)),
                                                          np.asarray(getval(value))):
                del self.observed[name]

    # ---- running the function ------------------------------------------------------------------
    def _run(self, *hs, probe=False):
        """Run the model under the given handlers (outermost first) and a trace; with `probe`,
        plates over data on disk cover their first chunk only (a run for shapes)."""
        if probe and self._probe:
            hs = (handlers.rows(self._probe),) + hs
        with handlers.trace() as tr:
            for h in hs:
                h.__enter__()
            try:
                self.fn(*self.args, **self.kwargs)
            finally:
                for h in reversed(hs):
                    h.__exit__(None, None, None)
        return tr.sites

    def _minibatches(self, rng):
        return handlers.subsample(rng, layouts=self.layouts, sizes=self.subsample_sizes)

    def _check_sites(self, sites):
        latent = [n for n, m in sites.items() if m["type"] == "sample" and not m["is_observed"]]
        if latent != list(self.parameters):
            raise ValueError(
                f"model {self.name!r} sampled the latent sites {latent} in this run but "
                f"{list(self.parameters)} when it was bound to its data: the set of sites must "
                "not depend on random values")

    @staticmethod
    def _log_joint(sites):
        total = 0.0
        for msg in sites.values():
            kind = msg["type"]
            if kind == "sample":
                lp = _total(msg["fn"].log_prob(msg["value"]))
            elif kind == "factor":
                lp = _total(msg["value"])
            else:
                continue
            total = _add(total, lp if msg["scale"] == 1.0 else msg["scale"] * lp)
        return total

    # ---- log densities -------------------------------------------------------------------------
    def log_density(self, params, rng=None):
        """log p(x, theta) at constrained values `params` (dict name -> array or Tensor).

        With `rng`, subsampled plates draw a minibatch and scale it (an unbiased estimate);
        without, all the data are used.
        """
        self._check_names(params)
        hs = [handlers.substitute(params)]
        if rng is not None:
            hs.insert(0, self._minibatches(rng))
        sites = self._run(*hs)
        self._check_sites(sites)
        return self._log_joint(sites)

    def unconstrained_log_density(self, z, rng=None, jacobian=True, centring=None):
        """log p(x, T(z)) + log|det J_T(z)| for the flat unconstrained vector z (numpy or
        Tensor of shape (num_params,)); differentiable by the engine in z. With
        `jacobian=False`, log p(x, T(z)) alone (its maximiser is the constrained MAP).
        Without `rng` the data on disk are read in full: `full_value_and_grad` reads them
        chunk by chunk. centring: site -> centredness lam (arrays or Tensors: `ppl.centring`),
        in place of the model's own `centring` (set by `centred`)."""
        if rng is not None and self.anchor is not None:
            return mapreduce.anchored_log_density(self, z, rng, jacobian)
        h = _Unconstrained(self.unflatten(z), self.centring if centring is None else centring)
        hs = [h] if rng is None else [self._minibatches(rng), h]
        sites = self._run(*hs)
        self._check_sites(sites)
        lp = self._log_joint(sites)
        return lp + h.log_det if jacobian else lp

    # ---- flat vector <-> named values ----------------------------------------------------------
    def unflatten(self, z):
        """Flat unconstrained vector -> dict name -> unconstrained array (reshaped slices)."""
        zs = z.shape if isinstance(z, Tensor) else np.shape(z)  # one draw's under vmap
        if len(zs) != 1 or zs[0] != self.num_params:
            raise ValueError(f"model {self.name!r}: z must be a flat vector of length "
                             f"{self.num_params}, got shape {zs}")
        out = {}
        for name, p in self.parameters.items():
            shape = p.unconstrained_shape
            if shape == ():  # one tape entry per site where one will do (ADVI's hot path)
                out[name] = z[p.offset]
                continue
            piece = z[p.offset:p.offset + p.size]
            if len(shape) > 1:
                piece = piece.reshape(shape) if isinstance(piece, Tensor) \
                    else np.reshape(piece, shape)
            out[name] = piece
        return out

    def flatten(self, unconstrained):
        """Dict name -> unconstrained array -> one flat numpy vector (inverse of unflatten)."""
        self._check_names(unconstrained)
        parts = []
        for name, p in self.parameters.items():
            a = np.asarray(getval(unconstrained[name]), dtype=float)
            if a.size != p.size:
                raise ValueError(f"parameter {name!r}: expected {p.size} unconstrained values "
                                 f"(shape {p.unconstrained_shape}), got shape {a.shape}")
            parts.append(a.reshape(-1))
        return np.concatenate(parts) if parts else np.zeros(0)

    def constrain(self, z, deterministic=True):
        """Flat unconstrained z -> dict of constrained latent values (and, with
        `deterministic`, the model's deterministic sites), as numpy arrays."""
        with ad.no_grad():
            sites = self._run(_Unconstrained(self.unflatten(np.asarray(getval(z), dtype=float)),
                                             self.centring), probe=True)
        self._check_sites(sites)
        keep = ("sample", "deterministic") if deterministic else ("sample",)
        return {n: np.asarray(getval(m["value"])) for n, m in sites.items()
                if m["type"] in keep and not m["is_observed"]}

    def unconstrain(self, params):
        """Dict of constrained latent values -> flat unconstrained vector (runs the model, so
        bounds that depend on other parameters are read at these values)."""
        self._check_names(params)
        with ad.no_grad():
            sites = self._run(handlers.substitute(params), probe=True)
        self._check_sites(sites)
        out = {}
        for n in self.parameters:
            value, fn = np.asarray(getval(params[n]), dtype=float), sites[n]["fn"]
            lam = self.centring.get(n)
            out[n] = biject_to(fn.support).inverse(value) if lam is None else \
                centring.quantile_inverse(fn, value) if isinstance(lam, str) else \
                centring.inverse(fn, value, lam)
        return self.flatten(out)

    def centred(self, lam):
        """This model with its location-scale sites partially centred (`ppl.centring`): each
        such site theta ~ F(m, s) is fitted in theta_tilde with theta = m + s^(1 - lam)
        (theta_tilde - lam m). lam: one number in [0, 1] for every such site (1: as
        written, 0: non-centred) or a dict site -> lam (a number or an array of the site's
        shape). Draws, summaries and ArviZ data stay in the model's own parameterisation."""
        other = copy.copy(self)
        other.centring = {**self.centring, **centring.check_centring(self, lam)}
        return other

    # ---- draws and traces ----------------------------------------------------------------------
    def initial_point(self, seed=None):
        """Stan's initial point: every latent at T(u), u ~ Uniform(-2, 2) in unconstrained
        space. Returns a dict of constrained values."""
        sites = self._run(_Init(np.random.default_rng(seed)), probe=True)
        return {n: np.asarray(getval(sites[n]["value"])) for n in self.parameters}

    def prior_sample(self, seed=None):
        """One draw of every latent and deterministic site from the prior (a dict)."""
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        with ad.no_grad():
            sites = self._run(handlers.seed(rng), probe=True)
        return {n: np.asarray(getval(m["value"])) for n, m in sites.items()
                if m["type"] in ("sample", "deterministic") and not m["is_observed"]}

    def prior_predictive(self, draws=100, seed=None):
        """`draws` joint draws of every site, observed ones included (drawn, not the data):
        dict name -> array of shape (draws,) + site shape."""
        if int(draws) != draws or draws < 1:
            raise ValueError(f"prior_predictive: draws must be a positive integer, got {draws!r}")
        rng = np.random.default_rng(seed)
        out = {}
        for _ in range(int(draws)):
            with ad.no_grad():
                sites = self._run(handlers.seed(rng), _Resample())
            for n, m in sites.items():
                if m["type"] in ("sample", "deterministic"):
                    out.setdefault(n, []).append(np.asarray(getval(m["value"])))
        return {n: np.stack(v) for n, v in out.items()}

    def trace(self, params):
        """Every site at constrained `params`: dict name -> Site (type, value, log_prob
        elementwise, the distribution, observed or not, minibatch scale)."""
        self._check_names(params)
        sites = self._run(handlers.substitute(params))
        self._check_sites(sites)
        out = {}
        for n, m in sites.items():
            lp = None
            if m["type"] == "sample":
                lp = m["fn"].log_prob(m["value"])
            elif m["type"] == "factor":
                lp = m["value"]
            out[n] = Site(n, m["type"], m["value"], lp, m["fn"], m["is_observed"], m["scale"])
        return out

    def _check_names(self, params):
        if not isinstance(params, dict):
            raise TypeError(f"model {self.name!r}: params must be a dict name -> value, got "
                            f"{type(params).__name__}")
        missing = [n for n in self.parameters if n not in params]
        extra = [n for n in params if n not in self.parameters]
        if missing or extra:
            raise ValueError(f"model {self.name!r}: params must hold exactly the latent sites "
                             f"{list(self.parameters)}; missing {missing}, unknown {extra}")

    def __repr__(self):
        ps = ", ".join(f"{n}{list(p.shape)}" for n, p in self.parameters.items())
        centred = f"; centred: {', '.join(self.centring)}" if self.centring else ""
        return f"Model({self.name}: {self.num_params} unconstrained parameters; {ps}{centred})"


class _Resample(handlers.Messenger):
    """Treat observed sites as latent so the prior predictive draws them."""

    def process(self, msg):
        if msg["type"] == "sample" and msg["is_observed"]:
            msg["value"] = None


@dataclass
class Site:
    """One site of a traced run."""
    name: str
    type: str
    value: object
    log_prob: object
    fn: object
    is_observed: bool
    scale: float
