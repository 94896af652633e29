"""The compiled run's pass (``_kernels/batched_pass.py``): cumulative bounds
and the rows to compute in full batches, with the Python run's results."""

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from sklearn_kmeans_lab import _lloyd_run
from sklearn_kmeans_lab._kernels.batched_pass import batched_pass
from sklearn_kmeans_lab._kernels.common import CHUNK_ROWS, GEMM_CHUNK_ROWS, DenseRows
from sklearn_kmeans_lab._kernels.lloyd import (
    CenterTerms,
    GapBounds,
    PassOptions,
    Partials,
    pass_buffers,
)


@pytest.mark.parametrize(
    "n_features, n_clusters, dtype, weights",
    [
        (1, 3, np.float64, None),
        (2, 7, np.float64, "uniform"),
        (2, 16, np.float32, "with zeros"),
        (9, 5, np.float64, None),  # GEMM distances
        (12, 8, np.float32, "uniform"),
    ],
)
def test_runs_over_many_groups_and_passes_equal_the_python_run(
    n_features, n_clusters, dtype, weights, monkeypatch
):
    # overlapping clusters: runs of dozens of passes (totals refreshed from
    # scratch), most rows skipped late in a run, batches filled from many
    # chunks, several groups of rows
    rng = np.random.RandomState(n_features * n_clusters)
    n_samples = 20_000
    X = (rng.normal(size=(n_samples, n_features)) * 2.0 + 7.0).astype(dtype)
    X[: n_samples // 4] += 3.0
    w = None
    if weights is not None:
        w = rng.uniform(0.5, 2.0, n_samples).astype(dtype)
        if weights == "with zeros":
            w[rng.rand(n_samples) < 0.1] = 0.0
    offset = X.mean(axis=0)
    init = X[rng.choice(n_samples, n_clusters, replace=False)] - offset
    assert len(_lloyd_run._group_bounds(n_samples, n_clusters, n_features, 4)) > 3
    runs = []
    for compiled in (True, False):
        monkeypatch.setattr(_lloyd_run, "_USE_COMPILED_RUN", compiled)
        runs.append(
            _lloyd_run.lloyd_single_run(
                X,
                w,
                init,
                max_iter=300,
                tol=0.0,
                verbose=0,
                n_threads=1,
                x_offset=offset,
            )
        )
    (labels, inertia, centers, n_iter), python = runs
    assert n_iter > 32  # at least one refresh from scratch
    assert_array_equal(labels, python[0])
    assert inertia == python[1]
    assert_array_equal(centers, python[2])
    assert n_iter == python[3]


def _nearest(X, centers):
    return ((X[:, None, :] - centers[None]) ** 2).sum(axis=2).argmin(axis=1)


@pytest.mark.parametrize("n_features", [2, 10])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_only_the_rows_whose_bound_fails_are_computed_in_row_order(
    n_features, dtype
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
    stored = np.where(needed, drop[labels] - 1.0, drop[labels] + 1.0).astype(
        np.float32
    )
    before = stored.copy()
    use_gemm = n_features > 8
    chunk = GEMM_CHUNK_ROWS if use_gemm else CHUNK_ROWS
    bounds = np.array([0, 1000, n_samples])
    n_lanes = 4
    out = Partials(
        sums=np.zeros((2, n_lanes, n_clusters, n_features)),
        wsums=np.zeros((2, n_lanes, n_clusters)),
        counts=np.zeros((2, n_clusters), dtype=np.int64),
        changed=np.zeros(2, dtype=np.int64),
        inertia=np.zeros(2),
        largest_sq_norm=np.zeros(2),
    )
    batched_pass(
        DenseRows(X, np.zeros(n_features, dtype=dtype), np.ones(1, dtype=dtype), False),
        CenterTerms(centers, -2 * centers, np.einsum("ij,ij->i", centers, centers)),
        bounds,
        labels,
        out,
        GapBounds(stored, drop, 0.0, True, True),
        PassOptions(use_gemm, False, False, chunk),
        pass_buffers(X, n_clusters, chunk),
        0,
        2,
    )
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
