"""Streamed bodies: idle timeouts, context in generators, SSE, early hints, trailers, uploads."""

from __future__ import annotations

import asyncio
import contextvars
import gc
import logging
import math
import sys
import types
import weakref
from collections.abc import AsyncGenerator
from collections.abc import AsyncIterator
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest
from asgi_harness import call
from asgi_harness import http_scope
from asgi_harness import Recorder
from hypothesis import given
from hypothesis import strategies as st
from servers import LIMIT
from servers import SERVERS

from microframework import g
from microframework import has_app_context
from microframework import Microframework
from microframework import request
from microframework import Response
from microframework import send_early_hints
from microframework import send_file
from microframework import stream_with_context
from microframework.sse import event_stream
from microframework.sse import last_event_id
from microframework.sse import ServerSentEvent
from microframework.testing import TestHTTPConnection
from microframework.typing import Message

# -- idle timeout ---------------------------------------------------------------


async def test_idle_stream_is_closed_unfinished_and_logged(
    app: Microframework, caplog: pytest.LogCaptureFixture
) -> None:
    closed = asyncio.Event()

    @app.route("/")
    async def index() -> Response:
        async def body() -> AsyncIterator[bytes]:
            try:
                yield b"first"
                await asyncio.Event().wait()  # the producer goes quiet
                yield b"never"
            finally:
                closed.set()

        response = Response(body())
        response.timeout = 0.01
        return response

    with caplog.at_level(logging.WARNING):
        async with asyncio.timeout(5):
            rec = await call(app, http_scope("/"))
    assert closed.is_set()
    assert rec.body == b"first"
    # Left unfinished: a truncated stream must not look complete.
    assert rec.sent[-1]["more_body"] is True
    assert "idle past its timeout" in caplog.text


class _StalledReader:
    """A server whose client stops reading: send() waits for ever once *after* body
    bytes went out (or, with *after* None, on the last body message: a shut HTTP/2
    window)."""

    def __init__(self, after: int | None) -> None:
        self.after, self.sent, self.stalled = after, 0, False
        self.messages: list[dict[str, Any]] = []

    async def receive(self) -> dict[str, Any]:
        if not self.messages:
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.Event().wait()  # no disconnect: the client is there, not reading
        return {}

    async def send(self, message: dict[str, Any]) -> None:
        self.messages.append(message)
        if message["type"] != "http.response.body":
            return
        self.sent += len(message.get("body", b""))
        last = not message.get("more_body", False)
        if (self.after is None and last) or (
            self.after is not None and self.sent > self.after
        ):
            self.stalled = True
            await asyncio.Event().wait()


@pytest.mark.parametrize(
    ("kind", "after"),
    [
        ("stream", 100_000),  # a client that stops reading mid-stream (HTTP/1.1)
        ("stream", None),  # only the end waits: an HTTP/2 window shut (hypercorn)
        ("bytes", 0),  # a body bigger than a server buffers, sent at once
        ("response", 0),  # the same, in a Response object
        ("writer", 100_000),  # async def body(write)
    ],
)
async def test_a_client_that_stops_reading_times_out(
    app: Microframework, caplog: pytest.LogCaptureFixture, kind: str, after: int | None
) -> None:
    # RESPONSE_TIMEOUT bounds a send that waits for the reader too: a stalled client
    # must not hold a view, its finally and teardown for ever (Quart's does not).
    # (0.2 s: the writer's task, late by more than 50 ms on a loaded machine, was cut
    # before the client stalled.)
    app.config["RESPONSE_TIMEOUT"] = 0.2
    ended: list[str] = []
    chunk = b"x" * 32_768

    @app.teardown_request
    async def teardown(exc: BaseException | None) -> None:
        ended.append("teardown")

    @app.route("/")
    async def index() -> Any:
        async def body() -> AsyncIterator[bytes]:
            try:
                for _ in range(20):
                    yield chunk
            finally:
                ended.append("finally")

        async def writer(write: Any) -> None:
            try:
                for _ in range(20):
                    await write(chunk)
            finally:
                ended.append("finally")

        if kind == "bytes":
            return chunk * 8
        if kind == "response":
            return Response(chunk * 8)
        return body() if kind == "stream" else writer

    server = _StalledReader(after)
    with caplog.at_level(logging.WARNING):
        async with asyncio.timeout(5):
            await app(http_scope("/"), server.receive, server.send)
    assert server.stalled
    assert ended == (
        ["teardown"] if kind in ("bytes", "response") else ["finally", "teardown"]
    )
    if after is not None:  # else the end was what waited
        assert server.messages[-1].get("more_body", False) is True  # left unfinished
    assert "idle past its timeout" in caplog.text


async def test_a_big_bytes_body_is_cut_at_its_responses_own_timeout(
    app: Microframework, caplog: pytest.LogCaptureFixture
) -> None:
    # Past what a server buffers, a bytes body is streamed: response.timeout, not
    # the app's (far longer) RESPONSE_TIMEOUT, is what a stalled reader gets.
    app.config["RESPONSE_TIMEOUT"] = 60

    @app.route("/")
    async def index() -> Response:
        response = Response(b"x" * 200_000)
        response.timeout = 0.01
        return response

    server = _StalledReader(0)
    with caplog.at_level(logging.WARNING):
        async with asyncio.timeout(5):
            await app(http_scope("/"), server.receive, server.send)
    assert server.stalled
    assert server.messages[-1]["more_body"] is True  # left unfinished
    assert "idle past its timeout" in caplog.text


async def test_a_slow_reader_that_keeps_reading_is_not_cut(app: Microframework) -> None:
    # Each send waits a little (the client reads slowly), never past the timeout.
    app.config["RESPONSE_TIMEOUT"] = 1

    @app.route("/")
    async def index() -> Any:
        return b"y" * 300_000

    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        await asyncio.Event().wait()
        return {}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        await asyncio.sleep(0)  # a wait: the watched path arms and disarms its timer

    async with asyncio.timeout(5):
        await app(http_scope("/"), receive, send)
    assert b"".join(m.get("body", b"") for m in sent[1:]) == b"y" * 300_000
    assert sent[-1]["more_body"] is False


@pytest.mark.parametrize("source", ["config", "route"])
async def test_stream_idle_timeout_defaults_to_the_response_timeout(
    app: Microframework, source: str
) -> None:
    # RESPONSE_TIMEOUT, or a route's own response_timeout, bounds its streams too.
    options: dict[str, Any] = {}
    if source == "config":
        app.config["RESPONSE_TIMEOUT"] = 0.01
    else:
        options["response_timeout"] = 0.01

    @app.route("/", **options)
    async def index() -> Any:
        async def body() -> AsyncIterator[bytes]:
            yield b"first"
            await asyncio.Event().wait()
            yield b"never"

        return body()

    async with asyncio.timeout(5):
        rec = await call(app, http_scope("/"))
    assert (rec.status, rec.body) == (200, b"first")
    assert rec.sent[-1]["more_body"] is True


async def test_steady_stream_longer_than_its_timeout_completes(
    app: Microframework,
) -> None:
    # The timeout bounds the gap between chunks, not the whole response. (Chunks 10 ms
    # apart: a quarter of a second leaves a loaded machine room for a late one.)
    app.config["RESPONSE_TIMEOUT"] = 0.25
    chunks: list[bytes] = []

    @app.route("/")
    async def index() -> Any:
        async def body() -> AsyncIterator[bytes]:
            loop = asyncio.get_running_loop()
            start = loop.time()
            while loop.time() - start < 0.75:  # three timeouts long
                await asyncio.sleep(0.01)
                chunks.append(b".")
                yield b"."
            yield b"end"

        return body()

    async with asyncio.timeout(5):
        rec = await call(app, http_scope("/"))
    assert rec.body == b"".join(chunks) + b"end"
    assert rec.sent[-1] == {
        "type": "http.response.body",
        "body": b"",
        "more_body": False,
    }


async def test_stream_without_idle_timeout_waits_as_long_as_needed(
    app: Microframework,
) -> None:
    app.config["RESPONSE_TIMEOUT"] = 0.01
    release = asyncio.Event()
    first_sent = asyncio.Event()

    @app.route("/")
    async def index() -> Any:
        async def body() -> AsyncIterator[bytes]:
            yield b"a"
            first_sent.set()
            await release.wait()
            yield b"b"

        response = Response(body())
        response.timeout = 30
        return response

    app.add_url_rule("/other", "other", _forever)
    task = asyncio.create_task(call(app, http_scope("/")))
    await first_sent.wait()
    # Let a request on the short default time out meanwhile, so the time has passed.
    rec_other = await call(app, http_scope("/other"))
    assert rec_other.status == 504
    release.set()
    rec = await task
    assert rec.body == b"ab"
    assert rec.sent[-1]["more_body"] is False


@pytest.mark.parametrize("how", ["response.timeout", "route"])
async def test_none_lifts_the_idle_timeout_of_a_stream(
    app: Microframework, how: str
) -> None:
    # Quart's broadcast tutorial: ``response.timeout = None  # No timeout``.
    app.config["RESPONSE_TIMEOUT"] = 0.01
    release, first_sent = asyncio.Event(), asyncio.Event()
    options = {"response_timeout": None} if how == "route" else {}

    @app.route("/", **options)
    async def index() -> Any:
        async def body() -> AsyncIterator[bytes]:
            yield b"a"
            first_sent.set()
            await release.wait()
            yield b"b"

        response = Response(body())
        if how == "response.timeout":
            response.timeout = None
        return response

    app.add_url_rule("/other", "other", _forever)
    task = asyncio.create_task(call(app, http_scope("/")))
    await first_sent.wait()
    assert (await call(app, http_scope("/other"))).status == 504  # the time passed
    release.set()
    rec = await task
    assert rec.body == b"ab"
    assert rec.sent[-1]["more_body"] is False


async def _forever() -> str:
    await asyncio.Event().wait()
    return "never"


# -- context inside generators --------------------------------------------------


