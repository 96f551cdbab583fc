"""Pins from mutation testing the lifespan, background tasks, drain, config, views, flashing
and static modules (s21 lifemut): each fails with one surviving mutant (PROOF.txt)."""

from __future__ import annotations

import asyncio
import functools
import gc
import os
import signal
import threading
import time
import warnings
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from asgi_harness import call
from asgi_harness import http_scope

from microframework import Blueprint
from microframework import Config
from microframework import got_background_exception
from microframework import Microframework
from microframework import Response
from microframework import websocket
from microframework.flashing import flash
from microframework.flashing import get_flashed_messages
from microframework.sessions import SecureCookieSession
from microframework.signals import message_flashed
from microframework.testing import LifespanError
from microframework.views import MethodView
from microframework.views import View

LIMIT = 10


# -- lifespan -----------------------------------------------------------------------------


async def test_before_serving_functions_run_in_registration_order(
    app: Microframework,
) -> None:
    ran: list[str] = []

    @app.before_serving
    async def first() -> None:
        ran.append("first")

    @app.before_serving
    def second() -> None:
        ran.append("second")

    async with asyncio.timeout(LIMIT), app.test_app():
        assert ran == ["first", "second"]


async def test_while_serving_generators_finish_in_reverse_order(
    app: Microframework,
) -> None:
    ran: list[str] = []

    @app.while_serving
    async def outer() -> Any:
        ran.append("outer up")
        yield
        ran.append("outer down")

    @app.while_serving
    async def inner() -> Any:
        ran.append("inner up")
        yield
        ran.append("inner down")

    async with asyncio.timeout(LIMIT):
        async with app.test_app():
            pass
    assert ran == ["outer up", "inner up", "inner down", "outer down"]


async def test_a_while_serving_generator_that_yields_twice_fails_shutdown(
    app: Microframework,
) -> None:
    # docs/lifespan.md: "If it yields a second time, shutdown fails with a RuntimeError".
    @app.while_serving
    async def twice() -> Any:
        yield
        yield

    await app.startup()
    with pytest.raises(RuntimeError, match="yielded more than once"):
        await app.shutdown()


def test_a_failed_startup_gives_the_server_its_signal_handlers_back() -> None:
    app = Microframework(__name__)

    def server_handler(signum: int, frame: Any) -> None:
        pass

    @app.before_serving
    async def fail() -> None:
        raise OSError("no database")

    async def serve() -> None:
        async with asyncio.timeout(LIMIT):
            with pytest.raises(LifespanError, match="no database"):
                async with app.test_app():
                    pass

    previous = signal.signal(signal.SIGTERM, server_handler)
    try:
        asyncio.run(serve())
        assert signal.getsignal(signal.SIGTERM) is server_handler
    finally:
        signal.signal(signal.SIGTERM, previous)


async def test_an_unknown_lifespan_message_is_ignored(app: Microframework) -> None:
    sent: list[str] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message["type"])

    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    for kind in ("lifespan.startup", "lifespan.something.new", "lifespan.shutdown"):
        inbox.put_nowait({"type": kind})
    async with asyncio.timeout(LIMIT):
        await app({"type": "lifespan", "asgi": {"version": "3.0"}}, inbox.get, send)
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]


# -- background tasks ---------------------------------------------------------------------


async def test_every_task_a_view_adds_runs_after_the_response(
    app: Microframework,
) -> None:
    ran: list[str] = []
    handles: list[asyncio.Task[Any]] = []

    async def job(name: str) -> None:
        ran.append(name)

    @app.route("/")
    async def index() -> str:
        handles.append(app.add_background_task(job, "one"))
        handles.append(app.add_background_task(job, "two"))
        return "ok"

    response = await app.test_client().get("/")
    assert response.status_code == 200
    async with asyncio.timeout(LIMIT):
        await asyncio.gather(*handles)
    assert ran == ["one", "two"]


async def test_a_task_added_in_an_app_context_pushed_in_a_view_runs(
    app: Microframework,
) -> None:
    # A context pushed by hand sends no response: its task must not wait for one.
    ran = asyncio.Event()

    async def job() -> None:
        ran.set()

    @app.route("/")
    async def index() -> str:
        async with app.app_context():
            app.add_background_task(job)
        return "ok"

    response = await app.test_client().get("/")
    assert response.status_code == 200
    async with asyncio.timeout(LIMIT):
        await ran.wait()


