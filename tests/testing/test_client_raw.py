"""The test client, streaming connection and lifespan runner against raw ASGI apps.

The apps here are hand-written ASGI callables, so these tests pin the protocol the
client speaks, independent of the framework's own app class.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
from collections.abc import Awaitable
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st
from werkzeug.datastructures import Authorization
from werkzeug.datastructures import FileStorage
from werkzeug.datastructures import Headers

from microframework import Microframework
from microframework import request
from microframework.testing import HTTPDisconnectError
from microframework.testing import LifespanError
from microframework.testing import make_test_body_with_headers
from microframework.testing import make_test_headers_path_and_query_string
from microframework.testing import make_test_scope
from microframework.testing import MicroframeworkClient
from microframework.testing import TestApp
from microframework.testing.cookies import parse_set_cookie
from microframework.typing import Message
from microframework.typing import Receive
from microframework.typing import Scope
from microframework.typing import Send
from microframework.wrappers.response import Response

Handler = Callable[[Scope, Receive, Send], Awaitable[None]]


class _JSON:
    def dumps(self, obj: Any, **kwargs: Any) -> str:
        return json.dumps(obj, separators=(",", ":"), **kwargs)


class RawApp:
    """The smallest object the client accepts: an ASGI callable plus config and JSON."""

    response_class = Response
    testing = True

    def __init__(self, handler: Handler, config: dict[str, Any] | None = None) -> None:
        self.handler = handler
        self.config: dict[str, Any] = config or {}
        self.json = _JSON()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.handler(scope, receive, send)

    def test_client(self) -> MicroframeworkClient:
        return MicroframeworkClient(self)


async def respond(
    send: Send,
    body: bytes = b"",
    status: int = 200,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    await send(
        {"type": "http.response.start", "status": status, "headers": headers or []}
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def read_body(receive: Receive) -> bytes:
    body = b""
    while True:
        message = await receive()
        assert message["type"] == "http.request"
        body += bytes(message["body"])
        if not message["more_body"]:
            return body


async def echo(scope: Scope, receive: Receive, send: Send) -> None:
    """Answer with the request as JSON: scope fields, headers and body."""
    body = await read_body(receive)
    report = {
        "method": scope["method"],
        "path": scope["path"],
        "raw_path": scope["raw_path"].decode(),
        "query_string": scope["query_string"].decode(),
        "root_path": scope["root_path"],
        "scheme": scope["scheme"],
        "headers": [[k.decode(), v.decode()] for k, v in scope["headers"]],
        "body": body.decode("latin-1"),
    }
    await respond(
        send,
        json.dumps(report).encode(),
        headers=[(b"content-type", b"application/json")],
    )


async def echoed(response: Response) -> dict[str, Any]:
    report: dict[str, Any] = await response.get_json()
    report["headers"] = Headers([tuple(pair) for pair in report["headers"]])
    return report


# -- responses -------------------------------------------------------------------------
async def test_response_is_built_from_start_and_joined_body_messages() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [
            (b"x-multi", b"one"),
            (b"x-multi", b"two"),
            (b"x-latin", "é".encode("latin-1")),
        ]
        await send({"type": "http.response.start", "status": 201, "headers": headers})
        await send({"type": "http.response.body", "body": b"hello ", "more_body": True})
        await send({"type": "http.response.body", "body": b"world"})

    response = await RawApp(app).test_client().get("/")

    assert isinstance(response, Response)
    assert response.status_code == 201
    assert response.headers.getlist("X-Multi") == ["one", "two"]
    assert response.headers["X-Latin"] == "é"
    assert await response.get_data() == b"hello world"


async def test_head_response_keeps_the_content_length_the_app_sent() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await respond(send, b"", headers=[(b"content-length", b"42")])

    response = await RawApp(app).test_client().head("/")

    assert response.headers["Content-Length"] == "42"
    assert await response.get_data() == b""


# -- request body and the app's receive ------------------------------------------------
async def test_body_arrives_in_one_message_then_receive_reports_disconnect() -> None:
    seen: list[Message] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(await receive())
        await respond(send, b"ok")
        seen.append(await receive())

    async with asyncio.timeout(5):  # a safety net: the bug this catches is a hang
        await RawApp(app).test_client().post("/", data=b"payload")

    assert seen == [
        {"type": "http.request", "body": b"payload", "more_body": False},
        {"type": "http.disconnect"},
    ]


async def test_receive_blocked_in_a_watcher_wakes_when_the_response_completes() -> None:
    watcher_saw: list[Message] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()  # the (empty) body

        async def watch() -> None:
            watcher_saw.append(await receive())

        watcher = asyncio.create_task(watch())
        await respond(send, b"done")
        await watcher

    async with asyncio.timeout(5):  # a safety net: the bug this catches is a hang
        response = await RawApp(app).test_client().get("/")

    assert await response.get_data() == b"done"
    assert watcher_saw == [{"type": "http.disconnect"}]


async def test_json_body_goes_through_app_json_with_its_content_type() -> None:
    report = await echoed(
        await RawApp(echo).test_client().post("/", json={"a": [1, 2]})
    )

    assert (
        report["body"] == '{"a":[1,2]}'
    )  # the compact separators of _JSON prove app.json ran
    assert report["headers"]["content-type"] == "application/json"
    assert report["headers"]["content-length"] == str(len(report["body"]))


async def test_form_body_is_url_encoded_with_repeated_keys() -> None:
    report = await echoed(
        await RawApp(echo).test_client().post("/", form={"a": ["1", "2"], "b": "x y"})
    )

    assert report["body"] == "a=1&a=2&b=x+y"
    assert report["headers"]["content-type"] == "application/x-www-form-urlencoded"


@pytest.mark.parametrize("where", ["form", "query_string", "multipart"])
async def test_none_values_are_left_out_as_flask_does(where: str) -> None:
    app = Microframework(__name__)

    @app.route("/", methods=["POST"])
    async def index() -> Any:
        return {"args": request.args, "form": await request.form}

    client = app.test_client()
    values = {"a": None, "b": "x", "c": [None, "y"]}
    if where == "multipart":
        files = {"f": (io.BytesIO(b"1"), "f.txt")}
        response = await client.post("/", form=values, files=files)
    else:
        response = await client.post("/", **{where: values})
    got = await response.get_json()
    assert got["args" if where == "query_string" else "form"] == {"b": "x", "c": "y"}


async def test_form_with_files_is_multipart() -> None:
    import io

    files = {"upload": FileStorage(io.BytesIO(b"file-bytes"), filename="a.txt")}
    body, headers = make_test_body_with_headers(form={"field": "v"}, files=files)

    content_type = headers["Content-Type"]
    assert content_type.startswith("multipart/form-data; boundary=")
    boundary = content_type.split("boundary=", 1)[1].encode()
    assert body.count(b"--" + boundary) == 3  # two parts and the closing delimiter
    assert (
        b'name="field"' in body
        and b'filename="a.txt"' in body
        and b"file-bytes" in body
    )
    assert headers["Content-Length"] == str(len(body))


async def test_a_bare_file_is_an_upload_named_after_it_and_closed(
    tmp_path: Any,
) -> None:
    # Flask's testing docs: files={"picture": open(path, "rb")}. It was a TypeError;
    # Flask names the part after the file and closes the file once it is read.
    path = tmp_path / "photo.jpg"
    path.write_bytes(b"jpeg bytes")
    picture = path.open("rb")
    body, headers = make_test_body_with_headers(files={"picture": picture})
    assert b'name="picture"; filename="photo.jpg"' in body and b"jpeg bytes" in body
    assert picture.closed
    kept = io.BytesIO(b"kept")  # a tuple's or FileStorage's stream stays the caller's
    make_test_body_with_headers(files={"a": (kept, "a.txt")})
    assert not kept.closed
    descriptor = os.fdopen(os.open(path, os.O_RDONLY), "rb")  # its name is an int
    body, _ = make_test_body_with_headers(files={"f": descriptor})
    assert b'name="f"; filename=""' in body and descriptor.closed
    first = path.open("rb")
    with pytest.raises(TypeError):  # a later entry is bad: the first is closed still
        make_test_body_with_headers(files={"a": first, "b": 42})  # type: ignore[dict-item]
    assert first.closed


async def test_caller_content_type_wins_over_the_generated_one() -> None:
    report = await echoed(
        await RawApp(echo)
        .test_client()
        .post("/", json=[1], headers={"Content-Type": "application/vnd.api+json"})
    )

    assert report["headers"]["content-type"] == "application/vnd.api+json"


def test_more_than_one_body_kind_is_rejected_naming_them() -> None:
    with pytest.raises(ValueError, match="data and json"):
        make_test_body_with_headers(data=b"x", json={})
    with pytest.raises(ValueError, match="form and json"):
        make_test_body_with_headers(form={}, json=None)


def test_data_of_the_wrong_type_is_rejected() -> None:
    # Flask's data={...} is a form: say where it goes.
    with pytest.raises(
        TypeError, match=r"not dict; pass a form as form= \(Flask's data"
    ):
        make_test_body_with_headers(data={"a": 1})  # type: ignore[arg-type]


def test_no_body_means_no_body_headers() -> None:
    assert make_test_body_with_headers() == (b"", Headers())


# -- scope, path, query string and headers ---------------------------------------------
async def test_scope_carries_what_a_server_would_send() -> None:
    seen: list[Scope] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope)
        await respond(send)

    await (
        RawApp(app)
        .test_client()
        .get(
            "/mount/caf%C3%A9/x?a=1",
            scheme="https",
            root_path="/mount",
            http_version="2",
        )
    )

    (scope,) = seen
    assert scope == {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "2",
        "method": "GET",
        "scheme": "https",
        "path": "/mount/café/x",
        "raw_path": b"/mount/caf%C3%A9/x",
        "query_string": b"a=1",
        "root_path": "/mount",
        "headers": [(b"host", b"localhost"), (b"user-agent", b"microframework")],
        "client": scope["client"],
        "server": ("localhost", 443),
        # An HTTP/2 server offers server push, as hypercorn does.
        "extensions": {"http.response.push": {}},
    }
    host, port = scope["client"]
    assert host == "127.0.0.1" and isinstance(port, int)


async def test_scope_base_is_merged_last() -> None:
    seen: list[Scope] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope)
        await respond(send)

    await (
        RawApp(app)
        .test_client()
        .get("/", scope_base={"client": ("10.0.0.1", 1), "x": 1})
    )

    assert seen[0]["client"] == ("10.0.0.1", 1) and seen[0]["x"] == 1


async def test_query_string_from_path_comes_before_the_argument() -> None:
    report = await echoed(
        await RawApp(echo)
        .test_client()
        .get("/p?a=1", query_string={"b": ["2", "3"], "c": "x y"})
    )

    assert report["path"] == "/p"
    assert report["query_string"] == "a=1&b=2&b=3&c=x+y"


async def test_non_ascii_query_in_path_is_percent_encoded() -> None:
    report = await echoed(await RawApp(echo).test_client().get("/p?q=é&r=a%20b"))

    assert report["query_string"] == "q=%C3%A9&r=a%20b"


@pytest.mark.parametrize(
    ("config", "subdomain", "host"),
    [
        ({}, None, "localhost"),
        ({}, "api", "api.localhost"),
        ({"SERVER_NAME": "example.com:8080"}, None, "example.com:8080"),
        ({"SERVER_NAME": "example.com"}, "api", "api.example.com"),
    ],
)
async def test_host_header_follows_server_name_and_subdomain(
    config: dict[str, Any], subdomain: str | None, host: str
) -> None:
    report = await echoed(
        await RawApp(echo, config).test_client().get("/", subdomain=subdomain)
    )

    assert report["headers"].getlist("host") == [host]


async def test_only_host_and_user_agent_are_added_to_a_bodiless_request() -> None:
    # Every real client sends a User-Agent, and Flask's and Quart's test clients do:
    # a view reading request.headers["User-Agent"] must not fail only in tests.
    report = await echoed(
        await RawApp(echo).test_client().get("/", headers={"X-Custom": "1"})
    )

    assert sorted(report["headers"].keys(lower=True)) == [
        "host", "user-agent", "x-custom"
    ]  # fmt: skip


def test_caller_host_header_is_kept() -> None:
    headers, path, query = make_test_headers_path_and_query_string(
        RawApp(echo), "/a?b=1#frag", headers={"Host": "other"}
    )

    assert (headers["Host"], path, query) == ("other", "/a", b"b=1")


@pytest.mark.parametrize(
    "auth",
    [
        ("user", "pass"),
        Authorization("basic", {"username": "user", "password": "pass"}),
    ],
)
async def test_auth_sends_a_basic_authorization_header(auth: Any) -> None:
    report = await echoed(await RawApp(echo).test_client().get("/", auth=auth))

    assert report["headers"]["authorization"] == "Basic dXNlcjpwYXNz"


def test_auth_of_the_wrong_shape_is_rejected() -> None:
    with pytest.raises(TypeError, match="auth must be"):
        make_test_headers_path_and_query_string(
            RawApp(echo),
            "/",
            auth=("only-user",),  # type: ignore[arg-type]
        )


@pytest.mark.parametrize(("scheme", "port"), [("ws", 80), ("wss", 443)])
def test_websocket_scope_has_no_method_and_a_port_for_its_scheme(
    scheme: str, port: int
) -> None:
    scope = make_test_scope("websocket", "/ws", "GET", Headers(), b"", scheme=scheme)

    assert scope["type"] == "websocket" and "method" not in scope
    assert scope["server"] == ("localhost", port)


def test_scope_type_must_be_http_or_websocket() -> None:
    with pytest.raises(ValueError, match="'lifespan'"):
        make_test_scope("lifespan", "/", "GET", Headers(), b"")


def test_preserve_context_is_announced_as_a_scope_extension() -> None:
    scope = make_test_scope("http", "/", "GET", Headers(), b"", _preserve_context=True)

    assert scope["extensions"] == {"microframework.preserve_context": {}}


@given(
    path=st.text(
        st.characters(exclude_categories=["Cs"], exclude_characters="%?#"),
        max_size=30,
    ).map(lambda text: "/" + text),
    root_path=st.sampled_from(["", "/mount", "/a b"]),
)
def test_scope_path_is_raw_path_decoded_and_includes_root_path(
    path: str, root_path: str
) -> None:
    # As in Quart's client, the path given is the whole path, the root path included.
    path = root_path + path
    scope = make_test_scope("http", path, "GET", Headers(), b"", root_path=root_path)

    assert scope["path"] == path
    assert unquote(scope["raw_path"].decode("ascii")) == path


# -- exceptions and broken apps --------------------------------------------------------
async def test_exception_in_the_app_propagates_to_the_caller() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raise ValueError("boom from the app")

    with pytest.raises(ValueError, match="boom from the app"):
        await RawApp(app).test_client().get("/")


async def test_exception_after_the_response_still_propagates() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await respond(send, b"sent")
        raise KeyError("teardown failed")

    with pytest.raises(KeyError, match="teardown failed"):
        await RawApp(app).test_client().get("/")


async def test_app_returning_without_a_response_is_an_error() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        return None

    with pytest.raises(RuntimeError, match="without sending http.response.start"):
        await RawApp(app).test_client().get("/")


async def test_app_returning_mid_response_is_an_error() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"part", "more_body": True})

    with pytest.raises(RuntimeError, match="without completing the response"):
        await RawApp(app).test_client().get("/")


@pytest.mark.parametrize(
    ("messages", "error"),
    [
        (["start", "start"], "http.response.start twice"),
        (["body"], "before http.response.start"),
        (["start", "body", "body"], "after the response was complete"),
        (["start", "trailers"], "not an http response message"),
    ],
)
async def test_out_of_order_messages_fail_the_request(
    messages: list[str], error: str
) -> None:
    by_name: dict[str, Message] = {
        "start": {"type": "http.response.start", "status": 200, "headers": []},
        "body": {"type": "http.response.body", "body": b""},
        "trailers": {"type": "http.response.trailers", "headers": []},
    }

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        for name in messages:
            await send(by_name[name])

    with pytest.raises(RuntimeError, match=error):
        await RawApp(app).test_client().get("/")


# -- cookies ---------------------------------------------------------------------------
def cookie_app(set_cookies: dict[str, list[str]]) -> RawApp:
    """Echo the Cookie header; paths in *set_cookies* also answer with Set-Cookie."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        cookie = dict(scope["headers"]).get(b"cookie", b"")
        headers = [
            (b"set-cookie", value.encode())
            for value in set_cookies.get(scope["path"], [])
        ]
        await respond(send, cookie, headers=headers)

    return RawApp(app)


