"""The dispatcher's paths that the common cases skip.

HTTP: the response sent in one message, the fast path (no teardown function, no signal
receiver) still tearing down what it must, each signal alone. Websockets: the end of a
connection (drain, session, teardown, reader) and how a cancel is told apart.
"""

from __future__ import annotations

import asyncio
import logging
from io import BytesIO
from typing import Any

import pytest
from asgi_harness import call
from asgi_harness import http_scope
from asgi_harness import websocket_scope
from werkzeug.datastructures import FileStorage

from microframework import has_app_context
from microframework import Microframework
from microframework import request
from microframework import Response
from microframework import session
from microframework import websocket
from microframework.sessions import SecureCookieSessionInterface
from microframework.signals import appcontext_popped
from microframework.signals import appcontext_tearing_down
from microframework.signals import got_websocket_exception
from microframework.signals import request_finished
from microframework.signals import request_tearing_down
from microframework.signals import websocket_finished
from microframework.signals import websocket_tearing_down
from microframework.typing import Message
from microframework.wrappers.body import BUFFERED


class _Peer:
    """A server's side of one websocket: connects, then disconnects once told to leave.

    ``reading`` is set when the app waits in a second receive() (a reader listens);
    ``receiving`` counts the receive() calls not yet returned or cancelled.
    """

    def __init__(self, *, leave_at_once: bool = False) -> None:
        self.connected = False
        self.leave = asyncio.Event()
        self.reading = asyncio.Event()
        self.receiving = 0
        self.sent: list[Message] = []
        if leave_at_once:
            self.leave.set()

    async def receive(self) -> Message:
        if not self.connected:
            self.connected = True
            return {"type": "websocket.connect"}
        self.receiving += 1
        try:
            self.reading.set()
            await self.leave.wait()
            return {"type": "websocket.disconnect", "code": 1001}
        finally:
            self.receiving -= 1

    async def send(self, message: Message) -> None:
        self.sent.append(message)


class _WaitingSessionInterface(SecureCookieSessionInterface):
    """A store that waits on I/O to open a session (as Redis or a database would)."""

    opens_without_waiting = False

    def __init__(self) -> None:
        self.saved = 0

    async def open_session(self, app: Any, request: Any) -> Any:
        await asyncio.sleep(0)  # one real suspension, as a network round trip
        return await super().open_session(app, request)

    async def save_session(self, app: Any, session: Any, response: Any) -> None:
        self.saved += 1
        await super().save_session(app, session, response)


# -- HTTP ------------------------------------------------------------------------------


async def test_a_body_of_exactly_64_kib_is_sent_as_two_messages(
    app: Microframework,
) -> None:
    # The boundary of the one-message send: a body of exactly BUFFERED bytes is still
    # sent whole, not through the watched streaming path.
    @app.route("/")
    async def index() -> bytes:
        return b"x" * BUFFERED

    rec = await call(app, http_scope("/"))
    assert [m["type"] for m in rec.sent] == [
        "http.response.start",
        "http.response.body",
    ]
    assert rec.sent[1]["more_body"] is False
    assert len(rec.sent[1]["body"]) == BUFFERED


async def test_teardown_appcontext_runs_without_teardown_request_or_signals(
    app: Microframework,
) -> None:
    # The fast path skips the teardown machinery only when there is nothing to run:
    # a teardown_appcontext function alone must still be called.
    seen: list[BaseException | None] = []

    @app.teardown_appcontext
    def down(exc: BaseException | None) -> None:
        seen.append(exc)

    @app.route("/")
    async def index() -> str:
        return "ok"

    response = await app.test_client().get("/")
    assert response.status_code == 200
    assert seen == [None]


async def test_uploaded_files_are_closed_after_a_request_without_teardown(
    app: Microframework,
) -> None:
    # Without teardown functions or signal receivers the request still releases its
    # uploads: otherwise each upload's spooled temporary file stays open.
    kept: list[FileStorage] = []

    @app.route("/", methods=["POST"])
    async def upload() -> str:
        files = await request.files
        kept.append(files["f"])
        return "ok"

    response = await app.test_client().post(
        "/", files={"f": (BytesIO(b"data"), "a.txt")}
    )
    assert response.status_code == 200
    assert len(kept) == 1
    assert kept[0].stream.closed


