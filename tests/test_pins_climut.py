"""Pins from mutation testing the command line (cli, cli_group, serving, logging, _console)."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import os
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import click
import pytest
from click.testing import CliRunner

from microframework import current_app
from microframework import Microframework
from microframework.cli import cli
from microframework.cli import find_app_by_string
from microframework.cli import find_best_app
from microframework.cli import load_dotenv
from microframework.cli import load_script_app
from microframework.cli import MicroframeworkGroup
from microframework.cli import prepare_import
from microframework.cli import ScriptInfo
from microframework.logging import create_logger
from microframework.logging import has_level_handler
from microframework.serving import _bind_address
from microframework.serving import _check_bind
from microframework.serving import _sources_under
from microframework.testing.cli import MicroframeworkCliRunner


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test runs in its own folder; env, sys.path and imported modules are restored."""
    environ, path, modules = dict(os.environ), list(sys.path), set(sys.modules)
    for name in ("MICROFRAMEWORK_APP", "MICROFRAMEWORK_DEBUG", "PYTHONSTARTUP"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("MICROFRAMEWORK_RUN_FROM_CLI", raising=False)
    monkeypatch.chdir(tmp_path)
    yield
    os.environ.clear()
    os.environ.update(environ)
    sys.path[:] = path
    for name in set(sys.modules) - modules:
        del sys.modules[name]


def module_with(name: str, **attrs: Any) -> ModuleType:
    module = ModuleType(name)
    vars(module).update(attrs)
    return module


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """What ``run`` / ``app.run()`` would have served with, instead of serving."""
    import microframework.cli
    import microframework.serving

    calls: list[dict[str, Any]] = []

    def fake_serve(app: Any, **options: Any) -> int:
        calls.append(options)
        return 0

    monkeypatch.setattr(microframework.cli, "serve_app", fake_serve)
    monkeypatch.setattr(microframework.serving, "serve_app", fake_serve)
    return calls


# -- discovery ---------------------------------------------------------------------
def test_prepare_import_puts_a_folder_on_sys_path_once(tmp_path: Path) -> None:
    (tmp_path / "solo.py").write_text("")
    for _ in range(2):
        assert prepare_import(str(tmp_path / "solo.py")) == "solo"
    assert sys.path.count(os.path.realpath(tmp_path)) == 1


def test_an_application_attribute_wins_over_other_instances() -> None:
    # As Flask's find_best_app: "app", then "application", before any single instance.
    chosen, other = Microframework("chosen"), Microframework("other")
    module = module_with("several", application=chosen, other=other)
    assert find_best_app(module) is chosen


def test_a_factory_named_without_parentheses_is_called() -> None:
    # Flask: --app "hello:create_app" calls the function, as "hello:create_app()".
    made = Microframework("made")
    module = module_with("fact", create_app=lambda: made)
    module.create_app.__name__ = "create_app"
    assert find_app_by_string(module, "create_app") is made


def test_a_path_with_a_colon_before_a_slash_is_not_split(tmp_path: Path) -> None:
    # "C:\\app.py" or "C:/app.py" is a Windows drive, not "module:name"; on POSIX
    # a folder named "C:" shows the same rule.
    folder = tmp_path / "C:" / "apps"
    folder.mkdir(parents=True)
    (folder / "drive_app.py").write_text(
        "from microframework import Microframework\napp = Microframework('drive')\n"
    )
    app, locator = load_script_app(ScriptInfo(app_import_path="C:/apps/drive_app.py"))
    assert (app.name, locator) == ("drive", "drive_app:")


# -- the group and its options -------------------------------------------------------
def test_version_is_not_printed_while_parsing_resiliently(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Shell completion parses with resilient_parsing: --version must not print and exit.
    ctx = cli.make_context("microframework", ["--version"], resilient_parsing=True)
    ctx.close()
    assert "Python" not in capsys.readouterr().out


def test_a_custom_group_leaves_out_the_default_commands_and_version() -> None:
    app = Microframework("manage")
    bare = MicroframeworkGroup(
        name="manage",
        create_app=lambda: app,
        add_default_commands=False,
        add_version_option=False,
    )
    full = MicroframeworkGroup(name="manage", create_app=lambda: app)
    bare_help = CliRunner().invoke(bare, ["--help"]).stdout
    full_help = CliRunner().invoke(full, ["--help"]).stdout
    assert "--version" in full_help and "routes" in full_help
    assert "--version" not in bare_help
    assert not {"routes", "run", "shell"} & set(bare_help.split())


@pytest.mark.parametrize("set_debug_flag", [True, False])
def test_set_debug_flag_false_leaves_app_debug_alone(set_debug_flag: bool) -> None:
    app = Microframework("flagged")
    assert app.debug is False
    group = MicroframeworkGroup(
        name="manage", create_app=lambda: app, set_debug_flag=set_debug_flag
    )

    @app.cli.command()
    def show() -> None:
        click.echo(f"debug={current_app.debug}")

    result = CliRunner().invoke(group, ["show"], env={"MICROFRAMEWORK_DEBUG": "1"})
    assert result.exit_code == 0, result.output
    assert result.stdout == f"debug={set_debug_flag}\n"


@pytest.mark.parametrize("set_debug_flag", [True, False])
def test_the_command_turns_a_configured_debug_off_without_the_flag(
    set_debug_flag: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Flask's and Quart's CLIs: an app whose config says DEBUG = True (an old
    # tutorial's settings file) runs without debug pages unless --debug is given.
    monkeypatch.delenv("MICROFRAMEWORK_DEBUG", raising=False)
    app = Microframework("configured")
    app.config["DEBUG"] = True
    group = MicroframeworkGroup(
        name="manage", create_app=lambda: app, set_debug_flag=set_debug_flag
    )

    @app.cli.command()
    def show() -> None:
        click.echo(f"debug={current_app.debug}")

    result = CliRunner().invoke(group, ["show"])
    assert result.exit_code == 0, result.output
    assert result.stdout == f"debug={not set_debug_flag}\n"


def test_run_options_come_from_microframework_run_variables(
    served: list[dict[str, Any]],
) -> None:
    # docs/cli.md: "MICROFRAMEWORK_RUN_PORT, MICROFRAMEWORK_RUN_HOST, and so on".
    result = MicroframeworkCliRunner(Microframework("envrun")).invoke(
        cli,
        ["run"],
        env={"MICROFRAMEWORK_RUN_PORT": "8123", "MICROFRAMEWORK_RUN_HOST": "::1"},
    )
    assert result.exit_code == 0, result.output
    assert (served[0]["host"], served[0]["port"]) == ("::1", 8123)


def test_run_needs_a_certfile_with_a_keyfile(
    tmp_path: Path, served: list[dict[str, Any]]
) -> None:
    (tmp_path / "key.pem").write_text("x")
    result = MicroframeworkCliRunner(Microframework("tls")).invoke(
        cli, ["run", "--keyfile", "key.pem"]
    )
    assert result.exit_code == 2
    assert "--certfile and --keyfile must be given together" in result.stderr
    assert served == []


# -- routes ----------------------------------------------------------------------------
def test_routes_with_host_matching_show_and_sort_by_host() -> None:
    app = Microframework("hosts", host_matching=True, static_folder=None)
    # Registered, sorted by endpoint and sorted by host, the orders all differ.
    app.add_url_rule("/", "a_second", lambda: "", host="b.example")
    app.add_url_rule("/", "x_first", lambda: "", host="a.example")
    result = MicroframeworkCliRunner(app).invoke(cli, ["routes", "--sort", "domain"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["Endpoint", "Methods", "Host", "Rule"]
    assert [line.split() for line in lines[2:]] == [
        ["x_first", "GET", "a.example", "/"],
        ["a_second", "GET", "b.example", "/"],
    ]


def test_routes_with_host_matching_but_no_host_show_no_host_column() -> None:
    # As Flask 3.1: the column only when some rule is limited to a host.
    app = Microframework("hosts", host_matching=True, static_folder=None)
    app.add_url_rule("/", "index", lambda: "")
    result = MicroframeworkCliRunner(app).invoke(cli, ["routes"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0].split() == ["Endpoint", "Methods", "Rule"]


# -- shell -----------------------------------------------------------------------------
def test_shell_skips_a_pythonstartup_that_is_not_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As flask shell (and python): a PYTHONSTARTUP naming no file is ignored.
    monkeypatch.setenv("PYTHONSTARTUP", str(tmp_path / "missing.py"))
    result = MicroframeworkCliRunner(Microframework("s")).invoke(
        cli, ["shell"], input="print(6 * 7)\n"
    )
    assert result.exit_code == 0, result.output
    assert "42" in result.stdout


def test_system_exit_in_the_shell_ends_it() -> None:
    # As the standard console (and flask shell): exit() or SystemExit leaves the shell.
    app = Microframework("leaving")
    torn_down: list[BaseException | None] = []
    app.teardown_appcontext(torn_down.append)
    result = MicroframeworkCliRunner(app).invoke(
        cli, ["shell"], input="raise SystemExit(3)\nprint('still here')\n"
    )
    assert result.exit_code == 3
    assert "still here" not in result.stdout
    assert "Traceback" not in result.output
    assert torn_down == [None]


def test_without_a_terminal_the_shell_leaves_history_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from microframework._console import enable_completion

    calls: list[str] = []
    monkeypatch.setattr(sys.stdin, "isatty", lambda: False)
    monkeypatch.setattr(
        sys, "__interactivehook__", lambda: calls.append("hook"), raising=False
    )
    enable_completion({"app": None})
    assert calls == []


# -- app groups ----------------------------------------------------------------------
def test_an_async_command_may_invoke_another_async_command() -> None:
    app = Microframework("chain")

    @app.cli.command()
    async def inner() -> None:
        await asyncio.sleep(0)
        click.echo(f"inner in {current_app.name}")

    @app.cli.command()
    @click.pass_context
    async def outer(ctx: click.Context) -> None:
        await asyncio.sleep(0)
        ctx.invoke(inner)
        click.echo("outer done")

    result = MicroframeworkCliRunner(app).invoke(cli, ["outer"])
    assert result.exit_code == 0, (result.output, result.exception)
    assert result.stdout == "inner in chain\nouter done\n"


def test_an_app_command_runs_again_in_a_second_invocation() -> None:
    app = Microframework("twice")

    @app.cli.command()
    async def seed() -> None:
        click.echo(f"seeded {current_app.name}")

    runner = MicroframeworkCliRunner(app)
    for _ in range(2):
        result = runner.invoke(cli, ["seed"])
        assert (result.exit_code, result.stdout) == (0, "seeded twice\n"), result.output


# -- serving -----------------------------------------------------------------------------
def test_bind_addresses_put_ipv6_hosts_in_brackets() -> None:
    assert _bind_address("::1", 8000) == "[::1]:8000"
    assert _bind_address("127.0.0.1", 8000) == "127.0.0.1:8000"


def test_the_bind_probe_takes_an_ipv6_host() -> None:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback")
    assert _check_bind("::1", 0, "[::1]:0") > 0


def test_the_reloader_skips_hidden_folders_and_stops_at_its_limit(
    tmp_path: Path,
) -> None:
    for folder in (".git", ".venv", "node_modules", "pkg"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "m.py").write_text("")
    for index in range(3):
        (tmp_path / f"top{index}.py").write_text("")
    found = _sources_under(tmp_path)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in found) == [
        "pkg/m.py",
        "top0.py",
        "top1.py",
        "top2.py",
    ]
    assert len(_sources_under(tmp_path, most=2)) == 2


def fake_dotenv(values: dict[str, str | None]) -> ModuleType:
    """python-dotenv's dotenv_values: a line without "=" is a key whose value is None."""
    module = ModuleType("dotenv")
    module.dotenv_values = lambda path, encoding="utf-8": dict(values)  # type: ignore[attr-defined]
    return module


def test_an_env_file_key_without_a_value_is_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(
        sys.modules, "dotenv", fake_dotenv({"MF_BARE": None, "MF_SET": "1"})
    )
    monkeypatch.delenv("MF_BARE", raising=False)
    (tmp_path / ".env").write_text("MF_BARE\nMF_SET=1\n")
    assert load_dotenv() is True
    assert "MF_BARE" not in os.environ
    assert os.environ["MF_SET"] == "1"


def test_load_dotenv_without_files_returns_false(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "dotenv", fake_dotenv({"MF_NEVER": "1"}))
    assert load_dotenv() is False
    assert "MF_NEVER" not in os.environ


def test_app_run_without_a_module_level_app_serves_without_the_reloader(
    served: list[dict[str, Any]], caplog: pytest.LogCaptureFixture
) -> None:
    app = Microframework("local_only")  # no module holds it: nothing to reload from
    with caplog.at_level(logging.WARNING):
        app.run(debug=True, load_dotenv=False)
    assert served[0]["use_reloader"] is False
    assert "The reloader needs the app as a module-level variable" in caplog.text


def test_app_run_can_run_again_once_it_returns(served: list[dict[str, Any]]) -> None:
    app = Microframework("again")
    app.run(load_dotenv=False)
    assert "MICROFRAMEWORK_RUN_FROM_CLI" not in os.environ
    app.run(load_dotenv=False)
    assert len(served) == 2


async def test_run_task_passes_ca_certs_to_hypercorn(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import hypercorn.asyncio

    configs: list[Any] = []

    async def fake_serve(app: Any, config: Any, **kwargs: Any) -> None:
        configs.append(config)

    monkeypatch.setattr(hypercorn.asyncio, "serve", fake_serve)
    app = Microframework("tasked")
    async with asyncio.timeout(5):
        await app.run_task(host="::1", port=0, ca_certs="ca.pem")
    assert configs[0].ca_certs == "ca.pem"
    assert configs[0].bind == ["[::1]:0"]


# -- logging -------------------------------------------------------------------------
@pytest.fixture
def fresh_logger(request: pytest.FixtureRequest) -> Iterator[logging.Logger]:
    name = f"climut.{request.node.name}"
    logger = logging.getLogger(name)
    yield logger
    logger.handlers.clear()
    logger.setLevel(logging.NOTSET)
    logger.propagate = True


def test_debug_sets_the_loggers_level_only_if_unset(
    fresh_logger: logging.Logger,
) -> None:
    app = Microframework(fresh_logger.name)
    app.debug = True
    fresh_logger.setLevel(logging.WARNING)
    assert create_logger(app).level == logging.WARNING
    fresh_logger.setLevel(logging.NOTSET)
    assert create_logger(app).level == logging.DEBUG


def test_without_debug_the_loggers_level_stays_unset(
    fresh_logger: logging.Logger,
) -> None:
    app = Microframework(fresh_logger.name)
    assert create_logger(app).level == logging.NOTSET


def test_a_handler_above_the_level_or_past_propagate_does_not_count(
    fresh_logger: logging.Logger,
) -> None:
    fresh_logger.setLevel(logging.INFO)
    fresh_logger.propagate = False
    quiet = logging.StreamHandler()
    quiet.setLevel(logging.ERROR)
    fresh_logger.addHandler(quiet)
    assert has_level_handler(fresh_logger) is False
    quiet.setLevel(logging.INFO)
    assert has_level_handler(fresh_logger) is True


def test_propagation_stops_the_search_for_a_handler(
    fresh_logger: logging.Logger,
) -> None:
    child = logging.getLogger(fresh_logger.name + ".child")
    fresh_logger.addHandler(logging.NullHandler())
    assert has_level_handler(child) is True
    child.propagate = False
    try:
        assert has_level_handler(child) is False
    finally:
        child.propagate = True


def test_the_default_handler_is_not_added_when_one_would_emit(
    fresh_logger: logging.Logger,
) -> None:
    from microframework.logging import default_handler

    own = logging.NullHandler()
    fresh_logger.addHandler(own)
    assert create_logger(Microframework(fresh_logger.name)).handlers == [own]
    fresh_logger.removeHandler(own)
    fresh_logger.propagate = False
    assert default_handler in create_logger(Microframework(fresh_logger.name)).handlers


def test_the_default_handler_writes_flasks_format_to_stderr() -> None:
    code = textwrap.dedent(
        """\
        from microframework.logging import default_handler as handler
        print(handler.formatter._fmt)
        handler.stream.write("to stderr")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.stdout == (
        "[%(asctime)s] %(levelname)s in %(module)s: %(message)s\n"
    ), result.stderr
    assert result.stderr == "to stderr"  # (standard error as it is at each write)


def test_a_console_statement_runs_in_the_shared_context() -> None:
    # Each statement runs on the shell's runner, in the context the shell shares.
    from microframework._console import AsyncConsole

    seen: list[str] = []
    with asyncio.Runner() as runner:
        console = AsyncConsole({"seen": seen}, runner, contextvars.copy_context())
        console.push("seen.append('ran')")
    assert seen == ["ran"]


# -- more serving --------------------------------------------------------------------
@pytest.fixture
def supervised(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """serve_app with the reloader, stopped where it would start the worker processes."""
    import microframework.serving

    calls: list[dict[str, Any]] = []

    def fake_supervise(config: Any, workers: int, watch: Any) -> int:
        calls.append({"env": dict(os.environ), "workers": workers, "watch": watch})
        return 0

    monkeypatch.setattr(microframework.serving, "_supervise", fake_supervise)
    monkeypatch.setattr(microframework.serving, "_check_tls", lambda config: None)
    return calls


@pytest.mark.parametrize("main_first", [True, False])
def test_the_reloaders_workers_get_the_apps_debug_mode(
    supervised: list[dict[str, Any]], main_first: bool
) -> None:
    # app.run(debug=True) from a script: the worker makes the app again, and reads
    # debug mode from the environment only. The CLI's workers never run __main__.
    from microframework.serving import serve_app

    app = Microframework("debugged")
    app.debug = True
    status = serve_app(
        app, port=0, use_reloader=True, locator="__main__:app", main_first=main_first
    )
    assert status == 0
    env = supervised[0]["env"]
    assert env["MICROFRAMEWORK_DEBUG"] == "1"
    # app.run(): the script, to run again; the CLI: the app by its locator
    assert ("MICROFRAMEWORK_SERVE_MAIN" in env) is main_first
    assert ("MICROFRAMEWORK_SERVE_APP" in env) is not main_first
    assert "MICROFRAMEWORK_SERVE_MAIN" not in os.environ  # not left behind


def test_serving_with_a_certificate_says_https(
    supervised: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    from microframework.serving import serve_app

    app = Microframework("secure")
    serve_app(
        app,
        port=0,
        use_reloader=True,
        locator="secure:app",
        certfile="cert.pem",
        keyfile="key.pem",
    )
    assert " on https://127.0.0.1:" in capsys.readouterr().err


def test_a_worker_takes_debug_mode_from_the_environment_over_the_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As ScriptInfo.load_app in the first process: MICROFRAMEWORK_DEBUG wins when set.
    from microframework.serving import _worker_app

    (tmp_path / "coded.py").write_text(
        "from microframework import Microframework\n"
        "app = Microframework(__name__)\napp.debug = True\n"
    )
    prepare_import("coded.py")
    monkeypatch.setenv("MICROFRAMEWORK_SERVE_APP", "coded:app")
    monkeypatch.setenv("MICROFRAMEWORK_DEBUG", "0")
    assert _worker_app().debug is False


def test_an_unguarded_app_run_in_a_worker_stays_quiet(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MICROFRAMEWORK_RUN_FROM_CLI", "true")
    monkeypatch.setenv("MICROFRAMEWORK_SERVE_APP", "hello:app")
    Microframework("worker").run()
    assert capsys.readouterr().err == ""


def test_app_run_exits_with_the_servers_exit_code(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import microframework.serving

    monkeypatch.setattr(microframework.serving, "serve_app", lambda app, **kw: 3)
    with pytest.raises(SystemExit) as exited:
        Microframework("exiting").run(load_dotenv=False)
    assert exited.value.code == 3


def test_a_script_app_with_its_own_name_is_found_in_main(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # app = Microframework("shop") in a script run as `python shop_app.py`.
    from microframework.serving import _locator_for_instance

    app = Microframework("shop")
    monkeypatch.setitem(sys.modules, "__main__", module_with("__main__", web=app))
    assert _locator_for_instance(app) == "__main__:web"


# -- more app discovery and groups -------------------------------------------------------
def test_script_info_makes_the_app_once() -> None:
    made: list[Microframework] = []

    def create_app() -> Microframework:
        made.append(Microframework("once"))
        return made[-1]

    info = ScriptInfo(create_app=create_app)
    assert info.load_app() is info.load_app()
    assert len(made) == 1


def test_help_pushes_the_app_context_once() -> None:
    app = Microframework("helped")
    torn_down: list[BaseException | None] = []
    app.teardown_appcontext(torn_down.append)
    for name in ("one", "two", "three"):
        app.cli.command(name)(lambda: None)
    result = MicroframeworkCliRunner(app).invoke(cli, ["--help"])
    assert result.exit_code == 0, result.output
    assert {"one", "two", "three"} <= set(result.stdout.split())
    assert torn_down == [None]


def test_tab_completes_the_shells_own_names(monkeypatch: pytest.MonkeyPatch) -> None:
    readline = pytest.importorskip("readline")
    from microframework._console import enable_completion

    completers: list[Any] = []
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    monkeypatch.setattr(sys, "__interactivehook__", lambda: None, raising=False)
    monkeypatch.setattr(readline, "set_completer", completers.append)
    monkeypatch.setattr(readline, "parse_and_bind", lambda line: None)
    enable_completion({"climut_shell_name": 1})
    assert completers[-1]("climut_sh", 0) == "climut_shell_name"
