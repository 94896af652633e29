"""``LloydKMeans`` on dask arrays: the data stays on the workers, centres travel.

``LloydKMeans.fit``/``predict``/``transform``/``score`` route a dask array here
(see ``_is_dask_collection``).  Every pass over the data is one *map* over the
row blocks, each block handled by the in-memory kernels of ``_lloyd.py``, and
one deterministic *tree reduction* of the small per-block results; only
``n_clusters x n_features`` numbers come back to the client per iteration.

* Validation is one pass: finiteness, the mean (the fit centres the data, as
  the in-memory estimator does) and the variance that scales ``tol``, plus the
  checks of ``sample_weight``.  The array is never pulled to the client.
* Each Lloyd iteration submits a graph of constant size: the labels of the
  previous pass (needed for strict convergence) stay persisted on the workers
  and the centres are a small literal, so the graph does not grow with the
  iteration count.
* ``init="k-means++"`` runs k-means|| (Bahmani et al., 2012), the scalable
  form of k-means++; ``init="random"`` draws weighted rows without replacement
  in one pass.  Random draws use one generator per block, seeded from
  ``random_state`` through ``np.random.SeedSequence``: the result depends on
  the chunking, never on the scheduler, the worker count or timing.

dask is imported inside the functions only: importing this module (which
``_kmeans.py`` does) costs nothing when dask is not used.
"""

import sys
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_array, check_random_state
from sklearn.utils.validation import check_is_fitted

from sklearn_kmeans_lab._compat import _is_arraylike_not_scalar
from sklearn_kmeans_lab._lloyd import (
    assign_labels,
    average_centers,
    centring_offset,
    distances_to_centers,
    has_converged,
    lloyd_pass,
    lloyd_single_run,
    prediction_offset,
    relocate_empty_clusters,
    unscaled_inertia,
)
from sklearn_kmeans_lab._seeding import (
    canonical_order,
    kmeans_plusplus_centers,
    weight_exponent,
)

# k-means||: each round samples about OVERSAMPLING * n_clusters points; five
# rounds give ~10 k candidates, plenty in practice (Bahmani et al. use
# O(log cost) rounds; Spark's default is 2).
OVERSAMPLING = 2
INIT_ROUNDS = 5
# Fan-in of the tree reductions (dask's own default for reductions).
_SPLIT_EVERY = 8
# An input that is not persisted is persisted for the fit when it takes at
# most this fraction of the memory the scheduler can use.
_PERSIST_FRACTION = 0.5
# spawn_key prefixes: every random draw has its own stream per block.
_SEED_FIRST, _SEED_RANDOM, _SEED_ROUND, _SEED_LOCAL = range(4)


def _is_dask_collection(X):
    """Whether ``X`` is a dask collection; never imports dask itself."""
    dask = sys.modules.get("dask")
    is_collection = getattr(dask, "is_dask_collection", None)
    return is_collection is not None and bool(is_collection(X))


# --------------------------------------------------------------------------
# Validation


def _check_dask_array(estimator, X, *, reset):
    """Check a dask array's type, shape and dtype from its metadata only."""
    import dask.array as da

    name = type(estimator).__name__
    if not isinstance(X, da.Array):
        raise TypeError(
            f"{name} accepts dask arrays (dask.array.Array) among dask "
            f"collections; got {type(X).__name__}.  Convert a dask DataFrame "
            "with .to_dask_array(lengths=True)."
        )
    # The per-block kernels need NumPy blocks; a block's type is known from
    # the array's meta (a block that lies about it is caught on the workers).
    _check_numpy_block(X._meta, name)
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
    if reset:
        estimator.n_features_in_ = X.shape[1]
        if hasattr(estimator, "feature_names_in_"):
            del estimator.feature_names_in_
    elif X.shape[1] != estimator.n_features_in_:
        raise ValueError(
            f"X has {X.shape[1]} features, but {name} is expecting "
            f"{estimator.n_features_in_} features as input."
        )
    # Each block must hold whole rows for the per-block kernels.
    if len(X.chunks[1]) > 1:
        X = X.rechunk({1: -1})
    return X


