"""Every start of a k-means++ fit in one compiled call.

A fit of ``n_init`` starts seeds, runs Lloyd's iterations and keeps the best
run, ``n_init`` times; on small data the Python round trips between these
steps cost more than the steps.  ``best_of_starts`` makes the same calls
(``kmeans_plusplus``, ``lloyd_run``) on the same uniforms, each run from the
state of a new run, and keeps the best run by the estimator's rule
(``LloydKMeans._fit``): a later run wins only if its inertia is strictly
lower and its partition differs.
"""

import numba
import numpy as np

from sklearn_kmeans_lab._kernels.kmeans_plusplus import kmeans_plusplus
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
def _fresh_run_state(out, stored, drop, totals, deltas):
    """The buffers of a run as a new ``LloydRun`` allocates them: zeros."""
    out.sums[:] = 0.0
    out.wsums[:] = 0.0
    out.counts[:] = 0
    out.changed[:] = 0
    out.inertia[:] = 0.0
    out.largest_sq_norm[:] = 0.0
    stored[:] = 0
    drop[:] = 0.0
    sums, weights, counts = totals
    sums[:] = 0.0
    weights[:] = 0.0
    counts[:] = 0
    sums, weights, counts = deltas
    sums[:] = 0.0
    weights[:] = 0.0
    counts[:] = 0


@numba.njit(cache=True)  # object mode inside the seeding and the run
def best_of_starts(seeding, uniforms, run_buffers, settings, best_centers, best_labels):
    """Seed, run, keep the best: ``n_init`` starts of one fit.

    seeding : ``(args, n_local_trials, options)`` of ``CompiledSeeding``;
    uniforms : (n_init, 1 + (k - 1) * n_local_trials), each row the uniforms
    of one seeding, in the order the starts draw them; run_buffers :
    ``(samples, bounds, out, stored, drop, totals, deltas)`` of one
    ``LloydRun`` (see ``lloyd_run``); settings : ``RunSettings``;
    best_centers : (k, d) in X's dtype, best_labels : (n,) int32, get the
    best run's centres and labels.

    Returns ``(n_iter, inertia, start)``: the best run's iterations and
    inertia, and -1; or, where a run left a cluster empty (its relocation is
    the Python run's), the index of that start, having stopped there.
    """
    (seed_samples, order, total_weight), n_local_trials, options = seeding
    samples, bounds, out, stored, drop, totals, deltas = run_buffers
    n_clusters, n_features = best_centers.shape
    centers = np.empty_like(best_centers)
    labels = np.empty_like(best_labels)
    indices = np.empty(n_clusters, dtype=np.int64)
    best_inertia = np.inf
    best_n_iter = -1
    for start in range(uniforms.shape[0]):
        kmeans_plusplus(
            seed_samples,
            order,
            total_weight,
            uniforms[start],
            n_local_trials,
            options,
            centers,
            indices,
        )
        _fresh_run_state(out, stored, drop, totals, deltas)
        labels[:] = -1
        n_iter, inertia, empty = lloyd_run(
            samples,
            centers,
            labels,
            bounds,
            out,
            stored,
            drop,
            totals,
            deltas,
            settings,
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
            best_labels[:] = labels
    return best_n_iter, best_inertia, -1
