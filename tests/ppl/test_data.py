"""Data on disk and on a cluster (ppl.data, ppl.mapreduce): minibatches drawn by blocks are
unbiased, full-data passes over chunks equal the in-memory sum, a pass reads each row once and a
minibatch only its blocks, a worker that dies mid-pass is retried."""
import os

import numpy as np
import pytest

import autodiff as ad
import ppl
from ppl import data, dist
from ppl.data import zarr_array

N, D = 2300, 3
RNG = np.random.default_rng(17)
X = RNG.normal(size=(N, D))
BETA = np.array([1.0, -0.7, 0.4])
Y = X @ BETA + 0.5 + RNG.normal(size=N) * 0.8
Z = np.array([0.3, -0.2, 0.1, 0.2, -0.4])     # beta (3), alpha, log sigma


def make_model():
    """A regression with latents outside the data plate (one constrained: its log-Jacobian
    must be counted once) and a factor; defined in a function, so Dask pickles it by value."""
    @ppl.model
    def regression(X, y, batch=None):
        beta = ppl.sample("beta", dist.Normal(0.0, 1.0).expand([X.shape[1]]).to_event(1))
        alpha = ppl.sample("alpha", dist.Normal(0.0, 2.0))
        sigma = ppl.sample("sigma", dist.HalfNormal(1.0))
        ppl.factor("shrink", -0.5 * alpha * alpha)
        with ppl.plate("data", len(y), subsample_size=batch) as idx:
            ppl.sample("y", dist.Normal(X[idx] @ beta + alpha, sigma), obs=y[idx])
    return regression


regression = make_model()


def _exact():
    v, g = ad.value_and_grad(regression(X, Y).unconstrained_log_density)(Z)
    return float(v), np.asarray(g)


def _zarr(tmp_path, chunk):
    zarr = pytest.importorskip("zarr")   # in the test extra: never skipped where installed
    g = zarr.open_group(str(tmp_path / "d.zarr"), mode="w")
    zarr_array(g, "X", shape=X.shape, chunks=(chunk, D), dtype="float64")[:] = X
    zarr_array(g, "y", shape=Y.shape, chunks=(chunk,), dtype="float64")[:] = Y
    return g["X"], g["y"]


def _memmap(tmp_path, chunk):
    out = []
    for name, a in (("X", X), ("y", Y)):
        m = np.memmap(tmp_path / f"{name}.dat", dtype=a.dtype, mode="w+", shape=a.shape)
        m[:] = a
        m.flush()
        out.append(data.source(np.memmap(tmp_path / f"{name}.dat", dtype=a.dtype, mode="r",
                                         shape=a.shape), chunk_rows=chunk))
    return out


def _dask(tmp_path, chunk):
    import dask.array as da
    return da.from_array(X, chunks=(chunk, D)), da.from_array(Y, chunks=(chunk,))


def _numpy(tmp_path, chunk):
    return data.source(X, chunk_rows=chunk), data.source(Y, chunk_rows=chunk)


SOURCES = {"numpy": _numpy, "memmap": _memmap, "zarr": _zarr, "dask": _dask}


@pytest.mark.parametrize("kind", list(SOURCES))
def test_full_pass_over_chunks_equals_the_in_memory_sum(kind, tmp_path):
    Xs, ys = SOURCES[kind](tmp_path, 400)     # 6 chunks, the last one short (300 rows)
    m = regression(Xs, ys, batch=64)
    assert list(m.layouts) == ["data"] and len(m.layouts["data"]) == 7
    v, g = m.full_value_and_grad(Z)
    v0, g0 = _exact()
    np.testing.assert_allclose(v, v0, rtol=1e-12)
    np.testing.assert_allclose(g, g0, rtol=1e-10, atol=1e-9)
    assert m.full_log_density(Z) == pytest.approx(v0, rel=1e-12)


