"""Long-polls and slow views: disconnects cancel them, timeouts answer 504, nothing leaks."""

from __future__ import annotations

import asyncio
import contextvars
import gc
import weakref
from collections.abc import AsyncIterator
from typing import Any

import pytest
from asgi_harness import call
from asgi_harness import http_scope
from asgi_harness import Recorder

from microframework import abort
from microframework import copy_current_request_context
from microframework import has_app_context
from microframework import make_response
from microframework import Microframework
from microframework import request
from microframework import Response
from microframework import stream_with_context
from microframework.exceptions import ClientDisconnected
from microframework.sse import event_stream


class _Owned:
    """An object only the view's frame refers to; a weakref tells us when it is freed."""


def _other_tasks() -> set[asyncio.Task[Any]]:
    return {t for t in asyncio.all_tasks() if t is not asyncio.current_task()}


async def test_long_poll_is_cancelled_promptly_on_disconnect(
    app: Microframework,
) -> None:
    waiting = asyncio.Event()
    finally_ran = asyncio.Event()
    refs: list[weakref.ref[_Owned]] = []
    torn_down: list[type[BaseException] | None] = []

    @app.route("/poll")
    async def poll() -> str:
        owned = _Owned()
        refs.append(weakref.ref(owned))
        try:
            waiting.set()
            await asyncio.Event().wait()  # no event ever comes
            return "never"
        finally:
            finally_ran.set()

    @app.teardown_request
    async def teardown(exc: BaseException | None) -> None:
        # Keep only the type: the exception's context holds the view's frame.
        torn_down.append(None if exc is None else type(exc))

    client = app.test_client()
    async with client.request("/poll") as connection:
        await connection.send_complete()
        await waiting.wait()
        await connection.disconnect()
        # Promptly: well before the test connection's own grace period would cancel it.
        async with asyncio.timeout(1):
            await finally_ran.wait()
    assert connection.status_code is None  # nothing was sent
    assert torn_down == [ClientDisconnected]
    assert _other_tasks() == set()
    gc.collect()
    assert refs[0]() is None


async def test_long_poll_disconnect_through_raw_asgi_sends_nothing(
    app: Microframework,
) -> None:
    waiting = asyncio.Event()

    @app.route("/poll")
    async def poll() -> str:
        waiting.set()
        await asyncio.Event().wait()
        return "never"

    rec = Recorder()
    task = asyncio.create_task(call(app, http_scope("/poll"), rec))
    await waiting.wait()
    rec.disconnect()
    async with asyncio.timeout(1):
        await task
    assert rec.sent == []
    assert _other_tasks() == set()


async def test_view_that_does_not_suspend_starts_no_task(app: Microframework) -> None:
    seen: list[set[asyncio.Task[Any]]] = []

    @app.route("/")
    async def index() -> str:
        seen.append(set(asyncio.all_tasks()))
        return "quick"

    rec = await call(app, http_scope("/"), Recorder())
    assert rec.status == 200
    assert seen == [{asyncio.current_task()}]


async def test_a_view_that_suspends_is_watched_without_a_task(
    app: Microframework,
) -> None:
    seen: list[int] = []
    receiving: list[bool] = []
    rec = Recorder()

    @app.route("/")
    async def index() -> str:
        rec.receiving.clear()
        await asyncio.sleep(0)  # suspend once
        seen.append(len(asyncio.all_tasks()))
        receiving.append(rec.receiving.is_set())
        return "slow"

    rec = await call(app, http_scope("/"), rec)
    assert rec.status == 200
    assert seen == [1]  # this test's task only: the watch is a callback
    assert receiving == [True]  # ... waiting in the server's receive()
    # When the view has ended nobody is left listening: a message stays queued.
    rec.disconnect()
    await asyncio.sleep(0)
    assert rec.inbox.qsize() == 1
    assert _other_tasks() == set()


