"""KSelector: the gap statistic as clusGap computes it, the other criteria, the API."""

import hashlib
import pickle
import re
import sys
import warnings

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.cluster import AgglomerativeClustering
from sklearn.mixture import GaussianMixture
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_kmeans_lab import KSelector, LloydKMeans, max_se
from sklearn_kmeans_lab._compat import InvalidParameterError
from sklearn_kmeans_lab._kselector_checks import candidate_ks

CENTERS = np.array([[0.0, 0.0], [8.0, 0.0], [0.0, 8.0], [8.0, 8.0]])
RESULT_KEYS = [
    "k",
    "inertia",
    "log_w",
    "ref_log_w_mean",
    "gap",
    "gap_se",
    "silhouette",
    "calinski_harabasz",
    "davies_bouldin",
    "jump",
    "prediction_strength",
    "prediction_strength_se",
    "k_frequency",
]


def four_blobs(n_per=40, std=0.8, seed=0):
    """Four round, well separated blobs: the true K is 4."""
    rng = np.random.RandomState(seed)
    return np.vstack([rng.normal(c, std, size=(n_per, 2)) for c in CENTERS])


def selector(**params):
    """A small, fast selector: few starts, few reference sets, K in 1..6."""
    defaults = dict(
        estimator=LloydKMeans(n_init=3),
        k_range=range(1, 7),
        n_refs=5,
        random_state=0,
    )
    return KSelector(**{**defaults, **params})


class RecordingKMeans(LloydKMeans):
    """LloydKMeans that records (n_clusters, digest of X) of every fit."""

    fits = []

    def fit(self, X, y=None, sample_weight=None):
        digest = hashlib.sha1(np.ascontiguousarray(X).tobytes()).hexdigest()
        type(self).fits.append((self.n_clusters, digest))
        return super().fit(X, y, sample_weight=sample_weight)


class FailsAtThree(LloydKMeans):
    """LloydKMeans whose fit fails at n_clusters=3."""

    def fit(self, X, y=None, sample_weight=None):
        if self.n_clusters == 3:
            raise ValueError("cannot fit three clusters")
        return super().fit(X, y, sample_weight=sample_weight)


# -- choosing K ---------------------------------------------------------------


@pytest.mark.parametrize("reference", ["pca", "uniform"])
def test_gap_picks_the_true_number_of_blobs(reference):
    sel = selector(reference=reference).fit(four_blobs())
    assert sel.n_clusters_ == 4


def test_gap_with_unsquared_distances_picks_the_true_number_of_blobs():
    sel = selector(d_power=1).fit(four_blobs(n_per=25))
    assert sel.n_clusters_ == 4


def test_gap_picks_one_cluster_on_uniform_data():
    X = np.random.RandomState(0).uniform(size=(150, 2))
    assert selector().fit(X).n_clusters_ == 1


@pytest.mark.parametrize("rule", ["Tibs2001SEmax", "globalmax", "firstSEmax"])
def test_the_choice_is_max_se_of_the_gap_curve(rule):
    sel = selector(rule=rule, se_factor=0.5).fit(four_blobs())
    res = sel.results_
    index = max_se(res["gap"], res["gap_se"], method=rule, se_factor=0.5)
    assert sel.n_clusters_ == res["k"][index]


@pytest.mark.parametrize(
    "criterion, best",
    [("silhouette", np.argmax), ("calinski_harabasz", np.argmax)]
    + [("davies_bouldin", np.argmin)],
)
def test_index_criteria_pick_the_true_k_at_their_optimum(criterion, best):
    sel = selector(criterion=criterion).fit(four_blobs())
    values = sel.results_[criterion]
    assert np.isnan(values[0])  # undefined for one cluster
    assert sel.n_clusters_ == 4
    assert sel.results_["k"][1 + best(values[1:])] == 4


