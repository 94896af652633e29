"""The cache hint of ``_kernels/prefetch.py``: it is emitted, and it changes
no value (the scans that call it are checked bit for bit against the Python
run in ``test_engine.py``)."""

import numba
import numpy as np
import pytest

from sklearn_kmeans_lab._kernels.prefetch import prefetch_row, worth_hinting


@numba.njit
def _row_sums(X, order, hint):
    out = np.zeros(X.shape[0])
    if hint:
        for i in order:
            prefetch_row(X, i)
    for i in order:
        if hint:
            prefetch_row(X, i)
        out[i] = X[i].sum()
    return out


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_features", [1, 2, 7, 8, 9, 16, 17, 65])
def test_hinting_rows_changes_no_value(dtype, n_features):
    rng = np.random.RandomState(n_features)
    X = rng.normal(size=(300, n_features)).astype(dtype)
    before = X.copy()
    order = rng.permutation(300)
    np.testing.assert_array_equal(_row_sums(X, order, True), _row_sums(X, order, False))
    np.testing.assert_allclose(
        _row_sums(X, order, True), X.sum(axis=1), rtol=1e-4, atol=1e-4
    )
    np.testing.assert_array_equal(X, before)
    # a view with strides of its own is hinted at its own elements
    view = X[::3, ::-1]
    rows = np.arange(view.shape[0])
    np.testing.assert_array_equal(
        _row_sums(view, rows, True), _row_sums(view, rows, False)
    )


def test_the_hint_is_emitted_as_an_llvm_prefetch():
    X = np.zeros((4, 10))
    _row_sums(X, np.arange(4), True)
    signature = (numba.typeof(X), numba.typeof(np.arange(4)), numba.boolean)
    assert "@llvm.prefetch" in _row_sums.inspect_llvm(signature)


@numba.njit
def _worth(X, in_place):
    return worth_hinting(X, in_place)


def test_a_pass_that_reads_its_rows_in_place_hints_them_from_smaller_data():
    # 4 MiB and 16 MiB of float64 (see _HINT_IN_PLACE_MIN_BYTES)
    mid, large = np.empty((2**19, 1)), np.empty((2**21, 1))
    small = np.empty((2**19 - 1, 1))
    assert _worth(mid, True) and not _worth(small, True)
    assert not _worth(mid, False) and _worth(large, False)
