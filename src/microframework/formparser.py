"""Incremental parsing of url-encoded and multipart form bodies from an async stream.

Rule: every limit is enforced as the bytes arrive; bad input is only ever a 400 or 413;
the work is linear in the body size and the result independent of how it was split.
"""

from __future__ import annotations

import codecs
import math
import re
import tempfile
from collections.abc import AsyncIterable
from decimal import Decimal
from typing import Any
from typing import cast
from typing import IO
from urllib.parse import unquote_to_bytes

from werkzeug.datastructures import Headers
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import BadRequest
from werkzeug.exceptions import BadRequestKeyError
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.http import parse_options_header
from werkzeug.sansio.multipart import Data
from werkzeug.sansio.multipart import Event
from werkzeug.sansio.multipart import Field
from werkzeug.sansio.multipart import File
from werkzeug.sansio.multipart import MultipartDecoder
from werkzeug.sansio.multipart import NeedData
from werkzeug.sansio.multipart import State

from .datastructures import FileStorage

__all__ = ["FormDataParser"]

_URLENCODED = "application/x-www-form-urlencoded"
_MULTIPART = "multipart/form-data"
_FILE_SPOOL_SIZE = 500 * 1024  # then uploads spill to disk
# RFC 2046 says 70; 200 tolerates odd clients, well inside the smallest header limit.
_MAX_BOUNDARY = 200
# Smaller could not even hold the boundary line of a valid body.
_MIN_PART_HEADER_SIZE = 256
# Transport padding after a delimiter: the decoder's [^\S\r\n] in a bytes pattern.
_PADDING = b" \t\v\f"
_PADDING_RUN = re.compile(rb"[ \t\v\f]*")
# What the end of the decoder's buffer says about a delimiter (_MultipartReader._tail).
# A value >= 0: "--boundary" and that many bytes of padding, which more padding extends.
_UNCHECKED = -3  # bytes arrived since the last look
_DECIDED = -2  # no delimiter that the next bytes could change
_ONE_MORE = -1  # "--boundary-" or padding then CR: the next byte decides
_HEADER_STATES = (State.PREAMBLE, State.PART)
_DATA_STATES = (State.DATA_START, State.DATA)


class FormDataParser:
    """Parse a form body as its chunks arrive, enforcing the configured limits.

    ``max_form_memory_size`` bounds the non-file data, ``max_form_parts`` the number of
    parts; ``None`` disables either.
    """

    __slots__ = (
        "charset",
        "cls",
        "max_field_name_size",
        "max_form_memory_size",
        "max_form_parts",
        "max_part_header_size",
        "max_part_headers",
    )

    def __init__(
        self,
        *,
        max_form_memory_size: int | None = 500_000,
        max_form_parts: int | None = 1000,
        max_part_header_size: int = 8192,
        max_field_name_size: int = 1024,
        max_part_headers: int = 64,
        charset: str = "utf-8",
        cls: type[MultiDict[str, Any]] | None = None,
    ) -> None:
        self.max_form_memory_size = _check_optional_size(
            "max_form_memory_size", max_form_memory_size
        )
        self.max_form_parts = _check_optional_size("max_form_parts", max_form_parts)
        self.max_part_header_size = _check_size(
            "max_part_header_size", max_part_header_size, _MIN_PART_HEADER_SIZE
        )
        self.max_field_name_size = _check_size(
            "max_field_name_size", max_field_name_size
        )
        # A real part has two or three headers; 8 KB of "a:" lines is 2,000, and every
        # file part keeps its Headers (aiohttp CVE-2026-34516).
        self.max_part_headers = _check_size("max_part_headers", max_part_headers, 1)
        if not isinstance(charset, str):
            raise TypeError(f"charset must be a str, got {type(charset).__name__}")
        try:
            codecs.lookup(charset)
        except LookupError:
            raise ValueError(f"charset {charset!r} is not a known encoding") from None
        self.charset = charset
        if cls is None:
            cls = MultiDict
        elif not (isinstance(cls, type) and issubclass(cls, MultiDict)):
            raise TypeError(f"cls must be a MultiDict subclass, got {cls!r}")
        self.cls: type[MultiDict[str, Any]] = cls

    async def parse(
        self, stream: AsyncIterable[bytes], mimetype: str, options: dict[str, str]
    ) -> tuple[MultiDict[str, str], MultiDict[str, FileStorage]]:
        """Return ``(form, files)``; an unknown *mimetype* leaves *stream* unread."""
        mimetype = mimetype.strip().lower()
        if mimetype == _URLENCODED:
            fields = _UrlEncodedReader(self)
            async for chunk in stream:
                fields.feed(chunk)
            fields.feed_end()
            form = self.cls(fields.fields)
            return form, _no_files(self.cls, mimetype, form)
        if mimetype != _MULTIPART:
            form = self.cls()
            return form, _no_files(self.cls, mimetype, form)
        try:
            boundary = _boundary(options)
        except BadRequest:
            async for chunk in stream:  # the first bytes decide: no more is read
                if chunk:
                    raise
            return self.cls(), self.cls()  # no body: an empty form, as below
        reader = _MultipartReader(self, boundary)
        received = False
        try:
            async for chunk in stream:
                received = received or bool(chunk)
                reader.feed(chunk)
            if not received:  # a GET or DELETE sent with the type: as Flask and Quart
                return self.cls(), self.cls()
            reader.feed_end()
        except BaseException:
            reader.close_files()
            raise
        return self.cls(reader.fields), self.cls(reader.files)


