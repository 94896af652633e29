"""``KSelector`` on a Dask array: choose K on a uniform sample, fit at K on all.

``KSelector.fit`` hands a dask array to ``fit_on_dask``.  The scan over K
(and, for the gap statistic, over the reference sets) runs in memory on a
uniform sample of ``sample_size`` rows drawn without replacement in one pass
over the blocks; then ``LloydKMeans`` is fitted at the chosen K on the whole
Dask array, distributed, started from the centres the sample's fit found.
Only the sample (``sample_size x n_features`` values) and the centres ever
reach the client, so the data may be larger than any one process's memory.

Why a sample rather than the scan distributed with reference sets generated
lazily on the workers: the gap statistic compares ``log W_k`` of the data
with its mean over reference sets drawn to the data's shape, and both scale
with ``log n`` alike, so the gap and the choice of K do not depend on ``n``
beyond the sampling noise; the sample makes the ``n_k * (1 + n_refs)`` fits
(times ``n_init``) in-memory fits of a fixed size instead of as many
distributed fits over all of X, each several passes over data that may not
fit in memory.
"""

import numpy as np
from sklearn.base import clone
from sklearn.utils import check_random_state

from sklearn_kmeans_lab._kmeans import LloydKMeans
from sklearn_kmeans_lab._kselector_fits import SEED_MAX

# Fitted attributes the selector takes from X itself, not from the scan.
_OWN = {"best_estimator_", "labels_", "n_features_in_", "feature_names_in_"}


def uniform_sample(X, sample_weight, size, random_state):
    """``size`` rows of a dask array drawn uniformly without replacement.

    Parameters
    ----------
    X : dask.array.Array of shape (n_samples, n_features)
        Validated (one chunk along the features).
    sample_weight : dask.array.Array of shape (n_samples,) or None
        Chunked like the rows of ``X``; the sampled rows keep their weights.
    size : int
        Number of rows; all of them when ``size >= n_samples``.
    random_state : RandomState instance
        Seeds one generator per block: the sample depends on the chunking,
        never on the scheduler or the number of workers.

    Returns
    -------
    rows : ndarray of shape (min(size, n_samples), n_features)
    weights : ndarray of shape (min(size, n_samples),) or None
    """
    from functools import partial

    from sklearn_kmeans_lab._backends.dask_blocks import (
        Blocks,
        merge_uniform_sample,
        uniform_sample_block,
    )

    blocks = Blocks(X, sample_weight)
    entropy = [int(v) for v in random_state.randint(SEED_MAX, size=4)]
    _, rows, weights = blocks.reduce(
        uniform_sample_block,
        blocks.seeds(entropy),
        combine=partial(merge_uniform_sample, size),
        size=size,
    )
    return rows, weights


def fit_on_dask(selector, X, sample_weight):
    """``selector.fit(X, sample_weight=sample_weight)`` for a dask array ``X``."""
    from sklearn_kmeans_lab._backends import dask as dask_backend

    estimator = selector._estimator()
    if not isinstance(estimator, LloydKMeans):
        raise TypeError(
            "KSelector on a Dask array needs estimator=None or a LloydKMeans "
            f"(it fits the chosen K on the Dask array); got "
            f"{type(estimator).__name__}.  Compute X to NumPy for other "
            "clusterers."
        )
    X = dask_backend._check_dask_array(selector, X, reset=True)
    # (weights divided by 2**exponent: the sample's get their scale back)
    weights, exponent = dask_backend._check_dask_weights(sample_weight, X)
    rng = check_random_state(selector.random_state)
    rows, row_weights = uniform_sample(X, weights, selector.sample_size, rng)
    if row_weights is not None:
        row_weights = np.ldexp(row_weights.astype(np.float64), exponent)

    scan = clone(selector).set_params(random_state=int(rng.randint(SEED_MAX)))
    scan.fit(rows, sample_weight=row_weights)
    at_k = scan.best_estimator_
    best = clone(estimator).set_params(
        **{selector.param_name: scan.n_clusters_},
        init=at_k.cluster_centers_,
        n_init=1,
        random_state=int(rng.randint(SEED_MAX)),
    )
    best.fit(X, sample_weight=sample_weight)

    # What the scan found (n_clusters_, results_, choices_, ...) describes
    # the sample; the fit at K and its labels are the whole array's.
    for name, value in vars(scan).items():
        if name.endswith("_") and not name.startswith("_") and name not in _OWN:
            setattr(selector, name, value)
    selector.best_estimator_ = best
    selector.labels_ = best.labels_
    return selector


def check_dask_test_data(selector, X):
    """Check a dask array for a fitted selector's methods, lazily."""
    from sklearn_kmeans_lab._backends import dask as dask_backend

    return dask_backend.check_test_data(selector, X)
