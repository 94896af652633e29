"""Seeding on dask arrays: k-means|| and weighted random rows.

``init="k-means++"`` runs k-means|| (Bahmani et al., 2012), the scalable
form of k-means++: a few rounds, each one pass over the blocks that
oversamples points far from the candidates so far, then weighted k-means++
and Lloyd on the few hundred candidates, in memory.  ``init="random"`` draws
weighted rows without replacement in one pass.

The per-block functions (``*_block``) run on the workers; the rest drives
them through ``Blocks`` (``dask_blocks.py``).  Random draws use one
generator per block, seeded from the fit's entropy through
``np.random.SeedSequence``: the result depends on the chunking, never on
the scheduler, the worker count or timing.
"""

import math
from functools import partial

import numpy as np

from sklearn_kmeans_lab._assignment import assign_labels
from sklearn_kmeans_lab._backends.dask_blocks import (
    block_rows,
    block_weights,
    centred_copy,
    index_dtype,
    sum_parts,
)
from sklearn_kmeans_lab._canonical_order import canonical_order
from sklearn_kmeans_lab._kernels.kmeans_plusplus import OVERFLOW_MESSAGE
from sklearn_kmeans_lab._lloyd_iterations import distances_to_assigned
from sklearn_kmeans_lab._lloyd_run import lloyd_single_run
from sklearn_kmeans_lab._seeding import kmeans_plusplus_centers

# k-means|| on a uniform sample of at most SAMPLE_ROWS rows (all rows of a
# smaller X), drawn without a pass over X and kept on the workers: its rounds
# then cost a fraction of a Lloyd iteration on large data.  Each round samples
# about OVERSAMPLING * n_clusters points, and the start is the best of
# LOCAL_RUNS weighted k-means++ and Lloyd runs on the candidates.  Measured,
# not assumed (the benchmark's blobs, 2 x 10^6 x 10, k=8, in 8 blocks, eight
# seeds, final inertia after Lloyd in float64): on all rows, 3 rounds x 2k
# reached the best inertia for every seed; on a sample of 2^18 rows, 3 rounds
# x 2k left one seed of eight in a local minimum 6.9% worse, while 5 x 2k and
# 3 x 4k reached the best for every seed, 3 x 4k with the cheapest seeding
# and the fewest Lloyd iterations after it (3 to 4, against 4 to 7).  Spark's
# default is 2 rounds; Bahmani et al. use O(log cost).
#
# A cluster with a fraction p of the weight has about p * SAMPLE_ROWS rows in
# the sample and none with probability about exp(-p * SAMPLE_ROWS): one of
# under ~2e-5 of the weight (20 rows in 10^6) can be missed by the seeding,
# though Lloyd's iterations on all of X may still find it.
SAMPLE_ROWS = 2**18
OVERSAMPLING = 4
INIT_ROUNDS = 3
LOCAL_RUNS = 10
# spawn_key prefixes: every random draw has its own stream per block.
_SEED_FIRST, _SEED_RANDOM, _SEED_ROUND, _SEED_LOCAL, _SEED_SAMPLE = range(5)


# --------------------------------------------------------------------------
# On the workers: one block each


def _sample_indices(n_rows, seed, size):
    """``size`` distinct row indices of a block, uniform, in row order."""
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n_rows, size, replace=False))


def sample_rows_block(X_b, w_b, seed, size, mean):
    """``size`` rows of the block drawn uniformly without replacement, in the
    working dtype (not centred: the passes centre them as they read them)."""
    X = block_rows(X_b, mean)
    return X[_sample_indices(X.shape[0], seed, size)]


def sample_weights_block(X_b, w_b, seed, size, mean):
    """The weights of ``sample_rows_block``'s rows, times ``n_rows / size``:
    each sampled row stands for that many rows of its block."""
    indices = _sample_indices(X_b.shape[0], seed, size)
    return np.asarray(w_b)[indices] * mean.dtype.type(X_b.shape[0] / size)