async def test_cookies_set_by_a_response_are_sent_back() -> None:
    client = cookie_app(
        {"/login": ["session=abc; Path=/; HttpOnly", "theme=dark"]}
    ).test_client()

    await client.get("/login")
    response = await client.get("/page")

    assert await response.get_data() == b"session=abc; theme=dark"
    cookie = client.get_cookie("session")
    assert cookie is not None and cookie.http_only and cookie.value == "abc"


@pytest.mark.parametrize(
    "deletion",
    ["session=; Max-Age=0", "session=; Expires=Thu, 01 Jan 1970 00:00:00 GMT"],
)
async def test_expired_set_cookie_deletes_the_cookie(deletion: str) -> None:
    client = cookie_app(
        {"/login": ["session=abc"], "/logout": [deletion]}
    ).test_client()

    await client.get("/login")
    await client.get("/logout")

    assert client.get_cookie("session") is None
    assert await (await client.get("/")).get_data() == b""


async def test_cookie_path_limits_where_it_is_sent() -> None:
    client = cookie_app({"/admin/login": ["a=1; Path=/admin", "d=2"]}).test_client()

    await client.get("/admin/login")

    assert await (await client.get("/admin/x")).get_data() == b"a=1; d=2"
    assert await (await client.get("/administrator")).get_data() == b""
    assert await (await client.get("/")).get_data() == b""  # d's default path is /admin


