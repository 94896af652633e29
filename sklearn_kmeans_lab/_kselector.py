"""``KSelector``: choose the number of clusters of any clusterer.

The selector fits the wrapped clusterer at every K of ``k_range``, scores each
fit by the gap statistic (the default; see ``_gap.py``) or by a
``sklearn.metrics`` clustering index, picks K, and keeps the fit at that K.
It uses only the public API of the clusterer (``set_params``, ``fit_predict``,
``inertia_`` when there is one), so ``GaussianMixture`` or a ``Pipeline``
work as well as ``LloydKMeans``.
"""

import time
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
from sklearn_kmeans_lab._criteria import CRITERIA, choose_k, jump_statistic
from sklearn_kmeans_lab._engine import ManyFits, ReferenceSets, many_fits
from sklearn_kmeans_lab._gap import (
    MAX_SE_METHODS,
    gap_statistic,
    reference_box,
    within_dispersion,
)
from sklearn_kmeans_lab._kmeans import LloydKMeans
from sklearn_kmeans_lab._kselector_dask import check_dask_test_data, fit_on_dask
from sklearn_kmeans_lab._prediction_strength import (
    half_strength,
    split_halves,
    strength_summary,
)
from sklearn_kmeans_lab._stability import (
    bootstrap_indices,
    choice_frequencies,
    reference_choice_frequencies,
)

_CRITERIA = CRITERIA[:5]  # those that can drive the choice; "jump" is reported
# Computed from every fit at no extra cost, whatever the criterion.
_FREE_CRITERIA = frozenset({"calinski_harabasz", "davies_bouldin", "jump"})
_RESULT_COLUMNS = (
    "inertia",
    "log_w",
    "ref_log_w_mean",
    "gap",
    "gap_se",
    "silhouette",
    "calinski_harabasz",
    "davies_bouldin",
    "jump",
    "prediction_strength",
    "prediction_strength_se",
    "k_frequency",
)
# The columns one fit of the data fills (the others come from several fits).
_ROW_COLUMNS = ("inertia", "log_w", "silhouette", "calinski_harabasz", "davies_bouldin")
_SEED_MAX = np.iinfo(np.int32).max
_K_MAX = np.iinfo(np.int64).max


class _Settings(NamedTuple):
    """What every fitting task needs besides its data, K and seed."""

    param_name: str
    d_power: float
    log_w_floor: float
    computed: frozenset
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
        context = (
            f"Fitting {type(est).__name__} with {param_name}={k} on {where} failed"
        )
        _raise_with_context(exc, context)


def _raise_with_context(exc, context):
    """Re-raise ``exc`` as its own class with ``context`` leading its message.

    The class is kept so that callers can catch what the clusterer raises (an
    ``InvalidParameterError`` stays a ``ValueError``).  A copy of the class
    carries the longer message, chained to the original; an exception class
    whose constructor does not take a lone message (``UnicodeDecodeError``,
    ``KeyError``'s quoting, custom ones) is re-raised itself, with the context
    as a note (Python >= 3.11 prints notes under the message).
    """
    message = f"{context}: {exc}"
    try:
        copy = type(exc)(message)
    except Exception:
        copy = None
    if copy is not None and str(copy) == message:
        raise copy from exc
    if hasattr(exc, "add_note"):
        exc.add_note(context)
    raise exc


def _fit_at(estimator, X, sample_weight, k, seed, settings, where, keep=True):
    """The clusterer fitted at K with ``seed``, and its labels.

    ``estimator`` is the clusterer (the general path: a configured clone) or
    the engine's ``ManyFits`` (the same fit without the per-fit overhead,
    which keeps ``X`` prepared for the next K if ``keep``).
    """
    if isinstance(estimator, ManyFits):
        try:
            est = estimator.fit(X, sample_weight, k, seed, keep)
        except Exception as exc:
            context = (
                f"Fitting LloydKMeans with {settings.param_name}={k} on {where} failed"
            )
            _raise_with_context(exc, context)
        return est, est.labels_
    est = _configured(estimator, settings.param_name, k, seed)
    return est, _fit_labels(est, X, sample_weight, settings.param_name, k, where)


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
    row = dict.fromkeys(_ROW_COLUMNS, np.nan)
    if k == 1:
        # One cluster needs no fit: its centre is the (weighted) mean.
        est, labels = None, np.zeros(X.shape[0], dtype=np.int32)
        row["inertia"] = 2.0 * within_dispersion(X, labels, sample_weight=sample_weight)
    else:
        est, labels = _fit_at(estimator, X, sample_weight, k, seed, settings, "X")
        row["inertia"] = float(getattr(est, "inertia_", np.nan))
    # The jump method needs the within-cluster sum of squares of every fit;
    # a clusterer without inertia_ gets it from its labels.
    row["wss"] = (
        row["inertia"]
        if np.isfinite(row["inertia"])
        else 2.0 * within_dispersion(X, labels, sample_weight=sample_weight)
    )
    if "gap" in settings.computed:
        row["log_w"] = _log_w(est, X, labels, sample_weight, settings)
    n_labels = np.unique(labels).size
    if 2 <= n_labels < X.shape[0]:
        # The indices are defined for 2 .. n_samples - 1 distinct labels; they
        # take no sample weights (sklearn.metrics has none for them).
        row["calinski_harabasz"] = calinski_harabasz_score(X, labels)
        row["davies_bouldin"] = davies_bouldin_score(X, labels)
        if "silhouette" in settings.computed:
            row["silhouette"] = _silhouette(
                X, labels, settings.silhouette_sample_size, seed, k
            )
    # the engine's fit is kept: it is the selector's fit if K is chosen
    row["fitted"] = est if isinstance(estimator, ManyFits) else None
    return row


