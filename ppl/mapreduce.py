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
from autodiff.backend import keep_heap_pad

from . import handlers
from .data import Slab, is_chunked, source

__all__ = ["wrap_arguments", "probe_ranges", "data_layouts", "plates_of", "with_subsample",
           "full_pass", "active_client", "OnData", "anchored_log_density"]

_LOCK = threading.Lock()
_PROBE_ROWS = 16     # rows a run for shapes reads


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
    """{rows: (0, a few rows of the first chunk)} for each length of data on disk: a run that
    needs shapes, not the data (binding, initial points, constrain), reads only those."""
    out = {}
    for s in sources.values():
        if len(s):
            end = min(int(s.boundaries[1]), _PROBE_ROWS)
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


def _terms(model, plate, rows, outside):
    """f(z): the log-density terms inside `plate` over `rows` ((start, stop) or indices), plus
    (when `outside`) the terms outside it and the log-Jacobian."""
    from .model import _Unconstrained

    def f(zz):
        h = _Unconstrained(model.unflatten(zz), model.centring)
        sites = model._run(handlers.rows({plate: rows}), h)
        total = h.log_det if outside else 0.0
        for msg in sites.values():
            inside = any(p.name == plate for p in msg["plates"])
            if msg["type"] not in ("sample", "factor") or not (inside or outside):
                continue
            lp = msg["fn"].log_prob(msg["value"]) if msg["type"] == "sample" else msg["value"]
            lp = ad.sum(lp) if np.ndim(getval(lp)) else lp
            total = total + (lp if msg["scale"] == 1.0 else msg["scale"] * lp)
        return total
    return f


def _evaluate(f, z, what):
    """(f(z), gradient, Hessian) as `what` ("value", "grad", "hessian") asks, None for the
    rest; for z of shape (S, D) and "value", the S values."""
    with _LOCK, np.errstate(all="ignore"):
        if what == "value":
            with ad.no_grad():
                if z.ndim == 2:
                    return np.array([float(getval(f(row))) for row in z]), None, None
                return float(getval(f(z))), None, None
        v, g = ad.value_and_grad(f)(z)
        H = np.asarray(getval(ad.hessian(f)(z)), dtype=float) if what == "hessian" else None
        return float(getval(v)), np.asarray(getval(g), dtype=float), H


def _bind_piece(stripped, blocks, lo):
    """The model with each data argument as a Slab of rows lo:lo+len(block)."""
    m = copy.copy(stripped)
    slab = lambda a: Slab(np.asarray(blocks[a.key]), lo, a.shape) \
        if isinstance(a, _Placeholder) else a
    m.args = tuple(slab(a) for a in stripped.args)
    m.kwargs = {k: slab(v) for k, v in stripped.kwargs.items()}
    return m


def _run_piece(stripped, blocks, z, plate, lo, hi, outside, what):
    _heap_for_chunks()
    m = _bind_piece(stripped, blocks, lo)
    return _evaluate(_terms(m, plate, (lo, hi), outside), z, what)


def _read(src, lo, hi):
    return src.read(lo, hi)


def _add(a, b):
    return tuple(None if x is None else x + y for x, y in zip(a, b))


