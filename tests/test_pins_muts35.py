"""Pins from mutation testing (helper muts35, session 33) of ctx.py, wrappers/websocket.py,
wrappers/request.py, _errors.py, _lifespan.py and sse.py.

Each test kills a mutant that survived the related test files; its first comment names
the code it pins and the mutant id (see /tmp/s33/muts35/MUTANTS.md).
"""

from __future__ import annotations

import asyncio
import gc
import warnings
from collections.abc import AsyncGenerator
from typing import Any

import pytest
from asgi_harness import call
from asgi_harness import http_scope
from asgi_harness import Recorder
from asgi_harness import websocket_scope
from werkzeug.exceptions import BadRequestKeyError
from werkzeug.exceptions import RequestEntityTooLarge

from microframework import after_this_request
from microframework import copy_current_app_context
from microframework import copy_current_request_context
from microframework import Microframework
from microframework import request
from microframework import Response
from microframework import websocket
from microframework._unread import DropBeforeEnd
from microframework._unread import Dropper
from microframework.ctx import AppCtxGlobals
from microframework.exceptions import ClientDisconnected
from microframework.exceptions import WebsocketDisconnect
from microframework.json.provider import DefaultJSONProvider
from microframework.signals import appcontext_popped
from microframework.signals import appcontext_pushed
from microframework.signals import got_request_exception
from microframework.signals import got_websocket_exception
from microframework.typing import Message
from microframework.wrappers.request import Request
from microframework.wrappers.websocket import Websocket


async def test_a_background_task_added_in_a_copys_app_context_waits_for_the_response() -> (
    None
):
    # ctx.py AppContext._sharing: `ctx.sharing = self.sharing or self` (mutant C23 made
    # it `self`): an app context pushed inside a copy shares the request's own context,
    # whose response_sent holds background tasks back; the copy (pushed by hand) would
    # let them start at once, before the response.
    app = Microframework(__name__)
    order: list[str] = []

    async def task() -> None:
        order.append("task")

    @app.get("/")
    async def index() -> str:
        @copy_current_request_context
        async def inner() -> None:
            async with app.app_context():
                started = app.add_background_task(task)
                assert not started.done()

        await inner()
        for _ in range(5):  # loop turns in which a started task would run
            await asyncio.sleep(0)
        order.append("view")
        return "ok"

    recorder = await call(app, http_scope("/"))
    await asyncio.gather(*app.background_tasks)
    assert recorder.status == 200
    assert order == ["view", "task"]


async def test_leaving_an_app_context_without_an_error_tears_down_with_none() -> None:
    # ctx.py AppContext.__aexit__: `await self.pop(exc_value)` (mutant C42: `self.pop()`):
    # a block that ends normally passes None, so an error being handled around the
    # `async with` (sys.exc_info) does not reach teardown_appcontext, as in Flask and
    # Quart.
    app = Microframework(__name__)
    seen: list[BaseException | None] = []

    @app.teardown_appcontext
    def teardown(error: BaseException | None) -> None:
        seen.append(error)

    try:
        raise KeyError("handled outside")
    except KeyError:
        async with app.app_context():
            pass
    assert seen == [None]


async def test_after_this_request_in_a_request_copy_is_the_copys_as_in_quart() -> None:
    # ctx.py _after_this: `if ctx._tears_down == "app" and ctx.sharing is not None`
    # (mutant C51 dropped the first test): only an app context pushed in the view hands
    # its after_this_request functions to the request; in a copy they are the copy's
    # and are not run, as in Quart (its RequestContext.copy() has its own list).
    app = Microframework(__name__)

    @app.get("/")
    async def index() -> str:
        @copy_current_request_context
        async def inner() -> None:
            @after_this_request
            def mark(response: Response) -> Response:
                response.headers["X-Mark"] = "yes"
                return response

        await asyncio.gather(inner())
        return "ok"

    response = await app.test_client().get("/")
    assert response.status_code == 200
    assert "X-Mark" not in response.headers


async def test_g_is_made_from_app_ctx_globals_class() -> None:
    # ctx.py AppContext.g: `self.app.app_ctx_globals_class()` (mutant C55 made it
    # `AppCtxGlobals()`): an app's own class for g is used, as in Flask.
    class Globals(AppCtxGlobals):
        pass

    app = Microframework(__name__)
    app.app_ctx_globals_class = Globals
    async with app.app_context() as ctx:
        assert type(ctx.g) is Globals


async def test_a_copied_app_context_announces_its_push_and_pop() -> None:
    # ctx.py _copying: `await send_signal(appcontext_pushed, ctx.app)` (mutant C59 made
    # it `pass`): a function run by copy_current_app_context is a context of its own,
    # pushed and popped with both signals, as in Quart.
    app = Microframework(__name__)
    seen: list[str] = []

    def pushed(sender: Any, **extra: Any) -> None:
        seen.append("pushed")

    def popped(sender: Any, **extra: Any) -> None:
        seen.append("popped")

    async with app.app_context():

        @copy_current_app_context
        async def work() -> str:
            seen.append("work")
            return "done"

        with appcontext_pushed.connected_to(pushed, app):
            with appcontext_popped.connected_to(popped, app):
                assert await work() == "done"
    assert seen == ["pushed", "work", "popped"]


async def test_a_websocket_without_an_app_has_the_documented_limits() -> None:
    # wrappers/websocket.py: `config.get("WEBSOCKET_MAX_MESSAGE_SIZE", 1024 * 1024)`
    # (mutant W3: 1024): without an app's config a Websocket has the documented
    # default limit, 1 MiB (configuration.md), as config.py's default says.
    async def receive() -> Message:
        raise AssertionError("not read")

    async def send(message: Message) -> None:
        raise AssertionError("not sent")

    ws = Websocket(websocket_scope("/ws"), receive, send)
    try:
        assert (
            ws.max_message_size
            == Microframework(__name__).config["WEBSOCKET_MAX_MESSAGE_SIZE"]
        )
        assert ws.max_message_size == 1024 * 1024
        # (mutant W4: the queue's default of 16 messages made 1)
        assert ws._queue_size == Microframework(__name__).config["WEBSOCKET_QUEUE_SIZE"]
    finally:
        ws.finish()


