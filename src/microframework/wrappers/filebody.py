"""``filebody.py``: a file as a response body, read in chunks or handed to the server.

Rule: a file is never read whole: ``CHUNK_SIZE`` at a time (aiofiles, imported lazily,
for a path; a thread for a file object), unless the server sends it by path or descriptor.
"""

from __future__ import annotations

import asyncio
import inspect
import io
import os
from collections.abc import AsyncIterator
from collections.abc import Awaitable
from collections.abc import Callable
from contextlib import suppress
from typing import Any
from typing import IO
from typing import Protocol
from typing import TYPE_CHECKING
from typing import TypeVar

from ..conditional import PartialContent
from ..conditional import Spans
from ..exceptions import ClientDisconnected
from ..globals import without_context
from .body import ResponseBody
from .body import StreamSender

if TYPE_CHECKING:
    from ..typing import Scope
    from ..typing import Send


class _Closable(Protocol):
    def close(self) -> Any: ...


_File = TypeVar("_File", bound=_Closable)

#: Bytes read (and sent in one ``http.response.body`` message) at a time.
CHUNK_SIZE = 64 * 1024
#: File objects whose seek() is cheap; others (a zip member) may read up to the position.
CHEAP_SEEK = (io.BytesIO, io.FileIO, io.BufferedReader, io.BufferedRandom)


