"""The session classes and the signed-cookie interface, driven with stub apps and
requests and a real ``Response``.
"""

from __future__ import annotations

import asyncio
import functools
import threading
import uuid
from datetime import datetime
from datetime import timedelta
from datetime import UTC
from typing import Any
from unittest import mock

import pytest
from hypothesis import given
from hypothesis import strategies as st
from itsdangerous import TimestampSigner
from itsdangerous import URLSafeTimedSerializer
from markupsafe import Markup
from werkzeug.http import parse_date

from microframework import copy_current_request_context
from microframework import flash
from microframework import get_flashed_messages
from microframework import Microframework
from microframework import session
from microframework import websocket
from microframework.json.tag import JSONTag
from microframework.json.tag import TaggedJSONSerializer
from microframework.sessions import NullSession
from microframework.sessions import SecureCookieSession
from microframework.sessions import SecureCookieSessionInterface
from microframework.sessions import session_json_serializer
from microframework.sessions import SessionInterface
from microframework.sessions import SessionMixin
from microframework.wrappers.response import Response


class StubApp:
    """Only what the session interface reads: ``config``."""

    def __init__(self, **config: Any) -> None:
        self.config = dict(Microframework.default_config)
        self.config["SECRET_KEY"] = "test key"
        self.config.update(config)


class StubRequest:
    def __init__(self, cookies: dict[str, str] | None = None) -> None:
        self.cookies = cookies or {}


def _set_cookies(response: Response) -> list[str]:
    return response.headers.getlist("Set-Cookie")


def _cookie_value(response: Response, name: str = "session") -> str:
    (header,) = _set_cookies(response)
    first = header.split(";", 1)[0]
    key, _, value = first.partition("=")
    assert key == name
    return value


async def _save(app: Any, session: Any) -> Response:
    response = Response("body")
    await SecureCookieSessionInterface().save_session(app, session, response)
    return response


async def _open(app: Any, value: str | None) -> Any:
    request = StubRequest({} if value is None else {"session": value})
    return await SecureCookieSessionInterface().open_session(app, request)  # type: ignore[arg-type]


def _written(**data: Any) -> SecureCookieSession:
    session = SecureCookieSession()
    session.update(data)
    return session


async def _round_trip(app: Any, data: dict[str, Any]) -> Any:
    return await _open(app, _cookie_value(await _save(app, _written(**data))))


# -- the session object ---------------------------------------------------------------


def test_new_session_is_neither_modified_nor_accessed() -> None:
    session = SecureCookieSession({"a": 1})
    assert not session.modified
    assert not session.accessed


@pytest.mark.parametrize(
    "read",
    [
        lambda s: s["a"],
        lambda s: s.get("a"),
        lambda s: s.setdefault("a", 2),
        lambda s: s.permanent,
    ],
)
def test_reading_the_object_itself_marks_nothing(read: Any) -> None:
    # Flask 3.1.3 tracks use in the context: a custom save_session may read the
    # session before it looks at ``accessed``.
    session = SecureCookieSession({"a": 1})
    read(session)
    assert not session.accessed
    assert not session.modified


def test_writing_marks_modified() -> None:
    session = SecureCookieSession()
    session["a"] = 1
    assert session.modified
    assert not session.accessed


async def test_a_save_session_that_reads_first_sees_only_the_requests_use() -> None:
    app = Microframework(__name__)
    app.secret_key = "k"
    seen: list[bool] = []

    class Reading(SecureCookieSessionInterface):
        opens_without_waiting = False  # opened before the view: saved even if unused

        async def save_session(self, app: Any, session: Any, response: Any) -> None:
            session.get("user")
            assert session.permanent is False
            seen.append(session.accessed)
            await super().save_session(app, session, response)

    app.session_interface = Reading()

    @app.route("/quiet")
    async def quiet() -> str:
        return "ok"

    @app.route("/used")
    async def used() -> str:
        return str(session.get("user"))

    @app.route("/flashed")
    async def flashed() -> str:
        await flash("hi")
        return "ok"

    client = app.test_client()
    quiet_response = await client.get("/quiet")
    assert "Cookie" not in quiet_response.vary
    assert "Cookie" in (await client.get("/used")).vary
    assert "Cookie" in (await client.get("/flashed")).vary
    assert seen == [False, True, True]


def test_permanent_is_stored_in_the_session() -> None:
    session = SecureCookieSession()
    assert session.permanent is False
    session.permanent = True
    assert session.permanent is True
    assert session["_permanent"] is True
    assert session.modified


def test_null_session_reads_as_empty() -> None:
    session = NullSession()
    assert session.get("user") is None
    assert "user" not in session
    assert dict(session) == {}


@pytest.mark.parametrize(
    "write",
    [
        lambda s: s.__setitem__("a", 1),
        lambda s: s.__delitem__("a"),
        lambda s: s.update(a=1),
        lambda s: s.setdefault("a", 1),
        lambda s: s.pop("a"),
        lambda s: s.popitem(),
        lambda s: s.clear(),
    ],
)
def test_null_session_write_names_the_missing_secret_key(write: Any) -> None:
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        write(NullSession())


# -- the interface ----------------------------------------------------------------------


async def test_without_secret_key_open_returns_none_and_a_null_session_is_made() -> (
    None
):
    app = StubApp(SECRET_KEY=None)
    interface = SecureCookieSessionInterface()
    assert await interface.open_session(app, StubRequest()) is None  # type: ignore[arg-type]
    null = interface.make_null_session(app)  # type: ignore[arg-type]
    assert interface.is_null_session(null)
    assert not interface.is_null_session(SecureCookieSession())


async def test_without_cookie_the_session_is_empty() -> None:
    session = await _open(StubApp(), None)
    assert isinstance(session, SecureCookieSession)
    assert dict(session) == {}


async def test_saved_session_reads_back() -> None:
    session = await _round_trip(StubApp(), {"user": "ada", "n": 3, "ok": True})
    assert dict(session) == {"user": "ada", "n": 3, "ok": True}
    assert not session.modified


