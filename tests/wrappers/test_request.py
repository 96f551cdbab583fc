"""``Request`` through the test client: URL parts, headers, routing results, body, forms."""

from __future__ import annotations

import asyncio
import io
from typing import Any

import pytest
from asgi_harness import call
from asgi_harness import http_scope
from asgi_harness import Recorder
from hypothesis import given
from hypothesis import strategies as st
from werkzeug.datastructures import FileStorage
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import NotFound

from microframework import Blueprint
from microframework import Microframework
from microframework import redirect
from microframework import Request
from microframework import request
from microframework import url_for
from microframework import websocket

# -- URL parts, headers, routing results ------------------------------------------------


def _add_attributes_route(app: Microframework) -> None:
    @app.route("/items/<int:item>", methods=["GET", "POST"])
    async def item_view(item: int) -> dict[str, Any]:
        assert request.url_rule is not None
        return {
            "method": request.method,
            "path": request.path,
            "full_path": request.full_path,
            "url": request.url,
            "base_url": request.base_url,
            "root_path": request.root_path,
            "host": request.host,
            "scheme": request.scheme,
            "remote_addr": request.remote_addr,
            "endpoint": request.endpoint,
            "view_args": request.view_args,
            "rule": request.url_rule.rule,
            "blueprint": request.blueprint,
            "item": item,
        }


async def test_url_parts_routing_results_and_peer_are_exposed(
    app: Microframework,
) -> None:
    _add_attributes_route(app)

    response = await app.test_client().get("/items/7?q=1")

    assert response.status_code == 200
    assert await response.get_json() == {
        "method": "GET",
        "path": "/items/7",
        "full_path": "/items/7?q=1",
        "url": "http://localhost/items/7?q=1",
        "base_url": "http://localhost/items/7",
        "root_path": "",
        "host": "localhost",
        "scheme": "http",
        "remote_addr": "127.0.0.1",
        "endpoint": "item_view",
        "view_args": {"item": 7},
        "rule": "/items/<int:item>",
        "blueprint": None,
        "item": 7,
    }


async def test_a_content_length_of_thousands_of_digits_is_not_a_500(
    app: Microframework,
) -> None:
    # int() refuses over 4,300 digits; werkzeug reads such a header as 0, and the
    # body is still limited while it arrives.
    @app.post("/")
    async def index() -> str:
        return f"{request.content_length} {len(await request.get_data())}"

    scope = http_scope("/", method="POST", headers=[(b"content-length", b"9" * 5000)])
    rec = await call(app, scope, Recorder(b"abc"))
    assert (rec.status, rec.body) == (200, b"0 3")


@pytest.mark.parametrize("target", ["http://[::1/x", "http://[/x", "http://a]/x"])
async def test_an_absolute_form_target_that_is_not_a_url_is_a_400(
    app: Microframework, target: str
) -> None:
    @app.route("/x")
    async def index() -> str:
        return "x"

    rec = await call(app, http_scope(target))
    assert rec.status == 400


async def test_method_scheme_and_host_follow_the_request(app: Microframework) -> None:
    _add_attributes_route(app)

    response = await app.test_client().post(
        "/items/1", scheme="https", headers={"Host": "example.com:8443"}
    )

    data = await response.get_json()
    assert data["method"] == "POST"
    assert data["scheme"] == "https"
    assert data["host"] == "example.com:8443"
    assert data["url"] == "https://example.com:8443/items/1"
    assert data["full_path"] == "/items/1?"  # as in Flask: always with the "?"


async def test_root_path_is_kept_out_of_path_and_in_urls(app: Microframework) -> None:
    _add_attributes_route(app)

    response = await app.test_client().get("/mount/items/3?x=y", root_path="/mount")

    data = await response.get_json()
    assert data["path"] == "/items/3"
    assert data["root_path"] == "/mount"
    assert data["base_url"] == "http://localhost/mount/items/3"
    assert data["url"] == "http://localhost/mount/items/3?x=y"
    assert data["view_args"] == {"item": 3}


async def test_the_client_path_includes_the_root_path_as_in_quart(
    app: Microframework,
) -> None:
    @app.get("/")
    async def index() -> str:
        return f"{request.root_path}|{request.path}"

    client = app.test_client()
    mounted = await client.get("/bob/", root_path="/bob")
    outside = await client.get("/", root_path="/bob")
    async with app.test_request_context("/bob/x", root_path="/bob"):
        assert (request.root_path, request.path) == ("/bob", "/x")

    assert await mounted.get_data(as_text=True) == "/bob|/"
    assert outside.status_code == 404


@pytest.mark.parametrize(
    ("scope_path", "status", "body"),
    [
        ("/mount/items/3", 200, b"/mount|/items/3|3"),
        ("/mount/", 200, b"/mount|/|root"),
        ("/items/3", 404, None),  # outside the root path: not this app's
        ("/mountain/items/3", 404, None),  # a prefix of a segment is not the root
    ],
)
async def test_path_includes_the_root_path_as_the_asgi_spec_says(
    app: Microframework, scope_path: str, status: int, body: bytes | None
) -> None:
    @app.route("/")
    async def index() -> str:
        return f"{request.root_path}|{request.path}|root"

    @app.route("/items/<int:item>")
    async def item_view(item: int) -> str:
        return f"{request.root_path}|{request.path}|{item}"

    rec = await call(app, http_scope(scope_path, root_path="/mount/"))

    assert rec.status == status
    if body is not None:
        assert rec.body == body


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/"),  # only GET there: would be a 405
        ("GET", "/dir"),  # would redirect to /dir/
        ("GET", "/ws"),  # a websocket route: would be a 400
    ],
)
async def test_a_path_outside_the_root_path_is_404_whatever_it_matches(
    app: Microframework, method: str, path: str
) -> None:
    @app.get("/")
    async def index() -> str:
        return "index"

    @app.get("/dir/")
    async def folder() -> str:
        return "dir"

    @app.websocket("/ws")
    async def ws() -> None:
        pass

    @app.errorhandler(404)
    async def not_found(error: Exception) -> tuple[str, int]:
        return url_for("index"), 404  # the adapter is bound: links still build

    rec = await call(app, http_scope(path, method=method, root_path="/app"))
    assert (rec.status, rec.body) == (404, b"/app/")


