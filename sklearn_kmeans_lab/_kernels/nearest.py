"""The nearest and second-nearest centre of a chunk of rows (Lloyd's E-step).

``gather`` copies the rows a pass needs into a chunk buffer, ``nearest_two``
finds their two nearest centres (``nearest_two_in_place`` without the copy,
by ``row_dots.in_place_dots``).  The argmin is over ``||c||^2 - 2 <x, c>``
(``||x||^2`` is the same for every centre), as scikit-learn does; ``-2 c`` is
exact, so ``||c||^2 + <x, -2 c>`` rounds exactly like ``||c||^2 - 2 <x, c>``.

Speed without changing a bit: the direct loop (few features) adds the
features of a distance one after the other, in feature order, as a plain loop
does, but four features per sweep over the rows, and the last sweep keeps
the two smallest distances at once, so the distances of a chunk are written
to memory once per four features instead of once per feature; with two
features (the whole distance in one sweep), and in the GEMM path, a sweep
folds four centres, so a row's two smallest distances and label are read and
written once per four centres, in centre order.  The squared
norms of the rows only size the gap bounds (whose threshold covers their
rounding many times over), so they are summed in four interleaved partial
sums: no row's label or sums depend on their order.
"""

import numba
import numpy as np

from sklearn_kmeans_lab._kernels.common import squared_distance
from sklearn_kmeans_lab._kernels.row_dots import fuses_norms, in_place_dots


@numba.njit(nogil=True, cache=True)
def gather(samples, start, rows, n, chunk_rows, chunk_t, transpose, sq_norm):
    """Centred rows ``start + rows[:n]`` and their squared norms (float64).

    Transposed into ``chunk_t`` (n_features, chunk) for the direct loop if
    ``transpose``, else row-major into ``chunk_rows`` (chunk, n_features) for
    the GEMM; feature by feature when transposing, so the loops over rows
    vectorise.  sq_norm : (chunk,).
    """
    X, x_offset = samples.X, samples.x_offset
    n_features = X.shape[1]
    if transpose:
        for q in range(n):
            sq_norm[q] = 0.0
        for f in range(n_features):
            offset = x_offset[f]
            for q in range(n):
                v = X[np.uintp(start + rows[q]), f] - offset
                chunk_t[f, q] = v
                sq_norm[q] += float(v) * float(v)
        return
    for q in range(n):
        i = np.uintp(start + rows[q])
        sq_norm[q] = _centred_row(X, x_offset, i, chunk_rows, q, True)


@numba.njit(nogil=True, cache=True, inline="always")
def _centred_row(X, x_offset, i, chunk_rows, q, copy):
    """``||X[i] - x_offset||^2`` in float64, and the centred row copied to
    ``chunk_rows[q]`` if ``copy`` (a constant of the caller: the branch
    folds away)."""
    n_features = X.shape[1]
    # four partial sums: a chain of n_features dependent additions per row
    # would cost more than the copy itself
    s0 = s1 = s2 = s3 = 0.0
    f = 0
    while f + 4 <= n_features:
        v0 = X[i, f] - x_offset[f]
        v1 = X[i, f + 1] - x_offset[f + 1]
        v2 = X[i, f + 2] - x_offset[f + 2]
        v3 = X[i, f + 3] - x_offset[f + 3]
        if copy:
            chunk_rows[q, f] = v0
            chunk_rows[q, f + 1] = v1
            chunk_rows[q, f + 2] = v2
            chunk_rows[q, f + 3] = v3
        s0 += float(v0) * float(v0)
        s1 += float(v1) * float(v1)
        s2 += float(v2) * float(v2)
        s3 += float(v3) * float(v3)
        f += 4
    while f < n_features:
        v0 = X[i, f] - x_offset[f]
        if copy:
            chunk_rows[q, f] = v0
        s0 += float(v0) * float(v0)
        f += 1
    return (s0 + s1) + (s2 + s3)


