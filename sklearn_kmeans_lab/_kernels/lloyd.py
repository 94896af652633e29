"""Lloyd's pass and M-step kernels.

A dense pass handles groups ``[g_start, g_stop)``; group ``g`` owns rows
``[bounds[g], bounds[g + 1])`` and writes only its own slot of the
``Partials`` (index ``g``).  The argmin is over ``||c||^2 - 2 <x, c>``
(``||x||^2`` is the same for every centre), as scikit-learn does; ``-2 c`` is
exact, so ``||c||^2 + <x, -2 c>`` rounds exactly like ``||c||^2 - 2 <x, c>``.

Gap bounds: per sample, a lower bound on the distance to the second-nearest
centre minus the distance to the nearest, stored in 16 bits (the top half of
a float32, truncated: never more than the value it stands for) between the
passes of a run that lives a pass at a time (``LloydRun.assign``, a Dask
block).  A compiled run keeps them in another form (``batched_pass``).
"""

import math
from collections import namedtuple

import numba
import numpy as np

from sklearn_kmeans_lab._kernels.common import squared_distance, weight
from sklearn_kmeans_lab._kernels.nearest import gather, nearest_two
from sklearn_kmeans_lab._kernels.prefetch import hint_rows
from sklearn_kmeans_lab._kernels.row_dots import (
    IN_PLACE_MAX_CLUSTERS,
    IN_PLACE_MAX_FEATURES,
    padded_clusters,
)

_STORE_SHRINK = 1.0 - 2.0**-20
_FLOAT32_MAX = float(np.finfo(np.float32).max)

CenterTerms = namedtuple("CenterTerms", ["centers", "minus_2", "sqnorm"])
CenterTerms.__doc__ = """The centres and the terms of ``||c||^2 - 2 <x, c>``.

centers : ndarray of shape (n_clusters, n_features), X's dtype
minus_2 : ``-2 * centers``
sqnorm : ndarray of shape (n_clusters,), ``||c_j||^2``
"""

Partials = namedtuple(
    "Partials", ["sums", "wsums", "counts", "changed", "inertia", "largest_sq_norm"]
)
Partials.__doc__ = """What each group of rows writes, indexed by group ``g``.

sums : (n_groups, n_lanes, n_clusters, n_features) float64 weighted sums
wsums : (n_groups, n_lanes, n_clusters) float64 weights
counts : (n_groups, n_clusters) int64 members of positive weight
changed : (n_groups,) int64 labels changed
inertia : (n_groups,) float64 weighted inertia (when asked for)
largest_sq_norm : (n_groups,) float64 largest ``||x||^2`` of a computed row
"""


@numba.njit(nogil=True, cache=True)
def zero_partials(n_groups, n_lanes, n_clusters, n_features):
    """``Partials`` of ``n_groups`` groups of ``n_lanes`` lanes, zeroed."""
    return Partials(
        np.zeros((n_groups, n_lanes, n_clusters, n_features)),
        np.zeros((n_groups, n_lanes, n_clusters)),
        np.zeros((n_groups, n_clusters), dtype=np.int64),
        np.zeros(n_groups, dtype=np.int64),
        np.zeros(n_groups),
        np.zeros(n_groups),
    )


GapBounds = namedtuple("GapBounds", ["stored", "drop", "threshold", "read", "write"])
GapBounds.__doc__ = """The per-sample gap bounds of a run.

stored : (n_samples,) uint16, each the top half of a float32 gap
drop : (n_clusters,) float64 shrink of the gaps of each cluster's members
    since they were stored
threshold : float, a gap above it proves the label cannot change
read : bool, skip the rows whose stored gap proves their label
write : bool, store the new gaps of the computed rows
"""

PassOptions = namedtuple(
    "PassOptions",
    ["use_gemm", "from_scratch", "want_inertia", "chunk", "in_place"],
    defaults=(False,),
)
PassOptions.__doc__ = """How a dense pass runs.

use_gemm : bool, distances by a GEMM (many features) or a direct loop
from_scratch : bool, recompute the partial sums from every row; otherwise
    only the samples that change cluster move their contribution
want_inertia : bool
chunk : int, rows per chunk
in_place : bool, where ``use_gemm``: the products of the rows a compiled
    run's pass reads its bounds for by ``in_place_dots`` (no copy, no GEMM;
    ``batched_pass``); ``dense_pass`` does not read it
"""


