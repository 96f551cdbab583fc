"""``Microframework``: configuration, registration, URL building, and the public,
overridable delegates (Flask's extension points) the pipeline calls.

Rule: registration only records; the first request or startup freezes the app, after
which registration raises. The pipeline lives below, as functions of ``(app, ctx)``.
"""

from __future__ import annotations

import asyncio
import copy
import os
import sys
from collections.abc import AsyncGenerator
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Coroutine
from collections.abc import Iterator
from collections.abc import Mapping
from datetime import timedelta
from types import TracebackType
from typing import Any
from typing import ParamSpec
from typing import TYPE_CHECKING
from typing import TypeVar
from typing import Unpack
from urllib.parse import quote as _url_quote

from werkzeug.exceptions import Aborter
from werkzeug.exceptions import HTTPException
from werkzeug.routing import BuildError
from werkzeug.routing import MapAdapter
from werkzeug.utils import cached_property

from . import _background
from . import _errors
from . import _lifespan
from . import _responses
from . import typing as ft
from ._compile import blueprint_path
from ._compile import chain_for
from ._compile import Compiled
from ._compile import InterfaceOfTheApp
from ._compile import ViewFunctions
from ._compile import ViewsOfTheApp
from ._compile import watch_tables
from ._dispatch import asgi_app
from ._dispatch import handle_http
from ._dispatch import run_before
from ._drain import Drain
from ._utils import ensure_async
from ._utils import find_instance_path
from ._utils import ImportedOnRead
from ._utils import is_async_callable
from ._utils import printable
from ._utils import run_sync
from .blueprints import Blueprint
from .config import Config
from .config import ConfigAttribute
from .config import DEFAULT_CONFIG
from .ctx import AppContext
from .ctx import AppCtxGlobals
from .ctx import RequestContext
from .ctx import WebsocketContext
from .globals import _cv_app
from .globals import unproxied
from .helpers import app_redirect
from .helpers import get_debug_flag
from .json.provider import DefaultJSONProvider
from .json.provider import JSONProvider
from .routing import build_url
from .routing import Map
from .routing import Rule
from .scaffold import check_rule
from .scaffold import endpoint_from_view_func
from .scaffold import methods_of
from .scaffold import open_async
from .scaffold import Scaffold
from .scaffold import setupmethod
from .sessions import as_lifetime
from .sessions import SecureCookieSessionInterface
from .sessions import SessionInterface
from .static import add_static_route
from .static import send_static_file as _send_static_file
from .templating import TemplatingMixin
from .typing import ResponseReturnValue
from .wrappers.request import Request
from .wrappers.response import Response
from .wrappers.websocket import Websocket

if TYPE_CHECKING:
    import logging

    from aiofiles.base import AiofilesContextManager

    from .scaffold import T_serving
    from .scaffold import T_shell_context_processor
    from .scaffold import T_teardown
    from .scaffold import T_while_serving
    from .testing import MicroframeworkClient
    from .testing import TestApp
    from .testing.cli import MicroframeworkCliRunner
    from .testing.client import RequestContextOptions
    from .typing import ServerReceive
    from .typing import ServerScope
    from .typing import ServerSend

P = ParamSpec("P")
T = TypeVar("T")
_ANCHOR_SAFE = "%!#$&'()*+,/:;=?@"  # what Flask leaves unquoted in an anchor


