"""``MicroframeworkClient``: send requests to an app in-process, as a server would.

Rule: each request is a real ASGI exchange with the app in its own task. The client adds
only what a user agent adds (``Host``, cookies, redirects); its only state is the jar.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import weakref
from base64 import b64encode
from collections.abc import AsyncIterator
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Mapping
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any
from typing import Self
from typing import TYPE_CHECKING
from typing import TypedDict
from typing import Unpack
from urllib.parse import urljoin
from urllib.parse import urlsplit

from werkzeug.datastructures import Authorization
from werkzeug.datastructures import Headers
from werkzeug.http import dump_cookie
from werkzeug.http import parse_list_header
from werkzeug.test import Cookie

from .._responses import call_session_method
from ..globals import _cv_app
from ..signals import request_finished
from ..wrappers.response import Response
from .connections import TestHTTPConnection
from .connections import TestWebsocketConnection
from .cookies import CookieJar
from .cookies import CookieJarView
from .cookies import parse_set_cookie
from .cookies import secure_for
from .utils import ascii_host
from .utils import FileArg
from .utils import HeadersArg
from .utils import make_test_request
from .utils import PreparedRequest
from .utils import PRESERVE_CONTEXT
from .utils import QueryArg
from .utils import quote_query_string
from .utils import sentinel

if TYPE_CHECKING:
    from ..app import Microframework
    from ..ctx import AppContext
    from ..sessions import SessionMixin
    from ..typing import Scope

_REDIRECT_CODES = frozenset({301, 302, 303, 305, 307, 308})
_MAX_REDIRECTS = 20
_BODY_PART = 65536
# Fills the body options for requests without one, so that passing one is a TypeError.
_NO_BODY: dict[str, Any] = {"data": None, "form": None, "files": None, "json": sentinel}


class _URLOptions(TypedDict, total=False):
    headers: HeadersArg | None
    query_string: QueryArg | None
    scheme: str
    root_path: str
    http_version: str
    scope_base: Mapping[str, Any] | None
    auth: Authorization | tuple[str, str] | None
    subdomain: str | None


class _RequestOptions(_URLOptions, total=False):
    data: str | bytes | None
    form: Mapping[str, Any] | None
    files: Mapping[str, FileArg | list[FileArg]] | None
    json: Any


class _OpenOptions(_RequestOptions, total=False):
    follow_redirects: bool


class RequestContextOptions(_RequestOptions, total=False):
    """``app.test_request_context``'s keywords, so that a misspelt one is a type error."""

    method: str
    send_push_promise: Callable[[str, Headers], Awaitable[None]]


_in_blocks: ContextVar[tuple[MicroframeworkClient, ...]] = ContextVar(
    "microframework.test_clients_in_blocks", default=()
)