async def test_tagged_values_survive_the_cookie() -> None:
    when = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
    ident = uuid.uuid4()
    data = {
        "t": (1, "two", (3,)),
        "b": b"\x00\xffbytes",
        "m": Markup("<b>hi</b>"),
        "u": ident,
        "d": when,
        "tag_like": {" t": [1, 2]},
        "nested": [{"x": (1, 2)}, b"y"],
    }
    session = await _round_trip(StubApp(), data)
    assert dict(session) == data
    assert isinstance(session["m"], Markup)


@pytest.mark.parametrize(
    "value",
    ["", "garbage", "a.b.c", "eyJ4IjoxfQ.ZmFrZQ.c2ln", "\x00\xff", "." * 200],
)
async def test_malformed_cookie_gives_an_empty_session(value: str) -> None:
    session = await _open(StubApp(), value)
    assert dict(session) == {}


@given(st.text(max_size=300))
async def test_any_cookie_text_opens_without_error(value: str) -> None:
    session = await _open(StubApp(), value)
    assert isinstance(session, SecureCookieSession)


async def test_tampered_cookie_gives_an_empty_session() -> None:
    app = StubApp()
    value = _cookie_value(await _save(app, _written(admin=False)))
    payload, _, rest = value.partition(".")
    forged = "eyJhZG1pbiI6dHJ1ZX0" + "." + rest  # {"admin":true}, old signature
    assert forged != value
    session = await _open(app, forged)
    assert dict(session) == {}


async def test_cookie_signed_with_another_key_gives_an_empty_session() -> None:
    value = _cookie_value(await _save(StubApp(SECRET_KEY="old"), _written(a=1)))
    assert dict(await _open(StubApp(SECRET_KEY="new"), value)) == {}


async def test_fallback_key_still_verifies_and_the_next_save_uses_the_new_key() -> None:
    old_app = StubApp(SECRET_KEY="old")
    value = _cookie_value(await _save(old_app, _written(a=1)))
    rotated = StubApp(SECRET_KEY="new", SECRET_KEY_FALLBACKS=["older", "old"])

    session = await _open(rotated, value)
    assert dict(session) == {"a": 1}

    session["b"] = 2
    resaved = _cookie_value(await _save(rotated, session))
    assert dict(await _open(StubApp(SECRET_KEY="new"), resaved)) == {"a": 1, "b": 2}
    assert dict(await _open(old_app, resaved)) == {}


@pytest.mark.parametrize("fallbacks", ["old", b"old"])
async def test_one_fallback_key_given_alone_verifies(fallbacks: str | bytes) -> None:
    # A str was read as its characters: the old cookies no longer verified.
    value = _cookie_value(await _save(StubApp(SECRET_KEY="old"), _written(a=1)))
    rotated = StubApp(SECRET_KEY="new", SECRET_KEY_FALLBACKS=fallbacks)
    assert dict(await _open(rotated, value)) == {"a": 1}


async def test_bytes_secret_key_works() -> None:
    app = StubApp(SECRET_KEY=b"\x01\x02 bytes key")
    assert dict(await _round_trip(app, {"a": 1})) == {"a": 1}


async def test_a_secret_key_of_the_wrong_type_is_named() -> None:
    app = StubApp(SECRET_KEY="k", SECRET_KEY_FALLBACKS=[42])
    with pytest.raises(TypeError, match="SECRET_KEY_FALLBACKS"):
        await _open(app, "x")


async def test_expired_cookie_gives_an_empty_session(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = StubApp(PERMANENT_SESSION_LIFETIME=timedelta(minutes=1))
    real = TimestampSigner.get_timestamp
    monkeypatch.setattr(
        TimestampSigner, "get_timestamp", lambda self: real(self) - 3600
    )
    value = _cookie_value(await _save(app, _written(a=1)))
    monkeypatch.undo()
    assert dict(await _open(app, value)) == {}


async def test_lifetime_may_be_given_in_seconds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = StubApp(PERMANENT_SESSION_LIFETIME=60)
    real = TimestampSigner.get_timestamp
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: real(self) - 30)
    value = _cookie_value(await _save(app, _written(a=1)))
    monkeypatch.undo()
    assert dict(await _open(app, value)) == {"a": 1}


async def test_lifetime_of_the_wrong_type_is_named() -> None:
    app = StubApp(PERMANENT_SESSION_LIFETIME="31 days")
    with pytest.raises(TypeError, match="PERMANENT_SESSION_LIFETIME"):
        await _open(app, "x")


async def test_payload_that_is_not_an_object_gives_an_empty_session() -> None:
    app = StubApp()
    signer = SecureCookieSessionInterface().get_signing_serializer(app)  # type: ignore[arg-type]
    assert signer is not None
    assert dict(await _open(app, signer.dumps([1, 2]))) == {}


# -- saving -----------------------------------------------------------------------------


async def test_untouched_session_sets_no_cookie_and_no_vary() -> None:
    response = await _save(StubApp(), SecureCookieSession({"a": 1}))
    assert _set_cookies(response) == []
    assert "Cookie" not in response.vary


async def test_read_session_varies_on_cookie_without_setting_it() -> None:
    session = SecureCookieSession({"a": 1})
    session.accessed = True  # as the proxy does
    response = await _save(StubApp(), session)
    assert _set_cookies(response) == []
    assert "Cookie" in response.vary


async def test_modified_session_sets_a_browser_session_cookie() -> None:
    session = SecureCookieSession()
    session["a"] = 1
    response = await _save(StubApp(), session)
    (header,) = _set_cookies(response)
    assert "Expires" not in header
    assert "HttpOnly" in header
    assert "Path=/" in header
    assert "Cookie" in response.vary


async def test_emptied_session_deletes_the_cookie() -> None:
    session = SecureCookieSession({"a": 1})
    del session["a"]
    response = await _save(StubApp(), session)
    (header,) = _set_cookies(response)
    assert header.startswith("session=;")
    assert "Max-Age=0" in header
    assert "Cookie" in response.vary


async def test_permanent_session_cookie_expires_after_the_lifetime() -> None:
    app = StubApp(PERMANENT_SESSION_LIFETIME=timedelta(days=2))
    session = SecureCookieSession()
    session.permanent = True
    before = datetime.now(UTC)
    response = await _save(app, session)
    (header,) = _set_cookies(response)
    expires_text = header.split("Expires=", 1)[1].split(";", 1)[0]
    expires = parse_date(expires_text)
    assert expires is not None
    assert timedelta(days=2) - timedelta(seconds=5) < expires - before
    assert expires - before <= timedelta(days=2) + timedelta(seconds=1)


