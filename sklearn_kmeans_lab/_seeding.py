"""Initial centres: greedy k-means++ and weighted random rows.

Every weighted draw is an inverse-CDF draw over the samples taken in a
*canonical order*, an order that depends on the rows' values and not on their
positions: the samples sorted by a key (a fixed projection of the row), ties
by index.  The sort is lazy: samples are put into key-range buckets, and only
the bucket a draw lands in is sorted.
The probability mass of each sample is quantised to an integer, so bucket
totals are exact sums whatever the order in which they are added.  The seeds
are therefore the same points whatever the order of the rows, and a sample of
integer weight ``m`` is drawn (up to a quantisation step of 2**-61 of the
total) as ``m`` repeated copies of it would be: k-means++ honours
scikit-learn's sample-weight equivalence, which scikit-learn's own ``KMeans``
does not.

Memory: besides ``X``, a seeding keeps 6 bytes per sample (a 16-bit bucket id
and the float32 distance to the nearest chosen centre, in units of a power of
two fitted to the data); the distances to the candidates are reduced on the
fly, never stored.
"""

import math

import numba
import numpy as np
import scipy.sparse as sp

from sklearn_kmeans_lab._lloyd import _blas_single_thread

_CHUNK = 256
_GEMM_CHUNK = 1024
_DIRECT_MAX_FEATURES = 16
_N_BUCKETS = 2**14  # bucket ids fit a uint16
# Quantised masses sum to less than 2**61: int64 with room to spare.
_MASS_BITS = 61
# A bucket with more members than this is split again by key range when a
# draw lands in it, rather than sorted whole.
_SORT_MAX = 4096
# Candidate distances this small are kept whatever the size of X.
_KEEP_SMALL = 2**20


# --------------------------------------------------------------------------
# keys and buckets


@numba.njit(nogil=True, cache=True)
def _dense_keys(X, rows, direction, keys):
    """Key of each row: sum over features, in order, of x_f * direction_f."""
    for q in range(len(rows)):
        i = rows[q]
        key = 0.0
        for f in range(X.shape[1]):
            key += float(X[i, f]) * direction[f]
        keys[q] = key


@numba.njit(nogil=True, cache=True)
def _sparse_keys(data, indices, indptr, rows, direction, keys):
    # zeros add exactly nothing, so this equals the dense key when the
    # indices of each row are sorted
    for q in range(len(rows)):
        i = rows[q]
        key = 0.0
        for p in range(indptr[i], indptr[i + 1]):
            key += float(data[p]) * direction[indices[p]]
        keys[q] = key


@numba.njit(nogil=True, cache=True)
def _bucket(key, low, scale, n_buckets):
    # monotone in the key: buckets in order are keys in order
    return min(int((key - low) * scale), n_buckets - 1)


@numba.njit(nogil=True, cache=True)
def _key_buckets(keys, low, scale, n_buckets, out):
    for q in range(len(keys)):
        out[q] = _bucket(keys[q], low, scale, n_buckets)


@numba.njit(nogil=True, cache=True)
def _dense_key_range(X, direction):
    """Smallest and largest key, and the largest squared norm of a row."""
    low = np.inf
    high = -np.inf
    largest = 0.0
    for i in range(X.shape[0]):
        key = 0.0
        sq = 0.0
        for f in range(X.shape[1]):
            v = float(X[i, f])
            key += v * direction[f]
            sq += v * v
        low = min(low, key)
        high = max(high, key)
        largest = max(largest, sq)
    return low, high, largest


@numba.njit(nogil=True, cache=True)
def _dense_buckets(X, direction, low, scale, n_buckets, buckets):
    for i in range(X.shape[0]):
        key = 0.0
        for f in range(X.shape[1]):
            key += float(X[i, f]) * direction[f]
        buckets[i] = _bucket(key, low, scale, n_buckets)


