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
from 0).  Written in LLVM IR (``numba.extending.intrinsic``), as
``row_dots``.  X's rows must be contiguous (a column stride of one item).
"""

import numba
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

# Rows a block computes together (one vector of float64 sums).
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
        sums = cgutils.alloca_once(builder, quad_f64)

        with cgutils.for_range(builder, n_blocks) as block:
            r0 = builder.mul(block.index, const(ROWS))
            row0 = builder.add(first_row, r0)
            starts = [
                builder.gep(
                    x_base, [builder.mul(builder.add(row0, const(r)), row_stride)]
                )
                for r in range(ROWS)
            ]
            builder.store(zero, sums)
            with cgutils.for_range(builder, n_quads) as q:
                f0_bytes = builder.mul(builder.mul(q.index, const(4)), item)
                offset = builder.load(at(o_base, f0_bytes, quad), align=1)
                centre = builder.load(at(c_base, f0_bytes, quad), align=1)
                # row r's features f0 .. f0 + 3, centred in X's dtype
                v = [
                    builder.fsub(
                        builder.fsub(
                            builder.load(at(starts[r], f0_bytes, quad), align=1),
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
                features = [
                    builder.shuffle_vector(low_01, low_23, mask(0, 1, 4, 5)),
                    builder.shuffle_vector(low_01, low_23, mask(2, 3, 6, 7)),
                    builder.shuffle_vector(high_01, high_23, mask(0, 1, 4, 5)),
                    builder.shuffle_vector(high_01, high_23, mask(2, 3, 6, 7)),
                ]
                total = builder.load(sums)
                for feature in features:  # in feature order
                    total = add_squares(total, feature)
                builder.store(total, sums)
            with cgutils.for_range_slice(builder, rest, n_features, const(1)) as (f, _):
                f_bytes = builder.mul(f, item)
                offset = builder.load(at(o_base, f_bytes, scalar))
                centre = builder.load(at(c_base, f_bytes, scalar))
                feature = undef
                for r in range(ROWS):
                    x = builder.load(at(starts[r], f_bytes, scalar))
                    x = builder.fsub(builder.fsub(x, offset), centre)
                    feature = builder.insert_element(feature, x, ir.Constant(i32, r))
                builder.store(add_squares(builder.load(sums), feature), sums)
            out_at = at(out_base, builder.mul(r0, const(8)), quad_f64)
            builder.store(builder.load(sums), out_at, align=1)
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