@pytest.mark.parametrize(
    ("root_path", "query", "location"),
    [
        ("/app", b"", "http://localhost/app/"),
        ("/app/", b"q=1&r=%C3%A9", "http://localhost/app/?q=1&r=%C3%A9"),
        ("/caf\u00e9 x", b"", "http://localhost/caf%C3%A9%20x/"),
    ],
)
async def test_the_mount_point_without_its_slash_redirects_to_it_as_in_flask(
    app: Microframework, root_path: str, query: bytes, location: str
) -> None:
    # Served as "/", the index's relative links would resolve outside the mount.
    @app.route("/", methods=["GET", "POST"])
    async def index() -> str:
        return "index"

    mount = root_path.rstrip("/")
    for method in ("GET", "POST"):
        scope = http_scope(
            mount, method=method, root_path=root_path, query_string=query
        )
        rec = await call(app, scope)
        assert (rec.status, rec.headers[b"location"]) == (308, location.encode())


@pytest.mark.parametrize(
    ("strict", "index", "expected"),
    [(False, True, (200, b"index")), (True, False, (404, None))],
    ids=["not-strict", "no-index"],
)
async def test_the_mount_point_without_its_slash_is_routed_as_werkzeug_routes_it(
    app: Microframework, strict: bool, index: bool, expected: tuple[int, bytes | None]
) -> None:
    # As Flask under werkzeug's dispatcher: the redirect is strict slashes' answer.
    app.url_map.strict_slashes = strict
    if index:
        app.add_url_rule("/", "index", lambda: "index")
    app.add_url_rule("/other", "other", lambda: "other")

    rec = await call(app, http_scope("/app", root_path="/app"))
    assert rec.status == expected[0]
    if expected[1] is not None:
        assert rec.body == expected[1]


@pytest.mark.parametrize("path", ["/app", "/app/", "/apple"])
async def test_an_untrusted_host_is_400_under_a_root_path_too(
    app: Microframework, path: str
) -> None:
    # At the mount point and outside the root path it was a 308 and a 404.
    app.config["TRUSTED_HOSTS"] = ["good.test"]
    app.add_url_rule("/", "index", lambda: "index")
    scope = http_scope(path, root_path="/app")
    scope["headers"] = [(b"host", b"evil.test")]
    rec = await call(app, scope)
    assert rec.status == 400


async def test_a_websocket_to_the_mount_point_without_its_slash_is_the_apps_root(
    app: Microframework,
) -> None:
    # No redirect a websocket client would follow: it is served, as before.
    @app.websocket("/")
    async def root() -> None:
        await websocket.accept()
        await websocket.send(websocket.path)

    client = app.test_client()
    async with client.websocket("/app", root_path="/app") as ws:
        assert await ws.receive() == "/"


async def test_no_hook_sees_a_route_outside_the_root_path(app: Microframework) -> None:
    # Quart matches nothing there: a blueprint's hook must not run, nor answer.
    bp = Blueprint("admin", __name__, url_prefix="/admin")
    seen: list[object] = []

    @bp.before_request
    async def answer() -> tuple[str, int]:
        return "the blueprint answered", 403

    @bp.route("/<int:n>")
    async def item(n: int) -> str:
        return str(n)

    @app.before_request
    async def record() -> None:
        seen.append((request.endpoint, request.blueprint, request.view_args))

    app.register_blueprint(bp)
    rec = await call(app, http_scope("/admin/3", root_path="/app"))
    assert rec.status == 404
    assert seen == [(None, None, None)]
    async with app.test_request_context("/admin/3", root_path="/app"):
        assert request.endpoint is None
        assert isinstance(request.routing_exception, NotFound)


@pytest.mark.parametrize(
    ("path", "root_path", "expected"),
    [
        ("//evil.example/x", "", "/evil.example/x"),
        ("///evil.example/x", "", "/evil.example/x"),
        ("/app//evil.example/x", "/app", "/evil.example/x"),
        ("/app//evil.example/x", "/app/", "/evil.example/x"),
        ("/.//evil.example/x", "", "/evil.example/x"),
        ("/..//evil.example/x", "", "/evil.example/x"),
        ("/a/..//evil.example/x", "", "/evil.example/x"),
    ],
)
async def test_leading_slashes_of_the_path_are_one_as_in_werkzeug(
    app: Microframework, path: str, root_path: str, expected: str
) -> None:
    # request.path kept "//evil.example/x": a login redirect back to request.path
    # was a protocol-relative URL to another host (Flask and Quart give "/evil...").
    @app.before_request
    async def login_required() -> Any:
        if "user" not in request.args:
            return redirect(request.path)
        return None

    @app.get("/<path:page>")
    async def page(page: str) -> str:
        return f"{page} {request.path}"

    rec = await call(app, http_scope(path, root_path=root_path))
    assert rec.headers[b"location"] == expected.encode()
    rec = await call(app, http_scope(path, query_string=b"user", root_path=root_path))
    assert rec.body.decode() == f"{expected[1:]} {expected}"


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("http://example.com/a?b", b"/a?b"),  # GET http://example.com/a%3Fb
        ("http://example.com/a#b", b"/a#b"),
        ("http://example.com", b"/"),
        ("http://example.com?x", b"/"),
        ("a/b://example.com/admin", b"/a/b://example.com/admin"),  # no scheme
        ("x?://example.com/admin", b"/x?://example.com/admin"),  # GET x%3F://...
    ],
)
async def test_an_absolute_form_targets_decoded_path_is_kept_whole(
    app: Microframework, target: str, expected: bytes
) -> None:
    # The server decoded %3F: split as a URL again, "/a?b" routed as "/a".
    @app.route("/", defaults={"rest": ""})
    @app.route("/<path:rest>")
    async def echo(rest: str) -> str:
        return request.path

    rec = await call(app, http_scope(target))
    assert (rec.status, rec.body) == (200, expected)