@numba.njit(nogil=True, cache=True)
def _sparse_key_range(data, indices, indptr, direction):
    low = np.inf
    high = -np.inf
    largest = 0.0
    for i in range(len(indptr) - 1):
        key = 0.0
        sq = 0.0
        for p in range(indptr[i], indptr[i + 1]):
            v = float(data[p])
            key += v * direction[indices[p]]
            sq += v * v
        low = min(low, key)
        high = max(high, key)
        largest = max(largest, sq)
    return low, high, largest


@numba.njit(nogil=True, cache=True)
def _sparse_buckets(data, indices, indptr, direction, low, scale, n_buckets, buckets):
    for i in range(len(indptr) - 1):
        key = 0.0
        for p in range(indptr[i], indptr[i + 1]):
            key += float(data[p]) * direction[indices[p]]
        buckets[i] = _bucket(key, low, scale, n_buckets)


def _bucket_scale(low, high, n_buckets):
    # exact min and max: the same buckets whatever the order of the rows
    return n_buckets / (high - low) if high > low else 0.0


class _CanonicalOrder:
    """The samples sorted by key, kept as key-range buckets sorted lazily.

    Attributes
    ----------
    buckets : ndarray of shape (n_samples,), dtype=uint16
        Equal-width key ranges between the smallest and the largest key.
    direction : ndarray of shape (n_features,)
    unit : float
        A power of two at least the squared norm of every row, divided by 8
        (and at least 2**-1000): distances are stored in this unit.
    """

    n_buckets = _N_BUCKETS

    def __init__(self, X):
        n_samples, n_features = X.shape
        # A fixed generic direction: no small-integer relation between its
        # coordinates, so distinct rows (even of integer data) do not tie.
        self.direction = np.random.RandomState(0).uniform(0.5, 1.5, size=n_features)
        self.buckets = np.empty(n_samples, dtype=np.uint16)
        if sp.issparse(X):
            X = _sorted_csr(X)
            csr = (X.data, X.indices, X.indptr, self.direction)
            low, high, largest = _sparse_key_range(*csr)
            self.low, self.scale = low, _bucket_scale(low, high, _N_BUCKETS)
            _sparse_buckets(*csr, low, self.scale, _N_BUCKETS, self.buckets)
        else:
            low, high, largest = _dense_key_range(X, self.direction)
            self.low, self.scale = low, _bucket_scale(low, high, _N_BUCKETS)
            _dense_buckets(X, self.direction, low, self.scale, _N_BUCKETS, self.buckets)
        exponent = math.frexp(largest)[1] if largest > 0 else 0
        # never subnormal: distances are multiplied by its inverse
        self.unit = math.ldexp(1.0, max(exponent - 3, -1000)) if largest > 0 else 1.0

    def last(self, X, candidates=None):
        """The last sample in canonical order (largest key, then index), among
        the ``candidates`` (a boolean mask) if given."""
        buckets = self.buckets if candidates is None else self.buckets[candidates]
        members = np.flatnonzero(self.buckets == buckets.max())
        if candidates is not None:
            members = members[candidates[members]]
        keys = self.keys(X, members)
        return int(members[np.lexsort((members, keys))[-1]])

    def keys(self, X, rows):
        keys = np.empty(len(rows))
        rows = np.asarray(rows, dtype=np.int64)
        if sp.issparse(X):
            X = _sorted_csr(X)
            _sparse_keys(X.data, X.indices, X.indptr, rows, self.direction, keys)
        else:
            _dense_keys(X, rows, self.direction, keys)
        return keys


def _sorted_csr(X):
    X = sp.csr_matrix(X)
    return X if X.has_sorted_indices else X.sorted_indices()


def canonical_order(X):
    """The value-based order of the rows that every weighted draw walks.

    Rows are hashed into buckets by their projection on a fixed direction
    and ordered by that projection within a bucket; equal rows end up
    adjacent, and the order of the points does not depend on where they
    stand in ``X``.  Computed once per fit and shared by its runs.
    """
    return _CanonicalOrder(X)


# --------------------------------------------------------------------------
# quantised masses and draws