async def test_a_failed_task_sends_got_background_exception(
    app: Microframework,
) -> None:
    seen: list[Exception] = []

    def receiver(sender: Any, exception: Exception) -> None:
        seen.append(exception)

    async def broken() -> None:
        raise ValueError("background boom")

    with got_background_exception.connected_to(receiver, app):
        task = app.add_background_task(broken)
        async with asyncio.timeout(LIMIT):
            await asyncio.wait({task})
    assert [str(e) for e in seen] == ["background boom"]


async def test_a_failed_task_nobody_awaits_is_not_reported_again_by_asyncio(
    app: Microframework,
) -> None:
    # The failure is reported once, by the app: "Task exception was never retrieved"
    # from asyncio's handler would report it a second time, when the task is collected.
    loop = asyncio.get_running_loop()
    reported: list[dict[str, Any]] = []
    old = loop.get_exception_handler()
    loop.set_exception_handler(lambda loop, context: reported.append(context))
    try:

        async def broken() -> None:
            raise ValueError("background boom")

        task = app.add_background_task(broken)
        async with asyncio.timeout(LIMIT):
            await asyncio.wait({task})
        del task
        gc.collect()
    finally:
        loop.set_exception_handler(old)
    assert reported == []


async def test_shutdown_cancels_tasks_once_and_lets_their_cleanup_finish(
    app: Microframework,
) -> None:
    app.config["BACKGROUND_TASK_SHUTDOWN_TIMEOUT"] = 0
    started = asyncio.Event()
    cleaned: list[str] = []

    async def stuck() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            for _ in range(20):  # cleanup that takes a few turns of the loop
                await asyncio.sleep(0)
            cleaned.append("done")
            raise

    async with asyncio.timeout(LIMIT):
        async with app.test_app():
            handle = app.add_background_task(stuck)
            await started.wait()
    assert handle.cancelled()
    assert cleaned == ["done"]


async def test_shutdown_waits_no_longer_than_the_shutdown_timeout(
    app: Microframework,
) -> None:
    app.config["BACKGROUND_TASK_SHUTDOWN_TIMEOUT"] = 0
    started = asyncio.Event()

    async def stuck() -> None:
        started.set()
        await asyncio.Event().wait()

    async with asyncio.timeout(LIMIT), app.test_app():
        app.add_background_task(stuck)
        await started.wait()
        began = time.monotonic()
    assert time.monotonic() - began < 0.9  # timeout 0: cancelled at once


# -- drain --------------------------------------------------------------------------------


async def test_a_waiting_view_is_answered_when_the_grace_period_ends(
    app: Microframework,
) -> None:
    waiting = asyncio.Event()

    @app.get("/poll")
    async def poll() -> str:
        waiting.set()
        await asyncio.Event().wait()
        return "never"

    async with asyncio.timeout(LIMIT):
        task = asyncio.create_task(call(app, http_scope("/poll")))
        await waiting.wait()
    try:
        app.drain.start(0.5)
        # Twice the grace period can only come late, never early: 0.95 s leaves
        # the right answer 0.45 s of scheduling delay on a loaded machine.
        async with asyncio.timeout(0.95):
            recorder = await task
    finally:
        app.drain.end()
    assert recorder.status == 503


async def test_a_deadline_that_expired_at_shutdown_is_forgotten_by_the_next_period(
    app: Microframework,
) -> None:
    app.config["SHUTDOWN_GRACE_PERIOD"] = 0

    async def outlives_the_deadline() -> None:
        await app.shutdown_event.wait()
        for _ in range(5):  # shutdown waits for this: the zero deadline fires meanwhile
            await asyncio.sleep(0)

    @app.get("/quick")
    async def quick() -> str:
        await asyncio.sleep(0)
        return "done"

    async with asyncio.timeout(LIMIT):
        async with app.test_app():
            app.add_background_task(outlives_the_deadline)
        recorder = await call(app, http_scope("/quick"))  # served without a lifespan
    assert (recorder.status, recorder.body) == (200, b"done")


async def test_a_drain_left_from_an_interrupted_shutdown_ends_at_the_next_startup(
    app: Microframework,
) -> None:
    @app.get("/quick")
    async def quick() -> str:
        await asyncio.sleep(0)
        return "done"

    async with asyncio.timeout(LIMIT):
        app.drain.start(0)  # a shutdown cancelled before it ended its drain
        while not app.drain.expired:
            await asyncio.sleep(0)
        async with app.test_app():
            recorder = await call(app, http_scope("/quick"))
    assert (recorder.status, recorder.body) == (200, b"done")


