"""Full-data passes over data on disk or on a cluster, as map-reduce over chunks.

With the rows of a model's data plate split into chunks c = 1..C (`ppl.data`), the
unconstrained log density is

    log p(z) = [terms outside the data plate + log|det J_T(z)|] + sum_c [terms inside, rows of c]

and so is its gradient. Each chunk's piece runs the model function with the plate restricted to
the chunk's rows (`handlers.rows`), on a `Slab` holding only those rows; only the chunk's
(value, gradient) comes back. With a Dask array among the data, or a `distributed.Client`
connected, the pieces are Dask tasks: a Dask array's chunk is computed where it lives, the
parameters z and the model travel to the workers, the sums come back (Dask's scheduler, its
retries of a task whose worker died, nothing of our own). Otherwise the chunks are read one
after another here, so memory holds one chunk.

The model's Python runs under a lock in each process (the handler stack is one per process),
so a worker with several threads runs one piece at a time while others read their data.
"""
import copy
import sys
import threading
import uuid

import numpy as np

import autodiff as ad
from autodiff import getval

from . import handlers
from .data import Slab, is_chunked, source

__all__ = ["wrap_arguments", "probe_ranges", "data_layouts", "plates_of", "with_subsample",
           "full_value_and_grad", "active_client"]

_LOCK = threading.Lock()


def wrap_arguments(args, kwargs):
    """(args, kwargs, sources): memmap, Zarr and Dask arguments wrapped as `ppl.data.Source`s;
    `sources` maps the argument's position (int) or name to its Source."""
    args, kwargs, sources = list(args), dict(kwargs), {}
    for i, a in enumerate(args):
        if is_chunked(a):
            args[i] = sources[i] = source(a)
    for k, v in kwargs.items():
        if is_chunked(v):
            kwargs[k] = sources[k] = source(v)
    return tuple(args), kwargs, sources


def probe_ranges(sources):
    """{rows: (0, end of the first chunk)} for each length of data on disk: a run that needs
    shapes, not the data (binding, initial points, constrain), reads one chunk."""
    out = {}
    for s in sources.values():
        if len(s):
            end = int(s.boundaries[1])
            out[len(s)] = min(out.get(len(s), end), end)
    return {n: (0, end) for n, end in out.items()}


def data_layouts(sites, sources):
    """{plate name: chunk boundaries} for each plate whose size is the length of data on disk:
    the union of those sources' boundaries (a chunk of the plate lies in one chunk of each)."""
    plates = {}
    for msg in sites.values():
        for p in msg.get("plates", ()):
            plates.setdefault(p.name, p.size)
    out = {}
    for name, size in plates.items():
        bounds = [s.boundaries for s in sources.values() if len(s) == size]
        if bounds:
            out[name] = np.unique(np.concatenate(bounds))
    return out


def plates_of(sites):
    """{plate name: (size, its own subsample_size, whether a latent site is inside)}."""
    out = {}
    for msg in sites.values():
        latent = msg["type"] == "sample" and not msg["is_observed"]
        for p in msg.get("plates", ()):
            had = out.get(p.name, (0, 0, False))[2]
            out[p.name] = (p.size, p.subsample_size, had or latent)
    return out


def with_subsample(model, size, plate=None):
    """A copy of `model` whose plate `plate` draws minibatches of `size` (see
    `Model.subsample`); a ValueError names the plates when `plate` is not one of them."""
    if plate is None:
        names = list(model.layouts) or list(model.plates)
        if len(names) != 1:
            where = "plates over data on disk" if model.layouts else "plates"
            raise ValueError(f"model {model.name!r}: name the plate to subsample: it has "
                             f"{len(names)} {where} {names}")
        plate = names[0]
    if plate not in model.plates:
        raise ValueError(f"model {model.name!r} has no plate {plate!r}; its plates: "
                         f"{sorted(model.plates)}")
    n, _, latent = model.plates[plate]
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or not 1 <= size <= n:
        raise ValueError(f"model {model.name!r}: the subsample size of plate {plate!r} must be "
                         f"an integer in [1, {n}] (its size), got {size!r}")
    if latent and size < n:
        raise ValueError(f"model {model.name!r}: plate {plate!r} holds latent sites, which a "
                         "subsampled plate does not support")
    out = copy.copy(model)
    out.subsample_sizes = {**model.subsample_sizes, plate: int(size)}
    return out


def active_client():
    """The connected `distributed.Client`, or None (distributed is not imported unless the
    user imported it)."""
    if "distributed" not in sys.modules:
        return None
    from distributed import default_client
    try:
        return default_client()
    except ValueError:
        return None


class _Placeholder:
    """Stands for a data argument in the model shipped to a task."""

    def __init__(self, key, shape):
        self.key, self.shape = key, shape


def _piece(model, z, plate, lo, hi, outside, grad):
    """(value, gradient or None) of the chunk rows lo:hi of `plate`: the terms inside it, plus
    (when `outside`) the terms outside it and the log-Jacobian."""
    from .model import _Unconstrained

    def f(zz):
        h = _Unconstrained(model.unflatten(zz))
        sites = model._run(handlers.rows({plate: (lo, hi)}), h)
        total = h.log_det if outside else 0.0
        for msg in sites.values():
            inside = any(p.name == plate for p in msg["plates"])
            if msg["type"] not in ("sample", "factor") or not (inside or outside):
                continue
            lp = msg["fn"].log_prob(msg["value"]) if msg["type"] == "sample" else msg["value"]
            lp = ad.sum(lp) if np.ndim(getval(lp)) else lp
            total = total + (lp if msg["scale"] == 1.0 else msg["scale"] * lp)
        return total

    return _evaluate(f, z, grad)


