"""Pins from mutation testing (helper muts49, session 37): the survivors among the
mutants of the lines session 37 added or changed (357cbf6..c6ed840).

Each test kills a mutant that survived the related test files; its first comment names
the code it pins and the mutant id (see /tmp/s37/muts49/REPORT.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from asgi_harness import call
from asgi_harness import http_scope
from asgi_harness import Recorder

from microframework import Microframework
from microframework import request
from microframework import send_file
from microframework.sse import ServerSentEvent

LIMIT = 5
_CHUNK = 4096
_BUFFERED = 65536  # what a server may buffer before its send() waits


async def test_a_stream_that_never_waits_hears_its_client_leave_just_past_64_kib() -> (
    None
):
    # _guard.stream_body: `sent > BUFFERED` in the NO_WAIT turn (S9 made it
    # 2 * BUFFERED): a generator that never awaits owes its loop turns from the first
    # 64 KiB on (one a 64 KiB, each chunk counting 4 KiB more: 8 of these chunks), so
    # an aborted download is heard about 25 chunks in, not 64 KiB later.
    app = Microframework(__name__)
    made: list[int] = []

    async def rows() -> AsyncIterator[bytes]:
        for index in range(10_000):
            made.append(index)
            yield b"x" * _CHUNK

    @app.route("/export")
    async def export() -> AsyncIterator[bytes]:
        return rows()

    recorder = Recorder()
    recorder.disconnect()
    async with asyncio.timeout(LIMIT):
        await call(app, http_scope("/export"), recorder)
    assert 0 < len(made) <= _BUFFERED // _CHUNK + 12


async def test_an_http2_upload_past_the_limit_then_a_disconnect_logs_no_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # _unread._DropAll.failed: `if not self.done.done()` (U20 dropped it). Over HTTP/2
    # an unread body that goes past MAX_CONTENT_LENGTH ends the wait (done), the dropper
    # reads on, and the client's disconnect ends it again: a second set_result would
    # be an InvalidStateError in a loop callback ("Exception in callback" logged).
    app = Microframework(__name__)
    app.config["MAX_CONTENT_LENGTH"] = 20_000
    app.config["BODY_TIMEOUT"] = None

    @app.post("/upload")
    async def upload() -> tuple[str, int]:
        await asyncio.sleep(0)  # the watch starts, and reads the body ahead
        return "log in first", 401

    scope = http_scope("/upload", "POST", [], http_version="2")
    async with asyncio.timeout(LIMIT):
        recorder = await call(
            app, scope, Recorder(*[b"x" * 16_384] * 2, more_last=True)
        )
    assert recorder.status == 401
    recorder.disconnect()  # as a server does once the response is sent
    async with asyncio.timeout(LIMIT):  # the dropper reading on hears it
        while not recorder.inbox.empty():
            await asyncio.sleep(0)
        await asyncio.sleep(0)  # its callback runs
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def _open_descriptors_of(path: Path) -> list[str]:
    found = []
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            if os.readlink(f"/proc/self/fd/{fd}") == str(path):
                found.append(fd)
    return found


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd")
@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [({}, 416), ({"download_name": "a\x00b"}, ValueError)],
    ids=["416", "refused_argument"],
)
async def test_send_file_closes_the_file_it_opened_itself_when_it_raises(
    tmp_path: Path, kwargs: dict[str, Any], expected: int | type[Exception]
) -> None:
    # files._Source.close: `self.opened` in the files it closes (F2 left it out): a
    # path send_file opened is closed as it raises (a 416; a refused argument), not
    # held until the garbage collector warns about it.
    path = tmp_path / "f.bin"
    path.write_bytes(b"0123456789")
    app = Microframework(__name__)
    caught: list[BaseException] = []

    @app.get("/")
    async def index() -> Any:
        try:
            return await send_file(path, **kwargs)
        except Exception as exc:
            caught.append(exc)
            held = _open_descriptors_of(path)
            caught.append(AssertionError(held) if held else exc)
            raise

    gc.disable()  # nothing closed by the collector behind our back
    try:
        response = await app.test_client().get("/", headers={"Range": "bytes=50-"})
        assert not _open_descriptors_of(path)
    finally:
        gc.enable()
    if isinstance(expected, int):
        assert response.status_code == expected
    else:
        assert response.status_code == 500 and isinstance(caught[0], expected)
    assert not isinstance(caught[-1], AssertionError), f"still open: {caught[-1]}"


def test_an_sse_retry_set_after_the_event_was_made_is_checked_as_it_is_encoded() -> (
    None
):
    # sse.ServerSentEvent.encode: `_milliseconds(self.retry)` (E2 made it int(...)):
    # the dataclass is not frozen, so a retry assigned later is checked where it is
    # sent; EventSource ignores "retry: -5" (digits only) and "retry: 1.5" alike.
    event = ServerSentEvent("x", retry=1000)
    event.retry = -5
    with pytest.raises(ValueError, match="retry"):
        event.encode()
    event.retry = 1500.7  # type: ignore[assignment]
    with pytest.raises(ValueError, match="retry"):
        event.encode()


async def test_the_tests_cookie_headers_are_joined_as_one_with_semicolon_space() -> (
    None
):
    # testing.client._with_cookies: `"; ".join(...)` (T4 joined with ";"): the one
    # Cookie header the app sees is what RFC 6265 and HTTP/2 (RFC 9113 8.2.3) make of
    # several, "a=1; b=2", for an app that reads the raw header.
    app = Microframework(__name__)

    @app.get("/")
    async def index() -> str:
        return "|".join(request.headers.getlist("Cookie"))

    client = app.test_client()
    client.set_cookie("c", "3")
    response = await client.get("/", headers=[("Cookie", "a=1"), ("Cookie", "b=2")])
    assert await response.get_data() == b"a=1; b=2; c=3"


async def test_a_url_whose_userinfo_holds_an_at_sign_is_sent_to_the_host_after_the_last() -> (
    None
):
    # testing.utils.make_test_request: `rpartition("@")` (T6/T7 took the first "@"):
    # the host is what follows the last "@", as urlsplit (url.hostname) and real
    # clients read it, not "b@localhost".
    app = Microframework(__name__)

    @app.get("/")
    async def index() -> str:
        return request.host

    response = await app.test_client().get("http://a@b@localhost/")
    assert await response.get_data() == b"localhost"