def _server(
    *messages: dict[str, Any],
) -> tuple[Any, Any, list[Message]]:
    # A scripted ASGI server: receive() gives *messages*, then waits for ever.
    inbox = list(messages)
    sent: list[Message] = []

    async def receive() -> Message:
        if inbox:
            return inbox.pop(0)
        await asyncio.get_running_loop().create_future()
        raise AssertionError("unreachable")

    async def send(message: Message) -> None:
        sent.append(message)

    return receive, send, sent


async def test_a_negative_send_timeout_means_no_send_timeout() -> None:
    # wrappers/websocket.py __init__: `timeout if timeout and timeout > 0 else None`
    # (mutant W6 dropped `timeout > 0`): WEBSOCKET_SEND_TIMEOUT of 0 or below turns the
    # stall sweep off, as None does; a negative one must not end every pending send.
    app = Microframework(__name__)
    app.config["WEBSOCKET_SEND_TIMEOUT"] = -1
    receive, send, _ = _server()
    ws = Websocket(websocket_scope("/ws"), receive, send, app)
    try:
        assert ws._send_timeout is None
    finally:
        ws.finish()


async def test_a_refused_handshake_is_closed() -> None:
    # wrappers/websocket.py closed: `self._state in (_CLOSED, _RESPONDED)` (mutant W8
    # dropped _RESPONDED): once refused with an HTTP response the websocket is closed.
    app = Microframework(__name__)
    seen: list[bool] = []

    @app.websocket("/ws")
    async def handle() -> None:
        seen.append(websocket.closed)
        await websocket.send_rejection(Response("no", status=403))
        seen.append(websocket.closed)

    receive, send, sent = _server({"type": "websocket.connect"})
    scope = websocket_scope("/ws", {"websocket.http.response": {}})
    async with asyncio.timeout(10):
        await app(scope, receive, send)
    assert seen == [False, True]
    assert sent[0]["type"] == "websocket.http.response.start"
    assert sent[0]["status"] == 403


async def test_a_subprotocol_is_refused_when_the_client_offered_none() -> None:
    # wrappers/websocket.py _check_subprotocol: `if offered is not None and subprotocol
    # not in offered` (mutant W10: `if offered and ...`): a client that offered no
    # subprotocol (an empty list) can't be answered with one (RFC 6455 4.2.2).
    app = Microframework(__name__)
    errors: list[str] = []

    @app.websocket("/ws")
    async def handle() -> None:
        try:
            await websocket.accept(subprotocol="chat")
        except ValueError as error:
            errors.append(str(error))
            await websocket.close(1000)

    receive, send, sent = _server({"type": "websocket.connect"})
    scope = websocket_scope("/ws")
    assert scope["subprotocols"] == []
    async with asyncio.timeout(10):
        await app(scope, receive, send)
    assert len(errors) == 1
    assert "not offered" in errors[0]
    assert [m["type"] for m in sent] == ["websocket.close"]


async def test_accept_after_close_raises() -> None:
    # wrappers/websocket.py accept: `if self._state == _ACCEPTED: return` (mutant W11
    # returned in every state): accepting a closed websocket is an error, not a no-op.
    app = Microframework(__name__)
    errors: list[str] = []

    @app.websocket("/ws")
    async def handle() -> None:
        await websocket.accept()
        await websocket.accept()  # accepted already: nothing happens
        await websocket.close(1000)
        try:
            await websocket.accept()
        except RuntimeError as error:
            errors.append(str(error))

    receive, send, sent = _server({"type": "websocket.connect"})
    async with asyncio.timeout(10):
        await app(websocket_scope("/ws"), receive, send)
    assert errors == ["cannot accept a websocket that is already closed"]
    assert [m["type"] for m in sent] == ["websocket.accept", "websocket.close"]


async def test_a_peer_gone_before_the_accept_closes_the_websocket() -> None:
    # wrappers/websocket.py accept: `except OSError: self._peer_gone(1006, None)`
    # (mutant W14 made it `pass`): a server whose accept send raises OSError (uvicorn,
    # the peer gone) leaves the websocket closed with 1006, not accepted and open.
    app = Microframework(__name__)
    seen: list[Any] = []

    @app.websocket("/ws")
    async def handle() -> None:
        try:
            await websocket.accept()
        except WebsocketDisconnect as error:
            seen.append(error.code)
        seen.extend([websocket.closed, websocket.close_code])

    receive, _, _ = _server({"type": "websocket.connect"})

    async def send(message: Message) -> None:
        raise OSError("the peer has gone")

    async with asyncio.timeout(10):
        await app(websocket_scope("/ws"), receive, send)
    assert seen == [1006, True, 1006]


async def _queued_disconnect(message: dict[str, Any], queued: bool = True) -> list[Any]:
    # A handler that yields after accepting (so the reader task reads for it), or not
    # (it reads straight from the server), and then receives the disconnect *message*:
    # what it learns of it.
    app = Microframework(__name__)
    seen: list[Any] = []

    @app.websocket("/ws")
    async def handle() -> None:
        await websocket.accept()
        if queued:
            await asyncio.sleep(0)  # one loop turn: the reader task starts
        try:
            await websocket.receive()
        except WebsocketDisconnect as error:
            seen.extend([error.code, error.reason])
        seen.extend([websocket.close_code, websocket.close_reason])

    receive, send, _ = _server({"type": "websocket.connect"}, message)
    async with asyncio.timeout(10):
        await app(websocket_scope("/ws"), receive, send)
    return seen


async def test_a_disconnect_without_a_code_read_by_the_reader_task_is_1005() -> None:
    # wrappers/websocket.py _read: `message.get("code", 1005)` (mutant W29: 1000): ASGI's
    # default close code, "no status received", also when the reader task reads it.
    seen = await _queued_disconnect({"type": "websocket.disconnect"})
    assert seen[0] == 1005
    assert seen[2] == 1005


async def test_the_reader_task_keeps_the_peers_close_reason() -> None:
    # wrappers/websocket.py _read: `message.get("reason")` (mutant W30 dropped it): the
    # peer's close reason reaches WebsocketDisconnect and websocket.close_reason.
    seen = await _queued_disconnect(
        {"type": "websocket.disconnect", "code": 4001, "reason": "bye"}
    )
    assert seen == [4001, "bye", 4001, "bye"]