async def test_app_permanent_session_lifetime_mirrors_the_config_as_in_flask() -> None:
    app = Microframework(__name__)
    app.secret_key = "lifetime"
    app.permanent_session_lifetime = 300  # type: ignore[assignment] # Flask takes seconds
    assert app.permanent_session_lifetime == timedelta(minutes=5)
    app.permanent_session_lifetime = timedelta(minutes=7)
    assert app.config["PERMANENT_SESSION_LIFETIME"] == timedelta(minutes=7)

    @app.get("/")
    async def index() -> str:
        session.permanent = True
        session["a"] = 1
        return "ok"

    before = datetime.now(UTC)
    response = await app.test_client().get("/")
    expires = parse_date(response.headers["Set-Cookie"].split("Expires=")[1][:29])
    assert expires is not None
    assert timedelta(minutes=6) < expires - before <= timedelta(minutes=7, seconds=1)


@pytest.mark.parametrize(("refresh", "sets"), [(True, 1), (False, 0)])
async def test_permanent_session_refresh_follows_config(
    refresh: bool, sets: int
) -> None:
    app = StubApp(SESSION_REFRESH_EACH_REQUEST=refresh)
    session = SecureCookieSession({"_permanent": True, "a": 1})
    response = await _save(app, session)
    assert len(_set_cookies(response)) == sets


async def test_cookie_attributes_come_from_config() -> None:
    app = StubApp(
        SESSION_COOKIE_NAME="sid",
        SESSION_COOKIE_DOMAIN="example.test",
        SESSION_COOKIE_PATH="/app",
        SESSION_COOKIE_SECURE=True,
        SESSION_COOKIE_HTTPONLY=False,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_PARTITIONED=True,
    )
    session = SecureCookieSession()
    session["a"] = 1
    response = await _save(app, session)
    (header,) = _set_cookies(response)
    assert header.startswith("sid=")
    for part in (
        "Domain=example.test",
        "Path=/app",
        "Secure",
        "SameSite=Lax",
        "Partitioned",
    ):
        assert part in header
    assert "HttpOnly" not in header


async def test_session_cookie_secure_alone_makes_the_cookie_secure() -> None:
    # The test above sets PARTITIONED too, and werkzeug makes any partitioned
    # cookie Secure: SESSION_COOKIE_SECURE alone was never checked.
    session = SecureCookieSession()
    session["a"] = 1
    response = await _save(StubApp(SESSION_COOKIE_SECURE=True), session)
    (header,) = _set_cookies(response)
    assert "Secure" in header and "Partitioned" not in header


async def test_a_refreshed_cookie_varies_on_cookie() -> None:
    # A permanent session refreshed on a request that never touched it still
    # answers per visitor: a cache must not hand its cookie to another.
    session = SecureCookieSession({"_permanent": True, "a": 1})
    response = await _save(StubApp(), session)
    assert len(_set_cookies(response)) == 1
    assert "Cookie" in response.vary


def test_setdefault_stores_the_default_and_marks_the_session_modified() -> None:
    session = SecureCookieSession()
    assert session.setdefault("cart", [1]) == [1]
    assert session["cart"] == [1] and session.modified
    assert session.new is False  # a cookie session is never "new"


async def test_a_session_store_that_waits_is_opened_before_an_http_view() -> None:
    # A store whose open_session awaits I/O is opened before the view runs (the
    # view reads the session without awaiting it); no HTTP test had one.
    class WaitingStore(SessionInterface):
        saved: dict[str, Any] = {}

        async def open_session(self, app: Any, request: Any) -> Any:
            await asyncio.sleep(0)
            return SecureCookieSession(self.saved)

        async def save_session(self, app: Any, session: Any, response: Any) -> None:
            await asyncio.sleep(0)
            self.saved = dict(session)

    app = Microframework(__name__)
    app.secret_key = "k"
    store = app.session_interface = WaitingStore()

    @app.route("/")
    async def count() -> str:
        session["n"] = session.get("n", 0) + 1
        return str(session["n"])

    client = app.test_client()
    assert (await client.get("/")).status_code == 200
    assert await (await client.get("/")).get_data(as_text=True) == "2"
    assert store.saved == {"n": 2}


async def test_open_session_may_call_match_request_as_flasks_docs_do() -> None:
    # Flask's test_open_session_with_endpoint: the interface reads the endpoint.
    from microframework.globals import request_ctx

    class ByEndpoint(SecureCookieSessionInterface):
        def open_session(self, app: Any, request: Any) -> Any:
            request_ctx.match_request()
            seen.append(request.endpoint)
            return super().open_session(app, request)

    seen: list[str | None] = []
    app = Microframework(__name__)
    app.secret_key = "k"
    app.session_interface = ByEndpoint()

    @app.route("/")
    async def index() -> str:
        return str(session.get("n", 0))

    assert (await app.test_client().get("/")).status_code == 200
    assert seen == ["index"]


async def test_cookie_path_falls_back_to_application_root() -> None:
    app = StubApp(APPLICATION_ROOT="/mounted")
    session = SecureCookieSession()
    session["a"] = 1
    (header,) = _set_cookies(await _save(app, session))
    assert "Path=/mounted" in header


async def test_unserializable_value_is_a_type_error_naming_the_type() -> None:
    session = SecureCookieSession()
    session["bad"] = object()
    with pytest.raises(TypeError, match="object"):
        await _save(StubApp(), session)


async def test_base_interface_methods_must_be_implemented() -> None:
    interface = SessionInterface()
    with pytest.raises(NotImplementedError):
        await interface.open_session(StubApp(), StubRequest())  # type: ignore[arg-type]
    with pytest.raises(NotImplementedError):
        await interface.save_session(StubApp(), SecureCookieSession(), Response())  # type: ignore[arg-type]


# -- tagged JSON --------------------------------------------------------------------------