def full_pass(model, z, what="grad", outside=True, plate=None, chunks=None):
    """(log p(z), gradient, Hessian) over all the data as `what` asks (see `_evaluate`), the
    data plate's chunks mapped and summed (the module docstring); one in-memory run when the
    model has no data on disk. `outside=False`: only the terms inside the plate (`plate`,
    default the one over the data on disk). `chunks`: the indices of the chunks to sum (all
    by default)."""
    z = np.asarray(getval(z), dtype=float)
    if z.shape[-1:] != (model.num_params,) or z.ndim not in (1, 2) or \
            (what != "value" and z.ndim == 2):
        raise ValueError(f"model {model.name!r}: z must be a flat vector of length "
                         f"{model.num_params}" + (" or draws (S, D) of them" if what == "value"
                                                  else "") + f", got shape {z.shape}")
    if not model.layouts:
        if outside:
            return _evaluate(model.unconstrained_log_density, z, what)
        return _evaluate(_terms(model, plate, (0, model.plates[plate][0]), False), z, what)
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
    if chunks is not None:
        pieces = [pieces[i] for i in chunks]
    client = active_client()
    if client is None and all(s.kind != "dask" for s in mine.values()):
        total = None
        for c, (lo, hi) in enumerate(pieces):
            blocks = {k: s.read(lo, hi) for k, s in mine.items()}
            out = _run_piece(stripped, blocks, z, plate, lo, hi, outside and c == 0, what)
            total = out if total is None else _add(total, out)
        return total
    return _dask_pass(stripped, mine, pieces, z, plate, what, outside, client)


_TASKS_PER_THREAD = 4      # spans of chunks per worker thread: balance against overhead


def _spans(pieces, n):
    """The (lo, hi) chunks split into at most n runs of consecutive chunks, near equal."""
    n = max(1, min(n, len(pieces)))
    cuts = np.linspace(0, len(pieces), n + 1).round().astype(int)
    return [pieces[a:b] for a, b in zip(cuts[:-1], cuts[1:]) if b > a]


_HEAP = []      # whether this process has set its heap for chunks (once: on a worker)


def _heap_for_chunks():
    if not _HEAP:
        _HEAP.append(keep_heap_pad(chunks=True))


def _run_span(stripped, readers, z, plate, span, outside, what):
    """The terms of consecutive chunks summed on a worker, one chunk read at a time."""
    _heap_for_chunks()
    total = None
    for c, (lo, hi) in enumerate(span):
        blocks = {k: _read(r, lo, hi) for k, r in readers.items()}
        out = _run_piece(stripped, blocks, z, plate, lo, hi, outside and c == 0, what)
        total = out if total is None else _add(total, out)
    return total


def _dask_pass(stripped, mine, pieces, z, plate, what, outside, client):
    import dask
    tag = uuid.uuid4().hex        # named, so Dask need not hash the model and the stores
    model_d = dask.delayed(stripped, traverse=False, name=f"wengert-model-{tag}")
    readers = {k: dask.delayed(s, traverse=False, name=f"wengert-source-{k}-{tag}")
               for k, s in mine.items() if s.kind in ("zarr", "memmap") and client is not None}
    tasks = []
    if client is not None and mine and len(readers) == len(mine):
        # the workers read their own rows: one task per span of chunks, not per chunk (a
        # task costs Dask ~15 ms: 2,500 chunks of a 10 GB store ran 46 s on one worker
        # against 10 s without Dask)
        spans = _spans(pieces, _TASKS_PER_THREAD * max(1, sum(client.nthreads().values())))
        tasks = [dask.delayed(_run_span, pure=True)(model_d, readers, z, plate, span,
                                                    outside and i == 0, what)
                 for i, span in enumerate(spans)]
        pieces = []
    for c, (lo, hi) in enumerate(pieces):
        blocks = {}
        for k, s in mine.items():
            if s.kind == "dask":
                blocks[k] = s.array[lo:hi].to_delayed().ravel()[0]
            elif k in readers:            # the worker reads its own rows from the store
                blocks[k] = dask.delayed(_read)(readers[k], lo, hi)
            else:
                blocks[k] = s.read(lo, hi)
        tasks.append(dask.delayed(_run_piece, pure=True)(model_d, blocks, z, plate, lo, hi,
                                                         outside and c == 0, what))
    try:
        if client is not None:
            results = client.gather(client.compute(tasks))
        else:
            results = dask.compute(*tasks, scheduler="threads")
    except Exception as e:
        if type(e).__name__ == "KilledWorker":
            raise RuntimeError(f"full-data pass: a Dask worker died on each of Dask's retries "
                               f"of a chunk ({e}); the pass is lost, the fit so far is "
                               "not") from e
        raise
    total = results[0]
    for r in results[1:]:
        total = _add(total, r)
    return total