@numba.njit(nogil=True, cache=True)
def rows_to_compute(X, gaps, labels, start, n_rows, gap_bits, rows):
    """Rows ``r`` of the chunk at ``start`` whose gap bound no longer exceeds
    ``gaps.threshold``, into ``rows[:n]``, each hinted to the cache where
    ``worth_hinting``; returns ``n``.

    The decreased gaps are left in the chunk's float32 view of ``gap_bits``
    (n_rows,) uint32; labels : (n_samples,); rows : (n_rows,) int64.
    """
    gap_f = gap_bits.view(np.float32)
    for r in range(n_rows):
        gap_bits[r] = np.uint32(gaps.stored[start + r]) << np.uint32(16)
    n = 0
    for r in range(n_rows):
        gap = gap_f[r] - gaps.drop[np.uintp(labels[np.uintp(start + r)])]
        # stored a hair low: float32 rounding must not raise it
        gap_f[r] = gap * _STORE_SHRINK
        rows[n] = r
        n += gap <= gaps.threshold
    hint_rows(X, start, rows, 0, n)
    return n


# A float32 square root of a float64 is off by two roundings (to float32,
# then the root's own): 1.5 * 2**-24 of it at most, in float32's normal
# range, and 2**-75 at most below it (the roots of its subnormals).
_ROOT_WIDEN = 2.0**-22
_ROOT_SLACK = 2.0**-74


@numba.njit(nogil=True, cache=True, inline="always")
def gap_of(best_d, second_d, sq_norm):
    """A lower bound on a row's gap (second minus first distance) from its
    two smallest ``||c||^2 - 2 <x, c>`` and its ``||x||^2``, as computed: at
    least 0 and at most float32's largest, shrunk a hair so that a float32
    rounding cannot raise it.  The rounding of the distances is accounted
    for by the threshold a gap is compared with, not here.

    The square roots are taken in float32 (a vector holds twice as many as
    in float64), the second distance's rounded down and the first's up by
    more than their rounding (``_ROOT_WIDEN``, ``_ROOT_SLACK``): the bound is
    less than the float64 difference by about 2**-22 of the distances.
    """
    # selects, not branches, so that the loops over rows vectorise
    second = float(second_d) + sq_norm
    # negative (rounding) or NaN: 0, no bound
    second = second if second > 0.0 else 0.0
    # beyond float32's range a smaller distance is still a lower bound
    second = second if second < _FLOAT32_MAX else _FLOAT32_MAX
    first = float(best_d) + sq_norm
    # beyond float32's range (an infinite root) or NaN: no bound
    first = first if first >= 0.0 else (0.0 if first < 0.0 else np.inf)
    low = float(np.sqrt(np.float32(second))) * (1.0 - _ROOT_WIDEN)
    high = float(np.sqrt(np.float32(first))) * (1.0 + _ROOT_WIDEN)
    gap = (low - _ROOT_SLACK) - (high + _ROOT_SLACK)
    gap = gap if gap > 0.0 else 0.0
    return min(gap, _FLOAT32_MAX) * _STORE_SHRINK


@numba.njit(nogil=True, cache=True)
def store_new_gaps(n, rows, best_d, second_d, sq_norm, gap_bits, new_gaps):
    """Gaps (second minus first distance) of the ``n`` computed rows, as
    computed, into ``gap_bits`` (chunk,) as float32; returns the largest
    ``||x||^2``.  The rounding of the distances is accounted for by the
    threshold a gap is compared with, not here.

    The gaps are computed into ``new_gaps`` (chunk,) float64 first, row
    after row with selects, so that the loop (two square roots a row)
    vectorises; only then are they scattered to their rows.
    """
    for q in range(n):
        new_gaps[q] = gap_of(best_d[q], second_d[q], sq_norm[q])
    gap_f = gap_bits.view(np.float32)
    for q in range(n):
        gap_f[rows[q]] = new_gaps[q]
    largest = 0.0
    for q in range(n):
        largest = max(largest, sq_norm[q])
    return largest


