"""The compiled run's own arithmetic: the centres' squared norms computed in
the kernel as numpy's einsum computes them, and a run that uses them equals
a run that calls numpy back, bit for bit."""

import numpy as np
import pytest

from sklearn_kmeans_lab._kernels import run as run_kernels
from sklearn_kmeans_lab._lloyd_run import LloydRun


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n_features", [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 33])
def test_compiled_einsum_lanes_equal_their_numpy_reference(n_features, dtype):
    # the compiled kernel and the numpy statement of its additions agree on
    # every platform, whatever numpy's einsum does there: two lanes of
    # doubles, four of floats
    rng = np.random.RandomState(n_features)
    exponents = 150 if dtype == np.float64 else 18
    centers = rng.normal(size=(200, n_features)) * 10.0 ** rng.uniform(
        -exponents, exponents, size=(200, n_features)
    )
    centers = centers.astype(dtype)
    centers[0] = 0.0
    centers[1, 0] = np.inf
    out = np.empty(200, dtype=dtype)
    run_kernels._einsum_lanes(centers, out)
    np.testing.assert_array_equal(out, run_kernels._einsum_lanes_reference(centers))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n_features", list(range(1, 19)) + [31, 40])
def test_squared_norms_as_the_run_computes_them_equal_numpy_einsum(dtype, n_features):
    # with the setting a run takes by default: compiled where this numpy was
    # seen to add as the kernel does, numpy called back otherwise
    rng = np.random.RandomState(100 + n_features)
    for _ in range(30):
        k = rng.randint(1, 130)
        scale = 10.0 ** rng.uniform(-15, 15, size=(k, n_features))
        centers = (rng.normal(size=(k, n_features)) * scale + 1e3).astype(dtype)
        out = np.empty(k, dtype=dtype)
        compiled = np.dtype(dtype) in run_kernels.COMPILED_EINSUM_DTYPES
        run_kernels.squared_norms(centers, out, compiled)
        np.testing.assert_array_equal(out, np.einsum("ij,ij->i", centers, centers))


def test_the_einsum_probe_rejects_a_fused_multiply_add(monkeypatch):
    # a numpy whose einsum rounds differently from the reference (as a fused
    # multiply-add does) is seen as such: its run calls numpy back
    def rounded_otherwise(subscripts, a, b):
        return np.nextafter(np.sum(a * b, axis=1), np.inf)

    monkeypatch.setattr(run_kernels.np, "einsum", rounded_otherwise)
    assert not run_kernels._numpy_einsum_is_lanes(np.float64)
    assert not run_kernels._numpy_einsum_is_lanes(np.float32)


def _compiled_run(X, w, n_clusters, centers, compiled_einsum):
    offset = X.mean(axis=0)
    run = LloydRun(X, w, n_clusters, offset, 1, True)
    settings = run.compiled_settings(300, 1e-10, True)
    settings = settings._replace(compiled_einsum=compiled_einsum)
    labels = np.full(X.shape[0], -1, dtype=np.int32)
    centers = (centers - offset).astype(X.dtype)
    samples, *buffers = run.run_buffers()
    result = run_kernels.lloyd_run(samples, centers, labels, *buffers, settings)
    return result, labels, centers


@pytest.mark.parametrize("n_samples", [1, 7, 100, 5000])
@pytest.mark.parametrize("n_features", [3, 5, 8, 17])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weighted", [False, True])
def test_a_run_with_compiled_norms_equals_one_calling_numpy(
    n_samples, n_features, dtype, weighted
):
    if np.dtype(dtype) not in run_kernels.COMPILED_EINSUM_DTYPES:
        pytest.skip(f"this numpy's einsum of {np.dtype(dtype)} adds otherwise")
    rng = np.random.RandomState(n_samples + n_features)
    X = rng.normal(size=(n_samples, n_features)) + 1e4  # far from the origin
    X[n_samples // 2 :] = X[: n_samples - n_samples // 2]  # duplicates: ties
    X = X.astype(dtype)
    w = rng.uniform(0.5, 2.0, n_samples) if weighted else None
    n_clusters = min(n_samples, 6)
    centers = X[rng.choice(n_samples, n_clusters, replace=False)].copy()
    compiled = _compiled_run(X, w, n_clusters, centers, True)
    called_back = _compiled_run(X, w, n_clusters, centers, False)
    assert compiled[0] == called_back[0]  # n_iter, inertia, empty
    np.testing.assert_array_equal(compiled[1], called_back[1])
    np.testing.assert_array_equal(compiled[2], called_back[2])
