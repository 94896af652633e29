"""Greedy k-means++ on dense data in one compiled call.

The same steps as the Python loop of ``_seeding.kmeans_plusplus_centers``,
over the same kernels (``dense_draw``, ``dense_closer``, ``dense_trials``,
``take_kept``), on uniforms drawn beforehand: the seeds are bit for bit the
Python loop's.  The one value the Python loop takes from numpy, the potential
of the first centre (``np.dot`` or ``ndarray.sum``, whose summation order is
numpy's and BLAS's), is numpy's own, called back in object mode.

A draw depends only on the masses and on the (key, index) order of the
samples, not on how that order is cut into key-range buckets: any buckets
monotone in the key give the same draws.  The caller passes buckets coarse
enough that a cumulative sum over them costs little next to a pass over X.
"""

import math

import numba
import numpy as np

from sklearn_kmeans_lab._kernels.common import CHUNK_ROWS, numpy_sum, row_key, weight
from sklearn_kmeans_lab._kernels.seeding import (
    Masses,
    bucket_masses,
    dense_closer,
    dense_trials,
    direct_closer,
    direct_trials,
    grouped_draw,
    take_kept,
)

# Quantised masses sum to less than 2**61: int64 with room to spare.
MASS_BITS = 61
# Squared distances beyond the float range leave no masses to draw from (an
# infinite mass has no int64 quantisation): the seeding stops with this.
OVERFLOW_MESSAGE = (
    "The squared distances between the samples of X overflow: k-means++ cannot "
    "weigh them. Scale X down (for example with StandardScaler) before fitting."
)


@numba.njit(nogil=True, cache=True)
def mass_scale(total):
    """The power of two that quantises masses of (float) ``total``.

    A power of two, so the quantisation depends on the masses only; the total
    is taken a hair high, so that rounding cannot push the sum past
    ``2**MASS_BITS``.  A total below 2**-962 (the masses left are all
    subnormal-sized, the weights being at most 1) is quantised as if it were
    2**-962: masses that round to 0 are those of samples within 2**-1023 of a
    centre.  Called from Python too (the sparse seeding's loop).
    """
    exponent = math.frexp(total * (1 + 1e-6))[1] if total > 0 else 0
    return math.ldexp(1.0, min(MASS_BITS - exponent, 1023))


@numba.njit(cache=True)  # object mode inside (weighted): holds the GIL
def first_potential(closest, w, weighted):
    """``float(np.dot(closest, w) if weighted else closest.sum())``, numpy's
    own summation: without weights its pairwise sum, compiled
    (``numpy_sum``); with them, numpy's ``dot`` called back.

    numba compiles an object-mode block the first time a process runs it,
    not from its cache: a 0.1 to 0.3 s pause, where this runs at all (a
    first potential near a power of two, 1 in about 200 seeds of digits).
    """
    if not weighted:
        return float(numpy_sum(closest))
    out = np.empty(1)
    with numba.objmode():
        out[0] = float(np.dot(closest, w))
    return out[0]


@numba.njit(nogil=True, cache=True)
def last_positive(X, w, weighted, direction):
    """The last sample of positive weight in (key, index) order.  X : (n, d)."""
    best = -1
    best_key = -np.inf
    for i in range(X.shape[0]):
        if weighted and not w[i] > 0:
            continue
        key = row_key(X, i, direction)
        if best < 0 or key >= best_key:
            best, best_key = i, key
    return best


@numba.njit(nogil=True, cache=True)
def draw_values(totals, uniforms):
    """``min(int(u * total), total - 1)`` for each uniform (int64), and the
    int64 ``total`` of ``totals`` (n_buckets,)."""
    total = np.int64(0)
    for b in range(len(totals)):
        total += totals[b]
    values = np.empty(len(uniforms), dtype=np.int64)
    for t in range(len(uniforms)):
        values[t] = min(np.int64(uniforms[t] * float(total)), total - 1)
    return values, total


@numba.njit(nogil=True, cache=True)
def certain_mass_scale(potential, n_terms, float32_sum):
    """``mass_scale(p)`` for every sum ``p`` of the same ``n_terms``
    nonnegative terms, whatever the order of its additions, where
    ``potential`` is one such sum (in float64); 0 where they may differ.

    Any order of summation of nonnegative terms errs by at most ``n_terms``
    roundings of the total (``float32_sum``: in float32, as
    ``ndarray.sum`` of float32 ``closest``), and half a subnormal step each;
    the bound taken is four times that.  The scale is a function of the
    exponent alone, monotone in the sum: where the two ends of the interval
    give the same scale, every sum in it does.
    """
    rounding = 2.0**-24 if float32_sum else 2.0**-53
    slack = 4.0 * (n_terms + 2) * rounding
    if not slack < 0.25:
        return 0.0
    tiny = 4.0 * (n_terms + 2) * 2.0**-1074
    low = max(potential * (1.0 - slack) - tiny, 0.0)
    high = potential * (1.0 + slack) + tiny
    if not low > 0:  # mass_scale is not monotone at 0
        return 0.0
    scale = mass_scale(low)
    return scale if mass_scale(high) == scale else 0.0


