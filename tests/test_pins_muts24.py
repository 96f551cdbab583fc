"""Pins of s25's mutation testing of sessions 23-24's changes (helper muts24): the
guard's late cancel and claim, HTTP/2's wait for an unread upload, event-stream
keep-alives and cancels, call_on_close, redirect targets, ProxyFix prefixes, the
lifespan freeze, the debug page's hidden headers. Each test fails with one mutant
the suite let live (mutants.py, PROOF.txt)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from asgi_harness import call
from asgi_harness import http_scope
from asgi_harness import Recorder
from markupsafe import escape

from microframework import Microframework
from microframework.sse import event_stream

# -- _guard.py: the drain's late cancel of an event stream's farewell -----------------


async def test_an_event_streams_farewell_unread_at_the_deadline_ends_it_quietly(
    app: Microframework,
) -> None:
    """Drained, an event stream's last (empty) message that the client never reads is
    cut at the drain's deadline: the request ends as abandoned (no trailers after it),
    without a CancelledError, and the task's cancel count is back to 0."""

    @app.get("/events")
    async def events() -> Any:
        async def source() -> AsyncIterator[str]:
            yield "hello"
            await asyncio.Event().wait()

        response = event_stream(source(), keep_alive=None)
        response.trailers = {"x-end": "1"}
        return response

    sent: list[dict[str, Any]] = []
    first = asyncio.Event()
    blocked = False

    async def send(message: dict[str, Any]) -> None:
        nonlocal blocked
        sent.append(message)
        if message["type"] == "http.response.body":
            if message.get("more_body"):
                first.set()
            elif not blocked:  # the farewell: the client reads no more
                blocked = True
                await asyncio.Event().wait()

    recorder = Recorder(more_last=False)
    scope = http_scope("/events", extensions={"http.response.trailers": {}})

    async def serve() -> int:
        await app(scope, recorder.receive, send)
        task = asyncio.current_task()
        assert task is not None
        return task.cancelling()

    task = asyncio.create_task(serve())
    try:
        async with asyncio.timeout(5):
            await first.wait()
            app.drain.start(0.2)
            assert await task == 0
    finally:
        app.drain.end()
        task.cancel()
    assert blocked
    assert not any(m["type"] == "http.response.trailers" for m in sent)


# -- _guard.py: claim() leaves a cancel not ours as it came ---------------------------


@pytest.mark.parametrize("waits_in", ["the_view", "the_stream"])
async def test_a_servers_cancel_keeps_its_cancel_count(
    app: Microframework, waits_in: str
) -> None:
    """A cancel the guard did not make is re-raised untouched: task.cancelling() is
    still 1 outside the app (an asyncio.timeout or TaskGroup of the server's counts on it)."""
    waiting = asyncio.Event()

    @app.get("/")
    async def index() -> Any:
        async def body() -> AsyncIterator[bytes]:
            yield b"a"
            waiting.set()
            await asyncio.Event().wait()

        if waits_in == "the_view":
            waiting.set()
            await asyncio.Event().wait()
        return body()

    recorder = Recorder()

    async def serve() -> int:
        try:
            await app(http_scope("/"), recorder.receive, recorder.send)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            assert task is not None
            return task.cancelling()
        return -1

    task = asyncio.create_task(serve())
    async with asyncio.timeout(5):
        await waiting.wait()
        task.cancel()
        assert await task == 1


# -- _guard.py: a second cancel of the source's own, during a keep-alive's send -------


async def test_a_sources_own_timeout_reaches_it_at_a_second_keep_alive_too(
    app: Microframework,
) -> None:
    """The source's own asyncio.timeout that expires while a comment is being sent is
    thrown into the source each time, not only the first (the stream's iterator is by
    then the wrapper that threw the first one in)."""
    deadlines: list[asyncio.Timeout] = []

    async def source() -> AsyncIterator[str]:
        for turn in range(2):
            try:
                async with asyncio.timeout(None) as deadline:
                    deadlines.append(deadline)
                    await asyncio.Event().wait()
            except TimeoutError:
                yield f"timed out {turn}"

    @app.route("/events")
    async def events() -> Any:
        response = event_stream(source(), keep_alive=0.01)
        response.timeout = None  # its idle cut (4 periods) could come first under load
        return response

    class StuckTwice(Recorder):
        stuck = 0

        async def send(self, message: dict[str, Any]) -> None:
            if message.get("body", b"").startswith(b": keep-alive") and self.stuck < 2:
                self.stuck += 1
                deadlines[-1].reschedule(asyncio.get_running_loop().time())
                await asyncio.get_running_loop().create_future()
            await super().send(message)

    recorder = StuckTwice()
    async with asyncio.timeout(5):
        await app(http_scope("/events"), recorder.receive, recorder.send)
    assert recorder.body == b"data: timed out 0\n\ndata: timed out 1\n\n"


