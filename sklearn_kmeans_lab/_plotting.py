"""What the Displays share: matplotlib is an optional dependency.

matplotlib (the ``plot`` extra) is imported only inside the functions that
draw, so importing the package never needs it.  The Displays themselves live
in ``_cluster_display.py`` (clusterings) and ``_kselector_display.py`` (the
choice of K).
"""


def _check_matplotlib_support(caller):
    try:
        import matplotlib  # noqa: F401
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            f"{caller} requires matplotlib. Install it with "
            "`pip install 'sklearn-kmeans-lab[plot]'`."
        ) from exc


def _get_ax(ax):
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots()
    return ax
