"""Seeding kernels: row keys in buckets, quantised masses, weighted draws and
the distances of k-means++ candidates, reduced on the fly.

A sample's probability mass is quantised to an int64 (``floor(w * closest *
scale)``), so bucket totals are exact sums whatever the order of addition.
"""

import math
from collections import namedtuple

import numba
import numpy as np

from sklearn_kmeans_lab._kernels.common import (
    csr_row_key,
    csr_squared_distance,
    four_row_keys,
    row_key,
    row_sq_norms,
    squared_distance,
    weight,
)
from sklearn_kmeans_lab._kernels.row_distances import row_distances

# Rows whose distances ``dense_closer`` computes before folding them in.
_CLOSER_CHUNK = 256

Masses = namedtuple("Masses", ["w", "weighted", "closest", "use_closest", "scale"])
Masses.__doc__ = """The parts of the quantised mass ``floor(w_i * closest_i * scale)``.

w : (n_samples,) float64, or (1,) when not ``weighted``
weighted : bool
closest : (n_samples,) float32 distance to the nearest chosen centre (in the
    seeding's unit), or (1,) when not ``use_closest``
use_closest : bool, False for masses proportional to the weights alone
scale : float, a power of two
"""


@numba.njit(nogil=True, cache=True, inline="always")
def mass(masses, i):
    """Quantised mass of sample ``i``."""
    c_i = masses.closest[i] if masses.use_closest else 1.0
    return np.int64(math.floor(weight(masses, i) * float(c_i) * masses.scale))


@numba.njit(nogil=True, cache=True)
def dense_keys(X, rows, direction, keys):
    """``keys[q] = row_key(X, rows[q])``; rows, keys : (m,)."""
    for q in range(len(rows)):
        keys[q] = row_key(X, rows[q], direction)


@numba.njit(nogil=True, cache=True)
def sparse_keys(data, indices, indptr, rows, direction, keys):
    """``dense_keys`` for CSR X with sorted indices."""
    for q in range(len(rows)):
        keys[q] = csr_row_key(data, indices, indptr, rows[q], direction)


@numba.njit(nogil=True, cache=True, inline="always")
def bucket_of(key, low, scale, n_buckets):
    """Bucket of a key: monotone in the key, so buckets in order are keys in
    order."""
    return min(int((key - low) * scale), n_buckets - 1)


@numba.njit(nogil=True, cache=True)
def key_buckets(keys, low, scale, n_buckets, out):
    """``out[q] = bucket_of(keys[q])``; keys, out : (m,)."""
    for q in range(len(keys)):
        out[q] = bucket_of(keys[q], low, scale, n_buckets)


@numba.njit(nogil=True, cache=True)
def dense_key_range(X, direction):
    """Smallest and largest row key of X (n, d), and the largest ``||x||^2``."""
    low = np.inf
    high = -np.inf
    largest = 0.0
    n_samples = X.shape[0]
    n_fours = n_samples - n_samples % 4
    sq = np.empty(1)
    for i in range(0, n_fours, 4):
        k0, k1, k2, k3 = four_row_keys(X, i, direction)
        s0 = s1 = s2 = s3 = 0.0
        for f in range(X.shape[1]):
            v0, v1 = float(X[i, f]), float(X[i + 1, f])
            v2, v3 = float(X[i + 2, f]), float(X[i + 3, f])
            s0 += v0 * v0
            s1 += v1 * v1
            s2 += v2 * v2
            s3 += v3 * v3
        low = min(low, k0, k1, k2, k3)
        high = max(high, k0, k1, k2, k3)
        largest = max(largest, s0, s1, s2, s3)
    for i in range(n_fours, n_samples):
        key = row_key(X, i, direction)
        row_sq_norms(X, i, 1, sq)
        low = min(low, key)
        high = max(high, key)
        largest = max(largest, sq[0])
    return low, high, largest


