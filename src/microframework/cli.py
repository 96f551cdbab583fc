"""``cli.py``: the ``microframework`` command line: app discovery, ``run``, ``routes``, ``shell``.

Rule: a mistake the user makes (no app found, an app module that fails to import, a
factory that raises, a port already in use) ends in one ``Error:`` line, never in our
traceback; the only traceback shown is the user's own, from inside their module.
Commands are plain click commands; ``async def`` commands run on a fresh event loop
with the app context pushed, and the context lives in one ``contextvars.Context``
shared by every step, so sync and async code in a command see the same ``g``.

Serving always goes through ``hypercorn.run.run``. One worker without the reloader runs
in this process; ``--reload`` and ``--workers`` spawn processes that find the app again
from ``MICROFRAMEWORK_SERVE_APP`` (a ``module:name`` string), because a spawned process
shares nothing with this one but its environment, ``sys.path`` and working directory.
"""

from __future__ import annotations

import ast
import asyncio
import code
import contextvars
import errno
import functools
import importlib
import importlib.metadata
import inspect
import os
import platform
import re
import socket
import sys
import traceback
from collections.abc import Callable
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from operator import attrgetter
from pathlib import Path
from types import CodeType
from types import ModuleType
from typing import Any
from typing import overload
from typing import TYPE_CHECKING
from typing import TypeVar

import click

from .app import Microframework
from .globals import _cv_app
from .globals import g

if TYPE_CHECKING:
    from werkzeug.routing import Rule

F = TypeVar("F", bound=Callable[..., Any])

#: Set while a CLI command runs; ``app.run()`` then does nothing instead of blocking.
RUN_FROM_CLI_ENV = "MICROFRAMEWORK_RUN_FROM_CLI"
#: How a spawned worker process finds the app: ``module:name`` for :func:`locate_app`.
SERVE_APP_ENV = "MICROFRAMEWORK_SERVE_APP"
_DEBUG_ENV = "MICROFRAMEWORK_DEBUG"
_DEFAULT_MODULES = ("asgi", "app")
_FACTORY_NAMES = ("create_app", "make_app")


class NoAppException(click.ClickException):
    """The app could not be found, imported or created; shown as one ``Error:`` line."""


# -- app discovery ----------------------------------------------------------------
def prepare_import(path: str) -> str:
    """Return the module name for a file path or module name, putting its root on ``sys.path``.

    ``src/hello.py``, ``hello`` and ``pkg/mod.py`` all work; for a file inside a
    package, the folder above the outermost package goes on ``sys.path``.
    """
    target = Path(os.path.realpath(path))
    if target.suffix == ".py":
        target = target.with_suffix("")
    if target.name == "__init__":
        target = target.parent
    parts = [target.name]
    folder = target.parent
    while (folder / "__init__.py").is_file():
        parts.append(folder.name)
        folder = folder.parent
    if sys.path[:1] != [str(folder)]:
        sys.path.insert(0, str(folder))
    return ".".join(reversed(parts))


def locate_app(module_name: str, app_name: str | None) -> Microframework:
    """Import *module_name* and find the app in it: by *app_name*, or the best guess."""
    try:
        # __import__, unlike importlib.import_module, drops importlib's own frames
        # from the traceback, so the user sees only their code.
        __import__(module_name)
    except Exception as error:
        if isinstance(error, ModuleNotFoundError) and _names_module(error, module_name):
            raise NoAppException(f"Could not import {module_name!r}.") from None
        raise NoAppException(
            f"While importing {module_name!r}, an error was raised:\n\n"
            + _format_user_traceback(error)
        ) from error
    module = sys.modules[module_name]
    if app_name is None:
        return find_best_app(module)
    return find_app_by_string(module, app_name)


def _names_module(error: ModuleNotFoundError, module_name: str) -> bool:
    # "pkg.mod" is missing if "pkg" or "pkg.mod" is; a missing import *inside* the
    # module names some other module and is the user's error to see.
    name = error.name
    return name is not None and (
        module_name == name or module_name.startswith(name + ".")
    )