async def test_stream_with_context_keeps_request_and_g_in_async_body(
    app: Microframework,
) -> None:
    seen: list[Any] = []

    @app.route("/item")
    async def item() -> Any:
        g.owner = "me"
        view_g = g._get_current_object()

        @stream_with_context
        async def body() -> AsyncIterator[str]:
            yield request.args["q"]
            await asyncio.sleep(0)
            seen.append(g._get_current_object() is view_g)
            yield g.owner

        return body()

    response = await app.test_client().get("/item?q=hello")
    assert await response.get_data() == b"hellome"
    assert seen == [True]


async def test_stream_with_context_survives_the_context_ending(
    app: Microframework,
) -> None:
    async with app.test_request_context("/path?q=1"):
        g.marker = "kept"
        view_g = g._get_current_object()

        async def body() -> AsyncIterator[Any]:
            yield request.path
            yield g._get_current_object() is view_g
            yield g.marker

        wrapped = stream_with_context(body())
    # The context has been popped; the body is iterated afterwards, as a server would.
    assert [chunk async for chunk in wrapped] == ["/path", True, "kept"]


async def test_an_abandoned_stream_with_context_runs_its_sources_finally(
    app: Microframework,
) -> None:
    # flask#6123: a wrapper closed early must close what it wraps, or its finally
    # (a database cursor, a file) waits for the garbage collector.
    closed: list[str] = []

    async def async_body() -> AsyncIterator[str]:
        try:
            yield "a"
            yield "b"
        finally:
            closed.append("async")

    def sync_body() -> Iterator[str]:
        try:
            yield "a"
            yield "b"
        finally:
            closed.append("sync")

    async with app.test_request_context("/"):
        wrapped_async = stream_with_context(async_body())
        wrapped_sync = stream_with_context(sync_body())
    assert await anext(wrapped_async) == "a"
    await wrapped_async.aclose()
    assert next(wrapped_sync) == "a"
    wrapped_sync.close()
    assert closed == ["async", "sync"]


async def test_stream_with_context_wraps_a_sync_generator(app: Microframework) -> None:
    async with app.test_request_context("/sync"):
        g.marker = "sync"

        def body() -> Iterator[str]:
            yield request.path
            yield g.marker

        wrapped = stream_with_context(body())
    assert list(wrapped) == ["/sync", "sync"]


async def test_stream_with_context_sync_body_through_the_client(
    app: Microframework,
) -> None:
    @app.route("/sync")
    async def sync_view() -> Any:
        g.marker = "g"

        @stream_with_context
        def body() -> Iterator[str]:
            yield request.path
            yield g.marker

        return body()

    response = await app.test_client().get("/sync")
    assert await response.get_data() == b"/syncg"


async def test_stream_with_context_needs_a_request() -> None:
    async def body() -> AsyncGenerator[str, None]:
        yield "x"

    generator = body()
    with pytest.raises(RuntimeError, match="request context"):
        stream_with_context(generator)
    await generator.aclose()


# -- async with blocks inside a body ----------------------------------------------


class _Resource:
    """An async context manager recording how it was left."""

    def __init__(self, log: list[str]) -> None:
        self.log = log

    async def __aenter__(self) -> _Resource:
        self.log.append("enter")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.log.append(f"exit:{None if exc_type is None else exc_type.__name__}")


class _FutureChunks:
    """An async iterator whose __anext__ returns a future, not a coroutine."""

    def __init__(self, chunks: list[Any]) -> None:
        self.chunks = chunks
        self.closed = False

    def __aiter__(self) -> _FutureChunks:
        return self

    def __anext__(self) -> asyncio.Future[Any]:
        future = asyncio.get_running_loop().create_future()
        if self.chunks:
            # Resolved on a later pass: the stream waits on it, guard armed.
            asyncio.get_running_loop().call_soon(future.set_result, self.chunks.pop(0))
        else:
            future.set_exception(StopAsyncIteration())
        return future

    async def aclose(self) -> None:
        self.closed = True


async def test_an_async_iterator_of_futures_is_streamed_and_encoded(
    app: Microframework,
) -> None:
    # The app's own iterator is sent from directly: any awaitable from __anext__,
    # str chunks encoded, the iterator closed at the end.
    source = _FutureChunks(["a", b"b", bytearray(b"c")])

    @app.route("/")
    async def index() -> Response:
        return Response(source)

    rec = await call(app, http_scope("/"))
    assert rec.status == 200
    assert rec.body == b"abc"
    assert source.closed


@pytest.mark.parametrize("trailers", [False, True])
async def test_a_streaming_response_is_not_held_while_its_body_runs(
    app: Microframework, trailers: bool
) -> None:
    # A held stream (an event feed) keeps only what sending needs: the response
    # object, its headers and cookies are freed once its start has gone out, unless
    # trailers still have to be read from it.
    refs: list[weakref.ref[Response]] = []
    alive: list[bool] = []

    @app.route("/")
    async def index() -> Response:
        async def body() -> AsyncIterator[bytes]:
            yield b"a"
            alive.append(refs[0]() is not None)
            yield b"b"

        response = Response(body())
        response.set_cookie("k", "v")
        if trailers:
            response.trailers = {"x-done": "1"}
        refs.append(weakref.ref(response))
        return response

    scope = http_scope("/")
    if trailers:
        scope["extensions"] = {"http.response.trailers": {}}
    rec = await call(app, scope)
    assert rec.status == 200 and rec.body == b"ab"
    assert alive == [trailers]
    assert (rec.sent[-1]["type"] == "http.response.trailers") is trailers


def _callers() -> list[str]:
    """The qualified names of the running frames, innermost first."""
    names = []
    frame = sys._getframe(1)
    while frame is not None:
        names.append(frame.f_code.co_qualname)
        frame = frame.f_back
    return names


async def test_a_held_stream_keeps_only_the_dispatcher_and_the_streamer(
    app: Microframework,
) -> None:
    # A held stream (an event feed, for hours) is two coroutine frames deep: the
    # dispatcher's and the streamer's, which sends the start itself. Neither
    # Response.send's frame nor a disconnect-watch object beside the guard stays.
    from microframework._guard import Guard
    from microframework._utils import Listener

    seen: list[list[str]] = []
    watches: list[int] = []

    @app.route("/")
    async def index() -> Response:
        async def body() -> AsyncIterator[bytes]:
            yield b"a"
            seen.append(_callers())
            gc.collect()  # no guard of an earlier test left in a cycle
            watches.append(
                sum(isinstance(o, (Guard, Listener)) for o in gc.get_objects())
            )
            yield b"b"

        return Response(body())

    rec = await call(app, http_scope("/"))
    assert rec.status == 200 and rec.body == b"ab"
    chain = seen[0]
    outer = chain[chain.index("stream_body") :]
    assert outer[:2] == ["stream_body", "handle_http"], chain
    assert watches == [1]  # the guard is the listener: one object


async def test_a_body_that_cannot_be_iterated_leaves_no_watch_behind(
    app: Microframework,
) -> None:
    # The app's async iterable fails as the stream begins: the error reaches the
    # server, and no disconnect watch stays registered for the dead request.
    class Broken:
        def __aiter__(self) -> AsyncIterator[bytes]:
            raise ValueError("no iterator today")

    @app.route("/")
    async def index() -> Response:
        return Response(Broken())

    with pytest.raises(ValueError, match="no iterator today"):
        await call(app, http_scope("/"))
    assert not app.drain.members


async def test_a_stream_whose_start_cannot_be_sent_closes_its_body(
    app: Microframework,
) -> None:
    # The peer left before the start went out (a server raises OSError from
    # send()): the body is closed at once, not left for the garbage collector,
    # and nothing is raised to the server for a client that is not there.
    bodies: list[AsyncGenerator[bytes, None]] = []

    @app.route("/")
    async def index() -> Response:
        async def body() -> AsyncIterator[bytes]:
            yield b"never"

        bodies.append(body())  # type: ignore[arg-type]
        return Response(bodies[0])

    rec = Recorder()

    async def send(message: dict[str, Any]) -> None:
        raise ConnectionResetError("peer closed")

    await app(http_scope("/"), rec.receive, send)
    assert bodies[0].ag_frame is None  # closed