class _Server:
    """A server's receive() of one of the kinds the disconnect watch must drive."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.inbox.put_nowait({"type": "http.request", "body": b""})

    def receive(self) -> Any:
        if self.kind == "future":  # not a coroutine: a future the server resolves
            return asyncio.ensure_future(self.inbox.get())
        if self.kind == "bare-yield":
            return self._yielding()
        return self.inbox.get()

    async def _yielding(self) -> dict[str, Any]:
        while self.inbox.empty():
            await asyncio.sleep(0)  # a bare yield, no future
        return self.inbox.get_nowait()


@pytest.mark.parametrize("kind", ["coroutine", "future", "bare-yield"])
async def test_the_disconnect_watch_drives_any_kind_of_receive(
    app: Microframework, kind: str
) -> None:
    server = _Server(kind)
    ended = asyncio.Event()

    @app.route("/poll")
    async def poll() -> str:
        try:
            await asyncio.Event().wait()
        finally:
            ended.set()
        return "never"

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    task = asyncio.create_task(app(http_scope("/poll"), server.receive, send))
    for _ in range(5):
        await asyncio.sleep(0)
    assert not ended.is_set()
    server.inbox.put_nowait({"type": "http.disconnect"})
    async with asyncio.timeout(1):
        await ended.wait()
        await task
    assert sent == []


async def test_a_wake_up_after_the_view_ended_starts_no_new_receive(
    app: Microframework,
) -> None:
    rec = Recorder()

    @app.route("/")
    async def index() -> str:
        await asyncio.sleep(0)  # now watched
        rec.disconnect()  # the watch's wake-up is scheduled, then the view ends
        return "done"

    await call(app, http_scope("/"), rec)
    assert rec.status == 200
    rec.receiving.clear()
    for _ in range(5):
        await asyncio.sleep(0)
    assert not rec.receiving.is_set()


async def test_a_failing_receive_ends_only_the_watch(app: Microframework) -> None:
    calls = 0

    async def receive() -> dict[str, Any]:
        nonlocal calls
        calls += 1
        if calls == 1:
            return {"type": "http.request", "body": b""}
        raise RuntimeError("the server's receive broke")

    @app.route("/")
    async def index() -> str:
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        return "fine"

    rec = Recorder()
    await app(http_scope("/"), receive, rec.send)
    assert rec.status == 200
    assert calls == 2


async def test_a_receive_that_never_waits_cannot_take_the_loop(
    app: Microframework,
) -> None:
    # A server answering receive() at once, forever, with empty body messages: the
    # watch takes some, then gives the loop a turn, so the view still runs.
    calls = 0

    async def receive() -> dict[str, Any]:
        nonlocal calls
        calls += 1
        if calls > 1000:
            return {"type": "http.disconnect"}
        return {"type": "http.request", "body": b"", "more_body": False}

    seen: list[int] = []

    @app.route("/")
    async def index() -> str:
        await asyncio.sleep(0)  # watched from here
        seen.append(calls)
        return "fine"

    rec = Recorder()
    await app(http_scope("/"), receive, rec.send)
    assert rec.status == 200
    assert seen and seen[0] < 1000


async def test_view_past_response_timeout_is_504_and_torn_down(
    app: Microframework,
) -> None:
    app.config["RESPONSE_TIMEOUT"] = 0.01
    finally_ran = asyncio.Event()
    torn_down: list[BaseException | None] = []

    @app.route("/slow")
    async def slow() -> str:
        try:
            await asyncio.Event().wait()
            return "never"
        finally:
            finally_ran.set()

    @app.teardown_request
    async def teardown(exc: BaseException | None) -> None:
        torn_down.append(exc)

    async with asyncio.timeout(5):
        response = await app.test_client().get("/slow")
    assert response.status_code == 504
    assert finally_ran.is_set()
    assert torn_down == [None]  # answered, so not an unhandled error
    assert _other_tasks() == set()


async def test_response_timeout_can_be_handled_like_any_504(
    app: Microframework,
) -> None:
    app.config["RESPONSE_TIMEOUT"] = 0.01

    @app.route("/slow")
    async def slow() -> str:
        await asyncio.Event().wait()
        return "never"

    @app.errorhandler(504)
    async def handle_504(error: Exception) -> tuple[str, int]:
        return "try again later", 504

    response = await app.test_client().get("/slow")
    assert response.status_code == 504
    assert await response.get_data(as_text=True) == "try again later"


async def test_route_response_timeout_overrides_the_config(
    app: Microframework,
) -> None:
    app.config["RESPONSE_TIMEOUT"] = 0.01
    release = asyncio.Event()

    @app.route("/generous", response_timeout=30)
    async def generous() -> str:
        await release.wait()
        return "generous"

    @app.route("/unlimited", response_timeout=None)
    async def unlimited() -> str:
        await release.wait()
        return "unlimited"

    @app.route("/default")
    async def default() -> str:
        await asyncio.Event().wait()
        return "never"

    client = app.test_client()
    generous_call = asyncio.create_task(client.get("/generous"))
    unlimited_call = asyncio.create_task(client.get("/unlimited"))
    # A view on the config's timeout times out meanwhile: the time has passed.
    assert (await client.get("/default")).status_code == 504
    assert not generous_call.done() and not unlimited_call.done()
    release.set()
    async with asyncio.timeout(5):
        generous_response = await generous_call
        unlimited_response = await unlimited_call
    assert generous_response.status_code == 200
    assert unlimited_response.status_code == 200


async def test_route_response_timeout_can_be_shorter_than_the_config(
    app: Microframework,
) -> None:
    app.config["RESPONSE_TIMEOUT"] = 60

    @app.route("/impatient", response_timeout=0.01)
    async def impatient() -> str:
        await asyncio.Event().wait()
        return "never"

    async with asyncio.timeout(5):
        response = await app.test_client().get("/impatient")
    assert response.status_code == 504


async def test_no_response_timeout_when_config_is_none(app: Microframework) -> None:
    app.config["RESPONSE_TIMEOUT"] = None
    release = asyncio.Event()
    started = asyncio.Event()

    @app.route("/")
    async def index() -> str:
        started.set()
        await release.wait()
        return "done"

    call_task = asyncio.create_task(app.test_client().get("/"))
    await started.wait()
    scheduled = asyncio.get_running_loop()._scheduled  # type: ignore[attr-defined]
    assert [h for h in scheduled if not h.cancelled()] == []  # no timer armed at all
    release.set()
    assert (await call_task).status_code == 200


async def test_outside_cancellation_is_not_turned_into_a_response(
    app: Microframework,
) -> None:
    # A server shutting down cancels the request task: that must propagate, not be
    # mistaken for a timeout or a disconnect.
    waiting = asyncio.Event()
    torn_down: list[type[BaseException] | None] = []

    @app.route("/")
    async def index() -> str:
        waiting.set()
        await asyncio.Event().wait()
        return "never"

    @app.teardown_request
    async def teardown(exc: BaseException | None) -> None:
        torn_down.append(None if exc is None else type(exc))

    rec = Recorder()
    task = asyncio.create_task(call(app, http_scope("/"), rec))
    await waiting.wait()
    task.cancel()
    await asyncio.wait({task})
    assert task.cancelled()
    assert rec.sent == []
    assert torn_down == [asyncio.CancelledError]


async def test_long_poll_reading_the_body_first_still_notices_disconnect(
    app: Microframework,
) -> None:
    # The watcher starts only once the body is read; a poll that reads it first is
    # still cancelled when the client leaves.
    waiting = asyncio.Event()
    finally_ran = asyncio.Event()

    @app.post("/poll")
    async def poll() -> str:
        await request.get_data()
        try:
            waiting.set()
            await asyncio.Event().wait()
            return "never"
        finally:
            finally_ran.set()

    client = app.test_client()
    async with client.request(
        "/poll", method="POST", headers={"Content-Length": "4"}
    ) as connection:
        await connection.send(b"data")
        await connection.send_complete()
        await waiting.wait()
        await connection.disconnect()
        async with asyncio.timeout(1):
            await finally_ran.wait()
    assert connection.status_code is None


async def test_long_poll_whose_body_arrives_late_still_notices_disconnect(
    app: Microframework,
) -> None:
    # The view suspends first while reading a body that has not arrived yet; once it
    # has read it and waits, the client leaving must still cancel it.
    waiting = asyncio.Event()
    finally_ran = asyncio.Event()

    @app.post("/poll")
    async def poll() -> str:
        await request.get_data()
        try:
            waiting.set()
            await asyncio.Event().wait()
            return "never"
        finally:
            finally_ran.set()

    rec = Recorder()
    rec.inbox = asyncio.Queue()  # nothing has arrived when the view starts
    scope = http_scope("/poll", method="POST", headers=[(b"content-length", b"4")])
    task = asyncio.create_task(call(app, scope, rec))
    try:
        await rec.receiving.wait()
        rec.inbox.put_nowait(
            {"type": "http.request", "body": b"data", "more_body": False}
        )
        await waiting.wait()
        rec.disconnect()
        async with asyncio.timeout(1):
            await finally_ran.wait()
    finally:
        task.cancel()
        await asyncio.wait({task})
    assert rec.sent == []


async def test_a_waiting_view_leaves_no_reference_cycle() -> None:
    # The disconnect watch is stopped when the view ends; nothing of it may lead
    # back to the request (a cycle per request).
    from asgi_harness import call
    from asgi_harness import cycles_made
    from asgi_harness import http_scope

    app = Microframework(__name__)

    @app.get("/poll")
    async def poll() -> str:
        await asyncio.sleep(0)
        return "done"

    await call(app, http_scope("/poll"))
    with cycles_made() as left:
        for _ in range(5):
            await call(app, http_scope("/poll"))
    assert left == []


# -- a middleware's receive() and context variables ---------------------------------
# OpenTelemetry's ASGI middleware runs each receive() inside a span: it sets a context
# variable, awaits the server's receive() and resets it. The disconnect watch steps
# that receive() by hand; it must keep the variable out of the view and still hear.

_span: contextvars.ContextVar[str] = contextvars.ContextVar("span", default="request")


def _traced(app: Microframework) -> None:
    inner = app.asgi_app

    async def asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
        async def traced_receive() -> dict[str, Any]:
            token = _span.set("http receive")
            try:
                return await receive()  # type: ignore[no-any-return]
            finally:
                _span.reset(token)

        await inner(scope, traced_receive, send)

    app.asgi_app = asgi  # type: ignore[method-assign]


async def test_a_receive_wrappers_context_variable_stays_out_of_the_view(
    app: Microframework,
) -> None:
    _traced(app)
    seen: dict[str, str] = {}

    @app.route("/")
    async def index() -> Any:
        await asyncio.sleep(0)  # now watched: the watch is inside traced_receive
        seen["view"] = _span.get()

        async def body() -> Any:
            seen["stream"] = _span.get()
            yield b"x"

        return body()

    response = await app.test_client().get("/")
    assert response.status_code == 200  # closing the watch's receive() raised: 500
    assert await response.get_data() == b"x"
    assert seen == {"view": "request", "stream": "request"}


async def test_a_receive_wrapper_that_resets_a_variable_still_reports_disconnects(
    app: Microframework,
) -> None:
    _traced(app)
    waiting, ended = asyncio.Event(), asyncio.Event()

    @app.route("/poll")
    async def poll() -> str:
        try:
            waiting.set()
            await asyncio.Event().wait()
        finally:
            ended.set()
        return "never"

    async with app.test_client().request("/poll") as connection:
        await connection.send_complete()
        await waiting.wait()
        await connection.disconnect()
        async with asyncio.timeout(1):  # before: reset() raised, the watch stopped
            await ended.wait()
    assert connection.status_code is None


# -- a body the view has not read: the watch reads ahead, so a departure is heard ------


def _with_body(*bodies: bytes, more_last: bool = False) -> Recorder:
    return Recorder(*bodies, more_last=more_last)


@pytest.mark.parametrize(
    ("headers", "bodies", "more_last"),
    [
        ([(b"content-length", b"1")], [b"x"], False),
        ([(b"transfer-encoding", b"chunked")], [b""], False),
        ([(b"transfer-encoding", b"chunked")], [b"ab", b"cd"], True),  # still coming
    ],
    ids=["content-length", "empty-chunked", "body-still-arriving"],
)
@pytest.mark.parametrize("kind", ["wait", "stream"])
async def test_a_client_that_sent_an_unread_body_and_left_ends_the_view(
    app: Microframework,
    headers: list[tuple[bytes, bytes]],
    bodies: list[bytes],
    more_last: bool,
    kind: str,
) -> None:
    # GET /events with one body byte pinned an SSE subscriber for ever: the watch
    # waited for a body read that never came, so the disconnect after it was
    # never received. (Quart cancels these too.)
    started, ended = asyncio.Event(), asyncio.Event()

    @app.route("/events", methods=["GET", "POST"])
    async def events() -> Any:
        if kind == "wait":
            try:
                started.set()
                await asyncio.Event().wait()
            finally:
                ended.set()

        async def feed() -> Any:
            try:
                while True:
                    started.set()
                    yield "data: keep-alive\n\n"
                    await asyncio.sleep(0.001)
            finally:
                ended.set()

        return feed(), {"Content-Type": "text/event-stream"}

    rec = _with_body(*bodies, more_last=more_last)
    task = asyncio.create_task(call(app, http_scope("/events", "POST", headers), rec))
    try:
        await started.wait()
        rec.disconnect()
        async with asyncio.timeout(2):
            await ended.wait()
            await task
    finally:
        task.cancel()
        await asyncio.wait({task})


@pytest.mark.parametrize("reader", ["view", "task", "after_request"])
async def test_a_body_read_after_the_view_waited_is_whole(
    app: Microframework, reader: str
) -> None:
    # The watch read the body ahead of the view; the view (or a task it started, or
    # an after_request hook) still reads all of it, as it arrived.
    got: list[bytes] = []
    go = asyncio.Event()

    async def read() -> None:
        got.append(await request.get_data())

    @app.post("/poll")
    async def poll() -> str:
        await go.wait()
        if reader == "view":
            await read()
        elif reader == "task":
            await asyncio.create_task(copy_current_request_context(read)())
        return "ok"

    @app.after_request
    async def after(response: Any) -> Any:
        if reader == "after_request":
            await read()
        return response

    rec = Recorder()
    rec.inbox = asyncio.Queue()
    scope = http_scope("/poll", "POST", [(b"content-length", b"6")])
    task = asyncio.create_task(call(app, scope, rec))
    async with asyncio.timeout(2):
        await rec.receiving.wait()  # the watch reads ahead
    for part in (b"ab", b"cd", b"ef"):
        rec.inbox.put_nowait({"type": "http.request", "body": part, "more_body": True})
        await asyncio.sleep(0)
    go.set()
    await asyncio.sleep(0)
    rec.inbox.put_nowait({"type": "http.request", "body": b"", "more_body": False})
    async with asyncio.timeout(2):
        await task
    assert rec.status == 200
    assert got == [b"abcdef"]


@pytest.mark.parametrize("raised", [False, True])
async def test_a_body_read_ahead_obeys_the_limit_in_force_when_read(
    app: Microframework, raised: bool
) -> None:
    # The read applies the limit, as it does without a wait: including one the view
    # raised for this request after waiting (porting.md: per-request limits).
    app.config["MAX_CONTENT_LENGTH"] = 4
    go = asyncio.Event()

    @app.post("/poll")
    async def poll() -> str:
        await go.wait()
        if raised:
            request.max_content_length = 10_000
        return str(len(await request.get_data()))

    rec = Recorder(b"ab", b"cd", b"ef", b"g" * 1000)
    scope = http_scope("/poll", "POST", [(b"transfer-encoding", b"chunked")])
    task = asyncio.create_task(call(app, scope, rec))
    async with asyncio.timeout(2):
        while not rec.inbox.empty():  # the watch reads ahead
            await asyncio.sleep(0)
    go.set()
    async with asyncio.timeout(2):
        await task
    assert rec.status == (200 if raised else 413)
    assert rec.body == (b"1006" if raised else rec.body)


async def test_a_body_read_ahead_keeps_at_most_what_a_server_buffers(
    app: Microframework,
) -> None:
    # A held long-poll must not hold its client's upload: the watch stops reading
    # past BUFFERED bytes (the server's flow control takes over), and the read, when
    # it comes, gets every byte in order.
    from microframework.wrappers.body import BUFFERED

    go = asyncio.Event()
    chunk = b"x" * 16384
    count = 4 * BUFFERED // len(chunk)

    @app.post("/poll")
    async def poll() -> str:
        await go.wait()
        data = await request.get_data()
        return f"{len(data)} {data == chunk * count}"

    rec = Recorder(*[chunk] * count)
    scope = http_scope("/poll", "POST", [(b"content-length", b"%d" % (count * 16384))])
    task = asyncio.create_task(call(app, scope, rec))
    async with asyncio.timeout(2):
        await rec.receiving.wait()
        for _ in range(3 * count):  # every chance to read on
            await asyncio.sleep(0)
    left = rec.inbox.qsize()
    assert (count - left) * len(chunk) <= BUFFERED + len(chunk)
    go.set()
    async with asyncio.timeout(2):
        await task
    assert rec.body == f"{count * len(chunk)} True".encode()


async def test_over_http3_a_body_read_ahead_is_kept_up_to_its_limit(
    app: Microframework,
) -> None:
    # hypercorn's HTTP/3 feeds every QUIC connection of the worker from one loop,
    # which waits for room in a request's queue: a watch paused at BUFFERED stopped
    # every HTTP/3 client for as long as the view waited (Quart reads bodies whole).
    from microframework.wrappers.body import BUFFERED

    go = asyncio.Event()
    chunk = b"x" * 16384
    count = 4 * BUFFERED // len(chunk)

    @app.post("/poll")
    async def poll() -> str:
        await go.wait()
        data = await request.get_data()
        return f"{len(data)} {data == chunk * count}"

    rec = Recorder(*[chunk] * count)
    length = [(b"content-length", b"%d" % (count * 16384))]
    scope = http_scope("/poll", "POST", length, http_version="3")
    task = asyncio.create_task(call(app, scope, rec))
    async with asyncio.timeout(2):
        await rec.receiving.wait()
        while not rec.inbox.empty():  # all of it taken, the view still waiting
            await asyncio.sleep(0)
    go.set()
    async with asyncio.timeout(2):
        await task
    assert rec.body == f"{count * len(chunk)} True".encode()


@pytest.mark.parametrize("when", ["first", "later"])
async def test_a_failing_receive_while_reading_ahead_reaches_the_read(
    app: Microframework, when: str
) -> None:
    # The watch swallowed the server's error and the read then waited for it to
    # deliver more: a 408 a minute later, or never, instead of the error at once.
    app.config["BODY_TIMEOUT"] = None
    app.config["RESPONSE_TIMEOUT"] = None
    app.testing = False
    calls = 0

    async def receive() -> dict[str, Any]:
        nonlocal calls
        calls += 1
        if when == "later" and calls == 1:
            return {"type": "http.request", "body": b"ab", "more_body": True}
        raise OSError("connection reset")

    @app.post("/poll")
    async def poll() -> str:
        await asyncio.sleep(0)  # the watch reads ahead
        return str(len(await request.get_data()))

    rec = Recorder()
    scope = http_scope("/poll", "POST", [(b"content-length", b"4")])
    async with asyncio.timeout(2):
        await app(scope, receive, rec.send)
    assert rec.status == 500


@pytest.mark.parametrize(
    ("expect", "http_version"),
    [(b"100-continue", "1.1"), (b"100-Continue", "1.1"), (b"100-continue", "2")],
)
async def test_a_client_expecting_100_continue_is_not_asked_for_its_body(
    app: Microframework, expect: bytes, http_version: str
) -> None:
    # Reading ahead makes a server send 100 Continue: a view that waits, then
    # refuses, would invite the upload it refuses. (Once the answer has started, a
    # server sends none: the body left is then dropped, see drop_unread_body.) The
    # expectation is matched without regard to case (RFC 9110). HTTP/2 frames its
    # body: with no Content-Length the upload is still one (mutant B35).
    events: list[str] = []

    @app.put("/upload")
    async def upload() -> str:
        await asyncio.sleep(0)
        abort(403)

    async def receive() -> dict[str, Any]:
        events.append("receive")
        return {"type": "http.request", "body": b"", "more_body": False}

    rec = Recorder()

    async def send(message: dict[str, Any]) -> None:
        events.append(message["type"])
        await rec.send(message)

    headers = [(b"expect", expect)]
    if http_version == "1.1":
        headers.append((b"content-length", b"100000000"))
    scope = http_scope("/upload", "PUT", headers, http_version=http_version)
    async with asyncio.timeout(2):
        await app(scope, receive, send)
    assert rec.status == 403
    assert events[0] == "http.response.start"


async def test_a_body_sent_without_a_length_on_http2_is_kept_for_the_read(
    app: Microframework,
) -> None:
    # HTTP/2 frames a body itself: a GET may carry one with no Content-Length. The
    # watch took it for a bodiless request's empty message and dropped it, and the
    # read after the wait then hung.
    @app.get("/q")
    async def q() -> str:
        await asyncio.sleep(0)
        return (await request.get_data()).decode()

    rec = Recorder(b"ab", b"cd")
    async with asyncio.timeout(2):
        await call(app, http_scope("/q", http_version="2"), rec)
    assert rec.body == b"abcd"


async def test_a_body_read_ahead_times_out_as_a_body_read_does(
    app: Microframework,
) -> None:
    # BODY_TIMEOUT applies to a read that waits for what the watch has yet to hear.
    app.config["BODY_TIMEOUT"] = 0.05

    @app.post("/poll")
    async def poll() -> str:
        await asyncio.sleep(0)  # the watch starts, reading ahead
        return str(len(await request.get_data()))

    rec = Recorder(b"ab", more_last=True)  # and then nothing more
    scope = http_scope("/poll", "POST", [(b"content-length", b"4")])
    async with asyncio.timeout(2):
        await call(app, scope, rec)
    assert rec.status == 408


async def test_a_reader_waiting_on_a_watch_that_stops_reads_on_from_the_server(
    app: Microframework,
) -> None:
    # The view's watch read part of the body ahead and stopped when the view
    # returned; a task still reading must then get the rest from receive() itself.
    got: list[bytes] = []
    reading: list[asyncio.Task[None]] = []

    @app.post("/upload")
    async def upload() -> str:
        await asyncio.sleep(0)  # the watch starts, reading ahead

        async def read() -> None:
            got.append(await request.get_data())

        reading.append(asyncio.create_task(copy_current_request_context(read)()))
        await asyncio.sleep(0)  # the reader now waits on the watch
        return "accepted"

    rec = Recorder(b"ab", more_last=True)
    scope = http_scope("/upload", "POST", [(b"content-length", b"4")])
    async with asyncio.timeout(2):
        await call(app, scope, rec)
        assert rec.status == 200
        rec.inbox.put_nowait(
            {"type": "http.request", "body": b"cd", "more_body": False}
        )
        await reading[0]
    assert got == [b"abcd"]


class _FutureServer:
    """A receive() that returns futures resolved on a later loop turn, as granian's."""

    def __init__(self, *messages: dict[str, Any]) -> None:
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        for message in messages:
            self.inbox.put_nowait(message)
        self.sent: list[dict[str, Any]] = []
        self.filling: set[asyncio.Task[None]] = set()

    def receive(self) -> asyncio.Future[dict[str, Any]]:
        future = asyncio.get_running_loop().create_future()

        async def fill() -> None:
            message = await self.inbox.get()
            if not future.done():
                future.set_result(message)

        self.filling.add(asyncio.ensure_future(fill()))
        return future

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.sent[1:])


