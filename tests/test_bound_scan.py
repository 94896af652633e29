"""The scan of a compiled run's gap bounds (``_kernels/bound_scan.py``): the
vector scan finds the rows the row loop finds, in the same order."""

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from sklearn_kmeans_lab._kernels import bound_scan
from sklearn_kmeans_lab._kernels.batched_pass import RunBounds, scan_bounds
from sklearn_kmeans_lab._kernels.prefetch import worth_hinting

vector_scan = pytest.mark.skipif(
    not bound_scan.compiles_for_avx512(),
    reason="numba does not compile for AVX-512 on this machine",
)


def _expected(stored, limit, labels, row, end):
    rows = np.arange(row, end)
    return rows[stored[row:end] <= limit[labels[row:end]]]


def _problem(n_clusters, n_samples=3000, seed=0):
    rng = np.random.RandomState(seed)
    labels = rng.randint(0, n_clusters, n_samples).astype(np.int32)
    stored = rng.uniform(0.0, 1.0, n_samples).astype(np.float32)
    limit = rng.uniform(0.0, 0.6, n_clusters).astype(np.float32)
    # a cluster whose every row fails, one whose none does, and ties
    limit[0] = np.inf
    if n_clusters > 1:
        limit[1] = 0.0
    stored[::7] = limit[labels[::7]]
    return stored, limit, labels


@pytest.mark.parametrize("order", [None, "C", "F"])
@pytest.mark.parametrize("n_clusters", [1, 2, 5, 16, 17, 40])
def test_scan_finds_the_failing_rows_in_row_order(n_clusters, order):
    stored, limit, labels = _problem(n_clusters)
    # 4 MB, read in place: the rows found are hinted to the cache, through
    # X's strides
    hinted = order is not None
    X = np.zeros((stored.size, 175 if hinted else 2), order=order or "C")
    assert worth_hinting(X, True) == hinted
    gaps = RunBounds(stored, np.zeros(n_clusters), limit, True, True, np.zeros(0))
    rows = np.full(1024, -1, dtype=np.int64)
    # starts and stops off the vectors' edges, rows already found, and room
    # for fewer rows than the range holds
    for row, stop, room, n in [
        (0, 3000, 1024, 0),
        (3, 2990, 700, 5),
        (17, 40, 1000, 1000),
        (100, 100, 500, 0),
        (2985, 3000, 39, 1),
        (1, 999, 1023, 1),
    ]:
        rows[:n] = -7  # rows found before are kept
        next_row, found = scan_bounds(X, gaps, labels, row, stop, room, rows, n, hinted)
        end = min(stop, row + room)
        assert next_row == end
        assert_array_equal(rows[:n], -7)
        assert_array_equal(rows[n:found], _expected(stored, limit, labels, row, end))


@vector_scan
def test_the_vector_scan_is_taken_where_it_can_be():
    stored, limit, labels = _problem(8)
    rows = np.empty(1024, dtype=np.int64)
    X = np.zeros((stored.size, 2))
    next_row, found = bound_scan.whole_vectors_scan(
        stored, limit, labels, 5, 1000, rows, 3, X, False
    )
    # whole vectors from the start, the rest left to the row loop
    assert next_row == 5 + (1000 - 5) // 16 * 16
    assert_array_equal(rows[3:found], _expected(stored, limit, labels, 5, next_row))
    # more clusters than a vector holds: nothing scanned
    stored, limit, labels = _problem(17)
    assert bound_scan.whole_vectors_scan(
        stored, limit, labels, 0, 1000, rows, 0, X, False
    ) == (0, 0)
    # no room in rows for a whole vector: nothing scanned
    stored, limit, labels = _problem(8)
    assert bound_scan.whole_vectors_scan(
        stored, limit, labels, 0, 1000, rows, 1024 - 15, X, False
    ) == (0, 1024 - 15)


def test_the_vector_scan_follows_numba_target_features(monkeypatch):
    monkeypatch.setattr(bound_scan.config, "CPU_FEATURES", "+avx2,-avx512f")
    assert not bound_scan.compiles_for_avx512()
    monkeypatch.setattr(bound_scan.config, "CPU_FEATURES", "+avx2,+avx512f")
    assert bound_scan.compiles_for_avx512()