@pytest.mark.parametrize("chunks", [0, 2])
async def test_a_stream_whose_client_already_left_leaves_no_cancel_behind(
    app: Microframework, chunks: int
) -> None:
    # The disconnect is already queued when the stream starts watching for it, and
    # the body ends without ever waiting: the watch must not leave a cancel pending
    # on the task, to hit whatever it does next (found by the long fuzz run).
    @app.route("/")
    async def index() -> Response:
        async def body() -> AsyncIterator[str]:
            for index in range(chunks):
                yield str(index)

        return Response(body())

    messages = [{"type": "http.request", "body": b"", "more_body": False}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(http_scope("/"), receive, send)  # in this task, as the fuzz harness
    await asyncio.sleep(0)  # a stray cancel would be raised here
    assert sent[0]["status"] == 200
    assert sent[-1]["more_body"] is False


async def test_async_with_in_body_exits_on_completion(app: Microframework) -> None:
    log: list[str] = []

    @app.route("/")
    async def index() -> Any:
        async def body() -> AsyncIterator[str]:
            async with _Resource(log):
                yield "a"
                await asyncio.sleep(0)
                yield "b"

        return body()

    response = await app.test_client().get("/")
    assert await response.get_data() == b"ab"
    assert log == ["enter", "exit:None"]


async def test_async_with_in_body_exits_on_disconnect(app: Microframework) -> None:
    log: list[str] = []
    exited = asyncio.Event()

    @app.route("/")
    async def index() -> Any:
        async def body() -> AsyncIterator[str]:
            try:
                async with _Resource(log):
                    yield "a"
                    await asyncio.Event().wait()
                    yield "never"
            finally:
                exited.set()

        return body()

    async with app.test_client().request("/") as connection:
        await connection.send_complete()
        assert await connection.receive() == b"a"
        await connection.disconnect()
        async with asyncio.timeout(1):
            await exited.wait()
    assert log == ["enter", "exit:CancelledError"]


# -- server-sent events ------------------------------------------------------------


def test_sse_event_has_every_field_in_order() -> None:
    event = ServerSentEvent("line one\nline two", event="update", id="7", retry=2500)
    assert event.encode() == (
        b"id: 7\nevent: update\nretry: 2500\ndata: line one\ndata: line two\n\n"
    )


def test_sse_event_with_only_data() -> None:
    assert ServerSentEvent("hi").encode() == b"data: hi\n\n"
    assert ServerSentEvent("").encode() == b"data: \n\n"


async def test_sse_dict_data_is_json_from_the_app_provider(
    app: Microframework,
) -> None:
    async with app.app_context():
        encoded = ServerSentEvent({"b": 1, "a": [1, 2]}).encode()
    assert encoded == b'data: {"a": [1, 2], "b": 1}\n\n'


def test_sse_dict_data_is_json_without_an_app() -> None:
    assert ServerSentEvent({"k": "v"}).encode() == b'data: {"k": "v"}\n\n'


@pytest.mark.parametrize("field", ["id", "event"])
def test_sse_single_line_fields_refuse_newlines(field: str) -> None:
    # Where the event is made: once sent, the 200 and earlier events are out.
    with pytest.raises(ValueError, match=field):
        ServerSentEvent("x", **{field: "a\nb"})  # type: ignore[arg-type]
    event = ServerSentEvent("x")
    setattr(event, field, "a\nb")  # changed since: refused when sent
    with pytest.raises(ValueError, match=field):
        event.encode()


def _parse_sse(stream: bytes) -> list[dict[str, str]]:
    """A client's parser, as the HTML standard describes it."""
    events: list[dict[str, str]] = []
    fields: dict[str, str] = {}
    data: list[str] = []
    text = stream.decode().replace("\r\n", "\n").replace("\r", "\n")
    for line in text.split("\n"):
        if line == "":
            if data or fields:
                events.append({**fields, "data": "\n".join(data)})
            fields, data = {}, []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            data.append(value)
        else:
            fields[name] = value
    return events


@given(st.text())
def test_sse_data_round_trips_through_a_client_parser(data: str) -> None:
    # A client splits only on CR, LF and CRLF; a line break it does not know (U+2028,
    # a form feed) must come back as it was.
    expected = data.replace("\r\n", "\n").replace("\r", "\n")
    assert _parse_sse(ServerSentEvent(data).encode()) == [{"data": expected}]


async def test_event_stream_sends_events_with_headers(app: Microframework) -> None:
    async def source() -> AsyncIterator[Any]:
        yield ServerSentEvent("one", id="1", event="tick")
        yield "two"
        yield {"n": 3}

    @app.route("/events")
    async def events() -> Response:
        return event_stream(source(), retry=3000)

    response = await app.test_client().get("/events")
    assert response.mimetype == "text/event-stream"
    assert response.headers["Cache-Control"] == "no-cache"
    body = await response.get_data()
    assert body == (
        b"retry: 3000\n\n"
        b"id: 1\nevent: tick\ndata: one\n\n"
        b"data: two\n\n"
        b'data: {"n": 3}\n\n'
    )


async def _receive_until(
    connection: TestHTTPConnection, marker: bytes, count: int = 1
) -> bytes:
    """What the connection receives until *marker* has come *count* times."""
    received = b""
    async with asyncio.timeout(5):
        while received.count(marker) < count:
            received += await connection.receive()
    return received


async def test_event_stream_sends_keep_alive_while_source_is_idle(
    app: Microframework,
) -> None:
    source_closed = asyncio.Event()

    async def source() -> AsyncIterator[str]:
        try:
            yield "hello"
            await asyncio.Event().wait()  # nothing more to say
            yield "never"
        finally:
            # Cancelled where it waits when the client leaves, as its task would
            # be; a clean-up that awaits runs to the end.
            await asyncio.sleep(0)
            source_closed.set()

    @app.route("/events")
    async def events() -> Response:
        response = event_stream(source(), keep_alive=0.01)
        response.timeout = None  # its idle cut (4 periods) could come first under load
        return response

    async with app.test_client().request("/events") as connection:
        await connection.send_complete()
        received = await _receive_until(connection, b": keep-alive\n\n")
        await connection.disconnect()
        async with asyncio.timeout(1):
            await source_closed.wait()
    assert received.startswith(b"data: hello\n\n")
    assert _parse_sse(received) == [{"data": "hello"}]  # comments are not events


@pytest.mark.parametrize("keep_alive", [None, 0.01])
async def test_an_event_stream_runs_its_source_in_the_request_task(
    app: Microframework, keep_alive: float | None
) -> None:
    # A held event stream costs no task of its own: the source's steps run in the
    # task serving the request, waits and all.
    tasks: list[asyncio.Task[Any] | None] = []

    async def source() -> AsyncIterator[str]:
        tasks.append(asyncio.current_task())
        await asyncio.sleep(0)
        yield "one"
        tasks.append(asyncio.current_task())
        yield "two"

    @app.route("/events")
    async def events() -> Response:
        tasks.append(asyncio.current_task())
        return event_stream(source(), keep_alive=keep_alive)

    response = await app.test_client().get("/events")
    assert await response.get_data() == b"data: one\n\ndata: two\n\n"
    assert len(tasks) == 3 and len(set(tasks)) == 1, tasks


async def test_a_keep_alive_does_not_cancel_the_source_mid_step(
    app: Microframework,
) -> None:
    # Comments go out while the source waits longer than a keep-alive period; the
    # wait goes on, and what the source then yields is sent.
    gate = asyncio.Event()
    cancelled: list[bool] = []

    async def source() -> AsyncIterator[str]:
        try:
            await gate.wait()
        except asyncio.CancelledError:
            cancelled.append(True)
            raise
        yield "after the wait"

    @app.route("/events")
    async def events() -> Response:
        response = event_stream(source(), keep_alive=0.01)
        response.timeout = None  # its idle cut (4 periods) could come first under load
        return response

    async with app.test_client().request("/events") as connection:
        await connection.send_complete()
        await _receive_until(connection, b": keep-alive\n\n", count=2)
        gate.set()
        await _receive_until(connection, b"data: after the wait\n\n")
        await connection.disconnect()
    assert cancelled == []


async def test_an_event_source_may_return_its_own_awaitables(
    app: Microframework,
) -> None:
    # An async iterator whose __anext__ returns a future, not a coroutine.
    class Countdown:
        def __init__(self) -> None:
            self.left = 2

        def __aiter__(self) -> Countdown:
            return self

        def __anext__(self) -> asyncio.Future[str]:
            future = asyncio.get_running_loop().create_future()
            if self.left:
                self.left -= 1
                asyncio.get_running_loop().call_soon(future.set_result, str(self.left))
            else:
                future.set_exception(StopAsyncIteration())
            return future

    @app.route("/events")
    async def events() -> Response:
        return event_stream(Countdown(), keep_alive=5)

    response = await app.test_client().get("/events")
    assert await response.get_data() == b"data: 1\n\ndata: 0\n\n"


@pytest.mark.parametrize("server", sorted(SERVERS))
async def test_an_event_stream_through_a_real_server_ends_when_the_socket_closes(
    app: Microframework, server: str
) -> None:
    # Through hypercorn and uvicorn: events and keep-alive comments arrive on the
    # socket; closing it cancels the source where it waits, and teardown runs.
    app.testing = False  # as deployed
    cleaned = asyncio.Event()
    torn_down = asyncio.Event()

    async def source() -> AsyncIterator[str]:
        try:
            yield "hello"
            await asyncio.Event().wait()
        finally:
            cleaned.set()

    @app.route("/events")
    async def events() -> Response:
        response = event_stream(source(), keep_alive=0.01)
        # Its idle timeout (4 keep-alives, 40 ms) could end it on a loaded machine.
        response.timeout = None
        return response

    @app.teardown_request
    async def teardown(exc: BaseException | None) -> None:
        torn_down.set()

    async with asyncio.timeout(LIMIT), SERVERS[server](app) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
        received = b""
        while received.count(b": keep-alive\n\n") < 2:
            chunk = await reader.read(4096)
            assert chunk, received  # at EOF read() never waits: the timeout can't fire
            received += chunk
        writer.close()
        await cleaned.wait()
        await torn_down.wait()
    assert received.startswith(b"HTTP/1.1 200")
    assert b"data: hello\n\n" in received


async def test_last_event_id_is_read_back(app: Microframework) -> None:
    @app.route("/events")
    async def events() -> str:
        return repr(last_event_id())

    client = app.test_client()
    resumed = await client.get("/events", headers={"Last-Event-ID": "42"})
    fresh = await client.get("/events")
    assert await resumed.get_data() == b"'42'"
    assert await fresh.get_data() == b"None"


async def test_event_stream_resumes_after_last_event_id(app: Microframework) -> None:
    history = [ServerSentEvent(f"event {n}", id=str(n)) for n in range(1, 5)]

    @app.route("/events")
    async def events() -> Response:
        after = int(last_event_id() or 0)

        async def source() -> AsyncIterator[ServerSentEvent]:
            for event in history:
                if int(event.id or 0) > after:
                    yield event

        return event_stream(source(), keep_alive=None)

    response = await app.test_client().get("/events", headers={"Last-Event-ID": "2"})
    parsed = _parse_sse(await response.get_data())
    assert [event["id"] for event in parsed] == ["3", "4"]


async def test_last_event_id_needs_a_request(app: Microframework) -> None:
    async with app.app_context():
        with pytest.raises(RuntimeError, match="request"):
            last_event_id()


# -- early hints and trailers ------------------------------------------------------

_EXTENSIONS: dict[str, dict[str, Any]] = {
    "http.response.early_hint": {},
    "http.response.trailers": {},
}


async def test_early_hints_are_sent_before_the_response(app: Microframework) -> None:
    results: list[bool] = []

    @app.route("/")
    async def index() -> str:
        results.append(await send_early_hints("</app.css>; rel=preload; as=style"))
        return "page"

    rec = await call(app, http_scope("/", extensions=dict(_EXTENSIONS)))
    assert results == [True]
    assert rec.sent[0] == {
        "type": "http.response.early_hint",
        "links": [b"</app.css>; rel=preload; as=style"],
    }
    assert rec.sent[1]["type"] == "http.response.start"


@pytest.mark.parametrize(
    ("bad", "error"),
    [
        ("\r\nSet-Cookie: sid=x", "control character"),
        ("\n", "control character"),
        ("\0", "control character"),
        ("\x0b", "control character"),  # any control but HTAB, as in other headers
        ("\u2603", "outside Latin-1"),  # was a bare UnicodeEncodeError
    ],
)
async def test_an_early_hint_is_checked_as_every_header(
    app: Microframework, bad: str, error: str
) -> None:
    # As every other header: a Link built from input must not split the 103.
    @app.route("/")
    async def index() -> str:
        await send_early_hints(f"</a.css{bad}>; rel=preload")
        return "page"

    with pytest.raises(ValueError, match=error):
        await call(app, http_scope("/", extensions=dict(_EXTENSIONS)))


@pytest.mark.parametrize("trailers", [False, True])
async def test_no_early_hint_once_a_streamed_body_has_started(
    app: Microframework, trailers: bool
) -> None:
    # A 103 after http.response.start breaks the exchange (hypercorn's HTTP/2 raises).
    results: list[bool] = []

    @app.route("/")
    async def index() -> Response:
        async def body() -> AsyncIterator[bytes]:
            yield b"abc"
            results.append(await send_early_hints("</late.css>; rel=preload"))
            yield b"def"

        response = Response(body())
        if trailers:  # the response sends the start, then streams the body
            response.trailers = {"X-Done": "1"}
        return response

    rec = await call(app, http_scope("/", extensions=dict(_EXTENSIONS)))
    assert results == [False]
    assert "http.response.early_hint" not in [m["type"] for m in rec.sent]
    assert rec.body == b"abcdef"


async def test_early_hints_are_a_no_op_without_server_support(
    app: Microframework,
) -> None:
    results: list[bool] = []

    @app.route("/")
    async def index() -> str:
        results.append(await send_early_hints("</app.css>; rel=preload"))
        return "page"

    rec = await call(app, http_scope("/"))
    assert results == [False]
    assert [m["type"] for m in rec.sent] == [
        "http.response.start",
        "http.response.body",
    ]


async def test_trailers_follow_a_streamed_body(app: Microframework) -> None:
    order: list[str] = []

    @app.route("/")
    async def index() -> Response:
        async def body() -> AsyncIterator[bytes]:
            order.append("body")
            yield b"data"

        async def trailers() -> dict[str, str]:
            order.append("trailers")
            return {"Server-Timing": "db;dur=53"}

        response = Response(body())
        response.trailers = trailers
        return response

    rec = await call(app, http_scope("/", extensions=dict(_EXTENSIONS)))
    assert rec.sent[0]["trailers"] is True
    assert rec.sent[-1] == {
        "type": "http.response.trailers",
        "headers": [(b"server-timing", b"db;dur=53")],
        "more_trailers": False,
    }
    assert rec.sent[-2]["more_body"] is False
    assert order == ["body", "trailers"]


async def test_trailers_follow_a_bytes_body(app: Microframework) -> None:
    @app.route("/")
    async def index() -> Response:
        response = Response(b"data")
        response.trailers = {"Digest": "sha-256=abc"}
        return response

    rec = await call(app, http_scope("/", extensions=dict(_EXTENSIONS)))
    assert rec.sent[0].get("trailers") is True
    assert rec.sent[-1] == {
        "type": "http.response.trailers",
        "headers": [(b"digest", b"sha-256=abc")],
        "more_trailers": False,
    }


@pytest.mark.parametrize("extensions", [True, False])
@pytest.mark.parametrize("body", ["bytes", "stream"])
async def test_a_trailer_that_would_split_the_response_is_a_500_before_the_start(
    app: Microframework, extensions: bool, body: str
) -> None:
    # A mapping's trailers are checked with the headers: found only after the body,
    # a CR/LF cut a response that had already gone out as a 200.
    @app.route("/")
    async def index() -> Response:
        async def chunks() -> AsyncIterator[bytes]:
            yield b"data"

        response = Response(b"data" if body == "bytes" else chunks())
        response.trailers = {"X-Digest": "abc\r\nSet-Cookie: a=b"}
        return response

    app.config["PROPAGATE_EXCEPTIONS"] = False
    scope = http_scope("/", extensions=dict(_EXTENSIONS) if extensions else {})
    rec = await call(app, scope)
    assert rec.status == 500
    assert not any(m["type"] == "http.response.trailers" for m in rec.sent)


async def test_trailers_given_as_an_iterator_of_pairs_are_sent(
    app: Microframework,
) -> None:
    # Read once, when they are sent: an early check emptied them.
    @app.route("/")
    async def index() -> Response:
        response = Response(b"data")
        response.trailers = iter([("X-Digest", "abc")])
        return response

    rec = await call(app, http_scope("/", extensions=dict(_EXTENSIONS)))
    assert rec.sent[-1]["headers"] == [(b"x-digest", b"abc")]


async def test_trailers_are_a_no_op_without_server_support(
    app: Microframework,
) -> None:
    called: list[bool] = []

    @app.route("/")
    async def index() -> Response:
        async def body() -> AsyncIterator[bytes]:
            yield b"data"

        response = Response(body())

        def trailers() -> dict[str, str]:
            called.append(True)
            return {"X-Late": "1"}

        response.trailers = trailers
        return response

    rec = await call(app, http_scope("/"))
    assert "trailers" not in rec.sent[0]
    assert [m["type"] for m in rec.sent] == [
        "http.response.start",
        "http.response.body",
        "http.response.body",
    ]
    assert rec.body == b"data"
    assert called == []


# -- streamed uploads ------------------------------------------------------------------


async def test_stalled_streamed_upload_is_408(app: Microframework) -> None:
    app.config["BODY_TIMEOUT"] = 0.01
    received: list[bytes] = []

    @app.post("/upload")
    async def upload() -> str:
        async for chunk in request.body:
            received.append(chunk)
        return "done"

    client = app.test_client()
    async with client.request(
        "/upload", method="POST", headers={"Transfer-Encoding": "chunked"}
    ) as connection:
        await connection.send(b"part one")
        # ... and then the client stalls.
        async with asyncio.timeout(5):
            response = await connection.as_response()
    assert response.status_code == 408
    assert received == [b"part one"]


async def test_streamed_upload_is_consumed_chunk_by_chunk(app: Microframework) -> None:
    sizes: list[int] = []

    @app.post("/upload")
    async def upload() -> str:
        async for chunk in request.body:
            sizes.append(len(chunk))
        return str(sum(sizes))

    async with app.test_client().request(
        "/upload", method="POST", headers={"Transfer-Encoding": "chunked"}
    ) as connection:
        for _ in range(3):
            await connection.send(b"x" * 1000)
        await connection.send_complete()
        response = await connection.as_response()
    assert await response.get_data() == b"3000"
    assert sizes == [1000, 1000, 1000]


async def test_leaving_while_a_sync_generator_step_runs_raises_nothing() -> None:
    # The client left while a worker thread ran the generator's next step: closing
    # it then raised "generator already executing" out of the app.
    import threading

    from asgi_harness import call
    from asgi_harness import http_scope
    from asgi_harness import Recorder

    app = Microframework(__name__)
    in_step = threading.Event()
    release = threading.Event()
    closed = threading.Event()

    @app.get("/")
    def download() -> Any:
        def chunks() -> Iterator[bytes]:
            try:
                yield b"first"
                in_step.set()
                release.wait(10)
                yield b"second"
            finally:
                closed.set()

        return chunks()

    recorder = Recorder()
    async with asyncio.timeout(10):
        task = asyncio.create_task(call(app, http_scope("/"), recorder))
        await asyncio.to_thread(in_step.wait, 10)
        recorder.disconnect()
        for _ in range(5):
            await asyncio.sleep(0)  # loop turns: the disconnect cancels the stream
        release.set()
        await task  # nothing escapes the app
    assert closed.is_set()
    assert recorder.sent[-1].get("more_body") is True  # never completed


async def test_a_cancel_while_a_sync_generator_step_is_waited_out_propagates() -> None:
    # The client left while a worker thread ran a step; closing the body waits for
    # that step. A server's cancel meanwhile must end the request, not be swallowed.
    import threading

    app = Microframework(__name__)
    in_step, release, stepped = threading.Event(), threading.Event(), threading.Event()
    bodies: list[Any] = []

    @app.get("/")
    def download() -> Any:
        def chunks() -> Iterator[bytes]:
            yield b"first"
            in_step.set()
            release.wait(10)
            stepped.set()
            yield b"second"

        response = Response(chunks())
        bodies.append(response.body_kind)
        return response

    recorder = Recorder()
    try:
        async with asyncio.timeout(10):
            task = asyncio.create_task(call(app, http_scope("/"), recorder))
            await asyncio.to_thread(in_step.wait, 10)
            recorder.disconnect()
            while bodies[0]._step is not None:  # until aclose() took the step
                await asyncio.sleep(0)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
    finally:
        release.set()
        await asyncio.to_thread(stepped.wait, 10)
    assert task.cancelled()


class _CancelSensitiveServer:
    """A server whose receive() does not survive cancelling, as granian's: once a
    pending call is cancelled (or closed), the next one reports a disconnect."""

    def __init__(self, kind: str) -> None:
        self.kind, self.calls, self.broken = kind, 0, False
        self.sent: list[Message] = []

    def receive(self) -> Awaitable[Message]:
        self.calls += 1
        if self.kind == "coroutine":
            return self._receive()
        future = _NoticedCancel(self)
        if self.calls == 1 or self.broken:
            future.set_result(self._ready())
        return future

    def _ready(self) -> Message:
        if self.broken:
            return {"type": "http.disconnect"}
        return {"type": "http.request", "body": b"", "more_body": False}

    async def _receive(self) -> Message:
        if self.calls == 1 or self.broken:
            return self._ready()
        try:
            await asyncio.get_running_loop().create_future()  # the client stays
        except (asyncio.CancelledError, GeneratorExit):
            self.broken = True
            raise
        raise AssertionError("unreachable")

    async def send(self, message: Message) -> None:
        self.sent.append(message)


class _NoticedCancel(asyncio.Future[Message]):
    def __init__(self, server: _CancelSensitiveServer) -> None:
        super().__init__()
        self.server = server

    def cancel(self, msg: Any = None) -> bool:
        self.server.broken = True  # at once, as the server's side sees it
        return super().cancel(msg)


@pytest.mark.parametrize("kind", ["future", "coroutine"])
async def test_a_pending_receive_is_handed_on_not_cancelled(
    app: Microframework, kind: str
) -> None:
    # granian: a view that waited, then streams, was answered 500 or cut off. The
    # view's disconnect watch cancelled its pending receive() when the view returned,
    # so the stream's watch heard a disconnect that never happened.
    @app.route("/")
    async def view() -> Any:
        await asyncio.sleep(0)  # suspends: the view's watch starts

        async def chunks() -> AsyncIterator[bytes]:
            yield b"a"
            await asyncio.sleep(0)
            yield b"b"

        return chunks()

    server = _CancelSensitiveServer(kind)
    await asyncio.wait_for(app(http_scope("/"), server.receive, server.send), 5)
    assert server.sent[0]["status"] == 200
    body = [m for m in server.sent if m["type"] == "http.response.body"]
    assert b"".join(m.get("body", b"") for m in body) == b"ab"
    assert body[-1].get("more_body", False) is False
    assert server.broken  # the request's end still closes what was pending


async def test_a_body_read_after_a_watch_takes_the_watchs_pending_receive(
    app: Microframework,
) -> None:
    # The view's disconnect watch was left holding a receive() when the view ended;
    # an after_request hook reading the (late) body then called receive() again, and
    # the server's one message woke the held call, which nobody stepped: a hang.
    asked, hooked = asyncio.Event(), asyncio.Event()

    @app.get("/")
    async def index() -> str:
        await asked.wait()  # the watch now waits in receive()
        return "ok"

    @app.after_request
    async def log_body(response: Response) -> Response:
        hooked.set()
        response.headers["X-Len"] = str(len(await request.get_data()))
        return response

    inbox: asyncio.Queue[Message] = asyncio.Queue()
    sent: list[Message] = []

    async def receive() -> Message:
        asked.set()
        return await inbox.get()

    async def send(message: Message) -> None:
        sent.append(message)

    task = asyncio.create_task(app(http_scope("/"), receive, send))
    await hooked.wait()
    inbox.put_nowait({"type": "http.request", "body": b"", "more_body": False})
    await asyncio.wait_for(task, 5)
    assert sent[0]["status"] == 200
    assert (b"x-len", b"0") in sent[0]["headers"]


@pytest.mark.parametrize("kind", ["future", "coroutine"])
async def test_a_finished_stream_releases_the_servers_receive_before_its_cleanup(
    app: Microframework, kind: str
) -> None:
    # With the body in, nothing calls receive() once the stream has ended: the
    # watch's pending call goes back to the server then, not after the body's own
    # (maybe slow) aclose() and teardown. Held, it was also the stream's peak memory.
    seen: list[bool] = []

    class Rows:
        """An async iterator with its own aclose(), as a database cursor's."""

        def __init__(self) -> None:
            self.rows = [b"a", b"b"]

        def __aiter__(self) -> Rows:
            return self

        async def __anext__(self) -> bytes:
            if not self.rows:
                raise StopAsyncIteration
            await asyncio.sleep(0)  # the stream's watch now waits in receive()
            return self.rows.pop(0)

        async def aclose(self) -> None:
            seen.append(server.broken)

    @app.route("/")
    async def view() -> Any:
        return Rows()

    server = _CancelSensitiveServer(kind)
    await asyncio.wait_for(app(http_scope("/"), server.receive, server.send), 5)
    body = [m for m in server.sent if m["type"] == "http.response.body"]
    assert b"".join(m.get("body", b"") for m in body) == b"ab"
    assert seen == [True]


@pytest.mark.parametrize("own_iterator", [True, False])
async def test_an_async_iterables_aclose_runs_once(
    app: Microframework, own_iterator: bool
) -> None:
    # An iterator that is its own async iterable (as every async generator is) was
    # closed twice: once as the stream's iterator, once as the response's source.
    closed: list[str] = []

    class Cursor:
        def __init__(self) -> None:
            self.rows = [b"a", b"b"]

        def __aiter__(self) -> Any:
            return self if own_iterator else Cursor()

        async def __anext__(self) -> bytes:
            if not self.rows:
                raise StopAsyncIteration
            return self.rows.pop(0)

        async def aclose(self) -> None:
            closed.append("source" if self is source else "iterator")

    source = Cursor()

    @app.route("/")
    async def view() -> Any:
        return source

    response = await app.test_client().get("/")
    assert await response.get_data() == b"ab"
    assert closed == (["source"] if own_iterator else ["iterator", "source"])


@pytest.mark.parametrize("kind", ["async", "sync"])
async def test_an_oserror_of_the_body_itself_is_an_error_not_a_client_gone(
    app: Microframework, kind: str
) -> None:
    # Only the server's send() raising OSError means the client left: a database
    # refusing a generator's connection was taken for that, and nothing was logged.
    seen: list[BaseException | None] = []

    async def agen() -> AsyncIterator[bytes]:
        yield b"first"
        raise ConnectionRefusedError("database went away")

    def gen() -> Iterator[bytes]:
        yield b"first"
        raise ConnectionRefusedError("database went away")

    @app.route("/")
    async def index() -> Response:
        return Response(agen() if kind == "async" else gen())

    @app.teardown_request
    async def record(error: BaseException | None) -> None:
        seen.append(error)

    app.testing = True
    with pytest.raises(ConnectionRefusedError):
        await call(app, http_scope("/"))
    assert [error.__class__ for error in seen] == [ConnectionRefusedError]


async def test_an_event_source_timing_out_its_own_waits_keeps_its_stream(
    app: Microframework,
) -> None:
    # asyncio.timeout cancels the current task: the cancel must reach the source's
    # own await (as in a task of its own), not end the stream.
    async def source() -> AsyncIterator[str]:
        for index in range(3):
            try:
                async with asyncio.timeout(0):
                    yield await asyncio.Event().wait()  # type: ignore[misc]
            except TimeoutError:
                yield f"ping {index}"

    @app.route("/events")
    async def events() -> Response:
        return event_stream(source(), keep_alive=5)

    response = await app.test_client().get("/events")
    assert (
        await response.get_data() == b"data: ping 0\n\ndata: ping 1\n\ndata: ping 2\n\n"
    )


async def test_a_client_leaving_cancels_what_the_event_source_awaits(
    app: Microframework,
) -> None:
    # A task's cancel cancels the future it waits on (here a gather of children);
    # the stream's hand-driven step must do the same, or the children run for ever.
    children: list[asyncio.Task[Any]] = []
    waiting = asyncio.Event()

    async def child() -> None:
        children.append(asyncio.current_task())  # type: ignore[arg-type]
        waiting.set()
        await asyncio.Event().wait()

    async def source() -> AsyncIterator[Any]:
        yield "first"
        yield await asyncio.gather(child(), child())

    @app.route("/events")
    async def events() -> Response:
        return event_stream(source(), keep_alive=5)

    async with app.test_client().request("/events") as connection:
        await connection.send_complete()
        await _receive_until(connection, b"data: first\n\n")
        await waiting.wait()
        await connection.disconnect()
    try:
        async with asyncio.timeout(5):
            await asyncio.gather(*children, return_exceptions=True)
    finally:
        for task in children:
            task.cancel()
    assert len(children) == 2 and all(child.cancelled() for child in children)


async def test_a_stream_closed_at_a_keep_alive_ends_the_awaited_gather_first(
    app: Microframework, caplog: pytest.LogCaptureFixture
) -> None:
    # The client left while a keep-alive went out (the send failed): the source
    # heard CancelledError while its gather's children still ran, and asyncio
    # logged "_GatheringFuture exception was never retrieved". In a task of its own
    # the source hears it once the children have ended.
    children: list[asyncio.Task[Any]] = []
    seen: list[list[bool]] = []

    async def child() -> None:
        children.append(asyncio.current_task())  # type: ignore[arg-type]
        await asyncio.Event().wait()

    async def source() -> AsyncIterator[Any]:
        try:
            yield "first"
            yield await asyncio.gather(child(), child())
        finally:
            seen.append([task.done() for task in children])

    @app.route("/events")
    async def events() -> Response:
        return event_stream(source(), keep_alive=0.01)

    class Gone(Recorder):
        async def send(self, message: dict[str, Any]) -> None:
            if message.get("body", b"").startswith(b": keep-alive"):
                raise OSError("the client left")
            await super().send(message)

    async with asyncio.timeout(5):
        await call(app, http_scope("/events"), Gone())
    assert seen == [[True, True]]
    del children[:]
    gc.collect()
    assert "never retrieved" not in caplog.text


async def test_keep_alives_go_out_after_the_source_yields_to_the_loop(
    app: Microframework,
) -> None:
    # A bare yield first (asyncio.sleep(0), anyio's checkpoint) then a long wait:
    # the keep-alive comments must still go out.
    async def source() -> AsyncIterator[str]:
        yield "first"
        await asyncio.sleep(0)
        await asyncio.Event().wait()
        yield "never"

    @app.route("/events")
    async def events() -> Response:
        response = event_stream(source(), keep_alive=0.01)
        response.timeout = None  # its idle cut (4 periods) could come first under load
        return response

    async with app.test_client().request("/events") as connection:
        await connection.send_complete()
        received = await _receive_until(connection, b": keep-alive\n\n", count=2)
        await connection.disconnect()
    assert received.startswith(b"data: first\n\n")


@pytest.mark.parametrize("form", ["constructor", "tuple", "list"])
async def test_a_content_length_the_app_gives_a_stream_is_sent(
    app: Microframework, form: str
) -> None:
    # As Flask and Quart: a stream of known size keeps the app's Content-Length
    # (a download's progress bar); it was dropped.
    def body() -> Iterator[bytes]:
        yield b"01234"
        yield b"56789"

    @app.route("/")
    async def index() -> Any:
        if form == "constructor":
            return Response(body(), headers={"Content-Length": "10"})
        if form == "tuple":
            return body(), 200, {"Content-Length": "10"}
        return Response(body(), headers=[("Content-Length", "10")])

    recorder = await call(app, http_scope("/"))
    assert recorder.headers[b"content-length"] == b"10"
    assert recorder.body == b"0123456789"


async def test_an_early_hint_with_cr_lf_is_refused_without_server_support(
    app: Microframework,
) -> None:
    # Checked everywhere: passing under the test client, it was a 500 under hypercorn.
    @app.route("/")
    async def index() -> str:
        await send_early_hints("</a.css>\r\nSet-Cookie: x=1")
        return "page"

    app.testing = True
    with pytest.raises(ValueError, match="control character"):
        await call(app, http_scope("/"))


async def test_a_stream_replaced_by_a_500_for_a_bad_header_is_closed(
    app: Microframework,
) -> None:
    # Its headers would split the response, so a 500 goes instead; the stream it
    # would have sent was left to the garbage collector (its finally, later, or not).
    closed: list[str] = []

    async def body() -> AsyncIterator[bytes]:
        try:
            yield b"x"
        finally:
            closed.append("closed")

    @app.route("/")
    async def index() -> Response:
        stream = body()
        await anext(stream)  # started: only then does its finally run on close
        response = Response(stream)
        response.headers["X Bad"] = "a space in a name"
        return response

    app.testing = False  # the 500 page, not the error raised to the caller
    recorder = await call(app, http_scope("/"))
    assert recorder.status == 500
    assert closed == ["closed"]


async def test_a_client_leaving_at_the_sources_bare_yield_ends_the_source(
    app: Microframework,
) -> None:
    # A source that yields to the loop (asyncio.sleep(0)) between events was mid-step
    # when the client left there: closing it raised "aclose(): asynchronous generator
    # is already running" out of the app, and teardown saw that error.
    ended: list[str] = []
    torn_down: list[BaseException | None] = []

    async def source() -> AsyncIterator[str]:
        try:
            while True:
                await asyncio.sleep(0)
                yield "tick"
        finally:
            ended.append("source")

    @app.route("/events")
    async def events() -> Response:
        return event_stream(source(), keep_alive=30)

    @app.teardown_request
    async def teardown(error: BaseException | None) -> None:
        torn_down.append(error)

    class LeavesAfterTwo(Recorder):
        async def send(self, message: dict[str, Any]) -> None:
            await super().send(message)
            if len(self.sent) == 3:  # the start and two events: the client leaves
                self.disconnect()

    async with asyncio.timeout(5):
        await call(app, http_scope("/events"), LeavesAfterTwo())
    assert ended == ["source"]
    assert len(torn_down) == 1 and not isinstance(torn_down[0], RuntimeError)


async def test_a_sources_own_timeout_at_its_bare_yield_is_its_own(
    app: Microframework,
) -> None:
    # The source's asyncio.timeout expired while it yielded to the loop: the cancel
    # went out of the app (and teardown saw it) instead of becoming its TimeoutError.
    torn_down: list[BaseException | None] = []

    async def source() -> AsyncIterator[str]:
        try:
            async with asyncio.timeout(0):
                while True:
                    await asyncio.sleep(0)
        except TimeoutError:
            yield "timed out"

    @app.route("/events")
    async def events() -> Response:
        return event_stream(source(), keep_alive=30)

    @app.teardown_request
    async def teardown(error: BaseException | None) -> None:
        torn_down.append(error)

    async with asyncio.timeout(5):
        recorder = await call(app, http_scope("/events"))
    assert recorder.body == b"data: timed out\n\n"
    assert torn_down == [None]


class _StuckOnKeepAlive(Recorder):
    """A client that stops reading: its first keep-alive comment's send never returns."""

    def __init__(self, at_comment: Callable[[], object]) -> None:
        super().__init__()
        self.at_comment = at_comment
        self.stuck = False

    async def send(self, message: dict[str, Any]) -> None:
        if message.get("body", b"").startswith(b": keep-alive") and not self.stuck:
            self.stuck = True
            self.at_comment()
            await asyncio.get_running_loop().create_future()
        await super().send(message)


async def test_a_sources_own_timeout_during_a_keep_alive_send_is_its_own(
    app: Microframework,
) -> None:
    # The source's deadline passed while a comment was being sent to a slow client:
    # the cancel hit the send, not the source's await, and went out of the app.
    deadlines: list[asyncio.Timeout] = []

    async def source() -> AsyncIterator[str]:
        try:
            async with asyncio.timeout(None) as deadline:
                deadlines.append(deadline)
                await asyncio.Event().wait()
        except TimeoutError:
            yield "timed out"

    @app.route("/events")
    async def events() -> Response:
        response = event_stream(source(), keep_alive=0.01)
        response.timeout = None  # its idle cut (4 periods) could come first under load
        return response

    def expire() -> None:
        deadlines[0].reschedule(asyncio.get_running_loop().time())

    async with asyncio.timeout(5):
        recorder = await call(app, http_scope("/events"), _StuckOnKeepAlive(expire))
    assert recorder.body == b"data: timed out\n\n"


async def test_a_servers_cancel_during_a_keep_alive_send_still_ends_the_request(
    app: Microframework,
) -> None:
    # Control: thrown into the source, a server's cancel comes back out of the app.
    ended: list[str] = []

    async def source() -> AsyncIterator[str]:
        try:
            await asyncio.Event().wait()
            yield "never"
        finally:
            ended.append("source")

    @app.route("/events")
    async def events() -> Response:
        response = event_stream(source(), keep_alive=0.01)
        response.timeout = None  # its idle cut (4 periods) could come first under load
        return response

    stuck = asyncio.Event()
    recorder = _StuckOnKeepAlive(stuck.set)
    async with asyncio.timeout(5):
        task = asyncio.create_task(call(app, http_scope("/events"), recorder))
        await stuck.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert ended == ["source"]


async def test_a_servers_cancel_a_source_swallows_still_ends_the_request(
    app: Microframework,
) -> None:
    # Thrown into the source at a keep-alive's send, a server's cancel that the source
    # swallowed ("log and go on") was lost: the stream went on.
    swallowed: list[str] = []

    async def source() -> AsyncIterator[str]:
        while True:
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                swallowed.append("cancel")
                if len(swallowed) > 1:
                    raise  # (so that this test ends, failing, without the fix)
            yield "tick"

    @app.route("/events")
    async def events() -> Response:
        response = event_stream(source(), keep_alive=0.01)
        response.timeout = None  # its idle cut (4 periods) could come first under load
        return response

    stuck = asyncio.Event()
    recorder = _StuckOnKeepAlive(stuck.set)
    task = asyncio.create_task(call(app, http_scope("/events"), recorder))
    async with asyncio.timeout(5):
        await stuck.wait()
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=5)  # (awaiting it would cancel it)
    assert done and task.cancelled(), "the server's cancel was lost"
    assert swallowed == ["cancel"]


