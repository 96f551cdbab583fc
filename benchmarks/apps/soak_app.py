"""The soak app: microframework serving every kind of traffic ``soak.py`` sends.

The rule: each route is written the way the docs show (no benchmark tricks), so a leak
or a stuck task found here is one a user would hit. ``/_stats`` reports what the soak
watches: the process's RSS, the number of asyncio tasks, live GC-tracked objects, and
the app's own holders (chat members, waiting polls), so a climb can be told apart from
a backlog.
"""

from __future__ import annotations

import asyncio
import gc
import os
import resource
from collections.abc import AsyncIterator
from importlib.metadata import version as _dist_version
from typing import Any

from microframework import Microframework
from microframework import request
from microframework import websocket
from microframework.exceptions import WebsocketDisconnect
from microframework.sse import event_stream
from microframework.sse import ServerSentEvent

#: A chat member further behind than this is dropped from the room (docs/websockets.md).
CHAT_QUEUE_SIZE = 256
STREAM_CHUNK = b"x" * 1023 + b"\n"


class Room:
    """One chat room: a bounded queue per member; publishing never waits."""

    def __init__(self) -> None:
        self.members: set[asyncio.Queue[str]] = set()
        self.dropped = 0

    def publish(self, message: str) -> None:
        for queue in list(self.members):
            try:
                queue.put_nowait(message)
            except asyncio.QueueFull:
                self.members.discard(queue)
                self.dropped += 1


class Broker:
    """Long-poll versions: a poll waits until the version passes the one it has seen."""

    def __init__(self) -> None:
        self.version = 0
        self.waiters: set[asyncio.Future[None]] = set()

    def publish(self) -> int:
        self.version += 1
        for waiter in self.waiters:
            if not waiter.done():
                waiter.set_result(None)
        return self.version

    async def wait_after(self, seen: int) -> int:
        while self.version <= seen:
            waiter = asyncio.get_running_loop().create_future()
            self.waiters.add(waiter)
            try:
                await waiter
            finally:
                self.waiters.discard(waiter)  # also when the client leaves
        return self.version


def rss_bytes() -> int:
    """The resident set size now (Linux), or the peak where /proc is missing."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _add_http(app: Microframework, broker: Broker) -> None:
    @app.get("/")
    async def index() -> str:
        return "ok"

    @app.post("/json")
    async def echo() -> Any:
        return await request.get_json()

    @app.post("/upload")
    async def upload() -> Any:
        files = await request.files
        form = await request.form
        return {
            "files": {name: len(f.read()) for name, f in files.items()},
            "fields": form.to_dict(),
        }

    @app.get("/stream")
    async def stream() -> Any:
        chunks = request.args.get("chunks", 50, type=int)

        async def body() -> AsyncIterator[bytes]:
            for _ in range(chunks):
                yield STREAM_CHUNK
                await asyncio.sleep(0.005)

        return body()

    @app.get("/events")
    async def events() -> Any:
        count = request.args.get("n", 20, type=int)

        async def source() -> AsyncIterator[ServerSentEvent]:
            for index in range(count):
                yield ServerSentEvent({"i": index}, event="tick", id=str(index))
                await asyncio.sleep(0.005)

        return event_stream(source(), keep_alive=5)

    @app.get("/poll", response_timeout=None)
    async def poll() -> Any:
        seen = request.args.get("after", 0, type=int)
        limit = request.args.get("timeout", 1.0, type=float)
        try:
            async with asyncio.timeout(limit):
                version = await broker.wait_after(seen)
        except TimeoutError:
            return "", 204
        return {"version": version}

    @app.post("/publish")
    async def publish() -> Any:
        return {"version": broker.publish()}


def create_app() -> Microframework:
    """Build the soak app."""
    app = Microframework(__name__)
    room = Room()
    broker = Broker()
    _add_http(app, broker)

    @app.websocket("/chat")
    async def chat() -> None:
        name = websocket.args.get("name", "anonymous")
        queue: asyncio.Queue[str] = asyncio.Queue(CHAT_QUEUE_SIZE)
        room.members.add(queue)  # subscribe before accepting
        await websocket.accept()

        async def forward() -> None:
            try:
                while True:
                    await websocket.send(await queue.get())
            except WebsocketDisconnect:
                pass  # the client left mid-send; the handler's loop ends too

        sender = asyncio.create_task(forward())
        try:
            async for message in websocket:
                room.publish(f"{name}: {message}")
        finally:
            room.members.discard(queue)
            sender.cancel()
            await asyncio.wait({sender})  # nothing outlives the handler

    @app.get("/_stats")
    async def stats() -> Any:
        return {
            "rss": rss_bytes(),
            "tasks": len(asyncio.all_tasks()),
            "objects": len(gc.get_objects()),
            "chat_members": len(room.members),
            "chat_dropped": room.dropped,
            "pollers": len(broker.waiters),
        }

    return app


def version() -> str:
    """Installed microframework version."""
    return _dist_version("microframework")
