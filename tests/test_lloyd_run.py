"""A Lloyd run in memory: bounds, running totals and threads change no result."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import make_blobs

from sklearn_kmeans_lab import _assignment
from sklearn_kmeans_lab import _lloyd_run as _lloyd
from sklearn_kmeans_lab._lloyd_iterations import average_centers


def _run(X, init, weights=None, **params):
    params = {"max_iter": 30, "tol": 0, "verbose": 0, "n_threads": 1, **params}
    return _lloyd.lloyd_single_run(X, weights, init, **params)


def _same(a, b):
    labels_a, inertia_a, centers_a, n_iter_a = a
    labels_b, inertia_b, centers_b, n_iter_b = b
    np.testing.assert_array_equal(labels_a, labels_b)
    np.testing.assert_array_equal(centers_a, centers_b)
    assert inertia_a == inertia_b
    assert n_iter_a == n_iter_b


def _overlapping(n_samples, n_features, n_clusters, dtype=np.float64, seed=0):
    X, _ = make_blobs(
        n_samples, n_features, centers=n_clusters, cluster_std=4.0, random_state=seed
    )
    X = X.astype(dtype)
    init = X[np.random.RandomState(seed).choice(len(X), n_clusters, replace=False)]
    return X, init.copy()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n_features", [2, 24], ids=["direct", "gemm"])
def test_gap_bounds_skip_work_without_changing_any_iterate(
    monkeypatch, dtype, n_features
):
    X, init = _overlapping(6000, n_features, 7, dtype)
    w = np.random.RandomState(1).uniform(0.5, 2.0, len(X)).astype(dtype)
    with_bounds = _run(X, init, w)
    monkeypatch.setattr(_lloyd, "_USE_BOUNDS", False)
    without_bounds = _run(X, init, w)
    # labels and n_iter are exactly those of full passes; the running totals
    # differ from sums taken from scratch by rounding only
    np.testing.assert_array_equal(with_bounds[0], without_bounds[0])
    assert with_bounds[3] == without_bounds[3]
    rtol = 1e-12 if dtype == np.float64 else 1e-6
    np.testing.assert_allclose(with_bounds[2], without_bounds[2], rtol=rtol)


def test_bounds_really_skip_rows():
    X, init = _overlapping(20_000, 5, 6)
    run = _lloyd.LloydRun(X, None, 6, None, 1, True)
    labels = np.full(len(X), -1, dtype=np.int32)
    centers = init
    for i in range(15):
        run.assign(centers, labels, from_scratch=i == 0)
        new = average_centers(*run.totals()[:2]).astype(X.dtype)
        run.moved(centers, new)
        centers = new
    gaps = (run.gaps.astype(np.uint32) << 16).view(np.float32) - run.gap_drop[labels]
    assert np.mean(gaps > 0) > 0.5


@pytest.mark.parametrize("n_features", [3, 20])
def test_offset_equals_centring_a_copy(n_features):
    X, init = _overlapping(3000, n_features, 5)
    X = X + 1e3
    mean = X.mean(axis=0)
    centred = _run(X - mean, init - mean)
    offset = _run(X, init - mean, x_offset=mean)
    _same(centred, offset)


def test_unit_weights_equal_no_weights():
    X, init = _overlapping(3000, 4, 5)
    _same(_run(X, init), _run(X, init, np.ones(len(X))))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n_features", [9, 16])
@pytest.mark.parametrize("n_clusters", [5, 16, 17])
@pytest.mark.parametrize("keep_norms", [True, False])
def test_in_place_products_change_no_iterate(
    monkeypatch, dtype, n_features, n_clusters, keep_norms
):
    # the compiled run's passes that read the bounds take in_place_dots up to
    # 16 centres (a GEMM above): the labels, centres, inertia and iterations
    # of the copy and the GEMM, bit for bit; with weights, data far from
    # zero, and a repeated centre (exact ties); whether the run keeps the
    # rows' norms or sums them again at each pass (large X)
    if not keep_norms:
        monkeypatch.setattr(_lloyd, "_KEEP_NORMS_MAX_BYTES", 0)
    X, init = _overlapping(6000, n_features, n_clusters, dtype)
    X = (X + 500.0).astype(dtype)
    init = (init + 500.0).astype(dtype)
    init[1] = init[0]
    w = np.random.RandomState(2).uniform(0.5, 2.0, len(X)).astype(dtype)
    run = _lloyd.LloydRun(X, w, n_clusters, None, 1, True)
    assert run.compiled_settings(30, 0, True).in_place
    in_place = _run(X, init, w)
    monkeypatch.setattr(_lloyd, "_IN_PLACE_DOTS", False)
    assert not run.compiled_settings(30, 0, True).in_place
    _same(in_place, _run(X, init, w))


@pytest.mark.parametrize(
    "n_features, n_samples, expected",
    [(8, 1000, False), (9, 1000, True), (16, 1000, True), (17, 1000, False)]
    # the norms are not kept: each pass sums its rows' norms in place
    + [(10, 2**21 // 8 + 1, True)],
)
def test_in_place_products_where_they_pay(n_features, n_samples, expected):
    X = np.zeros((n_samples, n_features))
    run = _lloyd.LloydRun(X, None, 3, None, 1, True)
    assert run.compiled_settings(10, 0, True).in_place is expected


@pytest.mark.parametrize("n_features", [2, 12, 30])
def test_threads_change_nothing(monkeypatch, n_features):
    X, init = _overlapping(50_000, n_features, 6)
    monkeypatch.setattr(_lloyd, "_MIN_WORK_PER_THREAD", 1)
    results = [_run(X, init, n_threads=t) for t in (1, 2, 3)]
    _same(results[0], results[1])
    _same(results[0], results[2])


def test_lloyd_pass_sums_are_the_weighted_cluster_sums():
    X, init = _overlapping(5000, 3, 4)
    w = np.random.RandomState(0).uniform(0, 2, len(X))
    labels = np.full(len(X), -1, dtype=np.int32)
    sums, weights, n_changed, inertia = _assignment.lloyd_pass(
        X, w, init, labels, want_inertia=True
    )
    nearest = ((X[:, None, :] - init[None]) ** 2).sum(-1).argmin(1)
    np.testing.assert_array_equal(labels, nearest)
    assert n_changed == len(X)
    expected = np.array(
        [(w[labels == j, None] * X[labels == j]).sum(0) for j in range(4)]
    )
    np.testing.assert_allclose(sums, expected, rtol=1e-12)
    np.testing.assert_allclose(weights, np.bincount(labels, w, 4), rtol=1e-12)
    np.testing.assert_allclose(
        inertia, (w * ((X - init[labels]) ** 2).sum(1)).sum(), rtol=1e-12
    )


def test_sparse_run_equals_dense_run():
    X, init = _overlapping(3000, 6, 5)
    X[np.abs(X) < 2] = 0
    dense = _run(X, init)
    sparse = _run(sp.csr_matrix(X), init)
    np.testing.assert_array_equal(dense[0], sparse[0])
    np.testing.assert_allclose(dense[2], sparse[2], rtol=1e-10)


def test_float32_is_computed_in_float32():
    X, init = _overlapping(2000, 20, 5, np.float32)
    labels, inertia, centers, _ = _run(X, init)
    assert centers.dtype == np.float32
    assert labels.dtype == np.int32
