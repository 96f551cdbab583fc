"""Hypothesis strategies for raw ASGI requests and websocket sessions, and the budget.

Rule: generate what a server could hand the app, byte for byte, and no more: header
names are lowercase tokens and values carry no CR, LF or NUL (no HTTP parser passes
those), but anything else goes, including invalid UTF-8, duplicates, lying lengths and
body chunks split anywhere. Most values come from lists of interesting cases, mixed
with arbitrary bytes so that the rest of the space is still explored.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from dataclasses import field
from typing import Any
from urllib.parse import quote
from urllib.parse import unquote

from fuzz_app import SECRET_KEY
from fuzz_harness import HTTP_EXTENSIONS
from hypothesis import HealthCheck
from hypothesis import settings
from hypothesis import strategies as st

from microframework import Microframework
from microframework.sessions import SecureCookieSessionInterface

# -- budget -------------------------------------------------------------------------
#: ``MICROFRAMEWORK_FUZZ=long`` (``nox -s fuzz``) multiplies every budget and explores
#: randomly; the default is a fixed, derandomized run that takes the same path each time.
LONG = os.environ.get("MICROFRAMEWORK_FUZZ", "") == "long"
SCALE = int(os.environ.get("MICROFRAMEWORK_FUZZ_SCALE", "50")) if LONG else 1

settings.register_profile(
    "fuzz",
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=True,
    # Bodies and header lists are large by design; the budget bounds the time.
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "fuzz-long",
    parent=settings.get_profile("fuzz"),
    derandomize=False,
    database=settings.get_profile("default").database,
)
_PROFILE = settings.get_profile("fuzz-long" if LONG else "fuzz")


def budget(examples: int) -> settings:
    """Settings for a fuzz test: *examples* in the normal suite, SCALE times more long."""
    return settings(_PROFILE, max_examples=examples * SCALE)


def rarely(draw: st.DrawFn, one_in: int) -> bool:
    """True about once in *one_in* draws (shrinking towards False)."""
    # A middle value: hypothesis favours the ends of a range, so "== 0" would be common.
    return draw(st.integers(0, one_in - 1)) == one_in // 2


# -- bytes and text ------------------------------------------------------------------
def _clean(value: bytes) -> bytes:
    return value.replace(b"\r", b"").replace(b"\n", b"").replace(b"\x00", b"")


#: Any header value a server could deliver.
any_value = st.binary(max_size=48).map(_clean)
_pct = st.integers(0, 255).map(lambda b: f"%{b:02X}") | st.sampled_from(
    ["%", "%2", "%zz", "%E2%82%AC", "%C3", "%ff%fe", "%00", "%2F", "%2e%2e", "%25"]
)
_url_text = st.text(
    st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12
).map(lambda s: quote(s, safe="/:@!$&'()*+,;=-._~"))
segment = st.one_of(
    st.sampled_from(
        [
            "hello.txt",
            "data.json",
            "archive.tar.gz",
            "sub",
            "sub/page.html",
            "page.html",
            "..",
            ".",
            "",
            "a%20b",
            "CON",
            "C:",
            "x" * 300,
        ]
    ),
    st.lists(_pct | _url_text, min_size=1, max_size=4).map("".join),
)
number = st.one_of(
    st.sampled_from(
        ["0", "1", "-1", "42", "204", "304", "404", "418", "500", "503", "1.5", "-0.0"]
        + ["99999999999999999999", "0x10", "1e3", "%31", "\u0661", "", "nan", "inf"]
    ),
    st.integers(-(10**6), 10**6).map(str),
)
_uuid = st.uuids().map(str) | st.sampled_from(["not-a-uuid", "0" * 32, "{" + "0" * 32])

_ROUTES = [
    "/",
    "/hello/{s}",
    "/int/{n}",
    "/float/{n}",
    "/uuid/{u}",
    "/path/{s}/{s}",
    "/any/{s}",
    "/any/red",
    "/args",
    "/headers",
    "/cookies",
    "/redirect",
    "/template",
    "/boom",
    "/boom-handled",
    "/abort/{n}",
    "/status/{n}",
    "/flash",
    "/form",
    "/values",
    "/json",
    "/json-force",
    "/data",
    "/body-iter",
    "/body-file",
    "/files/{s}",
    "/files/hello.txt",
    "/bytesio",
    "/conditional",
    "/stream",
    "/sync-stream",
    "/writer",
    "/hints",
    "/longpoll",
    "/sync",
    "/sse",
    "/session",
    "/static/{s}",
    "/static/hello.txt",
    "/static/sub/page.html",
    "/bp/item/{n}",
    "/bp/parse",
    "/bp/missing",
    "/items/",
    "/items",
    "/items/{n}",
    "/ws/echo",
    "/{s}",
    "*",
    # The query parameters the views read: "{q}" is a query value.
    "/args?name={q}&n={n}",
    "/cookies?set={q}",
    "/redirect?next={q}",
    "/redirect?{q}={q}",
    "/template?{q}={q}&{q}={q}",
    "/flash?m={q}&category={q}",
    "/files/hello.txt?download=1",
    "/files/{s}?download={q}",
    "/bytesio?name={q}",
    "/conditional?weak=1",
    "/stream?n={n}",
    "/sse?w={q}&w={q}",
    "/hints?n={n}&t={q}",
    "/bp/parse?n={n}",
    "/sync?{q}={q}",
]


_VISIBLE_ASCII = "".join(map(chr, range(0x21, 0x7F)))


@st.composite
def raw_target(draw: st.DrawFn, routes: list[str] = _ROUTES) -> str:
    """A request target as sent on the wire: ASCII, percent-escapes and all.

    It may end in a query string (after the first ``?``) of parameters a view reads.
    """
    path, mark, query = draw(st.sampled_from(routes)).partition("?")
    target = _fill(draw, path)
    if rarely(draw, 10):
        target += draw(st.sampled_from(["/", "//", "/.", "/..", "/%2e%2e"]))
    # On the wire a target is visible ASCII: anything else goes percent-encoded.
    return quote(target, safe=_VISIBLE_ASCII) + mark + _fill(draw, query)


def _fill(draw: st.DrawFn, template: str) -> str:
    parts = template.split("{")
    out = [parts[0]]
    kinds = {"s": segment, "n": number, "u": _uuid, "q": _query_value}
    for part in parts[1:]:
        out += [draw(kinds[part[0]]), part[2:]]
    return "".join(out)


def decode_path(raw: str) -> str:
    """The ``path`` an ASGI server derives from the raw target (uvicorn, hypercorn)."""
    return unquote(raw, errors="replace")


# -- query strings -------------------------------------------------------------------
_query_key = st.sampled_from(
    ["name", "n", "w", "m", "category", "set", "next", "weak", "download", "reason"]
) | st.text(max_size=6).map(lambda s: quote(s, safe=""))
_query_value = st.one_of(
    st.text(max_size=16).map(lambda s: quote(s, safe="")),
    st.sampled_from(["", "1", "-5", "abc", "http://evil.example/", "//evil", "\\\\x"]),
    st.sampled_from(["javascript:alert(1)", "/x%0d%0aSet-Cookie:a", "%0a", "%7f"]),
    st.lists(_pct, max_size=3).map("".join),
)
#: A raw query string: no parser passes CR, LF or NUL, anything else may arrive.
query_string = st.one_of(
    st.just(b""),
    st.lists(st.tuples(_query_key, _query_value), max_size=6).map(
        lambda pairs: "&".join(f"{k}={v}" for k, v in pairs).encode()
    ),
    st.binary(max_size=40).map(_clean),
    st.sampled_from([b"&&&", b"=", b"a=1&a=2&a", b"n=%", b"n=\xff\xfe", b"+%2B+"]),
)


# -- headers -------------------------------------------------------------------------
_DATES = [
    b"Wed, 01 May 2024 12:00:00 GMT",
    b"Wed, 01 May 2024 11:59:59 GMT",
    b"Fri, 01 Jan 2100 00:00:00 GMT",
    b"Thu, 01 Jan 1970 00:00:00 GMT",
    b"Wednesday, 01-May-24 12:00:00 GMT",
    b"Wed May  1 12:00:00 2024",
    b"yesterday",
    b"Wed, 32 Foo 2024 99:99:99 GMT",
    b"Mon, 01 Jan 10000 00:00:00 GMT",
    b"0",
]
_ETAGS = [
    b'"v1"',
    b'W/"v1"',
    b"*",
    b'"x", "v1"',
    b'"nope"',
    b"garbage",
    b'"',
    b'W/"',
    b", ,",
]
RANGES = [
    b"bytes=0-10",
    b"bytes=-5",
    b"bytes=5-",
    b"bytes=0-0,2-3,1-1",
    b"bytes=0-1,3-4,6-7,9-10,12-13,15-16,18-19,21-22,24-25,27-28,30-31,33-34",
    b"bytes=999999999999999999999-",
    b"bytes=0-999999999999999999999999",
    b"bytes=10-5",
    b"bytes=300-400",
    b"bytes=-0",
    b"bytes=-",
    b"bytes=",
    b"bytes=,",
    b"items=0-1",
    b"bytes = 1-2",
    b"BYTES=1-2",
    b"bytes=0-1," * 40,
    b"bytes=\xd9\xa1-\xd9\xa2",
]
_AUTH = [
    b"Basic dXNlcjpwYXNz",
    b"Basic !!!",
    b"Basic",
    b"Basic dXNlcg==",
    b"basic Zm9vOmJhcg==",
    b"Bearer abc.def",
    b'Digest username="a", realm="r", nonce=',
    b'Digest username="\xff"',
    b"Basic \xff\xfe",
]
_ACCEPT = [
    b"text/html;q=0.5, */*;q=0.1",
    b"*/*;q=abc",
    b"*/*;q=1e500",
    b"application/json;q=-1",
    b"text/*, ;;; ,",
    b"en-US,en;q=0.9,*;q=0.5",
    b"gzip, deflate, br;q=nan",
]
HOSTS = [
    b"localhost",
    b"localhost:80",
    b"example.com:8080",
    b"",
    b"[::1]:80",
    b"[::1",
    b"a b",
    b"\xff\xfe",
    b"localhost:notaport",
    b"localhost:99999",
    b"LOCALHOST",
    b"x" * 300,
    b"user@host",
]
interesting_headers = st.one_of(
    st.tuples(st.just(b"range"), st.sampled_from(RANGES)),
    st.tuples(
        st.sampled_from([b"if-none-match", b"if-match", b"if-range"]),
        st.sampled_from(_ETAGS + _DATES[:3]),
    ),
    st.tuples(
        st.sampled_from([b"if-modified-since", b"if-unmodified-since", b"date"]),
        st.sampled_from(_DATES),
    ),
    st.tuples(st.just(b"authorization"), st.sampled_from(_AUTH) | any_value),
    st.tuples(
        st.sampled_from([b"accept", b"accept-language", b"accept-encoding"]),
        st.sampled_from(_ACCEPT) | any_value,
    ),
    st.tuples(
        st.sampled_from(
            [
                b"user-agent",
                b"x-forwarded-for",
                b"x-forwarded-proto",
                b"forwarded",
                b"origin",
                b"referer",
                b"last-event-id",
                b"cache-control",
                b"pragma",
                b"content-encoding",
                b"x-block",
                b"expect",
                b"connection",
                b"upgrade",
                b"x-requested-with",
            ]
        ),
        any_value,
    ),
    st.tuples(st.from_regex(rb"\A[!#$%&'*+\-.^_`|~0-9a-z]{1,20}\Z"), any_value),
)


# -- cookies -------------------------------------------------------------------------
def _make_signer() -> Any:
    app = Microframework("fuzz_signer")
    app.config["SECRET_KEY"] = SECRET_KEY
    return SecureCookieSessionInterface().get_signing_serializer(app)


_SIGNER = _make_signer()
_short_text = st.text(max_size=12)
#: Session contents the fuzz app itself could have written.
session_data = st.fixed_dictionaries(
    {},
    optional={
        "visits": st.integers(0, 10**9),
        "user:name": _short_text,
        "user:x": _short_text,
        "_flashes": st.lists(st.tuples(_short_text, _short_text), max_size=3),
        "_permanent": st.booleans(),
    },
)
_session_cookie = st.one_of(
    session_data.map(lambda data: _SIGNER.dumps(data).encode()),
    session_data.map(lambda data: _SIGNER.dumps(data).encode()[:-3] + b"AAA"),
    st.sampled_from([b"", b".", b"..", b"e30.AAAA.BBBB", b'"quoted"', b"\xff" * 10]),
    any_value,
)
_cookie_pair = st.one_of(
    _session_cookie.map(lambda value: b"session=" + value),
    st.tuples(
        st.sampled_from([b"a", b"b", b"$Version", b"session", b""]), any_value
    ).map(lambda kv: kv[0] + b"=" + kv[1].replace(b";", b"")),
    any_value,
)
cookie_header = st.lists(_cookie_pair, min_size=1, max_size=4).flatmap(
    lambda pairs: st.sampled_from([b"; ", b";", b", "]).map(lambda sep: sep.join(pairs))
)


# -- bodies --------------------------------------------------------------------------
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=12,
)


@dataclass
class Part:
    """One part of a multipart body."""

    name: str | None
    data: bytes
    filename: str | None = None
    content_type: str | None = None
    extra: list[bytes] = field(default_factory=list)

    def encode(self, newline: bytes) -> bytes:
        disposition = b"Content-Disposition: form-data"
        if self.name is not None:
            disposition += b'; name="' + self.name.encode("utf-8", "replace") + b'"'
        if self.filename is not None:
            disposition += (
                b'; filename="' + self.filename.encode("utf-8", "replace") + b'"'
            )
        lines = [disposition]
        if self.content_type is not None:
            lines.append(b"Content-Type: " + self.content_type.encode("latin-1"))
        lines.extend(self.extra)
        return newline.join(lines) + newline + newline + self.data


_field_name = st.sampled_from(["a", "b", "file", "name", "", "x" * 2000]) | st.text(
    st.characters(codec="utf-8", exclude_characters='"\r\n', exclude_categories=["Cs"]),
    max_size=8,
)
_part = st.builds(
    Part,
    name=st.none() | _field_name,
    data=st.binary(max_size=64) | st.text(max_size=20).map(str.encode),
    filename=st.none() | st.sampled_from(["a.txt", "", "../../etc/passwd", "é.bin"]),
    content_type=st.none()
    | st.sampled_from(
        ["text/plain", "text/plain; charset=latin-1", "text/plain; charset=hex"]
        + ["application/octet-stream", "text/plain; charset=utf-16", "; ;"]
    ),
    extra=st.lists(
        st.sampled_from(
            [b"Content-Transfer-Encoding: base64", b"X-Other: 1", b"garbage", b": x"]
            + [b"X-Long: " + b"x" * 9000, b"Content-Type: text/plain; charset=zlib"]
        ),
        max_size=2,
    ),
)
boundary = st.sampled_from(
    ["boundary", "----WebKitFormBoundary7MA4YWxkTrZu0gW", "a", "b c", "x" * 70]
) | st.text(
    st.characters(codec="ascii", categories=["L", "N"]), min_size=1, max_size=10
)


@dataclass
class Body:
    """A request body and the headers that describe it."""

    data: bytes = b""
    content_type: bytes | None = None
    framing: list[tuple[bytes, bytes]] = field(default_factory=list)

    def headers(self) -> list[tuple[bytes, bytes]]:
        found = (
            [] if self.content_type is None else [(b"content-type", self.content_type)]
        )
        return found + self.framing


@st.composite
def multipart_body(draw: st.DrawFn) -> tuple[bytes, bytes]:
    """A multipart body (sometimes damaged) and its Content-Type."""
    mark = draw(boundary)
    newline = draw(st.sampled_from([b"\r\n", b"\r\n", b"\n"]))
    parts = draw(st.lists(_part, max_size=4))
    delimiter = b"--" + mark.encode()
    body = draw(st.sampled_from([b"", b"preamble" + newline]))
    for part in parts:
        body += delimiter + newline + part.encode(newline) + newline
    body += delimiter + b"--" + draw(st.sampled_from([b"", newline, b"epilogue"]))
    damage = draw(st.sampled_from(["none", "none", "none", "truncate", "flip"]))
    if damage == "truncate" and body:
        body = body[: draw(st.integers(0, len(body) - 1))]
    elif damage == "flip" and body:
        at = draw(st.integers(0, len(body) - 1))
        body = (
            body[:at] + bytes([body[at] ^ draw(st.integers(1, 255))]) + body[at + 1 :]
        )
    quoted = draw(st.booleans()) or " " in mark
    param = f'"{mark}"' if quoted else mark
    content_type = draw(
        st.sampled_from(
            [
                f"multipart/form-data; boundary={param}",
                f"Multipart/Form-Data;boundary={param}; charset=utf-8",
                "multipart/form-data",
                "multipart/form-data; boundary=",
                "multipart/form-data; boundary=other",
                "multipart/mixed; boundary=" + param,
            ]
        )
    )
    return body, content_type.encode()


_URLENCODED_TYPES = [
    b"application/x-www-form-urlencoded",
    b"application/x-www-form-urlencoded; charset=latin-1",
    b"Application/X-WWW-Form-Urlencoded",
    b"application/x-www-form-urlencoded; charset=hex",
]


@st.composite
def urlencoded_body(draw: st.DrawFn) -> tuple[bytes, bytes]:
    pairs = draw(st.lists(st.tuples(_query_key, _query_value), max_size=8))
    data = draw(
        st.sampled_from([b"&", b"&&", b";"]).map(
            lambda sep: sep.join(f"{k}={v}".encode() for k, v in pairs)
        )
        | st.binary(max_size=64)
        | st.sampled_from([b"a" * 3000, b"&" * 100, b"a=" + b"%" * 50, b"a=1&" * 30])
    )
    return data, draw(st.sampled_from(_URLENCODED_TYPES))


@st.composite
def json_body(draw: st.DrawFn) -> tuple[bytes, bytes]:
    data = draw(
        json_values.map(lambda v: json.dumps(v).encode())
        | json_values.map(lambda v: json.dumps(v, ensure_ascii=False).encode("utf-16"))
        | st.binary(max_size=32)
        | st.sampled_from(
            [
                b"[" * 3000,
                b'{"a": ' * 1500,
                b"1e999999",
                b"NaN",
                b'"\\ud800"',
                b"\xef\xbb\xbf{}",
            ]
        )
    )
    content_type = draw(
        st.sampled_from(
            [
                b"application/json",
                b"application/json; charset=latin-1",
                b"application/vnd.api+json",
                b"application/json; charset=hex_codec",
                b"text/plain",
            ]
        )
    )
    return data, content_type


@st.composite
def request_body(
    draw: st.DrawFn,
    kinds: tuple[str, ...] = ("none", "form", "multipart", "json", "raw"),
) -> Body:
    """A body, its Content-Type, and framing headers that may lie."""
    kind = draw(st.sampled_from(kinds))
    if kind == "none":
        data, content_type = b"", draw(st.none() | st.sampled_from(_URLENCODED_TYPES))
    elif kind == "form":
        data, content_type = draw(urlencoded_body())
    elif kind == "multipart":
        data, content_type = draw(multipart_body())
    elif kind == "json":
        data, content_type = draw(json_body())
    else:
        data = draw(
            st.binary(max_size=200) | st.sampled_from([b"x" * 5000, b"y" * 20000])
        )
        content_type = draw(st.none() | any_value)
    framing = draw(
        st.sampled_from(
            ["exact", "exact", "exact", "none", "chunked", "lie", "garbage", "both"]
        )
    )
    headers: list[tuple[bytes, bytes]] = []
    if framing in ("exact", "both"):
        headers.append((b"content-length", str(len(data)).encode()))
    if framing == "both":
        # Two framings at once, and a second length that disagrees.
        headers.append(
            (b"transfer-encoding", draw(st.sampled_from([b"chunked", b"gzip"])))
        )
        headers.append((b"content-length", str(len(data) + 1).encode()))
    elif framing == "chunked":
        headers.append((b"transfer-encoding", b"chunked"))
    elif framing == "lie":
        length = max(0, len(data) + draw(st.integers(-50, 50) | st.just(10**9)))
        headers.append((b"content-length", str(length).encode()))
    elif framing == "garbage":
        value = draw(
            st.sampled_from(
                [b"abc", b"-1", b"1e3", b" 5", b"5, 5", b"99999999999999999999999"]
            )
        )
        headers.append((b"content-length", value))
    return Body(data, content_type, headers)


@st.composite
def split(draw: st.DrawFn, data: bytes) -> list[bytes]:
    """*data* cut at generated points (empty chunks included), as ``http.request`` bodies."""
    if not data:
        return draw(st.sampled_from([[], [b""], [b"", b""]]))
    cuts = draw(st.lists(st.integers(0, len(data)), max_size=6))
    points = [0, *sorted(cuts), len(data)]
    return [data[a:b] for a, b in zip(points, points[1:], strict=False)]


# -- requests ------------------------------------------------------------------------
_METHODS = ["GET", "GET", "HEAD", "POST", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"]
method = st.sampled_from(_METHODS + ["TRACE", "CONNECT", "get", "FOO", "M-SEARCH"])


def shorten(value: Any) -> Any:
    """*value* with long strings cut, so a failing example prints readably."""
    if isinstance(value, bytes) and len(value) > 120:
        return value[:100] + b"...(%d bytes)" % len(value)
    if isinstance(value, str) and len(value) > 120:
        return value[:100] + f"...({len(value)} characters)"
    if isinstance(value, list | tuple):
        return type(value)(shorten(item) for item in value)
    if isinstance(value, dict):
        return {key: shorten(item) for key, item in value.items()}
    return value


@dataclass(repr=False)
class HttpCase:
    """One HTTP request as a server would hand it to the app."""

    scope: dict[str, Any]
    chunks: list[bytes]
    leave_early: bool = False
    #: The target's path as sent on the wire (the scope may lack ``raw_path``).
    target: str = "/"
    #: Each receive() yields to the loop once.
    slow: bool = False

    def __repr__(self) -> str:
        return (
            f"HttpCase({shorten(self.scope)!r}, {shorten(self.chunks)!r},"
            f" leave_early={self.leave_early}, slow={self.slow})"
        )

    @property
    def method(self) -> str:
        return str(self.scope["method"])


@st.composite
def http_case(
    draw: st.DrawFn,
    targets: st.SearchStrategy[str] | None = None,
    methods: st.SearchStrategy[str] = method,
    bodies: st.SearchStrategy[Body] | None = None,
    extra_headers: st.SearchStrategy[list[tuple[bytes, bytes]]] | None = None,
) -> HttpCase:
    """A request: target, root path, headers, cookies, query, body and its chunks."""
    raw, _, route_query = draw(raw_target() if targets is None else targets).partition(
        "?"
    )
    root_path = draw(st.sampled_from(["", "", "", "/app", "/app/", "/%", "/ä", "//"]))
    path = decode_path(raw)
    if root_path and not rarely(draw, 4):
        path = root_path + path  # ASGI 3: path includes root_path
    body = draw(request_body() if bodies is None else bodies)
    headers: list[tuple[bytes, bytes]] = []
    host = draw(st.sampled_from(["one", "one", "one", "none", "two"]))
    if host != "none":
        headers.append((b"host", draw(st.sampled_from(HOSTS))))
    if host == "two":
        headers.append((b"host", draw(st.sampled_from(HOSTS))))
    headers += body.headers()
    if draw(st.booleans()):
        headers.append((b"cookie", draw(cookie_header)))
    headers += draw(st.lists(interesting_headers, max_size=5))
    if extra_headers is not None:
        headers += draw(extra_headers)
    if rarely(draw, 20):
        headers.append((b"x-big", b"v" * 20_000))
    headers = draw(st.permutations(headers))
    raw_path = raw.encode("ascii")
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": draw(st.sampled_from(["1.1", "1.1", "1.0", "2"])),
        "method": draw(methods),
        "scheme": draw(st.sampled_from(["http", "https"])),
        "path": path,
        "query_string": b"&".join(
            part for part in (route_query.encode(), draw(query_string)) if part
        ),
        "root_path": root_path,
        "headers": headers,
        "client": draw(st.sampled_from([("127.0.0.1", 50000), None, ("::1", 1)])),
        "server": draw(
            st.sampled_from([("localhost", 80), None, ("example.com", 443)])
        ),
        "extensions": {
            name: {}
            for name in draw(st.lists(st.sampled_from(HTTP_EXTENSIONS), unique=True))
        },
    }
    if draw(st.booleans()):
        scope["raw_path"] = raw_path
    chunks = draw(split(body.data))
    leave_early = rarely(draw, 10)
    return HttpCase(scope, chunks, leave_early, raw, draw(st.booleans()))
