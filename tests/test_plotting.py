"""Specification of the Displays: ClusterScatterDisplay and KSelectorDisplay.

The ``pyplot`` fixture (tests/conftest.py) closes every figure after a test.
"""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError
from sklearn.mixture import GaussianMixture
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import Normalizer, StandardScaler

from sklearn_kmeans_lab import (
    ClusterScatterDisplay,
    KSelector,
    KSelectorDisplay,
    LloydKMeans,
    make_income_age_clusters,
    max_se,
)


@pytest.fixture
def income_age():
    return make_income_age_clusters(60, 3, random_state=10)


# ClusterScatterDisplay -------------------------------------------------------


def test_scatter_draws_points_coloured_by_predicted_label(pyplot, income_age):
    X, _ = income_age
    model = LloydKMeans(3, random_state=0).fit(X)
    display = ClusterScatterDisplay.from_estimator(model, X)

    assert isinstance(display, ClusterScatterDisplay)
    assert_array_equal(display.scatter_.get_offsets(), X)
    assert_array_equal(display.scatter_.get_array(), model.predict(X))
    assert display.ax_.get_xlabel() == "feature 0"
    assert display.ax_.get_ylabel() == "feature 1"
    assert display.figure_ is display.ax_.figure


def test_scatter_marks_centres_in_the_colour_of_their_cluster(pyplot, income_age):
    X, _ = income_age
    model = LloydKMeans(3, random_state=0).fit(X)
    display = ClusterScatterDisplay.from_estimator(model, X)

    assert_allclose(display.centers_.get_offsets(), model.cluster_centers_)
    point_colors = display.scatter_.to_rgba(display.scatter_.get_array())
    center_colors = display.centers_.to_rgba(display.centers_.get_array())
    for label in range(3):
        in_cluster = point_colors[model.labels_ == label]
        assert_allclose(in_cluster, np.tile(center_colors[label], (len(in_cluster), 1)))
    assert len({tuple(c) for c in center_colors}) == 3


def test_scatter_of_a_pipeline_is_in_original_units(pyplot, income_age):
    pd = pytest.importorskip("pandas")
    X, _ = income_age
    X = pd.DataFrame(X, columns=["income", "age"])
    model = make_pipeline(StandardScaler(), LloydKMeans(3, random_state=0)).fit(X)
    display = ClusterScatterDisplay.from_estimator(model, X)

    assert_array_equal(display.scatter_.get_offsets(), X.to_numpy())
    # A converged k-means centre is the mean of its points, and the scaler is
    # affine, so in original units each centre is its cluster's mean.
    labels = model.predict(X)
    cluster_means = X.groupby(labels).mean().to_numpy()
    assert_allclose(display.centers_.get_offsets(), cluster_means, rtol=1e-9)
    assert display.ax_.get_xlabel() == "income"
    assert display.ax_.get_ylabel() == "age"


def test_scatter_of_a_nested_pipeline_maps_centres_back_through_every_step(
    pyplot, income_age
):
    # The scorers unwrap nested pipelines; the plot must too (one helper).
    X, _ = income_age
    inner = make_pipeline(StandardScaler(), LloydKMeans(3, random_state=0))
    model = make_pipeline(StandardScaler(with_std=False), inner).fit(X)
    display = ClusterScatterDisplay.from_estimator(model, X)

    labels = model.predict(X)
    cluster_means = np.array([X[labels == j].mean(axis=0) for j in range(3)])
    assert_allclose(display.centers_.get_offsets(), cluster_means, rtol=1e-9)


def test_scatter_uses_feature_names_and_selected_features(pyplot):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(30, 3))
    model = LloydKMeans(2, random_state=0).fit(X)
    display = ClusterScatterDisplay.from_estimator(
        model, X, features=("c", 0), feature_names=["a", "b", "c"]
    )

    assert_array_equal(display.scatter_.get_offsets(), X[:, [2, 0]])
    assert_allclose(display.centers_.get_offsets(), model.cluster_centers_[:, [2, 0]])
    assert (display.ax_.get_xlabel(), display.ax_.get_ylabel()) == ("c", "a")


