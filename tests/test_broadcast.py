"""``microframework.broadcast``: the same behaviour on the memory and the Redis backends."""

from __future__ import annotations

import asyncio
import sys
import traceback
from collections.abc import AsyncIterator
from typing import Any

import pytest

import microframework.broadcast as broadcast_module
from microframework import Microframework
from microframework.broadcast import Broadcast
from microframework.broadcast import BroadcastError
from microframework.broadcast import Event
from microframework.broadcast import parse_event_id
from microframework.broadcast import Subscriber
from microframework.broadcast import SubscriberTooSlow

LIMIT = 10


@pytest.fixture(params=["memory", "redis"])
def url(request: pytest.FixtureRequest) -> str:
    if request.param == "memory":
        return "memory://"
    value: str = request.getfixturevalue("redis_url")
    return value


@pytest.fixture
async def broadcast(url: str) -> AsyncIterator[Broadcast]:
    async with asyncio.timeout(LIMIT), Broadcast(url) as value:
        yield value


async def _take(subscriber: Subscriber, count: int) -> list[Event]:
    async with asyncio.timeout(LIMIT):
        return [await anext(subscriber) for _ in range(count)]


async def test_ids_have_the_redis_shape_and_increase(broadcast: Broadcast) -> None:
    ids = [await broadcast.publish("c", str(n)) for n in range(5)]
    keys = [parse_event_id(i) for i in ids]
    assert all(i == f"{ms}-{seq}" for i, (ms, seq) in zip(ids, keys, strict=True))
    assert keys == sorted(keys) and len(set(keys)) == 5


def test_ids_order_as_numbers_not_strings() -> None:
    assert parse_event_id("10-0") > parse_event_id("9-99")
    assert parse_event_id("5-10") > parse_event_id("5-9")
    assert parse_event_id("7") == (7, 0)


@pytest.mark.parametrize("bad", ["", "x", "1-", "-1", "1-2-3", "1.5", "٣-0", "2" * 21])
def test_malformed_ids_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="invalid event id"):
        parse_event_id(bad)


async def test_subscribers_receive_what_is_published_after_they_join(
    broadcast: Broadcast,
) -> None:
    await broadcast.publish("room", "before")
    async with (
        broadcast.subscribe("room") as first,
        broadcast.subscribe("room") as second,
    ):
        text_id = await broadcast.publish("room", "text")
        bytes_id = await broadcast.publish("room", b"\x00bytes")
        for subscriber in (first, second):
            assert await _take(subscriber, 2) == [
                Event(text_id, "room", "text"),
                Event(bytes_id, "room", b"\x00bytes"),
            ]


async def test_channels_are_isolated(broadcast: Broadcast) -> None:
    async with broadcast.subscribe("a") as a, broadcast.subscribe("b") as b:
        await broadcast.publish("a", "for a")
        await broadcast.publish("b", "for b")
        assert [e.data for e in await _take(a, 1)] == ["for a"]
        assert [e.data for e in await _take(b, 1)] == ["for b"]
        assert a.drain() == [] and b.drain() == []


async def test_last_event_id_replays_retained_events_then_live_ones(
    broadcast: Broadcast,
) -> None:
    ids = [await broadcast.publish("c", str(n)) for n in range(5)]
    async with broadcast.subscribe("c", last_event_id=ids[1]) as subscriber:
        live = await broadcast.publish("c", "live")
        events = await _take(subscriber, 4)
        assert [e.id for e in events] == [*ids[2:], live]
        assert subscriber.drain() == []
    async with broadcast.subscribe("c", last_event_id="0") as everything:
        assert [e.data for e in await _take(everything, 6)] == [*"01234", "live"]
    async with broadcast.subscribe("c", last_event_id=live) as caught_up:
        assert caught_up.drain() == []


async def test_replay_meets_live_events_with_no_gap_and_no_duplicate(url: str) -> None:
    """Subscribe with a ``last_event_id`` while another task keeps publishing."""
    async with Broadcast(url, queue_size=500) as broadcast:
        await _replay_while_publishing(broadcast)


