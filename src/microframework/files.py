"""``files.py``: files as responses: ``send_file``, ``send_from_directory`` and ``safe_join``.

Rules:

- A file is never read whole. Its body is a :class:`FileBody`, read ``CHUNK_SIZE`` bytes at
  a time with aiofiles (imported on first use, so ``import microframework`` does not load
  it), or handed to the server by path (``http.response.pathsend``) or by descriptor
  (``http.response.zerocopysend``) when the server offers to send it itself.
- Every path that comes from a URL goes through :func:`safe_join`: segment by segment
  first, then the resolved real path (symlinks followed) must lie inside the folder.
  Anything doubtful is a 404, never an error page that says why.
- Conditional requests are answered before the view returns, in RFC 9110 13.2.2's order:
  ``If-Match``, ``If-Unmodified-Since``, ``If-None-Match``, ``If-Modified-Since``, then
  ``Range`` (guarded by ``If-Range``). Ranges are sorted and merged, overlapping or
  adjacent ones into one; more than ``MAX_RANGES`` left after merging, a malformed
  header or another unit means the header is ignored and the whole file sent (RFC 9110
  14.2 lets a server ignore ``Range``); none satisfiable is a 416.
"""

from __future__ import annotations

import asyncio
import io
import mimetypes
import os
import secrets
import stat
import time
import unicodedata
import zlib
from collections.abc import AsyncIterator
from collections.abc import Awaitable
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta
from datetime import UTC
from typing import Any
from typing import IO
from typing import TYPE_CHECKING
from urllib.parse import quote

from werkzeug.datastructures import Headers
from werkzeug.exceptions import NotFound
from werkzeug.exceptions import PreconditionFailed
from werkzeug.exceptions import RequestedRangeNotSatisfiable
from werkzeug.http import http_date
from werkzeug.http import parse_date
from werkzeug.http import parse_etags
from werkzeug.http import quote_etag
from werkzeug.http import quote_header_value
from werkzeug.http import unquote_etag

from .exceptions import ClientDisconnected
from .globals import _cv_app
from .wrappers.response import Response

if TYPE_CHECKING:
    from .typing import Scope
    from .typing import Send
    from .wrappers.request import Request

#: Bytes read (and sent in one ``http.response.body`` message) at a time.
CHUNK_SIZE = 64 * 1024
#: The most ranges one response carries after merging; beyond it ``Range`` is ignored.
MAX_RANGES = 10

