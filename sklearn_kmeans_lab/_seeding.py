"""Initial centres: greedy k-means++ and weighted random rows.

Every weighted draw walks the samples in the canonical order of
``_canonical_order`` (an order of the rows' values, not of their positions)
with quantised masses, so the seeds are the same points whatever the order of
the rows, and a sample of integer weight ``m`` is drawn (up to a quantisation
step of 2**-61 of the total) as ``m`` repeated copies of it would be:
k-means++ honours scikit-learn's sample-weight equivalence, which
scikit-learn's own ``KMeans`` does not.

Memory: besides ``X``, a seeding keeps 6 bytes per sample (a 16-bit bucket id
and the float32 distance to the nearest chosen centre, in units of a power of
two fitted to the data), and 2 more below 2**18 samples (the compiled
seeding's coarser buckets); the distances to the candidates are reduced on
the fly, or kept where they take little memory.

Dense data are seeded by one compiled call (``_kernels/kmeans_plusplus.py``)
that makes the draws of the Python loop of ``kmeans_plusplus_centers`` (which
seeds sparse data) with the same kernels: the same seeds, bit for bit.
"""

import math
from collections import namedtuple

import numpy as np
import scipy.sparse as sp

from sklearn_kmeans_lab._canonical_order import (
    QuantisedMasses,
    canonical_order,
    sorted_csr,
)
from sklearn_kmeans_lab._kernels import kmeans_plusplus as kpp_kernels
from sklearn_kmeans_lab._kernels import seeding as kernels
from sklearn_kmeans_lab._kernels.common import (
    CHUNK_ROWS,
    GEMM_CHUNK_ROWS,
    CsrRows,
    DenseRows,
    row_sq_norms,
)
from sklearn_kmeans_lab._kernels.kmeans_plusplus import mass_scale
from sklearn_kmeans_lab._parallel import blas_single_thread

# Up to this many features the candidate trials run a compiled loop over the
# transposed chunk; above it, a GEMM (more features pay for the BLAS call
# sooner in a nearest-centre pass, see _lloyd_run, than in the trials).
_TRIALS_DIRECT_MAX_FEATURES = 16
# Candidate distances this small are kept whatever the size of X.  Kept, they
# spare the direct loop a pass over X per centre (a transpose and a distance
# per row): 10 seedings of 10^5 x 10 at K = 10 (1.6 MB kept) took 105 ms
# instead of 175 with 2**20 here, the same seeds.
_KEEP_SMALL = 2**22
# The GEMM trials' candidate distances of at most this share of X's bytes
# are kept.  Kept, they spare an exact pass over X per centre (4 bytes a row
# written per candidate, where the pass reads the whole row): a seeding took
# 0.55 to 0.87 of the time at 20 to 100 features with 5 to 7 candidates
# (kept distances of 0.07 to 0.21 of X's bytes).  The kept distances are the
# GEMM's, the pass's exact ones may differ in the last bit: no seed changed
# in the 20 seedings compared (5 data sets, 4 seeds each).
_KEEP_SHARE = 1 / 4
# The direct loop's (up to 16 features), beyond ``_KEEP_SMALL``: there a
# row's kept distances are a large share of its bytes (16 to 20 of 80 at 10
# float64 features and K = 8 to 20), so a quarter would keep them at every
# size: 16 to 20 MB more per seeding in flight at 10^6 x 10, against the
# peak-memory target of ``KSelector``.
_KEEP_SHARE_DIRECT = 1 / 16
# The GEMM trials' ||x||^2 are summed once for every centre (the same values)
# where they take at most this share of X's bytes: summed again for each
# centre they cost about as much as the GEMM (a seeding of k = 256 at
# 2 x 10^4 x 100 float32 took 0.8 s instead of 1.0).
_KEEP_SQ_NORMS_SHARE = 1 / 16
# Dense k-means++ is one compiled call (``_kernels/kmeans_plusplus.py``, the
# same seeds; switched off only to test that it changes nothing).
_USE_COMPILED_SEEDING = True


def _rows(X, indices, x_offset):
    if sp.issparse(X):
        return X[indices].toarray()
    rows = np.array(X[indices])
    return rows if x_offset is None else rows - x_offset


def weight_exponent(largest):
    """The exponent ``e`` such that weights divided by ``2**e`` have their
    largest in [0.5, 1); 0 when the largest is already of moderate size
    (2**-64 to 2**64), so that no subnormal weight loses its bits for nothing.
    """
    exponent = math.frexp(largest)[1] if largest > 0 else 0
    return 0 if -64 <= exponent <= 64 else exponent


def unit_max_weights(sample_weight):
    """Float64 weights divided by ``2**weight_exponent(largest)``, and ``e``.

    Exact (a power of two), and it changes no draw (masses are quantised
    relative to their total); it keeps every sum of weights, masses and
    potentials in range whatever the scale of the weights, from subnormal to
    near overflow.
    """
    w = np.asarray(sample_weight, dtype=np.float64)
    exponent = weight_exponent(float(w.max())) if w.size else 0
    return np.ldexp(w, -exponent), exponent


