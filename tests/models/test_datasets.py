"""IDX reader, downloader (against a loopback HTTP server only) and the offline default."""
import gzip
import hashlib
import http.server
import struct
import threading
from pathlib import Path

import numpy as np
import pytest

from models import datasets as ds

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "mnist"


def idx_bytes(a, code=0x08):
    a = np.asarray(a)
    dtype = {0x08: ">u1", 0x0D: ">f4", 0x0C: ">i4"}[code]
    return (bytes([0, 0, code, a.ndim]) + struct.pack(f">{a.ndim}I", *a.shape)
            + a.astype(dtype).tobytes())


def write(path, data, gz=False):
    path = Path(path)
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


@pytest.fixture
def images():
    return np.random.default_rng(0).integers(0, 256, size=(5, 28, 28), dtype=np.uint8)


# ---- read_idx ---------------------------------------------------------------------------------

@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_images_and_labels(tmp_path, images, gz):
    labels = np.array([3, 1, 4, 1, 5], np.uint8)
    # the name says nothing: gzip is told by the magic bytes
    a = ds.read_idx(write(tmp_path / "imgs.bin", idx_bytes(images), gz))
    b = ds.read_idx(write(tmp_path / "labs.gz", idx_bytes(labels), gz))
    assert a.dtype == np.uint8 and a.shape == (5, 28, 28)
    np.testing.assert_array_equal(a, images)
    np.testing.assert_array_equal(b, labels)


def test_read_idx_big_endian_floats(tmp_path):
    x = np.arange(6, dtype=np.float32).reshape(2, 3) / 7
    a = ds.read_idx(write(tmp_path / "f.idx", idx_bytes(x, 0x0D)))
    assert a.dtype == np.float32 and a.dtype.isnative
    np.testing.assert_array_equal(a, x)


@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_truncated(tmp_path, images, gz):
    data = idx_bytes(images)[:-100]
    p = write(tmp_path / "cut-images-idx3-ubyte", data, gz)
    with pytest.raises(ValueError, match=r"cut-images-idx3-ubyte: truncated.*\(5, 28, 28\).*"
                                         r"expected 3936 bytes, found 3836"):
        ds.read_idx(p)


def test_read_idx_truncated_gzip_stream(tmp_path, images):
    p = write(tmp_path / "x.gz", gzip.compress(idx_bytes(images))[:500])
    with pytest.raises(ValueError, match="x.gz: not a valid gzip file"):
        ds.read_idx(p)


def test_read_idx_trailing_bytes_and_short_header(tmp_path, images):
    with pytest.raises(ValueError, match="trailing bytes"):
        ds.read_idx(write(tmp_path / "t", idx_bytes(images) + b"\0"))
    with pytest.raises(ValueError, match="truncated header: expected 16 bytes, found 9"):
        ds.read_idx(write(tmp_path / "h", idx_bytes(images)[:9]))


@pytest.mark.parametrize("head, message", [
    (b"\x89PNG\r\n\x1a\n", "not an IDX file: expected magic bytes 00 00 <dtype> <ndim>, found 89"),
    (b"", "found an empty file"),
    (bytes([0, 0, 0x07, 1]) + struct.pack(">I", 1) + b"\0", "unknown IDX dtype byte 0x07"),
    (bytes([0, 0, 0x08, 0]), "0 dimensions"),
])
def test_read_idx_wrong_files(tmp_path, head, message):
    with pytest.raises(ValueError, match=message):
        ds.read_idx(write(tmp_path / "bad.idx", head))


# ---- load_mnist / default_data ----------------------------------------------------------------

