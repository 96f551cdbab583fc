"""Pins from mutation testing (helper muts39, session 34): the survivors among the
mutants of the lines session 34 added or changed (see /tmp/s34/muts39/REPORT.md).

Each test kills a mutant that survived the related test files; its first comment names
the code it pins and the mutant id (see /tmp/s34/muts39/mutants.py).
"""

from __future__ import annotations

import asyncio
import contextvars
import gc
import math
import os
import sys
import textwrap
import weakref
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import click
import jinja2
import pytest
from asgi_harness import call
from asgi_harness import http_scope
from asgi_harness import Recorder
from asgi_harness import websocket_scope
from click.testing import CliRunner
from click.testing import Result

from microframework import Blueprint
from microframework import Microframework
from microframework import redirect
from microframework import render_template_string
from microframework import request
from microframework import Response
from microframework import websocket
from microframework._drain import Drain
from microframework.broadcast import Broadcast
from microframework.broadcast import Event
from microframework.testing import LifespanError
from microframework.testing import MicroframeworkCliRunner
from microframework.testing import WebsocketResponseError
from microframework.typing import Message
from microframework.wrappers.websocket import Websocket

_held: contextvars.ContextVar[Any] = contextvars.ContextVar("_held")


@pytest.fixture(autouse=True)
def _environment_restored() -> Iterator[None]:
    # The CLI sets variables (MICROFRAMEWORK_RUN_FROM_CLI, the debug flag, an env
    # file's) that a later app.run() in another test would obey.
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


class _Big:
    """What a request's context holds (the request, g, the session)."""


async def test_a_channels_linger_timer_keeps_no_request_alive() -> None:
    # _broadcast_redis.py unlisten: `loop.call_later(LINGER, self._unfollow, channel,
    # context=NO_CONTEXT)` (mutant 3 dropped the context): the last subscriber leaving
    # in a view arms a 2 s timer; a copy of the view's context would keep its request
    # (here _Big) alive until the timer fires.
    from microframework._broadcast_redis import RedisBackend

    def deliver(event: Event) -> None:
        pass

    def end_all(error: BaseException) -> None:
        pass

    backend = RedisBackend("redis://127.0.0.1:1", Broadcast(), deliver, end_all)
    big = _Big()
    ref = weakref.ref(big)
    view = contextvars.copy_context()
    view.run(_held.set, big)
    view.run(backend.unlisten, "room")
    del big, view
    gc.collect()
    try:
        assert ref() is None
    finally:
        for timer in backend._lingering.values():
            timer.cancel()


async def test_a_plain_def_handle_user_exception_answers_a_websocket() -> None:
    # _dispatch.py _dispatch_websocket: `rv = await settled(app.handle_user_exception(
    # exc))` (mutant 17 awaited the override's result as is): Flask's plain def override
    # answers a websocket handler's error too (here a refusal), not a TypeError.
    class FlaskStyle(Microframework):
        def handle_user_exception(self, e: Exception) -> Any:
            if isinstance(e, LookupError):
                return "lookup failed", 409
            return super().handle_user_exception(e)

    app = FlaskStyle(__name__)

    @app.websocket("/ws")
    async def handler() -> None:
        raise LookupError(websocket.path)

    async with asyncio.timeout(5):
        with pytest.raises(WebsocketResponseError) as info:
            async with app.test_client().websocket("/ws"):
                pass
    response = info.value.response
    assert (response.status_code, await response.get_data()) == (409, b"lookup failed")


async def test_a_run_tasks_trigger_starts_the_drain_with_the_configured_grace() -> None:
    # _drain.py Drain.after: `self.start(config["SHUTDOWN_GRACE_PERIOD"])` (mutant 20
    # gave it 0): once the trigger returns, the drain begins with the app's grace, not
    # an expired deadline that cuts what was still answering.
    drain = Drain()
    stop = asyncio.Event()
    stop.set()
    drained = drain.after(stop.wait, {"SHUTDOWN_GRACE_PERIOD": 30.0})
    await drained()
    try:
        assert drain.draining
        assert drain._timer is not None
        assert drain._timer.when() - asyncio.get_running_loop().time() > 20
    finally:
        drain.end()


