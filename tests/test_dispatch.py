"""The ASGI messages themselves: what goes out, when, and what happens on disconnect."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import sys
from collections.abc import Callable
from typing import Any

import pytest
from asgi_harness import call
from asgi_harness import cycles_made
from asgi_harness import http_scope
from asgi_harness import Recorder
from werkzeug.exceptions import Forbidden
from werkzeug.exceptions import ImATeapot
from werkzeug.exceptions import MethodNotAllowed
from werkzeug.exceptions import NotFound
from werkzeug.routing import RequestRedirect

from microframework import abort
from microframework import Microframework
from microframework import request
from microframework import Response
from microframework import websocket
from microframework.exceptions import ClientDisconnected
from microframework.testing import WebsocketResponseError
from microframework.wrappers.response import plain_response_headers


async def test_bytes_response_is_two_messages(app: Microframework) -> None:
    @app.route("/")
    async def index() -> str:
        return "Hello"

    rec = await call(app, http_scope("/"))
    assert [m["type"] for m in rec.sent] == [
        "http.response.start",
        "http.response.body",
    ]
    assert rec.sent[1] == {
        "type": "http.response.body",
        "body": b"Hello",
        "more_body": False,
    }
    assert rec.headers[b"content-length"] == b"5"
    assert all(name == name.lower() for name, _ in rec.sent[0]["headers"])


async def test_head_sends_no_body_but_keeps_length(app: Microframework) -> None:
    @app.route("/")
    async def index() -> str:
        return "Hello"

    rec = await call(app, http_scope("/", method="HEAD"))
    assert rec.status == 200
    assert rec.body == b""
    assert rec.headers[b"content-length"] == b"5"


async def test_no_body_for_204(app: Microframework) -> None:
    @app.route("/")
    async def index() -> tuple[str, int]:
        return "ignored", 204

    rec = await call(app, http_scope("/"))
    assert rec.status == 204
    assert rec.body == b""


async def test_204_sends_no_content_length(app: Microframework) -> None:
    # Found by tests/fuzz: RFC 9110 8.6 forbids Content-Length in a 204.
    @app.route("/")
    async def index() -> tuple[str, int]:
        return "", 204

    rec = await call(app, http_scope("/"))
    assert rec.status == 204
    assert b"content-length" not in rec.headers


async def test_async_generator_is_streamed_chunk_by_chunk(app: Microframework) -> None:
    @app.route("/")
    async def index() -> Any:
        async def gen() -> Any:
            yield "a"
            yield b"b"

        return gen()

    rec = await call(app, http_scope("/"))
    bodies = [(m["body"], m["more_body"]) for m in rec.sent[1:]]
    assert bodies == [(b"a", True), (b"b", True), (b"", False)]
    assert b"content-length" not in rec.headers


async def test_sync_generator_is_streamed(app: Microframework) -> None:
    @app.route("/")
    def index() -> Any:
        def gen() -> Any:
            yield "x"
            yield "y"

        return gen()

    rec = await call(app, http_scope("/"))
    assert rec.body == b"xy"


async def test_disconnect_during_stream_cancels_and_tears_down(
    app: Microframework,
) -> None:
    cleaned = asyncio.Event()
    torn_down: list[BaseException | None] = []
    first_chunk_sent = asyncio.Event()

    @app.route("/")
    async def index() -> Any:
        async def gen() -> Any:
            try:
                yield "first"
                first_chunk_sent.set()
                await asyncio.Event().wait()  # a stream that would never end
                yield "never"
            finally:
                cleaned.set()

        return gen()

    @app.teardown_request
    async def teardown(exc: BaseException | None) -> None:
        torn_down.append(exc)

    rec = Recorder()
    task = asyncio.create_task(call(app, http_scope("/"), rec))
    await first_chunk_sent.wait()
    rec.disconnect()
    await task
    assert cleaned.is_set()
    assert len(torn_down) == 1 and isinstance(torn_down[0], ClientDisconnected)
    assert rec.sent[-1]["more_body"] is True  # the response was never completed
    assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []


async def test_header_with_nul_is_refused_as_500(
    app: Microframework, caplog: Any
) -> None:
    app.testing = False

    @app.route("/")
    async def index() -> Response:
        response = Response("x")
        response.headers._list.append(("X-Bad", "a\x00b"))  # bypass werkzeug's checks
        return response

    with caplog.at_level(logging.ERROR):
        rec = await call(app, http_scope("/"))
    assert rec.status == 500
    assert b"a\x00b" not in b"".join(v for _, v in rec.sent[0]["headers"])


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("", "v"),
        ("X Bad", "v"),
        ("X:Bad", "v"),
        ("X-Bad\n", "v"),
        ("X-\u00e9", "v"),
        ("X-Ok", "a\x01b"),
        ("X-Ok", "a\x1fb"),
        ("X-Ok", "a\x7fb"),
        ("X-Ok", "a\x0bb"),
    ],
)
async def test_invalid_header_name_or_control_character_is_a_500_naming_it(
    app: Microframework,
    caplog: pytest.LogCaptureFixture,
    name: str,
    value: str,
) -> None:
    app.testing = False

    @app.route("/")
    async def index() -> Response:
        response = Response("x")
        response.headers._list.append((name, value))  # bypass werkzeug's checks
        return response

    with caplog.at_level(logging.ERROR):
        rec = await call(app, http_scope("/"))
    assert rec.status == 500
    assert all(
        k != name.encode("latin-1", "replace") for k, _ in rec.sent[0]["headers"]
    )
    assert repr(name) in caplog.text


@pytest.mark.parametrize(
    "returned",
    [
        ("a", "abc"),  # werkzeug makes it status 0
        ("a", 0),
        ("a", 99),
        ("a", 100),  # interim, never final
        ("a", 600),  # RFC 9110 15: 100-599; uvicorn dropped the connection
        ("a", 799),
        ("a", 1000),
        ("a", -1),
        (b"a", 0),  # a Response, not the str fast path
        (iter([b"a"]), 0),  # a stream
    ],
)
async def test_a_status_no_server_would_send_is_a_handled_500(
    app: Microframework, caplog: pytest.LogCaptureFixture, returned: tuple[Any, Any]
) -> None:
    # Sent as given, h11 refused it past the app: no log, no 500 handler, and the
    # client got the server's empty 500.
    app.testing = False
    handled: list[int] = []

    @app.route("/")
    async def index() -> Any:
        return returned

    @app.errorhandler(500)
    async def on_500(error: Exception) -> Any:
        handled.append(500)
        return "sorry", 500

    with caplog.at_level(logging.ERROR):
        rec = await call(app, http_scope("/"))
    assert rec.status == 500
    assert rec.body == b"sorry"
    assert handled == [500]
    assert "the view function for 'index' answered with the status" in caplog.text
    assert "not a final HTTP status" in caplog.text
    if returned[1] == "abc":  # the message shows what was given, and why the 0
        assert "status '0 abc'" in caplog.text
        assert "werkzeug reads 'abc' as '0 abc'" in caplog.text


@pytest.mark.parametrize("status", [200, 299, 599, "299 Custom"])
async def test_every_final_status_is_sent(app: Microframework, status: Any) -> None:
    @app.route("/")
    async def index() -> Any:
        return "a", status

    rec = await call(app, http_scope("/"))
    assert rec.status == (299 if status == "299 Custom" else status)


async def test_a_tab_in_a_header_value_is_allowed(app: Microframework) -> None:
    @app.route("/")
    async def index() -> Response:
        return Response("x", headers={"X-Tab": "a\tb"})

    rec = await call(app, http_scope("/"))
    assert rec.status == 200
    assert rec.headers[b"x-tab"] == b"a\tb"


async def test_header_with_newline_cannot_be_set() -> None:
    response = Response("x")
    with pytest.raises(ValueError):
        response.headers["X-Bad"] = "a\r\nSet-Cookie: evil=1"


async def test_declared_oversize_body_is_413_without_reading(
    app: Microframework,
) -> None:
    app.config["MAX_CONTENT_LENGTH"] = 10
    reads = 0

    @app.post("/")
    async def index() -> bytes:
        return await request.get_data()  # type: ignore[no-any-return]

    async def receive() -> dict[str, Any]:
        nonlocal reads
        reads += 1
        return {"type": "http.request", "body": b"x" * 15, "more_body": False}

    rec = Recorder()
    scope = http_scope("/", method="POST", headers=[(b"content-length", b"15")])
    await app(scope, receive, rec.send)
    assert rec.status == 413
    assert reads == 0


async def test_understated_chunked_body_is_cut_at_limit(app: Microframework) -> None:
    app.config["MAX_CONTENT_LENGTH"] = 10
    reads = 0

    @app.post("/")
    async def index() -> bytes:
        return await request.get_data()  # type: ignore[no-any-return]

    async def receive() -> dict[str, Any]:
        nonlocal reads
        reads += 1
        return {"type": "http.request", "body": b"x" * 6, "more_body": True}

    rec = Recorder()
    scope = http_scope("/", method="POST", headers=[(b"transfer-encoding", b"chunked")])
    await app(scope, receive, rec.send)
    assert rec.status == 413
    assert reads == 2  # 12 bytes > 10: stopped at the chunk that crossed the limit


async def test_per_request_max_content_length_is_honoured(app: Microframework) -> None:
    app.config["MAX_CONTENT_LENGTH"] = None

    @app.before_request
    async def lower_limit() -> None:
        request.max_content_length = 3

    @app.post("/")
    async def index() -> bytes:
        return await request.get_data()  # type: ignore[no-any-return]

    rec = await call(app, http_scope("/", method="POST"), Recorder(b"abcd"))
    assert rec.status == 413


async def test_stalled_body_is_408(app: Microframework) -> None:
    app.config["BODY_TIMEOUT"] = 0.01

    @app.post("/")
    async def index() -> bytes:
        return await request.get_data()  # type: ignore[no-any-return]

    rec = Recorder()
    # No message ever arrives: the client stalls.
    rec.inbox = asyncio.Queue()
    await call(app, http_scope("/", method="POST"), rec)
    assert rec.status == 408


_FORM = [(b"content-type", b"application/x-www-form-urlencoded")]
_MULTIPART = [(b"content-type", b"multipart/form-data; boundary=B")]


def _body_reading_app(app: Microframework) -> Microframework:
    @app.post("/data")
    async def data() -> str:
        return str(len(await request.get_data()))

    @app.post("/form")
    async def form() -> str:
        return str(len(await request.form))

    @app.post("/files")
    async def files() -> str:
        return str(len(await request.files))

    @app.post("/file")
    async def body_file() -> str:
        return str(len((await request.get_body_file()).read()))

    return app


@pytest.mark.parametrize(
    ("path", "headers"),
    [("/data", _FORM), ("/form", _FORM), ("/files", _MULTIPART), ("/file", [])],
)
async def test_a_body_longer_than_its_content_length_is_counted_as_it_arrives(
    app: Microframework, path: str, headers: list[tuple[bytes, bytes]]
) -> None:
    # Django CVE-2026-33034: Content-Length says 5 (under the limit), 15 bytes arrive.
    app.config["MAX_CONTENT_LENGTH"] = 10
    scope = http_scope(path, "POST", [*headers, (b"content-length", b"5")])
    rec = Recorder(b"a=123", b"45678", b"90123")
    await call(_body_reading_app(app), scope, rec)
    assert rec.status == 413


@pytest.mark.parametrize(
    ("path", "headers"), [("/form", _FORM), ("/files", _MULTIPART), ("/file", [])]
)
async def test_a_stalled_body_is_408_for_every_accessor(
    app: Microframework, path: str, headers: list[tuple[bytes, bytes]]
) -> None:
    app.config["BODY_TIMEOUT"] = 0.02
    rec = Recorder(b"a=1", more_last=True)  # then the client stalls
    async with asyncio.timeout(5):
        await call(_body_reading_app(app), http_scope(path, "POST", headers), rec)
    assert rec.status == 408


async def test_body_timeout_is_a_total_deadline_that_a_trickle_cannot_extend(
    app: Microframework,
) -> None:
    # Slowloris: a byte every 50 ms never idles for BODY_TIMEOUT, yet must get its
    # 408 at the deadline, not when the trickle stops (the sleeps pace the client).
    app.config["BODY_TIMEOUT"] = 0.2
    rec = Recorder(b"a", more_last=True)
    task = asyncio.create_task(
        call(_body_reading_app(app), http_scope("/data", "POST"), rec)
    )
    sent = 1
    while not task.done() and sent < 20:
        await asyncio.sleep(0.05)
        rec.inbox.put_nowait({"type": "http.request", "body": b"a", "more_body": True})
        sent += 1
    rec.inbox.put_nowait({"type": "http.request", "body": b"", "more_body": False})
    async with asyncio.timeout(5):
        await task
    assert rec.status == 408
    assert sent < 10  # answered near 0.2 s


@pytest.mark.parametrize("where", ["before_request", "view"])
async def test_body_timeout_set_on_one_request_is_a_408(
    app: Microframework, where: str
) -> None:
    # Quart's request.body_timeout: the config allows 30 s, this request 10 ms.
    app.config["BODY_TIMEOUT"] = 30

    @app.before_request
    async def impatient() -> None:
        if where == "before_request":
            request.body_timeout = 0.01

    @app.post("/")
    async def index() -> bytes:
        if where == "view":
            request.body_timeout = 0.01
        assert request.body_timeout == 0.01
        return await request.get_data()  # type: ignore[no-any-return]

    rec = Recorder()
    rec.inbox = asyncio.Queue()  # the client stalls
    await asyncio.wait_for(call(app, http_scope("/", method="POST"), rec), 5)
    assert rec.status == 408


@pytest.mark.parametrize("view_waits_first", [False, True])
async def test_stalled_body_is_408_when_both_timeouts_are_equal(
    app: Microframework, view_waits_first: bool
) -> None:
    # The defaults set BODY_TIMEOUT and RESPONSE_TIMEOUT alike; the response timer
    # (armed when the view first waits) must not beat the body's deadline.
    app.config["BODY_TIMEOUT"] = app.config["RESPONSE_TIMEOUT"] = 0.02

    @app.post("/")
    async def index() -> bytes:
        if view_waits_first:
            await asyncio.sleep(0)  # one loop turn: the response timer is armed first
        return await request.get_data()  # type: ignore[no-any-return]

    rec = Recorder(b"part", more_last=True)  # then the client stalls
    await call(app, http_scope("/", method="POST"), rec)
    assert rec.status == 408


async def test_a_view_holding_the_body_while_it_waits_elsewhere_gets_its_504(
    app: Microframework,
) -> None:
    # The body's deadline stayed set while the view's `async for` was suspended at
    # its yield; once it passed, the response timer re-armed itself in the past and
    # fired on every turn of the loop: the CPU spun and no 504 ever came.
    app.config["BODY_TIMEOUT"], app.config["RESPONSE_TIMEOUT"] = 0.04, 0.02

    @app.post("/")
    async def store() -> str:
        async for _chunk in request.body:
            await asyncio.Event().wait()  # slow storage that never answers
        return "stored"

    rec = Recorder(b"part")
    async with asyncio.timeout(5):
        await call(app, http_scope("/", method="POST"), rec)
    assert rec.status == 504


async def test_body_that_arrives_late_is_read_within_timeout(
    app: Microframework,
) -> None:
    # receive() suspends here, so the timer is armed and the suspended receive is
    # resumed by hand (_utils.resume); the message must arrive intact.
    app.config["BODY_TIMEOUT"] = 30

    @app.post("/")
    async def index() -> bytes:
        return await request.get_data()  # type: ignore[no-any-return]

    rec = Recorder()
    rec.inbox = asyncio.Queue()
    task = asyncio.create_task(call(app, http_scope("/", method="POST"), rec))
    await rec.receiving.wait()
    rec.inbox.put_nowait({"type": "http.request", "body": b"late", "more_body": False})
    await task
    assert rec.status == 200
    assert rec.body == b"late"
    assert [h for h in asyncio.get_running_loop()._scheduled if not h.cancelled()] == []


async def test_disconnect_while_reading_body_sends_nothing(app: Microframework) -> None:
    torn_down: list[BaseException | None] = []

    @app.post("/")
    async def index() -> bytes:
        return await request.get_data()  # type: ignore[no-any-return]

    @app.teardown_request
    async def teardown(exc: BaseException | None) -> None:
        torn_down.append(exc)

    rec = Recorder(b"partial", more_last=True)
    rec.disconnect()
    await call(app, http_scope("/", method="POST"), rec)
    assert rec.sent == []
    assert isinstance(torn_down[0], ClientDisconnected)


async def test_body_streams_without_buffering(app: Microframework) -> None:
    seen: list[bytes] = []

    @app.post("/")
    async def index() -> str:
        async for chunk in request.body:
            seen.append(chunk)
        return str(len(seen))

    rec = await call(app, http_scope("/", method="POST"), Recorder(b"a", b"b", b"c"))
    assert seen == [b"a", b"b", b"c"]
    assert rec.body == b"3"


def test_servers_see_an_asgi3_app(app: Microframework) -> None:
    # hypercorn and uvicorn tell ASGI 3 from ASGI 2 by these checks on app.__call__.
    assert inspect.iscoroutinefunction(app.__call__)
    assert asyncio.iscoroutinefunction(app.__call__)
    assert not inspect.isclass(app)


@pytest.mark.parametrize("kind", ["http", "websocket", "lifespan"])
async def test_middleware_on_asgi_app_sees_every_connection(
    app: Microframework, kind: str
) -> None:
    seen: list[str] = []
    inner = app.asgi_app

    async def middleware(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"])
        await inner(scope, receive, send)

    app.asgi_app = middleware  # type: ignore[method-assign]

    @app.route("/")
    async def index() -> str:
        return "hi"

    @app.websocket("/")
    async def ws() -> None:
        await websocket.send(await websocket.receive())

    if kind == "http":
        assert (await call(app, http_scope("/"))).body == b"hi"
    elif kind == "websocket":
        async with app.test_client().websocket("/") as ws:
            await ws.send("x")
            assert await ws.receive() == "x"
    else:
        async with app.test_app():
            pass
    assert seen == [kind]


async def test_unknown_scope_type_raises(app: Microframework) -> None:
    with pytest.raises(ValueError, match="unsupported"):
        await app({"type": "mystery"}, Recorder().receive, Recorder().send)


async def test_lifespan_startup_and_shutdown(app: Microframework) -> None:
    events: list[str] = []

    @app.before_serving
    async def start() -> None:
        app.state["db"] = "connected"
        events.append("before")

    @app.while_serving
    async def around() -> Any:
        events.append("while-start")
        yield
        events.append("while-end")

    @app.after_serving
    async def stop() -> None:
        events.append("after")

    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    state: dict[str, Any] = {}
    inbox.put_nowait({"type": "lifespan.startup"})
    inbox.put_nowait({"type": "lifespan.shutdown"})
    await app(
        {"type": "lifespan", "asgi": {"version": "3.0"}, "state": state},
        inbox.get,
        send,
    )
    assert [m["type"] for m in sent] == [
        "lifespan.startup.complete",
        "lifespan.shutdown.complete",
    ]
    assert events == ["before", "while-start", "after", "while-end"]
    assert state["db"] == "connected"


async def test_every_shutdown_step_runs_and_the_first_error_fails_shutdown(
    app: Microframework, caplog: pytest.LogCaptureFixture
) -> None:
    ran: list[str] = []

    @app.after_serving
    async def first() -> None:
        ran.append("first")
        raise ValueError("first")

    @app.after_serving
    async def second() -> None:
        ran.append("second")
        raise KeyError("second")

    @app.while_serving
    async def around() -> Any:
        yield
        ran.append("around")

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    for step in ("startup", "shutdown"):
        inbox.put_nowait({"type": f"lifespan.{step}"})
    with contextlib.suppress(Exception):
        await app({"type": "lifespan", "asgi": {"version": "3.0"}}, inbox.get, send)
    assert ran == ["first", "second", "around"]
    assert sent[-1]["type"] == "lifespan.shutdown.failed"
    assert "first" in sent[-1]["message"]
    assert "Another shutdown error" in caplog.text and "KeyError" in caplog.text


@pytest.mark.parametrize("shape", ["no_yield", "not_a_generator"])
async def test_a_while_serving_function_that_cannot_serve_is_named(
    app: Microframework, shape: str
) -> None:
    # The startup failed with "StopAsyncIteration: ", naming nothing.
    if shape == "no_yield":

        @app.while_serving
        async def around() -> Any:
            if False:
                yield

    else:

        @app.while_serving
        async def around() -> Any:  # an async def without a yield
            return None

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    inbox.put_nowait({"type": "lifespan.startup"})
    with contextlib.suppress(Exception):
        await app({"type": "lifespan", "asgi": {"version": "3.0"}}, inbox.get, send)
    assert sent[0]["type"] == "lifespan.startup.failed"
    why = "ended without a yield" if shape == "no_yield" else "must be an async gen"
    assert "while_serving test_a_while_serving" in sent[0]["message"]
    assert why in sent[0]["message"]


@pytest.mark.parametrize(
    ("config", "frozen"),
    [({}, True), ({"TESTING": True}, False), ({"GC_FREEZE_ON_STARTUP": False}, False)],
)
async def test_serving_freezes_what_is_alive_at_startup_until_shutdown(
    config: dict[str, Any], frozen: bool
) -> None:
    import gc

    app = Microframework(__name__)
    app.config.update(config)
    seen: list[int] = []

    @app.before_serving
    async def start() -> None:
        gc.unfreeze()  # whatever an earlier test left

    @app.while_serving
    async def around() -> Any:
        yield
        seen.append(gc.get_freeze_count())  # at shutdown, before unfreezing

    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    for step in ("startup", "shutdown"):
        inbox.put_nowait({"type": f"lifespan.{step}"})

    async def send(message: dict[str, Any]) -> None:
        pass

    try:
        await app({"type": "lifespan", "asgi": {"version": "3.0"}}, inbox.get, send)
        assert (seen[0] > 0) is frozen
        assert gc.get_freeze_count() == 0  # shutdown gave them back
    finally:
        gc.unfreeze()


async def test_lifespan_state_reaches_requests(app: Microframework) -> None:
    @app.route("/")
    async def index() -> str:
        return str(request.state["db"])

    rec = await call(app, http_scope("/", state={"db": "from-lifespan"}))
    assert rec.body == b"from-lifespan"


async def test_test_app_clients_carry_a_copy_of_the_lifespan_state(
    app: Microframework,
) -> None:
    # docs/lifespan.md's request.state["db"] view, tested as docs/testing.md says.
    @app.before_serving
    async def start() -> None:
        app.state["db"] = "pool"

    @app.get("/")
    async def index() -> str:
        request.state["scratch"] = "per request"
        return str(request.state["db"])

    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.send(str(websocket.state["db"]))

    async with app.test_app() as test_app:
        client = test_app.test_client()
        assert await (await client.get("/")).get_data() == b"pool"
        async with client.websocket("/ws") as connection:
            assert await connection.receive() == "pool"
        assert "scratch" not in app.state  # each request had its own copy


async def test_failing_startup_reports_failed_with_message(app: Microframework) -> None:
    @app.before_serving
    async def start() -> None:
        raise RuntimeError("database unreachable")

    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    inbox.put_nowait({"type": "lifespan.startup"})
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app({"type": "lifespan", "asgi": {"version": "3.0"}}, inbox.get, send)
    assert sent[0]["type"] == "lifespan.startup.failed"
    assert "database unreachable" in sent[0]["message"]


@pytest.mark.parametrize("step", ["startup", "shutdown"])
async def test_startup_and_shutdown_called_directly_report_their_failure(
    app: Microframework, step: str, caplog: pytest.LogCaptureFixture
) -> None:
    # docs/lifespan.md mounts the app under another framework by calling them: the
    # signal and the log came only through a server's lifespan messages.
    from microframework.signals import got_serving_exception

    @app.before_serving
    async def start() -> None:
        if step == "startup":
            raise OSError("database unreachable")

    @app.after_serving
    async def stop() -> None:
        raise OSError("database unreachable")

    seen: list[BaseException] = []

    def record(sender: Any, exception: BaseException) -> None:
        seen.append(exception)

    with got_serving_exception.connected_to(record, app):
        if step == "shutdown":
            await app.startup()
        with pytest.raises(OSError):
            await (app.startup() if step == "startup" else app.shutdown())
    assert [type(error) for error in seen] == [OSError]
    assert f"{step.capitalize()} failed" in caplog.text


@pytest.mark.parametrize("step", ["startup", "shutdown"])
async def test_teardown_appcontext_gets_a_serving_functions_error(
    app: Microframework, step: str
) -> None:
    # As in Quart, after before_serving and after_serving alike (the shutdown's
    # teardown got None: the error was raised after its context had gone).
    torn: list[BaseException | None] = []

    @app.before_serving
    async def start() -> None:
        if step == "startup":
            raise OSError("at startup")

    @app.after_serving
    async def stop() -> None:
        raise OSError("at shutdown")

    @app.teardown_appcontext
    async def teardown(error: BaseException | None) -> None:
        torn.append(error)

    if step == "shutdown":
        await app.startup()
        torn.clear()
    with pytest.raises(OSError) as raised:
        await (app.startup() if step == "startup" else app.shutdown())
    assert torn == [raised.value]


@pytest.mark.parametrize("watches_shutdown", [True, False])
async def test_a_failed_startup_finishes_the_background_tasks_it_started(
    app: Microframework, watches_shutdown: bool
) -> None:
    # No shutdown follows a failed startup: a task one before_serving started ran on
    # for ever (under test_app, or an app mounted elsewhere that calls startup()).
    app.config["BACKGROUND_TASK_SHUTDOWN_TIMEOUT"] = 0.01
    ended: list[str] = []

    async def poll() -> None:
        try:
            if watches_shutdown:
                await app.shutdown_event.wait()
            else:
                await asyncio.Event().wait()
            ended.append("shutdown_event")
        except asyncio.CancelledError:
            ended.append("cancelled")
            raise

    @app.before_serving
    async def start() -> None:
        app.add_background_task(poll)

    @app.before_serving
    async def fail() -> None:
        raise OSError("no database")

    async with asyncio.timeout(5):
        with pytest.raises(OSError):
            await app.startup()
    assert ended == ["shutdown_event" if watches_shutdown else "cancelled"]
    assert app.background_tasks == set()


async def test_a_failed_startup_closes_the_while_serving_generators_it_started(
    app: Microframework,
) -> None:
    # Their cleanup ran at the next shutdown instead, twice after a retried startup.
    log: list[str] = []
    failing = [True]

    @app.while_serving
    async def around() -> Any:
        log.append("start")
        try:
            yield
        finally:
            log.append("finally")

    @app.before_serving
    async def start() -> None:
        pass

    @app.while_serving
    async def then_fails() -> Any:
        if failing[0]:
            raise OSError("no database")
        yield

    with pytest.raises(OSError):
        await app.startup()
    assert log == ["start", "finally"]
    assert app.serving_generators == []
    failing[0] = False
    await app.startup()
    await app.shutdown()
    assert log == ["start", "finally", "start", "finally"]


async def test_sys_exit_in_before_serving_is_a_failed_startup(
    app: Microframework, caplog: pytest.LogCaptureFixture
) -> None:
    # "Refuse to start without config": SystemExit left the app, which uvicorn's
    # --lifespan auto takes for no lifespan support, and served it (lifespan2 2).
    from microframework.typing import Message

    @app.before_serving
    async def check_config() -> None:
        sys.exit("DATABASE_URL is not set")

    inbox = [{"type": "lifespan.startup"}]
    sent: list[Message] = []

    async def receive() -> Message:
        return inbox.pop()  # type: ignore[return-value]

    async def send(message: Message) -> None:
        sent.append(message)

    await app({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send)
    assert sent == [
        {
            "type": "lifespan.startup.failed",
            "message": "SystemExit: DATABASE_URL is not set",
        }
    ]
    assert "Startup failed" in caplog.text


async def test_a_timed_out_shutdown_leaves_no_generator_for_the_next_period(
    app: Microframework,
) -> None:
    # Its clean-up ran in the next period's shutdown, a whole test later (lifespan2 10).
    from microframework.testing.app import LifespanTimeout
    from microframework.testing.app import TestApp

    log: list[str] = []
    periods = [0]

    @app.while_serving
    async def pool() -> Any:
        periods[0] += 1
        period = periods[0]
        try:
            yield
        finally:
            log.append(f"close {period}")

    @app.after_serving
    async def stuck() -> None:
        if periods[0] == 1:
            await asyncio.Event().wait()

    with pytest.raises(LifespanTimeout):
        async with TestApp(app, shutdown_timeout=0.01):
            pass
    async with app.test_app():
        assert log == ["close 1"]  # closed as the next period starts
    assert log == ["close 1", "close 2"]


# -- a view's str, dict, tuple or unhandled abort without a Response object: the same bytes -


class _TextResponse(Response):
    default_mimetype = "text/plain"


def test_direct_headers_keep_a_given_length_when_the_class_sets_none() -> None:
    class NoLength(Response):
        automatically_set_content_length = False

    given = {"Content-Length": "7", "X-A": "1"}
    for _ in range(2):  # built, then remembered
        direct = plain_response_headers(NoLength, given, 2)
        assert direct == NoLength("hi", headers=given).asgi_headers()
        assert direct is not None and direct[0] == (b"content-length", b"7")


def _raiser(error: Exception) -> Callable[[], str]:
    def view() -> str:
        raise error

    return view


@pytest.mark.parametrize("response_class", [Response, _TextResponse])
@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("body", ["Hello, World!", "", "héllo ✓"])
async def test_a_str_goes_out_exactly_as_its_response_would(
    response_class: type[Response], method: str, body: str
) -> None:
    direct = Microframework(__name__)
    through_hooks = Microframework(__name__)
    for app in (direct, through_hooks):
        app.response_class = response_class
        app.add_url_rule("/", "index", lambda: body, methods=["GET"])
        app.add_url_rule("/created", "created", lambda: (body, 201), methods=["GET"])
        app.add_url_rule("/odd", "odd", lambda: (body, 299), methods=["GET"])
        app.add_url_rule("/empty", "empty", lambda: (body, 204), methods=["GET"])
        app.add_url_rule(
            "/dict", "dict", lambda: {"b": [1, body], "a": None}, methods=["GET"]
        )
        for name, rv in {
            "status-headers": (body, 201, {"X-A": "1", "content-type": "text/plain"}),
            "headers": (body, {"X-B": "2"}),
            "length-given": (body, {"Content-Length": "999", "x-c": "3"}),
            "not-str": (body, {"X-N": 5}),
            "bad-name": (body, 200, {"X Bad": "1"}),
            "bad-value": (body, {"X-V": "a\x01b"}),
            "no-body-status": (body, 204, {"X-E": "1"}),
        }.items():
            app.add_url_rule(f"/{name}", name, lambda rv=rv: rv, methods=["GET"])
        for name, error in {
            "abort": NotFound(),
            "abort-described": Forbidden(f"<{body}>"),
            "abort-teapot": ImATeapot(),
            "abort-allow": MethodNotAllowed(["GET", "POST"]),
            "abort-response": NotFound(response=Response(body, 409)),
            "abort-redirect": RequestRedirect("http://localhost/elsewhere"),
        }.items():
            app.add_url_rule(f"/{name}", name, _raiser(error), methods=["GET"])

    @through_hooks.after_request
    def keep(response: Response) -> Response:  # forces a response object
        return response

    for debug in (False, True):  # compact, then indented JSON
        direct.debug = through_hooks.debug = debug
        for path in (
            "/",
            "/created",
            "/odd",
            "/empty",
            "/dict",
            "/status-headers",
            "/headers",
            "/length-given",
            "/not-str",
            "/bad-name",
            "/bad-value",
            "/no-body-status",
            "/abort",
            "/abort-described",
            "/abort-teapot",
            "/abort-allow",
            "/abort-response",
            "/abort-redirect",
        ):
            fast = await call(direct, http_scope(path, method=method))
            slow = await call(through_hooks, http_scope(path, method=method))

            if debug and path.startswith("/bad"):
                # Debug pages show the traceback, which differs; the answer doesn't.
                assert fast.status == slow.status == 500
                continue
            assert fast.sent == slow.sent


async def test_an_overridden_process_response_is_called() -> None:
    class App(Microframework):
        async def process_response(self, response: Response) -> Response:
            response.headers["X-Processed"] = "yes"
            return await super().process_response(response)

    app = App(__name__)

    @app.get("/")
    async def index() -> str:
        return "hi"

    rec = await call(app, http_scope("/"))
    assert rec.headers[b"x-processed"] == b"yes"


class _Model:
    def __init__(self, name: str) -> None:
        self.name = name


async def test_methods_set_on_the_instance_are_called_as_overrides() -> None:
    # quart-schema's init_app wraps app.make_response on the instance, so a view may
    # return a model; both the HTTP and the websocket paths must call it.
    app = Microframework(__name__)
    make_response = app.make_response
    process_response = app.process_response

    async def models_as_json(rv: Any) -> Response:
        return await make_response({"name": rv.name} if isinstance(rv, _Model) else rv)

    async def mark(response: Response) -> Response:
        response.headers["X-Processed"] = "yes"
        return await process_response(response)

    app.make_response = models_as_json  # type: ignore[method-assign]
    app.process_response = mark  # type: ignore[method-assign]

    @app.get("/")
    async def index() -> Any:
        return _Model("bob")

    @app.websocket("/ws")
    async def ws() -> Any:
        return _Model("alice")  # before accept: the rejection's body

    rec = await call(app, http_scope("/"))
    assert (rec.status, rec.body) == (200, b'{"name":"bob"}\n')
    assert rec.headers[b"x-processed"] == b"yes"
    with pytest.raises(WebsocketResponseError) as refused:
        async with app.test_client().websocket("/ws"):
            pass
    assert await refused.value.response.get_json() == {"name": "alice"}


async def test_the_last_messages_go_out_outside_the_requests_context() -> None:
    # uvicorn arms its keep-alive timer inside send(), and a timer copies the current
    # context: the finished request must not be in it, or it lives on in the timer.
    from microframework.globals import _cv_app

    app = Microframework(__name__)
    seen: list[object] = []
    torn_down: list[bool] = []

    @app.get("/")
    async def index() -> str:
        return "hi"

    @app.teardown_request
    async def teardown(error: BaseException | None) -> None:
        torn_down.append(request.path == "/")  # teardown still has the request

    async def send(message: dict[str, Any]) -> None:
        seen.append(_cv_app.get(None))

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    await app(http_scope("/"), receive, send)

    assert seen == [None, None]
    assert torn_down == [True]


@pytest.mark.parametrize("path", ["/abort", "/missing", "/json"])
async def test_answers_leave_no_reference_cycle(path: str) -> None:
    # (werkzeug's matcher makes one cycle of its own per miss: a recursive closure.)
    app = Microframework(__name__)

    @app.get("/abort")
    async def aborts() -> str:
        abort(403)

    @app.get("/json")
    async def as_json() -> dict[str, int]:
        return {"a": 1}

    await call(app, http_scope(path))
    with cycles_made() as left:
        for _ in range(5):
            await call(app, http_scope(path))
    werkzeugs = ("cell", "set", "tuple", "function") if path == "/missing" else ()
    assert [name for name in left if name not in werkzeugs] == []


async def test_a_handled_error_with_a_cause_leaves_no_reference_cycle() -> None:
    # Invalid JSON under an errorhandler(400), as JSON APIs have: the error kept on
    # the request (to name the handler in a bad-return message) held its cause's
    # traceback, whose frames held the request.
    app = Microframework(__name__)

    @app.errorhandler(400)
    async def bad_request(error: Exception) -> tuple[dict[str, str], int]:
        return {"error": "bad json"}, 400

    @app.post("/")
    async def index() -> Any:
        return await request.get_json()

    scope = http_scope("/", "POST", [(b"content-type", b"application/json")])
    await call(app, scope, Recorder(b"{nope"))
    with cycles_made() as left:
        for _ in range(3):
            rec = await call(app, scope, Recorder(b"{nope"))
            assert rec.status == 400
    assert left == []


# -- werkzeug's error pages, rendered once: the same bytes as werkzeug's --------------


@pytest.mark.parametrize(
    ("code", "description"),
    [(404, None), (400, None), (418, None), (403, "No <entry> & no exit")],
)
async def test_an_abort_page_is_werkzeugs_byte_for_byte(
    code: int, description: str | None
) -> None:
    from werkzeug.exceptions import default_exceptions

    app = Microframework(__name__)

    @app.get("/")
    async def index() -> str:
        if description is None:
            abort(code)
        abort(code, description)

    exception = default_exceptions[code](description)
    page = exception.get_body().encode()
    for _ in range(2):  # rendered, then remembered
        rec = await call(app, http_scope("/"))
        assert rec.status == code
        assert rec.body == page
        assert rec.headers[b"content-type"] == b"text/html; charset=utf-8"
        assert rec.headers[b"content-length"] == str(len(page)).encode()


async def test_an_exception_with_its_own_page_is_rendered_each_time() -> None:
    from werkzeug.exceptions import Forbidden

    app = Microframework(__name__)
    renders: list[int] = []

    class Counted(Forbidden):
        def get_body(self, *args: Any, **kwargs: Any) -> str:
            renders.append(1)
            return f"render {len(renders)}"

    @app.get("/")
    async def index() -> str:
        raise Counted()

    bodies = [(await call(app, http_scope("/"))).body for _ in range(2)]
    assert bodies == [b"render 1", b"render 2"]


class _Upload(Recorder):
    """Records, in order, each body message taken and the response's start."""

    def __init__(self, parts: int, stalls: bool = False) -> None:
        # Past what the disconnect watch reads ahead of a view (BUFFERED bytes).
        super().__init__(*[b"x" * 16384] * parts, more_last=stalls)
        self.order: list[str] = []
        self.gone = asyncio.Event()

    async def receive(self) -> dict[str, Any]:
        message = await super().receive()
        if message["type"] == "fails":
            raise OSError("the server's receive() failed")
        if message["type"] == "http.disconnect":
            self.gone.set()
        else:
            self.order.append("body")
        return message

    async def send(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.order.append("start")
        await super().send(message)


def _refusing_app(app: Microframework) -> Microframework:
    @app.post("/upload")
    async def upload() -> tuple[str, int]:
        await asyncio.sleep(0)  # checks something first (a session, a database)
        return "log in first", 401

    return app


@pytest.mark.parametrize("version", ["2", "3"])
async def test_over_http2_an_unread_upload_is_taken_in_before_the_answer(
    app: Microframework, version: str
) -> None:
    # hypercorn ends the whole HTTP/2 connection on DATA frames for a stream already
    # answered (issue #329): a view refusing an upload after awaiting something
    # reached the browser as a connection error. Quart reads bodies ahead.
    upload = _Upload(40)
    scope = http_scope("/upload", "POST", http_version=version)
    async with asyncio.timeout(5):
        await call(_refusing_app(app), scope, upload)
    assert upload.status == 401
    assert upload.order == ["body"] * 40 + ["start"]


async def test_over_http1_the_answer_does_not_wait_for_an_unread_upload(
    app: Microframework,
) -> None:
    upload = _Upload(40)
    scope = http_scope("/upload", "POST", [(b"transfer-encoding", b"chunked")])
    async with asyncio.timeout(5):
        await call(_refusing_app(app), scope, upload)
    assert upload.status == 401
    assert upload.order.index("start") < 10


@pytest.mark.parametrize(
    "chunks",
    [(b"a" * 11, b"b", b"c"), (b"a" * 6, b"a" * 6, b"")],
    ids=["an_earlier_chunk_crosses", "the_end_comes_empty"],
)
async def test_over_http2_a_413_is_not_held_when_the_watch_heard_the_end(
    app: Microframework, chunks: tuple[bytes, ...]
) -> None:
    # The watch had read the whole body ahead; the read's 413 left its end among
    # what was heard, and the wait for the rest (drop_body_first) waited for a message
    # that never comes: the 413 went out at BODY_TIMEOUT (httpx sends an empty end).
    app.config["MAX_CONTENT_LENGTH"] = 10
    app.config["BODY_TIMEOUT"] = None

    @app.post("/upload")
    async def upload() -> str:
        await asyncio.sleep(0)  # the watch starts, and reads the body ahead
        return str(len(await request.get_data()))

    scope = http_scope("/upload", "POST", [], http_version="2")
    async with asyncio.timeout(5):
        recorder = await call(app, scope, Recorder(*chunks))
    assert recorder.status == 413


@pytest.mark.parametrize("length", [None, b"5"])
async def test_over_http2_a_413_for_a_last_chunk_over_the_limit_is_not_held(
    app: Microframework, length: bytes | None
) -> None:
    # The body was not marked ended before the 413 was raised: the HTTP/2 wait for
    # the rest of it (drop_body_first) held the answer until BODY_TIMEOUT, 60 s.
    app.config["MAX_CONTENT_LENGTH"] = 20
    app.config["BODY_TIMEOUT"] = None  # no bound but the body's own end

    @app.post("/upload")
    async def upload() -> str:
        return str(len(await request.get_data()))

    headers = [] if length is None else [(b"content-length", length)]
    scope = http_scope("/upload", "POST", headers, http_version="2")
    async with asyncio.timeout(5):
        recorder = await call(app, scope, Recorder(b"x" * 50))
    assert recorder.status == 413


@pytest.mark.parametrize("how", ["read_ahead", "read_in_part"])
async def test_over_http2_what_was_received_counts_against_the_limit(
    app: Microframework, how: str
) -> None:
    # The wait for an unread upload ends once the body is past MAX_CONTENT_LENGTH; it
    # counted only what came after the answer, so a body the watch had read ahead (up
    # to 64 KiB) or the view had read in part held the answer until BODY_TIMEOUT.
    app.config["MAX_CONTENT_LENGTH"] = 40_000 if how == "read_ahead" else 20_000
    app.config["BODY_TIMEOUT"] = None  # no bound but the limit

    @app.post("/upload")
    async def upload() -> tuple[str, int]:
        if how == "read_in_part":
            async for _ in request.body:
                break
        await asyncio.sleep(0)  # the watch starts, and reads the body ahead
        return "log in first", 401

    scope = http_scope("/upload", "POST", [], http_version="2")
    parts = [b"x" * 16_384] * (3 if how == "read_ahead" else 2)
    async with asyncio.timeout(5):  # the body then stalls
        recorder = await call(app, scope, Recorder(*parts, more_last=True))
    assert recorder.status == 401
    recorder.disconnect()  # as a server does once the response is sent
    async with asyncio.timeout(5):  # the dropper reading on hears it
        while not recorder.inbox.empty():
            await asyncio.sleep(0)


@pytest.mark.parametrize("case", ["over_the_limit", "stalled", "receive_fails"])
async def test_over_http2_taking_an_unread_upload_in_is_bounded(
    app: Microframework, case: str
) -> None:
    # A body declared over MAX_CONTENT_LENGTH won't all be read: answer at once. One
    # that stalls is waited for only until BODY_TIMEOUT; one whose receive() fails,
    # not at all (even with no BODY_TIMEOUT).
    app.config["MAX_CONTENT_LENGTH"] = 100_000 if case == "over_the_limit" else None
    app.config["BODY_TIMEOUT"] = None if case == "receive_fails" else 0.01
    upload = _Upload(10, stalls=case != "over_the_limit")
    if case == "receive_fails":
        upload.inbox.put_nowait({"type": "fails"})
    headers = [(b"content-length", b"1000000")] if case == "over_the_limit" else []
    scope = http_scope("/upload", "POST", headers, http_version="2")
    async with asyncio.timeout(5):
        await call(_refusing_app(app), scope, upload)
    assert upload.status == 401
    if case == "over_the_limit":
        assert upload.order.index("start") < 10
        return
    assert upload.order == ["body"] * 10 + ["start"]
    if case == "receive_fails":
        return
    # As a server does once the response is sent: the dropper reading on hears it.
    upload.disconnect()
    async with asyncio.timeout(5):
        await upload.gone.wait()


@pytest.mark.skipif(sys.version_info < (3, 12), reason="eager_task_factory is 3.12+")
async def test_a_waiting_view_behind_a_middlewares_receive_with_eager_tasks(
    app: Microframework,
) -> None:
    # A receive() that isn't the server's (a middleware's, httpx's ASGITransport) is
    # stepped in a task of our one context; an eager task factory started it in that
    # context, entered already: a 500 ("cannot enter context"), then hung tasks.
    @app.route("/")
    async def index() -> str:
        await asyncio.sleep(0)  # it waits: the watch listens
        return "ok"

    messages = [{"type": "http.request", "body": b"", "more_body": False}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        await asyncio.sleep(0)  # as a middleware's that awaits the server's
        if messages:
            return messages.pop()
        await asyncio.Event().wait()  # the client stays
        return {}

    receive.__module__ = "some_middleware"  # not hand-stepped (see conftest.py)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    loop = asyncio.get_running_loop()
    factory = loop.get_task_factory()
    loop.set_task_factory(asyncio.eager_task_factory)  # type: ignore[attr-defined,unused-ignore]
    try:
        async with asyncio.timeout(5):
            await app(http_scope("/"), receive, send)  # type: ignore[arg-type]
    finally:
        loop.set_task_factory(factory)
    assert [sent[0]["status"], sent[1]["body"]] == [200, b"ok"]


async def test_test_apps_lifespan_error_is_caused_by_the_apps_own(
    app: Microframework,
) -> None:
    # As Quart's: pytest then shows the failing before_serving's frames, not only the
    # message (lifespan2 15, session 33).
    from microframework.testing import LifespanError

    @app.before_serving
    async def connect() -> None:
        raise LookupError("no database")

    with pytest.raises(LifespanError) as caught:
        async with app.test_app():
            pass
    assert isinstance(caught.value.__cause__, LookupError)
    assert str(caught.value) == "Error during startup no database"
