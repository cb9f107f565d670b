"""MNIST data for the examples: an IDX reader, a checksummed downloader and an offline default.

    from models.datasets import default_data, load_mnist
    data = default_data()               # offline: see "The offline default" below
    X, y = data["train"]                # float32 (n, 784) in [0, 1], int64 (n,)
    X, y = load_mnist("test", data_dir="/usr/share/datasets/fashion-mnist")

Files are in the IDX format of LeCun, Cortes and Burges (the MNIST database): a 4-byte magic
number (two zero bytes, a dtype byte, the number of dimensions), one big-endian uint32 per
dimension, then the data, row-major. Fashion-MNIST (Xiao, Rasul and Vollgraf, 2017) uses the
same format and the same file names.

Nothing here touches the network unless asked: `download(...)`, `load_mnist(download=True)` or
the command line `python -m models.datasets download`. Downloads go to a cache directory,
`$WENGERT_DATA` or `~/.cache/wengert` (MNIST in its `mnist/` folder), created on demand; each file
is written to a temporary file next to its destination, its SHA-256 checked, and only then
renamed into place, so an interrupted or corrupted download leaves nothing behind.

The offline default, `default_data()`, takes the first of these that exists:
  1. the full MNIST (60,000 + 10,000) in `data_dir` or in the cache (after a download);
  2. the folder named by `$WENGERT_MNIST_DIR` (the full set, or the 10,000 test digits alone);
  3. `../shared/data/mnist` next to the repository (development machines: test digits only);
  4. Fashion-MNIST from Debian's `dataset-fashion-mnist` in /usr/share/datasets/fashion-mnist;
  5. otherwise synthetic digits (`models.synthetic_digits`, NOT MNIST: stroke templates under
     random distortions, 8,000 train / 2,000 test), with a warning saying how to get MNIST,
so the examples run on a fresh machine with no network. A folder with only the 10,000 test
digits (`t10k-*`) is split 8,000 train / 2,000 test by a fixed permutation. An explicit
`data_dir` without MNIST files raises FileNotFoundError instead of falling back.
"""
import gzip
import hashlib
import os
import struct
import sys
import tempfile
import urllib.error
import urllib.request
import warnings
from pathlib import Path

import numpy as np

from models.synthetic_digits import synthetic_digits

__all__ = ["MNIST_FILES", "DEFAULT_MNIST_URL", "DownloadError", "read_idx", "cache_dir",
           "download", "load_mnist", "default_data", "find_mnist_dir"]

# SHA-256 of the four standard gzipped MNIST files (9,912,422 / 28,881 / 1,648,877 / 4,542
# bytes), the same in the download tables of many public projects (e.g. for the ossci-datasets
# and cvdf-datasets mirrors). torchvision itself lists MD5s. Not checked by downloading here;
# the decompressed t10k files of ../shared match LeCun's published MD5s.
MNIST_FILES = {
    "train-images-idx3-ubyte.gz":
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte.gz":
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte.gz":
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz":
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}
DEFAULT_MNIST_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/"
FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
SHARED_MNIST_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"
SYNTHETIC_SOURCE = ("synthetic digits (no MNIST found: python -m models.datasets download, "
                    "or --data DIR)")

