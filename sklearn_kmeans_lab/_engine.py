"""``KSelector``'s engine: many fits of ``LloydKMeans`` on a few data sets.

A gap-statistic scan is ``1 + n_refs`` data sets times ``len(k_range)``
values of K, each fitted with ``n_init`` starts: hundreds of small,
independent fits.  The general path (any clusterer) pays for each of them a
clone, ``set_params``, the parameter and data validation, the column means
and variances of the data, the canonical order of its rows and a seeding per
start.  For ``LloydKMeans`` the engine fits every K of a data set at once:

``ManyFits``
    Fits ``LloydKMeans`` at every K of a data set prepared once
    (``PreparedData``): the parameters are validated once; the starts are
    seeded once, at the largest K (``ManyFits.starts``), and the fit at a
    smaller K starts its runs from the first K of those seeds.  k-means++
    chooses its seeds one after the other, each by the ones before it, so
    these are k-means++ seeds of K centres; only the number of candidates
    per seed (``2 + int(log(k))``) is that of the largest K.  Each fit is
    then ``LloydKMeans``'s own orchestration (``LloydKMeans._fit``, every
    run of a quiet fit of dense data in one compiled call) from those
    starts: the fit at the largest K is bit for bit
    ``LloydKMeans(n_clusters=k_max, random_state=seed).fit(X)``, the fit at
    a smaller K that of the same estimator with the shared starts.

    Of a reference set only the best run's inertia is needed
    (``ManyFits.inertias``), and its rows are drawn independently, so its
    first rows are a random sample of it.  A large one is fitted in stages
    (``warm_up_rows``): seeded on its first tenth (hundredth from 10^6
    rows), each start run over those rows (then over its first tenth, from
    10^6 rows), and from there over all its rows.  The runs over all rows
    then start near a local optimum: they take a few iterations, most rows
    skipped by their bounds.

``ReferenceSets``
    The reference sets of the gap statistic, drawn on demand from the
    generator state each set starts at, instead of all ``n_refs * n_samples
    * n_features`` values up front: bit for bit the sets that
    ``_gap.draw_reference_sets`` draws at once, with at most one set (per
    running task) in memory when they are large.
"""

import threading

import numpy as np

from sklearn_kmeans_lab._backends import unscaled_inertia
from sklearn_kmeans_lab._backends.memory import FitData, check_fit_data
from sklearn_kmeans_lab._kmeans import LloydKMeans

# Reference sets are kept between the tasks of a scan (the general path fits
# a set once per K) while they take at most this many bytes in all; larger
# ones are drawn again by each task, so that the memory stays about one set.
_CACHE_BYTES = 2**26
# Uniform values drawn per call when a reference set is drawn in row chunks
# (8 MiB of float64), and the fewest rows of a chunk: a matrix product of a
# few rows may take another BLAS path (a vector product) than the whole set's,
# whereas the rows of one general product do not depend on each other.
_DRAW_CHUNK_VALUES = 2**20
_DRAW_MIN_ROWS = 64
# A reference set's runs start over a tenth of its rows, and those over a
# tenth of that, while a prefix keeps at least _WARM_MIN_ROWS rows and
# _WARM_ROWS_PER_CLUSTER rows per cluster (see ``warm_up_rows``): a start
# converged on a few hundred rows per cluster is near an optimum of the
# whole set, on fewer it is less so.
_WARM_SHRINK = 10
_WARM_MIN_ROWS = 5000
_WARM_ROWS_PER_CLUSTER = 100


def warm_up_rows(n_samples, n_clusters):
    """The prefixes of a reference set of ``n_samples`` rows whose runs at
    up to ``n_clusters`` clusters come first (``ManyFits.inertias``),
    smallest first: ``n_samples // 10``, ``// 100``, ... while they have at
    least ``_WARM_MIN_ROWS`` rows and ``_WARM_ROWS_PER_CLUSTER`` per
    cluster; () for a set too small to gain from it."""
    fewest = max(_WARM_MIN_ROWS, _WARM_ROWS_PER_CLUSTER * n_clusters)
    rows = []
    n_rows = n_samples // _WARM_SHRINK
    while n_rows >= fewest:
        rows.insert(0, n_rows)
        n_rows //= _WARM_SHRINK
    return tuple(rows)


class PreparedData(FitData):
    """Validated in-memory data that serves many fits.

    The column means (the centring) and the feature variances (the
    tolerance), which the backend computes once per data set, and the
    canonical order of the rows (the seeding), kept here, are shared by every
    K and every start.
    """

    def __init__(self, data):
        # the validated data, its centring and moments, as the backend
        # computed them
        self.__dict__.update(vars(data))

    # the canonical order serves every seeding: never released after a fit
    keeps_order = True


