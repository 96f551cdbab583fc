"""Pins from mutation testing _guard, the test connections, sessions, _drain and _background.

Each test here fails with one mutant of the code that no other test noticed (one,
S08, only the derandomized websocket fuzz run did).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from asgi_harness import call
from asgi_harness import http_scope
from asgi_harness import Recorder
from itsdangerous import URLSafeTimedSerializer

from microframework import _drain
from microframework import Microframework
from microframework import Response
from microframework import session
from microframework import websocket
from microframework.sessions import SecureCookieSession
from microframework.sessions import SecureCookieSessionInterface
from microframework.sessions import session_json_serializer


async def test_a_stream_of_an_unrouted_request_has_the_apps_response_timeout(
    app: Microframework,
) -> None:
    # A 404 handler's stream has no route: RESPONSE_TIMEOUT is its idle limit.
    app.config["RESPONSE_TIMEOUT"] = 0.05

    @app.errorhandler(404)
    async def missing(error: Exception) -> Response:
        async def chunks() -> AsyncIterator[bytes]:
            yield b"not here"
            await asyncio.Event().wait()

        return Response(chunks(), status=404)

    async with asyncio.timeout(2):
        recorder = await call(app, http_scope("/nowhere"))
    assert recorder.status == 404
    assert recorder.body == b"not here"
    assert recorder.sent[-1]["more_body"] is True  # cut, not ended


async def test_a_client_gone_at_a_streams_last_send_is_no_server_error(
    app: Microframework,
) -> None:
    # The server's send() raising OSError at the stream's end means the client left:
    # nothing to raise into the server, as for a send of a chunk.
    @app.route("/")
    async def index() -> Response:
        async def chunks() -> AsyncIterator[bytes]:
            yield b"all of it"

        return Response(chunks())

    recorder = Recorder()

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body" and not message["more_body"]:
            raise ConnectionResetError("peer gone")
        await recorder.send(message)

    async with asyncio.timeout(2):
        await app(http_scope("/"), recorder.receive, send)
    assert recorder.body == b"all of it"


async def test_an_event_stream_ended_by_the_drain_sends_its_trailers(
    app: Microframework,
) -> None:
    # The drain ends an event stream cleanly: the body's end, then its trailers.
    @app.get("/events")
    async def events() -> Response:
        async def source() -> AsyncIterator[bytes]:
            yield b"data: hello\n\n"
            await asyncio.Event().wait()

        response = Response(source(), mimetype="text/event-stream")
        response.trailers = {"X-Done": "yes"}
        return response

    scope = http_scope("/events", extensions={"http.response.trailers": {}})
    app.drain.start(3600)
    try:
        async with asyncio.timeout(2):
            recorder = await call(app, scope)
    finally:
        app.drain.end()
    assert [m["type"] for m in recorder.sent][-2:] == [
        "http.response.body",
        "http.response.trailers",
    ]
    assert recorder.sent[-2]["more_body"] is False
    assert recorder.sent[-1]["headers"] == [(b"x-done", b"yes")]


async def test_a_connection_can_be_entered_only_once(app: Microframework) -> None:
    @app.route("/")
    async def index() -> str:
        return "hi"

    connection = app.test_client().request("/")
    async with asyncio.timeout(2):
        async with connection:
            await connection.send_complete()
            assert await connection.receive() == b"hi"
        with pytest.raises(RuntimeError, match="entered only once"):
            async with connection:
                pass


async def test_leaving_a_connection_cancels_an_app_that_does_not_listen_at_once(
    app: Microframework,
) -> None:
    # As a server would: an app that neither listens nor was told of the disconnect
    # can't handle it, so it isn't given the grace period, it is cancelled now.
    entered, cancelled = asyncio.Event(), asyncio.Event()

    @app.before_request
    async def stuck() -> None:
        entered.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    connection = app.test_client().request("/", method="POST")
    connection.disconnect_grace = 60
    async with asyncio.timeout(2):
        async with connection:
            await connection.send(b"part of the body")
            await entered.wait()
    assert cancelled.is_set()


async def test_a_failing_block_leaves_an_app_still_answering(
    app: Microframework,
) -> None:
    # The test's block failed: its client disconnects rather than wait for an answer
    # that may never come (the test's error is what it sees).
    entered = asyncio.Event()

    @app.route("/", methods=["POST"])
    async def index() -> str:
        entered.set()
        await asyncio.Event().wait()
        return "never"

    connection = app.test_client().request("/", method="POST")
    connection.disconnect_grace = 60
    async with asyncio.timeout(2):
        with pytest.raises(KeyError, match="the test's own"):
            async with connection:
                await connection.send_complete(b"all of it")
                await entered.wait()
                raise KeyError("the test's own")


async def test_an_empty_body_message_is_not_the_end_of_the_response(
    app: Microframework,
) -> None:
    # receive() returns b"" only once the response is complete: an empty chunk an
    # app sends mid-response is no chunk at all.
    @app.route("/")
    async def index() -> str:
        return "rest"

    inner = app.asgi_app

    async def asgi_app(scope: Any, receive: Any, send: Any) -> None:
        async def send_with_empty(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.body":
                await send(
                    {"type": "http.response.body", "body": b"", "more_body": True}
                )
            await send(message)

        await inner(scope, receive, send_with_empty)

    app.asgi_app = asgi_app  # type: ignore[method-assign]
    connection = app.test_client().request("/")
    async with asyncio.timeout(2):
        async with connection:
            await connection.send_complete()
            assert await connection.receive() == b"rest"
            assert await connection.receive() == b""


async def test_a_cancel_while_entering_a_websocket_stops_the_app(
    app: Microframework,
) -> None:
    # Entering is cancelled (an outer timeout, say) while the app has not answered
    # the handshake: the app's task is ended too, not left running.
    entered, cancelled = asyncio.Event(), asyncio.Event()

    @app.websocket("/ws")
    async def ws() -> None:
        entered.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    connection = app.test_client().websocket("/ws")
    connection.handshake_wait = 60
    connection.disconnect_grace = 0
    async with asyncio.timeout(2):
        entering = asyncio.create_task(connection.__aenter__())
        await entered.wait()
        entering.cancel()
        with pytest.raises(asyncio.CancelledError):
            await entering
    assert cancelled.is_set()


async def test_leaving_a_websocket_still_handshaking_hangs_up(
    app: Microframework,
) -> None:
    # A handler that waits for the test before accepting (a push-only feed) hears
    # the client leave when the block ends: it isn't left to the grace period.
    feed: asyncio.Queue[str] = asyncio.Queue()
    cancelled = asyncio.Event()

    @app.websocket("/feed")
    async def listen() -> None:
        try:
            while True:
                await websocket.send(await feed.get())
        except asyncio.CancelledError:
            cancelled.set()
            raise

    connection = app.test_client().websocket("/feed")
    connection.handshake_wait = 0
    connection.disconnect_grace = 60
    async with asyncio.timeout(2):
        async with connection:
            assert not connection.accepted
    assert cancelled.is_set()


async def test_a_session_made_not_permanent_is_a_browser_session(
    app: Microframework,
) -> None:
    # permanent is the stored flag's value, not whether it was ever set (as Flask's).
    stored = SecureCookieSession({"_permanent": False})
    assert stored.permanent is False

    app.secret_key = "test key"

    @app.route("/")
    async def index() -> str:
        session.permanent = False
        session["user"] = "someone"
        return ""

    response = await app.test_client().get("/")
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("session=")
    assert "Expires" not in cookie


def test_the_permanent_flag_is_stored_as_a_bool() -> None:
    # As Flask: what is stored (and signed into the cookie) is True or False, whatever
    # truthy value was set.
    stored = SecureCookieSession()
    stored.permanent = 1  # type: ignore[assignment]
    assert stored["_permanent"] is True
    stored.permanent = ""  # type: ignore[assignment]
    assert stored["_permanent"] is False


async def test_a_non_ascii_secret_key_signs_as_flasks_does(app: Microframework) -> None:
    # itsdangerous (so Flask) encodes a str key as UTF-8: a cookie Flask signed with
    # the same key opens here, and one signed with a look-alike key doesn't.
    def flask_cookie(key: str) -> str:
        signer = URLSafeTimedSerializer(
            key,
            salt="cookie-session",
            serializer=session_json_serializer,
            signer_kwargs={"key_derivation": "hmac", "digest_method": hashlib.sha1},
        )
        return signer.dumps({"user": "zoë"})

    app.secret_key = "clé secrète ключ"

    @app.route("/")
    async def index() -> str:
        return str(session.get("user"))

    client = app.test_client()
    response = await client.get(
        "/", headers={"Cookie": "session=" + flask_cookie(app.secret_key)}
    )
    assert await response.get_data(as_text=True) == "zoë"
    other = "cl? secr?te ????"
    response = await client.get(
        "/", headers={"Cookie": "session=" + flask_cookie(other)}
    )
    assert await response.get_data(as_text=True) == "None"


async def test_the_null_session_class_of_the_interface_is_never_saved(
    app: Microframework,
) -> None:
    # As Flask's: a null session is an instance of the interface's own
    # null_session_class (here a writable one), and a null session isn't saved.
    class Blank(SecureCookieSession):
        pass

    saved: list[object] = []

    class Interface(SecureCookieSessionInterface):
        null_session_class = Blank

        async def open_session(self, app: Any, request: Any) -> None:
            return None

        async def save_session(self, app: Any, session: Any, response: Any) -> None:
            saved.append(session)

    app.secret_key = "test key"
    app.session_interface = Interface()

    @app.route("/")
    async def index() -> str:
        session["user"] = "someone"
        return type(session._get_current_object()).__name__

    response = await app.test_client().get("/")
    assert await response.get_data(as_text=True) == "Blank"
    assert saved == []


async def test_the_hypercorn_worker_watch_ends_with_the_serving(
    app: Microframework, monkeypatch: pytest.MonkeyPatch
) -> None:
    # In a hypercorn worker the app watches the worker's shutdown event: a task of
    # the serving period, ended with it (not left polling after the lifespan).
    class Event:
        def is_set(self) -> bool:
            return False

    monkeypatch.setattr(_drain, "_worker_shutdown_event", Event)
    async with asyncio.timeout(2):
        async with app.test_app():
            (watcher,) = [
                task
                for task in asyncio.all_tasks()
                if task.get_name() == "microframework drain watcher"
            ]
            assert not watcher.done()
        # asyncio.wait, not await: a cancel of ours would cancel the watcher too.
        await asyncio.wait({watcher}, timeout=1)
    assert watcher.cancelled()


async def test_shutdown_finishes_a_task_a_task_starts_before_after_serving(
    app: Microframework,
) -> None:
    # Shutdown waits for the tasks, then cancels the rest, before after_serving runs
    # (it may close what tasks use): also tasks one starts while shutdown waits.
    app.config["BACKGROUND_TASK_SHUTDOWN_TIMEOUT"] = 0.5
    children: list[asyncio.Task[Any]] = []
    seen: list[bool] = []

    async def forever() -> None:
        await asyncio.Event().wait()

    async def parent() -> None:
        await app.shutdown_event.wait()
        children.append(app.add_background_task(forever))

    @app.after_serving
    async def close_pools() -> None:
        seen.extend(child.cancelled() for child in children)

    async with asyncio.timeout(5):
        async with app.test_app():
            async with app.app_context():
                app.add_background_task(parent)
    assert seen == [True]
    assert not app.background_tasks


async def test_a_session_read_during_an_accepted_websocket_is_not_saved(
    app: Microframework, caplog: pytest.LogCaptureFixture
) -> None:
    # An accepted websocket has no response for a cookie: its session, even one it
    # read, is left as it is (only a change is warned of); saving it is no error.
    app.secret_key = "test key"

    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.accept()
        await websocket.send(str(session.get("user")))

    async with asyncio.timeout(2):
        async with app.test_client().websocket("/ws") as connection:
            assert await connection.receive() == "None"
    assert not caplog.records


async def test_the_hypercorn_worker_watch_drains_only_once_its_event_is_set(
    app: Microframework, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The watch polls the worker's shutdown event: an event not set, however often
    # it is polled, starts no drain.
    polled_twice = asyncio.Event()

    class Event:
        polls = 0

        def is_set(self) -> bool:
            self.polls += 1
            if self.polls == 2:
                polled_twice.set()
            return False

    monkeypatch.setattr(_drain, "_worker_shutdown_event", Event)
    async with asyncio.timeout(2):
        async with app.test_app():
            await polled_twice.wait()
            assert not app.drain.draining


async def test_a_lifetime_of_fractional_seconds_is_a_lifetime(
    app: Microframework,
) -> None:
    # As Flask: PERMANENT_SESSION_LIFETIME may be any number of seconds, a float too.
    app.secret_key = "test key"
    app.config["PERMANENT_SESSION_LIFETIME"] = 90.5

    @app.route("/")
    async def index() -> str:
        session.permanent = True
        session["user"] = "someone"
        return ""

    response = await app.test_client().get("/")
    assert response.status_code == 200
    assert "Expires=" in response.headers["Set-Cookie"]
