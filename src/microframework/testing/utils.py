"""Builders for test requests: headers, path and query string, body, and the ASGI scope.

Rule: pure functions of their arguments and the app's config; they never run the app.
The scope is what a server would send (``path`` decoded, ``raw_path`` as sent).
"""

from __future__ import annotations

import dataclasses
import json as _json
import os
from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import MutableMapping
from typing import Any
from typing import cast
from typing import IO
from typing import Protocol
from typing import TYPE_CHECKING
from urllib.parse import quote
from urllib.parse import unquote
from urllib.parse import urlencode
from urllib.parse import urlsplit
from urllib.parse import urlunsplit

from werkzeug.datastructures import Authorization
from werkzeug.datastructures import FileStorage
from werkzeug.datastructures import Headers
from werkzeug.datastructures import MultiDict
from werkzeug.test import encode_multipart
from werkzeug.urls import iri_to_uri

from ..typing import Receive
from ..typing import Scope
from ..typing import Send
from ..wrappers.response import Response

if TYPE_CHECKING:
    from ..app import Microframework
    from ..ctx import AppContext

#: Marks "no JSON given", since ``None`` is a valid JSON body (``null``).
sentinel: Any = object()


async def no_op_push(path: str, headers: Headers) -> None:
    """A server push that pushes nothing: Quart's ``send_push_promise`` for tests."""


#: Scope extension by which the test client asks to keep a request's context.
PRESERVE_CONTEXT = "microframework.preserve_context"

_CLIENT_ADDRESS = ("127.0.0.1", 49152)  # fixed, but it must look like a real peer
# Kept as is in ``raw_path``: RFC 3986 pchar and "/", plus "%" so that an encoded path
# is sent as given.
_PATH_SAFE = "/%:@!$&'()*+,;=~"
_QUERY_SAFE = _PATH_SAFE + "?"

HeadersArg = Headers | Mapping[str, Any] | Iterable[tuple[str, Any]]
QueryArg = Mapping[str, Any] | Iterable[tuple[str, Any]] | str | bytes
FileArg = FileStorage | IO[bytes] | tuple[IO[bytes], str] | tuple[IO[bytes], str, str]


class _JSONDumper(Protocol):
    def dumps(self, obj: Any, **kwargs: Any) -> str: ...
    def loads(self, s: str | bytes, **kwargs: Any) -> Any: ...


class SupportsTestClient(Protocol):
    """What the test client needs from an app: ASGI call, config, JSON, responses."""

    @property
    def response_class(self) -> type[Response]: ...
    @property
    def config(self) -> Mapping[str, Any]: ...
    @property
    def json(self) -> _JSONDumper: ...
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None: ...


def make_test_headers_path_and_query_string(
    app: SupportsTestClient,
    path: str,
    headers: HeadersArg | None = None,
    query_string: QueryArg | None = None,
    auth: Authorization | tuple[str, str] | None = None,
    subdomain: str | None = None,
) -> tuple[Headers, str, bytes]:
    """Split *path* from its query string and build the request headers.

    A query string in *path* comes before *query_string*. ``Host`` defaults to
    ``SERVER_NAME`` (or ``localhost``) prefixed by *subdomain*.
    """
    request_headers = Headers(headers) if headers is not None else Headers()
    host = app.config.get("SERVER_NAME") or "localhost"
    host = ascii_host(f"{subdomain}.{host}" if subdomain else host)
    request_headers.setdefault("Host", host)
    request_headers.setdefault("User-Agent", "microframework")  # as clients send one
    if auth is not None:
        request_headers["Authorization"] = _authorization(auth).to_header()
    path, _, query = path.partition("#")[0].partition("?")
    if query_string is not None:
        extra = _encode_query(query_string)
        query = f"{query}&{extra}" if query and extra else query or extra
    return request_headers, path, quote_query_string(query)


def make_test_body_with_headers(
    *,
    data: str | bytes | None = None,
    form: Mapping[str, Any] | None = None,
    files: Mapping[str, FileArg | list[FileArg]] | None = None,
    json: Any = sentinel,
    app: SupportsTestClient | None = None,
) -> tuple[bytes, Headers]:
    """Encode a request body from one of *data*, *form* (with *files*) or *json*.

    Returns the body and its ``Content-Type``/``Content-Length`` headers (none without a
    body). JSON goes through ``app.json`` when an app is passed.
    """
    present = {"data": data, "form": form, "files": files if form is None else None}
    given = [name for name, value in present.items() if value is not None]
    if json is not sentinel:
        given.append("json")
    if len(given) > 1:
        raise ValueError(f"give only one request body; got {' and '.join(given)}")
    headers = Headers()
    if isinstance(data, str | bytes):
        body = data.encode() if isinstance(data, str) else data
    elif data is not None:
        raise TypeError(
            f"data must be str or bytes, not {type(data).__name__}; pass a form"
            " as form= (Flask's data={...}), and JSON as json="
        )
    elif json is not sentinel:
        dumped = cast(  # (an orjson provider's is bytes)
            "str | bytes",
            app.json.dumps(json) if app is not None else _json.dumps(json),
        )
        body = dumped if isinstance(dumped, bytes) else dumped.encode()
        headers["Content-Type"] = "application/json"
    elif files is not None:
        opened: list[IO[bytes]] = []
        try:
            boundary, body = encode_multipart(
                _multipart_fields(form or {}, files, opened)
            )
        finally:
            for file in opened:  # Flask's files={"f": open(path, "rb")}: read, closed
                file.close()
        headers["Content-Type"] = f"multipart/form-data; boundary={boundary}"
    elif form is not None:
        body = urlencode(_pairs(form)).encode("ascii")
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    else:
        return b"", headers
    headers["Content-Length"] = str(len(body))
    return body, headers


