"""Pins from mutation testing ``wrappers/response.py`` and ``wrappers/body.py`` (s21)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import warnings
from collections.abc import AsyncIterator
from typing import Any

import pytest
from asgi_harness import call
from asgi_harness import http_scope

from microframework import Microframework
from microframework import request
from microframework import Response
from microframework.wrappers import response as response_module
from microframework.wrappers.body import make_body
from microframework.wrappers.body import WriterBody
from microframework.wrappers.response import DataBody
from microframework.wrappers.response import encode_headers
from microframework.wrappers.response import IOBody
from microframework.wrappers.response import plain_response_headers

_TRAILERS: dict[str, dict[str, Any]] = {"http.response.trailers": {}}


class NoLength(Response):
    automatically_set_content_length = False


# -- headers -----------------------------------------------------------------------------


async def test_two_spellings_of_content_length_in_a_dict_send_one(
    app: Microframework,
) -> None:
    # As werkzeug's Headers: setting Content-Length replaces every spelling of it.
    given = {"Content-Length": "1", "content-length": "2"}
    assert Response("abc", headers=given).headers.getlist("Content-Length") == ["3"]

    @app.get("/")
    async def index() -> tuple[str, dict[str, str]]:
        return "abc", dict(given)

    rec = await call(app, http_scope("/"))
    assert [v for k, v in rec.sent[0]["headers"] if k == b"content-length"] == [b"3"]


def test_plain_response_headers_gives_a_fresh_list_each_time() -> None:
    # ASGI middleware often appends to message["headers"] in place: the encoded
    # headers a dict is remembered as must not be the list handed out.
    first = plain_response_headers(NoLength, {"X-View": "1"}, 3)
    assert first == [(b"x-view", b"1"), (b"content-type", b"text/html; charset=utf-8")]
    first.append((b"x-mw", b"1"))
    assert plain_response_headers(NoLength, {"X-View": "1"}, 3) == first[:-1]


def test_the_encoded_header_cache_stays_bounded() -> None:
    # Short varying values (Date, request ids) must not grow it without end.
    for index in range(600):
        encode_headers([("X-Request-Id", f"id-{index}")])
    assert len(response_module._ENCODED) <= 512


async def test_a_class_without_automatic_length_sets_none(app: Microframework) -> None:
    # werkzeug's automatically_set_content_length = False: no Content-Length is made.
    assert "Content-Length" not in NoLength("abc").headers
    response = NoLength(None, headers=[("X-A", "1")])
    response.set_data(b"abcd")
    assert "Content-Length" not in response.headers
    assert await response.get_data() == b"abcd"


async def test_a_204_sends_no_content_length_but_keeps_its_type(
    app: Microframework,
) -> None:
    # RFC 9110 8.6: a 204 never carries Content-Length. As werkzeug's, only that
    # goes: what a 304 drops (Content-Type, ...) stays.
    @app.get("/")
    async def index() -> Response:
        return Response("ignored", status=204)

    rec = await call(app, http_scope("/"))
    assert rec.status == 204
    assert b"content-length" not in rec.headers
    assert rec.headers[b"content-type"] == b"text/html; charset=utf-8"
    assert rec.body == b""


# -- body --------------------------------------------------------------------------------


async def test_set_data_copies_a_bytearray() -> None:
    data = bytearray(b"abc")
    response = Response()
    response.set_data(data)
    data[:] = b"xyz"
    body = await response.get_data()
    assert body == b"abc" and type(body) is bytes


async def test_a_stream_that_fails_while_joined_is_closed() -> None:
    closed: list[bool] = []

    async def body() -> AsyncIterator[Any]:
        try:
            yield b"a"
            yield 1  # not bytes: encode_chunk raises
        finally:
            closed.append(True)

    response = Response(body())
    with pytest.raises(TypeError, match="bytes or str"):
        await response.get_data()
    assert closed == [True]


class _Source:
    """An async iterable that records whether it was read and closed."""

    def __init__(self) -> None:
        self.read = self.closed = False

    def __aiter__(self) -> _Source:
        return self

    async def __anext__(self) -> bytes:
        if self.read:
            raise StopAsyncIteration
        self.read = True
        return b"never sent"

    async def aclose(self) -> None:
        self.closed = True


@pytest.mark.parametrize("status", [204, 304])
async def test_a_streamed_body_with_a_no_body_status_sends_nothing_and_is_closed(
    app: Microframework, status: int
) -> None:
    source = _Source()

    @app.get("/")
    async def index() -> Response:
        return Response(source, status=status)

    async with asyncio.timeout(5):
        rec = await call(app, http_scope("/"))
    assert rec.status == status
    assert rec.body == b""
    assert not source.read and source.closed


async def test_no_trailers_after_a_stream_abandoned_at_its_timeout(
    app: Microframework, caplog: pytest.LogCaptureFixture
) -> None:
    @app.get("/")
    async def index() -> Response:
        async def body() -> AsyncIterator[bytes]:
            yield b"first"
            await asyncio.Event().wait()  # the producer goes quiet
            yield b"never"

        response = Response(body())
        response.timeout = 0.01
        response.trailers = {"X-Done": "1"}
        return response

    with caplog.at_level(logging.WARNING):
        async with asyncio.timeout(5):
            rec = await call(app, http_scope("/", extensions=dict(_TRAILERS)))
    assert rec.body == b"first"
    assert rec.sent[-1]["type"] == "http.response.body"
    assert rec.sent[-1]["more_body"] is True  # left unfinished, no trailers after it


def test_a_data_body_knows_its_length() -> None:
    assert DataBody(b"abc").content_length == 3


async def test_an_io_body_reads_a_stream_that_cannot_seek() -> None:
    class Pipe(io.RawIOBase):
        def __init__(self) -> None:
            self.chunks = [b"ab", b"c"]

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: Any) -> int:
            if not self.chunks:
                return 0
            chunk = self.chunks.pop(0)
            buffer[: len(chunk)] = chunk
            return len(chunk)

    body = IOBody(io.BufferedReader(Pipe()))
    assert body.content_length is None
    assert await Response(body).get_data() == b"abc"


async def test_quarts_async_with_closes_the_body_it_gave() -> None:
    # Quart's protocol: ``async with body as chunks``; leaving it closes the source.
    closed: list[bool] = []

    async def source() -> AsyncIterator[bytes]:
        try:
            yield b"a"
            yield b"b"
        finally:
            closed.append(True)

    chunks = []
    async with make_body(source()) as body:
        iterator = aiter(body)
        chunks.append(await anext(iterator))
    assert chunks == [b"a"] and closed == [True]
    await iterator.aclose()  # type: ignore[attr-defined]


async def test_a_cancel_of_the_closer_stands_when_the_writer_swallows_it() -> None:
    # A server shutting down cancels the task closing a body; a writer that ignores
    # cancels must not make that cancel disappear.
    started, first_cancel = asyncio.Event(), asyncio.Event()

    async def writer(write: Any) -> None:
        started.set()
        for _ in range(2):  # the close's cancel, then the closer's
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                first_cancel.set()

    body = WriterBody(writer)
    iterator = aiter(body)
    pending = asyncio.ensure_future(anext(iterator))
    async with asyncio.timeout(5):
        await started.wait()
        closing = asyncio.ensure_future(body.aclose())
        await first_cancel.wait()
        closing.cancel()
        with pytest.raises(asyncio.CancelledError):
            await closing
        with contextlib.suppress(StopAsyncIteration):
            await pending
    await iterator.aclose()  # type: ignore[attr-defined]


# -- cookies -----------------------------------------------------------------------------


def test_a_control_in_a_later_cookie_escapes_that_cookie_only() -> None:
    response = Response()
    response.set_cookie("a", "plain")
    response.set_cookie("b", "x\x1ay")
    assert response.headers.getlist("Set-Cookie") == [
        "a=plain; Path=/",
        'b="x\\032y"; Path=/',
    ]


def test_outside_an_app_a_cookie_past_werkzeugs_size_warns() -> None:
    # No app: werkzeug's max_cookie_size (4093), as Flask's Response falls back to.
    response = Response()
    with pytest.warns(UserWarning, match="cookie is too large"):
        response.set_cookie("big", "x" * 5000)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        response.set_cookie("small", "x" * 100)


# -- make_conditional --------------------------------------------------------------------


def _conditional_app(**options: Any) -> Microframework:
    app = Microframework(__name__)

    @app.route("/", methods=["GET", "HEAD"])
    async def index() -> Response:
        response = Response("0123456789")
        response.set_etag("v1")
        if "date" in options:
            response.headers["Date"] = options.pop("date")
        return await response.make_conditional(request, **options)

    return app


async def test_a_head_request_is_conditional_too() -> None:
    client = _conditional_app().test_client()
    response = await client.head("/", headers={"If-None-Match": '"v1"'})
    assert response.status_code == 304


async def test_make_conditional_keeps_a_date_the_view_set() -> None:
    date = "Wed, 21 Oct 2015 07:28:00 GMT"
    response = await _conditional_app(date=date).test_client().get("/")
    assert response.headers["Date"] == date


async def test_a_304_from_make_conditional_has_an_empty_body(
    app: Microframework,
) -> None:
    # As Quart's: the data is set to b"" (an after_request hook reads it).
    seen: list[bytes] = []

    @app.get("/")
    async def index() -> Response:
        response = Response("0123456789")
        response.set_etag("v1")
        return await response.make_conditional(request)

    @app.after_request
    async def read(response: Response) -> Response:
        seen.append(await response.get_data())
        return response

    response = await app.test_client().get("/", headers={"If-None-Match": '"v1"'})
    assert response.status_code == 304
    assert seen == [b""]


async def test_accept_ranges_sends_the_string_given() -> None:
    response = await _conditional_app(accept_ranges="none").test_client().get("/")
    assert response.headers["Accept-Ranges"] == "none"


async def test_complete_length_is_the_content_ranges_length() -> None:
    client = _conditional_app(accept_ranges=True, complete_length=50).test_client()
    response = await client.get("/", headers={"Range": "bytes=0-3"})
    assert response.status_code == 206
    assert response.headers["Content-Range"] == "bytes 0-3/50"
    assert await response.get_data() == b"0123"
