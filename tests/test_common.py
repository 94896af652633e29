"""scikit-learn's estimator checks, run on every public estimator.

``SCIPY_ARRAY_API=1`` (set by ``make test``) makes ``check_array_api_input``
run instead of being skipped.
"""

from pathlib import Path

import pytest
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import (
    check_dataframe_column_names_consistency,
    check_get_feature_names_out_error,
    check_global_output_transform_pandas,
    check_param_validation,
    check_set_output_transform,
    check_set_output_transform_pandas,
    check_transformer_get_feature_names_out,
    check_transformer_get_feature_names_out_pandas,
    parametrize_with_checks,
)

from sklearn_kmeans_lab import ClusteredIncomeAgeGenerator, KSelector, LloydKMeans
from sklearn_kmeans_lab._doc_link import DOCUMENTATION_URL

ESTIMATORS = [
    LloydKMeans(),
    # the reduced instance scikit-learn's own CI uses for KMeans
    LloydKMeans(n_clusters=2, n_init=2, max_iter=5),
    # reduced selectors (the default one fits 10 x 21 ten-start k-means per
    # fit): the gap statistic, and the silhouette path
    KSelector(LloydKMeans(n_init=2, max_iter=20), k_range=range(1, 5), n_refs=3),
    KSelector(
        LloydKMeans(n_init=2, max_iter=20), k_range=range(1, 5), criterion="silhouette"
    ),
]


def expected_failed_checks(estimator):
    # None: the k-means++ draws are made over a value-based order of the
    # samples, so integer sample weights are equivalent to repeated rows and
    # both sample-weight-equivalence checks pass (they fail for sklearn's
    # KMeans, whose draws depend on row positions).
    # KSelector with the gap: its reference sets have one row per sample of X
    # and carry the weights, so weights equal repeated rows only in
    # distribution: the two fits draw different reference sets, and with
    # n_refs=3 on the check's 15 unstructured samples the gap's noise decides
    # between K=1 and K=4 (it chose K=1 for both under one set of draws and
    # not under another).
    if isinstance(estimator, KSelector) and estimator.criterion == "gap":
        reason = (
            "the gap's reference sets of weighted samples equal those of "
            "repeated rows in distribution only, not draw for draw"
        )
        return {"check_sample_weight_equivalence_on_dense_data": reason}
    if isinstance(estimator, KSelector):
        reason = (
            "sklearn.metrics' silhouette, Calinski-Harabasz and Davies-Bouldin "
            "take no sample weights: repeated rows change the index, weights do not"
        )
        return {"check_sample_weight_equivalence_on_dense_data": reason}
    return {}


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failed_checks)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


EXTRA_CHECKS = [
    check_param_validation,
    check_dataframe_column_names_consistency,
    check_transformer_get_feature_names_out,
    check_transformer_get_feature_names_out_pandas,
    check_get_feature_names_out_error,
    check_set_output_transform,
    check_set_output_transform_pandas,
    check_global_output_transform_pandas,
]


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=repr)
@pytest.mark.parametrize("check", EXTRA_CHECKS, ids=lambda c: c.__name__)
def test_sklearn_extra_checks(estimator, check):
    # the checks scikit-learn's own test_common.py applies to KMeans
    check(type(estimator).__name__, estimator)


def _api_reference_names():
    """The names ``docs/api.rst`` lists under its autosummary directives."""
    api = Path(__file__).parents[1] / "docs" / "api.rst"
    names, listing = set(), False
    for line in api.read_text().splitlines():
        if line.startswith(".. autosummary::"):
            listing = True
        elif listing and line.strip() and not line.strip().startswith(":"):
            if not line.startswith(" "):
                listing = False
            else:
                names.add(line.strip())
    return names


@pytest.mark.parametrize(
    "estimator",
    [LloydKMeans(), KSelector(), ClusteredIncomeAgeGenerator()],
    ids=lambda e: type(e).__name__,
)
def test_html_repr_links_the_estimators_api_reference_page(estimator):
    name = type(estimator).__name__
    # the page autosummary generates for a name listed in docs/api.rst
    assert name in _api_reference_names()
    expected = f"{DOCUMENTATION_URL}/generated/sklearn_kmeans_lab.{name}.html"
    assert estimator._get_doc_link() == expected
    assert f'href="{expected}"' in estimator._repr_html_()
    if hasattr(estimator, "fit"):
        # a pipeline step keeps its own link, and scikit-learn's steps theirs
        html = make_pipeline(StandardScaler(), estimator)._repr_html_()
        assert f'href="{expected}"' in html
        assert "scikit-learn.org" in html
