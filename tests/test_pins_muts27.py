"""Pins from mutation testing of session 27's changes (helper muts27).

Each test kills a mutant that survived the related test files; its first comment names
the code it pins.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from asgi_harness import call
from asgi_harness import http_scope

import microframework.broadcast as broadcast_module
from microframework import Microframework
from microframework import request
from microframework import Response
from microframework import url_for
from microframework import websocket
from microframework.broadcast import Broadcast
from microframework.helpers import safe_join


async def test_an_absolute_form_needs_a_scheme_without_a_raw_path_too() -> None:
    # _utils.origin_form: the scheme check, not only the raw_path one (a server may
    # send no raw_path: it is optional in ASGI). "a/b://h/admin" routes whole.
    app = Microframework(__name__)

    @app.route("/<path:rest>")
    async def echo(rest: str) -> str:
        return request.path

    scope = http_scope("a/b://example.com/admin")
    del scope["raw_path"]
    rec = await call(app, scope)
    assert (rec.status, rec.body) == (200, b"/a/b://example.com/admin")


async def test_a_usual_hosts_adapter_and_match_are_kept() -> None:
    # routing.AdapterCache.get: only a host longer than any name goes unkept.
    app = Microframework(__name__)

    @app.route("/item/<int:n>")
    async def item(n: int) -> str:
        return str(n)

    client = app.test_client()
    for _ in range(2):
        response = await client.get("/item/1", headers={"Host": "example.test"})
        assert response.status_code == 200
    compiled = app.compiled
    assert compiled is not None
    assert [key[0] for key in compiled.adapters.bound] == [b"example.test"]
    assert len(compiled.match_cache) == 1


async def test_a_match_without_a_host_header_is_not_memoised() -> None:
    # _compile.remember_match: an HTTP/1.0 request's adapter is bound anew each time
    # (its host is the scope's server); a memo keyed by it would never hit.
    app = Microframework(__name__)

    @app.route("/item/<int:n>")
    async def item(n: int) -> str:
        return str(n)

    for _ in range(3):
        scope = http_scope("/item/1", http_version="1.0")
        scope["headers"] = []
        rec = await call(app, scope)
        assert (rec.status, rec.body) == (200, b"1")
    compiled = app.compiled
    assert compiled is not None
    assert not compiled.adapters.bound and not compiled.match_cache


async def test_a_wss_server_name_drops_443_for_external_urls() -> None:
    # routing.AdapterCache._bind: wss's default port is 443, as https's.
    app = Microframework(__name__)
    app.config["SERVER_NAME"] = "example.test:443"

    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.accept()
        await websocket.send(url_for("ws", _external=True))

    client = app.test_client()
    headers = {"Host": "example.test"}
    async with client.websocket("/ws", scheme="wss", headers=headers) as socket:
        assert await socket.receive() == "wss://example.test/ws"


async def test_the_memory_history_keeps_events_younger_than_their_ttl(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # broadcast._MemoryBackend._expire: the TTL is in seconds (ms = ttl * 1000).
    async with Broadcast("memory://", history_ttl=60) as broadcast:
        first = await broadcast.publish("c", "kept")
        later = broadcast_module.time.time_ns() + 10 * 10**9  # 10 s of 60
        monkeypatch.setattr(broadcast_module.time, "time_ns", lambda: later)
        await broadcast.publish("d", "x")  # expiry runs on every publish
        async with broadcast.subscribe("c", last_event_id="0") as subscriber:
            assert [(e.id, e.data) for e in subscriber.drain()] == [(first, "kept")]


def test_the_memory_history_is_bounded_by_default() -> None:
    # 64 MiB: the bound that keeps client-named rooms from pinning the machine.
    assert Broadcast("memory://").history_bytes == 64 * 1024 * 1024
    assert Broadcast("memory://", history_bytes=None).history_bytes is None


async def test_the_memory_history_counts_each_channels_own_memory() -> None:
    # broadcast._CHANNEL_SIZE: a channel's deque and dict slot cost ~700 bytes
    # (tracemalloc); with one-byte events, 1,000 rooms must not all fit in 100 kB.
    async with Broadcast("memory://", history_bytes=100_000) as broadcast:
        backend = broadcast._backend
        assert isinstance(backend, broadcast_module._MemoryBackend)
        for n in range(1000):
            await broadcast.publish(f"room-{n}", "x")
        assert 50 < len(backend._history) < 150


@pytest.mark.parametrize("device", ["COM\u00b3", "LPT\u00b3.txt", "lpt\u00b9"])
def test_safe_join_rejects_every_superscript_device_on_windows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, device: str
) -> None:
    # files._WINDOWS_DEVICES: Windows takes superscript 1, 2 and 3 (werkzeug 3.1.9).
    with monkeypatch.context() as windows:
        windows.setattr(os, "name", "nt")
        joined = safe_join(tmp_path, device)
    assert joined is None


async def test_every_trailer_in_a_list_is_checked_before_the_start() -> None:
    # _responses.ready: the bad one need not be the first (a NUL: Headers itself
    # refuses CR/LF, so only encode_headers finds this one).
    app = Microframework(__name__)

    @app.route("/")
    async def index() -> Response:
        response = Response(b"data")
        response.trailers = [("X-Ok", "1"), ("X-Digest", "abc\x00def")]
        return response

    app.config["PROPAGATE_EXCEPTIONS"] = False
    trailers: dict[str, object] = {"http.response.trailers": {}}
    rec = await call(app, http_scope("/", extensions=trailers))
    assert rec.status == 500
    assert not any(m["type"] == "http.response.trailers" for m in rec.sent)


async def test_the_memory_history_counts_each_events_own_memory() -> None:
    # broadcast._EVENT_SIZE: an Event beside its data is ~150 bytes (tracemalloc);
    # 2,000 one-byte events (~200 bytes each) don't all fit in 100 kB.
    async with Broadcast("memory://", history=10_000, history_bytes=100_000) as b:
        backend = b._backend
        assert isinstance(backend, broadcast_module._MemoryBackend)
        for _ in range(2000):
            await b.publish("c", "x")
        assert 300 < len(backend._history["c"]) < 700