async def test_foreign_domain_cookie_is_ignored_domain_cookie_reaches_subdomains() -> (
    None
):
    app = cookie_app(
        {"/": ["evil=1; Domain=other.com", "shared=1; Domain=example.com"]}
    )
    app.config["SERVER_NAME"] = "example.com"
    client = app.test_client()

    await client.get("/")

    assert await (await client.get("/x", subdomain="api")).get_data() == b"shared=1"
    assert client.get_cookie("evil", domain="other.com") is None


@pytest.mark.parametrize(
    "host", ["example.com", "localhost", "127.0.0.1", "[::1]:5000", "api.localhost"]
)
async def test_secure_cookie_goes_over_https_or_to_a_loopback_host(host: str) -> None:
    # As browsers do (W3C Secure Contexts 3.2): so the default "localhost" gets it over
    # http, as from Flask's and Quart's clients (quart-auth's login cookie is Secure).
    client = cookie_app({"/": ["s=1; Secure"]}).test_client()
    headers = {"Host": host}

    await client.get("/", scheme="https", headers=headers)

    over_http = await (await client.get("/x", headers=headers)).get_data()
    assert over_http == (b"" if host == "example.com" else b"s=1")
    over_https = await client.get("/x", scheme="https", headers=headers)
    assert await over_https.get_data() == b"s=1"