def many_fits(estimator, param_name):
    """A ``ManyFits`` for ``estimator``, or None where the general path is
    needed.

    Taken for ``LloydKMeans`` itself (not a subclass, which may override
    ``fit``) with a string ``init``: an array init has one K, a callable one
    is the caller's code.
    """
    if type(estimator) is not LloydKMeans or param_name != "n_clusters":
        return None
    if not isinstance(estimator.init, str):
        return None
    return ManyFits(estimator)


class ManyFits:
    """Fits ``LloydKMeans`` with the parameters of ``estimator`` at any K.

    Parameters
    ----------
    estimator : LloydKMeans
        Its parameters are validated once, by the first fit; it is not
        modified.
    """

    def __init__(self, estimator):
        self.params = estimator.get_params(deep=False)
        # a private template validates the data (validate_data records
        # n_features_in_ on it): the caller's estimator is left untouched
        self.template = LloydKMeans(**self.params)
        self.params_checked = False
        self._prepared = {}
        self._generators = threading.local()

    def __getstate__(self):
        # a task in another process prepares its own data and makes its own
        # generators
        state = {**self.__dict__, "_prepared": {}}
        del state["_generators"]
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._generators = threading.local()

    def generator(self, seed):
        """``RandomState(seed)``, the same stream, without the cost of a new
        generator (seeded first from the OS's entropy, then from ``seed``):
        one generator per thread, seeded again."""
        rng = getattr(self._generators, "rng", None)
        if rng is None:
            rng = self._generators.rng = np.random.RandomState(seed)
        else:
            rng.seed(seed)
        return rng

    def prepare(self, X, sample_weight, keep):
        """``X`` validated and prepared once; kept for the next fits if
        ``keep`` (the data set will be fitted again, as this very array)."""
        if not self.params_checked:
            # in the first fit, so that an error names the fit it stopped
            self.template._validate_params()
            self.params_checked = True
        entry = self._prepared.get(id(X))
        if entry is not None and entry[0] is X and entry[1] is sample_weight:
            return entry[2]
        data = PreparedData(check_fit_data(self.template, X, sample_weight))
        if keep:
            # the entry holds X itself: its id cannot be reused meanwhile
            self._prepared[id(X)] = (X, sample_weight, data)
        return data

    def release(self, X):
        """Forget the prepared data of ``X``: its fits are done."""
        self._prepared.pop(id(X), None)

    def _estimator(self, k, seed):
        """``LloydKMeans`` at ``n_clusters=k``, as ``configured`` would set
        it, with the template's validated ``n_features_in_``."""
        est = LloydKMeans(
            **{**self.params, "n_clusters": int(k), "random_state": int(seed)}
        )
        est.n_features_in_ = self.template.n_features_in_
        return est

    def starts(self, X, sample_weight, k, seed, keep=True, n_rows=None):
        """The centred initial centres of every start of a fit at K with
        ``seed``, (n_init, k, d): the fits at smaller K start from their
        first columns (see the module's docstring).  Seeded on the first
        ``n_rows`` rows of X, where given (``FitData.prefix``)."""
        data = self.prepare(X, sample_weight, keep)
        if n_rows is not None:
            data = data.prefix(n_rows)
        est = self._estimator(k, seed)
        est._check_params_vs_input(data)
        return est._initial_centers(data, self.generator(int(seed)))

    def fit(self, X, sample_weight, k, seed, keep=True, starts=None):
        """``LloydKMeans`` fitted at ``n_clusters=k, random_state=seed``.

        The same fit, bit for bit, as ``clone(estimator).set_params(...)
        .fit(X, sample_weight=sample_weight)``; or, given ``starts`` of a
        larger K (``ManyFits.starts``), the fit from their first ``k``
        centres.  ``keep``: keep the prepared data for the next fits of this
        array.
        """
        data = self.prepare(X, sample_weight, keep)
        est = self._estimator(k, seed)
        # the generator check_random_state(seed) would make, for the fit only:
        # the fitted estimator's parameters are the general path's
        est.random_state = self.generator(int(seed))
        try:
            est._fit(data, None if starts is None else starts[:, :k])
        finally:
            est.random_state = int(seed)
        return est

    def inertia(self, X, sample_weight, k, starts, keep=True):
        """The inertia of the best run at K from ``starts`` (of a larger K:
        their first ``k`` centres), as the run computes it.

        All the gap statistic needs of a reference set's fit: the fit's run
        and choice of the best run, without what only a fitted estimator
        needs (its labels and ``inertia_`` against the returned centres,
        recomputed as ``predict`` and ``score`` compute them).  It differs
        from that ``inertia_`` by rounding.
        """
        data = self.prepare(X, sample_weight, keep)
        est = self._estimator(k, 0)  # no seed drawn: the starts are given
        est._check_params_vs_input(data)
        best = est._best_run(data, starts[:, :k], with_inertia=True)
        return unscaled_inertia(best.inertia, data.weight_exponent, stacklevel=4)

    def inertias(self, X, sample_weight, ks, starts, keep=True, warm_rows=()):
        """``inertia`` at every K of ``ks`` (each at least 2, at most the
        largest K of ``starts``): the same values, the runs of every K in one
        compiled call where they can (``FitData.best_inertias``), K by K
        elsewhere.

        ``warm_rows`` (increasing row counts, each less than X's): before
        the runs over X, each start at each K is run over the first
        ``warm_rows[0]`` rows of X (``FitData.converged_starts``), from
        where it ended over the first ``warm_rows[1]`` rows, and so on; the
        runs over X start where those end.  For rows drawn
        independently (a reference set), so that a prefix is a random sample
        of them.
        """
        data = self.prepare(X, sample_weight, keep)
        # the checks of the largest K are those of every smaller one (the
        # tolerance and n_init do not depend on K)
        est = self._estimator(max(ks), 0)
        est._check_params_vs_input(data)
        run = {"max_iter": est.max_iter, "tol": est._tol}
        starts_at = np.broadcast_to(starts, (len(ks),) + starts.shape)
        for n_rows in warm_rows:
            starts_at = data.prefix(n_rows).converged_starts(starts_at, ks, **run)
        values = None
        if not est.verbose:
            values = data.best_inertias(starts_at, ks, **run)
        if values is None:
            values = np.full(len(ks), np.nan)
        inertias = []
        for k, value, k_starts in zip(ks, values, starts_at, strict=True):
            if np.isnan(value):
                inertias.append(self.inertia(X, sample_weight, k, k_starts, keep))
            else:
                inertias.append(
                    unscaled_inertia(value, data.weight_exponent, stacklevel=4)
                )
        return inertias


