"""Pins from mutation testing of session 30's changes (helper muts30).

Each test kills a mutant that survived the related test files; its first comment names
the code it pins.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import threading
from pathlib import Path
from typing import Any

import pytest
from asgi_harness import call
from asgi_harness import http_scope
from asgi_harness import Recorder

from microframework import files
from microframework import Microframework
from microframework import send_file
from microframework import send_from_directory
from microframework.views import MethodView

LIMIT = 5


async def test_a_second_background_task_the_view_adds_waits_for_the_response() -> None:
    # _background.py add_background_task: `elif sent is not True: gate = sent` (the
    # gate the first task made is every later task's gate too, until the response went).
    app = Microframework(__name__)
    rec = Recorder()
    observed: list[list[str]] = []
    handles: list[asyncio.Task[Any]] = []

    async def after() -> None:
        observed.append([m["type"] for m in rec.sent])

    @app.route("/")
    async def index() -> str:
        handles.append(app.add_background_task(after))
        handles.append(app.add_background_task(after))
        await asyncio.sleep(0)  # a task that ignores the gate would run now
        return "sent"

    await call(app, http_scope("/"), rec)
    async with asyncio.timeout(LIMIT):
        await asyncio.gather(*handles)
    answered = ["http.response.start", "http.response.body"]
    assert observed == [answered, answered]


async def test_a_path_out_of_an_existing_directory_is_a_404_without_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # files.py _lookup: safe_join refusing the path returns True (the directory is
    # there), not False, which would log that the directory does not exist.
    app = Microframework(__name__)

    @app.route("/get")
    async def download() -> Any:
        return await send_from_directory(str(tmp_path), "../secret.txt")

    with caplog.at_level(logging.WARNING):
        response = await app.test_client().get("/get")
    assert response.status_code == 404
    assert "does not exist" not in caplog.text


async def test_a_file_opened_for_a_request_cancelled_meanwhile_is_closed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # files.py _source_for: `await asyncio.shield(opening)`: a cancel during the open
    # leaves the open running, and _close_opened closes the file once it is open
    # (without the shield the future is cancelled and the file is never closed).
    path = tmp_path / "a.txt"
    path.write_bytes(b"hello")
    opening, release = threading.Event(), threading.Event()
    made: list[Any] = []
    closer_ran, opened = asyncio.Event(), asyncio.Event()
    loop = asyncio.get_running_loop()
    real_open, real_close = files._open_regular, files._close_opened

    def slow_open(name: str) -> Any:
        opening.set()
        release.wait(LIMIT)
        made.append(real_open(name))
        loop.call_soon_threadsafe(opened.set)
        return made[-1]

    def close_opened(done: Any) -> None:
        real_close(done)
        closer_ran.set()

    monkeypatch.setattr(files, "_open_regular", slow_open)
    monkeypatch.setattr(files, "_close_opened", close_opened)
    app = Microframework(__name__)

    @app.route("/")
    async def index() -> Any:
        return await send_file(str(path))

    try:
        async with asyncio.timeout(LIMIT):
            task = asyncio.ensure_future(call(app, http_scope("/")))
            await asyncio.to_thread(opening.wait, LIMIT)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            release.set()
            await opened.wait()
            await closer_ran.wait()
        assert made[0][0].closed
    finally:
        for file, _ in made:
            file.close()  # (no ResourceWarning in a later test when this fails)


async def test_the_drains_late_503_does_not_wait_for_an_unread_http2_upload() -> None:
    # _unread.py drop_body_first: `if drain.expired: return dropper.gone`: the drain's
    # 503 to a view still waiting at the deadline is made past it (on_drain_deadline
    # has fired): the upload's stalled rest is not waited for (BODY_TIMEOUT).
    app = Microframework(__name__)
    app.config["BODY_TIMEOUT"] = LIMIT * 10
    sent: list[Any] = []
    calls = 0

    @app.post("/")
    async def poll() -> str:
        await asyncio.Event().wait()  # the upload left unread
        return "never"

    async def receive() -> dict[str, Any]:
        nonlocal calls
        calls += 1
        if calls == 1:
            return {"type": "http.request", "body": b"x" * 1000, "more_body": True}
        await asyncio.Event().wait()  # the upload stalls, the connection stays open
        return {}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message.get("status", message.get("more_body")))

    scope = http_scope("/", "POST", [(b"content-length", b"30000")], http_version="2")
    async with asyncio.timeout(LIMIT):
        task = asyncio.ensure_future(app(scope, receive, send))  # type: ignore[arg-type]
        app.drain.start(0.01)
        await task
    app.drain.end()
    assert sent == [503, False]
    assert not app.drain.members


async def test_a_view_returning_a_bad_type_is_named_with_its_method_and_place() -> None:
    # _responses.py make_response: the wrong-type message ends with _where (as None's).
    app = Microframework(__name__)
    app.testing = True  # the error propagates

    @app.route("/n")
    async def number() -> Any:
        return 42

    line = number.__code__.co_firstlineno
    with pytest.raises(TypeError) as raised:
        await app.test_client().get("/n")
    assert f"(for GET /n; number() at {__file__}:{line})" in str(raised.value)


async def test_a_decorated_view_returning_none_is_named_by_its_own_place() -> None:
    # _responses.py _where: a functools.wraps decorator's view is named with the
    # function it wraps (either may be the one that dropped the return value).
    app = Microframework(__name__)
    app.testing = True  # the error propagates

    def logged(func: Any) -> Any:
        @functools.wraps(func)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            return await func(*args, **kwargs)

        return wrapper

    async def form() -> Any:
        return None

    app.add_url_rule("/form", view_func=logged(form))
    line = form.__code__.co_firstlineno
    with pytest.raises(TypeError) as raised:
        await app.test_client().get("/form")
    assert f", wrapping form() at {__file__}:{line})" in str(raised.value)
    assert "; wrapper() at " in str(raised.value)


async def test_a_plain_class_is_still_a_view() -> None:
    # scaffold.py check_rule: only a class with as_view is refused (a View without
    # .as_view()); any other callable, a class too, is a view as in Flask.
    app = Microframework(__name__)
    app.add_url_rule("/", "index", view_func=dict)
    response = await app.test_client().get("/")
    assert response.status_code == 200
    assert await response.get_json() == {}


def test_a_view_instance_is_refused_as_not_callable() -> None:
    # scaffold.py check_rule: `isinstance(view_func, type)`: an instance (it has
    # as_view, from its class) is refused as what it is, a TypeError.
    class Greet(MethodView):
        async def get(self) -> str:
            return "hi"

    with pytest.raises(TypeError, match="is a Greet"):
        Microframework(__name__).add_url_rule("/", view_func=Greet())  # type: ignore[arg-type]


async def test_teardown_appcontext_gets_the_first_of_two_after_serving_errors() -> None:
    # _lifespan.py _stop: ctx.pop(errors[0]): the first error, as at startup.
    app = Microframework(__name__)
    torn: list[BaseException | None] = []
    first, second = OSError("first"), OSError("second")

    @app.after_serving
    async def stop_one() -> None:
        raise first

    @app.after_serving
    async def stop_two() -> None:
        raise second

    @app.teardown_appcontext
    async def teardown(error: BaseException | None) -> None:
        torn.append(error)

    await app.startup()
    torn.clear()
    with pytest.raises(OSError):
        await app.shutdown()
    assert torn == [first]


class _Stop(BaseException):
    pass


async def test_teardown_appcontext_gets_a_base_exception_ending_after_serving() -> None:
    # _lifespan.py _stop: `ctx.pop()` when no Exception was collected: teardown gets
    # what is being raised through the finally (a BaseException, not collected).
    app = Microframework(__name__)
    torn: list[BaseException | None] = []

    @app.after_serving
    async def stop() -> None:
        raise _Stop()

    @app.teardown_appcontext
    async def teardown(error: BaseException | None) -> None:
        torn.append(error)

    await app.startup()
    torn.clear()
    with pytest.raises(_Stop):
        await app.shutdown()
    assert len(torn) == 1
    assert isinstance(torn[0], _Stop)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs a FIFO")
async def test_send_file_of_a_fifo_is_refused_without_hanging_its_thread(
    tmp_path: Path,
) -> None:
    # files.py _open_regular: os.O_NONBLOCK: a FIFO (no writer) opens at once and is
    # refused as not a regular file; a blocking open() would hang the thread.
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    app = Microframework(__name__)
    app.testing = True
    try:
        async with asyncio.timeout(1), app.test_request_context("/"):
            with pytest.raises(ValueError, match="not a regular file"):
                await send_file(str(fifo))
    finally:
        with contextlib.suppress(OSError):  # a reader stuck in open(): let it go
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))


async def test_a_drain_starting_during_an_http2_upload_drop_waits_for_it() -> None:
    # _unread.py _DropAll.on_drain: `pass`: the drain's start doesn't end the wait for
    # the upload's rest (only its deadline does): the answer goes once it is in.
    app = Microframework(__name__)
    app.config["BODY_TIMEOUT"] = LIMIT * 10
    sent: list[Any] = []
    calls = 0
    dropping, more = asyncio.Event(), asyncio.Event()
    rest_in = False

    class Members(set):  # type: ignore[type-arg]
        def add(self, member: Any) -> None:
            super().add(member)
            if type(member).__name__ == "_DropAll":
                dropping.set()  # the answer waits for the rest now

    app.drain.members = Members(app.drain.members)

    @app.post("/")
    async def refuse() -> tuple[str, int]:
        await asyncio.sleep(0)  # it awaited: the rest is taken in before answering
        return "too big", 413

    async def receive() -> dict[str, Any]:
        nonlocal calls, rest_in
        calls += 1
        if calls == 1:
            return {"type": "http.request", "body": b"x" * 1000, "more_body": True}
        if calls == 2:
            await more.wait()
            rest_in = True
            return {"type": "http.request", "body": b"x" * 1000, "more_body": False}
        await asyncio.Event().wait()
        return {}

    async def send(message: dict[str, Any]) -> None:
        sent.append((message.get("status", message.get("more_body")), rest_in))

    scope = http_scope("/", "POST", [(b"content-length", b"2000")], http_version="2")
    async with asyncio.timeout(LIMIT):
        task = asyncio.ensure_future(app(scope, receive, send))  # type: ignore[arg-type]
        await dropping.wait()
        app.drain.start(LIMIT * 10)
        more.set()
        await task
    app.drain.end()
    assert sent == [(413, True), (False, True)]


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts /proc/self/fd")
async def test_send_file_of_a_directory_leaves_no_descriptor_open(
    tmp_path: Path,
) -> None:
    # files.py _open_regular: `os.close(fd)` when the path is no regular file.
    app = Microframework(__name__)
    before = len(os.listdir("/proc/self/fd"))
    async with app.test_request_context("/"):
        for _ in range(3):
            with pytest.raises(ValueError, match="not a regular file"):
                await send_file(str(tmp_path))
    assert len(os.listdir("/proc/self/fd")) == before


async def test_over_http1_a_streams_slow_head_is_not_cut_at_the_idle_timeout() -> None:
    # _guard.py stream_body: `send(start) if not sent else _watch(...)`: only over
    # HTTP/2 is the head's send watched; over HTTP/1.1 the server buffers it (a slow
    # one is the server's to finish), and no timer is armed for it.
    app = Microframework(__name__)
    app.config["RESPONSE_TIMEOUT"] = 0.02
    log: list[str] = []
    sent: list[Any] = []

    @app.route("/")
    async def index() -> Any:
        async def body() -> Any:
            yield b"chunk"

        return body()

    @app.teardown_request
    async def teardown(error: BaseException | None) -> None:
        log.append(type(error).__name__)

    async def receive() -> dict[str, Any]:
        await asyncio.Event().wait()  # the client is still there
        return {}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            await asyncio.sleep(0.2)  # a slow write, well past the idle timeout
        sent.append(message.get("status", message.get("body")))

    async with asyncio.timeout(LIMIT):
        await app(http_scope("/"), receive, send)  # type: ignore[arg-type]
    assert log == ["NoneType"]
    assert sent == [200, b"chunk", b""]
