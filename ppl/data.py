"""Data a model reads by rows: numpy arrays, `np.memmap`, Zarr arrays and Dask arrays.

A `Source` wraps one array behind a small interface: `len`, `shape`, the row `boundaries` of
its chunks, `take(indices)` (reads only the chunks the rows fall in, each as one contiguous
slice), `read(start, stop)` and `chunks()` (iteration over chunks). A Model bound to a memmap,
a Zarr array or a Dask array wraps it in a Source, so the model function's `X[idx]` reads only
the rows a plate asks for; `source(x, chunk_rows=...)` also chunks an in-memory array.

Minibatches over chunked data (`draw_minibatch`): a plate with `subsample_size` B drawn over
K blocks (the chunks, a chunk shorter than a block's share merged into its neighbour) picks
k = `blocks` blocks with probability proportional to their size n_b / N, with replacement, and
m = B // k rows uniformly without replacement inside each; each read is then one contiguous
slice of one chunk. The estimate of a sum over rows, sum_i l_i, is

    (N / (k m)) * sum over the k m drawn rows of l_i,

unbiased (Hansen and Hurwitz, 1943: each block's within-block estimate (n_b / m) sum l_i is
unbiased for its block total, divided by its selection probability n_b / N). Its variance is
the between-block variance of the block means (over k) plus the within-block variance (over
k m): for a store whose rows are in random order it equals that of k m rows drawn uniformly; for
rows sorted by a covariate (or by time) the block means differ and the gradient's variance grows
with their spread. Raise `blocks` (more chunks read per step) or shuffle the rows when writing.
With one block (numpy data) the draw is the uniform one, with scale N / B. A step reads
`blocks` chunks (Zarr decodes a whole chunk to read rows of it): choose chunks of 10^4 to
10^5 rows so that this costs milliseconds.

    >>> import numpy as np
    >>> s = source(np.arange(10.0), chunk_rows=4)
    >>> s.boundaries.tolist(), s.take(np.array([5, 1, 5])).tolist()
    ([0, 4, 8, 10], [5.0, 1.0, 5.0])
"""
import numpy as np

__all__ = ["Source", "source", "is_chunked", "draw_minibatch", "merge_boundaries",
           "zarr_array"]

_MEMMAP_CHUNK_BYTES = 16 * 2**20   # a memmap is read in chunks of about this many bytes


def _kind(x):
    """'source', 'memmap', 'zarr', 'dask', 'numpy' or None (not an array source)."""
    if isinstance(x, Source):
        return "source"
    if isinstance(x, np.memmap):
        return "memmap"
    top = type(x).__module__.split(".")[0]
    if top == "zarr" and hasattr(x, "chunks") and hasattr(x, "shape"):
        return "zarr"
    if top == "dask" and hasattr(x, "chunks") and hasattr(x, "to_delayed"):
        return "dask"
    if isinstance(x, np.ndarray):
        return "numpy"
    return None


def zarr_array(group, name, shape, chunks=None, dtype="float64", compress=True):
    """A new array `name` in an open Zarr group, on zarr 3 (`create_array`, what pip gives on
    Python >= 3.11) and zarr 2 (`create_dataset`, Python 3.10); uncompressed if not
    `compress` (random floats do not compress: the codec costs time for nothing)."""
    if hasattr(group, "create_array"):
        extra = {} if compress else {"compressors": None}
        return group.create_array(name, shape=shape, chunks=chunks or shape, dtype=dtype,
                                  **extra)
    extra = {} if compress else {"compressor": None}
    if np.dtype(dtype).kind in "OUS":       # zarr 2 keeps text as objects with a codec
        from numcodecs import VLenUTF8  # noqa: PLC0415 -- zarr 2's own dependency
        dtype, extra = object, {**extra, "object_codec": VLenUTF8()}
    return group.create_dataset(name, shape=shape, chunks=chunks or shape, dtype=dtype, **extra)


def is_chunked(x):
    """Whether a model argument is data read by rows (a memmap, a Zarr or Dask array, or a
    Source): a Model then reads it chunk by chunk rather than in full."""
    return _kind(x) in ("source", "memmap", "zarr", "dask")


def source(x, chunk_rows=None):
    """Wrap an array (numpy, memmap, Zarr, Dask) as a `Source` read by rows.

    chunk_rows: rows per chunk for a numpy array or memmap (default: one chunk for numpy,
    about 16 MB for a memmap); Zarr and Dask arrays keep their own chunks along axis 0.
    """
    if isinstance(x, Source):
        return x
    return Source(x, chunk_rows)


