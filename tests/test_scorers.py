"""Clustering scorers: GridSearchCV picks the true K with them, the largest without."""

import ast
import doctest
import inspect

import numpy as np
import pytest
from sklearn.metrics import (
    calinski_harabasz_score,
    davies_bouldin_score,
    silhouette_score,
)
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_kmeans_lab import (
    KSelector,
    LloydKMeans,
    _scorers,
    calinski_harabasz_scorer,
    davies_bouldin_scorer,
    make_clustering_scorer,
    silhouette_scorer,
)
from sklearn_kmeans_lab._compat import InvalidParameterError

SCORERS = [silhouette_scorer, calinski_harabasz_scorer, davies_bouldin_scorer]
GRID = {"n_clusters": [2, 3, 4, 5, 6, 7]}


def four_blobs(n_per=40, seed=0):
    rng = np.random.RandomState(seed)
    centers = [[0.0, 0.0], [8.0, 0.0], [0.0, 8.0], [8.0, 8.0]]
    X = np.vstack([rng.normal(c, 0.8, size=(n_per, 2)) for c in centers])
    # shuffled, so that every fold of an unshuffled KFold holds all four blobs
    return X[rng.permutation(len(X))]


def search(scoring, estimator=None, grid=GRID):
    estimator = (
        LloydKMeans(n_init=3, random_state=0) if estimator is None else estimator
    )
    return GridSearchCV(estimator, grid, scoring=scoring, cv=3)


@pytest.mark.parametrize("scorer", SCORERS, ids=repr)
def test_grid_search_with_a_clustering_scorer_picks_the_true_k(scorer):
    gs = search(scorer).fit(four_blobs())
    assert gs.best_params_ == {"n_clusters": 4}


def test_grid_search_with_the_default_score_picks_the_largest_k():
    # score = -inertia, and more centres always bring samples nearer to one
    gs = search(None).fit(four_blobs())
    assert gs.best_params_ == {"n_clusters": max(GRID["n_clusters"])}
    assert np.all(np.diff(gs.cv_results_["mean_test_score"]) > 0)


@pytest.mark.parametrize(
    "scorer, metric, sign",
    [
        (silhouette_scorer, silhouette_score, 1),
        (calinski_harabasz_scorer, calinski_harabasz_score, 1),
        (davies_bouldin_scorer, davies_bouldin_score, -1),
    ],
)
def test_scorer_is_the_metric_of_the_predicted_labels(scorer, metric, sign):
    X = four_blobs()
    km = LloydKMeans(n_clusters=3, random_state=0).fit(X)
    X_test = X[::3] + 0.2
    assert scorer(km, X_test) == pytest.approx(
        sign * metric(X_test, km.predict(X_test))
    )


def test_davies_bouldin_scorer_is_greater_for_the_better_partition():
    X = four_blobs()
    good = LloydKMeans(n_clusters=4, random_state=0).fit(X)
    bad = LloydKMeans(n_clusters=7, random_state=0).fit(X)
    assert davies_bouldin_scorer(good, X) > davies_bouldin_scorer(bad, X)
    assert davies_bouldin_scorer(good, X) <= 0


@pytest.mark.parametrize("scorer", SCORERS, ids=repr)
def test_pipeline_is_scored_in_the_space_the_clusterer_saw(scorer):
    X = four_blobs() * [1.0, 100.0]
    pipe = make_pipeline(StandardScaler(), LloydKMeans(n_clusters=4, random_state=0))
    pipe.fit(X)
    X_seen = pipe[0].transform(X)
    labels = pipe.predict(X)
    metric = scorer._score_func
    sign = -1 if scorer is davies_bouldin_scorer else 1
    assert scorer(pipe, X) == pytest.approx(sign * metric(X_seen, labels))
    assert scorer(pipe, X) != pytest.approx(sign * metric(X, labels))


