"""The statements a model is written with: sample, plate, deterministic, factor.

Each builds a message and sends it through the active handlers (`ppl.handlers`); outside a
model run they raise a clear error. The message keys: type, name, fn (the distribution),
value, is_observed, scale (the minibatch factor from subsampled plates), plates (the enclosing
plates, outermost first).
"""
import numpy as np

from autodiff import Tensor, getval, shape_of

from . import handlers
from .data import ROWS_ONLY, Slab, Source
from .distributions.base import Distribution, is_validation_enabled

__all__ = ["sample", "plate", "deterministic", "factor"]


def _message(kind, name, fn, value, is_observed):
    if not isinstance(name, str) or not name:
        raise TypeError(f"a site name must be a non-empty string, got {name!r}")
    return {"type": kind, "name": name, "fn": fn, "value": value, "is_observed": is_observed,
            "scale": 1.0, "plates": []}


def _as_obs(name, obs):
    if type(obs) is np.ndarray and obs.dtype.kind == "f" and not is_validation_enabled():
        return obs  # checked when the Model was bound to its data
    if isinstance(obs, (Source, Slab)):
        raise TypeError(f"site {name!r}: obs is {obs!r}; {ROWS_ONLY}")
    boxed = isinstance(obs, Tensor)  # a value computed from parameters (Stan's ARMA `err`):
    try:                             # checked on its value, kept boxed so its gradient flows
        a = np.asarray(getval(obs))
    except Exception as e:
        raise TypeError(f"site {name!r}: obs must be array-like, got {type(obs).__name__}") from e
    if a.dtype == object or not (np.issubdtype(a.dtype, np.number) or a.dtype == bool):
        raise TypeError(f"site {name!r}: obs must be numeric, got dtype {a.dtype}")
    if np.issubdtype(a.dtype, np.floating) and np.isnan(a).any():
        raise ValueError(f"site {name!r}: the observed data contain {int(np.isnan(a).sum())} "
                         "NaN value(s); drop or impute them before fitting")
    if boxed:
        return obs
    return a if np.issubdtype(a.dtype, np.floating) else a.astype(np.float64)


def sample(name, fn, obs=None):
    """A random variable `name` ~ `fn`; observed (conditioned on `obs`) when obs is given.

    Returns the site's value: `obs`, or the value the handlers give a latent site (a draw, a
    substituted value, or the constrained image of the optimiser's unconstrained point).
    """
    if not isinstance(fn, Distribution):
        raise TypeError(f"site {name!r}: the second argument of ppl.sample must be a "
                        f"distribution from ppl.dist, got {type(fn).__name__}")
    if obs is not None:
        obs = _as_obs(name, obs)
    msg = _message("sample", name, fn, obs, obs is not None)
    return handlers.apply_stack(msg)


def deterministic(name, value):
    """Record a function of other sites under `name` (kept in traces and results)."""
    return handlers.apply_stack(_message("deterministic", name, None, value, False))


def factor(name, log_weight):
    """Add `log_weight` (summed) to the model's joint log density, as Stan's `target +=`."""
    return handlers.apply_stack(_message("factor", name, None, log_weight, False))


