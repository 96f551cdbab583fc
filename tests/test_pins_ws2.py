"""Pins from mutation testing wrappers/websocket.py: each fails with one mutant.

Raw ASGI (a scripted ``receive``, a recording ``send``): the reader task, the queue and
the drain are pinned at the messages the server sees.
"""

from __future__ import annotations

import asyncio
from typing import Any

from asgi_harness import websocket_scope

from microframework import Microframework
from microframework import Response
from microframework import websocket
from microframework.exceptions import WebsocketDisconnect
from microframework.typing import Message

LIMIT = 2  # seconds: every wait here is bounded


async def _turns(count: int = 50) -> None:
    """Let every task that can run, run: loop turns, no waiting on time."""
    for _ in range(count):
        await asyncio.sleep(0)


def _server(*messages: Message) -> tuple[Any, Any, list[Message]]:
    """A receive() giving *messages* without suspending, then waiting; a recording send."""
    script, sent = list(messages), []

    async def receive() -> Message:
        if script:
            return script.pop(0)
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async def send(message: Message) -> None:
        sent.append(message)

    return receive, send, sent


def _timers() -> list[asyncio.TimerHandle]:
    """The loop's timers still due (as the other timer tests count them)."""
    scheduled = asyncio.get_running_loop()._scheduled  # type: ignore[attr-defined]
    return [h for h in scheduled if not h.cancelled()]


async def _until_due_timers_ran() -> None:
    """Wait (bounded) until every timer now due has run: a watch sweep, here."""
    loop = asyncio.get_running_loop()
    due = loop.create_future()
    loop.call_at(max(h.when() for h in _timers()) + 0.001, due.set_result, None)
    async with asyncio.timeout(LIMIT):
        await due
    await _turns()


async def test_a_failing_server_receive_disconnects_a_queued_receive_with_1006(
    app: Microframework,
) -> None:
    # The reader task's server receive() raising is an abnormal disconnect (1006).
    codes: list[int] = []

    @app.websocket("/ws")
    async def handle() -> None:
        await websocket.accept()
        await asyncio.sleep(0)  # yielded: the reader task starts
        try:
            await websocket.receive()
        except WebsocketDisconnect as exc:
            codes.append(exc.code)

    connected = False

    async def receive() -> Message:
        nonlocal connected
        if not connected:
            connected = True
            return {"type": "websocket.connect"}
        raise RuntimeError("the server's receive broke")

    async def send(message: Message) -> None:
        pass

    async with asyncio.timeout(LIMIT):
        await app(websocket_scope("/ws", {}), receive, send)
    assert codes == [1006]


async def test_the_echo_of_the_handlers_close_wakes_a_helper_in_receive(
    app: Microframework,
) -> None:
    # A helper task waiting on the queue hears the echo of the handler's own close.
    outcome: list[str] = []
    inbox: asyncio.Queue[Message] = asyncio.Queue()
    inbox.put_nowait({"type": "websocket.connect"})

    @app.websocket("/ws")
    async def handle() -> None:
        await websocket.accept()
        await asyncio.sleep(0)  # yielded: the reader task starts
        helper = asyncio.create_task(websocket.receive())
        await asyncio.sleep(0)  # the helper waits on the queue
        await websocket.close(1000)
        try:
            async with asyncio.timeout(LIMIT):
                await helper
        except BaseException as exc:
            outcome.append(type(exc).__name__)
        finally:
            helper.cancel()

    async def receive() -> Message:
        return await inbox.get()

    async def send(message: Message) -> None:
        if message["type"] == "websocket.close":
            inbox.put_nowait({"type": "websocket.disconnect", "code": 1000})

    async with asyncio.timeout(2 * LIMIT):
        await app(websocket_scope("/ws", {}), receive, send)
    assert outcome == ["WebsocketDisconnect"]


async def test_a_full_queue_when_the_peer_leaves_still_ends_a_handler_blocked_elsewhere(
    app: Microframework,
) -> None:
    # A burst fills the queue while a woken helper has yet to run, then the peer
    # leaves: the disconnect can't be queued, but the handler must still be ended.
    app.config["WEBSOCKET_QUEUE_SIZE"] = 1
    app.config["WEBSOCKET_MAX_MESSAGE_SIZE"] = 1  # the byte budget: one message fills
    got: list[str | bytes] = []

    @app.websocket("/ws")
    async def handle() -> None:
        await websocket.accept()

        async def helper() -> None:
            got.append(await websocket.receive())

        task = asyncio.create_task(helper())
        try:
            await asyncio.Event().wait()  # blocked elsewhere
        finally:
            await asyncio.gather(task, return_exceptions=True)

    receive, send, _sent = _server(
        {"type": "websocket.connect"},
        {"type": "websocket.receive", "text": "x"},
        {"type": "websocket.disconnect", "code": 1000},
    )
    async with asyncio.timeout(LIMIT):
        await app(websocket_scope("/ws", {}), receive, send)
    assert got == ["x"]


