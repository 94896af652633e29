"""A ``KSelector`` scan over K, its bootstrap, and the choice of K.

``select`` fits every K of ``k_range`` on the data, on the gap's reference
sets and on the prediction strength's splits (one joblib task per fit, every
seed drawn before any task runs) and gathers ``results_``; ``bootstrap``
repeats the selection on resamples; ``choose`` and ``choices`` read K off the
curves.  The functions take the selector for its parameters and leave it
unchanged.
"""

import time
import warnings

import numpy as np
from sklearn.utils.parallel import Parallel, delayed

from sklearn_kmeans_lab._criteria import CRITERIA, choose_k, jump_statistic
from sklearn_kmeans_lab._engine import ReferenceSets, many_fits
from sklearn_kmeans_lab._gap import gap_statistic, reference_box
from sklearn_kmeans_lab._kselector_fits import (
    SEED_MAX,
    Settings,
    fit_data,
    fit_data_at_every_k,
    fit_reference,
    fit_reference_at_every_k,
    fit_split,
)
from sklearn_kmeans_lab._prediction_strength import strength_summary
from sklearn_kmeans_lab._stability import (
    bootstrap_indices,
    choice_frequencies,
    reference_choice_frequencies,
)

RESULT_COLUMNS = (
    "inertia",
    "log_w",
    "ref_log_w_mean",
    "gap",
    "gap_se",
    "silhouette",
    "calinski_harabasz",
    "davies_bouldin",
    "jump",
    "prediction_strength",
    "prediction_strength_se",
    "k_frequency",
)


def select(
    selector, X, sample_weight, ks, seeds, rng, estimator, computed, report=False
):
    """``results_`` of X, the references' ``log W*``, whether X is constant
    and, per K, the engine's fit of X (None where there is none); with
    ``report`` (and ``verbose``) a line per K as its fits finish."""
    positive = slice(None) if sample_weight is None else sample_weight > 0
    spread = float(np.ptp(X[positive], axis=0).max())
    if spread == 0:
        return constant_results(ks, computed), None, True, [None] * ks.size
    results, ref_log_w, fitted = scan(
        selector, X, sample_weight, ks, seeds, rng, spread, estimator, computed, report
    )
    return results, ref_log_w, False, fitted


def constant_results(ks, computed):
    """``results_`` for data without spread: every W_k is 0."""
    results = {"k": ks}
    for name in RESULT_COLUMNS:
        results[name] = np.full(ks.size, np.nan)
    results["inertia"][:] = 0.0
    if "gap" in computed:
        results["log_w"][:] = -np.inf
        results["ref_log_w_mean"][:] = -np.inf
    return results


