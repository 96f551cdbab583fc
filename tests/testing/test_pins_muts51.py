"""Pins from mutation testing (helper muts51, session 38): the survivors among the
mutants of ``testing/connections.py``, ``testing/cookies.py`` and ``testing/utils.py``.

Each test kills a mutant that survived the related test files; its first comment names
the code it pins and the mutant id.
"""

from __future__ import annotations

import asyncio

import pytest

from microframework import Microframework
from microframework import request
from microframework import websocket

LIMIT = 10


def _echo_cookie_app() -> Microframework:
    app = Microframework(__name__)

    @app.route("/")
    async def index() -> str:
        return request.headers.get("Cookie", "-")

    return app


async def test_a_root_path_cookie_goes_with_a_request_for_an_empty_path() -> None:
    # cookies.sent_to: a cookie of Path=/ matches every request path (C13): a request
    # for "" (which routes to "/") still carries it.
    client = _echo_cookie_app().test_client()
    client.set_cookie("a", "1")
    response = await client.get("")
    assert await response.get_data(as_text=True) == "a=1"


async def test_an_error_in_the_block_while_awaiting_the_answer_disconnects() -> None:
    # connections._Exchange.__aexit__: failed=exc is not None (N7). A test that fails
    # after sending its whole request leaves the block at once (the app is cut off);
    # it waited for an answer that never comes.
    app = Microframework(__name__)

    @app.route("/", methods=["POST"])
    async def index() -> str:
        await asyncio.Event().wait()  # never answers
        return "never"

    client = app.test_client()
    async with asyncio.timeout(LIMIT):
        with pytest.raises(KeyError, match="the test failed"):
            async with client.request("/", method="POST") as connection:
                await connection.send_complete(b"")
                raise KeyError("the test failed")


def test_the_documented_handshake_wait_is_a_fifth_of_a_second() -> None:
    # connections.TestWebsocketConnection.handshake_wait = 0.2 (N51): docs/porting.md and
    # docs/websockets.md promise 0.2 s; an app that accepts after a short await (a
    # database look-up) is entered accepted, not still handshaking. No test measured it.
    from microframework.testing.connections import TestWebsocketConnection

    assert TestWebsocketConnection.handshake_wait == 0.2


async def test_a_disconnect_after_the_response_ended_leaves_receive_at_the_end() -> (
    None
):
    # connections.TestHTTPConnection.receive: the complete response is checked before
    # the disconnect (N29): once the body has ended, receive() keeps saying so (b"");
    # HTTPDisconnectError is for a response that the disconnect cut short.
    app = Microframework(__name__)

    @app.route("/")
    async def index() -> str:
        return "hi"

    async with asyncio.timeout(LIMIT):
        async with app.test_client().request("/") as connection:
            await connection.send_complete()
            assert await connection.receive() == b"hi"
            assert await connection.receive() == b""
            await connection.disconnect()
            assert await connection.receive() == b""


async def test_a_refusal_whose_body_comes_in_two_messages_is_answered_whole() -> None:
    # connections.TestWebsocketConnection._asgi_send: the refusal ends with the body
    # message without more_body (N80): a body sent in parts is all in the response.
    from microframework.testing import WebsocketResponseError

    async def raw(scope: dict, receive: object, send: object) -> None:  # type: ignore[type-arg]
        if scope["type"] != "websocket":
            return
        await receive()  # type: ignore[operator]
        await send(  # type: ignore[operator]
            {"type": "websocket.http.response.start", "status": 401, "headers": []}
        )
        for body, more in ((b"no ", True), (b"entry", False)):
            await send(  # type: ignore[operator]
                {
                    "type": "websocket.http.response.body",
                    "body": body,
                    "more_body": more,
                }
            )

    app = Microframework(__name__)
    app.asgi_app = raw  # type: ignore[method-assign]
    async with asyncio.timeout(LIMIT):
        with pytest.raises(WebsocketResponseError) as refused:
            async with app.test_client().websocket("/"):
                pass
    assert refused.value.response.status_code == 401
    assert await refused.value.response.get_data() == b"no entry"


async def test_the_test_clients_peer_has_a_real_port() -> None:
    # utils._CLIENT_ADDRESS = ("127.0.0.1", 49152) (U61): the scope's client is a peer a
    # server would report (loopback, an ephemeral port), not port 0, which an app that
    # logs or keys on "host:port" would take for "no peer".
    app = Microframework(__name__)

    @app.route("/")
    async def index() -> str:
        host, port = request.scope["client"]
        return f"{host} {port}"

    host, port = (
        await (await app.test_client().get("/")).get_data(as_text=True)
    ).split()
    assert host == "127.0.0.1"
    assert 1024 <= int(port) <= 65535


async def test_a_websocket_to_an_absolute_ws_url_takes_its_scheme_and_host() -> None:
    # utils.make_test_request: ws:// and wss:// URLs are split as http(s):// ones are
    # (U62): the scheme and Host come from the URL, as Quart's client and a browser do.
    app = Microframework(__name__)

    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.send(f"{websocket.scheme} {websocket.host} {websocket.path}")

    async with asyncio.timeout(LIMIT):
        client = app.test_client()
        async with client.websocket("wss://example.com/ws") as connection:
            assert await connection.receive() == "wss example.com /ws"
