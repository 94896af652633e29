"""``LloydKMeans``: the estimator.  It validates, seeds, iterates, sets attributes."""

import warnings
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    ClusterMixin,
    TransformerMixin,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_array, check_random_state
from sklearn.utils.sparsefuncs import mean_variance_axis
from sklearn.utils.validation import check_is_fitted, validate_data

from sklearn_kmeans_lab._compat import (
    Interval,
    StrOptions,
    _check_sample_weight,
    _fit_context,
    _is_arraylike_not_scalar,
)
from sklearn_kmeans_lab._dask import (
    _is_dask_collection,
    dask_fit,
    dask_predict,
    dask_score,
    dask_transform,
)
from sklearn_kmeans_lab._lloyd import (
    assign_labels,
    centring_offset,
    column_means,
    column_variances,
    count_distinct_labels,
    distances_to_centers,
    effective_n_threads,
    lloyd_single_run,
    unscaled_inertia,
)
from sklearn_kmeans_lab._seeding import (
    canonical_order,
    kmeans_plusplus_centers,
    random_centers,
    unit_max_weights,
)


def _is_same_clustering(labels1, labels2, n_clusters):
    """Whether ``labels2`` is a relabeling of ``labels1`` (vectorised, O(n))."""
    mapping = np.full(n_clusters, -1, dtype=np.int64)
    mapping[labels1] = labels2
    return bool(np.array_equal(mapping[labels1], labels2))


def check_sample_weight(sample_weight, X, *, dtype=None):
    """Validate ``sample_weight`` for ``X``: finite, non-negative, not all zero.

    Unlike scikit-learn's ``KMeans`` (which accepts negative weights and then
    fails inside numpy's sampling), negative weights are rejected up front:
    a negative mass has no meaning for a cluster mean.  Returned in ``dtype``
    (default: ``X``'s).
    """
    dtype = X.dtype if dtype is None else dtype
    sample_weight = _check_sample_weight(sample_weight, X, dtype=dtype)
    if np.any(sample_weight < 0):
        raise ValueError(
            "sample_weight must be non-negative; got "
            f"{int(np.sum(sample_weight < 0))} negative value(s)."
        )
    if not np.any(sample_weight > 0):
        raise ValueError("Sample weights must contain at least one non-zero number.")
    return sample_weight


def _scaled_sample_weight(sample_weight, X):
    """Validated weights in ``X``'s dtype, divided by a power of two that
    brings the largest near 1 when it is far from it, and that exponent.

    Validated and scaled in float64, so weights of any scale in the float
    range (subnormal, or with a total that overflows) give the results of
    weights of order one: the centres and labels do not depend on the scale,
    and the inertia is scaled back (``math.ldexp``) at the end.
    """
    sample_weight = check_sample_weight(sample_weight, X, dtype=np.float64)
    sample_weight, exponent = unit_max_weights(sample_weight)
    return sample_weight.astype(X.dtype, copy=False), exponent


