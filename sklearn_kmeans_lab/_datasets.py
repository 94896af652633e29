"""Synthetic income/age data with known clusters: the classic income/age K-Means
lesson's running example."""

import inspect
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils import shuffle as shuffle_arrays

from sklearn_kmeans_lab._compat import Interval, validate_params
from sklearn_kmeans_lab._doc_link import DocLinkMixin

# Shared by the function (through ``validate_params``) and the class (through
# ``_parameter_constraints``) so that both validate the recipe the same way.
_RECIPE_CONSTRAINTS = {
    "n_samples": [Interval(Integral, 1, None, closed="left")],
    "n_clusters": [Interval(Integral, 1, None, closed="left")],
    "income_range": [tuple],
    "age_range": [tuple],
    "income_std": [Interval(Real, 0, None, closed="left")],
    "age_std": [Interval(Real, 0, None, closed="left")],
    "shuffle": ["boolean"],
    "random_state": ["random_state"],
}

_FEATURE_NAMES = ("income", "age")
# No normal deviate numpy draws from 53-bit uniforms exceeds about 14 in
# absolute value (the polar method's largest is sqrt(-2 log 2**-104) ~ 12);
# a point lies within this many standard deviations of its centre.
_MAX_DEVIATES = 40.0
_FLOAT_MAX = float(np.finfo(np.float64).max)
_TARGET_NAME = "cluster"


def _check_range(name, value):
    """Return ``value`` as two floats ``(low, high)``, or raise naming ``name``."""
    if len(value) != 2 or not all(
        isinstance(v, Real) and np.isfinite(v) for v in value
    ):
        raise ValueError(
            f"{name} must be a tuple (low, high) of two finite numbers; got {value!r}."
        )
    low, high = float(value[0]), float(value[1])
    if not low < high:
        raise ValueError(f"{name} must satisfy low < high; got {value!r}.")
    if high - low > _FLOAT_MAX:
        raise ValueError(
            f"{name} must be narrower than the float64 range (high - low must "
            f"not overflow); got {value!r}."
        )
    return low, high


def _check_reach(range_name, value, std_name, std):
    """Raise unless every point of the feature stays finite in float64."""
    reach = max(abs(float(v)) for v in value) + _MAX_DEVIATES * float(std)
    if not reach <= _FLOAT_MAX:
        raise ValueError(
            f"{range_name}={value!r} with {std_name}={std!r} can draw values "
            f"beyond the float64 range: max(|low|, |high|) + "
            f"{_MAX_DEVIATES:g} * {std_name} must be at most {_FLOAT_MAX:.6g}."
        )


def _cluster_sizes(n_samples, n_clusters):
    """Split ``n_samples`` as evenly as possible, the remainder to the first ones."""
    sizes = np.full(n_clusters, n_samples // n_clusters)
    sizes[: n_samples % n_clusters] += 1
    return sizes


def _import_pandas():
    try:
        import pandas as pd
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "as_frame=True requires pandas. Install it with "
            "`pip install 'sklearn-kmeans-lab[pandas]'`."
        ) from exc
    return pd