def _parts(*bodies: bytes) -> list[dict[str, Any]]:
    last = len(bodies) - 1
    return [
        {"type": "http.request", "body": body, "more_body": i < last}
        for i, body in enumerate(bodies)
    ]


async def test_a_message_that_came_as_the_watch_stopped_reaches_the_read(
    app: Microframework,
) -> None:
    # granian: the receive() future was done, its callback queued, when the view's
    # watch stopped; the callback then dropped the future, and with it the message
    # (a 200 with a short body, or a read that waited for BODY_TIMEOUT).
    @app.post("/")
    async def view() -> Any:
        await asyncio.sleep(0)

        @stream_with_context
        async def length() -> AsyncIterator[bytes]:
            yield b"%d" % len(await request.get_data())

        return length()

    @app.after_request
    async def hook(response: Any) -> Any:
        await asyncio.sleep(0)
        return response

    for parts in ([b"x" * 50_000] * 4, [b"x" * 10]):
        server = _FutureServer(*_parts(*parts))
        scope = http_scope(
            "/", "POST", [(b"content-length", b"%d" % sum(map(len, parts)))]
        )
        async with asyncio.timeout(2):
            await app(scope, server.receive, server.send)
        assert server.body == b"%d" % sum(map(len, parts))


@pytest.mark.parametrize("reader", ["view", "task-then-stream"])
async def test_a_bodiless_read_after_a_wait_does_not_wait_for_a_message_taken(
    app: Microframework, reader: str
) -> None:
    # granian: the watch's receive() future got the one empty message; the read's own
    # receive() then waited for another (BODY_TIMEOUT, or for ever).
    app.config["BODY_TIMEOUT"] = None

    @app.post("/")
    async def view() -> Any:
        if reader == "view":
            await asyncio.sleep(0)
            return f"read {len(await request.get_data())}"
        task = asyncio.ensure_future(copy_current_request_context(request.get_data)())
        await asyncio.sleep(0)

        async def after() -> AsyncIterator[str]:
            yield f"read {len(await task)}"

        return after()

    server = _FutureServer(*_parts(b""))
    scope = http_scope("/", "POST", [(b"content-length", b"0")])
    async with asyncio.timeout(2):
        await app(scope, server.receive, server.send)
    assert server.body == b"read 0"


