"""Acting as the chosen clusterer: what a fitted selector delegates.

``KSelector`` keeps the clusterer fitted at the chosen K as
``best_estimator_``; ``predict``, ``transform``, ``score`` and the feature
names are that clusterer's, each available exactly when the clusterer has
it (``available_if``), with the selector's own input validation and output
container.
"""

import numpy as np
from sklearn import config_context
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted, validate_data

from sklearn_kmeans_lab._backends import is_dask_collection
from sklearn_kmeans_lab._compat import (
    _check_feature_names_in,
    _wrap_data_with_container,
)
from sklearn_kmeans_lab._kselector_dask import check_dask_test_data


def _estimator_has(attr):
    """Whether the fitted (else the unfitted) clusterer has ``attr``."""

    def check(self):
        if hasattr(self, "best_estimator_"):
            getattr(self.best_estimator_, attr)
        else:
            getattr(self._estimator(), attr)
        return True

    return check


class BestEstimatorMixin:
    """``predict``, ``transform``, ``score`` ... of ``best_estimator_``.

    For a meta-clusterer with a ``best_estimator_`` attribute once fitted
    and an ``_estimator()`` method giving the clusterer before; it goes
    before ``BaseEstimator`` in the bases, so that its ``set_output`` is the
    one used.
    """

    @property
    def cluster_centers_(self):
        """Centres of ``best_estimator_``, when it has them."""
        check_is_fitted(self, "best_estimator_")
        return self.best_estimator_.cluster_centers_

    def _validated(self, X):
        check_is_fitted(self)
        if is_dask_collection(X):  # stays lazy: best_estimator_ predicts on it
            return check_dask_test_data(self, X)
        return validate_data(self, X, reset=False, dtype=[np.float64, np.float32])

    @available_if(_estimator_has("predict"))
    def predict(self, X):
        """Predict the cluster of each sample with ``best_estimator_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            New data.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            Index of the cluster each sample belongs to.
        """
        X = self._validated(X)
        return self.best_estimator_.predict(X)

    @available_if(_estimator_has("transform"))
    def transform(self, X):
        """Transform X with ``best_estimator_`` (cluster distances for k-means).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            New data.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_clusters)
            ``best_estimator_.transform(X)``: for k-means the distances to
            the ``n_clusters_`` centres.
        """
        X_valid = self._validated(X)
        # The selector's output configuration (set_output) decides the
        # container, so the clusterer returns an array.
        with config_context(transform_output="default"):
            X_new = self.best_estimator_.transform(X_valid)
        return _wrap_data_with_container("transform", X_new, X, self)

    @available_if(_estimator_has("transform"))
    def fit_transform(self, X, y=None, sample_weight=None):
        """Fit the selector, then transform X with ``best_estimator_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.

        y : Ignored
            Not used, present here for API consistency by convention.

        sample_weight : array-like of shape (n_samples,), default=None
            Frequency weights, as in :meth:`fit`.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_clusters)
            ``best_estimator_.transform(X)``: for k-means the distances to
            the ``n_clusters_`` centres.
        """
        return self.fit(X, sample_weight=sample_weight).transform(X)

    @available_if(_estimator_has("score"))
    def score(self, X, y=None, sample_weight=None):
        """Score X with ``best_estimator_`` (minus the inertia for k-means).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            New data.

        y : Ignored
            Not used, present here for API consistency by convention.

        sample_weight : array-like of shape (n_samples,), default=None
            Passed to ``best_estimator_.score`` when given.

        Returns
        -------
        score : float
            ``best_estimator_.score(X)``.
        """
        X = self._validated(X)
        params = {} if sample_weight is None else {"sample_weight": sample_weight}
        return self.best_estimator_.score(X, **params)

    @available_if(_estimator_has("get_feature_names_out"))
    def get_feature_names_out(self, input_features=None):
        """Output feature names of ``transform``, from ``best_estimator_``.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Passed to ``best_estimator_.get_feature_names_out``.

        Returns
        -------
        feature_names_out : ndarray of str objects
            The names of the columns of :meth:`transform`.
        """
        check_is_fitted(self)
        # best_estimator_ saw an array: check the names against the selector's.
        _check_feature_names_in(self, input_features)
        return self.best_estimator_.get_feature_names_out()

    @available_if(_estimator_has("transform"))
    def set_output(self, *, transform=None):
        """Set the output container of :meth:`transform` and :meth:`fit_transform`.

        Parameters
        ----------
        transform : {"default", "pandas", "polars"}, default=None
            "default" gives the clusterer's output, "pandas"/"polars" a
            DataFrame with the names of :meth:`get_feature_names_out` and the
            index of the input; None leaves the configuration unchanged.

        Returns
        -------
        self : estimator instance
            The selector.
        """
        if transform is not None:
            self._sklearn_output_config = {"transform": transform}
        return self

    # read by sklearn's output wrapping: transform's container is configurable
    _sklearn_auto_wrap_output_keys = {"transform"}