def test_scatter_without_centres_and_on_a_given_axes(pyplot, income_age):
    X, _ = income_age
    model = LloydKMeans(3, random_state=0).fit(X)
    _, ax = pyplot.subplots()
    display = ClusterScatterDisplay.from_estimator(model, X, show_centers=False, ax=ax)
    assert display.ax_ is ax
    assert display.centers_ is None
    assert len(ax.collections) == 1


def test_scatter_kwargs_override_the_defaults(pyplot, income_age):
    X, _ = income_age
    model = LloydKMeans(3, random_state=0).fit(X)
    display = ClusterScatterDisplay.from_estimator(
        model,
        X,
        scatter_kwargs={"s": 5, "color": "black"},
        centers_kwargs={"s": 99},
    )
    assert_array_equal(display.scatter_.get_sizes(), [5])
    assert_allclose(display.scatter_.get_facecolors()[:, :3], [[0, 0, 0]])
    assert_array_equal(display.centers_.get_sizes(), [99])


def test_plot_returns_self_and_redraws_on_another_axes(pyplot):
    display = ClusterScatterDisplay(
        X=np.array([[0.0, 0.0], [1.0, 1.0]]),
        labels=np.array([0, 1]),
        feature_names=("x", "y"),
    )
    _, (ax1, ax2) = pyplot.subplots(1, 2)
    assert display.plot(ax=ax1) is display
    assert display.plot(ax=ax2).ax_ is ax2
    assert ax2.get_xlabel() == "x"


def test_scatter_centres_need_an_invertible_preprocessing(pyplot, income_age):
    X, _ = income_age
    model = make_pipeline(Normalizer(), LloydKMeans(3, random_state=0)).fit(X)
    with pytest.raises(ValueError, match="inverse_transform.*show_centers=False"):
        ClusterScatterDisplay.from_estimator(model, X)
    display = ClusterScatterDisplay.from_estimator(model, X, show_centers=False)
    assert_array_equal(display.scatter_.get_array(), model.predict(X))


def test_scatter_centres_need_cluster_centers(pyplot, income_age):
    X, _ = income_age
    model = GaussianMixture(2, random_state=0).fit(X)
    with pytest.raises(ValueError, match="no cluster_centers_"):
        ClusterScatterDisplay.from_estimator(model, X)
    display = ClusterScatterDisplay.from_estimator(model, X, show_centers=False)
    assert display.centers_ is None


def test_scatter_refuses_an_unfitted_estimator(pyplot, income_age):
    X, _ = income_age
    with pytest.raises(NotFittedError):
        ClusterScatterDisplay.from_estimator(LloydKMeans(3), X)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"features": (0,)}, "exactly 2 columns"),
        ({"features": (0, 2)}, "column indices in \\[0, 2\\)"),
        ({"features": ("income", 1)}, "not one of the feature names"),
        ({"feature_names": ["a"]}, "must name all 2 columns"),
    ],
)
def test_scatter_rejects_bad_features(pyplot, income_age, kwargs, match):
    X, _ = income_age
    model = LloydKMeans(3, random_state=0).fit(X)
    with pytest.raises(ValueError, match=match):
        ClusterScatterDisplay.from_estimator(model, X, **kwargs)


# KSelectorDisplay ------------------------------------------------------------


