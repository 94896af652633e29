"""k-means++ and random seeding: draws in a canonical order, weights as repeats."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import make_blobs

from sklearn_kmeans_lab import _seeding


def _naive_draws(X, w, closest, scale, uniforms):
    """Inverse CDF over the rows sorted by (key, index), masses quantised."""
    order = _seeding.canonical_order(X)
    keys = order.keys(X, np.arange(len(X)))
    rows = np.lexsort((np.arange(len(X)), keys))
    masses = np.floor(w * closest.astype(np.float64) * scale).astype(np.int64)
    cumulative = np.cumsum(masses[rows])
    total = int(cumulative[-1])
    values = [min(int(u * total), total - 1) for u in uniforms]
    return rows[np.searchsorted(cumulative, values, side="right")]


@pytest.mark.parametrize("sort_max", [4096, 3])
def test_bucketed_draws_equal_a_full_sort(monkeypatch, sort_max):
    monkeypatch.setattr(_seeding, "_SORT_MAX", sort_max)
    rng = np.random.RandomState(0)
    # clumped keys and repeated rows: buckets of very different sizes
    X = np.r_[rng.normal(size=(3000, 3)), rng.normal(size=(50, 3)) * 1e4]
    X = np.r_[X, X[:500]]
    w = rng.uniform(0, 3, len(X))
    closest = rng.uniform(0, 2, len(X)).astype(np.float32)
    masses = _seeding._Masses(
        X, _seeding.canonical_order(X), w, True, closest, float(w @ closest)
    )
    uniforms = rng.uniform(size=200)
    expected = _naive_draws(X, w, closest, masses.scale, uniforms)
    np.testing.assert_array_equal(masses.draw(uniforms), expected)


def test_seeds_do_not_depend_on_row_order_or_sparsity():
    X, _ = make_blobs(4000, 5, centers=6, cluster_std=4.0, random_state=0)
    X[np.abs(X) < 1] = 0
    perm = np.random.RandomState(3).permutation(len(X))
    seeds = []
    for data, back in ((X, None), (X[perm], perm), (sp.csr_matrix(X), None)):
        _, idx = _seeding.kmeans_plusplus_centers(
            data, 6, None, np.random.RandomState(0), None
        )
        seeds.append(idx if back is None else back[idx])
    np.testing.assert_array_equal(seeds[0], seeds[1])
    np.testing.assert_array_equal(seeds[0], seeds[2])


def test_integer_weights_seed_like_repeated_rows():
    X, _ = make_blobs(1500, 3, centers=5, cluster_std=4.0, random_state=0)
    w = np.random.RandomState(0).randint(0, 4, len(X))
    repeated = np.repeat(X, w, axis=0)
    a, _ = _seeding.kmeans_plusplus_centers(
        X, 5, w.astype(float), np.random.RandomState(1), None
    )
    b, _ = _seeding.kmeans_plusplus_centers(
        repeated, 5, None, np.random.RandomState(1), None
    )
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("n_features", [2, 16])
@pytest.mark.parametrize("weighted", [False, True])
def test_kept_candidate_distances_give_the_same_seeds(
    monkeypatch, n_features, weighted
):
    # The direct loop keeps the candidates' distances when they are small and
    # otherwise recomputes the chosen one's: both must choose the same seeds.
    rng = np.random.RandomState(0)
    X = rng.normal(size=(20_000, n_features)) * np.r_[1e3, np.ones(n_features - 1)]
    w = rng.uniform(0.1, 3, len(X)) if weighted else None
    order = _seeding.canonical_order(X)
    seeds = []
    for keep_small in (0, 2**20):
        monkeypatch.setattr(_seeding, "_KEEP_SMALL", keep_small)
        centers, indices = _seeding.kmeans_plusplus_centers(
            X, 12, w, np.random.RandomState(3), order, x_offset=X.mean(axis=0)
        )
        seeds.append((centers, indices))
    np.testing.assert_array_equal(seeds[0][1], seeds[1][1])
    np.testing.assert_array_equal(seeds[0][0], seeds[1][0])
