"""Pins of s26's mutation testing of sessions 25-26's changes (helper muts25): the
guard's re-made and undone cancels, the clean-up grace of an event stream whose client
left, closing a body whose iterator's close fails, the drained farewell's server
cancel, the resume skip, the Redis bounds and failed connect, request_finished's
replaced response, the context after the last message and in keep-alive timers,
BadJSONMessage's attributes and description, app.run(loop=...)'s warning. Each test
fails with a mutant the suite let live (/tmp/s26/muts25/mutants*.py, PROOF.txt).
Waits are bounded by asyncio.timeout; where timing matters the loop's clock is driven
or events order the steps."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from asgi_harness import call
from asgi_harness import http_scope
from asgi_harness import Recorder
from test_lost_cancel import _swallowing

from microframework import Microframework
from microframework import Response
from microframework.sse import event_stream

LIMIT = 2  # seconds: a bound, never a wait


class _Leaves(Recorder):
    """A client that leaves once it has the response's start and first event."""

    async def send(self, message: dict[str, Any]) -> None:
        await super().send(message)
        if len(self.sent) == 2:
            self.disconnect()


# -- _guard.py: Guard._fire's deferred cancel, made again ------------------------------


async def test_an_event_source_swallowing_two_remade_cancels_gets_a_third(
    app: Microframework,
) -> None:
    """Each keep-alive past the clean-up's grace makes the lost cancel again, from the
    loop (deferred): the deferred handle is let go as it runs, or the second re-made
    cancel never comes and the source runs for ever (mutant g06)."""
    app.config["SHUTDOWN_GRACE_PERIOD"] = 0
    seen: list[str] = []

    async def source() -> AsyncIterator[str]:
        try:
            yield "first"
            while True:
                try:
                    await asyncio.Event().wait()
                except asyncio.CancelledError:
                    seen.append("cancel")
                    if len(seen) == 3:  # the disconnect's, then two made again
                        raise
        finally:
            seen.append("finally")

    @app.route("/events")
    async def events() -> Response:
        return event_stream(source(), keep_alive=0.02)

    async with asyncio.timeout(LIMIT):
        recorder = await call(app, http_scope("/events"), _Leaves())
    assert seen == ["cancel", "cancel", "cancel", "finally"]
    assert recorder.body == b"data: first\n\n"
    task = asyncio.current_task()
    assert task is not None and task.cancelling() == 0


def _swallowing_source(
    seen: list[str], swallow: int, swallowed: asyncio.Event
) -> AsyncIterator[str]:
    async def source() -> AsyncIterator[str]:
        try:
            yield "first"
            await _swallowing(seen, swallow, swallowed)
        finally:
            seen.append("finally")

    return source()


async def _turns(n: int = 5) -> None:
    for _ in range(n):
        await asyncio.sleep(0)


async def test_a_drain_beginning_leaves_a_left_event_streams_clean_up_its_grace(
    app: Microframework,
) -> None:
    """An event stream whose client left (its source still cleaning up, the cancel
    swallowed) is not cancelled again as the drain begins: its clean-up has till the
    drain's deadline, which cancels again (mutant g12: cancelled at once)."""
    seen: list[str] = []
    swallowed = asyncio.Event()

    @app.route("/events")
    async def events() -> Response:
        return event_stream(_swallowing_source(seen, 1, swallowed), keep_alive=None)

    task = asyncio.create_task(call(app, http_scope("/events"), _Leaves()))
    try:
        async with asyncio.timeout(LIMIT):
            await swallowed.wait()
            app.drain.start(3600)
            await _turns()
            assert seen == ["cancel"]  # the clean-up goes on
            app.drain._expire()  # the deadline (not waited for)
            await task
        assert seen == ["cancel", "cancel", "finally"]
    finally:
        app.drain.end()
        if not task.done():
            task.cancel()
            await asyncio.wait({task}, timeout=LIMIT)


async def test_a_view_answering_after_its_timeout_keeps_a_servers_cancel(
    app: Microframework,
) -> None:
    """A view that swallows the timeout's cancel and answers anyway has that cancel
    undone as the guard stops, but only ours: a server's cancel it swallowed too
    stays counted (mutant g14 undid every cancel the task carried)."""
    app.config["RESPONSE_TIMEOUT"] = 0.01

    @app.get("/late")
    async def late() -> str:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            pass  # the response timeout's: answered anyway
        task = asyncio.current_task()
        assert task is not None
        task.cancel()  # a server's, say: swallowed too
        try:
            await asyncio.sleep(0)
        except asyncio.CancelledError:
            pass
        return "late"

    task = asyncio.current_task()
    assert task is not None
    try:
        async with asyncio.timeout(LIMIT):
            recorder = await call(app, http_scope("/late"), Recorder())
        assert recorder.body == b"late"
        assert task.cancelling() == 1  # the server's, still owed
    finally:
        while task.cancelling():
            task.uncancel()