class Source:
    """An array read by rows (axis 0), holding nothing in memory but what a read returns.

    `rows_read` counts the rows read from the backing array (from the first to the last row
    asked for in each chunk touched), so tests and benchmarks can check that a pass reads each
    row once; `largest_read`, the most rows one read held (a pass: one chunk). The last
    `take` is kept, so a minibatch read twice (a control variate's second evaluation) is read
    once.
    """

    def __init__(self, array, chunk_rows=None):
        kind = _kind(array)
        if kind is None or kind == "source":
            raise TypeError("ppl.data.source: expected a numpy array, np.memmap, Zarr array or "
                            f"Dask array, got {type(array).__name__}")
        if len(array.shape) == 0:
            raise ValueError("ppl.data.source: a data source needs at least one axis (rows), "
                             "got a scalar")
        if kind == "dask":
            import dask.array as da
            if any(len(c) > 1 for c in array.chunks[1:]):   # one chunk across each row
                array = array.rechunk({i: -1 for i in range(1, array.ndim)})
            assert isinstance(array, da.Array)
        self.array, self.kind = array, kind
        self.shape, self.dtype = tuple(int(n) for n in array.shape), np.dtype(array.dtype)
        n = self.shape[0]
        if chunk_rows is not None and (isinstance(chunk_rows, bool) or int(chunk_rows) !=
                                       chunk_rows or chunk_rows < 1):
            raise ValueError(f"ppl.data.source: chunk_rows must be a positive integer, got "
                             f"{chunk_rows!r}")
        if kind == "zarr":
            step = int(array.chunks[0])
        elif kind == "dask":
            self.boundaries = np.concatenate([[0], np.cumsum(array.chunks[0])]).astype(np.int64)
            step = None
        elif chunk_rows is not None:
            step = int(chunk_rows)
        elif kind == "memmap":
            row = max(1, self.dtype.itemsize * int(np.prod(self.shape[1:], dtype=np.int64)))
            step = max(1, _MEMMAP_CHUNK_BYTES // row)
        else:
            step = max(n, 1)
        if step is not None:
            self.boundaries = np.unique(np.r_[np.arange(0, n, step), n]).astype(np.int64)
        self.rows_read, self.largest_read, self._last = 0, 0, None

    ndim = property(lambda self: len(self.shape))
    size = property(lambda self: int(np.prod(self.shape, dtype=np.int64)))

    def __len__(self):
        return self.shape[0]

    def __repr__(self):
        return (f"Source({self.kind}, shape={self.shape}, dtype={self.dtype}, "
                f"{len(self.boundaries) - 1} chunk(s))")

    def __array__(self, dtype=None, copy=None):
        raise TypeError(ROWS_ONLY)

    def __reduce__(self):
        if self.kind == "memmap":             # a memmap pickles as its data: reopen the file
            a = self.array
            return (_reopen_memmap, (a.filename, a.dtype, a.shape, a.offset, self.boundaries))
        return (_rebuild, (self.array, self.boundaries))

    def read(self, start, stop):
        """Rows start:stop as a numpy array (one contiguous read)."""
        start, stop = int(start), int(stop)
        self.rows_read += max(0, stop - start)
        self.largest_read = max(self.largest_read, stop - start)
        part = self.array[start:stop]
        if self.kind == "dask":
            part = part.compute()
        return np.asarray(part)

    def take(self, indices):
        """Rows `indices` (integers, any order, repeats allowed) as a numpy array, reading for
        each chunk they fall in one slice from the first to the last row asked for there."""
        idx = np.asarray(indices)
        if idx.dtype.kind not in "iu":
            raise TypeError(f"Source.take: indices must be integers, got dtype {idx.dtype}")
        flat = idx.reshape(-1).astype(np.int64)
        n = len(self)
        if flat.size and (flat.min() < -n or flat.max() >= n):
            raise IndexError(f"Source.take: index out of range for {n} rows")
        flat = np.where(flat < 0, flat + n, flat)
        last = self._last
        if last is not None and last[0].shape == flat.shape and np.array_equal(last[0], flat):
            return last[1].reshape(idx.shape + self.shape[1:])   # the same minibatch again
        out = self._take(flat)
        self._last = (flat, out)
        return out.reshape(idx.shape + self.shape[1:])

    def _take(self, flat):
        uniq, inverse = np.unique(flat, return_inverse=True)
        if uniq.size == 0:
            return np.empty((0,) + self.shape[1:], self.dtype)
        chunk = np.searchsorted(self.boundaries, uniq, side="right") - 1
        cuts = np.flatnonzero(np.diff(chunk)) + 1
        parts, spans = [], []
        for group in np.split(uniq, cuts):
            lo, hi = int(group[0]), int(group[-1]) + 1
            spans.append((lo, group - lo))
            self.rows_read += hi - lo
            self.largest_read = max(self.largest_read, hi - lo)
            if self.kind != "zarr":
                parts.append(self.array[lo:hi])
        if self.kind == "zarr":        # one call: Zarr reads the chunks touched concurrently
            return np.asarray(self.array.oindex[uniq])[inverse]
        if self.kind == "dask":
            import dask
            parts = dask.compute(*parts)
        rows = np.concatenate([np.asarray(p)[offsets] for p, (_, offsets) in zip(parts, spans)])
        return rows[inverse]

    def __getitem__(self, key):
        """`x[idx]` (integer array), `x[i]`, `x[a:b]`, or a tuple whose first entry picks rows
        (the rest applied to those rows in memory)."""
        rest = ()
        if isinstance(key, tuple):
            key, rest = (key[0], key[1:]) if key else (slice(None), ())
        if isinstance(key, slice):
            start, stop, step = key.indices(len(self))
            rows = self.read(start, stop) if step == 1 else \
                self.take(np.arange(start, stop, step))
        elif isinstance(key, (int, np.integer)):
            rows = self.take(np.array([key]))[0]
        elif key is Ellipsis:
            rows, rest = self.read(0, len(self)), (Ellipsis,) + rest
        else:
            rows = self.take(key)
        if not rest:
            return rows
        return rows[rest] if np.ndim(rows) < len(self.shape) else rows[(slice(None),) + rest]

    def chunks(self):
        """Iterate over (start, stop, rows start:stop) chunk by chunk."""
        for lo, hi in zip(self.boundaries[:-1], self.boundaries[1:]):
            yield int(lo), int(hi), self.read(lo, hi)


ROWS_ONLY = ("data on disk (a memmap, Zarr or Dask array) are read by rows: index them with the "
             "indices of the plate over them (`with ppl.plate(...) as idx:` then x[idx]), or "
             "read them whole with x[:]")


def _rebuild(array, boundaries):
    s = Source(array)
    s.boundaries = boundaries
    return s


def _reopen_memmap(filename, dtype, shape, offset, boundaries):
    return _rebuild(np.memmap(filename, dtype=dtype, mode="r", shape=shape, offset=offset),
                    boundaries)


class Slab:
    """One chunk (rows start:start+len(rows)) of a Source with N rows, in memory, answering
    the model function as the whole Source would: len N, reads by global row index. What a
    full-data pass gives the model for each chunk (locally, or on a Dask worker)."""

    def __init__(self, rows, start, shape):
        self.rows, self.start = rows, int(start)
        self.shape, self.dtype = tuple(shape), rows.dtype
        self.stop = self.start + len(rows)

    ndim = property(lambda self: len(self.shape))

    def __len__(self):
        return self.shape[0]

    def __repr__(self):
        return f"Slab(rows {self.start}:{self.stop} of {self.shape})"

    def _local(self, key):
        if isinstance(key, slice):
            start, stop, step = key.indices(self.shape[0])
            key = np.arange(start, stop, step)
        idx = np.asarray(key)
        if idx.dtype.kind not in "iu":
            raise TypeError(f"data rows must be picked by integers, got dtype {idx.dtype}")
        if idx.size and (idx.min() < self.start or idx.max() >= self.stop):
            raise IndexError(f"a full-data pass over rows {self.start}:{self.stop} read rows "
                             "outside them: index data on disk only by the indices of the plate "
                             "over them (with ppl.plate(...) as idx: x[idx])")
        return idx - self.start

    def __getitem__(self, key):
        rest = ()
        if isinstance(key, tuple):
            key, rest = key[0], key[1:]
        local = self._local(key)
        rows = self.rows[local]
        return rows[(slice(None),) * np.ndim(local) + rest] if rest else rows

    def take(self, indices):
        return self.rows[self._local(indices)]

    def __array__(self, dtype=None, copy=None):
        raise TypeError(ROWS_ONLY)


def merge_boundaries(boundaries, min_rows):
    """Chunk boundaries with every block at least `min_rows` long (a short block joins its
    left neighbour, or the right one for the first)."""
    b = [int(v) for v in boundaries]
    out = [b[0]]
    for v in b[1:-1]:
        if v - out[-1] >= min_rows:
            out.append(v)
    out.append(b[-1])
    if len(out) > 2 and out[-1] - out[-2] < min_rows:
        del out[-2]
    return np.asarray(out, dtype=np.int64)


def draw_minibatch(rng, size, subsample_size, boundaries=None, blocks=4):
    """(indices, scale) of a minibatch of a plate of `size` rows, as explained in the module
    docstring: sum over the drawn rows of l_i, times scale, is unbiased for sum_i l_i.

    Without chunk `boundaries` (or with one block) the draw is uniform without replacement,
    scale = size / subsample_size. Otherwise k = min(blocks, subsample_size) blocks drawn with
    probability n_b / N (with replacement), m = subsample_size // k rows without replacement in
    each: scale = N / (k m).
    """
    size, subsample_size = int(size), int(subsample_size)
    k = max(1, min(int(blocks), subsample_size))
    m = subsample_size // k
    bounds = None if boundaries is None else merge_boundaries(boundaries, m)
    if bounds is None or len(bounds) <= 2:
        idx = np.sort(rng.choice(size, subsample_size, replace=False))
        return idx, size / subsample_size
    sizes = np.diff(bounds)
    picked = np.sort(rng.choice(len(sizes), k, replace=True, p=sizes / size))
    parts = [bounds[b] + np.sort(rng.choice(sizes[b], m, replace=False)) for b in picked]
    return np.concatenate(parts), size / (k * m)