async def test_a_run_tasks_drain_waits_for_its_trigger() -> None:
    # _drain.py Drain.after: `await trigger()` before `self.start(...)` (mutant 22
    # swapped them): the server runs, not draining (shutdown_event unset), until the
    # trigger returns.
    drain = Drain()
    stop = asyncio.Event()
    drained = asyncio.ensure_future(
        drain.after(stop.wait, {"SHUTDOWN_GRACE_PERIOD": 5})()
    )
    try:
        for _ in range(3):
            await asyncio.sleep(0)
        assert not drain.draining
        stop.set()
        async with asyncio.timeout(5):
            await drained
        assert drain.draining
    finally:
        drained.cancel()
        drain.end()


async def _partly_read(limit: float | None, length: bytes | None) -> dict[bytes, bytes]:
    """The response headers of a view that reads a POST's first chunk (of two, the
    second not sent yet), sent with ``Expect: 100-continue``, under *limit*."""
    app = Microframework(__name__)
    app.config["MAX_CONTENT_LENGTH"] = limit

    @app.post("/part")
    async def part() -> str:
        async for chunk in request.body:
            return chunk.decode()
        return ""

    headers = [(b"expect", b"100-continue")]
    headers.append(
        (b"transfer-encoding", b"chunked")
        if length is None
        else (b"content-length", length)
    )
    recorder = Recorder(b"ab", b"cd")
    async with asyncio.timeout(5):
        await call(app, http_scope("/part", method="POST", headers=headers), recorder)
    assert (recorder.status, recorder.body) == (200, b"ab")
    return recorder.headers


async def test_a_body_being_read_without_a_limit_keeps_the_connection() -> None:
    # _responses.py continue_unasked: `if limit is None or declared is None: return
    # False` (mutant 25 dropped `limit is None`): with no MAX_CONTENT_LENGTH, a body the
    # view is reading was asked for: the response does not close the connection.
    assert b"connection" not in await _partly_read(None, b"4")


async def test_a_body_being_read_of_exactly_the_limit_keeps_the_connection() -> None:
    # _responses.py continue_unasked: `declared <= limit` (mutant 26 made it `<`): a
    # declared length equal to MAX_CONTENT_LENGTH is allowed, so it was asked for.
    assert b"connection" not in await _partly_read(4, b"4")


async def test_a_body_being_read_under_a_float_limit_keeps_the_connection() -> None:
    # _responses.py continue_unasked: `isinstance(limit, int | float)` (mutant 29 made
    # it `int`): a MAX_CONTENT_LENGTH computed as a float (2.5 * 1024 * 1024) is a
    # number: a body declared under it, being read, was asked for.
    assert b"connection" not in await _partly_read(2.5 * 1024 * 1024, b"4")


def test_a_yes_no_variable_is_read_without_its_surrounding_spaces(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # _utils.py flag: `text.strip().lower()` (mutant 34 dropped strip()): a value
    # written " no " or "0 " (an .env line with a trailing space) is still no.
    from microframework.helpers import get_debug_flag

    for value in (" no ", "0 ", "\tfalse"):
        monkeypatch.setenv("MICROFRAMEWORK_DEBUG", value)
        assert get_debug_flag() is False
    monkeypatch.setenv("MICROFRAMEWORK_DEBUG", " 1 ")
    assert get_debug_flag() is True


def _cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *args: str, **env: str
) -> Result:
    """``microframework *args`` run in *tmp_path* with *env* only of its own."""
    from microframework.cli import cli

    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    # Unset, and restored afterwards: the command sets some (env files, --debug).
    for name in (
        "MICROFRAMEWORK_APP",
        "MICROFRAMEWORK_DEBUG",
        "FLASK_APP",
        "QUART_APP",
    ):
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    return CliRunner().invoke(cli, list(args), env=env)


def test_no_app_found_names_quarts_app_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # cli.py _ported_hint: `for name in ("FLASK_APP", "QUART_APP")` (mutant 40 left
    # QUART_APP out): a project ported from Quart is told its variable isn't read.
    result = _cli(tmp_path, monkeypatch, "routes", QUART_APP="hello")
    assert result.exit_code == 1
    assert "QUART_APP is not read here: set MICROFRAMEWORK_APP." in result.stderr


def test_no_app_found_names_quarts_env_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # cli.py _ported_hint: `for name in (".flaskenv", ".quartenv")` (mutant 43 left
    # .quartenv out): a Quart project's .quartenv is named as not read.
    (tmp_path / ".quartenv").write_text("QUART_APP=hello\n")
    result = _cli(tmp_path, monkeypatch, "routes")
    assert result.exit_code == 1
    assert ".quartenv is not read here: put its lines in .env" in result.stderr


