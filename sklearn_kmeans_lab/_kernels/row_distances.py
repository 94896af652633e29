"""Squared distances of consecutive rows to one centre, four rows at a time.

k-means++ (``seeding.dense_closer``) brings every sample's distance to its
nearest chosen centre up to date after each centre: at many features a pass
over X per centre of ``squared_distance``'s sum, a chain of one addition a
feature per row.  Row by row that took 0.78 ns an element at 2 x 10^4 x 100
(float32; 1.6 ms of each of the 255 centres of a seeding of k = 256), and
neither interleaving rows in compiled Python nor a transposed copy of each
chunk (``seeding.direct_closer``) took less: numba vectorises neither.

``row_distances`` loads four features of four rows at a time, centres them
in X's dtype, transposes the four quads in registers, and adds each
feature's squares to a vector of the four rows' sums, in feature order:
each row's sum is ``squared_distance``'s, bit for bit (differences in X's
dtype, squared and added in float64, a multiplication and an addition each,
from 0).  Two groups of four rows go together, their additions interleaved:
one group's chain of additions would otherwise wait on itself (0.26 ns an
element with one group, 0.20 with two, at 100 float32 features).  Written
in LLVM IR (``numba.extending.intrinsic``), as ``row_dots``.  X's rows must
be contiguous (a column stride of one item).
"""

import numba
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

# Rows a group computes together (one vector of float64 sums); the caller
# computes the rows past the last whole group.
ROWS = 4


