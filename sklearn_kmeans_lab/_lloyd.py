"""Lloyd's algorithm: the numeric kernels and the iteration of one run.

The estimator in ``_kmeans.py`` orchestrates; everything that touches every
sample lives here.  One *pass* over the data does the E-step (nearest centre)
and the M-step accumulation (weighted sums per cluster) at once, chunk by
chunk, so no ``n_samples x n_clusters`` matrix is ever formed.

Determinism: the rows are cut into *groups* whose number depends only on the
shape of the problem; each group accumulates into its own partial buffer and
the partials are reduced in group order.  Threads only decide *who* computes
a group, never the order of the floating-point additions, so the result is
bit-for-bit the same for any thread count.

Centring: dense data is centred on the fly (``x - x_offset``, the same
rounding as centring a copy) so a fit never copies ``X``.

Bounds: a run keeps, per sample, a lower bound on the gap between the
distance to its second-nearest and to its nearest centre (Hamerly, 2010, in
one number).  When the centres move by ``delta``, the gap shrinks by at most
``delta[own] + max(delta[other])``; while it stays above the rounding error
of the distance computation, the sample provably keeps its label and its
distances are not computed.  The labels, sums and centres are bit-for-bit
those of a pass without bounds (``_USE_BOUNDS = False``).
"""

import math
import os
import warnings
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
import scipy.sparse as sp
from sklearn.metrics import euclidean_distances
from threadpoolctl import ThreadpoolController

# Rows handled together: the transposed chunk and the distance buffers stay
# in L1 cache; a GEMM takes more rows per call, so that the BLAS call
# overhead is spread (its buffers stay in L2).
_CHUNK = 256
_GEMM_CHUNK = 1024
# Up to this many features a compiled loop vectorised over the rows of a
# chunk beats a GEMM (measured: d=2 and d=10, k=8).
_DIRECT_MAX_FEATURES = 8
# Groups are at least this many rows; there are at most _MAX_GROUPS of them,
# and their partial sums take at most _MAX_PARTIAL_BYTES.
_MIN_GROUP_ROWS = 4096
_MAX_GROUPS = 64
_MAX_PARTIAL_BYTES = 2 * 2**20
# Interleaved partial sums per group when k * d is small: consecutive samples
# of one cluster then add into different memory, not one dependency chain.
_LANES_MAX_KD = 512
_N_LANES = 4
# A pass is spread over threads only when it has at least this many
# multiply-adds per thread: below it, thread hand-off costs more than it saves.
_MIN_WORK_PER_THREAD = 4_000_000
# Bounds pay off when a sample's distances cost more than its bound update.
_USE_BOUNDS = True
_BOUNDS_MIN_KD = 0
_STORE_SHRINK = 1.0 - 2.0**-20
_FLOAT32_MAX = float(np.finfo(np.float32).max)
# Passes between two recomputations of the cluster totals from scratch.
_REFRESH_EVERY = 32

_blas_controller = None
_executor = None
_executor_size = 0


def effective_n_threads():
    """Threads a pass may use: ``OMP_NUM_THREADS`` if set, else the usable CPUs.

    The same environment variable scikit-learn's OpenMP loops honour, so one
    setting pins both libraries to the same thread count.
    """
    value = os.environ.get("OMP_NUM_THREADS", "").strip()
    if value.isdigit() and int(value) > 0:
        return int(value)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


class _NoLimit:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _blas_single_thread(needed=True):
    """Context manager holding BLAS at one thread (threads come from groups).

    Only the GEMM kernel calls BLAS; other passes skip the (costly) switch.
    """
    global _blas_controller
    if not needed:
        return _NoLimit()
    if _blas_controller is None:
        _blas_controller = ThreadpoolController()
    return _blas_controller.limit(limits=1, user_api="blas")


def _thread_pool(n_threads):
    global _executor, _executor_size
    if _executor is None or _executor_size < n_threads:
        if _executor is not None:
            _executor.shutdown(wait=False)
        _executor = ThreadPoolExecutor(
            max_workers=n_threads, thread_name_prefix="sklearn_kmeans_lab"
        )
        _executor_size = n_threads
    return _executor


# --------------------------------------------------------------------------
# numba kernels.  A dense pass handles groups [g_start, g_stop); group g owns
# rows [bounds[g], bounds[g + 1]) and writes only sums[g], wsums[g],
# changed[g] and inertia[g].  The argmin is over ||c||^2 - 2 <x, c> (||x||^2
# is the same for every centre), as scikit-learn does; -2 c is exact, so
# ||c||^2 + <x, -2 c> rounds exactly like ||c||^2 - 2 <x, c>.


