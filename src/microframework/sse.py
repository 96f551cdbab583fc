"""Server-sent events: the event format, keep-alive comments and ``Last-Event-ID``.

Rule: the source is never cancelled mid-step. While it is quiet, comments keep the
connection (and any proxy) from timing out; the one task that waits on the source
exists only while an event stream is being sent.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterable
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from typing import TYPE_CHECKING

from .globals import _cv_app
from .json import dumps

_LINE_BREAK = re.compile(r"\r\n|\r|\n")

if TYPE_CHECKING:
    from .wrappers.response import Response


@dataclass
class ServerSentEvent:
    """One event: ``data`` (str; dicts and lists are sent as JSON), and optional fields."""

    data: Any = ""
    event: str | None = None
    id: str | None = None
    retry: int | None = None

    def encode(self) -> bytes:
        """The event in the ``text/event-stream`` wire format."""
        lines = []
        if self.id is not None:
            lines.append(f"id: {_one_line(self.id, 'id')}")
        if self.event is not None:
            lines.append(f"event: {_one_line(self.event, 'event')}")
        if self.retry is not None:
            lines.append(f"retry: {int(self.retry)}")
        data = self.data
        if not isinstance(data, str):
            data = dumps(data)  # the app's provider, or the stdlib outside an app
        # Only CR, LF and CRLF end lines in an event stream (str.splitlines would
        # also split on form feeds and Unicode separators).
        lines.extend(f"data: {line}" for line in _LINE_BREAK.split(data))
        return ("\n".join(lines) + "\n\n").encode()


def _one_line(value: str, field: str) -> str:
    if "\n" in value or "\r" in value or "\0" in value:
        raise ValueError(f"the SSE {field} field must be a single line")
    return value


def last_event_id() -> str | None:
    """The ``Last-Event-ID`` a reconnecting client sent, to resume after it."""
    ctx = _cv_app.get(None)
    if ctx is None or ctx.request is None:
        raise RuntimeError("last_event_id needs an active request")
    return ctx.request.headers.get("Last-Event-ID")


def event_stream(
    source: AsyncIterable[ServerSentEvent | str | dict[str, Any]],
    *,
    keep_alive: float | None = 15.0,
    retry: int | None = None,
) -> Response:
    """A ``text/event-stream`` response of the events *source* yields.

    A comment goes out after *keep_alive* seconds without an event.
    """
    ctx = _cv_app.get(None)
    if ctx is None:
        raise RuntimeError("event_stream needs an application context")
    response = ctx.app.response_class(
        _encode_events(source, keep_alive, retry), mimetype="text/event-stream"
    )
    response.headers["Cache-Control"] = "no-cache"
    # Ask nginx-style proxies not to buffer.
    response.headers["X-Accel-Buffering"] = "no"
    response.timeout = None if keep_alive is None else keep_alive * 4
    return response


async def _encode_events(
    source: AsyncIterable[ServerSentEvent | str | dict[str, Any]],
    keep_alive: float | None,
    retry: int | None,
) -> AsyncIterator[bytes]:
    if retry is not None:
        yield f"retry: {int(retry)}\n\n".encode()
    iterator = source.__aiter__()
    pending: asyncio.Future[Any] | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(iterator.__anext__())
            if keep_alive is not None:
                done, _ = await asyncio.wait({pending}, timeout=keep_alive)
                if not done:
                    yield b": keep-alive\n\n"
                    continue
            try:
                item = await pending
            except StopAsyncIteration:
                return
            finally:
                pending = None
            if not isinstance(item, ServerSentEvent):
                item = ServerSentEvent(item)
            yield item.encode()
    finally:
        if pending is not None:
            pending.cancel()
            try:
                await pending
            except (asyncio.CancelledError, StopAsyncIteration):
                pass
        aclose = getattr(iterator, "aclose", None)
        if aclose is not None:
            await aclose()