@intrinsic
def _block_distances(typingctx, X, x_offset, center, start, n_blocks, out):
    """``out[r] = squared_distance(X, start + r, x_offset, center)`` for
    r < 4 * n_blocks, X's rows contiguous."""
    if not (
        isinstance(X, types.Array)
        and X.ndim == 2
        and X.dtype in (types.float32, types.float64)
        and x_offset.dtype == X.dtype
        and center.dtype == X.dtype
        and out.dtype == types.float64
        and all(a.ndim == 1 and a.layout == "C" for a in (x_offset, center, out))
    ):
        return None
    sig = types.void(X, x_offset, center, start, n_blocks, out)

    def codegen(context, builder, signature, args):
        x_ty, o_ty, c_ty, start_ty, blocks_ty, out_ty = signature.args
        x_arr = context.make_array(x_ty)(context, builder, args[0])
        o_arr = context.make_array(o_ty)(context, builder, args[1])
        c_arr = context.make_array(c_ty)(context, builder, args[2])
        out_arr = context.make_array(out_ty)(context, builder, args[5])
        first_row = context.cast(builder, args[3], start_ty, types.intp)
        n_blocks = context.cast(builder, args[4], blocks_ty, types.intp)

        i64 = ir.IntType(64)
        i32 = ir.IntType(32)
        i8p = ir.IntType(8).as_pointer()
        scalar = context.get_value_type(x_ty.dtype)
        f64 = ir.DoubleType()
        quad = ir.VectorType(scalar, ROWS)
        quad_f64 = ir.VectorType(f64, ROWS)
        zero = ir.Constant(quad_f64, [0.0] * ROWS)
        undef = ir.Constant(quad, ir.Undefined)
        item = ir.Constant(i64, context.get_abi_sizeof(scalar))

        def const(v):
            return ir.Constant(i64, v)

        def mask(*lanes):
            return ir.Constant(ir.VectorType(i32, len(lanes)), list(lanes))

        def at(base, offset, ty):
            return builder.bitcast(builder.gep(base, [offset]), ty.as_pointer())

        def add_squares(sums, diffs):
            """``sums + diffs * diffs`` in float64 (no fused multiply-add)."""
            if scalar != f64:
                diffs = builder.fpext(diffs, quad_f64)
            return builder.fadd(sums, builder.fmul(diffs, diffs))

        n_features = cgutils.unpack_tuple(builder, x_arr.shape)[1]
        row_stride = cgutils.unpack_tuple(builder, x_arr.strides)[0]
        x_base = builder.bitcast(x_arr.data, i8p)
        o_base = builder.bitcast(o_arr.data, i8p)
        c_base = builder.bitcast(c_arr.data, i8p)
        out_base = builder.bitcast(out_arr.data, i8p)
        n_quads = builder.udiv(n_features, const(4))
        rest = builder.mul(n_quads, const(4))

        def rows_from(r0, n_groups):
            """The distances of rows ``r0 .. r0 + 4 * n_groups`` (of the
            call's rows): ``n_groups`` groups of four, each with its vector
            of sums, interleaved so that one group's additions run while
            another's wait on theirs."""
            row0 = builder.add(first_row, r0)
            starts = [
                builder.gep(
                    x_base, [builder.mul(builder.add(row0, const(r)), row_stride)]
                )
                for r in range(ROWS * n_groups)
            ]
            sums = [cgutils.alloca_once(builder, quad_f64) for _ in range(n_groups)]
            for group_sums in sums:
                builder.store(zero, group_sums)
            with cgutils.for_range(builder, n_quads) as q:
                f0_bytes = builder.mul(builder.mul(q.index, const(4)), item)
                offset = builder.load(at(o_base, f0_bytes, quad), align=1)
                centre = builder.load(at(c_base, f0_bytes, quad), align=1)
                totals = [builder.load(group_sums) for group_sums in sums]
                transposed = []
                for g in range(n_groups):
                    # row r's features f0 .. f0 + 3, centred in X's dtype
                    v = [
                        builder.fsub(
                            builder.fsub(
                                builder.load(
                                    at(starts[ROWS * g + r], f0_bytes, quad), align=1
                                ),
                                offset,
                            ),
                            centre,
                        )
                        for r in range(ROWS)
                    ]
                    # transposed: feature f0 + f of the four rows, f = 0 .. 3
                    low_01 = builder.shuffle_vector(v[0], v[1], mask(0, 4, 1, 5))
                    low_23 = builder.shuffle_vector(v[2], v[3], mask(0, 4, 1, 5))
                    high_01 = builder.shuffle_vector(v[0], v[1], mask(2, 6, 3, 7))
                    high_23 = builder.shuffle_vector(v[2], v[3], mask(2, 6, 3, 7))
                    transposed.append(
                        [
                            builder.shuffle_vector(low_01, low_23, mask(0, 1, 4, 5)),
                            builder.shuffle_vector(low_01, low_23, mask(2, 3, 6, 7)),
                            builder.shuffle_vector(high_01, high_23, mask(0, 1, 4, 5)),
                            builder.shuffle_vector(high_01, high_23, mask(2, 3, 6, 7)),
                        ]
                    )
                for f in range(4):  # in feature order, the groups interleaved
                    for g in range(n_groups):
                        totals[g] = add_squares(totals[g], transposed[g][f])
                for g in range(n_groups):
                    builder.store(totals[g], sums[g])
            with cgutils.for_range_slice(builder, rest, n_features, const(1)) as (f, _):
                f_bytes = builder.mul(f, item)
                offset = builder.load(at(o_base, f_bytes, scalar))
                centre = builder.load(at(c_base, f_bytes, scalar))
                for g in range(n_groups):
                    feature = undef
                    for r in range(ROWS):
                        x = builder.load(at(starts[ROWS * g + r], f_bytes, scalar))
                        x = builder.fsub(builder.fsub(x, offset), centre)
                        feature = builder.insert_element(
                            feature, x, ir.Constant(i32, r)
                        )
                    builder.store(add_squares(builder.load(sums[g]), feature), sums[g])
            for g in range(n_groups):
                r_g = builder.add(r0, const(ROWS * g))
                out_at = at(out_base, builder.mul(r_g, const(8)), quad_f64)
                builder.store(builder.load(sums[g]), out_at, align=1)

        # pairs of groups, then the last group where their number is odd
        n_pairs = builder.udiv(n_blocks, const(2))
        with cgutils.for_range(builder, n_pairs) as pair:
            rows_from(builder.mul(pair.index, const(2 * ROWS)), 2)
        odd = builder.icmp_unsigned("!=", builder.urem(n_blocks, const(2)), const(0))
        with builder.if_then(odd):
            rows_from(builder.mul(builder.sub(n_blocks, const(1)), const(ROWS)), 1)
        return context.get_dummy_value()

    return sig, codegen


@numba.njit(nogil=True, cache=True)
def row_distances(X, x_offset, center, start, n, out):
    """``out[r] = sum_f ((X[start + r, f] - x_offset[f]) - center[f])**2``,
    ``squared_distance``'s sum bit for bit, for r < n rounded down to a
    multiple of ``ROWS``; returns that many rows (0 where X's rows are not
    contiguous: the caller sums those rows itself).

    X : (n_samples, d) float32 or float64; x_offset, center : (d,) in X's
    dtype, contiguous; out : (>= n,) float64, contiguous.
    """
    if X.strides[1] != X.itemsize:
        return 0
    n_blocks = n // ROWS
    _block_distances(X, x_offset, center, start, n_blocks, out)
    return n_blocks * ROWS