def _evaluate(f, z, grad):
    """(f(z), grad f(z) or None); for z of shape (S, D), the S values (no gradient)."""
    with _LOCK, np.errstate(all="ignore"):
        if grad:
            v, g = ad.value_and_grad(f)(z)
            return float(getval(v)), np.asarray(getval(g), dtype=float)
        with ad.no_grad():
            if z.ndim == 2:
                return np.array([float(getval(f(row))) for row in z]), None
            return float(getval(f(z))), None


def _bind_piece(stripped, blocks, lo):
    """The model with each data argument as a Slab of rows lo:lo+len(block)."""
    m = copy.copy(stripped)
    slab = lambda a: Slab(np.asarray(blocks[a.key]), lo, a.shape) \
        if isinstance(a, _Placeholder) else a
    m.args = tuple(slab(a) for a in stripped.args)
    m.kwargs = {k: slab(v) for k, v in stripped.kwargs.items()}
    return m


def _run_piece(stripped, blocks, z, plate, lo, hi, outside, grad):
    return _piece(_bind_piece(stripped, blocks, lo), z, plate, lo, hi, outside, grad)


def _read(src, lo, hi):
    return src.read(lo, hi)


def full_value_and_grad(model, z, grad=True):
    """(log p(z), its gradient or None) over all the data, the data plate's chunks mapped and
    summed (see the module docstring); one in-memory run when the model has no data on disk.
    z of shape (S, D) without `grad`: the S log densities in one pass over the data."""
    z = np.asarray(getval(z), dtype=float)
    if z.shape[-1:] != (model.num_params,) or z.ndim not in (1, 2) or (grad and z.ndim == 2):
        raise ValueError(f"model {model.name!r}: z must be a flat vector of length "
                         f"{model.num_params}" + ("" if grad else " or draws (S, D) of them")
                         + f", got shape {z.shape}")
    if not model.layouts:
        return _evaluate(model.unconstrained_log_density, z, grad)
    if len(model.layouts) != 1:
        raise ValueError(f"model {model.name!r}: a full-data pass over chunks needs one plate "
                         f"over the data on disk, found {sorted(model.layouts)}")
    (plate, bounds), = model.layouts.items()
    size = int(bounds[-1])
    mine = {k: s for k, s in model.sources.items() if len(s) == size}
    stripped = copy.copy(model)
    hold = lambda k, a: _Placeholder(k, mine[k].shape) if k in mine else a
    stripped.args = tuple(hold(i, a) for i, a in enumerate(model.args))
    stripped.kwargs = {k: hold(k, v) for k, v in model.kwargs.items()}
    pieces = [(int(lo), int(hi)) for lo, hi in zip(bounds[:-1], bounds[1:])]
    client = active_client()
    if client is None and all(s.kind != "dask" for s in mine.values()):
        total, gsum = 0.0, np.zeros(z.shape) if grad else None
        for c, (lo, hi) in enumerate(pieces):
            blocks = {k: s.read(lo, hi) for k, s in mine.items()}
            v, g = _run_piece(stripped, blocks, z, plate, lo, hi, c == 0, grad)
            total += v
            if grad:
                gsum += g
        return total, gsum
    return _dask_pass(stripped, mine, pieces, z, plate, grad, client)


def _dask_pass(stripped, mine, pieces, z, plate, grad, client):
    import dask
    tag = uuid.uuid4().hex        # named, so Dask need not hash the model and the stores
    model_d = dask.delayed(stripped, traverse=False, name=f"wengert-model-{tag}")
    readers = {k: dask.delayed(s, traverse=False, name=f"wengert-source-{k}-{tag}")
               for k, s in mine.items()
               if s.kind in ("zarr", "memmap") and client is not None}
    tasks = []
    for c, (lo, hi) in enumerate(pieces):
        blocks = {}
        for k, s in mine.items():
            if s.kind == "dask":
                parts = s.array[lo:hi].to_delayed().ravel()
                blocks[k] = parts[0]
            elif k in readers:            # the worker reads its own rows from the store
                blocks[k] = dask.delayed(_read)(readers[k], lo, hi)
            else:
                blocks[k] = s.read(lo, hi)
        tasks.append(dask.delayed(_run_piece, pure=True)(model_d, blocks, z, plate, lo, hi,
                                                         c == 0, grad))
    try:
        if client is not None:
            results = client.gather(client.compute(tasks))
        else:
            results = dask.compute(*tasks, scheduler="threads")
    except Exception as e:
        if type(e).__name__ == "KilledWorker":
            raise RuntimeError(f"full-data pass: a Dask worker died on each of Dask's retries "
                               f"of a chunk ({e}); the pass is lost, the fit so far is not") from e
        raise
    total = sum(v for v, _ in results)
    total = float(total) if np.ndim(total) == 0 else total
    return total, (np.sum([g for _, g in results], axis=0) if grad else None)