def test_silhouette_on_a_sample_is_reproducible_and_close_to_the_full_one():
    X = four_blobs()
    full = selector(criterion="silhouette").fit(X).results_["silhouette"]
    sampled = selector(criterion="silhouette", silhouette_sample_size=80)
    a = sampled.fit(X).results_["silhouette"]
    b = clone(sampled).fit(X).results_["silhouette"]
    assert_array_equal(a, b)
    assert_allclose(a[1:], full[1:], atol=0.1)
    assert sampled.n_clusters_ == 4


def test_silhouette_is_computed_on_the_subsample(monkeypatch):
    from sklearn.metrics import silhouette_score

    from sklearn_kmeans_lab import _kselector_fits

    sizes = []

    def spy(X, labels, **kwargs):
        # the samples it scores, whether the caller or the metric subsamples
        sizes.append(min(kwargs.get("sample_size") or len(X), len(X)))
        return silhouette_score(X, labels, **kwargs)

    monkeypatch.setattr(_kselector_fits, "silhouette_score", spy)
    X = four_blobs()
    sel = selector(criterion="silhouette", silhouette_sample_size=50).fit(X)
    assert sizes == [50] * 5  # one call per K of 2..6, each on 50 of 160 samples

    # The subsample of each K is silhouette_score's own draw with that K's
    # seed: the first draws of the selector's random_state, one per K.
    seeds = np.random.RandomState(0).randint(np.iinfo(np.int32).max, size=6)
    chosen = sel.n_clusters_ - 1
    expected = silhouette_score(
        X, sel.labels_, sample_size=50, random_state=seeds[chosen]
    )
    assert sel.results_["silhouette"][chosen] == expected
    full = silhouette_score(X, sel.labels_)
    assert sel.results_["silhouette"][chosen] != full


@pytest.mark.parametrize("size", [2, 3, 6])
def test_silhouette_subsample_smaller_than_the_largest_k_is_rejected(size):
    sel = selector(criterion="silhouette", silhouette_sample_size=size)
    with pytest.raises(ValueError, match=f"silhouette_sample_size={size} is too small"):
        sel.fit(four_blobs(n_per=5))


def test_silhouette_subsample_of_a_single_cluster_is_reported():
    # 200 samples in one tight blob and 2 far away: 3 random samples are
    # almost surely all from the blob.
    rng = np.random.RandomState(0)
    X = np.vstack([rng.normal(0.0, 0.01, size=(200, 2)), [[10, 10], [10, 11]]])
    sel = selector(criterion="silhouette", k_range=[2], silhouette_sample_size=3)
    with pytest.raises(ValueError, match="drawn at K=2 holds samples of a single"):
        sel.fit(X)


def test_silhouette_sample_size_of_at_least_n_samples_uses_all_samples():
    X = four_blobs(n_per=5)
    full = selector(criterion="silhouette").fit(X).results_["silhouette"]
    for size in (20, 1000):  # n_samples is 20
        sel = selector(criterion="silhouette", silhouette_sample_size=size).fit(X)
        assert_array_equal(sel.results_["silhouette"], full)


def test_gaussian_mixture_works_through_param_name():
    gmm = GaussianMixture(covariance_type="spherical", init_params="k-means++")
    sel = selector(estimator=gmm, param_name="n_components", n_refs=3).fit(four_blobs())
    assert sel.n_clusters_ == 4
    assert isinstance(sel.best_estimator_, GaussianMixture)
    assert np.isnan(sel.results_["inertia"]).all()  # it has no inertia_
    assert np.isfinite(sel.results_["gap"]).all()  # W_k from its labels
    assert not hasattr(sel, "cluster_centers_")
    assert not hasattr(sel, "transform")


def test_a_pipeline_estimator_is_tuned_through_its_nested_parameter():
    X = four_blobs() + [100.0, -40.0]
    pipe = make_pipeline(StandardScaler(), LloydKMeans(n_init=3))
    sel = selector(estimator=pipe, param_name="lloydkmeans__n_clusters").fit(X)
    assert sel.n_clusters_ == 4
    assert sel.best_estimator_[-1].n_clusters == 4


# -- what the gap is made of --------------------------------------------------


