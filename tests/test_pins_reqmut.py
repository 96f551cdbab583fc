"""Pins from mutation testing the request (outside body reading), its URL and routing
attributes, the session interface, tagged JSON and the helpers (session 21): each
fails if the line it names loses its effect."""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import AsyncIterator
from collections.abc import Iterator
from typing import Any

import pytest
from asgi_harness import call
from asgi_harness import http_scope
from asgi_harness import Recorder
from itsdangerous import URLSafeTimedSerializer
from werkzeug.sansio.utils import get_content_length

from microframework import has_request_context
from microframework import Microframework
from microframework import redirect
from microframework import request
from microframework import session
from microframework import stream_with_context
from microframework.helpers import get_debug_flag
from microframework.helpers import make_push_promise
from microframework.json.provider import DefaultJSONProvider
from microframework.json.tag import JSONTag
from microframework.json.tag import TaggedJSONSerializer
from microframework.sessions import as_lifetime
from microframework.sessions import SecureCookieSession
from microframework.sessions import SecureCookieSessionInterface
from microframework.wrappers import Request
from microframework.wrappers.response import Response

JSON = {"Content-Type": "application/json"}


class _Fallback(Request):
    """A request whose bad JSON stands for ``{"fallback": n}``, n counting the calls."""

    calls = 0

    def on_json_loading_failed(self, error: Exception | None) -> Any:
        type(self).calls += 1
        return {"fallback": type(self).calls}


# --- request.get_json: its two caches, as Flask's (_cached_json[silent]) -----------


async def test_an_overrides_answer_is_cached_and_not_asked_for_twice(
    app: Microframework,
) -> None:
    # Flask caches what on_json_loading_failed returned: the second call reuses it.
    class Counted(_Fallback):
        calls = 0

    app.request_class = Counted

    @app.post("/")
    async def index() -> Any:
        return {"a": await request.get_json(), "b": await request.get_json()}

    response = await app.test_client().post("/", data=b"{bad", headers=JSON)
    assert await response.get_json() == {"a": {"fallback": 1}, "b": {"fallback": 1}}


async def test_a_silent_read_does_not_take_what_an_override_gave(
    app: Microframework,
) -> None:
    # The silent and the loud answer are cached apart: silent is None for bad JSON.
    class Counted(_Fallback):
        calls = 0

    app.request_class = Counted

    @app.post("/")
    async def index() -> Any:
        loud = await request.get_json()
        return {"loud": loud, "quiet": await request.get_json(silent=True)}

    response = await app.test_client().post("/", data=b"{bad", headers=JSON)
    assert await response.get_json() == {"loud": {"fallback": 1}, "quiet": None}


async def test_a_loud_read_after_a_silent_failure_is_still_400(
    app: Microframework,
) -> None:
    # The silent None must not be cached as the loud answer (Flask: 400 again).
    @app.post("/")
    async def index() -> str:
        assert await request.get_json(silent=True) is None
        await request.get_json()
        return "parsed"

    response = await app.test_client().post("/", data=b"{bad", headers=JSON)
    assert response.status_code == 400


async def test_a_silent_read_after_a_loud_one_gives_the_same_object(
    app: Microframework,
) -> None:
    # As Flask: one parse fills both caches.
    @app.post("/")
    async def index() -> Any:
        first = await request.get_json()
        return {"same": await request.get_json(silent=True) is first}

    response = await app.test_client().post("/", json={"a": 1})
    assert await response.get_json() == {"same": True}


async def test_get_json_without_cache_parses_again(app: Microframework) -> None:
    # cache=False skips the cached result too (Flask): a changed first result stays.
    @app.post("/")
    async def index() -> Any:
        first = await request.get_json()
        first["changed"] = True
        again = await request.get_json(cache=False)
        return {"again": again, "same": again is first}

    response = await app.test_client().post("/", json={"a": 1})
    assert await response.get_json() == {"again": {"a": 1}, "same": False}


async def test_get_json_parses_with_the_apps_provider(app: Microframework) -> None:
    # docs/requests-and-responses.md: JSON decoding goes through app.json.
    class Marking(DefaultJSONProvider):
        def loads(self, s: str | bytes, **kwargs: Any) -> Any:
            return {"via": "provider", "data": super().loads(s, **kwargs)}

    app.json = Marking(app)

    @app.post("/")
    async def index() -> Any:
        return {"got": await request.get_json()}

    response = await app.test_client().post("/", data=b'{"a":1}', headers=JSON)
    body = (await response.get_data()).decode()
    assert '"via":"provider"' in body.replace(" ", "")
    assert '"data":{"a":1}' in body.replace(" ", "")


# --- URL parts and routing attributes -----------------------------------------------


async def test_a_path_that_only_shares_a_prefix_with_the_root_path_is_404(
    app: Microframework,
) -> None:
    # root_path "/api" mounts "/api/...", not "/apiary": that is outside (404).
    @app.get("/ary")
    async def ary() -> str:
        return "ary"

    rec = await call(app, http_scope("/apiary", root_path="/api"))
    assert rec.status == 404