@numba.njit(nogil=True, cache=True)
def _rows_to_compute(slack, labels, gap_drop, threshold, start, n_rows, slack_bits,
                     rows):  # fmt: skip
    """Rows of the chunk whose gap bound no longer exceeds ``threshold``.

    ``slack`` keeps the top 16 bits of a float32 (bfloat16, truncated: never
    more than the value it stands for); the decreased gaps are left in the
    chunk's float32 view of ``slack_bits``.
    """
    slack_f = slack_bits.view(np.float32)
    for r in range(n_rows):
        slack_bits[r] = np.uint32(slack[start + r]) << np.uint32(16)
    m = 0
    for r in range(n_rows):
        gap = slack_f[r] - gap_drop[labels[start + r]]
        # stored a hair low: float32 rounding must not raise it
        slack_f[r] = gap * _STORE_SHRINK
        rows[m] = r
        m += gap <= threshold
    return m


@numba.njit(nogil=True, cache=True)
def _gather(X, x_offset, start, rows, m, xc, xt, transpose, sq_norm):
    """Centred rows ``start + rows[:m]``, transposed in ``xt`` (if
    ``transpose``, for the direct loop) else row-major in ``xc`` (for the
    GEMM), and their squared norms.

    Feature by feature when transposing: the loops over rows vectorise.
    """
    n_features = X.shape[1]
    if transpose:
        for q in range(m):
            sq_norm[q] = 0.0
        for f in range(n_features):
            offset = x_offset[f]
            for q in range(m):
                v = X[start + rows[q], f] - offset
                xt[f, q] = v
                sq_norm[q] += float(v) * float(v)
    else:
        for q in range(m):
            i = start + rows[q]
            xx = 0.0
            for f in range(n_features):
                v = X[i, f] - x_offset[f]
                xc[q, f] = v
                xx += float(v) * float(v)
            sq_norm[q] = xx


@numba.njit(nogil=True, cache=True)
def _nearest_two(xc, xt, m, centers_m2, c_sqnorm, use_gemm, out, acc, best_d,
                 second_d, best):  # fmt: skip
    """Nearest centre, its and the second-nearest distance (up to ||x||^2).

    Vectorised over the rows; a direct loop for few features, else a GEMM.
    """
    n_clusters, n_features = centers_m2.shape
    for q in range(m):
        best_d[q] = np.inf
        second_d[q] = np.inf
        best[q] = 0
    dots = out[: n_clusters * m].reshape((n_clusters, m))
    if use_gemm:
        np.dot(centers_m2, xc[:m].T, dots)
    for j in range(n_clusters):
        if use_gemm:
            for q in range(m):
                acc[q] = c_sqnorm[j] + dots[j, q]
        else:
            for q in range(m):
                acc[q] = c_sqnorm[j]
            for f in range(n_features):
                cf = centers_m2[j, f]
                for q in range(m):
                    acc[q] += xt[f, q] * cf
        label = np.int32(j)
        # selects, not branches: the loop vectorises
        for q in range(m):
            a_q = acc[q]
            b_q = best_d[q]
            second_d[q] = min(second_d[q], max(a_q, b_q))
            best[q] = label if a_q < b_q else best[q]
            best_d[q] = min(a_q, b_q)


@numba.njit(nogil=True, cache=True)
def _new_gaps(m, rows, best_d, second_d, sq_norm, slack_bits):
    """Gaps (second minus first distance) of the computed rows, as computed.

    Returns the largest ||x||^2.  The rounding of the distances is accounted
    for by the threshold a gap is compared with, not here.
    """
    slack_f = slack_bits.view(np.float32)
    largest = 0.0
    for q in range(m):
        xx = sq_norm[q]
        largest = max(largest, xx)
        gap = math.sqrt(max(float(second_d[q]) + xx, 0.0)) - math.sqrt(
            max(float(best_d[q]) + xx, 0.0)
        )
        if not gap < math.inf:  # overflow (|x| ~ 1e154) or NaN: no bound
            gap = 0.0
        # beyond float32's range a smaller bound is still a bound
        slack_f[rows[q]] = min(max(gap, 0.0), _FLOAT32_MAX) * _STORE_SHRINK
    return largest


@numba.njit(nogil=True, cache=True)
def _accumulate(X, x_offset, w, weighted, labels, start, n_rows, sums, wsums,
                counts):  # fmt: skip
    """Add the rows of a chunk to their clusters' (lane-interleaved) sums."""
    n_lanes = sums.shape[0]
    for r in range(n_rows):
        i = start + r
        a = labels[i]
        wi = w[i] if weighted else 1.0
        lane = r % n_lanes
        wsums[lane, a] += wi
        counts[a] += wi > 0
        for f in range(X.shape[1]):
            sums[lane, a, f] += (X[i, f] - x_offset[f]) * wi


@numba.njit(nogil=True, cache=True)
def _chunk_inertia(X, x_offset, w, weighted, centers, labels, start, n_rows):
    dtype_zero = centers[0, 0] - centers[0, 0]  # 0 in X's dtype
    total = 0.0
    for i in range(start, start + n_rows):
        a = labels[i]
        sq = dtype_zero
        for f in range(X.shape[1]):
            diff = (X[i, f] - x_offset[f]) - centers[a, f]
            sq += diff * diff
        total += sq * (w[i] if weighted else 1.0)
    return total


