"""Response body kinds: each sends itself; a new kind is one class."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from collections.abc import Iterator
from typing import Any

from asgi_harness import call
from asgi_harness import http_scope

from microframework import Microframework
from microframework.typing import Scope
from microframework.typing import Send
from microframework.wrappers.body import IterableBody
from microframework.wrappers.body import ResponseBody
from microframework.wrappers.body import StreamSender


class Countdown(ResponseBody):
    """A body kind made for this test: it sends one message of its own."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for i in range(self.n, 0, -1):
            yield f"{i} ".encode()

    async def send(self, scope: Scope, send: Send, stream: StreamSender) -> bool:
        body = b"".join([chunk async for chunk in self])
        await send({"type": "http.response.body", "body": body, "more_body": False})
        return True

    async def aclose(self) -> None:
        self.closed = True


async def test_a_new_body_kind_is_one_class_that_sends_itself() -> None:
    app = Microframework(__name__)
    body = Countdown(3)

    @app.get("/")
    async def index() -> Any:
        return body

    rec = await call(app, http_scope("/"))

    assert rec.status == 200
    assert [m["type"] for m in rec.sent] == [
        "http.response.start",
        "http.response.body",
    ]
    assert rec.body == b"3 2 1 "


async def test_a_new_body_kind_streams_through_the_default_send() -> None:
    app = Microframework(__name__)

    class Plain(Countdown):
        send = ResponseBody.send  # type: ignore[assignment]

    body = Plain(2)

    @app.get("/")
    async def index() -> Any:
        return body

    rec = await call(app, http_scope("/"))

    assert [m.get("body") for m in rec.sent[1:]] == [b"2 ", b"1 ", b""]
    assert body.closed


async def test_head_closes_a_body_kind_without_sending_it() -> None:
    app = Microframework(__name__)
    body = Countdown(2)

    @app.get("/")
    async def index() -> Any:
        return body

    rec = await call(app, http_scope("/", method="HEAD"))

    assert rec.body == b""
    assert body.closed


async def test_closing_a_sync_generator_body_waits_for_its_running_step() -> None:
    # Closing a generator while a worker thread runs its next() raises "generator
    # already executing"; the body must let that step return first.
    started = threading.Event()
    release = threading.Event()
    closed = threading.Event()

    def chunks() -> Iterator[bytes]:
        try:
            yield b"first"
            started.set()
            release.wait(5)
            yield b"second"
        finally:
            closed.set()

    body = IterableBody(chunks())
    iterator = aiter(body)
    assert await anext(iterator) == b"first"
    step = asyncio.ensure_future(anext(iterator))
    await asyncio.to_thread(started.wait, 5)
    step.cancel()  # the client left while the thread runs the generator
    closing = asyncio.ensure_future(body.aclose())
    await asyncio.sleep(0)
    assert not closing.done()  # still waiting for the thread's step
    release.set()
    await closing
    assert closed.is_set()