@pytest.fixture
def results():
    """A hand-made ``KSelector.results_``: silhouette undefined at K=1."""
    return {
        "k": np.arange(1, 7),
        "inertia": np.array([200.0, 90.0, 40.0, 30.0, 25.0, 21.0]),
        "log_w": np.array([4.0, 3.5, 3.0, 2.9, 2.8, 2.7]),
        "ref_log_w_mean": np.array([4.2, 3.9, 3.7, 3.6, 3.5, 3.4]),
        "gap": np.array([0.2, 0.4, 0.7, 0.7, 0.7, 0.7]),
        "gap_se": np.array([0.01, 0.02, 0.03, 0.04, 0.05, 0.06]),
        "silhouette": np.array([np.nan, 0.5, 0.7, 0.6, 0.55, 0.5]),
        "calinski_harabasz": np.array([np.nan, 80.0, 120.0, 110.0, 100.0, 90.0]),
        "davies_bouldin": np.array([np.nan, 0.9, 0.5, 0.6, 0.7, 0.8]),
    }


def test_gap_plot_has_error_bars_of_gap_se(pyplot, results):
    display = KSelectorDisplay.from_results(results, "gap")

    assert_array_equal(display.line_.get_xdata(), results["k"])
    assert_array_equal(display.line_.get_ydata(), results["gap"])
    assert display.errorbar_ is not None
    (bars,) = display.errorbar_.lines[2]
    heights = [segment[1, 1] - segment[0, 1] for segment in bars.get_segments()]
    assert_allclose(heights, 2 * results["gap_se"])
    assert display.ax_.get_ylabel() == "Gap statistic"
    assert display.ax_.get_xlabel() == "Number of clusters K"


def test_gap_plot_marks_the_chosen_k(pyplot, results):
    display = KSelectorDisplay.from_results(results, "gap", best_k=3)

    assert_array_equal(display.best_k_marker_.get_xdata(), [3])
    assert_array_equal(display.best_k_marker_.get_ydata(), [results["gap"][2]])
    assert_array_equal(display.best_k_line_.get_xdata(), [3, 3])
    legend_texts = [t.get_text() for t in display.ax_.get_legend().get_texts()]
    assert legend_texts == ["chosen K = 3"]


def test_nothing_is_marked_without_a_chosen_k(pyplot, results):
    display = KSelectorDisplay.from_results(results, "gap")
    assert display.best_k_marker_ is None
    assert display.best_k_line_ is None
    assert display.ax_.get_legend() is None


@pytest.mark.parametrize(
    "criterion, ylabel",
    [
        ("silhouette", "Silhouette score"),
        ("calinski_harabasz", "Calinski-Harabasz index"),
        ("davies_bouldin", "Davies-Bouldin index (lower is better)"),
    ],
)
def test_other_criteria_are_plain_curves(pyplot, results, criterion, ylabel):
    display = KSelectorDisplay.from_results(results, criterion, best_k=3)

    assert display.errorbar_ is None
    assert_array_equal(display.line_.get_ydata(), results[criterion])
    assert display.ax_.get_ylabel() == ylabel
    assert_array_equal(display.best_k_marker_.get_ydata(), [results[criterion][2]])


def test_k_axis_has_integer_ticks(pyplot, results):
    display = KSelectorDisplay.from_results(results, "gap")
    display.figure_.canvas.draw()
    ticks = display.ax_.get_xticks()
    assert_array_equal(ticks, np.round(ticks))


def test_plot_draws_on_the_given_axes_and_returns_self(pyplot, results):
    _, ax = pyplot.subplots()
    display = KSelectorDisplay(
        k_values=results["k"], scores=results["silhouette"], criterion="silhouette"
    )
    assert display.plot(ax=ax, line_kwargs={"color": "green"}) is display
    assert display.ax_ is ax and display.figure_ is ax.figure
    assert display.line_.get_color() == "green"


