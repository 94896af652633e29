"""The gap statistic as R's ``cluster::clusGap`` computes it, and ``maxSE``.

Pure functions on arrays: the within-cluster dispersion ``W_k`` of a
partition, the box that reference data are drawn from, the reference draws,
the gap with its standard error, and the five rules of ``cluster::maxSE``
that turn a gap curve into a number of clusters.  ``KSelector`` (in
``_kselector.py``) orchestrates them around a clusterer.

Only ``max_se`` is public (re-exported, validated by ``validate_params``).
``within_dispersion``, ``reference_box``, ``draw_reference_sets`` and
``gap_statistic`` are ``KSelector``'s internals: their docstrings record the
mathematics and their examples run as tests, but they are not part of the
API (``KSelector.results_`` is how a user reads what they compute), so their
signatures can change with the selector.

Reference: R. Tibshirani, G. Walther and T. Hastie, "Estimating the number of
clusters in a data set via the gap statistic", Journal of the Royal
Statistical Society B 63(2), 2001; M. Maechler et al., R package ``cluster``,
functions ``clusGap`` and ``maxSE``.
"""

from numbers import Real
from typing import NamedTuple

import numpy as np
from scipy.spatial.distance import cdist
from sklearn.utils import check_random_state
from sklearn.utils.extmath import svd_flip

from sklearn_kmeans_lab._compat import Interval, StrOptions, validate_params

MAX_SE_METHODS = (
    "firstSEmax",
    "Tibs2001SEmax",
    "globalSEmax",
    "firstmax",
    "globalmax",
)

# Rows are read this many values at a time (8 MiB of float64) where a pass
# over X would otherwise copy it whole.
_CHUNK_VALUES = 2**20
# Pairwise blocks of at most this many distances (32 MiB of float64) bound the
# memory of the d_power != 2 path whatever the cluster sizes.
_PAIRWISE_BLOCK = 2**22