async def test_a_servers_cancel_a_source_swallows_and_ends_on_still_ends_the_request(
    app: Microframework,
) -> None:
    """Thrown into the source at a keep-alive's send, a server's cancel that the source
    swallows before it returns still comes out of the app, as from a task of its own:
    the body is not ended as complete."""
    swallowed: list[str] = []

    async def source() -> AsyncIterator[str]:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            swallowed.append("cancel")
            return
        yield "never"

    @app.route("/events")
    async def events() -> Any:
        response = event_stream(source(), keep_alive=0.01)
        response.timeout = None  # its idle cut (4 periods) could come first under load
        return response

    stuck = asyncio.Event()

    class Stuck(Recorder):
        async def send(self, message: dict[str, Any]) -> None:
            if (
                message.get("body", b"").startswith(b": keep-alive")
                and not stuck.is_set()
            ):
                stuck.set()
                await asyncio.get_running_loop().create_future()
            await super().send(message)

    recorder = Stuck()
    task = asyncio.create_task(
        app(http_scope("/events"), recorder.receive, recorder.send)
    )
    async with asyncio.timeout(5):
        await stuck.wait()
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=5)
    assert done and task.cancelled(), "the server's cancel was lost"
    assert swallowed == ["cancel"]
    assert not any(m.get("more_body") is False for m in recorder.sent[1:])


# -- _unread.py: drop_body_first, over HTTP/2 -----------------------------------------


