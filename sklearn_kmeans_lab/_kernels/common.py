"""Kernels and argument groups shared by Lloyd's passes and the seeding.

Kernels take their arrays grouped in namedtuples (numba compiles them as
records of arrays), so that a call reads as what it passes: the samples, the
centres, the outputs.

Unsigned indices.  numba gives an array index that may be negative Python's
wraparound (two more instructions per index); where LLVM cannot prove an
index non-negative (a row number read from an array, a label, a loop that
does not start at 0) the hot loops index with ``np.uintp(...)``, which has
none.  In the scan of a compiled run's pass that was half its instructions,
and at 10^4 x 2 the runs of a reference set took a quarter less time.  The
indices are the same, so no value changes.  (Arithmetic stays signed: numba
gives a mixed ``uintp``/``intp`` expression a float type.)
"""

import math
from collections import namedtuple

import numba
import numpy as np

# Rows handled together: a transposed chunk and its distance buffers stay in
# L1 cache; a GEMM takes more rows per call, so that the BLAS call overhead
# is spread (its buffers stay in L2).
CHUNK_ROWS = 256
GEMM_CHUNK_ROWS = 1024
# The rows of a batch of a compiled run's pass (``batched_pass``), for both
# kinds of distances: gathered from as many chunks as it takes, so larger
# batches spread the fixed cost of each call to the distance kernels (at
# 10^4 x 2, whole runs took about a tenth less time than with 256).  The
# results do not depend on it.
BATCH_ROWS = 1024

DenseRows = namedtuple("DenseRows", ["X", "x_offset", "w", "weighted"])
DenseRows.__doc__ = """Dense samples as the kernels read them.

X : ndarray of shape (n_samples, n_features), float32 or float64, C order
    Read as ``X - x_offset`` (centring without a copy).
x_offset : ndarray of shape (n_features,), X's dtype
w : ndarray of shape (n_samples,), or of shape (1,) when not ``weighted``
weighted : bool
    False: every sample weighs 1 (and ``w`` is not read).
"""

CsrRows = namedtuple("CsrRows", ["data", "indices", "indptr", "w", "weighted"])
CsrRows.__doc__ = """CSR samples (the arrays of a ``csr_matrix``) and their weights.

data : ndarray of shape (nnz,), float32 or float64
indices : ndarray of shape (nnz,), int32, sorted within each row
indptr : ndarray of shape (n_samples + 1,)
w, weighted : as in ``DenseRows``.
"""


@numba.njit(nogil=True, cache=True, inline="always")
def weight(rows, i):
    """Weight of sample ``i`` of ``rows`` (a ``DenseRows`` or ``CsrRows``)."""
    return rows.w[i] if rows.weighted else 1.0


@numba.njit(nogil=True, cache=True, inline="always")
def squared_distance(X, i, x_offset, centers, j, zero):
    """``sum_f ((X[i, f] - x_offset[f]) - centers[j, f]) ** 2``.

    Each difference is taken in X's dtype, then squared and summed in the
    type of ``zero`` (0 in X's dtype, or 0.0 for float64): the one loop of
    the inertia, the relocation distances, ``transform`` and the seeding.
    X : (n_samples, n_features); x_offset : (n_features,);
    centers : (n_clusters, n_features).
    """
    sq = zero
    for f in range(X.shape[1]):
        diff = zero + ((X[i, f] - x_offset[f]) - centers[j, f])
        sq += diff * diff
    return sq


@numba.njit(nogil=True, cache=True, inline="always")
def csr_squared_distance(data, indices, indptr, i, center, center_sqnorm):
    """``||x_i - center||^2`` of CSR row ``i``, in float64, at least 0.

    ``||c||^2`` plus, over the stored entries, ``(x_f - c_f)^2 - c_f^2``.
    center : (n_features,); center_sqnorm : ``||center||^2``.
    """
    d2 = center_sqnorm
    for p in range(indptr[i], indptr[i + 1]):
        c = float(center[indices[p]])
        diff = float(data[p]) - c
        d2 += diff * diff - c * c
    return max(d2, 0.0)