async def test_an_event_stream_behind_a_wrapper_is_not_thrown_into(
    app: Microframework,
) -> None:
    # An after_request wrapping the body passes the keep-alive on: the source's cancel
    # was thrown into the wrapper, which can't hand it on, and the source never ended.
    deadlines: list[asyncio.Timeout] = []
    ended: list[str] = []

    async def source() -> AsyncIterator[str]:
        try:
            async with asyncio.timeout(None) as deadline:
                deadlines.append(deadline)
                await asyncio.Event().wait()
            yield "never"
        finally:
            ended.append("source")

    @app.route("/events")
    async def events() -> Response:
        response = event_stream(source(), keep_alive=0.01)
        response.timeout = None  # its idle cut (4 periods) could come first under load
        return response

    @app.after_request
    async def rewrap(response: Response) -> Response:
        inner = response.response

        async def passthrough() -> AsyncIterator[bytes]:
            async for chunk in inner:  # type: ignore[union-attr]
                yield chunk

        response.response = passthrough()
        return response

    def expire() -> None:
        deadlines[0].reschedule(asyncio.get_running_loop().time())

    recorder = _StuckOnKeepAlive(expire)
    async with asyncio.timeout(5):
        with pytest.raises(asyncio.CancelledError):  # not the source's own: as before
            await call(app, http_scope("/events"), recorder)
        gc.collect()  # the generators left behind are closed by the loop's hooks
        while not ended:
            await asyncio.sleep(0)