def _unimported(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """Module *name* not imported, now and after the test (the test imports it)."""
    monkeypatch.setitem(sys.modules, name, ModuleType(name))
    monkeypatch.delitem(sys.modules, name)


_COMMANDED = """
from microframework import Microframework

app = Microframework(__name__)


@app.cli.command("{name}")
def {name}() -> None:
    pass
"""


def test_help_after_the_app_option_lists_that_apps_commands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # cli.py _set_app: `ctx.meta[_HANDLED + "app"] = True` (mutant 48 dropped it):
    # --help after --app lists that app's commands; handling the option again for help
    # read MICROFRAMEWORK_APP instead, another app.
    for name in ("given_app", "env_app"):
        (tmp_path / f"{name}.py").write_text(
            textwrap.dedent(_COMMANDED.format(name=name.replace("_app", "_cmd")))
        )
        _unimported(monkeypatch, name)
    result = _cli(
        tmp_path,
        monkeypatch,
        "--app",
        "given_app",
        "--help",
        MICROFRAMEWORK_APP="env_app",
    )
    assert result.exit_code == 0, result.output
    assert "given_cmd" in result.stdout
    assert "env_cmd" not in result.stdout


def _fake_dotenv() -> ModuleType:
    """A stand-in for python-dotenv's ``dotenv_values`` (KEY=VALUE lines)."""
    module = ModuleType("dotenv")

    def dotenv_values(path: Any, encoding: str = "utf-8") -> dict[str, str]:
        lines = Path(path).read_text(encoding).splitlines()
        return dict(line.split("=", 1) for line in lines if "=" in line)

    module.dotenv_values = dotenv_values  # type: ignore[attr-defined]
    return module


def test_help_after_another_option_finds_the_app_the_dot_env_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # cli.py list_commands: `for key, option in (("env", _env_file_option), ("app",
    # _app_option))` (mutant 53 left "env" out): help given after another option (so
    # before the env files were read) still finds the app the .env names.
    monkeypatch.setitem(sys.modules, "dotenv", _fake_dotenv())
    (tmp_path / "dotenv_app.py").write_text(_COMMANDED.format(name="dotenv_cmd"))
    _unimported(monkeypatch, "dotenv_app")
    (tmp_path / ".env").write_text("MICROFRAMEWORK_APP=dotenv_app\n")
    result = _cli(tmp_path, monkeypatch, "--no-debug", "--help")
    assert result.exit_code == 0, result.output
    assert "dotenv_cmd" in result.stdout


def _run_with_tls_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **env: str
) -> dict[str, Any]:
    """What ``microframework run`` passes to serve_app, run with *env*."""
    import microframework.cli

    served: list[dict[str, Any]] = []

    def serve_app(app: Microframework, **options: Any) -> int:
        served.append(options)
        return 0

    monkeypatch.setattr(microframework.cli, "serve_app", serve_app)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "cert.pem").write_text("x")
    (tmp_path / "key.pem").write_text("x")
    runner = MicroframeworkCliRunner(Microframework("tlsenv"))
    result = runner.invoke(microframework.cli.cli, ["run"], env=env)
    assert result.exit_code == 0, result.output
    return served[0]


def test_run_reads_the_key_from_flasks_variable_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # cli.py run's --keyfile: `envvar=_tls_env("KEY")` (mutant 57 dropped it): the key
    # is read from MICROFRAMEWORK_RUN_KEY (Flask's FLASK_RUN_KEY renamed) as the
    # certificate is from MICROFRAMEWORK_RUN_CERT.
    served = _run_with_tls_env(
        tmp_path,
        monkeypatch,
        MICROFRAMEWORK_RUN_CERT="cert.pem",
        MICROFRAMEWORK_RUN_KEY="key.pem",
    )
    assert (served["certfile"], served["keyfile"]) == ("cert.pem", "key.pem")


def _lambda_run(
    monkeypatch: pytest.MonkeyPatch, *args: str
) -> tuple[Result, list[dict[str, Any]]]:
    """``*args`` run by a MicroframeworkGroup whose create_app is a lambda (Flask's
    script pattern), serve_app recorded instead of serving."""
    import microframework.cli
    from microframework.cli import MicroframeworkGroup

    served: list[dict[str, Any]] = []

    def serve_app(app: Microframework, **options: Any) -> int:
        served.append(options)
        return 0

    monkeypatch.setattr(microframework.cli, "serve_app", serve_app)
    monkeypatch.setenv("MICROFRAMEWORK_DEBUG", "")
    group = MicroframeworkGroup(create_app=lambda: Microframework("lambdarun"))
    return CliRunner().invoke(group, list(args)), served


