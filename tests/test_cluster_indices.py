"""``cluster_indices`` computes scikit-learn's Calinski-Harabasz and
Davies-Bouldin indices."""

import numpy as np
import pytest
from sklearn.datasets import make_blobs
from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score

from sklearn_kmeans_lab import _gap
from sklearn_kmeans_lab._cluster_indices import cluster_indices


# the tolerance is scikit-learn's rounding: its distances are expanded
# (||x||^2 - 2<x, c> + ||c||^2) and nearby centroids amplify it; an error in
# a formula would show at O(1)
@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-6), (np.float32, 1e-3)])
@pytest.mark.parametrize("n_features", [1, 2, 7])
def test_equal_to_scikit_learns_indices(dtype, rtol, n_features):
    rng = np.random.RandomState(n_features)
    for trial in range(30):
        n = rng.randint(3, 400)
        k = rng.randint(2, min(n, 12))
        X, blob = make_blobs(n, n_features, centers=k, random_state=trial)
        # any scale; an offset of a few spreads (scikit-learn's distances to
        # the centroid, by the expanded ||x||^2 - 2<x, c> + ||c||^2, lose the
        # digits a large offset cancels)
        scale = 10.0 ** rng.uniform(-3, 3)
        X = (scale * (X + rng.uniform(-20, 20))).astype(dtype)
        # labels that are not 0..k-1: the blobs, a tenth of the samples moved
        # to another one (random labels have nearly equal centroids, whose
        # distance scikit-learn's expanded formula rounds coarsely), and a
        # cluster of one sample
        labels = 3 * blob - 3
        moved = rng.uniform(size=n) < 0.1
        labels[moved] = 3 * rng.randint(k, size=moved.sum()) - 3
        labels[rng.randint(n)] = 1000
        if np.unique(labels).size >= n:
            continue
        ch, db = cluster_indices(X, labels)
        assert ch == pytest.approx(calinski_harabasz_score(X, labels), rel=rtol)
        assert db == pytest.approx(davies_bouldin_score(X, labels), rel=rtol)


def test_degenerate_partitions_answer_as_scikit_learn():
    # every cluster a repeated point: within dispersion 0
    X = np.repeat([[0.0, 0.0], [1.0, 2.0], [5.0, 5.0]], 4, axis=0)
    labels = np.repeat([0, 1, 2], 4)
    assert cluster_indices(X, labels) == (
        calinski_harabasz_score(X, labels),
        davies_bouldin_score(X, labels),
    )
    # two clusters with the same centroid
    X = np.array([[-1.0], [1.0], [-2.0], [2.0], [0.0]])
    labels = np.array([0, 0, 1, 1, 1])
    ch, db = cluster_indices(X, labels)
    assert ch == pytest.approx(calinski_harabasz_score(X, labels), abs=1e-12)
    assert db == pytest.approx(davies_bouldin_score(X, labels))


def test_reads_x_in_chunks(monkeypatch):
    # the chunked passes add up to the same values as one pass
    X, labels = make_blobs(1000, 3, centers=5, random_state=0)
    whole = cluster_indices(X, labels)
    monkeypatch.setattr(_gap, "_CHUNK_VALUES", 97 * 3)  # chunks of 97 rows
    chunked = cluster_indices(X, labels)
    np.testing.assert_allclose(chunked, whole, rtol=1e-12)