async def test_small_parts_read_ahead_are_joined_and_bounded_by_their_bytes(
    app: Microframework,
) -> None:
    # 64 KiB of 1-byte parts was 65,536 message dicts (about 14 MB); empty parts
    # (HTTP/2 frames) carry nothing and were kept without end. Parts that follow
    # one kept are joined to it, so what is kept is counted in bytes.
    go = asyncio.Event()

    @app.post("/")
    async def view() -> str:
        await go.wait()
        return str(len(await request.get_data()))

    parts = [b"", b"x"] * 70_000 + [b""]
    rec = Recorder(*parts)
    scope = http_scope("/", "POST", [(b"transfer-encoding", b"chunked")])
    task = asyncio.create_task(call(app, scope, rec))
    async with asyncio.timeout(5):
        await rec.receiving.wait()
        left = -1
        while left != rec.inbox.qsize():  # the watch reads on, until it pauses
            left = rec.inbox.qsize()
            for _ in range(5):
                await asyncio.sleep(0)
    kept = (len(parts) - rec.inbox.qsize()) // 2
    assert 60_000 < kept <= 65_536  # paused at BUFFERED bytes, less one dict
    go.set()
    async with asyncio.timeout(5):
        await task
    assert rec.body == b"70000"


async def test_a_body_sent_in_many_small_parts_still_lets_the_leaving_be_heard(
    app: Microframework,
) -> None:
    # Servers pass on each socket read or HTTP/2 frame as a message: 140 one-byte
    # parts stopped the watch (each was counted as a dict), and the client's
    # leaving after them was never heard.
    ended = asyncio.Event()

    @app.post("/")
    async def view() -> str:
        try:
            await asyncio.Event().wait()
            return "never"
        finally:
            ended.set()

    rec = Recorder(*[b"x"] * 140)
    rec.disconnect()
    scope = http_scope("/", "POST", [(b"transfer-encoding", b"chunked")])
    async with asyncio.timeout(2):
        await call(app, scope, rec)
        await ended.wait()


