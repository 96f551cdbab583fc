"""Pins from mutation testing (helper muts33, session 32) of wrappers/base.py,
wrappers/body.py, testing/cookies.py, testing/client.py, _bounded.py, _accesslog.py and
globals.py.

Each test kills a mutant that survived the related test files; its first comment names
the code it pins and the mutant id (see /tmp/s32/muts33/MUTANTS.md).
"""

from __future__ import annotations

import asyncio
import contextvars
import io
import threading
from collections.abc import AsyncIterator
from collections.abc import Iterator
from datetime import datetime
from datetime import timedelta
from datetime import tzinfo
from datetime import UTC
from typing import Any
from typing import cast

import pytest
from asgi_harness import call
from asgi_harness import http_scope

from microframework import Microframework
from microframework import request
from microframework import Response
from microframework.testing import cookies
from microframework.testing import MicroframeworkClient
from microframework.wrappers.body import IOBody
from microframework.wrappers.body import IterableBody
from microframework.wrappers.body import make_body
from microframework.wrappers.body import WriterBody


async def test_an_empty_x_forwarded_for_is_an_empty_access_route() -> None:
    # wrappers/base.py access_route: `if value is not None` (mutant B35 made it `if
    # value`): an empty X-Forwarded-For is a header, parsed to [], as werkzeug's (Flask
    # 3.1.3's) access_route does; not the peer's address.
    app = Microframework(__name__)

    @app.get("/")
    async def index() -> Any:
        return {"route": request.access_route}

    client = app.test_client()
    response = await client.get("/", headers={"X-Forwarded-For": ""})
    assert await response.get_json() == {"route": []}
    response = await client.get("/")
    assert await response.get_json() == {"route": ["127.0.0.1"]}


async def test_a_scope_without_http_version_or_scheme_is_plain_http_1_1() -> None:
    # wrappers/base.py: `scope.get("http_version", "1.1")` (mutant B50: "1.0") and
    # `scope.get("scheme", "http")` (mutant B67: "https"): the ASGI spec's defaults for
    # these optional keys of an HTTP scope.
    app = Microframework(__name__)

    @app.get("/")
    async def index() -> Any:
        return {"version": request.http_version, "scheme": request.scheme}

    scope = http_scope("/")
    del scope["http_version"], scope["scheme"]
    recorder = await call(app, scope)
    assert recorder.status == 200
    assert recorder.body == b'{"scheme":"http","version":"1.1"}\n'


async def test_request_state_without_a_lifespan_state_is_the_scopes() -> None:
    # wrappers/base.py state: `self.scope.setdefault("state", {})` (mutant B51 used
    # scope.get): with no lifespan state, what a view stores in request.state is the
    # scope's "state", which middleware around the app reads.
    app = Microframework(__name__)

    @app.get("/")
    async def index() -> str:
        request.state["user"] = "ann"
        return "ok"

    scope = http_scope("/")
    assert "state" not in scope
    await call(app, scope)
    assert scope["state"] == {"user": "ann"}


async def test_bytearray_and_memoryview_chunks_are_sent_as_bytes() -> None:
    # wrappers/body.py encode_chunk: `return bytes(chunk)` (mutant Y03 returned the
    # chunk): ASGI body messages carry bytes, and a copy, so an app reusing its buffer
    # does not change what was queued.
    app = Microframework(__name__)

    @app.get("/")
    async def index() -> Response:
        async def chunks() -> AsyncIterator[Any]:
            buffer = bytearray(b"ab")
            yield buffer
            buffer[:] = b"zz"
            yield memoryview(b"cd")

        return Response(chunks())

    recorder = await call(app, http_scope("/"))
    bodies = [m["body"] for m in recorder.sent[1:] if m.get("body")]
    assert bodies == [b"ab", b"cd"]
    assert all(type(body) is bytes for body in bodies)


class _Recorded(list[bytes]):
    """A list body that records the thread each of its items is read in."""

    threads: list[int]

    def __iter__(self) -> Iterator[bytes]:
        for item in super().__iter__():
            self.threads.append(threading.get_ident())
            yield item


