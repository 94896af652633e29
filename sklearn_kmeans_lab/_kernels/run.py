"""A whole Lloyd run in one compiled call, for dense data on one thread.

The in-memory run of ``_lloyd_run`` (``LloydRun`` driven by
``_lloyd_iterations.lloyd_iterations``) costs a Python round trip per
iteration, larger than the arithmetic of a pass on small data.  ``lloyd_run``
makes the same calls to the same kernels in the same order, and reproduces
numpy's own arithmetic where the Python run uses numpy: the centres' squared
norms are numpy's ``einsum`` arithmetic (reproduced where this numpy is seen
to add that way at import, for float64 and float32 apart, else einsum itself,
called back in object mode), and ``ndarray.sum`` is numpy's pairwise summation
(``numpy_sum``).  A run allocates its scratch buffers once (``RunBuffers``),
not once per iteration.  The labels, centres, inertia and number of
iterations are therefore bit for bit those of the Python run.

A run that meets an empty cluster stops and says so: relocation is the
Python run's (it then runs from the start).
"""

import math
from collections import namedtuple

import numba
import numpy as np

from sklearn_kmeans_lab._kernels.batched_pass import (
    ConvertedProducts,
    RunBounds,
    batched_pass,
    cumulative_threshold,
    scan_limits,
)
from sklearn_kmeans_lab._kernels.common import numpy_sum
from sklearn_kmeans_lab._kernels.lloyd import (
    CenterTerms,
    PassOptions,
    add_gap_drops,
    average_in_place,
    center_shifts,
    copy_totals,
    dense_inertia,
    pass_buffers,
    reduce_and_add,
    reduce_partials,
)
from sklearn_kmeans_lab._kernels.row_dots import IN_PLACE_MAX_CLUSTERS

# Up to this many features, ``einsum("ij,ij->i")`` is computed here, as
# numpy computes it: each square in a vector lane of its own (one lane per
# feature: numpy's SIMD lanes hold at least 2 values), then lanes and zero
# padding added, which no order of addition changes for two terms.
MAX_COMPILED_NORM_FEATURES = 2
# Above it, the norms are numpy's einsum arithmetic reproduced (see
# ``_einsum_lanes``) where this numpy is seen to compute them that way: its
# sum of products runs on vectors of this many bytes, two doubles or four
# floats.
EINSUM_VECTOR_BYTES = 16


def _einsum_lanes_reference(centers):
    """``einsum("ij,ij->i")`` of ``centers`` (k, d) as numpy's contiguous sum
    of products computes it on SIMD vectors of ``EINSUM_VECTOR_BYTES`` (two
    doubles, four floats) without a fused multiply-add: feature ``f`` in
    lane ``f % n_lanes``; each block of four vectors of features added last
    to first, then vectors of the rest in order (zero-padded); the lanes
    added pairwise at the end (``(l0 + l1) + (l2 + l3)``).  numpy operations
    in the centres' dtype, one rounding each."""
    k, d = centers.shape
    n_lanes = EINSUM_VECTOR_BYTES // centers.itemsize
    lanes = np.zeros((k, n_lanes), dtype=centers.dtype)
    f = 0
    while d - f >= 4 * n_lanes:
        for block in (3, 2, 1, 0):
            v = centers[:, f + n_lanes * block : f + n_lanes * (block + 1)]
            lanes = v * v + lanes
        f += 4 * n_lanes
    while f < d:
        v = np.zeros((k, n_lanes), dtype=centers.dtype)
        m = min(n_lanes, d - f)
        v[:, :m] = centers[:, f : f + m]
        lanes = v * v + lanes
        f += n_lanes
    while lanes.shape[1] > 1:
        lanes = lanes[:, 0::2] + lanes[:, 1::2]
    return lanes[:, 0]


def _numpy_einsum_is_lanes(dtype):
    """Whether this numpy's ``einsum("ij,ij->i")`` of ``dtype`` is
    ``_einsum_lanes_reference`` on probe data (1 to 40 features, magnitudes
    over many orders): else, as on platforms whose SIMD fuses the
    multiply-add or has other vectors, the compiled run calls numpy's einsum
    back."""
    rng = np.random.RandomState(0)
    for n_features in range(1, 41):
        probe = rng.standard_normal((64, n_features)) * np.logspace(-3, 3, 64)[:, None]
        probe = probe.astype(dtype)
        expected = np.einsum("ij,ij->i", probe, probe)
        if not np.array_equal(_einsum_lanes_reference(probe), expected):
            return False
    return True