def _check_dask_weights(sample_weight, X):
    """``sample_weight`` as a dask array chunked like X's rows, or None, and the
    exponent of the power of two it was divided by (``_scaled_dask_weights``)."""
    import dask.array as da

    if sample_weight is None:
        return None, 0
    if not _is_dask_collection(sample_weight):
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
    import dask.array as da

    largest = float(da.max(sample_weight).compute())
    exponent = 0
    if np.isfinite(largest) and largest > 0:
        exponent = weight_exponent(largest)
        sample_weight = da.map_blocks(np.ldexp, sample_weight, -exponent)
    return sample_weight.astype(dtype), exponent


def _resolve_n_init(estimator):
    """The number of runs; the rule of ``LloydKMeans._check_params_vs_input``.

    That method also computes the variance of X in memory, so the dask path
    resolves ``n_init`` here and the variance in its validation pass.
    """
    explicit = _is_arraylike_not_scalar(estimator.init)
    if estimator.n_init == "auto":
        is_kmeanspp = isinstance(estimator.init, str) and estimator.init == "k-means++"
        n_init = 1 if explicit or is_kmeanspp else 10
    else:
        n_init = estimator.n_init
    if explicit and n_init != 1:
        warnings.warn(
            "Explicit initial center position passed: performing only"
            f" one init in {type(estimator).__name__} instead of "
            f"n_init={n_init}.",
            RuntimeWarning,
            stacklevel=5,
        )
        n_init = 1
    return n_init


# --------------------------------------------------------------------------
# Per-block functions.  They run on the workers, so they are module-level
# (picklable) and never modify their inputs (dask may reuse them).


def _centred(X_b, mean):
    """A C-contiguous copy of the block in the working dtype, minus ``mean``."""
    if mean is None:
        return np.ascontiguousarray(X_b)
    out = np.array(X_b, dtype=mean.dtype, order="C", copy=True)
    out -= mean
    return out


def _squared_distances_to_assigned(X, centers, labels):
    """Unweighted ``||x_i - c_{labels_i}||^2`` of a (centred) dense block."""
    diff = X - centers[labels]
    return np.einsum("ij,ij->i", diff, diff)


def _block_weights(w_b, n_rows, dtype):
    return np.ones(n_rows, dtype=dtype) if w_b is None else np.asarray(w_b)


def _check_numpy_block(X_b, name="LloydKMeans"):
    """Raise a TypeError unless ``X_b`` is a NumPy array (not scipy.sparse)."""
    if isinstance(X_b, np.ndarray):
        return
    if sp.issparse(X_b):
        raise TypeError(
            f"{name} does not support dask arrays with scipy.sparse chunks, "
            "but dense chunks are required. Use "
            "X.map_blocks(lambda block: block.toarray()) to convert the chunks, "
            "or fit the scipy.sparse matrix in memory."
        )
    raise TypeError(
        f"{name} needs dask arrays with NumPy chunks; got chunks of type "
        f"{type(X_b).__name__}."
    )


def _check_finite_block(X_b):
    _check_numpy_block(X_b)
    if not np.isfinite(X_b).all():
        raise ValueError("Input X contains NaN or infinity.")


def _moments_block(X_b, w_b):
    """Counts, mean and sum of squared deviations (float64) of one block."""
    _check_numpy_block(X_b)
    bad_x = int(X_b.size - np.count_nonzero(np.isfinite(X_b)))
    n = X_b.shape[0]
    if bad_x or n == 0:
        mean = m2 = np.zeros(X_b.shape[1])
    else:
        X64 = X_b.astype(np.float64)
        mean = X64.mean(axis=0)
        X64 -= mean
        m2 = np.einsum("ij,ij->j", X64, X64)
    if w_b is None:
        w_stats = (0, 0, n)
    else:
        finite = np.isfinite(w_b)
        w_stats = (
            int(w_b.size - np.count_nonzero(finite)),
            int(np.count_nonzero(w_b[finite] < 0)),
            int(np.count_nonzero(w_b[finite] > 0)),
        )
    return (n, mean, m2, bad_x, *w_stats)


def _merge_moments(*parts):
    """Chan et al.'s pairwise update: exact in exact arithmetic, stable in floats."""
    n, mean, m2, *counts = parts[0]
    for n_b, mean_b, m2_b, *counts_b in parts[1:]:
        counts = [a + b for a, b in zip(counts, counts_b, strict=True)]
        if n_b == 0:  # an empty block (rows filtered out upstream)
            continue
        total = n + n_b
        delta = mean_b - mean
        mean = mean + delta * (n_b / total)
        m2 = m2 + m2_b + delta**2 * (n * n_b / total)
        n = total
    return (n, mean, m2, *counts)