async def test_a_timed_out_views_clean_up_is_not_cut_by_its_client_leaving(
    app: Microframework,
) -> None:
    """The response timeout cancelled the view; its ``finally`` awaits a clean-up when
    the client leaves: the disconnect does not cancel it again (mutant g11 did, and
    the clean-up was cut). The answer is the timeout's 504, to nobody."""
    app.config["RESPONSE_TIMEOUT"] = 0.01
    cleaning, release = asyncio.Event(), asyncio.Event()
    seen: list[str] = []

    @app.get("/poll")
    async def poll() -> str:
        try:
            await asyncio.Event().wait()
        finally:
            cleaning.set()
            await release.wait()  # a clean-up that takes a while
            seen.append("cleaned")
        return "never"

    recorder = Recorder()
    task = asyncio.create_task(call(app, http_scope("/poll"), recorder))
    try:
        async with asyncio.timeout(LIMIT):
            await cleaning.wait()
            recorder.disconnect()
            await _turns()
            release.set()
            await task
    finally:
        if not task.done():
            task.cancel()
            await asyncio.wait({task}, timeout=LIMIT)
    assert seen == ["cleaned"]


async def test_a_body_is_closed_when_its_iterators_close_fails(
    app: Microframework,
) -> None:
    """A body whose iterator is not its source (an async iterable's ``__aiter__``):
    the iterator is closed, then the source, even when the iterator's close raises
    (mutant g21 skipped the source's ``aclose``)."""
    closed: list[str] = []

    class Source:
        def __aiter__(self) -> AsyncIterator[bytes]:
            return self.chunks()

        async def chunks(self) -> AsyncIterator[bytes]:
            try:
                yield b"a"
                yield b"b"
            finally:
                closed.append("iterator")
                raise RuntimeError("the iterator's clean-up failed")

        async def aclose(self) -> None:
            closed.append("source")

    @app.get("/")
    async def view() -> Response:
        return Response(Source())

    class _LeavesAtFirst(Recorder):
        async def send(self, message: dict[str, Any]) -> None:
            await super().send(message)
            if message.get("body") == b"a":
                raise OSError("gone")  # a server's send once its peer left

    with pytest.raises(RuntimeError, match="clean-up failed"):  # the app's error
        async with asyncio.timeout(LIMIT):
            await call(app, http_scope("/"), _LeavesAtFirst())
    assert closed == ["iterator", "source"]


# -- _broadcast_redis.py: the documented bounds ------------------------------------


def test_a_redis_call_is_bounded_at_the_documented_five_seconds() -> None:
    """docs/scaling-out.md: a Redis that stops answering "takes up to 5 seconds per
    call to fail" and "shutting down waits for it half a second at most". The tests
    of the bound shorten it (monkeypatch): the value itself is pinned here (mutant
    b01: 50 s)."""
    pytest.importorskip("redis")
    from microframework import _broadcast_redis

    assert _broadcast_redis.CALL_TIMEOUT == 5
    assert _broadcast_redis.CLOSE_TIMEOUT == 0.5


# -- _guard.py: _stream_cut's farewell, cancelled by a server -------------------------


async def test_a_servers_cancel_during_a_drained_streams_farewell_is_raised(
    app: Microframework,
) -> None:
    """Drained, an event stream sends its last (empty) message; a server's cancel
    while that send waits is not the drain deadline's: it reaches the server (mutant
    g40 swallowed it and returned, as for the deadline's)."""

    @app.get("/events")
    async def events() -> Any:
        async def source() -> AsyncIterator[str]:
            yield "hello"
            await asyncio.Event().wait()

        return event_stream(source(), keep_alive=None)

    first, farewell = asyncio.Event(), asyncio.Event()

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            if message.get("more_body"):
                first.set()
            else:  # the farewell: the client reads no more
                farewell.set()
                await asyncio.Event().wait()

    recorder = Recorder(more_last=True)
    task = asyncio.create_task(app(http_scope("/events"), recorder.receive, send))
    try:
        async with asyncio.timeout(LIMIT):
            await first.wait()
            app.drain.start(3600)  # its deadline never comes here
            await farewell.wait()
            task.cancel()  # the server's
            await asyncio.wait({task})
        assert task.cancelled()
    finally:
        app.drain.end()
        if not task.done():
            task.cancel()
            await asyncio.wait({task}, timeout=LIMIT)


