"""The BlackSheep app: the cases written the way BlackSheep's documentation shows.

The rule: a plain ``Application()`` with handlers returning its response helpers
(``text``, ``json``, ``redirect``), no tuning. BlackSheep's core is compiled with
Cython, so it shows what a compiled framework costs. It has no per-route hooks (its
middlewares wrap every route), so the ``hooks`` case is not expressed; the template
is a Jinja2 ``from_string`` render, as in the Starlette app.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from importlib.metadata import version as _dist_version
from typing import Any

import jinja2
from blacksheep import Application
from blacksheep import Content
from blacksheep import Request
from blacksheep import Response
from blacksheep import StreamedContent
from blacksheep import WebSocket
from blacksheep import WebSocketDisconnectError
from blacksheep.exceptions import NotFound
from blacksheep.server.responses import json
from blacksheep.server.responses import redirect as redirect_to
from blacksheep.server.responses import text

from apps.spec import ABORT_PATH
from apps.spec import BENCH_HEADER
from apps.spec import HEADERS_PATH
from apps.spec import HELLO_TEXT
from apps.spec import JSON_PAYLOAD
from apps.spec import JSONIFY_PATH
from apps.spec import REDIRECT_PATH
from apps.spec import REDIRECT_TARGET
from apps.spec import RESPONSE_PATH
from apps.spec import ROUTE_COUNT
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

#: Cases this app does not express, with the reason (the runner reports them as n/a).
UNSUPPORTED = {"hooks": "no per-route before/after hooks (middlewares wrap all routes)"}

_JINJA = jinja2.Environment(autoescape=True)
_TEXT = TEXT_CONTENT_TYPE.encode()
_BENCH = (BENCH_HEADER[0].encode(), BENCH_HEADER[1].encode())


async def hello() -> Response:
    return text(HELLO_TEXT)


async def json_view() -> Response:
    return json(JSON_PAYLOAD)


async def echo(request: Request) -> Response:
    return json(await request.json())


async def static() -> Response:
    return text(STATIC_TEXT)


async def status() -> Response:
    return text(STATUS_TEXT, status=STATUS_CODE)


async def with_headers() -> Response:
    return Response(200, [_BENCH], Content(_TEXT, HELLO_TEXT.encode()))


async def response() -> Response:
    return Response(200, None, Content(_TEXT, HELLO_TEXT.encode()))


async def redirect() -> Response:
    return redirect_to(REDIRECT_TARGET)


async def abort() -> Response:
    raise NotFound()


async def stream() -> Response:
    async def chunks() -> AsyncIterator[bytes]:
        for index in range(STREAM_CHUNKS):
            yield stream_chunk(index).encode()

    return Response(200, None, StreamedContent(_TEXT, chunks))


async def template() -> Response:
    return text(_JINJA.from_string(TEMPLATE_SOURCE).render(name=TEMPLATE_NAME))


async def ws_echo(websocket: WebSocket) -> None:
    await websocket.accept()
    try:
        while True:
            message: Any = await websocket.receive()
            if message.get("text") is not None:
                await websocket.send_text(message["text"])
            else:
                await websocket.send_bytes(message["bytes"])
    except WebSocketDisconnectError:
        pass


def _make_routed(index: int) -> Any:
    async def routed(a: int, b: str) -> Response:
        return text(route_text(index, a, b))

    return routed


def create_app() -> Application:
    """Build the BlackSheep app for every case."""
    app = Application()
    get = app.router.add_get
    get("/", hello)
    get("/json", json_view)
    app.router.add_post("/echo", echo)
    get(STATUS_PATH, status)
    get(STATUS_HEADERS_PATH, with_headers)
    get(HEADERS_PATH, with_headers)
    get(JSONIFY_PATH, json_view)
    get(RESPONSE_PATH, response)
    get(REDIRECT_PATH, redirect)
    get(ABORT_PATH, abort)
    get(STREAM_PATH, stream)
    get(TEMPLATE_PATH, template)
    app.router.add_ws(WS_PATH, ws_echo)
    for path in STATIC_PATHS:
        get(path, static)
    for i in range(ROUTE_COUNT):
        get(f"/route{i}/{{int:a}}/{{b}}", _make_routed(i))
    return app


def version() -> str:
    """Installed BlackSheep version."""
    return _dist_version("blacksheep")