def _format_user_traceback(error: BaseException) -> str:
    tb = error.__traceback__
    # Skip our own frame (the __import__ call) so the traceback starts in user code.
    start = tb.tb_next if tb is not None else None
    return "".join(traceback.format_exception(type(error), error, start)).rstrip()


def find_best_app(module: ModuleType) -> Microframework:
    """Find the app in *module*: ``app`` or ``application``, a single instance, or a factory."""
    for name in ("app", "application"):
        candidate = getattr(module, name, None)
        if isinstance(candidate, Microframework):
            return candidate
    found: dict[int, tuple[str, Microframework]] = {}
    for name, value in vars(module).items():
        if isinstance(value, Microframework):
            found.setdefault(id(value), (name, value))
    if len(found) == 1:
        return next(iter(found.values()))[1]
    if len(found) > 1:
        names = ", ".join(sorted(name for name, _ in found.values()))
        raise NoAppException(
            f"Found several apps in module {module.__name__!r} ({names});"
            f" use '{module.__name__}:name' to pick one."
        )
    for name in _FACTORY_NAMES:
        factory = getattr(module, name, None)
        if inspect.isfunction(factory):
            return _call_factory(module.__name__, name, factory, [], {})
    raise NoAppException(
        f"Could not find an app or a 'create_app'/'make_app' factory in module"
        f" {module.__name__!r}; use '{module.__name__}:name' to name one."
    )


def find_app_by_string(module: ModuleType, app_name: str) -> Microframework:
    """Find the app named by *app_name*: ``name``, ``factory()`` or ``factory(literal args)``."""
    name, args, kwargs, called = _parse_app_name(app_name)
    try:
        target = getattr(module, name)
    except AttributeError:
        raise NoAppException(
            f"Module {module.__name__!r} has no attribute {name!r}."
        ) from None
    if inspect.isfunction(target) or called:
        if not callable(target):
            raise NoAppException(
                f"{name!r} in module {module.__name__!r} is a"
                f" {type(target).__name__}, not a factory to call."
            )
        return _call_factory(module.__name__, name, target, args, kwargs)
    if isinstance(target, Microframework):
        return target
    raise NoAppException(
        f"{name!r} in module {module.__name__!r} is a {type(target).__name__},"
        " not a Microframework app."
    )


def _parse_app_name(
    app_name: str,
) -> tuple[str, list[Any], dict[str, Any], bool]:
    """``'create_app("dev", debug=True)'`` -> ``("create_app", ["dev"], {"debug": True}, True)``."""
    try:
        expr = ast.parse(app_name.strip(), mode="eval").body
    except (SyntaxError, ValueError):
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
    module_name: str,
    name: str,
    factory: Callable[..., Any],
    args: list[Any],
    kwargs: dict[str, Any],
) -> Microframework:
    where = f"{name}() in module {module_name!r}"
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
        raise NoAppException(f"{where} raised {_describe(error)}") from error
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


def _describe(error: BaseException) -> str:
    message = str(error)
    return f"{type(error).__name__}: {message}" if message else type(error).__name__


def get_debug_flag() -> bool:
    """True if ``MICROFRAMEWORK_DEBUG`` is set to something other than ``0``/``false``/``no``."""
    value = os.environ.get(_DEBUG_ENV, "")
    return value.strip().lower() not in ("", "0", "false", "no")


