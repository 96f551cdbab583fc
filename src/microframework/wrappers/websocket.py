"""``Websocket``: the accept / receive / send / close state machine of one connection.

Rule: ``receive()`` reads straight from the server until the handler is seen waiting
elsewhere; then one reader task takes over for good, feeding a bounded queue (so
backpressure reaches TCP) and waking or cancelling the handler when the peer leaves.
"""

from __future__ import annotations

import asyncio
import contextvars
import json as _json
from collections.abc import AsyncIterator
from collections.abc import Iterable
from types import CoroutineType
from typing import Any
from typing import TYPE_CHECKING

from werkzeug.datastructures import Headers

from .._utils import resume
from .._utils import TOKEN
from ..exceptions import BadJSONMessage
from ..exceptions import WebsocketDisconnect
from ..signals import send_signal
from ..signals import state as _signals
from ..signals import websocket_received
from ..signals import websocket_sent
from .base import BaseRequestWebsocket
from .response import encode_headers

if TYPE_CHECKING:
    from ..app import Microframework
    from ..typing import Receive
    from ..typing import Scope
    from ..typing import Send
    from .response import Response

_CONNECTING, _ACCEPTED = "connecting", "accepted"
_CLOSED, _RESPONDED = "closed", "responded"
_OVER = (_CLOSED, _RESPONDED)
_DISCONNECT = object()
_WATCH_DELAY = 0.05  # seconds before a handler not in receive() gets a reader task
# Sweeps (about half a second) before a handler yet to accept gets one: a reader started
# then stays, costing every message a second task switch, so only slow handshakes pay.
_HANDSHAKE_SWEEPS = 10
_MESSAGE_COST = 128  # bytes a queued message costs beyond its data, roughly
_SENDABLE = frozenset({1000, 1001, 1002, 1003, *range(1007, 1015), *range(3000, 5000)})
_GONE = "The server is shutting down: try again."
_CLOSE_ECHO_WAIT = 1.0  # seconds the drain waits for the peer's close frame


