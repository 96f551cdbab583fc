"""``TestHTTPConnection`` and ``TestWebsocketConnection``: one in-process exchange each,
the app in its own task.

Rule: the app's ``receive`` gives what a server (hypercorn) would, and its ``send`` is
held to the ASGI order, so protocol bugs fail the test instead of passing silently. The
connection owns the task: leaving ``async with`` awaits it, or disconnects and cancels
it; it never outlives the block.
"""

from __future__ import annotations

import asyncio
import json as _json
from collections import deque
from collections.abc import Callable
from collections.abc import Iterable
from types import TracebackType
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
    from ..wrappers.response import Response
    from .utils import SupportsTestClient

T = TypeVar("T")


class HTTPDisconnectError(Exception):
    """``TestHTTPConnection.receive`` was called after ``disconnect()``."""


class WebsocketResponseError(Exception):
    """The app refused a websocket handshake; ``response`` is its HTTP answer."""

    def __init__(self, response: Response) -> None:
        super().__init__(response)
        self.response = response


class Mailbox(Generic[T]):
    """A one-way channel between the test and the app task.

    ``put`` never blocks and ``get`` waits. Closing wakes every waiter, so a task
    blocked in ``get`` can never outlive the exchange; items put after closing are
    dropped, like bytes written to a peer that stopped reading.
    """

    __slots__ = ("_changed", "_closed", "_items")

    def __init__(self) -> None:
        self._items: deque[T] = deque()
        self._closed = False
        self._changed = asyncio.Event()

    def put(self, item: T) -> None:
        if not self._closed:
            self._items.append(item)
            self._changed.set()

    def close(self, *, discard: bool = False) -> None:
        if discard:
            self._items.clear()
        self._closed = True
        self._changed.set()

    def drain(self) -> list[T]:
        items = list(self._items)
        self._items.clear()
        return items

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

    __test__ = False  # a helper, not a pytest test class, whatever its name says

    #: Seconds that leaving ``async with`` waits for an app that has been told of the
    #: disconnect to finish, before cancelling it.
    disconnect_grace: float = 5.0

    def __init__(self, app: SupportsTestClient, scope: Scope) -> None:
        self.app = app
        self.scope = scope
        self._to_app: Mailbox[Message] = Mailbox()
        self._to_client: Mailbox[T] = Mailbox()
        self._error_reported = False
        self._task: asyncio.Task[None] | None = None

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._task is not None:
            await self._finish(self._task, failed=exc_type is not None)
            self._report(self._task, exc)

    async def _finish(self, task: asyncio.Task[None], *, failed: bool) -> None:
        """End the exchange as a server would when the block ends; wait for the app."""
        raise NotImplementedError

    def _start(self, receive: Receive, send: Send) -> asyncio.Task[None]:
        if self._task is not None:
            raise RuntimeError(f"a {type(self).__name__} can be entered only once")
        # create_task copies the context: the app's context variables stay in its task.
        task = self._task = asyncio.create_task(self._run_app(receive, send))
        task.add_done_callback(self._app_ended)
        return task

    async def _run_app(self, receive: Receive, send: Send) -> None:
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
        """Raise the app's error as the block ends; if the test failed, note it there."""
        if task.cancelled():
            return
        error = task.exception()  # also marks it retrieved, so asyncio does not log it
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
        # Keep the headers exactly as sent: rebuilding the body must not rewrite
        # Content-Length (a HEAD response announces a length it does not send).
        response.headers = headers
        return response