# -- .env files -------------------------------------------------------------------
def load_dotenv(
    path: str | os.PathLike[str] | None = None, load_defaults: bool = True
) -> bool:
    """Load ``.env``, ``.microframeworkenv`` and *path* into ``os.environ``; True if any loaded.

    Variables already in the environment win, then *path*, then ``.microframeworkenv``,
    then ``.env``; the default files are looked for in the working directory and its
    parents. Without python-dotenv installed this does nothing and returns False.
    """
    dotenv = _dotenv()
    if dotenv is None:
        return False
    files: list[str | os.PathLike[str] | None] = []
    if load_defaults:
        files += [_find_upwards(".env"), _find_upwards(".microframeworkenv")]
    files.append(path)
    values: dict[str, str | None] = {}
    loaded = False
    for file in files:
        if file is not None and os.path.isfile(file):
            values.update(dotenv.dotenv_values(file, encoding="utf-8"))
            loaded = True
    for key, value in values.items():
        if key not in os.environ and value is not None:
            os.environ[key] = value
    return loaded


def _dotenv() -> ModuleType | None:
    try:
        return importlib.import_module("dotenv")
    except ImportError:
        return None  # python-dotenv is optional


def _find_upwards(name: str) -> Path | None:
    folder = Path.cwd()
    for candidate in (folder, *folder.parents):
        if (candidate / name).is_file():
            return candidate / name
    return None


# -- script info and app context ----------------------------------------------------
class ScriptInfo:
    """What a command needs to find the app; ``load_app`` finds it once and caches it."""

    def __init__(
        self,
        app_import_path: str | None = None,
        create_app: Callable[[], Microframework] | None = None,
        set_debug_flag: bool = True,
        load_dotenv_defaults: bool = True,
    ) -> None:
        self.app_import_path = app_import_path
        self.create_app = create_app
        self.set_debug_flag = set_debug_flag
        self.load_dotenv_defaults = load_dotenv_defaults
        #: Free for the commands' own use, as in Flask.
        self.data: dict[Any, Any] = {}
        self._loaded_app: Microframework | None = None
        self._locator: str | None = None

    def load_app(self) -> Microframework:
        """Find, import or create the app; raise :class:`NoAppException` if that fails."""
        if self._loaded_app is not None:
            return self._loaded_app
        if self.create_app is not None:
            app = _call_factory(
                getattr(self.create_app, "__module__", "?"),
                getattr(self.create_app, "__qualname__", "create_app"),
                self.create_app,
                [],
                {},
            )
            self._locator = _locator_for_factory(self.create_app)
        elif self.app_import_path:
            app = self._load_from_import_path(self.app_import_path)
        else:
            app = self._load_default()
        if self.set_debug_flag and _DEBUG_ENV in os.environ:
            app.debug = get_debug_flag()
        self._loaded_app = app
        return app

    def _load_from_import_path(self, import_path: str) -> Microframework:
        # A colon followed by a slash is a Windows drive ("C:\\app.py"), not a separator.
        path, *rest = re.split(r":(?![\\/])", import_path, maxsplit=1)
        name = rest[0] if rest else ""
        module_name = prepare_import(path)
        app = locate_app(module_name, name or None)
        self._locator = f"{module_name}:{name}"
        return app

    def _load_default(self) -> Microframework:
        for module in _DEFAULT_MODULES:
            if Path(f"{module}.py").is_file():
                module_name = prepare_import(f"{module}.py")
                app = locate_app(module_name, None)
                self._locator = f"{module_name}:"
                return app
        raise NoAppException(
            "Could not find a Microframework app. Use '--app module:name', set"
            " MICROFRAMEWORK_APP, or put an 'app.py' or 'asgi.py' in the current folder."
        )

    @property
    def worker_locator(self) -> str | None:
        """``module:name`` a spawned worker can load the app from, once ``load_app`` ran."""
        return self._locator


def _locator_for_factory(factory: Callable[..., Any]) -> str | None:
    module = getattr(factory, "__module__", None)
    qualname = getattr(factory, "__qualname__", "")
    if module is None or not qualname.isidentifier():
        return None  # a lambda or a nested function: nothing a worker could import
    return f"{module}:{qualname}"


pass_script_info = click.make_pass_decorator(ScriptInfo, ensure=True)