def _silhouette(X, labels, sample_size, seed, k):
    """Mean silhouette, on ``sample_size`` random samples when that is fewer.

    The subsample is the one ``silhouette_score(sample_size=sample_size,
    random_state=seed)`` draws; drawing it here lets a subsample that holds a
    single cluster be reported in terms of ``silhouette_sample_size``.
    """
    if sample_size is not None and sample_size < X.shape[0]:
        rows = check_random_state(seed).permutation(X.shape[0])[:sample_size]
        X, labels = X[rows], labels[rows]
        if np.unique(labels).size < 2:
            raise ValueError(
                f"The silhouette subsample of silhouette_sample_size={sample_size} "
                f"samples drawn at K={k} holds samples of a single cluster, where "
                "the silhouette is undefined; increase silhouette_sample_size "
                "(or set it to None to use all samples)."
            )
    return silhouette_score(X, labels)


def _fit_reference(estimator, references, sample_weight, k, seed, settings, b):
    """``log W*_k`` of reference set ``b`` of ``references``."""
    Z = references[b]
    if k == 1:
        return _log_w(None, Z, np.zeros(Z.shape[0]), sample_weight, settings)
    where = f"reference set {b}"
    est, labels = _fit_at(
        estimator, Z, sample_weight, k, seed, settings, where, references.keeps
    )
    return _log_w(est, Z, labels, sample_weight, settings)


