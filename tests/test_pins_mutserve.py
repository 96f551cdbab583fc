"""Pins from mutation testing session 22's new code (s23 mutserve): the reloader's
worker bootstrap and load-error answer, the debug page middleware, ProxyFix's root
path, apps sharing a lifespan state, a sync view returning a coroutine, call_awaited
and refuse_async."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from microframework import Microframework
from microframework import serving
from microframework.helpers import DEBUG_ENV


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """The serving variables unset now and after the test, whatever it sets."""
    for name in (serving.SERVE_APP_ENV, serving.SERVE_MAIN_ENV, DEBUG_ENV):
        monkeypatch.setenv(name, "")  # recorded, so the teardown restores it
        monkeypatch.delenv(name)
    return monkeypatch


# -- serving.py: what the reloader's workers are told -------------------------------
@pytest.mark.parametrize(
    ("locator", "fallback"), [("srv:app", "srv:app"), ("__main__:app", None)]
)
def test_workers_running_main_again_keep_an_importable_app_to_fall_back_on(
    app: Microframework, clean_env: pytest.MonkeyPatch, locator: str, fallback: Any
) -> None:
    # A launcher's script that doesn't serve again in the worker falls back to the
    # app its module holds; __main__'s can't be imported there, so it isn't named.
    serving._tell_workers(app, locator, main_first=True)
    assert os.environ[serving.SERVE_MAIN_ENV].startswith(("module:", "path:"))
    assert os.environ.get(serving.SERVE_APP_ENV) == fallback


@pytest.mark.parametrize(("debug", "expected"), [(False, "0"), (True, "1")])
def test_workers_get_the_first_processs_debug_mode(
    app: Microframework, clean_env: pytest.MonkeyPatch, debug: bool, expected: str
) -> None:
    # Always "1" would serve tracebacks (debug page, load error) from a worker of
    # `microframework run --reload` without --debug.
    app.debug = debug
    serving._tell_workers(app, "srv:app", main_first=False)
    assert os.environ[DEBUG_ENV] == expected


def test_a_worker_whose_script_does_not_serve_falls_back_to_the_importable_app(
    tmp_path: Path, clean_env: pytest.MonkeyPatch
) -> None:
    import hypercorn.asyncio.run

    clean_env.setattr(serving, "_worker_serving", [])
    script = tmp_path / "launch.py"
    script.write_text("ran = True\n")  # no app.run() in the worker's run
    served: list[tuple[Any, Any]] = []
    pending: list[list[Any]] = []

    def worker(config: Any, sockets: Any) -> None:
        served.append((config, sockets))
        pending.append(list(serving._worker_serving))

    clean_env.setattr(hypercorn.asyncio.run, "asyncio_worker", worker)
    clean_env.setenv(serving.SERVE_MAIN_ENV, f"path:{script}")
    clean_env.setenv(serving.SERVE_APP_ENV, "srv:app")
    serving._worker("config", "sockets")
    assert served == [("config", "sockets")]
    # Left filled, an unguarded app.run() in the module the fallback imports served
    # a second time from inside the first (and leaked to later tests).
    assert pending == [[]]


# -- _lifespan.py: apps sharing the server's lifespan state ---------------------------
def _testing_app(name: str) -> Microframework:
    app = Microframework(name)
    app.testing = True  # no gc.freeze() at startup
    return app


async def test_keys_set_on_app_state_before_startup_stay_in_the_servers_state() -> None:
    app = _testing_app("first")
    app.state["pool"] = "set at import"
    shared: dict[str, Any] = {"srv": 1}
    await app.startup(shared)
    assert app.state is shared
    assert shared == {"srv": 1, "pool": "set at import"}  # requests' copies have it
    await app.shutdown()
    assert app.state == {"pool": "set at import"}


async def test_an_app_that_replaced_its_state_frees_the_servers_dict() -> None:
    first, second = _testing_app("first"), _testing_app("second")
    shared: dict[str, Any] = {"srv": 1}
    await first.startup(shared)
    first.state = {"own": True}  # the app put a dict of its own in place
    await second.startup(shared)
    assert second.state is shared  # free to take: nobody's app.state is that dict
    await second.shutdown()
    await first.shutdown()


async def test_an_app_beside_another_overlays_its_state_only_while_served_so() -> None:
    from asgi_harness import call
    from asgi_harness import http_scope

    from microframework import request

    first, second = _testing_app("first"), _testing_app("second")

    @second.get("/")
    async def index() -> str:
        return repr(sorted(request.state))

    second.state["own"] = 1
    shared: dict[str, Any] = {"srv": 1}
    await first.startup(shared)
    await second.startup(shared)
    rec = await call(second, http_scope("/", state=dict(shared)))
    assert rec.body == b"['own', 'srv']"
    await second.shutdown()
    await first.shutdown()
    # Served again without a lifespan state: request.state is the server's alone.
    rec = await call(second, http_scope("/", state={}))
    assert rec.body == b"[]"


# -- serving.py: a worker that can't serve records why, for the supervisor -----------
@pytest.fixture
def worker_env(
    tmp_path: Path, clean_env: pytest.MonkeyPatch
) -> tuple[pytest.MonkeyPatch, Path]:
    error_file = tmp_path / "load-error"
    clean_env.setenv(serving.LOAD_ERROR_ENV, str(error_file))
    clean_env.setattr(serving, "_worker_serving", [])  # _run_main fills it
    return clean_env, error_file


def test_a_worker_whose_app_fails_to_start_records_why(
    worker_env: tuple[pytest.MonkeyPatch, Path],
) -> None:
    import hypercorn.asyncio.run
    from hypercorn.utils import LifespanFailureError

    monkeypatch, error_file = worker_env

    def fail(config: Any, sockets: Any) -> None:
        raise LifespanFailureError("startup", "RuntimeError: database unreachable")

    monkeypatch.setattr(hypercorn.asyncio.run, "asyncio_worker", fail)
    with pytest.raises(SystemExit) as info:
        serving._worker("config", "sockets")
    assert info.value.code == 1
    assert "The app failed to start" in error_file.read_text()
    assert "database unreachable" in error_file.read_text()


def test_a_worker_whose_script_fails_before_serving_records_the_traceback(
    worker_env: tuple[pytest.MonkeyPatch, Path], tmp_path: Path
) -> None:
    monkeypatch, error_file = worker_env
    script = tmp_path / "broken.py"
    script.write_text("raise RuntimeError('no database driver')\n")
    monkeypatch.setenv(serving.SERVE_MAIN_ENV, f"path:{script}")
    with pytest.raises(SystemExit) as info:
        serving._worker("config", "sockets")
    assert info.value.code == 1  # a failure: the supervisor waits for a fix
    text = error_file.read_text()
    assert "Traceback" in text and "RuntimeError: no database driver" in text


# -- serving.py: answering with the load error while waiting for a fix ----------------
class _FakeProcess:
    def __init__(self, target: Any, kwargs: dict[str, Any]) -> None:
        self.target, self.kwargs, self.calls = target, kwargs, []

    def start(self) -> None:
        self.calls.append("start")

    def terminate(self) -> None:
        self.calls.append("terminate")

    def join(self) -> None:
        self.calls.append("join")


class _FakeSpawn:
    def __init__(self) -> None:
        self.made: list[_FakeProcess] = []

    def Process(self, target: Any, kwargs: dict[str, Any]) -> _FakeProcess:
        self.made.append(process := _FakeProcess(target, kwargs))
        return process


@pytest.mark.parametrize(
    ("debug", "shown"), [("1", "Traceback: SyntaxError"), ("0", ""), (None, "")]
)
def test_the_load_error_is_answered_with_its_traceback_in_debug_mode_only(
    tmp_path: Path, clean_env: pytest.MonkeyPatch, debug: Any, shown: str
) -> None:
    if debug is not None:
        clean_env.setenv(DEBUG_ENV, debug)
    error_file = tmp_path / "load-error"
    error_file.write_text("Traceback: SyntaxError", encoding="utf-8")
    spawn = _FakeSpawn()
    with serving._answering(spawn, "config", "sockets", error_file):
        (process,) = spawn.made
        assert process.target is serving._error_worker
        assert process.kwargs == {
            "config": "config",
            "sockets": "sockets",
            "text": shown,
        }
        assert process.calls == ["start"]
        assert not error_file.exists()  # read once: the next failure writes anew
    assert process.calls == ["start", "terminate", "join"]


def test_the_error_worker_says_where_to_look_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import types

    import hypercorn.asyncio.run

    served: list[Any] = []
    monkeypatch.setattr(serving, "_load_error", b"")
    monkeypatch.setattr(
        hypercorn.asyncio.run, "asyncio_worker", lambda c, s: served.append((c, s))
    )
    config = types.SimpleNamespace(application_path="app:app")
    serving._error_worker(config, "sockets", "")
    assert served == [(config, "sockets")]
    assert config.application_path == "microframework.serving:_load_error_app"
    assert serving._load_error == b"See the server's log."


async def test_the_load_error_app_answers_http_websocket_and_lifespan(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import asyncio

    from asgi_harness import call
    from asgi_harness import http_scope
    from asgi_harness import websocket_scope

    monkeypatch.setattr(serving, "_load_error", b"<b>SyntaxError</b>")
    rec = await call(serving._load_error_app, http_scope("/"))
    assert rec.status == 500
    assert rec.headers[b"content-type"] == b"text/plain; charset=utf-8"  # not HTML
    assert rec.body.endswith(b"\n\n<b>SyntaxError</b>")

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def never() -> dict[str, Any]:
        raise AssertionError("a refused websocket reads nothing")

    await serving._load_error_app(websocket_scope("/ws"), never, send)
    assert sent == [{"type": "websocket.close", "code": 1011}]

    sent.clear()
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    inbox.put_nowait({"type": "lifespan.startup"})
    inbox.put_nowait({"type": "lifespan.shutdown"})
    async with asyncio.timeout(5):
        await serving._load_error_app({"type": "lifespan"}, inbox.get, send)
    assert [m["type"] for m in sent] == [
        "lifespan.startup.complete",
        "lifespan.shutdown.complete",
    ]


def test_apps_gone_without_a_shutdown_leave_no_state_entry_behind() -> None:
    import gc

    from microframework import _lifespan

    states = [{"srv": n} for n in range(3)]  # alive: their ids stay theirs
    for state in states:
        _lifespan._take_state(_testing_app("gone"), state)  # never shut down
    gc.collect()
    keeper = _testing_app("kept")
    _lifespan._take_state(keeper, {"srv": "last"})
    try:
        assert all(ref() is not None for ref, _ in _lifespan._TAKEN.values())
    finally:
        _lifespan._release_state(keeper)


def test_an_error_once_serving_is_not_reported_as_a_load_error(
    worker_env: tuple[pytest.MonkeyPatch, Path],
) -> None:
    import hypercorn.asyncio.run

    monkeypatch, error_file = worker_env

    def crash(config: Any, sockets: Any) -> None:
        raise RuntimeError("crashed while serving")

    monkeypatch.setattr(hypercorn.asyncio.run, "asyncio_worker", crash)
    with pytest.raises(RuntimeError, match="crashed while serving"):
        serving._worker("config", "sockets")
    assert not error_file.exists()


async def test_a_failed_startup_leaves_the_app_only_its_own_state() -> None:
    app = _testing_app("failing")
    app.state["own"] = 1

    @app.before_serving
    async def connect() -> None:
        raise RuntimeError("database unreachable")

    shared: dict[str, Any] = {"srv": 1}
    with pytest.raises(RuntimeError, match="database unreachable"):
        await app.startup(shared)
    assert app.state == {"own": 1}  # no shutdown follows to drop the server's keys


# -- wrappers/base.py: request.state ---------------------------------------------------
async def test_request_state_starts_empty_without_a_lifespan_state() -> None:
    # docs/lifespan.md: a server without lifespan state: app.state is a plain dict
    # and request.state starts out empty.
    from asgi_harness import call
    from asgi_harness import http_scope

    from microframework import request

    app = _testing_app("alone")
    app.state["db"] = "pool"

    @app.get("/")
    async def index() -> str:
        return repr(sorted(request.state))

    await app.startup(None)
    try:
        rec = await call(app, http_scope("/"))
    finally:
        await app.shutdown()
    assert rec.body == b"[]"


async def test_a_key_replaced_in_request_state_stays_replaced_beside_another_app() -> (
    None
):
    # docs/lifespan.md: replacing a key in request.state affects the current request.
    from asgi_harness import call
    from asgi_harness import http_scope

    from microframework import request

    first, second = _testing_app("first"), _testing_app("second")

    @second.get("/")
    async def index() -> str:
        request.state["db"] = "this request's"
        return str(request.state["db"])

    second.state["db"] = "second's pool"
    shared: dict[str, Any] = {"srv": 1}
    await first.startup(shared)
    await second.startup(shared)
    try:
        rec = await call(second, http_scope("/", state=dict(shared)))
    finally:
        await second.shutdown()
        await first.shutdown()
    assert rec.body == b"this request's"


@pytest.mark.parametrize("root", ["/api", "/api/"])
async def test_a_doubled_slash_after_the_root_path_is_seen_as_without_a_root(
    app: Microframework, root: str
) -> None:
    # "/api/" and "/x" joined by the server make "/api//x": one slash goes. Under
    # "/api" the path is the client's, as the same path is without a root path.
    from asgi_harness import call
    from asgi_harness import http_scope

    from microframework import request

    @app.get("/x")
    async def x() -> str:
        return request.path

    bare = await call(app, http_scope("//x"))
    rec = await call(app, http_scope("/api//x", root_path=root))
    assert rec.body == (b"/x" if root.endswith("/") else bare.body)


# -- _compile.py: a sync view's returned coroutine ------------------------------------
async def test_closing_a_returned_coroutine_skips_a_cancelled_or_failed_step() -> None:
    import asyncio

    from microframework._utils import _close_returned_coroutine

    loop = asyncio.get_running_loop()
    cancelled = loop.create_future()
    cancelled.cancel()
    _close_returned_coroutine(cancelled)  # no CancelledError into the loop's handler
    failed = loop.create_future()
    failed.set_exception(ValueError("view failed"))
    _close_returned_coroutine(failed)

    async def view() -> str:
        return "never run"

    done = loop.create_future()
    done.set_result(coroutine := view())
    _close_returned_coroutine(done)
    assert coroutine.cr_frame is None  # closed, not left to warn


# -- debug.py: the development server's debug page middleware -------------------------
def _debug_app() -> Microframework:
    app = Microframework("debugged")
    app.config.update(TESTING=True, DEBUG=True)  # the error propagates to DebugPages

    @app.route("/boom", methods=["GET", "HEAD"])
    async def boom() -> str:
        raise ValueError("boom")

    return app


@pytest.mark.parametrize("method", ["GET", "HEAD"])
async def test_debug_pages_answer_an_error_that_propagates(
    method: str, caplog: pytest.LogCaptureFixture
) -> None:
    from asgi_harness import call
    from asgi_harness import http_scope

    from microframework.debug import DebugPages

    headers = [(b"proxy-authorization", b"Basic c2VjcmV0"), (b"x-seen", b"shown")]
    scope = http_scope("/app/boom", method, headers=headers, root_path="/app")
    rec = await call(DebugPages(_debug_app()), scope)
    assert rec.status == 500
    assert rec.headers[b"content-type"] == b"text/html; charset=utf-8"
    assert rec.headers[b"cache-control"] == b"no-store"
    if method == "HEAD":
        assert rec.body == b""  # as a HEAD answer, no page
        return
    page = rec.body.decode()
    assert "ValueError: boom" in page
    assert f"<p>{method} /app/boom</p>" in page  # where the client sent it
    assert "shown" in page and "c2VjcmV0" not in page  # proxy credentials hidden
    assert "Exception on request GET /boom" in caplog.text


async def test_debug_pages_leave_an_error_after_the_response_started_alone() -> None:
    from asgi_harness import call
    from asgi_harness import http_scope

    from microframework.debug import DebugPages

    class Half(Microframework):
        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            await send({"type": "http.response.start", "status": 200, "headers": []})
            raise ValueError("after the start")

    from asgi_harness import Recorder

    recorder = Recorder()
    with pytest.raises(ValueError, match="after the start"):
        await call(DebugPages(Half("half")), http_scope("/"), recorder)
    assert [m["type"] for m in recorder.sent] == ["http.response.start"]


async def test_debug_pages_leave_a_websocket_error_to_the_server() -> None:
    from asgi_harness import websocket_scope

    from microframework.debug import DebugPages

    class Failing(Microframework):
        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            raise ValueError("in a websocket")

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    with pytest.raises(ValueError, match="in a websocket"):
        await DebugPages(Failing("failing"))(websocket_scope("/ws"), receive, send)
    assert sent == []  # no HTTP response on a websocket


# -- serving.py: running __main__ again in the worker ---------------------------------
def test_a_script_exiting_before_it_serves_ends_the_worker_with_its_code(
    worker_env: tuple[pytest.MonkeyPatch, Path], tmp_path: Path
) -> None:
    monkeypatch, _ = worker_env
    script = tmp_path / "cli.py"
    script.write_text("import sys\nsys.exit(3)  # say, a bad command-line option\n")
    monkeypatch.setenv(serving.SERVE_MAIN_ENV, f"path:{script}")
    with pytest.raises(SystemExit) as info:
        serving._worker("config", "sockets")
    assert info.value.code == 3


def test_a_module_run_again_is_main_while_it_runs(
    worker_env: tuple[pytest.MonkeyPatch, Path], tmp_path: Path
) -> None:
    # As `python -m module` has it: sys.modules["__main__"] is the module running.
    import sys

    import hypercorn.asyncio.run

    monkeypatch, _ = worker_env
    (tmp_path / "launched_again.py").write_text(
        "import sys\nSEEN.append(sys.modules['__main__'].__dict__ is globals())\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    seen: list[bool] = []
    monkeypatch.setattr("builtins.SEEN", seen, raising=False)
    monkeypatch.setattr(hypercorn.asyncio.run, "asyncio_worker", lambda c, s: None)
    monkeypatch.setenv(serving.SERVE_MAIN_ENV, "module:launched_again")
    monkeypatch.setenv(serving.SERVE_APP_ENV, "srv:app")  # the fallback serves
    main = sys.modules["__main__"]
    serving._worker("config", "sockets")
    assert seen == [True]
    assert sys.modules["__main__"] is main


@pytest.mark.parametrize(("flag", "debug"), [("1", True), ("0", False)])
def test_app_run_in_the_worker_serves_there_in_the_first_processs_debug_mode(
    worker_env: tuple[pytest.MonkeyPatch, Path], flag: str, debug: bool
) -> None:
    import hypercorn.asyncio.run

    from microframework.serving import RUN_FROM_CLI_ENV

    monkeypatch, _ = worker_env
    app = _testing_app("in_the_worker")
    served: list[Any] = []

    def worker(config: Any, sockets: Any) -> None:
        served.append((config, sockets, serving._serving_app, app.debug))

    monkeypatch.setattr(hypercorn.asyncio.run, "asyncio_worker", worker)
    monkeypatch.setattr(serving, "_serving_app", None)
    monkeypatch.setenv(RUN_FROM_CLI_ENV, "true")
    monkeypatch.setenv(DEBUG_ENV, flag)
    monkeypatch.setattr(serving, "_worker_serving", ["config", "sockets"])
    with pytest.raises(SystemExit) as info:  # not back into the script after app.run()
        app.run(debug=not debug)  # the worker's own argument doesn't count
    assert info.value.code == 0
    assert served == [("config", "sockets", app, debug)]
    assert serving._worker_serving == []  # told _run_main it served


def test_an_app_run_the_worker_imports_stays_quiet(
    worker_env: tuple[pytest.MonkeyPatch, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    from microframework.serving import RUN_FROM_CLI_ENV

    monkeypatch, _ = worker_env
    monkeypatch.setenv(RUN_FROM_CLI_ENV, "true")
    monkeypatch.setenv(serving.SERVE_APP_ENV, "srv:app")  # a worker importing srv
    _testing_app("imported").run()
    assert capsys.readouterr().err == ""


def test_an_app_of_a_main_that_cant_run_again_serves_without_the_reloader(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # python -c, or an interactive session: nothing for the worker to run again.
    app = Microframework("__main__")
    monkeypatch.setattr(serving, "_main_to_run", lambda: None)
    assert serving._can_reload(app, None) is False
    assert "module-level variable" in caplog.text


served_here: Microframework | None = None  # found by app.run's locator


@pytest.mark.parametrize(
    ("debug", "use_reloader", "reload"),
    [(True, None, True), (False, None, False), (True, False, False)],
)
def test_app_run_turns_the_reloader_on_in_debug_mode_and_runs_main_first(
    clean_env: pytest.MonkeyPatch, debug: bool, use_reloader: Any, reload: bool
) -> None:
    app = _testing_app(__name__)
    clean_env.setattr(f"{__name__}.served_here", app)
    calls: list[dict[str, Any]] = []

    def serve_app(app: Microframework, **kwargs: Any) -> int:
        calls.append(kwargs)
        return 0

    clean_env.setattr(serving, "serve_app", serve_app)
    app.run(port=0, debug=debug, use_reloader=use_reloader, load_dotenv=False)
    (kwargs,) = calls
    assert kwargs["use_reloader"] is reload
    assert kwargs["main_first"] is True  # a launcher's main() runs in the worker
    assert kwargs["locator"] == f"{__name__}:served_here"


def test_hiding_main_from_spawn_puts_its_file_back(
    clean_env: pytest.MonkeyPatch,
) -> None:
    # The script's own globals: a function of it using __file__ after app.run().
    import importlib.machinery
    import sys
    import types

    main = types.ModuleType("__main__")
    spec = importlib.machinery.ModuleSpec("__main__", None)
    main.__spec__, main.__file__ = spec, "/srv/script.py"
    clean_env.setitem(sys.modules, "__main__", main)
    clean_env.setenv(serving.SERVE_MAIN_ENV, "path:/srv/script.py")
    with serving._main_not_imported():
        assert main.__spec__ is None and not hasattr(main, "__file__")
    assert main.__spec__ is spec and main.__file__ == "/srv/script.py"


def test_serving_forgets_what_it_told_the_workers_to_run(
    app: Microframework, clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.setattr(serving, "_supervise", lambda config, workers, watch: 0)
    code = serving.serve_app(
        app, port=0, use_reloader=True, locator="srv:app", main_first=True
    )
    assert code == 0
    assert serving.SERVE_MAIN_ENV not in os.environ  # a later serve_app starts clean


def test_a_load_error_that_isnt_utf8_is_still_recorded(
    worker_env: tuple[pytest.MonkeyPatch, Path],
) -> None:
    _, error_file = worker_env
    serving._record_load_error("No module named '\udcff'")  # a surrogate-escaped name
    assert error_file.read_text(encoding="utf-8") == "No module named '?'"


# -- serving.py: the supervisor -------------------------------------------------------
def _fake_supervision(
    monkeypatch: pytest.MonkeyPatch, exitcode: int, signal_at_start: bool = False
) -> tuple[list[Any], list[Any]]:
    import signal
    import types

    from microframework._drain import RELOADER_ENV

    for name in (serving.LOAD_ERROR_ENV, RELOADER_ENV):
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    started: list[Any] = []
    waited: list[Any] = []

    class Process:
        sentinel = None

        def __init__(self, target: Any, kwargs: dict[str, Any]) -> None:
            self.target, self.exitcode = target, exitcode

        def start(self) -> None:
            started.append((self.target, os.environ.get(serving.LOAD_ERROR_ENV)))
            if signal_at_start and self.target is serving._worker:
                os.kill(os.getpid(), signal.SIGTERM)  # Ctrl+C, as the worker starts

        def is_alive(self) -> bool:
            return False  # it failed to start

        def terminate(self) -> None:
            pass

        def join(self) -> None:
            pass

    spawn = types.SimpleNamespace(Process=Process)
    monkeypatch.setattr(serving.multiprocessing, "get_context", lambda kind: spawn)

    def wait_for_a_fix(stopping: list[int], watch: Any) -> bool:
        waited.append(watch)
        return False

    monkeypatch.setattr(serving, "_wait_for_a_fix", wait_for_a_fix)
    return started, waited


class _Config:
    def create_sockets(self) -> Any:
        import types

        return types.SimpleNamespace(secure_sockets=[], insecure_sockets=[])


@pytest.mark.parametrize(("exitcode", "expected"), [(1, 1), (-15, 0)])
def test_the_reloader_cleans_up_its_error_file_and_returns_the_workers_code(
    clean_env: pytest.MonkeyPatch, exitcode: int, expected: int
) -> None:
    started, waited = _fake_supervision(clean_env, exitcode)
    code = serving._supervise(_Config(), 1, serving._Watch())
    assert code == expected  # a worker ended by SIGTERM while starting: no failure
    assert [target for target, _ in started] == [
        serving._worker,
        serving._error_worker,  # answering while it waited for a fix
    ]
    assert len(waited) == 1
    error_file = Path(started[0][1])
    assert not error_file.parent.exists()  # its private folder is gone
    assert serving.LOAD_ERROR_ENV not in os.environ


def test_the_reloader_stopped_by_a_signal_does_not_wait_for_a_fix(
    clean_env: pytest.MonkeyPatch,
) -> None:
    started, waited = _fake_supervision(clean_env, -15, signal_at_start=True)
    assert serving._supervise(_Config(), 1, serving._Watch()) == 0
    assert [target for target, _ in started] == [serving._worker]
    assert waited == []


def test_a_werkzeug_option_warning_points_at_the_app_run_call(
    clean_env: pytest.MonkeyPatch,
) -> None:
    app = _testing_app("warned")
    clean_env.setattr(serving, "serve_app", lambda app, **kwargs: 0)
    with pytest.warns(UserWarning, match="use_debugger") as caught:
        app.run(port=0, use_reloader=False, load_dotenv=False, use_debugger=True)
    assert caught[0].filename == __file__


async def test_the_mount_point_without_its_slash_passes_the_rules_defaults(
    app: Microframework,
) -> None:
    from asgi_harness import call
    from asgi_harness import http_scope

    from microframework import request

    @app.get("/", defaults={"page": 1}, strict_slashes=False)
    async def index(page: int) -> str:
        return f"page {page} {request.view_args}"

    rec = await call(app, http_scope("/app", root_path="/app"))
    assert (rec.status, rec.body) == (200, b"page 1 {'page': 1}")
