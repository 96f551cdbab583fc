"""Faults at unlucky moments: a cancel during teardown, a disconnect during the last send."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from asgi_harness import http_scope
from asgi_harness import websocket_scope

from microframework import _bounded
from microframework import _guard
from microframework import Microframework
from microframework import send_file
from microframework import websocket
from microframework.sse import event_stream
from microframework.sse import ServerSentEvent

LIMIT = 5


async def arange(n: int) -> Any:
    for i in range(n):
        yield i


async def _blocked() -> dict[str, Any]:
    await asyncio.Event().wait()
    raise AssertionError("unreachable")


@pytest.mark.parametrize("kind", ["http", "websocket"])
async def test_a_cancel_in_a_teardown_function_still_tears_down_the_app_context(
    kind: str,
) -> None:
    # A server cancelling at shutdown while a teardown function awaits (closing a DB
    # session) must not skip teardown_appcontext (returning the connection): Quart
    # and Flask pop the app context in a finally.
    app = Microframework(__name__)
    log: list[str] = []
    in_teardown = asyncio.Event()

    async def slow(error: BaseException | None) -> None:
        log.append("teardown")
        in_teardown.set()
        await asyncio.Event().wait()

    if kind == "http":
        app.teardown_request(slow)
    else:
        app.teardown_websocket(slow)

    @app.teardown_appcontext
    async def close_db(error: BaseException | None) -> None:
        await asyncio.sleep(0)  # its own awaits run: the cancel was delivered once
        log.append(f"appcontext {type(error).__name__}")

    @app.route("/")
    async def index() -> str:
        return "hi"

    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.accept()

    messages: list[dict[str, Any]] = [
        {"type": "http.request", "body": b"", "more_body": False}
        if kind == "http"
        else {"type": "websocket.connect"}
    ]

    async def receive() -> dict[str, Any]:
        return messages.pop() if messages else await _blocked()

    async def send(message: dict[str, Any]) -> None:
        pass

    scope = http_scope("/") if kind == "http" else websocket_scope("/ws")
    task = asyncio.ensure_future(app(scope, receive, send))
    async with asyncio.timeout(5):
        await in_teardown.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert log == ["teardown", "appcontext NoneType"]


class _ClosingServer:
    """As uvicorn and hypercorn: a waiting receive() hears http.disconnect as soon as
    the last body is handed over (inside that send)."""

    def __init__(self) -> None:
        self.inbound = [{"type": "http.request", "body": b"", "more_body": False}]
        self.done = asyncio.Event()

    async def receive(self) -> dict[str, Any]:
        if self.inbound:
            return self.inbound.pop()
        await self.done.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body" and not message.get("more_body"):
            self.done.set()


@pytest.mark.parametrize(
    "kind", ["stream", "big stream", "big bytes", "file", "events"]
)
async def test_a_send_wrapper_awaiting_after_the_last_body_is_not_cut(
    kind: str, tmp_path: Any
) -> None:
    # An access-log middleware awaits after passing the last body on: the disconnect
    # the server then reports must not cancel it, nor reach teardown as an error.
    app = Microframework(__name__)
    log: list[str] = []

    @app.teardown_request
    async def teardown(error: BaseException | None) -> None:
        log.append(f"teardown {type(error).__name__}")

    (tmp_path / "f.bin").write_bytes(b"x" * 200_000)

    @app.route("/")
    async def stream() -> Any:
        async def chunks() -> Any:
            for _ in range(3):
                yield b"x" * (200_000 if kind == "big stream" else 10)

        if kind == "big bytes":
            return b"x" * 200_000
        if kind == "file":
            return await send_file(tmp_path / "f.bin")
        if kind == "events":
            return event_stream(ServerSentEvent(str(n)) async for n in arange(3))
        return chunks(), 200

    server = _ClosingServer()

    async def logging_send(message: dict[str, Any]) -> None:
        await server.send(message)
        if message["type"] == "http.response.body" and not message["more_body"]:
            try:
                for _ in range(3):
                    await asyncio.sleep(0)
                log.append("logged")
            except asyncio.CancelledError:
                log.append("cancelled")
                raise

    async with asyncio.timeout(5):
        await app(http_scope("/"), server.receive, logging_send)  # type: ignore[arg-type]
    assert log == ["logged", "teardown NoneType"]


@pytest.mark.parametrize("body", ["in", "unread", "unread by a view that awaited"])
async def test_a_last_send_the_server_never_completes_is_cut_after_a_grace(
    monkeypatch: pytest.MonkeyPatch, body: str
) -> None:
    # hypercorn's HTTP/2 never completes the last send of a stream whose client left
    # while its window was shut: the disconnect heard then must still end the stream
    # (after a short grace), even with no response timeout. With the request body
    # unread, its rest is dropped before that send, and what drops it must tell; so
    # must the wrapper a view's own watch puts on send when the view awaited first.
    monkeypatch.setattr(_guard, "ENDING_GRACE", 0.01)
    app = Microframework(__name__)
    app.config["RESPONSE_TIMEOUT"] = None
    errors: list[str] = []

    @app.teardown_request
    async def teardown(error: BaseException | None) -> None:
        errors.append(type(error).__name__)

    @app.route("/", methods=["GET", "POST"])
    async def stream() -> Any:
        if body == "unread by a view that awaited":
            await asyncio.sleep(0)

        async def chunks() -> Any:
            yield b"x" * 200_000

        return chunks(), 200

    server = _ClosingServer()
    scope = http_scope("/")
    if body != "in":
        server.inbound = [{"type": "http.request", "body": b"x", "more_body": True}]
        scope = http_scope("/", "POST", [(b"content-length", b"100000")])

    async def stuck_send(message: dict[str, Any]) -> None:
        await server.send(message)
        if message["type"] == "http.response.body" and not message["more_body"]:
            await asyncio.Event().wait()  # the window never opens

    async with asyncio.timeout(5):
        await app(scope, server.receive, stuck_send)  # type: ignore[arg-type]
    assert errors == ["ClientDisconnected"]


async def test_an_event_stream_drained_during_its_last_send_ends_once() -> None:
    # Its end was handed to the server already: the drain must not send a second one.
    app = Microframework(__name__)
    app.config["SHUTDOWN_GRACE_PERIOD"] = LIMIT
    finals: list[dict[str, Any]] = []
    stuck = asyncio.Event()

    @app.route("/events")
    async def events() -> Any:
        return event_stream(ServerSentEvent(str(n)) async for n in arange(1))

    inbox = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive() -> dict[str, Any]:
        return inbox.pop() if inbox else await _blocked()

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body" and not message["more_body"]:
            finals.append(message)
            stuck.set()
            await asyncio.Event().wait()  # a client that stopped reading

    async with asyncio.timeout(LIMIT):
        task = asyncio.ensure_future(app(http_scope("/events"), receive, send))  # type: ignore[arg-type]
        await stuck.wait()
        # The drain's start lets an ending stream be; its deadline cuts this one.
        app.drain.start(LIMIT / 10)
        await task
    app.drain.end()
    assert len(finals) == 1


async def test_a_disconnect_heard_after_the_stream_ended_cancels_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Servers send http.disconnect once the response is complete: what drops the rest
    # of an unread body hears it after the stream's end, and must not cut teardown.
    monkeypatch.setattr(_guard, "ENDING_GRACE", 0)
    app = Microframework(__name__)
    log: list[str] = []

    @app.teardown_request
    async def teardown(error: BaseException | None) -> None:
        for _ in range(10):
            await asyncio.sleep(0)
        log.append(type(error).__name__)

    @app.post("/")
    async def stream() -> Any:
        async def chunks() -> Any:
            yield b"x" * 10

        return chunks(), 200

    inbox = [{"type": "http.request", "body": b"x" * 10, "more_body": True}]
    gone = asyncio.Event()

    async def receive() -> dict[str, Any]:
        if inbox:
            return inbox.pop()
        await gone.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body" and not message["more_body"]:
            await asyncio.sleep(0)  # the last send waits: the body's rest is dropped
            asyncio.get_running_loop().call_soon(gone.set)  # then the server says so

    scope = http_scope("/", "POST", [(b"content-length", b"100000")])
    async with asyncio.timeout(5):
        await app(scope, receive, send)  # type: ignore[arg-type]
    assert log == ["NoneType"]


async def test_a_disconnect_queued_before_the_last_send_cuts_nothing_after_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # HTTP/2, a body the view never read, its client gone before the last send: the
    # disconnect is heard while that send begins, and starts the grace. The send then
    # completes: the grace must not outlive it and cancel the teardown still running.
    monkeypatch.setattr(_guard, "ENDING_GRACE", 0.01)
    app = Microframework(__name__)
    log: list[str] = []

    @app.teardown_request
    async def teardown(error: BaseException | None) -> None:
        try:
            await asyncio.sleep(0.1)  # well past the grace: returning a connection
            log.append(f"torn down {type(error).__name__}")
        except asyncio.CancelledError:
            log.append("teardown cancelled")
            raise

    @app.post("/")
    async def stream() -> Any:
        async def chunks() -> Any:
            yield b"x" * 10

        return chunks(), 200

    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()  # get() steps at once
    for _ in range(100):
        inbox.put_nowait(
            {"type": "http.request", "body": b"x" * 1024, "more_body": True}
        )
    inbox.put_nowait({"type": "http.disconnect"})

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body" and not message["more_body"]:
            await asyncio.sleep(0)  # a writer's drain: waits once, then returns

    scope = http_scope("/", "POST", [(b"content-length", b"204800")], http_version="2")
    async with asyncio.timeout(LIMIT):
        await app(scope, inbox.get, send)  # type: ignore[arg-type]
    assert log == ["torn down NoneType"]


async def test_a_drain_beginning_during_an_event_streams_last_send_lets_it_finish() -> (
    None
):
    # uvicorn waits for a slow client before it writes the last message: the drain
    # ends event streams cleanly, and this one is ending so already. Cut, its end
    # would never be written (uvicorn: "returned without completing response").
    app = Microframework(__name__)
    app.config["SHUTDOWN_GRACE_PERIOD"] = LIMIT
    written: list[str] = []
    waiting, go_on = asyncio.Event(), asyncio.Event()

    @app.route("/events")
    async def events() -> Any:
        return event_stream(ServerSentEvent(str(n)) async for n in arange(1))

    inbox = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive() -> dict[str, Any]:
        return inbox.pop() if inbox else await _blocked()

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body" and not message["more_body"]:
            waiting.set()
            await go_on.wait()
            written.append("end")

    async with asyncio.timeout(LIMIT):
        task = asyncio.ensure_future(app(http_scope("/events"), receive, send))  # type: ignore[arg-type]
        await waiting.wait()
        app.drain.start(LIMIT)  # a cancel now would land before the send resumes
        go_on.set()
        await task
    app.drain.end()
    assert written == ["end"]


@pytest.mark.parametrize(
    ("size", "timeout"), [(10, 0.05), (10, 0.01), (100_000, 0.05), (10, None)]
)
async def test_a_bytes_body_stuck_on_a_shut_http2_window_is_cut(
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    size: int,
    timeout: float | None,
) -> None:
    # HTTP/2: streams share the connection's window, so even a small body's send may
    # wait; a client that resets the stream then must not hold the request for ever
    # (hypercorn never completes that send): a big body, or one without a timeout, is
    # watched as a stream; a small one is heard after a grace (else the idle timeout).
    # [10-0.01]: the grace is all of the timeout, nothing is left: still heard.
    monkeypatch.setattr(_guard, "ENDING_GRACE", 0.01)
    monkeypatch.setattr(_bounded, "ENDING_GRACE", 0.01)
    app = Microframework(__name__)
    app.config["RESPONSE_TIMEOUT"] = timeout
    log: list[str] = []

    @app.route("/")
    async def index() -> bytes:
        return b"x" * size

    @app.teardown_request
    async def teardown(error: BaseException | None) -> None:
        log.append(type(error).__name__)

    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    inbox.put_nowait({"type": "http.request", "body": b"", "more_body": False})

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body" and not message["more_body"]:
            inbox.put_nowait({"type": "http.disconnect"})  # the client reset the stream
            await asyncio.Event().wait()  # and the connection's window stays shut

    async with asyncio.timeout(LIMIT):
        await app(http_scope("/", http_version="2"), inbox.get, send)  # type: ignore[arg-type]
    assert log == ["ClientDisconnected"]  # heard, not left to the timeout
    assert "idle past its timeout" not in caplog.text


@pytest.mark.parametrize(
    ("grace", "timeout"), [(0.01, 0.05), (0.01, 0.005), (None, 0.02)]
)
async def test_a_small_http2_body_stuck_with_its_client_there_is_cut_at_the_timeout(
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    grace: float | None,
    timeout: float,
) -> None:
    # No disconnect: the window just stays shut. Heard after the grace (or at the
    # timeout, if that comes first), the client is still there: the timeout cuts,
    # then and not later (grace None: the real 1 s one, which a timeout below it
    # must not wait for).
    if grace is not None:
        monkeypatch.setattr(_bounded, "ENDING_GRACE", grace)
    app = Microframework(__name__)
    app.config["RESPONSE_TIMEOUT"] = timeout
    log: list[str] = []

    @app.route("/")
    async def index() -> bytes:
        return b"x" * 10

    @app.teardown_request
    async def teardown(error: BaseException | None) -> None:
        log.append(type(error).__name__)

    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    inbox.put_nowait({"type": "http.request", "body": b"", "more_body": False})

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body" and not message["more_body"]:
            await asyncio.Event().wait()

    async with asyncio.timeout(_guard.ENDING_GRACE / 2):  # well before 1 s, or hung
        await app(http_scope("/", http_version="2"), inbox.get, send)  # type: ignore[arg-type]
    assert log == ["NoneType"]
    assert "Response for GET / idle past its timeout; left unfinished" in caplog.text


async def test_a_small_http2_body_sent_in_time_is_not_cut() -> None:
    # The bound is the idle timeout's; a send that waits and then completes ends well,
    # its timer with it (a teardown running past the timeout is not cancelled), and a
    # server's own cancel is not taken for it.
    app = Microframework(__name__)
    app.config["RESPONSE_TIMEOUT"] = 0.02
    log: list[str] = []

    @app.route("/")
    async def index() -> bytes:
        return b"hello"

    @app.teardown_request
    async def teardown(error: BaseException | None) -> None:
        await asyncio.sleep(0.2)  # well past the timeout: a pooled connection returned
        log.append(type(error).__name__)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    bodies: list[bytes] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            await asyncio.sleep(0)  # hypercorn waits till the data is written
            bodies.append(message["body"])

    async with asyncio.timeout(LIMIT):
        await app(http_scope("/", http_version="2"), receive, send)  # type: ignore[arg-type]
    assert (bodies, log) == ([b"hello"], ["NoneType"])

    app.config["RESPONSE_TIMEOUT"] = LIMIT

    async def stuck(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            await asyncio.Event().wait()

    task = asyncio.ensure_future(app(http_scope("/", http_version="2"), receive, stuck))  # type: ignore[arg-type]
    for _ in range(10):
        await asyncio.sleep(0)
    task.cancel()  # the server's, at its shutdown
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_small_http2_body_sent_after_its_watch_began_ends_well(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Past its grace a waiting send listens for its client; once it completes, the
    # watch ends with it: a client leaving during teardown cancels nothing.
    monkeypatch.setattr(_bounded, "ENDING_GRACE", 0)
    app = Microframework(__name__)
    app.config["RESPONSE_TIMEOUT"] = LIMIT
    log: list[str] = []
    listening = asyncio.Event()
    left = asyncio.Event()
    calls = 0

    @app.route("/")
    async def index() -> bytes:
        return b"hello"

    @app.teardown_request
    async def teardown(error: BaseException | None) -> None:
        left.set()
        for _ in range(5):
            await asyncio.sleep(0)  # the disconnect is heard by nobody now
        log.append(type(error).__name__)

    async def receive() -> dict[str, Any]:
        nonlocal calls
        calls += 1
        if calls > 1:
            listening.set()
            await left.wait()
            return {"type": "http.disconnect"}
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            await listening.wait()

    async with asyncio.timeout(LIMIT):
        await app(http_scope("/", http_version="2"), receive, send)  # type: ignore[arg-type]
    assert log == ["NoneType"]
    assert not caplog.text
    assert not app.drain.members


@pytest.mark.parametrize("stuck", [False, True])
async def test_the_drains_503_to_a_waiting_view_goes_out_over_http2(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, stuck: bool
) -> None:
    # Made at the drain's deadline, the answer's send begins past it (hypercorn's
    # HTTP/2 send always waits a moment): it gets a grace, not a cut at once; one
    # stuck on a shut window is cut after it.
    monkeypatch.setattr(_bounded, "ENDING_GRACE", 0.01)
    app = Microframework(__name__)
    app.config["RESPONSE_TIMEOUT"] = LIMIT * 10
    log: list[str] = []
    polling = asyncio.Event()
    sent: list[tuple[str, Any]] = []

    @app.route("/")
    async def poll() -> str:
        polling.set()
        await asyncio.Event().wait()
        return "never"

    @app.teardown_request
    async def teardown(error: BaseException | None) -> None:
        log.append(type(error).__name__)

    async def receive() -> dict[str, Any]:
        await asyncio.Event().wait()
        return {}

    async def send(message: dict[str, Any]) -> None:
        await asyncio.sleep(0)  # taken once the server's writer has it
        if stuck and message["type"] == "http.response.body":
            await asyncio.Event().wait()
        sent.append((message["type"], message.get("status", message.get("more_body"))))

    async with asyncio.timeout(LIMIT):
        task = asyncio.ensure_future(
            app(http_scope("/", http_version="2"), receive, send)
        )  # type: ignore[arg-type]
        await polling.wait()
        app.drain.start(0.01)
        await task
    app.drain.end()
    assert log == ["NoneType"]
    assert not app.drain.members
    if stuck:
        assert sent == [("http.response.start", 503)]
        assert "Response for GET / cut by shutdown; left unfinished" in caplog.text
    else:
        assert sent == [("http.response.start", 503), ("http.response.body", False)]
        assert not caplog.text


async def test_a_client_leaving_while_http2_takes_the_unread_body_in_is_not_answered(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Over HTTP/2 the rest of an unread upload is taken in before answering; a client
    # that resets meanwhile is gone: nothing is sent (hypercorn would hold that send
    # until the timeout), and teardown hears that it left.
    app = Microframework(__name__)
    log: list[str] = []
    gone = asyncio.Event()

    @app.post("/")
    async def refuse() -> Any:
        await asyncio.sleep(0)  # it awaited something first: its watch wraps send
        gone.set()  # the client resets as the rest of the body is taken in
        return "too big", 413

    @app.teardown_request
    async def teardown(error: BaseException | None) -> None:
        log.append(type(error).__name__)

    inbox = [{"type": "http.request", "body": b"x" * 1000, "more_body": True}] * 3

    async def receive() -> dict[str, Any]:  # 3,000 of 30,000 bytes, then it leaves
        if inbox:
            return inbox.pop()
        await gone.wait()
        return {"type": "http.disconnect"}

    sent: list[str] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message["type"])

    scope = http_scope("/", "POST", [(b"content-length", b"30000")], http_version="2")
    async with asyncio.timeout(LIMIT):
        await app(scope, receive, send)  # type: ignore[arg-type]
    assert (sent, log) == ([], ["ClientDisconnected"])
    assert "idle past its timeout" not in caplog.text


@pytest.mark.parametrize("heard", [False, True])
async def test_the_drains_deadline_cuts_a_small_http2_body_stuck_on_its_window(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, heard: bool
) -> None:
    # Its send is bounded by a long timeout; a server shutting down must not wait for
    # it (hypercorn would cancel the request itself at --graceful-timeout, teardown
    # getting CancelledError and the process exiting with an error). *heard*: past its
    # grace, it listens for its client too, and is cut all the same.
    if heard:
        monkeypatch.setattr(_bounded, "ENDING_GRACE", 0)
    app = Microframework(__name__)
    app.config["RESPONSE_TIMEOUT"] = LIMIT * 10
    log: list[str] = []
    stuck = asyncio.Event()
    calls = 0

    @app.route("/")
    async def index() -> bytes:
        return b"hello"

    @app.teardown_request
    async def teardown(error: BaseException | None) -> None:
        log.append(type(error).__name__)

    async def receive() -> dict[str, Any]:
        nonlocal calls
        calls += 1
        if calls > 1:
            stuck.set()  # the watch listens: the client is still there
            await asyncio.Event().wait()
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            if not heard:
                stuck.set()
            await asyncio.Event().wait()  # the connection's window stays shut

    async with asyncio.timeout(LIMIT):
        task = asyncio.ensure_future(
            app(http_scope("/", http_version="2"), receive, send)
        )  # type: ignore[arg-type]
        await stuck.wait()
        app.drain.start(0.01)
        await task
    app.drain.end()
    assert log == ["NoneType"]
    assert "Response for GET / cut by shutdown; left unfinished" in caplog.text
    assert not app.drain.members


async def test_the_drains_deadline_ends_the_wait_for_an_unread_http2_upload() -> None:
    # Over HTTP/2 the rest of an unread upload is taken in before answering, for up
    # to BODY_TIMEOUT; a stalled upload held the answer that long past a shutdown's
    # deadline (hypercorn then cancelled the request, and hung on its own 500).
    app = Microframework(__name__)
    app.config["BODY_TIMEOUT"] = LIMIT * 10
    log: list[str] = []
    waiting = asyncio.Event()
    sent: list[Any] = []
    calls = 0

    @app.post("/")
    async def refuse() -> tuple[str, int]:
        await asyncio.sleep(0)  # it awaited: the rest is taken in before answering
        return "too big", 413

    @app.teardown_request
    async def teardown(error: BaseException | None) -> None:
        log.append(type(error).__name__)

    async def receive() -> dict[str, Any]:
        nonlocal calls
        calls += 1
        if calls == 1:
            return {"type": "http.request", "body": b"x" * 1000, "more_body": True}
        waiting.set()
        await asyncio.Event().wait()  # the upload stalls, the connection stays open
        return {}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message.get("status", message.get("more_body")))

    scope = http_scope("/", "POST", [(b"content-length", b"30000")], http_version="2")
    async with asyncio.timeout(LIMIT):
        task = asyncio.ensure_future(app(scope, receive, send))  # type: ignore[arg-type]
        await waiting.wait()
        app.drain.start(0.01)  # the view has answered by then: the wait is cut
        await task
    app.drain.end()
    assert (sent, log) == ([413, False], ["NoneType"])
    assert not app.drain.members


@pytest.mark.parametrize("kind", ["bytes", "stream"])
async def test_an_http2_head_stuck_on_a_shut_connection_is_cut_at_the_timeout(
    caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    # A client that stops reading the socket holds up even the head's send (hypercorn
    # writes it under the connection's lock), and so every stream on the connection.
    app = Microframework(__name__)
    app.config["RESPONSE_TIMEOUT"] = 0.02
    log: list[str] = []
    sent: list[str] = []

    @app.route("/")
    async def index() -> Any:
        async def body() -> AsyncIterator[bytes]:
            yield b"chunk"

        return b"small" if kind == "bytes" else body()

    @app.teardown_request
    async def teardown(error: BaseException | None) -> None:
        log.append(type(error).__name__)

    async def receive() -> dict[str, Any]:
        await asyncio.Event().wait()  # the client is still there
        return {}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message["type"])
        await asyncio.Event().wait()  # nothing gets through

    async with asyncio.timeout(LIMIT):
        await app(http_scope("/", http_version="2"), receive, send)  # type: ignore[arg-type]
    assert sent == ["http.response.start"]
    assert log == ["NoneType"]
    assert "for GET / idle past its timeout; left unfinished" in caplog.text
    assert not app.drain.members
