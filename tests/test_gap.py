"""The gap-statistic helpers: W_k, the reference box and draws, gap and s_k, maxSE."""

import itertools
import math
import statistics

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from sklearn_kmeans_lab import LloydKMeans, _gap, max_se
from sklearn_kmeans_lab._compat import InvalidParameterError
from sklearn_kmeans_lab._gap import (
    draw_reference_sets,
    gap_statistic,
    reference_box,
    within_dispersion,
)

METHODS = ["firstSEmax", "Tibs2001SEmax", "globalSEmax", "firstmax", "globalmax"]


def pairwise_dispersion(X, labels, d_power, sample_weight=None):
    """clusGap's W.k written out: 0.5 * sum_r sum_{i<j in r} w_i w_j d_ij^p / n_r."""
    w = np.ones(len(X)) if sample_weight is None else np.asarray(sample_weight)
    total = 0.0
    for r in np.unique(labels):
        members = np.flatnonzero(labels == r)
        pairs = sum(
            w[i] * w[j] * np.linalg.norm(X[i] - X[j]) ** d_power
            for i, j in itertools.combinations(members, 2)
        )
        total += pairs / w[members].sum()
    return 0.5 * total


# -- W_k ------------------------------------------------------------------


@pytest.mark.parametrize("d_power", [1, 2, 1.5])
def test_within_dispersion_is_half_the_pair_sum_over_cluster_size(d_power):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(23, 3))
    labels = rng.randint(0, 4, size=23)
    assert within_dispersion(X, labels, d_power=d_power) == pytest.approx(
        pairwise_dispersion(X, labels, d_power), rel=1e-12
    )


@pytest.mark.parametrize("d_power", [1, 2])
def test_within_dispersion_weights_count_as_repeated_rows(d_power):
    rng = np.random.RandomState(1)
    X = rng.normal(size=(15, 2))
    labels = rng.randint(0, 3, size=15)
    weights = rng.randint(0, 4, size=15)
    weights[0] = 2  # keep every label present after repetition
    weighted = within_dispersion(
        X, labels, d_power=d_power, sample_weight=weights.astype(float)
    )
    repeated = within_dispersion(
        np.repeat(X, weights, axis=0), np.repeat(labels, weights), d_power=d_power
    )
    assert weighted == pytest.approx(repeated, rel=1e-12)
    assert weighted == pytest.approx(
        pairwise_dispersion(X, labels, d_power, weights), rel=1e-12
    )


def test_within_dispersion_for_squared_distances_is_half_the_kmeans_inertia():
    rng = np.random.RandomState(2)
    X = np.vstack([rng.normal(c, 0.3, size=(30, 2)) for c in (0, 5, 10)])
    km = LloydKMeans(n_clusters=3, n_init=3, tol=0, random_state=0).fit(X)
    assert within_dispersion(X, km.labels_) == pytest.approx(km.inertia_ / 2, rel=1e-9)


def test_within_dispersion_in_small_blocks_matches_one_block(monkeypatch):
    rng = np.random.RandomState(3)
    X = rng.normal(size=(40, 2))
    labels = rng.randint(0, 2, size=40)
    whole = within_dispersion(X, labels, d_power=1)
    monkeypatch.setattr(_gap, "_PAIRWISE_BLOCK", 7)  # blocks of a few rows
    assert within_dispersion(X, labels, d_power=1) == pytest.approx(whole, rel=1e-12)


def test_within_dispersion_of_identical_points_is_zero():
    X = np.ones((5, 2))
    assert within_dispersion(X, np.zeros(5), d_power=1) == 0.0
    assert within_dispersion(X, np.arange(5)) == 0.0


# -- reference box and draws ------------------------------------------------


def test_uniform_box_is_the_range_of_each_centred_feature():
    rng = np.random.RandomState(4)
    X = rng.normal(size=(50, 3)) * [1, 10, 100]
    box = reference_box(X, reference="uniform")
    assert box.rotation is None
    assert_allclose(box.center, X.mean(axis=0))
    assert_allclose(box.low, X.min(axis=0) - X.mean(axis=0))
    assert_allclose(box.high, X.max(axis=0) - X.mean(axis=0))