def _index_dtype(n):
    """The smallest signed integer type for -1 .. n - 1.

    Labels and candidate indices stay on the workers between passes: one byte
    per sample instead of four for up to 127 clusters.
    """
    for dtype in (np.int8, np.int16, np.int32):
        if n <= np.iinfo(dtype).max:
            return dtype
    return np.int64  # pragma: no cover - more than 2**31 clusters


def _lloyd_block(X_b, w_b, labels_b, centers, mean, want_inertia):
    """One fused E+M pass on a block; returns its new labels and partial sums."""
    X = _centred(X_b, mean)
    w = _block_weights(w_b, X.shape[0], X.dtype)
    if labels_b is None:
        labels = np.full(X.shape[0], -1, dtype=np.int32)
    else:
        labels = labels_b.astype(np.int32)  # a copy: the input stays as it is
    sums, weights, n_changed, inertia = lloyd_pass(
        X, w, centers, labels, want_inertia=want_inertia
    )
    labels = labels.astype(_index_dtype(centers.shape[0]))
    return labels, (sums, weights, n_changed, inertia or 0.0)


def _inertia_block(X_b, w_b, centers, mean):
    """Weighted inertia, cluster sizes and total weight of a block.

    It also checks the data, for ``score`` (whose input was never validated).
    """
    _check_finite_block(X_b)
    X = _centred(X_b, mean)
    w = _block_weights(w_b, X.shape[0], X.dtype)
    if w_b is not None and not (np.isfinite(w).all() and (w >= 0).all()):
        raise ValueError("sample_weight must be finite and non-negative.")
    labels, inertia = assign_labels(X, centers, sample_weight=w, want_inertia=True)
    sizes = np.bincount(labels, minlength=centers.shape[0])
    return inertia, sizes, float(w.sum(dtype=np.float64))


def _farthest_block(X_b, w_b, labels_b, centers, mean, n_far):
    """The block's ``n_far`` samples farthest from their assigned centre."""
    X = _centred(X_b, mean)
    w = _block_weights(w_b, X.shape[0], X.dtype)
    distances = _squared_distances_to_assigned(X, centers, labels_b)
    distances[w == 0] = -1.0  # never relocated: they cannot fill a cluster
    if distances.shape[0] > n_far:
        keep = np.argpartition(distances, -n_far)[-n_far:]
    else:
        keep = np.arange(distances.shape[0])
    return X[keep], w[keep], labels_b[keep]


def _partition_block(X_b, w_b, centers_a, centers_b, mean):
    """Which (label under a, label under b) pairs occur in the block, (k, k)."""
    X = _centred(X_b, mean)
    labels_a, _ = assign_labels(X, centers_a)
    labels_b, _ = assign_labels(X, centers_b)
    pairs = np.zeros((centers_a.shape[0], centers_b.shape[0]), dtype=np.int64)
    pairs[labels_a, labels_b] = 1
    return (pairs,)


def _smallest_keys_block(X_b, w_b, seed, mean, m):
    """The ``m`` rows with the smallest keys ``Exp(1) / w`` in the block.

    The ``m`` smallest keys over all samples are a weighted sample without
    replacement (Efraimidis & Spirakis, 2006): the same law as ``m``
    successive draws with probability proportional to the weight.
    """
    n_rows = X_b.shape[0]
    w = _block_weights(w_b, n_rows, mean.dtype)
    exp = np.random.default_rng(seed).exponential(size=n_rows)
    keys = np.full(n_rows, np.inf)
    np.divide(exp, w, out=keys, where=w > 0)
    keep = np.argpartition(keys, m - 1)[:m] if n_rows > m else np.arange(n_rows)
    keep = keep[np.isfinite(keys[keep])]
    return keys[keep], _centred(X_b[keep], mean)


def _merge_smallest(m, *parts):
    keys = np.concatenate([p[0] for p in parts])
    rows = np.concatenate([p[1] for p in parts])
    keep = np.argsort(keys, kind="stable")[:m]
    return keys[keep], rows[keep]


