"""Apps served side by side under one ASGI dispatcher (hypercorn's), in-process."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from asgi_harness import call
from asgi_harness import http_scope
from asgi_harness import websocket_scope
from hypercorn.middleware.dispatcher import AsyncioDispatcherMiddleware

from microframework import current_app
from microframework import Microframework
from microframework import request
from microframework import websocket


def _app(name: str, closed: list[str]) -> Microframework:
    app = Microframework(name)

    @app.before_serving
    async def open_pool() -> None:
        await asyncio.sleep(0)  # the other app's startup runs meanwhile
        app.state["db"] = f"pool-{name}"
        app.state[name] = name

    @app.after_serving
    async def close_pool() -> None:
        closed.append(current_app.state["db"])

    @app.get("/")
    async def index() -> str:
        return (
            f"{request.state['db']} {current_app.state['db']} {sorted(request.state)}"
        )

    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.accept()
        await websocket.send(f"{websocket.state['db']} {sorted(websocket.state)}")

    return app


@pytest.fixture
async def served() -> AsyncIterator[tuple[AsyncioDispatcherMiddleware, list[str]]]:
    """Apps a and b under hypercorn's dispatcher, between lifespan startup and shutdown;
    the list names the pools their shutdowns closed."""
    closed: list[str] = []
    both = AsyncioDispatcherMiddleware(
        {"/a": _app("a", closed), "/b": _app("b", closed)}
    )
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    started = asyncio.Event()

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "lifespan.startup.complete":
            started.set()

    scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {"server": 1}}
    task = asyncio.create_task(both(scope, inbox.get, send))
    inbox.put_nowait({"type": "lifespan.startup"})
    async with asyncio.timeout(5):
        await started.wait()
    yield both, closed
    inbox.put_nowait({"type": "lifespan.shutdown"})
    async with asyncio.timeout(5):
        await task
    assert sorted(closed) == ["pool-a", "pool-b"]  # each shutdown closed its own


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        ("/a", "pool-a pool-a ['a', 'db', 'server']"),
        ("/b", "pool-b pool-b ['a', 'b', 'db', 'server']"),
    ],
)
async def test_apps_served_side_by_side_keep_their_own_state(
    served: tuple[Any, list[str]], prefix: str, expected: str
) -> None:
    # The dispatcher gives both apps one lifespan state dict: the first app's
    # app.state is that dict, the second's stays its own, and each app's requests
    # see its own pool on top of the server's state.
    both, _ = served
    state = dict(both.mounts["/a"].state)  # the server's copy for one request
    rec = await call(both, http_scope(f"{prefix}/", state=state))
    assert rec.body.decode() == expected


async def test_a_websocket_beside_another_app_sees_its_apps_state(
    served: tuple[Any, list[str]],
) -> None:
    both, _ = served
    sent: list[dict[str, Any]] = []
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    inbox.put_nowait({"type": "websocket.connect"})

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if message["type"] == "websocket.send":
            inbox.put_nowait({"type": "websocket.disconnect", "code": 1000})

    scope = websocket_scope("/b/ws")
    scope["state"] = dict(both.mounts["/a"].state)
    async with asyncio.timeout(5):
        await both(scope, inbox.get, send)
    texts = [m["text"] for m in sent if m["type"] == "websocket.send"]
    assert texts == ["pool-b ['a', 'b', 'db', 'server']"]


async def test_a_serving_period_leaves_the_app_only_its_own_state() -> None:
    # The server's keys went on into the next period's app.state, and replaced the
    # new server's own (srv=1 where the server now sent srv=2).
    app = Microframework(__name__)

    @app.before_serving
    async def open_pool() -> None:
        app.state["db"] = "pool"

    for period in (1, 2):
        server_state: dict[str, Any] = {"srv": period}
        await app.startup(server_state)
        assert app.state is server_state
        assert server_state == {"srv": period, "db": "pool"}
        await app.shutdown()
        assert app.state == {"db": "pool"}
