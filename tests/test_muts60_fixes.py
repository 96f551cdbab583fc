"""Finding 1 (muts60): a handler that accepts while the drain's refusal or close is
going out gets WebsocketDisconnect, as send() and receive() do, not a RuntimeError
logged as an error."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from asgi_harness import websocket_scope

from microframework import Microframework
from microframework import websocket
from microframework.exceptions import WebsocketDisconnect

LIMIT = 3


@pytest.mark.parametrize("extension", [True, False])
async def test_accepting_as_the_drains_refusal_goes_out_is_a_disconnect(
    extension: bool, caplog: pytest.LogCaptureFixture
) -> None:
    app = Microframework(__name__)
    waiting, go = asyncio.Event(), asyncio.Event()
    raised: list[BaseException] = []

    @app.websocket("/ws")
    async def ws() -> None:
        waiting.set()
        await go.wait()  # an auth lookup that answers as the drain's answer goes out
        try:
            await websocket.accept()
        except BaseException as error:
            raised.append(error)
            raise

    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    inbox.put_nowait({"type": "websocket.connect"})
    sent: list[str] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] in ("websocket.http.response.start", "websocket.close"):
            go.set()
            for _ in range(5):
                await asyncio.sleep(0)  # a socket write that takes a moment
        sent.append(message["type"])

    extensions: dict[str, Any] = {"websocket.http.response": {}} if extension else {}
    handling = asyncio.create_task(
        app(websocket_scope("/ws", extensions), inbox.get, send)
    )
    try:
        async with asyncio.timeout(LIMIT):
            await waiting.wait()
            app.drain.start(3600)
            await handling
    finally:
        app.drain.end()
        handling.cancel()
    assert len(raised) == 1 and isinstance(raised[0], WebsocketDisconnect)
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
    expected = (
        ["websocket.http.response.start", "websocket.http.response.body"]
        if extension
        else ["websocket.close"]
    )
    assert sent == expected
