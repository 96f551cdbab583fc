"""``_compile.py``: freeze the app into the tables the request path reads, and match.

Rule: registration only records; :func:`freeze` runs once (first request or startup)
and builds :class:`Compiled`, after which registration raises. Matching reads only
these tables; nothing here runs a view or builds a response.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Coroutine
from dataclasses import dataclass
from dataclasses import field
from typing import Any
from typing import TYPE_CHECKING
from urllib.parse import quote
from uuid import UUID
from weakref import WeakSet

from werkzeug.exceptions import BadRequest
from werkzeug.exceptions import HTTPException
from werkzeug.routing import Rule as WerkzeugRule
from werkzeug.routing.converters import DEFAULT_CONVERTERS
from werkzeug.routing.exceptions import RequestRedirect
from werkzeug.utils import get_content_type

from ._utils import awaiting
from ._utils import is_async_callable
from ._utils import MEMO_KEY_SIZE
from ._utils import URL_QUERY_SAFE
from .config import check_numbers
from .json.provider import DefaultJSONProvider
from .routing import AdapterCache
from .routing import compile_static_routes
from .routing import UNSET
from .sessions import opens_at_once
from .sessions import saves_its_own_way
from .sessions import SessionInterface
from .wrappers.base import AtMountPoint
from .wrappers.response import Response

if TYPE_CHECKING:
    from werkzeug.routing import MapAdapter

    from .app import Microframework
    from .ctx import AppContext
    from .wrappers.base import BaseRequestWebsocket

_MATCH_CACHE_SIZE = 1024
_IMMUTABLE_ARG_TYPES = frozenset({str, int, float, bool, UUID})
_USUAL_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"})
# The converter of each variable in a rule ("" for a bare <name>: the default one).
_CONVERTER = re.compile(r"<(?:\s*(\w+)\s*[(:])?")
# Quart's connection classes and pipeline steps: nothing here uses them, so an app
# that sets or overrides one (a proxy fix, say) would lose it without a word.
_QUART_ONLY = (
    "asgi_http_class", "asgi_websocket_class", "asgi_lifespan_class", "handle_request",
    "full_dispatch_request", "dispatch_request", "finalize_request", "handle_websocket",
    "full_dispatch_websocket", "dispatch_websocket", "finalize_websocket",
    "postprocess_websocket", "handle_websocket_exception", "do_teardown_request",
    "do_teardown_websocket", "do_teardown_appcontext", "should_ignore_error",
    "raise_routing_exception",
)  # fmt: skip


@dataclass(slots=True, eq=False, repr=False)
class Chain:
    """The hooks one blueprint path runs, in run order, already wrapped as async."""

    url_value_preprocessors: tuple[Callable[..., Any], ...]
    before: tuple[Callable[[], Awaitable[Any]], ...]
    after: tuple[Callable[[Any], Awaitable[Any]], ...]
    teardown: tuple[Callable[[BaseException | None], Awaitable[Any]], ...]
    #: Anything to run before the view: most endpoints have nothing.
    preprocess: bool = field(init=False)

    def __post_init__(self) -> None:
        self.preprocess = bool(self.url_value_preprocessors or self.before)


@dataclass(slots=True, eq=False, repr=False)
class Endpoint:
    """A compiled rule: its endpoint's view as an async callable and hook chain, and
    the rule's own automatic OPTIONS and timeout."""

    view: Callable[..., Coroutine[Any, Any, Any]]
    chain: Chain
    automatic_options: bool
    #: The route's own seconds once the view suspends (``None``: no limit), or
    #: ``UNSET``: ``RESPONSE_TIMEOUT``, read when a request needs it.
    timeout: float | None


