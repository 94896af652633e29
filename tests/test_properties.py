"""Hypothesis property tests of Lloyd's algorithm's invariants.

The data strategy is deliberately nasty: duplicated rows, values on a coarse
grid (exact ties), and magnitudes from 1e-4 to 1e6.  The CI profile runs a
fixed, derandomised example budget (``tests/conftest.py``); run
``HYPOTHESIS_PROFILE=fuzz pytest tests/test_properties.py`` to fuzz longer.
"""

import os
import warnings

import numpy as np
from hypothesis import assume, given, settings
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


# --------------------------------------------------------------------------
# Numerical edges (issue: extreme weights, large offsets, exact ties, wide
# sparse data).  The CI profile runs them a quarter as often as the others.

EDGE_EXAMPLES = (
    8000
    if os.environ.get("HYPOTHESIS_PROFILE") == "edges"
    else max(5, settings().max_examples // 4)
)


@st.composite
def extreme_weights(draw, n_samples):
    """Weights from subnormal to near overflow, zeros among tiny positives."""
    elements = st.one_of(
        st.just(0.0),
        st.sampled_from([5e-324, 1e-320, 2.2250738585072014e-308, 1e-300]),
        st.floats(1e-300, 1e300),
        st.sampled_from([1e300, 1e306, 1.7e308]),
    )
    w = draw(arrays(np.float64, n_samples, elements=elements))
    if not np.any(w > 0):
        w[draw(st.integers(0, n_samples - 1))] = draw(st.floats(5e-324, 1.7e308))
    return w


@st.composite
def offset_data(draw):
    """Small clusters far from the origin: 1e9 in float64, lat/lon in float32."""
    n_samples = draw(st.integers(8, 60))
    n_features = draw(st.integers(1, 3))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.RandomState(seed)
    if draw(st.booleans()):
        spread = draw(st.sampled_from([1e-2, 1.0, 100.0]))
        offset = draw(st.sampled_from([1e9, -1e9, 3.7e12]))
        X = offset + spread * rng.normal(size=(n_samples, n_features))
        return X.astype(np.float64)
    centre = np.array([48.8, 2.35, -33.9])[:n_features]
    return (centre + 0.01 * rng.uniform(-1, 1, (n_samples, n_features))).astype(
        np.float32
    )


@st.composite
def integer_data(draw):
    """Integer grids: binary or 0..4, so that distances tie exactly."""
    n_features = draw(st.integers(1, 12))
    high = draw(st.sampled_from([1, 4]))
    n_samples = draw(st.integers(10, 80))
    return draw(
        arrays(np.int64, (n_samples, n_features), elements=st.integers(0, high))
    ).astype(np.float64)


@st.composite
def wide_sparse_data(draw):
    """CSR with many more columns than rows and a few non-zeros a row."""
    import scipy.sparse as sp

    n_samples = draw(st.integers(6, 40))
    n_features = draw(st.integers(500, 50_000))
    nnz = draw(st.integers(1, 5))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.RandomState(seed)
    width = n_features // nnz
    cols = (rng.randint(0, width, (n_samples, nnz)) + width * np.arange(nnz)).ravel()
    values = rng.randint(1, 4, size=cols.size).astype(np.float64)
    indptr = np.arange(0, n_samples * nnz + 1, nnz)
    return sp.csr_matrix((values, cols, indptr), shape=(n_samples, n_features))


@settings(max_examples=EDGE_EXAMPLES)
@given(datasets(min_samples=4), st.data())
def test_extreme_weights_give_finite_fits_invariant_to_power_of_two_scaling(X, data):
    w = data.draw(extreme_weights(len(X)))
    n_positive = int(np.count_nonzero(w))
    init = data.draw(st.sampled_from(["k-means++", "random"]))
    k = data.draw(st.integers(1, min(3, n_positive)))
    seed = data.draw(st.integers(0, 2**16))
    # a power of two that neither overflows nor loses a positive weight's bits
    largest = np.frexp(w.max())[1]
    smallest = np.frexp(w[w > 0].min())[1]
    low = max(-60, min(0, -1021 - smallest))
    exponent = data.draw(st.integers(low, max(low, min(60, 1024 - largest))))
    scaled = np.ldexp(w, exponent)
    assert np.all(np.isfinite(scaled)) and np.all(np.ldexp(scaled, -exponent) == w)
    # the smallest positive weight relative to the largest: below 2**-900,
    # products with it are subnormal (their rounding is not scale-invariant)
    # and below 2**-1074 it is not representable at all
    ratio = float(w[w > 0].min()) / float(w.max())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # inertia beyond range
        try:
            a = _fit(X, k, w, init=init, random_state=seed)
            b = _fit(X, k, scaled, init=init, random_state=seed)
        except ValueError as exc:  # only where a weight is lost to the range
            assert ratio < 2.0**-1000 and "non-zero sample_weight" in str(exc)
            return
    assert np.all(np.isfinite(a.cluster_centers_))
    assert not np.isnan(a.inertia_)
    np.testing.assert_array_equal(a.labels_, a.predict(X))
    if ratio < 2.0**-900:
        return
    np.testing.assert_array_equal(a.labels_, b.labels_)
    np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_)
    weight_per_cluster = np.bincount(a.labels_, weights=w, minlength=k)
    distinct_positive = len(np.unique(X[w > 0], axis=0))
    if distinct_positive >= k:  # no cluster of zero-weight members only
        assert np.all(weight_per_cluster > 0)