@numba.njit(nogil=True, cache=True)
def _mass(w_i, closest_i, scale):
    return np.int64(math.floor(w_i * float(closest_i) * scale))


@numba.njit(nogil=True, cache=True)
def _bucket_masses(buckets, w, weighted, closest, use_closest, scale, totals):
    totals[:] = 0
    for i in range(len(buckets)):
        w_i = w[i] if weighted else 1.0
        c_i = closest[i] if use_closest else 1.0
        totals[buckets[i]] += _mass(w_i, c_i, scale)


@numba.njit(nogil=True, cache=True)
def _members(buckets, wanted):
    """Indices of the samples whose bucket is wanted, in index order."""
    m = 0
    for i in range(len(buckets)):
        m += wanted[buckets[i]]
    out = np.empty(m, dtype=np.int64)
    m = 0
    for i in range(len(buckets)):
        if wanted[buckets[i]]:
            out[m] = i
            m += 1
    return out


@numba.njit(nogil=True, cache=True)
def _member_masses(rows, w, weighted, closest, use_closest, scale, out):
    for q in range(len(rows)):
        i = rows[q]
        w_i = w[i] if weighted else 1.0
        c_i = closest[i] if use_closest else 1.0
        out[q] = _mass(w_i, c_i, scale)


@numba.njit(nogil=True, cache=True)
def _dense_draw(X, direction, buckets, totals, values, w, weighted, closest,
                use_closest, scale, excluded, sort_max, picks):  # fmt: skip
    """``_Masses.draw`` for dense ``X`` in one compiled call.

    The same walk: the bucket where the cumulative bucket total passes each
    value, then its members in (key, index) order (a stable sort of the
    members, taken in index order, by key).  Returns False, having picked
    nothing, when a bucket it lands in has more than ``sort_max`` members:
    the caller then splits that bucket further.
    """
    cumulative = np.cumsum(totals)
    n_targets = len(values)
    target_bucket = np.empty(n_targets, dtype=np.int64)
    residuals = np.empty(n_targets, dtype=np.int64)
    wanted = np.zeros(len(totals), dtype=np.bool_)
    for t in range(n_targets):
        b = np.searchsorted(cumulative, values[t], side="right")
        target_bucket[t] = b
        residuals[t] = values[t] - (cumulative[b] - totals[b])
        wanted[b] = True
    rows = _members(buckets, wanted)
    for t in range(n_targets):
        b = target_bucket[t]
        count = 0
        for i in rows:
            count += buckets[i] == b
        if count > sort_max:
            return False
        members = np.empty(count, dtype=np.int64)
        count = 0
        for i in rows:
            if buckets[i] == b:
                members[count] = i
                count += 1
        masses = np.empty(count, dtype=np.int64)
        _member_masses(members, w, weighted, closest, use_closest, scale, masses)
        for q in range(count):
            for e in excluded:
                if members[q] == e:
                    masses[q] = 0
        keys = np.empty(count)
        _dense_keys(X, members, direction, keys)
        order = np.argsort(keys, kind="mergesort")
        position = count - 1
        running = 0
        for p in range(count):
            running += masses[order[p]]
            if running > residuals[t]:
                position = p
                break
        picks[t] = members[order[position]]
    return True


def _pick(members, keys, masses, residual):
    """The member where the cumulative mass, in (key, index) order, passes
    ``residual``.  Large sets are split by key range first: linear, not a sort.
    """
    while len(members) > _SORT_MAX:
        low, high = keys.min(), keys.max()
        scale = _bucket_scale(low, high, _N_BUCKETS)
        if scale == 0:
            break
        sub = np.empty(len(keys), dtype=np.int64)
        _key_buckets(keys, low, scale, _N_BUCKETS, sub)
        totals = np.zeros(_N_BUCKETS, dtype=np.int64)
        np.add.at(totals, sub, masses)
        cumulative = np.cumsum(totals)
        b = min(
            int(np.searchsorted(cumulative, residual, side="right")), _N_BUCKETS - 1
        )
        residual -= int(cumulative[b] - totals[b])
        inside = sub == b
        members, keys, masses = members[inside], keys[inside], masses[inside]
    order = np.lexsort((members, keys))
    position = np.searchsorted(np.cumsum(masses[order]), residual, side="right")
    return int(members[order[min(position, len(members) - 1)]])


