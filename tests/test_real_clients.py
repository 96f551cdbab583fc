"""Real clients against real hypercorn and uvicorn: limits, bad input, websockets, ranges.

What the ASGI-level tests already check, seen here from the other end of a socket:
raw HTTP/1.1 bytes, the ``websockets`` client, and raw ``h2`` frames. The servers run
inside the test's event loop (see ``servers.py``), so the tests wait on
``asyncio.Event`` objects set by the views, never on sleeps.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from h2.config import H2Configuration
from h2.connection import H2Connection
from h2.events import DataReceived
from h2.events import Event
from h2.events import InformationalResponseReceived
from h2.events import ResponseReceived
from h2.events import StreamEnded
from h2.events import TrailersReceived
from servers import hypercorn_serving
from servers import LIMIT
from servers import SERVERS
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
from websockets.exceptions import InvalidStatus

from microframework import abort
from microframework import copy_current_request_context
from microframework import Microframework
from microframework import request
from microframework import Response
from microframework import send_early_hints
from microframework import websocket
from microframework.exceptions import ClientDisconnected
from microframework.exceptions import WebsocketDisconnect

ALL_SERVERS = pytest.mark.parametrize("server", sorted(SERVERS))


async def read_response(
    reader: asyncio.StreamReader,
) -> tuple[int, dict[str, str], bytes]:
    """Read one HTTP/1.1 response with a ``Content-Length`` (names lowercased)."""
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")[:-2]
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return int(status_line.split(" ")[1]), headers, body


async def close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    try:
        await writer.wait_closed()
    except ConnectionError:
        pass  # the server may have reset it first; it is closed either way


async def exchange(port: int, data: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send raw request bytes and read the response."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        return await read_response(reader)
    finally:
        await close(writer)


@ALL_SERVERS
async def test_a_body_declared_over_the_limit_is_refused_before_it_arrives(
    app: Microframework, server: str
) -> None:
    # The client sends 10 of the 100000 bytes it declares and then waits: the 413
    # can only arrive if nobody waits for the rest, and the read never returns.
    app.testing = False
    app.config["MAX_CONTENT_LENGTH"] = 1000
    read: list[bytes] = []

    @app.post("/upload")
    async def upload() -> str:
        read.append(await request.get_data())
        return "never"

    head = b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n"
    async with asyncio.timeout(LIMIT), SERVERS[server](app) as port:
        status, _headers, body = await exchange(port, head + b"a" * 10)

    assert status == 413
    assert b"Request Entity Too Large" in body
    assert read == []


MULTIPART_BODY = (
    b'--AAA\r\nContent-Disposition: form-data; name="a"\r\n\r\nv\r\n--AAA--\r\n'
)
BAD_INPUT = {
    "malformed json": (
        "POST /json",
        "Content-Type: application/json",
        b'{"a":',
        400,
    ),
    "truncated multipart": (
        "POST /form",
        "Content-Type: multipart/form-data; boundary=AAA",
        MULTIPART_BODY[:-10],
        400,
    ),
    "multipart boundary mismatch": (
        "POST /form",
        "Content-Type: multipart/form-data; boundary=ZZZ",
        MULTIPART_BODY,
        400,
    ),
    # Lenient, as Werkzeug: the broken escapes are kept as they came.
    "bad percent-encoding in the query": (
        "GET /args?x=%zz&y=%",
        "Accept: */*",
        b"",
        200,
    ),
}


@ALL_SERVERS
@pytest.mark.parametrize("case", list(BAD_INPUT))
async def test_bad_input_gets_a_client_error_never_a_500(
    app: Microframework, server: str, case: str
) -> None:
    app.testing = False  # as deployed: an error would be a 500, not an exception

    @app.post("/json")
    async def json_view() -> object:
        return {"got": await request.get_json()}

    @app.post("/form")
    async def form_view() -> object:
        return {"form": (await request.form).to_dict()}

    @app.get("/args")
    async def args_view() -> object:
        return request.args.to_dict()

    request_line, header, body, expected = BAD_INPUT[case]
    data = (
        f"{request_line} HTTP/1.1\r\nHost: x\r\n{header}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    async with asyncio.timeout(LIMIT), SERVERS[server](app) as port:
        status, _headers, answer = await exchange(port, data)

    assert status == expected
    if expected == 200:
        assert answer == b'{"x":"%zz","y":"%"}\n'
    else:
        assert b"<title>400 Bad Request</title>" in answer


@ALL_SERVERS
@pytest.mark.parametrize("read", [False, True])
async def test_an_unasked_expect_continue_body_closes_the_connection(
    app: Microframework, server: str, read: bool
) -> None:
    # Answered without asking for it, curl (over 1 MiB) sends no body and reuses the
    # connection, where uvicorn read its next request as that body: that request
    # hung (uploads, session 31). RFC 9110 10.1.1: say the connection closes.
    app.testing = False

    @app.post("/hook")
    async def hook() -> str:
        if read:
            await request.get_data()
        return "ok"

    head = b"POST /hook HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
    async with asyncio.timeout(LIMIT), SERVERS[server](app) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(head + b"Content-Length: 4\r\n\r\n")
            if read:
                assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 100")
                writer.write(b"data")
            status, headers, body = await read_response(reader)
            if status == 100:  # hypercorn may ask for it as it answers: it is read on
                status, headers, body = await read_response(reader)
            assert (status, body) == (200, b"ok")
            if read:  # asked for and sent: the connection goes on
                assert headers.get("connection") != "close"
            else:
                assert headers.get("connection") == "close"
                assert await reader.read() == b""  # closed, not waiting for a body
        finally:
            await close(writer)


@ALL_SERVERS
@pytest.mark.parametrize("reader", ["teardown", "copied task"])
async def test_a_late_read_of_a_bodiless_request_is_empty(
    app: Microframework, server: str, reader: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Once the response is complete uvicorn answers every read with a disconnect, so
    # a teardown reading a GET's body got ClientDisconnected and a warning that the
    # client was gone (review11 3, session 31), and so did a copied context's task
    # (review12). HTTP/1.x without framing headers, or with Content-Length: 0, has
    # no body: the read needs no message.
    read: list[bytes | str] = []
    all_read = asyncio.Event()

    async def read_body() -> None:
        try:
            read.append(await request.get_data())
        except ClientDisconnected:
            read.append("gone")
        if len(read) == 3:
            all_read.set()

    if reader == "teardown":

        @app.teardown_request
        async def log_body(_error: BaseException | None) -> None:
            await read_body()

    @app.route("/", methods=["GET", "POST"])
    async def index() -> str:
        if reader == "copied task":
            later = copy_current_request_context(read_body)
            app.add_background_task(later)
        return "ok"

    async with asyncio.timeout(LIMIT), SERVERS[server](app) as port:
        reader_, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for head in (b"GET / HTTP/1.1", b"POST / HTTP/1.1\r\nContent-Length: 0"):
                writer.write(head + b"\r\nHost: x\r\n\r\n")
                status, _headers, body = await read_response(reader_)
                assert (status, body) == (200, b"ok")
            writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            assert (await read_response(reader_))[0] == 200
            await all_read.wait()
        finally:
            await close(writer)
    assert read == [b"", b"", b""]
    assert "found the connection ended" not in caplog.text


@ALL_SERVERS
async def test_a_websocket_refused_before_accept_gets_the_apps_http_response(
    app: Microframework, server: str
) -> None:
    # Through the server's websocket.http.response extension: without it the
    # client would see a bare 403 (or 500) with no body.
    app.testing = False

    @app.websocket("/ws")
    async def refuse() -> None:
        abort(403)

    async with asyncio.timeout(LIMIT), SERVERS[server](app) as port:
        with pytest.raises(InvalidStatus) as refused:
            async with connect(f"ws://127.0.0.1:{port}/ws"):
                pass

    assert refused.value.response.status_code == 403
    assert b"<title>403 Forbidden</title>" in refused.value.response.body


@ALL_SERVERS
async def test_the_handlers_close_code_and_reason_reach_the_client(
    app: Microframework, server: str
) -> None:
    app.testing = False

    @app.websocket("/ws")
    async def close_with_a_reason() -> None:
        await websocket.accept()
        await websocket.close(4001, "bye now")

    async with asyncio.timeout(LIMIT), SERVERS[server](app) as port:
        async with connect(f"ws://127.0.0.1:{port}/ws") as ws:
            with pytest.raises(ConnectionClosed) as closed:
                await ws.recv()

    assert closed.value.rcvd is not None
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4001, "bye now")


@ALL_SERVERS
async def test_a_message_over_the_size_limit_closes_the_websocket_with_1009(
    app: Microframework, server: str
) -> None:
    app.testing = False
    app.config["WEBSOCKET_MAX_MESSAGE_SIZE"] = 1000

    @app.websocket("/echo")
    async def echo() -> None:
        while True:
            await websocket.send(await websocket.receive())

    async with asyncio.timeout(LIMIT), SERVERS[server](app) as port:
        async with connect(f"ws://127.0.0.1:{port}/echo") as ws:
            await ws.send("x" * 1000)  # at the limit: allowed
            echoed = await ws.recv()
            await ws.send("x" * 1001)
            with pytest.raises(ConnectionClosed) as closed:
                await ws.recv()

    assert echoed == "x" * 1000
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1009


# docs/websockets.md: hypercorn 0.18 reports every close the client starts as 1006.
CLIENT_CLOSE_CODE_SEEN = {"hypercorn": 1006, "uvicorn": 4321}


@ALL_SERVERS
async def test_the_clients_close_code_reaches_the_handler_as_the_server_reports_it(
    app: Microframework, server: str
) -> None:
    app.testing = False
    disconnected = asyncio.Event()
    codes: list[int] = []

    @app.websocket("/ws")
    async def listen() -> None:
        await websocket.accept()
        try:
            while True:
                await websocket.receive()
        except WebsocketDisconnect as disconnect:
            codes.append(disconnect.code)
            disconnected.set()
            raise

    async with asyncio.timeout(LIMIT), SERVERS[server](app) as port:
        async with connect(f"ws://127.0.0.1:{port}/ws") as ws:
            await ws.close(4321, "client reason")
        await disconnected.wait()

    assert codes == [CLIENT_CLOSE_CODE_SEEN[server]]


@ALL_SERVERS
async def test_a_client_leaving_mid_upload_runs_the_views_finally_and_teardown(
    app: Microframework, server: str
) -> None:
    app.testing = False
    reading = asyncio.Event()
    finally_ran = asyncio.Event()
    torn_down = asyncio.Event()
    teardown_errors: list[BaseException | None] = []

    @app.post("/upload")
    async def upload() -> str:
        try:
            async for _chunk in request.body:
                reading.set()
            return "never: the rest of the body does not come"
        finally:
            finally_ran.set()

    @app.teardown_request
    async def teardown(error: BaseException | None) -> None:
        teardown_errors.append(error)
        torn_down.set()

    head = b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n"
    async with asyncio.timeout(LIMIT), SERVERS[server](app) as port:
        _reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(head + b"a" * 5000)
        await writer.drain()
        await reading.wait()
        await close(writer)  # with 95000 bytes still owed
        await finally_ran.wait()
        await torn_down.wait()

    assert len(teardown_errors) == 1
    assert isinstance(teardown_errors[0], ClientDisconnected)


DATA = bytes(range(256)) * 40  # 10240 bytes


async def test_static_ranges_over_a_real_socket(tmp_path: Path) -> None:
    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "data.bin").write_bytes(DATA)
    app = Microframework(__name__, root_path=str(tmp_path))
    app.testing = False

    async with asyncio.timeout(LIMIT), hypercorn_serving(app) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            ranges = []
            for spec in ("0-9,5000-5009,-5", "20000-30000"):
                writer.write(
                    b"GET /static/data.bin HTTP/1.1\r\nHost: x\r\n"
                    b"Range: bytes=" + spec.encode() + b"\r\n\r\n"
                )
                await writer.drain()
                ranges.append(await read_response(reader))
        finally:
            await close(writer)

    (status, headers, body), (unsatisfiable, refused_headers, _body) = ranges
    assert status == 206
    assert headers["content-type"].startswith("multipart/byteranges; boundary=")
    assert int(headers["content-length"]) == len(body)
    assert body.count(b"Content-Range: bytes ") == 3
    for start, end in ((0, 9), (5000, 5009), (10235, 10239)):
        part = f"Content-Range: bytes {start}-{end}/10240\r\n\r\n".encode()
        assert part + DATA[start : end + 1] + b"\r\n--" in body
    assert unsatisfiable == 416
    assert refused_headers["content-range"] == "bytes */10240"


async def test_http2_carries_early_hints_and_trailers_on_hypercorn(
    app: Microframework,
) -> None:
    # Raw h2 frames: httpx shows neither 103 responses nor trailers.
    app.testing = False
    hinted: list[bool] = []

    @app.get("/page")
    async def page() -> Response:
        hinted.append(await send_early_hints("</style.css>; rel=preload; as=style"))

        async def body() -> AsyncIterator[bytes]:
            yield b"abc"
            yield b"def"

        response = Response(body(), mimetype="text/plain")
        response.trailers = {"x-digest": "sha-256=xyz"}
        return response

    h2 = H2Connection(H2Configuration(client_side=True, header_encoding="utf-8"))
    h2.initiate_connection()
    h2.send_headers(
        1,
        [
            (":method", "GET"),
            (":scheme", "http"),
            (":authority", "127.0.0.1"),
            (":path", "/page"),
            ("te", "trailers"),
        ],
        end_stream=True,
    )
    events: list[Event] = []
    async with asyncio.timeout(LIMIT), hypercorn_serving(app) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(h2.data_to_send())
            while not any(isinstance(event, StreamEnded) for event in events):
                data = await reader.read(65536)
                assert data, "the server closed the connection"
                events += h2.receive_data(data)
                writer.write(h2.data_to_send())
        finally:
            await close(writer)

    kinds = [type(event) for event in events if event.__dict__.get("stream_id") == 1]
    hints = [e for e in events if isinstance(e, InformationalResponseReceived)]
    (response,) = [e for e in events if isinstance(e, ResponseReceived)]
    (trailers,) = [e for e in events if isinstance(e, TrailersReceived)]
    body = b"".join(e.data or b"" for e in events if isinstance(e, DataReceived))
    assert hinted == [True]
    assert kinds.index(InformationalResponseReceived) < kinds.index(ResponseReceived)
    assert (":status", "103") in hints[0].headers
    assert ("link", "</style.css>; rel=preload; as=style") in hints[0].headers
    assert (":status", "200") in response.headers
    assert body == b"abcdef"
    assert ("x-digest", "sha-256=xyz") in trailers.headers