def with_appcontext(f: F) -> F:
    """Run the decorated command with the app context pushed; it may be ``async def``.

    Commands of an :class:`AppGroup` get this automatically.
    """

    @click.pass_context
    def decorator(ctx: click.Context, /, *args: Any, **kwargs: Any) -> Any:
        app = ctx.ensure_object(ScriptInfo).load_app()
        return call_in_app_context(app, f, args, kwargs)

    return functools.update_wrapper(decorator, f)  # type: ignore[return-value]


def call_in_app_context(
    app: Microframework | None,
    func: Callable[..., Any],
    args: Sequence[Any] = (),
    kwargs: dict[str, Any] | None = None,
) -> Any:
    """Call *func* (sync or async) with *app*'s context pushed (none if *app* is None).

    An app context already active for *app* is reused. Called from a running event
    loop (an async test, an async command), the call runs on its own loop in a
    worker thread, since click commands are synchronous.
    """
    kwargs = kwargs or {}
    if _loop_is_running():
        context = contextvars.copy_context()
        with ThreadPoolExecutor(max_workers=1) as pool:
            future = pool.submit(
                context.run, call_in_app_context, app, func, args, kwargs
            )
            return future.result()
    context = contextvars.copy_context()
    active = context.get(_cv_app)
    app_ctx = None
    if app is not None and (active is None or active.app is not app):
        app_ctx = app.app_context()
    with asyncio.Runner() as runner:
        if app_ctx is not None:
            runner.run(app_ctx.push(), context=context)
        error: BaseException | None = None
        try:
            if inspect.iscoroutinefunction(func):
                return runner.run(func(*args, **kwargs), context=context)
            return context.run(func, *args, **kwargs)
        except BaseException as exc:
            error = exc
            raise
        finally:
            if app_ctx is not None:
                failure = error if isinstance(error, Exception) else None
                runner.run(app_ctx.pop(failure), context=context)


def _loop_is_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _run_without_context(f: F) -> F:
    """Let an ``async def`` command that asked for no app context run on its own loop."""

    def runner(*args: Any, **kwargs: Any) -> Any:
        return call_in_app_context(None, f, args, kwargs)

    return functools.update_wrapper(runner, f)  # type: ignore[return-value]


class AppGroup(click.Group):
    """A click group whose commands run with the app context pushed.

    ``@group.command()`` accepts ``async def`` functions; pass
    ``with_appcontext=False`` for a command that must not load the app.
    """

    @overload
    def command(self, __func: Callable[..., Any]) -> click.Command: ...

    @overload
    def command(
        self, *args: Any, **kwargs: Any
    ) -> Callable[[Callable[..., Any]], click.Command]: ...

    def command(
        self, *args: Any, **kwargs: Any
    ) -> Callable[[Callable[..., Any]], click.Command] | click.Command:
        """Register a command, like ``click.Group.command``, wrapped with :func:`with_appcontext`."""
        if len(args) == 1 and not kwargs and callable(args[0]):
            return self.command()(args[0])
        wrap = kwargs.pop("with_appcontext", True)

        def decorator(f: Callable[..., Any]) -> click.Command:
            if wrap:
                f = with_appcontext(f)
            elif inspect.iscoroutinefunction(f):
                f = _run_without_context(f)
            command: click.Command = super(AppGroup, self).command(*args, **kwargs)(f)
            return command

        return decorator

    @overload
    def group(self, __func: Callable[..., Any]) -> click.Group: ...

    @overload
    def group(
        self, *args: Any, **kwargs: Any
    ) -> Callable[[Callable[..., Any]], click.Group]: ...

    def group(
        self, *args: Any, **kwargs: Any
    ) -> Callable[[Callable[..., Any]], click.Group] | click.Group:
        """Register a sub-group; it is an :class:`AppGroup` unless ``cls`` says otherwise."""
        kwargs.setdefault("cls", AppGroup)
        return super().group(*args, **kwargs)  # type: ignore[no-any-return]