async def test_a_path_ending_in_a_dot_segment_keeps_its_slash(
    app: Microframework,
) -> None:
    # RFC 3986 5.2.4: "/files/." is "/files/" (a directory), not "/files".
    @app.get("/files/")
    async def files() -> str:
        return request.path

    rec = await call(app, http_scope("/files/."))
    assert (rec.status, rec.body) == (200, b"/files/")


async def test_full_path_leaves_the_root_path_out(app: Microframework) -> None:
    # As Flask's (SCRIPT_NAME) and Quart's: full_path is the path below the root.
    @app.get("/x")
    async def x() -> str:
        return request.full_path

    rec = await call(app, http_scope("/api/x", root_path="/api", query_string=b"a=1"))
    assert (rec.status, rec.body) == (200, b"/x?a=1")


async def test_a_content_length_of_thousands_of_digits_is_werkzeugs_answer(
    app: Microframework,
) -> None:
    # int() refuses more than 4,300 digits: the fast path must leave those to
    # werkzeug (not a 500).
    declared = "9" * 4400

    @app.post("/")
    async def index() -> Any:
        body = await request.get_data(as_text=True)
        return {"length": request.content_length, "body": body}

    scope = http_scope(
        "/", method="POST", headers=[(b"content-length", declared.encode())]
    )
    rec = await call(app, scope, Recorder(b"hi"))
    assert rec.status == 200
    expected = get_content_length(http_content_length=declared)
    assert rec.body.replace(b" ", b"") == (b'{"body":"hi","length":%d}\n' % expected)


async def test_request_state_keeps_what_is_written_without_lifespan_state(
    app: Microframework,
) -> None:
    # A scope without "state" (no lifespan): request.state is still one dict.
    @app.before_request
    async def mark() -> None:
        request.state["seen"] = "yes"

    @app.get("/")
    async def index() -> str:
        return str(request.state["seen"])

    scope = http_scope("/")
    scope.pop("state", None)
    rec = await call(app, scope)
    assert (rec.status, rec.body) == (200, b"yes")


# --- sessions --------------------------------------------------------------------------


async def test_reading_an_empty_session_sets_no_cookie(app: Microframework) -> None:
    # Flask: an empty session is deleted only if it was changed.
    app.secret_key = "k"

    @app.get("/")
    async def index() -> str:
        return str(session.get("user"))

    response = await app.test_client().get("/")
    assert response.headers.getlist("Set-Cookie") == []
    assert response.headers["Vary"] == "Cookie"


async def test_the_deleting_cookie_carries_the_session_cookies_attributes(
    app: Microframework,
) -> None:
    # A browser deletes a cookie only for the same Domain and Path (Flask passes all).
    app.config.update(
        SECRET_KEY="k",
        SESSION_COOKIE_DOMAIN="example.test",
        SESSION_COOKIE_PATH="/app",
        SESSION_COOKIE_SECURE=True,
        SESSION_COOKIE_SAMESITE="Lax",
    )
    emptied = SecureCookieSession({"user": "eve"})
    emptied.clear()
    response = Response()
    await SecureCookieSessionInterface().save_session(app, emptied, response)
    (header,) = response.headers.getlist("Set-Cookie")
    for part in ("session=;", "Domain=example.test", "Path=/app", "Secure"):
        assert part in header
    assert "SameSite=Lax" in header


async def test_an_emptied_session_varies_on_cookie_even_if_never_read(
    app: Microframework,
) -> None:
    # save_session as Flask's: deleting the cookie adds Vary: Cookie itself.
    app.secret_key = "k"
    emptied = SecureCookieSession()
    emptied.modified = True
    response = Response()
    await SecureCookieSessionInterface().save_session(app, emptied, response)
    assert response.headers.getlist("Set-Cookie")
    assert response.headers["Vary"] == "Cookie"


class _Cookies:
    def __init__(self, value: str) -> None:
        self.cookies = {"session": value}


async def test_fallback_keys_changed_at_run_time_are_used(
    app: Microframework,
) -> None:
    # Flask builds the signer per call: a key moved to the fallbacks later verifies.
    interface = SecureCookieSessionInterface()
    app.config["SECRET_KEY"] = "old"
    saved = SecureCookieSession({"user": "eve"})
    saved["user"] = "eve"
    response = Response()
    await interface.save_session(app, saved, response)
    value = response.headers["Set-Cookie"].split(";", 1)[0].partition("=")[2]
    app.config["SECRET_KEY"] = "new"
    assert dict(await interface.open_session(app, _Cookies(value)) or {}) == {}
    app.config["SECRET_KEY_FALLBACKS"] = ["old"]
    opened = await interface.open_session(app, _Cookies(value))
    assert dict(opened or {}) == {"user": "eve"}


