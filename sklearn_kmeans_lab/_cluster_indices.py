"""The Calinski-Harabasz and Davies-Bouldin indices of a partition, together.

``sklearn.metrics``' ``calinski_harabasz_score`` and ``davies_bouldin_score``
loop over the clusters in Python, copying each cluster's rows
(``X[labels == k]``) and validating them again in ``pairwise_distances``; a
``KSelector`` scan computes both at every K of the data, where on 10^3 rows
they cost a fifth of the whole selection, and the copies of the largest
clusters cost about the memory of X.  ``cluster_indices`` computes the same
formulas from the clusters' means (``_gap.cluster_means``, as the gap's
``W_k`` does) and the residuals read a chunk of rows at a time
(``_gap.row_chunks``): the same values up to rounding (tested against
scikit-learn's), in a few vectorised passes and the memory of a chunk.
"""

import numpy as np

from sklearn_kmeans_lab._gap import cluster_means, row_chunks


def cluster_indices(X, labels):
    """``(calinski_harabasz_score(X, labels), davies_bouldin_score(X, labels))``.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Dense data, float32 or float64.

    labels : ndarray of shape (n_samples,)
        Cluster labels, any integers; between 2 and ``n_samples - 1``
        distinct values (where both indices are defined).

    Returns
    -------
    calinski_harabasz : float
        Between-cluster dispersion over within-cluster dispersion, each over
        its degrees of freedom (1.0 where every cluster is a single point,
        as scikit-learn answers).

    davies_bouldin : float
        The mean over clusters of the largest ratio of the summed mean
        distances to the centroid of two clusters over the distance between
        their centroids (0.0 where all intra-cluster or all centroid
        distances are about 0, as scikit-learn answers).
    """
    _, labels, counts = np.unique(labels, return_inverse=True, return_counts=True)
    labels = labels.ravel()
    n_samples, n_features = X.shape
    n_labels = counts.size
    _, centroids = cluster_means(X, labels, np.ones(n_samples))
    # every sample's squared distance to its centroid, summed per cluster
    # (Calinski-Harabasz) and, as a distance, averaged per cluster
    # (Davies-Bouldin): the memory of a chunk of rows, not of X
    within_sq = np.zeros(n_labels)
    within = np.zeros(n_labels)
    for rows in row_chunks(n_samples, n_features):
        block_labels = labels[rows]
        diff = np.subtract(X[rows], centroids[block_labels], dtype=np.float64)
        sq = np.einsum("ij,ij->i", diff, diff)
        within_sq += np.bincount(block_labels, weights=sq, minlength=n_labels)
        within += np.bincount(block_labels, weights=np.sqrt(sq), minlength=n_labels)

    mean = np.mean(X, axis=0, dtype=np.float64)
    between = float(np.sum(counts * np.sum((centroids - mean) ** 2, axis=1)))
    intra_disp = float(within_sq.sum())
    calinski_harabasz = (
        1.0
        if intra_disp == 0.0
        else between * (n_samples - n_labels) / (intra_disp * (n_labels - 1.0))
    )

    intra_dists = within / counts
    centroid_distances = np.sqrt(
        np.sum((centroids[:, None, :] - centroids[None, :, :]) ** 2, axis=2)
    )
    if np.allclose(intra_dists, 0.0) or np.allclose(centroid_distances, 0.0):
        return calinski_harabasz, 0.0
    centroid_distances[centroid_distances == 0] = np.inf
    combined = intra_dists[:, None] + intra_dists
    davies_bouldin = float(np.mean(np.max(combined / centroid_distances, axis=1)))
    return calinski_harabasz, davies_bouldin
