"""Pins from mutation testing the body-reading half of the request wrapper (s21)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from asgi_harness import call
from asgi_harness import http_scope
from asgi_harness import Recorder
from werkzeug.exceptions import RequestTimeout

from microframework import Microframework
from microframework import request


async def test_an_empty_cached_body_iterates_as_no_chunk(app: Microframework) -> None:
    # B01: a body read already (and empty) yielded one b"" chunk when iterated.
    @app.post("/")
    async def index() -> str:
        await request.get_data()
        return repr([chunk async for chunk in request.body])

    rec = await call(app, http_scope("/", "POST"), Recorder(b""))
    assert rec.body == b"[]"


async def test_a_body_iterated_whole_leaves_the_response_timeout_to_answer(
    app: Microframework,
) -> None:
    # B06: the body's deadline outlived its read, so a view that then waited got
    # its 504 only once BODY_TIMEOUT had passed, not at RESPONSE_TIMEOUT.
    app.config["BODY_TIMEOUT"] = 30
    app.config["RESPONSE_TIMEOUT"] = 0.01

    @app.post("/")
    async def index() -> str:
        async for _chunk in request.body:
            pass
        await asyncio.Event().wait()
        return "never"

    async with asyncio.timeout(5):
        rec = await call(app, http_scope("/", "POST"), Recorder(b"ab", b"cd"))
    assert rec.status == 504


async def test_a_body_timeout_of_zero_is_no_time_not_no_limit(
    app: Microframework,
) -> None:
    # B11: BODY_TIMEOUT = 0 read as falsy turned the limit off (docs: only None does).
    app.config["BODY_TIMEOUT"] = 0

    @app.post("/")
    async def index() -> bytes:
        return await request.get_data()

    rec = Recorder(b"head", more_last=True)  # the rest never comes
    async with asyncio.timeout(5):
        await call(app, http_scope("/", "POST"), rec)
    assert rec.status == 408


async def test_a_body_message_without_more_body_is_the_last(
    app: Microframework,
) -> None:
    # B14: ASGI's more_body defaults to False; read as True, the read waited for ever.
    @app.post("/")
    async def index() -> bytes:
        return await request.get_data()

    rec = Recorder()
    rec.inbox = asyncio.Queue()
    rec.inbox.put_nowait({"type": "http.request", "body": b"whole"})
    async with asyncio.timeout(5):
        await call(app, http_scope("/", "POST"), rec)
    assert rec.status == 200 and rec.body == b"whole"


class _Drained(Recorder):
    """Sets ``drained`` when receive() is called with nothing left to give."""

    def __init__(self, *bodies: bytes) -> None:
        super().__init__(*bodies)
        self.drained = asyncio.Event()

    async def receive(self) -> dict[str, Any]:
        if self.inbox.empty():
            self.drained.set()
        return await super().receive()


async def test_parts_read_ahead_and_joined_are_iterated_as_bytes(
    app: Microframework,
) -> None:
    # B21: parts the watch joined while the view waited came out as a bytearray.
    go = asyncio.Event()

    @app.post("/")
    async def index() -> str:
        await go.wait()
        chunks = [chunk async for chunk in request.body]
        assert b"".join(chunks) == b"abcdef"
        return ",".join(type(chunk).__name__ for chunk in chunks)

    rec = _Drained(b"ab", b"cd", b"ef")
    scope = http_scope("/", "POST", [(b"content-length", b"6")])
    task = asyncio.create_task(call(app, scope, rec))
    async with asyncio.timeout(5):
        await rec.drained.wait()  # the watch read all of it ahead
        go.set()
        await task
    assert rec.status == 200
    assert set(rec.body.split(b",")) == {b"bytes"}


async def test_a_big_body_heard_whole_still_lets_the_client_leave_be_heard(
    app: Microframework,
) -> None:
    # B25: with all of a body past BUFFERED kept, the watch paused as if more were
    # coming, and the client leaving no longer ended the waiting view.
    started, ended = asyncio.Event(), asyncio.Event()

    @app.post("/")
    async def index() -> str:
        try:
            started.set()
            await asyncio.Event().wait()
        finally:
            ended.set()
        return "never"

    size = 70_000
    rec = Recorder(b"x" * size)
    scope = http_scope("/", "POST", [(b"content-length", str(size).encode())])
    task = asyncio.create_task(call(app, scope, rec))
    try:
        async with asyncio.timeout(5):
            await started.wait()
            rec.disconnect()
            await ended.wait()
            await task
    finally:
        task.cancel()
        await asyncio.wait({task})


async def test_an_empty_body_expecting_100_continue_still_hears_the_client_leave(
    app: Microframework,
) -> None:
    # B34: Content-Length: 0 counted as a body to come; with Expect: 100-continue
    # the watch then waited for a read, and the client leaving went unheard.
    started, ended = asyncio.Event(), asyncio.Event()

    @app.post("/")
    async def index() -> str:
        try:
            started.set()
            await asyncio.Event().wait()
        finally:
            ended.set()
        return "never"

    rec = Recorder(b"")
    headers = [(b"content-length", b"0"), (b"expect", b"100-continue")]
    task = asyncio.create_task(call(app, http_scope("/", "POST", headers), rec))
    try:
        async with asyncio.timeout(5):
            await started.wait()
            rec.disconnect()
            await ended.wait()
            await task
    finally:
        task.cancel()
        await asyncio.wait({task})


async def test_a_bytearray_body_from_the_server_is_read_as_bytes(
    app: Microframework,
) -> None:
    # B48: a server's one bytearray message came back from get_data() as it was.
    @app.post("/")
    async def index() -> str:
        return type(await request.get_data()).__name__

    rec = Recorder()
    rec.inbox = asyncio.Queue()
    message = {"type": "http.request", "body": bytearray(b"ab"), "more_body": False}
    rec.inbox.put_nowait(message)
    await call(app, http_scope("/", "POST"), rec)
    assert rec.body == b"bytes"


_PART = b"x" * 16384


class _SocketServer:
    """hypercorn's way with a body (a queue of ten messages to the app, ended by
    putting http.disconnect into it), whose send yields as a socket write does."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=10)
        self.rec = Recorder()
        for _ in range(10):  # full, as by the time an app reads
            self.queue.put_nowait({"type": "http.request", "body": _PART, "more_body": True})  # fmt: skip

    async def feed(self) -> None:
        for index in range(30):
            part = {"type": "http.request", "body": _PART, "more_body": index < 29}
            await self.queue.put(part)

    async def send(self, message: dict[str, Any]) -> None:
        await self.rec.send(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            await asyncio.sleep(0)  # the write: the server reads on meanwhile
            await self.queue.put({"type": "http.disconnect"})

    async def run(self, app: Microframework) -> Recorder:
        feeding = asyncio.create_task(self.feed())
        scope = http_scope("/", "POST", [(b"transfer-encoding", b"chunked")])
        try:
            async with asyncio.timeout(5):
                await app(scope, self.queue.get, self.send)
        finally:
            feeding.cancel()
            await asyncio.wait({feeding})
        return self.rec


@pytest.mark.parametrize("read", ["get_data", "iterate"])
async def test_a_413_read_drops_the_rest_before_the_response_end(
    app: Microframework, read: str
) -> None:
    # B05, B49: a read over MAX_CONTENT_LENGTH that never waited (no watch began)
    # left the rest queued, and the 413's last send waited for room for ever.
    app.config["MAX_CONTENT_LENGTH"] = 100_000

    @app.post("/")
    async def index() -> str:
        if read == "get_data":
            await request.get_data()
        else:
            async for _chunk in request.body:
                pass
        return "unreachable"

    rec = await _SocketServer().run(app)
    assert rec.status == 413


async def test_a_cancelled_sharing_read_leaves_the_first_read_whole(
    app: Microframework,
) -> None:
    # B53: the read sharing another's awaited its future unshielded: cancelling it
    # cancelled the future, and the first read then failed to hand its result over.
    outcomes: list[BaseException | bytes] = []

    @app.post("/")
    async def index() -> str:
        first = asyncio.ensure_future(request.get_data())
        second = asyncio.ensure_future(request.get_data())
        await rec.receiving.wait()
        second.cancel()
        rec.inbox.put_nowait({"type": "http.request", "body": b"b", "more_body": False})
        outcomes.extend(await asyncio.gather(first, second, return_exceptions=True))
        return "ok"

    rec = Recorder(b"a=", more_last=True)
    scope = http_scope("/", "POST", [(b"transfer-encoding", b"chunked")])
    async with asyncio.timeout(5):
        await call(app, scope, rec)
    assert outcomes[0] == b"a=b"
    assert isinstance(outcomes[1], asyncio.CancelledError)


async def test_a_body_timeout_leaves_its_task_uncancelled(app: Microframework) -> None:
    # B58: the 408 kept the cancel its timer made counted on the task, so a view
    # that handled it saw its task as still being cancelled (asyncio.timeout and
    # TaskGroup then misread their own cancels).
    app.config["BODY_TIMEOUT"] = 0.01

    @app.post("/")
    async def index() -> str:
        try:
            await request.get_data()
        except RequestTimeout:
            task = asyncio.current_task()
            assert task is not None
            return f"cancelling={task.cancelling()}"
        return "read"

    rec = Recorder(b"head", more_last=True)
    async with asyncio.timeout(5):
        await call(app, http_scope("/", "POST"), rec)
    assert rec.body == b"cancelling=0"


async def test_a_read_waiting_as_the_response_ends_still_gets_the_rest(
    app: Microframework,
) -> None:
    # B61: the body was dropped at the response's end though a read (a task the
    # view started) waited for it: the read then heard the client gone.
    reads: list[asyncio.Future[bytes]] = []

    @app.post("/")
    async def index() -> str:
        reads.append(asyncio.ensure_future(request.get_data()))
        await rec.receiving.wait()  # the task's read waits for the next part
        return "ok"

    class _Writing(Recorder):
        async def send(self, message: dict[str, Any]) -> None:
            await super().send(message)
            if message["type"] == "http.response.body":
                await asyncio.sleep(0)  # the write: the last send waits

    rec = _Writing(b"a", more_last=True)
    scope = http_scope("/", "POST", [(b"transfer-encoding", b"chunked")])
    async with asyncio.timeout(5):
        await call(app, scope, rec)
        rec.inbox.put_nowait({"type": "http.request", "body": b"b", "more_body": True})
        rec.inbox.put_nowait({"type": "http.request", "body": b"c", "more_body": False})
        assert await reads[0] == b"abc"