def _update_closest(X, state, new_centers, offset):
    """Distance to, and index of, the nearest candidate after adding new ones."""
    if new_centers.shape[0] == 0:
        return state
    labels, _ = assign_labels(X, new_centers)
    # Kept between rounds, so compact: float32 distances are plenty for
    # sampling probabilities, and the indices take the smallest integer type.
    d2 = _squared_distances_to_assigned(X, new_centers, labels).astype(np.float32)
    labels = (labels + offset).astype(_index_dtype(offset + new_centers.shape[0]))
    if state is None:
        return d2, labels
    min_d2, closest = state
    closer = d2 < min_d2
    return np.where(closer, d2, min_d2), np.where(closer, labels, closest)


def _kmeans_parallel_round_block(X_b, w_b, state, seed, new_centers, mean, offset, ell):
    """One k-means|| round on a block: update distances, then oversample.

    A point is kept with probability ``min(1, ell * w * d^2 / phi)``, where
    ``phi`` is the cost over *all* blocks, unknown here.  With ``u`` uniform
    the draw is ``u * phi < ell * w * d^2``; since the block's own cost
    ``phi_b <= phi``, the points with ``u * phi_b < ell * w * d^2`` are a
    superset of the kept ones (about ``ell`` of them).  They stay on the
    worker with their ratio ``u / (w * d^2)``; once ``phi`` is known the
    client keeps those with ``ratio < ell / phi``.
    """
    X = _centred(X_b, mean)
    w = _block_weights(w_b, X.shape[0], X.dtype)
    state = _update_closest(X, state, new_centers, offset)
    potential = w.astype(np.float64) * state[0]
    phi = float(potential.sum())
    u = np.random.default_rng(seed).random(X.shape[0])
    superset = u * phi < ell * potential
    ratio = u[superset] / potential[superset]
    return state, (phi, ratio, X[superset])


def _pick_block(sample, threshold):
    _, ratio, rows = sample
    return rows[ratio < threshold]


def _candidate_weights_block(X_b, w_b, state, new_centers, mean, offset, n_cand):
    """Total weight of the block's samples nearest to each candidate."""
    X = _centred(X_b, mean)
    w = _block_weights(w_b, X.shape[0], X.dtype)
    _, closest = _update_closest(X, state, new_centers, offset)
    return (np.bincount(closest, weights=w, minlength=n_cand),)


def _predict_block(X_b, centers, mean):
    _check_finite_block(X_b)
    X = _centred(np.asarray(X_b, dtype=centers.dtype), mean)
    return assign_labels(X, centers)[0]


def _transform_block(X_b, centers):
    _check_finite_block(X_b)
    return distances_to_centers(np.ascontiguousarray(X_b, centers.dtype), centers)


def _sum_parts(*parts):
    """Element-wise sum of equal-length tuples (one tree-reduction node)."""
    return tuple(sum(values[1:], values[0]) for values in zip(*parts, strict=True))


def _first(part):
    return (part[0],)


def _concat(*parts):
    return np.concatenate(parts)


# --------------------------------------------------------------------------
# The blocked data and the passes over it


def _tree_reduce(parts, combine):
    """Combine delayed ``parts`` in a fixed tree: deterministic, any scheduler."""
    from dask import delayed

    while len(parts) > 1:
        parts = [
            delayed(combine, pure=False)(*parts[i : i + _SPLIT_EVERY])
            for i in range(0, len(parts), _SPLIT_EVERY)
        ]
    return parts[0]


def _shared(value):
    """A small array shipped once per graph instead of once per task."""
    from dask import delayed

    return delayed(value, pure=False) if isinstance(value, np.ndarray) else value


def _default_client():
    distributed = sys.modules.get("distributed")
    if distributed is None:
        return None
    try:
        return distributed.default_client()
    except ValueError:
        return None


def _scheduler_memory(client):
    """Bytes the scheduler can hold: the workers' limits, else free RAM."""
    if client is not None:
        try:
            info = client.scheduler_info(n_workers=-1)
        except TypeError:  # distributed < 2025.4 lists every worker anyway
            info = client.scheduler_info()
        workers = info["workers"].values()
        limits = [info.get("memory_limit") or 0 for info in workers]
        if limits and all(limits):
            return sum(limits)
    try:
        import psutil
    except ImportError:  # pragma: no cover - psutil comes with distributed
        return 0
    return psutil.virtual_memory().available


