"""``cli.py``: the ``microframework`` command line: app discovery, ``run``, ``routes``, ``shell``.

Rule: a user's mistake (no app, a failing import or factory) ends in one ``Error:`` line,
never our traceback. Re-exports ``cli_group.py``'s and ``serving.py``'s public names.
"""

from __future__ import annotations

import ast
import asyncio
import contextvars
import functools
import importlib.metadata
import inspect
import os
import platform
import re
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any
from typing import Literal
from typing import overload
from typing import TYPE_CHECKING

import click

from ._dotenv import load_dotenv as load_dotenv
from ._dotenv import python_dotenv
from .app import Microframework
from .cli_group import AppGroup as AppGroup
from .cli_group import call_in_app_context as call_in_app_context
from .cli_group import NoAppException as NoAppException
from .cli_group import pass_script_info as pass_script_info
from .cli_group import push_for_command
from .cli_group import ScriptInfo as ScriptInfo
from .cli_group import with_appcontext as with_appcontext
from .cli_group import with_event_loop
from .helpers import DEBUG_ENV
from .helpers import get_debug_flag as get_debug_flag
from .helpers import get_load_dotenv as get_load_dotenv
from .helpers import SKIP_DOTENV_ENV as SKIP_DOTENV_ENV
from .serving import run_app as run_app
from .serving import RUN_FROM_CLI_ENV as RUN_FROM_CLI_ENV
from .serving import serve_app as serve_app
from .serving import SERVE_APP_ENV as SERVE_APP_ENV

if TYPE_CHECKING:
    from werkzeug.routing import Rule

_FILE = click.Path(exists=True, dir_okay=False)


class _SeparatedPaths(click.Path):
    """Paths separated by ``os.pathsep`` (``:``, ``;`` on Windows), as Flask's ``run`` takes them."""

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> Any:
        """Split *value* and check each path as ``click.Path`` does."""
        # A list is a default or a value given already split.
        items = value if isinstance(value, list) else self.split_envvar_value(value)
        convert = super().convert
        return [convert(item, param, ctx) for item in items]


def prepare_import(path: str) -> str:
    """Return the module name for a file path or module name, putting its root on ``sys.path``."""
    target = Path(os.path.realpath(path))
    if target.suffix == ".py":
        target = target.with_suffix("")
    if target.name == "__init__":
        target = target.parent
    parts, folder = [target.name], target.parent
    while (folder / "__init__.py").is_file():
        parts.append(folder.name)
        folder = folder.parent
    if sys.path[:1] != [str(folder)]:
        sys.path.insert(0, str(folder))
    return ".".join(reversed(parts))


@overload
def locate_app(
    module_name: str, app_name: str | None, raise_if_not_found: Literal[True] = True
) -> Microframework: ...
@overload
def locate_app(
    module_name: str, app_name: str | None, raise_if_not_found: bool
) -> Microframework | None: ...
def locate_app(
    module_name: str, app_name: str | None, raise_if_not_found: bool = True
) -> Microframework | None:
    """Import *module_name* and find the app in it: by *app_name*, or the best guess.

    A module that doesn't exist is ``None`` if *raise_if_not_found* is false (Flask's)."""
    try:
        __import__(module_name)  # unlike import_module, keeps importlib's frames out
    except Exception as error:
        # "pkg.mod" is missing if "pkg" or "pkg.mod" is; any other is the user's error.
        missing = error.name if isinstance(error, ModuleNotFoundError) else None
        if missing is not None and f"{module_name}.".startswith(f"{missing}."):
            if not raise_if_not_found:
                return None
            raise NoAppException(f"Could not import {module_name!r}.") from None
        tb = error.__traceback__  # skip our own frame, so it starts in user code
        lines = traceback.format_exception(type(error), error, tb and tb.tb_next)
        raise NoAppException(
            f"While importing {module_name!r}, an error was raised:\n\n"
            + "".join(lines).rstrip()
        ) from error
    module = sys.modules[module_name]
    if app_name is None:
        return find_best_app(module)
    return find_app_by_string(module, app_name)