def test_pythons_own_sigint_handler_is_not_chained() -> None:
    # docs/deploying.md: nothing is installed when the server installed no handler;
    # Python's KeyboardInterrupt handler is not a server's.
    app = Microframework(__name__)
    seen: list[Any] = []

    async def serve() -> None:
        async with asyncio.timeout(LIMIT), app.test_app():
            seen.append(signal.getsignal(signal.SIGINT))

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    loop = asyncio.new_event_loop()  # asyncio.run() would put its own handler in
    try:
        loop.run_until_complete(serve())
    finally:
        loop.close()
        signal.signal(signal.SIGINT, previous)
    assert seen == [signal.default_int_handler]


def test_a_handler_set_while_serving_is_kept_at_shutdown() -> None:
    app = Microframework(__name__)

    def server_handler(signum: int, frame: Any) -> None:
        pass

    def later_handler(signum: int, frame: Any) -> None:
        pass

    async def serve() -> None:
        async with asyncio.timeout(LIMIT), app.test_app():
            signal.signal(signal.SIGTERM, later_handler)  # someone replaced ours

    previous = signal.signal(signal.SIGTERM, server_handler)
    try:
        asyncio.run(serve())
        assert signal.getsignal(signal.SIGTERM) is later_handler
    finally:
        signal.signal(signal.SIGTERM, previous)


async def test_a_drain_started_twice_leaves_no_deadline_behind_its_end(
    app: Microframework,
) -> None:
    @app.get("/quick")
    async def quick() -> str:
        await asyncio.sleep(0)
        return "done"

    app.drain.start(0)  # SIGTERM
    app.drain.start(0)  # then the lifespan shutdown, which asks again
    app.drain.end()
    for _ in range(3):  # a deadline left armed fires within a turn of the loop
        await asyncio.sleep(0)
    async with asyncio.timeout(LIMIT):
        recorder = await call(app, http_scope("/quick"))
    assert (recorder.status, recorder.body) == (200, b"done")


def test_an_app_served_in_another_thread_leaves_signals_alone() -> None:
    # Only the main thread may set signal handlers: a server in a thread still starts.
    app = Microframework(__name__)
    outcome: list[str] = []

    def server_handler(signum: int, frame: Any) -> None:
        pass

    async def serve() -> None:
        async with asyncio.timeout(LIMIT), app.test_app():
            outcome.append("served")

    def in_thread() -> None:
        try:
            asyncio.run(serve())
        except Exception as exc:
            outcome.append(repr(exc))

    previous = signal.signal(signal.SIGTERM, server_handler)
    try:
        thread = threading.Thread(target=in_thread)
        thread.start()
        thread.join(LIMIT)
        assert signal.getsignal(signal.SIGTERM) is server_handler
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert outcome == ["served"]


# -- config -------------------------------------------------------------------------------


