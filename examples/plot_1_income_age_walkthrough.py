"""
========================================================
The income/age walkthrough: K=5 on data that look like 4
========================================================

This is the K-Means lesson the package grew from, replayed with
:class:`~sklearn_kmeans_lab.LloydKMeans`: generate 100 people in five
income/age clusters, scale the two features, cluster with K=5, plot the
result, and ask why the eye sees four groups where five were generated.
"""

# %%
# The data
# --------
# :func:`~sklearn_kmeans_lab.make_income_age_clusters` draws, for each of five
# clusters, an income centre uniformly between $20,000 and $200,000 and an age
# centre between 20 and 70 years, then 20 people around it with a standard
# deviation of $10,000 and 2 years.  With ``random_state=10`` these are, bit for
# bit, the data of the original lesson (which called ``np.random.seed(10)``).
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from sklearn_kmeans_lab import make_income_age_clusters

X, y_true, true_centers = make_income_age_clusters(
    n_samples=100, n_clusters=5, random_state=10, return_centers=True
)
pd.DataFrame(true_centers, columns=["income", "age"]).round(1)

# %%
# Plotted without any labels, as the lesson's author first saw them:
fig, ax = plt.subplots(figsize=(7, 4.5))
ax.scatter(X[:, 0] / 1000, X[:, 1], s=20, color="0.3")
ax.set_xlabel("income (thousand dollars per year)")
ax.set_ylabel("age (years)")
ax.set_title("100 people, five generated clusters")

# %%
# Four groups stand out: two of older people at the top (low and middling
# incomes), one of young high earners at the bottom right, and a taller one in
# the middle.  The table of centres says why the middle one is taller:
# two clusters were drawn at nearly the same income ($105,500 and $102,200,
# far closer than the $10,000 spread of each), with ages 35 and 41.  Six years
# is three age standard deviations, so the two are separable, but on a plot
# whose age axis spans fifty years they merge into one blob.
#
# Scale, then cluster with K=5
# ----------------------------
# Income is in dollars and age in years: unscaled, K-Means would only look at
# income (the :ref:`user guide <user_guide_scaling>` shows that effect).  The
# lesson standardised the features first; a pipeline does the same and also
# applies the scaling to any data passed to ``predict`` later.
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_kmeans_lab import ClusterScatterDisplay, LloydKMeans

one_run = make_pipeline(
    StandardScaler(), LloydKMeans(n_clusters=5, random_state=0)
).fit(X)
print("cluster sizes:", np.bincount(one_run[-1].labels_))
print(f"inertia (scaled units): {one_run[-1].inertia_:.2f}")

# %%
# :class:`~sklearn_kmeans_lab.ClusterScatterDisplay` draws the clusters in the
# original units; the centres found in the scaled space are mapped back through
# the scaler.
feature_names = ["income (dollars per year)", "age (years)"]
ClusterScatterDisplay.from_estimator(one_run, X, feature_names=feature_names)
plt.title("K=5, one k-means++ start")

# %%
# Five colours, four visible groups.  With the default ``n_init="auto"`` a
# k-means++ seeding runs once, and this run (``random_state=0``) ended in a
# local minimum: the two touching clusters in the middle share one centre,
# so the fifth centre splits a group that is really one (the older people
# with middling incomes).  Lloyd's algorithm only
# finds a local minimum of the inertia (see :ref:`user_guide_kmeans`); several
# starts, keeping the best, make this unlikely.
ten_runs = make_pipeline(
    StandardScaler(), LloydKMeans(n_clusters=5, n_init=10, random_state=0)
).fit(X)
print("cluster sizes:", np.bincount(ten_runs[-1].labels_))
print(f"inertia (scaled units): {ten_runs[-1].inertia_:.2f}")

ClusterScatterDisplay.from_estimator(ten_runs, X, feature_names=feature_names)
plt.title("K=5, best of ten k-means++ starts")

# %%
# The best of ten starts has a lower inertia and finds the five generated
# clusters, the two middle-income ones separated by age.  How well each
# clustering matches the generating clusters, by the adjusted Rand index
# (1 is a perfect match):
from sklearn.metrics import adjusted_rand_score

for name, model in [("one start", one_run), ("ten starts", ten_runs)]:
    print(f"{name}: {adjusted_rand_score(y_true, model[-1].labels_):.2f}")

# %%
# So was the eye wrong?
# ---------------------
# Both answers are defensible.  Five groups were generated, and in the scaled
# space, where age counts as much as income, K-Means with enough restarts
# recovers them.  But two of them are much closer to each other than to the
# rest, and a criterion that rewards well separated clusters will prefer to
# merge them.  The distances between the generating centres, in standard
# deviations of each feature, show how unequal the separations are:
from scipy.spatial.distance import pdist, squareform

scaled_centers = (true_centers - X.mean(axis=0)) / X.std(axis=0)
pd.DataFrame(squareform(pdist(scaled_centers))).round(2)

# %%
# Clusters 2 and 4 are 0.35 apart; every other pair is more than 1.1 apart.
# Which K to report is therefore a question with more than one reasonable
# answer, and the next example,
# :ref:`sphx_glr_auto_examples_plot_2_choosing_k.py`, asks it of four criteria.
