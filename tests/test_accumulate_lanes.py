"""``accumulate`` adds each row into the lane ``r % n_lanes`` of its rank in
the chunk, in row order: the additions a pass from scratch makes, whatever
the kernel's loop looks like."""

import numpy as np
import pytest

from sklearn_kmeans_lab._kernels.common import DenseRows
from sklearn_kmeans_lab._kernels.lloyd import accumulate


def _plain_lane_sums(X, x_offset, w, labels, start, n_rows, n_lanes, n_clusters):
    """The lane sums one row after the other, each addition rounded."""
    sums = np.zeros((n_lanes, n_clusters, X.shape[1]))
    wsums = np.zeros((n_lanes, n_clusters))
    counts = np.zeros(n_clusters, dtype=np.int64)
    for r in range(n_rows):
        i = start + r
        a, lane = labels[i], r % n_lanes
        wsums[lane, a] += w[i]
        counts[a] += w[i] > 0
        for f in range(X.shape[1]):
            sums[lane, a, f] += float(X[i, f] - x_offset[f]) * w[i]
    return sums, wsums, counts


@pytest.mark.parametrize("n_lanes", [1, 3, 4])
@pytest.mark.parametrize("n_rows", [1, 5, 258])
@pytest.mark.parametrize("weighted", [False, True])
def test_accumulate_adds_each_row_into_its_lane_in_order(n_lanes, n_rows, weighted):
    rng = np.random.default_rng(n_lanes * 1000 + n_rows)
    n_clusters, start = 5, 3
    X = rng.normal(size=(start + n_rows + 2, 3)) * 1e3
    x_offset = X.mean(axis=0)
    labels = rng.integers(0, n_clusters, X.shape[0]).astype(np.int32)
    w = rng.uniform(0.0, 2.0, X.shape[0]) if weighted else np.ones(X.shape[0])
    w[::7] = 0.0 if weighted else 1.0  # members of zero weight are not counted
    samples = DenseRows(X, x_offset, w if weighted else np.ones(1), weighted)
    sums = np.zeros((n_lanes, n_clusters, X.shape[1]))
    wsums = np.zeros((n_lanes, n_clusters))
    counts = np.zeros(n_clusters, dtype=np.int64)
    accumulate(samples, labels, start, n_rows, sums, wsums, counts)
    expected = _plain_lane_sums(
        X, x_offset, w, labels, start, n_rows, n_lanes, n_clusters
    )
    np.testing.assert_array_equal(sums, expected[0])
    np.testing.assert_array_equal(wsums, expected[1])
    np.testing.assert_array_equal(counts, expected[2])
