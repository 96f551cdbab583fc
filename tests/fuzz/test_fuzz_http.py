"""Fuzz the app over raw ASGI HTTP: any request gets one well-formed answer.

Properties checked on every example: the app returns (no hang); no exception escapes
it; the messages are one well-formed response (``check_http``); nothing but a
deliberate error is logged; a 5xx comes only from a view that meant it. Focused tests
add what the answer must say: ranges slice the right bytes, and a form parses the same
however its body is split.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from fuzz_app import CONDITIONAL_BODY
from fuzz_app import Deliberate
from fuzz_app import make_app
from fuzz_app import STATIC_FILES
from fuzz_harness import check_http
from fuzz_harness import check_no_unexpected_errors
from fuzz_harness import Exchange
from fuzz_harness import run_http
from fuzz_strategies import Body
from fuzz_strategies import budget
from fuzz_strategies import HOSTS
from fuzz_strategies import http_case
from fuzz_strategies import HttpCase
from fuzz_strategies import RANGES
from fuzz_strategies import raw_target
from fuzz_strategies import request_body
from fuzz_strategies import split
from hypothesis import given
from hypothesis import strategies as st

from microframework import Microframework


async def run_case(app: Microframework, case: HttpCase) -> Exchange:
    return await run_http(
        app, case.scope, case.chunks, leave_early=case.leave_early, slow=case.slow
    )


def check_exchange(exchange: Exchange, case: HttpCase) -> None:
    """Every property that holds for any request."""
    check_no_unexpected_errors(exchange, Deliberate)
    check_http(exchange, case.method, complete=not case.leave_early)
    if exchange.sent and exchange.status >= 500:
        assert exchange.header(b"x-deliberate"), (
            f"{exchange.status} from a view that did not mean it: {exchange.body[:300]!r}"
        )


@budget(600)
@given(case=http_case())
async def test_any_request_gets_one_well_formed_answer(
    fuzz_app: Microframework, case: HttpCase
) -> None:
    exchange = await run_case(fuzz_app, case)
    check_exchange(exchange, case)


_BODY_ROUTES = [
    "/form",
    "/values",
    "/json",
    "/json-force",
    "/data",
    "/body-iter",
    "/body-file",
    "/session",
    "/items/",
    "/headers",
    "/boom",
]


@budget(400)
@given(
    case=http_case(
        targets=raw_target(_BODY_ROUTES),
        methods=st.sampled_from(["POST", "POST", "PUT", "PATCH", "DELETE"]),
        bodies=request_body(kinds=("form", "multipart", "json", "raw")),
    )
)
async def test_any_body_gets_one_well_formed_answer(
    fuzz_app: Microframework, case: HttpCase
) -> None:
    exchange = await run_case(fuzz_app, case)
    check_exchange(exchange, case)


# -- ranges and conditional requests -----------------------------------------------
_FILES = {
    "/conditional": CONDITIONAL_BODY,
    "/bytesio": CONDITIONAL_BODY,
    "/files/hello.txt": STATIC_FILES["hello.txt"],
    "/files/archive.tar.gz": STATIC_FILES["archive.tar.gz"],
    "/static/hello.txt": STATIC_FILES["hello.txt"],
    "/static/sub/page.html": STATIC_FILES["sub/page.html"],
}
_CONTENT_RANGE = re.compile(rb"bytes (\d+)-(\d+)/(\d+)")


def _parts(exchange: Exchange) -> list[tuple[bytes, bytes]]:
    """The (Content-Range, data) of each part of a 206 response."""
    content_type = exchange.header(b"content-type")[0]
    if not content_type.startswith(b"multipart/byteranges"):
        return [(exchange.header(b"content-range")[0], exchange.body)]
    boundary = content_type.partition(b"boundary=")[2]
    pieces = exchange.body.split(b"--" + boundary)
    assert pieces[0] == b"" and pieces[-1] == b"--\r\n", "multipart framing"
    parts = []
    for piece in pieces[1:-1]:
        head, _, data = piece.partition(b"\r\n\r\n")
        assert data.endswith(b"\r\n")
        ranges = [
            line for line in head.split(b"\r\n") if line.startswith(b"Content-Range")
        ]
        parts.append((ranges[0].partition(b": ")[2], data[:-2]))
    return parts


def _range_header() -> st.SearchStrategy[bytes]:
    """``bytes=`` and a list of valid specs around the files' sizes."""
    bound = st.integers(0, 300)
    spec = st.one_of(
        st.tuples(bound, bound).map(lambda pair: "{}-{}".format(*sorted(pair))),
        bound.map("{}-".format),
        bound.map("-{}".format),
    )
    return st.lists(spec, min_size=1, max_size=12).map(
        lambda specs: ("bytes=" + ",".join(specs)).encode()
    )