def scan(
    selector, X, sample_weight, ks, seeds, rng, spread, estimator, computed, report
):
    """Fit every K on X (on the reference sets, on the splits): ``results_``.

    Also returns the references' ``log W*`` (None without the gap) and,
    per K, the fit of X the engine kept (None on the general path, whose
    chosen fit is refitted).
    """
    total_weight = X.shape[0] if sample_weight is None else sample_weight.sum()
    eps = np.finfo(X.dtype).eps
    settings = Settings(
        param_name=selector.param_name,
        d_power=selector.d_power,
        log_w_floor=0.5
        * total_weight
        * (eps * spread * np.sqrt(X.shape[1])) ** selector.d_power,
        computed=computed,
        silhouette_sample_size=selector.silhouette_sample_size,
    )
    # LloydKMeans: the engine fits every K of a data set in one task, from
    # starts seeded once; any other clusterer takes the general path, one
    # task per data set and K.
    engine = many_fits(estimator, selector.param_name)
    gap = "gap" in computed
    n_refs = selector.n_refs if gap else 0
    ref_seeds = references = None
    if gap:
        ref_seeds = rng.randint(SEED_MAX, size=(selector.n_refs, ks.size))
        box = reference_box(
            X, reference=selector.reference, sample_weight=sample_weight
        )
        # drawn by the tasks that fit them, not held all at once
        references = ReferenceSets(box, X.shape[0], selector.n_refs, rng, X.dtype)
    if engine is not None:
        tasks = [
            delayed(fit_data_at_every_k)(engine, X, sample_weight, ks, seeds, settings)
        ]
        tasks += [
            delayed(fit_reference_at_every_k)(
                engine, references, sample_weight, ks, ref_seeds[b, 0], settings, b
            )
            for b in range(n_refs)
        ]
    else:
        # K by K, so that K's fits finish together (and are reported so)
        tasks = []
        for i, (k, seed) in enumerate(zip(ks, seeds, strict=True)):
            tasks.append(
                delayed(fit_data)(estimator, X, sample_weight, k, seed, settings)
            )
            tasks += [
                delayed(fit_reference)(
                    estimator,
                    references,
                    sample_weight,
                    k,
                    ref_seeds[b, i],
                    settings,
                    b,
                )
                for b in range(n_refs)
            ]
    strength = "prediction_strength" in computed
    if strength:
        # Fresh splits for every K, as fpc::prediction.strength draws them.
        split_seeds = rng.randint(SEED_MAX, size=(selector.n_splits, ks.size))
        tasks += [
            delayed(fit_split)(estimator, X, sample_weight, k, seed, settings, s)
            for s in range(selector.n_splits)
            for k, seed in zip(ks, split_seeds[s], strict=True)
        ]
    start = time.perf_counter()
    outputs = Parallel(n_jobs=selector.n_jobs, return_as="generator")(tasks)
    collect = _k_by_k_outputs if engine is None else _every_k_outputs
    rows, ref_log_w = collect(selector, outputs, ks, n_refs, report, start)
    results = {"k": ks}
    for name in RESULT_COLUMNS:
        results[name] = np.array([row.get(name, np.nan) for row in rows], float)
    results["jump"] = jump_statistic(
        ks,
        np.array([row["wss"] for row in rows]),
        n_features=X.shape[1],
        total_weight=total_weight,
        power=selector.jump_power,
    )
    if gap:
        results["gap"], results["ref_log_w_mean"], results["gap_se"] = gap_statistic(
            results["log_w"], ref_log_w
        )
    else:
        ref_log_w = None
    if strength:
        split_strengths = np.reshape(list(outputs), (selector.n_splits, ks.size))
        results["prediction_strength"], results["prediction_strength_se"] = (
            strength_summary(split_strengths)
        )
    return results, ref_log_w, [row["fitted"] for row in rows]


def _k_by_k_outputs(selector, outputs, ks, n_refs, report, start):
    """The rows of X and the references' ``log W*`` from the general path's
    tasks (K by K: X, then every reference set); a line per K as its fits
    finish."""
    rows, ref_log_w = [], np.empty((n_refs, ks.size))
    for i in range(ks.size):
        rows.append(next(outputs))
        for b in range(n_refs):
            ref_log_w[b, i] = next(outputs)
        if report and selector.verbose:
            print_progress(
                selector, i, ks, rows[i], ref_log_w[:, i], time.perf_counter() - start
            )
    return rows, ref_log_w


def _every_k_outputs(selector, outputs, ks, n_refs, report, start):
    """The rows of X and the references' ``log W*`` from the engine's tasks
    (a data set each, at every K); a line per data set as its fits finish,
    then the line of every K."""
    verbose = report and selector.verbose
    n_sets = 1 + n_refs
    rows = next(outputs)
    if verbose:
        print_data_set_progress(1, n_sets, ks, time.perf_counter() - start)
    ref_log_w = np.empty((n_refs, ks.size))
    for b in range(n_refs):
        ref_log_w[b] = next(outputs)
        if verbose:
            print_data_set_progress(b + 2, n_sets, ks, time.perf_counter() - start)
    for i in range(ks.size if verbose else 0):
        print_progress(
            selector, i, ks, rows[i], ref_log_w[:, i], time.perf_counter() - start
        )
    return rows, ref_log_w


def bootstrap(
    selector, X, sample_weight, ks, rng, estimator, computed, log_w, ref_log_w
):
    """Repeat the selection on bootstrap resamples.

    Returns ``k_frequencies_`` (per computed criterion, the share of the
    resamples choosing each K) and ``reference_k_frequencies_`` (the gap's
    choices over resamples of the reference sets alone; None without the gap).
    """
    boot_seeds = rng.randint(SEED_MAX, size=selector.n_bootstrap)
    reference_seed = rng.randint(SEED_MAX)
    chosen = {criterion: [] for criterion in CRITERIA if criterion in computed}
    for boot_seed in boot_seeds:
        boot_rng = np.random.RandomState(boot_seed)
        rows = bootstrap_indices(X.shape[0], boot_rng, sample_weight)
        boot_seeds_k = boot_rng.randint(SEED_MAX, size=ks.size)
        results, _, constant, _ = select(
            selector, X[rows], None, ks, boot_seeds_k, boot_rng, estimator, computed
        )
        for criterion, indices in chosen.items():
            indices.append(
                0 if constant else choose_index(selector, results, criterion)
            )
    k_frequencies = {
        criterion: choice_frequencies(indices, ks.size)
        for criterion, indices in chosen.items()
    }
    if ref_log_w is None:
        return k_frequencies, None
    reference_k_frequencies = reference_choice_frequencies(
        log_w,
        ref_log_w,
        rule=selector.rule,
        se_factor=selector.se_factor,
        n_resamples=selector.n_bootstrap,
        random_state=np.random.RandomState(reference_seed),
    )
    return k_frequencies, reference_k_frequencies


