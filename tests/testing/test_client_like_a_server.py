"""The test client gives the app what a server and a browser would (clientdiff, session 28)."""

from __future__ import annotations

import asyncio
import base64
import io
from collections.abc import AsyncIterator
from typing import Any

import pytest
from werkzeug.datastructures import FileStorage

from microframework import Microframework
from microframework import redirect
from microframework import request
from microframework import Response
from microframework import url_for
from microframework import websocket
from microframework.testing import WebsocketResponseError


@pytest.fixture
def app() -> Microframework:
    return Microframework(__name__)


@pytest.mark.parametrize("offered", [[], ["chat"]])
async def test_accepting_a_subprotocol_the_client_did_not_offer_fails(
    app: Microframework, offered: list[str]
) -> None:
    # hypercorn raises in the app's send and browsers fail the handshake (RFC 6455
    # 4.2.2): a test must not pass where every deployment fails.
    errors: list[BaseException] = []

    @app.websocket("/ws")
    async def ws() -> None:
        try:
            await websocket.accept(subprotocol="zzz")
        except ValueError as error:
            errors.append(error)
            raise

    app.testing = False
    with pytest.raises(WebsocketResponseError):
        async with app.test_client().websocket("/ws", subprotocols=offered):
            pass
    assert "was not offered" in str(errors[0])


async def test_a_subprotocol_offered_in_the_header_is_an_offer(
    app: Microframework,
) -> None:
    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.accept(subprotocol=websocket.requested_subprotocols[-1])
        await websocket.send(",".join(websocket.requested_subprotocols))

    headers = {"Sec-WebSocket-Protocol": "a, b"}
    async with app.test_client().websocket("/ws", headers=headers) as connection:
        assert await connection.receive() == "a,b"
        assert connection.subprotocol == "b"


async def test_bytes_in_query_strings_and_forms_are_sent_as_bytes(
    app: Microframework,
) -> None:
    # As Flask's and Quart's clients: urlencoded as given, not as their repr.
    @app.post("/")
    async def echo() -> Any:
        form = await request.form
        return {"arg": request.args["a"], "form": form["a"]}

    client = app.test_client()
    value = "café".encode()
    response = await client.post("/", query_string={"a": value}, form={"a": value})
    assert await response.get_json() == {"arg": "café", "form": "café"}
    files = {"f": (io.BytesIO(b"x"), "f.txt")}
    response = await client.post(
        "/", query_string={"a": value}, form={"a": value}, files=files
    )
    assert await response.get_json() == {"arg": "café", "form": "café"}


@pytest.mark.parametrize("name", ['a"b.txt', "a\nb.txt", "a\rb.txt"])
async def test_multipart_names_are_escaped_as_browsers_do(
    app: Microframework, name: str
) -> None:
    # The HTML standard percent-encodes '"', CR and LF in multipart names; sent raw,
    # the app saw a cut name or lost the file.
    @app.post("/")
    async def upload() -> Any:
        files = await request.files
        form = await request.form
        return {"files": {k: f.filename for k, f in files.items()}, "form": list(form)}

    given = FileStorage(io.BytesIO(b"x"), name)
    response = await app.test_client().post("/", files={name: given}, form={name: "v"})
    # What the app reads from a browser's: werkzeug turns %22 back into '"'.
    expected = name.replace("\n", "%0A").replace("\r", "%0D")
    got = await response.get_json()
    assert got["files"] == {expected: expected}
    assert got["form"] == [expected]
    assert given.filename == name  # the caller's own object is left as it was


async def test_a_redirect_to_another_host_drops_the_credentials() -> None:
    app = Microframework(__name__, subdomain_matching=True)
    app.config["SERVER_NAME"] = "example.com"

    @app.route("/go")
    async def go() -> Response:
        return redirect("http://api.example.com/who")

    @app.route("/here")
    async def here() -> Response:
        return redirect("/who")

    @app.route("/explicit")
    async def explicit() -> Response:
        return redirect("http://EXAMPLE.com:80/who")

    @app.route("/secure")
    async def secure() -> Response:
        return redirect("https://example.com/who")

    @app.route("/who", subdomain="api")
    @app.route("/who")
    async def who() -> Any:
        return {
            "auth": request.headers.get("Authorization"),
            "other": request.headers.get("X-Other"),
        }

    client = app.test_client()
    options: dict[str, Any] = {"auth": ("a", "pw"), "headers": {"X-Other": "kept"}}
    response = await client.get("/go", follow_redirects=True, **options)
    assert await response.get_json() == {"auth": None, "other": "kept"}
    response = await client.get("/here", follow_redirects=True, **options)
    assert (await response.get_json())["auth"] is not None  # same origin: kept
    response = await client.get("/explicit", follow_redirects=True, **options)
    assert (await response.get_json())["auth"] is not None  # its default port too
    response = await client.get("/secure", follow_redirects=True, **options)
    assert (await response.get_json())["auth"] is None  # another scheme


