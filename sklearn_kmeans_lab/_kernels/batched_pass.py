"""The pass of a compiled Lloyd run: the rows to compute in full batches.

``dense_pass`` (``_kernels/lloyd.py``) works a chunk of rows at a time: it
reads and writes back the gap bound of every row of the chunk, then finds the
nearest centres of the chunk's rows whose bound fails.  Late in a run most
bounds hold (80 to 95 % of the rows on the benchmark data), so a chunk
leaves a few dozen rows to compute and the pass costs what its fixed work
per row and per chunk costs, not what the distances cost.  A compiled run
(``_kernels/run.py``) lives in one call, so it keeps its bounds in a form
that needs no write-back, and ``batched_pass`` gathers the rows to compute
from as many chunks as it takes to fill a batch:

- *Cumulative bounds.*  A row's stored value is its gap (second-nearest
  minus nearest distance) when it was last computed, plus its cluster's
  ``drop`` at that time, rounded down to float32; ``drop[j]`` is what the
  centres' moves since the start of the run can take off the gap of a member
  of cluster ``j``, and only grows.  The bound now is ``stored - drop[label]``:
  a skipped row keeps its label, so its stored value stays valid as it is.
- *Full batches.*  The scan collects the rows whose bound fails, in row
  order, until a batch (``PassOptions.chunk`` rows) is full; the batch then
  goes through the same kernels as a chunk (``gather``, ``nearest_two``), or,
  where the run asks (``PassOptions.in_place``), through
  ``nearest_two_in_place``, which reads the rows where they lie (the same
  labels).

Nothing a row adds changes: the rows are computed by the same arithmetic,
their labels and moved contributions are applied in row order, each in the
lane of its offset in its group (``dense_pass``'s lane, as its chunks are
whole multiples of the lanes), and a pass from scratch adds the group's rows
in row order.  So the labels, totals and iterations of a run are bit for bit
those of the Python run (``LloydRun``), which keeps ``dense_pass``.
"""

from collections import namedtuple

import numba
import numpy as np

from sklearn_kmeans_lab._kernels.bound_scan import whole_vectors_scan
from sklearn_kmeans_lab._kernels.lloyd import (
    _FLOAT32_MAX,
    _STORE_SHRINK,
    accumulate,
    apply_labels,
    gap_of,
)
from sklearn_kmeans_lab._kernels.nearest import (
    copy_rows,
    gather,
    nearest_two,
    nearest_two_converted,
    nearest_two_in_place,
)
from sklearn_kmeans_lab._kernels.prefetch import hint_rows, worth_hinting
from sklearn_kmeans_lab._kernels.row_dots import transposed_minus_2

# An ulp of a float64 relative to its value, at most.
_ULP = 2.0**-52
# A float64 of at least 0 times this, rounded to the nearest float32, is at
# least the float64.
_ROUND_UP_F32 = 1.0 + 2.0**-23

# a scan's count of rows found is unsigned, as its indices
_ONE = np.uintp(1)
_ZERO = np.uintp(0)

RunBounds = namedtuple(
    "RunBounds", ["stored", "drop", "limit", "read", "write", "sq_norms"]
)
RunBounds.__doc__ = """The cumulative gap bounds of a compiled run's pass.

stored : (n_samples,) float32, each row's gap plus its cluster's drop when
    it was last computed (rounded down)
drop : (n_clusters,) float64, the drops since the start of the run
limit : (n_clusters,) float32, the threshold a gap must exceed
    (``cumulative_threshold``) plus ``drop``, rounded up (``scan_limits``):
    a row whose ``stored`` exceeds its cluster's limit keeps its label
read : bool, skip the rows whose bound proves their label
write : bool, store the bounds of the computed rows
sq_norms : (n_samples,) float64, or (0,): each row's ``||x||^2`` as
    ``gather`` computes it (the bounds' sizes), kept by the pass that
    computes every row (``write`` without ``read``: a run's first) for the
    passes that read the bounds, which then copy their rows without
    summing (``copy_rows``).  For the GEMM's row-major copies only; (0,)
    where the run does not keep them (``RunSettings.keep_norms``).
"""


@numba.njit(nogil=True, cache=True)
def cumulative_threshold(threshold, drop, n_additions):
    """The threshold a cumulative bound ``stored - drop[label]`` is compared
    with, for a gap that must exceed ``threshold``: ``drop`` (k,) has taken
    ``n_additions`` additions since the start of the run, and each, like the
    difference, may be off by an ulp of the largest drop."""
    return threshold * (1.0 + 2.0 * _ULP) + (n_additions + 2.0) * (
        2.0 * _ULP * drop.max()
    )


@numba.njit(nogil=True, cache=True)
def scan_limits(threshold, drop, limit):
    """``limit[j]``: ``threshold + drop[j]`` (k,) rounded up to float32, so
    that the scan compares each row's stored float32 bound with one float32
    of its cluster, without a subtraction: ``stored > limit[j]`` implies
    ``stored - drop[j] > threshold``.  (The ulps of the float64 sum are
    among those ``cumulative_threshold`` allows for.)  Beyond float32's
    range, or where ``drop[j]`` is NaN, the limit is infinite: no bound
    passes it (a stored bound is never NaN: ``store_cumulative_gaps``)."""
    for j in range(drop.shape[0]):
        value = (threshold + drop[j]) * _ROUND_UP_F32
        # a NaN drop proves nothing: no bound passes an infinite limit
        limit[j] = np.float32(value) if value == value else np.inf


