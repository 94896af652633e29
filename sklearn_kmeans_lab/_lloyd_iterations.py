"""Lloyd's iterations over a run state, whatever holds the data.

``lloyd_iterations`` is the one loop of Lloyd's algorithm in the package: the
in-memory run (``_lloyd_run.LloydRun``) and the Dask backend's run both go
through it, so the stopping rules, the handling of empty clusters and the
verbose lines exist once.
"""

import numpy as np

from sklearn_kmeans_lab._kernels import lloyd as kernels


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
