"""The scan of a compiled run's gap bounds, sixteen rows an instruction.

Every pass of a compiled run that reads the bounds (``batched_pass``) first
reads every row's: ``stored[i] <= limit[labels[i]]`` picks the rows to
compute, in row order.  As a loop of one row at a time that is about 0.8 ns a
row: over a quarter of the passes of a selection's reference sets at 10^4 x
2, which compute a quarter of their rows each.  Where numba compiles for
AVX-512 and there are at most 16 clusters, ``whole_vectors_scan`` reads
sixteen rows at a time: the clusters' limits held in one vector and looked up
by the labels (``vpermps``), one comparison, and the indices of the rows that
fail packed to the front of two vectors of eight (``vpcompressq`` into
registers: the form that writes memory is microcoded on AMD's Zen 4) and
stored whole, the count advanced by their number.  0.13 to 0.18 ns a row
(10^4 rows, 5 to 30 % of them found), the same rows in the same order;
elsewhere it scans nothing and the row loop does it all.

Where the pass hints the rows it will read to the cache (``prefetch``), the
scan hints those it finds from the comparison's bits.  Hinting them from the
indices just stored, as the row loop does, took 1.1 to 1.3 times the row
loop's time per pass at 10^5 x 10 (most likely the indices read back while
their vector stores were still in flight; not confirmed, no hardware counters
on the machine measured).
"""

import numba
from llvmlite import ir
from numba.core import cgutils, config, types
from numba.extending import intrinsic

from sklearn_kmeans_lab._kernels.prefetch import _CACHE_LINE

# Rows a vector step reads, and the most clusters whose limits one vector
# holds.
LANES = 16


def compiles_for_avx512():
    """Whether numba compiles for a CPU with AVX-512F: the features it gives
    its target machine (``NUMBA_CPU_FEATURES``, else the host's as numba
    reads them, without AVX where ``NUMBA_ENABLE_AVX`` is off)."""
    features = config.CPU_FEATURES
    if features is None:
        try:  # numba's own reading (not a public API: none where it moved)
            from numba.core.codegen import get_host_cpu_features
        except ImportError:  # pragma: no cover - numba as pyproject pins it
            return False
        features = get_host_cpu_features()
    return "+avx512f" in features.split(",")


