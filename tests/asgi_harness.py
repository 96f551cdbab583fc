"""A tiny raw ASGI harness: scope builder, scripted receive, recording send.

Used where a test must assert the ASGI messages themselves rather than what the test
client makes of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import Iterator
from typing import Any


def http_scope(
    path: str = "/",
    method: str = "GET",
    headers: list[tuple[bytes, bytes]] | None = None,
    query_string: bytes = b"",
    **extra: Any,
) -> dict[str, Any]:
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query_string,
        "root_path": "",
        "headers": [(b"host", b"localhost")] + list(headers or []),
        "client": ("127.0.0.1", 50000),
        "server": ("localhost", 80),
        "extensions": {},
    }
    scope.update(extra)
    return scope


def websocket_scope(
    path: str = "/ws", extensions: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "type": "websocket",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "scheme": "ws",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"localhost")],
        "client": ("127.0.0.1", 50000),
        "server": ("localhost", 80),
        "subprotocols": [],
        "extensions": {} if extensions is None else extensions,
    }


class Recorder:
    """Records sent messages and scripts receive() from a queue."""

    def __init__(self, *bodies: bytes, more_last: bool = False) -> None:
        self.sent: list[dict[str, Any]] = []
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.response_started = asyncio.Event()
        self.body_sent = asyncio.Event()
        self.receiving = asyncio.Event()
        chunks = list(bodies) or [b""]
        for index, chunk in enumerate(chunks):
            last = index == len(chunks) - 1
            self.inbox.put_nowait(
                {
                    "type": "http.request",
                    "body": chunk,
                    "more_body": more_last or not last,
                }
            )

    async def receive(self) -> dict[str, Any]:
        self.receiving.set()
        return await self.inbox.get()

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)
        if message["type"] == "http.response.start":
            self.response_started.set()
        elif message["type"] == "http.response.body":
            self.body_sent.set()

    def disconnect(self) -> None:
        self.inbox.put_nowait({"type": "http.disconnect"})

    @property
    def status(self) -> int:
        return int(self.sent[0]["status"])

    @property
    def headers(self) -> dict[bytes, bytes]:
        return dict(self.sent[0]["headers"])

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.sent[1:])


async def call(
    app: Any, scope: dict[str, Any], recorder: Recorder | None = None
) -> Recorder:
    recorder = recorder or Recorder()
    await app(scope, recorder.receive, recorder.send)
    return recorder


@contextlib.contextmanager
def cycles_made() -> Iterator[list[str]]:
    """Yield a list that, after the block, names the types left in reference cycles.

    Garbage from before the block is kept alive meanwhile, so it is not counted: a module
    an earlier test imported and dropped leaves cycles that never go (h11's sentinels are
    their own metaclass).
    """
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    made: list[str] = []
    older: list[object] = []
    try:
        gc.collect()
        older.extend(gc.garbage)
        gc.garbage.clear()
        yield made
        gc.collect()
        made.extend(type(o).__name__ for o in gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        older.clear()