def find_best_app(module: ModuleType) -> Microframework:
    """Find the app in *module*: ``app`` or ``application``, a single instance, or a factory."""
    mod = module.__name__
    for name in ("app", "application"):
        if isinstance(candidate := getattr(module, name, None), Microframework):
            return candidate
    found: dict[int, tuple[str, Microframework]] = {}
    for name, value in vars(module).items():
        if isinstance(value, Microframework):
            found.setdefault(id(value), (name, value))
    if len(found) == 1:
        return next(iter(found.values()))[1]
    if found:
        names = ", ".join(sorted(name for name, _ in found.values()))
        raise NoAppException(
            f"Found several apps in module {mod!r} ({names}); use '{mod}:name' to pick one."
        )
    for name in ("create_app", "make_app"):
        if inspect.isfunction(factory := getattr(module, name, None)):
            return _call_factory(mod, name, factory)
    raise NoAppException(
        f"Could not find an app or a 'create_app'/'make_app' factory in module {mod!r};"
        f" use '{mod}:name' to name one."
    )


def find_app_by_string(module: ModuleType, app_name: str) -> Microframework:
    """Find the app named by *app_name*: ``name``, ``factory()`` or ``factory(literal args)``."""
    name, args, kwargs, called = _parse_app_name(app_name)
    mod = module.__name__
    try:
        target = getattr(module, name)
    except AttributeError:
        raise NoAppException(f"Module {mod!r} has no attribute {name!r}.") from None
    kind = type(target).__name__
    article = "an" if kind[:1].lower() in "aeiou" else "a"
    what = f"{name!r} in module {mod!r} is {article} {kind}"
    if inspect.isfunction(target) or called:
        if not callable(target):
            raise NoAppException(f"{what}, not a factory to call.")
        return _call_factory(mod, name, target, *args, **kwargs)
    if isinstance(target, Microframework):
        return target
    raise NoAppException(f"{what}, not a Microframework app.")


def _parse_app_name(app_name: str) -> tuple[str, list[Any], dict[str, Any], bool]:
    """``'create_app("dev", debug=True)'`` -> ``("create_app", ["dev"], {"debug": True}, True)``."""
    try:
        expr = ast.parse(app_name.strip(), mode="eval").body
    except (SyntaxError, ValueError, MemoryError, RecursionError):  # too deep to parse
        expr = None
    if isinstance(expr, ast.Name):
        return expr.id, [], {}, False
    if not isinstance(expr, ast.Call) or not isinstance(expr.func, ast.Name):
        raise NoAppException(
            f"Could not parse {app_name!r} as a name or a call like 'create_app()'."
        )
    try:
        args = [ast.literal_eval(arg) for arg in expr.args]
        kwargs: dict[str, Any] = {}
        for keyword in expr.keywords:
            if keyword.arg is None:
                raise ValueError("'**' arguments")
            kwargs[keyword.arg] = ast.literal_eval(keyword.value)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        raise NoAppException(
            f"The arguments in {app_name!r} must be Python literals"
            " (strings, numbers, lists, dicts, True/False/None)."
        ) from None
    return expr.func.id, args, kwargs, True


def _call_factory(
    module: str, name: str, factory: Callable[..., Any], /, *args: Any, **kwargs: Any
) -> Microframework:
    where = f"{name}() in module {module!r}"
    try:
        inspect.signature(factory).bind(*args, **kwargs)
    except TypeError as error:
        raise NoAppException(
            f"Could not call {where} with the arguments given: {error}."
        ) from None
    except ValueError:
        pass  # no signature to check (a builtin): let the call decide
    try:
        app = factory(*args, **kwargs)
    except Exception as error:
        tb = error.__traceback__  # from the factory's frame: the code to fix
        lines = traceback.format_exception(type(error), error, tb and tb.tb_next)
        raise NoAppException(
            f"{where} raised an error:\n\n" + "".join(lines).rstrip()
        ) from error
    if inspect.iscoroutine(app):
        app.close()  # never awaited: close it so Python does not warn
        raise NoAppException(
            f"{where} is async; an app factory must be a plain function."
        )
    if not isinstance(app, Microframework):
        raise NoAppException(
            f"{where} returned {type(app).__name__}, not a Microframework app."
        )
    return app


