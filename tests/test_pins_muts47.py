"""Pins from mutation testing (helper muts47, session 37): the survivors among the
mutants of ``broadcast.py`` and ``_broadcast_redis.py``.

Each test kills a mutant that survived the related test files; its first comment names
the code it pins and the mutant id.
"""

from __future__ import annotations

import asyncio

import pytest

from microframework.broadcast import Broadcast
from microframework.broadcast import Event
from microframework.broadcast import parse_event_id

LIMIT = 10


@pytest.mark.parametrize("value", [None, 7, b"1-0"])
def test_an_event_id_that_is_not_a_str_is_a_value_error(value: object) -> None:
    # broadcast.parse_event_id: the isinstance check before the match (B8). A header or
    # query value that isn't a str is malformed like any other, not a TypeError.
    with pytest.raises(ValueError, match="invalid event id"):
        parse_event_id(value)  # type: ignore[arg-type]


def test_event_json_decodes_bytes_data() -> None:
    # broadcast.Event.json: json.loads of the data as it is (B9): bytes published are
    # decoded as JSON too, not their repr.
    assert Event("1-0", "c", b'{"a": [1]}').json() == {"a": [1]}
    assert Event("1-0", "c", '{"a": [1]}').json() == {"a": [1]}


async def test_a_redis_channel_expires_history_ttl_seconds_after_its_last_publish(
    redis_url: str,
) -> None:
    # _broadcast_redis.RedisBackend.__init__: the TTL in milliseconds (R1): seconds taken
    # as milliseconds made a channel's stream vanish 1000 times too early.
    from redis.asyncio import Redis

    async with (
        asyncio.timeout(LIMIT),
        Broadcast(redis_url, history_ttl=60) as broadcast,
    ):
        await broadcast.publish("c", "x")
        async with Redis.from_url(redis_url) as admin:
            assert 50_000 < await admin.pttl("broadcast:c") <= 60_000


async def test_drain_returns_the_replayed_events_before_the_live_ones() -> None:
    # broadcast.Subscriber.drain: replay first, then the queue (B16): a long-poll answer
    # in id order.
    async with asyncio.timeout(LIMIT), Broadcast("memory://") as broadcast:
        first = await broadcast.publish("c", "old")
        async with broadcast.subscribe("c", last_event_id="0") as subscriber:
            second = await broadcast.publish("c", "new")
            assert [e.id for e in subscriber.drain()] == [first, second]


async def test_concurrent_publishes_each_get_a_pooled_connection(
    redis_url: str,
) -> None:
    # _broadcast_redis.RedisBackend.__init__: the pool of 16 (R5): publishes made at once
    # run at once, on connections of their own, not one after the other on one.
    from redis.asyncio import Redis

    async with asyncio.timeout(LIMIT), Broadcast(redis_url) as broadcast:
        async with Redis.from_url(redis_url) as admin:
            before = len(await admin.client_list())
            ids = await asyncio.gather(*(broadcast.publish("c", "x") for _ in range(8)))
            assert len(set(ids)) == 8
            assert len(await admin.client_list()) - before >= 8 - 1  # one was pooled


async def test_a_publish_whose_connection_drops_is_not_sent_again() -> None:
    # _broadcast_redis.RedisBackend.__init__: Retry(NoBackoff(), 0) (R3): a retried XADD
    # that did reach Redis would publish twice. A fake Redis that drops the connection
    # on XADD (after reading it) must see it once, and publish fails.
    from microframework.broadcast import BroadcastError

    xadds = 0

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal xadds
        try:
            while line := await reader.readline():
                args = []
                for _ in range(int(line[1:])):
                    size = int((await reader.readline())[1:])
                    args.append((await reader.readexactly(size + 2))[:-2])
                if args[0].upper() == b"XADD":
                    xadds += 1
                    break
                reply = {b"PING": b"+PONG", b"HELLO": b"-ERR unknown command"}
                writer.write(reply.get(args[0].upper(), b"+OK") + b"\r\n")
                await writer.drain()
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server, asyncio.timeout(LIMIT):
        async with Broadcast(f"redis://127.0.0.1:{port}/0") as broadcast:
            with pytest.raises(BroadcastError, match="unreachable"):
                await broadcast.publish("c", "once")
        assert xadds == 1


