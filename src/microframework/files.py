"""``files.py``: files as responses: ``send_file``, ``send_from_directory`` and ``safe_join``.

Rule: every path from a URL goes through :func:`safe_join`, and anything doubtful is a 404
that never says why. The body is a ``FileBody`` (never read whole); ``If-*`` and ``Range``
are decided by :mod:`microframework.conditional` before the view returns.
"""

from __future__ import annotations

import asyncio
import inspect
import io
import math
import mimetypes
import os
import stat
import time
import unicodedata
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from datetime import timedelta
from typing import Any
from typing import IO
from typing import TYPE_CHECKING
from urllib.parse import quote

from werkzeug.datastructures import Headers
from werkzeug.exceptions import HTTPException
from werkzeug.exceptions import NotFound
from werkzeug.exceptions import PreconditionFailed
from werkzeug.exceptions import RequestedRangeNotSatisfiable
from werkzeug.http import http_date
from werkzeug.http import quote_etag
from werkzeug.http import quote_header_value

from ._utils import alias
from .conditional import drop_for_not_modified
from .conditional import precondition_status
from .conditional import requested_ranges
from .conditional import Spans
from .globals import _cv_app
from .wrappers.filebody import CHEAP_SEEK
from .wrappers.filebody import FileBody
from .wrappers.response import Response

if TYPE_CHECKING:
    from .wrappers.request import Request

