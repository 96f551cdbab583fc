"""The chat example through the test client: broadcast, room isolation, clean-up."""

from __future__ import annotations

import asyncio

import pytest
from chat import Broker
from chat import create_app

from microframework import Microframework
from microframework.exceptions import WebsocketDisconnect


@pytest.fixture
def chat_app() -> Microframework:
    app = create_app(queue_size=8)
    app.testing = True
    return app


def _broker(app: Microframework) -> Broker:
    broker = app.extensions["chat"]
    assert isinstance(broker, Broker)
    return broker


async def test_pages_embed_the_websocket_url_of_their_room(
    chat_app: Microframework,
) -> None:
    client = chat_app.test_client()
    lobby = await (await client.get("/")).get_data(as_text=True)
    room = await (await client.get("/kitchen")).get_data(as_text=True)
    assert 'data-socket="ws://localhost/ws/lobby"' in lobby
    assert 'data-socket="ws://localhost/ws/kitchen"' in room
    secure = await (await client.get("/kitchen", scheme="https")).get_data(as_text=True)
    assert 'data-socket="wss://localhost/ws/kitchen"' in secure


async def test_room_names_are_escaped_in_the_page(chat_app: Microframework) -> None:
    page = await (await chat_app.test_client().get("/<b>")).get_data(as_text=True)
    assert "<em><b></em>" not in page
    assert "<em>&lt;b&gt;</em>" in page


async def test_two_clients_in_a_room_see_each_others_messages(
    chat_app: Microframework,
) -> None:
    client = chat_app.test_client()
    async with client.websocket("/ws/kitchen?name=ada") as ada:
        async with client.websocket("/ws/kitchen?name=bob") as bob:
            await ada.send("hello bob")
            expected = {"name": "ada", "text": "hello bob"}
            assert await bob.receive_json() == expected
            assert await ada.receive_json() == expected
            await bob.send("hi ada")
            expected = {"name": "bob", "text": "hi ada"}
            assert await ada.receive_json() == expected
            assert await bob.receive_json() == expected


async def test_rooms_are_isolated(chat_app: Microframework) -> None:
    client = chat_app.test_client()
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
    chat_app: Microframework,
) -> None:
    async with chat_app.test_client().websocket("/ws/kitchen") as ws:
        await ws.send("   ")
        await ws.send(b"binary")
        await ws.send("real")
        assert await ws.receive_json() == {"name": "anonymous", "text": "real"}


async def test_leaving_removes_the_subscriber_and_the_empty_room(
    chat_app: Microframework,
) -> None:
    client = chat_app.test_client()
    broker = _broker(chat_app)
    async with client.websocket("/ws/kitchen") as first:
        async with client.websocket("/ws/kitchen"):
            assert len(broker.rooms["kitchen"]) == 2
        assert len(broker.rooms["kitchen"]) == 1
        await first.close()
    assert broker.rooms == {}
    assert asyncio.all_tasks() == {asyncio.current_task()}


async def test_broker_drops_a_subscriber_whose_queue_is_full() -> None:
    broker = Broker(queue_size=2)
    async with broker.subscribe("room") as slow, broker.subscribe("room") as fast:
        for n in range(2):
            broker.publish("room", str(n))
            assert fast.queue.get_nowait() == str(n)
        broker.publish("room", "overflow")
        assert slow.dropped
        assert broker.rooms["room"] == {fast}
        assert fast.queue.get_nowait() == "overflow"
        assert [slow.queue.get_nowait() for _ in range(2)] == ["0", "1"]
    assert broker.rooms == {}


def test_broker_needs_room_for_one_message() -> None:
    with pytest.raises(ValueError, match="queue_size"):
        Broker(queue_size=0)


async def test_a_dropped_subscriber_gets_its_backlog_then_1013() -> None:
    app = create_app(queue_size=2)
    app.testing = True
    client = app.test_client()
    broker = _broker(app)
    async with client.websocket("/ws/kitchen?name=slow") as slow:
        (subscriber,) = broker.rooms["kitchen"]
        # Publish faster than the forwarding task can run: the queue overflows.
        for n in range(3):
            broker.publish("kitchen", f'{{"name": "x", "text": "{n}"}}')
        assert subscriber.dropped
        assert [(await slow.receive_json())["text"] for _ in range(2)] == ["0", "1"]
        with pytest.raises(WebsocketDisconnect) as info:
            await slow.receive()
    assert info.value.code == 1013
    assert broker.rooms == {}
