"""LloydKMeans on a dask array larger than the workers' memory.

    python -m benchmarks.bench_dask [--n-samples 1e8] [--n-features 10]
        [--n-clusters 8] [--chunk-rows 1e6] [--memory-limit 1.5GB]
        [--max-iter 10] [--in-memory-samples N] [--out FILE.json]

The data (blobs, float32) is generated lazily, block by block, from fixed
seeds: it never exists whole anywhere.  A ``LocalCluster`` of two worker
processes (one thread each) with a memory limit fits ``LloydKMeans`` on it
(k-means|| initialisation, then ``--max-iter`` Lloyd iterations with
``tol=0``), so every pass regenerates its blocks: the cost of streaming data
that does not fit.  Reported: the time of the initialisation and of each
iteration (from the ``verbose`` lines, time-stamped), the peak resident
memory of each worker (sampled every 0.2 s from the scheduler's metrics),
the bytes spilled to disk, and whether a worker died or restarted.

Then the in-memory estimator fits the same data, materialised, from the
centres the k-means|| initialisation found, with the same number of
iterations; its time per iteration gives the ratio.  ``--in-memory-samples``
limits that size (default: the same as the dask run) when the machine cannot
hold two copies of X.
"""

import argparse
import contextlib
import io
import json
import os
import platform
import sys
import threading
import time

import numpy as np


def _blob_block(n_features, n_clusters, std, seed, block_id=None, block_info=None):
    """One block of the blobs; a pure function of (seed, block position)."""
    (rows,) = block_info[None]["chunk-shape"][:1]
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=block_id[:1]))
    centers = np.random.default_rng(seed).uniform(
        -10, 10, size=(n_clusters, n_features)
    )
    labels = rng.integers(n_clusters, size=rows)
    X = rng.standard_normal((rows, n_features), dtype=np.float32)
    X *= np.float32(std)
    X += centers[labels].astype(np.float32)
    return X