# -- the microframework group ------------------------------------------------------
def _set_app(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value is not None:
        ctx.ensure_object(ScriptInfo).app_import_path = value


def _set_debug(ctx: click.Context, param: click.Parameter, value: bool | None) -> None:
    # The environment carries the flag so that the app (made now, or in a worker
    # process later) reads it while it is being configured.
    if value is not None:
        os.environ[_DEBUG_ENV] = "1" if value else "0"


def _load_env_files(
    ctx: click.Context, param: click.Parameter, value: str | None
) -> str | None:
    info = ctx.ensure_object(ScriptInfo)
    if value is not None and _dotenv() is None:
        raise click.BadParameter(
            "python-dotenv must be installed to load an env file.", ctx, param
        )
    if value is not None or info.load_dotenv_defaults:
        load_dotenv(value, load_defaults=info.load_dotenv_defaults)
    return value


def _print_version(ctx: click.Context, param: click.Parameter, value: bool) -> None:
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


# Declared in this order on purpose: click handles eager options that were not given
# in declaration order, so env files load before --app reads MICROFRAMEWORK_APP.
_env_file_option = click.Option(
    ["-e", "--env-file"],
    type=click.Path(exists=True, dir_okay=False),
    is_eager=True,
    expose_value=False,
    callback=_load_env_files,
    help="Load environment variables from this file (needs python-dotenv).",
)
_app_option = click.Option(
    ["-A", "--app"],
    metavar="IMPORT",
    envvar="MICROFRAMEWORK_APP",
    allow_from_autoenv=False,
    is_eager=True,
    expose_value=False,
    callback=_set_app,
    help=(
        "The app to load: 'module:name', 'module:create_app()' or a file path. Without"
        " it, 'asgi.py' then 'app.py' are tried."
    ),
)
_debug_option = click.Option(
    ["--debug/--no-debug"],
    default=None,
    allow_from_autoenv=False,
    is_eager=True,
    expose_value=False,
    callback=_set_debug,
    help="Turn debug mode on (reloader, detailed error pages).",
)
_version_option = click.Option(
    ["--version"],
    is_flag=True,
    is_eager=True,
    expose_value=False,
    callback=_print_version,
    help="Show the Python, microframework and hypercorn versions.",
)


class MicroframeworkGroup(AppGroup):
    """The ``microframework`` command group: ``--app``/``--env-file``/``--debug``, built-ins, app commands.

    Use it for a custom script, passing ``create_app`` to skip discovery. The app's own
    ``app.cli`` commands and those registered under the ``microframework.commands``
    entry point group are listed next to ``run``, ``routes`` and ``shell``.
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
            params.append(_version_option)
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
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            return command
        try:
            app = ctx.ensure_object(ScriptInfo).load_app()
        except NoAppException as error:
            click.secho(f"Error: {error.format_message()}\n", err=True, fg="red")
            return None
        group = _app_commands(app)
        return None if group is None else group.get_command(ctx, cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        """The built-in and plugin commands, plus the app's, for ``--help``."""
        self._load_plugin_commands()
        names = set(super().list_commands(ctx))
        try:
            group = _app_commands(ctx.ensure_object(ScriptInfo).load_app())
        except NoAppException as error:
            # Help still lists the built-ins; say why the app's commands are missing.
            click.secho(f"Error: {error.format_message()}\n", err=True, fg="red")
        else:
            if group is not None:
                names.update(group.list_commands(ctx))
        return sorted(names)

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
                load_dotenv_defaults=self.load_dotenv,
            )
        return super().make_context(info_name, args, parent=parent, **extra)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        """Parse the arguments; with none, load env files and the app first so help lists its commands."""
        if not args and self.no_args_is_help:
            _env_file_option.handle_parse_result(ctx, {}, [])
            _app_option.handle_parse_result(ctx, {}, [])
        return super().parse_args(ctx, args)


