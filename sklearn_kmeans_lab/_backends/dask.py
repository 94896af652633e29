"""``LloydKMeans`` on dask arrays: the data stays on the workers, centres travel.

``LloydKMeans`` reaches this backend for a dask array (see ``backend_for``);
the estimator keeps every rule, this module does what touches the data.
Every pass over the data is one *map* over the row blocks, each block handled
by the in-memory kernels, and one deterministic *tree reduction* of the small
per-block results (``dask_blocks.py``); only ``n_clusters x n_features``
numbers come back to the client per iteration.

* Validation is one pass: finiteness, the mean (the fit centres the data, as
  the in-memory estimator does) and the variance that scales ``tol``, plus the
  checks of ``sample_weight``.  The array is never pulled to the client.
* Each Lloyd iteration submits a graph of constant size: the labels of the
  previous pass (needed for strict convergence) stay persisted on the workers
  and the centres are a small literal, so the graph does not grow with the
  iteration count.
* The seeding (k-means|| for ``init="k-means++"``, weighted rows for
  ``init="random"``) is ``dask_seeding.py``: the result depends on the
  chunking, never on the scheduler, the worker count or timing.

This module is imported only for a dask collection, so it imports dask
freely; importing the package never imports it.
"""

import dask.array as da
import numpy as np
from sklearn.utils.validation import validate_data

from sklearn_kmeans_lab._assignment import centring_offset, prediction_offset
from sklearn_kmeans_lab._backends import (
    RunResult,
    check_weight_counts,
    is_dask_collection,
)
from sklearn_kmeans_lab._backends.dask_blocks import (
    Blocks,
    check_numpy_block,
    concat_parts,
    farthest_block,
    inertia_block,
    lloyd_block,
    merge_moments,
    moments_block,
    partition_block,
    predict_block,
    sum_parts,
    transform_block,
)
from sklearn_kmeans_lab._backends.dask_seeding import (
    distance_scale,
    kmeans_parallel,
    random_rows,
)
from sklearn_kmeans_lab._kernels.lloyd import add_gap_drops
from sklearn_kmeans_lab._lloyd_iterations import (
    RefreshSchedule,
    lloyd_iterations,
    relocate_empty_clusters,
)
from sklearn_kmeans_lab._seeding import weight_exponent

# --------------------------------------------------------------------------
# Validation


def _check_dask_array(estimator, X, *, reset):
    """Check a dask array's type, shape and dtype from its metadata only."""
    name = type(estimator).__name__
    if not isinstance(X, da.Array):
        raise TypeError(
            f"{name} accepts dask arrays (dask.array.Array) among dask "
            f"collections; got {type(X).__name__}.  Convert a dask DataFrame "
            "with .to_dask_array(lengths=True)."
        )
    # The per-block kernels need NumPy blocks; a block's type is known from
    # the array's meta (a block that lies about it is caught on the workers).
    check_numpy_block(X._meta, name)
    if X.ndim != 2:
        raise ValueError(
            f"Expected a 2-D dask array, got a {X.ndim}-D one with shape "
            f"{X.shape}.  Reshape your data with X.reshape(-1, 1) if it has a "
            "single feature or X.reshape(1, -1) if it contains a single sample."
        )
    if any(np.isnan(size) for size in X.chunks[0]):
        raise ValueError(
            "X has unknown chunk sizes along the rows; call "
            "X.compute_chunk_sizes() (or to_dask_array(lengths=True)) first."
        )
    if X.dtype.kind == "c":
        raise ValueError(f"Complex data not supported; X has dtype {X.dtype}.")
    if X.dtype.kind not in "biuf":
        raise ValueError(
            f"X must have a numeric dtype; got a dask array of dtype {X.dtype}."
        )
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    for axis, what in ((0, "sample"), (1, "feature")):
        if X.shape[axis] == 0:
            raise ValueError(
                f"Found array with 0 {what}(s) (shape={X.shape}) while a "
                f"minimum of 1 is required by {name}."
            )
    # n_features_in_ and feature_names_in_ (a dask array has no names),
    # recorded or checked as for any input
    validate_data(estimator, X, reset=reset, skip_check_array=True)
    # Each block must hold whole rows for the per-block kernels.
    if len(X.chunks[1]) > 1:
        X = X.rechunk({1: -1})
    return X


