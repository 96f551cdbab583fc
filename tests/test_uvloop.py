"""The request pipeline on uvloop, the loop ``uvicorn[standard]`` runs.

uvloop's futures and handles are its own types, not asyncio's subclasses: code that
tells them apart with ``isinstance(x, asyncio.Handle)`` works only on asyncio's loop.
Each test runs the app through raw ASGI on a uvloop loop of its own.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from collections.abc import Awaitable
from collections.abc import Callable
from typing import Any

import pytest
from asgi_harness import http_scope

from microframework import Microframework
from microframework.typing import Message

uvloop = pytest.importorskip("uvloop", reason="uvloop is not installed")


def _on_uvloop(main: Callable[[], Awaitable[Any]]) -> Any:
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        assert "uvloop" in type(runner.get_loop()).__module__
        return runner.run(main())  # type: ignore[arg-type]


def _receive(kind: str) -> Callable[[], Awaitable[Message]]:
    """After the request: one that yields bare before it waits, or never waits."""
    calls = 0

    async def receive() -> Message:
        nonlocal calls
        calls += 1
        if calls == 1 or kind == "never waits":
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.sleep(0)  # a middleware letting other work run first
        await asyncio.sleep(0)
        await asyncio.get_running_loop().create_future()  # the client stays
        raise AssertionError("unreachable")

    return receive


@pytest.mark.parametrize("kind", ["yields first", "never waits"])
@pytest.mark.parametrize("shape", ["text", "stream"])
def test_a_watched_view_answers_on_uvloop(
    kind: str, shape: str, caplog: pytest.LogCaptureFixture
) -> None:
    # The watch waited on a call_soon handle when the view ended, and stopping it
    # called remove_done_callback on uvloop's Handle: AttributeError, a 500.
    app = Microframework(__name__)

    @app.route("/")
    async def view() -> Any:
        await asyncio.sleep(0)  # suspends: the disconnect watch starts
        if shape == "text":
            return "done"

        async def chunks() -> AsyncIterator[bytes]:
            yield b"do"
            await asyncio.sleep(0)
            yield b"ne"

        return chunks()

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    async def main() -> None:
        await asyncio.wait_for(app(http_scope("/"), _receive(kind), send), 5)

    with caplog.at_level(logging.ERROR):
        _on_uvloop(main)
    assert sent[0]["status"] == 200
    assert b"".join(m.get("body", b"") for m in sent[1:]) == b"done"
    assert caplog.records == []


def test_a_websocket_client_gone_before_a_slow_accept_ends_the_handler() -> None:
    # The handshake watch's timer runs in a context of its own (call_later's
    # context=), which uvloop takes too.
    app = Microframework(__name__)
    ended: list[str] = []

    @app.websocket("/ws")
    async def slow() -> None:
        try:
            await asyncio.Event().wait()  # never accepts
        finally:
            ended.append("finally")

    scope = {
        "type": "websocket",
        "path": "/ws",
        "raw_path": b"/ws",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"localhost")],
        "scheme": "ws",
        "subprotocols": [],
        "extensions": {},
    }

    async def main() -> None:
        inbox: asyncio.Queue[Message] = asyncio.Queue()
        inbox.put_nowait({"type": "websocket.connect"})
        inbox.put_nowait({"type": "websocket.disconnect", "code": 1006})

        async def send(message: Message) -> None:
            raise AssertionError(f"nothing is sent to a client that left: {message}")

        await asyncio.wait_for(app(scope, inbox.get, send), 5)

    _on_uvloop(main)
    assert ended == ["finally"]
