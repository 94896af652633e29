"""One measurement round of one implementation, in a fresh process.

Run by ``benchmarks.run`` as ``python -m benchmarks._worker SPEC.json``; the
thread settings come from the environment the parent gives it.  Writes its
results as JSON to the path named in the spec.

For each case, in this order:

1. import the implementation (``import_s``; only the first case of a process
   pays it); in the first round, a first default fit (``first_fit_s``:
   compile or cache loading, page faults, thread-pool start-up -- what a
   user's first call costs), in later rounds an untimed warm-up fit on a few
   rows;
2. a default fit: ``e2e_s`` (the fastest of a few calls when short), and
   the inertia of its centres recomputed here in float64;
3. fits from the shared explicit centres with ``tol=0``, ``max_iter`` = m1
   then m2 (each the fastest of a few calls when short): time per iteration
   is the slope between them, so validation, set-up and the final assignment
   pass cancel (the pair is the case's own where it has one: the hard
   regime uses 3 and 13);
4. where the spec asks (``multi_start``): a default fit with ``n_init=10``
   (the fastest of a few calls when short), and ten ``n_init=1`` default
   fits of ten other seeds (each the fastest of a few calls when short):
   the first's time over the sum of the ten says what ten starts in one fit
   cost against ten single fits (one single fit's iterations, hence its
   time, depend on its seed: ten seeds average that out);
5. where the spec asks (``quality_seeds``, N): N more default fits, seeds
   1000 to 1000 + N - 1, untimed, and their inertias (``e2e_inertias``): a
   fit's local minimum depends on its seed, so one fit per round says
   little about how good a library's fits are;

then, in the first round and after every timing of the process, one more
default fit per case, untimed, for the peak extra resident memory.
"""

import json
import sys
import time

from threadpoolctl import threadpool_info

from benchmarks import _cases, _impls, _measure

# the seeds of the quality fits, apart from the rounds' seeds (0, 1, ...)
QUALITY_SEED_BASE = 1000
# the seeds of a round's ten single fits: 100 + 10 * round seed + (0 .. 9)
TEN_SINGLES_SEED_BASE = 100


def _timed(fn, *args):
    start = time.perf_counter()
    result = fn(*args)
    return result, time.perf_counter() - start


def _best_of(fn, *args, budget_s=0.5, max_repeat=5):
    """Fastest of a few calls: repeat short calls until ``budget_s`` is spent."""
    result, best = _timed(fn, *args)
    spent, repeats = best, 1
    while spent < budget_s and repeats < max_repeat:
        result, seconds = _timed(fn, *args)
        best, spent, repeats = min(best, seconds), spent + seconds, repeats + 1
    return result, best


def run_case(impl, case, spec, loaded):
    X, init = _cases.load(spec["data_dir"], case)
    out = {"case": case.name}
    if not loaded:
        _, out["import_s"] = _timed(impl.load, spec["threads"])
    seed = spec["seed"]
    if spec["cold"]:
        _, out["first_fit_s"] = _timed(impl.fit_default, X, case.k, seed)
    else:  # warm up (compiled code, thread pools) on a few rows, untimed
        impl.fit_default(X[: max(2000, 4 * case.k)], case.k, seed)
    budget = spec["budget_s"]
    # a default fit of a given seed is the same work each call: a short one
    # is repeated and the fastest kept, as the fixed fits below (a single
    # call of a few milliseconds measures the other vCPU's load as much)
    centers, out["e2e_s"] = _best_of(impl.fit_default, X, case.k, seed, budget_s=budget)
    out["e2e_inertia"] = _measure.inertia64(X, centers)
    if spec.get("multi_start"):
        # same seed as the n_init=1 default fit above, ten starts
        _, out["e2e_n_init10_s"] = _best_of(
            impl.fit_default, X, case.k, seed, 10, budget_s=budget
        )
        first = TEN_SINGLES_SEED_BASE + 10 * seed
        out["e2e_ten_singles_s"] = sum(
            _best_of(impl.fit_default, X, case.k, first + i, budget_s=budget)[1]
            for i in range(10)
        )
    n_seeds = spec.get("quality_seeds", 0)
    out["e2e_inertias"] = [
        _measure.inertia64(X, impl.fit_default(X, case.k, QUALITY_SEED_BASE + s))
        for s in range(n_seeds)
    ]
    m1, m2 = case.iters or spec["iters"]
    (_, it1), t1 = _best_of(impl.fit_fixed, X, init, m1, budget_s=budget)
    (centers, it2), t2 = _best_of(impl.fit_fixed, X, init, m2, budget_s=budget)
    out["fixed"] = {"t1": t1, "t2": t2, "it1": int(it1), "it2": int(it2)}
    out["iter_s"] = (t2 - t1) / (it2 - it1) if it2 > it1 else None
    out["fixed_inertia"] = _measure.inertia64(X, centers)
    return out


def peak_memory(impl, case, spec):
    """Peak extra resident memory of a default fit (changes the allocator's
    settings for the rest of the process: run after every timing)."""
    X, _ = _cases.load(spec["data_dir"], case)
    with _measure.PeakRSS(exact=True) as peak:
        impl.fit_default(X, case.k, spec["seed"])
    return peak.extra


def main(spec_path):
    with open(spec_path) as f:
        spec = json.load(f)
    if spec.get("machine"):
        result = _measure.machine_rates(spec["quick"])
    else:
        impl = _impls.IMPLEMENTATIONS[spec["impl"]]
        result = {"cases": []}
        cases = [_cases.Case(**case) for case in spec["cases"]]
        for i, case in enumerate(cases):
            result["cases"].append(run_case(impl, case, spec, loaded=i > 0))
        # the pools as the timed fits saw them: lets the report check that
        # "threads=1" really pinned every pool the libraries loaded
        result["threadpools"] = [
            {k: p.get(k) for k in ("user_api", "internal_api", "num_threads")}
            for p in threadpool_info()
        ]
        for case, out in zip(cases, result["cases"], strict=True):
            out["peak_extra_bytes"] = (
                peak_memory(impl, case, spec) if spec["memory"] else None
            )
    with open(spec["out"], "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main(sys.argv[1])
