"""A hint to the CPU to start loading a row of X into cache.

A late pass of a run computes 5 to 20 % of the rows, scattered over X.  Where
X is much larger than a core's cache each is a load from memory, and
gathering them one after the other waits out each load's latency.  The scan
that finds a batch's rows (``batched_pass.scan_bounds``) then hints them all,
one after the other, before the gather reads them, so that their loads
overlap (where X is too large to stay in cache: ``worth_hinting``).  A
prefetch changes no value: the hardware may ignore it, and an address it
cannot reach is not a fault.
"""

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

# A cache line's bytes, on every platform numba targets that has a prefetch.
_CACHE_LINE = 64
# Data this small gains nothing from the hints.  The 90 runs of a reference
# set, one thread, on this project's 2-vCPU machines: at 2 x 10^4 x 10
# (1.6 MB) they took 14 % longer with a hint per row scanned (as the scan
# hinted before) than with none; at 10^5 x 10 (8 MB) 2 % longer with hints
# of the rows found; at 4 x 10^5 x 10 (32 MB) 3 to 10 % less time.
_HINT_MIN_BYTES = 1 << 24
# Where the pass reads its rows in place (``row_dots.in_place_dots``) rather
# than copying them first, four rows at a time, each row's load is waited
# out sooner: the hints pay from smaller data.  The runs of a reference set
# at K = 2..10 (10 starts, one thread) took about a third less time with
# them at 10^5 x 10 (8 MB), a tenth less at 5 x 10^4 x 10 (4 MB), and the
# same at 2 x 10^4 x 10 (1.6 MB).
_HINT_IN_PLACE_MIN_BYTES = 1 << 22


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
def worth_hinting(X, in_place=False):
    """Whether X is too large to stay in cache, so that hinting the rows a
    pass needs pays (from smaller X where the pass reads them ``in_place``)."""
    least = _HINT_IN_PLACE_MIN_BYTES if in_place else _HINT_MIN_BYTES
    return X.shape[0] * X.shape[1] * X.itemsize >= least


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
def hint_rows(X, base, rows, lo, hi, in_place=False):
    """Hint rows ``base + rows[lo:hi]`` of X, where ``worth_hinting``."""
    if worth_hinting(X, in_place):
        for q in range(lo, hi):
            prefetch_row(X, np.uintp(base + rows[q]))