def test_zarr_chunks_unlike_each_other_split_at_both():
    Xs, ys = data.source(X, chunk_rows=500), data.source(Y, chunk_rows=300)
    m = regression(Xs, ys)
    bounds = m.layouts["data"].tolist()
    assert set(range(0, N, 500)) | set(range(0, N, 300)) | {N} == set(bounds)
    np.testing.assert_allclose(m.full_log_density(Z), _exact()[0], rtol=1e-12)


def test_block_minibatch_gradients_are_unbiased():
    """The mean of many minibatch gradients (2 chunks of 16 rows per step; rows sorted by y,
    so the chunks differ) is the full gradient within 4 Monte Carlo standard errors."""
    order = np.argsort(Y)
    Xs, ys = data.source(X[order], chunk_rows=250), data.source(Y[order], chunk_rows=250)
    m = regression(Xs, ys, batch=32)
    rng = np.random.default_rng(3)
    vg = ad.value_and_grad(lambda z: m.unconstrained_log_density(z, rng))
    gs = np.array([vg(Z)[1] for _ in range(3000)])
    g0 = _exact()[1]
    se = gs.std(0, ddof=1) / np.sqrt(len(gs))
    assert np.all(np.abs(gs.mean(0) - g0) < 4 * se), (gs.mean(0), g0, se)
    # and the estimate is not trivially exact: minibatches do vary
    assert np.all(gs.std(0) > 0)


def test_draw_minibatch_counts_every_row_once_on_average():
    """E[scale * (times row i is drawn)] = 1 for every row (chunks of unequal size, the last
    one shorter than a block's share and merged)."""
    bounds = np.array([0, 40, 100, 130, 200, 203])
    rng = np.random.default_rng(0)
    counts = np.zeros(203)
    reps = 20000
    for _ in range(reps):
        idx, scale = data.draw_minibatch(rng, 203, 12, bounds, blocks=3)
        assert len(idx) == 12 and scale == pytest.approx(203 / 12)
        np.add.at(counts, idx, scale)
    per_block = [counts[a:b].mean() / reps for a, b in ((0, 40), (40, 100), (100, 130),
                                                         (130, 203))]
    np.testing.assert_allclose(per_block, 1.0, atol=0.04)


def test_memory_bounded_by_the_chunk_and_the_minibatch():
    """A pass reads each row once, one chunk at a time; binding and a minibatch read only a
    few chunks: each would fail if the whole array were loaded."""
    Xs, ys = data.source(X, chunk_rows=200), data.source(Y, chunk_rows=200)
    m = regression(Xs, ys, batch=40)
    assert Xs.rows_read <= 16 and ys.rows_read <= 16           # binding: a few rows
    before = Xs.rows_read
    m.full_log_density(Z)
    assert Xs.rows_read - before == N                          # each row once
    before = Xs.rows_read
    with ad.no_grad():
        m.unconstrained_log_density(Z, np.random.default_rng(0))
    assert 0 < Xs.rows_read - before <= 4 * 200                # blocks=4 chunks at most
    before = Xs.rows_read
    m.constrain(Z)
    m.initial_point(seed=1)
    assert Xs.rows_read - before <= 2 * 16


def test_slab_refuses_rows_outside_its_chunk():
    s = data.Slab(np.arange(10.0), 20, (100,))
    assert s[np.array([21, 29])].tolist() == [1.0, 9.0] and len(s) == 100
    with pytest.raises(IndexError, match="outside them"):
        s[np.array([5])]


def test_source_reads_and_bad_input(tmp_path):
    Xs, _ = _zarr(tmp_path, 100)
    s = data.source(Xs)
    assert s.boundaries[:3].tolist() == [0, 100, 200] and len(s) == N
    idx = np.array([2200, 3, 150, 3])
    np.testing.assert_array_equal(s.take(idx), X[idx])
    np.testing.assert_array_equal(s[10:20, 1], X[10:20, 1])
    assert s.rows_read == (2201 - 2200) + 1 + 1 + 10      # one slice per chunk touched
    with pytest.raises(TypeError, match="Zarr array"):
        data.source([1, 2, 3])
    with pytest.raises(ValueError, match="chunk_rows"):
        data.source(X, chunk_rows=0)
    with pytest.raises(TypeError, match="integers"):
        s.take(np.array([0.5]))


