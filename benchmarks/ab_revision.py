"""This checkout's code against an older revision's, in one process.

    python -m benchmarks.ab_revision REV [--case NAME ...] [--kselector ROW ...]
        [--repeats N] [--data-dir DIR]

The ratios of ``benchmarks.run`` divide this package's time by scikit-learn's
in the same round.  On this project's shared 2-vCPU machines both move by 30
to 40 % over hours, and not together (issue 12's closing notes), so a change
worth 5 to 10 % cannot show through them.  This script measures the change
itself:

* REV's package is exported (``git archive``) into a scratch folder under
  another name (``sklearn_kmeans_lab_rev``, its imports rewritten), so that
  both import into one process; numba caches into a scratch folder, so
  neither writes the tree's cache;
* every thread pool at one thread (``OMP_NUM_THREADS`` and the like, and
  threadpoolctl);
* the same work alternates between the two codes, the order swapped every
  repeat, after one untimed call of each (numba's compilation);
* each pair of results must be equal, bit for bit (``labels_`` and
  ``cluster_centers_``; a ``KSelector``'s ``results_`` and ``labels_``):
  where the change alters a result the script stops, as the two would not be
  doing the same work.

Work: for each ``benchmarks`` case (``--case``, default the ``--quick``
cases), the time per Lloyd iteration (the slope between the case's
``max_iter`` pair, from its shared initial centres, ``tol=0``, as
``benchmarks.run`` measures it) and a default fit (``random_state=0``); for
each ``--kselector`` row (``blobs_small``, ``income_age``, ``blobs``:
``benchmarks.bench_kselector``'s), its ``KSelector`` fit.  Printed: the
median over repeats of the paired ratios new / old, their range, and each
side's median seconds.
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

# numpy loads with it: its BLAS is held at one thread by threadpoolctl
from benchmarks.run import THREAD_VARS

REV_PACKAGE = "sklearn_kmeans_lab_rev"


def export_revision(rev, directory):
    """REV's ``sklearn_kmeans_lab`` as ``REV_PACKAGE`` under ``directory``."""
    archive = subprocess.run(
        ["git", "archive", rev, "sklearn_kmeans_lab"], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", directory], input=archive, check=True)
    package = os.path.join(directory, REV_PACKAGE)
    os.rename(os.path.join(directory, "sklearn_kmeans_lab"), package)
    name = re.compile(r"\bsklearn_kmeans_lab\b")
    for folder, _, files in os.walk(package):
        for file in files:
            if file.endswith(".py"):
                path = os.path.join(folder, file)
                with open(path) as f:
                    text = f.read()
                with open(path, "w") as f:
                    f.write(name.sub(REV_PACKAGE, text))


def _same_fit(a, b):
    import numpy as np

    return np.array_equal(a.labels_, b.labels_) and np.array_equal(
        a.cluster_centers_, b.cluster_centers_
    )


def _same_selection(a, b):
    import numpy as np

    same = a.n_clusters_ == b.n_clusters_ and np.array_equal(a.labels_, b.labels_)
    for key, value in a.results_.items():
        other = b.results_[key]
        if isinstance(value, np.ndarray) and value.dtype.kind in "fc":
            same = same and np.array_equal(value, other, equal_nan=True)
        else:
            same = same and np.array_equal(np.asarray(value), np.asarray(other))
    return same


def _timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def compare(name, work, same, repeats, units="s"):
    """Time ``work(side)`` for both sides, alternating; check ``same`` on the
    first pair; print the paired ratios new / old."""
    first = {side: work(side)[0] for side in ("new", "old")}
    if not same(first["new"], first["old"]):
        sys.exit(f"{name}: the two revisions' results differ; no timing compared")
    times = {"new": [], "old": []}
    for r in range(repeats):
        for side in ("new", "old") if r % 2 == 0 else ("old", "new"):
            times[side].append(work(side)[1])
    ratios = [n / o for n, o in zip(times["new"], times["old"], strict=True)]
    scale = 1e3 if units == "ms" else 1.0
    print(
        f"{name:<34} new/old {statistics.median(ratios):.3f} "
        f"({min(ratios):.2f}-{max(ratios):.2f})   new "
        f"{statistics.median(times['new']) * scale:.4g} {units}, old "
        f"{statistics.median(times['old']) * scale:.4g} {units}",
        flush=True,
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("rev", help="the older revision (a commit, tag or branch)")
    parser.add_argument("--case", nargs="*", help="benchmarks cases (default: quick)")
    parser.add_argument(
        "--kselector",
        nargs="*",
        default=[],
        choices=["blobs_small", "income_age", "blobs"],
        help="KSelector rows of bench_kselector",
    )
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument(
        "--data-dir", default=os.path.join("benchmarks", "results", "data")
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="ab_revision_") as scratch:
        run(args, scratch)


def run(args, scratch):
    """``main``'s work, REV exported into ``scratch``."""
    export_revision(args.rev, scratch)
    # before numba loads: one thread, a scratch cache (the BLAS, loaded
    # with numpy, is held at one thread by threadpoolctl below)
    os.environ.update(dict.fromkeys(THREAD_VARS, "1"))
    os.environ["NUMBA_CACHE_DIR"] = os.path.join(scratch, "numba_cache")
    sys.path.insert(0, scratch)

    import importlib

    from threadpoolctl import threadpool_limits

    from benchmarks import _cases, bench_kselector

    packages = {
        "new": importlib.import_module("sklearn_kmeans_lab"),
        "old": importlib.import_module(REV_PACKAGE),
    }
    wanted = args.case
    if wanted is None:
        wanted = [case.name for case in _cases.QUICK_CASES]
    known = {c.name: c for c in _cases.QUICK_CASES + _cases.FULL_CASES}
    unknown = sorted(set(wanted) - set(known))
    if unknown:
        sys.exit(f"unknown cases {unknown}; the cases are {sorted(known)}")
    cases = [known[name] for name in wanted]
    _cases.prepare(args.data_dir, cases)
    print(f"new: this checkout; old: {args.rev}; one thread; {args.repeats} repeats")
    with threadpool_limits(limits=1):
        for case in cases:
            X, init = _cases.load(args.data_dir, case)
            m1, m2 = case.iters or (2, 10)

            def fixed(side, m, X=X, init=init):
                km = packages[side].LloydKMeans(
                    len(init), init=init, n_init=1, max_iter=m, tol=0
                )
                return _timed(lambda: km.fit(X))

            def slope(side, m1=m1, m2=m2, fixed=fixed):
                short, t1 = fixed(side, m1)
                long, t2 = fixed(side, m2)
                return long, (t2 - t1) / max(long.n_iter_ - short.n_iter_, 1)

            label = f"{case.name} iteration {m1}->{m2}"
            compare(label, slope, _same_fit, args.repeats, "ms")

            def default(side, X=X, k=case.k):
                km = packages[side].LloydKMeans(k, random_state=0)
                return _timed(lambda: km.fit(X))

            compare(f"{case.name} default fit", default, _same_fit, args.repeats, "ms")
        rows = {
            "blobs_small": (bench_kselector.blobs_small, 1_000),
            "income_age": (bench_kselector.income_age, 10_000),
            "blobs": (bench_kselector.blobs, 100_000),
        }
        for row in args.kselector:
            make, n_samples = rows[row]
            X = make(n_samples)

            def select(side, X=X):
                selector = packages[side].KSelector(
                    criterion="gap",
                    k_range=bench_kselector.K_RANGE,
                    n_refs=bench_kselector.N_REFS,
                    random_state=0,
                )
                return _timed(lambda: selector.fit(X))

            compare(f"KSelector {row}", select, _same_selection, args.repeats)


if __name__ == "__main__":
    main()
