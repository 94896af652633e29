"""
===============================================================
Choosing K on the income/age data: how sure is each criterion?
===============================================================

The :ref:`walkthrough <sphx_glr_auto_examples_plot_1_income_age_walkthrough.py>`
ended with a question: five clusters were generated, the eye sees four, so
which K should K-Means use?  Here :class:`~sklearn_kmeans_lab.KSelector` asks
the gap statistic, the silhouette, the Calinski-Harabasz index and the
Davies-Bouldin index, on the same standardised data, and we compare their
curves and their answers.  The definitions are in :ref:`user_guide_choosing_k`.
"""

# %%
# The data, standardised
# ----------------------
# The same 100 people as in the walkthrough.  Every criterion is computed on
# the data the clusterer sees, so the scaling is done once, up front.
import matplotlib.pyplot as plt
import pandas as pd
from sklearn.preprocessing import StandardScaler

from sklearn_kmeans_lab import KSelector, KSelectorDisplay, make_income_age_clusters

X, y_true = make_income_age_clusters(n_samples=100, n_clusters=5, random_state=10)
X_scaled = StandardScaler().fit_transform(X)

# %%
# The gap statistic
# -----------------
# For each K from 1 to 10, :class:`~sklearn_kmeans_lab.KSelector` clusters the
# data with ``LloydKMeans(n_init=10)`` and clusters ``n_refs`` reference data
# sets drawn uniformly over the box of the data's principal axes.  The gap is
# how much tighter the data's clusters are than the references', on a log
# scale.  The Calinski-Harabasz and Davies-Bouldin indices of the same fits
# come for free and are stored in ``results_`` as well.
gap_selector = KSelector(k_range=range(1, 11), n_refs=20, random_state=0)
gap_selector.fit(X_scaled)
results = pd.DataFrame(gap_selector.results_).set_index("k")
results[["inertia", "gap", "gap_se", "calinski_harabasz", "davies_bouldin"]].round(3)

# %%
# The silhouette needs all pairwise distances, so it is only computed when it
# is the criterion.  It is undefined for a single cluster: its K starts at 2.
silhouette_selector = KSelector(
    k_range=range(2, 11), criterion="silhouette", random_state=0
).fit(X_scaled)
results["silhouette"] = pd.Series(
    silhouette_selector.results_["silhouette"], index=silhouette_selector.results_["k"]
)

# %%
# What each criterion picks
# -------------------------
# The gap statistic's rule (``"Tibs2001SEmax"``, the paper's) takes the
# smallest K whose gap is within one standard error of the next K's.  The
# indices take their best value over K >= 2.
ch_k = int(results["calinski_harabasz"].idxmax())
db_k = int(results["davies_bouldin"].idxmin())
choices = pd.Series(
    {
        "gap statistic (Tibs2001SEmax)": gap_selector.n_clusters_,
        "silhouette (max)": silhouette_selector.n_clusters_,
        "Calinski-Harabasz (max)": ch_k,
        "Davies-Bouldin (min)": db_k,
    },
    name="chosen K",
)
choices

# %%
# The curves side by side
# -----------------------
# :class:`~sklearn_kmeans_lab.KSelectorDisplay` draws the gap with its
# :math:`\pm s_k` error bars and marks the selector's choice; the other panels
# plot the indices from the same ``results_``.
fig, axes = plt.subplots(2, 2, figsize=(10, 7), layout="constrained")
KSelectorDisplay.from_estimator(gap_selector, ax=axes[0, 0])
KSelectorDisplay.from_estimator(silhouette_selector, ax=axes[0, 1])
KSelectorDisplay.from_results(
    gap_selector.results_, "calinski_harabasz", best_k=ch_k, ax=axes[1, 0]
)
KSelectorDisplay.from_results(
    gap_selector.results_, "davies_bouldin", best_k=db_k, ax=axes[1, 1]
)
titles = ["gap statistic", "silhouette", "Calinski-Harabasz", "Davies-Bouldin"]
for ax, title in zip(axes.flat, titles, strict=True):
    ax.set_title(title)

