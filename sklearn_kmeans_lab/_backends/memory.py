"""The in-memory backend: numpy arrays and CSR matrices, compiled passes.

Dense data is centred on the fly on its column means (``offset``), so that
``||c||^2 - 2 <x, c>`` stays accurate for data far from 0 without a copy of X.
"""

import numpy as np
import scipy.sparse as sp
from sklearn.metrics import euclidean_distances
from sklearn.utils.extmath import row_norms
from sklearn.utils.sparsefuncs import mean_variance_axis
from sklearn.utils.validation import validate_data

from sklearn_kmeans_lab import _lloyd_run
from sklearn_kmeans_lab._assignment import assign_labels, centring_offset
from sklearn_kmeans_lab._backends import RunResult, check_weight_counts
from sklearn_kmeans_lab._canonical_order import canonical_order
from sklearn_kmeans_lab._compat import _check_sample_weight
from sklearn_kmeans_lab._kernels import starts as start_kernels
from sklearn_kmeans_lab._kernels.common import (
    column_squares,
    column_sums,
    count_distinct,
    distances,
    numpy_column_stats,
)
from sklearn_kmeans_lab._lloyd_run import LloydRun, lloyd_single_run
from sklearn_kmeans_lab._parallel import blas_single_thread, effective_n_threads
from sklearn_kmeans_lab._seeding import (
    compiled_seeding,
    kmeans_plusplus_centers,
    random_centers,
    unit_max_weights,
)

# Up to this size, the mean and variance of X are numpy's (as in scikit-learn);
# above it, compiled passes without a copy of X (np.var makes one) and faster
# on few columns.
_NUMPY_STATS_BYTES = 2**24

# Every start of a fit in one compiled call (the same runs; switched off only
# to test that it changes nothing).
_USE_COMPILED_STARTS = True

_CHECK_X = {
    "accept_sparse": "csr",
    "dtype": [np.float64, np.float32],
    "order": "C",
    "accept_large_sparse": False,
}


def check_sample_weight(sample_weight, X, *, dtype=None):
    """Validate ``sample_weight`` for ``X``: finite, non-negative, not all zero.

    Unlike scikit-learn's ``KMeans`` (which accepts negative weights and then
    fails inside numpy's sampling), negative weights are rejected up front:
    a negative mass has no meaning for a cluster mean.  Returned in ``dtype``
    (default: ``X``'s).
    """
    dtype = X.dtype if dtype is None else dtype
    sample_weight = _check_sample_weight(sample_weight, X, dtype=dtype)
    check_weight_counts(
        int(np.sum(sample_weight < 0)), int(np.count_nonzero(sample_weight > 0))
    )
    return sample_weight


def scaled_sample_weight(sample_weight, X):
    """Validated weights in ``X``'s dtype, divided by a power of two that
    brings the largest near 1 when it is far from it, and that exponent.

    Validated and scaled in float64, so weights of any scale in the float
    range (subnormal, or with a total that overflows) give the results of
    weights of order one: the centres and labels do not depend on the scale,
    and the estimator scales the inertia back.
    """
    sample_weight = check_sample_weight(sample_weight, X, dtype=np.float64)
    sample_weight, exponent = unit_max_weights(sample_weight)
    return sample_weight.astype(X.dtype, copy=False), exponent


def column_stats(X):
    """Mean (in X's dtype) and variance of each column; the variances as
    scikit-learn computes them for its tolerance.

    numpy's values up to ``_NUMPY_STATS_BYTES`` (of C-ordered X of several
    columns, computed as numpy does without np.var's copy of X: a sixth of
    its time at 1797 x 64); above it compiled passes in float64, faster on
    few columns.
    """
    if sp.issparse(X):
        means, variances = mean_variance_axis(X, axis=0)
    elif X.nbytes > _NUMPY_STATS_BYTES:
        means = np.empty(X.shape[1])
        column_sums(X, means)
        means /= X.shape[0]
        variances = np.empty(X.shape[1])
        column_squares(X, means, variances)
        variances /= X.shape[0]
    elif X.shape[1] > 1 and X.flags.c_contiguous:
        means = np.empty(X.shape[1], dtype=X.dtype)
        variances = np.empty(X.shape[1], dtype=X.dtype)
        numpy_column_stats(X, means, variances)
    else:
        means, variances = X.mean(axis=0), np.var(X, axis=0)
    return means.astype(X.dtype), _finite_variances(X, variances)


