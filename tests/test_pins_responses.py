"""What a view's return value becomes, how errors are answered, and websocket states."""

from __future__ import annotations

import asyncio
from types import MappingProxyType
from typing import Any

import pytest
from asgi_harness import call
from asgi_harness import http_scope
from asgi_harness import websocket_scope
from werkzeug.datastructures import Headers
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as WerkzeugResponse

from microframework import abort
from microframework import Microframework
from microframework import websocket
from microframework.blueprints import Blueprint
from microframework.testing import WebsocketResponseError
from microframework.typing import Message


def _connect_then_wait() -> Any:
    """A server's receive(): websocket.connect, then nothing (the client stays)."""
    script: list[Message] = [{"type": "websocket.connect"}]

    async def receive() -> Message:
        if script:
            return script.pop(0)
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    return receive


async def _run_ready_callbacks(turns: int = 50) -> None:
    """Let every task that can run, run: a handful of loop turns, no waiting on time."""
    for _ in range(turns):
        await asyncio.sleep(0)


# -- a view's return value -------------------------------------------------------------


async def test_returned_headers_replace_the_responses_own(app: Microframework) -> None:
    # As Flask's: headers in the returned tuple update (replace) the response's, so a
    # Content-Type given there is the only one.
    @app.route("/")
    async def index() -> Any:
        return {"a": 1}, 200, {"Content-Type": "application/x-mine"}

    response = await app.test_client().get("/")
    assert response.headers.getlist("Content-Type") == ["application/x-mine"]


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param((("X-A", "1"),), id="tuple-of-pairs"),
        pytest.param(MappingProxyType({"X-A": "1"}), id="read-only-mapping"),
        pytest.param(Headers({"X-A": "1"}), id="werkzeug-headers"),
    ],
)
async def test_headers_of_any_accepted_kind_as_the_second_item(
    app: Microframework, headers: Any
) -> None:
    # (body, headers): Flask takes any Headers, Mapping, tuple or list there; none of
    # them is taken for a status.
    @app.route("/")
    async def index() -> Any:
        return "x", headers

    response = await app.test_client().get("/")
    assert response.status_code == 200
    assert response.headers["X-A"] == "1"


async def test_a_werkzeug_response_with_a_tuple_body_gets_a_content_length(
    app: Microframework,
) -> None:
    # A sequence body's length is known: it is sent with a Content-Length, not chunked.
    @app.route("/")
    async def index() -> WerkzeugResponse:
        return WerkzeugResponse((b"a", b"b"))

    rec = await call(app, http_scope("/"))
    assert rec.body == b"ab"
    assert rec.headers.get(b"content-length") == b"2"


async def test_an_httpexception_without_a_code_is_a_500(app: Microframework) -> None:
    @app.route("/")
    async def index() -> str:
        raise HTTPException()

    response = await app.test_client().get("/")
    assert response.status_code == 500


# -- errors ----------------------------------------------------------------------------


async def test_a_code_less_httpexception_skips_the_httpexception_handlers(
    app: Microframework,
) -> None:
    # As Flask's: an HTTPException without a code is not looked up in the handlers; it
    # is returned as it is (a 500).
    @app.errorhandler(HTTPException)
    async def any_http(error: HTTPException) -> tuple[str, int]:
        return "handled", 418

    @app.route("/")
    async def index() -> str:
        raise HTTPException()

    response = await app.test_client().get("/")
    assert response.status_code == 500


async def test_trap_bad_request_errors_traps_only_bad_requests(
    app: Microframework,
) -> None:
    # TRAP_BAD_REQUEST_ERRORS is about 400s: a 404 is still answered as a 404.
    app.config["TRAP_BAD_REQUEST_ERRORS"] = True

    @app.route("/")
    async def index() -> str:
        abort(404)

    response = await app.test_client().get("/")
    assert response.status_code == 404


async def test_debug_propagates_a_websocket_error_after_the_accept(
    app: Microframework,
) -> None:
    # As for requests: in debug mode (testing off) an error propagates to the server.
    app.testing = False
    app.debug = True

    @app.websocket("/ws")
    async def handler() -> None:
        await websocket.accept()
        raise ValueError("late")

    async def send(message: Message) -> None:
        pass

    async with asyncio.timeout(5):
        with pytest.raises(ValueError):
            await app(websocket_scope("/ws", {}), _connect_then_wait(), send)


async def test_a_blueprints_error_handler_answers_its_websocket(
    app: Microframework,
) -> None:
    # The handler lookup uses the websocket's blueprint as it does a request's.
    bp = Blueprint("bp", __name__)

    @bp.websocket("/ws")
    async def handler() -> None:
        raise ValueError("early")

    @bp.errorhandler(ValueError)
    async def handled(error: ValueError) -> tuple[str, int]:
        return "handled by bp", 418

    app.register_blueprint(bp)
    with pytest.raises(WebsocketResponseError) as info:
        async with app.test_client().websocket("/ws") as ws:
            await ws.receive()
    assert info.value.response.status_code == 418


# -- websocket states ------------------------------------------------------------------


async def test_a_negative_send_timeout_means_no_send_timeout(
    app: Microframework,
) -> None:
    # WEBSOCKET_SEND_TIMEOUT <= 0 turns the stall check off, as None does: a send the
    # server holds is not ended as timed out (a negative timeout would end it at once).
    app.config["WEBSOCKET_SEND_TIMEOUT"] = -1
    sending, release = asyncio.Event(), asyncio.Event()
    sent: list[Message] = []
    done: list[str] = []

    @app.websocket("/ws")
    async def handler() -> None:
        await websocket.accept()
        await websocket.send("hi")
        done.append("sent")

    async def send(message: Message) -> None:
        if message["type"] == "websocket.send":
            sending.set()
            await release.wait()  # a client not reading: the send stays pending
        sent.append(message)

    async with asyncio.timeout(5):
        task = asyncio.create_task(
            app(websocket_scope("/ws", {}), _connect_then_wait(), send)
        )
        await sending.wait()
        await _run_ready_callbacks()  # any stall sweep due runs meanwhile
        release.set()
        await task
    assert done == ["sent"]
    assert sent[-1]["type"] == "websocket.close"
    assert sent[-1]["code"] == 1000


async def test_a_refused_websocket_is_closed(app: Microframework) -> None:
    # Once the HTTP refusal is sent the connection is over: teardown sees it closed.
    seen: list[bool] = []

    @app.websocket("/ws")
    async def handler() -> None:
        abort(401)

    @app.teardown_websocket
    def down(exc: BaseException | None) -> None:
        seen.append(websocket.closed)

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    scope = websocket_scope("/ws", {"websocket.http.response": {}})
    async with asyncio.timeout(5):
        await app(scope, _connect_then_wait(), send)
    assert sent[0]["type"] == "websocket.http.response.start"
    assert sent[0]["status"] == 401
    assert seen == [True]


async def test_accept_after_close_is_an_error(app: Microframework) -> None:
    # A closed websocket can't be accepted again (the ASGI server would fail on it).
    checked: list[str] = []

    @app.websocket("/ws")
    async def handler() -> None:
        await websocket.accept()
        await websocket.close(1000)
        with pytest.raises(RuntimeError):
            await websocket.accept()
        checked.append("raised")

    async def send(message: Message) -> None:
        pass

    async with asyncio.timeout(5):
        await app(websocket_scope("/ws", {}), _connect_then_wait(), send)
    assert checked == ["raised"]