# The dtypes whose centre norms a compiled run computes itself
# (``RunSettings.compiled_einsum``).
COMPILED_EINSUM_DTYPES = frozenset(
    np.dtype(t) for t in (np.float64, np.float32) if _numpy_einsum_is_lanes(t)
)

RunSettings = namedtuple(
    "RunSettings",
    [
        "max_iter",
        "tol",
        "use_bounds",
        "use_gemm",
        "chunk",
        "noise_coef",
        "refresh",
        "final_pass",
        "keep_norms",
        "in_place",
        "compiled_einsum",
        "mixed_noise_coef",
    ],
    defaults=(False, False, 0.0),
)
RunSettings.__doc__ = """What a compiled run needs besides its buffers.

max_iter : int
tol : float, the absolute tolerance on the squared centre shift
use_bounds : bool, keep gap bounds between passes
use_gemm : bool, distances by a GEMM
chunk : int, rows per batch of a pass (``BATCH_ROWS``)
noise_coef : float, rounding noise of a distance per unit of norm
refresh : int, passes between two recomputations of the totals from scratch
final_pass : bool, relabel against the final centres and compute the inertia
keep_norms : bool, keep the rows' squared norms between passes (8 bytes a
    row: ``RunBounds.sq_norms``), where the run has bounds and a GEMM
in_place : bool, the passes compute their rows' products in place
    (``row_dots.in_place_dots``, which also sums the rows' norms as it
    reads them: once, in the first pass, where ``keep_norms``; in every
    pass otherwise) at up to
    ``IN_PLACE_MAX_CLUSTERS`` centres, not by a copy and a GEMM (the same
    labels)
compiled_einsum : bool, the centres' squared norms computed here as numpy's
    einsum computes them (where this numpy is seen to, for X's dtype:
    ``COMPILED_EINSUM_DTYPES``); numpy's own, called back, if False (the
    default)
mixed_noise_coef : float, float32's ``noise_coef`` for float64 rows and
    centres rounded to float32, where the passes may take float32 products
    (``ConvertedProducts``: float64 X, a GEMM, not in place); 0 where they
    may not (the default)
"""

# The passes of a run's first phase, until a pass moves fewer than this share
# of the labels, take float32 products where the run allows them
# (``RunSettings.mixed_noise_coef``) and has at least MIXED_MIN_CLUSTERS
# centres: sgemm runs at twice dgemm's rate, and the labels are the same
# (``nearest_two_converted``).  Their gap bounds lose float32's noise, which
# costs little while most labels move (the bounds then spare few rows) but
# would keep the bounds from sparing most rows late in a run: after the
# first pass that moves fewer labels, every pass takes float64 products
# (a float32 gap cannot say what a float64 one would spare, so the switch
# is on the labels that move).  Below that many centres the product is too
# thin for sgemm to gain on the rounding of the rows to float32 (none at 10
# centres and 64 features).
MIXED_MIN_CLUSTERS = 32
MIXED_MAX_MOVED_SHARE = 0.01


@numba.njit(nogil=True, cache=True)
def _einsum_lanes(centers, out):
    """``out = _einsum_lanes_reference(centers)`` (k,), compiled: the same
    additions in the same order and dtype, each rounded (no fused
    multiply-add)."""
    n_features = centers.shape[1]
    n_lanes = EINSUM_VECTOR_BYTES // centers.itemsize
    lanes = np.zeros(n_lanes, dtype=centers.dtype)
    zero = lanes[0]  # the zero padding of a partial vector
    for j in range(centers.shape[0]):
        lanes[:] = 0
        f = 0
        while n_features - f >= 4 * n_lanes:
            for block in range(3, -1, -1):
                for lane in range(n_lanes):
                    a = centers[j, f + n_lanes * block + lane]
                    lanes[lane] = a * a + lanes[lane]
            f += 4 * n_lanes
        while f < n_features:
            for lane in range(n_lanes):
                a = centers[j, f + lane] if f + lane < n_features else zero
                lanes[lane] = a * a + lanes[lane]
            f += n_lanes
        width = n_lanes
        while width > 1:  # pairwise, in place: lane i reads 2i and 2i + 1
            width //= 2
            for lane in range(width):
                lanes[lane] = lanes[2 * lane] + lanes[2 * lane + 1]
        out[j] = lanes[0]