@numba.njit(nogil=True, cache=True)
def apply_labels(
    samples,
    labels,
    row_base,
    rows,
    lane_base,
    n,
    best,
    chunk_rows,
    chunk_t,
    use_gemm,
    in_place,
    from_scratch,
    sums,
    wsums,
    counts,
):
    """Give the ``n`` computed rows ``row_base + rows[:n]`` their new labels
    ``best[:n]``; returns how many changed.

    Outside a pass from scratch, a row that changes cluster moves its
    contribution from its old cluster's sums to its new one's, in row order,
    in lane ``(rows[q] - lane_base) % n_lanes``; its centred values are the
    batch's (``chunk_rows`` for the GEMM, else ``chunk_t``), or, ``in_place``,
    ``X - x_offset`` computed as ``gather`` computes them.  sums (n_lanes,
    k, d), wsums (n_lanes, k), counts (k,).
    """
    X, x_offset = samples.X, samples.x_offset
    n_lanes = sums.shape[0]
    n_changed = 0
    for q in range(n):
        i = np.uintp(row_base + rows[q])
        new = best[q]
        old = labels[i]
        if old != new:
            n_changed += 1
            labels[i] = new
            if not from_scratch:
                wi = weight(samples, i)
                lane = np.uintp((rows[q] - lane_base) % n_lanes)
                # labels of a pass not from scratch are valid, not -1
                old, new = np.uintp(old), np.uintp(new)
                wsums[lane, old] -= wi
                wsums[lane, new] += wi
                counts[old] -= wi > 0
                counts[new] += wi > 0
                for f in range(sums.shape[2]):
                    if in_place:
                        v = (X[i, f] - x_offset[f]) * wi
                    else:
                        v = (chunk_rows[q, f] if use_gemm else chunk_t[f, q]) * wi
                    sums[lane, old, f] -= v
                    sums[lane, new, f] += v
    return n_changed


@numba.njit(nogil=True, cache=True)
def accumulate(samples, labels, start, n_rows, sums, wsums, counts):
    """Add the rows ``[start, start + n_rows)`` to their clusters'
    lane-interleaved sums: sums (n_lanes, k, d), wsums (n_lanes, k),
    counts (k,)."""
    X, x_offset = samples.X, samples.x_offset
    n_lanes = sums.shape[0]
    lane = 0  # r % n_lanes, counted: a division a row costs more than the row
    for r in range(n_rows):
        i = np.uintp(start + r)
        a = np.uintp(labels[i])
        wi = weight(samples, i)
        wsums[lane, a] += wi
        counts[a] += wi > 0
        for f in range(X.shape[1]):
            sums[lane, a, f] += (X[i, f] - x_offset[f]) * wi
        lane = lane + 1 if lane + 1 < n_lanes else 0


@numba.njit(nogil=True, cache=True)
def chunk_inertia(samples, centers, labels, start, n_rows):
    """Weighted inertia of rows ``[start, start + n_rows)`` against their
    labelled centres (k, d), each squared distance summed in X's dtype.

    Four rows at a time: each row's distance is still ``squared_distance``'s
    sum in feature order, and the rows are added in order, but the four sums
    are independent, so their additions overlap instead of waiting on one
    another.
    """
    X, x_offset = samples.X, samples.x_offset
    zero = centers[0, 0] - centers[0, 0]  # 0 in X's dtype
    total = 0.0
    stop = start + n_rows
    i = start
    while i + 4 <= stop:
        i0, i1, i2, i3 = np.uintp(i), np.uintp(i + 1), np.uintp(i + 2), np.uintp(i + 3)
        a0, a1, a2 = np.uintp(labels[i0]), np.uintp(labels[i1]), np.uintp(labels[i2])
        a3 = np.uintp(labels[i3])
        s0 = s1 = s2 = s3 = zero
        for f in range(X.shape[1]):
            o = x_offset[f]
            d0 = zero + ((X[i0, f] - o) - centers[a0, f])
            d1 = zero + ((X[i1, f] - o) - centers[a1, f])
            d2 = zero + ((X[i2, f] - o) - centers[a2, f])
            d3 = zero + ((X[i3, f] - o) - centers[a3, f])
            s0 += d0 * d0
            s1 += d1 * d1
            s2 += d2 * d2
            s3 += d3 * d3
        total += s0 * weight(samples, i0)
        total += s1 * weight(samples, i1)
        total += s2 * weight(samples, i2)
        total += s3 * weight(samples, i3)
        i += 4
    while i < stop:
        sq = squared_distance(X, i, x_offset, centers, labels[i], zero)
        total += sq * weight(samples, i)
        i += 1
    return total