@numba.njit(nogil=True, cache=True)
def dense_buckets(X, direction, low, scale, n_buckets, buckets):
    """``buckets[i]`` (n,) uint16 = the bucket of row ``i``'s key."""
    n_samples = X.shape[0]
    n_fours = n_samples - n_samples % 4
    for i in range(0, n_fours, 4):
        keys = four_row_keys(X, i, direction)
        for r in range(4):
            buckets[i + r] = bucket_of(keys[r], low, scale, n_buckets)
    for i in range(n_fours, n_samples):
        buckets[i] = bucket_of(row_key(X, i, direction), low, scale, n_buckets)


@numba.njit(nogil=True, cache=True)
def sparse_key_range(data, indices, indptr, direction):
    """``dense_key_range`` for CSR X with sorted indices."""
    low = np.inf
    high = -np.inf
    largest = 0.0
    for i in range(len(indptr) - 1):
        key = csr_row_key(data, indices, indptr, i, direction)
        sq = 0.0
        for p in range(indptr[i], indptr[i + 1]):
            v = float(data[p])
            sq += v * v
        low = min(low, key)
        high = max(high, key)
        largest = max(largest, sq)
    return low, high, largest


@numba.njit(nogil=True, cache=True)
def sparse_buckets(data, indices, indptr, direction, low, scale, n_buckets, buckets):
    """``dense_buckets`` for CSR X with sorted indices."""
    for i in range(len(indptr) - 1):
        key = csr_row_key(data, indices, indptr, i, direction)
        buckets[i] = bucket_of(key, low, scale, n_buckets)


@numba.njit(nogil=True, cache=True)
def bucket_masses(buckets, masses, totals):
    """``totals[b]`` (n_buckets,) int64 = total mass of bucket ``b``'s
    samples; buckets : (n,)."""
    totals[:] = 0
    for i in range(len(buckets)):
        totals[buckets[i]] += mass(masses, i)


@numba.njit(nogil=True, cache=True)
def members_of(buckets, wanted):
    """Indices (int64, in index order) of the samples whose bucket is
    wanted; buckets : (n,); wanted : (n_buckets,) bool."""
    n = 0
    for i in range(len(buckets)):
        n += wanted[buckets[i]]
    out = np.empty(n, dtype=np.int64)
    n = 0
    for i in range(len(buckets)):
        if wanted[buckets[i]]:
            out[n] = i
            n += 1
    return out


@numba.njit(nogil=True, cache=True)
def group_by_bucket(buckets, members, starts):
    """The samples grouped by bucket, in index order within a bucket: a
    counting sort, the order of a stable argsort of ``buckets`` without its
    int64 temporaries.  buckets : (n,); members : (n,), filled; starts :
    (n_buckets + 1,), filled with where each bucket's group starts."""
    starts[:] = 0
    for i in range(len(buckets)):
        starts[np.intp(buckets[i]) + 1] += 1
    for b in range(1, len(starts)):
        starts[b] += starts[b - 1]
    fill = starts[:-1].copy()
    for i in range(len(buckets)):
        b = np.intp(buckets[i])
        members[fill[b]] = i
        fill[b] += 1


@numba.njit(nogil=True, cache=True)
def member_masses(rows, masses, out):
    """``out[q] = mass(rows[q])``; rows, out : (m,)."""
    for q in range(len(rows)):
        out[q] = mass(masses, rows[q])


