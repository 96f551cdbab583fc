"""The fuzz suite's app, built once: it keeps no per-request state between examples."""

from __future__ import annotations

from pathlib import Path

import pytest
from fuzz_app import make_app

from microframework import Microframework


@pytest.fixture(scope="session")
def fuzz_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the fuzz apps keep their files (shared, so ETags agree between apps)."""
    return tmp_path_factory.mktemp("fuzz_app")


@pytest.fixture(scope="session")
def fuzz_app(fuzz_folder: Path) -> Microframework:
    return make_app(fuzz_folder)
