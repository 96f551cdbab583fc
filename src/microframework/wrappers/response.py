"""``Response``: werkzeug's sans-io response plus an async body.

A body is either bytes (``_data``, the fast path: one ``http.response.body`` message) or an
iterable (sync or async) that is streamed chunk by chunk and never joined unless someone
asks for the data. Conditional and range handling works on bytes bodies here; file bodies
add their own.
"""

from __future__ import annotations

import asyncio
import inspect
import json as _json
import re
from collections.abc import AsyncGenerator
from collections.abc import AsyncIterable
from collections.abc import AsyncIterator
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Mapping
from contextlib import suppress
from http import HTTPStatus
from typing import Any
from typing import TYPE_CHECKING

from werkzeug.datastructures import Headers
from werkzeug.exceptions import RequestedRangeNotSatisfiable
from werkzeug.http import http_date
from werkzeug.sansio.response import Response as SansIOResponse
from werkzeug.utils import get_content_type

from ..conditional import drop_for_not_modified
from ..conditional import PartialContent
from ..conditional import precondition_status
from ..conditional import requested_ranges

if TYPE_CHECKING:
    from .request import Request

BodyValue = bytes | bytearray | str | Iterable[Any] | AsyncIterable[Any] | None

# Header values must never split the response (CR, LF) or confuse parsers (NUL).
_FORBIDDEN_IN_HEADER = re.compile(r"[\r\n\x00]")
_ENCODED: dict[tuple[str, str], tuple[bytes, bytes]] = {}
_CONTENT_TYPES: dict[str, str] = {}
_DEFAULT_CONTENT_TYPES: dict[type[Response], str | None] = {}


def _content_type_for(mimetype: str) -> str:
    value = _CONTENT_TYPES.get(mimetype)
    if value is None:
        value = get_content_type(mimetype, "utf-8")
        if len(_CONTENT_TYPES) < 256:
            _CONTENT_TYPES[mimetype] = value
    return value


def _default_content_type(cls: type[Response]) -> str | None:
    try:
        return _DEFAULT_CONTENT_TYPES[cls]
    except KeyError:
        mimetype = cls.default_mimetype
        value = None if mimetype is None else get_content_type(mimetype, "utf-8")
        _DEFAULT_CONTENT_TYPES[cls] = value
        return value


def _encode(chunk: Any) -> bytes:
    if isinstance(chunk, bytes):
        return chunk
    if isinstance(chunk, str):
        return chunk.encode()
    if isinstance(chunk, (bytearray, memoryview)):
        return bytes(chunk)
    raise TypeError(
        f"response body chunks must be bytes or str, not {type(chunk).__name__}"
    )


