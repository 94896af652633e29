"""KSelector against scikit-learn, gap-stat's ``OptimalK`` and R's ``clusGap``.

    python -m benchmarks.bench_kselector [--quick] [--large] [--threads N]
        [--n-jobs N] [--repeats R] [--slow-repeats R] [--no-r] [--no-gapstat]
        [--no-sklearn] [--no-memory] [--memory-only] [--memory-k-max N]
        [--rows NAME ...] [--out FILE.json]

Every contender computes the gap statistic for K = 1..10 with B = 10
reference sets and 10 k-means starts per fit, on issue 12's rows:

* ``blobs_small``: ``make_blobs(1_000, 2 features, 3 centers, random_state=0)``;
* ``income_age``: the seed's income/age recipe at 10^4 x 2
  (``make_income_age_clusters(10_000, 5, random_state=10)``), standardised;
* ``blobs``: ``make_blobs(100_000, 10 features, 6 centers, random_state=0)``;
* with ``--large``, ``blobs_large``: the same at 10^6 rows (the sklearn loop
  and gap-stat then take tens of minutes each: one round of them).

``--quick`` shrinks ``blobs`` to 2 x 10^4 rows and runs one round.

Contenders:

* ``KSelector``: ``KSelector(criterion="gap", k_range=range(1, 11),
  n_refs=10)``, its default clusterer ``LloydKMeans(n_init=10)`` and
  reference ``"pca"``.
* ``sklearn gap loop``: the loop a user writes around
  ``sklearn.cluster.KMeans(k, n_init=10)``: the data and B scaledPCA
  reference sets (each drawn once and fitted at every K, as clusGap does),
  ``log W_k`` from ``inertia_``, the gap and its standard error.
* ``gap-stat``: ``OptimalK(clusterer=KMeans(n_init=10))`` (scikit-learn's
  k-means, so that it gets the same 10 starts), ``n_refs=10``; its reference
  is uniform over the features' ranges and it draws new reference sets for
  every K.  ``gap-stat default``: ``OptimalK()`` as shipped (scipy's
  ``kmeans2``, one start of at most 10 iterations): cheaper, not the same work.
* ``R clusGap``: ``clusGap(x, kmeans, K.max = 10, B = 10, nstart = 10,
  iter.max = 50)`` (Hartigan-Wong, ``spaceH0 = "scaledPCA"``), timed inside R
  around the call only (``benchmarks/r/bench_clusgap.R``).  clusGap computes
  W_k from ``dist()`` of each cluster: n^2 / 2 doubles at K = 1, 40 GB at
  n = 10^5, so on ``blobs`` it cannot run; there, ``R kmeans loop`` times the
  same algorithm with W_k = ``tot.withinss / 2`` instead (it reproduces
  clusGap's table to 10 digits on a small dataset).

Each Python contender runs once on a small dataset first (imports, numba's
compilation), untimed.  The repeats are interleaved (the order rotates every
round); the table shows the median seconds, their range over the rounds, the
ratio of medians to KSelector (KSelector's speed-up), and the K each one
chose, with the paper's rule (``Tibs2001SEmax``) and with its own default
rule (KSelector: the same; gap-stat: the global maximum of the gap; R
``maxSE``: ``firstSEmax``).  The slow contenders run ``--slow-repeats`` times
on the 10^5- and 10^6-row blobs.

Below each table, issue 12's targets, each met or missed by a factor:
KSelector at least 5x faster than the fastest peer (the sklearn gap loop,
gap-stat with 10 starts, R clusGap; not "gap-stat default", which does less
work, nor "R kmeans loop", which stands in for clusGap where it cannot run),
the issue's absolute times on its rows (this machine's figures: elsewhere
read them as indications), and, on the 10^6-row blobs, the peak extra
resident memory of one KSelector fit under 2x the size of X (measured after
every timing, as ``benchmarks.run`` does, by ``benchmarks._measure.PeakRSS``;
printed for every row).  ``--memory-only`` measures the memory alone, and
``--memory-k-max N`` fits ``k_range=range(1, N + 1)`` for it.  The memory of a
fit grows little with K (one reference set per task and buffers of n_samples
whatever K; but the fits of X kept until K is chosen hold a byte a row each,
and the seeding's candidates grow as log K), its time a lot: ``--large --rows
blobs_large --memory-only --memory-k-max 2`` gives an indication in about a
minute (1.66x X where the whole k_range gave 1.73x), the default k-max (10)
the target's figure in about five.

Threads: every thread pool (BLAS, OpenMP, ``LloydKMeans``'s blocks) is limited
to ``--threads`` (default 1) with threadpoolctl and ``OMP_NUM_THREADS``, R
runs with the same variables set, and the fits themselves run one after the
other unless ``--n-jobs`` is given (KSelector's and OptimalK's ``n_jobs``).
"""

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

