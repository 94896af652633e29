"""The chunk kernels of a pass round exactly as the plain loops they replace.

``_kernels/nearest.py`` and ``chunk_inertia`` reorder loops for speed; these
tests hold them to the rounding of the plain per-feature loop, so that the
labels, sums and inertia of a fit do not depend on the reordering.
"""

import numba
import numpy as np
import pytest

from sklearn_kmeans_lab._kernels.common import DenseRows
from sklearn_kmeans_lab._kernels.lloyd import CenterTerms, chunk_inertia
from sklearn_kmeans_lab._kernels.nearest import (
    gather,
    nearest_two,
    nearest_two_in_place,
)
from sklearn_kmeans_lab._kernels.row_dots import padded_clusters, transposed_minus_2


def _plain_distances(chunk, minus_2, sqnorm):
    """``||c||^2 + x_0 (-2 c_0) + x_1 (-2 c_1) + ...``, one feature at a time
    in feature order, each step rounded in the data's dtype."""
    dist = np.empty((chunk.shape[0], minus_2.shape[0]), dtype=chunk.dtype)
    for j in range(minus_2.shape[0]):
        acc = np.full(chunk.shape[0], sqnorm[j], dtype=chunk.dtype)
        for f in range(chunk.shape[1]):
            acc = acc + chunk[:, f] * minus_2[j, f]
        dist[:, j] = acc
    return dist


def _chunk(n_rows, n_features, n_clusters, dtype, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_rows, n_features)).astype(dtype)
    centers = rng.normal(size=(n_clusters, n_features)).astype(dtype)
    # a centre repeated: exact ties, which the lower index must win
    if n_clusters > 2:
        centers[2] = centers[0]
    sqnorm = np.einsum("ij,ij->i", centers, centers)
    return X, CenterTerms(centers, -2 * centers, sqnorm)


def _nearest(
    X, terms, use_gemm, rows=None, in_place=False, offset=None, sum_norms=False
):
    """``nearest_two`` of the rows ``rows`` of X (all of them by default),
    gathered as a pass gathers them: those rows alone in the call; or,
    ``in_place``, ``nearest_two_in_place`` of them (with a GEMM's norms, or
    norms it sums itself where ``sum_norms``)."""
    rows = np.arange(X.shape[0]) if rows is None else rows
    n, n_features = len(rows), X.shape[1]
    k = terms.centers.shape[0]
    size = max(n, 2)
    if offset is None:
        offset = np.zeros(n_features, dtype=X.dtype)
    samples = DenseRows(X, offset, np.ones(1, dtype=X.dtype), False)
    chunk_rows = np.empty((size, n_features), dtype=X.dtype)
    chunk_t = np.empty((n_features, size), dtype=X.dtype)
    sq_norm = np.empty(size)
    gather(samples, 0, rows, n, chunk_rows, chunk_t, not use_gemm, sq_norm)
    best_d, second_d, acc = (np.empty(size, dtype=X.dtype) for _ in range(3))
    best = np.empty(size, dtype=np.int32)
    padded = padded_clusters(X, k)
    dots = np.empty(padded * (size + 3), dtype=X.dtype)
    if in_place:
        centers_t = np.empty((n_features, padded), dtype=X.dtype)
        transposed_minus_2(terms.minus_2, centers_t)
        if sum_norms:
            sq_norm[:] = np.nan
        nearest_two_in_place(
            samples,
            rows,
            n,
            terms,
            centers_t,
            dots,
            best_d,
            second_d,
            best,
            sq_norm,
            sum_norms,
        )
    else:
        nearest_two(
            chunk_rows,
            chunk_t,
            n,
            terms,
            use_gemm,
            dots,
            acc,
            best_d,
            second_d,
            best,
            sq_norm,
        )
    return best[:n], best_d[:n], second_d[:n], sq_norm[:n]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n_features", range(1, 10))
@pytest.mark.parametrize("n_clusters", [1, 3, 4, 7, 9])
def test_direct_nearest_two_rounds_as_the_plain_feature_loop(
    dtype, n_features, n_clusters
):
    X, terms = _chunk(37, n_features, n_clusters, dtype, seed=n_features)
    best, best_d, second_d, _ = _nearest(X, terms, use_gemm=False)
    dist = _plain_distances(X, terms.minus_2, terms.sqnorm)
    np.testing.assert_array_equal(best, np.argmin(dist, axis=1))
    np.testing.assert_array_equal(best_d, dist.min(axis=1))
    expected_second = (
        np.sort(dist, axis=1)[:, 1] if n_clusters > 1 else np.full(37, np.inf)
    )
    np.testing.assert_array_equal(second_d, expected_second)


@pytest.mark.parametrize("use_gemm", [False, True], ids=["direct", "gemm"])
def test_gathered_row_norms_are_the_squared_norms(use_gemm):
    X, terms = _chunk(41, 13, 3, np.float64, seed=0)
    *_, sq_norm = _nearest(X, terms, use_gemm)
    np.testing.assert_allclose(sq_norm, np.einsum("ij,ij->i", X, X), rtol=1e-14)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weighted", [False, True])
