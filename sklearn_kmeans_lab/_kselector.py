"""``KSelector``: choose the number of clusters of any clusterer.

The selector fits the wrapped clusterer at every K of ``k_range``, scores each
fit by the gap statistic (the default; see ``_gap.py``) or by a
``sklearn.metrics`` clustering index, picks K, and keeps the fit at that K.
It uses only the public API of the clusterer (``set_params``, ``fit_predict``,
``inertia_`` when there is one), so ``GaussianMixture`` or a ``Pipeline``
work as well as ``LloydKMeans``.
"""

import warnings
from numbers import Integral, Real
from typing import NamedTuple

import numpy as np
from sklearn import config_context
from sklearn.base import BaseEstimator, ClusterMixin, MetaEstimatorMixin, clone
from sklearn.metrics import (
    calinski_harabasz_score,
    davies_bouldin_score,
    silhouette_score,
)
from sklearn.utils import check_random_state, get_tags
from sklearn.utils.metaestimators import available_if
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import check_is_fitted, has_fit_parameter, validate_data

from sklearn_kmeans_lab._backends import is_dask_collection
from sklearn_kmeans_lab._backends.memory import check_sample_weight
from sklearn_kmeans_lab._compat import (
    HasMethods,
    Interval,
    StrOptions,
    _check_feature_names_in,
    _fit_context,
    _wrap_data_with_container,
)
from sklearn_kmeans_lab._gap import (
    MAX_SE_METHODS,
    draw_reference_sets,
    gap_statistic,
    max_se,
    reference_box,
    within_dispersion,
)
from sklearn_kmeans_lab._kmeans import LloydKMeans
from sklearn_kmeans_lab._kselector_dask import check_dask_test_data, fit_on_dask

_CRITERIA = ("gap", "silhouette", "calinski_harabasz", "davies_bouldin")
# The clustering indices computed on the data at every K.
_INDEX_COLUMNS = ("silhouette", "calinski_harabasz", "davies_bouldin")
_RESULT_COLUMNS = (
    "inertia",
    "log_w",
    "ref_log_w_mean",
    "gap",
    "gap_se",
    *_INDEX_COLUMNS,
)
_SEED_MAX = np.iinfo(np.int32).max


class _Settings(NamedTuple):
    """What every fitting task needs besides its data, K and seed."""

    param_name: str
    d_power: float
    log_w_floor: float
    criterion: str
    silhouette_sample_size: int | None


def _configured(estimator, param_name, k, seed):
    """A clone of ``estimator`` with K clusters and every ``random_state`` set."""
    est = clone(estimator)
    params = {param_name: int(k)}
    # Every nested random_state too (e.g. "kmeans__random_state" in a
    # Pipeline), as sklearn's ensembles seed their members.
    for name in est.get_params(deep=True):
        if name == "random_state" or name.endswith("__random_state"):
            params[name] = int(seed)
    return est.set_params(**params)


def _fit_labels(est, X, sample_weight, param_name, k, where):
    """Fit ``est`` and return its labels, naming K and the data if it fails."""
    fit_params = {} if sample_weight is None else {"sample_weight": sample_weight}
    try:
        if hasattr(est, "fit_predict"):
            return np.asarray(est.fit_predict(X, **fit_params))
        est.fit(X, **fit_params)
        labels = getattr(est, "labels_", None)
        return np.asarray(est.predict(X) if labels is None else labels)
    except Exception as exc:
        raise RuntimeError(
            f"Fitting {type(est).__name__} with {param_name}={k} on {where} "
            f"failed: {type(exc).__name__}: {exc}"
        ) from exc


def _log_w(est, X, labels, sample_weight, settings):
    """``log W_k`` of a fitted partition, floored at the rounding level of X.

    For squared distances a k-means fit already knows ``W_k = inertia_ / 2``;
    otherwise ``W_k`` is computed from the labels.  The floor turns a perfect
    partition (duplicate points) into a large finite gap instead of
    ``log(0) = -inf`` and NaN.
    """
    if settings.d_power == 2 and hasattr(est, "inertia_"):
        w = est.inertia_ / 2.0
    else:
        w = within_dispersion(
            X, labels, d_power=settings.d_power, sample_weight=sample_weight
        )
    return float(np.log(max(w, settings.log_w_floor)))