def make_mnist_dir(folder, n_train=0, n_test=10, names="gz"):
    """Small MNIST-like files; `names`: 'gz', 'raw' (uncompressed) or 'dotted' (images.idx3)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    out = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        if not n:
            continue
        X = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        y = rng.integers(0, 10, size=n).astype(np.uint8)
        for kind, a in (("images-idx3", X), ("labels-idx1", y)):
            name = f"{prefix}-{kind}-ubyte" if names != "dotted" else \
                f"{prefix}-{kind.replace('-', '.')}-ubyte"
            gz = names == "gz"
            write(folder / (name + ".gz" * gz), idx_bytes(a), gz)
        out[prefix] = X, y
    return out


@pytest.mark.parametrize("names", ["gz", "raw", "dotted"])
def test_load_mnist_from_a_folder(tmp_path, names):
    raw = make_mnist_dir(tmp_path, n_train=7, n_test=4, names=names)
    X, y = ds.load_mnist("train", data_dir=tmp_path)
    assert X.dtype == np.float32 and X.shape == (7, 784) and y.dtype == np.int64
    np.testing.assert_array_equal(X * 255, raw["train"][0].reshape(7, 784).astype(np.float32))
    np.testing.assert_array_equal(y, raw["train"][1])
    assert ds.load_mnist("test", data_dir=tmp_path)[0].shape == (4, 784)


def test_load_mnist_missing_files_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="python -m models.datasets download"):
        ds.load_mnist("train", data_dir=tmp_path)
    with pytest.raises(ValueError, match="split must be"):
        ds.load_mnist("valid", data_dir=tmp_path)


def test_load_mnist_mismatched_counts(tmp_path):
    make_mnist_dir(tmp_path, n_test=4)
    write(tmp_path / "t10k-labels-idx1-ubyte.gz", idx_bytes(np.zeros(3, np.uint8)), gz=True)
    with pytest.raises(ValueError, match=r"\(4, 28, 28\) and \(3,\)"):
        ds.load_mnist("test", data_dir=tmp_path)


def test_default_data_splits_a_test_only_folder(tmp_path):
    raw = make_mnist_dir(tmp_path, n_test=50)
    d = ds.default_data(seed=3, data_dir=tmp_path)
    (Xtr, ytr), (Xte, yte) = d["train"], d["test"]
    assert len(Xtr) == 40 and len(Xte) == 10 and "split 40 train / 10 test" in d["source"]
    X, y = raw["t10k"]
    rows = {r.tobytes() + bytes([c]) for r, c in zip(X.reshape(50, -1), y)}
    both = zip((np.concatenate([Xtr, Xte]) * 255).astype(np.uint8), np.concatenate([ytr, yte]))
    assert {r.tobytes() + bytes([int(c)]) for r, c in both} == rows   # a permutation, pairs kept
    again = ds.default_data(seed=3, data_dir=tmp_path)
    np.testing.assert_array_equal(again["train"][0], Xtr)              # fixed by the seed


def test_default_data_search_order_and_fallback(tmp_path, monkeypatch):
    monkeypatch.setenv("WENGERT_DATA", str(tmp_path / "cache"))
    monkeypatch.delenv("WENGERT_MNIST_DIR", raising=False)
    monkeypatch.setattr(ds, "SHARED_MNIST_DIR", tmp_path / "none1")
    monkeypatch.setattr(ds, "FASHION_MNIST_DIR", tmp_path / "none2")
    with pytest.warns(UserWarning, match="synthetic digits"):
        assert ds.default_data()["source"].startswith("synthetic digits")
    make_mnist_dir(tmp_path / "fashion", n_train=6, n_test=3)
    monkeypatch.setattr(ds, "FASHION_MNIST_DIR", tmp_path / "fashion")
    assert ds.default_data()["source"].startswith("Fashion-MNIST 6 train / 3 test")
    make_mnist_dir(tmp_path / "env", n_test=10)
    monkeypatch.setenv("WENGERT_MNIST_DIR", str(tmp_path / "env"))
    assert "split 8 train / 2 test" in ds.default_data()["source"]
    make_mnist_dir(tmp_path / "cache" / "mnist", n_test=5)        # an incomplete cache is skipped
    assert "split 8 train / 2 test" in ds.default_data()["source"]
    make_mnist_dir(tmp_path / "cache" / "mnist", n_train=12, n_test=5)
    assert ds.default_data()["source"].startswith("MNIST 12 train / 5 test")


@pytest.mark.skipif(not SHARED.is_dir(), reason="no ../shared/data/mnist on this machine")
def test_real_mnist_test_set():
    # published MD5s of the decompressed original files: the reader must return exactly the
    # bytes after the header
    published = {"t10k-images-idx3-ubyte.gz": "2646ac647ad5339dbf082846283269ea",
                 "t10k-labels-idx1-ubyte.gz": "27ae3e4e09519cfbb04c329615203637"}
    for name, md5 in published.items():
        raw = gzip.decompress((SHARED / name).read_bytes())
        assert hashlib.md5(raw).hexdigest() == md5
        a = ds.read_idx(SHARED / name)
        header = bytes([0, 0, 8, a.ndim]) + struct.pack(f">{a.ndim}I", *a.shape)
        assert hashlib.md5(header + a.tobytes()).hexdigest() == md5
    X, y = ds.load_mnist("test", data_dir=SHARED)
    assert X.shape == (10000, 784) and 0 <= X.min() and X.max() == 1
    assert np.bincount(y).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


# ---- download (loopback server only) ----------------------------------------------------------

class Server:
    """A loopback HTTP server: `files` {name: bytes}; `cut` names are sent half, then closed."""

    def __init__(self, files, cut=()):
        self.files, self.cut, self.requests = files, set(cut), []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                name = self.path.rsplit("/", 1)[-1]
                outer.requests.append(name)
                if name not in outer.files:
                    self.send_error(404)
                    return
                data = outer.files[name]
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data[:len(data) // 2] if name in outer.cut else data)
                self.close_connection = True

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/mnist/"
        threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def served(tmp_path, monkeypatch):
    monkeypatch.setenv("WENGERT_DATA", str(tmp_path / "cache"))
    raw = make_mnist_dir(tmp_path / "src", n_train=6, n_test=3)
    files = {p.name: p.read_bytes() for p in (tmp_path / "src").iterdir()}
    files["corrupted.gz"] = b"\x1f\x8b not what the checksum says"
    files["cut.gz"] = gzip.compress(np.arange(5000).tobytes())
    server = Server(files, cut=["cut.gz"])
    table = {n: hashlib.sha256(b).hexdigest() for n, b in files.items()}
    yield server, table, raw
    server.close()


def test_download_then_cache_hit(served, tmp_path):
    server, table, _ = served
    names = {n: table[n] for n in table if n.startswith("train")}
    paths = ds.download(names, base_url=server.url, progress=True)
    assert [p.parent for p in paths] == [tmp_path / "cache" / "mnist"] * 2
    assert all(ds._sha256(p) == table[p.name] for p in paths)
    assert sorted(server.requests) == sorted(names)
    ds.download(names, base_url=server.url)                  # verified files: no new request
    assert len(server.requests) == 2
    paths[0].write_bytes(b"damaged")                         # a damaged file is fetched again
    ds.download(names, base_url=server.url.rstrip("/"))
    assert len(server.requests) == 3 and ds._sha256(paths[0]) == table[paths[0].name]


def test_load_mnist_download_uses_the_table_and_env_url(served, tmp_path, monkeypatch):
    server, table, raw = served
    monkeypatch.setattr(ds, "MNIST_FILES", {n: table[n] for n in table if n.endswith("ubyte.gz")})
    monkeypatch.setenv("WENGERT_MNIST_URL", server.url)
    with pytest.raises(FileNotFoundError):
        ds.load_mnist("test")                                # download=False: no request
    assert server.requests == []
    X, y = ds.load_mnist("test", download=True)
    assert sorted(server.requests) == ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
    np.testing.assert_array_equal(y, raw["t10k"][1])


def test_download_checksum_mismatch_leaves_nothing(served, tmp_path):
    server, table, _ = served
    got = table["corrupted.gz"]
    with pytest.raises(ValueError, match=f"corrupted.gz: expected SHA-256 0+, got {got}"):
        ds.download({"corrupted.gz": "0" * 64}, data_dir=tmp_path / "d", base_url=server.url)
    assert list((tmp_path / "d").iterdir()) == []


def test_download_http_404(served, tmp_path):
    server, _, _ = served
    with pytest.raises(ds.DownloadError, match="missing.gz failed: HTTP 404"):
        ds.download({"missing.gz": None}, data_dir=tmp_path / "d", base_url=server.url)
    assert list((tmp_path / "d").iterdir()) == []


def test_download_interrupted_transfer(served, tmp_path):
    server, table, _ = served
    n = len(server.files["cut.gz"])
    with pytest.raises(ds.DownloadError, match=f"stopped after {n // 2} of {n} bytes"):
        ds.download({"cut.gz": table["cut.gz"]}, data_dir=tmp_path / "d", base_url=server.url)
    assert list((tmp_path / "d").iterdir()) == []


def test_download_unknown_name():
    with pytest.raises(ValueError, match="unknown download 'cifar'"):
        ds.download("cifar")


def test_command_line(served, tmp_path, monkeypatch, capsys):
    server, table, _ = served
    monkeypatch.setattr(ds, "MNIST_FILES", {n: table[n] for n in table if n.endswith("ubyte.gz")})
    assert ds._main(["download", "--dir", str(tmp_path / "d"), "--base-url", server.url]) == 0
    assert capsys.readouterr().out.count("ok (SHA-256 verified)") == 4
    assert ds._main(["info", "--data", str(tmp_path / "d")]) == 0
    assert "MNIST 6 train / 3 test" in capsys.readouterr().out
    monkeypatch.setitem(ds.MNIST_FILES, "t10k-labels-idx1-ubyte.gz", "0" * 64)
    assert ds._main(["download", "--dir", str(tmp_path / "e"), "--base-url", server.url]) == 1
    assert "checksum mismatch" in capsys.readouterr().err
