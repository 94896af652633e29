"""Sphinx configuration for the sklearn-kmeans-lab documentation.

The build is offline by design: CI machines reach package registries and
nothing else.

* Intersphinx reads small curated inventories shipped in ``_inventories/``
  (plain text, compiled to ``.inv`` here at load time) instead of downloading
  ``objects.inv`` files.  ``DOCS_INTERSPHINX=online`` tries the real inventories
  first and falls back to the shipped ones; ``DOCS_INTERSPHINX=off`` drops
  external links altogether.
* MathJax is served from the copy that the ``django-static-mathjax`` package
  (a dependency of the ``docs`` extra) ships, so formulas render in a browser
  that has no network either.  Without that package the pages fall back to
  Sphinx's default CDN URL: the build still passes, but formulas then show as
  raw TeX when read offline.
* Every public name of the package must have an API page with an Examples
  section; ``_check_api_coverage`` turns a missing one into a warning, which
  ``-W`` makes an error.
"""

import doctest
import importlib.util
import inspect
import os
import re
import sys
import zlib
from pathlib import Path

from sphinx.util import logging

import sklearn_kmeans_lab

DOCS_DIR = Path(__file__).resolve().parent
logger = logging.getLogger(__name__)

# -- Project information ------------------------------------------------------

project = "sklearn-kmeans-lab"
author = "sklearn-kmeans-lab developers"
copyright = "2025, sklearn-kmeans-lab developers"
release = sklearn_kmeans_lab.__version__
version = ".".join(release.split(".")[:2])

# -- General configuration ----------------------------------------------------

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.doctest",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "myst_parser",
    "matplotlib.sphinxext.plot_directive",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
templates_path = ["_templates"]
exclude_patterns = ["_build", "_inventories", "**.ipynb_checkpoints"]
# `x` in prose is code, as in scikit-learn's docs.
default_role = "literal"
add_function_parentheses = False

# -- autodoc / autosummary / numpydoc ------------------------------------------

autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": True}
autodoc_typehints = "none"

numpydoc_show_class_members = False
numpydoc_xref_param_type = True
numpydoc_xref_ignore = "all"
numpydoc_xref_aliases = {
    # The words numpydoc's defaults do not cover, pointed at the pages that
    # define them (sklearn's glossary for the sklearn vocabulary).
    "array-like": ":term:`sklearn:array-like`",
    "sparse matrix": ":term:`sklearn:sparse matrix`",
    "estimator": ":term:`sklearn:estimator`",
    "estimator instance": ":term:`sklearn:estimator`",
    "object": ":class:`python:object`",
    "range": ":class:`python:range`",
    "RandomState instance": "numpy.random.RandomState",
    "Generator": "numpy.random.Generator",
    "DataFrame": "pandas.DataFrame",
    "Series": "pandas.Series",
    "Axes": "matplotlib.axes.Axes",
    "Figure": "matplotlib.figure.Figure",
    "Pipeline": "sklearn.pipeline.Pipeline",
    "LloydKMeans": "sklearn_kmeans_lab.LloydKMeans",
    "KSelector": "sklearn_kmeans_lab.KSelector",
}

# -- doctest ------------------------------------------------------------------

doctest_global_setup = "import numpy as np"
# The same flags as the pytest doctests (pyproject.toml).
doctest_default_flags = (
    doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE | doctest.DONT_ACCEPT_TRUE_FOR_1
)

# -- plot directive (figures in the user guide) --------------------------------

plot_include_source = True
plot_html_show_source_link = False
plot_html_show_formats = False
plot_formats = [("png", 100)]
plot_rcparams = {"figure.figsize": (8, 3.6)}

# -- intersphinx: offline first -------------------------------------------------

INVENTORY_DIR = DOCS_DIR / "_inventories"
INTERSPHINX_URLS = {
    "python": "https://docs.python.org/3/",
    "numpy": "https://numpy.org/doc/stable/",
    "scipy": "https://docs.scipy.org/doc/scipy/",
    "sklearn": "https://scikit-learn.org/stable/",
    "matplotlib": "https://matplotlib.org/stable/",
    "pandas": "https://pandas.pydata.org/docs/",
    "dask": "https://docs.dask.org/en/stable/",
    "distributed": "https://distributed.dask.org/en/stable/",
    "joblib": "https://joblib.readthedocs.io/en/stable/",
}


def compile_inventory(txt_path):
    """Compile a plain-text inventory into the zlib format Sphinx reads.

    The text file is an uncompressed ``objects.inv``: four header lines, then
    one ``name domain:role priority uri dispname`` line per object.  The
    ``.inv`` is rewritten only when its content changes.
    """
    lines = txt_path.read_text(encoding="utf-8").splitlines(keepends=True)
    header, body = lines[:4], lines[4:]
    if not header or header[0] != "# Sphinx inventory version 2\n":
        raise ValueError(f"{txt_path}: not a version 2 Sphinx inventory")
    body = [line for line in body if line.strip() and not line.startswith("#")]
    data = "".join(header).encode() + zlib.compress("".join(body).encode(), 9)
    inv_path = txt_path.with_suffix(".inv")
    if not inv_path.is_file() or inv_path.read_bytes() != data:
        inv_path.write_bytes(data)
    return inv_path


INTERSPHINX_MODE = os.environ.get("DOCS_INTERSPHINX", "local")
if INTERSPHINX_MODE not in {"local", "online", "off"}:
    raise ValueError(
        f"DOCS_INTERSPHINX must be 'local', 'online' or 'off', got {INTERSPHINX_MODE!r}"
    )
