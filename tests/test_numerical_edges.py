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

from sklearn_kmeans_lab import LloydKMeans, _lloyd, _seeding
from sklearn_kmeans_lab._lloyd import (
    has_converged,
    lloyd_single_run,
    relocate_empty_clusters,
)


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
    got = _lloyd._squared_distances_to_assigned(X, centers, labels, None)
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
        monkeypatch.setattr(_lloyd, "_USE_BOUNDS", use_bounds)
        runs[use_bounds] = lloyd_single_run(
            X, None, init, max_iter=60, tol=0, verbose=0, n_threads=1
        )
    on, off = runs[True], runs[False]
    np.testing.assert_array_equal(on[0], off[0])
    np.testing.assert_array_equal(on[2], off[2])  # bit-for-bit, not allclose
    assert on[1] == off[1] and on[3] == off[3]
