"""The fits of a ``KSelector`` scan: the data, a reference set or a split.

Each function is one joblib task of the scan (``_kselector_scan``).  On the
general path a task fits a configured clone of the clusterer at one K with
one seed; for ``LloydKMeans`` a task fits a data set at every K with the
engine (``_engine.ManyFits``).  A task returns what the criteria need from its
fits; a failing fit is raised again with the K and the data set it was
fitting.
"""

from typing import NamedTuple

import numpy as np
from sklearn.base import clone
from sklearn.metrics import silhouette_score
from sklearn.utils import check_random_state

from sklearn_kmeans_lab._cluster_indices import cluster_indices
from sklearn_kmeans_lab._engine import warm_up_rows
from sklearn_kmeans_lab._gap import within_dispersion
from sklearn_kmeans_lab._prediction_strength import half_strength, split_halves

# The columns one fit of the data fills (the others come from several fits).
ROW_COLUMNS = ("inertia", "log_w", "silhouette", "calinski_harabasz", "davies_bouldin")
# Seeds are drawn below this (what RandomState and every clusterer accept).
SEED_MAX = np.iinfo(np.int32).max


class Settings(NamedTuple):
    """What every fitting task needs besides its data, K and seed."""

    param_name: str
    d_power: float
    log_w_floor: float
    computed: frozenset
    silhouette_sample_size: int | None


def configured(estimator, param_name, k, seed):
    """A clone of ``estimator`` with K clusters and every ``random_state`` set."""
    est = clone(estimator)
    params = {param_name: int(k)}
    # Every nested random_state too (e.g. "kmeans__random_state" in a
    # Pipeline), as sklearn's ensembles seed their members.
    for name in est.get_params(deep=True):
        if name == "random_state" or name.endswith("__random_state"):
            params[name] = int(seed)
    return est.set_params(**params)


def fit_labels(est, X, sample_weight, param_name, k, where):
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


def _engine_call(method, args, k, settings, where):
    """``method(*args)`` of the engine, an error naming the K and the data."""
    try:
        return method(*args)
    except Exception as exc:
        context = (
            f"Fitting LloydKMeans with {settings.param_name}={k} on {where} failed"
        )
        _raise_with_context(exc, context)


def _fit_at(estimator, X, sample_weight, k, seed, settings, where):
    """A configured clone of the clusterer fitted at K with ``seed``, and its
    labels (the general path)."""
    est = configured(estimator, settings.param_name, k, seed)
    return est, fit_labels(est, X, sample_weight, settings.param_name, k, where)


def _shared_starts(engine, X, sample_weight, ks, seed, settings, where, n_rows=None):
    """The engine's starts of ``X`` (of its first ``n_rows`` rows, where
    given) seeded with ``seed`` at the largest K of ``ks``
    (``ManyFits.starts``), None if no K needs a fit."""
    fitted = [k for k in ks if k > 1]
    if not fitted:
        return None
    args = (X, sample_weight, max(fitted), seed, True, n_rows)
    return _engine_call(engine.starts, args, max(fitted), settings, where)


def _fits_at_every_k(engine, X, sample_weight, ks, seed, settings, where):
    """The engine's fits of every K of ``ks`` with ``seed`` and their labels
    (``(None, zeros)`` at K=1, which needs no fit), from starts seeded once
    at the largest K, on ``X`` prepared once."""
    starts = _shared_starts(engine, X, sample_weight, ks, seed, settings, where)
    fits = []
    for k in ks:
        if k == 1:
            fits.append((None, np.zeros(X.shape[0], dtype=np.int32)))
            continue
        args = (X, sample_weight, k, seed, True, starts)
        est = _engine_call(engine.fit, args, k, settings, where)
        fits.append((est, est.labels_))
    # every fit of this data set is done: its prepared data is not needed
    engine.release(X)
    return fits


def _log_w(est, X, labels, sample_weight, settings):
    """``log W_k`` of a fitted partition, floored at the rounding level of X.

    For squared distances a k-means fit already knows ``W_k = inertia_ / 2``;
    otherwise ``W_k`` is computed from the labels.
    """
    if settings.d_power == 2 and hasattr(est, "inertia_"):
        w = est.inertia_ / 2.0
    else:
        w = within_dispersion(
            X, labels, d_power=settings.d_power, sample_weight=sample_weight
        )
    return _floored_log(w, settings)


def _floored_log(w, settings):
    """``log w``, floored at the rounding level of X: the floor turns a
    perfect partition (duplicate points) into a large finite gap instead of
    ``log(0) = -inf`` and NaN."""
    return float(np.log(max(w, settings.log_w_floor)))


def fit_data(estimator, X, sample_weight, k, seed, settings):
    """Fit the data at K; return its inertia, log W and clustering indices."""
    if k == 1:
        est, labels = None, np.zeros(X.shape[0], dtype=np.int32)
    else:
        est, labels = _fit_at(estimator, X, sample_weight, k, seed, settings, "X")
    return _data_row(est, labels, X, sample_weight, k, seed, settings, False)


def fit_data_at_every_k(engine, X, sample_weight, ks, seeds, settings):
    """``fit_data`` at every K of ``ks`` by the engine (``ManyFits``): one
    row per K.  The fits start from seeds drawn once with ``seeds[0]``;
    ``seeds[i]`` draws K ``i``'s silhouette subsample, as in ``fit_data``."""
    fits = _fits_at_every_k(engine, X, sample_weight, ks, seeds[0], settings, "X")
    return [
        _data_row(est, labels, X, sample_weight, k, seed, settings, keep_fit=True)
        for (est, labels), k, seed in zip(fits, ks, seeds, strict=True)
    ]


