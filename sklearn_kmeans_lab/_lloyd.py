"""Lloyd's algorithm: the numeric kernels and the iteration of one run.

The estimator in ``_kmeans.py`` orchestrates; everything that touches every
sample lives here.  One *pass* over the data does the E-step (nearest centre)
and the M-step accumulation (weighted sums per cluster) at once, block by
block, so no ``n_samples x n_clusters`` matrix is ever formed.

Determinism: the rows are cut into blocks whose size depends only on
``n_samples``; each block accumulates into its own partial buffer and the
partials are reduced in block order.  Threads only decide *who* computes a
block, never the order of the floating-point additions, so the result is
bit-for-bit the same for any thread count.
"""

import os
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
import scipy.sparse as sp
from sklearn.metrics import euclidean_distances
from threadpoolctl import ThreadpoolController

# Rows handed to one BLAS call in the GEMM kernel: the (rows x n_clusters)
# distance buffer stays in L1/L2 cache (scikit-learn uses the same size).
_GEMM_ROWS = 256
# Below this many features a direct loop beats a thin GEMM: the BLAS call
# overhead and the distance buffer round trip dominate.
_DIRECT_MAX_FEATURES = 16
# Blocks are at least this many rows, and there are at most _MAX_BLOCKS of
# them, which bounds the partial-sum buffers to _MAX_BLOCKS * k * d values.
_MIN_BLOCK_ROWS = 4096
_MAX_BLOCKS = 64
# A pass is spread over threads only when it has at least this many
# multiply-adds: below it, thread hand-off costs more than it saves.
_MIN_WORK_PER_THREAD = 4_000_000

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


def _blas_single_thread():
    """Context manager holding BLAS at one thread (threads come from blocks)."""
    global _blas_controller
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


