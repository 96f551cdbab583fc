"""``Response``: constructor forms, body access, cookies, header safety, conditional GETs."""

from __future__ import annotations

import asyncio
import re
import warnings
from collections.abc import AsyncIterator
from collections.abc import Iterator
from datetime import datetime
from datetime import timedelta
from datetime import UTC
from http import HTTPStatus
from pathlib import Path
from typing import Any

import pytest
from asgi_harness import call
from asgi_harness import http_scope
from asgi_harness import Recorder
from hypothesis import given
from hypothesis import strategies as st
from werkzeug.datastructures import Headers
from werkzeug.http import generate_etag
from werkzeug.http import http_date
from werkzeug.http import parse_cookie
from werkzeug.http import parse_options_header

from microframework import Microframework
from microframework import request
from microframework import Response
from microframework import send_file
from microframework.conditional import MAX_RANGES
from microframework.testing import WebsocketResponseError

# -- construction -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "body", ["héllo", "héllo".encode(), bytearray("héllo".encode())], ids=type
)
async def test_str_and_bytes_bodies_are_utf8_html_with_a_length(body: Any) -> None:
    response = Response(body)

    assert response.status_code == 200
    assert response.status == "200 OK"
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert response.headers["Content-Length"] == "6"
    assert not response.is_streamed
    assert await response.get_data() == "héllo".encode()


async def test_none_body_is_empty_with_zero_length() -> None:
    response = Response(None)

    assert await response.get_data() == b""
    assert response.headers["Content-Length"] == "0"


async def test_iterable_body_is_streamed_without_a_length() -> None:
    response = Response(["a", b"b", "c"])

    assert response.is_streamed
    assert "Content-Length" not in response.headers
    assert await response.get_data() == b"abc"


async def test_sync_generator_body_is_joined_and_then_closed() -> None:
    closed: list[bool] = []

    def generate() -> Iterator[str]:
        try:
            yield "x"
            yield "y"
        finally:
            closed.append(True)

    response = Response(generate())
    streamed_before = response.is_streamed

    assert await response.get_data() == b"xy"
    assert closed == [True]
    # Once joined the body is bytes and can be read again.
    assert (streamed_before, response.is_streamed) == (True, False)
    assert await response.get_data(as_text=True) == "xy"


async def test_async_iterable_body_is_streamed() -> None:
    async def generate() -> AsyncIterator[bytes]:
        yield b"one "
        yield b"two"

    response = Response(generate(), mimetype="text/plain")

    assert response.is_streamed
    assert [chunk async for chunk in response.iter_encoded()] == [b"one ", b"two"]


async def test_non_bytes_chunk_in_a_streamed_body_is_a_type_error() -> None:
    response = Response([b"ok", 42])

    with pytest.raises(TypeError, match="int"):
        await response.get_data()


def test_body_of_an_unsupported_type_is_a_type_error_naming_it() -> None:
    with pytest.raises(TypeError, match="int"):
        Response(42)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("status", "code", "line"),
    [
        (201, 201, "201 CREATED"),
        (HTTPStatus.ACCEPTED, 202, "202 ACCEPTED"),
        ("404 NOT FOUND", 404, "404 NOT FOUND"),
        ("299 Custom Reason", 299, "299 Custom Reason"),
        ("418", 418, "418 I'M A TEAPOT"),
    ],
)
@pytest.mark.parametrize("headers", [None, {"X-A": "1"}], ids=["plain", "headers"])
def test_status_accepts_int_http_status_and_str(
    status: Any, code: int, line: str, headers: dict[str, str] | None
) -> None:
    response = Response("body", status=status, headers=headers)

    assert response.status_code == code
    assert response.status == line


@pytest.mark.parametrize(
    "headers",
    [{"X-One": "1", "X-Two": "2"}, [("X-One", "1"), ("X-Two", "2")]],
    ids=["dict", "list"],
)
def test_headers_from_a_dict_or_a_list_of_pairs(headers: Any) -> None:
    response = Response("body", headers=headers)

    assert response.headers["X-One"] == "1"
    assert response.headers["X-Two"] == "2"
    assert response.headers["Content-Length"] == "4"