def smallest_keys_block(X_b, w_b, seed, mean, m):
    """The ``m`` rows with the smallest keys ``Exp(1) / w`` in the block.

    The ``m`` smallest keys over all samples are a weighted sample without
    replacement (Efraimidis & Spirakis, 2006): the same law as ``m``
    successive draws with probability proportional to the weight.
    """
    n_rows = X_b.shape[0]
    w = block_weights(w_b, n_rows, mean.dtype)
    exp = np.random.default_rng(seed).exponential(size=n_rows)
    keys = np.full(n_rows, np.inf)
    np.divide(exp, w, out=keys, where=w > 0)
    keep = np.argpartition(keys, m - 1)[:m] if n_rows > m else np.arange(n_rows)
    keep = keep[np.isfinite(keys[keep])]
    return keys[keep], centred_copy(X_b[keep], mean)


def merge_smallest(m, *parts):
    keys = np.concatenate([p[0] for p in parts])
    rows = np.concatenate([p[1] for p in parts])
    keep = np.argsort(keys, kind="stable")[:m]
    return keys[keep], rows[keep]


def distance_scale(variances):
    """The power of two the k-means|| rounds multiply squared distances by
    before keeping them in float32 (``_update_closest``): 1 where data of
    these feature ``variances`` has squared distances well inside float32's
    range (total variance within 2**+-60), else the inverse of the total's
    power of two.  Sampling is proportional to the distances, so a power of
    two changes no draw: it only keeps them from overflowing to infinity
    (data spread beyond about 1e19) or flushing to 0 (below about 1e-19)."""
    total = float(np.sum(variances, dtype=np.float64))
    if not (0.0 < total < np.inf):
        return 1.0
    exponent = math.frexp(total)[1]
    return 1.0 if abs(exponent) <= 60 else math.ldexp(1.0, -exponent)


def _update_closest(X, mean, state, new_centers, offset, scale):
    """Distance to, and index of, the nearest candidate after adding new
    ones; the squared distances times ``scale`` (``distance_scale``)."""
    if new_centers.shape[0] == 0:
        return state
    labels, _ = assign_labels(X, new_centers, x_offset=mean)
    # Kept between rounds, so compact: float32 distances are plenty for
    # sampling probabilities, and the indices take the smallest integer type.
    d2 = distances_to_assigned(X, new_centers, labels, x_offset=mean)
    d2 = (d2 * scale).astype(np.float32)
    labels = (labels + offset).astype(index_dtype(offset + new_centers.shape[0]))
    if state is None:
        return d2, labels
    min_d2, closest = state
    closer = d2 < min_d2
    return np.where(closer, d2, min_d2), np.where(closer, labels, closest)


def kmeans_parallel_round_block(X_b, w_b, previous, seed, latest, mean, ell, scale):
    """One k-means|| round on a block: update distances, then oversample.

    ``latest`` is the previous round's ``(phi, new candidates, offset)``
    (``pick_candidates``), ``previous`` what this block's last round returned.

    A point is kept with probability ``min(1, ell * w * d^2 / phi)``, where
    ``phi`` is the cost over *all* blocks, unknown here.  With ``u`` uniform
    the draw is ``u * phi < ell * w * d^2``; since the block's own cost
    ``phi_b <= phi``, the points with ``u * phi_b < ell * w * d^2`` are a
    superset of the kept ones (about ``ell`` of them).  They stay on the
    worker with their ratio ``u / (w * d^2)`` until ``phi`` is known (a node
    of the same graph): ``pick_candidates`` keeps those with
    ``ratio < ell / phi``.
    """
    _, new_centers, offset = latest
    X = block_rows(X_b, mean)
    w = block_weights(w_b, X.shape[0], X.dtype)
    state = None if previous is None else previous[0]
    state = _update_closest(X, mean, state, new_centers, offset, scale)
    potential = w.astype(np.float64) * state[0]
    phi = float(potential.sum())
    u = np.random.default_rng(seed).random(X.shape[0])
    superset = u * phi < ell * potential
    ratio = u[superset] / potential[superset]
    return state, (phi, ratio, centred_copy(X[superset], mean))


