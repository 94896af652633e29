"""Where ``LloydKMeans`` meets the data: an in-memory and a Dask backend.

The estimator (``_kmeans.py``) owns every rule: the number of runs, the
tolerance, the choice of the best run, the messages and the attributes.  A
backend does only what touches the data; ``backend_for(X)`` picks it:

``check_fit_data(estimator, X, sample_weight)``
    Validate ``X`` (through ``validate_data``, which records the estimator's
    ``n_features_in_`` and ``feature_names_in_``) and the weights; return the
    training data as an object with ``X`` (what a callable ``init`` is
    given), ``n_samples``, ``n_positive_weights``, ``offset`` (the centring,
    or None), ``weight_exponent`` (the weights were divided by 2**it),
    ``feature_variances()``, ``starts(...)`` (the seeds of every start),
    ``lloyd_run(...)``, ``best_of_runs(...)`` (the runs of every start in
    one call, or None where the estimator's loop over ``lloyd_run`` runs
    them), ``same_clustering(a, b)``, ``final_labels_and_inertia(run, centers)``
    and ``n_distinct_clusters(run, labels)``.
``check_test_data(estimator, X)``, ``predict(X, centers)``,
``transform(X, centers)``, ``inertia(X, centers, sample_weight)``
    The methods of a fitted estimator, on data of the backend's kind
    (``inertia`` returns the inertia of the scaled weights and the exponent).

The Dask backend is imported only for a dask collection: importing the
package never imports dask.
"""

import math
import sys
import warnings
from collections import namedtuple

RunResult = namedtuple("RunResult", ["inertia", "centers", "n_iter", "kept"])
RunResult.__doc__ = """One Lloyd run: its inertia, centres (centred
coordinates), iterations, and what its backend keeps of it (the labels in
memory, the cluster sizes for Dask)."""


def is_dask_collection(X):
    """Whether ``X`` is a dask collection; never imports dask itself."""
    dask = sys.modules.get("dask")
    is_collection = getattr(dask, "is_dask_collection", None)
    return is_collection is not None and bool(is_collection(X))


def backend_for(X):
    """The backend module that serves data of ``X``'s kind."""
    if is_dask_collection(X):
        from sklearn_kmeans_lab._backends import dask

        return dask
    from sklearn_kmeans_lab._backends import memory

    return memory


def check_weight_counts(n_negative, n_positive):
    """The two rules on sample weights, whatever the backend that counted."""
    if n_negative:
        raise ValueError(
            f"sample_weight must be non-negative; got {n_negative} negative value(s)."
        )
    if not n_positive:
        raise ValueError("Sample weights must contain at least one non-zero number.")


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
