"""Pins from mutation testing (helper muts52, session 38): the survivors among the
mutants of ``files.py`` (lines 375-524), ``conditional.py`` and ``wrappers/filebody.py``.

Each test kills a mutant that survived the related test files; its first comment names
the code it pins and the mutant id.
"""

from __future__ import annotations

import asyncio
import io
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from asgi_harness import call
from asgi_harness import http_scope
from werkzeug.http import parse_date

from microframework import Microframework
from microframework import send_file

BODY = b"0123456789abcdef"
LIMIT = 10


def _file(tmp_path: Path) -> Path:
    path = tmp_path / "data.bin"
    path.write_bytes(BODY)
    return path


def _app(path: Path, **kwargs: object) -> Microframework:
    app = Microframework(__name__)

    @app.get("/")
    async def index() -> object:
        return await send_file(path, **kwargs)  # type: ignore[arg-type]

    return app


async def test_a_last_modified_of_another_type_is_refused_by_name(
    tmp_path: Path,
) -> None:
    # files._add_validators: the isinstance check on last_modified (F21). Without it
    # werkzeug's http_date raises a TypeError too, but one that names no argument
    # ("'str' object cannot be interpreted as an integer").
    app = Microframework(__name__)
    async with app.test_request_context("/"):
        with pytest.raises(TypeError, match="last_modified must be a"):
            await send_file(_file(tmp_path), last_modified="yesterday")  # type: ignore[arg-type]


async def test_an_empty_etag_string_is_sent_as_an_empty_etag(tmp_path: Path) -> None:
    # files._add_validators: `if tag is not None` (F22), not `if tag`: etag="" is the
    # app's own (empty) tag, sent as "" as in Flask, not dropped.
    response = await _app(_file(tmp_path), etag="").test_client().get("/")
    assert response.headers["ETag"] == '""'


async def test_expires_is_max_age_seconds_from_now(tmp_path: Path) -> None:
    # files._add_cache_headers: Expires is time.time() + max_age (F33), as in Flask; not
    # "now", which a cache honouring Expires over a lost max-age would take as stale.
    before = int(time.time())
    response = await _app(_file(tmp_path), max_age=3600).test_client().get("/")
    after = time.time()
    expires = parse_date(response.headers["Expires"])
    assert expires is not None
    assert before + 3600 <= expires.timestamp() <= after + 3600


@pytest.mark.parametrize("if_range", [' "abc"', '"abc" ', '\t"abc"'])
async def test_if_range_is_compared_without_surrounding_whitespace(
    tmp_path: Path, if_range: str
) -> None:
    # conditional.requested_ranges: `if_range.strip()` (C19). A value that kept its
    # surrounding whitespace (an ASGI app that gets the raw field, the test client) is
    # still the ETag: the range is sent.
    response = await (
        _app(_file(tmp_path), etag="abc")
        .test_client()
        .get("/", headers={"If-Range": if_range, "Range": "bytes=0-3"})
    )
    assert response.status_code == 206
    assert await response.get_data() == BODY[:4]


async def test_each_multipart_response_has_a_boundary_of_its_own(
    tmp_path: Path,
) -> None:
    # conditional.PartialContent: `secrets.token_hex(16)` (C59). A fixed boundary is one
    # a file can hold ("--bbbb..." in an uploaded file cuts the parts where it is, for
    # every client); a random one per response can't be planted.
    client = _app(_file(tmp_path)).test_client()
    boundaries = set()
    for _ in range(2):
        response = await client.get("/", headers={"Range": "bytes=0-1,4-5"})
        assert response.status_code == 206
        boundaries.add(response.mimetype_params["boundary"])
    assert len(boundaries) == 2


