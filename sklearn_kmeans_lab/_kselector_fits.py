"""The fits of a ``KSelector`` scan: the data, a reference set or a split at one K.

Each function is one joblib task of the scan (``_kselector_scan``): it fits
the clusterer at one K with one seed (a configured clone on the general path,
the engine's ``ManyFits`` for ``LloydKMeans``) and returns what the criteria
need from that fit.  A failing fit is raised again with the K and the data set
it was fitting.
"""

from typing import NamedTuple

import numpy as np
from sklearn.base import clone
from sklearn.metrics import (
    calinski_harabasz_score,
    davies_bouldin_score,
    silhouette_score,
)
from sklearn.utils import check_random_state

from sklearn_kmeans_lab._engine import ManyFits
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
    est = configured(estimator, settings.param_name, k, seed)
    return est, fit_labels(est, X, sample_weight, settings.param_name, k, where)


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


def fit_data(estimator, X, sample_weight, k, seed, settings):
    """Fit the data at K; return its inertia, log W and clustering indices."""
    row = dict.fromkeys(ROW_COLUMNS, np.nan)
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


def fit_reference(estimator, references, sample_weight, k, seed, settings, b):
    """``log W*_k`` of reference set ``b`` of ``references``."""
    Z = references[b]
    if k == 1:
        return _log_w(None, Z, np.zeros(Z.shape[0]), sample_weight, settings)
    where = f"reference set {b}"
    est, labels = _fit_at(
        estimator, Z, sample_weight, k, seed, settings, where, references.keeps
    )
    return _log_w(est, Z, labels, sample_weight, settings)


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
