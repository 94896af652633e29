"""The gap statistic against R's ``cluster::clusGap`` and ``maxSE``.

R's numbers are in ``tests/data/clusgap_r.json``, written by
``benchmarks/r/make_clusgap_fixture.R`` from the ``tests/data/clusgap_*.csv``
datasets (see the fixture's ``r_version`` and ``cluster_version``); R is not
needed here.  R ran ``clusGap(x, kmeans, K.max = 8, B = 50, nstart = 20,
iter.max = 50)`` with 10 seeds for each dataset and reference distribution,
so R's own seed-to-seed spread sets the tolerances:

* ``max_se`` has no randomness: it must give R's answer on every stored case.
* ``W_k`` of a given partition is a formula: recomputed from the labels R's
  ``kmeans`` found, it must equal R's ``logW`` to rounding.
* ``log_w`` of a ``KSelector`` fit must equal R's ``logW`` to 1e-6 where R's
  seeds agree and K is at most the K that R chooses.  Beyond that K, the
  k-means objective has many near-equal local optima, and Lloyd's algorithm
  (ours) and Hartigan-Wong (R's ``kmeans`` default) settle in different ones
  even where R's 20 starts agree among themselves (on these data Lloyd's
  optimum is up to 0.02 higher in log W at K = 5..8, with 10 or 20 starts).
* ``gap`` and ``gap_se`` are Monte-Carlo estimates: ours must lie within
  ``N_SIGMA`` standard deviations of R's mean over seeds, the standard
  deviation taken from R and rescaled to our number of reference sets (see
  ``_tolerance``), plus a small floor for the Lloyd/Hartigan-Wong difference
  above, which also reaches the reference sets (their mean log W* was up to
  0.012 higher than R's at K = 8 in 5-D, measured with 300 reference sets).
* The chosen K must be R's wherever R chose the same K with all 10 seeds.
"""

import json
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from sklearn_kmeans_lab import KSelector, make_income_age_clusters, max_se
from sklearn_kmeans_lab._gap import within_dispersion

DATA = Path(__file__).parent / "data"
R = json.loads((DATA / "clusgap_r.json").read_text())
B_R = R["clusgap_settings"]["B"]
K_MAX = R["clusgap_settings"]["K_max"]
METHODS = tuple(R["clusgap"][0]["k_chosen"])
REFERENCE = {"scaledPCA": "pca", "original": "uniform"}

# KSelector's default number of reference sets: 2.5 times cheaper than R's 50,
# paid for by a tolerance sqrt(50 / 20) times wider.
N_REFS = 20
N_SIGMA = 4
GAP_FLOOR = 0.02
GAP_SE_FLOOR = 0.005
LOG_W_ATOL = 1e-6
# R's seeds count as agreeing on log W when they differ by less than this.
R_AGREE_ATOL = 1e-9


def _run_id(run):
    return f"{run['dataset']}-{run['spaceH0']}-d{run['d_power']}"


CLUSGAP_RUNS = [pytest.param(run, id=_run_id(run)) for run in R["clusgap"]]


@cache
def _load(dataset):
    csv = DATA / R["datasets"][dataset]["csv"]
    return np.loadtxt(csv, delimiter=",", skiprows=1, ndmin=2)


@cache
def _fit(dataset, space_h0, d_power):
    """Our clusGap: the default KSelector, on the data R saw, at R's K range."""
    return KSelector(
        k_range=range(1, K_MAX + 1),
        n_refs=N_REFS,
        reference=REFERENCE[space_h0],
        d_power=d_power,
        random_state=0,
    ).fit(_load(dataset))


def _fit_for(run):
    return _fit(run["dataset"], run["spaceH0"], run["d_power"])


def _stable_k(run, method):
    """R's 1-based K for ``method`` if all of R's seeds chose it, else None."""
    ks = set(run["k_chosen"][method])
    return ks.pop() if len(ks) == 1 else None


def _tolerance(per_seed, sigma_floor, floor):
    """``N_SIGMA`` standard deviations of (ours - mean of R's seeds), plus floor.

    ``per_seed`` has shape (n_seeds, K).  Its spread over seeds estimates the
    sd of one R estimate made with ``B_R`` reference sets; ``sigma_floor``
    (computed from R's ``SE.sim``, pooled over all seeds, so less noisy than an
    sd of 10 values) keeps an unluckily small spread from making the test
    flaky.  Ours uses ``N_REFS`` sets, so its sd is larger by
    ``sqrt(B_R / N_REFS)``, and R's mean over ``n_seeds`` adds ``1 / n_seeds``
    of R's variance.
    """
    n_seeds = per_seed.shape[0]
    sigma_r = np.maximum(per_seed.std(axis=0, ddof=1), sigma_floor)
    return N_SIGMA * sigma_r * np.sqrt(B_R / N_REFS + 1 / n_seeds) + floor


# ---- maxSE: deterministic, so exactly R's answer ----


