"""Numerical edges: wide sparse data, extreme weights, data far from the origin,
exact ties, zero weights, and the bookkeeping that the converged fits hide.

Each test names the class of inputs it covers; the Hypothesis strategies for
the same classes are in ``tests/test_properties.py``.
"""

import tracemalloc
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning

from sklearn_kmeans_lab import (
    LloydKMeans,
    _canonical_order,
    _lloyd_iterations,
    _lloyd_run,
    _seeding,
)
from sklearn_kmeans_lab._kernels import seeding as seeding_kernels
from sklearn_kmeans_lab._lloyd_iterations import (
    has_converged,
    relocate_empty_clusters,
)
from sklearn_kmeans_lab._lloyd_run import lloyd_single_run


def _quiet_fit(estimator, X, **fit_params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X, **fit_params)


# --------------------------------------------------------------------------
# 1. Wide sparse data: no step densifies X


def _wide_sparse(n_samples, n_features, nnz_per_row, seed=0):
    rng = np.random.RandomState(seed)
    # one column in each of nnz_per_row equal slices: sorted and distinct
    width = n_features // nnz_per_row
    base = rng.randint(0, width, size=(n_samples, nnz_per_row))
    indices = (base + width * np.arange(nnz_per_row)).ravel().astype(np.int32)
    indptr = np.arange(0, n_samples * nnz_per_row + 1, nnz_per_row, dtype=np.int32)
    data = rng.uniform(1, 2, size=indices.size)
    return sp.csr_matrix((data, indices, indptr), shape=(n_samples, n_features))


def test_wide_sparse_fit_with_an_empty_cluster_never_densifies_x():
    # 2e4 x 2e5 with 5 non-zeros a row: X dense would be 30 GiB, one centre
    # 1.5 MiB.  A duplicated row in the init leaves a cluster empty, so the
    # relocation (distances of every sample to its centre) runs.
    X = _wide_sparse(20_000, 200_000, 5)
    init = X[[0, 0, 1]].toarray()
    tracemalloc.start()
    try:
        km = LloydKMeans(3, init=init, n_init=1, max_iter=3).fit(X)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # O(n + k * d): a few copies of the centres, nothing of size n x d
    assert peak < 64 * 2**20, f"peak {peak / 2**20:.0f} MiB"
    assert len(np.unique(km.labels_)) == 3


def test_sparse_distances_to_assigned_equal_dense():
    X = _wide_sparse(200, 50, 3, seed=1)
    centers = np.random.RandomState(0).uniform(0, 2, size=(4, 50))
    labels = np.random.RandomState(1).randint(0, 4, 200).astype(np.int32)
    got = _lloyd_iterations.distances_to_assigned(X, centers, labels)
    expected = ((X.toarray() - centers[labels]) ** 2).sum(axis=1)
    np.testing.assert_allclose(got, expected, rtol=1e-12)


# --------------------------------------------------------------------------
# 8. Bounds on and off: bit-for-bit the same run


@pytest.mark.parametrize("n_features", [3, 12], ids=["direct", "gemm"])
def test_bounds_on_and_off_give_bit_identical_runs_on_heavy_tails(
    monkeypatch, n_features
):
    # Cauchy data: many samples change cluster late, so the running totals
    # are updated (not rebuilt) while the bounds skip most rows.
    X = np.random.RandomState(0).standard_cauchy(size=(20_000, n_features))
    init = X[:8].copy()
    runs = {}
    for use_bounds in (True, False):
        monkeypatch.setattr(_lloyd_run, "_USE_BOUNDS", use_bounds)
        runs[use_bounds] = lloyd_single_run(
            X, None, init, max_iter=60, tol=0, verbose=0, n_threads=1
        )
    on, off = runs[True], runs[False]
    np.testing.assert_array_equal(on[0], off[0])
    np.testing.assert_array_equal(on[2], off[2])  # bit-for-bit, not allclose
    assert on[1] == off[1] and on[3] == off[3]


# --------------------------------------------------------------------------
# 2. Extreme but finite sample weights: the scale changes nothing


def _blobs(n_samples=300, seed=0):
    rng = np.random.RandomState(seed)
    centres = np.array([[0.0, 0.0], [6.0, 0.0], [0.0, 6.0]])
    return centres[rng.randint(0, 3, n_samples)] + rng.normal(size=(n_samples, 2))


