"""KSelector's engine: the fits of every K from starts seeded once, each
LloydKMeans's own fit from its starts; reference sets drawn on demand are the
sets drawn at once."""

from collections import Counter

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.datasets import make_blobs

from sklearn_kmeans_lab import KSelector, LloydKMeans, _engine
from sklearn_kmeans_lab._backends.memory import check_fit_data
from sklearn_kmeans_lab._gap import draw_reference_sets, reference_box


class GeneralPathKMeans(LloydKMeans):
    """LloydKMeans under another type: KSelector takes the general path."""


def blobs(n_samples=240, n_features=2, centers=3, seed=0):
    X, _ = make_blobs(
        n_samples, n_features=n_features, centers=centers, random_state=seed
    )
    return X


def weights(n_samples, seed=1):
    return np.random.RandomState(seed).uniform(0.2, 3.0, size=n_samples)


def engine_fits(monkeypatch):
    """Every fit of the engine, in order, as ``(X, k, starts, fit)``: ``fit``
    the fitted estimator (``ManyFits.fit``) or the inertia alone
    (``ManyFits.inertias`` or ``inertia``, the reference sets); the seed of every set of
    starts (by id); the weights each was given (the selector's normalised
    weights)."""
    fits, seeds, given_weights = [], {}, []
    fit, inertia, inertias, starts_of = (
        _engine.ManyFits.fit,
        _engine.ManyFits.inertia,
        _engine.ManyFits.inertias,
        _engine.ManyFits.starts,
    )
    in_inertias = []

    def spy_starts(self, X, sample_weight, k, seed, keep=True, n_rows=None):
        starts = starts_of(self, X, sample_weight, k, seed, keep, n_rows)
        seeds[id(starts)] = int(seed)
        return starts

    def spy_fit(self, X, sample_weight, k, seed, keep=True, starts=None):
        est = fit(self, X, sample_weight, k, seed, keep, starts)
        fits.append((X, int(k), starts, est))
        given_weights.append(sample_weight)
        return est

    def spy_inertia(self, X, sample_weight, k, starts, keep=True):
        value = inertia(self, X, sample_weight, k, starts, keep)
        if not in_inertias:  # inertias records its own
            fits.append((X, int(k), starts, value))
            given_weights.append(sample_weight)
        return value

    def spy_inertias(self, X, sample_weight, ks, starts, keep=True, warm_rows=()):
        assert warm_rows == ()  # sets of a few hundred rows are not warmed
        in_inertias.append(True)
        try:
            values = inertias(self, X, sample_weight, ks, starts, keep, warm_rows)
        finally:
            in_inertias.pop()
        for k, value in zip(ks, values, strict=True):
            fits.append((X, int(k), starts, value))
            given_weights.append(sample_weight)
        return values

    monkeypatch.setattr(_engine.ManyFits, "starts", spy_starts)
    monkeypatch.setattr(_engine.ManyFits, "fit", spy_fit)
    monkeypatch.setattr(_engine.ManyFits, "inertia", spy_inertia)
    monkeypatch.setattr(_engine.ManyFits, "inertias", spy_inertias)
    return fits, seeds, given_weights


def assert_same_fit(a, b):
    assert_array_equal(a.labels_, b.labels_)
    assert_array_equal(a.cluster_centers_, b.cluster_centers_)
    assert a.inertia_ == b.inertia_
    assert a.n_iter_ == b.n_iter_


