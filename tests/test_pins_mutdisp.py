"""Pins of s22's mutation testing of _dispatch.py, _errors.py and wrappers/websocket.py:
each test fails with one mutant that the suite let live (m_mutdisp.py, PROOF.txt)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from asgi_harness import call
from asgi_harness import http_scope
from asgi_harness import websocket_scope

from microframework import Blueprint
from microframework import g
from microframework import has_app_context
from microframework import Microframework
from microframework import request
from microframework import Response
from microframework import websocket
from microframework.exceptions import WebsocketDisconnect
from microframework.json.provider import DefaultJSONProvider
from microframework.signals import appcontext_popped
from microframework.signals import appcontext_pushed
from microframework.signals import request_started
from microframework.signals import websocket_finished
from microframework.signals import websocket_received
from microframework.signals import websocket_started
from microframework.testing import WebsocketResponseError


async def test_appcontext_popped_after_a_request_sees_no_app_context(
    app: Microframework,
) -> None:
    # As Flask's and Quart's AppContext.pop: the context is reset, then the signal.
    seen: list[bool] = []

    @app.route("/")
    async def index() -> str:
        return "ok"

    def receiver(sender: Microframework, **kwargs: Any) -> None:
        seen.append(has_app_context())

    with appcontext_popped.connected_to(receiver, app):
        recorder = await call(app, http_scope("/"))
    assert recorder.status == 200
    assert seen == [False]


async def test_before_websocket_hooks_run_in_registration_order(
    app: Microframework,
) -> None:
    order: list[int] = []

    @app.before_websocket
    async def first() -> None:
        order.append(1)

    @app.before_websocket
    async def second() -> None:
        order.append(2)

    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.send(repr(order))

    async with app.test_client().websocket("/ws") as connection:
        assert await connection.receive() == "[1, 2]"


async def test_request_started_is_sent_before_the_url_value_preprocessors(
    app: Microframework,
) -> None:
    # Flask's full_dispatch_request: request_started, then preprocess_request.
    order: list[str] = []

    @app.url_value_preprocessor
    def pull(endpoint: str | None, values: dict[str, Any] | None) -> None:
        order.append("preprocess")

    @app.route("/<name>")
    async def index(name: str) -> str:
        return name

    def receiver(sender: Microframework, **kwargs: Any) -> None:
        order.append(f"started {request.path}")

    with request_started.connected_to(receiver, app):
        response = await app.test_client().get("/x")
    assert response.status_code == 200
    assert order == ["started /x", "preprocess"]


async def test_a_websocket_sends_appcontext_pushed(app: Microframework) -> None:
    pushed: list[Any] = []

    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.send(str(len(pushed)))

    def receiver(sender: Microframework, **kwargs: Any) -> None:
        pushed.append(sender)

    with appcontext_pushed.connected_to(receiver, app):
        async with app.test_client().websocket("/ws") as connection:
            assert await connection.receive() == "1"
    assert pushed == [app]


async def test_a_blueprints_before_websocket_runs_for_its_websocket(
    app: Microframework,
) -> None:
    blueprint = Blueprint("bp", __name__)

    @blueprint.before_websocket
    async def hook() -> None:
        g.hooked = True

    @blueprint.websocket("/ws")
    async def ws() -> None:
        await websocket.send(str(g.get("hooked", False)))

    app.register_blueprint(blueprint)
    async with app.test_client().websocket("/ws") as connection:
        assert await connection.receive() == "True"


async def test_websocket_finished_gets_the_refusal_response(
    app: Microframework,
) -> None:
    # As Quart's finalize_websocket: response=the response made of the return value.
    finished: list[Any] = []

    @app.websocket("/ws")
    async def ws() -> Any:
        return "no", 401

    def receiver(sender: Microframework, **kwargs: Any) -> None:
        finished.append(kwargs["response"])

    with websocket_finished.connected_to(receiver, app):
        with pytest.raises(WebsocketResponseError) as info:
            async with app.test_client().websocket("/ws"):
                pass
    assert info.value.response.status_code == 401
    assert [response.status_code for response in finished] == [401]


async def test_a_websocket_cancelled_from_outside_gives_teardown_the_cancel(
    app: Microframework,
) -> None:
    # Not the peer (a server's shutdown): the CancelledError propagates, and teardown
    # gets it as the error that ended the handler (the exc_value a context's exit has).
    waiting = asyncio.Event()
    torn: list[BaseException | None] = []

    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.accept()
        waiting.set()
        await asyncio.Event().wait()

    @app.teardown_websocket
    async def teardown(exc: BaseException | None) -> None:
        torn.append(exc)

    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    inbox.put_nowait({"type": "websocket.connect"})

    async def send(message: dict[str, Any]) -> None:
        pass

    task = asyncio.create_task(app(websocket_scope("/ws"), inbox.get, send))
    async with asyncio.timeout(5):
        await waiting.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        async with asyncio.timeout(5):
            await task
    assert len(torn) == 1
    assert isinstance(torn[0], asyncio.CancelledError)


class _Stop(BaseException):
    """Not an Exception: no error handler sees it, it only propagates."""


async def test_a_base_exception_leaving_a_websocket_reaches_teardown(
    app: Microframework,
) -> None:
    torn: list[BaseException | None] = []

    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.accept()
        raise _Stop

    @app.teardown_websocket
    async def teardown(exc: BaseException | None) -> None:
        torn.append(exc)

    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    inbox.put_nowait({"type": "websocket.connect"})
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    with pytest.raises(_Stop):
        async with asyncio.timeout(5):
            await app(websocket_scope("/ws"), inbox.get, send)
    assert [type(exc) for exc in torn] == [_Stop]


async def test_appcontext_popped_after_a_websocket_sees_no_app_context(
    app: Microframework,
) -> None:
    seen: list[bool] = []

    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.send("hi")

    def receiver(sender: Microframework, **kwargs: Any) -> None:
        seen.append(has_app_context())

    with appcontext_popped.connected_to(receiver, app):
        async with app.test_client().websocket("/ws") as connection:
            assert await connection.receive() == "hi"
    assert seen == [False]


async def test_teardown_gets_the_clients_close_code_and_reason(
    app: Microframework,
) -> None:
    torn: list[Any] = []

    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.accept()
        await websocket.receive()

    @app.teardown_websocket
    async def teardown(exc: BaseException | None) -> None:
        torn.append(
            (type(exc), getattr(exc, "code", None), getattr(exc, "reason", None))
        )

    async with app.test_client().websocket("/ws") as connection:
        await connection.close(4000, "tab closed")
    assert torn == [(WebsocketDisconnect, 4000, "tab closed")]


async def test_an_overridden_handle_exception_alone_answers_a_websocket_error() -> None:
    # Once accepted, the override sees the error and closes with 1011: it is not then
    # raised (testing propagates) nor logged besides.
    seen: list[BaseException] = []

    class App(Microframework):
        async def handle_exception(self, error: Exception) -> Any:
            seen.append(error)
            return "handled", 500

    app = App(__name__)
    app.testing = True

    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.accept()
        raise RuntimeError("boom")

    async with app.test_client().websocket("/ws") as connection:
        with pytest.raises(WebsocketDisconnect) as info:
            await connection.receive()
    assert info.value.code == 1011
    assert [type(error) for error in seen] == [RuntimeError]


async def test_websocket_started_is_sent_before_the_before_websocket_hooks(
    app: Microframework,
) -> None:
    # Quart's full_dispatch_websocket: websocket_started, then preprocess_websocket.
    order: list[str] = []

    @app.before_websocket
    async def hook() -> None:
        order.append("before")

    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.send(repr(order))

    def receiver(sender: Microframework, **kwargs: Any) -> None:
        order.append("started")

    with websocket_started.connected_to(receiver, app):
        async with app.test_client().websocket("/ws") as connection:
            assert await connection.receive() == "['started', 'before']"


async def test_a_500_for_a_bad_header_runs_the_blueprints_after_request(
    app: Microframework,
) -> None:
    # The 500 that replaces a response whose headers would split it is finished with
    # the route's hooks, its blueprint's too, as Flask's handle_exception finishes it.
    blueprint = Blueprint("bp", __name__)

    @blueprint.route("/")
    async def index() -> Response:
        response = Response("x")
        response.headers["X Bad"] = "a space in a name"
        return response

    @blueprint.after_request
    async def hook(response: Response) -> Response:
        response.headers["X-Hook"] = "bp"
        return response

    app.register_blueprint(blueprint)
    app.testing = False  # the 500 page, not the error raised to the caller
    recorder = await call(app, http_scope("/"))
    assert recorder.status == 500
    assert recorder.headers.get(b"x-hook") == b"bp"


async def test_an_after_request_failing_on_the_500_is_logged(
    app: Microframework, caplog: pytest.LogCaptureFixture
) -> None:
    # As Flask's finalize_request(from_error_handler=True): the 500 goes all the same.
    @app.route("/")
    async def index() -> str:
        raise ValueError("the view failed")

    @app.after_request
    async def hook(response: Response) -> Response:
        if response.status_code == 500:
            raise RuntimeError("the hook failed too")
        return response

    app.testing = False
    with caplog.at_level(logging.ERROR):
        recorder = await call(app, http_scope("/"))
    assert recorder.status == 500
    messages = [record.getMessage() for record in caplog.records]
    assert "Request finalizing failed with an error while handling an error" in messages


async def test_the_innermost_blueprints_error_handler_wins(
    app: Microframework,
) -> None:
    # Flask: request.blueprints is innermost first, and so is the handler lookup.
    outer = Blueprint("outer", __name__)
    inner = Blueprint("inner", __name__)

    @outer.errorhandler(LookupError)
    async def outer_handler(error: Exception) -> Any:
        return "outer", 500

    @inner.errorhandler(LookupError)
    async def inner_handler(error: Exception) -> Any:
        return "inner", 500

    @inner.route("/n")
    async def view() -> str:
        raise KeyError("x")

    outer.register_blueprint(inner, url_prefix="/in")
    app.register_blueprint(outer, url_prefix="/out")
    response = await app.test_client().get("/out/in/n")
    assert (response.status_code, await response.get_data()) == (500, b"inner")


async def test_a_code_attribute_on_a_plain_exception_is_no_http_code(
    app: Microframework,
) -> None:
    # Flask's _get_exc_class_and_code: only an HTTPException has a code to look up.
    # Libraries' errors often carry a code of their own (a string, a list of them):
    # it is never a key of the handler registry.
    class Custom(Exception):
        code = ["E_CUSTOM"]

    @app.errorhandler(Exception)
    async def any_error(error: Exception) -> Any:
        return f"exception {type(error).__name__}", 500

    @app.route("/")
    async def index() -> str:
        raise Custom

    registered = {
        name: set(by_code) for name, by_code in app.error_handler_spec.items()
    }
    response = await app.test_client().get("/")
    assert (response.status_code, await response.get_data()) == (
        500,
        b"exception Custom",
    )
    assert {
        name: set(by_code) for name, by_code in app.error_handler_spec.items()
    } == registered


async def test_a_disconnect_without_a_code_read_by_the_reader_task_is_1005(
    app: Microframework,
) -> None:
    # ASGI: no code in the client's close frame is 1005, as receive() itself has it.
    waiting = asyncio.Event()
    torn: list[Any] = []

    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.accept()
        waiting.set()
        await asyncio.Event().wait()  # not receiving: the reader task reads

    @app.teardown_websocket
    async def teardown(exc: BaseException | None) -> None:
        torn.append((type(exc), getattr(exc, "code", None)))

    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    inbox.put_nowait({"type": "websocket.connect"})

    async def send(message: dict[str, Any]) -> None:
        pass

    task = asyncio.create_task(app(websocket_scope("/ws"), inbox.get, send))
    async with asyncio.timeout(5):
        await waiting.wait()
        inbox.put_nowait({"type": "websocket.disconnect"})
        await task
    assert torn == [(WebsocketDisconnect, 1005)]


async def test_the_1009_close_tells_the_client_why(app: Microframework) -> None:
    # The close frame's reason matches the handler's WebsocketDisconnect.
    app.config["WEBSOCKET_MAX_MESSAGE_SIZE"] = 8
    seen: list[Any] = []

    @app.websocket("/ws")
    async def ws() -> None:
        try:
            await websocket.receive()
        except WebsocketDisconnect as error:
            seen.append((error.code, error.reason))
            raise

    async with app.test_client().websocket("/ws") as connection:
        await connection.send(b"x" * 9)
        with pytest.raises(WebsocketDisconnect) as info:
            await connection.receive()
    assert (info.value.code, info.value.reason) == (1009, "message too big")
    assert seen == [(1009, "message too big")]


async def test_websocket_received_is_sent_for_a_message_the_reader_task_queued(
    app: Microframework,
) -> None:
    received: list[Any] = []

    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.accept()
        await asyncio.sleep(0)  # not receiving: the reader task takes over
        await websocket.receive()

    def receiver(sender: Any, **kwargs: Any) -> None:
        received.append(sender)

    inbox: list[dict[str, Any]] = [
        {"type": "websocket.connect"},
        {"type": "websocket.receive", "text": "hi"},
        {"type": "websocket.disconnect", "code": 1000},
    ]

    async def receive() -> dict[str, Any]:
        return inbox.pop(0)

    async def send(message: dict[str, Any]) -> None:
        pass

    with websocket_received.connected_to(receiver):
        async with asyncio.timeout(5):
            await app(websocket_scope("/ws"), receive, send)
    assert received == ["hi"]


async def test_sending_neither_str_nor_bytes_is_a_type_error(
    app: Microframework,
) -> None:
    @app.websocket("/ws")
    async def ws() -> None:
        try:
            await websocket.send(123)  # type: ignore[arg-type]
        except TypeError as error:
            await websocket.send(str(error))

    async with app.test_client().websocket("/ws") as connection:
        assert (
            await connection.receive() == "websocket messages are str or bytes, not int"
        )


async def test_a_send_to_a_peer_that_has_gone_closes_the_websocket_with_1006(
    app: Microframework,
) -> None:
    # ASGI: send() raises an OSError once the peer has gone. The connection is closed
    # then, with 1006, and teardown hears that code too.
    seen: list[Any] = []
    torn: list[Any] = []

    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.accept()
        try:
            await websocket.send("lost")
        except WebsocketDisconnect as error:
            seen.append((error.code, websocket.closed, websocket.close_code))
            raise

    @app.teardown_websocket
    async def teardown(exc: BaseException | None) -> None:
        torn.append((type(exc), getattr(exc, "code", None)))

    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    inbox.put_nowait({"type": "websocket.connect"})

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "websocket.send":
            raise OSError("the peer has gone")

    async with asyncio.timeout(5):
        await app(websocket_scope("/ws"), inbox.get, send)
    assert seen == [(1006, True, 1006)]
    assert torn == [(WebsocketDisconnect, 1006)]


async def test_send_json_and_receive_json_use_the_apps_json_provider(
    app: Microframework,
) -> None:
    # Quart's send_json and receive_json go through app.json (here a subclass's).
    class Marking(DefaultJSONProvider):
        def dumps(self, obj: Any, **kwargs: Any) -> str:
            return "/*out*/" + super().dumps(obj, **kwargs)

        def loads(self, s: str | bytes, **kwargs: Any) -> Any:
            return {"via": "provider", "data": super().loads(s, **kwargs)}

    app.json = Marking(app)

    @app.websocket("/ws")
    async def ws() -> None:
        data = await websocket.receive_json()
        await websocket.send_json(data)

    async with app.test_client().websocket("/ws") as connection:
        await connection.send("[1]")
        reply = await connection.receive()
    assert reply == '/*out*/{"data": [1], "via": "provider"}'


class _CountingServer:
    """A scripted websocket server that counts the messages the app has read."""

    def __init__(self) -> None:
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.inbox.put_nowait({"type": "websocket.connect"})
        self.delivered = 0

    def push(self, *texts: str) -> None:
        for text in texts:
            self.inbox.put_nowait({"type": "websocket.receive", "text": text})

    async def receive(self) -> dict[str, Any]:
        message = await self.inbox.get()
        if message["type"] == "websocket.receive":
            self.delivered += 1
        return message

    async def send(self, message: dict[str, Any]) -> None:
        pass


async def _loop_turns(turns: int = 50) -> None:
    """Let every task that can run, run: loop turns, no waiting on time."""
    for _ in range(turns):
        await asyncio.sleep(0)


async def test_the_queue_takes_no_more_once_its_bytes_reach_the_budget(
    app: Microframework,
) -> None:
    # docs/websockets.md: past WEBSOCKET_QUEUE_SIZE, more are taken while those
    # waiting come to *less than* the budget. Two 10-byte messages cost exactly it.
    app.config["WEBSOCKET_QUEUE_SIZE"] = 2
    app.config["WEBSOCKET_MAX_MESSAGE_SIZE"] = 2 * (10 + 128)
    go = asyncio.Event()

    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.accept()
        await go.wait()  # not receiving: the reader task fills the queue
        for _ in range(5):
            await websocket.receive()

    server = _CountingServer()
    server.push(*(f"{i:010d}" for i in range(5)))
    task = asyncio.create_task(app(websocket_scope("/ws"), server.receive, server.send))
    await _loop_turns()
    # Two queued, at the budget, plus the one the reader holds while it waits.
    assert server.delivered == 3
    go.set()
    async with asyncio.timeout(5):
        await task
    assert server.delivered == 5


async def test_messages_the_handler_took_no_longer_count_against_the_budget(
    app: Microframework,
) -> None:
    # Ten 10-byte messages passed through the queue cost more than the budget; once
    # taken they cost nothing: five more, under it, are all taken.
    app.config["WEBSOCKET_QUEUE_SIZE"] = 2
    app.config["WEBSOCKET_MAX_MESSAGE_SIZE"] = 1000
    taken, go = asyncio.Event(), asyncio.Event()

    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.accept()
        await asyncio.sleep(0)  # not receiving: the reader task takes over
        for _ in range(10):
            await websocket.receive()
        taken.set()
        await go.wait()
        for _ in range(5):
            await websocket.receive()

    server = _CountingServer()
    server.push(*(f"{i:010d}" for i in range(10)))
    task = asyncio.create_task(app(websocket_scope("/ws"), server.receive, server.send))
    async with asyncio.timeout(5):
        await taken.wait()
    server.push(*(f"{i:010d}" for i in range(5)))
    await _loop_turns()
    assert server.delivered == 15
    go.set()
    async with asyncio.timeout(5):
        await task