async def test_a_body_a_read_broke_off_is_dropped_past_the_read_ahead_bound(
    app: Microframework,
) -> None:
    # After `async for ...: break` nobody can read the rest, yet the watch kept it,
    # pausing at 64 KiB: with more left, the client leaving went unheard.
    started, ended = asyncio.Event(), asyncio.Event()

    @app.post("/")
    async def sniff() -> str:
        async for _chunk in request.body:
            break
        try:
            started.set()
            await asyncio.Event().wait()
        finally:
            ended.set()
        return "never"

    rec = Recorder()
    rec.inbox = asyncio.Queue()
    rec.inbox.put_nowait({"type": "http.request", "body": b"head", "more_body": True})
    scope = http_scope("/", "POST", [(b"transfer-encoding", b"chunked")])
    task = asyncio.create_task(call(app, scope, rec))
    try:
        await started.wait()
        for _ in range(4):
            part = {"type": "http.request", "body": b"x" * 65536, "more_body": True}
            rec.inbox.put_nowait(part)
        rec.disconnect()
        async with asyncio.timeout(2):
            await ended.wait()
            await task
    finally:
        task.cancel()
        await asyncio.wait({task})


@pytest.mark.parametrize("reader", ["view", "task"])
@pytest.mark.parametrize("arrives", ["before", "after"])
@pytest.mark.parametrize("kind", ["wait", "stream"])
async def test_a_view_that_read_part_of_its_body_still_hears_the_client_leave(
    app: Microframework, kind: str, arrives: str, reader: str
) -> None:
    # A view that took one chunk and broke off (a sniffed header, say), then
    # waited or streamed, was never ended by the client leaving: its watch waited
    # for the end of a read nobody would go on with.
    started, ended = asyncio.Event(), asyncio.Event()

    async def sniff() -> bytes:
        async for chunk in request.body:
            return chunk
        return b""

    @app.post("/events")
    async def events() -> Any:
        if reader == "view":
            first = await sniff()
        else:  # the view waits first: its watch reads ahead for the task
            first = await asyncio.create_task(copy_current_request_context(sniff)())
        if kind == "wait":
            try:
                started.set()
                await asyncio.Event().wait()
            finally:
                ended.set()

        async def feed() -> Any:
            try:
                yield first
                started.set()
                await asyncio.Event().wait()
            finally:
                ended.set()

        return feed()

    rec = Recorder()
    rec.inbox = asyncio.Queue()
    scope = http_scope("/events", "POST", [(b"transfer-encoding", b"chunked")])
    parts = [b"ab", b"cd", b"ef"]
    if arrives == "before":  # the read doesn't wait: no watch while it reads
        for part in parts:
            rec.inbox.put_nowait(
                {"type": "http.request", "body": part, "more_body": True}
            )
    task = asyncio.create_task(call(app, scope, rec))
    try:
        if arrives == "after":  # the read waits first: a watch waits for its end
            await rec.receiving.wait()
            for part in parts:
                rec.inbox.put_nowait(
                    {"type": "http.request", "body": part, "more_body": True}
                )
        await started.wait()
        rec.disconnect()
        async with asyncio.timeout(2):
            await ended.wait()
            await task
    finally:
        task.cancel()
        await asyncio.wait({task})
    # The first chunk: one part, or the parts kept before the read joined.
    assert rec.body in ((b"ab", b"abcdef") if kind == "stream" else (b"",))


