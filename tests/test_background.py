"""Background tasks: after the response, in an app context, logged, cancellable, drained."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from asgi_harness import call
from asgi_harness import http_scope
from asgi_harness import Recorder
from blinker import NamedSignal

from microframework import copy_current_request_context
from microframework import current_app
from microframework import has_request_context
from microframework import Microframework
from microframework import request
from microframework.signals import appcontext_popped
from microframework.signals import appcontext_pushed
from microframework.signals import got_background_exception


@pytest.mark.parametrize("where", ["view", "app_context", "copy"])
async def test_task_runs_after_the_response_was_sent(
    app: Microframework, where: str
) -> None:
    # Also from a context sharing the request: an app context pushed in the view, or
    # a copy of the request's context (their tasks waited for nothing).
    rec = Recorder()
    observed: list[list[str]] = []
    handles: list[asyncio.Task[Any]] = []

    async def after() -> None:
        observed.append([f"{m['type']}:{m.get('more_body')}" for m in rec.sent])

    @app.route("/")
    async def index() -> str:
        if where == "view":
            handles.append(app.add_background_task(after))
        elif where == "app_context":
            async with app.app_context():
                handles.append(app.add_background_task(after))
        else:

            @copy_current_request_context
            async def copied() -> None:
                handles.append(app.add_background_task(after))

            await copied()
        await asyncio.sleep(0)  # give a task that ignores the gate a chance to run
        return "sent"

    await call(app, http_scope("/"), rec)
    async with asyncio.timeout(5):
        await handles[0]
    assert observed == [["http.response.start:None", "http.response.body:False"]]


@pytest.mark.parametrize(
    "where", ["teardown", "a task outliving the request", "request_context"]
)
async def test_a_task_added_after_the_response_went_out_starts_at_once(
    app: Microframework, where: str
) -> None:
    # Its gate was made after the request had resolved the last one: before, such a
    # task waited until shutdown cancelled it. So did one added in a context pushed
    # by hand for the live request (review9, session 31), whose gate nothing
    # resolved; Quart runs it. (That context is a copy since review11: it starts
    # once the response is out.)
    ran, answered = asyncio.Event(), asyncio.Event()
    outliving: list[asyncio.Task[None]] = []

    async def job() -> None:
        ran.set()

    @app.teardown_request
    async def add_from_teardown(exc: BaseException | None) -> None:
        if where == "teardown":
            app.add_background_task(job)

    @app.route("/")
    async def index() -> str:
        async def later() -> None:
            await answered.wait()  # the client has its response
            app.add_background_task(job)

        if where == "request_context":
            async with app.request_context(request._get_current_object()):  # type: ignore[attr-defined]
                app.add_background_task(job)
        elif where != "teardown":
            outliving.append(asyncio.create_task(later()))
        return "ok"

    assert (await app.test_client().get("/")).status_code == 200
    answered.set()
    async with asyncio.timeout(2):
        await asyncio.gather(*outliving)
        await ran.wait()


async def test_task_gets_an_app_context_but_no_request(app: Microframework) -> None:
    seen: dict[str, Any] = {}

    async def work(value: int, *, label: str) -> str:
        seen["app"] = current_app._get_current_object()  # type: ignore[attr-defined]
        seen["has_request"] = has_request_context()
        try:
            request.path  # noqa: B018 - the access is the test
        except RuntimeError:
            seen["request"] = "unavailable"
        return f"{label}={value}"

    handles: list[asyncio.Task[Any]] = []

    @app.route("/")
    async def index() -> str:
        handles.append(app.add_background_task(work, 3, label="n"))
        return "ok"

    await app.test_client().get("/")
    async with asyncio.timeout(5):
        assert await handles[0] == "n=3"
    assert seen == {"app": app, "has_request": False, "request": "unavailable"}


async def test_sync_function_runs_as_a_background_task(app: Microframework) -> None:
    handles: list[asyncio.Task[Any]] = []

    def work() -> str:
        return str(current_app.name)

    @app.route("/")
    async def index() -> str:
        handles.append(app.add_background_task(work))
        return "ok"

    await app.test_client().get("/")
    async with asyncio.timeout(5):
        assert await handles[0] == app.name


async def test_failed_task_is_logged_and_raises_when_awaited(
    app: Microframework, caplog: pytest.LogCaptureFixture
) -> None:
    handles: list[asyncio.Task[Any]] = []

    async def broken() -> None:
        raise ValueError("background boom")

    @app.route("/")
    async def index() -> str:
        handles.append(app.add_background_task(broken))
        return "ok"

    response = await app.test_client().get("/")
    assert response.status_code == 200  # the response never sees the failure
    async with asyncio.timeout(5):
        await asyncio.wait({handles[0]})
    with pytest.raises(ValueError, match="background boom"):
        await handles[0]
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert [r.getMessage() for r in errors] == ["Background task failed"]
    assert errors[0].exc_info is not None
    assert isinstance(errors[0].exc_info[1], ValueError)
    assert app.background_tasks == set()


@pytest.mark.parametrize("fails", [False, True])
async def test_an_overridden_handle_background_exception_reports_the_failure(
    caplog: pytest.LogCaptureFixture, fails: bool
) -> None:
    # Quart's extension point: apps override it to send errors to their tracker.
    reported: list[BaseException] = []

    class App(Microframework):
        async def handle_background_exception(self, error: Exception) -> None:
            reported.append(error)
            if fails:
                raise RuntimeError("tracker down")

    app = App(__name__)

    async def broken() -> None:
        raise ValueError("background boom")

    async with app.app_context():
        task = app.add_background_task(broken)
        async with asyncio.timeout(5):
            await asyncio.wait({task})
    assert [str(e) for e in reported] == ["background boom"]
    assert isinstance(task.exception(), ValueError)
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert errors == (["handle_background_exception failed"] if fails else [])


async def test_cancelled_task_is_not_logged_as_failed(
    app: Microframework, caplog: pytest.LogCaptureFixture
) -> None:
    started = asyncio.Event()
    cleaned_up = asyncio.Event()

    async def forever() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        finally:
            cleaned_up.set()

    async with app.app_context():
        handle = app.add_background_task(forever)
    await started.wait()
    assert not handle.done()
    handle.cancel()
    with pytest.raises(asyncio.CancelledError):
        await handle
    assert cleaned_up.is_set()
    assert handle.cancelled()
    assert app.background_tasks == set()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_task_added_outside_a_request_starts_at_once(
    app: Microframework,
) -> None:
    async def work() -> str:
        return "done"

    async with app.app_context():
        handle = app.add_background_task(work)
    async with asyncio.timeout(5):
        assert await handle == "done"


async def test_shutdown_waits_for_a_running_task(app: Microframework) -> None:
    finished: list[str] = []

    async def slow() -> None:
        for _ in range(5):
            await asyncio.sleep(0.01)
        finished.append("slow")

    async with app.test_app():
        async with app.app_context():
            handle = app.add_background_task(slow)
    assert finished == ["slow"]
    assert handle.done() and not handle.cancelled()


async def test_shutdown_cancels_a_task_past_the_shutdown_timeout(
    app: Microframework,
) -> None:
    app.config["BACKGROUND_TASK_SHUTDOWN_TIMEOUT"] = 0.01
    started = asyncio.Event()
    saw_cancel: list[bool] = []

    async def stuck() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            saw_cancel.append(True)
            raise

    async with asyncio.timeout(5):
        async with app.test_app():
            async with app.app_context():
                handle = app.add_background_task(stuck)
            await started.wait()
    assert handle.cancelled()
    assert saw_cancel == [True]
    assert app.background_tasks == set()


async def test_shutdown_waits_for_tasks_added_by_requests(app: Microframework) -> None:
    finished: list[str] = []

    async def work() -> None:
        await asyncio.sleep(0.01)
        finished.append("work")

    @app.route("/")
    async def index() -> str:
        _ = app.add_background_task(work)  # shutdown, not the view, waits for it
        return "ok"

    async with app.test_app() as test_app:
        response = await test_app.test_client().get("/")
        assert response.status_code == 200
    assert finished == ["work"]


async def test_a_task_a_streaming_view_adds_starts_as_its_stream_begins(
    app: Microframework,
) -> None:
    # The stream waits for what the task produces; the task waited for the stream's
    # end (as in Quart, it must not: the request hung).
    @app.route("/stream")
    async def stream() -> Any:
        queue: asyncio.Queue[int | None] = asyncio.Queue()

        async def producer() -> None:
            for item in range(3):
                await queue.put(item)
            await queue.put(None)

        app.add_background_task(producer)

        async def body() -> AsyncIterator[bytes]:
            while (item := await queue.get()) is not None:
                yield b"%d\n" % item

        return body(), 200

    async with asyncio.timeout(5):
        response = await app.test_client().get("/stream")
    assert await response.get_data() == b"0\n1\n2\n"


async def test_a_task_the_stream_itself_adds_starts_at_once(
    app: Microframework,
) -> None:
    # Added from the body, not the view: the stream has begun, the task must not wait
    # for its end (an endless event stream would never run it; this one would hang).
    @app.route("/stream")
    async def stream() -> Any:
        async def body() -> AsyncIterator[bytes]:
            produced: asyncio.Queue[bytes] = asyncio.Queue()

            async def produce() -> None:
                await produced.put(b"from the task")

            app.add_background_task(produce)
            yield b"start;"
            yield await produced.get()

        return body()

    async with asyncio.timeout(5):
        response = await app.test_client().get("/stream")
    assert await response.get_data() == b"start;from the task"


async def test_tasks_started_during_shutdown_are_not_left_running(
    app: Microframework,
) -> None:
    # One started by a task shutdown waits for, one by an after_serving function:
    # both outlived the shutdown (neither awaited nor cancelled), as in Quart.
    app.config["BACKGROUND_TASK_SHUTDOWN_TIMEOUT"] = 0
    started: list[asyncio.Task[Any]] = []

    async def forever() -> None:
        started.append(asyncio.current_task())  # type: ignore[arg-type]
        await asyncio.Event().wait()

    async def parent() -> None:
        app.add_background_task(forever)
        await asyncio.Event().wait()

    @app.after_serving
    async def stop() -> None:
        app.add_background_task(forever)

    async with app.test_app():
        app.add_background_task(parent)
        await asyncio.sleep(0)  # parent runs, starting its child
    assert len(started) == 2
    assert all(task.cancelled() for task in started)
    assert not app.background_tasks


@pytest.mark.parametrize("state", ["finished", "stuck"])
async def test_a_task_added_to_the_set_by_hand_does_not_hold_shutdown(
    app: Microframework, state: str
) -> None:
    # quart-tasks adds its own task to app.background_tasks in before_serving. Once
    # done (or cancelled at the timeout) it stayed in the set, and shutdown waited on
    # it again and again, at full CPU, for ever.
    app.config["BACKGROUND_TASK_SHUTDOWN_TIMEOUT"] = 0.01
    tasks: list[asyncio.Task[None]] = []

    async def work() -> None:
        if state == "stuck":
            await asyncio.Event().wait()

    @app.before_serving
    async def start() -> None:
        tasks.append(asyncio.get_running_loop().create_task(work()))
        app.background_tasks.add(tasks[0])

    async with asyncio.timeout(5):
        async with app.test_app():
            if state == "finished":
                await tasks[0]
    assert tasks[0].done()
    assert tasks[0].cancelled() == (state == "stuck")


@pytest.mark.parametrize("where", ["background task", "before_serving"])
async def test_an_overridden_log_exception_gets_their_errors(where: str) -> None:
    # porting.md says the override is honoured; Quart sends both through it, and
    # ours went straight to app.logger (logging, session 31).
    logged: list[BaseException | None] = []

    class App(Microframework):
        def log_exception(self, exc_info: Any) -> None:
            logged.append(exc_info[1])

    app = App(__name__)
    failure = KeyError("k")

    async def fail() -> None:
        raise failure

    if where == "before_serving":
        app.before_serving(fail)
        with pytest.raises(Exception):  # noqa: B017 - startup fails, as it should
            async with app.test_app():
                pass
    else:
        async with app.test_app():
            task = app.add_background_task(fail)
            await asyncio.gather(task, return_exceptions=True)
    assert logged == [failure]


async def test_add_background_task_from_a_plain_def_view_says_where_to_call_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # It runs in a worker thread: "no running event loop" said nothing of the fix
    # (lifespan2 7; Quart fails there too).
    app = Microframework(__name__)

    async def job() -> None:
        pass

    @app.get("/")
    def view() -> str:
        app.add_background_task(job)
        return "ok"

    response = await app.test_client().get("/")
    assert response.status_code == 500
    assert "call it from an 'async def' view or hook" in caplog.text


@pytest.mark.parametrize(
    "signal", [appcontext_pushed, appcontext_popped], ids=["pushed", "popped"]
)
async def test_a_task_whose_app_context_receiver_fails_is_reported(
    app: Microframework, caplog: pytest.LogCaptureFixture, signal: NamedSignal
) -> None:
    # A receiver opening (or closing) a resource for every app context, a database
    # that is down: the task's failure is signalled and logged, as Quart's, not lost.
    ran: list[bool] = []
    reported: list[BaseException] = []

    def database_down(sender: object, **extra: object) -> None:
        raise ConnectionError("database down")

    def on_failure(sender: object, exception: BaseException, **extra: object) -> None:
        reported.append(exception)

    async def job() -> None:
        ran.append(True)

    async with app.app_context():
        with (
            signal.connected_to(database_down, app),
            got_background_exception.connected_to(on_failure, app),
        ):
            task = app.add_background_task(job)
            async with asyncio.timeout(5):
                await asyncio.wait({task})
    assert ran == ([] if signal is appcontext_pushed else [True])
    assert [str(e) for e in reported] == ["database down"]
    assert isinstance(task.exception(), ConnectionError)
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert errors == ["Background task failed"]