@settings(max_examples=EDGE_EXAMPLES)
@given(offset_data(), st.integers(1, 4), st.integers(0, 2**16))
def test_far_from_the_origin_predict_and_score_agree_with_fit(X, k, seed):
    km = _fit(X, k, random_state=seed)
    np.testing.assert_array_equal(km.predict(X), km.labels_)
    assert abs(km.score(X) + km.inertia_) <= 1e-6 * km.inertia_ + 1e-300
    diff = X.astype(np.float64) - km.cluster_centers_.astype(np.float64)[km.labels_]
    exact = float(np.einsum("ij,ij->", diff, diff))
    rtol = 1e-6 if X.dtype == np.float32 else 1e-12
    assert abs(km.inertia_ - exact) <= rtol * exact + 1e-300


@settings(max_examples=EDGE_EXAMPLES)
@given(integer_data(), st.data())
def test_exact_ties_go_to_the_lowest_centre_index(X, data):
    import scipy.sparse as sp

    distinct = np.unique(X, axis=0)
    k = data.draw(st.integers(1, min(6, len(distinct))))
    rows = data.draw(st.permutations(range(len(distinct))))[:k]
    init = distinct[rows]
    d = ((X[:, None, :] - init[None]) ** 2).sum(axis=2)  # exact: small integers
    expected = np.argmin(d, axis=1)
    means = np.array([X[expected == j].mean(axis=0) for j in range(k)])
    sparse = data.draw(st.booleans())
    dtype = data.draw(st.sampled_from([np.float64, np.float32]))
    Xf = X.astype(dtype)
    km = _fit(sp.csr_matrix(Xf) if sparse else Xf, k, init=init, max_iter=1, tol=0)
    np.testing.assert_allclose(km.cluster_centers_, means, rtol=1e-6, atol=1e-6)
    km.cluster_centers_ = init.astype(dtype)
    np.testing.assert_array_equal(km.predict(Xf), expected)


@settings(max_examples=EDGE_EXAMPLES)
@given(wide_sparse_data(), st.integers(2, 4), st.booleans())
def test_wide_sparse_fits_with_an_empty_cluster(X, k, weighted):
    assume(X.shape[0] > k)
    dense = X.toarray()
    init = dense[[0] * 2 + list(range(1, k - 1))]  # duplicated: a cluster empty
    w = np.linspace(0.5, 2.0, X.shape[0]) if weighted else None
    km = _fit(X, k, w, init=init)
    assert np.all(np.isfinite(km.cluster_centers_))
    np.testing.assert_array_equal(km.predict(X), km.labels_)
    expected = np.average(
        ((dense - km.cluster_centers_[km.labels_]) ** 2).sum(axis=1), weights=w
    ) * (X.shape[0] if w is None else w.sum())
    assert abs(km.inertia_ - expected) <= 1e-9 * (expected + 1)
