"""Run the benchmark suite and print the table.

    python -m benchmarks.run [--quick] [--threads {1,default,both}]
                             [--impl NAME ...] [--rounds N] [--out FILE.json]

Every measurement runs in a fresh subprocess on the same data and the same
explicit initial centres; the implementations are interleaved (A B C, then
B C A, ...) over several rounds, and the table shows medians over rounds and
medians of the per-round ratios to scikit-learn's Lloyd at the same thread
setting.  See ``benchmarks/README.md``.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict

import numpy as np

from benchmarks import _cases, _impls

BASELINE = "sklearn-lloyd"
OURS = "lab"
THREAD_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMBA_NUM_THREADS",
)


def _env(mode):
    """The worker's environment: every thread knob at 1, or all unset."""
    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARS}
    if mode == "1":
        env.update(dict.fromkeys(THREAD_VARS, "1"))
    return env


def _run_worker(spec, mode, workdir):
    fd, out = tempfile.mkstemp(suffix=".json", dir=workdir)
    os.close(fd)
    spec = dict(spec, out=out)
    spec_path = out + ".spec"
    with open(spec_path, "w") as f:
        json.dump(spec, f)
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks._worker", spec_path],
        env=_env(mode),
        capture_output=True,
        text=True,
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"worker failed ({spec.get('impl', 'machine')}, threads={mode}):\n"
            + proc.stderr[-4000:]
        )
    with open(out) as f:
        return json.load(f)


def _versions():
    from importlib.metadata import PackageNotFoundError, version

    versions = {"python": platform.python_version()}
    for dist in (
        "numpy", "scipy", "scikit-learn", "numba", "scikit-learn-intelex", "faiss-cpu",
    ):  # fmt: skip
        try:
            versions[dist] = version(dist)
        except PackageNotFoundError:
            pass
    return versions


def _cpu():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def collect(cases, impls, modes, rounds, iters, quick, data_dir, log):
    """Run every worker; return the machine rates and the raw records."""
    machine = {mode: [] for mode in modes}
    records = []
    with tempfile.TemporaryDirectory() as workdir:
        for r in range(rounds):
            for mode in modes:
                rates = _run_worker({"machine": True, "quick": quick}, mode, workdir)
                machine[mode].append(rates)
            # quick: one process per implementation runs every case; full:
            # one process per implementation and case.
            groups = [cases] if quick else [[case] for case in cases]
            for group in groups:
                for mode in modes:
                    shift = r % len(impls)
                    for name in impls[shift:] + impls[:shift]:
                        spec = {
                            "impl": name,
                            "threads": 1 if mode == "1" else None,
                            "cases": [asdict(c) for c in group],
                            "data_dir": data_dir,
                            "seed": r,
                            "iters": iters,
                            "budget_s": 0.1 if quick else 0.3,
                            # first-call cost and memory: first round only
                            "cold": r == 0,
                            "memory": r == 0,
                            # issue 12: what do ten starts cost? (ours, 1 thread)
                            "multi_start": name == OURS and mode == "1",
                            # issue 4: are our fits as good as sklearn's?
                            "quality_seeds": QUALITY_SEEDS
                            if r == 0 and name in (OURS, BASELINE)
                            else 0,
                        }
                        start = time.perf_counter()
                        result = _run_worker(spec, mode, workdir)
                        log(
                            f"round {r + 1}/{rounds} threads={mode:<7} {name:<13} "
                            f"{', '.join(c.name for c in group)} "
                            f"({time.perf_counter() - start:.1f}s)"
                        )
                        for rec in result["cases"]:
                            records.append(
                                dict(
                                    rec,
                                    impl=name,
                                    mode=mode,
                                    round=r,
                                    threadpools=result["threadpools"],
                                )
                            )
    rates = {
        mode: {
            key: float(np.median([m[key] for m in machine[mode]]))
            for key in machine[mode][0]
        }
        for mode in modes
    }
    return rates, records


def _lower_bound(case, rates):
    """max(GEMM time at the measured peak, one read of X at measured bandwidth)."""
    gemm = rates[f"gemm_gflops_{case.dtype}"] * 1e9
    flops = 2.0 * case.n_samples * case.k * case.n_features
    return max(flops / gemm, case.nbytes / (rates["read_gbps"] * 1e9))


def _median(values):
    values = [v for v in values if v is not None]
    return float(np.median(values)) if values else None


