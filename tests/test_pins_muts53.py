"""Pins from mutation testing (helper muts53, session 38): the survivors among the
mutants of ``wrappers/body.py``, ``_drain.py`` and ``_bounded.py``.

Each test kills a mutant that survived the related test files; its first comment names
the code it pins and the mutant id (see /tmp/s38/muts53/REPORT.md).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from asgi_harness import call
from asgi_harness import http_scope

from microframework import Microframework
from microframework import Response

LIMIT = 10


class _StepEscape(BaseException):
    """Not an Exception: what an abandoned step raises must not leave the app either."""


async def test_what_an_abandoned_sync_step_raises_is_ignored_even_a_base_exception() -> (
    None
):
    # wrappers/body.py IterableBody.aclose: `_outlive(..., BaseException)` (B15 ignored
    # Exception only): the client left while a worker thread ran a step; whatever that
    # step then raises is the abandoned body's, not the server's.
    import threading

    from asgi_harness import Recorder

    app = Microframework(__name__)
    in_step = threading.Event()
    release = threading.Event()

    @app.get("/")
    def download() -> Any:
        def chunks() -> Iterator[bytes]:
            yield b"first"
            in_step.set()
            release.wait(LIMIT)
            raise _StepEscape()

        return chunks()

    recorder = Recorder()
    async with asyncio.timeout(LIMIT):
        task = asyncio.create_task(call(app, http_scope("/"), recorder))
        await asyncio.to_thread(in_step.wait, LIMIT)
        recorder.disconnect()
        for _ in range(5):
            await asyncio.sleep(0)  # loop turns: the disconnect cancels the stream
        release.set()
        await task  # nothing escapes the app
    assert recorder.sent[-1].get("more_body") is True


async def test_each_write_returns_once_its_chunk_was_handed_to_the_server() -> None:
    # wrappers/body.py WriterBody.__aiter__: `drained.set()` after the yield (B27 set it
    # before: write() returned once its chunk was taken, before the server's send of it
    # ended, as docs/streaming.md promises). Dropping `drained.clear()` in write() (B23)
    # fails here too: every write() after the first returned at once.
    from asgi_harness import Recorder

    class Slow(Recorder):
        async def send(self, message: dict[str, Any]) -> None:
            for _ in range(3):  # a server's send that takes a few turns of the loop
                await asyncio.sleep(0)
            await super().send(message)

    app = Microframework(__name__)
    recorder = Slow()
    seen: list[list[bytes]] = []

    def bodies() -> list[bytes]:
        return [m["body"] for m in recorder.sent[1:] if m.get("body")]

    @app.get("/")
    async def index() -> Response:
        async def body(write: Any) -> None:
            for chunk in (b"a", b"b", b"c"):
                await write(chunk)
                seen.append(bodies())

        return Response(body)

    async with asyncio.timeout(LIMIT):
        await call(app, http_scope("/"), recorder)
    assert seen == [[b"a"], [b"a", b"b"], [b"a", b"b", b"c"]]


async def test_a_body_both_iterable_and_callable_is_iterated_as_flask_does() -> None:
    # wrappers/body.py make_body: Iterable before callable (B34 swapped them): an
    # object that is iterable and also callable is a body to iterate, as werkzeug's
    # Response iterates it; only a plain callable is a writer.
    class Rows:
        def __iter__(self) -> Iterator[bytes]:
            yield b"a"
            yield b"b"

        def __call__(self, *args: Any) -> None:
            raise AssertionError("called as a writer")

    app = Microframework(__name__)

    @app.get("/")
    async def index() -> Response:
        return Response(Rows())

    async with asyncio.timeout(LIMIT):
        recorder = await call(app, http_scope("/"))
    assert recorder.body == b"ab"


async def test_a_small_http2_body_is_cut_at_its_timeout_not_later_past_the_grace(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # _bounded.py _Bound.hear: `call_later(left, self.cut, ...)` (N8 waited 10 * left):
    # past the grace, what is left of the timeout is waited, no more. (The existing
    # test's timeout 0.05 left 0.04 s, whose tenfold still fit its 0.5 s limit.)
    from microframework import _bounded

    monkeypatch.setattr(_bounded, "ENDING_GRACE", 0.01)
    app = Microframework(__name__)
    app.config["RESPONSE_TIMEOUT"] = 0.1

    @app.route("/")
    async def index() -> bytes:
        return b"x" * 10

    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    inbox.put_nowait({"type": "http.request", "body": b"", "more_body": False})

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body" and not message["more_body"]:
            await asyncio.Event().wait()  # the connection's window stays shut

    async with asyncio.timeout(0.6):  # cut at 0.1 s; the mutant's at 0.91 s
        await app(http_scope("/", http_version="2"), inbox.get, send)
    assert "Response for GET / idle past its timeout; left unfinished" in caplog.text


async def test_after_serving_runs_at_the_deadline_though_a_handler_never_ends() -> None:
    # _drain.py Drain.teardowns: `while self.members and loop.time() < deadline` (D14
    # dropped the deadline): a websocket handler that swallows every cancel stays a
    # drain member for ever; the shutdown still goes on once the grace period is over,
    # or after_serving (and the server's exit) would wait for ever.
    from asgi_harness import websocket_scope

    from microframework import websocket

    app = Microframework(__name__)
    app.config["SHUTDOWN_GRACE_PERIOD"] = 0.05
    log: list[str] = []
    got_hi = asyncio.Event()
    release = asyncio.Event()

    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.accept()
        await websocket.send("hi")
        while not release.is_set():
            try:
                await release.wait()
            except asyncio.CancelledError:
                log.append("cancel swallowed")

    @app.after_serving
    async def close_pool() -> None:
        log.append("after_serving")

    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    inbox.put_nowait({"type": "websocket.connect"})

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "websocket.send":
            got_hi.set()
        elif message["type"] == "websocket.close":
            inbox.put_nowait({"type": "websocket.disconnect", "code": message["code"]})

    async with asyncio.timeout(LIMIT):
        try:
            async with app.test_app():
                task = asyncio.create_task(app(websocket_scope("/ws"), inbox.get, send))
                await got_hi.wait()
            assert "after_serving" in log
        finally:
            release.set()
        await task


async def test_a_small_http2_answer_waiting_as_the_drain_starts_is_sent_whole(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # _bounded.py _Bound.on_drain: `pass` (N10 cut at once): a small answer whose send
    # waits (a shut HTTP/2 window) is on its way: the drain's start leaves it alone,
    # only its deadline cuts it. Sent in the grace period, it goes out whole.
    app = Microframework(__name__)
    app.config["SHUTDOWN_GRACE_PERIOD"] = LIMIT
    app.config["RESPONSE_TIMEOUT"] = LIMIT

    @app.route("/")
    async def index() -> bytes:
        return b"x" * 10

    lifespan: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    said: list[str] = []

    async def lifespan_send(message: dict[str, Any]) -> None:
        said.append(message["type"])

    window = asyncio.Event()
    waiting = asyncio.Event()
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            waiting.set()
            await window.wait()  # the client's window, shut for now
        sent.append(message)

    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    inbox.put_nowait({"type": "http.request", "body": b"", "more_body": False})
    async with asyncio.timeout(LIMIT):
        lifespan.put_nowait({"type": "lifespan.startup"})
        server = asyncio.create_task(
            app(
                {"type": "lifespan", "asgi": {"version": "3.0"}},
                lifespan.get,
                lifespan_send,
            )
        )
        while "lifespan.startup.complete" not in said:
            await asyncio.sleep(0)
        request = asyncio.create_task(
            app(http_scope("/", http_version="2"), inbox.get, send)
        )
        await waiting.wait()
        lifespan.put_nowait({"type": "lifespan.shutdown"})
        await app.shutdown_event.wait()  # the drain began
        for _ in range(5):
            await asyncio.sleep(0)
        window.set()
        await request
        await server
    assert sent[-1] == {
        "type": "http.response.body",
        "body": b"x" * 10,
        "more_body": False,
    }
    assert "left unfinished" not in caplog.text


async def test_a_bounded_sends_watch_gives_the_servers_receive_back_before_teardown(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # _bounded.py bounded_send: `bound.guard.stop(drain, last=True)` (N25: last=False):
    # the body is in and the answer went, so the receive() the watch left pending is
    # closed then, not held for a next watch until the request's very end.
    from microframework import _bounded

    monkeypatch.setattr(_bounded, "ENDING_GRACE", 0.01)
    app = Microframework(__name__)
    app.config["RESPONSE_TIMEOUT"] = LIMIT
    log: list[str] = []

    @app.route("/")
    async def index() -> bytes:
        return b"x" * 10

    @app.teardown_request
    def teardown(error: BaseException | None) -> None:
        log.append("teardown")

    first = True
    watched = asyncio.Event()

    async def receive() -> dict[str, Any]:
        nonlocal first
        if first:
            first = False
            return {"type": "http.request", "body": b"", "more_body": False}
        watched.set()
        try:
            await asyncio.Event().wait()  # no disconnect: the client is there
        finally:
            log.append("receive closed")
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            await watched.wait()  # a shut window, until the watch listens

    async with asyncio.timeout(LIMIT):
        await app(http_scope("/", http_version="2"), receive, send)
    assert log == ["receive closed", "teardown"]
