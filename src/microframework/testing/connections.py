"""One in-process HTTP or websocket exchange each, with the app in its own task.

Rule: ``receive`` gives what hypercorn would and ``send`` is held to the ASGI order, so
protocol bugs fail the test. Leaving ``async with`` awaits or cancels the app's task.
"""

from __future__ import annotations

import asyncio
import json as _json
from collections import deque
from collections.abc import Callable
from collections.abc import Iterable
from typing import Any
from typing import Generic
from typing import NoReturn
from typing import TYPE_CHECKING
from typing import TypeVar

from werkzeug.datastructures import Headers

from ..exceptions import WebsocketDisconnect
from ..typing import Message
from ..typing import Receive
from ..typing import Scope
from ..typing import Send

if TYPE_CHECKING:
    from ..app import Microframework
    from ..wrappers.response import Response

T = TypeVar("T")


class HTTPDisconnectError(Exception):
    """``TestHTTPConnection.receive`` was called after ``disconnect()``."""


#: Quart's name for what the test websocket raises once the app has closed.
WebsocketDisconnectError = WebsocketDisconnect


class WebsocketResponseError(Exception):
    """The app refused a websocket handshake; ``response`` is its HTTP answer."""

    def __init__(self, response: Response) -> None:
        super().__init__(response)
        self.response = response


class Mailbox(Generic[T]):
    """A one-way channel between the test and the app task; closing wakes waiters."""

    __slots__ = ("_changed", "_closed", "_items")

    def __init__(self) -> None:
        self._items: deque[T] = deque()
        self._closed, self._changed = False, asyncio.Event()

    def put(self, item: T) -> None:
        if not self._closed:  # else dropped, like bytes sent to a peer that has gone
            self._items.append(item)
            self._changed.set()

    def close(self, *, discard: bool = False) -> None:
        if discard:
            self._items.clear()
        self._closed = True
        self._changed.set()

    def drain(self) -> list[T]:
        items, self._items = self._items, deque()
        return list(items)

    async def get(self) -> T | None:
        """The next item, or ``None`` once closed and empty."""
        while not self._items:
            if self._closed:
                return None
            self._changed.clear()
            await self._changed.wait()
        return self._items.popleft()


