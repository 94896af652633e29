"""The Dask backend's passes: per-block functions and the blocked data.

Every pass over the data is one *map* over the row blocks, each block handled
by the in-memory kernels, and one deterministic *tree reduction* of the small
per-block results.  The per-block functions run on the workers, so they are
module-level (picklable) and never modify their inputs (dask may reuse them).
dask itself is imported inside the functions that build graphs.
"""

import copy
import operator
import sys

import numpy as np
import scipy.sparse as sp

from sklearn_kmeans_lab._assignment import assign_labels
from sklearn_kmeans_lab._backends import memory
from sklearn_kmeans_lab._lloyd_iterations import distances_to_assigned
from sklearn_kmeans_lab._lloyd_run import LloydRun

# Fan-in of the tree reductions (dask's own default for reductions).
_SPLIT_EVERY = 8
# An input that is not persisted is persisted for the fit when it takes at
# most this fraction of the memory the scheduler can use.
_PERSIST_FRACTION = 0.5


def centred_copy(X_b, mean):
    """A C-contiguous copy of the block in the working dtype, minus ``mean``."""
    if mean is None:
        return np.ascontiguousarray(X_b)
    out = np.array(X_b, dtype=mean.dtype, order="C", copy=True)
    out -= mean
    return out


def block_rows(X_b, mean):
    """The block as the kernels read it, centred on the fly by ``mean``.

    No copy when the block is already C-contiguous in the working dtype (a
    persisted block is): the kernels subtract ``mean`` as they read a row,
    with the rounding of a centred copy, so a pass costs the kernel alone.
    """
    dtype = X_b.dtype if mean is None else mean.dtype
    return np.ascontiguousarray(X_b, dtype=dtype)


def block_weights(w_b, n_rows, dtype):
    return np.ones(n_rows, dtype=dtype) if w_b is None else np.asarray(w_b)


def check_numpy_block(X_b, name="LloydKMeans"):
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
    check_numpy_block(X_b)
    if not np.isfinite(X_b).all():
        raise ValueError("Input X contains NaN or infinity.")


def moments_block(X_b, w_b):
    """Counts, mean and sum of squared deviations (float64) of one block."""
    check_numpy_block(X_b)
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


def merge_moments(*parts):
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


def index_dtype(n):
    """The smallest signed integer type for -1 .. n - 1.

    Labels and candidate indices stay on the workers between passes: one byte
    per sample instead of four for up to 127 clusters.
    """
    for dtype in (np.int8, np.int16, np.int32):
        if n <= np.iinfo(dtype).max:
            return dtype
    return np.int64  # pragma: no cover - more than 2**31 clusters


def lloyd_block(
    X_b, w_b, previous, centers, gap_drop, mean, want_inertia, from_scratch
):
    """One fused E+M pass on a block; returns its new state and partial sums.

    ``previous`` is what the block's last pass returned (None at first): a
    pass's whole result stays on the worker.

    The block's state between passes is the in-memory run's: its labels,
    the gap bounds (Hamerly's bound in one number per sample, see
    ``_lloyd_run``) and the per-cluster totals of its labels.  With
    ``gap_drop``, what the centres' moves since the last pass can take off
    a gap, the samples whose label cannot change are skipped, exactly as in
    memory; labels are bit-for-bit those of a pass without bounds.  Unless
    ``from_scratch`` (the first pass, and now and then as in memory), only
    the samples that change cluster update the totals.
    """
    X = block_rows(X_b, mean)
    w = None if w_b is None else np.asarray(w_b)
    k, dtype = centers.shape[0], X.dtype
    if X.shape[0] == 0:  # nothing to assign (rows filtered out upstream)
        state = (np.empty(0, index_dtype(k)), None, None, 0.0, None)
        return state, (np.zeros(centers.shape, dtype), np.zeros(k, dtype), 0, 0.0)
    run = LloydRun(X, w, centers.shape[0], mean, 1, True)
    if previous is None:
        labels = np.full(X.shape[0], -1, dtype=np.int32)
        from_scratch = True
    else:
        labels_b, gaps, x_norm_max, c_norm_max, totals = previous[0]
        labels = labels_b.astype(np.int32)  # a copy: the input stays as it is
        run.resume(gaps, x_norm_max, c_norm_max, gap_drop, totals)
    with run.blas_limit():
        n_changed = run.assign(
            centers, labels, want_inertia=want_inertia, from_scratch=from_scratch
        )
    inertia = float(run.partials.inertia.sum()) if want_inertia else 0.0
    labels = labels.astype(index_dtype(centers.shape[0]))
    totals = (run.sums, run.weights, run.counts)
    state = (labels, run.gaps, run.x_norm_max, run.c_norm_max, totals)
    # (exactly 0 for a cluster left without a member of positive weight)
    sums, weights, _ = run.totals()
    return state, (sums.astype(dtype), weights.astype(dtype), n_changed, inertia)