def test_model_subsample_sets_the_plate_and_refuses_bad_sizes():
    m = regression(data.source(X, chunk_rows=500), data.source(Y, chunk_rows=500))
    assert m.subsampled == {}
    m2 = m.subsample(50)
    assert m2.subsampled == {"data": 50} and m.subsampled == {}
    with ad.no_grad():
        a = m2.unconstrained_log_density(Z, np.random.default_rng(1))
        b = m2.unconstrained_log_density(Z, np.random.default_rng(2))
    assert a != b           # minibatches
    for bad in (0, N + 1, 2.5):
        with pytest.raises(ValueError, match="subsample size of plate 'data'"):
            m.subsample(bad)
    with pytest.raises(ValueError, match="no plate 'rows'"):
        m.subsample(10, plate="rows")


def make_fragile(marker):
    """A regression whose worker process dies (os._exit) the first time it runs the chunk
    starting at row 1000 on a Dask worker; defined in a function, so Dask pickles it by
    value."""
    import distributed

    @ppl.model
    def fragile(X, y):
        beta = ppl.sample("beta", dist.Normal(0.0, 1.0).expand([X.shape[1]]).to_event(1))
        with ppl.plate("data", len(y)) as idx:
            if idx[0] == 1000 and not os.path.exists(marker):
                try:
                    distributed.get_worker()
                except ValueError:       # not on a worker (binding): carry on
                    pass
                else:
                    open(marker, "w").close()
                    os._exit(1)          # the worker process dies mid-pass
            ppl.sample("y", dist.Normal(X[idx] @ beta, 1.0), obs=y[idx])
    return fragile


def test_a_distributed_cluster_maps_the_chunks_and_retries_a_dead_worker(tmp_path):
    """On a LocalCluster of 2 worker processes the pass equals the in-memory sum; a worker
    that dies while running a chunk is replaced by Dask and the chunk retried elsewhere."""
    distributed = pytest.importorskip("distributed")
    import dask.array as da
    marker = str(tmp_path / "died-once")
    fragile = make_fragile(marker)
    z = BETA * 0.5
    v0, g0 = ad.value_and_grad(fragile(X, Y).unconstrained_log_density)(z)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster):
        m = fragile(da.from_array(X, chunks=(500, D)), da.from_array(Y, chunks=(500,)))
        v, g = m.full_value_and_grad(z)
        assert os.path.exists(marker)        # a worker did die
        v2 = m.full_log_density(z)
    np.testing.assert_allclose([v, v2], float(v0), rtol=1e-12)
    np.testing.assert_allclose(g, g0, rtol=1e-10)


def test_draws_share_one_pass_over_the_data():
    Xs, ys = data.source(X, chunk_rows=500), data.source(Y, chunk_rows=500)
    m = regression(Xs, ys)
    zs = Z + np.random.default_rng(5).normal(size=(4, 5)) * 0.1
    before = Xs.rows_read
    vals = m.full_log_density(zs)
    assert Xs.rows_read - before == N
    m0 = regression(X, Y)
    np.testing.assert_allclose(vals, [float(m0.unconstrained_log_density(z)) for z in zs],
                               rtol=1e-12)
    with pytest.raises(ValueError, match="length 5 or draws"):
        m.full_log_density(np.zeros(3))


def test_hessian_and_mode_by_map_reduce():
    m = regression(data.source(X, chunk_rows=400), data.source(Y, chunk_rows=400))
    m0 = regression(X, Y)
    v, g, H = m.full_hessian(Z)
    np.testing.assert_allclose(H, ad.hessian(m0.unconstrained_log_density)(Z), rtol=1e-9,
                               atol=1e-8)
    z_hat, negH = m.full_mode(np.zeros(5), gtol=1e-8)
    ref = ad.minimize_newton(lambda z: -m0.unconstrained_log_density(z), np.zeros(5),
                             gtol=1e-8)
    np.testing.assert_allclose(z_hat, ref.x, atol=1e-7)
    assert np.all(np.linalg.eigvalsh(negH) > 0)


