"""Shared test configuration: headless matplotlib and Hypothesis profiles."""

import contextlib
import os

import matplotlib
import pytest
from hypothesis import HealthCheck, settings

matplotlib.use("Agg")

# "ci" (the default) is derandomised with a fixed example budget so CI is
# reproducible and bounded; "fuzz" is for long local runs:
#   HYPOTHESIS_PROFILE=fuzz pytest tests/test_properties.py
settings.register_profile(
    "ci",
    max_examples=40,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "fuzz",
    max_examples=2000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
# "edges" is the long fuzz run of the numerical-edge strategies (extreme
# weights, large offsets, integer data with exact ties, wide sparse data):
#   HYPOTHESIS_PROFILE=edges pytest tests/test_properties.py
# about ten minutes on two shared cores (the edge tests run 8000 examples each,
# the others 300); "ci" runs the same strategies, fewer times.
settings.register_profile(
    "edges",
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def pyplot():
    """The pyplot module, with every figure closed after the test."""
    import matplotlib.pyplot as plt

    yield plt
    plt.close("all")


@pytest.fixture
def dask_cluster():
    """Open a ``distributed.LocalCluster`` and its ``Client``, closed after the test.

    A factory: ``dask_cluster(processes=False, n_workers=2,
    threads_per_worker=1)`` returns the client.  Skips without distributed.
    """
    distributed = pytest.importorskip("distributed")
    with contextlib.ExitStack() as stack:

        def open_client(*, processes=False, n_workers=2, threads_per_worker=1):
            cluster = stack.enter_context(
                distributed.LocalCluster(
                    n_workers=n_workers,
                    threads_per_worker=threads_per_worker,
                    processes=processes,
                    dashboard_address=None,
                )
            )
            return stack.enter_context(distributed.Client(cluster))

        yield open_client