# at the top, not where the peak memory is measured: a run as a script
# (``python benchmarks/bench_kselector.py``, which cannot import the
# package) then fails at once, not after the timings
from benchmarks._measure import PeakRSS

K_RANGE = range(1, 11)
N_REFS = 10
N_INIT = 10
R_ITER_MAX = 50
R_SCRIPT = Path(__file__).resolve().parent / "r" / "bench_clusgap.R"
THREAD_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "NUMBA_NUM_THREADS",
)


def income_age(n_samples):
    from sklearn.preprocessing import StandardScaler

    try:
        from sklearn_kmeans_lab import make_income_age_clusters

        X, _ = make_income_age_clusters(n_samples, 5, random_state=10)
    except ImportError:  # the seed's recipe, where the package lacks it
        rng = np.random.RandomState(10)
        rows = []
        for _ in range(5):
            centre = rng.uniform(20000.0, 200000.0), rng.uniform(20.0, 70.0)
            for _ in range(n_samples // 5):
                rows.append(
                    [rng.normal(centre[0], 10000.0), rng.normal(centre[1], 2.0)]
                )
        X = np.array(rows)
    return StandardScaler().fit_transform(X)


def blobs(n_samples):
    from sklearn.datasets import make_blobs

    X, _ = make_blobs(n_samples, n_features=10, centers=6, random_state=0)
    return X


def blobs_small(n_samples):
    from sklearn.datasets import make_blobs

    X, _ = make_blobs(n_samples, n_features=2, centers=3, random_state=0)
    return X


# ---- contenders: each returns {"seconds", "k_tibs", "k_own"} ----


def run_kselector(X, seed, n_jobs, k_range=K_RANGE):
    from sklearn_kmeans_lab import KSelector, max_se

    start = time.perf_counter()
    sel = KSelector(
        criterion="gap",
        k_range=k_range,
        n_refs=N_REFS,
        n_jobs=n_jobs,
        random_state=seed,
    ).fit(X)
    seconds = time.perf_counter() - start
    res = sel.results_
    k_first = int(res["k"][max_se(res["gap"], res["gap_se"], method="firstSEmax")])
    return {
        "seconds": seconds,
        "k_tibs": sel.n_clusters_,
        "k_own": sel.n_clusters_,
        "k_firstSEmax": k_first,
    }


def run_sklearn_loop(X, seed):
    """The plain scikit-learn gap loop, in the order of R's clusGap.

    The data and B reference sets drawn uniformly in the box of the data's
    principal components ("scaledPCA", KSelector's default reference), each
    set drawn once and fitted at every K; ``log W_k = log(inertia_)`` (the
    factor 1/2 of W_k cancels in the gap); SE = sd * sqrt(1 + 1/B).
    """
    from sklearn.cluster import KMeans

    from sklearn_kmeans_lab import max_se

    start = time.perf_counter()
    rng = np.random.RandomState(seed)

    def log_w(data, k):
        km = KMeans(k, n_init=N_INIT, random_state=rng.randint(2**31 - 1))
        return np.log(km.fit(data).inertia_)

    log_w_data = np.array([log_w(X, k) for k in K_RANGE])
    mean = X.mean(axis=0)
    _, _, vt = np.linalg.svd(X - mean, full_matrices=False)
    projected = (X - mean) @ vt.T
    low, high = projected.min(axis=0), projected.max(axis=0)
    log_w_ref = np.empty((N_REFS, len(K_RANGE)))
    for b in range(N_REFS):
        ref = rng.uniform(low, high, size=projected.shape) @ vt + mean
        log_w_ref[b] = [log_w(ref, k) for k in K_RANGE]
    gap = log_w_ref.mean(axis=0) - log_w_data
    se = log_w_ref.std(axis=0, ddof=1) * np.sqrt(1 + 1 / N_REFS)
    seconds = time.perf_counter() - start
    k_tibs = int(K_RANGE[max_se(gap, se, method="Tibs2001SEmax")])
    k_first = int(K_RANGE[max_se(gap, se, method="firstSEmax")])
    return {
        "seconds": seconds,
        "k_tibs": k_tibs,
        "k_own": k_tibs,
        "k_firstSEmax": k_first,
    }


def _sklearn_kmeans(X, n_clusters, n_init, random_state):
    """gap-stat's clusterer protocol, ``(centroids, labels)``, with n_init starts."""
    from sklearn.cluster import KMeans

    km = KMeans(n_clusters, n_init=n_init, random_state=random_state).fit(X)
    return km.cluster_centers_, km.labels_


def run_gapstat(X, seed, n_jobs, same_starts=True):
    from gap_statistic import OptimalK

    from sklearn_kmeans_lab import max_se

    kwargs = {"random_state": seed}
    if same_starts:
        kwargs["clusterer"] = _sklearn_kmeans
        kwargs["clusterer_kwargs"] = {"n_init": N_INIT, "random_state": seed}
    if n_jobs in (None, 1):
        kwargs["parallel_backend"] = None  # its sequential loop
    else:
        kwargs["n_jobs"] = n_jobs
    optimal_k = OptimalK(**kwargs)
    start = time.perf_counter()
    k_own = optimal_k(X, n_refs=N_REFS, cluster_array=list(K_RANGE))
    seconds = time.perf_counter() - start
    df = optimal_k.gap_df
    k_tibs = int(df["n_clusters"][max_se(df["gap_value"], df["sk"])])
    return {"seconds": seconds, "k_tibs": k_tibs, "k_own": int(k_own)}


def run_r(csv, seed, threads, mode):
    env = dict(os.environ, **dict.fromkeys(THREAD_VARS, str(threads)))
    args = [str(K_RANGE[-1]), str(N_REFS), str(N_INIT), str(R_ITER_MAX), str(seed)]
    proc = subprocess.run(
        ["Rscript", str(R_SCRIPT), str(csv), *args, mode],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    return {
        "seconds": out["seconds"],
        "k_tibs": out["k_Tibs2001SEmax"],
        "k_own": out["k_firstSEmax"],
        "n_kmeans_warnings": out["n_kmeans_warnings"],
    }


def r_available():
    if shutil.which("Rscript") is None:
        return False
    check = subprocess.run(
        ["Rscript", "-e", "library(cluster)"], capture_output=True, text=True
    )
    return check.returncode == 0


def gapstat_available():
    try:
        import gap_statistic  # noqa: F401
    except ImportError:
        return False
    return True


def contenders(args, case, csv):
    """(name, function of seed, is slow) for one dataset."""
    out = [("KSelector", lambda X, s: run_kselector(X, s, args.n_jobs), False)]
    if not args.no_sklearn:
        out.append(("sklearn gap loop", lambda X, s: run_sklearn_loop(X, s), True))
    if not args.no_gapstat and gapstat_available():
        out.append(("gap-stat", lambda X, s: run_gapstat(X, s, args.n_jobs), True))
        out.append(
            (
                "gap-stat default",
                lambda X, s: run_gapstat(X, s, args.n_jobs, same_starts=False),
                True,
            )
        )
    if not args.no_r and r_available():
        # dist() at K = 1 holds n^2 / 2 doubles: clusGap itself up to 2 x 10^4.
        if case["n_samples"] <= 20_000:
            out.append(
                ("R clusGap", lambda X, s: run_r(csv, s, args.threads, "clusgap"), True)
            )
        out.append(
            (
                "R kmeans loop",
                lambda X, s: run_r(csv, s, args.threads, "kmeans-loop"),
                True,
            )
        )
    return out


def warm_up(args):
    """Run the Python contenders once, untimed, on small data."""
    X = blobs(2_000)
    run_kselector(X, 0, args.n_jobs)
    if not args.no_sklearn:
        run_sklearn_loop(X, 0)
    if not args.no_gapstat and gapstat_available():
        run_gapstat(X, 0, args.n_jobs)


def bench_case(args, case, workdir):
    X = case["make"](case["n_samples"])
    csv = Path(workdir) / f"{case['name']}.csv"
    np.savetxt(
        csv,
        X,
        fmt="%.17g",
        delimiter=",",
        comments="",
        header=",".join(f"x{j + 1}" for j in range(X.shape[1])),
    )
    entries = contenders(args, case, csv)
    runs = {name: [] for name, _, _ in entries}
    for r in range(args.repeats):
        order = entries[r % len(entries) :] + entries[: r % len(entries)]
        for name, run, slow in order:
            if slow and case["big"] and r >= args.slow_repeats:
                continue
            result = run(X, r)
            runs[name].append(result)
            print(
                f"  {case['name']:<11} {name:<17} round {r}: "
                f"{result['seconds']:8.2f} s  K={result['k_tibs']}",
                flush=True,
            )
    return X.shape, runs


# Issue 12: KSelector at least this many times faster than the fastest peer.
SPEED_UP_TARGET = 5.0
# The peers of that target (the other contenders are reported for the record).
PEERS = ("sklearn gap loop", "gap-stat", "R clusGap")
# Issue 12's absolute times (seconds, its machine) at its rows' exact sizes.
ABSOLUTE_TARGETS = {
    ("blobs_small", 1_000): 0.15,
    ("income_age", 10_000): 0.7,
    ("blobs", 100_000): 15.0,
    ("blobs_large", 1_000_000): 150.0,
}
MEMORY_TARGET = 2.0  # peak extra memory of a KSelector fit / size of X
# The issue sets the memory target at 10^6 x 10; on the small rows a few
# hundred KiB of fixed overhead dwarf X, so there it is reported, not judged.
MEMORY_TARGET_ROWS = ("blobs_large",)


def summarise(shape, runs):
    base = statistics.median(r["seconds"] for r in runs["KSelector"])
    rows = []
    for name, results in runs.items():
        seconds = [r["seconds"] for r in results]
        median = statistics.median(seconds)
        rows.append(
            {
                "contender": name,
                "n_runs": len(results),
                "median_seconds": median,
                "min_seconds": min(seconds),
                "max_seconds": max(seconds),
                "ratio_to_kselector": median / base,
                "k_tibs2001semax": sorted({r["k_tibs"] for r in results}),
                "k_own_rule": sorted({r["k_own"] for r in results}),
                "runs": results,
            }
        )
    return {"shape": list(shape), "rows": rows}


def targets(name, summary):
    """Issue 12's targets on one row, each with its value and verdict."""
    rows = {row["contender"]: row for row in summary["rows"]}
    out = []
    if "KSelector" not in rows:  # --memory-only
        rows = {}
    else:
        ours = rows["KSelector"]["median_seconds"]
    peers = [rows[p] for p in PEERS if p in rows]
    if peers:
        fastest = min(peers, key=lambda row: row["median_seconds"])
        speed_up = fastest["median_seconds"] / ours
        out.append(
            {
                "target": f"speed-up over the fastest peer ({fastest['contender']})",
                "value": speed_up,
                "limit": f">= {SPEED_UP_TARGET:g}x",
                "met": speed_up >= SPEED_UP_TARGET,
                "factor": SPEED_UP_TARGET / speed_up,
            }
        )
    limit = ABSOLUTE_TARGETS.get((name, summary["shape"][0]))
    if limit is not None and rows:
        out.append(
            {
                "target": "KSelector seconds (issue 12's machine)",
                "value": ours,
                "limit": f"<= {limit:g} s",
                "met": ours <= limit,
                "factor": ours / limit,
            }
        )
    memory = summary.get("kselector_peak_extra_over_X")
    if memory is not None and name in MEMORY_TARGET_ROWS:
        out.append(
            {
                "target": "KSelector peak extra memory / size of X",
                "value": memory,
                "limit": f"< {MEMORY_TARGET:g}",
                "met": memory < MEMORY_TARGET,
                "factor": memory / MEMORY_TARGET,
            }
        )
    return out


def print_table(name, summary):
    print(f"\n{name} {summary['shape'][0]} x {summary['shape'][1]}")
    print(
        f"{'contender':<17} {'runs':>4} {'median s':>9} {'range s':>15} "
        f"{'ratio':>6}  K(Tibs)  K(own)"
    )
    for row in summary["rows"]:
        k_tibs = ",".join(map(str, row["k_tibs2001semax"]))
        k_own = ",".join(map(str, row["k_own_rule"]))
        spread = f"{row['min_seconds']:.3g}-{row['max_seconds']:.3g}"
        print(
            f"{row['contender']:<17} {row['n_runs']:>4} {row['median_seconds']:9.3g} "
            f"{spread:>15} {row['ratio_to_kselector']:6.2f}  {k_tibs:<7}  {k_own}"
        )
    if summary.get("kselector_peak_extra_bytes") is not None:
        print(
            f"KSelector peak extra memory: "
            f"{summary['kselector_peak_extra_bytes'] / 2**20:.1f} MiB "
            f"(X: {summary['x_bytes'] / 2**20:.1f} MiB; "
            f"{summary['kselector_peak_extra_over_X']:.2f}x X; "
            f"k_range 1..{summary['memory_k_range'][1]})"
        )
    print("targets (issue 12):")
    for check in summary["targets"]:
        verdict = "met" if check["met"] else f"missed by a factor {check['factor']:.2f}"
        print(
            f"- {check['target']}: {check['value']:.3g} ({check['limit']}): {verdict}"
        )


def peak_memory(args, case):
    """Peak extra resident memory of one KSelector fit on the case's data.

    Run after every timing: ``PeakRSS(exact=True)`` changes glibc's
    allocation settings for the rest of the process.
    """
    X = case["make"](case["n_samples"])
    with PeakRSS(exact=True) as peak:
        run_kselector(X, 0, args.n_jobs, range(1, args.memory_k_max + 1))
    return peak.extra, X.nbytes


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--large", action="store_true", help="add the 10^6 x 10 blobs row"
    )
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--n-jobs", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--slow-repeats", type=int, default=1)
    parser.add_argument("--no-r", action="store_true")
    parser.add_argument("--no-gapstat", action="store_true")
    parser.add_argument("--no-sklearn", action="store_true")
    parser.add_argument(
        "--rows",
        nargs="+",
        choices=["blobs_small", "income_age", "blobs", "blobs_large"],
        help="only these data rows (default: all; blobs_large needs --large)",
    )
    parser.add_argument(
        "--no-memory", action="store_true", help="skip the peak-memory fits"
    )
    parser.add_argument(
        "--memory-only",
        action="store_true",
        help="measure only the peak memory of one KSelector fit per row",
    )
    parser.add_argument(
        "--memory-k-max",
        type=int,
        default=K_RANGE[-1],
        help="the peak-memory fit uses k_range=range(1, N + 1) (default 10: "
        "the timed fit's; memory grows little with K, time a lot)",
    )
    parser.add_argument("--out", help="write the results as JSON to this file")
    args = parser.parse_args(argv)
    if args.repeats is None:
        args.repeats = 1 if args.quick else 3

    from threadpoolctl import threadpool_info, threadpool_limits

    # LloydKMeans reads OMP_NUM_THREADS at each fit; the loaded pools need
    # threadpoolctl.
    os.environ.update(dict.fromkeys(THREAD_VARS, str(args.threads)))
    cases = [
        {"name": "blobs_small", "make": blobs_small, "n_samples": 1_000, "big": False},
        {"name": "income_age", "make": income_age, "n_samples": 10_000, "big": False},
        {
            "name": "blobs",
            "make": blobs,
            "n_samples": 20_000 if args.quick else 100_000,
            "big": not args.quick,
        },
    ]
    if args.large:
        cases.append(
            {"name": "blobs_large", "make": blobs, "n_samples": 10**6, "big": True}
        )
    if args.rows:
        cases = [case for case in cases if case["name"] in args.rows]
    report = {
        "settings": {
            "k_range": [K_RANGE[0], K_RANGE[-1]],
            "n_refs": N_REFS,
            "n_init": N_INIT,
            "r_iter_max": R_ITER_MAX,
            "threads": args.threads,
            "n_jobs": args.n_jobs,
            "repeats": args.repeats,
            "slow_repeats": args.slow_repeats,
            "quick": args.quick,
            "large": args.large,
        },
        "machine": {
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
        "cases": {},
    }
    with threadpool_limits(limits=args.threads), tempfile.TemporaryDirectory() as tmp:
        report["machine"]["threadpools"] = [
            {k: p.get(k) for k in ("user_api", "internal_api", "num_threads")}
            for p in threadpool_info()
        ]
        print(f"threads={args.threads} n_jobs={args.n_jobs} (warming up)", flush=True)
        warm_up(args)
        for case in cases:
            if args.memory_only:
                shape = case["make"](case["n_samples"]).shape
                report["cases"][case["name"]] = {"shape": list(shape), "rows": []}
                continue
            shape, runs = bench_case(args, case, tmp)
            report["cases"][case["name"]] = summarise(shape, runs)
        if not args.no_memory:
            for case in cases:
                extra, x_bytes = peak_memory(args, case)
                summary = report["cases"][case["name"]]
                summary["x_bytes"] = x_bytes
                summary["kselector_peak_extra_bytes"] = extra
                summary["memory_k_range"] = [1, args.memory_k_max]
                if extra is not None:
                    summary["kselector_peak_extra_over_X"] = extra / x_bytes
    for name, summary in report["cases"].items():
        summary["targets"] = targets(name, summary)
        print_table(name, summary)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(report, indent=2))
        print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