def _ratios(records, case, mode, impl, ref_mode, ref_impl, key, ref_key=None):
    """Per-round ratios of impl's ``key`` over ref's ``ref_key`` (default
    ``key``) in the same round."""
    ref_key = ref_key or key
    index = {
        (rec["impl"], rec["mode"], rec["round"]): rec
        for rec in records
        if rec["case"] == case
    }
    ratios = []
    for (name, m, r), rec in index.items():
        ref = index.get((ref_impl, ref_mode, r))
        if name == impl and m == mode and ref and rec.get(key) and ref.get(ref_key):
            ratios.append(rec[key] / ref[ref_key])
    return ratios


def _ratio(*args, **kwargs):
    """Median over rounds of the per-round ratios (see ``_ratios``)."""
    return _median(_ratios(*args, **kwargs))


def summarise(cases, impls, modes, rates, records):
    rows = []
    for case in cases:
        for mode in modes:
            for impl in impls:
                recs = [
                    r
                    for r in records
                    if r["case"] == case.name
                    and r["mode"] == mode
                    and r["impl"] == impl
                ]
                if not recs:
                    continue
                iter_s = _median([r["iter_s"] for r in recs])
                bound = _lower_bound(case, rates[mode])
                args = (records, case.name, mode, impl, mode, BASELINE)
                peak = _median([r.get("peak_extra_bytes") for r in recs])
                rows.append(
                    {
                        "case": case.name,
                        "n": case.n_samples,
                        "d": case.n_features,
                        "k": case.k,
                        "dtype": case.dtype,
                        "threads": mode,
                        "impl": impl,
                        "iter_ms": None if iter_s is None else iter_s * 1e3,
                        "iter_vs_sklearn": _ratio(*args, "iter_s"),
                        "iter_vs_bound": None if iter_s is None else iter_s / bound,
                        "bound_ms": bound * 1e3,
                        "e2e_s": _median([r["e2e_s"] for r in recs]),
                        "e2e_vs_sklearn": _ratio(*args, "e2e_s"),
                        "inertia_vs_sklearn": _ratio(*args, "e2e_inertia"),
                        "fixed_inertia_vs_sklearn": _ratio(*args, "fixed_inertia"),
                        "first_fit_s": _median([r.get("first_fit_s") for r in recs]),
                        "import_s": _median([r.get("import_s") for r in recs]),
                        "peak_extra_mb": None if peak is None else peak / 2**20,
                        "peak_extra_pct_of_X": None
                        if peak is None
                        else 100 * peak / case.nbytes,
                        "iter_spread": _spread([r["iter_s"] for r in recs]),
                    }
                )
    return rows


def _spread(values):
    """(max - min) / median over rounds: how noisy a figure was."""
    values = [v for v in values if v is not None]
    if len(values) < 2:
        return None
    return (max(values) - min(values)) / float(np.median(values))


# Issue 12's LloydKMeans targets, at 1 thread against 1-thread scikit-learn.
ISSUE12_ITER_LIMIT = 0.5
ISSUE12_E2E_LIMIT = 0.6
# "The ten starts cost well under ten single fits": our reading of "well
# under" is at most half of ten single fits.
ISSUE12_TEN_STARTS_LIMIT = 0.5
# Issue 4's inertia target: default fits of this many seeds per library.
QUALITY_SEEDS = 30


