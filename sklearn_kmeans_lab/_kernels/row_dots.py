"""Dot products of scattered rows with a few centres, the rows read in place.

A compiled run's pass computes the distances of the rows whose bound fails:
late in a run a scattered few, early on most of them.  With a GEMM each
batch of them is first copied out of X (``copy_rows``), and OpenBLAS then
packs the copy again; at 10^5 x 10 and k = 10 the copy, the GEMM and the
selection of the two nearest took 13 to 19 ns a row (one thread, 30 % of
the rows).  ``in_place_dots`` reads each row where it lies and keeps the
products of four rows with every centre in vector registers, one fused
multiply-add per feature and four centres: 6 ns a row with X in cache, 9 at
10^5 x 10, and 9 to 16 with the selection.

numba does not vectorise this loop (a loop over the centres inside a loop over
the features, on values it cannot keep in registers), so the kernel is written
in LLVM IR (``numba.extending.intrinsic``): vectors of four doubles (eight
floats), the centres' ``-2 c`` transposed and padded to whole vectors
(``transposed_minus_2``), ``llvm.fmuladd`` (a fused multiply-add where the
machine has one).  Where X's rows are contiguous, four features of a row are
loaded and centred at once and each then broadcast (3 % to 15 % less time
than a load, subtraction and broadcast per feature, the same values).  X is
read through its strides; the other arrays must be contiguous (a strided
one does not compile).

Where X's rows are contiguous it also sums each row's squared norm from the
quads it loads (the bounds' sizes, which a pass that keeps no norms needs
for every row it computes): ``nearest.row_norms``' values bit for bit, for
about 1 ns a row at 10 features where a second read of the row took 3 to 5
(8 % less time per Lloyd iteration at 3 x 10^5 x 10, X in cache; 2 % at
10^6 x 10, where the loads of X dominate).

Its products are rounded differently from a GEMM's, in the last bits: only
the order of two distances within that rounding could differ, and those near
ties are settled row by row after either (``nearest.settle_near_ties``), so
the labels are the same.  It pays where X stays in cache (few features) and
there are few centres: beyond ``IN_PLACE_MAX_FEATURES`` the rows' loads cost
the same either way (measured at 16, 24 and 32 features), and beyond
``IN_PLACE_MAX_CLUSTERS`` four rows' products no longer fit in the vector
registers (at 16 features, 24 and 32 centres took longer than the GEMM).
"""

import numba
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

# Where in_place_dots replaces the copy and the GEMM (RunSettings.in_place).
IN_PLACE_MAX_FEATURES = 16
IN_PLACE_MAX_CLUSTERS = 16
# Rows computed together: four rows' partial products with up to 16 centres
# are 16 vector registers.
_ROWS = 4


# The kernels' vectors: 256 bits, 4 doubles or 8 floats.
_VECTOR_BYTES = 32


@numba.njit(nogil=True, cache=True)
def padded_clusters(X, n_clusters):
    """``n_clusters`` rounded up to whole vectors of X's dtype: the columns
    of the centres ``in_place_dots`` reads (``transposed_minus_2``)."""
    width = _VECTOR_BYTES // X.itemsize
    return (n_clusters + width - 1) // width * width


