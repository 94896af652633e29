"""Do shared starts and warm-ups change KSelector's answer?  Issue 12's checks.

    python -m benchmarks.check_shared_starts [--quick] [--seeds N] [--rows NAME ...]

``KSelector`` fits ``LloydKMeans`` at every K of a data set from starts seeded
once, at the largest K (``_engine.ManyFits``): the fit at a smaller K runs
from the first K centres of each start.  A reference set of 50,000 rows or
more is seeded over its first rows and each start runs over them (a tenth;
from 10^6 rows a hundredth, then a tenth) before the whole set
(``_engine.warm_up_rows``).  Both change which local optimum a fit reaches,
so issue 12 asks, on its benchmark rows (``bench_kselector``'s
``blobs_small``, ``income_age`` and ``blobs``; ``--quick``: ``blobs`` at
5 x 10^4 rows, the smallest set fitted in stages), for:

1. every K of 1..10: the mean inertia over ``--seeds`` seeds (10) of the
   selector's fits of X no worse than that of independent
   ``LloydKMeans(n_clusters=K, n_init=10, random_state=seed)`` fits by more
   than 0.1 %;
2. the gap curve within its Monte-Carlo standard error of the curve of
   independent fits: the same selections (``random_state``, hence the same
   reference sets) through the general path, where every fit is seeded
   independently; at every K, the gap averaged over the seeds within the
   (average) standard error of the independent fits' average gap.  Per seed
   the two curves differ by the luck of the k-means fits of X too, which the
   standard error (of the reference sets' Monte-Carlo) does not cover; the
   largest per-seed difference is printed, and the spread of the
   independent fits' own gap over the seeds beside it;
3. the same K chosen, for each of the seeds;
4. every K of 2..10: the reference sets' ``W*_k`` (the mean of ``log W*_k``
   over the sets and the seeds, ``results_["ref_log_w_mean"]``) no worse than
   that of the independent fits of the same sets by more than 0.1 %.

(The issue's remaining check, R ``clusGap``'s fixtures, is
``tests/test_gap_vs_r.py``.)
Prints a line per row and K and, per check, met or missed.  Threads are
limited to 1 (the results do not depend on them).
"""

import argparse
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from benchmarks.bench_kselector import blobs, blobs_small, income_age  # noqa: E402

K_RANGE = range(1, 11)
N_REFS = 10
N_INIT = 10  # KSelector's default clusterer: LloydKMeans(n_init=10)
INERTIA_TOLERANCE = 1e-3  # issue 12: no worse than independent fits by 0.1 %


def rows(quick):
    return {
        "blobs_small": lambda: blobs_small(1_000),
        "income_age": lambda: income_age(10_000),
        "blobs": lambda: blobs(50_000 if quick else 100_000),
    }


def independent_clusterer():
    """``LloydKMeans`` under another type: ``KSelector`` then takes its general
    path, one independently seeded fit per data set and K."""
    from sklearn_kmeans_lab import LloydKMeans

    class IndependentFits(LloydKMeans):
        pass

    return IndependentFits(n_init=N_INIT)


def check_row(name, X, seeds):
    from sklearn_kmeans_lab import KSelector, LloydKMeans

    ks = np.array(list(K_RANGE))
    shared = np.empty((len(seeds), ks.size))
    alone = np.empty((len(seeds), ks.size))
    gaps, gaps_alone, ses_alone, same_k = [], [], [], []
    ref_log_w, ref_log_w_alone = [], []
    for i, seed in enumerate(seeds):
        selector = KSelector(k_range=K_RANGE, n_refs=N_REFS, random_state=seed).fit(X)
        general = KSelector(
            independent_clusterer(), k_range=K_RANGE, n_refs=N_REFS, random_state=seed
        ).fit(X)
        shared[i] = selector.results_["inertia"]
        for j, k in enumerate(ks):
            alone[i, j] = (
                LloydKMeans(n_clusters=k, n_init=N_INIT, random_state=seed)
                .fit(X)
                .inertia_
            )
        gap, ref = selector.results_["gap"], general.results_
        ref_log_w.append(selector.results_["ref_log_w_mean"])
        ref_log_w_alone.append(ref["ref_log_w_mean"])
        gaps.append(gap)
        gaps_alone.append(ref["gap"])
        ses_alone.append(ref["gap_se"])
        same_k.append(selector.n_clusters_ == general.n_clusters_)
        print(
            f"  {name} seed {seed}: K={selector.n_clusters_} "
            f"(independent fits: K={general.n_clusters_}); largest "
            f"|gap - gap_independent| / se_independent = "
            f"{np.max(np.abs(gap - ref['gap']) / ref['gap_se']):.3f}",
            flush=True,
        )
    ratio = shared.mean(axis=0) / alone.mean(axis=0)
    gap_diff = np.mean(gaps, axis=0) - np.mean(gaps_alone, axis=0)
    se = np.mean(ses_alone, axis=0)
    spread = np.std(gaps_alone, axis=0, ddof=1)
    # W*_k of the engine's reference fits over that of independent fits
    ref_ratio = np.exp(np.mean(ref_log_w, axis=0) - np.mean(ref_log_w_alone, axis=0))
    for j, k in enumerate(ks):
        print(
            f"  {name} K={k:>2}: mean inertia shared starts / independent fits "
            f"= {ratio[j]:.6f}; reference sets' W*_k engine / independent = "
            f"{ref_ratio[j]:.6f}; mean gap - independent mean gap = "
            f"{gap_diff[j]:+.5f} (se {se[j]:.5f}; independent gap's spread over "
            f"seeds {spread[j]:.5f}, its mean's standard error "
            f"{spread[j] / np.sqrt(len(seeds)):.5f})"
        )
    return {
        "inertia": bool(np.all(ratio <= 1 + INERTIA_TOLERANCE)),
        "worst_inertia_ratio": float(ratio.max()),
        "gap": bool(np.all(np.abs(gap_diff) <= se)),
        "worst_gap_ratio": float(np.max(np.abs(gap_diff) / se)),
        "same_k": bool(all(same_k)),
        "reference": bool(np.all(ref_ratio <= 1 + INERTIA_TOLERANCE)),
        "worst_reference_ratio": float(ref_ratio.max()),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--rows", nargs="+", default=None)
    args = parser.parse_args(argv)
    makers = rows(args.quick)
    names = args.rows or list(makers)
    seeds = list(range(args.seeds))
    failed = False
    with threadpool_limits(1):
        for name in names:
            X = makers[name]()
            print(f"{name} {X.shape[0]} x {X.shape[1]}, seeds {seeds}", flush=True)
            result = check_row(name, X, seeds)
            worst = result["worst_inertia_ratio"]
            lines = [
                (
                    "mean inertia <= independent fits + 0.1 % at every K "
                    f"(worst ratio {worst:.6f})",
                    result["inertia"],
                ),
                (
                    "mean gap within the independent fits' MC standard error at "
                    f"every K (worst {result['worst_gap_ratio']:.3f} se)",
                    result["gap"],
                ),
                ("the same K chosen", result["same_k"]),
                (
                    "reference sets' W*_k <= independent fits' + 0.1 % at every "
                    f"K (worst ratio {result['worst_reference_ratio']:.6f})",
                    result["reference"],
                ),
            ]
            for text, met in lines:
                print(f"- {name}: {text}: {'met' if met else 'MISSED'}")
                failed |= not met
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