def targets(cases, modes, records, rows):
    """Issue 4's and issue 12's targets, each with its value and verdict.

    ``value`` is the median of the per-round ratios, ``low`` and ``high``
    their range over the interleaved rounds.
    """
    out = []

    def add(issue, what, case, ratios, limit):
        if not ratios:
            return
        value = _median(ratios)
        out.append(
            {
                "issue": issue,
                "target": what,
                "case": case.name,
                "value": value,
                "low": min(ratios),
                "high": max(ratios),
                "n_rounds": len(ratios),
                "limit": limit,
                "met": bool(value <= limit),
            }
        )

    for case in cases:
        small, wide = case.n_features <= 10, case.n_features >= 50
        for mode in modes:
            r = lambda impl, key, ref_key=None, case=case, mode=mode: _ratios(  # noqa: E731
                records, case.name, mode, OURS, mode, impl, key, ref_key
            )
            label = "1 thread" if mode == "1" else "default threads"
            if mode == "1":
                add(12, f"iteration vs sklearn, {label}", case, r(BASELINE, "iter_s"),
                    ISSUE12_ITER_LIMIT)  # fmt: skip
                add(12, f"end-to-end vs sklearn, {label}", case, r(BASELINE, "e2e_s"),
                    ISSUE12_E2E_LIMIT)  # fmt: skip
                add(12, "n_init=10 fit / 10 n_init=1 fits, 1 thread", case,
                    r(OURS, "e2e_n_init10_s", "e2e_ten_singles_s"),
                    ISSUE12_TEN_STARTS_LIMIT)  # fmt: skip
            if case.hard:  # issue 4's targets were set on its own cases
                continue
            if small or wide:
                limit = {("1", True): 0.5, ("1", False): 1.0}.get((mode, small))
                if mode != "1":
                    limit = 0.1 if small else 0.9
                add(4, f"iteration vs sklearn, {label}", case, r(BASELINE, "iter_s"),
                    limit)  # fmt: skip
            if mode != "1":
                add(4, f"iteration vs sklearnex, {label}", case,
                    r("sklearnex", "iter_s"), 1.0)  # fmt: skip
            add(4, f"end-to-end vs sklearn, {label}", case, r(BASELINE, "e2e_s"),
                0.6 if mode == "1" else 0.3)  # fmt: skip
            # Seeds differ between libraries, so a run's local minimum does:
            # the fit must not be worse than sklearn's (a lower inertia is a
            # better fit, not a failure of "equal inertia").  One fit per
            # round is one draw of that luck; the fits of QUALITY_SEEDS seeds
            # are many (see quality_check).
            check = quality_check(records, case.name, mode, label)
            if check is not None:
                out.append(check)
            if case.n_samples >= 1_000_000:
                pct = [
                    row["peak_extra_pct_of_X"]
                    for row in rows
                    if row["case"] == case.name
                    and row["threads"] == mode
                    and row["impl"] == OURS
                    and row["peak_extra_pct_of_X"] is not None
                ]
                add(4, f"peak extra memory % of X, {label}", case, pct, 10.0)
    return out


def quality_check(records, case, mode, label):
    """Issue 4's "end-to-end inertia at most 0.1 % above sklearn's": the
    mean over ``QUALITY_SEEDS`` seeds of our default fit's inertia over
    scikit-learn's with the same seed number, and two standard errors of
    that mean either side (``low``, ``high``).  A seed's local minimum
    differs between the libraries (their generators draw differently), by a
    few percent either way, so the verdict asks that the mean be not
    significantly above the limit: met if ``low`` is at most 1.001."""
    found = {}
    for rec in records:
        if rec["case"] == case and rec["mode"] == mode and rec.get("e2e_inertias"):
            found[rec["impl"]] = rec["e2e_inertias"]
    if OURS not in found or BASELINE not in found:
        return None
    ratios = np.array(found[OURS]) / np.array(found[BASELINE])
    mean = float(ratios.mean())
    se = float(ratios.std(ddof=1) / np.sqrt(ratios.size)) if ratios.size > 1 else 0.0
    return {
        "issue": 4,
        "target": (
            f"end-to-end inertia at most 0.1% above sklearn's "
            f"(mean over {ratios.size} seeds, ± 2 s.e.), {label}"
        ),
        "case": case,
        "value": mean,
        "low": mean - 2 * se,
        "high": mean + 2 * se,
        "n_rounds": ratios.size,
        "limit": 1.001,
        "met": bool(mean - 2 * se <= 1.001),
    }


def unpinned_pools(records):
    """Thread pools that ran with more than one thread under ``threads=1``."""
    seen = set()
    for rec in records:
        if rec["mode"] != "1":
            continue
        for pool in rec.get("threadpools", ()):
            if (pool.get("num_threads") or 1) > 1:
                seen.add((rec["impl"], pool["internal_api"], pool["num_threads"]))
    return sorted(seen)


def _fmt(value, spec):
    return "-" if value is None else format(value, spec)


def _verdict(check):
    if check["met"]:
        return "met"
    if "inertia" in check["target"]:
        return "MISSED"
    return f"missed by a factor {check['value'] / check['limit']:.2f}"


