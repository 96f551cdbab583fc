"""Server-sent events: the event format, keep-alive comments and ``Last-Event-ID``.

Rule: the source is never cancelled mid-step, and its steps are driven in the stream's own
task: a held event stream costs no task of its own.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterable
from collections.abc import AsyncIterator
from collections.abc import Awaitable
from collections.abc import Coroutine
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass
from functools import partial
from typing import Any
from typing import TYPE_CHECKING

from ._utils import no_context
from ._utils import resume
from .globals import _cv_app
from .json import dumps
from .wrappers.body import KEEP_ALIVE

_LINE_BREAK = re.compile(r"\r\n|\r|\n")

if TYPE_CHECKING:
    from .wrappers.response import Response


@dataclass
class ServerSentEvent:
    """One event: ``data`` (str; dicts and lists are sent as JSON), and optional fields."""

    data: Any = ""
    event: str | None = None
    id: str | int | None = None  # an int as Quart's guide's event class takes
    retry: int | None = None

    def __post_init__(self) -> None:
        # Here, in the source's own line, not once the stream is under way.
        for field in ("id", "event"):
            if (value := getattr(self, field)) is not None:
                _one_line(value, field)
        if self.retry is not None:
            _milliseconds(self.retry)

    def encode(self) -> bytes:
        """The event in the ``text/event-stream`` wire format."""
        lines = []
        if self.id is not None:
            lines.append(f"id: {_one_line(self.id, 'id')}")
        if self.event is not None:
            lines.append(f"event: {_one_line(self.event, 'event')}")
        if self.retry is not None:
            lines.append(f"retry: {_milliseconds(self.retry)}")
        data = self.data
        if not isinstance(data, str):
            if isinstance(data, Mapping) and not isinstance(data, dict):
                data = dict(data)  # as its type says: any mapping is sent as JSON
            data = dumps(data)  # the app's provider, or the stdlib outside an app
        # Only CR, LF and CRLF end lines (str.splitlines also splits on \f and more).
        lines.extend(f"data: {line}" for line in _LINE_BREAK.split(data))
        return ("\n".join(lines) + "\n\n").encode()


def _one_line(value: str | int, field: str) -> str:
    value = str(value)
    if "\n" in value or "\r" in value or "\0" in value:
        raise ValueError(f"the SSE {field} field must be a single line")
    return value


def _milliseconds(value: int | str) -> int:
    # The field is digits only: anything else (a sign, a fraction) EventSource ignores.
    with suppress(OverflowError):  # infinity (a str of digits is taken)
        if (ms := int(value)) >= 0 and (value.__class__ is str or ms == value):
            return ms
    raise ValueError(f"the SSE retry field must be whole and 0 or more, not {value!r}")


def is_event_generator(chunks: object) -> bool:
    """True for the body generator :func:`event_stream` makes (its keep-alives may
    take a cancel thrown in for the source: see ``_guard.stream_body``)."""
    return getattr(chunks, "ag_code", None) is _encode_events.__code__


def last_event_id() -> str | None:
    """The ``Last-Event-ID`` a reconnecting client sent, to resume after it."""
    ctx = _cv_app.get(None)
    if ctx is None or ctx.request is None:
        raise RuntimeError("last_event_id needs an active request")
    return ctx.request.headers.get("Last-Event-ID")


def event_stream(
    source: AsyncIterable[ServerSentEvent | str | Mapping[str, Any]],
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
    if not hasattr(source, "__aiter__"):  # now, not once the 200 has gone out
        raise TypeError(
            f"event_stream takes an async iterable, not {type(source).__name__}"
        )
    if keep_alive is not None and not (keep_alive := float(keep_alive)) > 0:
        raise ValueError(
            f"keep_alive must be seconds above 0 or None, not {keep_alive}"
        )
    if retry is not None:
        retry = _milliseconds(retry)  # now too, not once the 200 has gone out
    response = ctx.app.response_class(
        _encode_events(source, keep_alive, retry), mimetype="text/event-stream"
    )
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"  # nginx-style proxies: don't buffer
    response.timeout = None if keep_alive is None else keep_alive * 4
    return response


async def _encode_events(
    source: AsyncIterable[ServerSentEvent | str | Mapping[str, Any]],
    keep_alive: float | None,
    retry: int | None,
) -> AsyncIterator[bytes]:
    if retry is not None:
        yield f"retry: {int(retry)}\n\n".encode()
    iterator = source.__aiter__()
    loop = asyncio.get_running_loop()
    every = keep_alive or 0.0
    # Steps are driven by hand; ``waiting`` is the one we are suspended beside.
    waiting: Coroutine[Any, Any, Any] | None = None
    waited: Any = None
    try:
        while (step := _next_step(iterator)) is not None:
            # One deadline per quiet spell: a source polling in short awaits is
            # quiet all the same, and must get its comments (not be cut as idle).
            quiet_until = loop.time() + every
            item: Any = None
            try:
                waited = step.send(None)
                while True:
                    if keep_alive is None or not (
                        waited is None or asyncio.isfuture(waited)
                    ):
                        item = await resume(step, waited)
                        break
                    if waited is not None and waited.done():
                        waited = step.send(None)
                        continue
                    waiting = step  # paused at its await: a comment, then a loop turn
                    try:  # a bare yield is one loop turn, as in a task
                        if loop.time() >= quiet_until:
                            quiet_until = loop.time() + every
                            yield KEEP_ALIVE  # a cancel during its send comes in here
                        await (
                            asyncio.sleep(0)
                            if waited is None
                            else _within(waited, quiet_until - loop.time())
                        )
                    except asyncio.CancelledError as cancel:
                        # As in a task: at the source's await (the client left, or
                        # the source's own asyncio.timeout)
                        waiting = None  # first: the throw may end the step
                        waited = _thrown(step, waited, cancel)
                        continue
                    waiting = None
                    if waited is None:
                        waited = step.send(None)
            except StopIteration as finished:
                item = finished.value
            except StopAsyncIteration:
                return
            if not isinstance(item, ServerSentEvent):
                item = ServerSentEvent(item)
            yield item.encode()
    finally:
        await _close(iterator, waiting, waited)


async def _close(
    iterator: AsyncIterator[Any], waiting: Coroutine[Any, Any, Any] | None, waited: Any
) -> None:
    """End the step we were suspended beside, if any, then close the source."""
    try:
        if waiting is not None:
            await _end(waiting, waited)
    finally:
        aclose = getattr(iterator, "aclose", None)
        if aclose is not None:
            await aclose()


def _next_step(iterator: AsyncIterator[Any]) -> Coroutine[Any, Any, Any] | None:
    """The source's next step as a coroutine to drive; None once it has ended."""
    try:
        pending = iterator.__anext__()
    except StopAsyncIteration:  # a plain def __anext__ may raise it itself
        return None
    if hasattr(pending, "send"):
        return pending  # type: ignore[return-value] # an async generator's asend
    return _awaited(pending)