@pytest.mark.parametrize("case", R["maxse"], ids=[c["name"] for c in R["maxse"]])
def test_max_se_matches_r_on_hand_made_curves(case):
    mismatches = []
    for se_factor, r_answers in zip(case["se_factors"], case["k"], strict=True):
        for method, r_k in r_answers.items():
            ours = max_se(case["f"], case["se_f"], method=method, se_factor=se_factor)
            if ours != r_k - 1:  # ours is 0-based, R's 1-based
                mismatches.append((method, se_factor, ours + 1, r_k))
    assert not mismatches, f"(method, SE.factor, ours, R): {mismatches}"


@pytest.mark.parametrize("run", CLUSGAP_RUNS)
def test_max_se_matches_r_on_clusgap_gap_curves(run):
    for i, (gap, se) in enumerate(zip(run["gap"], run["SE_sim"], strict=True)):
        for method in METHODS:
            r_k = run["k_chosen"][method][i]
            assert max_se(gap, se, method=method) == r_k - 1, (run["seeds"][i], method)


# ---- W_k: a formula, so R's value to rounding ----


@pytest.mark.parametrize(
    "partition",
    R["partitions"],
    ids=[f"{p['dataset']}-d{p['d_power']}" for p in R["partitions"]],
)
def test_within_dispersion_is_clusgap_w_of_the_same_partition(partition):
    X = _load(partition["dataset"])
    ours = [
        np.log(within_dispersion(X, np.asarray(labels), d_power=partition["d_power"]))
        for labels in partition["labels"]
    ]
    np.testing.assert_allclose(ours, partition["logW"], rtol=0, atol=1e-10)


@pytest.mark.parametrize("run", CLUSGAP_RUNS)
def test_log_w_equals_r_where_the_clustering_is_determined(run):
    r_log_w = np.asarray(run["logW"])
    r_agrees = np.ptp(r_log_w, axis=0) <= R_AGREE_ATOL
    # Up to the smallest K that R chose with the paper's rule, the data's
    # structure, not the k-means algorithm, decides the partition.
    r_k = min(run["k_chosen"]["Tibs2001SEmax"])
    determined = r_agrees & (np.arange(1, K_MAX + 1) <= r_k)
    assert determined.any()
    ours = _fit_for(run).results_["log_w"]
    np.testing.assert_allclose(
        ours[determined], r_log_w[0, determined], rtol=0, atol=LOG_W_ATOL
    )


# ---- gap and its standard error: within R's Monte-Carlo spread ----


@pytest.mark.parametrize("run", CLUSGAP_RUNS)
def test_gap_lies_within_r_seed_spread(run):
    r_gap = np.asarray(run["gap"])
    # SE.sim = sd(log W*) sqrt(1 + 1/B), so one clusGap's E.logW has sd
    # SE.sim / sqrt(B + 1).
    sigma_floor = np.mean(run["SE_sim"], axis=0) / np.sqrt(B_R + 1)
    tol = _tolerance(r_gap, sigma_floor, GAP_FLOOR)
    diff = _fit_for(run).results_["gap"] - r_gap.mean(axis=0)
    assert np.all(np.abs(diff) <= tol), f"|ours - R| {np.abs(diff)} > {tol}"


@pytest.mark.parametrize("run", CLUSGAP_RUNS)
def test_gap_se_lies_within_r_seed_spread(run):
    r_se = np.asarray(run["SE_sim"])
    # An sd estimated from B draws has a relative sd of about 1 / sqrt(2 (B - 1)).
    sigma_floor = r_se.mean(axis=0) / np.sqrt(2 * (B_R - 1))
    tol = _tolerance(r_se, sigma_floor, GAP_SE_FLOOR)
    diff = _fit_for(run).results_["gap_se"] - r_se.mean(axis=0)
    assert np.all(np.abs(diff) <= tol), f"|ours - R| {np.abs(diff)} > {tol}"


# ---- the chosen K ----


@pytest.mark.parametrize("run", CLUSGAP_RUNS)
def test_chosen_k_equals_r_where_r_is_stable(run):
    selector = _fit_for(run)
    stable = {m: k for m in METHODS if (k := _stable_k(run, m)) is not None}
    assert stable, "R chose a different K on some seed for every rule"
    results = selector.results_
    ours = {
        m: int(results["k"][max_se(results["gap"], results["gap_se"], method=m)])
        for m in stable
    }
    assert ours == stable
    if "Tibs2001SEmax" in stable:  # KSelector's default rule
        assert selector.n_clusters_ == stable["Tibs2001SEmax"]


# ---- provenance of the fixture ----


def test_income_age_dataset_is_the_seed_data_standardised():
    X, _ = make_income_age_clusters(n_samples=100, n_clusters=5, random_state=10)
    scaled = (X - X.mean(axis=0)) / X.std(axis=0)
    np.testing.assert_array_equal(_load("income_age_scaled"), scaled)