def _persist_if_cheap(arrays):
    """Persist the inputs of a fit when they are lazy and fit in memory.

    Lloyd's algorithm reads the data once per iteration: an input that is not
    persisted would be recomputed (or, for numpy-backed chunks on a
    distributed cluster, shipped again) every time.  Whether it is persisted
    is read from the graph (every value already data, or a future on a
    cluster), which is cheap.  Data larger than the memory is left lazy and
    streamed each pass.
    """
    import dask
    from dask.core import istask

    arrays = [a for a in arrays if a is not None]
    client = _default_client()
    future = getattr(sys.modules.get("distributed"), "Future", ())

    def materialised(value):
        return isinstance(value, future) if client is not None else not istask(value)

    lazy = any(
        not materialised(v) for a in arrays for v in dict(a.__dask_graph__()).values()
    )
    nbytes = sum(a.nbytes for a in arrays)
    if lazy and nbytes <= _PERSIST_FRACTION * _scheduler_memory(client):
        return list(dask.persist(*arrays))
    return arrays


class _Blocks:
    """X and its weights as lists of per-block delayed objects.

    Parameters
    ----------
    X : dask.array.Array of shape (n_samples, n_features)
        Validated, one chunk along the features.
    sample_weight : dask.array.Array of shape (n_samples,) or None
        Chunked like the rows of ``X``.

    Attributes
    ----------
    x : list of Delayed
        The row blocks of ``X``.
    w : list of Delayed or None
        The blocks of ``sample_weight`` (None when unweighted).
    mean : ndarray of shape (n_features,) or None
        The centring used by the passes, set after validation.
    """

    def __init__(self, X, sample_weight, *, persist=True):
        if persist and sample_weight is None:
            (X,) = _persist_if_cheap([X])
        elif persist:
            X, sample_weight = _persist_if_cheap([X, sample_weight])
        # Holding the arrays holds their futures: without them a cluster
        # would forget the persisted blocks the delayed objects point to.
        self._arrays = (X, sample_weight)
        self.dtype = X.dtype
        self.x = list(X.to_delayed().ravel())
        if sample_weight is None:
            self.w = [None] * len(self.x)
        else:
            self.w = list(sample_weight.to_delayed().ravel())
        self.mean = None

    def map(self, func, *per_block, nout=None, **shared):
        """``func(x_b, w_b, *per_block[b], **shared)`` for every block ``b``."""
        from dask import delayed

        shared = {key: _shared(value) for key, value in shared.items()}
        return [
            delayed(func, pure=False, nout=nout)(
                x, w, *(values[b] for values in per_block), **shared
            )
            for b, (x, w) in enumerate(zip(self.x, self.w, strict=True))
        ]

    def reduce(self, func, *per_block, combine=_sum_parts, **shared):
        """Tree-reduce ``func`` over the blocks and bring the result back."""
        return _tree_reduce(self.map(func, *per_block, **shared), combine).compute()

    def seeds(self, entropy, *prefix):
        """One independent ``SeedSequence`` per block for a given draw."""
        return [
            np.random.SeedSequence(entropy, spawn_key=(*prefix, b))
            for b in range(len(self.x))
        ]


def _validation_pass(blocks, estimator, weighted):
    """Raise on bad input; set ``blocks.mean``; return the tolerance and the
    number of positive weights."""
    n, mean, m2, bad_x, bad_w, negative_w, positive_w = blocks.reduce(
        _moments_block, combine=_merge_moments
    )
    if bad_x:
        raise ValueError(
            f"Input X contains NaN or infinity ({bad_x} non-finite value(s)); "
            f"{type(estimator).__name__} does not accept missing values."
        )
    if weighted:
        if bad_w:
            raise ValueError("Input sample_weight contains NaN or infinity.")
        if negative_w:
            raise ValueError(
                f"sample_weight must be non-negative; got {negative_w} "
                "negative value(s)."
            )
        if not positive_w:
            raise ValueError(
                "Sample weights must contain at least one non-zero number."
            )
    # rounded to a coarse grid as in memory: exact ties stay exact
    blocks.mean = centring_offset(mean, np.sqrt(m2 / n)).astype(blocks.dtype)
    tol = 0 if estimator.tol == 0 else float(np.mean(m2 / n)) * estimator.tol
    return tol, positive_w


# --------------------------------------------------------------------------
# Initialisation