def pick_candidates(ell, latest, *round_results):
    """The round's new candidates, from every block's superset.

    ``phi``, the total cost, is the sum of the blocks' own; the kept points
    are those with ``ratio < ell / phi`` (see ``kmeans_parallel_round_block``).
    The supersets hold about ``ell`` rows per block, so one task reads them
    all.  Returns ``(phi, rows, offset)``, ``offset`` the index of the first
    of ``rows`` among all candidates (those before: ``latest``'s and earlier).
    """
    offset = latest[2] + latest[1].shape[0]
    samples = [result[1] for result in round_results]
    phi = sum(sample[0] for sample in samples)
    rows = np.concatenate([sample[2] for sample in samples])
    if phi == 0:  # every sample sits on a candidate: nothing left to sample
        return phi, rows[:0], offset
    ratio = np.concatenate([sample[1] for sample in samples])
    return phi, rows[ratio < ell / phi], offset


def first_candidate(drawn):
    """The first centre, ``(keys, rows)`` as drawn, in ``pick_candidates``'s
    form: the rounds read it as they read a round's result."""
    return np.inf, drawn[1], 0


def candidate_weights_block(X_b, w_b, previous, latest, mean, scale):
    """Total weight of the block's samples nearest to each candidate, after
    the last round's (``latest``) were added to those of ``previous``."""
    _, new_centers, offset = latest
    X = block_rows(X_b, mean)
    w = block_weights(w_b, X.shape[0], X.dtype)
    state = None if previous is None else previous[0]
    _, closest = _update_closest(X, mean, state, new_centers, offset, scale)
    n_candidates = offset + new_centers.shape[0]
    return (np.bincount(closest, weights=w, minlength=n_candidates),)


def row_of(X_b, row, mean):
    """One row of a block, centred, as ``(keys, rows)``: a draw of one."""
    return None, centred_copy(X_b[row : row + 1], mean)


# --------------------------------------------------------------------------
# On the client: the draws and the rounds


def random_rows(blocks, m, entropy, purpose=_SEED_RANDOM):
    """``m`` distinct rows drawn with probability proportional to weight
    (``init="random"``), centred."""
    _, rows = blocks.reduce(
        smallest_keys_block,
        blocks.seeds(entropy, purpose),
        combine=partial(merge_smallest, m),
        mean=blocks.mean,
        m=m,
    )
    return rows


def _first_center(blocks, entropy):
    """A task drawing the first k-means|| centre, a row with probability
    proportional to its weight, as ``first_candidate`` gives it.

    Unweighted, a uniform row is a block drawn by its size and a row of it:
    one task that reads one block, not a pass over the data.
    """
    if blocks.weighted:
        drawn = blocks.tree(
            blocks.map(
                smallest_keys_block,
                blocks.seeds(entropy, _SEED_FIRST),
                mean=blocks.mean,
                m=1,
            ),
            partial(merge_smallest, 1),
        )
    else:
        seed = np.random.SeedSequence(entropy, spawn_key=(_SEED_FIRST,))
        rng = np.random.default_rng(seed)
        ends = np.cumsum(blocks.n_rows)
        row = int(rng.integers(ends[-1]))
        block = int(np.searchsorted(ends, row, side="right"))
        row -= int(ends[block] - blocks.n_rows[block])
        drawn = blocks.call(row_of, blocks.x[block], row, blocks.mean)
    return blocks.call(first_candidate, drawn)