def _flask_signer(key: str) -> URLSafeTimedSerializer:
    # flask.sessions.SecureCookieSessionInterface's signer, spelled out.
    return URLSafeTimedSerializer(
        key,
        salt="cookie-session",
        serializer=TaggedJSONSerializer(),
        signer_kwargs={"key_derivation": "hmac", "digest_method": hashlib.sha1},
    )


async def test_session_cookies_are_signed_as_flask_signs_them(
    app: Microframework,
) -> None:
    # docs/sessions.md: a Flask app's cookie with the same key reads the same here,
    # and ours reads there.
    app.secret_key = "k"
    interface = SecureCookieSessionInterface()
    flasks = _flask_signer("k").dumps({"user": "eve"})
    opened = await interface.open_session(app, _Cookies(flasks))
    assert dict(opened or {}) == {"user": "eve"}
    ours = SecureCookieSession({"user": "bob"})
    ours["user"] = "bob"
    response = Response()
    await interface.save_session(app, ours, response)
    value = response.headers["Set-Cookie"].split(";", 1)[0].partition("=")[2]
    assert _flask_signer("k").loads(value) == {"user": "bob"}


def test_a_lifetime_of_true_is_refused() -> None:
    # bool is an int, but True seconds is a mistake: refused with the other types.
    with pytest.raises(TypeError, match="PERMANENT_SESSION_LIFETIME"):
        as_lifetime(True)


# --- tagged JSON -------------------------------------------------------------------------


class _Html:
    def __html__(self) -> str:
        return "<b>x</b>"


def test_anything_with_html_reads_back_as_markup() -> None:
    # As Flask's TagMarkup: any object with __html__, not only Markup.
    serializer = TaggedJSONSerializer()
    loaded = serializer.loads(serializer.dumps({"h": _Html()}))
    assert loaded == {"h": "<b>x</b>"}
    assert type(loaded["h"]).__name__ == "Markup"


def test_a_tag_registered_at_an_index_is_checked_before_the_defaults() -> None:
    # Flask's docs example: an OrderedDict tag at index 0 goes before PassDict.
    class TagOrderedDict(JSONTag):
        __slots__ = ()
        key = " od"

        def check(self, value: Any) -> bool:
            return isinstance(value, OrderedDict)

        def to_json(self, value: Any) -> Any:
            return [[k, self.serializer.tag(v)] for k, v in value.items()]

        def to_python(self, value: Any) -> Any:
            return OrderedDict(value)

    serializer = TaggedJSONSerializer()
    serializer.register(TagOrderedDict, index=0)
    loaded = serializer.loads(serializer.dumps(OrderedDict(b=1, a=2)))
    assert type(loaded) is OrderedDict
    assert list(loaded.items()) == [("b", 1), ("a", 2)]


# --- helpers -------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["no", "No ", "false", "0"])
def test_debug_flag_off_words(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    # Flask's get_debug_flag: "0", "false" and "no" are off.
    monkeypatch.setenv("MICROFRAMEWORK_DEBUG", value)
    assert not get_debug_flag()


async def test_redirect_uses_the_apps_response_class(app: Microframework) -> None:
    # Flask's app.redirect builds self.response_class.
    class Mine(Response):
        pass

    app.response_class = Mine
    async with app.app_context():
        response = redirect("/there")
    assert type(response) is Mine
    assert response.headers["Location"] == "/there"


async def test_stream_with_context_needs_a_request_not_only_an_app(
    app: Microframework,
) -> None:
    # As Flask: an app context alone has no request to keep.
    def chunks() -> Iterator[str]:
        yield "a"

    async with app.app_context():
        with pytest.raises(RuntimeError, match="request context"):
            stream_with_context(chunks())


async def test_closing_a_sync_stream_with_context_closes_its_source(
    app: Microframework,
) -> None:
    # As Flask's: the wrapper's end closes the generator (its finally runs now).
    ran: list[str] = []

    def chunks() -> Iterator[str]:
        try:
            yield "a"
            yield "b"
        finally:
            ran.append("finally")

    source = chunks()  # held here: only an explicit close() runs its finally
    async with app.test_request_context("/"):
        wrapped = stream_with_context(source)
    assert next(wrapped) == "a"
    wrapped.close()
    assert ran == ["finally"]


async def test_an_async_stream_with_context_leaves_no_context_behind(
    app: Microframework,
) -> None:
    # Each step runs in the request's context, and the caller's is back after it.
    async def chunks() -> AsyncIterator[str]:
        yield request.path
        yield request.path

    async with app.test_request_context("/here"):
        wrapped = stream_with_context(chunks())
    assert not has_request_context()
    assert await wrapped.__anext__() == "/here"
    assert not has_request_context()
    await wrapped.aclose()


async def test_make_push_promise_outside_a_request_is_a_runtime_error(
    app: Microframework,
) -> None:
    async with app.app_context():
        with pytest.raises(RuntimeError, match="active request"):
            await make_push_promise("/style.css")