@numba.njit(nogil=True, cache=True)
def dense_draw(
    X, direction, buckets, totals, values, masses, excluded, sort_max, picks
):
    """Inverse-CDF draws for dense X (n, d) in one compiled call.

    For each ``values[t]`` (int64), the bucket where the cumulative bucket
    total (``totals`` (n_buckets,)) passes it, then that bucket's members in
    (key, index) order (a stable sort of the members, taken in index order,
    by key), into ``picks[t]``.  ``excluded`` samples weigh nothing.  Returns
    False, having picked nothing, when a bucket it lands in has more than
    ``sort_max`` members: the caller then splits that bucket further.
    """
    cumulative = np.cumsum(totals)
    n_targets = len(values)
    target_bucket = np.empty(n_targets, dtype=np.int64)
    residuals = np.empty(n_targets, dtype=np.int64)
    wanted = np.zeros(len(totals), dtype=np.bool_)
    for t in range(n_targets):
        b = np.searchsorted(cumulative, values[t], side="right")
        target_bucket[t] = b
        residuals[t] = values[t] - (cumulative[b] - totals[b])
        wanted[b] = True
    rows = members_of(buckets, wanted)
    for t in range(n_targets):
        b = target_bucket[t]
        count = 0
        for i in rows:
            count += buckets[i] == b
        if count > sort_max:
            return False
        members = np.empty(count, dtype=np.int64)
        count = 0
        for i in rows:
            if buckets[i] == b:
                members[count] = i
                count += 1
        member_mass = np.empty(count, dtype=np.int64)
        member_masses(members, masses, member_mass)
        for q in range(count):
            for e in excluded:
                if members[q] == e:
                    member_mass[q] = 0
        keys = np.empty(count)
        dense_keys(X, members, direction, keys)
        order = np.argsort(keys, kind="mergesort")
        position = count - 1
        running = 0
        for p in range(count):
            running += member_mass[order[p]]
            if running > residuals[t]:
                position = p
                break
        picks[t] = members[order[position]]
    return True


@numba.njit(nogil=True, cache=True)
def weighted_sum(values, samples, start, n):
    """``sum_r values[r] * w[start + r]`` for r < n, in four running sums:
    independent additions in a fixed order.  samples : ``DenseRows``."""
    if not samples.weighted:
        return lane_sum(values, n)
    w = samples.w
    a0 = a1 = a2 = a3 = 0.0
    r = 0
    while r + 4 <= n:
        a0 += values[r] * w[start + r]
        a1 += values[r + 1] * w[start + r + 1]
        a2 += values[r + 2] * w[start + r + 2]
        a3 += values[r + 3] * w[start + r + 3]
        r += 4
    while r < n:
        a0 += values[r] * w[start + r]
        r += 1
    return (a0 + a1) + (a2 + a3)


@numba.njit(nogil=True, cache=True)
def lane_sum(values, n):
    """``weighted_sum`` of unweighted ``values[:n]``: the same four running
    sums."""
    a0 = a1 = a2 = a3 = 0.0
    r = 0
    while r + 4 <= n:
        a0 += values[r]
        a1 += values[r + 1]
        a2 += values[r + 2]
        a3 += values[r + 3]
        r += 4
    while r < n:
        a0 += values[r]
        r += 1
    return (a0 + a1) + (a2 + a3)


TrialOptions = namedtuple(
    "TrialOptions", ["use_gemm", "chunk", "keep", "cand_dist", "x_sq_all"]
)
TrialOptions.__doc__ = """How ``dense_trials`` runs.

use_gemm : bool, distances by a GEMM (many features) or a direct loop
chunk : int, rows per chunk
keep : bool, keep every candidate's new ``closest`` in ``cand_dist``
cand_dist : (n_cands, n_samples) float32 when ``keep``, else (1, 1)
x_sq_all : (n_samples,) every ``||x||^2`` where the GEMM trials read them
    (``use_gemm``, and kept: ``keep``, or little memory next to X), else
    (0,): each chunk's summed again
"""


