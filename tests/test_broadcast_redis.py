"""The Redis backend against real ``redis-server`` processes: outages, restarts, one reader.

Each test here that stops Redis starts its own server (``make_redis_server``), so the
session's shared one is never disturbed.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import threading
import time
import warnings
import weakref
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

import microframework._broadcast_redis as _broadcast_redis
from microframework.broadcast import Broadcast
from microframework.broadcast import BroadcastError
from microframework.broadcast import Event
from microframework.broadcast import Subscriber

LIMIT = 10


async def _take(
    subscriber: Subscriber, count: int, limit: float = LIMIT
) -> list[Event]:
    async with asyncio.timeout(limit):
        return [await anext(subscriber) for _ in range(count)]


@contextmanager
def _paused(server: Any) -> Iterator[None]:
    """Redis stops answering (SIGSTOP) but still accepts connections."""
    os.kill(server.process.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(server.process.pid, signal.SIGCONT)


def _hold_reads(broadcast: Broadcast) -> asyncio.Event:
    """The reader's next XREADs wait until the returned event is set: a busy worker."""
    reader = broadcast._backend._reader  # type: ignore[union-attr]
    read, held = reader.xread, asyncio.Event()

    async def xread(streams: dict[str, str], **options: Any) -> Any:
        await held.wait()
        return await read(streams, **options)

    reader.xread = xread
    return held