def print_report(meta, rates, rows, checks, file=sys.stdout):
    p = lambda *a: print(*a, file=file)  # noqa: E731
    p(f"# K-Means benchmark ({meta['mode']})")
    p(f"command: {meta['command']}")
    p(f"cpu: {meta['cpu']} ({meta['n_cpus']} usable CPUs); {meta['versions']}")
    for mode, r in rates.items():
        p(
            f"threads={mode}: dgemm {r['gemm_gflops_float64']:.1f} GFLOP/s, "
            f"sgemm {r['gemm_gflops_float32']:.1f} GFLOP/s, "
            f"read {r['read_gbps']:.1f} GB/s"
        )
    p(
        f"rounds={meta['rounds']}, iterations timed between max_iter="
        f"{meta['iters'][0]} and {meta['iters'][1]}, hard-* cases between "
        f"{_cases.HARD_ITERS[0]} and {_cases.HARD_ITERS[1]} "
        "(tol=0, shared explicit init: random rows)"
    )
    for impl, api, n in meta.get("unpinned_pools", []):
        p(f"WARNING: threads=1 but {impl}'s {api} pool ran {n} threads")
    p("")
    p(
        "| case | thr | impl | iter ms | ×sk | ×bound | spread | e2e s | ×sk "
        "| inertia/sk | first fit s | extra MB (% X) |"
    )
    p("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        pct = row["peak_extra_pct_of_X"]
        p(
            f"| {row['case']} | {row['threads']} | {row['impl']} "
            f"| {_fmt(row['iter_ms'], '.3g')} | {_fmt(row['iter_vs_sklearn'], '.2f')} "
            f"| {_fmt(row['iter_vs_bound'], '.1f')} "
            f"| {_fmt(row['iter_spread'], '.0%')} "
            f"| {_fmt(row['e2e_s'], '.3g')} | {_fmt(row['e2e_vs_sklearn'], '.2f')} "
            f"| {_fmt(row['inertia_vs_sklearn'], '.5f')} "
            f"| {_fmt(row['first_fit_s'], '.3g')} "
            f"| {_fmt(row['peak_extra_mb'], '.1f')} ({_fmt(pct, '.0f')}%) |"
        )
    p("")
    p(
        "Targets: median of the per-round ratios (range over rounds); the "
        "inertia targets: mean over seeds (± 2 standard errors)"
    )
    p("")
    p("| issue | target | case | value (range) | limit | verdict |")
    p("|---|---|---|---|---|---|")
    for c in sorted(checks, key=lambda c: c["issue"]):  # stable: case order kept
        spec = ".5f" if "inertia" in c["target"] else ".3g"
        value = f"{c['value']:{spec}}"
        if c["n_rounds"] > 1:
            value += f" ({c['low']:{spec}}–{c['high']:{spec}})"
        p(
            f"| {c['issue']} | {c['target']} | {c['case']} | {value} "
            f"| <= {c['limit']:g} | {_verdict(c)} |"
        )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small cases")
    parser.add_argument(
        "--threads",
        choices=["1", "default", "both"],
        default="both",
        help="thread settings to run: 1, the libraries' default, or both",
    )
    parser.add_argument(
        "--impl",
        nargs="+",
        choices=list(_impls.IMPLEMENTATIONS),
        help="implementations to run (default: every installed one)",
    )
    parser.add_argument("--case", nargs="+", help="only these case names")
    parser.add_argument("--rounds", type=int, help="rounds (default 3)")
    parser.add_argument("--out", help="write the JSON results to this file")
    parser.add_argument(
        "--data-dir",
        default=os.path.join("benchmarks", "results", "data"),
        help="where the generated data sets are cached",
    )
    args = parser.parse_args(argv)

    cases = _cases.QUICK_CASES if args.quick else _cases.FULL_CASES
    if args.case:
        cases = [c for c in cases if c.name in args.case]
    names = args.impl or list(_impls.IMPLEMENTATIONS)
    impls = [n for n in names if _impls.IMPLEMENTATIONS[n].available()]
    skipped = sorted(set(names) - set(impls))
    modes = {"1": ["1"], "default": ["default"], "both": ["1", "default"]}[args.threads]
    rounds = args.rounds or 3
    iters = [2, 10] if args.quick else [3, 11]
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    if skipped:
        log(f"not installed, skipped: {', '.join(skipped)}")

    start = time.perf_counter()
    _cases.prepare(args.data_dir, cases)
    rates, records = collect(
        cases, impls, modes, rounds, iters, args.quick, args.data_dir, log
    )
    rows = summarise(cases, impls, modes, rates, records)
    checks = targets(cases, modes, records, rows) if OURS in impls else []
    meta = {
        "command": "python -m benchmarks.run "
        + " ".join(sys.argv[1:] if argv is None else argv),
        "mode": "quick" if args.quick else "full",
        "threads": modes,
        "rounds": rounds,
        "iters": iters,
        "cpu": _cpu(),
        "n_cpus": len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "versions": _versions(),
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "wall_s": time.perf_counter() - start,
        "skipped": skipped,
        "unpinned_pools": unpinned_pools(records),
    }
    print_report(meta, rates, rows, checks)
    log(f"total {meta['wall_s']:.0f}s")
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w") as f:
            json.dump(
                {
                    "meta": meta,
                    "machine": rates,
                    "cases": [asdict(c) for c in cases],
                    "rows": rows,
                    "targets": checks,
                    "records": records,
                },
                f,
                indent=1,
            )
        log(f"wrote {args.out}")


if __name__ == "__main__":
    main()
