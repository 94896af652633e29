"""k-means++ and random seeding: draws in a canonical order, weights as repeats."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import make_blobs
from threadpoolctl import threadpool_limits

from sklearn_kmeans_lab import _canonical_order, _seeding
from sklearn_kmeans_lab._backends import memory


def _naive_draws(X, w, closest, scale, uniforms):
    """Inverse CDF over the rows sorted by (key, index), masses quantised."""
    order = _canonical_order.canonical_order(X)
    keys = order.keys(X, np.arange(len(X)))
    rows = np.lexsort((np.arange(len(X)), keys))
    masses = np.floor(w * closest.astype(np.float64) * scale).astype(np.int64)
    cumulative = np.cumsum(masses[rows])
    total = int(cumulative[-1])
    values = [min(int(u * total), total - 1) for u in uniforms]
    return rows[np.searchsorted(cumulative, values, side="right")]


@pytest.mark.parametrize("sort_max", [4096, 3])
def test_bucketed_draws_equal_a_full_sort(monkeypatch, sort_max):
    monkeypatch.setattr(_canonical_order, "_SORT_MAX", sort_max)
    rng = np.random.RandomState(0)
    # clumped keys and repeated rows: buckets of very different sizes
    X = np.r_[rng.normal(size=(3000, 3)), rng.normal(size=(50, 3)) * 1e4]
    X = np.r_[X, X[:500]]
    w = rng.uniform(0, 3, len(X))
    closest = rng.uniform(0, 2, len(X)).astype(np.float32)
    masses = _canonical_order.QuantisedMasses(
        X, _canonical_order.canonical_order(X), w, True, closest, float(w @ closest)
    )
    uniforms = rng.uniform(size=200)
    expected = _naive_draws(X, w, closest, masses.scale, uniforms)
    np.testing.assert_array_equal(masses.draw(uniforms), expected)


def test_seeds_do_not_depend_on_row_order_or_sparsity():
    X, _ = make_blobs(4000, 5, centers=6, cluster_std=4.0, random_state=0)
    X[np.abs(X) < 1] = 0
    perm = np.random.RandomState(3).permutation(len(X))
    seeds = []
    for data, back in ((X, None), (X[perm], perm), (sp.csr_matrix(X), None)):
        _, idx = _seeding.kmeans_plusplus_centers(
            data, 6, None, np.random.RandomState(0), None
        )
        seeds.append(idx if back is None else back[idx])
    np.testing.assert_array_equal(seeds[0], seeds[1])
    np.testing.assert_array_equal(seeds[0], seeds[2])


def test_integer_weights_seed_like_repeated_rows():
    X, _ = make_blobs(1500, 3, centers=5, cluster_std=4.0, random_state=0)
    w = np.random.RandomState(0).randint(0, 4, len(X))
    repeated = np.repeat(X, w, axis=0)
    a, _ = _seeding.kmeans_plusplus_centers(
        X, 5, w.astype(float), np.random.RandomState(1), None
    )
    b, _ = _seeding.kmeans_plusplus_centers(
        repeated, 5, None, np.random.RandomState(1), None
    )
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("n_features", [2, 16])
@pytest.mark.parametrize("weighted", [False, True])
def test_kept_candidate_distances_give_the_same_seeds(
    monkeypatch, n_features, weighted
):
    # The direct loop keeps the candidates' distances when they are small and
    # otherwise recomputes the chosen one's: both must choose the same seeds.
    rng = np.random.RandomState(0)
    X = rng.normal(size=(20_000, n_features)) * np.r_[1e3, np.ones(n_features - 1)]
    w = rng.uniform(0.1, 3, len(X)) if weighted else None
    order = _canonical_order.canonical_order(X)
    seeds = []
    for keep_small in (0, 2**20):
        monkeypatch.setattr(_seeding, "_KEEP_SMALL", keep_small)
        centers, indices = _seeding.kmeans_plusplus_centers(
            X, 12, w, np.random.RandomState(3), order, x_offset=X.mean(axis=0)
        )
        seeds.append((centers, indices))
    np.testing.assert_array_equal(seeds[0][1], seeds[1][1])
    np.testing.assert_array_equal(seeds[0][0], seeds[1][0])


@pytest.mark.parametrize("weighted", [False, True])
def test_kept_row_norms_give_the_same_seeds(monkeypatch, weighted):
    # The GEMM trials read the rows' squared norms summed once, or summed
    # again for every centre where they would take too much memory: the same
    # values, so the same seeds, compiled and in Python.  The candidates'
    # distances are not kept here, the norms are.
    monkeypatch.setattr(_seeding, "_KEEP_SHARE", 0.0)
    rng = np.random.RandomState(1)
    X = rng.normal(size=(3000, 24)) * np.r_[1e3, np.ones(23)]
    w = rng.uniform(0.1, 3, len(X)) if weighted else None
    seeds = []
    for share in (0.0, 1 / 16):
        monkeypatch.setattr(_seeding, "_KEEP_SQ_NORMS_SHARE", share)
        setup = _seeding._Setup(X, 9, w, None, None, X.mean(axis=0))
        assert not setup.options.keep
        assert setup.options.x_sq_all.shape == ((len(X),) if share else (0,))
        seeds.append(_seed_both_ways(monkeypatch, X, 9, w, 5, x_offset=X.mean(axis=0)))
    _assert_same_seeds(seeds[0])
    _assert_same_seeds([seeds[0][0], seeds[1][0]])


def _seed_both_ways(monkeypatch, X, k, w, seed, x_offset=None, order=None):
    """Seeds of the compiled call and of the Python loop (the reference), and
    the next value of each generator: the same stream must be consumed."""
    out = []
    for compiled in (True, False):
        monkeypatch.setattr(_seeding, "_USE_COMPILED_SEEDING", compiled)
        rs = np.random.RandomState(seed)
        centers, indices = _seeding.kmeans_plusplus_centers(
            X, k, w, rs, order, x_offset=x_offset
        )
        out.append((centers, indices, rs.uniform()))
    return out


def _assert_same_seeds(seeds):
    (c_a, i_a, next_a), (c_b, i_b, next_b) = seeds
    assert c_a.dtype == c_b.dtype and i_a.dtype == i_b.dtype
    np.testing.assert_array_equal(i_a, i_b)
    np.testing.assert_array_equal(c_a, c_b)
    assert next_a == next_b


def _data_variants(n, d, rng):
    """Data of n rows, d features: continuous, integer-valued with duplicated
    rows, and far from the origin."""
    X = rng.normal(size=(n, d)) * rng.uniform(0.1, 10, d)
    integer = rng.randint(0, 3, size=(n, d)).astype(float)
    yield X
    yield integer
    yield X + 1e6


@pytest.mark.parametrize("n", [1, 2, 7, 1000, 5000])
@pytest.mark.parametrize("d", [1, 2, 3, 17, 40])
def test_compiled_seeding_equals_the_python_loop(monkeypatch, n, d):
    rng = np.random.RandomState(n * 100 + d)
    ks = sorted({1, min(2, n), min(5, n), n if n <= 7 else 12})
    for X in _data_variants(n, d, rng):
        for dtype in (np.float64, np.float32):
            Xt = np.ascontiguousarray(X, dtype=dtype)
            weights = [None, rng.uniform(0.1, 3, n)]
            if n > 1:
                zero = rng.uniform(0, 2, n)
                zero[rng.uniform(size=n) < 0.3] = 0.0
                zero[0] = 1.0
                weights.append(zero)
            offset = Xt.mean(axis=0).astype(dtype)
            for k in ks:
                for w in weights:
                    seed = int(rng.randint(1000))
                    _assert_same_seeds(_seed_both_ways(monkeypatch, Xt, k, w, seed))
                    _assert_same_seeds(
                        _seed_both_ways(monkeypatch, Xt, k, w, seed, x_offset=offset)
                    )


@pytest.mark.parametrize("d", [2, 40])
@pytest.mark.parametrize("keep_small", [0, 2**20])
def test_compiled_seeding_with_and_without_kept_distances(monkeypatch, d, keep_small):
    # the kept candidate distances (direct loop and GEMM) and the pass over X
    # that recomputes the chosen candidate's, compiled and in Python
    monkeypatch.setattr(_seeding, "_KEEP_SMALL", keep_small)
    rng = np.random.RandomState(d)
    X = rng.normal(size=(3000, d)) * np.r_[1e3, np.ones(d - 1)]
    w = rng.uniform(0.1, 3, len(X))
    for weights in (None, w):
        _assert_same_seeds(
            _seed_both_ways(monkeypatch, X, 9, weights, 4, x_offset=X.mean(axis=0))
        )


@pytest.mark.parametrize("n", [3, 5000])
def test_compiled_seeding_of_equal_rows_draws_the_last_one(monkeypatch, n):
    # every sample on a centre after the first draw: zero masses, the last
    # sample of positive weight in canonical order, as the Python loop picks
    X = np.full((n, 2), 3.0)
    w = np.ones(n)
    w[-1] = 0.0  # never drawn, though last in index order
    for weights in (None, w):
        seeds = _seed_both_ways(monkeypatch, X, min(n, 4), weights, 0)
        _assert_same_seeds(seeds)
        expected_last = n - 1 if weights is None else n - 2
        assert seeds[0][1][-1] == expected_last


def test_compiled_seeding_of_few_distinct_rows(monkeypatch):
    # more centres than distinct rows: the zero-mass branch after the draws
    # that still find a new row
    rng = np.random.RandomState(0)
    X = rng.normal(size=(4, 3))[rng.randint(0, 4, 500)]
    w = rng.uniform(0, 1, 500) * (rng.uniform(size=500) < 0.5)
    w[0] = 1.0
    for weights in (None, w):
        _assert_same_seeds(_seed_both_ways(monkeypatch, X, 8, weights, 1))


def test_compiled_seeding_with_an_order_shared_by_several_seedings(monkeypatch):
    X, _ = make_blobs(2000, 4, centers=5, random_state=0)
    order = _canonical_order.canonical_order(X)
    for seed in range(3):
        _assert_same_seeds(_seed_both_ways(monkeypatch, X, 6, None, seed, order=order))


def test_uniforms_drawn_at_once_are_the_uniforms_drawn_one_at_a_time():
    # the compiled seeding draws all its uniforms in one call where the
    # Python loop draws one, then n_local_trials at a time
    at_once = np.random.RandomState(5)
    one_by_one = np.random.RandomState(5)
    drawn = at_once.uniform(size=1 + 3 * 4)
    expected = [one_by_one.uniform()]
    for _ in range(3):
        expected.extend(one_by_one.uniform(size=4))
    np.testing.assert_array_equal(drawn, expected)
    assert at_once.uniform() == one_by_one.uniform()


@pytest.mark.parametrize("n", [7, 1000, 5000])
def test_coarse_buckets_give_the_same_draws(n):
    # a draw depends on the (key, index) order and the masses only: buckets
    # merged 2**s at a time draw the same samples
    rng = np.random.RandomState(n)
    X = rng.normal(size=(n, 3))
    X = np.r_[X, X[: n // 3]]  # repeated rows: equal keys
    w = rng.uniform(0, 3, len(X))
    closest = rng.uniform(0, 2, len(X)).astype(np.float32)
    order = _canonical_order.canonical_order(X)
    uniforms = rng.uniform(size=50)
    fine = _canonical_order.QuantisedMasses(
        X, order, w, True, closest, float(w @ closest)
    )
    expected = _naive_draws(X, w, closest, fine.scale, uniforms)
    np.testing.assert_array_equal(fine.draw(uniforms), expected)
    coarse_buckets, n_coarse = order.coarse_buckets()
    assert n_coarse < order.n_buckets
    assert np.all(
        np.diff(coarse_buckets[np.argsort(order.keys(X, range(len(X))))]) >= 0
    )
    fine_buckets = order.buckets
    for shift in (1, 7, 14):
        order.buckets = fine_buckets >> shift
        order.n_buckets = _canonical_order._N_BUCKETS >> shift
        coarse = _canonical_order.QuantisedMasses(
            X, order, w, True, closest, float(w @ closest)
        )
        np.testing.assert_array_equal(coarse.draw(uniforms), expected)


@pytest.mark.parametrize("n_clusters", [2, 3, 8, 21])
def test_compiled_seeding_draws_two_plus_log_k_candidates_per_centre(n_clusters):
    # one uniform for the first centre, then one per candidate
    X, _ = make_blobs(200, 2, centers=4, random_state=0)
    drawn = []

    class Counting(np.random.RandomState):
        def uniform(self, *args, size=None, **kwargs):
            drawn.append(np.prod(size))
            return super().uniform(*args, size=size, **kwargs)

    _seeding.kmeans_plusplus_centers(X, n_clusters, None, Counting(0), None)
    assert drawn == [1 + (n_clusters - 1) * (2 + int(np.log(n_clusters)))]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_gemm_trial_seeds_do_not_depend_on_the_thread_count(dtype):
    # over 16 features the trials are a GEMM, run on one BLAS thread whatever
    # the pool holds: ten starts' seeds are the same with 1 and 2 threads
    X = make_blobs(4000, 30, centers=9, cluster_std=4.0, random_state=3)[0]
    data = memory.FitData(X.astype(dtype), None, 0)
    seeds = []
    for threads in (1, 2):
        with threadpool_limits(threads):
            rs = np.random.RandomState(8)
            seeds.append(data.starts("k-means++", 12, rs, 10, max_iter=300, tol=1e-4))
    np.testing.assert_array_equal(seeds[0], seeds[1])
    assert len(np.unique(seeds[0][:, 0], axis=0)) > 1  # ten different starts


def test_candidate_distances_are_kept_by_the_trials_memory_rule(monkeypatch):
    # 4 bytes a row per candidate: the GEMM trials keep them up to a quarter
    # of X's bytes; the direct loop (up to 16 features) only up to a
    # sixteenth beyond _KEEP_SMALL, which holds a KSelector's peak memory
    monkeypatch.setattr(_seeding, "_KEEP_SMALL", 0)
    rng = np.random.RandomState(0)
    for d, dtype, k, kept in [
        (100, np.float32, 256, True),  # 7 candidates: 28 of 400 bytes a row
        (24, np.float32, 30, True),  # 5 candidates: 20 of 96
        (20, np.float32, 60, False),  # 6 candidates: 24 of 80, over a quarter
        (10, np.float64, 10, False),  # direct: 16 of 80, over a sixteenth
        (16, np.float64, 2, True),  # direct: 8 of 128, a sixteenth
    ]:
        X = rng.normal(size=(500, d)).astype(dtype)
        setup = _seeding._Setup(X, k, None, None, None, None)
        assert setup.options.keep == kept, (d, dtype, k)
        if kept:
            assert setup.options.cand_dist.shape == (setup.n_local_trials, 500)
