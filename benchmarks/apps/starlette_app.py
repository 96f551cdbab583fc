"""The Starlette app: the cases written the way Starlette's documentation shows.

The rule: plain ``Starlette(routes=[...])`` with its default middleware, no tuning;
parametrised routes use ``{a:int}`` and ``{b}``, the equivalents of werkzeug's
``<int:a>`` and ``<b>``.
"""

from __future__ import annotations

from importlib.metadata import version as _dist_version

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.responses import PlainTextResponse
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.routing import Route

from apps.spec import HELLO_TEXT
from apps.spec import JSON_PAYLOAD
from apps.spec import ROUTE_COUNT
from apps.spec import route_text
from apps.spec import STATIC_PATHS
from apps.spec import STATIC_TEXT


async def hello(request: Request) -> Response:
    return PlainTextResponse(HELLO_TEXT)


async def json_view(request: Request) -> Response:
    return JSONResponse(JSON_PAYLOAD)


async def echo(request: Request) -> Response:
    return JSONResponse(await request.json())


async def static(request: Request) -> Response:
    return PlainTextResponse(STATIC_TEXT)


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
    ]
    routes += [
        Route(path, static, name=f"static{i}") for i, path in enumerate(STATIC_PATHS)
    ]
    routes += [_make_routed(i) for i in range(ROUTE_COUNT)]
    return Starlette(routes=routes)


def version() -> str:
    """Installed Starlette version."""
    return _dist_version("starlette")