def make_test_scope(
    type_: str,
    path: str,
    method: str,
    headers: Headers,
    query_string: bytes,
    scheme: str = "http",
    root_path: str = "",
    http_version: str = "1.1",
    scope_base: Mapping[str, Any] | None = None,
    *,
    _preserve_context: bool = False,
) -> Scope:
    """Build the ASGI scope a server sends for an ``http`` or ``websocket`` request.

    *path* is the whole path, *root_path* included, as in the ASGI scope (and in
    Quart's client): a path outside *root_path* gets a 404. *scope_base* is merged last.
    """
    if type_ not in ("http", "websocket"):
        raise ValueError(f"type_ must be 'http' or 'websocket', not {type_!r}")
    raw_path = quote(path, safe=_PATH_SAFE)
    port = 443 if scheme in ("https", "wss") else 80
    scope: Scope = {
        "type": type_,
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": http_version,
        "scheme": scheme,
        "path": unquote(raw_path),
        "raw_path": raw_path.encode("ascii"),
        "query_string": query_string,
        "root_path": root_path,
        "headers": [
            (key.lower().encode("latin-1"), _header_bytes(value))
            for key, value in headers.items()
        ],
        "client": _CLIENT_ADDRESS,
        "server": ("localhost", port),
        "extensions": {},
    }
    if type_ == "http":
        scope["method"] = method
    if _preserve_context:  # the test wants the request context kept after the request
        scope["extensions"][PRESERVE_CONTEXT] = {}
    if scope_base is not None:
        scope.update(scope_base)
    return scope


def quote_query_string(query: str) -> bytes:
    """The query string as sent: characters outside URLs are percent-encoded."""
    return quote(query, safe=_QUERY_SAFE).encode("ascii")


def _authorization(auth: Authorization | tuple[str, str]) -> Authorization:
    if isinstance(auth, Authorization):
        return auth
    if isinstance(auth, tuple) and len(auth) == 2:
        return Authorization("basic", {"username": auth[0], "password": auth[1]})
    raise TypeError(
        f"auth must be an Authorization or a (username, password) tuple, not {auth!r}"
    )


def _pairs(
    values: Mapping[str, Any] | Iterable[tuple[str, Any]],
) -> list[tuple[str, str | bytes]]:
    """Flatten a mapping (list values repeat the key) or pairs into string pairs;
    ``None`` values are left out, as werkzeug's test client does. ``bytes`` stay
    bytes, which ``urlencode`` percent-encodes as given (as Flask's and Quart's do)."""
    if isinstance(values, Mapping):  # a MultiDict's items() would drop repeats
        values = MultiDict(values).items(multi=True)
    return [
        (key, item if isinstance(item, str | bytes) else str(item))
        for key, value in values
        for item in (value if isinstance(value, list | tuple) else (value,))
        if item is not None
    ]


def ascii_host(netloc: str) -> str:
    """*netloc* as clients send it in ``Host`` (and Flask's client): an IDN in Punycode."""
    return netloc if netloc.isascii() else iri_to_uri(f"//{netloc}")[2:]


def _header_bytes(value: str) -> bytes:
    # Latin-1 round-trips through the app's decoding; beyond it, UTF-8 as Quart sends.
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode()


def _encode_query(query_string: QueryArg) -> str:
    if isinstance(query_string, bytes):  # sent as given: other bytes percent-encoded
        return quote(query_string, safe=_QUERY_SAFE)
    if isinstance(query_string, str):
        return query_string
    return urlencode(_pairs(query_string))


