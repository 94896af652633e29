"""The canonical order of the rows, and weighted draws over it.

Every weighted draw of the seeding is an inverse-CDF draw over the samples
taken in a *canonical order*, an order that depends on the rows' values and
not on their positions: the samples sorted by a key (a fixed projection of the
row), ties by index.  The sort is lazy: samples are put into key-range
buckets, and only the bucket a draw lands in is sorted.  The probability mass
of each sample is quantised to an integer (``QuantisedMasses``), so bucket
totals are exact sums whatever the order in which they are added: the draws,
hence the seeds, are the same whatever the order of the rows.
"""

import functools
import math

import numpy as np
import scipy.sparse as sp

from sklearn_kmeans_lab._kernels import seeding as kernels
from sklearn_kmeans_lab._kernels.kmeans_plusplus import mass_scale

_N_BUCKETS = 2**14  # bucket ids fit a uint16
# A bucket with more members than this is split again by key range when a
# draw lands in it, rather than sorted whole.
_SORT_MAX = 4096
# The compiled seeding cuts the canonical order into about one bucket per
# this many samples (at most _N_BUCKETS): a draw then sums few bucket totals.
_SAMPLES_PER_BUCKET = 16


def _bucket_scale(low, high, n_buckets):
    # exact min and max: the same buckets whatever the order of the rows
    return n_buckets / (high - low) if high > low else 0.0


@functools.lru_cache(maxsize=8)
def key_direction(n_features):
    """The fixed generic direction the keys project rows on (shared: never
    written to; not flagged read-only, which numba would compile apart).

    No small-integer relation between its coordinates, so distinct rows
    (even of integer data) do not tie.  Cached: drawing it took about a
    tenth of a millisecond, a fortieth of a fit at 1797 x 64.
    """
    return np.random.RandomState(0).uniform(0.5, 1.5, size=n_features)


class CanonicalOrder:
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
        self.direction = key_direction(n_features)
        self.buckets = np.empty(n_samples, dtype=np.uint16)
        if sp.issparse(X):
            X = sorted_csr(X)
            csr = (X.data, X.indices, X.indptr, self.direction)
            low, high, largest = kernels.sparse_key_range(*csr)
            self.low, self.scale = low, _bucket_scale(low, high, _N_BUCKETS)
            kernels.sparse_buckets(*csr, low, self.scale, _N_BUCKETS, self.buckets)
        else:
            low, high, largest = kernels.dense_key_range(X, self.direction)
            self.low, self.scale = low, _bucket_scale(low, high, _N_BUCKETS)
            kernels.dense_buckets(
                X, self.direction, low, self.scale, _N_BUCKETS, self.buckets
            )
        exponent = math.frexp(largest)[1] if largest > 0 else 0
        # never subnormal: distances are multiplied by its inverse
        self.unit = math.ldexp(1.0, max(exponent - 3, -1000)) if largest > 0 else 1.0
        self._coarse = None
        self._coarse_members = None

    def coarse_buckets(self):
        """Buckets merged ``2**s`` at a time (about ``_SAMPLES_PER_BUCKET``
        samples each), and their number.

        Still monotone in the key, so a draw over them is the same draw:
        it depends on the (key, index) order and the masses alone.
        """
        if self._coarse is None:
            wanted = max(1, -(-len(self.buckets) // _SAMPLES_PER_BUCKET))
            shift = max(0, _N_BUCKETS.bit_length() - 1 - wanted.bit_length())
            coarse = self.buckets if shift == 0 else self.buckets >> shift
            self._coarse = (coarse, _N_BUCKETS >> shift)
        return self._coarse

    def coarse_members(self):
        """The samples grouped by coarse bucket, in index order within a
        bucket, and where each bucket's group starts (n_buckets + 1,): a draw
        finds a bucket's members without a pass over the samples."""
        if self._coarse_members is None:
            coarse, n_buckets = self.coarse_buckets()
            # int32 indices where they fit, by a counting sort: at the peak
            # of a fit's memory (a stable argsort and a bincount held two
            # int64 arrays of n at once: a fifth of X at 10^6 x 10)
            n_samples = len(coarse)
            members = np.empty(
                n_samples, dtype=np.int32 if n_samples < 2**31 else np.int64
            )
            starts = np.empty(n_buckets + 1, dtype=np.int64)
            kernels.group_by_bucket(coarse, members, starts)
            self._coarse_members = (members, starts)
        return self._coarse_members

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
            X = sorted_csr(X)
            kernels.sparse_keys(X.data, X.indices, X.indptr, rows, self.direction, keys)
        else:
            kernels.dense_keys(X, rows, self.direction, keys)
        return keys


def sorted_csr(X):
    X = sp.csr_matrix(X)
    return X if X.has_sorted_indices else X.sorted_indices()


def canonical_order(X):
    """The value-based order of the rows that every weighted draw walks.

    Rows are hashed into buckets by their projection on a fixed direction
    and ordered by that projection within a bucket; equal rows end up
    adjacent, and the order of the points does not depend on where they
    stand in ``X``.  Computed once per fit and shared by its runs.
    """
    return CanonicalOrder(X)


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
        kernels.key_buckets(keys, low, scale, _N_BUCKETS, sub)
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


class QuantisedMasses:
    """The quantised probability mass of every sample, ``w_i * closest_i``.

    ``closest`` is None for masses proportional to the weights alone.
    """

    def __init__(self, X, order, w, weighted, closest, total, totals=None):
        self.X, self.order = X, order
        use_closest = closest is not None
        closest = closest if use_closest else np.ones(1, np.float32)
        self.terms = kernels.Masses(
            w, weighted, closest, use_closest, mass_scale(total)
        )
        if totals is None:
            totals = np.zeros(order.n_buckets, dtype=np.int64)
            kernels.bucket_masses(order.buckets, self.terms, totals)
        self.totals = totals
        self.excluded = []

    @property
    def scale(self):
        return self.terms.scale

    @property
    def total(self):
        return int(self.totals.sum())

    def exclude(self, i):
        """Give sample ``i`` no more mass (drawing without replacement)."""
        mass = np.empty(1, dtype=np.int64)
        kernels.member_masses(np.array([i]), self.terms, mass)
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
            excluded = np.array(self.excluded, dtype=np.int64)
            if kernels.dense_draw(
                self.X,
                self.order.direction,
                self.order.buckets,
                self.totals,
                values,
                self.terms,
                excluded,
                _SORT_MAX,
                picks,
            ):
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
        rows = kernels.members_of(self.order.buckets, wanted)
        picks = []
        for bucket, residual in targets:
            members = rows[self.order.buckets[rows] == bucket]
            masses = np.empty(len(members), dtype=np.int64)
            kernels.member_masses(members, self.terms, masses)
            masses[np.isin(members, self.excluded)] = 0
            keys = self.order.keys(self.X, members)
            picks.append(_pick(members, keys, masses, residual))
        return np.array(picks, dtype=np.intp)
