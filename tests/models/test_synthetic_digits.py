"""Synthetic digits (models/synthetic_digits.py) and default_data's fallback to them."""
import warnings

import numpy as np
import pytest

from autodiff import nn, no_grad, optim
from models import datasets as ds
from models.synthetic_digits import synthetic_digits


@pytest.fixture(scope="module")
def train():
    return synthetic_digits(4000, seed=10)


@pytest.fixture(scope="module")
def test():
    return synthetic_digits(1000, seed=100)


def test_shapes_dtypes_range_and_balance(train):
    X, y = train
    assert X.shape == (4000, 784) and X.dtype == np.float32
    assert y.shape == (4000,) and y.dtype == np.int64
    assert 0.0 <= X.min() and X.max() <= 1.0 and np.isfinite(X).all()
    assert np.bincount(y, minlength=10).tolist() == [400] * 10
    assert sorted(np.bincount(synthetic_digits(23, seed=2)[1], minlength=10)) == [2] * 7 + [3] * 3
    X0, y0 = synthetic_digits(0)
    assert X0.shape == (0, 784) and y0.shape == (0,)
    with pytest.raises(ValueError, match="n must be >= 0"):
        synthetic_digits(-1)


def test_deterministic_by_seed_and_different_across_seeds():
    a, b, c = synthetic_digits(200, seed=5), synthetic_digits(200, seed=5), synthetic_digits(200, 6)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[1], c[1])
    assert np.abs(a[0] - c[0]).mean() > 0.05


def test_images_are_digits_not_blank(train):
    X, y = train
    ink = (X > 0.5).sum(axis=1)
    assert ink.min() >= 20 and ink.max() <= 400          # strokes, not empty, not filled
    assert (X[:, :28] < 0.5).mean() > 0.9                 # mostly dark border rows (top)
    means = np.stack([X[y == d].mean(axis=0) for d in range(10)])
    gaps = np.linalg.norm(means[:, None] - means[None], axis=-1)[~np.eye(10, dtype=bool)]
    assert gaps.min() > 1.0                               # each class's mean image differs


def test_nearest_class_mean_classifies_held_out_digits(train, test):
    (X, y), (Xt, yt) = train, test
    means = np.stack([X[y == d].mean(axis=0) for d in range(10)])
    pred = np.argmin(((Xt[:, None] - means[None]) ** 2).sum(-1), axis=1)
    assert (pred == yt).mean() > 0.7                      # 0.84 with these seeds


def test_mlp_learns_synthetic_digits(train, test):
    (X, y), (Xt, yt) = train, test
    rng = np.random.default_rng(0)
    net = nn.MLP([784, 64, 10], rng=rng, dtype=np.float32)
    opt = optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    for _ in range(2):
        order = rng.permutation(len(X))
        for i in range(0, len(X), 100):
            idx = order[i:i + 100]
            opt.zero_grad()
            nn.cross_entropy(net(X[idx]), y[idx]).backward()
            opt.step()
    with no_grad():
        acc = (np.argmax(net(Xt).value, axis=1) == yt).mean()
    assert acc > 0.9                                      # 0.96 with these seeds


def no_data_anywhere(tmp_path, monkeypatch):
    monkeypatch.setenv("WENGERT_DATA", str(tmp_path / "cache"))
    monkeypatch.delenv("WENGERT_MNIST_DIR", raising=False)
    monkeypatch.setattr(ds, "SHARED_MNIST_DIR", tmp_path / "none1")
    monkeypatch.setattr(ds, "FASHION_MNIST_DIR", tmp_path / "none2")


def test_default_data_falls_back_to_synthetic_digits(tmp_path, monkeypatch):
    no_data_anywhere(tmp_path, monkeypatch)
    with pytest.warns(UserWarning, match="synthetic digits.*python -m models.datasets download"):
        d = ds.default_data(seed=3)
    assert d["source"] == ("synthetic digits (no MNIST found: python -m models.datasets "
                           "download, or --data DIR)")
    (X, y), (Xt, yt) = d["train"], d["test"]
    assert X.shape == (8000, 784) and Xt.shape == (2000, 784) and X.dtype == np.float32
    assert np.bincount(y).tolist() == [800] * 10 and np.bincount(yt).tolist() == [200] * 10
    assert not np.array_equal(X[:2000], Xt)               # train and test from different seeds
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        again = ds.default_data(seed=3)
    np.testing.assert_array_equal(again["test"][0], Xt)
    # an explicit folder without MNIST files is still an error, not a silent fallback
    with pytest.raises(FileNotFoundError, match="python -m models.datasets download"):
        ds.default_data(data_dir=tmp_path)


def test_info_command_names_the_fallback(tmp_path, monkeypatch, capsys):
    no_data_anywhere(tmp_path, monkeypatch)
    assert ds._main(["info"]) == 0
    out = capsys.readouterr().out
    assert "then synthetic digits" in out and "default data: synthetic digits" in out
    assert "NOT MNIST" in out and "label counts [800, 800" in out
