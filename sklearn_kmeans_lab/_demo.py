"""The classic income/age K-Means lesson, end to end and headless.

What ``make demo`` runs.

The lesson generated 100 people in 5 income/age clusters with
``np.random.seed(10)``, fitted K-Means with K=5 on the scaled data, and saw by
eye that there were really 4 groups. This demo replays that and then lets
``KSelector`` choose K.
"""

import functools
import os
import sys
from numbers import Integral
from pathlib import Path

import numpy as np
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_kmeans_lab._cluster_display import ClusterScatterDisplay
from sklearn_kmeans_lab._datasets import make_income_age_clusters
from sklearn_kmeans_lab._kmeans import LloydKMeans
from sklearn_kmeans_lab._kselector import KSelector
from sklearn_kmeans_lab._kselector_display import KSelectorDisplay
from sklearn_kmeans_lab._plotting import _check_matplotlib_support

# The lesson's data: its np.random.seed(10), 100 people, 5 clusters.
DATA_SEED = 10
N_SAMPLES = 100
N_CLUSTERS = 5
AXIS_LABELS = ("income (dollars per year)", "age (years)")
# numpy's RandomState takes seeds in [0, 2**32 - 1].
SEED_MAX = 2**32 - 1

# Bootstrap resamples of the whole selection: enough to see a split, few
# enough to keep the demo quick.
N_BOOTSTRAP = 20


def run_demo(out="demo_output", random_state=0, *, file=None):
    """Tell the lesson's story, printing to ``file`` and saving plots under ``out``.

    Parameters
    ----------
    out : str or path-like, default="demo_output"
        Folder for the PNG files; created (with its parents) when the first
        plot is saved.  It must not be an existing file or lie under one.

    random_state : int, default=0
        Seed of the K-Means fit and of the K selection, in
        ``[0, 2**32 - 1]``. The data always use the lesson's seed, 10.

    file : file-like, default=None
        Where to print; ``sys.stdout`` if None.

    Returns
    -------
    paths : dict of str to Path
        The files written: ``"clusters"`` and ``"gap"``.
    """
    _check_matplotlib_support("The demo")
    # Checked before anything runs, so that bad arguments create nothing.
    out = check_out_folder(out)
    check_seed(random_state)
    file = sys.stdout if file is None else file

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
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(paths["clusters"], dpi=110)
    say(f"Scatter plot saved to {paths['clusters']}")

    # K is chosen on the data the clusterer sees, the standardised one.
    X_scaled = model[0].transform(X)
    # One fit computes every criterion from the same k-means fits, and repeats
    # the whole selection on bootstrap resamples to say how sure each one is.
    # Fewer starts and reference sets than the defaults keep the demo under a
    # minute; the story is the same with KSelector's defaults.
    selector = KSelector(
        LloydKMeans(n_init=5),
        k_range=range(1, 9),
        n_refs=10,
        extra_criteria=["silhouette"],
        n_bootstrap=N_BOOTSTRAP,
        random_state=random_state,
    ).fit(X_scaled)
    strength = KSelector(
        k_range=range(1, 9),
        criterion="prediction_strength",
        n_splits=20,
        random_state=random_state,
    ).fit(X_scaled)
    results = dict(selector.results_)
    results["prediction_strength"] = strength.results_["prediction_strength"]
    results["prediction_strength_se"] = strength.results_["prediction_strength_se"]
    choices = {**selector.choices_, **strength.choices_}
    say(
        "",
        "Choosing K on the standardised data: every criterion from the same fits "
        f"(KSelector(LloydKMeans(n_init=5), k_range=range(1, 9), n_refs=10, "
        f"rule={selector.rule!r}, extra_criteria=['silhouette'], "
        f"n_bootstrap={N_BOOTSTRAP})), the prediction strength from "
        "KSelector(criterion='prediction_strength', n_splits=20):",
        _results_table(results),
        "",
        *_choices_lines(choices, selector, strength),
        "",
        f"How often each K is chosen in {N_BOOTSTRAP} bootstrap resamples "
        "(the whole selection repeated):",
        _frequency_table(selector),
        "",
        "The gap statistic's choice when only its reference sets are resampled "
        "(no refit): "
        + _shares(selector.results_["k"], selector.reference_k_frequencies_),
        "",
        *_conclusion(selector, choices),
        "",
    )

    paths["gap"] = out / "gap_statistic.png"
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 4.5), layout="constrained")
    ax, stability_ax = fig.subplots(1, 2)
    KSelectorDisplay.from_estimator(selector, ax=ax, stability_ax=stability_ax)
    ax.set_title(
        r"Gap statistic on the standardised data (error bars: $\pm s_k$)",
        fontsize="medium",
    )
    stability_ax.set_title(
        f"K chosen by the gap in {N_BOOTSTRAP} bootstrap resamples",
        fontsize="medium",
    )
    fig.savefig(paths["gap"], dpi=110)
    say(f"Gap statistic plot saved to {paths['gap']}")
    return paths