def test_uniform_draws_fill_the_range_of_each_feature():
    rng = np.random.RandomState(5)
    X = rng.normal(size=(50, 2)) * [1, 10]
    refs = draw_reference_sets(
        reference_box(X, reference="uniform"), 50, 40, random_state=0
    )
    assert refs.shape == (40, 50, 2)
    flat = refs.reshape(-1, 2)
    span = X.max(axis=0) - X.min(axis=0)
    assert np.all(flat >= X.min(axis=0) - 1e-12 * span)
    assert np.all(flat <= X.max(axis=0) + 1e-12 * span)
    # 2000 uniform draws come within 1% of both ends of the range
    assert np.all(flat.min(axis=0) < X.min(axis=0) + 0.01 * span)
    assert np.all(flat.max(axis=0) > X.max(axis=0) - 0.01 * span)


def test_pca_box_is_the_range_on_the_principal_axes():
    rng = np.random.RandomState(6)
    X = rng.normal(size=(60, 3)) @ rng.normal(size=(3, 3))
    box = reference_box(X, reference="pca")
    assert_allclose(box.rotation.T @ box.rotation, np.eye(3), atol=1e-12)
    # the axes are those of the centred data's SVD (up to sign)
    vt = np.linalg.svd(X - X.mean(axis=0), full_matrices=False)[2]
    assert_allclose(np.abs(box.rotation.T @ vt.T), np.eye(3), atol=1e-10)
    rotated = (X - box.center) @ box.rotation
    assert_allclose(box.low, rotated.min(axis=0))
    assert_allclose(box.high, rotated.max(axis=0))


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("reference", ["pca", "uniform"])
def test_box_read_in_chunks_is_the_box_of_the_whole_matrix(
    monkeypatch, reference, weighted
):
    rng = np.random.RandomState(7)
    X = rng.normal(size=(503, 4)) @ rng.normal(size=(4, 4)) + 1e3
    w = (
        rng.uniform(0, 2, size=503) * (rng.uniform(size=503) > 0.2)
        if weighted
        else None
    )
    whole = reference_box(X, reference=reference, sample_weight=w)
    monkeypatch.setattr(_gap, "_CHUNK_VALUES", 4 * 37)  # 37 rows a chunk
    chunked = reference_box(X, reference=reference, sample_weight=w)
    for a, b in zip(whole, chunked, strict=True):
        if a is None:  # the uniform box has no rotation
            assert b is None
        else:
            assert_allclose(a, b, rtol=1e-10, atol=1e-10)
    if reference == "pca":
        # the signs are fixed: each axis's largest loading is positive
        rows = np.arange(4)
        largest = np.abs(chunked.rotation).argmax(axis=0)
        assert (chunked.rotation[largest, rows] > 0).all()
        # the axes of the weighted centred data's SVD, up to sign
        keep = slice(None) if w is None else w > 0
        scaled = X[keep] - chunked.center
        if w is not None:
            scaled = scaled * np.sqrt(w[keep])[:, None]
        vt = np.linalg.svd(scaled, full_matrices=False)[2]
        assert_allclose(np.abs(chunked.rotation.T @ vt.T), np.eye(4), atol=1e-8)


def test_box_and_dispersion_take_the_memory_of_a_chunk_not_of_x(monkeypatch):
    import tracemalloc

    monkeypatch.setattr(_gap, "_CHUNK_VALUES", 2**16)  # 0.5 MiB of float64
    X = np.random.RandomState(8).normal(size=(200_000, 20)).astype(np.float32)
    labels = np.zeros(X.shape[0], dtype=np.int32)
    w = np.random.RandomState(9).uniform(0.5, 2.0, size=X.shape[0])
    tracemalloc.start()
    try:
        reference_box(X, reference="pca")
        reference_box(X, reference="pca", sample_weight=w)
        within_dispersion(X, labels)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # a float64 copy of X would be 32 MB, an SVD of it several copies
    assert peak < 0.5 * X.nbytes, peak


def test_pca_draws_lie_in_the_rotated_box():
    rng = np.random.RandomState(7)
    X = rng.normal(size=(60, 3)) @ rng.normal(size=(3, 3)) + 50
    box = reference_box(X, reference="pca")
    refs = draw_reference_sets(box, 60, 20, random_state=0)
    rotated = (refs.reshape(-1, 3) - box.center) @ box.rotation
    tol = 1e-9 * (box.high - box.low).max()
    assert np.all(rotated >= box.low - tol)
    assert np.all(rotated <= box.high + tol)
    # ... and not in the axis-aligned box only: some draws leave X's range
    # on the original axes, which a rotated box does for correlated data
    flat = refs.reshape(-1, 3)
    assert ((flat < X.min(axis=0)) | (flat > X.max(axis=0))).any()


