"""Hypothesis property tests of Lloyd's algorithm's invariants.

The data strategy is deliberately nasty: duplicated rows, values on a coarse
grid (exact ties), and magnitudes from 1e-4 to 1e6.  The CI profile runs a
fixed, derandomised example budget (``tests/conftest.py``); run
``HYPOTHESIS_PROFILE=fuzz pytest tests/test_properties.py`` to fuzz longer.
"""

import warnings

import numpy as np
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.exceptions import ConvergenceWarning

from sklearn_kmeans_lab import LloydKMeans


@st.composite
def datasets(draw, min_samples=2, max_samples=40):
    n_features = draw(st.integers(1, 4))
    n_distinct = draw(st.integers(1, max_samples))
    grid = draw(st.booleans())
    elements = (
        st.integers(-5, 5).map(float)
        if grid
        else st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False, width=64)
    )
    pool = draw(arrays(np.float64, (n_distinct, n_features), elements=elements))
    n_samples = draw(st.integers(min_samples, max_samples))
    rows = draw(arrays(np.int64, n_samples, elements=st.integers(0, n_distinct - 1)))
    magnitude = 10.0 ** draw(st.integers(-4, 6))
    return pool[rows] * magnitude


@st.composite
def fits(draw, weighted=None):
    X = draw(datasets())
    n_distinct = len(np.unique(X, axis=0))
    k = draw(st.integers(1, min(4, len(X))))
    if weighted is None:
        weighted = draw(st.booleans())
    w = None
    if weighted:
        w = draw(arrays(np.float64, len(X), elements=st.floats(0.1, 10.0)))
    seed = draw(st.integers(0, 2**16))
    return X, k, w, seed, n_distinct


