"""Every private scikit-learn import of the package, in one place.

scikit-learn does not promise stability for these names; when a release moves
one, this is the only file to change.  Supported: scikit-learn >= 1.6.
"""

from sklearn.base import _fit_context
from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    InvalidParameterError,
    StrOptions,
    validate_params,
)
from sklearn.utils._set_output import _wrap_data_with_container
from sklearn.utils.validation import (
    _check_feature_names_in,
    _check_sample_weight,
    _is_arraylike_not_scalar,
)

__all__ = [
    "HasMethods",
    "Interval",
    "InvalidParameterError",
    "StrOptions",
    "_check_feature_names_in",
    "_check_sample_weight",
    "_fit_context",
    "_is_arraylike_not_scalar",
    "_wrap_data_with_container",
    "validate_params",
]