class TestHTTPConnection(_Exchange[bytes]):
    """A streaming HTTP exchange: send the request body in chunks, read the response.

    Use as ``async with client.request(path) as connection:``. ``status_code`` and
    ``headers`` are ``None`` until the app has sent ``http.response.start``.
    """

    def __init__(self, app: SupportsTestClient, scope: Scope) -> None:
        super().__init__(app, scope)
        self.status_code: int | None = None
        self.headers: Headers | None = None
        self._body_complete = False
        self._response_complete = False
        self._disconnected = False
        self._listening = 0
        self._told_disconnect = False
        #: ``(path, headers)`` of each ``http.response.push`` the app sent.
        self.push_promises: list[tuple[str, Headers]] = []

    async def __aenter__(self) -> TestHTTPConnection:
        _ = self._start(self._asgi_receive, self._asgi_send)
        return self

    async def _finish(self, task: asyncio.Task[None], *, failed: bool) -> None:
        if not task.done() and (failed or not self._response_complete):
            await self.disconnect()
            # An app that has (or is about to get) http.disconnect may handle it, as
            # behind a server; one that is not listening is cancelled at once.
            await self._stop(task, grace=bool(self._listening or self._told_disconnect))
        await wait_owned(task)

    async def send(self, data: bytes) -> None:
        """Send the next chunk of the request body."""
        if not isinstance(data, bytes | bytearray):
            raise TypeError(f"data must be bytes, not {type(data).__name__}")
        self._send_body(bytes(data), more_body=True)

    async def send_complete(self, data: bytes = b"") -> None:
        """End the request body, with *data* as its last chunk."""
        self._send_body(bytes(data), more_body=False)

    async def receive(self) -> bytes:
        """Return the next chunk of the response body as the app sends it.

        Returns ``b""`` once the response is complete. Raises the app's exception if it
        failed, ``HTTPDisconnectError`` after ``disconnect()``, and ``RuntimeError`` if
        the app returned without completing the response.
        """
        task = self._entered_task()
        chunk = await self._to_client.get()
        if chunk is not None:
            return chunk
        if self._response_complete:
            return b""
        if self._disconnected:
            raise HTTPDisconnectError()
        # Only the end of the task closes the mailbox without either of the above.
        self._raise_for_outcome(task)

    async def disconnect(self) -> None:
        """Disconnect: the app's ``receive()`` now returns ``http.disconnect``."""
        self._disconnected = True
        self._to_app.close(discard=True)
        self._to_client.close()

    async def as_response(self) -> Response:
        """Wait for the app to end; build a response from the body not yet received."""
        task = self._entered_task()
        await wait_owned(task)
        if self.status_code is None or self.headers is None:
            self._raise_for_outcome(task)
        if not self._response_complete:
            self._raise_for_outcome(task)
        body = b"".join(self._to_client.drain())
        return self._response(body, self.status_code, self.headers)

    def _send_body(self, data: bytes, *, more_body: bool) -> None:
        if self._body_complete:
            raise RuntimeError("the request body is already complete")
        self._body_complete = not more_body
        self._to_app.put({"type": "http.request", "body": data, "more_body": more_body})

    def _raise_for_outcome(self, task: asyncio.Task[None]) -> NoReturn:
        """Explain why there is no complete response; called once *task* has ended."""
        self._raise_app_error(task)
        if self.status_code is None:
            raise RuntimeError("the app returned without sending http.response.start")
        raise RuntimeError(
            "the app returned without completing the response"
            " (no http.response.body with more_body=False)"
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
            return  # the peer has gone: a server drops what the app still writes
        kind = message.get("type")
        if kind == "http.response.start":
            if self.status_code is not None:
                raise RuntimeError("the app sent http.response.start twice")
            self.headers = _decode_headers(message.get("headers", ()))
            self.status_code = int(message["status"])
        elif kind == "http.response.body":
            if self.status_code is None:
                raise RuntimeError(
                    "the app sent http.response.body before http.response.start"
                )
            if self._response_complete:
                raise RuntimeError(
                    "the app sent http.response.body after the response was complete"
                )
            if body := message.get("body", b""):
                self._to_client.put(bytes(body))
            if not message.get("more_body", False):
                self._response_complete = True
                self._to_client.close()
                self._to_app.close(discard=True)
        elif kind == "http.response.push" and self._offers("http.response.push"):
            headers = _decode_headers(message.get("headers", ()))
            self.push_promises.append((str(message["path"]), headers))
        else:
            raise RuntimeError(
                f"the app sent {kind!r}, which is not an http response message"
            )

    def _offers(self, extension: str) -> bool:
        return extension in (self.scope.get("extensions") or {})


# The states of a TestWebsocketConnection, as the server sees the handshake and session.
_HANDSHAKE, _RESPONDING, _REFUSED, _OPEN, _CLOSED = (
    "handshake",
    "responding",
    "refused",
    "open",
    "closed",
)


class TestWebsocketConnection(_Exchange[Message]):
    """One in-process websocket session: ``async with client.websocket(path) as ws:``.

    Entering sends ``websocket.connect`` and waits for the app to accept; a refusal
    raises :class:`WebsocketResponseError`. ``send``/``receive`` exchange messages;
    ``receive`` raises :class:`~microframework.exceptions.WebsocketDisconnect` once the
    app has closed. Leaving the block closes with 1000 (unless closed already) and
    waits for the app to finish; an error the app raised propagates from there.
    """

    def __init__(self, app: SupportsTestClient, scope: Scope) -> None:
        super().__init__(app, scope)
        #: The subprotocol and headers of the app's ``websocket.accept``.
        self.subprotocol: str | None = None
        self.response_headers: Headers | None = None
        #: The code and reason of the app's ``websocket.close``, once it has closed.
        self.close_code: int | None = None
        self.close_reason: str | None = None
        self._state = _HANDSHAKE
        self._refusal_status = 403
        self._refusal_headers = Headers()
        self._refusal_body: list[bytes] = []
        self._client_closed = False
        self._disconnect: Message = {"type": "websocket.disconnect", "code": 1000}

    @property
    def accepted(self) -> bool:
        """True once the app has accepted the handshake."""
        return self._state in (_OPEN, _CLOSED)

    async def __aenter__(self) -> TestWebsocketConnection:
        task = self._start(self._asgi_receive, self._asgi_send)
        self._to_app.put({"type": "websocket.connect"})
        try:
            await self._to_client.get()  # the accept, or None: refused or ended
        except BaseException:
            await self._stop(task)
            raise
        if self.accepted:
            return self
        # Refused (or the app ended): let it run its teardown before the test goes on.
        await self._stop(task)
        self._raise_app_error(task)
        if self._state != _REFUSED:
            raise RuntimeError("the app returned without accepting or refusing")
        body = b"".join(self._refusal_body)
        response = self._response(body, self._refusal_status, self._refusal_headers)
        raise WebsocketResponseError(response)

    async def _finish(self, task: asyncio.Task[None], *, failed: bool) -> None:
        if not task.done() and self._state == _OPEN:
            await self.close(1000)
        await self._stop(task)

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
        if self.close_code is not None or task.done():
            self._raise_for_outcome(task)
        self._to_app.put(message)

    async def receive(self) -> str | bytes:
        """The app's next message; ``WebsocketDisconnect`` once the app has closed."""
        task = self._check_open()
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
        loads: Callable[[str | bytes], Any] = getattr(
            self.app.json, "loads", _json.loads
        )
        return loads(data)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close from the client side: the app's ``receive()`` gets the disconnect."""
        if not isinstance(code, int) or isinstance(code, bool):
            raise TypeError(f"code must be an int, not {type(code).__name__}")
        _ = self._entered_task()
        if self._client_closed:
            return
        self._client_closed = True
        if self._state != _CLOSED:  # else the app closed first and heard the echo
            self._hang_up(code, reason)

    def _check_open(self) -> asyncio.Task[None]:
        task = self._entered_task()
        if self._client_closed:
            raise RuntimeError("this websocket was closed by the test")
        return task

    def _raise_for_outcome(self, task: asyncio.Task[None]) -> NoReturn:
        """Explain why the session is over: the app closed, failed or returned."""
        if self.close_code is not None:
            raise WebsocketDisconnect(self.close_code, self.close_reason or "")
        self._raise_app_error(task)
        # What hypercorn does when an app returns from an open session.
        raise WebsocketDisconnect(1011, "the app returned without closing")

    def _hang_up(self, code: int = 1000, reason: str = "") -> None:
        """End the session: after what is queued, every ``receive()`` disconnects."""
        self._disconnect = {"type": "websocket.disconnect", "code": code}
        if reason:
            self._disconnect["reason"] = reason
        self._to_app.close()

    async def _asgi_receive(self) -> Message:
        message = await self._to_app.get()
        # After the disconnect every receive() repeats it, as a server's would.
        return dict(self._disconnect) if message is None else message

    async def _asgi_send(self, message: Message) -> None:
        if self._client_closed and self._state != _CLOSED:
            return  # the peer has gone: hypercorn drops what the app still writes
        kind, state = message.get("type"), self._state
        if state == _HANDSHAKE and kind == "websocket.accept":
            self._state = _OPEN
            self.subprotocol = message.get("subprotocol")
            self.response_headers = _decode_headers(message.get("headers", ()))
            self._to_client.put(message)
        elif state == _HANDSHAKE and kind == "websocket.close":
            self._refused()  # ASGI: a close before accept is answered with HTTP 403
        elif state == _HANDSHAKE and kind == "websocket.http.response.start":
            self._state = _RESPONDING
            self._refusal_status = int(message["status"])
            self._refusal_headers = _decode_headers(message.get("headers", ()))
        elif state == _RESPONDING and kind == "websocket.http.response.body":
            self._refusal_body.append(bytes(message.get("body", b"")))
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
            if not self._client_closed:
                # The client echoes the close frame; the server reports it to the app.
                self._hang_up()
        else:
            raise RuntimeError(
                f"the app sent {kind!r} while the websocket was in the {state} state"
            )

    def _refused(self) -> None:
        self._state = _REFUSED
        self._to_client.close()
        # The connection is over; an app that still listens hears it end.
        self._to_app.close()


async def wait_owned(task: asyncio.Task[None], timeout: float | None = None) -> None:
    """Wait for *task* to end (or *timeout*), not raising its error.

    If we are cancelled meanwhile, *task* is cancelled too: it must not outlive us.
    """
    try:
        await asyncio.wait({task}, timeout=timeout)
    except asyncio.CancelledError:
        task.cancel()
        raise


def _decode_headers(raw: Iterable[tuple[bytes, bytes]]) -> Headers:
    return Headers(
        [(key.decode("latin-1"), value.decode("latin-1")) for key, value in raw]
    )
