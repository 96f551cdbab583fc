"""``_dotenv.py``: loading ``.env`` and ``.microframeworkenv`` files, as Flask does.

Rule: python-dotenv is optional and imported only when a file is loaded; a variable
already set is never replaced.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from types import ModuleType

import click


def load_dotenv(
    path: str | os.PathLike[str] | None = None, load_defaults: bool = True
) -> bool:
    """Load ``.env``, ``.microframeworkenv`` and *path* into ``os.environ``; True if any loaded.

    Set variables win, then *path*, ``.env``, ``.microframeworkenv`` (found upwards), as
    Flask orders them. Without python-dotenv it says so if such a file is there, as Flask."""
    dotenv = python_dotenv()
    if dotenv is None:
        if load_defaults and (
            _find_upwards(".env") or _find_upwards(".microframeworkenv")
        ):
            click.secho(
                " * Tip: There are .env files present. Install python-dotenv to use them.",
                fg="yellow",
                err=True,
            )
        return False
    files = [path]
    if load_defaults:
        files += [_find_upwards(".env"), _find_upwards(".microframeworkenv")]
    found = [file for file in files if file is not None and os.path.isfile(file)]
    for file in found:  # the most important first: a variable already set stays
        for key, value in dotenv.dotenv_values(file, encoding="utf-8").items():
            if value is not None:
                os.environ.setdefault(key, value)
    return bool(found)


def python_dotenv() -> ModuleType | None:
    """The ``dotenv`` module, or None when python-dotenv isn't installed."""
    try:
        return importlib.import_module("dotenv")
    except ImportError:
        return None  # python-dotenv is optional


def _find_upwards(name: str) -> Path | None:
    cwd = Path.cwd()
    return next((d / name for d in (cwd, *cwd.parents) if (d / name).is_file()), None)
