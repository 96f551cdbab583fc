"""Pins from mutation testing (helper muts38, session 34): the first mutation run of
_drain.py, _background.py, middleware.py, testing/connections.py, wrappers/filebody.py,
blueprints.py and scaffold.py.

Each test kills a mutant that survived the related test files; its first comment names
the code it pins and the mutant id (see /tmp/s34/muts38/REPORT.md).
"""

from __future__ import annotations

import asyncio
import io
import os
import signal
from typing import Any
from typing import cast

import pytest
from asgi_harness import http_scope
from asgi_harness import websocket_scope

from microframework import abort
from microframework import Microframework
from microframework import request
from microframework import websocket
from microframework.exceptions import WebsocketDisconnect
from microframework.json.provider import DefaultJSONProvider
from microframework.testing.connections import Mailbox
from microframework.testing.connections import TestHTTPConnection
from microframework.testing.connections import TestWebsocketConnection
from microframework.typing import Message
from microframework.typing import Receive
from microframework.typing import Send
from microframework.wrappers.filebody import FileBody

LIMIT = 20


async def test_a_drain_at_the_servers_signal_sets_shutdown_event() -> None:
    # _drain.py Drain.start: `if self.on_start is not None: self.on_start()` (mutant D2
    # made it `if False`): the drain a signal starts sets app.shutdown_event at once, not
    # only at the lifespan shutdown (docs/lifespan.md).
    app = Microframework(__name__)
    async with asyncio.timeout(LIMIT):
        async with app.test_app():
            assert not app.shutdown_event.is_set()
            app.drain.start(60)
            assert app.shutdown_event.is_set()


async def test_a_websocket_served_after_a_serving_period_is_not_drained() -> None:
    # _drain.py Drain.end: `self.draining = self.expired = False` (mutant D18 reset only
    # expired): once a lifespan has ended, the same app served again without one (uvicorn
    # --lifespan off) is not still draining: its websockets are not closed with 1001.
    app = Microframework(__name__)

    @app.websocket("/ws")
    async def echo() -> None:
        await websocket.accept()
        await websocket.send(await websocket.receive())

    async with asyncio.timeout(LIMIT):
        async with app.test_app():
            pass
        async with app.test_client().websocket("/ws") as ws:
            await ws.send("hi")
            assert await ws.receive() == "hi"


def test_a_drain_at_the_servers_signal_gives_the_grace_period() -> None:
    # _drain.py _chained: `loop.call_soon_threadsafe(drain.start, grace)` (mutant D37
    # passed 0): the drain a server's SIGTERM starts arms its deadline
    # SHUTDOWN_GRACE_PERIOD seconds away, not at once.
    app = Microframework(__name__)
    app.config["SHUTDOWN_GRACE_PERIOD"] = 600

    def server_handler(signum: int, frame: Any) -> None:
        pass

    async def serve() -> None:
        async with asyncio.timeout(LIMIT):
            async with app.test_app():
                signal.raise_signal(signal.SIGTERM)
                await app.shutdown_event.wait()  # the drain began
                timer = app.drain._timer
                assert timer is not None
                assert timer.when() - asyncio.get_running_loop().time() > 300

    previous = signal.signal(signal.SIGTERM, server_handler)
    try:
        asyncio.run(serve())
    finally:
        signal.signal(signal.SIGTERM, previous)


async def test_a_shutdown_timeout_of_none_waits_for_the_tasks() -> None:
    # _background.py finish_background_tasks: `deadline = None if timeout is None else
    # ...` (mutant B25 dropped the None case): BACKGROUND_TASK_SHUTDOWN_TIMEOUT = None
    # waits for the tasks without a bound, as Quart's wait_for(timeout=None) does.
    app = Microframework(__name__)
    app.config["BACKGROUND_TASK_SHUTDOWN_TIMEOUT"] = None
    done: list[str] = []

    async def task() -> None:
        await app.shutdown_event.wait()
        for _ in range(5):  # still running as shutdown begins to wait
            await asyncio.sleep(0)
        done.append("task")

    async with asyncio.timeout(LIMIT):
        async with app.test_app():
            _ = app.add_background_task(task)
    assert done == ["task"]


async def test_a_mailbox_closed_drops_what_is_put_after() -> None:
    # testing/connections.py Mailbox.put: `if not self._closed:` (mutant C1 made it `if
    # True`): what is sent to a peer that has gone is dropped, as bytes sent after a
    # disconnect never reach the app: get() says "closed" (None), not the late item.
    box: Mailbox[bytes] = Mailbox()
    box.put(b"early")
    box.close()
    box.put(b"late")
    async with asyncio.timeout(LIMIT):
        assert await box.get() == b"early"
        assert await box.get() is None