def row_chunks(n_rows, n_features):
    """Slices of consecutive rows, about ``_CHUNK_VALUES`` values each."""
    step = max(1, _CHUNK_VALUES // max(n_features, 1))
    for start in range(0, n_rows, step):
        yield slice(start, min(start + step, n_rows))


def cluster_means(X, inverse, weights):
    """The weight and the weighted mean of each cluster, in float64.

    X : (n, d); inverse : (n,) cluster indices 0..k-1; weights : (n,).
    Returns ``(weight (k,), means (k, d))``; a cluster without weight has
    the mean 0.  One pass per feature, no copy of X.
    """
    n_clusters = inverse.max() + 1
    weight = np.bincount(inverse, weights=weights, minlength=n_clusters)
    sums = np.column_stack(
        [
            np.bincount(inverse, weights=column * weights, minlength=n_clusters)
            for column in X.T
        ]
    )
    nonempty = weight > 0
    means = np.zeros_like(sums)
    means[nonempty] = sums[nonempty] / weight[nonempty, None]
    return weight, means


def within_dispersion(X, labels, *, d_power=2, sample_weight=None):
    """Within-cluster dispersion ``W_k`` of a partition, as ``clusGap`` defines it.

    ``W = 1/2 * sum_r D_r / n_r`` where, for cluster ``r`` with ``n_r``
    members, ``D_r`` is the sum over the unordered pairs ``i < j`` of
    ``||x_i - x_j|| ** d_power`` (R's ``dist`` lists each pair once).  With
    ``d_power=2`` this is half the within-cluster sum of squares, i.e.
    ``inertia / 2`` of a k-means fit whose centres are the cluster means.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        The data.

    labels : ndarray of shape (n_samples,)
        Cluster label of each sample (any integers, e.g. ``-1`` for noise is
        treated as one more cluster).

    d_power : float, default=2
        Power of the Euclidean distance.  2 (Tibshirani's choice) needs one
        O(n_samples * n_features) pass; any other value sums the distances of
        all pairs in each cluster, O(n_r ** 2 * n_features), in blocks of
        bounded memory.

    sample_weight : ndarray of shape (n_samples,), default=None
        Non-negative frequency weights.  A pair contributes ``w_i * w_j`` times
        its distance and ``n_r`` becomes the weight of the cluster, so integer
        weights give the dispersion of the data with repeated rows.

    Returns
    -------
    W : float
        The within-cluster dispersion (0 for a partition into identical
        points).

    See Also
    --------
    reference_box : The box the reference data of the gap statistic fill.
    gap_statistic : Gap and standard error from ``log W`` values.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_kmeans_lab._gap import within_dispersion
    >>> X = np.array([[0.0], [2.0], [10.0], [14.0]])
    >>> float(within_dispersion(X, np.array([0, 0, 1, 1])))  # (2 + 8) / 2
    5.0
    >>> float(within_dispersion(X, np.array([0, 0, 1, 1]), d_power=1))
    1.5
    """
    X = np.asarray(X)
    w = (
        np.ones(X.shape[0])
        if sample_weight is None
        else np.asarray(sample_weight, dtype=np.float64)
    )
    labels = np.asarray(labels).ravel()
    if (
        labels.dtype.kind in "iu"
        and labels.size
        and 0 <= labels.min() <= labels.max() < labels.size
    ):
        inverse = labels  # already cluster indices: no sort of n labels
    else:
        inverse = np.unique(labels, return_inverse=True)[1].ravel()
    if d_power == 2:
        # sum_{i<j} w_i w_j ||x_i - x_j||^2 = n_r * sum_i w_i ||x_i - mean_r||^2
        _, means = cluster_means(X, inverse, w)
        # the residuals a chunk at a time: memory of a chunk, not of X
        total = 0.0
        for rows in row_chunks(X.shape[0], X.shape[1]):
            resid = np.subtract(X[rows], means[inverse[rows]], dtype=np.float64)
            total += float(np.einsum("i,ij,ij->", w[rows], resid, resid))
        return 0.5 * total
    total = 0.0
    for r in range(inverse.max() + 1):
        members = np.flatnonzero(inverse == r)
        Xr, wr = X[members].astype(np.float64), w[members]
        weight_r = wr.sum()
        if members.size < 2 or weight_r == 0:
            continue
        step = max(1, _PAIRWISE_BLOCK // members.size)
        ordered_pairs = 0.0
        for start in range(0, members.size, step):
            block = cdist(Xr[start : start + step], Xr)
            if d_power != 1:
                block **= d_power
            ordered_pairs += wr[start : start + step] @ block @ wr
        # ordered pairs count each unordered pair twice (the diagonal is 0)
        total += 0.5 * ordered_pairs / weight_r
    return 0.5 * total


class ReferenceBox(NamedTuple):
    """Where the reference data of the gap statistic live.

    Reference points are ``center + u @ rotation.T`` (or ``center + u`` when
    ``rotation`` is None) with ``u`` uniform on ``[low, high]`` per column.
    """

    center: np.ndarray
    rotation: np.ndarray | None
    low: np.ndarray
    high: np.ndarray


@validate_params(
    {
        "X": ["array-like"],
        "reference": [StrOptions({"uniform", "pca"})],
        "sample_weight": ["array-like", None],
    },
    prefer_skip_nested_validation=True,
)
def reference_box(X, *, reference="pca", sample_weight=None):
    """The box a gap-statistic reference distribution is uniform on.

    Follows R's ``clusGap``: ``X`` is centred (not scaled); with
    ``reference="uniform"`` (R's ``spaceH0="original"``) the box is the range
    of each centred feature; with ``reference="pca"`` (R's
    ``spaceH0="scaledPCA"``, Tibshirani et al.'s option (b)) the centred data
    are rotated onto their principal axes (right singular vectors) and the box
    is the range of each rotated coordinate.  Each axis is oriented so that
    its largest loading is positive (R keeps the signs its LAPACK returns;
    the box, a set, is the same either way).  ``X`` is read a chunk of rows
    at a time: the axes come from the R factor of a QR factorisation
    accumulated over the chunks, so the memory is that of a chunk, not of
    copies of ``X``.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        The data.

    reference : {"uniform", "pca"}, default="pca"
        The reference distribution.

    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative weights.  The centre is the weighted mean, the rotation
        comes from the weighted covariance, and only samples of positive
        weight bound the box.  Multiplying all weights by a constant changes
        nothing.

    Returns
    -------
    box : ReferenceBox
        Named tuple ``(center, rotation, low, high)``: ``center`` of shape
        (n_features,), ``rotation`` of shape (n_features, n_components) with
        ``n_components = min(n_samples, n_features)`` (None for "uniform"),
        ``low`` and ``high`` of shape (n_components,) (or (n_features,)).

    See Also
    --------
    draw_reference_sets : Draw reference data sets from the box.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_kmeans_lab._gap import reference_box
    >>> X = np.array([[0.0, 1.0], [2.0, 1.0], [4.0, 4.0]])
    >>> box = reference_box(X, reference="uniform")
    >>> box.center, box.low, box.high
    (array([2., 2.]), array([-2., -1.]), array([2., 2.]))
    """
    X = np.asarray(X)
    n_samples, n_features = X.shape
    if sample_weight is None:
        w = None
        center = X.mean(axis=0, dtype=np.float64)
    else:
        w = np.asarray(sample_weight, dtype=np.float64)
        # by chunks: a product with float32 X would cast all of it to float64
        center = (
            sum(
                w[rows] @ X[rows].astype(np.float64)
                for rows in row_chunks(n_samples, n_features)
            )
            / w.sum()
        )
        # sqrt(w / mean w): the weighted covariance, unchanged by a common
        # factor of the weights
        root_w = np.sqrt(w / w[w > 0].mean())

    def centred_chunks():
        """The centred samples of positive weight, a chunk of rows at a time
        (and their weights' square roots): X is never copied whole."""
        for rows in row_chunks(n_samples, n_features):
            chunk = np.subtract(X[rows], center, dtype=np.float64)
            if w is None:
                yield chunk, None
            else:
                positive = w[rows] > 0
                yield chunk[positive], root_w[rows][positive]

    rotation = None
    if reference == "pca":
        # The right singular vectors of the (weighted) centred data from a
        # QR factorisation accumulated over the chunks (R^T R = X^T X, so R
        # has the singular values and right singular vectors of X): O(chunk)
        # memory where an SVD of the whole matrix takes several copies of X.
        r = np.empty((0, n_features))
        for chunk, root in centred_chunks():
            if chunk.shape[0]:
                scaled = chunk if root is None else chunk * root[:, None]
                r = np.linalg.qr(np.vstack([r, scaled]), mode="r")
        u, _, vt = np.linalg.svd(r, full_matrices=False)
        # Each axis's largest loading positive: the box does not depend on
        # the signs the LAPACK build happens to return.
        rotation = svd_flip(u, vt, u_based_decision=False)[1].T
    n_components = n_features if rotation is None else rotation.shape[1]
    low, high = np.full(n_components, np.inf), np.full(n_components, -np.inf)
    for chunk, _ in centred_chunks():
        if chunk.shape[0]:
            coords = chunk if rotation is None else chunk @ rotation
            low = np.minimum(low, coords.min(axis=0))
            high = np.maximum(high, coords.max(axis=0))
    return ReferenceBox(center, rotation, low, high)


def draw_reference_sets(box, n_samples, n_refs, *, random_state=None, dtype=None):
    """Draw ``n_refs`` reference data sets of ``n_samples`` points from a box.

    Each set is uniform on the box of :func:`reference_box`, rotated back and
    shifted to the data's centre, as ``clusGap`` draws its ``B`` sets.  All
    sets are drawn at once so that they can serve every K.

    Parameters
    ----------
    box : ReferenceBox
        The box, from :func:`reference_box`.

    n_samples : int
        Number of points per set (the number of samples of the data).

    n_refs : int
        Number of sets, ``B``.

    random_state : int, RandomState instance or None, default=None
        Seed of the uniform draws.

    dtype : numpy dtype, default=None
        dtype of the result (float64 if None).

    Returns
    -------
    references : ndarray of shape (n_refs, n_samples, n_features)
        The reference data sets.

    See Also
    --------
    reference_box : The box the sets are drawn from.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_kmeans_lab._gap import draw_reference_sets, reference_box
    >>> X = np.array([[0.0, 1.0], [2.0, 1.0], [4.0, 4.0]])
    >>> refs = draw_reference_sets(reference_box(X), 3, 5, random_state=0)
    >>> refs.shape
    (5, 3, 2)
    """
    rng = check_random_state(random_state)
    u = rng.uniform(size=(n_refs, n_samples, box.low.shape[0]))
    references = box.low + (box.high - box.low) * u
    if box.rotation is not None:
        references = references @ box.rotation.T
    references += box.center
    return references.astype(np.float64 if dtype is None else dtype, copy=False)


def gap_statistic(log_w, ref_log_w):
    """Gap and its standard error from the data's and the references' ``log W``.

    ``gap_k = mean_b(log W*_kb) - log W_k`` and
    ``s_k = sd_b(log W*_kb) * sqrt(1 + 1/B)`` with the ``n - 1`` denominator of
    R's ``var``, exactly as ``clusGap`` reports ``gap`` and ``SE.sim``.

    Parameters
    ----------
    log_w : array-like of shape (n_k,)
        ``log W_k`` of the data, one value per K.

    ref_log_w : array-like of shape (n_refs, n_k)
        ``log W*_k`` of each reference set.

    Returns
    -------
    gap : ndarray of shape (n_k,)
        The gap statistic.

    ref_log_w_mean : ndarray of shape (n_k,)
        ``E*[log W_k]``, the mean over the reference sets.

    gap_se : ndarray of shape (n_k,)
        The simulation standard error ``s_k`` (NaN when ``n_refs == 1``).

    See Also
    --------
    max_se : Choose K from the gap and its standard error.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_kmeans_lab._gap import gap_statistic
    >>> gap, mean, se = gap_statistic([1.0, 0.5], [[2.0, 1.0], [2.0, 2.0]])
    >>> gap, mean
    (array([1., 1.]), array([2. , 1.5]))
    """
    log_w = np.asarray(log_w, dtype=np.float64)
    ref_log_w = np.asarray(ref_log_w, dtype=np.float64)
    n_refs = ref_log_w.shape[0]
    ref_log_w_mean = ref_log_w.mean(axis=0)
    if n_refs > 1:
        gap_se = ref_log_w.std(axis=0, ddof=1) * np.sqrt(1.0 + 1.0 / n_refs)
    else:
        gap_se = np.full_like(ref_log_w_mean, np.nan)
    return ref_log_w_mean - log_w, ref_log_w_mean, gap_se


def _first_true(mask):
    """Index of the first True (R's ``which.max`` on a logical vector), or None."""
    return int(np.argmax(mask)) if mask.any() else None


@validate_params(
    {
        "f": ["array-like"],
        "se_f": ["array-like"],
        "method": [StrOptions(set(MAX_SE_METHODS))],
        "se_factor": [Interval(Real, 0, None, closed="left")],
    },
    prefer_skip_nested_validation=True,
)
def max_se(f, se_f, method="Tibs2001SEmax", se_factor=1.0):
    """Location of the maximum of ``f`` with a 1-SE rule: R's ``cluster::maxSE``.

    With ``s = se_factor * se_f`` and ``K = len(f)``:

    * ``"firstmax"``: the first local maximum, i.e. the first ``k`` with
      ``f[k + 1] <= f[k]``, else the last index.
    * ``"globalmax"``: the first index of the global maximum.
    * ``"Tibs2001SEmax"``: the smallest ``k`` with ``f[k] >= f[k + 1] - s[k + 1]``
      (Tibshirani et al., 2001), else the last index.
    * ``"firstSEmax"``: with ``m`` the first local maximum, the smallest
      ``k < m`` with ``f[k] >= f[m] - s[m]``, else ``m``.
    * ``"globalSEmax"``: the same from the global maximum (Dudoit and
      Fridlyand, 2002).

    Parameters
    ----------
    f : array-like of shape (n_k,)
        The values to maximise, e.g. the gap at increasing K.  No NaN; ``+inf``
        is allowed (a perfect partition).

    se_f : array-like of shape (n_k,)
        Their standard errors, non-negative.

    method : {"firstSEmax", "Tibs2001SEmax", "globalSEmax", "firstmax", \
            "globalmax"}, default="Tibs2001SEmax"
        The rule.  R's default is "firstSEmax"; ours is the rule of the gap
        statistic paper.

    se_factor : float, default=1.0
        Multiplier of the standard errors (R's ``SE.factor``).

    Returns
    -------
    index : int
        The **0-based** index into ``f`` of the chosen K: R's result minus one.

    See Also
    --------
    gap_statistic : The gap and its standard error.
    KSelector : Runs the whole gap statistic around a clusterer.

    Notes
    -----
    Equalities count as in R: ``firstmax`` stops at a flat step
    (``diff(f) <= 0``) and the SE rules accept ``>=``.

    Examples
    --------
    >>> from sklearn_kmeans_lab import max_se
    >>> gap = [0.1, 0.5, 0.52, 0.9, 0.8]
    >>> se = [0.05, 0.05, 0.05, 0.05, 0.05]
    >>> max_se(gap, se, method="Tibs2001SEmax")  # 0.5 >= 0.52 - 0.05
    1
    >>> max_se(gap, se, method="globalmax")
    3
    """
    f = np.asarray(f, dtype=np.float64)
    se_f = np.asarray(se_f, dtype=np.float64)
    if f.ndim != 1 or f.size == 0 or se_f.shape != f.shape:
        raise ValueError(
            "f and se_f must be non-empty 1-D arrays of the same length; got "
            f"shapes {f.shape} and {se_f.shape}."
        )
    if np.isnan(f).any() or np.isnan(se_f).any():
        raise ValueError("f and se_f must not contain NaN.")
    if (se_f < 0).any():
        raise ValueError(f"se_f must be non-negative; got {se_f.tolist()}.")
    last = f.size - 1
    s = se_factor * se_f
    if method == "globalmax":
        return int(np.argmax(f))
    if method == "Tibs2001SEmax":
        first = _first_true(f[:-1] >= (f - s)[1:])
        return last if first is None else first
    # Comparing neighbours instead of testing diff(f) <= 0 is the same for
    # finite values and stays defined for a run of +inf.
    first_local_max = _first_true(f[1:] <= f[:-1])
    if method == "firstmax":
        return last if first_local_max is None else first_local_max
    if method == "firstSEmax":
        top = last if first_local_max is None else first_local_max
    else:  # globalSEmax
        top = int(np.argmax(f))
    within = _first_true(f[:top] >= f[top] - s[top])
    return top if within is None else within