@pytest.mark.parametrize(
    "header",
    [
        "__Host-x=1; Path=/",  # no Secure
        "__Host-y=1; Secure; Path=/; Domain=example.com",  # a Domain
        "__Host-p=1; Secure; Path=/a",  # a path other than /
        "__Secure-z=1; Path=/",  # no Secure
        "pubsuf=1; Domain=com; Path=/",  # a top-level domain
        "sec=1; Secure; Path=/",  # Secure from plain http, not loopback
        "lax=1; SameSite=None; Path=/",  # SameSite=None without Secure
    ],
)
async def test_the_jar_refuses_the_cookies_browsers_refuse(header: str) -> None:
    assert await _stored(header, "http") == 0


@pytest.mark.parametrize(
    "header",
    [
        "__Host-n=1; Secure",  # no explicit Path=/ (the default path would be /)
        "__HOST-x=1; Secure; Path=/; Domain=example.com",  # prefixes ignore case
        "__secure-z=1; Path=/",
    ],
)
async def test_the_jar_refuses_prefixed_cookies_over_https_too(header: str) -> None:
    assert await _stored(header, "https") == 0


async def _stored(header: str, scheme: str) -> int:
    """How many cookies example.com's *header* leaves in a new client's jar."""
    app = Microframework(__name__)
    app.config["SERVER_NAME"] = "example.com"

    @app.route("/set")
    async def set_cookie() -> Response:
        return Response("set", headers={"Set-Cookie": header})

    client = app.test_client()
    await client.get("/set", scheme=scheme)
    return len(list(client.cookie_jar or ()))


@pytest.mark.parametrize(
    ("header", "scheme"),
    [
        ("__Host-x=1; Secure; Path=/", "https"),
        ("__Secure-z=1; Secure; Path=/", "https"),
        ("sec=1; Secure; Path=/", "https"),
        ("d=1; Domain=example.com; Path=/", "http"),
        ("n=1; SameSite=None; Secure; Path=/", "https"),
    ],
)
async def test_the_jar_keeps_what_browsers_keep(header: str, scheme: str) -> None:
    assert await _stored(header, scheme) == 1


async def test_secure_cookies_from_localhost_over_http_are_kept(
    app: Microframework,
) -> None:
    # Browsers treat loopback as a secure origin: a __Host- session works in tests.
    app.config.update(
        SECRET_KEY="k", SESSION_COOKIE_NAME="__Host-s", SESSION_COOKIE_SECURE=True
    )

    @app.route("/login")
    async def login() -> str:
        from microframework import session

        session["user"] = "me"
        return "ok"

    @app.route("/me")
    async def me() -> str:
        from microframework import session

        return str(session.get("user"))

    client = app.test_client()
    await client.get("/login")
    assert await (await client.get("/me")).get_data(as_text=True) == "me"


@pytest.mark.parametrize("version", ["1.1", "2"])
async def test_the_websocket_handshake_carries_a_browsers_headers(
    app: Microframework, version: str
) -> None:
    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.accept()
        await websocket.send_json(dict(websocket.headers))

    async with app.test_client().websocket("/ws", http_version=version) as connection:
        headers = await connection.receive_json()
    assert headers["Sec-Websocket-Version"] == "13"
    if version == "2":  # extended CONNECT (RFC 8441): no upgrade, no key
        assert "Upgrade" not in headers and "Sec-Websocket-Key" not in headers
    else:
        assert headers["Upgrade"] == "websocket"
        assert headers["Connection"] == "Upgrade"
        assert len(base64.b64decode(headers["Sec-Websocket-Key"])) == 16


