"""Real servers inside the test's event loop: hypercorn and uvicorn on 127.0.0.1.

Each listens on a socket the helper binds to port 0 before the server starts, so the
port is known up front and a client may connect at once (the kernel queues it until
the server accepts). Both are always shut down, bounded by ``LIMIT`` seconds.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

# Generous: nothing here waits on anything slower than a local socket.
LIMIT = 10


def _listener() -> socket.socket:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1024)
    return listener


@asynccontextmanager
async def hypercorn_serving(app: Any) -> AsyncIterator[int]:
    """Serve *app* with hypercorn and yield the port."""
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    listener = _listener()
    port: int = listener.getsockname()[1]
    config = Config()
    # Hypercorn adopts the descriptor; detach so only hypercorn closes it.
    config.bind = [f"fd://{listener.detach()}"]
    config.errorlog = logging.getLogger("tests.servers.hypercorn")
    config.graceful_timeout = 2
    shutdown = asyncio.Event()
    server = asyncio.create_task(serve(app, config, shutdown_trigger=shutdown.wait))
    try:
        yield port
    finally:
        shutdown.set()
        async with asyncio.timeout(LIMIT):
            await server


@asynccontextmanager
async def uvicorn_serving(app: Any) -> AsyncIterator[int]:
    """Serve *app* with uvicorn and yield the port."""
    import uvicorn

    listener = _listener()
    port: int = listener.getsockname()[1]
    config = uvicorn.Config(app, lifespan="off", log_level="warning")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[listener]))
    try:
        yield port
    finally:
        server.should_exit = True
        async with asyncio.timeout(LIMIT):
            await task
        listener.close()


SERVERS = {"hypercorn": hypercorn_serving, "uvicorn": uvicorn_serving}
