"""Pins from mutation testing sse.py, broadcast.py, _broadcast_redis.py and middleware.py.

Each test here failed with one mutant that the rest of the suite let survive (helper
streammut, session 21; PROOF.txt names the mutant of each).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from asgi_harness import call
from asgi_harness import http_scope
from asgi_harness import Recorder
from asgi_harness import websocket_scope
from redis.exceptions import ConnectionError as RedisConnectionError

import microframework._broadcast_redis as _broadcast_redis
import microframework.broadcast as broadcast_module
from microframework import Microframework
from microframework import Response
from microframework._broadcast_redis import BLOCK_MS
from microframework.broadcast import Broadcast
from microframework.broadcast import BroadcastError
from microframework.broadcast import Event
from microframework.broadcast import parse_event_id
from microframework.broadcast import SubscriberTooSlow
from microframework.middleware import ProxyFixMiddleware
from microframework.sse import event_stream
from microframework.sse import ServerSentEvent

LIMIT = 10


async def _take(subscriber: Any, count: int) -> list[Event]:
    async with asyncio.timeout(LIMIT):
        return [await anext(subscriber) for _ in range(count)]


# -- sse.py -------------------------------------------------------------------------


def test_an_empty_id_is_sent_so_the_client_forgets_its_last_id() -> None:
    # An empty "id:" line resets the browser's last event id (HTML standard); only
    # None leaves the field out.
    assert ServerSentEvent("x", id="").encode() == b"id: \ndata: x\n\n"


def test_a_zero_retry_is_sent() -> None:
    assert ServerSentEvent("x", retry=0).encode() == b"retry: 0\ndata: x\n\n"


@pytest.mark.parametrize("field", ["id", "event"])
@pytest.mark.parametrize("bad", ["a\rb", "a\x00b"])
def test_sse_single_line_fields_refuse_cr_and_nul(field: str, bad: str) -> None:
    # A CR ends the line for the client as LF does; a browser ignores an id with NUL.
    with pytest.raises(ValueError, match=field):
        ServerSentEvent("x", **{field: bad})  # type: ignore[arg-type]


async def test_an_event_stream_asks_proxies_not_to_buffer(app: Microframework) -> None:
    async def source() -> AsyncIterator[str]:
        yield "one"

    @app.route("/events")
    async def events() -> Response:
        return event_stream(source())

    response = await app.test_client().get("/events")
    assert response.headers["X-Accel-Buffering"] == "no"
    assert response.headers["Cache-Control"] == "no-cache"


async def test_an_event_streams_idle_timeout_is_four_keep_alive_periods(
    app: Microframework,
) -> None:
    # docs/streaming.md: four keep-alive periods, or none with keep_alive=None
    # (never the route's or the app's response timeout).
    async def source() -> AsyncIterator[str]:
        yield "one"

    async with app.app_context():
        assert event_stream(source(), keep_alive=2.5).timeout == 10
        assert event_stream(source(), keep_alive=None).timeout is None


async def test_a_zero_retry_is_sent_first(app: Microframework) -> None:
    async def source() -> AsyncIterator[str]:
        yield "one"

    @app.route("/events")
    async def events() -> Response:
        return event_stream(source(), retry=0)

    response = await app.test_client().get("/events")
    assert await response.get_data() == b"retry: 0\n\ndata: one\n\n"


class _GoneAt(Recorder):
    """A server whose client went away: sending a body that starts with *marker* fails."""

    def __init__(self, marker: bytes) -> None:
        super().__init__()
        self.marker = marker

    async def send(self, message: dict[str, Any]) -> None:
        if message.get("body", b"").startswith(self.marker):
            raise OSError("the client went away")
        await super().send(message)


async def test_a_keep_alive_the_client_never_gets_cancels_the_waiting_source(
    app: Microframework,
) -> None:
    # The stream is closed while it sends a comment, the source suspended beside it
    # in its await: as its task's cancel would, the future it awaits (a gather) is
    # cancelled, the source hears CancelledError there, and its finally, awaits and
    # all, runs before the request ends.
    log: list[str] = []
    children: list[asyncio.Task[Any]] = []

    async def child() -> None:
        children.append(asyncio.current_task())  # type: ignore[arg-type]
        await asyncio.Event().wait()

    async def source() -> AsyncIterator[Any]:
        try:
            yield "first"
            try:
                yield await asyncio.gather(child(), child())
            except asyncio.CancelledError:
                log.append("cancelled at its await")
                raise
        finally:
            await asyncio.sleep(0)
            log.append("finally")

    @app.route("/events")
    async def events() -> Response:
        return event_stream(source(), keep_alive=0.01)

    recorder = _GoneAt(b": keep-alive")
    try:
        async with asyncio.timeout(LIMIT):
            await call(app, http_scope("/events"), recorder)  # a disconnect
            assert log == ["cancelled at its await", "finally"]
            await asyncio.gather(*children, return_exceptions=True)
    finally:
        for task in children:
            task.cancel()
    assert recorder.body == b"data: first\n\n"
    assert len(children) == 2 and all(task.cancelled() for task in children)


async def test_an_event_the_client_never_gets_closes_the_source(
    app: Microframework,
) -> None:
    # Closed between two steps (suspended at its yield): the source's finally runs at
    # once, not whenever the garbage collector finds the generator.
    log: list[str] = []

    async def source() -> AsyncIterator[str]:
        try:
            yield "first"
            yield "second"
        finally:
            log.append("finally")

    @app.route("/events")
    async def events() -> Response:
        return event_stream(source(), keep_alive=5)

    async with asyncio.timeout(LIMIT):
        await call(app, http_scope("/events"), _GoneAt(b"data: first"))
    assert log == ["finally"]


async def test_a_cancel_that_comes_as_the_awaited_future_completes_is_kept(
    app: Microframework,
) -> None:
    # As in a task of its own: a cancel in the turn the source's future got its
    # result still reaches the source (at that await), and the request task ends
    # cancelled. The stream went on sending as if it had never been cancelled.
    log: list[str] = []

    async def source() -> AsyncIterator[str]:
        task = asyncio.current_task()
        assert task is not None
        loop = asyncio.get_running_loop()
        future: asyncio.Future[str] = loop.create_future()

        def result_then_cancel() -> None:
            future.set_result("late")
            task.cancel()

        loop.call_soon(result_then_cancel)
        try:
            yield await future
        except asyncio.CancelledError:
            log.append("cancelled")
            raise
        yield "after"

    @app.route("/events")
    async def events() -> Response:
        return event_stream(source(), keep_alive=5)

    recorder = Recorder()
    served = asyncio.create_task(call(app, http_scope("/events"), recorder))
    async with asyncio.timeout(LIMIT):
        await asyncio.wait({served})
    assert served.cancelled()
    assert log == ["cancelled"]
    assert b"late" not in recorder.body


# -- broadcast.py -------------------------------------------------------------------


def test_the_largest_redis_stream_id_is_an_event_id() -> None:
    # Redis ids are two unsigned 64-bit integers: the largest of each is valid.
    largest = 2**64 - 1
    assert parse_event_id(f"{largest}-{largest}") == (largest, largest)
    assert parse_event_id(str(largest)) == (largest, 0)
    with pytest.raises(ValueError, match="invalid event id"):
        parse_event_id(f"{largest + 1}-0")
    with pytest.raises(ValueError, match="invalid event id"):
        parse_event_id(f"0-{largest + 1}")


async def test_a_subscriber_dropped_as_too_slow_says_so_after_its_block() -> None:
    # The first end wins: leaving the block (which ends a subscriber quietly) does
    # not turn SubscriberTooSlow into a normal end.
    async with asyncio.timeout(LIMIT), Broadcast(queue_size=1) as broadcast:
        async with broadcast.subscribe("c") as slow:
            await broadcast.publish("c", "0")
            await broadcast.publish("c", "1")
        assert [event.data for event in slow.drain()] == ["0"]
        with pytest.raises(SubscriberTooSlow):
            await anext(slow)


async def test_history_younger_than_its_age_is_replayed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # history_ttl is in seconds: an event half that old is still replayed.
    async with asyncio.timeout(LIMIT), Broadcast(history_ttl=60) as broadcast:
        event_id = await broadcast.publish("c", "recent")
        later = broadcast_module.time.time_ns() + 30 * 10**9
        monkeypatch.setattr(broadcast_module.time, "time_ns", lambda: later)
        async with broadcast.subscribe("c", last_event_id="0") as subscriber:
            assert [event.id for event in subscriber.drain()] == [event_id]


async def test_the_memory_of_expired_channels_is_freed_at_the_next_publish(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Channels are expired in the order of their last publish: one published to
    # again stays (with its recent events), one that went quiet is freed.
    now = broadcast_module.time.time_ns()
    monkeypatch.setattr(broadcast_module.time, "time_ns", lambda: now)
    async with asyncio.timeout(LIMIT), Broadcast(history_ttl=60) as broadcast:
        await broadcast.publish("a", "old")
        await broadcast.publish("b", "old")
        monkeypatch.setattr(broadcast_module.time, "time_ns", lambda: now + 30 * 10**9)
        await broadcast.publish("a", "recent")
        monkeypatch.setattr(broadcast_module.time, "time_ns", lambda: now + 70 * 10**9)
        await broadcast.publish("c", "new")
        history = broadcast._backend._history  # type: ignore[union-attr]
        assert list(history) == ["a", "c"]
        assert [event.data for event in history["a"]] == ["recent"]


# -- _broadcast_redis.py (the session's redis-server, see conftest.py) ----------------


class _Reads:
    """Stands in for the reader's XREAD: each call takes the next step of *script*
    (a reply, an exception to raise, or an Event to wait for before the next step);
    past its end it waits for ever."""

    def __init__(self, broadcast: Broadcast, *script: Any) -> None:
        self.backend: Any = broadcast._backend
        self.script = list(script)
        self.blocks: list[int] = []
        self.delays: list[float] = []
        self.done = asyncio.Event()
        self.backend._reader.xread = self.xread

    async def xread(self, streams: dict[str, str], count: int, block: int) -> Any:
        self.blocks.append(block)
        self.delays.append(self.backend._delay)
        if not self.script:
            self.done.set()
            await asyncio.Event().wait()
        step = self.script.pop(0)
        if isinstance(step, asyncio.Event):  # hold this read until the test says
            await step.wait()
            step = self.script.pop(0)
        if isinstance(step, BaseException):
            raise step
        return step


async def test_after_a_failed_read_the_reader_polls_until_redis_is_back(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Quick reads while failing (a Redis that hangs is given up on in time), the
    # long blocking read again once it answers; "back" is logged once.
    async with asyncio.timeout(LIMIT), Broadcast(redis_url) as broadcast:
        reads = _Reads(broadcast, RedisConnectionError("down"), [])
        async with broadcast.subscribe("c"):
            await reads.done.wait()
    assert reads.blocks == [BLOCK_MS, 100, BLOCK_MS]
    assert caplog.text.count("is back") == 1


async def test_the_pause_between_failed_reads_grows(redis_url: str) -> None:
    # docs/scaling-out.md: "retries with a growing pause (50 ms up to 2 s)".
    down = [RedisConnectionError("down") for _ in range(4)]
    async with asyncio.timeout(LIMIT), Broadcast(redis_url) as broadcast:
        reads = _Reads(broadcast, *down)
        async with broadcast.subscribe("c"):
            await reads.done.wait()
    # The pause to come, at each read: 50 ms after the first failure, then doubled.
    assert reads.delays == [0.0, 0.1, 0.2, 0.4, 0.8]


async def test_after_giving_up_a_new_outage_is_waited_for_again(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Giving up ends the subscribers and starts over: the next failure is a new
    # outage (logged, paused), not given up on at once in a tight loop.
    down = [RedisConnectionError("down") for _ in range(3)]
    async with (
        asyncio.timeout(LIMIT),
        Broadcast(redis_url, reconnect_timeout=0) as broadcast,
    ):
        reads = _Reads(broadcast, *down)
        async with broadcast.subscribe("c") as subscriber:
            with pytest.raises(BroadcastError, match="unreachable"):
                await anext(subscriber)
            await reads.done.wait()
    said = [r.getMessage().split(";")[0].split(" (")[0] for r in caplog.records]
    assert [m for m in said if m.startswith("Broadcast")] == [
        f"Broadcast: lost Redis at {reads.backend._where}",
        f"Broadcast: Redis at {reads.backend._where} still unreachable",
        f"Broadcast: lost Redis at {reads.backend._where}",
    ]


async def test_an_entry_a_read_returns_at_or_before_the_cursor_is_not_delivered(
    redis_url: str,
) -> None:
    # A channel left and followed again while an XREAD was out: what that read
    # brings up to the new cursor was published before the subscriber joined.
    async with asyncio.timeout(LIMIT), Broadcast(redis_url) as broadcast:
        await broadcast.publish("c", "before")
        stale = [(b"broadcast:c", [(b"1-0", {b"s": b"stale"})])]
        registered = asyncio.Event()
        reads = _Reads(broadcast, registered, stale)
        async with broadcast.subscribe("c") as subscriber:
            registered.set()
            await reads.done.wait()
            assert subscriber.drain() == []


async def test_the_reader_reads_the_wake_stream_from_its_last_entry(
    redis_url: str,
) -> None:
    # Read again from "0-0", the wake entry would end every XREAD at once: a busy
    # loop of reads instead of one blocking read.
    async with asyncio.timeout(LIMIT), Broadcast(redis_url) as broadcast:
        backend: Any = broadcast._backend
        real = backend._reader.xread
        wake_cursors: list[str] = []

        async def xread(streams: dict[str, str], **options: Any) -> Any:
            wake_cursors.append(streams[backend._wake_key])
            return await real(streams, **options)

        backend._reader.xread = xread
        async with broadcast.subscribe("c") as subscriber:
            await broadcast.publish("c", "x")
            assert [event.data for event in await _take(subscriber, 1)] == ["x"]
        assert wake_cursors[-1] != "0-0"


async def test_a_resp3_connection_delivers_events(redis_url: str) -> None:
    # redis-py parses a RESP3 XREAD as {key: [entries]}: the reader failed on every
    # read and no event was ever delivered.
    async with (
        asyncio.timeout(LIMIT),
        Broadcast(f"{redis_url}?protocol=3") as broadcast,
    ):
        async with broadcast.subscribe("c") as subscriber:
            event_id = await broadcast.publish("c", "x")
            assert [event.id for event in await _take(subscriber, 1)] == [event_id]


async def test_publish_trims_the_stream_in_redis(redis_url: str) -> None:
    # The replay is cut to history anyway: only Redis's memory shows the trim.
    import redis

    async with asyncio.timeout(LIMIT), Broadcast(redis_url, history=3) as broadcast:
        for n in range(300):
            await broadcast.publish("c", str(n))
    with redis.Redis.from_url(redis_url) as admin:
        assert admin.xlen("broadcast:c") < 300


async def test_subscribing_again_while_lingering_cancels_the_unfollow(
    redis_url: str,
) -> None:
    async with asyncio.timeout(LIMIT), Broadcast(redis_url) as broadcast:
        backend: Any = broadcast._backend
        async with broadcast.subscribe("c"):
            pass
        lingering = backend._lingering["c"]
        async with broadcast.subscribe("c"):
            assert lingering.cancelled()


async def test_a_channel_nobody_subscribes_to_is_unfollowed_after_lingering(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Nothing waited the 2 s: the unfollow itself never ran in the suite.
    monkeypatch.setattr(_broadcast_redis, "LINGER", 0.0)
    async with asyncio.timeout(LIMIT), Broadcast(redis_url) as broadcast:
        backend: Any = broadcast._backend
        unfollowed = asyncio.Event()
        unfollow = backend._unfollow

        def spy(channel: str) -> None:
            unfollow(channel)
            unfollowed.set()

        backend._unfollow = spy
        async with broadcast.subscribe("c"):
            assert "c" in backend._cursors
        await unfollowed.wait()
        assert "c" not in backend._cursors


# -- middleware.py ------------------------------------------------------------------


async def test_a_websocket_through_the_middleware_gets_the_forwarded_values() -> None:
    # __call__, not only fix_scope: websockets are fixed as HTTP requests are.
    seen: list[dict[str, Any]] = []

    async def inner(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.append(scope)

    scope = websocket_scope()
    scope["headers"] += [
        (b"x-forwarded-for", b"203.0.113.5"),
        (b"x-forwarded-proto", b"https"),
    ]
    await ProxyFixMiddleware(inner)(scope, None, None)  # type: ignore[arg-type]
    assert seen[0]["scheme"] == "wss"
    assert seen[0]["client"] == ("203.0.113.5", 0)


def test_an_empty_forwarded_host_is_ignored() -> None:
    # As werkzeug's ProxyFix: an empty value (or an empty last one) changes nothing.
    for value in (b"", b"example.com, "):
        scope = http_scope(headers=[(b"x-forwarded-host", value)])
        result = ProxyFixMiddleware(_noop, x_host=1).fix_scope(scope)
        assert [v for k, v in result["headers"] if k == b"host"] == [b"localhost"]
        assert result["server"] == ("localhost", 80)


@pytest.mark.parametrize(("kind", "scheme"), [("http", "https"), ("websocket", "wss")])
def test_a_wss_proto_is_secure(kind: str, scheme: str) -> None:
    scope = http_scope(headers=[(b"x-forwarded-proto", b"wss")], type=kind)
    assert ProxyFixMiddleware(_noop).fix_scope(scope)["scheme"] == scheme


def test_a_prefix_replaces_a_root_path_the_path_does_not_start_with() -> None:
    # A server that left its root_path out of the path: the path is kept whole.
    scope = http_scope(
        headers=[(b"x-forwarded-prefix", b"/api")], path="/users", root_path="/mnt"
    )
    result = ProxyFixMiddleware(_noop, x_prefix=1).fix_scope(scope)
    assert (result["root_path"], result["path"], result["raw_path"]) == (
        "/api",
        "/api/users",
        b"/api/users",
    )


def test_a_forwarded_port_without_a_host_header_sets_only_the_servers_port() -> None:
    # werkzeug's ProxyFix sets SERVER_PORT alone; no Host header is made up.
    scope = http_scope(headers=[(b"x-forwarded-port", b"8443")])
    scope["headers"] = [(k, v) for k, v in scope["headers"] if k != b"host"]
    result = ProxyFixMiddleware(_noop, x_port=1).fix_scope(scope)
    assert result["headers"] == [(b"x-forwarded-port", b"8443")]
    assert result["server"] == ("localhost", 8443)


async def _noop(scope: dict[str, Any], receive: Any, send: Any) -> None:
    pass