@numba.njit(nogil=True, cache=True)
def _closer(samples, centers, c, closest, unit, first, masses, order, options, work):
    """``dense_closer`` of centre ``c``: vectorised over transposed chunks
    (``direct_closer``) where the trials are (few features); row by row
    where they are a GEMM (many features: a transposed copy of every chunk
    would cost more than the distances).  Bit for bit the same.  work :
    ``(totals, chunk_t, d2)``."""
    buckets = order[1]
    totals, chunk_t, d2 = work
    if options.use_gemm:
        dense_closer(
            samples, centers[c : c + 1], closest, unit, first, buckets, masses, totals
        )
    else:
        direct_closer(
            samples,
            centers[c],
            closest,
            unit,
            first,
            buckets,
            masses,
            totals,
            chunk_t,
            d2,
        )


@numba.njit(cache=True)  # object mode inside (first_potential, seldom run)
def kmeans_plusplus(
    samples, order, total_weight, uniforms, n_local_trials, options, centers, indices
):
    """Greedy k-means++ seeds of dense X, as ``kmeans_plusplus_centers``.

    samples : ``DenseRows`` (X read as ``X - x_offset``); order :
    ``(direction (d,), buckets (n,) uint16, n_buckets, unit, members (n,),
    starts (n_buckets + 1,))``, buckets monotone in the row key, members
    and starts as ``CanonicalOrder.coarse_members``; total_weight : float,
    the samples' total weight (n when unweighted); uniforms : (1 + (k - 1)
    * n_local_trials,) the uniforms of the draws, in the order the Python
    loop draws them; options : ``TrialOptions``; centers : (k, d) in X's
    dtype, gets the seeds (centred); indices : (k,) int64, gets their rows.
    """
    X, x_offset, w, weighted = samples.X, samples.x_offset, samples.w, samples.weighted
    direction, buckets, n_buckets, unit, members, starts = order
    n_samples, n_features = X.shape
    n_clusters = centers.shape[0]
    ones = np.ones(1, dtype=np.float32)
    totals = np.zeros(n_buckets, dtype=np.int64)
    pick = np.empty(n_local_trials, dtype=np.intp)
    # scratch of the chunked passes (the direct trials' chunks fix their sums)
    chunk = CHUNK_ROWS if options.use_gemm else options.chunk
    chunk_t = np.empty((n_features, chunk), dtype=X.dtype)
    d2 = np.empty(chunk)
    work = (totals, chunk_t, d2)

    # the first centre: drawn by weight alone
    masses = Masses(w, weighted, ones, False, mass_scale(total_weight))
    if weighted:
        bucket_masses(buckets, masses, totals)
    else:  # every mass is the scale: a bucket's total is its count times it
        for b in range(n_buckets):
            totals[b] = (starts[b + 1] - starts[b]) * np.int64(masses.scale)
    values, total = draw_values(totals, uniforms[:1])
    grouped_draw(X, direction, members, starts, totals, values, masses, pick)
    indices[0] = pick[0]
    for f in range(n_features):
        centers[0, f] = X[pick[0], f] - x_offset[f]
    if n_clusters == 1:
        return

    closest = np.empty(n_samples, dtype=np.float32)
    masses = Masses(w, weighted, closest, True, 0.0)
    _closer(samples, centers, 0, closest, unit, True, masses, order, options, work)
    # numpy's potential (first_potential) fixes the masses' scale by its
    # exponent alone: a sum of our own fixes it, but near a power of two
    potential = 0.0
    for i in range(n_samples):
        potential += float(closest[i]) * weight(samples, i)
    # an infinite distance (later ones are at most these: no later overflow)
    if not potential < np.inf:
        raise ValueError(OVERFLOW_MESSAGE)
    scale = certain_mass_scale(potential, n_samples, not weighted)
    if scale == 0:
        scale = mass_scale(first_potential(closest, w, weighted))
    masses = Masses(w, weighted, closest, True, scale)
    bucket_masses(buckets, masses, totals)

    candidates = np.empty((n_local_trials, n_features), dtype=X.dtype)
    potentials = np.empty(n_local_trials)
    for c in range(1, n_clusters):
        start = 1 + (c - 1) * n_local_trials
        values, total = draw_values(totals, uniforms[start : start + n_local_trials])
        if total == 0:
            # every sample sits on a centre: the draw runs to the end, the
            # last sample of positive weight in canonical order
            pick[:] = last_positive(X, w, weighted, direction)
        else:
            grouped_draw(X, direction, members, starts, totals, values, masses, pick)
        for t in range(n_local_trials):
            for f in range(n_features):
                candidates[t, f] = X[pick[t], f] - x_offset[f]
        if options.use_gemm:  # uncentred: the GEMM reads X in place
            dense_trials(
                samples, candidates + x_offset, closest, unit, options, potentials
            )
        else:
            direct_trials(
                samples, candidates, closest, unit, options, potentials, chunk_t, d2
            )
        best = np.argmin(potentials)
        potential = potentials[best]
        centers[c] = candidates[best]
        indices[c] = pick[best]
        masses = Masses(w, weighted, closest, True, mass_scale(potential))
        if options.keep:
            take_kept(options.cand_dist[best], closest, buckets, masses, totals)
        else:
            _closer(
                samples, centers, c, closest, unit, False, masses, order, options, work
            )