def test_from_prefixed_env_does_not_warn_of_the_run_commands_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # FLASK_RUN_PORT and the like are read by "flask run", not by the config.
    for name in list(os.environ):
        if name.startswith(("QUART_", "FLASK_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("FLASK_RUN_PORT", "8000")
    monkeypatch.setenv("QUART_RUN_HOST", "0.0.0.0")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert Config(tmp_path).from_prefixed_env() is True


def test_from_prefixed_env_with_another_prefix_does_not_warn(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The warning is for a deployment ported as is, which reads MICROFRAMEWORK_*.
    monkeypatch.setenv("QUART_SECRET_KEY", "s3")
    monkeypatch.setenv("MYAPP_DEBUG", "true")
    config = Config(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert config.from_prefixed_env("MYAPP") is True
    assert config["DEBUG"] is True


def test_from_object_loads_only_names_with_uppercase_letters(tmp_path: Path) -> None:
    # As Flask: key.isupper(); a gettext "_" or a "_1" has no uppercase letter.
    class Settings:
        DEBUG_LEVEL = 2
        _ = "gettext"
        _1 = "one"

    config = Config(tmp_path)
    config.from_object(Settings)
    assert config == {"DEBUG_LEVEL": 2}


# -- views --------------------------------------------------------------------------------


async def test_a_class_decorator_sees_the_endpoint_name_and_module(
    app: Microframework,
) -> None:
    seen: list[tuple[str, str]] = []

    def registered(view: Any) -> Any:
        seen.append((view.__name__, view.__module__))

        @functools.wraps(view)
        async def wrapper(**kwargs: Any) -> Any:
            return await view(**kwargs)

        return wrapper

    class Report(View):
        decorators = [registered]

        async def dispatch_request(self) -> str:
            return "report"

    app.add_url_rule("/r", view_func=Report.as_view("report"))
    assert seen == [("report", __name__)]
    response = await app.test_client().get("/r")
    assert await response.get_data(as_text=True) == "report"


async def test_a_method_view_keeps_the_methods_its_base_lists(
    app: Microframework,
) -> None:
    class Cached(MethodView):
        methods = ["GET", "PURGE"]

        async def get(self) -> str:
            return "page"

        async def purge(self) -> str:
            return "purged"

    class Editable(Cached):
        async def delete(self) -> str:
            return "deleted"

    assert set(Editable.methods or ()) == {"GET", "PURGE", "DELETE"}
    app.add_url_rule("/page", view_func=Editable.as_view("page"))
    response = await app.test_client().open("/page", method="PURGE")
    assert (response.status_code, await response.get_data(as_text=True)) == (
        200,
        "purged",
    )


def test_a_view_function_without_decorators_is_of_the_classs_module() -> None:
    class Report(View):
        async def dispatch_request(self) -> str:
            return "report"

    assert Report.as_view("report").__module__ == __name__


# -- flashing -----------------------------------------------------------------------------


async def test_a_muted_message_flashed_calls_no_receiver(app: Microframework) -> None:
    # As Flask, whose blinker send() sends nothing while the signal is muted.
    seen: list[str] = []

    def receiver(sender: Any, message: str, category: str) -> None:
        seen.append(message)

    async def async_receiver(sender: Any, message: str, category: str) -> None:
        seen.append(message)

    with message_flashed.connected_to(receiver, app):
        with message_flashed.connected_to(async_receiver, app):
            async with app.test_request_context("/") as ctx:
                ctx.session = SecureCookieSession()
                with message_flashed.muted():
                    await flash("quiet")
                await flash("loud")
    assert seen == ["loud", "loud"]


async def test_flash_and_get_flashed_messages_work_in_a_websocket(
    app: Microframework,
) -> None:
    # docs/flash-and-signals.md: both need an active request (or websocket).
    app.secret_key = "k"

    @app.websocket("/ws")
    async def ws() -> None:
        await flash("hello", "info")
        await websocket.send(repr(get_flashed_messages(with_categories=True)))

    async with asyncio.timeout(LIMIT):
        async with app.test_client().websocket("/ws") as client:
            assert await client.receive() == "[('info', 'hello')]"


# -- static -------------------------------------------------------------------------------


async def test_a_static_max_age_of_days_counts_the_days(tmp_path: Path) -> None:
    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "a.txt").write_text("a")
    app = Microframework(__name__, root_path=str(tmp_path))
    app.config["SEND_FILE_MAX_AGE_DEFAULT"] = timedelta(days=1, seconds=5)
    response = await app.test_client().get("/static/a.txt")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "public, max-age=86405"


async def test_an_overridden_send_static_file_serves_the_static_route(
    tmp_path: Path,
) -> None:
    # docs/static-files.md: "Override it to change how static files are served."
    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "a.txt").write_text("a")

    class App(Microframework):
        async def send_static_file(self, filename: str) -> Response:
            response = await super().send_static_file(filename)
            response.headers["X-Static"] = filename
            return response

    app = App(__name__, root_path=str(tmp_path))
    response = await app.test_client().get("/static/a.txt")
    assert response.status_code == 200
    assert response.headers["X-Static"] == "a.txt"


async def test_an_absolute_path_under_a_blueprints_static_url_is_404(
    tmp_path: Path,
) -> None:
    # "/bp/bp_static//etc/passwd" must not be redirected to a merged path (as the app's).
    (tmp_path / "bp_static").mkdir()
    (tmp_path / "secret.txt").write_text("secret")
    app = Microframework(__name__, root_path=str(tmp_path), static_folder=None)
    bp = Blueprint("bp", __name__, root_path=str(tmp_path), static_folder="bp_static")
    app.register_blueprint(bp, url_prefix="/bp")
    absolute = (tmp_path / "secret.txt").as_posix()
    async with asyncio.timeout(LIMIT):
        recorder = await call(app, http_scope("/bp/bp_static/" + absolute))
    assert recorder.status == 404
    assert b"secret" not in recorder.body


async def test_a_float_static_max_age_is_sent_as_whole_seconds(tmp_path: Path) -> None:
    # max-age is delta-seconds, an integer (RFC 9111): 90.0 from a JSON config is 90.
    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "a.txt").write_text("a")
    app = Microframework(__name__, root_path=str(tmp_path))
    app.config["SEND_FILE_MAX_AGE_DEFAULT"] = 90.0
    response = await app.test_client().get("/static/a.txt")
    assert response.headers["Cache-Control"] == "public, max-age=90"
