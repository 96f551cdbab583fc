"""The decorator registry shared by the app and blueprints, and the setup guard.

Rule: it only *records* (never awaits, touches ASGI or wraps functions); the app
compiles the records once, at freeze time."""

from __future__ import annotations

import functools
import os
from collections import defaultdict
from collections.abc import Callable
from collections.abc import Iterable
from typing import Any
from typing import TYPE_CHECKING
from typing import TypeVar

from werkzeug.exceptions import default_exceptions
from werkzeug.exceptions import HTTPException
from werkzeug.utils import cached_property

from ._utils import alias
from ._utils import get_root_path
from ._utils import is_async_callable
from .static import get_send_file_max_age as _get_send_file_max_age

if TYPE_CHECKING:
    from aiofiles.base import AiofilesContextManager
    from jinja2 import BaseLoader

    from . import typing as ft
    from .cli_group import AppGroup

    # Each decorator's function is bounded by its alias, as in Flask: a view that
    # returns an int or forgets its return is a type error, not a 500.
    T_route = TypeVar("T_route", bound=ft.RouteCallable)
    T_websocket = TypeVar("T_websocket", bound=ft.WebsocketCallable)
    T_error_handler = TypeVar("T_error_handler", bound=ft.ErrorHandlerCallable)
    T_before_request = TypeVar("T_before_request", bound=ft.BeforeRequestCallable)
    T_before_websocket = TypeVar("T_before_websocket", bound=ft.BeforeWebsocketCallable)
    T_after_request = TypeVar("T_after_request", bound=ft.AfterRequestCallable)
    T_teardown = TypeVar("T_teardown", bound=ft.TeardownCallable)
    T_after_websocket = TypeVar("T_after_websocket", bound=ft.AfterWebsocketCallable)
    T_context_processor = TypeVar(
        "T_context_processor", bound=ft.TemplateContextProcessorCallable
    )
    T_url_values = TypeVar("T_url_values", bound=ft.URLValuePreprocessorCallable)
    T_url_defaults = TypeVar("T_url_defaults", bound=ft.URLDefaultCallable)
    # The app's own decorators (app.py, templating.py).
    T_serving = TypeVar("T_serving", bound=ft.BeforeServingCallable)
    T_while_serving = TypeVar("T_while_serving", bound=ft.WhileServingCallable)
    T_shell_context_processor = TypeVar(
        "T_shell_context_processor", bound=ft.ShellContextProcessorCallable
    )
    T_template_test = TypeVar("T_template_test", bound=ft.TemplateTestCallable)

F = TypeVar("F", bound=Callable[..., Any])

_HookRegistry = defaultdict[str | None, list[Callable[..., Any]]]
_ErrorRegistry = defaultdict[
    str | None, defaultdict[int | None, dict[type[BaseException], Callable[..., Any]]]
]


#: Hook decorator -> registry, keyed by blueprint name (``None``: the scaffold itself).
HOOK_REGISTRIES = {
    "before_request": "before_request_funcs",
    "after_request": "after_request_funcs",
    "teardown_request": "teardown_request_funcs",
    "before_websocket": "before_websocket_funcs",
    "after_websocket": "after_websocket_funcs",
    "teardown_websocket": "teardown_websocket_funcs",
    "context_processor": "template_context_processors",
    "url_value_preprocessor": "url_value_preprocessors",
    "url_defaults": "url_default_functions",
}