_made: list[tuple[tuple[Any, ...], FormDataParser | None]] = [((), None)]


def parser_for(request: Any) -> FormDataParser:
    """*request*'s form parser. Its ``form_data_parser_class`` (a FormDataParser
    subclass) is made for each request, as in Flask and Quart, so it may keep state of
    its request or app; the built-in one is the last one made, if its limits and class
    are the same (it keeps no state, and checking its limits costs more than a small
    form's parse)."""
    memory, parts = request.max_form_memory_size, request.max_form_parts
    cls, made_by = request.parameter_storage_class, request.form_data_parser_class
    if made_by is not None:
        if not (isinstance(made_by, type) and issubclass(made_by, FormDataParser)):
            raise TypeError(  # werkzeug's or Quart's reads a stream or body this isn't
                "form_data_parser_class must be a subclass of"
                f" microframework.formparser.FormDataParser, got {made_by!r}"
            )
        return made_by(max_form_memory_size=memory, max_form_parts=parts, cls=cls)
    key = (memory, parts, type(memory), type(parts), cls)  # True == 1: refused
    made, parser = _made[0]  # one tuple: a thread reads both or neither
    if parser is None or made != key:
        parser = FormDataParser(
            max_form_memory_size=memory, max_form_parts=parts, cls=cls
        )
        _made[0] = (key, parser)
    return parser


class _UrlEncodedReader:
    """Split a url-encoded body on ``&`` as it arrives, keeping only the open pair."""

    __slots__ = ("_parser", "_pending", "_size", "fields")

    def __init__(self, parser: FormDataParser) -> None:
        self._parser = parser
        self._pending = bytearray()
        self._size = 0
        self.fields: list[tuple[str, str]] = []

    def feed(self, chunk: bytes) -> None:
        limit = self._parser.max_form_memory_size
        self._size += len(chunk)
        if limit is not None and self._size > limit:
            raise RequestEntityTooLarge(f"Form body exceeds {limit} bytes")
        first, *rest = chunk.split(b"&")
        self._pending += first
        if rest:
            self._add(bytes(self._pending))
            self._pending.clear()
            for pair in rest[:-1]:
                self._add(pair)
            self._pending += rest[-1]

    def feed_end(self) -> None:
        self._add(bytes(self._pending))
        self._pending.clear()

    def _add(self, pair: bytes) -> None:
        # As parse_qsl(keep_blank_values=True); decoding bytes, a bad escape or bad
        # UTF-8 is kept or replaced, never raised.
        if not pair:
            return
        limit = self._parser.max_form_parts
        if limit is not None and len(self.fields) >= limit:
            raise RequestEntityTooLarge(f"Form has more than {limit} fields")
        raw_name, _, raw_value = pair.partition(b"=")
        name = unquote_to_bytes(raw_name.replace(b"+", b" "))
        if len(name) > self._parser.max_field_name_size:
            raise RequestEntityTooLarge(
                f"Form field name exceeds {self._parser.max_field_name_size} bytes"
            )
        value = unquote_to_bytes(raw_value.replace(b"+", b" "))
        charset = self._parser.charset
        self.fields.append(
            (name.decode(charset, "replace"), value.decode(charset, "replace"))
        )