class Compiled:
    """Everything the request path reads, built once at freeze."""

    __slots__ = (
        "by_rule", "chains", "app_chain", "websocket_chain", "adapters",
        "static_routes", "match_cache", "teardown_appcontext", "eager_sessions",
        "saves_always",
        "custom_make_response", "custom_process_response", "custom_handle_exception",
        "str_content_type", "error_handlers", "unmemoised", "built", "own_built",
    )  # fmt: skip

    def __init__(self, adapters: AdapterCache) -> None:
        self.by_rule: dict[int, Endpoint] = {}  # by id(): werkzeug rules are unhashable
        self.chains: dict[tuple[bool, str | None], Chain] = {}
        self.app_chain: Chain
        self.websocket_chain: Chain
        self.adapters = adapters
        self.static_routes: dict[
            str, dict[str | None, tuple[WerkzeugRule, Endpoint | None]]
        ] = {}
        self.match_cache: dict[
            tuple[MapAdapter, str, str, bool], tuple[WerkzeugRule, dict[str, Any]]
        ] = {}
        self.teardown_appcontext: tuple[Callable[..., Awaitable[Any]], ...] = ()
        #: The session interface waits to open: open before the view, not on first use.
        self.eager_sessions = False
        #: A lazy interface whose saving is a subclass's: save after every request.
        self.saves_always = False
        #: A subclass overrides these: call them instead of the fast path.
        self.custom_make_response = False
        self.custom_process_response = False
        self.custom_handle_exception = False
        #: A view's ``str`` Content-Type when no response object is needed, else None.
        self.str_content_type: tuple[bytes, bytes] | None = None
        #: A handler is registered or overridden: errors go to handle_user_exception.
        self.error_handlers = True
        #: ids of the rules an app's converter matches: its to_python may change
        #: its mind (a user deleted), so their matches are never memoised.
        self.unmemoised: frozenset[int] = frozenset()
        #: URLs url_for built in a request, by adapter, request method, endpoint,
        #: options and str/int values (see Microframework.url_for); bounded.
        self.built: dict[tuple[Any, ...], str] = {}
        #: Endpoints with a rule an app's converter (or Rule.build) builds: it may
        #: change its mind, so their URLs are never memoised.
        self.own_built: frozenset[str] = frozenset()

    def remember_match(
        self,
        key: tuple[MapAdapter, str, str, bool],
        rule: WerkzeugRule,
        args: Any,
        host: bytes | None,
    ) -> None:
        """Memoise a match with immutable arguments; bounded: the path is the client's,
        and only an adapter the cache keeps (see AdapterCache.get) is worth a key."""
        if len(key[1]) > MEMO_KEY_SIZE or id(rule) in self.unmemoised:
            return
        if host is None or len(host) > MEMO_KEY_SIZE:
            return
        for value in args.values():
            if type(value) not in _IMMUTABLE_ARG_TYPES:
                return
        cache = self.match_cache
        if len(cache) >= _MATCH_CACHE_SIZE:
            del cache[next(iter(cache))]
        cache[key] = (rule, dict(args))  # the request gets the original; keep our own


def blueprint_path(name: str | None) -> tuple[str, ...]:
    """``"a.b"`` -> ``("a.b", "a")``: the blueprint and its parents, innermost first."""
    if not name:
        return ()
    parts = name.split(".")
    return tuple(".".join(parts[:i]) for i in range(len(parts), 0, -1))


def freeze(app: Microframework) -> Compiled:
    """Compile *app*'s tables once, for good: from then on setup methods raise."""
    if app.compiled is None:
        app.compiled = compile_tables(app)
    return app.compiled


class ViewFunctions(dict[str, Callable[..., Any]]):
    """``app.view_functions``. Flask reads it per request, so a test suite sharing one
    app may replace a view after the first request: the tables are compiled again."""

    __slots__ = ("apps",)

    def __init__(self, app: Microframework) -> None:
        super().__init__()
        self.apps = WeakSet((app,))  # and its copies (copy.copy(app))

    def __setitem__(self, endpoint: str, view: Callable[..., Any]) -> None:
        super().__setitem__(endpoint, view)
        self.recompile()

    def __delitem__(self, endpoint: str) -> None:
        super().__delitem__(endpoint)
        self.recompile()

    def update(self, *args: Any, **kwargs: Any) -> None:
        """Add or replace several views at once."""
        super().update(*args, **kwargs)
        self.recompile()

    def __ior__(self, other: Any) -> ViewFunctions:  # type: ignore[override,misc]
        self.update(other)
        return self

    def setdefault(self, endpoint: str, view: Any = None) -> Any:
        if endpoint in self:
            return self[endpoint]
        self[endpoint] = view
        return view

    def pop(self, endpoint: str, *default: Any) -> Any:
        had = endpoint in self
        value = super().pop(endpoint, *default)
        if had:
            self.recompile()
        return value

    def popitem(self) -> tuple[str, Any]:
        item = super().popitem()
        self.recompile()
        return item

    def clear(self) -> None:
        super().clear()
        self.recompile()

    def recompile(self) -> None:
        """Compile again the tables of each app sharing these views that has served."""
        for app in list(self.apps):
            if app.compiled is not None:  # (requests under way keep theirs)
                app.compiled = compile_tables(app)