def _mass_scale(total):
    """A power of two, so the quantisation depends on the masses only; total
    a hair high, so that rounding cannot push the sum past 2**_MASS_BITS."""
    exponent = math.frexp(total * (1 + 1e-6))[1] if total > 0 else 0
    # A total below 2**-962 (the masses left are all subnormal-sized, the
    # weights being at most 1) is quantised as if it were 2**-962: masses that
    # round to 0 are those of samples within 2**-1023 of a centre.
    return math.ldexp(1.0, min(_MASS_BITS - exponent, 1023))


class _Masses:
    """The quantised probability mass of every sample, ``w_i * closest_i``.

    ``closest`` is None for masses proportional to the weights alone.
    """

    def __init__(self, X, order, w, weighted, closest, total, totals=None):
        self.X, self.order, self.w, self.weighted = X, order, w, weighted
        self.use_closest = closest is not None
        self.closest = closest if closest is not None else np.ones(1, np.float32)
        self.scale = _mass_scale(total)
        if totals is None:
            totals = np.zeros(order.n_buckets, dtype=np.int64)
            _bucket_masses(order.buckets, w, weighted, self.closest,
                           self.use_closest, self.scale, totals)  # fmt: skip
        self.totals = totals
        self.excluded = []

    @property
    def total(self):
        return int(self.totals.sum())

    def exclude(self, i):
        """Give sample ``i`` no more mass (drawing without replacement)."""
        mass = np.empty(1, dtype=np.int64)
        _member_masses(np.array([i]), self.w, self.weighted, self.closest,
                       self.use_closest, self.scale, mass)  # fmt: skip
        self.totals[self.order.buckets[i]] -= mass[0]
        self.excluded.append(i)

    def draw(self, uniforms):
        """The samples found by inverse CDF at ``uniforms * total``."""
        total = self.total
        values = np.array(
            [min(int(u * total), total - 1) for u in np.atleast_1d(uniforms)],
            dtype=np.int64,
        )
        if not sp.issparse(self.X):
            picks = np.empty(len(values), dtype=np.intp)
            if _dense_draw(self.X, self.order.direction, self.order.buckets,
                           self.totals, values, self.w, self.weighted,
                           self.closest, self.use_closest, self.scale,
                           np.array(self.excluded, dtype=np.int64), _SORT_MAX,
                           picks):  # fmt: skip
                return picks
        # Sparse X, or a bucket too large to sort whole: the same walk, with
        # large buckets split further by key range.
        cumulative = np.cumsum(self.totals)
        buckets = np.searchsorted(cumulative, values, side="right")
        targets = [
            (int(b), int(value - (cumulative[b] - self.totals[b])))
            for b, value in zip(buckets, values, strict=True)
        ]
        wanted = np.zeros(self.order.n_buckets, dtype=np.bool_)
        wanted[[b for b, _ in targets]] = True
        rows = _members(self.order.buckets, wanted)
        picks = []
        for bucket, residual in targets:
            members = rows[self.order.buckets[rows] == bucket]
            masses = np.empty(len(members), dtype=np.int64)
            _member_masses(members, self.w, self.weighted, self.closest,
                           self.use_closest, self.scale, masses)  # fmt: skip
            masses[np.isin(members, self.excluded)] = 0
            keys = self.order.keys(self.X, members)
            picks.append(_pick(members, keys, masses, residual))
        return np.array(picks, dtype=np.intp)


# --------------------------------------------------------------------------
# distances to candidates, reduced on the fly


