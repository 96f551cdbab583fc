"""CLI behaviours a user can reach that no other test exercised (found by a coverage run).

Uses test_cli.py's ``isolated`` fixture: each test runs in its own folder, and the
environment, ``sys.path`` and imported modules are restored after it.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from types import ModuleType

import click
import pytest
from click.testing import CliRunner
from click.testing import Result
from test_cli import isolated  # noqa: F401 (an autouse fixture)
from test_cli import write

from microframework import current_app
from microframework import g
from microframework import Microframework
from microframework.cli import cli
from microframework.cli import locate_app
from microframework.cli import MicroframeworkGroup
from microframework.cli import NoAppException
from microframework.cli import ScriptInfo
from microframework.cli import with_appcontext


def _main_group(app: Microframework, *args: str) -> Result:
    """The top-level ``microframework`` group, loading *app*."""
    return CliRunner().invoke(cli, list(args), obj=ScriptInfo(create_app=lambda: app))


def _hello_app() -> Microframework:
    app = Microframework("grpapp")

    @app.cli.command("hello")
    def hello() -> None:
        click.echo(f"hi {current_app.name} {g.get('marker', '-')}")

    return app


async def test_the_main_group_runs_an_app_command_from_a_running_loop() -> None:
    # From an async test the command pushes the context in its worker thread.
    asyncio.get_running_loop()
    result = _main_group(_hello_app(), "hello")
    assert (result.exit_code, result.output) == (0, "hi grpapp -\n")


async def test_the_main_group_uses_the_apps_context_already_pushed() -> None:
    # A thread without a running loop, that has the app's context (to_thread copies it).
    app = _hello_app()
    async with app.app_context():
        g.marker = "outer"
        result = await asyncio.to_thread(_main_group, app, "hello")
    assert (result.exit_code, result.output) == (0, "hi grpapp outer\n")


@pytest.mark.parametrize("in_loop", [False, True])
async def test_the_main_group_says_no_such_command_with_an_app(in_loop: bool) -> None:
    app = _hello_app()
    if in_loop:
        result = _main_group(app, "nosuch")
    else:
        result = await asyncio.to_thread(_main_group, app, "nosuch")
    assert result.exit_code == 2
    assert "No such command 'nosuch'" in result.stderr
    assert "Could not find" not in result.stderr  # the app was found


def test_an_added_command_without_a_callback_runs() -> None:
    app = Microframework("cliapp")
    app.cli.add_command(click.Command("nocb"))
    result = app.test_cli_runner().invoke(args=["nocb"])
    assert (result.exit_code, result.output, result.exception) == (0, "", None)


def test_an_added_with_appcontext_command_has_the_apps_context() -> None:
    app = Microframework("cliapp")

    @click.command("wac")
    @with_appcontext
    def wac() -> None:
        click.echo(f"wac {current_app.name}")

    app.cli.add_command(wac)
    result = app.test_cli_runner().invoke(args=["wac"])
    assert (result.exit_code, result.output) == (0, "wac cliapp\n")


def test_a_factory_returning_something_else_is_a_no_app_error(tmp_path: Path) -> None:
    write(tmp_path / "fact.py", "def create_app():\n    return None\n")
    with pytest.raises(NoAppException) as caught:
        ScriptInfo(app_import_path="fact").load_app()
    assert str(caught.value) == (
        "create_app() in module 'fact' returned NoneType, not a Microframework app."
    )


def test_a_builtin_factory_is_called_without_a_signature_check(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    module = ModuleType("factory")
    module.make = max  # type: ignore[attr-defined]  # a builtin: no signature
    monkeypatch.setitem(sys.modules, "factory", module)
    with pytest.raises(NoAppException) as caught:
        locate_app("factory", "make(1, 2)")
    assert str(caught.value) == (
        "make() in module 'factory' returned int, not a Microframework app."
    )


def test_plugin_commands_come_from_the_entry_point_group(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As flask.commands in Flask: installed packages add commands to the main group.
    site = tmp_path / "site"
    write(
        site / "fakeplug_cov-1.0.dist-info" / "entry_points.txt",
        "[microframework.commands]\nplugcmd = fakeplug_cov:plugcmd\n",
    )
    write(
        site / "fakeplug_cov-1.0.dist-info" / "METADATA",
        "Metadata-Version: 2.1\nName: fakeplug_cov\nVersion: 1.0\n",
    )
    write(
        site / "fakeplug_cov.py",
        "import click\n\n@click.command('plugcmd')\n"
        "def plugcmd():\n    click.echo('plugin ran')\n",
    )
    monkeypatch.syspath_prepend(str(site))
    group = MicroframeworkGroup(create_app=lambda: Microframework("plugapp"))
    result = CliRunner().invoke(group, ["plugcmd"])
    assert (result.exit_code, result.output) == (0, "plugin ran\n")
    assert "plugcmd" in CliRunner().invoke(group, ["--help"]).output
