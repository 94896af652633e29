"""Nearest-centre assignment outside a run, and where dense data is centred.

``predict``, ``score``, ``transform``'s labels, the end of ``fit`` and the
Dask blocks assign samples to fixed centres with one pass of a
``LloydRun`` (``lloyd_pass``); ``centring_offset`` and
``prediction_offset`` say on which point dense data is centred (on the fly,
never copied), so that distances stay accurate far from the origin and exact
ties stay exact.
"""

import numpy as np
import scipy.sparse as sp

from sklearn_kmeans_lab._lloyd_run import LloydRun


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
    run = LloydRun(X, sample_weight, centers.shape[0], x_offset, n_threads, False)
    with run.blas_limit():
        n_changed = run.assign(centers, labels, want_inertia=want_inertia)
    total_inertia = float(run.partials.inertia.sum()) if want_inertia else None
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
