"""The Starlette app: the cases written the way Starlette's documentation shows.

The rule: plain ``Starlette(routes=[...])`` with its default middleware, no tuning;
parametrised routes use ``{a:int}`` and ``{b}``, the equivalents of werkzeug's
``<int:a>`` and ``<b>``. Starlette has no view return values: each shape becomes the
response class a Starlette user would write for it. The hooks are a route-level
``BaseHTTPMiddleware`` (``dispatch`` runs code before and after the view), the
documented way to wrap a view; the template is a Jinja2 ``from_string`` render,
which is what ``render_template_string`` does in Flask and Quart.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from importlib.metadata import version as _dist_version

import jinja2
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.middleware.base import RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.responses import PlainTextResponse
from starlette.responses import RedirectResponse
from starlette.responses import Response
from starlette.responses import StreamingResponse
from starlette.routing import BaseRoute
from starlette.routing import Route
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket
from starlette.websockets import WebSocketDisconnect

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

_JINJA = jinja2.Environment(autoescape=True)


async def hello(request: Request) -> Response:
    return PlainTextResponse(HELLO_TEXT)


async def json_view(request: Request) -> Response:
    return JSONResponse(JSON_PAYLOAD)


async def echo(request: Request) -> Response:
    return JSONResponse(await request.json())


async def static(request: Request) -> Response:
    return PlainTextResponse(STATIC_TEXT)


async def status(request: Request) -> Response:
    return PlainTextResponse(STATUS_TEXT, status_code=STATUS_CODE)


async def with_headers(request: Request) -> Response:
    # (body, status, headers) and (body, headers) are the same response here.
    return Response(
        HELLO_TEXT,
        headers={"content-type": TEXT_CONTENT_TYPE, BENCH_HEADER[0]: BENCH_HEADER[1]},
    )


async def response(request: Request) -> Response:
    return Response(HELLO_TEXT, media_type="text/plain")


async def redirect(request: Request) -> Response:
    return RedirectResponse(REDIRECT_TARGET, status_code=302)


async def abort(request: Request) -> Response:
    raise HTTPException(404)


async def stream(request: Request) -> Response:
    async def chunks() -> AsyncIterator[str]:
        for index in range(STREAM_CHUNKS):
            yield stream_chunk(index)

    return StreamingResponse(chunks(), media_type="text/plain")


async def greet(request: Request) -> Response:
    return PlainTextResponse(f"Hello, {request.state.user}!")


class Hooks(BaseHTTPMiddleware):
    """The before hook sets the user; the after hook adds a header."""

    async def dispatch(
        self, request: Request, call_next: RequestResponseEndpoint
    ) -> Response:
        request.state.user = HOOKS_USER
        response = await call_next(request)
        response.headers[AFTER_HEADER[0]] = AFTER_HEADER[1]
        return response


async def template(request: Request) -> Response:
    html = _JINJA.from_string(TEMPLATE_SOURCE).render(name=TEMPLATE_NAME)
    return PlainTextResponse(html)


async def ws_echo(ws: WebSocket) -> None:
    await ws.accept()
    try:
        while True:
            message = await ws.receive()
            if message["type"] != "websocket.receive":
                return  # disconnected
            if message.get("text") is not None:
                await ws.send_text(message["text"])
            else:
                await ws.send_bytes(message["bytes"])
    except WebSocketDisconnect:
        pass


def _make_routed(index: int) -> Route:
    async def routed(request: Request) -> Response:
        params = request.path_params
        return PlainTextResponse(route_text(index, params["a"], params["b"]))

    return Route(f"/route{index}/{{a:int}}/{{b}}", routed, name=f"route{index}")


def create_app() -> Starlette:
    """Build the Starlette app for every case."""
    routes: list[BaseRoute] = [
        Route("/", hello),
        Route("/json", json_view),
        Route("/echo", echo, methods=["POST"]),
        Route(STATUS_PATH, status),
        Route(STATUS_HEADERS_PATH, with_headers),
        Route(HEADERS_PATH, with_headers),
        Route(JSONIFY_PATH, json_view),
        Route(RESPONSE_PATH, response),
        Route(REDIRECT_PATH, redirect),
        Route(ABORT_PATH, abort),
        Route(STREAM_PATH, stream),
        Route(HOOKS_PATH, greet, middleware=[Middleware(Hooks)]),
        Route(TEMPLATE_PATH, template),
        WebSocketRoute(WS_PATH, ws_echo),
    ]
    routes += [
        Route(path, static, name=f"static{i}") for i, path in enumerate(STATIC_PATHS)
    ]
    routes += [_make_routed(i) for i in range(ROUTE_COUNT)]
    return Starlette(routes=routes)


def version() -> str:
    """Installed Starlette version."""
    return _dist_version("starlette")
