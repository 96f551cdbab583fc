"""URL rules, the map, and a bounded cache of bound adapters.

Binding costs microseconds, so adapters are cached per ``(host, scheme, root_path)``;
``Host`` is client-controlled, so the cache is bounded and untrusted hosts never enter.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any
from typing import TYPE_CHECKING
from weakref import WeakSet

from werkzeug.exceptions import NotFound
from werkzeug.routing import Map as WerkzeugMap
from werkzeug.routing import MapAdapter
from werkzeug.routing import Rule as WerkzeugRule

from ._utils import checked_host
from ._utils import MEMO_KEY_SIZE
from ._utils import remember
from ._utils import to_uri

if TYPE_CHECKING:
    from .app import Microframework
    from .wrappers.base import BaseRequestWebsocket

#: Marks "no per-route value": the app's config applies.
UNSET: Any = object()


class Rule(WerkzeugRule):
    """A werkzeug ``Rule`` with the framework's per-route options."""

    def __init__(
        self,
        string: str,
        *,
        provide_automatic_options: bool = False,
        response_timeout: float | None = UNSET,
        **kwargs: Any,
    ) -> None:
        if response_timeout is not UNSET and response_timeout is not None:
            if isinstance(response_timeout, bool) or not isinstance(
                response_timeout, (int, float)
            ):
                raise TypeError(
                    f"response_timeout for {string!r} must be a number of seconds or None,"
                    f" not {type(response_timeout).__name__}"
                )
            if response_timeout <= 0:
                raise ValueError(f"response_timeout for {string!r} must be positive")
        super().__init__(string, **kwargs)
        self.provide_automatic_options = provide_automatic_options
        #: Seconds a suspended view may run; ``UNSET`` means ``RESPONSE_TIMEOUT``.
        self.response_timeout = response_timeout


class Map(WerkzeugMap):
    """The URL map; ``url_map.converters`` takes custom converters."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: The apps that compiled this map: a rule added after their first request
        #: compiles their tables again (matches memoised, static routes): Flask and
        #: Quart, which match against the map per request, serve it.
        self.apps: WeakSet[Any] = WeakSet()

    def add(self, rulefactory: Any) -> None:
        super().add(rulefactory)
        for app in list(getattr(self, "apps", ())):
            app.view_functions.recompile()


# Quart's QuartRule and QuartMap, after the documented rename (docs/porting.md).
MicroframeworkRule = Rule
MicroframeworkMap = Map


class AdapterCache:
    """Bound ``MapAdapter`` objects keyed by the raw request target's host parts."""

    __slots__ = ("_map", "bound", "_maxsize", "_trusted", "_server_name", "_subdomains")

    def __init__(
        self,
        url_map: Map,
        *,
        server_name: str | None,
        subdomain_matching: bool,
        trusted_hosts: Iterable[str] | None,
        maxsize: int = 256,
    ) -> None:
        self._map = url_map
        #: By (host header, scheme, root path); the request path calls get() on a miss.
        self.bound: dict[tuple[bytes | None, str, str], MapAdapter] = {}
        self._maxsize = maxsize
        if isinstance(trusted_hosts, str):  # one host, as werkzeug takes it
            trusted_hosts = [trusted_hosts]
        self._trusted = list(trusted_hosts) if trusted_hosts is not None else None
        if server_name and not server_name.isascii():  # an IDN: Hosts come in Punycode
            server_name = to_uri(f"//{server_name}")[2:]
        self._server_name = server_name
        self._subdomains = subdomain_matching  # no SERVER_NAME: the Host's subdomain ""

    def get(
        self,
        host_header: bytes | None,
        scheme: str,
        root_path: str,
        server: tuple[str, int | None] | None,
    ) -> MapAdapter:
        """Return the adapter for this host, binding (and checking the host) on a miss."""
        # Strips default ports; a host not in TRUSTED_HOSTS is a SecurityError (400).
        raw = None if host_header is None else host_header.decode("latin-1")
        host = checked_host(scheme, raw, server, self._trusted)
        adapter = self._bind(host, scheme, root_path or "/")
        if host_header is None or len(host_header) > MEMO_KEY_SIZE:
            # The host came from the scope's server, which the key lacks (HTTP/1.0),
            # or is longer than any name: kept, 256 of them would pin 2x their size.
            return adapter
        if len(self.bound) >= self._maxsize:
            self.bound.clear()
        self.bound[(host_header, scheme, root_path)] = adapter
        return adapter

    def _bind(self, host: str, scheme: str, script_name: str) -> MapAdapter:
        url_map = self._map
        if url_map.host_matching:
            return url_map.bind(host, script_name, url_scheme=scheme)
        # get_host dropped a default port but kept the case: hosts are case-insensitive
        server_name = host.lower()
        if self._server_name:  # as werkzeug's bind_to_environ takes it (and Flask)
            default = ":443" if scheme in ("https", "wss") else ":80"
            server_name = self._server_name.lower().removesuffix(default)
        if not self._subdomains:
            # As Flask: any host is served, but URLs are built for SERVER_NAME, so
            # a forged Host header can't reach an external URL (a reset link, say).
            subdomain = url_map.default_subdomain or ""
            return url_map.bind(
                server_name, script_name, subdomain=subdomain, url_scheme=scheme
            )
        inside = _subdomain_of(host.lower(), server_name)
        adapter = url_map.bind(
            server_name, script_name, subdomain=inside or "", url_scheme=scheme
        )
        if inside is None:
            # Outside SERVER_NAME: werkzeug's "<invalid>" subdomain would still match
            # a "<tenant>" rule, so this adapter matches nothing (it can still build).
            adapter.__class__ = _ForeignHostAdapter
        return adapter