async def test_a_client_leaving_after_its_whole_request_waits_for_the_answer() -> None:
    # testing/connections.py TestHTTPConnection._finish: `waiting = self._body_complete
    # and self.status_code is None` (mutant C20 made it False): a client that sent its
    # whole body and leaves the block before the answer started waits for it, as
    # Quart's does, instead of disconnecting.
    app = Microframework(__name__)

    @app.post("/")
    async def index() -> str:
        data = await request.get_data()
        for _ in range(5):  # the block ends meanwhile
            await asyncio.sleep(0)
        return data.decode()

    async with asyncio.timeout(LIMIT):
        async with app.test_client().request("/", method="POST") as connection:
            await connection.send_complete(b"whole")
        response = await connection.as_response()
    assert response.status_code == 200
    assert await response.get_data() == b"whole"


async def test_leaving_mid_response_says_the_block_cut_it_off() -> None:
    # testing/connections.py TestHTTPConnection._finish: `self._cut_off =
    # self.status_code is not None` (mutant C22 made it False): a response the end of
    # the block cut off says so, not that the app returned without completing it.
    app = Microframework(__name__)

    @app.get("/")
    async def index() -> Any:
        async def body() -> Any:
            yield b"first"
            await asyncio.Event().wait()

        return body()

    async with asyncio.timeout(LIMIT):
        async with app.test_client().request("/") as connection:
            assert await connection.receive() == b"first"
        with pytest.raises(RuntimeError, match="cut off where the 'async with' block"):
            await connection.as_response()


async def test_an_app_told_of_the_disconnect_gets_the_grace_to_end() -> None:
    # testing/connections.py TestHTTPConnection._finish: `grace=bool(self._listening or
    # self._told_disconnect)` (mutant C24 dropped _told_disconnect): an app that heard
    # the disconnect and is cleaning up, not listening, is waited for, not cancelled.
    log: list[str] = []
    heard = asyncio.Event()

    async def asgi(scope: Any, receive: Receive, send: Send) -> None:
        message: Message = await receive()
        while message["type"] != "http.disconnect":
            message = await receive()
        heard.set()
        for _ in range(5):  # its clean-up, as the block ends
            await asyncio.sleep(0)
        log.append("cleaned up")

    async with asyncio.timeout(LIMIT):
        connection = TestHTTPConnection(cast(Any, asgi), http_scope("/", "POST"))
        async with connection:
            await connection.send(b"part")
            await connection.disconnect()
            await heard.wait()
    assert log == ["cleaned up"]


async def test_as_response_refuses_a_response_the_app_left_unfinished() -> None:
    # testing/connections.py TestHTTPConnection.as_response: `... or not
    # self._response_complete` (mutant C31 dropped it): an app that returned after
    # a body part with more_body=True made no response: as_response() raises.
    async def asgi(scope: Any, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"part", "more_body": True})

    async with asyncio.timeout(LIMIT):
        async with TestHTTPConnection(cast(Any, asgi), http_scope("/")) as connection:
            with pytest.raises(RuntimeError, match="without completing the response"):
                await connection.as_response()


async def test_an_app_returning_no_response_is_not_called_a_disconnect() -> None:
    # testing/connections.py TestHTTPConnection._raise_for_outcome: `if self.status_code
    # is None and self._disconnected` (mutant C33 dropped the disconnect): an app that
    # returns without starting a response is told so, not that the client disconnected.
    async def asgi(scope: Any, receive: Receive, send: Send) -> None:
        pass

    async with asyncio.timeout(LIMIT):
        async with TestHTTPConnection(cast(Any, asgi), http_scope("/")) as connection:
            with pytest.raises(
                RuntimeError, match="without sending http.response.start"
            ):
                await connection.as_response()


def _framed_app(status: int, length: bytes, *parts: tuple[bytes, bool]) -> Any:
    async def asgi(scope: Any, receive: Receive, send: Send) -> None:
        headers = [(b"content-length", length)]
        await send(
            {"type": "http.response.start", "status": status, "headers": headers}
        )
        for body, more in parts:
            await send({"type": "http.response.body", "body": body, "more_body": more})

    return asgi


async def test_a_304_announcing_the_entitys_length_sends_no_body() -> None:
    # testing/connections.py TestHTTPConnection._asgi_send: `self.status_code not in
    # (204, 304)` (mutant C40 left out 304): a 304's Content-Length is the entity's,
    # as a HEAD response's is: its empty body is no mismatch.
    app = _framed_app(304, b"10", (b"", False))
    async with asyncio.timeout(LIMIT):
        async with TestHTTPConnection(app, http_scope("/")) as connection:
            assert await connection.receive() == b""  # complete, no body
    assert connection.status_code == 304