# IDX dtype byte -> numpy dtype (big-endian on disk)
_IDX_DTYPES = {0x08: np.dtype("u1"), 0x09: np.dtype("i1"), 0x0B: np.dtype(">i2"),
               0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


class DownloadError(OSError):
    """A download failed: HTTP error, unreachable server or a transfer cut short."""


def read_idx(path):
    """Read an IDX file (gzipped or not, told apart by its first bytes) into a numpy array.

    Raises ValueError naming the file when the magic number, the dtype byte or the size does not
    match: a truncated file, trailing bytes or a file that is not IDX at all.

    >>> import gzip, tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "x.gz")
    >>> with gzip.open(p, "wb") as f:
    ...     _ = f.write(bytes([0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6]))
    >>> read_idx(p)
    array([[1, 2, 3],
           [4, 5, 6]], dtype=uint8)
    """
    path = Path(path)
    with open(path, "rb") as f:
        data = f.read()
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, gzip.BadGzipFile) as e:
            raise ValueError(f"{path}: not a valid gzip file ({e}); truncated download?") from e
    if len(data) < 4 or data[:2] != b"\x00\x00":
        raise ValueError(f"{path}: not an IDX file: expected magic bytes 00 00 <dtype> <ndim>, "
                         f"found {data[:4].hex(' ') or 'an empty file'}")
    code, ndim = data[2], data[3]
    if code not in _IDX_DTYPES:
        raise ValueError(f"{path}: unknown IDX dtype byte 0x{code:02x}: expected one of "
                         + ", ".join(f"0x{c:02x}" for c in _IDX_DTYPES))
    if ndim == 0:
        raise ValueError(f"{path}: IDX header says 0 dimensions: expected at least 1")
    offset = 4 + 4 * ndim
    if len(data) < offset:
        raise ValueError(f"{path}: truncated header: expected {offset} bytes, found {len(data)}")
    shape = struct.unpack(f">{ndim}I", data[4:offset])
    dtype = _IDX_DTYPES[code]
    expected = offset + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected:
        what = "truncated" if len(data) < expected else "trailing bytes"
        raise ValueError(f"{path}: {what}: header says shape {shape} of {dtype.name}, "
                         f"expected {expected} bytes, found {len(data)}")
    return np.frombuffer(data, dtype, offset=offset).reshape(shape).astype(dtype.newbyteorder("="))


def cache_dir():
    """The download cache: `$WENGERT_DATA` or `~/.cache/wengert` (not created here)."""
    return Path(os.environ.get("WENGERT_DATA") or Path.home() / ".cache" / "wengert")


def _sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _download_one(url, dest, sha256, progress, timeout):
    """Stream `url` into a temporary file beside `dest`, check it, then rename it into place."""
    from tqdm.auto import tqdm

    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    try:
        h = hashlib.sha256()
        try:
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as r:
                length = r.headers.get("Content-Length")
                length = int(length) if length else None
                got = 0
                with tqdm(total=length, unit="B", unit_scale=True, desc=dest.name,
                          disable=not progress, leave=False) as bar:
                    while chunk := r.read(1 << 16):
                        out.write(chunk)
                        h.update(chunk)
                        got += len(chunk)
                        bar.update(len(chunk))
                out.flush()
                os.fsync(out.fileno())
        except urllib.error.HTTPError as e:
            raise DownloadError(f"downloading {url} failed: HTTP {e.code} {e.reason}") from e
        except (urllib.error.URLError, OSError) as e:
            raise DownloadError(f"downloading {url} failed: {e}") from e
        if length is not None and got != length:
            raise DownloadError(f"downloading {url} failed: the transfer stopped after {got} "
                                f"of {length} bytes")
        if sha256 is not None and h.hexdigest() != sha256:
            raise ValueError(f"checksum mismatch for {url}: expected SHA-256 {sha256}, "
                             f"got {h.hexdigest()} ({got} bytes); nothing was saved")
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def download(name_or_files="mnist", data_dir=None, base_url=None, progress=None, timeout=60.0):
    """Download files with SHA-256 checks into a cache folder; return their paths.

    `name_or_files`: "mnist" (the four files of MNIST_FILES), one of its file names, or a dict
    {file name: SHA-256 hex or None}. `data_dir`: default `cache_dir() / "mnist"`. `base_url`:
    default `$WENGERT_MNIST_URL` or DEFAULT_MNIST_URL. `progress`: a tqdm bar (default: when
    stdout is a terminal). A file already there with the right checksum is not fetched again.
    Raises DownloadError (an OSError) when the server fails or the transfer is cut short, and
    ValueError on a checksum mismatch; either way no partial file is left behind.
    """
    if isinstance(name_or_files, dict):
        files = dict(name_or_files)
    elif name_or_files == "mnist":
        files = dict(MNIST_FILES)
    elif name_or_files in MNIST_FILES:
        files = {name_or_files: MNIST_FILES[name_or_files]}
    else:
        raise ValueError(f"unknown download {name_or_files!r}: expected 'mnist', one of "
                         f"{sorted(MNIST_FILES)} or a dict {{file name: sha256}}")
    base_url = base_url or os.environ.get("WENGERT_MNIST_URL") or DEFAULT_MNIST_URL
    if not base_url.endswith("/"):
        base_url += "/"
    folder = Path(data_dir) if data_dir is not None else cache_dir() / "mnist"
    if progress is None:
        progress = sys.stdout.isatty()
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, sha256 in files.items():
        dest = folder / name
        if not (dest.exists() and (sha256 is None or _sha256(dest) == sha256)):
            _download_one(base_url + name, dest, sha256, progress, timeout)
        paths.append(dest)
    return paths