@pytest.mark.parametrize(
    "change, match",
    [
        ({"criterion": "elbow"}, "criterion must be one of"),
        ({"drop": "gap_se"}, "lacks the key"),
        ({"best_k": 9}, "best_k=9 is not one of the plotted K"),
        ({"criterion": "silhouette", "all_nan": "silhouette"}, "no computed value"),
        ({"short": "gap"}, "differ in length"),
    ],
)
def test_from_results_rejects_bad_input(pyplot, results, change, match):
    criterion = change.get("criterion", "gap")
    if "drop" in change:
        del results[change["drop"]]
    if "all_nan" in change:
        results[change["all_nan"]] = np.full(6, np.nan)
    if "short" in change:
        results[change["short"]] = results[change["short"]][:-1]
    with pytest.raises(ValueError, match=match):
        KSelectorDisplay.from_results(
            results, criterion, best_k=change.get("best_k", 3)
        )


class StubSelector(BaseEstimator):
    """Stands for ``KSelector``: ``fit`` sets the attributes the Display reads."""

    def __init__(self, results=None, criterion="gap", n_clusters=3):
        self.results = results
        self.criterion = criterion
        self.n_clusters = n_clusters

    def fit(self, X=None, y=None):
        self.results_ = self.results
        self.n_clusters_ = self.n_clusters
        return self


def test_from_estimator_marks_the_selector_choice(pyplot, results):
    selector = StubSelector(results, "gap", 3).fit()
    display = KSelectorDisplay.from_estimator(selector)
    assert display.criterion == "gap"
    assert display.errorbar_ is not None
    assert_array_equal(display.best_k_marker_.get_xdata(), [3])


def test_from_estimator_marks_no_k_for_another_criterion(pyplot, results):
    selector = StubSelector(results, "gap", 3).fit()
    display = KSelectorDisplay.from_estimator(selector, criterion="silhouette")
    assert_array_equal(display.line_.get_ydata(), results["silhouette"])
    assert display.best_k_marker_ is None


def test_from_estimator_refuses_an_unfitted_selector(pyplot):
    with pytest.raises(NotFittedError):
        KSelectorDisplay.from_estimator(StubSelector())


@pytest.mark.parametrize("criterion", ["gap", "silhouette"])
def test_from_a_fitted_kselector(pyplot, income_age, criterion):
    X, _ = income_age
    X = StandardScaler().fit_transform(X)
    selector = KSelector(
        k_range=range(1, 6), criterion=criterion, n_refs=5, random_state=0
    ).fit(X)
    display = KSelectorDisplay.from_estimator(selector)

    results = selector.results_
    assert_array_equal(display.line_.get_xdata(), results["k"])
    assert_array_equal(display.line_.get_ydata(), results[criterion])
    assert (display.errorbar_ is not None) == (criterion == "gap")
    assert_array_equal(display.best_k_marker_.get_xdata(), [selector.n_clusters_])


# The selection rule on the gap plot (issue 10) -------------------------------


def test_tibshirani_rule_marks_the_next_k_threshold_at_each_k(pyplot, results):
    display = KSelectorDisplay.from_results(
        results, "gap", best_k=3, rule="Tibs2001SEmax"
    )

    gap, se = results["gap"], results["gap_se"]
    assert_array_equal(display.rule_line_.get_xdata(), results["k"][:-1])
    assert_allclose(display.rule_line_.get_ydata(), gap[1:] - se[1:])
    # The chosen K is the first point on or above its marker.
    first_on_or_above = np.flatnonzero(gap[:-1] >= gap[1:] - se[1:])[0]
    assert results["k"][first_on_or_above] == 3
    legend_texts = [t.get_text() for t in display.ax_.get_legend().get_texts()]
    assert legend_texts == ["gap(K+1) − s(K+1)", "chosen K = 3"]


def test_tibshirani_threshold_scales_with_se_factor(pyplot, results):
    display = KSelectorDisplay.from_results(
        results, "gap", rule="Tibs2001SEmax", se_factor=2.0
    )
    assert_allclose(
        display.rule_line_.get_ydata(),
        results["gap"][1:] - 2.0 * results["gap_se"][1:],
    )
    assert display.rule_line_.get_label() == "gap(K+1) − 2·s(K+1)"