@numba.njit(nogil=True, cache=True)
def _weighted_sum(values, w, weighted, start, m):
    # four running sums: independent additions, in a fixed order
    a0 = a1 = a2 = a3 = 0.0
    r = 0
    if weighted:
        while r + 4 <= m:
            a0 += values[r] * w[start + r]
            a1 += values[r + 1] * w[start + r + 1]
            a2 += values[r + 2] * w[start + r + 2]
            a3 += values[r + 3] * w[start + r + 3]
            r += 4
        while r < m:
            a0 += values[r] * w[start + r]
            r += 1
    else:
        while r + 4 <= m:
            a0 += values[r]
            a1 += values[r + 1]
            a2 += values[r + 2]
            a3 += values[r + 3]
            r += 4
        while r < m:
            a0 += values[r]
            r += 1
    return (a0 + a1) + (a2 + a3)


@numba.njit(nogil=True, cache=True)
def _dense_trials(X, x_offset, w, weighted, cands, cands_m2, closest, unit,
                  use_gemm, chunk, keep, keeping, x_sq_all, potentials):  # fmt: skip
    """Potential of each candidate: sum of w * min(closest, d(x, candidate)^2).

    Vectorised over the rows of a chunk: a direct loop over the transposed
    centred chunk for few features, else a GEMM straight on the rows of X and
    ||x||^2 + ||c||^2 - 2 <x, c> uncentred (``cands``, ``cands_m2`` are then
    uncentred too; the precision is ample for sampling weights).  With
    ``keeping``, ``keep[t]`` gets the new ``closest`` that candidate t would
    give, and ``x_sq_all`` holds every ||x||^2.
    """
    n_samples, n_features = X.shape
    n_cands = cands.shape[0]
    xt = np.empty((n_features, chunk), dtype=X.dtype)
    dots_buffer = np.empty(n_cands * chunk, dtype=X.dtype)
    c_sq = np.empty(n_cands)
    for t in range(n_cands):
        c_sq[t] = 0.0
        for f in range(n_features):
            c_sq[t] += float(cands[t, f]) ** 2
    x_sq = np.empty(chunk)
    d2 = np.empty(chunk)
    potentials[:] = 0.0
    inv_unit = 1.0 / unit
    for start in range(0, n_samples, chunk):
        m = min(chunk, n_samples - start)
        dots = dots_buffer[: n_cands * m].reshape((n_cands, m))
        if use_gemm:
            if keeping:
                x_sq[:m] = x_sq_all[start : start + m]
            else:
                _row_sq_norms(X, start, m, x_sq)
            np.dot(cands_m2, X[start : start + m].T, dots)
        else:
            for r in range(m):
                for f in range(n_features):
                    xt[f, r] = X[start + r, f] - x_offset[f]
        for t in range(n_cands):
            if use_gemm:
                for r in range(m):
                    d2[r] = max(x_sq[r] + c_sq[t] + float(dots[t, r]), 0.0)
            else:
                for r in range(m):
                    d2[r] = 0.0
                for f in range(n_features):
                    cf = cands[t, f]
                    for r in range(m):
                        diff = float(xt[f, r] - cf)
                        d2[r] += diff * diff
            for r in range(m):
                d2[r] = min(float(closest[start + r]), d2[r] * inv_unit)
            if keeping:
                for r in range(m):
                    keep[t, start + r] = d2[r]
            potentials[t] += _weighted_sum(d2, w, weighted, start, m)
    potentials *= unit


@numba.njit(nogil=True, cache=True)
def _row_sq_norms(X, start, m, out):
    for r in range(m):
        xx = 0.0
        for f in range(X.shape[1]):
            v = float(X[start + r, f])
            xx += v * v
        out[r] = xx


@numba.njit(nogil=True, cache=True)
def _take_closer(kept, closest, buckets, w, weighted, scale, totals):
    """closest = the kept distances of the chosen candidate, and the new
    masses' bucket totals."""
    totals[:] = 0
    for i in range(len(closest)):
        closest[i] = kept[i]
        totals[buckets[i]] += _mass(w[i] if weighted else 1.0, closest[i], scale)


