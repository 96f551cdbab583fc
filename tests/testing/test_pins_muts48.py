"""Pins from mutation testing the test client (helper muts48, session 37): testing/client.py,
connections.py and cookies.py. Each test kills mutants that survived the related test
files; its first comment names the code it pins and the mutant ids (REPORT.md's table).
"""

from __future__ import annotations

from typing import Any

import pytest

from microframework import Microframework
from microframework import redirect
from microframework import request
from microframework import session
from microframework.sessions import SecureCookieSessionInterface
from microframework.testing import MicroframeworkClient
from microframework.wrappers.response import Response


def _app() -> Microframework:
    app = Microframework(__name__)
    app.secret_key = "pins"
    return app


async def test_a_clients_block_can_be_entered_again_after_it_ends() -> None:
    # client.__aexit__: `self._preserving = False` (C11). A second block is not a
    # nested one, and after the block no request keeps its context.
    app = _app()

    @app.get("/")
    async def index() -> str:
        return request.path

    client = app.test_client()
    async with client:
        await client.get("/")
        assert request.path == "/"
    async with client:  # the mutant refuses: "Cannot nest client invocations"
        await client.get("/")
    await client.get("/")
    from microframework import has_request_context

    assert not has_request_context()


async def test_a_redirect_without_a_location_is_returned_as_it_is() -> None:
    # client.open: a 3xx without Location ends the loop (C24). Flask's and Quart's
    # clients raise a TypeError there; ours returns the response.
    app = _app()

    @app.get("/")
    async def index() -> tuple[str, int]:
        return "moved, somewhere", 301

    response = await app.test_client().get("/", follow_redirects=True)
    assert response.status_code == 301
    assert await response.get_data() == b"moved, somewhere"


async def test_redirects_answered_by_an_override_resolve_from_each_hop() -> None:
    # client.open: `request = _pop(self._sent, response) or request` (C27). When an
    # overriding _make_request returns its own response object, each hop still resolves
    # its Location against the previous hop's URL, not open()'s path.
    app = _app()

    @app.get("/one")
    async def one() -> Response:
        return redirect("/d/two")

    @app.get("/d/two")
    async def two() -> Response:
        return redirect("three")  # relative: /d/three

    @app.get("/d/three")
    async def three() -> str:
        return "three"

    class Copying(MicroframeworkClient):
        async def _make_request(self, *args: Any) -> Response:
            response = await super()._make_request(*args)
            return Response(
                await response.get_data(), response.status_code, response.headers
            )

    response = await Copying(app).get("/one", follow_redirects=True)
    assert response.status_code == 200
    assert await response.get_data() == b"three"


async def test_a_streamed_request_carries_a_copy_of_the_lifespan_state() -> None:
    # client.request: `self._with_state(...)` (C33) and _with_state's copy (C69).
    app = _app()

    @app.before_serving
    async def start() -> None:
        app.state["db"] = "pool"

    @app.post("/")
    async def index() -> str:
        request.state["scratch"] = "mine"
        return str(request.state["db"])

    async with app.test_app() as test_app:
        client = test_app.test_client()
        async with client.request("/", method="POST") as connection:
            await connection.send_complete(b"")
            response = await connection.as_response()
        assert await response.get_data() == b"pool"
        assert "scratch" not in (client.lifespan_state or {})
        assert "scratch" not in app.state


async def test_a_websocket_handshakes_given_upgrade_header_is_sent_as_given() -> None:
    # client.websocket: `headers.setdefault("Upgrade", "websocket")` (C39): the caller's
    # handshake headers win, as for Sec-WebSocket-Protocol.
    app = _app()
    from microframework import websocket

    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.accept()
        await websocket.send(websocket.headers["Upgrade"])

    client = app.test_client()
    async with client.websocket("/ws", headers={"Upgrade": "WebSocket"}) as connection:
        assert await connection.receive() == "WebSocket"


def _echo_cookies(app: Microframework) -> None:
    @app.get("/")
    async def index() -> str:
        return "; ".join(f"{k}={v}" for k, v in sorted(request.cookies.items()))


async def _cookies_sent(client: MicroframeworkClient, host: str = "localhost") -> str:
    response = await client.get(f"http://{host}/")
    return (await response.get_data()).decode()


async def test_quarts_set_cookie_forms_store_for_the_named_host() -> None:
    # client.set_cookie, Quart's form: `server_name is not None` (C46), the lowered host
    # (C47), `origin_only = domain is None` (C48) and the Domain passed on (C49).
    app = _app()
    _echo_cookies(app)
    client = app.test_client()
    client.set_cookie("a", "1", server_name="example.com")
    client.set_cookie("Example.COM", "b", "2")
    client.set_cookie("www.example.com", "c", "3", domain="example.com")
    assert await _cookies_sent(client, "example.com") == "a=1; b=2; c=3"
    assert await _cookies_sent(client, "sub.example.com") == "c=3"
    assert await _cookies_sent(client) == ""