@numba.njit(nogil=True, cache=True)
def dense_trials(samples, cands, closest, unit, options, potentials):
    """Potential of each candidate: ``sum_i w_i * min(closest_i, d(x_i, cand)^2)``,
    in units of ``unit``: a sum of terms of order one, in range even where
    the squared distances themselves sum past the float range.

    samples : ``DenseRows``; cands : (n_cands, d) in X's dtype; closest : (n,)
    float32 in units of ``unit``; potentials : (n_cands,).  Vectorised over
    the rows of a chunk: a direct loop over the transposed centred chunk for
    few features, else a GEMM straight on the rows of X and ``||x||^2 +
    ||c||^2 - 2 <x, c>`` uncentred (``cands`` are then uncentred too; the
    precision is ample for sampling weights).  The GEMM is ``X_chunk @ (-2
    cands).T``, the rows of X its left operand as they lie: 0.37 to 0.54 of
    the time of ``(-2 cands) @ X_chunk.T`` for 4 to 7 candidates on 50 to 100
    features (one thread), and the same products bit for bit in every case
    checked.  options : ``TrialOptions``; with ``options.keep``,
    ``cand_dist[t]`` gets the new ``closest`` that candidate t would give.
    """
    X, x_offset = samples.X, samples.x_offset
    use_gemm, chunk, keep_cand_dist = options.use_gemm, options.chunk, options.keep
    cand_dist, x_sq_all = options.cand_dist, options.x_sq_all
    n_samples, n_features = X.shape
    n_cands = cands.shape[0]
    cands_m2_t = np.ascontiguousarray((-2 * cands).T)
    chunk_t = np.empty((n_features, chunk), dtype=X.dtype)
    dots_buffer = np.empty(n_cands * chunk, dtype=X.dtype)
    c_sq = np.empty(n_cands)
    for t in range(n_cands):
        c_sq[t] = 0.0
        for f in range(n_features):
            c_sq[t] += float(cands[t, f]) ** 2
    x_sq = np.empty(chunk)
    d2 = np.empty(chunk)
    potentials[:] = 0.0
    inv_unit = 1.0 / unit
    for start in range(0, n_samples, chunk):
        n = min(chunk, n_samples - start)
        dots = dots_buffer[: n * n_cands].reshape((n, n_cands))
        if use_gemm:
            if x_sq_all.shape[0] == n_samples:
                x_sq[:n] = x_sq_all[start : start + n]
            else:
                row_sq_norms(X, start, n, x_sq)
            np.dot(X[start : start + n], cands_m2_t, dots)
        else:
            for r in range(n):
                for f in range(n_features):
                    chunk_t[f, r] = X[start + r, f] - x_offset[f]
        for t in range(n_cands):
            if use_gemm:
                for r in range(n):
                    d2[r] = max(x_sq[r] + c_sq[t] + float(dots[r, t]), 0.0)
            else:
                for r in range(n):
                    d2[r] = 0.0
                for f in range(n_features):
                    cf = cands[t, f]
                    for r in range(n):
                        diff = float(chunk_t[f, r] - cf)
                        d2[r] += diff * diff
            for r in range(n):
                d2[r] = min(float(closest[start + r]), d2[r] * inv_unit)
            if keep_cand_dist:
                for r in range(n):
                    cand_dist[t, start + r] = d2[r]
            potentials[t] += weighted_sum(d2, samples, start, n)


@numba.njit(nogil=True, cache=True)
def take_kept(kept, closest, buckets, masses, totals):
    """``closest`` = the kept distances (n,) of the chosen candidate, and
    ``totals`` (n_buckets,) = the new masses' bucket totals (``masses``
    reads ``closest``)."""
    totals[:] = 0
    for i in range(len(closest)):
        closest[i] = kept[i]
        totals[buckets[i]] += mass(masses, i)


@numba.njit(nogil=True, cache=True, inline="always")
def fold_closer(d2, start, n, inv_unit, first, closest, buckets, masses, totals):
    """The squared distances ``d2[:n]`` of rows ``start ..`` to the new
    centre into ``closest`` (``min``, or just the distance if ``first``), in
    ``inv_unit`` units; with ``masses.scale`` > 0, their masses added to
    ``totals``: the end of ``dense_closer`` and ``direct_closer``."""
    for r in range(n):
        i = start + r
        d2_i = d2[r] * inv_unit
        if first or d2_i < closest[i]:
            closest[i] = d2_i
        if masses.scale > 0:
            totals[buckets[i]] += mass(masses, i)