@numba.njit(nogil=True, cache=True)
def row_norms(samples, start, rows, n, sq_norm):
    """``gather``'s squared norms of the centred rows ``start + rows[:n]``
    (the same values), without a copy: for a pass that reads the rows in
    place.  sq_norm : (chunk,)."""
    X, x_offset = samples.X, samples.x_offset
    no_copy = np.empty((1, 1), dtype=X.dtype)  # never written
    for q in range(n):
        i = np.uintp(start + rows[q])
        sq_norm[q] = _centred_row(X, x_offset, i, no_copy, q, False)


@numba.njit(nogil=True, cache=True)
def copy_rows(samples, start, rows, n, chunk_rows, sq_norms, sq_norm):
    """``gather``'s row-major copy of the centred rows ``start + rows[:n]``,
    their squared norms read from ``sq_norms`` (n_samples,), where an
    earlier ``gather`` of the same rows put them: the same values.

    Without the norms, a row's copy is a loop of independent loads and
    stores: the loads of the next rows are issued while a row is written,
    where ``gather``'s chains of additions held them back (at 10^5 x 10, a
    fifth of the rows, about 5 instead of 8 ns a row; at 10^4 x 50, 13
    instead of 30).
    """
    X, x_offset = samples.X, samples.x_offset
    n_features = X.shape[1]
    for q in range(n):
        i = np.uintp(start + rows[q])
        sq_norm[q] = sq_norms[i]
        for f in range(n_features):
            u = np.uintp(f)
            chunk_rows[q, u] = X[i, u] - x_offset[u]


@numba.njit(nogil=True, cache=True, inline="always")
def _kept_two(dist, label, b_q, s_q, best_q):
    """A row's two smallest distances ``b_q``, ``s_q`` and label ``best_q``
    with ``dist`` (centre ``label``) folded in; selects, not branches, so the
    loop over rows vectorises.  The lower index wins a tie, as in
    ``argmin``; the selects are numba's ``min``/``max`` of two floats, NaN
    included."""
    high = b_q if b_q > dist else dist  # max(dist, b_q)
    s_q = high if high < s_q else s_q  # min(s_q, high)
    best_q = label if dist < b_q else best_q
    b_q = b_q if b_q < dist else dist  # min(dist, b_q)
    return b_q, s_q, best_q


@numba.njit(nogil=True, cache=True, inline="always")
def _keep_two(q, dist, label, best_d, second_d, best):
    """``_kept_two`` into row ``q`` of the arrays."""
    best_d[q], second_d[q], best[q] = _kept_two(
        dist, label, best_d[q], second_d[q], best[q]
    )


@numba.njit(nogil=True, cache=True, inline="always")
def _keep_four(q, d0, d1, d2, d3, j, best_d, second_d, best):
    """``_keep_two`` of the distances ``d0 .. d3`` to centres ``j .. j + 3``,
    in that order, row ``q``'s values read and written once."""
    b_q, s_q, best_q = best_d[q], second_d[q], best[q]
    b_q, s_q, best_q = _kept_two(d0, np.int32(j), b_q, s_q, best_q)
    b_q, s_q, best_q = _kept_two(d1, np.int32(j + 1), b_q, s_q, best_q)
    b_q, s_q, best_q = _kept_two(d2, np.int32(j + 2), b_q, s_q, best_q)
    b_q, s_q, best_q = _kept_two(d3, np.int32(j + 3), b_q, s_q, best_q)
    best_d[q], second_d[q], best[q] = b_q, s_q, best_q