async def test_a_history_bytes_of_zero_is_accepted_and_keeps_no_history() -> None:
    # broadcast.Broadcast.__init__: history_bytes "at least 0" (B31): 0 is valid, live
    # events still arrive, and nothing is retained for replay.
    async with (
        asyncio.timeout(LIMIT),
        Broadcast("memory://", history_bytes=0) as broadcast,
    ):
        async with broadcast.subscribe("c") as subscriber:
            await broadcast.publish("c", "live")
            assert [e.data for e in subscriber.drain()] == ["live"]
        async with broadcast.subscribe("c", last_event_id="0") as late:
            assert late.drain() == []


def test_the_documented_defaults() -> None:
    # broadcast.Broadcast.__init__: the defaults of the options table in
    # docs/scaling-out.md (B33-B38).
    broadcast = Broadcast()
    assert broadcast.history == 1000
    assert broadcast.history_ttl == 3600
    assert broadcast.history_bytes == 64 * 1024 * 1024
    assert broadcast.queue_size == 100
    assert broadcast.on_overflow == "close"
    assert broadcast.reconnect_timeout == 30


async def test_disconnecting_deletes_the_wake_stream(redis_url: str) -> None:
    # _broadcast_redis.RedisBackend.disconnect: the DELETE of the wake key (R14): a
    # worker that stops leaves no broadcast-wake:<id> stream behind it.
    from redis.asyncio import Redis

    async with asyncio.timeout(LIMIT), Redis.from_url(redis_url) as admin:
        async with Broadcast(redis_url) as broadcast:
            async with broadcast.subscribe("c"):
                assert len(await admin.keys("broadcast-wake:*")) == 1
        assert await admin.keys("broadcast-wake:*") == []


@pytest.mark.parametrize("message", [7, 1.5, None, bytearray(b"x")])
async def test_publishing_what_is_not_str_or_bytes_is_a_type_error(
    message: object,
) -> None:
    # broadcast.Broadcast.publish: the str | bytes check (B50): an int went through
    # (memory kept it, Redis stored its text) where the docs promise a TypeError.
    async with asyncio.timeout(LIMIT), Broadcast("memory://") as broadcast:
        with pytest.raises(TypeError, match="publish takes str or bytes"):
            await broadcast.publish("c", message)  # type: ignore[arg-type]


async def test_an_unreachable_redis_error_keeps_the_redis_error_as_its_cause() -> None:
    # _broadcast_redis.RedisBackend._bounded: "raise ... from exc" (R52): what redis-py
    # said stays in the traceback a worker logs.
    from redis.exceptions import ConnectionError as RedisConnectionError

    from microframework.broadcast import BroadcastError

    async with asyncio.timeout(LIMIT):
        with pytest.raises(BroadcastError, match="unreachable") as caught:
            await Broadcast("redis://127.0.0.1:1/0").connect()
    assert isinstance(caught.value.__cause__, RedisConnectionError | OSError)


async def test_the_wake_stream_holds_one_entry_and_expires(redis_url: str) -> None:
    # _broadcast_redis.RedisBackend._wake: MAXLEN 1 (R53) and the PEXPIRE (R54): each
    # new channel adds a wake, and a worker killed without disconnecting leaves no
    # broadcast-wake:<id> stream behind for long.
    from redis.asyncio import Redis

    async with asyncio.timeout(LIMIT), Redis.from_url(redis_url) as admin:
        async with Broadcast(redis_url) as broadcast:
            for name in ("a", "b", "c"):
                async with broadcast.subscribe(name):
                    pass
            [key] = await admin.keys("broadcast-wake:*")
            assert await admin.xlen(key) == 1
            assert 0 < await admin.pttl(key) <= 20_000


@pytest.mark.parametrize("url", ["memory:", "memory:/x", "redis:/host"])
def test_a_url_without_its_double_slash_is_refused(url: str) -> None:
    # broadcast._check_url: the whole "memory://" prefix (B80): "memory:" would have
    # been taken, then connect() tried it as a Redis URL.
    with pytest.raises(ValueError, match="unsupported broadcast URL"):
        Broadcast(url)


async def test_memory_ids_restart_their_sequence_each_millisecond_and_never_go_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # broadcast._MemoryBackend.publish: (ms, 0) in a new millisecond, (last ms, seq + 1)
    # otherwise, even when the clock goes back (B82, B83, B84): Redis's rule.
    import time

    clock = iter([1_000, 1_000, 1_005, 990, 990, 1_006])
    async with (
        asyncio.timeout(LIMIT),
        Broadcast("memory://", history_ttl=None) as broadcast,
    ):
        monkeypatch.setattr(time, "time_ns", lambda: next(clock) * 1_000_000)
        ids = [await broadcast.publish("c", "x") for _ in range(6)]
    assert ids == ["1000-0", "1000-1", "1005-0", "1005-1", "1005-2", "1006-0"]
