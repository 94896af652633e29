"""How each criterion turns its curve over K into a chosen K, and the jump method.

Pure functions on the columns of ``KSelector.results_``: ``choose_k`` holds
every criterion's rule in one place, so the driving criterion, the reported
``choices_`` and every bootstrap resample choose the same way.

Reference for the jump method: C. A. Sugar and G. M. James, "Finding the
number of clusters in a dataset: an information-theoretic approach", Journal
of the American Statistical Association 98(463), 750-763, 2003.
"""

import numpy as np

from sklearn_kmeans_lab._gap import max_se

# Every criterion KSelector can compute, in the order they are reported.
CRITERIA = (
    "gap",
    "silhouette",
    "calinski_harabasz",
    "davies_bouldin",
    "prediction_strength",
    "jump",
)


def jump_statistic(ks, inertia, *, n_features, total_weight, power=None):
    """The jumps of Sugar and James (2003) in the transformed distortion.

    The distortion of a clustering into K clusters is the mean squared
    distance to the nearest centre per dimension, ``d_K = inertia_K /
    (total_weight * n_features)`` (their Gamma is the identity).  With the
    transformation power ``Y`` (``n_features / 2`` by default, the paper's
    choice), the jump at K is ``d_K ** -Y - d_{K'} ** -Y`` where ``K'`` is the
    previous candidate, and ``d_0 ** -Y = 0`` so that K=1 can be chosen.

    Parameters
    ----------
    ks : ndarray of shape (n_k,)
        Sorted candidate numbers of clusters.

    inertia : ndarray of shape (n_k,)
        Within-cluster sum of squares (weighted) at each K.

    n_features : int
        Number of features ``p``.

    total_weight : float
        Number of samples, or the sum of the sample weights.

    power : float, default=None
        The transformation power ``Y``; None means ``n_features / 2``.

    Returns
    -------
    jump : ndarray of shape (n_k,)
        The jump at each K; NaN at the first K when it is not 1 (no previous
        distortion) and wherever the inertia is NaN.
    """
    power = n_features / 2.0 if power is None else power
    distortion = np.asarray(inertia, dtype=np.float64) / (total_weight * n_features)
    before_first = [0.0 if ks[0] == 1 else np.nan]
    # A zero distortion (a perfect partition) is an infinite jump, and the
    # jump after it (inf - inf) is undefined: NaN, skipped by the choice.
    with np.errstate(divide="ignore", invalid="ignore"):
        transformed = distortion**-power
        return transformed - np.concatenate([before_first, transformed[:-1]])


def choose_k(results, criterion, *, rule="Tibs2001SEmax", se_factor=1.0, cutoff=0.8):
    """Index into ``results`` of the K that ``criterion`` chooses, or None.

    * ``"gap"``: :func:`max_se` of the gap curve with ``rule`` and
      ``se_factor``.
    * ``"silhouette"``, ``"calinski_harabasz"``, ``"jump"``: the maximum;
      ``"davies_bouldin"``: the minimum (NaN values skipped, the first on
      ties).
    * ``"prediction_strength"``: the largest K whose mean strength exceeds
      ``cutoff``, as R's ``fpc::prediction.strength``.

    Parameters
    ----------
    results : dict of ndarray
        ``KSelector.results_``.

    criterion : str
        One of :data:`CRITERIA`.

    rule, se_factor : str, float
        The gap's rule, see :func:`max_se`.

    cutoff : float
        The prediction strength cutoff.

    Returns
    -------
    index : int or None
        None when the criterion was not computed or is undefined at every K
        (or, for the prediction strength, no K exceeds the cutoff).
    """
    values = np.asarray(results[criterion], dtype=np.float64)
    if criterion == "gap":
        if np.isnan(values).any() or np.isnan(results["gap_se"]).any():
            return None
        return max_se(values, results["gap_se"], method=rule, se_factor=se_factor)
    if np.isnan(values).all():
        return None
    if criterion == "prediction_strength":
        above = np.flatnonzero(values > cutoff)
        return int(above[-1]) if above.size else None
    if criterion == "davies_bouldin":
        return int(np.nanargmin(values))
    return int(np.nanargmax(values))