def inertia_block(X_b, w_b, centers, mean):
    """Weighted inertia, cluster sizes and total weight of a block.

    It also checks the data, for ``score`` (whose input was never validated).
    """
    _check_finite_block(X_b)
    X = block_rows(X_b, mean)
    w = block_weights(w_b, X.shape[0], X.dtype)
    if w_b is not None and not (np.isfinite(w).all() and (w >= 0).all()):
        raise ValueError("sample_weight must be finite and non-negative.")
    labels, inertia = assign_labels(
        X, centers, sample_weight=w, want_inertia=True, x_offset=mean
    )
    sizes = np.bincount(labels, minlength=centers.shape[0])
    return inertia, sizes, float(w.sum(dtype=np.float64))


def farthest_block(X_b, w_b, previous, centers, mean, n_far):
    """The block's ``n_far`` samples farthest from their assigned centre."""
    labels_b = previous[0][0]
    X = block_rows(X_b, mean)
    w = block_weights(w_b, X.shape[0], X.dtype)
    distances = distances_to_assigned(X, centers, labels_b, x_offset=mean)
    distances[w == 0] = -1.0  # never relocated: they cannot fill a cluster
    if distances.shape[0] > n_far:
        keep = np.argpartition(distances, -n_far)[-n_far:]
    else:
        keep = np.arange(distances.shape[0])
    return centred_copy(X[keep], mean), w[keep], labels_b[keep]


def partition_block(X_b, w_b, centers_a, centers_b, mean):
    """Which (label under a, label under b) pairs occur in the block, (k, k)."""
    X = block_rows(X_b, mean)
    labels_a, _ = assign_labels(X, centers_a, x_offset=mean)
    labels_b, _ = assign_labels(X, centers_b, x_offset=mean)
    pairs = np.zeros((centers_a.shape[0], centers_b.shape[0]), dtype=np.int64)
    pairs[labels_a, labels_b] = 1
    return (pairs,)


def uniform_sample_block(X_b, w_b, seed, size):
    """The block's ``size`` rows of smallest uniform keys, with their keys and
    weights: over all blocks, the ``size`` smallest keys are a uniform
    sample without replacement."""
    keys = np.random.default_rng(seed).random(X_b.shape[0])
    if X_b.shape[0] > size:
        keep = np.sort(np.argpartition(keys, size - 1)[:size])
    else:
        keep = np.arange(X_b.shape[0])
    weights = None if w_b is None else np.asarray(w_b)[keep]
    return keys[keep], np.asarray(X_b[keep]), weights


def merge_uniform_sample(size, *parts):
    keys = np.concatenate([p[0] for p in parts])
    keep = np.sort(np.argsort(keys, kind="stable")[:size])  # in row order
    rows = np.concatenate([p[1] for p in parts])[keep]
    if parts[0][2] is None:
        return keys[keep], rows, None
    return keys[keep], rows, np.concatenate([p[2] for p in parts])[keep]


def predict_block(X_b, centers, mean):
    _check_finite_block(X_b)
    X = np.ascontiguousarray(X_b, dtype=centers.dtype)
    return assign_labels(X, centers, x_offset=mean)[0]


def transform_block(X_b, centers):
    _check_finite_block(X_b)
    return memory.transform(np.ascontiguousarray(X_b, centers.dtype), centers)


def sum_parts(*parts):
    """Element-wise sum of equal-length tuples (one tree-reduction node)."""
    return tuple(sum(values[1:], values[0]) for values in zip(*parts, strict=True))


def concat(*parts):
    return np.concatenate(parts)


# --------------------------------------------------------------------------
# The blocked data and the passes over it


def _tree(parts, node):
    while len(parts) > 1:
        parts = [
            node(*parts[i : i + _SPLIT_EVERY])
            for i in range(0, len(parts), _SPLIT_EVERY)
        ]
    return parts[0]


def _shared(value):
    """A small array shipped once per graph instead of once per task."""
    from dask import delayed

    return delayed(value, pure=False) if isinstance(value, np.ndarray) else value


def _active_client():
    """The distributed client that computes dask collections now, or None
    (no cluster, or ``dask.config.set(scheduler=...)`` chose another)."""
    import dask

    client = _default_client()
    if client is None:
        return None
    scheduler = dask.base.get_scheduler()
    return client if getattr(scheduler, "__self__", None) is client else None


def _futures_of_blocks(array, client):
    """The futures of a persisted array's blocks in block order, or None when
    some block is still a task (the array is streamed, not persisted)."""
    future = sys.modules["distributed"].Future
    graph = dict(array.__dask_graph__())
    keys, pending = [], [array.__dask_keys__()]
    while pending:  # nested lists of keys, in block order
        item = pending.pop(0)
        if isinstance(item, list):
            pending[:0] = item
        else:
            keys.append(item)
    values = [graph.get(key) for key in keys]
    if all(isinstance(v, future) and v.client is client for v in values):
        return values
    return None


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