@intrinsic
def _scan_vectors(typingctx, stored, limit, labels, row, stop, rows, n, X, hint):
    """``n`` plus the number of rows of ``[row, stop)`` (a whole number of
    ``LANES``) whose ``stored`` is at most ``limit`` of their label (at most
    ``LANES`` clusters), their indices written to ``rows[n:]`` in order; up
    to ``LANES`` entries of ``rows`` past them are overwritten.  Where
    ``hint``, each row found of ``X`` is hinted to the cache, as
    ``prefetch.prefetch_row`` hints it."""
    arrays = (stored, limit, labels, rows)
    if not (
        isinstance(X, types.Array) and X.ndim == 2 and isinstance(hint, types.Boolean)
    ):
        return None
    if not (
        all(isinstance(a, types.Array) and a.ndim == 1 for a in arrays)
        and all(a.layout == "C" for a in arrays)
        and stored.dtype == types.float32
        and limit.dtype == types.float32
        and labels.dtype == types.int32
        and rows.dtype == types.int64
    ):
        return None
    sig = types.intp(
        stored, limit, labels, types.intp, types.intp, rows, types.intp, X, hint
    )

    def codegen(context, builder, signature, args):
        s_arr, l_arr, b_arr = (
            context.make_array(signature.args[a])(context, builder, args[a])
            for a in (0, 1, 2)
        )
        r_arr = context.make_array(signature.args[5])(context, builder, args[5])
        row, stop, n, hint = args[3], args[4], args[6], args[8]
        x_arr = context.make_array(signature.args[7])(context, builder, args[7])
        x_base = builder.bitcast(x_arr.data, cgutils.voidptr_t)
        x_row_stride, x_col_stride = cgutils.unpack_tuple(builder, x_arr.strides)
        n_features = cgutils.unpack_tuple(builder, x_arr.shape)[1]
        i1, i8, i16, i32, i64 = (ir.IntType(w) for w in (1, 8, 16, 32, 64))
        # a row's items hinted: one a cache line, and the last (as
        # prefetch_row, through X's strides)
        item_bytes = context.get_abi_sizeof(context.get_data_type(X.dtype))
        hint_step = ir.Constant(i64, max(1, _CACHE_LINE // item_bytes))
        last_item = builder.mul(
            builder.sub(n_features, ir.Constant(i64, 1)), x_col_stride
        )
        floats = ir.VectorType(ir.FloatType(), LANES)
        ints = ir.VectorType(i32, LANES)
        half = LANES // 2
        indices = ir.VectorType(i64, half)
        half_mask = ir.VectorType(i1, half)
        module = builder.module
        permute = cgutils.get_or_insert_function(
            module,
            ir.FunctionType(floats, [floats, ints]),
            "llvm.x86.avx512.permvar.sf.512",
        )
        compress = cgutils.get_or_insert_function(
            module,
            ir.FunctionType(indices, [indices, indices, half_mask]),
            "llvm.x86.avx512.mask.compress.v8i64",
        )
        count = cgutils.get_or_insert_function(
            module, ir.FunctionType(i8, [i8]), "llvm.ctpop.i8"
        )
        none = ir.Constant(i16, 0)
        trailing = cgutils.get_or_insert_function(
            module, ir.FunctionType(i16, [i16, i1]), "llvm.cttz.i16"
        )
        prefetch = module.declare_intrinsic(
            "llvm.prefetch",
            [cgutils.voidptr_t],
            ir.FunctionType(ir.VoidType(), [cgutils.voidptr_t, i32, i32, i32]),
        )

        def lanes(values, width=half):
            return ir.Constant(ir.VectorType(i32, width), list(values))

        # the limits in one vector: lane j is cluster j's (lanes past k are
        # never looked up: a label is below k)
        n_clusters = cgutils.unpack_tuple(builder, l_arr.shape)[0]
        limits = cgutils.alloca_once_value(
            builder, ir.Constant(floats, [float("inf")] * LANES)
        )
        with cgutils.for_range(builder, n_clusters) as j:
            value = builder.load(builder.gep(l_arr.data, [j.index]))
            vector = builder.insert_element(
                builder.load(limits), value, builder.trunc(j.index, i32)
            )
            builder.store(vector, limits)
        limits = builder.load(limits)
        found = cgutils.alloca_once_value(builder, n)
        undefined = ir.Constant(indices, ir.Undefined)
        n_steps = builder.udiv(builder.sub(stop, row), ir.Constant(i64, LANES))
        with cgutils.for_range(builder, n_steps) as step:
            i = builder.add(row, builder.mul(step.index, ir.Constant(i64, LANES)))
            label = builder.load(
                builder.bitcast(builder.gep(b_arr.data, [i]), ints.as_pointer()),
                align=4,
            )
            bound = builder.load(
                builder.bitcast(builder.gep(s_arr.data, [i]), floats.as_pointer()),
                align=4,
            )
            # neither is NaN (see batched_pass.scan_limits): ordered
            fails = builder.fcmp_ordered(
                "<=", bound, builder.call(permute, [limits, label])
            )
            # the rows found hinted to the cache from the comparison's bits,
            # not read back from rows
            with builder.if_then(hint):
                bits = cgutils.alloca_once_value(builder, builder.bitcast(fails, i16))
                loop = builder.append_basic_block("hint_loop")
                after = builder.append_basic_block("hint_done")
                builder.cbranch(
                    builder.icmp_unsigned("!=", builder.load(bits), none),
                    loop,
                    after,
                )
                builder.position_at_end(loop)
                m = builder.load(bits)
                lane = builder.call(trailing, [m, ir.Constant(i1, 1)])
                r = builder.add(i, builder.zext(lane, i64))
                start = builder.gep(x_base, [builder.mul(r, x_row_stride)])
                # read (0), keep in every cache level (3), data cache (1)
                kind = [ir.Constant(i32, 0), ir.Constant(i32, 3), ir.Constant(i32, 1)]
                with cgutils.for_range_slice(
                    builder, ir.Constant(i64, 0), n_features, hint_step
                ) as (f, _):
                    offset = builder.mul(f, x_col_stride)
                    builder.call(prefetch, [builder.gep(start, [offset])] + kind)
                builder.call(prefetch, [builder.gep(start, [last_item])] + kind)
                m = builder.and_(m, builder.sub(m, ir.Constant(i16, 1)))
                builder.store(m, bits)
                builder.cbranch(builder.icmp_unsigned("!=", m, none), loop, after)
                builder.position_at_end(after)
            base = builder.shuffle_vector(
                builder.insert_element(undefined, i, ir.Constant(i32, 0)),
                undefined,
                lanes([0] * half),
            )
            for h in range(2):
                mask = builder.shuffle_vector(
                    fails,
                    ir.Constant(fails.type, ir.Undefined),
                    lanes(range(h * half, (h + 1) * half)),
                )
                offsets = ir.Constant(indices, list(range(h * half, (h + 1) * half)))
                packed = builder.call(
                    compress, [builder.add(base, offsets), undefined, mask]
                )
                at = builder.load(found)
                place = builder.gep(r_arr.data, [at])
                builder.store(
                    packed, builder.bitcast(place, indices.as_pointer()), align=8
                )
                number = builder.call(count, [builder.bitcast(mask, i8)])
                builder.store(builder.add(at, builder.zext(number, i64)), found)
        return builder.load(found)

    return sig, codegen


@numba.njit(nogil=True, cache=True)
def _scan_whole_vectors(stored, limit, labels, row, stop, rows, n, X, hint):
    """``(next_row, n)``: the rows of ``[row, stop)``, in whole vectors of
    ``LANES`` rows, whose bound fails (``stored[i] <= limit[labels[i]]``)
    appended to ``rows[n:]`` in row order, where there are at most
    ``LANES`` clusters; else none (``next_row`` is ``row``).  stored :
    (n_samples,) float32; limit : (k,) float32; labels : (n_samples,) int32;
    rows : (m,) int64; X : (n_samples, d), whose rows found are hinted to
    the cache where ``hint``."""
    if limit.shape[0] > LANES:
        return row, n
    stop = row + (stop - row) // LANES * LANES
    # a vector step writes LANES entries of rows from the count so far: the
    # steps stop where that could pass the end of rows
    room = (rows.shape[0] - n) // LANES * LANES
    stop = min(stop, row + room)
    return stop, _scan_vectors(stored, limit, labels, row, stop, rows, n, X, hint)


@numba.njit(nogil=True, cache=True)
def _scan_nothing(stored, limit, labels, row, stop, rows, n, X, hint):
    """``_scan_whole_vectors`` where numba does not compile for AVX-512: no
    row scanned."""
    return row, n


# The vector scan where numba compiles for AVX-512, else none: the row loop
# scans every row.
whole_vectors_scan = _scan_whole_vectors if compiles_for_avx512() else _scan_nothing
