"""What the worker measures besides time: peak memory, inertia, machine rates."""

import ctypes
import ctypes.util
import re
import time

import numpy as np


def _status_kib(field):
    with open("/proc/self/status") as f:
        match = re.search(rf"^{field}:\s+(\d+) kB", f.read(), re.MULTILINE)
    return int(match.group(1)) if match else None


class PeakRSS:
    """Peak resident memory added during a ``with`` block, in bytes.

    Linux keeps a high-water mark of the resident set (``VmHWM``); writing 5
    to ``/proc/self/clear_refs`` resets it to the current RSS, so the peak
    seen by the block is exact, not sampled.  ``extra`` is None where that is
    not available.

    With ``exact=True`` glibc is first told to serve every allocation of 64
    KiB or more by its own mapping and to hand freed memory back: otherwise
    a block reusing memory an earlier call freed (still resident) looks free.
    It stays so for the rest of the process, hence for the last measurement.
    """

    def __init__(self, exact=False):
        self.exact = exact

    def __enter__(self):
        self.extra = None
        if self.exact:
            _release_malloc_cache()
        try:
            self.before = _status_kib("VmRSS")
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
        except OSError:
            self.before = None
        return self

    def __exit__(self, *exc):
        if self.before is not None:
            self.extra = max(0, _status_kib("VmHWM") - self.before) * 1024
        return False


def _release_malloc_cache():
    name = ctypes.util.find_library("c")
    if name is None:  # pragma: no cover - not glibc
        return
    libc = ctypes.CDLL(name)
    if hasattr(libc, "mallopt"):
        M_MMAP_THRESHOLD = -3
        libc.mallopt(M_MMAP_THRESHOLD, 65536)
    if hasattr(libc, "malloc_trim"):
        libc.malloc_trim(0)


def inertia64(X, centers, chunk=65536):
    """Sum of squared distances to the nearest centre, computed in float64.

    From the differences, not the expanded form, so a faster fit cannot hide
    a worse solution behind rounding.
    """
    centers = np.asarray(centers, dtype=np.float64)
    total = 0.0
    for start in range(0, len(X), chunk):
        x = np.asarray(X[start : start + chunk], dtype=np.float64)
        best = np.full(len(x), np.inf)
        for c in centers:
            diff = x - c
            np.minimum(best, np.einsum("ij,ij->i", diff, diff), out=best)
        total += best.sum()
    return total


def _best_time(fn, repeat):
    best = np.inf
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def machine_rates(quick):
    """Peak GEMM rates (GFLOP/s, f64 and f32) and read bandwidth (GB/s).

    Measured under the thread settings of the calling process, best of a few
    repeats.  Bandwidth is the best of a vectorised sum and a GEMV over an
    array far larger than the caches.
    """
    size = 1024 if quick else 2048
    rng = np.random.RandomState(0)
    rates = {}
    for dtype in ("float64", "float32"):
        a = rng.standard_normal((size, size)).astype(dtype)
        b = rng.standard_normal((size, size)).astype(dtype)
        a @ b  # warm-up: thread pools, page faults
        seconds = _best_time(lambda a=a, b=b: a @ b, 3)
        rates[f"gemm_gflops_{dtype}"] = 2 * size**3 / seconds / 1e9
    n_bytes = (128 if quick else 512) * 2**20
    big = np.ones(n_bytes // 8)
    matrix = big.reshape(-1, 512)
    ones = np.ones(512)
    seconds = min(_best_time(big.sum, 3), _best_time(lambda: matrix @ ones, 3))
    rates["read_gbps"] = n_bytes / seconds / 1e9
    return rates