async def test_a_streamed_response_leaves_no_app_context_in_the_caller(
    app: Microframework,
) -> None:
    # The fast path resets the context variable it set: a server calling the app in
    # its own task must not find the finished request's context there afterwards.
    @app.route("/")
    async def index() -> Any:
        async def body() -> Any:
            yield b"a"
            yield b"b"

        return body()

    rec = await call(app, http_scope("/"))
    assert rec.body == b"ab"
    assert not has_app_context()


async def test_request_finished_gets_a_response_for_a_str_and_status_tuple(
    app: Microframework,
) -> None:
    # A receiver of request_finished is given a Response object whatever the view
    # returned (a plain (str, int) tuple is otherwise sent without building one).
    got: list[Any] = []

    def receiver(sender: Microframework, response: Any, **kwargs: Any) -> None:
        got.append(response)

    @app.route("/")
    async def index() -> tuple[str, int]:
        return "made", 201

    with request_finished.connected_to(receiver, app):
        response = await app.test_client().get("/")
    assert response.status_code == 201
    assert len(got) == 1
    assert isinstance(got[0], Response)
    assert got[0].status_code == 201


async def test_appcontext_tearing_down_alone_is_sent(app: Microframework) -> None:
    # A receiver of this signal alone (no teardown function) still makes the request
    # run its teardown.
    got: list[Any] = []

    @app.route("/")
    async def index() -> str:
        return "ok"

    def receiver(sender: Microframework, **kwargs: Any) -> None:
        got.append(sender)

    with appcontext_tearing_down.connected_to(receiver, app):
        response = await app.test_client().get("/")
    assert response.status_code == 200
    assert got == [app]


async def test_request_tearing_down_alone_is_sent(app: Microframework) -> None:
    # As above, for request_tearing_down.
    got: list[Any] = []

    @app.route("/")
    async def index() -> str:
        return "ok"

    def receiver(sender: Microframework, **kwargs: Any) -> None:
        got.append(sender)

    with request_tearing_down.connected_to(receiver, app):
        response = await app.test_client().get("/")
    assert response.status_code == 200
    assert got == [app]


async def test_a_waiting_session_store_is_opened_before_a_view_without_hooks(
    app: Microframework,
) -> None:
    # A store that must wait on I/O can't be opened on first use: the dispatcher opens
    # it before the view even when no hook or signal asks for the slow path.
    app.secret_key = "k"
    app.session_interface = _WaitingSessionInterface()

    @app.route("/")
    async def index() -> str:
        session["n"] = 1
        return "ok"

    response = await app.test_client().get("/")
    assert response.status_code == 200
    assert "session=" in response.headers.get("Set-Cookie", "")


async def test_a_str_with_a_custom_response_class_keeps_its_content_type(
    app: Microframework,
) -> None:
    # The str fast path builds the headers itself; with a response class of the app's
    # own it still sends one Content-Length and the text/html Content-Type.
    class MyResponse(Response):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)

    app.response_class = MyResponse

    @app.route("/")
    async def index() -> str:
        return "hi"

    rec = await call(app, http_scope("/"))
    names = [name for name, _ in rec.sent[0]["headers"]]
    assert rec.body == b"hi"
    assert names.count(b"content-length") == 1
    assert rec.headers[b"content-type"].startswith(b"text/html")


async def test_preprocess_request_returns_a_falsy_answer_of_a_before_request(
    app: Microframework,
) -> None:
    # As in Flask, any value but None from a before_request function is the answer,
    # an empty string included.
    @app.before_request
    def answer() -> str:
        return ""

    async with app.test_request_context("/"):
        assert await app.preprocess_request() == ""


# -- websockets ------------------------------------------------------------------------


