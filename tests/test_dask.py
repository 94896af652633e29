"""LloydKMeans on dask arrays, and KSelector on a dask cluster through joblib.

The in-memory estimator is the specification: from the same explicit initial
centres a fit on a dask array must visit the same iterates, whatever the
chunking.
"""

import os
import pickle
import re
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import scipy.sparse as sp

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

import dask  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.datasets import make_blobs  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.metrics import adjusted_rand_score  # noqa: E402

from sklearn_kmeans_lab import LloydKMeans  # noqa: E402
from sklearn_kmeans_lab._backends import dask as dask_backend  # noqa: E402
from sklearn_kmeans_lab._backends import dask_blocks, dask_seeding  # noqa: E402
from sklearn_kmeans_lab._kernels.lloyd import add_gap_drops  # noqa: E402

N_SAMPLES, N_CLUSTERS = 2000, 4


@pytest.fixture(scope="module")
def blobs():
    # Overlapping blobs far from the origin: several iterations, and centring
    # matters for the accuracy of the distances.
    X, y = make_blobs(
        N_SAMPLES, n_features=3, centers=N_CLUSTERS, cluster_std=2.0, random_state=0
    )
    return X + 50.0, y


@pytest.fixture
def threads():
    with dask.config.set(scheduler="threads"):
        yield


@pytest.fixture
def local_client(dask_cluster):
    return dask_cluster()


def assert_same_fit(dask_fit, numpy_fit, rtol=1e-10):
    scale = np.abs(numpy_fit.cluster_centers_).max()
    np.testing.assert_allclose(
        dask_fit.cluster_centers_, numpy_fit.cluster_centers_, rtol=0, atol=rtol * scale
    )
    assert dask_fit.n_iter_ == numpy_fit.n_iter_
    assert dask_fit.inertia_ == pytest.approx(numpy_fit.inertia_, rel=rtol)
    assert type(dask_fit.labels_) is np.ndarray
    assert dask_fit.labels_.dtype == np.int32
    np.testing.assert_array_equal(dask_fit.labels_, numpy_fit.labels_)


# -- same iterates as the in-memory estimator ---------------------------------


@pytest.mark.parametrize(
    "chunks",
    [
        (N_SAMPLES, 3),
        (500, 3),
        ((1, 999, 300, 700), (3,)),
        (700, (2, 1)),
        ((0, 1000, 0, 1000), (3,)),
    ],
    ids=["one-block", "even", "uneven", "split-features", "empty-blocks"],
)
@pytest.mark.parametrize("tol", [0.0, 1e-2], ids=["strict", "tol"])
def test_fit_from_explicit_init_equals_in_memory_fit_for_any_chunking(
    blobs, threads, chunks, tol
):
    X, _ = blobs
    init = X[:N_CLUSTERS]
    params = dict(n_clusters=N_CLUSTERS, init=init, tol=tol)
    expected = LloydKMeans(**params).fit(X)
    fitted = LloydKMeans(**params).fit(da.from_array(X, chunks=chunks))
    assert_same_fit(fitted, expected)


@pytest.mark.parametrize("as_dask", [True, False], ids=["dask", "numpy"])
@pytest.mark.parametrize("weight_chunks", [500, 300], ids=["matching", "other"])
def test_weighted_fit_equals_in_memory_fit(blobs, threads, as_dask, weight_chunks):
    X, _ = blobs
    weights = np.random.RandomState(0).uniform(0, 3, size=N_SAMPLES)
    weights[::7] = 0
    init = X[:N_CLUSTERS]
    expected = LloydKMeans(N_CLUSTERS, init=init).fit(X, sample_weight=weights)
    if as_dask:
        weights = da.from_array(weights, chunks=weight_chunks)
    fitted = LloydKMeans(N_CLUSTERS, init=init).fit(
        da.from_array(X, chunks=500), sample_weight=weights
    )
    assert_same_fit(fitted, expected)


def test_empty_cluster_is_relocated_as_in_memory(blobs, threads):
    X, _ = blobs
    init = np.vstack([X[:3], np.full(3, 1e4)])  # the last centre gets no sample
    expected = LloydKMeans(4, init=init).fit(X)
    fitted = LloydKMeans(4, init=init).fit(da.from_array(X, chunks=400))
    assert_same_fit(fitted, expected)


