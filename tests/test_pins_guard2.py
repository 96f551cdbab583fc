"""More of the guard of a view that waits or a body that streams: drains, disconnects."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from asgi_harness import call
from asgi_harness import http_scope
from asgi_harness import Recorder

from microframework import Microframework
from microframework import request
from microframework import Response
from microframework.sse import event_stream


async def test_an_event_stream_begun_while_draining_ends_at_once(
    app: Microframework,
) -> None:
    # An event stream may run for ever: one that begins once the drain has started
    # must end now (its client reconnects to another worker), not hold the worker
    # until the grace period runs out.
    @app.get("/events")
    async def events() -> Any:
        async def source() -> AsyncIterator[str]:
            yield "hello"
            await asyncio.Event().wait()

        return event_stream(source(), keep_alive=None)

    app.drain.start(3600)
    try:
        async with asyncio.timeout(2):
            recorder = await call(app, http_scope("/events"))
    finally:
        app.drain.end()
    assert recorder.status == 200
    assert recorder.sent[-1] == {
        "type": "http.response.body",
        "body": b"",
        "more_body": False,
    }


async def test_a_view_that_closed_its_body_read_hears_the_client_leave_with_expect(
    app: Microframework,
) -> None:
    # A read closed before the body's end is over: no read will ask for the rest,
    # even with "Expect: 100-continue". The watch of the view that then waits must
    # begin at once, or the client leaving is never heard and the view waits on.
    waiting, ended = asyncio.Event(), asyncio.Event()

    @app.put("/upload")
    async def upload() -> str:
        async with contextlib.aclosing(aiter(request.body)) as chunks:  # type: ignore[type-var]
            await anext(chunks)
        try:
            waiting.set()
            await asyncio.Event().wait()
        finally:
            ended.set()
        return "never"

    recorder = Recorder(b"head", more_last=True)
    headers = [(b"content-length", b"1000"), (b"expect", b"100-continue")]
    scope = http_scope("/upload", "PUT", headers)
    task = asyncio.create_task(call(app, scope, recorder))
    try:
        async with asyncio.timeout(2):
            await waiting.wait()
            recorder.disconnect()
            await ended.wait()
            await task
    finally:
        task.cancel()
        await asyncio.wait({task})
    assert recorder.sent == []  # nobody to answer


async def test_a_client_leaving_as_the_drain_ends_its_event_stream_is_no_server_cancel(
    app: Microframework,
) -> None:
    # The drain ends the stream; the client leaving on the same turn of the loop must
    # not cancel its task a second time: that cancel would be taken for the server's
    # own (the task ends cancelled, its response unfinished).
    @app.get("/events")
    async def events() -> Any:
        async def source() -> AsyncIterator[str]:
            yield "hello"
            await asyncio.Event().wait()

        return event_stream(source(), keep_alive=None)

    recorder = Recorder()
    task = asyncio.create_task(call(app, http_scope("/events"), recorder))
    try:
        async with asyncio.timeout(2):
            await recorder.body_sent.wait()
            recorder.disconnect()
            app.drain.start(3600)
            await asyncio.wait({task})
    finally:
        task.cancel()
        app.drain.end()
    assert not task.cancelled()
    assert recorder.sent[-1]["more_body"] is False


async def test_a_server_cancel_on_the_turn_the_drain_ends_an_event_stream_is_kept(
    app: Microframework,
) -> None:
    # A server that cancels the task (its own shutdown) as the drain ends the stream:
    # the guard undoes only its own cancel, and the server's must go on to end the
    # task, not be swallowed as if the guard alone had cancelled it.
    @app.get("/events")
    async def events() -> Any:
        async def source() -> AsyncIterator[str]:
            yield "hello"
            await asyncio.Event().wait()

        return event_stream(source(), keep_alive=None)

    recorder = Recorder()
    task = asyncio.create_task(call(app, http_scope("/events"), recorder))
    try:
        async with asyncio.timeout(2):
            await recorder.body_sent.wait()
            app.drain.start(3600)
            task.cancel()  # the server's
            await asyncio.wait({task})
    finally:
        app.drain.end()
    assert task.cancelled()


async def test_a_body_read_that_waits_is_the_only_receive_call(
    app: Microframework,
) -> None:
    # A view that waits inside its body read: the read is already in receive(), so
    # the watch must wait for the read's end, not call receive() beside it (two calls
    # at once: a server may give a message to either, or wait for ever in one).
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    calls, most = 0, 0
    asked = asyncio.Event()
    sent: list[dict[str, Any]] = []

    @app.post("/upload")
    async def upload() -> bytes:
        return await request.get_data()

    async def receive() -> dict[str, Any]:
        nonlocal calls, most
        calls += 1
        most = max(most, calls)
        asked.set()
        try:
            return await inbox.get()
        finally:
            calls -= 1

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = http_scope("/upload", "POST", [(b"content-length", b"4")])
    task = asyncio.create_task(app(scope, receive, send))
    try:
        async with asyncio.timeout(2):
            for part in (b"ab", b"cd"):
                await asked.wait()
                asked.clear()
                more = part == b"ab"
                inbox.put_nowait(
                    {"type": "http.request", "body": part, "more_body": more}
                )
            await task
    finally:
        task.cancel()
    assert most == 1
    assert b"".join(m.get("body", b"") for m in sent[1:]) == b"abcd"


@pytest.mark.parametrize(
    "parts", [(b"abc",), (b"", b"abc")], ids=["whole", "empty_first"]
)
async def test_a_body_an_http2_get_was_sent_with_is_kept_for_its_read(
    app: Microframework, parts: tuple[bytes, ...]
) -> None:
    # HTTP/2 frames a body itself: a GET may come with one no header announced. The
    # watch of a view that waits first must keep it for the read (an empty first
    # frame included), not take it for a bodiless request's one empty message.
    @app.get("/search")
    async def search() -> bytes:
        await asyncio.sleep(0)  # the view waits: its watch begins
        return await request.get_data()

    async with asyncio.timeout(2):
        scope = http_scope("/search", http_version="2")
        recorder = await call(app, scope, Recorder(*parts))
    assert recorder.status == 200
    assert recorder.body == b"abc"


async def test_a_stream_begun_past_the_deadline_by_a_client_already_gone_leaves_no_cancel(
    app: Microframework,
) -> None:
    # Past the drain's deadline, with the client's disconnect already queued, two
    # reasons fire inside the task as its stream begins: each defers its cancel to the
    # loop. A stream that ends without waiting must leave neither behind, to hit
    # whatever the task does next (here: this test's own await).
    @app.get("/events")
    async def events() -> Any:
        async def source() -> AsyncIterator[str]:
            yield "data: hello\n\n"

        return Response(source(), mimetype="text/event-stream")

    app.drain.start(3600)
    app.drain.expired = True
    recorder = Recorder()
    recorder.disconnect()
    try:
        scope = http_scope("/events")
        await app(scope, recorder.receive, recorder.send)  # in this task
        await asyncio.sleep(0)  # a stray cancel would be raised here
    finally:
        app.drain.end()
    assert recorder.status == 200


async def test_a_small_send_an_http2_client_holds_up_times_out(
    app: Microframework,
) -> None:
    # Over HTTP/2 a client's flow-control window can hold up any send, however small
    # the stream so far: every send has the response timeout, not only those past
    # what an HTTP/1 server buffers.
    held = asyncio.Event()

    @app.get("/stream", response_timeout=0.05)
    async def stream() -> Any:
        async def chunks() -> AsyncIterator[bytes]:
            yield b"hi"
            yield b"there"

        return chunks()

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if message["type"] == "http.response.body":
            await held.wait()  # the client's window is shut: never released

    recorder = Recorder()
    async with asyncio.timeout(2):
        await app(http_scope("/stream", http_version="2"), recorder.receive, send)
    assert sent[-1]["more_body"] is True  # cut, not ended as if complete


async def test_a_server_cancel_of_a_stream_is_not_swallowed(
    app: Microframework,
) -> None:
    # A cancel the guard did not make (a server ending the task) must end the task
    # cancelled, not be taken for a cut stream and answered.
    @app.get("/stream")
    async def stream() -> Any:
        async def chunks() -> AsyncIterator[bytes]:
            yield b"hi"
            await asyncio.Event().wait()

        return chunks()

    recorder = Recorder()
    task = asyncio.create_task(call(app, http_scope("/stream"), recorder))
    async with asyncio.timeout(2):
        await recorder.body_sent.wait()
        task.cancel()
        await asyncio.wait({task})
    assert task.cancelled()


async def test_an_event_stream_idle_past_its_timeout_is_cut_unfinished(
    app: Microframework,
) -> None:
    # Only the drain ends an event stream cleanly. One that went idle past its
    # response timeout is a failure: cut (the connection closed), not ended as if
    # the stream had finished.
    @app.get("/events", response_timeout=0.05)
    async def events() -> Any:
        async def source() -> AsyncIterator[str]:
            yield "data: hello\n\n"
            await asyncio.Event().wait()

        return Response(source(), mimetype="text/event-stream")

    async with asyncio.timeout(2):
        recorder = await call(app, http_scope("/events"))
    assert recorder.status == 200
    assert recorder.sent[-1]["more_body"] is True


async def test_a_zero_stream_timeout_is_a_limit_not_none(app: Microframework) -> None:
    # None means no limit; 0 is the tightest (as in Quart, whose wait_for gives up
    # at once): a stream that waits for its next chunk is cut, not left to wait.
    @app.get("/stream")
    async def stream() -> Any:
        async def chunks() -> AsyncIterator[bytes]:
            yield b"hi"
            await asyncio.Event().wait()

        response = Response(chunks())
        response.timeout = 0
        return response

    async with asyncio.timeout(2):
        recorder = await call(app, http_scope("/stream"))
    assert recorder.sent[-1]["more_body"] is True