async def test_a_drain_during_the_handshake_refuses_with_1001(
    app: Microframework,
) -> None:
    # A handler still deciding (an auth lookup) when the drain starts: the handshake
    # is closed with 1001 (before accept, a 403), not left unanswered.
    @app.websocket("/ws")
    async def handle() -> None:
        await asyncio.Event().wait()
        await websocket.accept()

    receive, send, sent = _server({"type": "websocket.connect"})
    app.drain.start(3600)
    try:
        async with asyncio.timeout(LIMIT):
            await app(websocket_scope("/ws", {}), receive, send)
    finally:
        app.drain.end()
    assert [(m["type"], m.get("code")) for m in sent] == [("websocket.close", 1001)]


async def test_a_second_drain_does_not_end_the_handler_before_the_close_is_written(
    app: Microframework,
) -> None:
    # Drained twice (served again meanwhile): the first drain's close is still being
    # written, and the handler ends only after it, as after one drain.
    ended: list[str] = []
    flushed = asyncio.Event()

    @app.websocket("/ws")
    async def handle() -> None:
        await websocket.accept()
        try:
            await asyncio.Event().wait()
        finally:
            ended.append("handler")

    receive, _send, sent = _server({"type": "websocket.connect"})

    async def send(message: Message) -> None:
        sent.append(message)
        if message["type"] == "websocket.close":
            await flushed.wait()  # the server still writes the close

    task = asyncio.create_task(app(websocket_scope("/ws", {}), receive, send))
    try:
        await _turns()
        app.drain.start(3600)
        await _turns()
        app.drain.end()
        app.drain.start(3600)
        await _turns()
        assert ended == []
        flushed.set()
        async with asyncio.timeout(LIMIT):
            await task
    finally:
        app.drain.end()
        task.cancel()
    assert ended == ["handler"]
    assert [m["type"] for m in sent] == ["websocket.accept", "websocket.close"]


async def test_a_drain_ends_a_handler_blocked_elsewhere_once_the_close_is_sent(
    app: Microframework,
) -> None:
    # No echo of the 1001 close is needed: the drain itself ends the handler.
    ended: list[str] = []

    @app.websocket("/ws")
    async def handle() -> None:
        await websocket.accept()
        try:
            await asyncio.Event().wait()
        finally:
            ended.append("handler")

    receive, send, sent = _server({"type": "websocket.connect"})
    task = asyncio.create_task(app(websocket_scope("/ws", {}), receive, send))
    try:
        await _turns()
        app.drain.start(3600)
        async with asyncio.timeout(LIMIT):
            await task
    finally:
        app.drain.end()
        task.cancel()
    assert ended == ["handler"]
    assert [(m["type"], m.get("code")) for m in sent][-1] == ("websocket.close", 1001)


async def test_receive_after_the_handlers_own_close_raises_without_the_echo(
    app: Microframework,
) -> None:
    # With the reader task running, a receive() after close() raises at once: it does
    # not wait for the client's echo of the close (which may never come).
    outcome: list[str] = []

    @app.websocket("/ws")
    async def handle() -> None:
        await websocket.accept()
        await asyncio.sleep(0)  # yielded: the reader task starts
        await websocket.close(1000)
        try:
            async with asyncio.timeout(LIMIT):
                await websocket.receive()
        except BaseException as exc:
            outcome.append(type(exc).__name__)

    receive, send, _sent = _server({"type": "websocket.connect"})
    async with asyncio.timeout(2 * LIMIT):
        await app(websocket_scope("/ws", {}), receive, send)
    assert outcome == ["WebsocketDisconnect"]


async def test_a_bytearray_is_sent_as_bytes(app: Microframework) -> None:
    # ASGI's "bytes" is bytes: a bytearray is copied (the caller may reuse it).
    @app.websocket("/ws")
    async def handle() -> None:
        data = bytearray(b"abc")
        await websocket.send(data)
        data[:] = b"xyz"

    receive, send, sent = _server({"type": "websocket.connect"})
    async with asyncio.timeout(LIMIT):
        await app(websocket_scope("/ws", {}), receive, send)
    message = next(m for m in sent if m["type"] == "websocket.send")
    assert type(message["bytes"]) is bytes
    assert message["bytes"] == b"abc"