@pytest.mark.parametrize(
    "raw", [b"h%74tp://example.com/admin", b"http:%2F%2Fexample.com/admin"]
)
async def test_an_absolute_form_is_read_from_the_raw_target(
    app: Microframework, raw: bytes
) -> None:
    # A proxy reads the raw target: "h%74tp" is no scheme there, so no absolute-form.
    @app.route("/<path:rest>")
    async def echo(rest: str) -> str:
        return request.path

    rec = await call(app, http_scope("http://example.com/admin", raw_path=raw))
    assert (rec.status, rec.body) == (200, b"/http://example.com/admin")


@pytest.mark.parametrize("kind", ["http", "websocket"])
async def test_an_absolute_form_target_routes_by_its_path(
    app: Microframework, kind: str
) -> None:
    # RFC 9112 3.2.2: servers must accept "GET http://host/p"; they pass it on as is.
    @app.get("/items/<int:item>")
    async def item(item: int) -> str:
        return f"{request.path} {item}"

    @app.websocket("/live")
    async def live() -> None:
        await websocket.accept()
        await websocket.send(websocket.path)

    if kind == "http":
        rec = await call(app, http_scope("http://example.com/items/3"))
        assert (rec.status, rec.body) == (200, b"/items/3 3")
        return
    scope = http_scope("http://example.com/live", type="websocket")
    messages = iter([{"type": "websocket.connect"}, {"type": "websocket.disconnect"}])
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return next(messages)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    assert [m["type"] for m in sent][:2] == ["websocket.accept", "websocket.send"]
    assert sent[1]["text"] == "/live"


async def test_args_is_a_multidict_keeping_repeated_keys(app: Microframework) -> None:
    seen: list[MultiDict[str, str]] = []

    @app.route("/")
    async def index() -> str:
        seen.append(request.args)
        return "ok"

    await app.test_client().get("/?tag=a&tag=b&single=1&empty=")

    args = seen[0]
    assert isinstance(args, MultiDict)
    assert args.getlist("tag") == ["a", "b"]
    assert args["tag"] == "a"
    assert args["single"] == "1"
    assert args["empty"] == ""
    assert "missing" not in args


async def test_query_string_with_unicode_and_percent_escapes_is_decoded(
    app: Microframework,
) -> None:
    @app.route("/")
    async def index() -> dict[str, Any]:
        return {
            "args": request.args.to_dict(flat=False),
            "raw": request.query_string.decode("ascii"),
        }

    response = await app.test_client().get(
        "/?word=%C3%A9t%C3%A9&plus=a+b&space=a%20b&amp=x%26y",
        query_string={"name": "zoë", "sym": "1&2=3"},
    )

    data = await response.get_json()
    assert data["args"] == {
        "word": ["été"],
        "plus": ["a b"],
        "space": ["a b"],
        "amp": ["x&y"],
        "name": ["zoë"],
        "sym": ["1&2=3"],
    }
    # What goes over the wire is ASCII: the non-ASCII value arrives percent-encoded.
    assert data["raw"].endswith("&name=zo%C3%AB&sym=1%262%3D3")


async def test_query_bytes_that_are_not_utf8_stay_percent_encoded(
    app: Microframework,
) -> None:
    # Found by tests/fuzz: a raw 0x80 in the query string was a UnicodeDecodeError (500).
    @app.route("/")
    async def index() -> dict[str, Any]:
        return {"args": request.args.to_dict(flat=False), "full": request.full_path}

    scope = http_scope("/", query_string=b"a=\x80&b=%80&c=%E2%82%AC\xe2\x82\xac")
    recorder = await call(app, scope)

    assert recorder.status == 200
    assert recorder.body == (
        b'{"args":{"a":["%80"],"b":["%80"],"c":["\\u20ac\\u20ac"]},'
        b'"full":"/?a=%80&b=%80&c=%E2%82%AC\\u20ac"}\n'
    )


async def test_basic_authorization_that_is_not_ascii_is_none(
    app: Microframework,
) -> None:
    # Found by tests/fuzz: werkzeug raised ValueError from base64 for this, a 500.
    @app.route("/")
    async def index() -> str:
        return repr(request.authorization)

    headers = [(b"authorization", b"Basic \xff\xfe")]
    recorder = await call(app, http_scope("/", headers=headers))

    assert (recorder.status, recorder.body) == (200, b"None")


async def test_unicode_path_reaches_view_args_decoded(app: Microframework) -> None:
    @app.route("/greet/<name>")
    async def greet(name: str) -> dict[str, Any]:
        return {"name": name, "path": request.path}

    response = await app.test_client().get("/greet/zo%C3%AB")

    assert await response.get_json() == {"name": "zoë", "path": "/greet/zoë"}


@given(
    st.dictionaries(
        st.text(min_size=1, max_size=12).filter(lambda s: "\x00" not in s),
        st.text(max_size=12),
        max_size=4,
    )
)
async def test_any_query_mapping_round_trips_through_args(
    values: dict[str, str],
) -> None:
    app = Microframework(__name__)
    app.testing = True

    @app.route("/")
    async def index() -> dict[str, Any]:
        return request.args.to_dict()

    response = await app.test_client().get("/", query_string=values)

    assert await response.get_json() == values


