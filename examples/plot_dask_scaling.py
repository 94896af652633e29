"""
=======================================
From one machine to a Dask cluster
=======================================

When the customer table outgrows one machine's memory,
:class:`~sklearn_kmeans_lab.LloydKMeans` takes a :class:`dask.array.Array`
instead of a NumPy array: the rows stay on the Dask workers, each Lloyd
iteration runs on every block where it lives, and only the cluster centres
travel.  This example moves the income/age segmentation to a (local) Dask
cluster, checks that the result is the in-memory one, and measures what the
distribution costs on a single machine.  The :ref:`user guide
<user_guide_dask>` explains how the fit runs.
"""

# %%
# A cluster
# ---------
# A real deployment connects a :class:`distributed.Client` to a scheduler
# running elsewhere; here two workers run inside this process, which is
# enough to show the mechanics.
from distributed import Client, LocalCluster

cluster = LocalCluster(
    n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
)
client = Client(cluster)

# %%
# The customers, as a Dask array
# ------------------------------
# 200,000 people in five income/age clusters, cut into eight blocks of rows.
# In practice the array would come from files (``da.from_zarr``, or a Dask
# DataFrame's ``to_dask_array(lengths=True)``).  The features are
# standardised with Dask's own lazy arithmetic, then persisted: Lloyd's
# algorithm reads the data once per iteration, so it should be computed once
# and kept in the workers' memory.
import dask.array as da
import numpy as np

from sklearn_kmeans_lab import make_income_age_clusters

people, segment = make_income_age_clusters(
    n_samples=200_000, n_clusters=5, random_state=10
)
# The generator lists the customers group by group; shuffle the rows, as a
# real table would be, so that any block or prefix holds all five groups.
order = np.random.default_rng(0).permutation(len(people))
people, segment = people[order], segment[order]
X = da.from_array(people, chunks=(25_000, 2))
X = ((X - X.mean(axis=0)) / X.std(axis=0)).persist()
X

# %%
# Fit, predict
# ------------
# The estimator and its parameters are the in-memory ones.  The centres,
# inertia and iteration count come back as usual; the labels are a lazy Dask
# array, computed block by block when asked for.
from sklearn.metrics import adjusted_rand_score

from sklearn_kmeans_lab import LloydKMeans

km = LloydKMeans(n_clusters=5, random_state=0).fit(X)
labels = km.predict(X)
print(f"{km.n_iter_} iterations, inertia {km.inertia_:.1f}")
print("cluster sizes:", da.bincount(labels, minlength=5).compute())
print(f"adjusted Rand index: {adjusted_rand_score(segment, labels.compute()):.3f}")

# %%
# The same iterates as in memory
# ------------------------------
# From the same initial centres, the distributed fit and the in-memory fit
# take the same steps: only the order in which the per-block sums are added
# differs, so the centres agree to rounding.
X_local = X.compute()
init = X_local[:5]
on_dask = LloydKMeans(n_clusters=5, init=init).fit(X)
in_memory = LloydKMeans(n_clusters=5, init=init).fit(X_local)
print(f"iterations: {on_dask.n_iter_} on Dask, {in_memory.n_iter_} in memory")
difference = np.abs(on_dask.cluster_centers_ - in_memory.cluster_centers_).max()
print(f"largest difference between the centres: {difference:.1e}")

# %%
# What distribution costs on one machine
# --------------------------------------
# Each pass over a Dask array schedules a task per block and a small tree
# reduction; in memory the same pass is one call.  On data that fit in
# memory that overhead only costs time; it buys the ability to fit data that
# do not, across as many machines as the cluster has.  Both fits below start
# from the same centres and stop at strict convergence or after 20
# iterations, whichever comes first, at the same iteration; the time is
# divided by ``n_iter_``.
import time

import matplotlib.pyplot as plt


def seconds_per_iteration(estimator, data):
    start = time.perf_counter()
    estimator.fit(data)
    return (time.perf_counter() - start) / estimator.n_iter_, estimator.n_iter_


sizes = [25_000, 50_000, 100_000, 200_000]
times = {"in memory": [], "Dask, 2 workers": []}
for n in sizes:
    Xn = X[:n].persist()
    Xn_local = X_local[:n]
    params = dict(n_clusters=5, init=init, max_iter=20, tol=0)
    local, n_iter_local = seconds_per_iteration(LloydKMeans(**params), Xn_local)
    on_dask, n_iter_dask = seconds_per_iteration(LloydKMeans(**params), Xn)
    times["in memory"].append(local)
    times["Dask, 2 workers"].append(on_dask)
    groups = len(np.unique(segment[:n]))
    print(
        f"n={n:>7,}: {groups} groups in X[:n], "
        f"{n_iter_local} iterations in memory, {n_iter_dask} on Dask"
    )

fig, ax = plt.subplots(figsize=(6, 4))
for name, values in times.items():
    ax.plot(sizes, values, marker="o", label=name)
ax.set_xscale("log")
ax.set_yscale("log")
ax.set_xlabel("number of samples")
ax.set_ylabel("seconds per iteration")
ax.set_title("LloydKMeans in memory and on a local Dask cluster")
ax.legend()

# %%
# On small data the Dask fit pays a roughly constant scheduling cost per
# iteration; as the blocks grow that cost matters less.  The benchmark in
# ``benchmarks/bench_dask.py`` fits 10⁸ samples, more than the workers can
# hold, on a memory-limited cluster of two worker processes.
client.close()
cluster.close()