class plate(handlers.Messenger):
    """A set of `size` conditionally independent copies along batch axis `dim`.

    Sites inside are broadcast to have `size` (or `subsample_size`) along `dim` (counted from
    the right of the batch shape). `dim=None` takes the next free axis: -1 for the outermost
    plate, -2 for the one inside it, and so on. With `subsample_size`, each run under a
    `handlers.subsample` (as ADVI's gradient steps are) draws random indices without
    replacement and scales the log likelihood of the sites inside by size / subsample_size, an
    unbiased estimate of the full sum; elsewhere (a Model's exact log density, prior draws) the
    plate covers all the data. Over data on disk (a memmap, Zarr or Dask array: `ppl.data`)
    a minibatch is `blocks` chunks drawn with probability proportional to their size, and
    subsample_size // blocks rows in each (sequential reads, still unbiased; the gradient's
    variance grows when the chunks differ: see `ppl.data`). The context manager yields the
    indices:

        with ppl.plate("data", len(y), subsample_size=100) as idx:
            ppl.sample("y", dist.Normal(mu, sigma), obs=y[idx])
    """

    def __init__(self, name, size, dim=None, subsample_size=None, blocks=4):
        super().__init__()
        if not isinstance(name, str) or not name:
            raise TypeError(f"plate: name must be a non-empty string, got {name!r}")
        if isinstance(size, bool) or int(size) != size or size < 1:
            raise ValueError(f"plate {name!r}: size must be a positive integer, got {size!r}")
        if subsample_size is not None and (int(subsample_size) != subsample_size
                                           or not 1 <= subsample_size <= size):
            raise ValueError(f"plate {name!r}: subsample_size must be an integer in "
                             f"[1, size={int(size)}], got {subsample_size!r}")
        if dim is not None and (int(dim) != dim or dim >= 0):
            raise ValueError(f"plate {name!r}: dim must be a negative integer, got {dim!r}")
        if isinstance(blocks, bool) or int(blocks) != blocks or blocks < 1:
            raise ValueError(f"plate {name!r}: blocks must be a positive integer, got {blocks!r}")
        self.name, self.size, self.blocks = name, int(size), int(blocks)
        self.subsample_size = None if subsample_size is None else int(subsample_size)
        self._dim = dim

    def __enter__(self):
        outer = [h for h in handlers._STACK if isinstance(h, plate)]
        taken = {p.dim for p in outer}
        if self._dim is None:
            self.dim = -1
            while self.dim in taken:
                self.dim -= 1
        else:
            self.dim = int(self._dim)
            if self.dim in taken:
                clash = next(p.name for p in outer if p.dim == self.dim)
                raise ValueError(f"plate {self.name!r}: dim {self.dim} is already used by the "
                                 f"enclosing plate {clash!r}")
        sub = handlers.active(handlers.subsample)
        piece = handlers.active(handlers.rows)
        piece = None if piece is None else piece.get(self)
        if piece is not None:      # (start, stop) or the rows themselves
            rows = np.arange(*piece) if isinstance(piece, tuple) else np.asarray(piece)
            self.indices, self.scale = rows, 1.0
        elif sub is not None and (sub.size_of(self) or self.size) < self.size:
            self.indices, self.scale = sub.draw(self)
        else:
            self.indices = np.arange(self.size)
            self.scale = 1.0
        super().__enter__()
        return self.indices

    @property
    def batch_size(self):
        return len(self.indices)

    def process(self, msg):
        if not msg["plates"]:  # the innermost plate: every enclosing plate is on the stack
            _check_within_plates(msg, [h for h in handlers._STACK if isinstance(h, plate)])
        msg["plates"].insert(0, self)
        if msg["type"] == "factor" or msg["type"] == "deterministic":
            msg["scale"] *= self.scale
            return
        fn, n = msg["fn"], self.batch_size
        batch = tuple(fn.batch_shape)
        k = -self.dim
        if len(batch) < k:
            batch = (1,) * (k - len(batch)) + batch
        have = batch[-k]
        if have not in (1, n):
            raise ValueError(f"site {msg['name']!r}: its distribution has size {have} on batch "
                             f"axis {self.dim}, but plate {self.name!r} has size {n}")
        batch = batch[:-k] + (n,) + batch[len(batch) - k + 1:]
        msg["fn"] = fn.expand(batch)
        msg["scale"] *= self.scale

    def __repr__(self):
        sub = f", subsample_size={self.subsample_size}" if self.subsample_size else ""
        return f"plate({self.name!r}, {self.size}, dim={getattr(self, 'dim', self._dim)}{sub})"


def _obs_shape_error(name, obs, fn):
    return ValueError(f"site {name!r}: observed data of shape {shape_of(obs)} do not "
                      f"broadcast with the distribution's shape {fn.shape()} "
                      f"(batch {fn.batch_shape} + event {fn.event_shape})")


def _shape_str(shape):
    return "(" + ", ".join(str(int(n)) for n in shape) + (",)" if len(shape) == 1 else ")")


def _where(plates):
    if len(plates) == 1:
        p = plates[0]
        return f"plate {p.name!r} (size {p.batch_size}, dim {p.dim})"
    return "plates " + ", ".join(f"{p.name!r} (size {p.batch_size}, dim {p.dim})"
                                 for p in plates)


_HINT = ("; is some data a column, shape (n, 1)? pass it as a vector (e.g. y.ravel()), or "
         "declare the extra axis with another plate or .to_event()")


def _check_within_plates(msg, plates):
    """Refuse a site whose value or distribution reaches beyond its plates' batch axes.

    Inside plates covering the last d batch axes, a distribution's batch shape may only have
    size-1 axes left of them, and an observed value, a deterministic value or a factor may not
    broadcast the site's shape any further: a column (n, 1) against a plate's (n,) would
    otherwise make an n x n likelihood silently (the classic column-data bug).
    """
    d = max(-p.dim for p in plates)
    name, kind = msg["name"], msg["type"]
    if kind == "sample":
        fn = msg["fn"]
        batch = tuple(fn.batch_shape)
        if len(batch) > d and any(n != 1 for n in batch[:len(batch) - d]):
            raise ValueError(f"site {name!r}: its distribution has batch shape "
                             f"{_shape_str(batch)}, which reaches beyond {_where(plates)}{_HINT}")
        if not msg["is_observed"]:
            return
        full = list((1,) * (d - len(batch)) + batch if len(batch) < d else batch)
        for p in plates:
            full[p.dim] = p.batch_size
        full = tuple(full) + tuple(fn.event_shape)
        obs_shape = shape_of(msg["value"])
        if obs_shape == full:
            return
        try:
            both = np.broadcast_shapes(obs_shape, full)
        except ValueError:
            raise _obs_shape_error(name, msg["value"], fn) from None
        if both != full:
            raise ValueError(f"site {name!r}: observed data of shape {_shape_str(obs_shape)} "
                             f"broadcast with the distribution's shape {_shape_str(full)} to "
                             f"{_shape_str(both)}, beyond {_where(plates)}{_HINT}")
        return
    shape = shape_of(msg["value"])
    bad = any(n != 1 for n in shape[:len(shape) - d])
    for p in plates:
        if not bad and len(shape) >= -p.dim and shape[p.dim] not in (1, p.batch_size):
            bad = True
    if bad:
        what = "value" if kind == "deterministic" else "log weight"
        raise ValueError(f"{kind} site {name!r}: its {what} has shape {_shape_str(shape)}, "
                         f"which does not fit {_where(plates)}{_HINT}")
