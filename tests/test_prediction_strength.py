"""Prediction strength (``criterion="prediction_strength"``) against R's ``fpc``.

R's numbers are in ``tests/data/prediction_strength_r.json``, written by
``benchmarks/r/make_prediction_strength_fixture.R`` from the datasets of the
clusGap fixture (``tests/data/clusgap_*.csv``); R is not needed here.  R ran
``fpc::prediction.strength(x, Gmin = 2, Gmax = 8, M = 50, cutoff = 0.8,
clustermethod = kmeansCBI, runs = 10)`` with 6 seeds per dataset.

The prediction strength is a Monte-Carlo mean over random splits, so ours
must lie within ``N_SIGMA`` combined standard deviations of R's mean over its
seeds: R's seed-to-seed spread and our own standard error over our
``N_SPLITS`` splits, plus ``FLOOR`` for the clusterers.  R clusters each half
with ``stats::kmeans`` (Hartigan-Wong, best of 10 random starts), we with
``LloydKMeans(n_init=10)`` (k-means++ starts, Lloyd iterations); beyond the
true K the two settle in different local optima of similar quality, which
moves the strength by about a hundredth, and where both sides are exactly 1
(income/age at K = 2) there is no spread to scale by.
"""

import json
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from sklearn_kmeans_lab import KSelector, LloydKMeans
from sklearn_kmeans_lab._prediction_strength import half_strength, split_halves

DATA = Path(__file__).parent / "data"
R = json.loads((DATA / "prediction_strength_r.json").read_text())
CUTOFF = R["settings"]["cutoff"]
# Fewer splits than R's 50 to keep the suite fast: our standard error grows by
# sqrt(50 / 20) and the tolerance with it.  K up to 6 holds every K R chooses
# and the first K after it (fpc's strengths at K = 7, 8 are below 0.45).
N_SPLITS = 20
K_MAX = 6
N_SIGMA = 4
FLOOR = 0.02

RUNS = {run["dataset"]: run for run in R["runs"]}


@cache
def _fit(dataset):
    csv = DATA / R["datasets"][dataset]["csv"]
    X = np.loadtxt(csv, delimiter=",", skiprows=1, ndmin=2)
    return KSelector(
        k_range=range(1, K_MAX + 1),
        criterion="prediction_strength",
        n_splits=N_SPLITS,
        ps_cutoff=CUTOFF,
        random_state=0,
    ).fit(X)


@pytest.mark.parametrize("dataset", list(RUNS))
def test_mean_strength_per_k_matches_fpc_within_monte_carlo_spread(dataset):
    run = RUNS[dataset]
    r_mean_pred = np.array(run["mean_pred"])[:, :K_MAX]
    res = _fit(dataset).results_
    r_mean = r_mean_pred.mean(axis=0)
    r_sd = r_mean_pred.std(axis=0, ddof=1)
    spread = np.sqrt(r_sd**2 + res["prediction_strength_se"] ** 2)
    assert_array_equal(res["prediction_strength"][0], 1.0)  # K = 1, by definition
    deviation = np.abs(res["prediction_strength"] - r_mean)
    assert (deviation <= N_SIGMA * spread + FLOOR).all(), (
        dataset,
        res["prediction_strength"].round(3),
        r_mean.round(3),
    )


@pytest.mark.parametrize("dataset", list(RUNS))
def test_standard_error_matches_fpc_split_to_split_spread(dataset):
    # R's sd over its 50 splits / sqrt(50), rescaled to our 20 splits.
    r_se = np.array(RUNS[dataset]["se_pred"])[:, 1:K_MAX].mean(axis=0)
    ours = _fit(dataset).results_["prediction_strength_se"][1:]
    expected = r_se * np.sqrt(R["settings"]["M"] / N_SPLITS)
    # a standard error estimated from 20 splits is itself uncertain by about
    # 1 / sqrt(2 * 19) = 16 %; three times that, and a floor where both are ~0
    assert (np.abs(ours - expected) <= 0.5 * expected + 0.01).all()


@pytest.mark.parametrize("dataset", list(RUNS))
def test_chosen_k_is_fpc_optimalk(dataset):
    r_choices = set(RUNS[dataset]["optimalk"])
    assert len(r_choices) == 1  # R's seeds agree on every dataset
    assert _fit(dataset).n_clusters_ == r_choices.pop()


def test_uniform_data_have_one_cluster():
    sel = _fit("uniform_square")
    assert sel.n_clusters_ == 1
    assert (sel.results_["prediction_strength"][1:] < CUTOFF).all()


# -- the definition ------------------------------------------------------------


def test_half_strength_is_the_worst_clusters_share_of_pairs_kept_together():
    own = np.array([0, 0, 0, 0, 1, 1, 1])
    # cluster 0: predicted 2 + 2 -> pairs kept 2*1 + 2*1 = 4 of 4*3 = 12
    # cluster 1: all together -> 6 of 6
    predicted = np.array([5, 5, 7, 7, 7, 7, 7])
    assert half_strength(own, predicted) == pytest.approx(4 / 12)


def test_a_singleton_cluster_counts_as_kept_together():
    assert half_strength(np.array([0, 0, 1]), np.array([0, 0, 1])) == 1.0
    assert half_strength(np.array([0, 1, 1]), np.array([0, 1, 2])) == 0.0


def test_weights_count_each_pair_of_distinct_samples_w_i_w_j_times():
    own, predicted = np.array([0, 0, 0, 1]), np.array([0, 1, 1, 1])
    weights = np.array([2.0, 1.0, 1.0, 1.0])
    # cluster 0: pairs (0,1) 2, (0,2) 2, (1,2) 1 -> total 5; kept: (1,2) -> 1
    assert half_strength(own, predicted, weights) == pytest.approx(1 / 5)
    assert half_strength(own, predicted, 3 * weights) == pytest.approx(1 / 5)
    assert half_strength(own, predicted, np.ones(4)) == half_strength(own, predicted)


def test_halves_are_floor_and_ceil_of_half_the_samples():
    first, second = split_halves(7, np.random.RandomState(0))
    assert (first.size, second.size) == (3, 4)
    assert_array_equal(np.sort(np.concatenate([first, second])), np.arange(7))


def test_no_k_above_the_cutoff_without_k1_chooses_the_smallest_k_with_a_warning():
    X = np.random.RandomState(0).uniform(size=(80, 2))
    sel = KSelector(
        LloydKMeans(n_init=2),
        k_range=range(2, 5),
        criterion="prediction_strength",
        n_splits=4,
        ps_cutoff=0.99,
        random_state=0,
    )
    with pytest.warns(UserWarning, match="prediction strength above ps_cutoff"):
        sel.fit(X)
    assert sel.n_clusters_ == 2


def test_a_clusterer_without_predict_is_refused():
    from sklearn.cluster import AgglomerativeClustering

    sel = KSelector(
        AgglomerativeClustering(), k_range=range(2, 4), criterion="prediction_strength"
    )
    with pytest.raises(ValueError, match="has no predict method"):
        sel.fit(np.random.RandomState(0).normal(size=(20, 2)))
