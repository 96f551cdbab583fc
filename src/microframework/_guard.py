"""``_guard.py``: the disconnect watch and the timer of a view that waits or a body that streams.

Rule: both exist only once a view has suspended or a body streams, and neither is a task
(a ``Listener`` and one ``call_later``). ``Guard.reason`` says who fired, so a cancel from
outside (a server shutting down) is never taken for ours.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from collections.abc import Awaitable
from collections.abc import Coroutine
from typing import Any
from typing import TYPE_CHECKING

from werkzeug.exceptions import ServiceUnavailable

from ._unread import DropBeforeEnd
from ._unread import Dropper
from ._unread import ending
from ._unread import expects_continue
from ._utils import first_step
from ._utils import Listener
from ._utils import no_context
from ._utils import printable
from ._utils import resume
from .exceptions import ClientDisconnected
from .exceptions import ResponseTimeout
from .globals import _cv_app
from .globals import without_context
from .routing import UNSET
from .signals import heard_after_responses
from .sse import is_event_generator
from .wrappers.body import BUFFERED
from .wrappers.body import encode_chunk
from .wrappers.body import IterableBody
from .wrappers.body import KEEP_ALIVE

if TYPE_CHECKING:
    from ._compile import Endpoint
    from ._drain import Drain
    from .app import Microframework
    from .typing import Message
    from .typing import Send
    from .wrappers.body import ResponseBody
    from .wrappers.request import Request
    from .wrappers.response import Response


async def guard_view(
    app: Microframework,
    endpoint: Endpoint,
    request: Request,
    coro: Coroutine[Any, Any, Any],
    first: Any,
) -> Any:
    """Finish a view that suspended, under the response timeout and disconnect watch."""
    guard = Guard(request, app)
    # The route's own, else the setting as it is now: it may change after startup.
    timeout = endpoint.timeout
    guard.arm(app.config.get("RESPONSE_TIMEOUT") if timeout is UNSET else timeout)
    try:
        return await resume(coro, first)
    except asyncio.CancelledError as cancel:
        if (reason := guard.claim()) is None:
            raise
        # Ours, and seen by nobody; an asyncio.TaskGroup's __aexit__ (CPython 3.11 to
        # 3.13) keeps it in a local of a frame its traceback holds: a cycle.
        cancel.__traceback__ = None
    finally:
        guard.stop(app.drain)
    # Raised outside the except block: as its __context__, the cancel's traceback
    # would hold the view's frame, which links back to its callers' on 3.12+: a
    # reference cycle per request.
    if reason == "disconnect":
        raise ClientDisconnected()
    if reason == "timeout":
        raise ResponseTimeout()
    # Past the shutdown grace period: another worker can answer.
    raise ServiceUnavailable(retry_after=1)


ENDING_GRACE = 1.0  # see Guard._fire


class Guard(Listener):
    """A re-armable timer and a disconnect watch, both cancelling one task."""

    __slots__ = (
        "task", "reason", "ends_at_drain", "unread", "_timer", "_request", "_deferred",
        "_ahead", "_feeds", "_ours", "_spared", "_app", "_again", "ending", "_grace",
        "owed", "most",
    )  # fmt: skip
    _ours: int  # set as it fires: our cancels the task carries; -1: claimed
    _spared: float | None  # likewise: when an event stream's clean-up time is up

    def __init__(
        self,
        request: Request,
        app: Microframework,
        ends_at_drain: bool = False,
        task: asyncio.Task[Any] | None = None,  # else the current one
    ) -> None:
        super().__init__()
        self._app = app
        drain = app.drain
        task = task or asyncio.current_task()
        assert task is not None
        self.task = task
        self.reason: str | None = None
        self.ends_at_drain = ends_at_drain  # an event stream: ends when the app drains
        self._timer: asyncio.TimerHandle | None = None
        self._request = request
        self._deferred: asyncio.Handle | None = None
        self._again: asyncio.TimerHandle | None = None  # see heard
        self._ahead = False  # reading the body ahead of the view
        self._feeds = False  # it is request.body_watch: a read gets messages from it
        self.unread = False  # the body wasn't all received as the watch began
        self.ending = False  # the last message is sent: a client leaving now is no news
        self._grace: asyncio.TimerHandle | None = None  # see _fire (not _timer)
        self.owed = 0  # bytes a stream's source made since the loop last turned
        self.most = BUFFERED  # what reading ahead keeps before it pauses (read_ahead)
        # Watching consumes receive(): a body being read is the reader's to receive;
        # one not yet read, the watch reads ahead (a client gone is heard after it),
        # keeping at most BUFFERED bytes for the read.
        if request.body_finished():
            self.watch()
            if request.body_untaken():
                # Its one empty message: a read that begins gets it from us (we turn
                # to reading ahead), not from a second receive() that would wait.
                request.body_watch = self
                self._feeds = True
        else:
            self.unread = True  # the response's end drops what is left unread
            request.drop_at_end()
            if request.body_reading():
                request.on_body_end = self.watch
            elif not request.body_abandoned and expects_continue(request):
                # A read would ask for it (an abandoned one did).
                request.on_body_end = self.watch
            else:
                self.read_ahead()
                self.watch()
        drain.members.add(self)
        if drain.expired or (ends_at_drain and drain.draining):
            self._fire("shutdown")

    def on_drain(self, code: int) -> None:
        if self.ends_at_drain and self.reason is None and not self.ending:
            self._fire("shutdown")  # ending: its end is on its way (the deadline cuts)

    def on_drain_deadline(self) -> None:
        # Fired already (its client left): what runs since, a source's clean-up,
        # gets the grace period too, and is cancelled again at its end.
        self._fire("shutdown")

    def watch(self) -> None:
        request = self._request
        held = request.held_receive
        if held is not None:
            request.held_receive = None
        self.listen(request.asgi_receive, held)

    def arm(self, timeout: float | None) -> None:
        if timeout is not None:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(
                timeout, self._fire, "timeout", context=no_context()
            )

    def disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _fire(self, reason: str, deferred: bool = False) -> None:
        if deferred:
            self._deferred = None
        deadline = self._request.body_deadline
        if reason == "timeout" and deadline is not None:
            # Still reading the body: its own deadline answers (408), even on a tie.
            # Once it has passed, only if a read waits now: a view holding the body's
            # iterator while it waits elsewhere gets its 504 (re-armed in the past, the
            # timer would fire on every turn of the loop).
            loop = asyncio.get_running_loop()
            now = loop.time()
            if deadline > now or self._request.body_awaited():
                when = max(deadline, now)
                self._timer = loop.call_at(
                    when, self._fire, reason, context=no_context()
                )
                return
        if self.reason is not None and self._ours < 0:
            return  # claimed: the task is ending
        if self.ending and reason == "disconnect":
            # Servers answer receive() with a disconnect as they take the last body;
            # a send wrapper's await after it (an access log) is no stream to cut. A
            # last send the server never completes (hypercorn's HTTP/2 drain of a
            # stream whose client left) is cut after a short grace.
            if self._grace is None:
                self._grace = asyncio.get_running_loop().call_later(
                    ENDING_GRACE, self._late, context=no_context()
                )
            return
        if asyncio.current_task() is self.task:
            # From inside the task a cancel could outlive the work: fire from the loop.
            if self._deferred is None:
                loop = asyncio.get_running_loop()
                self._deferred = loop.call_soon(
                    self._fire, reason, True, context=no_context()
                )
            return
        if self.reason is None:
            self.reason, self._ours, self._spared = reason, 0, None
        # Else that cancel was lost: swallowed, or by 3.11's wait_for (see docs/streaming)
        self._ours += 1
        self.task.cancel()

    def _late(self) -> None:
        self._grace = None
        self.ending = False
        self._fire("disconnect")

    def owes(self, made: int) -> bool:
        """Count *made* bytes the source made without waiting (each chunk counts 4 KiB
        more); True, starting again, once past BUFFERED: the loop is owed a turn."""
        self.owed += made + 4096
        if self.owed <= BUFFERED:
            return False
        self.owed = 0
        return True

    def gone(self) -> ClientDisconnected:
        """A send raised for a client that left: a disconnect, as if heard (its
        clean-up is cut at the deadline)."""
        if self.reason is None:
            self.reason, self._ours = "disconnect", -1
        return ClientDisconnected()

    def claim(self) -> str | None:
        """Why we cancelled the task (undoing every cancel of ours), or ``None``."""
        if self.reason is None:
            return None
        ours, self._ours = self._ours, -1  # claimed: no more cancels of ours
        left = -1
        for _ in range(ours):
            left = self.task.uncancel()
        return self.reason if left == 0 else None

    def heard(self, message: Message) -> bool:
        request = self._request
        if message["type"] == "http.request":
            if request.body_dropped():
                return True  # only a disconnect matters now
            if message.get("body") or message.get("more_body"):
                self.read_ahead()  # a body none was announced for (HTTP/2): keep it
            elif not self._ahead:
                # A bodiless request's one empty message: a read from another task
                # (a copied context) must not wait for it any more.
                request.body_taken()
                return True
            keep = request.body_heard(message, self.most)  # False: paused (till read)
            if not keep and (
                request.body_abandoned  # a read broke off: nobody can read the rest
                or (self.ends_at_drain and not request.body_reading())
            ):
                # Paused, an event stream (it may run for ever, and doesn't read the
                # body) would never hear its client leave: drop the body.
                request.drop_body(self)
                keep = True
            self._ahead = self._feeds = request.body_watch is self
            return keep
        if self._ahead:
            request.body_heard(message, self.most)  # a reader in another task hears it
        if message["type"] != "http.disconnect":
            return True  # keep listening
        if self.reason is None:
            self._fire("disconnect")
        elif self.reason == "timeout" and self._again is None:
            # Fired, and still running: a clean-up, or a lost cancel (see _fire). With
            # its client gone, it gets the grace a shutdown gives, then a cancel again
            # (a timer of its own: a stream's steps arm and disarm _timer).
            grace = self._app.config["SHUTDOWN_GRACE_PERIOD"]
            self._again = asyncio.get_running_loop().call_later(
                grace, self._fire, "disconnect", context=no_context()
            )
        return False  # else the drain or a chunk (see _for_nobody) cancel it again

    def read_ahead(self) -> None:
        if not self._ahead:
            self._ahead = self._feeds = True
            self._request.read_by_watch(self)
            if (request := self._request).scope.get("http_version") == "3":
                # hypercorn's one QUIC loop (every HTTP/3 client's) waits for room in
                # the request's queue: a pause would stop them all. Kept up to the
                # limit, as Quart reads a body ahead whole (more pauses, as before).
                limit = request.max_content_length
                self.most = BUFFERED + (limit if isinstance(limit, int) else 0)

    def failed(self) -> None:
        if self._feeds:  # a read calls receive() itself, and meets the failure
            self._ahead = self._feeds = False
            self._request.read_by_watch(None)

    def stop(self, drain: Drain, last: bool = False) -> None:
        """Stop both; a pending ``receive()`` waits for the next watch, unless this
        is the *last* watch and the body is in: then it goes back to the server now."""
        drain.members.discard(self)
        self.ending = False  # its end went: a disconnect heard later is no one's
        self.disarm()
        if self._grace is not None:
            self._grace.cancel()
            self._grace = None
        if self._deferred is not None:
            self._deferred.cancel()
            self._deferred = None  # or _closing's fire would think one still pending
        if self._again is not None:
            self._again.cancel()
            self._again = None
        if self.reason is not None and self._ours > 0:
            # Fired, never claimed: the task swallowed our cancels and went on (a view
            # answering anyway). Undone, or a later guard takes its own for a server's.
            for _ in range(min(self._ours, self.task.cancelling())):
                self.task.uncancel()
            self._ours = -1
        if self._request.on_body_end == self.watch:
            self._request.on_body_end = None
        if self._feeds:
            self._ahead = self._feeds = False
            self._request.read_by_watch(None)
        keep = not (last and self._request.body_finished())
        if self.stop_listening(keep=keep):
            self._request.held_receive = self


def idle_timeout(
    app: Microframework, endpoint: Endpoint | None, timeout: Any = ...
) -> float | None:
    """*timeout* (a response's) if set, else the route's, else the app's (None: none)."""
    if timeout is ...:
        own = UNSET if endpoint is None else endpoint.timeout  # see guard_view
        timeout = app.config.get("RESPONSE_TIMEOUT") if own is UNSET else own
    return timeout  # type: ignore[no-any-return]


class Streamer:
    """What ``Response.send`` calls to stream a body: :func:`stream_body`, bound."""

    __slots__ = ("app", "send", "request", "timeout", "events", "endpoint", "closing")

    def __init__(
        self,
        app: Microframework,
        send: Send,
        request: Request,
        response: Response | None,
        endpoint: Endpoint | None,
    ) -> None:
        self.app = app
        self.send = send
        self.request = request
        timeout = ... if response is None else response.timeout
        if timeout is ...:  # unset: see idle_timeout (inline: every stream pays a call)
            own = UNSET if endpoint is None else endpoint.timeout
            timeout = app.config.get("RESPONSE_TIMEOUT") if own is UNSET else own
        self.timeout = timeout
        self.events = response is not None and response.mimetype == "text/event-stream"
        self.endpoint = endpoint
        self.closing = response is not None and response.close_functions is not None

    def runs_after(self) -> bool:
        """Whether app code runs once the response went (teardown functions or signal
        receivers, ``call_on_close`` functions, the view's background tasks)."""
        compiled, endpoint = self.app.compiled, self.endpoint
        assert compiled is not None
        chain = compiled.app_chain if endpoint is None else endpoint.chain
        ctx = _cv_app.get(None)  # the view's tasks wait on a future (see _background)
        tasks = ctx is not None and ctx.response_sent not in (None, True)
        after = (
            chain.teardown or compiled.teardown_appcontext or heard_after_responses()
        )
        return bool(after or self.closing or tasks)

    def __call__(
        self, body: ResponseBody, start: Message | None = None
    ) -> Coroutine[Any, Any, bool]:
        self.request.response_started = True  # now or before (trailers): no early hint
        return stream_body(self, body, start)


# NO_WAIT: a server's send() need not wait (hypercorn's and uvicorn's never do once
# the client has gone), so past what a server buffers, the source gets a turn of the
# loop for every BUFFERED bytes (each chunk counting 4 KiB more) that neither its steps
# nor the sends waited for: else a source that never awaits would hold the loop, every
# other request with it, and never hear its client leave. Not a turn a chunk: hypercorn
# would send each chunk over HTTP/2 in a frame of its own (a CSV export 6x slower).


async def stream_body(
    streamer: Streamer, body: ResponseBody, start: Message | None = None
) -> bool:
    """Send *start*, then *body*'s chunks, each within its timeout; False if abandoned."""
    app, send, request = streamer.app, streamer.send, streamer.request
    timeout, events = streamer.timeout, streamer.events
    chunks, encode = body.chunks()  # first: if it fails, no guard is left behind
    std = encode is encode_chunk  # its str and bytes, inline: no call a chunk
    guard = Guard(request, app, ends_at_drain=events)
    sent = BUFFERED + 1 if request.scope.get("http_version") == "2" else 0
    reading = False
    try:
        if start is not None:  # HTTP/2: a client's window holds up even the head
            await (send(start) if not sent else _watch(send(start), guard, timeout))
            start = None  # not held while the stream runs
        while True:
            reading = True  # an OSError now is the body's, not the server's
            if not hasattr(step := chunks.__anext__(), "send"):
                step = _stepped(step)  # an app's own awaitable: a done one is seen
            try:  # a generator's or a coroutine's step
                first = step.send(None)
            except StopIteration as done:
                chunk, waited = done.value, False
            except StopAsyncIteration:
                break
            else:
                guard.arm(timeout)
                try:
                    chunk = await resume(step, first)  # type: ignore[arg-type]
                except StopAsyncIteration:
                    break
                finally:
                    guard.disarm()
                waited = True  # (set here: a step that never waits pays less)
            reading = False
            if encode is not None and not (std and (kind := chunk.__class__) is bytes):
                chunk = chunk.encode() if std and kind is str else encode(chunk)
            if chunk and not (events and _for_nobody(chunk, guard, app)):
                sent += len(chunk)
                m = {"type": _BODY, "body": chunk, "more_body": True}  # see _watch
                try:
                    if sent <= BUFFERED:  # (a chunk of a small body pays nothing more)
                        await send(m)
                    else:
                        await _watch(send(m), guard, timeout, not waited and len(chunk))
                except asyncio.CancelledError as cancel:
                    chunks = _thrown_in(chunks, cancel, chunk, guard)
            elif not waited and guard.owes(0):
                await asyncio.sleep(0)  # see NO_WAIT: nothing sent
        reading = False
        await _end(send, request, guard, timeout, sent > BUFFERED)
        return True
    except asyncio.CancelledError:
        return await _stream_cut(app, send, request, guard)
    except OSError:  # some servers' send() once the peer is gone
        if reading:
            raise
        raise guard.gone() from None
    finally:
        await _close(chunks, body, guard, app.drain)


_BODY = "http.response.body"


async def _stepped(awaitable: Awaitable[Any]) -> Any:
    # An __anext__ returning a Future (done at once when its data is at hand): as a
    # coroutine, a step that never waits shows itself (StopIteration): see NO_WAIT.
    return await awaitable


def _close(
    chunks: AsyncIterator[Any], body: ResponseBody, guard: Guard, drain: Drain
) -> Awaitable[None]:
    guard.stop(drain, last=True)  # the server's receive() back before a slow aclose
    if guard.reason is None and (
        chunks is body.source or not hasattr(chunks, "aclose")
    ):
        return body.aclose()  # the usual end (no coroutine of ours: 1.3k instructions)
    return _closing(chunks, body, guard, drain)


async def _closing(
    chunks: AsyncIterator[Any], body: ResponseBody, guard: Guard, drain: Drain
) -> None:
    if fired := guard.reason is not None:
        # A source's clean-up may run here (its client left while a send waited): it
        # is cut at the drain's deadline, as one run in a step is.
        guard._ours = 0  # claimed: the deadline may cancel again
        drain.members.add(guard)
        if drain.expired:
            guard.on_drain_deadline()
    try:
        try:  # an async generator is its own iterator: the body closes it, once
            if chunks is not body.source and hasattr(chunks, "aclose"):
                await chunks.aclose()
        finally:
            await body.aclose()
    except asyncio.CancelledError:
        if not fired or guard.claim() is None:
            raise  # not ours: a server's
    finally:
        if fired:  # a deferred cancel, or one the clean-up swallowed, is undone
            guard.stop(drain, last=True)


def _thrown_in(
    chunks: AsyncIterator[Any],
    cancel: asyncio.CancelledError,
    chunk: bytes,
    guard: Guard,
) -> _Thrown:
    """A cancel not ours during a keep-alive's send, for the event source to get at the
    await it is paused in, as in a task of its own: its own (an ``asyncio.timeout``),
    or a server's (which must still end the request). Else it is raised."""
    source = chunks.source if isinstance(chunks, _Thrown) else chunks
    if chunk is not KEEP_ALIVE or guard.reason is not None:
        raise cancel
    if not is_event_generator(source):  # behind an after_request's wrapper, say
        raise cancel
    return _Thrown(source, cancel, guard.task.cancelling())


class _Thrown(AsyncIterator[Any]):
    """An event stream's generator whose next step is *cancel*, thrown in."""

    __slots__ = ("source", "cancel", "owed")

    def __init__(self, source: Any, cancel: BaseException | None, owed: int) -> None:
        self.source = source
        self.cancel = cancel
        self.owed = owed  # the task's cancel count as it came

    def __anext__(self) -> Any:
        cancel, self.cancel = self.cancel, None
        if cancel is None:
            return self.source.__anext__()
        return self._thrown(cancel)

    async def _thrown(self, cancel: BaseException) -> Any:
        try:
            item = await self.source.athrow(cancel)
        except StopAsyncIteration:
            self._taken()
            raise
        self._taken()
        return item

    def _taken(self) -> None:
        # Its owner (asyncio.timeout, an anyio scope) uncancels the task as it takes
        # its cancel. A cancel nobody took was a server's, which the source swallowed:
        # it still ends the request, as it would a source in a task of its own.
        task = asyncio.current_task()
        if task is not None and task.cancelling() >= self.owed:
            raise asyncio.CancelledError()

    def aclose(self) -> Any:
        return self.source.aclose()


def _for_nobody(event_chunk: bytes, guard: Guard, app: Microframework) -> bool:
    # A comment (a keep-alive) while the source cleans up after its client left. The
    # first chunk since starts the clean-up's grace; one made after it shows that our
    # cancel was lost (see Guard._fire), and cancels again.
    if guard.reason != "disconnect":
        return False
    now = asyncio.get_running_loop().time()
    if guard._spared is None:
        guard._spared = now + app.config["SHUTDOWN_GRACE_PERIOD"]
    elif now >= guard._spared:
        guard._fire(guard.reason)
    return event_chunk[:1] == b":"


def stream_bytes(
    app: Microframework,
    send: Send,
    request: Request,
    endpoint: Endpoint | None,
    data: bytes,
    start: Message,
    response: object = None,
) -> Coroutine[Any, Any, bool]:
    """Send *start* and *data*, a body bigger than a server buffers, as a stream: a
    client that stops reading then has the response's timeout (``Response.timeout``,
    else the route's) to read on."""
    streamer = Streamer(app, send, request, None, endpoint)  # not an event stream
    timeout = getattr(response, "timeout", ...)  # a str or Prepared has none
    if timeout is not ...:
        streamer.timeout = timeout
    return streamer(IterableBody((data,)), start)


def _end(
    send: Send, request: Request, guard: Guard, timeout: float | None, watched: bool
) -> Awaitable[None]:
    """A stream's last message (see _watch); what is left of an unread body first."""
    guard.ending = True
    unread = guard.unread
    if send.__class__ is DropBeforeEnd:  # a view's watch or read wrapped it: its
        send, unread = send.send, True  # plain Dropper would take the disconnect
    sending = send({"type": _BODY, "body": b"", "more_body": False})
    if unread:  # (the view's watch, if any, saw the body in)
        sending = ending(sending, request, _EndDropper(guard))
    return without_context(_watch(sending, guard, timeout) if watched else sending)


class _EndDropper(Dropper):
    """Drops what is left of a body at a stream's end; the client leaving is still
    the stream's to hear (its last send may never return: see Guard._fire)."""

    __slots__ = ("guard",)

    def __init__(self, guard: Guard) -> None:
        super().__init__()
        self.guard = guard

    def heard(self, message: Message) -> bool:
        if message["type"] == "http.disconnect" and self.guard.ending:
            self.guard._fire("disconnect")
        return super().heard(message)


async def _watch(
    sending: Awaitable[Any], guard: Guard, timeout: float | None, made: int = 0
) -> None:
    # A send waits only for a client that has stopped reading: it gets the idle
    # timeout to read on. A timer costs microseconds, so only once it waits. Sends are
    # watched once a stream is past what a server buffers (BUFFERED bytes), and all of
    # them over HTTP/2, where a client's window can hold up any send. (Messages are
    # dict literals, and no finished send stays in stream_body's frame: either grew the
    # peak memory of a pass of streams, benchmarks/run.py.)
    _, waiting = first_step(sending)
    if waiting is not None:
        guard.arm(timeout)
        try:
            await waiting
        finally:
            guard.disarm()
    if waiting is not None or not made:  # the loop turned, in the send or the step
        guard.owed = 0
    elif guard.owes(made):  # *made* bytes without waiting: see NO_WAIT
        await asyncio.sleep(0)


async def _stream_cut(
    app: Microframework, send: Send, request: Request, guard: Guard
) -> bool:
    # Called from stream_body's except clause: a bare raise is the cancel it handles
    # (raising it by name would tie it to this frame in a reference cycle).
    if guard.claim() is None:
        raise  # not ours: a server cancelling the task
    reason = guard.reason
    if reason == "disconnect":
        raise ClientDisconnected() from None
    if reason == "shutdown" and guard.ends_at_drain and not guard.ending:
        # An event stream ends cleanly: the client reconnects. One that doesn't read
        # has until the drain's deadline (a server that waits for it never exits).
        guard._ours = 0  # claimed: the deadline may cancel again
        try:
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except asyncio.CancelledError:
            if guard.claim() is None:
                raise  # not the deadline's: a server's
            return False
        except OSError:  # some servers' send() once the peer is gone (see stream_body)
            raise ClientDisconnected() from None
        return True
    # Ending the body would make a truncated stream look complete.
    why = "idle past its timeout" if reason == "timeout" else "cut by shutdown"
    message = "Stream for %s %s %s; left unfinished"
    app.logger.warning(message, printable(request.method), printable(request.path), why)
    return False