# RFC 5987 attr-char, minus what quote() always keeps (letters, digits, "_.-~").
_ATTR_CHARS = "!#$&+^`|"
_MaxAge = int | float | timedelta | Callable[[str | None], int | float | None] | None
_WINDOWS_DEVICES = frozenset(
    {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"}
    | {
        f"{kind}{n}"
        for kind in ("COM", "LPT")
        for n in (*"123456789", *"\u00b9\u00b2\u00b3")
    }
)


def safe_join(directory: str | os.PathLike[str], *pathnames: str) -> str | None:
    """Join *pathnames* under *directory*, or ``None`` if the result could leave it.

    Each segment is checked (no absolute parts, ``..``, NUL, backslashes or Windows
    drive and device names), then the real path must be inside the real *directory*.
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
    try:
        real_base, real = os.path.realpath(base), os.path.realpath(joined)
    except (UnicodeEncodeError, ValueError):  # a name no file can have ("\ud800")
        return None
    # A common-path test, not a string prefix: "/srv/static-old" is not in "/srv/static".
    if os.path.commonpath((real_base, real)) != real_base:
        return None
    return joined


def _is_windows_name(segment: str) -> bool:
    # "C:" (a drive) or "C:x" (drive-relative) make the join absolute on Windows.
    if len(segment) >= 2 and segment[1] == ":" and segment[0].isascii():
        return True
    if os.name == "nt":
        # "NUL:" and "CON::$DATA" (an empty stream name) open the device too (werkzeug 3.1.9).
        stem = segment.partition(":")[0].partition(".")[0].strip().upper()
        return stem in _WINDOWS_DEVICES or segment.endswith((" ", "."))
    return False


def _lookup(directory: str, path: str) -> tuple[str, os.stat_result] | bool:
    """The path joined and its stat; else whether *directory* is there at all."""
    joined = safe_join(directory, path)
    if joined is None:
        return True
    try:
        result = os.stat(joined)
    except (OSError, ValueError):
        return os.path.isdir(directory)
    if not stat.S_ISREG(result.st_mode):
        return True
    return joined, result


@dataclass(slots=True)
class _Source:
    path: str | None
    file: IO[bytes] | None
    size: int | None
    mtime: float | None
    name: str | None
    offset: int = 0

    @classmethod
    def from_stat(cls, path: str, result: os.stat_result) -> _Source:
        return cls(path, None, result.st_size, result.st_mtime, os.path.basename(path))

    opened: IO[bytes] | None = None  # the file at *path*, opened by send_file

    def close(self, only_opened: bool = False) -> None:
        for file in (None if only_opened else self.file, self.opened):
            if file is not None:
                file.close()


async def send_file(
    path_or_file: str | os.PathLike[str] | IO[bytes] | None = None,
    mimetype: str | None = None,
    as_attachment: bool = False,
    download_name: str | None = None,
    conditional: bool = True,
    etag: bool | str = True,
    last_modified: date | int | float | time.struct_time | None = None,
    max_age: int | timedelta | Callable[[str | None], int | None] | None = None,
    *,
    attachment_filename: str | None = None,
    cache_timeout: int | timedelta | None = None,
    add_etags: bool | str | None = None,
    filename_or_io: str | os.PathLike[str] | IO[bytes] | None = None,
) -> Response:
    """A response that sends a file: a path, or a binary file object (``BytesIO`` too).

    Streamed in chunks, answering 304/412 and ``Range`` (206, 416) when *conditional*.
    Quart's ``filename_or_io``, ``attachment_filename``, ``cache_timeout`` and
    ``add_etags`` are accepted by name. See ``docs/static-files.md``.
    """
    path_or_file = alias(
        path_or_file, filename_or_io, "path_or_file", "filename_or_io", "send_file()"
    )
    if not isinstance(etag, bool | str) or not isinstance(add_etags, bool | str | None):
        raise TypeError(  # Quart's positional order differs past the third argument
            "send_file() 'etag' must be a bool or a str: pass Quart's arguments by name"
        )
    source = await _source_for(path_or_file)
    try:
        download_name = alias(
            download_name, attachment_filename, "download_name", "attachment_filename"
        )
        max_age = alias(max_age, cache_timeout, "max_age", "cache_timeout")
        if add_etags is not None:
            etag = add_etags
        headers = Headers()
        mimetype = _describe(source, headers, mimetype, as_attachment, download_name)
        _add_validators(source, headers, etag, last_modified)
        _add_cache_headers(source, headers, max_age)
        ctx = _cv_app.get(None)
        response_class = ctx.app.response_class if ctx is not None else Response
        request = ctx.request if ctx is not None else None
        if conditional and request is not None and request.method in ("GET", "HEAD"):
            return _conditional(source, headers, mimetype, response_class, request)
        return _respond(source, headers, mimetype, response_class, None, conditional)
    except HTTPException:
        source.close()  # this request's answer (412, 416): done with, as if sent
        raise
    except BaseException:
        # An argument refused: the caller's file object stays open for it to use
        # (as in Flask and Quart); only the file send_file opened itself is closed.
        source.close(only_opened=True)
        raise


async def send_from_directory(
    directory: str | os.PathLike[str],
    path: str | os.PathLike[str] | None = None,
    *,
    file_name: str | None = None,
    **kwargs: Any,
) -> Response:
    """Send the file at *path* inside *directory*; 404 if it is not a regular file there.

    *path* (Quart's *file_name*) goes through :func:`safe_join`; the other arguments
    are :func:`send_file`'s.
    """
    path = alias(path, file_name, "path", "file_name", "send_from_directory()")
    found = await asyncio.to_thread(_lookup, os.fsdecode(directory), os.fsdecode(path))
    if found is False:
        _no_directory(os.fsdecode(directory))
    if isinstance(found, bool):
        raise NotFound()
    return await send_file(_CheckedPath(*found), **kwargs)


_told: set[str] = set()  # the missing directories logged (each once)


def _no_directory(directory: str) -> None:
    # Every file is a 404, and nothing says why (a relative directory is taken from
    # the working directory, where Flask takes it from app.root_path).
    ctx = _cv_app.get(None)
    if ctx is not None and directory not in _told and len(_told) < 100:
        _told.add(directory)
        ctx.app.logger.warning(
            "send_from_directory(): the directory %r does not exist (a relative one"
            " is taken from the working directory, %r, not from app.root_path as in"
            " Flask); answering 404",
            directory,
            os.getcwd(),
        )


class _CheckedPath(str):
    """A path ``send_from_directory`` has joined safely and statted: no second stat."""

    result: os.stat_result

    def __new__(cls, path: str, result: os.stat_result) -> _CheckedPath:
        checked = super().__new__(cls, _absolute(path))
        checked.result = result
        return checked


def _absolute(path: str) -> str:
    # Not os.path.abspath: "link/../x" means what the kernel says (through the link),
    # which is what safe_join checked; abspath's "x" may be another file.
    return path if os.path.isabs(path) else os.path.join(os.getcwd(), path)


async def _source_for(path_or_file: object) -> _Source:
    if isinstance(path_or_file, _CheckedPath):
        path = str(path_or_file)
    elif isinstance(path_or_file, (str, os.PathLike)):
        path = _absolute(os.fsdecode(path_or_file))
    else:
        path = None
    if path is not None:
        # Opened now, as werkzeug does: a clean-up that removes the file after the view
        # (after_this_request) must not cut the body the headers announce.
        opening = asyncio.get_running_loop().run_in_executor(None, _open_regular, path)
        try:
            opened, result = await asyncio.shield(opening)
        except asyncio.CancelledError:
            opening.add_done_callback(_close_opened)  # once it opens
            raise
        except (FileNotFoundError, NotADirectoryError, _NotRegular):
            if isinstance(path_or_file, _CheckedPath):
                # Removed (or replaced by a directory, a FIFO) since send_from_directory
                # found it: a 404, as if the request had come a moment later.
                raise NotFound() from None
            raise
        checked = getattr(path_or_file, "result", None)
        if checked is not None and (checked.st_dev, checked.st_ino) != (
            result.st_dev,
            result.st_ino,
        ):
            opened.close()  # swapped since safe_join checked it (for a link out, say)
            raise NotFound()
        source = _Source.from_stat(path, result)
        source.opened = opened
        return source
    # A text file written, then sent, may hide in a wrapper: NamedTemporaryFile("w+").
    # (Only "+" modes: zipfile's ZipExtFile says "r", and reads bytes.)
    mode = getattr(path_or_file, "mode", None)
    if (
        isinstance(path_or_file, io.TextIOBase)
        or (isinstance(mode, str) and "+" in mode and "b" not in mode)
        or not callable(getattr(path_or_file, "read", None))
    ):
        raise TypeError(
            "send_file() path_or_file must be a path or a file object opened in"
            f" binary mode, not {type(path_or_file).__name__}"
        )
    if inspect.iscoroutinefunction(path_or_file.read):  # type: ignore[attr-defined]
        raise TypeError(  # aiofiles, anyio: its seek() and tell() would be coroutines too
            f"send_file() cannot read an async file ({type(path_or_file).__name__}):"
            " pass its path, or a file object opened in binary mode"
        )
    file: IO[bytes] = path_or_file  # type: ignore[assignment] # checked just above
    name = getattr(file, "name", None)
    size, offset = await _measure(file)
    return _Source(
        None,
        file,
        size,
        None,
        os.path.basename(name) if isinstance(name, str) else None,
        offset,
    )


def _close_opened(done: asyncio.Future[tuple[IO[bytes], os.stat_result]]) -> None:
    if not done.cancelled() and done.exception() is None:
        done.result()[0].close()


class _Opened(io.BufferedReader):
    """The file send_file opened. A response dropped unsent (replaced by an
    after_request function, an error raised after send_file) closes it quietly when
    collected, as before the eager open: no ResourceWarning for the app's choice.
    Buffered for its lock: a close while a worker thread reads waits for the read."""

    def __del__(self) -> None:
        self.close()


class _Raw(io.FileIO):
    """The descriptor under an :class:`_Opened`: quiet too, as a cycle's collection
    finalizes the two apart, this one often first."""

    def __del__(self) -> None:
        self.close()


class _NotRegular(ValueError):
    """send_file() was given a path to something other than a regular file."""


def _open_regular(path: str) -> tuple[IO[bytes], os.stat_result]:
    """*path* opened for reading, and its stat; ``ValueError`` unless a regular file.

    Non-blocking, so a FIFO put there since a check can't hang the thread in open()."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_BINARY", 0))
    try:
        result = os.fstat(fd)
        if not stat.S_ISREG(result.st_mode):
            raise _NotRegular(f"send_file() path {path!r} is not a regular file")
        return _Opened(_Raw(fd, "rb")), result
    except BaseException:
        os.close(fd)
        raise


async def _measure(file: IO[bytes]) -> tuple[int | None, int]:
    if isinstance(file, CHEAP_SEEK):
        return _remaining(file)
    return await asyncio.to_thread(_remaining, file)  # a zip member's inflates it all


def _remaining(file: IO[bytes]) -> tuple[int | None, int]:
    """The bytes left from the current position (None if unknown), and that position."""
    try:
        if not file.seekable():
            return None, 0
        position = file.tell()
        end = file.seek(0, os.SEEK_END)
        file.seek(position)
    except (AttributeError, OSError, ValueError):
        return None, 0
    return max(end - position, 0), position


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
        headers["Content-Disposition"] = _content_disposition(
            name, as_attachment, given=download_name is not None
        )
    elif as_attachment:
        raise TypeError(
            "send_file() needs 'download_name' to send a file object without a name"
            " as an attachment"
        )
    if mimetype is not None:
        return mimetype
    if name is None:
        raise _NoMimetype(
            "send_file() cannot guess the mimetype of a file object without a name;"
            " pass 'mimetype' or 'download_name'"
        )
    # A name, not a URL: guess_type("data:text/html,x.png") is text/html (a data:
    # URL). No scheme can start after a "/".
    guessed, encoding = mimetypes.guess_type("/" + name)
    # A Content-Encoding on an attachment makes browsers save a .tar.gz decompressed.
    if encoding is not None and not as_attachment:
        headers["Content-Encoding"] = encoding
    return guessed or "application/octet-stream"


class _NoMimetype(TypeError, ValueError):
    """Flask's TypeError, also Quart's ValueError: code expecting either catches it."""


def _content_disposition(name: str, as_attachment: bool, given: bool = True) -> str:
    # A name the app gave with CR/LF is its bug (or an injection): refused. One read
    # from disk ("c\rd.txt" is a legal file name) is encoded below, as other controls.
    if given and ("\r" in name or "\n" in name or "\x00" in name):
        raise ValueError(f"download_name {name!r} contains CR, LF or NUL")
    kind = "attachment" if as_attachment else "inline"
    if name.isascii() and name.isprintable():
        return f"{kind}; filename={quote_header_value(name)}"
    # RFC 6266 / 5987: an ASCII fallback for old clients, the exact name in filename*
    # (a control character, legal in a name on disk, is no header's: encoded too).
    fallback = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    fallback = "".join(char for char in fallback if char.isprintable())
    # A name read from disk may hold undecodable bytes (surrogates): those become "?".
    exact = quote(name, safe=_ATTR_CHARS, errors="replace")
    return f"{kind}; filename={quote_header_value(fallback)}; filename*=UTF-8''{exact}"


def _add_validators(
    source: _Source,
    headers: Headers,
    etag: bool | str,
    last_modified: date | int | float | time.struct_time | None,
) -> None:
    tag = None
    if isinstance(etag, str):
        tag = etag
    elif etag and source.path is not None:
        # As werkzeug: cheap, and it changes when the file is replaced.
        check = zlib.adler32(os.fsencode(source.path)) & 0xFFFFFFFF
        tag = f"{source.mtime}-{source.size}-{check}"
    if tag is not None:
        headers["ETag"] = quote_etag(tag)
    if last_modified is None:
        last_modified = source.mtime
    if last_modified is None:
        return
    if not isinstance(last_modified, (date, int, float, time.struct_time)):
        raise TypeError(
            "last_modified must be a datetime, a date or a timestamp,"
            f" not {type(last_modified).__name__}"
        )
    # werkzeug's http_date takes these (as Flask's and Quart's do), naive ones as UTC.
    headers["Last-Modified"] = http_date(last_modified)


def _add_cache_headers(source: _Source, headers: Headers, max_age: _MaxAge) -> None:
    if max_age is None:
        ctx = _cv_app.get(None)
        if ctx is not None:
            # The app's method, so a subclass can choose per file (as in Flask).
            max_age = ctx.app.get_send_file_max_age(source.path)
    elif callable(max_age):
        max_age = max_age(source.path)
    if isinstance(max_age, timedelta):
        max_age = int(max_age.total_seconds())
    elif isinstance(max_age, float) and math.isfinite(max_age):
        max_age = int(max_age)  # as Flask and Quart (werkzeug truncates): 60.5 -> 60
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


def _conditional(
    source: _Source,
    headers: Headers,
    mimetype: str,
    response_class: type[Response],
    request: Request,
) -> Response:
    status = precondition_status(request.headers, headers)
    if status == 412:
        raise PreconditionFailed()
    if status == 304:
        source.close()
        response = response_class(b"", 304, headers)
        drop_for_not_modified(response.headers)
        return response
    size = source.size
    spans = None if size is None else requested_ranges(request.headers, headers, size)
    if spans == []:
        raise RequestedRangeNotSatisfiable(length=size)
    return _respond(source, headers, mimetype, response_class, spans, True)


def _respond(
    source: _Source,
    headers: Headers,
    mimetype: str,
    response_class: type[Response],
    spans: Spans | None,
    accept_ranges: bool,
) -> Response:
    """The 200 (*spans* is None) or 206 response whose body reads *source*."""
    response = response_class(None, 200 if spans is None else 206, headers, mimetype)
    body = FileBody(
        source.path,
        source.file,
        source.size,
        offset=source.offset,
        ranges=spans,
        content_type=response.headers.get("Content-Type"),
        opened=source.opened,
    )
    response.response = body
    if body.parts is not None:
        response.headers.update(body.parts.headers)
    if body.content_length is not None:
        response.headers["Content-Length"] = str(body.content_length)
        if accept_ranges:
            response.headers["Accept-Ranges"] = "bytes"
    return response
