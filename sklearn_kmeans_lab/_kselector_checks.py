"""What ``KSelector.fit`` checks before any fit: K values, criteria, weights.

Each function raises a ``ValueError`` naming the parameter and the problem
(a too-large K is dropped with a warning instead); the selector's parameters
are read, never changed.
"""

import warnings
from numbers import Integral

import numpy as np
from sklearn.utils.validation import has_fit_parameter

from sklearn_kmeans_lab._backends.memory import check_sample_weight
from sklearn_kmeans_lab._criteria import CRITERIA
from sklearn_kmeans_lab._gap import within_dispersion

# The criteria that can drive the choice; "jump" is reported only.
CHOICE_CRITERIA = CRITERIA[:5]
# Computed from every fit at no extra cost, whatever the criterion.
_FREE_CRITERIA = frozenset({"calinski_harabasz", "davies_bouldin", "jump"})
_K_MAX = np.iinfo(np.int64).max


def candidate_ks(selector, n_samples):
    """Validated, sorted K values, those above ``n_samples`` dropped."""
    values = list(selector.k_range)
    if not values:
        raise ValueError(
            "k_range must be a non-empty 1-D sequence of ints; got "
            f"{selector.k_range!r}."
        )
    # Each entry through Python's int, never a cast of the array: an array
    # of uint64 (or Python ints above 2**63) would wrap to negative K.
    if (
        not all(isinstance(k, Integral) and not isinstance(k, bool) for k in values)
        or min(values) < 1
    ):
        raise ValueError(f"k_range must contain ints >= 1; got {selector.k_range!r}.")
    largest = max(int(k) for k in values)
    if largest > _K_MAX:
        raise ValueError(
            f"k_range must contain ints <= {_K_MAX}; got K={largest} in "
            f"k_range={selector.k_range!r}."
        )
    ks = np.unique(np.array([int(k) for k in values], dtype=np.int64))
    if selector.criterion != "gap" and not (ks >= 2).any():
        raise ValueError(
            f"criterion={selector.criterion!r} needs K >= 2 (it is undefined for "
            f"a single cluster), but k_range={selector.k_range!r} has no K >= 2."
        )
    too_large = ks[ks > n_samples]
    if too_large.size == ks.size:
        raise ValueError(
            f"Every K in k_range={selector.k_range!r} exceeds n_samples={n_samples}."
        )
    if too_large.size:
        warnings.warn(
            f"K values {too_large.tolist()} of k_range exceed "
            f"n_samples={n_samples} and are dropped.",
            UserWarning,
            stacklevel=3,
        )
        ks = ks[ks <= n_samples]
    if selector.criterion != "gap" and not (ks >= 2).any():
        raise ValueError(
            f"criterion={selector.criterion!r} needs K >= 2, but n_samples="
            f"{n_samples} leaves only K=1 in k_range."
        )
    return ks


def check_silhouette_sample_size(selector, ks, n_samples, computed):
    """A subsample must hold more samples than the largest K has clusters."""
    size = selector.silhouette_sample_size
    if (
        "silhouette" in computed
        and size is not None
        and size < n_samples
        and size <= ks[-1]
    ):
        raise ValueError(
            f"silhouette_sample_size={size} is too small for k_range: the "
            "silhouette needs more samples than clusters and K goes up to "
            f"{ks[-1]}; use silhouette_sample_size >= {ks[-1] + 1}, or None "
            "to use all samples."
        )


def computed_criteria(selector, estimator):
    """The criteria this fit computes: its own, the asked-for, the free ones."""
    extra = selector.extra_criteria
    if extra is None:
        extra = ()
    elif isinstance(extra, str):  # "all", the only string allowed
        extra = CRITERIA
    else:
        extra = tuple(extra)
        unknown = [c for c in extra if c not in CRITERIA]
        if unknown:
            raise ValueError(
                f"extra_criteria must hold names among {list(CRITERIA)} or be "
                f"'all'; got {unknown!r}."
            )
    computed = frozenset({selector.criterion, *extra}) | _FREE_CRITERIA
    if "prediction_strength" in computed and not hasattr(estimator, "predict"):
        raise ValueError(
            "The prediction strength predicts one half of the data with the "
            f"clusterer fitted on the other, but {type(estimator).__name__} "
            "has no predict method; use another criterion or remove "
            "'prediction_strength' from extra_criteria."
        )
    return computed


def check_param_name(estimator, param_name):
    """``param_name`` must be a parameter of ``estimator``."""
    if param_name not in estimator.get_params():
        raise ValueError(
            f"The estimator {type(estimator).__name__} has no parameter "
            f"param_name={param_name!r}; set param_name to its "
            "number-of-clusters parameter (e.g. 'n_components' for "
            "GaussianMixture)."
        )


def check_selector_weights(estimator, X, sample_weight):
    """``sample_weight`` validated for a selection of ``estimator`` on ``X``.

    The clusterer must take weights, and the weighted dispersion of ``X``
    must be finite: ``W_k`` and the inertia the criteria compare are weighted
    sums, and the largest of them, ``W_1``, bounds them all (``LloydKMeans``
    alone takes weights of any scale).
    """
    if not has_fit_parameter(estimator, "sample_weight"):
        raise ValueError(
            f"sample_weight was given but {type(estimator).__name__}.fit "
            "does not accept sample_weight."
        )
    sample_weight = check_sample_weight(sample_weight, X)
    total = within_dispersion(
        X, np.zeros(X.shape[0], dtype=np.int32), sample_weight=sample_weight
    )
    if not np.isfinite(total):
        raise ValueError(
            "sample_weight is so large that the weighted dispersion of X "
            "is beyond the float range, so the curves KSelector compares "
            "would not be finite; divide the weights by a constant (the "
            "choice of K does not depend on their scale)."
        )
    return sample_weight