class _MultipartReader:
    """Feed werkzeug's decoder and collect the parts; enforce ``max_part_header_size``
    here, by the decoder's state, as its buffer limit counts part data too."""

    __slots__ = (
        "_dashed",
        "_decoder",
        "_field_chunks",
        "_field_size",
        "_file",
        "_limit",
        "_parser",
        "_part",
        "_tail",
        "fields",
        "files",
    )

    def __init__(self, parser: FormDataParser, boundary: bytes) -> None:
        self._parser = parser
        self._limit = parser.max_part_header_size
        self._decoder = MultipartDecoder(boundary)
        self._dashed = b"--" + boundary
        self._tail = _UNCHECKED
        self._part: Field | File | None = None
        self._field_chunks: list[bytes] = []
        self._field_size = 0
        self._file: IO[bytes] | None = None
        self.fields: list[tuple[str, str]] = []
        self.files: list[tuple[str, FileStorage]] = []

    def feed(self, chunk: bytes) -> None:
        # Past the closing boundary, drop the chunk (the epilogue).
        start = 0
        while start < len(chunk) and not self._in_state(State.EPILOGUE):
            if self._tail >= 0 and (padding := self._padding_run(chunk, start)):
                # Counted, not rescanned, so that a long run costs linear time.
                self._decoder.receive_data(padding)
                self._tail += len(padding)
                start += len(padding)
            else:
                start = self._receive(chunk, start)
            if len(self._decoder.buffer) >= self._limit and self._in_state(
                *_HEADER_STATES
            ):
                raise self._headers_too_large()
            self._check_padding(self._tail)

    def _receive(self, chunk: bytes, start: int) -> int:
        # An undecided delimiter: only the byte that decides it goes in, so the
        # buffer holds at most it and one slice.
        if self._tail >= _ONE_MORE:
            end = start + 1
        # An open header block never exceeds the limit in the buffer, so one that
        # does not fit fills it. Part data goes in slices of the limit.
        elif self._in_state(*_HEADER_STATES):
            end = start + self._limit - len(self._decoder.buffer)
        else:
            end = self._data_end(chunk, start)
        self._decoder.receive_data(chunk[start:end])
        self._tail = _UNCHECKED
        self._drain(wait_for_delimiter=True)
        return end

    def _data_end(self, chunk: bytes, start: int) -> int:
        # Part data: up to the next "--boundary" in one piece (no header block can
        # begin before it); near one, or one begun in the buffer, a slice of the limit.
        end = start + self._limit
        if len(chunk) <= end:
            return end
        dashed = self._dashed
        found = chunk.find(dashed, start)
        if found < 0:
            found = len(chunk)
        if found <= end:
            return end
        buffer = self._decoder.buffer
        if buffer and dashed in buffer + chunk[start : start + len(dashed)]:
            return end
        return found

    def _padding_run(self, chunk: bytes, start: int) -> bytes:
        match = _PADDING_RUN.match(chunk, start, start + self._limit)
        return match[0] if match else b""

    def _check_padding(self, size: int) -> None:
        # An open delimiter is kept whole, so its padding is bounded. One buffer holds
        # at most a slice and a partial delimiter: padding longer than the limit
        # cannot end inside one, so every split sees it open and gives this 413.
        # (In the preamble the header limit, checked first, always comes before.)
        if size > self._limit:
            raise RequestEntityTooLarge(
                f"Multipart boundary padding exceeds {self._limit} bytes"
            )

    def feed_end(self) -> None:
        self._drain(wait_for_delimiter=False)
        if not self._in_state(State.EPILOGUE):
            raise BadRequest("Multipart body ended before the closing boundary")

    def _drain(self, *, wait_for_delimiter: bool) -> None:
        try:
            while True:
                buffered = len(self._decoder.buffer)
                if not (wait_for_delimiter and self._delimiter_undecided()):
                    event = self._decoder.next_event()
                elif self._in_state(State.PREAMBLE):
                    event = self._next_event_before_tail()
                else:
                    return
                if isinstance(event, NeedData):
                    return
                if isinstance(event, Data):
                    self._data(event)
                elif isinstance(event, Field | File):
                    # A header block that arrived while a delimiter was undecided.
                    if buffered - len(self._decoder.buffer) > self._limit:
                        raise self._headers_too_large()
                    self._start_part(event)
        except ValueError as error:  # includes UnicodeDecodeError from header lines
            raise BadRequest(f"Malformed multipart body: {error}") from None

    def _next_event_before_tail(self) -> Event:
        # The preamble may end before an undecided delimiter: decode without it, so
        # that the decoder neither waits for it nor resumes its search past it.
        buffer = self._decoder.buffer
        begin = buffer.rfind(self._dashed)
        tail = buffer[begin:]
        del buffer[begin:]
        event = self._decoder.next_event()
        self._decoder.buffer += tail
        if not isinstance(event, NeedData):
            self._tail = _UNCHECKED  # a part's delimiter needs a line break
        return event

    def _delimiter_undecided(self) -> bool:
        # The decoder keeps back only len("\r\n--boundary") bytes of data: one ending in
        # "\r\n--boundary-" or in transport padding would emit it as data, so the
        # result would depend on the split. In the preamble it resumes its search a
        # few bytes before the end, past the start of a long-padded delimiter. Only
        # the buffer's front is consumed while draining, so one look per
        # receive_data() holds for the whole drain.
        if not self._in_state(State.PREAMBLE, *_DATA_STATES):
            return False
        if self._tail == _UNCHECKED:
            self._tail = self._look_at_tail()
        return self._tail != _DECIDED

    def _look_at_tail(self) -> int:
        buffer = self._decoder.buffer
        end = len(buffer)
        if buffer.endswith(b"-") and self._delimiter_ends_at(end - 1):
            return _ONE_MORE
        stop = end - 1 if buffer.endswith(b"\r") else end
        start = _padding_start(buffer, stop)
        if not self._delimiter_ends_at(start):
            return _DECIDED
        self._check_padding(stop - start)
        return stop - start if stop == end else _ONE_MORE

    def _delimiter_ends_at(self, index: int) -> bool:
        # As the decoder's delimiter: a CR or LF, then "--boundary"; in the preamble,
        # "--boundary" alone.
        buffer = self._decoder.buffer
        begin = index - len(self._dashed)
        if begin < 0 or not buffer.startswith(self._dashed, begin, index):
            return False
        return self._in_state(State.PREAMBLE) or (
            begin > 0 and buffer[begin - 1] in b"\r\n"
        )

    def _headers_too_large(self) -> RequestEntityTooLarge:
        return RequestEntityTooLarge(
            f"Multipart preamble or part headers exceed {self._limit} bytes"
        )

    def _in_state(self, *states: State) -> bool:
        # Not inline: mypy would keep the state it narrowed before receive_data().
        return self._decoder.state in states

    def close_files(self) -> None:
        if self._file is not None:
            FileStorage.close_stream(self._file)  # off the loop if big
            self._file = None
        for _, storage in self.files:
            storage.close()

    def _start_part(self, part: Field | File) -> None:
        # Typed str, but None when absent.
        name = cast("str | None", part.name)
        if name is None:
            raise BadRequest("Multipart part has no name")
        limit = self._parser.max_field_name_size
        if len(name.encode("utf-8", "surrogatepass")) > limit:
            raise RequestEntityTooLarge(f"Multipart field name exceeds {limit} bytes")
        if len(part.headers) > self._parser.max_part_headers:
            raise RequestEntityTooLarge(
                f"Multipart part has more than {self._parser.max_part_headers} headers"
            )
        max_parts = self._parser.max_form_parts
        if max_parts is not None and len(self.fields) + len(self.files) >= max_parts:
            raise RequestEntityTooLarge(
                f"Multipart body has more than {max_parts} parts"
            )
        self._part = part
        if isinstance(part, File):
            self._file = tempfile.SpooledTemporaryFile(max_size=_FILE_SPOOL_SIZE)

    def _data(self, event: Data) -> None:
        part = self._part
        if part is None:  # pragma: no cover - the decoder opens a part before its data
            raise BadRequest("Multipart data outside a part")
        if self._file is not None:
            self._file.write(event.data)
        elif event.data:
            limit = self._parser.max_form_memory_size
            self._field_size += len(event.data)
            if limit is not None and self._field_size > limit:
                raise RequestEntityTooLarge(
                    f"Multipart field values exceed {limit} bytes"
                )
            self._field_chunks.append(event.data)
        if not event.more_data:
            self._end_part(part)

    def _end_part(self, part: Field | File) -> None:
        if self._file is not None:
            self._file.seek(0)
            storage = FileStorage(
                self._file,
                filename=cast(File, part).filename,
                name=part.name,
                content_type=part.headers.get("content-type"),
                headers=part.headers,
            )
            self.files.append((part.name, storage))
            self._file = None
        else:
            value = b"".join(self._field_chunks)
            self._field_chunks.clear()
            self.fields.append((part.name, self._decode(value, part.headers)))
        self._part = None

    def _decode(self, value: bytes, headers: Headers) -> str:
        # Only a short list: a client's name must never reach the codec registry.
        charset = parse_options_header(headers.get("content-type"))[1].get("charset")
        if charset is not None and charset.lower() in _PART_CHARSETS:
            return value.decode(charset, "replace")
        return value.decode(self._parser.charset, "replace")