async def test_headers_are_case_insensitive_and_keep_repeats(
    app: Microframework,
) -> None:
    @app.route("/")
    async def index() -> dict[str, Any]:
        return {
            "upper": request.headers["X-TOKEN"],
            "lower": request.headers.get("x-token"),
            "all": request.headers.getlist("X-Multi"),
            "missing": request.headers.get("X-Missing"),
        }

    response = await app.test_client().get(
        "/", headers=[("X-Token", "t1"), ("X-Multi", "a"), ("X-Multi", "b")]
    )

    assert await response.get_json() == {
        "upper": "t1",
        "lower": "t1",
        "all": ["a", "b"],
        "missing": None,
    }


async def test_cookies_are_parsed_from_the_cookie_header(app: Microframework) -> None:
    @app.route("/")
    async def index() -> dict[str, str]:
        return dict(request.cookies)

    response = await app.test_client().get(
        "/", headers={"Cookie": 'session=abc; quoted="two words"'}
    )

    assert await response.get_json() == {"session": "abc", "quoted": "two words"}


async def test_json_body_sets_content_type_mimetype_length_and_is_json(
    app: Microframework,
) -> None:
    @app.post("/")
    async def index() -> dict[str, Any]:
        return {
            "content_type": request.content_type,
            "mimetype": request.mimetype,
            "content_length": request.content_length,
            "body_length": len(await request.get_data()),
            "is_json": request.is_json,
        }

    response = await app.test_client().post("/", json={"a": 1})

    data = await response.get_json()
    assert data["content_length"] == data["body_length"] > 0
    assert data == {
        "content_type": "application/json",
        "mimetype": "application/json",
        "content_length": data["body_length"],
        "body_length": data["body_length"],
        "is_json": True,
    }


@pytest.mark.parametrize(
    ("content_type", "mimetype", "is_json"),
    [
        ("Text/Plain; charset=latin-1", "text/plain", False),
        ("application/vnd.api+json", "application/vnd.api+json", True),
        (None, "", False),
    ],
)
async def test_mimetype_is_lowercased_without_parameters(
    app: Microframework, content_type: str | None, mimetype: str, is_json: bool
) -> None:
    @app.post("/")
    async def index() -> dict[str, Any]:
        return {
            "content_type": request.content_type,
            "mimetype": request.mimetype,
            "is_json": request.is_json,
            "content_length": request.content_length,
        }

    headers = {"Content-Type": content_type} if content_type else {}
    response = await app.test_client().post("/", data=b"xyz", headers=headers)

    assert await response.get_json() == {
        "content_type": content_type,
        "mimetype": mimetype,
        "is_json": is_json,
        "content_length": 3,
    }


async def test_request_without_body_has_no_content_length_or_type(
    app: Microframework,
) -> None:
    @app.route("/")
    async def index() -> dict[str, Any]:
        return {
            "content_type": request.content_type,
            "content_length": request.content_length,
        }

    response = await app.test_client().get("/")

    assert await response.get_json() == {"content_type": None, "content_length": None}


# -- body -----------------------------------------------------------------------------


async def test_get_data_is_cached_and_shared_by_data_and_body(
    app: Microframework,
) -> None:
    results: dict[str, Any] = {}

    @app.post("/")
    async def index() -> str:
        results["first"] = await request.get_data()
        results["second"] = await request.get_data()
        results["data"] = await request.data
        results["body"] = await request.body
        results["streamed"] = [chunk async for chunk in request.body]
        return "ok"

    response = await app.test_client().post("/", data=b"payload")

    assert response.status_code == 200
    assert results == {
        "first": b"payload",
        "second": b"payload",
        "data": b"payload",
        "body": b"payload",
        "streamed": [b"payload"],
    }


@pytest.mark.parametrize(
    "charset", ["latin-1", "nonexistent", "hex", "zlib_codec", "utf-16", "rot13"]
)
async def test_get_data_as_text_is_utf8_whatever_charset_the_client_names(
    app: Microframework, charset: str
) -> None:
    # As werkzeug 3: the client must not pick the codec (a 500 per request, or a
    # different text for the view).
    @app.post("/")
    async def index() -> str:
        text = await request.get_data(as_text=True)
        assert isinstance(text, str)
        return text

    utf8 = await app.test_client().post(
        "/",
        data="café".encode(),
        headers={"Content-Type": f"text/plain; charset={charset}"},
    )
    latin = await app.test_client().post(
        "/",
        data="café".encode("latin-1"),
        headers={"Content-Type": f"text/plain; charset={charset}"},
    )

    assert utf8.status_code == 200
    assert await utf8.get_data(as_text=True) == "café"
    assert await latin.get_data(as_text=True) == "caf\ufffd"


async def test_get_data_without_cache_consumes_the_body(app: Microframework) -> None:
    outcome: list[Any] = []

    @app.post("/")
    async def index() -> bytes:
        data: bytes = await request.get_data(cache=False)
        try:
            async for _chunk in request.body:
                pass
        except RuntimeError as error:
            outcome.append(error)
        return data

    response = await app.test_client().post("/", data=b"once")

    assert await response.get_data() == b"once"
    assert len(outcome) == 1 and "consumed" in str(outcome[0])


async def test_streaming_the_body_twice_raises_runtime_error(
    app: Microframework,
) -> None:
    outcome: list[Any] = []

    @app.post("/")
    async def index() -> bytes:
        first = b"".join([chunk async for chunk in request.body])
        try:
            async for _chunk in request.body:
                pass
        except RuntimeError as error:
            outcome.append(error)
        return first

    response = await app.test_client().post("/", data=b"stream")

    assert await response.get_data() == b"stream"
    assert len(outcome) == 1 and isinstance(outcome[0], RuntimeError)