def test_list_headers_keep_repeated_names() -> None:
    response = Response("body", headers=[("Vary", "Accept"), ("Vary", "Cookie")])

    assert response.headers.getlist("Vary") == ["Accept", "Cookie"]


@pytest.mark.parametrize("headers", [None, {"X-A": "1"}], ids=["plain", "headers"])
@pytest.mark.parametrize(
    ("kwargs", "content_type", "mimetype"),
    [
        ({"mimetype": "text/plain"}, "text/plain; charset=utf-8", "text/plain"),
        (
            {"mimetype": "application/octet-stream"},
            "application/octet-stream",
            "application/octet-stream",
        ),
        (
            {"content_type": "application/x-thing; v=1"},
            "application/x-thing; v=1",
            "application/x-thing",
        ),
        (
            {"mimetype": "text/plain", "content_type": "text/csv"},
            "text/csv",
            "text/csv",
        ),
    ],
)
def test_mimetype_gets_a_charset_and_content_type_is_taken_verbatim(
    headers: dict[str, str] | None,
    kwargs: dict[str, str],
    content_type: str,
    mimetype: str,
) -> None:
    response = Response("body", headers=headers, **kwargs)

    assert response.headers["Content-Type"] == content_type
    assert response.mimetype == mimetype


async def test_set_data_replaces_the_body_and_its_length() -> None:
    response = Response(["streamed"])

    response.set_data("replaced")

    assert not response.is_streamed
    assert response.headers["Content-Length"] == "8"
    assert await response.get_data() == b"replaced"
    assert await response.data == b"replaced"


@pytest.mark.parametrize("value", [5, [104, 105], None])
def test_set_data_refuses_what_isnt_text_or_bytes(value: Any) -> None:
    # bytes(5) made a body of five NULs, bytes([104, 105]) b"hi"; Flask raises.
    response = Response("kept")
    with pytest.raises(TypeError, match="str or bytes"):
        response.set_data(value)
    with pytest.raises(TypeError, match="str or bytes"):
        response.data = value
    assert response.body_bytes == b"kept"


async def test_set_data_takes_a_memoryview_and_a_bytearray() -> None:
    response = Response()
    response.set_data(memoryview(b"ab"))
    assert await response.get_data() == b"ab"
    response.set_data(bytearray(b"cd"))
    assert await response.get_data() == b"cd"


async def test_get_json_parses_a_json_body() -> None:
    response = Response('{"a": [1, 2]}', mimetype="application/json")

    assert response.is_json
    assert await response.get_json() == {"a": [1, 2]}
    assert await response.json == {"a": [1, 2]}


async def test_get_json_on_a_non_json_body_is_none_unless_forced() -> None:
    response = Response('{"a": 1}', mimetype="text/plain")

    assert await response.get_json() is None
    assert await response.get_json(force=True) == {"a": 1}


async def test_get_json_on_invalid_json_raises_or_is_silent() -> None:
    response = Response("{nope", mimetype="application/json")

    with pytest.raises(ValueError):
        await response.get_json()
    assert await response.get_json(silent=True) is None


@pytest.mark.parametrize("value", ["a\r\nSet-Cookie: evil=1", "a\nb", "a\rb"])
@pytest.mark.parametrize("way", ["dict", "list", "add", "setitem"])
def test_header_value_with_cr_or_lf_is_a_value_error(value: str, way: str) -> None:
    with pytest.raises(ValueError):
        if way == "dict":
            Response("x", headers={"X-Bad": value})
        elif way == "list":
            Response("x", headers=[("X-Bad", value)])
        elif way == "add":
            Response("x").headers.add("X-Bad", value)
        else:
            Response("x").headers["X-Bad"] = value


# -- cookies through the client ---------------------------------------------------------