def _app_commands(app: Microframework) -> click.Group | None:
    # app.cli is created lazily by the app (click is not imported by the framework).
    group = getattr(app, "cli", None)
    return group if isinstance(group, click.Group) else None


# -- run ------------------------------------------------------------------------------
@click.command("run", short_help="Serve the app with hypercorn.")
@click.option(
    "--host",
    "-h",
    default="127.0.0.1",
    show_default=True,
    help="The interface to bind to.",
)
@click.option(
    "--port",
    "-p",
    default=5000,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="The port to bind to.",
)
@click.option(
    "--reload/--no-reload",
    default=None,
    help="Restart when a source file changes. On in debug mode.",
)
@click.option(
    "--certfile",
    type=click.Path(exists=True, dir_okay=False),
    help="TLS certificate file (serves HTTPS and HTTP/2).",
)
@click.option(
    "--keyfile",
    type=click.Path(exists=True, dir_okay=False),
    help="TLS key file, with --certfile.",
)
@click.option(
    "--workers",
    "-w",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="Number of worker processes.",
)
@pass_script_info
def run_command(
    info: ScriptInfo,
    host: str,
    port: int,
    reload: bool | None,
    certfile: str | None,
    keyfile: str | None,
    workers: int,
) -> None:
    """Serve the app with hypercorn, for development.

    Debug mode (--debug) turns the reloader on. In production, run hypercorn (or
    another ASGI server) directly; see the "Deploying" docs.
    """
    if (certfile is None) != (keyfile is None):
        raise click.UsageError("--certfile and --keyfile must be given together.")
    app = info.load_app()
    exit_code = serve_app(
        app,
        host=host,
        port=port,
        use_reloader=bool(app.debug) if reload is None else reload,
        workers=workers,
        certfile=certfile,
        keyfile=keyfile,
        locator=info.worker_locator,
    )
    if exit_code:
        raise click.exceptions.Exit(exit_code)


_serving_app: Microframework | None = None


def serve_app(
    app: Microframework,
    *,
    host: str = "127.0.0.1",
    port: int = 5000,
    use_reloader: bool = False,
    workers: int = 1,
    certfile: str | None = None,
    keyfile: str | None = None,
    locator: str | None = None,
    **options: Any,
) -> int:
    """Serve *app* with hypercorn until interrupted; return the exit code.

    One worker without the reloader serves in this process. Otherwise worker
    processes load the app from *locator* (``module:name``). *options* set attributes
    of hypercorn's ``Config``. Raises ``click.ClickException`` for an address that
    cannot be bound, a locator that is needed but missing, or an app that fails to
    start.
    """
    from hypercorn.config import Config as HypercornConfig
    from hypercorn.run import run as hypercorn_run
    from hypercorn.utils import LifespanFailureError

    global _serving_app
    config = HypercornConfig()
    bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    config.bind = [bind]
    config.accesslog = "-"
    config.errorlog = "-"
    config.certfile = certfile
    config.keyfile = keyfile
    for key, value in options.items():
        if not hasattr(config, key):
            raise TypeError(f"{key!r} is not a hypercorn Config setting")
        setattr(config, key, value)
    config.use_reloader = use_reloader
    config.application_path = f"{__name__}:_worker_app()"
    if use_reloader or workers > 1:
        if locator is None:
            raise click.ClickException(
                "The reloader and extra workers load the app in new processes, so it"
                " must be importable: pass it as '--app module:name'."
            )
        os.environ[SERVE_APP_ENV] = locator
        os.environ[_DEBUG_ENV] = "1" if app.debug else "0"
        config.workers = workers
    else:
        config.workers = 0  # hypercorn's way of saying "serve in this process"
    scheme = "https" if certfile else "http"
    click.echo(f" * Serving app {app.name!r} on {scheme}://{bind}", err=True)
    click.echo(f" * Debug mode: {'on' if app.debug else 'off'}", err=True)
    _serving_app = app
    try:
        # Probe first: hypercorn leaks its socket when bind fails.
        _check_bind(host, port, bind)
        return hypercorn_run(config)
    except LifespanFailureError as error:
        raise click.ClickException(f"The app failed to start: {error}") from None
    finally:
        _serving_app = None