def _check_dask_weights(sample_weight, X):
    """``sample_weight`` as a dask array chunked like X's rows, or None, and the
    exponent of the power of two it was divided by (``_scaled_dask_weights``)."""
    if sample_weight is None:
        return None, 0
    if not is_dask_collection(sample_weight):
        sample_weight = np.asarray(sample_weight)
        if sample_weight.ndim == 0:
            sample_weight = np.full(X.shape[0], sample_weight)
    if sample_weight.ndim != 1:
        raise ValueError(
            "Sample weights must be 1D array or scalar; got shape "
            f"{sample_weight.shape}."
        )
    if sample_weight.shape[0] != X.shape[0]:
        raise ValueError(
            f"sample_weight.shape == {sample_weight.shape}, expected {(X.shape[0],)}!"
        )
    if sample_weight.dtype.kind not in "biuf":
        raise ValueError(
            f"sample_weight must be numeric; got dtype {sample_weight.dtype}."
        )
    if isinstance(sample_weight, da.Array):
        if sample_weight.chunks[0] != X.chunks[0]:
            sample_weight = sample_weight.rechunk((X.chunks[0],))
    else:
        sample_weight = da.from_array(sample_weight, chunks=(X.chunks[0],))
    return _scaled_dask_weights(sample_weight.astype(np.float64), X.dtype)


def _scaled_dask_weights(sample_weight, dtype):
    """The weights divided by ``2**weight_exponent(largest)``, in ``dtype``,
    and that exponent.

    As in memory (``unit_max_weights``): weights of any scale in the float
    range give the results of weights of order one.  One pass over the
    weights (not over X) for their maximum; weights that the validation pass
    will reject (non-finite, or none positive) are left as they are.
    """
    largest = float(da.max(sample_weight).compute())
    exponent = 0
    if np.isfinite(largest) and largest > 0:
        exponent = weight_exponent(largest)
        sample_weight = da.map_blocks(np.ldexp, sample_weight, -exponent)
    return sample_weight.astype(dtype), exponent


# --------------------------------------------------------------------------
# Initialisation


# --------------------------------------------------------------------------
# Lloyd's iterations


class _Run:
    """The state of one Lloyd run over the blocks, for ``lloyd_iterations``.

    Each block's state (its labels, needed for strict convergence, the gap
    bounds that let a pass skip the samples whose label cannot change, and
    its cluster totals) stays on the workers; the centres and how far they
    moved are small literals, so each pass submits a graph of constant size.
    """

    def __init__(self, blocks, n_clusters):
        self.blocks = blocks
        self.dtype = blocks.dtype
        self.previous = [None] * len(blocks.x)
        self.gap_drop = np.zeros(n_clusters)
        # The blocks' cluster totals are running totals, refreshed from
        # scratch as often as the in-memory run's.
        self.refresh = RefreshSchedule()

    def step(self, centers, *, want_inertia):
        steps = self.blocks.map(
            lloyd_block,
            self.previous,
            centers=centers,
            gap_drop=self.gap_drop.copy(),
            mean=self.blocks.mean,
            want_inertia=want_inertia,
            from_scratch=self.refresh.due,
        )
        self.gap_drop[:] = 0.0
        self.refresh.passed(self.refresh.due)
        # The states stay on the workers for the next pass; the graph of the
        # next pass refers to them, not to how they were made.
        # Only the sums travel to the reduction (the states, three bytes a
        # sample, stay on the worker that made them).
        total = self.blocks.tree(self.blocks.items(steps, 1), sum_parts)
        self.previous, total = self.blocks.keep(steps, total)
        ((sums, weights, n_changed, inertia),) = self.blocks.fetch(total)
        return n_changed, sums, weights, bool(np.any(weights == 0)), inertia

    def relocate(self, centers, sums, weights):
        """Empty clusters take the farthest samples, as in memory.

        The ``n_empty`` farthest samples overall are among the blocks' own
        ``n_empty`` farthest, so ``relocate_empty_clusters`` run on those
        candidates alone makes the same choice as on all of X.
        """
        n_empty = int(np.count_nonzero(weights == 0))
        parts = self.blocks.map(
            farthest_block,
            self.previous,
            centers=centers,
            mean=self.blocks.mean,
            n_far=n_empty,
        )
        ((rows, w, labels),) = self.blocks.fetch(self.blocks.tree(parts, concat_parts))
        relocate_empty_clusters(rows, w, centers, sums, weights, labels)
        self.refresh.force()  # as in memory

    def moved(self, old, new):
        """Record what the move can take off the blocks' gap bounds."""
        add_gap_drops(old, new, self.gap_drop)

    def finish(self, centers):
        """Inertia and cluster sizes of the final centres."""
        self.previous = None  # release them on the workers before the last pass
        inertia, sizes, _ = self.blocks.reduce(
            inertia_block, centers=centers, mean=self.blocks.mean
        )
        return float(inertia), sizes