def _block_bounds(n_samples):
    """Start offsets of the blocks; a function of ``n_samples`` only."""
    rows = max(_MIN_BLOCK_ROWS, -(-n_samples // _MAX_BLOCKS))
    return np.arange(0, n_samples + rows, rows).clip(max=n_samples)


# --------------------------------------------------------------------------
# numba kernels.  Each processes blocks [b_start, b_stop) and writes block b's
# partial sums into sums[b], weights[b], changed[b] and inertia[b].
# The distance used for the argmin is ||c||^2 - 2 <x, c> (||x||^2 is the same
# for every centre), as scikit-learn does, so near-ties break the same way.


@numba.njit(nogil=True, cache=True)
def _dense_direct_blocks(
    X, w, centers, c_sqnorm, bounds, b_start, b_stop, labels, sums, weights,
    changed, inertia, update_centers, want_inertia,
):  # fmt: skip
    n_clusters, n_features = centers.shape
    for b in range(b_start, b_stop):
        n_changed = 0
        block_inertia = 0.0
        for i in range(bounds[b], bounds[b + 1]):
            best = 0
            best_dist = np.inf
            for j in range(n_clusters):
                dot = 0.0
                for f in range(n_features):
                    dot += X[i, f] * centers[j, f]
                dist = c_sqnorm[j] - 2.0 * dot
                if dist < best_dist:
                    best_dist = dist
                    best = j
            if labels[i] != best:
                n_changed += 1
                labels[i] = best
            if update_centers:
                wi = w[i]
                weights[b, best] += wi
                for f in range(n_features):
                    sums[b, best, f] += X[i, f] * wi
            if want_inertia:
                sq = 0.0
                for f in range(n_features):
                    diff = X[i, f] - centers[best, f]
                    sq += diff * diff
                block_inertia += sq * w[i]
        changed[b] = n_changed
        inertia[b] = block_inertia


@numba.njit(nogil=True, cache=True)
def _dense_gemm_blocks(
    X, w, centers, c_sqnorm, bounds, b_start, b_stop, labels, sums, weights,
    changed, inertia, update_centers, want_inertia,
):  # fmt: skip
    n_clusters, n_features = centers.shape
    centers_t = np.ascontiguousarray(centers.T)
    buffer = np.empty((_GEMM_ROWS, n_clusters), dtype=X.dtype)
    for b in range(b_start, b_stop):
        n_changed = 0
        block_inertia = 0.0
        for start in range(bounds[b], bounds[b + 1], _GEMM_ROWS):
            stop = min(start + _GEMM_ROWS, bounds[b + 1])
            rows = stop - start
            dots = buffer[:rows]
            np.dot(X[start:stop], centers_t, dots)
            for r in range(rows):
                i = start + r
                best = 0
                best_dist = np.inf
                for j in range(n_clusters):
                    dist = c_sqnorm[j] - 2.0 * dots[r, j]
                    if dist < best_dist:
                        best_dist = dist
                        best = j
                if labels[i] != best:
                    n_changed += 1
                    labels[i] = best
                if update_centers:
                    wi = w[i]
                    weights[b, best] += wi
                    for f in range(n_features):
                        sums[b, best, f] += X[i, f] * wi
                if want_inertia:
                    sq = 0.0
                    for f in range(n_features):
                        diff = X[i, f] - centers[best, f]
                        sq += diff * diff
                    block_inertia += sq * w[i]
        changed[b] = n_changed
        inertia[b] = block_inertia


@numba.njit(nogil=True, cache=True)
def _sparse_blocks(
    data, indices, indptr, w, centers, c_sqnorm, bounds, b_start, b_stop, labels,
    sums, weights, changed, inertia, update_centers, want_inertia,
):  # fmt: skip
    n_clusters = centers.shape[0]
    for b in range(b_start, b_stop):
        n_changed = 0
        block_inertia = 0.0
        for i in range(bounds[b], bounds[b + 1]):
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
            if update_centers:
                wi = w[i]
                weights[b, best] += wi
                for p in range(indptr[i], indptr[i + 1]):
                    sums[b, best, indices[p]] += data[p] * wi
            if want_inertia:
                # ||x - c||^2 = ||c||^2 + sum over nonzeros of (x_f - c_f)^2 - c_f^2
                sq = c_sqnorm[best]
                for p in range(indptr[i], indptr[i + 1]):
                    c = centers[best, indices[p]]
                    diff = data[p] - c
                    sq += diff * diff - c * c
                block_inertia += max(sq, 0.0) * w[i]
        changed[b] = n_changed
        inertia[b] = block_inertia


def lloyd_pass(
    X,
    sample_weight,
    centers,
    labels,
    *,
    update_centers=True,
    want_inertia=False,
    n_threads=1,
):
    """Assign every sample to its nearest centre and accumulate cluster sums.

    Parameters
    ----------
    X : {ndarray, csr_matrix} of shape (n_samples, n_features)
        C-contiguous float32/float64 data (CSR with int32 indices if sparse).
    sample_weight : ndarray of shape (n_samples,)
        Weights, same dtype as ``X``.
    centers : ndarray of shape (n_clusters, n_features)
        Current centres, same dtype as ``X``.
    labels : ndarray of shape (n_samples,), dtype=int32
        Updated in place with the index of the nearest centre.
    update_centers : bool, default=True
        Whether to accumulate the weighted sums and weights per cluster.
    want_inertia : bool, default=False
        Whether to compute the weighted inertia against ``centers``.
    n_threads : int, default=1
        Upper bound on the threads used; small passes run on one thread.

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
    n_samples, n_features = X.shape
    n_clusters = centers.shape[0]
    dtype = X.dtype
    bounds = _block_bounds(n_samples)
    n_blocks = len(bounds) - 1
    acc_shape = (n_blocks, n_clusters, n_features) if update_centers else (1, 1, 1)
    sums = np.zeros(acc_shape, dtype=dtype)
    weights = np.zeros(acc_shape[:2], dtype=dtype)
    changed = np.zeros(n_blocks, dtype=np.int64)
    inertia = np.zeros(n_blocks, dtype=dtype)
    c_sqnorm = np.einsum("ij,ij->i", centers, centers)

    if sp.issparse(X):
        kernel = _sparse_blocks
        args = (X.data, X.indices, X.indptr)
        work_per_row = max(1, X.nnz // max(n_samples, 1)) * n_clusters
    elif n_features <= _DIRECT_MAX_FEATURES:
        kernel, args = _dense_direct_blocks, (X,)
        work_per_row = n_features * n_clusters
    else:
        kernel, args = _dense_gemm_blocks, (X,)
        work_per_row = n_features * n_clusters

    def run(b_start, b_stop):
        kernel(
            *args, sample_weight, centers, c_sqnorm, bounds, b_start, b_stop,
            labels, sums, weights, changed, inertia, update_centers, want_inertia,
        )  # fmt: skip

    n_threads = min(
        n_threads, n_blocks, max(1, n_samples * work_per_row // _MIN_WORK_PER_THREAD)
    )
    with _blas_single_thread():
        if n_threads <= 1:
            run(0, n_blocks)
        else:
            cuts = np.linspace(0, n_blocks, n_threads + 1).astype(int)
            futures = [
                _thread_pool(n_threads).submit(run, cuts[t], cuts[t + 1])
                for t in range(n_threads)
            ]
            for future in futures:
                future.result()

    total_inertia = float(inertia.sum()) if want_inertia else None
    if not update_centers:
        return None, None, int(changed.sum()), total_inertia
    return sums.sum(axis=0), weights.sum(axis=0), int(changed.sum()), total_inertia


def assign_labels(X, centers, *, n_threads=1, sample_weight=None, want_inertia=False):
    """Nearest-centre labels (int32) and, optionally, the weighted inertia."""
    if sample_weight is None:
        sample_weight = np.ones(X.shape[0], dtype=X.dtype)
    labels = np.full(X.shape[0], -1, dtype=np.int32)
    _, _, _, inertia = lloyd_pass(
        X,
        sample_weight,
        centers,
        labels,
        update_centers=False,
        want_inertia=want_inertia,
        n_threads=n_threads,
    )
    return labels, inertia


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


def _squared_distances_to_assigned(X, centers, labels):
    """Unweighted ||x_i - c_{labels_i}||^2 for every sample."""
    if sp.issparse(X):
        diff = X - sp.csr_matrix(centers[labels])
        return np.asarray(diff.multiply(diff).sum(axis=1)).ravel()
    return ((X - centers[labels]) ** 2).sum(axis=1)


def relocate_empty_clusters(X, sample_weight, centers_old, sums, weights, labels):
    """Give each empty cluster the sample farthest from its centre (in place).

    A cluster is empty when its total weight is 0.  The j-th empty cluster
    takes the j-th farthest sample (unweighted distance to its assigned old
    centre), which leaves its old cluster, as scikit-learn does.  Nothing moves
    when every sample sits on its centre.
    """
    empty = np.flatnonzero(weights == 0)
    if empty.size == 0:
        return
    distances = _squared_distances_to_assigned(X, centers_old, labels)
    if distances.max() == 0:
        return
    n_empty = empty.size
    far = np.argpartition(distances, -n_empty)[: -n_empty - 1 : -1]
    for new_id, idx in zip(empty, far, strict=True):
        old_id = labels[idx]
        row = X[idx].toarray().ravel() if sp.issparse(X) else X[idx]
        weight = sample_weight[idx]
        sums[old_id] -= row * weight
        sums[new_id] = row * weight
        weights[new_id] = weight
        weights[old_id] -= weight


def average_centers(sums, weights):
    """Divide sums by weights; a still-empty cluster takes the heaviest one's centre."""
    centers = sums
    nonempty = weights > 0
    centers[nonempty] *= (1.0 / weights[nonempty])[:, None]
    if not nonempty.all():
        centers[~nonempty] = centers[np.argmax(weights)]
    return centers


def lloyd_single_run(
    X, sample_weight, centers_init, *, max_iter, tol, verbose, n_threads
):
    """One run of Lloyd's algorithm from ``centers_init``.

    Same iterates and stopping rules as scikit-learn's
    ``_kmeans_single_lloyd``: stop on strict convergence (no label changed),
    else when the squared centre shift is within ``tol``, else after
    ``max_iter`` passes; unless strictly converged, the labels are recomputed
    against the final centres so that they equal ``predict(X)``.

    Returns
    -------
    labels : ndarray of shape (n_samples,), dtype=int32
    inertia : float
    centers : ndarray of shape (n_clusters, n_features)
    n_iter : int
    """
    centers = np.array(centers_init, dtype=X.dtype, order="C", copy=True)
    labels = np.full(X.shape[0], -1, dtype=np.int32)
    for i in range(max_iter):
        sums, weights, n_changed, inertia = lloyd_pass(
            X,
            sample_weight,
            centers,
            labels,
            want_inertia=bool(verbose),
            n_threads=n_threads,
        )
        relocate_empty_clusters(X, sample_weight, centers, sums, weights, labels)
        centers_new = average_centers(sums, weights)
        if verbose:
            print(f"Iteration {i}, inertia {inertia}.")
        # labels start at -1, so the first pass always changes every label
        if n_changed == 0:
            centers = centers_new
            if verbose:
                print(f"Converged at iteration {i}: strict convergence.")
            break
        shift = np.sqrt(((centers_new - centers) ** 2).sum(axis=1))
        centers = centers_new
        center_shift_tot = (shift**2).sum()
        if center_shift_tot <= tol:
            if verbose:
                print(
                    f"Converged at iteration {i}: center shift "
                    f"{center_shift_tot} within tolerance {tol}."
                )
            break

    # Unless strictly converged, re-run the E-step so labels_ == predict(X).
    # After strict convergence the centres equal the previous ones bit for bit
    # (same labels, same blocked sums), so this pass only computes the inertia.
    _, _, _, inertia = lloyd_pass(
        X,
        sample_weight,
        centers,
        labels,
        update_centers=False,
        want_inertia=True,
        n_threads=n_threads,
    )
    return labels, inertia, centers, i + 1