def _finite_variances(X, variances):
    """``variances`` where a column's sum of squares overflowed (``inf``)
    computed again on the column scaled by a power of two, then scaled
    back (``inf`` only where the variance itself is beyond the float range).

    An infinite variance makes the tolerance infinite, and a fit then stops
    after its first iteration: it did so on data near 2**507 (squared
    distances near 1e305, finite; their sum over the rows, not).  Elsewhere
    the values are untouched, so the tolerance stays scikit-learn's.
    """
    overflowed = np.flatnonzero(~np.isfinite(variances))
    if overflowed.size == 0:
        return variances
    variances = variances.astype(np.float64)
    for f in overflowed:
        column = X[:, [f]].toarray().ravel() if sp.issparse(X) else X[:, f]
        exponent = np.frexp(np.max(np.abs(column)))[1]
        scaled = np.ldexp(column.astype(np.float64), -exponent)
        with np.errstate(over="ignore"):
            variances[f] = np.ldexp(np.var(scaled), 2 * exponent)
    return variances


# Rows of X centred at a time by ``FitData.largest_row_norm``.
_NORM_BLOCK_ROWS = 4096


class FitData:
    """Validated training data in memory and the operations a fit runs on it."""

    # the canonical order is released after a fit's seeding (a fit seeds once)
    keeps_order = False

    def __init__(self, X, sample_weight, weight_exponent):
        self.X = X
        # None stays None: the kernels' unweighted path, and no array of ones
        self.sample_weight = sample_weight
        self.weight_exponent = weight_exponent
        self.n_samples = X.shape[0]
        self.n_positive_weights = (
            X.shape[0] if sample_weight is None else np.count_nonzero(sample_weight)
        )
        means, self._variances = column_stats(X)
        # Centring makes ||c||^2 - 2<x, c> accurate for data far from 0; the
        # mean is rounded to a coarse binary grid (``centring_offset``): as
        # accurate, and exact ties in integer data stay exact.
        self.offset = None
        if not sp.issparse(X):
            self.offset = centring_offset(means, np.sqrt(self._variances)).astype(
                X.dtype
            )
        self.n_threads = effective_n_threads()
        self._order = None

    def feature_variances(self):
        return self._variances

    def largest_row_norm(self):
        """``max ||x - offset||`` over the rows (offset 0 for sparse X), in
        float64, a block of rows at a time."""
        if self.offset is None:
            norms = row_norms(self.X.astype(np.float64))
            return float(np.max(norms, initial=0.0))
        largest = 0.0
        for start in range(0, self.n_samples, _NORM_BLOCK_ROWS):
            rows = self.X[start : start + _NORM_BLOCK_ROWS].astype(np.float64)
            rows -= self.offset
            largest = max(largest, float(np.max(row_norms(rows), initial=0.0)))
        return largest

    def canonical_order(self):
        """The rows' canonical order (the seeding's), computed once."""
        if self._order is None:
            self._order = canonical_order(self.X)
        return self._order

    def seed(self, init, n_clusters, random_state, *, max_iter, tol):
        """Centred initial centres of one start by ``init`` ('k-means++' or
        'random'), on the canonical order of the rows."""
        args = (self.X, n_clusters, self.sample_weight, random_state)
        args += (self.canonical_order(),)
        if init == "k-means++":
            return kmeans_plusplus_centers(*args, x_offset=self.offset)[0]
        return random_centers(*args, x_offset=self.offset)

    def starts(self, init, n_clusters, random_state, n_init, *, max_iter, tol):
        """The centred initial centres of ``n_init`` starts, (n_init, k, d).

        One start after the other from ``random_state``; the k-means++ seeds
        of dense data in one compiled call (the same seeds: each seeding's
        uniforms are drawn at once, which is the stream of its draws).  The
        canonical order of the rows is computed once for all the starts and
        then released (``PreparedData`` keeps it for the next fits).
        """
        seeding = None
        if init == "k-means++" and self.offset is not None and _USE_COMPILED_STARTS:
            seeding = compiled_seeding(
                self.X,
                n_clusters,
                self.sample_weight,
                self.canonical_order(),
                x_offset=self.offset,
            )
        if seeding is None:
            centers = np.array(
                [
                    self.seed(
                        init, n_clusters, random_state, max_iter=max_iter, tol=tol
                    )
                    for _ in range(n_init)
                ]
            )
        else:
            uniforms = random_state.uniform(
                size=(n_init, 1 + (n_clusters - 1) * seeding.n_local_trials)
            )
            centers = np.empty((n_init, n_clusters, self.X.shape[1]), self.X.dtype)
            with blas_single_thread(seeding.use_gemm):
                start_kernels.seed_starts(
                    (seeding.args, seeding.n_local_trials, seeding.options),
                    uniforms,
                    centers,
                )
        if not self.keeps_order:
            self._order = None
        return centers

    def best_of_runs(self, initial_centers, *, max_iter, tol, final_pass):
        """The best of the runs from ``initial_centers`` (n_init, k, d), in
        one compiled call.

        The ``RunResult`` that ``LloydKMeans._best_run``'s loop over
        ``lloyd_run`` and ``same_clustering`` keeps, bit for bit (its inertia
        None without ``final_pass``); or None where the loop runs instead:
        sparse data, threads, a run that leaves a cluster empty.
        """
        compiled = _USE_COMPILED_STARTS and _lloyd_run._USE_COMPILED_RUN
        if self.offset is None or not compiled:
            return None
        n_clusters, n_features = initial_centers.shape[1:]
        run = LloydRun(
            self.X, self.sample_weight, n_clusters, self.offset, self.n_threads, True
        )
        # the run's final pass: its labels and inertia (see lloyd_run)
        settings = run.compiled_settings(max_iter, tol, final_pass=final_pass)
        if settings is None:
            return None
        centers = np.empty((n_clusters, n_features), dtype=self.X.dtype)
        labels = np.empty(self.X.shape[0], dtype=np.int32)
        with blas_single_thread(run.use_gemm):
            n_iter, inertia, failed = start_kernels.best_of_runs(
                np.ascontiguousarray(initial_centers, dtype=self.X.dtype),
                run.run_buffers(),
                settings,
                centers,
                labels,
            )
        if failed >= 0:
            return None
        inertia = float(inertia) if final_pass else None
        return RunResult(inertia, centers, int(n_iter), labels)

    def best_inertias(self, initial_centers, ks, *, max_iter, tol):
        """The inertia of ``best_of_runs`` at every K of ``ks`` from the first
        K centres of the starts of that K, ``initial_centers[i]`` (len(ks),
        n_init, k_max, d), in one compiled call: (len(ks),), NaN at a K whose
        runs are not compiled (threads, a run that leaves a cluster empty);
        None where no run is (sparse data)."""
        compiled = _USE_COMPILED_STARTS and _lloyd_run._USE_COMPILED_RUN
        if self.offset is None or not compiled:
            return None
        layouts = _lloyd_run.compiled_layouts(self.X, ks, self.n_threads)
        settings = _lloyd_run.dense_run_settings(self.X, max_iter, tol, True)
        samples = _lloyd_run.dense_rows(self.X, self.sample_weight, self.offset)
        index = {int(k): i for i, k in enumerate(ks)}
        starts = initial_centers[[index[int(k)] for k in layouts[0]]]
        with blas_single_thread(settings.use_gemm):
            values = start_kernels.best_inertias(
                np.ascontiguousarray(starts, dtype=self.X.dtype),
                layouts,
                samples,
                settings,
            )
        inertias = np.full(len(ks), np.nan)
        for i, k in enumerate(layouts[0]):
            inertias[index[int(k)]] = values[i]
        return inertias

    def prefix(self, n_rows):
        """The first ``n_rows`` rows and weights as ``FitData``, read with
        this data's offset: their seeds and runs are in this data's centred
        coordinates.  Dense data only."""
        weights = self.sample_weight
        part = FitData(
            self.X[:n_rows],
            None if weights is None else weights[:n_rows],
            self.weight_exponent,
        )
        part.offset = self.offset
        return part

    def converged_starts(self, initial_centers, ks, *, max_iter, tol):
        """Every start of the fits at every K of ``ks`` after its own run:
        (len(ks), n_init, k_max, d), centred.

        At ``ks[i]``, the first K centres of start ``s`` are those of the run
        (``lloyd_single_run``, relocation included) from the first K centres
        of ``initial_centers[i, s]`` (len(ks), n_init, k_max, d), with
        ``max_iter`` and the absolute ``tol``; the others are copied.  Dense
        data only.  The runs are compiled calls on one thread where they can
        be (the same iterates as on any number of threads), else
        ``LloydRun``'s.
        """
        starts = np.ascontiguousarray(initial_centers, dtype=self.X.dtype)
        converged = starts.copy()
        # the runs the compiled call made (a K it does not compile, or a run
        # that empties a cluster, is LloydRun's)
        done = np.zeros(starts.shape[:2], dtype=bool)
        if _USE_COMPILED_STARTS and _lloyd_run._USE_COMPILED_RUN:
            layouts = _lloyd_run.compiled_layouts(self.X, ks, 1)
            index = {int(k): i for i, k in enumerate(ks)}
            rows = [index[int(k)] for k in layouts[0]]
            settings = _lloyd_run.dense_run_settings(self.X, max_iter, tol, False)
            samples = _lloyd_run.dense_rows(self.X, self.sample_weight, self.offset)
            out = np.empty_like(starts[rows])
            with blas_single_thread(settings.use_gemm):
                failed = start_kernels.converged_starts(
                    starts[rows], layouts, samples, settings, out
                )
            converged[rows] = out
            done[rows] = ~failed
        for i, s in np.argwhere(~done):
            k = int(ks[i])
            converged[i, s, :k] = lloyd_single_run(
                self.X,
                self.sample_weight,
                starts[i, s, :k],
                max_iter=max_iter,
                tol=tol,
                verbose=False,
                n_threads=self.n_threads,
                x_offset=self.offset,
                final_pass=False,
            )[2]
        return converged

    def lloyd_run(self, centers_init, *, max_iter, tol, verbose, several_runs):
        # Dense data's labels and inertia are recomputed from the returned
        # centres (final_labels_and_inertia); a run's own final pass is
        # needed only to compare runs.
        labels, inertia, centers, n_iter = lloyd_single_run(
            self.X,
            self.sample_weight,
            centers_init,
            max_iter=max_iter,
            tol=tol,
            verbose=verbose,
            n_threads=self.n_threads,
            x_offset=self.offset,
            final_pass=self.offset is None or several_runs,
        )
        return RunResult(inertia, centers, n_iter, labels)

    def same_clustering(self, run_a, run_b):
        """Whether the labels of ``run_b`` are a relabeling of ``run_a``'s."""
        labels_a, labels_b = run_a.kept, run_b.kept
        mapping = np.full(run_a.centers.shape[0], -1, dtype=np.int64)
        mapping[labels_a] = labels_b
        return bool(np.array_equal(mapping[labels_a], labels_b))

    def final_labels_and_inertia(self, run, centers):
        """Labels and (scaled) inertia of the returned ``centers``.

        Adding the offset back rounds dense centres: the labels and inertia
        are then those of the returned centres, computed as ``predict`` and
        ``score`` compute them, so that ``labels_ == predict(X)`` and
        ``inertia_ == -score(X)`` on any data.
        """
        if self.offset is None:
            return run.kept, run.inertia
        return assign_labels(
            self.X,
            centers,
            sample_weight=self.sample_weight,
            want_inertia=True,
            n_threads=self.n_threads,
        )

    def n_distinct_clusters(self, run, labels):
        present = np.zeros(run.centers.shape[0], dtype=np.bool_)
        return int(count_distinct(labels, present))