@numba.njit(nogil=True, cache=True, inline="always")
def row_key(X, i, direction):
    """Key of dense row ``i``: ``sum_f x_f * direction_f`` in float64, in
    feature order.  X : (n_samples, n_features); direction : (n_features,)."""
    key = 0.0
    for f in range(X.shape[1]):
        key += float(X[i, f]) * direction[f]
    return key


@numba.njit(nogil=True, cache=True, inline="always")
def csr_row_key(data, indices, indptr, i, direction):
    """``row_key`` of CSR row ``i``: zeros add exactly nothing, so it equals
    the dense key when the row's indices are sorted."""
    key = 0.0
    for p in range(indptr[i], indptr[i + 1]):
        key += float(data[p]) * direction[indices[p]]
    return key


@numba.njit(nogil=True, cache=True, inline="always")
def four_row_keys(X, i, direction):
    """``row_key`` of rows ``i`` to ``i + 3``, the same sums: four
    independent chains in step, so that one row's additions do not wait
    for the previous one's (a single chain is bound by the add latency)."""
    k0 = k1 = k2 = k3 = 0.0
    for f in range(X.shape[1]):
        d = direction[f]
        k0 += float(X[i, f]) * d
        k1 += float(X[i + 1, f]) * d
        k2 += float(X[i + 2, f]) * d
        k3 += float(X[i + 3, f]) * d
    return k0, k1, k2, k3


@numba.njit(nogil=True, cache=True)
def row_sq_norms(X, start, n_rows, out):
    """``out[r] = ||X[start + r]||^2`` in float64 for r < n_rows.
    X : (n_samples, n_features); out : (>= n_rows,)."""
    for r in range(n_rows):
        sq = 0.0
        for f in range(X.shape[1]):
            v = float(X[start + r, f])
            sq += v * v
        out[r] = sq


@numba.njit(nogil=True, cache=True)
def column_sums(X, out):
    """``out[f] = sum_i X[i, f]`` in float64.  X : (n, d); out : (d,)."""
    out[:] = 0.0
    for i in range(X.shape[0]):
        for f in range(X.shape[1]):
            out[f] += X[i, f]


@numba.njit(nogil=True, cache=True)
def numpy_column_stats(X, means, variances):
    """``X.mean(axis=0)`` and ``np.var(X, axis=0)``, in X's dtype, as numpy
    computes them on C-ordered X of two or more columns (a reduction over
    the outer axis adds the rows in order; one column is contiguous and
    numpy then sums pairwise), without np.var's copy of X.
    X : (n, d); means, variances : (d,) of X's dtype."""
    n, d = X.shape
    acc = np.zeros(d, dtype=X.dtype)
    for i in range(n):
        for f in range(d):
            acc[f] += X[i, f]
    for f in range(d):
        means[f] = acc[f] / n
    acc[:] = 0
    for i in range(n):
        for f in range(d):
            diff = X[i, f] - means[f]
            acc[f] += diff * diff
    for f in range(d):
        variances[f] = acc[f] / n


@numba.njit(nogil=True, cache=True)
def column_squares(X, mean, out):
    """``out[f] = sum_i (X[i, f] - mean[f])^2`` in float64.
    X : (n, d); mean, out : (d,)."""
    out[:] = 0.0
    for i in range(X.shape[0]):
        for f in range(X.shape[1]):
            diff = float(X[i, f]) - mean[f]
            out[f] += diff * diff


# numpy's pairwise summation (``ndarray.sum`` of a contiguous array) adds up
# to this many values with eight accumulators and splits longer runs in two.
_PAIRWISE_BLOCK = 128


