"""The Starlette long-poll app: written the way Starlette's documentation shows.

The rule: plain ``Starlette(routes=[...])`` with its default middleware and no tuning.
"""

from __future__ import annotations

from importlib.metadata import version as _dist_version

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.responses import Response
from starlette.routing import Route

from apps.longpoll_spec import Gate
from apps.longpoll_spec import POLL_PATH
from apps.longpoll_spec import RELEASE_PATH
from apps.longpoll_spec import RELEASED_TEXT
from apps.longpoll_spec import STATS_PATH


def create_app() -> Starlette:
    """Build the Starlette long-poll app."""
    gate = Gate()

    async def poll(request: Request) -> Response:
        await gate.wait()
        return PlainTextResponse(RELEASED_TEXT)

    async def release(request: Request) -> Response:
        gate.release()
        return PlainTextResponse("ok")

    async def stats(request: Request) -> Response:
        return PlainTextResponse(str(gate.waiting))

    return Starlette(
        routes=[
            Route(POLL_PATH, poll),
            Route(RELEASE_PATH, release, methods=["POST"]),
            Route(STATS_PATH, stats),
        ]
    )


def version() -> str:
    """Installed Starlette version."""
    return _dist_version("starlette")
