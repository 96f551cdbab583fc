"""``cli_group.py``: click plumbing for app commands: ``AppGroup``, ``with_appcontext``, ``ScriptInfo``.

Rule: a command runs in one ``contextvars.Context`` with the app context pushed, so its
sync and async steps see the same ``g``. The app imports this module, so discovery
(``cli.py``, which imports the app) is imported only when an app is first needed.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import copy
import functools
import inspect
import weakref
from collections.abc import Callable
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from typing import overload
from typing import TYPE_CHECKING
from typing import TypeVar

import click

from .globals import _cv_app
from .helpers import get_debug_flag as get_debug_flag

if TYPE_CHECKING:
    from .app import Microframework

F = TypeVar("F", bound=Callable[..., Any])
_Decorator = Callable[[Callable[..., Any]], click.Command]


class NoAppException(click.ClickException):
    """The app could not be found, imported or created; shown as one ``Error:`` line."""


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
        #: ``module:name`` a spawned worker can load the app from, once it is loaded.
        self.worker_locator: str | None = None
        self._loaded_app: Microframework | None = None

    def load_app(self) -> Microframework:
        """Find, import or create the app; raise :class:`NoAppException` if that fails."""
        if self._loaded_app is None:
            from .cli import load_script_app  # it imports the app: not at module level

            app, self.worker_locator = load_script_app(self)
            if self.set_debug_flag:  # unset is off, whatever the config says (Flask's)
                app.debug = get_debug_flag()
            self._loaded_app = app
        return self._loaded_app


pass_script_info = click.make_pass_decorator(ScriptInfo, ensure=True)


def with_appcontext(f: F) -> F:
    """Run the decorated command with the app context pushed; it may be ``async def``."""
    return _in_context(f, load_app=True)


def _in_context(f: F, load_app: bool) -> F:
    @click.pass_context
    def command(ctx: click.Context, /, *args: Any, **kwargs: Any) -> Any:
        app = ctx.ensure_object(ScriptInfo).load_app() if load_app else None
        return call_in_app_context(app, f, args, kwargs)

    wrapped = functools.update_wrapper(command, f)
    wrapped.in_app_context = True  # type: ignore[attr-defined] # see _in_app_context
    return wrapped  # type: ignore[return-value]


def call_in_app_context(
    app: Microframework | None,
    func: Callable[..., Any],
    args: Sequence[Any] = (),
    kwargs: dict[str, Any] | None = None,
) -> Any:
    """Call *func* (sync or async) with *app*'s context pushed (none if *app* is None).

    An active context for *app* is reused. From a running loop, it runs in a worker thread.
    """
    kwargs = kwargs or {}
    context = contextvars.copy_context()
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        # click keeps its context stack per thread: carry the current one over, so
        # with_appcontext and pass_context work from an async test too.
        click_ctx = click.get_current_context(silent=True)
        with ThreadPoolExecutor(max_workers=1) as pool:
            job = pool.submit(
                context.run, _in_click_context, click_ctx, app, func, args, kwargs
            )
            return job.result()
    app_ctx = None
    if app is not None and getattr(_cv_app.get(None), "app", None) is not app:
        app_ctx = app.app_context()
    # The loop the command's context was pushed on, if any: its teardown runs there too.
    shared = _cv_runner.get()
    with (
        asyncio.Runner() if shared is None else contextlib.nullcontext(shared) as runner
    ):
        if app_ctx is not None:
            runner.run(app_ctx.push(), context=context)
        error: Exception | None = None
        try:
            if inspect.iscoroutinefunction(func):
                return runner.run(func(*args, **kwargs), context=context)
            result = context.run(func, *args, **kwargs)
            if inspect.iscoroutine(result):  # a sync wrapper's (click.pass_context)
                return runner.run(result, context=context)
            return result
        except Exception as exc:
            error = exc
            raise
        finally:
            if app_ctx is not None:
                runner.run(app_ctx.pop(error), context=context)


def _in_click_context(
    click_ctx: click.Context | None,
    app: Microframework | None,
    func: Callable[..., Any],
    args: Sequence[Any],
    kwargs: dict[str, Any],
) -> Any:
    _cv_runner.set(None)  # a shared runner's loop is the caller's, running there
    if click_ctx is None:
        return call_in_app_context(app, func, args, kwargs)
    with click_ctx:  # pushed for this thread; the caller's own entry keeps it open
        return call_in_app_context(app, func, args, kwargs)


#: The runner of the app context :func:`push_for_command` pushed, in that context.
_cv_runner: contextvars.ContextVar[asyncio.Runner | None] = contextvars.ContextVar(
    "microframework_cli_runner", default=None
)


class _PushedForCommand:
    """An app context pushed until the command ends, on a loop kept as long."""

    def __init__(self, app: Microframework) -> None:
        self.app = app
        self.runner = asyncio.Runner()
        self.context = contextvars.copy_context()
        self.app_ctx = app.app_context()

    def __enter__(self) -> _PushedForCommand:
        try:
            self.runner.run(self.app_ctx.push(), context=self.context)
        except BaseException:
            self.runner.close()
            raise
        self.context.run(_cv_runner.set, self.runner)
        return self

    def __exit__(self, kind: object, error: BaseException | None, tb: object) -> None:
        try:  # the command's error, as teardown gets it when the command pushes
            self.runner.run(self.app_ctx.pop(error), context=self.context)
        finally:
            self.runner.close()


def push_for_command(
    ctx: click.Context, app: Microframework, lookup: Callable[[], click.Command | None]
) -> click.Command | None:
    """The command *lookup* finds, parsed and run with *app*'s context pushed until *ctx*
    closes, as Flask 2.2+ does: parameter defaults and callbacks may use ``current_app``."""
    try:
        asyncio.get_running_loop()
        running = True  # an async test: the command pushes in its worker thread
    except RuntimeError:
        running = False
    if running or getattr(_cv_app.get(None), "app", None) is app:
        return lookup()
    pushed = ctx.meta.get(_PUSHED_KEY)
    if pushed is None or pushed.app is not app:  # once for all the lookups of --help
        pushed = ctx.meta[_PUSHED_KEY] = ctx.with_resource(_PushedForCommand(app))
    context = pushed.context
    if (command := context.run(lookup)) is None:
        return None
    # A copy whose parsing and run happen in that context (make_context sets the
    # sub-context's command, so click then calls this copy's invoke).
    command = copy.copy(command)
    parse, invoke = command.make_context, command.invoke

    def make_context(*args: Any, **kwargs: Any) -> Any:
        return context.run(parse, *args, **kwargs)

    command.make_context = make_context  # type: ignore[method-assign]
    command.invoke = lambda sub_ctx: context.run(invoke, sub_ctx)  # type: ignore[method-assign]
    return command


_PUSHED_KEY = "microframework.pushed_app_context"


class AppGroup(click.Group):
    """A click group whose commands run with the app context pushed.

    Commands may be ``async def``; pass ``with_appcontext=False`` for one that must not
    load the app. Sub-groups are ``AppGroup`` too.
    """

    @overload
    def command(self, __func: Callable[..., Any]) -> click.Command: ...

    @overload
    def command(self, *args: Any, **kwargs: Any) -> _Decorator: ...

    def command(self, *args: Any, **kwargs: Any) -> _Decorator | click.Command:
        """Register a command, like ``click.Group.command``, wrapped with :func:`with_appcontext`."""
        if len(args) == 1 and not kwargs and callable(args[0]):
            return self.command()(args[0])
        load_app = kwargs.pop("with_appcontext", True)

        def decorator(f: Callable[..., Any]) -> click.Command:
            if load_app or inspect.iscoroutinefunction(inspect.unwrap(f)):
                # Without the app, an async command still needs its event loop.
                f = _in_context(f, load_app)
            command: click.Command = super(AppGroup, self).command(*args, **kwargs)(f)
            _MADE_HERE.add(command)  # as wrapped (or not) here: get_command leaves it
            return command

        return decorator

    def group(self, *args: Any, **kwargs: Any) -> Any:
        """Register a sub-group, like ``click.Group.group``; an ``async def`` callback
        runs on its own loop with the app context, as an async command does."""
        if len(args) == 1 and not kwargs and callable(args[0]):
            return self.group()(args[0])

        def decorator(f: Callable[..., Any]) -> click.Group:
            if inspect.iscoroutinefunction(inspect.unwrap(f)):
                f = _in_context(f, load_app=True)
            group: click.Group = super(AppGroup, self).group(*args, **kwargs)(f)
            return group

        return decorator

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The command; one added from plain click (as Flask's tutorial adds
        ``init-db``) runs with the app context pushed, as in Flask, and may be async."""
        command = super().get_command(ctx, cmd_name)
        return None if command is None else _in_app_context(command)