_leaves = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53), max_value=2**53)
    | st.text()
    | st.binary()
    | st.uuids()
    | st.text().map(Markup)
    # HTTP dates carry whole seconds, and read two-digit years as 19xx/20xx.
    | st.datetimes(min_value=datetime(1000, 1, 1), timezones=st.just(UTC)).map(
        lambda d: d.replace(microsecond=0)
    )
)
_values = st.recursive(
    _leaves,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.lists(inner, max_size=4).map(tuple)
        | st.dictionaries(
            st.text(max_size=5) | st.sampled_from([" t", " di", " b"]),
            inner,
            max_size=4,
        )
    ),
    max_leaves=20,
)


@given(_values)
def test_tagged_json_round_trips(value: Any) -> None:
    assert session_json_serializer.loads(session_json_serializer.dumps(value)) == value


def test_tagged_json_is_flasks_wire_format() -> None:
    dumped = session_json_serializer.dumps({"a": (1, b"x"), " t": 1})
    assert dumped == '{"a":{" t":[1,{" b":"eA=="}]}," t":1}'
    assert session_json_serializer.dumps({" t": 1}) == '{" di":{" t__":1}}'


def test_custom_tag_can_be_registered_first() -> None:
    class TagSet(JSONTag):
        __slots__ = ()
        key = " s"

        def check(self, value: Any) -> bool:
            return isinstance(value, set)

        def to_json(self, value: Any) -> Any:
            return sorted(value)

        def to_python(self, value: Any) -> Any:
            return set(value)

    serializer = TaggedJSONSerializer()
    serializer.register(TagSet, index=0)
    assert serializer.loads(serializer.dumps({"s": {3, 1}})) == {"s": {1, 3}}
    with pytest.raises(KeyError):
        serializer.register(TagSet)
    serializer.register(TagSet, force=True)


# -- through the app (runs once the app opens and saves sessions) ---------------------------

needs_app = pytest.mark.skipif(
    not hasattr(Microframework, "session_interface"),
    reason="the app does not open sessions yet (issue 4 integration)",
)


def _session_app(app: Microframework) -> Microframework:
    from microframework.globals import session

    app.config["SECRET_KEY"] = "app key"

    @app.post("/login/<name>")
    async def login(name: str) -> str:
        session["user"] = name
        return "ok"

    @app.get("/me")
    async def me() -> str:
        return str(session.get("user"))

    @app.post("/logout")
    async def logout() -> str:
        session.clear()
        return "bye"

    @app.get("/static-ish")
    async def untouched() -> str:
        return "no session use"

    return app


@needs_app
async def test_session_persists_across_requests_through_the_cookie(
    app: Microframework,
) -> None:
    client = _session_app(app).test_client()
    assert (await client.post("/login/ada")).status_code == 200
    response = await client.get("/me")
    assert await response.get_data(as_text=True) == "ada"
    assert "Cookie" in response.vary
    untouched = await client.get("/static-ish")
    assert "Cookie" not in untouched.vary
    assert untouched.headers.getlist("Set-Cookie") == []
    await client.post("/logout")
    assert await (await client.get("/me")).get_data(as_text=True) == "None"


@needs_app
async def test_tampered_cookie_is_an_empty_session_not_an_error(
    app: Microframework,
) -> None:
    client = _session_app(app).test_client()
    client.set_cookie("session", "eyJ1c2VyIjoiZXZlIn0.forged.sig")
    response = await client.get("/me")
    assert response.status_code == 200
    assert await response.get_data(as_text=True) == "None"


@needs_app
async def test_writing_the_session_without_secret_key_is_a_clear_500(
    app: Microframework,
) -> None:
    _session_app(app).config["SECRET_KEY"] = None
    app.testing = False
    client = app.test_client()
    assert await (await client.get("/me")).get_data(as_text=True) == "None"
    assert (await client.post("/login/ada")).status_code == 500


@needs_app
async def test_writing_without_secret_key_raises_the_message_in_testing(
    app: Microframework,
) -> None:
    _session_app(app).config["SECRET_KEY"] = None
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        await app.test_client().post("/login/ada")


@pytest.mark.parametrize(
    "use", ["in", "len", "bool", "keys", "flashes"], ids=lambda use: use
)
async def test_any_use_of_the_session_varies_the_response_on_cookie(use: str) -> None:
    # A page that only tests `"user" in session` still depends on the cookie: a
    # shared cache must not serve it to everyone (Flask 3.1.3, GHSA-68rp-wp8r-4726).
    app = Microframework(__name__)
    app.secret_key = "vary"

    @app.get("/")
    async def index() -> str:
        if use == "in":
            return str("user" in session)
        if use == "len":
            return str(len(session))
        if use == "bool":
            return str(bool(session))
        if use == "keys":
            return str(list(session.keys()))
        return str(get_flashed_messages())

    @app.get("/plain")
    async def plain() -> str:
        return "no session"

    client = app.test_client()
    assert "Cookie" in (await client.get("/")).vary
    assert "Cookie" not in (await client.get("/plain")).vary


class _HostCookieInterface(SecureCookieSessionInterface):
    def get_cookie_name(self, app: Any) -> str:
        return "__Host-sid"


@needs_app
async def test_a_permanent_session_under_its_interfaces_cookie_name_is_refreshed(
    app: Microframework,
) -> None:
    # The refresh on a page that doesn't use the session looked for the configured
    # cookie name, not the interface's: such users were logged out after the lifetime.
    app.session_interface = _HostCookieInterface()
    app.config["SESSION_COOKIE_SECURE"] = True  # or browsers refuse a __Host- cookie
    _session_app(app)

    @app.post("/remember")
    async def remember() -> str:
        session.permanent = True
        session["user"] = "ada"
        return "ok"

    client = app.test_client()
    login = await client.post("/remember", scheme="https")
    assert login.headers["Set-Cookie"].startswith("__Host-sid=")
    untouched = await client.get("/static-ish", scheme="https")
    assert untouched.headers["Set-Cookie"].startswith("__Host-sid=")


class _WaitingStore(SecureCookieSessionInterface):
    opens_without_waiting = False  # as a Redis or database store

    async def open_session(self, app: Any, request: Any) -> Any:
        await asyncio.sleep(0)
        return await super().open_session(app, request)


