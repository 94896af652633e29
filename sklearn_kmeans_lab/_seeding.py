"""Initial centres: greedy k-means++ and weighted random rows.

Every weighted draw is an inverse-CDF draw over the samples taken in a
*canonical order*, an order that depends on the rows' values and not on their
positions.  The seeds are therefore the same points whatever the order of the
rows, and a sample of integer weight ``m`` is drawn exactly as ``m`` repeated
copies of it would be: k-means++ honours scikit-learn's sample-weight
equivalence, which scikit-learn's own ``KMeans`` does not.
"""

import numpy as np
import scipy.sparse as sp


def _row(X, index):
    return X[[index]].toarray()[0] if sp.issparse(X) else X[index]


def _squared_distances(X, rows, x_squared_norms):
    """||x - r||^2 for every sample x and each row r, clipped at 0, shape (m, n)."""
    rows = np.atleast_2d(rows)
    dots = X @ rows.T
    if sp.issparse(dots):  # pragma: no cover - X @ dense is dense
        dots = dots.toarray()
    dist = (
        x_squared_norms[None, :]
        - 2.0 * np.asarray(dots).T
        + np.einsum("ij,ij->i", rows, rows)[:, None]
    )
    np.maximum(dist, 0, out=dist)
    return dist


def canonical_order(X):
    """A permutation sorting the rows by value (equal rows end up adjacent).

    Rows are ordered by their projection on a fixed direction; the sort is
    stable, and rows that tie are in practice identical, so the order of the
    points does not depend on where they stand in ``X``.
    """
    # A fixed generic direction: no small-integer relation between its
    # coordinates, so distinct rows (even of integer data) do not tie.
    direction = np.random.RandomState(0).uniform(0.5, 1.5, size=X.shape[1])
    key = np.asarray(X @ direction.astype(X.dtype)).ravel()
    return np.argsort(key, kind="stable")


def _draw(cumulative_weights, order, values):
    """Indices drawn by inverse CDF: ``values`` are in [0, total weight)."""
    positions = np.searchsorted(cumulative_weights, values, side="right")
    # rounding in the cumulative sum can land one past the end
    return order[np.minimum(positions, len(order) - 1)]


def kmeans_plusplus_centers(
    X,
    n_clusters,
    sample_weight,
    x_squared_norms,
    random_state,
    order,
    n_local_trials=None,
):
    """Greedy k-means++ seeding (Arthur & Vassilvitskii, 2007), weighted.

    The first centre is a sample drawn with probability proportional to its
    weight.  Each next one is the best of ``n_local_trials`` candidates drawn
    with probability proportional to ``w_i * D(x_i)^2``, where ``D`` is the
    distance to the nearest centre chosen so far: "best" means the one that
    lowers the weighted potential the most.  Zero-weight samples are never
    drawn.

    Returns
    -------
    centers : ndarray of shape (n_clusters, n_features)
    indices : ndarray of shape (n_clusters,)
    """
    n_samples, n_features = X.shape
    if n_local_trials is None:
        n_local_trials = 2 + int(np.log(n_clusters))
    centers = np.empty((n_clusters, n_features), dtype=X.dtype)
    indices = np.full(n_clusters, -1, dtype=int)

    weights_in_order = sample_weight[order]
    cumulative = np.cumsum(weights_in_order)
    first = _draw(cumulative, order, random_state.uniform() * cumulative[-1])
    centers[0] = _row(X, first)
    indices[0] = first
    closest_dist_sq = _squared_distances(X, centers[0], x_squared_norms)[0]

    for c in range(1, n_clusters):
        cumulative = np.cumsum(weights_in_order * closest_dist_sq[order])
        rand_vals = random_state.uniform(size=n_local_trials) * cumulative[-1]
        candidate_ids = _draw(cumulative, order, rand_vals)
        candidate_rows = (
            X[candidate_ids].toarray() if sp.issparse(X) else X[candidate_ids]
        )
        distance_to_candidates = _squared_distances(X, candidate_rows, x_squared_norms)
        np.minimum(closest_dist_sq, distance_to_candidates, out=distance_to_candidates)
        candidates_pot = distance_to_candidates @ sample_weight
        best = np.argmin(candidates_pot)
        closest_dist_sq = distance_to_candidates[best]
        centers[c] = candidate_rows[best]
        indices[c] = candidate_ids[best]
    return centers, indices


def random_centers(X, n_clusters, sample_weight, random_state, order):
    """``n_clusters`` distinct samples drawn with probability proportional to weight.

    Sequential draws without replacement, each an inverse-CDF draw over the
    not-yet-drawn samples in canonical order.
    """
    remaining = sample_weight[order].astype(np.float64)
    seeds = np.empty(n_clusters, dtype=np.intp)
    for c in range(n_clusters):
        cumulative = np.cumsum(remaining)
        position = np.searchsorted(
            cumulative, random_state.uniform() * cumulative[-1], side="right"
        )
        position = min(position, len(order) - 1)
        while remaining[position] == 0:  # rounding landed on a drawn sample
            position -= 1
        seeds[c] = order[position]
        remaining[position] = 0
    centers = X[seeds]
    return centers.toarray() if sp.issparse(centers) else np.array(centers)