async def test_subscribers_resume_after_a_redis_restart_with_nothing_lost_or_twice(
    make_redis_server: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    server = make_redis_server(persistent=True)
    caplog.set_level(logging.WARNING, "microframework.broadcast")
    async with (
        asyncio.timeout(3 * LIMIT),
        Broadcast(server.url) as broadcast,
        broadcast.subscribe("c") as first,
        broadcast.subscribe("c") as second,
        broadcast.subscribe("other") as other,
    ):
        before = await broadcast.publish("c", "before")
        for subscriber in (first, second):
            assert [e.id for e in await _take(subscriber, 1)] == [before]
        server.stop()
        with pytest.raises(BroadcastError, match="unreachable"):
            await broadcast.publish("c", "while down")
        server.start()
        # Published while the reader may still be waiting to reconnect: it resumes
        # from the last id it delivered.
        during = await broadcast.publish("c", "after restart")
        for subscriber in (first, second):
            assert [e.id for e in await _take(subscriber, 1)] == [during]
        after = await broadcast.publish("c", "later")
        await broadcast.publish("other", "elsewhere")
        for subscriber in (first, second):
            assert [e.id for e in await _take(subscriber, 1)] == [after]
            assert subscriber.drain() == []
        assert [e.data for e in await _take(other, 1)] == ["elsewhere"]
        # Retained across the restart (the server persists), in order, once each.
        async with broadcast.subscribe("c", last_event_id="0") as replay:
            assert [e.id for e in replay.drain()] == [before, during, after]
    assert "lost Redis" in caplog.text


async def test_subscribers_resume_after_the_connection_drops(
    make_redis_server: Callable[..., Any],
) -> None:
    server = make_redis_server()
    async with (
        asyncio.timeout(LIMIT),
        Broadcast(server.url) as broadcast,
        broadcast.subscribe("c") as subscriber,
    ):
        first = await broadcast.publish("c", "1")
        assert [e.id for e in await _take(subscriber, 1)] == [first]
        assert server.command(b"CLIENT", b"KILL", b"TYPE", b"normal").startswith(b":")
        # Published elsewhere while this process's reader is cut off: the reader
        # reconnects and resumes from the last id it delivered.
        async with Broadcast(server.url) as elsewhere:
            second = await elsewhere.publish("c", "2")
        assert [e.id for e in await _take(subscriber, 1)] == [second]
        # This process's publishing connection died too; redis-py replaced it.
        third = await broadcast.publish("c", "3")
        assert [e.id for e in await _take(subscriber, 1)] == [third]
        assert subscriber.drain() == []


async def test_publish_fails_fast_while_redis_is_down_and_hides_the_password(
    make_redis_server: Callable[..., Any],
) -> None:
    server = make_redis_server()
    assert server.command(b"CONFIG", b"SET", b"requirepass", b"sekrit") == b"+OK"
    url = f"redis://:sekrit@127.0.0.1:{server.port}/0"
    async with asyncio.timeout(LIMIT), Broadcast(url) as broadcast:
        await broadcast.publish("c", "up")
        server.stop()
        started = time.monotonic()
        with pytest.raises(BroadcastError, match="unreachable") as info:
            await broadcast.publish("c", "down")
        assert time.monotonic() - started < 2
        assert "sekrit" not in str(info.value)
        with pytest.raises(BroadcastError, match="unreachable"):
            async with broadcast.subscribe("new channel"):
                pass
    with pytest.raises(BroadcastError, match="unreachable"):
        await Broadcast(url).connect()


async def test_subscribers_end_when_redis_stays_away(
    make_redis_server: Callable[..., Any],
) -> None:
    server = make_redis_server()
    async with (
        asyncio.timeout(LIMIT),
        Broadcast(server.url, reconnect_timeout=0) as broadcast,
        broadcast.subscribe("c") as subscriber,
    ):
        server.stop()
        with pytest.raises(BroadcastError, match="unreachable"):
            await anext(subscriber)
        assert broadcast.subscriber_count("c") == 0


async def test_one_reader_connection_serves_every_subscriber_and_channel(
    redis_url: str,
) -> None:
    import redis

    async with asyncio.timeout(LIMIT), Broadcast(redis_url) as broadcast:
        async with broadcast.subscribe("first") as first:
            await broadcast.publish("first", "x")
            await _take(first, 1)
            # A channel new to this process interrupts the reader's blocking XREAD
            # (which waits up to 10 s) at once.
            async with broadcast.subscribe("second") as second:
                await broadcast.publish("second", "y")
                assert [e.data for e in await _take(second, 1, limit=2)] == ["y"]
            subscribers = [broadcast.subscribe(f"room{n % 5}") for n in range(50)]
            entered = [await s.__aenter__() for s in subscribers]
            event_id = await broadcast.publish("room3", "z")
            for subscriber in entered[3::5]:
                assert [e.id for e in await _take(subscriber, 1)] == [event_id]
            with redis.Redis.from_url(redis_url) as admin:
                clients = admin.client_list()
            for s in subscribers:
                await s.__aexit__(None, None, None)
    readers = [c for c in clients if c["cmd"] in ("xread", "xread|")]
    assert len(readers) == 1
    assert len(clients) < 10  # the reader, the publishers' small pool, the admin


async def test_a_channel_expires_from_redis_when_idle(redis_url: str) -> None:
    async with Broadcast(redis_url, history_ttl=25) as broadcast:
        await broadcast.publish("c", "x")
    import redis

    with redis.Redis.from_url(redis_url) as admin:
        assert 20_000 < admin.pttl("broadcast:c") <= 25_000
        assert admin.xlen("broadcast:c") == 1


async def test_rediss_urls_connect_over_tls(
    make_redis_server: Callable[..., Any],
) -> None:
    server = make_redis_server(tls=True)
    async with (
        asyncio.timeout(LIMIT),
        Broadcast(server.tls_url) as broadcast,
        broadcast.subscribe("c") as subscriber,
    ):
        event_id = await broadcast.publish("c", "secret")
        assert await _take(subscriber, 1) == [Event(event_id, "c", "secret")]


# -- what another client may leave in Redis -----------------------------------------


async def test_an_entry_someone_else_wrote_does_not_stop_the_reader(
    redis_url: str,
) -> None:
    # One reader serves every channel of the process: an entry that isn't UTF-8
    # text must not end it, silently, for all of them.
    from redis.asyncio import Redis

    outsider = Redis.from_url(redis_url)
    async with (
        asyncio.timeout(LIMIT),
        Broadcast(redis_url) as broadcast,
        broadcast.subscribe("room") as room,
        broadcast.subscribe("other") as other,
    ):
        await outsider.xadd("broadcast:other", {"s": b"caf\xe9"})
        assert [e.data for e in await _take(other, 1)] == ["caf\ufffd"]
        await broadcast.publish("room", "still read")
        assert [e.data for e in await _take(room, 1)] == ["still read"]
    await outsider.aclose()


async def test_a_redis_error_in_the_reader_is_logged_and_ends_subscribers(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    # A key of another type under a followed channel fails every XREAD: subscribers
    # end with BroadcastError after reconnect_timeout instead of waiting for ever.
    from redis.asyncio import Redis

    outsider = Redis.from_url(redis_url)
    caplog.set_level(logging.WARNING, "microframework.broadcast")
    async with (
        asyncio.timeout(LIMIT),
        Broadcast(redis_url, reconnect_timeout=0.2) as broadcast,
        broadcast.subscribe("room") as room,
    ):
        await outsider.delete("broadcast:room")
        await outsider.set("broadcast:room", "not a stream")
        with pytest.raises(BroadcastError):  # also a publish: 503, not a 500
            await broadcast.publish("room", "x")
        async with broadcast.subscribe("waker"):  # ends the XREAD under way
            with pytest.raises(BroadcastError):
                await _take(room, 1)
    assert "WRONGTYPE" in caplog.text
    await outsider.aclose()


async def test_a_follow_whose_wake_failed_is_undone(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Otherwise every later XREAD of the process carries the channel for ever.
    async with Broadcast(redis_url) as broadcast:
        backend: Any = broadcast._backend

        async def fail() -> None:
            raise BroadcastError("Redis went away")

        monkeypatch.setattr(backend, "_wake", fail)
        with pytest.raises(BroadcastError):
            async with broadcast.subscribe("c"):
                pass
        assert "c" not in backend._cursors


async def test_replay_gives_at_most_history_events(redis_url: str) -> None:
    # XADD trims approximately (whole nodes): Redis keeps more than history.
    async with Broadcast(redis_url, history=50) as broadcast:
        for n in range(300):
            await broadcast.publish("c", str(n))
        async with broadcast.subscribe("c", last_event_id="0") as replay:
            assert [e.data for e in replay.drain()] == [str(n) for n in range(250, 300)]


async def test_a_password_in_the_query_never_reaches_an_error_message() -> None:
    with pytest.raises(BroadcastError) as info:
        async with Broadcast("redis://127.0.0.1:1/0?password=hunter2"):
            pass
    assert "hunter2" not in str(info.value)


async def test_subscribers_coming_back_together_cost_redis_no_lookup(
    redis_url: str,
) -> None:
    # A publish answers every long-poll of a channel; they all subscribe again at
    # once. Unfollowed at the last one's leaving, the channel cost each of them an
    # XREVRANGE (3,000 of them queued on the pool for seconds).
    import redis

    def lookups() -> int:
        with redis.Redis.from_url(redis_url) as admin:
            stats: dict[str, Any] = admin.info("commandstats")
        return int(stats.get("cmdstat_xrevrange", {}).get("calls", 0))

    async with asyncio.timeout(LIMIT), Broadcast(redis_url) as broadcast:
        async with broadcast.subscribe("herd") as first:
            await broadcast.publish("herd", "answer")
            await _take(first, 1)
        before = lookups()
        subscribers = [broadcast.subscribe("herd") for _ in range(20)]
        entered = await asyncio.gather(*(s.__aenter__() for s in subscribers))
        assert lookups() == before
        event_id = await broadcast.publish("herd", "next")
        for subscriber in entered:
            assert [e.id for e in await _take(subscriber, 1)] == [event_id]
        for s in subscribers:
            await s.__aexit__(None, None, None)


async def test_two_subscribers_joining_and_leaving_at_once_leave_one_linger(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Both looked the new channel up before either followed it; the second leave's
    # timer replaced the first's, which still fired: a KeyError in a callback.
    loop = asyncio.get_running_loop()
    timers: list[asyncio.TimerHandle] = []
    call_later = loop.call_later

    def recording(
        delay: float, callback: Any, *args: Any, **kwargs: Any
    ) -> asyncio.TimerHandle:
        handle = call_later(delay, callback, *args, **kwargs)
        if getattr(callback, "__name__", "") == "_unfollow":
            timers.append(handle)
        return handle

    monkeypatch.setattr(loop, "call_later", recording)
    async with asyncio.timeout(LIMIT), Broadcast(redis_url) as broadcast:

        async def join_and_leave() -> None:
            async with broadcast.subscribe("pair"):
                await asyncio.sleep(0)  # the first leaves before the second joins

        await asyncio.gather(join_and_leave(), join_and_leave())
        # One linger is left whichever way the two interleave with Redis's replies
        # (under load the first may leave while the second is still in: one timer).
        assert timers, "no linger after the last subscriber left"
        assert [timer.cancelled() for timer in timers[:-1]] == [True] * (
            len(timers) - 1
        )
        assert not timers[-1].cancelled()


@pytest.mark.parametrize(
    "url", ["redis://127.0.0.1:1/0", "redis://:hunter2@127.0.0.1:1/0?db=0"]
)
async def test_an_unreachable_redis_is_named_as_host_port_db(url: str) -> None:
    # As docs/scaling-out.md shows it: "Redis at 127.0.0.1:1/0", with or without
    # a password (the scheme was kept when there was none).
    with pytest.raises(BroadcastError, match="^Redis at 127.0.0.1:1/0 is unreachable"):
        async with Broadcast(url):
            pass


# -- bounds, cancels and backlogs (helper redis2's findings, session 25) ---------------


async def test_a_cancel_that_comes_as_a_command_is_sent_is_not_lost(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # With a socket_timeout redis-py sent each command inside wait_for, which on 3.11
    # returns the result of a send that finished in the cancel's loop turn: the cancel
    # was lost, and an SSE stream whose client had left ran on until shutdown.
    # The hook is the stream's drain, which every redis-py sends through (with or
    # without socket_timeout): redis-py < 8.2 never calls _send_packed_command
    # without a socket_timeout, so a hook there never fired.
    drain = asyncio.StreamWriter.drain
    victims: list[asyncio.Task[str]] = []

    async def drain_then_cancel(self: asyncio.StreamWriter) -> None:
        await drain(self)
        if victims:
            victims.pop().cancel()  # the publisher, from wait_for's task if any

    async with asyncio.timeout(LIMIT), Broadcast(redis_url) as broadcast:
        await broadcast.publish("c", "connects")
        monkeypatch.setattr(asyncio.StreamWriter, "drain", drain_then_cancel)
        victims.append(publisher := asyncio.create_task(broadcast.publish("c", "x")))
        await asyncio.wait({publisher})
        assert publisher.cancelled()
        monkeypatch.undo()
        await broadcast.publish("c", "the pool still works")


async def test_each_call_fails_in_its_bound_even_while_waiting_for_the_pool(
    make_redis_server: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # docs/scaling-out.md: "up to 5 seconds per call". Past the pool's 16 connections,
    # calls first waited for a connection, then took their own 5 s: 5, 10, 15, 20 s.
    server = make_redis_server()
    monkeypatch.setattr(_broadcast_redis, "CALL_TIMEOUT", 0.2, raising=False)
    async with asyncio.timeout(LIMIT), Broadcast(server.url) as broadcast:
        await broadcast.publish("c", "up")
        with _paused(server):
            started = time.monotonic()
            publishes = [broadcast.publish("c", str(n)) for n in range(40)]
            results = await asyncio.gather(*publishes, return_exceptions=True)
            elapsed = time.monotonic() - started
    assert {str(r).partition(": ")[2] for r in results} == {"no answer in 0.2 s"}
    assert all(isinstance(r, BroadcastError) for r in results)
    assert elapsed < 2


async def test_disconnect_does_not_wait_for_a_paused_redis(
    make_redis_server: Callable[..., Any],
) -> None:
    # A SIGTERM'd worker waited 5 s on the wake key's DELETE, which expires anyway.
    server = make_redis_server()
    async with asyncio.timeout(LIMIT):
        broadcast = Broadcast(server.url)
        await broadcast.connect()
        async with broadcast.subscribe("c"):  # made the wake key
            pass
        with _paused(server):
            started = time.monotonic()
            await broadcast.disconnect()
            elapsed = time.monotonic() - started
    assert elapsed < 2


async def test_disconnect_closes_the_connections_after_a_redis_error(
    redis_url: str,
) -> None:
    from redis.exceptions import ResponseError

    async with asyncio.timeout(LIMIT):
        broadcast = Broadcast(redis_url)
        await broadcast.connect()
        backend: Any = broadcast._backend
        closed: list[str] = []

        async def refuse(*keys: str) -> None:
            raise ResponseError("LOADING Redis is loading the dataset in memory")

        def recording(name: str, close: Any) -> Any:
            async def aclose() -> None:
                closed.append(name)
                await close()

            return aclose

        backend._client.delete = refuse
        backend._reader.aclose = recording("reader", backend._reader.aclose)
        backend._client.aclose = recording("pool", backend._client.aclose)
        await broadcast.disconnect()
    assert closed == ["reader", "pool"]


async def test_resuming_on_a_worker_whose_reader_lags_repeats_nothing(
    redis_url: str,
) -> None:
    # docs/scaling-out.md: whichever worker a client reconnects to continues "with no
    # gap and no duplicate". It saw events on a worker whose reader is quick; this
    # one's reader had not read them yet, and delivered them again, live.
    async with (
        asyncio.timeout(LIMIT),
        Broadcast(redis_url) as quick,
        Broadcast(redis_url) as busy,
    ):
        held = _hold_reads(busy)
        async with busy.subscribe("room") as other:
            seen = [await quick.publish("room", str(n)) for n in range(5)]
            async with busy.subscribe("room", last_event_id=seen[-1]) as resumed:
                new = await quick.publish("room", "new")
                held.set()
                assert [e.id for e in await _take(other, 6)] == [*seen, new]
                assert [e.id for e in await _take(resumed, 1)] == [new]
                assert resumed.drain() == []


async def test_a_backlog_reaches_subscribers_that_keep_up(redis_url: str) -> None:
    # A worker whose loop was busy a moment found more than queue_size events waiting,
    # read them in one XREAD and fanned them out in one step: every subscriber
    # overflowed, however fast it read.
    async with asyncio.timeout(LIMIT), Broadcast(redis_url, queue_size=10) as broadcast:
        held = _hold_reads(broadcast)

        async def keep_up(subscriber: Subscriber) -> list[str | bytes]:
            got: list[str | bytes] = []
            async for event in subscriber:
                got.append(event.data)
                if len(got) == 25:
                    break
            return got

        async with (
            broadcast.subscribe("c") as first,
            broadcast.subscribe("c") as second,
        ):
            readers = [asyncio.create_task(keep_up(s)) for s in (first, second)]
            for n in range(25):
                await broadcast.publish("c", str(n))
            held.set()
            expected = [str(n) for n in range(25)]
            assert await asyncio.gather(*readers) == [expected, expected]


async def test_a_burst_of_new_channels_shares_its_wakes(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each new channel woke the reader, which rebuilt its XREAD of every channel
    # each time: 3,000 at once starved the loop into "unreachable" (scaleout 2).
    async with asyncio.timeout(LIMIT), Broadcast(redis_url) as broadcast:
        backend: Any = broadcast._backend
        wake, wakes = backend._wake, []

        async def counted() -> None:
            wakes.append(1)
            await wake()

        monkeypatch.setattr(backend, "_wake", counted)
        async with contextlib.AsyncExitStack() as stack:
            rooms = await asyncio.gather(
                *(
                    stack.enter_async_context(broadcast.subscribe(f"c{n}"))
                    for n in range(50)
                )
            )
            assert len(wakes) < 50
            await broadcast.publish("c49", "heard")
            assert [e.data for e in await _take(rooms[49], 1)] == ["heard"]


async def test_a_follower_cancelled_during_its_wake_leaves_the_wake_to_the_others(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The wake shared by a burst of new channels belonged to the first follower: its
    # client leaving cancelled it, and the others' channels waited for the reader's
    # 10 s XREAD to end (review15 2).
    async with Broadcast(redis_url) as broadcast, broadcast.subscribe("warm") as warm:
        backend: Any = broadcast._backend
        read, reading = backend._reader.xread, asyncio.Event()

        async def xread(streams: dict[str, str], **options: Any) -> Any:
            reading.set()
            return await read(streams, **options)

        monkeypatch.setattr(backend._reader, "xread", xread)
        await broadcast.publish("warm", "in")
        await _take(warm, 1)
        async with asyncio.timeout(LIMIT):
            await reading.wait()  # the reader's next XREAD, which blocks: no "a" or "b"
        wake, called, gate = backend._wake, asyncio.Event(), asyncio.Event()

        async def held() -> None:
            called.set()
            await gate.wait()  # the first follower's XADD still on its way
            await wake()

        monkeypatch.setattr(backend, "_wake", held)

        async def follow(channel: str) -> None:
            async with broadcast.subscribe(channel):
                await asyncio.Event().wait()

        first = asyncio.create_task(follow("a"))
        async with asyncio.timeout(LIMIT):
            await called.wait()
        async with contextlib.AsyncExitStack() as stack:
            joining = asyncio.create_task(
                stack.enter_async_context(broadcast.subscribe("b"))
            )
            async with asyncio.timeout(LIMIT):
                while "b" not in backend._cursors:  # it follows, with a wake on its way
                    await asyncio.sleep(0)
            first.cancel()
            await asyncio.gather(first, return_exceptions=True)
            gate.set()
            async with asyncio.timeout(5):  # well within the reader's 10 s block
                room = await joining
                await broadcast.publish("b", "heard")
                assert [e.data for e in await _take(room, 1)] == ["heard"]


async def test_a_subscribe_whose_wake_outlives_a_disconnect_ends_at_once(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Its wake on its way as the broadcast disconnected (the app shutting down), it
    # registered with the disconnected broadcast and waited for ever (review16 2).
    broadcast = Broadcast(redis_url)
    await broadcast.connect()
    backend: Any = broadcast._backend
    called, gate = asyncio.Event(), asyncio.Event()

    async def held() -> None:
        called.set()
        await gate.wait()  # the XADD still on its way

    monkeypatch.setattr(backend, "_wake", held)

    async def follow() -> None:
        async with broadcast.subscribe("c") as room:
            async for _ in room:
                pass

    task = asyncio.create_task(follow())
    async with asyncio.timeout(LIMIT):
        await called.wait()
    await broadcast.disconnect()
    gate.set()
    async with asyncio.timeout(LIMIT):
        with pytest.raises(BroadcastError):
            await task


async def test_redis_calls_made_in_views_keep_no_request_alive(redis_url: str) -> None:
    # A pooled connection opened in a view, and the timers a call arms there (ours,
    # the pool's 20 s one), copied the view's context: its request, g and session
    # stayed alive with the connection, or for as long as the timers sat in the heap.
    from microframework import Microframework
    from microframework import request

    app = Microframework(__name__)
    app.config["BROADCAST_URL"] = redis_url
    broadcast = Broadcast(app=app)
    seen: list[weakref.ref[Any]] = []

    @app.post("/say")
    async def say() -> dict[str, str]:
        seen.append(weakref.ref(request._get_current_object()))  # type: ignore[attr-defined]
        return {"id": await broadcast.publish("room", "hi")}

    async with asyncio.timeout(LIMIT), app.test_app() as test_app:
        client = test_app.test_client()
        async with broadcast.subscribe("other"):  # its XREAD's timer comes first
            responses = await asyncio.gather(*(client.post("/say") for _ in range(3)))
            assert [r.status_code for r in responses] == [200] * 3
            gc.collect()
            assert [ref() for ref in seen] == [None] * 3


async def test_a_call_cancelled_before_it_began_leaves_no_coroutine_unawaited(
    redis_url: str,
) -> None:
    # The call runs in a task of its own: cancelled before that task's first step,
    # the redis-py coroutine was dropped ("coroutine ... was never awaited").
    async with asyncio.timeout(LIMIT), Broadcast(redis_url) as broadcast:
        backend = broadcast._backend  # type: ignore[attr-defined]
        ran: list[str] = []

        async def command() -> None:
            ran.append("ran")

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            call = asyncio.create_task(backend._call(command()))
            await asyncio.sleep(0)  # it made its task and waits for it
            call.cancel()
            with pytest.raises(asyncio.CancelledError):
                await call
            gc.collect()
        assert ran == []
        assert not [w for w in caught if "never awaited" in str(w.message)]


async def test_live_events_reach_a_worker_busy_when_they_were_published(
    redis_url: str,
) -> None:
    # history_ttl=0 ("live events only") set each stream to expire 1 ms after its last
    # publish: an event published while this worker's reader was between two XREADs
    # (its loop busy a few ms) was gone before the next XREAD, and never delivered.
    def other_worker() -> None:
        async def publish() -> None:
            async with Broadcast(redis_url, history_ttl=0) as other:
                for n in range(3):
                    await other.publish("room", str(n))
                    time.sleep(0.005)  # a 1 ms expiry is over

        asyncio.run(publish())

    async with (
        asyncio.timeout(LIMIT),
        Broadcast(redis_url, history_ttl=0) as broadcast,
        broadcast.subscribe("room") as subscriber,
    ):
        await broadcast.publish("room", "first")
        assert (await anext(subscriber)).data == "first"  # the reader is following
        publisher = threading.Thread(target=other_worker)
        publisher.start()
        publisher.join(LIMIT)  # this worker's loop is busy meanwhile
        try:
            async with asyncio.timeout(2):
                got = [(await anext(subscriber)).data for _ in range(3)]
        except TimeoutError:
            got = None
        assert got == ["0", "1", "2"]
