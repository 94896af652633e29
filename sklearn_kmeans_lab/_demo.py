"""The classic income/age K-Means lesson, end to end and headless.

What ``make demo`` runs.

The lesson generated 100 people in 5 income/age clusters with
``np.random.seed(10)``, fitted K-Means with K=5 on the scaled data, and saw by
eye that there were really 4 groups. This demo replays that and then lets
``KSelector`` choose K.
"""

import functools
import sys
from pathlib import Path

import numpy as np
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_kmeans_lab._datasets import make_income_age_clusters
from sklearn_kmeans_lab._kmeans import LloydKMeans
from sklearn_kmeans_lab._kselector import KSelector
from sklearn_kmeans_lab._plotting import (
    ClusterScatterDisplay,
    KSelectorDisplay,
    _check_matplotlib_support,
)

# The lesson's data: its np.random.seed(10), 100 people, 5 clusters.
DATA_SEED = 10
N_SAMPLES = 100
N_CLUSTERS = 5
AXIS_LABELS = ("income (dollars per year)", "age (years)")


def run_demo(out="demo_output", random_state=0, *, file=None):
    """Tell the lesson's story, printing to ``file`` and saving plots under ``out``.

    Parameters
    ----------
    out : str or path-like, default="demo_output"
        Folder for the PNG files; created if missing.

    random_state : int, default=0
        Seed of the K-Means fit and of the K selection. The data always use
        the lesson's seed, 10.

    file : file-like, default=None
        Where to print; ``sys.stdout`` if None.

    Returns
    -------
    paths : dict of str to Path
        The files written: ``"clusters"`` and ``"gap"``.
    """
    _check_matplotlib_support("The demo")
    file = sys.stdout if file is None else file
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)

    say = functools.partial(_print_lines, file=file)

    X, y_true, true_centers = make_income_age_clusters(
        N_SAMPLES, N_CLUSTERS, random_state=DATA_SEED, return_centers=True
    )
    say(
        f"Data: {N_SAMPLES} people drawn around {N_CLUSTERS} income/age centres "
        f"(make_income_age_clusters(random_state={DATA_SEED}), the lesson's data).",
        "",
        "Centres the data were drawn from:",
        _centers_table(true_centers, np.bincount(y_true)),
        "",
    )

    model = make_pipeline(
        StandardScaler(), LloydKMeans(N_CLUSTERS, random_state=random_state)
    ).fit(X)
    labels = model[-1].labels_
    say(
        f"K-Means with K={N_CLUSTERS} on standardised data "
        f"(make_pipeline(StandardScaler(), LloydKMeans({N_CLUSTERS}, "
        f"random_state={random_state}))).",
        "Labels:",
        np.array2string(labels, max_line_width=80),
        "",
        "Cluster sizes and centres, back in income/age units:",
        _centers_table(
            model[0].inverse_transform(model[-1].cluster_centers_),
            np.bincount(labels, minlength=N_CLUSTERS),
        ),
        "",
    )

    paths = {"clusters": out / f"clusters_k{N_CLUSTERS}.png"}
    fig, ax = _new_figure()
    ClusterScatterDisplay.from_estimator(model, X, feature_names=AXIS_LABELS, ax=ax)
    _format_income_axis(ax)
    ax.set_title(
        f"K-Means, K={N_CLUSTERS}, fitted on standardised income and age",
        fontsize="medium",
    )
    fig.savefig(paths["clusters"], dpi=110)
    say(f"Scatter plot saved to {paths['clusters']}")

    # K is chosen on the data the clusterer sees, the standardised one.
    X_scaled = model[0].transform(X)
    selector = KSelector(criterion="gap", random_state=random_state).fit(X_scaled)
    say(
        "",
        "Choosing K by the gap statistic "
        f"(KSelector(k_range={selector.k_range!r}, n_refs={selector.n_refs}, "
        f"reference={selector.reference!r}, rule={selector.rule!r})):",
        _results_table(selector.results_),
        "",
        f"Chosen K (gap statistic): {selector.n_clusters_}",
    )
    for criterion, name in [
        ("silhouette", "silhouette"),
        ("calinski_harabasz", "Calinski-Harabasz"),
    ]:
        other = KSelector(criterion=criterion, random_state=random_state)
        say(f"Chosen K ({name}): {other.fit(X_scaled).n_clusters_}")

    paths["gap"] = out / "gap_statistic.png"
    fig, ax = _new_figure()
    KSelectorDisplay.from_estimator(selector, ax=ax)
    ax.set_title(
        r"Gap statistic on the standardised data (error bars: $\pm s_k$)",
        fontsize="medium",
    )
    fig.savefig(paths["gap"], dpi=110)
    say(f"Gap statistic plot saved to {paths['gap']}")
    return paths


def _print_lines(*lines, file):
    for line in lines:
        print(line, file=file)


def _new_figure():
    # A bare Figure needs no pyplot and no GUI backend: the demo stays headless
    # without switching the backend of whoever calls it.
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 6), layout="constrained")
    return fig, fig.subplots()


def _format_income_axis(ax):
    from matplotlib.ticker import StrMethodFormatter

    ax.xaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))


def _centers_table(centers, sizes):
    """Aligned text: one row per cluster with its size, income and age."""
    header = f"{'cluster':>7}  {'size':>4}  {'income ($/yr)':>13}  {'age (years)':>11}"
    rows = [
        f"{cluster:>7}  {size:>4}  {income:>13,.0f}  {age:>11.1f}"
        for cluster, (size, (income, age)) in enumerate(
            zip(sizes, centers, strict=True)
        )
    ]
    return "\n".join([header, *rows])


def _results_table(results):
    """``results_`` as a table: pandas when installed, aligned text otherwise."""
    try:
        import pandas as pd
    except ImportError:
        pd = None
    if pd is not None:
        return pd.DataFrame(results).to_string(
            index=False, float_format=lambda v: f"{v:.4g}"
        )
    columns = list(results)
    cells = [
        [str(v) if name == "k" else f"{v:.4g}" for v in results[name]]
        for name in columns
    ]
    widths = [
        max(len(name), *(len(c) for c in col))
        for name, col in zip(columns, cells, strict=True)
    ]
    lines = ["  ".join(n.rjust(w) for n, w in zip(columns, widths, strict=True))]
    lines += [
        "  ".join(col[i].rjust(w) for col, w in zip(cells, widths, strict=True))
        for i in range(len(cells[0]))
    ]
    return "\n".join(lines)
