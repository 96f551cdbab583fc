"""``Microframework``: the app. Registration, freeze-and-compile, responses, errors, lifespan.

Rule: registration only records (see ``scaffold.py``). The first request, or lifespan
startup, *freezes* the app and compiles everything the hot path reads into ``_Compiled``:
endpoints with their wrapped views and hook chains, and the adapter cache. After that,
registration raises.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncGenerator
from collections.abc import AsyncIterable
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Coroutine
from collections.abc import Iterator
from collections.abc import Mapping
from datetime import timedelta
from inspect import isasyncgen
from inspect import iscoroutinefunction
from inspect import isgenerator
from types import TracebackType
from typing import Any
from typing import TYPE_CHECKING
from typing import TypeVar
from urllib.parse import quote as _url_quote
from uuid import UUID

from werkzeug.datastructures import Headers
from werkzeug.exceptions import Aborter
from werkzeug.exceptions import BadRequest
from werkzeug.exceptions import BadRequestKeyError
from werkzeug.exceptions import HTTPException
from werkzeug.exceptions import InternalServerError
from werkzeug.routing import BuildError
from werkzeug.routing import MapAdapter
from werkzeug.routing import Rule as WerkzeugRule
from werkzeug.routing.exceptions import RequestRedirect
from werkzeug.routing.exceptions import RoutingException
from werkzeug.utils import cached_property

from . import _dispatch
from ._utils import ensure_async
from ._utils import run_sync
from .blueprints import Blueprint
from .blueprints import register_blueprint_on_app
from .config import Config
from .config import ConfigAttribute
from .ctx import _AppCtxGlobals
from .ctx import AppContext
from .globals import _cv_app
from .json.provider import DefaultJSONProvider
from .json.provider import JSONProvider
from .routing import AdapterCache
from .routing import compile_static_routes
from .routing import Map
from .routing import Rule
from .routing import UNSET
from .scaffold import _endpoint_from_view_func
from .scaffold import _methods_of
from .scaffold import Scaffold
from .scaffold import setupmethod
from .sessions import SecureCookieSessionInterface
from .sessions import SessionInterface
from .signals import appcontext_popped
from .signals import appcontext_pushed
from .signals import appcontext_tearing_down
from .signals import got_background_exception
from .signals import got_request_exception
from .signals import got_websocket_exception
from .signals import request_tearing_down
from .signals import send_signal
from .signals import websocket_tearing_down
from .static import add_static_route
from .static import get_send_file_max_age as _get_send_file_max_age
from .static import send_static_file as _send_static_file
from .templating import TemplatingMixin
from .wrappers.request import Request
from .wrappers.response import Response
from .wrappers.websocket import Websocket

if TYPE_CHECKING:
    import logging

    from .cli import AppGroup
    from .testing import MicroframeworkClient
    from .testing import TestApp
    from .testing.cli import MicroframeworkCliRunner
    from .typing import Receive
    from .typing import Scope
    from .typing import Send

F = TypeVar("F", bound=Callable[..., Any])
_sentinel: Any = object()
_MATCH_CACHE_SIZE = 1024
_IMMUTABLE_ARG_TYPES = frozenset({str, int, float, bool, UUID})


class _Chain:
    """The hooks one blueprint path runs, in run order, already wrapped as async."""

    __slots__ = ("url_value_preprocessors", "before", "after", "teardown")

    def __init__(
        self,
        url_value_preprocessors: tuple[Callable[..., Any], ...],
        before: tuple[Callable[[], Awaitable[Any]], ...],
        after: tuple[Callable[[Any], Awaitable[Any]], ...],
        teardown: tuple[Callable[[BaseException | None], Awaitable[Any]], ...],
    ) -> None:
        self.url_value_preprocessors = url_value_preprocessors
        self.before = before
        self.after = after
        self.teardown = teardown


class _Endpoint:
    """A compiled endpoint: the view as an async callable and its hook chain."""

    __slots__ = ("view", "chain", "automatic_options", "timeout")

    def __init__(
        self,
        view: Callable[..., Awaitable[Any]],
        chain: _Chain,
        automatic_options: bool,
        timeout: float | None,
    ) -> None:
        self.view = view
        self.chain = chain
        self.automatic_options = automatic_options
        #: Seconds the view may take once it suspends (``None``: no limit).
        self.timeout = timeout


class _Compiled:
    """Everything the request path reads, built once at freeze."""

    __slots__ = (
        "endpoints",
        "chains",
        "app_chain",
        "websocket_chain",
        "adapters",
        "static_routes",
        "match_cache",
        "teardown_appcontext",
    )

    def __init__(self) -> None:
        self.endpoints: dict[str, _Endpoint] = {}
        self.chains: dict[tuple[bool, str | None], _Chain] = {}
        self.app_chain: _Chain
        self.websocket_chain: _Chain
        self.adapters: AdapterCache
        self.static_routes: dict[
            str, dict[str | None, tuple[WerkzeugRule, _Endpoint | None]]
        ] = {}
        self.match_cache: dict[
            tuple[Any, ...], tuple[WerkzeugRule, dict[str, Any]]
        ] = {}
        self.teardown_appcontext: tuple[Callable[..., Awaitable[Any]], ...] = ()

    def remember_match(
        self, key: tuple[Any, ...], rule: WerkzeugRule, args: Any
    ) -> None:
        """Memoise a successful match whose arguments are immutable values.

        Matching is a pure function of adapter, path, method and kind, so a repeated
        path skips werkzeug's matcher. The path is client-controlled: the cache is
        bounded, oldest entry out first, and mutable converter results are never shared.
        """
        for value in args.values():
            if type(value) not in _IMMUTABLE_ARG_TYPES:
                return
        cache = self.match_cache
        if len(cache) >= _MATCH_CACHE_SIZE:
            del cache[next(iter(cache))]
        cache[key] = (rule, dict(args))  # the request gets the original; keep our own


def _blueprint_path(name: str | None) -> tuple[str, ...]:
    """``"a.b"`` -> ``("a.b", "a")``: the blueprint and its parents, innermost first."""
    if not name:
        return ()
    parts = name.split(".")
    return tuple(".".join(parts[:i]) for i in range(len(parts), 0, -1))


class Microframework(TemplatingMixin, Scaffold):
    """The application: an ASGI callable with Flask's API, async throughout."""

    request_class: type[Request] = Request
    response_class: type[Response] = Response
    websocket_class: type[Websocket] = Websocket
    config_class: type[Config] = Config
    url_rule_class: type[Rule] = Rule
    url_map_class: type[Map] = Map
    app_ctx_globals_class: type[_AppCtxGlobals] = _AppCtxGlobals
    json_provider_class: type[JSONProvider] = DefaultJSONProvider
    aborter_class: type[Aborter] = Aborter
    test_client_class: type[MicroframeworkClient] | None = None
    test_app_class: type[TestApp] | None = None
    #: Opens and saves the session; replace it to keep sessions elsewhere.
    session_interface: SessionInterface = SecureCookieSessionInterface()
    test_cli_runner_class: type[MicroframeworkCliRunner] | None = None

    debug = ConfigAttribute[bool]("DEBUG")
    testing = ConfigAttribute[bool]("TESTING")
    secret_key = ConfigAttribute[str | bytes | None]("SECRET_KEY")

    default_config: dict[str, Any] = {
        "APPLICATION_ROOT": "/",
        "BACKGROUND_TASK_SHUTDOWN_TIMEOUT": 5,
        "BODY_SPOOL_SIZE": 1024 * 1024,
        "BODY_TIMEOUT": 60,
        "DEBUG": None,
        "JSON_SORT_KEYS": True,
        "MAX_CONTENT_LENGTH": 16 * 1024 * 1024,
        "MAX_COOKIE_SIZE": 4093,
        "MAX_FORM_MEMORY_SIZE": 500_000,
        "MAX_FORM_PARTS": 1_000,
        "PERMANENT_SESSION_LIFETIME": timedelta(days=31),
        "PREFER_SECURE_URLS": False,
        "PREFERRED_URL_SCHEME": "http",
        "PROPAGATE_EXCEPTIONS": None,
        "PROVIDE_AUTOMATIC_OPTIONS": True,
        "RESPONSE_TIMEOUT": 60,
        "SECRET_KEY": None,
        "SECRET_KEY_FALLBACKS": None,
        "SEND_FILE_MAX_AGE_DEFAULT": None,
        "SERVER_NAME": None,
        "SESSION_COOKIE_DOMAIN": None,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_NAME": "session",
        "SESSION_COOKIE_PARTITIONED": False,
        "SESSION_COOKIE_PATH": None,
        "SESSION_COOKIE_SAMESITE": None,
        "SESSION_COOKIE_SECURE": False,
        "SESSION_REFRESH_EACH_REQUEST": True,
        "TEMPLATES_AUTO_RELOAD": None,
        "TESTING": False,
        "TRAP_BAD_REQUEST_ERRORS": None,
        "TRAP_HTTP_EXCEPTIONS": False,
        "TRUSTED_HOSTS": None,
        "WEBSOCKET_MAX_MESSAGE_SIZE": 1024 * 1024,
        "WEBSOCKET_QUEUE_SIZE": 16,
    }

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
            instance_path = os.path.join(self.root_path, "instance")
        elif not os.path.isabs(instance_path):
            raise ValueError("instance_path must be an absolute path")
        self.instance_path = instance_path
        self.config = self.make_config(instance_relative_config)
        self.json: JSONProvider = self.json_provider_class(self)
        self.aborter = self.aborter_class()
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
        self._compiled: _Compiled | None = None
        self._eager_sessions = False  # set at freeze from the session interface
        self._running_gens: list[AsyncGenerator[Any, None]] = []
        self.shell_context_processors: list[Callable[[], dict[str, Any]]] = []
        #: Background tasks still running; awaited (then cancelled) at shutdown.
        self.background_tasks: set[asyncio.Task[Any]] = set()
        add_static_route(self)

    # -- identity and setup ---------------------------------------------------
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
        flag = os.environ.get("MICROFRAMEWORK_DEBUG", "").lower()
        defaults["DEBUG"] = flag not in ("", "0", "false", "no")
        root = self.instance_path if instance_relative else self.root_path
        return self.config_class(root, defaults)

    @property
    def got_first_request(self) -> bool:
        """True once the app has been frozen by its first request or startup."""
        return self._compiled is not None

    def _check_setup_finished(self, f_name: str) -> None:
        if self._compiled is not None:
            raise AssertionError(
                f"The setup method '{f_name}' can no longer be called on the application."
                " It has already handled its first request, any changes will not be"
                " applied consistently. Make sure all imports, decorators, functions,"
                " etc. needed to set up the application are done before running it."
            )

    def ensure_async(self, func: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
        """Return *func* if it is async, else a wrapper running it in a worker thread."""
        return ensure_async(func)

    def sync_to_async(self, func: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
        """Wrap a sync *func* to run in a worker thread with the context copied."""
        return run_sync(func)

    # -- registration ---------------------------------------------------------
    @setupmethod
    def add_url_rule(
        self,
        rule: str,
        endpoint: str | None = None,
        view_func: Callable[..., Any] | None = None,
        provide_automatic_options: bool | None = None,
        **options: Any,
    ) -> None:
        """Register a URL rule, as Flask's ``add_url_rule``."""
        if endpoint is None:
            endpoint = _endpoint_from_view_func(view_func)  # type: ignore[arg-type]
        options["endpoint"] = endpoint
        websocket = bool(options.get("websocket", False))
        methods = _methods_of(options.pop("methods", None), view_func)
        if websocket:
            methods = {"GET"}
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
        url_rule = self.url_rule_class(
            rule,
            methods=methods | required,
            provide_automatic_options=provide_automatic_options,
            **options,
        )
        self.url_map.add(url_rule)
        if view_func is not None:
            existing = self.view_functions.get(endpoint)
            if existing is not None and existing is not view_func:
                raise AssertionError(
                    "View function mapping is overwriting an existing endpoint"
                    f" function: {endpoint}"
                )
            self.view_functions[endpoint] = view_func

    @setupmethod
    def teardown_appcontext(self, func: F) -> F:
        """Run *func* with the error (or ``None``) when each app context ends."""
        self.teardown_appcontext_funcs.append(func)
        return func

    def before_serving(self, func: F) -> F:
        """Run *func* once at startup, before the first request is served."""
        self.before_serving_funcs.append(func)
        return func

    def after_serving(self, func: F) -> F:
        """Run *func* once at shutdown."""
        self.after_serving_funcs.append(func)
        return func

    def while_serving(self, func: F) -> F:
        """Run an async generator around serving: code before ``yield`` is startup."""
        self.while_serving_gens.append(func)
        return func

    def register_blueprint(self, blueprint: Blueprint, **options: Any) -> None:
        """Register *blueprint*; ``url_prefix``, ``subdomain``, ``url_defaults`` and
        ``name`` override its own for this registration.
        """
        register_blueprint_on_app(self, blueprint, **options)

    def iter_blueprints(self) -> Iterator[Blueprint]:
        """The registered blueprints, in registration order."""
        return iter(self.blueprints.values())

    # -- freeze and compile ---------------------------------------------------
    def _freeze(self) -> _Compiled:
        """Compile the registries into the tables the request path reads."""
        if self._compiled is not None:
            return self._compiled
        compiled = _Compiled()
        self._eager_sessions = not self.session_interface.opens_without_waiting
        sort_keys = self.config.get("JSON_SORT_KEYS")
        if sort_keys is not None and isinstance(self.json, DefaultJSONProvider):
            self.json.sort_keys = bool(sort_keys)
        compiled.app_chain = self._compile_chain(None, compiled)
        compiled.websocket_chain = self._compile_chain(None, compiled, websocket=True)
        for rule in self.url_map.iter_rules():
            view = self.view_functions.get(rule.endpoint)
            if view is None:
                continue
            blueprint = (
                rule.endpoint.rpartition(".")[0] if "." in rule.endpoint else None
            )
            timeout = getattr(rule, "response_timeout", UNSET)
            compiled.endpoints[rule.endpoint] = _Endpoint(
                self.ensure_async(view),
                self._compile_chain(blueprint, compiled, websocket=rule.websocket),
                bool(getattr(rule, "provide_automatic_options", False)),
                self.config["RESPONSE_TIMEOUT"] if timeout is UNSET else timeout,
            )
        compiled.adapters = AdapterCache(
            self.url_map,
            server_name=self.config["SERVER_NAME"],
            subdomain_matching=self.subdomain_matching,
            trusted_hosts=self.config["TRUSTED_HOSTS"],
        )
        # Path -> method -> (rule, compiled endpoint): one lookup pair per request.
        compiled.static_routes = {
            path: {
                method: (rule, compiled.endpoints.get(rule.endpoint))
                for method, rule in by_method.items()
            }
            for path, by_method in compile_static_routes(
                self.url_map, self.subdomain_matching
            ).items()
        }
        compiled.teardown_appcontext = tuple(
            self.ensure_async(f) for f in reversed(self.teardown_appcontext_funcs)
        )
        self._compiled = compiled
        return compiled

    def _compile_chain(
        self, blueprint: str | None, compiled: _Compiled, websocket: bool = False
    ) -> _Chain:
        # HTTP and websocket share this one pipeline; only the registries differ.
        chain = compiled.chains.get((websocket, blueprint))
        if chain is not None:
            return chain
        if websocket:
            before, after, teardown = (
                self.before_websocket_funcs,
                self.after_websocket_funcs,
                self.teardown_websocket_funcs,
            )
        else:
            before, after, teardown = (
                self.before_request_funcs,
                self.after_request_funcs,
                self.teardown_request_funcs,
            )
        inner_first = (*_blueprint_path(blueprint), None)
        outer_first = tuple(reversed(inner_first))
        wrap = self.ensure_async
        chain = _Chain(
            tuple(
                f for name in outer_first for f in self.url_value_preprocessors[name]
            ),
            tuple(wrap(f) for name in outer_first for f in before[name]),
            tuple(wrap(f) for name in inner_first for f in reversed(after[name])),
            tuple(wrap(f) for name in inner_first for f in reversed(teardown[name])),
        )
        compiled.chains[(websocket, blueprint)] = chain
        return chain

    def _chain_for(self, ctx: AppContext) -> _Chain:
        compiled = self._freeze()
        current = ctx.request or ctx.websocket
        if current is None:
            return compiled.app_chain
        return self._compile_chain(
            current.blueprint, compiled, websocket=ctx.websocket is not None
        )

    # -- ASGI -----------------------------------------------------------------
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI entry point."""
        if scope["type"] == "http" and "asgi_app" not in self.__dict__:
            # No middleware wrapped asgi_app: skip one coroutine layer per request.
            await _dispatch.handle_http(self, scope, receive, send)
            return
        await self.asgi_app(scope, receive, send)

    async def asgi_app(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI app proper; wrap this attribute to add middleware."""
        kind = scope["type"]
        if kind == "http":
            await _dispatch.handle_http(self, scope, receive, send)
        elif kind == "websocket":
            await _dispatch.handle_websocket(self, scope, receive, send)
        elif kind == "lifespan":
            await _dispatch.handle_lifespan(self, scope, receive, send)
        else:
            raise ValueError(f"unsupported ASGI scope type {kind!r}")

    # -- responses ------------------------------------------------------------
    async def make_response(self, rv: Any) -> Response:
        """Turn a view's return value into a response (``await`` it, as in Quart)."""
        ctx = _cv_app.get(None)
        return self._make_response(rv, ctx.request if ctx is not None else None)

    def _make_response(self, rv: Any, request: Request | None) -> Response:
        if rv.__class__ is str:
            return self.response_class(rv)
        status = headers = None
        if isinstance(rv, tuple):
            length = len(rv)
            if length == 3:
                rv, status, headers = rv
            elif length == 2:
                if isinstance(rv[1], (Headers, Mapping, tuple, list)):
                    rv, headers = rv
                else:
                    rv, status = rv
            else:
                raise TypeError(
                    f"{_culprit(request)} returned a tuple of {length} items; expected"
                    " (body, status, headers), (body, status) or (body, headers)"
                )
        if rv is None:
            raise TypeError(
                f"{_culprit(request)} did not return a valid response: it returned None"
                " or ended without a return statement"
            )
        response_class = self.response_class
        if isinstance(rv, response_class):
            pass
        elif isinstance(rv, (str, bytes, bytearray)):
            rv = response_class(rv, status=status, headers=headers)
            status = headers = None
        elif isinstance(rv, (dict, list)):
            rv = self.json.response(rv)
        elif isinstance(rv, HTTPException):
            rv = self._response_from_http_exception(rv)
        elif (
            isasyncgen(rv)
            or isgenerator(rv)
            or isinstance(rv, (AsyncIterable, Iterator))
            or iscoroutinefunction(rv)  # a writer: async def body(write)
        ):
            rv = response_class(rv, status=status, headers=headers)
            status = headers = None
        elif isinstance(rv, Response):
            pass
        else:
            raise TypeError(
                f"{_culprit(request)} returned {type(rv).__name__}; expected str, bytes,"
                " dict, list, a Response, a (async) generator, an HTTPException, or a"
                " tuple of (body, status, headers)"
            )
        if status is not None:
            if isinstance(status, (str, bytes)):
                rv.status = status.decode() if isinstance(status, bytes) else status
            else:
                rv.status_code = int(status)
        if headers:
            rv.headers.update(headers)
        return rv  # type: ignore[no-any-return]

    def _response_from_http_exception(self, error: HTTPException) -> Response:
        existing = error.response
        if isinstance(existing, Response):
            return existing
        if isinstance(error, RequestRedirect):
            from .helpers import redirect

            return redirect(error.new_url, error.code, Response=self.response_class)
        return self.response_class(
            error.get_body(), status=error.code or 500, headers=error.get_headers()
        )

    def make_default_options_response(self, ctx: AppContext | None = None) -> Response:
        """The answer to an automatic ``OPTIONS`` request: an ``Allow`` header."""
        ctx = ctx or _cv_app.get(None)
        if ctx is None or ctx.request is None or ctx.url_adapter is None:
            raise RuntimeError("make_default_options_response needs a request context")
        response = self.response_class()
        response.allow.update(ctx.url_adapter.allowed_methods(ctx.request.path))
        return response

    async def _process_response(
        self, response: Response, ctx: AppContext, chain: _Chain
    ) -> Response:
        if ctx._after_request_functions:
            for func in ctx._after_request_functions:
                response = await self.ensure_async(func)(response)
        for after in chain.after:
            response = await after(response)
            if not isinstance(response, Response):
                raise TypeError(
                    f"an after_request function returned {type(response).__name__};"
                    " it must return the response"
                )
        request = ctx.request
        if request is not None:
            session = ctx._session
            if session is None and self._session_cookie_sent(request):
                # Unused, but a permanent session's cookie is refreshed each request.
                session = ctx.session
            if session is not None:
                interface = self.session_interface
                if not interface.is_null_session(session):
                    await interface.save_session(self, session, response)
        return response

    def _session_cookie_sent(self, request: Request) -> bool:
        # Only a request that carries the session cookie can need a refresh; without
        # a secret key there is no session cookie to refresh.
        config = self.config
        if not config["SESSION_REFRESH_EACH_REQUEST"] or not config["SECRET_KEY"]:
            return False
        cookie = request._raw_header(b"cookie")
        return cookie is not None and config["SESSION_COOKIE_NAME"] in cookie

    async def process_response(self, response: Response) -> Response:
        """Run ``after_this_request`` and ``after_request`` functions on *response*."""
        ctx = _cv_app.get(None)
        if ctx is None:
            raise RuntimeError("process_response needs a request context")
        return await self._process_response(response, ctx, self._chain_for(ctx))

    # -- errors ---------------------------------------------------------------
    def trap_http_exception(self, error: Exception) -> bool:
        """True if *error* should propagate like an unhandled error (for debugging)."""
        if self.config["TRAP_HTTP_EXCEPTIONS"]:
            return True
        trap_bad_request = self.config["TRAP_BAD_REQUEST_ERRORS"]
        if (
            trap_bad_request is None
            and self.debug
            and isinstance(error, BadRequestKeyError)
        ):
            return True
        if trap_bad_request:
            return isinstance(error, BadRequest)
        return False

    def _find_error_handler(
        self, error: BaseException, blueprints: list[str]
    ) -> Callable[..., Any] | None:
        code = error.code if isinstance(error, HTTPException) else None
        codes = (code, None) if code is not None else (None,)
        spec = self.error_handler_spec
        mro = type(error).__mro__
        for c in codes:
            for name in (*blueprints, None):
                handler_map = spec[name][c] if name in spec else {}
                if not handler_map:
                    continue
                for cls in mro:
                    handler = handler_map.get(cls)
                    if handler is not None:
                        return handler
        return None

    async def handle_http_exception(
        self, error: HTTPException, ctx: AppContext | None = None
    ) -> Any:
        """Find and run the handler for an HTTP error, or return the error itself."""
        if error.code is None or isinstance(error, RoutingException):
            return error
        blueprints = _blueprints_of(ctx)
        handler = self._find_error_handler(error, blueprints)
        if handler is None:
            return error
        return await self.ensure_async(handler)(error)

    async def handle_user_exception(
        self, error: Exception, ctx: AppContext | None = None
    ) -> Any:
        """Handle an error raised by a hook or view; re-raise it if nothing handles it."""
        ctx = ctx or _cv_app.get(None)
        if isinstance(error, BadRequestKeyError) and (
            self.debug or self.config["TRAP_BAD_REQUEST_ERRORS"]
        ):
            error.show_exception = True
        if isinstance(error, HTTPException) and not self.trap_http_exception(error):
            return await self.handle_http_exception(error, ctx)
        blueprints = _blueprints_of(ctx)
        handler = self._find_error_handler(error, blueprints)
        if handler is None:
            raise error
        return await self.ensure_async(handler)(error)

    def _propagates(self) -> bool:
        """Re-raise unhandled errors? ``PROPAGATE_EXCEPTIONS``, else testing or debug."""
        propagate = self.config["PROPAGATE_EXCEPTIONS"]
        return (
            bool(self.testing or self.debug) if propagate is None else bool(propagate)
        )

    async def handle_exception(
        self, error: Exception, ctx: AppContext | None = None, chain: Any = None
    ) -> Response:
        """Turn an unhandled error into a logged 500, or re-raise it when propagating."""
        ctx = ctx or _cv_app.get(None)
        signal = (
            got_websocket_exception
            if ctx is not None and ctx.websocket is not None
            else got_request_exception
        )
        if signal.receivers:
            await send_signal(signal, self, exception=error)
        if (
            self.config["PROPAGATE_EXCEPTIONS"] is None
            and self.debug
            and not self.testing
            and ctx is not None
            and ctx.request is not None
        ):
            # Debug mode shows the traceback page; a server would send a bare 500.
            ctx._unhandled = error
            self.log_exception((type(error), error, error.__traceback__))
            from .debug import render_debug_page

            return render_debug_page(
                error, ctx.request, response_class=self.response_class
            )
        if self._propagates():
            raise error
        if ctx is not None:
            ctx._unhandled = error
        self.log_exception((type(error), error, error.__traceback__))
        server_error = InternalServerError(original_exception=error)
        request = ctx.request if ctx is not None else None
        handler = self._find_error_handler(server_error, _blueprints_of(ctx))
        rv: Any = server_error
        if handler is not None:
            rv = await self.ensure_async(handler)(server_error)
        response = self._make_response(rv, request)
        if ctx is None:
            return response
        try:
            return await self._process_response(
                response, ctx, chain or self._chain_for(ctx)
            )
        except Exception:
            self.logger.exception(
                "Request finalizing failed with an error while handling an error"
            )
            return response

    def log_exception(
        self,
        exc_info: tuple[type[BaseException], BaseException, TracebackType | None]
        | tuple[None, None, None],
    ) -> None:
        """Log an unhandled exception (override to change how)."""
        ctx = _cv_app.get(None)
        where = "request"
        if ctx is not None and ctx.request is not None:
            where = f"request {ctx.request.method} {ctx.request.path}"
        elif ctx is not None and ctx.websocket is not None:
            where = f"websocket {ctx.websocket.path}"
        self.logger.error(f"Exception on {where}", exc_info=exc_info)

    # -- teardown ---------------------------------------------------------------
    async def _teardown(
        self, ctx: AppContext, error: BaseException | None, chain: _Chain | None = None
    ) -> None:
        """Run request teardown (for request contexts) then app-context teardown.

        Every function runs; one that raises is logged and the rest still run.
        """
        if ctx.request is not None:
            ctx.request._close()
        if ctx.request is not None or ctx.websocket is not None:
            if chain is None:
                chain = self._chain_for(ctx)
            for func in chain.teardown:
                await self._run_teardown(func, error)
            signal = (
                request_tearing_down
                if ctx.request is not None
                else websocket_tearing_down
            )
            if signal.receivers:
                await send_signal(signal, self, exc=error)
        compiled = self._compiled
        funcs = (
            compiled.teardown_appcontext
            if compiled is not None
            else tuple(
                self.ensure_async(f) for f in reversed(self.teardown_appcontext_funcs)
            )
        )
        for func in funcs:
            await self._run_teardown(func, error)
        if appcontext_tearing_down.receivers:
            await send_signal(appcontext_tearing_down, self, exc=error)

    async def _run_teardown(
        self, func: Callable[..., Awaitable[Any]], error: BaseException | None
    ) -> None:
        try:
            await func(error)
        except Exception:
            self.logger.exception("Error in teardown function %r", func)

    async def _signal_app_context(self, event: str, ctx: AppContext) -> None:
        """Send ``appcontext_pushed`` or ``appcontext_popped``, if anyone listens."""
        signal = appcontext_pushed if event == "pushed" else appcontext_popped
        if signal.receivers:
            await send_signal(signal, self)

    # -- contexts -------------------------------------------------------------
    def app_context(self) -> AppContext:
        """An app context: ``async with app.app_context(): ...``."""
        return AppContext(self)

    def request_context(self, request: Request) -> AppContext:
        """A context for *request*: ``async with app.request_context(req): ...``."""
        return AppContext(self, request)

    def _open_session_now(self, ctx: AppContext) -> Any:
        # Lazy opening, for interfaces whose open_session never waits: step the
        # coroutine once; it must finish without suspending.
        coro = self._begin_session(ctx)
        try:
            coro.send(None)
        except StopIteration as done:
            return self._session_or_null(done.value)
        coro.close()
        raise RuntimeError(
            f"{type(self.session_interface).__name__}.open_session waits on I/O, so it"
            " cannot be opened on first use; set its opens_without_waiting to False"
        )

    async def _open_session(self, ctx: AppContext) -> None:
        """Open the session of ctx's request or websocket (the null session if none)."""
        ctx.session = self._session_or_null(await self._begin_session(ctx))

    def _begin_session(self, ctx: AppContext) -> Coroutine[Any, Any, Any]:
        connection = ctx.request if ctx.request is not None else ctx.websocket
        return self.session_interface.open_session(self, connection)

    def _session_or_null(self, session: Any) -> Any:
        return (
            session
            if session is not None
            else self.session_interface.make_null_session(self)
        )

    def _prepare_context(self, ctx: AppContext) -> None:
        # A context pushed by hand (tests, request_context) gets routing as a real
        # request would, so url_for and request.endpoint work.
        compiled = self._freeze()
        if ctx.request is not None:
            _dispatch.match_request(compiled, ctx, ctx.request, False)

    def test_request_context(
        self,
        path: str,
        *,
        method: str = "GET",
        headers: Any = None,
        query_string: Any = None,
        scheme: str = "http",
        data: bytes | str | None = None,
        form: Any = None,
        json: Any = _sentinel,
        root_path: str = "",
        http_version: str = "1.1",
        scope_base: dict[str, Any] | None = None,
        auth: Any = None,
        subdomain: str | None = None,
    ) -> AppContext:
        """A request context for a made-up request, for tests and shells."""
        from .testing.utils import make_test_body_with_headers
        from .testing.utils import make_test_headers_path_and_query_string
        from .testing.utils import make_test_scope

        headers, path, query_bytes = make_test_headers_path_and_query_string(
            self, path, headers, query_string, auth, subdomain
        )
        kwargs: dict[str, Any] = {"data": data, "form": form, "app": self}
        if json is not _sentinel:
            kwargs["json"] = json
        body, body_headers = make_test_body_with_headers(**kwargs)
        for key, value in body_headers.items():
            # A content type the caller passed wins, as in the test client.
            if key.lower() == "content-length" or key not in headers:
                headers[key] = value
        scope = make_test_scope(
            "http",
            path,
            method,
            headers,
            query_bytes,
            scheme,
            root_path,
            http_version,
            scope_base,
        )
        sent = False

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        return self.request_context(self.request_class(scope, receive, self))

    # -- URLs -----------------------------------------------------------------
    def create_url_adapter(self, request: Request | None) -> MapAdapter | None:
        """An adapter for building URLs outside a request (needs ``SERVER_NAME``)."""
        if request is not None:
            ctx = _cv_app.get(None)
            return ctx.url_adapter if ctx is not None else None
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
            url_scheme=self.config["PREFERRED_URL_SCHEME"],
        )

    def url_for(
        self,
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
            adapter = ctx.url_adapter if ctx is not None else None
            if adapter is None:
                adapter = self.create_url_adapter(None)
            if adapter is None:
                raise RuntimeError(
                    "Unable to build URLs outside an active request without 'SERVER_NAME'"
                    " configured. Also configure 'APPLICATION_ROOT' and"
                    " 'PREFERRED_URL_SCHEME' as needed."
                )
            if _external is None:
                _external = True
        if adapter is None:
            raise RuntimeError(
                "the current request has no URL adapter (routing failed)"
            )
        if _scheme is not None and not _external:
            raise ValueError("When specifying '_scheme', '_external' must be True.")
        self.inject_url_defaults(endpoint, values)
        try:
            rv: str = adapter.build(
                endpoint,
                values,
                method=_method,
                url_scheme=_scheme,
                force_external=_external,
            )
        except BuildError as error:
            values.update(
                _anchor=_anchor, _method=_method, _scheme=_scheme, _external=_external
            )
            return self.handle_url_build_error(error, endpoint, values)
        if _anchor is not None:
            rv = f"{rv}#{_url_quote(_anchor, safe='%!#$&()*+,/:;=?@')}"
        return rv

    def inject_url_defaults(self, endpoint: str, values: dict[str, Any]) -> None:
        """Let ``url_defaults`` functions fill in *values* for *endpoint*."""
        names: tuple[str | None, ...] = (None,)
        if "." in endpoint:
            names = (None, *reversed(_blueprint_path(endpoint.rpartition(".")[0])))
        for name in names:
            if name in self.url_default_functions:
                for func in self.url_default_functions[name]:
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

    # -- files ----------------------------------------------------------------
    def get_send_file_max_age(self, filename: str | None) -> int | None:
        """Seconds *filename* may be cached (``SEND_FILE_MAX_AGE_DEFAULT``); override per file."""
        return _get_send_file_max_age(filename)

    async def send_static_file(self, filename: str) -> Response:
        """Send *filename* from :attr:`static_folder`: the ``static`` endpoint's view."""
        return await _send_static_file(self, filename)

    # -- background work ------------------------------------------------------
    def add_background_task(
        self, func: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> asyncio.Task[Any]:
        """Run *func* (async or sync) in its own app context, after the current response.

        Returns the task: await it, cancel it or check it. Failures are logged. At
        shutdown the app waits ``BACKGROUND_TASK_SHUTDOWN_TIMEOUT`` seconds for unfinished
        tasks, then cancels them.
        """
        ctx = _cv_app.get(None)
        gate: asyncio.Future[None] | None = None
        if ctx is not None and ctx.request is not None and ctx._cv_token is None:
            # Called while a request is being answered: start once it has been sent.
            # (A context pushed by hand, as in tests, has a token and sends nothing.)
            gate = ctx._response_sent
            if gate is None:
                gate = ctx._response_sent = asyncio.get_running_loop().create_future()
        task = asyncio.create_task(self._run_background(func, args, kwargs, gate))
        self.background_tasks.add(task)
        task.add_done_callback(self._background_done)
        return task

    async def _run_background(
        self,
        func: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        gate: asyncio.Future[None] | None,
    ) -> Any:
        if gate is not None:
            await gate
        async with self.app_context():
            try:
                return await self.ensure_async(func)(*args, **kwargs)
            except Exception as error:
                if got_background_exception.receivers:
                    await send_signal(got_background_exception, self, exception=error)
                raise

    def _background_done(self, task: asyncio.Task[Any]) -> None:
        self.background_tasks.discard(task)
        if not task.cancelled() and (error := task.exception()) is not None:
            self.logger.error("Background task failed", exc_info=error)

    async def _finish_background_tasks(self) -> None:
        tasks = set(self.background_tasks)
        if not tasks:
            return
        timeout = self.config["BACKGROUND_TASK_SHUTDOWN_TIMEOUT"]
        _, pending = await asyncio.wait(tasks, timeout=timeout)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)

    # -- lifespan -------------------------------------------------------------
    async def startup(self, state: dict[str, Any] | None = None) -> None:
        """Freeze the app and run the ``before_serving`` and ``while_serving`` startup code."""
        self._freeze()
        if state is not None:
            state.update(self.state)
            self.state = state
        async with self.app_context():
            for func in self.before_serving_funcs:
                await self.ensure_async(func)()
            for gen_func in self.while_serving_gens:
                gen = gen_func()
                await anext(gen)
                self._running_gens.append(gen)

    async def shutdown(self) -> None:
        """Run the ``after_serving`` functions and finish the ``while_serving`` generators."""
        # Every cleanup runs even if an earlier one fails; the first error is raised.
        errors: list[Exception] = []
        await self._finish_background_tasks()
        async with self.app_context():
            for func in self.after_serving_funcs:
                try:
                    await self.ensure_async(func)()
                except Exception as exc:
                    errors.append(exc)
            while self._running_gens:
                gen = self._running_gens.pop()
                try:
                    await anext(gen)
                except StopAsyncIteration:
                    continue
                except Exception as exc:
                    errors.append(exc)
                    continue
                errors.append(
                    RuntimeError("a while_serving generator yielded more than once")
                )
        if errors:
            for extra in errors[1:]:
                self.logger.error("Another shutdown error", exc_info=extra)
            raise errors[0]

    # -- testing and running ----------------------------------------------------
    def test_client(
        self, use_cookies: bool = True, **kwargs: Any
    ) -> MicroframeworkClient:
        """An in-process test client for this app."""
        from .testing import MicroframeworkClient

        cls = self.test_client_class or MicroframeworkClient
        return cls(self, use_cookies=use_cookies, **kwargs)

    def test_cli_runner(self, **kwargs: Any) -> MicroframeworkCliRunner:
        """A click runner that invokes this app's CLI commands, for tests."""
        from .testing.cli import MicroframeworkCliRunner

        cls = self.test_cli_runner_class or MicroframeworkCliRunner
        return cls(self, **kwargs)

    @cached_property
    def cli(self) -> AppGroup:
        """The app's click group: ``@app.cli.command()`` adds a ``microframework`` command."""
        from .cli import AppGroup

        return AppGroup(self.name)

    @setupmethod
    def shell_context_processor(self, f: F) -> F:
        """Add the dict *f* returns to the ``microframework shell`` namespace."""
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
        from .testing import TestApp

        cls = self.test_app_class or TestApp
        return cls(self)

    def run(
        self,
        host: str | None = None,
        port: int | None = None,
        debug: bool | None = None,
        use_reloader: bool | None = None,
        certfile: str | None = None,
        keyfile: str | None = None,
        **kwargs: Any,
    ) -> None:
        """Serve the app with hypercorn, for development; deploy with ``hypercorn`` itself.

        Debug mode turns the reloader on. Other keyword arguments set attributes of
        hypercorn's ``Config``. Does nothing inside the ``microframework`` command.
        """
        from .cli import run_app  # only running needs click and hypercorn

        if debug is not None:
            self.debug = debug
        run_app(self, host, port, use_reloader, certfile, keyfile, **kwargs)


def _blueprints_of(ctx: AppContext | None) -> list[str]:
    current = None if ctx is None else (ctx.request or ctx.websocket)
    return current.blueprints if current is not None else []


def _culprit(request: Request | None) -> str:
    endpoint = request.endpoint if request is not None else None
    return f"the view function for {endpoint!r}" if endpoint else "the view function"