async def _replay_while_publishing(broadcast: Broadcast) -> None:
    first = await broadcast.publish("c", "0")
    started = asyncio.Event()

    async def publisher() -> list[str]:
        ids = []
        for n in range(1, 201):
            ids.append(await broadcast.publish("c", str(n)))
            if n == 20:
                started.set()
        return ids

    async with asyncio.timeout(LIMIT):
        task = asyncio.create_task(publisher())
        await started.wait()
        async with broadcast.subscribe("c", last_event_id=first) as subscriber:
            published = await task
            received = [e.id for e in await _take(subscriber, 200)]
            assert subscriber.drain() == []
    assert received == published


async def test_history_is_bounded(url: str) -> None:
    async with Broadcast(url, history=3) as broadcast:
        ids = [await broadcast.publish("c", str(n)) for n in range(300)]
        async with broadcast.subscribe("c", last_event_id="0") as subscriber:
            replayed = [e.id for e in subscriber.drain()]
    # Redis trims approximately (whole stream nodes), the memory backend exactly.
    assert 3 <= len(replayed) < 300
    assert replayed == ids[-len(replayed) :]
    if url == "memory://":
        assert len(replayed) == 3


async def test_the_memory_history_of_every_channel_together_is_bounded() -> None:
    # Rooms named by clients (/ws/<room>): 40 clients pinned 630 MB for an hour.
    async with Broadcast("memory://", history_bytes=100_000) as broadcast:
        backend = broadcast._backend
        assert isinstance(backend, broadcast_module._MemoryBackend)
        for n in range(2000):
            await broadcast.publish(f"room-{n}", "x" * 1000)
        assert backend._bytes <= 100_000
        assert len(backend._history) < 100  # the channels published to longest ago went
        async with broadcast.subscribe("room-1999", last_event_id="0") as subscriber:
            assert [e.data for e in subscriber.drain()] == ["x" * 1000]
        for _ in range(100):  # memory, not characters: an emoji takes four bytes
            await broadcast.publish("emoji", "\U0001f600" * 1000)
        assert backend._bytes <= 100_000
        assert len(backend._history["emoji"]) <= 100_000 // 4000
        for _ in range(300):  # one channel alone stays within it too
            await broadcast.publish("big", "y" * 10_000)
        assert 0 < backend._bytes <= 100_000
        async with broadcast.subscribe("big", last_event_id="0") as subscriber:
            assert 0 < len(subscriber.drain()) <= 10


async def test_a_channel_name_built_for_each_publish_is_kept_once() -> None:
    # A view builds f"room:{name}" anew each time: every event kept its own copy of
    # the name, counted once, so the history held 20 times its budget.
    async with Broadcast("memory://") as broadcast:
        for _ in range(3):
            await broadcast.publish("".join(["room:", "x" * 100]), "hi")
        backend = broadcast._backend
        assert isinstance(backend, broadcast_module._MemoryBackend)
        (events,) = backend._history.values()
        assert len({id(event.channel) for event in events}) == 1


async def test_the_memory_historys_count_follows_every_path_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Pushed out by history, expired by age, cleared: each counted down.
    one = broadcast_module._CHANNEL_SIZE + sys.getsizeof("c")
    one += 2 * (broadcast_module._EVENT_SIZE + sys.getsizeof("12345"))
    async with Broadcast("memory://", history=2, history_ttl=60) as broadcast:
        backend = broadcast._backend
        assert isinstance(backend, broadcast_module._MemoryBackend)
        for _ in range(10):
            await broadcast.publish("c", "12345")
        assert backend._bytes == one
        later = broadcast_module.time.time_ns() + 61 * 10**9
        monkeypatch.setattr(broadcast_module.time, "time_ns", lambda: later)
        for _ in range(2):
            await broadcast.publish("d", "12345")  # "c" ages out
        assert list(backend._history) == ["d"] and backend._bytes == one
        await broadcast.disconnect()
        assert backend._bytes == 0