_fetch = download  # load_mnist's argument `download` hides the function


def _find(folder, prefix, kind):
    """The path of `{prefix}-{kind}` in `folder` under its usual spellings, or None."""
    for name in (f"{prefix}-{kind}-ubyte.gz", f"{prefix}-{kind}-ubyte",
                 f"{prefix}-{kind.replace('-', '.')}-ubyte.gz",
                 f"{prefix}-{kind.replace('-', '.')}-ubyte"):
        if (Path(folder) / name).is_file():
            return Path(folder) / name
    return None


def _read_split(folder, prefix):
    """(images float32 (n, 784) in [0, 1], labels int64 (n,)) from `folder`, or None."""
    img, lab = _find(folder, prefix, "images-idx3"), _find(folder, prefix, "labels-idx1")
    if img is None or lab is None:
        return None
    images, labels = read_idx(img), read_idx(lab)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise ValueError(f"{img} and {lab}: expected images (n, rows, cols) and labels (n,), "
                         f"found {images.shape} and {labels.shape}")
    X = images.reshape(len(images), -1).astype(np.float32)
    X /= 255.0
    return X, labels.astype(np.int64)


def load_mnist(split="train", data_dir=None, download=False):
    """Load one split of MNIST (or Fashion-MNIST, same files): (images, labels).

    Images are float32 (n, 784) in [0, 1], labels int64 (n,). Looks in `data_dir` when given,
    else in the cache (`cache_dir() / "mnist"`); gzipped and uncompressed file names both work.
    With `download=True` missing files are fetched (see `download`) into that folder.
    """
    prefix = {"train": "train", "test": "t10k"}.get(split)
    if prefix is None:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    folder = Path(data_dir) if data_dir is not None else cache_dir() / "mnist"
    out = _read_split(folder, prefix) if folder.is_dir() else None
    if out is None and download:
        _fetch({n: s for n, s in MNIST_FILES.items() if n.startswith(prefix)}, data_dir=folder)
        out = _read_split(folder, prefix)
    if out is None:
        raise FileNotFoundError(f"no MNIST {split} files ({prefix}-images-idx3-ubyte[.gz], "
                                f"{prefix}-labels-idx1-ubyte[.gz]) in {folder}: run "
                                f"`python -m models.datasets download` or pass download=True")
    return out


def find_mnist_dir(data_dir=None):
    """The folder `default_data` would read: (path, has the training files), or (None, False)."""
    candidates = [data_dir] if data_dir is not None else [
        cache_dir() / "mnist", os.environ.get("WENGERT_MNIST_DIR"), SHARED_MNIST_DIR,
        FASHION_MNIST_DIR]
    for i, folder in enumerate(candidates):
        if not folder or not Path(folder).is_dir():
            continue
        has_test = _find(folder, "t10k", "images-idx3") and _find(folder, "t10k", "labels-idx1")
        has_train = bool(_find(folder, "train", "images-idx3")
                         and _find(folder, "train", "labels-idx1"))
        # the cache counts only when complete; the other folders may hold the test set alone
        if has_test and (has_train or data_dir is not None or i > 0):
            return Path(folder), has_train
    return None, False


