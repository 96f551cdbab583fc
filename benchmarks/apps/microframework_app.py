"""The microframework app: the same source as the Quart app with the imports changed.

The rule: keep this file a line-for-line port of ``quart_app.py`` (the Flask/Quart API
is the contract), so the comparison measures the framework and not the app.
"""

from __future__ import annotations

from collections.abc import Awaitable
from collections.abc import Callable
from importlib.metadata import version as _dist_version
from typing import Any
from typing import cast

from apps.spec import HELLO_TEXT
from apps.spec import JSON_PAYLOAD
from apps.spec import ROUTE_COUNT
from apps.spec import route_rule
from apps.spec import route_text
from apps.spec import STATIC_PATHS
from apps.spec import STATIC_TEXT
from microframework import Microframework
from microframework import request
from microframework import Response

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
    """Build the microframework app for every case."""
    app = Microframework(__name__)
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
    # The app's __call__ is typed with the package's ASGI TypedDicts; the harness
    # passes plain dicts.
    return cast(ASGIApp, app)


def version() -> str:
    """Installed microframework version."""
    return _dist_version("microframework")