async def test_an_int_event_id_is_sent_as_text() -> None:
    # Quart's guide's event class takes an int id; this one refused it (TypeError).
    assert ServerSentEvent("x", id=5).encode() == b"id: 5\ndata: x\n\n"


async def test_a_polling_source_gets_keep_alives_and_is_not_idle(
    app: Microframework, caplog: pytest.LogCaptureFixture
) -> None:
    # Each short wait restarted the keep-alive timer, and bare yields had none: a
    # source polling more often than keep_alive got no comment and was cut as idle
    # after four periods, though "a comment goes out every keep_alive seconds".
    recorder = Recorder()

    async def source() -> AsyncIterator[str]:
        while recorder.body.count(b": keep-alive") < 2:
            await asyncio.sleep(0.002)  # polls something, then a bare yield
            await asyncio.sleep(0)
        yield "done"

    @app.route("/events")
    async def events() -> Response:
        # Cut as idle after 0.2 s: a loaded machine may stall the loop for 40 ms.
        return event_stream(source(), keep_alive=0.05)

    async with asyncio.timeout(5):
        await call(app, http_scope("/events"), recorder)
    assert recorder.body.endswith(b"data: done\n\n")
    assert "idle past its timeout" not in caplog.text


async def test_an_anext_that_raises_stop_async_iteration_itself_ends_the_stream(
    app: Microframework,
) -> None:
    # `async for` takes a plain __anext__ raising StopAsyncIteration; the stream
    # raised "async generator raised StopAsyncIteration" out of the app.
    class Once:
        def __init__(self) -> None:
            self.done = False

        def __aiter__(self) -> Once:
            return self

        def __anext__(self) -> asyncio.Future[str]:
            if self.done:
                raise StopAsyncIteration
            self.done = True
            future = asyncio.get_running_loop().create_future()
            future.set_result("only")
            return future

    @app.route("/events")
    async def events() -> Response:
        return event_stream(Once(), keep_alive=30)

    async with asyncio.timeout(5):
        recorder = await call(app, http_scope("/events"))
    assert recorder.body == b"data: only\n\n"


