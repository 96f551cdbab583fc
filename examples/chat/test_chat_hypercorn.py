"""The chat example behind a real hypercorn on 127.0.0.1, with the ``websockets`` client.

The server runs in the test's own event loop on a socket the test binds to port 0 and
hands over by file descriptor, so the port is known before the server starts. Every
test is bounded by ``asyncio.timeout`` and always shuts the server down.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import websockets
from chat import create_app
from hypercorn.asyncio import serve
from hypercorn.config import Config

from microframework import Microframework
from microframework.broadcast import Broadcast

# Generous: nothing here waits on anything slower than a local socket.
LIMIT = 10


@asynccontextmanager
async def served(app: Microframework) -> AsyncIterator[int]:
    """Serve *app* with hypercorn on 127.0.0.1 and yield the port."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port: int = listener.getsockname()[1]
    config = Config()
    config.bind = [f"fd://{listener.detach()}"]  # hypercorn owns it from here
    config.errorlog = logging.getLogger("test_chat_hypercorn.server")
    config.graceful_timeout = 2
    shutdown = asyncio.Event()
    server = asyncio.create_task(
        serve(app, config, shutdown_trigger=shutdown.wait)  # type: ignore[arg-type]
    )
    try:
        yield port
    finally:
        shutdown.set()
        async with asyncio.timeout(LIMIT):
            await server


async def test_two_websockets_clients_chat_through_hypercorn() -> None:
    app = create_app("memory://")
    broadcast = app.extensions["broadcast"]
    assert isinstance(broadcast, Broadcast)
    async with asyncio.timeout(LIMIT), served(app) as port:
        base = f"ws://127.0.0.1:{port}/ws/kitchen"
        async with (
            websockets.connect(f"{base}?name=ada") as ada,
            websockets.connect(f"{base}?name=bob") as bob,
            websockets.connect(f"ws://127.0.0.1:{port}/ws/garden") as other,
        ):
            await ada.send("hello bob")
            message = json.loads(await bob.recv())
            assert (message["name"], message["text"]) == ("ada", "hello bob")
            assert json.loads(await ada.recv()) == message
            await bob.send("hi ada")
            assert json.loads(await ada.recv())["text"] == "hi ada"
            await other.send("garden only")
            assert json.loads(await other.recv())["text"] == "garden only"
        # The server hears of the closes over the sockets, in this same loop: yield
        # to it until the rooms are empty (bounded by the timeout above).
        while broadcast.subscriber_count("kitchen") or broadcast.subscriber_count(
            "garden"
        ):
            await asyncio.sleep(0)


async def test_the_page_links_the_websocket_of_its_room() -> None:
    app = create_app()
    async with asyncio.timeout(LIMIT), served(app) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        host = f"127.0.0.1:{port}"
        writer.write(
            f"GET /kitchen HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode()
        )
        response = await reader.read()
        writer.close()
        await writer.wait_closed()
    assert response.startswith(b"HTTP/1.1 200")
    assert f'data-socket="ws://{host}/ws/kitchen"'.encode() in response