async def test_cookie_set_by_a_response_comes_back_and_deletion_removes_it(
    app: Microframework,
) -> None:
    @app.route("/read")
    async def read() -> str:
        return request.cookies.get("flavour", "<none>")

    @app.route("/set")
    async def set_cookie() -> Response:
        response = Response("set")
        response.set_cookie("flavour", "oat", max_age=3600, httponly=True)
        return response

    @app.route("/delete")
    async def delete_cookie() -> Response:
        response = Response("deleted")
        response.delete_cookie("flavour")
        return response

    client = app.test_client()
    before = await client.get("/read")
    set_response = await client.get("/set")
    after_set = await client.get("/read")
    delete_response = await client.get("/delete")
    after_delete = await client.get("/read")

    assert await before.get_data() == b"<none>"
    header = set_response.headers["Set-Cookie"]
    assert header.startswith("flavour=oat;")
    assert "HttpOnly" in header and "Max-Age=3600" in header
    assert await after_set.get_data() == b"oat"
    assert "flavour=;" in delete_response.headers["Set-Cookie"]
    assert await after_delete.get_data() == b"<none>"


@pytest.mark.parametrize("value", ["\x01", "\x1a", "a\x1fb"])
async def test_a_cookie_value_with_any_control_character_is_escaped(
    app: Microframework, value: str
) -> None:
    # Found by tests/fuzz: set_cookie() with a client-chosen value. werkzeug's
    # _cookie_slash_re reads [\x00-\x19...] where its escape map covers range(0x20).
    @app.route("/")
    async def index() -> Response:
        response = Response("x")
        response.set_cookie("c", value)
        return response

    response = await app.test_client().get("/")

    assert response.status_code == 200
    cookie = response.headers["Set-Cookie"]
    assert "\\0" in cookie  # octal escape
    assert not any(ord(char) < 0x20 for char in cookie)
    # The browser's (and werkzeug's) unquoting gives the value back.
    assert parse_cookie(cookie.split(";")[0])["c"] == value


@pytest.mark.parametrize(
    ("key", "domain"), [("c; Path=/x", None), ("c d", None), ("c", "a.com; Path=/x")]
)
def test_a_cookie_name_or_domain_that_would_add_attributes_is_refused(
    key: str, domain: str | None
) -> None:
    # werkzeug writes both raw: "c; Path=/x=v; Path=/" set a path the app never chose.
    with pytest.raises(ValueError, match="cookie name or domain"):
        Response("x").set_cookie(key, "v", domain=domain)


# -- make_conditional -------------------------------------------------------------------

BODY = b"0123456789"
LAST_MODIFIED = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def conditional_app(
    body: bytes = BODY, etag: str = "abc", weak: bool = False
) -> Microframework:
    app = Microframework(__name__)
    app.testing = True

    @app.route("/", methods=["GET", "POST"])
    async def index() -> Response:
        response = Response(body)
        response.set_etag(etag, weak=weak)
        response.last_modified = LAST_MODIFIED
        return await response.make_conditional(request, accept_ranges=True)

    return app


async def test_assigning_data_sets_the_body_as_in_flask_and_quart() -> None:
    app = Microframework(__name__)

    @app.get("/")
    async def index() -> str:
        return "from the view"

    @app.after_request
    async def replace(response: Response) -> Response:
        response.data = "from the hook"
        return response

    response = await app.test_client().get("/")

    assert await response.get_data() == b"from the hook"
    assert response.headers["Content-Length"] == "13"


@pytest.mark.parametrize(("limit", "warns"), [(100, True), (0, False), (4093, False)])
async def test_max_cookie_size_comes_from_the_app_config(
    limit: int, warns: bool
) -> None:
    app = Microframework(__name__)
    app.config["MAX_COOKIE_SIZE"] = limit

    async with app.app_context():
        response = Response("")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            response.set_cookie("big", "x" * 200)
    assert bool([w for w in caught if "cookie is too large" in str(w.message)]) is warns


async def test_add_etag_hashes_the_body_unless_an_etag_is_set() -> None:
    async def stream() -> AsyncIterator[bytes]:
        yield b"0123"
        yield b"456789"

    streamed, given = Response(stream()), Response(BODY)
    given.set_etag("mine")
    await streamed.add_etag(weak=True)
    await given.add_etag()

    assert streamed.get_etag() == (generate_etag(BODY), True)
    assert given.get_etag() == ("mine", False)
    await given.add_etag(overwrite=True)
    assert given.get_etag() == (generate_etag(BODY), False)


