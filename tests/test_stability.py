"""How sure KSelector is: bootstrap frequencies, reference resamples, choices_."""

import numpy as np
import pytest
from joblib import parallel_config
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.preprocessing import StandardScaler

from sklearn_kmeans_lab import KSelector, LloydKMeans, make_income_age_clusters
from sklearn_kmeans_lab._criteria import choose_k, jump_statistic
from sklearn_kmeans_lab._stability import (
    choice_frequencies,
    reference_choice_frequencies,
)

CENTERS = np.array([[0.0, 0.0], [8.0, 0.0], [0.0, 8.0], [8.0, 8.0]])


def four_blobs(n_per=25, std=0.8, seed=0):
    """Four round, well separated blobs: the true K is 4."""
    rng = np.random.RandomState(seed)
    return np.vstack([rng.normal(c, std, size=(n_per, 2)) for c in CENTERS])


def selector(**params):
    defaults = dict(
        estimator=LloydKMeans(n_init=3),
        k_range=range(1, 7),
        n_refs=5,
        random_state=0,
    )
    return KSelector(**{**defaults, **params})


@pytest.fixture(scope="module")
def seed_data():
    X, _ = make_income_age_clusters(100, 5, random_state=10)
    return StandardScaler().fit_transform(X)


# -- bootstrap frequencies -----------------------------------------------------


def test_a_clear_k_is_chosen_in_every_resample():
    sel = selector(n_bootstrap=5, extra_criteria=["silhouette"]).fit(four_blobs())
    for criterion, frequencies in sel.k_frequencies_.items():
        assert_array_equal(frequencies, [0, 0, 0, 1, 0, 0], err_msg=criterion)
    assert_array_equal(sel.results_["k_frequency"], sel.k_frequencies_["gap"])
    # 5 reference sets resampled can collapse s_k: K=4 nearly always, not always
    assert np.argmax(sel.reference_k_frequencies_) == 3
    assert sel.reference_k_frequencies_[3] >= 0.8


def test_the_seed_data_split_between_four_and_five(seed_data):
    # 16 resamples: with the choice split about 40/60 between 4 and 5, all of
    # them land on one side with probability below 0.1%
    sel = selector(k_range=range(2, 8), n_refs=10, n_bootstrap=16).fit(seed_data)
    gap = sel.k_frequencies_["gap"]
    assert gap.sum() == pytest.approx(1.0)
    # K=4 and K=5 both win some resamples: the data do not settle the question
    k = sel.results_["k"]
    assert gap[k == 4][0] > 0 and gap[k == 5][0] > 0
    assert gap.max() < 1


def test_frequencies_are_reproducible_and_do_not_depend_on_n_jobs():
    X = four_blobs(n_per=12, std=2.5)
    params = dict(
        k_range=range(1, 5),
        n_refs=3,
        n_splits=3,
        n_bootstrap=3,
        extra_criteria="all",
        random_state=7,
    )
    one = selector(**params, n_jobs=1).fit(X)
    # threads: no worker start-up (test_kselector checks processes); the
    # point is that every seed is drawn before any task runs
    with parallel_config(backend="threading"):
        two = selector(**params, n_jobs=2).fit(X)
    again = selector(**params, n_jobs=1).fit(X)
    for other in (two, again):
        assert other.choices_ == one.choices_
        assert list(other.k_frequencies_) == list(one.k_frequencies_)
        for criterion in one.k_frequencies_:
            assert_array_equal(
                other.k_frequencies_[criterion], one.k_frequencies_[criterion]
            )
        assert_array_equal(other.reference_k_frequencies_, one.reference_k_frequencies_)
        for name, column in one.results_.items():
            assert_array_equal(other.results_[name], column)


def test_bootstrap_leaves_the_plain_fit_unchanged():
    X = four_blobs()
    plain = selector().fit(X)
    boot = selector(n_bootstrap=2).fit(X)
    for name, column in plain.results_.items():
        if name != "k_frequency":
            assert_array_equal(boot.results_[name], column)
    assert_array_equal(boot.labels_, plain.labels_)
    assert np.isnan(plain.results_["k_frequency"]).all()
    assert not hasattr(plain, "k_frequencies_")