@needs_app
@pytest.mark.parametrize("touch_in_handler", [False, True])
async def test_an_untrusted_host_with_a_session_cookie_is_a_400_for_a_waiting_store(
    app: Microframework, touch_in_handler: bool
) -> None:
    # The session of a request that reaches no hook wasn't opened; the refresh of
    # the cookie it sent then opened it on first use, which a waiting store can't:
    # a 500 for any client that forges its Host.
    app.session_interface = _WaitingStore()
    _session_app(app).config["TRUSTED_HOSTS"] = ["good.example"]
    app.testing = False

    @app.errorhandler(400)
    async def bad_request(error: Exception) -> Any:
        return f"bad, user {session.get('user') if touch_in_handler else '-'}", 400

    client = app.test_client()
    client.set_cookie("session", "anything", domain="evil.example")
    response = await client.get("/me", headers={"Host": "evil.example"})
    assert response.status_code == 400
    assert "Set-Cookie" not in response.headers
    body = await response.get_data(as_text=True)
    assert body == ("bad, user None" if touch_in_handler else "bad, user -")


@pytest.mark.parametrize("split", [False, True])
async def test_a_permanent_session_cookie_in_a_second_cookie_header_is_refreshed(
    app: Microframework, split: bool
) -> None:
    # HTTP/2 clients may send each cookie in its own header field (RFC 9113 8.2.3);
    # the refresh looked at the first Cookie header only (Quart refreshes).
    from asgi_harness import http_scope
    from asgi_harness import Recorder

    _session_app(app)

    @app.post("/remember")
    async def remember() -> str:
        session.permanent = True
        session["user"] = "ada"
        return "ok"

    @app.get("/page")
    async def page() -> str:
        return "ok"

    login = await app.test_client().post("/remember")
    cookie = login.headers["Set-Cookie"].split(";")[0].encode()
    fields = [b"theme=dark", cookie] if split else [b"theme=dark; " + cookie]
    recorder = Recorder()
    headers = [(b"cookie", field) for field in fields]
    scope = http_scope("/page", headers=headers, http_version="2")
    await app(scope, recorder.receive, recorder.send)
    refreshed = [v for k, v in recorder.sent[0]["headers"] if k == b"set-cookie"]
    assert len(refreshed) == 1 and refreshed[0].startswith(b"session=")


async def test_session_values_the_apps_json_takes_are_stored_as_in_flask(
    app: Microframework,
) -> None:
    # Flask dumps the session through app.json, whose default takes dates, Decimal
    # and dataclasses (stored in their JSON form); here they were a 500.
    import dataclasses
    import datetime
    import decimal

    @dataclasses.dataclass
    class Point:
        x: int

    _session_app(app)

    @app.post("/store")
    async def store() -> str:
        session["day"] = datetime.date(2024, 1, 2)
        session["price"] = decimal.Decimal("1.50")
        session["point"] = Point(1)
        return "ok"

    @app.get("/read")
    async def read() -> Any:
        return {key: session[key] for key in ("day", "price", "point")}

    client = app.test_client()
    assert (await client.post("/store")).status_code == 200
    stored = await (await client.get("/read")).get_json()
    assert stored == {
        "day": "Tue, 02 Jan 2024 00:00:00 GMT",
        "price": "1.50",
        "point": {"x": 1},
    }


class _PlainStore(SessionInterface):
    """A Flask interface as written for Flask: plain def methods."""

    def __init__(self) -> None:
        self.store: dict[str, dict[str, Any]] = {}
        self.threads: set[str] = set()

    def open_session(self, app: Any, request: Any) -> SecureCookieSession:  # type: ignore[override]
        self.threads.add(threading.current_thread().name)
        return SecureCookieSession(self.store.get(request.cookies.get("sid"), {}))

    def save_session(self, app: Any, session: Any, response: Any) -> Any:  # type: ignore[override]
        self.threads.add(threading.current_thread().name)
        self.store["1"] = dict(session)
        if response is not None:
            response.set_cookie("sid", "1")
        return response  # some do; what it returns is ignored


@pytest.mark.parametrize("eager", [True, False], ids=["opened-first", "on-first-use"])
async def test_a_flask_session_interface_with_plain_methods_works(
    app: Microframework, eager: bool
) -> None:
    # Quart takes it too; here it was a 500: "object SecureCookieSession can't be
    # used in 'await' expression".
    interface = _PlainStore()
    interface.opens_without_waiting = not eager
    app.session_interface = interface

    @app.get("/")
    async def index() -> str:
        session["visits"] = session.get("visits", 0) + 1
        return f"visits={session['visits']}"

    @app.websocket("/ws")
    async def ws() -> None:
        session["visits"] = session.get("visits", 0) + 10
        await websocket.accept()
        await websocket.send(str(session["visits"]))

    client = app.test_client()
    for expected in ("visits=1", "visits=2"):
        assert await (await client.get("/")).get_data(as_text=True) == expected
    async with client.websocket("/ws") as connection:
        assert await connection.receive() == "12"
    assert interface.store["1"] == {"visits": 12}
    # In worker threads, as Quart runs them: one that calls Redis blocks no one. A
    # session opened on first use is opened where it is used, on the loop.
    main = threading.main_thread().name
    assert (main in interface.threads) is not eager
    assert interface.threads - {main}
    async with client.session_transaction() as transaction:  # Flask's, in tests
        transaction["visits"] = 100
    assert await (await client.get("/")).get_data(as_text=True) == "visits=101"


async def test_a_plain_save_session_set_on_an_instance_is_called_as_plain(
    app: Microframework,
) -> None:
    # The async/plain answer was cached per class: after a request with the class's
    # async method, a plain one set on an instance had its None awaited (a 500).
    app.secret_key = "secret"
    interface = app.session_interface = SecureCookieSessionInterface()  # not shared
    saved: list[str] = []

    @app.get("/")
    async def index() -> str:
        session["n"] = session.get("n", 0) + 1
        return "ok"

    client = app.test_client()
    assert (await client.get("/")).status_code == 200
    interface.save_session = lambda app, session, response: saved.append("plain")  # type: ignore[method-assign,assignment,misc]
    assert (await client.get("/")).status_code == 200
    assert saved == ["plain"]