async def test_add_etag_then_make_conditional_answers_304() -> None:
    # The pattern werkzeug's and Quart's make_conditional docs describe.
    app = Microframework(__name__)

    @app.get("/")
    async def index() -> Response:
        response = Response(BODY)
        await response.add_etag()
        return await response.make_conditional(request)

    client = app.test_client()
    etag = (await client.get("/")).headers["ETag"]
    again = await client.get("/", headers={"If-None-Match": etag})

    assert (again.status_code, await again.get_data()) == (304, b"")


async def conditional_get(headers: dict[str, str], **options: Any) -> Any:
    return await conditional_app(**options).test_client().get("/", headers=headers)


def byteranges(response: Any, body: bytes) -> list[tuple[str, bytes]]:
    """The (Content-Range, data) parts of a multipart/byteranges *body*, strictly."""
    kind, options = parse_options_header(response.headers["Content-Type"])
    assert kind == "multipart/byteranges"
    delimiter = b"--" + options["boundary"].encode()
    assert body.startswith(delimiter + b"\r\n")
    assert body.endswith(b"\r\n" + delimiter + b"--\r\n")
    inner = body[len(delimiter) + 2 : -(len(delimiter) + 6)]
    parts = []
    for raw in inner.split(b"\r\n" + delimiter + b"\r\n"):
        head, _, data = raw.partition(b"\r\n\r\n")
        fields = dict(line.split(": ", 1) for line in head.decode().split("\r\n"))
        assert fields["Content-Type"] == "text/html; charset=utf-8"
        parts.append((fields["Content-Range"], data))
    return parts


async def test_no_conditional_headers_is_a_full_200_advertising_validators() -> None:
    response = await conditional_app().test_client().get("/")

    assert response.status_code == 200
    assert await response.get_data() == BODY
    assert response.headers["ETag"] == '"abc"'
    assert response.headers["Last-Modified"] == http_date(LAST_MODIFIED)


@pytest.mark.parametrize("etags", ['"abc"', '"zzz", "abc"', "*", 'W/"abc"'])
async def test_if_none_match_hit_is_304_without_body(etags: str) -> None:
    response = (
        await conditional_app().test_client().get("/", headers={"If-None-Match": etags})
    )

    assert response.status_code == 304
    assert await response.get_data() == b""
    assert "Content-Length" not in response.headers
    assert response.headers["ETag"] == '"abc"'


async def test_if_none_match_miss_is_a_full_200() -> None:
    response = (
        await conditional_app()
        .test_client()
        .get("/", headers={"If-None-Match": '"other"'})
    )

    assert response.status_code == 200
    assert await response.get_data() == BODY


@pytest.mark.parametrize(
    ("since", "status"),
    [
        (LAST_MODIFIED, 304),
        (LAST_MODIFIED + timedelta(days=1), 304),
        (LAST_MODIFIED - timedelta(seconds=1), 200),
    ],
    ids=["same", "later", "earlier"],
)
async def test_if_modified_since_is_304_unless_modified_after(
    since: datetime, status: int
) -> None:
    response = (
        await conditional_app()
        .test_client()
        .get("/", headers={"If-Modified-Since": http_date(since)})
    )

    assert response.status_code == status
    assert await response.get_data() == (b"" if status == 304 else BODY)


@pytest.mark.parametrize(("etag", "status"), [('"nope"', 412), ('"abc"', 200)])
async def test_if_match_mismatch_is_412_and_match_is_200(
    etag: str, status: int
) -> None:
    response = (
        await conditional_app().test_client().get("/", headers={"If-Match": etag})
    )

    assert response.status_code == status


@pytest.mark.parametrize(
    ("range_header", "content_range", "body"),
    [
        ("bytes=0-4", "bytes 0-4/10", b"01234"),
        ("bytes=-3", "bytes 7-9/10", b"789"),
        ("bytes=8-", "bytes 8-9/10", b"89"),
        ("bytes=5-100", "bytes 5-9/10", b"56789"),
    ],
)
async def test_satisfiable_range_is_206_with_the_slice(
    range_header: str, content_range: str, body: bytes
) -> None:
    response = (
        await conditional_app().test_client().get("/", headers={"Range": range_header})
    )

    assert response.status_code == 206
    assert response.headers["Content-Range"] == content_range
    assert response.headers["Accept-Ranges"] == "bytes"
    assert response.headers["Content-Length"] == str(len(body))
    assert await response.get_data() == body