async def test_a_list_body_is_read_in_place_not_in_a_thread() -> None:
    # wrappers/body.py IterableBody: `isinstance(source, (list, tuple, bytes, str))`
    # (mutant Y11 dropped list and tuple): a list is read in the event loop's thread,
    # as documented; only other iterables (generators reading files) go to a thread.
    app = Microframework(__name__)
    body = _Recorded([b"a", b"b"])
    body.threads = []

    @app.get("/")
    async def index() -> Response:
        return Response(body)

    response = await app.test_client().get("/")
    assert await response.get_data() == b"ab"
    assert body.threads == [threading.get_ident()] * 2


async def test_measuring_a_stream_leaves_its_position_where_it_was() -> None:
    # wrappers/body.py IOBody.__init__: `io_stream.seek(here)` after measuring (mutant
    # Y27 dropped it): the stream is the app's, and wrapping it moves nothing until the
    # body is sent (from the start, as Quart sends it).
    stream = io.BytesIO(b"abcdef")
    stream.seek(2)
    body = IOBody(stream)
    assert body.content_length == 6
    assert stream.tell() == 2
    assert stream.read() == b"cdef"
    assert b"".join([chunk async for chunk in body]) == b"abcdef"


async def test_closing_a_writer_body_in_a_task_being_cancelled_returns() -> None:
    # wrappers/body.py _outlive: `cancels = task.cancelling()` on entry (mutant Y45 took
    # 0): a close run while the closing task is already being cancelled (its cleanup)
    # waits for the writer and returns; only a new cancel meanwhile is re-raised.
    async def writer(write: Any) -> None:
        await write(b"a")
        await write(b"b")

    body = WriterBody(writer)
    chunks = body.__aiter__()
    assert await chunks.__anext__() == b"a"
    waiting = asyncio.Event()
    outcome: list[str] = []

    async def closer() -> None:
        try:
            waiting.set()
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            await body.aclose()
            outcome.append("closed")
            raise

    task = asyncio.create_task(closer())
    await waiting.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert outcome == ["closed"]
    await chunks.aclose()  # type: ignore[attr-defined]


async def test_a_source_with_aclose_and_close_is_closed_once_by_aclose() -> None:
    # wrappers/body.py close_source: `return` after aclose() (mutant Y51 fell through to
    # close() as well): a source is closed one way, its async one when it has it.
    calls: list[str] = []

    class Source:
        def __aiter__(self) -> AsyncIterator[bytes]:
            return self

        async def __anext__(self) -> bytes:
            raise StopAsyncIteration

        async def aclose(self) -> None:
            calls.append("aclose")

        def close(self) -> None:
            calls.append("close")

    await make_body(Source()).aclose()
    assert calls == ["aclose"]


async def test_a_cookie_past_its_max_age_is_no_longer_sent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # testing/cookies.py CookieJar.header_for: `self.drop_expired()` before choosing
    # (mutant C15 dropped it): a cookie that expired since it was stored is not sent.
    app = Microframework(__name__)

    @app.get("/")
    async def index() -> str:
        return request.headers.get("Cookie", "-")

    client = app.test_client()
    client.set_cookie("a", "1", max_age=60)
    assert await (await client.get("/")).get_data() == b"a=1"

    class Later(datetime):
        @classmethod
        def now(cls, tz: tzinfo | None = None) -> Later:
            moment = datetime.now(tz) + timedelta(days=1)
            return cls.fromtimestamp(moment.timestamp(), tz)

    monkeypatch.setattr(cookies, "datetime", Later)
    assert await (await client.get("/")).get_data() == b"-"


async def test_the_cookie_jar_view_has_the_fields_of_http_cookiejar() -> None:
    # testing/cookies.py CookieJarView.__iter__: `discard=expires is None` (mutant C25:
    # always False) and `secure=bool(c.secure)` (mutant C24 passed None on): as in
    # Quart's http.cookiejar jar, a session cookie is discarded at the end of the
    # session, a persistent one is kept until it expires, and Secure is a bool.
    app = Microframework(__name__)
    client = app.test_client()
    client.set_cookie("session_only", "1")
    client.set_cookie("kept", "2", max_age=3600)
    jar = client.cookie_jar
    assert jar is not None
    found = {cookie.name: cookie for cookie in jar}
    assert found["session_only"].discard is True
    assert found["session_only"].expires is None
    assert found["kept"].discard is False
    assert found["kept"].expires is not None
    assert found["kept"].secure is False


