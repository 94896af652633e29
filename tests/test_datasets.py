"""Specification of the income/age generator, function and class."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_array_equal
from sklearn.base import clone

from sklearn_kmeans_lab import ClusteredIncomeAgeGenerator, make_income_age_clusters
from sklearn_kmeans_lab._compat import InvalidParameterError


def seed_article_data(N, k):
    """The seed article's createClusteredData, written from its text.

    It seeds numpy's global generator with 10 and appends scalar draws; the
    global state is restored afterwards so other tests are not disturbed.
    """
    saved = np.random.get_state()
    try:
        np.random.seed(10)
        rows = []
        for _ in range(k):
            income_centroid = np.random.uniform(20000.0, 200000.0)
            age_centroid = np.random.uniform(20.0, 70.0)
            for _ in range(int(float(N) / k)):
                rows.append(
                    [
                        np.random.normal(income_centroid, 10000.0),
                        np.random.normal(age_centroid, 2.0),
                    ]
                )
        return np.array(rows)
    finally:
        np.random.set_state(saved)


def test_seed_10_reproduces_the_seed_article_bit_for_bit():
    X, _ = make_income_age_clusters(100, 5, random_state=10)
    assert_array_equal(X, seed_article_data(100, 5))


def test_first_rows_match_the_seed_when_the_seed_drops_a_remainder():
    # The seed drops the 3 left-over people of 103 = 5 * 20 + 3; its 100 rows
    # are not ours (clusters get 21 points), but the first cluster's first 20
    # rows are drawn from the same stream.
    X, _ = make_income_age_clusters(103, 5, random_state=10)
    assert_array_equal(X[:20], seed_article_data(103, 5)[:20])


def test_remainder_is_spread_over_the_first_clusters():
    _, y = make_income_age_clusters(103, 5, random_state=0)
    assert_array_equal(np.bincount(y), [21, 21, 21, 20, 20])


def test_output_shapes_and_dtypes():
    X, y, centers = make_income_age_clusters(37, 4, random_state=0, return_centers=True)
    assert X.shape == (37, 2) and X.dtype == np.float64
    assert y.shape == (37,) and np.issubdtype(y.dtype, np.integer)
    assert centers.shape == (4, 2) and centers.dtype == np.float64
    assert_array_equal(np.unique(y), np.arange(4))


def test_unshuffled_labels_are_in_cluster_order():
    _, y = make_income_age_clusters(10, 3, random_state=0)
    assert_array_equal(y, [0, 0, 0, 0, 1, 1, 1, 2, 2, 2])


def test_centres_lie_in_the_given_ranges():
    _, _, centers = make_income_age_clusters(
        200,
        50,
        income_range=(1_000, 2_000),
        age_range=(30, 31),
        random_state=0,
        return_centers=True,
    )
    assert np.all((centers[:, 0] >= 1_000) & (centers[:, 0] < 2_000))
    assert np.all((centers[:, 1] >= 30) & (centers[:, 1] < 31))


def test_zero_std_puts_every_point_on_its_centre():
    X, y, centers = make_income_age_clusters(
        12, 3, income_std=0, age_std=0, random_state=0, return_centers=True
    )
    assert_array_equal(X, centers[y])


def test_stds_scale_the_spread_around_the_centres():
    X, y, centers = make_income_age_clusters(
        20_000, 2, income_std=500, age_std=3, random_state=0, return_centers=True
    )
    np.testing.assert_allclose((X - centers[y]).std(axis=0), [500, 3], rtol=0.03)


def test_same_int_seed_gives_the_same_data_and_another_seed_differs():
    X1, _ = make_income_age_clusters(random_state=3)
    X2, _ = make_income_age_clusters(random_state=3)
    X3, _ = make_income_age_clusters(random_state=4)
    assert_array_equal(X1, X2)
    assert not np.array_equal(X1, X3)


def test_a_random_state_instance_continues_its_stream():
    rng = np.random.RandomState(0)
    X1, _ = make_income_age_clusters(random_state=rng)
    X2, _ = make_income_age_clusters(random_state=rng)
    assert not np.array_equal(X1, X2)


def test_shuffle_permutes_rows_and_labels_together():
    X, y = make_income_age_clusters(50, 5, random_state=1)
    Xs, ys = make_income_age_clusters(50, 5, random_state=1, shuffle=True)
    assert not np.array_equal(y, ys)
    order = np.lexsort(Xs.T)
    reference_order = np.lexsort(X.T)
    assert_array_equal(Xs[order], X[reference_order])
    assert_array_equal(ys[order], y[reference_order])


@pytest.mark.parametrize("return_centers", [False, True])
@pytest.mark.parametrize(
    "params",
    [
        {},
        {"n_samples": 31, "n_clusters": 4, "shuffle": True},
        {"income_range": (0, 1), "age_range": (-5, 5), "income_std": 0.1},
    ],
)
def test_generator_returns_what_the_function_returns(params, return_centers):
    params = {**params, "random_state": 7}
    expected = make_income_age_clusters(**params, return_centers=return_centers)
    got = ClusteredIncomeAgeGenerator(**params).generate(return_centers=return_centers)
    assert len(got) == len(expected)
    for a, b in zip(got, expected, strict=True):
        assert_array_equal(a, b)


def test_generator_has_the_function_parameters_except_the_output_options():
    import inspect

    function_params = set(inspect.signature(make_income_age_clusters).parameters)
    assert set(ClusteredIncomeAgeGenerator().get_params()) == function_params - {
        "return_centers",
        "as_frame",
    }


def test_generator_clones_and_sweeps_with_set_params():
    generator = ClusteredIncomeAgeGenerator(random_state=0)
    swept = clone(generator).set_params(n_clusters=3, age_std=0.5)
    assert generator.n_clusters == 5
    X, y = swept.generate()
    X_expected, y_expected = make_income_age_clusters(
        n_clusters=3, age_std=0.5, random_state=0
    )
    assert_array_equal(X, X_expected)
    assert_array_equal(y, y_expected)


def test_as_frame_returns_named_pandas_objects_with_the_same_values():
    pd = pytest.importorskip("pandas")
    X, y, centers = make_income_age_clusters(20, 2, random_state=0, return_centers=True)
    Xf, yf, centers_f = ClusteredIncomeAgeGenerator(20, 2, random_state=0).generate(
        return_centers=True, as_frame=True
    )
    assert isinstance(Xf, pd.DataFrame) and list(Xf.columns) == ["income", "age"]
    assert isinstance(yf, pd.Series) and yf.name == "cluster"
    assert isinstance(centers_f, pd.DataFrame)
    assert list(centers_f.columns) == ["income", "age"]
    assert_array_equal(Xf.to_numpy(), X)
    assert_array_equal(yf.to_numpy(), y)
    assert_array_equal(centers_f.to_numpy(), centers)


@pytest.mark.parametrize(
    "params, error, match",
    [
        ({"income_range": (5, 1)}, ValueError, "income_range must satisfy low < high"),
        ({"age_range": (30, 30)}, ValueError, "age_range must satisfy low < high"),
        ({"age_range": (1, 2, 3)}, ValueError, "age_range must be a tuple"),
        ({"income_range": (0, np.inf)}, ValueError, "two finite numbers"),
        # finite bounds whose difference or reach overflows float64
        ({"income_range": (-1e308, 1e308)}, ValueError, "high - low must not"),
        ({"age_range": (-1.7e308, 1.7e308)}, ValueError, "narrower than the float64"),
        ({"income_std": 1e308}, ValueError, r"income_std=1e\+308 can draw values"),
        (
            {"age_range": (1.7e308, 1.79e308), "age_std": 1e307},
            ValueError,
            r"max\(\|low\|, \|high\|\) \+ 40 \* age_std must be at most",
        ),
        ({"income_std": np.inf}, InvalidParameterError, "'income_std'"),
        ({"income_range": [0, 1]}, InvalidParameterError, "'income_range'"),
        ({"income_std": -1}, InvalidParameterError, "'income_std'"),
        ({"age_std": -0.5}, InvalidParameterError, "'age_std'"),
        ({"n_clusters": 0}, InvalidParameterError, "'n_clusters'"),
        ({"n_samples": 3, "n_clusters": 5}, ValueError, "n_samples=3 must be >="),
    ],
)
def test_invalid_recipes_raise_errors_naming_the_parameter(params, error, match):
    with pytest.raises(error, match=match):
        make_income_age_clusters(**params)
    with pytest.raises(error, match=match):
        ClusteredIncomeAgeGenerator(**params).generate()


def test_generator_validates_at_generate_time_naming_the_class():
    generator = ClusteredIncomeAgeGenerator(income_std=-1)  # no error yet
    with pytest.raises(InvalidParameterError, match="ClusteredIncomeAgeGenerator"):
        generator.generate()


FLOAT_MAX = np.finfo(np.float64).max
any_finite = st.floats(allow_nan=False, allow_infinity=False)


@given(
    bounds=st.tuples(any_finite, any_finite),
    std=st.floats(0, FLOAT_MAX),
    feature=st.sampled_from(["income", "age"]),
)
def test_any_finite_recipe_gives_finite_data_or_a_value_error(bounds, std, feature):
    low, high = bounds
    params = {f"{feature}_range": bounds, f"{feature}_std": std}
    usable = (
        low < high
        and high - low <= FLOAT_MAX
        and max(abs(low), abs(high)) + 40 * std <= FLOAT_MAX
    )
    if not usable:
        with pytest.raises(ValueError, match=f"{feature}_range"):
            make_income_age_clusters(6, 3, random_state=0, **params)
        return
    X, _, centers = make_income_age_clusters(
        6, 3, random_state=0, return_centers=True, **params
    )
    assert np.isfinite(X).all() and np.isfinite(centers).all()
