"""The Redis backend against real ``redis-server`` processes: outages, restarts, one reader.

Each test here that stops Redis starts its own server (``make_redis_server``), so the
session's shared one is never disturbed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import pytest

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
    async with Broadcast(redis_url, history_ttl=5) as broadcast:
        await broadcast.publish("c", "x")
    import redis

    with redis.Redis.from_url(redis_url) as admin:
        assert 0 < admin.pttl("broadcast:c") <= 5000
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

    def recording(delay: float, callback: Any, *args: Any) -> asyncio.TimerHandle:
        handle = call_later(delay, callback, *args)
        if getattr(callback, "__name__", "") == "_unfollow":
            timers.append(handle)
        return handle

    monkeypatch.setattr(loop, "call_later", recording)
    async with asyncio.timeout(LIMIT), Broadcast(redis_url) as broadcast:

        async def join_and_leave() -> None:
            async with broadcast.subscribe("pair"):
                await asyncio.sleep(0)  # the first leaves before the second joins

        await asyncio.gather(join_and_leave(), join_and_leave())
        assert len(timers) == 2
        assert [timer.cancelled() for timer in timers] == [True, False]


@pytest.mark.parametrize(
    "url", ["redis://127.0.0.1:1/0", "redis://:hunter2@127.0.0.1:1/0?db=0"]
)
async def test_an_unreachable_redis_is_named_as_host_port_db(url: str) -> None:
    # As docs/scaling-out.md shows it: "Redis at 127.0.0.1:1/0", with or without
    # a password (the scheme was kept when there was none).
    with pytest.raises(BroadcastError, match="^Redis at 127.0.0.1:1/0 is unreachable"):
        async with Broadcast(url):
            pass