@pytest.mark.parametrize("init", ["k-means++", "random", "array"])
@pytest.mark.parametrize(
    "scale",
    [1e-300, 2.0**-1070, 1e306, 2.0**1020],
    ids=["tiny", "subnormal", "huge", "total-overflows"],
)
def test_weight_scale_changes_only_the_inertia(init, scale):
    X = _blobs(600)
    w = np.random.RandomState(1).uniform(0.5, 2.0, len(X))
    if scale < 1e-307:
        w = np.ones(len(X))  # subnormal weights carry few significant bits
    params = dict(n_clusters=3, n_init=1, random_state=0)
    params["init"] = X[[0, 1, 2]] if init == "array" else init
    ref = LloydKMeans(**params).fit(X, sample_weight=w)
    with warnings.catch_warnings():
        # 2**1020 * 600 rows: the inertia itself is beyond the float range
        warnings.simplefilter("ignore", RuntimeWarning)
        km = LloydKMeans(**params).fit(X, sample_weight=w * scale)
        score = km.score(X, sample_weight=w * scale)
    np.testing.assert_array_equal(km.labels_, ref.labels_)
    np.testing.assert_allclose(km.cluster_centers_, ref.cluster_centers_,
                               rtol=1e-12, atol=1e-12)  # fmt: skip
    assert np.all(np.isfinite(km.cluster_centers_))
    expected = ref.inertia_ * scale
    if np.isfinite(expected):
        assert km.inertia_ == pytest.approx(expected, rel=1e-12)
        assert score == pytest.approx(-expected, rel=1e-12)
    else:
        assert km.inertia_ == np.inf and score == -np.inf


def test_an_inertia_beyond_the_float_range_is_inf_with_a_warning():
    X = _blobs(600)
    with pytest.warns(RuntimeWarning, match="exceeds the largest float"):
        km = LloydKMeans(3, init=X[:3]).fit(X, sample_weight=np.full(600, 1e306))
    assert km.inertia_ == np.inf
    assert np.all(np.isfinite(km.cluster_centers_))


def test_float32_data_take_float64_weights_of_any_scale():
    X = _blobs(300).astype(np.float32)
    ref = LloydKMeans(3, random_state=0).fit(X)
    km = LloydKMeans(3, random_state=0).fit(X, sample_weight=np.full(300, 1e-300))
    np.testing.assert_array_equal(km.labels_, ref.labels_)
    np.testing.assert_array_equal(km.cluster_centers_, ref.cluster_centers_)


def test_subnormal_weights_next_to_normal_ones_give_finite_centres():
    # a cluster whose members all have subnormal weight: 1 / weight overflows
    X = np.array([[0.0], [0.1], [10.0], [10.1]])
    w = np.array([1.0, 1.0, 1e-320, 1e-320])
    km = LloydKMeans(2, init=[[0.0], [10.0]]).fit(X, sample_weight=w)
    assert np.all(np.isfinite(km.cluster_centers_)) and np.isfinite(km.inertia_)
    np.testing.assert_allclose(np.sort(km.cluster_centers_[:, 0]), [0.05, 10.05],
                               rtol=1e-3)  # fmt: skip


def test_kselector_takes_weights_of_any_scale():
    from sklearn_kmeans_lab import KSelector

    X = _blobs(150)
    params = dict(k_range=(1, 2, 3, 4), n_refs=3, random_state=0)
    ref = KSelector(LloydKMeans(n_init=1), **params).fit(X)
    for scale in (1e-300, 2.0**-1070, 1e150):
        sel = KSelector(LloydKMeans(n_init=1), **params).fit(
            X, sample_weight=np.full(len(X), scale)
        )
        assert sel.n_clusters_ == ref.n_clusters_
        np.testing.assert_array_equal(sel.predict(X), ref.predict(X))
        assert np.isfinite(sel.results_["gap"]).all()
    # Weights that put the weighted dispersion beyond the float range: a clear
    # error, never a NaN curve.
    with pytest.raises(ValueError, match="sample_weight is so large"):
        KSelector(LloydKMeans(n_init=1), **params).fit(
            X, sample_weight=np.full(len(X), 1e306)
        )


