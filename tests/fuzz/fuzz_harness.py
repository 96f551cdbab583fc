"""Drive an ASGI app with scripted messages and check what it sends back.

Rule: the harness plays a well-behaved server. ``receive`` hands out the request body
in the chunks it was given and then, like a server whose client is still there, waits
until the response has ended before reporting ``http.disconnect`` (or reports it at once
when the client leaves early). ``send`` only records; the ``check_*`` functions judge
the recording afterwards, so a failure names the rule that was broken.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from dataclasses import field
from typing import Any

#: How long one exchange may take before we call it a hang. Generous: the machine is
#: shared and file routes use worker threads; a hang never finishes at all.
EXCHANGE_TIMEOUT = 10.0

_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9a-z]+")
# The framework's own rule for values (RFC 9110 5.5): no control character but HTAB.
_BAD_VALUE = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
_DIGITS = re.compile(rb"[0-9]+")
# RFC 6455 7.4.1 and the IANA registry: codes an endpoint may send in a close frame.
_SENDABLE_CLOSE = frozenset({1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011})
_SENDABLE_CLOSE |= frozenset({1012, 1013, 1014})
_HOP_BY_HOP = frozenset(
    {b"transfer-encoding", b"connection", b"keep-alive", b"upgrade"}
)
_BODY_KINDS = frozenset({"http.response.body", "http.response.zerocopysend"})
#: Extensions a server may offer; the fuzzer offers any subset.
HTTP_EXTENSIONS = (
    "http.response.pathsend",
    "http.response.zerocopysend",
    "http.response.trailers",
    "http.response.early_hint",
)


@dataclass
class Exchange:
    """What one connection sent and logged."""

    sent: list[dict[str, Any]] = field(default_factory=list)
    errors: list[logging.LogRecord] = field(default_factory=list)

    @property
    def start(self) -> dict[str, Any]:
        return self.response[0]

    @property
    def status(self) -> int:
        return int(self.start["status"])

    def header(self, name: bytes) -> list[bytes]:
        return [v for k, v in self.start.get("headers", ()) if k == name]

    @property
    def body(self) -> bytes:
        """The response body, whichever messages carried it (pathsend too)."""
        return b"".join(m.get("body", m.get("data", b"")) for m in self.response)

    @property
    def response(self) -> list[dict[str, Any]]:
        """What was sent from ``http.response.start`` on (early hints go before it)."""
        for index, message in enumerate(self.sent):
            if message.get("type") != "http.response.early_hint":
                return self.sent[index:]
        return []


class _ErrorRecorder(logging.Handler):
    def __init__(self, records: list[logging.LogRecord]) -> None:
        super().__init__(logging.ERROR)
        self.records = records

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def recording_errors(logger: logging.Logger) -> Iterator[list[logging.LogRecord]]:
    """Collect every record of level ERROR or above that *logger* handles."""
    records: list[logging.LogRecord] = []
    handler = _ErrorRecorder(records)
    logger.addHandler(handler)
    try:
        yield records
    finally:
        logger.removeHandler(handler)


async def run_http(
    app: Any,
    scope: dict[str, Any],
    chunks: list[bytes],
    *,
    leave_early: bool = False,
    slow: bool = False,
    timeout: float = EXCHANGE_TIMEOUT,
) -> Exchange:
    """Send *chunks* as the body, run *app* to the end, return what it sent.

    With *leave_early* the last chunk claims more is coming and the client then leaves.
    A *slow* client makes every ``receive()`` yield to the loop once before answering,
    as a server waiting for the network does. An exception escaping the app
    propagates; a hang fails on ``EXCHANGE_TIMEOUT``.
    """
    exchange = Exchange()
    pending = [
        {"type": "http.request", "body": chunk, "more_body": True} for chunk in chunks
    ] or [{"type": "http.request", "body": b"", "more_body": True}]
    if not leave_early:
        pending[-1]["more_body"] = False
    finished = asyncio.Event()

    async def receive() -> dict[str, Any]:
        if slow:
            await asyncio.sleep(0)  # one loop turn, not a wait on the clock
        if pending:
            return pending.pop(0)
        if not leave_early:
            await finished.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "http.response.pathsend":
            with open(message["path"], "rb") as file:
                message = {**message, "data": file.read()}
        elif kind == "http.response.zerocopysend":
            # The app closes the file once send() returns: read it now.
            file = message["file"]
            file.seek(message["offset"])
            message = {**message, "data": file.read(message["count"])}
        exchange.sent.append(message)
        if kind == "http.response.pathsend" or (
            kind in _BODY_KINDS and not message.get("more_body", False)
        ):
            finished.set()

    with recording_errors(app.logger) as exchange.errors:
        try:
            async with asyncio.timeout(timeout):
                await app(scope, receive, send)
        except TimeoutError:
            raise AssertionError(
                f"the app hung; it sent {[m.get('type') for m in exchange.sent]}"
            ) from None
    return exchange


async def run_websocket(
    app: Any,
    scope: dict[str, Any],
    frames: list[dict[str, Any]],
    *,
    connect: bool = True,
    interactive: bool = False,
    slow: bool = False,
) -> Exchange:
    """Connect (unless not *connect*), deliver *frames*, then disconnect with the last
    frame's code if it is a ``websocket.disconnect``, else 1000. After the app closes,
    receive reports the disconnect at once, as a server does.

    An *interactive* client waits for one reply per message before sending the next
    (and before leaving); otherwise it sends everything at once and leaves. A *slow*
    one yields to the loop once in every ``receive()``.
    """
    exchange = Exchange()
    delivered = replies = 0
    progress = asyncio.Event()
    # A client that never connects left before the handshake: it sent nothing else.
    script: list[dict[str, Any]] = []
    if connect:
        script = [{"type": "websocket.connect"}, *frames]
    if not script or script[-1]["type"] != "websocket.disconnect":
        script.append({"type": "websocket.disconnect", "code": 1000})
    closed = asyncio.Event()
    ending = script.pop()

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if slow:
            await asyncio.sleep(0)  # one loop turn, not a wait on the clock
        while interactive and replies < delivered and not closed.is_set():
            progress.clear()
            await progress.wait()
        if closed.is_set() or not script:
            return ending
        message = script.pop(0)
        delivered += message["type"] == "websocket.receive"
        return message

    async def send(message: dict[str, Any]) -> None:
        nonlocal replies
        exchange.sent.append(message)
        kind = message.get("type")
        replies += kind == "websocket.send"
        progress.set()
        if kind == "websocket.close" or (
            kind == "websocket.http.response.body"
            and not message.get("more_body", False)
        ):
            closed.set()

    with recording_errors(app.logger) as exchange.errors:
        try:
            async with asyncio.timeout(EXCHANGE_TIMEOUT):
                await app(scope, receive, send)
        except TimeoutError:
            raise AssertionError(
                f"the websocket hung; it sent {[m.get('type') for m in exchange.sent]}"
            ) from None
    return exchange


# -- checks ------------------------------------------------------------------------
def check_headers(headers: Any) -> None:
    """ASGI headers: an iterable of (lowercase token name, clean value) byte pairs."""
    for pair in headers:
        assert len(pair) == 2, f"header {pair!r} is not a pair"
        name, value = pair
        assert type(name) is bytes and type(value) is bytes, f"header {pair!r}"
        assert _TOKEN.fullmatch(name), f"header name {name!r} is not a lowercase token"
        assert not _BAD_VALUE.search(value), f"header {name!r} value {value!r}"


def check_http(exchange: Exchange, method: str, *, complete: bool = True) -> None:
    """The recorded messages form one well-formed HTTP response.

    The order is: early hints, one ``http.response.start``, body messages (``body``
    and ``zerocopysend`` until one has ``more_body`` False, or one ``pathsend``), then
    trailers if the start announced them. *complete* is False when the client left
    early: the response may then stop anywhere, but what was sent is a valid prefix.
    """
    sent = exchange.sent
    if not complete and not exchange.response:
        return
    for message in sent[: len(sent) - len(exchange.response)]:
        for link in message.get("links", ()):
            assert type(link) is bytes and not _BAD_VALUE.search(link), f"link {link!r}"
    assert exchange.response, f"the app sent no response: {sent!r}"
    start = exchange.start
    assert start.get("type") == "http.response.start", f"first message {start!r}"
    status = start["status"]
    # Informational statuses cannot be a final answer (they have their own messages).
    assert type(status) is int and 200 <= status <= 599, f"status {status!r}"
    headers = list(start.get("headers", ()))
    check_headers(headers)
    hop = _HOP_BY_HOP.intersection(name for name, _ in headers)
    assert not hop, f"hop-by-hop headers {hop} are the server's to send"
    phase = "body"
    for message in exchange.response[1:]:
        kind = message.get("type")
        if phase == "body" and kind in _BODY_KINDS:
            assert type(message.get("body", message.get("data", b""))) is bytes
            assert type(message.get("more_body", False)) is bool
            if not message.get("more_body", False):
                phase = "trailers"
        elif phase == "body" and kind == "http.response.pathsend":
            phase = "trailers"
        elif phase == "trailers" and kind == "http.response.trailers":
            assert start.get("trailers") is True, "trailers the start did not announce"
            check_headers(message.get("headers", ()))
            if not message.get("more_trailers", False):
                phase = "done"
        else:
            raise AssertionError(f"{kind} in the {phase} phase: {sent!r}")
    if complete:
        assert phase != "body", "the response never ended its body"
        if start.get("trailers"):
            assert phase == "done", "announced trailers never ended"
    ended = phase != "body"
    body = exchange.body
    if method == "HEAD" or status in (204, 304):
        assert body == b"", f"{method} {status} sent a body"
    lengths = exchange.header(b"content-length")
    assert len(lengths) <= 1, f"several Content-Length headers {lengths}"
    if status == 204:
        # RFC 9110 8.6: never in a 204.
        assert not lengths, "Content-Length in a 204"
    elif lengths and ended:
        assert _DIGITS.fullmatch(lengths[0]), f"Content-Length {lengths[0]!r}"
        if method != "HEAD" and status != 304:
            assert int(lengths[0]) == len(body), (
                f"Content-Length {lengths[0]!r} but {len(body)} bytes sent"
            )


def check_websocket(exchange: Exchange, *, rejected_ok: bool = True) -> None:
    """The recorded messages follow the websocket lifecycle, with valid close codes."""
    sent = exchange.sent
    state = "connecting"
    for message in sent:
        kind = message.get("type")
        assert state not in ("closed", "responded"), f"{kind} after the end: {sent!r}"
        if kind == "websocket.accept":
            assert state == "connecting", "accepted twice"
            subprotocol = message.get("subprotocol")
            assert subprotocol is None or type(subprotocol) is str
            check_headers(message.get("headers", ()))
            state = "accepted"
        elif kind == "websocket.send":
            assert state == "accepted", "sent before accepting"
            text, data = message.get("text"), message.get("bytes")
            assert (text is None) != (data is None), f"send {message!r}"
            assert type(text if data is None else data) is (
                str if data is None else bytes
            )
        elif kind == "websocket.close":
            code = message.get("code", 1000)
            assert type(code) is int
            assert code in _SENDABLE_CLOSE or 3000 <= code <= 4999, f"close code {code}"
            reason = message.get("reason", "")
            assert reason is None or (
                type(reason) is str and len(reason.encode()) <= 123
            ), f"close reason {reason!r}"
            state = "closed"
        elif kind == "websocket.http.response.start":
            assert rejected_ok and state == "connecting", "rejection after accept"
            status = message["status"]
            assert type(status) is int and 200 <= status <= 599
            check_headers(message.get("headers", ()))
            state = "rejecting"
        elif kind == "websocket.http.response.body":
            assert state == "rejecting", "rejection body without a start"
            assert type(message.get("body", b"")) is bytes
            if not message.get("more_body", False):
                state = "responded"
        else:
            raise AssertionError(f"unexpected websocket message {message!r}")
    assert state != "rejecting", "the rejection response never ended"


def check_no_unexpected_errors(
    exchange: Exchange, deliberate: type[BaseException]
) -> None:
    """Nothing was logged at ERROR but the app's own deliberate exceptions."""
    for record in exchange.errors:
        error = record.exc_info[1] if record.exc_info else None
        assert isinstance(error, deliberate), (
            f"unexpected error logged: {record.getMessage()} {error!r}"
        )