@numba.njit(nogil=True, cache=True)
def _two_feature_nearest_two(chunk_t, n, centers, best_d, second_d, best):
    """``_direct_nearest_two`` of two features, four centres a sweep over the
    rows: a row's two smallest distances and label are read and written
    once per four centres instead of once per centre (a third less time at
    k = 8).  Each distance is ``(s + x_0 c_0) + x_1 c_1``, folded in centre
    order: the same values."""
    minus_2, sqnorm = centers.minus_2, centers.sqnorm
    n_clusters = minus_2.shape[0]
    x0, x1 = chunk_t[0], chunk_t[1]
    j = 0
    while j + 4 <= n_clusters:
        s0, s1, s2, s3 = sqnorm[j], sqnorm[j + 1], sqnorm[j + 2], sqnorm[j + 3]
        a0, b0 = minus_2[j, 0], minus_2[j, 1]
        a1, b1 = minus_2[j + 1, 0], minus_2[j + 1, 1]
        a2, b2 = minus_2[j + 2, 0], minus_2[j + 2, 1]
        a3, b3 = minus_2[j + 3, 0], minus_2[j + 3, 1]
        for q in range(n):
            u, v = x0[q], x1[q]
            _keep_four(
                q,
                (s0 + u * a0) + v * b0,
                (s1 + u * a1) + v * b1,
                (s2 + u * a2) + v * b2,
                (s3 + u * a3) + v * b3,
                j,
                best_d,
                second_d,
                best,
            )
        j += 4
    while j < n_clusters:
        s0, a0, b0, l0 = sqnorm[j], minus_2[j, 0], minus_2[j, 1], np.int32(j)
        for q in range(n):
            _keep_two(q, (s0 + x0[q] * a0) + x1[q] * b0, l0, best_d, second_d, best)
        j += 1


@numba.njit(nogil=True, cache=True)
def _direct_nearest_two(chunk_t, n, centers, acc, best_d, second_d, best):
    """``nearest_two`` by a loop over the features of the transposed chunk.

    Each distance is ``((s + x_0 c_0) + x_1 c_1) + ...`` in feature order, up
    to four features per sweep over the rows (``acc`` carries the partial
    distances between sweeps); the last sweep folds them into the two
    smallest.
    """
    n_clusters, n_features = centers.minus_2.shape
    if n_features == 2:
        _two_feature_nearest_two(chunk_t, n, centers, best_d, second_d, best)
        return
    for j in range(n_clusters):
        m2 = centers.minus_2[j]
        s = centers.sqnorm[j]
        label = np.int32(j)
        f = 0
        while f < n_features:
            width = min(4, n_features - f)
            last = f + width == n_features
            x0 = chunk_t[f]
            c0 = m2[f]
            if width == 4:
                x1, x2, x3 = chunk_t[f + 1], chunk_t[f + 2], chunk_t[f + 3]
                c1, c2, c3 = m2[f + 1], m2[f + 2], m2[f + 3]
                if f == 0 and last:
                    for q in range(n):
                        a = (((s + x0[q] * c0) + x1[q] * c1) + x2[q] * c2) + x3[q] * c3
                        _keep_two(q, a, label, best_d, second_d, best)
                elif f == 0:
                    for q in range(n):
                        acc[q] = (((s + x0[q] * c0) + x1[q] * c1) + x2[q] * c2) + (
                            x3[q] * c3
                        )
                elif last:
                    for q in range(n):
                        a = (((acc[q] + x0[q] * c0) + x1[q] * c1) + x2[q] * c2) + (
                            x3[q] * c3
                        )
                        _keep_two(q, a, label, best_d, second_d, best)
                else:
                    for q in range(n):
                        acc[q] = (((acc[q] + x0[q] * c0) + x1[q] * c1) + x2[q] * c2) + (
                            x3[q] * c3
                        )
            elif width == 3:  # always the last sweep
                x1, x2 = chunk_t[f + 1], chunk_t[f + 2]
                c1, c2 = m2[f + 1], m2[f + 2]
                if f == 0:
                    for q in range(n):
                        a = ((s + x0[q] * c0) + x1[q] * c1) + x2[q] * c2
                        _keep_two(q, a, label, best_d, second_d, best)
                else:
                    for q in range(n):
                        a = ((acc[q] + x0[q] * c0) + x1[q] * c1) + x2[q] * c2
                        _keep_two(q, a, label, best_d, second_d, best)
            elif width == 2:
                x1 = chunk_t[f + 1]
                c1 = m2[f + 1]
                if f == 0:
                    for q in range(n):
                        a = (s + x0[q] * c0) + x1[q] * c1
                        _keep_two(q, a, label, best_d, second_d, best)
                else:
                    for q in range(n):
                        a = (acc[q] + x0[q] * c0) + x1[q] * c1
                        _keep_two(q, a, label, best_d, second_d, best)
            elif f == 0:
                for q in range(n):
                    _keep_two(q, s + x0[q] * c0, label, best_d, second_d, best)
            else:
                for q in range(n):
                    _keep_two(q, acc[q] + x0[q] * c0, label, best_d, second_d, best)
            f += width
        if n_features == 0:  # pragma: no cover - X has at least one feature
            for q in range(n):
                _keep_two(q, s, label, best_d, second_d, best)