@numba.njit(nogil=True, cache=True)
def scan_bounds(X, gaps, labels, row, stop, room, rows, n, in_place=False):
    """Append to ``rows[n:]`` the rows of ``[row, stop)`` whose cumulative
    bound (``RunBounds``) no longer exceeds their cluster's ``limit``,
    scanning at most ``room`` rows (so that ``rows`` cannot overflow), and
    hint them to the cache where ``worth_hinting`` (for a pass that reads
    them ``in_place``).  Returns ``(next_row, n)``."""
    stored, limit = gaps.stored, gaps.limit
    end = min(stop, row + room)
    # sixteen rows at a time where the machine allows (hinting the rows it
    # finds itself), the rest one by one
    hint = worth_hinting(X, in_place)
    first, n_vectors = whole_vectors_scan(
        stored, limit, labels, row, end, rows, n, X, hint
    )
    # unsigned indices (see _kernels/common.py): no negative-index code
    found = np.uintp(n_vectors)
    for i in range(np.uintp(first), np.uintp(end)):
        rows[found] = i
        # neither is NaN (see scan_limits): an ordered comparison
        found += _ONE if stored[i] <= limit[np.uintp(labels[i])] else _ZERO
    hint_rows(X, 0, rows, n_vectors, np.intp(found), in_place)
    return end, np.intp(found)


ConvertedProducts = namedtuple(
    "ConvertedProducts", ["on", "minus_2", "rows", "dots", "margin_coef", "c_norm"]
)
ConvertedProducts.__doc__ = """A pass's float32 products of float64 rows
(``nearest_two_converted``): the same labels, gap bounds a little weaker.

on : bool, whether this pass takes them
minus_2 : (k, d) float32, ``-2 c`` rounded, written by the pass
rows : (chunk, d) float32, a batch's rows rounded
dots : (k * chunk,) float32, the products
margin_coef : float, what a gap computed from them loses, per unit of
    ``||x|| + c_norm`` (twice their noise coefficient)
c_norm : float, the largest ``||c||`` of the run so far
"""


@numba.njit(nogil=True, cache=True)
def store_cumulative_gaps(
    n, rows, best, best_d, second_d, sq_norm, new_gaps, gaps, margin_coef, c_norm
):
    """The gaps of the ``n`` computed rows ``rows[:n]`` into the cumulative
    store: ``gap + drop[new label]``, rounded down to float32.  Returns the
    largest ``||x||^2``.

    ``gap_of`` and the sum are both shrunk by ``_STORE_SHRINK``, which
    covers the float64 and float32 roundings of the sum many times over, so
    a stored value never exceeds what it stands for.  The gaps are computed
    into ``new_gaps`` (chunk,) first, so that that loop (two square roots a
    row) vectorises.  Distances from float32 products (``margin_coef`` > 0)
    may be off by their noise (the run's ``noise_coef`` of float32 with the
    conversions, times ``||x|| + c_norm``), not the run's: each such gap
    gives up twice that noise, what two distances can be off by, so that
    the stored value is at most the true gap and the run's threshold (which
    allows for a float64 gap off by as much either way) holds a fortiori.
    """
    stored, drop = gaps.stored, gaps.drop
    for q in range(n):
        new_gaps[q] = gap_of(best_d[q], second_d[q], sq_norm[q])
    if margin_coef > 0.0:
        for q in range(n):
            margin = margin_coef * (np.sqrt(sq_norm[q]) + c_norm)
            new_gaps[q] = max(new_gaps[q] - margin, 0.0)
    largest = 0.0
    for q in range(n):
        total = (new_gaps[q] + drop[np.uintp(best[q])]) * _STORE_SHRINK
        # a NaN drop (centres that overflowed) leaves no bound, not a NaN one
        total = total if total >= 0.0 else 0.0
        stored[np.uintp(rows[q])] = np.float32(min(total, _FLOAT32_MAX))
        largest = max(largest, sq_norm[q])
    return largest


@numba.njit(nogil=True, cache=True)
def _gather_batch(samples, rows, n, chunk_rows, chunk_t, use_gemm, gaps, sq_norm):
    """The batch's centred rows into ``chunk_rows`` (GEMM; float32 for
    ``nearest_two_converted``) or ``chunk_t``, and their squared norms: read
    from the run's kept norms where a pass that reads the bounds has them
    (``copy_rows``), else summed (``gather``) and kept by the pass that
    writes them (``RunBounds.sq_norms``)."""
    keep_norms = use_gemm and gaps.sq_norms.shape[0] > 0
    if keep_norms and gaps.read:
        copy_rows(samples, 0, rows, n, chunk_rows, gaps.sq_norms, sq_norm)
        return
    gather(samples, 0, rows, n, chunk_rows, chunk_t, not use_gemm, sq_norm)
    if keep_norms and gaps.write:
        for q in range(n):
            gaps.sq_norms[np.uintp(rows[q])] = sq_norm[q]