async def test_flasks_set_cookie_with_a_key_alone_stores_an_empty_value() -> None:
    # client.set_cookie, Flask's form: `1 <= len(args) <= 2` (C50) and value="" (C51),
    # as Flask's set_cookie(key, value="").
    app = _app()
    _echo_cookies(app)
    client = app.test_client()
    client.set_cookie("flag")
    cookie = client.get_cookie("flag")
    assert cookie is not None and cookie.value == ""
    assert await _cookies_sent(client) == "flag="


def test_a_cookie_no_browser_would_store_is_a_clear_error() -> None:
    # client.set_cookie: `if cookie is None: raise ValueError` (C54).
    client = _app().test_client()
    with pytest.raises(ValueError, match="could not be stored"):
        client.set_cookie("__Host-id", "1")  # not Secure: refused, as by browsers


async def test_delete_cookie_by_keyword_and_in_quarts_form_with_a_domain() -> None:
    # client.delete_cookie: `key=` (C56), Quart's server_name= (C57) and its domain
    # (C58).
    app = _app()
    _echo_cookies(app)
    client = app.test_client()
    client.set_cookie("a", "1")
    client.delete_cookie(key="a")
    assert client.get_cookie("a") is None
    client.set_cookie("example.com", "b", "2")
    client.delete_cookie("b", server_name="example.com")
    assert client.get_cookie("b", domain="example.com") is None
    client.set_cookie("example.com", "c", "3", domain="example.com")
    client.delete_cookie("www.example.com", "c", domain="example.com")
    assert client.get_cookie("c", domain="example.com") is None
    assert await _cookies_sent(client, "example.com") == ""


async def test_session_transaction_and_delete_cookie_need_the_jar() -> None:
    # client.session_transaction's and delete_cookie's `_require_jar()` (C64, C115), as
    # Flask's and Quart's clients refuse without cookies.
    client = _app().test_client(use_cookies=False)
    with pytest.raises(RuntimeError, match="use_cookies=False"):
        async with client.session_transaction():
            pass
    with pytest.raises(RuntimeError, match="use_cookies=False"):
        client.delete_cookie("a")


async def test_session_transaction_saves_inside_the_made_up_request() -> None:
    # client.session_transaction: save_session runs in the request's context (C67), as
    # in Flask and Quart: an interface that reads the request there works.
    app = _app()
    seen: list[str] = []

    class Reading(SecureCookieSessionInterface):
        async def save_session(self, app: Any, sess: Any, response: Any) -> None:
            seen.append(request.path)
            await super().save_session(app, sess, response)

    app.session_interface = Reading()

    @app.get("/")
    async def index() -> str:
        return str(session.get("user"))

    client = app.test_client()
    async with client.session_transaction("/tx") as sess:
        sess["user"] = "ann"
    assert seen == ["/tx"]
    assert await (await client.get("/")).get_data() == b"ann"


async def test_a_redirect_to_another_scheme_or_to_a_bare_origin_is_followed_there() -> (
    None
):
    # client._redirected: `scheme=target.scheme` (C101) and `target.path or "/"` (C96).
    app = _app()

    @app.get("/up")
    async def up() -> Response:
        return redirect("https://localhost/where")

    @app.get("/bare")
    async def bare() -> Response:
        return redirect("http://localhost")

    @app.get("/where")
    async def where() -> str:
        return request.scheme

    @app.get("/")
    async def index() -> str:
        return "root " + request.scheme

    client = app.test_client()
    response = await client.get("/up", follow_redirects=True)
    assert await response.get_data() == b"https"
    response = await client.get("/bare", follow_redirects=True)
    assert response.status_code == 200
    assert await response.get_data() == b"root http"


async def test_a_followed_redirect_keeps_the_http_version_and_scope_base() -> None:
    # client._hop_arguments: `r.http_version` (C105) and `r.scope_base` (C106).
    app = _app()

    @app.get("/from")
    async def origin() -> Response:
        return redirect("/to")

    @app.get("/to")
    async def to() -> str:
        return f"{request.http_version} {request.scope.get('marker')}"

    client = app.test_client()
    response = await client.get(
        "/from", follow_redirects=True, http_version="2", scope_base={"marker": "m"}
    )
    assert await response.get_data() == b"2 m"
