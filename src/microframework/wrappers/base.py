"""What request and websocket share: URL parts, headers, cookies, routing results.

Rule: built from the ASGI scope without copying it; anything derived from headers is
computed on first access.
"""

from __future__ import annotations

import re
from typing import Any
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl
from weakref import WeakSet

import werkzeug.urls  # noqa: F401 # registers the "werkzeug.url_quote" codec error handler
from werkzeug.datastructures import Accept
from werkzeug.datastructures import Authorization
from werkzeug.datastructures import CharsetAccept
from werkzeug.datastructures import ETags
from werkzeug.datastructures import Headers
from werkzeug.datastructures import HeaderSet
from werkzeug.datastructures import LanguageAccept
from werkzeug.datastructures import MIMEAccept
from werkzeug.datastructures import MultiDict
from werkzeug.datastructures import RequestCacheControl
from werkzeug.exceptions import BadRequest
from werkzeug.exceptions import NotFound
from werkzeug.http import parse_accept_header
from werkzeug.http import parse_cache_control_header
from werkzeug.http import parse_etags
from werkzeug.http import parse_list_header
from werkzeug.http import parse_options_header
from werkzeug.http import parse_set_header
from werkzeug.sansio.request import Request as SansIORequest
from werkzeug.sansio.utils import get_content_length
from werkzeug.utils import cached_property

from .._utils import checked_host
from .._utils import origin_form
from .._utils import remember
from .._utils import TOKEN
from ..conditional import list_field

if TYPE_CHECKING:
    from werkzeug.exceptions import HTTPException
    from werkzeug.routing import Rule
    from werkzeug.routing.exceptions import RequestRedirect

    from ..app import Microframework
    from ..typing import Scope


#: Raw header names to the names requests give (bounded: clients choose them).
_NAMES: dict[bytes, str] = {}
# A media type without parameters or spaces (RFC 9110 8.3.1 tokens).
_BARE_MIMETYPE = re.compile(f"{TOKEN.pattern}/{TOKEN.pattern}")


class AtMountPoint(NotFound):
    """The mount point without its slash ("/app" under the root path "/app"): routing
    matches it as werkzeug matches an empty ``PATH_INFO`` under Flask (a 308 to
    "/app/" for a strict-slash "/" rule), so relative links resolve."""


#: Apps whose ``app.state`` is not their server's lifespan state, because another app
#: served beside them took that dict (a dispatcher gives both one lifespan scope).
OWN_STATE: WeakSet[Microframework] = WeakSet()


