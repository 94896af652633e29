"""Compiled kernels (numba): the loops over every sample, and nothing else.

``common`` holds the loops that Lloyd's passes and the seeding share (the
squared distance of a row to a centre, the key of a row, column moments),
``nearest`` the nearest two centres of a chunk of rows, ``row_dots`` the
products of scattered rows with a few centres read in place, ``prefetch`` a
hint to the cache to load a row, ``lloyd`` the fused
assignment/accumulation pass and the M-step helpers, ``batched_pass`` the
compiled run's own pass,
``seeding`` the bucketed inverse-CDF draws and the candidate trials of
k-means++, ``run`` a whole Lloyd run in one call, ``kmeans_plusplus`` a whole
k-means++ seeding in one call, and ``starts`` every start of a fit (seeding,
run, best run) in one call.  No validation, printing or scikit-learn here:
the Python that drives them is in ``_lloyd_run.py``, ``_seeding.py``,
``_canonical_order.py`` and ``_backends/memory.py``.
"""