async def test_set_get_and_delete_cookie_through_the_client() -> None:
    client = cookie_app({}).test_client()

    client.set_cookie("k", "v w")
    stored = client.get_cookie("k")
    assert stored is not None and stored.decoded_value == "v w"
    assert await (await client.get("/")).get_data() == f"k={stored.value}".encode()

    client.delete_cookie("k")
    assert client.get_cookie("k") is None
    assert await (await client.get("/")).get_data() == b""


async def test_quarts_set_cookie_with_no_server_name_is_for_the_clients_host() -> None:
    # quart-auth's authenticated_client passes None when no cookie domain is set.
    client = cookie_app({}).test_client()

    client.set_cookie(None, "k", "v")  # type: ignore[arg-type]
    assert await (await client.get("/")).get_data() == b"k=v"

    client.delete_cookie(None, "k")  # type: ignore[arg-type]
    assert await (await client.get("/")).get_data() == b""


async def test_the_cookie_jar_is_read_and_cleared_as_quarts() -> None:
    # quart-auth's authenticated_client checks `client.cookie_jar is None`, and Quart
    # tests iterate it for http.cookiejar cookies.
    app = cookie_app({"/": ["a=1; HttpOnly", "b=2; Max-Age=60; Secure", "c=3"]})
    client = app.test_client()
    await client.get("/")

    jar = client.cookie_jar
    assert jar is not None and len(jar) == 3
    cookies = {c.name: c for c in jar}
    assert cookies["a"].value == "1" and cookies["a"].expires is None
    assert cookies["a"].has_nonstandard_attr("HttpOnly")
    assert cookies["b"].expires is not None and cookies["b"].secure
    assert (cookies["c"].domain, cookies["c"].path) == ("localhost", "/")
    jar.clear("localhost", "/", "a")
    assert sorted(c.name for c in jar) == ["b", "c"]
    jar.clear()
    assert await (await client.get("/x")).get_data() == b""
    assert MicroframeworkClient(app, use_cookies=False).cookie_jar is None