def test_pca_draws_stay_in_the_span_of_rank_deficient_data():
    rng = np.random.RandomState(8)
    plane = rng.normal(size=(2, 4))
    X = rng.normal(size=(30, 2)) @ plane + 3.0
    box = reference_box(X, reference="pca")
    refs = draw_reference_sets(box, 30, 5, random_state=0).reshape(-1, 4)
    # residual of the draws off the data's affine plane
    basis = np.linalg.qr(plane.T)[0]
    centred = refs - X.mean(axis=0)
    residual = centred - centred @ basis @ basis.T
    assert np.abs(residual).max() < 1e-9 * np.abs(centred).max()


def test_pca_box_of_fewer_samples_than_features_has_one_axis_per_sample():
    X = np.random.RandomState(9).normal(size=(4, 7))
    box = reference_box(X, reference="pca")
    assert box.rotation.shape == (7, 4)
    assert draw_reference_sets(box, 4, 3, random_state=0).shape == (3, 4, 7)


@pytest.mark.parametrize("reference", ["uniform", "pca"])
def test_box_with_unit_or_scaled_weights_is_the_unweighted_box(reference):
    X = np.random.RandomState(10).normal(size=(40, 3))
    plain = reference_box(X, reference=reference)
    for weights in (np.ones(40), np.full(40, 3.5)):
        weighted = reference_box(X, reference=reference, sample_weight=weights)
        for a, b in zip(plain, weighted, strict=True):
            if a is not None:
                assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_box_ignores_samples_of_zero_weight():
    X = np.random.RandomState(11).normal(size=(40, 2))
    X_out = np.vstack([X, [[1e6, -1e6]]])
    weights = np.r_[np.ones(40), 0.0]
    box = reference_box(X_out, reference="uniform", sample_weight=weights)
    assert_allclose(box.center, X.mean(axis=0))
    assert_allclose(box.high, X.max(axis=0) - X.mean(axis=0))


def with_canonical_axes(box):
    """``box`` with each principal axis signed so that its largest entry is
    positive: an SVD fixes its axes only up to sign."""
    if box.rotation is None:
        return box
    largest = np.argmax(np.abs(box.rotation), axis=0)
    signs = np.sign(box.rotation[largest, np.arange(box.rotation.shape[1])])
    return _gap.ReferenceBox(
        box.center,
        box.rotation * signs,
        np.where(signs > 0, box.low, -box.high),
        np.where(signs > 0, box.high, -box.low),
    )


@pytest.mark.parametrize("reference", ["uniform", "pca"])
def test_box_with_integer_weights_is_the_box_of_repeated_rows(reference):
    rng = np.random.RandomState(13)
    # Off-centre and elongated, so the centre and every axis are telling.
    X = rng.normal(size=(30, 3)) @ [[3.0, 1.0, 0.0], [0.0, 1.0, 0.0], [0, 0.2, 0.5]]
    X += [5.0, -2.0, 1.0]
    weights = rng.randint(0, 6, size=30)
    weighted = with_canonical_axes(
        reference_box(X, reference=reference, sample_weight=weights.astype(float))
    )
    repeated = with_canonical_axes(
        reference_box(np.repeat(X, weights, axis=0), reference=reference)
    )
    # the weights move the centre: an unweighted mean would not pass
    assert np.abs(X.mean(axis=0) - repeated.center).max() > 0.1
    for a, b in zip(weighted, repeated, strict=True):
        if a is not None:
            assert_allclose(a, b, rtol=1e-10, atol=1e-10 * np.abs(X).max())
    draws_weighted = draw_reference_sets(weighted, 30, 4, random_state=0)
    draws_repeated = draw_reference_sets(repeated, 30, 4, random_state=0)
    assert_allclose(draws_weighted, draws_repeated, rtol=1e-10, atol=1e-9)


def test_draws_are_reproducible_and_take_the_dtype():
    X = np.random.RandomState(12).normal(size=(20, 2))
    box = reference_box(X)
    a = draw_reference_sets(box, 20, 3, random_state=42, dtype=np.float32)
    b = draw_reference_sets(box, 20, 3, random_state=42, dtype=np.float32)
    assert a.dtype == np.float32
    assert_array_equal(a, b)


def test_reference_box_rejects_unknown_reference():
    with pytest.raises(InvalidParameterError, match="reference"):
        reference_box(np.ones((3, 2)), reference="gaussian")


