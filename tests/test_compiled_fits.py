"""The compiled pieces of many small fits reproduce numpy's and the Python
run's arithmetic bit for bit."""

import warnings

import numpy as np
import pytest
from sklearn.datasets import make_blobs
from sklearn.exceptions import ConvergenceWarning

from sklearn_kmeans_lab import KSelector, LloydKMeans, _engine
from sklearn_kmeans_lab._backends import RunResult, memory
from sklearn_kmeans_lab._backends.memory import check_fit_data
from sklearn_kmeans_lab._kernels import run as run_kernels
from sklearn_kmeans_lab._kernels import starts as start_kernels


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n_features", [1, 2, 3, 9])
def test_compiled_squared_norms_equal_numpy_einsum(dtype, n_features):
    # the compiled run's centre norms: computed in the kernel for few
    # features, numpy's own above; values across the whole float range
    rng = np.random.RandomState(n_features)
    for _ in range(100):
        k = rng.randint(1, 130)
        scale = 10.0 ** rng.uniform(-15, 15, size=(k, n_features))
        centers = (rng.normal(size=(k, n_features)) * scale).astype(dtype)
        out = np.empty(k, dtype=dtype)
        run_kernels.squared_norms(centers, out)
        np.testing.assert_array_equal(out, np.einsum("ij,ij->i", centers, centers))


def _fit_prepared(X, sample_weight, compiled, monkeypatch, **params):
    """``LloydKMeans._fit`` on KSelector's prepared data, every start in one
    compiled call or start by start; the generator after the fit."""
    monkeypatch.setattr(memory, "_USE_COMPILED_STARTS", compiled)
    rs = np.random.RandomState(params.pop("seed", 0))
    est = LloydKMeans(random_state=rs, **params)
    data = _engine.PreparedData(check_fit_data(est, X, sample_weight))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est._fit(data)
    return est, rs.uniform()


def _assert_same_fit(a, b):
    (est_a, next_a), (est_b, next_b) = a, b
    np.testing.assert_array_equal(est_a.labels_, est_b.labels_)
    np.testing.assert_array_equal(est_a.cluster_centers_, est_b.cluster_centers_)
    assert est_a.cluster_centers_.dtype == est_b.cluster_centers_.dtype
    assert est_a.inertia_ == est_b.inertia_
    assert est_a.n_iter_ == est_b.n_iter_
    assert next_a == next_b


@pytest.mark.parametrize("n_features", [2, 5, 17, 40])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_all_starts_in_one_call_equal_the_starts_one_by_one(
    monkeypatch, n_features, dtype
):
    X, _ = make_blobs(600, n_features, centers=5, cluster_std=3.0, random_state=1)
    X = X.astype(dtype)
    w = np.random.RandomState(2).uniform(0, 3, len(X))
    for sample_weight in (None, w):
        for n_clusters, n_init in ((1, 3), (4, 1), (7, 10)):
            params = dict(n_clusters=n_clusters, n_init=n_init, seed=n_clusters)
            _assert_same_fit(
                _fit_prepared(X, sample_weight, True, monkeypatch, **params),
                _fit_prepared(X, sample_weight, False, monkeypatch, **params),
            )


@pytest.fixture
def best_of_runs_calls(monkeypatch):
    """What every ``FitData.best_of_runs`` call returns, in order."""
    calls = []
    best_of_runs = memory.FitData.best_of_runs

    def spy(self, *args, **kwargs):
        calls.append(best_of_runs(self, *args, **kwargs))
        return calls[-1]

    monkeypatch.setattr(memory.FitData, "best_of_runs", spy)
    return calls


def test_a_start_that_leaves_a_cluster_empty_falls_back_to_the_loop(
    monkeypatch, best_of_runs_calls
):
    # three distinct rows and five clusters: k-means++ seeds repeated rows,
    # a run leaves a cluster empty, and the loop (with its relocation) fits
    X = np.repeat(np.array([[0.0, 0.0], [5.0, 1.0], [1.0, 9.0]]), 40, axis=0)
    params = dict(n_clusters=5, n_init=4)
    compiled = _fit_prepared(X, None, True, monkeypatch, **params)
    assert best_of_runs_calls == [None]
    _assert_same_fit(compiled, _fit_prepared(X, None, False, monkeypatch, **params))


@pytest.mark.parametrize("n_features", [2, 12])
def test_a_plain_fit_runs_its_starts_in_one_call_with_the_same_result(
    monkeypatch, best_of_runs_calls, n_features
):
    # LloydKMeans.fit itself, not only KSelector's engine, takes the one call
    X, _ = make_blobs(2000, n_features, centers=6, cluster_std=2.5, random_state=3)
    fits = []
    for compiled in (True, False):
        monkeypatch.setattr(memory, "_USE_COMPILED_STARTS", compiled)
        est = LloydKMeans(n_clusters=6, n_init=10, random_state=0).fit(X)
        fits.append((est, None))
    assert best_of_runs_calls[0] is not None and best_of_runs_calls[1] is None
    _assert_same_fit(*fits)