def _random_rows(blocks, m, entropy, purpose):
    """``m`` distinct rows drawn with probability proportional to weight."""
    from functools import partial

    _, rows = blocks.reduce(
        _smallest_keys_block,
        blocks.seeds(entropy, purpose),
        combine=partial(_merge_smallest, m),
        mean=blocks.mean,
        m=m,
    )
    return rows


def kmeans_parallel_candidates(blocks, n_clusters, entropy):
    """k-means|| oversampling: weighted candidate centres (centred coordinates).

    Returns
    -------
    candidates : ndarray of shape (n_candidates, n_features)
        The first centre (drawn by weight) and the points sampled in the
        rounds, about ``1 + INIT_ROUNDS * OVERSAMPLING * n_clusters``.
    weights : ndarray of shape (n_candidates,)
        Total sample weight of the points nearest to each candidate.
    """
    import dask

    ell = OVERSAMPLING * n_clusters
    candidates = [_random_rows(blocks, 1, entropy, _SEED_FIRST)]
    states = [None] * len(blocks.x)
    new, offset = candidates[0], 0
    for round_ in range(INIT_ROUNDS):
        steps = blocks.map(
            _kmeans_parallel_round_block,
            states,
            blocks.seeds(entropy, _SEED_ROUND, round_),
            nout=2,
            new_centers=new,
            mean=blocks.mean,
            offset=offset,
            ell=ell,
        )
        states, samples = dask.persist([s[0] for s in steps], [s[1] for s in steps])
        (phi,) = _tree_reduce(
            [dask.delayed(_first, pure=False)(s) for s in samples], _sum_parts
        ).compute()
        offset += new.shape[0]
        if phi == 0:  # every sample sits on a candidate
            new = new[:0]
            break
        picked = [dask.delayed(_pick_block, pure=False)(s, ell / phi) for s in samples]
        new = dask.delayed(_concat, pure=False)(*picked).compute()
        candidates.append(new)
    all_candidates = np.concatenate(candidates)
    (weights,) = blocks.reduce(
        _candidate_weights_block,
        states,
        new_centers=new,
        mean=blocks.mean,
        offset=offset,
        n_cand=all_candidates.shape[0],
    )
    return all_candidates, weights.astype(blocks.dtype)


def _kmeans_parallel(blocks, n_clusters, entropy, *, max_iter, tol):
    """k-means|| then a weighted k-means++ and Lloyd on the candidates."""
    candidates, weights = kmeans_parallel_candidates(blocks, n_clusters, entropy)
    local = np.random.RandomState(
        np.random.MT19937(np.random.SeedSequence(entropy, spawn_key=(_SEED_LOCAL,)))
    )
    centers, _ = kmeans_plusplus_centers(
        candidates,
        n_clusters,
        weights,
        np.einsum("ij,ij->i", candidates, candidates),
        local,
        canonical_order(candidates),
    )
    if candidates.shape[0] <= n_clusters:
        # Too few distinct points to refine (Lloyd's relocation needs more
        # samples than empty clusters); the Lloyd run on X relocates instead.
        return centers
    _, _, centers, _ = lloyd_single_run(
        candidates, weights, centers, max_iter=max_iter, tol=tol, verbose=0, n_threads=1
    )
    return centers


def _initial_centers(estimator, blocks, entropy, positive_w, tol):
    """Centred initial centres for one run from a string ``init``."""
    if estimator.init == "random":
        if positive_w < estimator.n_clusters:
            raise ValueError(
                "init='random' needs at least n_clusters="
                f"{estimator.n_clusters} samples with a non-zero sample_weight; "
                f"got {positive_w}."
            )
        return _random_rows(blocks, estimator.n_clusters, entropy, _SEED_RANDOM)
    return _kmeans_parallel(
        blocks, estimator.n_clusters, entropy, max_iter=estimator.max_iter, tol=tol
    )


# --------------------------------------------------------------------------
# Lloyd's iterations


def _relocate_empty(blocks, labels, centers, sums, weights):
    """Empty clusters take the farthest samples, as in ``lloyd_single_run``.

    The ``n_empty`` farthest samples overall are among the blocks' own
    ``n_empty`` farthest, so ``relocate_empty_clusters`` run on those
    candidates alone makes the same choice as on all of X.
    """
    n_empty = int(np.count_nonzero(weights == 0))
    rows, w, candidate_labels = _tree_reduce(
        blocks.map(
            _farthest_block, labels, centers=centers, mean=blocks.mean, n_far=n_empty
        ),
        _concat_parts,
    ).compute()
    relocate_empty_clusters(rows, w, centers, sums, weights, candidate_labels)