# How far apart two of a row's GEMM distances must be for their order to
# be the exact one, in units of the rounding of a dot product of
# ``n_features`` terms (``settle_near_ties``): twice what it can be.
_TIE_ROUNDINGS = 8.0


@numba.njit(nogil=True, cache=True, inline="always")
def _near_tie(q, best_d, second_d, sq_norm, coef, offset):
    """Whether row ``q``'s two smallest GEMM distances lie within what the
    GEMM's rounding can be; a NaN or infinite gap is not a near tie."""
    gap = float(second_d[q]) - float(best_d[q])
    return gap <= coef * (sq_norm[q] + offset)


@numba.njit(nogil=True, cache=True)
def _near_tie_terms(n, centers, itemsize, best_d, second_d, sq_norm, extra_roundings):
    """``(n_near, coef, offset)``: how many of the ``n`` rows are near ties
    (``_near_tie`` with ``coef`` and ``offset``), the rounding of a dot
    product of ``n_features`` terms bounded by ``||x||^2`` and ``||c||^2``
    (of items of ``itemsize`` bytes), plus ``extra_roundings`` of the same
    size (the roundings of float64 rows and centres to float32)."""
    sqnorm = centers.sqnorm
    n_features = centers.centers.shape[1]
    unit = 2.0**-24 if itemsize == 4 else 2.0**-53
    largest = 0.0
    for j in range(sqnorm.shape[0]):
        largest = max(largest, float(sqnorm[j]))
    coef = _TIE_ROUNDINGS * (n_features + 4 + extra_roundings) * unit
    offset = 2.0 * largest
    # near ties are rare: a branch-free count first (it vectorises)
    n_near = 0
    for q in range(n):
        n_near += 1 if _near_tie(q, best_d, second_d, sq_norm, coef, offset) else 0
    return n_near, coef, offset


@numba.njit(nogil=True, cache=True, inline="always")
def _settle_row(A, i, a_offset, q, centers, dots, best_d, second_d, best):
    """Row ``q``'s label: the argmin of ``squared_distance`` of row ``i`` of
    ``A - a_offset`` to each centre, lowest index first; its two distances
    both that of the label (a gap bound of 0)."""
    c, sqnorm = centers.centers, centers.sqnorm
    label = 0
    low = np.inf
    for j in range(c.shape[0]):
        sq = squared_distance(A, i, a_offset, c, j, 0.0)
        if sq < low:
            low = sq
            label = j
    best[q] = label
    value = sqnorm[label] + dots[label, q]
    best_d[q] = value
    second_d[q] = value


@numba.njit(nogil=True, cache=True)
def settle_near_ties(chunk_rows, n, centers, dots, sq_norm, best_d, second_d, best):
    """Give a row whose two smallest GEMM distances may be in the wrong
    order the label of its distances computed row by row.

    A GEMM may round a row's dot products differently with the row's place
    in the call (OpenBLAS's float32 kernels; the last centre of an odd k in
    float64; a call of one row, a GEMV), so where two distances tie to within
    that rounding, two runs that batch the rows differently (a compiled run,
    a pass at a time on several threads, a Dask block) could label the row
    differently.  Where the computed gap is within twice what the rounding
    can be (``||x||^2`` and ``||c||^2`` bound it), the label is the argmin
    of the row's ``squared_distance`` to each centre (the distances of the
    inertia and ``transform``), lowest index first, which depends on the row
    and the centres alone; elsewhere the GEMM's order is the exact order.  A
    settled row's two distances are both that of its label, so that its gap
    bound is 0 (computed again at the next pass).  The same holds of any
    other rounding of the products within that bound (``in_place_dots``:
    ``settle_near_ties_in_place``).  sq_norm : (chunk,) float64, the rows'
    ``||x||^2``.
    """
    n_near, coef, offset = _near_tie_terms(
        n, centers, chunk_rows.itemsize, best_d, second_d, sq_norm, 0
    )
    if n_near == 0:
        return
    # the copied rows are centred already
    no_offset = np.zeros(chunk_rows.shape[1], dtype=chunk_rows.dtype)
    for q in range(n):
        if _near_tie(q, best_d, second_d, sq_norm, coef, offset):
            _settle_row(
                chunk_rows, q, no_offset, q, centers, dots, best_d, second_d, best
            )


