"""The ``microframework`` command line: discovery, env files, commands, serving, debug page."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib
import keyword
import os
import re
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import click
import pytest
from asgi_harness import http_scope
from click.testing import CliRunner
from click.testing import Result
from hypothesis import given
from hypothesis import strategies as st

from microframework import cli as cli_module
from microframework import current_app
from microframework import g
from microframework import has_app_context
from microframework import Microframework
from microframework import Request
from microframework.cli import _parse_app_name
from microframework.cli import AppGroup
from microframework.cli import cli
from microframework.cli import find_app_by_string
from microframework.cli import load_dotenv
from microframework.cli import locate_app
from microframework.cli import MicroframeworkGroup
from microframework.cli import NoAppException
from microframework.cli import prepare_import
from microframework.cli import RUN_FROM_CLI_ENV
from microframework.cli import ScriptInfo
from microframework.cli import SERVE_APP_ENV
from microframework.debug import DebugPages
from microframework.debug import render_debug_page
from microframework.serving import _worker_app
from microframework.testing.cli import MicroframeworkCliRunner

HELLO = """
from microframework import Microframework

app = Microframework(__name__)

@app.get("/")
async def index():
    return "hello from " + app.name

@app.websocket("/ws")
async def ws():
    pass
"""


_TEST_MODULES = (
    *("afact", "app", "asgi", "broken", "fact", "factory", "fails", "fromenv"),
    *(
        "hello",
        "names",
        "startfail",
        "pkg",
        "pkg.web",
        "plain",
        "runs",
        "script",
        "single",
        "two",
    ),
)


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test runs in its own folder; env, sys.path and imported modules are restored."""
    environ = dict(os.environ)
    path = list(sys.path)
    # Names these tests give their app modules; another test (an example's) may have
    # imported a module of the same name, which would be found instead of ours.
    for name in _TEST_MODULES:
        monkeypatch.delitem(sys.modules, name, raising=False)
    modules = set(sys.modules)
    for name in ("MICROFRAMEWORK_APP", "MICROFRAMEWORK_DEBUG", RUN_FROM_CLI_ENV):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    yield
    os.environ.clear()
    os.environ.update(environ)
    sys.path[:] = path
    for name in set(sys.modules) - modules:
        del sys.modules[name]


def write(path: Path, source: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source))
    importlib.invalidate_caches()
    return path


def invoke(*args: str, obj: ScriptInfo | None = None, **kwargs: Any) -> Result:
    if obj is not None:
        kwargs["obj"] = obj
    return CliRunner().invoke(cli, list(args), **kwargs)


def error_line(result: Result) -> str:
    """The error output, which must be exactly one line."""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output
    return lines[0]


# -- discovery --------------------------------------------------------------------
def test_app_option_finds_module_attribute(tmp_path: Path) -> None:
    write(
        tmp_path / "hello.py", HELLO.replace("app = ", "web = ").replace("@app", "@web")
    )
    result = invoke("--app", "hello:web", "routes")
    assert result.exit_code == 0, result.output
    assert "index" in result.stdout


def test_app_option_accepts_a_file_path_inside_a_package(tmp_path: Path) -> None:
    write(tmp_path / "src" / "pkg" / "__init__.py", "")
    write(tmp_path / "src" / "pkg" / "web.py", HELLO)
    info = ScriptInfo(app_import_path="src/pkg/web.py")
    app = info.load_app()
    assert app.import_name == "pkg.web"
    assert sys.path[0] == str(tmp_path / "src")
    assert info.worker_locator == "pkg.web:"


def test_prepare_import_turns_paths_and_names_into_module_names(tmp_path: Path) -> None:
    write(tmp_path / "pkg" / "__init__.py", "")
    assert prepare_import("pkg/__init__.py") == "pkg"
    assert prepare_import("pkg/sub.py") == "pkg.sub"
    assert prepare_import("plain") == "plain"


def test_factory_is_called_with_literal_arguments(tmp_path: Path) -> None:
    write(
        tmp_path / "factory.py",
        """
        from microframework import Microframework

        def create_app(env, *, debug=False, extra=None):
            app = Microframework(__name__)
            app.config.update(ENV=env, FLAG=debug, EXTRA=extra)
            return app
        """,
    )
    info = ScriptInfo(
        app_import_path="factory:create_app('dev', debug=True, extra=[1, {'a': None}])"
    )
    app = info.load_app()
    assert (app.config["ENV"], app.config["FLAG"], app.config["EXTRA"]) == (
        "dev",
        True,
        [1, {"a": None}],
    )
    assert info.worker_locator == (
        "factory:create_app('dev', debug=True, extra=[1, {'a': None}])"
    )


@pytest.mark.parametrize("factory", ["create_app", "make_app"])
def test_factory_is_found_by_its_conventional_name(
    tmp_path: Path, factory: str
) -> None:
    write(
        tmp_path / "fact.py",
        f"""
        from microframework import Microframework

        def {factory}():
            return Microframework("made_by_{factory}")
        """,
    )
    assert ScriptInfo(app_import_path="fact").load_app().name == f"made_by_{factory}"


def test_a_single_app_is_found_under_any_name(tmp_path: Path) -> None:
    write(
        tmp_path / "single.py",
        HELLO.replace("app = ", "website = ")
        .replace("@app", "@website")
        .replace("+ app.name", ""),
    )
    assert ScriptInfo(app_import_path="single").load_app().import_name == "single"


def test_several_apps_is_an_error_naming_them(tmp_path: Path) -> None:
    write(
        tmp_path / "two.py",
        """
        from microframework import Microframework
        one = Microframework("one")
        two = Microframework("two")
        """,
    )
    result = invoke("--app", "two", "routes")
    assert result.exit_code == 1
    assert "several apps in module 'two' (one, two)" in error_line(result)


def test_app_is_taken_from_the_environment_variable(tmp_path: Path) -> None:
    write(tmp_path / "fromenv.py", HELLO)
    result = invoke("routes", env={"MICROFRAMEWORK_APP": "fromenv"})
    assert result.exit_code == 0, result.output
    assert "/ws" in result.stdout


def test_help_lists_the_commands_of_the_app_the_environment_names(
    tmp_path: Path,
) -> None:
    # As Flask 3.1: "--help" alone loaded no app, and said none could be found.
    source = HELLO + "\n@app.cli.command('init-db')\ndef init_db():\n    pass\n"
    write(tmp_path / "fromenv.py", source)
    result = invoke("--help", env={"MICROFRAMEWORK_APP": "fromenv"})
    assert result.exit_code == 0, result.output
    assert "init-db" in result.stdout
    assert "Error" not in result.stderr


@pytest.mark.parametrize("first", ["--debug", "--no-debug"])
def test_help_after_another_option_finds_the_app_the_environment_names(
    tmp_path: Path, first: str
) -> None:
    # click handled --help before the --app option it wasn't given: "Could not find".
    source = HELLO + "\n@app.cli.command('init-db')\ndef init_db():\n    pass\n"
    write(tmp_path / "fromenv.py", source)
    result = invoke(first, "--help", env={"MICROFRAMEWORK_APP": "fromenv"})
    assert result.exit_code == 0, result.output
    assert "init-db" in result.stdout
    assert "Error" not in result.stderr


def test_help_after_an_env_file_finds_the_app_it_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "dotenv", fake_dotenv())
    source = HELLO + "\n@app.cli.command('init-db')\ndef init_db():\n    pass\n"
    write(tmp_path / "fromfile.py", source)
    write(tmp_path / "app.env", "MICROFRAMEWORK_APP=fromfile\n")
    result = invoke("-e", str(tmp_path / "app.env"), "--help")
    assert result.exit_code == 0, result.output
    assert "init-db" in result.stdout


def test_asgi_py_is_preferred_to_app_py(tmp_path: Path) -> None:
    write(tmp_path / "app.py", HELLO)
    write(
        tmp_path / "asgi.py",
        "from microframework import Microframework\napp = Microframework('asgi_app')\n",
    )
    info = ScriptInfo()
    assert info.load_app().name == "asgi_app"
    assert info.worker_locator == "asgi:"


def test_app_py_is_found_by_default(tmp_path: Path) -> None:
    write(tmp_path / "app.py", HELLO)
    result = invoke("routes")
    assert result.exit_code == 0, result.output
    assert "index" in result.stdout


def test_no_app_found_is_one_line() -> None:
    result = invoke("routes")
    assert result.exit_code == 1
    assert error_line(result).startswith("Error: Could not find a Microframework app.")


def test_no_app_found_names_a_ported_projects_settings(tmp_path: Path) -> None:
    # A ported project's .flaskenv or FLASK_APP got "Could not find" with no hint.
    write(tmp_path / ".flaskenv", "FLASK_APP=hello\n")
    result = invoke("routes", env={"FLASK_APP": "hello"})
    assert result.exit_code == 1
    line = error_line(result)
    assert "FLASK_APP is not read here: set MICROFRAMEWORK_APP." in line
    assert ".flaskenv is not read here: put its lines in .env" in line


def test_missing_module_is_one_line() -> None:
    result = invoke("--app", "not_a_module", "routes")
    assert error_line(result) == "Error: Could not import 'not_a_module'."


def test_locate_app_may_return_none_for_a_missing_module(tmp_path: Path) -> None:
    # Flask's signature: ``raise_if_not_found=False`` turns only "no such module" into None.
    assert locate_app("not_a_module", None, raise_if_not_found=False) is None
    assert locate_app("not_a_module.sub", None, False) is None
    with pytest.raises(NoAppException, match="Could not import"):
        locate_app("not_a_module", None)
    name = prepare_import(
        str(write(tmp_path / "broken2.py", "import elsewhere_none\n"))
    )
    with pytest.raises(NoAppException, match="an error was raised"):
        locate_app(name, None, raise_if_not_found=False)