class _Upload(Recorder):
    """Records, in order, each body message taken and the response's start."""

    def __init__(self, parts: int, stalls: bool = False) -> None:
        super().__init__(*[b"x" * 16384] * parts, more_last=stalls)
        self.order: list[str] = []

    async def receive(self) -> dict[str, Any]:
        message = await super().receive()
        if message["type"] == "http.request":
            self.order.append("body")
        return message

    async def send(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.order.append("start")
        await super().send(message)


def _refusing(app: Microframework) -> Microframework:
    @app.post("/upload")
    async def upload() -> tuple[str, int]:
        await asyncio.sleep(0)  # checks something first (a session, a database)
        return "log in first", 401

    return app


@pytest.mark.parametrize("expect", [b"100-continue", b"100-Continue"])
async def test_over_http2_an_upload_that_waits_for_100_continue_is_answered_at_once(
    app: Microframework, expect: bytes
) -> None:
    """The client sends the body only once asked (a read would ask): an answer that
    doesn't read it goes at once, not after taking the body in. Expect's value is
    case-insensitive (RFC 9110)."""
    app.config["BODY_TIMEOUT"] = None
    upload = _Upload(40)
    scope = http_scope("/upload", "POST", [(b"expect", expect)], http_version="2")
    async with asyncio.timeout(5):
        await call(_refusing(app), scope, upload)
    assert upload.status == 401
    assert upload.order.index("start") < 10


async def test_over_http2_an_upload_declared_at_the_limit_is_taken_in_first(
    app: Microframework,
) -> None:
    """Only a body declared over MAX_CONTENT_LENGTH is answered at once: one of just
    the limit will all be read, so it is taken in before the answer."""
    size = 40 * 16384
    app.config["MAX_CONTENT_LENGTH"] = size
    upload = _Upload(40)
    headers = [(b"content-length", str(size).encode())]
    scope = http_scope("/upload", "POST", headers, http_version="2")
    async with asyncio.timeout(5):
        await call(_refusing(app), scope, upload)
    assert upload.status == 401
    assert upload.order == ["body"] * 40 + ["start"]


async def test_over_http2_an_undeclared_upload_of_just_the_limit_is_waited_for(
    app: Microframework,
) -> None:
    """A body of exactly MAX_CONTENT_LENGTH bytes is not past it: its end is waited
    for before the answer."""
    app.config["MAX_CONTENT_LENGTH"] = 2 * 16384
    app.config["BODY_TIMEOUT"] = None
    answered = asyncio.Event()

    @app.post("/upload")
    async def upload() -> tuple[str, int]:
        await asyncio.sleep(0)  # the watch starts, and reads the body ahead
        answered.set()
        return "log in first", 401

    async def end_once_answered() -> None:
        await answered.wait()  # runs once the app waits (or has sent its answer)
        client.inbox.put_nowait(
            {"type": "http.request", "body": b"", "more_body": False}
        )

    client = _Upload(2, stalls=True)
    scope = http_scope("/upload", "POST", [], http_version="2")
    async with asyncio.timeout(5):
        ender = asyncio.create_task(end_once_answered())
        await call(app, scope, client)
        await ender
    assert client.order == ["body"] * 3 + ["start"]


async def test_over_http2_a_body_being_read_elsewhere_is_left_to_its_reader(
    app: Microframework,
) -> None:
    """A view that answers while a task of its own reads the body: the answer doesn't
    take the rest in (drop it) under the reader, which gets the whole body."""
    from microframework import request

    got: list[int] = []
    reading = asyncio.Event()
    readers: list[asyncio.Task[None]] = []

    async def read() -> None:
        async for chunk in request.body:
            got.append(len(chunk))
            reading.set()  # and on to wait for the next part

    @app.post("/upload")
    async def upload() -> str:
        readers.append(asyncio.create_task(read()))
        await reading.wait()
        return "reading"

    client = _Upload(1, stalls=True)

    async def end_once_answered() -> None:
        await client.response_started.wait()
        client.inbox.put_nowait(
            {"type": "http.request", "body": b"y", "more_body": False}
        )

    scope = http_scope("/upload", "POST", [], http_version="2")
    async with asyncio.timeout(5):
        ender = asyncio.create_task(end_once_answered())
        await call(app, scope, client)
        await ender
        await readers[0]
    assert client.status == 200
    assert sum(got) == 16385


# -- sse.py: a cancel reaches the source as a task's would, message and all ------------


@pytest.mark.parametrize("waits", ["on_a_future", "at_bare_yields"])
async def test_a_servers_cancel_message_reaches_the_event_source(
    app: Microframework, waits: str
) -> None:
    """task.cancel(msg) reaches the source's await with its message, as in a task of
    its own: through the future it waits on, or thrown in at a bare yield."""
    seen: list[tuple[Any, ...]] = []
    waiting = asyncio.Event()

    async def source() -> AsyncIterator[str]:
        try:
            waiting.set()
            if waits == "on_a_future":
                await asyncio.Event().wait()
            else:
                while True:
                    await asyncio.sleep(0)
        except asyncio.CancelledError as cancel:
            seen.append(cancel.args)
            raise
        yield "never"

    @app.route("/events")
    async def events() -> Any:
        return event_stream(source(), keep_alive=10)

    recorder = Recorder()
    task = asyncio.create_task(
        app(http_scope("/events"), recorder.receive, recorder.send)
    )
    async with asyncio.timeout(5):
        await waiting.wait()
        task.cancel("server going away")
        await asyncio.wait({task})
    assert task.cancelled()
    assert seen == [("server going away",)]


async def test_a_keep_alive_comes_a_period_after_the_quiet_spell_began(
    app: Microframework, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The keep-alive deadline is the quiet spell's: after a short await that ended,
    the next wait is bounded by what is left of the period, not a whole new one."""
    loop = asyncio.get_running_loop()
    real_time, skipped = loop.time, 0.0
    monkeypatch.setattr(loop, "time", lambda: real_time() + skipped)  # driven below
    short: asyncio.Future[None] = loop.create_future()
    waiting, still_quiet, kept_alive = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def source() -> AsyncIterator[str]:
        waiting.set()
        await short  # done before the period ends: still quiet
        still_quiet.set()
        await asyncio.Event().wait()
        yield "never"

    @app.route("/events")
    async def events() -> Any:
        return event_stream(source(), keep_alive=100)

    class Timed(Recorder):
        async def send(self, message: dict[str, Any]) -> None:
            if message.get("body", b"").startswith(b": keep-alive"):
                kept_alive.set()
            await super().send(message)

    recorder = Timed()
    task = asyncio.create_task(
        app(http_scope("/events"), recorder.receive, recorder.send)
    )
    try:  # no asyncio.timeout spans a skip: it would expire
        async with asyncio.timeout(5):
            await waiting.wait()
        skipped += 60
        short.set_result(None)
        async with asyncio.timeout(5):
            await still_quiet.wait()
        skipped += 50  # 110 s into the spell; a fresh period after the await: 160 s
        assert not kept_alive.is_set()
        async with asyncio.timeout(5):
            await kept_alive.wait()
    finally:
        task.cancel()
        await asyncio.wait({task})


async def test_a_drained_event_source_cleaning_up_still_gets_its_keep_alives(
    app: Microframework,
) -> None:
    """Only a client that left gets no more comments: drained, the client is still
    there, and a source's slow clean-up keeps the connection alive with them."""
    cleaning, kept_alive = asyncio.Event(), asyncio.Event()

    async def source() -> AsyncIterator[str]:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cleaning.set()
            await kept_alive.wait()  # a slow clean-up: flushing, unsubscribing
            raise
        yield "never"

    @app.route("/events")
    async def events() -> Any:
        response = event_stream(source(), keep_alive=0.02)
        response.timeout = None  # its idle cut (4 periods) could come first under load
        return response

    class Kept(Recorder):
        async def send(self, message: dict[str, Any]) -> None:
            if cleaning.is_set() and message.get("body") == b": keep-alive\n\n":
                kept_alive.set()
            await super().send(message)

    recorder = Kept()
    task = asyncio.create_task(
        app(http_scope("/events"), recorder.receive, recorder.send)
    )
    try:
        async with asyncio.timeout(5):
            await recorder.response_started.wait()
            app.drain.start(3600)
            await task
    finally:
        app.drain.end()
        task.cancel()
    assert recorder.sent[-1] == {
        "type": "http.response.body",
        "body": b"",
        "more_body": False,
    }


# -- _dispatch.py / Response.aclose: a response replaced unsent is closed --------------


async def test_a_streamed_response_replaced_by_a_500_has_its_body_closed(
    app: Microframework,
) -> None:
    """A response whose headers can't be sent (a NUL) is replaced by a 500: its body
    is closed at once (a file's handle, a custom iterable's resource), and its
    call_on_close functions run."""
    app.testing = False  # answered with a 500, not raised into the test
    events: list[str] = []

    class Source:
        def __aiter__(self) -> Source:
            return self

        async def __anext__(self) -> bytes:
            raise StopAsyncIteration

        async def aclose(self) -> None:
            events.append("body closed")

    @app.get("/")
    async def index() -> Any:
        response = app.response_class(Source())
        response.headers["X-Bad"] = "a\x00b"
        response.call_on_close(lambda: events.append("closer"))
        return response

    recorder = await call(app, http_scope("/"))
    assert recorder.status == 500
    assert events == ["body closed", "closer"]


# -- wrappers/response.py: call_on_close ----------------------------------------------


async def test_a_responses_close_functions_run_once() -> None:
    """Closed twice (dropped unsent, then again by a caller), the functions run once."""
    from microframework import Response

    calls: list[str] = []
    response = Response("x")
    response.call_on_close(lambda: calls.append("closer"))
    await response.aclose()
    await response.aclose()
    assert calls == ["closer"]


async def test_the_close_functions_run_when_closing_the_body_fails() -> None:
    """A body whose aclose() raises still has the close functions called (a temporary
    file deleted), and the error comes out after them."""
    from microframework import Response

    calls: list[str] = []

    class Source:
        def __aiter__(self) -> Source:
            return self

        async def __anext__(self) -> bytes:
            raise StopAsyncIteration

        async def aclose(self) -> None:
            raise RuntimeError("close failed")

    response = Response(Source())
    response.call_on_close(lambda: calls.append("closer"))
    with pytest.raises(RuntimeError, match="close failed"):
        await response.aclose()
    assert calls == ["closer"]


# -- debug.py: headers named as credentials are hidden, as docs/cli.md lists ------------


@pytest.mark.parametrize(
    "name",
    [
        "Authorization", "Cookie", "Proxy-Authorization", "X-Auth-User", "X-Api-Key",
        "X-Csrf-Token", "X-Client-Secret", "X-Session-Id", "X-Password",
        "X-Hub-Signature-256", "X-Forwarded-Jwt", "X-Saml-Assertion", "X-Amzn-Oidc-Data",
        "X-Ms-Client-Principal",
    ],
)  # fmt: skip
async def test_the_debug_page_hides_every_header_named_as_a_credential(
    name: str,
) -> None:
    from microframework.debug import render_debug_page
    from microframework.wrappers.request import Request

    async def no_body() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    headers = [(name.encode("latin-1"), b"s3cr3t-value"), (b"x-custom", b"visible")]
    request = Request(http_scope("/", headers=headers), no_body)
    response = render_debug_page(RuntimeError("x"), request)
    html = await response.get_data(as_text=True)
    assert "visible" in html
    assert "s3cr3t-value" not in html


# -- wrappers/websocket.py: a refused handshake's response is closed ------------------


async def test_a_refusal_whose_client_left_still_closes_its_response(
    app: Microframework,
) -> None:
    """The peer gone before the refusal went (send raises OSError, as uvicorn's): the
    response's call_on_close functions run all the same."""
    from asgi_harness import websocket_scope

    from microframework import Response

    calls: list[str] = []

    @app.websocket("/ws")
    async def handle() -> Any:
        response = Response("no", 401)
        response.call_on_close(lambda: calls.append("closer"))
        return response

    inbox = [{"type": "websocket.connect"}]

    async def receive() -> dict[str, Any]:
        return inbox.pop(0) if inbox else {"type": "websocket.disconnect", "code": 1006}

    async def send(message: dict[str, Any]) -> None:
        raise OSError("the peer is gone")

    scope = websocket_scope("/ws", {"websocket.http.response": {}})
    async with asyncio.timeout(5):
        await app(scope, receive, send)
    assert calls == ["closer"]


# -- helpers.py: redirect targets without a host -----------------------------------------


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ("/page#section", "/page#section"),  # a fragment stays one
        ("/search?tags[]=a&tags[]=b", "/search?tags[]=a&tags[]=b"),  # as iri_to_uri
        ("/wow!/it's", "/wow!/it's"),  # sub-delims are left as they are
        ("/a\x7fb", "/a%7Fb"),  # DEL, as the other controls, encoded on the page too
    ],
)
async def test_a_redirect_without_a_host_keeps_what_a_url_may_hold(
    location: str, expected: str
) -> None:
    from microframework import redirect

    response = redirect(location)
    assert response.headers["Location"] == expected
    assert f'href="{escape(expected)}"' in await response.get_data(as_text=True)


