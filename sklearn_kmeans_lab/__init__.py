"""K-Means for scikit-learn: a fast exact Lloyd estimator and the choice of K."""

from sklearn_kmeans_lab._cluster_display import ClusterScatterDisplay
from sklearn_kmeans_lab._datasets import (
    ClusteredIncomeAgeGenerator,
    make_income_age_clusters,
)
from sklearn_kmeans_lab._gap import max_se
from sklearn_kmeans_lab._kmeans import LloydKMeans
from sklearn_kmeans_lab._kselector import KSelector
from sklearn_kmeans_lab._kselector_display import KSelectorDisplay
from sklearn_kmeans_lab._scorers import (
    calinski_harabasz_scorer,
    davies_bouldin_scorer,
    make_clustering_scorer,
    silhouette_scorer,
)
from sklearn_kmeans_lab._version import __version__

__all__ = [
    "ClusterScatterDisplay",
    "ClusteredIncomeAgeGenerator",
    "KSelector",
    "KSelectorDisplay",
    "LloydKMeans",
    "__version__",
    "calinski_harabasz_scorer",
    "davies_bouldin_scorer",
    "make_clustering_scorer",
    "make_income_age_clusters",
    "max_se",
    "silhouette_scorer",
]