async def test_a_disconnect_after_part_of_a_body_runs_the_views_cleanup(
    app: Microframework,
) -> None:
    # Quart's testing guide: send part of an upload, disconnect, check the clean-up.
    # A server delivers what arrived before the client left, then http.disconnect.
    marks: list[object] = []

    @app.post("/up")
    async def up() -> str:
        marks.append("view")
        try:
            async for chunk in request.body:
                marks.append(len(chunk))
        finally:
            marks.append("cleanup")
        return "ok"

    @app.teardown_request
    async def teardown(error: BaseException | None) -> None:
        marks.append(type(error).__name__)

    async with app.test_client().request("/up", method="POST") as connection:
        await connection.send(b"partial")
        await connection.disconnect()
    assert marks == ["view", 7, "cleanup", "ClientDisconnected"]


async def test_a_subprotocol_is_checked_only_against_an_offer_the_server_passed(
    app: Microframework,
) -> None:
    # ASGI makes the scope's "subprotocols" optional: without it, nothing to check.
    from asgi_harness import websocket_scope

    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.accept(subprotocol="chat")

    scope = websocket_scope("/ws")
    del scope["subprotocols"]
    inbox = [{"type": "websocket.connect"}, {"type": "websocket.disconnect"}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return inbox.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)  # type: ignore[arg-type]
    assert sent[0] == {"type": "websocket.accept", "subprotocol": "chat"}


async def test_leaving_before_the_app_began_waits_only_for_an_app_that_listens(
    app: Microframework,
) -> None:
    # The app gets its first step (and what was sent); one that then waits on
    # something else is cancelled at once, not after the disconnect grace.
    began = asyncio.Event()
    inner = app.asgi_app

    async def slow_middleware(scope: Any, receive: Any, send: Any) -> None:
        began.set()
        await asyncio.Event().wait()  # a rate limiter's lookup, say
        await inner(scope, receive, send)

    app.asgi_app = slow_middleware  # type: ignore[method-assign]
    connection = app.test_client().request("/")
    connection.disconnect_grace = 60
    async with asyncio.timeout(5):
        async with connection:
            pass
    assert began.is_set()


async def test_a_redirect_with_a_port_that_isnt_one_is_still_followed(
    app: Microframework,
) -> None:
    @app.route("/go")
    async def go() -> Response:
        return redirect("/who")

    @app.route("/who")
    async def who() -> Any:
        return {"auth": request.headers.get("Authorization") is not None}

    response = await app.test_client().get(
        "/go", headers={"Host": "localhost:abc"}, auth=("a", "b"), follow_redirects=True
    )
    assert await response.get_json() == {"auth": True}


async def test_as_response_after_a_disconnect_says_the_client_left(
    app: Microframework,
) -> None:
    @app.post("/")
    async def echo() -> bytes:
        return await request.get_data()

    connection = app.test_client().request("/", method="POST")
    async with connection:
        await connection.send_complete(b"x")
        await connection.disconnect()
    with pytest.raises(RuntimeError, match="client disconnected before the response"):
        await connection.as_response()


async def test_a_cookie_set_for_a_dotted_domain_is_sent_there() -> None:
    # Flask's form, set_cookie(..., domain=".example.com"): stored as example.com's.
    app = Microframework(__name__)

    @app.route("/")
    async def index() -> str:
        return request.cookies.get("k", "none")

    for domain in (".example.com", "Example.COM"):
        client = app.test_client()
        client.set_cookie("k", "v", domain=domain)
        response = await client.get("/", headers={"Host": "example.com"})
        assert await response.get_data(as_text=True) == "v", domain


@pytest.mark.parametrize(
    "header", ["a=1; Path=/zz; Path=foo", "a=1; Path=/zz; Path=", "a=1; Path=foo"]
)
async def test_an_invalid_last_path_means_the_default_path(header: str) -> None:
    # RFC 6265 5.2.4 and 5.3 step 7 (as chromium): the last Path wins, and one that
    # doesn't begin with "/" is the default path, the request's directory.
    app = Microframework(__name__)

    @app.route("/x/set")
    async def set_cookie() -> Response:
        return Response("set", headers={"Set-Cookie": header})

    @app.route("/<path:where>")
    async def echo(where: str) -> str:
        return request.cookies.get("a", "none")

    client = app.test_client()
    await client.get("/x/set")
    sent = [await (await client.get(p)).get_data(as_text=True) for p in ("/x/y", "/zz")]
    assert sent == ["1", "none"]


