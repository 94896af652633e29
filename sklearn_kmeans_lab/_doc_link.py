"""Where an estimator's HTML representation links: its API reference page.

scikit-learn draws a "?" link in the HTML repr of every estimator whose
``_doc_link_module`` is the root package of its class; third-party packages
set ``_doc_link_module`` and ``_doc_link_template`` to their own reference
(the convention of ``sklearn.utils._repr_html.base``).  The pages are those
``docs/api.rst`` generates: ``generated/sklearn_kmeans_lab.<Name>.html``.
"""

# The project's documentation, as pyproject.toml's [project.urls] states it.
DOCUMENTATION_URL = "https://sklearn-kmeans-lab.readthedocs.io/en/latest"


class DocLinkMixin:
    """Links the HTML repr of a public estimator to its page of the API reference."""

    _doc_link_module = "sklearn_kmeans_lab"
    _doc_link_template = (
        DOCUMENTATION_URL + "/generated/{estimator_module}.{estimator_name}.html"
    )