@pytest.mark.parametrize(
    ("http_version", "headers"),
    [("1.1", {"Transfer-Encoding": "chunked"}), ("2", {})],
    ids=["http1-chunked", "http2-unframed"],
)
async def test_streamed_upload_reaches_the_view_chunk_by_chunk(
    app: Microframework, http_version: str, headers: dict[str, str]
) -> None:
    # HTTP/2 needs no Content-Length or Transfer-Encoding for a body.
    arrived: asyncio.Queue[bytes] = asyncio.Queue()

    @app.post("/upload")
    async def upload() -> str:
        chunks = []
        async for chunk in request.body:
            chunks.append(chunk)
            arrived.put_nowait(chunk)
        return "|".join(chunk.decode() for chunk in chunks)

    # Bounded: a body buffered before the view sees it would leave arrived empty.
    async with (
        asyncio.timeout(5),
        app.test_client().request(
            "/upload", method="POST", headers=headers, http_version=http_version
        ) as connection,
    ):
        await connection.send(b"one")
        # The view holds the first chunk before the second has even been sent.
        assert await arrived.get() == b"one"
        await connection.send(b"two")
        assert await arrived.get() == b"two"
        await connection.send_complete()
        response = await connection.as_response()

    assert response.status_code == 200
    assert await response.get_data() == b"one|two"


async def test_view_that_waits_before_reading_still_gets_an_unframed_body(
    app: Microframework,
) -> None:
    # Over HTTP/2 a body needs neither Content-Length nor Transfer-Encoding, so the
    # headers alone cannot tell that a body is still coming.
    app.config["RESPONSE_TIMEOUT"] = 2  # a lost body would otherwise wait 60 s
    waiting = asyncio.Event()
    gate = asyncio.Event()

    @app.post("/")
    async def index() -> bytes:
        waiting.set()
        await gate.wait()
        return await request.get_data()  # type: ignore[no-any-return]

    async with (
        asyncio.timeout(5),
        app.test_client().request("/", method="POST", http_version="2") as connection,
    ):
        await waiting.wait()
        await connection.send(b"abc")
        await connection.send(b"def")
        gate.set()
        await connection.send_complete()
        response = await connection.as_response()

    assert response.status_code == 200
    assert await response.get_data() == b"abcdef"


# -- forms ----------------------------------------------------------------------------


async def test_url_encoded_form_keeps_repeats_and_unicode(app: Microframework) -> None:
    seen: list[MultiDict[str, str]] = []

    @app.post("/")
    async def index() -> str:
        seen.append(await request.form)
        return "ok"

    await app.test_client().post("/", form={"name": "zoë", "tag": ["a", "b"]})

    form = seen[0]
    assert form["name"] == "zoë"
    assert form.getlist("tag") == ["a", "b"]


async def test_multipart_files_arrive_as_file_storage(app: Microframework) -> None:
    @app.post("/")
    async def index() -> dict[str, Any]:
        files = await request.files
        form = await request.form
        upload = files["upload"]
        assert isinstance(upload, FileStorage)
        return {
            "filename": upload.filename,
            "content": upload.read().decode(),
            "content_type": upload.content_type,
            "field": form["field"],
        }

    response = await app.test_client().post(
        "/",
        form={"field": "value"},
        files={"upload": (io.BytesIO(b"file body"), "notes.txt", "text/plain")},
    )

    assert await response.get_json() == {
        "filename": "notes.txt",
        "content": "file body",
        "content_type": "text/plain",
        "field": "value",
    }


async def test_form_after_get_data_parses_the_cached_body(app: Microframework) -> None:
    @app.post("/")
    async def index() -> dict[str, Any]:
        data = await request.get_data()
        form = await request.form
        return {"data": data.decode(), "form": form.to_dict()}

    response = await app.test_client().post("/", form={"a": "1"})

    assert await response.get_json() == {"data": "a=1", "form": {"a": "1"}}


@pytest.mark.parametrize("first", ["uncached", "streamed"])
async def test_a_body_read_already_gives_an_empty_form_and_file(
    app: Microframework, first: str
) -> None:
    # After get_data(cache=False) or an `async for` over the body, Flask and Quart
    # give an empty form (and stream); here form, files and get_body_file were 500s.
    @app.post("/")
    async def index() -> dict[str, Any]:
        if first == "uncached":
            await request.get_data(cache=False)
        else:
            async for _chunk in request.body:
                pass
        form, files = await request.form, await request.files
        body_file = await request.get_body_file()
        body = body_file.read().decode()
        return {"form": form.to_dict(), "files": len(files), "file": body}

    response = await app.test_client().post("/", form={"a": "1"})
    assert response.status_code == 200
    assert await response.get_json() == {"form": {}, "files": 0, "file": ""}


async def test_a_form_read_while_the_body_is_read_is_not_silently_empty(
    app: Microframework,
) -> None:
    # Only a body read to its end gives an empty form; one still being read (the
    # rest not in yet) must not answer as if the form were empty.
    @app.post("/")
    async def index() -> str:
        chunks = aiter(request.body)
        await anext(chunks)
        with pytest.raises(RuntimeError, match="already been consumed"):
            await request.form
        with pytest.raises(RuntimeError, match="already been consumed"):
            await request.get_body_file()
        return b"".join([chunk async for chunk in chunks]).decode()

    rec = Recorder(b"a=", b"1")
    headers = [(b"content-type", b"application/x-www-form-urlencoded")]
    headers.append((b"transfer-encoding", b"chunked"))
    await call(app, http_scope("/", "POST", headers), rec)
    assert (rec.status, rec.body) == (200, b"1")