PassBuffers = namedtuple(
    "PassBuffers",
    [
        "chunk_t",
        "chunk_rows",
        "dots_buffer",
        "acc",
        "best_d",
        "second_d",
        "best",
        "rows",
        "sq_norm",
        "gap_bits",
        "new_gaps",
        "centers_t",
    ],
)
PassBuffers.__doc__ = """The scratch buffers of a dense pass (``pass_buffers``): a
run allocates them once, not once per pass."""


@numba.njit(nogil=True, cache=True)
def pass_buffers(X, n_clusters, chunk):
    """``PassBuffers`` for a pass over X (n, d) with ``n_clusters`` centres
    and ``chunk`` rows per chunk."""
    n_features = X.shape[1]
    # in_place_dots' centres (k rounded up to whole vectors) and rows
    # (rounded up to 4)
    padded = padded_clusters(X, n_clusters)
    return PassBuffers(
        np.empty((n_features, chunk), dtype=X.dtype),
        np.empty((chunk, n_features), dtype=X.dtype),
        np.empty(padded * (chunk + 3), dtype=X.dtype),
        np.empty(chunk, dtype=X.dtype),
        np.empty(chunk, dtype=X.dtype),
        np.empty(chunk, dtype=X.dtype),
        np.empty(chunk, dtype=np.int32),
        np.empty(chunk, dtype=np.int64),
        np.empty(chunk),
        np.empty(chunk, dtype=np.uint32),
        np.empty(chunk),
        np.empty(
            (n_features, padded)
            if n_clusters <= IN_PLACE_MAX_CLUSTERS
            and n_features <= IN_PLACE_MAX_FEATURES
            else (0, 0),
            dtype=X.dtype,
        ),
    )


@numba.njit(nogil=True, cache=True)
def dense_pass(samples, centers, bounds, labels, out, gaps, options, g_start, g_stop):
    """One fused E-step and M-step accumulation over groups [g_start, g_stop).

    samples : ``DenseRows``; centers : ``CenterTerms``; bounds : (n_groups + 1,)
    row offsets of the groups; labels : (n_samples,) int32, updated in place;
    out : ``Partials``; gaps : ``GapBounds``; options : ``PassOptions``.
    """
    buffers = pass_buffers(samples.X, centers.minus_2.shape[0], options.chunk)
    dense_pass_in(
        samples, centers, bounds, labels, out, gaps, options, buffers, g_start, g_stop
    )


@numba.njit(nogil=True, cache=True)
def dense_pass_in(
    samples, centers, bounds, labels, out, gaps, options, buffers, g_start, g_stop
):
    """``dense_pass`` in the scratch ``buffers`` (``PassBuffers`` of
    ``pass_buffers(samples.X, n_clusters, options.chunk)``)."""
    chunk = options.chunk
    use_gemm = options.use_gemm
    chunk_t, chunk_rows, dots_buffer, acc, best_d, second_d = (
        buffers.chunk_t,
        buffers.chunk_rows,
        buffers.dots_buffer,
        buffers.acc,
        buffers.best_d,
        buffers.second_d,
    )
    best, rows, sq_norm = buffers.best, buffers.rows, buffers.sq_norm
    gap_bits, new_gaps = buffers.gap_bits, buffers.new_gaps
    for g in range(g_start, g_stop):
        sums, wsums, counts = out.sums[g], out.wsums[g], out.counts[g]
        sums[:] = 0.0
        wsums[:] = 0.0
        counts[:] = 0
        n_changed = 0
        g_inertia = 0.0
        largest = 0.0
        for start in range(bounds[g], bounds[g + 1], chunk):
            n_rows = min(chunk, bounds[g + 1] - start)
            # 1. the rows whose distances are needed
            if gaps.read:
                n = rows_to_compute(
                    samples.X, gaps, labels, start, n_rows, gap_bits, rows
                )
            else:
                n = n_rows
                for r in range(n_rows):
                    rows[r] = r
            gather(samples, start, rows, n, chunk_rows, chunk_t, not use_gemm, sq_norm)
            # 2. their nearest centres and new gap bounds
            nearest_two(
                chunk_rows,
                chunk_t,
                n,
                centers,
                use_gemm,
                dots_buffer,
                acc,
                best_d,
                second_d,
                best,
                sq_norm,
            )
            if gaps.write:
                largest = max(
                    largest,
                    store_new_gaps(
                        n, rows, best_d, second_d, sq_norm, gap_bits, new_gaps
                    ),
                )
                for r in range(n_rows):
                    gaps.stored[start + r] = np.uint16(gap_bits[r] >> np.uint32(16))
            # 3. new labels, and the moves of the rows that change cluster;
            # a row's lane is its offset in the chunk, not its rank among
            # the computed rows: the same additions with the bounds on or off
            n_changed += apply_labels(
                samples,
                labels,
                start,
                rows,
                0,
                n,
                best,
                chunk_rows,
                chunk_t,
                use_gemm,
                False,
                options.from_scratch,
                sums,
                wsums,
                counts,
            )
            # 4. a pass from scratch adds every row to its cluster
            if options.from_scratch:
                accumulate(samples, labels, start, n_rows, sums, wsums, counts)
            if options.want_inertia:
                g_inertia += chunk_inertia(
                    samples, centers.centers, labels, start, n_rows
                )
        out.changed[g] = n_changed
        out.inertia[g] = g_inertia
        out.largest_sq_norm[g] = largest