async def test_a_helpers_send_during_which_the_peer_left_raises(
    app: Microframework,
) -> None:
    # A helper task's send() hears the peer leave at the yield that ends it, so a
    # send loop stops there (the handler, waiting in receive(), is not cancelled).
    outcome: list[str] = []
    inbox: asyncio.Queue[Message] = asyncio.Queue()
    inbox.put_nowait({"type": "websocket.connect"})

    @app.websocket("/ws")
    async def handle() -> None:
        await websocket.accept()
        await asyncio.sleep(0)  # yielded: the reader task starts

        async def sender() -> None:
            inbox.put_nowait({"type": "websocket.disconnect", "code": 1000})
            try:
                await websocket.send("x")
            except BaseException as exc:
                outcome.append(type(exc).__name__)
            else:
                outcome.append("sent")

        helper = asyncio.create_task(sender())
        try:
            await websocket.receive()
        finally:
            await helper

    async def receive() -> Message:
        return await inbox.get()

    async def send(message: Message) -> None:
        pass

    async with asyncio.timeout(LIMIT):
        await app(websocket_scope("/ws", {}), receive, send)
    assert outcome == ["WebsocketDisconnect"]


async def test_the_send_timeout_cuts_a_stalled_send_but_not_an_idle_connection(
    app: Microframework,
) -> None:
    # An accepted connection with no send pending is never a stall, however long idle.
    app.config["WEBSOCKET_SEND_TIMEOUT"] = 0.05

    @app.websocket("/idle")
    async def idle() -> None:
        await websocket.accept()
        await asyncio.Event().wait()

    @app.websocket("/push")
    async def push() -> None:
        await websocket.accept()
        await websocket.send("x")

    idle_receive, idle_send, idle_sent = _server({"type": "websocket.connect"})
    push_receive, _send, _sent = _server({"type": "websocket.connect"})

    async def stalled_send(message: Message) -> None:
        if message["type"] == "websocket.send":
            await asyncio.Event().wait()  # the client stopped reading

    idling = asyncio.create_task(app(websocket_scope("/idle"), idle_receive, idle_send))
    try:
        await _turns()
        async with asyncio.timeout(LIMIT):  # cut after 0.05-0.1 s of stall
            await app(websocket_scope("/push"), push_receive, stalled_send)
        await _turns()
        assert not idling.done()
        assert [m["type"] for m in idle_sent] == ["websocket.accept"]
    finally:
        idling.cancel()
        await asyncio.gather(idling, return_exceptions=True)


async def test_a_send_stall_wakes_a_helper_waiting_in_receive(
    app: Microframework,
) -> None:
    # The stall ends the handler; a helper task waiting on the queue hears it too.
    app.config["WEBSOCKET_SEND_TIMEOUT"] = 0.05
    outcome: list[str] = []

    @app.websocket("/ws")
    async def handle() -> None:
        await websocket.accept()
        await asyncio.sleep(0)  # yielded: the reader task starts
        helper = asyncio.create_task(websocket.receive())
        try:
            await websocket.send("x")  # the client stopped reading: it stalls
        finally:
            try:
                async with asyncio.timeout(LIMIT):
                    await helper
            except BaseException as exc:
                outcome.append(type(exc).__name__)
            finally:
                helper.cancel()

    receive, _send, _sent = _server({"type": "websocket.connect"})

    async def send(message: Message) -> None:
        if message["type"] == "websocket.send":
            await asyncio.Event().wait()

    async with asyncio.timeout(2 * LIMIT):
        await app(websocket_scope("/ws", {}), receive, send)
    assert outcome == ["WebsocketDisconnect"]


async def test_send_json_with_both_args_and_kwargs_is_a_type_error(
    app: Microframework,
) -> None:
    # As Quart (and jsonify): which one to send would be a guess.
    outcome: list[str] = []

    @app.websocket("/ws")
    async def handle() -> None:
        try:
            await websocket.send_json(1, a=2)
        except TypeError:
            outcome.append("TypeError")

    receive, send, sent = _server({"type": "websocket.connect"})
    async with asyncio.timeout(LIMIT):
        await app(websocket_scope("/ws", {}), receive, send)
    assert outcome == ["TypeError"]
    assert not [m for m in sent if m["type"] == "websocket.send"]


