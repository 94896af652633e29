"""``in_place_dots``: the products of scattered rows with a few centres, the
rows read where they lie, as the GEMM of a copy computes them."""

import numba
import numpy as np
import pytest

from sklearn_kmeans_lab._kernels.common import DenseRows
from sklearn_kmeans_lab._kernels.nearest import row_norms
from sklearn_kmeans_lab._kernels.row_dots import (
    IN_PLACE_MAX_CLUSTERS,
    in_place_dots,
    padded_clusters,
    transposed_minus_2,
)


def _products(X, offset, rows, minus_2):
    """The products of the centred rows in float64: (k, n)."""
    centred = X[rows].astype(np.float64) - offset.astype(np.float64)
    return minus_2.astype(np.float64) @ centred.T


def _in_place(X, offset, rows, minus_2, spare=3, norms=None):
    """``in_place_dots`` of the rows: ``(centers_t, dots)``; the rows'
    norms into ``norms`` where given."""
    k, n_features = minus_2.shape
    padded = padded_clusters(X, k)
    centers_t = np.full((n_features, padded), np.nan, dtype=X.dtype)
    transposed_minus_2(minus_2, centers_t)
    dots = np.full((padded, len(rows) + spare), np.nan, dtype=X.dtype)
    if norms is None:
        norms = np.zeros(0)
    in_place_dots(X, offset, rows, len(rows), centers_t, dots, norms)
    return centers_t, dots


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n_features", [1, 5, 9, 16])
@pytest.mark.parametrize("n_clusters", [1, 4, 5, 8, 9, 13, IN_PLACE_MAX_CLUSTERS])
@pytest.mark.parametrize("n_rows", [1, 3, 4, 5, 130])
def test_in_place_dots_are_the_products_of_the_centred_rows(
    dtype, n_features, n_clusters, n_rows
):
    rng = np.random.default_rng(n_features * 100 + n_clusters)
    X = rng.normal(5.0, 3.0, size=(400, n_features)).astype(dtype)
    offset = X.mean(axis=0).astype(dtype)
    minus_2 = (-2 * rng.normal(size=(n_clusters, n_features))).astype(dtype)
    # scattered, unsorted and repeated rows
    rows = rng.integers(0, 400, size=n_rows).astype(np.int64)
    centers_t, dots = _in_place(X, offset, rows, minus_2)
    expected = _products(X, offset, rows, minus_2)
    scale = np.abs(minus_2).sum(axis=1)[:, None] * np.abs(X - offset).max()
    rtol = 1e-5 if dtype == np.float32 else 1e-13
    assert np.all(np.abs(dots[:n_clusters, :n_rows] - expected) <= rtol * scale)
    # the padding centres are zero: their products are zero, not NaN
    np.testing.assert_array_equal(centers_t[:, n_clusters:], 0)
    np.testing.assert_array_equal(dots[n_clusters:, :n_rows], 0)
    # the columns up to n rounded up to 4 repeat the last row's; none further
    last = -(-n_rows // 4) * 4
    for q in range(n_rows, last):
        np.testing.assert_array_equal(dots[:, q], dots[:, n_rows - 1])
    assert np.isnan(dots[:, last:]).all()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n_features", [1, 3, 4, 5, 9, 10, 13, 16])
@pytest.mark.parametrize("n_rows", [1, 4, 7, 130])
def test_in_place_dots_sum_the_norms_of_row_norms(dtype, n_features, n_rows):
    # the rows' squared norms summed as the products read the rows are
    # row_norms' (the kept norms of a run, the bounds' sizes), bit for bit;
    # the products are those without the norms; nothing past n is written
    rng = np.random.default_rng(n_features * 10 + n_rows)
    X = rng.normal(5.0, 3.0, size=(300, n_features)).astype(dtype)
    X[rng.integers(0, 300, 20)] *= 1e3  # a wide range of norms
    offset = X.mean(axis=0).astype(dtype)
    minus_2 = (-2 * rng.normal(size=(5, n_features))).astype(dtype)
    rows = rng.integers(0, 300, size=n_rows).astype(np.int64)
    norms = np.full(n_rows + 4, np.nan)
    _, dots = _in_place(X, offset, rows, minus_2, norms=norms)
    expected = np.full(n_rows, np.nan)
    samples = DenseRows(X, offset, np.ones(1, dtype=dtype), False)
    row_norms(samples, 0, rows, n_rows, expected)
    np.testing.assert_array_equal(norms[:n_rows], expected)
    assert np.isnan(norms[n_rows:]).all()
    np.testing.assert_array_equal(dots, _in_place(X, offset, rows, minus_2)[1])


def test_in_place_dots_leave_the_norms_of_strided_rows():
    # rows not contiguous are read a feature at a time: their norms are not
    # summed (row_norms sums them, nearest_two_in_place)
    X = np.asfortranarray(np.random.default_rng(0).normal(size=(20, 9)))
    rows = np.arange(5, dtype=np.int64)
    norms = np.full(5, np.nan)
    _in_place(X, np.zeros(9), rows, np.ones((3, 9)), norms=norms)
    assert np.isnan(norms).all()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_in_place_dots_read_the_rows_through_the_strides(dtype):
    # a Fortran-ordered X and a column slice: the same products as a C copy
    rng = np.random.default_rng(0)
    base = rng.normal(size=(50, 24)).astype(dtype)
    minus_2 = rng.normal(size=(6, 12)).astype(dtype)
    offset = rng.normal(size=12).astype(dtype)
    rows = np.array([7, 3, 49, 0, 11], dtype=np.int64)
    contiguous = _in_place(np.ascontiguousarray(base[:, ::2]), offset, rows, minus_2)
    for X in (base[:, ::2], np.asfortranarray(base[:, ::2])):
        np.testing.assert_array_equal(
            _in_place(X, offset, rows, minus_2)[1], contiguous[1]
        )


def test_in_place_dots_of_no_rows_write_nothing():
    X = np.ones((4, 9))
    _, dots = _in_place(X, np.zeros(9), np.zeros(0, dtype=np.int64), np.ones((3, 9)))
    assert np.isnan(dots).all()


def test_in_place_dots_refuse_strided_small_arrays():
    # the offsets, rows, centres and products are read by index: a strided
    # view would be misread, so it does not compile
    X = np.ones((8, 9))
    rows = np.arange(4, dtype=np.int64)
    with pytest.raises(numba.core.errors.TypingError):
        _in_place(X, np.zeros(18)[::2], rows, np.ones((3, 9)))
