"""The compiled run's pass (``_kernels/batched_pass.py``): cumulative bounds
and the rows to compute in full batches.  That whole compiled runs equal the
Python run is ``test_engine.py::test_compiled_run_is_the_python_run_bit_for_bit``."""

import numba
import numpy as np
import pytest
from numpy.testing import assert_array_equal

from sklearn_kmeans_lab._kernels.batched_pass import (
    ConvertedProducts,
    RunBounds,
    batched_pass,
    scan_limits,
)
from sklearn_kmeans_lab._kernels.common import BATCH_ROWS, CHUNK_ROWS, DenseRows
from sklearn_kmeans_lab._kernels.lloyd import (
    CenterTerms,
    PassOptions,
    gap_of,
    pass_buffers,
    zero_partials,
)


def _nearest(X, centers):
    return ((X[:, None, :] - centers[None]) ** 2).sum(axis=2).argmin(axis=1)


def _converted(on, n_clusters, n_features, chunk=BATCH_ROWS, margin_coef=0.0):
    """``ConvertedProducts`` of a pass: off, or on with its float32 buffers."""
    shape = (n_clusters, n_features) if on else (0, 0)
    return ConvertedProducts(
        on,
        np.empty(shape, dtype=np.float32),
        np.empty((chunk, n_features) if on else (0, 0), dtype=np.float32),
        np.empty(n_clusters * chunk if on else 0, dtype=np.float32),
        margin_coef,
        0.0,
    )