@numba.njit(nogil=True, cache=True)
def _dense_pass(
    X, x_offset, w, weighted, centers_m2, c_sqnorm, use_gemm, bounds, g_start,
    g_stop, labels, sums, wsums, counts, changed, inertia, want_inertia, centers,
    full, slack, use_slack, store_slack, gap_drop, threshold, x_sqnorm, chunk,
):  # fmt: skip
    n_clusters, n_features = centers_m2.shape
    n_lanes = sums.shape[1]
    xt = np.empty((n_features, chunk), dtype=X.dtype)
    xc = np.empty((chunk, n_features), dtype=X.dtype)
    out = np.empty(n_clusters * chunk, dtype=X.dtype)
    acc = np.empty(chunk, dtype=X.dtype)
    best_d = np.empty(chunk, dtype=X.dtype)
    second_d = np.empty(chunk, dtype=X.dtype)
    best = np.empty(chunk, dtype=np.int32)
    rows = np.empty(chunk, dtype=np.int64)
    sq_norm = np.empty(chunk)
    slack_bits = np.empty(chunk, dtype=np.uint32)
    for g in range(g_start, g_stop):
        sums[g] = 0.0
        wsums[g] = 0.0
        counts[g] = 0
        n_changed = 0
        g_inertia = 0.0
        largest = 0.0
        for start in range(bounds[g], bounds[g + 1], chunk):
            n_rows = min(chunk, bounds[g + 1] - start)
            # 1. the rows whose distances are needed
            if use_slack:
                m = _rows_to_compute(
                    slack, labels, gap_drop, threshold, start, n_rows, slack_bits,
                    rows,
                )  # fmt: skip
            else:
                m = n_rows
                for r in range(n_rows):
                    rows[r] = r
            _gather(X, x_offset, start, rows, m, xc, xt, not use_gemm, sq_norm)
            # 2. their nearest centres and new gap bounds
            _nearest_two(xc, xt, m, centers_m2, c_sqnorm, use_gemm, out, acc,
                         best_d, second_d, best)  # fmt: skip
            if store_slack:
                largest = max(largest, _new_gaps(
                    m, rows, best_d, second_d, sq_norm, slack_bits,
                ))  # fmt: skip
                for r in range(n_rows):
                    slack[start + r] = np.uint16(slack_bits[r] >> np.uint32(16))
            # 3. new labels; outside a full pass, a sample that changes
            # cluster moves its contribution from the old sums to the new
            for q in range(m):
                i = start + rows[q]
                new = best[q]
                old = labels[i]
                if old != new:
                    n_changed += 1
                    labels[i] = new
                    if not full:
                        wi = w[i] if weighted else 1.0
                        # the row's lane, not its rank among the computed
                        # rows: the same additions with the bounds on or off
                        lane = rows[q] % n_lanes
                        wsums[g, lane, old] -= wi
                        wsums[g, lane, new] += wi
                        counts[g, old] -= wi > 0
                        counts[g, new] += wi > 0
                        for f in range(n_features):
                            v = (xc[q, f] if use_gemm else xt[f, q]) * wi
                            sums[g, lane, old, f] -= v
                            sums[g, lane, new, f] += v
            # 4. a full pass adds every row to its cluster
            if full:
                _accumulate(X, x_offset, w, weighted, labels, start, n_rows,
                            sums[g], wsums[g], counts[g])  # fmt: skip
            if want_inertia:
                g_inertia += _chunk_inertia(
                    X, x_offset, w, weighted, centers, labels, start, n_rows
                )
        changed[g] = n_changed
        inertia[g] = g_inertia
        x_sqnorm[g] = largest


@numba.njit(nogil=True, cache=True)
def _sparse_pass(
    data, indices, indptr, w, weighted, centers, c_sqnorm, bounds, g_start,
    g_stop, labels, sums, wsums, counts, changed, inertia, want_inertia,
):  # fmt: skip
    n_clusters = centers.shape[0]
    for g in range(g_start, g_stop):
        sums[g] = 0.0
        wsums[g] = 0.0
        counts[g] = 0
        n_changed = 0
        g_inertia = 0.0
        for i in range(bounds[g], bounds[g + 1]):
            best = 0
            best_dist = np.inf
            for j in range(n_clusters):
                dot = 0.0
                for p in range(indptr[i], indptr[i + 1]):
                    dot += data[p] * centers[j, indices[p]]
                dist = c_sqnorm[j] - 2.0 * dot
                if dist < best_dist:
                    best_dist = dist
                    best = j
            if labels[i] != best:
                n_changed += 1
                labels[i] = best
            wi = w[i] if weighted else 1.0
            wsums[g, 0, best] += wi
            counts[g, best] += wi > 0
            for p in range(indptr[i], indptr[i + 1]):
                sums[g, 0, best, indices[p]] += data[p] * wi
            if want_inertia:
                # ||x - c||^2 = ||c||^2 + sum over nonzeros of (x_f - c_f)^2 - c_f^2
                sq = c_sqnorm[best]
                for p in range(indptr[i], indptr[i + 1]):
                    c = centers[best, indices[p]]
                    diff = data[p] - c
                    sq += diff * diff - c * c
                g_inertia += max(sq, 0.0) * wi
        changed[g] = n_changed
        inertia[g] = g_inertia