class ViewsOfTheApp:
    """``app.view_functions``: a :class:`ViewFunctions`, kept in the app's ``__dict__``
    under the same name; one put in its place compiles the tables again."""

    def __get__(self, app: Microframework | None, owner: Any = None) -> Any:
        if app is None:
            return self
        try:
            return app.__dict__["view_functions"]
        except KeyError:  # before Scaffold.__init__: hasattr() must say False
            raise AttributeError("view_functions") from None

    def __set__(
        self, app: Microframework, views: dict[str, Callable[..., Any]]
    ) -> None:
        watched = ViewFunctions(app)
        dict.update(watched, views)
        if app.__dict__.setdefault("view_functions", watched) is not watched:
            app.__dict__["view_functions"] = watched  # (a copy keeps the one it shared)
            watched.recompile()


class InterfaceOfTheApp:
    """``app.session_interface``: the tables say whether it opens before the view and
    saves after each request, so one set after the first request (a test's store)
    compiles them again; Flask reads it per request."""

    def __init__(self, default: SessionInterface) -> None:
        self.default = default

    def __get__(self, app: Microframework | None, owner: Any = None) -> Any:
        if app is None:
            return self.default
        return app.__dict__.get("session_interface", self.default)

    def __set__(self, app: Microframework, interface: SessionInterface) -> None:
        app.__dict__["session_interface"] = interface
        # (None before __init__ sets it: a subclass may set its interface first)
        if getattr(app, "compiled", None) is not None:  # requests under way keep theirs
            app.compiled = compile_tables(app)

    def __delete__(self, app: Microframework) -> None:  # mock.patch.object's undoing
        self.__set__(app, self.default)
        app.__dict__.pop("session_interface", None)


def watch_tables(cls: type[Microframework]) -> None:
    """A subclass's ``view_functions = {}`` or ``session_interface = Store()`` must
    not hide the descriptors that compile the tables again when they change."""
    own = vars(cls)
    views, interface = own.get("view_functions"), own.get("session_interface")
    if views is not None and not isinstance(views, ViewsOfTheApp):
        cls.view_functions = ViewsOfTheApp()  # type: ignore[assignment]
    # A property (or cached_property) of the subclass's own gives the interface itself.
    if interface is not None and not hasattr(type(interface), "__get__"):
        cls.session_interface = InterfaceOfTheApp(interface)  # type: ignore[assignment]


def current_tables(app: Microframework) -> Compiled:
    """The frozen tables, or before the first request a compile that freezes nothing:
    a test request context pushed during setup must not end it (as in Flask)."""
    return app.compiled or compile_tables(app)


