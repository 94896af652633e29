"""``row_distances``: the squared distances of consecutive rows to one
centre, four rows at a time, as ``squared_distance`` sums them."""

import numba
import numpy as np
import pytest

from sklearn_kmeans_lab._kernels.common import squared_distance
from sklearn_kmeans_lab._kernels.row_distances import ROWS, row_distances


@numba.njit
def _row_by_row(X, x_offset, center, start, n, out):
    for r in range(n):
        out[r] = squared_distance(X, start + r, x_offset, center[None], 0, 0.0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n_features", [1, 3, 4, 5, 8, 17, 64, 100])
@pytest.mark.parametrize("start, n", [(0, 4), (3, 199), (0, 3), (7, 0)])
def test_row_distances_are_squared_distance_bit_for_bit(dtype, n_features, start, n):
    # features of very different scales, an offset and a centre in X's
    # dtype: the differences rounded in X's dtype, then squared and added in
    # float64 in feature order, as squared_distance does
    rng = np.random.default_rng(n_features)
    scales = rng.uniform(0.1, 1e3, n_features)
    X = (rng.normal(size=(210, n_features)) * scales).astype(dtype)
    x_offset = (rng.normal(size=n_features) * scales).astype(dtype)
    center = (rng.normal(size=n_features) * scales).astype(dtype)
    out = np.full(n + 1, np.nan)
    done = row_distances(X, x_offset, center, start, n, out)
    assert done == n // ROWS * ROWS
    expected = np.full(n + 1, np.nan)
    _row_by_row(X, x_offset, center, start, n, expected)
    np.testing.assert_array_equal(out[:done], expected[:done])
    # the rows past the last whole four are the caller's: not written
    assert np.isnan(out[done:]).all()


def test_row_distances_leave_rows_that_are_not_contiguous():
    # a Fortran-ordered X or a column slice is read a feature at a time by
    # squared_distance: none of its rows is computed here
    base = np.random.default_rng(0).normal(size=(40, 12))
    out = np.full(40, np.nan)
    for X in (np.asfortranarray(base), base[:, ::2]):
        n_features = X.shape[1]
        zero = np.zeros(n_features)
        assert row_distances(X, zero, zero, 0, 40, out) == 0
    assert np.isnan(out).all()