@numba.njit(nogil=True, cache=True)
def _dense_inertia(X, x_offset, w, weighted, centers, labels, bounds, g_start, g_stop,
                   out):  # fmt: skip
    for g in range(g_start, g_stop):
        out[g] = _chunk_inertia(
            X, x_offset, w, weighted, centers, labels, bounds[g],
            bounds[g + 1] - bounds[g],
        )  # fmt: skip


@numba.njit(nogil=True, cache=True)
def _reduce(sums, wsums, counts, out_sums, out_wsums, out_counts):
    """Add the partial sums in (group, lane) order: a fixed order."""
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
def _reduce_and_add(sums, wsums, counts, delta_sums, delta_wsums, delta_counts,
                    out_sums, out_wsums, out_counts):  # fmt: skip
    """``out += `` the partial sums reduced in ``_reduce``'s order."""
    _reduce(sums, wsums, counts, delta_sums, delta_wsums, delta_counts)
    out_sums += delta_sums
    out_wsums += delta_wsums
    out_counts += delta_counts


@numba.njit(nogil=True, cache=True)
def _copy_totals(sums, weights, counts, out_sums, out_weights):
    """Copy the running totals; a cluster with no member of positive weight
    gets exactly 0.  Returns whether some cluster has zero weight."""
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
def _average_in_place(sums, weights):
    """``sums[j] *= 1 / weights[j]`` (scikit-learn's rounding); a cluster of
    zero weight takes the centre of the heaviest (the first, on ties)."""
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
def _center_shifts(old, new, out):
    """Euclidean shift of each centre in the centres' dtype, summed four
    features at a time as scikit-learn's ``_euclidean_dense_dense`` does, so
    that the tolerance test sees the same number."""
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
def _add_gap_drops(old, new, gap_drop):
    """gap_drop[j] += shift[j] + (largest shift of another centre), shifts in
    float64 inflated a hair to cover their own rounding."""
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


# --------------------------------------------------------------------------
# Python side