def load_script_app(info: ScriptInfo) -> tuple[Microframework, str | None]:
    """Find the app *info* describes, and the ``module:name`` a worker can load it from.

    ``info.create_app`` wins, then ``info.app_import_path``, then ``asgi.py``/``app.py``.
    """
    if info.create_app is not None:
        module = getattr(info.create_app, "__module__", None)
        name = getattr(info.create_app, "__qualname__", "create_app")
        app = _call_factory(module or "?", name, info.create_app)
        # A lambda, a nested function, a functools.partial or a callable object is
        # nothing a worker could import: only what module:name gives back is.
        found = getattr(sys.modules.get(module or ""), name, None)
        importable = name.isidentifier() and found is info.create_app
        return app, f"{module}:{name}" if importable else None
    files = ("asgi.py", "app.py")
    path = info.app_import_path or next((f for f in files if Path(f).is_file()), None)
    if path is None:
        raise NoAppException(
            "Could not find a Microframework app. Use '--app module:name', set"
            " MICROFRAMEWORK_APP, or put an 'app.py' or 'asgi.py' in the current folder."
            + _ported_hint()
        )
    # A colon followed by a slash is a Windows drive ("C:\\app.py"), not a separator.
    path, *rest = re.split(r":(?![\\/])", path, maxsplit=1)
    name = rest[0] if rest else ""
    module_name = prepare_import(path)
    return locate_app(module_name, name or None), f"{module_name}:{name}"


def _ported_hint() -> str:
    # A ported project's settings, which are not read here: say so, not just "none".
    hints = [
        f" {name} is not read here: set MICROFRAMEWORK_APP."
        for name in ("FLASK_APP", "QUART_APP")
        if os.environ.get(name)
    ]
    hints += [
        f" {name} is not read here: put its lines in .env, as MICROFRAMEWORK_*."
        for name in (".flaskenv", ".quartenv")
        if os.path.isfile(name)
    ]
    return "".join(hints)


