"""Lloyd's iterations over a run state, whatever holds the data.

``lloyd_iterations`` is the one loop of Lloyd's algorithm in the package: the
in-memory run (``_lloyd_run.LloydRun``) and the Dask backend's run both go
through it, so the stopping rules, the handling of empty clusters
(``relocate_empty_clusters``, which both runs call on in-memory rows) and the
verbose lines exist once.
"""

import numpy as np
import scipy.sparse as sp

from sklearn_kmeans_lab._kernels import lloyd as kernels
from sklearn_kmeans_lab._kernels.common import (
    csr_squared_distances_to_assigned,
    squared_distances_to_assigned,
)

# Passes between two recomputations of a run's cluster totals from scratch.
REFRESH_EVERY = 32


class RefreshSchedule:
    """When a run's running cluster totals are recomputed from scratch.

    Between two such passes only the samples that change cluster update the
    totals; recomputing them on the first pass, every ``REFRESH_EVERY``
    passes and after a relocation (whose moved samples keep their labels)
    keeps their rounding from building up.  The in-memory run and the Dask
    run keep the same schedule, so they add the same numbers.
    """

    def __init__(self):
        self.passes_since = 0
        self.due = True

    def passed(self, from_scratch):
        """Record a pass; ``due`` says whether the next is from scratch."""
        self.passes_since = 0 if from_scratch else self.passes_since + 1
        self.due = self.passes_since + 1 >= REFRESH_EVERY

    def force(self):
        """The next pass is from scratch."""
        self.due = True


def distances_to_assigned(X, centers, labels, x_offset=None):
    """Unweighted ``||x_i - c_{labels_i}||^2`` (float64) for every sample."""
    out = np.empty(X.shape[0])
    if sp.issparse(X):
        csr_squared_distances_to_assigned(
            X.data, X.indices, X.indptr, centers, labels, out
        )
        return out
    if x_offset is None:
        x_offset = np.zeros(X.shape[1], dtype=X.dtype)
    squared_distances_to_assigned(X, x_offset, centers, labels, out)
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
    distances = distances_to_assigned(X, centers_old, labels, x_offset)
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
    kernels.average_in_place(sums, weights)
    return sums


def center_shifts(old, new):
    """Euclidean distance between each old and new centre, as scikit-learn
    computes it for its tolerance test."""
    out = np.empty(old.shape[0], dtype=old.dtype)
    kernels.center_shifts(old, new, out)
    return out


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


def lloyd_iterations(run, centers, *, max_iter, tol, verbose):
    """Lloyd's iterations from ``centers`` over a run state; returns the final
    centres and the number of iterations.

    Same iterates and stopping rules as scikit-learn's
    ``_kmeans_single_lloyd``: stop on strict convergence (no label changed),
    else when the squared centre shift is within ``tol``, else after
    ``max_iter`` passes.  ``run`` is a ``LloydRun`` or the Dask backend's
    run: ``step``, ``relocate``, ``moved`` and ``dtype``.
    """
    for i in range(max_iter):
        n_changed, sums, weights, any_empty, inertia = run.step(
            centers, want_inertia=bool(verbose)
        )
        if any_empty:
            run.relocate(centers, sums, weights)
        # in the data's dtype, as scikit-learn keeps them
        centers_new = average_centers(sums, weights).astype(run.dtype, copy=False)
        if verbose:
            print(f"Iteration {i}, inertia {inertia}.")
        run.moved(centers, centers_new)
        done = has_converged(i, n_changed, centers, centers_new, tol, verbose)
        centers = centers_new
        if done:
            break
    return centers, i + 1