def test_reference_frequencies_resample_the_reference_log_w():
    # gap(1) = 0.5, gap(2) = 0.5 + d: the choice flips with the resampled sets
    log_w = np.array([1.0, 0.5])
    ref = np.array([[1.5, 1.05], [1.5, 0.95], [1.5, 1.2], [1.5, 0.8]])
    freq = reference_choice_frequencies(
        log_w,
        ref,
        rule="globalmax",
        se_factor=1.0,
        n_resamples=200,
        random_state=np.random.RandomState(0),
    )
    assert freq.sum() == pytest.approx(1.0)
    assert 0.2 < freq[0] < 0.8  # mean ref log W*_2 is 1.0 = tie on average
    assert_array_equal(
        reference_choice_frequencies(
            log_w,
            ref[:, [0, 0]],
            rule="globalmax",
            se_factor=1.0,
            n_resamples=10,
            random_state=np.random.RandomState(0),
        ),
        [0.0, 1.0],  # gap(2) = 1.0 > gap(1) = 0.5 in every resample
    )


def test_choice_frequencies_count_undefined_resamples_for_no_k():
    assert_allclose(choice_frequencies([0, 2, None, 2], 3), [0.25, 0, 0.5])


# -- every criterion's answer from the same fits --------------------------------


def test_choices_hold_the_choice_of_every_computed_criterion():
    sel = selector(extra_criteria="all", n_splits=4).fit(four_blobs())
    assert list(sel.choices_) == [
        "gap",
        "silhouette",
        "calinski_harabasz",
        "davies_bouldin",
        "prediction_strength",
        "jump",
    ]
    assert all(k == 4 for k in sel.choices_.values())
    assert sel.choices_["gap"] == sel.n_clusters_


@pytest.mark.parametrize("criterion", ["gap", "silhouette", "calinski_harabasz"])
def test_the_choice_of_the_driving_criterion_is_n_clusters(seed_data, criterion):
    sel = selector(criterion=criterion, k_range=range(2, 7)).fit(seed_data)
    assert sel.choices_[criterion] == sel.n_clusters_
    res = sel.results_
    for name, k in sel.choices_.items():
        assert k == res["k"][choose_k(res, name, rule=sel.rule)]
        assert np.isfinite(res[name]).any()  # a choice comes with its column


def test_only_computed_criteria_are_reported():
    sel = selector(criterion="davies_bouldin").fit(four_blobs())
    assert set(sel.choices_) == {"calinski_harabasz", "davies_bouldin", "jump"}
    assert np.isnan(sel.results_["silhouette"]).all()
    assert np.isnan(sel.results_["prediction_strength"]).all()


def test_unknown_extra_criteria_are_refused():
    with pytest.raises(ValueError, match="extra_criteria must hold names"):
        selector(extra_criteria=["gap", "elbow"]).fit(four_blobs(n_per=5))


# -- the jump method --------------------------------------------------------------


def test_jump_is_the_step_in_distortion_to_the_minus_p_over_2():
    ks = np.array([1, 2, 3])
    inertia = np.array([40.0, 10.0, 8.0])  # n = 10 samples, p = 2 features
    jump = jump_statistic(ks, inertia, n_features=2, total_weight=10)
    distortion = inertia / 20
    assert_allclose(distortion**-1, [0.5, 2.0, 2.5])  # Y = p / 2 = 1
    assert_allclose(jump, [0.5 - 0.0, 2.0 - 0.5, 2.5 - 2.0])
    assert np.isnan(
        jump_statistic(ks[1:], inertia[1:], n_features=2, total_weight=10)[0]
    )
    squared = jump_statistic(ks, inertia, n_features=2, total_weight=10, power=2)
    assert_allclose(squared, [0.25, 4.0 - 0.25, 6.25 - 4.0])


def test_jump_finds_the_blobs():
    sel = selector(criterion="calinski_harabasz").fit(four_blobs())
    assert sel.choices_["jump"] == 4
