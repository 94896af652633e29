"""``KSelectorDisplay``: a criterion for the choice of K against K."""

import numpy as np
from sklearn.utils.validation import check_is_fitted

from sklearn_kmeans_lab._gap import max_se
from sklearn_kmeans_lab._plotting import _check_matplotlib_support, _get_ax

_CRITERION_LABELS = {
    "gap": "Gap statistic",
    "silhouette": "Silhouette score",
    "calinski_harabasz": "Calinski-Harabasz index",
    "davies_bouldin": "Davies-Bouldin index (lower is better)",
    "prediction_strength": "Prediction strength",
    "jump": "Jump in transformed distortion",
}
# The results_ column holding each criterion's standard error, drawn as bars.
_ERROR_COLUMNS = {"gap": "gap_se", "prediction_strength": "prediction_strength_se"}


class KSelectorDisplay:
    """Criterion for the choice of K against K, with the chosen K marked.

    For the gap statistic the curve carries error bars of plus or minus
    ``s_k`` (``gap_se``), the standard error the selection rules use, and,
    given the ``rule``, the threshold that rule compares each gap with, so
    the plot shows why K was chosen. The silhouette, Calinski-Harabasz and
    Davies-Bouldin curves are drawn plain (Davies-Bouldin as the index itself,
    lower is better, not negated as its scorer returns it).
    This is the package's gap statistic plot; there is no separate
    ``GapStatisticDisplay``.

    It is recommended to use :meth:`from_estimator` (a fitted ``KSelector``)
    or :meth:`from_results` (its ``results_`` dict) to create a
    :class:`KSelectorDisplay`. All parameters are stored as attributes.

    Parameters
    ----------
    k_values : ndarray of shape (n_k,)
        The numbers of clusters tried.

    scores : ndarray of shape (n_k,)
        The criterion at each K; NaN where not computed (silhouette at K=1),
        which leaves a gap in the curve.

    criterion : {"gap", "silhouette", "calinski_harabasz", "davies_bouldin"}, \
            default="gap"
        Which criterion ``scores`` holds; sets the y label.

    score_errors : ndarray of shape (n_k,), default=None
        Half-height of the error bar at each K (``gap_se`` for the gap
        statistic). No error bars if None.

    best_k : int, default=None
        The chosen K, marked on the plot if given; it must be one of
        ``k_values``.

    rule : {"Tibs2001SEmax", "firstSEmax", "globalSEmax", "firstmax", \
            "globalmax"}, default=None
        The selection rule of the gap statistic (see :func:`max_se`), whose
        threshold is drawn: for ``"Tibs2001SEmax"``, at each K, the next K's
        ``gap - se_factor * gap_se`` (K is chosen at the first point on or
        above its marker); for ``"firstSEmax"`` and ``"globalSEmax"``, a
        horizontal line at the first or global maximum's ``gap - se_factor *
        gap_se`` (K is the first point on or above it). Nothing is drawn for
        the other rules, other criteria, or None.

    se_factor : float, default=1.0
        The multiplier of ``gap_se`` in ``rule``.

    k_frequencies : ndarray of shape (n_k,), default=None
        How often each K was chosen (``KSelector.k_frequencies_`` of the
        criterion), drawn by :meth:`plot_stability`.

    Attributes
    ----------
    line_ : matplotlib Line2D
        The criterion curve.

    errorbar_ : matplotlib ErrorbarContainer or None
        The error bars, None without ``score_errors``.

    best_k_line_ : matplotlib Line2D or None
        Vertical dashed line at the chosen K, None without ``best_k``.

    best_k_marker_ : matplotlib Line2D or None
        Star on the curve at the chosen K, None without ``best_k``.

    rule_line_ : matplotlib Line2D or None
        The threshold of ``rule`` (markers, or a horizontal segment), None
        when no rule threshold is drawn.

    stability_bars_ : matplotlib BarContainer
        The bars of :meth:`plot_stability`; set by that method only.

    stability_ax_ : matplotlib Axes
        Axes of the bars; set by :meth:`plot_stability` only.

    ax_ : matplotlib Axes
        Axes with the plot.

    figure_ : matplotlib Figure
        Figure containing the plot.

    See Also
    --------
    ClusterScatterDisplay : Plot the clusters themselves.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_kmeans_lab import KSelectorDisplay
    >>> results = {
    ...     "k": np.array([1, 2, 3, 4]),
    ...     "gap": np.array([0.1, 0.5, 0.9, 0.95]),
    ...     "gap_se": np.array([0.05, 0.05, 0.06, 0.07]),
    ... }
    >>> display = KSelectorDisplay.from_results(results, "gap", best_k=3)
    >>> display.best_k_marker_.get_xdata()
    array([3])
    """

    def __init__(
        self,
        *,
        k_values,
        scores,
        criterion="gap",
        score_errors=None,
        best_k=None,
        rule=None,
        se_factor=1.0,
        k_frequencies=None,
    ):
        self.k_values = k_values
        self.scores = scores
        self.criterion = criterion
        self.score_errors = score_errors
        self.best_k = best_k
        self.rule = rule
        self.se_factor = se_factor
        self.k_frequencies = k_frequencies

    def plot(self, ax=None, *, line_kwargs=None, best_k_kwargs=None):
        """Draw the plot.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on. A new figure and axes are created if None.

        line_kwargs : dict, default=None
            Keyword arguments for :meth:`~matplotlib.axes.Axes.errorbar` (with
            error bars) or :meth:`~matplotlib.axes.Axes.plot`, overriding the
            defaults.

        best_k_kwargs : dict, default=None
            Keyword arguments for the vertical line at the chosen K
            (:meth:`~matplotlib.axes.Axes.axvline`), overriding the defaults.

        Returns
        -------
        display : KSelectorDisplay
            Object that stores the computed values and the artists.
        """
        _check_matplotlib_support(f"{type(self).__name__}.plot")
        from matplotlib.ticker import MaxNLocator

        ax = _get_ax(ax)
        k_values = np.asarray(self.k_values)
        scores = np.asarray(self.scores, dtype=float)
        line_kwargs = {"marker": "o", **(line_kwargs or {})}

        if self.score_errors is not None:
            line_kwargs = {"capsize": 4, **line_kwargs}
            self.errorbar_ = ax.errorbar(
                k_values, scores, yerr=np.asarray(self.score_errors), **line_kwargs
            )
            self.line_ = self.errorbar_.lines[0]
        else:
            self.errorbar_ = None
            (self.line_,) = ax.plot(k_values, scores, **line_kwargs)

        self.rule_line_ = self._draw_rule(ax, k_values, scores)

        self.best_k_line_ = self.best_k_marker_ = None
        if self.best_k is not None:
            matches = np.flatnonzero(k_values == self.best_k)
            if matches.size == 0:
                raise ValueError(
                    f"best_k={self.best_k} is not one of the plotted K values "
                    f"{k_values.tolist()}."
                )
            best_k_kwargs = {
                "color": "tab:red",
                "linestyle": "--",
                "linewidth": 1,
                "label": f"chosen K = {self.best_k}",
                **(best_k_kwargs or {}),
            }
            self.best_k_line_ = ax.axvline(self.best_k, **best_k_kwargs)
            (self.best_k_marker_,) = ax.plot(
                [self.best_k],
                [scores[matches[0]]],
                linestyle="none",
                marker="*",
                markersize=16,
                color=best_k_kwargs["color"],
                zorder=3,
            )
        if self.best_k is not None or self.rule_line_ is not None:
            ax.legend(loc="best", fontsize="small")

        # Room around the data, so that no star or marker is cut in half by
        # the frame of a small panel.
        ax.margins(x=0.06, y=0.12)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("Number of clusters K")
        ax.set_ylabel(_CRITERION_LABELS.get(self.criterion, str(self.criterion)))

        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    def _draw_rule(self, ax, k_values, scores):
        """Draw the threshold ``rule`` compares the gaps with; return it or None."""
        if (
            self.criterion != "gap"
            or self.score_errors is None
            or self.rule not in {"Tibs2001SEmax", "firstSEmax", "globalSEmax"}
            or len(k_values) < 2
        ):
            return None
        thresholds = scores - self.se_factor * np.asarray(self.score_errors, float)
        factor = "" if self.se_factor == 1 else f"{self.se_factor:g}·"
        style = {"color": "tab:orange", "zorder": 2.5}
        if self.rule == "Tibs2001SEmax":
            # Gap(k_j) is compared with Gap(k_{j+1}) - c s_{j+1}: each K gets
            # the threshold of the next K, drawn at its own position.
            consecutive = np.all(np.diff(k_values) == 1)
            nxt = "K+1" if consecutive else "next K"
            (line,) = ax.plot(
                k_values[:-1],
                thresholds[1:],
                linestyle="none",
                marker="_",
                markersize=18,
                markeredgewidth=2.5,
                label=f"gap({nxt}) − {factor}s({nxt})",
                **style,
            )
            return line
        # firstSEmax / globalSEmax: one threshold, from the maximum the rule
        # starts at, for every K up to that maximum.
        first = self.rule == "firstSEmax"
        top = max_se(scores, self.score_errors, "firstmax" if first else "globalmax")
        which = "first local max" if first else "global max"
        (line,) = ax.plot(
            k_values[[0, top]],
            [thresholds[top]] * 2,
            linestyle=":",
            linewidth=1.5,
            label=f"gap − {factor}s at the {which}",
            **style,
        )
        return line

    @classmethod
    def from_results(
        cls,
        results,
        criterion="gap",
        best_k=None,
        *,
        rule=None,
        se_factor=1.0,
        ax=None,
        line_kwargs=None,
        best_k_kwargs=None,
    ):
        """Plot a criterion from a ``results_``-style dict.

        Parameters
        ----------
        results : dict of array-like
            Equal-length arrays with at least the key ``"k"`` and the key
            named by ``criterion``; for ``"gap"`` also ``"gap_se"``. This is
            the layout of ``KSelector.results_``.

        criterion : {"gap", "silhouette", "calinski_harabasz", \
                "davies_bouldin"}, default="gap"
            The criterion to plot.

        best_k : int, default=None
            The chosen K to mark; nothing is marked if None.

        rule : str, default=None
            The gap statistic's selection rule whose threshold is drawn; see
            the class parameter. Nothing is drawn if None.

        se_factor : float, default=1.0
            The multiplier of ``gap_se`` in ``rule``.

        ax : matplotlib Axes, default=None
            Axes to draw on. A new figure and axes are created if None.

        line_kwargs : dict, default=None
            Passed to :meth:`plot`.

        best_k_kwargs : dict, default=None
            Passed to :meth:`plot`.

        Returns
        -------
        display : KSelectorDisplay
            Object that stores the computed values and the artists.
        """
        _check_matplotlib_support(f"{cls.__name__}.from_results")
        if criterion not in _CRITERION_LABELS:
            raise ValueError(
                f"criterion must be one of {sorted(_CRITERION_LABELS)}; "
                f"got {criterion!r}."
            )
        error_column = _ERROR_COLUMNS.get(criterion)
        needed = ["k", criterion] + ([error_column] if error_column else [])
        missing = [key for key in needed if key not in results]
        if missing:
            raise ValueError(
                f"results lacks the key(s) {missing} needed to plot {criterion!r}."
            )
        k_values = np.asarray(results["k"])
        scores = np.asarray(results[criterion], dtype=float)
        errors = (
            np.asarray(results[error_column], dtype=float) if error_column else None
        )
        if any(len(a) != len(k_values) for a in (scores, errors) if a is not None):
            raise ValueError(
                f"results['k'] and the values of {criterion!r} differ in length."
            )
        if not np.isfinite(scores).any():
            raise ValueError(
                f"results holds no computed value of {criterion!r} (all NaN); "
                f"fit the selector with criterion={criterion!r}."
            )
        display = cls(
            k_values=k_values,
            scores=scores,
            criterion=criterion,
            score_errors=errors,
            best_k=best_k,
            rule=rule,
            se_factor=se_factor,
        )
        return display.plot(ax=ax, line_kwargs=line_kwargs, best_k_kwargs=best_k_kwargs)

    @classmethod
    def from_estimator(
        cls,
        selector,
        *,
        criterion=None,
        ax=None,
        line_kwargs=None,
        best_k_kwargs=None,
        stability_ax=None,
    ):
        """Plot the criterion of a fitted ``KSelector``, marking its chosen K.

        When the selector was fitted with ``n_bootstrap > 0``, the share of
        the bootstrap resamples choosing each K is drawn as bars beside the
        curve (see :meth:`plot_stability`): on ``stability_ax``, or, when
        neither ``ax`` nor ``stability_ax`` is given, on the right of a new
        figure of two axes.

        Parameters
        ----------
        selector : KSelector
            A fitted selector; its ``results_``, ``criterion``,
            ``n_clusters_``, ``rule`` and ``se_factor`` are read. For the gap
            statistic the rule's threshold is drawn.

        criterion : {"gap", "silhouette", "calinski_harabasz", \
                "davies_bouldin"}, default=None
            The criterion to plot; the selector's own if None. The chosen K is
            marked only for the selector's own criterion, since it chose by
            that one.

        ax : matplotlib Axes, default=None
            Axes to draw on. A new figure and axes are created if None.

        line_kwargs : dict, default=None
            Passed to :meth:`plot`.

        best_k_kwargs : dict, default=None
            Passed to :meth:`plot`.

        stability_ax : matplotlib Axes, default=None
            Axes for the bootstrap frequencies of ``criterion``; see above.

        Returns
        -------
        display : KSelectorDisplay
            Object that stores the computed values and the artists.
        """
        _check_matplotlib_support(f"{cls.__name__}.from_estimator")
        check_is_fitted(selector, "results_")
        if criterion is None:
            criterion = selector.criterion
        own_criterion = criterion == selector.criterion
        best_k = selector.n_clusters_ if own_criterion else None
        frequencies = getattr(selector, "k_frequencies_", {}).get(criterion)
        if frequencies is not None and ax is None and stability_ax is None:
            import matplotlib.pyplot as plt

            _, (ax, stability_ax) = plt.subplots(
                1, 2, figsize=(10, 4), layout="constrained"
            )
        display = cls.from_results(
            selector.results_,
            criterion,
            best_k,
            rule=getattr(selector, "rule", None) if own_criterion else None,
            se_factor=getattr(selector, "se_factor", 1.0),
            ax=ax,
            line_kwargs=line_kwargs,
            best_k_kwargs=best_k_kwargs,
        )
        display.k_frequencies = frequencies
        if frequencies is not None and stability_ax is not None:
            display.plot_stability(stability_ax)
        return display

    def plot_stability(self, ax=None, *, bar_kwargs=None):
        """Draw how often each K was chosen, one bar per K.

        The bars are ``k_frequencies`` (for a ``KSelector``, the share of its
        bootstrap resamples in which the criterion chose each K); the bar of
        ``best_k`` is drawn in the colour of its mark on the curve.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on. A new figure and axes are created if None.

        bar_kwargs : dict, default=None
            Keyword arguments for :meth:`~matplotlib.axes.Axes.bar`,
            overriding the defaults.

        Returns
        -------
        display : KSelectorDisplay
            The display, with ``stability_bars_`` and ``stability_ax_`` set.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_kmeans_lab import KSelectorDisplay
        >>> display = KSelectorDisplay(
        ...     k_values=np.array([3, 4, 5, 6]),
        ...     scores=np.array([0.5, 1.2, 1.25, 1.26]),
        ...     best_k=5, k_frequencies=np.array([0.0, 0.58, 0.40, 0.02]))
        >>> bars = display.plot_stability().stability_bars_
        >>> [float(bar.get_height()) for bar in bars]
        [0.0, 0.58, 0.4, 0.02]
        """
        _check_matplotlib_support(f"{type(self).__name__}.plot_stability")
        from matplotlib.ticker import MaxNLocator, PercentFormatter

        if self.k_frequencies is None:
            raise ValueError(
                "k_frequencies is None: there is no stability to plot; fit the "
                "KSelector with n_bootstrap > 0."
            )
        ax = _get_ax(ax)
        k_values = np.asarray(self.k_values)
        frequencies = np.asarray(self.k_frequencies, dtype=float)
        if frequencies.shape != k_values.shape:
            raise ValueError(
                f"k_frequencies has shape {frequencies.shape}; it needs one value "
                f"per K, shape {k_values.shape}."
            )
        colors = np.where(k_values == self.best_k, "tab:red", "tab:gray")
        bar_kwargs = {"color": colors, "width": 0.7, **(bar_kwargs or {})}
        self.stability_bars_ = ax.bar(k_values, frequencies, **bar_kwargs)
        for bar, share in zip(self.stability_bars_, frequencies, strict=True):
            if share > 0:
                ax.annotate(
                    f"{share:.0%}",
                    (bar.get_x() + bar.get_width() / 2, share),
                    ha="center",
                    va="bottom",
                    fontsize="small",
                )
        ax.set_ylim(0, 1.08)
        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("Number of clusters K")
        ax.set_ylabel("Chosen in bootstrap resamples")
        self.stability_ax_ = ax
        return self