async def test_two_ends_of_a_blocked_handler_cancel_it_once() -> None:
    # wrappers/websocket.py _end_handler: `and not self.cancelled_by_disconnect` (mutant
    # W41 dropped it): the handler is cancelled once however many ends come (a drain
    # deadline and the peer leaving); the dispatcher takes back one cancel, and a second
    # would escape as the server's own cancellation.
    app = Microframework(__name__)
    sockets: list[Websocket] = []
    blocked = asyncio.Event()

    @app.websocket("/ws")
    async def handle() -> None:
        await websocket.accept()
        sockets.append(websocket._get_current_object())  # type: ignore[attr-defined]
        blocked.set()
        await asyncio.get_running_loop().create_future()  # blocked elsewhere

    receive, send, sent = _server({"type": "websocket.connect"})
    serving = asyncio.ensure_future(app(websocket_scope("/ws"), receive, send))
    async with asyncio.timeout(10):
        await blocked.wait()
        sockets[0].on_drain_deadline()
        sockets[0].on_drain_deadline()
        await serving  # ended by the peer-like cancel, not cancelled itself
    assert not serving.cancelled()
    assert sent[0]["type"] == "websocket.accept"


async def test_a_too_big_message_read_by_the_reader_task_ends_a_waiting_receive() -> (
    None
):
    # wrappers/websocket.py _close_for_size: the closing `self._wake_receivers()` (mutant
    # W45 made it `pass`): a handler waiting in receive() while the reader task reads a
    # message over WEBSOCKET_MAX_MESSAGE_SIZE gets WebsocketDisconnect(1009); it is
    # not cancelled (it is receiving), so without the wake it would wait for ever.
    app = Microframework(__name__)
    app.config["WEBSOCKET_MAX_MESSAGE_SIZE"] = 10
    seen: list[Any] = []

    @app.websocket("/ws")
    async def handle() -> None:
        await websocket.accept()
        await asyncio.sleep(0)  # one loop turn: the reader task starts
        try:
            await websocket.receive()
        except WebsocketDisconnect as error:
            seen.append(error.code)

    receive, send, sent = _server(
        {"type": "websocket.connect"}, {"type": "websocket.receive", "text": "x" * 11}
    )
    async with asyncio.timeout(10):
        await app(websocket_scope("/ws"), receive, send)
    assert seen == [1009]
    assert sent[-1] == {
        "type": "websocket.close",
        "code": 1009,
        "reason": "message too big",
    }


async def test_a_disconnect_without_a_code_read_directly_is_1005() -> None:
    # wrappers/websocket.py receive: `message.get("code", 1005)` on the direct path
    # (mutant W57: 1000): ASGI's default close code when the handler's own receive()
    # reads the disconnect straight from the server.
    seen = await _queued_disconnect({"type": "websocket.disconnect"}, queued=False)
    assert seen == [1005, "", 1005, None]


async def test_a_close_is_a_finished_send_for_the_stall_sweep() -> None:
    # wrappers/websocket.py _send_counted: `self._sends_done += 1` (mutant W76 made it
    # `pass`): close()'s send, once done, is no pending send; else the stall sweep would
    # later end the handler (still cleaning up) as "send timed out", code 1006.
    app = Microframework(__name__)
    seen: list[Any] = []

    @app.websocket("/ws")
    async def handle() -> None:
        await websocket.accept()
        await websocket.close(1000)
        ws = websocket._get_current_object()  # type: ignore[attr-defined]
        ws._check_send(0.0)  # two sweeps a long time apart
        ws._check_send(1e9)
        seen.extend([websocket.close_code, websocket.close_reason])

    receive, send, _ = _server({"type": "websocket.connect"})
    async with asyncio.timeout(10):
        await app(websocket_scope("/ws"), receive, send)
    assert seen == [1000, ""]


async def test_three_tasks_receiving_straight_from_the_server_all_get_a_message() -> (
    None
):
    # wrappers/websocket.py _after_direct_read: `if self._direct_done is None` (mutant
    # W60 made a new future each time): tasks waiting for the one direct read under way
    # share one future; a second one replacing it would leave the first waiter waiting
    # for ever.
    app = Microframework(__name__)
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    inbox.put_nowait({"type": "websocket.connect"})
    got: list[Any] = []
    spawned = asyncio.Event()

    async def receive() -> Message:
        return await inbox.get()

    async def send(message: Message) -> None:
        pass

    @app.websocket("/ws")
    async def handle() -> None:
        await websocket.accept()
        first = await websocket.receive()  # waits: the accept's look finds it reading
        tasks = [asyncio.ensure_future(websocket.receive()) for _ in range(3)]
        spawned.set()
        got.extend([first, *await asyncio.gather(*tasks)])

    serving = asyncio.ensure_future(app(websocket_scope("/ws"), receive, send))
    async with asyncio.timeout(5):
        for _ in range(5):
            await asyncio.sleep(0)
        inbox.put_nowait({"type": "websocket.receive", "text": "a"})
        await spawned.wait()
        for text in "bcd":
            for _ in range(5):  # the tasks run to their waits
                await asyncio.sleep(0)
            inbox.put_nowait({"type": "websocket.receive", "text": text})
        inbox.put_nowait({"type": "websocket.disconnect", "code": 1000})
        await serving
    assert got[0] == "a"
    assert sorted(got[1:]) == ["b", "c", "d"]


class _TaggingJSON(DefaultJSONProvider):
    # An app's own JSON provider: loads marks what it parsed, dumps sorts nothing out.
    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return {"parsed by": "app", "value": super().loads(s, **kwargs)}

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        return "app:" + super().dumps(obj, **kwargs)


async def test_websocket_json_goes_through_the_apps_json_provider() -> None:
    # wrappers/websocket.py receive_json: `self._app.json.loads` (mutant W65 used the
    # stdlib's) and send_json: `self._app.json.dumps` (mutant W84): both use the app's
    # provider, as request.get_json and jsonify do.
    app = Microframework(__name__)
    app.json = _TaggingJSON(app)
    seen: list[Any] = []

    @app.websocket("/ws")
    async def handle() -> None:
        seen.append(await websocket.receive_json())
        await websocket.send_json({"a": 1})

    receive, send, sent = _server(
        {"type": "websocket.connect"}, {"type": "websocket.receive", "text": "[1]"}
    )
    async with asyncio.timeout(10):
        await app(websocket_scope("/ws"), receive, send)
    assert seen == [{"parsed by": "app", "value": [1]}]
    assert sent[1] == {"type": "websocket.send", "text": 'app:{"a": 1}'}


