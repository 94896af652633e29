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

from sklearn_kmeans_lab._kernels.common import row_key
from sklearn_kmeans_lab._kernels.seeding import (
    Masses,
    bucket_masses,
    dense_closer,
    dense_draw,
    dense_trials,
    take_kept,
)

# Quantised masses sum to less than 2**61: int64 with room to spare.
MASS_BITS = 61


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


@numba.njit(cache=True)  # object mode inside: holds the GIL
def first_potential(closest, w, weighted):
    """``float(np.dot(closest, w) if weighted else closest.sum())``: numpy's
    own summation."""
    out = np.empty(1)
    with numba.objmode():
        out[0] = float(np.dot(closest, w) if weighted else closest.sum())
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


@numba.njit(cache=True)  # object mode inside (first_potential)
def kmeans_plusplus(
    samples, order, total_weight, uniforms, n_local_trials, options, centers, indices
):
    """Greedy k-means++ seeds of dense X, as ``kmeans_plusplus_centers``.

    samples : ``DenseRows`` (X read as ``X - x_offset``); order :
    ``(direction (d,), buckets (n,) uint16, n_buckets, unit)``, buckets
    monotone in the row key; total_weight : float, the samples' total weight
    (n when unweighted); uniforms : (1 + (k - 1) * n_local_trials,) the
    uniforms of the draws, in the order the Python loop draws them;
    options : ``TrialOptions``; centers : (k, d) in X's dtype, gets the
    seeds (centred); indices : (k,) int64, gets their rows.
    """
    X, x_offset, w, weighted = samples.X, samples.x_offset, samples.w, samples.weighted
    direction, buckets, n_buckets, unit = order
    n_samples, n_features = X.shape
    n_clusters = centers.shape[0]
    no_exclusion = np.empty(0, dtype=np.int64)
    ones = np.ones(1, dtype=np.float32)
    totals = np.zeros(n_buckets, dtype=np.int64)
    pick = np.empty(n_local_trials, dtype=np.intp)

    # the first centre: drawn by weight alone
    masses = Masses(w, weighted, ones, False, mass_scale(total_weight))
    bucket_masses(buckets, masses, totals)
    values, total = draw_values(totals, uniforms[:1])
    dense_draw(
        X, direction, buckets, totals, values, masses, no_exclusion, n_samples, pick
    )
    indices[0] = pick[0]
    for f in range(n_features):
        centers[0, f] = X[pick[0], f] - x_offset[f]
    if n_clusters == 1:
        return

    closest = np.empty(n_samples, dtype=np.float32)
    masses = Masses(w, weighted, closest, True, 0.0)
    dense_closer(samples, centers[:1], closest, unit, True, buckets, masses, totals)
    potential = first_potential(closest, w, weighted) * unit
    masses = Masses(w, weighted, closest, True, mass_scale(potential / unit))
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
            dense_draw(
                X,
                direction,
                buckets,
                totals,
                values,
                masses,
                no_exclusion,
                n_samples,
                pick,
            )
        for t in range(n_local_trials):
            for f in range(n_features):
                candidates[t, f] = X[pick[t], f] - x_offset[f]
        if options.use_gemm:  # uncentred: the GEMM reads X in place
            dense_trials(
                samples, candidates + x_offset, closest, unit, options, potentials
            )
        else:
            dense_trials(samples, candidates, closest, unit, options, potentials)
        best = np.argmin(potentials)
        potential = potentials[best]
        centers[c] = candidates[best]
        indices[c] = pick[best]
        masses = Masses(w, weighted, closest, True, mass_scale(potential / unit))
        if options.keep:
            take_kept(options.cand_dist[best], closest, buckets, masses, totals)
        else:
            dense_closer(
                samples,
                centers[c : c + 1],
                closest,
                unit,
                False,
                buckets,
                masses,
                totals,
            )