def test_grid_search_over_a_scaled_pipeline_picks_the_true_k():
    # one feature in different units: raw-space silhouette would favour
    # splitting the wide feature only
    X = four_blobs() * [1.0, 100.0]
    pipe = make_pipeline(StandardScaler(), LloydKMeans(n_init=3, random_state=0))
    grid = {"lloydkmeans__n_clusters": GRID["n_clusters"]}
    gs = search(silhouette_scorer, pipe, grid).fit(X)
    assert gs.best_params_ == {"lloydkmeans__n_clusters": 4}

    def raw_space_silhouette(estimator, X, y=None):
        return silhouette_score(X, estimator.predict(X))

    gs_raw = search(raw_space_silhouette, pipe, grid).fit(X)
    assert gs_raw.best_params_ == {"lloydkmeans__n_clusters": 2}


def test_nested_pipelines_are_unwrapped():
    X = four_blobs()
    inner = make_pipeline(StandardScaler(), LloydKMeans(n_clusters=4, random_state=0))
    outer = make_pipeline(StandardScaler(with_std=False), inner).fit(X)
    X_seen = inner[0].transform(outer[0].transform(X))
    expected = silhouette_score(X_seen, outer.predict(X))
    assert silhouette_scorer(outer, X) == pytest.approx(expected)


def test_scorer_works_on_a_fitted_selector():
    X = four_blobs()
    sel = KSelector(LloydKMeans(n_init=3), k_range=range(2, 6), n_refs=3)
    sel.set_params(random_state=0).fit(X)
    assert silhouette_scorer(sel, X) == pytest.approx(
        silhouette_score(X, sel.predict(X))
    )


def test_made_scorer_passes_its_arguments_and_reprs_them():
    X = four_blobs()
    km = LloydKMeans(n_clusters=4, random_state=0).fit(X)
    scorer = make_clustering_scorer(silhouette_score, sample_size=50, random_state=1)
    expected = silhouette_score(X, km.labels_, sample_size=50, random_state=1)
    assert scorer(km, X) == pytest.approx(expected)
    assert scorer(km, X) != pytest.approx(silhouette_scorer(km, X))
    assert repr(scorer) == (
        "make_clustering_scorer(silhouette_score, sample_size=50, random_state=1)"
    )
    assert repr(davies_bouldin_scorer) == (
        "make_clustering_scorer(davies_bouldin_score, greater_is_better=False)"
    )


def test_make_clustering_scorer_validates_its_parameters():
    with pytest.raises(InvalidParameterError, match="score_func"):
        make_clustering_scorer("silhouette")
    with pytest.raises(InvalidParameterError, match="greater_is_better"):
        make_clustering_scorer(silhouette_score, greater_is_better="yes")


@pytest.mark.filterwarnings("ignore:One or more of the test scores are non-finite")
def test_one_cluster_in_the_grid_scores_nan_not_a_crash():
    grid = {"n_clusters": [1, 4]}
    with pytest.warns(UserWarning, match="Scoring failed"):
        gs = search(silhouette_scorer, grid=grid).fit(four_blobs())
    assert np.isnan(gs.cv_results_["mean_test_score"][0])
    assert gs.best_params_ == {"n_clusters": 4}


def attribute_docstrings(module):
    """The string literal after each assignment of ``module`` (what autodoc shows)."""
    body = ast.parse(inspect.getsource(module)).body
    return {
        node.targets[0].id: after.value.value
        for node, after in zip(body, body[1:], strict=False)
        if isinstance(node, ast.Assign)
        and isinstance(after, ast.Expr)
        and isinstance(after.value, ast.Constant)
        and isinstance(after.value.value, str)
    }


@pytest.mark.parametrize(
    "name", ["silhouette_scorer", "calinski_harabasz_scorer", "davies_bouldin_scorer"]
)
def test_the_documented_example_of_each_scorer_runs(name):
    # pytest --doctest-modules does not see these (they document objects, not
    # functions), so they are run here
    doc = attribute_docstrings(_scorers)[name]
    test = doctest.DocTestParser().get_doctest(doc, {}, name, None, 0)
    flags = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS
    runner = doctest.DocTestRunner(optionflags=flags)
    runner.run(test)
    assert runner.tries > 0
    assert runner.failures == 0