async def test_a_send_failing_with_oserror_closes_the_websocket_with_1006() -> None:
    # wrappers/websocket.py send: `except OSError: self._peer_gone(1006, None)` (mutant
    # W71 made it `pass`): the ASGI server's "peer gone" from send() leaves the websocket
    # closed with 1006, so a later send raises at once instead of trying again.
    app = Microframework(__name__)
    seen: list[Any] = []
    sent: list[Message] = []

    @app.websocket("/ws")
    async def handle() -> None:
        await websocket.accept()
        try:
            await websocket.send("lost")
        except WebsocketDisconnect as error:
            seen.append(error.code)
        seen.extend([websocket.closed, websocket.close_code])

    receive, _, _ = _server({"type": "websocket.connect"})

    async def send(message: Message) -> None:
        if message["type"] == "websocket.send":
            raise OSError("the peer has gone")
        sent.append(message)

    async with asyncio.timeout(10):
        await app(websocket_scope("/ws"), receive, send)
    assert seen == [1006, True, 1006]
    assert [m["type"] for m in sent] == ["websocket.accept"]


async def test_send_json_of_several_arguments_sends_a_list() -> None:
    # wrappers/websocket.py send_json: `args[0] if len(args) == 1` (mutant W83: `>= 1`):
    # several positional arguments are sent as a JSON list, as jsonify(1, 2) makes one.
    app = Microframework(__name__)

    @app.websocket("/ws")
    async def handle() -> None:
        await websocket.send_json(1, 2)
        await websocket.send_json(3)
        await websocket.send_json(a=4)

    receive, send, sent = _server({"type": "websocket.connect"})
    async with asyncio.timeout(10):
        await app(websocket_scope("/ws"), receive, send)
    assert [m.get("text") for m in sent[1:4]] == ["[1, 2]", "3", '{"a": 4}']


async def test_a_body_read_to_its_end_by_iteration_leaves_no_body_deadline() -> None:
    # wrappers/request.py _iter_body: `finally: self.body_deadline = None` (mutant R13
    # made it `pass`): once `async for` has read the body, RESPONSE_TIMEOUT answers a
    # view that then waits (504), not the body's far deadline (BODY_TIMEOUT) it would
    # otherwise be put off to.
    app = Microframework(__name__)
    app.config["BODY_TIMEOUT"] = 30
    app.config["RESPONSE_TIMEOUT"] = 0.02
    chunks: list[bytes] = []

    @app.post("/")
    async def index() -> str:
        async for chunk in request.body:
            chunks.append(chunk)
        await asyncio.get_running_loop().create_future()  # waits past RESPONSE_TIMEOUT
        return "never"

    recorder = Recorder(b"ab", b"cd")
    async with asyncio.timeout(5):
        await call(app, http_scope("/", method="POST"), recorder)
    assert chunks == [b"ab", b"cd"]
    assert recorder.status == 504


async def test_a_content_length_equal_to_max_content_length_is_accepted() -> None:
    # wrappers/request.py _start_body: `declared > limit` (mutant R18: `>=`): a body
    # of exactly MAX_CONTENT_LENGTH bytes is allowed, as werkzeug's check is; one byte
    # more is a 413.
    app = Microframework(__name__)
    app.config["MAX_CONTENT_LENGTH"] = 4

    @app.post("/")
    async def index() -> bytes:
        return await request.get_data()

    client = app.test_client()
    response = await client.post("/", data=b"abcd")
    assert response.status_code == 200
    assert await response.get_data() == b"abcd"
    response = await client.post("/", data=b"abcde")
    assert response.status_code == 413


async def _no_body() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


async def test_an_unframed_http_1_0_request_has_no_body_to_wait_for() -> None:
    # wrappers/request.py body_finished: `http_version.startswith("1")` (mutant R53:
    # `== "1.1"`): without Content-Length or Transfer-Encoding an HTTP/1.0 request has
    # no body either (RFC 9112 6.3), so nothing is left to read or drop.
    scope = http_scope("/", method="POST", http_version="1.0")
    assert Request(scope, _no_body).body_finished()


async def test_an_unframed_http_2_get_has_no_body_to_wait_for() -> None:
    # wrappers/request.py body_finished: `or self.method in _BODILESS_METHODS` (mutant
    # R54 dropped it): HTTP/2 frames bodies itself, so an unframed POST may still have
    # one, but a GET (or HEAD, OPTIONS, TRACE) is taken to have none.
    for method, finished in [("GET", True), ("HEAD", True), ("POST", False)]:
        scope = http_scope("/", method=method, http_version="2")
        assert Request(scope, _no_body).body_finished() is finished, method


async def test_a_dropped_body_is_finished() -> None:
    # wrappers/request.py body_finished: `if self.body_done or self._dropped` (mutant R50
    # dropped `_dropped`): once drop_body hands the rest to a dropper, no more body
    # messages are the request's, even before the dropper read them.
    scope = http_scope("/", method="POST", headers=[(b"content-length", b"4")])
    request = Request(scope, _no_body)
    assert not request.body_finished()
    request.drop_body(Dropper())
    assert request.body_finished()


async def test_a_read_after_the_body_was_dropped_hears_the_client_gone() -> None:
    # wrappers/request.py drop_body: `self.asgi_receive = _gone` (mutant R60 made it
    # `pass`): once the rest of the body is the dropper's, a read that starts later is
    # told the client is gone (ClientDisconnected), not given the server's receive().
    async def receive() -> Message:
        return {"type": "http.request", "body": b"abcd", "more_body": False}

    scope = http_scope("/", method="POST", headers=[(b"content-length", b"4")])
    request = Request(scope, receive)
    request.drop_body(Dropper())
    with pytest.raises(ClientDisconnected):
        await request.get_data()


async def test_a_push_promise_without_a_send_is_a_no_op() -> None:
    # wrappers/request.py send_push_promise: `or self.asgi_send is None` (mutant R63
    # dropped it): a request with no ASGI send (test_request_context's) asks nothing,
    # even when the scope offers the push extension.
    scope = http_scope("/", extensions={"http.response.push": {}})
    request = Request(scope, _no_body)
    assert request.asgi_send is None
    await request.send_push_promise("/style.css")