class BaseRequestWebsocket(SansIORequest):
    """Fields shared by :class:`Request` and :class:`Websocket`."""

    _app: Microframework | None = None

    #: The rule that matched, set by routing (``None`` when nothing matched).
    url_rule: Rule | None = None
    #: The converted URL arguments of the matched rule.
    view_args: dict[str, Any] | None = None
    #: The error routing raised, re-raised when the view would have run.
    routing_exception: HTTPException | RequestRedirect | None = None
    # Declared for the checkers: __init__ assigns them from the untyped scope, and
    # pyright would otherwise infer Any (werkzeug's __init__, which types them, is skipped).
    method: str
    scheme: str
    server: tuple[str, int | None] | None
    query_string: bytes

    def __init__(self, scope: Scope) -> None:
        self.scope = scope  # no super().__init__(): it wants eager Headers
        # Read on every request: as an instance attribute, 120 instructions sooner.
        self.routing_exception = None
        self.method = scope.get("method", "GET")
        self.scheme = scope.get("scheme", "http")
        self.server = scope.get("server")
        path: str = scope["path"]
        if path[:1] != "/":
            try:
                path = origin_form(path, scope.get("raw_path"))
            except ValueError:  # "http://[::1/x": not a URL (urlsplit says so)
                path, self.routing_exception = "/", BadRequest()
        root_path: str = scope.get("root_path", "")
        if root_path:
            # ASGI: ``path`` includes ``root_path``; a path outside it is a 404.
            stripped = root_path.rstrip("/")
            if path == stripped or path.startswith(stripped + "/"):
                path = path[len(stripped) :]
                if not path:
                    path = "/"
                    if scope["type"] == "http":  # routed as werkzeug routes "" there
                        self.routing_exception = AtMountPoint()
            else:
                self.routing_exception = NotFound()
            root_path = stripped
        self.root_path = root_path
        # RFC 3986 5.2.4, before matching: no dot-segment reaches above the root. Only
        # the client's own slashes make segments: in "..%2fadmin" the server decoded,
        # ".." is part of a name, as a proxy in front saw it, not a step up.
        if "/." in path and b"%2f" not in (scope.get("raw_path") or b"").lower():
            path = remove_dot_segments(path)
        if "//" in path and path[1:2] == "/":  # "in" first: 450 instructions less
            # werkzeug's: "//evil.example/x" is "/evil.example/x", else a redirect
            # built from request.path would leave for another host. After the dots:
            # "/.//evil.example/x" is one too.
            path = "/" + path.lstrip("/")
        self.path = path
        self.query_string = scope["query_string"]

    @cached_property
    def args(self) -> MultiDict[str, str]:
        """The query string's parameters; bytes that are not UTF-8 stay percent-encoded."""
        # werkzeug decodes strict UTF-8, but servers pass other bytes: not a 500.
        return self.parameter_storage_class(
            parse_qsl(
                self.query_string.decode("utf-8", "werkzeug.url_quote"),
                keep_blank_values=True,
                errors="werkzeug.url_quote",
            )
        )

    @property
    def full_path(self) -> str:
        """The path and query string, with bytes that are not UTF-8 percent-encoded."""
        return f"{self.path}?{self.query_string.decode('utf-8', 'werkzeug.url_quote')}"

    @property
    def script_root(self) -> str:
        """``root_path`` under its WSGI name, which Flask and Quart keep."""
        return self.root_path

    @property
    def url_root(self) -> str:
        """``root_url`` under its older name, which Flask and Quart keep."""
        return self.root_url

    @cached_property
    def authorization(self) -> Authorization | None:
        """The parsed ``Authorization`` header; ``None`` if absent or malformed."""
        try:
            return Authorization.from_header(self.headers.get("Authorization"))
        except ValueError:
            # werkzeug raises ValueError for a non-ASCII Basic credential: not a 500.
            return None

    @cached_property
    def host(self) -> str:
        """The host the client asked for, with a non-default port; the server's address
        without a ``Host`` header (HTTP/1.0), or with an empty one: granian passes one
        for an HTTP/1.0 request that sent none."""
        value = self.headers.get("Host") or None
        return checked_host(self.scheme, value, self.server, self.trusted_hosts)

    @cached_property
    def remote_addr(self) -> str | None:
        """The client's address, from the ASGI scope; ``"<local>"`` on a unix socket."""
        client = self.scope.get("client")
        return client[0] if client else "<local>"  # as Quart and werkzeug's server

    @cached_property
    def headers(self) -> Headers:
        """The request headers, decoded as latin-1 on first access."""
        headers = Headers()
        # Skip per-item validation: these come from the server's parser (4x cheaper).
        # Names as Flask's and Quart's: "Content-Type", not the server's "content-type";
        # memoised (title() would cost 60 % more than the rest of this).
        names = _NAMES
        headers._list = [
            (
                names.get(k) or remember(names, k, k.decode("latin-1").title(), len(k)),
                v.decode("latin-1"),
            )
            for k, v in self.scope["headers"]
        ]
        return headers

    # werkzeug's parsed list fields read a header's first line only (so does Quart):
    # these read every line, as Flask's, which a WSGI server joined.

    @cached_property
    def accept_mimetypes(self) -> MIMEAccept:
        """The ``Accept`` header, parsed."""
        return parse_accept_header(list_field(self.headers, "Accept"), MIMEAccept)

    @cached_property
    def accept_charsets(self) -> CharsetAccept:
        """The ``Accept-Charset`` header, parsed."""
        value = list_field(self.headers, "Accept-Charset")
        return parse_accept_header(value, CharsetAccept)

    @cached_property
    def accept_encodings(self) -> Accept:
        """The ``Accept-Encoding`` header, parsed."""
        return parse_accept_header(list_field(self.headers, "Accept-Encoding"))

    @cached_property
    def accept_languages(self) -> LanguageAccept:
        """The ``Accept-Language`` header, parsed."""
        value = list_field(self.headers, "Accept-Language")
        return parse_accept_header(value, LanguageAccept)

    @cached_property
    def cache_control(self) -> RequestCacheControl:
        """The ``Cache-Control`` header, parsed."""
        value = list_field(self.headers, "Cache-Control")
        return parse_cache_control_header(value, None, RequestCacheControl)

    @cached_property
    def if_match(self) -> ETags:
        """The entity-tags of ``If-Match``."""
        return parse_etags(list_field(self.headers, "If-Match"))

    @cached_property
    def if_none_match(self) -> ETags:
        """The entity-tags of ``If-None-Match``."""
        return parse_etags(list_field(self.headers, "If-None-Match"))

    @cached_property
    def pragma(self) -> HeaderSet:
        """The ``Pragma`` header's directives."""
        return parse_set_header(list_field(self.headers, "Pragma"))

    @cached_property
    def access_route(self) -> list[str]:
        """The addresses in ``X-Forwarded-For``, client first, else the peer's."""
        value = list_field(self.headers, "X-Forwarded-For")
        if value is not None:
            return self.list_storage_class(parse_list_header(value))
        if (address := self.remote_addr) is not None:  # (a subclass's may be None)
            return self.list_storage_class([address])
        return self.list_storage_class()

    @cached_property
    def access_control_request_headers(self) -> HeaderSet | None:  # type: ignore[override]
        """A CORS preflight's ``Access-Control-Request-Headers`` (``None`` if absent)."""
        value = list_field(self.headers, "Access-Control-Request-Headers")
        return None if value is None else parse_set_header(value)

    @cached_property
    def content_encoding(self) -> str | None:  # type: ignore[override]
        """The ``Content-Encoding`` header."""
        return list_field(self.headers, "Content-Encoding")

    def raw_header(self, name: bytes) -> str | None:
        """The first value of header *name* (lowercase bytes) straight from the scope."""
        # Cheaper than building Headers for the few headers the framework reads.
        for key, value in self.scope["headers"]:
            if key == name:
                return value.decode("latin-1")  # type: ignore[no-any-return]
        return None

    @cached_property
    def content_type(self) -> str | None:  # type: ignore[override]
        """The ``Content-Type`` header."""
        return self.raw_header(b"content-type")

    @cached_property
    def content_length(self) -> int | None:
        """The ``Content-Length`` header as an int (``None`` if absent or chunked)."""
        declared = self.raw_header(b"content-length")
        chunked = self.raw_header(b"transfer-encoding")
        # Plain digits: werkzeug's answer, 1 us sooner (int() refuses 4,300 digits).
        if (
            chunked is None
            and declared
            and len(declared) < 19
            and declared.isascii()
            and declared.isdigit()
        ):
            return int(declared)
        return get_content_length(
            http_content_length=declared, http_transfer_encoding=chunked
        )

    # None until parsed: a failed hasattr() per read costs more than the parse.
    _parsed_content_type: tuple[str, dict[str, str]] | None = None  # type: ignore[assignment]

    def _parse_content_type(self) -> None:
        if self._parsed_content_type is None:
            content_type = self.content_type or ""
            if _BARE_MIMETYPE.fullmatch(content_type):
                # No parameters: werkzeug's parse gives the same, for 1 us more.
                self._parsed_content_type = (content_type, {})
            else:
                self._parsed_content_type = parse_options_header(content_type)

    @property
    def http_version(self) -> str:
        return self.scope.get("http_version", "1.1")  # type: ignore[no-any-return]

    @cached_property
    def state(self) -> dict[str, Any]:
        """The ASGI lifespan state, shallow-copied by the server into each scope."""
        state: dict[str, Any] = self.scope.setdefault("state", {})
        app = self._app
        if app is not None and app in OWN_STATE:
            state.update(app.state)  # this app's keys over those of the app beside it
        return state

    @property
    def endpoint(self) -> str | None:
        """The endpoint of the matched rule, or ``None``."""
        return self.url_rule.endpoint if self.url_rule is not None else None

    @property
    def blueprint(self) -> str | None:
        """The name of the current blueprint (dotted for nested ones), or ``None``."""
        endpoint = self.endpoint
        if endpoint is not None and "." in endpoint:
            return endpoint.rpartition(".")[0]
        return None

    @property
    def blueprints(self) -> list[str]:
        """The current blueprint and its parents, innermost first."""
        name = self.blueprint
        if name is None:
            return []
        parts = name.split(".")
        return [".".join(parts[:i]) for i in range(len(parts), 0, -1)]


def remove_dot_segments(path: str) -> str:
    """*path* (absolute) with its ``.`` and ``..`` segments resolved, per RFC 3986."""
    segments = path.split("/")[1:]
    out: list[str] = []
    for segment in segments:
        if segment == "..":
            if out:
                out.pop()
        elif segment != ".":
            out.append(segment)
    if segments[-1] in (".", ".."):
        out.append("")  # "/a/b/.." is the directory "/a/"
    return "/" + "/".join(out)