async def test_the_signing_key_is_derived_once_per_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # itsdangerous makes a signer per dumps/loads and derives its HMAC key each time;
    # the interface keeps its signers and their keys (two HMACs a request fewer).
    from itsdangerous.signer import Signer

    derived: list[object] = []
    original = Signer.derive_key

    def counting(self: Signer, secret_key: Any = None) -> bytes:
        derived.append(secret_key)
        return original(self, secret_key)

    monkeypatch.setattr(Signer, "derive_key", counting)
    app = Microframework(__name__)
    app.secret_key = "k"

    @app.route("/")
    async def index() -> str:
        session["n"] = session.get("n", 0) + 1
        return str(session["n"])

    client = app.test_client()
    for n in range(1, 4):
        assert await (await client.get("/")).get_data(as_text=True) == str(n)
    assert len(derived) <= 2  # signing (None) and verifying (the key): once each


async def test_a_mixin_session_unused_by_the_request_adds_no_vary() -> None:
    # Flask 3.1.3's SessionMixin starts unaccessed: the proxy marks a use.
    class DictSession(dict[str, Any], SessionMixin):
        pass

    class Store(SessionInterface):
        opens_without_waiting = False  # opened before the view, whether used or not

        async def open_session(self, app: Any, request: Any) -> DictSession:
            return DictSession()

        async def save_session(self, app: Any, session: Any, response: Any) -> None:
            if session.accessed:
                response.vary.add("Cookie")

    app = Microframework(__name__)
    app.session_interface = Store()

    @app.route("/quiet")
    async def quiet() -> str:
        return "ok"

    @app.route("/used")
    async def used() -> str:
        return str(session.get("user"))

    client = app.test_client()
    assert "Cookie" not in (await client.get("/quiet")).vary
    assert "Cookie" in (await client.get("/used")).vary


def _flask31_app() -> Microframework:
    app = Microframework(__name__)
    app.config.update(TESTING=True, SECRET_KEY="k")

    @app.get("/set")
    async def set_() -> str:
        session["x"] = "1"
        return "ok"

    @app.get("/get")
    async def get() -> str:
        return repr(dict(session))

    @app.get("/none")
    async def none() -> str:
        return "none"

    return app


async def test_a_subclass_saving_of_the_cookie_interface_runs_after_every_request() -> (
    None
):
    # Flask and Quart call save_session after each request; a lazy interface only
    # saved a session used or sent (flask31 1, session 32).
    class Stamped(SecureCookieSessionInterface):
        async def save_session(
            self, app: Any, session: Any, response: Response | None
        ) -> None:
            assert response is not None
            response.headers["X-Saved"] = "1"
            await super().save_session(app, session, response)

    app = _flask31_app()
    app.session_interface = Stamped()
    response = await app.test_client().get("/none")
    assert response.headers.get("X-Saved") == "1"


async def test_a_should_set_cookie_of_its_own_is_asked_after_every_request() -> None:
    class Always(SecureCookieSessionInterface):
        def should_set_cookie(self, app: Any, session: Any) -> bool:
            return True

    app = _flask31_app()
    app.config["SESSION_REFRESH_EACH_REQUEST"] = False
    app.session_interface = Always()
    client = app.test_client()
    await client.get("/set")
    response = await client.get("/none")
    assert response.headers.getlist("Set-Cookie")  # as Flask sends it again


async def test_a_plain_def_save_session_calling_super_without_return_saves() -> None:
    # Flask's way: the base's save was a coroutine, dropped unawaited, and the
    # cookie was lost (flask31 3, session 32).
    class CallsSuper(SecureCookieSessionInterface):
        def save_session(  # type: ignore[override]
            self, app: Any, session: Any, response: Response | None
        ) -> None:
            super().save_session(app, session, response)
            assert response is not None
            response.headers["X-Saved"] = "1"

    app = _flask31_app()
    app.session_interface = CallsSuper()
    client = app.test_client()
    assert (await client.get("/set")).headers["X-Saved"] == "1"
    assert await (await client.get("/get")).get_data(as_text=True) == "{'x': '1'}"


async def test_the_test_clients_cookie_flags_are_bools() -> None:
    # As Flask's client.get_cookie() (flask31 5, session 32): False, not None.
    client = _flask31_app().test_client()
    client.set_cookie("a", "1")
    cookie = client.get_cookie("a")
    assert cookie is not None
    assert (cookie.secure, cookie.http_only) == (False, False)
    await client.get("/set")
    sent = client.get_cookie("session")
    assert sent is not None
    assert (sent.secure, sent.http_only) == (False, True)


@pytest.mark.parametrize("path", ["/touch", "/copy", "/none"])
async def test_a_cookie_subclass_whose_open_session_waits_opens_before_the_view(
    path: str,
) -> None:
    # A Quart port's subclass inherits opens_without_waiting=True: touching the
    # session, or copying the context, was a 500 (review14 2, session 32).
    class Revocable(SecureCookieSessionInterface):
        async def open_session(self, app: Any, request: Any) -> Any:
            await asyncio.sleep(0)  # as a revocation list read over the network
            return await super().open_session(app, request)

    class Declared(Revocable):
        opens_without_waiting = True  # its own word: then it is believed

    app = _flask31_app()
    app.session_interface = Revocable()

    @app.get("/touch")
    async def touch() -> str:
        session["x"] = "1"
        return "touched"

    @app.get("/copy")
    async def copy() -> str:
        @copy_current_request_context
        async def work() -> str:
            return "copied"

        return await asyncio.create_task(work())

    client = app.test_client()
    response = await client.get(path)
    assert response.status_code == 200
    assert ("Set-Cookie" in response.headers) is (path == "/touch")
    assert ("Cookie" in response.headers.get("Vary", "")) is (path == "/touch")
    declared = _flask31_app()
    declared.session_interface = Declared()
    with pytest.raises(RuntimeError, match="waits on I/O"):  # opened on first use
        await declared.test_client().get("/set")


