"""A real socket closed mid long-poll, through hypercorn: the view is cancelled and torn down."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from hypercorn.asyncio import serve
from hypercorn.config import Config

from microframework import Microframework
from microframework import request
from microframework.exceptions import ClientDisconnected


@asynccontextmanager
async def _serving(app: Microframework) -> AsyncIterator[int]:
    """Serve *app* with hypercorn on 127.0.0.1 in this loop; yield the port.

    The socket listens before hypercorn starts, so a client may connect at once: the
    kernel queues it until hypercorn accepts.
    """
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    config = Config()
    # Hypercorn takes the socket over: it closes it when it stops serving.
    config.bind = [f"fd://{listener.detach()}"]
    config.graceful_timeout = 1
    config.accesslog = None
    stop = asyncio.Event()
    server = asyncio.create_task(
        serve(app, config, shutdown_trigger=stop.wait)  # type: ignore[arg-type]
    )
    try:
        yield port
    finally:
        stop.set()
        try:
            async with asyncio.timeout(5):
                await asyncio.wait({server})
        finally:
            if not server.done():
                server.cancel()
                await asyncio.wait({server})
        if not server.cancelled() and (error := server.exception()) is not None:
            raise error


async def test_closing_the_socket_mid_long_poll_runs_finally_and_teardown(
    app: Microframework,
) -> None:
    app.testing = False  # as deployed
    waiting = asyncio.Event()
    finally_ran = asyncio.Event()
    torn_down = asyncio.Event()
    teardown_errors: list[type[BaseException] | None] = []

    @app.route("/poll")
    async def poll() -> str:
        try:
            waiting.set()
            await asyncio.Event().wait()  # no event ever comes
            return "never"
        finally:
            finally_ran.set()

    @app.route("/ping")
    async def ping() -> str:
        return "pong"

    @app.teardown_request
    async def teardown(exc: BaseException | None) -> None:
        if request.path == "/poll":
            teardown_errors.append(None if exc is None else type(exc))
            torn_down.set()

    async with _serving(app) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(b"GET /poll HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            await writer.drain()
            async with asyncio.timeout(5):
                await waiting.wait()
        finally:
            writer.close()
            await writer.wait_closed()
        async with asyncio.timeout(5):
            await finally_ran.wait()
            await torn_down.wait()
        assert teardown_errors == [ClientDisconnected]
        # The server is still healthy for the next client.
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(
                b"GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
            )
            async with asyncio.timeout(5):
                answer = await reader.read()
        finally:
            writer.close()
            await writer.wait_closed()
        assert answer.startswith(b"HTTP/1.1 200")
        assert answer.endswith(b"pong")


async def test_an_upload_a_waiting_view_left_unread_ends_its_request(
    app: Microframework,
) -> None:
    # hypercorn stops reading once its queue to the app holds ten messages, and
    # ends an exchange by putting http.disconnect into that queue: a view that
    # waited, then answered without reading a 1 MB body, never ended (its last
    # send waited for room, and the connection with it).
    app.testing = False
    torn_down = asyncio.Event()
    queues: list[asyncio.Queue[Any]] = []
    inner = app.asgi_app

    async def keep_queue(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            queues.append(receive.__self__)  # hypercorn's receive is its queue's get
        await inner(scope, receive, send)

    app.asgi_app = keep_queue

    @app.post("/poll")
    async def poll() -> str:
        # The view's own work lasts until the upload has filled hypercorn's queue.
        while not queues[-1].full():
            await asyncio.sleep(0)
        return "done"

    @app.teardown_request
    async def teardown(exc: BaseException | None) -> None:
        torn_down.set()

    body = b"x" * 1_000_000
    head = f"POST /poll HTTP/1.1\r\nHost: a\r\nContent-Length: {len(body)}\r\n\r\n"
    async with _serving(app) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(head.encode() + body)
            async with asyncio.timeout(5):
                answer = await reader.readuntil(b"done")
                await torn_down.wait()
        finally:
            writer.close()
            await writer.wait_closed()
    assert answer.startswith(b"HTTP/1.1 200")