def test_import_error_inside_the_module_shows_its_traceback(tmp_path: Path) -> None:
    write(tmp_path / "broken.py", "import os\nimport not_installed_anywhere\n")
    result = invoke("--app", "broken", "routes")
    assert result.exit_code == 1
    assert result.stderr.startswith(
        "Error: While importing 'broken', an error was raised:"
    )
    assert 'broken.py", line 2, in <module>' in result.stderr
    assert "No module named 'not_installed_anywhere'" in result.stderr
    # Only the user's frames: neither importlib's nor ours.
    assert "importlib" not in result.stderr
    assert "cli.py" not in result.stderr


def test_a_factory_that_raises_shows_its_traceback(tmp_path: Path) -> None:
    # Flask's tutorial imports blueprints inside create_app(): a mistake there is
    # found by its file and line, which a one-line message didn't give.
    write(tmp_path / "views.py", "PAGE = 10\nSIZE = DEFAULT_PAGE_SIZE\n")
    write(
        tmp_path / "fails.py",
        "def create_app():\n    import views\n    return views\n",
    )
    result = invoke("--app", "fails", "routes")
    assert result.exit_code == 1
    assert result.stderr.startswith(
        "Error: create_app() in module 'fails' raised an error:"
    )
    assert 'fails.py", line 2, in create_app' in result.stderr
    assert 'views.py", line 2, in <module>' in result.stderr
    assert "NameError: name 'DEFAULT_PAGE_SIZE' is not defined" in result.stderr
    assert "cli.py" not in result.stderr


def test_factory_called_with_wrong_arguments_is_one_line(tmp_path: Path) -> None:
    write(
        tmp_path / "fact.py",
        "def create_app(name):\n    raise AssertionError('not called')\n",
    )
    result = invoke("--app", "fact:create_app(1, 2)", "routes")
    assert (
        "Could not call create_app() in module 'fact' with the arguments given"
        in error_line(result)
    )


@pytest.mark.parametrize(
    ("app_name", "message"),
    [
        ("create_app(os.getcwd())", "must be Python literals"),
        ("create_app(**{'a': 1})", "must be Python literals"),
        ("app.attr", "Could not parse"),
        ("1 +", "Could not parse"),
        ("missing", "has no attribute 'missing'"),
        ("VALUE", "is an int, not a Microframework app"),
        ("VALUE()", "is an int, not a factory to call"),
        ("NAME", "is a str, not a Microframework app"),
    ],
)
def test_bad_app_names_are_one_line(
    tmp_path: Path, app_name: str, message: str
) -> None:
    write(tmp_path / "names.py", "VALUE = 1\nNAME = 'x'\n")
    result = invoke("--app", f"names:{app_name}", "routes")
    assert message in error_line(result)


def test_an_app_module_may_share_a_name_with_the_shells_stdlib_module(
    tmp_path: Path,
) -> None:
    # The CLI imported the standard library's `code` (for `shell`) at start-up, so
    # `--app code.py` found that module instead of the app.
    write(tmp_path / "code.py", HELLO)
    result = subprocess.run(
        [sys.executable, "-m", "microframework", "--app", "code.py", "routes"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "index" in result.stdout


def test_async_factory_is_rejected_without_a_warning(tmp_path: Path) -> None:
    write(tmp_path / "afact.py", "async def create_app():\n    pass\n")
    result = invoke("--app", "afact", "routes")
    assert "is async; an app factory must be a plain function" in error_line(result)


@given(st.text())
def test_any_app_name_either_parses_or_is_a_no_app_error(app_name: str) -> None:
    module = ModuleType("names")
    try:
        find_app_by_string(module, app_name)
    except NoAppException:
        pass


literals = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text()
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.text(), children, max_size=3)
    ),
    max_leaves=8,
)


@given(
    st.lists(literals, max_size=3),
    st.dictionaries(
        st.from_regex(r"[a-z][a-z0-9_]{0,5}", fullmatch=True).filter(
            lambda name: not keyword.iskeyword(name)
        ),
        literals,
        max_size=3,
    ),
)
def test_literal_arguments_round_trip_to_the_factory(
    args: list[Any], kwargs: dict[str, Any]
) -> None:
    call = (
        "create_app("
        + ", ".join([*map(repr, args), *(f"{k}={v!r}" for k, v in kwargs.items())])
        + ")"
    )
    name, parsed_args, parsed_kwargs, called = _parse_app_name(call)
    assert (name, parsed_args, parsed_kwargs, called) == (
        "create_app",
        args,
        kwargs,
        True,
    )


# -- env files and debug ------------------------------------------------------------
def fake_dotenv() -> ModuleType:
    """A stand-in for python-dotenv's ``dotenv_values`` (KEY=VALUE lines)."""
    module = ModuleType("dotenv")

    def dotenv_values(path: Any, encoding: str = "utf-8") -> dict[str, str]:
        lines = Path(path).read_text(encoding).splitlines()
        return dict(line.split("=", 1) for line in lines if "=" in line)

    module.dotenv_values = dotenv_values  # type: ignore[attr-defined]
    return module


def test_env_files_load_without_overriding_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "dotenv", fake_dotenv())
    monkeypatch.setenv("MF_A", "from environment")
    write(tmp_path / ".env", "MF_A=env\nMF_B=env\nMF_C=env\n")
    write(tmp_path / ".microframeworkenv", "MF_B=mfenv\nMF_C=mfenv\nMF_D=mfenv\n")
    write(tmp_path / "custom.env", "MF_C=custom\n")
    assert load_dotenv(tmp_path / "custom.env") is True
    # As Flask's .env over .flaskenv: the private .env overrides the committed file.
    assert [os.environ[f"MF_{k}"] for k in "ABCD"] == [
        "from environment",
        "env",
        "custom",
        "mfenv",
    ]


def test_env_files_are_found_in_parent_folders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "dotenv", fake_dotenv())
    write(tmp_path / ".env", "MF_PARENT=yes\n")
    (tmp_path / "child").mkdir()
    monkeypatch.chdir(tmp_path / "child")
    assert load_dotenv() is True
    assert os.environ["MF_PARENT"] == "yes"


def test_dotenv_sets_the_app_for_the_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "dotenv", fake_dotenv())
    write(tmp_path / "hello.py", HELLO)
    write(tmp_path / "settings.env", "MICROFRAMEWORK_APP=hello\n")
    result = invoke("--env-file", "settings.env", "routes")
    assert result.exit_code == 0, result.output
    assert "index" in result.stdout


@pytest.mark.parametrize(("skip", "loaded"), [("1", False), ("false", True)])
def test_skip_dotenv_turns_the_default_files_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, skip: str, loaded: bool
) -> None:
    # Flask's FLASK_SKIP_DOTENV (Quart's QUART_SKIP_DOTENV), for runners that load
    # the files themselves; variables already set still win, --env-file still loads.
    monkeypatch.setitem(sys.modules, "dotenv", fake_dotenv())
    monkeypatch.setenv("MICROFRAMEWORK_SKIP_DOTENV", skip)
    monkeypatch.delenv("MF_FROM_FILE", raising=False)
    write(tmp_path / "hello.py", HELLO)
    write(tmp_path / ".env", "MICROFRAMEWORK_APP=hello\nMF_FROM_FILE=yes\n")
    result = invoke("--app", "hello", "routes")
    assert result.exit_code == 0, result.output
    assert (os.environ.get("MF_FROM_FILE") == "yes") is loaded


def test_env_files_without_python_dotenv_are_skipped_with_a_tip(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Skipped in silence, the app the .env names was "not found": say why, as Flask.
    monkeypatch.setitem(sys.modules, "dotenv", None)  # makes the import fail
    write(tmp_path / ".env", "MICROFRAMEWORK_APP=nowhere\n")
    write(tmp_path / "app.py", HELLO)
    assert load_dotenv() is False
    result = invoke("routes")
    assert result.exit_code == 0, result.output
    assert result.stderr == (
        " * Tip: There are .env files present. Install python-dotenv to use them.\n"
    )
    (tmp_path / ".env").unlink()
    assert invoke("routes").stderr == ""  # no file, no tip


def test_env_file_option_without_python_dotenv_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "dotenv", None)
    write(tmp_path / "x.env", "A=1\n")
    result = invoke("--env-file", "x.env", "routes")
    assert result.exit_code == 2
    assert "python-dotenv must be installed" in result.stderr


@pytest.mark.parametrize(
    ("flag", "expected"), [("--debug", True), ("--no-debug", False)]
)
def test_debug_flag_sets_app_debug_and_the_environment(
    tmp_path: Path, flag: str, expected: bool
) -> None:
    write(
        tmp_path / "hello.py",
        HELLO.replace(
            "app = Microframework(__name__)",
            "app = Microframework(__name__)\napp.debug = not " + str(expected),
        ),
    )
    info = ScriptInfo(app_import_path="hello")
    result = invoke(flag, "routes", obj=info)
    assert result.exit_code == 0, result.output
    assert info.load_app().debug is expected
    assert os.environ["MICROFRAMEWORK_DEBUG"] == ("1" if expected else "0")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["run", "--debug"], "on"),
        (["run", "--no-debug"], "off"),
        (["--no-debug", "run", "--debug"], "on"),
    ],
)
def test_debug_flag_is_accepted_after_run(args: list[str], expected: str) -> None:
    app = Microframework("late_flag")
    app.debug = expected == "off"  # the flag has to change it
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        result = MicroframeworkCliRunner(app).invoke(
            cli, [*args, "--no-reload", "--port", port]
        )
    # The port is taken, so run stops before serving (and before saying how it would).
    assert result.exit_code == 1, result.output
    assert app.debug is (expected == "on")


@pytest.mark.parametrize(
    "flag", ["--no-debugger", "--debugger", "--without-threads", "--lazy-loading"]
)
def test_run_accepts_flasks_werkzeug_options_and_says_they_are_ignored(
    flag: str,
) -> None:
    # debugging.rst's "flask run --debug --no-debugger --no-reload" was a usage error.
    app = Microframework("werkzeug_flags")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        result = MicroframeworkCliRunner(app).invoke(
            cli, ["run", "--debug", flag, "--no-reload", "--port", port]
        )
    assert result.exit_code == 1, result.output  # the port is taken: stops there
    assert f"{flag} is an option of werkzeug's server" in result.output