async def test_an_open_session_of_its_own_that_sets_a_default_sends_the_cookie() -> (
    None
):
    # A subclass giving each session a default: Flask and Quart send the cookie on a
    # request whose view never touches the session; ours opened it only on use
    # (servers3 3, session 33).
    class Defaults(SecureCookieSessionInterface):
        async def open_session(self, app: Any, request: Any) -> Any:
            session = await super().open_session(app, request)
            if session is not None:
                session.setdefault("tenant", "default")
            return session

    app = _flask31_app()
    app.session_interface = Defaults()
    client = app.test_client()
    assert "Set-Cookie" in (await client.get("/none")).headers
    assert await (await client.get("/get")).get_data(as_text=True) == (
        "{'tenant': 'default'}"
    )


class _StoreWithAUser(SessionInterface):
    """A server-side store: its open waits on I/O (so it opens before the view)."""

    def __init__(self) -> None:
        self.saved: list[dict[str, Any]] = []

    async def open_session(self, app: Any, request: Any) -> SecureCookieSession:
        await asyncio.sleep(0)  # the store's round trip
        return SecureCookieSession({"user": "from the store"})

    async def save_session(self, app: Any, session: Any, response: Any) -> None:
        self.saved.append(dict(session))


async def test_an_interface_set_after_the_first_request_is_used(
    app: Microframework,
) -> None:
    # One app for a test suite, one test setting a store: the decision made at the
    # first request (open on first use, save only a used session) was kept, and the
    # store's open failed ("set its opens_without_waiting to False", which it was).
    app.secret_key = "secret"

    @app.get("/")
    async def index() -> str:
        return str(session.get("user"))

    @app.get("/plain")
    async def plain() -> str:
        return "plain"

    client = app.test_client()
    assert await (await client.get("/")).get_data(as_text=True) == "None"
    store = app.session_interface = _StoreWithAUser()
    response = await client.get("/")
    assert await response.get_data(as_text=True) == "from the store"
    await client.get("/plain")  # Flask saves after every request, used or not
    assert store.saved == [{"user": "from the store"}] * 2
    del app.session_interface  # back to the class's, as monkeypatch undoes it
    assert await (await client.get("/")).get_data(as_text=True) == "None"


async def test_a_subclass_interface_set_after_the_first_request_is_used() -> None:
    class App(Microframework):
        session_interface = SecureCookieSessionInterface()

    app = App(__name__)
    app.secret_key = "secret"

    @app.get("/")
    async def index() -> str:
        return str(session.get("user"))

    client = app.test_client()
    assert await (await client.get("/")).get_data(as_text=True) == "None"
    app.session_interface = _StoreWithAUser()
    assert await (await client.get("/")).get_data(as_text=True) == "from the store"


async def test_a_session_cookie_name_beyond_latin_1_is_no_500(
    app: Microframework,
) -> None:
    # Looking for the session cookie in the raw header encoded the name as latin-1:
    # with a Cyrillic SESSION_COOKIE_NAME every request carrying any cookie was a
    # 500 (UnicodeEncodeError). Flask serves them; the name goes out as UTF-8.
    app.secret_key = "secret"
    app.config["SESSION_COOKIE_NAME"] = "сессия"

    @app.get("/")
    async def index() -> str:
        return "ok"

    response = await app.test_client().get("/", headers={"Cookie": "theme=dark"})
    assert response.status_code == 200


class _KeyFromElsewhere(SecureCookieSessionInterface):
    """Flask's hook: the signing key comes from elsewhere than SECRET_KEY."""

    def get_signing_serializer(self, app: Any) -> URLSafeTimedSerializer | None:
        key = app.config.get("SESSION_SIGNING_KEY")
        if not key:
            return None
        return URLSafeTimedSerializer(
            key,
            salt=self.salt,
            serializer=self.serializer,
            signer_kwargs={
                "key_derivation": self.key_derivation,
                "digest_method": self.digest_method,
            },
        )


async def test_a_get_signing_serializer_of_its_own_needs_no_secret_key(
    app: Microframework,
) -> None:
    # Flask and Quart ask get_signing_serializer whether there is a session; here
    # a missing SECRET_KEY made it the null session: writing to it was a 500.
    app.config["SESSION_SIGNING_KEY"] = "from a key store"
    app.config["PERMANENT_SESSION_LIFETIME"] = 60
    app.session_interface = _KeyFromElsewhere()
    assert not app.config["SECRET_KEY"]

    @app.get("/login")
    async def login() -> str:
        session["user"] = "bob"
        session.permanent = True
        return "ok"

    @app.get("/whoami")
    async def whoami() -> str:
        return str(session.get("user"))

    @app.get("/plain")
    async def plain() -> str:
        return "plain"

    client = app.test_client()
    response = await client.get("/login")
    assert response.status_code == 200
    assert response.headers["Set-Cookie"].startswith("session=")
    assert await (await client.get("/whoami")).get_data(as_text=True) == "bob"
    # A permanent session's cookie is refreshed on a request that doesn't use it.
    refreshed = await client.get("/plain")
    assert refreshed.headers["Set-Cookie"].startswith("session=")
    async with client.session_transaction() as transaction:
        assert transaction["user"] == "bob"


async def test_a_get_signing_serializer_returning_none_is_the_null_session(
    app: Microframework,
) -> None:
    # The subclass, not SECRET_KEY, decides: None means no session, as in Flask.
    app.secret_key = "secret"
    app.session_interface = _KeyFromElsewhere()  # no SESSION_SIGNING_KEY

    @app.get("/")
    async def index() -> str:
        return type(session._get_current_object()).__name__  # type: ignore[attr-defined]

    assert (
        await (await app.test_client().get("/")).get_data(as_text=True) == "NullSession"
    )


async def test_a_new_salt_on_the_interface_takes_at_once(app: Microframework) -> None:
    # The serializer was kept while the keys were unchanged, so sessions signed with
    # the old salt (or serializer, digest) still opened; Flask builds it each time.
    app.secret_key = "secret"
    interface = app.session_interface = SecureCookieSessionInterface()  # the app's

    @app.get("/login")
    async def login() -> str:
        session["user"] = "bob"
        return "ok"

    @app.get("/whoami")
    async def whoami() -> str:
        return str(session.get("user"))

    client = app.test_client()
    await client.get("/login")
    assert await (await client.get("/whoami")).get_data(as_text=True) == "bob"
    interface.salt = "rotated"  # every session signed before is invalid
    assert await (await client.get("/whoami")).get_data(as_text=True) == "None"


