"""``Request``: the HTTP request with an async, limit-enforcing body.

Rule: the body is read from ``receive()`` only when the view asks, or ahead of it by
the disconnect watch of a view that waits first (at most ``BUFFERED`` bytes kept), or,
left unread, dropped when the response's last send waits on it (``_unread``).
Limits are checked against ``Content-Length`` first, then against the bytes received.
"""

from __future__ import annotations

import asyncio
import copy
import json as _json
from collections import deque
from collections.abc import AsyncGenerator
from collections.abc import AsyncIterator
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Coroutine
from collections.abc import Generator
from io import BytesIO
from tempfile import SpooledTemporaryFile
from typing import Any
from typing import IO
from typing import Literal
from typing import overload
from typing import TYPE_CHECKING

from werkzeug.datastructures import CombinedMultiDict
from werkzeug.datastructures import iter_multi_items
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import BadRequest
from werkzeug.exceptions import RequestEntityTooLarge

from .._unread import DropBeforeEnd
from .._utils import before
from .._utils import DONE
from .._utils import Done
from .._utils import Listener
from ..datastructures import FileStorage
from ..exceptions import BodyTimeout
from ..exceptions import ClientDisconnected
from .base import BaseRequestWebsocket
from .body import BUFFERED

if TYPE_CHECKING:
    from ..app import Microframework
    from ..typing import Message
    from ..typing import Receive
    from ..typing import Scope
    from ..typing import Send

_UNSET: Any = object()
_READING: Any = object()
# Request headers a pushed request repeats (RFC 9113 8.4: a promise is a request).
_PUSHED_HEADERS = frozenset(
    {b"accept", b"accept-encoding", b"accept-language", b"cache-control", b"user-agent"}
)
_BODILESS_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
_WOKEN: Any = {"type": "microframework.woken"}  # read again: the watch heard or stopped
_MESSAGE_COST = 512  # what a kept message costs beside its body (its dict), about


class Body:
    """``request.body``: iterate for chunks as they arrive, or await for all of it."""

    __slots__ = ("_request",)

    def __init__(self, request: Request) -> None:
        self._request = request

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._request._iter_body()

    def __await__(self) -> Generator[Any, None, bytes]:
        return self._request.get_data().__await__()