@pytest.mark.parametrize(
    "case",
    [
        "dense",
        "float32",
        "weighted",
        "weighted_float32_uniform",
        "many_features",
        "random_init",
        "index_criterion",
    ],
)
def test_the_engine_fits_every_k_from_starts_seeded_at_the_largest_k(case, monkeypatch):
    # What a KSelector fit computes (the docs' "What a fit computes"): on each
    # data set, the fit at the largest K is LloydKMeans's own fit with the
    # data set's seed; the fit at a smaller K runs from the first K centres
    # of each of those starts and keeps the best run; of a reference set only
    # the best run's inertia is taken.
    fits, seeds, given_weights = engine_fits(monkeypatch)
    X, w, params, estimator_params = blobs(), None, {}, {"n_init": 3}
    if case == "float32":
        X = X.astype(np.float32)
    elif case == "weighted":
        w = weights(X.shape[0])
    elif case == "weighted_float32_uniform":
        X, w = X.astype(np.float32), weights(X.shape[0])
        params = {"reference": "uniform"}
    elif case == "many_features":
        X = blobs(n_samples=150, n_features=12, centers=4, seed=3)
    elif case == "random_init":
        estimator_params = {"n_init": 3, "init": "random", "max_iter": 20, "tol": 0}
    elif case == "index_criterion":
        params = {"criterion": "calinski_harabasz", "k_range": range(2, 7)}
    params = {"k_range": range(1, 7), "n_refs": 4, "random_state": 0, **params}
    selector = KSelector(LloydKMeans(**estimator_params), **params).fit(X, w)
    ks = [int(k) for k in selector.results_["k"] if k >= 2]
    n_sets = 1 + (4 if selector.criterion == "gap" else 0)
    # every K >= 2 of every data set, once; the chosen fit kept, not refitted
    assert sorted(k for _, k, _, _ in fits) == sorted(ks * n_sets)
    data_sets = {}
    for Z, k, starts, fit in fits:
        data_sets.setdefault(id(Z), []).append((Z, k, starts, fit))
    assert len(data_sets) == n_sets
    w = given_weights[0]
    assert all(given is w for given in given_weights)
    for set_fits in data_sets.values():
        Z, _, starts, _ = set_fits[0]
        assert all(f[2] is starts for f in set_fits)
        assert starts.shape == (3, max(ks), X.shape[1])
        seed = seeds[id(starts)]
        # the estimator fitted (X) or only its inertia (a reference set)
        fitted = Z is X
        assert all(isinstance(fit, LloydKMeans) == fitted for *_, fit in set_fits)
        offset = check_fit_data(LloydKMeans(), Z, w).offset
        # a run's own inertia and inertia_ (recomputed against the returned
        # centres) differ by rounding
        rel = 1e-6 if Z.dtype == np.float32 else 1e-9
        for _, k, _, fit in set_fits:
            if k == max(ks):
                alone = LloydKMeans(**estimator_params, n_clusters=k, random_state=seed)
                alone.fit(Z, sample_weight=w)
                if fitted:
                    assert_same_fit(fit, alone)
                else:
                    assert fit == pytest.approx(alone.inertia_, rel=rel)
                continue
            # the best of the runs from the shared starts' first K centres
            runs = [
                LloydKMeans(
                    **{**estimator_params, "n_init": 1, "init": start[:k] + offset},
                    n_clusters=k,
                ).fit(Z, sample_weight=w)
                for start in starts
            ]
            best = min(run.inertia_ for run in runs)
            if not fitted:
                assert fit == pytest.approx(best, rel=rel)
                continue
            assert any(
                np.array_equal(run.labels_, fit.labels_)
                and np.array_equal(run.cluster_centers_, fit.cluster_centers_)
                for run in runs
            )
            assert fit.inertia_ <= best * (1 + 1e-12)
    # results_ holds the fits of X
    (x_fits,) = [f for f in data_sets.values() if f[0][0] is X]
    for _, k, _, est in x_fits:
        i = list(selector.results_["k"]).index(k)
        assert selector.results_["inertia"][i] == est.inertia_
    chosen = [est for _, k, _, est in x_fits if k == selector.n_clusters_]
    assert selector.best_estimator_ is chosen[0]


def test_n_jobs_does_not_change_the_selection():
    params = dict(k_range=range(1, 7), n_refs=4, random_state=0)
    one = KSelector(LloydKMeans(n_init=3), **params).fit(blobs())
    two = KSelector(LloydKMeans(n_init=3), n_jobs=2, **params).fit(blobs())
    for name in one.results_:
        assert_array_equal(one.results_[name], two.results_[name], err_msg=name)
    assert_array_equal(one.labels_, two.labels_)
    assert_array_equal(one.cluster_centers_, two.cluster_centers_)