class _Reader(io.RawIOBase):
    """A file object (not a BytesIO) that records the threads its read() ran in."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)
        self.read_threads: set[int] = set()

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        self.read_threads.add(threading.get_ident())
        return self._data.readinto(buffer)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._data.seek(offset, whence)

    def tell(self) -> int:
        return self._data.tell()


async def test_a_file_objects_reads_run_off_the_loop() -> None:
    # wrappers/filebody.FileBody._chunks: `asyncio.to_thread(file.read, size)` (B10). A
    # file object's read may block (a disk, a network file system, a zip member that
    # decompresses): the loop, every other request with it, would wait on it.
    app = Microframework(__name__)
    file = _Reader(BODY)

    @app.get("/")
    async def index() -> object:
        return await send_file(file, mimetype="application/octet-stream")

    response = await app.test_client().get("/")

    assert await response.get_data() == BODY
    assert file.read_threads
    assert threading.get_ident() not in file.read_threads


async def test_a_file_body_of_unknown_size_is_streamed_under_zerocopysend(
    tmp_path: Path,
) -> None:
    # wrappers/filebody.FileBody.send: `self.size is None` streams (B24). Quart's
    # FileBody(path) knows no size: zerocopysend's count would be None - 0 (a TypeError,
    # a cut response); the chunks are read to the end instead.
    from microframework import Response
    from microframework.wrappers.response import FileBody

    path = _file(tmp_path)
    app = Microframework(__name__)

    @app.get("/")
    async def index() -> Response:
        return Response(FileBody(str(path)), mimetype="application/octet-stream")

    scope = http_scope("/", extensions={"http.response.zerocopysend": {}})
    recorder = await call(app, scope)

    assert recorder.sent[0]["status"] == 200
    assert [m["type"] for m in recorder.sent[1:]] == ["http.response.body"] * len(
        recorder.sent[1:]
    )
    assert b"".join(m.get("body", b"") for m in recorder.sent[1:]) == BODY


async def test_zerocopysend_sends_the_file_opened_not_the_path_now(
    tmp_path: Path,
) -> None:
    # wrappers/filebody.FileBody.send: `file, self.opened = self.opened, None` (B34). The
    # file send_file opened (whose size the headers give) is handed to the server, even
    # once an after_request function removed the path; opening the path again found
    # nothing (FileNotFoundError, a cut response) and left the opened file to the GC.
    path = _file(tmp_path)
    app = Microframework(__name__)

    @app.get("/")
    async def index() -> object:
        return await send_file(path)

    @app.after_request
    async def clean_up(response: Any) -> Any:
        path.unlink()
        return response

    received: list[bytes] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.zerocopysend":
            file = message["file"]
            file.seek(message["offset"])
            received.append(file.read(message["count"]))

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    scope = http_scope("/", extensions={"http.response.zerocopysend": {}})
    await app(scope, receive, send)

    assert received == [BODY]


@pytest.mark.parametrize(
    "extension", ["http.response.pathsend", "http.response.zerocopysend"]
)
async def test_a_plain_oserror_from_the_servers_file_send_is_a_client_gone(
    tmp_path: Path, extension: str
) -> None:
    # wrappers/filebody._sending: `except OSError` (B41), not only ConnectionError: a
    # server's send() may raise a bare OSError once the peer left ("socket closed"):
    # a client gone (nothing raised to the server), not the app's error.
    path = _file(tmp_path)
    app = Microframework(__name__)

    @app.get("/")
    async def index() -> object:
        return await send_file(path)

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == extension:
            raise OSError("socket closed")

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    # (no teardown function: pathsend is used only when no app code runs after it)
    await app(http_scope("/", extensions={extension: {}}), receive, send)  # no raise


async def test_a_body_cancelled_while_opening_a_missing_file_stays_cancelled(
    tmp_path: Path,
) -> None:
    # wrappers/filebody._open: `with suppress(Exception)` around the late close (B44).
    # A request cancelled (client gone, timeout) while its file opens in a thread stays
    # cancelled when the open then fails: the FileNotFoundError must not replace the
    # CancelledError (a TaskGroup or timeout would take it for the app's error).
    from microframework.wrappers.response import FileBody

    body = FileBody(str(tmp_path / "missing.bin"))
    async with asyncio.timeout(LIMIT):
        step = asyncio.ensure_future(body.__aiter__().__anext__())
        await asyncio.sleep(0)  # the step now waits on the open
        step.cancel()
        with pytest.raises(asyncio.CancelledError):
            await step