@numba.njit(nogil=True, cache=True)
def settle_near_ties_in_place(
    samples, rows, n, centers, dots, sq_norm, best_d, second_d, best
):
    """``settle_near_ties`` of the rows ``rows[:n]`` of ``samples`` read in
    place (``nearest_two_in_place``): the same distances, as
    ``squared_distance`` of ``X - x_offset`` is that of the centred copy."""
    _settle_in_place(
        samples, rows, n, centers, dots, sq_norm, best_d, second_d, best, 0
    )


@numba.njit(nogil=True, cache=True, inline="always")
def _settle_in_place(
    samples, rows, n, centers, dots, sq_norm, best_d, second_d, best, extra_roundings
):
    """``settle_near_ties_in_place`` of products of ``dots``' itemsize and
    ``extra_roundings`` more (``nearest_two_converted``)."""
    X = samples.X
    n_near, coef, offset = _near_tie_terms(
        n, centers, dots.itemsize, best_d, second_d, sq_norm, extra_roundings
    )
    if n_near == 0:
        return
    for q in range(n):
        if _near_tie(q, best_d, second_d, sq_norm, coef, offset):
            _settle_row(
                X, rows[q], samples.x_offset, q, centers, dots, best_d, second_d, best
            )


@numba.njit(nogil=True, cache=True, inline="always")
def _no_nearest(n, best_d, second_d, best):
    """Rows ``:n`` before any centre: infinite distances, label 0."""
    for q in range(n):
        best_d[q] = np.inf
        second_d[q] = np.inf
        best[q] = 0


@numba.njit(nogil=True, cache=True)
def _fold_dots(dots, n, sqnorm, n_clusters, best_d, second_d, best):
    """The two smallest of ``sqnorm[j] + dots[j, q]`` over the centres
    ``j < n_clusters`` and their label, into rows ``:n``; four centres a
    sweep, as ``_two_feature_nearest_two``."""
    j = 0
    while j + 4 <= n_clusters:
        s0, s1, s2, s3 = sqnorm[j], sqnorm[j + 1], sqnorm[j + 2], sqnorm[j + 3]
        r0, r1, r2, r3 = dots[j], dots[j + 1], dots[j + 2], dots[j + 3]
        for q in range(n):
            _keep_four(
                q,
                s0 + r0[q],
                s1 + r1[q],
                s2 + r2[q],
                s3 + r3[q],
                j,
                best_d,
                second_d,
                best,
            )
        j += 4
    while j < n_clusters:
        label = np.int32(j)
        s = sqnorm[j]
        row = dots[j]
        for q in range(n):
            _keep_two(q, s + row[q], label, best_d, second_d, best)
        j += 1


@numba.njit(nogil=True, cache=True)
def nearest_two(
    chunk_rows,
    chunk_t,
    n,
    centers,
    use_gemm,
    dots_buffer,
    acc,
    best_d,
    second_d,
    best,
    sq_norm,
):
    """Nearest centre of the ``n`` gathered rows, and their nearest and
    second-nearest distances up to ``||x||^2`` (X's dtype).

    Vectorised over the rows; a direct loop on ``chunk_t`` for few features
    (each row's distances rounded the same whatever the other rows), else a
    GEMM on ``chunk_rows``, whose near ties are settled row by row
    (``settle_near_ties``).  centers : ``CenterTerms``; dots_buffer :
    (n_clusters * chunk,); acc, best_d, second_d, best : (chunk,); sq_norm :
    (chunk,) the rows' ``||x||^2`` as ``gather`` sums them.
    """
    n_clusters = centers.minus_2.shape[0]
    _no_nearest(n, best_d, second_d, best)
    if not use_gemm:
        _direct_nearest_two(chunk_t, n, centers, acc, best_d, second_d, best)
        return
    dots = dots_buffer[: n_clusters * n].reshape((n_clusters, n))
    np.dot(centers.minus_2, chunk_rows[:n].T, dots)
    _fold_dots(dots, n, centers.sqnorm, n_clusters, best_d, second_d, best)
    settle_near_ties(chunk_rows, n, centers, dots, sq_norm, best_d, second_d, best)