async def test_a_client_gone_before_the_handshake_runs_nothing(
    app: Microframework,
) -> None:
    # A first message that is not websocket.connect: no handler, nothing sent.
    ran: list[str] = []

    @app.websocket("/ws")
    async def handler() -> None:
        ran.append("handler")

    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "websocket.disconnect", "code": 1006}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(websocket_scope(), receive, send)
    assert ran == []
    assert sent == []


async def test_a_waiting_session_store_is_open_in_a_websocket(
    app: Microframework,
) -> None:
    # As for HTTP: a store that waits is opened before the handler runs.
    app.secret_key = "k"
    app.session_interface = _WaitingSessionInterface()

    @app.websocket("/ws")
    async def handler() -> None:
        session["n"] = 1
        await websocket.send(str(session["n"]))

    async with asyncio.timeout(5):
        async with app.test_client().websocket("/ws") as ws:
            assert await ws.receive() == "1"


async def test_websocket_finished_is_sent(app: Microframework) -> None:
    # The signal is sent once the handler returns, with its (None) return value.
    got: list[Any] = []

    def receiver(sender: Microframework, response: Any, **kwargs: Any) -> None:
        got.append(response)

    @app.websocket("/ws")
    async def handler() -> None:
        await websocket.accept()

    peer = _Peer(leave_at_once=True)
    with websocket_finished.connected_to(receiver, app):
        await app(websocket_scope(), peer.receive, peer.send)
    assert got == [None]


async def test_a_finished_websocket_leaves_the_drain(app: Microframework) -> None:
    # The drain holds the open connections to close them at shutdown: an ended one must
    # not stay there (the drain would wait on it, and it would never be freed).
    during: list[int] = []

    @app.websocket("/ws")
    async def handler() -> None:
        during.append(len(app.drain.members))
        await websocket.send("hi")

    peer = _Peer(leave_at_once=True)
    await app(websocket_scope(), peer.receive, peer.send)
    assert during == [1]
    assert not app.drain.members


async def test_appcontext_popped_is_sent_after_a_websocket(
    app: Microframework,
) -> None:
    # The websocket path sends appcontext_popped as the HTTP path does.
    got: list[Any] = []

    def receiver(sender: Microframework, **kwargs: Any) -> None:
        got.append(sender)

    @app.websocket("/ws")
    async def handler() -> None:
        await websocket.accept()

    peer = _Peer(leave_at_once=True)
    with appcontext_popped.connected_to(receiver, app):
        await app(websocket_scope(), peer.receive, peer.send)
    assert got == [app]


async def test_a_websocket_session_is_saved_at_the_end_without_teardown(
    app: Microframework,
) -> None:
    # A session opened in a websocket is saved when it ends, even when the connection
    # needs no other ending (no reader, no teardown function, no signal receiver).
    app.secret_key = "k"
    interface = _WaitingSessionInterface()
    app.session_interface = interface

    @app.websocket("/ws")
    async def handler() -> None:
        await websocket.accept()
        session["n"] = 1

    peer = _Peer(leave_at_once=True)
    await app(websocket_scope(), peer.receive, peer.send)
    assert interface.saved == 1


async def test_no_receive_is_left_pending_when_the_websocket_app_returns(
    app: Microframework,
) -> None:
    # A handler that doesn't receive gets a reader to hear the peer leave; when it
    # ends, the reader is cancelled and awaited before the app returns (ASGI: no call
    # of the server's receive() after the app returned), on the fast path too.
    peer = _Peer()

    @app.websocket("/ws")
    async def handler() -> None:
        await websocket.accept()
        await peer.reading.wait()  # the reader is in receive()

    async with asyncio.timeout(5):
        await app(websocket_scope(), peer.receive, peer.send)
    assert peer.receiving == 0