class _NoFileSent(BadRequestKeyError):
    """``request.files[name]`` of a body that was not multipart: it held no file."""

    def __init__(self, key: str, hint: str = "") -> None:  # (copied: from args)
        super().__init__(key)
        self.hint = hint

    @property
    def description(self) -> str:
        """Flask's debug help for the commonest upload mistake, where a ``KeyError``
        is shown (debug mode); the plain 400 otherwise."""
        text = self._description
        return f"{text}\nKeyError: {self.hint}" if self.show_exception else text

    @description.setter
    def description(self, value: str) -> None:
        self._description = value


class _FilesOfAPlainBody(MultiDict[str, Any]):
    mimetype = ""
    form: MultiDict[str, str] | None = None

    def __getitem__(self, key: str) -> Any:
        try:
            return super().__getitem__(key)
        except KeyError:
            raise _NoFileSent(key, self._hint(key)) from None

    def _hint(self, key: str) -> str:
        if self.mimetype:
            why = f"the body is {self.mimetype!r}, not 'multipart/form-data'"
        else:
            why = "the request has no form body"
        hint = (
            f"request.files has no {key!r}: {why}, so no file was sent. A form sends"
            ' its files only with enctype="multipart/form-data" on its <form> tag.'
        )
        if self.form is not None and key in self.form:
            hint += f" The field {key!r} came as text: the file's name alone."
        return hint

    def __reduce_ex__(self, _protocol: Any) -> tuple[Any, ...]:  # as the class extended
        return (type(self).__mro__[2], (list(self.items(multi=True)),))


