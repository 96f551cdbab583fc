"""A big upload's temporary file is closed off the event loop (session 38)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator

import pytest
from servers import LIMIT

from microframework import Microframework
from microframework import request

BOUNDARY = "b0undary-Xy9"


def _upload(size: int, then: bytes = b"") -> bytes:
    return (
        (
            f"--{BOUNDARY}\r\n"
            'Content-Disposition: form-data; name="f"; filename="big.bin"\r\n\r\n'
        ).encode()
        + b"x" * size
        + (f"\r\n--{BOUNDARY}\r\n".encode() + then if then else b"")
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )


@pytest.mark.parametrize("reads", ["files", "cut", "mid-file"])
async def test_a_big_upload_on_disk_is_closed_off_the_event_loop(
    monkeypatch: pytest.MonkeyPatch, reads: str
) -> None:
    # Closing a 512 MiB temporary file frees its pages: 40-300 ms the loop was held,
    # every other request with it. Closed in a thread, it is still closed: after the
    # response, and when the body is cut mid-upload (a client gone, a 413).
    from microframework import datastructures
    from microframework import formparser

    monkeypatch.setattr(datastructures, "CLOSE_OFF_LOOP", 1024 * 1024, raising=False)
    closed: list[tuple[int, bool]] = []
    done = threading.Event()
    real = formparser.tempfile.SpooledTemporaryFile

    class Recorded(real):  # type: ignore[misc,valid-type]
        def close(self) -> None:
            rolled = self._rolled
            super().close()
            closed.append((threading.get_ident(), rolled))
            if rolled:
                done.set()

    monkeypatch.setattr(formparser.tempfile, "SpooledTemporaryFile", Recorded)
    app = Microframework(__name__)

    @app.route("/up", methods=["POST"])
    async def up() -> str:
        files = await request.files
        return str(len(files["f"].read()))

    client = app.test_client()
    headers = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    async with asyncio.timeout(LIMIT):
        # cut: a part with no name after the file, a 400 that closes what was parsed
        then = b"Content-Disposition: form-data\r\n\r\nv" if reads == "cut" else b""
        body = _upload(4 * 1024 * 1024, then)
        if reads == "mid-file":  # the body ends inside the file part (cut by a proxy)
            body = body[: -len(f"\r\n--{BOUNDARY}--\r\n")]
        response = await client.post("/up", data=body, headers=headers)
        assert response.status_code == (200 if reads == "files" else 400)
        assert await asyncio.to_thread(done.wait, LIMIT)
    ((ident, rolled),) = closed
    assert rolled and ident != threading.get_ident()


@pytest.mark.parametrize("ends", ["read", "cut"])
async def test_a_big_body_file_on_disk_is_closed_off_the_event_loop(
    monkeypatch: pytest.MonkeyPatch, ends: str
) -> None:
    # Request.release and get_body_file: a raw body spooled by get_body_file (a big
    # PUT, docs/streaming.md) is the same temporary file as a multipart upload's, and
    # freeing its pages held the loop as long (a 128 MiB one: ~20 ms).
    from microframework import datastructures
    from microframework.wrappers import request as request_module

    monkeypatch.setattr(datastructures, "CLOSE_OFF_LOOP", 1024 * 1024)
    closed: list[tuple[int, bool]] = []
    done = threading.Event()
    real = request_module.SpooledTemporaryFile

    class Recorded(real):  # type: ignore[misc,valid-type]
        def close(self) -> None:
            rolled = self._rolled
            super().close()
            closed.append((threading.get_ident(), rolled))
            if rolled:
                done.set()

    monkeypatch.setattr(request_module, "SpooledTemporaryFile", Recorded)
    app = Microframework(__name__)
    app.config["BODY_SPOOL_SIZE"] = 64 * 1024

    @app.put("/blob")
    async def blob() -> str:
        body = await request.get_body_file()
        return str(len(body.read()))

    body = b"x" * (4 * 1024 * 1024)
    async with asyncio.timeout(LIMIT):
        if ends == "read":
            response = await app.test_client().put("/blob", data=body)
            assert await response.get_data(as_text=True) == str(len(body))
        else:  # past MAX_CONTENT_LENGTH, sent without a length: get_body_file's own
            app.config["MAX_CONTENT_LENGTH"] = 2 * 1024 * 1024  # clean-up closes it
            async with app.test_client().request("/blob", method="PUT") as connection:
                for at in range(0, len(body), 64 * 1024):  # spooled, then refused
                    await connection.send(body[at : at + 64 * 1024])
                await connection.send_complete()
                assert (await connection.as_response()).status_code == 413
        assert await asyncio.to_thread(done.wait, LIMIT)
    ((ident, rolled),) = closed
    assert rolled and ident != threading.get_ident()


async def test_a_parse_cancelled_mid_file_on_disk_is_still_a_cancellation() -> None:
    # formparser.FormDataParser.parse closes the file being written in `except
    # BaseException`: a close that raised (cf2b347: TypeError) replaced the
    # CancelledError of a client gone or a timeout.
    from microframework.formparser import FormDataParser

    gate = asyncio.Event()

    async def body() -> AsyncIterator[bytes]:
        yield (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="f"; '
            'filename="a"\r\n\r\n'
        ).encode()
        yield b"x" * (600 * 1024)  # past the 500 KiB spool: on disk
        gate.set()
        await asyncio.Event().wait()  # the client stalls

    parse = asyncio.ensure_future(
        FormDataParser().parse(body(), "multipart/form-data", {"boundary": BOUNDARY})
    )
    async with asyncio.timeout(LIMIT):
        await gate.wait()
        parse.cancel()
        with pytest.raises(asyncio.CancelledError):
            await parse