class LloydKMeans(
    ClassNamePrefixFeaturesOutMixin, TransformerMixin, ClusterMixin, BaseEstimator
):
    """K-Means clustering by Lloyd's algorithm, a drop-in for scikit-learn's KMeans.

    Same parameters (minus ``algorithm``), attributes, methods and results as
    :class:`sklearn.cluster.KMeans` with ``algorithm="lloyd"``: from the same
    initial centres it visits the same iterates.  The passes over the data are
    compiled loops (numba) that assign, accumulate and count label changes in
    one sweep over cache-sized blocks, never forming an ``n_samples x
    n_clusters`` matrix.

    Read more in the :ref:`User Guide <user_guide_kmeans>`.

    Parameters
    ----------
    n_clusters : int, default=8
        The number of clusters to form as well as the number of centroids to
        generate.  Must not exceed the number of samples.

    init : {'k-means++', 'random'}, callable or array-like of shape \
            (n_clusters, n_features), default='k-means++'
        Method for initialization:

        * 'k-means++': greedy k-means++ (Arthur & Vassilvitskii, 2007) with
          ``2 + int(log(n_clusters))`` local trials per centre, weighted by
          ``sample_weight``.
        * 'random': ``n_clusters`` distinct rows drawn with probability
          proportional to ``sample_weight``.
        * array-like: the initial centres.
        * callable: ``init(X, n_clusters, random_state)`` returning the
          initial centres.  Unlike scikit-learn, which passes the mean-centred
          data, the callable receives ``X`` in the caller's coordinates and
          its centres are read in those coordinates.

    n_init : 'auto' or int, default='auto'
        Number of runs with different seeds; the run with the lowest inertia
        is kept.  'auto' means 1 run for 'k-means++' or an array ``init`` and
        10 runs for 'random' or a callable.

    max_iter : int, default=300
        Maximum number of iterations of one run.

    tol : float, default=1e-4
        Relative tolerance: a run stops when the sum over clusters of the
        squared centre shift is at most ``tol`` times the mean per-feature
        variance of ``X``.  A run also stops, whatever ``tol``, as soon as no
        label changes (strict convergence).

    verbose : int, default=0
        Verbosity mode; prints the same lines as scikit-learn's ``KMeans``.

    random_state : int, RandomState instance or None, default=None
        Determines the random numbers of the initialization.  Use an int for
        reproducible results.  The result does not depend on the number of
        threads.

    copy_x : bool, default=True
        Kept for compatibility with scikit-learn, where it decides whether
        ``X`` is centred in a copy or in place.  Here dense data is centred on
        the fly, block by block: ``X`` is neither copied (when already a
        C-contiguous float array) nor modified, whatever ``copy_x``.

    Attributes
    ----------
    cluster_centers_ : ndarray of shape (n_clusters, n_features)
        Coordinates of the cluster centres, in the dtype of the validated
        ``X`` (float32 stays float32).

    labels_ : ndarray of shape (n_samples,), dtype=int32
        Label of each training sample; always equal to ``predict(X)``.

    inertia_ : float
        Weighted sum of squared distances of the samples to their closest
        cluster centre.

    n_iter_ : int
        Number of iterations of the best run.

    n_features_in_ : int
        Number of features seen during :term:`fit`.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit`.  Defined only when ``X``
        has feature names that are all strings.

    See Also
    --------
    sklearn.cluster.KMeans : The scikit-learn estimator this one mirrors.
    KSelector : Choose ``n_clusters`` by the gap statistic or silhouette.

    Notes
    -----
    Each iteration costs O(n_samples * n_clusters * n_features).  Lloyd's
    algorithm converges to a local minimum of the inertia only; k-means++
    seeding (and several runs, ``n_init``) make a good one likely.

    Deliberate differences from scikit-learn 1.9: negative sample weights are
    rejected; ``predict``/``score`` accept data of either float dtype (they
    compute in the wider one); a callable ``init`` sees uncentred data; a
    cluster whose members all have zero weight counts as empty and, like an
    empty cluster, takes the farthest sample of positive weight.

    Exact ties: a sample exactly as far from two centres goes to the lower
    index (as ``numpy.argmin``), in every kernel, dense or sparse, in memory
    or on Dask.  Dense data are centred on their mean rounded to a coarse
    power-of-two grid, so integer-valued data keep exact distances and exact
    ties.  scikit-learn's rounding may break exact ties differently, so "the
    same iterates" holds where no exact tie occurs.

    Sample weights are scaled by a power of two (exactly) before use, so
    weights of any scale in the float range give the same centres and labels;
    ``inertia_`` is scaled back (``inf``, with a warning, if it exceeds the
    float range).  ``labels_`` and ``inertia_`` are computed from the returned
    ``cluster_centers_`` as ``predict`` and ``score`` compute them, so
    ``labels_ == predict(X)`` and ``inertia_ == -score(X)`` even far from the
    origin.

    References
    ----------
    S. Lloyd, "Least squares quantization in PCM", IEEE Transactions on
    Information Theory 28(2), 1982.

    D. Arthur and S. Vassilvitskii, "k-means++: the advantages of careful
    seeding", SODA 2007.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_kmeans_lab import LloydKMeans
    >>> X = np.array([[1, 2], [1, 4], [1, 0],
    ...               [10, 2], [10, 4], [10, 0]])
    >>> km = LloydKMeans(n_clusters=2, random_state=0).fit(X)
    >>> km.labels_
    array([1, 1, 1, 0, 0, 0], dtype=int32)
    >>> km.predict([[0, 0], [12, 3]])
    array([1, 0], dtype=int32)
    >>> km.cluster_centers_
    array([[10.,  2.],
           [ 1.,  2.]])
    """

    _parameter_constraints: dict = {
        "n_clusters": [Interval(Integral, 1, None, closed="left")],
        "init": [StrOptions({"k-means++", "random"}), callable, "array-like"],
        "n_init": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "random_state": ["random_state"],
        "copy_x": ["boolean"],
    }

    def __init__(
        self,
        n_clusters=8,
        *,
        init="k-means++",
        n_init="auto",
        max_iter=300,
        tol=1e-4,
        verbose=0,
        random_state=None,
        copy_x=True,
    ):
        self.n_clusters = n_clusters
        self.init = init
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.verbose = verbose
        self.random_state = random_state
        self.copy_x = copy_x

    # -- validation ------------------------------------------------------

    def _check_params_vs_input(self, X, variances):
        """Resolve the settings that depend on the data into private attributes."""
        if X.shape[0] < self.n_clusters:
            raise ValueError(
                f"n_samples={X.shape[0]} should be >= n_clusters={self.n_clusters}."
            )
        # tol scaled by the mean per-feature variance of X (0 stays 0)
        self._tol = 0 if self.tol == 0 else np.mean(variances) * self.tol
        if self.n_init == "auto":
            explicit = _is_arraylike_not_scalar(self.init) or (
                isinstance(self.init, str) and self.init == "k-means++"
            )
            self._n_init = 1 if explicit else 10
        else:
            self._n_init = self.n_init
        if _is_arraylike_not_scalar(self.init) and self._n_init != 1:
            warnings.warn(
                "Explicit initial center position passed: performing only"
                f" one init in {self.__class__.__name__} instead of "
                f"n_init={self._n_init}.",
                RuntimeWarning,
                stacklevel=3,
            )
            self._n_init = 1

    def _validate_center_shape(self, X, centers):
        if centers.shape[0] != self.n_clusters:
            raise ValueError(
                f"The shape of the initial centers {centers.shape} does not "
                f"match the number of clusters {self.n_clusters}."
            )
        if centers.shape[1] != X.shape[1]:
            raise ValueError(
                f"The shape of the initial centers {centers.shape} does not "
                f"match the number of features of the data {X.shape[1]}."
            )

    def _check_test_data(self, X):
        X = validate_data(
            self,
            X,
            accept_sparse="csr",
            reset=False,
            dtype=[np.float64, np.float32],
            order="C",
            accept_large_sparse=False,
        )
        return X

    def _centers_for(self, X):
        """The fitted centres in a dtype that can serve ``X`` (the wider one)."""
        dtype = np.result_type(X.dtype, self.cluster_centers_.dtype)
        centers = self.cluster_centers_.astype(dtype, copy=False)
        return X.astype(dtype, copy=False), centers

    # -- fitting ---------------------------------------------------------

    def _initial_centers(self, X, X_mean, sample_weight, random_state, order):
        if isinstance(self.init, str) and self.init == "k-means++":
            centers, _ = kmeans_plusplus_centers(
                X, self.n_clusters, sample_weight, None, random_state, order,
                x_offset=X_mean,
            )  # fmt: skip
            return centers
        if isinstance(self.init, str) and self.init == "random":
            n_positive = (
                X.shape[0] if sample_weight is None else np.count_nonzero(sample_weight)
            )
            if n_positive < self.n_clusters:
                raise ValueError(
                    "init='random' needs at least n_clusters="
                    f"{self.n_clusters} samples with a non-zero sample_weight; "
                    f"got {n_positive}."
                )
            return random_centers(
                X, self.n_clusters, sample_weight, random_state, order,
                x_offset=X_mean,
            )  # fmt: skip
        raise AssertionError("array and callable inits are resolved before centring")

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, sample_weight=None):
        """Compute k-means clustering.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training instances to cluster.  Converted to C-ordered float64
            (float32 is kept); sparse input is converted to CSR.

        y : Ignored
            Not used, present here for API consistency by convention.

        sample_weight : array-like of shape (n_samples,), default=None
            The weights for each observation in X.  If None, all observations
            are assigned equal weight.  Must be non-negative with at least one
            positive value.  Not used by an array or callable ``init``.

        Returns
        -------
        self : object
            Fitted estimator.
        """
        if _is_dask_collection(X):
            return dask_fit(self, X, sample_weight)
        X = validate_data(
            self,
            X,
            accept_sparse="csr",
            dtype=[np.float64, np.float32],
            order="C",
            copy=False,  # never written to: centred on the fly
            accept_large_sparse=False,
        )
        means, variances = _column_stats(X)
        self._check_params_vs_input(X, variances)
        random_state = check_random_state(self.random_state)
        # None stays None: the kernels' unweighted path, and no array of ones
        weight_exponent = 0
        if sample_weight is not None:
            sample_weight, weight_exponent = _scaled_sample_weight(sample_weight, X)
        self._n_threads = effective_n_threads()

        # Array and callable inits are read in the caller's coordinates, so
        # they are resolved before the data is centred.
        fixed_inits = None
        if _is_arraylike_not_scalar(self.init):
            init = check_array(self.init, dtype=X.dtype, copy=True, order="C")
            self._validate_center_shape(X, init)
            fixed_inits = [init]
        elif callable(self.init):
            fixed_inits = []
            for _ in range(self._n_init):
                init = self.init(X, self.n_clusters, random_state=random_state)
                init = check_array(init, dtype=X.dtype, copy=True, order="C")
                self._validate_center_shape(X, init)
                fixed_inits.append(init)

        # Centring makes ||c||^2 - 2<x, c> accurate for data far from 0; the
        # kernels subtract X_mean on the fly, and work in centred coordinates.
        # The mean is rounded to a coarse binary grid (``centring_offset``):
        # as accurate, and exact ties in integer data stay exact.
        X_mean = None
        if not sp.issparse(X):
            X_mean = centring_offset(means, np.sqrt(variances)).astype(X.dtype)
        best = self._best_of_runs(X, sample_weight, random_state, fixed_inits, X_mean)
        best_labels, best_inertia, best_centers, best_n_iter = best
        if X_mean is not None:
            # Adding the offset back rounds the centres: the labels and the
            # inertia are those of the returned centres, computed as predict
            # and score compute them, so that labels_ == predict(X) and
            # inertia_ == -score(X) on any data.
            best_centers += X_mean
            best_labels, best_inertia = assign_labels(
                X,
                best_centers,
                sample_weight=sample_weight,
                want_inertia=True,
                n_threads=self._n_threads,
            )
        best_inertia = unscaled_inertia(best_inertia, weight_exponent, 4)

        distinct_clusters = count_distinct_labels(best_labels, self.n_clusters)
        if distinct_clusters < self.n_clusters:
            warnings.warn(
                f"Number of distinct clusters ({distinct_clusters}) found smaller "
                f"than n_clusters ({self.n_clusters}). Possibly due to duplicate "
                "points in X.",
                ConvergenceWarning,
                stacklevel=2,
            )

        self.cluster_centers_ = best_centers
        self._n_features_out = self.cluster_centers_.shape[0]
        self.labels_ = best_labels
        self.inertia_ = float(best_inertia)
        self.n_iter_ = int(best_n_iter)
        return self

    def _best_of_runs(self, X, sample_weight, random_state, fixed_inits, X_mean):
        order = None
        if fixed_inits is None:
            order = canonical_order(X)
        best = None
        for run in range(self._n_init):
            if fixed_inits is None:
                centers_init = self._initial_centers(
                    X, X_mean, sample_weight, random_state, order
                )
                if run == self._n_init - 1:
                    order = None  # its memory is not needed by the last run
            else:
                centers_init = fixed_inits[run]
                if X_mean is not None:
                    centers_init = centers_init - X_mean
            if self.verbose:
                print("Initialization complete")
            result = lloyd_single_run(
                X,
                sample_weight,
                centers_init,
                max_iter=self.max_iter,
                tol=self._tol,
                verbose=self.verbose,
                n_threads=self._n_threads,
                x_offset=X_mean,
                # fit recomputes the labels and inertia of dense data from
                # the returned centres; runs are compared only if n_init > 1
                final_pass=X_mean is None or self._n_init > 1,
            )
            # A later run wins only if strictly better and a different
            # partition (equal partitions differ in inertia by rounding only).
            if best is None or (
                result[1] < best[1]
                and not _is_same_clustering(result[0], best[0], self.n_clusters)
            ):
                best = result
        return best

    # -- prediction ------------------------------------------------------

    def fit_predict(self, X, y=None, sample_weight=None):
        """Compute cluster centres and predict the cluster of each sample.

        Equivalent to ``fit(X).labels_``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training instances to cluster.

        y : Ignored
            Not used, present here for API consistency by convention.

        sample_weight : array-like of shape (n_samples,), default=None
            The weights for each observation in X.

        Returns
        -------
        labels : ndarray of shape (n_samples,), dtype=int32
            Index of the cluster each sample belongs to.
        """
        return self.fit(X, sample_weight=sample_weight).labels_

    def predict(self, X):
        """Predict the closest cluster each sample in X belongs to.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            New data to predict.  Either float dtype is accepted, whatever the
            dtype seen in ``fit``.

        Returns
        -------
        labels : ndarray of shape (n_samples,), dtype=int32
            Index of the cluster each sample belongs to.
        """
        check_is_fitted(self)
        if _is_dask_collection(X):
            return dask_predict(self, X)
        X, centers = self._centers_for(self._check_test_data(X))
        labels, _ = assign_labels(X, centers, n_threads=effective_n_threads())
        return labels

    def fit_transform(self, X, y=None, sample_weight=None):
        """Compute clustering and transform X to cluster-distance space.

        Equivalent to ``fit(X).transform(X)``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training instances to cluster.

        y : Ignored
            Not used, present here for API consistency by convention.

        sample_weight : array-like of shape (n_samples,), default=None
            The weights for each observation in X.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_clusters)
            Euclidean distance of each sample to each centre.
        """
        return self.fit(X, sample_weight=sample_weight)._transform(X)

    def transform(self, X):
        """Transform X to a cluster-distance space.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            New data to transform.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_clusters)
            Euclidean distance of each sample to each centre (dense even for
            sparse ``X``).
        """
        check_is_fitted(self)
        return self._transform(X)

    def _transform(self, X):
        if _is_dask_collection(X):
            return dask_transform(self, X)
        X, centers = self._centers_for(self._check_test_data(X))
        return distances_to_centers(X, centers)

    def score(self, X, y=None, sample_weight=None):
        """Opposite of the value of X on the K-means objective.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            New data.

        y : Ignored
            Not used, present here for API consistency by convention.

        sample_weight : array-like of shape (n_samples,), default=None
            The weights for each observation in X.

        Returns
        -------
        score : float
            Minus the weighted sum of squared distances of the samples to
            their closest centre.  Greater is better, so model selection by
            this score always prefers more clusters: use
            :func:`silhouette_scorer` or :class:`KSelector` to choose K.
        """
        check_is_fitted(self)
        if _is_dask_collection(X):
            return dask_score(self, X, sample_weight)
        X, centers = self._centers_for(self._check_test_data(X))
        sample_weight, weight_exponent = _scaled_sample_weight(sample_weight, X)
        _, inertia = assign_labels(
            X,
            centers,
            sample_weight=sample_weight,
            want_inertia=True,
            n_threads=effective_n_threads(),
        )
        return -unscaled_inertia(inertia, weight_exponent, 3)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


# Up to this size, the mean and variance of X are numpy's (as in scikit-learn);
# above it, compiled passes without a copy of X (np.var makes one) and faster
# on few columns.
_NUMPY_STATS_BYTES = 2**24


def _column_stats(X):
    """Mean (in X's dtype) and variance of each column; the variances as
    scikit-learn computes them for its tolerance."""
    if sp.issparse(X):
        means, variances = mean_variance_axis(X, axis=0)
    elif X.nbytes <= _NUMPY_STATS_BYTES:
        means, variances = X.mean(axis=0), np.var(X, axis=0)
    else:  # np.var would hold a centred copy of all of X
        means, variances = column_means(X), column_variances(X)
    return means.astype(X.dtype), variances
