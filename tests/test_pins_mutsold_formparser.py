"""Pins from mutation testing of formparser.py (helper mutsold, session 29).

Each test kills a mutant that survived the related test files; its first comment names
the code it pins.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from microframework.formparser import FormDataParser


def _body(size: int) -> bytes:
    return (
        b'--B\r\nContent-Disposition: form-data; name="f"; filename="a.bin"\r\n'
        b"Content-Type: application/octet-stream\r\n\r\n"
        + b"x" * size
        + b"\r\n--B--\r\n"
    )


async def _parse(body: bytes):  # type: ignore[no-untyped-def]
    async def stream() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 65536):
            yield body[start : start + 65536]

    return await FormDataParser(max_form_memory_size=None).parse(
        stream(), "multipart/form-data", {"boundary": "B"}
    )


async def test_a_large_upload_spills_to_disk_and_a_small_one_stays_in_memory() -> None:
    # formparser._MultipartReader._start_part: SpooledTemporaryFile(max_size=
    # _FILE_SPOOL_SIZE), 500 KiB as werkzeug: a bigger upload is not held in memory.
    _, files = await _parse(_body(600 * 1024))
    big = files["f"]
    assert big.stream._rolled is True  # type: ignore[attr-defined]
    assert len(big.read()) == 600 * 1024
    big.close()
    _, files = await _parse(_body(100 * 1024))
    small = files["f"]
    assert small.stream._rolled is False  # type: ignore[attr-defined]
    small.close()