# -- gap and s_k --------------------------------------------------------------


def test_gap_is_mean_reference_log_w_minus_log_w():
    log_w = np.array([3.0, 2.0, 1.5])
    ref = np.array([[3.5, 2.9, 2.6], [3.4, 3.0, 2.4], [3.6, 2.8, 2.5], [3.5, 3.1, 2.7]])
    gap, ref_mean, _ = gap_statistic(log_w, ref)
    for k in range(3):
        assert ref_mean[k] == pytest.approx(statistics.fmean(ref[:, k]))
        assert gap[k] == pytest.approx(statistics.fmean(ref[:, k]) - log_w[k])


def test_gap_se_is_sample_sd_times_sqrt_one_plus_one_over_b():
    ref = np.random.RandomState(13).normal(size=(7, 4))
    _, _, se = gap_statistic(np.zeros(4), ref)
    for k in range(4):
        # statistics.stdev has the n - 1 denominator of R's var()
        expected = statistics.stdev(ref[:, k]) * math.sqrt(1 + 1 / 7)
        assert se[k] == pytest.approx(expected, rel=1e-12)


def test_gap_se_of_a_single_reference_set_is_nan():
    _, _, se = gap_statistic([1.0, 0.5], [[2.0, 1.0]])
    assert np.isnan(se).all()


# -- maxSE ----------------------------------------------------------------------


def r_max_se(f, se_f, method, se_factor):
    """R's cluster::maxSE (cluster 2.1.4) transcribed line by line, 1-based.

    which.max() on a logical vector is the first TRUE; which.max(f) the first
    maximum; diff(f) <= 0 marks a non-increase.
    """
    K = len(f)
    fSE = [se_factor * s for s in se_f]

    def first_true(v):
        return next(i + 1 for i, x in enumerate(v) if x)

    def first_local_max():
        decr = [f[i + 1] - f[i] <= 0 for i in range(K - 1)]
        return first_true(decr) if any(decr) else K

    if method == "firstmax":
        return first_local_max()
    if method == "globalmax":
        return f.index(max(f)) + 1
    if method == "Tibs2001SEmax":
        g_s = [f[i] - fSE[i] for i in range(K)]
        mp = [f[i] >= g_s[i + 1] for i in range(K - 1)]
        return first_true(mp) if any(mp) else K
    nc = first_local_max() if method == "firstSEmax" else f.index(max(f)) + 1
    mp = [f[i] >= f[nc - 1] - fSE[nc - 1] for i in range(nc - 1)]
    return first_true(mp) if any(mp) else nc