def test_chunk_inertia_adds_each_row_in_feature_order(dtype, weighted):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(23, 6)).astype(dtype)
    centers = rng.normal(size=(4, 6)).astype(dtype)
    offset = rng.normal(size=6).astype(dtype)
    labels = rng.integers(0, 4, size=23).astype(np.int32)
    w = rng.uniform(0.5, 2.0, size=23).astype(dtype)
    samples = DenseRows(X, offset, w if weighted else np.ones(1, dtype), weighted)
    expected = 0.0
    for i in range(23):
        sq = dtype(0)
        for f in range(6):
            diff = (X[i, f] - offset[f]) - centers[labels[i], f]
            sq = dtype(sq + diff * diff)
        # the weight is read as a float64 (``common.weight``)
        expected += float(sq) * (float(w[i]) if weighted else 1.0)
    # rows 3..21: a start and a length that are not multiples of four
    assert chunk_inertia(samples, centers, labels, 0, 23) == expected
    partial = chunk_inertia(samples, centers, labels, 3, 19)
    assert partial == pytest.approx(
        sum(
            float(((X[i] - offset - centers[labels[i]]) ** 2).sum())
            * (w[i] if weighted else 1)
            for i in range(3, 22)
        ),
        rel=1e-5,
    )


@numba.njit
def _gemm_dots(minus_2, rows):
    """The GEMM of ``nearest_two``, as it calls it."""
    dots = np.empty((minus_2.shape[0], rows.shape[0]), dtype=rows.dtype)
    np.dot(minus_2, rows.T, dots)
    return dots


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n_clusters", [1, 3, 4, 7, 9])
def test_gemm_nearest_two_folds_the_centres_in_order(dtype, n_clusters):
    X, terms = _chunk(37, 12, n_clusters, dtype, seed=n_clusters)
    best, best_d, second_d, sq_norm = _nearest(X, terms, use_gemm=True)
    dist = terms.sqnorm[:, None] + _gemm_dots(terms.minus_2, X)
    ordered = np.sort(dist, axis=0)
    second = ordered[1] if n_clusters > 1 else np.full(37, np.inf)
    # a near tie (the repeated centre) is settled by the distances computed
    # row by row, the lower index first: settle_near_ties
    unit = np.finfo(dtype).eps / 2
    margin = 8.0 * (12 + 4) * unit * (sq_norm + 2.0 * terms.sqnorm.max())
    near = second.astype(np.float64) - ordered[0] <= margin
    # squared_distance's: differences in X's dtype, squared in float64
    diff = (X[None] - terms.centers[:, None]).astype(np.float64)
    exact = (diff**2).sum(axis=2)
    np.testing.assert_array_equal(
        best, np.where(near, np.argmin(exact, axis=0), np.argmin(dist, axis=0))
    )
    settled = dist[best, np.arange(37)]
    np.testing.assert_array_equal(best_d, np.where(near, settled, ordered[0]))
    np.testing.assert_array_equal(second_d, np.where(near, settled, second))
    if n_clusters > 2:  # the repeated centre's rows: near ties, settled
        assert near[best == 0].any() or near[best == 2].any()
        assert not np.any(best == 2)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n_features", [9, 12, 16])
@pytest.mark.parametrize("n_clusters", [1, 3, 4, 5, 8, 9, 16])
def test_in_place_nearest_two_labels_as_the_gemm(dtype, n_features, n_clusters):
    # in_place_dots rounds the products otherwise than a GEMM, so only near
    # ties could be ordered otherwise, and those are settled row by row as
    # after the GEMM: the same labels, with the repeated centre's exact ties
    # and rows far from zero (centred by the offset)
    X, terms = _chunk(301, n_features, n_clusters, dtype, seed=n_features)
    offset = np.full(n_features, 1e3, dtype=dtype)
    X = (X + offset).astype(dtype)
    rows = np.random.default_rng(n_clusters).permutation(301)[:257]
    gemm = _nearest(X, terms, True, rows, offset=offset)
    in_place = _nearest(X, terms, True, rows, in_place=True, offset=offset)
    np.testing.assert_array_equal(in_place[0], gemm[0])
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    scale = gemm[3] + 2 * terms.sqnorm.max()
    np.testing.assert_allclose(in_place[1], gemm[1], atol=rtol * scale.max())
    if n_clusters > 1:
        np.testing.assert_allclose(in_place[2], gemm[2], atol=rtol * scale.max())
    if n_clusters > 2:
        assert not np.any(in_place[0] == 2)
    # the norms summed as the rows are read are the gathered ones, so the
    # labels, distances and norms are the same; as are row_norms' for rows
    # that are not contiguous (a Fortran-ordered X)
    for data in (X, np.asfortranarray(X)):
        summed = _nearest(data, terms, True, rows, True, offset, sum_norms=True)
        for got, expected in zip(summed, in_place, strict=True):
            np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n_clusters", [2, 3, 5])
@pytest.mark.parametrize("in_place", [False, True], ids=["gemm", "in_place"])
def test_gemm_labels_of_exact_ties_do_not_depend_on_the_other_rows(
    dtype, n_clusters, in_place
):
    # Centres 1 and k-1 mirror centre 0 in feature 0, and every row has
    # x_0 = 0: each row is exactly as far from the three.  A GEMM may round
    # a row's products differently with its place in the call (OpenBLAS:
    # float32, the last centre of an odd k, a call of one row), which
    # labelled some of these rows 1 or k-1 in some batches and 0 in others;
    # the label must be the lowest index, whichever rows share the call.
    rng = np.random.default_rng(n_clusters)
    n_features = 12
    centers = rng.normal(size=(n_clusters, n_features)).astype(dtype)
    for mirror in (1, n_clusters - 1):
        centers[mirror] = centers[0]
        centers[mirror, 0] = -centers[0, 0]
    X = (centers[0] + 0.1 * rng.normal(size=(1100, n_features))).astype(dtype)
    X[:, 0] = 0
    terms = CenterTerms(centers, -2 * centers, np.einsum("ij,ij->i", centers, centers))
    for n in (1, 2, 3, 7, 100, 1023):
        for offset in (0, 1, 5):
            rows = np.arange(offset, offset + n)
            labels = _nearest(X, terms, True, rows, in_place=in_place)[0]
            np.testing.assert_array_equal(labels, 0)