async def test_spaces_around_a_set_cookie_name_are_not_part_of_it() -> None:
    # testing/cookies.py parse_set_cookie: `key.strip()` (mutant C29 kept the spaces):
    # RFC 6265 5.2 trims the name, as browsers do, so "a =1" sets the cookie "a".
    app = Microframework(__name__)

    @app.get("/set")
    async def set_() -> Response:
        response = Response("ok")
        response.headers["Set-Cookie"] = " a = 1 ; Path=/"
        return response

    @app.get("/")
    async def index() -> str:
        return request.headers.get("Cookie", "-")

    client = app.test_client()
    await client.get("/set")
    assert client.get_cookie("a") is not None
    assert await (await client.get("/")).get_data() == b"a=1"


async def test_a_max_age_that_is_not_all_digits_is_ignored() -> None:
    # testing/cookies.py parse_set_cookie: `_MAX_AGE.fullmatch(arg)` (mutant C33 used
    # match, and int() then raised): RFC 6265 5.2.2 ignores a Max-Age with a non-digit,
    # so the cookie is kept for the session.
    app = Microframework(__name__)

    @app.get("/set")
    async def set_() -> Response:
        response = Response("ok")
        response.headers["Set-Cookie"] = "a=1; Max-Age=60s; Path=/"
        return response

    client = app.test_client()
    await client.get("/set")
    cookie = client.get_cookie("a")
    assert cookie is not None
    assert cookie.max_age is None
    assert cookie.expires is None


async def _set_cookie_from(host: str, header: str) -> MicroframeworkClient:
    app = Microframework(__name__)

    @app.get("/set")
    async def set_() -> Response:
        response = Response("ok")
        response.headers["Set-Cookie"] = header
        return response

    client = app.test_client()
    await client.get("/set", headers={"Host": host})
    return client


async def test_an_empty_domain_attribute_is_ignored_not_a_reset() -> None:
    # testing/cookies.py parse_set_cookie: `name == "domain" and arg` (mutant C37 let an
    # empty Domain through): RFC 6265 5.2.3, an empty Domain attribute is ignored, so
    # the earlier Domain=localhost stands (the cookie goes to subdomains too).
    client = await _set_cookie_from(
        "localhost", "a=1; Domain=localhost; Domain=; Path=/"
    )
    cookie = client.get_cookie("a")
    assert cookie is not None
    assert cookie.origin_only is False


async def test_a_domain_attribute_is_matched_ignoring_case() -> None:
    # testing/cookies.py parse_set_cookie: `arg.lstrip(".").lower()` (mutant C39 kept the
    # case, and the cookie was refused as another host's): domains are case-insensitive.
    client = await _set_cookie_from("localhost", "a=1; Domain=LocalHost; Path=/")
    cookie = client.get_cookie("a")
    assert cookie is not None
    assert cookie.origin_only is False


async def test_a_host_may_not_set_a_cookie_for_a_name_it_only_ends_with() -> None:
    # testing/cookies.py refused: `host.endswith("." + domain)` (mutant C50 dropped the
    # dot): "notexample.com" is not a subdomain of "example.com" (RFC 6265 5.1.3).
    client = await _set_cookie_from("notexample.com", "a=1; Domain=example.com; Path=/")
    assert client.get_cookie("a", domain="example.com") is None
    assert client.get_cookie("a", domain="notexample.com") is None
    client = await _set_cookie_from(
        "www.example.com", "a=1; Domain=example.com; Path=/"
    )
    assert client.get_cookie("a", domain="example.com") is not None


async def test_samesite_none_in_any_case_needs_secure() -> None:
    # testing/cookies.py refused: `same_site.lower() == "none"` (mutant C58 compared
    # "None" only): attribute values are case-insensitive (RFC 6265bis 5.6.7), so
    # "SameSite=none" without Secure is refused as "SameSite=None" is.
    client = await _set_cookie_from("localhost", "a=1; SameSite=none; Path=/")
    assert client.get_cookie("a") is None
    client = await _set_cookie_from("localhost", "a=1; SameSite=none; Secure; Path=/")
    assert client.get_cookie("a") is not None