async def test_history_older_than_its_age_is_not_replayed(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with Broadcast(url, history_ttl=60) as broadcast:
        await broadcast.publish("c", "old")
        later = broadcast_module.time.time_ns() + 61 * 10**9
        monkeypatch.setattr(broadcast_module.time, "time_ns", lambda: later)
        async with broadcast.subscribe("c", last_event_id="0") as subscriber:
            assert subscriber.drain() == []


async def test_leaving_unsubscribes_at_once(broadcast: Broadcast) -> None:
    async with broadcast.subscribe("c"):
        async with broadcast.subscribe("c") as inner:
            assert broadcast.subscriber_count("c") == 2
        assert broadcast.subscriber_count("c") == 1
    assert broadcast.subscriber_count("c") == 0
    assert broadcast._channels == {}
    await broadcast.publish("c", "nobody listens")
    async with asyncio.timeout(5):  # a failure, not a hang
        assert [event async for event in inner] == []  # a left subscriber just ends


async def test_cancelling_a_waiting_subscriber_unsubscribes(
    broadcast: Broadcast,
) -> None:
    joined = asyncio.Event()

    async def listen() -> None:
        async with broadcast.subscribe("c") as subscriber:
            joined.set()
            async for _ in subscriber:
                pass

    task = asyncio.create_task(listen())
    async with asyncio.timeout(LIMIT):
        await joined.wait()
    task.cancel()
    await asyncio.wait({task})
    assert broadcast.subscriber_count("c") == 0


async def test_a_full_queue_drops_the_subscriber_after_its_backlog(url: str) -> None:
    async with Broadcast(url, queue_size=2) as broadcast:
        async with broadcast.subscribe("c") as slow, broadcast.subscribe("c") as fast:
            for n in range(3):
                await broadcast.publish("c", str(n))
                assert [e.data for e in await _take(fast, 1)] == [str(n)]
            assert broadcast.subscriber_count("c") == 1
            assert [e.data for e in await _take(slow, 2)] == ["0", "1"]
            with pytest.raises(SubscriberTooSlow, match="2 events behind"):
                await anext(slow)


async def test_a_publishing_loop_lets_a_reader_that_keeps_up_keep_up(
    url: str,
) -> None:
    # A websocket handler relaying a burst: its receive() returns held messages
    # without suspending, so only publish() can give the reader its turns.
    async with Broadcast(url, queue_size=2) as broadcast:
        async with broadcast.subscribe("c") as subscriber:
            reader = asyncio.create_task(_take(subscriber, 20))
            for n in range(20):
                await broadcast.publish("c", str(n))
            assert [e.data for e in await reader] == [str(n) for n in range(20)]
            assert broadcast.subscriber_count("c") == 1


async def test_drop_oldest_keeps_the_newest_and_counts_the_missed(url: str) -> None:
    async with Broadcast(url, queue_size=2, on_overflow="drop_oldest") as broadcast:
        async with broadcast.subscribe("c") as slow, broadcast.subscribe("c") as fast:
            for n in range(5):
                await broadcast.publish("c", str(n))
                await _take(fast, 1)
            assert [e.data for e in slow.drain()] == ["3", "4"]
            assert slow.missed == 3
            assert broadcast.subscriber_count("c") == 2


async def test_json_helpers(broadcast: Broadcast) -> None:
    async with broadcast.subscribe("c") as subscriber:
        await broadcast.publish_json("c", {"n": [1, 2]})
        (event,) = await _take(subscriber, 1)
    assert event.data == '{"n":[1,2]}'
    assert event.json() == {"n": [1, 2]}


async def test_publish_refuses_other_types(broadcast: Broadcast) -> None:
    with pytest.raises(TypeError, match="str or bytes, not dict"):
        await broadcast.publish("c", {"a": 1})  # type: ignore[arg-type]


async def test_text_utf8_cannot_encode_is_refused_by_every_backend(
    broadcast: Broadcast,
) -> None:
    # A lone surrogate: the memory backend took it, Redis raised UnicodeEncodeError.
    with pytest.raises(ValueError, match="UTF-8 can encode"):
        await broadcast.publish("c", "a\ud800b")
    assert await broadcast.publish("c", "caf\u00e9")  # other text is fine


async def test_a_last_event_id_from_the_future_skips_nothing(
    broadcast: Broadcast,
) -> None:
    # Resuming skips live events a client has seen on a worker whose reader is ahead,
    # but never past the stream's end: an id from the future (or any id, in memory,
    # which never lags) would have skipped every event to come.
    ms, _ = parse_event_id(await broadcast.publish("c", "before"))
    future = f"{ms + 3_600_000}-0"
    async with broadcast.subscribe("c", last_event_id=future) as subscriber:
        await broadcast.publish("c", "after")
        assert [e.data for e in await _take(subscriber, 1)] == ["after"]


async def test_an_event_delivered_while_resuming_ahead_is_not_skipped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The skip was set to the client's id before the round trip that finds the
    # channel's newest: an event published meanwhile was dropped, though the client
    # never had it (its id was from the future).
    async with Broadcast("memory://") as broadcast:
        backend: Any = broadcast._backend
        newest = backend.newest

        async def newest_over_a_network(channel: str) -> str:
            answer = await newest(channel)
            await broadcast.publish(channel, "published meanwhile")
            return str(answer)

        monkeypatch.setattr(backend, "newest", newest_over_a_network)
        ms, _ = parse_event_id(await broadcast.publish("c", "before"))
        future = f"{ms + 3_600_000}-0"
        async with broadcast.subscribe("c", last_event_id=future) as subscriber:
            assert [e.data for e in subscriber.drain()] == ["published meanwhile"]


async def test_a_channel_name_utf8_cannot_encode_is_refused_by_every_backend(
    broadcast: Broadcast,
) -> None:
    # memory:// took it; redis:// raised UnicodeEncodeError from deep inside redis-py.
    with pytest.raises(ValueError, match="the channel name must be text UTF-8 can"):
        await broadcast.publish("room\udcff", "x")
    with pytest.raises(ValueError, match="the channel name must be text UTF-8 can"):
        async with broadcast.subscribe("room\udcff"):
            pass
    assert broadcast.subscriber_count("room\udcff") == 0
    async with broadcast.subscribe("caf\u00e9") as subscriber:  # other text is fine
        await broadcast.publish("caf\u00e9", "x")
        assert [e.data for e in await _take(subscriber, 1)] == ["x"]


@pytest.mark.parametrize("name", [b"room", 7])
async def test_a_channel_name_that_isnt_a_str_is_refused_by_every_backend(
    broadcast: Broadcast, name: object
) -> None:
    # memory:// took bytes; redis:// failed with its own TypeError (str + bytes).
    with pytest.raises(TypeError, match="the channel name must be a str, not"):
        await broadcast.publish(name, "x")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="the channel name must be a str, not"):
        async with broadcast.subscribe(name):  # type: ignore[arg-type]
            pass


