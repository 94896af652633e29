"""``ClusterScatterDisplay``: two features coloured by cluster, with the centres."""

from numbers import Integral

import numpy as np
from sklearn.utils import check_array
from sklearn.utils.validation import check_is_fitted

from sklearn_kmeans_lab._pipeline import final_clusterer
from sklearn_kmeans_lab._plotting import _check_matplotlib_support, _get_ax


def _cluster_colormap(n_colors):
    """A colormap giving one distinct colour per integer label in [0, n_colors)."""
    import matplotlib as mpl
    from matplotlib.colors import ListedColormap

    if n_colors <= 10:
        return ListedColormap(mpl.colormaps["tab10"].colors[:n_colors])
    if n_colors <= 20:
        return ListedColormap(mpl.colormaps["tab20"].colors[:n_colors])
    return mpl.colormaps["viridis"]


class ClusterScatterDisplay:
    """Scatter plot of two features coloured by cluster, with the cluster centres.

    It is recommended to use
    :meth:`~sklearn_kmeans_lab.ClusterScatterDisplay.from_estimator` to create
    a :class:`ClusterScatterDisplay`. All parameters are stored as attributes.

    Parameters
    ----------
    X : ndarray of shape (n_samples, 2)
        The two plotted features, in the units to show.

    labels : ndarray of shape (n_samples,)
        Integer cluster label of each sample, used for the colour.

    centers : ndarray of shape (n_clusters, 2), default=None
        Cluster centres in the same units as ``X``; not drawn if None.

    feature_names : tuple of str (x_name, y_name), default=None
        Axis labels. ``("feature 0", "feature 1")`` if None.

    Attributes
    ----------
    scatter_ : matplotlib PathCollection
        The points.

    centers_ : matplotlib PathCollection or None
        The centre markers, None when no centres are drawn.

    ax_ : matplotlib Axes
        Axes with the plot.

    figure_ : matplotlib Figure
        Figure containing the plot.

    See Also
    --------
    ClusterScatterDisplay.from_estimator : Plot the clusters found by a fitted
        clusterer or pipeline.
    KSelectorDisplay : Plot a criterion for the choice of K.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_kmeans_lab import ClusterScatterDisplay
    >>> X = np.array([[0.0, 0.0], [0.0, 1.0], [5.0, 5.0], [5.0, 6.0]])
    >>> display = ClusterScatterDisplay(
    ...     X=X, labels=np.array([0, 0, 1, 1]),
    ...     centers=np.array([[0.0, 0.5], [5.0, 5.5]]))
    >>> display.plot()
    <...ClusterScatterDisplay object at ...>
    """

    def __init__(self, *, X, labels, centers=None, feature_names=None):
        self.X = X
        self.labels = labels
        self.centers = centers
        self.feature_names = feature_names

    def plot(self, ax=None, *, scatter_kwargs=None, centers_kwargs=None):
        """Draw the plot.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on. A new figure and axes are created if None.

        scatter_kwargs : dict, default=None
            Keyword arguments for the points' :meth:`~matplotlib.axes.Axes.scatter`,
            overriding the defaults (colour by label, ``s=30``).

        centers_kwargs : dict, default=None
            Keyword arguments for the centres'
            :meth:`~matplotlib.axes.Axes.scatter`, overriding the defaults
            (a large ``"X"`` in the cluster's colour, outlined in black).

        Returns
        -------
        display : ClusterScatterDisplay
            Object that stores the computed values and the artists.
        """
        _check_matplotlib_support(f"{type(self).__name__}.plot")
        ax = _get_ax(ax)

        X = np.asarray(self.X)
        labels = np.asarray(self.labels)
        centers = None if self.centers is None else np.asarray(self.centers)
        # Points and centres share one colour scale, so centre i has the
        # colour of cluster i.
        n_colors = int(labels.max()) + 1 if labels.size else 1
        if centers is not None:
            n_colors = max(n_colors, len(centers))
        color_scale = {
            "cmap": _cluster_colormap(n_colors),
            "vmin": -0.5,
            "vmax": n_colors - 0.5,
        }

        scatter_kwargs = _merge_color_kwargs(
            {"c": labels, **color_scale, "s": 30, "alpha": 0.8},
            scatter_kwargs,
        )
        self.scatter_ = ax.scatter(X[:, 0], X[:, 1], **scatter_kwargs)

        self.centers_ = None
        if centers is not None:
            centers_kwargs = _merge_color_kwargs(
                {
                    "c": np.arange(len(centers)),
                    **color_scale,
                    "marker": "X",
                    "s": 250,
                    "edgecolors": "black",
                    "linewidths": 1.5,
                    "label": "cluster centres",
                    "zorder": 3,
                },
                centers_kwargs,
            )
            self.centers_ = ax.scatter(centers[:, 0], centers[:, 1], **centers_kwargs)

        x_name, y_name = (
            ("feature 0", "feature 1")
            if self.feature_names is None
            else self.feature_names
        )
        ax.set_xlabel(x_name)
        ax.set_ylabel(y_name)
        # A legend entry per cluster is readable only for a handful of them.
        unique_labels = np.unique(labels)
        if 0 < unique_labels.size <= 10 and "color" not in scatter_kwargs:
            from matplotlib.lines import Line2D

            handles, _ = self.scatter_.legend_elements(prop="colors", num=None)
            legend_labels = [f"cluster {label}" for label in unique_labels]
            if self.centers_ is not None:
                # A neutral marker: the centres carry every cluster's colour.
                handles.append(
                    Line2D(
                        [],
                        [],
                        linestyle="none",
                        marker=centers_kwargs.get("marker", "X"),
                        markersize=10,
                        markerfacecolor="white",
                        markeredgecolor="black",
                    )
                )
                legend_labels.append(self.centers_.get_label())
            ax.legend(handles, legend_labels, loc="best", fontsize="small")

        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    @classmethod
    def from_estimator(
        cls,
        estimator,
        X,
        *,
        features=(0, 1),
        feature_names=None,
        show_centers=True,
        ax=None,
        scatter_kwargs=None,
        centers_kwargs=None,
    ):
        """Plot the clusters a fitted clusterer assigns to ``X``.

        The points are coloured by ``estimator.predict(X)``. The estimator may
        be a :class:`~sklearn.pipeline.Pipeline` ending in a clusterer, such as
        ``make_pipeline(StandardScaler(), LloydKMeans())``: the plot stays in the
        units of ``X`` and the centres, found in the scaled space, are mapped
        back through the preprocessing steps' ``inverse_transform``.

        Parameters
        ----------
        estimator : estimator instance
            A fitted clusterer with ``predict``, or a fitted pipeline ending in
            one. Centres are read from the clusterer's ``cluster_centers_``.

        X : {array-like, DataFrame} of shape (n_samples, n_features)
            Data to plot, in the units the estimator was fitted on.

        features : tuple of (int or str) of length 2, default=(0, 1)
            The two features to plot, as column indices or, when names are
            known, as names.

        feature_names : list of str of length n_features, default=None
            Names of all the columns of ``X``, used for the axis labels (put
            the units in them). Defaults to the DataFrame's columns, or
            ``"feature i"``.

        show_centers : bool, default=True
            Whether to mark the cluster centres.

        ax : matplotlib Axes, default=None
            Axes to draw on. A new figure and axes are created if None.

        scatter_kwargs : dict, default=None
            Passed to :meth:`plot`.

        centers_kwargs : dict, default=None
            Passed to :meth:`plot`.

        Returns
        -------
        display : ClusterScatterDisplay
            Object that stores the computed values and the artists.

        See Also
        --------
        sklearn.inspection.DecisionBoundaryDisplay : Regions of a classifier
            or clusterer.

        Examples
        --------
        >>> from sklearn.cluster import KMeans
        >>> from sklearn.pipeline import make_pipeline
        >>> from sklearn.preprocessing import StandardScaler
        >>> from sklearn_kmeans_lab import (
        ...     ClusterScatterDisplay, make_income_age_clusters)
        >>> X, _ = make_income_age_clusters(random_state=10, as_frame=True)
        >>> model = make_pipeline(
        ...     StandardScaler(), KMeans(5, random_state=0)).fit(X)
        >>> display = ClusterScatterDisplay.from_estimator(model, X)
        >>> display.ax_.get_xlabel()
        'income'
        """
        _check_matplotlib_support(f"{cls.__name__}.from_estimator")
        check_is_fitted(estimator)
        if not hasattr(estimator, "predict"):
            raise TypeError(
                f"estimator must have a predict method to label X; "
                f"{type(estimator).__name__} has none."
            )

        if feature_names is None and hasattr(X, "columns"):
            feature_names = [str(name) for name in X.columns]
        X_array = check_array(X)
        if feature_names is None:
            feature_names = [f"feature {i}" for i in range(X_array.shape[1])]
        elif len(feature_names) != X_array.shape[1]:
            raise ValueError(
                f"feature_names must name all {X_array.shape[1]} columns of X; "
                f"got {len(feature_names)} names."
            )
        columns = _resolve_features(features, feature_names)

        # Predict on X as given, so a DataFrame keeps its feature names.
        labels = np.asarray(estimator.predict(X))
        centers = None
        if show_centers:
            centers = _centers_in_input_units(estimator)[:, columns]

        display = cls(
            X=X_array[:, columns],
            labels=labels,
            centers=centers,
            feature_names=tuple(feature_names[c] for c in columns),
        )
        return display.plot(
            ax=ax, scatter_kwargs=scatter_kwargs, centers_kwargs=centers_kwargs
        )


