"""Prediction strength (Tibshirani and Walther, 2005), as R's ``fpc`` computes it.

For one K and one random split of the data into two halves, each half is
clustered, the other half's clusterer predicts its samples, and for every
cluster of the half's own clustering the share of its pairs of samples that
the prediction also puts together is counted; the strength of the half is
the worst cluster's share.  The strength of the split is the mean of its two
halves (``fpc::prediction.strength`` averages both directions), and the
prediction strength of K is the mean over ``n_splits`` splits.

``KSelector`` (in ``_kselector.py``) orchestrates the fits; this module holds
the split and the pair counting.

References: R. Tibshirani and G. Walther, "Cluster validation by prediction
strength", Journal of Computational and Graphical Statistics 14(3), 511-528,
2005; C. Hennig, R package ``fpc``, function ``prediction.strength``.
"""

import numpy as np
from sklearn.utils import check_random_state


def split_halves(n_samples, random_state):
    """A random split into halves of ``floor(n / 2)`` and ``n - floor(n / 2)``.

    As ``fpc::prediction.strength``: a random permutation, the first
    ``floor(n / 2)`` indices in the first half.

    Parameters
    ----------
    n_samples : int
        Number of samples.

    random_state : int or RandomState
        Seed of the permutation.

    Returns
    -------
    halves : tuple of two ndarray of int
        The indices of the two halves.
    """
    permutation = check_random_state(random_state).permutation(n_samples)
    half = n_samples // 2
    return permutation[:half], permutation[half:]


def half_strength(own_labels, predicted_labels, sample_weight=None):
    """The worst cluster's share of its pairs that the prediction keeps together.

    For every cluster ``c`` of ``own_labels`` with ``n_c`` members, the pairs
    ``i != j`` of ``c`` that ``predicted_labels`` puts in one cluster, divided
    by ``n_c (n_c - 1)``; a cluster of one sample counts as 1 (as in
    ``fpc``).  Sample weights count a pair ``w_i w_j`` times.

    Parameters
    ----------
    own_labels : ndarray of shape (n_samples,)
        The half's own clustering.

    predicted_labels : ndarray of shape (n_samples,)
        The clusters the other half's clusterer predicts for the same samples.

    sample_weight : ndarray of shape (n_samples,), default=None
        Non-negative weights.

    Returns
    -------
    strength : float
        The minimum over the clusters of ``own_labels``, in [0, 1].
    """
    w = np.ones(own_labels.shape[0]) if sample_weight is None else sample_weight
    _, own = np.unique(own_labels, return_inverse=True)
    _, predicted = np.unique(predicted_labels, return_inverse=True)
    own, predicted = own.ravel(), predicted.ravel()
    n_own, n_predicted = own.max() + 1, predicted.max() + 1
    # cross[c, d]: weight of the samples in own cluster c predicted as d.
    cross = np.zeros((n_own, n_predicted))
    np.add.at(cross, (own, predicted), w)
    squares = np.zeros((n_own, n_predicted))
    np.add.at(squares, (own, predicted), w * w)
    together = (cross**2 - squares).sum(axis=1)
    size = cross.sum(axis=1)
    pairs = size**2 - np.bincount(own, weights=w * w, minlength=n_own)
    share = np.ones(n_own)
    has_pairs = pairs > 0
    share[has_pairs] = together[has_pairs] / pairs[has_pairs]
    return float(share.min())


def strength_summary(split_strengths):
    """Mean prediction strength per K and its standard error over the splits.

    Parameters
    ----------
    split_strengths : ndarray of shape (n_splits, n_k)
        The strength of every split at every K.

    Returns
    -------
    mean : ndarray of shape (n_k,)
        The prediction strength (``fpc``'s ``mean.pred``).

    se : ndarray of shape (n_k,)
        ``sd / sqrt(n_splits)`` with the ``n - 1`` denominator (NaN for one
        split).
    """
    split_strengths = np.asarray(split_strengths, dtype=np.float64)
    n_splits = split_strengths.shape[0]
    mean = split_strengths.mean(axis=0)
    if n_splits < 2:
        return mean, np.full_like(mean, np.nan)
    return mean, split_strengths.std(axis=0, ddof=1) / np.sqrt(n_splits)