@pytest.mark.parametrize("send_fails", [False, True])
async def test_a_sources_clean_up_after_its_client_left_is_not_interrupted(
    app: Microframework, send_fails: bool
) -> None:
    # The client left; the source's finally awaited longer than keep_alive. Comments
    # went out to nobody meanwhile, and a server whose send() then raises OSError
    # (the ASGI spec's advice) had the clean-up cancelled a second time.
    cleaned: list[str] = []
    release = asyncio.Event()

    async def source() -> AsyncIterator[str]:
        try:
            yield "first"
            await asyncio.Event().wait()
        finally:
            asyncio.get_running_loop().call_later(0.05, release.set)  # 5 keep-alives
            await release.wait()
            cleaned.append("done")

    @app.route("/events")
    async def events() -> Response:
        response = event_stream(source(), keep_alive=0.01)
        response.timeout = 5  # not 0.04 s: a loaded machine's stalled loop is no idler
        return response

    class Leaves(Recorder):
        gone = False

        async def send(self, message: dict[str, Any]) -> None:
            if self.gone and send_fails:
                raise OSError("the client left")
            await super().send(message)
            if len(self.sent) == 2:  # the start and the first event
                self.gone = True
                self.disconnect()

    async with asyncio.timeout(5):
        recorder = await call(app, http_scope("/events"), Leaves())
    assert cleaned == ["done"]
    assert recorder.body == b"data: first\n\n"  # no comment for nobody