async def test_a_malformed_last_event_id_is_a_value_error(broadcast: Broadcast) -> None:
    with pytest.raises(ValueError, match="invalid event id"):
        async with broadcast.subscribe("c", last_event_id="yesterday"):
            pass
    assert broadcast.subscriber_count("c") == 0


async def test_disconnect_ends_every_subscriber(url: str) -> None:
    broadcast = Broadcast(url)
    await broadcast.connect()
    async with broadcast.subscribe("c") as subscriber:
        await broadcast.disconnect()
        async with asyncio.timeout(5):  # a failure, not a hang
            assert [event async for event in subscriber] == []
    with pytest.raises(BroadcastError, match="not connected"):
        await broadcast.publish("c", "x")


async def test_using_it_unconnected_is_an_error() -> None:
    broadcast = Broadcast()
    with pytest.raises(BroadcastError, match="not connected"):
        await broadcast.publish("c", "x")
    with pytest.raises(BroadcastError, match="not connected"):
        async with broadcast.subscribe("c"):
            pass
    async with broadcast:
        with pytest.raises(RuntimeError, match="already connected"):
            await broadcast.connect()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"url": "kafka://x"}, "unsupported broadcast URL"),
        ({"history": 0}, "history"),
        ({"history_bytes": -1}, "history_bytes"),
        ({"queue_size": 0}, "queue_size"),
        ({"on_overflow": "block"}, "on_overflow"),
    ],
)
def test_bad_options_are_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Broadcast(**kwargs)


async def test_the_app_connects_it_while_serving(url: str, app: Microframework) -> None:
    app.config["BROADCAST_URL"] = url
    broadcast = Broadcast(app=app)
    assert app.extensions["broadcast"] is broadcast
    assert broadcast.url == url

    @app.get("/publish")
    async def publish() -> str:
        return await broadcast.publish("c", "from a view")

    async with app.test_app() as test_app:
        async with broadcast.subscribe("c") as subscriber:
            response = await test_app.test_client().get("/publish")
            event_id = await response.get_data(as_text=True)
            assert await _take(subscriber, 1) == [Event(event_id, "c", "from a view")]
    with pytest.raises(BroadcastError, match="not connected"):
        await broadcast.publish("c", "after shutdown")