def _multipart_fields(
    form: Mapping[str, Any],
    files: Mapping[str, FileArg | list[FileArg]],
    opened: list[IO[bytes]],
) -> MultiDict[str, Any]:
    """The fields to encode; the bare files given go in *opened*, for the caller to
    close."""
    fields: MultiDict[str, Any] = MultiDict(
        (_html_escape(key), v.decode("utf-8", "replace") if isinstance(v, bytes) else v)
        for key, v in _pairs(form)
    )
    for key, value in files.items():
        for item in value if isinstance(value, list) else (value,):
            if isinstance(item, tuple) and len(item) in (2, 3):
                stream, name, *type_ = item
                item = FileStorage(stream, name, content_type=next(iter(type_), None))
            elif not isinstance(item, FileStorage) and hasattr(item, "read"):
                file = cast("IO[bytes]", item)
                opened.append(file)
                path = getattr(file, "name", None)  # an int for os.fdopen's
                # "", not None: FileStorage would read the name, int or not, itself.
                item = FileStorage(
                    file, os.path.basename(path) if isinstance(path, str) else ""
                )
            elif not isinstance(item, FileStorage):
                raise TypeError(
                    f"files[{key!r}] must be a FileStorage, a file or a"
                    " (file, filename[, content_type]) tuple"
                )
            if (
                item.filename
                and (escaped := _html_escape(item.filename)) != item.filename
            ):
                # A copy: the caller's FileStorage keeps its name.
                item = FileStorage(
                    item.stream, escaped, content_type=item.content_type,
                    headers=item.headers,
                )  # fmt: skip
            fields.add(_html_escape(key), item)
    return fields


def _html_escape(name: str) -> str:
    """A multipart field name or filename as browsers send it (the HTML standard's
    multipart/form-data encoding): LF, CR and '"' percent-encoded."""
    return name.replace("\n", "%0A").replace("\r", "%0D").replace('"', "%22")


@dataclasses.dataclass(frozen=True, slots=True)
class PreparedRequest:
    """One request, kept whole so that the client can send it again on a redirect."""

    method: str
    scheme: str
    root_path: str
    path: str
    query_string: bytes
    headers: Headers
    body: bytes
    http_version: str
    scope_base: Mapping[str, Any] | None

    def scope(self, type_: str, headers: Headers) -> Scope:
        """The scope of this request sent as *type_* with *headers*."""
        where = (self.path, self.method, headers, self.query_string, self.scheme)
        return make_test_scope(
            type_, *where, self.root_path, self.http_version, self.scope_base
        )


def make_test_request(
    app: SupportsTestClient,
    path: str,
    *,
    method: str = "GET",
    headers: HeadersArg | None = None,
    data: str | bytes | None = None,
    form: Mapping[str, Any] | None = None,
    files: Mapping[str, FileArg | list[FileArg]] | None = None,
    query_string: QueryArg | None = None,
    json: Any = sentinel,
    scheme: str = "http",
    root_path: str = "",
    http_version: str = "1.1",
    scope_base: Mapping[str, Any] | None = None,
    auth: Authorization | tuple[str, str] | None = None,
    subdomain: str | None = None,
) -> PreparedRequest:
    """The request the test client's ``open`` arguments describe."""
    if path.startswith(("http://", "https://", "ws://", "wss://")):
        url = urlsplit(path)  # as Flask's client: the URL's scheme and host are used
        scheme, path = url.scheme, urlunsplit(("", "", url.path or "/", url.query, ""))
        headers = Headers(headers or ())
        # No userinfo in Host (as Quart's client, and every real one, send it)
        headers.setdefault("Host", ascii_host(url.netloc.rpartition("@")[2]))
    headers, path, query = make_test_headers_path_and_query_string(
        app, path, headers, query_string, auth, subdomain
    )
    body, body_headers = make_test_body_with_headers(
        data=data, form=form, files=files, json=json, app=app
    )
    for name in ("Content-Type", "Content-Length"):
        if name in headers:
            body_headers.remove(name)  # the caller's choice wins (a declared size)
    headers.update(body_headers)
    return PreparedRequest(
        method, scheme, root_path, path, query, headers, body, http_version, scope_base
    )


def make_test_request_context(
    app: Microframework, path: str, **kwargs: Any
) -> AppContext:
    """A request context for a made-up request: ``app.test_request_context``.

    Quart's ``send_push_promise(path, headers)`` is called for each push."""
    push = kwargs.pop("send_push_promise", None)
    request = make_test_request(app, path, **kwargs)
    scope = request.scope("http", request.headers)
    body = iter([{"type": "http.request", "body": request.body, "more_body": False}])

    async def receive() -> dict[str, Any]:
        return next(body, {"type": "http.disconnect"})

    made = app.request_class(scope, receive, app)
    if push is not None:
        scope.setdefault("extensions", {})["http.response.push"] = {}

        async def send(message: MutableMapping[str, Any]) -> None:
            pushed = [
                (k.decode("latin-1"), v.decode("latin-1"))
                for k, v in message["headers"]
            ]
            await push(message["path"], Headers(pushed))

        made.asgi_send = send
    return app.request_context(made)