@pytest.mark.parametrize(
    "rule, top", [("firstSEmax", 1), ("globalSEmax", 3)], ids=["first", "global"]
)
def test_se_max_rules_draw_the_threshold_of_their_maximum(pyplot, results, rule, top):
    # first local maximum at K=2, global maximum at K=4
    results["gap"] = np.array([0.2, 0.5, 0.45, 0.9, 0.8, 0.7])
    display = KSelectorDisplay.from_results(results, "gap", rule=rule)

    threshold = results["gap"][top] - results["gap_se"][top]
    assert_array_equal(display.rule_line_.get_xdata(), [1, results["k"][top]])
    assert_allclose(display.rule_line_.get_ydata(), [threshold, threshold])


@pytest.mark.parametrize(
    "criterion, rule",
    [("gap", None), ("gap", "firstmax"), ("gap", "globalmax"), ("silhouette", None)],
)
def test_no_threshold_without_an_se_rule(pyplot, results, criterion, rule):
    display = KSelectorDisplay.from_results(results, criterion, rule=rule)
    assert display.rule_line_ is None


def test_from_a_fitted_kselector_draws_its_rule(pyplot, income_age):
    X, _ = income_age
    X = StandardScaler().fit_transform(X)
    selector = KSelector(
        k_range=range(1, 6),
        n_refs=5,
        rule="firstSEmax",
        se_factor=0.5,
        random_state=0,
    ).fit(X)
    display = KSelectorDisplay.from_estimator(selector)

    gap, se = selector.results_["gap"], selector.results_["gap_se"]
    top = max_se(gap, se, method="firstmax")
    assert_allclose(display.rule_line_.get_ydata(), gap[top] - 0.5 * se[top])
    # K is the first point on or above the line, as the rule says.
    chosen = np.flatnonzero(gap[: top + 1] >= gap[top] - 0.5 * se[top])[0]
    assert selector.results_["k"][chosen] == selector.n_clusters_


def test_davies_bouldin_is_drawn_as_the_index_and_says_lower_is_better(pyplot, results):
    # Its scorer negates it; the plot does not, and the label says which way.
    display = KSelectorDisplay.from_results(results, "davies_bouldin", best_k=3)
    assert_array_equal(display.line_.get_ydata(), results["davies_bouldin"])
    assert (display.line_.get_ydata()[1:] > 0).all()
    assert "lower is better" in display.ax_.get_ylabel()


@pytest.mark.parametrize("criterion, best_k", [("silhouette", 3), ("gap", 1)])
def test_chosen_k_star_is_not_clipped_in_a_small_panel(
    pyplot, results, criterion, best_k
):
    # The silhouette's best value is the top of the curve; K=1 is the left end.
    fig, axes = pyplot.subplots(2, 2, figsize=(8, 5), layout="constrained")
    display = KSelectorDisplay.from_results(
        results, criterion, best_k=best_k, ax=axes[0, 0]
    )
    fig.canvas.draw()
    star = display.best_k_marker_
    x, y = display.ax_.transData.transform((star.get_xdata()[0], star.get_ydata()[0]))
    half_size = star.get_markersize() / 2 * fig.dpi / 72
    box = display.ax_.bbox
    assert box.x0 <= x - half_size and x + half_size <= box.x1
    assert box.y0 <= y - half_size and y + half_size <= box.y1


# The chosen K is marked at its K, not its position (issue 9) -----------------


@pytest.fixture
def results_from_k3():
    """Results of k_range=range(3, 9): positions and K values differ."""
    return {
        "k": np.arange(3, 9),
        "gap": np.array([0.2, 0.4, 0.9, 0.6, 0.5, 0.3]),
        "gap_se": np.array([0.01, 0.02, 0.03, 0.04, 0.05, 0.06]),
        "calinski_harabasz": np.array([80.0, 95.0, 150.0, 120.0, 110.0, 90.0]),
    }