def test_memory_is_the_default_and_an_explicit_url_wins(app: Microframework) -> None:
    assert Broadcast(app=app).url == "memory://"
    app.config["BROADCAST_URL"] = "redis://127.0.0.1:1/0"
    assert Broadcast("memory://", app=app).url == "memory://"
    with pytest.raises(ValueError, match="unsupported"):
        app.config["BROADCAST_URL"] = "nope"
        Broadcast().init_app(app)


async def test_subscribers_ended_together_each_raise_their_own_exception() -> None:
    # One BroadcastError raised by every subscriber (Redis given up) gathered each
    # one's frames in its traceback: N subscribers, N² lines logged (scaleout 1).
    errors: list[BroadcastError] = []

    async def handler(room: Any) -> None:
        try:
            async for _ in room:
                pass
        except BroadcastError as error:
            errors.append(error)

    async with Broadcast() as broadcast:
        async with broadcast.subscribe("a") as a, broadcast.subscribe("b") as b:
            tasks = [asyncio.create_task(handler(room)) for room in (a, b, a)]
            cause = OSError("connection refused")
            try:
                raise BroadcastError("Redis is unreachable") from cause
            except BroadcastError as error:
                broadcast._end_all(error)
            async with asyncio.timeout(5):
                await asyncio.gather(*tasks)
    assert len({id(error) for error in errors}) == 3
    for error in errors:
        assert str(error) == "Redis is unreachable" and error.__cause__ is cause
        frames = traceback.extract_tb(error.__traceback__)
        assert [frame.name for frame in frames].count("handler") == 1


async def test_a_channels_own_expired_events_go_at_its_next_publish(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # They stayed while a channel published to since was still fresh, counted
    # against history_bytes (scaleout 5, session 33).
    now = [broadcast_module.time.time_ns()]
    monkeypatch.setattr(broadcast_module.time, "time_ns", lambda: now[0])
    async with Broadcast("memory://", history_ttl=60) as broadcast:
        for n in range(3):
            await broadcast.publish("a", f"old {n}")
        now[0] += 59 * 10**9
        await broadcast.publish("b", "fresh")
        now[0] += 2 * 10**9  # a's three are past the TTL, b's isn't
        await broadcast.publish("a", "new")
        backend: Any = broadcast._backend
        assert [event.data for event in backend._history["a"]] == ["new"]


def test_init_app_takes_each_apps_broadcast_url() -> None:
    # Flask's extension pattern, one module-level object and init_app in the factory:
    # every later app got the first one's URL, silently (scaleout 3, session 33).
    broadcast = Broadcast()
    for url in ("memory://", "redis://127.0.0.1:1/0"):
        app = Microframework(__name__)
        app.config["BROADCAST_URL"] = url
        broadcast.init_app(app)
        assert broadcast.url == url
    fixed = Broadcast("memory://")
    app = Microframework(__name__)
    app.config["BROADCAST_URL"] = "redis://127.0.0.1:1/0"
    fixed.init_app(app)
    assert fixed.url == "memory://"  # the constructor's URL wins


@pytest.mark.parametrize("ttl", [0, -1, 0.0004])
async def test_a_zero_history_ttl_keeps_ids_unique_and_delivers_every_event(
    url: str, ttl: float
) -> None:
    # history_ttl=0 (no replay): Redis's PEXPIRE 0 deleted the stream after each XADD, so
    # the next XADD in the same millisecond got the same id and readers skipped it.
    async with asyncio.timeout(LIMIT), Broadcast(url, history_ttl=ttl) as broadcast:
        async with broadcast.subscribe("room") as subscriber:
            ids = [await broadcast.publish("room", str(n)) for n in range(50)]
            assert len(set(ids)) == 50
            events = await _take(subscriber, 50)
            assert [e.data for e in events] == [str(n) for n in range(50)]
            assert [e.id for e in events] == ids