async def test_an_event_source_that_is_not_async_iterable_is_refused_at_once(
    app: Microframework,
) -> None:
    # A list went out as a 200 with its headers, then the stream died: the client saw
    # an empty stream, and reconnected for ever.
    @app.route("/events")
    async def events() -> Response:
        return event_stream(["a", "b"])  # type: ignore[arg-type]

    app.config["PROPAGATE_EXCEPTIONS"] = False
    recorder = await call(app, http_scope("/events"))
    assert recorder.status == 500
    async with app.test_request_context("/events"):
        with pytest.raises(TypeError, match="takes an async iterable, not list"):
            event_stream(["a"])  # type: ignore[arg-type]


@pytest.mark.parametrize("keep_alive", [0, -1.0])
async def test_an_event_stream_refuses_a_keep_alive_that_is_not_above_zero(
    app: Microframework, keep_alive: float
) -> None:
    async def source() -> AsyncIterator[str]:
        yield "x"

    async with app.test_request_context("/"):
        with pytest.raises(ValueError, match="keep_alive must be seconds above 0"):
            event_stream(source(), keep_alive=keep_alive)


async def test_a_tiny_keep_alive_still_gives_the_loop_a_turn_between_comments(
    app: Microframework,
) -> None:
    # Past its deadline again before the next await, the stream sent comments in a
    # loop that never yielded: the source's future could never complete.
    ready = asyncio.Event()

    async def source() -> AsyncIterator[str]:
        await ready.wait()
        yield "hello"

    @app.route("/events")
    async def events() -> Response:
        return event_stream(source(), keep_alive=1e-9)

    class SetsReadyAfterTwo(Recorder):
        async def send(self, message: dict[str, Any]) -> None:
            await super().send(message)  # never suspends: a server that buffers
            if len(self.sent) == 3:
                asyncio.get_running_loop().call_soon(ready.set)
            assert len(self.sent) < 100, "comments without a loop turn"

    async with asyncio.timeout(5):
        recorder = await call(app, http_scope("/events"), SetsReadyAfterTwo())
    # Cut as idle (four keep-alive periods) at its first loop turn, as documented.
    assert recorder.body == b": keep-alive\n\n"


async def test_a_farewell_event_on_drain_still_goes_out(app: Microframework) -> None:
    # The drain cancels an event stream's source; one that answers with a last event
    # ("reconnect elsewhere") must have it sent: the client is still there.
    async def source() -> AsyncIterator[Any]:
        yield "first"
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            yield {"bye": "reconnect"}
            raise

    @app.route("/events")
    async def events() -> Response:
        return event_stream(source(), keep_alive=15)

    class DrainsAfterFirst(Recorder):
        async def send(self, message: dict[str, Any]) -> None:
            await super().send(message)
            if message.get("body") == b"data: first\n\n":
                app.drain.start(5)

    try:
        async with asyncio.timeout(5):
            recorder = await call(app, http_scope("/events"), DrainsAfterFirst())
    finally:
        app.drain.end()
    assert recorder.body == b'data: first\n\ndata: {"bye": "reconnect"}\n\n'


async def test_a_source_swallowing_its_cancel_ends_when_sends_fail(
    app: Microframework,
) -> None:
    # A source that catches the cancel of its client's leaving and goes on: the next
    # event's send raises (as the ASGI spec advises a server's send to) and ends it.
    produced: list[int] = []
    swallowed: list[int] = []

    async def source() -> AsyncIterator[str]:
        while True:
            try:
                await asyncio.sleep(0.001)
            except asyncio.CancelledError:
                if swallowed:
                    raise  # only the first: the test's own timeout must end it
                swallowed.append(1)  # a careless library
            produced.append(1)
            yield "tick"

    @app.route("/events")
    async def events() -> Response:
        return event_stream(source(), keep_alive=5)

    class Gone(Recorder):
        async def send(self, message: dict[str, Any]) -> None:
            if self.inbox.qsize() == 0 and len(self.sent) >= 3:
                raise OSError("the client left")
            await super().send(message)
            if len(self.sent) == 3:
                self.disconnect()

    async with asyncio.timeout(5):
        await call(app, http_scope("/events"), Gone())
    assert swallowed == [1] and len(produced) < 10


async def test_comments_of_a_quiet_spell_are_keep_alive_apart(
    app: Microframework,
) -> None:
    # After a comment the next one is a whole keep_alive later: the deadline is renewed
    # (without it, a comment went out on every loop turn once the first was due).
    ready = asyncio.Event()
    keep_alive = 0.01
    loop = asyncio.get_running_loop()
    at: list[float] = []

    async def source() -> AsyncIterator[str]:
        await ready.wait()
        yield "news"

    @app.route("/events")
    async def events() -> Response:
        response = event_stream(source(), keep_alive=keep_alive)
        response.timeout = None  # its 40 ms idle timeout could end it under load
        return response

    class Times(Recorder):
        async def send(self, message: dict[str, Any]) -> None:
            await super().send(message)
            if message.get("body", b"").startswith(b":"):
                at.append(loop.time())
                if len(at) == 3:
                    ready.set()

    async with asyncio.timeout(5):
        recorder = await call(app, http_scope("/events"), Times())
    assert recorder.body.endswith(b"data: news\n\n")
    assert all(b - a >= keep_alive * 0.9 for a, b in zip(at, at[1:], strict=False)), at


async def test_a_keep_alive_of_another_number_type_is_taken_as_seconds(
    app: Microframework,
) -> None:
    # A Decimal passed the check, then failed after the 200 (float + Decimal).
    kept_alive = asyncio.Event()

    async def source() -> AsyncIterator[str]:
        await kept_alive.wait()
        yield "late"

    @app.route("/events")
    async def events() -> Response:
        response = event_stream(source(), keep_alive=Decimal("0.01"))  # type: ignore[arg-type]
        response.timeout = None  # its idle cut (4 periods) could come first under load
        return response

    class Told(Recorder):
        async def send(self, message: dict[str, Any]) -> None:
            await super().send(message)
            if message.get("body", b"").startswith(b": keep-alive"):
                kept_alive.set()

    async with asyncio.timeout(5):
        recorder = await call(app, http_scope("/events"), Told())
    assert recorder.body.startswith(b": keep-alive\n\n")
    assert recorder.body.endswith(b"data: late\n\n")


_ENDS = ["bytes", "generator", "events", "big_generator", "head", "not_modified"]
_ENDS += ["call_on_close", "trailers", "pathsend", "zerocopysend"]


@pytest.mark.parametrize("kind", _ENDS)
async def test_the_last_message_is_sent_outside_the_requests_context(
    app: Microframework, kind: str, tmp_path: Path
) -> None:
    # The keep-alive timer (uvicorn) or idle task (hypercorn) a server makes as the
    # response ends copies the context: a stream's kept the request (its g, its
    # body) alive until the connection's next request or its keep-alive timeout.
    (tmp_path / "f.txt").write_bytes(b"file")

    @app.route("/")
    async def index() -> Any:
        g.held = "the request's"
        if kind in ("pathsend", "zerocopysend"):
            return await send_file(tmp_path / "f.txt")
        if kind == "bytes":
            return "done"
        if kind in ("head", "not_modified", "call_on_close", "trailers"):
            response = Response("done")
            response.call_on_close(lambda: None)
            if kind == "trailers":
                response.trailers = {"X-Done": "yes"}
            response.set_etag("e")
            return await response.make_conditional(request)

        async def chunks() -> AsyncIterator[str]:
            yield "x" * (100_000 if kind == "big_generator" else 1)

        return event_stream(chunks()) if kind == "events" else chunks()

    copied: list[contextvars.Context] = []
    last = {"http.response.trailers", "http.response.pathsend"}

    class Server(Recorder):
        async def send(self, message: dict[str, Any]) -> None:
            ends = message.get("more_body") is False and kind != "trailers"
            if message["type"] in last or ends:  # (trailers follow the body)
                copied.append(contextvars.copy_context())
            await super().send(message)

    extensions = {kind.replace("_", "."): {}}
    if kind == "trailers":
        extensions = {"http.response.trailers": {}}
    elif kind in ("pathsend", "zerocopysend"):
        extensions = {f"http.response.{kind}": {}}
    scope = http_scope("/", "HEAD" if kind == "head" else "GET")
    scope["extensions"] = extensions
    if kind == "not_modified":
        scope["headers"] = [*scope["headers"], (b"if-none-match", b'"e"')]
    recorder = await call(app, scope, Server())
    assert recorder.status == (304 if kind == "not_modified" else 200)
    assert [context.run(has_app_context) for context in copied] == [False]


