"""Tests for the notification feed: long-polls, SSE, Last-Event-ID and disconnects.

The app runs its lifespan (``app.test_app()``), which connects its broadcast; every
test runs on the memory backend and on a real Redis.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from feed import CHANNEL
from feed import create_app

from microframework import Microframework
from microframework.broadcast import Broadcast
from microframework.broadcast import BroadcastError
from microframework.broadcast import parse_event_id
from microframework.testing import MicroframeworkClient

LIMIT = 10


@pytest.fixture(params=["memory", "redis"])
def feed_app(request: pytest.FixtureRequest) -> Microframework:
    url = (
        "memory://"
        if request.param == "memory"
        else request.getfixturevalue("redis_url")
    )
    app = create_app(url)
    app.testing = True
    return app


@pytest.fixture
async def client(feed_app: Microframework) -> AsyncIterator[MicroframeworkClient]:
    async with asyncio.timeout(LIMIT), feed_app.test_app() as test_app:
        yield test_app.test_client()


async def _until_waiting(app: Microframework, count: int) -> None:
    """Yield to the loop until *count* clients are subscribed (bounded)."""
    broadcast: Broadcast = app.extensions["broadcast"]
    async with asyncio.timeout(5):
        while broadcast.subscriber_count(CHANNEL) != count:
            await asyncio.sleep(0)


async def _notify(client: MicroframeworkClient, message: str) -> str:
    response = await client.post("/notify", json={"message": message})
    assert response.status_code == 201
    event_id: str = (await response.get_json())["id"]
    return event_id


def _parse_sse(stream: bytes) -> list[dict[str, str]]:
    events = []
    for block in stream.decode().split("\n\n"):
        fields = dict(
            line.split(": ", 1)
            for line in block.splitlines()
            if not line.startswith(":")
        )
        if fields:
            events.append(fields)
    return events


async def test_notify_returns_the_new_id(client: MicroframeworkClient) -> None:
    first = await _notify(client, "hello")
    second = await _notify(client, "again")
    assert parse_event_id(first) < parse_event_id(second)


@pytest.mark.parametrize("body", [{"message": ""}, {"message": 3}, {"other": "x"}, [1]])
async def test_notify_refuses_a_bad_message(
    client: MicroframeworkClient, body: Any
) -> None:
    response = await client.post("/notify", json=body)
    assert response.status_code == 400


async def test_poll_answers_at_once_when_events_exist(
    client: MicroframeworkClient,
) -> None:
    first = await _notify(client, "one")
    second = await _notify(client, "two")
    third = await _notify(client, "three")
    response = await client.get(f"/poll?after={first}")
    assert response.status_code == 200
    assert await response.get_json() == {
        "events": [{"id": second, "message": "two"}, {"id": third, "message": "three"}]
    }
    everything = await (await client.get("/poll?after=0")).get_json()
    assert [e["message"] for e in everything["events"]] == ["one", "two", "three"]


async def test_poll_waits_for_the_next_event(
    feed_app: Microframework, client: MicroframeworkClient
) -> None:
    await _notify(client, "old news")
    poll = asyncio.create_task(client.get("/poll"))
    await _until_waiting(feed_app, 1)
    assert not poll.done()
    event_id = await _notify(client, "news")
    async with asyncio.timeout(5):
        response = await poll
    assert await response.get_json() == {
        "events": [{"id": event_id, "message": "news"}]
    }
    assert feed_app.extensions["broadcast"].subscriber_count(CHANNEL) == 0


async def test_many_polls_are_woken_by_one_event(
    feed_app: Microframework, client: MicroframeworkClient
) -> None:
    polls = [asyncio.create_task(client.get("/poll")) for _ in range(20)]
    await _until_waiting(feed_app, 20)
    await _notify(client, "all")
    async with asyncio.timeout(5):
        responses = await asyncio.gather(*polls)
    assert {r.status_code for r in responses} == {200}


async def test_poll_without_events_is_204_after_the_wait(
    feed_app: Microframework, client: MicroframeworkClient
) -> None:
    feed_app.config["POLL_TIMEOUT"] = 0.01
    response = await client.get("/poll")
    assert response.status_code == 204
    assert feed_app.extensions["broadcast"].subscriber_count(CHANNEL) == 0


@pytest.mark.parametrize("after", ["-1", "x", "1.5", "٣", "1-2-3"])
async def test_poll_refuses_a_bad_after(
    client: MicroframeworkClient, after: str
) -> None:
    response = await client.get("/poll", query_string={"after": after})
    assert response.status_code == 400


async def test_poller_that_disconnects_is_unsubscribed(
    feed_app: Microframework, client: MicroframeworkClient
) -> None:
    async with client.request("/poll") as connection:
        await connection.send_complete()
        await _until_waiting(feed_app, 1)
        await connection.disconnect()
        await _until_waiting(feed_app, 0)
    assert connection.status_code is None


async def test_sse_feed_sends_new_events(
    feed_app: Microframework, client: MicroframeworkClient
) -> None:
    async with client.request("/events") as connection:
        await connection.send_complete()
        await _until_waiting(feed_app, 1)
        first = await _notify(client, "first")
        second = await _notify(client, "second")
        received = b""
        async with asyncio.timeout(5):
            while received.count(b"\n\n") < 2:
                received += await connection.receive()
        assert connection.headers is not None
        assert connection.headers["Content-Type"].startswith("text/event-stream")
    assert _parse_sse(received) == [
        {
            "id": first,
            "event": "notification",
            "data": f'{{"id": "{first}", "message": "first"}}',
        },
        {
            "id": second,
            "event": "notification",
            "data": f'{{"id": "{second}", "message": "second"}}',
        },
    ]


async def test_sse_feed_resumes_after_last_event_id(
    client: MicroframeworkClient,
) -> None:
    ids = [await _notify(client, message) for message in ("a", "b", "c")]
    headers = {"Last-Event-ID": ids[0]}
    async with client.request("/events", headers=headers) as connection:
        await connection.send_complete()
        received = b""
        async with asyncio.timeout(5):
            while received.count(b"\n\n") < 2:
                received += await connection.receive()
    assert [event["id"] for event in _parse_sse(received)] == ids[1:]


async def test_sse_refuses_a_malformed_last_event_id(
    client: MicroframeworkClient,
) -> None:
    response = await client.get("/events", headers={"Last-Event-ID": "yesterday"})
    assert response.status_code == 400


async def test_sse_subscriber_that_disconnects_is_removed(
    feed_app: Microframework, client: MicroframeworkClient
) -> None:
    async with client.request("/events") as connection:
        await connection.send_complete()
        await _until_waiting(feed_app, 1)
        await connection.disconnect()
        await _until_waiting(feed_app, 0)


async def test_sse_keep_alive_while_nothing_happens(
    feed_app: Microframework, client: MicroframeworkClient
) -> None:
    feed_app.config["SSE_KEEP_ALIVE"] = 0.01
    async with client.request("/events") as connection:
        await connection.send_complete()
        async with asyncio.timeout(5):
            assert await connection.receive() == b": keep-alive\n\n"


async def test_notify_refuses_a_body_over_16_kib(
    client: MicroframeworkClient,
) -> None:
    # Every event is retained and sent to every reader: its size must be bounded.
    response = await client.post("/notify", json={"message": "x" * 17 * 1024})
    assert response.status_code == 413
    fits = await client.post("/notify", json={"message": "x" * 15 * 1024})
    assert fits.status_code == 201


async def test_an_unavailable_broadcast_is_a_503_with_retry_after(
    feed_app: Microframework, client: MicroframeworkClient
) -> None:
    # What a publish or a new subscription answers while Redis is unreachable.
    await feed_app.extensions["broadcast"].disconnect()
    for response in (
        await client.post("/notify", json={"message": "hello"}),
        await client.get("/poll?after=0"),
    ):
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "5"
        assert "unavailable" in (await response.get_json())["error"]


async def test_sse_ends_cleanly_when_the_broadcast_gives_up(
    feed_app: Microframework, client: MicroframeworkClient
) -> None:
    # After reconnect_timeout without Redis, every subscriber ends with BroadcastError
    # (what the Redis reader does, called directly). The stream must end, for the
    # browser to reconnect with Last-Event-ID, not raise into the server: that logged
    # one traceback per open stream.
    broadcast: Broadcast = feed_app.extensions["broadcast"]
    async with client.request("/events") as connection:
        await connection.send_complete()
        await _until_waiting(feed_app, 1)
        broadcast._end_all(BroadcastError("Redis at test is unreachable"))
        async with asyncio.timeout(5):
            while await connection.receive():
                pass
    assert connection.status_code == 200