@numba.njit(nogil=True, cache=True)
def dense_closer(samples, center, closest, unit, first, buckets, masses, totals):
    """``closest = min(closest, d(x, center)^2 / unit)`` (n,) float32 (just
    the distance if ``first``); with ``masses.scale`` > 0, also ``totals``
    (n_buckets,) = the new masses' bucket totals.  center : (1, d).

    The distances are ``squared_distance``'s, four rows at a time where X's
    rows are contiguous (``row_distances``: the same sums, a third of the
    time at 100 features), row by row otherwise.
    """
    X, x_offset = samples.X, samples.x_offset
    n_samples = X.shape[0]
    c = np.ascontiguousarray(center[0])
    d2 = np.empty(_CLOSER_CHUNK)
    inv_unit = 1.0 / unit
    totals[:] = 0
    for start in range(0, n_samples, _CLOSER_CHUNK):
        n = min(_CLOSER_CHUNK, n_samples - start)
        done = row_distances(X, x_offset, c, start, n, d2)
        for r in range(done, n):
            d2[r] = squared_distance(X, start + r, x_offset, center, 0, 0.0)
        fold_closer(d2, start, n, inv_unit, first, closest, buckets, masses, totals)


@numba.njit(nogil=True, cache=True)
def sparse_trials(samples, cands, closest, unit, potentials):
    """``dense_trials`` for ``CsrRows`` samples (no kept distances)."""
    data, indices, indptr = samples.data, samples.indices, samples.indptr
    n_samples = len(indptr) - 1
    potentials[:] = 0.0
    inv_unit = 1.0 / unit
    for t in range(cands.shape[0]):
        c_sq = 0.0
        for f in range(cands.shape[1]):
            c_sq += float(cands[t, f]) ** 2
        acc = 0.0
        for i in range(n_samples):
            d2 = csr_squared_distance(data, indices, indptr, i, cands[t], c_sq)
            acc += min(float(closest[i]), d2 * inv_unit) * weight(samples, i)
        potentials[t] = acc


@numba.njit(nogil=True, cache=True)
def sparse_closer(samples, center, closest, unit, first, buckets, masses, totals):
    """``dense_closer`` for ``CsrRows`` samples; center : (1, d)."""
    data, indices, indptr = samples.data, samples.indices, samples.indptr
    c_sq = 0.0
    for f in range(center.shape[1]):
        c_sq += float(center[0, f]) ** 2
    inv_unit = 1.0 / unit
    totals[:] = 0
    for i in range(len(indptr) - 1):
        d2 = csr_squared_distance(data, indices, indptr, i, center[0], c_sq) * inv_unit
        if first or d2 < closest[i]:
            closest[i] = d2
        if masses.scale > 0:
            totals[buckets[i]] += mass(masses, i)


# The compiled seeding's own kernels (``_kernels/kmeans_plusplus.py``): the
# values of the kernels above, which the Python loop runs and which are their
# reference, with fewer passes over memory.


@numba.njit(nogil=True, cache=True)
def transposed_chunk(X, x_offset, start, n, chunk_t):
    """``chunk_t[f, r] = X[start + r, f] - x_offset[f]`` in X's dtype, r < n."""
    rows = X[start : start + n]
    # feature by feature: a loop over the rows, not over two or three
    # features, is what vectorises
    for f in range(X.shape[1]):
        offset = x_offset[f]
        for r in range(n):
            chunk_t[f, r] = rows[r, f] - offset


