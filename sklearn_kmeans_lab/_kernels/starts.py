"""The starts of a fit in two compiled calls: all seeds, then all runs.

A fit of ``n_init`` starts seeds each start, runs Lloyd's iterations from
each and keeps the best run; on small data the Python round trips between
these steps cost more than the steps.  ``seed_starts`` makes the k-means++
calls of every start on the uniforms drawn for all of them (a seeding does
not depend on the runs before it); ``best_of_runs`` makes the ``lloyd_run``
calls, each run from the state of a new run, and keeps the best run by the
estimator's rule (``LloydKMeans._fit``): a later run wins only if its inertia
is strictly lower and its partition differs.  ``best_inertias`` makes the
``best_of_runs`` calls of every K of a data set (a reference set of the gap
statistic, of which only the inertia is needed) in one call.
"""

import numba
import numpy as np

from sklearn_kmeans_lab._kernels.kmeans_plusplus import kmeans_plusplus
from sklearn_kmeans_lab._kernels.lloyd import zero_partials
from sklearn_kmeans_lab._kernels.run import lloyd_run


@numba.njit(nogil=True, cache=True)
def same_partition(labels_a, labels_b, n_clusters):
    """Whether ``labels_b`` (n,) is a relabeling of ``labels_a`` (n,): the
    answer of ``FitData.same_clustering``."""
    mapping = np.full(n_clusters, -1, dtype=np.int64)
    for i in range(len(labels_a)):
        mapping[labels_a[i]] = labels_b[i]
    for i in range(len(labels_a)):
        if mapping[labels_a[i]] != labels_b[i]:
            return False
    return True


@numba.njit(nogil=True, cache=True)
def _fresh_run_state(out, drop, totals, deltas):
    """The buffers of a run as a new ``LloydRun`` allocates them: zeros."""
    out.sums[:] = 0.0
    out.wsums[:] = 0.0
    out.counts[:] = 0
    out.changed[:] = 0
    out.inertia[:] = 0.0
    out.largest_sq_norm[:] = 0.0
    drop[:] = 0.0
    sums, weights, counts = totals
    sums[:] = 0.0
    weights[:] = 0.0
    counts[:] = 0
    sums, weights, counts = deltas
    sums[:] = 0.0
    weights[:] = 0.0
    counts[:] = 0


@numba.njit(cache=True)  # object mode inside the run
def _new_run(initial_centers, centers, labels, run_buffers, settings):
    """``lloyd_run`` from ``initial_centers`` (k, d) in the state of a new
    ``LloydRun``, its final centres in ``centers``, its labels in
    ``labels``: ``(n_iter, inertia, empty)``."""
    samples, bounds, out, drop, totals, deltas = run_buffers
    centers[:] = initial_centers
    _fresh_run_state(out, drop, totals, deltas)
    labels[:] = -1
    return lloyd_run(
        samples, centers, labels, bounds, out, drop, totals, deltas, settings
    )


@numba.njit(cache=True)  # object mode inside (first_potential)
def seed_starts(seeding, uniforms, centers):
    """The k-means++ seeds of ``n_init`` starts, one after the other.

    seeding : ``(args, n_local_trials, options)`` of ``CompiledSeeding``;
    uniforms : (n_init, 1 + (k - 1) * n_local_trials), each row the uniforms
    of one seeding, in the order the starts draw them; centers :
    (n_init, k, d) in X's dtype, gets the seeds (centred).
    """
    (seed_samples, order, total_weight), n_local_trials, options = seeding
    indices = np.empty(centers.shape[1], dtype=np.int64)
    for start in range(uniforms.shape[0]):
        kmeans_plusplus(
            seed_samples,
            order,
            total_weight,
            uniforms[start],
            n_local_trials,
            options,
            centers[start],
            indices,
        )


@numba.njit(cache=True)  # object mode inside the run
def best_of_runs(initial_centers, run_buffers, settings, best_centers, best_labels):
    """Run from each start's centres, keep the best: the runs of one fit.

    initial_centers : (n_init, k, d) in X's dtype, centred; run_buffers :
    ``(samples, bounds, out, drop, totals, deltas)`` of one
    ``LloydRun`` (see ``lloyd_run``); settings : ``RunSettings``;
    best_centers : (k, d) in X's dtype, best_labels : (n,) int32, get the
    best run's centres and labels.

    Returns ``(n_iter, inertia, start)``: the best run's iterations and
    inertia, and -1; or, where a run left a cluster empty (its relocation is
    the Python run's), the index of that start, having stopped there.
    """
    n_clusters = best_centers.shape[0]
    centers = np.empty_like(best_centers)
    # one start runs in the caller's labels: a second (n,) int32 array
    # would add 4 bytes a row, as much as the gap bounds, to a fit's peak
    one_start = initial_centers.shape[0] == 1
    labels = best_labels if one_start else np.empty_like(best_labels)
    best_inertia = np.inf
    best_n_iter = -1
    for start in range(initial_centers.shape[0]):
        n_iter, inertia, empty = _new_run(
            initial_centers[start], centers, labels, run_buffers, settings
        )
        if empty:
            return -1, np.nan, start
        if best_n_iter < 0 or (
            inertia < best_inertia
            and not same_partition(labels, best_labels, n_clusters)
        ):
            best_inertia = inertia
            best_n_iter = n_iter
            best_centers[:] = centers
            if not one_start:
                best_labels[:] = labels
    return best_n_iter, best_inertia, -1