@validate_params(
    {
        **_RECIPE_CONSTRAINTS,
        "return_centers": ["boolean"],
        "as_frame": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def make_income_age_clusters(
    n_samples=100,
    n_clusters=5,
    *,
    income_range=(20_000, 200_000),
    age_range=(20, 70),
    income_std=10_000,
    age_std=2,
    shuffle=False,
    random_state=None,
    return_centers=False,
    as_frame=False,
):
    """Generate people described by income and age, grouped in Gaussian clusters.

    Each cluster has a centre whose income is drawn uniformly from
    ``income_range`` and whose age is drawn uniformly from ``age_range``; its
    points are the centre plus independent Gaussian noise of standard
    deviation ``income_std`` on income and ``age_std`` on age. This is the
    data of the classic income/age K-Means lesson ("Create fake income/age
    clusters for N people in k clusters"), in the style of
    :func:`sklearn.datasets.make_blobs`.

    Parameters
    ----------
    n_samples : int, default=100
        Total number of people. They are divided as equally as possible among
        the clusters; when ``n_samples`` is not a multiple of ``n_clusters`` the
        first ``n_samples % n_clusters`` clusters get one more person (the lesson's
        recipe silently dropped the remainder). Must be at least ``n_clusters``.

    n_clusters : int, default=5
        Number of clusters.

    income_range : tuple of float (low, high), default=(20_000, 200_000)
        Interval, in dollars per year, from which each cluster's income centre
        is drawn uniformly. ``low < high``.

    age_range : tuple of float (low, high), default=(20, 70)
        Interval, in years, from which each cluster's age centre is drawn
        uniformly. ``low < high``.

    income_std : float, default=10_000
        Standard deviation of income around its cluster centre, in dollars.

    age_std : float, default=2
        Standard deviation of age around its cluster centre, in years.

    shuffle : bool, default=False
        Shuffle the rows. The default keeps the clusters in order, as the lesson
        did, so that the rows match it.

    random_state : int, RandomState instance or None, default=None
        Determines random number generation. Pass an int for reproducible
        output across calls. An int seeds a legacy
        :class:`numpy.random.RandomState` (through
        :func:`sklearn.utils.check_random_state`), so ``random_state=10``
        reproduces the lesson's ``np.random.seed(10)`` data bit for bit.

    return_centers : bool, default=False
        If True, also return the centre of each cluster.

    as_frame : bool, default=False
        If True, return ``X`` as a :class:`pandas.DataFrame` with columns
        ``"income"`` and ``"age"``, ``y`` as a :class:`pandas.Series` named
        ``"cluster"`` and the centres (when requested) as a DataFrame with the
        same columns indexed by cluster. Requires pandas.

    Returns
    -------
    X : ndarray of shape (n_samples, 2) or DataFrame
        Income (dollars per year) in the first column, age (years) in the
        second, as float64.

    y : ndarray of shape (n_samples,) or Series
        The integer label of the cluster each person was drawn from.

    centers : ndarray of shape (n_clusters, 2) or DataFrame
        The (income, age) centre of each cluster. Only returned if
        ``return_centers=True``.

    See Also
    --------
    ClusteredIncomeAgeGenerator : The same recipe as an object that can be
        cloned and swept with ``set_params``.
    sklearn.datasets.make_blobs : Isotropic Gaussian blobs.

    Notes
    -----
    The random draws happen in this order, which is what makes the output
    match the lesson: for each cluster in turn, its income centre, its age
    centre, then for each of its points a normal income followed by a normal
    age.

    Every value must stay finite in float64: ``max(|low|, |high|) + 40 * std``
    (no normal draw lies 40 standard deviations from its mean) must not
    exceed the largest float, for income and for age, else a ``ValueError``
    names the parameters.

    The two features live on very different scales: incomes spread over about
    1e5 dollars and ages over a few tens of years, so raw Euclidean distances
    (and hence k-means) see almost only income. Standardise the features, for
    example with ``make_pipeline(StandardScaler(), LloydKMeans())``, before
    clustering.

    Examples
    --------
    >>> from sklearn_kmeans_lab import make_income_age_clusters
    >>> X, y = make_income_age_clusters(n_samples=7, n_clusters=3, random_state=0)
    >>> X.shape
    (7, 2)
    >>> y
    array([0, 0, 0, 1, 1, 2, 2])
    """
    income_low, income_high = _check_range("income_range", income_range)
    age_low, age_high = _check_range("age_range", age_range)
    _check_reach("income_range", income_range, "income_std", income_std)
    _check_reach("age_range", age_range, "age_std", age_std)
    if n_samples < n_clusters:
        raise ValueError(
            f"n_samples={n_samples} must be >= n_clusters={n_clusters}, so that "
            "every cluster gets at least one point."
        )

    generator = check_random_state(random_state)
    sizes = _cluster_sizes(n_samples, n_clusters)
    X = np.empty((n_samples, 2), dtype=np.float64)
    y = np.repeat(np.arange(n_clusters), sizes).astype(int, copy=False)
    centers = np.empty((n_clusters, 2), dtype=np.float64)

    stop = 0
    for cluster, size in enumerate(sizes):
        centers[cluster, 0] = generator.uniform(income_low, income_high)
        centers[cluster, 1] = generator.uniform(age_low, age_high)
        start, stop = stop, stop + size
        # Drawn row by row, income then age: the same stream of normals as
        # the lesson's scalar ``normal(ic, 10000.), normal(ac, 2.)`` calls.
        X[start:stop] = generator.normal(
            loc=centers[cluster], scale=(income_std, age_std), size=(size, 2)
        )

    if shuffle:
        X, y = shuffle_arrays(X, y, random_state=generator)

    if as_frame:
        pd = _import_pandas()
        X = pd.DataFrame(X, columns=list(_FEATURE_NAMES))
        y = pd.Series(y, name=_TARGET_NAME)
        centers = pd.DataFrame(
            centers,
            columns=list(_FEATURE_NAMES),
            index=pd.RangeIndex(n_clusters, name=_TARGET_NAME),
        )

    if return_centers:
        return X, y, centers
    return X, y


class ClusteredIncomeAgeGenerator(DocLinkMixin, BaseEstimator):
    """Recipe for income/age data with known clusters, as a clonable object.

    Holds the parameters of :func:`make_income_age_clusters`, so the recipe
    can be inspected, cloned and swept with ``get_params``/``set_params``.
    :meth:`generate` returns exactly what the function returns for the same
    parameters.

    Parameters
    ----------
    n_samples : int, default=100
        Total number of people, divided as equally as possible among the
        clusters, the remainder going to the first clusters. Must be at least
        ``n_clusters``.

    n_clusters : int, default=5
        Number of clusters.

    income_range : tuple of float (low, high), default=(20_000, 200_000)
        Interval, in dollars per year, from which each cluster's income centre
        is drawn uniformly.

    age_range : tuple of float (low, high), default=(20, 70)
        Interval, in years, from which each cluster's age centre is drawn
        uniformly.

    income_std : float, default=10_000
        Standard deviation of income around its cluster centre, in dollars.

    age_std : float, default=2
        Standard deviation of age around its cluster centre, in years.

    shuffle : bool, default=False
        Shuffle the rows.

    random_state : int, RandomState instance or None, default=None
        Determines random number generation. With an int every call to
        :meth:`generate` returns the same data; with a ``RandomState``
        instance each call continues its stream.

    See Also
    --------
    make_income_age_clusters : The function this object calls.

    Notes
    -----
    Parameters are validated when :meth:`generate` is called, not in
    ``__init__``, as for scikit-learn estimators. Income and age have very
    different scales; see the Notes of :func:`make_income_age_clusters`.

    Examples
    --------
    >>> from sklearn.base import clone
    >>> from sklearn_kmeans_lab import ClusteredIncomeAgeGenerator
    >>> gen = ClusteredIncomeAgeGenerator(n_samples=10, n_clusters=2, random_state=0)
    >>> X, y, centers = gen.generate(return_centers=True)
    >>> X.shape, centers.shape
    ((10, 2), (2, 2))
    >>> X4, y4 = clone(gen).set_params(n_clusters=4).generate()
    >>> y4
    array([0, 0, 0, 1, 1, 1, 2, 2, 3, 3])
    """

    _parameter_constraints = dict(_RECIPE_CONSTRAINTS)

    def __init__(self, *args, **kwargs):
        # The parameters and their defaults are make_income_age_clusters'
        # own (``__signature__`` below, which get_params reads): bound as
        # that function binds them, then stored.
        bound = type(self).__init__.__signature__.bind(self, *args, **kwargs)
        bound.apply_defaults()
        for name, value in list(bound.arguments.items())[1:]:
            setattr(self, name, value)

    __init__.__signature__ = inspect.Signature(
        [
            inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD),
            *(
                parameter
                for name, parameter in inspect.signature(
                    make_income_age_clusters
                ).parameters.items()
                if name in _RECIPE_CONSTRAINTS
            ),
        ]
    )

    def generate(self, *, return_centers=False, as_frame=False):
        """Draw a data set from the recipe.

        Parameters
        ----------
        return_centers : bool, default=False
            If True, also return the centre of each cluster.

        as_frame : bool, default=False
            If True, return pandas objects (columns ``"income"``, ``"age"``
            and a Series ``"cluster"``).

        Returns
        -------
        X : ndarray of shape (n_samples, 2) or DataFrame
            Income (dollars per year) and age (years).

        y : ndarray of shape (n_samples,) or Series
            The integer cluster label of each person.

        centers : ndarray of shape (n_clusters, 2) or DataFrame
            The (income, age) centre of each cluster. Only returned if
            ``return_centers=True``.
        """
        # Validate here, naming this class in the messages; the function
        # validates again, which is cheap.
        self._validate_params()
        return make_income_age_clusters(
            **self.get_params(), return_centers=return_centers, as_frame=as_frame
        )
