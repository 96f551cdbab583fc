"""Pins from mutation testing of session 28's changes (helper muts28).

Each test kills a mutant that survived the related test files; its first comment names
the code it pins.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from asgi_harness import call
from asgi_harness import http_scope
from asgi_harness import websocket_scope

from microframework import Microframework
from microframework import websocket


async def test_a_finished_requests_teardown_is_counted_out() -> None:
    # _dispatch._finish_http: drain.torn_down() in its finally. A request whose teardown
    # ended leaves nothing for after_serving to wait for: shutdown doesn't sit out the
    # grace period.
    app = Microframework(__name__)
    app.config["SHUTDOWN_GRACE_PERIOD"] = 30

    @app.get("/")
    async def index() -> str:
        return "ok"

    @app.teardown_request
    async def teardown(error: BaseException | None) -> None:
        pass

    async with asyncio.timeout(5):
        async with app.test_app():
            rec = await call(app, http_scope("/"))
            assert rec.status == 200
            assert app.drain.tearing_down == 0
    assert app.drain.tearing_down == 0


async def test_a_finished_websockets_teardown_is_counted_out() -> None:
    # _dispatch._end_websocket: drain.torn_down() in its finally (as above).
    app = Microframework(__name__)
    app.config["SHUTDOWN_GRACE_PERIOD"] = 30

    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.accept()
        await websocket.send("hi")

    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    inbox.put_nowait({"type": "websocket.connect"})
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async with asyncio.timeout(5):
        async with app.test_app():
            await app(websocket_scope("/ws"), inbox.get, send)
            assert app.drain.tearing_down == 0
    assert [m["type"] for m in sent][:2] == ["websocket.accept", "websocket.send"]


def test_a_last_sends_grace_is_the_second_the_docs_give() -> None:
    # _guard.ENDING_GRACE: streaming.md promises a send wrapper a second after the
    # last body; test_fault_injection's test of the cut patches it smaller.
    from microframework import _guard

    assert _guard.ENDING_GRACE == 1.0


def test_the_session_serializer_keeps_one_signer_per_salt() -> None:
    # sessions._Serializer.make_signer: signers are kept by salt; a value signed with
    # one salt is not accepted under another.
    from itsdangerous import BadSignature

    app = Microframework(__name__)
    app.secret_key = "k"
    serializer = app.session_interface.get_signing_serializer(app)
    assert serializer is not None
    plain = serializer.dumps({"a": 1})
    assert serializer.loads(plain) == {"a": 1}
    salted = serializer.dumps({"a": 1}, salt="other")
    assert serializer.loads(salted, salt="other") == {"a": 1}
    with pytest.raises(BadSignature):
        serializer.loads(salted)
    with pytest.raises(BadSignature):
        serializer.loads(plain, salt="other")


async def test_leaving_a_begun_exchange_cuts_an_app_that_isnt_listening() -> None:
    # testing.connections._Exchange._run_app: self._ran = True. An app that has begun
    # and doesn't listen is cut as the block ends, as a server cancels it, without the
    # disconnect_grace wait (that is for an app not yet begun, or listening).
    app = Microframework(__name__)
    marks: list[str] = []

    began = asyncio.Event()

    async def deaf(scope: Any, receive: Any, send: Any) -> None:
        marks.append("began")
        began.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            marks.append("cancelled")
            raise
        marks.append("done")

    app.asgi_app = deaf  # type: ignore[method-assign]
    connection = app.test_client().request("/")
    connection.disconnect_grace = 60  # not waited: the test's timeout is shorter
    async with asyncio.timeout(10):
        async with connection:
            await connection.send(b"x")
            await began.wait()
    assert marks == ["began", "cancelled"]


async def test_a_redirect_to_another_host_drops_proxy_authorization_too() -> None:
    # testing.client._redirect: headers.remove("Proxy-Authorization") (as httpx).
    from microframework import redirect
    from microframework import request

    app = Microframework(__name__, subdomain_matching=True)
    app.config["SERVER_NAME"] = "example.com"

    @app.route("/go")
    async def go() -> Any:
        return redirect("http://api.example.com/who")

    @app.route("/here")
    async def here() -> Any:
        return redirect("/who")

    @app.route("/who", subdomain="api")
    @app.route("/who")
    async def who() -> Any:
        return {"proxy": request.headers.get("Proxy-Authorization")}

    client = app.test_client()
    headers = {"Proxy-Authorization": "Basic eDp5"}
    away = await client.get("/go", follow_redirects=True, headers=headers)
    assert await away.get_json() == {"proxy": None}
    same = await client.get("/here", follow_redirects=True, headers=headers)
    assert await same.get_json() == {"proxy": "Basic eDp5"}


async def test_an_offer_in_the_header_leaves_out_empty_tokens() -> None:
    # testing.client.websocket: "if token.strip()" (as a server parses the header).
    app = Microframework(__name__)
    seen: list[list[str]] = []

    @app.websocket("/ws")
    async def ws() -> None:
        seen.append(websocket.requested_subprotocols)
        await websocket.accept(subprotocol="b")

    client = app.test_client()
    headers = {"Sec-WebSocket-Protocol": "a, , b,"}
    async with client.websocket("/ws", headers=headers):
        pass
    assert seen == [["a", "b"]]


async def _stored(header: str, scheme: str) -> int:
    app = Microframework(__name__)
    app.config["SERVER_NAME"] = "example.com"

    @app.route("/set")
    async def set_cookie() -> Any:
        from microframework import Response

        return Response("set", headers={"Set-Cookie": header})

    client = app.test_client()
    await client.get("/set", scheme=scheme)
    return len(list(client.cookie_jar or ()))


@pytest.mark.parametrize(
    "header",
    [
        "__Host-y=1; Secure; Path=/; Domain=example.com",  # a Domain
        "__Host-p=1; Secure; Path=/a",  # a path other than /
    ],
)
async def test_host_prefixed_cookies_are_refused_over_https_too(header: str) -> None:
    # testing.cookies.refused: the __Host- rule's "not domain" and 'path == "/"',
    # checked from a secure origin (over http the Secure rule refuses them first).
    assert await _stored(header, "https") == 0


@pytest.mark.parametrize("with_teardown", [False, True])
async def test_uploads_are_closed_after_teardown(with_teardown: bool) -> None:
    # _responses.teardown: request.release() in the inner finally (with teardown
    # functions; without, _finish_http releases).
    from microframework import request

    app = Microframework(__name__)
    kept: list[Any] = []
    seen_open: list[bool] = []

    @app.post("/up")
    async def up() -> str:
        files = await request.files
        kept.append(files["f"])
        return "ok"

    if with_teardown:

        @app.teardown_request
        async def teardown(error: BaseException | None) -> None:
            seen_open.append(not kept[0].stream.closed)  # still readable here

    client = app.test_client()
    import io

    response = await client.post("/up", files={"f": (io.BytesIO(b"data"), "a.txt")})
    assert response.status_code == 200
    assert kept[0].stream.closed
    assert seen_open == ([True] if with_teardown else [])


async def test_the_adapter_cache_is_keyed_by_root_path_too() -> None:
    # routing.AdapterCache.get: the memo key is (host header, scheme, root_path); an
    # adapter bound under one root path is not reused for another.
    from microframework import url_for

    app = Microframework(__name__)

    @app.get("/x")
    async def x() -> str:
        return url_for("x")

    mounted = await call(app, http_scope("/app/x", root_path="/app"))
    plain = await call(app, http_scope("/x"))
    mounted_again = await call(app, http_scope("/app/x", root_path="/app"))
    assert (mounted.body, plain.body, mounted_again.body) == (
        b"/app/x",
        b"/x",
        b"/app/x",
    )


async def test_a_redirect_to_another_scheme_on_the_same_port_drops_the_credentials() -> (
    None
):
    # testing.client._origin: the scheme is part of the origin, not only the port.
    from microframework import redirect
    from microframework import request

    app = Microframework(__name__)

    @app.route("/go")
    async def go() -> Any:
        return redirect("http://example.com:8443/who")

    @app.route("/who")
    async def who() -> Any:
        return {"auth": request.headers.get("Authorization")}

    client = app.test_client()
    response = await client.get(
        "/go",
        scheme="https",
        headers={"Host": "example.com:8443"},
        auth=("a", "pw"),
        follow_redirects=True,
    )
    assert await response.get_json() == {"auth": None}


async def test_an_escaped_filenames_copy_keeps_the_parts_headers() -> None:
    # testing.utils._multipart_fields: the FileStorage copy made for an escaped
    # filename keeps headers=item.headers (sent as the part's headers, as werkzeug's).
    import io

    from werkzeug.datastructures import FileStorage
    from werkzeug.datastructures import Headers

    from microframework import request

    app = Microframework(__name__)

    @app.post("/up")
    async def up() -> Any:
        part = (await request.files)["f"]
        return {"name": part.filename, "x": part.headers.get("X-Part")}

    given = FileStorage(
        io.BytesIO(b"data"), 'a"b.txt', headers=Headers({"X-Part": "1"})
    )
    response = await app.test_client().post("/up", files={"f": given})
    assert await response.get_json() == {"name": 'a"b.txt', "x": "1"}  # %22 read back


async def test_a_redirect_to_https_default_port_keeps_the_credentials() -> None:
    # testing.client._origin: https's default port is 443 (the same origin spelled
    # with its port keeps Authorization).
    from microframework import redirect
    from microframework import request

    app = Microframework(__name__)

    @app.route("/go")
    async def go() -> Any:
        return redirect("https://example.com:443/who")

    @app.route("/who")
    async def who() -> Any:
        return {"auth": request.headers.get("Authorization")}

    response = await app.test_client().get(
        "/go",
        scheme="https",
        headers={"Host": "example.com"},
        auth=("a", "pw"),
        follow_redirects=True,
    )
    assert (await response.get_json())["auth"] is not None