def _fit_split(estimator, X, sample_weight, k, seed, settings, split):
    """Prediction strength at K of one random split of X into two halves."""
    if k == 1:
        return 1.0  # one cluster keeps every pair together (fpc's convention)
    rng = np.random.RandomState(seed)
    halves = split_halves(X.shape[0], rng)
    if k > halves[0].size:
        return np.nan  # a half has fewer samples than clusters
    fit_seeds = rng.randint(_SEED_MAX, size=2)
    weights = [None if sample_weight is None else sample_weight[h] for h in halves]
    fitted, own_labels = [], []
    for i, (half, fit_seed) in enumerate(zip(halves, fit_seeds, strict=True)):
        est = _configured(estimator, settings.param_name, k, fit_seed)
        where = f"half {i + 1} of split {split}"
        own_labels.append(
            _fit_labels(est, X[half], weights[i], settings.param_name, k, where)
        )
        fitted.append(est)
    # Each half is predicted by the other half's clusterer (for k-means: the
    # nearest of the other half's centres) and judged on its own clusters.
    strengths = [
        half_strength(own_labels[i], fitted[1 - i].predict(X[halves[i]]), weights[i])
        for i in (0, 1)
    ]
    return 0.5 * (strengths[0] + strengths[1])


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
        If positive, print one line per K as soon as its fits (on X and on
        the reference sets) have finished, with its scores so far, how many
        K are done and the time elapsed, then the choice; from 2, also the
        table of every score per K at the end.

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
        "criterion": [StrOptions(set(_CRITERIA))],
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

    def _candidate_ks(self, n_samples):
        """Validated, sorted K values, those above ``n_samples`` dropped."""
        values = list(self.k_range)
        if not values:
            raise ValueError(
                "k_range must be a non-empty 1-D sequence of ints; got "
                f"{self.k_range!r}."
            )
        # Each entry through Python's int, never a cast of the array: an array
        # of uint64 (or Python ints above 2**63) would wrap to negative K.
        if (
            not all(isinstance(k, Integral) and not isinstance(k, bool) for k in values)
            or min(values) < 1
        ):
            raise ValueError(f"k_range must contain ints >= 1; got {self.k_range!r}.")
        largest = max(int(k) for k in values)
        if largest > _K_MAX:
            raise ValueError(
                f"k_range must contain ints <= {_K_MAX}; got K={largest} in "
                f"k_range={self.k_range!r}."
            )
        ks = np.unique(np.array([int(k) for k in values], dtype=np.int64))
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

    def _check_silhouette_sample_size(self, ks, n_samples, computed):
        """A subsample must hold more samples than the largest K has clusters."""
        size = self.silhouette_sample_size
        if (
            "silhouette" in computed
            and size is not None
            and size < n_samples
            and size <= ks[-1]
        ):
            raise ValueError(
                f"silhouette_sample_size={size} is too small for k_range: the "
                "silhouette needs more samples than clusters and K goes up to "
                f"{ks[-1]}; use silhouette_sample_size >= {ks[-1] + 1}, or None "
                "to use all samples."
            )

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
            # W_k and the inertia the criteria compare are weighted sums; the
            # largest, W_1, bounds them all.  (LloydKMeans alone takes any scale.)
            total = within_dispersion(
                X, np.zeros(n_samples, dtype=np.int32), sample_weight=sample_weight
            )
            if not np.isfinite(total):
                raise ValueError(
                    "sample_weight is so large that the weighted dispersion of X "
                    "is beyond the float range, so the curves KSelector compares "
                    "would not be finite; divide the weights by a constant (the "
                    "choice of K does not depend on their scale)."
                )
        ks = self._candidate_ks(n_samples)
        computed = self._computed_criteria(estimator)
        self._check_silhouette_sample_size(ks, n_samples, computed)

        rng = check_random_state(self.random_state)
        # Every seed is drawn here, before any task runs, so that the result
        # cannot depend on n_jobs or on the order the backend runs tasks in;
        # the data's seeds come first so that they do not depend on criterion.
        seeds = rng.randint(_SEED_MAX, size=ks.size)
        results, ref_log_w, constant, fitted = self._select(
            X, sample_weight, ks, seeds, rng, estimator, computed, report=True
        )
        if constant:
            warnings.warn(
                "All samples of X are identical (W_k = 0 for every K); choosing "
                f"the smallest K of k_range, {ks[0]}.",
                UserWarning,
                stacklevel=2,
            )
        chosen = self._choose(results, constant)

        if fitted[chosen] is not None:
            # the engine's fit at the chosen K: the fit a refit would repeat
            self.best_estimator_ = fitted[chosen]
            self.labels_ = fitted[chosen].labels_
        else:
            self.best_estimator_ = _configured(
                estimator, self.param_name, ks[chosen], seeds[chosen]
            )
            self.labels_ = _fit_labels(
                self.best_estimator_, X, sample_weight, self.param_name, ks[chosen], "X"
            )
        if not hasattr(self.best_estimator_, "inertia_"):
            results["inertia"][:] = np.nan
        self.n_clusters_ = int(ks[chosen])
        self.choices_ = self._choices(results, ks, constant, computed)
        if self.n_bootstrap:
            self._bootstrap(
                X,
                sample_weight,
                ks,
                rng,
                estimator,
                computed,
                results["log_w"],
                ref_log_w,
            )
            results["k_frequency"] = self.k_frequencies_[self.criterion]
        self.results_ = results
        if self.verbose:
            self._print_results(chosen)
        return self

    def _computed_criteria(self, estimator):
        """The criteria this fit computes: its own, the asked-for, the free ones."""
        extra = self.extra_criteria
        if extra is None:
            extra = ()
        elif isinstance(extra, str):  # "all", the only string allowed
            extra = CRITERIA
        else:
            extra = tuple(extra)
            unknown = [c for c in extra if c not in CRITERIA]
            if unknown:
                raise ValueError(
                    f"extra_criteria must hold names among {list(CRITERIA)} or be "
                    f"'all'; got {unknown!r}."
                )
        computed = frozenset({self.criterion, *extra}) | _FREE_CRITERIA
        if "prediction_strength" in computed and not hasattr(estimator, "predict"):
            raise ValueError(
                "The prediction strength predicts one half of the data with the "
                f"clusterer fitted on the other, but {type(estimator).__name__} "
                "has no predict method; use another criterion or remove "
                "'prediction_strength' from extra_criteria."
            )
        return computed

    def _select(
        self, X, sample_weight, ks, seeds, rng, estimator, computed, report=False
    ):
        """``results_`` of X, the references' ``log W*``, whether X is constant
        and, per K, the engine's fit of X (None where there is none); with
        ``report`` (and ``verbose``) a line per K as its fits finish."""
        positive = slice(None) if sample_weight is None else sample_weight > 0
        spread = float(np.ptp(X[positive], axis=0).max())
        if spread == 0:
            return self._constant_results(ks, computed), None, True, [None] * ks.size
        results, ref_log_w, fitted = self._scan(
            X, sample_weight, ks, seeds, rng, spread, estimator, computed, report
        )
        return results, ref_log_w, False, fitted

    def _constant_results(self, ks, computed):
        """``results_`` for data without spread: every W_k is 0."""
        results = {"k": ks}
        for name in _RESULT_COLUMNS:
            results[name] = np.full(ks.size, np.nan)
        results["inertia"][:] = 0.0
        if "gap" in computed:
            results["log_w"][:] = -np.inf
            results["ref_log_w_mean"][:] = -np.inf
        return results

    def _scan(
        self, X, sample_weight, ks, seeds, rng, spread, estimator, computed, report
    ):
        """Fit every K on X (on the reference sets, on the splits): ``results_``.

        Also returns the references' ``log W*`` (None without the gap) and,
        per K, the fit of X the engine kept (None on the general path, whose
        chosen fit is refitted).
        """
        total_weight = X.shape[0] if sample_weight is None else sample_weight.sum()
        eps = np.finfo(X.dtype).eps
        settings = _Settings(
            param_name=self.param_name,
            d_power=self.d_power,
            log_w_floor=0.5
            * total_weight
            * (eps * spread * np.sqrt(X.shape[1])) ** self.d_power,
            computed=computed,
            silhouette_sample_size=self.silhouette_sample_size,
        )
        # LloydKMeans: the engine fits without the per-fit overhead, the same
        # fits bit for bit; any other clusterer takes the general path.
        fitter = many_fits(estimator, self.param_name) or estimator
        gap = "gap" in computed
        n_refs = self.n_refs if gap else 0
        ref_seeds = references = None
        if gap:
            ref_seeds = rng.randint(_SEED_MAX, size=(self.n_refs, ks.size))
            box = reference_box(
                X, reference=self.reference, sample_weight=sample_weight
            )
            # drawn by the tasks that fit them, not held all at once
            references = ReferenceSets(box, X.shape[0], self.n_refs, rng, X.dtype)
        # K by K, so that K's fits finish together (and are reported so)
        tasks = []
        for i, (k, seed) in enumerate(zip(ks, seeds, strict=True)):
            tasks.append(
                delayed(_fit_data)(fitter, X, sample_weight, k, seed, settings)
            )
            tasks += [
                delayed(_fit_reference)(
                    fitter, references, sample_weight, k, ref_seeds[b, i], settings, b
                )
                for b in range(n_refs)
            ]
        strength = "prediction_strength" in computed
        if strength:
            # Fresh splits for every K, as fpc::prediction.strength draws them.
            split_seeds = rng.randint(_SEED_MAX, size=(self.n_splits, ks.size))
            tasks += [
                delayed(_fit_split)(estimator, X, sample_weight, k, seed, settings, s)
                for s in range(self.n_splits)
                for k, seed in zip(ks, split_seeds[s], strict=True)
            ]
        start = time.perf_counter()
        outputs = Parallel(n_jobs=self.n_jobs, return_as="generator")(tasks)
        rows, ref_log_w = [], np.empty((n_refs, ks.size))
        for i in range(ks.size):
            rows.append(next(outputs))
            for b in range(n_refs):
                ref_log_w[b, i] = next(outputs)
            if report and self.verbose:
                self._print_progress(
                    i, ks, rows[i], ref_log_w[:, i], time.perf_counter() - start
                )
        results = {"k": ks}
        for name in _RESULT_COLUMNS:
            results[name] = np.array([row.get(name, np.nan) for row in rows], float)
        results["jump"] = jump_statistic(
            ks,
            np.array([row["wss"] for row in rows]),
            n_features=X.shape[1],
            total_weight=total_weight,
            power=self.jump_power,
        )
        if gap:
            results["gap"], results["ref_log_w_mean"], results["gap_se"] = (
                gap_statistic(results["log_w"], ref_log_w)
            )
        else:
            ref_log_w = None
        if strength:
            split_strengths = np.reshape(list(outputs), (self.n_splits, ks.size))
            results["prediction_strength"], results["prediction_strength_se"] = (
                strength_summary(split_strengths)
            )
        return results, ref_log_w, [row["fitted"] for row in rows]

    def _choose_index(self, results, criterion):
        """Index of the K ``criterion`` chooses from ``results`` (or None)."""
        return choose_k(
            results,
            criterion,
            rule=self.rule,
            se_factor=self.se_factor,
            cutoff=self.ps_cutoff,
        )

    def _choices(self, results, ks, constant, computed):
        """``choices_``: the K every computed criterion chooses, in CRITERIA order."""
        choices = {}
        for criterion in CRITERIA:
            if criterion not in computed:
                continue
            index = 0 if constant else self._choose_index(results, criterion)
            if index is not None:
                choices[criterion] = int(ks[index])
        return choices

    def _bootstrap(
        self, X, sample_weight, ks, rng, estimator, computed, log_w, ref_log_w
    ):
        """Repeat the selection on bootstrap resamples: set ``k_frequencies_``."""
        boot_seeds = rng.randint(_SEED_MAX, size=self.n_bootstrap)
        reference_seed = rng.randint(_SEED_MAX)
        chosen = {criterion: [] for criterion in CRITERIA if criterion in computed}
        for boot_seed in boot_seeds:
            boot_rng = np.random.RandomState(boot_seed)
            rows = bootstrap_indices(X.shape[0], boot_rng, sample_weight)
            boot_seeds_k = boot_rng.randint(_SEED_MAX, size=ks.size)
            results, _, constant, _ = self._select(
                X[rows], None, ks, boot_seeds_k, boot_rng, estimator, computed
            )
            for criterion, indices in chosen.items():
                indices.append(
                    0 if constant else self._choose_index(results, criterion)
                )
        self.k_frequencies_ = {
            criterion: choice_frequencies(indices, ks.size)
            for criterion, indices in chosen.items()
        }
        if ref_log_w is not None:
            self.reference_k_frequencies_ = reference_choice_frequencies(
                log_w,
                ref_log_w,
                rule=self.rule,
                se_factor=self.se_factor,
                n_resamples=self.n_bootstrap,
                random_state=np.random.RandomState(reference_seed),
            )

    def _choose(self, results, constant):
        """Index into ``results`` of the chosen K."""
        if constant:
            return 0
        index = self._choose_index(results, self.criterion)
        if index is not None:
            return index
        if self.criterion == "prediction_strength":
            warnings.warn(
                f"No K of k_range={self.k_range!r} has a mean prediction strength "
                f"above ps_cutoff={self.ps_cutoff} (R's fpc would answer K=1, "
                "which is not a candidate); choosing the smallest K.",
                UserWarning,
                stacklevel=3,
            )
            return 0
        raise ValueError(
            f"criterion={self.criterion!r} is undefined for every K of "
            f"k_range: each fit found fewer than 2 or as many clusters as "
            "samples."
        )

    def _print_progress(self, i, ks, row, ref_log_w, elapsed):
        """The line of the ``i``-th K, as soon as its fits (on X and on every
        reference set) have finished: its scores so far and the time."""
        values = dict(row)
        shown = ["inertia"]
        if self.criterion == "gap":
            shown += ["log_w", "gap", "gap_se"]
            gap, _, gap_se = gap_statistic([row["log_w"]], ref_log_w[:, None])
            values["gap"], values["gap_se"] = gap[0], gap_se[0]
        shown += ["silhouette"] if self.criterion == "silhouette" else []
        shown += ["calinski_harabasz", "davies_bouldin"]
        scores = ", ".join(f"{name}={values[name]:.6g}" for name in shown)
        print(
            f"[KSelector] K={ks[i]}: {scores}; {i + 1}/{ks.size} K done, "
            f"{1 + ref_log_w.size} data sets, elapsed: {elapsed:.1f}s",
            flush=True,
        )

    def _print_results(self, chosen):
        """With ``verbose >= 2``, one line per K of every score; the choice."""
        shown = ["inertia"]
        shown += ["log_w", "gap", "gap_se"] if self.criterion == "gap" else []
        shown += ["silhouette"] if self.criterion == "silhouette" else []
        shown += ["calinski_harabasz", "davies_bouldin", "jump"]
        if self.criterion == "prediction_strength":
            shown += ["prediction_strength", "prediction_strength_se"]
        for i, k in enumerate(self.results_["k"] if self.verbose >= 2 else ()):
            values = ", ".join(f"{name}={self.results_[name][i]:.6g}" for name in shown)
            print(f"[KSelector] K={k}: {values}")
        how = f" with rule={self.rule!r}" if self.criterion == "gap" else ""
        print(
            f"[KSelector] chose K={self.n_clusters_} by {self.criterion}{how} "
            f"(every computed criterion's choice: {self.choices_})"
        )

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
