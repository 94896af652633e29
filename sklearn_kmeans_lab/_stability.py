"""How stable a choice of K is: bootstrap resamples and reference-set resamples.

Two sources of doubt about a chosen K are separated here:

* the data: the whole selection is repeated on bootstrap resamples of the
  samples (``KSelector`` refits everything, with fresh reference sets for the
  gap), and the share of resamples choosing each K is reported, in the spirit
  of the bootstrap selection of Fang and Wang (2012);
* the gap statistic's own Monte-Carlo error: the ``B`` reference sets'
  ``log W*`` are resampled with replacement and the gap, its standard error
  and the rule's choice recomputed, which needs no new fit.

References: Y. Fang and J. Wang, "Selection of the number of clusters via the
bootstrap method", Computational Statistics and Data Analysis 56(3),
468-477, 2012.
"""

import numpy as np

from sklearn_kmeans_lab._gap import gap_statistic, max_se


def bootstrap_indices(n_samples, random_state, sample_weight=None):
    """Indices of one bootstrap resample: ``n_samples`` draws with replacement.

    Frequency weights are honoured by drawing sample ``i`` with probability
    ``w_i / sum(w)`` (a weight of 2 is a repeated row); the resample is then
    unweighted.

    Parameters
    ----------
    n_samples : int
        Number of samples, and of draws.

    random_state : RandomState
        The generator.

    sample_weight : ndarray of shape (n_samples,), default=None
        Non-negative weights.

    Returns
    -------
    indices : ndarray of shape (n_samples,)
        Row indices into the data.
    """
    if sample_weight is None:
        return random_state.randint(n_samples, size=n_samples)
    p = sample_weight / sample_weight.sum()
    return random_state.choice(n_samples, size=n_samples, p=p)


def choice_frequencies(chosen, n_k):
    """Share of the resamples that chose each K.

    Parameters
    ----------
    chosen : list of (int or None)
        Index of the chosen K in every resample; None where the criterion was
        undefined (such resamples count towards no K).

    n_k : int
        Number of candidate K.

    Returns
    -------
    frequencies : ndarray of shape (n_k,)
        Shares in [0, 1]; they sum to 1 unless some resample chose nothing.
    """
    counts = np.bincount([c for c in chosen if c is not None], minlength=n_k)
    return counts / max(len(chosen), 1)


def reference_choice_frequencies(
    log_w, ref_log_w, *, rule, se_factor, n_resamples, random_state
):
    """How often the gap's rule chooses each K when the reference sets are resampled.

    The ``B`` rows of ``ref_log_w`` (one per reference set, all K) are drawn
    ``B`` times with replacement, the gap and ``s_k`` recomputed from them
    (:func:`gap_statistic`) and K chosen by :func:`max_se`; the data's
    ``log W_k`` stay fixed.  The spread of these choices is the part of the
    uncertainty about K that comes from the reference sets alone.

    Parameters
    ----------
    log_w : ndarray of shape (n_k,)
        ``log W_k`` of the data.

    ref_log_w : ndarray of shape (n_refs, n_k)
        ``log W*_k`` of every reference set.

    rule, se_factor : str, float
        The rule of :func:`max_se`.

    n_resamples : int
        Number of resamples of the reference sets.

    random_state : RandomState
        The generator.

    Returns
    -------
    frequencies : ndarray of shape (n_k,)
        Share of the resamples choosing each K.
    """
    n_refs = ref_log_w.shape[0]
    chosen = []
    for _ in range(n_resamples):
        rows = random_state.randint(n_refs, size=n_refs)
        gap, _, gap_se = gap_statistic(log_w, ref_log_w[rows])
        chosen.append(max_se(gap, gap_se, method=rule, se_factor=se_factor))
    return choice_frequencies(chosen, log_w.shape[0])
