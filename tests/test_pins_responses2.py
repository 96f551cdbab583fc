"""Session saving and teardown around a response, pinned where mutants went unnoticed."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from microframework import Microframework
from microframework import session
from microframework import websocket
from microframework.json.provider import DefaultJSONProvider
from microframework.sessions import SecureCookieSession
from microframework.sessions import SecureCookieSessionInterface
from microframework.sessions import SessionInterface
from microframework.sessions import SessionMixin
from microframework.signals import request_finished
from microframework.testing import WebsocketResponseError
from microframework.wrappers.response import Response


class _NoSessions(SessionInterface):
    """Opens no session (the null one) and records every save."""

    def __init__(self) -> None:
        self.saved: list[SessionMixin] = []

    async def open_session(self, app: Any, request: Any) -> SessionMixin | None:
        return None

    async def save_session(
        self, app: Any, session: SessionMixin, response: Response | None
    ) -> None:
        self.saved.append(session)


class _CountingOpens(SecureCookieSessionInterface):
    """The signed-cookie interface, counting the sessions it opens."""

    opened = 0
    opens_without_waiting = True  # its open_session never waits

    async def open_session(self, app: Any, request: Any) -> Any:
        type(self).opened += 1
        return await super().open_session(app, request)


async def test_a_request_without_the_cookie_that_never_uses_the_session_opens_none(
    app: Microframework,
) -> None:
    # Pins: with no session cookie sent and no use, the lazy session is never opened.
    app.secret_key = "k"
    app.session_interface = interface = _CountingOpens()
    _CountingOpens.opened = 0

    @app.route("/")
    async def index() -> str:
        return "ok"

    @app.after_request
    async def after(response: Response) -> Response:
        return response  # the response is processed, session step included

    response = await app.test_client().get("/")
    assert response.status_code == 200
    assert interface.opened == 0


async def test_the_null_session_of_a_request_is_never_saved(
    app: Microframework,
) -> None:
    # Pins: save_session is not called for a request's null session (docs/sessions.md).
    app.session_interface = interface = _NoSessions()

    @app.route("/")
    async def index() -> str:
        return "ok"

    assert (await app.test_client().get("/")).status_code == 200
    assert interface.saved == []


async def test_the_null_session_of_a_websocket_is_never_saved(
    app: Microframework,
) -> None:
    # Pins: save_session is not called for a websocket's null session either.
    app.session_interface = interface = _NoSessions()

    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.send(await websocket.receive())

    async with app.test_client().websocket("/ws") as client:
        await client.send("hi")
        assert await client.receive() == "hi"
    assert interface.saved == []


async def test_a_websocket_500_is_finalized_without_a_request_session_step(
    app: Microframework, caplog: pytest.LogCaptureFixture
) -> None:
    # Pins: process_response's session step is the request's: a websocket's 500 skips it.
    app.secret_key = "k"
    app.config["PROPAGATE_EXCEPTIONS"] = False

    @app.websocket("/ws")
    async def ws() -> None:
        raise RuntimeError("before accept")

    with caplog.at_level(logging.ERROR):
        with pytest.raises(WebsocketResponseError) as info:
            async with app.test_client().websocket("/ws") as client:
                await client.receive()
    assert info.value.response.status_code == 500
    messages = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert not [m for m in messages if "finalizing failed" in m], messages


@pytest.mark.parametrize(
    ("secret_key", "refresh", "cookie"),
    [
        ("k", False, "session=abc"),
        (None, True, "session=abc"),
        ("k", True, "other=abc"),
    ],
    ids=["no-refresh", "no-key", "other-cookie"],
)
async def test_a_sent_cookie_opens_no_unused_session_unless_it_is_refreshed(
    app: Microframework, secret_key: str | None, refresh: bool, cookie: str
) -> None:
    # Pins: only the session's own cookie, with a key and refreshing on, opens it unused.
    app.secret_key = secret_key
    app.config["SESSION_REFRESH_EACH_REQUEST"] = refresh
    app.session_interface = interface = _CountingOpens()
    _CountingOpens.opened = 0

    @app.route("/")
    async def index() -> str:
        return "ok"

    @app.after_request
    async def after(response: Response) -> Response:
        return response  # the response is processed, session step included

    response = await app.test_client().get("/", headers={"Cookie": cookie})
    assert response.status_code == 200
    assert interface.opened == 0


async def test_an_open_session_that_waits_is_closed_before_the_error_is_raised(
    app: Microframework,
) -> None:
    # Pins: a lazily opened session that would wait is closed (its finally runs) at once.
    events: list[str] = []

    class Waits(SecureCookieSessionInterface):
        opens_without_waiting = True  # wrongly

        async def open_session(self, app: Any, request: Any) -> Any:
            try:
                await asyncio.sleep(0)  # waits: not allowed on first use
                return None
            finally:
                events.append("closed")

    app.secret_key = "k"
    app.session_interface = Waits()
    seen: list[list[str]] = []

    @app.route("/")
    async def index() -> str:
        try:
            session.get("x")
        except RuntimeError:
            seen.append(list(events))
        return "ok"

    assert (await app.test_client().get("/")).status_code == 200
    assert seen == [["closed"]]


async def test_a_request_finished_receiver_gets_a_response_for_a_dict(
    app: Microframework,
) -> None:
    # Pins: with a receiver connected, a returned dict is made a Response, not sent raw.
    got: list[object] = []

    @app.route("/")
    async def index() -> Any:
        return {"a": 1}

    async def receiver(sender: Any, response: Any, **extra: Any) -> None:
        got.append(response)

    with request_finished.connected_to(receiver, app):
        response = await app.test_client().get("/")
    assert await response.get_json() == {"a": 1}
    assert [type(r) for r in got] == [app.response_class]


async def test_a_dict_goes_through_a_json_provider_subclass(
    app: Microframework,
) -> None:
    # Pins: the raw dict fast path is for the default provider only, not its subclasses.
    class Marked(DefaultJSONProvider):
        def response(self, *args: Any, **kwargs: Any) -> Any:
            response = super().response(*args, **kwargs)
            response.headers["X-Provider"] = "marked"
            return response

    app.json = Marked(app)

    @app.route("/")
    async def index() -> Any:
        return {"a": 1}

    response = await app.test_client().get("/")
    assert await response.get_json() == {"a": 1}
    assert response.headers.get("X-Provider") == "marked"


async def test_a_float_status_with_headers_is_a_type_error(app: Microframework) -> None:
    # Pins: only an int status takes the direct path; 200.0 is refused as make_response does.
    app.config["PROPAGATE_EXCEPTIONS"] = False

    @app.route("/")
    async def index() -> Any:
        return "body", 200.0, {"X-A": "1"}

    response = await app.test_client().get("/")
    assert response.status_code == 500


async def test_a_refused_websockets_session_is_saved_once_into_the_refusal(
    app: Microframework,
) -> None:
    # Pins: the session saved into a websocket's refusal is not saved again at its end.
    saved: list[Response | None] = []

    class Recording(SessionInterface):
        async def open_session(self, app: Any, request: Any) -> SessionMixin:
            return SecureCookieSession()

        async def save_session(
            self, app: Any, session: SessionMixin, response: Response | None
        ) -> None:
            saved.append(response)

    app.session_interface = Recording()

    @app.websocket("/ws")
    async def ws() -> Any:
        session["seen"] = True
        return "no", 403

    with pytest.raises(WebsocketResponseError) as info:
        async with app.test_client().websocket("/ws") as client:
            await client.receive()
    assert info.value.response.status_code == 403
    assert len(saved) == 1 and saved[0] is not None


async def test_a_refused_websocket_that_never_used_the_session_opens_none(
    app: Microframework,
) -> None:
    # Pins: saving a refused websocket's session reads the opened one, never opening it.
    app.secret_key = "k"
    app.session_interface = interface = _CountingOpens()
    _CountingOpens.opened = 0

    @app.websocket("/ws")
    async def ws() -> Any:
        return "no", 403

    with pytest.raises(WebsocketResponseError) as info:
        async with app.test_client().websocket("/ws") as client:
            await client.receive()
    assert info.value.response.status_code == 403
    assert interface.opened == 0


async def test_a_returned_http_exception_with_a_bodiless_code_sends_no_body(
    app: Microframework,
) -> None:
    # Pins: the prepared-page fast path is for codes that carry a body (not a 204).
    from asgi_harness import call
    from asgi_harness import http_scope
    from werkzeug.exceptions import HTTPException

    class NoContent(HTTPException):
        code = 204
        description = "nothing to say"

    @app.route("/")
    async def index() -> Any:
        return NoContent()

    recorder = await call(app, http_scope("/"))
    assert recorder.status == 204
    assert b"content-length" not in recorder.headers
    assert recorder.body == b""