def _thrown(
    step: Coroutine[Any, Any, Any], waited: Any, cancel: asyncio.CancelledError
) -> Any:
    """Deliver *cancel* at the step's await as a task would: through the future it
    waits on (heard when the step resumes), else thrown in; what it waits on next."""
    if asyncio.isfuture(waited) and waited.cancel(*cancel.args[:1]):
        return waited
    return step.throw(asyncio.CancelledError(*cancel.args))


async def _within(future: asyncio.Future[Any], timeout: float) -> None:
    """Wait until *future* is done or *timeout* passes, never cancelling it.

    ``asyncio.wait`` would do, at three times the memory per held stream.
    """
    loop = future.get_loop()
    woken = loop.create_future()
    wake = partial(_wake, woken)
    timer = loop.call_later(timeout, wake, context=no_context())
    future.add_done_callback(wake)
    try:
        await woken
    finally:
        timer.cancel()
        future.remove_done_callback(wake)


def _wake(woken: asyncio.Future[None], _done: object = None) -> None:
    if not woken.done():
        woken.set_result(None)


async def _awaited(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


async def _end(step: Coroutine[Any, Any, Any], waited: Any) -> None:
    """End a waiting step as a task's cancel would: cancel what it awaits, let that
    end (a gather's children are cancelled first), then throw into the step."""
    try:
        if asyncio.isfuture(waited) and waited.cancel():
            await asyncio.wait({waited})
            if not waited.cancelled():  # a gather's: retrieved, as a task's wake does
                waited.exception()
    finally:
        await _cancel(step)


async def _cancel(step: Coroutine[Any, Any, Any]) -> None:
    """End a waiting step of the source, as cancelling its task would."""
    try:
        waited = step.throw(asyncio.CancelledError())
    except (asyncio.CancelledError, StopIteration, StopAsyncIteration):
        return
    with suppress(asyncio.CancelledError, StopAsyncIteration):
        await resume(step, waited)  # its clean-up awaits: let it finish
