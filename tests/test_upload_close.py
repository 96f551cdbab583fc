"""A big upload's temporary file is closed off the event loop (session 38)."""

from __future__ import annotations

import asyncio
import threading

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


@pytest.mark.parametrize("reads", ["files", "cut"])
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
        then = b"" if reads == "files" else b"Content-Disposition: form-data\r\n\r\nv"
        body = _upload(4 * 1024 * 1024, then)
        response = await client.post("/up", data=body, headers=headers)
        assert response.status_code == (200 if reads == "files" else 400)
        assert await asyncio.to_thread(done.wait, LIMIT)
    ((ident, rolled),) = closed
    assert rolled and ident != threading.get_ident()