@pytest.mark.parametrize("chunk", [CHUNK_ROWS, BATCH_ROWS])
@pytest.mark.parametrize(
    "n_features, in_place, converted",
    [(2, False, False), (10, False, False), (10, True, False), (40, False, True)],
)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_only_the_rows_whose_bound_fails_are_computed_in_row_order(
    n_features, in_place, converted, dtype, chunk
):
    rng = np.random.RandomState(n_features)
    n_samples, n_clusters = 3000, 4
    X = rng.normal(size=(n_samples, n_features)).astype(dtype)
    centers = rng.normal(size=(n_clusters, n_features)).astype(dtype) * 2
    nearest = _nearest(X.astype(np.float64), centers.astype(np.float64))
    # every row starts in the cluster after its nearest: a computed row moves
    start = ((nearest + 1) % n_clusters).astype(np.int32)
    labels = start.copy()
    # rows in runs of every length, so that batches fill across chunks
    needed = rng.rand(n_samples) < rng.uniform(0.02, 0.9, n_samples)
    drop = rng.uniform(0.0, 5.0, n_clusters)
    stored = np.where(needed, drop[labels] - 1.0, drop[labels] + 1.0).astype(np.float32)
    before = stored.copy()
    limit = np.empty(n_clusters, dtype=np.float32)
    scan_limits(0.0, drop, limit)
    use_gemm = n_features > 8
    bounds = np.array([0, 1000, n_samples])
    n_lanes = 4
    out = zero_partials(2, n_lanes, n_clusters, n_features)
    # the products in place read the kept norms
    sq_norms = np.einsum("ij,ij->i", X, X).astype(np.float64) if in_place else None
    buffers = pass_buffers(X, n_clusters, chunk)
    buffers.centers_t[:] = np.nan
    converted = _converted(
        converted and dtype == np.float64, n_clusters, n_features, chunk
    )
    batched_pass(
        DenseRows(X, np.zeros(n_features, dtype=dtype), np.ones(1, dtype=dtype), False),
        CenterTerms(centers, -2 * centers, np.einsum("ij,ij->i", centers, centers)),
        bounds,
        labels,
        out,
        RunBounds(
            stored, drop, limit, True, True, sq_norms if in_place else np.zeros(0)
        ),
        PassOptions(use_gemm, False, False, chunk, in_place),
        buffers,
        # float32 products of float64 rows: the same labels and moves
        converted,
        0,
        2,
    )
    # the pass took in_place_dots: it wrote their centres; float32 products:
    # it wrote -2 c rounded
    if buffers.centers_t.size:
        assert np.isnan(buffers.centers_t).any() != in_place
    if converted.on:
        assert_array_equal(converted.minus_2, (-2 * centers).astype(np.float32))
    assert_array_equal(labels[needed], nearest[needed])
    assert_array_equal(labels[~needed], start[~needed])
    assert_array_equal(stored[~needed], before[~needed])
    # a computed row's new bound is its gap plus its new cluster's drop
    assert np.all(stored[needed] >= drop[labels[needed]])
    moved = needed & (start != nearest)
    assert out.changed.sum() == moved.sum()
    # each moved row took its contribution from its old cluster to its new
    # one, in the lane of its offset in its group
    for g in range(2):
        group = np.arange(bounds[g], bounds[g + 1])
        for lane in range(n_lanes):
            rows = group[(group - bounds[g]) % n_lanes == lane]
            rows = rows[moved[rows]]
            expected = np.zeros((n_clusters, n_features))
            np.add.at(expected, nearest[rows], X[rows].astype(np.float64))
            np.subtract.at(expected, start[rows], X[rows].astype(np.float64))
            np.testing.assert_allclose(out.sums[g, lane], expected, atol=1e-9)
            weights = np.zeros(n_clusters)
            np.add.at(weights, nearest[rows], 1.0)
            np.subtract.at(weights, start[rows], 1.0)
            assert_array_equal(out.wsums[g, lane], weights)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_kept_norms_give_the_pass_of_norms_summed_again(dtype):
    # The first pass (every row) keeps each row's squared norm; a pass that
    # reads the bounds then copies its rows and reads their norms: its
    # labels, moves and new bounds are those of a pass that sums them again.
    rng = np.random.RandomState(3)
    n_samples, n_features, n_clusters = 2500, 12, 5
    X = rng.normal(size=(n_samples, n_features)).astype(dtype)
    x_offset = rng.normal(size=n_features).astype(dtype)
    samples = DenseRows(X, x_offset, np.ones(1, dtype=dtype), False)
    bounds = np.array([0, 900, n_samples])

    def partials():
        return zero_partials(2, 4, n_clusters, n_features)

    def terms(centers):
        centers = centers.astype(dtype)
        return CenterTerms(
            centers, -2 * centers, np.einsum("ij,ij->i", centers, centers)
        )

    def one_pass(centers, labels, stored, drop, read, sq_norms, in_place=False):
        # the first pass (labels -1) adds every row from scratch
        limit = np.empty(n_clusters, dtype=np.float32)
        scan_limits(0.0, drop, limit)
        out = partials()
        batched_pass(
            samples,
            terms(centers),
            bounds,
            labels,
            out,
            RunBounds(stored, drop, limit, read, True, sq_norms),
            PassOptions(True, not read, False, BATCH_ROWS, in_place),
            pass_buffers(X, n_clusters, BATCH_ROWS),
            _converted(False, n_clusters, n_features),
            0,
            2,
        )
        return out

    first = rng.normal(size=(n_clusters, n_features))
    labels = np.full(n_samples, -1, dtype=np.int32)
    stored = np.zeros(n_samples, dtype=np.float32)
    sq_norms = np.full(n_samples, np.nan)
    one_pass(first, labels, stored, np.zeros(n_clusters), False, sq_norms)
    # every row's norm was kept, as gather sums it: at most a rounding away
    # from the exact one
    exact = ((X.astype(np.float64) - x_offset) ** 2).sum(axis=1)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(sq_norms, exact, rtol=rtol)
    # a first pass in place sums the same norms without the copy
    # (row_norms), and gives the same labels and sums
    labels_f = np.full(n_samples, -1, dtype=np.int32)
    sq_norms_f = np.full(n_samples, np.nan)
    stored_f = np.zeros(n_samples, dtype=np.float32)
    out_f = one_pass(
        first, labels_f, stored_f, np.zeros(n_clusters), False, sq_norms_f, True
    )
    assert_array_equal(sq_norms_f, sq_norms)
    assert_array_equal(labels_f, labels)
    out_c = one_pass(
        first,
        np.full(n_samples, -1, dtype=np.int32),
        np.zeros(n_samples, dtype=np.float32),
        np.zeros(n_clusters),
        False,
        np.full(n_samples, np.nan),
    )
    for field in ("sums", "wsums", "counts", "changed"):
        assert_array_equal(getattr(out_f, field), getattr(out_c, field))

    # moved centres: the bounds of many rows fail
    second = first + rng.normal(scale=0.3, size=first.shape)
    drop = np.linalg.norm(second - first, axis=1) + 0.2
    results = []
    runs = (
        (sq_norms, False),
        (np.zeros(0), False),
        (sq_norms, True),
        # in place in a run that keeps no norms: each pass sums them again
        (np.zeros(0), True),
    )
    for kept, in_place in runs:
        labels_b, stored_b = labels.copy(), stored.copy()
        out = one_pass(second, labels_b, stored_b, drop.copy(), True, kept, in_place)
        results.append((labels_b, stored_b, out))
    (labels_k, stored_k, out_k), (labels_s, stored_s, out_s), in_place, summed = results
    assert out_s.changed.sum() > 0
    assert not np.array_equal(labels_s, labels)
    assert_array_equal(labels_k, labels_s)
    assert_array_equal(stored_k, stored_s)
    for field in ("sums", "wsums", "counts", "changed"):
        assert_array_equal(getattr(out_k, field), getattr(out_s, field))
    # the products in place: the same labels and moves (the moved rows' values
    # read from X as the copy computes them); bounds from products rounded
    # otherwise: float64 products, a float32 rounding of the bound apart;
    # float32 ones, a few roundings of the distances
    labels_p, stored_p, out_p = in_place
    assert_array_equal(labels_p, labels_k)
    for field in ("sums", "wsums", "counts", "changed"):
        assert_array_equal(getattr(out_p, field), getattr(out_k, field))
    rtol = 2**-22 if dtype == np.float64 else 2**-16
    np.testing.assert_allclose(stored_p, stored_k, rtol=rtol, atol=1e-30)
    # norms summed again by row_norms are the kept ones: the same pass
    labels_r, stored_r, out_r = summed
    assert_array_equal(labels_r, labels_p)
    assert_array_equal(stored_r, stored_p)
    for field in ("sums", "wsums", "counts", "changed"):
        assert_array_equal(getattr(out_r, field), getattr(out_p, field))