def test_control_variate_is_exact_at_the_anchor_and_unbiased_with_less_variance():
    Xs, ys = data.source(X, chunk_rows=250), data.source(Y, chunk_rows=250)
    m = regression(Xs, ys, batch=32)
    g_full = _exact()[1]
    a = m.anchored(Z)
    rng = np.random.default_rng(8)
    at_anchor = ad.value_and_grad(lambda z: a.unconstrained_log_density(z, rng))(Z)
    np.testing.assert_allclose(at_anchor[1], g_full, rtol=1e-9)
    np.testing.assert_allclose(at_anchor[0], _exact()[0], rtol=1e-9)
    z = Z + 0.05
    g_ref = ad.value_and_grad(regression(X, Y).unconstrained_log_density)(z)[1]
    plain = np.array([ad.value_and_grad(lambda q: m.unconstrained_log_density(q, rng))(z)[1]
                      for _ in range(1500)])
    cv = np.array([ad.value_and_grad(lambda q: a.unconstrained_log_density(q, rng))(z)[1]
                   for _ in range(1500)])
    se = cv.std(0, ddof=1) / np.sqrt(len(cv))
    assert np.all(np.abs(cv.mean(0) - g_ref) < 4 * se + 1e-9), (cv.mean(0), g_ref, se)
    assert np.all(cv.std(0) < plain.std(0) / 5)


def test_mode_with_a_hessian_from_some_chunks_is_the_exact_mode():
    m = regression(data.source(X, chunk_rows=100), data.source(Y, chunk_rows=100))
    z_hat, _ = m.full_mode(np.zeros(5), gtol=1e-8, hessian_rows=500)
    ref = ad.minimize_newton(lambda z: -regression(X, Y).unconstrained_log_density(z),
                             np.zeros(5), gtol=1e-8)
    np.testing.assert_allclose(z_hat, ref.x, atol=1e-7)


def test_advi_on_a_zarr_store_matches_the_laplace_fit_in_memory(tmp_path):
    """Minibatch ADVI from disk (blocks of chunks, anchored at the map-reduce mode, full-data
    ELBO estimates) recovers the in-memory Laplace means within 0.2 sd."""
    Xs, ys = _zarr(tmp_path, 400)
    m = regression(Xs, ys).subsample(200)
    fit = ppl.advi(m, seed=3, elbo_samples=2, eval_elbo=100, steps=3000, progress=False)
    assert "anchored" in fit.info["preconditioned"] and fit.info["rows_per_second"] > 0
    lap = ppl.laplace(regression(X, Y), seed=0)
    sd = np.sqrt(np.diag(lap.covariance)) if hasattr(lap, "covariance") else \
        np.sqrt(np.sum(lap.L ** 2, axis=1))
    z_lap = lap.mu
    assert fit.converged
    assert np.max(np.abs(fit.mu - z_lap) / sd) < 0.2


def test_laplace_and_map_estimate_on_disk_read_chunk_by_chunk_and_match_memory():
    # Newton on map-reduce passes and the Hessian summed chunk by chunk: the same Gaussian as
    # the in-memory Laplace fit (L-BFGS, the engine's Hessian), never more than a chunk held
    Xs, ys = data.source(X, chunk_rows=250), data.source(Y, chunk_rows=250)
    m = regression(Xs, ys)
    lap = ppl.laplace(m, seed=0)
    ref = ppl.laplace(regression(X, Y), seed=0)
    assert lap.converged
    np.testing.assert_allclose(lap.mu, ref.mu, atol=1e-6)
    cov = ref.L @ ref.L.T      # the modes agree to 1e-7: the Hessians there to ~1e-5
    np.testing.assert_allclose(lap.L @ lap.L.T, cov, rtol=1e-4, atol=1e-6 * np.abs(cov).max())
    assert Xs.largest_read <= 250
    mode = ppl.map_estimate(m, seed=0, jacobian=True)
    np.testing.assert_allclose(mode.z, ref.mu, atol=1e-6)
    with pytest.raises(ValueError, match="use jacobian=True"):
        ppl.map_estimate(m, seed=0)