def test_uncached_reference_sets_give_the_same_selection(monkeypatch):
    # Large sets are drawn again by every task that fits them, in chunks.
    small = KSelector(LloydKMeans(n_init=2), k_range=range(1, 5), n_refs=3)
    X = blobs(n_samples=120)
    kept = small.set_params(random_state=0).fit(X).results_
    monkeypatch.setattr(_engine, "_CACHE_BYTES", 0)
    monkeypatch.setattr(_engine, "_DRAW_CHUNK_VALUES", 30)  # 2 chunks of 60 rows
    drawn = small.fit(X).results_
    for name in kept:
        assert_array_equal(kept[name], drawn[name], err_msg=name)


@pytest.mark.parametrize("reference", ["pca", "uniform"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [(200, 3), (5, 8)])
def test_reference_sets_drawn_on_demand_are_those_drawn_at_once(
    reference, dtype, shape, monkeypatch
):
    monkeypatch.setattr(_engine, "_DRAW_CHUNK_VALUES", 7)  # 4 chunks of 50 rows
    X = np.random.RandomState(0).normal(size=shape) @ np.diag(
        np.arange(1.0, shape[1] + 1)
    )
    box = reference_box(X, reference=reference)
    at_once_rng, lazy_rng = np.random.RandomState(4), np.random.RandomState(4)
    at_once = draw_reference_sets(
        box, shape[0], 3, random_state=at_once_rng, dtype=dtype
    )
    lazy = _engine.ReferenceSets(box, shape[0], 3, lazy_rng, dtype)
    assert len(lazy) == 3
    for b in (2, 0, 1):  # any order
        assert lazy[b].dtype == dtype
        assert_array_equal(lazy[b], at_once[b])
    # the generator is left where drawing every set leaves it
    assert at_once_rng.randint(2**31) == lazy_rng.randint(2**31)


def test_the_callers_estimator_is_not_modified():
    estimator = LloydKMeans(n_init=2)
    KSelector(estimator, k_range=range(1, 4), n_refs=2, random_state=0).fit(blobs())
    assert not hasattr(estimator, "n_features_in_")
    assert not hasattr(estimator, "labels_")


def test_subclasses_and_callable_inits_take_the_general_path():
    assert _engine.many_fits(LloydKMeans(), "n_clusters") is not None
    assert _engine.many_fits(GeneralPathKMeans(), "n_clusters") is None
    assert (
        _engine.many_fits(
            LloydKMeans(init=lambda X, k, random_state: X[:k]), "n_clusters"
        )
        is None
    )


@pytest.mark.parametrize("n_jobs", [None, 2])
def test_verbose_prints_each_data_set_as_its_fits_finish_with_the_time(capsys, n_jobs):
    KSelector(
        LloydKMeans(n_init=2),
        k_range=range(1, 5),
        n_refs=3,
        random_state=0,
        verbose=1,
        n_jobs=n_jobs,
    ).fit(blobs(n_samples=90))
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4 + 4 + 1
    for i, line in enumerate(lines[:4]):
        assert line.startswith(f"[KSelector] data set {i + 1}/4 fitted at K=1..4, ")
        assert line.endswith("s")
    for i, line in enumerate(lines[4:8]):
        assert line.startswith(f"[KSelector] K={i + 1}: inertia=")
        assert f"; {i + 1}/4 K done, 4 data sets, elapsed: " in line
    elapsed = [float(line.rsplit("elapsed: ", 1)[1][:-1]) for line in lines[:8]]
    assert elapsed == sorted(elapsed)
    assert lines[8].startswith("[KSelector] chose K=")


@pytest.mark.parametrize(
    "n_samples, n_features, n_clusters, dtype, weighted, max_iter, tol",
    [
        (300, 2, 3, np.float64, False, 300, 1e-4),
        (300, 2, 8, np.float32, True, 300, 0.0),
        (5000, 5, 6, np.float64, True, 40, 1e-6),  # refreshes from scratch
        (400, 12, 5, np.float32, False, 300, 1e-4),  # GEMM distances
        (9000, 3, 4, np.float64, False, 3, 1e-4),  # stops at max_iter
        (40, 2, 20, np.float64, False, 300, 0.0),  # an empty cluster: Python run
        (200, 1, 128, np.float32, True, 300, 0.0),  # numpy's 8-way sums
        # more than 128 clusters: numpy's pairwise sums split the shifts;
        # float32 products (float64, over 16 features, 32 centres or more)
        (3000, 20, 200, np.float64, False, 300, 0.0),
        (3000, 40, 150, np.float32, True, 300, 1e-4),
        # several groups, dozens of passes (refreshes from scratch), most
        # rows skipped late in a run: batches filled from many chunks
        (20_000, 1, 3, np.float64, False, 300, 0.0),
        (20_000, 2, 16, np.float32, True, 300, 0.0),
        # GEMM distances
        (20_000, 9, 5, np.float64, False, 300, 0.0),
        (20_000, 12, 8, np.float32, True, 300, 0.0),
        # X over 16 MiB, so the rows a pass needs are hinted (prefetch.py)
        (210_000, 10, 5, np.float64, False, 6, 0.0),
    ],
)
@pytest.mark.parametrize("final_pass", [True, False])
def test_compiled_run_is_the_python_run_bit_for_bit(
    n_samples,
    n_features,
    n_clusters,
    dtype,
    weighted,
    max_iter,
    tol,
    final_pass,
    monkeypatch,
):
    from sklearn_kmeans_lab import _lloyd_run

    rng = np.random.RandomState(n_samples + n_clusters)
    X = (rng.normal(size=(n_samples, n_features)) * 3 + 50).astype(dtype)
    w = rng.uniform(0.0, 2.0, n_samples).astype(dtype) if weighted else None
    offset = X.mean(axis=0)
    init = X[rng.choice(n_samples, n_clusters, replace=False)] - offset
    if n_clusters == 20:
        init[1] = init[0]  # the lower index wins every tie: cluster 1 is empty
    runs = []
    for compiled in (True, False):
        monkeypatch.setattr(_lloyd_run, "_USE_COMPILED_RUN", compiled)
        runs.append(
            _lloyd_run.lloyd_single_run(
                X,
                w,
                init,
                max_iter=max_iter,
                tol=tol * X.var(axis=0).mean(),
                verbose=0,
                n_threads=1,
                x_offset=offset,
                final_pass=final_pass,
            )
        )
    (labels, inertia, centers, n_iter), python = runs
    assert_array_equal(labels, python[0])
    assert inertia == python[1]
    assert_array_equal(centers, python[2])
    assert centers.dtype == dtype
    assert n_iter == python[3]


def test_numpy_sum_adds_as_numpy_does():
    from sklearn_kmeans_lab._kernels.common import numpy_sum

    # every length to a few pairwise splits, then longer ones at random
    rng = np.random.RandomState(0)
    lengths = list(range(0, 1100)) + list(rng.randint(1100, 2_000_000, size=12))
    for n in lengths:
        for dtype in (np.float64, np.float32):
            a = (rng.uniform(size=n) * 10.0 ** rng.randint(-6, 6, size=n)).astype(dtype)
            assert numpy_sum(a) == a.sum(), (n, dtype)


def test_numpy_sum_loaded_from_numbas_cache_adds_as_compiled(tmp_path):
    # a new process loads the compiled kernel from numba's on-disk cache (a
    # recursive kernel crashed the process there while it ran in the process
    # that compiled it): the same sum of a length that splits many times
    import subprocess
    import sys

    from sklearn_kmeans_lab._kernels.common import numpy_sum

    a = np.random.RandomState(0).uniform(size=300_001).astype(np.float32)
    np.save(tmp_path / "a.npy", a)
    code = (
        "import numpy as np; from sklearn_kmeans_lab._kernels.common import numpy_sum; "
        f"print(repr(float(numpy_sum(np.load({str(tmp_path / 'a.npy')!r})))))"
    )
    expected = float(numpy_sum(a))  # compiled here, and cached
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert float(out.stdout) == expected == float(a.sum())


@pytest.mark.parametrize("kept", [True, False])
def test_each_data_set_is_prepared_once(kept, monkeypatch):
    from sklearn_kmeans_lab._backends import memory

    orders = []
    canonical_order = memory.canonical_order
    monkeypatch.setattr(
        memory, "canonical_order", lambda X: orders.append(X) or canonical_order(X)
    )
    if not kept:
        monkeypatch.setattr(_engine, "_CACHE_BYTES", 0)
    selector = KSelector(
        LloydKMeans(n_init=3), k_range=range(1, 6), n_refs=4, random_state=0
    ).fit(blobs())
    # X and each reference set once (one task fits every K of a data set),
    # whether or not the reference sets are kept; no refit at the chosen K
    assert selector.n_clusters_ == 3
    assert len(orders) == 1 + 4


def test_many_fits_generators_are_fresh_generators_of_the_seed():
    fits = _engine.ManyFits(LloydKMeans(n_init=2))
    for seed in (0, 7, 2**32 - 1, 7):
        rng = fits.generator(seed)
        drawn = rng.uniform(size=5), rng.normal(size=3), rng.randint(0, 9, 4)
        fresh = np.random.RandomState(seed)
        expected = fresh.uniform(size=5), fresh.normal(size=3), fresh.randint(0, 9, 4)
        for a, b in zip(drawn, expected, strict=True):
            assert_array_equal(a, b)


def test_many_fits_leave_the_seed_as_the_fitted_random_state():
    import pickle

    fits = _engine.ManyFits(LloydKMeans(n_init=2))
    X = blobs()
    est = fits.fit(X, None, 3, 11)
    assert est.random_state == 11
    # a task in another process: the fits travel without their generators
    again = pickle.loads(pickle.dumps(fits)).fit(X, None, 3, 11)
    assert_array_equal(again.cluster_centers_, est.cluster_centers_)
    general = LloydKMeans(n_clusters=3, n_init=2, random_state=11).fit(X)
    assert_array_equal(general.cluster_centers_, est.cluster_centers_)
    assert_array_equal(general.labels_, est.labels_)


@pytest.mark.parametrize(
    "n_samples, n_features, dtype, weighted",
    [
        (1000, 2, np.float64, False),
        (3000, 12, np.float32, True),  # GEMM distances
        (20_000, 3, np.float64, True),  # several row groups
        (500, 1, np.float32, False),
    ],
)
def test_inertias_at_every_k_in_one_call_equal_the_fits_k_by_k(
    n_samples, n_features, dtype, weighted
):
    rng = np.random.RandomState(n_samples + n_features)
    X = (rng.uniform(-3.0, 3.0, (n_samples, n_features)) + 10.0).astype(dtype)
    sample_weight = rng.uniform(0.5, 2.0, n_samples) if weighted else None
    engine = _engine.ManyFits(LloydKMeans(n_init=4))
    starts = engine.starts(X, sample_weight, 10, 1)
    ks = list(range(2, 11))
    k_by_k = [engine.inertia(X, sample_weight, k, starts) for k in ks]
    assert engine.inertias(X, sample_weight, ks, starts) == k_by_k


def test_inertias_fall_back_k_by_k_where_a_run_is_not_compiled(monkeypatch):
    from sklearn_kmeans_lab import _lloyd_run
    from sklearn_kmeans_lab._kernels import starts as start_kernels

    # four distinct points: the runs at K > 4 leave clusters empty, whose
    # relocation is the Python run's
    rng = np.random.RandomState(0)
    X = rng.uniform(size=(4, 2))[rng.randint(4, size=10_000)]
    engine = _engine.ManyFits(LloydKMeans(n_init=3))
    starts = engine.starts(X, None, 6, 0)
    ks = [2, 3, 4, 5, 6]
    k_by_k = [engine.inertia(X, None, k, starts) for k in ks]
    calls = []
    best_inertias = start_kernels.best_inertias
    monkeypatch.setattr(
        start_kernels,
        "best_inertias",
        lambda *args: calls.append(best_inertias(*args)) or calls[-1],
    )
    assert engine.inertias(X, None, ks, starts) == k_by_k
    assert np.isnan(calls[-1][3:]).all() and not np.isnan(calls[-1][:3]).any()
    # threads (10,000 rows make several groups): no K is compiled, every K
    # is fitted K by K
    engine.prepare(X, None, True).n_threads = 2
    monkeypatch.setattr(_lloyd_run, "_MIN_WORK_PER_THREAD", 1)
    calls.clear()
    assert engine.inertias(X, None, ks, starts) == k_by_k
    assert calls[-1].size == 0


@pytest.mark.parametrize(
    "n_samples, n_clusters, expected",
    [
        (49_999, 10, ()),
        (50_000, 10, (5000,)),
        (100_000, 10, (10_000,)),
        (100_000, 101, ()),  # fewer than 100 rows per cluster
        (1_000_000, 10, (10_000, 100_000)),
        (1_000_000, 200, (100_000,)),
    ],
)
def test_warm_up_rows_are_tenths_of_at_least_5000_and_100_per_cluster(
    n_samples, n_clusters, expected
):
    assert _engine.warm_up_rows(n_samples, n_clusters) == expected


def test_a_prefix_is_read_with_the_offset_of_the_whole_data():
    X = blobs(n_samples=300, n_features=3) + 100.0
    w = weights(300)
    data = check_fit_data(LloydKMeans(), X, w)
    part = data.prefix(40)
    assert part.X.base is X or part.X.base is X.base  # a view, not a copy
    assert_array_equal(part.X, X[:40])
    assert_array_equal(part.sample_weight, data.sample_weight[:40])
    assert part.offset is data.offset
    assert part.weight_exponent == data.weight_exponent


def assert_each_start_ran(converged, starts, ks, data, tol):
    """``converged`` (len(ks), n_init, k_max, d) holds, at each K, each
    start's run over ``data`` (lloyd_single_run, read with its offset) in
    its first K centres and the start's others."""
    from sklearn_kmeans_lab import _lloyd_run

    for i, k in enumerate(ks):
        for s, start in enumerate(starts):
            centers = _lloyd_run.lloyd_single_run(
                data.X,
                data.sample_weight,
                start[:k],
                max_iter=300,
                tol=tol,
                verbose=0,
                n_threads=1,
                x_offset=data.offset,
                final_pass=False,
            )[2]
            assert_array_equal(converged[i, s, :k], centers)
            assert_array_equal(converged[i, s, k:], start[k:])


@pytest.mark.parametrize(
    "n_samples, n_features, dtype, weighted",
    [
        (3000, 2, np.float64, False),
        (4000, 12, np.float32, True),  # GEMM distances, read in place
        (20_000, 3, np.float64, False),  # several row groups
    ],
)
@pytest.mark.parametrize("compiled", [True, False])
def test_converged_starts_are_each_starts_own_run(
    n_samples, n_features, dtype, weighted, compiled, monkeypatch
):
    # FitData.converged_starts: at every K, each start's run over the data
    # (lloyd_single_run, read with the data's offset), compiled or not
    from sklearn_kmeans_lab import _lloyd_run

    rng = np.random.RandomState(n_samples)
    X = (rng.uniform(-3.0, 3.0, (n_samples, n_features)) + 10.0).astype(dtype)
    w = rng.uniform(0.5, 2.0, n_samples) if weighted else None
    engine = _engine.ManyFits(LloydKMeans(n_init=3))
    data = engine.prepare(X, w, True)
    starts = engine.starts(X, w, 8, 0)
    ks = [2, 5, 8]
    tol = 1e-4 * X.var(axis=0).mean()
    monkeypatch.setattr(_lloyd_run, "_USE_COMPILED_RUN", compiled)
    part = data.prefix(n_samples // 3)
    converged = part.converged_starts(
        np.broadcast_to(starts, (3,) + starts.shape), ks, max_iter=300, tol=tol
    )
    assert converged.shape == (3,) + starts.shape
    assert converged.dtype == dtype
    assert_each_start_ran(converged, starts, ks, part, tol)


def test_converged_starts_relocate_an_empty_cluster_as_the_python_run():
    # four distinct points: the runs at K > 4 leave clusters empty; their
    # compiled run stops and the Python run relocates

    rng = np.random.RandomState(0)
    X = rng.uniform(size=(4, 2))[rng.randint(4, size=6000)]
    engine = _engine.ManyFits(LloydKMeans(n_init=2))
    data = engine.prepare(X, None, True)
    starts = engine.starts(X, None, 6, 0)
    ks = [3, 6]
    converged = data.converged_starts(
        np.broadcast_to(starts, (2,) + starts.shape), ks, max_iter=300, tol=0.0
    )
    assert_each_start_ran(converged, starts, ks, data, 0.0)


def test_warmed_inertias_are_the_best_runs_from_the_converged_starts(monkeypatch):
    # ManyFits.inertias with warm_rows: each start run over the prefixes in
    # turn, then the best run over all rows from there; the same values on
    # any number of threads (the K-by-K fallback)
    from sklearn_kmeans_lab import _lloyd_run

    rng = np.random.RandomState(3)
    X = rng.uniform(-3.0, 3.0, (30_000, 3))
    engine = _engine.ManyFits(LloydKMeans(n_init=3))
    ks = [2, 4, 7]
    starts = engine.starts(X, None, 7, 0, n_rows=300)
    warmed = engine.inertias(X, None, ks, starts, True, (300, 3000))
    data = engine.prepare(X, None, True)
    tol = engine.template.tol * X.var(axis=0).mean()
    per_k = np.broadcast_to(starts, (3,) + starts.shape)
    for n_rows in (300, 3000):
        per_k = data.prefix(n_rows).converged_starts(per_k, ks, max_iter=300, tol=tol)
    assert warmed == [engine.inertia(X, None, k, per_k[i]) for i, k in enumerate(ks)]
    assert warmed != engine.inertias(X, None, ks, starts)  # the warm-up ran
    # threads: no K compiled over all rows, the prefixes' runs still are
    data.n_threads = 2
    monkeypatch.setattr(_lloyd_run, "_MIN_WORK_PER_THREAD", 1)
    assert engine.inertias(X, None, ks, starts, True, (300, 3000)) == warmed


def test_large_reference_sets_are_seeded_and_run_over_their_prefixes_first(
    monkeypatch,
):
    # the docs' "What a fit computes": an unweighted reference set of 50,000
    # rows or more is seeded over its first tenth and each start is run over
    # it before the runs over the whole set; X's fits are not
    calls = []
    inertias, starts_of = _engine.ManyFits.inertias, _engine.ManyFits.starts

    def spy_starts(self, X, sample_weight, k, seed, keep=True, n_rows=None):
        calls.append(("starts", X.shape[0], n_rows))
        return starts_of(self, X, sample_weight, k, seed, keep, n_rows)

    def spy_inertias(self, X, sample_weight, ks, starts, keep=True, warm_rows=()):
        calls.append(("inertias", X.shape[0], warm_rows))
        return inertias(self, X, sample_weight, ks, starts, keep, warm_rows)

    monkeypatch.setattr(_engine.ManyFits, "starts", spy_starts)
    monkeypatch.setattr(_engine.ManyFits, "inertias", spy_inertias)
    X = blobs(n_samples=50_000, centers=4)
    params = dict(k_range=range(1, 6), n_refs=2, random_state=0)
    selector = KSelector(LloydKMeans(n_init=2), **params).fit(X)
    assert selector.n_clusters_ == 4
    assert Counter(calls) == Counter(
        [("starts", 50_000, None)]  # X
        + [("starts", 50_000, 5000), ("inertias", 50_000, (5000,))] * 2
    )
    calls.clear()
    KSelector(LloydKMeans(n_init=2), **params).fit(X, sample_weight=weights(50_000))
    assert all(n_rows in (None, ()) for *_, n_rows in calls)


def test_warmed_reference_sets_do_not_depend_on_n_jobs():
    X = blobs(n_samples=50_000, centers=4)
    params = dict(k_range=range(1, 6), n_refs=2, random_state=0)
    one = KSelector(LloydKMeans(n_init=4), **params).fit(X)
    two = KSelector(LloydKMeans(n_init=4), n_jobs=2, **params).fit(X)
    for name in one.results_:
        assert_array_equal(one.results_[name], two.results_[name], err_msg=name)
