"""A notification feed: publish with a POST, read by long-polling or as server-sent events.

Run it from the repository root with
``hypercorn --bind 127.0.0.1:8000 examples/longpoll/feed:app``; with several workers,
share one Redis: ``BROADCAST_URL=redis://127.0.0.1:6379/0 hypercorn --workers 4 ...``.
Rule: public API only; the events live in ``microframework.broadcast``, so a client
may ask any worker for what came after the last id it saw, and a client that leaves
is forgotten at once.

- ``POST /notify`` with ``{"message": "..."}`` publishes an event: ``201 {"id": "<id>"}``
  (a body over 16 KiB is a ``413``).
- ``GET /poll?after=<id>`` answers the events after ``after`` at once if there are
  any, else waits up to ``POLL_TIMEOUT`` seconds for one; ``204`` if none came.
  Without ``after`` it waits for the next event; ``after=0`` asks for all retained.
- ``GET /events`` is an SSE feed of the same events, resuming after ``Last-Event-ID``.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from typing import Any

from microframework import current_app
from microframework import Microframework
from microframework import request
from microframework.broadcast import Broadcast
from microframework.broadcast import BroadcastError
from microframework.broadcast import Event
from microframework.broadcast import parse_event_id
from microframework.sse import event_stream
from microframework.sse import last_event_id
from microframework.sse import ServerSentEvent

CHANNEL = "notifications"


def create_app(broadcast_url: str | None = None) -> Microframework:
    """The feed app; the URL is *broadcast_url*, else ``$BROADCAST_URL``, else memory."""
    app = Microframework(__name__)
    app.config["POLL_TIMEOUT"] = 25.0
    # Anyone may publish, and every event is kept (1000 of them, in Redis with several
    # workers) and sent to every reader: a notification has no business being large.
    app.config["MAX_CONTENT_LENGTH"] = 16 * 1024
    app.config["SSE_KEEP_ALIVE"] = 15.0
    app.config["BROADCAST_URL"] = broadcast_url or os.environ.get(
        "BROADCAST_URL", "memory://"
    )
    Broadcast(app=app)

    @app.errorhandler(BroadcastError)
    async def broadcast_unavailable(error: BroadcastError) -> Any:
        # Redis is gone (docs/scaling-out.md): a 503 tells pollers to come back later.
        app.logger.warning("broadcast unavailable: %s", error)
        body = {"error": "the feed is unavailable; try again shortly"}
        return body, 503, {"Retry-After": "5"}

    @app.post("/notify")
    async def notify() -> tuple[dict[str, Any], int]:
        data = await request.get_json(silent=True)
        message = data.get("message") if isinstance(data, dict) else None
        if not isinstance(message, str) or not message:
            return {"error": "send JSON with a non-empty string 'message'"}, 400
        return {"id": await broadcast().publish(CHANNEL, message)}, 201

    @app.get("/poll")
    async def poll() -> Any:
        after = request.args.get("after")
        if not _is_event_id(after):
            return {"error": "'after' must be an event id such as 1700000000000-0"}, 400
        try:
            async with broadcast().subscribe(CHANNEL, after) as subscriber:
                async with asyncio.timeout(current_app.config["POLL_TIMEOUT"]):
                    events = [await anext(subscriber)]
                events += subscriber.drain()  # and whatever else is already here
        except TimeoutError:
            return "", 204
        return {"events": [_as_json(event) for event in events]}

    @app.get("/events")
    async def events() -> Any:
        after = last_event_id() or request.args.get("after")
        if not _is_event_id(after):
            return {"error": "the event id must look like 1700000000000-0"}, 400

        async def source() -> AsyncIterator[ServerSentEvent]:
            try:
                async with broadcast().subscribe(CHANNEL, after) as subscriber:
                    async for event in subscriber:
                        yield ServerSentEvent(
                            _as_json(event), event="notification", id=event.id
                        )
            except BroadcastError:
                # Redis gone past reconnect_timeout (the broadcast logged it once), or
                # this reader fell behind: end the stream, as the 200 is sent. The
                # browser reconnects with Last-Event-ID and misses nothing retained;
                # raising would log a traceback for every open stream at once.
                return

        return event_stream(source(), keep_alive=current_app.config["SSE_KEEP_ALIVE"])

    return app


def broadcast() -> Broadcast:
    """The current app's broadcast."""
    value: Broadcast = current_app.extensions["broadcast"]
    return value


def _as_json(event: Event) -> dict[str, Any]:
    return {"id": event.id, "message": event.data}


def _is_event_id(value: str | None) -> bool:
    """Whether *value* is absent or a well-formed event id."""
    if value is not None:
        try:
            parse_event_id(value)
        except ValueError:
            return False
    return True


app = create_app()
