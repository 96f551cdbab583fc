"""The fuzz checks themselves: each rule rejects a recording that breaks it.

A check that accepts everything would make the whole fuzz suite pass vacuously.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from fuzz_harness import check_http
from fuzz_harness import check_no_unexpected_errors
from fuzz_harness import check_websocket
from fuzz_harness import Exchange
from fuzz_harness import run_http

_START = {"type": "http.response.start", "status": 200, "headers": []}
_END = {"type": "http.response.body", "body": b"", "more_body": False}


def _http(*messages: dict[str, Any]) -> Exchange:
    return Exchange(sent=list(messages))


def _start(**fields: Any) -> dict[str, Any]:
    return {**_START, **fields}


def _body(data: bytes, more: bool = False) -> dict[str, Any]:
    return {"type": "http.response.body", "body": data, "more_body": more}


def test_a_well_formed_response_passes() -> None:
    headers = [(b"content-length", b"2"), (b"x-tab", b"a\tb")]
    check_http(_http(_start(headers=headers), _body(b"o", True), _body(b"k")), "GET")


@pytest.mark.parametrize(
    ("exchange", "method", "rule"),
    [
        (_http(), "GET", "sent no response"),
        (_http(_END), "GET", "first message"),
        (_http(_start(status=103), _END), "GET", "status"),
        (_http(_start(status="200"), _END), "GET", "status"),
        (_http(_start(), _START, _END), "GET", "phase"),
        (_http(_start(), _body(b"x", True)), "GET", "never ended"),
        (_http(_start(), _END, _END), "GET", "phase"),
        (_http(_start(headers=[(b"X-Up", b"1")]), _END), "GET", "lowercase"),
        (_http(_start(headers=[(b"a b", b"1")]), _END), "GET", "token"),
        (_http(_start(headers=[(b"x", b"a\r\nb")]), _END), "GET", "value"),
        (_http(_start(headers=[(b"x", "1")]), _END), "GET", "header"),
        (_http(_start(headers=[(b"transfer-encoding", b"x")]), _END), "GET", "hop"),
        (_http(_start(), _body(b"x")), "HEAD", "sent a body"),
        (_http(_start(status=304), _body(b"x")), "GET", "sent a body"),
        (
            _http(_start(status=204, headers=[(b"content-length", b"0")]), _END),
            "GET",
            "204",
        ),
        (
            _http(_start(headers=[(b"content-length", b"3")]), _body(b"x")),
            "GET",
            "Length",
        ),
        (_http(_start(headers=[(b"content-length", b"-1")]), _END), "GET", "Length"),
        (
            _http(_start(headers=[(b"content-length", b"0")] * 2), _END),
            "GET",
            "several",
        ),
        (_http(_start(trailers=True), _END), "GET", "trailers"),
        (
            _http(_start(), _END, {"type": "http.response.trailers", "headers": []}),
            "GET",
            "announce",
        ),
    ],
)
def test_a_broken_response_fails(exchange: Exchange, method: str, rule: str) -> None:
    with pytest.raises(AssertionError, match=rule):
        check_http(exchange, method)


def test_a_client_that_left_accepts_a_prefix_only() -> None:
    check_http(_http(), "GET", complete=False)
    check_http(_http(_start(), _body(b"x", True)), "GET", complete=False)
    with pytest.raises(AssertionError, match="phase"):
        check_http(_http(_start(), _END, _body(b"x")), "GET", complete=False)


_ACCEPT = {"type": "websocket.accept"}
_CLOSE = {"type": "websocket.close", "code": 1000}


@pytest.mark.parametrize(
    ("messages", "rule"),
    [
        ([{"type": "websocket.send", "text": "x"}], "before accepting"),
        ([_ACCEPT, _ACCEPT], "twice"),
        ([_ACCEPT, {"type": "websocket.send", "text": "x", "bytes": b"x"}], "send"),
        ([_ACCEPT, {"type": "websocket.close", "code": 1005}], "close code"),
        ([_ACCEPT, {"type": "websocket.close", "code": 999}], "close code"),
        ([_ACCEPT, {"type": "websocket.close", "reason": "é" * 62}], "reason"),
        ([_ACCEPT, _CLOSE, {"type": "websocket.send", "text": "x"}], "after the end"),
        ([_ACCEPT, {"type": "websocket.http.response.start", "status": 403}], "reject"),
        ([{"type": "websocket.http.response.start", "status": 403}], "never ended"),
        ([{"type": "websocket.http.response.body", "body": b""}], "without a start"),
    ],
)
def test_a_broken_websocket_session_fails(
    messages: list[dict[str, Any]], rule: str
) -> None:
    with pytest.raises(AssertionError, match=rule):
        check_websocket(Exchange(sent=messages))


def test_only_deliberate_errors_may_be_logged() -> None:
    def record(error: BaseException) -> logging.LogRecord:
        info = (type(error), error, None)
        return logging.LogRecord("app", logging.ERROR, __file__, 1, "boom", (), info)

    check_no_unexpected_errors(Exchange(errors=[record(KeyError())]), KeyError)
    with pytest.raises(AssertionError, match="unexpected error"):
        check_no_unexpected_errors(Exchange(errors=[record(ValueError())]), KeyError)


async def test_a_hang_is_reported() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await asyncio.Event().wait()

    app.logger = logging.getLogger("fuzz-hang")  # type: ignore[attr-defined]
    with pytest.raises(AssertionError, match="hung"):
        await run_http(app, {"type": "http"}, [], timeout=0.01)