@pytest.mark.parametrize("kind", [property, functools.cached_property])
async def test_a_subclass_may_give_its_session_interface_as_a_property(
    kind: Any,
) -> None:
    # Any class attribute named session_interface was wrapped as the default
    # interface, a property too: every request was a 500 ("'property' object has no
    # attribute 'open_session'"). Flask and Quart read the property.
    class Store(SecureCookieSessionInterface):
        salt = "store"

    class App(Microframework):
        def _interface(self) -> SessionInterface:
            return self.__dict__.setdefault("_store", Store())

        session_interface = kind(_interface)  # type: ignore[assignment]

    app = App(__name__)
    app.secret_key = "secret"

    @app.get("/login")
    async def login() -> str:
        session["user"] = "bob"
        return type(app.session_interface).__name__

    @app.get("/whoami")
    async def whoami() -> str:
        return str(session.get("user"))

    client = app.test_client()
    response = await client.get("/login")
    assert response.status_code == 200
    assert await response.get_data(as_text=True) == "Store"
    assert await (await client.get("/whoami")).get_data(as_text=True) == "bob"


async def test_a_subclass_may_set_its_interface_before_calling_init() -> None:
    # The setter read app.compiled, which __init__ makes: an app whose
    # __init__ set self.session_interface before super().__init__() could not be
    # made (AttributeError). Flask and Quart take it.
    class Store(SecureCookieSessionInterface):
        salt = "store"

    class App(Microframework):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            self.session_interface = Store()
            super().__init__(*args, **kwargs)

    app = App(__name__)
    app.secret_key = "secret"

    @app.get("/")
    async def index() -> str:
        session["user"] = "bob"
        return type(app.session_interface).__name__

    assert await (await app.test_client().get("/")).get_data(as_text=True) == "Store"


async def test_a_store_set_on_the_class_after_the_first_request_is_named(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # mock.patch.object(App, "session_interface", store) after the first request
    # replaces the class's descriptor, so the app cannot see it: the error advised
    # "set its opens_without_waiting to False", which the store already says. It now
    # says what happened, and the next request opens the store before the view.
    from unittest import mock

    class App(Microframework):
        pass

    app = App(__name__)
    app.secret_key = "secret"

    @app.get("/")
    async def index() -> str:
        return str(session.get("user"))

    client = app.test_client()
    assert await (await client.get("/")).get_data(as_text=True) == "None"
    with mock.patch.object(App, "session_interface", _StoreWithAUser()):
        assert (await client.get("/")).status_code == 500
        assert "set it on the app, not on its class" in caplog.text
        assert "opens_without_waiting to False" not in caplog.text
        response = await client.get("/")
        assert await response.get_data(as_text=True) == "from the store"


async def test_undoing_a_patched_interface_compiles_the_tables_again(
    app: Microframework,
) -> None:
    # mock.patch.object's undo deletes the attribute: the cookie interface is back,
    # and so must be its tables (opened on first use, saved only when used).
    from unittest import mock

    app.secret_key = "secret"

    @app.get("/")
    async def index() -> str:
        return str(session.get("user"))

    client = app.test_client()
    await client.get("/")
    assert app.compiled is not None
    lazy = (app.compiled.eager_sessions, app.compiled.saves_always)
    with mock.patch.object(app, "session_interface", _StoreWithAUser()):
        assert await (await client.get("/")).get_data(as_text=True) == "from the store"
        assert app.compiled.eager_sessions
    assert "session_interface" not in app.__dict__
    assert (app.compiled.eager_sessions, app.compiled.saves_always) == lazy
    assert await (await client.get("/")).get_data(as_text=True) == "None"


async def test_a_signer_given_on_the_interface_instance_needs_no_secret_key() -> None:
    # Flask and Quart ask get_signing_serializer, not SECRET_KEY, whether there is a
    # session; one patched onto the instance (not a subclass's) was never asked: 500.
    app = Microframework(__name__)  # no SECRET_KEY
    signer = URLSafeTimedSerializer("own-key", salt="own")

    @app.get("/")
    async def index() -> str:
        session["n"] = session.get("n", 0) + 1
        return str(session["n"])

    @app.get("/plain")
    async def plain() -> str:
        return "plain"

    client = app.test_client()
    assert (await client.get("/plain")).status_code == 200  # the tables compiled
    with mock.patch.object(
        app.session_interface, "get_signing_serializer", return_value=signer
    ):
        first = await client.get("/")
        second = await client.get("/")
    assert first.status_code == second.status_code == 200
    assert await second.get_data() == b"2"
    cookie: Any = first.headers["Set-Cookie"]
    assert signer.loads(cookie.split(";")[0].split("=", 1)[1]) == {"n": 1}


async def test_a_signer_mocked_on_the_cookie_interface_class_needs_no_secret_key() -> (
    None
):
    # mock.patch.object(SecureCookieSessionInterface, "get_signing_serializer", ...):
    # a MagicMock on the class is no descriptor (no __func__), and the class attribute
    # compared against was the mock itself: not "its own", so no session (500, no
    # SECRET_KEY). Flask 3.1.3 asks the mock and keeps the session.
    app = Microframework(__name__)  # no SECRET_KEY
    signer = URLSafeTimedSerializer("own-key", salt="own")

    @app.get("/")
    async def index() -> str:
        session["n"] = session.get("n", 0) + 1
        return str(session["n"])

    with mock.patch.object(
        SecureCookieSessionInterface, "get_signing_serializer", return_value=signer
    ):
        client = app.test_client()
        first = await client.get("/")
        second = await client.get("/")
    assert first.status_code == second.status_code == 200
    assert await second.get_data() == b"2"


def test_merging_into_the_null_session_names_the_missing_secret_key() -> None:
    null = NullSession()
    with pytest.raises(RuntimeError, match="no secret key was set"):
        null |= {"a": 1}
    assert dict(null) == {}


async def test_a_view_merging_into_the_session_without_a_key_is_a_500() -> None:
    app = Microframework(__name__)
    app.testing = False  # the error becomes the 500, as any other write's

    @app.get("/")
    async def index() -> str:
        current = session
        current |= {"user": "ann"}
        return "written"

    response = await app.test_client().get("/")
    assert response.status_code == 500
