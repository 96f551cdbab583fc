"""The broadcast benchmark's app: every websocket subscribes to one channel.

The rule: the least an app can do with ``microframework.broadcast``. A websocket
subscribes to ``bench`` before it accepts, forwards each event's data as it is, and
publishes every text message it receives. ``BROADCAST_URL`` picks the backend and
``BENCH_QUEUE_SIZE`` the subscriber queue (large: the burst must not overflow it).
"""

from __future__ import annotations

import asyncio
import os

from microframework import Microframework
from microframework import websocket
from microframework.broadcast import Broadcast
from microframework.broadcast import Subscriber
from microframework.exceptions import WebsocketDisconnect

CHANNEL = "bench"

app = Microframework(__name__)
app.config["BROADCAST_URL"] = os.environ.get("BROADCAST_URL", "memory://")
broadcast = Broadcast(
    app=app, queue_size=int(os.environ.get("BENCH_QUEUE_SIZE", "10000"))
)


@app.websocket("/ws")
async def subscriber() -> None:
    async with broadcast.subscribe(CHANNEL) as events:
        await websocket.accept(headers={"X-Worker": str(os.getpid())})
        forward = asyncio.create_task(_forward(events))
        try:
            async for message in websocket:
                if isinstance(message, str):
                    await broadcast.publish(CHANNEL, message)
        finally:
            forward.cancel()
            await asyncio.wait({forward})


async def _forward(events: Subscriber) -> None:
    try:
        async for event in events:
            await websocket.send(event.data)
    except WebsocketDisconnect:
        pass