def _data_row(est, labels, X, sample_weight, k, seed, settings, keep_fit):
    """What the criteria take from a fit of X at K (``est`` None at K=1);
    ``keep_fit``: keep ``est`` as the selector's fit should K be chosen (the
    engine's fits; the general path fits the chosen K again)."""
    row = dict.fromkeys(ROW_COLUMNS, np.nan)
    if est is None:
        # One cluster needs no fit: its centre is the (weighted) mean.
        row["inertia"] = 2.0 * within_dispersion(X, labels, sample_weight=sample_weight)
    else:
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
        row["calinski_harabasz"], row["davies_bouldin"] = cluster_indices(X, labels)
        if "silhouette" in settings.computed:
            row["silhouette"] = _silhouette(
                X, labels, settings.silhouette_sample_size, seed, k
            )
    # the engine's fit is kept: it is the selector's fit if K is chosen
    row["fitted"] = _kept_fit(est) if keep_fit and est is not None else None
    return row


def _kept_fit(est):
    """``(est, dtype)``: a fit of X kept until K is chosen, its labels held
    in the smallest unsigned type of its clusters (uint8 up to 256) and
    ``dtype`` theirs.  The fits of K = 2..10 would otherwise hold nine int32
    labels of every row: 36 MB at 10^6 rows, about half the size of X at ten
    features, in a selection whose extra memory is to stay under twice it.
    ``chosen_fit`` gives the chosen one its labels back."""
    labels = est.labels_
    est.labels_ = labels.astype(np.min_scalar_type(max(est.n_clusters - 1, 0)))
    return est, labels.dtype


def chosen_fit(kept):
    """The fit ``_kept_fit`` kept, with its labels as the fit made them (the
    same values, in their own type)."""
    est, dtype = kept
    est.labels_ = est.labels_.astype(dtype)
    return est


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


def fit_reference(estimator, references, sample_weight, k, seed, settings, b):
    """``log W*_k`` of reference set ``b`` of ``references``."""
    Z = references[b]
    if k == 1:
        return _log_w(None, Z, np.zeros(Z.shape[0]), sample_weight, settings)
    where = f"reference set {b}"
    est, labels = _fit_at(estimator, Z, sample_weight, k, seed, settings, where)
    return _log_w(est, Z, labels, sample_weight, settings)


def fit_reference_at_every_k(engine, references, sample_weight, ks, seed, settings, b):
    """``log W*_k`` of reference set ``b`` at every K of ``ks`` by the engine
    (``ManyFits``), from starts seeded once with ``seed``.

    With ``d_power=2``, ``W*_k`` is half the inertia of the best run at K, as
    the run computes it (``ManyFits.inertias``, the runs of every K in one
    compiled call): a reference set needs no fitted estimator; an
    unweighted one of 50,000 rows or more is seeded and run over its first
    rows first (``_engine.warm_up_rows``).
    """
    Z = references[b]
    where = f"reference set {b}"
    if settings.d_power != 2:
        fits = _fits_at_every_k(engine, Z, sample_weight, ks, seed, settings, where)
        return np.array(
            [_log_w(est, Z, labels, sample_weight, settings) for est, labels in fits]
        )
    # an unweighted set's rows are drawn independently: a prefix is a sample
    warm_rows = ()
    if sample_weight is None:
        warm_rows = warm_up_rows(Z.shape[0], max(ks))
    seed_rows = warm_rows[0] if warm_rows else None
    starts = _shared_starts(
        engine, Z, sample_weight, ks, seed, settings, where, seed_rows
    )
    fitted = [k for k in ks if k > 1]
    inertias = {}
    if fitted:
        args = (Z, sample_weight, fitted, starts, True, warm_rows)
        try:
            inertias = dict(zip(fitted, engine.inertias(*args), strict=True))
        except Exception:
            # K by K, so that the error names the K it stopped at
            for k in fitted:
                args = (Z, sample_weight, [k], starts, True, warm_rows)
                inertias[k] = _engine_call(engine.inertias, args, k, settings, where)[0]
    log_w = np.empty(len(ks))
    for i, k in enumerate(ks):
        if k == 1:
            labels = np.zeros(Z.shape[0], dtype=np.int32)
            log_w[i] = _log_w(None, Z, labels, sample_weight, settings)
        else:
            log_w[i] = _floored_log(inertias[k] / 2.0, settings)
    engine.release(Z)
    return log_w


def fit_split(estimator, X, sample_weight, k, seed, settings, split):
    """Prediction strength at K of one random split of X into two halves."""
    if k == 1:
        return 1.0  # one cluster keeps every pair together (fpc's convention)
    rng = np.random.RandomState(seed)
    halves = split_halves(X.shape[0], rng)
    if k > halves[0].size:
        return np.nan  # a half has fewer samples than clusters
    fit_seeds = rng.randint(SEED_MAX, size=2)
    weights = [None if sample_weight is None else sample_weight[h] for h in halves]
    fitted, own_labels = [], []
    for i, (half, fit_seed) in enumerate(zip(halves, fit_seeds, strict=True)):
        est = configured(estimator, settings.param_name, k, fit_seed)
        where = f"half {i + 1} of split {split}"
        own_labels.append(
            fit_labels(est, X[half], weights[i], settings.param_name, k, where)
        )
        fitted.append(est)
    # Each half is predicted by the other half's clusterer (for k-means: the
    # nearest of the other half's centres) and judged on its own clusters.
    strengths = [
        half_strength(own_labels[i], fitted[1 - i].predict(X[halves[i]]), weights[i])
        for i in (0, 1)
    ]
    return 0.5 * (strengths[0] + strengths[1])