async def test_cookie_header_from_the_caller_is_combined_with_the_jar() -> None:
    client = cookie_app({}).test_client()
    client.set_cookie("jar", "1")

    response = await client.get("/", headers={"Cookie": "mine=2"})

    assert await response.get_data() == b"mine=2; jar=1"


async def test_client_without_cookies_neither_stores_nor_sends() -> None:
    client = MicroframeworkClient(cookie_app({"/": ["a=1"]}), use_cookies=False)

    await client.get("/")

    assert await (await client.get("/")).get_data() == b""
    with pytest.raises(RuntimeError, match="use_cookies=False"):
        client.get_cookie("a")


@given(st.text(st.characters(min_codepoint=32, max_codepoint=255), max_size=60))
def test_any_set_cookie_value_parses_or_is_ignored(header: str) -> None:
    cookie = parse_set_cookie(header, "localhost", "/a/b")

    assert cookie is None or (cookie.key and cookie.path.startswith("/"))


# -- redirects -------------------------------------------------------------------------
def redirect_app(routes: dict[str, tuple[int, str]]) -> RawApp:
    """Redirect the paths in *routes* (status, Location); echo everything else."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["path"] in routes:
            status, location = routes[scope["path"]]
            await read_body(receive)
            await respond(
                send, status=status, headers=[(b"location", location.encode())]
            )
        else:
            await echo(scope, receive, send)

    return RawApp(app)


async def test_redirect_is_returned_unless_asked_to_follow() -> None:
    response = await redirect_app({"/a": (302, "/b")}).test_client().get("/a")

    assert response.status_code == 302 and response.headers["Location"] == "/b"


@pytest.mark.parametrize(
    "location", ["b?x=1", "/dir/b?x=1", "http://localhost/dir/b?x=1"]
)
async def test_relative_and_absolute_redirects_are_followed(location: str) -> None:
    client = redirect_app({"/dir/a": (302, location)}).test_client()

    report = await echoed(await client.get("/dir/a", follow_redirects=True))

    assert (report["method"], report["path"], report["query_string"]) == (
        "GET",
        "/dir/b",
        "x=1",
    )


@pytest.mark.parametrize("status", [301, 302, 303])
@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
async def test_redirects_but_307_and_308_become_get_without_body_as_in_flask(
    status: int, method: str
) -> None:
    # A DELETE or PUT view that redirects to a page: Flask's and Quart's clients
    # follow with a GET (the browser rule kept the method, and the page answered 405).
    client = redirect_app({"/a": (status, "/b")}).test_client()

    report = await echoed(
        await client.open("/a", method=method, json={"x": 1}, follow_redirects=True)
    )

    assert (report["method"], report["body"]) == ("GET", "")
    assert (
        "content-type" not in report["headers"]
        and "content-length" not in report["headers"]
    )


@pytest.mark.parametrize("status", [307, 308])
async def test_temporary_and_permanent_redirects_resend_method_and_body(
    status: int,
) -> None:
    client = redirect_app({"/a": (status, "/b")}).test_client()

    report = await echoed(await client.put("/a", data=b"body", follow_redirects=True))

    assert (report["method"], report["path"], report["body"]) == ("PUT", "/b", "body")


async def test_redirect_within_root_path_keeps_the_root_path() -> None:
    client = redirect_app({"/app/a": (302, "/app/b")}).test_client()

    report = await echoed(
        await client.get("/app/a", root_path="/app", follow_redirects=True)
    )

    assert (report["root_path"], report["path"]) == ("/app", "/app/b")


async def test_cookies_set_during_a_redirect_reach_the_next_hop() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["path"] == "/login":
            headers = [(b"location", b"/home"), (b"set-cookie", b"s=1")]
            await respond(send, status=302, headers=headers)
        else:
            await echo(scope, receive, send)

    report = await echoed(
        await RawApp(app).test_client().get("/login", follow_redirects=True)
    )

    assert report["headers"]["cookie"] == "s=1"


async def test_redirect_loop_stops_after_twenty_hops() -> None:
    hops = 0

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        nonlocal hops
        hops += 1
        await respond(send, status=302, headers=[(b"location", b"/loop")])

    with pytest.raises(RuntimeError, match="more than 20 redirects"):
        await RawApp(app).test_client().get("/loop", follow_redirects=True)
    assert hops == 21


async def test_redirect_to_another_host_is_refused() -> None:
    client = redirect_app({"/a": (302, "https://elsewhere.org/")}).test_client()

    with pytest.raises(RuntimeError, match="another host"):
        await client.get("/a", follow_redirects=True)


# -- streaming with client.request -----------------------------------------------------
async def chunk_echo(scope: Scope, receive: Receive, send: Send) -> None:
    """Stream each request chunk straight back, ending with the request body."""
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"x-stream", b"1")]}
    )
    while True:
        message = await receive()
        more = message.get("more_body", False)
        await send(
            {
                "type": "http.response.body",
                "body": message.get("body", b""),
                "more_body": more,
            }
        )
        if not more:
            return


async def test_request_streams_both_directions_chunk_by_chunk() -> None:
    async with (
        RawApp(chunk_echo).test_client().request("/", method="POST") as connection
    ):
        await connection.send(b"one")
        assert await connection.receive() == b"one"
        assert connection.status_code == 200
        assert connection.headers is not None and connection.headers["X-Stream"] == "1"
        await connection.send(b"two")
        assert await connection.receive() == b"two"
        await connection.send_complete()
        assert await connection.receive() == b""
        with pytest.raises(RuntimeError, match="already complete"):
            await connection.send(b"late")


async def test_a_streamed_upload_is_framed_as_chunked_over_http1() -> None:
    seen: list[Scope] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope)
        await respond(send)

    client = RawApp(app).test_client()
    for method, version in [("POST", "1.1"), ("GET", "1.1"), ("POST", "2")]:
        async with client.request("/", method=method, http_version=version) as conn:
            await conn.send_complete()
    sized = client.request("/", method="PUT", headers={"Content-Length": "3"})
    async with sized as conn:
        await conn.send_complete(b"abc")

    framing = [dict(scope["headers"]).get(b"transfer-encoding") for scope in seen]
    assert framing == [b"chunked", None, None, None]


async def test_as_response_holds_the_body_not_yet_received() -> None:
    async with RawApp(chunk_echo).test_client().request("/") as connection:
        await connection.send(b"first")
        assert await connection.receive() == b"first"
        await connection.send(b"second")
        await connection.send_complete()
        response = await connection.as_response()

    assert response.status_code == 200
    assert await response.get_data() == b"second"


async def test_as_response_after_a_block_that_cut_the_response_says_so() -> None:
    # Quart's testing guide calls as_response() after the block; here leaving the
    # block mid-response disconnects, and the error blamed the app.
    async def slow(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"first", "more_body": True})
        while (await receive())["type"] != "http.disconnect":
            pass

    async with RawApp(slow).test_client().request("/") as connection:
        await connection.send_complete()
        assert await connection.receive() == b"first"
    with pytest.raises(RuntimeError, match="cut off where the 'async with' block"):
        await connection.as_response()


async def test_disconnect_reaches_the_app_and_ends_an_endless_stream() -> None:
    received: list[Message] = []

    async def endless(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"tick", "more_body": True})
        while (message := await receive())["type"] != "http.disconnect":
            received.append(message)
        received.append(message)

    async with RawApp(endless).test_client().request("/") as connection:
        assert await connection.receive() == b"tick"
        await connection.disconnect()
        with pytest.raises(HTTPDisconnectError):
            await connection.receive()

    assert received[-1] == {"type": "http.disconnect"}


async def test_leaving_the_block_cancels_an_app_that_is_still_running() -> None:
    started = asyncio.Event()
    cleaned_up: list[str] = []

    async def stuck(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        started.set()
        try:
            await asyncio.Event().wait()  # never set: only cancellation ends this
        finally:
            cleaned_up.append("finally ran")

    async with RawApp(stuck).test_client().request("/") as connection:
        await started.wait()
        assert connection.status_code == 200

    assert cleaned_up == ["finally ran"]


async def test_app_ignoring_the_disconnect_is_cancelled_after_the_grace_period() -> (
    None
):
    listening = asyncio.Event()
    cleaned_up: list[str] = []

    async def deaf(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        listening.set()
        try:
            await receive()  # the disconnect arrives here ...
            await asyncio.Event().wait()  # ... and is ignored
        finally:
            cleaned_up.append("cancelled")

    async with RawApp(deaf).test_client().request("/") as connection:
        connection.disconnect_grace = 0.001
        await listening.wait()

    assert cleaned_up == ["cancelled"]


async def test_app_error_while_streaming_is_raised_by_receive() -> None:
    async def failing(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        raise ValueError("stream broke")

    async with RawApp(failing).test_client().request("/") as connection:
        with pytest.raises(ValueError, match="stream broke"):
            await connection.receive()


async def test_unreported_app_error_is_raised_when_leaving_the_block() -> None:
    async def failing(scope: Scope, receive: Receive, send: Send) -> None:
        await respond(send, b"fine")
        raise ValueError("after the response")

    with pytest.raises(ValueError, match="after the response"):
        async with RawApp(failing).test_client().request("/") as connection:
            assert await connection.receive() == b"fine"
            assert await connection.receive() == b""


async def test_receive_before_entering_the_connection_is_refused() -> None:
    connection = RawApp(echo).test_client().request("/")

    with pytest.raises(RuntimeError, match="async with"):
        await connection.receive()


# -- concurrency -----------------------------------------------------------------------
async def test_concurrent_requests_on_one_client_run_side_by_side() -> None:
    first_arrived = asyncio.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["path"] == "/first":
            first_arrived.set()
            await respond(send, b"first")
        else:
            await first_arrived.wait()  # deadlocks unless both requests run at once
            await respond(send, b"second")

    client = RawApp(app).test_client()
    async with asyncio.timeout(5):  # a safety net against a hang, not a synchronisation
        second, first = await asyncio.gather(
            client.get("/second"), client.get("/first")
        )

    assert (await first.get_data(), await second.get_data()) == (b"first", b"second")


# -- lifespan --------------------------------------------------------------------------
def lifespan_app(
    on_startup: Message | None = None,
    on_shutdown: Message | None = None,
    events: list[str] | None = None,
) -> RawApp:
    """A lifespan app replying *on_startup*/*on_shutdown* (default: complete)."""
    log = events if events is not None else []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "lifespan" and scope["state"] == {}
        message = await receive()
        log.append(message["type"])
        await send(on_startup or {"type": "lifespan.startup.complete"})
        if on_startup is not None and on_startup["type"].endswith("failed"):
            return
        message = await receive()
        log.append(message["type"])
        await send(on_shutdown or {"type": "lifespan.shutdown.complete"})

    return RawApp(app)


async def test_test_app_runs_startup_on_enter_and_shutdown_on_exit() -> None:
    events: list[str] = []
    app = lifespan_app(events=events)

    async with TestApp(app) as test_app:
        assert events == ["lifespan.startup"]
        assert isinstance(test_app.test_client(), MicroframeworkClient)

    assert events == ["lifespan.startup", "lifespan.shutdown"]


async def test_startup_failure_raises_lifespan_error_with_the_message() -> None:
    app = lifespan_app(
        on_startup={"type": "lifespan.startup.failed", "message": "no db"}
    )

    with pytest.raises(LifespanError, match="no db"):
        async with TestApp(app):
            pytest.fail("the block must not run after a failed startup")


async def test_shutdown_failure_raises_lifespan_error_with_the_message() -> None:
    app = lifespan_app(
        on_shutdown={"type": "lifespan.shutdown.failed", "message": "flush failed"}
    )

    with pytest.raises(LifespanError, match="flush failed"):
        async with TestApp(app):
            pass


async def test_exception_during_startup_is_a_lifespan_error_caused_by_it() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        raise OSError("port in use")

    with pytest.raises(LifespanError, match="port in use") as caught:
        await TestApp(RawApp(app)).startup()
    assert isinstance(caught.value.__cause__, OSError)


async def test_startup_timeout_raises_and_cancels_the_lifespan_task() -> None:
    cleaned_up: list[str] = []

    async def silent(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await asyncio.Event().wait()
        finally:
            cleaned_up.append("cancelled")

    with pytest.raises(LifespanError, match="startup did not finish") as caught:
        await TestApp(RawApp(silent), startup_timeout=0.001).startup()
    assert cleaned_up == ["cancelled"]
    assert isinstance(caught.value, TimeoutError)  # what Quart's test_app raises


async def test_shutdown_before_startup_is_refused() -> None:
    with pytest.raises(RuntimeError, match="not been started"):
        await TestApp(lifespan_app()).shutdown()


async def test_a_bytes_query_string_is_sent_as_given() -> None:
    # It raised UnicodeDecodeError for any byte outside ASCII; such bytes are
    # percent-encoded, as a client would send them, and request.args decodes them.
    app = Microframework(__name__)

    @app.route("/")
    async def index() -> str:
        return f"{request.query_string!r} {request.args.getlist('q')}"

    response = await app.test_client().get("/", query_string=b"q=\xe9&q=%41")
    assert await response.get_data(as_text=True) == "b'q=%E9&q=%41' ['%E9', 'A']"


@pytest.mark.parametrize(
    ("declared", "sent"), [(b"5", [b"hello -- footer"]), (b"9", [b"hel", b"lo"])]
)
async def test_a_body_that_does_not_match_its_content_length_is_an_error(
    declared: bytes, sent: list[bytes]
) -> None:
    # A server aborts such a response, so its client sees no body; the test client
    # showed it whole (middleware appending to a body, say).
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-length", declared)]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        for i, part in enumerate(sent):
            more = i < len(sent) - 1
            await send({"type": "http.response.body", "body": part, "more_body": more})

    with pytest.raises(RuntimeError, match="does not match its Content-Length"):
        await RawApp(app).test_client().get("/")


async def test_a_large_body_arrives_in_parts_as_from_a_server() -> None:
    # hypercorn hands a body over in 64 KiB reads: middleware reading only the first
    # message passed every test and failed in production.
    sizes: list[tuple[int, bool]] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            sizes.append((len(message["body"]), message["more_body"]))
            if not message["more_body"]:
                break
        await respond(send, body=b"ok")

    await RawApp(app).test_client().post("/", data=b"x" * 150_000)
    assert sizes == [(65536, True), (65536, True), (18928, False)]


async def test_the_callers_content_length_is_sent_as_given() -> None:
    # Quart's client keeps it: a test of a declared-size 413 depends on it.
    client = RawApp(echo).test_client()
    headers = {"Content-Length": "999999"}
    report = await echoed(await client.post("/", data=b"x", headers=headers))
    assert report["headers"]["Content-Length"] == "999999"


@pytest.mark.parametrize(
    ("url", "scheme", "host", "path"),
    [
        ("https://sub.example.com/x?y=1", "https", "sub.example.com", "/x"),
        ("http://localhost:5000", "http", "localhost:5000", "/"),
    ],
)
async def test_an_absolute_url_gives_the_scheme_and_host_as_in_flask(
    url: str, scheme: str, host: str, path: str
) -> None:
    report = await echoed(await RawApp(echo).test_client().get(url))
    assert (report["scheme"], report["headers"]["Host"], report["path"]) == (
        scheme,
        host,
        path,
    )


async def test_push_promises_are_the_last_requests_as_in_quart() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        push = {"type": "http.response.push", "path": "/style.css", "headers": []}
        await send(push)
        await respond(send, body=b"ok")

    client = RawApp(app).test_client()
    for _ in range(2):
        await client.get("/", http_version="2")
        assert [path for path, _ in client.push_promises] == ["/style.css"]


@pytest.mark.parametrize("version", ["1.1", "2", "3"])
async def test_server_push_is_offered_over_http2_and_http3(version: str) -> None:
    # As hypercorn (PUSH_VERSIONS = {"2", "3"}): a push over HTTP/3 was dropped here.
    app = Microframework(__name__)

    @app.get("/")
    async def index() -> str:
        await request.send_push_promise("/style.css")
        return "ok"

    client = app.test_client()
    await client.get("/", http_version=version)
    expected = [] if version == "1.1" else ["/style.css"]
    assert [path for path, _ in client.push_promises] == expected


@pytest.mark.parametrize("data", [3, "text", [104, 105]])
async def test_the_last_chunk_of_a_streamed_body_must_be_bytes(
    app: Microframework, data: object
) -> None:
    # send_complete(3) sent b"\x00\x00\x00" (bytes(3)) where send(3) is a TypeError.
    @app.post("/p")
    async def p() -> str:
        return repr(await request.get_data())

    async with app.test_client().request("/p", method="POST") as connection:
        await connection.send(b"ab")
        with pytest.raises(TypeError, match="must be bytes, not"):
            await connection.send_complete(data)  # type: ignore[arg-type]
        await connection.send_complete(bytearray(b"c"))
        response = await connection.as_response()
    assert await response.get_data(as_text=True) == "b'abc'"
