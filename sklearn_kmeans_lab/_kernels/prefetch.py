"""A hint to the CPU to start loading a row of X into cache.

A late pass of a run computes 5 to 20 % of the rows, scattered over X: at
10^5 x 10 (8 MB, more than this machine's share of cache) each is a load
from memory, and gathering them one after the other waits out each load's
latency.  The scan that finds those rows (``batched_pass.scan_bounds``)
hints each one as it finds it, a batch's worth of scanning before the
gather reads it, so that the loads overlap (where X is too large to stay in
cache: ``worth_hinting``).  A prefetch changes no value:
the hardware may ignore it, and an address it cannot reach is not a fault.
"""

import numba
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

# A cache line's bytes, on every platform numba targets that has a prefetch.
_CACHE_LINE = 64
# Data this small stays in a core's cache between passes: hinting its rows
# only adds instructions to the scan (at 10^4 x 2, a late pass took half as
# long again with them).
_HINT_MIN_BYTES = 1 << 20


@intrinsic
def _prefetch_item(typingctx, array, row, col):
    """``llvm.prefetch`` (read, high locality, data) of ``array[row, col]``
    of a 2-D array."""
    if not (isinstance(array, types.Array) and array.ndim == 2):
        return None
    sig = types.void(array, types.intp, types.intp)

    def codegen(context, builder, signature, args):
        array_type = signature.args[0]
        view = context.make_array(array_type)(context, builder, args[0])
        pointer = cgutils.get_item_pointer(
            context, builder, array_type, view, [args[1], args[2]], wraparound=False
        )
        int32 = ir.IntType(32)
        function_type = ir.FunctionType(
            ir.VoidType(), [cgutils.voidptr_t, int32, int32, int32]
        )
        prefetch = builder.module.declare_intrinsic(
            "llvm.prefetch", [cgutils.voidptr_t], function_type
        )
        # read (0), keep in every cache level (3), data cache (1)
        builder.call(
            prefetch,
            [builder.bitcast(pointer, cgutils.voidptr_t), int32(0), int32(3), int32(1)],
        )
        return context.get_dummy_value()

    return sig, codegen


@numba.njit(nogil=True, cache=True, inline="always")
def worth_hinting(X):
    """Whether X is too large to stay in cache, so that hinting the rows a
    pass needs pays."""
    return X.shape[0] * X.shape[1] * X.itemsize >= _HINT_MIN_BYTES


@numba.njit(nogil=True, cache=True, inline="always")
def prefetch_row(X, i):
    """Hint every cache line of row ``i`` of X (n_samples, n_features), C
    order."""
    n_features = X.shape[1]
    step = max(1, _CACHE_LINE // X.itemsize)
    for f in range(0, n_features, step):
        _prefetch_item(X, i, f)
    # a row that starts inside a line ends in the next one
    _prefetch_item(X, i, n_features - 1)


@numba.njit(nogil=True, cache=True, inline="always")
def hint_last_found(X, last, i, found):
    """Hint the last row a scan has found: row ``i`` if ``found``, else
    ``last`` again (a hint to a line on its way costs little), so that the
    scan does not branch on each row.  Returns that row."""
    last = i if found else last
    prefetch_row(X, last)
    return last
