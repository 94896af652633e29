"""
=========================================================
Tuning K with GridSearchCV and the clustering scorers
=========================================================

A scikit-learn user's first idea for choosing K is a grid search:
``GridSearchCV(pipeline, {"kmeans__n_clusters": range(2, 11)})``.  With the
default score it returns the largest K of the grid, or one next to it.  This
example shows why, and how the shipped scorers
(:data:`~sklearn_kmeans_lab.silhouette_scorer`,
:data:`~sklearn_kmeans_lab.calinski_harabasz_scorer`,
:data:`~sklearn_kmeans_lab.davies_bouldin_scorer`) make the same search
meaningful.
"""

# %%
# A pipeline: scale, then cluster
# -------------------------------
# The income/age data of the walkthrough, 100 people in five generated
# clusters, two of which overlap.
import matplotlib.pyplot as plt
import pandas as pd
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_kmeans_lab import LloydKMeans, make_income_age_clusters

X, y_true = make_income_age_clusters(n_samples=100, n_clusters=5, random_state=10)

pipeline = Pipeline(
    [
        ("scale", StandardScaler()),
        ("kmeans", LloydKMeans(n_init=10, random_state=0)),
    ]
)
param_grid = {"kmeans__n_clusters": range(2, 11)}
cv = KFold(n_splits=3, shuffle=True, random_state=0)

# %%
# The default score picks the largest K
# -------------------------------------
# Without ``scoring``, :class:`~sklearn.model_selection.GridSearchCV` ranks
# the candidates by the pipeline's ``score`` on the held-out folds.  For
# K-Means that is minus the inertia, the sum of squared distances of the
# held-out samples to their nearest centre.
default_search = GridSearchCV(pipeline, param_grid, cv=cv).fit(X)
print("best K with the default score:", default_search.best_params_)

# %%
# More centres are always nearer: a K-Means solution with one centre more can
# put it anywhere, so the optimal inertia of the training data can only go
# down as K grows.  Held-out samples follow the same trend, up to the noise of
# the fit, so the mean held-out score climbs all the way to the end of the
# grid, where the last values of K are practically tied:
default_scores = pd.Series(
    default_search.cv_results_["mean_test_score"],
    index=pd.Index(param_grid["kmeans__n_clusters"], name="K"),
    name="mean held-out score (minus inertia)",
)
default_scores.round(3)

# %%
# A grid search over K by the default score is therefore a roundabout way of
# writing ``n_clusters=max(grid)``.  The number of clusters is not a parameter
# that more data "fits better"; it has to be chosen by a criterion that
# penalises clusters that are not distinct.
#
# The clustering scorers
# ----------------------
# The scorers rate the partition that the fitted pipeline gives to each
# held-out fold with an internal index of :mod:`sklearn.metrics`.  Because the
# estimator is a pipeline, they first pass the fold through the scaler, so the
# index is computed in the space the clusterer partitioned, not on raw
# dollars and years.  Several scorers can run in one search; ``refit`` names
# the one that picks ``best_params_``.
from sklearn_kmeans_lab import (
    calinski_harabasz_scorer,
    davies_bouldin_scorer,
    silhouette_scorer,
)

scoring = {
    "silhouette": silhouette_scorer,
    "calinski_harabasz": calinski_harabasz_scorer,
    "davies_bouldin": davies_bouldin_scorer,  # negated: greater is better
}
search = GridSearchCV(pipeline, param_grid, scoring=scoring, refit="silhouette", cv=cv)
search.fit(X)
print("best K by the silhouette:", search.best_params_)

cv_table = pd.DataFrame(
    {name: search.cv_results_[f"mean_test_{name}"] for name in scoring},
    index=pd.Index(param_grid["kmeans__n_clusters"], name="K"),
)
cv_table.round(3)

# %%
# Each criterion's best K on the held-out folds:
cv_table.idxmax().rename("best K")

# %%
# The curves, with the default score for comparison:
fig, axes = plt.subplots(2, 2, figsize=(10, 7), layout="constrained")
curves = [("minus inertia (default)", default_scores)] + [
    (name, cv_table[name]) for name in scoring
]
for ax, (name, curve) in zip(axes.flat, curves, strict=True):
    ax.plot(curve.index, curve.to_numpy(), marker="o")
    ax.axvline(curve.idxmax(), color="0.5", linestyle="--")
    # The scorer negates the Davies-Bouldin index so that greater is better.
    negated = name == "davies_bouldin"
    ax.set_title("minus " + name if negated else name)
    ax.set_xlabel("K")
    ax.set_ylabel("mean held-out score" + (" (negated index)" if negated else ""))
    ax.margins(y=0.12)

# %%
# The three indices peak at four clusters, where the two overlapping groups
# are merged, while the default score keeps climbing.  (The held-out folds
# hold 33 or 34 samples each; at large K several clusters get only one or two
# of them, which makes the indices noisy there.  Use enough data per fold.)
#
# The search refitted the pipeline at the silhouette's K on all the data, so
# it can be used directly:
search.best_estimator_.predict(X[:5])

# %%
# Notes
# -----
# - The indices need at least two clusters in every held-out fold, so K=1
#   cannot be in the grid; :class:`~sklearn_kmeans_lab.KSelector` with the gap
#   statistic is the tool that can answer "one cluster".
# - The silhouette costs O(n²) per fold.  For large folds, build a scorer on a
#   subsample with :func:`~sklearn_kmeans_lab.make_clustering_scorer`, e.g.
#   ``make_clustering_scorer(silhouette_score, sample_size=2000, random_state=0)``.
# - Cross-validation adds a useful check the single-fit criteria lack: a K
#   whose clusters hold up on held-out samples.
#   :class:`~sklearn_kmeans_lab.KSelector` fits all the data once per K and is
#   the faster choice for the gap statistic.
