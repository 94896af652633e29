"""Lloyd's algorithm in memory: the state of one run and its iterations.

The compiled kernels are in ``_kernels/``; this module drives them.  One
*pass* over the data does the E-step (nearest centre) and the M-step
accumulation (weighted sums per cluster) at once, chunk by chunk, so no
``n_samples x n_clusters`` matrix is ever formed.

Determinism: the rows are cut into *groups* whose number depends only on the
shape of the problem; each group accumulates into its own partial buffer and
the partials are reduced in group order.  Threads only decide *who* computes
a group, never the order of the floating-point additions, so the result is
bit-for-bit the same for any thread count.  Nor does the batching of the
rows decide a label: a GEMM may round a row's distances differently with its
place in the call (with OpenBLAS: float32, the last centre of an odd k, a
call of one row), so the rows whose two nearest centres tie to within that
rounding take the label of their distances computed row by row
(``_kernels.nearest.settle_near_ties``).  A run of one compiled call, a run
a pass at a time on several threads and a Dask block batch the rows they
compute differently and still give every row the same label.

Centring: dense data is centred on the fly (``x - x_offset``, the same
rounding as centring a copy) so a fit never copies ``X``.

Gap bounds: a run keeps, per sample, a lower bound on the gap between the
distance to its second-nearest and to its nearest centre (Hamerly, 2010, in
one number).  When the centres move by ``delta``, the gap shrinks by at most
``delta[own] + max(delta[other])``; while it stays above the rounding error
of the distance computation, the sample provably keeps its label and its
distances are not computed.  The labels, sums and centres are bit-for-bit
those of a pass without bounds (``_USE_BOUNDS = False``).

The iterations themselves (stopping rules, empty clusters, verbose lines)
are ``_lloyd_iterations.lloyd_iterations``, which the Dask backend runs too,
over its own run state.
"""

import math

import numpy as np
import scipy.sparse as sp

from sklearn_kmeans_lab._kernels import lloyd as kernels
from sklearn_kmeans_lab._kernels import run as run_kernels
from sklearn_kmeans_lab._kernels.common import (
    BATCH_ROWS,
    CHUNK_ROWS,
    GEMM_CHUNK_ROWS,
    CsrRows,
    DenseRows,
)
from sklearn_kmeans_lab._kernels.nearest import CONVERSION_ROUNDINGS
from sklearn_kmeans_lab._kernels.row_dots import IN_PLACE_MAX_FEATURES
from sklearn_kmeans_lab._lloyd_iterations import (
    REFRESH_EVERY,
    RefreshSchedule,
    lloyd_iterations,
    relocate_empty_clusters,
)
from sklearn_kmeans_lab._parallel import blas_single_thread, thread_pool

# Up to this many features a compiled loop vectorised over the rows of a
# chunk finds the nearest centre faster than a GEMM (measured: d=2 and d=10,
# k=8).
_NEAREST_DIRECT_MAX_FEATURES = 8
# Groups are at least this many rows; there are at most _MAX_GROUPS of them,
# and their partial sums take at most _MAX_PARTIAL_BYTES.
_MIN_GROUP_ROWS = 4096
_MAX_GROUPS = 64
_MAX_PARTIAL_BYTES = 2 * 2**20
# Interleaved partial sums per group when k * d is small: consecutive samples
# of one cluster then add into different memory, not one dependency chain.
_LANES_MAX_KD = 512
_N_LANES = 4
# A pass is spread over threads only when it has at least this many
# multiply-adds per thread: below it, thread hand-off costs more than it saves.
_MIN_WORK_PER_THREAD = 4_000_000
# A compiled run with bounds and a GEMM keeps the rows' squared norms between
# its passes (``RunBounds.sq_norms``: the same values, the later passes copy
# rows without summing them, a sixth less time on a selection's reference
# sets at 10^5 x 10) where they take at most this many bytes: 8 bytes a row
# would add a tenth of X to a fit of 10^6 x 10 (issue 4's bound on a fit's
# extra memory is a tenth of X).  The runs of a selection keep them at any
# size (``dense_run_settings``).
_KEEP_NORMS_MAX_BYTES = 2**21
# Gap bounds on (they skip rows; switched off only to test that they change
# nothing).
_USE_BOUNDS = True
# The passes of a compiled run compute their rows' products in place
# (``_kernels/row_dots.py``, which sums the rows' norms as it reads them: in
# the first pass, the others reading them where the run keeps them; in every
# pass otherwise) where that is faster than a copy and a GEMM: a GEMM run
# (more than 8 features) of at most IN_PLACE_MAX_FEATURES features, with the
# rows hinted to the cache (``prefetch._HINT_IN_PLACE_MIN_BYTES``): a third
# less time on a selection's reference sets at 10^5 x 10, a quarter on the
# whole selection; without kept norms, a quarter less time per iteration at
# 10^6 x 10 (hard regime).  The same labels (switched off only to test that
# it changes nothing).
_IN_PLACE_DOTS = True
# The heavy passes of a compiled run over float64 X with a GEMM take float32
# products (``_kernels/run.py``, ``MIXED_MIN_CLUSTERS``): sgemm at twice
# dgemm's rate, near ties settled on the float64 rows, so the same labels
# (switched off only to test that it changes nothing).
_USE_MIXED_PRODUCTS = True
# A quiet dense run on one thread is one compiled call (``_kernels/run.py``,
# the same iterates; switched off only to test that it changes nothing).
_USE_COMPILED_RUN = True


