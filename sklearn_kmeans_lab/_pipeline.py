"""The clusterer at the end of a (possibly nested) ``Pipeline``, and what
comes before it: one helper for the scorers and the plots alike."""

from sklearn.pipeline import Pipeline


def final_clusterer(estimator):
    """The last step of ``estimator`` and the fitted steps before it.

    Nested pipelines are unwrapped (a pipeline ending in a pipeline ...).

    Returns
    -------
    clusterer : estimator
        ``estimator`` itself when it is not a ``Pipeline``.
    preprocessing : Pipeline or None
        The steps before the clusterer, in order (None when there are none):
        ``preprocessing.transform(X)`` is the data the clusterer saw, and
        ``preprocessing.inverse_transform`` (when every step has one) maps its
        centres back to the units of ``X``.
    """
    before = []
    while isinstance(estimator, Pipeline):
        if len(estimator) > 1:
            before.append(estimator[:-1])
        estimator = estimator[-1]
    if not before:
        return estimator, None
    if len(before) == 1:
        return estimator, before[0]
    return estimator, Pipeline([(f"part{i}", part) for i, part in enumerate(before)])