async def test_a_413_from_get_data_lets_the_last_send_drop_the_rest() -> None:
    # wrappers/request.py get_data: `except BaseException: self.drop_at_end()` (mutant
    # R71 made it `pass`): a read cut short by the limit leaves the rest unread, so the
    # response's last send is wrapped to drop it (DropBeforeEnd), as _iter_body's is.
    async def receive() -> Message:
        return {"type": "http.request", "body": b"abcde", "more_body": True}

    async def send(message: Message) -> None:
        pass

    request = Request(http_scope("/", method="POST"), receive)
    request.asgi_send = send
    request.max_content_length = 4
    with pytest.raises(RequestEntityTooLarge):
        await request.get_data()
    assert isinstance(request.asgi_send, DropBeforeEnd)


async def test_two_tasks_reading_the_body_at_once_both_get_it() -> None:
    # wrappers/request.py get_data: `if self._whole is not _READING: self._shared(data)`
    # (mutant R73 inverted it): a second task's get_data() while the first reads waits
    # on a shared future, which the first resolves with the body.
    inbox: asyncio.Queue[Message] = asyncio.Queue()

    async def receive() -> Message:
        return await inbox.get()

    request = Request(http_scope("/", method="POST"), receive)
    first = asyncio.ensure_future(request.get_data())
    second = asyncio.ensure_future(request.get_data())
    for message in [
        {"type": "http.request", "body": b"ab", "more_body": True},
        {"type": "http.request", "body": b"cd", "more_body": False},
    ]:
        for _ in range(3):  # loop turns: both tasks reach their waits
            await asyncio.sleep(0)
        inbox.put_nowait(message)
    async with asyncio.timeout(5):
        assert list(await asyncio.gather(first, second)) == [b"abcd", b"abcd"]


async def test_the_form_is_parsed_once() -> None:
    # wrappers/request.py _load_form_data: `if self._form is not None: return` (mutant
    # R86 parsed again): a second `await request.form` gives the same fields, not the
    # empty form of a body already read.
    app = Microframework(__name__)

    @app.post("/")
    async def index() -> Any:
        first = await request.form
        second = await request.form
        return {"first": first.to_dict(), "same": first is second}

    response = await app.test_client().post("/", form={"a": "1"})
    assert await response.get_json() == {"first": {"a": "1"}, "same": True}


async def test_values_of_a_get_are_its_args_only() -> None:
    # wrappers/request.py _get_values: `if self.method == "GET"` (mutant R90 made it
    # False): a GET's values leave out any form body, as werkzeug's do.
    app = Microframework(__name__)

    @app.route("/", methods=["GET", "POST"])
    async def index() -> Any:
        return (await request.values).to_dict()

    client = app.test_client()
    response = await client.get(
        "/?q=1",
        data="a=2",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert await response.get_json() == {"q": "1"}
    response = await client.post("/?q=1", form={"a": "2"})
    assert await response.get_json() == {"q": "1", "a": "2"}


async def test_a_form_over_its_limit_lets_the_last_send_drop_the_rest() -> None:
    # wrappers/request.py _load_form_data: `except BaseException: self.drop_at_end()`
    # (mutant R89 made it `pass`): a form refused over MAX_FORM_MEMORY_SIZE leaves the
    # rest unread, so the response's last send is wrapped to drop it.
    async def receive() -> Message:
        return {"type": "http.request", "body": b"a=" + b"x" * 20, "more_body": True}

    async def send(message: Message) -> None:
        pass

    headers = [(b"content-type", b"application/x-www-form-urlencoded")]
    request = Request(http_scope("/", method="POST", headers=headers), receive)
    request.asgi_send = send
    request.max_form_memory_size = 10
    with pytest.raises(RequestEntityTooLarge):
        await request.form
    assert isinstance(request.asgi_send, DropBeforeEnd)


async def test_trapped_bad_request_key_errors_show_the_key() -> None:
    # _errors.py handle_user_exception: `app.debug or app.config["TRAP_BAD_REQUEST_ERRORS"]`
    # (mutant E17 kept only app.debug): with TRAP_BAD_REQUEST_ERRORS on, a missing key's
    # BadRequestKeyError names the key (show_exception), as in Flask, debug or not.
    app = Microframework(__name__)
    app.config["TRAP_BAD_REQUEST_ERRORS"] = True

    @app.errorhandler(BadRequestKeyError)
    def show(error: BadRequestKeyError) -> Any:
        return {"show": error.show_exception}, 400

    @app.get("/")
    async def index() -> str:
        return request.args["missing"]

    response = await app.test_client().get("/")
    assert response.status_code == 400
    assert await response.get_json() == {"show": True}


async def test_debug_mode_with_propagation_off_uses_the_500_handler() -> None:
    # _errors.py handle_exception: `app.config["PROPAGATE_EXCEPTIONS"] is None and
    # app.debug ...` (mutant E25 dropped the first test): the debug traceback page stands
    # in for propagation only when PROPAGATE_EXCEPTIONS is unset; set to False, an
    # unhandled error goes to the 500 handler, as in Flask.
    app = Microframework(__name__)
    app.debug = True
    app.config["PROPAGATE_EXCEPTIONS"] = False

    @app.errorhandler(500)
    def handled(error: Exception) -> Any:
        return "handled", 500

    @app.get("/")
    async def index() -> str:
        raise RuntimeError("boom")

    response = await app.test_client().get("/")
    assert response.status_code == 500
    assert await response.get_data() == b"handled"


async def test_a_failed_startup_closes_the_while_serving_generators_started() -> None:
    # _lifespan.py startup: `while app.serving_generators: ... aclose()` (mutant L1 made
    # it `while False`): when a later startup step fails, the while_serving generators
    # already past their yield are closed now (no shutdown will follow).
    app = Microframework(__name__)
    seen: list[str] = []

    @app.while_serving
    async def first() -> AsyncGenerator[None, None]:
        seen.append("first up")
        try:
            yield
        finally:
            seen.append("first closed")

    @app.while_serving
    async def second() -> AsyncGenerator[None, None]:
        if app.config["TESTING"] is not None:
            raise RuntimeError("cannot start")
        yield

    with pytest.raises(RuntimeError, match="cannot start"):
        await app.startup()
    assert seen == ["first up", "first closed"]
    assert app.serving_generators == []


async def test_a_failed_startup_finishes_the_background_tasks_it_started() -> None:
    # _lifespan.py startup: `await finish_background_tasks(app)` on failure (mutant L5
    # made it `pass`): a task a before_serving function started is finished before the
    # failure is raised, as at shutdown: nothing outlives the failed serving period.
    app = Microframework(__name__)
    seen: list[str] = []

    async def task() -> None:
        seen.append("task ran")

    @app.before_serving
    async def starts_a_task() -> None:
        _ = app.add_background_task(task)

    @app.before_serving
    async def fails() -> None:
        raise RuntimeError("cannot start")

    with pytest.raises(RuntimeError, match="cannot start"):
        await app.startup()
    assert seen == ["task ran"]
    assert not app.background_tasks


async def test_a_while_serving_generator_without_a_yield_fails_startup() -> None:
    # _lifespan.py _started: `raise RuntimeError(... ended without a yield)` (mutant L19
    # returned the generator): one that ends before its yield is a mistake, named.
    app = Microframework(__name__)

    @app.while_serving
    async def no_yield() -> AsyncGenerator[None, None]:
        if app.config["TESTING"] is not None:
            return
        yield

    with pytest.raises(RuntimeError, match="no_yield ended without a yield"):
        await app.startup()


async def test_shutdown_finishes_background_tasks_before_after_serving() -> None:
    # _lifespan.py _stop: the first `await finish_background_tasks(app)` (mutant L22 made
    # it `pass`): tasks still running at shutdown end before after_serving runs (it may
    # close what they use, a pool); only those after_serving starts are finished after.
    app = Microframework(__name__)
    seen: list[str] = []

    async def task() -> None:
        for _ in range(3):
            await asyncio.sleep(0)  # loop turns: still running at shutdown
        seen.append("task done")

    @app.after_serving
    async def closing() -> None:
        seen.append("after_serving")

    await app.startup()
    async with app.app_context():
        _ = app.add_background_task(task)
    await app.shutdown()
    assert seen == ["task done", "after_serving"]


async def test_teardown_appcontext_at_shutdown_gets_the_first_error() -> None:
    # _lifespan.py _stop: `ctx.pop(errors[0]) if errors else ctx.pop()` (mutant L26:
    # `ctx.pop()`): the app context around after_serving tears down with the first
    # shutdown error, as startup's does with its failure.
    app = Microframework(__name__)
    seen: list[BaseException | None] = []
    failure = RuntimeError("cannot stop")

    @app.after_serving
    async def fails() -> None:
        raise failure

    @app.teardown_appcontext
    def teardown(error: BaseException | None) -> None:
        seen.append(error)

    await app.startup()
    seen.clear()  # startup's own app context tore down with None
    with pytest.raises(RuntimeError, match="cannot stop"):
        await app.shutdown()
    assert seen == [failure]


async def test_the_lifespan_state_is_the_apps_state_while_serving() -> None:
    # _lifespan.py handle_lifespan: `app.startup(scope.get("state"))` (mutant L31 passed
    # None): the server's lifespan state becomes app.state (with the app's keys), so a
    # server copying it into each request's scope gives requests what startup stored.
    app = Microframework(__name__)
    state: dict[str, Any] = {"server": "key"}
    seen: list[Any] = []

    @app.before_serving
    async def store() -> None:
        app.state["pool"] = "ready"

    messages = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])

    async def receive() -> Message:
        if seen == []:
            seen.append(None)  # the first call: startup
        else:
            seen.append((app.state is state, dict(state)))
        return next(messages)

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    await app({"type": "lifespan", "state": state}, receive, send)
    assert [m["type"] for m in sent] == [
        "lifespan.startup.complete",
        "lifespan.shutdown.complete",
    ]
    assert seen[1] == (True, {"server": "key", "pool": "ready"})