def _subdomain_of(host: str, server_name: str) -> str | None:
    if host == server_name:
        return ""
    suffix = "." + server_name
    if host.endswith(suffix):
        return host[: -len(suffix)]
    return None


class _ForeignHostAdapter(MapAdapter):
    """The adapter of a host outside ``SERVER_NAME``: every path is a 404."""

    def match(self, *args: Any, **kwargs: Any) -> Any:
        raise NotFound()


def compile_static_routes(
    url_map: Map, subdomain_matching: bool = False
) -> dict[str, dict[str | None, WerkzeugRule]]:
    """Exact-path lookup for HTTP rules without arguments, tried before the matcher.

    Only rules matched by path and method alone qualify (never with host or subdomain
    matching); the matcher answers the rest (405, redirects, websockets). It too
    prefers static parts, so answers agree.
    """
    if url_map.host_matching or subdomain_matching:
        return {}
    # Per path, method -> the first rule allowing it (werkzeug's order); None: any.
    table: dict[str, dict[str | None, WerkzeugRule]] = {}
    for rule in url_map.iter_rules():
        if (
            rule.arguments
            or rule.websocket
            or rule.defaults
            or rule.redirect_to is not None
            or rule.alias
            or rule.subdomain
            or rule.host
            or rule.build_only
            or (rule.merge_slashes and "//" in rule.rule)  # werkzeug redirects it
        ):
            continue
        by_method = table.setdefault(rule.rule, {})
        if None in by_method:
            continue  # an earlier rule takes every method: this one never matches
        if rule.methods is None:
            by_method[None] = rule
        for method in rule.methods or ():
            by_method.setdefault(method, rule)
    return table


def build_url(
    app: Microframework,
    adapter: MapAdapter,
    current: BaseRequestWebsocket | None,
    endpoint: str,
    values: dict[str, Any],
    method: str | None,
    scheme: str | None,
    external: bool,
) -> str:
    """``adapter.build(...)`` for ``url_for``. In a request (*current*), the adapter is
    the one shared per host, bound for GET: with no *method*, Flask's and Quart's,
    bound to the request, build its method's rule first, so a copy does. There the URL
    is memoised: a build costs tens of microseconds, and a page has dozens of links."""
    compiled = app.compiled
    key = None
    if current is not None:  # tables or not (a test request context before them)
        if compiled is not None and endpoint not in compiled.own_built:  # see Compiled
            options = (adapter, current.method, endpoint, method, scheme, external)
            sorting = (adapter.map.sort_parameters, adapter.map.sort_key)  # per build
            key = _build_key(options + sorting, values)
            if key is not None and (built := compiled.built.get(key)) is not None:
                return built
        if method is None and current.method != adapter.default_method:
            adapter = copy.copy(adapter)
            adapter.default_method = current.method
    rv: str = adapter.build(
        endpoint, values, method=method, url_scheme=scheme, force_external=external
    )
    if key is not None:
        remember(compiled.built, key, rv)  # type: ignore[union-attr]
    return rv


def _build_key(
    options: tuple[Any, ...], values: dict[str, Any]
) -> tuple[Any, ...] | None:
    # Only str and int values (True == 1, and another type's text may change), in
    # their order (the query string's), not too long (they are the client's), and
    # not through an adapter the cache would not keep (its Host is the client's).
    key = list(options)
    adapter: MapAdapter = options[0]
    size = len(options[2]) + len(adapter.server_name) + len(adapter.subdomain or "")
    for name, value in values.items():  # names too: **request.args is the client's
        kind = value.__class__
        if kind is str:
            size += len(name) + len(value)
        elif kind is int:
            size += len(name)
        else:
            return None
        key += (name, value)
    return tuple(key) if size <= MEMO_KEY_SIZE else None