def test_results_is_a_table_of_equal_length_columns():
    pd = pytest.importorskip("pandas")
    sel = selector().fit(four_blobs())
    assert list(sel.results_) == RESULT_KEYS
    assert all(len(col) == 6 for col in sel.results_.values())
    assert_array_equal(sel.results_["k"], np.arange(1, 7))
    assert sel.results_["k"].dtype.kind == "i"
    table = pd.DataFrame(sel.results_)
    assert list(table.columns) == RESULT_KEYS and len(table) == 6
    # the silhouette is not computed for criterion="gap"
    assert table["silhouette"].isna().all()


def test_log_w_is_half_the_inertia_and_at_k1_half_the_total_sum_of_squares():
    X = four_blobs()
    res = selector().fit(X).results_
    total_ss = ((X - X.mean(axis=0)) ** 2).sum()
    assert res["inertia"][0] == pytest.approx(total_ss)
    assert_allclose(res["log_w"], np.log(res["inertia"] / 2), rtol=1e-12)
    assert_allclose(res["gap"], res["ref_log_w_mean"] - res["log_w"], rtol=1e-12)
    assert (res["gap_se"] > 0).all()


def test_gap_columns_are_nan_for_other_criteria():
    res = selector(criterion="calinski_harabasz").fit(four_blobs()).results_
    for name in ("log_w", "ref_log_w_mean", "gap", "gap_se", "silhouette"):
        assert np.isnan(res[name]).all()
    assert np.isfinite(res["inertia"]).all()


def test_best_estimator_is_the_scored_fit_at_the_chosen_k():
    sel = selector().fit(four_blobs())
    row = np.flatnonzero(sel.results_["k"] == sel.n_clusters_)[0]
    assert sel.best_estimator_.n_clusters == sel.n_clusters_
    assert sel.best_estimator_.inertia_ == sel.results_["inertia"][row]
    assert_array_equal(sel.labels_, sel.best_estimator_.labels_)
    assert_array_equal(sel.cluster_centers_, sel.best_estimator_.cluster_centers_)
    # the fits kept until K is chosen hold compact labels: the chosen one has
    # them back as its fit made them, those predict gives
    assert sel.best_estimator_.labels_.dtype == np.int32
    assert_array_equal(sel.labels_, sel.best_estimator_.predict(four_blobs()))


def test_one_cluster_needs_no_fit_and_every_k_sees_the_same_reference_sets():
    RecordingKMeans.fits = []
    sel = selector(estimator=RecordingKMeans(n_init=2), k_range=range(1, 5), n_refs=3)
    X = four_blobs(n_per=15)
    sel.fit(X)
    scan = RecordingKMeans.fits[:-1]  # the last fit is best_estimator_
    assert all(k >= 2 for k, _ in scan)
    data_digest = hashlib.sha1(np.ascontiguousarray(X).tobytes()).hexdigest()
    references = {}
    for k, digest in scan:
        if digest != data_digest:
            references.setdefault(k, set()).add(digest)
    assert sorted(references) == [2, 3, 4]
    assert len(references[2]) == 3
    assert references[2] == references[3] == references[4]


def test_same_random_state_same_results_whatever_n_jobs():
    X = four_blobs(n_per=20)
    one = selector(n_jobs=1).fit(X).results_
    two = selector(n_jobs=2).fit(X).results_
    for name in RESULT_KEYS:
        assert_array_equal(one[name], two[name])


def test_same_results_under_joblib_dask_backend(dask_cluster):
    from joblib import parallel_config

    X = four_blobs(n_per=15)
    local = selector(k_range=range(1, 5), n_refs=3).fit(X).results_
    dask_cluster(n_workers=1, threads_per_worker=2)
    with parallel_config(backend="dask"):
        remote = selector(k_range=range(1, 5), n_refs=3, n_jobs=-1).fit(X).results_
    for name in RESULT_KEYS:
        assert_array_equal(local[name], remote[name])