async def test_teardown_functions_still_read_the_uploads(app: Microframework) -> None:
    # Flask and Quart close the uploads after the teardown functions, not before.
    read: list[bytes] = []

    @app.post("/")
    async def index() -> str:
        await request.files
        return "ok"

    @app.teardown_request
    async def audit(error: BaseException | None) -> None:
        read.append((await request.files)["f"].read())

    await app.test_client().post("/", files={"f": (io.BytesIO(b"hello"), "f.txt")})
    assert read == [b"hello"]


@pytest.mark.parametrize("name", ["form", "files", "values"])
def test_a_form_never_awaited_is_named_as_written(name: str) -> None:
    # "coroutine 'Request._get_form' was never awaited" named a private method.
    import gc
    import warnings

    scope = http_scope("/", "POST")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        getattr(Request(scope, Recorder().receive), name)
        gc.collect()
    assert f"coroutine 'Request.{name}' was never awaited" in [
        str(w.message) for w in caught
    ]


async def test_values_combines_args_and_form(app: Microframework) -> None:
    @app.post("/")
    async def index() -> dict[str, Any]:
        values = await request.values
        return {key: values.getlist(key) for key in ("a", "b", "both")}

    response = await app.test_client().post(
        "/?a=1&both=from-args", form={"b": "2", "both": "from-form"}
    )

    assert await response.get_json() == {
        "a": ["1"],
        "b": ["2"],
        "both": ["from-args", "from-form"],
    }


class _Tagged(ImmutableMultiDict[str, Any]):
    pass


@pytest.mark.parametrize("storage", [None, _Tagged])
async def test_form_and_files_use_the_parameter_storage_class(
    storage: type[MultiDict[str, Any]] | None,
) -> None:
    # Flask's subclassing pattern; by default the form is immutable, as in Flask.
    class Custom(Request):
        if storage is not None:
            parameter_storage_class = storage

    app = Microframework(__name__)
    app.request_class = Custom
    expected = storage or ImmutableMultiDict

    @app.post("/")
    async def index() -> str:
        form, files = await request.form, await request.files
        assert type(form) is type(files) is type(request.args) is expected
        with pytest.raises(TypeError):
            form["b"] = "changed"
        return form["a"]

    files = {"f": (io.BytesIO(b"x"), "f.txt")}
    response = await app.test_client().post("/", form={"a": "1"}, files=files)
    assert await response.get_data() == b"1"


async def test_a_view_that_waits_before_reading_gets_every_chunk(
    app: Microframework,
) -> None:
    # Quart's request-body guide: chunks sent while the view is busy elsewhere.
    started = asyncio.Event()

    @app.post("/")
    async def index() -> bytes:
        started.set()
        await asyncio.sleep(0)
        return await request.get_data()  # type: ignore[no-any-return]

    async with app.test_client().request("/", method="POST") as connection:
        await started.wait()
        await connection.send(b"a")
        await connection.send(b"b")
        await connection.send_complete()
    response = await connection.as_response()  # after the block, as Quart's docs do

    assert await response.get_data() == b"ab"


async def test_values_of_a_get_leave_its_body_out(app: Microframework) -> None:
    # As werkzeug (so Flask and Quart): a cache keyed on the URL can't see a GET's body.
    @app.route("/", methods=["GET", "PUT"])
    async def index() -> dict[str, Any]:
        return (await request.values).to_dict(flat=False)

    client = app.test_client()
    get = await client.get("/?a=1", form={"b": "2"})
    put = await client.put("/?a=1", form={"b": "2"})

    assert await get.get_json() == {"a": ["1"]}
    assert await put.get_json() == {"a": ["1"], "b": ["2"]}


async def test_url_root_and_script_root_are_flasks_aliases(app: Microframework) -> None:
    async with app.test_request_context("/mount/x", root_path="/mount"):
        assert request.script_root == request.root_path == "/mount"
        assert request.url_root == request.root_url == "http://localhost/mount/"


async def test_form_on_a_json_request_is_empty(app: Microframework) -> None:
    @app.post("/")
    async def index() -> dict[str, Any]:
        form = await request.form
        return {"form": form.to_dict(), "json": await request.get_json()}

    response = await app.test_client().post("/", json={"k": "v"})

    assert await response.get_json() == {"form": {}, "json": {"k": "v"}}


@pytest.mark.parametrize("multipart", [False, True], ids=["urlencoded", "multipart"])
async def test_form_over_max_form_memory_size_is_413(
    app: Microframework, multipart: bool
) -> None:
    app.config["MAX_FORM_MEMORY_SIZE"] = 16

    @app.post("/")
    async def index() -> str:
        return str(len(await request.form))

    client = app.test_client()
    files: dict[str, Any] | None = {} if multipart else None
    small = await client.post("/", form={"f": "x" * 4}, files=files)
    large = await client.post("/", form={"f": "x" * 40}, files=files)

    assert small.status_code == 200
    assert large.status_code == 413


@pytest.mark.parametrize("multipart", [False, True], ids=["urlencoded", "multipart"])
async def test_form_over_max_form_parts_is_413(
    app: Microframework, multipart: bool
) -> None:
    app.config["MAX_FORM_PARTS"] = 2

    @app.post("/")
    async def index() -> str:
        return str(len(await request.form))

    client = app.test_client()
    files: dict[str, Any] | None = {} if multipart else None
    two = await client.post("/", form={"a": "1", "b": "2"}, files=files)
    three = await client.post("/", form={"a": "1", "b": "2", "c": "3"}, files=files)

    assert two.status_code == 200
    assert three.status_code == 413