def _fit_data(estimator, X, sample_weight, k, seed, settings):
    """Fit the data at K; return its inertia, log W and clustering indices."""
    row = dict.fromkeys(("inertia", "log_w", *_INDEX_COLUMNS), np.nan)
    if k == 1:
        # One cluster needs no fit: its centre is the (weighted) mean.
        est, labels = None, np.zeros(X.shape[0], dtype=np.int32)
        row["inertia"] = 2.0 * within_dispersion(X, labels, sample_weight=sample_weight)
    else:
        est = _configured(estimator, settings.param_name, k, seed)
        labels = _fit_labels(est, X, sample_weight, settings.param_name, k, "X")
        row["inertia"] = float(getattr(est, "inertia_", np.nan))
    if settings.criterion == "gap":
        row["log_w"] = _log_w(est, X, labels, sample_weight, settings)
    n_labels = np.unique(labels).size
    if 2 <= n_labels < X.shape[0]:
        # The indices are defined for 2 .. n_samples - 1 distinct labels; they
        # take no sample weights (sklearn.metrics has none for them).
        row["calinski_harabasz"] = calinski_harabasz_score(X, labels)
        row["davies_bouldin"] = davies_bouldin_score(X, labels)
        if settings.criterion == "silhouette":
            row["silhouette"] = silhouette_score(
                X,
                labels,
                sample_size=settings.silhouette_sample_size,
                random_state=seed,
            )
    return row


def _fit_reference(estimator, Z, sample_weight, k, seed, settings, b):
    """``log W*_k`` of reference set ``b``."""
    if k == 1:
        return _log_w(None, Z, np.zeros(Z.shape[0]), sample_weight, settings)
    est = _configured(estimator, settings.param_name, k, seed)
    where = f"reference set {b}"
    labels = _fit_labels(est, Z, sample_weight, settings.param_name, k, where)
    return _log_w(est, Z, labels, sample_weight, settings)


def _estimator_has(attr):
    """Whether the fitted (else the unfitted) clusterer has ``attr``."""

    def check(self):
        if hasattr(self, "best_estimator_"):
            getattr(self.best_estimator_, attr)
        else:
            getattr(self._estimator(), attr)
        return True

    return check


