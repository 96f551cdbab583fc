"""In-process ASGI driver: scope templates, scripted receive, counting send, lifespan.

The rule: every framework pays exactly the same harness cost per request, namely one
``dict(template)`` copy, one exchange object, its bound ``receive``/``send``, and one
fresh message dict per ``receive`` call. Nothing here knows which framework it drives.

``receive`` behaves like a real server: the first call returns the whole body in one
``http.request`` message; any later call *waits until the response is complete* and
only then returns ``http.disconnect``. Returning the disconnect immediately would be
wrong: a framework that watches for disconnects (Quart does) would cancel its own
handler as soon as the view awaits anything, and look fast while serving nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import time
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import MutableMapping
from dataclasses import dataclass
from dataclasses import field
from typing import Any

Message = MutableMapping[str, Any]
Scope = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Only the verification request and lifespan are guarded by a timeout; a timed round
#: runs apps that have just passed verification, so it stays free of timers.
CHECK_TIMEOUT = 10.0


def make_scope_template(
    method: str,
    path: str,
    *,
    body: bytes = b"",
    content_type: bytes | None = None,
    state: dict[str, Any] | None = None,
) -> Scope:
    """Build an HTTP/1.1 scope like hypercorn's, copied per request with ``dict()``.

    ``state`` (from lifespan) is shared, not re-copied per request: the copy is the
    server's cost, not the framework's, and no benchmark view writes to it.
    """
    headers = [
        (b"host", b"127.0.0.1:8000"),
        (b"user-agent", b"microframework-bench/1"),
        (b"accept", b"*/*"),
    ]
    if body:
        headers.append((b"content-length", str(len(body)).encode()))
    if content_type is not None:
        headers.append((b"content-type", content_type))
    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.1"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 54321),
        "server": ("127.0.0.1", 8000),
        "extensions": {},
    }
    if state is not None:
        scope["state"] = state
    return scope


class Tally:
    """What the timed send keeps: how many starts had another status than ``status``
    (the case's expected one, 200 unless told) and how many body bytes went out; and,
    once the round is over, how many objects the cyclic GC freed for it."""

    __slots__ = ("bad_status", "body_bytes", "cyclic", "status")

    def __init__(self, status: int = 200) -> None:
        self.bad_status = 0
        self.body_bytes = 0
        self.cyclic = 0
        self.status = status


def gc_collected() -> int:
    """Objects the cyclic garbage collector has freed so far, all generations."""
    return sum(generation["collected"] for generation in gc.get_stats())


async def count_cyclic(before: int) -> int:
    """Objects freed by the cyclic GC since *before*, once leftovers have run."""
    await settle()
    gc.collect()
    return gc_collected() - before


class _Exchange:
    __slots__ = ("_body", "_body_sent", "_complete", "_waiter")

    def __init__(self, body: bytes) -> None:
        self._body = body
        self._body_sent = False
        self._complete = False
        self._waiter: asyncio.Future[None] | None = None

    async def receive(self) -> Message:
        if not self._body_sent:
            self._body_sent = True
            return {"type": "http.request", "body": self._body, "more_body": False}
        if not self._complete:
            # A real client stays connected until its response has arrived.
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter
        return {"type": "http.disconnect"}

    def _finish(self) -> None:
        self._complete = True
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


class _TimedExchange(_Exchange):
    __slots__ = ("_tally",)

    def __init__(self, body: bytes, tally: Tally) -> None:
        super().__init__(body)
        self._tally = tally

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.body":
            self._tally.body_bytes += len(message.get("body", b""))
            if not message.get("more_body", False):
                self._finish()
        elif kind == "http.response.start" and message["status"] != self._tally.status:
            self._tally.bad_status += 1


@dataclass
class RecordedResponse:
    """Everything one verification request sent, for checking an app's output."""

    messages: list[Message] = field(default_factory=list)

    @property
    def status(self) -> int | None:
        starts = [m for m in self.messages if m["type"] == "http.response.start"]
        return int(starts[0]["status"]) if len(starts) == 1 else None

    @property
    def content_type(self) -> str:
        return self.header("content-type") or ""

    def header(self, wanted: str) -> str | None:
        """The first value of response header *wanted* (any case), or None."""
        key = wanted.lower().encode("latin-1")
        for m in self.messages:
            if m["type"] == "http.response.start":
                for name, value in m.get("headers", []):
                    if bytes(name).lower() == key:
                        return bytes(value).decode("latin-1")
        return None

    @property
    def body(self) -> bytes:
        return b"".join(
            m.get("body", b"")
            for m in self.messages
            if m["type"] == "http.response.body"
        )

    def protocol_errors(self) -> list[str]:
        """ASGI sequencing problems: start count, body before start, unfinished body."""
        errors = []
        kinds = [m["type"] for m in self.messages]
        if kinds.count("http.response.start") != 1:
            errors.append(f"expected one http.response.start, got {kinds}")
        elif kinds[0] != "http.response.start":
            errors.append(f"body sent before start: {kinds}")
        bodies = [m for m in self.messages if m["type"] == "http.response.body"]
        if not bodies or bodies[-1].get("more_body", False):
            errors.append("response body never finished (no more_body=False)")
        elif self.messages[-1] is not bodies[-1]:
            errors.append(f"messages after the final body: {kinds}")
        return errors


class _RecordingExchange(_Exchange):
    __slots__ = ("_record",)

    def __init__(self, body: bytes, record: RecordedResponse) -> None:
        super().__init__(body)
        self._record = record

    async def send(self, message: Message) -> None:
        self._record.messages.append(dict(message))
        if message["type"] == "http.response.body" and not message.get(
            "more_body", False
        ):
            self._finish()


async def request_once(app: ASGIApp, template: Scope, body: bytes) -> RecordedResponse:
    """Run one request and record every message the app sends."""
    record = RecordedResponse()
    exchange = _RecordingExchange(body, record)
    async with asyncio.timeout(CHECK_TIMEOUT):
        await app(dict(template), exchange.receive, exchange.send)
    return record


async def settle() -> None:
    """Run callbacks a framework left behind (cancelled tasks) before the next timer.

    Without this, one framework's clean-up would run on the next framework's clock.
    """
    for _ in range(3):
        await asyncio.sleep(0)


async def timed_round(
    app: ASGIApp,
    template: Scope,
    body: bytes,
    requests: int,
    *,
    disable_gc: bool,
    status: int = 200,
    yield_every: int = 64,
) -> tuple[float, Tally]:
    """Run ``requests`` sequential requests; return elapsed seconds and the tally.

    The garbage collector is always emptied before the round so it starts from the same
    state for every framework. It stays enabled during the round unless ``disable_gc``:
    the reference cycles a framework creates per request are part of its cost. After
    the clock stops, ``tally.cyclic`` counts the objects only the cyclic GC could free
    (garbage in reference cycles), which reference counting would have freed at once.
    """
    tally = Tally(status)
    await settle()
    gc.collect()
    collected = gc_collected()
    if disable_gc:
        gc.disable()
    try:
        start = time.perf_counter()
        for index in range(requests):
            exchange = _TimedExchange(body, tally)
            await app(dict(template), exchange.receive, exchange.send)
            if index % yield_every == yield_every - 1:
                # A server's loop runs between requests; let it purge cancelled
                # timers as it would, or frameworks that arm one (BODY_TIMEOUT,
                # Quart's timeouts) pay for an ever-growing timer heap.
                await asyncio.sleep(0)
        elapsed = time.perf_counter() - start
    finally:
        if disable_gc:
            gc.enable()
    tally.cyclic = await count_cyclic(collected)
    return elapsed, tally


class LifespanError(RuntimeError):
    """The app answered lifespan startup or shutdown with ``*.failed``."""


class Lifespan:
    """Drive the ASGI lifespan protocol for one app, as a server would.

    An app that raises or returns before answering ``lifespan.startup`` is treated as
    not supporting lifespan (the ASGI spec's rule) and is run without it.
    """

    def __init__(self, app: ASGIApp) -> None:
        self._app = app
        self._to_app: asyncio.Queue[Message] = asyncio.Queue()
        self._from_app: asyncio.Queue[Message] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.state: dict[str, Any] = {}
        self.supported = False
        self.note = ""

    async def startup(self) -> None:
        """Send ``lifespan.startup`` and wait for the app's answer."""
        scope: Scope = {
            "type": "lifespan",
            "asgi": {"version": "3.0", "spec_version": "2.0"},
            "state": self.state,
        }

        async def serve() -> None:
            await self._app(scope, self._to_app.get, self._from_app.put)

        task = asyncio.create_task(serve())
        self._task = task
        reply = await self._exchange(task, {"type": "lifespan.startup"})
        if reply is None:
            self.note = _ended_note(task)
            return
        if reply["type"] != "lifespan.startup.complete":
            raise LifespanError(
                f"startup answered {reply['type']}: {reply.get('message', '')}"
            )
        self.supported = True

    async def shutdown(self) -> None:
        """Send ``lifespan.shutdown``, wait for the answer and for the app to return."""
        task = self._task
        if task is None:
            return
        if self.supported:
            reply = await self._exchange(task, {"type": "lifespan.shutdown"})
            if reply is not None and reply["type"] != "lifespan.shutdown.complete":
                raise LifespanError(
                    f"shutdown answered {reply['type']}: {reply.get('message', '')}"
                )
        if not task.done():
            async with asyncio.timeout(CHECK_TIMEOUT):
                await task

    async def _exchange(
        self, task: asyncio.Task[None], message: Message
    ) -> Message | None:
        """Send one message; return the app's reply, or None if the app ended first."""
        await self._to_app.put(message)
        getter = asyncio.ensure_future(self._from_app.get())
        try:
            async with asyncio.timeout(CHECK_TIMEOUT):
                await asyncio.wait({getter, task}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            answered = getter.done()
            if not answered:
                getter.cancel()
        return getter.result() if answered else None


def _ended_note(task: asyncio.Task[None]) -> str:
    error = task.exception()
    if error is None:
        return "lifespan: app returned without answering; running without lifespan"
    return f"lifespan unsupported ({type(error).__name__}: {error}); running without it"


def names_arg(choices: Iterable[str]) -> Callable[[str], list[str]]:
    """An argparse ``type``: a comma-separated list of *choices*, in order, no repeats."""
    allowed = list(choices)

    def parse(text: str) -> list[str]:
        names = [name.strip() for name in text.split(",") if name.strip()]
        unknown = [name for name in names if name not in allowed]
        if unknown or not names:
            raise argparse.ArgumentTypeError(
                f"unknown or empty {unknown or text!r}; choose from {','.join(allowed)}"
            )
        return list(dict.fromkeys(names))

    return parse