def _fit(X, k, w=None, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return LloydKMeans(k, **params).fit(X, sample_weight=w)


def _squared_distances(X, centers):
    return ((X[:, None, :] - centers[None, :, :]) ** 2).sum(axis=2)


def _scale(X):
    return max(1.0, float(np.abs(X).max()))


def _assume_well_posed(X, k, w, init):
    """Skip examples where some sample is (nearly) equidistant from two centres.

    On such exact ties (hypothesis finds them: 0.1 between 0 and 0.2) the
    rounding of a sum, which differs with row order, shift or scale, decides
    the label, and two runs can legitimately reach different local optima.
    The equality properties below are about well-posed runs: every centre
    along the run, from ``init`` to the last, has a clear nearest centre for
    every sample.
    """
    if k == 1:
        return
    centers = np.asarray(init, dtype=float)
    for max_iter in range(1, 100):
        d = np.sort(np.sqrt(_squared_distances(X, centers)), axis=1)
        assume(np.min(d[:, 1] - d[:, 0]) > 1e-6 * _scale(X))
        km = _fit(X, k, w, init=init, max_iter=max_iter, tol=0)
        centers = km.cluster_centers_
        if km.n_iter_ < max_iter:  # converged: centres no longer move
            break


@given(fits())
def test_every_label_is_a_nearest_centre(case):
    X, k, w, seed, _ = case
    km = _fit(X, k, w, random_state=seed)
    d = _squared_distances(X, km.cluster_centers_)
    chosen = d[np.arange(len(X)), km.labels_]
    # up to the rounding of the expanded distance formula
    assert np.all(chosen <= d.min(axis=1) + 1e-9 * _scale(X) ** 2)


@given(fits())
def test_inertia_is_the_weighted_sum_of_squared_distances(case):
    X, k, w, seed, _ = case
    km = _fit(X, k, w, random_state=seed)
    weights = np.ones(len(X)) if w is None else w
    d = _squared_distances(X, km.cluster_centers_)[np.arange(len(X)), km.labels_]
    expected = float(weights @ d)
    assert abs(km.inertia_ - expected) <= 1e-9 * (expected + _scale(X) ** 2)


@given(fits())
def test_predict_on_training_data_returns_labels(case):
    X, k, w, seed, n_distinct = case
    # with more clusters than distinct points two centres can coincide, and
    # which of the tied labels wins is decided by rounding errors
    assume(k <= n_distinct)
    km = _fit(X, k, w, random_state=seed)
    _assume_well_posed(X, k, w, km.cluster_centers_)
    np.testing.assert_array_equal(km.predict(X), km.labels_)


@given(fits())
def test_inertia_never_rises_across_iterations(case):
    X, k, w, seed, _ = case
    init = _fit(X, k, w, random_state=seed, max_iter=1).cluster_centers_
    inertias = [
        _fit(X, k, w, init=init, max_iter=m, tol=0).inertia_ for m in range(1, 8)
    ]
    slack = 1e-9 * (max(inertias) + _scale(X) ** 2)
    assert all(b <= a + slack for a, b in zip(inertias, inertias[1:], strict=False))


@given(fits(weighted=False), st.randoms(use_true_random=False))
def test_row_permutation_does_not_change_the_fit(case, rnd):
    X, k, _, _, _ = case
    perm = np.array(rnd.sample(range(len(X)), len(X)))
    init = X[:k].copy()
    _assume_well_posed(X, k, None, init)
    a = _fit(X, k, init=init)
    b = _fit(X[perm], k, init=init)
    assert b.inertia_ == np.float64(a.inertia_) or abs(
        b.inertia_ - a.inertia_
    ) <= 1e-9 * (a.inertia_ + _scale(X) ** 2)


@given(fits(), st.floats(-1e4, 1e4))
def test_translation_moves_centres_and_keeps_labels(case, shift):
    X, k, w, _, _ = case
    assume(np.ptp(X, axis=0).max() > 1e-3 * max(1.0, abs(shift)))
    init = X[:k].copy()
    _assume_well_posed(X, k, w, init)
    a = _fit(X, k, w, init=init)
    b = _fit(X + shift, k, w, init=init + shift)
    tol = 1e-7 * (_scale(X) + abs(shift)) ** 2
    assert abs(a.inertia_ - b.inertia_) <= tol + 1e-7 * a.inertia_
    np.testing.assert_allclose(
        b.cluster_centers_, a.cluster_centers_ + shift, rtol=1e-7,
        atol=1e-7 * (_scale(X) + abs(shift)),
    )  # fmt: skip
    np.testing.assert_array_equal(a.labels_, b.labels_)


@given(fits(), st.sampled_from([1e-3, 0.5, 3.0, 1e4]))
def test_uniform_scaling_scales_centres_and_inertia(case, factor):
    X, k, w, _, _ = case
    init = X[:k].copy()
    _assume_well_posed(X, k, w, init)
    a = _fit(X, k, w, init=init)
    b = _fit(X * factor, k, w, init=init * factor)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    np.testing.assert_allclose(
        b.cluster_centers_, a.cluster_centers_ * factor, rtol=1e-9,
        atol=1e-9 * _scale(X) * factor,
    )  # fmt: skip
    assert b.inertia_ == np.float64(a.inertia_ * factor**2) or abs(
        b.inertia_ - a.inertia_ * factor**2
    ) <= 1e-8 * (b.inertia_ + (_scale(X) * factor) ** 2)


@given(fits(weighted=False), st.data())
def test_integer_weights_equal_repeated_rows(case, data):
    X, k, _, _, _ = case
    counts = data.draw(arrays(np.int64, len(X), elements=st.integers(1, 3)))
    init = X[:k].copy()
    _assume_well_posed(X, k, counts.astype(float), init)
    weighted = _fit(X, k, counts.astype(float), init=init)
    repeated = _fit(np.repeat(X, counts, axis=0), k, init=init)
    np.testing.assert_allclose(
        weighted.cluster_centers_, repeated.cluster_centers_, rtol=1e-9,
        atol=1e-9 * _scale(X),
    )  # fmt: skip
    assert abs(weighted.inertia_ - repeated.inertia_) <= 1e-9 * (
        repeated.inertia_ + _scale(X) ** 2
    )


@given(fits())
def test_one_cluster_is_the_weighted_mean(case):
    X, _, w, seed, _ = case
    km = _fit(X, 1, w, random_state=seed)
    expected = np.average(X, axis=0, weights=w)
    np.testing.assert_allclose(
        km.cluster_centers_[0], expected, rtol=1e-9, atol=1e-9 * _scale(X)
    )


@given(datasets(max_samples=20), st.integers(0, 2**16))
def test_as_many_clusters_as_distinct_points_gives_zero_inertia(X, seed):
    n_distinct = len(np.unique(X, axis=0))
    km = _fit(X, n_distinct, random_state=seed)
    assert km.inertia_ <= 1e-12 * _scale(X) ** 2