@pytest.mark.parametrize(
    "parts",
    [
        [(b"abc", True)],  # past the length, then the app returns
        [(b"a", False)],  # short of it, and done
    ],
)
async def test_a_body_not_matching_its_content_length_fails_the_app(
    parts: list[tuple[bytes, bool]],
) -> None:
    # testing/connections.py TestHTTPConnection._asgi_send: `if self._length_left < 0
    # or (self._length_left and not more)` (mutants C42 and C43 each dropped one
    # side): a body longer than its Content-Length fails as it is sent, one that ends
    # short fails at its end, as a server aborts either.
    app = _framed_app(200, b"2", *parts)
    async with asyncio.timeout(LIMIT):
        with pytest.raises(RuntimeError, match="does not match its Content-Length"):
            async with TestHTTPConnection(app, http_scope("/")) as connection:
                await connection.as_response()


async def test_a_push_promise_without_the_extension_fails_the_app() -> None:
    # testing/connections.py TestHTTPConnection._asgi_send: `kind ==
    # "http.response.push" and kind in (scope.get("extensions") or {})` (mutant C46
    # dropped the extension check): a server that did not offer the push extension
    # refuses the message, as any unknown one.
    async def asgi(scope: Any, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.push", "path": "/style.css", "headers": []})
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    async with asyncio.timeout(LIMIT):
        async with TestHTTPConnection(cast(Any, asgi), http_scope("/")) as connection:
            with pytest.raises(RuntimeError, match="not an http response message"):
                await connection.receive()


async def test_a_failing_block_keeps_its_error_over_a_late_refusal() -> None:
    # testing/connections.py TestWebsocketConnection._finish: `if self._pending and not
    # failed and ...` (mutant C55 dropped `not failed`): a block that raises keeps its
    # own error; the refusal the app sent after entering does not replace it.
    app = Microframework(__name__)
    release = asyncio.Event()
    refused = asyncio.Event()

    @app.websocket("/ws")
    async def ws() -> None:
        await release.wait()
        abort(403)

    @app.teardown_websocket
    async def teardown(error: BaseException | None) -> None:
        refused.set()

    connection = app.test_client().websocket("/ws")
    connection.handshake_wait = 0  # entered still handshaking
    async with asyncio.timeout(LIMIT):
        with pytest.raises(LookupError):
            async with connection:
                release.set()
                await refused.wait()
                raise LookupError("the test's own error")


async def test_sending_to_an_app_that_returned_without_closing_raises() -> None:
    # testing/connections.py TestWebsocketConnection.send: `if self.close_code is not
    # None or task.done()` (mutant C62 dropped task.done()): a message to an app that
    # has returned from an open session raises 1011 as receive() does, not dropped.
    async def asgi(scope: Any, receive: Receive, send: Send) -> None:
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})

    connection = TestWebsocketConnection(cast(Any, asgi), websocket_scope("/ws"))
    async with asyncio.timeout(LIMIT):
        async with connection:
            with pytest.raises(WebsocketDisconnect):
                await connection.receive()  # the app has returned
            with pytest.raises(WebsocketDisconnect) as raised:
                await connection.send("late")
    assert raised.value.code == 1011


async def test_receive_json_parses_with_the_apps_provider() -> None:
    # testing/connections.py TestWebsocketConnection.receive_json: `getattr(self.app.json,
    # "loads", _json.loads)(data)` (mutant C65 used json.loads): the app's JSON
    # provider parses what the app sent, as send_json encodes with it.
    class Marking(DefaultJSONProvider):
        def loads(self, s: str | bytes, **kwargs: Any) -> Any:
            return {"via": "provider", "data": super().loads(s, **kwargs)}

    app = Microframework(__name__)
    app.json = Marking(app)

    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.accept()
        await websocket.send("[1]")

    async with asyncio.timeout(LIMIT):
        async with app.test_client().websocket("/ws") as connection:
            assert await connection.receive_json() == {"via": "provider", "data": [1]}


async def test_a_close_after_the_apps_own_close_changes_nothing_the_app_hears() -> None:
    # testing/connections.py TestWebsocketConnection.close: `if not self._client_closed
    # and self._state != _CLOSED` (mutant C68 dropped the state): once the app closed,
    # the client has echoed its close; the test's later close() sends nothing more.
    closed_by_test = asyncio.Event()
    heard: list[Message] = []

    async def asgi(scope: Any, receive: Receive, send: Send) -> None:
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.close", "code": 4001})
        await closed_by_test.wait()
        heard.append(await receive())

    connection = TestWebsocketConnection(cast(Any, asgi), websocket_scope("/ws"))
    async with asyncio.timeout(LIMIT):
        async with connection:
            with pytest.raises(WebsocketDisconnect):
                await connection.receive()  # the app's close
            await connection.close(4002)
            closed_by_test.set()
    assert connection.close_code == 4001
    assert heard == [{"type": "websocket.disconnect", "code": 1000}]  # the echo