class MicroframeworkClient:
    """An async test client: ``await client.get("/")`` returns the app's response."""

    http_connection_class = TestHTTPConnection
    websocket_connection_class = TestWebsocketConnection

    def __init__(self, app: Microframework, use_cookies: bool = True) -> None:
        self.app = app
        self._cookies: CookieJar | None = CookieJar() if use_cookies else None
        self._preserving = False
        self._outer: AppContext | None = None
        self._enclosing: list[MicroframeworkClient] = []
        # The context kept for each contextvars context (the block's, a task's, the
        # copy pytest-asyncio runs a test in): each request replaces its own.
        self._kept_here: ContextVar[AppContext | None] = ContextVar(
            "microframework.test_client_kept", default=None
        )
        #: ``http.response.push`` promises the app made (``http_version`` "2" or "3").
        self.push_promises: list[tuple[str, Headers]] = []
        #: The lifespan state (``app.test_app()`` sets it): each request's scope gets
        #: a copy as its ``state``, as a server gives it.
        self.lifespan_state: dict[str, Any] | None = None
        # The request behind each response _make_request returned, for its redirects.
        self._sent: weakref.WeakKeyDictionary[Response, PreparedRequest] = (
            weakref.WeakKeyDictionary()
        )

    @property
    def cookie_jar(self) -> CookieJarView | None:
        """Quart's ``cookie_jar``: the stored cookies; ``None`` with ``use_cookies=False``."""
        return None if self._cookies is None else CookieJarView(self._cookies)

    async def __aenter__(self) -> Self:
        """Keep each request's context after it, as ``with client:`` does in Flask."""
        if self._preserving:
            raise RuntimeError("Cannot nest client invocations")  # as Flask and Quart
        self._preserving = True
        self._outer = _cv_app.get(None)  # a fixture's app context, say
        # Other clients whose blocks enclose this one: a context they keep may be
        # under ours, as it is popped only after our block ends.
        self._enclosing = [c for c in _in_blocks.get() if c is not self]
        _in_blocks.set((*_in_blocks.get(), self))
        request_finished.connect(self._keep_context, sender=self.app)
        return self

    def _keeps(self) -> bool:
        # Not on top of a context the test pushed inside the block: leaving that
        # would find ours active ("popped a context that is not the active one").
        active = _cv_app.get(None)
        if active in (self._outer, self._kept_here.get()):
            return True
        return active is not None and any(
            active is client._kept_here.get() for client in self._enclosing
        )

    async def __aexit__(self, *exc_info: object) -> None:
        self._preserving = False
        _in_blocks.set(tuple(c for c in _in_blocks.get() if c is not self))
        request_finished.disconnect(self._keep_context, sender=self.app)
        await self._drop_preserved()

    def _keep_context(self, sender: object, **kwargs: object) -> None:
        # Runs in the app's task, before teardown: only requests this client marked.
        if (ctx := _cv_app.get(None)) is not None and ctx.request is not None:
            box = ctx.request.scope["extensions"].get(PRESERVE_CONTEXT)
            if isinstance(box, dict) and box.get("client") is self:
                box["ctx"] = ctx.copy()

    async def _drop_preserved(self) -> None:
        # Only the one pushed in this contextvars context: one inherited by a task
        # (or by a test from its fixture) stays where it was pushed.
        ctx = self._kept_here.get()
        if ctx is not None and ctx.pushed_here():
            self._kept_here.set(None)
            await ctx.pop()

    async def open(
        self,
        path: str = "/",
        *,
        method: str = "GET",
        follow_redirects: bool = False,
        **options: Unpack[_RequestOptions],
    ) -> Response:
        """Send a request and return the whole response; the app's errors propagate."""
        self.push_promises = []  # this request's, as in Quart
        if unknown := options.keys() - _RequestOptions.__optional_keys__:
            raise TypeError(
                f"open() got unexpected keyword arguments {sorted(unknown)}"
            )
        response = await self._make_request(
            path,
            method,
            options.get("headers"),
            options.get("data"),
            options.get("form"),
            options.get("files"),
            options.get("query_string"),
            options.get("json", sentinel),
            options.get("scheme", "http"),
            options.get("root_path", ""),
            options.get("http_version", "1.1"),
            options.get("scope_base"),
            options.get("auth"),
            options.get("subdomain"),
        )
        request: PreparedRequest | None = None
        hops = 0
        while follow_redirects and response.status_code in _REDIRECT_CODES:
            if (location := response.headers.get("Location")) is None:
                break
            if (hops := hops + 1) > _MAX_REDIRECTS:
                raise RuntimeError(
                    f"more than {_MAX_REDIRECTS} redirects, last to {location!r}"
                )
            # Not in _sent: an override answered itself, so redirect what it was asked.
            request = _pop(self._sent, response) or request
            request = request or make_test_request(
                self.app, path, method=method, **options
            )
            request = self._redirected(request, response.status_code, location)
            response = await self._make_request(*_hop_arguments(request))  # as Quart
        return response

    async def get(self, path: str = "/", **kwargs: Unpack[_OpenOptions]) -> Response:
        """Send a GET request; see :meth:`open`."""
        return await self.open(path, method="GET", **kwargs)

    async def post(self, path: str = "/", **kwargs: Unpack[_OpenOptions]) -> Response:
        """Send a POST request; see :meth:`open`."""
        return await self.open(path, method="POST", **kwargs)

    async def put(self, path: str = "/", **kwargs: Unpack[_OpenOptions]) -> Response:
        """Send a PUT request; see :meth:`open`."""
        return await self.open(path, method="PUT", **kwargs)

    async def delete(self, path: str = "/", **kwargs: Unpack[_OpenOptions]) -> Response:
        """Send a DELETE request; see :meth:`open`."""
        return await self.open(path, method="DELETE", **kwargs)

    async def patch(self, path: str = "/", **kwargs: Unpack[_OpenOptions]) -> Response:
        """Send a PATCH request; see :meth:`open`."""
        return await self.open(path, method="PATCH", **kwargs)

    async def head(self, path: str = "/", **kwargs: Unpack[_OpenOptions]) -> Response:
        """Send a HEAD request; see :meth:`open`."""
        return await self.open(path, method="HEAD", **kwargs)

    async def options(
        self, path: str = "/", **kwargs: Unpack[_OpenOptions]
    ) -> Response:
        """Send an OPTIONS request; see :meth:`open`."""
        return await self.open(path, method="OPTIONS", **kwargs)

    async def trace(self, path: str = "/", **kwargs: Unpack[_OpenOptions]) -> Response:
        """Send a TRACE request; see :meth:`open`."""
        return await self.open(path, method="TRACE", **kwargs)

    def request(
        self, path: str, *, method: str = "GET", **options: Unpack[_URLOptions]
    ) -> TestHTTPConnection:
        """Open a streaming exchange: ``async with client.request(path) as conn:``."""
        request = self._prepare(path, method, options)
        headers = self._with_cookies(request)
        framed = "Content-Length" in headers or "Transfer-Encoding" in headers
        if (
            not framed
            and method not in ("GET", "HEAD")
            and request.http_version.startswith("1")
        ):
            # Sent in chunks, framed as a real client would: HTTP/1.1 without framing
            # headers has no body, and the app would be right to ignore one.
            headers["Transfer-Encoding"] = "chunked"
        scope = self._with_state(request.scope("http", headers))
        return self.http_connection_class(self.app, scope)

    def websocket(
        self,
        path: str,
        *,
        subprotocols: Iterable[str] | None = None,
        **options: Unpack[_URLOptions],
    ) -> TestWebsocketConnection:
        """Open a websocket session: ``async with client.websocket(path) as ws:``.

        The scope offers ``websocket.http.response``, as hypercorn's does.
        """
        scheme = options.setdefault("scheme", "ws")
        if scheme not in ("ws", "wss"):
            raise ValueError(f"scheme must be 'ws' or 'wss', not {scheme!r}")
        if isinstance(subprotocols, str):
            raise TypeError("subprotocols must be a list of strings, not a str")
        offered = list(subprotocols or ())
        scope_base = options.pop("scope_base", None)
        request = self._prepare(path, "GET", options)
        if offered:
            request.headers.setdefault("Sec-WebSocket-Protocol", ", ".join(offered))
        else:  # offered in the header, as on the wire: a server reads it from there
            values = request.headers.getlist("Sec-WebSocket-Protocol")
            offered = [token for value in values for token in parse_list_header(value)]
        headers = request.headers  # as a browser's handshake, which servers pass on
        if request.http_version.startswith("1"):  # HTTP/2's CONNECT has none of these
            headers.setdefault("Upgrade", "websocket")
            headers.setdefault("Connection", "Upgrade")
            headers.setdefault("Sec-WebSocket-Key", b64encode(os.urandom(16)).decode())
        headers.setdefault("Sec-WebSocket-Version", "13")
        scope = self._with_state(
            request.scope("websocket", self._with_cookies(request))
        )
        scope["subprotocols"] = offered
        scope["extensions"]["websocket.http.response"] = {}
        scope.update(scope_base or {})
        connection = self.websocket_connection_class(self.app, scope)
        connection.on_handshake_headers = functools.partial(
            self._store_cookie_headers, request
        )
        return connection

    def set_cookie(
        self,
        *args: str,
        domain: str | None = None,
        origin_only: bool = True,
        path: str = "/",
        server_name: str | None = None,
        key: str | None = None,
        value: str | None = None,
        **kwargs: Any,
    ) -> None:
        """Store a cookie as if the server had set it; *kwargs* go to ``dump_cookie``.

        Flask's ``(key, value="")`` form or Quart's ``(server_name, key, value="")``;
        *key* and *value* may be given by name in either.
        """
        args += tuple(v for v in (key, value) if v is not None)
        if len(args) == 3 or server_name is not None:
            server_name, key, value = _quart_cookie_args(args, server_name)
            host, origin_only = server_name.lower(), domain is None
            if domain is not None:
                kwargs["domain"] = domain
        elif 1 <= len(args) <= 2:
            key, value = args[0], args[1] if len(args) == 2 else ""
            host = (domain or "localhost").lstrip(".").lower()  # Flask's ".example.com"
        else:
            raise TypeError(
                "set_cookie takes (key, value) or (server_name, key, value)"
            )
        header = dump_cookie(key, value, path=path, **kwargs)
        cookie = parse_set_cookie(header, host, path)
        if cookie is None:
            raise ValueError(f"cookie {key!r} could not be stored")
        self._require_jar().store(dataclasses.replace(cookie, origin_only=origin_only))

    def delete_cookie(
        self,
        *args: str,
        domain: str | None = None,
        path: str = "/",
        server_name: str | None = None,
        key: str | None = None,
    ) -> None:
        """Remove a cookie; Flask's ``(key)`` or Quart's ``(server_name, key)`` form."""
        args += () if key is None else (key,)
        if len(args) == 2 or server_name is not None:
            server_name, key, _ = _quart_cookie_args((*args, ""), server_name)
            host = domain or server_name
        elif len(args) == 1:
            key, host = args[0], domain or "localhost"
        else:
            raise TypeError("delete_cookie takes (key) or (server_name, key)")
        jar = self._require_jar()
        for candidate in {host, host.lstrip(".").lower()}:
            jar.pop((candidate, path, key), None)

    def get_cookie(
        self, key: str, domain: str = "localhost", path: str = "/"
    ) -> Cookie | None:
        """Return the stored cookie with this key, domain and path, or ``None``."""
        jar = self._require_jar()
        found = jar.get((domain, path, key))
        if found is None:  # as set_cookie stored it (".Example.COM": example.com)
            found = jar.get((domain.lstrip(".").lower(), path, key))
        return found

    @asynccontextmanager
    async def session_transaction(
        self,
        path: str = "/",
        *,
        method: str = "GET",
        **options: Unpack[_RequestOptions],
    ) -> AsyncIterator[SessionMixin]:
        """Open the session the app would see for a request, change it, and keep it."""
        self._require_jar()
        app: Any = self.app
        request = make_test_request(app, path, method=method, **options)
        options["headers"] = self._with_cookies(request)
        ctx = app.test_request_context(path, method=method, **options)
        async with ctx:
            session = await call_session_method(app, "open_session", app, ctx.request)
            if session is None:
                raise RuntimeError(
                    "the session backend did not open a session; is SECRET_KEY set?"
                )
        # As in Flask and Quart, the block runs in the caller's context, not the
        # made-up request's: ``request`` and ``g`` there are the test's own.
        yield session
        response = app.response_class()
        async with ctx:
            await call_session_method(app, "save_session", app, session, response)
        self._store_cookies(request, response)

    def _with_state(self, scope: Scope) -> Scope:
        if self.lifespan_state is not None:
            scope["state"] = dict(self.lifespan_state)
        return scope

    async def _make_request(
        self,
        path: str,
        method: str,
        headers: HeadersArg | None,
        data: str | bytes | None,
        form: Mapping[str, Any] | None,
        files: Mapping[str, FileArg | list[FileArg]] | None,
        query_string: QueryArg | None,
        json: Any,
        scheme: str,
        root_path: str,
        http_version: str,
        scope_base: Mapping[str, Any] | None,
        auth: Authorization | tuple[str, str] | None = None,
        subdomain: str | None = None,
    ) -> Response:
        """Build and send one request: Quart's hook, with its arguments, which
        extensions override (quart-schema turns models into JSON and forms here)."""
        request = make_test_request(
            self.app,
            path,
            method=method,
            headers=headers,
            data=data,
            form=form,
            files=files,
            query_string=query_string,
            json=json,
            scheme=scheme,
            root_path=root_path,
            http_version=http_version,
            scope_base=scope_base,
            auth=auth,
            subdomain=subdomain,
        )
        response = await self._send(request)
        with contextlib.suppress(TypeError):  # a response class with __eq__, unhashable
            self._sent[response] = request  # (then redirected from open()'s arguments)
        return response

    def _prepare(self, path: str, method: str, options: _URLOptions) -> PreparedRequest:
        return make_test_request(self.app, path, method=method, **_NO_BODY, **options)

    async def _send(self, request: PreparedRequest) -> Response:
        scope = self._with_state(request.scope("http", self._with_cookies(request)))
        box: dict[str, Any] = {"client": self}
        if self._preserving and self._keeps():
            await self._drop_preserved()
            scope["extensions"][PRESERVE_CONTEXT] = box
        if request.http_version in ("2", "3"):  # as hypercorn: HTTP/3 pushes too
            scope["extensions"]["http.response.push"] = {}
        async with self.http_connection_class(self.app, scope) as connection:
            # In parts of 64 KiB, as hypercorn reads them: an app (or its middleware)
            # must not count on one message. A short body is one, as it arrived.
            body = request.body
            last = max(0, (len(body) - 1) // _BODY_PART) * _BODY_PART
            for start in range(0, last, _BODY_PART):
                await connection.send(body[start : start + _BODY_PART])
            await connection.send_complete(body[last:])
            response = await connection.as_response()
            self.push_promises.extend(connection.push_promises)
        self._store_cookies(request, response)
        if (ctx := box.get("ctx")) is not None:
            await ctx.push()  # in the test's task: request, session and g stay usable
            self._kept_here.set(ctx)
        return response

    def _with_cookies(self, request: PreparedRequest) -> Headers:
        headers = request.headers.copy()
        if self._cookies is not None:
            host, path = _hostname(headers["Host"]), request.path
            secure = secure_for(request.scheme, host)
            if value := self._cookies.header_for(host, path, secure):
                # All the caller's Cookie headers, as one: setting it replaces them.
                existing = "; ".join(headers.getlist("Cookie"))
                headers["Cookie"] = f"{existing}; {value}" if existing else value
        return headers

    def _store_cookies(self, request: PreparedRequest, response: Response) -> None:
        self._store_cookie_headers(request, response.headers)

    def _store_cookie_headers(self, request: PreparedRequest, headers: Headers) -> None:
        if self._cookies is None:
            return
        host = _hostname(request.headers["Host"])
        secure = secure_for(request.scheme, host)
        for header in headers.getlist("Set-Cookie"):
            cookie = parse_set_cookie(header, host, request.path, secure)
            if cookie is not None:
                self._cookies.store(cookie)

    def _redirected(
        self, request: PreparedRequest, status: int, location: str
    ) -> PreparedRequest:
        """The request a user agent sends next, answering a redirect to *location*."""
        host = request.headers["Host"]
        current = f"{request.scheme}://{host}{request.path}"
        target = urlsplit(urljoin(current, location))
        netloc = target.netloc.rpartition("@")[2]  # as browsers: no userinfo in Host
        hostname = _hostname(netloc)
        server_name = ascii_host(self.app.config.get("SERVER_NAME") or "localhost")
        server_name = _hostname(server_name)
        allowed = (_hostname(host), server_name)
        if hostname not in allowed and not hostname.endswith("." + server_name):
            raise RuntimeError(
                f"cannot follow a redirect to another host: {location!r}"
            )
        headers = request.headers.copy()
        if _origin(target.scheme, netloc) != _origin(request.scheme, host):
            # As httpx and browsers: credentials don't follow to another origin.
            headers.remove("Authorization")
            headers.remove("Proxy-Authorization")
        headers["Host"] = netloc
        root_path, path = request.root_path, target.path or "/"
        if not (root_path and (path == root_path or path.startswith(root_path + "/"))):
            root_path = ""
        method, body = request.method, request.body
        # As Flask's client (werkzeug's): all but 307 and 308 become a GET without a
        # body (a PUT or DELETE view redirecting to a page), and those two repeat it.
        if status not in (307, 308):
            method, body = "HEAD" if method == "HEAD" else "GET", b""
            headers.remove("Content-Type")
            headers.remove("Content-Length")
        return dataclasses.replace(
            request,
            method=method,
            scheme=target.scheme,
            root_path=root_path,
            path=path,
            query_string=quote_query_string(target.query),
            headers=headers,
            body=body,
        )

    def _require_jar(self) -> CookieJar:
        if self._cookies is None:
            raise RuntimeError("this client was created with use_cookies=False")
        return self._cookies


def _pop(
    sent: weakref.WeakKeyDictionary[Response, PreparedRequest], response: Response
) -> PreparedRequest | None:
    try:
        return sent.pop(response, None)
    except TypeError:  # unhashable: never stored
        return None


def _hop_arguments(request: PreparedRequest) -> tuple[Any, ...]:
    """``_make_request``'s arguments that send *request* again."""
    r = request
    what = (r.path, r.method, r.headers, r.body or None, None, None, r.query_string)
    where = (r.scheme, r.root_path, r.http_version, r.scope_base)
    return (*what, sentinel, *where, None, None)


def _origin(scheme: str, host: str) -> tuple[str, str, int | str | None]:
    url = urlsplit(f"//{host}")
    default = 443 if scheme in ("https", "wss") else 80
    try:
        return scheme, url.hostname or "", url.port or default
    except ValueError:  # a port that isn't one: compared as written
        return scheme, url.hostname or "", url.netloc


def _hostname(host: str) -> str:
    """The lowercase host name of a ``Host`` value, without port or IPv6 brackets."""
    return urlsplit(f"//{host}").hostname or ""


def _quart_cookie_args(
    args: tuple[str, ...], server_name: str | None
) -> tuple[str, str, str]:
    """``(server_name, key, value)`` from Quart's positional or keyword form."""
    if server_name is None:
        server_name, *args = args  # type: ignore[assignment]
    if not 1 <= len(args) <= 2:
        raise TypeError("Quart's form is set_cookie(server_name, key, value='')")
    # Quart-Auth passes None for "no domain": the client's own host.
    return server_name or "localhost", args[0], args[1] if len(args) == 2 else ""