def _check_bind(host: str, port: int, bind: str) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as error:
        hint = (
            " Is another server running? Try --port."
            if error.errno == errno.EADDRINUSE
            else ""
        )
        raise click.ClickException(
            f"Could not listen on {bind}: {error.strerror or error}.{hint}"
        ) from None


def _worker_app() -> Microframework:
    """The app for hypercorn: this process's, or one loaded from ``MICROFRAMEWORK_SERVE_APP``."""
    if _serving_app is not None:
        return _serving_app
    locator = os.environ.get(SERVE_APP_ENV, "")
    module_name, _, name = locator.partition(":")
    app = locate_app(module_name, name or None)
    if _DEBUG_ENV in os.environ:
        app.debug = get_debug_flag()
    return app


def run_app(
    app: Microframework,
    host: str | None = None,
    port: int | None = None,
    use_reloader: bool | None = None,
    certfile: str | None = None,
    keyfile: str | None = None,
    **options: Any,
) -> None:
    """What ``app.run()`` does: serve *app* for development, errors as one line."""
    if os.environ.get(RUN_FROM_CLI_ENV) == "true":
        # A worker process importing the module again stays quiet; it has no CLI.
        if SERVE_APP_ENV not in os.environ:
            click.secho(
                " * Ignoring a call to 'app.run()': the 'microframework' command is"
                " running. Put 'app.run()' under 'if __name__ == \"__main__\":'.",
                err=True,
                fg="red",
            )
        return
    reload = bool(app.debug) if use_reloader is None else use_reloader
    locator = _locator_for_instance(app)
    if reload and locator is None:
        app.logger.warning(
            "The reloader needs the app as a module-level variable; serving without it."
        )
        reload = False
    # Worker processes import the script again; this stops its app.run() there.
    os.environ[RUN_FROM_CLI_ENV] = "true"
    try:
        exit_code = serve_app(
            app,
            host=host or "127.0.0.1",
            port=port or 5000,
            use_reloader=reload,
            certfile=certfile,
            keyfile=keyfile,
            locator=locator,
            **options,
        )
    except click.ClickException as error:
        error.show()
        raise SystemExit(error.exit_code) from None
    finally:
        os.environ.pop(RUN_FROM_CLI_ENV, None)
    if exit_code:
        raise SystemExit(exit_code)


def _locator_for_instance(app: Microframework) -> str | None:
    for module_name in dict.fromkeys((app.import_name, "__main__")):
        module = sys.modules.get(module_name)
        for name, value in vars(module).items() if module is not None else ():
            if value is app:
                return f"{module_name}:{name}"
    return None


