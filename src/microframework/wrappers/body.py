"""``body.py``: the kinds of streamed response body, each of which sends itself.

Rule: a :class:`ResponseBody` yields bytes chunks, closes its source when done or
abandoned, and sends itself after ``http.response.start`` (by default through the
dispatcher's *stream*). Adding a kind of body is one subclass.
"""

from __future__ import annotations

import asyncio
import inspect
import io
from collections.abc import AsyncIterable
from collections.abc import AsyncIterator
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Coroutine
from collections.abc import Iterable
from types import AsyncGeneratorType
from typing import Any
from typing import IO
from typing import Protocol
from typing import Self
from typing import TYPE_CHECKING

from ..exceptions import ClientDisconnected

if TYPE_CHECKING:
    from ..typing import Message
    from ..typing import Scope
    from ..typing import Send


#: What a server's transport takes before its send() waits for the client to read:
#: past it, a send is watched, so a client that stops reading can't hold a response.
BUFFERED = 65536


class StreamSender(Protocol):
    """The dispatcher's streamer: sends *start*, chunks and end; False if abandoned."""

    def __call__(
        self, body: ResponseBody, start: Message | None = None
    ) -> Awaitable[bool]: ...


#: An event stream's keep-alive comment: this very object, so a send can tell it apart.
KEEP_ALIVE = b": keep-alive\n\n"


def encode_chunk(chunk: Any) -> bytes:
    """A body chunk as bytes: ``str`` is UTF-8 encoded; other types are the app's bug."""
    if isinstance(chunk, bytes):
        return chunk
    if isinstance(chunk, str):
        return chunk.encode()
    if isinstance(chunk, (bytearray, memoryview)):
        return bytes(chunk)
    raise TypeError(
        f"response body chunks must be bytes or str, not {type(chunk).__name__}"
    )


class ResponseBody:
    """A streamed body: an async iterable of bytes that knows how to send itself."""

    __slots__ = ()

    #: What ``Response.response`` returns: the iterable the app gave, if any.
    @property
    def source(self) -> Any:
        return self

    @property
    def content_length(self) -> int | None:
        """The number of bytes the body will produce, if known in advance."""
        return None

    def __aiter__(self) -> AsyncIterator[bytes]:
        raise NotImplementedError

    def chunks(self) -> tuple[AsyncIterator[Any], Callable[[Any], bytes] | None]:
        """An async iterator, and what makes bytes of its items (``None``: bytes)."""
        return aiter(self), None

    async def aclose(self) -> None:
        """Release the source (called once, whether or not the body was sent)."""

    def send(self, scope: Scope, send: Send, stream: StreamSender) -> Awaitable[bool]:
        """Send the body messages after ``http.response.start``; False if abandoned."""
        return stream(self)  # no coroutine of ours stays alive beside each stream

    # Quart's protocol: ``async with body as chunks: async for chunk in chunks``.
    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


class AsyncIterableBody(ResponseBody):
    """A body from an async iterable or async generator of ``bytes``/``str``."""

    __slots__ = ("source",)
    source: AsyncIterable[Any]

    def __init__(self, source: AsyncIterable[Any]) -> None:
        self.source = source

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self.source:
            yield encode_chunk(chunk)

    def chunks(self) -> tuple[AsyncIterator[Any], Callable[[Any], bytes] | None]:
        # No generator of ours around the app's (a frame per stream, a layer per chunk).
        return aiter(self.source), encode_chunk

    def aclose(self) -> Coroutine[Any, Any, None]:
        # No frame of its own: a stream's teardown is its peak memory.
        return close_source(self.source)


class IterableBody(ResponseBody):
    """A body from a sync iterable: lists are read in place, anything else in a thread.

    An async iterable is read as :class:`AsyncIterableBody` reads it, as Quart's
    ``IterableBody`` takes either."""

    __slots__ = ("source", "_step")
    source: Iterable[Any] | AsyncIterable[Any]

    def __init__(self, source: Iterable[Any] | AsyncIterable[Any]) -> None:
        self.source = source
        self._step: asyncio.Future[Any] | None = None

    async def __aiter__(self) -> AsyncIterator[bytes]:
        source = self.source
        if isinstance(source, (list, tuple, bytes, str)):
            for chunk in source:
                yield encode_chunk(chunk)
            return
        if isinstance(source, AsyncIterable):
            async for chunk in source:
                yield encode_chunk(chunk)
            return
        iterator = iter(source)
        done = object()
        while True:
            self._step = step = asyncio.ensure_future(
                asyncio.to_thread(next, iterator, done)
            )
            chunk = await asyncio.shield(step)  # aclose() waits for the running step
            self._step = None
            if chunk is done:
                return
            yield encode_chunk(chunk)

    async def aclose(self) -> None:
        step, self._step = self._step, None
        if step is not None and not step.done():
            # Closing a running generator raises, and the thread cannot be interrupted:
            # wait out its step (a cancel of ours stops the wait; the step runs on,
            # and the generator is closed when it is collected).
            await outlive(asyncio.shield(step), BaseException)
        await close_source(self.source)