async def test_a_huge_max_age_is_capped_not_an_error() -> None:
    # Browsers cap a cookie's lifetime at 400 days (RFC 6265bis 5.6.2).
    app = Microframework(__name__)

    @app.route("/set")
    async def set_cookie() -> Response:
        return Response("set", headers={"Set-Cookie": "a=1; Max-Age=253402300800"})

    client = app.test_client()
    response = await client.get("/set")
    assert response.status_code == 200
    cookie = client.get_cookie("a")
    assert cookie is not None and cookie.value == "1"


async def test_a_redirect_with_userinfo_sends_no_userinfo_in_host() -> None:
    app = Microframework(__name__)

    @app.route("/go")
    async def go() -> Response:
        return redirect("http://user:secret@localhost/there")

    @app.route("/there")
    async def there() -> str:
        return request.host

    client = app.test_client()
    response = await client.get("/go", follow_redirects=True)
    assert await response.get_data(as_text=True) == "localhost"


async def test_a_cookie_set_for_a_domain_is_found_and_deleted_by_it() -> None:
    app = Microframework(__name__)
    client = app.test_client()
    for domain in (".Example.COM", "Example.COM"):
        client.set_cookie("k", "v", domain=domain)
        assert client.get_cookie("k", domain=domain) is not None
        client.delete_cookie("k", domain=domain)
        assert client.get_cookie("k", domain="example.com") is None


async def test_a_body_the_view_left_unread_reaches_a_teardown_that_reads_it(
    app: Microframework,
) -> None:
    # A server delivers what it received before reporting the end (errmsgs 11, session
    # 30): a teardown that logs a failed request's body must see it in tests too.
    read: list[bytes] = []

    @app.teardown_request
    async def log_body(_error: BaseException | None) -> None:
        read.append(await request.get_data())

    @app.post("/")
    async def index() -> str:
        return "ok"

    response = await app.test_client().post("/", data=b"x" * 1000)
    assert response.status_code == 200
    assert read == [b"x" * 1000]


@pytest.mark.parametrize("http_version", ["1.1", "2"])
async def test_a_teardown_reads_a_streamed_gets_empty_body(
    app: Microframework, http_version: str
) -> None:
    # Over HTTP/2 the stream's disconnect watch takes the GET's one empty message; a
    # late read took it for a body still to come, and got ClientDisconnected (review12).
    read: list[bytes] = []

    @app.teardown_request
    async def log_body(_error: BaseException | None) -> None:
        read.append(await request.get_data())

    @app.get("/")
    async def index() -> AsyncIterator[bytes]:
        yield b"a"
        await asyncio.sleep(0)
        yield b"b"

    response = await app.test_client().get("/", http_version=http_version)
    assert await response.get_data() == b"ab"
    assert read == [b""]


@pytest.mark.parametrize("domain", ["0.0.1", "0.1"])
async def test_a_cookie_for_an_ip_address_is_not_shared_by_suffix(
    app: Microframework, domain: str
) -> None:
    # RFC 6265 5.1.3: suffix matching is for host names; browsers keep no such
    # cookie, and the client sent it to 10.0.0.1 (muts33, session 32).
    @app.get("/set")
    async def set_cookie() -> Response:
        response = Response("ok")
        response.headers["Set-Cookie"] = f"a=1; Domain={domain}; Path=/"
        return response

    @app.get("/")
    async def index() -> str:
        return request.headers.get("Cookie", "-")

    client = app.test_client()
    await client.get("/set", headers={"Host": "127.0.0.1"})
    assert client.get_cookie("a", domain=domain) is None
    client.set_cookie("a", "1", domain=domain)  # set by the test: still not sent
    response = await client.get("/", headers={"Host": "10.0.0.1"})
    assert await response.get_data() == b"-"


