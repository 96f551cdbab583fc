"""A guard's cancel that is lost is made again (redis2's finding 1, session 25).

Python 3.11's ``asyncio.wait_for`` loses a cancel that comes in the loop turn its
awaitable finishes (redis-py wraps its commands in it), and a view or source may
catch ``CancelledError`` and go on. The guard cancelled once: an event stream whose
client left then ran for ever, and a long-poll outlived even its response timeout.
Here the loss is made deterministic: the view or source swallows the first cancel.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from asgi_harness import call
from asgi_harness import http_scope
from asgi_harness import Recorder

from microframework import Microframework
from microframework import Response
from microframework.sse import event_stream

LIMIT = 2  # seconds: forty keep-alive periods, and ten response timeouts


async def _swallowing(seen: list[str], swallow: int, swallowed: asyncio.Event) -> None:
    """Wait for ever, going on after the first *swallow* cancels (then setting
    *swallowed*); the next one ends it."""
    while True:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            seen.append("cancel")
            if len(seen) > swallow:
                raise
            if len(seen) == swallow:
                swallowed.set()


async def _ended(task: asyncio.Task[Any]) -> None:
    """Cancel *task* till it ends: on the base commit a test fails with it running."""
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=0.1)


class _Leaves(Recorder):
    """A client that leaves once it has the response's start and first event."""

    async def send(self, message: dict[str, Any]) -> None:
        await super().send(message)
        if len(self.sent) == 2:
            self.disconnect()


def _stream_app(app: Microframework, seen: list[str], swallow: int) -> asyncio.Event:
    app.config["SHUTDOWN_GRACE_PERIOD"] = 0  # a clean-up's grace: one keep-alive
    swallowed = asyncio.Event()

    async def source() -> AsyncIterator[str]:
        try:
            yield "first"
            await _swallowing(seen, swallow, swallowed)
        finally:
            seen.append("finally")

    @app.route("/events")
    async def events() -> Response:
        return event_stream(source(), keep_alive=0.05)

    return swallowed


async def test_an_event_source_that_swallows_the_disconnects_cancel_still_ends(
    app: Microframework,
) -> None:
    # Its keep-alives were dropped as for nobody, and nothing cancelled it again.
    seen: list[str] = []
    _stream_app(app, seen, swallow=1)
    async with asyncio.timeout(LIMIT):
        recorder = await call(app, http_scope("/events"), _Leaves())
    assert seen == ["cancel", "cancel", "finally"]
    assert recorder.body == b"data: first\n\n"  # no comment for nobody
    task = asyncio.current_task()
    assert task is not None and task.cancelling() == 0  # both cancels undone
    assert asyncio.all_tasks() == {task}


async def test_a_servers_cancel_still_ends_an_event_stream_whose_cancels_were_lost(
    app: Microframework,
) -> None:
    seen: list[str] = []
    swallowed = _stream_app(app, seen, swallow=2)  # ours, and ours again
    task = asyncio.create_task(call(app, http_scope("/events"), _Leaves()))
    try:
        async with asyncio.timeout(LIMIT):
            await swallowed.wait()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
    finally:
        await _ended(task)
    assert seen == ["cancel", "cancel", "cancel", "finally"]


def _poll_app(
    app: Microframework, seen: list[str], swallow: int
) -> tuple[asyncio.Event, asyncio.Event]:
    app.config["RESPONSE_TIMEOUT"] = 0.2
    waiting, swallowed = asyncio.Event(), asyncio.Event()

    @app.get("/poll")
    async def poll() -> str:
        waiting.set()
        try:
            await _swallowing(seen, swallow, swallowed)
        finally:
            seen.append("finally")
        return "never"

    return waiting, swallowed


async def test_a_long_poll_that_swallows_the_disconnects_cancel_ends_at_its_timeout(
    app: Microframework,
) -> None:
    # The response timer fired into a guard that had fired already, and did nothing.
    seen: list[str] = []
    waiting, _ = _poll_app(app, seen, swallow=1)
    recorder = Recorder()
    task = asyncio.create_task(call(app, http_scope("/poll"), recorder))
    try:
        async with asyncio.timeout(LIMIT):
            await waiting.wait()
            recorder.disconnect()
            await asyncio.shield(task)
    finally:
        await _ended(task)
    assert seen == ["cancel", "cancel", "finally"]
    assert recorder.sent == []  # nobody to answer: ClientDisconnected, as before


async def test_a_servers_cancel_still_ends_a_long_poll_whose_cancels_were_lost(
    app: Microframework,
) -> None:
    seen: list[str] = []
    # It swallows the disconnect's cancel and the timer's.
    waiting, swallowed = _poll_app(app, seen, swallow=2)
    recorder = Recorder()
    task = asyncio.create_task(call(app, http_scope("/poll"), recorder))
    try:
        async with asyncio.timeout(LIMIT):
            await waiting.wait()
            recorder.disconnect()
            await swallowed.wait()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
    finally:
        await _ended(task)
    assert seen == ["cancel", "cancel", "cancel", "finally"]


