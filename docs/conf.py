"""Sphinx configuration for the microframework documentation.

Rule: the build needs no network and treats every warning as an error
(``sphinx-build -W``), so nothing here may fetch anything: intersphinx is enabled
for ``:external:`` roles but given no mappings.
"""

from __future__ import annotations

import microframework

project = "microframework"
author = "The microframework team"
copyright = "the microframework team"
release = microframework.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.intersphinx",
]

source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build"]

# No mappings: the build runs without network access.
intersphinx_mapping: dict[str, tuple[str, str | None]] = {}

myst_enable_extensions = ["deflist"]
# Lets pages link to sections elsewhere: [text](routing.md#converters).
myst_heading_anchors = 3

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_default_options = {"members": True}

html_theme = "alabaster"
html_title = f"microframework {release}"
html_static_path: list[str] = []