@pytest.mark.parametrize("init", ["k-means++", "random"])
def test_dask_fit_takes_weights_of_any_scale(init):
    da = pytest.importorskip("dask.array")
    import dask

    X = _blobs(400)
    w = np.random.RandomState(1).uniform(0.5, 2.0, len(X))
    Xd = da.from_array(X, chunks=100)
    params = dict(n_clusters=3, init=init, n_init=1, random_state=0)
    with dask.config.set(scheduler="synchronous"):
        ref = LloydKMeans(**params).fit(Xd, sample_weight=w)
        for scale in (1e-300, 1e306):
            km = LloydKMeans(**params).fit(Xd, sample_weight=w * scale)
            np.testing.assert_allclose(
                km.cluster_centers_, ref.cluster_centers_, rtol=1e-12, atol=1e-12
            )
            assert km.inertia_ == pytest.approx(ref.inertia_ * scale, rel=1e-12)
            score = km.score(Xd, sample_weight=w * scale)
            assert score == pytest.approx(-ref.inertia_ * scale, rel=1e-12)


# --------------------------------------------------------------------------
# 3. Far from the origin: predict and score as accurate as fit


def _far_from_origin(dtype):
    rng = np.random.RandomState(0)
    if dtype == np.float32:  # latitude / longitude of a city, metres apart
        n = 20_000
        X = np.column_stack([48.8 + 0.01 * rng.uniform(-1, 1, n),
                             2.35 + 0.01 * rng.uniform(-1, 1, n)])  # fmt: skip
    else:
        X = 1e9 + rng.normal(size=(1000, 3))
    return X.astype(dtype)