@numba.njit(cache=True)  # object mode inside: holds the GIL
def squared_norms(centers, out, compiled_einsum=False):
    """``out = einsum("ij,ij->i", centers, centers)`` (k,), bit for bit: the
    squares and their sum for at most ``MAX_COMPILED_NORM_FEATURES``
    features; numpy's arithmetic reproduced where ``compiled_einsum``
    (``COMPILED_EINSUM_DTYPES``); numpy's own (called back) otherwise."""
    n_features = centers.shape[1]
    if n_features <= MAX_COMPILED_NORM_FEATURES:
        for j in range(centers.shape[0]):
            sq = centers[j, 0] * centers[j, 0]
            if n_features == 2:
                sq = sq + centers[j, 1] * centers[j, 1]
            out[j] = sq
        return
    if compiled_einsum:
        _einsum_lanes(centers, out)
        return
    with numba.objmode():
        np.einsum("ij,ij->i", centers, centers, out=out)


RunBuffers = namedtuple(
    "RunBuffers",
    [
        "c_sqnorm",
        "minus_2",
        "new_sums",
        "new_weights",
        "centers_new",
        "shifts",
        "gaps",
        "limit",
        "sq_norms",
        "pass_",
        "minus_2_32",
        "rows32",
        "dots32",
    ],
)
RunBuffers.__doc__ = """The scratch buffers of a compiled run (``run_buffers``),
allocated once per run instead of once per iteration."""


@numba.njit(nogil=True, cache=True)
def run_buffers(samples, centers, s):
    """``RunBuffers`` of a run over ``samples`` (``DenseRows``) from
    ``centers`` (k, d) with ``RunSettings`` ``s``."""
    n_clusters, n_features = centers.shape
    mixed = takes_converted(s, n_clusters)
    return RunBuffers(
        np.empty(n_clusters, dtype=centers.dtype),
        np.empty_like(centers),
        np.empty((n_clusters, n_features)),
        np.empty(n_clusters),
        np.empty_like(centers),
        np.empty(n_clusters, dtype=centers.dtype),
        # the cumulative gap bounds (``_kernels/batched_pass.py``); the first
        # pass writes every row before any is read
        np.empty(samples.X.shape[0] if s.use_bounds else 1, dtype=np.float32),
        np.empty(n_clusters, dtype=np.float32),
        # the rows' squared norms, kept by the first pass for the GEMM's
        # copies (``RunBounds``)
        np.empty(
            samples.X.shape[0] if s.keep_norms and s.use_bounds and s.use_gemm else 0,
            dtype=np.float64,
        ),
        pass_buffers(samples.X, n_clusters, s.chunk),
        # the float32 products' buffers (``ConvertedProducts``), where taken
        np.empty((n_clusters, n_features) if mixed else (0, 0), dtype=np.float32),
        np.empty((s.chunk, n_features) if mixed else (0, 0), dtype=np.float32),
        np.empty(n_clusters * s.chunk if mixed else 0, dtype=np.float32),
    )


@numba.njit(nogil=True, cache=True)
def takes_converted(s, n_clusters):
    """Whether a run with ``RunSettings`` ``s`` and ``n_clusters`` centres
    may take float32 products (``MIXED_MIN_CLUSTERS``)."""
    return s.mixed_noise_coef > 0.0 and s.use_gemm and n_clusters >= MIXED_MIN_CLUSTERS