def test_to_arviz_names_the_observed_data_left_on_disk():
    Xs, ys = data.source(X, chunk_rows=500), data.source(Y, chunk_rows=500)
    m = regression(Xs, ys)
    assert m.observed_on_disk == ["y"] and "y" not in m.observed
    idata = ppl.laplace(m, seed=0).to_arviz(draws=50)
    attrs = idata.posterior.attrs
    assert attrs["observed_on_disk"] == "y"
    assert ys.largest_read <= 500                          # y was never read whole
    assert ppl.laplace(regression(X, Y), seed=0).to_arviz(draws=50).posterior.attrs[
        "observed_on_disk"] == "none"


def test_newton_on_the_full_data_stops_when_no_rise_is_left_above_rounding():
    # log p ~ 1e12 (a large sum, as N = 5e7 rows give ~ -2.5e7): near the mode each step's rise
    # is below the rounding of log p, so "t halved until log p rises" ran 30 passes a step for
    # all 50 steps and raised; the Newton decrement ends it in a few passes, at the mode
    @ppl.model
    def shifted(X, y):
        beta = ppl.sample("beta", dist.Normal(0.0, 1.0).expand([X.shape[1]]).to_event(1))
        ppl.factor("offset", 1e12)
        with ppl.plate("data", len(y)) as idx:
            ppl.sample("y", dist.Normal(X[idx] @ beta, 1.0), obs=y[idx])
    Xs, ys = data.source(X, chunk_rows=500), data.source(Y, chunk_rows=500)
    m = shifted(Xs, ys)
    z_hat, negH = m.full_mode(np.zeros(D), gtol=1e-12, hessian_rows=500)   # one chunk
    exact = np.linalg.solve(X.T @ X + np.eye(D), X.T @ Y)       # the Gaussian posterior mode
    np.testing.assert_allclose(z_hat, exact, atol=1e-6)
    assert ys.rows_read <= 20 * N                                # passes, not 1,500 of them


def test_workers_read_spans_of_chunks_from_the_store_and_a_dead_one_is_retried(tmp_path,
                                                                             monkeypatch):
    # a Zarr store on a LocalCluster: one task per span of chunks (8 spans for 2 threads, not
    # 23 chunk tasks), each worker reading its rows; equal to the in-memory sum, and a worker
    # that dies mid-span is replaced and the span retried
    distributed = pytest.importorskip("distributed")
    from ppl import mapreduce
    marker = str(tmp_path / "died-once")
    fragile = make_fragile(marker)
    z = BETA * 0.5
    v0, g0 = ad.value_and_grad(fragile(X, Y).unconstrained_log_density)(z)
    Xs, ys = _zarr(tmp_path, 100)
    assert mapreduce._spans([(i, i + 1) for i in range(23)], 8) == [
        [(i, i + 1) for i in range(a, b)] for a, b in
        zip([0, 3, 6, 9, 12, 14, 17, 20], [3, 6, 9, 12, 14, 17, 20, 23])]
    made, spans = [], mapreduce._spans
    monkeypatch.setattr(mapreduce, "_spans", lambda p, n: made.append(spans(p, n)) or made[-1])
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster):
        m = fragile(Xs, ys)
        v, g = m.full_value_and_grad(z)
        assert os.path.exists(marker)        # a worker did die
        v2 = m.full_log_density(z)
    # 4 spans a worker thread: 8 for the first pass, as many for the threads left after
    assert len(made) == 2 and len(made[0]) == 8 and sum(map(len, made[0])) == 23
    assert 4 <= len(made[1]) <= 8
    np.testing.assert_allclose([v, v2], float(v0), rtol=1e-12)
    np.testing.assert_allclose(g, g0, rtol=1e-10)