def setupmethod(func: F) -> F:
    """Mark a registration method: calling it after the first request is an error."""

    @functools.wraps(func)
    def wrapper(self: Scaffold, *args: Any, **kwargs: Any) -> Any:
        self._check_setup_finished(func.__name__)
        return func(self, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


_HOOK_DOCS = {
    "before_request": "Run *f* before each request; a non-None return responds.",
    "after_request": "Pass each response through *f*, which returns it.",
    "teardown_request": "Run *f* after each request with its error or None.",
    "before_websocket": "Run *func* before each websocket handler.",
    "after_websocket": "Run *func* after each websocket handler.",
    "teardown_websocket": "Run *func* after each websocket, whatever happened.",
    "context_processor": "Register *f* to add values to every template context.",
    "url_value_preprocessor": "Run ``f(endpoint, values)`` before the view.",
    "url_defaults": "Run ``f(endpoint, values)`` when building URLs.",
}


def refuse_async(name: str, func: Callable[..., Any]) -> None:
    """Raise if *func*, to be a *name* function, is ``async def`` and never awaited."""
    if name in ("url_value_preprocessor", "url_defaults") and is_async_callable(func):
        # Else it is called, its coroutine dropped with a warning: a silent no-op.
        raise TypeError(
            f"{name} functions run where nothing is awaited (url_for, routing), so"
            " they must be plain 'def', not 'async def':"
            f" {getattr(func, '__qualname__', func)!r}"
        )


def registration_method(
    add: Callable[[Any, F], F], name: str, owner: str, doc: str
) -> Callable[[Any, F], F]:
    """*add* as the setup method ``owner.name``, its parameter named as Flask names it
    (``f``: code calls ``app.before_request(f=...)``), or ``func`` for Quart's own
    websocket and serving hooks, as Quart names it."""
    if "websocket" in name or "serving" in name:

        def method(self: Any, func: F) -> F:
            return add(self, func)

    else:

        def method(self: Any, f: F) -> F:  # type: ignore[misc]
            return add(self, f)

    method.__name__ = name
    method.__qualname__ = f"{owner}.{name}"
    method.__doc__ = doc
    return setupmethod(method)


def _hook(name: str) -> Callable[[Scaffold, F], F]:
    registry = HOOK_REGISTRIES[name]

    def add(self: Scaffold, func: F) -> F:
        refuse_async(name, func)
        getattr(self, registry)[None].append(func)
        return func

    return registration_method(add, name, "Scaffold", _HOOK_DOCS[name])


class Scaffold:
    """What apps and blueprints have in common: routes, hooks and error handlers."""

    name: str
    _static_folder: str | None = None
    _static_url_path: str | None = None

    def __init__(
        self,
        import_name: str,
        static_folder: str | os.PathLike[str] | None = None,
        static_url_path: str | None = None,
        template_folder: str | os.PathLike[str] | None = None,
        root_path: str | None = None,
    ) -> None:
        self.import_name = import_name
        self.static_folder = static_folder
        self.static_url_path = static_url_path
        self.template_folder = template_folder
        self.root_path = get_root_path(import_name) if root_path is None else root_path
        self.view_functions: dict[str, Callable[..., Any]] = {}
        self.error_handler_spec: _ErrorRegistry = defaultdict(lambda: defaultdict(dict))
        self.before_request_funcs: _HookRegistry = defaultdict(list)
        self.after_request_funcs: _HookRegistry = defaultdict(list)
        self.teardown_request_funcs: _HookRegistry = defaultdict(list)
        self.before_websocket_funcs: _HookRegistry = defaultdict(list)
        self.after_websocket_funcs: _HookRegistry = defaultdict(list)
        self.teardown_websocket_funcs: _HookRegistry = defaultdict(list)
        self.template_context_processors: _HookRegistry = defaultdict(list)
        self.url_value_preprocessors: _HookRegistry = defaultdict(list)
        self.url_default_functions: _HookRegistry = defaultdict(list)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"

    def _check_setup_finished(self, f_name: str) -> None:
        raise NotImplementedError

    @property
    def static_folder(self) -> str | None:
        """The absolute path of the static folder, if there is one."""
        if self._static_folder is None:
            return None
        return os.path.join(self.root_path, self._static_folder)

    @static_folder.setter
    def static_folder(self, value: str | os.PathLike[str] | None) -> None:
        if value is not None:
            value = os.fspath(value).rstrip(r"\/")
        self._static_folder = value

    @property
    def has_static_folder(self) -> bool:
        return self.static_folder is not None

    @property
    def static_url_path(self) -> str | None:
        """The URL prefix static files are served under."""
        if self._static_url_path is not None:
            return self._static_url_path
        if self.static_folder is not None:
            return f"/{os.path.basename(self.static_folder)}".rstrip("/")
        return None

    @static_url_path.setter
    def static_url_path(self, value: str | None) -> None:
        if value is not None:
            value = value.rstrip("/")
        self._static_url_path = value

    @cached_property
    def jinja_loader(self) -> BaseLoader | None:
        """The loader for this scaffold's ``template_folder`` (assignable)."""
        if self.template_folder is None:
            return None
        from jinja2 import FileSystemLoader

        return FileSystemLoader(
            os.path.join(self.root_path, os.fspath(self.template_folder))
        )

    async def open_resource(
        self,
        resource: str | os.PathLike[str] | None = None,
        mode: str = "rb",
        encoding: str | None = None,
        *,
        path: str | os.PathLike[str] | None = None,
    ) -> AiofilesContextManager[Any]:
        """Open *resource* (Quart's *path*) under ``root_path`` to read, as in Quart:
        ``async with await app.open_resource("schema.sql") as file: ...``."""
        if mode not in ("r", "rt", "rb"):
            raise ValueError("Resources can only be opened for reading.")
        return open_async(self.root_path, resource, path, mode, encoding)

    def get_send_file_max_age(self, filename: str | None) -> int | None:
        """Seconds *filename* may be cached (``SEND_FILE_MAX_AGE_DEFAULT``); override per file."""
        return _get_send_file_max_age(filename)

    @cached_property
    def cli(self) -> AppGroup:
        """The click group ``@cli.command()`` adds to. A blueprint's joins ``app.cli``
        as ``cli_group`` (default: its name; ``None`` merges its commands)."""
        from .cli_group import AppGroup

        return AppGroup(self.name)

    def _method_route(
        self, method: str, rule: str, options: dict[str, Any]
    ) -> Callable[[T_route], T_route]:
        if "methods" in options:
            raise TypeError("use the 'route' decorator to pass 'methods'")
        return self.route(rule, methods=[method], **options)

    def get(self, rule: str, **options: Any) -> Callable[[T_route], T_route]:
        """``route(rule, methods=["GET"])``."""
        return self._method_route("GET", rule, options)

    def post(self, rule: str, **options: Any) -> Callable[[T_route], T_route]:
        """``route(rule, methods=["POST"])``."""
        return self._method_route("POST", rule, options)

    def put(self, rule: str, **options: Any) -> Callable[[T_route], T_route]:
        """``route(rule, methods=["PUT"])``."""
        return self._method_route("PUT", rule, options)

    def delete(self, rule: str, **options: Any) -> Callable[[T_route], T_route]:
        """``route(rule, methods=["DELETE"])``."""
        return self._method_route("DELETE", rule, options)

    def patch(self, rule: str, **options: Any) -> Callable[[T_route], T_route]:
        """``route(rule, methods=["PATCH"])``."""
        return self._method_route("PATCH", rule, options)

    def route(self, rule: str, **options: Any) -> Callable[[T_route], T_route]:
        """Register the decorated function as the view for *rule*."""
        check_rule(rule)  # now: a decorator without parentheses is never applied

        def decorator(func: T_route) -> T_route:
            self.add_url_rule(rule, options.pop("endpoint", None), func, **options)
            return func

        return decorator

    def add_url_rule(
        self,
        rule: str,
        endpoint: str | None = None,
        view_func: ft.RouteCallable | ft.WebsocketCallable | None = None,
        provide_automatic_options: bool | None = None,
        **options: Any,
    ) -> None:
        """Register *view_func* for *rule* (implemented by the app and by blueprints)."""
        raise NotImplementedError

    def websocket(
        self, rule: str, **options: Any
    ) -> Callable[[T_websocket], T_websocket]:
        """Register the decorated function as the websocket handler for *rule*."""
        check_rule(rule)

        def decorator(func: T_websocket) -> T_websocket:
            self.add_websocket(rule, options.pop("endpoint", None), func, **options)
            return func

        return decorator

    def add_websocket(
        self,
        rule: str,
        endpoint: str | None = None,
        view_func: ft.WebsocketCallable | None = None,
        **options: Any,
    ) -> None:
        """Register *view_func* as the websocket handler for *rule*."""
        if "methods" in options:
            raise TypeError(f"websocket {rule!r} takes no methods: it is a GET upgrade")
        self.add_url_rule(rule, endpoint, view_func, websocket=True, **options)

    @setupmethod
    def endpoint(self, endpoint: str) -> Callable[[F], F]:
        """Register the decorated function as the view for an existing *endpoint*."""

        def decorator(func: F) -> F:
            self.view_functions[endpoint] = func
            return func

        return decorator

    if TYPE_CHECKING:  # the checker's view of the _hook methods below

        def before_request(self, f: T_before_request) -> T_before_request: ...
        def after_request(self, f: T_after_request) -> T_after_request: ...
        def teardown_request(self, f: T_teardown) -> T_teardown: ...
        def before_websocket(self, func: T_before_websocket) -> T_before_websocket: ...
        def after_websocket(self, func: T_after_websocket) -> T_after_websocket: ...
        def teardown_websocket(self, func: T_teardown) -> T_teardown: ...
        def context_processor(self, f: T_context_processor) -> T_context_processor: ...
        def url_value_preprocessor(self, f: T_url_values) -> T_url_values: ...
        def url_defaults(self, f: T_url_defaults) -> T_url_defaults: ...
    else:
        before_request = _hook("before_request")
        after_request = _hook("after_request")
        teardown_request = _hook("teardown_request")
        before_websocket = _hook("before_websocket")
        after_websocket = _hook("after_websocket")
        teardown_websocket = _hook("teardown_websocket")
        context_processor = _hook("context_processor")
        url_value_preprocessor = _hook("url_value_preprocessor")
        url_defaults = _hook("url_defaults")

    @setupmethod
    def errorhandler(
        self, code_or_exception: type[BaseException] | int
    ) -> Callable[[T_error_handler], T_error_handler]:
        """Handle an HTTP status code or an exception class with the decorated function."""
        if callable(code_or_exception) and not isinstance(code_or_exception, type):
            raise TypeError(
                "write the decorator with its argument: @app.errorhandler(404)"
            )

        def decorator(func: T_error_handler) -> T_error_handler:
            self.register_error_handler(code_or_exception, func)
            return func

        return decorator

    @setupmethod
    def register_error_handler(
        self,
        code_or_exception: type[BaseException] | int,
        f: ft.ErrorHandlerCallable,
    ) -> None:
        """Non-decorator form of :meth:`errorhandler`."""
        exc_class, code = self._get_exc_class_and_code(code_or_exception)
        self.error_handler_spec[None][code][exc_class] = f

    @staticmethod
    def _get_exc_class_and_code(
        exc_class_or_code: type[BaseException] | int,
    ) -> tuple[type[BaseException], int | None]:
        if isinstance(exc_class_or_code, int):
            try:
                exc_class: type[BaseException] = default_exceptions[exc_class_or_code]
            except KeyError:
                raise ValueError(
                    f"'{exc_class_or_code}' is not a recognized HTTP error code;"
                    " use a subclass of HTTPException with that code instead"
                ) from None
        else:
            exc_class = exc_class_or_code
        if isinstance(exc_class, BaseException):
            raise TypeError(
                f"{exc_class!r} is an instance, not a class; handlers take classes"
            )
        if not isinstance(exc_class, type):
            raise TypeError(f"{exc_class!r} is not an exception class or error code")
        if not issubclass(exc_class, Exception):  # SystemExit, CancelledError, ...
            raise ValueError(
                f"'{exc_class.__name__}' is not a subclass of Exception. Handlers can"
                " only be registered for Exception classes or HTTP error codes."
            )
        if issubclass(exc_class, HTTPException):
            return exc_class, exc_class.code
        return exc_class, None


def name_decorator(add: Callable[..., None], name: object) -> Callable[[F], F]:
    """A decorator calling ``add(func, name=name)``: the shape of ``template_filter``."""
    if name is not None and not isinstance(name, str):
        which = add.__name__.removeprefix("add_")  # template_test, app_template_global
        raise TypeError(
            f"the name must be a str, not {type(name).__name__}; write the decorator"
            f" with parentheses: @{'bp' if which[:4] == 'app_' else 'app'}.{which}()"
        )

    def decorator(func: F) -> F:
        add(func, name=name)
        return func

    return decorator


def check_rule(rule: object, endpoint: object = None, view_func: object = None) -> None:
    """``TypeError`` for the usual slips: a route decorator without its parentheses
    (the view taken for the rule), a view passed where the endpoint goes."""
    if not isinstance(rule, str):
        raise TypeError(
            f"the URL rule must be a str, not {type(rule).__name__}: write the"
            " decorator with its rule, @app.route('/path')"
        )
    if endpoint is not None and not isinstance(endpoint, str):
        raise TypeError(
            f"the endpoint of {rule!r} must be a str, not {type(endpoint).__name__};"
            " pass the view as view_func="
        )
    if isinstance(view_func, type) and hasattr(view_func, "as_view"):
        name = view_func.__name__  # each request would "return" an instance of it
        raise TypeError(
            f"the view of {rule!r} is the class {name}: pass"
            f" {name}.as_view({name.lower()!r})"
        )
    if view_func is not None and not callable(view_func):
        raise TypeError(f"the view of {rule!r} is a {type(view_func).__name__}")


def endpoint_from_view_func(view_func: Callable[..., Any]) -> str:
    if view_func is None:
        raise TypeError("an endpoint or a view function is required")
    return view_func.__name__


def methods_of(methods: Iterable[str] | str | None, view_func: Any) -> set[str]:
    if methods is None:
        methods = getattr(view_func, "methods", None) or ("GET",)
    if isinstance(methods, str):
        raise TypeError(
            "'methods' must be a list of strings, like @app.route(..., methods=['POST'])"
        )
    return {method.upper() for method in methods}


def open_async(
    root: str,
    resource: str | os.PathLike[str] | None,
    path: str | os.PathLike[str] | None,
    mode: str,
    encoding: str | None,
) -> AiofilesContextManager[Any]:
    """``aiofiles.open`` of *resource* (Quart's *path*) under *root*: awaited, or
    used as ``async with``, it opens the file."""
    resource = alias(resource, path, "resource", "path", "opening a resource")
    import aiofiles  # loaded by the first file opened, not by ``import microframework``

    # Its overloads want a literal mode; the caller checked this one.
    opener: Callable[..., AiofilesContextManager[Any]] = aiofiles.open
    file = os.path.join(root, resource)
    return opener(file, mode, encoding=None if "b" in mode else encoding)
