from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from blinker import NamedSignal

from microframework import _utils
from microframework import Microframework
from microframework import signals

# The receive() functions tests write stand in for a server's: stepped by hand, as
# hypercorn's and uvicorn's are. (test_middleware.py names one a middleware's.)
_utils.HAND_STEPPED += ("asgi_harness", "test_", "fuzz")

SIGNALS = [v for v in vars(signals).values() if isinstance(v, NamedSignal)]


@pytest.fixture(autouse=True)
def _signals_flag_as_the_receivers_say() -> None:
    # The request path skips signals until a receiver connects, and the flag never
    # falls back: without this, every test after the first that connected one ran the
    # signalling path only (mutation testing found paths no test then reached).
    signals.state.listening = any(signal.receivers for signal in SIGNALS)


@pytest.fixture(autouse=True)
def _environment_restored() -> Iterator[None]:
    # The CLI sets variables (MICROFRAMEWORK_RUN_FROM_CLI makes a later app.run() a
    # no-op, the debug flag, an env file's) that a later test would obey.
    saved = dict(os.environ)
    yield
    if os.environ != saved:
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture
def app() -> Microframework:
    app = Microframework(__name__)
    app.testing = True
    return app