def test_scan_limits_are_the_threshold_plus_drop_rounded_up():
    rng = np.random.RandomState(0)
    drop = np.concatenate(
        [rng.uniform(0.0, 1.0, 200), rng.uniform(0.0, 1e6, 200), [0.0, 1e39, np.nan]]
    )
    threshold = 1e-3
    limit = np.empty(drop.size, dtype=np.float32)
    scan_limits(threshold, drop, limit)
    finite = np.isfinite(drop) & (drop < 1e38)
    # a stored float32 above its limit proves stored - drop > threshold
    assert np.all(limit[finite].astype(np.float64) >= threshold + drop[finite])
    assert np.all(limit[finite] <= np.float32((threshold + drop[finite]) * 1.000001))
    # beyond float32's range, or a NaN drop: no bound passes the limit
    assert np.all(np.isposinf(limit[~finite]))


def test_a_nan_drop_stores_no_bound_and_its_rows_are_computed():
    rng = np.random.RandomState(1)
    n_samples, n_features, n_clusters = 500, 2, 3
    X = rng.normal(size=(n_samples, n_features))
    centers = rng.normal(size=(n_clusters, n_features))
    labels = np.zeros(n_samples, dtype=np.int32)
    stored = np.full(n_samples, 1e30, dtype=np.float32)
    drop = np.array([np.nan, 0.0, 0.0])
    limit = np.empty(n_clusters, dtype=np.float32)
    scan_limits(0.0, drop, limit)
    out = zero_partials(1, 1, n_clusters, n_features)
    batched_pass(
        DenseRows(X, np.zeros(n_features), np.ones(1), False),
        CenterTerms(centers, -2 * centers, np.einsum("ij,ij->i", centers, centers)),
        np.array([0, n_samples]),
        labels,
        out,
        RunBounds(stored, drop, limit, True, True, np.zeros(0)),
        PassOptions(False, False, False, BATCH_ROWS),
        pass_buffers(X, n_clusters, BATCH_ROWS),
        _converted(False, n_clusters, n_features),
        0,
        1,
    )
    # every row was in the cluster of the NaN drop: all were computed
    assert_array_equal(labels, _nearest(X, centers))
    # and the rows still in it hold no bound (0), not a NaN one
    assert not np.isnan(stored).any()
    assert np.all(stored[labels == 0] == 0)


@numba.njit
def _gaps_of(best_d, second_d, sq_norm, out):
    for i in range(best_d.shape[0]):
        out[i] = gap_of(best_d[i], second_d[i], sq_norm[i])


def test_a_gap_from_float32_roots_is_a_lower_bound_and_a_close_one():
    rng = np.random.RandomState(0)
    n = 200_000
    scale = 10.0 ** rng.uniform(-300, 300, n)
    first = rng.uniform(0.0, 1.0, n) ** 2 * scale
    second = first + rng.uniform(0.0, 1.0, n) ** 4 * scale
    sq_norm = rng.uniform(0.0, 1.0, n) * scale
    best_d, second_d = first - sq_norm, second - sq_norm
    gaps = np.empty(n)
    _gaps_of(best_d, second_d, sq_norm, gaps)
    # the roots of the float64 sums, in extended precision
    exact = np.sqrt(
        np.maximum((second_d + sq_norm).astype(np.longdouble), 0)
    ) - np.sqrt(np.maximum((best_d + sq_norm).astype(np.longdouble), 0))
    assert np.all(gaps >= 0)
    assert np.all(gaps.astype(np.longdouble) <= exact)
    # within float32's range, a gap of over 1e-5 of the distances keeps
    # nearly all of itself
    normal = (scale > 1e-30) & (scale < 1e30) & (exact > 1e-5 * np.sqrt(scale))
    assert np.all(gaps[normal] >= 0.9 * exact[normal].astype(np.float64))
    # overflow, NaN and a first distance above the second: no bound
    specials = np.array([np.nan, np.inf, 1e300, -1.0])
    out = np.empty(specials.size)
    _gaps_of(specials, np.full(specials.size, np.nan), np.zeros(specials.size), out)
    assert_array_equal(out, 0.0)
    _gaps_of(
        np.array([np.nan, np.inf, 4.0]), np.array([1.0, 1.0, 1.0]), np.zeros(3), out[:3]
    )
    assert_array_equal(out[:3], 0.0)
