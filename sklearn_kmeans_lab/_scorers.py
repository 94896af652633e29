"""Scorers that let ``GridSearchCV`` choose the number of clusters.

A clusterer's own ``score`` cannot do it.  For k-means, ``score`` is minus the
inertia, the sum of squared distances of the samples to their nearest centre;
adding a centre can only bring samples nearer to one (the optimal inertia is
non-increasing in K, on the training folds and on held-out folds alike), so
``GridSearchCV(LloydKMeans(), {"n_clusters": ...})`` picks the largest K of
the grid every time.  The scorers here instead rate the partition of the
held-out samples by an internal index of :mod:`sklearn.metrics` that rewards
separation as well as compactness, and so can peak at the true K.
"""

from sklearn.metrics import (
    calinski_harabasz_score,
    davies_bouldin_score,
    silhouette_score,
)

from sklearn_kmeans_lab._compat import validate_params
from sklearn_kmeans_lab._pipeline import final_clusterer


def _space_seen_by_clusterer(estimator, X):
    """The final clusterer of ``estimator`` and ``X`` as that clusterer sees it.

    For a ``Pipeline`` the data are passed through every step but the last
    (recursively, for a pipeline ending in a pipeline): an index computed on
    the raw X would rate a partition made in another space, e.g. before a
    ``StandardScaler``.
    """
    clusterer, preprocessing = final_clusterer(estimator)
    if preprocessing is not None:
        X = preprocessing.transform(X)
    return clusterer, X


class _ClusteringScorer:
    """Callable ``scorer(estimator, X, y=None)`` for ``scoring=`` parameters."""

    def __init__(self, score_func, sign, kwargs):
        self._score_func = score_func
        self._sign = sign
        self._kwargs = kwargs

    def __call__(self, estimator, X, y=None):
        """Score the partition ``estimator`` gives to ``X``.

        Parameters
        ----------
        estimator : fitted estimator
            A clusterer with ``predict``, or a ``Pipeline`` ending in one.

        X : array-like of shape (n_samples, n_features)
            The data to partition and rate (e.g. a held-out fold).

        y : Ignored
            Not used, present for the scorer API.

        Returns
        -------
        score : float
            The index (negated when lower is better): greater is better.
        """
        clusterer, X_seen = _space_seen_by_clusterer(estimator, X)
        labels = clusterer.predict(X_seen)
        return self._sign * float(self._score_func(X_seen, labels, **self._kwargs))

    def __repr__(self):
        args = [self._score_func.__name__]
        if self._sign < 0:
            args.append("greater_is_better=False")
        args += [f"{name}={value!r}" for name, value in self._kwargs.items()]
        return f"make_clustering_scorer({', '.join(args)})"


@validate_params(
    {"score_func": [callable], "greater_is_better": ["boolean"]},
    prefer_skip_nested_validation=True,
)
def make_clustering_scorer(score_func, *, greater_is_better=True, **kwargs):
    """Make a scorer from an internal clustering index ``score_func(X, labels)``.

    The scorer, called as ``scorer(estimator, X)``, predicts the labels of
    ``X`` with the fitted clusterer and returns ``score_func(X, labels,
    **kwargs)``, negated when ``greater_is_better=False``.  When the estimator
    is a :class:`~sklearn.pipeline.Pipeline`, ``X`` is first transformed by
    the steps before the clusterer, so the index is computed in the space the
    clusterer partitioned.

    Parameters
    ----------
    score_func : callable
        ``score_func(X, labels, **kwargs)`` returning a float, e.g.
        :func:`sklearn.metrics.silhouette_score`.

    greater_is_better : bool, default=True
        Whether a high index means a good partition.  If False the scorer
        returns the negated index, so that greater is always better.

    **kwargs : dict
        Further arguments of ``score_func`` (e.g. ``sample_size`` and
        ``random_state`` of ``silhouette_score`` for large data).

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y=None)``, usable as ``scoring=`` of
        :class:`~sklearn.model_selection.GridSearchCV`.

    See Also
    --------
    silhouette_scorer : The silhouette, ready-made.
    calinski_harabasz_scorer : The Calinski-Harabasz index, ready-made.
    davies_bouldin_scorer : The negated Davies-Bouldin index, ready-made.

    Notes
    -----
    Why not the clusterer's own ``score``: for k-means it is minus the
    inertia, and adding a centre can only bring samples nearer to one, so the
    held-out inertia falls as K grows and ``GridSearchCV`` always picks the
    largest K of its grid.  The internal indices reward separation as well as
    compactness, and peak at a K that fits the structure of the data.

    The indices are defined for 2 to ``n_samples - 1`` distinct labels; a
    grid point with K=1 (or a fold partitioned into a single cluster) makes
    ``score_func`` raise, which ``GridSearchCV`` reports as a NaN score with
    its default ``error_score=np.nan``.

    Examples
    --------
    >>> from sklearn.datasets import make_blobs
    >>> from sklearn.metrics import silhouette_score
    >>> from sklearn_kmeans_lab import LloydKMeans, make_clustering_scorer
    >>> X, _ = make_blobs(n_samples=300, centers=3, random_state=0)
    >>> scorer = make_clustering_scorer(silhouette_score, sample_size=100,
    ...                                 random_state=0)
    >>> scorer
    make_clustering_scorer(silhouette_score, sample_size=100, random_state=0)
    >>> km = LloydKMeans(n_clusters=3, random_state=0).fit(X)
    >>> bool(0 < scorer(km, X) <= 1)
    True
    """
    return _ClusteringScorer(score_func, 1 if greater_is_better else -1, kwargs)


