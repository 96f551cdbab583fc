"""The chat example through the test client: broadcast, rooms, resuming, clean-up.

The app runs its lifespan (``app.test_app()``), which connects its broadcast; the
behaviour tests run on the memory backend and on a real Redis.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest
from chat import create_app

from microframework import Microframework
from microframework.broadcast import Broadcast
from microframework.broadcast import BroadcastError
from microframework.exceptions import WebsocketDisconnect
from microframework.testing import MicroframeworkClient
from microframework.testing import WebsocketResponseError

LIMIT = 10


@pytest.fixture(params=["memory", "redis"])
def broadcast_url(request: pytest.FixtureRequest) -> str:
    if request.param == "memory":
        return "memory://"
    url: str = request.getfixturevalue("redis_url")
    return url


@pytest.fixture
def chat_app(broadcast_url: str) -> Microframework:
    app = create_app(broadcast_url, queue_size=8)
    app.testing = True
    return app


@pytest.fixture
async def client(chat_app: Microframework) -> AsyncIterator[MicroframeworkClient]:
    async with asyncio.timeout(LIMIT), chat_app.test_app() as test_app:
        yield test_app.test_client()


def _broadcast(app: Microframework) -> Broadcast:
    broadcast = app.extensions["broadcast"]
    assert isinstance(broadcast, Broadcast)
    return broadcast


def _text(message: dict[str, str]) -> tuple[str, str]:
    return message["name"], message["text"]


async def test_pages_embed_the_websocket_url_of_their_room(
    client: MicroframeworkClient,
) -> None:
    lobby = await (await client.get("/")).get_data(as_text=True)
    room = await (await client.get("/kitchen")).get_data(as_text=True)
    assert 'data-socket="ws://localhost/ws/lobby"' in lobby
    assert 'data-socket="ws://localhost/ws/kitchen"' in room
    secure = await (await client.get("/kitchen", scheme="https")).get_data(as_text=True)
    assert 'data-socket="wss://localhost/ws/kitchen"' in secure


async def test_room_names_are_escaped_in_the_page(client: MicroframeworkClient) -> None:
    page = await (await client.get("/<b>")).get_data(as_text=True)
    assert "<em><b></em>" not in page
    assert "<em>&lt;b&gt;</em>" in page


async def test_two_clients_in_a_room_see_each_others_messages(
    client: MicroframeworkClient,
) -> None:
    async with client.websocket("/ws/kitchen?name=ada") as ada:
        async with client.websocket("/ws/kitchen?name=bob") as bob:
            await ada.send("hello bob")
            first = await bob.receive_json()
            assert _text(first) == ("ada", "hello bob")
            assert await ada.receive_json() == first
            await bob.send("hi ada")
            second = await ada.receive_json()
            assert _text(second) == ("bob", "hi ada")
            assert await bob.receive_json() == second
    assert first["id"] < second["id"]


async def test_rooms_are_isolated(client: MicroframeworkClient) -> None:
    async with (
        client.websocket("/ws/kitchen?name=ada") as ada,
        client.websocket("/ws/garden?name=bob") as bob,
    ):
        await ada.send("only for the kitchen")
        assert (await ada.receive_json())["text"] == "only for the kitchen"
        await bob.send("only for the garden")
        # Had the kitchen message reached the garden, bob would have it first.
        assert (await bob.receive_json())["text"] == "only for the garden"


async def test_blank_and_binary_messages_are_not_broadcast(
    client: MicroframeworkClient,
) -> None:
    async with client.websocket("/ws/kitchen") as ws:
        await ws.send("   ")
        await ws.send(b"binary")
        await ws.send("real")
        assert _text(await ws.receive_json()) == ("anonymous", "real")


async def test_a_websocket_resumes_after_the_last_id_it_saw(
    client: MicroframeworkClient,
) -> None:
    async with client.websocket("/ws/kitchen?name=ada") as ada:
        for text in ("one", "two", "three"):
            await ada.send(text)
        first, *_ = [await ada.receive_json() for _ in range(3)]
    async with client.websocket(f"/ws/kitchen?after={first['id']}") as again:
        assert [(await again.receive_json())["text"] for _ in range(2)] == [
            "two",
            "three",
        ]


async def test_sse_feed_resumes_after_last_event_id(
    client: MicroframeworkClient,
) -> None:
    async with client.websocket("/ws/kitchen?name=ada") as ada:
        for text in ("one", "two", "three"):
            await ada.send(text)
        first, *_ = [await ada.receive_json() for _ in range(3)]
    headers = {"Last-Event-ID": first["id"]}
    async with client.request("/events/kitchen", headers=headers) as connection:
        await connection.send_complete()
        received = b""
        while received.count(b"\n\n") < 2:
            received += await connection.receive()
    assert received.count(b"id: ") == 2
    assert b'"text": "two"' in received and b'"text": "three"' in received


async def test_sse_refuses_a_malformed_last_event_id(
    client: MicroframeworkClient,
) -> None:
    response = await client.get("/events/kitchen", headers={"Last-Event-ID": "x"})
    assert response.status_code == 400


async def test_leaving_removes_the_subscriber(
    chat_app: Microframework, client: MicroframeworkClient
) -> None:
    broadcast = _broadcast(chat_app)
    async with client.websocket("/ws/kitchen") as first:
        async with client.websocket("/ws/kitchen"):
            assert broadcast.subscriber_count("kitchen") == 2
        assert broadcast.subscriber_count("kitchen") == 1
        await first.close()
    assert broadcast.subscriber_count("kitchen") == 0


async def test_a_slow_client_gets_its_backlog_then_1013() -> None:
    app = create_app("memory://", queue_size=2)
    app.testing = True
    broadcast = _broadcast(app)
    async with asyncio.timeout(LIMIT), app.test_app() as test_app:
        async with test_app.test_client().websocket("/ws/kitchen?name=slow") as slow:
            # The memory backend delivers within publish: three publishes started
            # at once all deliver before the forwarding task's turn comes.
            await asyncio.gather(
                *(
                    broadcast.publish_json("kitchen", {"name": "x", "text": str(n)})
                    for n in range(3)
                )
            )
            assert broadcast.subscriber_count("kitchen") == 0
            assert [(await slow.receive_json())["text"] for _ in range(2)] == ["0", "1"]
            with pytest.raises(WebsocketDisconnect) as info:
                await slow.receive()
    assert info.value.code == 1013


async def test_a_subscriber_the_broadcast_gives_up_on_closes_with_1011() -> None:
    # What a Redis outage longer than reconnect_timeout does to every subscriber.
    app = create_app("memory://")
    app.testing = True
    broadcast = _broadcast(app)
    async with asyncio.timeout(LIMIT), app.test_app() as test_app:
        async with test_app.test_client().websocket("/ws/kitchen?name=ada") as ada:
            await ada.send("hello")
            assert _text(await ada.receive_json()) == ("ada", "hello")
            broadcast._end_all(BroadcastError("Redis gave up"))
            with pytest.raises(WebsocketDisconnect) as info:
                await ada.receive()
    assert info.value.code == 1011


async def test_a_burst_from_one_client_does_not_drop_readers_that_keep_up() -> None:
    app = create_app("memory://", queue_size=8)
    app.testing = True
    async with asyncio.timeout(LIMIT), app.test_app() as test_app:
        client = test_app.test_client()
        async with client.websocket("/ws/kitchen?name=bob") as bob:
            async with client.websocket("/ws/kitchen?name=ada") as ada:
                for n in range(50):  # one paste of 50 lines: faster than a turn each
                    await ada.send(str(n))
                texts = [(await bob.receive_json())["text"] for _ in range(50)]
    assert texts == [str(n) for n in range(50)]


async def test_sse_feed_ends_cleanly_when_the_broadcast_gives_up(
    chat_app: Microframework, client: MicroframeworkClient
) -> None:
    # As the websocket closes with 1011: the stream ends, for EventSource to reconnect
    # with Last-Event-ID, instead of raising into the server (a traceback logged for
    # every open stream when Redis is gone past reconnect_timeout).
    broadcast = _broadcast(chat_app)
    async with client.request("/events/kitchen") as connection:
        await connection.send_complete()
        async with asyncio.timeout(5):
            while not broadcast.subscriber_count("kitchen"):
                await asyncio.sleep(0)
        broadcast._end_all(BroadcastError("Redis gave up"))
        async with asyncio.timeout(5):
            while await connection.receive():
                pass
    assert connection.status_code == 200


async def test_a_message_the_broadcast_cannot_publish_closes_with_1011(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Redis unreachable for a moment (under reconnect_timeout, readers ride it out):
    # publish raises BroadcastError. The sender is told with a close, as a reader is,
    # instead of the handler raising (an ERROR traceback for every message sent).
    app = create_app("memory://")
    app.testing = True
    broadcast = _broadcast(app)
    async with asyncio.timeout(LIMIT), app.test_app() as test_app:

        async def unreachable(channel: str, data: str | bytes) -> str:
            raise BroadcastError("Redis at test is unreachable")

        broadcast._backend.publish = unreachable  # type: ignore[union-attr]
        async with test_app.test_client().websocket("/ws/kitchen?name=ada") as ada:
            await ada.send("hello")
            with pytest.raises(WebsocketDisconnect) as info:
                await ada.receive()
    assert info.value.code == 1011
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_joining_while_the_broadcast_is_unreachable_is_a_503(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A page reconnecting while Redis is down (a room this worker no longer follows):
    # subscribing raises BroadcastError before the accept. The handshake is refused
    # with a 503, not a 500 with an ERROR traceback for every attempt.
    app = create_app("memory://")
    app.testing = True
    broadcast = _broadcast(app)
    async with asyncio.timeout(LIMIT), app.test_app() as test_app:

        async def unreachable(channel: str) -> str:
            raise BroadcastError("Redis at test is unreachable")

        broadcast._backend.listen = unreachable  # type: ignore[union-attr]
        with pytest.raises(WebsocketResponseError) as info:
            async with test_app.test_client().websocket("/ws/kitchen"):
                pass
    assert info.value.response.status_code == 503
    assert info.value.response.headers["Retry-After"] == "5"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