async def test_close_after_an_http_refusal_sends_nothing_more(
    app: Microframework,
) -> None:
    # The handshake was answered over HTTP: a close (here, a teardown's) is a no-op.
    @app.websocket("/ws")
    async def handle() -> Response:
        return Response("no", 401)

    @app.teardown_websocket
    async def teardown(error: BaseException | None) -> None:
        await websocket.close(1000)

    receive, send, sent = _server({"type": "websocket.connect"})
    async with asyncio.timeout(LIMIT):
        await app(
            websocket_scope("/ws", {"websocket.http.response": {}}), receive, send
        )
    assert [m["type"] for m in sent] == [
        "websocket.http.response.start",
        "websocket.http.response.body",
    ]


async def test_a_close_reason_of_exactly_123_bytes_is_sent(
    app: Microframework,
) -> None:
    # RFC 6455 5.5: 125 bytes of payload, 2 of them the code; 123 is the most, allowed.
    reason = "é" * 61 + "a"  # 123 bytes in UTF-8

    @app.websocket("/ws")
    async def handle() -> None:
        await websocket.accept()
        await websocket.close(1000, reason)

    receive, send, sent = _server({"type": "websocket.connect"})
    async with asyncio.timeout(LIMIT):
        await app(websocket_scope("/ws", {}), receive, send)
    assert sent[-1] == {"type": "websocket.close", "code": 1000, "reason": reason}


async def test_a_close_the_peer_left_before_records_1006(
    app: Microframework,
) -> None:
    # The server's send raised OSError (uvicorn: the peer has gone): abnormal, 1006.
    codes: list[tuple[int | None, str | None]] = []

    @app.websocket("/ws")
    async def handle() -> None:
        await websocket.accept()
        await websocket.close(1000, "bye")
        codes.append((websocket.close_code, websocket.close_reason))

    receive, _send, _sent = _server({"type": "websocket.connect"})

    async def send(message: Message) -> None:
        if message["type"] == "websocket.close":
            raise OSError("the peer has gone")

    async with asyncio.timeout(LIMIT):
        await app(websocket_scope("/ws", {}), receive, send)
    assert codes == [(1006, None)]


async def test_a_peer_gone_before_the_http_refusal_reaches_teardown_as_1006(
    app: Microframework,
) -> None:
    # The refusal's send raised OSError: teardown's WebsocketDisconnect says 1006.
    errors: list[Any] = []

    @app.websocket("/ws")
    async def handle() -> Response:
        return Response("no", 401)

    @app.teardown_websocket
    async def teardown(error: BaseException | None) -> None:
        errors.append((type(error).__name__, getattr(error, "code", None)))

    receive, _send, _sent = _server({"type": "websocket.connect"})

    async def send(message: Message) -> None:
        raise OSError("the peer has gone")

    async with asyncio.timeout(LIMIT):
        await app(
            websocket_scope("/ws", {"websocket.http.response": {}}), receive, send
        )
    assert errors == [("WebsocketDisconnect", 1006)]


async def test_a_send_stall_ends_within_about_one_and_a_half_timeouts(
    app: Microframework,
) -> None:
    # docs/websockets.md: the sweep runs every quarter of the timeout, so a stall
    # ends 1-1.5 timeouts after it began (a sweep every timeout would take 2 or more).
    timeout = 0.4
    app.config["WEBSOCKET_SEND_TIMEOUT"] = timeout

    @app.websocket("/ws")
    async def push() -> None:
        await websocket.accept()
        await websocket.send("x")

    receive, _send, _sent = _server({"type": "websocket.connect"})

    async def send(message: Message) -> None:
        if message["type"] == "websocket.send":
            await asyncio.Event().wait()  # the client stopped reading

    loop = asyncio.get_running_loop()
    started = loop.time()
    async with asyncio.timeout(5 * timeout):
        await app(websocket_scope("/ws", {}), receive, send)
    elapsed = loop.time() - started
    assert timeout <= elapsed < 1.9 * timeout  # 1.5 and scheduling slack


async def test_no_sweep_timer_is_left_once_the_last_connection_ended(
    app: Microframework,
) -> None:
    # The sweeps stop with the last connection: an idle app wakes no loop.
    app.config["WEBSOCKET_SEND_TIMEOUT"] = 0.05

    @app.websocket("/ws")
    async def handle() -> None:
        await websocket.accept()
        await websocket.send("x")

    receive, send, _sent = _server({"type": "websocket.connect"})
    async with asyncio.timeout(LIMIT):
        await app(websocket_scope("/ws", {}), receive, send)
    assert _timers()  # the sweeps still due
    await _until_due_timers_ran()
    assert _timers() == []