# RFC 5987 attr-char, minus what quote() always keeps (letters, digits, "_.-~").
_ATTR_CHARS = "!#$&+^`|"
_WINDOWS_DEVICES = frozenset(
    {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"}
    | {f"{kind}{n}" for kind in ("COM", "LPT") for n in range(1, 10)}
)
# Anything longer is bigger than any file; int() on it would only burn CPU.
_MAX_DIGITS = 18


# -- paths -----------------------------------------------------------------------
def safe_join(directory: str | os.PathLike[str], *pathnames: str) -> str | None:
    """Join *pathnames* under *directory*, or ``None`` if the result could leave it.

    Each ``/``-separated segment is checked (no absolute parts, ``..``, NUL,
    backslashes or Windows drive and device names), then the real path, with symlinks
    resolved, must be inside the real *directory*.
    """
    base = os.fspath(directory) or "."
    segments: list[str] = []
    for pathname in pathnames:
        if not isinstance(pathname, str):
            raise TypeError(f"safe_join() path parts must be str, not {pathname!r}")
        if "\x00" in pathname or "\\" in pathname or pathname.startswith("/"):
            return None
        for segment in pathname.split("/"):
            if segment in ("", "."):
                continue
            if segment == ".." or _is_windows_name(segment):
                return None
            segments.append(segment)
    joined = os.path.join(base, *segments)
    real_base = os.path.realpath(base)
    real = os.path.realpath(joined)
    # A common-path test, not a string prefix: "/srv/static-old" is not in "/srv/static".
    if os.path.commonpath((real_base, real)) != real_base:
        return None
    return joined


def _is_windows_name(segment: str) -> bool:
    # "C:" (a drive) or "C:x" (drive-relative) make the join absolute on Windows.
    if len(segment) >= 2 and segment[1] == ":" and segment[0].isascii():
        return True
    if os.name == "nt":
        stem = segment.partition(".")[0].rstrip(" ").upper()
        return stem in _WINDOWS_DEVICES or segment.endswith((" ", "."))
    return False


def _lookup(directory: str, path: str) -> tuple[str, os.stat_result] | None:
    joined = safe_join(directory, path)
    if joined is None:
        return None
    try:
        result = os.stat(joined)
    except (OSError, ValueError):
        return None
    if not stat.S_ISREG(result.st_mode):
        return None
    return joined, result


# -- ranges ----------------------------------------------------------------------
def parse_byte_ranges(header: str, size: int) -> list[tuple[int, int]] | None:
    """The satisfiable ``(start, stop)`` spans of a ``Range`` header, sorted and merged.

    ``None`` means "ignore the header and send the whole file": another unit, bad
    syntax, an empty file or more than ``MAX_RANGES`` spans after merging. An empty
    list means no range is satisfiable (416). Linear in the header, apart from the sort.
    """
    unit, equals, specs = header.partition("=")
    if not equals or unit.strip().lower() != "bytes" or size <= 0:
        return None
    spans: list[tuple[int, int]] = []
    seen = False
    for raw in specs.split(","):
        spec = raw.strip(" \t")
        if not spec:
            continue  # RFC 9110 5.6.1: empty list elements are allowed
        first, dash, last = spec.partition("-")
        if not dash:
            return None
        seen = True
        if first:
            start = _digits(first)
            end = _digits(last) if last else size - 1
            if start is None or end is None or (last and end < start):
                return None
            if start < size:
                spans.append((start, min(end, size - 1) + 1))
        else:
            suffix = _digits(last)
            if suffix is None:
                return None
            if suffix > 0:
                spans.append((max(size - suffix, 0), size))
    if not seen:
        return None
    if not spans:
        return []
    spans.sort()
    merged = [spans[0]]
    for start, stop in spans[1:]:
        last_start, last_stop = merged[-1]
        if start <= last_stop:
            if stop > last_stop:
                merged[-1] = (last_start, stop)
        else:
            merged.append((start, stop))
    return None if len(merged) > MAX_RANGES else merged


def _digits(text: str) -> int | None:
    text = text.strip(" \t")
    if not text or not text.isascii() or not text.isdigit():
        return None
    return int(text) if len(text) <= _MAX_DIGITS else 10**_MAX_DIGITS


# -- the body --------------------------------------------------------------------
class FileBody:
    """A response body read from a file in ``CHUNK_SIZE`` pieces.

    ``path`` is set for files sent by path (the dispatcher may then let the server send
    it); ``file`` for binary file objects, which are closed once the body is done.
    ``ranges`` is ``None`` for the whole file, else the spans to send; more than one
    span is sent as ``multipart/byteranges``.
    """

    __slots__ = (
        "path",
        "file",
        "size",
        "offset",
        "ranges",
        "chunk_size",
        "boundary",
        "_part_headers",
        "_active",
    )

    def __init__(
        self,
        path: str | None = None,
        file: IO[bytes] | None = None,
        size: int | None = None,
        *,
        offset: int = 0,
        ranges: list[tuple[int, int]] | None = None,
        content_type: str = "application/octet-stream",
        chunk_size: int | None = None,
    ) -> None:
        if (path is None) == (file is None):
            raise TypeError("FileBody needs exactly one of 'path' and 'file'")
        if ranges is not None and size is None:
            raise ValueError("FileBody 'ranges' need a known 'size'")
        self.path = path
        self.file = file
        self.size = size
        self.offset = offset
        self.ranges = ranges
        self.chunk_size = CHUNK_SIZE if chunk_size is None else chunk_size
        self.boundary: str | None = None
        self._part_headers: list[bytes] = []
        self._active: AsyncIterator[bytes] | None = None
        if ranges is not None and len(ranges) > 1:
            self.boundary = secrets.token_hex(16)
            for index, (start, stop) in enumerate(ranges):
                lead = "" if index == 0 else "\r\n"
                self._part_headers.append(
                    f"{lead}--{self.boundary}\r\nContent-Type: {content_type}\r\n"
                    f"Content-Range: bytes {start}-{stop - 1}/{size}\r\n\r\n".encode(
                        "latin-1"
                    )
                )

    @property
    def content_length(self) -> int | None:
        """The number of bytes the body will produce, if known."""
        if self.ranges is None:
            return self.size
        total = sum(stop - start for start, stop in self.ranges)
        if self.boundary is not None:
            total += sum(map(len, self._part_headers)) + len(self._closing())
        return total

    def _closing(self) -> bytes:
        return f"\r\n--{self.boundary}--\r\n".encode("latin-1")

    def __aiter__(self) -> AsyncIterator[bytes]:
        self._active = self._chunks()
        return self._active

    async def _chunks(self) -> AsyncIterator[bytes]:
        if self.path is not None:
            import aiofiles

            async with aiofiles.open(self.path, "rb") as handle:
                async for chunk in self._spans(handle.seek, handle.read):
                    yield chunk
            return
        file = self.file
        assert file is not None  # __init__ guarantees one of path and file
        if isinstance(file, io.BytesIO):
            # Already in memory: reading cannot block.
            async def read(size: int) -> bytes:
                return file.read(size)
        else:

            async def read(size: int) -> bytes:
                return await asyncio.to_thread(file.read, size)

        async def seek(position: int) -> int:
            return file.seek(position)

        async for chunk in self._spans(seek, read):
            yield chunk

    async def _spans(
        self,
        seek: Callable[[int], Awaitable[Any]],
        read: Callable[[int], Awaitable[bytes]],
    ) -> AsyncIterator[bytes]:
        if self.size is None:
            # Unknown length (a pipe-like file object): read to the end.
            while chunk := await read(self.chunk_size):
                yield chunk
            return
        spans = self.ranges if self.ranges is not None else [(0, self.size)]
        for index, (start, stop) in enumerate(spans):
            if self.boundary is not None:
                yield self._part_headers[index]
            await seek(self.offset + start)
            remaining = stop - start
            while remaining > 0:
                chunk = await read(min(self.chunk_size, remaining))
                if not chunk:
                    # Content-Length is already out: a short body must not look complete.
                    raise RuntimeError(
                        f"{self.path or 'file'} ended {remaining} bytes early;"
                        " it changed while being sent"
                    )
                remaining -= len(chunk)
                yield chunk
        if self.boundary is not None:
            yield self._closing()

    async def aclose(self) -> None:
        """Stop reading and close the file (a file object passed in is closed too)."""
        active, self._active = self._active, None
        aclose = getattr(active, "aclose", None)
        if aclose is not None:
            await aclose()
        if self.file is not None:
            self.file.close()


async def send_file_body(scope: Scope, send: Send, body: object) -> bool:
    """Let the server send a file body itself, if it offers to; True if it did.

    Called by the dispatcher after ``http.response.start``. A whole file goes by
    ``http.response.pathsend``; a whole file or one range by
    ``http.response.zerocopysend``. Anything else (file objects, multipart ranges, a
    server without the extensions) is streamed as usual.
    """
    if not isinstance(body, FileBody) or body.path is None or body.size is None:
        return False
    extensions = scope.get("extensions") or {}
    try:
        if body.ranges is None and "http.response.pathsend" in extensions:
            await send({"type": "http.response.pathsend", "path": body.path})
            return True
        if "http.response.zerocopysend" in extensions and body.boundary is None:
            start, stop = (0, body.size) if body.ranges is None else body.ranges[0]
            file = await asyncio.to_thread(open, body.path, "rb")
            try:
                await send(
                    {
                        "type": "http.response.zerocopysend",
                        "file": file,
                        "offset": start,
                        "count": stop - start,
                        "more_body": False,
                    }
                )
            finally:
                file.close()
            return True
    except OSError as exc:
        # Some servers raise from send() once the peer is gone.
        raise ClientDisconnected() from exc
    return False


# -- send_file -------------------------------------------------------------------
@dataclass(slots=True)
class _Source:
    path: str | None
    file: IO[bytes] | None
    size: int | None
    mtime: float | None
    name: str | None
    offset: int = 0

    def close(self) -> None:
        if self.file is not None:
            self.file.close()


async def send_file(
    path_or_file: str | os.PathLike[str] | IO[bytes],
    mimetype: str | None = None,
    as_attachment: bool = False,
    download_name: str | None = None,
    conditional: bool = True,
    etag: bool | str = True,
    last_modified: datetime | int | float | None = None,
    max_age: int | timedelta | Callable[[str | None], int | None] | None = None,
    *,
    attachment_filename: str | None = None,
    cache_timeout: int | timedelta | None = None,
    add_etags: bool | str | None = None,
) -> Response:
    """A response that sends a file: a path, or a binary file object (``BytesIO`` too).

    The file is streamed in chunks, with ``ETag``/``Last-Modified`` validators (for
    paths), 304/412 answers and ``Range`` requests (206, multipart for several ranges,
    416) when *conditional*. *max_age* defaults to the app's
    ``get_send_file_max_age`` (``SEND_FILE_MAX_AGE_DEFAULT``); ``None`` sends
    ``Cache-Control: no-cache``. Quart's ``attachment_filename``, ``cache_timeout`` and
    ``add_etags`` are accepted for ``download_name``, ``max_age`` and ``etag``.
    """
    source = await _source_for(path_or_file)
    return _send(
        source,
        mimetype=mimetype,
        as_attachment=as_attachment,
        download_name=download_name,
        conditional=conditional,
        etag=etag,
        last_modified=last_modified,
        max_age=max_age,
        attachment_filename=attachment_filename,
        cache_timeout=cache_timeout,
        add_etags=add_etags,
    )


async def send_from_directory(
    directory: str | os.PathLike[str], path: str | os.PathLike[str], **kwargs: Any
) -> Response:
    """Send the file at *path* inside *directory*; 404 if it is not a regular file there.

    *path* usually comes from the URL, so it goes through :func:`safe_join`. The other
    arguments are those of :func:`send_file`.
    """
    found = await asyncio.to_thread(
        _lookup, os.fsdecode(os.fspath(directory)), os.fsdecode(os.fspath(path))
    )
    if found is None:
        raise NotFound()
    joined, result = found
    source = _Source(
        os.path.abspath(joined),
        None,
        result.st_size,
        result.st_mtime,
        os.path.basename(joined),
    )
    return _send(source, **kwargs)


async def _source_for(path_or_file: object) -> _Source:
    if isinstance(path_or_file, (str, os.PathLike)):
        path = os.path.abspath(os.fsdecode(path_or_file))
        result = await asyncio.to_thread(os.stat, path)
        if not stat.S_ISREG(result.st_mode):
            raise ValueError(f"send_file() path {path!r} is not a regular file")
        return _Source(
            path, None, result.st_size, result.st_mtime, os.path.basename(path)
        )
    if isinstance(path_or_file, io.TextIOBase) or not callable(
        getattr(path_or_file, "read", None)
    ):
        raise TypeError(
            "send_file() path_or_file must be a path or a file object opened in"
            f" binary mode, not {type(path_or_file).__name__}"
        )
    file: IO[bytes] = path_or_file  # type: ignore[assignment] # checked just above
    name = getattr(file, "name", None)
    size, offset = _remaining(file)
    return _Source(
        None,
        file,
        size,
        None,
        os.path.basename(name) if isinstance(name, str) else None,
        offset,
    )


def _remaining(file: IO[bytes]) -> tuple[int | None, int]:
    """The bytes left from the current position, and that position (None if unknown)."""
    try:
        if not file.seekable():
            return None, 0
        position = file.tell()
        end = file.seek(0, os.SEEK_END)
        file.seek(position)
    except (AttributeError, OSError, ValueError):
        return None, 0
    return max(end - position, 0), position


def _alias(value: Any, old: Any, name: str, old_name: str) -> Any:
    if old is None:
        return value
    if value is not None:
        raise TypeError(f"pass either {name!r} or its old name {old_name!r}, not both")
    return old


def _send(
    source: _Source,
    mimetype: str | None = None,
    as_attachment: bool = False,
    download_name: str | None = None,
    conditional: bool = True,
    etag: bool | str = True,
    last_modified: datetime | int | float | None = None,
    max_age: int | timedelta | Callable[[str | None], int | None] | None = None,
    *,
    attachment_filename: str | None = None,
    cache_timeout: int | timedelta | None = None,
    add_etags: bool | str | None = None,
) -> Response:
    try:
        download_name = _alias(
            download_name, attachment_filename, "download_name", "attachment_filename"
        )
        max_age = _alias(max_age, cache_timeout, "max_age", "cache_timeout")
        if add_etags is not None:
            etag = add_etags
        headers = Headers()
        mimetype = _describe(source, headers, mimetype, as_attachment, download_name)
        validators = _add_validators(source, headers, etag, last_modified)
        _add_cache_headers(source, headers, max_age)
        ctx = _cv_app.get(None)
        response_class = ctx.app.response_class if ctx is not None else Response
        request = ctx.request if ctx is not None else None
        if conditional and request is not None and request.method in ("GET", "HEAD"):
            return _conditional(
                source, headers, mimetype, response_class, request, *validators
            )
        return _full(source, headers, mimetype, response_class, conditional)
    except BaseException:
        source.close()
        raise


def _describe(
    source: _Source,
    headers: Headers,
    mimetype: str | None,
    as_attachment: bool,
    download_name: str | None,
) -> str:
    """Set Content-Disposition (and Content-Encoding); return the mimetype."""
    name = download_name if download_name is not None else source.name
    if name is not None:
        if not isinstance(name, str):
            raise TypeError(f"download_name must be a str, not {type(name).__name__}")
        headers["Content-Disposition"] = _content_disposition(name, as_attachment)
    elif as_attachment:
        raise TypeError(
            "send_file() needs 'download_name' to send a file object without a name"
            " as an attachment"
        )
    if mimetype is not None:
        return mimetype
    if name is None:
        raise TypeError(
            "send_file() cannot guess the mimetype of a file object without a name;"
            " pass 'mimetype' or 'download_name'"
        )
    guessed, encoding = mimetypes.guess_type(name)
    # A Content-Encoding on an attachment makes browsers save a .tar.gz decompressed.
    if encoding is not None and not as_attachment:
        headers["Content-Encoding"] = encoding
    return guessed or "application/octet-stream"


def _content_disposition(name: str, as_attachment: bool) -> str:
    if "\r" in name or "\n" in name or "\x00" in name:
        raise ValueError(f"download_name {name!r} contains CR, LF or NUL")
    kind = "attachment" if as_attachment else "inline"
    if name.isascii():
        return f"{kind}; filename={quote_header_value(name)}"
    # RFC 6266 / 5987: an ASCII fallback for old clients, the exact name in filename*.
    fallback = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    exact = quote(name, safe=_ATTR_CHARS)
    return f"{kind}; filename={quote_header_value(fallback)}; filename*=UTF-8''{exact}"


def _add_validators(
    source: _Source,
    headers: Headers,
    etag: bool | str,
    last_modified: datetime | int | float | None,
) -> tuple[str | None, int | None]:
    """Set ETag and Last-Modified; return them (the tag unquoted, the time in seconds)."""
    tag = None
    if isinstance(etag, str):
        tag = etag
    elif etag and source.path is not None:
        # mtime, size and a checksum of the path, as werkzeug does: cheap, and it
        # changes when the file is replaced.
        check = zlib.adler32(os.fsencode(source.path)) & 0xFFFFFFFF
        tag = f"{source.mtime}-{source.size}-{check}"
    if tag is not None:
        headers["ETag"] = quote_etag(tag)
    if last_modified is None:
        last_modified = source.mtime
    stamp = None if last_modified is None else _seconds(last_modified)
    if stamp is not None:
        headers["Last-Modified"] = http_date(stamp)
    return tag, stamp


def _seconds(value: datetime | int | float) -> int:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return int(value.timestamp())
    if isinstance(value, (int, float)):
        return int(value)
    raise TypeError(
        f"last_modified must be a datetime or a timestamp, not {type(value).__name__}"
    )


def _add_cache_headers(
    source: _Source,
    headers: Headers,
    max_age: int | timedelta | Callable[[str | None], int | None] | None,
) -> None:
    if max_age is None:
        ctx = _cv_app.get(None)
        if ctx is not None:
            # The app's method, so a subclass can choose per file (as in Flask).
            max_age = ctx.app.get_send_file_max_age(source.name)
    elif callable(max_age):
        max_age = max_age(source.path)
    if isinstance(max_age, timedelta):
        max_age = int(max_age.total_seconds())
    if max_age is None:
        headers["Cache-Control"] = "no-cache"
        return
    if not isinstance(max_age, int) or isinstance(max_age, bool):
        raise TypeError(f"max_age must be an int or None, not {max_age!r}")
    if max_age < 0:
        raise ValueError(f"max_age must not be negative, got {max_age}")
    headers["Cache-Control"] = (
        f"public, max-age={max_age}" if max_age > 0 else "no-cache, max-age=0"
    )
    headers["Expires"] = http_date(time.time() + max_age)


def _full(
    source: _Source,
    headers: Headers,
    mimetype: str,
    response_class: type[Response],
    accept_ranges: bool,
) -> Response:
    body = FileBody(source.path, source.file, source.size, offset=source.offset)
    response = response_class(body, headers=headers, mimetype=mimetype)
    if source.size is not None:
        response.headers["Content-Length"] = str(source.size)
        if accept_ranges:
            response.headers["Accept-Ranges"] = "bytes"
    return response


def _conditional(
    source: _Source,
    headers: Headers,
    mimetype: str,
    response_class: type[Response],
    request: Request,
    etag: str | None,
    stamp: int | None,
) -> Response:
    if _not_modified(request, etag, stamp):
        source.close()
        response = response_class(b"", 304, headers)
        # RFC 9110 15.4.5: validators and caching headers, no representation metadata.
        for name in (
            "Content-Type",
            "Content-Length",
            "Content-Disposition",
            "Content-Encoding",
        ):
            response.headers.pop(name, None)
        return response
    header = request.headers.get("range")
    size = source.size
    if header is None or size is None:
        return _full(source, headers, mimetype, response_class, True)
    if_range = request.headers.get("if-range")
    if if_range is not None and not _if_range_holds(if_range, etag, stamp):
        return _full(source, headers, mimetype, response_class, True)
    ranges = parse_byte_ranges(header, size)
    if ranges is None:
        return _full(source, headers, mimetype, response_class, True)
    if not ranges:
        raise RequestedRangeNotSatisfiable(length=size)
    response = response_class(None, 206, headers, mimetype=mimetype)
    body = FileBody(
        source.path,
        source.file,
        size,
        offset=source.offset,
        ranges=ranges,
        content_type=response.headers["Content-Type"],
    )
    response.response = body
    if body.boundary is not None:
        response.headers["Content-Type"] = (
            f"multipart/byteranges; boundary={body.boundary}"
        )
    else:
        start, stop = ranges[0]
        response.headers["Content-Range"] = f"bytes {start}-{stop - 1}/{size}"
    response.headers["Content-Length"] = str(body.content_length)
    response.headers["Accept-Ranges"] = "bytes"
    return response


def _not_modified(request: Request, etag: str | None, stamp: int | None) -> bool:
    """True for a 304; raises ``PreconditionFailed`` for a 412 (RFC 9110 13.2.2)."""
    headers = request.headers
    if_match = headers.get("if-match")
    if if_match is not None:
        tags = parse_etags(if_match)
        if not (tags.star_tag or (etag is not None and tags.is_strong(etag))):
            raise PreconditionFailed()
    elif (since := _date(headers.get("if-unmodified-since"))) is not None:
        if stamp is not None and stamp > since:
            raise PreconditionFailed()
    if_none_match = headers.get("if-none-match")
    if if_none_match is not None:
        tags = parse_etags(if_none_match)
        return tags.star_tag or (etag is not None and tags.contains_weak(etag))
    since = _date(headers.get("if-modified-since"))
    return since is not None and stamp is not None and stamp <= since


def _date(value: str | None) -> int | None:
    parsed = parse_date(value)
    return None if parsed is None else int(parsed.timestamp())


def _if_range_holds(value: str, etag: str | None, stamp: int | None) -> bool:
    value = value.strip()
    if value.startswith(('"', "W/")):
        # A strong comparison: a weak validator never allows a range.
        tag, weak = unquote_etag(value)
        return not weak and etag is not None and tag == etag
    return stamp is not None and _date(value) == stamp