async def test_websocket_tearing_down_is_sent_without_teardown_functions(
    app: Microframework,
) -> None:
    # A receiver of the signal alone makes the websocket run its teardown.
    got: list[Any] = []

    def receiver(sender: Microframework, **kwargs: Any) -> None:
        got.append(sender)

    @app.websocket("/ws")
    async def handler() -> None:
        await websocket.accept()

    peer = _Peer(leave_at_once=True)
    with websocket_tearing_down.connected_to(receiver, app):
        await app(websocket_scope(), peer.receive, peer.send)
    assert got == [app]


async def test_teardown_appcontext_runs_after_a_websocket(app: Microframework) -> None:
    # As for HTTP: a teardown_appcontext function alone is still called.
    seen: list[BaseException | None] = []

    @app.teardown_appcontext
    def down(exc: BaseException | None) -> None:
        seen.append(exc)

    @app.websocket("/ws")
    async def handler() -> None:
        await websocket.accept()

    peer = _Peer(leave_at_once=True)
    await app(websocket_scope(), peer.receive, peer.send)
    assert seen == [None]


async def test_a_failing_websocket_session_save_is_logged_not_raised(
    app: Microframework, caplog: pytest.LogCaptureFixture
) -> None:
    # There is no response left to turn the error into: the save's error is logged and
    # the connection ends normally (the server sees no exception).
    class FailingSave(SecureCookieSessionInterface):
        async def save_session(self, app: Any, session: Any, response: Any) -> None:
            raise RuntimeError("store down")

    app.secret_key = "k"
    app.session_interface = FailingSave()

    @app.websocket("/ws")
    async def handler() -> None:
        await websocket.accept()
        session["n"] = 1

    peer = _Peer(leave_at_once=True)
    with caplog.at_level(logging.ERROR):
        await app(websocket_scope(), peer.receive, peer.send)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert errors[0].exc_info is not None
    assert isinstance(errors[0].exc_info[1], RuntimeError)


async def test_teardown_after_the_peer_left_does_not_run_cancelled(
    app: Microframework,
) -> None:
    # The peer leaving cancels a handler waiting elsewhere; that cancel is taken back
    # before teardown, whose own awaits (a database, a lock) would else be cancelled.
    peer = _Peer()
    cancelling: list[int] = []

    @app.teardown_websocket
    async def down(exc: BaseException | None) -> None:
        task = asyncio.current_task()
        assert task is not None
        cancelling.append(task.cancelling())

    @app.websocket("/ws")
    async def handler() -> None:
        await websocket.accept()
        await asyncio.Event().wait()  # not receiving: only its reader hears the peer

    async with asyncio.timeout(5):
        task = asyncio.create_task(app(websocket_scope(), peer.receive, peer.send))
        await peer.reading.wait()
        peer.leave.set()
        await task
    assert cancelling == [0]


async def test_a_cancel_from_outside_the_websocket_propagates(
    app: Microframework,
) -> None:
    # A server cancelling the app (shutdown) is not a peer leaving: the CancelledError
    # must come out of the app.
    peer = _Peer()
    accepted = asyncio.Event()

    @app.websocket("/ws")
    async def handler() -> None:
        await websocket.accept()
        accepted.set()
        await asyncio.Event().wait()

    async with asyncio.timeout(5):
        task = asyncio.create_task(app(websocket_scope(), peer.receive, peer.send))
        await accepted.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert task.cancelled()


async def test_got_websocket_exception_is_sent_for_an_error_after_accept(
    app: Microframework,
) -> None:
    # An error after the accept can't be answered with a response: the signal is still
    # sent and the connection closed with 1011 (internal error).
    app.testing = False
    got: list[BaseException] = []

    def receiver(sender: Microframework, exception: BaseException, **kw: Any) -> None:
        got.append(exception)

    @app.websocket("/ws")
    async def handler() -> None:
        await websocket.accept()
        raise ValueError("late")

    peer = _Peer()
    with got_websocket_exception.connected_to(receiver, app):
        async with asyncio.timeout(5):
            await app(websocket_scope(), peer.receive, peer.send)
    assert [type(e) for e in got] == [ValueError]
    assert peer.sent[-1]["type"] == "websocket.close"
    assert peer.sent[-1]["code"] == 1011