def _in_place_dots_kernel(n_vectors):
    """The intrinsic of ``in_place_dots`` for ``n_vectors`` vectors of
    centres (k rounded up to whole vectors)."""

    @intrinsic
    def dots_of_rows(typingctx, X, x_offset, rows, n, centers_t, dots, norms):
        if not (
            isinstance(X, types.Array)
            and X.ndim == 2
            and X.dtype in (types.float32, types.float64)
            and x_offset.dtype == X.dtype
            and centers_t.dtype == X.dtype
            and dots.dtype == X.dtype
            and norms.dtype == types.float64
            and isinstance(rows.dtype, types.Integer)
            # read by index, not through their strides
            and all(a.layout == "C" for a in (x_offset, rows, centers_t, dots, norms))
        ):
            return None
        sig = types.void(X, x_offset, rows, n, centers_t, dots, norms)

        def codegen(context, builder, signature, args):
            x_ty, o_ty, r_ty, _, c_ty, d_ty, s_ty = signature.args
            x_arr = context.make_array(x_ty)(context, builder, args[0])
            o_arr = context.make_array(o_ty)(context, builder, args[1])
            r_arr = context.make_array(r_ty)(context, builder, args[2])
            c_arr = context.make_array(c_ty)(context, builder, args[4])
            d_arr = context.make_array(d_ty)(context, builder, args[5])
            s_arr = context.make_array(s_ty)(context, builder, args[6])
            n_rows = context.cast(builder, args[3], signature.args[3], types.intp)

            i64 = ir.IntType(64)
            i32 = ir.IntType(32)
            i8p = ir.IntType(8).as_pointer()
            scalar = context.get_value_type(x_ty.dtype)
            width = _VECTOR_BYTES // context.get_abi_sizeof(scalar)
            vec = ir.VectorType(scalar, width)
            lanes = ir.VectorType(scalar, _ROWS)
            name = f"llvm.fmuladd.v{width}f{64 if width == 4 else 32}"
            fmuladd = cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(vec, [vec, vec, vec]), name
            )

            def const(v):
                return ir.Constant(i64, v)

            n_features = cgutils.unpack_tuple(builder, x_arr.shape)[1]
            x_row_stride, x_col_stride = cgutils.unpack_tuple(builder, x_arr.strides)
            c_row_stride = cgutils.unpack_tuple(builder, c_arr.strides)[0]
            d_row_stride = cgutils.unpack_tuple(builder, d_arr.strides)[0]
            x_base = builder.bitcast(x_arr.data, i8p)
            c_base = builder.bitcast(c_arr.data, i8p)
            d_base = builder.bitcast(d_arr.data, i8p)
            item = const(context.get_abi_sizeof(scalar))
            vector_bytes = width * context.get_abi_sizeof(scalar)
            zero = ir.Constant(vec, [0.0] * width)
            undef = ir.Constant(vec, ir.Undefined)
            broadcast = ir.Constant(ir.VectorType(i32, width), [0] * width)
            quad_vec = ir.VectorType(scalar, 4)
            quad_undef = ir.Constant(quad_vec, ir.Undefined)
            o_base = builder.bitcast(o_arr.data, i8p)

            def at(base, offset, ty):
                return builder.bitcast(builder.gep(base, [offset]), ty.as_pointer())

            # the rows' squared norms, as nearest._centred_row sums them: the
            # centred values squared (in X's dtype), added in float64 in four
            # partial sums (feature f in lane f % 4, the features past the
            # last whole four in lane 0), then (s0 + s1) + (s2 + s3);
            # separate multiplications and additions, as numba compiles that
            # loop
            f64 = ir.DoubleType()
            quad_f64 = ir.VectorType(f64, 4)
            zero_f64 = ir.Constant(quad_f64, [0.0] * 4)
            lane_0 = ir.Constant(i32, 0)

            def widened(value):
                """A float32 value or quad widened to float64."""
                if width == 4:  # float64 already
                    return value
                vector = isinstance(value.type, ir.VectorType)
                return builder.fpext(value, quad_f64 if vector else f64)

            def add_square(r, value):
                """Row r's partial sums += the square of ``value``: a quad
                (lanes 0 to 3) or a scalar (lane 0)."""
                # numba's float() of a float32 is a float32: the square is
                # rounded in X's dtype, then added in float64
                square = widened(builder.fmul(value, value))
                sums = builder.load(norm_acc[r])
                if isinstance(square.type, ir.VectorType):
                    sums = builder.fadd(sums, square)
                else:
                    first = builder.extract_element(sums, lane_0)
                    first = builder.fadd(first, square)
                    sums = builder.insert_element(sums, first, lane_0)
                builder.store(sums, norm_acc[r])

            norm_acc = [cgutils.alloca_once(builder, quad_f64) for _ in range(_ROWS)]
            n_norms = cgutils.unpack_tuple(builder, s_arr.shape)[0]

            # the partial products, one alloca per vector (promoted to
            # registers by LLVM's mem2reg)
            acc = [
                [cgutils.alloca_once(builder, vec) for _ in range(n_vectors)]
                for _ in range(_ROWS)
            ]
            last = builder.sub(n_rows, const(1))
            n_blocks = builder.udiv(builder.add(n_rows, const(_ROWS - 1)), const(_ROWS))
            with cgutils.for_range(builder, n_blocks) as block:
                q0 = builder.mul(block.index, const(_ROWS))
                starts = []
                for r in range(_ROWS):
                    # the rows past n repeat the last one (their columns of
                    # dots are written, never read)
                    q = builder.add(q0, const(r))
                    q = builder.select(builder.icmp_signed("<", q, n_rows), q, last)
                    row = builder.load(builder.gep(r_arr.data, [q]))
                    row = builder.sext(row, i64) if row.type.width < 64 else row
                    starts.append(builder.gep(x_base, [builder.mul(row, x_row_stride)]))
                    for v in range(n_vectors):
                        builder.store(zero, acc[r][v])
                    builder.store(zero_f64, norm_acc[r])

                def fold_feature(f, xs_of_row):
                    """The products of feature ``f``: ``xs_of_row(r)`` is
                    row r's centred value, broadcast."""
                    c_row = builder.mul(f, c_row_stride)
                    c = [
                        builder.load(
                            at(
                                c_base, builder.add(c_row, const(v * vector_bytes)), vec
                            ),
                            align=1,
                        )
                        for v in range(n_vectors)
                    ]
                    for r in range(_ROWS):
                        xs = xs_of_row(r)
                        for v in range(n_vectors):
                            total = builder.load(acc[r][v])
                            total = builder.call(fmuladd, [xs, c[v], total])
                            builder.store(total, acc[r][v])

                # four features at a time where X's rows are contiguous: one
                # vector load and subtraction a row, then each lane broadcast
                # (the same centred values, in fewer instructions)
                contiguous = builder.icmp_unsigned("==", x_col_stride, item)
                n_quads = builder.select(
                    contiguous, builder.udiv(n_features, const(4)), const(0)
                )
                with cgutils.for_range(builder, n_quads) as quad:
                    f0 = builder.mul(quad.index, const(4))
                    f0_bytes = builder.mul(f0, item)
                    centre = builder.load(at(o_base, f0_bytes, quad_vec), align=1)
                    quads = [
                        builder.fsub(
                            builder.load(at(starts[r], f0_bytes, quad_vec), align=1),
                            centre,
                        )
                        for r in range(_ROWS)
                    ]
                    for r in range(_ROWS):
                        add_square(r, quads[r])
                    for lane in range(4):
                        pick = ir.Constant(ir.VectorType(i32, width), [lane] * width)
                        fold_feature(
                            builder.add(f0, const(lane)),
                            lambda r, pick=pick: builder.shuffle_vector(
                                quads[r], quad_undef, pick
                            ),
                        )
                rest = builder.mul(n_quads, const(4))
                with cgutils.for_range_slice(builder, rest, n_features, const(1)) as (
                    f,
                    _,
                ):
                    offset = builder.load(builder.gep(o_arr.data, [f]))
                    col = builder.mul(f, x_col_stride)

                    def broadcast_of(r):
                        x = builder.load(at(starts[r], col, scalar))
                        x = builder.fsub(x, offset)  # as copy_rows centres it
                        add_square(r, x)
                        xs = builder.insert_element(undef, x, ir.Constant(i32, 0))
                        return builder.shuffle_vector(xs, undef, broadcast)

                    fold_feature(f, broadcast_of)
                # the norms, where asked for (``norms`` not empty) and summed
                # as _centred_row sums them (rows read four features at once)
                store_norms = builder.and_(
                    contiguous, builder.icmp_signed(">", n_norms, const(0))
                )
                with builder.if_then(store_norms):
                    for r in range(_ROWS):
                        q = builder.add(q0, const(r))
                        with builder.if_then(builder.icmp_signed("<", q, n_rows)):
                            sums = builder.load(norm_acc[r])
                            lane = [
                                builder.extract_element(sums, ir.Constant(i32, j))
                                for j in range(4)
                            ]
                            total = builder.fadd(
                                builder.fadd(lane[0], lane[1]),
                                builder.fadd(lane[2], lane[3]),
                            )
                            builder.store(total, builder.gep(s_arr.data, [q]))
                # dots[j, q0:q0 + 4] for each centre j: the four rows' lane j
                q0_bytes = builder.mul(q0, item)
                for v in range(n_vectors):
                    values = [builder.load(acc[r][v]) for r in range(_ROWS)]
                    for lane in range(width):
                        out = ir.Constant(lanes, ir.Undefined)
                        for r in range(_ROWS):
                            value = builder.extract_element(
                                values[r], ir.Constant(i32, lane)
                            )
                            out = builder.insert_element(
                                out, value, ir.Constant(i32, r)
                            )
                        j = const(v * width + lane)
                        place = builder.add(builder.mul(j, d_row_stride), q0_bytes)
                        builder.store(out, at(d_base, place, lanes), align=1)
            return context.get_dummy_value()

        return sig, codegen

    return dots_of_rows


