"""Pins from mutation testing of session 29's changes (helper muts29).

Each test kills a mutant that survived the related test files; its first comment names
the code it pins.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from datetime import timedelta
from datetime import UTC
from typing import Any

import pytest
from asgi_harness import call
from asgi_harness import http_scope
from werkzeug.datastructures import ImmutableList

from microframework import make_response
from microframework import Microframework
from microframework import request
from microframework import Response
from microframework.sse import event_stream
from microframework.sse import ServerSentEvent

LIMIT = 5


@pytest.mark.parametrize(
    ("headers", "client", "expected"),
    [
        (
            [(b"x-forwarded-for", b"1.1.1.1, 2.2.2.2")],
            ("9.9.9.9", 1),
            ["1.1.1.1", "2.2.2.2"],
        ),
        ([], ("9.9.9.9", 1), ["9.9.9.9"]),
        ([], None, ["<local>"]),  # a unix socket
    ],
)
async def test_access_route_is_an_immutable_list_whatever_it_comes_from(
    headers: list[tuple[bytes, bytes]], client: Any, expected: list[str]
) -> None:
    # wrappers/base.py access_route: self.list_storage_class(...) on what it returns
    # (as werkzeug's: an ImmutableList), whether from X-Forwarded-For or the peer.
    app = Microframework(__name__)
    seen: list[Any] = []

    @app.route("/")
    async def index() -> str:
        seen.append(request.access_route)
        return ""

    await call(app, http_scope("/", headers=headers, client=client))
    assert seen == [expected]
    assert isinstance(seen[0], ImmutableList)


async def test_the_accept_headers_parse_into_their_own_classes() -> None:
    # wrappers/base.py accept_mimetypes/accept_charsets/accept_languages: MIMEAccept,
    # CharsetAccept, LanguageAccept (their matching: a "text/*" range, "utf8" for
    # "UTF-8", "en" for "en-US"), each read across lines as Flask reads them.
    app = Microframework(__name__)
    seen: dict[str, Any] = {}

    @app.route("/")
    async def index() -> str:
        seen["mime"] = request.accept_mimetypes.best_match(["text/html"])
        seen["html"] = request.accept_mimetypes.accept_html
        seen["charset"] = request.accept_charsets.best_match(["UTF-8"])
        seen["language"] = request.accept_languages.best_match(["en"])
        return ""

    lines = [
        (b"accept", b"image/png"),
        (b"accept", b"text/*"),
        (b"accept-charset", b"ascii"),
        (b"accept-charset", b"utf8"),
        (b"accept-language", b"de;q=0.1"),
        (b"accept-language", b"en-US"),
    ]
    await call(app, http_scope("/", headers=lines))
    assert seen == {
        "mime": "text/html",
        "html": True,
        "charset": "UTF-8",
        "language": "en",
    }


async def test_a_servers_cancel_during_a_cut_small_http2_send_is_not_swallowed() -> (
    None
):
    # _bounded.bounded_send: "fired and task.uncancel() == 0". The idle timeout cut
    # the send, but the server had cancelled the task too (its shutdown): that cancel is
    # the server's, and goes on out of the app, not logged and swallowed as ours.
    app = Microframework(__name__)
    app.config["RESPONSE_TIMEOUT"] = 0.05

    @app.route("/")
    async def index() -> bytes:
        return b"hello"

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    stuck = asyncio.Event()

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            stuck.set()
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                pass  # a server that finishes its write first, then ends
            await asyncio.Event().wait()  # but the window stays shut: the cut ends it

    async with asyncio.timeout(LIMIT):
        task = asyncio.ensure_future(
            app(http_scope("/", http_version="2"), receive, send)
        )  # type: ignore[arg-type]
        await stuck.wait()
        task.cancel()  # the server's
        with pytest.raises(asyncio.CancelledError):
            await task


@pytest.mark.parametrize("status", [101, 199, 200, 206, 299, 300, 302, 304, 404])
async def test_make_conditional_answers_a_2xx_only_at_both_ends(status: int) -> None:
    # wrappers/response.py make_conditional: "not 200 <= self.status_code < 300" (RFC
    # 9110 13.2.1): a 1xx, a 300 or a redirect with a matching tag keeps its status.
    app = Microframework(__name__)
    seen: list[int] = []

    @app.route("/")
    async def index() -> str:
        response = await make_response("body", status)
        response.set_etag("abc")
        seen.append((await response.make_conditional(request)).status_code)
        return ""

    headers = [(b"if-none-match", b'"abc"')]
    await call(app, http_scope("/", headers=headers))
    assert seen == [304 if 200 <= status < 300 else status]


async def test_a_drain_leaves_the_clean_up_of_a_stream_whose_client_left_to_its_deadline() -> (
    None
):
    # _guard.Guard.on_drain: "self.reason is None" (fired already: its client left).
    # The event stream's clean-up runs on when a drain begins: only the drain's
    # deadline cuts it (on_drain_deadline), not a second cancel at its start.
    app = Microframework(__name__)
    app.config["SHUTDOWN_GRACE_PERIOD"] = LIMIT
    log: list[str] = []
    cleaning, release = asyncio.Event(), asyncio.Event()

    async def events() -> Any:
        try:
            yield ServerSentEvent("1")
            await asyncio.Event().wait()
        finally:
            cleaning.set()
            await release.wait()  # closing a subscription
            log.append("cleaned")

    @app.route("/events")
    async def stream() -> Any:
        return event_stream(events())

    gone = asyncio.Event()
    inbox = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive() -> dict[str, Any]:
        if inbox:
            return inbox.pop()
        await gone.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body" and message["body"]:
            gone.set()  # the client leaves after the first event

    async with asyncio.timeout(LIMIT):
        task = asyncio.ensure_future(app(http_scope("/events"), receive, send))  # type: ignore[arg-type]
        await cleaning.wait()
        app.drain.start(LIMIT)
        for _ in range(10):
            await asyncio.sleep(0)  # the drain's start is heard
        release.set()
        await task
    app.drain.end()
    assert log == ["cleaned"]


@pytest.mark.parametrize(
    ("max_age", "days"), [("253402300800", 400), ("34560000", 400), ("8640000", 100)]
)
async def test_a_cookies_max_age_is_capped_at_400_days(max_age: str, days: int) -> None:
    # testing/cookies.py _MAX_AGE_CAP = 400 * 86400 (RFC 6265bis 5.6.2): a longer
    # Max-Age keeps the cookie 400 days, a shorter one its own.
    app = Microframework(__name__)

    @app.route("/set")
    async def set_cookie() -> Response:
        return Response("set", headers={"Set-Cookie": f"a=1; Max-Age={max_age}"})

    client = app.test_client()
    before = datetime.now(UTC)
    await client.get("/set")
    cookie = client.get_cookie("a")
    assert cookie is not None and cookie.expires is not None
    expires = (
        cookie.expires.replace(tzinfo=UTC)
        if cookie.expires.tzinfo is None
        else cookie.expires
    )
    lifetime = expires - before
    assert timedelta(days=days) - timedelta(hours=1) < lifetime
    assert lifetime < timedelta(days=days) + timedelta(hours=1)


async def test_a_hugely_negative_max_age_deletes_the_cookie_not_an_error() -> None:
    # testing/cookies.py: "max(max_age, 0)" before the cap (a past far enough would be
    # an OverflowError): a non-positive Max-Age deletes the cookie now.
    app = Microframework(__name__)

    @app.route("/set")
    async def set_cookie() -> Response:
        return Response("set", headers={"Set-Cookie": "a=1"})

    @app.route("/unset")
    async def unset_cookie() -> Response:
        return Response("unset", headers={"Set-Cookie": "a=; Max-Age=-99999999999"})

    client = app.test_client()
    await client.get("/set")
    assert client.get_cookie("a") is not None
    response = await client.get("/unset")
    assert response.status_code == 200
    assert client.get_cookie("a") is None


async def test_a_cookie_set_for_a_server_name_in_capitals_is_stored_lowercase() -> None:
    # testing/client.py set_cookie, Quart's form: "server_name.lower()". Host names are
    # case-insensitive: the cookie is sent to the host and found by its lowercase name.
    app = Microframework(__name__)

    @app.route("/")
    async def index() -> str:
        return request.cookies.get("a", "none")

    client = app.test_client()
    client.set_cookie("Example.COM", "a", "1")
    assert client.get_cookie("a", domain="example.com") is not None
    response = await client.get("/", headers={"Host": "example.com"})
    assert await response.get_data(as_text=True) == "1"


@pytest.mark.parametrize("size", [100_000, 10])
async def test_over_http2_an_answer_given_at_once_waits_for_the_upload_if_big(
    size: int,
) -> None:
    # _dispatch._send_bytes: "len(data) > BUFFERED or send.__class__ is DropBeforeEnd"
    # before drop_body_first. A view answering at once (no watch wrapped its send) with
    # a body bigger than a server buffers: over HTTP/2 the upload it never read is taken
    # in before the answer starts (hypercorn ends the connection on DATA for a stream
    # already answered). A small one is not held, as in Quart (docs/deploying.md).
    app = Microframework(__name__)

    @app.post("/upload")
    async def upload() -> bytes:
        return b"x" * size

    order: list[str] = []
    parts = [{"type": "http.request", "body": b"x" * 16384, "more_body": True}] * 40
    parts.append({"type": "http.request", "body": b"", "more_body": False})
    parts.reverse()

    async def receive() -> dict[str, Any]:
        await asyncio.sleep(0)
        if parts:
            order.append("body")
            return parts.pop()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    body: list[bytes] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            order.append("start")
        else:
            body.append(message.get("body", b""))

    scope = http_scope("/upload", "POST", http_version="2")
    async with asyncio.timeout(LIMIT):
        await app(scope, receive, send)  # type: ignore[arg-type]
    assert len(b"".join(body)) == size
    if size > 65536:
        assert order == ["body"] * 41 + ["start"]
    else:
        assert order.index("start") < 10


@pytest.mark.parametrize(
    ("timeout", "slow"), [(None, False), (LIMIT, False), (0.02, True)]
)
async def test_a_small_answer_after_an_await_goes_in_one_message_over_http1(
    timeout: float | None, slow: bool
) -> None:
    # _dispatch._send_bytes: "http2 and idle_timeout(...) is None" and "if http2:"
    # before bounded_send. Over HTTP/1.1 a small bytes body sent after the view
    # awaited (its send wrapped to drop the unread upload) goes in one message whatever
    # the timeout: it is not streamed, and its send is the server's to finish (it
    # buffers it): a slow one is not cut at the idle timeout.
    app = Microframework(__name__)
    app.config["RESPONSE_TIMEOUT"] = timeout

    @app.post("/upload")
    async def upload() -> bytes:
        await asyncio.sleep(0)  # checks something first
        return b"hello"

    parts = [{"type": "http.request", "body": b"x" * 16384, "more_body": True}] * 8
    parts.append({"type": "http.request", "body": b"", "more_body": False})
    parts.reverse()

    async def receive() -> dict[str, Any]:
        await asyncio.sleep(0)
        if parts:
            return parts.pop()
        return {"type": "http.disconnect"}

    bodies: list[tuple[bytes, bool]] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            if slow:
                await asyncio.sleep(0.2)  # a slow write, well past the idle timeout
            bodies.append((message["body"], message.get("more_body", False)))

    scope = http_scope("/upload", "POST", [(b"content-length", b"131072")])
    async with asyncio.timeout(LIMIT):
        await app(scope, receive, send)  # type: ignore[arg-type]
    assert bodies == [(b"hello", False)]