async def test_each_disconnect_the_app_receives_is_its_own_dict() -> None:
    # testing/connections.py TestWebsocketConnection._asgi_receive: `dict(self.
    # _disconnect)` (mutant C75 handed out the one dict): the disconnect repeated to
    # every receive() is a fresh message, as a server's are: one the app changed
    # does not change the next.
    heard: list[Message] = []

    async def asgi(scope: Any, receive: Receive, send: Send) -> None:
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        first = await receive()
        first["code"] = 0
        heard.append(await receive())

    connection = TestWebsocketConnection(cast(Any, asgi), websocket_scope("/ws"))
    async with asyncio.timeout(LIMIT):
        async with connection:
            await connection.close(4002)
    assert heard == [{"type": "websocket.disconnect", "code": 4002}]


def test_a_buffer_size_of_zero_is_refused() -> None:
    # wrappers/filebody.py FileBody.__init__: `buffer_size < 1` (mutant F3 made it
    # `< 0`): a buffer_size of 0 would silently read CHUNK_SIZE (`0 or CHUNK_SIZE`);
    # it is refused, as any size below 1.
    with pytest.raises(ValueError, match="'buffer_size' must be 1 or more: 0"):
        FileBody(path=__file__, size=1, buffer_size=0)


async def test_a_file_body_reads_buffer_size_bytes_at_a_time() -> None:
    # wrappers/filebody.py FileBody._spans: `chunk_size = self.buffer_size or
    # CHUNK_SIZE` (mutant F9 always read CHUNK_SIZE): Quart's buffer_size is the
    # bytes read, and sent, at a time.
    body = FileBody(file=io.BytesIO(b"abcdefg"), size=7, buffer_size=3)
    async with asyncio.timeout(LIMIT):
        chunks = [chunk async for chunk in body]
        await body.aclose()
    assert chunks == [b"abc", b"def", b"g"]


async def test_a_close_without_a_reason_has_an_empty_reason() -> None:
    # testing/connections.py TestWebsocketConnection._asgi_send: `self.close_reason =
    # message.get("reason") or ""` (mutant C80 kept None): close_reason is a str, ""
    # when the app's websocket.close had no reason (ASGI's default).
    async def asgi(scope: Any, receive: Receive, send: Send) -> None:
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.close", "code": 1000})

    connection = TestWebsocketConnection(cast(Any, asgi), websocket_scope("/ws"))
    async with asyncio.timeout(LIMIT):
        async with connection:
            with pytest.raises(WebsocketDisconnect):
                await connection.receive()
    assert (connection.close_code, connection.close_reason) == (1000, "")


async def test_a_path_the_server_sends_lets_go_of_the_file_opened_for_it() -> None:
    # wrappers/filebody.py FileBody._let_go: `opened.close()` (mutant F20 dropped it):
    # when the server sends the path itself (pathsend), the file send_file opened
    # is closed at once, not left for the garbage collector.
    opened = open(__file__, "rb")  # the body owns it
    body = FileBody(path=__file__, size=os.path.getsize(__file__), opened=opened)
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    async def stream(body: Any) -> bool:
        raise AssertionError("the server sends this path itself")

    scope: Any = {"type": "http", "extensions": {"http.response.pathsend": {}}}
    async with asyncio.timeout(LIMIT):
        assert await body.send(scope, send, cast(Any, stream))
    assert sent == [{"type": "http.response.pathsend", "path": __file__}]
    assert opened.closed


async def test_a_file_closed_before_the_send_is_streamed_not_pathsent() -> None:
    # wrappers/filebody.py _still: `except (OSError, ValueError): return False` (mutant
    # F35 caught only OSError): an opened file already closed (its fileno() raises
    # ValueError) is not known to still be the path's: no pathsend, and no crash.
    opened = open(__file__, "rb")
    opened.close()
    body = FileBody(path=__file__, size=os.path.getsize(__file__), opened=opened)
    streamed: list[Any] = []

    async def send(message: Message) -> None:
        raise AssertionError("not sent by path")

    async def stream(body: Any) -> bool:
        streamed.append(body)
        return True

    scope: Any = {"type": "http", "extensions": {"http.response.pathsend": {}}}
    async with asyncio.timeout(LIMIT):
        assert await body.send(scope, send, cast(Any, stream))
    assert streamed == [body]


async def test_an_app_error_the_test_caught_is_not_raised_again_at_the_end() -> None:
    # testing/connections.py _Exchange._report: `if error is None or
    # self._error_reported: return` (mutant C13 dropped the second): the app's error,
    # once raised from receive() and handled by the test, is not raised again as
    # the block ends.
    async def asgi(scope: Any, receive: Receive, send: Send) -> None:
        raise LookupError("the app's error")

    async with asyncio.timeout(LIMIT):
        async with TestHTTPConnection(cast(Any, asgi), http_scope("/")) as connection:
            with pytest.raises(LookupError):
                await connection.receive()