def _weights(X, sample_weight):
    """The weights in float64, scaled to a largest near 1 (or a placeholder),
    whether weighted, and their total."""
    if sample_weight is None:
        return np.ones(1), False, float(X.shape[0])
    w = unit_max_weights(sample_weight)[0]
    return w, True, float(w.sum())


class _Setup:
    """What a k-means++ seeding of ``X`` works with, before any draw: the
    samples as the kernels read them, the weights, and the trials' options."""

    def __init__(self, X, n_clusters, sample_weight, order, n_local_trials, x_offset):
        n_samples, n_features = X.shape
        if n_local_trials is None:
            n_local_trials = 2 + int(np.log(n_clusters))
        self.n_local_trials = n_local_trials
        self.order = canonical_order(X) if order is None else order
        self.sparse = sparse = sp.issparse(X)
        self.w, self.weighted, self.total_weight = _weights(X, sample_weight)
        offset = np.zeros(n_features, dtype=X.dtype) if x_offset is None else x_offset
        self.offset = np.ascontiguousarray(offset, dtype=X.dtype)
        self.use_gemm = use_gemm = (
            not sparse and n_features > _TRIALS_DIRECT_MAX_FEATURES
        )
        if sparse:
            X = sorted_csr(X)
            self.samples = CsrRows(X.data, X.indices, X.indptr, self.w, self.weighted)
        else:
            self.samples = DenseRows(X, self.offset, self.w, self.weighted)
        self.X = X
        # Keeping each candidate's distances spares a pass over X per centre;
        # only where they take little memory next to X (``_KEEP_SHARE``,
        # ``_KEEP_SHARE_DIRECT``), or little memory at all for the direct loop
        # (whose kept distances are exactly those the pass would recompute:
        # the same seeds either way).
        keep_bytes = 4 * n_local_trials * n_samples
        share = _KEEP_SHARE if use_gemm else _KEEP_SHARE_DIRECT
        keep_cand_dist = not sparse and (
            keep_bytes <= X.nbytes * share
            or (not use_gemm and keep_bytes <= _KEEP_SMALL)
        )
        cand_dist = np.empty(
            (n_local_trials, n_samples) if keep_cand_dist else (1, 1), np.float32
        )
        keep_sq_norms = use_gemm and (
            keep_cand_dist or 8 * n_samples <= X.nbytes * _KEEP_SQ_NORMS_SHARE
        )
        x_sq_all = np.empty(n_samples if keep_sq_norms else 0)
        if keep_sq_norms:
            row_sq_norms(X, 0, n_samples, x_sq_all)
        self.options = kernels.TrialOptions(
            use_gemm,
            GEMM_CHUNK_ROWS if use_gemm else CHUNK_ROWS,
            keep_cand_dist,
            cand_dist,
            x_sq_all,
        )
        # dense X read with an offset of its own dtype: one compiled call
        self.compiled = (
            _USE_COMPILED_SEEDING
            and not sparse
            and (x_offset is None or np.asarray(x_offset).dtype == X.dtype)
        )


CompiledSeeding = namedtuple(
    "CompiledSeeding", ["args", "n_local_trials", "options", "use_gemm"]
)
CompiledSeeding.__doc__ = """The arguments of the compiled k-means++ of dense X.

``_kernels.kmeans_plusplus.kmeans_plusplus(*args, uniforms, n_local_trials,
options, centers, indices)``, under ``blas_single_thread(use_gemm)``; a
seeding takes ``1 + (n_clusters - 1) * n_local_trials`` uniforms.
"""


def compiled_seeding(X, n_clusters, sample_weight, order, *, x_offset=None):
    """A ``CompiledSeeding`` for k-means++ of ``X``, or None where the Python
    loop seeds (sparse ``X``, an offset of another dtype)."""
    setup = _Setup(X, n_clusters, sample_weight, order, None, x_offset)
    return _compiled(setup)


def _compiled(setup):
    if not setup.compiled:
        return None
    order = setup.order
    buckets, n_buckets = order.coarse_buckets()
    members, starts = order.coarse_members()
    return CompiledSeeding(
        (
            setup.samples,
            (order.direction, buckets, n_buckets, order.unit, members, starts),
            setup.total_weight,
        ),
        setup.n_local_trials,
        setup.options,
        setup.use_gemm,
    )