def test_a_plain_run_of_a_lambda_create_app_warns_of_no_reloader(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # cli.py _reloading: `if reload is None and app.debug:` (mutant 65 dropped
    # `app.debug`): without debug no reloader was wanted, so nothing is said about it.
    result, served = _lambda_run(monkeypatch, "run")
    assert result.exit_code == 0, result.output
    assert served[0]["use_reloader"] is False
    assert "reloader" not in caplog.text


def test_a_debug_run_without_reload_of_a_lambda_create_app_does_not_warn(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # cli.py _reloading: `if reload is None and app.debug:` (mutant 66 dropped `reload
    # is None`): --no-reload asked for no reloader: debug mode says nothing about it.
    result, served = _lambda_run(monkeypatch, "--debug", "run", "--no-reload")
    assert result.exit_code == 0, result.output
    assert served[0]["use_reloader"] is False
    assert "reloader" not in caplog.text


def test_a_bare_cli_group_decorator_registers_the_group() -> None:
    # cli_group.py AppGroup.group: `if len(args) == 1 and not kwargs and
    # callable(args[0]): return self.group()(args[0])` (mutant 70 made it `if False`):
    # ``@app.cli.group`` without parentheses, as click allows, makes a group; an async
    # callback runs as with parentheses.
    app = Microframework("baregroup")

    @app.cli.group
    async def db() -> None:
        click.echo("group ran")

    assert isinstance(db, click.Group)
    assert app.cli.commands["db"] is db

    @db.command()
    def migrate() -> None:
        click.echo("migrated")

    result = app.test_cli_runner().invoke(args=["db", "migrate"])
    assert result.exit_code == 0, result.output
    assert result.output == "group ran\nmigrated\n"


def test_an_async_plain_click_command_with_pass_context_runs() -> None:
    # cli_group.py with_event_loop: `inspect.iscoroutinefunction(inspect.unwrap(
    # callback))` (mutant 74 dropped unwrap): click's decorators (pass_context) wrap
    # an async def in a plain def: it is still run on a loop, not left unawaited.
    from microframework.cli import MicroframeworkGroup

    main = MicroframeworkGroup(create_app=lambda: Microframework("passctx"))

    @click.command()
    @click.pass_context
    async def added(ctx: click.Context) -> None:
        click.echo(f"added ran as {ctx.info_name}")

    main.add_command(added)
    result = MicroframeworkCliRunner(Microframework("passctx")).invoke(main, ["added"])
    assert result.exit_code == 0, result.output
    assert result.output == "added ran as added\n"


def test_running_an_added_async_command_leaves_the_command_alone() -> None:
    # cli_group.py with_event_loop: `command = copy.copy(command)` (mutant 75 dropped
    # the copy): the command added (which another group may hold too) keeps its own
    # callback; the group runs a wrapped copy.
    from microframework.cli import MicroframeworkGroup

    main = MicroframeworkGroup(create_app=lambda: Microframework("copied"))

    @click.command()
    async def added() -> None:
        click.echo("added ran")

    callback = added.callback
    main.add_command(added)
    result = MicroframeworkCliRunner(Microframework("copied")).invoke(main, ["added"])
    assert result.exit_code == 0, result.output
    assert added.callback is callback


def test_an_added_async_command_runs_without_an_app(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # cli_group.py with_event_loop: `_in_context(callback, load_app=False)` (mutant 76
    # loaded the app): a plain click command loads the app itself if it needs one; one
    # that doesn't runs where no app can be found.
    from microframework.cli import MicroframeworkGroup

    main = MicroframeworkGroup()

    @click.command()
    async def added() -> None:
        click.echo("added ran")

    main.add_command(added)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MICROFRAMEWORK_APP", "")
    monkeypatch.delenv("MICROFRAMEWORK_APP")
    result = CliRunner().invoke(main, ["added"])
    assert result.exit_code == 0, result.output
    assert result.output == "added ran\n"


@pytest.mark.parametrize(
    "key",
    [
        "BACKGROUND_TASK_SHUTDOWN_TIMEOUT",
        "BODY_SPOOL_SIZE",
        "BODY_TIMEOUT",
        "MAX_CONTENT_LENGTH",
        "MAX_FORM_MEMORY_SIZE",
        "MAX_FORM_PARTS",
        "RESPONSE_TIMEOUT",
        "SHUTDOWN_GRACE_PERIOD",
        "WEBSOCKET_MAX_MESSAGE_SIZE",
        "WEBSOCKET_QUEUE_SIZE",
        "WEBSOCKET_SEND_TIMEOUT",
    ],
)
async def test_every_numeric_key_holding_a_str_fails_at_startup(key: str) -> None:
    # config.py _NUMBERS (mutants 80-90 left one key out each): every key read as a
    # number is checked as the app starts: a str from the environment is an error
    # then, not a 500 (or a crash past the error handling) on the routes reading it.
    app = Microframework(__name__)
    app.config[key] = "60"
    with pytest.raises(LifespanError) as failed:
        async with asyncio.timeout(5), app.test_app():
            pass
    assert f"app.config[{key!r}] must be a number or None" in str(failed.value)


def test_a_nested_variable_is_not_read_as_a_top_level_yes_no_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # config.py from_prefixed_env: `if isinstance(self.get(leaf), bool) and not
    # parents` (mutant 91 dropped `not parents`): EXT__TESTING sets a key of EXT, not
    # the top-level TESTING: it is loaded as any value (as Flask does), not as a flag.
    from microframework.config import Config

    config = Config(".", {"TESTING": False})
    monkeypatch.setenv("MF39_EXT__TESTING", "no")
    monkeypatch.setenv("MF39_TESTING", "no")
    config.from_prefixed_env("MF39")
    assert config["EXT"] == {"TESTING": "no"}
    assert config["TESTING"] is False


def test_a_nan_form_limit_is_refused_as_not_an_int() -> None:
    # formparser.py _check_size: `if isinstance(value, float) and math.isfinite(value)`
    # (mutant 95 dropped isfinite): a NaN limit is the usual TypeError naming the
    # argument, not math.floor's "cannot convert float NaN to integer".
    from microframework.formparser import FormDataParser

    with pytest.raises(TypeError, match="max_form_parts must be an int, got float"):
        FormDataParser(max_form_parts=math.nan)  # type: ignore[arg-type]


def test_a_float_form_limit_is_rounded_down() -> None:
    # formparser.py _check_size: `value = math.floor(value)` (mutant 96 made it ceil):
    # a limit of 10.5 bytes lets 10 through, not 11, as Flask's `size > limit` does.
    from microframework.formparser import FormDataParser

    parser = FormDataParser(max_form_memory_size=10.5, max_form_parts=2.9)  # type: ignore[arg-type]
    assert (parser.max_form_memory_size, parser.max_form_parts) == (10, 2)


def test_a_negative_float_form_limit_is_refused() -> None:
    # formparser.py _check_size: `value = math.floor(value)` (mutant 97 made it
    # int(), which rounds -0.5 up to an allowed 0): a negative limit is refused.
    from microframework.formparser import FormDataParser

    with pytest.raises(ValueError, match="max_form_parts must be at least 0"):
        FormDataParser(max_form_parts=-0.5)  # type: ignore[arg-type]


def _importable_app() -> Microframework:
    """A module-level create_app: a worker (or the reloader's) can import it."""
    return Microframework("importable")


def _importable_run(
    monkeypatch: pytest.MonkeyPatch, *args: str
) -> tuple[Result, list[dict[str, Any]]]:
    import microframework.cli
    from microframework.cli import MicroframeworkGroup

    served: list[dict[str, Any]] = []

    def serve_app(app: Microframework, **options: Any) -> int:
        served.append(options)
        return 0

    monkeypatch.setattr(microframework.cli, "serve_app", serve_app)
    monkeypatch.setenv("MICROFRAMEWORK_DEBUG", "")
    group = MicroframeworkGroup(create_app=_importable_app)
    return CliRunner().invoke(group, list(args)), served


def test_a_module_level_create_app_may_run_with_the_reloader(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # cli.py _reloading: `if info.worker_locator is None and info.create_app is not
    # None` (mutant 60 made it `or`, 61 dropped the locator test): only a create_app no
    # worker can import is refused; a module-level one runs with --reload.
    result, served = _importable_run(monkeypatch, "run", "--reload")
    assert result.exit_code == 0, result.output
    assert served[0]["use_reloader"] is True
    assert served[0]["locator"] == f"{__name__}:_importable_app"


class _ComparableResponse(Response):
    """A response class with ``__eq__``, so with no ``__hash__`` (as Quart's allows)."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Response) and self.status_code == other.status_code


async def test_an_unhashable_redirect_is_followed_while_others_are_kept() -> None:
    # testing/client.py _pop: `except TypeError: return None` (mutant 108 caught
    # ValueError instead): an unhashable response is looked up in the client's weak
    # dict, which raises TypeError once it holds another (hashable) response: here one
    # kept from before the app's response_class changed.
    app = Microframework(__name__)

    @app.route("/go")
    async def go() -> Response:
        return redirect("/here")

    @app.route("/here")
    async def here() -> str:
        return "here"

    client = app.test_client()
    kept = await client.get("/here")  # hashable: the client keeps it
    app.response_class = _ComparableResponse
    response = await client.get("/go", follow_redirects=True)
    assert (response.status_code, await response.get_data()) == (200, b"here")
    assert await kept.get_data() == b"here"


class _DictBlueprint(Blueprint):
    """A blueprint whose templates come from a DictLoader (no searchpath)."""

    @property
    def jinja_loader(self) -> jinja2.BaseLoader | None:
        return jinja2.DictLoader({"other.html": "other"})


async def test_explain_template_loading_names_a_loader_without_folders(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # templating.py _explain: `getattr(loader, "searchpath", None) or
    # type(loader).__name__` (mutant 103 dropped the fallback): a loader with no
    # folders (a DictLoader, a PackageLoader's own) is named, not "not found in None".
    app = Microframework(__name__)
    app.config["EXPLAIN_TEMPLATE_LOADING"] = True
    app.register_blueprint(_DictBlueprint("dicts", __name__))
    async with app.app_context():
        with caplog.at_level("INFO", logger=app.logger.name):
            with pytest.raises(jinja2.TemplateNotFound):
                await render_template_string("{% include 'missing.html' %}")
    assert "  blueprint 'dicts': not found in DictLoader" in caplog.text


async def _drained_pending_handshake(
    app: Microframework | None, extensions: dict[str, Any]
) -> list[Message]:
    """What a Websocket still in its handshake sends when the drain reaches it."""

    async def receive() -> Message:
        await asyncio.get_running_loop().create_future()
        raise AssertionError("unreachable")

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    ws = Websocket(websocket_scope("/ws", extensions), receive, send, app)
    try:
        ws.on_drain(1001)
        assert ws._going_away is not None
        async with asyncio.timeout(5):
            await ws._going_away
    finally:
        ws.finish()
    return sent


async def test_a_pending_handshake_without_the_extension_closes_with_the_drains_code() -> (
    None
):
    # wrappers/websocket.py _go_away: `... and self._answers()` (mutant 122 dropped
    # it): without websocket.http.response no 503 can be sent: the handshake is closed
    # with the drain's code (1001, going away), not the refusal's 1008.
    sent = await _drained_pending_handshake(Microframework(__name__), {})
    assert [(m["type"], m.get("code")) for m in sent] == [("websocket.close", 1001)]


async def test_a_pending_handshake_of_a_websocket_without_an_app_is_closed() -> None:
    # wrappers/websocket.py _go_away: `... and self._app is not None and ...` (mutant
    # 126 dropped it): a Websocket made without an app has no response_class to refuse
    # with: it closes with the drain's code instead of failing.
    sent = await _drained_pending_handshake(None, {"websocket.http.response": {}})
    assert [(m["type"], m.get("code")) for m in sent] == [("websocket.close", 1001)]


async def test_a_pending_handshake_refused_by_the_drain_says_why() -> None:
    # wrappers/websocket.py _GONE (mutant 131 emptied it): the 503 answering a
    # handshake the drain reached says the server is shutting down, so a client (or
    # its user) knows to try again.
    app = Microframework(__name__)
    sent = await _drained_pending_handshake(app, {"websocket.http.response": {}})
    assert sent[0]["type"] == "websocket.http.response.start"
    assert sent[0]["status"] == 503
    body = b"".join(m.get("body", b"") for m in sent[1:])
    assert b"The server is shutting down: try again." in body


def test_workers_for_a_lambda_create_app_are_refused_naming_create_app(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # cli.py _reloading: `if reload or workers > 1:` (mutant 62 dropped `workers > 1`,
    # 64 made it `> 2`): two workers need an importable create_app: refused before
    # serving, with the advice for a script's MicroframeworkGroup (serve_app's own
    # refusal names only --app, which such a script doesn't use).
    result, served = _lambda_run(monkeypatch, "run", "--workers", "2")
    assert result.exit_code == 1
    assert served == []
    assert "create_app given to MicroframeworkGroup must be a module-level" in (
        result.stderr.replace("\n", "")
    )