class OnData:
    """The Model's methods for data on disk or on a cluster (mixed into `ppl.Model`)."""

    def full_value_and_grad(self, z, grad=True):
        """(log p(x, T(z)) + log|det J_T(z)|, its gradient in z) over all the data, as
        map-reduce over the chunks of data on disk: the terms outside the data plate once,
        plus the sum over chunks of the terms inside it (on Dask workers when the data are a
        Dask array or a distributed Client is connected). The gradient is None unless `grad`.
        For data in memory, one run."""
        v, g, _ = full_pass(self, z, "grad" if grad else "value")
        return v, g

    def full_log_density(self, z):
        """log p(x, T(z)) + log|det J_T(z)| over all the data, chunk by chunk (a float; for
        draws z of shape (S, D), their S values in one pass over the data)."""
        return full_pass(self, z, "value")[0]

    def full_hessian(self, z):
        """(log p, gradient, Hessian) at z over all the data, chunk by chunk (each chunk's
        Hessian by the engine's forward-over-reverse)."""
        return full_pass(self, z, "hessian")

    def full_mode(self, z0, gtol=1e-3, maxiter=50, hessian_rows=200_000, decrement=1e-10):
        """(z_hat, H): the mode of the unconstrained density by Newton's method on map-reduce
        gradients, z <- z + t (-H + tau I)^-1 g (tau = 0 unless -H is not positive definite),
        t halved until log p rises; H = the Hessian of -log p there. The Hessian of the data
        terms comes from about `hessian_rows` rows (whole chunks spread over the data, scaled
        by N / rows: sub-sampled Newton, Roosta-Khorasani and Mahoney 2016; the gradient, and
        so the mode, stay exact). Converged when max |g| <= gtol or the Newton decrement
        g^T (-H)^-1 g (twice the predicted rise, in nats: scale-free) is under `decrement`;
        "rises" allows the rounding of a sum over N rows (1e-12 |log p|), and a step that
        cannot rise by more than that is the mode when its decrement is under 1e-6 nats (at
        N = 5 x 10^7, log p ~ -2.5e7, the halvings otherwise ran 30 passes a step, 50
        steps). A FloatingPointError when it does not converge."""
        z = np.asarray(z0, dtype=float)
        v, g = self.full_value_and_grad(z)
        H = _hessian_estimate(self, z, hessian_rows)
        for _ in range(maxiter):
            if not (np.isfinite(v) and np.all(np.isfinite(g)) and np.all(np.isfinite(H))):
                break
            step = _ascent(-H, g)
            dec = float(g @ step)
            if np.max(np.abs(g)) <= gtol or dec < decrement:
                return z, -H
            slack = 1e-12 * abs(v)
            for t in 0.5 ** np.arange(30):
                if self.full_log_density(z + t * step) >= v - slack:
                    break
            else:
                if dec < 1e-6:          # no rise above rounding left: this is the mode
                    return z, -H
                break
            z = z + t * step
            v, g = self.full_value_and_grad(z)
            H = _hessian_estimate(self, z, hessian_rows)
        raise FloatingPointError(f"model {self.name!r}: Newton's method on the full data found "
                                 f"no mode in {maxiter} steps (|grad| {np.max(np.abs(g)):.3g})")

    def subsample(self, size, plate=None):
        """A copy of this Model whose plate `plate` draws minibatches of `size` rows where
        ADVI's gradient steps ask for them (default plate: the one over the data on disk, else
        the model's only plate); as `subsample_size=size` in the model's `ppl.plate`."""
        return with_subsample(self, size, plate)

    @property
    def subsampled(self):
        """{plate name: subsample size} of the plates that draw minibatches."""
        out = {n: b for n, (size, b, _) in self.plates.items() if b is not None and b < size}
        return {**out, **self.subsample_sizes}

    def anchored(self, z_anchor):
        """A copy whose minibatch estimates use a control variate at `z_anchor` (Johnson and
        Zhang, "Accelerating SGD using predictive variance reduction", 2013): with L(z) the sum
        of the data plate's terms, l_B(z) the scaled minibatch sum and d = z - z_anchor,

            L_hat(z) = l_B(z) - [l_B(z_a) + grad l_B(z_a) . d] + [L(z_a) + grad L(z_a) . d],

        unbiased as l_B is, its gradient grad l_B(z) - grad l_B(z_a) + grad L(z_a) exact at
        z_anchor, its variance shrinking with |z - z_anchor|^2 (not with N^2 / B). One full
        pass now; each minibatch then costs two gradient evaluations."""
        plates = list(self.subsampled)
        if len(plates) != 1:
            raise ValueError(f"model {self.name!r}: a control variate needs one subsampled "
                             f"plate, found {plates}")
        z_a = np.asarray(getval(z_anchor), dtype=float)
        v, g, _ = full_pass(self, z_a, "grad", outside=False, plate=plates[0])
        out = copy.copy(self)
        out.anchor = (plates[0], z_a, v, g)
        return out