@numba.njit(cache=True)  # object mode inside: holds the GIL
def _assign(
    samples,
    centers,
    labels,
    bounds,
    out,
    drop,
    totals,
    deltas,
    s,
    state,
    work,
):
    """One pass, as ``LloydRun.assign``: the labels in place, the running
    totals (from scratch when ``state[4]``).

    The gap bounds are the cumulative ones of ``batched_pass``, in
    ``work.gaps`` (read through ``work.limit``); ``drop`` is what the centres'
    moves since the start of the run take off a gap, so a pass does not
    reset it.  state : (7,) float64, the run's scalars: ``x_norm_max`` (-1
    before the first pass), ``c_norm_max``, whether the stored gaps are
    valid, passes since the last pass from scratch, whether this pass is
    from scratch, moves added to ``drop``, whether the passes may still take
    float32 products (``MIXED_MAX_MOVED_SHARE``).  work : ``RunBuffers``.
    Returns the number of labels changed.
    """
    n_clusters = centers.shape[0]
    from_scratch = state[4] != 0
    c_sqnorm, minus_2 = work.c_sqnorm, work.minus_2
    squared_norms(centers, c_sqnorm, s.compiled_einsum)
    largest = 0.0
    for j in range(n_clusters):
        largest = max(largest, float(c_sqnorm[j]))
        for f in range(centers.shape[1]):
            minus_2[j, f] = centers[j, f] * -2.0  # exact, as numpy's -2 * c
    state[1] = max(state[1], math.sqrt(largest))
    read = s.use_bounds and state[2] != 0
    if read:
        # as LloydRun.assign's, widened for the cumulative form
        threshold = cumulative_threshold(
            4.0 * (s.noise_coef * (state[0] + state[1])), drop, state[5]
        )
        scan_limits(threshold, drop, work.limit)
    gaps = RunBounds(work.gaps, drop, work.limit, read, s.use_bounds, work.sq_norms)
    in_place = s.in_place and n_clusters <= IN_PLACE_MAX_CLUSTERS
    options = PassOptions(s.use_gemm, from_scratch, False, s.chunk, in_place)
    terms = CenterTerms(centers, minus_2, c_sqnorm)
    converted = ConvertedProducts(
        state[6] != 0 and takes_converted(s, n_clusters),
        work.minus_2_32,
        work.rows32,
        work.dots32,
        2.0 * s.mixed_noise_coef,
        state[1],
    )
    batched_pass(
        samples,
        terms,
        bounds,
        labels,
        out,
        gaps,
        options,
        work.pass_,
        converted,
        0,
        len(bounds) - 1,
    )
    state[2] = 1.0 if s.use_bounds else 0.0
    sums, weights, counts = totals
    if from_scratch:
        reduce_partials(out.sums, out.wsums, out.counts, sums, weights, counts)
        state[3] = 0.0
    else:
        d_sums, d_weights, d_counts = deltas
        reduce_and_add(
            out.sums,
            out.wsums,
            out.counts,
            d_sums,
            d_weights,
            d_counts,
            sums,
            weights,
            counts,
        )
        state[3] += 1.0
    if s.use_bounds and state[0] < 0:
        state[0] = math.sqrt(out.largest_sq_norm.max())
    n_changed = out.changed.sum()
    if n_changed < MIXED_MAX_MOVED_SHARE * samples.X.shape[0]:
        state[6] = 0.0
    return n_changed


@numba.njit(cache=True)  # object mode inside: holds the GIL
def lloyd_run(samples, centers, labels, bounds, out, drop, totals, deltas, s):
    """Lloyd's iterations from ``centers``, then the final labels and inertia.

    samples : ``DenseRows``; centers : (k, d), X's dtype, overwritten with
    the final centres; labels : (n,) int32, all -1; bounds : the groups' row
    offsets; out : ``Partials``; drop : (k,) float64, the run's cumulative
    gap drops (zeroed first); totals :
    the running totals (sums (k, d) float64, weights (k,), counts (k,)
    int64); deltas : buffers of the same shapes; s : ``RunSettings``.

    Returns ``(n_iter, inertia, empty)``: ``empty`` is True when a pass left
    a cluster without weight; the run stopped there (relocation is the
    Python run's).  Without ``s.final_pass`` the labels are those of the last
    iteration and the inertia is NaN.
    """
    state = np.array([-1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 1.0])
    drop[:] = 0.0
    sums, weights, counts = totals
    work = run_buffers(samples, centers, s)
    new_sums, new_weights = work.new_sums, work.new_weights
    centers_new, shifts = work.centers_new, work.shifts
    args = (samples, centers, labels, bounds, out, drop, totals, deltas, s)
    n_iter = 0
    for i in range(s.max_iter):
        n_changed = _assign(*args, state, work)
        any_empty = copy_totals(sums, weights, counts, new_sums, new_weights)
        # the totals are refreshed from scratch every s.refresh passes
        state[4] = 1.0 if state[3] + 1 >= s.refresh else 0.0
        if any_empty:
            return i + 1, 0.0, True
        average_in_place(new_sums, new_weights)
        centers_new[:] = new_sums  # rounded to X's dtype, as astype
        if s.use_bounds:
            add_gap_drops(centers, centers_new, drop)
            state[5] += 1.0
        done = n_changed == 0
        if not done:
            center_shifts(centers, centers_new, shifts)
            done = numpy_sum(shifts * shifts) <= s.tol
        centers[:] = centers_new
        n_iter = i + 1
        if done:
            break
    if not s.final_pass:
        return n_iter, np.nan, False
    # LloydRun.finish: labels against the final centres, then their inertia
    state[4] = 0.0
    _assign(*args, state, work)
    dense_inertia(samples, centers, labels, bounds, out.inertia, 0, len(bounds) - 1)
    return n_iter, numpy_sum(out.inertia), False
