"""Sphinx configuration for the sansws documentation.

Build with ``python -m sphinx -W --keep-going -b html docs docs/_build/html``.
"""

from __future__ import annotations

import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
# Document the working tree even when the package is not installed.
sys.path.insert(0, str(ROOT / "src"))

import sansws  # noqa: E402

project = "sansws"
author = "the sansws authors"
copyright = "the sansws authors"
release = sansws.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
]

napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False
napoleon_attr_annotations = True

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_format = "short"
autodoc_preserve_defaults = True
autodoc_default_options = {
    "members": True,
    "show-inheritance": True,
}

exclude_patterns = ["_build", "examples"]
templates_path: list[str] = []
html_theme = "alabaster"
html_static_path: list[str] = []
html_theme_options = {
    "description": "WebSocket as a Sans-I/O state machine",
    "fixed_sidebar": True,
}
highlight_language = "default"  # python3, falling back to plain text