@numba.njit(nogil=True, cache=True)
def sparse_pass(samples, centers, bounds, labels, out, want_inertia, g_start, g_stop):
    """``dense_pass`` for CSR samples, always from scratch and without bounds.

    samples : ``CsrRows``; centers : ``CenterTerms``; the rest as in
    ``dense_pass`` (one lane).
    """
    data, indices, indptr = samples.data, samples.indices, samples.indptr
    c, c_sqnorm = centers.centers, centers.sqnorm
    n_clusters = c.shape[0]
    for g in range(g_start, g_stop):
        sums, wsums, counts = out.sums[g, 0], out.wsums[g, 0], out.counts[g]
        out.sums[g] = 0.0
        out.wsums[g] = 0.0
        counts[:] = 0
        n_changed = 0
        g_inertia = 0.0
        for i in range(bounds[g], bounds[g + 1]):
            best = 0
            best_dist = np.inf
            for j in range(n_clusters):
                dot = 0.0
                for p in range(indptr[i], indptr[i + 1]):
                    dot += data[p] * c[j, indices[p]]
                dist = c_sqnorm[j] - 2.0 * dot
                if dist < best_dist:
                    best_dist = dist
                    best = j
            if labels[i] != best:
                n_changed += 1
                labels[i] = best
            wi = weight(samples, i)
            wsums[best] += wi
            counts[best] += wi > 0
            for p in range(indptr[i], indptr[i + 1]):
                sums[best, indices[p]] += data[p] * wi
            if want_inertia:
                # ||x - c||^2 = ||c||^2 + sum over nonzeros of (x_f - c_f)^2 - c_f^2
                sq = c_sqnorm[best]
                for p in range(indptr[i], indptr[i + 1]):
                    cf = c[best, indices[p]]
                    diff = data[p] - cf
                    sq += diff * diff - cf * cf
                g_inertia += max(sq, 0.0) * wi
        out.changed[g] = n_changed
        out.inertia[g] = g_inertia


@numba.njit(nogil=True, cache=True)
def dense_inertia(samples, centers, labels, bounds, out, g_start, g_stop):
    """``out[g]`` = weighted inertia of group ``g``'s rows against their
    labelled ``centers`` (k, d); bounds as in ``dense_pass``."""
    for g in range(g_start, g_stop):
        out[g] = chunk_inertia(
            samples, centers, labels, bounds[g], bounds[g + 1] - bounds[g]
        )


@numba.njit(nogil=True, cache=True)
def reduce_partials(sums, wsums, counts, out_sums, out_wsums, out_counts):
    """Add the partial sums (g, lanes, k, d), weights (g, lanes, k) and
    counts (g, k) in (group, lane) order, a fixed order, into out (k, d),
    (k,), (k,)."""
    out_sums[:] = 0.0
    out_wsums[:] = 0.0
    out_counts[:] = 0
    for g in range(sums.shape[0]):
        for j in range(sums.shape[2]):
            out_counts[j] += counts[g, j]
        for lane in range(sums.shape[1]):
            for j in range(sums.shape[2]):
                out_wsums[j] += wsums[g, lane, j]
                for f in range(sums.shape[3]):
                    out_sums[j, f] += sums[g, lane, j, f]