async def test_a_body_message_without_more_body_is_the_last() -> None:
    # wrappers/request.py _next_chunk: `message.get("more_body", False)` (mutant R28:
    # default True): ASGI's more_body is optional and defaults to False, so a message
    # without it ends the body (else the read would wait for more for ever).
    app = Microframework(__name__)

    @app.post("/")
    async def index() -> bytes:
        return await request.get_data()

    async def receive() -> Message:
        return {"type": "http.request", "body": b"abc"}

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    async with asyncio.timeout(5):
        await app(http_scope("/", method="POST"), receive, send)
    assert sent[0]["status"] == 200
    assert b"".join(m.get("body", b"") for m in sent[1:]) == b"abc"


async def test_a_failed_startup_sets_the_shutdown_event() -> None:
    # _lifespan.py startup: `app.shutdown_event.set()` on failure (mutant L4 made it
    # `pass`): no shutdown follows a failed startup, so whatever waits for the event (a
    # while_serving loop, a background task) is told now.
    app = Microframework(__name__)

    @app.before_serving
    async def fails() -> None:
        raise RuntimeError("cannot start")

    with pytest.raises(RuntimeError, match="cannot start"):
        await app.startup()
    assert app.shutdown_event.is_set()


async def test_a_coroutine_given_as_while_serving_is_closed_when_refused() -> None:
    # _lifespan.py _started: `getattr(gen, "close", lambda: None)()` (mutant L18 made it
    # `pass`): a plain async def given to while_serving is refused with a TypeError, its
    # coroutine closed, not left to warn "was never awaited".
    app = Microframework(__name__)

    @app.while_serving  # type: ignore[type-var]
    async def not_a_generator() -> None:
        pass

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(TypeError, match="must be an async generator"):
            await app.startup()
        gc.collect()
    assert [str(w.message) for w in caught if "never awaited" in str(w.message)] == []


async def test_a_websocket_handlers_error_is_a_websocket_exception() -> None:
    # _errors.py handle_exception: `is_websocket = ctx is not None and ctx.websocket is
    # not None` (mutant E22: False): an unhandled error in a websocket handler is sent as
    # got_websocket_exception, not got_request_exception.
    app = Microframework(__name__)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    seen: list[str] = []

    def on_websocket(sender: Any, **extra: Any) -> None:
        seen.append("websocket")

    def on_request(sender: Any, **extra: Any) -> None:
        seen.append("request")

    @app.websocket("/ws")
    async def handle() -> None:
        raise RuntimeError("boom")

    receive, send, _ = _server({"type": "websocket.connect"})
    with got_websocket_exception.connected_to(on_websocket, app):
        with got_request_exception.connected_to(on_request, app):
            async with asyncio.timeout(10):
                await app(websocket_scope("/ws"), receive, send)
    assert seen == ["websocket"]


