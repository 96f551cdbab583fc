"""Response body kinds: each sends itself; a new kind is one class."""

from __future__ import annotations

import asyncio
import io
import json
import threading
from collections.abc import AsyncIterator
from collections.abc import Iterator
from typing import Any

import pytest
from asgi_harness import call
from asgi_harness import http_scope

from microframework import Microframework
from microframework import Response
from microframework.typing import Scope
from microframework.typing import Send
from microframework.wrappers.body import IterableBody
from microframework.wrappers.body import ResponseBody
from microframework.wrappers.body import StreamSender
from microframework.wrappers.filebody import FileBody
from microframework.wrappers.response import DataBody
from microframework.wrappers.response import IOBody


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


async def test_an_after_request_rewrites_the_body_with_quarts_data_body() -> None:
    # A public Quart app's hook: the body stays Flask's [data], and the DataBody
    # assigned back becomes a bytes body with its own length.
    app = Microframework(__name__)

    @app.get("/")
    async def index() -> dict[str, int]:
        return {"snake_case": 1}

    @app.after_request
    async def to_camel_case(response: Response) -> Response:
        body = response.response
        if isinstance(body, DataBody):
            body = [chunk async for chunk in body]
        assert isinstance(body, list) and len(body) == 1
        data = json.loads(body[0])
        response.response = DataBody(
            json.dumps({"snakeCase": data["snake_case"]}).encode()
        )
        return response

    response = await app.test_client().get("/")

    assert await response.get_data() == b'{"snakeCase": 1}'
    assert response.headers["Content-Length"] == "16"
    assert response.response == [b'{"snakeCase": 1}']


async def test_a_response_built_on_a_data_body_is_a_bytes_body() -> None:
    app = Microframework(__name__)

    @app.get("/")
    async def index() -> Response:
        return Response(DataBody(b"made"), status=201, headers={"X-Kind": "data"})

    rec = await call(app, http_scope("/"))

    assert rec.status == 201
    assert rec.headers[b"x-kind"] == b"data" and rec.headers[b"content-length"] == b"4"
    assert [m.get("body") for m in rec.sent[1:]] == [b"made"]  # one body message


@pytest.mark.parametrize("position", [0, 5, 15])
async def test_an_io_body_streams_the_whole_buffer_in_chunks_each_time(
    position: int,
) -> None:
    # As Quart's: from the start, wherever the stream stands (a buffer just written
    # and not rewound sent nothing), and again for a second send.
    app = Microframework(__name__)
    stream = io.BytesIO(b"head:" + b"x" * 10)
    stream.seek(position)
    body = IOBody(stream, buffer_size=4)

    @app.get("/")
    async def index() -> Response:
        return Response(body, headers={"Content-Length": str(body.content_length)})

    rec = await call(app, http_scope("/"))
    response = await app.test_client().get("/")

    assert [m.get("body") for m in rec.sent[1:]] == [
        b"head", b":xxx", b"xxxx", b"xxx", b""
    ]  # fmt: skip
    assert response.headers["Content-Length"] == "15"
    assert await response.get_data() == b"head:" + b"x" * 10


async def test_an_iterable_body_takes_an_async_iterable_as_quarts_does() -> None:
    closed: list[bool] = []

    async def chunks() -> AsyncIterator[bytes]:
        try:
            yield b"abc"
            yield "d\u00e9f"
        finally:
            closed.append(True)

    app = Microframework(__name__)

    @app.get("/")
    async def index() -> Response:
        return Response(IterableBody(chunks()))

    rec = await call(app, http_scope("/"))
    assert (rec.status, rec.body, closed) == (200, "abcd\u00e9f".encode(), [True])


async def test_a_file_body_reads_quarts_buffer_size_at_a_time(tmp_path: Any) -> None:
    path = tmp_path / "letters.txt"
    path.write_bytes(b"abcdefgh")
    app = Microframework(__name__)

    @app.get("/")
    async def index() -> Response:
        return Response(FileBody(str(path), buffer_size=3))

    rec = await call(app, http_scope("/"))
    bodies = [m["body"] for m in rec.sent[1:] if m.get("body")]
    assert (rec.status, bodies) == (200, [b"abc", b"def", b"gh"])


def test_a_file_body_refuses_a_buffer_size_below_one(tmp_path: Any) -> None:
    # read(-1) reads to the end: a body of a stated size would send more than it.
    for size in (0, -1):
        with pytest.raises(ValueError, match="buffer_size"):
            FileBody(str(tmp_path / "x"), size=5, buffer_size=size)


async def test_data_and_io_bodies_are_read_as_quart_reads_them() -> None:
    async with DataBody(b"data") as body:
        assert [chunk async for chunk in body] == [b"data"]
    async with IOBody(io.BytesIO(b"a" * 8193)) as body:
        assert [len(chunk) async for chunk in body] == [8192, 1]