def default_data(seed=0, data_dir=None):
    """The offline default data set: dict(train=(X, y), test=(X, y), source=str).

    See the module docstring for the search order. With only the 10,000 test digits, they are
    split 8,000 train / 2,000 test by the permutation `default_rng(seed)` gives. When no MNIST
    is found anywhere (and `data_dir` is None) it warns and returns 8,000 + 2,000 synthetic
    digits (`synthetic_digits`, train and test from the two seeds of
    `numpy.random.SeedSequence(seed).spawn(2)`) with `source` starting "synthetic digits"; an
    explicit `data_dir` without MNIST files raises FileNotFoundError.
    """
    folder, full = find_mnist_dir(data_dir)
    if folder is None and data_dir is None:
        warnings.warn(f"using {SYNTHETIC_SOURCE}; accuracies on it say little about MNIST",
                      stacklevel=2)
        seeds = np.random.SeedSequence(seed).spawn(2)
        return dict(train=synthetic_digits(8000, seeds[0]), test=synthetic_digits(2000, seeds[1]),
                    source=SYNTHETIC_SOURCE)
    if folder is None:
        raise FileNotFoundError(
            f"no MNIST files in {data_dir}. Download MNIST (~11 MB) once with "
            f"`python -m models.datasets download`, or give a folder of IDX files (e.g. "
            f"`--data {FASHION_MNIST_DIR}` after `apt-get install dataset-fashion-mnist`)")
    name = "Fashion-MNIST" if "fashion" in str(folder).lower() else "MNIST"
    test = _read_split(folder, "t10k")
    if full:
        train = _read_split(folder, "train")
        source = f"{name} {len(train[0]):,} train / {len(test[0]):,} test from {folder}"
        return dict(train=train, test=test, source=source)
    X, y = test
    perm = np.random.default_rng(seed).permutation(len(X))
    n_test = len(X) // 5
    tr, te = perm[:-n_test], perm[-n_test:]
    source = (f"{name} test set split {len(tr):,} train / {n_test:,} test (seed {seed}) "
              f"from {folder}")
    return dict(train=(X[tr], y[tr]), test=(X[te], y[te]), source=source)


def _main(argv=None):
    import argparse

    p = argparse.ArgumentParser(prog="python -m models.datasets",
                                description="Download MNIST or show which data the examples use.")
    sub = p.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("download", help="download the four MNIST files with SHA-256 checks")
    d.add_argument("--dir", default=None, help=f"target folder (default {cache_dir()}/mnist)")
    d.add_argument("--base-url", default=None, help=f"mirror (default {DEFAULT_MNIST_URL})")
    i = sub.add_parser("info", help="show the cache and the data the examples would use (the "
                       "first of: cache, $WENGERT_MNIST_DIR, ../shared/data/mnist, "
                       "Fashion-MNIST, synthetic digits)")
    i.add_argument("--data", default=None, help="a folder of IDX files to inspect")
    args = p.parse_args(argv)
    if args.cmd == "download":
        try:
            paths = download("mnist", data_dir=args.dir, base_url=args.base_url, progress=True)
        except (OSError, ValueError) as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
        for path in paths:
            print(f"{path}  ok (SHA-256 verified)")
        return 0
    print(f"cache: {cache_dir() / 'mnist'}")
    if args.data is None:
        print(f"search order: the cache (full MNIST), $WENGERT_MNIST_DIR, {SHARED_MNIST_DIR}, "
              f"{FASHION_MNIST_DIR}, then synthetic digits")
    try:
        with warnings.catch_warnings():       # the source line below says it
            warnings.simplefilter("ignore")
            data = default_data(data_dir=args.data)
    except FileNotFoundError as e:
        print(e)
        return 1
    print(f"default data: {data['source']}")
    if data["source"] == SYNTHETIC_SOURCE:
        print("  NOT MNIST: a synthetic stand-in so the examples run offline; accuracies on it "
              "say little about MNIST")
    for split in ("train", "test"):
        X, y = data[split]
        print(f"  {split}: images {X.shape} {X.dtype}, labels {y.shape} {y.dtype}, "
              f"label counts {np.bincount(y, minlength=10).tolist()}")
    return 0


if __name__ == "__main__":
    sys.exit(_main())
