"""Pins for mutants of formparser.py, wrappers/body.py, wrappers/request.py (body
limits) and conditional.py that the suite let survive (session 21, parsemut).

Tiny limits, crafted bytes, no sleeps."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from collections.abc import Sequence
from typing import Any

import pytest
from werkzeug.datastructures import Headers
from werkzeug.exceptions import BadRequest
from werkzeug.exceptions import RequestEntityTooLarge

from microframework import Microframework
from microframework import request
from microframework import Response
from microframework.conditional import drop_for_not_modified
from microframework.conditional import precondition_status
from microframework.exceptions import ClientDisconnected
from microframework.formparser import FormDataParser
from microframework.wrappers.body import WriterBody

MULTIPART = "multipart/form-data"
URLENCODED = "application/x-www-form-urlencoded"
B = "pinB0undary"


async def _stream(chunks: Sequence[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


def _mp(parts: Sequence[tuple[str, bytes, str | None, str | None]]) -> bytes:
    out = bytearray()
    for name, value, filename, ctype in parts:
        out += f"--{B}\r\n".encode()
        disp = f'Content-Disposition: form-data; name="{name}"'
        if filename is not None:
            disp += f'; filename="{filename}"'
        out += disp.encode("utf-8") + b"\r\n"
        if ctype is not None:
            out += f"Content-Type: {ctype}\r\n".encode()
        out += b"\r\n" + value + b"\r\n"
    out += f"--{B}--\r\n".encode()
    return bytes(out)


async def _parse(chunks: Sequence[bytes], mimetype: str = MULTIPART, **kw: Any) -> Any:
    options = {"boundary": B} if mimetype == MULTIPART else {}
    form, files = await FormDataParser(**kw).parse(_stream(chunks), mimetype, options)
    for storage in files.values():
        storage.close()
    return form, files


# -- formparser ----------------------------------------------------------------


async def test_max_form_parts_counts_files_too() -> None:  # F09
    body = _mp(
        [
            ("a", b"1", None, None),
            ("f", b"x", "f.txt", None),
            ("g", b"y", "g.txt", None),
        ]
    )
    with pytest.raises(RequestEntityTooLarge, match="more than 2 parts"):
        await _parse([body], max_form_parts=2)
    form, files = await _parse([body], max_form_parts=3)
    assert (len(form), len(files)) == (1, 2)


async def test_multipart_field_name_limit_counts_utf8_bytes() -> None:  # F12
    name = "é" * 6  # 6 characters, 12 bytes
    body = _mp([(name, b"v", None, None)])
    with pytest.raises(RequestEntityTooLarge, match="field name"):
        await _parse([body], max_field_name_size=10)
    form, _ = await _parse([body], max_field_name_size=12)
    assert form[name] == "v"


async def test_urlencoded_uses_the_parser_charset() -> None:  # F06
    form, _ = await _parse([b"n%E9=v%E9"], URLENCODED, charset="latin-1")
    assert list(form.items()) == [("né", "vé")]


async def test_boundary_of_200_characters_is_accepted_201_refused() -> None:  # F21

    for size, ok in ((200, True), (201, False)):
        boundary = "b" * size
        body = f'--{boundary}\r\nContent-Disposition: form-data; name="a"\r\n\r\nv\r\n--{boundary}--\r\n'
        coro = FormDataParser().parse(
            _stream([body.encode()]), MULTIPART, {"boundary": boundary}
        )
        if ok:
            form, _ = await coro
            assert form["a"] == "v"
        else:
            with pytest.raises(BadRequest):
                await coro


async def test_part_charset_is_matched_case_insensitively() -> None:  # F23
    body = _mp([("a", "é".encode("latin-1"), None, "text/plain; charset=ISO-8859-1")])
    form, _ = await _parse([body])
    assert form["a"] == "é"


# -- wrappers/body.py ----------------------------------------------------------


async def test_str_chunks_of_a_stream_are_utf8_encoded(
    app: Microframework,
) -> None:  # B02

    @app.get("/")
    async def index() -> Any:
        async def gen() -> AsyncIterator[str]:
            yield "é"
            yield "x"

        return gen()

    response = await app.test_client().get("/")
    assert await response.get_data() == "éx".encode()


async def test_a_write_waiting_in_another_task_raises_once_the_body_is_closed() -> (
    None
):  # B06

    outcome: list[str] = []
    started = asyncio.Event()

    async def helper(write: Any) -> None:
        started.set()
        try:
            await write(b"second")
            outcome.append("returned")
        except ClientDisconnected:
            outcome.append("disconnected")

    async def writer(write: Any) -> None:
        await write(b"first")
        helper_task = asyncio.create_task(helper(write))
        await asyncio.Event().wait()  # until cancelled; the helper task runs on
        del helper_task

    body = WriterBody(writer)
    iterator = aiter(body)
    assert await anext(iterator) == b"first"
    chunk = await anext(iterator)  # the helper's write is queued and waits to drain
    assert chunk == b"second"
    await body.aclose()  # before the chunk is sent: the waiting write must hear it
    for _ in range(5):
        await asyncio.sleep(0)
    assert outcome == ["disconnected"]
    await iterator.aclose()


# -- wrappers/request.py (MAX_CONTENT_LENGTH) ------------------------------------


async def test_a_body_of_exactly_max_content_length_is_accepted(
    app: Microframework,
) -> None:  # R02

    app.config["MAX_CONTENT_LENGTH"] = 5

    @app.post("/")
    async def index() -> Any:
        return str(len(await request.get_data()))

    client = app.test_client()
    ok = await client.post("/", data=b"12345")
    assert (ok.status_code, await ok.get_data()) == (200, b"5")
    over = await client.post("/", data=b"123456")
    assert over.status_code == 413


async def test_per_request_max_form_memory_size_is_honoured(
    app: Microframework,
) -> None:  # R07

    @app.post("/")
    async def index() -> Any:
        request.max_form_memory_size = 5
        return dict(await request.form)

    client = app.test_client()
    response = await client.post("/", form={"a": "123456"})
    assert response.status_code == 413


# -- conditional.py ------------------------------------------------------------


async def test_if_range_date_must_equal_last_modified(
    app: Microframework,
) -> None:  # C11

    @app.get("/")
    async def index() -> Any:
        response = Response(b"0123456789")
        response.headers["Last-Modified"] = "Wed, 01 Jan 2025 00:00:00 GMT"
        return await response.make_conditional(request, accept_ranges=True)

    client = app.test_client()
    same = await client.get(
        "/", headers={"Range": "bytes=0-1", "If-Range": "Wed, 01 Jan 2025 00:00:00 GMT"}
    )
    assert same.status_code == 206
    later = await client.get(
        "/", headers={"Range": "bytes=0-1", "If-Range": "Thu, 02 Jan 2025 00:00:00 GMT"}
    )
    assert (later.status_code, await later.get_data()) == (200, b"0123456789")


async def test_a_304_drops_content_range() -> None:  # C27

    headers = Headers(
        {"Content-Range": "bytes 0-1/10", "Content-Type": "text/plain", "ETag": '"a"'}
    )
    drop_for_not_modified(headers)
    assert list(headers.keys()) == ["ETag"]


async def test_memoryview_chunks_of_a_stream_are_sent(
    app: Microframework,
) -> None:  # B01

    @app.get("/")
    async def index() -> Any:
        async def gen() -> AsyncIterator[Any]:
            yield memoryview(b"ab")
            yield bytearray(b"c")

        return gen()

    response = await app.test_client().get("/")
    assert (response.status_code, await response.get_data()) == (200, b"abc")


async def test_per_request_max_content_length_is_honoured(
    app: Microframework,
) -> None:  # R05

    @app.post("/")
    async def index() -> Any:
        request.max_content_length = 3
        return await request.get_data()

    response = await app.test_client().post("/", data=b"12345")
    assert response.status_code == 413


async def test_if_match_never_matches_a_weak_etag() -> None:  # C01

    response = Headers({"ETag": 'W/"a"'})
    assert precondition_status(Headers({"If-Match": '"a"'}), response) == 412
    assert (
        precondition_status(Headers({"If-Match": '"a"'}), Headers({"ETag": '"a"'}))
        is None
    )