class Request(BaseRequestWebsocket):
    """An HTTP request, built from an ASGI scope and its ``receive`` callable."""

    # Class-level defaults, shadowed on first write: most requests never touch the body.
    _data: bytes | None = None
    _body_started = False
    _body_failed: BaseException | None = None  # a copy raised again by a later read
    body_done = False  # no body message is left to read
    _body_limit: int | None = None
    _received = 0  # body bytes so far
    _form: MultiDict[str, str] | None = None
    _files: MultiDict[str, FileStorage] | None = None
    _json: Any = _UNSET
    _json_silent: Any = _UNSET
    _max_content_length: Any = _UNSET
    _max_form_memory_size: Any = _UNSET
    _max_form_parts: Any = _UNSET
    _body_timeout: Any = _UNSET
    _body_file: IO[bytes] | None = None
    _whole: Any = None  # _READING, or a future, while get_data() reads the body
    _parsing: asyncio.Future[None] | None = None  # _READING while a form parses
    # What a disconnect watch read ahead of the body's read (see read_by_watch).
    _heard: deque[Any] | None = None
    _heard_bytes = 0
    _heard_all = False
    _paused = False  # the watch reading ahead waits for a read to take what it kept
    #: The disconnect watch while the body isn't all read (it reads ahead, or will).
    body_watch: Listener | None = None
    _heard_waiter: asyncio.Future[Message] | None = None
    #: A read of the body stopped before its end: nobody reads the rest.
    body_abandoned = False
    _dropped = False  # see drop_body
    _awaiting = False  # a read waits for the body's next message now
    #: What gave the response instead of the view (a before hook, or the error an
    #: error handler took), for a bad return value's message. Set only then: read it
    #: with getattr (a class default would slow every request, see design.md).
    answered_by: Callable[..., Any] | type[BaseException]

    asgi_send: Send | None = None  #: The connection's ASGI ``send`` (the dispatcher's).
    response_started = False  #: A stream's start went: no early hints (set by it).
    #: Called once the body is read, to start a disconnect watch (set by the dispatcher).
    on_body_end: Callable[[], None] | None = None
    #: The loop time a body read under ``BODY_TIMEOUT`` must end by: a response timeout
    #: before it waits for it, so a stalled upload is a 408, not a 504.
    body_deadline: float | None = None
    form_data_parser_class: Any = None  #: a FormDataParser subclass, as in Flask, Quart

    def __init__(
        self, scope: Scope, receive: Receive, app: Microframework | None = None
    ) -> None:
        super().__init__(scope)
        self.asgi_receive = receive  #: The connection's ASGI ``receive``.
        self._app = app
        #: A ``receive()`` a finished disconnect watch left pending, for the next one.
        #: Set here, not as a class default: a key added late costs the dict a resize.
        self.held_receive: Listener | None = None

    def close(self) -> Done:
        """Close uploaded files and the spooled body; it may be awaited, as in Quart."""
        self.release()
        return DONE

    def release(self) -> None:
        """:meth:`close`, as the dispatcher calls it when the request ends."""
        if files := self._files:  # (iter_multi_items' ABC checks cost every request)
            for _, storage in iter_multi_items(files):  # a parser's dict too, as Flask
                storage.close()
        if self._body_file is not None:
            FileStorage.close_stream(self._body_file)  # off the loop if big
        if self.held_receive is not None:
            self.held_receive.close_held()
            self.held_receive = None

    def _config(self, key: str, default: Any) -> Any:
        return self._app.config.get(key, default) if self._app is not None else default

    @property
    def max_content_length(self) -> int | None:
        """Largest body accepted; ``MAX_CONTENT_LENGTH`` unless set on this request."""
        if self._max_content_length is _UNSET:
            return self._config("MAX_CONTENT_LENGTH", None)  # type: ignore[no-any-return]
        return self._max_content_length  # type: ignore[no-any-return]

    @max_content_length.setter
    def max_content_length(self, value: int | None) -> None:
        self._max_content_length = value

    @property
    def max_form_memory_size(self) -> int | None:
        """Largest in-memory size of non-file form fields (``MAX_FORM_MEMORY_SIZE``)."""
        if self._max_form_memory_size is _UNSET:
            return self._config("MAX_FORM_MEMORY_SIZE", 500_000)  # type: ignore[no-any-return]
        return self._max_form_memory_size  # type: ignore[no-any-return]

    @max_form_memory_size.setter
    def max_form_memory_size(self, value: int | None) -> None:
        self._max_form_memory_size = value

    @property
    def max_form_parts(self) -> int | None:
        """Most fields or parts a form may have (``MAX_FORM_PARTS``)."""
        if self._max_form_parts is _UNSET:
            return self._config("MAX_FORM_PARTS", 1000)  # type: ignore[no-any-return]
        return self._max_form_parts  # type: ignore[no-any-return]

    @max_form_parts.setter
    def max_form_parts(self, value: int | None) -> None:
        self._max_form_parts = value

    @property
    def body_timeout(self) -> float | None:
        """Seconds the body may take to arrive once read (``BODY_TIMEOUT``), then 408."""
        if self._body_timeout is _UNSET:
            return self._config("BODY_TIMEOUT", None)  # type: ignore[no-any-return]
        return self._body_timeout  # type: ignore[no-any-return]

    @body_timeout.setter
    def body_timeout(self, value: float | None) -> None:
        self._body_timeout = value

    @property
    def body(self) -> Body:
        """The body: ``async for chunk in request.body`` or ``await request.body``."""
        return Body(self)

    async def _iter_body(self) -> AsyncGenerator[bytes, None]:
        if self._data is not None:
            if self._data:
                yield self._data
            return
        self._start_body()
        try:
            while (chunk := await self._next_chunk()) is not None:
                yield chunk
        except GeneratorExit:  # closed mid-body (`async for` broke off): nobody can
            # read on, so a watch waiting for the read's end starts now, and reads the
            # rest ahead as for a body never read (a client leaving is heard).
            if not self.body_done:
                self.body_abandoned = True
                self.drop_at_end()
                on_end, self.on_body_end = self.on_body_end, None
                if on_end is not None:
                    on_end()
            raise
        except BaseException as error:  # a 413, a 408: nobody reads the rest either
            self.drop_at_end(error)
            raise
        finally:
            self.body_deadline = None

    def _start_body(self) -> None:
        if self._body_started:
            if (failed := self._body_failed) is not None:
                raise copy.copy(failed)  # again, as Flask's and Quart's reads do
            raise RuntimeError("the request body has already been consumed")
        if self.asgi_send is None and "asgi_send" in self.__dict__:
            # The dispatcher's response went (a teardown's read, a copied task's): uvicorn
            # now answers each read with a disconnect; an unannounced HTTP/1.x body is b"".
            if not (self._dropped or self._framed()):
                if self.scope.get("http_version", "1.1").startswith("1"):
                    self.body_done = True
        if self.body_watch is not None and self._heard is None:
            # A watch is in receive(): a second call would wait for ever, so it hands on.
            self.body_watch.read_ahead()
        self._body_started = True
        limit = self._body_limit = self.max_content_length
        if limit is not None:
            declared = self.content_length
            if declared is not None and declared > limit:
                self.drop_at_end(error := RequestEntityTooLarge())  # refused unread
                raise error
        timeout = self.body_timeout
        if timeout is not None:
            self.body_deadline = asyncio.get_running_loop().time() + timeout

    async def _next_chunk(self) -> bytes | None:
        deadline = self.body_deadline
        while not self.body_done:
            read = self.asgi_receive  # (drop_body changes it)
            if self._heard:  # what a watch read ahead comes first
                message = self._take_heard()
            else:
                if self._heard is not None and self.body_watch is not None:
                    read = self._wait_heard  # the watch reads ahead: wait for it
                elif self.held_receive is not None:  # a finished watch's call first
                    held, self.held_receive = self.held_receive.take_held(), None
                    if held is not None:
                        read = _returning(held)
                self._awaiting = True  # a reader goes on: see body_awaited
                try:
                    if deadline is None:
                        message = await read()
                    else:
                        message = await before(read(), deadline, BodyTimeout)
                finally:
                    self._awaiting = False
            if message["type"] == "http.disconnect":
                raise ClientDisconnected()
            if message is _WOKEN:
                continue
            chunk = message.get("body", b"")
            if not message.get("more_body", False):
                self.body_done = True  # before a 413: nothing more will come
                if self.on_body_end is not None:
                    self.on_body_end()
            if chunk:
                self._received += len(chunk)
                limit = self._body_limit
                if limit is not None and self._received > limit:
                    # Nobody reads on: what a watch heard ahead may hold its end.
                    self.body_abandoned = True
                    raise RequestEntityTooLarge()
                return chunk  # type: ignore[no-any-return]
        return None

    def _take_heard(self) -> Message:
        assert self._heard is not None
        message: Message = self._heard.popleft()
        body = message.get("body", b"")
        self._heard_bytes -= len(body) + _MESSAGE_COST
        if body.__class__ is bytearray:  # parts joined (see body_heard)
            message["body"] = bytes(body)
        if self._paused and self._heard_bytes < BUFFERED:
            self._paused = False
            assert self.body_watch is not None
            self.body_watch.resume()  # taken: the watch may read on
        return message

    def _wait_heard(self) -> Awaitable[Message]:
        # Woken by the watch's next message, or when it stops (then: receive()).
        assert self.body_watch is not None
        self.body_watch.read_ahead()  # a watch that took over may not read ahead yet
        waiter = self._heard_waiter = asyncio.get_running_loop().create_future()
        return waiter

    def read_by_watch(self, watch: Listener | None) -> None:
        """*watch* (a disconnect watch) reads the body ahead of the view, which waited
        before reading it: a client that left is heard. ``None``: it stopped."""
        self.body_watch = watch
        if watch is not None:
            if self._heard is None:
                self._heard = deque()
        elif self._heard is not None:
            self._paused = False
            self._wake()

    def _wake(self) -> None:
        waiter = self._heard_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(_WOKEN)

    def body_heard(self, message: Message, most: int = BUFFERED) -> bool:
        """Keep a message the watch reading ahead received, for the body's read. False:
        all of it is here, or *most* bytes wait for a read (the watch pauses, so
        a client can't make a held request hold its body; the read resumes it)."""
        heard = self._heard
        assert heard is not None
        body = message.get("body", b"")
        more = message.get("more_body", False)
        last = heard[-1] if heard else None
        if more and last is not None and last.get("more_body"):
            # Parts after one kept join it: small ones would each cost a dict of their own.
            joined = last["body"]
            if "joined" not in last:  # ours: a server's own bytearray stays its own
                joined = bytearray(joined)
                heard[-1] = {"type": "http.request", "body": joined, "more_body": True}
                heard[-1]["joined"] = True
            joined += body
            self._heard_bytes += len(body)
        elif body or not more:  # an empty part (an HTTP/2 frame) carries nothing
            heard.append(message)
            self._heard_bytes += len(body) + _MESSAGE_COST  # its dict costs too
        if message["type"] == "http.request" and not more:
            self.body_watch = None  # all of it is here: the watch only watches now
            self._heard_all = True
        self._wake()
        self._paused = self.body_watch is not None and self._heard_bytes >= most
        return not self._paused

    def body_awaited(self) -> bool:
        """True while a read waits for the body's next message: it goes on."""
        return self._awaiting

    def body_dropped(self) -> bool:
        """True once what is left of the body is dropped (see :meth:`drop_body`)."""
        return self._dropped

    def body_taken(self) -> None:
        """The disconnect watch took the body's last message: reads must not wait."""
        if not self._body_started or self.body_abandoned:
            self.body_done = True

    def body_untaken(self) -> bool:
        """True until the body's last message is taken (by a read or a watch)."""
        return not (self.body_done or self._heard_all)

    def body_reading(self) -> bool:
        """True while the body is being read (begun, not done nor abandoned)."""
        return self._body_started and not (self.body_done or self.body_abandoned)

    def body_finished(self) -> bool:
        """True when no more body messages will arrive (read, heard, or none sent)."""
        if self.body_done or self._dropped:
            return True
        if self._body_started:
            return self.body_abandoned and self._heard_all
        if self._framed():
            return self._heard_all  # a watch may have read it ahead
        if self.scope.get("http_version", "1.1").startswith("1"):
            return True  # HTTP/1.x without framing headers has no body (RFC 9112 6.3)
        # HTTP/2 and 3 frame bodies themselves: unless the method rarely has one, wait.
        return self._heard_all or self.method in _BODILESS_METHODS

    def _framed(self) -> bool:
        # A body announced: a Transfer-Encoding, or a Content-Length other than 0.
        for name, value in self.scope["headers"]:
            if name == b"transfer-encoding" or (
                name == b"content-length" and value != b"0"
            ):
                return True
        return False

    def drop_at_end(self, failure: BaseException | None = None) -> None:
        """Let the response's last message drop the body's unread rest (a read stopped
        short, or a watch began early: DropBeforeEnd); not per read: it costs ~9%.
        A *failure* (a 413, a 408, a disconnect) is what a later read raises too."""
        if isinstance(failure, _BODY_FAILURES):  # not b"", a body with a gap
            self._body_failed = copy.copy(failure)  # (no traceback: no frames kept)
        send = self.asgi_send
        if send is not None and send.__class__ is not DropBeforeEnd:
            self.asgi_send = DropBeforeEnd(send, self)

    def drop_body(self, dropper: Listener) -> int:
        """The response ends before the body was all in: *dropper* drops the rest, and
        a read now hears that the client is gone (not a gap), to the body's end or
        ``http.disconnect`` (sent once the response is). Returns the bytes received."""
        watch, held, heard = self.body_watch, self.held_receive, self._heard or ()
        if watch not in (None, dropper) and watch.stop_listening(keep=True):
            held = watch  # the watch reading ahead hands its pending receive() over
        self.held_receive = self.body_watch = self._heard = None
        self._dropped = True  # (not the dropper: it reads on alone, no cycle)
        dropper.listen(self.asgi_receive, held)
        self.asgi_receive = _gone
        self._wake()
        return self._received + sum(len(m.get("body", b"")) for m in heard)

    async def send_push_promise(self, path: str) -> None:
        """Ask an HTTP/2 or 3 server to push *path* (``http.response.push``); no-op otherwise."""
        extensions = self.scope.get("extensions") or {}
        if "http.response.push" not in extensions or self.asgi_send is None:
            return
        headers = [
            (name, value)
            for name, value in self.scope["headers"]
            if name in _PUSHED_HEADERS
        ]
        await self.asgi_send(
            {"type": "http.response.push", "path": path, "headers": headers}
        )

    async def get_body_file(self) -> IO[bytes]:
        """The body as a rewound file, on disk past ``BODY_SPOOL_SIZE``; closed with the request."""
        body_file = self._body_file
        if body_file is None:
            if self._data is not None or (
                self._body_started and not self.body_reading()
            ):
                if self._data is None and (failed := self._body_failed) is not None:
                    raise copy.copy(failed)  # again, as Flask's and Quart's reads do
                body_file = BytesIO(self._data or b"")  # read already: what is cached
            else:
                limit = self._config("BODY_SPOOL_SIZE", 1024 * 1024)
                body_file = SpooledTemporaryFile(max_size=limit)
                written = 0
                try:
                    async for chunk in self._iter_body():
                        written += len(chunk)
                        if written > limit:
                            # On disk now: keep blocking writes off the event loop.
                            await asyncio.to_thread(body_file.write, chunk)
                        else:
                            body_file.write(chunk)
                except BaseException:
                    FileStorage.close_stream(body_file)  # a cut big body too
                    raise
            self._body_file = body_file
        body_file.seek(0)
        return body_file

    @overload
    async def get_data(
        self,
        cache: bool = ...,
        as_text: Literal[False] = ...,
        parse_form_data: bool = ...,
    ) -> bytes: ...
    @overload
    async def get_data(
        self, cache: bool = ..., *, as_text: Literal[True], parse_form_data: bool = ...
    ) -> str: ...
    @overload
    async def get_data(
        self, cache: bool = ..., as_text: bool = ..., parse_form_data: bool = ...
    ) -> bytes | str: ...
    async def get_data(
        self, cache: bool = True, as_text: bool = False, parse_form_data: bool = False
    ) -> bytes | str:
        """Read the whole body (bytes, or str with *as_text*), caching it by default."""
        if parse_form_data:
            await self._load_form_data()
        data = self._data
        if data is None:
            if not self._body_started:
                # No async generator: most bodies are one message, taken as is (1 us).
                self._start_body()
                self._whole = _READING
                try:
                    data = await self._next_chunk() or b""
                    if data.__class__ is not bytes or not self.body_done:
                        buffer = bytearray(data)
                        while (chunk := await self._next_chunk()) is not None:
                            buffer += chunk
                        data = bytes(buffer)
                except BaseException as error:  # a 413, a 408: nobody reads the rest
                    self.drop_at_end(error)
                    self._shared(error)
                    raise
                finally:
                    self.body_deadline = None
                if self._whole is not _READING:
                    self._shared(data)
            elif (whole := self._whole) is not None and self.body_reading():  # share
                if whole is _READING:
                    whole = self._whole = asyncio.get_running_loop().create_future()
                data = bytes(await asyncio.shield(whole))
            elif (failed := self._body_failed) is not None:
                raise copy.copy(failed)  # again, as Flask's and Quart's reads do
            else:
                data = b""  # form parsing or streaming took it
            if cache:
                self._data = data
        # Always UTF-8 (werkzeug 3): a client's charset must never reach the codec registry.
        return data.decode("utf-8", "replace") if as_text else data

    def _shared(self, outcome: bytes | BaseException) -> None:
        # The whole-body read is over: the tasks waiting for it get what it got.
        whole, self._whole = self._whole, None
        if whole is _READING:
            return
        if isinstance(outcome, bytes):
            return whole.set_result(outcome)  # type: ignore[no-any-return]
        told = isinstance(outcome, Exception | ClientDisconnected)  # else a cancel
        whole.set_exception(outcome if told else RuntimeError("the read was cancelled"))

    @property
    def data(self) -> Coroutine[Any, Any, bytes]:
        """``await request.data``: the body as bytes."""
        return self.get_data()

    async def get_json(
        self, force: bool = False, silent: bool = False, cache: bool = True
    ) -> Any:
        """Parse the body as JSON; ``None`` if not JSON (unless *force*).

        Invalid JSON is the client's: a 400, or ``None`` with *silent*."""
        cached = self._json_silent if silent else self._json
        if cache and cached is not _UNSET:
            return cached
        if not (force or self.is_json):
            return None
        data = await self.get_data(cache=cache)
        try:
            loads = self._app.json.loads if self._app is not None else _json.loads
            result = loads(data)
        except (ValueError, RecursionError) as error:
            if silent:
                result = None
                if cache:
                    self._json_silent = None
            else:  # an override's return value stands in for the body, as in Quart
                result = self.on_json_loading_failed(error)
                if cache:
                    self._json = result
            return result
        if cache:
            self._json = self._json_silent = result
        return result

    def on_json_loading_failed(self, error: Exception) -> Any:
        """Raise a 400 for a body that is not valid JSON, naming the parser's error in
        debug mode only (as Flask and Quart); override to change that."""
        if self._config("DEBUG", False):
            raise BadRequest(f"Failed to decode JSON object: {error}")
        raise BadRequest()

    @property
    def json(self) -> Coroutine[Any, Any, Any]:
        """``await request.json``: the parsed JSON body."""
        return self.get_json()

    async def _load_form_data(self) -> None:
        if self._form is not None:
            return
        if self._whole is not None and self.body_reading():
            await self.get_data()  # another task's get_data() reads it: share
            return await self._load_form_data()  # read: parsed (or parsing) meanwhile?
        if (parsing := self._parsing) is not None:  # another task's form or files
            if parsing is _READING:  # the first to wait makes the future (rare)
                parsing = self._parsing = asyncio.get_running_loop().create_future()
            await asyncio.shield(parsing)  # its outcome: the body is read once
            return
        if self._data is None and (failed := self._body_failed) is not None:
            raise copy.copy(failed)
        if self._data is None and self._body_started and not self.body_reading():
            # Streamed or read uncached: empty, as in Flask and Quart (not a 500).
            self._form = self._files = self.parameter_storage_class()
            return
        from ..formparser import parser_for

        parser = parser_for(self)  # its limits, storage and form_data_parser_class
        self._parsing = _READING  # no future until another task waits
        # A body already read as data is iterated from the cache.
        body = self._iter_body()
        try:
            form, files = await parser.parse(body, self.mimetype, self.mimetype_params)
        except BaseException as error:  # over a form limit: nobody reads the rest
            self.drop_at_end(error)
            if (parsing := self._parsing) is not _READING:  # waiters: the outcome
                shared: BaseException = RuntimeError("the read was cancelled")
                if isinstance(error, Exception | ClientDisconnected):  # not a cancel
                    try:  # a copy; an app's error copy() can't remake: itself
                        shared = copy.copy(error)
                    except Exception:
                        shared = error
                parsing.set_exception(shared)
                parsing.exception()  # retrieved: no "never retrieved" log
            self._parsing = None
            # A parse that stopped mid-body (a malformed part) leaves the iterator
            # open: closed now, the body is over, as for a broken-off `async for`,
            # whatever the split; not when the garbage collector gets to it.
            await body.aclose()
            raise
        parsing, self._parsing = self._parsing, None
        self._form, self._files = form, files
        if parsing is not _READING:
            parsing.set_result(None)

    async def _get_form(self) -> MultiDict[str, str]:
        await self._load_form_data()
        assert self._form is not None
        return self._form

    async def _get_files(self) -> MultiDict[str, FileStorage]:
        await self._load_form_data()
        assert self._files is not None
        return self._files

    async def _get_values(self) -> CombinedMultiDict[str, str]:
        if self.method == "GET":
            # As werkzeug: a cache keyed on the URL would not see what a GET's body says.
            return CombinedMultiDict([self.args])
        form = await self._get_form()  # a parser's plain dict too, as werkzeug's values
        form = form if isinstance(form, MultiDict) else MultiDict(form)
        return CombinedMultiDict([self.args, form])

    # "coroutine 'Request.form' was never awaited" names what the user wrote.
    _get_form.__qualname__ = "Request.form"
    _get_files.__qualname__ = "Request.files"
    _get_values.__qualname__ = "Request.values"

    @property
    def form(self) -> Coroutine[Any, Any, MultiDict[str, str]]:
        """``await request.form``: url-encoded or multipart fields."""
        return self._get_form()

    @property
    def files(self) -> Coroutine[Any, Any, MultiDict[str, FileStorage]]:
        """``await request.files``: uploaded files of a multipart body."""
        return self._get_files()

    @property
    def values(self) -> Coroutine[Any, Any, CombinedMultiDict[str, str]]:
        """``await request.values``: ``args`` and ``form`` combined (``args`` alone for GET)."""
        return self._get_values()


async def _gone() -> Message:
    return {"type": "http.disconnect"}


def _returning(awaitable: Awaitable[Any]) -> Callable[[], Awaitable[Any]]:
    return lambda: awaitable  # called once, as _next_chunk calls receive


_BODY_FAILURES = (ClientDisconnected, BodyTimeout, RequestEntityTooLarge)
