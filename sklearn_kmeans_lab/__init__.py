"""K-Means for scikit-learn: a fast exact Lloyd estimator and the choice of K."""

from sklearn_kmeans_lab._datasets import (
    ClusteredIncomeAgeGenerator,
    make_income_age_clusters,
)
from sklearn_kmeans_lab._kmeans import LloydKMeans
from sklearn_kmeans_lab._plotting import ClusterScatterDisplay, KSelectorDisplay
from sklearn_kmeans_lab._version import __version__

__all__ = [
    "ClusterScatterDisplay",
    "ClusteredIncomeAgeGenerator",
    "KSelectorDisplay",
    "LloydKMeans",
    "__version__",
    "make_income_age_clusters",
]