def _concat_parts(*parts):
    return tuple(np.concatenate(values) for values in zip(*parts, strict=True))


def _lloyd_run(blocks, centers_init, *, max_iter, tol, verbose):
    """``lloyd_single_run`` with the passes mapped over the blocks.

    Returns
    -------
    inertia : float
    centers : ndarray of shape (n_clusters, n_features)
        Centred coordinates.
    n_iter : int
    sizes : ndarray of shape (n_clusters,)
        Number of samples in each final cluster.
    """
    import dask

    centers = np.array(centers_init, dtype=blocks.dtype, order="C", copy=True)
    labels = [None] * len(blocks.x)
    for i in range(max_iter):
        steps = blocks.map(
            _lloyd_block,
            labels,
            nout=2,
            centers=centers,
            mean=blocks.mean,
            want_inertia=bool(verbose),
        )
        # The labels stay on the workers for the next pass's n_changed; the
        # graph of the next pass refers to them, not to how they were made.
        labels, total = dask.persist(
            [step[0] for step in steps],
            _tree_reduce([step[1] for step in steps], _sum_parts),
        )
        sums, weights, n_changed, inertia = total.compute()
        if np.any(weights == 0):
            _relocate_empty(blocks, labels, centers, sums, weights)
        # in the data's dtype, as in memory (and scikit-learn)
        centers_new = average_centers(sums, weights).astype(blocks.dtype, copy=False)
        if verbose:
            print(f"Iteration {i}, inertia {inertia}.")
        done = has_converged(i, n_changed, centers, centers_new, tol, verbose)
        centers = centers_new
        if done:
            break
    del labels  # release them on the workers before the last pass
    inertia, sizes, _ = blocks.reduce(_inertia_block, centers=centers, mean=blocks.mean)
    return float(inertia), centers, i + 1, sizes


def _is_same_clustering(blocks, centers_a, centers_b):
    """Whether the labels under ``centers_b`` are a function of those under a."""
    (pairs,) = blocks.reduce(
        _partition_block, centers_a=centers_a, centers_b=centers_b, mean=blocks.mean
    )
    return bool(np.all(np.count_nonzero(pairs, axis=1) <= 1))


# --------------------------------------------------------------------------
# The estimator's methods on dask arrays