class FitData:
    """Validated training data on dask and the operations a fit runs on it.

    The validation is one pass: finiteness, the mean (the fit centres the
    data, as in memory) and the variance that scales ``tol``, plus the
    checks of ``sample_weight``.  The array is never pulled to the client.
    """

    def __init__(self, X, sample_weight, weight_exponent=0):
        self.X = X
        self.weight_exponent = weight_exponent
        self.n_samples = X.shape[0]
        self.blocks = Blocks(X, sample_weight)
        n, mean, m2, bad_x, bad_w, negative_w, positive_w = self.blocks.reduce(
            moments_block, combine=merge_moments
        )
        if bad_x:
            raise ValueError(
                f"Input X contains NaN or infinity ({bad_x} non-finite value(s)); "
                "LloydKMeans does not accept missing values."
            )
        if sample_weight is not None:
            if bad_w:
                raise ValueError("Input sample_weight contains NaN or infinity.")
            check_weight_counts(negative_w, positive_w)
        self.n_positive_weights = positive_w
        # rounded to a coarse grid as in memory: exact ties stay exact
        self.offset = centring_offset(mean, np.sqrt(m2 / n)).astype(self.blocks.dtype)
        self.blocks.mean = self.offset
        self._variances = m2 / n
        overflowed = ~np.isfinite(self._variances)
        if overflowed.any():
            self._variances[overflowed] = self._scaled_variances()[overflowed]

    def feature_variances(self):
        return self._variances

    def _scaled_variances(self):
        """The variances of X computed on X scaled by a power of two (a pass
        for the largest value, one for the variances), then scaled back:
        where the sums of squares overflowed, an infinite variance made the
        tolerance infinite, and a fit stopped after its first iteration (as
        in memory: ``memory._finite_variances``).  Only the overflowed ones
        are replaced, so elsewhere the tolerance stays scikit-learn's."""
        X = self.blocks.arrays[0]
        exponent = int(np.frexp(float(abs(X).max().compute()))[1])
        scaled = X.astype(np.float64) * 2.0**-exponent
        with np.errstate(over="ignore"):
            return np.ldexp(da.var(scaled, axis=0).compute(), 2 * exponent)

    def largest_row_norm(self):
        """``max ||x - offset||`` over the rows, in float64 (one pass)."""
        rows = self.blocks.arrays[0].astype(np.float64) - self.offset
        return float(da.sqrt((rows**2).sum(axis=1).max()).compute())

    def seed(self, init, n_clusters, random_state, *, max_iter, tol):
        """Centred initial centres: k-means|| for 'k-means++', weighted rows
        without replacement for 'random'.

        The runs share ``random_state``'s stream, one draw each, so the first
        run of n_init=5 is the run of n_init=1.
        """
        entropy = [int(v) for v in random_state.randint(2**31 - 1, size=4)]
        if init == "random":
            return random_rows(self.blocks, n_clusters, entropy)
        return kmeans_parallel(
            self.blocks,
            n_clusters,
            entropy,
            max_iter=max_iter,
            tol=tol,
            scale=distance_scale(self._variances),
        )

    def starts(self, init, n_clusters, random_state, n_init, *, max_iter, tol):
        """The centred initial centres of ``n_init`` starts, one after the
        other (``seed``), (n_init, k, d)."""
        return np.array(
            [
                self.seed(init, n_clusters, random_state, max_iter=max_iter, tol=tol)
                for _ in range(n_init)
            ]
        )

    def best_of_runs(self, initial_centers, *, max_iter, tol, final_pass):
        """None: each run on Dask is a distributed fit of its own, which
        ``LloydKMeans._fit``'s loop runs start by start."""
        return None

    def lloyd_run(self, centers_init, *, max_iter, tol, verbose, several_runs):
        run = _Run(self.blocks, centers_init.shape[0])
        centers = np.array(centers_init, dtype=self.blocks.dtype, order="C")
        centers, n_iter = lloyd_iterations(
            run, centers, max_iter=max_iter, tol=tol, verbose=verbose
        )
        inertia, sizes = run.finish(centers)
        return RunResult(inertia, centers, n_iter, sizes)

    def same_clustering(self, run_a, run_b):
        """Whether the labels under ``run_b``'s centres are a function of
        those under ``run_a``'s."""
        (pairs,) = self.blocks.reduce(
            partition_block,
            centers_a=run_a.centers,
            centers_b=run_b.centers,
            mean=self.blocks.mean,
        )
        return bool(np.all(np.count_nonzero(pairs, axis=1) <= 1))

    def n_distinct_clusters(self, run, labels):
        return int(np.unique(labels).size)

    def final_labels_and_inertia(self, run, centers):
        """Labels and (scaled) inertia of the returned ``centers``, computed as
        ``predict`` and ``score`` compute them (adding the offset back rounds
        the centres), so that ``labels_ == predict(X)`` as in memory.

        The labels come to the client: n_samples small ints, and a fitted
        model that holds no graph over X nor futures of a cluster, so it
        pickles small and outlives ``client.close()``.  Both passes read the
        fit's (persisted) copy of X.
        """
        labels = predict(self.blocks.arrays[0], centers).compute()
        total, _, _ = self.blocks.reduce(inertia_block, centers=centers, mean=None)
        return labels, total


