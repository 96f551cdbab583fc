"""Pins from session 26's third review: the grace timer a guard arms when the client
of a view whose timeout's cancel was lost leaves (``Guard._again``), and an event
stream's end at the drain sent to a client that is gone."""

from __future__ import annotations

import asyncio
import contextvars
import gc
import weakref
from collections.abc import AsyncIterator
from typing import Any

import pytest
from asgi_harness import call
from asgi_harness import http_scope
from asgi_harness import Recorder

from microframework import has_app_context
from microframework import Microframework
from microframework import request
from microframework.exceptions import ClientDisconnected
from microframework.sse import event_stream


async def test_the_grace_timer_after_a_lost_timeout_cancel_holds_no_context(
    app: Microframework, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Made in the listener's copy of the request's context, the cancelled grace timer
    # kept the request alive in the loop's heap for up to SHUTDOWN_GRACE_PERIOD.
    app.config["RESPONSE_TIMEOUT"] = 0.02
    app.config["SHUTDOWN_GRACE_PERIOD"] = 30
    loop = asyncio.get_running_loop()
    contexts: list[contextvars.Context] = []
    made = loop.call_later

    def recording(delay: float, callback: Any, *args: Any, context: Any = None) -> Any:
        if getattr(callback, "__qualname__", "").startswith(
            "Guard."
        ):  # not the view's sleeps
            contexts.append(contextvars.copy_context() if context is None else context)
        return made(delay, callback, *args, context=context)

    monkeypatch.setattr(loop, "call_later", recording)
    recorder = Recorder()
    kept: list[weakref.ref[Any]] = []

    @app.get("/")
    async def view() -> str:
        kept.append(weakref.ref(request._get_current_object()))
        try:
            await (
                asyncio.Event().wait()
            )  # (a cancelled sleep would keep its own context)
        except asyncio.CancelledError:
            pass  # lost: the guard has fired "timeout"
        recorder.disconnect()
        while len(contexts) < 2:  # the grace timer is armed (bounded: the timeout)
            await asyncio.sleep(0)
        return "late"

    async with asyncio.timeout(2):
        await call(app, http_scope("/"), recorder)
    assert len(contexts) >= 2  # the response timeout's and the grace's
    assert [context.run(has_app_context) for context in contexts] == [False] * len(
        contexts
    )
    gc.collect()
    assert kept[0]() is None


class _Sticky(Recorder):
    """A server's receive(): http.disconnect again once the client has left."""

    gone = False

    async def receive(self) -> dict[str, Any]:
        if self.gone:
            return {"type": "http.disconnect"}
        message = await super().receive()
        self.gone = message["type"] == "http.disconnect"
        return message


async def test_a_watch_resumed_after_the_disconnect_arms_no_second_grace_timer(
    app: Microframework, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Over HTTP/2 the disconnect's cost pauses the read-ahead; a read resumes the
    # watch, which hears a second disconnect: a second grace timer orphaned the first,
    # left live after the response (holding the request for SHUTDOWN_GRACE_PERIOD).
    app.config["RESPONSE_TIMEOUT"] = 0.02
    app.config["SHUTDOWN_GRACE_PERIOD"] = 30
    recorder = _Sticky(b"x" * (65536 - 512 - 200), more_last=True)
    kept: list[weakref.ref[Any]] = []
    armed: list[str] = []
    loop = asyncio.get_running_loop()
    made = loop.call_later

    def recording(delay: float, callback: Any, *args: Any, context: Any = None) -> Any:
        if getattr(callback, "__qualname__", "").startswith("Guard."):
            armed.append(callback.__qualname__)  # the timeout's, then the grace's
        return made(delay, callback, *args, context=context)

    monkeypatch.setattr(loop, "call_later", recording)

    @app.post("/")
    async def view() -> str:
        kept.append(weakref.ref(request._get_current_object()))
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            pass  # lost: the guard has fired "timeout"
        recorder.disconnect()
        while len(armed) < 2:  # heard: the grace timer is armed (bounded: the timeout)
            await asyncio.sleep(0)
        with pytest.raises(ClientDisconnected):
            await request.get_data()  # takes the chunk heard ahead: the watch resumes
        for _ in range(20):  # ...and hears the disconnect again: loop turns, no clock
            await asyncio.sleep(0)
        return "late"

    scope = http_scope("/", "POST")
    scope["http_version"] = "2"
    async with asyncio.timeout(2):
        await call(app, scope, recorder)
    loop = asyncio.get_running_loop()
    live = [h for h in loop._scheduled if not h.cancelled()]  # type: ignore[attr-defined]
    assert not [h for h in live if "Guard" in getattr(h._callback, "__qualname__", "")]
    gc.collect()
    assert kept[0]() is None


class _FailsAtEnd(Recorder):
    async def send(self, message: dict[str, Any]) -> None:
        await super().send(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            raise OSError("the client is gone")


async def test_an_event_streams_end_at_the_drain_to_a_client_gone_is_a_disconnect(
    app: Microframework,
) -> None:
    # stream_body's except OSError doesn't cover _stream_cut's send (it runs in the
    # except CancelledError clause): the OSError reached teardown and the server.
    seen: list[Any] = []

    async def source() -> AsyncIterator[str]:
        yield "first"
        await asyncio.Event().wait()

    @app.route("/")
    async def view() -> Any:
        return event_stream(source(), keep_alive=10)

    @app.teardown_request
    async def teardown(exc: BaseException | None) -> None:
        seen.append(type(exc))

    recorder = _FailsAtEnd()
    task = asyncio.create_task(call(app, http_scope("/"), recorder))
    async with asyncio.timeout(2):
        await recorder.body_sent.wait()
        app.drain.start(1)
        await asyncio.wait({task})
    assert seen == [ClientDisconnected]
    assert task.exception() is None


async def test_the_guards_timers_each_run_in_a_context_of_their_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # One shared empty Context: two event loops in two threads (apps served from
    # threads, test harnesses) entering it at once fail ("already entered"), and a
    # response timeout is lost. Each timer gets a new empty one.
    app = Microframework(__name__)
    app.config["RESPONSE_TIMEOUT"] = 30
    loop = asyncio.get_running_loop()
    contexts: list[contextvars.Context] = []
    call_later = loop.call_later

    def spy(delay: float, callback: Any, *args: Any, **kwargs: Any) -> Any:
        contexts.append(kwargs["context"])
        return call_later(delay, callback, *args, **kwargs)

    @app.route("/")
    async def index() -> str:
        await asyncio.sleep(0)  # suspended: the guard arms its timer
        return "ok"

    monkeypatch.setattr(loop, "call_later", spy)
    client = app.test_client()
    for _ in range(2):
        assert (await client.get("/")).status_code == 200
    assert len(contexts) >= 2 and len({id(c) for c in contexts}) == len(contexts)
    assert not any(len(context) for context in contexts)
