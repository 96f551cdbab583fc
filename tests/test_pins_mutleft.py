"""Pins of s24's mutation testing of json/tag.py, sessions.py, helpers.py, routing.py,
broadcast.py and middleware.py (helper mutleft): each test fails with one mutant that
the suite let live (mutants.py, PROOF.txt)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from collections.abc import Iterator
from typing import Any
from uuid import UUID

import pytest
from asgi_harness import call
from asgi_harness import http_scope

import microframework.broadcast as broadcast_module
from microframework import has_request_context
from microframework import Microframework
from microframework import request
from microframework import send_early_hints
from microframework import session
from microframework import stream_with_context
from microframework.broadcast import Broadcast
from microframework.json.tag import TaggedJSONSerializer
from microframework.middleware import ProxyFixMiddleware

LIMIT = 10


# -- json/tag.py ---------------------------------------------------------------------


def test_a_one_key_dict_whose_key_is_no_tag_is_dumped_as_it_is() -> None:
    """Only a one-key dict whose key is a tag is escaped (" di"), as Flask's TagDict."""
    serializer = TaggedJSONSerializer()
    assert serializer.dumps({"a": {"b": 1}}) == '{"a":{"b":1}}'


def test_a_uuid_is_dumped_as_its_hex_as_flask_does() -> None:
    """A UUID travels as its 32-digit hex, the cookie Flask writes and reads."""
    value = UUID("12345678-1234-5678-1234-567812345678")
    dumped = TaggedJSONSerializer().dumps(value)
    assert dumped == '{" u":"12345678123456781234567812345678"}'


# -- sessions.py ---------------------------------------------------------------------


async def test_the_session_cookie_has_no_samesite_attribute_by_default(
    app: Microframework,
) -> None:
    """SESSION_COOKIE_SAMESITE=None (the default) sends no SameSite, not "SameSite=None"."""
    app.secret_key = "k"

    @app.get("/")
    async def index() -> str:
        session["user"] = "eve"
        return ""

    response = await app.test_client().get("/")
    (header,) = response.headers.getlist("Set-Cookie")
    assert "samesite" not in header.lower()


# -- helpers.py ----------------------------------------------------------------------


async def test_a_sync_stream_with_context_leaves_no_context_behind(
    app: Microframework,
) -> None:
    """Each step of a sync source runs in the request's context; the caller's is back after."""

    def chunks() -> Iterator[str]:
        yield request.path
        yield request.path

    async with app.test_request_context("/here"):
        wrapped = stream_with_context(chunks())
    assert not has_request_context()
    assert next(wrapped) == "/here"
    assert not has_request_context()
    wrapped.close()


class _CallableIterator:
    """An iterator that is also callable: a stream, not a generator function."""

    def __init__(self) -> None:
        self.left = ["a", "b"]

    def __iter__(self) -> _CallableIterator:
        return self

    def __next__(self) -> str:
        if not self.left:
            raise StopIteration
        return self.left.pop(0)

    def __call__(self) -> None:
        raise AssertionError("a stream is iterated, not called")


async def test_a_callable_iterator_is_wrapped_as_a_stream(app: Microframework) -> None:
    """Anything iterable is a stream to wrap, as Flask's iter() test; only the rest decorate."""
    async with app.test_request_context("/"):
        wrapped = stream_with_context(_CallableIterator())
        assert list(wrapped) == ["a", "b"]


async def test_an_early_hint_link_is_encoded_as_latin_1(app: Microframework) -> None:
    """A Link value goes out as latin-1 bytes, as every header value the app sends."""

    @app.get("/")
    async def index() -> str:
        await send_early_hints("</caf\u00e9.css>; rel=preload")
        return "page"

    scope = http_scope("/", extensions={"http.response.early_hint": {}})
    rec = await call(app, scope)
    assert rec.sent[0]["links"] == [b"</caf\xe9.css>; rel=preload"]


# -- routing.py ----------------------------------------------------------------------


async def test_an_alias_rule_redirects_to_its_canonical_url(
    app: Microframework,
) -> None:
    """A rule made with alias=True answers with a redirect to its endpoint's first rule."""

    async def index() -> str:
        return "home"

    app.add_url_rule("/", "index", index)
    app.add_url_rule("/home", "index", index, alias=True)
    response = await app.test_client().get("/home")
    assert response.status_code == 308
    assert response.headers["Location"] == "http://localhost/"


async def test_an_http_request_to_a_websocket_route_is_not_sent_to_its_view(
    app: Microframework,
) -> None:
    """A GET to a websocket-only path is a 400 (werkzeug's WebsocketMismatch), as in Quart."""
    called: list[str] = []

    @app.websocket("/ws")
    async def ws() -> None:
        called.append("ws")

    response = await app.test_client().get("/ws")
    assert response.status_code == 400
    assert called == []