def _set_app(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    ctx.meta[_HANDLED + "app"] = True
    if value is not None:
        ctx.ensure_object(ScriptInfo).app_import_path = value


def _set_debug(ctx: click.Context, param: click.Parameter, value: bool | None) -> None:
    # Via the environment: the app (made now or in a worker) reads it when configured.
    if value is not None:
        os.environ[DEBUG_ENV] = "1" if value else "0"


def _load_env_files(
    ctx: click.Context, param: click.Parameter, value: str | None
) -> None:
    info = ctx.ensure_object(ScriptInfo)
    ctx.meta[_HANDLED + "env"] = True
    if value is not None and python_dotenv() is None:
        raise click.BadParameter(
            "python-dotenv must be installed to load an env file.", ctx, param
        )
    load_dotenv(value, load_defaults=info.load_dotenv_defaults)


def get_version(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    """``--version``'s callback (Flask's and Quart's name): print the versions, exit."""
    if not value or ctx.resilient_parsing:
        return
    lines = [f"Python {platform.python_version()}"]
    for name in ("microframework", "hypercorn", "werkzeug"):
        try:
            lines.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            lines.append(f"{name} (unknown version)")
    click.echo("\n".join(lines), color=ctx.color)
    ctx.exit()


_HANDLED = "microframework.handled."  # ctx.meta keys: the eager options handled
_eager = functools.partial(click.Option, is_eager=True, expose_value=False)
# Declared in this order on purpose: click handles eager options that were not given
# in declaration order, so env files load before --app reads MICROFRAMEWORK_APP.
_env_file_option = _eager(
    ["-e", "--env-file"],
    type=_FILE,
    callback=_load_env_files,
    help="Load environment variables from this file (needs python-dotenv).",
)
_app_option = _eager(
    ["-A", "--app"],
    metavar="IMPORT",
    envvar="MICROFRAMEWORK_APP",
    allow_from_autoenv=False,
    callback=_set_app,
    help="The app to load: 'module:name', 'module:create_app()' or a file path. Without"
    " it, 'asgi.py' then 'app.py' are tried.",
)
_debug_option = _eager(
    ["--debug/--no-debug"],
    default=None,
    allow_from_autoenv=False,
    callback=_set_debug,
    help="Turn debug mode on (reloader, detailed error pages).",
)
#: Flask's and Quart's name, for a group of one's own (``params=[version_option]``).
version_option = _eager(
    ["--version"],
    is_flag=True,
    callback=get_version,
    help="Show the Python, microframework and hypercorn versions.",
)


class MicroframeworkGroup(AppGroup):
    """The ``microframework`` command group: ``--app``/``--env-file``/``--debug``, built-ins, app commands.

    Pass ``create_app`` to skip discovery. Lists ``app.cli`` and entry point commands too.
    """

    def __init__(
        self,
        add_default_commands: bool = True,
        create_app: Callable[[], Microframework] | None = None,
        add_version_option: bool = True,
        load_dotenv: bool = True,
        set_debug_flag: bool = True,
        **extra: Any,
    ) -> None:
        params = list(extra.pop("params", None) or ())
        params += [_env_file_option, _app_option, _debug_option]
        if add_version_option:
            params.append(version_option)
        settings = dict(extra.pop("context_settings", None) or {})
        settings.setdefault("auto_envvar_prefix", "MICROFRAMEWORK")
        super().__init__(params=params, context_settings=settings, **extra)
        self.create_app = create_app
        self.load_dotenv = load_dotenv
        self.set_debug_flag = set_debug_flag
        self._plugins_loaded = False
        if add_default_commands:
            for command in (run_command, routes_command, shell_command):
                self.add_command(command)

    def _load_plugin_commands(self) -> None:
        if self._plugins_loaded:
            return
        for entry in importlib.metadata.entry_points(group="microframework.commands"):
            self.add_command(entry.load(), entry.name)
        self._plugins_loaded = True

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """A built-in or plugin command, else one of the app's ``app.cli`` commands."""
        self._load_plugin_commands()
        # click's own lookup: built-ins and plugins load the app themselves.
        if (command := click.Group.get_command(self, ctx, cmd_name)) is not None:
            return with_event_loop(command)
        if (app := _load_app(ctx)) is None:
            return None
        group = app.cli
        return push_for_command(ctx, app, lambda: group.get_command(ctx, cmd_name))

    def list_commands(self, ctx: click.Context) -> list[str]:
        """The built-in and plugin commands, plus the app's, for ``--help``."""
        self._load_plugin_commands()
        names = set(super().list_commands(ctx))
        # click handles a --help given before the eager options not given: they read
        # the env files and MICROFRAMEWORK_APP, which help needs to find the app.
        for key, option in (("env", _env_file_option), ("app", _app_option)):
            if not ctx.meta.get(_HANDLED + key):
                option.handle_parse_result(ctx, {}, [])
        app = _load_app(ctx)
        return sorted(names.union(app.cli.list_commands(ctx) if app else ()))

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        """Create the context with a :class:`ScriptInfo` as its ``obj``."""
        # An unguarded app.run() in a module we import must not take over the command.
        os.environ[RUN_FROM_CLI_ENV] = "true"
        if "obj" not in extra and "obj" not in self.context_settings:
            extra["obj"] = ScriptInfo(
                create_app=self.create_app,
                set_debug_flag=self.set_debug_flag,
                load_dotenv_defaults=get_load_dotenv(self.load_dotenv),
            )
        return super().make_context(info_name, args, parent=parent, **extra)


def _load_app(ctx: click.Context) -> Microframework | None:
    """The app; None, saying why, when there is no app to load."""
    try:
        return ctx.ensure_object(ScriptInfo).load_app()
    except NoAppException as error:
        # Help and "No such command" still work; this says why app commands are missing.
        click.secho(f"Error: {error.format_message()}\n", err=True, fg="red")
        return None


_CERT, _KEY = "TLS certificate (HTTPS and HTTP/2).", "TLS key, with --certfile."


def _tls_env(name: str) -> list[str]:
    return [f"MICROFRAMEWORK_RUN_{name}FILE", f"MICROFRAMEWORK_RUN_{name}"]


class _CertFile(click.Path):
    def convert(self, value: Any, param: Any, ctx: Any) -> Any:
        if value == "adhoc":  # Flask's own, which its users type
            self.fail(
                "Flask's 'adhoc' certificate isn't supported: make a pair (openssl req"
                " -x509 -newkey rsa:2048 -nodes -subj /CN=localhost -keyout key.pem"
                " -out cert.pem) and pass --cert cert.pem --key key.pem.",
                param,
                ctx,
            )
        return super().convert(value, param, ctx)


_CERT_FILE = _CertFile(exists=True, dir_okay=False)


@click.command(
    "run",
    short_help="Serve the app with hypercorn.",
    context_settings={"show_default": True},
)
@click.option("--host", "-h", default="127.0.0.1", help="The interface to bind to.")
@click.option(
    "--port", "-p", default=5000, type=click.IntRange(0, 65535), help="The port."
)
@click.option(
    "--reload/--no-reload",
    default=None,
    show_default=False,
    help="Restart when a source file changes. On in debug mode.",
)
# The variables of Quart's names and of Flask's (FLASK_RUN_CERT): neither is ignored.
@click.option(
    "--certfile", "--cert", type=_CERT_FILE, envvar=_tls_env("CERT"), help=_CERT
)
@click.option("--keyfile", "--key", type=_FILE, envvar=_tls_env("KEY"), help=_KEY)
@click.option(
    "--workers", "-w", default=1, type=click.IntRange(min=1), help="Worker processes."
)
@click.option(
    "--extra-files",
    type=_SeparatedPaths(),
    help=f"With the reloader, more files to watch, separated by {os.path.pathsep!r}.",
)
@click.option(
    "--exclude-patterns",
    type=_SeparatedPaths(),
    help="With the reloader, files not to watch: fnmatch patterns, separated by"
    f" {os.path.pathsep!r}.",
)
@pass_script_info
def run_command(info: ScriptInfo, /, reload: bool | None, **options: Any) -> None:
    """Serve the app with hypercorn, for development.

    Debug mode (--debug) turns the reloader on. In production, run hypercorn (or
    another ASGI server) directly; see the "Deploying" docs.
    """
    # The other options (host, port, workers, certfile, keyfile, extra_files,
    # exclude_patterns) are serve_app()'s.
    if (options["certfile"] is None) != (options["keyfile"] is None):
        raise click.UsageError("--certfile and --keyfile must be given together.")
    app = info.load_app()
    reload = _reloading(info, app, reload, options["workers"])
    exit_code = serve_app(
        app, use_reloader=reload, locator=info.worker_locator, **options
    )
    if exit_code:
        raise click.exceptions.Exit(exit_code)


def _reloading(
    info: ScriptInfo, app: Microframework, reload: bool | None, workers: int
) -> bool:
    if info.worker_locator is None and info.create_app is not None:
        if reload or workers > 1:  # given: refuse, naming what to change
            raise click.ClickException(
                "The reloader and extra workers load the app in new processes, so it"
                " must be importable: pass it as '--app module:name' (a create_app"
                " given to MicroframeworkGroup must be a module-level function)."
            )
        if reload is None and app.debug:  # as app.run(debug=True) in that case
            app.logger.warning(
                "The reloader needs create_app as a module-level function; serving"
                " without it."
            )
            return False
    return bool(app.debug) if reload is None else reload


# As in Flask, "run --debug" works too: the eager option sets the environment first.
run_command.params.insert(0, _debug_option)


def _ignored(ctx: click.Context, param: click.Parameter, value: bool | None) -> None:
    if value is not None and param.opts:
        # Flask's debugging guide passes these; as app.run()'s, warn and serve anyway.
        click.secho(
            f" * {param.opts[0] if value else param.secondary_opts[0]} is an option of"
            " werkzeug's server; hypercorn serves here, so it is ignored.",
            err=True,
            fg="yellow",
        )


# Flask's run options for werkzeug's server: accepted, as app.run()'s are.
for _flags in (
    "--debugger/--no-debugger",
    "--with-threads/--without-threads",
    "--eager-loading/--lazy-loading",
):
    run_command.params.append(
        click.Option(
            [_flags],
            default=None,
            expose_value=False,
            callback=_ignored,
            help="Flask's werkzeug option: accepted and ignored.",
        )
    )


@click.command("routes", short_help="Show the app's routes.")
@click.option(
    "--sort",
    "-s",
    type=click.Choice(("endpoint", "methods", "domain", "rule", "match")),
    default="endpoint",
    show_default=True,
    help="Sort by endpoint, methods, domain (host or subdomain) or rule, or 'match'"
    " for the order rules are tried.",
)
@click.option("--all-methods", is_flag=True, help="Show HEAD and OPTIONS too.")
@pass_script_info
def routes_command(info: ScriptInfo, sort: str, all_methods: bool) -> None:
    """Show a table of the app's URL rules: endpoint, methods, and rule."""
    app = info.load_app()
    rules: list[Rule] = list(app.url_map.iter_rules())
    if not rules:
        click.echo("No routes were registered.")
        return
    hidden = set() if all_methods else {"HEAD", "OPTIONS"}

    def methods(rule: Rule) -> str:
        if rule.websocket:
            return "WEBSOCKET"
        return ", ".join(sorted((rule.methods or set()) - hidden))

    if sort in ("endpoint", "rule"):
        rules.sort(key=lambda rule: getattr(rule, sort))
    elif sort == "methods":
        rules.sort(key=methods)
    elif sort == "domain":
        where = "host" if app.url_map.host_matching else "subdomain"
        rules.sort(key=lambda rule: getattr(rule, where) or "")
    columns: list[tuple[str, Callable[[Rule], str]]]
    columns = [("Endpoint", lambda rule: rule.endpoint), ("Methods", methods)]
    # Show where a rule applies only when some rule is limited to a host or subdomain.
    if app.url_map.host_matching and any(rule.host for rule in rules):
        columns.append(("Host", lambda rule: rule.host or ""))
    elif any(rule.subdomain for rule in rules):
        columns.append(("Subdomain", lambda rule: rule.subdomain or ""))
    columns.append(("Rule", lambda rule: rule.rule))
    table = [[title for title, _ in columns]]
    table += [[cell(rule) for _, cell in columns] for rule in rules]
    widths = [max(map(len, column)) for column in zip(*table, strict=True)]
    table.insert(1, ["-" * width for width in widths])
    for row in table:
        cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        click.echo("  ".join(cells).rstrip())


@click.command("shell", short_help="Run a Python shell in the app context.")
@pass_script_info
def shell_command(info: ScriptInfo) -> None:
    """Run an interactive Python shell with the app context pushed.

    'app' and 'g' are defined, and top-level 'await' works. PYTHONSTARTUP is run
    first, as in the normal Python shell.
    """
    app = info.load_app()
    # Not at the top: stdlib's `code` there would shadow an app module named code.py.
    from ._console import AsyncConsole
    from ._console import enable_completion

    banner = (
        f"Python {sys.version} on {sys.platform}\n"
        f"App: {app.import_name}\nInstance: {app.instance_path}\n"
        "The app context is pushed; top-level 'await' works."
    )
    ns: dict[str, Any] = {"__name__": "__console__", "__builtins__": __builtins__}
    startup = os.environ.get("PYTHONSTARTUP")
    context = contextvars.copy_context()
    app_ctx = app.app_context()
    with asyncio.Runner() as runner:
        runner.run(app_ctx.push(), context=context)
        try:
            if startup and os.path.isfile(startup):
                with open(startup, encoding="utf-8") as file:
                    context.run(exec, compile(file.read(), startup, "exec"), ns)
            # What flask shell defines: app, g and the shell context processors' names.
            ns.update(context.run(app.make_shell_context))
            enable_completion(ns)
            AsyncConsole(ns, runner, context).interact(banner=banner, exitmsg="")
        finally:
            runner.run(app_ctx.pop(None), context=context)


cli = MicroframeworkGroup(
    name="microframework",
    help="""\
A general utility script for microframework apps.

It finds the app from the --app option, the MICROFRAMEWORK_APP environment
variable, or an 'asgi.py' or 'app.py' file in the current folder.
""",
)


def main() -> None:
    """Run the ``microframework`` command line (the console script's entry point)."""
    cli.main()