intersphinx_mapping = {}
if INTERSPHINX_MODE != "off":
    for _name, _url in INTERSPHINX_URLS.items():
        _local = str(compile_inventory(INVENTORY_DIR / f"{_name}.txt"))
        if INTERSPHINX_MODE == "online":
            # `None` = the real objects.inv at _url; the shipped one if that fails.
            intersphinx_mapping[_name] = (_url, (None, _local))
        else:
            intersphinx_mapping[_name] = (_url, _local)
# Only used in online mode: an unreachable host must not hang the build.
intersphinx_timeout = 5

# -- MathJax, offline ----------------------------------------------------------


def find_vendored_mathjax():
    """Return the path of a local MathJax 3 ``tex-svg.js``, or None.

    The SVG build is one self-contained file (its fonts are embedded as
    paths), so copying that single file into ``_static`` is enough.
    """
    spec = importlib.util.find_spec("mathjax")
    if spec is None or not spec.submodule_search_locations:
        return None
    for root in spec.submodule_search_locations:
        candidate = Path(root) / "static" / "mathjax" / "es5" / "tex-svg.js"
        if candidate.is_file():
            return candidate
    return None


html_static_path = []
MATHJAX_FILE = find_vendored_mathjax()
if MATHJAX_FILE is not None:
    html_static_path.append(str(MATHJAX_FILE))
    mathjax_path = MATHJAX_FILE.name
    # No context menu: its accessibility extras are further files, loaded on
    # demand, that this single-file copy does not ship.
    mathjax3_config = {"options": {"enableMenu": False}}

# -- HTML output ---------------------------------------------------------------

html_theme = "pydata_sphinx_theme"
html_title = f"sklearn-kmeans-lab {release}"
html_theme_options = {
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "show_prev_next": True,
    "navbar_end": ["theme-switcher"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_context = {"default_mode": "light"}
html_show_sourcelink = False
# No section navigation on the gallery pages: their code needs the width.
html_sidebars = {
    "index": [],
    "getting_started": [],
    "changelog": [],
    "auto_examples/*": [],
}

# -- sphinx-gallery --------------------------------------------------------------

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "within_subsection_order": "FileNameSortKey",
    "doc_module": ("sklearn_kmeans_lab",),
    "backreferences_dir": "generated/backreferences",
    "remove_config_comments": True,
    "inspect_global_variables": False,
    # The timing pages load jQuery and DataTables from a CDN: leave them out.
    "write_computation_times": False,
    "show_memory": False,
    # A plot call's return value (Text, Legend, a Display) is no output worth
    # showing; tables, arrays and printed results still are.
    "ignore_repr_types": r"matplotlib\.|_(cluster|kselector)_display\.\w+Display",
}

# -- myst (the changelog is Markdown) -------------------------------------------

myst_heading_anchors = 3

# -- checks ------------------------------------------------------------------------


def public_names():
    """Names of ``sklearn_kmeans_lab.__all__`` that need an API page."""
    return [name for name in sklearn_kmeans_lab.__all__ if not name.startswith("__")]


def documented_names(api_rst):
    """Names listed under the autosummary directives of ``api.rst``."""
    names, in_block = [], False
    for line in api_rst.read_text(encoding="utf-8").splitlines():
        if line.startswith(".. autosummary::"):
            in_block = True
        elif in_block and re.fullmatch(r" {3}[A-Za-z_]\w*", line):
            names.append(line.strip())
        elif in_block and line and not line.startswith(" "):
            in_block = False
    return names


def public_docstring(name):
    """The docstring autodoc shows for a public name.

    Classes and functions carry their own; an object such as a ready-made
    scorer is documented by the string literal that follows its assignment
    in the module that defines it (where autodoc finds it too).
    """
    from sphinx.pycode import ModuleAnalyzer

    obj = getattr(sklearn_kmeans_lab, name)
    if inspect.isclass(obj) or inspect.isroutine(obj):
        return inspect.getdoc(obj) or ""
    for modname, module in list(sys.modules.items()):
        if modname.startswith("sklearn_kmeans_lab.") and (
            getattr(module, name, None) is obj
        ):
            attr_docs = ModuleAnalyzer.for_module(modname).find_attr_docs()
            if ("", name) in attr_docs:
                return inspect.cleandoc("\n".join(attr_docs[("", name)]))
    return inspect.getdoc(obj) or ""


def _check_api_coverage(app):
    """Warn for every public name without an API page or without Examples."""
    from numpydoc.docscrape import NumpyDocString

    listed = set(documented_names(DOCS_DIR / "api.rst"))
    for name in public_names():
        if name not in listed:
            logger.warning(
                f"public name {name!r} (sklearn_kmeans_lab.__all__) is missing "
                "from docs/api.rst"
            )
            continue
        if not NumpyDocString(public_docstring(name))["Examples"]:
            logger.warning(f"the docstring of {name} has no Examples section")


def _link_dask_guide(app, docname, source):
    """List ``user_guide/dask.rst`` in the user guide's toctree once it exists.

    The page is written with the Dask support, by its own commits; linking it
    here, instead of in ``user_guide/index.rst``, keeps the build free of
    "nonexisting document" and "not included in any toctree" errors whichever
    of the two lands first.
    """
    dask_page = DOCS_DIR / "user_guide" / "dask.rst"
    if docname == "user_guide/index" and dask_page.is_file():
        source[0] = source[0].replace("   choosing_k\n", "   choosing_k\n   dask\n", 1)


def setup(app):
    app.connect("builder-inited", _check_api_coverage)
    app.connect("source-read", _link_dask_guide)