class FileBody(ResponseBody):
    """A response body read from a file in ``CHUNK_SIZE`` (or *buffer_size*) pieces.

    Give exactly one of *path* and *file* (closed once the body is done); several
    *ranges* are sent as ``multipart/byteranges``."""

    __slots__ = (
        "path", "file", "size", "offset", "parts", "buffer_size", "_active", "opened"
    )  # fmt: skip

    def __init__(
        self,
        path: str | None = None,
        file: IO[bytes] | None = None,
        size: int | None = None,
        *,
        offset: int = 0,
        ranges: Spans | None = None,
        content_type: str | None = "application/octet-stream",
        buffer_size: int | None = None,
        opened: IO[bytes] | None = None,
    ) -> None:
        if (path is None) == (file is None):
            raise TypeError("FileBody needs exactly one of 'path' and 'file'")
        if ranges is not None and size is None:
            raise ValueError("FileBody 'ranges' need a known 'size'")
        if buffer_size is not None and buffer_size < 1:
            raise ValueError(f"FileBody 'buffer_size' must be 1 or more: {buffer_size}")
        self.path = path
        self.file = file
        self.size = size
        self.offset = offset
        self.parts: PartialContent | None = None  # what a 206 of *ranges* sends
        if ranges is not None and size is not None:
            self.parts = PartialContent(ranges, size, content_type)
        self.buffer_size = buffer_size  # the bytes read at a time; Quart's keyword
        self._active: AsyncIterator[bytes] | None = None
        # send_file's: *path* opened when the response was made (as werkzeug does), so
        # a file removed or replaced since (an after_this_request clean-up) still sends
        # what the headers describe. Read from it; the server gets *path* only while
        # it is still this file.
        self.opened = opened

    @property
    def content_length(self) -> int | None:
        return self.size if self.parts is None else self.parts.length

    def __aiter__(self) -> AsyncIterator[bytes]:
        self._active = self._chunks()
        return self._active

    async def _chunks(self) -> AsyncIterator[bytes]:
        if self.path is not None and self.opened is None:
            import aiofiles

            handle = await _open(aiofiles.open(self.path, "rb"))
            try:
                async for chunk in self._spans(handle.seek, handle.read):
                    yield chunk
            finally:
                await handle.close()
            return
        file = self.file if self.opened is None else self.opened
        assert file is not None
        if isinstance(file, io.BytesIO):  # in memory: reading cannot block

            async def read(size: int) -> bytes:
                await asyncio.sleep(0)  # a turn for the loop: a client gone is heard
                return file.read(size)
        else:

            async def read(size: int) -> bytes:
                return await asyncio.to_thread(file.read, size)

        async def seek(position: int) -> int:
            if isinstance(file, CHEAP_SEEK):
                return file.seek(position)
            return await asyncio.to_thread(file.seek, position)

        async for chunk in self._spans(seek, read):
            yield chunk

    async def _spans(
        self,
        seek: Callable[[int], Awaitable[Any]],
        read: Callable[[int], Awaitable[bytes]],
    ) -> AsyncIterator[bytes]:
        chunk_size = self.buffer_size or CHUNK_SIZE  # read per body: tests shrink it
        if self.size is None:  # a pipe-like file object: read to the end
            while chunk := await read(chunk_size):
                yield chunk
            return
        parts = self.parts
        spans = [(0, self.size)] if parts is None else parts.spans
        heads = [b""] if parts is None else parts.heads
        for head, (start, stop) in zip(heads, spans, strict=True):
            if head:
                yield head
            await seek(self.offset + start)
            remaining = stop - start
            while remaining > 0:
                chunk = await read(min(chunk_size, remaining))
                if not chunk:
                    # Content-Length is out: a short body must not look complete.
                    raise RuntimeError(
                        f"{self.path or 'file'} ended {remaining} bytes early;"
                        " it changed while being sent"
                    )
                remaining -= len(chunk)
                yield chunk
        if parts is not None and parts.tail:
            yield parts.tail

    async def aclose(self) -> None:
        """Stop reading and close the file (a file object passed in too)."""
        active, self._active = self._active, None
        aclose = getattr(active, "aclose", None)
        if aclose is not None:
            await aclose()
        for file in (self.file, self.opened):
            close = getattr(file, "close", None)  # a reader may have none (as werkzeug)
            if close is not None:
                close()

    def _let_go(self) -> None:
        opened, self.opened = self.opened, None
        if opened is not None:
            opened.close()

    async def send(self, scope: Scope, send: Send, stream: StreamSender) -> bool:
        """Let the server send the file if it offers to and can; else stream the chunks."""
        parts = self.parts
        if self.path is None or self.size is None or (parts and len(parts.spans) > 1):
            return await stream(self)
        extensions = scope.get("extensions") or {}
        runs_after = getattr(stream, "runs_after", None)  # (a bare one: nothing does)
        # pathsend sends the whole file: not for a slice of it (offset, size), nor
        # once the path names another file than the one opened (removed or replaced
        # since: what was opened is streamed), nor when the app runs code once the
        # response is sent (a teardown or call_on_close that removes a temporary
        # file): granian opens the path after its send() returned, and would find
        # it gone (its own 404). Only a send's OSError is a client gone: a file gone
        # is an error.
        whole = (
            parts is None
            and "http.response.pathsend" in extensions
            and not (runs_after is not None and runs_after())
            and self.offset == 0
            and (
                _still(self.path, self.opened, self.size)
                if self.opened is not None
                else os.path.getsize(self.path) == self.size
            )
        )
        if whole:
            self._let_go()  # the server opens it itself
            end = {"type": "http.response.pathsend", "path": self.path}
            await _sending(without_context(send(end)))  # the last message
            return True
        if "http.response.zerocopysend" not in extensions:
            return await stream(self)
        start, stop = (0, self.size) if parts is None else parts.spans[0]
        file, self.opened = self.opened, None  # send_file's: the one described
        if file is None:  # gone: an error
            file = await _open(asyncio.to_thread(open, self.path, "rb"))
        try:
            message = {"type": "http.response.zerocopysend", "file": file}
            span = {"offset": self.offset + start, "count": stop - start}
            await _sending(
                without_context(send({**message, **span, "more_body": False}))
            )
        finally:
            file.close()
        return True


def _still(path: str, opened: IO[bytes], size: int) -> bool:
    """Whether *path* still names the file *opened* is, still of the *size* described
    (an fstat of *opened* is that same file's size now: no help)."""
    try:
        now, then = os.stat(path), os.fstat(opened.fileno())
    except (OSError, ValueError):
        return False
    return (now.st_dev, now.st_ino, now.st_size) == (then.st_dev, then.st_ino, size)


async def _sending(sending: Awaitable[None]) -> None:
    try:
        await sending
    except OSError as exc:
        raise ClientDisconnected() from exc  # some servers raise once the peer left


async def _open(opening: Awaitable[_File]) -> _File:
    """Await a file being opened in a thread; if cancelled, close it when it opens."""
    task = asyncio.ensure_future(opening)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        with suppress(Exception):
            closing = (await task).close()
            if inspect.isawaitable(closing):  # aiofiles closes in a thread too
                await closing
        raise