@numba.njit(nogil=True, cache=True)
def _dense_closer(X, x_offset, center, closest, unit, first, buckets, w, weighted,
                  scale, totals):  # fmt: skip
    """closest = min(closest, d(x, center)^2 / unit), stored as float32; with
    ``scale`` > 0, also the new masses' bucket totals."""
    inv_unit = 1.0 / unit
    totals[:] = 0
    for i in range(X.shape[0]):
        d2 = 0.0
        for f in range(X.shape[1]):
            diff = float((X[i, f] - x_offset[f]) - center[f])
            d2 += diff * diff
        d2 *= inv_unit
        if first or d2 < closest[i]:
            closest[i] = d2
        if scale > 0:
            totals[buckets[i]] += _mass(w[i] if weighted else 1.0, closest[i], scale)


@numba.njit(nogil=True, cache=True)
def _sparse_sq_dist(data, indices, indptr, i, center, c_sq):
    d2 = c_sq
    for p in range(indptr[i], indptr[i + 1]):
        c = float(center[indices[p]])
        diff = float(data[p]) - c
        d2 += diff * diff - c * c
    return max(d2, 0.0)


@numba.njit(nogil=True, cache=True)
def _sparse_trials(data, indices, indptr, w, weighted, cands, closest, unit,
                   potentials):  # fmt: skip
    n_samples = len(indptr) - 1
    potentials[:] = 0.0
    inv_unit = 1.0 / unit
    for t in range(cands.shape[0]):
        c_sq = 0.0
        for f in range(cands.shape[1]):
            c_sq += float(cands[t, f]) ** 2
        acc = 0.0
        for i in range(n_samples):
            d2 = _sparse_sq_dist(data, indices, indptr, i, cands[t], c_sq) * inv_unit
            acc += min(float(closest[i]), d2) * (w[i] if weighted else 1.0)
        potentials[t] = acc * unit


@numba.njit(nogil=True, cache=True)
def _sparse_closer(data, indices, indptr, center, closest, unit, first, buckets, w,
                   weighted, scale, totals):  # fmt: skip
    c_sq = 0.0
    for f in range(len(center)):
        c_sq += float(center[f]) ** 2
    inv_unit = 1.0 / unit
    totals[:] = 0
    for i in range(len(indptr) - 1):
        d2 = _sparse_sq_dist(data, indices, indptr, i, center, c_sq) * inv_unit
        if first or d2 < closest[i]:
            closest[i] = d2
        if scale > 0:
            totals[buckets[i]] += _mass(w[i] if weighted else 1.0, closest[i], scale)


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


def _rows(X, indices, x_offset):
    if sp.issparse(X):
        return X[indices].toarray()
    rows = np.array(X[indices])
    return rows if x_offset is None else rows - x_offset


