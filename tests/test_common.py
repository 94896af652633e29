"""scikit-learn's estimator checks, run on every public estimator.

``SCIPY_ARRAY_API=1`` (set by ``make test``) makes ``check_array_api_input``
run instead of being skipped.
"""

import pytest
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

from sklearn_kmeans_lab import LloydKMeans

ESTIMATORS = [
    LloydKMeans(),
    # the reduced instance scikit-learn's own CI uses for KMeans
    LloydKMeans(n_clusters=2, n_init=2, max_iter=5),
]


def expected_failed_checks(estimator):
    # None: the k-means++ draws are made over a value-based order of the
    # samples, so integer sample weights are equivalent to repeated rows and
    # both sample-weight-equivalence checks pass (they fail for sklearn's
    # KMeans, whose draws depend on row positions).
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