@numba.njit(nogil=True, cache=True, inline="always")
def _block_sum(a, start, n):
    """numpy's pairwise sum of at most ``_PAIRWISE_BLOCK`` values
    ``a[start:start + n]``: under 8 in order from 0, else eight interleaved
    partial sums combined pairwise, then the tail in order."""
    if n < 8:
        res = np.zeros(1, dtype=a.dtype)[0]
        for i in range(start, start + n):
            res += a[i]
        return res
    r0, r1, r2, r3 = a[start], a[start + 1], a[start + 2], a[start + 3]
    r4, r5, r6, r7 = a[start + 4], a[start + 5], a[start + 6], a[start + 7]
    i = start + 8
    stop = start + n - n % 8
    while i < stop:
        r0 += a[i]
        r1 += a[i + 1]
        r2 += a[i + 2]
        r3 += a[i + 3]
        r4 += a[i + 4]
        r5 += a[i + 5]
        r6 += a[i + 6]
        r7 += a[i + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < start + n:
        res += a[i]
        i += 1
    return res


@numba.njit(nogil=True, cache=True, inline="always")
def _first_half(n):
    """numpy's split of ``n`` values: half of them, a multiple of 8."""
    half = n // 2
    return half - half % 8


@numba.njit(nogil=True, cache=True)
def numpy_sum(a):
    """``a.sum()`` of a contiguous 1-D array, in its dtype, as numpy adds it
    (pairwise summation): runs of more than ``_PAIRWISE_BLOCK`` values split
    in two (``_first_half``), each half summed so and the two sums added,
    the others summed by ``_block_sum``.  a : (n,).

    The recursion is walked with a stack of its open splits (a recursive
    function loaded from numba's cache crashed the process); a split waits
    for its first half's sum (``left``), then its second's, and adds them.
    """
    if a.shape[0] <= _PAIRWISE_BLOCK:  # no split (a run's shifts): no stack
        return _block_sum(a, 0, a.shape[0])
    depth = 64  # the splits halve the run: at most log2(n) are open
    start = np.empty(depth, dtype=np.int64)
    length = np.empty(depth, dtype=np.int64)
    left = np.zeros(depth, dtype=a.dtype)
    right_half = np.zeros(depth, dtype=np.bool_)
    top = 0
    start[0], length[0], right_half[0] = 0, a.shape[0], False
    while True:
        if length[top] > _PAIRWISE_BLOCK:  # open a split: its first half
            half = _first_half(length[top])
            start[top + 1], length[top + 1] = start[top], half
            right_half[top + 1] = False
            top += 1
            continue
        value = _block_sum(a, start[top], length[top])
        # hand the sum up: a first half waits for its second, a second
        # half closes its split
        while True:
            if top == 0:
                return value
            was_right = right_half[top]
            top -= 1
            if not was_right:
                left[top] = value
                half = _first_half(length[top])
                start[top + 1] = start[top] + half
                length[top + 1] = length[top] - half
                right_half[top + 1] = True
                top += 1
                break
            value = left[top] + value


@numba.njit(nogil=True, cache=True)
def count_distinct(labels, present):
    """Number of distinct values of ``labels`` (n,), all in
    ``[0, len(present))``; ``present`` (k,) bool starts all False."""
    for i in range(len(labels)):
        present[labels[i]] = True
    return np.count_nonzero(present)


@numba.njit(nogil=True, cache=True)
def distances(X, centers, out):
    """``out[i, j] = ||X[i] - centers[j]||`` (from the differences, so a
    sample on a centre gets exactly 0).  X : (n, d); centers : (k, d);
    out : (n, k)."""
    no_offset = np.zeros(X.shape[1], dtype=X.dtype)
    for i in range(X.shape[0]):
        for j in range(centers.shape[0]):
            out[i, j] = math.sqrt(squared_distance(X, i, no_offset, centers, j, 0.0))


@numba.njit(nogil=True, cache=True)
def csr_squared_distances_to_assigned(data, indices, indptr, centers, labels, out):
    """``out[i] = ||x_i - centers[labels[i]]||^2`` of CSR rows, in float64:
    O(nnz + n_clusters * n_features), X is never densified.
    centers : (k, d); labels, out : (n,)."""
    n_clusters, n_features = centers.shape
    c_sqnorm = np.zeros(n_clusters)
    for j in range(n_clusters):
        for f in range(n_features):
            c_sqnorm[j] += float(centers[j, f]) * float(centers[j, f])
    for i in range(len(indptr) - 1):
        a = labels[i]
        out[i] = csr_squared_distance(data, indices, indptr, i, centers[a], c_sqnorm[a])


@numba.njit(nogil=True, cache=True)
def squared_distances_to_assigned(X, x_offset, centers, labels, out):
    """``out[i] = ||(X[i] - x_offset) - centers[labels[i]]||^2`` in float64.
    X : (n, d); x_offset : (d,); centers : (k, d); labels, out : (n,)."""
    for i in range(X.shape[0]):
        out[i] = squared_distance(X, i, x_offset, centers, labels[i], 0.0)