@pytest.mark.parametrize("range_header", ["bytes=20-30", "bytes=10-"])
async def test_unsatisfiable_range_is_416_with_the_full_length(
    range_header: str,
) -> None:
    response = (
        await conditional_app().test_client().get("/", headers={"Range": range_header})
    )

    assert response.status_code == 416
    assert response.headers["Content-Range"] == "bytes */10"


@pytest.mark.parametrize(("if_range", "status"), [('"stale"', 200), ('"abc"', 206)])
async def test_if_range_with_a_stale_etag_gives_the_full_body(
    if_range: str, status: int
) -> None:
    response = (
        await conditional_app()
        .test_client()
        .get("/", headers={"Range": "bytes=0-4", "If-Range": if_range})
    )

    assert response.status_code == status
    assert await response.get_data() == (BODY if status == 200 else b"01234")


@pytest.mark.parametrize(
    "headers",
    [{"If-None-Match": '"abc"'}, {"Range": "bytes=0-4"}, {"If-Match": '"nope"'}],
    ids=["if-none-match", "range", "if-match"],
)
async def test_conditional_headers_leave_a_post_unchanged(
    headers: dict[str, str],
) -> None:
    response = await conditional_app().test_client().post("/", headers=headers)

    assert response.status_code == 200
    assert await response.get_data() == BODY
    assert "Content-Range" not in response.headers


async def test_accept_ranges_is_advertised_on_a_full_response() -> None:
    response = await conditional_get({})

    assert response.status_code == 200
    assert response.headers["Accept-Ranges"] == "bytes"


@pytest.mark.parametrize(
    ("range_header", "parts"),
    [
        ("bytes=0-1,5-6", [("bytes 0-1/10", b"01"), ("bytes 5-6/10", b"56")]),
        ("bytes=-2, 0-0", [("bytes 0-0/10", b"0"), ("bytes 8-9/10", b"89")]),
    ],
)
async def test_several_ranges_are_a_206_multipart_byteranges(
    range_header: str, parts: list[tuple[str, bytes]]
) -> None:
    response = await conditional_get({"Range": range_header})
    body = await response.get_data()

    assert response.status_code == 206
    assert "Content-Range" not in response.headers
    assert response.headers["Content-Length"] == str(len(body))
    assert byteranges(response, body) == parts


@pytest.mark.parametrize(
    ("range_header", "content_range", "body"),
    [
        ("bytes=0-4,3-6", "bytes 0-6/10", b"0123456"),
        ("bytes=5-6,0-4", "bytes 0-6/10", b"0123456"),
    ],
    ids=["overlapping", "adjacent-out-of-order"],
)
async def test_overlapping_or_adjacent_ranges_are_merged_into_one(
    range_header: str, content_range: str, body: bytes
) -> None:
    response = await conditional_get({"Range": range_header})

    assert response.status_code == 206
    assert response.headers["Content-Range"] == content_range
    assert await response.get_data() == body


@pytest.mark.parametrize(
    ("range_header", "status", "content_range"),
    [("bytes=0-1,20-30", 206, "bytes 0-1/10"), ("bytes=10-20,30-", 416, "bytes */10")],
)
async def test_unsatisfiable_ranges_are_dropped_and_none_left_is_416(
    range_header: str, status: int, content_range: str
) -> None:
    response = await conditional_get({"Range": range_header})

    assert response.status_code == status
    assert response.headers["Content-Range"] == content_range


async def test_more_ranges_than_the_cap_after_merging_is_a_full_200() -> None:
    body = bytes(range(100))
    header = "bytes=" + ",".join(f"{i * 2}-{i * 2}" for i in range(MAX_RANGES + 1))

    response = await conditional_get({"Range": header}, body=body)

    assert response.status_code == 200
    assert await response.get_data() == body