# The roundings of a float64 row and centre to float32, in units of a
# float32 product's rounding (``nearest_two_converted``).
CONVERSION_ROUNDINGS = 2


@numba.njit(nogil=True, cache=True)
def nearest_two_converted(
    samples,
    rows,
    n,
    centers,
    minus_2_32,
    rows32,
    dots32_buffer,
    best_d,
    second_d,
    best,
    sq_norm,
):
    """``nearest_two``'s labels of the rows ``rows[:n]`` of float64
    ``samples`` (GEMM path) from a float32 GEMM: ``rows32`` (chunk, d) the
    centred rows rounded to float32 (``gather`` into a float32 buffer),
    ``minus_2_32`` (k, d) ``-2 c`` rounded, their products summed by sgemm
    at twice dgemm's rate, the two smallest distances folded in float64.
    Near ties are settled on the float64 rows read in place, as
    ``nearest_two`` settles them, within the wider rounding of these
    products (float32's, ``CONVERSION_ROUNDINGS`` more for the
    conversions), so every label is the one ``nearest_two`` gives; the two
    distances, hence the gap bounds, carry float32's rounding
    (``store_cumulative_gaps`` takes it off).  dots32_buffer : (k * chunk,)
    float32; sq_norm : the rows' ``||x||^2``.
    """
    n_clusters = minus_2_32.shape[0]
    _no_nearest(n, best_d, second_d, best)
    dots = dots32_buffer[: n_clusters * n].reshape((n_clusters, n))
    np.dot(minus_2_32, rows32[:n].T, dots)
    _fold_dots(dots, n, centers.sqnorm, n_clusters, best_d, second_d, best)
    _settle_in_place(
        samples,
        rows,
        n,
        centers,
        dots,
        sq_norm,
        best_d,
        second_d,
        best,
        CONVERSION_ROUNDINGS,
    )


@numba.njit(nogil=True, cache=True)
def nearest_two_in_place(
    samples,
    rows,
    n,
    centers,
    centers_t,
    dots_buffer,
    best_d,
    second_d,
    best,
    sq_norm,
    sum_norms,
):
    """``nearest_two`` of the rows ``rows[:n]`` of ``samples`` read in place
    (``in_place_dots`` instead of a copy and a GEMM): the same labels, near
    ties settled row by row (``settle_near_ties_in_place``).  centers_t :
    (d, kp), ``transposed_minus_2`` of the centres; dots_buffer : (kp *
    (chunk + 3),); sq_norm : (chunk,), the rows' ``||x||^2``, summed here
    (``row_norms``' values) if ``sum_norms``, else given.

    The norms are summed as the products read the rows (``in_place_dots``:
    a row loaded once; a second read took about as long as the products at
    10 features) where X's rows are contiguous, else by ``row_norms``.
    """
    n_clusters = centers.minus_2.shape[0]
    kp = centers_t.shape[1]
    width = (n + 3) // 4 * 4
    dots = dots_buffer[: kp * width].reshape((kp, width))
    fused = sum_norms and fuses_norms(samples.X)
    if sum_norms and not fused:
        row_norms(samples, 0, rows, n, sq_norm)
    norms = sq_norm if fused else sq_norm[:0]
    in_place_dots(samples.X, samples.x_offset, rows, n, centers_t, dots, norms)
    _no_nearest(n, best_d, second_d, best)
    _fold_dots(dots, n, centers.sqnorm, n_clusters, best_d, second_d, best)
    settle_near_ties_in_place(
        samples, rows, n, centers, dots, sq_norm, best_d, second_d, best
    )