@numba.njit(nogil=True, cache=True)
def batched_pass(
    samples,
    centers,
    bounds,
    labels,
    out,
    gaps,
    options,
    buffers,
    converted,
    g_start,
    g_stop,
):
    """``dense_pass_in`` over groups [g_start, g_stop) with cumulative bounds
    (``gaps``, a ``RunBounds``), the rows to compute in full batches of
    ``options.chunk`` rows, by float32 products where ``converted.on`` (a
    ``ConvertedProducts``; GEMM path, float64 X: the same labels).  The
    inertia is not computed (``options.want_inertia`` is not read)."""
    batch = options.chunk
    use_gemm = options.use_gemm
    low = converted.on and use_gemm and not options.in_place
    if low:
        for j in range(converted.minus_2.shape[0]):
            for f in range(converted.minus_2.shape[1]):
                converted.minus_2[j, f] = np.float32(centers.minus_2[j, f])
    margin_coef = converted.margin_coef if low else 0.0
    keep_norms = use_gemm and gaps.sq_norms.shape[0] > 0
    # the products of the rows in place, where the run asks
    # (options.in_place): a pass that reads the bounds takes the rows' kept
    # norms where the run keeps them; the first (which writes them), or
    # every pass of a run that does not keep them, sums them as it reads the
    # rows (nearest_two_in_place)
    in_place = options.in_place and use_gemm
    if in_place:
        transposed_minus_2(centers.minus_2, buffers.centers_t)
    chunk_t, chunk_rows = buffers.chunk_t, buffers.chunk_rows
    best_d, second_d, best = buffers.best_d, buffers.second_d, buffers.best
    rows, sq_norm = buffers.rows, buffers.sq_norm
    for g in range(g_start, g_stop):
        sums, wsums, counts = out.sums[g], out.wsums[g], out.counts[g]
        sums[:] = 0.0
        wsums[:] = 0.0
        counts[:] = 0
        n_changed = 0
        largest = 0.0
        g_lo, g_hi = bounds[g], bounds[g + 1]
        row = g_lo
        while row < g_hi:
            # 1. the next batch of rows whose distances are needed, in order
            n = 0
            if gaps.read:
                while row < g_hi and n < batch:
                    row, n = scan_bounds(
                        samples.X, gaps, labels, row, g_hi, batch - n, rows, n, in_place
                    )
            else:
                n = min(batch, g_hi - row)
                for q in range(n):
                    rows[q] = row + q
                row += n
            if n == 0:
                continue
            # 2. their nearest centres and new bounds
            if in_place:
                kept = keep_norms and gaps.read
                if kept:
                    for q in range(n):
                        sq_norm[q] = gaps.sq_norms[np.uintp(rows[q])]
                nearest_two_in_place(
                    samples,
                    rows,
                    n,
                    centers,
                    buffers.centers_t,
                    buffers.dots_buffer,
                    best_d,
                    second_d,
                    best,
                    sq_norm,
                    not kept,
                )
                if keep_norms and not kept:
                    for q in range(n):
                        gaps.sq_norms[np.uintp(rows[q])] = sq_norm[q]
            elif low:
                # the rows gathered straight into float32 (settled and
                # applied from X in place)
                _gather_batch(
                    samples, rows, n, converted.rows, chunk_t, True, gaps, sq_norm
                )
                nearest_two_converted(
                    samples,
                    rows,
                    n,
                    centers,
                    converted.minus_2,
                    converted.rows,
                    converted.dots,
                    best_d,
                    second_d,
                    best,
                    sq_norm,
                )
            else:
                _gather_batch(
                    samples, rows, n, chunk_rows, chunk_t, use_gemm, gaps, sq_norm
                )
                nearest_two(
                    chunk_rows,
                    chunk_t,
                    n,
                    centers,
                    use_gemm,
                    buffers.dots_buffer,
                    buffers.acc,
                    best_d,
                    second_d,
                    best,
                    sq_norm,
                )
            if gaps.write:
                largest = max(
                    largest,
                    store_cumulative_gaps(
                        n,
                        rows,
                        best,
                        best_d,
                        second_d,
                        sq_norm,
                        buffers.new_gaps,
                        gaps,
                        margin_coef,
                        converted.c_norm,
                    ),
                )
            # 3. new labels; the moves in the lane of each row's offset in
            # its group, which is its offset in dense_pass's chunk
            n_changed += apply_labels(
                samples,
                labels,
                0,
                rows,
                g_lo,
                n,
                best,
                chunk_rows,
                chunk_t,
                use_gemm,
                in_place or low,
                options.from_scratch,
                sums,
                wsums,
                counts,
            )
        # 4. a pass from scratch adds every row of the group to its cluster
        if options.from_scratch:
            accumulate(samples, labels, g_lo, g_hi - g_lo, sums, wsums, counts)
        out.changed[g] = n_changed
        out.inertia[g] = 0.0
        out.largest_sq_norm[g] = largest