def assert_marks_k(display, k, score):
    assert_array_equal(display.best_k_marker_.get_xdata(), [k])
    assert_array_equal(display.best_k_marker_.get_ydata(), [score])
    assert_array_equal(display.best_k_line_.get_xdata(), [k, k])


@pytest.mark.parametrize("best_k", [3, 5, 8])
def test_chosen_k_is_marked_at_its_k_when_k_does_not_start_at_one(
    pyplot, results_from_k3, best_k
):
    display = KSelectorDisplay.from_results(results_from_k3, "gap", best_k=best_k)
    assert_marks_k(display, best_k, results_from_k3["gap"][best_k - 3])

    selector = StubSelector(results_from_k3, "gap", best_k).fit()
    display = KSelectorDisplay.from_estimator(selector)
    assert_marks_k(display, best_k, results_from_k3["gap"][best_k - 3])


def test_chosen_k_of_a_kselector_from_k_three_is_marked_at_its_k(pyplot):
    X, _ = make_income_age_clusters(60, 5, random_state=10)
    X = StandardScaler().fit_transform(X)
    selector = KSelector(
        LloydKMeans(n_init=2),
        k_range=range(3, 9),
        criterion="calinski_harabasz",
        random_state=0,
    ).fit(X)
    display = KSelectorDisplay.from_estimator(selector)
    chosen = selector.n_clusters_
    position = list(selector.results_["k"]).index(chosen)
    assert_marks_k(display, chosen, selector.results_["calinski_harabasz"][position])


# Stability panel -------------------------------------------------------------


def test_a_bootstrapped_selector_gets_a_bar_per_k_beside_its_curve(pyplot):
    X = np.random.RandomState(0).normal(size=(40, 2)) + [[0, 0], [6, 0]] * 20
    selector = KSelector(
        LloydKMeans(n_init=2),
        k_range=range(1, 5),
        n_refs=3,
        n_bootstrap=3,
        random_state=0,
    ).fit(X)
    display = KSelectorDisplay.from_estimator(selector)
    frequencies = selector.k_frequencies_["gap"]
    heights = [bar.get_height() for bar in display.stability_bars_]
    assert_allclose(heights, frequencies)
    assert_array_equal(
        [bar.get_x() + 0.35 for bar in display.stability_bars_], [1, 2, 3, 4]
    )
    # beside the curve, on the same figure
    assert display.stability_ax_ is not display.ax_
    assert display.stability_ax_.figure is display.figure_
    chosen = list(selector.results_["k"]).index(selector.n_clusters_)
    red = display.stability_bars_[chosen].get_facecolor()
    assert all(
        bar.get_facecolor() != red
        for i, bar in enumerate(display.stability_bars_)
        if i != chosen
    )


def test_no_stability_panel_without_bootstrap(pyplot, income_age):
    X = StandardScaler().fit_transform(income_age[0])
    selector = KSelector(k_range=range(1, 4), n_refs=3, random_state=0).fit(X)
    display = KSelectorDisplay.from_estimator(selector)
    assert display.k_frequencies is None and not hasattr(display, "stability_ax_")
    with pytest.raises(ValueError, match="n_bootstrap > 0"):
        display.plot_stability()


def test_stability_needs_one_frequency_per_k(pyplot):
    display = KSelectorDisplay(
        k_values=np.array([1, 2, 3]), scores=np.zeros(3), k_frequencies=[0.5, 0.5]
    )
    with pytest.raises(ValueError, match="one value per K"):
        display.plot_stability()


def test_prediction_strength_plot_has_error_bars_of_its_se(pyplot):
    results = {
        "k": np.array([1, 2, 3]),
        "prediction_strength": np.array([1.0, 0.9, 0.5]),
        "prediction_strength_se": np.array([0.0, 0.02, 0.05]),
    }
    display = KSelectorDisplay.from_results(results, "prediction_strength", best_k=2)
    assert display.errorbar_ is not None
    assert display.ax_.get_ylabel() == "Prediction strength"