def test_float32_is_kept_and_matches_in_memory(blobs, threads):
    X = blobs[0].astype(np.float32)
    init = X[:N_CLUSTERS]
    expected = LloydKMeans(N_CLUSTERS, init=init).fit(X)
    fitted = LloydKMeans(N_CLUSTERS, init=init).fit(da.from_array(X, chunks=500))
    assert fitted.cluster_centers_.dtype == np.float32
    assert fitted.transform(da.from_array(X, chunks=500)).dtype == np.float32
    np.testing.assert_allclose(
        fitted.cluster_centers_, expected.cluster_centers_, rtol=1e-5
    )


def test_integer_input_is_fitted_as_float64(threads):
    X = np.repeat(np.arange(10)[:, None], 2, axis=1) * np.array([1, 2])
    fitted = LloydKMeans(2, init=X[[0, 9]]).fit(da.from_array(X, chunks=4))
    assert fitted.cluster_centers_.dtype == np.float64
    np.testing.assert_allclose(
        fitted.cluster_centers_, LloydKMeans(2, init=X[[0, 9]]).fit(X).cluster_centers_
    )


def test_verbose_prints_the_in_memory_lines(blobs, threads, capsys):
    X, _ = blobs
    LloydKMeans(N_CLUSTERS, init=X[:N_CLUSTERS], verbose=1).fit(X)
    expected = capsys.readouterr().out
    LloydKMeans(N_CLUSTERS, init=X[:N_CLUSTERS], verbose=1).fit(
        da.from_array(X, chunks=300)
    )
    printed = capsys.readouterr().out

    def numbers_masked(text):
        # inertia and shift agree to rounding only: compare all but the digits
        return re.sub(r"inertia [0-9.e+-]+|shift [0-9.e+-]+", "<x>", text)

    assert "Converged at iteration" in printed
    assert numbers_masked(printed) == numbers_masked(expected)


def test_duplicate_points_warn_as_in_memory(threads):
    X = np.repeat([[0.0, 0.0], [1.0, 1.0]], 10, axis=0)
    with pytest.warns(ConvergenceWarning, match=r"distinct clusters \(2\)"):
        LloydKMeans(3, random_state=0).fit(da.from_array(X, chunks=6))


# -- initialisation -----------------------------------------------------------


@pytest.mark.parametrize("exponent", [-300, -80, 80, 300])
def test_kmeans_parallel_fits_data_of_any_scale_as_at_unit_scale(threads, exponent):
    # the rounds keep their squared distances in float32, scaled by a power
    # of two (distance_scale): data spread beyond 1e19 used to overflow them
    # (an infinite cost: no candidate drawn, an infinite inertia), below
    # 1e-19 to flush them to 0; a power of two changes no draw
    X, _ = make_blobs(600, 3, centers=4, random_state=0)
    unit = LloydKMeans(4, random_state=0).fit(da.from_array(X, chunks=200))
    scaled = LloydKMeans(4, random_state=0).fit(
        da.from_array(np.ldexp(X, exponent), chunks=200)
    )
    np.testing.assert_array_equal(scaled.labels_, unit.labels_)
    np.testing.assert_array_equal(
        scaled.cluster_centers_, np.ldexp(unit.cluster_centers_, exponent)
    )


@pytest.mark.parametrize("dtype, scale", [(np.float64, 1e200), (np.float32, 1e30)])
def test_kmeans_parallel_says_when_squared_distances_overflow(threads, dtype, scale):
    # as k-means++ in memory says: it used to fit, with an infinite inertia
    X = (np.random.RandomState(0).rand(600, 3) * scale).astype(dtype)
    X_before = X.copy()
    with (
        np.errstate(over="ignore"),
        pytest.raises(ValueError, match="squared distances between the samples of X"),
    ):
        LloydKMeans(3, random_state=0).fit(da.from_array(X, chunks=200))
    np.testing.assert_array_equal(X, X_before)


@pytest.mark.parametrize("init", ["random", "array"])
def test_other_inits_say_when_squared_distances_overflow(threads, init):
    # the run labels every sample by argmins over infinities: as in memory,
    # the fit says so instead of returning its one cluster
    X = np.random.RandomState(0).rand(600, 3) * 1e300
    init = X[[0, 300, 599]] if init == "array" else init
    with (
        np.errstate(over="ignore", invalid="ignore"),
        pytest.raises(ValueError, match="and the cluster centres overflow"),
    ):
        LloydKMeans(3, init=init, n_init=1, random_state=0).fit(
            da.from_array(X, chunks=200)
        )