_DOTS_1 = _in_place_dots_kernel(1)
_DOTS_2 = _in_place_dots_kernel(2)
_DOTS_3 = _in_place_dots_kernel(3)
_DOTS_4 = _in_place_dots_kernel(4)


@numba.njit(nogil=True, cache=True)
def in_place_dots(X, x_offset, rows, n, centers_t, dots, norms):
    """``dots[j, q] = <X[rows[q]] - x_offset, centers_t[:, j]>`` for the
    ``n`` rows, the rows read in place; where ``norms`` is not empty and
    X's rows are contiguous, also ``norms[q] = ||X[rows[q]] - x_offset||^2``
    as ``nearest.row_norms`` sums them, bit for bit (from the values the
    products read: the row is loaded once).

    X : (n_samples, d) float32 or float64; centers_t : (d, kp) in X's dtype,
    kp = ``padded_clusters`` (a whole number of vectors), at most four;
    dots : (kp, m) in X's dtype, m at least ``n`` rounded up to 4 (the
    columns past ``n`` get copies of the last row's).  rows : (>= n,);
    norms : (>= n,) float64, or (0,).
    """
    if n == 0:
        return
    n_vectors = centers_t.shape[1] * X.itemsize // _VECTOR_BYTES
    if n_vectors == 1:
        _DOTS_1(X, x_offset, rows, n, centers_t, dots, norms)
    elif n_vectors == 2:
        _DOTS_2(X, x_offset, rows, n, centers_t, dots, norms)
    elif n_vectors == 3:
        _DOTS_3(X, x_offset, rows, n, centers_t, dots, norms)
    else:
        _DOTS_4(X, x_offset, rows, n, centers_t, dots, norms)


@numba.njit(nogil=True, cache=True, inline="always")
def fuses_norms(X):
    """Whether ``in_place_dots`` sums the rows' norms of X (its rows are
    contiguous: read four features at a time)."""
    return X.strides[1] == X.itemsize


@numba.njit(nogil=True, cache=True)
def transposed_minus_2(minus_2, centers_t):
    """``centers_t[:, :k] = minus_2.T``, the padding columns zero: the
    centres as ``in_place_dots`` reads them.  minus_2 : (k, d); centers_t :
    (d, kp)."""
    n_clusters, n_features = minus_2.shape
    for f in range(n_features):
        for j in range(centers_t.shape[1]):
            centers_t[f, j] = minus_2[j, f] if j < n_clusters else 0.0
