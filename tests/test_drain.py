"""Drain on shutdown (#10): long-lived work ends within the grace period.

In process, the drain is started by hand; through real hypercorn and uvicorn
processes, by SIGTERM, with the servers' default settings.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import websockets
from asgi_harness import call
from asgi_harness import http_scope
from asgi_harness import Recorder
from asgi_harness import websocket_scope

from microframework import Microframework
from microframework import Response
from microframework import websocket
from microframework.exceptions import WebsocketDisconnect
from microframework.sse import event_stream
from microframework.testing import WebsocketResponseError

LIMIT = 20


@pytest.fixture
def app() -> Microframework:
    app = Microframework(__name__)
    app.config["SHUTDOWN_GRACE_PERIOD"] = 0.05
    return app


async def _started(recorder: Recorder, task: asyncio.Task[Any]) -> None:
    await recorder.response_started.wait()


async def test_a_waiting_view_gets_503_with_retry_after_at_the_deadline(
    app: Microframework,
) -> None:
    cleaned = asyncio.Event()
    waiting = asyncio.Event()

    @app.get("/poll")
    async def poll() -> str:
        waiting.set()
        try:
            await asyncio.Event().wait()
        finally:
            cleaned.set()
        return "never"

    @app.get("/quick")
    async def quick() -> str:
        await asyncio.sleep(0)
        return "done"

    async with asyncio.timeout(LIMIT):
        task = asyncio.create_task(call(app, http_scope("/poll")))
        await waiting.wait()
        app.drain.start(app.config["SHUTDOWN_GRACE_PERIOD"])
        quick = await call(app, http_scope("/quick"))  # still served while draining
        recorder = await task
    assert quick.status == 200
    assert recorder.status == 503
    assert recorder.headers[b"retry-after"] == b"1"
    assert cleaned.is_set()


async def test_a_view_that_waits_after_the_deadline_gets_503_at_once(
    app: Microframework,
) -> None:
    @app.get("/quick")
    async def quick() -> str:
        await asyncio.sleep(0)
        return "done"

    async with asyncio.timeout(LIMIT):
        app.drain.start(0)
        while not app.drain.expired:
            await asyncio.sleep(0)
        recorder = await call(app, http_scope("/quick"))
    app.drain.end()
    assert recorder.status == 503
    assert recorder.headers[b"retry-after"] == b"1"


async def test_an_app_served_again_without_a_lifespan_is_not_draining(
    app: Microframework,
) -> None:
    # Found with real servers: after one hypercorn run, the same app under uvicorn
    # --lifespan off answered every waiting view 503, its old deadline still armed.
    app.config["SHUTDOWN_GRACE_PERIOD"] = 0  # the old deadline fires at once
    release = asyncio.Event()
    waiting = asyncio.Event()

    @app.get("/poll")
    async def poll() -> str:
        waiting.set()
        await release.wait()
        return "done"

    async with asyncio.timeout(LIMIT):
        async with app.test_app():
            pass  # one serving period: startup, then shutdown starts the drain
        task = asyncio.create_task(call(app, http_scope("/poll")))
        await waiting.wait()
        await asyncio.sleep(0)  # a zero-second deadline left armed runs here
        release.set()
        recorder = await task
    assert (recorder.status, recorder.body) == (200, b"done")


async def test_an_event_stream_ends_cleanly_at_once(app: Microframework) -> None:
    cleaned = asyncio.Event()

    @app.get("/events")
    async def events() -> Any:
        async def source() -> AsyncIterator[str]:
            try:
                yield "hello"
                await asyncio.Event().wait()
            finally:
                cleaned.set()

        return event_stream(source(), keep_alive=None)

    app.config["SHUTDOWN_GRACE_PERIOD"] = 3600  # ends at once, not at the deadline
    recorder = Recorder()
    async with asyncio.timeout(LIMIT):
        task = asyncio.create_task(call(app, http_scope("/events"), recorder))
        await recorder.body_sent.wait()
        app.drain.start(app.config["SHUTDOWN_GRACE_PERIOD"])
        await task
    assert recorder.status == 200
    assert recorder.sent[-1] == {
        "type": "http.response.body",
        "body": b"",
        "more_body": False,
    }
    assert b"data: hello" in recorder.body
    assert cleaned.is_set()


async def test_an_event_streams_last_message_ends_at_the_deadline(
    app: Microframework,
) -> None:
    # A client that stopped reading held the stream's last (empty) send for ever
    # after the drain: uvicorn, which waits for every request, never exited.
    class Stalled(Recorder):
        async def send(self, message: dict[str, Any]) -> None:
            await super().send(message)
            if message["type"] == "http.response.body" and not message["more_body"]:
                await asyncio.get_running_loop().create_future()

    async def source() -> AsyncIterator[str]:
        yield "hello"
        await asyncio.Event().wait()

    @app.get("/events")
    async def events() -> Any:
        return event_stream(source(), keep_alive=15)

    recorder = Stalled()
    task = asyncio.create_task(call(app, http_scope("/events"), recorder))
    try:
        async with asyncio.timeout(LIMIT):
            await recorder.body_sent.wait()
            app.drain.start(app.config["SHUTDOWN_GRACE_PERIOD"])
        done, _ = await asyncio.wait({task}, timeout=LIMIT)  # (awaiting would cancel)
        assert done, "the stream outlived the drain's deadline"
        assert not app.drain.members
    finally:
        task.cancel()
        app.drain.end()


@pytest.mark.parametrize("expired", [False, True])
async def test_a_stream_that_starts_while_draining_leaves_no_cancel_behind(
    app: Microframework, expired: bool
) -> None:
    # A stream started while draining is ended by its guard, which cancels the task
    # it runs in. One that finishes without ever waiting must not leave that cancel
    # pending, to hit whatever the task does next (here: this test's own await).
    @app.get("/events")
    async def events() -> Any:
        async def source() -> AsyncIterator[str]:
            yield "data: hello\n\n"
            yield "data: bye\n\n"

        # A plain body: nothing in the stream waits (event_stream may, for keep-alive).
        return Response(source(), mimetype="text/event-stream")

    app.drain.start(3600)
    if expired:
        app.drain.expired = True
    recorder = Recorder()
    await app(http_scope("/events"), recorder.receive, recorder.send)  # in this task
    await asyncio.sleep(0)  # a stray cancel would be raised here
    assert recorder.status == 200
    assert recorder.sent[-1]["more_body"] is False


async def test_another_stream_is_cut_unfinished_at_the_deadline(
    app: Microframework,
) -> None:
    @app.get("/download")
    async def download() -> Any:
        async def chunks() -> AsyncIterator[bytes]:
            yield b"part"
            await asyncio.Event().wait()

        return chunks()

    recorder = Recorder()
    async with asyncio.timeout(LIMIT):
        task = asyncio.create_task(call(app, http_scope("/download"), recorder))
        await recorder.body_sent.wait()
        app.drain.start(app.config["SHUTDOWN_GRACE_PERIOD"])
        await task
    # Never completed: a cut download must not look whole.
    assert recorder.sent[-1]["more_body"] is True


async def _hangs_in_clean_up(cleaned: list[str]) -> None:
    cleaned.append("cleaning")
    try:
        await asyncio.Event().wait()  # an unsubscribe that never answers
    except asyncio.CancelledError:
        cleaned.append("cut at the deadline")
        raise


@pytest.mark.parametrize("kind", ["stream", "view"])
async def test_a_clean_up_that_outlives_its_client_ends_at_the_deadline(
    app: Microframework, kind: str
) -> None:
    # Once the client left, the guard had fired: the deadline did nothing, and uvicorn
    # (which waits for every request) never exited on SIGTERM.
    cleaned: list[str] = []

    async def source() -> AsyncIterator[str]:
        try:
            yield "first"
            await asyncio.Event().wait()
        finally:
            await _hangs_in_clean_up(cleaned)

    @app.get("/stream")
    async def stream() -> Any:
        return event_stream(source(), keep_alive=15)

    @app.get("/view")
    async def view() -> str:
        try:
            await asyncio.Event().wait()
        finally:
            await _hangs_in_clean_up(cleaned)
        return "never"

    recorder = Recorder()
    async with asyncio.timeout(LIMIT):
        task = asyncio.create_task(call(app, http_scope(f"/{kind}"), recorder))
        await (recorder.body_sent if kind == "stream" else recorder.receiving).wait()
        recorder.disconnect()
        while not cleaned:  # the guard hears it and cancels the request
            await asyncio.sleep(0)
        app.drain.start(app.config["SHUTDOWN_GRACE_PERIOD"])
        await task
    assert cleaned == ["cleaning", "cut at the deadline"]
    assert not app.drain.members


async def test_a_websocket_is_closed_with_1001_and_its_handler_ends(
    app: Microframework,
) -> None:
    ended: list[Any] = []
    ready = asyncio.Event()

    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.accept()
        ready.set()
        try:
            await websocket.receive()
        finally:
            ended.append("finally")

    @app.teardown_websocket
    async def teardown(error: BaseException | None) -> None:
        ended.append(type(error))

    async with asyncio.timeout(LIMIT):
        async with app.test_client().websocket("/ws") as client:
            client.disconnect_grace = 3600  # only the app's own drain can pass
            await ready.wait()
            app.drain.start(3600)
            with pytest.raises(WebsocketDisconnect) as closed:
                await client.receive()
    assert closed.value.code == 1001
    assert ended == ["finally", WebsocketDisconnect]


async def test_a_websocket_that_arrives_while_draining_is_closed_with_1001(
    app: Microframework,
) -> None:

    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.accept()
        await websocket.receive()

    app.drain.start(3600)
    try:
        async with asyncio.timeout(LIMIT):
            async with app.test_client().websocket("/ws") as client:
                with pytest.raises(WebsocketDisconnect) as closed:
                    await client.receive()
    finally:
        app.drain.end()
    assert closed.value.code == 1001


async def test_a_handshake_pending_as_the_drain_starts_is_refused_with_503(
    app: Microframework,
) -> None:
    # A close before accept is the server's 403, which reconnecting clients read as
    # "not allowed"; the long-poll beside it got 503 and Retry-After.
    waiting = asyncio.Event()
    ended: list[Any] = []

    @app.websocket("/ws")
    async def ws() -> None:
        waiting.set()
        try:
            await asyncio.Event().wait()  # an auth lookup, before accepting
        finally:
            ended.append("finally")

    async def drain_once_waiting() -> None:
        await waiting.wait()
        app.drain.start(3600)

    async with asyncio.timeout(LIMIT):
        starting = asyncio.create_task(drain_once_waiting())
        with pytest.raises(WebsocketResponseError) as refused:
            async with app.test_client().websocket("/ws"):
                pass
        await starting
    response = refused.value.response
    assert (response.status_code, response.headers["Retry-After"]) == (503, "1")
    assert ended == ["finally"]


async def test_a_pending_handshake_without_the_response_extension_is_closed(
    app: Microframework,
) -> None:
    waiting = asyncio.Event()

    @app.websocket("/ws")
    async def ws() -> None:
        waiting.set()
        await asyncio.Event().wait()

    sent: list[dict[str, Any]] = []
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    inbox.put_nowait({"type": "websocket.connect"})

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if message["type"] == "websocket.close":
            inbox.put_nowait({"type": "websocket.disconnect", "code": 1006})

    async with asyncio.timeout(LIMIT):
        handling = asyncio.create_task(app(websocket_scope("/ws"), inbox.get, send))
        await waiting.wait()
        app.drain.start(3600)
        await handling
    assert [m["type"] for m in sent] == ["websocket.close"]


async def test_the_drains_503_is_sent_whole_before_the_app_returns(
    app: Microframework,
) -> None:
    # The refusal is sent by a task of its own: a handler returning meanwhile ended the
    # connection (the app returned) between its two messages, and the body went to a
    # server that had finished with it.
    waiting, go, release = asyncio.Event(), asyncio.Event(), asyncio.Event()

    @app.websocket("/ws")
    async def ws() -> None:
        waiting.set()
        await go.wait()  # an auth lookup that answers as the refusal goes out

    events: list[str] = []
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    inbox.put_nowait({"type": "websocket.connect"})

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "websocket.http.response.start":
            go.set()
            await release.wait()  # a slow socket
        events.append(message["type"])

    extensions: dict[str, Any] = {"websocket.http.response": {}}
    async with asyncio.timeout(LIMIT):
        handling = asyncio.create_task(
            app(websocket_scope("/ws", extensions), inbox.get, send)
        )
        handling.add_done_callback(lambda _: events.append("returned"))
        await waiting.wait()
        app.drain.start(3600)
        try:
            await go.wait()
            for _ in range(20):  # the handler returns, and so would the app
                await asyncio.sleep(0)
            release.set()
            await handling
            for _ in range(20):
                await asyncio.sleep(0)
        finally:
            app.drain.end()
    assert events == [
        "websocket.http.response.start",
        "websocket.http.response.body",
        "returned",
    ]


@pytest.mark.parametrize("client_left", [True, False])
async def test_a_websockets_clean_up_is_cut_at_the_deadline(
    app: Microframework, client_left: bool
) -> None:
    # A finally awaiting an unsubscribe that never answers held uvicorn (which waits
    # for every connection) for ever after SIGTERM; a view's is cut at the deadline.
    app.config["SHUTDOWN_GRACE_PERIOD"] = 0.05
    cleaned: list[str] = []
    ready, ended = asyncio.Event(), asyncio.Event()

    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.accept()
        ready.set()
        try:
            await asyncio.Event().wait()
        finally:
            cleaned.append("cleaning")
            try:
                await asyncio.Event().wait()  # the unsubscribe
            except asyncio.CancelledError:
                cleaned.append("cut at the deadline")
                raise
            finally:
                ended.set()

    try:
        async with app.test_client().websocket("/ws") as client:
            client.disconnect_grace = 3600  # only the app's drain may end it
            try:
                async with asyncio.timeout(LIMIT):
                    await ready.wait()
                    if client_left:
                        await client.disconnect()
                        while not cleaned:
                            await asyncio.sleep(0)
                    app.drain.start(app.config["SHUTDOWN_GRACE_PERIOD"])
                    await ended.wait()
            finally:
                client.disconnect_grace = 0  # failed: the client ends the app
    finally:
        app.drain.end()
    assert cleaned == ["cleaning", "cut at the deadline"]


async def test_a_receiving_handler_ends_on_the_peers_close_frame(
    app: Microframework,
) -> None:
    # Cancelled as the drain's close went out, the handler ended the stream before
    # the peer's close frame came: hypercorn over TLS then failed its shutdown
    # (SSLError APPLICATION_DATA_AFTER_CLOSE_NOTIFY, pgjones/hypercorn#261).
    seen: list[str] = []
    ready = asyncio.Event()

    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.accept()
        ready.set()
        try:
            await websocket.receive()
        except BaseException as exc:
            seen.append(f"{type(exc).__name__} {getattr(exc, 'code', None)}")
            raise

    try:
        async with asyncio.timeout(LIMIT):
            async with app.test_client().websocket("/ws") as client:
                await ready.wait()
                app.drain.start(3600)
                with pytest.raises(WebsocketDisconnect):
                    await client.receive()  # the close; the client echoes it
    finally:
        app.drain.end()
    assert seen == ["WebsocketDisconnect 1001"]


def test_the_servers_signal_handler_is_chained_and_restored() -> None:
    app = Microframework(__name__)
    seen: list[int] = []

    def server_handler(signum: int, frame: Any) -> None:
        seen.append(signum)

    async def serve() -> None:
        async with app.test_app():
            assert signal.getsignal(signal.SIGTERM) is not server_handler
            signal.raise_signal(signal.SIGTERM)
            await asyncio.sleep(0)  # the handler hands the drain to the loop
            assert app.drain.draining

    previous = signal.signal(signal.SIGTERM, server_handler)
    try:
        asyncio.run(serve())
        assert seen == [signal.SIGTERM]
        assert signal.getsignal(signal.SIGTERM) is server_handler
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_a_period_cancelled_without_shutdown_leaves_the_servers_handler_working() -> (
    None
):
    # A serving period whose lifespan task is cancelled (no lifespan.shutdown) leaves
    # the chained handler installed, bound to a loop now closed: a later SIGTERM raised
    # RuntimeError("Event loop is closed") wherever the process was, and the server's
    # own handler never ran.
    app = Microframework(__name__)
    seen: list[int] = []

    def server_handler(signum: int, frame: Any) -> None:
        seen.append(signum)

    async def cancelled_period() -> None:
        inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        said: list[str] = []

        async def send(message: dict[str, Any]) -> None:
            said.append(message["type"])

        inbox.put_nowait({"type": "lifespan.startup"})
        scope = {"type": "lifespan", "asgi": {"version": "3.0"}}
        task = asyncio.create_task(app(scope, inbox.get, send))
        async with asyncio.timeout(LIMIT):
            while "lifespan.startup.complete" not in said:
                await asyncio.sleep(0)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    previous = signal.signal(signal.SIGTERM, server_handler)
    try:
        asyncio.run(cancelled_period())
        signal.raise_signal(signal.SIGTERM)
        assert seen == [signal.SIGTERM]
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_without_a_server_handler_nothing_is_installed() -> None:
    app = Microframework(__name__)

    async def serve() -> None:
        async with app.test_app():
            assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL

    asyncio.run(serve())


# -- real servers, SIGTERM -------------------------------------------------------------

HELD = 10  # of each kind
CHUNKED_END = b"0\r\n\r\n"  # the last chunk: the stream ended cleanly


SERVERS = {
    # In one process, as ``microframework run`` and ``app.run()`` serve: the app
    # chains hypercorn's signal handlers and drains.
    "hypercorn": ["-m", "hypercorn", "--workers", "0", "--bind", "fd://{fd}"],
    # hypercorn's default: the app runs in a worker process that hypercorn tells of
    # shutdown through its own event, which the app watches too.
    "hypercorn-worker": ["-m", "hypercorn", "--bind", "fd://{fd}"],
    "uvicorn": ["-m", "uvicorn", "--fd", "{fd}"],
}
CLEAN = ["events True", "poll 503 True", "ws 1001"]


def _server_command(server: str, fd: int) -> list[str]:
    args = [arg.format(fd=fd) for arg in SERVERS[server]]
    return [sys.executable, *args, "drain_app:app"]


async def _open_everything(port: int) -> list[Any]:
    held: list[Any] = []
    for _ in range(HELD):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /poll HTTP/1.1\r\nHost: t\r\n\r\n")
        held.append(("poll", reader, writer))
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /events HTTP/1.1\r\nHost: t\r\n\r\n")
        await reader.readuntil(b"data: hello")
        held.append(("events", reader, writer))
        ws = await websockets.connect(f"ws://127.0.0.1:{port}/ws")
        assert await ws.recv() == "ready"
        held.append(("ws", ws, None))
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET /held?n={3 * HELD} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
    await reader.readuntil(b"\r\n\r\n")
    writer.close()
    return held


async def _outcome(kind: str, first: Any, writer: Any) -> str:
    if kind == "ws":
        try:
            await first.recv()
        except websockets.ConnectionClosed as closed:
            return f"ws {closed.rcvd.code if closed.rcvd else None}"
        return "ws open"
    data = await first.read()
    writer.close()
    if kind == "poll":
        head = data.split(b"\r\n\r\n")[0].lower()
        return f"poll {data[9:12].decode()} {b'retry-after: 1' in head}"
    return f"events {data.endswith(CHUNKED_END)}"


@pytest.mark.parametrize("server", sorted(SERVERS))
async def test_sigterm_drains_and_the_server_exits(server: str, tmp_path: Path) -> None:
    log = tmp_path / "finally.log"
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(100)
    port = listener.getsockname()[1]
    env = {**os.environ, "DRAIN_LOG": str(log), "DRAIN_GRACE": "1"}
    env["PYTHONPATH"] = os.pathsep.join(
        [str(Path(__file__).parent), env.get("PYTHONPATH", "")]
    )
    errors = tmp_path / "server.log"  # a file: a full pipe would block the server
    with errors.open("wb") as stderr_file:
        process = subprocess.Popen(
            _server_command(server, listener.fileno()),
            pass_fds=[listener.fileno()],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr_file,
        )
    listener.close()
    try:
        async with asyncio.timeout(LIMIT):
            held = await _open_everything(port)
            process.send_signal(signal.SIGTERM)
            outcomes = await asyncio.gather(*(_outcome(*h) for h in held))
            returncode = await asyncio.to_thread(process.wait)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    stderr = errors.read_text()
    assert sorted(set(outcomes)) == CLEAN, stderr
    assert sorted(log.read_text().split()) == sorted(["poll", "events", "ws"] * HELD)
    assert returncode in (0, -signal.SIGTERM), stderr


# -- microframework run: its own worker processes drain too ------------------------------


async def _served_by_cli(
    tmp_path: Path, *options: str
) -> tuple[asyncio.subprocess.Process, int, asyncio.Task[bytes]]:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    app_file = tmp_path / "drain_app.py"
    app_file.write_text((Path(__file__).parent / "drain_app.py").read_text())
    env = {**os.environ, "DRAIN_LOG": str(tmp_path / "finally.log"), "DRAIN_GRACE": "1"}
    # Prepended, not replaced: the server runs the code under test.
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), env.get("PYTHONPATH", "")])
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "microframework",
        "--app",
        "drain_app",
        "run",
        "--port",
        str(port),
        *options,
        cwd=tmp_path,
        env=env,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,  # its own group: _end takes its workers with it
    )
    assert process.stderr is not None
    try:
        async with asyncio.timeout(LIMIT):
            while b"Running on" not in (line := await process.stderr.readline()):
                if not line:  # it exited before serving: say why, don't spin on EOF
                    await process.wait()
                    raise AssertionError(f"the server exited with {process.returncode}")
    except BaseException:
        await _end(process)
        raise
    # Keep reading, so a full pipe never blocks the server.
    rest = asyncio.create_task(process.stderr.read())
    return process, port, rest


async def _end(process: asyncio.subprocess.Process) -> None:
    # A failed test must not leave the supervisor's workers behind (a SIGKILL of the
    # supervisor alone orphaned them): end the group this test started.
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        await process.wait()


async def _ws_close_code(port: int, then: Any) -> int | None:
    async with websockets.connect(f"ws://127.0.0.1:{port}/ws") as ws:
        assert await ws.recv() == "ready"
        then()
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.recv()
    return closed.value.rcvd.code if closed.value.rcvd else None


async def test_microframework_run_workers_drain_on_sigterm(tmp_path: Path) -> None:
    process, port, rest = await _served_by_cli(tmp_path, "--workers", "2")
    try:
        async with asyncio.timeout(LIMIT):
            code = await _ws_close_code(
                port, lambda: process.send_signal(signal.SIGTERM)
            )
            assert await process.wait() == 0
    finally:
        await _end(process)
        await rest
    assert code == 1001
    assert (tmp_path / "finally.log").read_text().split() == ["ws"]


async def test_the_reloader_restarts_workers_with_1012(tmp_path: Path) -> None:
    process, port, rest = await _served_by_cli(tmp_path, "--reload")
    app_file = tmp_path / "drain_app.py"
    try:
        async with asyncio.timeout(LIMIT):
            touch = lambda: os.utime(app_file, (time.time() + 5, time.time() + 5))  # noqa: E731
            code = await _ws_close_code(port, touch)
            process.send_signal(signal.SIGTERM)
            assert await process.wait() == 0
    finally:
        await _end(process)
        await rest
    assert code == 1012
    assert (tmp_path / "finally.log").read_text().split() == ["ws"]


@pytest.mark.parametrize("finishes", [True, False])
async def test_after_serving_waits_for_teardowns_still_running(
    app: Microframework, finishes: bool
) -> None:
    # granian asks for shutdown once the responses went: a teardown still running
    # (returning a connection to a pool) must end before after_serving closes the pool.
    # One that doesn't end gets the grace period, not for ever; the last one to end
    # wakes the shutdown, which doesn't sit out the grace.
    if finishes:
        app.config["SHUTDOWN_GRACE_PERIOD"] = 2 * LIMIT  # longer than the test's bound
    log: list[str] = []

    @app.get("/")
    async def index() -> str:
        return "ok"

    @app.teardown_request
    async def teardown(error: BaseException | None) -> None:
        await app.shutdown_event.wait()
        if not finishes:
            await asyncio.Event().wait()
        for _ in range(5):  # what after_serving would have used meanwhile
            await asyncio.sleep(0)
        log.append("teardown")

    @app.after_serving
    async def close_pool() -> None:
        log.append("after_serving")

    async with asyncio.timeout(LIMIT):
        async with app.test_app():
            recorder = Recorder()
            request = asyncio.create_task(call(app, http_scope("/"), recorder))
            await recorder.body_sent.wait()
        if finishes:
            await request
        else:
            request.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await request
    assert log == (["teardown", "after_serving"] if finishes else ["after_serving"])


async def test_after_serving_waits_for_a_websockets_teardown(
    app: Microframework,
) -> None:
    log: list[str] = []
    got_hi = asyncio.Event()

    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.accept()
        await websocket.send("hi")
        await websocket.receive()

    @app.teardown_websocket
    async def teardown(error: BaseException | None) -> None:
        await app.shutdown_event.wait()
        for _ in range(5):  # what after_serving would have used meanwhile
            await asyncio.sleep(0)
        log.append("teardown")

    @app.after_serving
    async def close_pool() -> None:
        log.append("after_serving")

    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    inbox.put_nowait({"type": "websocket.connect"})

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "websocket.send":
            got_hi.set()

    async with asyncio.timeout(LIMIT):
        async with app.test_app():
            task = asyncio.create_task(app(websocket_scope("/ws"), inbox.get, send))
            await got_hi.wait()
            inbox.put_nowait({"type": "websocket.disconnect", "code": 1001})
            while not app.drain.tearing_down:  # the handler has ended: teardown runs
                await asyncio.sleep(0)
        await task
    assert log == ["teardown", "after_serving"]


async def test_a_teardown_beginning_as_the_last_one_ends_is_waited_for() -> None:
    drain = Microframework(__name__).drain
    drain.tearing_down = 1
    waiter = asyncio.create_task(drain.teardowns(LIMIT))
    await asyncio.sleep(0)
    drain.torn_down()
    drain.tearing_down += 1  # another begins before the waiter wakes
    for _ in range(5):
        await asyncio.sleep(0)
    assert not waiter.done()
    drain.torn_down()
    async with asyncio.timeout(LIMIT):
        await waiter


async def test_after_serving_waits_for_the_handlers_the_drain_cancelled() -> None:
    # granian asks for the lifespan shutdown while websockets are still open (no
    # SIGTERM seen first) and exits as soon as it is answered: the handlers the drain
    # closed with 1001 must run their finally before after_serving (and the exit).
    app = Microframework(__name__)
    app.config["SHUTDOWN_GRACE_PERIOD"] = 2 * LIMIT  # longer than the test's bound
    log: list[str] = []
    got_hi = asyncio.Event()

    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.accept()
        await websocket.send("hi")
        try:
            await websocket.receive()
        finally:
            for _ in range(5):  # an unsubscribe: a few awaits
                await asyncio.sleep(0)
            log.append("finally")

    @app.after_serving
    async def close_pool() -> None:
        log.append("after_serving")

    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    inbox.put_nowait({"type": "websocket.connect"})
    closes: list[int] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "websocket.send":
            got_hi.set()
        elif message["type"] == "websocket.close":  # the client echoes the close
            closes.append(message["code"])
            inbox.put_nowait({"type": "websocket.disconnect", "code": message["code"]})

    async with asyncio.timeout(LIMIT):
        async with app.test_app():
            task = asyncio.create_task(app(websocket_scope("/ws"), inbox.get, send))
            await got_hi.wait()
        await task
    assert closes == [1001]
    assert log == ["finally", "after_serving"]


async def test_a_close_cut_at_the_deadline_leaves_no_reference_cycle(
    app: Microframework,
) -> None:
    # The drain's own task, cancelled at the deadline, kept its CancelledError, whose
    # traceback holds the frame that holds the websocket, which held the task.
    from asgi_harness import cycles_made

    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.accept()
        await asyncio.Event().wait()

    accepted, never = asyncio.Event(), asyncio.Event()
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def receive() -> dict[str, Any]:
        if inbox.empty() and not accepted.is_set():
            return {"type": "websocket.connect"}
        return await inbox.get()

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "websocket.accept":
            accepted.set()
        elif message["type"] == "websocket.close":
            await never.wait()  # a client that stopped reading

    async def connect_and_drain() -> None:
        accepted.clear()
        task = asyncio.ensure_future(app(websocket_scope("/ws"), receive, send))
        try:
            async with asyncio.timeout(LIMIT):
                await accepted.wait()
                app.drain.start(0.01)
                await task
        finally:
            app.drain.end()
            task.cancel()

    await connect_and_drain()  # the first request's one-time garbage
    with cycles_made() as made:
        await connect_and_drain()
        for _ in range(5):
            await asyncio.sleep(0)
    assert "Websocket" not in made, made


async def test_a_refusal_stuck_in_send_is_cut_at_the_deadline_after_the_handler_returned(
    app: Microframework,
) -> None:
    # The handler returns while the drain's 503 is still being sent (a server whose
    # send never ends): the app waits for the refusal, so the websocket must stay a
    # drain member until then, or the deadline never cuts that wait.
    waiting, go, never = asyncio.Event(), asyncio.Event(), asyncio.Event()

    @app.websocket("/ws")
    async def ws() -> None:
        waiting.set()
        await go.wait()

    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    inbox.put_nowait({"type": "websocket.connect"})

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "websocket.http.response.start":
            go.set()  # the handler returns now
            await never.wait()

    extensions: dict[str, Any] = {"websocket.http.response": {}}
    task = asyncio.ensure_future(
        app(websocket_scope("/ws", extensions), inbox.get, send)
    )
    try:
        async with asyncio.timeout(LIMIT):
            await waiting.wait()
            app.drain.start(0.05)
            await task
    finally:
        app.drain.end()
        task.cancel()


async def test_a_long_poll_open_as_the_test_app_ends_gets_the_drains_503() -> None:
    # The drain answers it at its deadline; test_app's exit (the lifespan shutdown)
    # returned first, and the poll was never answered: now the shutdown waits for it.
    app = Microframework(__name__)
    app.config["SHUTDOWN_GRACE_PERIOD"] = 0.05
    waiting = asyncio.Event()

    @app.get("/poll")
    async def poll() -> str:
        waiting.set()
        await asyncio.Event().wait()
        return "never"

    async with asyncio.timeout(LIMIT):
        async with app.test_app() as test_app:
            polling = asyncio.create_task(test_app.test_client().get("/poll"))
            await waiting.wait()
    async with asyncio.timeout(5):  # answered as the shutdown ended: at once
        response = await polling
    assert response.status_code == 503