#: Commands AppGroup.command made: wrapped already, or told not to load the app.
_MADE_HERE: weakref.WeakSet[click.Command] = weakref.WeakSet()


def _in_app_context(command: click.Command) -> click.Command:
    # A copy, at lookup: the command may be shared, and gain subcommands later.
    if command in _MADE_HERE:
        return command
    if isinstance(command, AppGroup):  # see with_event_loop
        return _wrapped(command, None, _runs_async(command), load_app=True)
    callback = command.callback
    plain = callback is not None and not getattr(callback, "in_app_context", False)
    return _wrapped(command, _in_app_context, plain, load_app=True)


def with_event_loop(command: click.Command) -> click.Command:
    """*command*, or a copy whose ``async def`` callback (and its subcommands', for a
    group) runs on its own loop (no app context): for a plugin's or an added plain
    click command, which nothing else wraps."""
    # An AppGroup's commands are wrapped as they are made; its own callback is not
    # when click.group(cls=AppGroup) made it.
    wrap = None if isinstance(command, AppGroup) else with_event_loop
    return _wrapped(command, wrap, _runs_async(command), load_app=False)


def _runs_async(command: click.Command) -> bool:
    callback = command.callback
    return (
        callback is not None
        and not getattr(callback, "in_app_context", False)
        and inspect.iscoroutinefunction(inspect.unwrap(callback))
    )


def _wrapped(
    command: click.Command,
    wrap: Callable[[click.Command], click.Command] | None,
    own: bool,
    load_app: bool,
) -> click.Command:
    # *command* or a copy: its callback in _in_context if *own*, a group's
    # subcommands through *wrap* (if any) as they are looked up.
    if wrap is not None and isinstance(command, click.Group):
        original, command = command, copy.copy(command)

        def get_command(ctx: click.Context, name: str) -> click.Command | None:
            found = original.get_command(ctx, name)
            return None if found is None else wrap(found)

        command.get_command = get_command  # type: ignore[method-assign,assignment]
    elif not own:
        return command
    else:
        command = copy.copy(command)
    if own and command.callback is not None:
        command.callback = _in_context(command.callback, load_app=load_app)
    return command


# Not "group_class = type": a subclass (the microframework group) would be copied.
AppGroup.group_class = AppGroup