def test_scaling_all_weights_changes_nothing():
    X = four_blobs(n_per=20)
    plain = selector().fit(X)
    weighted = selector().fit(X, sample_weight=np.full(len(X), 2.0))
    assert weighted.n_clusters_ == plain.n_clusters_
    assert_allclose(weighted.results_["gap"], plain.results_["gap"], rtol=1e-6)
    assert_allclose(weighted.results_["inertia"], 2 * plain.results_["inertia"])


def test_a_zero_weight_outlier_does_not_change_the_choice():
    X = np.vstack([four_blobs(), [[500.0, -500.0]]])
    weights = np.r_[np.ones(len(X) - 1), 0.0]
    assert selector().fit(X, sample_weight=weights).n_clusters_ == 4
    assert selector().fit(X).n_clusters_ != 4  # the outlier does matter unweighted


# -- degenerate data -------------------------------------------------------------


@pytest.mark.parametrize("criterion", ["gap", "silhouette"])
def test_constant_data_chooses_the_smallest_k_with_a_warning(criterion):
    X = np.full((20, 2), 3.0)
    sel = selector(criterion=criterion, k_range=range(1, 5))
    with pytest.warns(UserWarning, match="identical"):
        sel.fit(X)
    assert sel.n_clusters_ == 1
    assert_array_equal(sel.results_["inertia"], 0.0)
    assert np.isnan(sel.results_["gap"]).all()
    assert_array_equal(sel.labels_, 0)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_constant_data_with_k_from_two_chooses_two():
    with pytest.warns(UserWarning, match="identical"):
        sel = selector(k_range=range(2, 5)).fit(np.zeros((10, 3)))
    assert sel.n_clusters_ == 2


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_duplicate_points_give_a_finite_gap_and_their_number_of_clusters():
    X = np.repeat([[0.0, 0.0], [5.0, 1.0], [2.0, 7.0]], 10, axis=0)
    sel = selector(k_range=range(1, 6)).fit(X)
    assert np.isfinite(sel.results_["gap"]).all()
    assert sel.n_clusters_ == 3


# -- errors -------------------------------------------------------------------


@pytest.mark.parametrize(
    "k_range, match",
    [
        ([], "non-empty"),
        ([0, 1, 2], "ints >= 1"),
        ([1.5, 2.5], "ints >= 1"),
        ([True, 2], "ints >= 1"),
        ([[2, 3]], "ints >= 1"),
        # above 2**63: a cast to int64 would wrap them to negative K
        (np.array([2, 2**63 + 5], dtype=np.uint64), "ints <= 9223372036854775807"),
        ([np.uint64(2**64 - 1), 2], "got K=18446744073709551615"),
        ([2, 2**70], "k_range must contain ints <="),
    ],
)
def test_bad_k_range_is_rejected(k_range, match):
    with pytest.raises(ValueError, match=match):
        selector(k_range=k_range).fit(four_blobs(n_per=5))


@given(
    values=st.lists(
        st.one_of(
            st.integers(1, 50),
            st.integers(2**63 - 2, 2**64 + 2),  # around the int64/uint64 limits
            st.integers(-(2**65), 2**65),
        ),
        min_size=1,
        max_size=6,
    ),
    as_uint64=st.booleans(),
)
def test_any_int_k_range_is_kept_exactly_or_rejected_naming_it(values, as_uint64):
    n_samples = 2**40  # only the candidate list is computed: no data of this size
    if as_uint64:
        values = [v for v in values if 0 <= v < 2**64]
        assume(values)
        values = np.array(values, dtype=np.uint64)
    sel = KSelector(k_range=values)
    if min(values) < 1:
        with pytest.raises(ValueError, match="k_range must contain ints >= 1"):
            candidate_ks(sel, n_samples)
    elif max(values) > np.iinfo(np.int64).max:
        with pytest.raises(ValueError, match="k_range must contain ints <="):
            candidate_ks(sel, n_samples)
    elif min(values) > n_samples:
        with pytest.raises(ValueError, match="exceeds n_samples"):
            candidate_ks(sel, n_samples)
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # K above n_samples
            ks = candidate_ks(sel, n_samples)
        assert ks.tolist() == sorted({int(v) for v in values if v <= n_samples})