silhouette_scorer = make_clustering_scorer(silhouette_score)
"""Scorer: the mean silhouette coefficient of the predicted partition.

``silhouette_scorer(estimator, X)`` is ``silhouette_score(Xt, labels)`` with
``labels`` the clusterer's ``predict`` of ``Xt``, and ``Xt`` the data in the
space the clusterer saw (after the preprocessing steps of a ``Pipeline``).  In
[-1, 1]; greater is better.  O(n_samples ** 2); for large folds use
``make_clustering_scorer(silhouette_score, sample_size=..., random_state=...)``.

See Also
--------
make_clustering_scorer : Build a scorer from another index or with arguments.
KSelector : Choose K by the gap statistic or an index, without cross-validation.

Examples
--------
>>> from sklearn.datasets import make_blobs
>>> from sklearn.model_selection import GridSearchCV
>>> from sklearn_kmeans_lab import LloydKMeans, silhouette_scorer
>>> X, _ = make_blobs(n_samples=200, centers=[[0, 0], [0, 6], [6, 0], [6, 6]],
...                   random_state=0)
>>> grid = {"n_clusters": [2, 3, 4, 5, 6]}
>>> search = GridSearchCV(LloydKMeans(random_state=0), grid,
...                       scoring=silhouette_scorer).fit(X)
>>> search.best_params_
{'n_clusters': 4}
"""

calinski_harabasz_scorer = make_clustering_scorer(calinski_harabasz_score)
"""Scorer: the Calinski-Harabasz index (between- over within-cluster dispersion).

Computed like ``silhouette_scorer``, in the space the clusterer saw; greater is
better; O(n_samples * n_features).

See Also
--------
make_clustering_scorer : Build a scorer from another index or with arguments.
KSelector : Choose K by the gap statistic or an index, without cross-validation.

Examples
--------
>>> from sklearn.datasets import make_blobs
>>> from sklearn.model_selection import GridSearchCV
>>> from sklearn_kmeans_lab import LloydKMeans, calinski_harabasz_scorer
>>> X, _ = make_blobs(n_samples=200, centers=[[0, 0], [0, 6], [6, 0], [6, 6]],
...                   random_state=0)
>>> grid = {"n_clusters": [2, 3, 4, 5, 6]}
>>> search = GridSearchCV(LloydKMeans(random_state=0), grid,
...                       scoring=calinski_harabasz_scorer).fit(X)
>>> search.best_params_
{'n_clusters': 4}
"""

davies_bouldin_scorer = make_clustering_scorer(
    davies_bouldin_score, greater_is_better=False
)
"""Scorer: minus the Davies-Bouldin index.

The index (mean over clusters of the worst ratio of within- to between-cluster
distances) is better when lower, so it is negated: greater is better, at most
0.  Computed like ``silhouette_scorer``, in the space the clusterer saw.

See Also
--------
make_clustering_scorer : Build a scorer from another index or with arguments.
KSelector : Choose K by the gap statistic or an index, without cross-validation.

Examples
--------
>>> from sklearn.datasets import make_blobs
>>> from sklearn.model_selection import GridSearchCV
>>> from sklearn_kmeans_lab import LloydKMeans, davies_bouldin_scorer
>>> X, _ = make_blobs(n_samples=200, centers=[[0, 0], [0, 6], [6, 0], [6, 6]],
...                   random_state=0)
>>> grid = {"n_clusters": [2, 3, 4, 5, 6]}
>>> search = GridSearchCV(LloydKMeans(random_state=0), grid,
...                       scoring=davies_bouldin_scorer).fit(X)
>>> search.best_params_
{'n_clusters': 4}
"""