def kmeans_parallel_candidates(
    blocks, n_clusters, entropy, *, rounds=None, oversampling=None, scale=1.0
):
    """k-means|| oversampling: weighted candidate centres (centred coordinates).

    One submission and one round trip for the whole oversampling: nothing
    the client decides depends on a round's outcome, so the first centre,
    every round and the candidates' weights are one graph, and only the
    candidates and their weights come back.  A round is one map over the
    blocks: it adds the previous round's candidates to each sample's nearest
    distance (kept on the workers, never recomputed) and draws a superset of
    the block's new candidates (about ``oversampling * n_clusters`` rows);
    one task keeps the new candidates among them.  A last map weighs the
    candidates.  ``scale`` is ``distance_scale``'s.

    Returns
    -------
    candidates : ndarray of shape (n_candidates, n_features)
        The first centre (drawn by weight) and the points sampled in the
        rounds, about ``1 + rounds * oversampling * n_clusters``.
    weights : ndarray of shape (n_candidates,)
        Total sample weight of the points nearest to each candidate.
    """
    rounds = INIT_ROUNDS if rounds is None else rounds
    ell = (OVERSAMPLING if oversampling is None else oversampling) * n_clusters
    latest = _first_center(blocks, entropy)
    picks = [latest]
    states = [None] * len(blocks.x)
    for round_ in range(rounds):
        states = blocks.map(
            kmeans_parallel_round_block,
            states,
            blocks.seeds(entropy, _SEED_ROUND, round_),
            latest=latest,
            mean=blocks.mean,
            ell=ell,
            scale=scale,
        )
        latest = blocks.call(pick_candidates, ell, latest, *states)
        picks.append(latest)
    weights = blocks.tree(
        blocks.map(
            candidate_weights_block,
            states,
            latest=latest,
            mean=blocks.mean,
            scale=scale,
        ),
        sum_parts,
    )
    picks, (weights,) = blocks.fetch(picks, weights)
    # a round's cost beyond the float range weighs no sample (every draw
    # fails): the seeding says so, as k-means++ in memory does (the first
    # pick's cost is infinite by construction: first_candidate)
    if not all(np.isfinite(phi) for phi, _, _ in picks[1:]):
        raise ValueError(OVERFLOW_MESSAGE)
    # (a round after one whose cost was 0 picks nothing)
    candidates = np.concatenate([rows for _, rows, _ in picks])
    return candidates, weights.astype(blocks.dtype)


def seeding_sample(blocks, entropy, size=None):
    """The blocks of a uniform sample of about ``size`` rows of X (default
    ``SAMPLE_ROWS``), or ``blocks`` themselves when X has no more rows.

    Stratified: each block gives a number of rows proportional to its own
    (at least one), drawn without replacement by its own generator, and a
    sampled row's weight is multiplied by its block's rows per sampled row.
    The sample stays on the workers; drawing it reads no more than the
    sampled rows.
    """
    size = SAMPLE_ROWS if size is None else size
    n_rows = np.asarray(blocks.n_rows)
    total = int(n_rows.sum())
    if total <= size:
        return blocks
    sizes = np.minimum(n_rows, np.maximum(1, np.rint(n_rows * (size / total))))
    sizes = [int(m) for m in sizes]
    seeds = blocks.seeds(entropy, _SEED_SAMPLE)

    def draw(func):
        return [
            blocks.call(func, x, w, seed, m, blocks.mean)
            for x, w, seed, m in zip(blocks.x, blocks.w, seeds, sizes, strict=True)
        ]

    weights = draw(sample_weights_block) if blocks.weighted else None
    return blocks.subset(draw(sample_rows_block), weights, sizes)


def kmeans_parallel(blocks, n_clusters, entropy, *, max_iter, tol, scale=1.0):
    """The ``init="k-means++"`` start, centred: k-means|| on a uniform sample
    of the rows (``seeding_sample``), then the best of ``LOCAL_RUNS``
    weighted k-means++ and Lloyd runs on the candidates (a few hundred
    weighted points: the runs cost nothing next to a pass over X, and the
    best of them is the start); ``scale`` is ``distance_scale``'s of X."""
    sample = seeding_sample(blocks, entropy)
    candidates, weights = kmeans_parallel_candidates(
        sample, n_clusters, entropy, scale=scale
    )
    order = canonical_order(candidates)
    best_inertia, best_centers = np.inf, None
    for run in range(LOCAL_RUNS):
        local = np.random.RandomState(
            np.random.MT19937(
                np.random.SeedSequence(entropy, spawn_key=(_SEED_LOCAL, run))
            )
        )
        centers, _ = kmeans_plusplus_centers(
            candidates, n_clusters, weights, local, order
        )
        if candidates.shape[0] <= n_clusters:
            # Too few distinct points to refine (Lloyd's relocation needs more
            # samples than empty clusters); the Lloyd run on X relocates.
            return centers
        _, inertia, centers, _ = lloyd_single_run(
            candidates,
            weights,
            centers,
            max_iter=max_iter,
            tol=tol,
            verbose=0,
            n_threads=1,
        )
        if inertia < best_inertia:
            best_inertia, best_centers = inertia, centers
    return best_centers
