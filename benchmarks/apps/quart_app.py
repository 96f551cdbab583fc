"""The Quart app: the cases written the way Quart's documentation shows.

The rule: views return plain values (a str, a dict) and Quart builds the response.
Only ``response_class.default_mimetype`` is changed, so a returned str is served as
``text/plain`` like in the other apps instead of Flask's default ``text/html``.
"""

from __future__ import annotations

from collections.abc import Awaitable
from collections.abc import Callable
from importlib.metadata import version as _dist_version
from typing import Any
from typing import cast

from quart import Quart
from quart import request
from quart import Response

from apps.spec import HELLO_TEXT
from apps.spec import JSON_PAYLOAD
from apps.spec import ROUTE_COUNT
from apps.spec import route_rule
from apps.spec import route_text
from apps.spec import STATIC_PATHS
from apps.spec import STATIC_TEXT

ASGIApp = Callable[[Any, Any, Any], Awaitable[None]]


class TextResponse(Response):
    default_mimetype = "text/plain"


def _make_routed(index: int) -> Callable[[int, str], Awaitable[str]]:
    async def routed(a: int, b: str) -> str:
        return route_text(index, a, b)

    return routed


def _make_static() -> Callable[[], Awaitable[str]]:
    async def static() -> str:
        return STATIC_TEXT

    return static


def create_app() -> ASGIApp:
    """Build the Quart app for every case."""
    app = Quart(__name__)
    app.response_class = TextResponse

    @app.route("/")
    async def hello() -> str:
        return HELLO_TEXT

    @app.route("/json")
    async def json_view() -> dict[str, Any]:
        return JSON_PAYLOAD

    @app.post("/echo")
    async def echo() -> Any:
        return await request.get_json()

    for i, path in enumerate(STATIC_PATHS):
        app.add_url_rule(path, f"static{i}", _make_static())
    for i in range(ROUTE_COUNT):
        app.add_url_rule(route_rule(i), f"route{i}", _make_routed(i))
    # Quart's __call__ is typed with hypercorn's TypedDicts; the harness passes
    # plain dicts.
    return cast(ASGIApp, app)


def version() -> str:
    """Installed Quart version."""
    return _dist_version("quart")