class DataBody(ResponseBody):
    """Quart's bytes body: a ``Response`` given one (or assigned one) sends bytes."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data

    @property
    def content_length(self) -> int:
        return len(self.data)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self.data


class IOBody(ResponseBody):
    """Quart's ``BytesIO`` body: the whole stream from its start, ``buffer_size`` at a
    time. The stream stays open, as in Quart: it is the app's, to send again."""

    __slots__ = ("io_stream", "buffer_size", "_length")

    def __init__(self, io_stream: IO[bytes], *, buffer_size: int | None = None) -> None:
        self.io_stream = io_stream
        self.buffer_size = buffer_size or 8192  # Quart's
        self._length: int | None = None
        if io_stream.seekable():
            here = io_stream.tell()
            self._length = io_stream.seek(0, io.SEEK_END)
            io_stream.seek(here)

    @property
    def content_length(self) -> int | None:
        return self._length

    async def __aiter__(self) -> AsyncIterator[bytes]:
        # From the start, as Quart: a buffer just written need not be rewound first.
        if self._length is not None:
            self.io_stream.seek(0)
        # Read in the loop, as Quart does: meant for memory (a file is FileBody's).
        while chunk := self.io_stream.read(self.buffer_size):
            yield chunk


class WriterBody(ResponseBody):
    """A body written by ``async def body(write)``: each ``await write(chunk)`` sends one.

    The writer runs in its own task, cancelled when the body is closed; a ``write()``
    after that (in its ``finally``, say) raises :class:`ClientDisconnected`.
    """

    __slots__ = ("source", "_task", "_drained")
    source: Callable[[Callable[[Any], Awaitable[None]]], Awaitable[Any]]

    def __init__(
        self, writer: Callable[[Callable[[Any], Awaitable[None]]], Awaitable[Any]]
    ) -> None:
        self.source = writer
        self._task: asyncio.Task[None] | None = None
        self._drained: asyncio.Event | None = None  # None again once closed

    async def __aiter__(self) -> AsyncIterator[bytes]:
        chunks: asyncio.Queue[Any] = asyncio.Queue()
        self._drained = drained = asyncio.Event()
        done = object()

        async def write(chunk: Any) -> None:
            if self._drained is None:  # closed: nothing will send or drain it
                raise ClientDisconnected()
            drained.clear()
            chunks.put_nowait(encode_chunk(chunk))
            await drained.wait()
            if self._drained is None:  # woken by aclose(), not by a send
                raise ClientDisconnected()

        async def run() -> None:
            try:
                await self.source(write)
            finally:
                chunks.put_nowait(done)

        self._task = task = asyncio.create_task(run())
        while (chunk := await chunks.get()) is not done:
            yield chunk
            drained.set()
        await task  # re-raise the writer's error, if any

    async def aclose(self) -> None:
        task, self._task = self._task, None
        drained, self._drained = self._drained, None
        if drained is not None:
            drained.set()  # a write() waiting (in another task, say) raises
        if task is not None and not task.done():
            task.cancel()
            await outlive(task, asyncio.CancelledError)


def make_body(value: Any) -> ResponseBody:
    """Wrap what a view gave as a body: a body kind, writer, or (async) iterable."""
    if isinstance(value, ResponseBody):
        return value
    if value.__class__ is AsyncGeneratorType or isinstance(value, AsyncIterable):
        return AsyncIterableBody(value)
    if isinstance(value, Iterable):
        return IterableBody(value)
    if callable(value):
        return WriterBody(value)
    raise TypeError(
        f"response body must be bytes, str or an iterable, not {type(value).__name__}"
    )


async def outlive(waiting: Awaitable[Any], ignored: type[BaseException]) -> None:
    """Wait for what is being closed, ignoring its *ignored* errors but not a cancel
    of the closing task (a server shutting down) that comes meanwhile."""
    task = asyncio.current_task()
    assert task is not None
    cancels = task.cancelling()
    try:
        await waiting
    except ignored:
        if task.cancelling() > cancels:
            raise
        return
    if task.cancelling() > cancels:
        # The cancel reached the awaited task, which swallowed it: ours still stands.
        raise asyncio.CancelledError


async def close_source(source: object) -> None:
    """Close an iterable the app gave: ``aclose()`` (awaited if needed) or ``close()``."""
    aclose = getattr(source, "aclose", None)
    if aclose is not None:
        result = aclose()
        if source.__class__ is AsyncGeneratorType or inspect.isawaitable(result):
            await result
        return
    close = getattr(source, "close", None)
    if close is not None:
        close()