# --------------------------------------------------------------------------
# The backend's operations


def check_fit_data(estimator, X, sample_weight):
    X = _check_dask_array(estimator, X, reset=True)
    return FitData(X, *_check_dask_weights(sample_weight, X))


def check_test_data(estimator, X):
    return _check_dask_array(estimator, X, reset=False)


def predict(X, centers):
    """Lazy int32 labels, centred as in memory (``assign_labels``), so as
    accurate as the fit."""
    offset = prediction_offset(centers)
    return X.map_blocks(
        predict_block, centers - offset, offset, dtype=np.int32, drop_axis=1
    )


def transform(X, centers):
    """Lazy distances to the centres."""
    return X.map_blocks(
        transform_block,
        centers,
        dtype=centers.dtype,
        chunks=(X.chunks[0], (centers.shape[0],)),
    )


def inertia(X, centers, sample_weight):
    """Weighted inertia in one pass, nothing persisted: the blocks check the
    data and the weights."""
    sample_weight, exponent = _check_dask_weights(sample_weight, X)
    # (assign_labels centres each block as predict does.)
    blocks = Blocks(X.astype(centers.dtype), sample_weight, persist=False)
    total, _, total_weight = blocks.reduce(inertia_block, centers=centers, mean=None)
    check_weight_counts(0, total_weight)
    return total, exponent