@pytest.mark.parametrize(
    "range_header", ["items=0-4", "bytes=abc", "bytes=4-1", "bytes"]
)
async def test_unknown_unit_or_malformed_range_is_ignored(range_header: str) -> None:
    # RFC 9110 14.2: an origin server MUST ignore a range unit it does not understand.
    response = await conditional_get({"Range": range_header})

    assert response.status_code == 200
    assert await response.get_data() == BODY


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"If-None-Match": '"abc"', "Range": "bytes=0-4"}, 304),
        ({"If-Match": '"nope"', "Range": "bytes=0-4"}, 412),
        ({"If-Match": '"nope"', "Range": "bytes=20-30"}, 412),
        ({"If-Match": '"nope"', "If-None-Match": '"abc"'}, 412),
        ({"If-Match": '"abc"', "If-None-Match": '"abc"'}, 304),
        ({"If-Match": 'W/"abc"'}, 412),
        ({"If-Unmodified-Since": http_date(LAST_MODIFIED - timedelta(days=1))}, 412),
        ({"If-Unmodified-Since": http_date(LAST_MODIFIED)}, 200),
        (
            {
                "If-Match": '"abc"',
                "If-Unmodified-Since": http_date(LAST_MODIFIED - timedelta(days=1)),
            },
            200,
        ),
    ],
    ids=[
        "304-before-range",
        "412-before-range",
        "412-before-416",
        "412-before-304",
        "if-match-passes-then-304",
        "if-match-is-strong",
        "unmodified-since-earlier",
        "unmodified-since-same",
        "if-match-overrides-unmodified-since",
    ],
)
async def test_preconditions_are_evaluated_in_rfc_9110_order(
    headers: dict[str, str], status: int
) -> None:
    response = await conditional_get(headers)

    assert response.status_code == status


@pytest.mark.parametrize(
    ("if_range", "options", "status"),
    [
        ('W/"abc"', {}, 200),
        ('"abc"', {"weak": True}, 200),
        (http_date(LAST_MODIFIED), {}, 206),
        (http_date(LAST_MODIFIED - timedelta(days=1)), {}, 200),
    ],
    ids=["weak-if-range", "weak-etag", "same-date", "other-date"],
)
async def test_if_range_needs_a_strong_etag_or_the_exact_date(
    if_range: str, options: dict[str, Any], status: int
) -> None:
    response = await conditional_get(
        {"Range": "bytes=0-4", "If-Range": if_range}, **options
    )

    assert response.status_code == status
    assert await response.get_data() == (BODY if status == 200 else b"01234")


@given(st.text(alphabet="bytes=0123456789-, ", max_size=24))
async def test_any_range_header_is_answered_with_consistent_bytes(
    range_header: str,
) -> None:
    response = await conditional_get({"Range": range_header})
    body = await response.get_data()

    assert response.status_code in (200, 206, 416)
    if response.status_code == 200:
        assert body == BODY
        return
    if response.status_code == 416:
        assert response.headers["Content-Range"] == "bytes */10"
        return
    if "Content-Range" in response.headers:
        parts = [(response.headers["Content-Range"], body)]
    else:
        parts = byteranges(response, body)
    for content_range, data in parts:
        match = re.fullmatch(r"bytes (\d+)-(\d+)/10", content_range)
        assert match is not None
        assert data == BODY[int(match[1]) : int(match[2]) + 1]


# -- the fast constructor path builds what werkzeug's path builds -----------------------

_HEADER_NAMES = st.sampled_from(
    ["Content-Type", "content-type", "Content-Length", "X-A", "x-a", "Cache-Control"]
)


@given(
    body=st.one_of(st.text(max_size=8), st.binary(max_size=8)),
    headers=st.dictionaries(_HEADER_NAMES, st.text("abc/;= 0123456789", max_size=12)),
    status=st.sampled_from([None, 200, 201, 404, 299, 418, "202 ACCEPTED"]),
)
def test_a_headers_dict_gives_the_headers_werkzeugs_path_gives(
    body: str | bytes, headers: dict[str, str], status: Any
) -> None:
    class Slow(Response):
        pass

    fast = Response(body, status=status, headers=headers)
    # A Headers object takes werkzeug's generic path.
    slow = Slow(body, status=status, headers=Headers(headers))

    assert fast.headers.to_wsgi_list() == slow.headers.to_wsgi_list()
    assert (fast.status, fast.body_bytes) == (slow.status, slow.body_bytes)