def _hessian_estimate(model, z, rows):
    """The Hessian of log p at z: exact when the data on disk have at most `rows` rows, else
    the outside terms' exact Hessian plus N / n times that of n ~ `rows` rows in whole chunks
    spread evenly over the data."""
    bounds = next(iter(model.layouts.values()), None)
    if bounds is None or bounds[-1] <= rows or len(model.layouts) != 1:
        return full_pass(model, z, "hessian")[2]
    (plate,) = model.layouts
    sizes = np.diff(bounds)
    k = min(len(sizes), int(np.ceil(rows / sizes.mean())))
    picked = np.unique(np.linspace(0, len(sizes) - 1, k).round().astype(int))
    inside = full_pass(model, z, "hessian", outside=False, chunks=picked)[2]
    few = (0, _PROBE_ROWS)         # the outside terms: with and without, on a few rows
    H_out = _evaluate(_terms(model, plate, few, True), z, "hessian")[2] - \
        _evaluate(_terms(model, plate, few, False), z, "hessian")[2]
    return H_out + inside * (bounds[-1] / sizes[picked].sum())


def _ascent(A, g):
    """A^-1 g, with A + tau I for the smallest tau in 0, b, 2b, 4b, ... (b = 1e-3 max |A_ii|)
    that is positive definite (as `autodiff.minimize_newton`)."""
    tau, b = 0.0, 1e-3 * max(1.0, float(np.max(np.abs(np.diag(A)))))
    while True:
        try:
            L = np.linalg.cholesky(A + tau * np.eye(len(g)))
            return np.linalg.solve(L.T, np.linalg.solve(L, g))
        except np.linalg.LinAlgError:
            tau = b if tau == 0.0 else 2.0 * tau


def anchored_log_density(model, z, rng, jacobian=True):
    """The minibatch estimate of log p(z) with the model's control variate (`anchored`)."""
    from .model import _Unconstrained
    plate, z_a, v_full, g_full = model.anchor
    h = _Unconstrained(model.unflatten(z), model.centring)
    sites = model._run(model._minibatches(rng), h)
    model._check_sites(sites)
    lp = model._log_joint(sites)
    if jacobian:
        lp = lp + h.log_det
    drawn = next((p for m in sites.values() for p in m["plates"] if p.name == plate), None)
    if drawn is None or drawn.scale == 1.0:
        return lp
    v_b, g_b, _ = _evaluate(_terms(model, plate, drawn.indices, False), z_a, "grad")
    d = z - z_a
    return lp + (v_full - drawn.scale * v_b) + ad.sum(d * (g_full - drawn.scale * g_b))