class Response(SansIOResponse):
    """An HTTP response with a bytes, iterable or async-iterable body."""

    default_mimetype: str | None = "text/html"
    #: Set ``Content-Length`` for bytes bodies.
    automatically_set_content_length = True
    #: Idle timeout in seconds between chunks of a streamed body (``None``: app default).
    timeout: float | None = None
    #: Trailing headers sent after the body, when the server offers the ASGI
    #: ``http.response.trailers`` extension (otherwise ignored): headers, or a callable
    #: (sync or async) returning them, called once the body has been sent.
    trailers: Any = None
    _data: bytes | None
    _iterable: Iterable[Any] | AsyncIterable[Any] | None

    def __init__(
        self,
        response: BodyValue = None,
        status: int | str | HTTPStatus | None = None,
        headers: Headers | Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None,
        mimetype: str | None = None,
        content_type: str | None = None,
    ) -> None:
        if headers is None and isinstance(response, (str, bytes)):
            # The common case, built without the generic checks (about 3 us saved).
            if content_type is None:
                if mimetype is None:
                    content_type = _default_content_type(self.__class__)
                else:
                    content_type = _content_type_for(mimetype)
            data = response.encode() if isinstance(response, str) else response
            self._data = data
            self._iterable = None
            items = []
            if content_type is not None:
                items.append(("Content-Type", content_type))
            if self.automatically_set_content_length:
                items.append(("Content-Length", str(len(data))))
            # Skip Headers.__init__: the list is fresh, ours, and already valid.
            self.headers = headers = Headers.__new__(Headers)
            headers._list = items
            if status is None or status == 200:
                self._status_code = 200
                self._status = "200 OK"
            else:
                self.status = status
            return
        self._iterable = None
        self._data = None
        super().__init__(status, headers, mimetype, content_type)
        if response is None:
            self.set_data(b"")
        elif isinstance(response, (bytes, bytearray, str)):
            self.set_data(response)
        else:
            self.response = response

    # -- body -----------------------------------------------------------------
    @property
    def response(self) -> Iterable[Any] | AsyncIterable[Any]:
        """The body as an iterable: ``[data]`` for bytes bodies, else the iterable."""
        if self._data is not None:
            return [self._data]
        assert self._iterable is not None
        return self._iterable

    @response.setter
    def response(self, value: Any) -> None:
        if isinstance(value, (bytes, bytearray, str)):
            self.set_data(value)
            return
        if callable(value) and not isinstance(value, (Iterable, AsyncIterable)):
            value = WriterBody(value)
        if not isinstance(value, (Iterable, AsyncIterable)):
            raise TypeError(
                f"response body must be bytes, str or an iterable, not {type(value).__name__}"
            )
        self._data = None
        self._iterable = value
        self.headers.pop("Content-Length", None)

    @property
    def is_streamed(self) -> bool:
        """True when the body is an iterable rather than bytes."""
        return self._data is None

    def set_data(self, value: bytes | bytearray | str) -> None:
        """Replace the body with *value* and set ``Content-Length``."""
        data = value.encode() if isinstance(value, str) else bytes(value)
        self._data = data
        self._iterable = None
        if self.automatically_set_content_length:
            self.headers["Content-Length"] = str(len(data))

    async def get_data(self, as_text: bool = False) -> Any:
        """Return the whole body, joining a streamed body (which then becomes bytes)."""
        if self._data is None:
            self.set_data(b"".join([chunk async for chunk in self.iter_encoded()]))
        assert self._data is not None
        return self._data.decode() if as_text else self._data

    @property
    def data(self) -> Awaitable[bytes]:
        """``await response.data``: the body as bytes."""
        return self.get_data()

    async def iter_encoded(self) -> AsyncGenerator[bytes, None]:
        """Yield the body as bytes chunks, closing the source iterable at the end."""
        if self._data is not None:
            yield self._data
            return
        source = self._iterable
        try:
            if isinstance(source, AsyncIterable):
                async for chunk in source:
                    yield _encode(chunk)
            elif isinstance(source, (list, tuple)):
                for chunk in source:
                    yield _encode(chunk)
            else:
                # A sync generator may block (file reads, sleeps): step it in a thread.
                assert source is not None
                iterator = iter(source)
                sentinel = object()
                while (
                    chunk := await asyncio.to_thread(next, iterator, sentinel)
                ) is not sentinel:
                    yield _encode(chunk)
        finally:
            await _close(source)

    async def _trailer_headers(self) -> list[tuple[bytes, bytes]]:
        value = self.trailers
        if callable(value):
            value = value()
            if inspect.isawaitable(value):
                value = await value
        headers = value if isinstance(value, Headers) else Headers(value)
        return encode_headers(headers.items())

    async def _close_body(self) -> None:
        """Close a streamed body that will not be iterated (HEAD, 304)."""
        if self._iterable is not None:
            await _close(self._iterable)

    # -- json -----------------------------------------------------------------
    async def get_json(self, force: bool = False, silent: bool = False) -> Any:
        """Parse the body as JSON if the mimetype says so (or *force*)."""
        if not (force or self.is_json):
            return None
        try:
            return _json.loads(await self.get_data())
        except ValueError:
            if silent:
                return None
            raise

    @property
    def json(self) -> Awaitable[Any]:
        """``await response.json``: the parsed JSON body."""
        return self.get_json()

    # -- ASGI -----------------------------------------------------------------
    def asgi_headers(self) -> list[tuple[bytes, bytes]]:
        """The headers as ASGI wants them: lowercase latin-1 names and values.

        A value with CR, LF or NUL is refused: it would split or truncate the response.
        """
        return encode_headers(self.headers._list)

    # -- conditional requests -------------------------------------------------
    async def make_conditional(
        self,
        request: Request,
        accept_ranges: bool | str = False,
        complete_length: int | None = None,
    ) -> Response:
        """Answer ``If-*`` and ``Range`` headers: 304, 412, 206 or 416 as appropriate.

        Only bytes bodies are sliced for ranges; pass *accept_ranges* to serve and
        advertise them. The rules are :mod:`microframework.conditional`'s.
        """
        if request.method not in ("GET", "HEAD"):
            return self
        if "date" not in self.headers:
            self.headers["Date"] = http_date()
        status = precondition_status(request.headers, self.headers)
        if status is not None:
            self.status_code = status
            if status == 304:
                self._strip_for_not_modified()
        elif accept_ranges:
            self._process_range(request, accept_ranges, complete_length)
        return self

    def _process_range(
        self, request: Request, accept_ranges: bool | str, complete_length: int | None
    ) -> None:
        data = self._data
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

    def _strip_for_not_modified(self) -> None:
        drop_for_not_modified(self.headers)
        self._data = b""
        self._iterable = None


