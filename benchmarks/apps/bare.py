"""The bare ASGI app: the floor every framework's throughput is divided by.

The rule: do by hand exactly what the cases need and nothing more, but do not cheat
the router. Static paths may use a dict (any framework does that); the parametrised
routes are parsed with ``str.split`` and validated, never looked up as literal paths.
Where a framework answers with a page of its own (a redirect, a 404), the bare app
sends the least a client needs: the status, the header, a short or empty body.
"""

from __future__ import annotations

import json
import platform
from collections.abc import Awaitable
from collections.abc import Callable
from html import escape
from typing import Any

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
from apps.spec import WS_PATH

Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Handler = Callable[[dict[str, Any], Receive, Send], Awaitable[None]]

_TEXT = b"text/plain; charset=utf-8"
_JSON = b"application/json"


_BENCH = (BENCH_HEADER[0].encode(), BENCH_HEADER[1].encode())
_AFTER = (AFTER_HEADER[0].encode(), AFTER_HEADER[1].encode())


async def _respond(
    send: Send,
    status: int,
    content_type: bytes,
    body: bytes,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    headers = [
        (b"content-type", content_type),
        (b"content-length", str(len(body)).encode()),
    ]
    if extra:
        headers += extra
    await send({"type": "http.response.start", "status": status, "headers": headers})
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


async def _status(scope: dict[str, Any], receive: Receive, send: Send) -> None:
    await _respond(send, STATUS_CODE, _TEXT, STATUS_TEXT.encode())


async def _with_header(scope: dict[str, Any], receive: Receive, send: Send) -> None:
    await _respond(send, 200, _TEXT, HELLO_TEXT.encode(), [_BENCH])


async def _redirect(scope: dict[str, Any], receive: Receive, send: Send) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 302,
            "headers": [
                (b"location", REDIRECT_TARGET.encode()),
                (b"content-length", b"0"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _abort(scope: dict[str, Any], receive: Receive, send: Send) -> None:
    await _respond(send, 404, _TEXT, b"Not Found")


async def _stream(scope: dict[str, Any], receive: Receive, send: Send) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", _TEXT)],
        }
    )
    for index in range(STREAM_CHUNKS):
        body = stream_chunk(index).encode()
        await send({"type": "http.response.body", "body": body, "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _hooked(scope: dict[str, Any], receive: Receive, send: Send) -> None:
    user = HOOKS_USER  # the "before" step
    await _respond(send, 200, _TEXT, f"Hello, {user}!".encode(), [_AFTER])


async def _template(scope: dict[str, Any], receive: Receive, send: Send) -> None:
    body = f"<p>Hello, {escape(TEMPLATE_NAME, quote=False)}!</p>".encode()
    await _respond(send, 200, _TEXT, body)


async def _websocket(scope: dict[str, Any], receive: Receive, send: Send) -> None:
    """Accept, then echo text or bytes until the client leaves."""
    if scope["path"] != WS_PATH or (await receive())["type"] != "websocket.connect":
        await send({"type": "websocket.close", "code": 1000})
        return
    await send({"type": "websocket.accept"})
    while True:
        message = await receive()
        if message["type"] != "websocket.receive":
            return
        text = message.get("text")
        if text is not None:
            await send({"type": "websocket.send", "text": text})
        else:
            await send({"type": "websocket.send", "bytes": message["bytes"]})


_STATIC: dict[str, Handler] = {
    "/": _hello,
    "/json": _json,
    "/echo": _echo,
    STATUS_PATH: _status,
    STATUS_HEADERS_PATH: _with_header,
    HEADERS_PATH: _with_header,
    JSONIFY_PATH: _json,
    RESPONSE_PATH: _hello,
    REDIRECT_PATH: _redirect,
    ABORT_PATH: _abort,
    STREAM_PATH: _stream,
    HOOKS_PATH: _hooked,
    TEMPLATE_PATH: _template,
}
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
    if scope["type"] == "websocket":
        await _websocket(scope, receive, send)
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