@budget(300)
@given(
    case=http_case(
        targets=st.sampled_from(sorted(_FILES)),
        methods=st.sampled_from(["GET", "GET", "HEAD"]),
        bodies=request_body(kinds=("none",)),
        extra_headers=st.lists(
            st.tuples(st.just(b"range"), st.sampled_from(RANGES) | _range_header()),
            min_size=1,
            max_size=2,
        ),
    )
)
async def test_ranges_send_exactly_the_bytes_asked_for(
    fuzz_app: Microframework, case: HttpCase
) -> None:
    exchange = await run_case(fuzz_app, case)
    check_exchange(exchange, case)
    if case.leave_early or exchange.status != 206 or case.method == "HEAD":
        return
    expected = _FILES[case.scope["path"].removeprefix(case.scope["root_path"])]
    previous_end = -2
    for content_range, data in _parts(exchange):
        match = _CONTENT_RANGE.fullmatch(content_range)
        assert match is not None, content_range
        first, last, size = map(int, match.groups())
        assert size == len(expected)
        assert previous_end + 1 < first <= last < size, "ranges sorted, merged, inside"
        assert data == expected[first : last + 1]
        previous_end = last


# -- form bodies split anywhere ----------------------------------------------------
def _form_scope(body: Body) -> dict[str, Any]:
    headers = [(b"host", b"localhost"), *body.headers()]
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/form",
        "raw_path": b"/form",
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("localhost", 80),
    }


@budget(300)
@given(body=request_body(kinds=("form", "multipart")), data=st.data())
async def test_a_form_parses_the_same_however_it_is_split(
    fuzz_app: Microframework, body: Body, data: st.DataObject
) -> None:
    whole = await run_http(fuzz_app, _form_scope(body), [body.data])
    chunks = data.draw(split(body.data) | st.just([bytes([b]) for b in body.data]))
    pieces = await run_http(fuzz_app, _form_scope(body), chunks)

    check_http(whole, "POST")
    check_no_unexpected_errors(whole, Deliberate)
    if 200 in (whole.status, pieces.status):
        assert (pieces.status, pieces.body) == (whole.status, whole.body)
    else:
        # Two faults (a bad part, a body over the limit) are met in stream order,
        # so which one answers may depend on where the chunks end; both are 4xx.
        assert 400 <= pieces.status < 500 and 400 <= whole.status < 500


# -- no answer depends on what came before -----------------------------------------
#: Headers that carry the time or a random boundary, so differ between two runs.
_VARYING = frozenset({b"date", b"expires", b"set-cookie", b"content-type"})


def _answer(exchange: Exchange) -> tuple[Any, ...]:
    if not exchange.response:
        return ()
    headers = sorted(
        (name, value if name not in _VARYING else b"")
        for name, value in exchange.start.get("headers", ())
    )
    (content_type,) = exchange.header(b"content-type") or [b""]
    body = b"" if content_type.startswith(b"multipart/") else exchange.body
    return exchange.status, headers, body


@st.composite
def _variant(draw: st.DrawFn, case: HttpCase) -> HttpCase:
    """*case* with some of what the caches are keyed on redrawn."""
    scope = dict(case.scope)
    scope["headers"] = [h for h in scope["headers"] if h[0] != b"host"]
    host = draw(st.none() | st.sampled_from(HOSTS))
    if host is not None:
        scope["headers"].append((b"host", host))
    scope["server"] = draw(st.sampled_from([("localhost", 80), None, ("other", 81)]))
    scope["scheme"] = draw(st.sampled_from(["http", "https"]))
    scope["method"] = draw(st.sampled_from(["GET", case.method]))
    return HttpCase(scope, case.chunks, False, case.target, draw(st.booleans()))


@budget(60)
@given(case=http_case(), data=st.data())
async def test_an_answer_does_not_depend_on_earlier_requests(
    fuzz_folder: Path, case: HttpCase, data: st.DataObject
) -> None:
    # The compiled tables and caches (adapters, matches, encoded headers) are shared
    # by every request: a warmed-up app must answer as a fresh one does. Earlier
    # requests often share the target, so that they fill the same cache entries.
    targets = st.just(case.target) | raw_target()
    earlier = data.draw(
        st.lists(_variant(case) | http_case(targets=targets), min_size=1, max_size=3)
    )
    warm = make_app(fuzz_folder)
    for before in earlier:
        await run_case(warm, before)
    fresh = await run_http(make_app(fuzz_folder), dict(case.scope), case.chunks)
    again = await run_http(warm, dict(case.scope), case.chunks, slow=case.slow)

    assert _answer(again) == _answer(fresh)


@budget(100)
@given(case=http_case(methods=st.just("GET")))
async def test_head_answers_as_get_does_without_the_body(
    fuzz_app: Microframework, case: HttpCase
) -> None:
    get = await run_http(fuzz_app, dict(case.scope), case.chunks)
    head = await run_http(fuzz_app, {**case.scope, "method": "HEAD"}, case.chunks)

    check_http(head, "HEAD")
    assert _answer(head)[:2] == _answer(get)[:2]