def _merge_color_kwargs(defaults, user_kwargs):
    """Defaults overridden by the user's; a user ``color`` replaces our ``c``."""
    user_kwargs = {} if user_kwargs is None else dict(user_kwargs)
    # matplotlib refuses ``c`` and ``color`` together.
    if "color" in user_kwargs:
        for key in ("c", "cmap", "vmin", "vmax"):
            defaults.pop(key, None)
    return {**defaults, **user_kwargs}


def _resolve_features(features, feature_names):
    """Column indices of the two ``features``, given as indices or names."""
    if len(features) != 2:
        raise ValueError(f"features must name exactly 2 columns; got {features!r}.")
    columns = []
    for feature in features:
        if isinstance(feature, str):
            if feature not in feature_names:
                raise ValueError(
                    f"feature {feature!r} is not one of the feature names "
                    f"{list(feature_names)}."
                )
            columns.append(list(feature_names).index(feature))
        elif isinstance(feature, Integral) and 0 <= feature < len(feature_names):
            columns.append(int(feature))
        else:
            raise ValueError(
                f"features must hold column indices in [0, {len(feature_names)}) "
                f"or feature names; got {feature!r}."
            )
    return columns


def _centers_in_input_units(estimator):
    """The clusterer's centres, mapped back through a pipeline's preprocessing."""
    clusterer, preprocessing = final_clusterer(estimator)

    centers = getattr(clusterer, "cluster_centers_", None)
    if centers is None:
        raise ValueError(
            f"{type(clusterer).__name__} has no cluster_centers_ to mark; "
            "pass show_centers=False."
        )
    if preprocessing is not None:
        if not hasattr(preprocessing, "inverse_transform"):
            raise ValueError(
                "The centres live in the space after the pipeline's preprocessing, "
                "which has no inverse_transform to map them back to the units of X; "
                "pass show_centers=False."
            )
        centers = preprocessing.inverse_transform(centers)
    return np.asarray(centers)