async def test_a_handler_watched_again_after_a_sweep_hears_the_peer_leave(
    app: Microframework,
) -> None:
    # A sweep ran while the handler read straight from the server; its next read
    # arms the watch again, so once it blocks elsewhere a reader hears the close.
    app.config["WEBSOCKET_SEND_TIMEOUT"] = None  # no stall sweep: one timer to wait on
    events: list[str] = []
    inbox: asyncio.Queue[Message] = asyncio.Queue()
    inbox.put_nowait({"type": "websocket.connect"})

    @app.websocket("/ws")
    async def handle() -> None:
        await websocket.accept()
        events.append(str(await websocket.receive()))
        try:
            await asyncio.Event().wait()  # then waits on a broker only
        except asyncio.CancelledError:
            events.append("cancelled")
            raise

    async def send(message: Message) -> None:
        pass

    task = asyncio.create_task(app(websocket_scope("/ws", {}), inbox.get, send))
    try:
        await _turns()
        await _until_due_timers_ran()  # the sweep, during the handler's receive()
        inbox.put_nowait({"type": "websocket.receive", "text": "hi"})
        inbox.put_nowait({"type": "websocket.disconnect", "code": 1001})
        async with asyncio.timeout(LIMIT):
            await task
    finally:
        task.cancel()
    assert events == ["hi", "cancelled"]


async def test_a_handshake_that_takes_a_few_sweeps_starts_no_reader_task(
    app: Microframework,
) -> None:
    # Only a slow handshake (about half a second of sweeps) gets a reader before
    # accept: a reader stays, and costs every message a second task switch.
    app.config["WEBSOCKET_SEND_TIMEOUT"] = None
    decided = asyncio.Event()
    tasks: list[int] = []
    inbox: asyncio.Queue[Message] = asyncio.Queue()
    inbox.put_nowait({"type": "websocket.connect"})

    @app.websocket("/ws")
    async def handle() -> None:
        tasks.append(len(asyncio.all_tasks()))
        await decided.wait()  # an auth lookup, over two sweeps
        await websocket.accept()
        await websocket.send(await websocket.receive())
        tasks.append(len(asyncio.all_tasks()))

    async def send(message: Message) -> None:
        pass

    task = asyncio.create_task(app(websocket_scope("/ws", {}), inbox.get, send))
    try:
        await _turns()
        for _ in range(2):
            await _until_due_timers_ran()
        decided.set()
        await _turns()  # accepted: it waits in receive()
        inbox.put_nowait({"type": "websocket.receive", "text": "hi"})
        async with asyncio.timeout(LIMIT):
            await task
    finally:
        task.cancel()
    assert len(tasks) == 2
    assert tasks[0] == tasks[1], "a reader task started"


async def test_receive_after_a_refusal_whose_disconnect_a_reader_read_is_no_hang(
    app: Microframework, monkeypatch: Any
) -> None:
    # A slow handshake had started a reader task; it read the server's disconnect
    # after the refusal while nobody received, so a receive() then waited for ever.
    from microframework.wrappers import websocket as websocket_module

    monkeypatch.setattr(websocket_module, "_HANDSHAKE_SWEEPS", 0)
    decided = asyncio.Event()
    outcome: list[Any] = []
    inbox: asyncio.Queue[Message] = asyncio.Queue()
    inbox.put_nowait({"type": "websocket.connect"})

    @app.websocket("/ws")
    async def handle() -> None:
        await decided.wait()  # an auth lookup long enough for a reader to start
        await websocket.send_rejection(Response("no", status=403))
        await _turns()  # the reader reads the server's disconnect meanwhile
        try:
            async with asyncio.timeout(LIMIT):
                await websocket.receive()
        except WebsocketDisconnect as exc:
            outcome.append(exc.code)
        except TimeoutError:
            outcome.append("hung")

    async def send(message: Message) -> None:
        if message["type"] == "websocket.http.response.body":
            inbox.put_nowait({"type": "websocket.disconnect", "code": 1000})

    scope = websocket_scope("/ws", {"websocket.http.response": {}})
    task = asyncio.create_task(app(scope, inbox.get, send))
    try:
        await _turns()
        for _ in range(2):  # the watch's sweeps, until one starts the reader
            if _timers():
                await _until_due_timers_ran()
        decided.set()
        async with asyncio.timeout(LIMIT * 2):
            await task
    finally:
        task.cancel()
    assert outcome == [1005]
