"""Threads for the compiled passes: how many, the pool, and BLAS held at one."""

import os
from concurrent.futures import ThreadPoolExecutor

from threadpoolctl import ThreadpoolController

_blas_controller = None
_executor = None
_executor_size = 0


def effective_n_threads():
    """Threads a pass may use: ``OMP_NUM_THREADS`` if set, else the usable CPUs.

    The same environment variable scikit-learn's OpenMP loops honour, so one
    setting pins both libraries to the same thread count.
    """
    value = os.environ.get("OMP_NUM_THREADS", "").strip()
    if value.isdigit() and int(value) > 0:
        return int(value)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


class _NoLimit:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def blas_single_thread(needed=True):
    """Context manager holding BLAS at one thread (threads come from groups).

    Only the GEMM kernels call BLAS; other passes skip the (costly) switch.
    """
    global _blas_controller
    if not needed:
        return _NoLimit()
    if _blas_controller is None:
        _blas_controller = ThreadpoolController()
    return _blas_controller.limit(limits=1, user_api="blas")


def thread_pool(n_threads):
    """A shared pool of at least ``n_threads`` workers."""
    global _executor, _executor_size
    if _executor is None or _executor_size < n_threads:
        if _executor is not None:
            _executor.shutdown(wait=False)
        _executor = ThreadPoolExecutor(
            max_workers=n_threads, thread_name_prefix="sklearn_kmeans_lab"
        )
        _executor_size = n_threads
    return _executor