async def test_a_view_that_swallowed_its_timeouts_cancel_ends_once_its_client_left(
    app: Microframework,
) -> None:
    # The timer had fired, so the disconnect was ignored: it ran until the drain's
    # deadline. Now its clean-up gets SHUTDOWN_GRACE_PERIOD (0 here), then a cancel.
    app.config["SHUTDOWN_GRACE_PERIOD"] = 0
    seen: list[str] = []
    _, swallowed = _poll_app(app, seen, swallow=1)
    recorder = Recorder()
    task = asyncio.create_task(call(app, http_scope("/poll"), recorder))
    try:
        async with asyncio.timeout(LIMIT):
            await swallowed.wait()
            recorder.disconnect()
            await asyncio.shield(task)
    finally:
        await _ended(task)
    assert seen == ["cancel", "cancel", "finally"]


async def test_a_view_that_swallows_its_timeouts_cancel_is_answered_at_the_drain(
    app: Microframework,
) -> None:
    # Its client is still there: the timer fires once, and the drain's deadline ends
    # it with the 504 it earned (unchanged by the fix; pinned with it).
    seen: list[str] = []
    _, swallowed = _poll_app(app, seen, swallow=1)
    recorder = Recorder()
    task = asyncio.create_task(call(app, http_scope("/poll"), recorder))
    try:
        async with asyncio.timeout(LIMIT):
            await swallowed.wait()
            app.drain.start(0)
            await asyncio.shield(task)
    finally:
        await _ended(task)
    assert seen == ["cancel", "cancel", "finally"]
    assert recorder.status == 504


async def test_a_view_that_answers_after_swallowing_its_timeout_leaves_no_cancel(
    app: Microframework,
) -> None:
    # Its guard's cancel was never undone: the task's cancel count stayed 1, so the
    # stream's guard took its own disconnect cancel for a server's, and the app raised
    # CancelledError to the server when the client left.
    app.config["RESPONSE_TIMEOUT"] = 0.01

    @app.route("/")
    async def view() -> Any:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            pass  # "give the client what we have"

        async def chunks() -> AsyncIterator[bytes]:
            while True:
                yield b"x"
                await asyncio.Event().wait()

        return chunks()

    async with asyncio.timeout(LIMIT):
        recorder = await call(app, http_scope("/"), _Leaves())
    assert recorder.status == 200  # and no CancelledError raised to the server
    task = asyncio.current_task()
    assert task is not None and task.cancelling() == 0


class _StopsReading(Recorder):
    """A client that stops reading at the second event: a cancel then lands in a
    pending ``send()``, not in the event source."""

    def __init__(self) -> None:
        super().__init__()
        self.stuck = asyncio.Event()

    async def send(self, message: dict[str, Any]) -> None:
        await super().send(message)
        if len(self.sent) >= 3:
            self.stuck.set()
            await asyncio.Event().wait()


class _SendFails(Recorder):
    """A server whose ``send()`` raises once its client is gone (at the third)."""

    async def send(self, message: dict[str, Any]) -> None:
        await super().send(message)
        if len(self.sent) >= 3:
            raise OSError("the client is gone")


@pytest.mark.parametrize("how", ["leaves", "stays", "send_fails"])
async def test_a_clean_up_after_a_pending_send_is_cut_at_the_drains_deadline(
    app: Microframework, how: str
) -> None:
    # The source's clean-up then ran as the stream closed it, once the guard had
    # stopped: the drain's deadline never cut it, and a server waiting for the
    # request (uvicorn without a graceful timeout) never exited. Staying, the
    # stream's last send waits past the deadline: the clean-up comes after it.
    seen: list[str] = []
    cleaning = asyncio.Event()

    async def source() -> AsyncIterator[str]:
        try:
            yield "first"
            yield "second"
            await asyncio.Event().wait()
        finally:
            seen.append("clean-up")
            cleaning.set()
            try:
                await asyncio.Event().wait()  # a clean-up that never ends
            except asyncio.CancelledError:
                seen.append("cut")
                raise

    @app.route("/events")
    async def events() -> Response:
        return event_stream(source())

    stops = _StopsReading()
    recorder = _SendFails() if how == "send_fails" else stops
    task = asyncio.create_task(call(app, http_scope("/events"), recorder))
    try:
        async with asyncio.timeout(LIMIT):
            if how == "leaves":
                await stops.stuck.wait()
                recorder.disconnect()
            await (stops.stuck if how == "stays" else cleaning).wait()
            app.drain.start(0)
            await asyncio.wait({task})
    finally:
        await _ended(task)
    assert seen == ["clean-up", "cut"]
    assert not task.cancelled() and task.exception() is None