async def test_a_chunked_body_of_exactly_max_content_length_is_accepted() -> None:
    # wrappers/request.py _next_chunk: `self._received > limit` (mutant R30: `>=`): with
    # no Content-Length, a body that reaches MAX_CONTENT_LENGTH exactly is allowed; one
    # byte more is a 413.
    app = Microframework(__name__)
    app.config["MAX_CONTENT_LENGTH"] = 4

    @app.post("/")
    async def index() -> bytes:
        return await request.get_data()

    recorder = await call(app, http_scope("/", method="POST"), Recorder(b"ab", b"cd"))
    assert recorder.status == 200
    assert recorder.body == b"abcd"
    recorder = await call(app, http_scope("/", method="POST"), Recorder(b"ab", b"cde"))
    assert recorder.status == 413


async def test_a_413_while_iterating_the_body_lets_the_last_send_drop_the_rest() -> (
    None
):
    # wrappers/request.py _iter_body: `except BaseException: self.drop_at_end()` (mutant
    # R12 made it `pass`): `async for` cut short by the limit leaves the rest unread.
    async def receive() -> Message:
        return {"type": "http.request", "body": b"abcde", "more_body": True}

    async def send(message: Message) -> None:
        pass

    request = Request(http_scope("/", method="POST"), receive)
    request.asgi_send = send
    request.max_content_length = 4
    with pytest.raises(RequestEntityTooLarge):
        async for _ in request.body:
            pass
    assert isinstance(request.asgi_send, DropBeforeEnd)


async def test_a_body_iteration_closed_early_lets_the_last_send_drop_the_rest() -> None:
    # wrappers/request.py _iter_body: `except GeneratorExit: ... self.drop_at_end()`
    # (mutant R10 made it `pass`): an iteration closed before the body's end leaves the
    # rest unread and the body abandoned.
    async def receive() -> Message:
        return {"type": "http.request", "body": b"ab", "more_body": True}

    async def send(message: Message) -> None:
        pass

    request = Request(http_scope("/", method="POST"), receive)
    request.asgi_send = send
    chunks = request.body.__aiter__()
    assert await anext(chunks) == b"ab"
    await chunks.aclose()  # type: ignore[attr-defined]
    assert request.body_abandoned
    assert isinstance(request.asgi_send, DropBeforeEnd)


async def test_a_body_iterated_once_cannot_be_iterated_again() -> None:
    # wrappers/request.py _start_body: `if self._body_started: raise RuntimeError`
    # (mutant R14 skipped it): a streamed (uncached) body is gone once read; a second
    # read is an error, not a wait for messages that will never come.
    messages = [
        {"type": "http.request", "body": b"ab", "more_body": True},
        {"type": "http.request", "body": b"cd", "more_body": False},
    ]

    async def receive() -> Message:
        return messages.pop(0)

    request = Request(http_scope("/", method="POST"), receive)
    assert [chunk async for chunk in request.body] == [b"ab", b"cd"]
    with pytest.raises(RuntimeError, match="already been consumed"):
        async for _ in request.body:
            pass


async def test_a_push_promise_repeats_only_the_content_negotiation_headers() -> None:
    # wrappers/request.py send_push_promise: `if name in _PUSHED_HEADERS` (mutant R64
    # kept all): a pushed request repeats accept*, cache-control and user-agent, not the
    # host, cookies or authorization of the original.
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    headers = [
        (b"accept", b"text/css"),
        (b"cookie", b"session=secret"),
        (b"authorization", b"Bearer x"),
        (b"user-agent", b"test"),
    ]
    scope = http_scope("/", headers=headers, extensions={"http.response.push": {}})
    request = Request(scope, _no_body)
    request.asgi_send = send
    await request.send_push_promise("/style.css")
    assert sent == [
        {
            "type": "http.response.push",
            "path": "/style.css",
            "headers": [(b"accept", b"text/css"), (b"user-agent", b"test")],
        }
    ]


async def test_get_data_with_parse_form_data_leaves_the_body_to_the_form() -> None:
    # wrappers/request.py get_data: `if parse_form_data: await self._load_form_data()`
    # (mutant R69 skipped it): as werkzeug's, the form is parsed first and takes the body,
    # so get_data gives b"" and the fields are in request.form.
    app = Microframework(__name__)

    @app.post("/")
    async def index() -> Any:
        data = await request.get_data(parse_form_data=True)
        return {"data": data.decode(), "form": (await request.form).to_dict()}

    response = await app.test_client().post("/", form={"a": "1"})
    assert await response.get_json() == {"data": "", "form": {"a": "1"}}


async def test_a_task_sharing_a_body_read_that_fails_gets_the_same_error() -> None:
    # wrappers/request.py _shared: `outcome if isinstance(outcome, Exception) else
    # cancelled` (mutant R78 always gave the RuntimeError): a second task waiting on the
    # first's get_data() gets the first's error (a 413), which the app answers as such.
    inbox: asyncio.Queue[Message] = asyncio.Queue()

    async def receive() -> Message:
        return await inbox.get()

    request = Request(http_scope("/", method="POST"), receive)
    request.max_content_length = 4
    first = asyncio.ensure_future(request.get_data())
    second = asyncio.ensure_future(request.get_data())
    for _ in range(3):  # loop turns: both tasks reach their waits
        await asyncio.sleep(0)
    inbox.put_nowait({"type": "http.request", "body": b"abcde", "more_body": True})
    async with asyncio.timeout(5):
        results = await asyncio.gather(first, second, return_exceptions=True)
    assert [type(result) for result in results] == [RequestEntityTooLarge] * 2


async def test_the_form_of_a_body_read_as_data_is_parsed_from_the_cache() -> None:
    # wrappers/request.py _load_form_data: `if self._data is None and ...` (mutant R88
    # dropped the first test): a body already read (and cached) by get_data() still
    # gives its form, as in Flask.
    app = Microframework(__name__)

    @app.post("/")
    async def index() -> Any:
        data = await request.get_data()
        return {"data": data.decode(), "form": (await request.form).to_dict()}

    response = await app.test_client().post("/", form={"a": "1"})
    assert await response.get_json() == {"data": "a=1", "form": {"a": "1"}}


