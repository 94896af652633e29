"""The compiled pieces of many small fits reproduce numpy's and the Python
run's arithmetic bit for bit."""

import numpy as np
import pytest

from sklearn_kmeans_lab._kernels import run as run_kernels


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
