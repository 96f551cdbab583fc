"""The app behind a real hypercorn server on 127.0.0.1, spoken to over a raw socket.

The server runs inside the test's own event loop, so the tests synchronise with the
views through ``asyncio.Event`` objects. It listens on a socket the test binds to port
0 and hands over by file descriptor, so the port is known before the server starts
and nothing races for it. Every test is bounded by ``asyncio.timeout`` and always
shuts the server down.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from servers import hypercorn_serving as served
from servers import LIMIT

from microframework import Microframework
from microframework import request
from microframework.exceptions import ClientDisconnected


@asynccontextmanager
async def connection(
    port: int,
) -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        yield reader, writer
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except ConnectionError:
            pass  # the server may have reset it first; it is closed either way


def request_bytes(
    method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    for name, value in (headers or {}).items():
        lines.append(f"{name}: {value}")
    if body:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


async def read_head(reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    """Read the status line and headers (names lowercased)."""
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")[:-2]
    version, status, *_reason = status_line.split(" ")
    assert version == "HTTP/1.1"
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status), headers


async def read_chunk(reader: asyncio.StreamReader) -> bytes:
    """Read one chunk of a chunked body; ``b""`` is the last one."""
    size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
    data = await reader.readexactly(size)
    assert await reader.readexactly(2) == b"\r\n"
    if size == 0:
        return b""
    return data


async def read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
    if headers.get("transfer-encoding") == "chunked":
        chunks = []
        while chunk := await read_chunk(reader):
            chunks.append(chunk)
        return b"".join(chunks)
    return await reader.readexactly(int(headers["content-length"]))


async def test_get_over_a_real_socket_returns_the_body(app: Microframework) -> None:
    @app.route("/hello/<name>")
    async def hello(name: str) -> str:
        return f"Hello, {name} from {request.remote_addr}"

    async with (
        asyncio.timeout(LIMIT),
        served(app) as port,
        connection(port) as (
            reader,
            writer,
        ),
    ):
        writer.write(request_bytes("GET", "/hello/world"))
        await writer.drain()
        status, headers = await read_head(reader)
        body = await read_body(reader, headers)

    assert status == 200
    assert headers["content-type"] == "text/html; charset=utf-8"
    assert body == b"Hello, world from 127.0.0.1"


async def test_keep_alive_connection_serves_two_requests(app: Microframework) -> None:
    @app.route("/n/<int:n>")
    async def number(n: int) -> str:
        return str(n * 2)

    async with (
        asyncio.timeout(LIMIT),
        served(app) as port,
        connection(port) as (
            reader,
            writer,
        ),
    ):
        results = []
        for n in (1, 21):
            writer.write(request_bytes("GET", f"/n/{n}"))
            await writer.drain()
            status, headers = await read_head(reader)
            results.append((status, await read_body(reader, headers)))

    assert results == [(200, b"2"), (200, b"42")]


async def test_json_post_is_echoed(app: Microframework) -> None:
    @app.post("/echo")
    async def echo() -> dict[str, Any]:
        return {"got": await request.get_json(), "length": request.content_length}

    payload = json.dumps({"name": "zoë", "items": [1, 2, 3]}).encode()
    async with (
        asyncio.timeout(LIMIT),
        served(app) as port,
        connection(port) as (
            reader,
            writer,
        ),
    ):
        writer.write(
            request_bytes(
                "POST", "/echo", payload, {"Content-Type": "application/json"}
            )
        )
        await writer.drain()
        status, headers = await read_head(reader)
        body = await read_body(reader, headers)

    assert status == 200
    assert headers["content-type"] == "application/json"
    assert json.loads(body) == {
        "got": {"name": "zoë", "items": [1, 2, 3]},
        "length": len(payload),
    }


async def test_streamed_response_arrives_chunk_by_chunk(app: Microframework) -> None:
    first_read = asyncio.Event()

    @app.route("/stream")
    async def stream() -> Any:
        async def generate() -> AsyncIterator[bytes]:
            yield b"first"
            # The second chunk exists only once the client has read the first.
            await first_read.wait()
            yield b"second"

        return generate()

    async with (
        asyncio.timeout(LIMIT),
        served(app) as port,
        connection(port) as (
            reader,
            writer,
        ),
    ):
        writer.write(request_bytes("GET", "/stream"))
        await writer.drain()
        status, headers = await read_head(reader)
        first = await read_chunk(reader)
        first_read.set()
        second = await read_chunk(reader)
        last = await read_chunk(reader)

    assert status == 200
    assert headers["transfer-encoding"] == "chunked"
    assert "content-length" not in headers
    assert (first, second, last) == (b"first", b"second", b"")


async def test_closing_the_socket_mid_stream_runs_finally_and_teardown(
    app: Microframework,
) -> None:
    finally_ran = asyncio.Event()
    teardown_ran = asyncio.Event()
    teardown_errors: list[BaseException | None] = []

    @app.route("/forever")
    async def forever() -> Any:
        async def generate() -> AsyncIterator[bytes]:
            try:
                yield b"tick"
                await asyncio.Event().wait()  # only the disconnect ends this
                yield b"never"
            finally:
                finally_ran.set()

        return generate()

    @app.teardown_request
    async def teardown(error: BaseException | None) -> None:
        teardown_errors.append(error)
        teardown_ran.set()

    async with asyncio.timeout(LIMIT), served(app) as port:
        async with connection(port) as (reader, writer):
            writer.write(request_bytes("GET", "/forever"))
            await writer.drain()
            status, _headers = await read_head(reader)
            assert await read_chunk(reader) == b"tick"
        # The socket is closed now, in the middle of the response.
        async with asyncio.timeout(5):
            await finally_ran.wait()
            await teardown_ran.wait()

    assert status == 200
    assert len(teardown_errors) == 1
    assert isinstance(teardown_errors[0], ClientDisconnected)


async def test_closing_the_socket_while_the_view_waits_runs_finally_and_teardown(
    app: Microframework,
) -> None:
    view_waiting = asyncio.Event()
    finally_ran = asyncio.Event()
    teardown_ran = asyncio.Event()

    @app.route("/long-poll")
    async def long_poll() -> str:
        try:
            view_waiting.set()
            await asyncio.Event().wait()  # only the disconnect ends this
            return "never"
        finally:
            finally_ran.set()

    @app.teardown_request
    async def teardown(error: BaseException | None) -> None:
        teardown_ran.set()

    async with asyncio.timeout(LIMIT), served(app) as port:
        async with connection(port) as (_reader, writer):
            writer.write(request_bytes("GET", "/long-poll"))
            await writer.drain()
            await view_waiting.wait()
        async with asyncio.timeout(5):
            await finally_ran.wait()
            await teardown_ran.wait()


async def test_lifespan_runs_before_serving_first_and_after_serving_at_shutdown(
    app: Microframework,
) -> None:
    events: list[str] = []

    @app.before_serving
    async def startup() -> None:
        events.append("before_serving")
        app.state["greeting"] = "ready"

    @app.after_serving
    async def shutdown() -> None:
        events.append("after_serving")

    @app.route("/")
    async def index() -> str:
        events.append("request")
        return str(request.state["greeting"])

    async with asyncio.timeout(LIMIT), served(app) as port:
        async with connection(port) as (reader, writer):
            writer.write(request_bytes("GET", "/"))
            await writer.drain()
            status, headers = await read_head(reader)
            body = await read_body(reader, headers)
        assert events == ["before_serving", "request"]  # still serving

    assert (status, body) == (200, b"ready")
    assert events == ["before_serving", "request", "after_serving"]


class _Running(logging.Handler):
    """Hypercorn logs "Running on <url>" once it listens: the port it bound."""

    def __init__(self) -> None:
        super().__init__()
        self.url: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith("Running on") and not self.url.done():
            self.url.set_result(message.split()[2])


async def test_run_task_serves_on_the_callers_loop_until_the_trigger() -> None:
    # Quart's developing guide: ``asyncio.run(app.run_task())``.
    app = Microframework(__name__)

    @app.get("/")
    async def index() -> str:
        return "from run_task"

    running, stop = _Running(), asyncio.Event()
    logger = logging.getLogger()  # hypercorn replaces its own logger's handlers
    logger.addHandler(running)
    try:
        server = asyncio.create_task(
            app.run_task("127.0.0.1", 0, shutdown_trigger=stop.wait)
        )
        async with asyncio.timeout(LIMIT):
            port = int((await running.url).rsplit(":", 1)[1])
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            answer = await reader.read()
            writer.close()
            stop.set()
            await server
    finally:
        logger.removeHandler(running)
    assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"from run_task")


async def test_run_tasks_trigger_starts_the_drain() -> None:
    # No signal stops this server: without the drain, a long-poll waiting on
    # shutdown_event was cut at hypercorn's graceful timeout instead of answering.
    app = Microframework(__name__)
    waiting = asyncio.Event()

    @app.get("/poll")
    async def poll() -> str:
        waiting.set()
        await app.shutdown_event.wait()
        return "bye"

    running, stop = _Running(), asyncio.Event()
    logger = logging.getLogger()
    logger.addHandler(running)
    try:
        server = asyncio.create_task(
            app.run_task("127.0.0.1", 0, shutdown_trigger=stop.wait)
        )
        async with asyncio.timeout(LIMIT):
            port = int((await running.url).rsplit(":", 1)[1])
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /poll HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            await waiting.wait()
            stop.set()
            answer = await reader.read()
            writer.close()
            await server
    finally:
        logger.removeHandler(running)
    assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"bye")


@pytest.mark.parametrize(("grace", "graceful"), [(2, 3.0), (5, 6.0)])
async def test_run_task_gives_hypercorn_time_for_the_drain(
    monkeypatch: pytest.MonkeyPatch, grace: float, graceful: float
) -> None:
    # hypercorn's 3 s graceful timeout cut a longer drain: 500s, not the 503s.
    import hypercorn.asyncio

    seen: list[float] = []

    async def serve(app: Any, config: Any, **kwargs: Any) -> None:
        seen.append(config.graceful_timeout)

    monkeypatch.setattr(hypercorn.asyncio, "serve", serve)
    app = Microframework(__name__)
    app.config["SHUTDOWN_GRACE_PERIOD"] = grace
    await app.run_task("127.0.0.1", 0)
    assert seen == [graceful]


@pytest.mark.parametrize(
    ("options", "graceful"), [({}, 6.0), ({"graceful_timeout": 9}, 9)]
)
def test_app_run_gives_hypercorn_time_for_the_drain(
    monkeypatch: pytest.MonkeyPatch, options: dict[str, Any], graceful: float
) -> None:
    import hypercorn.run

    seen: list[float] = []
    monkeypatch.setattr(
        hypercorn.run, "run", lambda config: seen.append(config.graceful_timeout) or 0
    )
    app = Microframework(__name__)
    app.config["SHUTDOWN_GRACE_PERIOD"] = 5
    app.run(port=0, **options)
    assert seen == [graceful]
