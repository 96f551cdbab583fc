"""Pins from mutation testing (helper muts50, session 37): the survivors among the
mutants of ``cli.py`` and ``cli_group.py`` (the ``microframework`` command).

Each test kills a mutant that survived the CLI test files; its first comment names
the code it pins and the mutant id (see /tmp/s37/muts50/REPORT.md).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import click
import pytest
from click.testing import CliRunner

import microframework.cli
from microframework import Microframework
from microframework.cli import cli
from microframework.cli import MicroframeworkGroup
from microframework.cli import prepare_import


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


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


APP = "from microframework import Microframework\napp = Microframework(__name__)\n"


def fake_serve(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    served: list[dict[str, Any]] = []

    def serve_app(app: Microframework, **options: Any) -> int:
        served.append(options)
        return 0

    monkeypatch.setattr(microframework.cli, "serve_app", serve_app)
    return served


def test_prepare_import_climbs_every_package_level(tmp_path: Path) -> None:
    # cli.prepare_import: `while (folder / "__init__.py").is_file()` (M4 made it `if`):
    # a module two packages deep is named from the top package, whose parent goes on
    # sys.path, as Flask's prepare_import does.
    write(tmp_path / "top" / "__init__.py", "")
    write(tmp_path / "top" / "mid" / "__init__.py", "")
    write(tmp_path / "top" / "mid" / "web.py", APP)
    assert prepare_import("top/mid/web.py") == "top.mid.web"
    assert sys.path[0] == str(tmp_path)


def test_prepare_import_puts_the_folder_first_even_if_it_is_on_sys_path_later(
    tmp_path: Path,
) -> None:
    # cli.prepare_import: `if sys.path[:1] != [str(folder)]` (M6: `not in sys.path`):
    # the app's folder must come first, else a same-named module earlier on sys.path
    # is imported instead (Flask checks sys.path[0] too).
    write(tmp_path / "proj" / "hello.py", APP)
    sys.path.insert(1, str(tmp_path / "proj"))
    assert prepare_import("proj/hello.py") == "hello"
    assert sys.path[0] == str(tmp_path / "proj")


def test_extra_files_from_a_default_map_list_are_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # cli._SeparatedPaths.convert: a list (a default_map's value) is taken as already
    # split (M1 split it again, which fails on a list).
    write(tmp_path / "app.py", APP)
    served = fake_serve(monkeypatch)
    result = CliRunner().invoke(
        cli, ["run"], default_map={"run": {"extra_files": ["a.cfg", "b.cfg"]}}
    )
    assert result.exit_code == 0, result.output
    assert served[0]["extra_files"] == ["a.cfg", "b.cfg"]


def test_several_apps_are_named_by_their_first_name_once_each(tmp_path: Path) -> None:
    # cli.find_best_app: `found.setdefault(id(value), ...)` (M11 made it an assignment,
    # so the alias, bound later, named the app): one app under two names is listed
    # once, by the name it was first bound to.
    write(
        tmp_path / "several.py",
        "from microframework import Microframework\n"
        "first = Microframework('one')\nzz_alias = first\nsecond = Microframework('two')\n",
    )
    result = CliRunner().invoke(cli, ["--app", "several", "routes"])
    assert result.exit_code == 1
    assert "(first, second)" in result.output, result.output


def test_only_a_function_named_create_app_is_called_by_discovery(
    tmp_path: Path,
) -> None:
    # cli.find_best_app: `inspect.isfunction(factory)` (M14: `callable`): as Flask's,
    # discovery calls a plain function named create_app/make_app, not any callable
    # (a class, a partial) that happens to carry the name.
    write(
        tmp_path / "notfactory.py",
        "import functools\nfrom microframework import Microframework\n"
        "create_app = functools.partial(Microframework, 'partial')\n",
    )
    result = CliRunner().invoke(cli, ["--app", "notfactory", "routes"])
    assert result.exit_code == 1
    assert "Could not find an app" in result.output, result.output


def test_spaces_around_the_app_name_are_ignored(tmp_path: Path) -> None:
    # cli._parse_app_name: `app_name.strip()` (M18 dropped it: ast.parse then fails on
    # the leading space with IndentationError): "hello: app" is "hello:app".
    write(tmp_path / "hello.py", APP)
    result = CliRunner().invoke(cli, ["--app", "hello: app ", "routes"])
    assert result.exit_code == 0, result.output
    assert "/static/<path:filename>" in result.output


def test_a_folder_named_flaskenv_gets_no_porting_hint(tmp_path: Path) -> None:
    # cli._ported_hint: `os.path.isfile(name)` (M31: `exists`): only a .flaskenv file
    # is a ported project's settings; a folder of that name is not mentioned.
    (tmp_path / ".flaskenv").mkdir()
    result = CliRunner().invoke(cli, ["routes"])
    assert result.exit_code == 1
    assert "Could not find a Microframework app" in result.output
    assert ".flaskenv" not in result.output


def fake_dotenv() -> ModuleType:
    """A stand-in for python-dotenv's ``dotenv_values`` (KEY=VALUE lines)."""
    module = ModuleType("dotenv")

    def dotenv_values(path: Any, encoding: str = "utf-8") -> dict[str, str]:
        lines = Path(path).read_text(encoding).splitlines()
        return dict(line.split("=", 1) for line in lines if "=" in line)

    module.dotenv_values = dotenv_values  # type: ignore[attr-defined]
    return module