def kmeans_plusplus_centers(
    X,
    n_clusters,
    sample_weight,
    random_state,
    order,
    n_local_trials=None,
    *,
    x_offset=None,
):
    """Greedy k-means++ seeding (Arthur & Vassilvitskii, 2007), weighted.

    The first centre is a sample drawn with probability proportional to its
    weight.  Each next one is the best of ``n_local_trials`` candidates drawn
    with probability proportional to ``w_i * D(x_i)^2``, where ``D`` is the
    distance to the nearest centre chosen so far: "best" means the one that
    lowers the weighted potential the most.  Zero-weight samples are never
    drawn.  ``sample_weight`` None means unit weights; ``order`` None
    computes the canonical order; dense ``X`` is used as ``X - x_offset``
    and the centres are returned in those coordinates.

    Returns
    -------
    centers : ndarray of shape (n_clusters, n_features)
    indices : ndarray of shape (n_clusters,)
    """
    n_samples, n_features = X.shape
    setup = _Setup(X, n_clusters, sample_weight, order, n_local_trials, x_offset)
    centers = np.empty((n_clusters, n_features), dtype=X.dtype)
    indices = np.full(n_clusters, -1, dtype=int)
    compiled = _compiled(setup)
    if compiled is not None:
        # the uniforms of every draw at once: the same stream as one draw
        # at a time
        uniforms = random_state.uniform(
            size=1 + (n_clusters - 1) * compiled.n_local_trials
        )
        with blas_single_thread(compiled.use_gemm):
            kpp_kernels.kmeans_plusplus(
                *compiled.args,
                uniforms,
                compiled.n_local_trials,
                compiled.options,
                centers,
                indices,
            )
        return centers, indices

    X, order, samples, options = setup.X, setup.order, setup.samples, setup.options
    sparse, use_gemm, offset = setup.sparse, setup.use_gemm, setup.offset
    w, weighted, total_weight = setup.w, setup.weighted, setup.total_weight
    n_local_trials = setup.n_local_trials
    closest = np.empty(n_samples, dtype=np.float32)
    totals = np.zeros(order.n_buckets, dtype=np.int64)

    def closer(center, first, scale):
        """closest = min(closest, d(x, center)^2); the new masses' totals."""
        masses = kernels.Masses(w, weighted, closest, True, scale)
        closer_kernel = kernels.sparse_closer if sparse else kernels.dense_closer
        closer_kernel(
            samples,
            center[None],
            closest,
            order.unit,
            first,
            order.buckets,
            masses,
            totals,
        )

    keep_cand_dist, cand_dist = options.keep, options.cand_dist

    def trials(cands):
        potentials = np.empty(len(cands))
        if sparse:
            kernels.sparse_trials(samples, cands, closest, order.unit, potentials)
        else:
            if use_gemm:  # uncentred: the GEMM reads X in place
                cands = cands + offset
            kernels.dense_trials(
                samples, cands, closest, order.unit, options, potentials
            )
        return potentials

    indices[0] = QuantisedMasses(X, order, w, weighted, None, total_weight).draw(
        random_state.uniform()
    )[0]
    centers[0] = _rows(X, indices[[0]], x_offset)[0]
    with blas_single_thread(use_gemm):
        closer(centers[0], True, 0.0)
        # potentials in the unit of ``closest``: in range where the squared
        # distances sum past the float range, unless one of them is infinite
        potential = float(np.dot(closest, w) if weighted else closest.sum())
        if not np.isfinite(potential):
            raise ValueError(kpp_kernels.OVERFLOW_MESSAGE)
        masses = QuantisedMasses(X, order, w, weighted, closest, potential)
        for c in range(1, n_clusters):
            uniforms = random_state.uniform(size=n_local_trials)
            if masses.total == 0:
                # every sample sits on a centre: an inverse-CDF draw over zero
                # masses runs to the end, the last sample (of positive
                # weight: zero-weight samples are never drawn) in canonical order
                last = order.last(X, w > 0 if weighted else None)
                candidate_ids = np.full(n_local_trials, last)
            else:
                candidate_ids = masses.draw(uniforms)
            candidates = _rows(X, candidate_ids, x_offset).astype(X.dtype)
            potentials = trials(np.ascontiguousarray(candidates))
            best = int(np.argmin(potentials))
            potential = float(potentials[best])
            centers[c] = candidates[best]
            indices[c] = candidate_ids[best]
            # the new masses' bucket totals come with the new distances
            scale = mass_scale(potential)
            if keep_cand_dist:
                kernels.take_kept(
                    cand_dist[best],
                    closest,
                    order.buckets,
                    kernels.Masses(w, weighted, closest, True, scale),
                    totals,
                )
            else:
                closer(centers[c], False, scale)
            masses = QuantisedMasses(X, order, w, weighted, closest, potential, totals)
    return centers, indices


def random_centers(X, n_clusters, sample_weight, random_state, order, *, x_offset=None):
    """``n_clusters`` distinct samples drawn with probability proportional to weight.

    Sequential draws without replacement, each an inverse-CDF draw over the
    not-yet-drawn samples in canonical order.  Zero-weight samples are never
    drawn.  Centres are in the coordinates ``X - x_offset``.
    """
    if order is None:
        order = canonical_order(X)
    w, weighted, total = _weights(X, sample_weight)
    masses = QuantisedMasses(X, order, w, weighted, None, total)
    seeds = np.empty(n_clusters, dtype=np.intp)
    for c in range(n_clusters):
        if masses.total == 0:
            # The weights left are all below the quantisation step of the
            # first total (2**-61 of it): quantise them afresh, on their own.
            left = w.copy()
            left[seeds[:c]] = 0.0
            left = unit_max_weights(left)[0]
            masses = QuantisedMasses(X, order, left, True, None, float(left.sum()))
        seeds[c] = masses.draw(random_state.uniform())[0]
        masses.exclude(seeds[c])
    return _rows(X, seeds, x_offset)
