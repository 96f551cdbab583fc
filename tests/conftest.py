from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from microframework import Microframework


@pytest.fixture
def app() -> Microframework:
    app = Microframework(__name__)
    app.testing = True
    return app
