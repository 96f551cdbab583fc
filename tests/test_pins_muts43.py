"""Pins from mutation testing (helper muts43, session 36): survivors among the mutants
of templating.py and _utils.py.

Each test kills a mutant that survived the related test files; its first comment names
the code it pins and the mutant id.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import sys
import types
import uuid
from typing import Any

import pytest
from asgi_harness import call
from asgi_harness import http_scope
from jinja2 import DictLoader
from jinja2.runtime import Context

from microframework import flash
from microframework import Microframework
from microframework import redirect
from microframework import render_template
from microframework import session
from microframework._utils import Listener
from microframework.helpers import get_debug_flag
from microframework.helpers import get_root_path
from microframework.signals import before_render_template
from microframework.signals import message_flashed
from microframework.signals import template_rendered
from microframework.templating import render_template_string
from microframework.templating import stream_template_string
from microframework.utils import run_sync

LIMIT = 20


async def test_a_header_name_with_a_backtick_is_a_token() -> None:
    # _utils.TOKEN: "`" is an RFC 9110 tchar; a header named with it is sent, not a
    # 500 (U03: the backtick dropped from the class).
    app = Microframework(__name__)

    @app.route("/")
    async def index() -> Any:
        return "ok", {"X-Back`tick": "1"}

    response = await app.test_client().get("/")
    assert response.status_code == 200
    assert response.headers["X-Back`tick"] == "1"


async def test_a_relative_redirect_keeps_its_fragment() -> None:
    # _utils.to_uri: "#" stays safe in a Location without a host, as Flask sends it
    # ("/page#section"); escaped, the browser asks for "/page%23section" (U09).
    app = Microframework(__name__)

    @app.route("/")
    async def index() -> Any:
        return redirect("/page?tab=2#section")

    response = await app.test_client().get("/")
    assert response.headers["Location"] == "/page?tab=2#section"


async def _routed(path: str, raw_path: bytes | None = None) -> tuple[int, bytes]:
    app = Microframework(__name__)

    @app.route("/", defaults={"rest": ""})
    @app.route("/<path:rest>")
    async def index(rest: str) -> str:
        return "/" + rest

    scope = http_scope(path)
    if raw_path is not None:
        scope["raw_path"] = raw_path
    async with asyncio.timeout(LIMIT):
        recorder = await call(app, scope)
    return recorder.status, recorder.body


async def test_a_scheme_must_start_with_a_letter_to_be_absolute_form() -> None:
    # _utils._SCHEME: RFC 3986 3.1, a scheme starts with a letter; "9x://h/admin" is
    # no absolute-form target and routes whole, not as "/admin" (U22).
    status, body = await _routed("9x://h/admin")
    assert status == 200
    assert body == b"/9x://h/admin"


async def test_an_absolute_form_target_whose_raw_path_was_cut_still_routes_its_path() -> (
    None
):
    # _utils.origin_form: a server that cut raw_path to its path part ("/p") says
    # nothing about the scheme: the path's absolute form is used (U25: raw checked
    # even when it starts with "/", and "/p" is no scheme: routed whole).
    status, body = await _routed("http://example.com/p", raw_path=b"/p")
    assert status == 200
    assert body == b"/p"


async def test_an_absolute_form_target_without_a_path_routes_the_root() -> None:
    # _utils.origin_form: "http://[::1]" has no "/" after its authority; the whole
    # rest is the authority (U30: its last character cut, "[::1" is no URL: a 400).
    status, body = await _routed("http://[::1]", raw_path=b"http://[::1]")
    assert status == 200
    assert body == b"/"


async def test_jinja_options_cannot_turn_async_rendering_off() -> None:
    # templating.Environment: enable_async is forced on, as every render is awaited;
    # a jinja_options copied from a Flask app with enable_async=False still renders
    # (T11: setdefault, and render_async refuses a sync environment).
    class App(Microframework):
        jinja_options = {"enable_async": False}

    app = App(__name__)
    async with app.app_context():
        assert await render_template_string("{{ 1 + 1 }}") == "2"


def test_run_sync_keeps_the_functions_name_and_doc() -> None:
    # _utils.run_sync: functools.wraps, as Quart's run_sync (U40: the wrapper's own
    # name, "_wrapper", in logs and in views named after their function).
    def report() -> str:
        """Build the report."""
        return "r"

    wrapped = run_sync(report)
    assert wrapped.__name__ == "report"
    assert wrapped.__doc__ == "Build the report."
    assert wrapped.__wrapped__ is report  # type: ignore[attr-defined]


def test_the_debug_flag_ignores_whitespace_around_its_value(monkeypatch: Any) -> None:
    # _utils.flag: the value is stripped, "false " from a shell script is no (U50).
    # (Flask's get_debug_flag says True to FLASK_DEBUG=" false ".)
    monkeypatch.setenv("MICROFRAMEWORK_DEBUG", " false ")
    assert get_debug_flag() is False
    monkeypatch.setenv("MICROFRAMEWORK_DEBUG", " 1 ")
    assert get_debug_flag() is True


async def test_awaiting_flash_awaits_a_future_a_plain_receiver_returns() -> None:
    # _utils.settled: any awaitable, not only a coroutine: a plain receiver that
    # starts a task (a Future) is done when the flash is awaited (U44: not awaited).
    app = Microframework(__name__)
    app.secret_key = "k"
    done: list[str] = []

    async def record(message: str) -> None:
        await asyncio.sleep(0)  # one loop turn, no time
        done.append(message)

    def receiver(sender: Any, message: str, category: str) -> Any:
        return asyncio.ensure_future(record(message))

    with message_flashed.connected_to(receiver, app):
        async with app.test_request_context("/"):
            async with asyncio.timeout(LIMIT):
                await flash("saved")
            assert done == ["saved"]


async def test_a_macro_imported_without_context_sees_the_session_global() -> None:
    # templating.create_jinja_environment: session is a global, as in Flask; a
    # template imported without context sees only the globals (T35: dropped, the
    # macro's session is undefined and renders empty).
    app = Microframework(__name__)
    app.secret_key = "k"
    app.jinja_loader = DictLoader(
        {
            "macros.html": "{% macro who() %}{{ session['user'] }}{% endmacro %}",
            "page.html": "{% import 'macros.html' as m %}[{{ m.who() }}]",
        }
    )

    @app.route("/")
    async def index() -> Any:
        session["user"] = "ann"
        return await render_template("page.html")

    response = await app.test_client().get("/")
    assert await response.get_data(as_text=True) == "[ann]"


def test_the_root_path_of_a_loaded_module_is_beside_its_file(tmp_path: Any) -> None:
    # _utils.get_root_path: a module already imported answers with its __file__,
    # as a script run as __main__ does (U54: find_spec only, which refuses a module
    # without a spec: the cwd).
    module = types.ModuleType("muts43_loaded_module")
    module.__file__ = str(tmp_path / "app.py")
    sys.modules[module.__name__] = module
    try:
        assert get_root_path(module.__name__) == str(tmp_path)
        assert str(tmp_path) != os.getcwd()
    finally:
        del sys.modules[module.__name__]


def test_templates_auto_reload_is_a_bool_whatever_the_config_holds() -> None:
    # templating.templates_auto_reload: bool() of the config value, or of DEBUG when
    # it is None (T44: the raw value, 1 or "", handed back).
    app = Microframework(__name__)
    app.config["TEMPLATES_AUTO_RELOAD"] = 1
    assert app.templates_auto_reload is True
    app.config["TEMPLATES_AUTO_RELOAD"] = None
    app.config["DEBUG"] = 0
    assert app.templates_auto_reload is False


async def test_a_slash_redirect_passes_the_query_on_as_flask_does() -> None:
    # _compile (URL_QUERY_SAFE): the query string goes into the strict-slash redirect
    # with its "#" and escapes as they came, as Flask's "?a=1#b" (U05: "#" escaped).
    app = Microframework(__name__)

    @app.route("/dir/")
    async def folder() -> str:
        return "d"

    async with asyncio.timeout(LIMIT):
        recorder = await call(app, http_scope("/dir", query_string=b"a=1#b&c=%zz"))
    assert recorder.status == 308
    headers = dict(recorder.sent[0]["headers"])
    assert headers[b"location"] == b"http://localhost/dir/?a=1#b&c=%zz"


async def test_a_template_streams_in_an_app_context_without_a_request() -> None:
    # templating._stream: stream_with_context only with a request or websocket, as
    # Flask; in an app context alone the body streams as it is (T77: wrapped, and
    # stream_with_context refuses to run without a request).
    app = Microframework(__name__)
    async with app.app_context():
        response = await stream_template_string("{{ 1 + 2 }}")
    assert await response.get_data(as_text=True) == "3"


def test_the_root_path_of_a_module_with_a_relative_file_is_absolute(
    tmp_path: Any, monkeypatch: Any
) -> None:
    # _utils.get_root_path: an absolute folder even for a relative __file__, as
    # Flask's (U58: os.path.dirname alone gives "pkg").
    monkeypatch.chdir(tmp_path)
    module = types.ModuleType("muts43_relative_module")
    module.__file__ = os.path.join("pkg", "app.py")
    sys.modules[module.__name__] = module
    try:
        assert get_root_path(module.__name__) == str(tmp_path / "pkg")
    finally:
        del sys.modules[module.__name__]


async def test_stream_template_string_compiles_a_source_once() -> None:
    # templating.stream_template_string: the environment's compiled-string cache, as
    # render_template_string (T80: jinja's from_string, a compile per call).
    app = Microframework(__name__)
    seen: list[Any] = []

    def before(sender: Any, template: Any, context: Any) -> None:
        seen.append(template)

    with before_render_template.connected_to(before, app):
        async with app.app_context():
            for _ in range(2):
                response = await stream_template_string("{{ 2 * 3 }}")
                assert await response.get_data(as_text=True) == "6"
            await render_template_string("{{ 2 * 3 }}")
    assert len(seen) == 3
    assert seen[0] is seen[1] is seen[2]


async def test_the_environments_context_class_is_used() -> None:
    # templating._Template.new_context: jinja's Environment.context_class is an
    # override point; the fast path builds that class (T85: jinja's Context).
    class RecordingContext(Context):
        made = 0

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            RecordingContext.made += 1

    app = Microframework(__name__)
    app.jinja_env.context_class = RecordingContext
    async with app.app_context():
        assert await render_template_string("{{ 1 }}") == "1"
    assert RecordingContext.made == 1


def test_an_app_module_without_a_spec_gets_an_instance_folder_in_the_cwd(
    tmp_path: Any, monkeypatch: Any
) -> None:
    # _utils.find_instance_path: find_spec's ValueError (a module in sys.modules
    # without __spec__, as exec'd code makes) is no error: the cwd's instance folder,
    # as Flask (U61: only ImportError caught, the app could not be made).
    monkeypatch.chdir(tmp_path)
    module = types.ModuleType("muts43_specless_module")
    module.__file__ = str(tmp_path / "app.py")
    module.__spec__ = None
    sys.modules[module.__name__] = module
    try:
        app = Microframework(module.__name__)
        assert app.instance_path == str(tmp_path / "instance")
    finally:
        del sys.modules[module.__name__]


def test_a_namespace_portion_is_matched_by_folder_not_by_name_prefix(
    tmp_path: Any, monkeypatch: Any
) -> None:
    # _utils.find_instance_path: the portion holding the app is the one its file is
    # under (p + os.sep); "<e>/ns" is a string prefix of "<e>/nsX/ns/app.py" but not
    # its folder (U66: startswith(p), the instance beside the wrong portion).
    name = f"ns_{uuid.uuid4().hex[:8]}"
    first = tmp_path / "e"
    second = first / f"{name}X"
    (first / name).mkdir(parents=True)
    (second / name).mkdir(parents=True)
    (second / name / "app.py").write_text("")
    monkeypatch.syspath_prepend(os.fspath(second))
    monkeypatch.syspath_prepend(os.fspath(first))  # searched first
    monkeypatch.delitem(sys.modules, name, raising=False)
    monkeypatch.setattr(sys, "prefix", os.fspath(tmp_path / "env"))
    app = Microframework(f"{name}.app")
    assert app.instance_path == os.fspath(second / "instance")


def test_a_module_right_in_the_prefix_counts_as_installed(
    tmp_path: Any, monkeypatch: Any
) -> None:
    # _utils.find_instance_path: a module in sys.prefix itself is under it, as Flask's
    # is_relative_to says: <prefix>/var/<name>-instance (U68: only folders below it
    # counted, the instance beside the module).
    name = f"mod_{uuid.uuid4().hex[:8]}"
    prefix = tmp_path / "env"
    prefix.mkdir()
    (prefix / f"{name}.py").write_text("")
    monkeypatch.syspath_prepend(os.fspath(prefix))
    monkeypatch.delitem(sys.modules, name, raising=False)
    monkeypatch.setattr(sys, "prefix", os.fspath(prefix))
    app = Microframework(name)
    assert app.instance_path == os.fspath(prefix / "var" / f"{name}-instance")


class _Heard(Listener):
    # A listener that records what it hears and how often receive() failed.
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[Any] = []
        self.failures = 0
        self.stopped = asyncio.Event()

    def heard(self, message: Any) -> bool:
        self.messages.append(message)
        return False  # one message, then pause

    def failed(self) -> None:
        self.failures += 1
        self.stopped.set()


async def test_a_stopped_listener_takes_no_kept_receive_over() -> None:
    # _utils.Listener.listen: a stopped listener stays stopped, and leaves a kept
    # receive() with the listener that kept it, to close (U89: listen() took it
    # over, as a stopped listener never steps it: never closed).
    closed: list[bool] = []

    async def receive() -> Any:
        try:
            await asyncio.get_running_loop().create_future()
        finally:
            closed.append(True)

    first = _Heard()
    first.listen(receive)
    assert first.stop_listening(keep=True) is True
    second = _Heard()
    second.stop_listening()
    second.listen(receive, held=first)
    first.close_held()
    assert closed == [True]
    assert second.messages == []


@types.coroutine
def _bare_yield() -> Any:
    yield None  # as asyncio.sleep(0) does


async def test_a_kept_receive_that_yielded_bare_is_handed_over() -> None:
    # _utils.Listener.listen(held=): a kept receive() paused on a bare yield (no
    # future to wait on) is stepped on the loop's next pass by the new listener (U91:
    # treated as a future, AttributeError on None).
    async def receive() -> Any:
        await _bare_yield()
        return {"type": "http.request", "body": b"x"}

    first = _Heard()
    first.listen(receive)
    assert first.stop_listening(keep=True) is True
    second = _Heard()
    second.listen(receive, held=first)
    async with asyncio.timeout(LIMIT):
        while not second.messages:
            await asyncio.sleep(0)
    assert second.messages == [{"type": "http.request", "body": b"x"}]
    assert first.messages == []


@types.coroutine
def _foreign_wait() -> Any:
    yield "not an asyncio future"


async def test_a_receive_waiting_on_a_foreign_awaitable_stops_the_listener() -> None:
    # _utils.Listener.__call__: a yield asyncio can't wait on fails the listener and
    # stops it; resume() then does nothing (U98: not stopped, resume() called the
    # failing receive() again).
    calls: list[int] = []

    async def receive() -> Any:
        calls.append(1)
        await _foreign_wait()

    listener = _Heard()
    listener.listen(receive)
    assert listener.failures == 1
    listener.resume()
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert calls == [1]
    assert listener.failures == 1


async def test_a_server_future_that_is_cancelled_fails_the_listener() -> None:
    # _utils.Listener._got: a cancelled server future is a failed receive() (U99:
    # future.exception() raised CancelledError in the callback; failed() never ran).
    future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    listener = _Heard()
    listener.listen(lambda: future)
    future.cancel()
    async with asyncio.timeout(5):
        await listener.stopped.wait()
    assert listener.failures == 1
    assert listener.messages == []


async def test_a_paused_listener_keeps_nothing_when_stopped() -> None:
    # _utils.Listener.stop_listening: nothing pending (heard() paused it after a
    # message), so nothing is kept: False (UA4: True, a caller then waits on a
    # receive() nobody made).
    async def receive() -> Any:
        return {"type": "http.request"}

    listener = _Heard()
    listener.listen(receive)
    assert listener.messages == [{"type": "http.request"}]
    assert listener.stop_listening(keep=True) is False
    assert listener.take_held() is None


_VAR: contextvars.ContextVar[str] = contextvars.ContextVar("muts43", default="unset")


def _hand_stepped(receive: Any) -> Any:
    receive.__module__ = "microframework.muts43"  # stepped by hand, as a server's
    return receive


async def test_a_kept_receive_runs_on_in_the_listeners_context() -> None:
    # _utils.Listener.take_held: the kept receive() runs on in the context it was
    # stepped in, as a task's would (UA7: the caller's copy; what it set is gone).
    future: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    @_hand_stepped
    async def receive() -> Any:
        _VAR.set("mine")
        await future
        return {"type": "http.request", "seen": _VAR.get()}

    listener = _Heard()
    listener.listen(receive)
    assert listener.stop_listening(keep=True) is True
    held = listener.take_held()
    assert held is not None
    future.set_result(None)
    async with asyncio.timeout(LIMIT):
        message = await held
    assert message["seen"] == "mine"
    assert _VAR.get() == "unset"


async def test_a_kept_receive_is_closed_in_its_own_context() -> None:
    # _utils.Listener.close_held: the receive() is closed in its context, so its
    # cleanup sees (and may reset) what it set (UA9: closed in the caller's).
    seen: list[str] = []

    @_hand_stepped
    async def receive() -> Any:
        _VAR.set("mine")
        try:
            await asyncio.get_running_loop().create_future()
        finally:
            seen.append(_VAR.get())

    listener = _Heard()
    listener.listen(receive)
    assert listener.stop_listening(keep=True) is True
    listener.close_held()
    assert seen == ["mine"]
    assert _VAR.get() == "unset"


async def test_template_rendered_is_not_sent_for_a_render_that_fails() -> None:
    # templating._render: template_rendered is sent after the render, as Flask's;
    # a template that raises sends none (T70: sent first, for a render that failed).
    app = Microframework(__name__)
    rendered: list[Any] = []

    def receiver(sender: Any, template: Any, context: Any) -> None:
        rendered.append(template)

    with template_rendered.connected_to(receiver, app):
        async with app.app_context():
            with pytest.raises(ZeroDivisionError):
                await render_template_string("{{ 1 // 0 }}")
            assert rendered == []
            assert await render_template_string("{{ 1 }}") == "1"
    assert len(rendered) == 1