async def test_a_kept_context_is_torn_down_once() -> None:
    # testing/client.py _keep_context: `box["ctx"] = ctx.copy()` (mutant L09 kept the
    # request's own context, so leaving the block tore it down a second time): teardown
    # runs once per request, in the app's task, as in Flask's `with client:`.
    app = Microframework(__name__)
    torn: list[str] = []

    @app.teardown_request
    async def teardown_request(exc: BaseException | None) -> None:
        torn.append("request")

    @app.teardown_appcontext
    async def teardown_appcontext(exc: BaseException | None) -> None:
        torn.append("app")

    @app.get("/")
    async def index() -> str:
        return "ok"

    client = app.test_client()
    async with client:
        await client.get("/")
        assert request.path == "/"
        assert torn == ["request", "app"]
    assert torn == ["request", "app"]


async def test_an_error_in_a_running_step_does_not_escape_the_close() -> None:
    # wrappers/body.py _outlive(..., BaseException) for IterableBody.aclose: any error
    # of the step it waits out is ignored (mutant Y60 ignored CancelledError only): the
    # iterating side hears the error; closing the body still completes.
    entered, release = threading.Event(), threading.Event()

    def source() -> Iterator[bytes]:
        yield b"a"
        entered.set()
        release.wait()
        raise ValueError("read failed")

    body = IterableBody(source())
    chunks = body.__aiter__()
    assert await chunks.__anext__() == b"a"
    step = asyncio.ensure_future(chunks.__anext__())
    await asyncio.to_thread(entered.wait)
    closing = asyncio.ensure_future(body.aclose())
    asyncio.get_running_loop().call_soon(release.set)  # once the close is waiting
    await closing
    with pytest.raises(ValueError, match="read failed"):
        await step


async def test_a_cookie_path_ending_in_a_slash_matches_the_paths_under_it() -> None:
    # testing/cookies.py sent_to: `mine.endswith("/") or path[len(mine)] == "/"`
    # (mutant C10 dropped the first test): RFC 6265 5.1.4, the cookie-path "/a/" matches
    # "/a/b"; "/a" itself and "/ab" are not under it.
    app = Microframework(__name__)

    @app.get("/<path:rest>")
    async def echo(rest: str) -> str:
        return request.headers.get("Cookie", "-")

    client = app.test_client()
    client.set_cookie("a", "1", path="/a/")
    assert await (await client.get("/a/b")).get_data() == b"a=1"
    assert await (await client.get("/a/")).get_data() == b"a=1"
    assert await (await client.get("/a")).get_data() == b"-"
    assert await (await client.get("/ab")).get_data() == b"-"