class ReferenceSets:
    """The ``n_refs`` reference sets of a gap scan, drawn on demand.

    Records the state of ``random_state`` at the start of every set (and
    leaves it where drawing all of them leaves it), so that set ``b`` is
    drawn, in row chunks, by whichever task needs it: the values of
    ``draw_reference_sets(box, n_samples, n_refs, random_state=...)[b]``.

    Parameters
    ----------
    box : ReferenceBox
    n_samples, n_refs : int
    random_state : RandomState
    dtype : numpy dtype
    """

    def __init__(self, box, n_samples, n_refs, random_state, dtype):
        self.box = box
        self.n_samples = n_samples
        self.dtype = np.dtype(dtype)
        n_values = n_samples * box.low.shape[0]
        self.states = []
        for _ in range(n_refs):
            self.states.append(random_state.get_state())
            for start in range(0, n_values, _DRAW_CHUNK_VALUES):
                random_state.uniform(size=min(_DRAW_CHUNK_VALUES, n_values - start))
        n_features = box.center.shape[0]
        set_bytes = n_samples * n_features * self.dtype.itemsize
        # whether a set, once drawn, is kept (and the same array returned)
        self.keeps = n_refs * set_bytes <= _CACHE_BYTES
        self._kept = {}

    def __len__(self):
        return len(self.states)

    def __getstate__(self):
        return {**self.__dict__, "_kept": {}}

    def __getitem__(self, b):
        if b in self._kept:
            return self._kept[b]
        Z = self.draw(b)
        if self.keeps:
            self._kept[b] = Z
        return Z

    def draw(self, b):
        """Reference set ``b``, of shape (n_samples, n_features)."""
        box = self.box
        rng = np.random.RandomState()
        rng.set_state(self.states[b])
        n_components = box.low.shape[0]
        span = box.high - box.low
        out = np.empty((self.n_samples, box.center.shape[0]), dtype=self.dtype)
        rows = max(_DRAW_MIN_ROWS, _DRAW_CHUNK_VALUES // n_components)
        # chunks of about equal size: no last chunk of a few rows
        n_chunks = -(-self.n_samples // rows)
        rows = -(-self.n_samples // n_chunks)
        for start in range(0, self.n_samples, rows):
            stop = min(start + rows, self.n_samples)
            # the arithmetic of draw_reference_sets, row by row the same
            chunk = box.low + span * rng.uniform(size=(stop - start, n_components))
            if box.rotation is not None:
                chunk = chunk @ box.rotation.T
            chunk += box.center
            out[start:stop] = chunk
        return out