def test_an_inertia_whose_sum_alone_overflows_is_returned(threads):
    # as in memory: the variances (hence the tolerance) overflowed and the
    # fit stopped after its first iteration
    X_small = np.random.RandomState(0).rand(8000, 3)
    X = da.from_array(X_small * 2.0**509, chunks=2000)
    km = LloydKMeans(2, init="random", n_init=1, random_state=0).fit(X)
    small = LloydKMeans(2, init="random", n_init=1, random_state=0)
    small.fit(da.from_array(X_small, chunks=2000))
    assert km.n_iter_ == small.n_iter_ > 1
    assert km.inertia_ == np.inf


def test_kmeans_parallel_is_reproducible_and_finds_separated_blobs(threads):
    centers = 10.0 * np.array([[0, 0], [0, 1], [1, 0], [1, 1], [2, 0], [2, 1]])
    X, y = make_blobs(3000, centers=centers, cluster_std=0.5, random_state=1)
    Xd = da.from_array(X, chunks=700)
    first = LloydKMeans(6, random_state=0).fit(Xd)
    second = LloydKMeans(6, random_state=0).fit(Xd)
    np.testing.assert_array_equal(first.cluster_centers_, second.cluster_centers_)
    assert adjusted_rand_score(y, first.labels_) == 1.0


def test_kmeans_parallel_does_not_depend_on_the_scheduler(blobs):
    Xd = da.from_array(blobs[0], chunks=500)
    with dask.config.set(scheduler="threads"):
        threaded = LloydKMeans(N_CLUSTERS, random_state=3).fit(Xd)
    with dask.config.set(scheduler="synchronous"):
        serial = LloydKMeans(N_CLUSTERS, random_state=3).fit(Xd)
    np.testing.assert_array_equal(threaded.cluster_centers_, serial.cluster_centers_)


def _blocks(X, weights=None, chunks=500):
    w = None if weights is None else da.from_array(weights, chunks=chunks)
    return dask_backend.FitData(da.from_array(X, chunks=chunks), w).blocks


def test_kmeans_parallel_candidates_are_weighted_rows_of_x(blobs, threads):
    X, _ = blobs
    weights = np.random.RandomState(0).uniform(0.5, 2, size=N_SAMPLES)
    blocks = _blocks(X, weights)
    candidates, candidate_weights = dask_seeding.kmeans_parallel_candidates(
        blocks, N_CLUSTERS, entropy=[1, 2, 3]
    )
    # oversampling: about 1 + rounds * l candidates, far more than k
    assert candidates.shape[0] > 5 * N_CLUSTERS
    rows = {tuple(row) for row in np.round(X - blocks.mean, 10)}
    assert all(tuple(c) in rows for c in np.round(candidates, 10))
    # every sample's weight goes to exactly one candidate (its nearest)
    assert candidate_weights.sum() == pytest.approx(weights.sum(), rel=1e-12)
    assert np.all(candidate_weights > 0)