def _inertia_in_float64(X, centers, labels):
    diff = X.astype(np.float64) - centers.astype(np.float64)[labels]
    return float(np.einsum("ij,ij->", diff, diff))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_predict_and_score_agree_with_fit_far_from_the_origin(dtype):
    X = _far_from_origin(dtype)
    km = LloydKMeans(8, random_state=0).fit(X)
    np.testing.assert_array_equal(km.predict(X), km.labels_)
    np.testing.assert_array_equal(
        LloydKMeans(8, random_state=0).fit_predict(X), km.labels_
    )
    assert km.score(X) == pytest.approx(-km.inertia_, rel=1e-6)
    # inertia_ is the inertia of the returned centres, to the dtype's precision
    exact = _inertia_in_float64(X, km.cluster_centers_, km.labels_)
    # (per-row roundings in the dtype, summed in float64)
    assert km.inertia_ == pytest.approx(
        exact, rel={np.float32: 1e-6, np.float64: 1e-12}[dtype]
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dask_predict_and_score_agree_with_fit_far_from_the_origin(dtype):
    da = pytest.importorskip("dask.array")
    import dask

    X = _far_from_origin(dtype)
    km = LloydKMeans(8, random_state=0).fit(X)
    Xd = da.from_array(X, chunks=len(X) // 4)
    with dask.config.set(scheduler="synchronous"):
        np.testing.assert_array_equal(km.predict(Xd).compute(), km.labels_)
        assert km.score(Xd) == pytest.approx(-km.inertia_, rel=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dask_fit_labels_are_its_predict_far_from_the_origin(dtype):
    # labels_ and inertia_ of a Dask fit belong to the returned centres, as
    # in memory: adding the offset back rounds them.
    da = pytest.importorskip("dask.array")
    import dask

    X = _far_from_origin(dtype)
    Xd = da.from_array(X, chunks=len(X) // 4)
    with dask.config.set(scheduler="synchronous"):
        km = LloydKMeans(8, random_state=0).fit(Xd)
        np.testing.assert_array_equal(km.labels_, km.predict(Xd).compute())
        assert km.inertia_ == pytest.approx(-km.score(Xd), rel=1e-6)


def test_kselector_predict_and_score_agree_with_its_fit_far_from_the_origin():
    from sklearn_kmeans_lab import KSelector

    X = _far_from_origin(np.float32)[:3000]
    sel = KSelector(LloydKMeans(n_init=1), k_range=(7, 8), criterion="silhouette",
                    silhouette_sample_size=500, random_state=0).fit(X)  # fmt: skip
    best = sel.best_estimator_
    np.testing.assert_array_equal(sel.predict(X), best.labels_)
    assert sel.score(X) == pytest.approx(-best.inertia_, rel=1e-6)


# --------------------------------------------------------------------------
# 4. Exact ties: the lowest centre index wins, on every path


def _integer_grid(n_features, n_samples=400, seed=0):
    return np.random.RandomState(seed).randint(0, 5, size=(n_samples, n_features))


def _reference_labels(X, centers):
    """argmin of the exact squared distances (integers: exact in int64)."""
    diff = X.astype(np.int64)[:, None, :] - centers.astype(np.int64)[None, :, :]
    return np.argmin((diff**2).sum(axis=2), axis=1)


def _integer_centres(X, k, seed=1):
    rng = np.random.RandomState(seed)
    return np.unique(X, axis=0)[rng.choice(len(np.unique(X, axis=0)), k, False)]


@pytest.mark.parametrize("n_features", [3, 12], ids=["direct", "gemm"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
# an odd k too: OpenBLAS rounds the last centre of an odd k by the row's place
# in the call (and float32 at any k), which the GEMM kernel settles row by row
@pytest.mark.parametrize("n_clusters", [7, 8])
def test_exact_ties_go_to_the_lowest_index_in_the_first_iteration(
    n_features, dtype, n_clusters
):
    X = _integer_grid(n_features)
    init = _integer_centres(X, n_clusters)
    expected = _reference_labels(X, init)
    assert len(np.unique(expected)) == n_clusters
    # with many exact ties among the distances
    d = ((X[:, None, :] - init[None]) ** 2).sum(axis=2)
    assert np.sum(np.sum(d == d.min(axis=1, keepdims=True), axis=1) > 1) > 10
    Xf = X.astype(dtype)
    for data in (Xf, sp.csr_matrix(Xf)):
        km = _quiet_fit(LloydKMeans(n_clusters, init=init, max_iter=1, tol=0), data)
        means = np.array([X[expected == j].mean(axis=0) for j in range(n_clusters)])
        np.testing.assert_allclose(km.cluster_centers_, means, rtol=1e-6)


@pytest.mark.parametrize("n_features", [3, 12], ids=["direct", "gemm"])
def test_exact_ties_go_to_the_lowest_index_in_predict(n_features):
    X = _integer_grid(n_features)
    centres = _integer_centres(X, 8).astype(float)
    expected = _reference_labels(X, centres)
    km = LloydKMeans(8).fit(X)
    km.cluster_centers_ = centres
    for data in (X.astype(float), X.astype(np.float32), sp.csr_matrix(X, dtype=float)):
        np.testing.assert_array_equal(km.predict(data), expected)
    da = pytest.importorskip("dask.array")
    import dask

    with dask.config.set(scheduler="synchronous"):
        labels = km.predict(da.from_array(X.astype(float), chunks=100)).compute()
    np.testing.assert_array_equal(labels, expected)


def test_exact_ties_on_dask_fit_like_in_memory():
    da = pytest.importorskip("dask.array")
    import dask

    X = _integer_grid(3).astype(float)
    init = _integer_centres(X, 8)
    expected = _reference_labels(X, init)
    means = np.array([X[expected == j].mean(axis=0) for j in range(8)])
    with dask.config.set(scheduler="synchronous"):
        km = _quiet_fit(
            LloydKMeans(8, init=init, max_iter=1, tol=0), da.from_array(X, chunks=100)
        )
    np.testing.assert_allclose(km.cluster_centers_, means, rtol=1e-12)


def test_integer_data_runs_agree_across_kernels_and_bounds(monkeypatch):
    X = _integer_grid(6, n_samples=3000).astype(float)
    init = _integer_centres(X, 8)
    fits = []
    for use_bounds in (True, False):
        for direct_max in (8, 0):  # direct loop, then GEMM
            monkeypatch.setattr(_lloyd_run, "_USE_BOUNDS", use_bounds)
            monkeypatch.setattr(_lloyd_run, "_NEAREST_DIRECT_MAX_FEATURES", direct_max)
            fits.append(_quiet_fit(LloydKMeans(8, init=init, tol=0), X))
    for km in fits[1:]:
        np.testing.assert_array_equal(km.labels_, fits[0].labels_)
        np.testing.assert_allclose(km.cluster_centers_, fits[0].cluster_centers_,
                                   rtol=1e-13)  # fmt: skip


# --------------------------------------------------------------------------
# 5. Zero weights


def test_a_cluster_of_zero_weight_members_is_relocated_to_a_weighted_sample():
    rng = np.random.RandomState(0)
    X = np.vstack([rng.normal(0, 1, (50, 2)), rng.normal(20, 1, (50, 2)),
                   rng.normal(-40, 10, (10, 2))])  # fmt: skip
    w = np.r_[np.ones(100), np.zeros(10)]
    # the third centre sits among the zero-weight samples only
    init = np.array([[0.0, 0.0], [20.0, 20.0], [-40.0, -40.0]])
    km = LloydKMeans(3, init=init).fit(X, sample_weight=w)
    weight_per_cluster = np.bincount(km.labels_, weights=w, minlength=3)
    assert np.all(weight_per_cluster > 0)
    assert len(np.unique(km.cluster_centers_, axis=0)) == 3


def test_relocation_takes_the_farthest_sample_of_positive_weight():
    X = np.array([[0.0], [1.0], [2.0], [100.0]])
    w = np.array([1.0, 1.0, 1.0, 0.0])  # the farthest has no weight
    centers = np.array([[1.0], [50.0]])
    labels = np.zeros(4, dtype=np.int32)
    sums = np.array([[3.0], [0.0]])
    weights = np.array([3.0, 0.0])
    relocate_empty_clusters(X, w, centers, sums, weights, labels)
    np.testing.assert_array_equal(weights, [2.0, 1.0])
    # one of the two farthest weighted samples (0 or 2: equidistant from 1)
    assert sums[1, 0] in (0.0, 2.0) and sums[0, 0] == 3.0 - sums[1, 0]


@pytest.mark.parametrize("seed", range(10))
def test_random_init_never_draws_a_zero_weight_row_when_weights_are_tiny(seed):
    from sklearn.utils import check_random_state

    X = np.random.RandomState(seed).normal(size=(40, 2))
    w = np.zeros(40)
    w[0] = 1.0
    w[1:5] = 1e-30  # below 2**-61 of the total: quantised to no mass
    order = _canonical_order.canonical_order(X)
    centres = _seeding.random_centers(X, 4, w, check_random_state(seed), order)
    drawn = [int(np.flatnonzero((X == c).all(axis=1))[0]) for c in centres]
    assert all(w[i] > 0 for i in drawn)


def test_kmeans_plus_plus_never_draws_a_zero_weight_row_when_all_mass_is_spent():
    from sklearn.utils import check_random_state

    # two weighted points (duplicated) and a far zero-weight point: after two
    # centres every weighted sample sits on a centre
    X = np.array([[0.0, 0.0]] * 5 + [[1.0, 1.0]] * 5 + [[5.0, 5.0]])
    w = np.r_[np.ones(10), 0.0]
    for seed in range(5):
        _, indices = _seeding.kmeans_plusplus_centers(
            X, 3, w, check_random_state(seed), None
        )
        assert np.all(w[indices] > 0)


# --------------------------------------------------------------------------
# 9. Bookkeeping that converged fits hide


def test_relocation_moves_the_sample_weight_off_its_old_cluster():
    X = np.array([[0.0, 0.0], [1.0, 0.0], [9.0, 0.0], [50.0, 0.0]])
    w = np.array([1.0, 2.0, 3.0, 4.0])
    labels = np.array([0, 0, 1, 1], dtype=np.int32)
    centers = np.array([[0.5, 0.0], [10.0, 0.0], [10.0, 0.0]])
    sums = np.array([[2.0, 0.0], [227.0, 0.0], [0.0, 0.0]])
    weights = np.array([3.0, 7.0, 0.0])
    relocate_empty_clusters(X, w, centers, sums, weights, labels)
    # the farthest sample (50, weight 4) leaves cluster 1 for the empty one
    np.testing.assert_array_equal(weights, [3.0, 3.0, 4.0])
    np.testing.assert_array_equal(sums, [[2.0, 0.0], [27.0, 0.0], [200.0, 0.0]])


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("sparse", [False, True])
def test_iterates_around_a_relocation_match_sklearn(weighted, sparse):
    X = _blobs(300)
    w = np.random.RandomState(2).uniform(0.5, 2.0, len(X)) if weighted else None
    init = X[[0, 0, 1]]  # a duplicated centre: cluster 1 is empty at once
    data = sp.csr_matrix(X) if sparse else X
    for max_iter in (1, 2, 3):
        params = dict(n_clusters=3, init=init, n_init=1, max_iter=max_iter, tol=0)
        ours = _quiet_fit(LloydKMeans(**params), data, sample_weight=w)
        theirs = _quiet_fit(KMeans(**params), data, sample_weight=w)
        np.testing.assert_allclose(ours.cluster_centers_, theirs.cluster_centers_,
                                   rtol=1e-10, atol=1e-10)  # fmt: skip


def test_strict_convergence_stops_whatever_the_centre_shift():
    old = np.zeros((2, 2))
    new = np.ones((2, 2))
    assert has_converged(3, 0, old, new, tol=0.0, verbose=0)
    assert not has_converged(3, 1, old, new, tol=0.0, verbose=0)


def test_a_run_stops_when_no_label_changes(monkeypatch):
    # the shift test can then never stop the run: only strict convergence can
    monkeypatch.setattr(
        _lloyd_iterations, "center_shifts", lambda old, new: np.full(len(old), np.inf)
    )
    X = _blobs(300)
    km = LloydKMeans(3, init=X[:3], max_iter=100, tol=1e10).fit(X)
    assert km.n_iter_ < 100


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("n_clusters", [2, 3, 8, 21])
def test_kmeans_plus_plus_evaluates_two_plus_log_k_candidates(
    monkeypatch, sparse, n_clusters
):
    name = "sparse_trials" if sparse else "dense_trials"
    original = getattr(seeding_kernels, name)
    n_candidates = []

    def counting(samples, candidates, *args):
        n_candidates.append(len(candidates))
        return original(samples, candidates, *args)

    monkeypatch.setattr(seeding_kernels, name, counting)
    # the Python loop, which calls the trials from Python (the compiled
    # seeding makes the same calls: test_seeding.py)
    monkeypatch.setattr(_seeding, "_USE_COMPILED_SEEDING", False)
    X = _blobs(200)
    LloydKMeans(n_clusters, random_state=0).fit(sp.csr_matrix(X) if sparse else X)
    assert n_candidates == [2 + int(np.log(n_clusters))] * (n_clusters - 1)


def test_seeding_data_whose_squared_norms_are_subnormal():
    # found by the edges fuzz profile: the distance unit was subnormal and
    # its inverse infinite, so the masses were NaN
    X = np.full((5, 1), 4.49009711e-162)
    for w in (None, np.full(5, 5e-324)):
        km = _quiet_fit(LloydKMeans(2, random_state=0), X, sample_weight=w)
        np.testing.assert_array_equal(km.cluster_centers_, X[:2])
        assert km.inertia_ == 0.0


@pytest.mark.parametrize("dtype, scale", [(np.float64, 1e200), (np.float32, 1e30)])
@pytest.mark.parametrize("sparse", [False, True])
def test_kmeans_plus_plus_says_when_squared_distances_overflow(dtype, scale, sparse):
    # found by an edge-case audit: the compiled seeding quantised infinite
    # masses to int64 and drew out of bounds (a segmentation fault)
    X = (np.random.RandomState(0).rand(30, 3) * scale).astype(dtype)
    X_before = X.copy()
    data = sp.csr_matrix(X) if sparse else X
    with pytest.raises(ValueError, match="squared distances between the samples of X"):
        LloydKMeans(2, random_state=0).fit(data)
    np.testing.assert_array_equal(X, X_before)


@pytest.mark.parametrize("dtype, scale", [(np.float64, 1e300), (np.float32, 1e25)])
@pytest.mark.parametrize("init", ["random", "array"])
@pytest.mark.parametrize("sparse", [False, True])
def test_other_inits_say_when_squared_distances_overflow(dtype, scale, init, sparse):
    # scikit-learn, and this fit before, went on with infinite distances:
    # every sample in cluster 0, an infinite (or NaN) inertia
    X = (np.random.RandomState(0).rand(60, 3) * scale).astype(dtype)
    X_before = X.copy()
    init = X[[0, 30, 59]] if init == "array" else init
    data = sp.csr_matrix(X) if sparse else X
    with (
        np.errstate(over="ignore", invalid="ignore"),
        pytest.raises(ValueError, match="and the cluster centres overflow"),
    ):
        LloydKMeans(3, init=init, n_init=1, random_state=0).fit(data)
    np.testing.assert_array_equal(X, X_before)


def test_float32_features_whose_sums_of_squares_overflow_still_iterate():
    # the features' variances of small float32 data are summed in float32
    # (as numpy sums them): at 1e18 they overflowed, and the fit stopped
    # after its first iteration with an inertia 11 % above this one's
    X_small = np.random.RandomState(0).rand(20_000, 3).astype(np.float32)
    X = X_small * np.float32(1e18)
    km = LloydKMeans(2, init="random", n_init=1, random_state=0).fit(X)
    small = LloydKMeans(2, init="random", n_init=1, random_state=0).fit(X_small)
    assert km.n_iter_ == small.n_iter_ > 1
    np.testing.assert_array_equal(km.labels_, small.labels_)


@pytest.mark.parametrize("init", ["random", "k-means++"])
@pytest.mark.parametrize("sparse", [False, True])
def test_an_inertia_whose_sum_alone_overflows_is_returned(init, sparse):
    # every squared distance is finite (about 1e305), their sum is not: the
    # labels are those of the data scaled down, the inertia inf.  The
    # features' variances overflowed too, and with them the tolerance: the
    # fit stopped after its first iteration
    X_small = np.random.RandomState(0).rand(20_000, 3)
    X = X_small * 2.0**509
    X_before = X.copy()
    if sparse:
        X, X_small = sp.csr_matrix(X), sp.csr_matrix(X_small)
    km = _quiet_fit(LloydKMeans(2, init=init, n_init=1, random_state=0), X)
    small = LloydKMeans(2, init=init, n_init=1, random_state=0).fit(X_small)
    assert km.n_iter_ == small.n_iter_ > 1
    assert km.inertia_ == np.inf
    np.testing.assert_array_equal(X.toarray() if sparse else X, X_before)
    assert np.all(np.isfinite(km.cluster_centers_))
    np.testing.assert_array_equal(km.labels_, small.labels_)


def test_kmeans_plus_plus_takes_the_largest_data_whose_distances_fit():
    X = np.random.RandomState(0).rand(30, 3) * 1e150
    km = LloydKMeans(2, random_state=0).fit(X)
    assert np.isfinite(km.inertia_)
    assert np.all(np.isfinite(km.cluster_centers_))


@pytest.mark.parametrize("compiled", [True, False])
def test_kmeans_plus_plus_potentials_whose_sum_overflows(monkeypatch, compiled):
    # each squared distance is finite, their sum over the rows is not: the
    # candidates' potentials are summed in the seeding's unit, so they stay
    # comparable and the masses quantise (the draw is the same as that of
    # the data divided by a power of two, which changes no seed)
    monkeypatch.setattr(_seeding, "_USE_COMPILED_SEEDING", compiled)
    rng = np.random.RandomState(0)
    small = rng.rand(1000, 3)
    big = small * 2.0**508  # about 8e152: squared distances near 1e305
    assert not np.isfinite(((big - big.mean(axis=0)) ** 2).sum())
    order = _canonical_order.canonical_order(big)
    seeds = _seeding.kmeans_plusplus_centers(
        big, 5, None, np.random.RandomState(0), order
    )[1]
    order = _canonical_order.canonical_order(small)
    expected = _seeding.kmeans_plusplus_centers(
        small, 5, None, np.random.RandomState(0), order
    )[1]
    np.testing.assert_array_equal(seeds, expected)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(
    "shape", [(1, 1), (7, 1), (300, 1), (1, 5), (9, 2), (1797, 64), (70_000, 12)]
)
def test_column_stats_are_numpys_below_the_compiled_size(shape, dtype):
    # the offset and scikit-learn's tolerance come from these: below
    # _NUMPY_STATS_BYTES the compiled pass must give numpy's values bit for
    # bit (rows added in order, as numpy reduces the outer axis), on data
    # of every scale and far from the origin, C- or F-ordered
    from sklearn_kmeans_lab._backends.memory import _NUMPY_STATS_BYTES, column_stats

    rng = np.random.RandomState(shape[0] + shape[1])
    for scale, shift in ((1.0, 0.0), (1e-7, 3.0), (1e5, -1e9)):
        X = (rng.standard_normal(shape) * scale + shift).astype(dtype)
        assert X.nbytes <= _NUMPY_STATS_BYTES
        for data in (X, np.asfortranarray(X)):
            means, variances = column_stats(data)
            assert means.dtype == variances.dtype == dtype
            np.testing.assert_array_equal(means, data.mean(axis=0))
            np.testing.assert_array_equal(variances, np.var(data, axis=0))
