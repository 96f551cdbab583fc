"""The Quart app: the cases written the way Quart's documentation shows.

The rule: views return plain values (a str, a dict, a tuple) and Quart builds the
response. Only ``response_class.default_mimetype`` is changed, so a returned str is
served as ``text/plain`` like in the other apps instead of Flask's default
``text/html``. The hooks live on a blueprint so that they cost nothing elsewhere.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from collections.abc import Awaitable
from collections.abc import Callable
from importlib.metadata import version as _dist_version
from typing import Any
from typing import cast

from quart import abort
from quart import Blueprint
from quart import g
from quart import jsonify
from quart import Quart
from quart import redirect
from quart import render_template_string
from quart import request
from quart import Response
from quart import websocket

from apps.spec import ABORT_PATH
from apps.spec import AFTER_HEADER
from apps.spec import BENCH_HEADER
from apps.spec import HEADERS_PATH
from apps.spec import HELLO_TEXT
from apps.spec import HOOKS_PATH
from apps.spec import HOOKS_USER
from apps.spec import JSON_PAYLOAD
from apps.spec import JSONIFY_PATH
from apps.spec import REDIRECT_PATH
from apps.spec import REDIRECT_TARGET
from apps.spec import RESPONSE_PATH
from apps.spec import ROUTE_COUNT
from apps.spec import route_rule
from apps.spec import route_text
from apps.spec import STATIC_PATHS
from apps.spec import STATIC_TEXT
from apps.spec import STATUS_CODE
from apps.spec import STATUS_HEADERS_PATH
from apps.spec import STATUS_PATH
from apps.spec import STATUS_TEXT
from apps.spec import stream_chunk
from apps.spec import STREAM_CHUNKS
from apps.spec import STREAM_PATH
from apps.spec import TEMPLATE_NAME
from apps.spec import TEMPLATE_PATH
from apps.spec import TEMPLATE_SOURCE
from apps.spec import TEXT_CONTENT_TYPE
from apps.spec import WS_PATH

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


def _add_shapes(app: Quart) -> None:
    """One view per return shape (a str and a dict are ``/`` and ``/json``)."""

    @app.route(STATUS_PATH)
    async def status() -> Any:
        return STATUS_TEXT, STATUS_CODE

    @app.route(STATUS_HEADERS_PATH)
    async def status_headers() -> Any:
        return (
            HELLO_TEXT,
            200,
            {"content-type": TEXT_CONTENT_TYPE, BENCH_HEADER[0]: BENCH_HEADER[1]},
        )

    @app.route(HEADERS_PATH)
    async def headers() -> Any:
        return HELLO_TEXT, {BENCH_HEADER[0]: BENCH_HEADER[1]}

    @app.route(JSONIFY_PATH)
    async def jsonify_view() -> Any:
        return jsonify(JSON_PAYLOAD)

    @app.route(RESPONSE_PATH)
    async def response() -> Any:
        return Response(HELLO_TEXT, content_type=TEXT_CONTENT_TYPE)

    @app.route(REDIRECT_PATH)
    async def redirect_view() -> Any:
        return redirect(REDIRECT_TARGET)

    @app.route(ABORT_PATH)
    async def abort_view() -> Any:
        abort(404)

    @app.route(STREAM_PATH)
    async def stream() -> Any:
        async def chunks() -> AsyncIterator[str]:
            for index in range(STREAM_CHUNKS):
                yield stream_chunk(index)

        return chunks()

    @app.route(TEMPLATE_PATH)
    async def template() -> str:
        return await render_template_string(TEMPLATE_SOURCE, name=TEMPLATE_NAME)


def _hooked_blueprint() -> Blueprint:
    """One view behind one before-request and one after-request hook."""
    hooked = Blueprint("hooked", __name__)

    @hooked.before_request
    async def load_user() -> None:
        g.user = HOOKS_USER

    @hooked.after_request
    async def mark(response: Response) -> Response:
        response.headers[AFTER_HEADER[0]] = AFTER_HEADER[1]
        return response

    @hooked.route(HOOKS_PATH)
    async def greet() -> str:
        return f"Hello, {g.user}!"

    return hooked


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

    @app.websocket(WS_PATH)
    async def ws_echo() -> None:
        while True:
            await websocket.send(await websocket.receive())

    _add_shapes(app)
    app.register_blueprint(_hooked_blueprint())
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