def test_kmeans_parallel_runs_on_a_uniform_sample_of_large_data(
    blobs, threads, monkeypatch
):
    X, _ = blobs
    weights = np.random.RandomState(0).uniform(0.5, 2, size=N_SAMPLES)
    blocks = _blocks(X, weights)
    monkeypatch.setattr(dask_seeding, "SAMPLE_ROWS", N_SAMPLES // 5)
    sample = dask_seeding.seeding_sample(blocks, entropy=[5])
    # each block gives its share of the rows, distinct rows of its own
    assert sample.n_rows == tuple(n // 5 for n in blocks.n_rows)
    rows, sampled_weights = blocks.fetch(sample.x, sample.w)
    for b, (block_rows, block_weights) in enumerate(
        zip(rows, sampled_weights, strict=True)
    ):
        start = sum(blocks.n_rows[:b])
        own = X[start : start + blocks.n_rows[b]]
        index = [np.flatnonzero((own == row).all(axis=1))[0] for row in block_rows]
        assert len(set(index)) == len(index)
        # a sampled row stands for the 5 rows of its block it was drawn among
        np.testing.assert_allclose(block_weights, 5 * weights[start:][index])
    # the candidates are rows of the sample, their weights its total weight
    candidates, candidate_weights = dask_seeding.kmeans_parallel_candidates(
        sample, N_CLUSTERS, entropy=[5]
    )
    sample_rows = {
        tuple(row) for row in np.round(np.concatenate(rows) - blocks.mean, 6)
    }
    assert all(tuple(c) in sample_rows for c in np.round(candidates, 6))
    assert candidate_weights.sum() == pytest.approx(
        np.concatenate(sampled_weights).sum(), rel=1e-12
    )


def test_kmeans_parallel_on_a_sample_finds_separated_blobs_on_any_scheduler(
    monkeypatch,
):
    monkeypatch.setattr(dask_seeding, "SAMPLE_ROWS", 500)
    centers = 10.0 * np.array([[0, 0], [0, 1], [1, 0], [1, 1], [2, 0], [2, 1]])
    X, y = make_blobs(3000, centers=centers, cluster_std=0.5, random_state=1)
    Xd = da.from_array(X, chunks=700)
    fits = []
    for scheduler in ("threads", "synchronous"):
        with dask.config.set(scheduler=scheduler):
            fits.append(LloydKMeans(6, random_state=0, max_iter=1).fit(Xd))
    np.testing.assert_array_equal(fits[0].cluster_centers_, fits[1].cluster_centers_)
    # one iteration from the seeding: the seeding itself found the blobs
    assert adjusted_rand_score(y, fits[0].labels_) == 1.0


def test_random_init_draws_distinct_rows_of_positive_weight(blobs, threads):
    X, _ = blobs
    weights = np.zeros(N_SAMPLES)
    weights[::10] = 1.0
    blocks = _blocks(X, weights)
    rows = dask_seeding.random_rows(blocks, 50, [7])
    chosen = [np.flatnonzero((X - blocks.mean == row).all(axis=1)) for row in rows]
    indices = np.concatenate(chosen)
    assert len(set(indices)) == 50
    assert np.all(weights[indices] > 0)


def test_more_runs_never_give_a_higher_inertia(blobs, threads):
    Xd = da.from_array(blobs[0], chunks=500)
    params = dict(n_clusters=8, init="random", random_state=0)
    one = LloydKMeans(n_init=1, **params).fit(Xd)
    four = LloydKMeans(n_init=4, **params).fit(Xd)
    assert four.inertia_ <= one.inertia_


def test_random_init_needs_enough_weighted_samples(blobs, threads):
    X, _ = blobs
    weights = np.zeros(N_SAMPLES)
    weights[:2] = 1.0
    with pytest.raises(ValueError, match="init='random' needs at least"):
        LloydKMeans(3, init="random").fit(
            da.from_array(X, chunks=500), sample_weight=weights
        )


# -- predict, transform, score ------------------------------------------------


def test_predict_transform_score_are_the_in_memory_ones(blobs, threads):
    X, _ = blobs
    Xd = da.from_array(X, chunks=300)
    fitted = LloydKMeans(N_CLUSTERS, random_state=0).fit(Xd)
    weights = np.random.RandomState(1).uniform(size=N_SAMPLES)

    labels = fitted.predict(Xd)
    distances = fitted.transform(Xd)
    assert isinstance(labels, da.Array) and isinstance(distances, da.Array)
    np.testing.assert_array_equal(labels.compute(), fitted.predict(X))
    np.testing.assert_array_equal(fitted.labels_, fitted.predict(X))
    np.testing.assert_allclose(distances.compute(), fitted.transform(X), rtol=1e-12)
    assert fitted.score(Xd) == pytest.approx(fitted.score(X), rel=1e-12)
    assert fitted.score(
        Xd, sample_weight=da.from_array(weights, chunks=300)
    ) == pytest.approx(fitted.score(X, sample_weight=weights), rel=1e-12)


def test_fit_predict_gives_the_computed_labels_and_fit_transform_a_dask_array(
    blobs, threads
):
    X, _ = blobs
    Xd = da.from_array(X, chunks=500)
    labels = LloydKMeans(N_CLUSTERS, init=X[:N_CLUSTERS]).fit_predict(Xd)
    distances = LloydKMeans(N_CLUSTERS, init=X[:N_CLUSTERS]).fit_transform(Xd)
    expected = LloydKMeans(N_CLUSTERS, init=X[:N_CLUSTERS]).fit(X)
    assert type(labels) is np.ndarray and isinstance(distances, da.Array)
    np.testing.assert_array_equal(labels, expected.labels_)
    np.testing.assert_allclose(distances.compute(), expected.transform(X), rtol=1e-9)


def test_prediction_of_bad_data_fails_when_computed(blobs, threads):
    X, _ = blobs
    fitted = LloydKMeans(2, random_state=0).fit(da.from_array(X, chunks=500))
    X_nan = X.copy()
    X_nan[1234, 1] = np.nan
    labels = fitted.predict(da.from_array(X_nan, chunks=500))  # still lazy
    with pytest.raises(ValueError, match="NaN or infinity"):
        labels.compute()
    with pytest.raises(ValueError, match="expecting 3 features"):
        fitted.predict(da.from_array(X[:, :2], chunks=500))


# -- validation ---------------------------------------------------------------


SPARSE = "does not support dask arrays with scipy.sparse chunks"


def sparse_blocks_behind_numpy_meta(X):
    """Blocks that are scipy.sparse while the array's meta says NumPy."""
    return da.from_array(X, chunks=500).map_blocks(sp.csr_matrix, meta=np.empty((0, 0)))


def _with(value, where=(5, 1)):
    def make(X):
        X = X.copy()
        X[where] = value
        return da.from_array(X, chunks=500)

    return make


@pytest.mark.parametrize(
    "make_x, error, match",
    [
        (_with(np.nan), ValueError, r"NaN or infinity \(1 non-finite"),
        (_with(np.inf), ValueError, "NaN or infinity"),
        (lambda X: da.from_array(X[:, 0], chunks=500), ValueError, "2-D"),
        (lambda X: da.from_array(X[:, :, None], chunks=500), ValueError, "2-D"),
        (lambda X: da.from_array(X + 1j, chunks=500), ValueError, "Complex"),
        (lambda X: da.from_array(X[:3], chunks=2), ValueError, "n_samples=3"),
        (lambda X: da.from_array(X.astype(str)), ValueError, "numeric dtype"),
        (
            lambda X: da.from_array(X, chunks=500)[da.from_array(X[:, 0] > 50)],
            ValueError,
            "unknown chunk sizes",
        ),
        (lambda X: dask.delayed(X), TypeError, "accepts dask arrays"),
        (lambda X: da.from_array(sp.csr_matrix(X), chunks=500), TypeError, SPARSE),
        (sparse_blocks_behind_numpy_meta, TypeError, SPARSE),
    ],
    ids=[
        "nan",
        "inf",
        "1d",
        "3d",
        "complex",
        "too-few",
        "str",
        "unknown-chunks",
        "delayed",
        "sparse-chunks",
        "sparse-chunks-numpy-meta",
    ],
)
def test_invalid_data_is_rejected_with_a_clear_error(
    blobs, threads, make_x, error, match
):
    with pytest.raises(error, match=match):
        LloydKMeans(N_CLUSTERS).fit(make_x(blobs[0]))


@pytest.mark.parametrize(
    "make_x",
    [lambda X: da.from_array(sp.csr_matrix(X)), sparse_blocks_behind_numpy_meta],
)
def test_predict_transform_score_reject_sparse_chunks(blobs, threads, make_x):
    X, _ = blobs
    fitted = LloydKMeans(N_CLUSTERS, random_state=0).fit(X)
    Xs = make_x(X)
    with pytest.raises(TypeError, match=SPARSE):
        fitted.predict(Xs).compute()
    with pytest.raises(TypeError, match=SPARSE):
        fitted.transform(Xs).compute()
    with pytest.raises(TypeError, match=SPARSE):
        fitted.score(Xs)


@pytest.mark.parametrize(
    "weights, match",
    [
        (-np.ones(N_SAMPLES), "non-negative; got 2000 negative"),
        (np.zeros(N_SAMPLES), "at least one non-zero"),
        (np.full(N_SAMPLES, np.nan), "sample_weight contains NaN"),
        (np.ones(N_SAMPLES - 1), r"expected \(2000,\)"),
        (np.ones((N_SAMPLES, 1)), "1D array or scalar"),
    ],
    ids=["negative", "zero", "nan", "length", "2d"],
)
def test_invalid_sample_weight_is_rejected(blobs, threads, weights, match):
    Xd = da.from_array(blobs[0], chunks=500)
    dask_weights = da.from_array(weights)
    with pytest.raises(ValueError, match=match):
        LloydKMeans(N_CLUSTERS).fit(Xd, sample_weight=dask_weights)


def test_explicit_init_of_the_wrong_shape_is_rejected(blobs, threads):
    Xd = da.from_array(blobs[0], chunks=500)
    with pytest.raises(ValueError, match="does not match the number of clusters"):
        LloydKMeans(3, init=np.zeros((2, 3))).fit(Xd)


def test_fit_and_predict_never_pull_x_to_the_client(blobs, threads, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the dask array was converted to numpy")

    monkeypatch.setattr(da.Array, "__array__", refuse)
    Xd = da.from_array(blobs[0], chunks=500)
    fitted = LloydKMeans(N_CLUSTERS, random_state=0).fit(Xd)
    fitted.predict(Xd).compute()
    fitted.score(Xd)


def test_graph_does_not_grow_with_the_iterations(blobs, threads, monkeypatch):
    X, _ = blobs
    sizes = []
    persist = dask.persist

    def recording_persist(*collections, **kwargs):
        graph = {}
        for collection in collections:
            for item in collection if isinstance(collection, list) else [collection]:
                graph.update(dict(item.__dask_graph__()))
        sizes.append(len(graph))
        return persist(*collections, **kwargs)

    monkeypatch.setattr(dask, "persist", recording_persist)
    fitted = LloydKMeans(N_CLUSTERS, init=X[:N_CLUSTERS], tol=0).fit(
        da.from_array(X, chunks=250)
    )
    assert fitted.n_iter_ >= 5
    assert len(sizes) == fitted.n_iter_
    # the first pass has no previous labels; every later one the same graph
    assert len(set(sizes[1:])) == 1


def test_lazy_input_is_persisted_for_the_fit_if_it_fits(threads, monkeypatch):
    X = da.random.default_rng(0).random((1000, 3), chunks=250)
    from dask.core import istask

    (persisted,) = dask_blocks.persist_if_cheap([X])
    assert not any(istask(v) for v in dict(persisted.__dask_graph__()).values())
    monkeypatch.setattr(dask_blocks, "_PERSIST_FRACTION", 0.0)
    (kept,) = dask_blocks.persist_if_cheap([X])
    assert kept is X


def test_fitting_numpy_data_does_not_import_dask():
    code = textwrap.dedent(
        """
        import sys
        import numpy as np
        from sklearn_kmeans_lab import LloydKMeans
        X = np.random.RandomState(0).normal(size=(50, 2))
        km = LloydKMeans(3, random_state=0).fit(X)
        km.predict(X), km.transform(X), km.score(X)
        assert "dask" not in sys.modules, "dask was imported"
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


# -- on a distributed cluster -------------------------------------------------


def test_fit_on_a_local_cluster_equals_the_threaded_fit(blobs, local_client):
    Xd = da.from_array(blobs[0], chunks=400)
    weights = da.from_array(np.linspace(0.1, 1, N_SAMPLES), chunks=400)
    on_cluster = LloydKMeans(N_CLUSTERS, random_state=0).fit(Xd, sample_weight=weights)
    with dask.config.set(scheduler="threads"):
        threaded = LloydKMeans(N_CLUSTERS, random_state=0).fit(
            Xd, sample_weight=weights
        )
    np.testing.assert_array_equal(
        on_cluster.cluster_centers_, threaded.cluster_centers_
    )
    np.testing.assert_array_equal(on_cluster.predict(Xd).compute(), threaded.labels_)


@pytest.mark.parametrize("persisted", [True, False])
def test_a_fitted_model_outlives_its_cluster_and_holds_no_data(local_client, persisted):
    X, _ = make_blobs(2000, n_features=20, centers=N_CLUSTERS, random_state=0)
    # Persisted on the cluster, X's blocks live only as long as the cluster;
    # a graph over a NumPy array holds the array itself.
    Xd = da.from_array(X, chunks=400)
    if persisted:
        Xd = local_client.persist(Xd)
    fitted = LloydKMeans(N_CLUSTERS, random_state=0).fit(Xd)
    local_client.close()

    for name, value in vars(fitted).items():
        assert not dask.is_dask_collection(value), name
    assert type(fitted.labels_) is np.ndarray
    np.testing.assert_array_equal(fitted.labels_, fitted.predict(X))
    with dask.config.set(scheduler="threads"):
        Xd_local = da.from_array(X, chunks=500)
        np.testing.assert_array_equal(
            fitted.predict(Xd_local).compute(), fitted.labels_
        )
        assert fitted.score(Xd_local) == pytest.approx(-fitted.inertia_, rel=1e-9)
    assert fitted.transform(X).shape == (2000, N_CLUSTERS)
    assert fitted.score(X) == pytest.approx(-fitted.inertia_, rel=1e-9)

    # The pickle holds the centres and labels, not the 320 kB of X.
    payload = pickle.dumps(fitted)
    assert len(payload) < X.nbytes / 10
    restored = pickle.loads(payload)
    np.testing.assert_array_equal(restored.predict(X), fitted.labels_)
    refitted = clone(fitted).fit(X)
    assert refitted.labels_.shape == (2000,)


def test_kselector_on_dask_backend_equals_serial_run(local_client):
    import joblib

    from sklearn_kmeans_lab import KSelector

    X, _ = make_blobs(300, n_features=2, centers=3, random_state=0)
    params = dict(k_range=range(1, 5), n_refs=3, random_state=0)
    serial = KSelector(**params).fit(X)
    with joblib.parallel_config(backend="dask"):
        on_dask = KSelector(n_jobs=-1, **params).fit(X)
    assert on_dask.n_clusters_ == serial.n_clusters_
    assert on_dask.results_.keys() == serial.results_.keys()
    for name, values in serial.results_.items():
        np.testing.assert_array_equal(on_dask.results_[name], values, err_msg=name)


def test_killing_a_worker_mid_fit_still_gives_the_right_fit(
    blobs, monkeypatch, dask_cluster
):
    X, _ = blobs
    init = X[:N_CLUSTERS]
    expected = LloydKMeans(N_CLUSTERS, init=init, tol=0).fit(X)
    keep = dask_blocks.Blocks.keep
    calls = []

    client = dask_cluster(processes=True)
    pids = client.run(os.getpid)

    def keep_then_kill(blocks, *values):
        # On the third Lloyd pass, kill a worker that holds the data and
        # the labels of the previous pass.
        calls.append(None)
        if len(calls) == 3:
            os.kill(next(iter(pids.values())), signal.SIGKILL)
        return keep(blocks, *values)

    monkeypatch.setattr(dask_blocks.Blocks, "keep", keep_then_kill)
    Xd = da.from_array(X, chunks=250)
    try:
        fitted = LloydKMeans(N_CLUSTERS, init=init, tol=0).fit(Xd)
    except distributed.KilledWorker as exc:  # pragma: no cover - a clear error
        assert "worker" in str(exc).lower()
        return
    assert len(calls) > 3
    # the worker really died (its nanny started a new process)
    assert pids[next(iter(pids))] not in client.run(os.getpid).values()
    np.testing.assert_allclose(
        fitted.cluster_centers_, expected.cluster_centers_, rtol=1e-10
    )
    assert fitted.n_iter_ == expected.n_iter_
    assert fitted.inertia_ == pytest.approx(expected.inertia_, rel=1e-10)


# -- KSelector on a Dask array ------------------------------------------------


def _clear_k_blobs(n_samples):
    centers = 12.0 * np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]])
    X, _ = make_blobs(n_samples, centers=centers, cluster_std=1.0, random_state=0)
    return X


def _small_selector(**params):
    from sklearn_kmeans_lab import KSelector

    params = dict(k_range=range(1, 7), n_refs=5, random_state=0) | params
    return KSelector(LloydKMeans(n_init=3), **params)


def test_kselector_on_a_dask_array_on_a_cluster_chooses_the_in_memory_k(
    local_client,
):
    X = _clear_k_blobs(3000)
    Xd = da.from_array(X, chunks=600)
    on_dask = _small_selector(sample_size=1000).fit(Xd)
    in_memory = _small_selector().fit(X)
    assert on_dask.n_clusters_ == in_memory.n_clusters_ == 4
    # the fit at K is distributed, over all of X: its inertia is that of X
    assert on_dask.best_estimator_.n_features_in_ == 3
    assert on_dask.best_estimator_.inertia_ == pytest.approx(
        on_dask.best_estimator_.score(X) * -1, rel=1e-9
    )
    # it predicts on Dask (lazily) and NumPy arrays alike
    lazy = on_dask.predict(Xd)
    assert isinstance(lazy, da.Array)
    np.testing.assert_array_equal(lazy.compute(), on_dask.predict(X))
    assert adjusted_rand_score(on_dask.predict(X), in_memory.predict(X)) == 1.0


def test_kselector_on_a_dask_array_is_reproducible_and_scans_a_sample(threads):
    Xd = da.from_array(_clear_k_blobs(2000), chunks=500)
    first = _small_selector(sample_size=400).fit(Xd)
    second = _small_selector(sample_size=400).fit(Xd)
    assert first.n_clusters_ == 4
    for name, values in first.results_.items():
        np.testing.assert_array_equal(second.results_[name], values, err_msg=name)
    np.testing.assert_array_equal(first.cluster_centers_, second.cluster_centers_)
    # results_ come from the sample: at K=1 the inertia of 400 rows, not 2000
    total = LloydKMeans(1).fit(Xd).inertia_
    assert first.results_["inertia"][0] < 0.3 * total


def test_kselector_on_a_dask_array_never_pulls_x_to_the_client(threads, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the dask array was converted to numpy")

    Xd = da.from_array(_clear_k_blobs(1000), chunks=250)
    monkeypatch.setattr(da.Array, "__array__", refuse)
    selector = _small_selector(sample_size=300, k_range=range(1, 5)).fit(Xd)
    selector.predict(Xd).compute()


def test_kselector_sample_size_is_validated(threads):
    Xd = da.from_array(_clear_k_blobs(100), chunks=50)
    with pytest.raises(ValueError, match="sample_size"):
        _small_selector(sample_size=1).fit(Xd)


def test_kselector_on_a_dask_array_needs_lloyd_kmeans(threads):
    from sklearn.mixture import GaussianMixture

    from sklearn_kmeans_lab import KSelector

    Xd = da.from_array(_clear_k_blobs(100), chunks=50)
    selector = KSelector(GaussianMixture(), param_name="n_components")
    with pytest.raises(TypeError, match="LloydKMeans"):
        selector.fit(Xd)


# -- what a pass costs ---------------------------------------------------------


def test_a_block_pass_from_running_totals_equals_one_from_scratch(blobs):
    X, _ = blobs
    mean = X.mean(axis=0)
    rng = np.random.default_rng(0)
    first = X[rng.choice(N_SAMPLES, N_CLUSTERS, replace=False)] - mean
    state, _ = dask_blocks.lloyd_block(
        X, None, None, first, np.zeros(N_CLUSTERS), mean, False, True
    )
    moved = first + rng.normal(scale=0.5, size=first.shape)
    gap_drop = np.zeros(N_CLUSTERS)
    add_gap_drops(first, moved, gap_drop)
    passes = [
        dask_blocks.lloyd_block(
            X, None, (state, None), moved, gap_drop, mean, False, from_scratch
        )
        for from_scratch in (False, True)
    ]
    (running_state, running), (scratch_state, scratch) = passes
    assert running[2] == scratch[2] > 0  # the same labels changed
    np.testing.assert_array_equal(running_state[0], scratch_state[0])
    np.testing.assert_allclose(running[0], scratch[0], rtol=1e-12)
    np.testing.assert_array_equal(running[1], scratch[1])


def test_passes_over_persisted_data_on_a_cluster_are_futures(blobs, local_client):
    Xd = da.from_array(blobs[0], chunks=500).persist()
    blocks = dask_backend.FitData(Xd, None).blocks
    assert blocks.client is local_client
    assert all(isinstance(x, distributed.Future) for x in blocks.x)


@pytest.mark.parametrize("weighted", [False, True])
def test_kmeans_parallel_oversampling_is_one_submission_and_one_fetch(
    blobs, threads, monkeypatch, weighted
):
    calls = {"keep": 0, "fetch": 0}
    keep, fetch = dask_blocks.Blocks.keep, dask_blocks.Blocks.fetch

    def counting(name, method):
        def wrapper(self, *values):
            calls[name] += 1
            return method(self, *values)

        return wrapper

    weights = np.linspace(0.5, 2.0, N_SAMPLES) if weighted else None
    blocks = _blocks(blobs[0], weights)
    monkeypatch.setattr(dask_blocks.Blocks, "keep", counting("keep", keep))
    monkeypatch.setattr(dask_blocks.Blocks, "fetch", counting("fetch", fetch))
    dask_seeding.kmeans_parallel_candidates(blocks, N_CLUSTERS, entropy=[4])
    # the first centre, every round and the weights: one graph, one fetch
    assert calls == {"keep": 0, "fetch": 1}


def test_kselector_on_a_dask_array_keeps_the_scale_of_the_weights(threads):
    X = _clear_k_blobs(1000)
    Xd = da.from_array(X, chunks=250)
    plain = _small_selector(sample_size=300, k_range=range(1, 5)).fit(Xd)
    weighted = _small_selector(sample_size=300, k_range=range(1, 5)).fit(
        Xd, sample_weight=np.full(1000, 3.0)
    )
    assert weighted.n_clusters_ == plain.n_clusters_
    np.testing.assert_allclose(
        weighted.results_["inertia"], 3 * plain.results_["inertia"], rtol=1e-6
    )
    assert weighted.best_estimator_.inertia_ == pytest.approx(
        3 * plain.best_estimator_.inertia_, rel=1e-6
    )
