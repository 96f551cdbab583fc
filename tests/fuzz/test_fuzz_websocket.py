"""Fuzz the app over raw ASGI websockets: any session ends well-formed.

Properties checked on every example: the app returns (no hang); no exception escapes
it; accept, send, close and rejection messages follow the lifecycle with valid close
codes and headers (``check_websocket``); nothing but a deliberate error is logged, and
only a deliberate error closes with 1011 or rejects with a 5xx.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from fuzz_app import Deliberate
from fuzz_app import WEBSOCKET_MAX_MESSAGE_SIZE
from fuzz_harness import check_no_unexpected_errors
from fuzz_harness import check_websocket
from fuzz_harness import Exchange
from fuzz_harness import run_websocket
from fuzz_strategies import budget
from fuzz_strategies import cookie_header
from fuzz_strategies import decode_path
from fuzz_strategies import HOSTS
from fuzz_strategies import interesting_headers
from fuzz_strategies import json_values
from fuzz_strategies import query_string
from fuzz_strategies import rarely
from fuzz_strategies import raw_target
from fuzz_strategies import shorten
from hypothesis import given
from hypothesis import strategies as st

from microframework import Microframework

_WS_ROUTES = [
    "/ws/echo",
    "/ws/json",
    "/ws/subprotocol",
    "/ws/reject",
    "/ws/close/{n}",
    "/ws/close/{n}?reason={q}",
    "/ws/boom",
    "/ws/session",
    "/ws/room/{s}",
    "/bp/ws",
    "/ws/{s}",
    "/",
    "/int/{n}",
]
_frame_text = st.one_of(
    st.text(max_size=40),
    json_values.map(json.dumps),
    st.sampled_from(["", "[" * 2000, "x" * 600, "é" * 200, '{"a": 1}', "null"]),
)
_frame_bytes = st.one_of(
    st.binary(max_size=40),
    st.sampled_from([b"", b"\xff" * 10, b"x" * 600, b'{"a": 1}', b"\xef\xbb\xbf[]"]),
)
_frame = st.one_of(
    _frame_text.map(lambda text: {"type": "websocket.receive", "text": text}),
    _frame_bytes.map(lambda data: {"type": "websocket.receive", "bytes": data}),
    _frame_text.map(lambda t: {"type": "websocket.receive", "bytes": None, "text": t}),
)
_disconnect = st.builds(
    lambda code: {"type": "websocket.disconnect", "code": code},
    st.sampled_from([1000, 1001, 1005, 1006, 1009, 1011, 3000, 4999]),
)


@dataclass(repr=False)
class WebsocketCase:
    """One websocket session: the scope and what the client sends."""

    scope: dict[str, Any]
    frames: list[dict[str, Any]]
    connect: bool = True
    #: Each receive() yields to the loop once.
    slow: bool = False

    def __repr__(self) -> str:
        return (
            f"WebsocketCase({shorten(self.scope)!r}, {shorten(self.frames)!r},"
            f" connect={self.connect}, slow={self.slow})"
        )


@st.composite
def websocket_case(draw: st.DrawFn) -> WebsocketCase:
    raw, _, route_query = draw(raw_target(_WS_ROUTES)).partition("?")
    headers: list[tuple[bytes, bytes]] = [(b"host", draw(st.sampled_from(HOSTS)))]
    if draw(st.booleans()):
        headers.append((b"cookie", draw(cookie_header)))
    headers += draw(st.lists(interesting_headers, max_size=3))
    extensions: dict[str, Any] = {}
    if draw(st.booleans()):
        extensions["websocket.http.response"] = {}
    scope: dict[str, Any] = {
        "type": "websocket",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "scheme": draw(st.sampled_from(["ws", "wss"])),
        "path": decode_path(raw),
        "raw_path": raw.encode("ascii"),
        "query_string": route_query.encode() or draw(query_string),
        "root_path": draw(st.sampled_from(["", "/app"])),
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("localhost", 80),
        "subprotocols": draw(
            st.lists(
                st.sampled_from(["chat", "v2", "x", ""]) | st.text(max_size=5),
                max_size=3,
            )
        ),
        "extensions": extensions,
    }
    frames = draw(st.lists(_frame, max_size=10))
    if draw(st.booleans()):
        frames.append(draw(_disconnect))
    connect = not rarely(draw, 20)
    return WebsocketCase(scope, frames, connect, draw(st.booleans()))


def _deliberate(exchange: Exchange) -> bool:
    return any(
        record.exc_info and isinstance(record.exc_info[1], Deliberate)
        for record in exchange.errors
    )


@budget(500)
@given(case=websocket_case())
async def test_any_websocket_session_is_well_formed(
    fuzz_app: Microframework, case: WebsocketCase
) -> None:
    exchange = await run_websocket(
        fuzz_app, case.scope, case.frames, connect=case.connect, slow=case.slow
    )

    check_no_unexpected_errors(exchange, Deliberate)
    check_websocket(exchange)
    if not case.connect:
        assert exchange.sent == [], "answered a client that never connected"
    for message in exchange.sent:
        if message["type"] == "websocket.close" and message.get("code") == 1011:
            assert _deliberate(exchange), "1011 without a deliberate error"
        if message["type"] == "websocket.http.response.start":
            assert message["status"] < 500 or _deliberate(exchange)


@budget(150)
@given(case=websocket_case())
async def test_the_echo_route_echoes_every_message_in_order(
    fuzz_app: Microframework, case: WebsocketCase
) -> None:
    case.scope["path"] = "/ws/echo"
    case.scope["root_path"] = ""
    case.scope["headers"] = [(b"host", b"localhost")]
    exchange = await run_websocket(
        fuzz_app, case.scope, case.frames, interactive=True, slow=case.slow
    )

    check_websocket(exchange)
    expected = []
    for frame in case.frames:
        if frame["type"] != "websocket.receive":
            break
        message = frame["bytes"] if frame.get("bytes") is not None else frame["text"]
        if len(message) > WEBSOCKET_MAX_MESSAGE_SIZE:
            break
        expected.append(message)
    echoed = [
        m["bytes"] if m.get("bytes") is not None else m["text"]
        for m in exchange.sent
        if m["type"] == "websocket.send"
    ]
    assert echoed == expected
