"""The benchmark cases: data sets, cluster counts and explicit initial centres.

Data is generated once by the parent process and saved as ``.npy`` files, so
every worker subprocess clusters exactly the same bytes.  Generators are
imported lazily: a worker that only loads a file never imports scikit-learn
before the implementation it times does.
"""

import os
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Case:
    """One benchmark case.

    ``make`` returns the data; ``k`` is the number of clusters; ``dtype`` the
    dtype the data is clustered in.  ``iters``, where set, are the two
    ``max_iter`` values whose time difference gives the time per iteration
    for this case (otherwise the run's common pair).
    """

    name: str
    kind: str
    n_samples: int
    n_features: int
    k: int
    dtype: str
    iters: tuple | None = None

    @property
    def hard(self):
        """Whether the case belongs to issue 12's independent "hard regime"."""
        return self.kind == "hard-blobs"

    @property
    def nbytes(self):
        return self.n_samples * self.n_features * np.dtype(self.dtype).itemsize

    def make(self):
        if self.kind == "income-age":
            from sklearn_kmeans_lab import make_income_age_clusters

            X, _ = make_income_age_clusters(
                self.n_samples, self.k, shuffle=True, random_state=0
            )
        elif self.kind == "digits":
            from sklearn.datasets import load_digits

            X = load_digits().data
        elif self.kind == "blobs":
            from sklearn.datasets import make_blobs

            # cluster_std=6 with make_blobs' default centre box (-10, 10):
            # the clusters overlap, so runs need many iterations and labels
            # keep changing, as on real data.
            X, _ = make_blobs(
                self.n_samples,
                self.n_features,
                centers=self.k,
                cluster_std=6.0,
                random_state=0,
            )
        elif self.kind == "hard-blobs":
            from sklearn.datasets import make_blobs

            # Issue 12's independent harness: cluster_std = 4 sqrt(d / 2)
            # grows with d as the distance between centres drawn uniformly
            # in [-10, 10]^d does, so the blobs overlap heavily in every
            # dimension and most labels still move after a few iterations.
            X, _ = make_blobs(
                self.n_samples,
                self.n_features,
                centers=self.k,
                cluster_std=4.0 * np.sqrt(self.n_features / 2.0),
                center_box=(-10.0, 10.0),
                random_state=0,
            )
        else:  # pragma: no cover - the table below is the only source
            raise ValueError(f"unknown case kind {self.kind!r}")
        X = np.ascontiguousarray(X, dtype=self.dtype)
        assert X.shape == (self.n_samples, self.n_features), (X.shape, self)
        return X

    def init(self, X):
        """The explicit initial centres shared by every implementation.

        Distinct random rows (not k-means++): far from a solution, so the
        fixed-iteration runs are full Lloyd iterations with labels moving.
        """
        rows = np.random.RandomState(1).choice(len(X), self.k, replace=False)
        return np.array(X[np.sort(rows)])


FULL_CASES = [
    Case("income-age", "income-age", 100_000, 2, 5, "float64"),
    Case("digits", "digits", 1_797, 64, 10, "float64"),
    Case("blobs-1e6x10", "blobs", 1_000_000, 10, 8, "float64"),
    Case("blobs-1e5x50", "blobs", 100_000, 50, 100, "float64"),
    Case("blobs-2e5x100-f32", "blobs", 200_000, 100, 256, "float32"),
]

# Issue 12's "hard regime": overlapping blobs, time per iteration as the
# slope between max_iter 3 and 13 from the same random rows.
HARD_ITERS = (3, 13)
HARD_CASES = [
    Case("hard-1e5x2", "hard-blobs", 100_000, 2, 5, "float64", HARD_ITERS),
    Case("hard-1e6x10", "hard-blobs", 1_000_000, 10, 8, "float64", HARD_ITERS),
    Case("hard-1e5x50", "hard-blobs", 100_000, 50, 100, "float64", HARD_ITERS),
    Case("hard-2e5x100-f32", "hard-blobs", 200_000, 100, 256, "float32", HARD_ITERS),
]
FULL_CASES += HARD_CASES

# The same shapes, smaller, so that make bench-quick stays within a few minutes.
QUICK_CASES = [
    Case("income-age", "income-age", 100_000, 2, 5, "float64"),
    Case("digits", "digits", 1_797, 64, 10, "float64"),
    Case("blobs-1e5x10", "blobs", 100_000, 10, 8, "float64"),
    Case("blobs-1e4x50", "blobs", 10_000, 50, 50, "float64"),
    Case("blobs-1e4x100-f32", "blobs", 10_000, 100, 64, "float32"),
    # the hard regime at the same d and k, fewer rows
    Case("hard-1e5x2", "hard-blobs", 100_000, 2, 5, "float64", HARD_ITERS),
    Case("hard-1e5x10", "hard-blobs", 100_000, 10, 8, "float64", HARD_ITERS),
    Case("hard-1e4x50", "hard-blobs", 10_000, 50, 100, "float64", HARD_ITERS),
    Case("hard-2e4x100-f32", "hard-blobs", 20_000, 100, 256, "float32", HARD_ITERS),
]


def data_path(directory, case):
    return os.path.join(directory, f"{case.name}.npy")


def prepare(directory, cases):
    """Write each case's data and initial centres once; reuse existing files."""
    os.makedirs(directory, exist_ok=True)
    for case in cases:
        path = data_path(directory, case)
        if not os.path.exists(path):
            X = case.make()
            np.save(path + ".tmp.npy", X)
            os.replace(path + ".tmp.npy", path)
        init_path = path[: -len(".npy")] + ".init.npy"
        if not os.path.exists(init_path):
            np.save(init_path, case.init(np.load(path, mmap_mode="r")))


def load(directory, case):
    path = data_path(directory, case)
    X = np.load(path)
    init = np.load(path[: -len(".npy")] + ".init.npy")
    return X, init