def test_k_range_of_unsigned_or_numpy_ints_is_used_as_given():
    k_range = np.array([4, 2, 3, 2], dtype=np.uint64)
    sel = selector(k_range=k_range).fit(four_blobs(n_per=10))
    assert_array_equal(sel.results_["k"], [2, 3, 4])
    assert sel.results_["k"].dtype == np.int64


def test_k_above_n_samples_is_dropped_with_a_warning_naming_it():
    X = four_blobs(n_per=1)  # 4 samples
    with pytest.warns(UserWarning, match=re.escape("[5, 6]")):
        sel = selector(k_range=range(1, 7)).fit(X)
    assert_array_equal(sel.results_["k"], [1, 2, 3, 4])


def test_every_k_above_n_samples_is_an_error():
    with pytest.raises(ValueError, match="exceeds n_samples=4"):
        selector(k_range=[5, 6]).fit(four_blobs(n_per=1))


@pytest.mark.parametrize(
    "criterion", ["silhouette", "calinski_harabasz", "davies_bouldin"]
)
def test_index_criteria_need_a_k_of_at_least_two(criterion):
    with pytest.raises(ValueError, match="K >= 2"):
        selector(criterion=criterion, k_range=[1]).fit(four_blobs(n_per=5))


def test_estimator_without_the_k_parameter_is_rejected():
    with pytest.raises(ValueError, match="param_name='n_clusters'"):
        selector(estimator=GaussianMixture()).fit(four_blobs(n_per=5))


def test_a_failing_fit_keeps_its_class_names_its_k_and_chains_the_cause():
    with pytest.raises(ValueError) as info:
        selector(estimator=FailsAtThree(n_init=1)).fit(four_blobs(n_per=5))
    assert type(info.value) is ValueError
    assert str(info.value) == (
        "Fitting FailsAtThree with n_clusters=3 on X failed: cannot fit three clusters"
    )
    assert str(info.value.__cause__) == "cannot fit three clusters"


def test_an_invalid_parameter_of_the_clusterer_stays_an_invalid_parameter_error():
    sel = selector(estimator=LloydKMeans(tol=-1), k_range=range(1, 4))
    with pytest.raises(InvalidParameterError) as info:
        sel.fit(four_blobs(n_per=5))
    # the first fit fails (the seeding of the starts at the largest K, which
    # every K shares), naming the parameter and the value
    assert str(info.value).startswith(
        "Fitting LloydKMeans with n_clusters=3 on X failed: The 'tol' parameter "
        "of LloydKMeans must be a float in the range [0.0, inf). Got -1 instead."
    )


class PairError(Exception):
    """An exception whose constructor does not take a lone message."""

    def __init__(self, left, right):
        super().__init__(f"{left} and {right} clash")


@pytest.mark.parametrize(
    "error", [PairError("n_clusters", "data"), KeyError("no such column")]
)
def test_an_error_that_cannot_be_rebuilt_is_raised_itself_with_a_note(error):
    class FailsWith(LloydKMeans):
        def fit(self, X, y=None, sample_weight=None):
            raise error

    with pytest.raises(type(error)) as info:
        selector(estimator=FailsWith(), k_range=[2, 3]).fit(four_blobs(n_per=5))
    assert info.value is error
    if sys.version_info >= (3, 11):  # exceptions have notes from 3.11 on
        assert info.value.__notes__ == [
            "Fitting FailsWith with n_clusters=2 on X failed"
        ]


def test_a_failing_fit_of_a_reference_set_names_it():
    X = four_blobs(n_per=5)

    class FailsOnReferences(LloydKMeans):
        def fit(self, X_fit, y=None, sample_weight=None):
            if not np.array_equal(X_fit, X):
                raise ArithmeticError("not the data")
            return super().fit(X_fit, y, sample_weight=sample_weight)

    with pytest.raises(ArithmeticError, match="n_clusters=2 on reference set 0"):
        selector(estimator=FailsOnReferences(n_init=1)).fit(X)