@numba.njit(nogil=True, cache=True)
def _run_at_k(layouts, t, n_features, dtype):
    """The buffers ``LloydRun`` allocates for the run at ``layouts``' K
    number ``t``, over ``n_features`` features: ``(bounds, out, drop, totals,
    deltas)``, and (k, d) centres in ``dtype``."""
    ks, n_groups, lanes, bounds = layouts
    k, g, n_lanes = ks[t], n_groups[t], lanes[t]
    out = zero_partials(g, n_lanes, k, n_features)
    totals = (np.zeros((k, n_features)), np.zeros(k), np.zeros(k, dtype=np.int64))
    deltas = (np.zeros((k, n_features)), np.zeros(k), np.zeros(k, dtype=np.int64))
    centers = np.empty((k, n_features), dtype=dtype)
    return bounds[t, : g + 1].copy(), out, np.zeros(k), totals, deltas, centers


@numba.njit(cache=True)  # object mode inside the run
def best_inertias(initial_centers, layouts, samples, settings):
    """The best run's inertia at every K of a data set, in one call.

    initial_centers : (len(ks), n_init, k_max, d) in X's dtype, centred:
    the fit at ``ks[t]`` runs from the first K centres of each start of
    ``initial_centers[t]``; layouts : ``(ks, n_groups, lanes, bounds)`` of
    ``_lloyd_run.compiled_layouts``; samples : ``DenseRows``; settings :
    ``RunSettings``.

    At each K, ``best_of_runs`` with the buffers ``LloydRun`` allocates at
    that K (the same groups and lanes, so the same sums): its inertia, or
    NaN where a run left a cluster empty (its relocation is the Python
    run's).  Returns (len(ks),) float64.
    """
    ks = layouts[0]
    n_samples, n_features = samples.X.shape
    inertias = np.full(ks.shape[0], np.nan)
    labels = np.empty(n_samples, dtype=np.int32)
    for t in range(ks.shape[0]):
        k = ks[t]
        bounds, out, drop, totals, deltas, centers = _run_at_k(
            layouts, t, n_features, initial_centers.dtype
        )
        n_iter, inertia, failed = best_of_runs(
            np.ascontiguousarray(initial_centers[t, :, :k]),
            (samples, bounds, out, drop, totals, deltas),
            settings,
            centers,
            labels,
        )
        if failed < 0:
            inertias[t] = inertia
    return inertias


@numba.njit(cache=True)  # object mode inside the run
def converged_starts(initial_centers, layouts, samples, settings, converged):
    """Every start's centres after its own run, at every K of a data set.

    initial_centers, converged : (len(ks), n_init, k_max, d) in X's dtype,
    centred; the run at ``ks[t]`` from the first K centres of
    ``initial_centers[t, start]`` writes its final centres to the first K of
    ``converged[t, start]`` (the rest are copied).  layouts, samples,
    settings : as ``best_inertias``'s (a final pass is not needed).

    Returns (len(ks), n_init) bool: the runs that left a cluster empty and
    stopped there (their relocation is the Python run's), whose start is
    left as it was.
    """
    ks = layouts[0]
    n_samples, n_features = samples.X.shape
    labels = np.empty(n_samples, dtype=np.int32)
    converged[:] = initial_centers
    failed = np.zeros(initial_centers.shape[:2], dtype=np.bool_)
    for t in range(ks.shape[0]):
        k = ks[t]
        bounds, out, drop, totals, deltas, centers = _run_at_k(
            layouts, t, n_features, initial_centers.dtype
        )
        run_buffers = (samples, bounds, out, drop, totals, deltas)
        for start in range(initial_centers.shape[1]):
            n_iter, inertia, empty = _new_run(
                initial_centers[t, start, :k], centers, labels, run_buffers, settings
            )
            if empty:
                failed[t, start] = True
            else:
                converged[t, start, :k] = centers
    return failed
