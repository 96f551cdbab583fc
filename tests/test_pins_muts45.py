"""Pins from mutation testing (helper muts45, session 37): the survivors among the
mutants of files.py and sse.py.

Each test kills a mutant that survived the related test files; its first comment names
the code it pins and the mutant id (see /tmp/s37/muts45/REPORT.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from pathlib import Path
from typing import Any

import pytest
from asgi_harness import call
from asgi_harness import http_scope
from werkzeug.exceptions import NotFound

from microframework import files
from microframework import Microframework
from microframework import send_file
from microframework import send_from_directory
from microframework.helpers import safe_join
from microframework.sse import event_stream
from microframework.sse import ServerSentEvent

LIMIT = 5


def test_safe_join_under_a_directory_no_path_can_name_is_none(tmp_path: Path) -> None:
    # files.safe_join: `except (UnicodeEncodeError, ValueError)` around realpath
    # (mutant F08 dropped ValueError): a directory with a NUL (a bad config value) is
    # "no such file", a 404 from send_from_directory, not a ValueError and a 500.
    assert safe_join(f"{tmp_path}\x00", "a.txt") is None
    assert safe_join(f"{tmp_path}/\ud800", "a.txt") is None


def test_safe_join_takes_a_non_ascii_letter_before_a_colon(tmp_path: Path) -> None:
    # files._is_windows_name: `segment[1] == ":" and segment[0].isascii()` (mutant F11
    # dropped the isascii): only an ASCII letter is a drive; "é:notes.txt" is a name.
    assert safe_join(tmp_path, "é:notes.txt") == f"{tmp_path}/é:notes.txt"
    assert safe_join(tmp_path, "c:notes.txt") is None


def test_an_sse_retry_is_sent_as_whole_milliseconds() -> None:
    # sse.ServerSentEvent.encode: `f"retry: {int(self.retry)}"` (mutant S05 sent it as
    # given): the field must be digits only, or EventSource ignores it.
    assert ServerSentEvent("x", retry=2500.0).encode() == b"retry: 2500\ndata: x\n\n"  # type: ignore[arg-type]


async def test_missing_directories_are_logged_at_most_a_hundred_times(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # files._no_directory: `len(_told) < 100` (mutant F26 dropped it): an app that
    # builds its directory from the request (one per user) cannot grow the set of
    # directories told, nor the log, without bound. (A fresh set: the one warning per
    # directory is test_files.py's, whatever ran before.)
    monkeypatch.setattr(files, "_told", set())
    app = Microframework(__name__)
    with caplog.at_level(logging.WARNING):
        async with app.app_context():
            for index in range(105):
                with pytest.raises(NotFound):
                    await send_from_directory(tmp_path / f"missing{index}", "a.txt")
    told = [r for r in caplog.records if "does not exist" in r.getMessage()]
    assert len(told) == 100


async def test_an_open_that_fails_after_its_request_was_cancelled_is_quiet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # files._close_opened: `not done.cancelled() and done.exception() is None` (mutant
    # F45 dropped the exception test): the file a cancelled request was opening is
    # closed once open; an open that failed meanwhile (the file removed) has nothing to
    # close, and its error must not escape the done callback (the loop's "Exception in
    # callback" log).
    opening, release = threading.Event(), threading.Event()
    closer_ran = asyncio.Event()
    escaped: list[BaseException] = []
    real_close = files._close_opened

    def slow_open(name: str) -> Any:
        opening.set()
        release.wait(LIMIT)
        raise FileNotFoundError(name)

    def close_opened(done: Any) -> None:
        try:
            real_close(done)
        except BaseException as exc:
            escaped.append(exc)
        finally:
            closer_ran.set()

    monkeypatch.setattr(files, "_open_regular", slow_open)
    monkeypatch.setattr(files, "_close_opened", close_opened)
    app = Microframework(__name__)

    @app.route("/")
    async def index() -> Any:
        return await send_file(str(tmp_path / "gone.txt"))

    async with asyncio.timeout(LIMIT):
        task = asyncio.ensure_future(call(app, http_scope("/")))
        await asyncio.to_thread(opening.wait, LIMIT)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        release.set()
        await closer_ran.wait()
    assert escaped == []


async def test_a_keep_alive_timer_and_the_source_waking_together_log_nothing() -> None:
    # sse._wake: `if not woken.done()` (mutant S47 dropped it): the keep-alive deadline
    # and the awaited future can both come due in one loop turn; the second wake must
    # not raise InvalidStateError in a callback (the loop's "Exception in callback").
    # (_within directly: through event_stream that turn is a matter of timing.)
    from microframework import sse

    loop = asyncio.get_running_loop()
    contexts: list[dict[str, Any]] = []
    handler = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: contexts.append(context))
    try:
        future = loop.create_future()
        loop.call_soon(future.set_result, None)
        await sse._within(future, 0)
        for _ in range(3):
            await asyncio.sleep(0)
    finally:
        loop.set_exception_handler(handler)
    assert contexts == []


class _CountedFuture(asyncio.Future[str]):
    """A future that counts the done callbacks it holds."""

    held = 0

    def add_done_callback(self, fn: Any, *, context: Any = None) -> None:
        self.held += 1
        super().add_done_callback(fn, context=context)

    def remove_done_callback(self, fn: Any) -> int:
        removed = super().remove_done_callback(fn)
        self.held -= removed
        return removed


async def test_a_long_quiet_spell_leaves_no_callbacks_on_the_awaited_future() -> None:
    # sse._within: `future.remove_done_callback(wake)` in its finally (mutant S46
    # dropped it): each keep-alive period added a callback to what the source awaits,
    # never removed: a stream idle for a day held thousands, each with its own future.
    app = Microframework(__name__)
    awaited: list[_CountedFuture] = []

    async def source() -> Any:
        awaited.append(_CountedFuture())
        yield await awaited[0]

    @app.route("/events")
    async def events() -> Any:
        response = event_stream(source(), keep_alive=0.01)
        response.timeout = None
        return response

    async with app.test_client().request("/events") as connection:
        await connection.send_complete()
        received = b""
        async with asyncio.timeout(LIMIT):
            while received.count(b": keep-alive") < 4:
                received += await connection.receive()
        assert awaited[0].held <= 1
        awaited[0].set_result("done")
        async with asyncio.timeout(LIMIT):
            while b"data: done" not in received:
                received += await connection.receive()


async def test_the_keep_alive_timer_of_each_wait_is_cancelled_when_it_ends(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # sse._within: `timer.cancel()` in its finally (mutant S45 dropped it): a busy
    # stream (events awaited many times a keep-alive period) left one live timer per
    # wait in the loop's heap, each for a whole keep_alive (15 s by default).
    app = Microframework(__name__)
    loop = asyncio.get_running_loop()
    timers: list[asyncio.TimerHandle] = []
    real_call_later = loop.call_later

    def call_later(*args: Any, **kwargs: Any) -> asyncio.TimerHandle:
        handle = real_call_later(*args, **kwargs)
        if "_wake" in repr(handle):
            timers.append(handle)
        return handle

    monkeypatch.setattr(loop, "call_later", call_later)

    async def source() -> Any:
        for index in range(5):
            await asyncio.sleep(0.001)  # a future awaited: a wait with its timer
            yield str(index)

    @app.route("/events")
    async def events() -> Any:
        return event_stream(source(), keep_alive=30)

    async with asyncio.timeout(LIMIT):
        response = await app.test_client().get("/events")
        assert (await response.get_data()).count(b"data: ") == 5
    assert len(timers) >= 5
    assert all(timer.cancelled() for timer in timers)