class Microframework(TemplatingMixin, Scaffold):
    """The application: an ASGI callable with Flask's API, async throughout."""

    request_class: type[Request] = Request
    response_class: type[Response] = Response
    websocket_class: type[Websocket] = Websocket
    config_class: type[Config] = Config
    url_rule_class: type[Rule] = Rule
    url_map_class: type[Map] = Map
    app_ctx_globals_class: type[AppCtxGlobals] = AppCtxGlobals
    json_provider_class: type[JSONProvider] = DefaultJSONProvider
    aborter_class: type[Aborter] = Aborter
    # Quart's classes, as in Quart (Flask's default is None); imported when first read.
    test_client_class: type[MicroframeworkClient] = ImportedOnRead(  # type: ignore[assignment]
        "microframework.testing:MicroframeworkClient"
    )
    test_app_class: type[TestApp] = ImportedOnRead("microframework.testing:TestApp")  # type: ignore[assignment]
    test_cli_runner_class: type[MicroframeworkCliRunner] = ImportedOnRead(  # type: ignore[assignment]
        "microframework.testing.cli:MicroframeworkCliRunner"
    )
    #: Opens and saves the session; replace it to keep sessions elsewhere (see ._compile).
    session_interface: SessionInterface = InterfaceOfTheApp(  # type: ignore[assignment]
        SecureCookieSessionInterface()
    )

    testing = ConfigAttribute[bool]("TESTING")
    secret_key = ConfigAttribute[str | bytes | None]("SECRET_KEY")
    permanent_session_lifetime = ConfigAttribute[timedelta](
        "PERMANENT_SESSION_LIFETIME", get_converter=as_lifetime
    )

    default_config: Mapping[str, Any] = DEFAULT_CONFIG

    def __init__(
        self,
        import_name: str,
        static_url_path: str | None = None,
        static_folder: str | os.PathLike[str] | None = "static",
        static_host: str | None = None,
        host_matching: bool = False,
        subdomain_matching: bool = False,
        template_folder: str | os.PathLike[str] | None = "templates",
        instance_path: str | None = None,
        instance_relative_config: bool = False,
        root_path: str | None = None,
    ) -> None:
        super().__init__(
            import_name,
            static_folder=static_folder,
            static_url_path=static_url_path,
            template_folder=template_folder,
            root_path=root_path,
        )
        if instance_path is None:
            instance_path = self.auto_find_instance_path()
        elif not os.path.isabs(instance_path):
            raise ValueError("instance_path must be an absolute path")
        self.instance_path = instance_path
        self.config = self.make_config(instance_relative_config)
        self.json: JSONProvider = self.json_provider_class(self)
        self.aborter = self.make_aborter()
        self.url_map = self.url_map_class(host_matching=host_matching)
        self.subdomain_matching = subdomain_matching
        self.static_host = static_host
        self.teardown_appcontext_funcs: list[Callable[..., Any]] = []
        self.before_serving_funcs: list[Callable[[], Any]] = []
        self.after_serving_funcs: list[Callable[[], Any]] = []
        self.while_serving_gens: list[Callable[[], AsyncGenerator[Any, None]]] = []
        self.url_build_error_handlers: list[Callable[..., Any]] = []
        self.blueprints: dict[str, Blueprint] = {}
        self.extensions: dict[str, Any] = {}
        #: Shared state for the app's lifetime; becomes the ASGI lifespan ``state``.
        self.state: dict[str, Any] = {}
        #: The tables the request path reads, built at the first request or startup.
        self.compiled: Compiled | None = None
        #: ``while_serving`` generators paused at their ``yield`` until shutdown.
        self.serving_generators: list[AsyncGenerator[Any, None]] = []
        self.shell_context_processors: list[Callable[[], dict[str, Any]]] = []
        #: Long-lived work to end when the server shuts down (see ``_drain.py``).
        self.drain = Drain()
        #: Background tasks still running; awaited (then cancelled) at shutdown.
        self.background_tasks: set[asyncio.Task[Any]] = set()
        #: Set when shutdown begins, so loops in background tasks know to stop (Quart).
        self.shutdown_event = asyncio.Event()
        add_static_route(self)
        # A subclass's (or patched class's) asgi_app goes where middleware is looked for.
        if type(self).asgi_app is not asgi_app:
            self.asgi_app = self.asgi_app

    view_functions: ViewFunctions = ViewsOfTheApp()  # type: ignore[assignment]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        watch_tables(cls)

    def __copy__(self) -> Microframework:
        """A shallow copy; it shares ``view_functions``, as Quart's copy does, and a
        change through either compiles both apps' tables again."""
        twin = object.__new__(type(self))
        twin.__dict__.update(self.__dict__)
        if "view_functions" in twin.__dict__:  # (none before __init__)
            twin.view_functions.apps.add(twin)
        return twin

    @cached_property
    def name(self) -> str:
        """The app's name: the import name, or the script's name when run directly."""
        if self.import_name in ("__main__", "__mp_main__"):
            main_file = getattr(sys.modules["__main__"], "__file__", None)
            if main_file is None:
                return "__main__"
            return str(os.path.splitext(os.path.basename(main_file))[0])
        return self.import_name

    @cached_property
    def logger(self) -> logging.Logger:
        """The app's logger, named after the app."""
        from .logging import create_logger

        return create_logger(self)

    def make_config(self, instance_relative: bool = False) -> Config:
        """Build the ``config`` with defaults; ``DEBUG`` follows ``MICROFRAMEWORK_DEBUG``."""
        defaults = dict(self.default_config)
        defaults["DEBUG"] = get_debug_flag()
        root = self.instance_path if instance_relative else self.root_path
        return self.config_class(root, defaults)

    @property
    def got_first_request(self) -> bool:
        """True once the app has been frozen by its first request or startup."""
        return self.compiled is not None

    def _check_setup_finished(self, f_name: str) -> None:
        if self.compiled is not None:
            raise AssertionError(
                f"The setup method '{f_name}' can no longer be called on the application."
                " It has already handled its first request (or finished its startup), any"
                " changes will not be applied consistently. Make sure all imports, decorators, functions,"
                " etc. needed to set up the application are done before running it."
            )

    def ensure_async(
        self, func: Callable[P, Awaitable[T]] | Callable[P, T]
    ) -> Callable[P, Coroutine[Any, Any, T]]:
        """Return *func* if it is async, else a wrapper running it in a worker thread."""
        return ensure_async(func)

    def sync_to_async(
        self, func: Callable[P, T]
    ) -> Callable[P, Coroutine[Any, Any, T]]:
        """Wrap a sync *func* to run in a worker thread with the context copied."""
        return run_sync(func)

    @setupmethod
    def add_url_rule(
        self,
        rule: str,
        endpoint: str | None = None,
        view_func: ft.RouteCallable | ft.WebsocketCallable | None = None,
        provide_automatic_options: bool | None = None,
        **options: Any,
    ) -> None:
        """Register a URL rule, as Flask's ``add_url_rule``."""
        check_rule(rule, endpoint, view_func)
        if endpoint is None:
            endpoint = endpoint_from_view_func(view_func)  # type: ignore[arg-type]
        options["endpoint"] = endpoint
        websocket = bool(options.get("websocket", False))
        methods = methods_of(options.pop("methods", None), view_func)
        if websocket:
            methods = {"GET", "OPTIONS"}  # an HTTP OPTIONS is then a 400 as GET is
        required = set(getattr(view_func, "required_methods", ()))
        if provide_automatic_options is None:
            provide_automatic_options = getattr(
                view_func, "provide_automatic_options", None
            )
        if provide_automatic_options is None:
            provide_automatic_options = (
                not websocket
                and "OPTIONS" not in methods
                and bool(self.config["PROVIDE_AUTOMATIC_OPTIONS"])
            )
        if provide_automatic_options:
            required.add("OPTIONS")
        # Set after, as Flask: an app's own url_rule_class may be a plain werkzeug Rule.
        url_rule = self.url_rule_class(rule, methods=methods | required, **options)
        url_rule.provide_automatic_options = provide_automatic_options
        self.url_map.add(url_rule)
        if view_func is not None:
            existing = self.view_functions.get(endpoint)
            # ``!=``, not ``is not``: each ``self.view`` is a new, equal bound method.
            if existing is not None and existing != view_func:
                raise AssertionError(
                    "View function mapping is overwriting an existing endpoint"
                    f" function: {endpoint}"
                )
            self.view_functions[endpoint] = view_func

    @setupmethod
    def teardown_appcontext(self, f: T_teardown) -> T_teardown:
        """Run *f* with the error (or ``None``) when each app context ends."""
        self.teardown_appcontext_funcs.append(f)
        return f

    def before_serving(self, func: T_serving) -> T_serving:
        """Run *func* once at startup, before the first request is served."""
        self.before_serving_funcs.append(func)
        return func

    def after_serving(self, func: T_serving) -> T_serving:
        """Run *func* once at shutdown."""
        self.after_serving_funcs.append(func)
        return func

    def while_serving(self, func: T_while_serving) -> T_while_serving:
        """Run an async generator around serving: code before ``yield`` is startup."""
        self.while_serving_gens.append(func)
        return func

    @setupmethod
    def register_blueprint(self, blueprint: Blueprint, **options: Any) -> None:
        """Register *blueprint*; keyword options override the blueprint's own."""
        if not isinstance(blueprint, Blueprint):
            raise TypeError(  # a left-over 'from quart import Blueprint' reads alike
                "register_blueprint() takes a microframework.Blueprint, not a"
                f" {type(blueprint).__module__}.{type(blueprint).__qualname__}:"
                f" {blueprint!r}"
            )
        blueprint.register(self, options)

    def iter_blueprints(self) -> Iterator[Blueprint]:
        """The registered blueprints, in registration order."""
        return iter(self.blueprints.values())

    if TYPE_CHECKING:  # the same function, typed for every server (typing.ServerScope)

        async def __call__(
            self, scope: ServerScope, receive: ServerReceive, send: ServerSend
        ) -> None: ...

    else:
        #: The ASGI entry point, ``app(scope, receive, send)``.
        __call__ = handle_http

    # The ASGI app proper (a subclass's: see __init__), loosely typed for any middleware.
    asgi_app: Callable[..., Awaitable[None]] = asgi_app

    redirect = app_redirect

    async def make_response(self, rv: ResponseReturnValue) -> Response:
        """Turn a view's return value into a response (``await`` it, as in Quart)."""
        ctx = _cv_app.get(None)
        return _responses.make_response(self, rv, ctx.request if ctx else None)

    async def make_default_options_response(self) -> Response:
        """The answer to an automatic ``OPTIONS`` request: an ``Allow`` header (a
        coroutine, as in Quart; Flask's is a plain method)."""
        ctx = _cv_app.get(None)
        if ctx is None or ctx.request is None or ctx.url_adapter is None:
            raise RuntimeError("make_default_options_response needs a request context")
        response = self.response_class()
        response.allow.update(ctx.url_adapter.allowed_methods(ctx.request.path))
        return response

    async def preprocess_request(
        self, request_context: AppContext | None = None
    ) -> Any:
        """Run the ``url_value_preprocessor`` and ``before_request`` (or websocket)
        functions of the current context, as a request does; the first non-``None``
        value a before function returns is returned. For tests, as in Quart's guide:
        the dispatcher runs the same functions without calling this method."""
        ctx = request_context or _cv_app.get(None)
        current = None if ctx is None else ctx.request or ctx.websocket
        if ctx is None or current is None:
            raise RuntimeError(
                "preprocess_request needs a request or websocket context"
            )
        return await run_before(chain_for(self, ctx), current)

    async def preprocess_websocket(
        self, websocket_context: AppContext | None = None
    ) -> Any:
        """:meth:`preprocess_request`, under Quart's name for a websocket context."""
        return await self.preprocess_request(websocket_context)

    async def process_response(
        self, response: Response, request_context: AppContext | None = None
    ) -> Response:
        """Run ``after_this_request`` and ``after_request`` functions on *response*."""
        ctx = request_context or _cv_app.get(None)
        if ctx is None:
            raise RuntimeError("process_response needs a request context")
        chain = chain_for(self, ctx)
        return await _responses.process_response(self, ctx, response, chain)

    def trap_http_exception(self, e: Exception) -> bool:
        """True if *e* should propagate like an unhandled error (for debugging)."""
        return _errors.trap_http_exception(self, e)

    async def handle_http_exception(self, error: HTTPException) -> ResponseReturnValue:
        """Find and run the handler for an HTTP error, or return the error itself."""
        return await _errors.handle_http_exception(self, error, _cv_app.get(None))

    async def handle_user_exception(self, error: Exception) -> ResponseReturnValue:
        """Handle an error raised by a hook or view; re-raise it if nothing handles it."""
        return await _errors.handle_user_exception(self, error, _cv_app.get(None))

    async def handle_exception(self, error: Exception) -> Response:
        """Turn an unhandled error into a logged 500, or re-raise it when propagating."""
        return await _errors.handle_exception(self, error, _cv_app.get(None), None)

    def log_exception(
        self,
        exc_info: tuple[type[BaseException], BaseException, TracebackType]
        | tuple[None, None, None],
    ) -> None:
        """Log an unhandled exception (override to change how)."""
        ctx = _cv_app.get(None)
        where = ""  # outside a request, as Quart
        if ctx is not None and ctx.request is not None:
            where = (
                f" on request {printable(ctx.request.method)}"
                f" {printable(ctx.request.path)}"
            )
        elif ctx is not None and ctx.websocket is not None:
            where = f" on websocket {printable(ctx.websocket.path)}"
        self.logger.error(f"Exception{where}", exc_info=exc_info)

    def app_context(self) -> AppContext:
        """An app context: ``async with app.app_context(): ...``. Inside a request or
        websocket of this app it keeps them (with a new ``g``), as in Flask and Quart."""
        return AppContext.for_app(self)

    def request_context(self, request: Request) -> RequestContext:
        """A context for *request*: ``async with app.request_context(req): ...``."""
        request, outer = unproxied(request), _cv_app.get(None)
        if outer is not None and outer.request is request:  # the request under way:
            return outer.copy()  # type: ignore[return-value] # not torn down twice
        return AppContext(self, request)  # type: ignore[return-value]

    def websocket_context(self, websocket: Websocket) -> WebsocketContext:
        """A context for *websocket*, as Quart's ``websocket_context``."""
        websocket, outer = unproxied(websocket), _cv_app.get(None)
        if outer is not None and outer.websocket is websocket:
            return outer.copy()  # type: ignore[return-value]
        return AppContext(self, websocket=websocket)  # type: ignore[return-value]

    def make_aborter(self) -> Aborter:
        """The ``Aborter`` behind ``abort()``: an ``aborter_class`` (Flask's hook)."""
        return self.aborter_class()

    def test_request_context(
        self, path: str = "/", **kwargs: Unpack[RequestContextOptions]
    ) -> RequestContext:
        """A context for a made-up request; takes the test client's arguments."""
        from .testing.utils import make_test_request_context

        return make_test_request_context(self, path, **kwargs)  # type: ignore[return-value]

    def auto_find_instance_path(self) -> str:
        """The default ``instance_path``: ``instance`` beside the app's top-level
        package or module, or ``<prefix>/var/<name>-instance`` once installed."""
        return find_instance_path(self.import_name, self.name)

    async def open_instance_resource(
        self,
        resource: str | os.PathLike[str] | None = None,
        mode: str = "rb",
        encoding: str | None = None,
        *,
        path: str | os.PathLike[str] | None = None,
    ) -> AiofilesContextManager[Any]:
        """Open *resource* (Quart's *path*) under ``instance_path`` (any mode), as in
        Quart: ``async with await app.open_instance_resource("app.db", "wb") as f``."""
        return open_async(self.instance_path, resource, path, mode, encoding)

    def create_url_adapter(self, request: Request | None) -> MapAdapter | None:
        """An adapter for building URLs outside a request (needs ``SERVER_NAME``)."""
        if request is not None:
            ctx = _cv_app.get(None)
            if ctx is None or ctx.url_adapter is None:
                return None
            # Shared per host: a copy bound to this request, as Flask's (match() works).
            adapter = copy.copy(ctx.url_adapter)
            adapter.path_info = request.path
            adapter.default_method = request.method
            adapter.query_args = request.query_string.decode("latin-1")
            return adapter
        server_name = self.config["SERVER_NAME"]
        if server_name is None:
            return None
        subdomain = (
            None
            if self.subdomain_matching
            else (self.url_map.default_subdomain or None)
        )
        return self.url_map.bind(
            server_name,
            script_name=self.config["APPLICATION_ROOT"],
            subdomain=subdomain,
            url_scheme="https"
            if self.config["PREFER_SECURE_URLS"]  # Quart's key
            else self.config["PREFERRED_URL_SCHEME"],
        )

    def url_for(
        self,
        /,  # a rule's variable may be called self, as in Flask
        endpoint: str,
        *,
        _anchor: str | None = None,
        _method: str | None = None,
        _scheme: str | None = None,
        _external: bool | None = None,
        **values: Any,
    ) -> str:
        """Build the URL of *endpoint*; see :func:`microframework.url_for`."""
        ctx = _cv_app.get(None)
        current = None if ctx is None else (ctx.request or ctx.websocket)
        if current is not None:
            adapter = ctx.url_adapter  # type: ignore[union-attr]
            if endpoint[:1] == ".":
                blueprint = current.blueprint
                endpoint = f"{blueprint}{endpoint}" if blueprint else endpoint[1:]
            if _external is None:
                _external = _scheme is not None
        else:
            adapter = self.create_url_adapter(None)  # an app context has none
            if adapter is None:
                raise RuntimeError(
                    "Unable to build URLs outside an active request without 'SERVER_NAME'"
                    " configured. Also configure 'APPLICATION_ROOT' and"
                    " 'PREFERRED_URL_SCHEME' as needed."
                )
            if _external is None:
                _external = True
        if adapter is None:
            raise RuntimeError("the request has no URL adapter (routing failed)")
        if _scheme is not None and not _external:
            raise ValueError("When specifying '_scheme', '_external' must be True.")
        self.inject_url_defaults(endpoint, values)
        try:  # memoised in a request; the rule for its method first: see build_url
            rv = build_url(
                self, adapter, current, endpoint, values, _method, _scheme, _external
            )
        except BuildError as error:
            values.update(
                _anchor=_anchor, _method=_method, _scheme=_scheme, _external=_external
            )
            return self.handle_url_build_error(error, endpoint, values)
        if _anchor is not None:
            rv = f"{rv}#{_url_quote(_anchor, safe=_ANCHOR_SAFE)}"
        return rv

    def inject_url_defaults(self, endpoint: str, values: dict[str, Any]) -> None:
        """Let ``url_defaults`` functions fill in *values* for *endpoint*."""
        names: tuple[str | None, ...] = (None,)
        if "." in endpoint:
            names = (None, *reversed(blueprint_path(endpoint.rpartition(".")[0])))
        for name in names:
            for func in self.url_default_functions.get(name, ()):
                func(endpoint, values)

    def handle_url_build_error(
        self, error: BuildError, endpoint: str, values: dict[str, Any]
    ) -> str:
        """Give ``url_build_error_handlers`` a chance, else re-raise *error*."""
        for handler in self.url_build_error_handlers:
            try:
                rv = handler(error, endpoint, values)
            except BuildError as e:
                error = e
            else:
                if rv is not None:
                    return str(rv)
        if error is sys.exc_info()[1]:
            raise
        raise error

    async def send_static_file(self, filename: str) -> Response:
        """Send *filename* from :attr:`static_folder`: the ``static`` endpoint's view."""
        return await _send_static_file(self, filename)

    def add_background_task(
        self, func: Callable[P, Any], *args: P.args, **kwargs: P.kwargs
    ) -> asyncio.Task[Any]:
        """Run *func* (async or sync) in its own app context, after the current response.

        Failures are logged; at shutdown, tasks still running after
        ``BACKGROUND_TASK_SHUTDOWN_TIMEOUT`` seconds are cancelled.
        """
        return _background.add_background_task(self, func, args, kwargs)

    async def handle_background_exception(self, error: Exception) -> None:
        """Report a background task's failure: signal, then log (as Quart does)."""
        await _background.report(self, error)

    async def startup(self, state: dict[str, Any] | None = None) -> None:
        """Freeze the app and run the ``before_serving`` and ``while_serving`` startup code."""
        await _lifespan.startup(self, state)

    async def shutdown(self) -> None:
        """Run the ``after_serving`` functions and finish the ``while_serving`` generators."""
        await _lifespan.shutdown(self)

    def test_client(
        self, use_cookies: bool = True, **kwargs: Any
    ) -> MicroframeworkClient:
        """An in-process test client for this app."""
        return self.test_client_class(self, use_cookies=use_cookies, **kwargs)

    def test_cli_runner(self, **kwargs: Any) -> MicroframeworkCliRunner:
        """A click runner that invokes this app's CLI commands, for tests."""
        return self.test_cli_runner_class(self, **kwargs)

    @setupmethod
    def shell_context_processor(
        self, f: T_shell_context_processor
    ) -> T_shell_context_processor:
        """Add the dict *f* returns to the ``microframework shell`` namespace."""
        if is_async_callable(f):  # the namespace is made before the shell's loop runs
            raise TypeError("a shell context processor must be a plain def")
        self.shell_context_processors.append(f)
        return f

    def make_shell_context(self) -> dict[str, Any]:
        """The namespace of ``microframework shell``: ``app``, ``g`` and the processors' dicts."""
        from .globals import g

        rv: dict[str, Any] = {"app": self, "g": g}
        for processor in self.shell_context_processors:
            rv.update(processor())
        return rv

    def test_app(self) -> TestApp:
        """``async with app.test_app() as test_app:`` runs startup and shutdown around tests."""
        return self.test_app_class(self)

    def run(
        self,
        host: str | None = None,
        port: int | None = None,
        debug: bool | None = None,
        use_reloader: bool | None = None,
        certfile: str | None = None,
        keyfile: str | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
        **kwargs: Any,
    ) -> None:
        """Serve the app with hypercorn, for development; deploy with ``hypercorn`` itself.

        Loads the env files as Flask does; debug mode turns the reloader on; other
        keyword arguments set hypercorn ``Config`` attributes. Does nothing inside the
        ``microframework`` command.
        """
        from .serving import run_app  # only running needs hypercorn
        from .serving import run_on_loop

        if loop is not None:  # Quart's: serve in this process on the caller's loop
            return run_on_loop(self, loop, host, port, debug, certfile, keyfile, kwargs)
        run_app(self, host, port, use_reloader, certfile, keyfile, debug, **kwargs)

    def run_task(
        self,
        host: str = "127.0.0.1",
        port: int = 5000,
        debug: bool | None = None,
        ca_certs: str | None = None,
        certfile: str | None = None,
        keyfile: str | None = None,
        shutdown_trigger: Callable[..., Awaitable[Any]] | None = None,
    ) -> Coroutine[Any, Any, None]:
        """A coroutine serving the app with hypercorn on the running loop, as in Quart:
        ``asyncio.run(app.run_task())``. It ends when *shutdown_trigger* returns."""
        from .serving import serve_task

        if debug is not None:
            self.debug = debug
        return serve_task(
            self, host, port, ca_certs, certfile, keyfile, shutdown_trigger
        )