@numba.njit(nogil=True, cache=True)
def reduce_and_add(
    sums,
    wsums,
    counts,
    delta_sums,
    delta_wsums,
    delta_counts,
    out_sums,
    out_wsums,
    out_counts,
):
    """``out += `` the partials reduced in ``reduce_partials``'s order (into
    the ``delta`` buffers first)."""
    reduce_partials(sums, wsums, counts, delta_sums, delta_wsums, delta_counts)
    out_sums += delta_sums
    out_wsums += delta_wsums
    out_counts += delta_counts


@numba.njit(nogil=True, cache=True)
def copy_totals(sums, weights, counts, out_sums, out_weights):
    """Copy the running totals (k, d) and (k,); a cluster with no member of
    positive weight (``counts`` (k,)) gets exactly 0.  Returns whether some
    cluster has zero weight."""
    any_empty = False
    for j in range(sums.shape[0]):
        if counts[j] == 0:
            out_weights[j] = 0.0
            out_sums[j] = 0.0
        else:
            out_weights[j] = weights[j]
            out_sums[j] = sums[j]
        any_empty |= out_weights[j] == 0
    return any_empty


@numba.njit(nogil=True, cache=True)
def average_in_place(sums, weights):
    """``sums[j] *= 1 / weights[j]`` (scikit-learn's rounding); a cluster of
    zero weight takes the centre of the heaviest (the first, on ties).
    sums : (k, d); weights : (k,)."""
    heaviest = 0
    any_empty = False
    for j in range(sums.shape[0]):
        if weights[j] > weights[heaviest]:
            heaviest = j
        if weights[j] > 0:
            inverse = 1.0 / weights[j]
            if inverse < np.inf:
                for f in range(sums.shape[1]):
                    sums[j, f] *= inverse
            else:  # a subnormal weight: its inverse overflows, a quotient not
                for f in range(sums.shape[1]):
                    sums[j, f] /= weights[j]
        else:
            any_empty = True
    if any_empty:
        for j in range(sums.shape[0]):
            if not weights[j] > 0:
                sums[j] = sums[heaviest]


@numba.njit(nogil=True, cache=True)
def center_shifts(old, new, out):
    """``out[j] = ||new[j] - old[j]||`` in the centres' dtype, summed four
    features at a time as scikit-learn's ``_euclidean_dense_dense`` does, so
    that the tolerance test sees the same number.  old, new : (k, d)."""
    n_features = old.shape[1]
    n_quads = n_features // 4
    for j in range(old.shape[0]):
        result = old[j, 0] - old[j, 0]  # 0 in the centres' dtype
        for q in range(n_quads):
            f = 4 * q
            d0 = new[j, f] - old[j, f]
            d1 = new[j, f + 1] - old[j, f + 1]
            d2 = new[j, f + 2] - old[j, f + 2]
            d3 = new[j, f + 3] - old[j, f + 3]
            result += d0 * d0 + d1 * d1 + d2 * d2 + d3 * d3
        for f in range(4 * n_quads, n_features):
            diff = new[j, f] - old[j, f]
            result += diff * diff
        out[j] = np.sqrt(result)


@numba.njit(nogil=True, cache=True)
def add_gap_drops(old, new, gap_drop):
    """``gap_drop[j] += shift[j] + (largest shift of another centre)``, the
    shifts from old (k, d) to new (k, d) in float64, inflated a hair to cover
    their own rounding."""
    n_clusters = old.shape[0]
    shift = np.empty(n_clusters)
    first = 0
    for j in range(n_clusters):
        sq = 0.0
        for f in range(old.shape[1]):
            diff = float(new[j, f]) - float(old[j, f])
            sq += diff * diff
        shift[j] = math.sqrt(sq) * (1 + 1e-9)
        if shift[j] > shift[first]:
            first = j
    second = 0.0
    for j in range(n_clusters):
        if j != first:
            second = max(second, shift[j])
    for j in range(n_clusters):
        gap_drop[j] += shift[j] + (second if j == first else shift[first])