def test_sample_weight_for_an_estimator_without_it_is_rejected():
    sel = selector(estimator=GaussianMixture(), param_name="n_components")
    X = four_blobs(n_per=5)
    with pytest.raises(ValueError, match="does not accept sample_weight"):
        sel.fit(X, sample_weight=np.ones(len(X)))


@pytest.mark.parametrize(
    "params", [dict(n_refs=1), dict(rule="max"), dict(d_power=0), dict(criterion="x")]
)
def test_bad_parameters_are_rejected_at_fit(params):
    with pytest.raises(InvalidParameterError):
        selector(**params).fit(four_blobs(n_per=5))


# -- scikit-learn integration ----------------------------------------------------


def test_default_estimator_is_lloyd_kmeans_with_ten_starts():
    sel = KSelector(k_range=[2, 3], n_refs=2, random_state=0).fit(four_blobs(n_per=5))
    assert isinstance(sel.best_estimator_, LloydKMeans)
    assert sel.best_estimator_.n_init == 10


def test_methods_delegate_to_the_best_estimator():
    X = four_blobs()
    sel = selector().fit(X)
    X_new = X[::7] + 0.1
    assert_array_equal(sel.predict(X_new), sel.best_estimator_.predict(X_new))
    assert_allclose(sel.transform(X_new), sel.best_estimator_.transform(X_new))
    assert sel.score(X_new) == sel.best_estimator_.score(X_new)
    assert_array_equal(selector().fit_predict(X), sel.labels_)
    assert_allclose(selector().fit_transform(X), sel.transform(X))


def test_methods_the_estimator_lacks_are_absent():
    sel = selector(estimator=AgglomerativeClustering(), criterion="silhouette")
    assert not hasattr(sel, "predict")
    sel.fit(four_blobs(n_per=10))
    assert sel.n_clusters_ == 4
    assert not hasattr(sel, "predict")
    assert not hasattr(sel, "transform")
    assert not hasattr(sel, "cluster_centers_")


def test_float32_data_stays_float32():
    X = four_blobs().astype(np.float32)
    sel = selector().fit(X)
    assert sel.n_clusters_ == 4
    assert sel.transform(X).dtype == np.float32
    assert sel.results_["gap"].dtype == np.float64


def test_selector_clones_and_pickles():
    sel = selector(rule="firstSEmax", n_refs=3)
    assert repr(clone(sel)) == repr(sel)
    X = four_blobs(n_per=15)
    sel.fit(X)
    restored = pickle.loads(pickle.dumps(sel))
    assert_array_equal(restored.predict(X), sel.predict(X))
    assert restored.n_clusters_ == sel.n_clusters_


def test_selector_in_a_pipeline_after_a_scaler():
    X = four_blobs() * [1.0, 1000.0] + [0.0, 5000.0]
    pipe = make_pipeline(StandardScaler(), selector()).fit(X)
    assert pipe[-1].n_clusters_ == 4
    assert_array_equal(pipe.predict(X), pipe[-1].labels_)


def test_dataframe_feature_names_are_kept():
    pd = pytest.importorskip("pandas")
    X = pd.DataFrame(four_blobs(n_per=10), columns=["income", "age"])
    sel = selector(k_range=range(1, 5)).fit(X)
    assert_array_equal(sel.feature_names_in_, ["income", "age"])
    assert sel.n_features_in_ == 2


def test_verbose_prints_one_line_per_data_set_and_k_and_the_choice(capsys):
    selector(verbose=1, k_range=range(1, 4), n_refs=2).fit(four_blobs(n_per=10))
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(",")[0] for line in lines[:3]] == [
        f"[KSelector] data set {i}/3 fitted at K=1..3" for i in (1, 2, 3)
    ]
    assert [line.split(":")[0] for line in lines[3:6]] == [
        f"[KSelector] K={k}" for k in (1, 2, 3)
    ]
    assert len(lines) == 7 and "chose K=" in lines[6]