def test_the_app_a_dot_env_names_is_found_by_a_plain_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # cli.MicroframeworkGroup.__init__: `[_env_file_option, _app_option, ...]` in this
    # order (M42 swapped them): neither given, click handles them in declaration order,
    # so .env is loaded before --app reads MICROFRAMEWORK_APP.
    monkeypatch.setitem(sys.modules, "dotenv", fake_dotenv())
    write(
        tmp_path / "named.py",
        APP + "@app.route('/from-dotenv')\nasync def x():\n    return ''\n",
    )
    write(tmp_path / ".env", "MICROFRAMEWORK_APP=named\n")
    result = CliRunner().invoke(cli, ["routes"])
    assert result.exit_code == 0, result.output
    assert "/from-dotenv" in result.output


def test_version_names_werkzeug_too() -> None:
    # cli.get_version: `("microframework", "hypercorn", "werkzeug")` (M37 left werkzeug
    # out): as flask --version names Werkzeug, the routing library's version is shown.
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("Python ")
    assert [line.split()[0] for line in lines[1:]] == [
        "microframework",
        "hypercorn",
        "werkzeug",
    ]


def test_an_unguarded_app_run_in_the_app_module_is_ignored_by_the_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # cli.MicroframeworkGroup.make_context: `os.environ[RUN_FROM_CLI_ENV] = "true"`
    # (M47 dropped it): importing a module that calls app.run() at top level (as Flask's
    # quickstart scripts often do) must not serve; it is skipped with a hint.
    import microframework.serving

    served: list[Any] = []
    monkeypatch.setattr(
        microframework.serving, "serve_app", lambda app, **kw: served.append(app) or 0
    )
    write(tmp_path / "unguarded.py", APP + "app.run()\n")
    result = CliRunner().invoke(cli, ["--app", "unguarded", "routes"])
    assert result.exit_code == 0, result.output
    assert served == []
    assert "Ignoring a call to 'app.run()'" in result.output


def test_a_script_info_in_context_settings_is_the_one_used() -> None:
    # cli.MicroframeworkGroup.make_context: `"obj" not in self.context_settings` (M48
    # dropped it): a ScriptInfo given as context_settings["obj"] (Flask's way to pass
    # one) is used, not replaced by a default one that finds no app.
    info = microframework.cli.ScriptInfo(create_app=lambda: Microframework("given"))
    group = MicroframeworkGroup(context_settings={"obj": info})

    @group.command("which")
    def which() -> None:
        click.echo(
            f"app {click.get_current_context().find_object(microframework.cli.ScriptInfo).load_app().name}"
        )

    result = CliRunner().invoke(group, ["which"])
    assert result.exit_code == 0, result.output
    assert result.output == "app given\n"


def test_run_defaults_to_flasks_address_and_one_worker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # cli.run_command: `--port` default 5000 (M53: 8000), `--host` 127.0.0.1, one
    # worker: `flask run`'s address, as the docs' table says.
    write(tmp_path / "app.py", APP)
    served = fake_serve(monkeypatch)
    result = CliRunner().invoke(cli, ["run"])
    assert result.exit_code == 0, result.output
    options = served[0]
    assert (options["host"], options["port"], options["workers"]) == (
        "127.0.0.1",
        5000,
        1,
    )


def test_run_refuses_zero_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # cli.run_command: `--workers` is `IntRange(min=1)` (M54: min=0): no worker would
    # serve nothing; click refuses it as a usage error.
    write(tmp_path / "app.py", APP)
    served = fake_serve(monkeypatch)
    result = CliRunner().invoke(cli, ["run", "--workers", "0"])
    assert result.exit_code == 2
    assert "0 is not in the range x>=1" in result.output
    assert served == []


def test_flasks_werkzeug_options_are_warned_about_on_stderr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # cli._ignored: `err=True` (M64: stdout): the warning about an ignored werkzeug
    # option goes to stderr, with the server's other lines, not into stdout.
    write(tmp_path / "app.py", APP)
    served = fake_serve(monkeypatch)
    result = CliRunner().invoke(cli, ["run", "--with-threads"])
    assert result.exit_code == 0, result.output
    assert served
    assert "--with-threads is an option of werkzeug's server" in result.stderr
    assert result.stdout == ""