class Websocket(BaseRequestWebsocket):
    """A websocket connection, with Quart's API."""

    # In the instance dict with the request attributes it was 1.6 KiB a connection.
    __slots__ = (
        "_receive",
        "_send",
        "_app",
        "_state",
        "max_message_size",
        "_queue_size",
        "_send_timeout",
        "_sends_begun",
        "_sends_done",
        "_stall_mark",
        "_stall_since",
        "_queue",
        "_reader",
        "_accepted",
        "_watch_timer",
        "_watched",
        "_loop",
        "_direct",
        "_direct_done",
        "handler_task",
        "_receiving",
        "_handler_receiving",
        "_turned",
        "_going_away",
        "_sweeps",
        "cancelled_by_disconnect",
        "_deadline_cancels",
        "close_code",
        "close_reason",
    )

    def __init__(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        app: Microframework | None = None,
    ) -> None:
        super().__init__(scope)
        if self.scheme[:4] == "http":
            # ASGI's default here is "ws"; hypercorn's ProxyFixMiddleware copies https.
            self.scheme = "ws" if "scheme" not in scope else "ws" + self.scheme[4:]
        self._receive = receive
        self._send = send
        self._app = app
        self._state = _CONNECTING
        config = app.config if app is not None else {}
        self.max_message_size: int | None = config.get(
            "WEBSOCKET_MAX_MESSAGE_SIZE", 1024 * 1024
        )
        self._queue_size: int = config.get("WEBSOCKET_QUEUE_SIZE", 16)
        timeout = config.get("WEBSOCKET_SEND_TIMEOUT", 60)
        self._send_timeout: float | None = timeout if timeout and timeout > 0 else None
        # Counted per send (cheap); a per-loop sweep looks for one that stays pending.
        self._sends_begun = self._sends_done = 0
        self._stall_mark, self._stall_since = -1, 0.0
        self._queue: _Inbox | None = None
        self._reader: asyncio.Task[None] | None = None
        self._accepted = False
        self._watch_timer: asyncio.Handle | None = None
        self._watched = False  # in _ARMED
        self._loop = asyncio.get_running_loop()
        self._direct = 0  # receive() calls reading straight from the server
        self._direct_done: asyncio.Future[None] | None = None  # see receive()
        self.handler_task: asyncio.Task[Any] | None = None
        self._receiving = 0
        self._handler_receiving = False
        self._turned = False  # the loop ran since the last send
        self._going_away: asyncio.Task[None] | bool | None = None  # False: ended
        #: Set when the peer went away while the handler was not receiving.
        self.cancelled_by_disconnect = False
        self._deadline_cancels = 0  # sent to a clean-up still running at the deadline
        self.close_code: int | None = None
        self.close_reason: str | None = None
        # A client can leave while the handler still decides: the sweep gives it a reader.
        self._sweeps = 0
        self._arm_watch()

    @property
    def requested_subprotocols(self) -> list[str]:
        """The subprotocols the client offered, in its order of preference."""
        return list(self.scope.get("subprotocols", ()))

    @property
    def accepted(self) -> bool:
        """True once the handshake was accepted (it stays true after closing)."""
        return self._accepted

    @property
    def closed(self) -> bool:
        """True once either side closed the connection."""
        return self._state in (_CLOSED, _RESPONDED)

    def _check_subprotocol(self, subprotocol: str) -> None:
        if TOKEN.fullmatch(subprotocol) is None:
            # RFC 6455 4.1: a token; CR/LF would split the handshake's headers.
            raise ValueError(f"websocket subprotocol {subprotocol!r} is not a token")
        offered = self.scope.get("subprotocols")  # optional: a server may not say
        if offered is not None and subprotocol not in offered:
            # RFC 6455 4.2.2: the server picks one the client offered; hypercorn raises
            # and browsers fail the handshake, so fail here, on every server and in tests.
            raise ValueError(
                f"websocket subprotocol {subprotocol!r} was not offered by the client"
                f" (it offered {list(offered)!r})"
            )

    async def accept(
        self,
        headers: Headers | dict[str, str] | Iterable[tuple[str, str]] | None = None,
        subprotocol: str | None = None,
    ) -> None:
        """Accept the connection (done implicitly on the first send or receive)."""
        if self._state != _CONNECTING:
            if self._state == _ACCEPTED:
                return
            if self._going_away is not None or self.cancelled_by_disconnect:
                raise self._disconnected()  # the drain's answer went, or the client left
            raise RuntimeError("cannot accept a websocket that is already closed")
        if subprotocol is not None:
            self._check_subprotocol(subprotocol)
        message: dict[str, Any] = {"type": "websocket.accept"}
        message["subprotocol"] = subprotocol
        if headers:
            message["headers"] = encode_headers(Headers(headers).items())
        # Accepted before the send: a receive() or send() meanwhile must not accept too.
        self._state = _ACCEPTED
        try:
            await self._send(message)
        except OSError:  # ASGI: the peer has gone (uvicorn, before the accept)
            self._peer_gone(1006, None)
            raise self._disconnected(1006) from None
        except Exception:
            self._mark_closed(1006, None)  # the server failed the handshake: no more
            raise
        self._accepted = True
        if self._send_timeout is not None:
            _watch_sends(self)
        if self.handler_task is None:
            self.handler_task = asyncio.current_task()
        # A handler that never receives gets its reader when it first yields.
        if self._watch_timer is None:
            self._watch_timer = self._loop.call_soon(self._maybe_read)

    def _arm_watch(self) -> None:
        # A handler blocked elsewhere would not hear the peer leave: one sweep per loop.
        self._watched = True
        armed = _ARMED.get(self._loop)
        if armed is None:
            armed = _ARMED[self._loop] = set()
            # An empty context: the current one would hold this connection 50 ms more.
            self._loop.call_later(
                _WATCH_DELAY, _sweep, self._loop, context=contextvars.Context()
            )
        armed.add(self)

    def _maybe_read(self) -> None:
        self._watch_timer = None
        self._look()

    def _look(self) -> None:
        if self._reader is not None or self._direct:
            return
        if self._state == _CONNECTING:
            self._sweeps += 1
            if self._sweeps < _HANDSHAKE_SWEEPS:
                self._arm_watch()
                return
        if self._state in (_CONNECTING, _ACCEPTED):
            queue = _Inbox(self._queue_size, self.max_message_size or 1 << 20)
            self._queue = queue
            # Started lazily whatever the loop's task factory: an eager one would read
            # the buffered messages and the close before the handler could receive.
            self._reader = asyncio.Task(self._read(queue), loop=self._loop)

    async def _read(self, queue: _Inbox) -> None:
        try:
            while True:
                message = await self._receive()
                kind = message["type"]
                if kind == "websocket.receive":
                    data = message.get("text")
                    if data is None:
                        data = message.get("bytes")
                        if data is None:
                            data = ""
                    limit = self.max_message_size
                    if limit is not None and _too_big(data, limit):
                        await self._close_for_size()
                        return
                    await queue.put(data)
                    queue.bytes += len(data) + _MESSAGE_COST
                elif kind == "websocket.disconnect":
                    self._peer_gone(message.get("code", 1005), message.get("reason"))
                    return
        except asyncio.CancelledError:
            raise
        except Exception:
            # The server's receive failed: treat as an abnormal disconnect.
            self._peer_gone(1006, None)

    def _peer_gone(self, code: int, reason: str | None) -> None:
        if self._state in (_CLOSED, _RESPONDED):
            # The echo of our own close or refusal: only a receive() waiting needs it.
            self._wake_receivers()
            return
        self._mark_closed(code, reason)
        self._wake_receivers()
        self._cancel_handler()

    def _wake_receivers(self) -> None:
        # A full queue is drained by receive(), which then meets the closed state.
        queue = self._queue
        if self._receiving and queue is not None and not queue.full():
            queue.put_nowait(_DISCONNECT)

    def _cancel_handler(self) -> None:
        # Unless the queue tells it, a handler blocked elsewhere would wait forever.
        if (
            not self._handler_receiving
            and self.handler_task is not asyncio.current_task()
        ):
            self._end_handler()

    def on_drain(self, code: int) -> None:
        """The server is shutting down: close with *code* and end the handler."""
        if self._going_away is None:
            self._going_away = asyncio.ensure_future(self._go_away(code))

    def on_drain_deadline(self) -> None:
        if (away := self.going_away) is not None:  # a send never ending: the app ends
            away.cancel()
        handler = self.handler_task
        if self.cancelled_by_disconnect and handler is not None and not handler.done():
            # Cancelled before: its clean-up (a finally that waits) is cut, as a view's.
            self._deadline_cancels += 1
            handler.cancel()
        else:
            self._end_handler()

    def uncancel_own(self, task: asyncio.Task[Any]) -> bool:
        """Take back the cancels this connection sent *task*: no other one is left?"""
        for _ in range(self._deadline_cancels):
            task.uncancel()
        return not task.uncancel()

    @property
    def going_away(self) -> asyncio.Task[None] | None:
        """The drain's close or refusal while it is being sent (the app awaits it)."""
        away = self._going_away
        return away if isinstance(away, asyncio.Task) and not away.done() else None

    async def _go_away(self, code: int) -> None:
        wait = 0.0
        try:
            if self._state == _CONNECTING and self._app is not None and self._answers():
                # Not a 403 (close before accept): another worker may take it.
                answer = (_GONE, 503, {"Retry-After": "1"})
                await self.send_rejection(self._app.response_class(*answer))
            elif self._state in (_CONNECTING, _ACCEPTED):
                await self.close(code)  # a peer that left first: close() knows
                # The peer's close ends a listener (bounded); cut at once, hypercorn+TLS erred.
                wait = _CLOSE_ECHO_WAIT if self._listening() else 0.0
        finally:
            self._going_away = False  # not None (once); its error's traceback holds us
            if wait:  # a timer, not this task: the app awaits this task as it ends
                empty = contextvars.Context()
                self._loop.call_later(wait, self._end_handler, context=empty)
            else:
                self._end_handler()

    def _listening(self) -> bool:
        # Someone reads the server, or the handler waits for the reader: the close ends it.
        return bool(self._direct or self._handler_receiving)

    def _answers(self) -> bool:
        return "websocket.http.response" in (self.scope.get("extensions") or {})

    def _end_handler(self) -> None:
        handler = self.handler_task
        # Once: the dispatcher takes back one cancel; a second would look like the server's.
        if (
            handler is not None
            and not handler.done()
            and not self.cancelled_by_disconnect
        ):
            self.cancelled_by_disconnect = True
            handler.cancel()

    async def _close_for_size(self) -> None:
        # RFC 6455 7.4.1: 1009 means the message was too big to process. Closed
        # before the close goes out (close() does that): no send may follow it.
        if self._state not in (_CLOSED, _RESPONDED):  # after our own close: only wake
            await self.close(1009, "message too big")
            self._cancel_handler()  # a helper task read it: end the handler too
        self._wake_receivers()

    def _disconnected(self, code: int = 1005) -> WebsocketDisconnect:
        return WebsocketDisconnect(self.close_code or code, self.close_reason or "")

    def _mark_closed(self, code: int, reason: str | None) -> None:
        if self._state != _CLOSED:
            self.close_code = code
            self.close_reason = reason
            self._state = _CLOSED

    async def receive(self) -> str | bytes:
        """The next message; raises ``WebsocketDisconnect`` once the peer has gone."""
        # Straight from the server while no reader exists: one task switch per message
        # instead of two, stepped in this frame (an echo loop's every message).
        while self._reader is None and self._state == _ACCEPTED:
            if self._direct:
                await self._after_direct_read()
                continue
            self._direct += 1
            try:
                pending = self._receive()
                if pending.__class__ is not CoroutineType:
                    message = await pending  # a server's own awaitable
                    self._turned = True
                else:
                    try:
                        step = pending.send(None)
                    except StopIteration as done:
                        message = done.value  # held already: no loop turn
                    else:
                        self._turned = True  # it waits: the loop will run
                        message = await resume(pending, step)
            finally:
                self._direct -= 1
                if (finished := self._direct_done) is not None:
                    self._direct_done = None
                    finished.set_result(None)
                if (
                    not self._watched
                    and self._reader is None
                    and self._state == _ACCEPTED
                ):
                    self._arm_watch()
            if message["type"] == "websocket.receive":
                # ASGI: one of text and bytes is set; text, the usual, first.
                data: str | bytes | None = message.get("text")
                if data is None:
                    data = message.get("bytes")
                    if data is None:
                        data = ""
                limit = self.max_message_size
                if limit is not None and len(data) * 4 > limit:
                    await self._refuse_if_too_big(data, limit)
                if _signals.listening and websocket_received.receivers:
                    await send_signal(websocket_received, data)
                return data
            if message["type"] == "websocket.disconnect":
                # A helper read it: end the handler too (not at our own close's echo).
                self._peer_gone(message.get("code", 1005), message.get("reason"))
                raise self._disconnected()
        if self._state == _CONNECTING:  # checked here: off the per-message path
            await self.accept()
            return await self.receive()
        if asyncio.current_task() is self.handler_task:
            self._handler_receiving = True
            try:
                return await self._receive_queued()
            finally:
                self._handler_receiving = False
        return await self._receive_queued()

    async def _after_direct_read(self) -> None:
        # One call in the server's receive() at a time, as Quart's one reader makes
        # (uvicorn's websockets protocol refuses two): wait for the one under way.
        if self._direct_done is None:
            self._direct_done = self._loop.create_future()
        await asyncio.shield(self._direct_done)

    async def _refuse_if_too_big(self, data: str | bytes, limit: int) -> None:
        if _too_big(data, limit):
            await self._close_for_size()
            raise WebsocketDisconnect(1009, "message too big")

    async def _receive_queued(self) -> str | bytes:
        queue = self._queue
        if queue is None:  # closed (or answered) before any reader was needed
            raise self._disconnected()
        self._receiving += 1
        try:
            waits = queue.empty()
            if waits and self._state in _OVER:  # (a refusal's disconnect, if any, was
                raise self._disconnected()  # read with nobody receiving: not queued)
            data: str | bytes = await queue.get()
        finally:
            self._receiving -= 1
        if waits:
            self._turned = True  # the loop ran while get() waited
        if data is _DISCONNECT:
            self._wake_receivers()  # another task waits: tell it too
            raise self._disconnected()
        queue.bytes -= len(data) + _MESSAGE_COST
        if _signals.listening and websocket_received.receivers:
            await send_signal(websocket_received, data)
        return data

    async def receive_json(self) -> Any:
        """The next message parsed as JSON; ``BadJSONMessage`` (a ``ValueError``, and
        a 400) if it isn't JSON."""
        data = await self.receive()
        loads = self._app.json.loads if self._app is not None else _json.loads
        try:
            return loads(data)
        except RecursionError:  # nested too deeply: bad JSON, as get_json has it
            raise BadJSONMessage("the JSON message is nested too deeply") from None
        except ValueError as error:
            raise BadJSONMessage(str(error), error) from error

    async def __aiter__(self) -> AsyncIterator[str | bytes]:
        while True:
            try:
                yield await self.receive()
            except WebsocketDisconnect:
                return

    async def send(self, data: str | bytes) -> None:
        """Send a text (str) or binary (bytes, bytearray, memoryview) message."""
        if self._state != _ACCEPTED:
            if self._state == _CONNECTING:
                await self.accept()
            if self._state != _ACCEPTED:
                raise self._disconnected()
        if isinstance(data, str):
            message: dict[str, Any] = {"type": "websocket.send", "text": data}
        elif isinstance(data, (bytes, bytearray, memoryview)):
            message = {"type": "websocket.send", "bytes": bytes(data)}
        else:
            raise TypeError(
                f"websocket messages are str or bytes, not {type(data).__name__}"
            )
        self._sends_begun += 1
        try:
            await self._send(message)
        except OSError:
            # ASGI: a server raises an IOError from send() once the peer has gone.
            self._peer_gone(1006, None)
            raise self._disconnected(1006) from None
        finally:
            self._sends_done += 1
        if _signals.listening and websocket_sent.receivers:
            await send_signal(websocket_sent, data)
        if not self._turned:
            # A server's send() need not suspend: unless a receive() waited, yield, or a
            # sending loop would starve other connections and never hear the peer leave.
            await asyncio.sleep(0)
            if self._state != _ACCEPTED:
                raise self._disconnected()
        self._turned = False

    async def _send_counted(self, message: dict[str, Any]) -> None:
        # What send() does inline: the stall sweep sees this send while it waits.
        self._sends_begun += 1
        try:
            await self._send(message)
        finally:
            self._sends_done += 1

    def _check_send(self, now: float) -> None:
        # The per-loop sweep: end one whose send waited for WEBSOCKET_SEND_TIMEOUT.
        done = self._sends_done
        if self._sends_begun == done:
            return  # nothing pending
        if self._stall_mark != done:
            # Pending, and a send ended since the last look (or none was pending):
            # the clock starts here, so a slow reader's backlog is not a stall.
            self._stall_mark, self._stall_since = done, now
        elif now - self._stall_since >= self._send_timeout:  # type: ignore[operator]
            # As if the client had left: the server's send() itself can't be ended.
            if self._state != _RESPONDED:
                self.close_code, self.close_reason = 1006, "send timed out"
                self._state = _CLOSED
            self._wake_receivers()
            self._end_handler()

    async def send_json(self, *args: Any, **kwargs: Any) -> None:
        """Send the arguments as ``jsonify`` takes them, dumped by ``app.json``."""
        if args and kwargs:
            raise TypeError("send_json takes positional or keyword arguments, not both")
        value = args[0] if len(args) == 1 else (list(args) if args else kwargs)
        dumps = self._app.json.dumps if self._app is not None else _json.dumps
        await self.send(dumps(value))

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the connection (before accept, the server answers 403)."""
        if self._state in (_CLOSED, _RESPONDED):
            return
        if code not in _SENDABLE:
            raise ValueError(
                f"websocket close code {code!r} may not be sent:"
                " use 1000-1003, 1007-1014 or 3000-4999 (RFC 6455 7.4)"
            )
        try:
            size = len(reason.encode()) if reason else 0
        except UnicodeEncodeError:  # a lone surrogate: the server could not send it
            raise ValueError(
                f"websocket close reason {reason!r} is not valid text"
            ) from None
        if size > 123:
            # RFC 6455 5.5: a close payload is at most 125 bytes, two of them the code.
            raise ValueError(
                f"websocket close reason is {size} bytes in UTF-8;"
                " at most 123 fit in a close frame"
            )
        # Closed before sending: a disconnect the reader meets meanwhile is the echo.
        state, self._state = self._state, _CLOSED
        self.close_code, self.close_reason = code, reason
        message = {"type": "websocket.close", "code": code, "reason": reason}
        try:  # counted: a client that stopped reading blocks this one too
            await self._send_counted(message)
        except OSError:  # the peer left first: closed all the same
            self.close_code, self.close_reason = 1006, None
        except Exception:  # refused (daphne 4.2 sends only 1000 and 3000-4999): open
            self._state = state  # still, the dispatcher's 1011 then fails the call
            raise  # too, and daphne closes with 1011 itself

    async def send_rejection(self, response: Response) -> None:
        """Refuse the handshake with *response*, over the HTTP response extension if
        offered; then close it (its ``call_on_close`` functions run)."""
        try:
            await self._send_rejection(response)
        finally:
            await response.aclose()

    async def _send_rejection(self, response: Response) -> None:
        if not self._answers():
            await self.close(1008)
            return
        start = {
            "type": "websocket.http.response.start",
            "status": response.status_code,
            "headers": response.asgi_headers(),
        }
        # One body message: granian refuses more_body there, and a refusal is small.
        data = b"".join([chunk async for chunk in response.iter_encoded()])
        self._state = _RESPONDED  # a disconnect meanwhile is the end of the answer
        try:
            await self._send(start)
            await self._send(
                {
                    "type": "websocket.http.response.body",
                    "body": data,
                    "more_body": False,
                }
            )
        except OSError:  # ASGI: the peer left before the answer (uvicorn)
            self._mark_closed(1006, None)
            raise self._disconnected(1006) from None

    def finish(self) -> asyncio.Task[None] | None:
        """Stop watching; return the reader task, cancelled, for the caller to await."""
        if self._watch_timer is not None:
            self._watch_timer.cancel()
            self._watch_timer = None
        if self._watched:
            self._watched = False
            armed = _ARMED.get(self._loop)
            if armed is not None:
                armed.discard(self)  # the sweep, one per loop, still runs
        if (sending := _SENDING.get(self._loop)) is not None:
            sending.discard(self)  # the sweep, one per loop, still runs
        self.handler_task = None  # ended: no late cancel (a drain) lands in teardown
        self._wake_receivers()  # a helper task still receiving: the connection is over
        # Forget the reader: its CancelledError's traceback holds this object (a cycle).
        reader, self._reader = self._reader, None
        if reader is None or reader.done():
            return None
        reader.cancel()
        return reader


class _Inbox(asyncio.Queue[Any]):
    """Received messages: *size* of them, and past that more while all come to less
    than *budget* bytes. A client's small messages (pings to a handler that never
    reads) then can't hide its leaving behind a full queue; a flood still waits."""

    def __init__(self, size: int, budget: int) -> None:
        super().__init__()  # unbounded: full() decides
        self.size, self.budget, self.bytes = size, budget, 0

    def full(self) -> bool:
        # The bytes first: below the budget (as nearly always) no count is needed.
        return self.bytes >= self.budget and 0 < self.size <= self.qsize()


