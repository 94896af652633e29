"""The compiled seeding's fused kernels give the values of the kernels the
Python loop runs (their reference), bit for bit."""

import numpy as np
import pytest

from sklearn_kmeans_lab import _canonical_order, _seeding
from sklearn_kmeans_lab._kernels import kmeans_plusplus as kpp
from sklearn_kmeans_lab._kernels import seeding as kernels
from sklearn_kmeans_lab._kernels.common import CHUNK_ROWS, DenseRows


def _cases(n, d, rng):
    """Continuous, integer-valued with duplicated rows, and far from the
    origin; float64 and float32; no, positive and partly zero weights."""
    continuous = rng.normal(size=(n, d)) * rng.uniform(0.1, 10, d)
    integer = rng.randint(0, 3, size=(n, d)).astype(float)
    for X in (continuous, integer, continuous + 1e6):
        for dtype in (np.float64, np.float32):
            Xt = np.ascontiguousarray(X, dtype=dtype)
            zero = rng.uniform(0, 2, n)
            zero[rng.uniform(size=n) < 0.3] = 0.0
            for w in (None, rng.uniform(0.1, 3, n), zero):
                yield Xt, w


def _samples(X, w):
    offset = X.mean(axis=0).astype(X.dtype)
    if w is None:
        return DenseRows(X, offset, np.ones(1), False)
    return DenseRows(X, offset, w, True)


def _unit(X):
    return _canonical_order.canonical_order(X).unit


@pytest.mark.parametrize("n", [1, 2, 7, 1000, 5000])
@pytest.mark.parametrize("d", [1, 2, 3, 17, 40])
def test_direct_trials_equal_dense_trials(n, d):
    rng = np.random.RandomState(10 * n + d)
    for X, w in _cases(n, d, rng):
        samples, unit = _samples(X, w), _unit(X)
        closest = (rng.uniform(0, 4, n) * (rng.uniform(size=n) < 0.9)).astype(
            np.float32
        )
        cands = X[rng.randint(0, n, 3)] - samples.x_offset
        for keep in (False, True):
            results = []
            for kernel in ("dense", "direct"):
                cand_dist = np.full((3, n) if keep else (1, 1), -1.0, np.float32)
                options = kernels.TrialOptions(
                    False, CHUNK_ROWS, keep, cand_dist, np.empty(1)
                )
                potentials = np.empty(3)
                if kernel == "dense":
                    kernels.dense_trials(
                        samples, cands, closest, unit, options, potentials
                    )
                else:
                    chunk_t = np.empty((d, CHUNK_ROWS), X.dtype)
                    kernels.direct_trials(
                        samples,
                        cands,
                        closest,
                        unit,
                        options,
                        potentials,
                        chunk_t,
                        np.empty(CHUNK_ROWS),
                    )
                results.append((potentials, cand_dist))
            np.testing.assert_array_equal(results[0][0], results[1][0])
            np.testing.assert_array_equal(results[0][1], results[1][1])


@pytest.mark.parametrize("n", [1, 2, 7, 1000, 5000])
@pytest.mark.parametrize("d", [1, 2, 3, 17, 40])
def test_direct_closer_equals_dense_closer(n, d):
    rng = np.random.RandomState(10 * n + d + 1)
    for X, w in _cases(n, d, rng):
        samples, unit = _samples(X, w), _unit(X)
        buckets, n_buckets = _canonical_order.canonical_order(X).coarse_buckets()
        center = X[rng.randint(n)] - samples.x_offset
        start = rng.uniform(0, 4, n).astype(np.float32)
        for first, scale in ((True, 0.0), (False, 2.0**40)):
            results = []
            for kernel in ("dense", "direct"):
                closest = start.copy()
                totals = np.full(n_buckets, -1, np.int64)
                masses = kernels.Masses(
                    samples.w, samples.weighted, closest, True, scale
                )
                args = (samples, center[None], closest, unit, first, buckets)
                if kernel == "dense":
                    kernels.dense_closer(*args, masses, totals)
                else:
                    # a chunk that does not divide n
                    chunk = 7
                    kernels.direct_closer(
                        samples,
                        center,
                        closest,
                        unit,
                        first,
                        buckets,
                        masses,
                        totals,
                        np.empty((d, chunk), X.dtype),
                        np.empty(chunk),
                    )
                results.append((closest, totals))
            np.testing.assert_array_equal(results[0][0], results[1][0])
            np.testing.assert_array_equal(results[0][1], results[1][1])