async def test_a_request_without_an_app_has_the_documented_form_limits() -> None:
    # wrappers/request.py: `self._config("MAX_FORM_MEMORY_SIZE", 500_000)` (mutant R5:
    # None) and `self._config("MAX_FORM_PARTS", 1000)` (mutant R6: None): without an
    # app's config a Request has config.py's (and werkzeug's) default form limits.
    request = Request(http_scope("/", method="POST"), _no_body)
    config = Microframework(__name__).config
    assert request.max_form_memory_size == config["MAX_FORM_MEMORY_SIZE"] == 500_000
    assert request.max_form_parts == config["MAX_FORM_PARTS"] == 1000


async def test_body_framing_headers_decide_whether_a_body_is_coming() -> None:
    # wrappers/request.py _framed: `name == b"transfer-encoding" or (...)` (mutant R55
    # dropped it) and `value != b"0"` (mutant R56 dropped it): a chunked HTTP/1.1 request
    # has a body to come; one with Content-Length: 0 has none.
    chunked = [(b"transfer-encoding", b"chunked")]
    scope = http_scope("/", method="POST", headers=chunked)
    assert not Request(scope, _no_body).body_finished()
    empty = [(b"content-length", b"0")]
    scope = http_scope("/", method="POST", headers=empty)
    assert Request(scope, _no_body).body_finished()


async def test_the_body_file_of_a_streamed_body_is_empty() -> None:
    # wrappers/request.py get_body_file: `self._body_started and not
    # self.body_reading()` (mutant R65 dropped it): once the body was streamed (not
    # cached), the body file is empty, not a second read ("already consumed").
    messages = [{"type": "http.request", "body": b"ab", "more_body": False}]

    async def receive() -> Message:
        return messages.pop(0)

    request = Request(http_scope("/", method="POST"), receive)
    assert [chunk async for chunk in request.body] == [b"ab"]
    body_file = await request.get_body_file()
    assert body_file.read() == b""


async def test_a_cancelled_sharer_of_a_body_read_leaves_the_read_alone() -> None:
    # wrappers/request.py get_data: `await asyncio.shield(whole)` (mutant R75 awaited the
    # shared future itself): a second task waiting on the first's read that is cancelled
    # must not cancel the shared future, or the first's read fails setting its result.
    inbox: asyncio.Queue[Message] = asyncio.Queue()

    async def receive() -> Message:
        return await inbox.get()

    request = Request(http_scope("/", method="POST"), receive)
    first = asyncio.ensure_future(request.get_data())
    second = asyncio.ensure_future(request.get_data())
    for _ in range(3):  # loop turns: both tasks reach their waits
        await asyncio.sleep(0)
    second.cancel()
    inbox.put_nowait({"type": "http.request", "body": b"abcd", "more_body": False})
    async with asyncio.timeout(5):
        assert await first == b"abcd"
    assert second.cancelled()


async def test_get_data_as_text_replaces_invalid_utf_8() -> None:
    # wrappers/request.py get_data: `data.decode("utf-8", "replace")` (mutant R77:
    # strict): a client's invalid UTF-8 is replaced, not a UnicodeDecodeError (a 500),
    # as werkzeug's get_data(as_text=True).
    async def receive() -> Message:
        return {"type": "http.request", "body": b"a\xffb", "more_body": False}

    request = Request(http_scope("/", method="POST"), receive)
    assert await request.get_data(as_text=True) == "a\ufffdb"


async def test_the_body_file_is_rewound() -> None:
    # wrappers/request.py get_body_file: `body_file.seek(0)` (mutant R68 made it `pass`):
    # the file comes back at its start, ready to read.
    async def receive() -> Message:
        return {"type": "http.request", "body": b"abcd", "more_body": False}

    request = Request(http_scope("/", method="POST"), receive)
    try:
        assert (await request.get_body_file()).read() == b"abcd"
    finally:
        request.release()  # closes the spooled file


async def test_get_data_without_cache_keeps_nothing() -> None:
    # wrappers/request.py get_data: `if cache: self._data = data` (mutant R76 cached
    # always): get_data(cache=False) hands the body over; a later read finds it gone
    # (b""), as werkzeug's stream is.
    async def receive() -> Message:
        return {"type": "http.request", "body": b"abcd", "more_body": False}

    request = Request(http_scope("/", method="POST"), receive)
    assert await request.get_data(cache=False) == b"abcd"
    assert await request.get_data() == b""


async def test_the_debug_page_logs_the_error_too(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # _errors.py handle_exception: `app.log_exception(...)` before the debug page
    # (mutant E34 made it `pass`): in debug mode the traceback page is shown and the
    # error is logged, as a 500 is.
    app = Microframework(__name__)
    app.debug = True

    @app.get("/")
    async def index() -> str:
        raise RuntimeError("boom")

    response = await app.test_client().get("/")
    assert response.status_code == 500
    assert any(
        record.exc_info is not None and str(record.exc_info[1]) == "boom"
        for record in caplog.records
    )


async def test_a_failed_startup_is_logged_as_startup_failed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # _lifespan.py _report: `"%s failed", step.capitalize()` (mutant L9 dropped
    # capitalize): the log line reads "Startup failed", with the error's traceback.
    app = Microframework(__name__)

    @app.before_serving
    async def fails() -> None:
        raise RuntimeError("cannot start")

    with pytest.raises(RuntimeError):
        await app.startup()
    assert [r.getMessage() for r in caplog.records if r.exc_info] == ["Startup failed"]


async def test_a_testing_app_does_not_freeze_the_collector() -> None:
    # _lifespan.py _freezes_gc: `and not app.testing` (mutant L30 dropped it): under test
    # GC_FREEZE_ON_STARTUP is ignored, so objects of one test's app stay collectable.
    app = Microframework(__name__)
    app.config["GC_FREEZE_ON_STARTUP"] = True
    app.testing = True
    frozen = gc.get_freeze_count()
    await app.startup()
    try:
        assert gc.get_freeze_count() == frozen
    finally:
        await app.shutdown()
        if gc.get_freeze_count() != frozen:  # (a mutant's freeze must not outlive it)
            gc.unfreeze()