def test_version_option_names_the_versions() -> None:
    result = invoke("--version")
    assert result.exit_code == 0
    assert "microframework" in result.stdout and "hypercorn" in result.stdout


def test_a_group_of_ones_own_takes_flasks_version_option() -> None:
    # flask.cli and quart.cli export both: a custom script's group imports them.
    from microframework.cli import get_version
    from microframework.cli import version_option

    group = click.Group("manage", params=[version_option])
    result = CliRunner().invoke(group, ["--version"])
    assert result.exit_code == 0 and "microframework" in result.stdout
    assert version_option.callback is get_version


# -- routes -----------------------------------------------------------------------------
@pytest.fixture
def routed_app() -> Microframework:
    app = Microframework("routed", static_folder=None)

    @app.route("/zebra", methods=["POST", "PUT"])
    async def a_zebra() -> str:
        return ""

    @app.get("/items/<int:id>")
    async def b_item(id: int) -> str:
        return ""

    @app.websocket("/live")
    async def c_live() -> None:
        pass

    return app


def routes(app: Microframework, *args: str) -> list[str]:
    result = MicroframeworkCliRunner(app).invoke(cli, ["routes", *args])
    assert result.exit_code == 0, result.output
    return result.stdout.splitlines()


def test_routes_prints_a_table_with_websockets_marked(
    routed_app: Microframework,
) -> None:
    assert routes(routed_app) == [
        "Endpoint  Methods    Rule",
        "--------  ---------  ---------------",
        "a_zebra   POST, PUT  /zebra",
        "b_item    GET        /items/<int:id>",
        "c_live    WEBSOCKET  /live",
    ]


@pytest.mark.parametrize(
    ("sort", "order"),
    [
        ("endpoint", ["a_zebra", "b_item", "c_live"]),
        ("rule", ["b_item", "c_live", "a_zebra"]),
        ("methods", ["b_item", "a_zebra", "c_live"]),
        ("match", ["a_zebra", "b_item", "c_live"]),
    ],
)
def test_routes_sorts(routed_app: Microframework, sort: str, order: list[str]) -> None:
    rows = routes(routed_app, "--sort", sort)[2:]
    assert [row.split()[0] for row in rows] == order


def test_routes_match_order_is_registration_order() -> None:
    app = Microframework("ordered", static_folder=None)
    for path in ("/b", "/a", "/c"):
        app.add_url_rule(path, path.strip("/"), lambda: "")
    assert [row.split()[0] for row in routes(app, "--sort", "match")[2:]] == [
        "b",
        "a",
        "c",
    ]


def test_routes_hides_head_and_options_unless_asked(routed_app: Microframework) -> None:
    assert "b_item    GET        /items/<int:id>" in routes(routed_app)
    assert any(
        row.split("  ")[0] == "b_item" and "GET, HEAD, OPTIONS" in row
        for row in routes(routed_app, "--all-methods")
    )


def test_routes_shows_subdomains_when_used() -> None:
    app = Microframework("subs", subdomain_matching=True)
    app.add_url_rule("/", "api_index", lambda: "", subdomain="api")
    assert routes(app)[0].split() == ["Endpoint", "Methods", "Subdomain", "Rule"]
    assert routes(app)[2].split() == ["api_index", "GET", "api", "/"]


def test_routes_sort_by_domain_as_flask() -> None:
    app = Microframework("subs", subdomain_matching=True, static_folder=None)
    app.add_url_rule("/", "www_index", lambda: "", subdomain="www")
    app.add_url_rule("/", "api_index", lambda: "", subdomain="api")
    app.add_url_rule("/x", "plain", lambda: "")
    rows = routes(app, "--sort", "domain")[2:]
    assert [row.split()[0] for row in rows] == ["plain", "api_index", "www_index"]


def test_routes_says_when_there_are_none() -> None:
    assert routes(Microframework("empty", static_folder=None)) == [
        "No routes were registered."
    ]


# -- shell ---------------------------------------------------------------------------
def test_shell_runs_top_level_await_in_the_app_context() -> None:
    app = Microframework("shelled")
    torn_down: list[BaseException | None] = []
    app.teardown_appcontext(torn_down.append)
    session = textwrap.dedent(
        """\
        import asyncio
        from microframework import current_app
        async def answer():
            await asyncio.sleep(0)
            return current_app.name

        value = await answer()
        print("got", value, current_app.name)
        g.note = "kept"
        print("g", g.note)
        1 / 0
        print("still running")
        task = asyncio.create_task(answer())
        print("loop", asyncio.get_running_loop() is not None)
        print("task", await task)
        """
    )
    result = MicroframeworkCliRunner(app).invoke(cli, ["shell"], input=session)
    assert result.exit_code == 0, result.output
    assert "got shelled shelled" in result.stdout
    assert "g kept" in result.stdout
    assert "ZeroDivisionError" in result.stderr
    assert "asyncio" not in result.stderr  # from the console's line down
    assert "still running" in result.stdout
    # A plain statement runs on the loop too, as in `python -m asyncio`.
    assert "loop True" in result.stdout
    assert "task shelled" in result.stdout
    assert "App: shelled" in result.stderr
    assert torn_down == [None]


def test_shell_defines_what_flask_shell_does(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYTHONSTARTUP", raising=False)
    app = Microframework("namespace")
    app.shell_context_processor(lambda: {"answer": 42})
    session = (
        "print(sorted(name for name in dir() if not name.startswith('__')))\n"
        "print(app.name, g is not None, answer)\n"
        "from microframework import current_app\n"
        "print(current_app.name)\n"
    )
    result = MicroframeworkCliRunner(app).invoke(cli, ["shell"], input=session)
    assert result.exit_code == 0, result.output
    # Flask's shell namespace: app, g and the shell context processors' names.
    printed = [line.replace(">>> ", "") for line in result.stdout.splitlines()]
    assert printed[:3] == ["['answer', 'app', 'g']", "namespace True 42", "namespace"]


def test_shell_runs_pythonstartup_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "startup.py", "from_startup = 42\n")
    monkeypatch.setenv("PYTHONSTARTUP", str(tmp_path / "startup.py"))
    result = MicroframeworkCliRunner(Microframework("s")).invoke(
        cli, ["shell"], input="print(from_startup + 1)\n"
    )
    assert "43" in result.stdout