# %%
# Reading the curves
# ------------------
# The three indices agree with the eye: K=4, the two middle-income clusters
# merged.  They reward clusters that are far from their nearest neighbour,
# and the two clusters that differ only by six years of age are 0.35
# standard deviations apart, much closer than any other pair.  Splitting them
# makes the clusters tighter but the nearest-neighbour separation much worse.
#
# The gap statistic answers a different question: does splitting tighten the
# clusters more than it would tighten data without any structure?  Its curve
# rises steeply up to K=4, then only a little to K=5, and stays flat.  The rule
# keeps K=4 only if ``gap(4) >= gap(5) - s_5``; printing the two sides shows
# how close the call is:
k4, k5 = results.loc[4], results.loc[5]
print(f"gap(4)       = {k4.gap:.3f}")
print(f"gap(5) - s_5 = {k5.gap:.3f} - {k5.gap_se:.3f} = {k5.gap - k5.gap_se:.3f}")
print(f"chosen K     = {gap_selector.n_clusters_}")

# %%
# The margin is a few hundredths, the size of the Monte-Carlo error itself.
#
# How sure is each criterion?
# ---------------------------
# ``choices_`` holds what every computed criterion picks from the same fits,
# and ``n_bootstrap`` repeats the whole selection (fits, fresh reference sets)
# on bootstrap resamples of the people and counts how often each K wins.  The
# prediction strength (Tibshirani and Walther, 2005) asks whether clusters
# found on half of the people predict those of the other half; it is added
# with ``extra_criteria``.  Fewer starts and reference sets keep this quick.
from sklearn_kmeans_lab import LloydKMeans

how_sure = KSelector(
    LloydKMeans(n_init=5),
    k_range=range(1, 9),
    n_refs=10,
    extra_criteria=["silhouette"],
    n_bootstrap=20,
    random_state=0,
).fit(X_scaled)
strength = KSelector(
    k_range=range(1, 9), criterion="prediction_strength", n_splits=20, random_state=0
).fit(X_scaled)
choices = {**how_sure.choices_, **strength.choices_}
frequencies = pd.DataFrame(how_sure.k_frequencies_, index=how_sure.results_["k"]).T
frequencies.columns = [f"K={k}" for k in how_sure.results_["k"]]
frequencies.insert(0, "chosen K", pd.Series(choices))
frequencies.round(2)

# %%
# The prediction strength picks the largest K whose strength exceeds 0.8:
pd.DataFrame(strength.results_).set_index("k")[
    ["prediction_strength", "prediction_strength_se"]
].round(3)

# %%
# With only the gap's reference sets resampled (the data's fits kept, no new
# fit), the rule's choice is:
pd.Series(how_sure.reference_k_frequencies_, index=how_sure.results_["k"]).round(2)

# %%
# :class:`~sklearn_kmeans_lab.KSelectorDisplay` draws the bootstrap
# frequencies beside the gap curve:
display = KSelectorDisplay.from_estimator(how_sure)
display.ax_.set_title("Gap statistic")
_ = display.stability_ax_.set_title("K chosen by the gap in 20 resamples")

# %%
# The gap's answer moves between 4 and 5 from resample to resample, while
# resampling only its reference sets hardly moves it: the doubt comes from
# the data, not from the Monte-Carlo error.  The silhouette, Davies-Bouldin
# and the prediction strength say 4 with little doubt.  (Calinski-Harabasz and
# the jump method drift to large K on resamples: repeated rows of a bootstrap
# resample form tiny tight clusters that they reward; see the user guide.)

# %%
# None of these answers is a mistake.  Five groups were generated, and the gap
# statistic, which compares with structureless data rather than with the
# nearest cluster, finds the fifth one with some seeds and not with others.  Two of the
# groups overlap so much that, for most purposes, treating them as one segment
# is reasonable, and that is what the separation-based indices say.  When the
# criteria disagree, look at the curves rather than only at their best
# values, and let the use of the clusters decide; see
# :ref:`user_guide_choosing_k` for when to trust which criterion.
#
# Finally, the selector is a clusterer: after ``fit`` it predicts with the fit
# at the chosen K.
gap_selector.predict(X_scaled[:5])