def print_progress(selector, i, ks, row, ref_log_w, elapsed):
    """The line of the ``i``-th K, as soon as its fits (on X and on every
    reference set) have finished: its scores so far and the time."""
    values = dict(row)
    shown = ["inertia"]
    if selector.criterion == "gap":
        shown += ["log_w", "gap", "gap_se"]
        gap, _, gap_se = gap_statistic([row["log_w"]], ref_log_w[:, None])
        values["gap"], values["gap_se"] = gap[0], gap_se[0]
    shown += ["silhouette"] if selector.criterion == "silhouette" else []
    shown += ["calinski_harabasz", "davies_bouldin"]
    scores = ", ".join(f"{name}={values[name]:.6g}" for name in shown)
    print(
        f"[KSelector] K={ks[i]}: {scores}; {i + 1}/{ks.size} K done, "
        f"{1 + ref_log_w.size} data sets, elapsed: {elapsed:.1f}s",
        flush=True,
    )


def print_data_set_progress(done, n_sets, ks, elapsed):
    """The line of a data set (X, or a reference set) whose fits at every K
    have finished."""
    print(
        f"[KSelector] data set {done}/{n_sets} fitted at K={ks[0]}..{ks[-1]}, "
        f"elapsed: {elapsed:.1f}s",
        flush=True,
    )


def print_results(selector, chosen):
    """With ``verbose >= 2``, one line per K of every score; the choice."""
    shown = ["inertia"]
    shown += ["log_w", "gap", "gap_se"] if selector.criterion == "gap" else []
    shown += ["silhouette"] if selector.criterion == "silhouette" else []
    shown += ["calinski_harabasz", "davies_bouldin", "jump"]
    if selector.criterion == "prediction_strength":
        shown += ["prediction_strength", "prediction_strength_se"]
    for i, k in enumerate(selector.results_["k"] if selector.verbose >= 2 else ()):
        values = ", ".join(f"{name}={selector.results_[name][i]:.6g}" for name in shown)
        print(f"[KSelector] K={k}: {values}")
    how = f" with rule={selector.rule!r}" if selector.criterion == "gap" else ""
    print(
        f"[KSelector] chose K={selector.n_clusters_} by {selector.criterion}{how} "
        f"(every computed criterion's choice: {selector.choices_})"
    )


def choose_index(selector, results, criterion):
    """Index of the K ``criterion`` chooses from ``results`` (or None)."""
    return choose_k(
        results,
        criterion,
        rule=selector.rule,
        se_factor=selector.se_factor,
        cutoff=selector.ps_cutoff,
    )


def choices(selector, results, ks, constant, computed):
    """``choices_``: the K every computed criterion chooses, in CRITERIA order."""
    choices = {}
    for criterion in CRITERIA:
        if criterion not in computed:
            continue
        index = 0 if constant else choose_index(selector, results, criterion)
        if index is not None:
            choices[criterion] = int(ks[index])
    return choices


def choose(selector, results, constant):
    """Index into ``results`` of the chosen K."""
    if constant:
        return 0
    index = choose_index(selector, results, selector.criterion)
    if index is not None:
        return index
    if selector.criterion == "prediction_strength":
        warnings.warn(
            f"No K of k_range={selector.k_range!r} has a mean prediction strength "
            f"above ps_cutoff={selector.ps_cutoff} (R's fpc would answer K=1, "
            "which is not a candidate); choosing the smallest K.",
            UserWarning,
            stacklevel=3,
        )
        return 0
    raise ValueError(
        f"criterion={selector.criterion!r} is undefined for every K of "
        f"k_range: each fit found fewer than 2 or as many clusters as "
        "samples."
    )