class _Exchange(Generic[T]):
    """What both connections share: the app's task, its mailboxes and its error."""

    __test__ = False  # not a pytest test class, whatever its subclasses' names say
    #: Seconds leaving ``async with`` waits for a disconnected app before cancelling it.
    disconnect_grace: float = 5.0

    def __init__(self, app: Microframework, scope: Scope) -> None:
        self.app, self.scope, self._error_reported = app, scope, False
        self._to_app: Mailbox[Message] = Mailbox()
        self._to_client: Mailbox[T] = Mailbox()
        self._task: asyncio.Task[None] | None = None
        self._ran = False  # the app's task has begun

    async def __aexit__(
        self, exc_type: object, exc: BaseException | None, tb: object
    ) -> None:
        if self._task is not None:
            await self._finish(self._task, failed=exc is not None)
            self._report(self._task, exc)

    async def _finish(self, task: asyncio.Task[None], *, failed: bool) -> None:
        """End the exchange as a server would when the block ends; wait for the app."""

    def _start(self, receive: Receive, send: Send) -> asyncio.Task[None]:
        if self._task is not None:
            raise RuntimeError(f"a {type(self).__name__} can be entered only once")
        # create_task copies the context: the app's context variables stay in its task.
        task = self._task = asyncio.create_task(self._run_app(receive, send))
        task.add_done_callback(self._app_ended)
        return task

    async def _run_app(self, receive: Receive, send: Send) -> None:
        self._ran = True
        await self.app(self.scope, receive, send)

    def _app_ended(self, _task: asyncio.Task[None]) -> None:
        self._to_client.close()
        self._to_app.close(discard=True)

    def _entered_task(self) -> asyncio.Task[None]:
        if self._task is None:
            raise RuntimeError(
                "use 'async with' on the connection before talking to the app"
            )
        return self._task

    def _raise_app_error(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and (error := task.exception()) is not None:
            self._error_reported = True
            raise error

    def _report(self, task: asyncio.Task[None], exc: BaseException | None) -> None:
        """Raise the app's error as the block ends, or note it on the test's error."""
        # task.exception() also marks the error retrieved, so asyncio does not log it.
        error = None if task.cancelled() else task.exception()
        if error is None or self._error_reported:
            return
        if exc is None or isinstance(exc, WebsocketDisconnect):
            self._error_reported = True
            raise error
        exc.add_note(f"the app also raised {error!r}")

    async def _stop(self, task: asyncio.Task[None], grace: bool = True) -> None:
        """Wait (up to ``disconnect_grace``) for the app to end, then cancel it."""
        if grace and not task.done():
            await wait_owned(task, self.disconnect_grace)
        if not task.done():
            task.cancel()
            await wait_owned(task)

    def _response(self, body: bytes, status: int, headers: Headers) -> Response:
        response = self.app.response_class(body, status)
        # As sent: a HEAD response announces a Content-Length it does not send.
        response.headers = headers
        if hasattr(provider := self.app.json, "loads"):  # as Flask's client does
            response.json_module = provider  # get_json() parses as the app would
        return response


class TestHTTPConnection(_Exchange[bytes]):
    """A streaming HTTP exchange: send the request body in chunks, read the response.

    ``status_code`` and ``headers`` are ``None`` until ``http.response.start``.
    """

    def __init__(self, app: Microframework, scope: Scope) -> None:
        super().__init__(app, scope)
        self.status_code: int | None = None
        self.headers: Headers | None = None
        self._body_complete = self._response_complete = self._disconnected = False
        self._told_disconnect = False
        self._cut_off = False  # the block ended mid-response
        self._listening = 0
        self._length_left: int | None = None  # of the declared Content-Length
        #: ``(path, headers)`` of each ``http.response.push`` the app sent.
        self.push_promises: list[tuple[str, Headers]] = []

    async def __aenter__(self) -> TestHTTPConnection:
        _ = self._start(self._asgi_receive, self._asgi_send)
        return self

    async def _finish(self, task: asyncio.Task[None], *, failed: bool) -> None:
        # A client that sent its whole request and has no answer yet waits for one,
        # as Quart's does; one that leaves mid-response (or mid-request) disconnects.
        waiting = self._body_complete and self.status_code is None
        if not task.done() and (failed or not (self._response_complete or waiting)):
            self._cut_off = self.status_code is not None and not self._disconnected
            await self.disconnect()
            while not self._ran and not task.done():  # it gets what was sent first
                await asyncio.sleep(0)
            # As behind a server, an app that listens or was told may handle it.
            await self._stop(task, grace=bool(self._listening or self._told_disconnect))
        await wait_owned(task)

    async def send(self, data: bytes) -> None:
        """Send the next chunk of the request body."""
        self._send_body(data, more_body=True)

    async def send_complete(self, data: bytes = b"") -> None:
        """End the request body, with *data* as its last chunk."""
        self._send_body(data, more_body=False)

    async def receive(self) -> bytes:
        """Return the next chunk of the response body, ``b""`` once it is complete.

        Raises the app's error, ``HTTPDisconnectError`` after ``disconnect()``, or
        ``RuntimeError`` if the app returned without completing the response.
        """
        task = self._entered_task()
        if (chunk := await self._to_client.get()) is not None:
            return chunk
        if self._response_complete:
            return b""
        if self._disconnected:
            raise HTTPDisconnectError()
        self._raise_for_outcome(task)

    async def disconnect(self) -> None:
        """Disconnect: once the app has the body sent so far, its ``receive()``
        returns ``http.disconnect``, as a server's does."""
        self._disconnected = True
        self._to_app.close()
        self._to_client.close()

    async def as_response(self) -> Response:
        """Wait for the app to end; build a response from the body not yet received."""
        task = self._entered_task()
        await wait_owned(task)
        status, headers = self.status_code, self.headers
        if status is None or headers is None or not self._response_complete:
            self._raise_for_outcome(task)
        return self._response(b"".join(self._to_client.drain()), status, headers)

    def _send_body(self, data: bytes, *, more_body: bool) -> None:
        # Checked, not converted: bytes(3) would send three NUL bytes.
        if not isinstance(data, bytes | bytearray):
            raise TypeError(f"data must be bytes, not {type(data).__name__}")
        if self._body_complete:
            raise RuntimeError("the request body is already complete")
        self._body_complete = not more_body
        body = bytes(data)
        self._to_app.put({"type": "http.request", "body": body, "more_body": more_body})

    def _raise_for_outcome(self, task: asyncio.Task[None]) -> NoReturn:
        self._raise_app_error(task)
        if self.status_code is None and self._disconnected:
            raise RuntimeError(
                "the client disconnected before the response started; what the app"
                " sent then was dropped, as a server drops it"
            )
        if self.status_code is None:
            raise RuntimeError("the app returned without sending http.response.start")
        if self._disconnected and not self._cut_off:
            raise RuntimeError(
                "the response is incomplete: the test disconnected before it ended"
                " (Quart's client returns the part sent); read it with receive()"
            )
        if self._cut_off:
            raise RuntimeError(
                "the response was cut off where the 'async with' block ended: leaving"
                " it mid-response disconnects, as a client that leaves does (Quart's"
                " waits); call as_response() inside the block to wait for the rest"
            )
        raise RuntimeError(
            "the app returned without completing the response (no http.response.body"
            " with more_body=False): a server would close the connection. A stream"
            " idle past its timeout ends so; read it with client.request()"
        )

    async def _asgi_receive(self) -> Message:
        self._listening += 1
        try:
            message = await self._to_app.get()
        finally:
            self._listening -= 1
        if message is None:
            self._told_disconnect = self._disconnected
            return {"type": "http.disconnect"}
        return message

    async def _asgi_send(self, message: Message) -> None:
        if self._disconnected:
            return  # a server drops what the app writes to a peer that has gone
        kind, scope = message.get("type"), self.scope
        if kind == "http.response.start":
            if self.status_code is not None:
                raise RuntimeError("the app sent http.response.start twice")
            self.headers = _decode_headers(message.get("headers", ()))
            self.status_code = int(message["status"])
            if scope["method"] != "HEAD" and self.status_code not in (204, 304):
                self._length_left = self.headers.get("Content-Length", type=int)
        elif kind == "http.response.body":
            if self.status_code is None or self._response_complete:
                when = "after the response was complete"
                if self.status_code is None:
                    when = "before http.response.start"
                raise RuntimeError(f"the app sent http.response.body {when}")
            body, more = message.get("body", b""), message.get("more_body", False)
            if self._length_left is not None:
                # A server aborts such a response: its client would see no body.
                self._length_left -= len(body)
                if self._length_left < 0 or (self._length_left and not more):
                    raise RuntimeError(
                        "the app's body does not match its Content-Length"
                        f" ({self.headers.get('Content-Length')})"  # type: ignore[union-attr]
                    )
            if body:
                self._to_client.put(bytes(body))
            if not more:
                self._response_complete = True
                self._to_client.close()
                self._to_app.close()
        elif kind == "http.response.push" and kind in (scope.get("extensions") or {}):
            headers = _decode_headers(message.get("headers", ()))
            self.push_promises.append((str(message["path"]), headers))
        else:
            raise RuntimeError(
                f"the app sent {kind!r}, which is not an http response message"
            )


# A TestWebsocketConnection's states, as the server sees the handshake and session.
_HANDSHAKE, _RESPONDING, _REFUSED = "handshake", "responding", "refused"
_OPEN, _CLOSED = "open", "closed"


class TestWebsocketConnection(_Exchange[Message]):
    """One in-process websocket session: ``async with client.websocket(path) as ws:``.

    Entering waits for the app to accept (a refusal raises ``WebsocketResponseError``);
    leaving closes with 1000 and waits for the app, whose error propagates from there.
    """

    #: Seconds entering waits for the app's accept or refusal. A handler that first
    #: waits for the test (a push-only feed) is entered still handshaking, as Quart's
    #: test connection always is: it accepts on its first send, and a refusal then
    #: raises from ``receive()``, ``send()`` or the end of the block.
    handshake_wait: float = 0.2

    def __init__(self, app: Microframework, scope: Scope) -> None:
        super().__init__(app, scope)
        #: From the app's ``websocket.accept``, then its ``websocket.close``.
        self.subprotocol: str | None = None
        self.response_headers: Headers | None = None
        self.close_code: int | None = None
        self.close_reason: str | None = None
        self._state, self._client_closed = _HANDSHAKE, False
        #: From a refusal's ``websocket.http.response`` messages, as Quart's are.
        self.status_code: int | None = None
        self.headers: Headers | None = None
        self.response_data = bytearray()
        self._disconnect: Message = {"type": "websocket.disconnect", "code": 1000}
        self._pending = False  # entered before the app answered the handshake
        #: Called with the headers answering the handshake (the accept's or the
        #: refusal's): the client stores their cookies, as a browser does.
        self.on_handshake_headers: Callable[[Headers], None] | None = None

    @property
    def accepted(self) -> bool:
        """True once the app has accepted the handshake."""
        return self._state in (_OPEN, _CLOSED)

    async def __aenter__(self) -> TestWebsocketConnection:
        task = self._start(self._asgi_receive, self._asgi_send)
        self._to_app.put({"type": "websocket.connect"})
        try:
            # The accept, or None (refused or ended), unless the app waits on the test.
            async with asyncio.timeout(self.handshake_wait):
                await self._to_client.get()  # cancelled, it takes nothing
        except TimeoutError:
            self._pending = True
            return self
        except BaseException:
            await self._stop(task)
            raise
        await self._answered(task)
        return self

    async def _answered(self, task: asyncio.Task[None]) -> None:
        if self.accepted:
            return
        # Refused or ended: let the app run its teardown before the test goes on.
        await self._stop(task)
        self._raise_app_error(task)
        if self._state != _REFUSED:
            raise RuntimeError("the app returned without accepting or refusing")
        status, headers = self.status_code or 403, self.headers or Headers()
        response = self._response(bytes(self.response_data), status, headers)
        raise WebsocketResponseError(response)

    async def _finish(self, task: asyncio.Task[None], *, failed: bool) -> None:
        if self._pending and not failed and self._state != _HANDSHAKE:
            await self._end_handshake(task)  # a refusal the test has not met yet
        if not task.done() and self._state in (_OPEN, _HANDSHAKE):
            await self.close(1000)
        await self._stop(task)

    async def _end_handshake(self, task: asyncio.Task[None]) -> None:
        """Take the app's late accept, or raise its refusal or error."""
        self._pending = False
        await self._to_client.get()
        await self._answered(task)

    async def send(self, data: str | bytes) -> None:
        """Send a text (``str``) or binary (``bytes``) message to the app."""
        if isinstance(data, str):
            message: Message = {"type": "websocket.receive", "text": data}
        elif isinstance(data, bytes | bytearray):
            message = {"type": "websocket.receive", "bytes": bytes(data)}
        else:
            raise TypeError(
                f"websocket messages are str or bytes, not {type(data).__name__}"
            )
        task = self._check_open()
        if self._pending and self._state != _HANDSHAKE:
            await self._end_handshake(task)
        if self.close_code is not None or task.done():
            self._raise_for_outcome(task)
        self._to_app.put(message)  # while handshaking, the app reads it once it accepts

    async def receive(self) -> str | bytes:
        """The app's next message; ``WebsocketDisconnect`` once the app has closed."""
        task = self._check_open()
        if self._pending:
            await self._end_handshake(task)
        message = await self._to_client.get()
        if message is None:
            self._raise_for_outcome(task)
        data = message.get("bytes")
        return data if data is not None else message["text"]  # type: ignore[no-any-return]

    async def send_json(self, data: Any) -> None:
        """Send *data* as a JSON text message, encoded by the app's JSON provider."""
        await self.send(self.app.json.dumps(data))

    async def receive_json(self) -> Any:
        """The app's next message, parsed as JSON (by the app's provider if it has one)."""
        data = await self.receive()
        return getattr(self.app.json, "loads", _json.loads)(data)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close from the client side: the app's ``receive()`` gets the disconnect."""
        if not isinstance(code, int) or isinstance(code, bool):
            raise TypeError(f"code must be an int, not {type(code).__name__}")
        _ = self._entered_task()
        # If the app closed first, it has heard the echo already.
        if not self._client_closed and self._state != _CLOSED:
            self._hang_up(code, reason)
        self._client_closed = True

    async def disconnect(self) -> None:
        """Drop the connection without a close frame: the app hears code 1006."""
        await self.close(1006)

    def _check_open(self) -> asyncio.Task[None]:
        task = self._entered_task()
        if self._client_closed:
            raise RuntimeError("this websocket was closed by the test")
        return task

    def _raise_for_outcome(self, task: asyncio.Task[None]) -> NoReturn:
        if self.close_code is not None:
            raise WebsocketDisconnect(self.close_code, self.close_reason or "")
        self._raise_app_error(task)
        # What hypercorn does when an app returns from an open session.
        raise WebsocketDisconnect(1011, "the app returned without closing")

    def _hang_up(self, code: int = 1000, reason: str = "") -> None:
        """After what is queued, every ``receive()`` of the app disconnects."""
        self._disconnect = {"type": "websocket.disconnect", "code": code}
        if reason:
            self._disconnect["reason"] = reason
        self._to_app.close()

    async def _asgi_receive(self) -> Message:
        message = await self._to_app.get()  # after the disconnect, repeat it
        return dict(self._disconnect) if message is None else message

    async def _asgi_send(self, message: Message) -> None:
        if self._client_closed and self._state != _CLOSED:
            return  # hypercorn drops what the app writes to a peer that has gone
        kind, state = message.get("type"), self._state
        if state == _HANDSHAKE and kind == "websocket.accept":
            self._state = _OPEN
            self.subprotocol = message.get("subprotocol")
            self.response_headers = _decode_headers(message.get("headers", ()))
            if self.on_handshake_headers is not None:
                self.on_handshake_headers(self.response_headers)
            self._to_client.put(message)
        elif state == _HANDSHAKE and kind == "websocket.close":
            self._refused()  # ASGI: a close before accept is answered with HTTP 403
        elif state == _HANDSHAKE and kind == "websocket.http.response.start":
            self._state = _RESPONDING
            self.status_code = int(message["status"])
            self.headers = _decode_headers(message.get("headers", ()))
            if self.on_handshake_headers is not None:
                self.on_handshake_headers(self.headers)
        elif state == _RESPONDING and kind == "websocket.http.response.body":
            self.response_data.extend(message.get("body", b""))
            if not message.get("more_body", False):
                self._refused()
        elif state == _OPEN and kind == "websocket.send":
            text = message.get("text")
            if message.get("bytes") is None and not isinstance(text, str):
                raise RuntimeError("websocket.send needs 'bytes' or a str 'text'")
            self._to_client.put(message)
        elif state == _OPEN and kind == "websocket.close":
            self._state = _CLOSED
            self.close_code = int(message.get("code", 1000))
            self.close_reason = message.get("reason") or ""
            self._to_client.close()
            if not self._client_closed:  # the client echoes the close to the app
                self._hang_up()
        else:
            raise RuntimeError(
                f"the app sent {kind!r} while the websocket was in the {state} state"
            )

    def _refused(self) -> None:
        self._state = _REFUSED
        self._to_client.close()
        self._to_app.close()  # the connection is over; an app still listening hears it


async def wait_owned(task: asyncio.Task[None], timeout: float | None = None) -> None:
    """Wait for *task* to end (or *timeout*), not raising; if cancelled, cancel it."""
    try:
        await asyncio.wait({task}, timeout=timeout)
    except asyncio.CancelledError:
        task.cancel()
        raise


def _decode_headers(raw: Iterable[tuple[bytes, bytes]]) -> Headers:
    return Headers([(k.decode("latin-1"), v.decode("latin-1")) for k, v in raw])