async def test_a_keep_alive_after_a_swallowed_idle_timeout_still_goes_out(
    app: Microframework,
) -> None:
    """Only a client that left makes keep-alives "for nobody": an event source that
    swallowed the idle timeout's cancel still has its client, which gets the next
    keep-alive (mutant g28 dropped it as for nobody). The timer, armed again for the
    next step, ends the stream (cut: no last message)."""
    seen: list[str] = []

    async def source() -> AsyncIterator[str]:
        yield "first"
        while True:
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                seen.append("cancel")
                if len(seen) > 1:
                    raise

    @app.route("/events")
    async def events() -> Response:
        response = event_stream(source(), keep_alive=0.05)
        response.timeout = 0.01  # idle before the first keep-alive is due
        return response

    async with asyncio.timeout(LIMIT):
        recorder = await call(app, http_scope("/events"), Recorder(more_last=True))
    assert seen == ["cancel", "cancel"]
    assert recorder.body == b"data: first\n\n: keep-alive\n\n"
    assert recorder.sent[-1]["more_body"] is True  # cut, not ended


async def test_a_chunk_made_just_as_the_clean_up_grace_ends_cancels_again(
    app: Microframework, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An event source whose client left, swallowing the cancel: its first chunk since
    starts SHUTDOWN_GRACE_PERIOD, and a chunk made when it is up, to the tick, makes
    the cancel again (mutant g26: only after it). The loop's clock is driven."""
    app.config["SHUTDOWN_GRACE_PERIOD"] = 10
    seen: list[str] = []
    steps = [asyncio.Event(), asyncio.Event()]

    async def source() -> AsyncIterator[str]:
        try:
            yield "first"
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                seen.append("cancel")  # the disconnect's: swallowed
            for step in steps:
                await step.wait()
                yield "more"
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            seen.append("cancel")
            raise
        finally:
            seen.append("finally")

    @app.route("/events")
    async def events() -> Response:
        return event_stream(source(), keep_alive=None)

    loop = asyncio.get_running_loop()
    now = loop.time()
    task = asyncio.create_task(call(app, http_scope("/events"), _Leaves()))
    try:
        async with asyncio.timeout(LIMIT):
            while not seen:
                await asyncio.sleep(0)
        monkeypatch.setattr(loop, "time", lambda: now)
        steps[0].set()  # the grace starts: up at now + 10
        await _turns()
        assert seen == ["cancel"]
        now += 10
        steps[1].set()  # made as it is up
        await _turns(10)
        assert seen == ["cancel", "cancel", "finally"]
    finally:
        monkeypatch.undo()
        if not task.done():
            task.cancel()
            await asyncio.wait({task}, timeout=LIMIT)


async def test_a_connect_that_fails_closes_both_clients(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """connect() pings; a Redis that answers with an error (LOADING) fails it with
    BroadcastError, and the clients it made (the pool and the reader) are closed
    (mutant b14 left them open)."""
    pytest.importorskip("redis")
    from redis.asyncio import Redis
    from redis.exceptions import ResponseError

    from microframework.broadcast import Broadcast
    from microframework.broadcast import BroadcastError

    closed: list[bool] = []
    aclose = Redis.aclose

    async def ping(self: Any, **options: Any) -> None:
        raise ResponseError("LOADING Redis is loading the dataset in memory")

    async def recording(self: Any, *args: Any) -> None:
        closed.append(bool(self.single_connection_client))
        await aclose(self, *args)

    monkeypatch.setattr(Redis, "ping", ping)
    monkeypatch.setattr(Redis, "aclose", recording)
    async with asyncio.timeout(LIMIT):
        with pytest.raises(BroadcastError, match="LOADING"):
            await Broadcast(redis_url).connect()
    assert sorted(closed) == [False, True]  # the pool's client, and the reader


# -- wrappers/websocket.py: receive_json's BadJSONMessage is Quart's JSONDecodeError ---


async def test_a_too_deep_json_message_is_a_full_json_decode_error(
    app: Microframework,
) -> None:
    """A message nested too deeply has no parser error to copy: BadJSONMessage still
    has every JSONDecodeError attribute a handler written for Quart reads (mutant w08
    left msg, doc, pos, lineno and colno unset). A parser's error keeps its own."""
    import json

    from microframework import websocket

    @app.websocket("/ws")
    async def handle() -> None:
        while True:
            try:
                await websocket.receive_json()
            except json.JSONDecodeError as error:
                where = [error.msg, error.doc, error.pos, error.lineno, error.colno]
                await websocket.send_json([str(error), *where])

    async with asyncio.timeout(LIMIT), app.test_client().websocket("/ws") as ws:
        await ws.send("[" * 100_000)
        deep = await ws.receive_json()
        await ws.send('{"a": 1,}')
        parsed = await ws.receive_json()
    reason = "the JSON message is nested too deeply"
    assert deep == [reason, reason, "", 0, 1, 1]
    # The parser's own words and place (they vary with Python's version).
    with pytest.raises(json.JSONDecodeError) as raised:
        json.loads('{"a": 1,}')
    error = raised.value
    assert parsed == [
        str(error),
        error.msg,
        error.doc,
        error.pos,
        error.lineno,
        error.colno,
    ]


# -- broadcast.py: the resume skip drops every live event the client has ------------


async def test_resuming_skips_every_event_delivered_during_the_skips_round_trip(
    redis_url: str,
) -> None:
    """Resuming on a worker whose reader lags: the live events that come while the
    channel's newest id is looked up, up to the client's, are all dropped, not just
    the first (mutant b32: the rest came twice)."""
    pytest.importorskip("redis")
    from microframework.broadcast import Broadcast

    async def take(subscriber: Any, count: int) -> list[str]:
        return [(await anext(subscriber)).id for _ in range(count)]

    async with (
        asyncio.timeout(LIMIT),
        Broadcast(redis_url) as quick,
        Broadcast(redis_url) as busy,
    ):
        backend: Any = busy._backend
        read, held = backend._reader.xread, asyncio.Event()

        async def xread(streams: dict[str, str], **options: Any) -> Any:
            await held.wait()  # a busy worker: its reader has not read them yet
            return await read(streams, **options)

        backend._reader.xread = xread
        async with busy.subscribe("room") as other:
            seen = [await quick.publish("room", str(n)) for n in range(5)]
            newest = backend.newest

            async def newest_after_the_reader(channel: str) -> str:
                held.set()  # during the round trip, the reader catches up
                assert await take(other, 5) == seen
                return str(await newest(channel))

            backend.newest = newest_after_the_reader
            async with busy.subscribe("room", last_event_id=seen[-1]) as resumed:
                new = await quick.publish("room", "new")
                assert await take(resumed, 1) == [new]


# -- serving.run_on_loop: the warning points at the caller's app.run -----------------


def test_app_run_with_a_loop_warns_at_the_callers_line_and_sets_debug(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The warning of the settings app.run(loop=...) ignores is reported at the
    app.run call in the user's code, not inside microframework (mutant s05:
    stacklevel 2, app.py); debug= is applied as in Quart."""
    app = Microframework(__name__)
    loop = asyncio.new_event_loop()

    async def fake_task(*args: Any) -> None:
        pass

    monkeypatch.setattr(app, "run_task", fake_task)
    try:
        with pytest.warns(UserWarning, match="ignores workers") as record:
            app.run(loop=loop, debug=True, workers=2)
    finally:
        loop.close()
    assert [w.filename for w in record] == [__file__]
    assert app.debug is True


async def test_a_redis_error_during_the_resume_skip_does_not_fail_subscribe(
    redis_url: str,
) -> None:
    """The skip's lookup of the channel's newest id failing (Redis erring) costs at
    worst duplicates: subscribe still succeeds and delivers (mutant b27 raised the
    BroadcastError out of subscribe)."""
    pytest.importorskip("redis")
    from microframework.broadcast import Broadcast
    from microframework.broadcast import BroadcastError

    async with asyncio.timeout(LIMIT), Broadcast(redis_url) as broadcast:
        await broadcast.publish("room", "first")
        backend: Any = broadcast._backend

        async def newest(channel: str) -> str:
            raise BroadcastError("Redis at somewhere failed: BUSY")

        backend.newest = newest
        later = "99999999999999-0"  # ahead of this process: the skip looks Redis up
        async with broadcast.subscribe("room", last_event_id=later) as subscriber:
            new = await broadcast.publish("room", "new")
            assert (await anext(subscriber)).id == new  # not first: it had that


# -- _dispatch._announce: the response a failing request_finished replaced ----------


async def test_a_response_replaced_by_request_finisheds_500_is_closed(
    app: Microframework,
) -> None:
    """A request_finished receiver that raises turns the answer into the app's 500:
    the response it replaced is never sent, and is closed at once (its generator's
    finally runs, call_on_close fires), not left to the garbage collector (mutant
    d03)."""
    from microframework import signals

    app.testing = False
    closed: list[str] = []

    @app.get("/")
    async def index() -> Response:
        async def body() -> AsyncIterator[bytes]:
            try:
                yield b"never sent"
            finally:
                closed.append("generator")

        response = Response(body())
        response.call_on_close(lambda: closed.append("call_on_close"))
        await anext(aiter(response.response))  # started: only aclose ends it now
        return response

    def finished(sender: Any, response: Any) -> None:
        if response.status_code == 200:
            raise RuntimeError("receiver failed")

    with signals.request_finished.connected_to(finished, app):
        async with asyncio.timeout(LIMIT):
            response = await app.test_client().get("/")
    assert response.status_code == 500
    assert sorted(closed) == ["call_on_close", "generator"]


# -- globals.without_context: the context comes back after the last message ---------


@pytest.mark.parametrize("method", ["GET", "HEAD"])
async def test_teardown_after_a_streamed_response_has_its_app_context(
    app: Microframework, method: str
) -> None:
    """The last message is sent with no app context (the server's keep-alive timer
    copies it), and the context is back for what runs after: teardown_request sees
    g and current_app (mutant c02: without_context never reset it)."""
    from microframework import current_app
    from microframework import g

    seen: list[Any] = []

    @app.get("/")
    async def index() -> Response:
        g.user = "ada"

        async def body() -> AsyncIterator[bytes]:
            yield b"streamed"

        return Response(body())

    @app.teardown_request
    async def teardown(error: BaseException | None) -> None:
        seen.append((g.user, current_app.name))

    async with asyncio.timeout(LIMIT):
        recorder = await call(app, http_scope("/", method=method))
    assert recorder.status == 200
    assert seen == [("ada", app.name)]


# -- sse._within: the keep-alive timer beside a waiting source ----------------------


async def test_the_keep_alive_timer_of_a_waiting_event_source_holds_no_context(
    app: Microframework, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An event source paused at a future gets a timer for its next keep-alive: made
    without the request's context (a cancelled timer stays in the loop's heap, and
    would keep the request alive that long; mutant c08 copied it)."""
    import contextvars
    import functools

    from microframework.globals import _cv_app

    loop = asyncio.get_running_loop()
    contexts: list[contextvars.Context] = []
    call_later = loop.call_later

    def recording(delay: float, callback: Any, *args: Any, context: Any = None) -> Any:
        if (
            isinstance(callback, functools.partial)
            and callback.func.__name__ == "_wake"
        ):
            contexts.append(contextvars.copy_context() if context is None else context)
        return call_later(delay, callback, *args, context=context)

    monkeypatch.setattr(loop, "call_later", recording)

    @app.get("/")
    async def index() -> Response:
        async def events() -> AsyncIterator[str]:
            ready = loop.create_future()
            loop.call_soon(ready.set_result, None)
            await ready  # paused at a future: the keep-alive is timed beside it
            yield "one"

        return event_stream(events(), keep_alive=30)

    async with asyncio.timeout(LIMIT):
        recorder = await call(app, http_scope("/"))
    assert recorder.body == b"data: one\n\n"
    assert contexts
    assert [context.get(_cv_app) for context in contexts] == [None] * len(contexts)


async def test_a_bad_json_messages_400_describes_the_parsers_error(
    app: Microframework,
) -> None:
    """BadJSONMessage is a 400 whose description is the parser's words: an
    errorhandler(400) that reports it sends them (mutant w06: BadRequest's generic
    "The browser (or proxy) sent a request..." text)."""
    import json

    from werkzeug.exceptions import BadRequest

    from microframework import websocket

    @app.websocket("/ws")
    async def handle() -> None:
        await websocket.accept()
        await websocket.receive_json()

    @app.errorhandler(400)
    async def bad(error: BadRequest) -> None:
        await websocket.send(str(error.description))

    async with asyncio.timeout(LIMIT), app.test_client().websocket("/ws") as ws:
        await ws.send("{oops")
        said = await ws.receive()
    with pytest.raises(ValueError) as raised:
        json.loads("{oops")
    assert said == str(raised.value)
