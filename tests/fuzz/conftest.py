"""The fuzz suite's app, built once: it keeps no per-request state between examples."""

from __future__ import annotations

import pytest
from fuzz_app import make_app

from microframework import Microframework


@pytest.fixture(scope="session")
def fuzz_app(tmp_path_factory: pytest.TempPathFactory) -> Microframework:
    return make_app(tmp_path_factory.mktemp("fuzz_app"))