def compile_tables(app: Microframework) -> Compiled:
    """Compile *app*'s registries into the tables the request path reads."""
    config = app.config
    check_numbers(config)
    compiled = Compiled(
        AdapterCache(
            app.url_map,
            server_name=config["SERVER_NAME"],
            subdomain_matching=app.subdomain_matching,
            trusted_hosts=config["TRUSTED_HOSTS"],
        )
    )
    refuse_quart_only(app)
    if isinstance(apps := getattr(app.url_map, "apps", None), WeakSet):
        apps.add(app)  # a rule added to the map from now on compiles again
    interface = app.session_interface
    compiled.eager_sessions = not opens_at_once(interface)
    compiled.saves_always = not compiled.eager_sessions and saves_its_own_way(interface)
    compiled.custom_make_response = overrides(app, "make_response")
    compiled.custom_process_response = overrides(app, "process_response")
    compiled.custom_handle_exception = overrides(app, "handle_exception")
    compiled.str_content_type = _str_content_type(app, compiled)
    specs = app.error_handler_spec.values()
    compiled.error_handlers = (
        any(handlers for by_code in specs for handlers in by_code.values())
        or overrides(app, "handle_user_exception")
        or overrides(app, "handle_http_exception")
    )
    sort_keys = config.get("JSON_SORT_KEYS")
    if sort_keys is not None and isinstance(app.json, DefaultJSONProvider):
        app.json.sort_keys = bool(sort_keys)
    compiled.app_chain = compile_chain(app, compiled, None)
    compiled.websocket_chain = compile_chain(app, compiled, None, websocket=True)
    views: dict[tuple[str, bool], tuple[Any, Chain]] = {}  # an endpoint's rules share
    for rule in app.url_map.iter_rules():
        _rule_endpoint(app, compiled, rule, views)
    # Path -> method -> (rule, endpoint): one lookup pair per request.
    static = compile_static_routes(app.url_map, app.subdomain_matching)
    compiled.static_routes = {
        path: {
            m: (rule, compiled.by_rule.get(id(rule))) for m, rule in by_method.items()
        }
        for path, by_method in static.items()
    }
    compiled.teardown_appcontext = teardown_appcontext_funcs(app)
    compiled.unmemoised = _with_own_converters(app)
    compiled.own_built = frozenset(  # url_for builds these each time
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if id(rule) in compiled.unmemoised or type(rule).build is not WerkzeugRule.build
    )
    _warn_of_unmatched_subdomains(app)
    return compiled


def _missing_view(
    endpoint: str, websocket: bool
) -> Callable[..., Coroutine[Any, Any, Any]]:
    what = "handler" if websocket else "view function"

    async def view(**kwargs: Any) -> Any:
        raise RuntimeError(f"no {what} is registered for endpoint {endpoint!r}")

    return view


def _warn_of_unmatched_subdomains(app: Microframework) -> None:
    # As in Flask 3.1; Quart matches them whenever SERVER_NAME is set: say so.
    url_map = app.url_map
    if app.subdomain_matching or url_map.host_matching:
        return
    default = url_map.default_subdomain
    if unmatched := sorted(
        {
            rule.rule
            for rule in url_map.iter_rules()
            if rule.subdomain not in (None, default)
        }
    ):
        warnings.warn(
            f"routes with a subdomain never match without subdomain_matching=True:"
            f" {', '.join(unmatched)}",
            stacklevel=3,
        )


def _with_own_converters(app: Microframework) -> frozenset[int]:
    own = {
        name
        for name, converter in app.url_map.converters.items()
        if DEFAULT_CONVERTERS.get(name) is not converter
    }
    if not own:
        return frozenset()
    return frozenset(
        id(rule)
        for rule in app.url_map.iter_rules()
        # The host's or subdomain's converters too: a tenant may be deleted.
        if own.intersection(
            name or "default"
            for name in _CONVERTER.findall(f"{rule.host}{rule.subdomain}{rule.rule}")
        )
    )


def _str_content_type(
    app: Microframework, compiled: Compiled
) -> tuple[bytes, bytes] | None:
    cls = app.response_class
    if (
        compiled.custom_make_response
        or cls.__init__ is not Response.__init__
        or cls.asgi_headers is not Response.asgi_headers
        or not cls.automatically_set_content_length
        or cls.default_mimetype is None
    ):
        return None
    content_type = get_content_type(cls.default_mimetype, "utf-8")
    return (b"content-type", content_type.encode("latin-1"))


def refuse_quart_only(app: Microframework) -> None:
    """Refuse an app that sets what only Quart calls (it would be ignored here)."""
    if overrides(app, "wsgi_app"):  # a ported Flask app's: as quietly lost
        raise TypeError(
            f"{type(app).__name__} sets Flask's wsgi_app, which microframework never"
            " calls: override or wrap app.asgi_app instead (docs/porting.md)"
        )
    if unused := [name for name in _QUART_ONLY if overrides(app, name)]:
        raise TypeError(
            f"{type(app).__name__} sets Quart's {', '.join(unused)}, which"
            " microframework never calls: wrap app.asgi_app in middleware (for"
            " proxies, ProxyFixMiddleware) or use hooks and signals (docs/porting.md)"
        )