@numba.njit(nogil=True, cache=True)
def chunk_distances(chunk_t, n, center, zero, d2):
    """``d2[r] = sum_f (zero + (chunk_t[f, r] - center[f]))**2`` (float64) for
    the rows r < n of a transposed chunk (n_features, chunk), feature by
    feature from the first square (``0.0 + s`` is ``s``), vectorised over the
    rows.  ``zero`` 0.0: ``squared_distance``'s sum (differences squared in
    float64); 0 in X's dtype: ``dense_trials``' direct loop (squared in X's
    dtype, as ``float`` keeps a float32).  center : (n_features,)."""
    c = center[0]
    for r in range(n):
        diff = zero + (chunk_t[0, r] - c)
        d2[r] = diff * diff
    for f in range(1, chunk_t.shape[0]):
        c = center[f]
        for r in range(n):
            diff = zero + (chunk_t[f, r] - c)
            d2[r] += diff * diff


@numba.njit(nogil=True, cache=True)
def direct_trials(samples, cands, closest, unit, options, potentials, chunk_t, d2):
    """``dense_trials`` by the direct loop (``options.use_gemm`` False), bit
    for bit: the same chunks, sums and kept distances, in fewer passes.

    chunk_t : (n_features, options.chunk) and d2 : (options.chunk,) float64
    are scratch buffers.
    """
    X, x_offset = samples.X, samples.x_offset
    chunk, keep, cand_dist = options.chunk, options.keep, options.cand_dist
    n_samples = X.shape[0]
    inv_unit = 1.0 / unit
    zero = np.zeros(1, dtype=X.dtype)[0]
    potentials[:] = 0.0
    for start in range(0, n_samples, chunk):
        n = min(chunk, n_samples - start)
        transposed_chunk(X, x_offset, start, n, chunk_t)
        for t in range(cands.shape[0]):
            chunk_distances(chunk_t, n, cands[t], zero, d2)
            # contiguous views: the loops vectorise; d2 gets the terms of
            # weighted_sum, weighed already (the same products)
            now = closest[start : start + n]
            kept = cand_dist[t, start : start + n] if keep else now
            w = samples.w[start : start + n] if samples.weighted else d2
            for r in range(n):
                nearest = min(float(now[r]), d2[r] * inv_unit)
                if keep:
                    kept[r] = nearest
                d2[r] = nearest * w[r] if samples.weighted else nearest
            potentials[t] += lane_sum(d2, n)


@numba.njit(nogil=True, cache=True)
def direct_closer(
    samples, center, closest, unit, first, buckets, masses, totals, chunk_t, d2
):
    """``dense_closer`` bit for bit, the distances vectorised over a
    transposed chunk.  center : (n_features,); chunk_t : (n_features, m) and
    d2 : (m,) float64 scratch buffers, any m."""
    X, x_offset = samples.X, samples.x_offset
    chunk = d2.shape[0]
    inv_unit = 1.0 / unit
    totals[:] = 0
    for start in range(0, X.shape[0], chunk):
        n = min(chunk, X.shape[0] - start)
        transposed_chunk(X, x_offset, start, n, chunk_t)
        chunk_distances(chunk_t, n, center, 0.0, d2)
        fold_closer(d2, start, n, inv_unit, first, closest, buckets, masses, totals)


@numba.njit(nogil=True, cache=True)
def grouped_draw(X, direction, members, starts, totals, values, masses, picks):
    """``dense_draw`` (nothing excluded, no bucket too large), with the
    members of each bucket listed beforehand instead of found by a pass.

    members : (n,) the samples grouped by bucket, in index order within a
    bucket; starts : (n_buckets + 1,) where each bucket's group starts.
    """
    cumulative = np.cumsum(totals)
    for t in range(len(values)):
        b = np.searchsorted(cumulative, values[t], side="right")
        residual = values[t] - (cumulative[b] - totals[b])
        group = members[starts[b] : starts[b + 1]]
        count = len(group)
        keys = np.empty(count)
        dense_keys(X, group, direction, keys)
        order = np.argsort(keys, kind="mergesort")
        position = count - 1
        running = 0
        for p in range(count):
            running += mass(masses, group[order[p]])
            if running > residual:
                position = p
                break
        picks[t] = group[order[position]]
