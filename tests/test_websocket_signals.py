"""Quart's websocket message signals."""

from __future__ import annotations

from typing import Any

from microframework import Microframework
from microframework import websocket
from microframework import websocket_received
from microframework import websocket_sent


async def test_received_and_sent_messages_are_signalled(app: Microframework) -> None:
    @app.websocket("/ws")
    async def echo() -> None:
        await websocket.send(await websocket.receive())

    seen: list[tuple[str, Any]] = []

    def on_received(data: Any) -> None:
        seen.append(("received", data))

    async def on_sent(data: Any) -> None:
        seen.append(("sent", data))

    with (
        websocket_received.connected_to(on_received),
        websocket_sent.connected_to(on_sent),
    ):
        async with app.test_client().websocket("/ws") as ws:
            await ws.send("hi")
            assert await ws.receive() == "hi"
    assert seen == [("received", "hi"), ("sent", "hi")]