def check_out_folder(out, name="out"):
    """``out`` as a Path, or a ValueError if the demo cannot make it a folder.

    ``out`` must be a folder or not exist yet; its nearest existing ancestor
    must be a folder the user may write in.  ``name`` is the argument's name
    in the message (``"--out"`` on the command line).
    """
    out = Path(out)
    for path in (out, *out.parents):
        if not path.exists():
            continue
        if not path.is_dir():
            where = "is" if path == out else f"lies under {str(path)!r}, which is"
            raise ValueError(
                f"{name} {str(out)!r} {where} an existing file, not a folder."
            )
        if path != out and not os.access(path, os.W_OK | os.X_OK):
            raise ValueError(
                f"{name} {str(out)!r} cannot be created: {str(path)!r} is not writable."
            )
        break
    return out


def check_seed(random_state, name="random_state"):
    """Raise a ValueError unless ``random_state`` is an int numpy can seed with."""
    if (
        isinstance(random_state, bool)
        or not isinstance(random_state, Integral)
        or not 0 <= random_state <= SEED_MAX
    ):
        raise ValueError(
            f"{name} must be an int in the range [0, {SEED_MAX}]; got {random_state!r}."
        )


_CRITERION_NAMES = {
    "gap": "gap statistic",
    "silhouette": "silhouette",
    "calinski_harabasz": "Calinski-Harabasz",
    "davies_bouldin": "Davies-Bouldin",
    "prediction_strength": "prediction strength",
    "jump": "jump method",
}


def _shares(ks, frequencies):
    """``K=4 58%, K=5 40%``: the K with a non-zero share, largest first."""
    order = np.argsort(-np.asarray(frequencies), kind="stable")
    return ", ".join(
        f"K={ks[i]} {frequencies[i]:.0%}" for i in order if frequencies[i] > 0
    )


def _choices_lines(choices, selector, strength):
    """One ``Chosen K (name): K`` line per criterion, with how sure it is."""
    lines = []
    for criterion, k in choices.items():
        how = ""
        if criterion in getattr(selector, "k_frequencies_", {}):
            share = selector.k_frequencies_[criterion][selector.results_["k"] == k]
            how = f"  (chosen in {share[0]:.0%} of the bootstrap resamples)"
        elif criterion == "prediction_strength":
            i = int(np.flatnonzero(strength.results_["k"] == k)[0])
            how = (
                f"  (strength {strength.results_['prediction_strength'][i]:.2f} "
                f"+/- {strength.results_['prediction_strength_se'][i]:.2f}, "
                f"cutoff {strength.ps_cutoff})"
            )
        lines.append(f"Chosen K ({_CRITERION_NAMES[criterion]}): {k}{how}")
    return lines


def _frequency_table(selector):
    """One row per criterion: the share of resamples choosing each K."""
    ks = selector.results_["k"]
    width = max(len(name) for name in _CRITERION_NAMES.values())
    header = f"{'criterion':<{width}}  " + "  ".join(f"K={k:<3}" for k in ks)
    rows = [
        f"{_CRITERION_NAMES[criterion]:<{width}}  "
        + "  ".join(f"{share:>4.0%} " for share in frequencies)
        for criterion, frequencies in selector.k_frequencies_.items()
    ]
    return "\n".join([header, *rows])


def _conclusion(selector, choices):
    """What a person should take from the choices and their frequencies."""
    gap = selector.k_frequencies_["gap"]
    ks = selector.results_["k"]
    picked = sorted(set(choices.values()))
    top_two = ks[np.argsort(-gap, kind="stable")[:2]]
    votes = np.bincount(list(choices.values()))
    majority = int(np.argmax(votes))
    agree = [_CRITERION_NAMES[c] for c, k in choices.items() if k == majority]
    return [
        f"What to conclude: the criteria pick K in {picked}; {len(agree)} of "
        f"{len(choices)} ({', '.join(agree)}) say K={majority}.  The gap "
        f"statistic's answer moves between K={top_two[0]} and K={top_two[1]} "
        "from resample to resample: it sees the fifth generated group, which "
        "overlaps another, in some resamples and not in others.",
        f"Report K={top_two[0]} or {top_two[1]} with these frequencies rather "
        "than one K, and let the use of the segments decide.  (On bootstrap "
        "resamples, repeated rows "
        "make tight micro-clusters that pull Calinski-Harabasz and the jump "
        "method towards large K: read their frequencies with that in mind.)",
    ]


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