async def test_max_age_zero_deletes_the_cookie_even_within_one_clock_tick(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # testing/cookies.py drop_expired: `cookie.expires <= now` (mutant C18: `<`): a
    # cookie expiring at this very instant is gone (Max-Age=0 is how a server deletes
    # one), even on a clock that has not moved since the Set-Cookie was parsed.
    frozen = datetime.now(UTC)

    class Frozen(datetime):
        @classmethod
        def now(cls, tz: tzinfo | None = None) -> Frozen:
            return cls.fromtimestamp(frozen.timestamp(), tz)

    monkeypatch.setattr(cookies, "datetime", Frozen)
    client = await _set_cookie_from("localhost", "a=1; Max-Age=0; Path=/")
    assert client.get_cookie("a") is None


def test_set_cookie_without_a_key_is_a_type_error() -> None:
    # testing/client.py set_cookie: `elif 1 <= len(args) <= 2` (mutant L41 let no
    # arguments through, an IndexError): no key is the same TypeError as too many.
    client = Microframework(__name__).test_client()
    with pytest.raises(TypeError, match="set_cookie takes"):
        client.set_cookie()
    with pytest.raises(TypeError, match="set_cookie takes"):
        client.set_cookie("host", "key", "value", "extra")


async def test_the_cookie_jar_view_leaves_out_expired_cookies(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # testing/cookies.py CookieJarView.__iter__: `self._jar.drop_expired()` first
    # (mutant C20 dropped it) and `__len__` counting what it lists (mutant C26 counted
    # the jar): a cookie past its Max-Age is not listed nor counted.
    client = Microframework(__name__).test_client()
    client.set_cookie("a", "1", max_age=60)
    client.set_cookie("b", "2")

    class Later(datetime):
        @classmethod
        def now(cls, tz: tzinfo | None = None) -> Later:
            moment = datetime.now(tz) + timedelta(days=1)
            return cls.fromtimestamp(moment.timestamp(), tz)

    monkeypatch.setattr(cookies, "datetime", Later)
    jar = client.cookie_jar
    assert jar is not None
    assert len(jar) == 1
    assert [cookie.name for cookie in jar] == ["b"]


def test_set_cookie_that_a_browser_would_refuse_is_an_error() -> None:
    # testing/client.py set_cookie: `raise ValueError` when parse_set_cookie refuses it
    # (mutant L47 returned silently): a __Host- cookie without Secure is not stored,
    # and the test hears why rather than finding no cookie later.
    client = Microframework(__name__).test_client()
    with pytest.raises(ValueError, match="could not be stored"):
        client.set_cookie("__Host-a", "1")
    assert client.get_cookie("__Host-a") is None
    client.set_cookie("__Host-a", "1", secure=True)
    assert client.get_cookie("__Host-a") is not None


def test_quarts_delete_cookie_with_a_domain_deletes_that_domains_cookie() -> None:
    # testing/client.py delete_cookie: `host = domain or server_name` in Quart's form
    # (mutant L51 took server_name only): the cookie set for Domain=example.com is the
    # one deleted, as Quart's delete_cookie(server_name, key, domain=...) does.
    client = Microframework(__name__).test_client()
    client.set_cookie("www.example.com", "a", "1", domain="example.com")
    assert client.get_cookie("a", domain="example.com") is not None
    client.delete_cookie("www.example.com", "a", domain="example.com")
    assert client.get_cookie("a", domain="example.com") is None


async def test_a_set_cookie_without_an_equals_sign_is_ignored() -> None:
    # testing/cookies.py parse_set_cookie: `if not sep or not key` (mutant C30 took
    # "flag" as the name of an empty cookie): RFC 6265 5.2 ignores a Set-Cookie whose
    # name-value pair has no "=".
    client = await _set_cookie_from("localhost", "flag; Path=/")
    assert client.get_cookie("flag") is None
    jar = client.cookie_jar
    assert jar is not None
    assert len(jar) == 0


async def test_a_leading_dot_of_the_domain_attribute_is_ignored() -> None:
    # testing/cookies.py parse_set_cookie: `arg.lstrip(".")` (mutant C38 kept the dot,
    # and the cookie was refused as another host's): RFC 6265 5.2.3, ".example.com"
    # is "example.com".
    client = await _set_cookie_from(
        "www.example.com", "a=1; Domain=.example.com; Path=/"
    )
    cookie = client.get_cookie("a", domain="example.com")
    assert cookie is not None
    assert cookie.origin_only is False


async def test_a_bounded_send_is_cut_once_for_its_first_reason() -> None:
    # _bounded.py _Bound.cut: `if self.why is None` (mutant D01 cut again) and then
    # `self.task.cancel()` (mutant D02 dropped it): the timer and the drain's deadline
    # may both fire before the task runs; one cancel, with the first reason, so
    # bounded_send can undo it (uncancel() == 0) and log that reason.
    from microframework._bounded import _Bound

    async def waiting() -> None:
        await asyncio.Event().wait()

    task = asyncio.create_task(waiting())
    bound = _Bound(task, cast(Any, None), cast(Any, None))
    bound.cut("idle past its timeout")
    bound.cut("cut by shutdown")
    assert bound.why == "idle past its timeout"
    assert task.cancelling() == 1
    with pytest.raises(asyncio.CancelledError):
        await task


def test_a_path_attribute_not_starting_with_a_slash_means_the_root() -> None:
    # testing/cookies.py default_path: `head if head.startswith("/") else "/"` (mutant
    # C61: `head or "/"`): RFC 6265 5.1.4, a request path not starting with "/" gives
    # the default path "/", as does an invalid Path attribute.
    client = Microframework(__name__).test_client()
    client.set_cookie("a", "1", path="a/b")
    assert client.get_cookie("a", path="/") is not None


def test_quarts_set_cookie_with_server_name_by_keyword_sets_it_for_that_host() -> None:
    # testing/client.py set_cookie: `len(args) == 3 or server_name is not None` (mutant
    # L38 dropped the keyword test, and the cookie went to "localhost"): Quart's form
    # set_cookie(server_name=..., key=..., value=...) by keyword.
    client = Microframework(__name__).test_client()
    client.set_cookie(server_name="example.com", key="a", value="1")
    assert client.get_cookie("a", domain="example.com") is not None
    assert client.get_cookie("a") is None


async def test_a_bounded_send_waits_its_timeout_in_all_grace_included(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # _bounded.py bounded_send: `loop.call_later(grace, bound.hear, timeout - grace)`
    # (mutant D13 gave hear() the whole timeout again): the grace is part of the
    # response's idle timeout, so a send is cut *timeout* seconds after it began.
    from microframework._bounded import bounded_send

    app = Microframework(__name__)
    loop = asyncio.get_running_loop()
    timers: list[tuple[float, tuple[Any, ...]]] = []
    call_later = loop.call_later

    def spy(
        delay: float, callback: Any, *args: Any, **kwargs: Any
    ) -> asyncio.TimerHandle:
        timers.append((delay, args))
        # No copy of the request's context: a cancelled timer stays in the heap.
        context = kwargs["context"]
        assert isinstance(context, contextvars.Context) and not len(context)
        return call_later(delay, callback, *args, **kwargs)

    monkeypatch.setattr(loop, "call_later", spy)
    for timeout in (5.0, 0.25):
        sent = loop.create_future()
        sent.set_result(None)
        await bounded_send(app, sent, cast(Any, None), timeout)
    assert timers == [(1.0, (4.0,)), (0.25, (0.0,))]


def test_flasks_one_argument_set_cookie_sets_an_empty_value() -> None:
    # testing/client.py set_cookie: `args[1] if len(args) == 2 else ""` (mutant L42 took
    # the key as the value): Flask's set_cookie(key, value="").
    client = Microframework(__name__).test_client()
    client.set_cookie("flag")
    cookie = client.get_cookie("flag")
    assert cookie is not None
    assert cookie.value == ""


def test_quarts_delete_cookie_with_server_name_by_keyword() -> None:
    # testing/client.py delete_cookie: `len(args) == 2 or server_name is not None`
    # (mutant L50 dropped the keyword test, and deleted from "localhost"): Quart's
    # delete_cookie(server_name=..., key=...) by keyword.
    client = Microframework(__name__).test_client()
    client.set_cookie("example.com", "a", "1")
    client.set_cookie("a", "2")
    client.delete_cookie(server_name="example.com", key="a")
    assert client.get_cookie("a", domain="example.com") is None
    assert client.get_cookie("a") is not None


async def test_session_transaction_needs_the_cookie_jar() -> None:
    # testing/client.py session_transaction: `self._require_jar()` first (mutant L55
    # dropped it, and the session changed was silently lost): as Flask's, a client
    # made with use_cookies=False cannot carry a session.
    app = Microframework(__name__)
    app.secret_key = "k"
    client = app.test_client(use_cookies=False)
    with pytest.raises(RuntimeError, match="use_cookies=False"):
        async with client.session_transaction() as session:
            session["user"] = "ann"


async def test_each_request_gets_its_own_copy_of_the_lifespan_state() -> None:
    # testing/client.py _with_state: `scope["state"] = dict(self.lifespan_state)`
    # (mutant L60 shared the one dict): as a server, each request's state is a shallow
    # copy, so what one request stores there is not seen by the next.
    app = Microframework(__name__)

    @app.before_serving
    async def start() -> None:
        app.state["db"] = "pool"

    @app.get("/")
    async def index() -> str:
        seen = ",".join(sorted(request.state))
        request.state["scratch"] = "per request"
        return seen

    async with app.test_app() as test_app:
        client = test_app.test_client()
        assert await (await client.get("/")).get_data() == b"db"
        assert await (await client.get("/")).get_data() == b"db"


async def test_a_cut_small_answer_is_logged_with_its_path_escaped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # _bounded.py bounded_send: `printable(request.path)` in the warning (mutant D24
    # logged the path as sent): a path with CR LF cannot forge a log line.
    from types import SimpleNamespace

    from microframework._bounded import bounded_send

    app = Microframework(__name__)
    started = asyncio.Event()

    async def stuck() -> None:
        started.set()
        await asyncio.Event().wait()

    sent = SimpleNamespace(method="GET", path="/x\r\nforged: line")
    sending = asyncio.ensure_future(bounded_send(app, stuck(), cast(Any, sent), 5.0))
    await started.wait()
    (bound,) = app.drain.members
    bound.on_drain_deadline()
    with caplog.at_level("WARNING", logger=app.logger.name):
        await sending
    (record,) = [r for r in caplog.records if "left unfinished" in r.getMessage()]
    assert "/x\\r\\nforged: line" in record.getMessage()
    assert "\r" not in record.getMessage()
    assert "cut by shutdown" in record.getMessage()


async def test_a_streamed_responses_last_message_goes_out_without_the_context() -> None:
    # globals.py without_context: `_cv_app.set(None)` around the last send (mutant G01
    # set the current context again): a server's keep-alive timer, made as the response
    # ends, copies the context; it must not hold the request until the next one.
    from microframework.globals import _cv_app

    app = Microframework(__name__)

    @app.get("/")
    async def index() -> Response:
        async def body() -> AsyncIterator[bytes]:
            yield b"streamed"

        return Response(body())

    seen: list[tuple[bool, bool]] = []

    async def send(message: dict[str, Any]) -> None:
        last = message["type"] == "http.response.body" and not message["more_body"]
        seen.append((last, _cv_app.get(None) is None))

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    await app(http_scope("/"), receive, send)
    assert seen[-1] == (True, True)
    assert (False, False) in seen  # the streamed chunks went out within it


async def test_a_redirect_to_the_mount_point_itself_stays_under_the_root_path() -> None:
    # testing/client.py _redirected: `path == root_path or path.startswith(root_path +
    # "/")` (mutant L80 dropped the first test, and "/app" left the mount): a redirect
    # to the mount point without its slash is followed there, then to "/app/".
    from microframework import redirect

    app = Microframework(__name__)

    @app.get("/")
    async def home() -> str:
        return f"home {request.root_path}"

    @app.get("/go")
    async def go() -> Any:
        return redirect("/app")

    client = app.test_client()
    response = await client.get("/app/go", root_path="/app", follow_redirects=True)
    assert response.status_code == 200
    assert await response.get_data() == b"home /app"


async def test_a_followed_redirect_sends_the_new_host_and_port() -> None:
    # testing/client.py _redirected: `headers["Host"] = netloc` (mutant L79 kept the old
    # Host): the next request is addressed to where the Location points.
    from microframework import redirect

    app = Microframework(__name__)

    @app.get("/go")
    async def go() -> Any:
        return redirect("http://localhost:8080/there")

    @app.get("/there")
    async def there() -> str:
        return request.host

    response = await app.test_client().get("/go", follow_redirects=True)
    assert await response.get_data() == b"localhost:8080"


def test_quarts_set_cookie_form_without_a_key_is_a_type_error() -> None:
    # testing/client.py _quart_cookie_args: `if not 1 <= len(args) <= 2` (mutant L91
    # dropped it, an IndexError): Quart's form needs a key.
    client = Microframework(__name__).test_client()
    with pytest.raises(TypeError, match="Quart's form"):
        client.set_cookie(server_name="example.com")


async def test_outside_a_websocket_context_the_error_gives_no_request_hint() -> None:
    # globals.py _no_websocket: `ctx is not None and ctx.request is not None` (mutant G05
    # dropped the request test): an app context with neither request nor websocket
    # (a CLI command, a background task) is not "an HTTP request's context".
    from microframework import websocket

    app = Microframework(__name__)
    async with app.app_context():
        with pytest.raises(RuntimeError) as info:
            websocket.path  # noqa: B018
    assert str(info.value) == "Working outside of websocket context."


async def test_the_proxies_objects_are_refused_where_there_is_none() -> None:
    # globals.py _request/_websocket: `(current := ctx.request) is not None` (mutants
    # G06/G07 returned None): in an app context without a request (or websocket), the
    # proxy's object is an error, as outside any context, not None.
    from microframework import websocket

    app = Microframework(__name__)
    async with app.app_context():
        with pytest.raises(RuntimeError, match="outside of request context"):
            request._get_current_object()  # type: ignore[attr-defined]
        with pytest.raises(RuntimeError, match="outside of websocket context"):
            websocket._get_current_object()  # type: ignore[attr-defined]


def test_the_session_outside_any_context_is_the_usual_error() -> None:
    # globals.py _session: `ctx is None or ...` (mutant G12 dropped it, an
    # AttributeError on None): outside any context, the session proxy says so.
    from microframework import session

    with pytest.raises(RuntimeError, match="outside of request context"):
        session.get("user")
