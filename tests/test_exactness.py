"""The exactness contract: from the same initial centres, ``LloydKMeans`` visits
the same iterates as ``sklearn.cluster.KMeans(algorithm="lloyd")``.

Every iterate is checked by stopping both after ``m`` iterations for every
``m`` up to convergence (``tol=0``, so only ``max_iter`` or strict convergence
stop them), then at the default ``tol``.
"""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs

from sklearn_kmeans_lab import LloydKMeans

RTOL = {np.float64: 1e-10, np.float32: 1e-5}


def _data(dtype, sparse, weighted, n_features=5, seed=0):
    X, _ = make_blobs(
        n_samples=600,
        n_features=n_features,
        centers=6,
        cluster_std=2.5,  # overlapping clusters: many iterations
        random_state=seed,
    )
    X = X.astype(dtype)
    if sparse:
        X[np.abs(X) < 3] = 0  # about half the entries
        X = sp.csr_matrix(X)
    rng = np.random.RandomState(seed)
    sample_weight = rng.uniform(0.1, 3.0, size=X.shape[0]) if weighted else None
    init = (X[:6].toarray() if sparse else X[:6]).copy()
    return X, sample_weight, init


def _assert_same_fit(ours, theirs, dtype):
    rtol = RTOL[dtype]
    scale = np.abs(theirs.cluster_centers_).max()
    np.testing.assert_array_equal(ours.labels_, theirs.labels_)
    np.testing.assert_allclose(
        ours.cluster_centers_, theirs.cluster_centers_, rtol=rtol, atol=rtol * scale
    )
    np.testing.assert_allclose(ours.inertia_, theirs.inertia_, rtol=rtol)
    assert ours.n_iter_ == theirs.n_iter_
    assert ours.cluster_centers_.dtype == theirs.cluster_centers_.dtype


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_every_iterate_matches_sklearn_lloyd(dtype, sparse, weighted):
    X, sample_weight, init = _data(dtype, sparse, weighted)
    full = KMeans(6, init=init, n_init=1, tol=0, algorithm="lloyd").fit(
        X, sample_weight=sample_weight
    )
    assert full.n_iter_ > 3, "the data should need several iterations"
    for max_iter in range(1, full.n_iter_ + 2):
        params = dict(n_clusters=6, init=init, n_init=1, tol=0, max_iter=max_iter)
        theirs = KMeans(algorithm="lloyd", **params).fit(X, sample_weight=sample_weight)
        ours = LloydKMeans(**params).fit(X, sample_weight=sample_weight)
        _assert_same_fit(ours, theirs, dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n_features", [2, 40], ids=["direct", "gemm"])
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_default_tol_fit_matches_sklearn_lloyd(dtype, n_features, sparse):
    X, sample_weight, init = _data(dtype, sparse, True, n_features=n_features)
    theirs = KMeans(6, init=init, n_init=1, algorithm="lloyd").fit(
        X, sample_weight=sample_weight
    )
    ours = LloydKMeans(6, init=init, n_init=1).fit(X, sample_weight=sample_weight)
    _assert_same_fit(ours, theirs, dtype)
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
    np.testing.assert_allclose(ours.score(X), theirs.score(X), rtol=RTOL[dtype])
    np.testing.assert_allclose(
        ours.transform(X), theirs.transform(X), rtol=RTOL[dtype], atol=1e-6
    )


def test_empty_cluster_relocation_matches_sklearn():
    # two far-away initial centres get no sample: both are relocated to the
    # samples farthest from their centres, as scikit-learn does
    X, _ = make_blobs(300, n_features=3, centers=3, random_state=1)
    init = np.vstack([X[:3], [[1e3, 1e3, 1e3], [-1e3, 1e3, -1e3]]])
    theirs = KMeans(5, init=init, n_init=1, algorithm="lloyd").fit(X)
    ours = LloydKMeans(5, init=init, n_init=1).fit(X)
    _assert_same_fit(ours, theirs, np.float64)


def test_zero_weight_empty_cluster_matches_sklearn():
    # a cluster whose only members have weight 0 counts as empty
    X, _ = make_blobs(200, n_features=2, centers=3, random_state=2)
    sample_weight = np.ones(len(X))
    X = np.vstack([X, [[50.0, 50.0]]])
    sample_weight = np.append(sample_weight, 0.0)
    init = np.vstack([X[:3], [[50.0, 50.0]]])
    theirs = KMeans(4, init=init, n_init=1, algorithm="lloyd").fit(
        X, sample_weight=sample_weight
    )
    ours = LloydKMeans(4, init=init, n_init=1).fit(X, sample_weight=sample_weight)
    _assert_same_fit(ours, theirs, np.float64)


def test_verbose_output_matches_sklearn(capsys):
    X, _, init = _data(np.float64, False, False)
    KMeans(6, init=init, n_init=1, verbose=1, algorithm="lloyd").fit(X)
    theirs = capsys.readouterr().out.splitlines()
    LloydKMeans(6, init=init, n_init=1, verbose=1).fit(X)
    ours = capsys.readouterr().out.splitlines()
    assert len(ours) == len(theirs)
    assert ours[0] == theirs[0] == "Initialization complete"
    assert ours[-1] == theirs[-1]  # the same "Converged at iteration i: ..." line
    for line_ours, line_theirs in zip(ours[1:-1], theirs[1:-1], strict=True):
        prefix, value = line_ours.rsplit(" ", 1)
        prefix_theirs, value_theirs = line_theirs.rsplit(" ", 1)
        assert prefix == prefix_theirs
        np.testing.assert_allclose(
            float(value.rstrip(".")), float(value_theirs.rstrip(".")), rtol=1e-10
        )