def persist_if_cheap(arrays):
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


class Blocks:
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
    n_rows : tuple of int
        The number of rows of each block.
    w : list of Delayed or None
        The blocks of ``sample_weight`` (None when unweighted).
    weighted : bool
        Whether there are sample weights.
    mean : ndarray of shape (n_features,) or None
        The centring used by the passes, set after validation.
    """

    def __init__(self, X, sample_weight, *, persist=True):
        if persist and sample_weight is None:
            (X,) = persist_if_cheap([X])
        elif persist:
            X, sample_weight = persist_if_cheap([X, sample_weight])
        # Holding the arrays holds their futures: without them a cluster
        # would forget the persisted blocks the delayed objects point to.
        self.arrays = (X, sample_weight)
        self.dtype = X.dtype
        self.n_rows = X.chunks[0]
        self.weighted = sample_weight is not None
        self.mean = None
        # Data persisted on the active cluster is passed over with futures:
        # a task per block submitted straight to the scheduler, no graph to
        # build or optimise (the bulk of a pass's overhead with delayed).
        # Otherwise (local schedulers, data streamed each pass) delayed.
        self.client = _active_client() if persist else None
        if self.client is not None:
            x = _futures_of_blocks(X, self.client)
            w = (
                None
                if sample_weight is None
                else (_futures_of_blocks(sample_weight, self.client))
            )
            if x is None or (self.weighted and w is None):
                self.client = None
        if self.client is not None:
            self.x = x
            self.w = [None] * len(x) if w is None else w
            return
        self.x = list(X.to_delayed().ravel())
        if sample_weight is None:
            self.w = [None] * len(self.x)
        else:
            self.w = list(sample_weight.to_delayed().ravel())

    def subset(self, x, w, n_rows):
        """These blocks' client, centring and dtype over other per-block data
        (``x``, ``w``: tasks, e.g. a sample of each block's rows)."""
        view = copy.copy(self)
        view.x, view.n_rows = list(x), tuple(n_rows)
        view.w = [None] * len(view.x) if w is None else list(w)
        return view

    def call(self, func, *args, **kwargs):
        """One task ``func(*args, **kwargs)``: a future or a delayed object."""
        if self.client is None:
            from dask import delayed

            return delayed(func, pure=False)(*args, **kwargs)
        return self.client.submit(func, *args, pure=False, **kwargs)

    def map(self, func, *per_block, **shared):
        """``func(x_b, w_b, *per_block[b], **shared)`` for every block ``b``.

        On a cluster the tasks go to the scheduler in one message
        (``Client.map``), not one message per block.
        """
        if self.client is not None:
            blocks = (self.x, self.w, *per_block)
            return self.client.map(func, *blocks, pure=False, **shared)
        shared = {key: _shared(value) for key, value in shared.items()}
        return [
            self.call(func, x, w, *(values[b] for values in per_block), **shared)
            for b, (x, w) in enumerate(zip(self.x, self.w, strict=True))
        ]

    def tree(self, parts, combine):
        """Combine ``parts`` in a fixed tree: deterministic, any scheduler."""
        return _tree(parts, lambda *chunk: self.call(combine, *chunk))

    def items(self, values, index):
        """``value[index]`` of each of ``values``, one task each.

        On a cluster the task runs where the value is: a reduction that
        needs only a small item of a block's result (its sums, not its
        state) then moves only that item between workers.
        """
        if self.client is not None:
            indices = [index] * len(values)
            return self.client.map(operator.getitem, values, indices, pure=False)
        return [self.call(operator.getitem, value, index) for value in values]

    def keep(self, *values):
        """Start computing ``values`` and keep them on the workers."""
        if self.client is None:
            import dask

            return dask.persist(*values)
        return values  # futures run and stay as soon as they are submitted

    def fetch(self, *values):
        """Bring ``values`` (nested lists and tuples of them too) back."""
        if self.client is None:
            import dask

            return dask.compute(*values)
        return tuple(self.client.gather(list(values)))

    def reduce(self, func, *per_block, combine=sum_parts, **shared):
        """Tree-reduce ``func`` over the blocks and bring the result back."""
        (total,) = self.fetch(self.tree(self.map(func, *per_block, **shared), combine))
        return total

    def seeds(self, entropy, *prefix):
        """One independent ``SeedSequence`` per block for a given draw."""
        return [
            np.random.SeedSequence(entropy, spawn_key=(*prefix, b))
            for b in range(len(self.x))
        ]


def concat_parts(*parts):
    """Element-wise concatenation of equal-length tuples of arrays."""
    return tuple(np.concatenate(values) for values in zip(*parts, strict=True))
