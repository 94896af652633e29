"""``LloydKMeans``: the estimator.

It owns the orchestration, once for every kind of data: validate, resolve the
data-dependent settings (``n_init``, the tolerance), seed, keep the best of
the runs, warn, set the attributes.  What touches the data is a backend's
(``_backends/``): in memory, or on a dask array.
"""

import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    ClusterMixin,
    TransformerMixin,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_array, check_random_state
from sklearn.utils.validation import check_is_fitted

from sklearn_kmeans_lab._backends import backend_for, unscaled_inertia
from sklearn_kmeans_lab._compat import (
    Interval,
    StrOptions,
    _fit_context,
    _is_arraylike_not_scalar,
)
from sklearn_kmeans_lab._doc_link import DocLinkMixin

DISTANCE_OVERFLOW_MESSAGE = (
    "The squared distances between the samples of X and the cluster centres "
    "overflow X's dtype: k-means cannot compare them. Scale X down (for example "
    "with StandardScaler) before fitting."
)


def _check_distances_in_range(data, centers):
    """Raise where a sample's squared distance to a centre can overflow X's
    dtype: its labels would then be argmins over infinities (k-means++
    checks the same before its first draw).

    Called only when the inertia is not finite, for the cost of a pass over
    X: ``||x - c|| <= max ||x - o|| + max ||c - o||`` for any origin ``o``
    (the data's offset), so where the square of that bound is in range, no
    distance overflowed and only their sum did.
    """
    origin = 0.0 if data.offset is None else data.offset
    centres = np.asarray(centers, dtype=np.float64) - origin
    reach = data.largest_row_norm() + float(np.sqrt((centres**2).sum(axis=1).max()))
    if not reach * reach < np.finfo(data.X.dtype).max:  # NaN centres too
        raise ValueError(DISTANCE_OVERFLOW_MESSAGE)