_PART = b"x" * 16384  # more than a watch keeps ahead (BUFFERED) within 40 parts


class _BoundedQueueServer:
    """hypercorn's way with a body: a queue of ten messages to the app, fed while
    there is room, and the exchange ended by putting ``http.disconnect`` into it."""

    def __init__(self, parts: int, expect: bool = False, chunked: bool = False) -> None:
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=10)
        self.rec = Recorder()
        length = str(parts * len(_PART)).encode()
        self.headers = [(b"content-length", length)]
        if chunked:
            self.headers = [(b"transfer-encoding", b"chunked")]
        if expect:
            self.headers.append((b"expect", b"100-continue"))
        self.parts = parts

    async def run(self, app: Microframework, path: str) -> Recorder:
        """Serve one POST to *path* while the body is fed; within 2 s. The queue is
        full first, as a server's is by the time a slower app reads."""
        feeding = asyncio.create_task(self.feed())
        while not self.queue.full():
            await asyncio.sleep(0)
        try:
            async with asyncio.timeout(2):
                scope = http_scope(path, "POST", self.headers)
                await app(scope, self.queue.get, self.send)
        finally:
            feeding.cancel()
            await asyncio.wait({feeding})
        return self.rec

    async def feed(self) -> None:
        for index in range(self.parts):
            more = index < self.parts - 1
            await self.queue.put(
                {"type": "http.request", "body": _PART, "more_body": more}
            )

    async def send(self, message: dict[str, Any]) -> None:
        await self.rec.send(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            await self.queue.put({"type": "http.disconnect"})


@pytest.mark.parametrize("expect", [False, True])
@pytest.mark.parametrize("answer", ["str", "response", "stream", "stream_waits"])
async def test_a_body_left_unread_does_not_hold_the_response_end(
    app: Microframework, answer: str, expect: bool
) -> None:
    # Behind hypercorn, a view that waited and answered without reading a big body
    # never ended: the server's queue to the app was full of body, and the
    # response's last send waited to put http.disconnect there (a task and a
    # connection held for ever). What is left of the body is now dropped.
    torn_down = asyncio.Event()
    server = _BoundedQueueServer(parts=40, expect=expect)

    async def queue_filled() -> None:
        while not server.queue.full():  # a watch reads ahead, then pauses
            await asyncio.sleep(0)

    @app.post("/poll")
    async def poll() -> Any:
        if answer != "stream_waits":
            await queue_filled()
        if answer == "response":
            return await make_response("done", 200)

        async def feed() -> Any:
            if answer == "stream_waits":
                await queue_filled()  # the stream's own watch is the first
            yield "done"

        return "done" if answer == "str" else feed()

    @app.teardown_request
    async def teardown(error: BaseException | None) -> None:
        torn_down.set()

    feeding = asyncio.create_task(server.feed())
    try:
        async with asyncio.timeout(2):
            await app(
                http_scope("/poll", "POST", server.headers),
                server.queue.get,
                server.send,
            )
    finally:
        feeding.cancel()
        await asyncio.wait({feeding})
    assert server.rec.status == 200 and server.rec.body == b"done"
    assert torn_down.is_set()


@pytest.mark.parametrize(
    ("content_type", "status"),
    [
        (b"application/x-www-form-urlencoded", 413),
        (b"multipart/form-data", 400),  # no boundary: refused before a read
    ],
)
async def test_a_refused_form_does_not_hold_the_response_end(
    app: Microframework, content_type: bytes, status: int
) -> None:
    # The parse stops with most of the body still queued by the server: its last
    # send, which waits for room for http.disconnect, must not wait for ever.
    app.config["MAX_FORM_MEMORY_SIZE"] = 1000
    server = _BoundedQueueServer(parts=40)
    server.headers.append((b"content-type", content_type))

    @app.post("/form")
    async def form() -> Any:
        return dict(await request.form)

    assert (await server.run(app, "/form")).status == status


async def test_an_event_stream_hears_its_client_leave_past_a_body_left_unread(
    app: Microframework,
) -> None:
    # An SSE view sent a big POST body never heard its client leave: its watch
    # paused once it kept 64 KiB, and an event stream may run for ever. Past that,
    # an event stream's watch drops the body and reads on. (Other streams may read
    # their body later: test_a_stream_that_reads_its_body_gets_all_of_it.)
    ended = asyncio.Event()

    @app.post("/events")
    async def events() -> Any:
        async def feed() -> Any:
            try:
                yield "started\n"
                await asyncio.Event().wait()
            finally:
                ended.set()

        return Response(feed(), mimetype="text/event-stream")

    rec = Recorder(*[b"x" * 16384] * 10, more_last=True)
    rec.disconnect()
    scope = http_scope("/events", "POST", [(b"transfer-encoding", b"chunked")])
    async with asyncio.timeout(2):
        await call(app, scope, rec)
        await ended.wait()
    assert rec.body == b"started\n"


@pytest.mark.parametrize("read", ["async_for", "get_data"])
async def test_a_stream_that_reads_its_body_gets_all_of_it(
    app: Microframework, read: str
) -> None:
    # A stream's watch dropped a body it had kept 64 KiB of while the stream's
    # own generator was reading it: the response was cut, with nothing logged.
    @app.post("/echo")
    async def echo() -> Any:
        async def feed() -> Any:
            yield "start "
            if read == "get_data":
                yield str(len(await request.get_data()))
                return
            total = 0
            async for chunk in request.body:
                total += len(chunk)
            yield str(total)

        return feed()

    rec = await _BoundedQueueServer(parts=40).run(app, "/echo")
    assert rec.body == b"start " + str(40 * len(_PART)).encode()


@pytest.mark.parametrize(
    "case", ["413_mid_body", "413_declared", "form_over_limit", "break_return"]
)
async def test_a_read_that_stopped_does_not_hold_the_response_end(
    app: Microframework, case: str
) -> None:
    # A read that raised 413 partway, or broke off (its generator closed only
    # later), still counted as a reader: the unread rest was kept, and behind
    # hypercorn the last send, the task and the connection waited for ever.
    torn_down = asyncio.Event()
    app.config["MAX_CONTENT_LENGTH"] = 100_000 if case != "break_return" else None

    @app.post("/up")
    async def up() -> str:
        if case == "break_return":
            async for _ in request.body:
                break
            return "sniffed"
        if case == "form_over_limit":
            request.max_form_memory_size = 1000
            return str(len(await request.form))
        return str(len(await request.get_data()))

    @app.teardown_request
    async def teardown(error: BaseException | None) -> None:
        torn_down.set()

    server = _BoundedQueueServer(parts=40, chunked=case != "413_declared")
    if case == "form_over_limit":
        app.config["MAX_CONTENT_LENGTH"] = None
        server.headers.append((b"content-type", b"application/x-www-form-urlencoded"))
    rec = await server.run(app, "/up")
    assert rec.status == (200 if case == "break_return" else 413)
    assert torn_down.is_set()


async def test_dropping_a_body_leaves_no_reference_cycle(app: Microframework) -> None:
    from asgi_harness import cycles_made

    @app.post("/poll")
    async def poll() -> str:
        await asyncio.sleep(0)
        return "done"

    async def one() -> None:
        server = _BoundedQueueServer(parts=40)
        server.queue = asyncio.Queue(maxsize=2)  # full while the view waits
        assert (await server.run(app, "/poll")).body == b"done"

    await one()
    with cycles_made() as left:
        for _ in range(3):
            await one()
    assert left == []


@pytest.mark.parametrize("path", ["/wait", "/read", "/late", "/events"])
async def test_a_client_leaving_leaves_no_reference_cycle(
    app: Microframework, path: str
) -> None:
    # The dispatcher kept the ClientDisconnected, whose traceback holds its frame:
    # the request, its context and the guard, left to the collector per client. On
    # Python 3.12+ the cancel it was raised in (its __context__) did the same, and
    # the 504's too (a finished frame keeps a link to its caller's there).
    from asgi_harness import cycles_made

    app.config["RESPONSE_TIMEOUT"] = 0.001 if path == "/late" else None

    @app.route("/wait")
    @app.route("/late")
    async def wait() -> str:
        await asyncio.Event().wait()
        return "never"

    @app.post("/read")
    async def read() -> bytes:
        return await request.get_data()  # type: ignore[no-any-return]

    @app.route("/events")
    async def events() -> Response:
        async def source() -> AsyncIterator[str]:
            yield "first"
            await asyncio.Event().wait()

        return event_stream(source())

    async def one() -> None:
        rec = Recorder(b"ab", more_last=True)
        if path != "/late":
            rec.disconnect()
        method = "POST" if path == "/read" else "GET"
        headers = [(b"transfer-encoding", b"chunked")] if path == "/read" else []
        async with asyncio.timeout(2):
            await call(app, http_scope(path, method, headers), rec)

    await one()
    with cycles_made() as left:
        for _ in range(3):
            await one()
    assert left == []


@pytest.mark.parametrize("path", ["/late", "/wait", "/events"])
async def test_the_guards_errors_carry_no_cancel(
    app: Microframework, path: str
) -> None:
    # As __context__, the cancel's traceback held the view's frame (on 3.12+ linked
    # to its callers': the cycles above); seen here on any Python.
    app.config["RESPONSE_TIMEOUT"] = 0.001 if path == "/late" else None
    seen: list[BaseException | None] = []

    @app.errorhandler(504)
    async def late(error: Exception) -> tuple[str, int]:
        seen.append(error.__context__)
        return "late", 504

    @app.teardown_request
    async def teardown(exc: BaseException | None) -> None:
        if exc is not None:
            seen.append(exc.__context__)

    @app.route("/wait")
    @app.route("/late")
    async def wait() -> str:
        await asyncio.Event().wait()
        return "never"

    @app.route("/events")
    async def events() -> Response:
        async def source() -> AsyncIterator[str]:
            yield "first"
            await asyncio.Event().wait()

        return event_stream(source())

    rec = Recorder()
    if path != "/late":
        rec.disconnect()
    async with asyncio.timeout(2):
        await call(app, http_scope(path), rec)
    assert seen == [None]


async def test_a_servers_bytearray_body_is_not_changed_by_the_read_ahead(
    app: Microframework,
) -> None:
    # Parts read ahead are joined in a buffer of our own, never in the server's.
    go = asyncio.Event()

    @app.post("/")
    async def view() -> str:
        await go.wait()
        return (await request.get_data()).decode()

    first = bytearray(b"ab")
    rec = Recorder()
    rec.inbox = asyncio.Queue()
    rec.inbox.put_nowait({"type": "http.request", "body": first, "more_body": True})
    rec.inbox.put_nowait({"type": "http.request", "body": b"cd", "more_body": True})
    rec.inbox.put_nowait({"type": "http.request", "body": b"ef", "more_body": False})
    scope = http_scope("/", "POST", [(b"transfer-encoding", b"chunked")])
    task = asyncio.create_task(call(app, scope, rec))
    async with asyncio.timeout(2):
        while not rec.inbox.empty():
            await asyncio.sleep(0)
        go.set()
        await task
    assert rec.body == b"abcdef"
    assert first == bytearray(b"ab")


@pytest.mark.parametrize("kind", ["view", "stream"])
async def test_response_timeout_set_after_the_first_request_applies(
    app: Microframework, kind: str
) -> None:
    # configuration.md: only the routing keys are read once; this one is read per
    # request (as in Quart), so a timeout set later, or lifted, takes effect.
    @app.get("/")
    async def index() -> str:
        return "ok"

    @app.get("/slow")
    async def slow() -> Any:
        if kind == "view":
            await asyncio.Event().wait()

        async def body() -> AsyncIterator[bytes]:
            yield b"first"
            await asyncio.Event().wait()

        return body()

    @app.get("/own", response_timeout=None)
    async def own() -> str:
        await asyncio.sleep(0)
        return "own"

    client = app.test_client()
    assert (await client.get("/")).status_code == 200
    app.config["RESPONSE_TIMEOUT"] = 0.01
    async with asyncio.timeout(5):
        rec = await call(app, http_scope("/slow"))
        assert (await client.get("/own")).status_code == 200
    if kind == "view":
        assert rec.status == 504
    else:  # the idle limit between chunks cuts the stream after its first
        assert rec.body == b"first"
        assert rec.sent[-1]["more_body"] is True


class _SlowBody(Recorder):
    """A body whose second part comes a loop turn later: a read waits for it."""

    async def receive(self) -> dict[str, Any]:
        await asyncio.sleep(0)
        return await super().receive()


@pytest.mark.parametrize("kind", ["view", "events", "body"])
async def test_timers_made_for_a_request_hold_no_context(
    app: Microframework, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A cancelled timer stays in the loop's heap until purged: made in the request's
    # context (the response timeout's, an event stream's keep-alive, a body read's
    # BODY_TIMEOUT), it kept the request (its g, its body) alive up to that long
    # after the response.
    loop = asyncio.get_running_loop()
    contexts: list[contextvars.Context] = []

    def recording(method: Any) -> Any:
        def made(when: float, callback: Any, *args: Any, context: Any = None) -> Any:
            contexts.append(contextvars.copy_context() if context is None else context)
            return method(when, callback, *args, context=context)

        return made

    monkeypatch.setattr(loop, "call_later", recording(loop.call_later))
    monkeypatch.setattr(loop, "call_at", recording(loop.call_at))

    @app.route("/", methods=["GET", "POST"])
    async def index() -> Any:
        if kind == "body":
            return await request.get_data()
        await asyncio.sleep(0)
        if kind == "view":
            return "ok"

        async def events() -> AsyncIterator[str]:
            yield "one"

        return event_stream(events(), keep_alive=30)

    if kind == "body":
        headers = [(b"transfer-encoding", b"chunked")]
        scope = http_scope("/", "POST", headers)
        recorder = await call(app, scope, _SlowBody(b"a", b"b"))
    else:
        recorder = await call(app, http_scope("/"))
    assert recorder.status == 200
    assert contexts
    assert [context.run(has_app_context) for context in contexts] == [False] * len(
        contexts
    )
