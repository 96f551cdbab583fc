"""Pins from mutation testing (helper muts42, session 36): survivors among the mutants
of sessions.py, config.py and helpers.py.

Each test kills a mutant that survived the related test files; its first comment names
the code it pins and the mutant id (ids as in /tmp/s36/muts42/REPORT.md).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from itsdangerous import TimestampSigner

from microframework import Microframework
from microframework import request
from microframework import session
from microframework.sessions import SecureCookieSession
from microframework.sessions import SecureCookieSessionInterface
from microframework.sessions import SessionInterface
from microframework.sessions import SessionMixin


def _write_read_app(session_class: type[SessionMixin]) -> Microframework:
    # An app whose session interface makes sessions of *session_class*; /write sets
    # "user", /read answers it.
    class Interface(SecureCookieSessionInterface):
        pass

    Interface.session_class = session_class  # type: ignore[assignment]
    app = Microframework(__name__)
    app.secret_key = "pin key"
    app.session_interface = Interface()

    @app.get("/write")
    async def write() -> str:
        session["user"] = "ann"
        return "ok"

    @app.get("/read")
    async def read() -> str:
        return str(session.get("user"))

    return app


async def test_a_plain_mapping_session_is_saved_after_every_request() -> None:
    # SessionMixin.modified = True (S01): a session class of the app's own that does
    # not track writes is saved each time, as in Flask (SessionMixin.modified).
    class DictSession(dict[str, Any], SessionMixin):
        pass

    client = _write_read_app(DictSession).test_client()
    await client.get("/write")
    response = await client.get("/read")
    assert await response.get_data(as_text=True) == "ann"
    (header,) = response.headers.getlist("Set-Cookie")
    assert header.startswith("session=") and not header.startswith("session=;")


def test_permanent_is_a_bool_whatever_the_cookie_holds() -> None:
    # SessionMixin.permanent: bool(...) (S03): a cookie's "_permanent": 1 reads True.
    assert SecureCookieSession({"_permanent": 1}).permanent is True
    assert SecureCookieSession({"_permanent": 0}).permanent is False


def test_the_interface_says_it_is_not_pickle_based() -> None:
    # SessionInterface.pickle_based = False (S13): Flask's attribute, and its value.
    assert SessionInterface.pickle_based is False
    assert SecureCookieSessionInterface().pickle_based is False


def test_the_base_interface_does_not_claim_to_open_without_waiting() -> None:
    # SessionInterface.opens_without_waiting = False (S14): the documented default
    # (sessions.md), which a subclass's open_session that waits relies on.
    assert SessionInterface.opens_without_waiting is False
    assert SecureCookieSessionInterface.opens_without_waiting is True


async def test_a_config_without_the_partitioned_key_is_unpartitioned() -> None:
    # get_cookie_partitioned's .get(..., False) (S26): a config that lost the key (an
    # app that built its config by hand) sets an unpartitioned cookie.
    app = Microframework(__name__)
    app.secret_key = "pin key"
    del app.config["SESSION_COOKIE_PARTITIONED"]

    @app.get("/")
    async def index() -> str:
        session["a"] = 1
        return "ok"

    response = await app.test_client().get("/")
    (header,) = response.headers.getlist("Set-Cookie")
    assert "partitioned" not in header.lower()


def test_a_permanent_sessions_expiry_is_an_aware_utc_time() -> None:
    # get_expiration_time: datetime.now(UTC) (S28): a naive local time would be read
    # as UTC by the cookie writer, off by the machine's offset.
    app = Microframework(__name__)
    permanent = SecureCookieSession()
    permanent.permanent = True
    expires = SecureCookieSessionInterface().get_expiration_time(app, permanent)
    assert expires is not None and expires.utcoffset() == timedelta(0)


def test_the_serializer_keeps_signers_for_a_few_salts_only() -> None:
    # _Serializer.make_signer's `len(made) < 8` (S42): signers are kept for the first
    # few salts; a caller's endless salts (ids, say) each get a fresh one, unkept.
    app = Microframework(__name__)
    app.secret_key = "pin key"
    serializer = SecureCookieSessionInterface().get_signing_serializer(app)
    assert serializer is not None
    assert serializer.make_signer("cookie-session") is serializer.make_signer(
        "cookie-session"
    )
    for n in range(20):
        serializer.make_signer(f"salt-{n}")
    assert serializer.make_signer("salt-19") is not serializer.make_signer("salt-19")
    assert serializer.loads(serializer.dumps({"a": 1}, salt="x"), salt="x") == {"a": 1}


async def test_an_instances_should_set_cookie_refreshes_a_session() -> None:
    # saves_its_own_way's instance check of "should_set_cookie" (S53): a
    # should_set_cookie set on the cookie interface's instance is asked after every
    # request, the session untouched by the view, as Flask asks it.
    app = Microframework(__name__, static_folder=None)
    app.secret_key = "pin key"
    app.config["SESSION_REFRESH_EACH_REQUEST"] = False
    interface = SecureCookieSessionInterface()
    asked: list[bool] = []

    def should_set_cookie(app: Any, session: Any) -> bool:
        asked.append(True)
        return True

    interface.should_set_cookie = should_set_cookie  # type: ignore[method-assign]
    app.session_interface = interface

    @app.get("/")
    async def index() -> str:
        return "untouched"

    serializer = SecureCookieSessionInterface().get_signing_serializer(app)
    assert serializer is not None
    client = app.test_client()
    client.set_cookie("session", serializer.dumps({"user": "ann"}))
    response = await client.get("/")
    assert asked
    (header,) = response.headers.getlist("Set-Cookie")
    assert header.startswith("session=") and not header.startswith("session=;")


def test_an_empty_secret_key_gives_no_signing_serializer() -> None:
    # get_signing_serializer's `if not secret_key` (S63): an empty key is no key, as
    # in Flask (a serializer signing with b"" would forge nothing, but sign anyway).
    app = Microframework(__name__)
    for empty in ("", b""):
        app.config["SECRET_KEY"] = empty
        assert SecureCookieSessionInterface().get_signing_serializer(app) is None


async def test_a_subclasss_digest_method_signs_the_cookie() -> None:
    # get_signing_serializer's signer_kwargs["digest_method"] (S78): a subclass's
    # digest (sha256, as some ports set) signs the cookie, not itsdangerous' sha1.
    import hashlib

    from itsdangerous import URLSafeTimedSerializer

    class Sha256Interface(SecureCookieSessionInterface):
        digest_method = staticmethod(hashlib.sha256)

    app = Microframework(__name__)
    app.secret_key = "pin key"
    app.session_interface = Sha256Interface()

    @app.get("/")
    async def index() -> str:
        session["a"] = 1
        return "ok"

    client = app.test_client()
    await client.get("/")
    cookie = client.get_cookie("session")
    assert cookie
    verifier = URLSafeTimedSerializer(
        "pin key",
        salt="cookie-session",
        serializer=Sha256Interface.serializer,
        signer_kwargs={"key_derivation": "hmac", "digest_method": hashlib.sha256},
    )
    assert verifier.loads(cookie.value) == {"a": 1}


async def test_a_cookie_older_than_the_lifetime_by_a_second_is_expired() -> None:
    # open_session's max_age = int(lifetime seconds) (S94): a cookie signed 11 s
    # before a 10 s lifetime is an empty session; one signed 10 s before still reads.
    app = Microframework(__name__)
    app.secret_key = "pin key"
    app.config["PERMANENT_SESSION_LIFETIME"] = 10
    serializer = SecureCookieSessionInterface().get_signing_serializer(app)
    assert serializer is not None
    interface = app.session_interface

    class Request:
        def __init__(self, value: str) -> None:
            self.cookies = {"session": value}

    now = 2_000_000_000
    for age, expected in ((10, {"a": 1}), (11, {})):
        with mock.patch.object(
            TimestampSigner, "get_timestamp", return_value=now - age
        ):
            value = serializer.dumps({"a": 1})
        with mock.patch.object(TimestampSigner, "get_timestamp", return_value=now):
            opened = await interface.open_session(app, Request(value))  # type: ignore[arg-type]
        assert opened is not None and dict(opened) == expected


async def test_a_cookie_opens_as_the_subclasss_session_class() -> None:
    # open_session's self.session_class(data) (S97): a session read from the cookie
    # is the interface's session_class, as a new one is.
    class TaggedSession(SecureCookieSession):
        pass

    class Interface(SecureCookieSessionInterface):
        session_class = TaggedSession

    app = Microframework(__name__)
    app.secret_key = "pin key"
    app.session_interface = Interface()
    kinds: list[str] = []

    @app.get("/")
    async def index() -> str:
        kinds.append(type(session._get_current_object()).__name__)  # type: ignore[attr-defined]
        session["a"] = 1
        return "ok"

    client = app.test_client()
    await client.get("/")
    await client.get("/")
    assert kinds == ["TaggedSession", "TaggedSession"]


async def test_a_key_removed_during_the_request_sets_no_cookie_and_no_500() -> None:
    # _save's `if signer is None: return` (S107): a SECRET_KEY gone by the time the
    # session is saved loses the write, not the response.
    app = Microframework(__name__)
    app.secret_key = "pin key"

    @app.get("/")
    async def index() -> str:
        session["a"] = 1
        app.config["SECRET_KEY"] = None
        return "ok"

    response = await app.test_client().get("/")
    assert response.status_code == 200
    assert response.headers.getlist("Set-Cookie") == []


async def test_a_session_class_that_is_a_mapping_not_a_dict_is_saved() -> None:
    # _save's signer.dumps(dict(session)) (S110): a session_class that is a
    # MutableMapping of its own (not a dict) is signed as the dict of its items.
    from collections.abc import Iterator

    class MappingSession(SessionMixin):
        modified = False

        def __init__(self, initial: Any = None) -> None:
            self.data = dict(initial or {})

        def __getitem__(self, key: str) -> Any:
            return self.data[key]

        def __setitem__(self, key: str, value: Any) -> None:
            self.data[key] = value
            self.modified = True

        def __delitem__(self, key: str) -> None:
            del self.data[key]
            self.modified = True

        def __iter__(self) -> Iterator[str]:
            return iter(self.data)

        def __len__(self) -> int:
            return len(self.data)

    client = _write_read_app(MappingSession).test_client()
    assert (await client.get("/write")).status_code == 200
    response = await client.get("/read")
    assert await response.get_data(as_text=True) == "ann"


@pytest.mark.parametrize(
    "key",
    [
        "DEBUG",
        "PROPAGATE_EXCEPTIONS",
        "TRAP_BAD_REQUEST_ERRORS",
        "TEMPLATES_AUTO_RELOAD",
    ],
)
def test_a_yes_no_key_unset_by_default_reads_no_as_false(
    key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # config._YES_NO (C19-C22): the flags whose default is None read "no" as False,
    # not as the truthy string "no"; "null" leaves them unset.
    from microframework.config import Config

    config = Config(".", {key: None})
    monkeypatch.setenv(f"PINAPP_{key}", "no")
    config.from_prefixed_env("PINAPP")
    assert config[key] is False
    monkeypatch.setenv(f"PINAPP_{key}", "null")
    config.from_prefixed_env("PINAPP")
    assert config[key] is None


@pytest.mark.parametrize("key", ["MAX_CONTENT_LENGTH", "BODY_TIMEOUT"])
async def test_a_nan_number_other_than_a_form_limit_fails_at_startup(key: str) -> None:
    # config._number's `value != value` (C29): NaN compares with nothing, so a NaN
    # body limit or timeout is refused at startup, not only a form limit's.
    from microframework.testing import LifespanError

    app = Microframework(__name__)
    app.config[key] = float("nan")
    with pytest.raises(LifespanError, match=key):
        async with app.test_app():
            pass


@pytest.mark.parametrize("key", ["MAX_FORM_MEMORY_SIZE", "MAX_FORM_PARTS"])
async def test_a_form_limit_of_zero_is_a_limit_not_an_error(key: str) -> None:
    # config._number's `value >= 0` (C32): 0 is a valid form limit (no form data
    # at all), as in Flask; only a negative one fails at startup.
    app = Microframework(__name__)
    app.config[key] = 0

    @app.post("/")
    async def index() -> str:
        return str(dict(await request.form))

    async with app.test_app() as test_app:
        response = await test_app.test_client().post("/", form={"a": "b"})
    assert response.status_code == 413


def test_a_config_attribute_writes_the_key_it_names() -> None:
    # ConfigAttribute.__set__ (C37): the key is the name as given, as __get__ reads
    # it (an extension's lower-case key included), as Flask's.
    from microframework.config import Config
    from microframework.config import ConfigAttribute

    class Holder:
        level: ConfigAttribute[int] = ConfigAttribute("ext_level", int)

        def __init__(self) -> None:
            self.config = Config(".")

    holder = Holder()
    holder.level = "3"
    assert holder.config == {"ext_level": "3"}
    assert holder.level == 3


def test_prefixed_env_nests_into_any_mutable_mapping(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # from_prefixed_env's isinstance(child, MutableMapping) (C51): a nested value
    # that is a mapping but not a dict (a UserDict) takes the key, as in Flask.
    from collections import UserDict

    from microframework.config import Config

    config = Config(".")
    config["DB"] = UserDict({"PORT": 5432})
    monkeypatch.setenv("PINAPP_DB__HOST", "db.local")
    config.from_prefixed_env("PINAPP")
    assert dict(config["DB"]) == {"PORT": 5432, "HOST": "db.local"}


def test_a_config_file_is_read_with_its_own_source_encoding(tmp_path: Path) -> None:
    # from_pyfile reads bytes (C55): Python's coding line decides, as for a module
    # (and as Flask's "rb"), not the locale's or UTF-8.
    from microframework.config import Config

    (tmp_path / "settings.py").write_bytes(
        "# -*- coding: latin-1 -*-\nGREETING = 'caf\xe9'\n".encode("latin-1")
    )
    config = Config(tmp_path)
    assert config.from_pyfile("settings.py") is True
    assert config["GREETING"] == "caf\xe9"


def test_get_namespace_takes_only_keys_that_start_with_it() -> None:
    # get_namespace's key.startswith(namespace) (C66): a key holding the namespace
    # further in is not part of it.
    from microframework.config import Config

    config = Config(".", {"IMAGE_STORE_PATH": "/s", "BACKUP_IMAGE_STORE_PATH": "/b"})
    assert config.get_namespace("IMAGE_STORE_") == {"path": "/s"}


@pytest.mark.parametrize(
    "name",
    ["FLASK_APP", "FLASK_DEBUG", "QUART_ENV", "FLASK_SKIP_DOTENV", "FLASK_RUN_PORT"],
)
def test_the_command_lines_own_variables_are_not_named_as_missed(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # config._CLI_NAMES and the RUN_ prefix (C72-C76): FLASK_DEBUG, QUART_ENV and the
    # like are the command line's, not config: from_prefixed_env() names none of them.
    import warnings

    from microframework.config import Config

    monkeypatch.setenv(name, "1")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        Config(".").from_prefixed_env()
    assert not [w for w in caught if name in str(w.message)]


@pytest.mark.parametrize(
    ("value", "loads"), [("False", True), ("NO", True), ("Yes", False)]
)
def test_skip_dotenv_is_read_in_any_case(
    value: str, loads: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # helpers.get_load_dotenv's .lower() (H03): "False" or "NO" says load the files,
    # as Flask's get_load_dotenv reads FLASK_SKIP_DOTENV.
    from microframework.helpers import get_load_dotenv

    monkeypatch.setenv("MICROFRAMEWORK_SKIP_DOTENV", value)
    assert get_load_dotenv() is loads


async def test_abort_goes_through_an_aborter_subclasss_call() -> None:
    # helpers.abort's fast path only for the plain Aborter (H11), then
    # aborter(code, *args, **kwargs) (H14, H15): an aborter_class whose __call__ does
    # more (here: records the code) is called with the description, as Flask calls
    # current_app.aborter.
    from werkzeug.exceptions import Aborter

    from microframework import abort

    called: list[int] = []

    class CountingAborter(Aborter):
        def __call__(self, code: Any, *args: Any, **kwargs: Any) -> Any:
            called.append(code)
            return super().__call__(code, *args, **kwargs)

    class App(Microframework):
        aborter_class = CountingAborter

    app = App(__name__)

    @app.get("/")
    async def index() -> str:
        abort(404, "The page moved away.")

    response = await app.test_client().get("/")
    assert response.status_code == 404
    assert called == [404]
    assert "The page moved away." in await response.get_data(as_text=True)


async def test_redirect_hands_its_code_to_an_apps_own_redirect() -> None:
    # helpers.redirect's app.redirect(location, code) (H18): an app's redirect of its
    # own gets the code asked for, as Flask passes code=code.
    from microframework import redirect

    codes: list[int] = []

    class App(Microframework):
        def redirect(self, location: str, code: int = 302) -> Any:
            codes.append(code)
            return super().redirect(location, code)

    app = App(__name__)

    @app.get("/")
    async def index() -> Any:
        return redirect("/elsewhere", 301)

    response = await app.test_client().get("/")
    assert (response.status_code, codes) == (301, [301])
    assert response.headers["Location"] == "/elsewhere"


def test_redirect_sets_location_through_a_response_classs_own_headers() -> None:
    # helpers.redirect's `response.headers.__class__ is Headers` (H21): a response
    # class whose headers are a Headers subclass gets Location through its
    # __setitem__, not appended behind its back.
    from werkzeug.datastructures import Headers

    from microframework import redirect
    from microframework import Response

    seen: list[str] = []

    class SeenHeaders(Headers):
        def __setitem__(self, key: Any, value: Any) -> None:
            seen.append(key)
            super().__setitem__(key, value)

    class SeenResponse(Response):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.headers = SeenHeaders(self.headers)

    response = redirect("/there", 302, SeenResponse)
    assert response.headers["Location"] == "/there"
    assert "Location" in seen


async def test_a_redirect_page_keeps_an_inner_space_as_written() -> None:
    # helpers._DROPPED_BY_PARSERS's `^ +` (H27): only leading spaces (which parsers
    # drop) are encoded in the page; an inner one stays as the target has it, as in
    # Flask's page, and the Location header quotes it.
    from microframework import redirect

    response = redirect("/a b")
    assert response.headers["Location"] == "/a%20b"
    assert 'href="/a b"' in await response.get_data(as_text=True)


async def test_a_callable_async_iterator_is_wrapped_as_a_stream() -> None:
    # stream_with_context's `not hasattr(..., "__anext__")` (H42): an async iterator
    # that is also callable is a stream to wrap, not a function to decorate.
    from microframework import stream_with_context

    class CallableAsyncIterator:
        def __init__(self) -> None:
            self.items = ["a", "b"]

        def __call__(self) -> None:
            raise AssertionError("called, not iterated")

        def __aiter__(self) -> CallableAsyncIterator:
            return self

        async def __anext__(self) -> str:
            if not self.items:
                raise StopAsyncIteration
            return self.items.pop(0)

    app = Microframework(__name__)
    async with app.test_request_context("/"):
        wrapped = stream_with_context(CallableAsyncIterator())
    assert [chunk async for chunk in wrapped] == ["a", "b"]
