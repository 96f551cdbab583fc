"""The bare ASGI app: the floor every framework's throughput is divided by.

The rule: do by hand exactly what the cases need and nothing more, but do not cheat
the router. Static paths may use a dict (any framework does that); the parametrised
routes are parsed with ``str.split`` and validated, never looked up as literal paths.
"""

from __future__ import annotations

import json
import platform
from collections.abc import Awaitable
from collections.abc import Callable
from typing import Any

from apps.spec import HELLO_TEXT
from apps.spec import JSON_PAYLOAD
from apps.spec import ROUTE_COUNT
from apps.spec import route_text
from apps.spec import STATIC_PATHS
from apps.spec import STATIC_TEXT

Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Handler = Callable[[dict[str, Any], Receive, Send], Awaitable[None]]

_TEXT = b"text/plain; charset=utf-8"
_JSON = b"application/json"


async def _respond(send: Send, status: int, content_type: bytes, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def _hello(scope: dict[str, Any], receive: Receive, send: Send) -> None:
    await _respond(send, 200, _TEXT, HELLO_TEXT.encode())


async def _json(scope: dict[str, Any], receive: Receive, send: Send) -> None:
    await _respond(send, 200, _JSON, json.dumps(JSON_PAYLOAD).encode())


async def _echo(scope: dict[str, Any], receive: Receive, send: Send) -> None:
    if scope["method"] != "POST":
        await _respond(send, 405, _TEXT, b"method not allowed")
        return
    try:
        data = json.loads(await _read_body(receive))
    except ValueError:
        await _respond(send, 400, _TEXT, b"bad json")
        return
    await _respond(send, 200, _JSON, json.dumps(data).encode())


async def _static(scope: dict[str, Any], receive: Receive, send: Send) -> None:
    await _respond(send, 200, _TEXT, STATIC_TEXT.encode())


_STATIC: dict[str, Handler] = {"/": _hello, "/json": _json, "/echo": _echo}
_STATIC.update(dict.fromkeys(STATIC_PATHS, _static))


async def _routed(path: str, send: Send) -> bool:
    # "/route{i}/{a}/{b}" splits into ["", "route{i}", a, b].
    parts = path.split("/")
    if len(parts) != 4 or not parts[1].startswith("route"):
        return False
    index, a, b = parts[1][5:], parts[2], parts[3]
    if not (index.isdigit() and a.isdigit() and b):
        return False
    number = int(index)
    if number >= ROUTE_COUNT:
        return False
    await _respond(send, 200, _TEXT, route_text(number, int(a), b).encode())
    return True


async def app(scope: dict[str, Any], receive: Receive, send: Send) -> None:
    """Serve the benchmark cases on raw ASGI, with a minimal lifespan."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    path = scope["path"]
    handler = _STATIC.get(path)
    if handler is not None:
        await handler(scope, receive, send)
    elif not await _routed(path, send):
        await _respond(send, 404, _TEXT, b"not found")


def create_app() -> Handler:
    """Return the bare ASGI callable."""
    return app


def version() -> str:
    """The bare app has no version of its own; report the interpreter."""
    return f"{platform.python_implementation()} {platform.python_version()}"
