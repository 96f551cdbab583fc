"""``send_signal`` and the signal objects, at unit level with a stub sender."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

import pytest
from blinker import Signal

from microframework import copy_current_request_context
from microframework import g
from microframework import Microframework
from microframework import signals
from microframework import websocket
from microframework.signals import appcontext_popped
from microframework.signals import appcontext_pushed
from microframework.signals import request_finished
from microframework.signals import request_started
from microframework.signals import send_signal
from microframework.signals import websocket_finished
from microframework.signals import websocket_started
from microframework.testing import WebsocketResponseError

ALL_SIGNALS = [
    "request_started",
    "request_finished",
    "request_tearing_down",
    "got_request_exception",
    "websocket_started",
    "websocket_finished",
    "websocket_tearing_down",
    "got_websocket_exception",
    "appcontext_pushed",
    "appcontext_popped",
    "appcontext_tearing_down",
    "template_rendered",
    "before_render_template",
    "message_flashed",
    "websocket_received",
    "websocket_sent",
    "got_background_exception",
    "got_serving_exception",
]


class Sender:
    """Stands in for an app."""


@pytest.mark.parametrize("name", ALL_SIGNALS)
def test_every_listed_signal_exists_and_is_distinct(name: str) -> None:
    signal = getattr(signals, name)
    assert isinstance(signal, Signal)
    others = [getattr(signals, other) for other in ALL_SIGNALS if other != name]
    assert all(signal is not other for other in others)


def test_signal_names_match_flasks_spelling() -> None:
    assert signals.request_started.name == "request-started"
    assert signals.template_rendered.name == "template-rendered"
    assert signals.got_serving_exception.name == "got-serving-exception"


async def test_send_without_receivers_returns_an_empty_list() -> None:
    signal = Signal()
    assert await send_signal(signal, Sender()) == []


async def test_send_without_receivers_never_suspends() -> None:
    # "No cost when nobody listens": the coroutine finishes on its first step.
    coro = send_signal(Signal(), Sender())
    with pytest.raises(StopIteration) as done:
        coro.send(None)
    assert done.value.value == []


async def test_sync_receiver_gets_sender_and_keyword_arguments() -> None:
    signal = Signal()
    sender = Sender()
    calls: list[tuple[Any, dict[str, Any]]] = []

    def receiver(sent_by: Any, **kwargs: Any) -> str:
        calls.append((sent_by, kwargs))
        return "sync"

    signal.connect(receiver)
    results = await send_signal(signal, sender, response="r", exc=None)

    assert calls == [(sender, {"response": "r", "exc": None})]
    assert results == [(receiver, "sync")]


async def test_async_receiver_is_awaited_and_its_result_returned() -> None:
    signal = Signal()
    handshake = asyncio.Event()

    async def receiver(sender: Any, **kwargs: Any) -> str:
        # Suspend for real, so the receiver only finishes if it is awaited.
        loop = asyncio.get_running_loop()
        later = loop.create_future()
        loop.call_soon(later.set_result, None)
        await later
        handshake.set()
        return f"async {kwargs['value']}"

    signal.connect(receiver)
    results = await send_signal(signal, Sender(), value=1)

    assert handshake.is_set()
    assert results == [(receiver, "async 1")]


async def test_mixed_receivers_all_run() -> None:
    signal = Signal()
    seen: list[str] = []

    def sync_receiver(sender: Any) -> None:
        seen.append("sync")

    async def async_receiver(sender: Any) -> None:
        seen.append("async")

    signal.connect(sync_receiver)
    signal.connect(async_receiver)
    await send_signal(signal, Sender())

    assert sorted(seen) == ["async", "sync"]


async def test_receiver_connected_to_another_sender_is_not_called() -> None:
    signal = Signal()
    mine, other = Sender(), Sender()
    calls: list[Any] = []

    def receiver(sender: Any) -> None:
        calls.append(sender)

    signal.connect(receiver, sender=other)
    assert await send_signal(signal, mine) == []
    await send_signal(signal, other)
    assert calls == [other]


async def test_muted_signal_calls_nobody() -> None:
    signal = Signal()
    calls: list[Any] = []

    def receiver(sender: Any) -> None:
        calls.append(sender)

    signal.connect(receiver)
    with signal.muted():
        assert await send_signal(signal, Sender()) == []
    assert calls == []


async def test_receiver_error_propagates_to_the_sender() -> None:
    signal = Signal()

    async def receiver(sender: Any) -> None:
        raise LookupError("boom")

    signal.connect(receiver)
    with pytest.raises(LookupError, match="boom"):
        await send_signal(signal, Sender())


async def test_callable_object_with_async_call_is_awaited() -> None:
    signal = Signal()

    class Receiver:
        async def __call__(self, sender: Any) -> str:
            return "called"

    receiver = Receiver()
    signal.connect(receiver, weak=False)
    assert await send_signal(signal, Sender()) == [(receiver, "called")]


# -- sent by the app (runs once the app sends them) -----------------------------------------

needs_app = pytest.mark.skipif(
    not hasattr(Microframework, "session_interface"),
    reason="the app does not send signals yet (issue 4 integration)",
)


def _recorder(
    events: list[tuple[str, dict[str, Any]]], name: str
) -> Callable[..., None]:
    def receiver(sender: Any, **kwargs: Any) -> None:
        events.append((name, kwargs))

    return receiver


@needs_app
async def test_request_signals_are_sent_in_order(app: Microframework) -> None:
    events: list[tuple[str, dict[str, Any]]] = []
    names = [
        "appcontext_pushed",
        "request_started",
        "request_finished",
        "request_tearing_down",
        "appcontext_tearing_down",
        "appcontext_popped",
    ]
    receivers = [_recorder(events, name) for name in names]

    @app.route("/")
    async def index() -> str:
        events.append(("view", {}))
        return "ok"

    with ExitStack() as stack:
        for name, receiver in zip(names, receivers, strict=True):
            stack.enter_context(getattr(signals, name).connected_to(receiver, app))
        response = await app.test_client().get("/")

    assert [name for name, _ in events] == [
        "appcontext_pushed",
        "request_started",
        "view",
        "request_finished",
        "request_tearing_down",
        "appcontext_tearing_down",
        "appcontext_popped",
    ]
    assert events[3][1]["response"].status_code == response.status_code == 200
    assert events[4][1] == {"exc": None}


@pytest.mark.parametrize("kind", ["request", "websocket"])
async def test_a_failing_teardown_receiver_does_not_stop_teardown(
    app: Microframework, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Extensions release resources in teardown_appcontext: one broken receiver before
    # it must not leak them (Flask's test_robust_teardown).
    ran: list[str] = []

    def broken(sender: Any, **kwargs: Any) -> None:
        raise RuntimeError("receiver failed")

    @app.teardown_appcontext
    def release(exc: BaseException | None) -> None:
        ran.append("teardown_appcontext")

    @app.get("/")
    async def index() -> str:
        return "ok"

    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.accept()

    signal = getattr(signals, f"{kind}_tearing_down")
    with (
        signal.connected_to(broken, app),
        signals.appcontext_tearing_down.connected_to(
            lambda sender, **kw: ran.append("appcontext_tearing_down"), app
        ),
    ):
        client = app.test_client()
        if kind == "request":
            assert (await client.get("/")).status_code == 200
        else:
            async with client.websocket("/ws"):
                pass

    assert ran == ["teardown_appcontext", "appcontext_tearing_down"]
    assert "receiver failed" in caplog.text


@needs_app
async def test_got_request_exception_carries_the_error(app: Microframework) -> None:
    app.testing = False
    seen: list[BaseException] = []

    async def receiver(sender: Any, exception: BaseException) -> None:
        seen.append(exception)

    @app.route("/boom")
    async def boom() -> str:
        raise LookupError("boom")

    with signals.got_request_exception.connected_to(receiver, app):
        assert (await app.test_client().get("/boom")).status_code == 500
    assert len(seen) == 1 and isinstance(seen[0], LookupError)


@pytest.mark.parametrize("fails", ["once", "always"])
async def test_a_failing_request_finished_receiver_gives_the_apps_500(
    app: Microframework, fails: str, caplog: pytest.LogCaptureFixture
) -> None:
    # As Flask's finalize_request: the error is the app's (logged, signalled, its 500
    # handler and after_request run), and a second failure on the 500 is only logged.
    app.testing = False
    calls: list[int] = []
    errors: list[BaseException] = []

    def finished(sender: Any, response: Any) -> None:
        calls.append(response.status_code)
        if fails == "always" or len(calls) == 1:
            raise RuntimeError("receiver failed")

    @app.get("/")
    async def index() -> str:
        return "ok"

    @app.errorhandler(500)
    async def server_error(error: Exception) -> tuple[str, int]:
        return "handled", 500

    @app.after_request
    async def mark(response: Any) -> Any:
        response.headers["X-After"] = "yes"
        return response

    with (
        signals.request_finished.connected_to(finished, app),
        signals.got_request_exception.connected_to(
            lambda sender, exception: errors.append(exception), app
        ),
    ):
        response = await app.test_client().get("/")

    assert response.status_code == 500
    assert await response.get_data(as_text=True) == "handled"
    assert response.headers["X-After"] == "yes"
    assert calls == [200, 500]
    assert [str(error) for error in errors] == ["receiver failed"]
    assert "Exception on request GET /" in caplog.text
    assert ("Request finalizing failed" in caplog.text) is (fails == "always")


async def test_a_failing_request_finished_receiver_propagates_when_testing(
    app: Microframework,
) -> None:
    def finished(sender: Any, response: Any) -> None:
        raise RuntimeError("receiver failed")

    @app.get("/")
    async def index() -> str:
        return "ok"

    with signals.request_finished.connected_to(finished, app):
        with pytest.raises(RuntimeError, match="receiver failed"):
            await app.test_client().get("/")


async def test_a_failing_request_finished_receiver_on_an_errors_500_is_only_logged(
    app: Microframework, caplog: pytest.LogCaptureFixture
) -> None:
    # The 500 already answers an error: as Flask, the receiver's failure is logged,
    # not handled as a second error (signalled, handled and logged twice).
    app.testing = False
    handled: list[str] = []
    errors: list[BaseException] = []

    def finished(sender: Any, response: Any) -> None:
        raise RuntimeError("receiver failed")

    @app.get("/")
    async def index() -> str:
        raise LookupError("the view failed")

    @app.errorhandler(500)
    async def server_error(error: Exception) -> tuple[str, int]:
        handled.append("500")
        return "handled", 500

    with (
        signals.request_finished.connected_to(finished, app),
        signals.got_request_exception.connected_to(
            lambda sender, exception: errors.append(exception), app
        ),
    ):
        response = await app.test_client().get("/")

    assert response.status_code == 500
    assert handled == ["500"]
    assert [str(error) for error in errors] == ["the view failed"]
    assert caplog.text.count("Exception on request GET /") == 1
    assert caplog.text.count("Request finalizing failed") == 1


async def test_an_untrusted_host_sends_request_started_before_request_finished() -> (
    None
):
    # As Flask: a timing pair of receivers turned the 400 into a 500 (signalscfg 1).
    app = Microframework(__name__)
    app.config["TRUSTED_HOSTS"] = ["localhost"]

    @app.route("/")
    async def index() -> str:
        return "ok"

    def started(sender: Microframework, **extra: object) -> None:
        g.t0 = 1.0

    def finished(sender: Microframework, response: object, **extra: object) -> None:
        assert g.t0 == 1.0  # as a timing receiver would read it

    with (
        request_started.connected_to(started, app),
        request_finished.connected_to(finished, app),
    ):
        response = await app.test_client().get("/", headers={"Host": "evil.test"})
    assert response.status_code == 400  # not a 500 from the receiver


async def test_an_untrusted_host_sends_websocket_started_before_websocket_finished() -> (
    None
):
    app = Microframework(__name__)
    app.config["TRUSTED_HOSTS"] = ["localhost"]

    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.accept()

    seen: list[str] = []

    def started(sender: Microframework, **extra: object) -> None:
        seen.append("started")

    def finished(sender: Microframework, **extra: object) -> None:
        seen.append("finished")

    with (
        websocket_started.connected_to(started, app),
        websocket_finished.connected_to(finished, app),
    ):
        with pytest.raises(WebsocketResponseError):
            async with app.test_client().websocket(
                "/ws", headers={"Host": "evil.test"}
            ):
                pass
    assert seen == ["started", "finished"]


async def test_copy_current_request_context_sends_no_appcontext_signals() -> None:
    # Flask 3.1 and Quart send none for the copy, which is not torn down either: a
    # receiver injecting into g ran again for each call (signalscfg 2).
    app = Microframework(__name__)
    seen: list[str] = []

    @app.route("/")
    async def index() -> str:
        @copy_current_request_context
        async def work() -> None:
            seen.append("work")

        await work()
        return "ok"

    def pushed(sender: Microframework, **extra: object) -> None:
        seen.append("pushed")

    def popped(sender: Microframework, **extra: object) -> None:
        seen.append("popped")

    with (
        appcontext_pushed.connected_to(pushed, app),
        appcontext_popped.connected_to(popped, app),
    ):
        await app.test_client().get("/")
    assert seen == ["pushed", "work", "popped"]  # Flask 3.1 and Quart: one pair


async def test_a_first_receiver_connected_by_the_view_hears_that_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Flask and Quart: the first request already hears it (signalscfg 3).
    from microframework import signals

    monkeypatch.setattr(signals.state, "listening", False)  # as in a fresh process
    app = Microframework(__name__)
    seen: list[str] = []

    def finished(sender: Microframework, **extra: object) -> None:
        seen.append("finished")

    @app.route("/")
    async def index() -> str:
        request_finished.connect(finished, app)
        return "ok"

    try:
        await app.test_client().get("/")
    finally:
        request_finished.disconnect(finished)
    assert seen == ["finished"]  # as in Flask and Quart


def test_the_default_config_is_read_only() -> None:
    # As Flask's and Quart's: a change would reach every app (signalscfg 5).
    with pytest.raises(TypeError):
        Microframework.default_config["X"] = 1  # type: ignore[index]
    assert "X" not in Microframework(__name__).config