class _ComparableResponse(Response):
    """A response class with ``__eq__``, so with no ``__hash__`` (as Quart's allows)."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Response) and self.status_code == other.status_code


async def test_an_unhashable_response_class_is_served_and_redirected() -> None:
    # The client kept each response as a weak dict key: every request raised TypeError.
    app = Microframework(__name__)
    app.response_class = _ComparableResponse

    @app.route("/go")
    async def go() -> Response:
        return redirect("/here")

    @app.route("/here")
    async def here() -> str:
        return "here"

    client = app.test_client()
    assert (await client.get("/go")).status_code == 302
    response = await client.get("/go", follow_redirects=True)
    assert (response.status_code, await response.get_data()) == (200, b"here")


async def test_cookies_set_by_a_websocket_handshake_are_stored() -> None:
    # A browser stores Set-Cookie from the 101 answer and from a refusal's answer
    # (clearing an expired session, say); the client stored neither.
    app = Microframework(__name__)

    @app.websocket("/accepting")
    async def accepting() -> None:
        await websocket.accept(headers={"Set-Cookie": "w=1; Path=/"})

    @app.websocket("/refusing")
    async def refusing() -> Response:
        response = Response("log in again", 401)
        response.set_cookie("r", "1")
        return response

    @app.route("/cookies")
    async def cookies() -> dict[str, str]:
        return dict(request.cookies)

    client = app.test_client()
    async with client.websocket("/accepting"):
        pass
    with pytest.raises(WebsocketResponseError):
        async with client.websocket("/refusing"):
            pass
    response = await client.get("/cookies")
    assert await response.get_json() == {"w": "1", "r": "1"}


async def test_as_response_after_the_tests_own_disconnect_says_so() -> None:
    # Quart's guide ends an endless stream with disconnect(): the error blamed the
    # app ("returned without completing"), or after the block, the block's end.
    app = Microframework(__name__)

    @app.route("/events")
    async def events() -> Any:
        async def endless() -> AsyncIterator[bytes]:
            while True:
                yield b"data: x\n\n"
                await asyncio.sleep(0)

        return endless()

    client = app.test_client()
    for inside in (True, False):
        async with client.request("/events") as connection:
            await connection.send_complete()
            assert await connection.receive() == b"data: x\n\n"
            await connection.disconnect()
            if inside:
                with pytest.raises(RuntimeError, match="the test disconnected"):
                    await connection.as_response()
        if not inside:
            with pytest.raises(RuntimeError, match="the test disconnected"):
                await connection.as_response()


async def test_an_idn_host_in_the_url_is_sent_in_punycode(app: Microframework) -> None:
    # Browsers (and Flask's client, through iri_to_uri) send "Host: xn--bcher-kva.de";
    # sent as the Latin-1 bytes of "bücher.de", the app saw no host at all
    # (request.host "", request.url "http:///h").
    @app.route("/h")
    async def h() -> str:
        return " ".join((request.host, request.url, url_for("h", _external=True)))

    response = await app.test_client().get("http://bücher.de:8080/h")
    assert await response.get_data(as_text=True) == (
        "xn--bcher-kva.de:8080 http://bücher.de:8080/h http://xn--bcher-kva.de:8080/h"
    )


async def test_the_userinfo_of_a_url_is_not_sent_in_the_host(
    app: Microframework,
) -> None:
    # "http://user:pw@example.com/h" sent "Host: user:pw@example.com" (request.host
    # ""); Quart's client, browsers, curl and httpx send "Host: example.com".
    @app.route("/h")
    async def h() -> str:
        return " ".join((request.host, request.url))

    response = await app.test_client().get("http://user:pw@example.com:8080/h")
    assert await response.get_data(as_text=True) == (
        "example.com:8080 http://example.com:8080/h"
    )


async def test_every_cookie_header_the_test_passes_reaches_the_app_with_the_jars(
    app: Microframework,
) -> None:
    # With a cookie in the jar, only the test's first Cookie header was kept (the
    # app saw "a=1; c=3"); Quart's client sends all three.
    @app.get("/")
    async def index() -> str:
        return "; ".join(f"{k}={v}" for k, v in sorted(request.cookies.items()))

    client = app.test_client()
    client.set_cookie("c", "3")
    response = await client.get("/", headers=[("Cookie", "a=1"), ("Cookie", "b=2")])
    assert await response.get_data() == b"a=1; b=2; c=3"


async def test_an_idn_server_name_is_the_host_and_its_redirects_are_followed() -> None:
    # With SERVER_NAME = "bücher.de" the default Host was its Latin-1 bytes: the app
    # saw no host, and following a redirect to its own url_for(_external=True)
    # raised "cannot follow a redirect to another host". Flask's client does both.
    app = Microframework(__name__)
    app.config["SERVER_NAME"] = "bücher.de"

    @app.route("/")
    async def index() -> Response:
        return redirect(url_for("page", _external=True))

    @app.route("/page")
    async def page() -> str:
        return request.host

    response = await app.test_client().get("/", follow_redirects=True)
    assert response.status_code == 200
    assert await response.get_data(as_text=True) == "xn--bcher-kva.de"