@pytest.mark.parametrize("n", [1, 2, 7, 1000, 5000])
def test_grouped_draws_equal_dense_draws(n):
    rng = np.random.RandomState(n)
    X = rng.normal(size=(n, 3))
    X = np.r_[X, X[: n // 3]]  # repeated rows: equal keys
    w = rng.uniform(0, 3, len(X)) * (rng.uniform(size=len(X)) < 0.8)
    closest = rng.uniform(0, 2, len(X)).astype(np.float32)
    order = _canonical_order.canonical_order(X)
    buckets, n_buckets = order.coarse_buckets()
    members, starts = order.coarse_members()
    assert np.all(np.diff(buckets[members]) >= 0)
    assert np.all(np.diff(members[buckets[members] == buckets[0]]) > 0)
    masses = kernels.Masses(w, True, closest, True, kpp.mass_scale(w @ closest))
    totals = np.zeros(n_buckets, np.int64)
    kernels.bucket_masses(buckets, masses, totals)
    values, _ = kpp.draw_values(totals, rng.uniform(size=50))
    picks = np.empty((2, 50), np.intp)
    kernels.dense_draw(
        X,
        order.direction,
        buckets,
        totals,
        values,
        masses,
        np.empty(0, np.int64),
        len(X),
        picks[0],
    )
    kernels.grouped_draw(
        X, order.direction, members, starts, totals, values, masses, picks[1]
    )
    np.testing.assert_array_equal(picks[0], picks[1])


@pytest.mark.parametrize("n", [1, 2, 7, 1000, 100_000])
def test_coarse_members_are_a_stable_sort_of_the_buckets(n):
    # the counting sort gives the members a stable argsort gives, in int32
    # (half the memory), and each bucket's start a cumulative count gives
    X = np.random.RandomState(n).normal(size=(n, 3))
    X = np.r_[X, X[: n // 3]]  # repeated rows: equal buckets
    order = _canonical_order.canonical_order(X)
    buckets, n_buckets = order.coarse_buckets()
    members, starts = order.coarse_members()
    assert members.dtype == np.int32
    np.testing.assert_array_equal(members, np.argsort(buckets, kind="stable"))
    expected = np.zeros(n_buckets + 1, np.int64)
    np.cumsum(np.bincount(buckets, minlength=n_buckets), out=expected[1:])
    np.testing.assert_array_equal(starts, expected)


def _numpy_scale(closest, w):
    """The scale the Python loop takes from numpy's potential (in the
    seeding's unit, as ``closest``)."""
    return kpp.mass_scale(float(closest.sum() if w is None else np.dot(closest, w)))


@pytest.mark.parametrize("n", [1, 7, 1000, 100_000])
def test_certain_mass_scale_is_numpys(n):
    rng = np.random.RandomState(n)
    for _ in range(20):
        closest = (rng.uniform(0, 30, n) * rng.uniform(size=n) ** 8).astype(np.float32)
        # potentials over many orders of magnitude, subnormal ones included
        closest *= np.float32(2.0 ** rng.randint(-140, 50))
        for w in (None, rng.uniform(0, 1, n)):
            ours = float(np.sum(closest.astype(np.float64) * (1 if w is None else w)))
            scale = kpp.certain_mass_scale(ours, n, w is None)
            if scale != 0:  # else numpy's own potential is taken
                assert scale == _numpy_scale(closest, w)


@pytest.mark.parametrize("n", [1, 7, 1000, 100_000])
def test_the_first_potential_is_numpys(n):
    # compiled without weights (numpy's pairwise sum), numpy's dot with them
    rng = np.random.RandomState(n)
    closest = (rng.uniform(0, 30, n) * rng.uniform(size=n) ** 8).astype(np.float32)
    w = rng.uniform(0, 1, n)
    assert kpp.first_potential(closest, w[:1], False) == float(closest.sum())
    assert kpp.first_potential(closest, w, True) == float(np.dot(closest, w))


def test_mass_scale_near_a_power_of_two_is_left_to_numpy(monkeypatch):
    # 1024 rows at 0 and 1024 at 1: the first potential is a power of two,
    # where the last rounding of a sum decides the scale
    X = np.repeat([[0.0], [1.0]], 1024, axis=0)
    unit = _unit(X)
    closest = np.repeat(np.float32([0, 1 / unit]), 1024)
    assert kpp.certain_mass_scale(float(closest.sum()), len(X), True) == 0
    # ... and the compiled seeding then seeds as the Python loop does
    for w in (None, np.ones(len(X))):
        seeds = []
        for compiled in (True, False):
            monkeypatch.setattr(_seeding, "_USE_COMPILED_SEEDING", compiled)
            rs = np.random.RandomState(0)
            seeds.append(
                (*_seeding.kmeans_plusplus_centers(X, 3, w, rs, None), rs.uniform())
            )
        np.testing.assert_array_equal(seeds[0][0], seeds[1][0])
        np.testing.assert_array_equal(seeds[0][1], seeds[1][1])
        assert seeds[0][2] == seeds[1][2]


@pytest.mark.parametrize("n", [1, 3, 4, 5, 1797, 4099])
@pytest.mark.parametrize("d", [1, 2, 3, 10, 64])
def test_key_range_and_buckets_four_rows_at_a_time_are_row_keys(n, d):
    # four rows at a time (four chains in step) gives each row's key and
    # norm as row_key and a row's sum of squares give them, so the same
    # range and buckets, the rows past the last four included
    rng = np.random.RandomState(n * d)
    direction = _canonical_order.key_direction(d)
    for X, _ in _cases(n, d, rng):
        keys = np.array([kernels.row_key(X, i, direction) for i in range(n)])
        sq = np.empty(n)
        kernels.row_sq_norms(X, 0, n, sq)
        low, high, largest = kernels.dense_key_range(X, direction)
        assert (low, high, largest) == (keys.min(), keys.max(), sq.max())
        scale = 100.0 / (high - low) if high > low else 0.0
        buckets = np.empty(n, dtype=np.uint16)
        kernels.dense_buckets(X, direction, low, scale, 100, buckets)
        expected = [kernels.bucket_of(key, low, scale, 100) for key in keys]
        np.testing.assert_array_equal(buckets, expected)


def test_key_direction_is_drawn_once_per_width():
    for d in (1, 5, 64):
        direction = _canonical_order.key_direction(d)
        assert _canonical_order.key_direction(d) is direction
        expected = np.random.RandomState(0).uniform(0.5, 1.5, size=d)
        np.testing.assert_array_equal(direction, expected)