def dask_fit(estimator, X, sample_weight=None):
    """``LloydKMeans.fit`` on a dask array; the data stays distributed.

    Parameters
    ----------
    estimator : LloydKMeans
        Its parameters are validated by ``fit`` before it calls this.
    X : dask.array.Array of shape (n_samples, n_features)
        Chunked by rows (column chunks are merged).
    sample_weight : array-like or dask.array.Array of shape (n_samples,), \
            default=None
        Rechunked like the rows of ``X`` if needed.

    Returns
    -------
    estimator : LloydKMeans
        Fitted; every attribute is computed (``labels_`` is a NumPy array),
        so the model holds neither ``X`` nor anything of the cluster.

    Examples
    --------
    >>> import dask
    >>> import dask.array as da
    >>> import numpy as np
    >>> from sklearn_kmeans_lab import LloydKMeans
    >>> X = da.from_array(np.array([[1.0, 2], [1, 4], [1, 0],
    ...                             [10, 2], [10, 4], [10, 0]]), chunks=2)
    >>> with dask.config.set(scheduler="threads"):
    ...     km = LloydKMeans(n_clusters=2, random_state=0).fit(X)
    >>> np.sort(km.cluster_centers_, axis=0)
    array([[ 1.,  2.],
           [10.,  2.]])
    >>> type(km.labels_).__name__, bool(km.labels_[0] != km.labels_[3])
    ('ndarray', True)
    """
    X = _check_dask_array(estimator, X, reset=True)
    if X.shape[0] < estimator.n_clusters:
        raise ValueError(
            f"n_samples={X.shape[0]} should be >= n_clusters={estimator.n_clusters}."
        )
    n_init = _resolve_n_init(estimator)
    sample_weight, weight_exponent = _check_dask_weights(sample_weight, X)
    random_state = check_random_state(estimator.random_state)

    # Array and callable inits are read in the caller's coordinates, as in
    # the in-memory fit.
    fixed_inits = None
    if _is_arraylike_not_scalar(estimator.init) or callable(estimator.init):
        fixed_inits = []
        for _ in range(n_init):
            init = estimator.init
            if callable(init):
                init = init(X, estimator.n_clusters, random_state=random_state)
            init = check_array(init, dtype=X.dtype, copy=True, order="C")
            estimator._validate_center_shape(X, init)
            fixed_inits.append(init)

    blocks = _Blocks(X, sample_weight)
    tol, positive_w = _validation_pass(blocks, estimator, sample_weight is not None)

    best = None
    for run in range(n_init):
        if fixed_inits is not None:
            centers_init = fixed_inits[run] - blocks.mean
        else:
            # The runs share random_state's stream, one draw each, so the
            # first run of n_init=5 is the run of n_init=1.
            entropy = [int(v) for v in random_state.randint(2**31 - 1, size=4)]
            centers_init = _initial_centers(estimator, blocks, entropy, positive_w, tol)
        if estimator.verbose:
            print("Initialization complete")
        result = _lloyd_run(
            blocks,
            centers_init,
            max_iter=estimator.max_iter,
            tol=tol,
            verbose=estimator.verbose,
        )
        if best is None or (
            result[0] < best[0] and not _is_same_clustering(blocks, result[1], best[1])
        ):
            best = result
    inertia, centers, n_iter, sizes = best
    inertia = unscaled_inertia(inertia, weight_exponent, 5)

    distinct_clusters = int(np.count_nonzero(sizes))
    if distinct_clusters < estimator.n_clusters:
        warnings.warn(
            f"Number of distinct clusters ({distinct_clusters}) found smaller "
            f"than n_clusters ({estimator.n_clusters}). Possibly due to duplicate "
            "points in X.",
            ConvergenceWarning,
            stacklevel=4,
        )
    # labels_ as the fit computed them (centred data), from the fit's
    # (persisted) copy of X and brought to the client: n_samples small ints,
    # and a fitted model that holds no graph over X nor futures of a cluster,
    # so it pickles small and outlives client.close().
    X_fit = blocks._arrays[0]
    estimator.labels_ = X_fit.map_blocks(
        _predict_block, centers, blocks.mean, dtype=np.int32, drop_axis=1
    ).compute()
    estimator.cluster_centers_ = centers + blocks.mean
    estimator._n_features_out = estimator.cluster_centers_.shape[0]
    estimator.inertia_ = inertia
    estimator.n_iter_ = int(n_iter)
    return estimator


def _centers_for(estimator, X):
    check_is_fitted(estimator)
    X = _check_dask_array(estimator, X, reset=False)
    dtype = np.result_type(X.dtype, estimator.cluster_centers_.dtype)
    return X, estimator.cluster_centers_.astype(dtype)


def dask_predict(estimator, X):
    """``LloydKMeans.predict`` on a dask array: a lazy int32 dask array.

    Centred as in memory (``assign_labels``), so as accurate as the fit."""
    X, centers = _centers_for(estimator, X)
    offset = prediction_offset(centers)
    return X.map_blocks(
        _predict_block, centers - offset, offset, dtype=np.int32, drop_axis=1
    )


def dask_transform(estimator, X):
    """``LloydKMeans.transform`` on a dask array: lazy distances to centres."""
    X, centers = _centers_for(estimator, X)
    return X.map_blocks(
        _transform_block,
        centers,
        dtype=centers.dtype,
        chunks=(X.chunks[0], (centers.shape[0],)),
    )


def dask_score(estimator, X, sample_weight=None):
    """``LloydKMeans.score`` on a dask array: minus the weighted inertia."""
    X, centers = _centers_for(estimator, X)
    sample_weight, weight_exponent = _check_dask_weights(sample_weight, X)
    # One pass, nothing persisted: the blocks check the data and the weights.
    # (assign_labels centres each block as predict does.)
    blocks = _Blocks(X.astype(centers.dtype), sample_weight, persist=False)
    inertia, _, total_weight = blocks.reduce(_inertia_block, centers=centers, mean=None)
    if total_weight == 0:
        raise ValueError("Sample weights must contain at least one non-zero number.")
    return -unscaled_inertia(inertia, weight_exponent, 4)