async def test_a_header_value_outside_latin_1_is_an_error_naming_the_header(
    app: Microframework,
) -> None:
    # It was a bare UnicodeEncodeError ("'latin-1' codec can't encode...").
    app.testing = True

    @app.route("/")
    async def index() -> Response:
        response = Response("x")
        response.headers["X-Val"] = "日本"
        return response

    with pytest.raises(
        ValueError, match="header 'X-Val' has a character outside Latin-1"
    ):
        await app.test_client().get("/")


# -- call_on_close ------------------------------------------------------------------------


async def test_call_on_close_deletes_a_file_once_it_is_sent(tmp_path: Path) -> None:
    # Flask's recipe for a file made per request; the attribute didn't exist here.
    app = Microframework(__name__)
    made = tmp_path / "report.csv"

    @app.get("/report")
    async def report() -> Response:
        made.write_text("a,b\n")
        response = await send_file(made, mimetype="text/csv")
        response.call_on_close(made.unlink)
        return response

    response = await app.test_client().get("/report")
    assert await response.get_data() == b"a,b\n"
    assert not made.exists()


@pytest.mark.parametrize("kind", ["bytes", "stream", "head"])
async def test_close_functions_run_once_after_the_body_in_order(kind: str) -> None:
    app = Microframework(__name__)
    seen: list[str] = []

    async def chunks() -> AsyncIterator[bytes]:
        yield b"body"
        seen.append("body sent")

    @app.route("/", methods=["GET", "HEAD"])
    async def index() -> Response:
        response = Response(b"body" if kind == "bytes" else chunks())
        first = response.call_on_close(lambda: seen.append("first"))
        assert first() is None and seen.pop() == "first"  # returned: a decorator

        @response.call_on_close
        async def second() -> None:
            seen.append("second")

        return response

    client = app.test_client()
    response = await (client.head("/") if kind == "head" else client.get("/"))
    assert await response.get_data() == (b"" if kind == "head" else b"body")
    expected = ["first", "second"]
    assert seen == (["body sent", *expected] if kind == "stream" else expected)


async def test_close_functions_run_when_the_client_leaves_a_stream() -> None:
    app = Microframework(__name__)
    closed: list[str] = []

    async def chunks() -> AsyncIterator[bytes]:
        yield b"first"
        await asyncio.Event().wait()
        yield b"never"

    @app.get("/")
    async def index() -> Response:
        response = Response(chunks())
        response.call_on_close(lambda: closed.append("closed"))
        return response

    class Leaves(Recorder):
        async def send(self, message: dict[str, Any]) -> None:
            await super().send(message)
            if message.get("body") == b"first":
                self.disconnect()

    async with asyncio.timeout(5):
        await call(app, http_scope("/"), Leaves())
    assert closed == ["closed"]


async def test_a_websocket_refusals_response_is_closed() -> None:
    app = Microframework(__name__)
    closed: list[str] = []

    @app.websocket("/ws")
    async def ws() -> Response:
        response = Response("nope", 403)
        response.call_on_close(lambda: closed.append("closed"))
        return response

    with pytest.raises(WebsocketResponseError):
        async with app.test_client().websocket("/ws") as socket:
            await socket.receive()
    assert closed == ["closed"]


async def test_a_response_dropped_unsent_is_closed_too() -> None:
    # A header value outside latin-1 makes it a 500: the first is never sent.
    app = Microframework(__name__)
    closed: list[str] = []

    @app.get("/")
    async def index() -> Response:
        response = Response("x", headers={"X-Bad": "\u2603"})
        response.call_on_close(lambda: closed.append("closed"))
        return response

    response = await app.test_client().get("/")
    assert response.status_code == 500
    assert closed == ["closed"]
