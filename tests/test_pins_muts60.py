"""Pins from mutation testing (helper muts60, session 40): the survivors among the
mutants of ``_guard.py`` and ``wrappers/websocket.py``.

Each test kills a mutant that survived the related test files; its first comment names
the code it pins and the mutant id.
"""

from __future__ import annotations

import asyncio
import gc
import weakref
from typing import Any

from asgi_harness import http_scope
from asgi_harness import Recorder
from asgi_harness import websocket_scope

from microframework import Microframework
from microframework import request
from microframework import websocket

LIMIT = 3  # seconds: every wait here is bounded


async def _turns(count: int = 5) -> None:
    for _ in range(count):
        await asyncio.sleep(0)


async def test_an_http2_get_that_waited_reads_its_empty_body_at_once() -> None:
    # _guard.Guard.heard: `request.body_taken()` for a bodiless request's one empty
    # message (mutant G30 dropped it): the watch of an HTTP/2 GET that suspended took
    # that message, so a read of the body after it waited for a message that never
    # comes (the view hung until the response timeout).
    app = Microframework(__name__)
    read: list[bytes] = []

    @app.get("/")
    async def index() -> str:
        await _turns()  # suspended: the disconnect watch takes the empty message
        read.append(await request.get_data())
        return "ok"

    rec = Recorder()  # one empty http.request, then receive() waits
    async with asyncio.timeout(LIMIT):
        await app(http_scope("/", http_version="2"), rec.receive, rec.send)
    assert (rec.status, rec.body, read) == (200, b"ok", [b""])


async def test_a_finished_websocket_is_freed_before_the_next_reader_sweep() -> None:
    # wrappers/websocket.py Websocket.finish: `armed.discard(self)` (mutant W84 made it
    # `pass`): a connection that ended within the sweep's 50 ms stayed in the
    # per-loop set until the sweep ran, holding it (and its request data) that long.
    app = Microframework(__name__)
    refs: list[weakref.ref[Any]] = []

    @app.websocket("/ws")
    async def ws() -> None:
        refs.append(weakref.ref(websocket._get_current_object()))  # type: ignore[attr-defined]
        await websocket.accept()
        await websocket.send("hi")

    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    inbox.put_nowait({"type": "websocket.connect"})
    sent: list[str] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message["type"])

    async with asyncio.timeout(LIMIT):
        await app(websocket_scope("/ws"), inbox.get, send)
    await _turns()  # the cancelled reader task's last step: not the 50 ms sweep
    gc.collect()
    assert sent == ["websocket.accept", "websocket.send", "websocket.close"]
    assert refs and refs[0]() is None


async def test_the_reader_sweep_re_armed_after_a_read_holds_no_connection() -> None:
    # wrappers/websocket.py Websocket._arm_watch: `context=contextvars.Context()`
    # (mutant W102 dropped it): re-armed after a direct read, the sweep's timer copied
    # the handler's context, which holds the app context and the connection: a
    # connection that ended stayed alive until that sweep ran (50 ms).
    app = Microframework(__name__)
    refs: list[weakref.ref[Any]] = []
    swept = asyncio.Event()

    @app.websocket("/ws")
    async def ws() -> None:
        refs.append(weakref.ref(websocket._get_current_object()))  # type: ignore[attr-defined]
        await websocket.accept()
        await websocket.receive()  # read straight from the server, and waits meanwhile
        swept.set()

    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    inbox.put_nowait({"type": "websocket.connect"})

    async def send(message: dict[str, Any]) -> None:
        pass

    loop = asyncio.get_running_loop()
    async with asyncio.timeout(LIMIT):
        handling = asyncio.create_task(app(websocket_scope("/ws"), inbox.get, send))
        await _turns()
        due = loop.create_future()  # the first sweep runs while the read waits
        loop.call_later(0.06, due.set_result, None)
        await due
        inbox.put_nowait({"type": "websocket.receive", "text": "hi"})
        await handling
    await _turns()
    gc.collect()
    assert swept.is_set()
    assert refs and refs[0]() is None


async def test_a_watch_stops_receiving_once_it_heard_the_client_leave() -> None:
    # _guard.Guard.heard: `return False` after an http.disconnect (mutant G36 made it
    # True): the watch went on calling receive(), which a server answers with another
    # disconnect at once (uvicorn, hypercorn), for as long as the view's clean-up ran.
    app = Microframework(__name__)
    app.config["RESPONSE_TIMEOUT"] = 0.05
    app.config["SHUTDOWN_GRACE_PERIOD"] = 0.05
    calls: list[str] = []
    cleaning = asyncio.Event()

    @app.get("/")
    async def index() -> str:
        try:
            await asyncio.Event().wait()  # cut at the response timeout
        except asyncio.CancelledError:
            cleaning.set()
            await asyncio.Event().wait()  # a clean-up, cut once the client has gone
        return "never"

    async def receive() -> dict[str, Any]:
        calls.append("receive")
        if len(calls) == 1:
            return {"type": "http.request", "body": b"", "more_body": False}
        await cleaning.wait()
        await asyncio.sleep(0)
        return {"type": "http.disconnect"}  # and again, at once, on every call

    rec = Recorder()
    async with asyncio.timeout(LIMIT):
        await app(http_scope("/"), receive, rec.send)
    assert rec.status == 504
    assert len(calls) <= 3, len(calls)


async def test_a_second_receiver_cancelled_while_the_first_reads_loses_nothing() -> (
    None
):
    # wrappers/websocket.py Websocket._after_direct_read: `asyncio.shield(...)` (mutant
    # W57 awaited the shared future bare): a second receive() cancelled while the
    # first read straight from the server cancelled the future the first one then
    # finished (InvalidStateError), and the message it had read was lost.
    app = Microframework(__name__)
    got: list[Any] = []

    @app.websocket("/ws")
    async def ws() -> None:
        # receive() accepts, then reads straight from the server (no reader task yet)
        first = asyncio.ensure_future(websocket.receive())
        await _turns()
        second = asyncio.ensure_future(websocket.receive())  # waits for the first
        await _turns()
        second.cancel()
        await _turns()
        inbox.put_nowait({"type": "websocket.receive", "text": "hello"})
        try:
            got.append(await first)
        except BaseException as error:  # the mutant: InvalidStateError
            got.append(type(error).__name__)
        await websocket.close(1000)

    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    inbox.put_nowait({"type": "websocket.connect"})

    async def send(message: dict[str, Any]) -> None:
        pass

    async with asyncio.timeout(LIMIT):
        await app(websocket_scope("/ws"), inbox.get, send)
    assert got == ["hello"]
