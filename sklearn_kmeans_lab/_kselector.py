"""``KSelector``: choose the number of clusters of any clusterer.

The selector fits the wrapped clusterer at every K of ``k_range``, scores each
fit by the gap statistic (the default; see ``_gap.py``) or by a
``sklearn.metrics`` clustering index, picks K, and keeps the fit at that K.
It uses only the public API of the clusterer (``set_params``, ``fit_predict``,
``inertia_`` when there is one), so ``GaussianMixture`` or a ``Pipeline``
work as well as ``LloydKMeans``.

This module holds the estimator (its parameters and ``fit``); the checks
before any fit are in ``_kselector_checks``, the fits of one K in
``_kselector_fits``, the scan over K, its bootstrap and the choice in
``_kselector_scan``, what the fitted selector delegates to the chosen
clusterer in ``_kselector_delegation``, and the selection on Dask arrays in
``_kselector_dask``.
"""

import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin, MetaEstimatorMixin
from sklearn.utils import check_random_state, get_tags
from sklearn.utils.validation import validate_data

from sklearn_kmeans_lab._backends import is_dask_collection
from sklearn_kmeans_lab._compat import HasMethods, Interval, StrOptions, _fit_context
from sklearn_kmeans_lab._doc_link import DocLinkMixin
from sklearn_kmeans_lab._gap import MAX_SE_METHODS
from sklearn_kmeans_lab._kmeans import LloydKMeans
from sklearn_kmeans_lab._kselector_checks import (
    CHOICE_CRITERIA,
    candidate_ks,
    check_param_name,
    check_selector_weights,
    check_silhouette_sample_size,
    computed_criteria,
)
from sklearn_kmeans_lab._kselector_dask import fit_on_dask
from sklearn_kmeans_lab._kselector_delegation import BestEstimatorMixin
from sklearn_kmeans_lab._kselector_fits import (
    SEED_MAX,
    chosen_fit,
    configured,
    fit_labels,
)
from sklearn_kmeans_lab._kselector_scan import (
    bootstrap,
    choices,
    choose,
    print_results,
    select,
)


