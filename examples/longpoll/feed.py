"""A notification feed: publish with a POST, read by long-polling or as server-sent events.

Run it from the repository root with
``hypercorn --bind 127.0.0.1:8000 examples/longpoll/feed:app``. Rule: public API only;
the broker keeps a bounded history and forgets a waiting client the moment it leaves.

- ``POST /notify`` with ``{"message": "..."}`` publishes an event: ``201 {"id": n}``.
- ``GET /poll?after=<id>`` answers the events newer than ``after`` at once if there are
  any, else waits up to ``POLL_TIMEOUT`` seconds for one; ``204`` if none came.
- ``GET /events`` is an SSE feed of the same events, resuming after ``Last-Event-ID``.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from microframework import current_app
from microframework import Microframework
from microframework import request
from microframework.sse import event_stream
from microframework.sse import last_event_id
from microframework.sse import ServerSentEvent


@dataclass(frozen=True)
class Notification:
    """One published event."""

    id: int
    message: str

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "message": self.message}


class Broker:
    """Published events (the last ``history`` of them) and the clients waiting for more."""

    def __init__(self, history: int = 1000) -> None:
        self._events: deque[Notification] = deque(maxlen=history)
        self._last_id = 0
        self._waiters: set[asyncio.Future[None]] = set()

    @property
    def waiting(self) -> int:
        """How many clients are waiting for the next event right now."""
        return len(self._waiters)

    def publish(self, message: str) -> Notification:
        """Store an event and wake every waiting client."""
        self._last_id += 1
        event = Notification(self._last_id, message)
        self._events.append(event)
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
        return event

    def after(self, after_id: int) -> list[Notification]:
        """The stored events newer than *after_id*, oldest first."""
        return [event for event in self._events if event.id > after_id]

    async def next_after(self, after_id: int) -> list[Notification]:
        """Events newer than *after_id*, waiting for one if there are none yet."""
        while not (events := self.after(after_id)):
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.add(waiter)
            try:
                await waiter
            finally:
                # Also on cancellation (timeout, client gone): nothing keeps it.
                self._waiters.discard(waiter)
        return events

    async def subscribe(self, after_id: int) -> AsyncIterator[Notification]:
        """Every event newer than *after_id*, then each new one as it comes."""
        while True:
            for event in await self.next_after(after_id):
                after_id = event.id
                yield event


def create_app() -> Microframework:
    """The feed app, with its own broker in ``app.extensions["broker"]``."""
    app = Microframework(__name__)
    app.config["POLL_TIMEOUT"] = 25.0
    app.config["SSE_KEEP_ALIVE"] = 15.0
    app.extensions["broker"] = Broker()

    @app.post("/notify")
    async def notify() -> tuple[dict[str, Any], int]:
        data = await request.get_json(silent=True)
        message = data.get("message") if isinstance(data, dict) else None
        if not isinstance(message, str) or not message:
            return {"error": "send JSON with a non-empty string 'message'"}, 400
        event = broker().publish(message)
        return {"id": event.id}, 201

    @app.get("/poll")
    async def poll() -> Any:
        after = _event_id(request.args.get("after", "0"))
        if after is None:
            return {"error": "'after' must be a non-negative integer"}, 400
        try:
            async with asyncio.timeout(current_app.config["POLL_TIMEOUT"]):
                events = await broker().next_after(after)
        except TimeoutError:
            return "", 204
        return {"events": [event.as_json() for event in events]}

    @app.get("/events")
    async def events() -> Any:
        after = _event_id(last_event_id() or request.args.get("after", "0"))
        if after is None:
            return {"error": "the event id must be a non-negative integer"}, 400

        async def source() -> AsyncIterator[ServerSentEvent]:
            async for event in broker().subscribe(after):
                yield ServerSentEvent(
                    event.as_json(), event="notification", id=str(event.id)
                )

        return event_stream(source(), keep_alive=current_app.config["SSE_KEEP_ALIVE"])

    return app


def broker() -> Broker:
    """The current app's broker."""
    value: Broker = current_app.extensions["broker"]
    return value


def _event_id(value: str) -> int | None:
    if not value.isascii() or not value.isdigit():
        return None
    return int(value)


app = create_app()