def overrides(app: Microframework, name: str) -> bool:
    """True if *app*'s method *name* is not ours: set on the instance (quart-schema's
    init_app does), or by the class that defines it first along the MRO."""
    if name in vars(app):
        return True
    for cls in type(app).__mro__:
        if name in vars(cls):
            return cls.__module__ != "microframework.app"
    return False


def teardown_appcontext_funcs(
    app: Microframework,
) -> tuple[Callable[..., Awaitable[Any]], ...]:
    """The ``teardown_appcontext`` functions, last registered first, wrapped as async."""
    return tuple(app.ensure_async(f) for f in reversed(app.teardown_appcontext_funcs))


def compile_chain(
    app: Microframework,
    compiled: Compiled,
    blueprint: str | None,
    websocket: bool = False,
) -> Chain:
    """The hook chain of *blueprint* (``None``: the app), built once and shared."""
    chain = compiled.chains.get((websocket, blueprint))
    if chain is not None:
        return chain
    if websocket:
        before = app.before_websocket_funcs
        after = app.after_websocket_funcs
        teardown = app.teardown_websocket_funcs
    else:
        before = app.before_request_funcs
        after = app.after_request_funcs
        teardown = app.teardown_request_funcs
    inner_first = (*blueprint_path(blueprint), None)
    outer_first = tuple(reversed(inner_first))
    wrap = app.ensure_async
    chain = Chain(
        tuple(f for name in outer_first for f in app.url_value_preprocessors[name]),
        tuple(wrap(f) for name in outer_first for f in before[name]),
        tuple(wrap(f) for name in inner_first for f in reversed(after[name])),
        tuple(wrap(f) for name in inner_first for f in reversed(teardown[name])),
    )
    compiled.chains[(websocket, blueprint)] = chain
    return chain


def chain_for(app: Microframework, ctx: AppContext) -> Chain:
    """The chain of the request or websocket in *ctx* (the app's outside one)."""
    compiled = current_tables(app)
    current = ctx.request or ctx.websocket
    if current is None:
        return compiled.app_chain
    return compile_chain(
        app, compiled, current.blueprint, websocket=ctx.websocket is not None
    )


def match_request(
    compiled: Compiled, ctx: AppContext, request: BaseRequestWebsocket, websocket: bool
) -> Endpoint | None:
    """Bind the adapter for this host and match the path; errors land on the request."""
    host = None
    adapter = None
    for name, value in request.scope["headers"]:
        if name == b"host":
            host = value or None  # empty (granian's for HTTP/1.0): the server's address
            break
    try:
        adapters = compiled.adapters
        adapter = adapters.bound.get((host, request.scheme, request.root_path))
        if adapter is None:
            adapter = adapters.get(
                host, request.scheme, request.root_path, request.server
            )
        ctx.url_adapter = adapter
        if request.routing_exception is not None:
            if request.routing_exception.__class__ is AtMountPoint:
                return _match_mount_point(ctx.app, compiled, adapter, request)
            return None  # outside the root path: no rule, endpoint or hook applies
        if not websocket:
            by_method = compiled.static_routes.get(request.path)
            if by_method is not None:
                found = by_method.get(request.method)
                if found is None:
                    found = by_method.get(_uppercase(request)) or by_method.get(None)
                if found is not None:
                    request.url_rule, endpoint = found
                    request.view_args = {}
                    return endpoint
        key = (adapter, request.path, request.method, websocket)
        hit = compiled.match_cache.get(key)
        if hit is not None:
            rule, args = hit[0], dict(hit[1])
        else:
            if request.method != _uppercase(request):
                key = (adapter, request.path, request.method, websocket)
            rule, args = adapter.match(  # type: ignore[assignment] # a fresh dict
                request.path, request.method, websocket=websocket, return_rule=True
            )
            compiled.remember_match(key, rule, args, host)
    except RequestRedirect:
        if adapter is not None:
            _redirect_with_query(adapter, request, websocket)
        return None
    except HTTPException as error:
        if not isinstance(request.routing_exception, BadRequest):
            # A host refused while binding (400) outranks a path outside the root.
            request.routing_exception = _detached(error)
        return None
    except Exception as error:  # an app's converter failing: the app's 500, as Flask
        request.routing_exception = error  # type: ignore[assignment]
        return None
    request.url_rule = rule
    request.view_args = args
    return compiled.by_rule.get(id(rule)) or _rule_endpoint(ctx.app, compiled, rule)