async def test_routes_answer_on_the_url_maps_default_subdomain() -> None:
    """Without subdomain matching, the map's default_subdomain is bound, as Flask binds it."""
    app = Microframework(__name__, static_folder=None)
    app.url_map.default_subdomain = "www"

    @app.get("/")
    async def index() -> str:
        return "home"

    response = await app.test_client().get("/")
    assert response.status_code == 200


async def test_a_subdomain_route_without_subdomain_matching_is_not_served(
    app: Microframework,
) -> None:
    """As Flask 3.1: a subdomain="api" rule never matches unless subdomain_matching=True."""

    @app.get("/", subdomain="api")
    async def api() -> str:
        return "api"

    with pytest.warns(UserWarning, match="never match without subdomain_matching"):
        response = await app.test_client().get("/")
    assert response.status_code == 404


# -- broadcast.py (memory backend, its clock set by the test) --------------------------


class _Clock:
    """broadcast.time for a test: time_ns() is what the test last set, in ms."""

    def __init__(self) -> None:
        self.ms = 1_000_000

    def time_ns(self) -> int:
        return self.ms * 1_000_000


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> _Clock:
    value = _Clock()
    monkeypatch.setattr(broadcast_module, "time", value)
    return value


@pytest.fixture
async def memory() -> AsyncIterator[Broadcast]:
    async with asyncio.timeout(LIMIT), Broadcast("memory://") as value:
        yield value


async def _replayed(broadcast: Broadcast, channel: str) -> list[str | bytes]:
    async with broadcast.subscribe(channel, last_event_id="0") as subscriber:
        return [event.data for event in subscriber.drain()]


async def test_an_event_exactly_history_ttl_old_is_still_replayed(
    clock: _Clock,
) -> None:
    """history_ttl is inclusive: publishing drops only events older than it, as replay does."""
    async with asyncio.timeout(LIMIT), Broadcast("memory://", history_ttl=1) as memory:
        await memory.publish("c", "first")
        clock.ms += 1000
        await memory.publish("c", "second")
        assert await _replayed(memory, "c") == ["first", "second"]


async def test_without_history_ttl_old_events_are_replayed(clock: _Clock) -> None:
    """history_ttl=None: retained events replay whatever their age (nothing expires)."""
    async with (
        asyncio.timeout(LIMIT),
        Broadcast("memory://", history_ttl=None) as memory,
    ):
        await memory.publish("c", "old")
        clock.ms += 10 * 24 * 3600 * 1000
        await memory.publish("other", "new")
        assert await _replayed(memory, "c") == ["old"]


async def test_drain_empties_the_replayed_events_too(memory: Broadcast) -> None:
    """drain() hands over the replayed events once; the next drain() is empty."""
    await memory.publish("c", "retained")
    async with memory.subscribe("c", last_event_id="0") as subscriber:
        assert [event.data for event in subscriber.drain()] == ["retained"]
        assert subscriber.drain() == []


# -- middleware.py -------------------------------------------------------------------


async def _noop(scope: Any, receive: Any, send: Any) -> None:
    pass


def _fixed(
    *headers: tuple[bytes, bytes],
    kind: str = "http",
    scheme: str = "http",
    **trusted: int,
) -> dict[str, Any]:
    """The scope ProxyFixMiddleware(**trusted) makes of a request to example.com."""
    scope = {
        "type": kind,
        "scheme": scheme,
        "path": "/",
        "headers": [(b"host", b"example.com"), *headers],
        "server": ("example.com", 80),
    }
    return dict(ProxyFixMiddleware(_noop, **trusted).fix_scope(scope))


@pytest.mark.parametrize(("kind", "scheme"), [("http", "https"), ("websocket", "wss")])
def test_an_unknown_forwarded_proto_keeps_a_secure_scheme(
    kind: str, scheme: str
) -> None:
    """X-Forwarded-Proto: gopher is ignored: it does not turn https into http (or wss)."""
    fixed = _fixed((b"x-forwarded-proto", b"gopher"), kind=kind, scheme=scheme)
    assert fixed["scheme"] == scheme


def test_a_forwarded_port_of_superscript_digits_is_ignored() -> None:
    """Latin-1 "\u00b2" is a digit to str.isdigit() but not to int(): ignored, no error."""
    fixed = _fixed((b"x-forwarded-port", b"8\xb2"), x_port=1)
    assert fixed["server"] == ("example.com", 80)
    assert (b"host", b"example.com") in fixed["headers"]


def test_the_highest_port_65535_is_a_forwarded_port() -> None:
    """65535 is a port (only numbers above it are ignored)."""
    fixed = _fixed((b"x-forwarded-port", b"65535"), x_port=1)
    assert fixed["server"] == ("example.com", 65535)