async def test_max_form_parts_set_on_the_request_is_honoured(
    app: Microframework,
) -> None:
    app.config["MAX_FORM_PARTS"] = 2

    @app.post("/strict")
    async def strict() -> str:
        request.max_form_parts = 1
        return str(len(await request.form))

    @app.post("/lenient")
    async def lenient() -> str:
        request.max_form_parts = None
        return str(len(await request.form))

    client = app.test_client()
    fields = {"a": "1", "b": "2", "c": "3", "d": "4"}
    strict_response = await client.post("/strict", form={"a": "1", "b": "2"})
    lenient_response = await client.post("/lenient", form=fields)

    assert strict_response.status_code == 413
    assert lenient_response.status_code == 200
    assert await lenient_response.get_data() == b"4"


async def test_multipart_body_without_closing_boundary_is_400(
    app: Microframework,
) -> None:
    @app.post("/")
    async def index() -> str:
        return str(len(await request.form))

    body = b'--XyZ\r\nContent-Disposition: form-data; name="a"\r\n\r\nvalue\r\n'
    client = app.test_client()
    truncated = await client.post(
        "/", data=body, headers={"Content-Type": "multipart/form-data; boundary=XyZ"}
    )
    complete = await client.post(
        "/",
        data=body + b"--XyZ--\r\n",
        headers={"Content-Type": "multipart/form-data; boundary=XyZ"},
    )

    assert truncated.status_code == 400
    assert complete.status_code == 200


async def test_form_over_max_content_length_is_413(app: Microframework) -> None:
    app.config["MAX_CONTENT_LENGTH"] = 10

    @app.post("/")
    async def index() -> str:
        return str(len(await request.form))

    client = app.test_client()
    within = await client.post("/", form={"a": "1"})
    over = await client.post("/", form={"a": "x" * 20})

    assert within.status_code == 200
    assert over.status_code == 413


async def test_declared_oversize_form_is_413_before_any_body_is_sent(
    app: Microframework,
) -> None:
    app.config["MAX_CONTENT_LENGTH"] = 10

    @app.post("/")
    async def index() -> str:
        return str(len(await request.form))

    async with (
        asyncio.timeout(5),
        app.test_client().request(
            "/",
            method="POST",
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Content-Length": "1000",
            },
        ) as connection,
    ):
        # No body is sent at all: the answer must come from the header alone.
        response = await connection.as_response()

    assert response.status_code == 413


async def test_uploaded_file_is_closed_after_the_request(app: Microframework) -> None:
    kept: list[FileStorage] = []

    @app.post("/")
    async def index() -> str:
        kept.append((await request.files)["upload"])
        return str(kept[0].stream.closed)

    response = await app.test_client().post(
        "/", files={"upload": (io.BytesIO(b"content"), "a.txt")}
    )

    assert await response.get_data() == b"False"  # open while the view runs
    assert kept[0].stream.closed


async def test_every_file_under_a_repeated_field_is_closed_after_the_request(
    app: Microframework,
) -> None:
    kept: list[FileStorage] = []

    @app.post("/")
    async def index() -> str:
        kept.extend((await request.files).getlist("upload"))
        return "ok"

    response = await app.test_client().post(
        "/",
        files={
            "upload": [
                (io.BytesIO(b"first"), "a.txt"),
                (io.BytesIO(b"second"), "b.bin", "application/octet-stream"),
            ]
        },
    )

    assert response.status_code == 200
    assert [storage.filename for storage in kept] == ["a.txt", "b.bin"]
    assert [storage.stream.closed for storage in kept] == [True, True]


# -- header shortcuts: werkzeug's answers, sooner --------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        [(b"content-length", b"12")],
        [(b"content-length", b"007")],
        [(b"content-length", b" 12")],
        [(b"content-length", b"+12")],
        [(b"content-length", b"1_000")],
        [(b"content-length", "\u00b2".encode("latin-1"))],
        [(b"content-length", b"-1")],
        [(b"content-length", b"")],
        [(b"content-length", b"12"), (b"transfer-encoding", b"chunked")],
        [],
    ],
)
def test_content_length_is_werkzeugs(headers: list[tuple[bytes, bytes]]) -> None:
    from werkzeug.sansio.utils import get_content_length

    from microframework.wrappers.request import Request

    def value(name: bytes) -> str | None:
        return next((v.decode("latin-1") for k, v in headers if k == name), None)

    expected = get_content_length(value(b"content-length"), value(b"transfer-encoding"))
    mine = Request(http_scope("/", headers=headers), _no_body, None).content_length
    assert mine == expected


@given(st.text(alphabet=st.characters(codec="latin-1"), max_size=40))
def test_mimetype_and_its_params_are_werkzeugs(content_type: str) -> None:
    from werkzeug.http import parse_options_header

    from microframework.wrappers.request import Request

    scope = http_scope("/", headers=[(b"content-type", content_type.encode("latin-1"))])
    mine = Request(scope, _no_body, None)
    value, params = parse_options_header(content_type)
    assert (mine.mimetype, mine.mimetype_params) == (value.lower(), params)


async def _no_body() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


def test_the_header_name_memo_stays_bounded_whatever_names_clients_send() -> None:
    from microframework._utils import MEMO_LIMIT
    from microframework.wrappers import base

    app = Microframework(__name__)
    for i in range(MEMO_LIMIT * 3):
        scope = http_scope("/", headers=[(f"x-made-up-{i}".encode(), b"v")])
        headers = Request(scope, None, app).headers  # type: ignore[arg-type]
        assert list(headers)[-1] == (f"X-Made-Up-{i}", "v")
    assert len(base._NAMES) <= MEMO_LIMIT


