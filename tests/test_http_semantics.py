"""RFC 9110/9112 rules the wire shows: list fields in several lines, conditional
answers only for a 2xx, and the framing and Date left to the server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from asgi_harness import call
from asgi_harness import http_scope

from microframework import make_response
from microframework import Microframework
from microframework import request
from microframework import Response
from microframework import send_file
from microframework.wrappers import Request


def _app(tmp_path: Path) -> Microframework:
    (tmp_path / "f.txt").write_bytes(b"0123456789")
    app = Microframework(__name__, static_folder=str(tmp_path))

    @app.route("/made")
    async def made() -> Any:
        response = await make_response("0123456789")
        response.set_etag("abc")
        return await response.make_conditional(request)

    @app.route("/file")
    async def file() -> Any:
        response = await send_file(tmp_path / "f.txt", etag="abc")
        return response

    return app


@pytest.mark.parametrize("path", ["/made", "/file"])
@pytest.mark.parametrize(
    ("name", "status"), [(b"if-none-match", 304), (b"if-match", 200)]
)
async def test_a_list_field_in_two_lines_is_one_list(
    tmp_path: Path, path: str, name: bytes, status: int
) -> None:
    # RFC 9110 5.3: a cache may send If-None-Match as several lines; the second
    # line's tag matches. Flask reads both (its server joined them).
    app = _app(tmp_path)
    headers = [(name, b'"zzz"'), (name, b'"abc"')]
    recorder = await call(app, http_scope(path, headers=headers))
    assert recorder.status == status


async def test_the_parsed_list_headers_read_every_line() -> None:
    app = Microframework(__name__)
    seen: dict[str, Any] = {}

    @app.route("/")
    async def index() -> str:
        seen["accept"] = request.accept_mimetypes.best_match(["application/json"])
        seen["charsets"] = [value for value, _ in request.accept_charsets]
        seen["encodings"] = [value for value, _ in request.accept_encodings]
        seen["languages"] = [value for value, _ in request.accept_languages]
        seen["cache"] = (request.cache_control.no_cache, request.cache_control.max_age)
        seen["if_match"] = request.if_match.contains("b")
        seen["if_none_match"] = request.if_none_match.contains("b")
        seen["pragma"] = list(request.pragma)
        seen["route"] = request.access_route
        return ""

    lines = [
        ("accept", "text/html"),
        ("accept", "application/json"),
        ("accept-charset", "utf-8"),
        ("accept-charset", "latin-1"),
        ("accept-encoding", "gzip"),
        ("accept-encoding", "br"),
        ("accept-language", "fr"),
        ("accept-language", "en"),
        ("cache-control", "no-cache"),
        ("cache-control", "max-age=5"),
        ("if-match", '"a"'),
        ("if-match", '"b"'),
        ("if-none-match", '"a"'),
        ("if-none-match", '"b"'),
        ("pragma", "no-cache"),
        ("pragma", "x"),
        ("x-forwarded-for", "1.1.1.1"),
        ("x-forwarded-for", "2.2.2.2"),
    ]
    headers = [(name.encode(), value.encode()) for name, value in lines]
    recorder = await call(app, http_scope("/", headers=headers))
    assert recorder.status == 200
    assert seen == {
        "accept": "application/json",
        "charsets": ["utf-8", "latin-1"],
        "encodings": ["gzip", "br"],
        "languages": ["fr", "en"],
        "cache": (True, 5),
        "if_match": True,
        "if_none_match": True,
        "pragma": ["no-cache", "x"],
        "route": ["1.1.1.1", "2.2.2.2"],
    }


async def test_without_the_headers_the_parsed_ones_are_empty() -> None:
    app = Microframework(__name__)
    seen: list[Any] = []

    @app.route("/")
    async def index() -> str:
        seen.extend(
            [
                request.accept_mimetypes.best,
                request.if_none_match.to_header(),
                list(request.pragma),
                request.access_route,
                request.cache_control.no_cache,
            ]
        )
        return ""

    await call(app, http_scope("/", client=("9.9.9.9", 1)))
    assert seen == [None, "", [], ["9.9.9.9"], False]


async def test_make_conditional_answers_only_a_2xx() -> None:
    # RFC 9110 13.2.1: a 404 with a matching tag stays a 404, not a 304.
    app = Microframework(__name__)

    @app.route("/")
    async def index() -> Any:
        response = await make_response("missing", 404)
        response.set_etag("abc")
        return await response.make_conditional(request)

    headers = [(b"if-none-match", b'"abc"')]
    recorder = await call(app, http_scope("/", headers=headers))
    assert (recorder.status, recorder.body) == (404, b"missing")


async def test_make_conditional_leaves_the_date_to_the_server(tmp_path: Path) -> None:
    # hypercorn and uvicorn always add Date, and keep the app's: two on the wire.
    recorder = await call(_app(tmp_path), http_scope("/made"))
    assert recorder.status == 200
    assert b"date" not in recorder.headers


@pytest.mark.parametrize(
    ("view", "status", "length"),
    [
        (lambda: ("", 204, {"Transfer-Encoding": "chunked"}), 204, None),
        (lambda: ("hello", {"Transfer-Encoding": "chunked"}), 200, b"5"),
        (
            lambda: Response("hello", headers={"Transfer-Encoding": "chunked"}),
            200,
            b"5",
        ),
        (
            lambda: Response(status=304, headers={"Transfer-Encoding": "chunked"}),
            304,
            None,
        ),
    ],
)
async def test_a_views_own_transfer_encoding_is_dropped(
    view: Any, status: int, length: bytes | None
) -> None:
    # Framing is the server's: a 204 with it got a chunked terminator on uvicorn's
    # httptools, and a 200 went out with Content-Length too (a smuggling hazard).
    app = Microframework(__name__)
    app.add_url_rule("/", "index", view)
    for _ in range(2):  # the second time, from the kept encoded headers
        recorder = await call(app, http_scope("/"))
        assert recorder.status == status
        assert b"transfer-encoding" not in recorder.headers
        assert recorder.headers.get(b"content-length") == length


async def test_the_other_list_headers_read_every_line_too() -> None:
    app = Microframework(__name__)
    seen: list[Any] = []

    @app.route("/", methods=["GET", "POST"])
    async def index() -> str:
        preflight = request.access_control_request_headers
        seen.append(None if preflight is None else sorted(preflight))
        seen.append(request.content_encoding)
        seen.append(type(request.access_route).__name__)
        return ""

    lines = [
        (b"access-control-request-headers", b"x-a"),
        (b"access-control-request-headers", b"x-b"),
        (b"content-encoding", b"gzip"),
        (b"content-encoding", b"br"),
    ]
    await call(app, http_scope("/", headers=lines))
    await call(app, http_scope("/"))
    assert seen == [
        ["x-a", "x-b"],
        "gzip, br",
        "ImmutableList",
        None,
        None,
        "ImmutableList",
    ]


async def test_a_scope_without_an_http_version_is_served() -> None:
    # ASGI requires it, but hand-made scopes in tests may leave it out.
    app = Microframework(__name__)

    @app.route("/")
    async def index() -> str:
        return "hi"

    scope = http_scope("/")
    del scope["http_version"]
    recorder = await call(app, scope)
    assert (recorder.status, recorder.body) == (200, b"hi")


async def test_access_route_of_a_subclass_without_an_address_is_empty() -> None:
    # werkzeug allows remote_addr to be None ("unknown"); a subclass may say so.
    class Unknown(Request):
        @property
        def remote_addr(self) -> str | None:  # type: ignore[override]
            return None

    app = Microframework(__name__)
    app.request_class = Unknown
    seen: list[Any] = []

    @app.route("/")
    async def index() -> str:
        seen.append(list(request.access_route))
        return ""

    await call(app, http_scope("/"))
    assert seen == [[]]


# -- a body sent with Expect: 100-continue that nobody asked for (uploads, review10) -----
@pytest.fixture
def expecting_app() -> Microframework:
    app = Microframework(__name__)
    app.config["MAX_CONTENT_LENGTH"] = 10

    @app.post("/read")
    async def read() -> str:
        return str(len(await request.get_data()))

    @app.post("/boom")
    async def boom() -> str:
        raise ValueError("boom")

    return app


async def _post_expecting(app: Microframework, path: str, size: int) -> Any:
    return await app.test_client().post(
        path, data=b"x" * size, headers={"Expect": "100-continue"}
    )


@pytest.mark.parametrize(("path", "status"), [("/read", 413), ("/boom", 500)])
async def test_an_unasked_body_closes_the_connection_on_error_answers(
    expecting_app: Microframework, path: str, status: int
) -> None:
    # A 413 for the declared length is the main case Expect exists for: it refuses
    # before asking; an unhandled error's 500 is made apart from the view's answer.
    response = await _post_expecting(expecting_app, path, 50)
    assert response.status_code == status
    assert response.headers.get("Connection") == "close"


async def test_a_body_read_keeps_the_connection(expecting_app: Microframework) -> None:
    response = await _post_expecting(expecting_app, "/read", 5)
    assert response.status_code == 200
    assert "Connection" not in response.headers


async def test_closing_for_an_unasked_body_leaves_the_views_response_alone(
    expecting_app: Microframework,
) -> None:
    # The view's own response object, sent again later, must not keep the header.
    shared = Response("ok", headers={"Connection": "keep-alive"})
    expecting_app.add_url_rule(
        "/shared", "shared", lambda: shared, methods=["GET", "POST"]
    )
    response = await _post_expecting(expecting_app, "/shared", 5)
    assert response.headers.getlist("Connection") == ["close"]
    assert shared.headers["Connection"] == "keep-alive"
    later = await expecting_app.test_client().get("/shared")
    assert later.headers.get("Connection") == "keep-alive"
