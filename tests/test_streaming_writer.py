"""Writer-style bodies: ``async def body(write)`` with ``async with`` blocks inside."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from collections.abc import Callable
from typing import Any

import pytest
from asgi_harness import call
from asgi_harness import http_scope
from asgi_harness import Recorder

from microframework import Microframework
from microframework import Response

Write = Callable[[Any], Awaitable[None]]


class Resource:
    def __init__(self, log: list[str]) -> None:
        self.log = log

    async def __aenter__(self) -> Resource:
        self.log.append("open")
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.log.append("close")


async def test_writer_body_streams_each_write(app: Microframework) -> None:
    log: list[str] = []

    @app.route("/")
    async def index() -> Any:
        async def body(write: Write) -> None:
            async with Resource(log):
                await write("a")
                await write(b"b")

        return body

    rec = await call(app, http_scope("/"))
    chunks = [(m["body"], m["more_body"]) for m in rec.sent[1:]]
    assert chunks == [(b"a", True), (b"b", True), (b"", False)]
    assert log == ["open", "close"]


async def test_writer_is_cancelled_on_disconnect_and_exits_its_blocks(
    app: Microframework,
) -> None:
    log: list[str] = []
    wrote = asyncio.Event()

    @app.route("/")
    async def index() -> Response:
        async def body(write: Write) -> None:
            async with Resource(log):
                await write("first")
                wrote.set()
                await asyncio.Event().wait()  # never produces again

        return Response(body)

    rec = Recorder()
    task = asyncio.create_task(call(app, http_scope("/"), rec))
    await wrote.wait()
    rec.disconnect()
    await task
    assert log == ["open", "close"]
    assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []


async def test_writer_error_after_start_is_not_a_complete_response(
    app: Microframework,
) -> None:
    app.config["PROPAGATE_EXCEPTIONS"] = True

    @app.route("/")
    async def index() -> Response:
        async def body(write: Write) -> None:
            await write("partial")
            raise RuntimeError("writer failed")

        return Response(body)

    rec = Recorder()
    try:
        await call(app, http_scope("/"), rec)
    except RuntimeError as error:
        assert "writer failed" in str(error)
    else:
        raise AssertionError("the writer's error was swallowed")
    assert all(m.get("more_body", True) for m in rec.sent[1:])


async def test_writer_body_get_data_collects_the_writes() -> None:
    async def body(write: Write) -> None:
        await write("x")
        await write("y")

    assert await Response(body).get_data() == b"xy"


def test_response_timeout_is_validated(app: Microframework) -> None:
    async def view() -> str:
        return "x"

    with pytest.raises(TypeError, match="response_timeout"):
        app.add_url_rule("/a", "a", view, response_timeout="5")
    with pytest.raises(ValueError, match="positive"):
        app.add_url_rule("/b", "b", view, response_timeout=-1)
    app.add_url_rule("/c", "c", view, response_timeout=None)


@pytest.mark.parametrize("cut", ["disconnect", "idle timeout"])
async def test_a_write_in_the_writers_finally_does_not_hold_the_request(
    app: Microframework, cut: str
) -> None:
    # `finally: await write("]")` closes a JSON array: once the body is closed that
    # write waited for a send that never came, and held the request for ever.
    log: list[str] = []
    wrote = asyncio.Event()

    @app.route("/")
    async def index() -> Response:
        async def body(write: Write) -> None:
            await write("[")
            try:
                await write("1")
                wrote.set()
                await asyncio.Event().wait()  # goes quiet
            finally:
                try:
                    await write("]")
                except asyncio.CancelledError as exc:
                    log.append(type(exc).__name__)
                    raise

        response = Response(body)
        if cut == "idle timeout":
            response.timeout = 0.01
        return response

    @app.teardown_request
    def teardown(exc: BaseException | None) -> None:
        log.append(f"teardown {type(exc).__name__}")

    rec = Recorder()
    async with asyncio.timeout(5):
        task = asyncio.create_task(call(app, http_scope("/"), rec))
        if cut == "disconnect":
            await wrote.wait()
            rec.disconnect()
        await task
    torn = "ClientDisconnected" if cut == "disconnect" else "NoneType"
    assert log == ["ClientDisconnected", f"teardown {torn}"]
    assert rec.body == b"[1"
    assert rec.sent[-1]["more_body"] is True  # left unfinished


@pytest.mark.parametrize("writer_swallows", [False, True])
async def test_a_cancel_while_the_writer_is_closed_is_not_swallowed(
    app: Microframework, writer_swallows: bool
) -> None:
    # The server cancels the request (shutting down) while closing the body waits
    # for the writer's finally: the cancel must end the request, not vanish.
    closing = asyncio.Event()

    @app.route("/")
    async def index() -> Response:
        async def body(write: Write) -> None:
            try:
                await write("a")
                await asyncio.Event().wait()
            finally:
                closing.set()
                try:
                    await asyncio.Event().wait()  # a slow cleanup
                except asyncio.CancelledError:
                    if not writer_swallows:
                        raise

        return Response(body)

    rec = Recorder()
    async with asyncio.timeout(5):
        task = asyncio.create_task(call(app, http_scope("/"), rec))
        await rec.body_sent.wait()
        rec.disconnect()
        await closing.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert task.cancelled()