async def _two_readers(
    app: Microframework, *reads: Any, exceed: bool = False
) -> tuple[Recorder, list[Any]]:
    # The first read waits for the body's last message while the second begins.
    rec = Recorder(b"a=", more_last=True)
    outcomes: list[Any] = []

    @app.post("/")
    async def index() -> str:
        tasks = [asyncio.ensure_future(read()) for read in reads]
        await rec.receiving.wait()
        rest = b"1" * 20 if exceed else b"1"
        rec.inbox.put_nowait({"type": "http.request", "body": rest, "more_body": False})
        outcomes.extend(await asyncio.gather(*tasks, return_exceptions=True))
        return "ok"

    headers = [(b"content-type", b"application/x-www-form-urlencoded")]
    await call(
        app,
        http_scope("/", "POST", [*headers, (b"transfer-encoding", b"chunked")]),
        rec,
    )
    return rec, outcomes


@pytest.mark.parametrize("cache", [True, False])
async def test_two_tasks_reading_the_whole_body_both_get_it(
    app: Microframework, cache: bool
) -> None:
    # As in Quart: the second read waits for the first's, not an empty body.
    _, got = await _two_readers(
        app, lambda: request.get_data(cache=cache), lambda: request.get_data()
    )
    assert got == [b"a=1", b"a=1"]


async def test_a_form_read_while_get_data_reads_waits_for_it(
    app: Microframework,
) -> None:
    _, got = await _two_readers(
        app,
        lambda: request.get_data(),
        lambda: request.form,
        lambda: request.get_json(force=True),
    )
    assert got[0] == b"a=1"
    assert got[1].to_dict() == {"a": "1"}
    assert got[2].__class__.__name__ == "BadRequest"  # "a=1" is not JSON


async def test_a_body_too_large_fails_both_readers(app: Microframework) -> None:
    app.config["MAX_CONTENT_LENGTH"] = 10
    read = lambda: request.get_data()  # noqa: E731
    _, got = await _two_readers(app, read, read, exceed=True)
    assert [error.__class__.__name__ for error in got] == ["RequestEntityTooLarge"] * 2


async def test_a_cancelled_read_fails_the_read_waiting_for_it(
    app: Microframework,
) -> None:
    outcomes: list[BaseException | bytes] = []

    @app.post("/")
    async def index() -> str:
        first = asyncio.ensure_future(request.get_data())
        second = asyncio.ensure_future(request.get_data())
        await rec.receiving.wait()
        first.cancel()
        outcomes.extend(await asyncio.gather(first, second, return_exceptions=True))
        return "ok"

    rec = Recorder(b"a=", more_last=True)
    await call(app, http_scope("/", "POST", [(b"transfer-encoding", b"chunked")]), rec)
    assert isinstance(outcomes[0], asyncio.CancelledError)
    assert isinstance(outcomes[1], RuntimeError)
    assert "cancelled" in str(outcomes[1])


@pytest.mark.parametrize("failure", ["413", "disconnect"])
async def test_a_read_after_a_failed_read_fails_again(failure: str) -> None:
    # The second read of a body whose first read failed gave b"" and an empty form,
    # as if the client had sent none; Flask and Quart raise again (servers3 1).
    app = Microframework(__name__)
    app.config["MAX_CONTENT_LENGTH"] = 10
    seen: list[str] = []

    @app.post("/")
    async def view() -> str:
        for read in (request.get_data, request.get_data, lambda: request.form):
            try:
                seen.append(repr(await read()))
            except BaseException as error:  # ClientDisconnected is a CancelledError
                seen.append(type(error).__name__)
        for read in (request.get_body_file, _iterated):  # (review15 4)
            try:
                seen.append(repr(await read()))
            except BaseException as error:
                seen.append(type(error).__name__)
        return "read"

    headers = [(b"content-type", b"application/x-www-form-urlencoded")]
    if failure == "413":
        headers.append((b"content-length", b"100"))
        recorder = Recorder(b"x" * 100)
    else:
        recorder = Recorder(b"a=", more_last=True)
        recorder.disconnect()
    await call(app, http_scope("/", "POST", headers), recorder)
    error = "RequestEntityTooLarge" if failure == "413" else "ClientDisconnected"
    assert seen == [error] * 5


async def _iterated() -> bytes:
    return b"".join([chunk async for chunk in request.body])


async def test_a_form_limits_413_keeps_its_description_when_raised_again() -> None:
    app = Microframework(__name__)
    app.config["MAX_FORM_MEMORY_SIZE"] = 5
    seen: list[str] = []

    @app.post("/")
    async def view() -> str:
        for _ in range(2):
            try:
                await request.form
            except Exception as error:
                seen.append(str(error))
        return "read"

    await app.test_client().post("/", form={"a": "x" * 50})
    assert len(seen) == 2 and seen[0] == seen[1]


async def test_a_task_sharing_a_body_read_hears_the_client_leave() -> None:
    # It got RuntimeError("the body's read was cancelled") where every other read
    # says ClientDisconnected (review15 10, review16 5).
    app = Microframework(__name__)
    recorder = Recorder(b"a=", more_last=True)
    seen: list[str] = []

    async def read() -> None:
        try:
            await request.get_data()
        except BaseException as error:  # ClientDisconnected is a CancelledError
            seen.append(type(error).__name__)

    reads: list[asyncio.Future[None]] = []

    @app.post("/")
    async def view() -> str:
        reads.extend(asyncio.ensure_future(read()) for _ in range(2))
        for _ in range(5):  # both wait: one for the next message, one for its read
            await asyncio.sleep(0)
        recorder.disconnect()
        await asyncio.wait(reads)  # (the view is cancelled as the client leaves)
        return "read"

    headers = [(b"content-type", b"application/x-www-form-urlencoded")]
    await call(app, http_scope("/", "POST", headers), recorder)
    async with asyncio.timeout(5):
        await asyncio.wait(reads)
    assert seen == ["ClientDisconnected", "ClientDisconnected"]