@pytest.mark.parametrize("version", ["2", "3"])
async def test_trailers_are_not_sent_over_http3(version: str) -> None:
    # hypercorn 0.18 offers them on HTTP/3 but sends an empty DATA frame after them,
    # which aioquic refuses: the response never ended. Over "3" they are left out, as
    # where the extension isn't offered (the trailers function is not called).
    app = Microframework(__name__)

    @app.get("/")
    async def index() -> Response:
        async def body() -> AsyncIterator[bytes]:
            yield b"x"

        response = Response(body())
        response.trailers = {"x-digest": "abc"}
        return response

    scope = http_scope("/", http_version=version)
    scope["extensions"]["http.response.trailers"] = {}
    recorder = await call(app, scope)
    kinds = [message["type"] for message in recorder.sent]
    assert ("http.response.trailers" in kinds) == (version == "2")


async def test_an_event_stream_sends_any_mapping_as_json() -> None:
    # Its source is typed as yielding mappings (a TypedDict, say); one that is no
    # dict broke the stream after its 200 (review12).
    app = Microframework(__name__)

    @app.get("/")
    async def events() -> Response:
        async def source() -> AsyncIterator[Mapping[str, int]]:
            yield types.MappingProxyType({"x": 1})

        return event_stream(source(), keep_alive=None)

    response = await app.test_client().get("/")
    assert await response.get_data(as_text=True) == 'data: {"x": 1}\n\n'


async def test_an_abandoned_stream_with_context_cleans_up_inside_its_context() -> None:
    # As Flask 3.1.3 (its wrapper closes the generator inside `with ctx`) and Quart
    # 0.22: the source's finally sees the request it was bound to.
    app = Microframework(__name__)
    seen: list[tuple[str, str, str]] = []

    async def async_body() -> AsyncIterator[str]:
        try:
            yield "a"
            yield "b"
        finally:
            seen.append(("async", request.path, g.marker))

    def sync_body() -> Iterator[str]:
        try:
            yield "a"
            yield "b"
        finally:
            seen.append(("sync", request.path, g.marker))

    async with app.test_request_context("/stream"):
        g.marker = "kept"
        wrapped_async = stream_with_context(async_body())
        wrapped_sync = stream_with_context(sync_body())
    assert await anext(wrapped_async) == "a"
    await wrapped_async.aclose()
    assert next(wrapped_sync) == "a"
    wrapped_sync.close()
    assert seen == [("async", "/stream", "kept"), ("sync", "/stream", "kept")]


# -- a source that never awaits (browser2, session 37) --------------------------------
# hypercorn's and uvicorn's send() need not suspend, and never do once the client has
# gone: a stream of rows already in memory (`for row in rows: yield row` in an async
# def, as in Quart's streaming docs) held the loop until it had all been made.

_ROWS = 20_000  # of 4 KiB: 80 MB, an export nobody should wait for


def _export(made: list[int], chunk: bytes) -> Callable[[], AsyncIterator[bytes]]:
    async def rows() -> AsyncIterator[bytes]:
        for index in range(_ROWS):
            made.append(index)
            yield chunk

    return rows


@pytest.mark.parametrize("chunk", [b"x" * 4096, b""], ids=["rows", "nothing"])
async def test_a_stream_that_never_waits_still_hears_its_client_leave(
    app: Microframework, chunk: bytes
) -> None:
    made: list[int] = []
    rows = _export(made, chunk)

    @app.route("/export")
    async def export() -> AsyncIterator[bytes]:
        return rows()

    recorder = Recorder()
    recorder.disconnect()  # the browser's fetch() was aborted
    async with asyncio.timeout(LIMIT):
        await call(app, http_scope("/export"), recorder)
    assert 0 < len(made) < 100, "the whole export was made for nobody"
    assert all(m.get("more_body", True) for m in recorder.sent[1:])  # cut, not ended


async def test_a_stream_that_never_waits_lets_other_requests_be_answered(
    app: Microframework,
) -> None:
    made: list[int] = []
    rows = _export(made, b"x" * 4096)
    started = asyncio.Event()

    @app.route("/export")
    async def export() -> AsyncIterator[bytes]:
        started.set()
        return rows()

    @app.route("/ping")
    async def ping() -> str:
        return "pong"

    downloading = Recorder()
    async with asyncio.timeout(LIMIT):
        task = asyncio.create_task(call(app, http_scope("/export"), downloading))
        await started.wait()
        assert (await call(app, http_scope("/ping"))).body == b"pong"
        assert len(made) < _ROWS, "/ping waited for the whole export"
        downloading.disconnect()
        await task
    assert len(made) < _ROWS


async def test_a_bad_sse_retry_is_refused_before_the_stream_starts() -> None:
    # As keep_alive, and as an event's id and event fields: checked where it is given,
    # not once the 200 has gone out (then the stream is cut); a negative one, which
    # EventSource ignores (digits only), is refused too.
    async def source() -> AsyncIterator[str]:
        yield "a"

    for retry in ("later", -1):
        with pytest.raises(ValueError):
            ServerSentEvent("a", retry=retry)  # type: ignore[arg-type]
    assert ServerSentEvent("a", retry=0).encode() == b"retry: 0\ndata: a\n\n"

    app = Microframework(__name__)
    async with app.test_request_context("/"):
        for retry in ("soon", -1):
            events = source()
            with pytest.raises(ValueError):
                event_stream(events, retry=retry)  # type: ignore[arg-type]
            await events.aclose()
        response = event_stream(source(), retry=1500)
        assert await response.get_data() == b"retry: 1500\n\ndata: a\n\n"


class _FetchedRows:
    """Rows already fetched, handed out as done futures: an ``__anext__`` that is a
    plain ``def`` returning a Future (a callback-style client), not a coroutine."""

    def __init__(self, made: list[int]) -> None:
        self.made = made

    def __aiter__(self) -> _FetchedRows:
        return self

    def __anext__(self) -> asyncio.Future[bytes]:
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        if len(self.made) < _ROWS:
            self.made.append(len(self.made))
            future.set_result(b"x" * 4096)
        else:
            future.set_exception(StopAsyncIteration())
        return future


async def test_a_source_whose_steps_are_done_futures_still_hears_its_client_leave(
    app: Microframework,
) -> None:
    # stream_body awaited such a step as it was, taking it for one that waited: no
    # NO_WAIT turn, so the whole export was made for nobody while the loop was held.
    made: list[int] = []

    @app.route("/export")
    async def export() -> _FetchedRows:
        return _FetchedRows(made)

    recorder = Recorder()
    recorder.disconnect()
    async with asyncio.timeout(LIMIT):
        await call(app, http_scope("/export"), recorder)
    assert 0 < len(made) < 100, "the whole export was made for nobody"
    assert all(m.get("more_body", True) for m in recorder.sent[1:])


async def test_a_source_of_pending_futures_streams_every_row(
    app: Microframework,
) -> None:
    # The same kind of source when its futures wait: each row arrives, in order.
    loop = asyncio.get_running_loop()

    class Later:
        def __init__(self) -> None:
            self.left = 3

        def __aiter__(self) -> Later:
            return self

        def __anext__(self) -> asyncio.Future[bytes]:
            future: asyncio.Future[bytes] = loop.create_future()
            if self.left:
                self.left -= 1
                loop.call_soon(future.set_result, b"row%d;" % self.left)
            else:
                loop.call_soon(future.set_exception, StopAsyncIteration())
            return future

    @app.route("/later")
    async def later() -> Later:
        return Later()

    async with asyncio.timeout(LIMIT):
        recorder = await call(app, http_scope("/later"))
    assert recorder.body == b"row2;row1;row0;"
    assert recorder.sent[-1].get("more_body") is False


@pytest.mark.parametrize(
    "retry", [1.5, -0.5, Decimal("1.5"), math.inf, Decimal("Infinity")]
)
async def test_a_retry_that_is_not_whole_is_refused_where_given(retry: Any) -> None:
    # docs/streaming.md: "a whole number of 0 or more ... a ValueError where it is
    # given". 1.5 went out as `retry: 1`, -0.5 as `retry: 0`, and infinity was an
    # OverflowError.
    app = Microframework(__name__)

    async def source() -> Any:
        yield "x"

    with pytest.raises(ValueError, match="retry"):
        ServerSentEvent("x", retry=retry)
    async with app.test_request_context("/"):
        with pytest.raises(ValueError, match="retry"):
            event_stream(source(), retry=retry)


@pytest.mark.parametrize("retry", [0, 1500, 2.0, Decimal(3), "10", True])
def test_a_whole_retry_of_any_type_is_sent_as_digits(retry: Any) -> None:
    line = ServerSentEvent("x", retry=retry).encode().split(b"\n")[0]
    assert line == f"retry: {int(retry)}".encode()


_SMALL_ROWS = 10_000  # of 1,000 bytes: a CSV export held in memory


class _FlowControlled(Recorder):
    """A send() that waits once a chunk (a client's window, a full transport)."""

    async def send(self, message: dict[str, Any]) -> None:
        await super().send(message)
        await asyncio.sleep(0)


@pytest.mark.parametrize("version", ["1.1", "2"])
@pytest.mark.parametrize("recorder", [Recorder, _FlowControlled])
async def test_a_stream_of_small_chunks_takes_a_turn_per_64_kib_not_per_chunk(
    version: str, recorder: type[Recorder]
) -> None:
    # NO_WAIT's turn a chunk made hypercorn's HTTP/2 send task run between every two
    # chunks and send each 1,000-byte row in a DATA frame (and a TLS record) of its
    # own: an export 6-8 times slower than before.
    app = Microframework(__name__)

    @app.route("/export")
    async def export() -> AsyncIterator[bytes]:
        async def rows() -> AsyncIterator[bytes]:
            for _ in range(_SMALL_ROWS):
                yield b"x" * 999 + b"\n"

        return rows()

    turns = 0

    async def count_turns() -> None:
        nonlocal turns
        while True:
            turns += 1
            await asyncio.sleep(0)

    counter = asyncio.create_task(count_turns())
    try:
        async with asyncio.timeout(LIMIT):
            sent = await call(
                app, http_scope("/export", http_version=version), recorder()
            )
    finally:
        counter.cancel()
    assert len(sent.body) == _SMALL_ROWS * 1000
    waits = _SMALL_ROWS if recorder is _FlowControlled else 0  # the send's own turns
    assert turns < waits + _SMALL_ROWS / 8, turns  # about one a 64 KiB: 160