class KSelector(
    DocLinkMixin, BestEstimatorMixin, ClusterMixin, MetaEstimatorMixin, BaseEstimator
):
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
        ``nstart = 20`` to ``kmeans`` for the same reason).  A
        ``LloydKMeans`` is fitted at every K of a data set from starts seeded
        once, at the largest K (the fit at a smaller K runs from the first K
        centres of each start), and a large reference set (50,000 rows or
        more at K <= 50) is seeded and run over its first rows before its
        runs over all its rows; any other clusterer is fitted independently
        at each K.  See the User Guide's "What a KSelector fit computes".

    k_range : array-like of int, default=(1, 2, ..., 10)
        The candidate numbers of clusters (sorted, duplicates dropped).  Values
        above ``n_samples`` are dropped with a warning.  K=1 is a candidate of
        the gap statistic only; the other criteria need K >= 2.

    criterion : {"gap", "silhouette", "calinski_harabasz", "davies_bouldin", \
            "prediction_strength"}, default="gap"
        How K is chosen: the gap statistic with ``rule``; or the maximum
        silhouette, the maximum Calinski-Harabasz index, the minimum
        Davies-Bouldin index; or the largest K whose prediction strength
        exceeds ``ps_cutoff`` (Tibshirani and Walther, 2005, as R's
        ``fpc::prediction.strength``).

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
        None uses all samples.  A subset must hold more samples than the
        largest K of ``k_range``; the subset at each K is drawn with that K's
        seed.

    extra_criteria : list of str or "all", default=None
        Criteria to compute besides ``criterion``, reported in ``results_``,
        ``choices_`` and ``k_frequencies_`` but not used for the choice:
        names among "gap", "silhouette", "calinski_harabasz",
        "davies_bouldin", "prediction_strength", "jump", or "all".  The
        Calinski-Harabasz, Davies-Bouldin and jump criteria are always
        computed (they cost nothing beyond the fits); the gap adds
        ``n_refs`` fits per K, the prediction strength ``2 * n_splits`` fits
        of half the data per K, the silhouette O(n_samples ** 2) per K.

    n_splits : int, default=50
        Number of random splits into two halves per K of the prediction
        strength (R's ``M``).

    ps_cutoff : float, default=0.8
        The prediction strength chooses the largest K whose mean strength
        exceeds this (R's ``cutoff``; 0.8 to 0.9 is the paper's advice).

    jump_power : float, default=None
        Transformation power ``Y`` of the jump method (Sugar and James,
        2003): the jumps are in ``distortion ** -Y``.  None means
        ``n_features / 2``, the paper's choice.

    n_bootstrap : int, default=0
        If positive, repeat the whole selection (every criterion computed,
        with fresh reference sets and splits) on this many bootstrap
        resamples of the samples and report how often each K is chosen in
        ``k_frequencies_``.  It multiplies the cost of ``fit`` by about
        ``1 + n_bootstrap``.  0 (the default) does no resampling.

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
        If positive, print progress with the time elapsed: with a
        ``LloydKMeans`` (fitted at every K of a data set at once), one line
        per data set as its fits finish, then one line per K with its
        scores; with any other clusterer, one line per K as soon as its fits
        (on X and on the reference sets) have finished, with its scores so
        far; then the choice.  From 2, also the table of every score per K
        at the end.

    Attributes
    ----------
    n_clusters_ : int
        The chosen number of clusters.

    best_estimator_ : estimator object
        The clusterer fitted on all of ``X`` at ``n_clusters_``: the very fit
        that was scored (for a ``LloydKMeans`` below the largest K, the fit
        from the shared starts).

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
        ``calinski_harabasz``; ``davies_bouldin``; ``jump`` (the jump in
        transformed distortion from the previous K, Sugar and James 2003);
        ``prediction_strength`` and ``prediction_strength_se`` (its mean over
        the splits and the standard error of that mean, ``sd / sqrt(n_splits)``);
        ``k_frequency`` (share of the bootstrap resamples in which
        ``criterion`` chose this K).  Values that were not computed are NaN:
        the gap, silhouette and prediction strength columns only for the
        criteria of ``criterion`` and ``extra_criteria``, ``k_frequency``
        only with ``n_bootstrap > 0``; the cheap indices are always computed
        for K >= 2, the jump always.

    choices_ : dict of str to int
        The K every computed criterion chooses from these same fits, e.g.
        ``{"gap": 5, "calinski_harabasz": 4, "davies_bouldin": 4, "jump":
        4}``: reported, not used (``n_clusters_`` is ``choices_[criterion]``).
        A criterion undefined at every K is left out.

    k_frequencies_ : dict of str to ndarray of shape (n_k,)
        With ``n_bootstrap > 0``: for every criterion of ``choices_``, the
        share of the bootstrap resamples in which it chose each K of
        ``results_["k"]`` (a resample where it was undefined counts for no
        K).

    reference_k_frequencies_ : ndarray of shape (n_k,)
        With ``n_bootstrap > 0`` and the gap computed: the share of
        ``n_bootstrap`` resamples of the ``n_refs`` reference sets' ``log W*``
        (with replacement, the data's fits kept) in which the gap's rule
        chose each K.  This is the part of the uncertainty that comes from
        the reference sets alone; it costs no fit.

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
    size (one fewer each when K=1 is a candidate).  A reference set is drawn
    by the task that fits it, from the generator state it starts at: small
    sets are kept for the next K, large ones drawn again, so that the memory
    is about one set per running task, not ``n_refs * n_samples *
    n_features`` values.  With the default ``LloydKMeans`` the fits run
    without the per-fit overhead of a clone, and the fit at the chosen K is
    kept rather than repeated (see "What a KSelector fit computes" in the
    User Guide).

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

    The prediction strength of K (Tibshirani and Walther, 2005) follows
    ``fpc::prediction.strength``: for each of ``n_splits`` random splits into
    halves of ``floor(n / 2)`` and ``n - floor(n / 2)`` samples, both halves
    are clustered, each half is predicted by the clusterer of the other
    (``predict``; for k-means the nearest centre), and for every cluster of
    the half's own clustering the share of its pairs of samples that the
    prediction keeps together is counted; the split's strength is the mean
    over the two halves of the worst cluster's share.  K=1 has strength 1.
    K above ``floor(n / 2)`` get NaN.

    Only dense input is supported.

    An exception raised by the clusterer in one of the fits is raised again
    with its own class (an invalid parameter stays a ``ValueError``), its
    message led by the K and the data set (``X`` or a reference set) of that
    fit.

    References
    ----------
    R. Tibshirani, G. Walther and T. Hastie, "Estimating the number of
    clusters in a data set via the gap statistic", Journal of the Royal
    Statistical Society B 63(2), 411-423, 2001.

    M. Maechler, P. Rousseeuw, A. Struyf, M. Hubert and K. Hornik, "cluster:
    Cluster Analysis Basics and Extensions", R package (``clusGap``,
    ``maxSE``).

    R. Tibshirani and G. Walther, "Cluster validation by prediction strength",
    Journal of Computational and Graphical Statistics 14(3), 511-528, 2005.

    C. A. Sugar and G. M. James, "Finding the number of clusters in a data
    set: an information-theoretic approach", Journal of the American
    Statistical Association 98(463), 750-763, 2003.

    Y. Fang and J. Wang, "Selection of the number of clusters via the
    bootstrap method", Computational Statistics and Data Analysis 56(3),
    468-477, 2012.

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
    >>> selector.choices_
    {'gap': 3, 'calinski_harabasz': 3, 'davies_bouldin': 3, 'jump': 3}

    How sure is each choice?  Repeat the selection on bootstrap resamples
    (here on K=1..5): the gap's rule stops at K=1 on half of them (``gap(1)``
    is within one ``s_2`` of ``gap(2)`` on these data), Calinski-Harabasz
    always answers 3:

    >>> stable = KSelector(LloydKMeans(n_init=3), k_range=range(1, 6), n_refs=5,
    ...                    n_bootstrap=4, random_state=0).fit(X)
    >>> stable.k_frequencies_["gap"], stable.k_frequencies_["calinski_harabasz"]
    (array([0.5, 0. , 0.5, 0. , 0. ]), array([0., 0., 1., 0., 0.]))
    """

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit", "set_params"]), None],
        "k_range": ["array-like"],
        "criterion": [StrOptions(set(CHOICE_CRITERIA))],
        "n_refs": [Interval(Integral, 2, None, closed="left")],
        "reference": [StrOptions({"uniform", "pca"})],
        "rule": [StrOptions(set(MAX_SE_METHODS))],
        "se_factor": [Interval(Real, 0, None, closed="left")],
        "d_power": [Interval(Real, 0, None, closed="neither")],
        "param_name": [str],
        "silhouette_sample_size": [Interval(Integral, 2, None, closed="left"), None],
        "sample_size": [Interval(Integral, 2, None, closed="left")],
        "extra_criteria": [StrOptions({"all"}), "array-like", None],
        "n_splits": [Interval(Integral, 1, None, closed="left")],
        "ps_cutoff": [Interval(Real, 0, 1, closed="both")],
        "jump_power": [Interval(Real, 0, None, closed="neither"), None],
        "n_bootstrap": [Interval(Integral, 0, None, closed="left")],
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
        extra_criteria=None,
        n_splits=50,
        ps_cutoff=0.8,
        jump_power=None,
        n_bootstrap=0,
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
        self.extra_criteria = extra_criteria
        self.n_splits = n_splits
        self.ps_cutoff = ps_cutoff
        self.jump_power = jump_power
        self.n_bootstrap = n_bootstrap
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    def _estimator(self):
        """The clusterer to clone: ``estimator``, or the default."""
        return LloydKMeans(n_init=10) if self.estimator is None else self.estimator

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
        check_param_name(estimator, self.param_name)
        if sample_weight is not None:
            sample_weight = check_selector_weights(estimator, X, sample_weight)
        ks = candidate_ks(self, n_samples)
        computed = computed_criteria(self, estimator)
        check_silhouette_sample_size(self, ks, n_samples, computed)

        rng = check_random_state(self.random_state)
        # Every seed is drawn here, before any task runs, so that the result
        # cannot depend on n_jobs or on the order the backend runs tasks in;
        # the data's seeds come first so that they do not depend on criterion.
        seeds = rng.randint(SEED_MAX, size=ks.size)
        results, ref_log_w, constant, fitted = select(
            self, X, sample_weight, ks, seeds, rng, estimator, computed, report=True
        )
        if constant:
            warnings.warn(
                "All samples of X are identical (W_k = 0 for every K); choosing "
                f"the smallest K of k_range, {ks[0]}.",
                UserWarning,
                stacklevel=2,
            )
        chosen = choose(self, results, constant)

        if fitted[chosen] is not None:
            # the engine's fit at the chosen K: the fit a refit would repeat
            self.best_estimator_ = chosen_fit(fitted[chosen])
            self.labels_ = self.best_estimator_.labels_
        else:
            self.best_estimator_ = configured(
                estimator, self.param_name, ks[chosen], seeds[chosen]
            )
            self.labels_ = fit_labels(
                self.best_estimator_, X, sample_weight, self.param_name, ks[chosen], "X"
            )
        if not hasattr(self.best_estimator_, "inertia_"):
            results["inertia"][:] = np.nan
        self.n_clusters_ = int(ks[chosen])
        self.choices_ = choices(self, results, ks, constant, computed)
        if self.n_bootstrap:
            self.k_frequencies_, reference_k_frequencies = bootstrap(
                self,
                X,
                sample_weight,
                ks,
                rng,
                estimator,
                computed,
                results["log_w"],
                ref_log_w,
            )
            if reference_k_frequencies is not None:
                self.reference_k_frequencies_ = reference_k_frequencies
            results["k_frequency"] = self.k_frequencies_[self.criterion]
        self.results_ = results
        if self.verbose:
            print_results(self, chosen)
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        inner = get_tags(self._estimator())
        # The reference box needs dense data.
        tags.input_tags.sparse = False
        tags.input_tags.allow_nan = False
        tags.transformer_tags = inner.transformer_tags
        tags.non_deterministic = inner.non_deterministic
        return tags