# -- middleware.py: ProxyFix ------------------------------------------------------------


def test_a_forwarded_prefix_with_del_is_ignored() -> None:
    """A control in X-Forwarded-Prefix (DEL too) makes it ignored, as docs say."""
    from microframework.middleware import ProxyFixMiddleware

    async def noop(scope: Any, receive: Any, send: Any) -> None: ...

    scope = http_scope(headers=[(b"x-forwarded-prefix", b"/app\x7f")])
    result = ProxyFixMiddleware(noop, x_prefix=1).fix_scope(scope)
    assert result["root_path"] == ""


# -- _lifespan.py: frozen when startup ends -------------------------------------------


async def test_the_app_is_frozen_when_lifespan_startup_completes(
    app: Microframework,
) -> None:
    """Behind a server that speaks lifespan, the app freezes as startup ends (before
    any request, with its tables in the gc freeze): setup after that is refused."""
    sent: list[str] = []
    started = asyncio.Event()

    async def send(message: dict[str, Any]) -> None:
        sent.append(message["type"])
        if message["type"] == "lifespan.startup.complete":
            started.set()

    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    inbox.put_nowait({"type": "lifespan.startup"})
    lifespan = asyncio.create_task(
        app({"type": "lifespan", "asgi": {"version": "3.0"}}, inbox.get, send)
    )
    try:
        async with asyncio.timeout(5):
            await started.wait()
        assert app.compiled is not None
        with pytest.raises(AssertionError):

            @app.get("/late")
            async def late() -> str:
                return ""

    finally:
        inbox.put_nowait({"type": "lifespan.shutdown"})
        async with asyncio.timeout(5):
            await lifespan
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
