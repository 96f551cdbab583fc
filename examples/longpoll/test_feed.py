"""Tests for the notification feed: long-polls, SSE, Last-Event-ID and disconnects."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from feed import Broker
from feed import create_app

from microframework import Microframework


@pytest.fixture
def feed_app() -> Microframework:
    app = create_app()
    app.testing = True
    return app


def _broker(app: Microframework) -> Broker:
    value: Broker = app.extensions["broker"]
    return value


async def _until_waiting(app: Microframework, count: int) -> None:
    """Yield to the loop until *count* clients wait in the broker (bounded)."""
    async with asyncio.timeout(5):
        while _broker(app).waiting != count:
            await asyncio.sleep(0)


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


async def test_notify_returns_the_new_id(feed_app: Microframework) -> None:
    client = feed_app.test_client()
    first = await client.post("/notify", json={"message": "hello"})
    second = await client.post("/notify", json={"message": "again"})
    assert first.status_code == 201
    assert await first.get_json() == {"id": 1}
    assert await second.get_json() == {"id": 2}


@pytest.mark.parametrize("body", [{"message": ""}, {"message": 3}, {"other": "x"}, [1]])
async def test_notify_refuses_a_bad_message(
    feed_app: Microframework, body: Any
) -> None:
    response = await feed_app.test_client().post("/notify", json=body)
    assert response.status_code == 400


async def test_poll_answers_at_once_when_events_exist(feed_app: Microframework) -> None:
    client = feed_app.test_client()
    await client.post("/notify", json={"message": "one"})
    await client.post("/notify", json={"message": "two"})
    response = await client.get("/poll?after=1")
    assert response.status_code == 200
    assert await response.get_json() == {"events": [{"id": 2, "message": "two"}]}


async def test_poll_waits_for_the_next_event(feed_app: Microframework) -> None:
    client = feed_app.test_client()
    poll = asyncio.create_task(client.get("/poll?after=0"))
    await _until_waiting(feed_app, 1)
    assert not poll.done()
    await client.post("/notify", json={"message": "news"})
    async with asyncio.timeout(5):
        response = await poll
    assert await response.get_json() == {"events": [{"id": 1, "message": "news"}]}
    assert _broker(feed_app).waiting == 0


async def test_many_polls_are_woken_by_one_event(feed_app: Microframework) -> None:
    client = feed_app.test_client()
    polls = [asyncio.create_task(client.get("/poll")) for _ in range(20)]
    await _until_waiting(feed_app, 20)
    await client.post("/notify", json={"message": "all"})
    async with asyncio.timeout(5):
        responses = await asyncio.gather(*polls)
    assert {r.status_code for r in responses} == {200}


async def test_poll_without_events_is_204_after_the_wait(
    feed_app: Microframework,
) -> None:
    feed_app.config["POLL_TIMEOUT"] = 0.01
    response = await feed_app.test_client().get("/poll?after=0")
    assert response.status_code == 204
    assert _broker(feed_app).waiting == 0


@pytest.mark.parametrize("after", ["-1", "x", "1.5", "٣"])
async def test_poll_refuses_a_bad_after(feed_app: Microframework, after: str) -> None:
    response = await feed_app.test_client().get("/poll", query_string={"after": after})
    assert response.status_code == 400


async def test_poller_that_disconnects_is_removed_from_the_broker(
    feed_app: Microframework,
) -> None:
    async with feed_app.test_client().request("/poll") as connection:
        await connection.send_complete()
        await _until_waiting(feed_app, 1)
        await connection.disconnect()
        await _until_waiting(feed_app, 0)
    assert connection.status_code is None
    assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []


async def test_sse_feed_sends_new_events(feed_app: Microframework) -> None:
    client = feed_app.test_client()
    async with client.request("/events") as connection:
        await connection.send_complete()
        await _until_waiting(feed_app, 1)
        await client.post("/notify", json={"message": "first"})
        await client.post("/notify", json={"message": "second"})
        received = b""
        async with asyncio.timeout(5):
            while received.count(b"\n\n") < 2:
                received += await connection.receive()
        assert connection.headers is not None
        assert connection.headers["Content-Type"].startswith("text/event-stream")
    assert _parse_sse(received) == [
        {"id": "1", "event": "notification", "data": '{"id": 1, "message": "first"}'},
        {"id": "2", "event": "notification", "data": '{"id": 2, "message": "second"}'},
    ]


async def test_sse_feed_resumes_after_last_event_id(feed_app: Microframework) -> None:
    client = feed_app.test_client()
    for message in ("a", "b", "c"):
        await client.post("/notify", json={"message": message})
    async with client.request("/events", headers={"Last-Event-ID": "1"}) as connection:
        await connection.send_complete()
        received = b""
        async with asyncio.timeout(5):
            while received.count(b"\n\n") < 2:
                received += await connection.receive()
    assert [event["id"] for event in _parse_sse(received)] == ["2", "3"]


async def test_sse_subscriber_that_disconnects_is_removed(
    feed_app: Microframework,
) -> None:
    async with feed_app.test_client().request("/events") as connection:
        await connection.send_complete()
        await _until_waiting(feed_app, 1)
        await connection.disconnect()
        await _until_waiting(feed_app, 0)
    assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []


async def test_sse_keep_alive_while_nothing_happens(feed_app: Microframework) -> None:
    feed_app.config["SSE_KEEP_ALIVE"] = 0.01
    async with feed_app.test_client().request("/events") as connection:
        await connection.send_complete()
        async with asyncio.timeout(5):
            assert await connection.receive() == b": keep-alive\n\n"
