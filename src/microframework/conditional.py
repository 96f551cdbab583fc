"""``conditional.py``: conditional requests and byte ranges, for ``send_file`` and
``Response.make_conditional`` alike. The callers build the responses: imports only werkzeug.

Rule: preconditions go in RFC 9110 13.2.2's order; then ``Range`` (while ``If-Range``
holds), sorted and merged, and ignored (14.2) when malformed or beyond ``MAX_RANGES``.
"""

from __future__ import annotations

import secrets

from werkzeug.datastructures import Headers
from werkzeug.http import parse_date
from werkzeug.http import parse_etags
from werkzeug.http import unquote_etag

#: The most ranges one response carries after merging; beyond it ``Range`` is ignored.
MAX_RANGES = 10

Spans = list[tuple[int, int]]

# Anything longer is bigger than any body; int() on it would only burn CPU.
_MAX_DIGITS = 18
_CRLF = "\r\n"  # f-string expressions cannot hold a backslash before Python 3.12


def list_field(headers: Headers, name: str) -> str | None:
    """Header *name*'s field lines as one value, as a WSGI server joins them (RFC 9110
    5.3: a list field may come in several lines); ``None`` if absent."""
    values = headers.getlist(name)
    if len(values) < 2:
        return values[0] if values else None
    return ", ".join(values)


def precondition_status(request: Headers, response: Headers) -> int | None:
    """412 or 304 if the request's preconditions decide the answer, else ``None``."""
    tag, weak = unquote_etag(response.get("ETag"))
    stamp = _date(response.get("Last-Modified"))
    # A header without an entity-tag is ignored, as werkzeug (so Flask and Quart) does.
    if tags := parse_etags(list_field(request, "If-Match")):
        if not (
            tags.star_tag or (tag is not None and not weak and tags.is_strong(tag))
        ):
            return 412
    elif (since := _date(request.get("If-Unmodified-Since"))) is not None:
        if stamp is not None and stamp > since:
            return 412
    if tags := parse_etags(list_field(request, "If-None-Match")):
        matched = tags.star_tag or (tag is not None and tags.contains_weak(tag))
    else:
        since = _date(request.get("If-Modified-Since"))
        matched = since is not None and stamp is not None and stamp <= since
    return 304 if matched else None


def drop_for_not_modified(headers: Headers) -> None:
    """Remove what a 304 must not carry from *headers*."""
    # RFC 9110 15.4.5: representation metadata goes (and Content-Disposition).
    for name in ("Content-Type", "Content-Length", "Content-Encoding", "Content-Range"):
        headers.pop(name, None)
    headers.pop("Content-Disposition", None)


def requested_ranges(request: Headers, response: Headers, size: int) -> Spans | None:
    """The spans to send for the request's ``Range``: ``None`` for all, ``[]`` for 416."""
    header = request.get("Range")
    if header is None:
        return None
    if_range = request.get("If-Range")
    if if_range is not None and not _if_range_holds(if_range.strip(), response):
        return None
    return parse_byte_ranges(header, size)


def _if_range_holds(value: str, response: Headers) -> bool:
    if value.startswith(('"', "W/")):
        # A strong comparison: a weak validator, on either side, never allows a range.
        theirs, weak = unquote_etag(value)
        ours, our_weak = unquote_etag(response.get("ETag"))
        return not (weak or our_weak) and ours is not None and theirs == ours
    stamp = _date(response.get("Last-Modified"))
    return stamp is not None and _date(value) == stamp


def _date(value: str | None) -> int | None:
    parsed = parse_date(value)
    return None if parsed is None else int(parsed.timestamp())


def parse_byte_ranges(header: str, size: int) -> Spans | None:
    """The satisfiable ``(start, stop)`` spans of a ``Range`` header, sorted and merged.

    ``None`` means "ignore the header", ``[]`` that none is satisfiable.
    """
    # Not werkzeug's parse_range_header: it refuses unordered or overlapping ranges.
    unit, equals, specs = header.partition("=")
    if not equals or unit.strip().lower() != "bytes" or size <= 0:
        return None
    spans: Spans = []
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
            if start is None or end is None or (last and _below(last, first)):
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
    spans.sort()
    merged: Spans = []
    for start, stop in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(stop, merged[-1][1]))
        else:
            merged.append((start, stop))
    return None if len(merged) > MAX_RANGES else merged


def _digits(text: str) -> int | None:
    text = text.strip(" \t")
    if not text or not text.isascii() or not text.isdigit():
        return None
    text = text.lstrip("0") or "0"  # RFC 9110 1*DIGIT: leading zeros are no size
    return int(text) if len(text) <= _MAX_DIGITS else 10**_MAX_DIGITS


def _below(a: str, b: str) -> bool:
    # Compared as text: clamped (see _digits), two long numbers would be equal.
    a, b = a.strip(" \t").lstrip("0"), b.strip(" \t").lstrip("0")
    return (len(a), a) < (len(b), b)


def _content_range(start: int, stop: int, size: int) -> str:
    return f"bytes {start}-{stop - 1}/{size}"


class PartialContent:
    """The 206 for *spans* of a *size*-byte representation: its headers and framing.

    Several spans go as ``multipart/byteranges`` (RFC 9110 14.6): ``heads[i]`` before
    span *i*'s bytes, ``tail`` after the last.
    """

    __slots__ = ("spans", "headers", "heads", "tail")

    def __init__(self, spans: Spans, size: int, content_type: str | None) -> None:
        self.spans = spans
        if len(spans) == 1:
            self.headers = {"Content-Range": _content_range(*spans[0], size)}
            self.heads, self.tail = [b""], b""
            return
        boundary = secrets.token_hex(16)
        self.headers = {"Content-Type": f"multipart/byteranges; boundary={boundary}"}
        kind = "" if content_type is None else f"Content-Type: {content_type}\r\n"
        # Every part but the first starts with the CRLF that ends the one before.
        self.heads = [
            f"{_CRLF if index else ''}--{boundary}\r\n{kind}Content-Range: "
            f"{_content_range(start, stop, size)}\r\n\r\n".encode("latin-1")
            for index, (start, stop) in enumerate(spans)
        ]
        self.tail = f"\r\n--{boundary}--\r\n".encode("latin-1")

    @property
    def length(self) -> int:
        """The body's length: the framing plus every span."""
        framing = sum(map(len, self.heads)) + len(self.tail)
        return framing + sum(stop - start for start, stop in self.spans)

    def join(self, data: bytes) -> bytes:
        """The whole 206 body cut from *data*, the full representation."""
        pieces: list[bytes] = []
        for head, (start, stop) in zip(self.heads, self.spans, strict=True):
            pieces += (head, data[start:stop])
        return b"".join([*pieces, self.tail])