# -- routes ---------------------------------------------------------------------------
@click.command("routes", short_help="Show the app's routes.")
@click.option(
    "--sort",
    "-s",
    type=click.Choice(("endpoint", "methods", "rule", "match")),
    default="endpoint",
    show_default=True,
    help="Sort by endpoint, methods or rule, or 'match' for the order rules are tried.",
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
    hidden: frozenset[str] = (
        frozenset() if all_methods else frozenset({"HEAD", "OPTIONS"})
    )

    def methods(rule: Rule) -> str:
        if rule.websocket:
            return "WEBSOCKET"
        return ", ".join(sorted((rule.methods or set()) - hidden))

    if sort in ("endpoint", "rule"):
        rules.sort(key=attrgetter(sort))
    elif sort == "methods":
        rules.sort(key=methods)
    # Show where a rule applies only when some rule is limited to a host or subdomain.
    if app.url_map.host_matching:
        where_title, where = "Host", attrgetter("host")
    elif any(rule.subdomain for rule in rules):
        where_title, where = "Subdomain", attrgetter("subdomain")
    else:
        where_title, where = "", None
    header = ["Endpoint", "Methods", *([where_title] if where else []), "Rule"]
    rows = [
        [
            rule.endpoint,
            methods(rule),
            *([where(rule) or ""] if where else []),
            rule.rule,
        ]
        for rule in rules
    ]
    widths = [max(len(line[i]) for line in (header, *rows)) for i in range(len(header))]
    for line in (header, ["-" * width for width in widths], *rows):
        click.echo(
            "  ".join(
                cell.ljust(w) for cell, w in zip(line, widths, strict=True)
            ).rstrip()
        )


# -- shell ------------------------------------------------------------------------------
class AsyncConsole(code.InteractiveConsole):
    """An interactive console where top-level ``await`` works.

    Every statement runs in one ``contextvars.Context`` (where the app context is
    pushed) and awaits run on one event loop that lives as long as the console, so
    objects bound to the loop survive between statements. The loop only runs while a
    statement runs: a task created in the background makes progress at the next
    ``await``.
    """

    def __init__(
        self,
        namespace: dict[str, Any],
        runner: asyncio.Runner,
        context: contextvars.Context,
    ) -> None:
        super().__init__(namespace)
        self.namespace = namespace
        self.runner = runner
        self.context = context
        self.compile.compiler.flags |= ast.PyCF_ALLOW_TOP_LEVEL_AWAIT

    def runcode(self, code: CodeType) -> None:
        """Run one compiled statement, awaiting it on the console's loop if needed."""
        try:
            if code.co_flags & inspect.CO_COROUTINE:
                coro = self.context.run(eval, code, self.namespace)
                self.runner.run(coro, context=self.context)
            else:
                self.context.run(exec, code, self.namespace)
        except SystemExit:
            raise
        except BaseException:
            self.showtraceback()


@click.command("shell", short_help="Run a Python shell in the app context.")
@pass_script_info
def shell_command(info: ScriptInfo) -> None:
    """Run an interactive Python shell with the app context pushed.

    'app' and 'g' are defined, and top-level 'await' works. PYTHONSTARTUP is run
    first, as in the normal Python shell.
    """
    app = info.load_app()
    banner = (
        f"Python {sys.version} on {sys.platform}\n"
        f"App: {app.import_name}\nInstance: {app.instance_path}\n"
        "The app context is pushed; top-level 'await' works."
    )
    context = contextvars.copy_context()
    app_ctx = app.app_context()
    with asyncio.Runner() as runner:
        runner.run(app_ctx.push(), context=context)
        try:
            namespace = _shell_namespace(app, context)
            console = AsyncConsole(namespace, runner, context)
            _enable_completion(namespace)
            console.interact(banner=banner, exitmsg="")
        finally:
            runner.run(app_ctx.pop(None), context=context)


def _shell_namespace(
    app: Microframework, context: contextvars.Context
) -> dict[str, Any]:
    namespace: dict[str, Any] = {
        "__name__": "__console__",
        "__builtins__": __builtins__,
    }
    startup = os.environ.get("PYTHONSTARTUP")
    if startup and os.path.isfile(startup):
        with open(startup, encoding="utf-8") as file:
            context.run(exec, compile(file.read(), startup, "exec"), namespace)
    namespace.update(app=app, g=g)
    # Apps grow shell_context_processor/make_shell_context; use it when present.
    make_shell_context = getattr(app, "make_shell_context", None)
    if make_shell_context is not None:
        namespace.update(context.run(make_shell_context))
    return namespace


def _enable_completion(namespace: dict[str, Any]) -> None:
    if not sys.stdin.isatty():
        return
    try:
        import readline
        import rlcompleter
    except ImportError:
        return
    readline.set_completer(rlcompleter.Completer(namespace).complete)
    readline.parse_and_bind("tab: complete")


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