def lazy_blobs(n_samples, n_features, n_clusters, chunk_rows, *, std=4.0, seed=0):
    """Overlapping float32 blobs as a lazy dask array (nothing computed)."""
    import dask.array as da

    chunks = [chunk_rows] * (n_samples // chunk_rows)
    if n_samples % chunk_rows:
        chunks.append(n_samples % chunk_rows)
    return da.map_blocks(
        _blob_block,
        n_features,
        n_clusters,
        std,
        seed,
        dtype=np.float32,
        chunks=(tuple(chunks), (n_features,)),
        meta=np.empty((0, 0), dtype=np.float32),
    )


class Timeline(io.TextIOBase):
    """A stdout that time-stamps the lines ``verbose`` prints."""

    def __init__(self):
        self.start = time.perf_counter()
        self.lines = []

    def write(self, text):
        now = time.perf_counter() - self.start
        self.lines += [(now, line) for line in text.splitlines() if line.strip()]
        return len(text)

    def init_seconds(self):
        return next(t for t, line in self.lines if line == "Initialization complete")

    def iteration_seconds(self):
        """Time between consecutive iteration lines (the first from the init)."""
        marks = [self.init_seconds()]
        marks += [t for t, line in self.lines if line.startswith("Iteration ")]
        return np.diff(marks)


class WorkerMemory:
    """Peak resident memory and spilled bytes per worker, sampled in a thread."""

    def __init__(self, client, interval=0.2):
        self.client = client
        self.interval = interval
        self.peak = {}
        self.spilled = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            for address, info in self.client.scheduler_info()["workers"].items():
                metrics = info["metrics"]
                self.peak[address] = max(self.peak.get(address, 0), metrics["memory"])
                spilled = metrics.get("spilled_bytes", {}).get("disk", 0)
                self.spilled[address] = max(self.spilled.get(address, 0), spilled)
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def run_dask(args, init_centers=None):
    import distributed

    from sklearn_kmeans_lab import LloydKMeans

    X = lazy_blobs(args.n_samples, args.n_features, args.n_clusters, args.chunk_rows)
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            memory_limit=args.memory_limit,
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        pids = client.run(os.getpid)
        limits = [
            w["memory_limit"] for w in client.scheduler_info()["workers"].values()
        ]
        timeline = Timeline()
        km = LloydKMeans(
            args.n_clusters,
            init="k-means++" if init_centers is None else init_centers,
            max_iter=args.max_iter,
            tol=0,
            verbose=1,
            random_state=0,
        )
        with WorkerMemory(client) as memory, contextlib.redirect_stdout(timeline):
            start = time.perf_counter()
            km.fit(X)
            fit_seconds = time.perf_counter() - start
        restarted = client.run(os.getpid) != pids
        logs = client.get_worker_logs()
    warnings_logged = [
        line
        for lines in logs.values()
        for level, line in lines
        if level in ("WARNING", "ERROR", "CRITICAL")
    ]
    iterations = timeline.iteration_seconds()
    return km, {
        "n_samples": args.n_samples,
        "data_gb": X.nbytes / 1e9,
        "worker_memory_limit_gb": [limit / 1e9 for limit in limits],
        "fit_seconds": fit_seconds,
        "init_seconds": timeline.init_seconds(),
        "n_iter": km.n_iter_,
        "seconds_per_iteration_median": float(np.median(iterations)),
        "seconds_per_iteration": iterations.round(3).tolist(),
        "peak_worker_memory_gb": sorted(v / 1e9 for v in memory.peak.values()),
        "spilled_to_disk_gb": sorted(v / 1e9 for v in memory.spilled.values()),
        "worker_restarted": restarted,
        "worker_warnings": warnings_logged,
        "inertia": km.inertia_,
    }


def run_in_memory(args, n_samples, init_centers):
    from benchmarks._measure import PeakRSS
    from sklearn_kmeans_lab import LloydKMeans

    X = lazy_blobs(n_samples, args.n_features, args.n_clusters, args.chunk_rows)
    X = X.compute(scheduler="threads")
    timeline = Timeline()
    km = LloydKMeans(
        args.n_clusters, init=init_centers, max_iter=args.max_iter, tol=0, verbose=1
    )
    with PeakRSS() as rss, contextlib.redirect_stdout(timeline):
        start = time.perf_counter()
        km.fit(X)
        fit_seconds = time.perf_counter() - start
    iterations = timeline.iteration_seconds()
    return km, {
        "n_samples": n_samples,
        "fit_seconds": fit_seconds,
        "n_iter": km.n_iter_,
        "seconds_per_iteration_median": float(np.median(iterations)),
        "seconds_per_iteration": iterations.round(3).tolist(),
        "peak_extra_memory_gb": None if rss.extra is None else rss.extra / 1e9,
        "inertia": km.inertia_,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-samples", type=float, default=1e8)
    parser.add_argument("--n-features", type=int, default=10)
    parser.add_argument("--n-clusters", type=int, default=8)
    parser.add_argument("--chunk-rows", type=float, default=1e6)
    parser.add_argument("--memory-limit", default="1.5GB")
    parser.add_argument("--max-iter", type=int, default=10)
    parser.add_argument("--in-memory-samples", type=float, default=None)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    args.n_samples, args.chunk_rows = int(args.n_samples), int(args.chunk_rows)
    in_memory_samples = int(args.in_memory_samples or args.n_samples)

    print(f"dask: {args.n_samples:.2g} x {args.n_features} float32, ", end="")
    print(f"2 workers x {args.memory_limit}", flush=True)
    km, dask_result = run_dask(args)
    print(json.dumps(dask_result, indent=1), flush=True)
    init = km.cluster_centers_  # any good centres serve for timing iterations

    comparison = {}
    if in_memory_samples != args.n_samples:
        # The ratio compares equal sizes: rerun dask at the in-memory size.
        small = argparse.Namespace(**{**vars(args), "n_samples": in_memory_samples})
        _, comparison["dask"] = run_dask(small, init_centers=init)
    else:
        comparison["dask"] = dask_result
    print(f"in memory: {in_memory_samples:.2g} x {args.n_features}", flush=True)
    _, comparison["in_memory"] = run_in_memory(args, in_memory_samples, init)
    comparison["ratio_dask_over_in_memory_per_iteration"] = (
        comparison["dask"]["seconds_per_iteration_median"]
        / comparison["in_memory"]["seconds_per_iteration_median"]
    )
    print(json.dumps(comparison["in_memory"], indent=1))
    ratio = comparison["ratio_dask_over_in_memory_per_iteration"]
    print(f"time per iteration, dask / in-memory: {ratio:.2f}")

    if args.out:
        import dask
        import distributed

        from sklearn_kmeans_lab import __version__

        with open(args.out, "w") as f:
            json.dump(
                {
                    "command": " ".join(sys.argv),
                    "machine": {
                        "cpus": os.cpu_count(),
                        "python": platform.python_version(),
                        "dask": dask.__version__,
                        "distributed": distributed.__version__,
                        "sklearn_kmeans_lab": __version__,
                        "load_average_at_end": os.getloadavg(),
                    },
                    "dask_larger_than_memory": dask_result,
                    "comparison": comparison,
                },
                f,
                indent=1,
            )


if __name__ == "__main__":
    main()