def _rule_endpoint(
    app: Microframework,
    compiled: Compiled,
    rule: WerkzeugRule,
    views: dict[tuple[str, bool], tuple[Any, Chain]] | None = None,
) -> Endpoint:
    """Compile *rule*: its own OPTIONS and timeout, its endpoint's view and chain
    (shared through *views*). Also for a rule added to ``url_map`` after the first
    request, which Flask and Quart serve (they look the view up per request)."""
    key = (rule.endpoint, bool(rule.websocket))
    shared = None if views is None else views.get(key)
    if shared is None:
        shared = _compile_view(app, compiled, rule)
        if views is not None:
            views[key] = shared
    endpoint = compiled.by_rule[id(rule)] = Endpoint(
        *shared,
        bool(getattr(rule, "provide_automatic_options", False)),
        getattr(rule, "response_timeout", UNSET),
    )
    return endpoint


def _compile_view(
    app: Microframework, compiled: Compiled, rule: WerkzeugRule
) -> tuple[Any, Chain]:
    view = app.view_functions.get(rule.endpoint)
    if view is None:
        # Still an endpoint: its automatic OPTIONS and hooks work, as in Flask.
        view = _missing_view(rule.endpoint, rule.websocket)
    blueprint = rule.endpoint.rpartition(".")[0] if "." in rule.endpoint else None
    func = app.ensure_async(view)
    chain = compile_chain(app, compiled, blueprint, websocket=rule.websocket)
    # Only a sync view's thread is shielded: an override wrapping an async one stays cancellable.
    return func if func is view or is_async_callable(view) else awaiting(func), chain


def _uppercase(request: BaseRequestWebsocket) -> str:
    # ASGI says servers uppercase the method; uvicorn's h11 passes "post" through, and
    # hooks reading request.method must see what routing matched. Done here, on the
    # paths an unusual method takes anyway: upper() on every request costs 1%.
    method = request.method
    if method not in _USUAL_METHODS:
        # The scope too: sending a streamed body reads it (a "head" got the body).
        method = request.method = request.scope["method"] = method.upper()
    return method


def _match_mount_point(
    app: Microframework,
    compiled: Compiled,
    adapter: MapAdapter,
    request: BaseRequestWebsocket,
) -> Endpoint | None:
    # werkzeug's answer for an empty path, as Flask's under werkzeug's dispatcher.
    request.routing_exception = None
    try:
        rule, args = adapter.match("", _uppercase(request), return_rule=True)
    except RequestRedirect:
        _redirect_with_query(adapter, request, False, "")
        return None
    except HTTPException as error:
        request.routing_exception = _detached(error)
        return None
    request.url_rule = rule
    request.view_args = args  # type: ignore[assignment] # werkzeug returns a fresh dict
    return compiled.by_rule.get(id(rule)) or _rule_endpoint(app, compiled, rule)


def _redirect_with_query(
    adapter: MapAdapter,
    request: BaseRequestWebsocket,
    websocket: bool,
    path: str | None = None,
) -> None:
    # Rare: match again with the query string so the redirect keeps it.
    try:
        adapter.match(
            request.path if path is None else path,
            request.method,
            websocket=websocket,
            # werkzeug keeps a str as is.
            query_args=quote(request.query_string, safe=URL_QUERY_SAFE),
        )
    except HTTPException as error:
        request.routing_exception = _detached(error)


def _detached(error: HTTPException) -> HTTPException:
    # Drop the tracebacks: they hold this frame, whose request holds the error, a
    # cycle per 404 left for the garbage collector.
    error.__traceback__ = None
    error.__context__ = None
    return error
