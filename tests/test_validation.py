"""Bad input gets a clear error naming the problem, or a correct result."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

from sklearn_kmeans_lab import LloydKMeans


@pytest.fixture
def X():
    return make_blobs(n_samples=60, n_features=2, centers=3, random_state=0)[0]


@pytest.mark.parametrize(
    "param, value, message",
    [
        ("n_clusters", 0, r"'n_clusters' parameter of LloydKMeans must be an int in "
         r"the range \[1, inf\). Got 0 instead"),
        ("n_clusters", 2.5, "'n_clusters' parameter of LloydKMeans must be an int"),
        ("init", "kmeans++", "'init' parameter of LloydKMeans must be a str among"),
        ("n_init", 0, "'n_init' parameter of LloydKMeans must be"),
        ("n_init", "always", "'n_init' parameter of LloydKMeans must be"),
        ("max_iter", 0, "'max_iter' parameter of LloydKMeans must be an int"),
        ("tol", -1.0, r"'tol' parameter of LloydKMeans must be a float in the "
         r"range \[0.0, inf\)"),
        ("copy_x", "yes", "'copy_x' parameter of LloydKMeans must be an instance"),
        ("random_state", "seed", "'random_state' parameter of LloydKMeans must be"),
    ],
)  # fmt: skip
def test_invalid_parameters_are_named(X, param, value, message):
    with pytest.raises(ValueError, match=message):
        LloydKMeans(**{param: value}).fit(X)


def test_parameters_are_not_validated_in_init():
    LloydKMeans(n_clusters=-1, tol="x")  # must not raise


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.array([[0.0, np.nan], [1.0, 2.0], [3.0, 4.0]]), "Input X contains NaN"),
        (np.array([[0.0, np.inf], [1.0, 2.0], [3.0, 4.0]]), "Input X contains inf"),
        (np.empty((0, 2)), r"Found array with 0 sample\(s\)"),
        (np.empty((3, 0)), r"Found array with 0 feature\(s\)"),
        (np.arange(6.0), "Expected 2D array, got 1D array"),
        (np.zeros((3, 2, 2)), "Found array with dim 3"),
        (np.array([[1 + 1j, 2], [3, 4j], [5, 6]]), "Complex data not supported"),
        (np.array([["a", "b"], ["c", "d"], ["e", "f"]]), "could not convert"),
        (np.array([[object(), 1], [2, 3], [4, 5]], dtype=object), "float"),
    ],
    ids=["nan", "inf", "empty", "no-features", "1d", "3d", "complex", "strings",
         "objects"],
)  # fmt: skip
def test_bad_X_raises_a_clear_error(bad, message):
    with pytest.raises((ValueError, TypeError), match=message):
        LloydKMeans(n_clusters=2).fit(bad)


def test_numeric_object_array_is_converted(X):
    km = LloydKMeans(3, random_state=0).fit(X.astype(object))
    ref = LloydKMeans(3, random_state=0).fit(X)
    np.testing.assert_array_equal(km.labels_, ref.labels_)


def test_more_clusters_than_samples(X):
    with pytest.raises(ValueError, match="n_samples=60 should be >= n_clusters=61"):
        LloydKMeans(61).fit(X)


def test_int64_indexed_sparse_is_rejected(X):
    Xs = sp.csr_matrix(X)
    Xs.indices = Xs.indices.astype(np.int64)
    Xs.indptr = Xs.indptr.astype(np.int64)
    with pytest.raises(ValueError, match="int64"):
        LloydKMeans(3).fit(Xs)


@pytest.mark.parametrize(
    "weights, message",
    [
        (-np.ones(60), "sample_weight must be non-negative; got 60 negative"),
        (np.r_[np.nan, np.ones(59)], "sample_weight contains NaN"),
        (np.zeros(60), "Sample weights must contain at least one non-zero number"),
        (np.ones(59), r"sample_weight.shape == \(59,\), expected \(60,\)"),
        (np.ones((60, 2)), "Sample weights must be 1D array or scalar"),
    ],
    ids=["negative", "nan", "all-zero", "wrong-length", "2d"],
)
def test_bad_sample_weight_raises_a_clear_error(X, weights, message):
    with pytest.raises(ValueError, match=message):
        LloydKMeans(3).fit(X, sample_weight=weights)


def test_random_init_needs_enough_weighted_samples(X):
    w = np.zeros(60)
    w[:2] = 1
    with pytest.raises(ValueError, match="init='random' needs at least n_clusters=3"):
        LloydKMeans(3, init="random").fit(X, sample_weight=w)


def test_fewer_distinct_points_than_clusters_still_fits():
    X = np.repeat([[0.0, 0.0], [1.0, 1.0]], 10, axis=0)
    with pytest.warns(Warning, match="Number of distinct clusters"):
        km = LloydKMeans(4, random_state=0).fit(X)
    assert km.inertia_ == 0
    assert set(np.unique(km.predict(X))) <= set(range(4))


@pytest.mark.parametrize("scale", [1e150, 1e-150])
def test_extreme_magnitudes_give_the_scaled_result(X, scale):
    ref = LloydKMeans(3, random_state=0).fit(X)
    km = LloydKMeans(3, random_state=0).fit(X * scale)
    assert np.all(np.isfinite(km.cluster_centers_))
    assert adjusted_rand_score(ref.labels_, km.labels_) == 1.0
    np.testing.assert_allclose(km.cluster_centers_ / scale, ref.cluster_centers_)
    assert km.inertia_ / scale**2 == pytest.approx(ref.inertia_, rel=1e-9)


def test_constant_feature_is_harmless(X):
    Xc = np.c_[X, np.full(len(X), 7.0)]
    km = LloydKMeans(3, random_state=0).fit(Xc)
    ref = LloydKMeans(3, random_state=0).fit(X)
    np.testing.assert_array_equal(km.labels_, ref.labels_)
    np.testing.assert_allclose(km.cluster_centers_[:, 2], 7.0)


def test_all_constant_data_fits_one_point():
    X = np.full((10, 2), 3.0)
    with pytest.warns(Warning, match="Number of distinct clusters"):
        km = LloydKMeans(2, random_state=0).fit(X)
    assert km.inertia_ == 0
    np.testing.assert_allclose(km.cluster_centers_, 3.0)


def test_unscaled_income_in_float32_matches_float64():
    # incomes ~1e5 next to ages ~40: float32 still separates the clusters
    rng = np.random.RandomState(0)
    centers = np.array([[30_000, 25], [90_000, 45], [160_000, 60]])
    X = np.vstack([c + rng.normal(scale=[8_000, 2], size=(200, 2)) for c in centers])
    km64 = LloydKMeans(3, random_state=0).fit(X)
    km32 = LloydKMeans(3, random_state=0).fit(X.astype(np.float32))
    assert km32.cluster_centers_.dtype == np.float32
    assert adjusted_rand_score(km64.labels_, km32.labels_) == 1.0
    np.testing.assert_allclose(km32.cluster_centers_, km64.cluster_centers_, rtol=1e-5)
    assert km32.inertia_ == pytest.approx(km64.inertia_, rel=1e-4)