def test_the_shell_runs_as_the_standard_console_module() -> None:
    # cli.shell_command: `{"__name__": "__console__", ...}` (M76 left __name__ out, so
    # code typed in the shell saw builtins' name): as code.interact's console, and so a
    # class defined in the shell is "__console__.Thing".
    from microframework.testing.cli import MicroframeworkCliRunner

    result = MicroframeworkCliRunner(Microframework("named")).invoke(
        cli, ["shell"], input="class Thing: pass\n\nprint(__name__, Thing.__module__)\n"
    )
    assert result.exit_code == 0, result.output
    assert "__console__ __console__" in result.stdout


def test_shell_context_processors_run_in_the_app_context(
    tmp_path: Path,
) -> None:
    # cli.shell_command: `context.run(app.make_shell_context)` (M77 called it outside
    # the context the app context was pushed in): a processor may use current_app and g,
    # and what it puts on g is there in the shell.
    from microframework import current_app
    from microframework import g
    from microframework.testing.cli import MicroframeworkCliRunner

    app = Microframework("ctxshell")

    @app.shell_context_processor
    def names() -> dict[str, Any]:
        g.seen = "on g"
        return {"who": current_app.name}

    result = MicroframeworkCliRunner(app).invoke(
        cli, ["shell"], input="print(who, g.seen)\n"
    )
    assert result.exit_code == 0, result.output
    assert "ctxshell on g" in result.stdout


def test_the_shell_sets_up_completion_of_its_own_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # cli.shell_command: `enable_completion(ns)` (M79 dropped it): in a terminal, the
    # shell's names (app, g, the shell context's) complete on tab, as in flask shell.
    import microframework._console
    from microframework.testing.cli import MicroframeworkCliRunner

    completed: list[set[str]] = []
    monkeypatch.setattr(
        microframework._console,
        "enable_completion",
        lambda ns: completed.append(set(ns)),
    )
    app = Microframework("completing")
    app.shell_context_processor(lambda: {"extra": 1})
    result = MicroframeworkCliRunner(app).invoke(cli, ["shell"], input="")
    assert result.exit_code == 0, result.output
    assert len(completed) == 1
    assert {"app", "g", "extra"} <= completed[0]


def test_an_app_context_that_fails_to_push_for_a_command_leaves_no_loop_open(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # cli_group._PushedForCommand.__enter__: `self.runner.close()` when the push raises
    # (G10 dropped it): an appcontext_pushed receiver that raises must not leave the
    # command's event loop open (a leaked selector and socketpair per invocation).
    import asyncio.events

    from microframework import appcontext_pushed

    loops: list[asyncio.AbstractEventLoop] = []
    new_event_loop = asyncio.events.new_event_loop

    def tracked() -> asyncio.AbstractEventLoop:
        loops.append(loop := new_event_loop())
        return loop

    monkeypatch.setattr(asyncio.events, "new_event_loop", tracked)
    app = Microframework("failpush")

    @app.cli.command("hello")
    def hello() -> None:
        click.echo("never")

    def refuse(sender: Any, **extra: Any) -> None:
        raise RuntimeError("no push")

    appcontext_pushed.connect(refuse, app)
    try:
        result = CliRunner().invoke(
            MicroframeworkGroup(create_app=lambda: app), ["hello"]
        )
    finally:
        appcontext_pushed.disconnect(refuse, app)
    assert isinstance(result.exception, RuntimeError)
    assert loops
    assert all(loop.is_closed() for loop in loops)


def test_a_nested_group_of_another_app_runs_its_command_in_that_apps_context() -> None:
    # cli_group.push_for_command: `pushed is None or pushed.app is not app` (G13 kept
    # only the first test): ctx.meta is shared down the context chain, so a group for
    # another app, nested in the first app's commands, must push its own app's context.
    from microframework import current_app

    inner_app = Microframework("inner")

    @inner_app.cli.command("who")
    def who() -> None:
        click.echo(f"app {current_app.name}")

    outer_app = Microframework("outer")
    outer_app.cli.add_command(
        MicroframeworkGroup(name="sub", create_app=lambda: inner_app)
    )
    result = CliRunner().invoke(
        MicroframeworkGroup(create_app=lambda: outer_app), ["sub", "who"]
    )
    assert result.exit_code == 0, result.output
    assert result.output == "app inner\n"


def test_an_async_app_cli_group_callback_runs_in_the_app_context() -> None:
    # cli_group.AppGroup.group: an `async def` group callback is wrapped with
    # _in_context (G18 dropped it: the coroutine was never awaited, the body never ran). A lookup
    # through AppGroup.get_command wraps it too, so only a direct invocation shows it.
    from microframework import current_app

    app = Microframework("grouped")

    @app.cli.group()
    async def tools() -> None:
        click.echo(f"group of {current_app.name}")

    @tools.command()
    def check() -> None:
        click.echo("check ran")

    # Invoked directly (as a test passes the group object), so no lookup wraps it.
    from microframework.testing.cli import MicroframeworkCliRunner

    result = MicroframeworkCliRunner(app).invoke(tools, ["check"])
    assert result.exit_code == 0, result.output
    assert result.output == "group of grouped\ncheck ran\n"
