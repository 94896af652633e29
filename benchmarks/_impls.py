"""Adapters: one K-Means implementation each, behind the same three calls.

``load()`` imports the library (timed by the worker as the import cost),
``fit_fixed`` runs Lloyd iterations from explicit centres with no tolerance
(``tol=0``, so only ``max_iter`` or strict convergence stops it) and
``fit_default`` is what a user gets from the defaults.  Both return the
final centres; the harness recomputes the inertia itself, in float64.
"""

import importlib.util

import numpy as np


class Implementation:
    name = ""
    module = ""

    def available(self):
        return importlib.util.find_spec(self.module) is not None

    def load(self, n_threads):
        """Import the library; ``n_threads`` is 1 or None (library default)."""
        raise NotImplementedError

    def fit_fixed(self, X, init, max_iter):
        """Return (centres, iterations run) after ``max_iter`` iterations."""
        raise NotImplementedError

    def fit_default(self, X, k, seed, n_init=None):
        """Return the centres of a default fit (k-means++ where offered);
        ``n_init``, where given, is the number of starts."""
        raise NotImplementedError


class _SklearnLike(Implementation):
    """Anything with scikit-learn's ``KMeans`` constructor."""

    extra = {}

    def fit_fixed(self, X, init, max_iter):
        km = self.cls(
            len(init), init=init, n_init=1, max_iter=max_iter, tol=0, **self.extra
        ).fit(X)
        return km.cluster_centers_, km.n_iter_

    def fit_default(self, X, k, seed, n_init=None):
        extra = dict(self.extra) if n_init is None else dict(self.extra, n_init=n_init)
        return self.cls(k, random_state=seed, **extra).fit(X).cluster_centers_


class Lab(_SklearnLike):
    name = "lab"
    module = "sklearn_kmeans_lab"

    def load(self, n_threads):
        from sklearn_kmeans_lab import LloydKMeans

        self.cls = LloydKMeans


class SklearnLloyd(_SklearnLike):
    name = "sklearn-lloyd"
    module = "sklearn"
    extra = {"algorithm": "lloyd"}

    def load(self, n_threads):
        from sklearn.cluster import KMeans

        self.cls = KMeans


class SklearnElkan(SklearnLloyd):
    name = "sklearn-elkan"
    extra = {"algorithm": "elkan"}


class Sklearnex(_SklearnLike):
    name = "sklearnex"
    module = "sklearnex"
    extra = {"algorithm": "lloyd"}

    def load(self, n_threads):
        from sklearnex.cluster import KMeans

        if n_threads is not None:
            # oneDAL threads through TBB, which OMP_NUM_THREADS does not reach
            import daal4py

            daal4py.daalinit(n_threads)
        self.cls = KMeans


class Faiss(Implementation):
    """faiss-cpu's ``Kmeans``: float32 only, so float64 data is converted
    inside the timed fit (a user has to do the same)."""

    name = "faiss"
    module = "faiss"

    def load(self, n_threads):
        import faiss

        if n_threads is not None:
            faiss.omp_set_num_threads(n_threads)
        self.faiss = faiss

    def _kmeans(self, X, k, **params):
        X32 = np.ascontiguousarray(X, dtype=np.float32)
        return X32, self.faiss.Kmeans(X.shape[1], k, **params)

    def fit_fixed(self, X, init, max_iter):
        # faiss subsamples 256 points per centroid by default: lift that so
        # every iteration visits all the data, like the others.
        X32, km = self._kmeans(
            X, len(init), niter=max_iter, max_points_per_centroid=len(X) + 1
        )
        km.train(X32, init_centroids=np.ascontiguousarray(init, dtype=np.float32))
        return km.centroids, max_iter

    def fit_default(self, X, k, seed, n_init=None):
        X32, km = self._kmeans(X, k, seed=seed, nredo=n_init or 1)
        km.train(X32)
        return km.centroids


IMPLEMENTATIONS = {
    impl.name: impl
    for impl in (Lab(), SklearnLloyd(), SklearnElkan(), Sklearnex(), Faiss())
}