def test_compiled_same_partition_equals_same_clustering():
    rng = np.random.RandomState(0)
    data = _engine.PreparedData(
        check_fit_data(LloydKMeans(), rng.normal(size=(5, 2)), None)
    )
    for _ in range(200):
        k = rng.randint(1, 5)
        a = rng.randint(0, k, 30).astype(np.int32)
        perm = rng.permutation(k)
        b = perm[a].astype(np.int32)
        if rng.uniform() < 0.5:
            b[rng.randint(30)] = rng.randint(k)
        run_a = RunResult(0.0, np.zeros((k, 2)), 1, a)
        run_b = RunResult(0.0, np.zeros((k, 2)), 1, b)
        assert start_kernels.same_partition(a, b, k) == data.same_clustering(
            run_a, run_b
        )


def test_kselector_takes_the_compiled_starts(monkeypatch):
    X, _ = make_blobs(300, 2, centers=3, random_state=0)
    selectors = []
    for compiled in (True, False):
        monkeypatch.setattr(memory, "_USE_COMPILED_STARTS", compiled)
        selectors.append(
            KSelector(
                LloydKMeans(n_init=4), k_range=range(1, 6), n_refs=3, random_state=0
            ).fit(X)
        )
    fast, slow = selectors
    for name in fast.results_:
        np.testing.assert_array_equal(fast.results_[name], slow.results_[name])
    np.testing.assert_array_equal(fast.labels_, slow.labels_)
    np.testing.assert_array_equal(fast.cluster_centers_, slow.cluster_centers_)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_an_array_init_runs_in_one_call_with_the_loops_result(
    monkeypatch, best_of_runs_calls, dtype
):
    X, _ = make_blobs(500, 3, centers=4, cluster_std=2.0, random_state=4)
    X = (X + 1e4).astype(dtype)  # far from the origin: centred on the fly
    init = X[[0, 10, 20, 30]]
    fits = []
    for compiled in (True, False):
        monkeypatch.setattr(memory, "_USE_COMPILED_STARTS", compiled)
        fits.append((LloydKMeans(n_clusters=4, init=init, n_init=1).fit(X), None))
    assert best_of_runs_calls[0] is not None and best_of_runs_calls[1] is None
    _assert_same_fit(*fits)


def _hard_blobs(n, d, k, seed):
    # issue 12's hard regime: overlapping blobs, most labels still move
    X, _ = make_blobs(
        n, d, centers=k, cluster_std=4.0 * np.sqrt(d / 2.0), random_state=seed
    )
    return X


@pytest.mark.parametrize(
    "case", ["hard", "integer ties", "far from the origin", "weighted", "starts"]
)
def test_float32_products_leave_every_fit_as_it_was(monkeypatch, case):
    # The heavy passes of a compiled run over float64 X (a GEMM, at least
    # MIXED_MIN_CLUSTERS centres) take float32 products; near ties are
    # settled on the float64 rows and the gap bounds give up float32's
    # noise, so labels, centres, inertia and iterations are those of
    # float64 products bit for bit.
    from sklearn_kmeans_lab import _lloyd_run

    k = run_kernels.MIXED_MIN_CLUSTERS + 8
    rng = np.random.RandomState(7)
    X, weights, params = _hard_blobs(3000, 24, k, 0), None, {}
    if case == "integer ties":  # exact ties, settled to the lowest index
        X = np.round(rng.uniform(0, 3, size=(3000, 20)))
    elif case == "far from the origin":
        X = rng.normal(size=(3000, 20)) * 1e-3 + 1e7
    elif case == "weighted":
        weights = rng.uniform(0, 3, size=len(X))
        weights[rng.uniform(size=len(X)) < 0.2] = 0.0
    elif case == "starts":
        params = {"n_init": 3, "init": "random"}
    # the runs of this data may take them (a GEMM not in place, float64)
    assert _lloyd_run.dense_run_settings(X, 40, 0.0, False).mixed_noise_coef > 0
    fits = []
    for mixed in (True, False):
        monkeypatch.setattr(_lloyd_run, "_USE_MIXED_PRODUCTS", mixed)
        est = LloydKMeans(k, random_state=0, tol=0, max_iter=40, **params)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            fits.append((est.fit(X, sample_weight=weights), 0.0))
    _assert_same_fit(*fits)
    assert fits[0][0].n_iter_ > 3  # passes past the first: the bounds read


def test_float32_products_are_taken_where_the_run_allows():
    from sklearn_kmeans_lab import _lloyd_run

    X = _hard_blobs(500, 24, 3, 1)
    coef = _lloyd_run.dense_run_settings(X, 10, 0.0, False).mixed_noise_coef
    assert coef == _lloyd_run._noise_coef(np.float32, 24 + 2)
    # float32 X, or a direct loop (few features): float64 products only
    for data in (X.astype(np.float32), X[:, :5].copy()):
        assert _lloyd_run.dense_run_settings(data, 10, 0.0, False).mixed_noise_coef == 0
    settings = _lloyd_run.dense_run_settings(X, 10, 0.0, False)
    assert run_kernels.takes_converted(settings, run_kernels.MIXED_MIN_CLUSTERS)
    assert not run_kernels.takes_converted(settings, run_kernels.MIXED_MIN_CLUSTERS - 1)