def check_fit_data(estimator, X, sample_weight):
    X = validate_data(estimator, X, copy=False, **_CHECK_X)  # never written to
    exponent = 0
    if sample_weight is not None:
        sample_weight, exponent = scaled_sample_weight(sample_weight, X)
    return FitData(X, sample_weight, exponent)


def check_test_data(estimator, X):
    return validate_data(estimator, X, reset=False, **_CHECK_X)


def predict(X, centers):
    X = X.astype(centers.dtype, copy=False)
    return assign_labels(X, centers, n_threads=effective_n_threads())[0]


def transform(X, centers):
    """Euclidean distance of every sample to every centre, shape (n, k).

    Computed from the differences, not from the expanded ``||x||^2 - 2<x, c>
    + ||c||^2``, so a sample sitting on a centre gets exactly 0 instead of
    the square root of a rounding error.
    """
    X = X.astype(centers.dtype, copy=False)
    if sp.issparse(X):
        return euclidean_distances(X, centers).astype(X.dtype, copy=False)
    out = np.empty((X.shape[0], centers.shape[0]), dtype=X.dtype)
    distances(X, centers, out)
    return out


def inertia(X, centers, sample_weight):
    X = X.astype(centers.dtype, copy=False)
    sample_weight, exponent = scaled_sample_weight(sample_weight, X)
    _, total = assign_labels(
        X,
        centers,
        sample_weight=sample_weight,
        want_inertia=True,
        n_threads=effective_n_threads(),
    )
    return total, exponent
