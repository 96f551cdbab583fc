"""An app that holds long-polls, event streams and websockets open, for drain tests.

Every handler writes a line to the file ``DRAIN_LOG`` names when its ``finally`` runs,
so a test can count them after the server process has exited. ``/held?n=N`` answers
once N handlers are waiting, so a test knows all are in place without sleeping.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from typing import Any

from microframework import Microframework
from microframework import request
from microframework import websocket
from microframework.sse import event_stream

app = Microframework(__name__)
app.config["SHUTDOWN_GRACE_PERIOD"] = float(os.environ.get("DRAIN_GRACE", "1"))
_held = 0
_changed = asyncio.Condition()


async def _hold(kind: str) -> None:
    global _held
    async with _changed:
        _held += 1
        _changed.notify_all()
    try:
        await asyncio.Event().wait()  # nothing ever sets it
    finally:
        _held -= 1
        with open(os.environ["DRAIN_LOG"], "a") as log:
            log.write(f"{kind}\n")


@app.get("/poll")
async def poll() -> str:
    await _hold("poll")
    return "never"


@app.get("/events")
async def events() -> Any:
    async def source() -> AsyncIterator[str]:
        yield "hello"
        await _hold("events")

    return event_stream(source(), keep_alive=None)


@app.websocket("/ws")
async def ws() -> None:
    await websocket.accept()
    await websocket.send("ready")
    await _hold("ws")


@app.get("/held")
async def held() -> str:
    wanted = int(request.args["n"])
    async with _changed:
        await _changed.wait_for(lambda: _held >= wanted)
    return str(_held)