# (f, se_f, se_factor, expected 0-based index per method), worked out by hand
MAX_SE_CASES = {
    "increasing": (
        [1.0, 2.0, 3.0, 4.0], [0.1] * 4, 1.0,
        dict(firstSEmax=3, Tibs2001SEmax=3, globalSEmax=3, firstmax=3, globalmax=3),
    ),
    "decreasing": (
        [4.0, 3.0, 2.0, 1.0], [0.1] * 4, 1.0,
        dict(firstSEmax=0, Tibs2001SEmax=0, globalSEmax=0, firstmax=0, globalmax=0),
    ),
    "tied_maximum": (
        [1.0, 3.0, 3.0, 2.0], [0.0] * 4, 1.0,
        dict(firstSEmax=1, Tibs2001SEmax=1, globalSEmax=1, firstmax=1, globalmax=1),
    ),
    "flat": (
        [0.3, 0.3, 0.3], [0.0] * 3, 1.0,
        dict(firstSEmax=0, Tibs2001SEmax=0, globalSEmax=0, firstmax=0, globalmax=0),
    ),
    "se_rule_moves_left": (
        [0.1, 0.5, 0.52, 0.9, 0.8], [0.05] * 5, 1.0,
        dict(firstSEmax=3, Tibs2001SEmax=1, globalSEmax=3, firstmax=3, globalmax=3),
    ),
    "wide_se_moves_further_left": (
        [0.1, 0.5, 0.52, 0.9, 0.8], [0.05] * 5, 10.0,
        dict(firstSEmax=1, Tibs2001SEmax=0, globalSEmax=1, firstmax=3, globalmax=3),
    ),
    "first_local_max_before_global": (
        [0.2, 0.6, 0.5, 1.0, 0.9], [0.1] * 5, 1.0,
        dict(firstSEmax=1, Tibs2001SEmax=1, globalSEmax=3, firstmax=1, globalmax=3),
    ),
    "max_at_first_k": (
        [1.0, 0.5, 0.8], [0.0] * 3, 1.0,
        dict(firstSEmax=0, Tibs2001SEmax=0, globalSEmax=0, firstmax=0, globalmax=0),
    ),
    "max_at_last_k_after_a_dip": (
        [0.5, 0.4, 0.9], [0.05] * 3, 1.0,
        dict(firstSEmax=0, Tibs2001SEmax=0, globalSEmax=2, firstmax=0, globalmax=2),
    ),
    "dip_then_max_within_wide_se": (
        [0.5, 0.4, 0.9], [0.05] * 3, 10.0,
        dict(firstSEmax=0, Tibs2001SEmax=0, globalSEmax=0, firstmax=0, globalmax=2),
    ),
    # exact binary fractions: 0.75 - 0.25 == 0.5, so ">=" is an exact tie
    "tie_with_one_se": (
        [0.5, 0.75], [0.25, 0.25], 1.0,
        dict(firstSEmax=0, Tibs2001SEmax=0, globalSEmax=0, firstmax=1, globalmax=1),
    ),
    "just_outside_one_se": (
        [0.5, 0.75], [0.125, 0.125], 1.0,
        dict(firstSEmax=1, Tibs2001SEmax=1, globalSEmax=1, firstmax=1, globalmax=1),
    ),
    "single_k": (
        [0.4], [0.1], 1.0,
        dict(firstSEmax=0, Tibs2001SEmax=0, globalSEmax=0, firstmax=0, globalmax=0),
    ),
    "zero_se_factor": (
        [0.1, 0.5, 0.52, 0.9, 0.8], [0.05] * 5, 0.0,
        dict(firstSEmax=3, Tibs2001SEmax=3, globalSEmax=3, firstmax=3, globalmax=3),
    ),
}  # fmt: skip


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("case", sorted(MAX_SE_CASES))
def test_max_se_on_hand_made_curves(case, method):
    f, se_f, se_factor, expected = MAX_SE_CASES[case]
    assert max_se(f, se_f, method=method, se_factor=se_factor) == expected[method]
    # the hand-worked answers agree with the transcription of R's source
    assert r_max_se(f, se_f, method, se_factor) - 1 == expected[method]


@given(
    f=st.lists(st.integers(0, 4), min_size=1, max_size=8),
    se=st.lists(st.integers(0, 3), min_size=8, max_size=8),
    se_factor=st.sampled_from([0.0, 0.5, 1.0, 2.0]),
    method=st.sampled_from(METHODS),
)
def test_max_se_matches_r_transcription_on_tie_heavy_curves(f, se, se_factor, method):
    # small integers make ties, plateaus and exact one-SE boundaries common
    f = [v / 4 for v in f]
    se = [v / 4 for v in se[: len(f)]]
    assert max_se(f, se, method=method, se_factor=se_factor) == (
        r_max_se(f, se, method, se_factor) - 1
    )


@pytest.mark.parametrize("method", METHODS)
def test_max_se_takes_a_perfect_partition_at_the_end(method):
    # a +inf gap (W_k = 0 at the largest K) is chosen unless a rule stops earlier
    f = [0.1, 0.3, np.inf]
    assert max_se(f, [0.05] * 3, method=method) == 2


def test_max_se_default_is_the_rule_of_the_paper():
    f, se_f, _, expected = MAX_SE_CASES["se_rule_moves_left"]
    assert max_se(f, se_f) == expected["Tibs2001SEmax"]


@pytest.mark.parametrize(
    "f, se_f, match",
    [
        ([0.1, np.nan], [0.1, 0.1], "NaN"),
        ([0.1, 0.2], [0.1, np.nan], "NaN"),
        ([0.1, 0.2], [0.1], "same length"),
        ([], [], "non-empty"),
        ([[0.1, 0.2]], [[0.1, 0.2]], "1-D"),
        ([0.1, 0.2], [0.1, -0.1], "non-negative"),
    ],
)
def test_max_se_rejects_bad_curves(f, se_f, match):
    with pytest.raises(ValueError, match=match):
        max_se(f, se_f)


def test_max_se_rejects_unknown_method_and_negative_factor():
    with pytest.raises(InvalidParameterError, match="method"):
        max_se([0.1], [0.1], method="Tibs2001")
    with pytest.raises(InvalidParameterError, match="se_factor"):
        max_se([0.1], [0.1], se_factor=-1)
