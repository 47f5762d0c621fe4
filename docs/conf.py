"""Sphinx configuration of dbn's documentation site.

Built offline with warnings as errors (``make docs``): no intersphinx, MathJax from the
``sphinx-mathjax-offline`` package, the gallery executed from ``examples/``, the
command-line reference read from the programs' and the studies' own parsers.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the studies' parsers (studies/, not installed)

import dbn  # noqa: E402

project = "dbn"
author = "the dbn developers"
copyright = "the dbn developers"
release = version = dbn.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx-mathjax-offline",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
    "sphinxarg.ext",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "gallery/*.ipynb", "gallery/*.py", "gallery/*.json"]
myst_heading_anchors = 3
# furo: a wide column, so code blocks and tables fit, a sidebar to enter from
html_theme = "furo"
html_title = "dbn"
html_static_path = ["_static"]  # custom.css (and the site's screenshots)
html_css_files = ["custom.css"]
templates_path = ["_templates"]

autosummary_generate = True
# scikit-learn's own methods of the estimators (metadata routing, score) are documented
# by scikit-learn, whose glossary this offline build cannot link to.
autodoc_default_options = {
    "members": True,
    # and extra_repr: torch's printing hook, whose inherited docstring is torch's
    "exclude-members": "score, set_fit_request, set_partial_fit_request, set_score_request, "
    "set_transform_request, set_predict_request, set_output, extra_repr",
}
autodoc_typehints = "none"  # numpydoc's Parameters sections carry the types
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
# Every public object has a docstring that starts with a summary line; that every public
# class and function has an executed example is tests/test_layout.py's check.
numpydoc_validation_checks = {"GL08", "SS01"}
# torch.nn.Module and torch.optim.Optimizer methods are documented by PyTorch.
numpydoc_validation_exclude = {
    r"\._",
    r"\.__",
    r"\.forward$",
    r"\.extra_repr$",
    r"\.profile_hook_step$",
}

sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "gallery",
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "write_computation_times": False,  # its page loads DataTables from a CDN
}