#: Per loop, the connections its next sweep looks at (each held at most _WATCH_DELAY).
_ARMED: dict[asyncio.AbstractEventLoop, set[Websocket]] = {}


def _sweep(loop: asyncio.AbstractEventLoop) -> None:
    for websocket in _ARMED.pop(loop, ()):
        websocket._watched = False
        websocket._look()


#: Per loop, the accepted connections whose sends the stall sweep looks at, and the
#: shortest timeout among them (it sets the sweep's period) with the sweep's timer.
_SENDING: dict[asyncio.AbstractEventLoop, set[Websocket]] = {}
_SWEEPING: dict[asyncio.AbstractEventLoop, tuple[float, asyncio.TimerHandle]] = {}


def _watch_sends(websocket: Websocket) -> None:
    loop, timeout = websocket._loop, websocket._send_timeout
    assert timeout is not None
    members = _SENDING.get(loop)
    if members is None:
        members = _SENDING[loop] = set()
        _next_send_sweep(loop, timeout)
    elif timeout < (sweeping := _SWEEPING[loop])[0]:  # apps on one loop may differ
        sweeping[1].cancel()
        _next_send_sweep(loop, timeout)
    members.add(websocket)


def _next_send_sweep(loop: asyncio.AbstractEventLoop, timeout: float) -> None:
    # Every quarter of the timeout (at most 1 s): a stall ends within 1.5 timeouts.
    # An empty context, as the reader sweep's: it must hold no connection.
    timer = loop.call_later(
        min(1.0, timeout / 4), _sweep_sends, loop, context=contextvars.Context()
    )
    _SWEEPING[loop] = (timeout, timer)


def _sweep_sends(loop: asyncio.AbstractEventLoop) -> None:
    members = _SENDING.get(loop)
    if not members:
        _SENDING.pop(loop, None)  # the next accepted connection starts it again
        _SWEEPING.pop(loop, None)
        return
    now = loop.time()
    for websocket in list(members):
        websocket._check_send(now)
    _next_send_sweep(loop, _SWEEPING[loop][0])


def _too_big(data: str | bytes, limit: int) -> bool:
    # A str is measured as UTF-8, encoded only when its length cannot decide.
    if isinstance(data, bytes):
        return len(data) > limit
    return len(data) > limit or (len(data) * 4 > limit and len(data.encode()) > limit)
