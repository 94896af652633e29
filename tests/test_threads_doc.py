"""What the user guide says about threads (docs/user_guide/dask.rst).

The compiled passes of an in-memory fit spread over a thread pool of their
own, sized from ``OMP_NUM_THREADS`` or the usable CPUs; threadpoolctl and
numba's thread setting do not limit it; on a Dask array every block runs on
one thread.  The threads a pass uses are read with a spy on ``LloydRun._run``,
the one place that hands a pass to the pool, and on ``LloydRun.compiled_run``
(a whole run on one thread).  The environment variable is set
before the interpreter starts, in a subprocess, as the guide tells users to.
"""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from sklearn_kmeans_lab import LloydKMeans, _lloyd_run

# Large enough for a pass to be worth two threads: n * k * d = 8e6
# multiply-adds, twice the per-thread minimum, in more than one row group.
_PROBLEM = "rng.normal(size=(50_000, 10)), 16"

_SPY = textwrap.dedent(
    f"""
    import json, os, sys
    import numpy as np
    from sklearn_kmeans_lab import LloydKMeans, _lloyd_run, _parallel

    used = []
    original = _lloyd_run.LloydRun._run

    def spy(self, *args):
        used.append(self.n_threads)
        return original(self, *args)

    _lloyd_run.LloydRun._run = spy
    compiled = _lloyd_run.LloydRun.compiled_run

    def spy_compiled(self, *args):
        # a run in one compiled call, on one thread, hands nothing to the pool
        result = compiled(self, *args)
        if result is not None:
            used.append(self.n_threads)
        return result

    _lloyd_run.LloydRun.compiled_run = spy_compiled
    rng = np.random.default_rng(0)
    X, k = {_PROBLEM}

    def fit():
        used.clear()
        LloydKMeans(k, init="random", n_init=1, max_iter=2, random_state=0).fit(X)
        return max(used)
    """
)


def _run_python(code, env_changes):
    env = {key: value for key, value in os.environ.items() if key != "OMP_NUM_THREADS"}
    env.update(env_changes)
    completed = subprocess.run(
        [sys.executable, "-c", _SPY + textwrap.dedent(code)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout.strip().splitlines()[-1])


def _usable_cpus():
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1


def test_omp_num_threads_set_before_start_limits_the_passes_to_one_thread():
    result = _run_python(
        """
        print(json.dumps({"effective": _parallel.effective_n_threads(),
                          "used": fit()}))
        """,
        {"OMP_NUM_THREADS": "1"},
    )
    assert result == {"effective": 1, "used": 1}


def test_threadpoolctl_and_numba_settings_do_not_limit_the_passes():
    n_cpus = _usable_cpus()
    if n_cpus < 2:
        pytest.skip("one usable CPU: a pass never uses a second thread here")
    result = _run_python(
        """
        import numba
        from threadpoolctl import threadpool_limits

        unlimited = fit()
        with threadpool_limits(limits=1):
            under_threadpoolctl = fit()
        numba.set_num_threads(1)
        under_numba = fit()
        print(json.dumps([unlimited, under_threadpoolctl, under_numba]))
        """,
        {},
    )
    unlimited, under_threadpoolctl, under_numba = result
    assert unlimited == min(n_cpus, 2)
    assert under_threadpoolctl == unlimited
    assert under_numba == unlimited


def test_dask_blocks_run_on_one_thread(monkeypatch):
    dask = pytest.importorskip("dask")
    da = pytest.importorskip("dask.array")
    used = []
    original = _lloyd_run.LloydRun._run

    def spy(self, *args):
        used.append(self.n_threads)
        return original(self, *args)

    monkeypatch.setattr(_lloyd_run.LloydRun, "_run", spy)
    monkeypatch.setenv("OMP_NUM_THREADS", "4")
    rng = np.random.default_rng(0)
    # One block per pass is as large as the in-memory problem above.
    X = da.from_array(rng.normal(size=(50_000, 10)), chunks=(50_000, 10))
    with dask.config.set(scheduler="synchronous"):
        LloydKMeans(16, init="random", n_init=1, max_iter=2, random_state=0).fit(X)
    assert used and max(used) == 1
