"""The compiled run's pass (``_kernels/batched_pass.py``): cumulative bounds
and the rows to compute in full batches.  That whole compiled runs equal the
Python run is ``test_engine.py::test_compiled_run_is_the_python_run_bit_for_bit``."""

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from sklearn_kmeans_lab._kernels.batched_pass import batched_pass
from sklearn_kmeans_lab._kernels.common import BATCH_ROWS, CHUNK_ROWS, DenseRows
from sklearn_kmeans_lab._kernels.lloyd import (
    CenterTerms,
    GapBounds,
    Partials,
    PassOptions,
    pass_buffers,
)


def _nearest(X, centers):
    return ((X[:, None, :] - centers[None]) ** 2).sum(axis=2).argmin(axis=1)


@pytest.mark.parametrize("chunk", [CHUNK_ROWS, BATCH_ROWS])
@pytest.mark.parametrize("n_features", [2, 10])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_only_the_rows_whose_bound_fails_are_computed_in_row_order(
    n_features, dtype, chunk
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
    use_gemm = n_features > 8
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