def _group_bounds(n_samples, n_clusters, n_features, n_lanes):
    """Start offsets of the groups: a function of the problem's shape only."""
    per_group = 8 * n_lanes * n_clusters * (n_features + 1)
    cap = max(1, min(_MAX_GROUPS, _MAX_PARTIAL_BYTES // per_group))
    rows = max(_MIN_GROUP_ROWS, -(-n_samples // cap))
    return np.arange(0, n_samples + rows, rows).clip(max=n_samples)


class _Pass:
    """Buffers and state of the passes of one run over one ``X``.

    Allocated once per run, so the iterations allocate nothing per sample.
    ``sums``, ``weights`` and ``counts`` (members of positive weight) are the
    running totals per cluster of the current labels.
    """

    def __init__(self, X, sample_weight, n_clusters, x_offset, n_threads, bounds):
        self.X = X
        self.sparse = sp.issparse(X)
        n_samples, n_features = X.shape
        self.weighted = sample_weight is not None
        self.w = (
            np.ones(1, dtype=X.dtype)
            if sample_weight is None
            else np.ascontiguousarray(sample_weight, dtype=X.dtype)
        )
        if x_offset is None or self.sparse:
            x_offset = np.zeros(n_features, dtype=X.dtype)
        self.x_offset = np.ascontiguousarray(x_offset, dtype=X.dtype)
        self.use_gemm = not self.sparse and n_features > _DIRECT_MAX_FEATURES
        lanes = (
            _N_LANES
            if not self.sparse and n_clusters * n_features <= _LANES_MAX_KD
            else 1
        )
        self.bounds = _group_bounds(n_samples, n_clusters, n_features, lanes)
        n_groups = len(self.bounds) - 1
        self.part_sums = np.zeros((n_groups, lanes, n_clusters, n_features))
        self.part_wsums = np.zeros((n_groups, lanes, n_clusters))
        self.part_counts = np.zeros((n_groups, n_clusters), dtype=np.int64)
        self.changed = np.zeros(n_groups, dtype=np.int64)
        self.inertia = np.zeros(n_groups)
        self.x_sqnorm = np.zeros(n_groups)
        self.sums = np.zeros((n_clusters, n_features))
        self.weights = np.zeros(n_clusters)
        self.counts = np.zeros(n_clusters, dtype=np.int64)
        self._delta = (np.zeros_like(self.sums), np.zeros_like(self.weights),
                       np.zeros_like(self.counts))  # fmt: skip
        self.use_bounds = (
            bounds
            and _USE_BOUNDS
            and not self.sparse
            and n_clusters > 1
            and n_clusters * n_features >= _BOUNDS_MIN_KD
        )
        self.slack = np.zeros(n_samples if self.use_bounds else 1, dtype=np.uint16)
        self.slack_valid = False
        self.gap_drop = np.zeros(n_clusters)
        self.x_norm_max = None
        self.c_norm_max = 0.0
        self.n_full = 0
        self.passes_since_full = 0
        # sqrt of the rounding error of a squared distance, per unit of
        # (||x|| + max ||c||)^2, with a factor 2 to spare
        eps = float(np.finfo(X.dtype).eps)
        self.noise_coef = 2.0 * math.sqrt((n_features + 3) * eps)
        work = (
            n_samples
            * n_clusters
            * max(1, X.nnz // max(n_samples, 1) if self.sparse else n_features)
        )
        self.n_threads = max(1, min(n_threads, n_groups, work // _MIN_WORK_PER_THREAD))

    def blas_limit(self):
        return _blas_single_thread(self.use_gemm)

    def _run(self, kernel, *args):
        n_groups = len(self.bounds) - 1
        if self.n_threads <= 1:
            kernel(*args[0], 0, n_groups, *args[1])
            return
        cuts = np.linspace(0, n_groups, self.n_threads + 1).astype(int)
        pool = _thread_pool(self.n_threads)
        futures = [
            pool.submit(kernel, *args[0], cuts[t], cuts[t + 1], *args[1])
            for t in range(self.n_threads)
        ]
        for future in futures:
            future.result()

    def assign(self, centers, labels, *, want_inertia=False, full=True):
        """One pass: new labels (in place) and the cluster totals; returns n_changed.

        A full pass recomputes ``sums``, ``weights`` and ``counts`` from
        every row; otherwise only the samples that change cluster update
        them.  Rows whose gap bound holds are skipped; ``moved(old, new)``
        must have recorded every change of the centres since the last pass.
        """
        X = self.X
        c_sqnorm = np.einsum("ij,ij->i", centers, centers)
        parts = (self.part_sums, self.part_wsums, self.part_counts, self.changed,
                 self.inertia, want_inertia)  # fmt: skip
        if self.sparse:
            full = True
            self._run(
                _sparse_pass,
                (X.data, X.indices, X.indptr, self.w, self.weighted, centers,
                 c_sqnorm, self.bounds),
                (labels, *parts),
            )  # fmt: skip
        else:
            use_slack = self.use_bounds and self.slack_valid
            c_norm = math.sqrt(float(c_sqnorm.max(initial=0.0)))
            self.c_norm_max = max(self.c_norm_max, c_norm)
            threshold = 0.0
            if use_slack:
                # A stored gap is off by at most 2 noise, and a gap must
                # exceed about 1.5 noise for the computed argmin to be right.
                noise = self.noise_coef * (self.x_norm_max + self.c_norm_max)
                threshold = 4.0 * noise
            self._run(
                _dense_pass,
                (X, self.x_offset, self.w, self.weighted, -2 * centers, c_sqnorm,
                 self.use_gemm, self.bounds),
                (labels, *parts, centers, full, self.slack, use_slack,
                 self.use_bounds, self.gap_drop, threshold, self.x_sqnorm,
                 _GEMM_CHUNK if self.use_gemm else _CHUNK),
            )  # fmt: skip
            self.slack_valid = self.use_bounds
            self.gap_drop[:] = 0.0
        if full:
            _reduce(*parts[:3], self.sums, self.weights, self.counts)
            self.passes_since_full = 0
        else:
            _reduce_and_add(*parts[:3], *self._delta, self.sums, self.weights,
                            self.counts)  # fmt: skip
            self.passes_since_full += 1
        if self.use_bounds and self.x_norm_max is None:
            # the first pass computes every row: the largest ||x||, for the
            # rounding noise of every later pass
            self.x_norm_max = float(np.sqrt(self.x_sqnorm.max()))
        return int(self.changed.sum())

    def moved(self, old, new):
        """Record that the centres moved from ``old`` to ``new``.

        Each sample's gap shrinks by at most the shift of its own centre plus
        the largest shift of another.
        """
        if self.use_bounds:
            _add_gap_drops(old, new, self.gap_drop)

    def totals(self):
        """Copies of the weighted sums (float64) and weights per cluster, and
        whether a cluster has zero weight.

        A cluster without a member of positive weight gets exactly 0, what
        summing from scratch gives, whatever rounding the running totals
        carry.
        """
        sums, weights = np.empty_like(self.sums), np.empty_like(self.weights)
        any_empty = _copy_totals(self.sums, self.weights, self.counts, sums, weights)
        return sums, weights, bool(any_empty)

    def inertia_of(self, centers, labels):
        """Weighted inertia of ``labels`` against ``centers``."""
        if self.sparse:
            self.assign(centers, labels.copy(), want_inertia=True)
            return float(self.inertia.sum())
        self._run(
            _dense_inertia,
            (self.X, self.x_offset, self.w, self.weighted, centers, labels,
             self.bounds),
            (self.inertia,),
        )  # fmt: skip
        return float(self.inertia.sum())


def lloyd_pass(
    X,
    sample_weight,
    centers,
    labels,
    *,
    update_centers=True,
    want_inertia=False,
    n_threads=1,
    x_offset=None,
):
    """Assign every sample to its nearest centre and accumulate cluster sums.

    Parameters
    ----------
    X : {ndarray, csr_matrix} of shape (n_samples, n_features)
        C-contiguous float32/float64 data (CSR with int32 indices if sparse).
    sample_weight : ndarray of shape (n_samples,) or None
        Weights, same dtype as ``X``; None means all ones.
    centers : ndarray of shape (n_clusters, n_features)
        Current centres, same dtype as ``X``.
    labels : ndarray of shape (n_samples,), dtype=int32
        Updated in place with the index of the nearest centre.
    update_centers : bool, default=True
        Whether to return the weighted sums and weights per cluster.
    want_inertia : bool, default=False
        Whether to compute the weighted inertia against ``centers``.
    n_threads : int, default=1
        Upper bound on the threads used; small passes run on one thread.
    x_offset : ndarray of shape (n_features,), default=None
        Dense ``X`` is used as ``X - x_offset`` (centring without a copy).

    Returns
    -------
    sums : ndarray of shape (n_clusters, n_features) or None
        Weighted sum of the samples of each cluster.
    weight_in_clusters : ndarray of shape (n_clusters,) or None
        Total weight of each cluster.
    n_changed : int
        Number of samples whose label changed.
    inertia : float or None
        Weighted sum of squared distances to the assigned centres.
    """
    centers = np.ascontiguousarray(centers, dtype=X.dtype)
    run = _Pass(X, sample_weight, centers.shape[0], x_offset, n_threads, False)
    with run.blas_limit():
        n_changed = run.assign(centers, labels, want_inertia=want_inertia)
    total_inertia = float(run.inertia.sum()) if want_inertia else None
    if not update_centers:
        return None, None, n_changed, total_inertia
    sums, weights = run.sums, run.weights
    return sums.astype(X.dtype), weights.astype(X.dtype), n_changed, total_inertia


def centring_offset(mean, spread):
    """``mean`` rounded to a multiple of the largest power of two not above
    ``spread``, per feature (``mean`` itself where the spread is 0).

    Centring on it is as accurate as centring on the mean (it is off by less
    than the spread), and it keeps integer-valued data on a coarse binary
    grid: their centred values, and the squared distances and dot products
    with integer centres, are exact, whatever the order of the additions.  An
    exact tie then stays an exact tie in every kernel, and the lowest centre
    index wins it, as in ``argmin``.
    """
    mean = np.asarray(mean, dtype=np.float64)
    spread = np.asarray(spread, dtype=np.float64)
    coarse = (spread > 0) & np.isfinite(spread) & np.isfinite(mean)
    step = np.frexp(np.where(coarse, spread, 1.0))[1] - 1  # 2**step <= spread
    rounded = np.ldexp(np.round(np.ldexp(mean, -step)), step)
    return np.where(coarse, rounded, mean)


def prediction_offset(centers):
    """The offset ``predict``, ``score`` and the end of ``fit`` centre dense
    data on: a function of the centres alone, near the data as fit's mean is
    (centres far from the origin would otherwise lose the distances in the
    rounding of ||c||^2 - 2<x, c>)."""
    centers64 = centers.astype(np.float64)
    return centring_offset(centers64.mean(axis=0), centers64.std(axis=0)).astype(
        centers.dtype
    )


def assign_labels(
    X, centers, *, n_threads=1, sample_weight=None, want_inertia=False, x_offset=None
):
    """Nearest-centre labels (int32) and, optionally, the weighted inertia.

    Dense ``X`` is used as ``X - x_offset`` and ``centers`` are in those
    coordinates; without ``x_offset``, both are centred on
    ``prediction_offset(centers)`` (on the fly, ``X`` is not copied).
    """
    if x_offset is None and not sp.issparse(X):
        x_offset = prediction_offset(centers)
        centers = centers - x_offset
    labels = np.full(X.shape[0], -1, dtype=np.int32)
    _, _, _, inertia = lloyd_pass(
        X,
        sample_weight,
        centers,
        labels,
        update_centers=False,
        want_inertia=want_inertia,
        n_threads=n_threads,
        x_offset=x_offset,
    )
    return labels, inertia


@numba.njit(nogil=True, cache=True)
def _column_sums(X, out):
    out[:] = 0.0
    for i in range(X.shape[0]):
        for f in range(X.shape[1]):
            out[f] += X[i, f]


@numba.njit(nogil=True, cache=True)
def _column_squares(X, mean, out):
    out[:] = 0.0
    for i in range(X.shape[0]):
        for f in range(X.shape[1]):
            diff = float(X[i, f]) - mean[f]
            out[f] += diff * diff


def column_means(X):
    """Mean of each column of dense ``X``, accumulated in float64.

    One compiled pass: numpy's ``X.mean(axis=0)`` is several times slower on
    arrays of few columns.
    """
    out = np.empty(X.shape[1])
    _column_sums(X, out)
    return out / X.shape[0]


def column_variances(X):
    """Variance of each column of dense ``X``, in float64, without a copy of X."""
    out = np.empty(X.shape[1])
    _column_squares(X, column_means(X), out)
    return out / X.shape[0]


@numba.njit(nogil=True, cache=True)
def _count_distinct(labels, present):
    for i in range(len(labels)):
        present[labels[i]] = True
    return np.count_nonzero(present)


def count_distinct_labels(labels, n_clusters):
    """Number of distinct values in ``labels`` (no copy of them, unlike
    ``np.unique`` or ``np.bincount``)."""
    return int(_count_distinct(labels, np.zeros(n_clusters, dtype=np.bool_)))


@numba.njit(nogil=True, cache=True)
def _dense_distances(X, centers, out):
    for i in range(X.shape[0]):
        for j in range(centers.shape[0]):
            sq = 0.0
            for f in range(X.shape[1]):
                diff = X[i, f] - centers[j, f]
                sq += diff * diff
            out[i, j] = np.sqrt(sq)


def distances_to_centers(X, centers):
    """Euclidean distance of every sample to every centre, shape (n, k).

    Computed from the differences, not from the expanded ``||x||^2 - 2<x, c>
    + ||c||^2``, so a sample sitting on a centre gets exactly 0 instead of
    the square root of a rounding error.
    """
    out = np.empty((X.shape[0], centers.shape[0]), dtype=X.dtype)
    if sp.issparse(X):
        return euclidean_distances(X, centers).astype(X.dtype, copy=False)
    _dense_distances(X, centers, out)
    return out


@numba.njit(nogil=True, cache=True)
def _dense_distances_to_assigned(X, x_offset, centers, labels, out):
    for i in range(X.shape[0]):
        a = labels[i]
        sq = 0.0
        for f in range(X.shape[1]):
            diff = (X[i, f] - x_offset[f]) - centers[a, f]
            sq += diff * diff
        out[i] = sq


@numba.njit(nogil=True, cache=True)
def _sparse_distances_to_assigned(data, indices, indptr, centers, labels, out):
    """||x_i - c||^2 = ||c||^2 + sum over the non-zeros of (x_f - c_f)^2 - c_f^2:
    O(nnz + n_clusters * n_features), X is never densified."""
    n_clusters, n_features = centers.shape
    c_sqnorm = np.zeros(n_clusters)
    for j in range(n_clusters):
        for f in range(n_features):
            c_sqnorm[j] += float(centers[j, f]) * float(centers[j, f])
    for i in range(len(indptr) - 1):
        a = labels[i]
        sq = c_sqnorm[a]
        for p in range(indptr[i], indptr[i + 1]):
            c = float(centers[a, indices[p]])
            diff = float(data[p]) - c
            sq += diff * diff - c * c
        out[i] = max(sq, 0.0)


def _squared_distances_to_assigned(X, centers, labels, x_offset):
    """Unweighted ||x_i - c_{labels_i}||^2 for every sample."""
    out = np.empty(X.shape[0])
    if sp.issparse(X):
        _sparse_distances_to_assigned(X.data, X.indices, X.indptr, centers, labels,
                                      out)  # fmt: skip
        return out
    if x_offset is None:
        x_offset = np.zeros(X.shape[1], dtype=X.dtype)
    _dense_distances_to_assigned(X, x_offset, centers, labels, out)
    return out


def relocate_empty_clusters(
    X, sample_weight, centers_old, sums, weights, labels, x_offset=None
):
    """Give each empty cluster the sample farthest from its centre (in place).

    A cluster is empty when its total weight is 0, members of zero weight
    included.  The j-th empty cluster takes the j-th farthest sample of
    positive weight (unweighted distance to its assigned old centre), which
    leaves its old cluster, as scikit-learn does; scikit-learn also moves
    zero-weight samples, which leaves the cluster empty.  Nothing moves when
    every sample sits on its centre.  ``sample_weight`` None means ones.
    """
    empty = np.flatnonzero(weights == 0)
    if empty.size == 0:
        return
    distances = _squared_distances_to_assigned(X, centers_old, labels, x_offset)
    if sample_weight is not None:
        # a sample of zero weight cannot make a cluster non-empty
        distances[np.asarray(sample_weight) == 0] = -1.0
    if distances.max() <= 0:
        return
    n_empty = min(empty.size, X.shape[0])
    far = np.argpartition(distances, -n_empty)[: -n_empty - 1 : -1]
    far = far[distances[far] >= 0]  # fewer positive weights than empty clusters
    for new_id, idx in zip(empty[: far.size], far, strict=True):
        old_id = labels[idx]
        if sp.issparse(X):
            row = X[idx].toarray().ravel()
        else:
            row = X[idx] if x_offset is None else X[idx] - x_offset
        weight = 1.0 if sample_weight is None else sample_weight[idx]
        sums[old_id] -= row * weight
        sums[new_id] = row * weight
        weights[new_id] = weight
        weights[old_id] -= weight


def average_centers(sums, weights):
    """Divide sums by weights (in place); a still-empty cluster takes the
    heaviest one's centre."""
    _average_in_place(sums, weights)
    return sums


def center_shifts(old, new):
    """Euclidean distance between each old and new centre, as scikit-learn
    computes it for its tolerance test."""
    out = np.empty(old.shape[0], dtype=old.dtype)
    _center_shifts(old, new, out)
    return out


def unscaled_inertia(inertia, weight_exponent, stacklevel):
    """The inertia of weights scaled by ``2**-weight_exponent``, scaled back.

    Where the true value lies beyond the float range the result is ``inf``,
    with a warning; the centres and labels do not depend on the scale.
    """
    try:
        return math.ldexp(float(inertia), weight_exponent)
    except OverflowError:
        warnings.warn(
            "The weighted inertia exceeds the largest float (the sample_weight "
            "are too large for it): it is reported as inf.  The centres and "
            "labels do not depend on the scale of sample_weight; divide the "
            "weights by a constant for a finite inertia.",
            RuntimeWarning,
            stacklevel=stacklevel,
        )
        return math.inf


def has_converged(i, n_changed, centers_old, centers_new, tol, verbose):
    """scikit-learn's stopping rules after iteration ``i``.

    Strict convergence (no label changed), else the squared centre shift
    within ``tol``; prints the verbose line of the rule that stops.
    """
    if n_changed == 0:
        if verbose:
            print(f"Converged at iteration {i}: strict convergence.")
        return True
    center_shift_tot = (center_shifts(centers_old, centers_new) ** 2).sum()
    if center_shift_tot <= tol:
        if verbose:
            print(
                f"Converged at iteration {i}: center shift "
                f"{center_shift_tot} within tolerance {tol}."
            )
        return True
    return False


def lloyd_single_run(
    X,
    sample_weight,
    centers_init,
    *,
    max_iter,
    tol,
    verbose,
    n_threads,
    x_offset=None,
    final_pass=True,
):
    """One run of Lloyd's algorithm from ``centers_init``.

    Same iterates and stopping rules as scikit-learn's
    ``_kmeans_single_lloyd``: stop on strict convergence (no label changed),
    else when the squared centre shift is within ``tol``, else after
    ``max_iter`` passes.  The labels are then recomputed against the final
    centres so that they equal ``predict(X)`` (scikit-learn skips this after
    strict convergence, where an empty cluster that took another's centre
    can leave them stale).

    ``sample_weight`` None means unit weights (a faster pass).  Dense ``X`` is
    used as ``X - x_offset``; ``centers_init`` and the returned centres are in
    those centred coordinates.  Without ``final_pass`` (for a caller that
    recomputes them) the labels are those of the last iteration and the
    inertia is None.

    Returns
    -------
    labels : ndarray of shape (n_samples,), dtype=int32
    inertia : float
    centers : ndarray of shape (n_clusters, n_features)
    n_iter : int
    """
    centers = np.array(centers_init, dtype=X.dtype, order="C", copy=True)
    labels = np.full(X.shape[0], -1, dtype=np.int32)
    run = _Pass(X, sample_weight, centers.shape[0], x_offset, n_threads, True)
    full = True
    with run.blas_limit():
        for i in range(max_iter):
            n_changed = run.assign(
                centers, labels, want_inertia=bool(verbose), full=full
            )
            sums, weights, any_empty = run.totals()
            if verbose:
                inertia = float(run.inertia.sum())
            # Running totals are refreshed from scratch now and then, so that
            # their rounding cannot build up over a long run.
            full = run.passes_since_full + 1 >= _REFRESH_EVERY
            if any_empty:
                relocate_empty_clusters(
                    X, sample_weight, centers, sums, weights, labels, run.x_offset
                )
                full = True  # the moved samples keep their labels
            centers_new = average_centers(sums, weights).astype(X.dtype, copy=False)
            if verbose:
                print(f"Iteration {i}, inertia {inertia}.")
            # labels start at -1, so the first pass always changes every label
            run.moved(centers, centers_new)
            done = has_converged(i, n_changed, centers, centers_new, tol, verbose)
            centers = centers_new
            if done:
                break

        # Re-run the E-step so that labels_ == predict(X).  After strict
        # convergence the centres are the previous ones (same labels, same
        # sums), unless an empty cluster took another's centre; the bounds
        # then skip every sample whose label cannot change: a cheap pass.
        inertia = None
        if final_pass:
            run.assign(centers, labels, full=False)
            inertia = run.inertia_of(centers, labels)
    return labels, inertia, centers, i + 1
