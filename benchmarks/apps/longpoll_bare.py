"""The bare ASGI long-poll app: the floor the frameworks' costs are divided by.

The rule: exactly what the long-poll case needs, by hand: no routing table, no
disconnect watch, no timeout. What a held poll costs here is what hypercorn and the
waiting coroutine cost.
"""

from __future__ import annotations

import platform
from collections.abc import Awaitable
from collections.abc import Callable
from typing import Any

from apps.longpoll_spec import Gate
from apps.longpoll_spec import POLL_PATH
from apps.longpoll_spec import RELEASE_PATH
from apps.longpoll_spec import RELEASED_TEXT
from apps.longpoll_spec import STATS_PATH

Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Handler = Callable[[dict[str, Any], Receive, Send], Awaitable[None]]

_TEXT = b"text/plain; charset=utf-8"


async def _respond(send: Send, status: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", _TEXT),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})


def create_app() -> Handler:
    """Return a fresh bare long-poll app with its own gate."""
    gate = Gate()

    async def app(scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        path = scope["path"]
        if path == POLL_PATH:
            await gate.wait()
            await _respond(send, 200, RELEASED_TEXT.encode())
        elif path == RELEASE_PATH and scope["method"] == "POST":
            gate.release()
            await _respond(send, 200, b"ok")
        elif path == STATS_PATH:
            await _respond(send, 200, str(gate.waiting).encode())
        else:
            await _respond(send, 404, b"not found")

    return app


def version() -> str:
    """The bare app has no version of its own; report the interpreter."""
    return f"{platform.python_implementation()} {platform.python_version()}"