def test_shell_in_a_terminal_runs_the_interactive_hook_for_history(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # As flask shell: site's hook loads and saves ~/.python_history; then the
    # completer of the shell's names replaces the one the hook may set.
    readline = pytest.importorskip("readline")
    from microframework._console import enable_completion

    calls: list[str] = []
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    monkeypatch.setattr(
        sys, "__interactivehook__", lambda: calls.append("hook"), raising=False
    )
    monkeypatch.setattr(readline, "set_completer", lambda f: calls.append("names"))
    monkeypatch.setattr(readline, "parse_and_bind", lambda line: None)
    enable_completion({"app": None})
    assert calls[0] == "hook"
    assert calls[-1] == "names"  # rlcompleter's first import sets one too


# -- app groups and custom commands ------------------------------------------------------
def test_sync_and_async_commands_run_in_the_app_context() -> None:
    app = Microframework("cmds")
    group = AppGroup("cmds")
    torn_down: list[BaseException | None] = []
    app.teardown_appcontext(torn_down.append)

    @group.command()
    @click.argument("name")
    async def greet(name: str) -> None:
        await asyncio.sleep(0)
        g.greeted = name
        click.echo(f"hello {name} from {current_app.name} {g.greeted}")

    @group.command
    def plain() -> None:
        click.echo(f"plain in {current_app.name}")

    runner = MicroframeworkCliRunner(app)
    assert runner.invoke(group, ["greet", "ann"]).stdout == "hello ann from cmds ann\n"
    assert runner.invoke(group, ["plain"]).stdout == "plain in cmds\n"
    assert torn_down == [None, None]


def test_a_failing_command_passes_its_error_to_teardown() -> None:
    app = Microframework("failing")
    group = AppGroup("failing")
    torn_down: list[BaseException | None] = []
    app.teardown_appcontext(torn_down.append)

    @group.command()
    async def boom() -> None:
        raise LookupError("gone")

    result = MicroframeworkCliRunner(app).invoke(group, ["boom"])
    assert isinstance(result.exception, LookupError)
    assert torn_down == [result.exception]


def test_command_without_app_context_does_not_load_the_app() -> None:
    group = AppGroup("free")

    @group.command(with_appcontext=False)
    async def free() -> None:
        await asyncio.sleep(0)
        click.echo(f"app context: {has_app_context()}")

    def no_app() -> Microframework:
        raise AssertionError("the app must not be loaded")

    result = CliRunner().invoke(group, ["free"], obj=ScriptInfo(create_app=no_app))
    assert result.exit_code == 0, result.output
    assert result.stdout == "app context: False\n"


def test_a_plain_click_command_added_to_app_cli_runs_in_the_app_context() -> None:
    # Flask's tutorial: `@click.command("init-db")` then `app.cli.add_command(...)`.
    # Flask pushes the app context for it; here it raised "outside of application
    # context", and an async one was never awaited (exit code 0, nothing done).
    app = Microframework("tutorial")

    @click.command("init-db")
    def init_db() -> None:
        click.echo(f"sync in {current_app.name}")

    @click.command("seed")
    async def seed() -> None:
        await asyncio.sleep(0)
        click.echo(f"async in {current_app.name}")

    @click.group("maint")
    def maint() -> None:
        pass

    @maint.command("vacuum")
    def vacuum() -> None:
        click.echo(f"nested in {current_app.name}")

    @app.cli.command(with_appcontext=False)
    def free() -> None:
        click.echo(f"free: {has_app_context()}")

    for command in (init_db, seed, maint):
        app.cli.add_command(command)

    @maint.command("reindex")  # declared after the group was added, as Flask allows
    def reindex() -> None:
        click.echo(f"late in {current_app.name}")

    runner = MicroframeworkCliRunner(app)
    for args, out in [
        (["init-db"], "sync in tutorial\n"),
        (["seed"], "async in tutorial\n"),
        (["maint", "vacuum"], "nested in tutorial\n"),
        (["maint", "reindex"], "late in tutorial\n"),
        (["free"], "free: False\n"),
    ]:
        result = runner.invoke(args=args)
        assert result.exit_code == 0, (args, result.output, result.exception)
        assert result.stdout == out
    # The commands themselves are unchanged: elsewhere they run as plain click.
    outside = CliRunner().invoke(maint, ["vacuum"])
    assert isinstance(outside.exception, RuntimeError)  # no app context there
    assert init_db.callback is not None
    assert not getattr(init_db.callback, "in_app_context", False)


def test_nested_groups_are_app_groups() -> None:
    app = Microframework("nested")
    group = AppGroup("top")

    @group.group()
    def db() -> None:
        pass

    @db.command()
    async def init() -> None:
        click.echo(f"init {current_app.name}")

    assert isinstance(db, AppGroup)
    assert (
        MicroframeworkCliRunner(app).invoke(group, ["db", "init"]).stdout
        == "init nested\n"
    )


async def test_async_command_can_be_invoked_from_a_running_loop() -> None:
    app = Microframework("inloop")
    group = AppGroup("inloop")

    @group.command()
    async def hello() -> None:
        click.echo(f"hello from {current_app.name}")

    result = MicroframeworkCliRunner(app).invoke(group, ["hello"])
    assert result.stdout == "hello from inloop\n"


def test_app_commands_are_listed_and_run_by_the_main_group() -> None:
    app = Microframework("withcli")
    group = AppGroup("withcli")
    app.cli = group  # type: ignore[attr-defined,unused-ignore]

    @group.command()
    async def seed() -> None:
        """Seed the database."""
        click.echo(f"seeded {current_app.name}")

    runner = MicroframeworkCliRunner(app)
    assert ["seed", "Seed the database."] in [
        line.split(None, 1)
        for line in runner.invoke(cli, ["--help"]).stdout.splitlines()
    ]
    assert runner.invoke(cli, ["seed"]).stdout == "seeded withcli\n"
    assert runner.invoke(args=["seed"]).stdout == "seeded withcli\n"  # app.cli


def test_app_command_parameters_see_the_app_context_pushed_once() -> None:
    # As Flask 2.2+: the main group pushes the context before parsing, so an option's
    # default and callback may use current_app; the command and teardown share it.
    app = Microframework("params")
    app.config["COUNT"] = 7
    torn_down: list[BaseException | None] = []
    app.teardown_appcontext(torn_down.append)

    same_loop: list[bool] = []

    @app.teardown_appcontext
    async def close(error: BaseException | None) -> None:
        # A connection the command opened on its loop can be closed in teardown.
        if "loop" in g:
            same_loop.append(g.loop is asyncio.get_running_loop())

    def double(ctx: click.Context, param: click.Parameter, value: int) -> int:
        g.seen = value
        return value * current_app.config["COUNT"]

    @app.cli.command()
    @click.option("--count", default=lambda: current_app.config["COUNT"])
    @click.option("--times", default=1, callback=double)
    async def seed(count: int, times: int) -> None:
        g.loop = asyncio.get_running_loop()
        click.echo(f"count={count} times={times} seen={g.seen}")

    @app.cli.command()
    def boom() -> None:
        raise LookupError("gone")

    runner = MicroframeworkCliRunner(app)
    result = runner.invoke(cli, ["seed", "--times", "2"])
    assert (result.exit_code, result.stdout) == (0, "count=7 times=14 seen=2\n")
    assert (torn_down, same_loop) == ([None], [True])
    failed = runner.invoke(cli, ["boom"])
    assert isinstance(failed.exception, LookupError)
    assert torn_down == [None, failed.exception]


def test_unknown_command_explains_why_the_app_was_not_found() -> None:
    result = invoke("nope")
    assert result.exit_code == 2
    assert "Could not find a Microframework app" in result.stderr
    assert "No such command 'nope'" in result.stderr


def test_help_lists_the_built_in_commands_even_without_an_app() -> None:
    result = invoke("--help")
    assert result.exit_code == 0
    assert all(name in result.stdout for name in ("routes", "run", "shell"))


@pytest.mark.skipif(
    not hasattr(Microframework, "test_cli_runner"),
    reason="app.test_cli_runner not added yet",
)
def test_app_test_cli_runner_runs_app_cli_commands() -> None:
    app = Microframework("runner")
    group: AppGroup = app.cli  # type: ignore[attr-defined,unused-ignore]
    assert isinstance(group, AppGroup)

    @group.command()
    async def hi() -> None:
        click.echo(current_app.name)

    runner = app.test_cli_runner()  # type: ignore[attr-defined,unused-ignore]
    assert isinstance(runner, MicroframeworkCliRunner)
    assert runner.invoke(args=["hi"]).stdout == "runner\n"


async def test_cli_commands_that_need_click_context_run_from_an_async_test() -> None:
    # From a running loop the command runs in a worker thread, and click's context
    # stack is per thread: Flask's documented with_appcontext command, and any
    # pass_context one, said "There is no active click context".
    from microframework.cli import with_appcontext

    app = Microframework("looped")

    @app.cli.command("initdb")
    @with_appcontext
    def initdb() -> None:
        click.echo(f"init {current_app.name}")

    @app.cli.command("who")
    @click.pass_context
    def who(ctx: click.Context) -> None:
        click.echo(f"{ctx.info_name} of {ctx.parent.info_name if ctx.parent else None}")

    asyncio.get_running_loop()  # the point of this test
    runner = app.test_cli_runner()
    initialised = runner.invoke(args=["initdb"])
    assert (initialised.exit_code, initialised.stdout) == (0, "init looped\n")
    named = runner.invoke(args=["who"])
    assert named.exit_code == 0, named.output
    assert named.stdout.startswith("who of ")


@pytest.mark.parametrize("with_appcontext", [True, False])
def test_an_async_command_under_pass_context_runs(with_appcontext: bool) -> None:
    # click.pass_context wraps it in a sync function: the command exited 0 having
    # run nothing ("coroutine was never awaited").
    app = Microframework("wrapped")
    ran: list[str] = []

    @app.cli.command("who", with_appcontext=with_appcontext)
    @click.pass_context
    async def who(ctx: click.Context) -> None:
        await asyncio.sleep(0)
        ran.append(ctx.info_name or "")

    result = app.test_cli_runner().invoke(args=["who"])
    assert result.exit_code == 0, result.output
    assert ran == ["who"]


# -- run ------------------------------------------------------------------------------
def test_run_on_a_port_in_use_is_one_line() -> None:
    app = Microframework("busy")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = MicroframeworkCliRunner(app).invoke(cli, ["run", "--port", str(port)])
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == (
        f"Error: Could not listen on 127.0.0.1:{port}: Address already in use."
        " Is another server running? Try another port."
    )
    assert "Traceback" not in result.output
    assert "Serving" not in result.stderr  # said only once it can listen


def test_run_with_workers_needs_an_importable_app() -> None:
    result = MicroframeworkCliRunner(Microframework("lambda")).invoke(
        cli, ["run", "--workers", "2"]
    )
    assert result.exit_code == 1
    assert "must be importable: pass it as '--app module:name'" in result.stderr


def test_run_takes_flasks_cert_and_key_spellings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import microframework.cli

    served: list[dict[str, Any]] = []
    monkeypatch.setattr(
        microframework.cli, "serve_app", lambda app, **kw: served.append(kw) or 0
    )
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "cert.pem", "x")
    write(tmp_path / "key.pem", "x")
    result = MicroframeworkCliRunner(Microframework("tls")).invoke(
        cli, ["run", "--cert", "cert.pem", "--key", "key.pem"]
    )
    assert result.exit_code == 0, result.output
    assert (served[0]["certfile"], served[0]["keyfile"]) == ("cert.pem", "key.pem")