def kmeans_plusplus_centers(
    X,
    n_clusters,
    sample_weight,
    x_squared_norms,
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
    drawn.  ``sample_weight`` None means unit weights; ``x_squared_norms`` is
    not used (kept for the signature); dense ``X`` is used as
    ``X - x_offset`` and the centres are returned in those coordinates.

    Returns
    -------
    centers : ndarray of shape (n_clusters, n_features)
    indices : ndarray of shape (n_clusters,)
    """
    n_samples, n_features = X.shape
    if n_local_trials is None:
        n_local_trials = 2 + int(np.log(n_clusters))
    if order is None:
        order = canonical_order(X)
    sparse = sp.issparse(X)
    weighted = sample_weight is not None
    w = np.ones(1) if not weighted else unit_max_weights(sample_weight)[0]
    total_weight = float(w.sum()) if weighted else float(n_samples)
    offset = np.zeros(n_features, dtype=X.dtype) if x_offset is None else x_offset
    offset = np.ascontiguousarray(offset, dtype=X.dtype)
    use_gemm = not sparse and n_features > _DIRECT_MAX_FEATURES
    if sparse:
        X = _sorted_csr(X)
        csr = (X.data, X.indices, X.indptr)

    totals = np.zeros(order.n_buckets, dtype=np.int64)

    def closer(center, first, scale):
        args = (closest, order.unit, first, order.buckets, w, weighted, scale, totals)
        if sparse:
            _sparse_closer(*csr, center, *args)
        else:
            _dense_closer(X, offset, center, *args)

    # Keeping each candidate's distances spares a pass over X per centre;
    # only where they take little memory next to X, or little memory at all
    # for the direct loop (whose kept distances are exactly those the pass
    # would recompute: the same seeds either way).
    keep_bytes = 4 * n_local_trials * n_samples
    keeping = not sparse and (
        keep_bytes <= X.nbytes // 16 or (not use_gemm and keep_bytes <= _KEEP_SMALL)
    )
    keep = np.empty((n_local_trials, n_samples) if keeping else (1, 1), np.float32)
    x_sq_all = np.empty(n_samples if keeping and use_gemm else 1)
    if keeping and use_gemm:
        _row_sq_norms(X, 0, n_samples, x_sq_all)

    def trials(cands):
        potentials = np.empty(len(cands))
        if sparse:
            _sparse_trials(*csr, w, weighted, cands, closest, order.unit, potentials)
        else:
            chunk = _GEMM_CHUNK if use_gemm else _CHUNK
            if use_gemm:  # uncentred: the GEMM reads X in place
                cands = cands + offset
            _dense_trials(X, offset, w, weighted, cands, -2 * cands, closest,
                          order.unit, use_gemm, chunk, keep, keeping, x_sq_all,
                          potentials)  # fmt: skip
        return potentials

    centers = np.empty((n_clusters, n_features), dtype=X.dtype)
    indices = np.full(n_clusters, -1, dtype=int)
    closest = np.empty(n_samples, dtype=np.float32)
    indices[0] = _Masses(X, order, w, weighted, None, total_weight).draw(
        random_state.uniform()
    )[0]
    centers[0] = _rows(X, indices[[0]], x_offset)[0]
    with _blas_single_thread(use_gemm):
        closer(centers[0], True, 0.0)
        potential = (
            float(np.dot(closest, w) if weighted else closest.sum()) * order.unit
        )
        masses = _Masses(X, order, w, weighted, closest, potential / order.unit)
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
            scale = _mass_scale(potential / order.unit)
            if keeping:
                _take_closer(keep[best], closest, order.buckets, w, weighted, scale,
                             totals)  # fmt: skip
            else:
                closer(centers[c], False, scale)
            masses = _Masses(X, order, w, weighted, closest, potential / order.unit,
                             totals)  # fmt: skip
    return centers, indices


def random_centers(X, n_clusters, sample_weight, random_state, order, *, x_offset=None):
    """``n_clusters`` distinct samples drawn with probability proportional to weight.

    Sequential draws without replacement, each an inverse-CDF draw over the
    not-yet-drawn samples in canonical order.  Zero-weight samples are never
    drawn.  Centres are in the coordinates ``X - x_offset``.
    """
    if order is None:
        order = canonical_order(X)
    weighted = sample_weight is not None
    w = np.ones(1) if not weighted else unit_max_weights(sample_weight)[0]
    total = float(w.sum()) if weighted else float(X.shape[0])
    masses = _Masses(X, order, w, weighted, None, total)
    seeds = np.empty(n_clusters, dtype=np.intp)
    for c in range(n_clusters):
        if masses.total == 0:
            # The weights left are all below the quantisation step of the
            # first total (2**-61 of it): quantise them afresh, on their own.
            left = w.copy()
            left[seeds[:c]] = 0.0
            left = unit_max_weights(left)[0]
            masses = _Masses(X, order, left, True, None, float(left.sum()))
        seeds[c] = masses.draw(random_state.uniform())[0]
        masses.exclude(seeds[c])
    return _rows(X, seeds, x_offset)
