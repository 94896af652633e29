"""
=====================================================
Per-sample silhouettes: which customers fit where
=====================================================

The silhouette score that :class:`~sklearn_kmeans_lab.KSelector` maximises is
a mean over the samples.  The per-sample values
(:func:`sklearn.metrics.silhouette_samples`) say more: which clusters are
tight, which are thin, and which samples sit closer to another cluster than
to their own.  This example draws them for the income/age customers at K=4
and K=5, the two answers of the :ref:`user guide <user_guide_kmeans>`'s seed
story.
"""

# %%
# The data and the two clusterings
# --------------------------------
# 100 customers in five generated groups, two of which overlap; the features
# are standardised inside a pipeline, and the silhouettes are computed in
# that scaled space, where the clusterer measured its distances.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import silhouette_samples
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_kmeans_lab import LloydKMeans, make_income_age_clusters

X, _ = make_income_age_clusters(n_samples=100, n_clusters=5, random_state=10)
fits = {}
for k in (4, 5):
    model = make_pipeline(
        StandardScaler(), LloydKMeans(n_clusters=k, n_init=10, random_state=0)
    ).fit(X)
    X_scaled = model[:-1].transform(X)
    fits[k] = (model[-1].labels_, silhouette_samples(X_scaled, model[-1].labels_))
    print(
        f"K={k}: mean silhouette {fits[k][1].mean():.3f}, "
        f"{(fits[k][1] < 0).sum()} samples below 0"
    )

# %%
# The silhouette plot
# -------------------
# Each horizontal bar is one customer, grouped by cluster and sorted within
# it; the dashed line is the mean, the score a criterion would report.  A
# cluster whose bars stay short is loose or close to another one; bars to the
# left of 0 are customers nearer to another cluster than to their own.
fig, axes = plt.subplots(2, 2, figsize=(10, 8), layout="constrained")
colours = plt.get_cmap("tab10")
for column, (k, (labels, values)) in enumerate(fits.items()):
    ax = axes[0, column]
    bottom = 0
    for cluster in range(k):
        members = np.sort(values[labels == cluster])
        rows = np.arange(bottom, bottom + members.size)
        ax.barh(rows, members, height=1.0, color=colours(cluster), edgecolor="none")
        ax.text(-0.05, bottom + members.size / 2, str(cluster), ha="right")
        bottom += members.size + 3  # a gap between clusters
    ax.axvline(values.mean(), color="black", linestyle="--", linewidth=1)
    ax.set_xlim(-0.3, 1.0)
    ax.set_yticks([])
    ax.set_xlabel("silhouette s(i)")
    ax.set_title(f"K={k}: mean silhouette {values.mean():.2f}")

    # The same customers in dollars and years; a black ring marks a
    # negative silhouette.
    ax = axes[1, column]
    ax.scatter(X[:, 0] / 1000, X[:, 1], c=labels, cmap="tab10", vmin=0, vmax=9, s=30)
    negative = values < 0
    ax.scatter(
        X[negative, 0] / 1000,
        X[negative, 1],
        s=120,
        facecolors="none",
        edgecolors="black",
        label="silhouette < 0",
    )
    ax.set_xlabel("income (thousand dollars per year)")
    ax.set_ylabel("age (years)")
    if negative.any():
        ax.legend(loc="upper right")

# %%
# At K=5 the two overlapping middle-income groups are kept apart, and theirs
# are the shortest bars: their customers are only moderately closer to their
# own group than to the other, the one next to it in income.  At K=4 they form
# one cluster whose bars are as long as the others', and the mean silhouette
# is higher, which is why the silhouette prefers four.  (The counts printed
# above say how many customers, if any, sit closer to another cluster; they
# would be ringed in black.)  The gap statistic, which asks a different
# question, prefers five (see :ref:`user_guide_which_criterion`).  Neither
# plot says which K is "right"; they show where the two answers differ: in
# the customers in the middle of the income range.