def test_debug_run_of_a_script_whose_create_app_is_a_lambda_serves_without_reloading(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Flask's FlaskGroup(create_app=lambda: make(config)) with "--debug run": this
    # was an error whose advice (--app) such a script ignores; app.run() warns.
    import microframework.cli

    served: list[dict[str, Any]] = []
    monkeypatch.setattr(
        microframework.cli, "serve_app", lambda app, **kw: served.append(kw) or 0
    )
    group = MicroframeworkGroup(create_app=lambda: Microframework("made"))
    result = CliRunner().invoke(group, ["--debug", "run"])
    assert result.exit_code == 0, result.output
    assert served[0]["use_reloader"] is False
    assert "create_app as a module-level function" in caplog.text
    result = CliRunner().invoke(group, ["run", "--reload"])
    assert result.exit_code == 1
    assert "create_app given to MicroframeworkGroup must be a module-level" in (
        result.stderr.replace("\n", "")
    )


def test_run_needs_both_certfile_and_keyfile(tmp_path: Path) -> None:
    write(tmp_path / "cert.pem", "x")
    result = MicroframeworkCliRunner(Microframework("tls")).invoke(
        cli, ["run", "--certfile", "cert.pem"]
    )
    assert result.exit_code == 2
    assert "--certfile and --keyfile must be given together" in result.stderr


def test_run_takes_flasks_extra_files_and_exclude_patterns(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import microframework.cli

    served: list[dict[str, Any]] = []
    monkeypatch.setattr(
        microframework.cli, "serve_app", lambda app, **kw: served.append(kw) or 0
    )
    sep = os.pathsep
    result = MicroframeworkCliRunner(Microframework("watch")).invoke(
        cli,
        ["run", "--extra-files", f"a.toml{sep}b.cfg", "--exclude-patterns", "*.tmp"],
    )
    assert result.exit_code == 0, result.output
    assert served[0]["extra_files"] == ["a.toml", "b.cfg"]
    assert served[0]["exclude_patterns"] == ["*.tmp"]


def test_the_reloader_watches_extra_files_but_not_excluded_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As werkzeug's reloader: --extra-files are watched too (a folder: its .py
    # files); a file matching an --exclude-patterns fnmatch pattern is not.
    import microframework.serving as serving

    settings = write(tmp_path / "conf" / "settings.toml", "debug = true\n")
    plugin = write(tmp_path / "plugins" / "extra.py", "X = 1\n")
    scratch = write(tmp_path / "scratch.py", "X = 1\n")  # under the cwd: watched
    extra = (str(settings), str(tmp_path / "plugins"), "gone.toml")
    watch = serving._Watch(extra, ("*/scratch.py",))
    files = watch.files({})
    assert settings in files
    assert plugin in files
    assert scratch not in files
    assert Path("gone.toml").absolute() not in files  # missing: not a change

    def saving(path: Path) -> bool:
        """Whether the reloader, waiting for a fix, sees *path* saved."""
        stopping: list[int] = []

        def echo(message: str, err: bool = False) -> None:
            stamp = time.time() + 10
            os.utime(path, (stamp, stamp))

        monkeypatch.setattr(serving.click, "echo", echo)
        monkeypatch.setattr(serving.time, "sleep", lambda _: stopping.append(0))
        return serving._wait_for_a_fix(stopping, watch)

    assert saving(settings) is True
    assert saving(scratch) is False


def test_app_run_watches_extra_files(served: list[dict[str, Any]]) -> None:
    # Flask's app.run(extra_files=...) is the reloader's, here too: no warning.
    import warnings

    app = Microframework(__name__)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        app.run(use_reloader=False, extra_files=["a.toml"], exclude_patterns=["*.x"])
    assert served[0]["extra_files"] == ["a.toml"]
    assert served[0]["exclude_patterns"] == ["*.x"]


def test_run_with_a_bad_certificate_is_one_line(tmp_path: Path) -> None:
    write(tmp_path / "bad.pem", "not a pem\n")
    result = MicroframeworkCliRunner(Microframework("tls")).invoke(
        cli, ["run", "--cert", "bad.pem", "--key", "bad.pem", "--port", "0"]
    )
    assert result.exit_code == 1
    assert error_line(result).startswith(
        "Error: Could not load the TLS certificate 'bad.pem' and key 'bad.pem': "
    )


def test_app_run_on_a_port_out_of_range_is_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        Microframework(__name__).run(port=70000, load_dotenv=False)
    assert exited.value.code == 1
    assert capsys.readouterr().err == (
        "Error: The port must be 0 to 65535, not 70000.\n"
    )


async def test_app_run_in_a_running_loop_says_to_await_run_task(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        Microframework(__name__).run(port=0, load_dotenv=False)
    assert exited.value.code == 1
    assert capsys.readouterr().err == (
        "Error: app.run() can't serve from a running event loop; use"
        " 'await app.run_task()' there.\n"
    )


def test_worker_process_loads_the_app_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "hello.py", HELLO)
    prepare_import("hello.py")
    monkeypatch.setenv(SERVE_APP_ENV, "hello:")
    monkeypatch.setenv("MICROFRAMEWORK_DEBUG", "1")
    served = _worker_app()
    assert isinstance(served, DebugPages)  # debug mode: behind the debug page
    assert served.app is sys.modules["hello"].app
    assert served.app.debug is True


def test_factory_callback_locator_names_module_level_functions() -> None:
    def nested() -> Microframework:
        return Microframework("n")

    located = {}
    for name, factory in [
        ("module level", _module_factory),
        ("nested", nested),
        ("lambda", lambda: Microframework("l")),
    ]:
        info = ScriptInfo(create_app=factory)
        info.load_app()
        located[name] = info.worker_locator
    assert located == {
        "module level": f"{__name__}:_module_factory",
        "nested": None,
        "lambda": None,
    }


def _module_factory() -> Microframework:
    return Microframework("module_factory")


def test_unguarded_app_run_is_ignored_inside_the_cli(tmp_path: Path) -> None:
    write(tmp_path / "runs.py", HELLO + "\napp.run()\n")
    result = invoke("--app", "runs", "routes")
    assert result.exit_code == 0, result.output
    assert "Ignoring a call to 'app.run()'" in result.stderr
    assert "index" in result.stdout


@pytest.mark.parametrize(
    ("server_name", "host", "port", "expected"),
    [
        (None, None, None, ("127.0.0.1", 5000)),
        ("pocoo.org:8080", None, None, ("pocoo.org", 8080)),
        ("pocoo.org:8080", "localhost", None, ("localhost", 8080)),
        ("pocoo.org", None, 0, ("pocoo.org", 0)),
        ("localhost:8080", "127.0.0.1", 9000, ("127.0.0.1", 9000)),
        (None, None, "8123", ("127.0.0.1", 8123)),  # os.environ["PORT"], as Flask
    ],
)
def test_app_run_defaults_to_server_name_and_keeps_port_zero(
    monkeypatch: pytest.MonkeyPatch,
    server_name: str | None,
    host: str | None,
    port: Any,
    expected: tuple[str, int],
) -> None:
    # Flask's and Quart's run(): SERVER_NAME's host and port are the defaults.
    import microframework.serving

    served: list[tuple[str, int]] = []

    def fake_serve(app: Any, host: str, port: int, **options: Any) -> int:
        served.append((host, port))
        return 0

    monkeypatch.setattr(microframework.serving, "serve_app", fake_serve)
    app = Microframework(__name__)
    app.config["SERVER_NAME"] = server_name
    app.run(host, port, use_reloader=False)
    assert served == [expected]


@pytest.mark.parametrize("before", [None, "0"])
def test_what_the_workers_were_told_ends_with_the_serving(
    monkeypatch: pytest.MonkeyPatch, before: str | None
) -> None:
    # app.run(debug=True) left MICROFRAMEWORK_DEBUG=1 (and the app's locator) in
    # os.environ: a later app.run() of another app in the process was in debug mode.
    from microframework import serving

    told = (serving.DEBUG_ENV, serving.SERVE_APP_ENV, serving.SERVE_MAIN_ENV)
    for name in told:
        monkeypatch.delenv(name, raising=False)
    if before is not None:
        monkeypatch.setenv(serving.DEBUG_ENV, before)
    seen: list[str | None] = []

    def supervise(config: Any, workers: int, watch: Any) -> int:
        seen.append(os.environ.get(serving.DEBUG_ENV))
        return 0

    monkeypatch.setattr(serving, "_supervise", supervise)
    app = Microframework(__name__)
    app.debug = True
    assert serving.serve_app(app, port=0, use_reloader=True, locator="m:app") == 0
    assert seen == ["1"]
    assert os.environ.get(serving.DEBUG_ENV) == before
    assert serving.SERVE_APP_ENV not in os.environ
    assert serving.SERVE_MAIN_ENV not in os.environ


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """What app.run() would have served with: serve_app's options, once per run."""
    import microframework.serving

    calls: list[dict[str, Any]] = []

    def fake_serve(app: Any, **options: Any) -> int:
        calls.append(options)
        return 0

    monkeypatch.setattr(microframework.serving, "serve_app", fake_serve)
    return calls


def test_app_run_warns_about_werkzeug_options_and_serves(
    served: list[dict[str, Any]],
) -> None:
    # Flask's debugging guide: app.run(debug=True, use_debugger=False, ...).
    app = Microframework(__name__)
    with pytest.warns(UserWarning) as warned:
        app.run(use_reloader=False, use_debugger=False, passthrough_errors=True)
    assert sorted(str(w.message).split("=")[0] for w in warned) == [
        "app.run(passthrough_errors",
        "app.run(use_debugger",
    ]
    assert "use_debugger" not in served[0] and "passthrough_errors" not in served[0]


@pytest.mark.parametrize(
    ("run_args", "skip", "loaded", "debug"),
    [
        ({}, False, True, True),
        ({"debug": False}, False, True, False),  # an explicit debug wins
        ({"load_dotenv": False}, False, False, False),
        ({}, True, False, False),  # MICROFRAMEWORK_SKIP_DOTENV
    ],
)
def test_app_run_loads_env_files_as_flask(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    served: list[dict[str, Any]],
    run_args: dict[str, Any],
    skip: bool,
    loaded: bool,
    debug: bool,
) -> None:
    # Flask's app.run: `python app.py` reads .env (a SECRET_KEY, say) and its debug flag.
    monkeypatch.setitem(sys.modules, "dotenv", fake_dotenv())
    if skip:
        monkeypatch.setenv("MICROFRAMEWORK_SKIP_DOTENV", "1")
    write(tmp_path / ".env", "MF_SECRET=from .env\nMICROFRAMEWORK_DEBUG=1\n")
    app = Microframework(__name__)
    assert not app.debug
    app.run(use_reloader=False, **run_args)
    assert os.environ.get("MF_SECRET") == ("from .env" if loaded else None)
    assert app.debug is debug
    assert "load_dotenv" not in served[0]


def test_an_unknown_run_option_is_a_type_error_before_serving() -> None:
    from microframework.serving import serve_app

    with pytest.raises(TypeError, match="'not_a_setting' is not a hypercorn Config"):
        serve_app(Microframework(__name__), not_a_setting=1)


def test_app_run_with_a_loop_serves_run_task_on_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Quart's event-loop guide: ``app.run(loop=loop)``.
    app = Microframework(__name__)
    app.config["SERVER_NAME"] = "localhost:8123"
    loop = asyncio.new_event_loop()
    ran: list[tuple[Any, ...]] = []

    async def fake_task(*args: Any, **kwargs: Any) -> None:
        ran.append((asyncio.get_running_loop(), *args[:2]))

    monkeypatch.setattr(app, "run_task", fake_task)
    try:
        app.run(loop=loop)
    finally:
        loop.close()
    assert ran == [(loop, "localhost", 8123)]


def test_app_run_with_a_loop_passes_ca_certs_and_warns_of_the_rest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Quart's run() passes ca_certs on and warns of what run_task can't take: both
    # were dropped in silence.
    app = Microframework(__name__)
    loop = asyncio.new_event_loop()
    ran: list[tuple[Any, ...]] = []

    async def fake_task(*args: Any) -> None:
        ran.append(args)

    monkeypatch.setattr(app, "run_task", fake_task)
    try:
        with pytest.warns(UserWarning, match=r"ignores use_x_forwarded, workers$"):
            app.run(
                port=1,
                loop=loop,
                ca_certs="ca.pem",
                certfile="c.pem",
                keyfile="k.pem",
                workers=3,
                use_x_forwarded=True,
            )
    finally:
        loop.close()
    assert ran == [("127.0.0.1", 1, None, "ca.pem", "c.pem", "k.pem")]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get_when_up(
    url: str, process: subprocess.Popen[bytes], deadline: float = 15.0
) -> bytes:
    """Poll *url* until it answers, the server dies, or the deadline passes."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if process.poll() is not None:
            raise AssertionError(f"the server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                return bytes(response.read())
        except OSError:
            time.sleep(0.02)
    raise AssertionError(f"{url} did not answer within {deadline}s")


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Any]:
    """Start a server subprocess on 127.0.0.1; stop it by PID at the end."""
    processes: list[subprocess.Popen[bytes]] = []

    def start(*args: str) -> tuple[subprocess.Popen[bytes], Path]:
        log = tmp_path / f"server{len(processes)}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, *args],
                cwd=tmp_path,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        processes.append(process)
        return process, log

    yield start
    for process in processes:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


@pytest.mark.parametrize(
    "extra", [[], ["--reload"]], ids=["in-process", "reloader-worker"]
)
def test_run_serves_requests_until_terminated(
    tmp_path: Path, serve: Any, extra: list[str]
) -> None:
    write(tmp_path / "hello.py", HELLO)
    port = free_port()
    process, log = serve(
        "-m", "microframework", "--app", "hello", "run", "--port", str(port), *extra
    )
    assert get_when_up(f"http://127.0.0.1:{port}/", process) == b"hello from hello"
    process.terminate()
    assert process.wait(timeout=10) == 0
    output = log.read_text()
    assert f" * Serving app 'hello' on http://127.0.0.1:{port}" in output
    assert '"GET / 1.1" 200' in output  # hypercorn's access log


def test_a_fix_saved_as_the_reloader_says_it_waits_is_seen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The reloader said it was waiting, then took the files' times: a fix saved at
    # once became the baseline, and the reloader waited for ever (a flaky test, and a
    # quick user, found it).
    import microframework.serving as serving

    source = tmp_path / "words.py"
    source.write_text("WORD = (\n")
    monkeypatch.chdir(tmp_path)

    def echo(message: str, err: bool = False) -> None:
        source.write_text("WORD = 'two'\n")  # saved as the message shows
        stamp = time.time() + 10
        os.utime(source, (stamp, stamp))

    stopping: list[int] = []

    def sleep(seconds: float) -> None:
        stopping.append(0)  # one look more, then stop: a change must be seen first

    monkeypatch.setattr(serving.click, "echo", echo)
    monkeypatch.setattr(serving.time, "sleep", sleep)
    assert serving._wait_for_a_fix(stopping) is True


def test_the_reloader_outlives_a_half_saved_file(tmp_path: Path, serve: Any) -> None:
    # A save with a syntax error killed the worker, and the reloader exited with it:
    # fixing the file then served nothing. Flask's reloader waits for the fix.
    write(tmp_path / "words.py", "WORD = 'one'\n")
    write(
        tmp_path / "rl.py",
        """
        from microframework import Microframework
        import words
        app = Microframework(__name__)

        @app.get("/")
        async def index():
            return words.WORD
        """,
    )
    port = free_port()
    process, log = serve(
        "-m", "microframework", "--app", "rl", "run", "--reload", "--port", str(port)
    )
    url = f"http://127.0.0.1:{port}/"
    assert get_when_up(url, process) == b"one"

    def save(text: str, later: float) -> None:
        path = tmp_path / "words.py"
        path.write_text(text)
        stamp = time.time() + later  # newer than any mtime the reloader has seen
        os.utime(path, (stamp, stamp))

    save("WORD = (\n", 5)
    end = time.monotonic() + 15
    while "restarting when a file changes" not in log.read_text():
        assert time.monotonic() < end, log.read_text()
        assert process.poll() is None, log.read_text()
        time.sleep(0.05)
    save("WORD = 'two'\n", 10)
    end = time.monotonic() + 15
    while (answer := get_when_up(url, process)) != b"two":
        assert time.monotonic() < end, (answer, log.read_text())
        time.sleep(0.05)


def test_the_reloader_watches_a_module_only_a_worker_imported(
    tmp_path: Path, serve: Any
) -> None:
    # The fix went into a module the app began to import in the broken save: the
    # reloader, watching only what it had imported itself, never saw the fix.
    app_source = """
        from microframework import Microframework
        {imports}
        app = Microframework(__name__)

        @app.get("/")
        async def index():
            return {word}
        """
    write(tmp_path / "rl2.py", app_source.format(imports="", word="'one'"))
    port = free_port()
    process, log = serve(
        "-m", "microframework", "--app", "rl2", "run", "--reload", "--port", str(port)
    )
    url = f"http://127.0.0.1:{port}/"
    assert get_when_up(url, process) == b"one"
    later = time.time() + 5
    write(tmp_path / "extra.py", "WORD = (\n")
    write(
        tmp_path / "rl2.py",
        app_source.format(imports="import extra", word="extra.WORD"),
    )
    os.utime(tmp_path / "rl2.py", (later, later))
    end = time.monotonic() + 15
    while "restarting when a file changes" not in log.read_text():
        assert time.monotonic() < end, log.read_text()
        time.sleep(0.05)
    (tmp_path / "extra.py").write_text("WORD = 'two'\n")
    os.utime(tmp_path / "extra.py", (later + 5, later + 5))
    end = time.monotonic() + 15
    while (answer := get_when_up(url, process)) != b"two":
        assert time.monotonic() < end, (answer, log.read_text())
        time.sleep(0.05)


def test_run_on_port_0_names_the_port_it_serves_on(tmp_path: Path, serve: Any) -> None:
    # It printed "http://127.0.0.1:0"; only hypercorn's own line named the port.
    write(tmp_path / "hello.py", HELLO)
    process, log = serve("-m", "microframework", "--app", "hello", "run", "--port", "0")
    end = time.monotonic() + 15
    while " * Debug mode" not in log.read_text() and time.monotonic() < end:
        assert process.poll() is None, log.read_text()
        time.sleep(0.02)
    served = re.search(
        r"Serving app 'hello' on http://127\.0\.0\.1:(\d+)", log.read_text()
    )
    assert served is not None, log.read_text()
    port = int(served.group(1))
    assert port != 0
    assert get_when_up(f"http://127.0.0.1:{port}/", process) == b"hello from hello"


def test_run_when_startup_fails_ends_in_one_error_line(
    tmp_path: Path, serve: Any
) -> None:
    write(
        tmp_path / "startfail.py",
        """
        from microframework import Microframework
        app = Microframework(__name__)

        @app.before_serving
        async def connect():
            raise RuntimeError("database unreachable")
        """,
    )
    process, log = serve(
        "-m", "microframework", "--app", "startfail", "run", "--port", str(free_port())
    )
    assert process.wait(timeout=10) == 1
    assert log.read_text().splitlines()[-1] == (
        "Error: The app failed to start: Lifespan failure in startup."
        " 'RuntimeError: database unreachable'"
    )


def test_run_when_shutdown_fails_says_so_not_that_it_failed_to_start(
    tmp_path: Path, serve: Any
) -> None:
    # hypercorn raises one error for both stages: "failed to start" was printed for
    # an after_serving that raised (lifespan2 9).
    write(
        tmp_path / "stopfail.py",
        """
        from microframework import Microframework
        app = Microframework(__name__)

        @app.get("/")
        async def index():
            return "up"

        @app.after_serving
        async def close():
            raise RuntimeError("close failed")
        """,
    )
    port = free_port()
    process, log = serve(
        "-m", "microframework", "--app", "stopfail", "run", "--port", str(port)
    )
    assert get_when_up(f"http://127.0.0.1:{port}/", process) == b"up"
    process.terminate()
    assert process.wait(timeout=10) == 1
    assert log.read_text().splitlines()[-1] == (
        "Error: The app failed to shut down: Lifespan failure in shutdown."
        " 'RuntimeError: close failed'"
    )


def test_a_startup_failure_naming_shutdown_is_still_a_failure_to_start() -> None:
    # The stage is hypercorn's, at the start: not "in shutdown" anywhere (review15 6).
    from hypercorn.utils import LifespanFailureError

    from microframework.serving import _lifespan_failure

    error = LifespanFailureError("startup", "RuntimeError: pool stuck in shutdown")
    assert _lifespan_failure(error).startswith("The app failed to start: ")


def test_workers_that_fail_to_start_end_in_error_lines(
    tmp_path: Path, serve: Any
) -> None:
    # Each worker printed multiprocessing's "Process SpawnProcess-1:" and hypercorn's
    # frames; with -w 2 no "Error:" line said the app had failed to start.
    write(
        tmp_path / "startfail.py",
        """
        from microframework import Microframework
        app = Microframework(__name__)

        @app.before_serving
        async def connect():
            raise RuntimeError("database unreachable")
        """,
    )
    # Fine in the `microframework` process, but a worker can't import it.
    write(
        tmp_path / "broken.py",
        """
        import multiprocessing
        from microframework import Microframework
        if multiprocessing.parent_process() is not None:
            raise RuntimeError("no database driver")
        app = Microframework(__name__)
        """,
    )
    for module, error in [
        ("startfail", "Error: The app failed to start: Lifespan failure in startup."),
        ("broken", "Error: While importing 'broken', an error was raised:"),
    ]:
        process, log = serve(
            "-m", "microframework", "--app", module, "run", "-w", "2", "--port", "0"
        )
        assert process.wait(timeout=30) == 1
        output = log.read_text()
        assert error in output, output
        assert "SpawnProcess" not in output
        assert f"{os.sep}multiprocessing{os.sep}" not in output
        assert f"{os.sep}hypercorn{os.sep}" not in output


def test_app_run_serves_a_script_with_the_reloader_in_debug_mode(
    tmp_path: Path, serve: Any
) -> None:
    port = free_port()
    # A worker runs the script as __mp_main__, so the view must not print app.name.
    source = HELLO.replace('"hello from " + app.name', '"hello from a script"')
    run = f"\nif __name__ == '__main__':\n    app.run(port={port}, debug=True)\n"
    write(tmp_path / "script.py", source + run)
    process, log = serve("script.py")
    assert get_when_up(f"http://127.0.0.1:{port}/", process) == b"hello from a script"
    process.terminate()
    assert process.wait(timeout=10) == 0
    assert " * Debug mode: on" in log.read_text()


_MAIN_CONFIGURED = """
from microframework import Microframework

app = Microframework(__name__)

@app.get("/")
async def index():
    return app.config.get("GREETING", "unset")

if __name__ == "__main__":
    app.config["GREETING"] = "set in the main block"
    app.run(port=PORT, debug=True)
"""

_MAIN_FACTORY = """
from microframework import Microframework

def create_app(greeting):
    app = Microframework(__name__)

    @app.get("/")
    async def index():
        return greeting

    return app

if __name__ == "__main__":
    app = create_app("made in the main block")
    app.run(port=PORT, debug=True)
"""


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (_MAIN_CONFIGURED, b"set in the main block"),
        (_MAIN_FACTORY, b"made in the main block"),
    ],
    ids=["configured", "factory"],
)
def test_app_run_with_the_reloader_runs_the_scripts_main_block_in_the_worker(
    tmp_path: Path, serve: Any, source: str, expected: bytes
) -> None:
    # The worker imported the script without its main block: the config set there
    # was lost, and an app made there was not found ("no attribute 'app'").
    port = free_port()
    write(tmp_path / "script.py", source.replace("PORT", str(port)))
    process, log = serve("script.py")
    assert get_when_up(f"http://127.0.0.1:{port}/", process) == expected, (
        log.read_text()
    )
    process.terminate()
    assert process.wait(timeout=10) == 0


_LAUNCHED = """
from microframework import Microframework

app = Microframework(__name__)
settings = {}

@app.get("/")
async def index():
    return settings.get("greeting", "unset")

def main(port):
    settings["greeting"] = "set by main()"
    app.run(port=port, debug=True)
"""


def test_app_run_with_the_reloader_from_a_launcher_runs_the_launcher_in_the_worker(
    tmp_path: Path, serve: Any
) -> None:
    # A console script (or launch.py) calling a module's main(), as quart-doh's
    # doh-server does: the worker imported the module alone, without main()'s setup.
    port = free_port()
    write(tmp_path / "srv.py", _LAUNCHED)
    launcher = (  # as pip writes a console script: the worker must not exit at its end
        f"import sys\nimport srv\n\nif __name__ == '__main__':\n"
        f"    sys.exit(srv.main({port}))\n"
    )
    write(tmp_path / "launch.py", launcher)
    process, log = serve("launch.py")
    assert get_when_up(f"http://127.0.0.1:{port}/", process) == b"set by main()", (
        log.read_text()
    )
    process.terminate()
    assert process.wait(timeout=10) == 0


_AROUND_RUN = """
import contextlib

from microframework import Microframework

app = Microframework(__name__)
state = {"pool": "closed"}

@app.get("/")
async def index():
    return f"{state['pool']} debug={app.debug}"

@contextlib.contextmanager
def pool():
    state["pool"] = "open"
    try:
        yield
    finally:
        state["pool"] = "closed"

if __name__ == "__main__":
    with pool():
        app.run(port=PORT, debug=True)
    with open("after.log", "a") as log:
        log.write("after app.run()\\n")
"""


@pytest.mark.parametrize("where", ["script.py", "folder"])
def test_app_run_with_the_reloader_serves_inside_what_surrounds_the_call(
    tmp_path: Path, serve: Any, where: str
) -> None:
    # The worker's app.run() returned at once, so the with block closed the pool
    # before serving; and app.run(debug=True) left a DEBUG=False app out of debug
    # mode there. A folder (python folder/, as zipapps run) could not run at all.
    port = free_port()
    source = _AROUND_RUN.replace("PORT", str(port))
    if where == "folder":
        (tmp_path / "folder").mkdir()
        write(tmp_path / "folder" / "__main__.py", source)
    else:
        write(tmp_path / where, source)
    process, log = serve(where)
    assert get_when_up(f"http://127.0.0.1:{port}/", process) == b"open debug=True", (
        log.read_text()
    )
    process.terminate()
    assert process.wait(timeout=10) == 0
    # Once, in the first process, as Flask's: not in the worker, at every reload too.
    assert (tmp_path / "after.log").read_text() == "after app.run()\n"


def test_the_reloader_answers_with_the_load_error_until_a_fix(
    tmp_path: Path, serve: Any
) -> None:
    # A syntax error saved while serving left every request hanging (the socket
    # open, no worker) until the fix; Flask's reloader answers with the error.
    port = free_port()
    source = (
        "from microframework import Microframework\n\n"
        "app = Microframework(__name__)\n\n"
        "@app.get('/')\nasync def index():\n    return 'before'\n"
    )
    write(tmp_path / "hello.py", source)
    args = ("-m", "microframework", "--app", "hello", "--debug", "run")
    process, log = serve(*args, "--port", str(port))
    url = f"http://127.0.0.1:{port}/"
    assert get_when_up(url, process) == b"before"
    write(tmp_path / "hello.py", source + "\ndef broken(:\n")
    end = time.monotonic() + 40  # a reload on a loaded machine took over 15 s
    while time.monotonic() < end:
        try:
            urllib.request.urlopen(url, timeout=5).close()
        except urllib.error.HTTPError as error:
            status, page = error.code, error.read().decode()
            break
        except (TimeoutError, urllib.error.URLError):
            pass  # the worker restarting on a loaded machine: ask again
        time.sleep(0.1)  # polling a real server for the reload: bounded above
    else:
        raise AssertionError(log.read_text())
    assert status == 500
    assert "The app failed to load" in page and "SyntaxError" in page
    write(tmp_path / "hello.py", source.replace("before", "after"))
    end = time.monotonic() + 40
    while time.monotonic() < end:
        with contextlib.suppress(urllib.error.HTTPError):
            if get_when_up(url, process) == b"after":
                break
        time.sleep(0.1)
    else:
        raise AssertionError(log.read_text())
    process.terminate()
    assert process.wait(timeout=10) == 0


_FACTORY_IN_MAIN = """
from microframework import Microframework

def create_app():
    app = Microframework(__name__)

    @app.get("/")
    async def index():
        return "VERSION 1"

    return app

def main():
    create_app().run(port=PORT, debug=True)

if __name__ == "__main__":
    main()
"""


def test_app_run_reloads_an_app_made_in_main_with_no_module_level_name(
    tmp_path: Path, serve: Any
) -> None:
    # The reloader wanted a module-level variable to import again; the worker runs the
    # script again instead, so Flask's factory-in-main() shape reloads too.
    port = free_port()
    source = _FACTORY_IN_MAIN.replace("PORT", str(port))
    write(tmp_path / "factory.py", source)
    process, log = serve("factory.py")
    url = f"http://127.0.0.1:{port}/"
    assert get_when_up(url, process) == b"VERSION 1", log.read_text()
    later = time.time() + 5  # newer than any mtime the reloader has seen
    write(tmp_path / "factory.py", source.replace("VERSION 1", "VERSION 2"))
    os.utime(tmp_path / "factory.py", (later, later))
    end = time.monotonic() + 15
    while (answer := get_when_up(url, process)) != b"VERSION 2":
        assert time.monotonic() < end, (answer, log.read_text())
        time.sleep(0.05)
    assert "module-level variable" not in log.read_text()


_CHILD = """
import multiprocessing, signal, sys

import srv

if __name__ == "__main__":
    child = multiprocessing.Process(target=srv.main, args=(PORT,))
    child.start()

    def stop(*args):
        child.terminate()
        child.join(10)
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    child.join()
"""


def test_app_run_in_a_multiprocessing_child_serves_without_the_reloader(
    tmp_path: Path, serve: Any
) -> None:
    # Its worker could not repeat the parent's target (quart-doh's own tests start
    # main() so): it served an app that main() never set up.
    port = free_port()
    write(tmp_path / "srv.py", _LAUNCHED)
    write(tmp_path / "parent.py", _CHILD.replace("PORT", str(port)))
    process, log = serve("parent.py")
    assert get_when_up(f"http://127.0.0.1:{port}/", process) == b"set by main()", (
        log.read_text()
    )
    process.terminate()
    assert process.wait(timeout=10) == 0
    assert "can't restart a process multiprocessing started" in log.read_text()


_TESTING_DEBUG = """
from microframework import Microframework

app = Microframework(__name__)
app.config["TESTING"] = True  # a local config with both, as quart-demo's

@app.get("/")
async def up():
    return "up"

@app.get("/boom")
async def boom():
    raise ValueError("boom <b>")

@app.get("/stream")
async def stream():
    async def body():
        yield "started"
        raise ValueError("too late for a page")

    return body()
"""


def test_run_debug_shows_the_debug_page_for_an_error_that_propagates(
    tmp_path: Path, serve: Any
) -> None:
    # With TESTING on the error propagates, and the server sent a bare, empty 500;
    # werkzeug's debugger (Flask) and Quart show their pages.
    port = free_port()
    write(tmp_path / "both.py", _TESTING_DEBUG)
    args = ("-m", "microframework", "--app", "both", "--debug", "run")
    process, log = serve(*args, "--port", str(port))
    assert get_when_up(f"http://127.0.0.1:{port}/", process) == b"up"
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/boom", timeout=5)
    error = info.value
    assert (error.code, error.headers["Content-Type"]) == (
        500,
        "text/html; charset=utf-8",
    )
    assert "ValueError: boom &lt;b&gt;" in error.read().decode()
    head = urllib.request.Request(f"http://127.0.0.1:{port}/boom", method="HEAD")
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(head, timeout=5)
    assert (info.value.code, info.value.read()) == (500, b"")  # no page for a HEAD
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/stream", timeout=5) as got:
        assert got.status == 200  # started: the server ends it, as before
    process.terminate()
    assert process.wait(timeout=10) == 0
    assert "Exception on request GET /boom" in log.read_text()


# -- the debug page ------------------------------------------------------------------------
def _raise_chained() -> None:
    values: dict[str, int] = {}
    try:
        values["missing"]
    except KeyError as error:
        raise ValueError("<script>alert(1)</script>") from error


async def test_debug_page_shows_the_traceback_escaped() -> None:
    with pytest.raises(ValueError) as info:
        _raise_chained()
    response = render_debug_page(info.value)
    assert response.status_code == 500
    assert response.mimetype == "text/html"
    assert response.headers["Cache-Control"] == "no-store"
    html = await response.get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>" not in html
    assert "ValueError" in html and "KeyError" in html
    assert (
        "The above exception was the direct cause of the following exception:" in html
    )
    assert (
        html.index("KeyError") < html.index("direct cause") < html.rindex("ValueError")
    )
    assert "raise ValueError(" in html  # the source line of the frame
    assert f"{Path(__file__)}" in html


async def test_debug_page_shows_the_notes_added_to_an_exception() -> None:
    # As werkzeug's debugger (Flask) and Python's own traceback: a note from add_note()
    # says what was going on ("while loading user 42"), escaped like the rest.
    def failing() -> None:
        error = ValueError("boom")
        error.add_note("while loading " + "user <42>")
        raise error

    with pytest.raises(ValueError) as info:
        failing()
    html = await render_debug_page(info.value).get_data(as_text=True)
    summary = html.index("<strong>ValueError: boom</strong>")
    assert html.index("while loading user &lt;42&gt;") > summary
    assert "user <42>" not in html


async def test_debug_page_shows_the_request_but_hides_credentials() -> None:
    scope = http_scope(
        "/broken",
        "POST",
        headers=[
            (b"authorization", b"Bearer s3cret"),
            (b"cookie", b"session=c00kie"),
            (b"x-api-key", b"k3y"),  # named as a credential: hidden too
            (b"x-csrf-token", b"t0ken"),
            (b"x-amz-security-token", b"aws"),
            (b"x-custom", b"visible"),
        ],
    )
    request = Request(scope, _no_body)
    response = render_debug_page(RuntimeError("x"), request)
    html = await response.get_data(as_text=True)
    assert "POST /broken" in html
    assert "visible" in html
    for secret in ("s3cret", "c00kie", "k3y", "t0ken", "aws"):
        assert secret not in html


async def _no_body() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


def _app_with_an_async_group() -> Microframework:
    app = Microframework("asyncgroup")

    @app.cli.group(invoke_without_command=True)
    @click.option("--verbose", is_flag=True)
    async def db(verbose: bool) -> None:
        g.verbose = verbose
        click.echo(f"group ran verbose={verbose}")

    @db.command()
    async def migrate() -> None:
        click.echo(f"migrate sees {g.get('verbose')}")

    return app


def test_an_async_group_callback_runs_as_an_async_command_does() -> None:
    # Its coroutine was never awaited ("RuntimeWarning ... never awaited", exit 0).
    app = _app_with_an_async_group()
    result = app.test_cli_runner().invoke(args=["db"])
    assert result.exit_code == 0, result.output
    assert result.output == "group ran verbose=False\n"
    main = MicroframeworkGroup(create_app=lambda: app)
    result = MicroframeworkCliRunner(app).invoke(main, ["db", "--verbose", "migrate"])
    assert result.exit_code == 0, result.output
    assert result.output == "group ran verbose=True\nmigrate sees True\n"


def test_an_async_plain_click_command_added_to_a_custom_group_runs() -> None:
    main = MicroframeworkGroup(create_app=lambda: Microframework("added"))

    @click.command()
    async def added() -> None:
        click.echo("added ran")

    main.add_command(added)
    result = MicroframeworkCliRunner(Microframework("added")).invoke(main, ["added"])
    assert result.exit_code == 0, result.output
    assert result.output == "added ran\n"


def test_an_async_command_of_a_plain_click_group_added_to_a_custom_group_runs() -> None:
    # A plugin's plain click.Group with an async subcommand: the coroutine was never
    # awaited ("RuntimeWarning: coroutine ... was never awaited") and the exit was 0.
    main = MicroframeworkGroup(create_app=lambda: Microframework("added"))
    tools = click.Group("tools")

    @tools.command()
    async def check() -> None:
        click.echo("check ran")

    @tools.group()
    def nested() -> None:
        pass

    @nested.command()
    async def deeper() -> None:
        click.echo("deeper ran")

    main.add_command(tools)
    runner = MicroframeworkCliRunner(Microframework("added"))
    result = runner.invoke(main, ["tools", "check"])
    assert (result.exit_code, result.output) == (0, "check ran\n"), result.output
    result = runner.invoke(main, ["tools", "nested", "deeper"])
    assert (result.exit_code, result.output) == (0, "deeper ran\n"), result.output


def test_run_reads_the_certificate_from_flasks_variable_names(tmp_path: Path) -> None:
    # MICROFRAMEWORK_RUN_CERT/_KEY (Flask's FLASK_RUN_CERT renamed) were ignored, and
    # run served plain HTTP; the port is held here so that no server starts.
    app = Microframework("certenv")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        result = MicroframeworkCliRunner(app).invoke(
            cli,
            ["run"],
            env={
                "MICROFRAMEWORK_RUN_PORT": str(taken.getsockname()[1]),
                "MICROFRAMEWORK_RUN_CERT": str(tmp_path / "missing-cert.pem"),
                "MICROFRAMEWORK_RUN_KEY": str(tmp_path / "missing-key.pem"),
            },
        )
    assert result.exit_code == 2, result.output
    assert "missing-cert.pem" in result.output


def test_an_async_shell_context_processor_is_refused_when_registered() -> None:
    # The shell crashed with "'coroutine' object is not iterable" and a warning.
    app = Microframework("shellctx")

    async def names() -> dict[str, Any]:
        return {"answer": 42}

    with pytest.raises(TypeError, match="must be a plain def"):
        app.shell_context_processor(names)


def test_run_with_flasks_adhoc_certificate_says_how_to_make_one() -> None:
    # It said "File 'adhoc' does not exist."
    result = MicroframeworkCliRunner(Microframework("tls")).invoke(
        cli, ["run", "--cert", "adhoc", "--key", "adhoc"]
    )
    assert result.exit_code == 2
    assert "'adhoc' certificate isn't supported" in result.stderr
    assert "--cert cert.pem --key key.pem" in result.stderr


@pytest.mark.filterwarnings("error::RuntimeWarning")
@pytest.mark.parametrize("added_to", ["main", "app.cli"])
def test_an_async_callback_of_a_click_group_made_as_app_group_runs(
    added_to: str,
) -> None:
    # click.group(cls=AppGroup) over an async function: the group's own callback was
    # never awaited ("coroutine 'tools' was never awaited"), its body never ran.
    app = Microframework("added")

    @click.group(cls=AppGroup)
    async def tools() -> None:
        click.echo("group ran")

    @tools.command()
    async def check() -> None:
        click.echo("check ran")

    if added_to == "main":
        main = MicroframeworkGroup(create_app=lambda: app)
        main.add_command(tools)
        result = MicroframeworkCliRunner(app).invoke(main, ["tools", "check"])
    else:
        app.cli.add_command(tools)
        result = app.test_cli_runner().invoke(args=["tools", "check"])
    assert (result.exit_code, result.output) == (0, "group ran\ncheck ran\n")


# -- factories no worker can import, app names too deep to parse (muts50) ----------


def _make(name: str) -> Microframework:
    return Microframework(name)


class _Factory:
    def __call__(self) -> Microframework:
        return Microframework("callable")


def _run(monkeypatch: pytest.MonkeyPatch, create_app: Any, *args: str) -> Any:
    served: list[dict[str, Any]] = []

    def serve_app(app: Microframework, **options: Any) -> int:
        served.append(options)
        return 0

    monkeypatch.setattr(cli_module, "serve_app", serve_app)
    result = CliRunner().invoke(MicroframeworkGroup(create_app=create_app), list(args))
    return result, served


@pytest.mark.parametrize(
    "create_app",
    [functools.partial(_make, "partial"), _Factory()],
    ids=["partial", "object"],
)
def test_a_create_app_no_worker_can_import_is_refused_for_the_reloader(
    monkeypatch: pytest.MonkeyPatch, create_app: Any
) -> None:
    # A functools.partial's locator was "functools:create_app", a callable object's
    # "<its module>:create_app": the worker then failed to load the app, and
    # --reload/--workers served nothing. As for a lambda, refuse, naming the fix.
    result, served = _run(monkeypatch, create_app, "run", "--reload")
    assert result.exit_code == 1, result.output
    assert "must be importable" in result.output
    assert served == []


def test_debug_run_with_a_partial_create_app_serves_without_the_reloader(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    result, served = _run(
        monkeypatch, functools.partial(_make, "dbg"), "--debug", "run"
    )
    assert result.exit_code == 0, result.output
    assert served[0]["use_reloader"] is False
    assert served[0]["locator"] is None


def test_a_module_level_create_app_keeps_its_locator(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    result, served = _run(monkeypatch, _module_level_app, "run", "--reload")
    assert result.exit_code == 0, result.output
    assert served[0]["locator"] == f"{__name__}:_module_level_app"


def _module_level_app() -> Microframework:
    return Microframework("modlevel")


@pytest.mark.parametrize("depth", [3000, 100_000], ids=["recursion", "memory"])
def test_an_app_name_too_deeply_nested_to_parse_is_one_error_line(
    tmp_path: Path, depth: int
) -> None:
    # cli._parse_app_name: ast.parse raises RecursionError (or MemoryError) on a very
    # deep expression; that was a traceback, not the "Could not parse" line. Python
    # 3.13's parser takes 3000 levels, and literal_eval refuses them: the other line.
    (tmp_path / "deep.py").write_text(
        "from microframework import Microframework\n"
        "def create_app(x=None):\n    return Microframework('deep')\n"
    )
    name = "deep:create_app(" + "-" * depth + "1)"
    result = CliRunner().invoke(cli, ["--app", name, "routes"])
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Could not parse" in result.output or (
        sys.version_info >= (3, 13) and "must be Python literals" in result.output
    )
    assert "Traceback" not in result.output