class KSelector(ClusterMixin, MetaEstimatorMixin, BaseEstimator):
    """Choose the number of clusters by the gap statistic or a clustering index.

    Fits a clusterer at every K of ``k_range``, scores each fit and keeps the
    best: by the gap statistic of Tibshirani, Walther and Hastie (2001),
    computed exactly as R's ``cluster::clusGap`` and chosen with one of the
    rules of ``cluster::maxSE``, or by the silhouette, Calinski-Harabasz or
    Davies-Bouldin index of :mod:`sklearn.metrics`.  The selector then behaves
    as the clusterer fitted at that K (``predict``, ``transform``, ``score``).

    Read more in the :ref:`User Guide <selecting_k>`.

    Parameters
    ----------
    estimator : estimator object, default=None
        The clusterer; it must have the parameter ``param_name``.  None means
        ``LloydKMeans(n_init=10)``: ``W_k`` must come from a good clustering,
        and a single k-means++ start is not enough (with one start the gap on
        three clean blobs is off by about 0.4 and K is wrong; R users pass
        ``nstart = 20`` to ``kmeans`` for the same reason).

    k_range : array-like of int, default=(1, 2, ..., 10)
        The candidate numbers of clusters (sorted, duplicates dropped).  Values
        above ``n_samples`` are dropped with a warning.  K=1 is a candidate of
        the gap statistic only; the other criteria need K >= 2.

    criterion : {"gap", "silhouette", "calinski_harabasz", "davies_bouldin"}, \
            default="gap"
        How K is chosen: the gap statistic with ``rule``; or the maximum
        silhouette, the maximum Calinski-Harabasz index, the minimum
        Davies-Bouldin index.

    n_refs : int, default=20
        Number ``B`` of reference data sets of the gap statistic.  The same
        ``B`` sets serve every K, as in ``clusGap``.

    reference : {"pca", "uniform"}, default="pca"
        Reference distribution of the gap statistic: uniform on the box of
        the centred data rotated onto its principal axes ("pca", R's
        ``spaceH0="scaledPCA"`` -- centred, not scaled, despite R's name), or
        uniform on the range of each feature ("uniform", R's
        ``spaceH0="original"``).

    rule : {"Tibs2001SEmax", "firstSEmax", "globalSEmax", "firstmax", \
            "globalmax"}, default="Tibs2001SEmax"
        Rule of R's ``maxSE`` that chooses K from the gap curve; see
        :func:`max_se`.  The default is the rule of the gap statistic paper:
        the smallest K with ``gap(K) >= gap(K+1) - s(K+1)``.

    se_factor : float, default=1.0
        Multiplier of the standard errors in ``rule`` (R's ``SE.factor``).

    d_power : float, default=2
        Power of the Euclidean distances in ``W_k``.  2 (Tibshirani's choice)
        makes ``W_k`` half the within-cluster sum of squares, read from the
        clusterer's ``inertia_`` or computed in O(n_samples * n_features);
        any other value (R's default is 1) sums all within-cluster pairs, in
        O(n_samples ** 2 * n_features) time per fit, in blocks of bounded
        memory.

    param_name : str, default="n_clusters"
        Name of the parameter of ``estimator`` that sets K (e.g.
        ``"n_components"`` for ``GaussianMixture``, ``"kmeans__n_clusters"``
        for a ``Pipeline``).

    silhouette_sample_size : int, default=None
        With ``criterion="silhouette"``, compute each silhouette on a random
        subset of this many samples (O(size ** 2) instead of O(n_samples ** 2));
        None uses all samples.

    sample_size : int, default=100_000
        For a Dask array ``X`` only: K is chosen on a uniform sample of this
        many rows (drawn without replacement in one pass over the blocks),
        then ``LloydKMeans`` is fitted at that K on all of ``X``,
        distributed; see :ref:`dask_kselector`.  In-memory ``X`` is always
        used whole.

    n_jobs : int, default=None
        Number of jobs running the fits (every (K, reference set) pair is
        one task) in parallel with joblib.  None means 1 unless in a
        :func:`joblib.parallel_config` context; -1 means all processors.
        Results do not depend on it.

    random_state : int, RandomState instance or None, default=None
        Seeds the reference sets and the clusterer of every fit (drawn up
        front, so the result is the same for any ``n_jobs`` or joblib
        backend).  Use an int for reproducible results.

    verbose : int, default=0
        If positive, print one line per K and the choice.

    Attributes
    ----------
    n_clusters_ : int
        The chosen number of clusters.

    best_estimator_ : estimator object
        The clusterer fitted on all of ``X`` at ``n_clusters_`` (the same fit,
        with the same seed, as the one that was scored).

    labels_ : ndarray of shape (n_samples,)
        Labels of the training samples by ``best_estimator_``.

    cluster_centers_ : ndarray of shape (n_clusters, n_features)
        ``best_estimator_.cluster_centers_`` (``n_clusters`` is
        ``n_clusters_``); defined only when the clusterer has cluster
        centres.

    results_ : dict of ndarray of shape (n_k,)
        One entry per K (``pd.DataFrame(results_)`` gives a table): ``k``;
        ``inertia`` (the clusterer's ``inertia_``; at K=1 the total weighted
        sum of squares); ``log_w`` (``log W_k`` of ``clusGap``: ``W_k`` is
        half the inertia for ``d_power=2``); ``ref_log_w_mean``
        (``E*[log W_k]``); ``gap``; ``gap_se`` (``s_k``); ``silhouette``;
        ``calinski_harabasz``; ``davies_bouldin``.  Values that were not
        computed are NaN: the gap columns are computed for ``criterion="gap"``
        only, the silhouette for ``criterion="silhouette"`` only, the two
        cheap indices always for K >= 2.

    n_features_in_ : int
        Number of features seen during :term:`fit`.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit`.  Defined only when ``X``
        has feature names that are all strings.

    See Also
    --------
    max_se : The rules that choose K from the gap curve.
    silhouette_scorer : Score clusterers in ``GridSearchCV`` instead.
    LloydKMeans : The default clusterer.

    Notes
    -----
    The gap statistic, as ``clusGap`` computes it: ``W_k = sum_r D_r / (2 n_r)``
    with ``D_r`` the sum of ``||x_i - x_j|| ** d_power`` over the pairs
    ``i < j`` of cluster ``r``; ``gap(k) = mean_b log W*_kb - log W_k`` over
    ``B = n_refs`` reference sets; ``s_k = sd_b(log W*_kb) * sqrt(1 + 1/B)``
    (``n - 1`` denominator).  K=1 needs no fit.  Each reference set is fitted
    with a clone of ``estimator`` (with its own ``n_init``).  Cost: ``n_k``
    fits of the data and ``n_k * n_refs`` fits of reference sets of the same
    size (one fewer each when K=1 is a candidate); the reference sets are
    drawn up front and held in memory, ``n_refs * n_samples * n_features``
    values.

    Sample weights are frequency weights: a pair of samples counts
    ``w_i * w_j`` times in ``D_r`` and ``n_r`` is the weight of the cluster
    (so for ``d_power=2``, ``W_k`` is half the weighted inertia).  The
    reference box is that of the samples of positive weight around the
    weighted mean (weighted principal axes), and every reference set carries
    the weights of ``X``, so multiplying all weights by a constant changes
    nothing.  The silhouette, Calinski-Harabasz and Davies-Bouldin indices
    ignore weights.

    Data with no spread (all samples identical) has ``W_k = 0`` for every K;
    the smallest K of ``k_range`` is chosen, with a warning.  A partition into
    identical points has ``W_k`` at the rounding level of ``X``; ``log W_k``
    is floored there, so its gap is large but finite.

    Only dense input is supported.

    References
    ----------
    R. Tibshirani, G. Walther and T. Hastie, "Estimating the number of
    clusters in a data set via the gap statistic", Journal of the Royal
    Statistical Society B 63(2), 411-423, 2001.

    M. Maechler, P. Rousseeuw, A. Struyf, M. Hubert and K. Hornik, "cluster:
    Cluster Analysis Basics and Extensions", R package (``clusGap``,
    ``maxSE``).

    Examples
    --------
    >>> from sklearn.datasets import make_blobs
    >>> from sklearn_kmeans_lab import KSelector, LloydKMeans
    >>> X, _ = make_blobs(n_samples=150, centers=3, random_state=0)
    >>> selector = KSelector(LloydKMeans(n_init=3), k_range=range(1, 6),
    ...                      n_refs=5, random_state=0).fit(X)
    >>> selector.n_clusters_
    3
    >>> selector.predict(X[:4])
    array([...], dtype=int32)
    """

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit", "set_params"]), None],
        "k_range": ["array-like"],
        "criterion": [StrOptions(set(_CRITERIA))],
        "n_refs": [Interval(Integral, 2, None, closed="left")],
        "reference": [StrOptions({"uniform", "pca"})],
        "rule": [StrOptions(set(MAX_SE_METHODS))],
        "se_factor": [Interval(Real, 0, None, closed="left")],
        "d_power": [Interval(Real, 0, None, closed="neither")],
        "param_name": [str],
        "silhouette_sample_size": [Interval(Integral, 2, None, closed="left"), None],
        "sample_size": [Interval(Integral, 2, None, closed="left")],
        "n_jobs": [Integral, None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        estimator=None,
        *,
        k_range=(1, 2, 3, 4, 5, 6, 7, 8, 9, 10),
        criterion="gap",
        n_refs=20,
        reference="pca",
        rule="Tibs2001SEmax",
        se_factor=1.0,
        d_power=2,
        param_name="n_clusters",
        silhouette_sample_size=None,
        sample_size=100_000,
        n_jobs=None,
        random_state=None,
        verbose=0,
    ):
        self.estimator = estimator
        self.k_range = k_range
        self.criterion = criterion
        self.n_refs = n_refs
        self.reference = reference
        self.rule = rule
        self.se_factor = se_factor
        self.d_power = d_power
        self.param_name = param_name
        self.silhouette_sample_size = silhouette_sample_size
        self.sample_size = sample_size
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    def _estimator(self):
        """The clusterer to clone: ``estimator``, or the default."""
        return LloydKMeans(n_init=10) if self.estimator is None else self.estimator

    def _candidate_ks(self, n_samples):
        """Validated, sorted K values, those above ``n_samples`` dropped."""
        ks = np.asarray(list(self.k_range))
        if ks.ndim != 1 or ks.size == 0:
            raise ValueError(
                "k_range must be a non-empty 1-D sequence of ints; got "
                f"{self.k_range!r}."
            )
        if not np.issubdtype(ks.dtype, np.integer) or (ks < 1).any():
            raise ValueError(f"k_range must contain ints >= 1; got {self.k_range!r}.")
        ks = np.unique(ks).astype(np.int64)
        if self.criterion != "gap" and not (ks >= 2).any():
            raise ValueError(
                f"criterion={self.criterion!r} needs K >= 2 (it is undefined for "
                f"a single cluster), but k_range={self.k_range!r} has no K >= 2."
            )
        too_large = ks[ks > n_samples]
        if too_large.size == ks.size:
            raise ValueError(
                f"Every K in k_range={self.k_range!r} exceeds n_samples={n_samples}."
            )
        if too_large.size:
            warnings.warn(
                f"K values {too_large.tolist()} of k_range exceed "
                f"n_samples={n_samples} and are dropped.",
                UserWarning,
                stacklevel=3,
            )
            ks = ks[ks <= n_samples]
        if self.criterion != "gap" and not (ks >= 2).any():
            raise ValueError(
                f"criterion={self.criterion!r} needs K >= 2, but n_samples="
                f"{n_samples} leaves only K=1 in k_range."
            )
        return ks

    @_fit_context(
        # the wrapped estimator's parameters are validated by its own fit
        prefer_skip_nested_validation=False
    )
    def fit(self, X, y=None, sample_weight=None):
        """Fit the clusterer at every K, choose K and keep the fit at that K.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.  Converted to float64 (float32 is kept).

        y : Ignored
            Not used, present here for API consistency by convention.

        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative frequency weights, passed to the clusterer's ``fit``
            and used by the gap statistic (see Notes of the class).

        Returns
        -------
        self : object
            Fitted selector.
        """
        if is_dask_collection(X):  # choose K on a sample, fit K on all of X
            return fit_on_dask(self, X, sample_weight)
        X = validate_data(self, X, dtype=[np.float64, np.float32])
        n_samples, n_features = X.shape
        estimator = self._estimator()
        if self.param_name not in estimator.get_params():
            raise ValueError(
                f"The estimator {type(estimator).__name__} has no parameter "
                f"param_name={self.param_name!r}; set param_name to its "
                "number-of-clusters parameter (e.g. 'n_components' for "
                "GaussianMixture)."
            )
        if sample_weight is not None:
            if not has_fit_parameter(estimator, "sample_weight"):
                raise ValueError(
                    f"sample_weight was given but {type(estimator).__name__}.fit "
                    "does not accept sample_weight."
                )
            sample_weight = check_sample_weight(sample_weight, X)
        ks = self._candidate_ks(n_samples)

        rng = check_random_state(self.random_state)
        # Every seed is drawn here, before any task runs, so that the result
        # cannot depend on n_jobs or on the order the backend runs tasks in;
        # the data's seeds come first so that they do not depend on criterion.
        seeds = rng.randint(_SEED_MAX, size=ks.size)
        positive = slice(None) if sample_weight is None else sample_weight > 0
        spread = float(np.ptp(X[positive], axis=0).max())
        if spread == 0:
            warnings.warn(
                "All samples of X are identical (W_k = 0 for every K); choosing "
                f"the smallest K of k_range, {ks[0]}.",
                UserWarning,
                stacklevel=2,
            )
            results = self._constant_results(ks)
        else:
            results = self._scan(X, sample_weight, ks, seeds, rng, spread, estimator)
        chosen = self._choose(results, constant=spread == 0)

        self.best_estimator_ = _configured(
            estimator, self.param_name, ks[chosen], seeds[chosen]
        )
        self.labels_ = _fit_labels(
            self.best_estimator_, X, sample_weight, self.param_name, ks[chosen], "X"
        )
        if not hasattr(self.best_estimator_, "inertia_"):
            results["inertia"][:] = np.nan
        self.n_clusters_ = int(ks[chosen])
        self.results_ = results
        if self.verbose:
            self._print_results(chosen)
        return self

    def _constant_results(self, ks):
        """``results_`` for data without spread: every W_k is 0."""
        results = {"k": ks}
        for name in _RESULT_COLUMNS:
            results[name] = np.full(ks.size, np.nan)
        results["inertia"][:] = 0.0
        if self.criterion == "gap":
            results["log_w"][:] = -np.inf
            results["ref_log_w_mean"][:] = -np.inf
        return results

    def _scan(self, X, sample_weight, ks, seeds, rng, spread, estimator):
        """Fit every K on X (and on the reference sets); return ``results_``."""
        total_weight = X.shape[0] if sample_weight is None else sample_weight.sum()
        eps = np.finfo(X.dtype).eps
        settings = _Settings(
            param_name=self.param_name,
            d_power=self.d_power,
            log_w_floor=0.5
            * total_weight
            * (eps * spread * np.sqrt(X.shape[1])) ** self.d_power,
            criterion=self.criterion,
            silhouette_sample_size=self.silhouette_sample_size,
        )
        tasks = [
            delayed(_fit_data)(estimator, X, sample_weight, k, seed, settings)
            for k, seed in zip(ks, seeds, strict=True)
        ]
        gap = self.criterion == "gap"
        if gap:
            ref_seeds = rng.randint(_SEED_MAX, size=(self.n_refs, ks.size))
            box = reference_box(
                X, reference=self.reference, sample_weight=sample_weight
            )
            references = draw_reference_sets(
                box, X.shape[0], self.n_refs, random_state=rng, dtype=X.dtype
            )
            tasks += [
                delayed(_fit_reference)(
                    estimator, references[b], sample_weight, k, seed, settings, b
                )
                for b in range(self.n_refs)
                for k, seed in zip(ks, ref_seeds[b], strict=True)
            ]
        outputs = Parallel(n_jobs=self.n_jobs)(tasks)

        rows = outputs[: ks.size]
        results = {"k": ks}
        for name in _RESULT_COLUMNS:
            results[name] = np.array([row.get(name, np.nan) for row in rows], float)
        if gap:
            ref_log_w = np.reshape(outputs[ks.size :], (self.n_refs, ks.size))
            results["gap"], results["ref_log_w_mean"], results["gap_se"] = (
                gap_statistic(results["log_w"], ref_log_w)
            )
        return results

    def _choose(self, results, constant):
        """Index into ``results`` of the chosen K."""
        if constant:
            return 0
        if self.criterion == "gap":
            return max_se(
                results["gap"],
                results["gap_se"],
                method=self.rule,
                se_factor=self.se_factor,
            )
        values = results[self.criterion]
        if np.isnan(values).all():
            raise ValueError(
                f"criterion={self.criterion!r} is undefined for every K of "
                f"k_range: each fit found fewer than 2 or as many clusters as "
                "samples."
            )
        if self.criterion == "davies_bouldin":
            return int(np.nanargmin(values))
        return int(np.nanargmax(values))

    def _print_results(self, chosen):
        """One line per K, then the choice."""
        shown = ["inertia"]
        shown += ["log_w", "gap", "gap_se"] if self.criterion == "gap" else []
        shown += ["silhouette"] if self.criterion == "silhouette" else []
        shown += ["calinski_harabasz", "davies_bouldin"]
        for i, k in enumerate(self.results_["k"]):
            values = ", ".join(f"{name}={self.results_[name][i]:.6g}" for name in shown)
            print(f"[KSelector] K={k}: {values}")
        how = f" with rule={self.rule!r}" if self.criterion == "gap" else ""
        print(f"[KSelector] chose K={self.n_clusters_} by {self.criterion}{how}")

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

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        inner = get_tags(self._estimator())
        # The reference box needs dense data.
        tags.input_tags.sparse = False
        tags.input_tags.allow_nan = False
        tags.transformer_tags = inner.transformer_tags
        tags.non_deterministic = inner.non_deterministic
        return tags
