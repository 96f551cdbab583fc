"""``Response``: werkzeug's sans-io response plus an async body that sends itself.

Rule: a body is bytes (``body_bytes``: one ``http.response.body`` message) or a
``body.py`` kind, streamed chunk by chunk and never joined unless asked for.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import AsyncGenerator
from collections.abc import AsyncIterable
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Coroutine
from collections.abc import Iterable
from collections.abc import Mapping
from http import HTTPStatus
from types import EllipsisType
from typing import Any
from typing import Literal
from typing import overload
from typing import TYPE_CHECKING
from typing import TypeAlias

from werkzeug.datastructures import Headers
from werkzeug.exceptions import RequestedRangeNotSatisfiable
from werkzeug.http import generate_etag
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.sansio.response import Response as SansIOResponse
from werkzeug.utils import get_content_type

from .. import json as _app_json
from .._utils import remember
from .._utils import to_uri
from .._utils import TOKEN
from ..conditional import drop_for_not_modified
from ..conditional import PartialContent
from ..conditional import precondition_status
from ..conditional import requested_ranges
from ..globals import _cv_app
from ..globals import without_context
from ..typing import BodyWriter
from .body import BUFFERED
from .body import close_source
from .body import DataBody as DataBody  # re-exported where Quart has them
from .body import IOBody as IOBody
from .body import IterableBody as IterableBody
from .body import make_body
from .body import ResponseBody as ResponseBody  # Quart's too
from .filebody import FileBody as FileBody  # re-exported where Quart has it

if TYPE_CHECKING:
    from datetime import datetime
    from datetime import timedelta

    from ..typing import Message
    from ..typing import Scope
    from ..typing import Send
    from .body import StreamSender
    from .request import Request

#: Statuses that never carry a body (RFC 9110 6.4.1).
NO_BODY_STATUS = frozenset({*range(100, 200), 204, 304})
_NO_CONTENT = frozenset({204, 304})  # headers a view gives them are stripped

BodyValue: TypeAlias = "bytes | bytearray | str | Iterable[Any] | AsyncIterable[Any] | BodyWriter | Response | None"

# RFC 9110 5.1, 5.5: a name is a token; a value has no control but HTAB (CR/LF split it).
_CONTROL_IN_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_ENCODED: dict[tuple[str, str], tuple[bytes, bytes]] = {}
_URL_HEADERS = frozenset({"location", "content-location"})  # sent as URIs, as werkzeug
_NOT_URI = re.compile(r"[^!#$%&'()*+,\-./0-9:;=?@A-Z_a-z~]")  # not RFC 3986 2.2, 2.3
# werkzeug's dump_cookie escapes controls only up to \x19: \x1a-\x1f would go out raw.
_COOKIE_UNESCAPED = re.compile(r"[\x1a-\x1f]")
# Written raw by dump_cookie: would end the name (or domain) and start an attribute.
_COOKIE_ATTRIBUTE_BREAK = re.compile(r"[;,\s]")
# Built once: the status setter parses its argument each time (about 1.5 us).
_STATUS_LINES = {
    code: f"{code} {name.upper()}" for code, name in HTTP_STATUS_CODES.items()
}
_CONTENT_TYPES: dict[str, str] = {}
_DEFAULT_CONTENT_TYPES: dict[type[Response], str | None] = {}


def content_type_for(mimetype: str) -> str:
    """The Content-Type for *mimetype* (``charset=utf-8`` for text), memoised."""
    value = _CONTENT_TYPES.get(mimetype)
    if value is None:
        value = get_content_type(mimetype, "utf-8")
        remember(_CONTENT_TYPES, mimetype, value, len(mimetype))
    return value


def _default_content_type(cls: type[Response]) -> str | None:
    try:
        return _DEFAULT_CONTENT_TYPES[cls]
    except KeyError:
        mimetype = cls.default_mimetype
        value = None if mimetype is None else get_content_type(mimetype, "utf-8")
        _DEFAULT_CONTENT_TYPES[cls] = value
        return value


def _plain_items(headers: dict[Any, Any]) -> list[tuple[str, str]] | None:
    items = []
    for key, value in headers.items():
        if key.__class__ is not str or value.__class__ is not str:
            return None
        if "\n" in value or "\r" in value:
            return None  # werkzeug's path raises its own error for these
        items.append((key, value))
    return items


def plain_response_headers(
    cls: type[Response], headers: dict[Any, Any], length: int
) -> list[tuple[bytes, bytes]] | None:
    """The ASGI headers ``cls(body, headers=headers)`` sends; ``None``: werkzeug decides."""
    # Views repeat the same few header dicts: remember each one encoded (bounded).
    key = (cls, *headers.items())
    parts: _HeaderParts | None
    try:
        parts = _PLAIN_HEADERS.get(key, _UNKNOWN)
    except TypeError:  # an unhashable value: not a plain str either
        return None
    if parts is _UNKNOWN:
        size = sum(len(str(item)) for pair in headers.items() for item in pair)
        parts = remember(_PLAIN_HEADERS, key, _plain_parts(cls, headers), size)
    if parts is None:
        return None
    before, after = parts
    if after is None:
        return before.copy()
    return [*before, (b"content-length", b"%d" % length), *after]


_HeaderParts = tuple[list[tuple[bytes, bytes]], list[tuple[bytes, bytes]] | None]
_PLAIN_HEADERS: dict[tuple[Any, ...], _HeaderParts | None] = {}
_UNKNOWN: Any = object()


def _plain_parts(cls: type[Response], headers: dict[Any, Any]) -> _HeaderParts | None:
    # Encoded headers before and after Content-Length (after is None without one).
    items = _plain_items(headers)
    if items is None:
        return None
    _complete(items, cls, 0)
    encoded = encode_headers(items)
    if cls.automatically_set_content_length:  # else a given one is sent as it is
        for index, (name, _) in enumerate(encoded):
            if name == b"content-length":
                return encoded[:index], encoded[index + 1 :]
    return encoded, None


def _complete(items: list[tuple[str, str]], cls: type[Response], length: int) -> None:
    # As werkzeug: a default Content-Type if none; Content-Length replaced or added.
    names = [key.lower() for key, _ in items]
    if "content-type" not in names:
        content_type = _default_content_type(cls)
        if content_type is not None:
            items.append(("Content-Type", content_type))
            names.append("content-type")
    if cls.automatically_set_content_length:
        value = str(length)
        if "content-length" in names:
            first = names.index("content-length")
            items[first] = ("Content-Length", value)
            items[first + 1 :] = [
                pair
                for pair in items[first + 1 :]
                if pair[0].lower() != "content-length"
            ]
        else:
            items.append(("Content-Length", value))


class Response(SansIOResponse):
    """An HTTP response with a bytes, iterable or async-iterable body."""

    default_mimetype: str | None = "text/html"
    #: Set ``Content-Length`` for bytes bodies.
    automatically_set_content_length = True
    #: Idle timeout in seconds between chunks of a streamed body; ``None`` for no limit,
    #: ``...`` (unset, as in Quart) for the route's ``response_timeout`` or the app's.
    timeout: float | None | EllipsisType = ...
    #: Headers (or a sync/async callable returning them) sent after the body, if the
    #: server offers ``http.response.trailers``.
    trailers: Any = None
    #: Flask's: what :meth:`get_json` parses with (the test client sets ``app.json``).
    json_module: Any = _app_json
    #: What :meth:`call_on_close` registered (``None``: nothing), in order.
    close_functions: list[Callable[[], Any]] | None = None
    #: The body when it is bytes (sent as one message); ``None`` for a streamed body.
    body_bytes: bytes | None
    _body: ResponseBody | None

    def __init__(
        self,
        response: BodyValue = None,
        status: int | str | HTTPStatus | None = None,
        headers: Headers | Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None,
        mimetype: str | None = None,
        content_type: str | None = None,
    ) -> None:
        given: list[tuple[str, str]] | None = None
        if (
            headers is not None
            and headers.__class__ is dict
            and mimetype is None
            and content_type is None
        ):
            given = _plain_items(headers)
        if isinstance(response, (str, bytes)) and (
            headers is None or given is not None
        ):
            # The common cases, built as werkzeug would minus its checks (about 3 us).
            data = response.encode() if isinstance(response, str) else response
            self.body_bytes = data
            self._body = None
            if given is None:
                if content_type is None:
                    if mimetype is None:
                        content_type = _default_content_type(self.__class__)
                    else:
                        content_type = content_type_for(mimetype)
                items = []
                if content_type is not None:
                    items.append(("Content-Type", content_type))
                if self.automatically_set_content_length:
                    items.append(("Content-Length", str(len(data))))
            else:
                items = given
                _complete(items, self.__class__, len(data))
            # Skip Headers.__init__: the list is fresh and already valid.
            self.headers = headers = Headers.__new__(Headers)
            headers._list = items
            self._set_status(status)
            return
        self._body = None
        self.body_bytes = None
        if not headers and mimetype is None and content_type is None:
            # werkzeug would raise and catch a KeyError to find none (about 1.5 us).
            content_type = _default_content_type(self.__class__)
        super().__init__(status, headers, mimetype, content_type)
        if response is None:
            self.set_data(b"")
        elif isinstance(response, (bytes, bytearray, str)):
            self.set_data(response)
        elif isinstance(response, DataBody):  # Quart's bytes body: ours is bytes
            self.set_data(response.data)
        else:  # not the setter: a Content-Length given with a stream is the app's
            if isinstance(response, Response):  # Response(await stream_template(...))
                response = response.response
            self._body = make_body(response)

    def _set_status(self, status: int | str | HTTPStatus | None) -> None:
        if status is None or status == 200:
            self._status_code = 200
            self._status = "200 OK"
        elif status.__class__ is int and status in _STATUS_LINES:
            self._status_code = status
            self._status = _STATUS_LINES[status]
        else:
            self.status = status

    @property
    def response(self) -> Iterable[Any] | AsyncIterable[Any]:
        """The body as an iterable: ``[data]`` for a bytes body."""
        if self.body_bytes is not None:
            return [self.body_bytes]
        assert self._body is not None
        return self._body.source  # type: ignore[no-any-return]

    @response.setter
    def response(self, value: Any) -> None:
        if isinstance(value, DataBody):
            value = value.data
        if isinstance(value, (bytes, bytearray, str)):
            self.set_data(value)
            return
        self._body = make_body(value)
        self.body_bytes = None
        self.headers.remove("Content-Length")  # pop() would raise a KeyError inside

    def call_on_close(self, func: Callable[[], Any]) -> Callable[[], Any]:
        """Call *func* once this response is closed: sent, or its client gone (as
        werkzeug's: a file deleted after ``send_file``); returns *func*."""
        if self.close_functions is None:
            self.close_functions = []
        self.close_functions.append(func)
        return func

    async def aclose(self) -> None:
        """Drop this response unsent: close its streamed body, then call the
        :meth:`call_on_close` functions."""
        try:
            if self._body is not None:
                await self._body.aclose()
        finally:
            await self._closed()

    async def _closed(self) -> None:
        closers, self.close_functions = self.close_functions or (), None
        for func in closers:  # in order, as werkzeug's; an async one is awaited
            if inspect.isawaitable(rv := func()):
                await rv

    @property
    def is_streamed(self) -> bool:
        """True when the body is an iterable rather than bytes."""
        return self.body_bytes is None

    @property
    def max_cookie_size(self) -> int:  # type: ignore[override]
        """``MAX_COOKIE_SIZE`` of the current app: a bigger cookie warns (0: never)."""
        ctx = _cv_app.get(None)
        if ctx is None:
            return SansIOResponse.max_cookie_size  # werkzeug's
        return int(ctx.app.config["MAX_COOKIE_SIZE"])

    def set_cookie(
        self,
        key: str,
        value: str = "",
        max_age: timedelta | int | None = None,
        expires: str | datetime | int | float | None = None,
        path: str | None = "/",
        domain: str | None = None,
        secure: bool = False,
        httponly: bool = False,
        samesite: str | None = None,
        partitioned: bool = False,
    ) -> None:
        """Add a ``Set-Cookie`` header, as werkzeug does, escaping every control."""
        for part in (key, domain or ""):
            if _COOKIE_ATTRIBUTE_BREAK.search(part):
                raise ValueError(
                    f"cookie name or domain {part!r} has ';', ',' or space"
                )
        super().set_cookie(
            key, value, max_age, expires, path, domain, secure, httponly, samesite,
            partitioned,
        )  # fmt: skip
        if _COOKIE_UNESCAPED.search(value):  # quoted by dump_cookie: octal-escape
            cookies = self.headers.getlist("Set-Cookie")
            cookies[-1] = _COOKIE_UNESCAPED.sub(
                lambda match: f"\\{ord(match[0]):03o}", cookies[-1]
            )
            self.headers.setlist("Set-Cookie", cookies)

    def set_data(self, value: bytes | bytearray | str) -> None:
        """Replace the body with *value* and set ``Content-Length``."""
        if isinstance(value, (bytes, bytearray, memoryview)):
            data = bytes(value)
        elif isinstance(value, str):
            data = value.encode()
        else:  # bytes(5) is five NULs, bytes([104, 105]) b"hi": Flask raises, as here
            raise TypeError(
                f"a response body is str or bytes, not {type(value).__name__}"
            )
        self.body_bytes = data
        self._body = None
        if self.automatically_set_content_length:
            self.headers["Content-Length"] = str(len(data))

    @overload
    async def get_data(self, as_text: Literal[False] = ...) -> bytes: ...
    @overload
    async def get_data(self, as_text: Literal[True]) -> str: ...
    @overload
    async def get_data(self, as_text: bool) -> bytes | str: ...
    async def get_data(self, as_text: bool = False) -> bytes | str:
        """Return the whole body, joining a streamed body (which then becomes bytes)."""
        if self.body_bytes is None:
            self.set_data(b"".join([chunk async for chunk in self.iter_encoded()]))
        assert self.body_bytes is not None
        return self.body_bytes.decode() if as_text else self.body_bytes

    async def add_etag(self, overwrite: bool = False, weak: bool = False) -> None:
        """Set an ``ETag`` hashed from the body, unless one is set (awaited, as in Quart)."""
        if overwrite or "etag" not in self.headers:
            self.set_etag(generate_etag(await self.get_data()), weak)

    @property
    def data(self) -> Coroutine[Any, Any, bytes]:
        """``await response.data``: the body as bytes; ``response.data = ...`` sets it."""
        return self.get_data()

    @data.setter
    def data(self, value: bytes | bytearray | str) -> None:
        self.set_data(value)

    async def iter_encoded(self) -> AsyncGenerator[bytes, None]:
        """Yield the body as bytes chunks, closing the source at the end."""
        if self.body_bytes is not None:
            yield self.body_bytes
            return
        body = self._body
        assert body is not None
        chunks = aiter(body)
        try:
            async for chunk in chunks:
                yield chunk
        finally:
            await close_source(chunks)
            await body.aclose()

    @property
    def body_kind(self) -> ResponseBody | None:
        """The streamed body's kind (``None`` for a bytes body)."""
        return self._body

    def send(
        self,
        scope: Scope,
        send: Send,
        headers: list[tuple[bytes, bytes]],
        stream: StreamSender,
    ) -> Awaitable[Any]:
        """Return the awaitable that sends this response (start, body, trailers) to *send*.

        HEAD, or a status without a body (RFC 9110 6.4.1), sends an empty body."""
        body = self._body
        if (
            body is not None
            and body.__class__.send is ResponseBody.send
            and self.trailers is None
            and self.close_functions is None
            and scope["method"] != "HEAD"
            and self.status_code not in NO_BODY_STATUS
        ):
            # A stream may be held for hours: the streamer sends the start, so neither
            # this response (~0.8 KiB) nor a frame of ours stays alive beside it.
            start = {
                "type": "http.response.start",
                "status": self.status_code,
                "headers": headers,
            }
            return stream(body, start)
        sending = self._send(scope, send, headers, stream)
        if self.close_functions is not None:
            return self._then_closed(sending)
        return sending

    async def _then_closed(self, sending: Awaitable[None]) -> None:
        try:
            await sending
        finally:
            await self._closed()  # (the body closed itself)

    async def _send(
        self,
        scope: Scope,
        send: Send,
        headers: list[tuple[bytes, bytes]],
        stream: StreamSender,
    ) -> None:
        status = self.status_code
        # Not over HTTP/3: hypercorn 0.18 never ends such a stream.
        trailers = (
            self.trailers is not None
            and "http.response.trailers" in (scope.get("extensions") or ())
            and scope.get("http_version") != "3"
        )
        start: Message = {"type": "http.response.start", "status": status}
        start["headers"] = headers
        if trailers:
            start["trailers"] = True
        body = self._body
        bodiless = scope["method"] == "HEAD" or status in NO_BODY_STATUS
        try:
            await send(start)
            if bodiless:
                end = {"type": "http.response.body", "body": b"", "more_body": False}
                await (send(end) if trailers else without_context(send(end)))
        except BaseException:
            if body is not None:  # never handed on: a file send_file opened closes now
                await body.aclose()
            raise
        if bodiless:
            if body is not None:
                await body.aclose()
        elif body is None:
            data = self.body_bytes
            if data is not None and len(data) > BUFFERED:
                # More than a server buffers: watched, so a reader that stalls times out.
                if not await stream(IterableBody((data,))):
                    return
            else:
                end = {"type": "http.response.body", "body": data, "more_body": False}
                await (send(end) if trailers else without_context(send(end)))
        elif not trailers:
            sending = body.send(scope, send, stream)  # let go of self while it streams
            del self, start, headers
            await sending
            return
        elif not await body.send(scope, send, stream):
            return  # abandoned unfinished: the server closes the connection
        if trailers:
            end = {
                "type": "http.response.trailers",
                "headers": await self._trailer_headers(),
                "more_trailers": False,
            }
            await without_context(send(end))

    async def _trailer_headers(self) -> list[tuple[bytes, bytes]]:
        value = self.trailers
        if callable(value):
            value = value()
            if inspect.isawaitable(value):
                value = await value
        return encode_headers(Headers(value).items())

    async def get_json(self, force: bool = False, silent: bool = False) -> Any:
        """Parse the body as JSON if the mimetype says so (or *force*)."""
        if not (force or self.is_json):
            return None
        try:
            return self.json_module.loads(await self.get_data())
        except ValueError:
            if silent:
                return None
            raise

    @property
    def json(self) -> Coroutine[Any, Any, Any]:
        """``await response.json``: the parsed JSON body."""
        return self.get_json()

    def asgi_headers(self) -> list[tuple[bytes, bytes]]:
        """The headers as ASGI wants them; ``ValueError`` for an invalid name or value."""
        status = self.status_code
        if status in _NO_CONTENT:
            if status == 204:  # RFC 9110 8.6: a 204 never carries Content-Length
                self.headers.remove("Content-Length")
            else:  # a view's own 304 too, as werkzeug's
                drop_for_not_modified(self.headers)
        return encode_headers(self.headers._list)

    async def make_conditional(
        self,
        request: Request,
        accept_ranges: bool | str = False,
        complete_length: int | None = None,
    ) -> Response:
        """Answer ``If-*`` and ``Range`` headers: 304, 412, 206 or 416 as appropriate.

        Only a bytes body is sliced, and only with *accept_ranges*."""
        if request.method not in ("GET", "HEAD") or not 200 <= self.status_code < 300:
            return self  # RFC 9110 13.2.1: only a 2xx answer is conditional
        # No Date, unlike werkzeug: ASGI servers send their own, and don't drop it.
        status = precondition_status(request.headers, self.headers)
        if status is not None:
            self.status_code = status
            if status == 304:
                drop_for_not_modified(self.headers)
                # A streamed body stays attached: sending the 304 closes its source.
                self.body_bytes = b""
        elif accept_ranges:
            self._process_range(request, accept_ranges, complete_length)
        return self

    def _process_range(
        self, request: Request, accept_ranges: bool | str, complete_length: int | None
    ) -> None:
        data = self.body_bytes
        if data is None:
            return  # a streamed body is never sliced
        self.headers["Accept-Ranges"] = (
            "bytes" if accept_ranges is True else str(accept_ranges)
        )
        size = len(data) if complete_length is None else complete_length
        spans = requested_ranges(request.headers, self.headers, size)
        if spans is None:
            return
        if not spans:
            raise RequestedRangeNotSatisfiable(length=size)
        partial = PartialContent(spans, size, self.headers.get("Content-Type"))
        self.set_data(partial.join(data))
        self.headers.update(partial.headers)
        self.status_code = 206


def encode_headers(items: Iterable[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    """Encode header pairs for ASGI, refusing invalid names and control characters."""
    out = []
    cache = _ENCODED
    for pair in items:
        encoded = cache.get(pair)
        if encoded is None:
            key, value = pair
            if TOKEN.fullmatch(key) is None:
                raise ValueError(f"invalid header name {key!r}: not an RFC 9110 token")
            # isprintable() is a fast C check; only a non-printable value needs this one.
            if not value.isprintable() and _CONTROL_IN_VALUE.search(value) is not None:
                raise ValueError(
                    f"header {key!r} has a control character in its value"
                    " (only HTAB is allowed)"
                )
            name = key.lower()
            if name == "transfer-encoding":
                # Framing is the server's: beside Content-Length, or on a 204, a view's
                # own is a smuggling hazard (RFC 9112 6.1, 6.3).
                continue
            if name in _URL_HEADERS and _NOT_URI.search(value) is not None:
                value = to_uri(value, keep="")  # a tab too; "[" "]" only in a host
            try:
                encoded = (name.encode("latin-1"), value.encode("latin-1"))
            except UnicodeEncodeError:
                raise ValueError(
                    f"header {key!r} has a character outside Latin-1 in its value;"
                    " percent-encode it (or use RFC 8187's encoding)"
                ) from None
            # Remember the pairs every response repeats; bounded against arbitrary values.
            if len(cache) < 512 and len(value) < 64:
                cache[pair] = encoded
        out.append(encoded)
    return out