_PLAIN_BODY_FILES: dict[type[MultiDict[str, Any]], type[MultiDict[str, Any]]] = {}


def _no_files(
    cls: type[MultiDict[str, Any]], mimetype: str, form: MultiDict[str, str]
) -> MultiDict[str, Any]:
    # An empty *cls* that says why when a file is asked of it (made once per class).
    made = _PLAIN_BODY_FILES.get(cls)
    if made is None:
        made = type(cls.__name__, (_FilesOfAPlainBody, cls), {})
        made.__module__ = cls.__module__
        _PLAIN_BODY_FILES[cls] = made
    files = made()
    files.mimetype, files.form = mimetype, form  # type: ignore[attr-defined]
    return files


_PART_CHARSETS = frozenset({"ascii", "us-ascii", "utf-8", "iso-8859-1", "latin-1"})


def _padding_start(buffer: bytearray, stop: int) -> int:
    # Where the run of padding that ends at *stop* begins: looks back in doubling
    # steps, so the cost is linear in the run, with no fixed window.
    size = 64
    while True:
        start = max(0, stop - size)
        kept = len(buffer[start:stop].rstrip(_PADDING))
        if kept or start == 0:
            return start + kept
        size *= 2


def _boundary(options: dict[str, str]) -> bytes:
    boundary = options.get("boundary", "")
    if not boundary:
        raise BadRequest("Missing boundary")
    if (
        len(boundary) > _MAX_BOUNDARY
        or not boundary.isascii()
        or not boundary.isprintable()
        or boundary.endswith(" ")
    ):
        raise BadRequest("Invalid multipart boundary")
    return boundary.encode("ascii")


def _check_optional_size(name: str, value: int | None) -> int | None:
    # inf: no limit, as in Flask (werkzeug compares with it)
    return None if value is None or value == math.inf else _check_size(name, value)


def _check_size(name: str, value: int, minimum: int = 0) -> int:
    if isinstance(value, float | Decimal) and math.isfinite(value):
        value = math.floor(value)  # MAX_FORM_MEMORY_SIZE = 2.5 * 1024 * 1024, as Flask
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return value