def _group_bounds(n_samples, n_clusters, n_features, n_lanes):
    """Start offsets of the groups: a function of the problem's shape only."""
    per_group = 8 * n_lanes * n_clusters * (n_features + 1)
    cap = max(1, min(_MAX_GROUPS, _MAX_PARTIAL_BYTES // per_group))
    rows = max(_MIN_GROUP_ROWS, -(-n_samples // cap))
    return np.arange(0, n_samples + rows, rows).clip(max=n_samples)


def _n_lanes(n_clusters, n_features, sparse):
    """Interleaved partial sums per group (see ``_LANES_MAX_KD``)."""
    if not sparse and n_clusters * n_features <= _LANES_MAX_KD:
        return _N_LANES
    return 1


def _n_threads(n_threads, n_groups, work):
    """The threads a pass of ``work`` multiply-adds over ``n_groups`` groups
    is spread over (see ``_MIN_WORK_PER_THREAD``)."""
    return max(1, min(n_threads, n_groups, work // _MIN_WORK_PER_THREAD))


def _noise_coef(dtype, n_features):
    """sqrt of the rounding error of a squared distance, per unit of
    (||x|| + max ||c||)^2, with a factor 2 to spare."""
    eps = float(np.finfo(dtype).eps)
    return 2.0 * math.sqrt((n_features + 3) * eps)


def _compiles(sparse, n_threads):
    """Whether a run is one compiled call (``_kernels/run.py``): dense data
    on one thread."""
    return not sparse and n_threads == 1


def _in_place(X, use_gemm, use_bounds):
    """Whether a compiled run over dense ``X`` takes ``in_place_dots``
    (``RunSettings.in_place``; see ``_IN_PLACE_DOTS``)."""
    few_features = X.shape[1] <= IN_PLACE_MAX_FEATURES
    return bool(_IN_PLACE_DOTS and use_gemm and use_bounds and few_features)


def _mixed_noise_coef(X, use_gemm, use_bounds, in_place):
    """``RunSettings.mixed_noise_coef``: float32's noise coefficient with
    the roundings of the rows and centres to float32
    (``_kernels/nearest.py``'s ``CONVERSION_ROUNDINGS``), where a compiled run over
    ``X`` may take float32 products (float64 X, a GEMM, bounds, not in
    place; see ``_USE_MIXED_PRODUCTS``); else 0."""
    if not (
        _USE_MIXED_PRODUCTS
        and X.dtype == np.float64
        and use_gemm
        and use_bounds
        and not in_place
    ):
        return 0.0
    return _noise_coef(np.float32, X.shape[1] + CONVERSION_ROUNDINGS)


def _compiled_settings(
    X, use_bounds, use_gemm, noise_coef, max_iter, tol, final_pass, keep_norms, in_place
):
    return run_kernels.RunSettings(
        int(max_iter),
        float(tol),
        use_bounds,
        use_gemm,
        BATCH_ROWS,
        noise_coef,
        REFRESH_EVERY,
        bool(final_pass),
        bool(keep_norms),
        bool(in_place),
        X.dtype in run_kernels.COMPILED_EINSUM_DTYPES,
        _mixed_noise_coef(X, use_gemm, use_bounds, in_place),
    )


def _kernel_weights(sample_weight, dtype):
    """``(w, weighted)`` as the kernels read them: the weights in ``dtype``,
    or a placeholder when every sample weighs 1 (``sample_weight`` None)."""
    if sample_weight is None:
        return np.ones(1, dtype=dtype), False
    return np.ascontiguousarray(sample_weight, dtype=dtype), True


def dense_rows(X, sample_weight, x_offset):
    """The ``DenseRows`` of dense ``X`` read as ``X - x_offset`` (zeros if
    None), weighted by ``sample_weight`` (None: every sample weighs 1)."""
    if x_offset is None:
        x_offset = np.zeros(X.shape[1], dtype=X.dtype)
    x_offset = np.ascontiguousarray(x_offset, dtype=X.dtype)
    return DenseRows(X, x_offset, *_kernel_weights(sample_weight, X.dtype))


def compiled_layouts(X, ks, n_threads):
    """The compiled runs of dense ``X`` at every K of ``ks``, laid out as
    ``LloydRun`` lays them out: ``(ks, n_groups, lanes, bounds)`` of the Ks
    whose run is compiled (``_compiles``), ``bounds`` (len, max n_groups + 1)
    the groups' row offsets of each, padded."""
    n_samples, n_features = X.shape
    kept = []
    for k in ks:
        lanes = _n_lanes(k, n_features, False)
        bounds = _group_bounds(n_samples, k, n_features, lanes)
        n_groups = len(bounds) - 1
        threads = _n_threads(n_threads, n_groups, n_samples * k * n_features)
        if _compiles(False, threads):
            kept.append((k, n_groups, lanes, bounds))
    width = 1 + max((n_groups for _, n_groups, _, _ in kept), default=0)
    padded = np.zeros((len(kept), width), dtype=np.int64)
    for row, (_, n_groups, _, bounds) in enumerate(kept):
        padded[row, : n_groups + 1] = bounds
    return (
        np.array([k for k, _, _, _ in kept], dtype=np.int64),
        np.array([n_groups for _, n_groups, _, _ in kept], dtype=np.int64),
        np.array([lanes for _, _, lanes, _ in kept], dtype=np.int64),
        padded,
    )


def dense_run_settings(X, max_iter, tol, final_pass):
    """The ``RunSettings`` of a compiled run over dense ``X`` at K > 1, as
    ``LloydRun.compiled_settings`` gives them, except that the rows' squared
    norms are kept at any size (the runs of a selection, whose memory budget
    is twice X; see ``_KEEP_NORMS_MAX_BYTES``)."""
    use_gemm = X.shape[1] > _NEAREST_DIRECT_MAX_FEATURES
    noise_coef = _noise_coef(X.dtype, X.shape[1])
    in_place = _in_place(X, use_gemm, _USE_BOUNDS)
    return _compiled_settings(
        X, _USE_BOUNDS, use_gemm, noise_coef, max_iter, tol, final_pass, True, in_place
    )


class LloydRun:
    """Buffers and state of one run of Lloyd's algorithm over one ``X``.

    Allocated once per run, so the iterations allocate nothing per sample.
    ``sums``, ``weights`` and ``counts`` (members of positive weight) are the
    running totals per cluster of the current ``labels``.  ``step``,
    ``relocate``, ``moved`` and ``finish`` are what ``lloyd_iterations``
    asks of a run.

    Parameters
    ----------
    X : {ndarray, csr_matrix} of shape (n_samples, n_features)
    sample_weight : ndarray of shape (n_samples,) or None
    n_clusters : int
    x_offset : ndarray of shape (n_features,) or None
        Dense ``X`` is read as ``X - x_offset``.
    n_threads : int
    keep_gap_bounds : bool
        Keep per-sample gap bounds between passes (a whole run; a single
        pass has no use for them).
    """

    def __init__(
        self, X, sample_weight, n_clusters, x_offset, n_threads, keep_gap_bounds
    ):
        self.X = X
        self.dtype = X.dtype
        self.sample_weight = sample_weight
        self.sparse = sp.issparse(X)
        n_samples, n_features = X.shape
        if self.sparse:
            w, weighted = _kernel_weights(sample_weight, X.dtype)
            self.samples = CsrRows(X.data, X.indices, X.indptr, w, weighted)
            self.x_offset = np.zeros(n_features, dtype=X.dtype)
        else:
            self.samples = dense_rows(X, sample_weight, x_offset)
            self.x_offset = self.samples.x_offset
        self.use_gemm = not self.sparse and n_features > _NEAREST_DIRECT_MAX_FEATURES
        lanes = _n_lanes(n_clusters, n_features, self.sparse)
        self.bounds = _group_bounds(n_samples, n_clusters, n_features, lanes)
        n_groups = len(self.bounds) - 1
        self.partials = kernels.zero_partials(n_groups, lanes, n_clusters, n_features)
        self.sums = np.zeros((n_clusters, n_features))
        self.weights = np.zeros(n_clusters)
        self.counts = np.zeros(n_clusters, dtype=np.int64)
        self._delta = (
            np.zeros_like(self.sums),
            np.zeros_like(self.weights),
            np.zeros_like(self.counts),
        )
        self.use_bounds = (
            keep_gap_bounds and _USE_BOUNDS and not self.sparse and n_clusters > 1
        )
        self.gaps = np.zeros(n_samples if self.use_bounds else 1, dtype=np.uint16)
        self.gaps_valid = False
        self.gap_drop = np.zeros(n_clusters)
        self.x_norm_max = None
        self.c_norm_max = 0.0
        self.refresh = RefreshSchedule()
        self.labels = None
        self.noise_coef = _noise_coef(X.dtype, n_features)
        work = (
            n_samples
            * n_clusters
            * max(1, X.nnz // max(n_samples, 1) if self.sparse else n_features)
        )
        self.n_threads = _n_threads(n_threads, n_groups, work)

    def compiled_settings(self, max_iter, tol, final_pass):
        """The ``RunSettings`` of a compiled run of this state, or None where
        it cannot run (sparse data, threads)."""
        if not _compiles(self.sparse, self.n_threads):
            return None
        keep_norms = 8 * self.X.shape[0] <= _KEEP_NORMS_MAX_BYTES
        return _compiled_settings(
            self.X,
            self.use_bounds,
            self.use_gemm,
            self.noise_coef,
            max_iter,
            tol,
            final_pass,
            keep_norms,
            _in_place(self.X, self.use_gemm, self.use_bounds),
        )

    def compiled_run(self, centers, max_iter, tol, final_pass=True):
        """The whole run in one compiled call: ``(labels, inertia, centers,
        n_iter)``, or None where it cannot run (sparse data, threads, a
        cluster left empty: the Python run then starts again).  Without
        ``final_pass``, the last iteration's labels and no inertia."""
        settings = self.compiled_settings(max_iter, tol, final_pass)
        if settings is None:
            return None
        centers = centers.copy()
        labels = np.full(self.X.shape[0], -1, dtype=np.int32)
        samples, *buffers = self.run_buffers()
        n_iter, inertia, empty = run_kernels.lloyd_run(
            samples, centers, labels, *buffers, settings
        )
        if empty:
            return None
        inertia = float(inertia) if final_pass else None
        return labels, inertia, centers, int(n_iter)

    def run_buffers(self):
        """What a compiled run reads and writes besides its centres and
        labels: ``(samples, bounds, partials, gap_drop, totals, deltas)``,
        in ``lloyd_run``'s order (a compiled run keeps gap bounds of its
        own, see ``_kernels/batched_pass.py``)."""
        return (
            self.samples,
            self.bounds,
            self.partials,
            self.gap_drop,
            (self.sums, self.weights, self.counts),
            self._delta,
        )

    def blas_limit(self):
        return blas_single_thread(self.use_gemm)

    def _run(self, kernel, *args):
        """``kernel(*args, g_start, g_stop)`` over all groups, on the threads."""
        n_groups = len(self.bounds) - 1
        if self.n_threads <= 1:
            kernel(*args, 0, n_groups)
            return
        cuts = np.linspace(0, n_groups, self.n_threads + 1).astype(int)
        pool = thread_pool(self.n_threads)
        futures = [
            pool.submit(kernel, *args, cuts[t], cuts[t + 1])
            for t in range(self.n_threads)
        ]
        for future in futures:
            future.result()

    def assign(self, centers, labels, *, want_inertia=False, from_scratch=True):
        """One pass: new labels (in place) and the cluster totals; returns n_changed.

        A pass from scratch recomputes ``sums``, ``weights`` and ``counts``
        from every row; otherwise only the samples that change cluster update
        them.  Rows whose gap bound holds are skipped; ``moved(old, new)``
        must have recorded every change of the centres since the last pass.
        """
        c_sqnorm = np.einsum("ij,ij->i", centers, centers)
        terms = kernels.CenterTerms(centers, -2 * centers, c_sqnorm)
        out = self.partials
        if self.sparse:
            from_scratch = True
            self._run(
                kernels.sparse_pass,
                self.samples,
                terms,
                self.bounds,
                labels,
                out,
                want_inertia,
            )
        else:
            read_gaps = self.use_bounds and self.gaps_valid
            c_norm = math.sqrt(float(c_sqnorm.max(initial=0.0)))
            self.c_norm_max = max(self.c_norm_max, c_norm)
            threshold = 0.0
            if read_gaps:
                # A stored gap is off by at most 2 noise, and a gap must
                # exceed about 1.5 noise for the computed argmin to be right.
                noise = self.noise_coef * (self.x_norm_max + self.c_norm_max)
                threshold = 4.0 * noise
            gaps = kernels.GapBounds(
                self.gaps, self.gap_drop, threshold, read_gaps, self.use_bounds
            )
            chunk = GEMM_CHUNK_ROWS if self.use_gemm else CHUNK_ROWS
            options = kernels.PassOptions(
                self.use_gemm, from_scratch, want_inertia, chunk
            )
            self._run(
                kernels.dense_pass,
                self.samples,
                terms,
                self.bounds,
                labels,
                out,
                gaps,
                options,
            )
            self.gaps_valid = self.use_bounds
            self.gap_drop[:] = 0.0
        if from_scratch:
            kernels.reduce_partials(
                out.sums, out.wsums, out.counts, self.sums, self.weights, self.counts
            )
        else:
            kernels.reduce_and_add(
                out.sums,
                out.wsums,
                out.counts,
                *self._delta,
                self.sums,
                self.weights,
                self.counts,
            )
        self.refresh.passed(from_scratch)
        if self.use_bounds and self.x_norm_max is None:
            # the first pass computes every row: the largest ||x||, for the
            # rounding noise of every later pass
            self.x_norm_max = float(np.sqrt(out.largest_sq_norm.max()))
        return int(out.changed.sum())

    def moved(self, old, new):
        """Record that the centres moved from ``old`` to ``new``.

        Each sample's gap shrinks by at most the shift of its own centre plus
        the largest shift of another.
        """
        if self.use_bounds:
            kernels.add_gap_drops(old, new, self.gap_drop)

    def totals(self):
        """Copies of the weighted sums (float64) and weights per cluster, and
        whether a cluster has zero weight.

        A cluster without a member of positive weight gets exactly 0, what
        summing from scratch gives, whatever rounding the running totals
        carry.
        """
        sums, weights = np.empty_like(self.sums), np.empty_like(self.weights)
        any_empty = kernels.copy_totals(
            self.sums, self.weights, self.counts, sums, weights
        )
        return sums, weights, bool(any_empty)

    def inertia_of(self, centers, labels):
        """Weighted inertia of ``labels`` against ``centers``."""
        if self.sparse:
            self.assign(centers, labels.copy(), want_inertia=True)
        else:
            self._run(
                kernels.dense_inertia,
                self.samples,
                centers,
                labels,
                self.bounds,
                self.partials.inertia,
            )
        return float(self.partials.inertia.sum())

    # -- what lloyd_iterations asks of a run -----------------------------

    def step(self, centers, *, want_inertia):
        """One pass against ``centers``: ``(n_changed, sums, weights,
        any_empty, inertia)``, inertia None unless asked for."""
        if self.labels is None:
            # -1: the first pass changes every label
            self.labels = np.full(self.X.shape[0], -1, dtype=np.int32)
        n_changed = self.assign(
            centers,
            self.labels,
            want_inertia=want_inertia,
            from_scratch=self.refresh.due,
        )
        sums, weights, any_empty = self.totals()
        inertia = float(self.partials.inertia.sum()) if want_inertia else None
        return n_changed, sums, weights, any_empty, inertia

    def relocate(self, centers, sums, weights):
        """Empty clusters take the farthest samples (see
        ``relocate_empty_clusters``)."""
        relocate_empty_clusters(
            self.X,
            self.sample_weight,
            centers,
            sums,
            weights,
            self.labels,
            self.x_offset,
        )
        self.refresh.force()  # the moved samples keep their labels

    def finish(self, centers):
        """Labels equal to ``predict`` for the final centres, and their inertia.

        After strict convergence the centres are the previous ones (same
        labels, same sums), unless an empty cluster took another's centre;
        the bounds then skip every sample whose label cannot change: a cheap
        pass.
        """
        self.assign(centers, self.labels, from_scratch=False)
        return self.labels, self.inertia_of(centers, self.labels)

    def resume(self, gaps, x_norm_max, c_norm_max, gap_drop, totals=None):
        """Take up the state an earlier run over the same rows left.

        For a run that lives one pass at a time (a Dask block's): its gap
        bounds (``gaps``, ``x_norm_max``, ``c_norm_max``) as the last pass
        left them, ``gap_drop``, what the centres' moves since then can take
        off a gap (see ``moved``), and ``totals``, the ``(sums, weights,
        counts)`` of the labels it left, which a pass that is not from
        scratch updates with the samples that change cluster.  The arrays are
        copied: a caller's state may be read again (a lost worker's task
        reruns).
        """
        if totals is not None:
            self.sums[:], self.weights[:], self.counts[:] = totals
        if not self.use_bounds:
            return
        self.gaps[:] = gaps
        self.gap_drop[:] = gap_drop
        self.x_norm_max, self.c_norm_max = x_norm_max, c_norm_max
        self.gaps_valid = True


def lloyd_single_run(
    X,
    sample_weight,
    centers_init,
    *,
    max_iter,
    tol,
    verbose,
    n_threads,
    x_offset=None,
    final_pass=True,
):
    """One run of Lloyd's algorithm from ``centers_init``, in memory.

    ``lloyd_iterations`` over a ``LloydRun``; the labels are then recomputed
    against the final centres so that they equal ``predict(X)`` (scikit-learn
    skips this after strict convergence, where an empty cluster that took
    another's centre can leave them stale).

    ``sample_weight`` None means unit weights (a faster pass).  Dense ``X`` is
    used as ``X - x_offset``; ``centers_init`` and the returned centres are in
    those centred coordinates.  Without ``final_pass`` (for a caller that
    recomputes them) the labels are those of the last iteration and the
    inertia is None.

    Returns
    -------
    labels : ndarray of shape (n_samples,), dtype=int32
    inertia : float
    centers : ndarray of shape (n_clusters, n_features)
    n_iter : int
    """
    centers = np.array(centers_init, dtype=X.dtype, order="C", copy=True)
    run = LloydRun(X, sample_weight, centers.shape[0], x_offset, n_threads, True)
    if _USE_COMPILED_RUN and not verbose:
        with run.blas_limit():
            result = run.compiled_run(centers, max_iter, tol, final_pass)
        if result is not None:
            return result
        # a fresh state for the Python run
        run = LloydRun(X, sample_weight, centers.shape[0], x_offset, n_threads, True)
    with run.blas_limit():
        centers, n_iter = lloyd_iterations(
            run, centers, max_iter=max_iter, tol=tol, verbose=verbose
        )
        if final_pass:
            labels, inertia = run.finish(centers)
        else:
            labels, inertia = run.labels, None
    return labels, inertia, centers, n_iter
