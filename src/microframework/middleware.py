"""ASGI middleware for deployment: ``ProxyFixMiddleware``, for apps behind proxies.

Rule: an ``X-Forwarded-*`` value is believed only as far as the trusted proxies reach
(each appends one, so ``x_for=1`` takes the *last*); an impossible value is ignored. The
server's scope is never changed: a fix goes into a shallow copy (``docs/deploying.md``).
"""

from __future__ import annotations

import re
from typing import Any
from typing import TYPE_CHECKING
from urllib.parse import quote
from urllib.parse import unquote_to_bytes

from ._utils import origin_form

if TYPE_CHECKING:
    from collections.abc import Awaitable
    from collections.abc import Callable

    from .typing import ServerReceive
    from .typing import ServerScope
    from .typing import ServerSend

_NAMES = ("for", "proto", "host", "port", "prefix")
_HEADERS = {f"x-forwarded-{name}".encode(): name for name in _NAMES}
_SECURE = {"https", "wss"}
_DEFAULT_PORTS = {"http": 80, "ws": 80, "https": 443, "wss": 443}


class ProxyFixMiddleware:
    """Rewrite the scope from ``X-Forwarded-*`` headers set by trusted proxies.

    Each argument is how many proxies set that header (0: ignore it).
    """

    def __init__(
        self,
        app: Callable[..., Awaitable[None]],
        x_for: int = 1,
        x_proto: int = 1,
        x_host: int = 0,
        x_port: int = 0,
        x_prefix: int = 0,
    ) -> None:
        values = (x_for, x_proto, x_host, x_port, x_prefix)
        trusted = dict(zip(_NAMES, values, strict=True))
        for name, value in trusted.items():
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"x_{name} must be an int, not {type(value).__name__}")
            if value < 0:
                raise ValueError(f"x_{name} must be 0 or more, not {value}")
        self.app = app
        self.x_for, self.x_proto, self.x_host = x_for, x_proto, x_host
        self.x_port, self.x_prefix = x_port, x_prefix
        # Only the trusted headers are looked at: a request without them pays one scan.
        self._wanted = {head: name for head, name in _HEADERS.items() if trusted[name]}
        self._trusted = trusted

    async def __call__(
        self, scope: ServerScope, receive: ServerReceive, send: ServerSend
    ) -> None:
        """Fix an HTTP or websocket scope, then call the wrapped app."""
        if scope["type"] in ("http", "websocket") and self._wanted:
            scope = self.fix_scope(scope)
        await self.app(scope, receive, send)

    def fix_scope(self, scope: ServerScope) -> ServerScope:
        """Return *scope* rewritten from the trusted headers (*scope* itself if none apply)."""
        found: dict[str, list[str]] = {}
        wanted = self._wanted
        for name, value in scope["headers"]:
            if (key := wanted.get(name)) is not None:
                found.setdefault(key, []).append(value.decode("latin-1"))
        if not found:
            return scope
        values = {k: _trusted_value(v, self._trusted[k]) for k, v in found.items()}
        fixed = dict(scope)
        if client := values.get("for"):
            fixed["client"] = (client, 0)
        proto = (values.get("proto") or "").lower()
        if proto in _DEFAULT_PORTS:
            scheme = "ws" if scope["type"] == "websocket" else "http"
            fixed["scheme"] = f"{scheme}s" if proto in _SECURE else scheme
        _fix_host(fixed, values.get("host"), values.get("port"))
        prefix = values.get("prefix") or ""
        # A path: "//host" (or "/\\host", or a tab, which browsers drop) would make
        # url_for's links and redirects leave for another site.
        if _SAFE_PREFIX.fullmatch(prefix):
            # Header bytes came as latin-1; a path's are UTF-8.
            prefix = prefix.encode("latin-1").decode("utf-8", "replace")
            _fix_prefix(fixed, prefix.rstrip("/"))
        return fixed


_SAFE_PREFIX = re.compile(r"/(?![/\\])[^\\\x00-\x1f\x7f]*")


def _trusted_value(lines: list[str], trusted: int) -> str | None:
    """The value the *trusted*-th proxy from us wrote, or None if there are too few."""
    values = ",".join(lines).split(",")
    return (values[-trusted].strip() or None) if len(values) >= trusted else None


def _fix_host(scope: dict[str, Any], host: str | None, port: str | None) -> None:
    if port is not None and _port_number(port) is None:
        port = None
    if host is None and port is None:
        return
    headers = list(scope["headers"])
    if host is None:
        host = next((v.decode("latin-1") for k, v in headers if k == b"host"), None)
        if host is None:  # the port goes to the server's address, as werkzeug's does
            if port is not None and (server := scope.get("server")) is not None:
                scope["server"] = (server[0], int(port))
            return
    hostname, current_port = _split_host(host)
    if port is not None:
        current_port = int(port)
        if ":" in hostname and not hostname.startswith("["):
            hostname = f"[{hostname}]"  # a bare IPv6 address takes a port in brackets
        host = f"{hostname}:{port}"
    if current_port is None:
        current_port = _DEFAULT_PORTS.get(scope.get("scheme", "http"), 80)
    scope["headers"] = [(k, v) for k, v in headers if k != b"host"]
    scope["headers"].append((b"host", host.encode("latin-1")))
    scope["server"] = (hostname.strip("[]"), current_port)


def _split_host(host: str) -> tuple[str, int | None]:
    """``"example.com:8080"`` -> ``("example.com", 8080)``; IPv6 ``"[::1]:80"`` works."""
    name, sep, port = host.rpartition(":")
    number = _port_number(port) if sep else None
    if number is None:
        return host, None
    if (name.startswith("[") and name.endswith("]")) or ":" not in name:
        return name, number
    return host, None  # a bare IPv6 address: its last group is not a port


def _port_number(text: str) -> int | None:
    # At most five digits: int() of 4,301 raises, and no port is over 65535.
    if 0 < len(text) <= 5 and text.isascii() and text.isdigit():
        number = int(text)
        return number if number <= 65535 else None
    return None


def _without_root(raw_path: bytes, root: str) -> bytes:
    # The raw path spells the root as the client did ("/caf%C3%A9", "/a%2Fb"): drop
    # the whole segments that decode to it; else keep the raw path whole.
    wanted = root.encode()
    end = 0
    while True:
        end = raw_path.find(b"/", end + 1)
        if end == -1:
            end = len(raw_path)
        head = unquote_to_bytes(raw_path[:end])
        if head == wanted:
            return raw_path[end:]
        if len(head) >= len(wanted) or end == len(raw_path):
            return raw_path  # past the root: bounded by the root, not the path


def _fix_prefix(scope: dict[str, Any], prefix: str) -> None:
    # ASGI's path includes root_path: move the old root (if the server included it)
    # out of the path and put the proxy's prefix in front instead.
    old_root = scope.get("root_path", "").rstrip("/")
    path: str = scope["path"]
    raw_path: bytes | None = scope.get("raw_path")
    if path[:1] != "/":  # absolute-form: only its path part goes under the prefix
        try:
            path = origin_form(path, raw_path)
            if raw_path is not None:
                latin = raw_path.decode("latin-1")
                raw_path = origin_form(latin, raw_path).encode("latin-1")
        except ValueError:  # not a URL: the app answers 400
            return
    if old_root and (path == old_root or path.startswith(old_root + "/")):
        path = path[len(old_root) :]
        if raw_path is not None:
            raw_path = _without_root(raw_path, old_root)
    scope["root_path"] = prefix
    scope["path"] = prefix + path
    if raw_path is not None:
        scope["raw_path"] = quote(prefix).encode("ascii") + raw_path