class LloydKMeans(
    DocLinkMixin,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    ClusterMixin,
    BaseEstimator,
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
    empty cluster, takes the farthest sample of positive weight; a fit raises
    a ``ValueError`` when the squared distances between the samples overflow
    X's dtype (scikit-learn goes on with infinite distances): k-means++
    before its first draw, the other inits once the run has labelled every
    sample.  An ``inertia_`` of ``inf`` with finite distances (only their sum
    overflows) is returned as it is.

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

    def _check_params_vs_input(self, data):
        """Resolve the settings that depend on the data into private attributes."""
        if data.n_samples < self.n_clusters:
            raise ValueError(
                f"n_samples={data.n_samples} should be >= n_clusters={self.n_clusters}."
            )
        # tol is relative to the mean per-feature variance of X (0 stays 0)
        self._tol = 0 if self.tol == 0 else np.mean(data.feature_variances()) * self.tol
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
                stacklevel=4,
            )
            self._n_init = 1
        if isinstance(self.init, str) and self.init == "random":
            if data.n_positive_weights < self.n_clusters:
                raise ValueError(
                    "init='random' needs at least n_clusters="
                    f"{self.n_clusters} samples with a non-zero sample_weight; "
                    f"got {data.n_positive_weights}."
                )

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

    def _fixed_inits(self, X, random_state):
        """The initial centres of an array or callable ``init``, one per run,
        in the caller's coordinates; None for a string ``init``."""
        if _is_arraylike_not_scalar(self.init):
            inits = [self.init]
        elif callable(self.init):
            inits = [
                self.init(X, self.n_clusters, random_state=random_state)
                for _ in range(self._n_init)
            ]
        else:
            return None
        checked = []
        for init in inits:
            init = check_array(init, dtype=X.dtype, copy=True, order="C")
            self._validate_center_shape(X, init)
            checked.append(init)
        return checked

    def _initial_centers(self, data, random_state):
        """The centred initial centres of every start, (n_init, k, d): an
        array or callable ``init``'s, or the backend's seeds."""
        fixed_inits = self._fixed_inits(data.X, random_state)
        if fixed_inits is None:
            return data.starts(
                self.init,
                self.n_clusters,
                random_state,
                self._n_init,
                max_iter=self.max_iter,
                tol=self._tol,
            )
        centers = np.array(fixed_inits)
        if data.offset is not None:
            centers -= data.offset
        return centers

    def _best_run(self, data, initial_centers, with_inertia=False):
        """The best of the runs from ``initial_centers`` (centred), a
        ``RunResult`` in the data's centred coordinates.

        Its ``inertia`` is the run's own (of its final labels, centred as the
        run centres the data); with one start it is computed only if
        ``with_inertia`` (the fit does not need it: ``inertia_`` is that of
        the returned centres, computed as ``score`` computes it).
        """
        several_runs = len(initial_centers) > 1 or with_inertia
        best = None
        # In memory, the runs of every start of a quiet fit of dense data
        # run in one compiled call (``FitData.best_of_runs``): the runs of
        # this loop, the same choice; elsewhere the backend answers None
        if not self.verbose:
            best = data.best_of_runs(
                initial_centers,
                max_iter=self.max_iter,
                tol=self._tol,
                final_pass=several_runs,
            )
        for centers_init in initial_centers if best is None else ():
            if self.verbose:
                print("Initialization complete")
            result = data.lloyd_run(
                centers_init,
                max_iter=self.max_iter,
                tol=self._tol,
                verbose=self.verbose,
                several_runs=several_runs,
            )
            # A later run wins only if strictly better and a different
            # partition (equal partitions differ in inertia by rounding only).
            if best is None or (
                result.inertia < best.inertia and not data.same_clustering(result, best)
            ):
                best = result
        return best

    def _test_data(self, X):
        """The backend for ``X``, ``X`` validated, and the fitted centres in
        a dtype that can serve it (the wider one)."""
        check_is_fitted(self)
        backend = backend_for(X)
        X = backend.check_test_data(self, X)
        dtype = np.result_type(X.dtype, self.cluster_centers_.dtype)
        return backend, X, self.cluster_centers_.astype(dtype, copy=False)

    # -- fitting ---------------------------------------------------------

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, sample_weight=None):
        """Compute k-means clustering.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array} of shape (n_samples, n_features)
            Training instances to cluster.  Converted to C-ordered float64
            (float32 is kept); sparse input is converted to CSR.  A dask
            array stays distributed (see :ref:`user_guide_dask`).

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
        return self._fit(backend_for(X).check_fit_data(self, X, sample_weight))

    def _fit(self, data, initial_centers=None):
        """The body of ``fit``, on data a backend has validated.

        ``KSelector``'s engine (``_engine.py``) calls it with data prepared
        once for many fits and, for the starts, ``initial_centers``
        (n_init, n_clusters, n_features) in the data's centred coordinates.
        """
        self._check_params_vs_input(data)
        if initial_centers is None:
            random_state = check_random_state(self.random_state)
            initial_centers = self._initial_centers(data, random_state)
        best = self._best_run(data, initial_centers)
        centers = best.centers
        if data.offset is not None:
            centers = centers + data.offset
        labels, inertia = data.final_labels_and_inertia(best, centers)
        if not inertia < np.inf:  # a distance, or only their sum, overflowed
            _check_distances_in_range(data, centers)
        inertia = unscaled_inertia(inertia, data.weight_exponent, stacklevel=4)

        distinct_clusters = data.n_distinct_clusters(best, labels)
        if distinct_clusters < self.n_clusters:
            warnings.warn(
                f"Number of distinct clusters ({distinct_clusters}) found smaller "
                f"than n_clusters ({self.n_clusters}). Possibly due to duplicate "
                "points in X.",
                ConvergenceWarning,
                stacklevel=3,
            )
        self.labels_ = labels
        self.cluster_centers_ = centers
        self._n_features_out = self.cluster_centers_.shape[0]
        self.inertia_ = inertia
        self.n_iter_ = int(best.n_iter)
        return self

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
        backend, X, centers = self._test_data(X)
        return backend.predict(X, centers)

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
        return self._transform(X)

    def _transform(self, X):
        backend, X, centers = self._test_data(X)
        return backend.transform(X, centers)

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
        backend, X, centers = self._test_data(X)
        inertia, weight_exponent = backend.inertia(X, centers, sample_weight)
        return -unscaled_inertia(inertia, weight_exponent, stacklevel=3)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