async def _close(source: object) -> None:
    aclose = getattr(source, "aclose", None)
    if aclose is not None:
        result = aclose()
        if inspect.isawaitable(result):
            await result
        return
    close = getattr(source, "close", None)
    if close is not None:
        close()


def encode_headers(items: Iterable[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    """Encode header pairs for ASGI, refusing values with CR, LF or NUL."""
    out = []
    cache = _ENCODED
    for pair in items:
        encoded = cache.get(pair)
        if encoded is None:
            key, value = pair
            # isprintable() is a fast C check; only a non-printable value needs the
            # exact test (a tab is legal, a newline is not).
            if (
                not value.isprintable()
                and _FORBIDDEN_IN_HEADER.search(value) is not None
            ):
                raise ValueError(f"header {key!r} contains CR, LF or NUL")
            encoded = (key.lower().encode("latin-1"), value.encode("latin-1"))
            # Remember the few pairs every response repeats (content types, small
            # lengths); the bound keeps arbitrary values from growing it.
            if len(cache) < 512 and len(value) < 64:
                cache[pair] = encoded
        out.append(encoded)
    return out


class WriterBody:
    """A body written by ``async def body(write)``: each ``await write(chunk)`` sends one.

    The writer runs in its own task so it can hold ``async with`` blocks across
    writes; ``write`` returns once the chunk has been handed on (one chunk of
    backpressure, no buffering). Closing the body (a disconnect, an idle timeout)
    cancels the writer, so its ``async with`` blocks exit.
    """

    __slots__ = ("_writer",)

    def __init__(
        self, writer: Callable[[Callable[[Any], Awaitable[None]]], Awaitable[Any]]
    ) -> None:
        self._writer = writer

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[bytes]:
        chunks: asyncio.Queue[Any] = asyncio.Queue()
        drained = asyncio.Event()
        done = object()

        async def write(chunk: Any) -> None:
            drained.clear()
            chunks.put_nowait(_encode(chunk))
            await drained.wait()

        async def run() -> None:
            try:
                await self._writer(write)
            finally:
                chunks.put_nowait(done)

        task = asyncio.create_task(run())
        try:
            while (chunk := await chunks.get()) is not done:
                yield chunk
                drained.set()
            await task  # re-raise the writer's error, if any
        finally:
            if not task.done():
                task.cancel()
                with suppress(asyncio.CancelledError):
                    await task