async def test_a_stream_closed_after_the_drains_deadline_leaves_no_cancel_behind(
    app: Microframework,
) -> None:
    # Its close asked the deadline to cancel the clean-up (deferred: from inside the
    # task); one that never paused left that cancel to land in teardown.
    app.config["SHUTDOWN_GRACE_PERIOD"] = 0
    seen: list[str] = []

    async def chunks() -> AsyncIterator[bytes]:
        yield b"first"
        await asyncio.Event().wait()  # cut here by the drain's deadline

    @app.route("/")
    async def view() -> Response:
        return Response(chunks())

    @app.teardown_request
    async def teardown(exc: BaseException | None) -> None:
        await asyncio.sleep(0)  # closing a database session, say
        seen.append("torn down")

    recorder = Recorder()
    task = asyncio.create_task(call(app, http_scope("/"), recorder))
    async with asyncio.timeout(LIMIT):
        await recorder.body_sent.wait()
        app.drain.start(0)
        await asyncio.wait({task})
    assert seen == ["torn down"]
    assert not task.cancelled() and task.exception() is None


class _LeavesInSend(Recorder):
    """Leaves while the send of *chunk* waits."""

    def __init__(self, chunk: bytes) -> None:
        super().__init__()
        self.chunk = chunk

    async def send(self, message: dict[str, Any]) -> None:
        await super().send(message)
        if message.get("body") == self.chunk:
            self.disconnect()
            await asyncio.sleep(0.05)


async def test_the_grace_after_a_lost_timeout_cancel_outlives_no_stream(
    app: Microframework,
) -> None:
    # The re-arm went into _timer; the next step's arm overwrote it, and the grace
    # timer cancelled the task after the stream, in teardown.
    app.config["RESPONSE_TIMEOUT"] = 0.05
    app.config["SHUTDOWN_GRACE_PERIOD"] = 0.2
    seen: list[str] = []

    async def chunks() -> AsyncIterator[bytes]:
        yield b"first"
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            seen.append("lost")
        yield b"second"
        await asyncio.sleep(0)
        yield b"third"

    @app.route("/")
    async def view() -> Response:
        return Response(chunks())

    @app.teardown_request
    async def teardown(exc: BaseException | None) -> None:
        await asyncio.sleep(0.4)
        seen.append("torn down")

    task = asyncio.create_task(call(app, http_scope("/"), _LeavesInSend(b"second")))
    async with asyncio.timeout(2):
        await asyncio.wait({task})
    assert seen == ["lost", "torn down"]
    assert not task.cancelled() and task.cancelling() == 0


async def test_a_stream_whose_timeout_cancel_was_lost_ends_a_grace_after_its_client_left(
    app: Microframework,
) -> None:
    # Its client left during a step, whose disarm dropped the grace's timer: the
    # source ran on for nobody.
    app.config["RESPONSE_TIMEOUT"] = 0.05
    app.config["SHUTDOWN_GRACE_PERIOD"] = 0.2
    seen: list[str] = []
    made = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal made
        yield b"first"
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            seen.append("lost")
        recorder.disconnect()  # heard during this step: its disarm dropped the grace
        await asyncio.sleep(0.01)
        yield b"second"
        try:
            for _ in range(100):  # chunks faster than the timeout, for nobody
                await asyncio.sleep(0.01)
                made += 1
                yield b"tick"
        except asyncio.CancelledError:
            seen.append("cancelled again")
            raise

    @app.route("/")
    async def view() -> Response:
        return Response(chunks())

    recorder = Recorder()
    task = asyncio.create_task(call(app, http_scope("/"), recorder))
    async with asyncio.timeout(3):
        await asyncio.wait({task})
    assert seen == ["lost", "cancelled again"]
    assert made < 50
    assert not task.cancelled() and task.cancelling() == 0


async def test_a_fire_deferred_as_the_stream_closes_still_cuts_the_clean_up(
    app: Microframework,
) -> None:
    # stop() cancelled the pending in-task fire but left _deferred set: _closing's
    # on_drain_deadline then made none, and the clean-up ran past the deadline.
    app.config["SHUTDOWN_GRACE_PERIOD"] = 0
    seen: list[str] = []

    class Client(Recorder):
        async def send(self, message: dict[str, Any]) -> None:
            await super().send(message)
            if len(self.sent) == 2:
                self.disconnect()
            if b"third" in message.get("body", b""):
                raise OSError("gone")

    async def source() -> AsyncIterator[str]:
        try:
            yield "first"
            for _ in range(2):  # the disconnect's cancel, then the deadline's
                try:
                    await asyncio.Event().wait()
                except asyncio.CancelledError:
                    seen.append("lost")
                    if len(seen) == 1:
                        app.drain.start(0)
            yield "second"  # starts the grace (0 s)
            yield "third"  # past it: a fire from inside the task, deferred
        finally:
            try:
                await asyncio.sleep(1)
                seen.append("clean-up ran on")
            except asyncio.CancelledError:
                seen.append("clean-up cut")
                raise

    @app.route("/events")
    async def view() -> Any:
        return event_stream(source())

    task = asyncio.create_task(call(app, http_scope("/events"), Client()))
    async with asyncio.timeout(3):
        await asyncio.wait({task})
    assert seen == ["lost", "lost", "clean-up cut"]
    assert task.cancelling() == 0
