"""The Quart long-poll app: written the way Quart's documentation shows.

The rule: the source of ``longpoll_microframework.py`` with the imports changed. The
framework's own long-poll machinery stays on (response timeout, disconnect watch);
only ``RESPONSE_TIMEOUT`` is raised above the benchmark's hold.
"""

from __future__ import annotations

from collections.abc import Awaitable
from collections.abc import Callable
from importlib.metadata import version as _dist_version
from typing import Any
from typing import cast

from quart import Quart
from quart import Response

from apps.longpoll_spec import Gate
from apps.longpoll_spec import POLL_PATH
from apps.longpoll_spec import RELEASE_PATH
from apps.longpoll_spec import RELEASED_TEXT
from apps.longpoll_spec import RESPONSE_TIMEOUT
from apps.longpoll_spec import STATS_PATH

ASGIApp = Callable[[Any, Any, Any], Awaitable[None]]


class TextResponse(Response):
    default_mimetype = "text/plain"


def create_app() -> ASGIApp:
    """Build the Quart long-poll app."""
    app = Quart(__name__)
    app.response_class = TextResponse
    app.config["RESPONSE_TIMEOUT"] = RESPONSE_TIMEOUT
    gate = Gate()

    @app.get(POLL_PATH)
    async def poll() -> str:
        await gate.wait()
        return RELEASED_TEXT

    @app.post(RELEASE_PATH)
    async def release() -> str:
        gate.release()
        return "ok"

    @app.get(STATS_PATH)
    async def stats() -> str:
        return str(gate.waiting)

    return cast(ASGIApp, app)


def version() -> str:
    """Installed Quart version."""
    return _dist_version("quart")
