"""Pins from mutation testing (helper muts31, session 31) of sessions, config, json.tag,
json.provider, flashing, helpers, conditional, views and templating.

Each test kills a mutant that survived the related test files; its first comment names
the code it pins and the mutant id (see /tmp/s31/muts31/REPORT.md).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from microframework import Microframework


@pytest.mark.parametrize("value", ["no", "NO", " no "])
def test_debug_env_no_means_off(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    # helpers.get_debug_flag: "no" is off, as Flask's FLASK_DEBUG=no (mutant H01).
    monkeypatch.setenv("MICROFRAMEWORK_DEBUG", value)
    assert Microframework(__name__).debug is False
    monkeypatch.setenv("MICROFRAMEWORK_DEBUG", "yes")
    assert Microframework(__name__).debug is True


async def test_changing_the_returned_flashes_does_not_change_the_next_call() -> None:
    # flashing.get_flashed_messages: `selected = list(flashes)` returns a copy of the
    # request's popped flashes (mutant F14 returned the kept list itself; Flask 3.1.3
    # does, so a caller's .pop() there hides the message from a later call).
    from microframework import flash
    from microframework import get_flashed_messages

    app = Microframework(__name__)
    app.secret_key = "k"
    seen: list[object] = []

    @app.get("/")
    async def index() -> str:
        await flash("a")
        await flash("b", "error")
        return "ok"

    @app.get("/show")
    async def show() -> str:
        first = get_flashed_messages(with_categories=True)
        first.clear()
        seen.append(get_flashed_messages(with_categories=True))
        return "ok"

    client = app.test_client()
    await client.get("/")
    await client.get("/show")
    assert seen == [[("message", "a"), ("error", "b")]]


async def test_an_async_stream_with_context_leaves_no_context_behind() -> None:
    # helpers._async_with_context: `_cv_app.reset(token)` after each __anext__ (mutant
    # H20 dropped it): the async twin of test_pins_mutleft's sync test. The consumer,
    # outside the request, is not inside its context between chunks (Flask 3.1.3's and
    # Quart's wrappers leave it set there: generators share the caller's context).
    from microframework import has_request_context
    from microframework import request
    from microframework import stream_with_context

    app = Microframework(__name__)

    async def gen() -> AsyncIterator[str]:
        yield request.path
        yield request.args["q"]

    async with app.test_request_context("/x?q=1"):
        wrapped = stream_with_context(gen())
    assert not has_request_context()
    assert await wrapped.__anext__() == "/x"
    assert not has_request_context()
    assert await wrapped.__anext__() == "1"
    assert not has_request_context()
    await wrapped.aclose()


def test_auto_reload_in_jinja_options_is_the_environments() -> None:
    # templating.create_jinja_environment: options.setdefault("auto_reload", ...) keeps
    # an app's own jinja_options["auto_reload"] (mutant M28 overwrote it with the
    # TEMPLATES_AUTO_RELOAD/DEBUG default), as Flask 3.1.3 does.
    class App(Microframework):
        jinja_options = {"auto_reload": False}

    app = App(__name__)
    app.config["DEBUG"] = True
    assert app.jinja_env.auto_reload is False
    other = Microframework(__name__)
    other.config["DEBUG"] = True
    assert other.jinja_env.auto_reload is True


async def test_update_template_context_outside_any_context_keeps_the_values() -> None:
    # templating.update_template_context: `if ctx is not None` (mutant M26 dropped it
    # and failed with AttributeError on None): outside a context the dict is left with
    # the values it was given, not an error.
    app = Microframework(__name__)
    context = {"title": "t"}
    await app.update_template_context(context)
    assert context["title"] == "t"


@pytest.mark.parametrize(
    ("value", "expected"), [(" 0 ", True), ("  ", True), (" 1 ", False)]
)
def test_skip_dotenv_is_read_without_surrounding_spaces(
    monkeypatch: pytest.MonkeyPatch, value: str, expected: bool
) -> None:
    # helpers.get_load_dotenv: the value is stripped, as get_debug_flag's is (mutant H23
    # dropped .strip(): " 0 " and a blank value then skipped the .env files).
    from microframework.cli import get_load_dotenv

    monkeypatch.setenv("MICROFRAMEWORK_SKIP_DOTENV", value)
    assert get_load_dotenv() is expected


async def test_a_signing_serializer_of_none_opens_the_null_session() -> None:
    # sessions.SecureCookieSessionInterface.open_session: `if signer is None: return
    # None` (mutant S25 dropped it): a subclass whose get_signing_serializer gives None
    # reads a cookie as the null session, not a 500 (as Flask 3.1.3's open_session).
    from microframework import session
    from microframework.sessions import SecureCookieSessionInterface

    class NoSigning(SecureCookieSessionInterface):
        def get_signing_serializer(self, app: Any) -> None:
            return None

    app = Microframework(__name__)
    app.secret_key = "k"
    app.session_interface = NoSigning()

    @app.get("/")
    async def index() -> str:
        return repr(session.get("user"))

    client = app.test_client()
    response = await client.get("/", headers={"Cookie": "session=anything"})
    assert response.status_code == 200
    assert await response.get_data(as_text=True) == "None"


def _no_validator_app() -> Microframework:
    # A response with neither ETag nor Last-Modified, made conditional.
    from microframework import request
    from microframework import Response

    app = Microframework(__name__)

    @app.get("/")
    async def index() -> Response:
        response = Response(b"0123456789")
        return await response.make_conditional(request, accept_ranges=True)

    return app


async def test_if_range_without_our_last_modified_never_holds() -> None:
    # conditional._if_range_holds: `stamp is not None and ...` (mutant K28 dropped it,
    # so an unparseable If-Range equalled a missing Last-Modified: None == None and the
    # range was sent). Without a validator to compare, the whole body goes (RFC 9110
    # 13.1.5), as werkzeug (Flask, Quart) does.
    client = _no_validator_app().test_client()
    response = await client.get("/", headers={"Range": "bytes=0-1", "If-Range": "x"})
    assert response.status_code == 200
    assert await response.get_data() == b"0123456789"


async def test_if_modified_since_without_last_modified_is_200() -> None:
    # conditional.precondition_status: `stamp is not None and stamp <= since` (mutant K29
    # made a missing Last-Modified count as unmodified): no Last-Modified, no 304, as
    # werkzeug (Flask, Quart) answers.
    client = _no_validator_app().test_client()
    since = "Wed, 21 Oct 2015 07:28:00 GMT"
    response = await client.get("/", headers={"If-Modified-Since": since})
    assert response.status_code == 200
    assert await response.get_data() == b"0123456789"


async def test_awaiting_flash_runs_every_async_receiver() -> None:
    # flashing._Flashed.__await__: every pending async receiver runs (mutant F16 ran
    # only the first).
    from microframework import flash
    from microframework.signals import message_flashed

    app = Microframework(__name__)
    app.secret_key = "k"
    seen: list[str] = []

    async def first(sender: Any, message: str, category: str) -> None:
        seen.append(f"first {message}")

    async def second(sender: Any, message: str, category: str) -> None:
        seen.append(f"second {message}")

    @app.get("/")
    async def index() -> str:
        await flash("hi")
        return "ok"

    with (
        message_flashed.connected_to(first, app),
        message_flashed.connected_to(second, app),
    ):
        await app.test_client().get("/")
    assert sorted(seen) == ["first hi", "second hi"]


async def test_jsonify_an_html_object_gives_the_str_of_its_html() -> None:
    # json.provider._default: `str(o.__html__())` (mutant P24 returned __html__()'s own
    # value, so a non-str one was not serialisable), as Flask 3.1.3's _default.
    from microframework import jsonify

    class Lazy:
        def __str__(self) -> str:
            return "<b>x</b>"

    class Widget:
        def __html__(self) -> Lazy:
            return Lazy()

    app = Microframework(__name__)
    async with app.app_context():
        response = jsonify({"w": Widget()})
    assert await response.get_json() == {"w": "<b>x</b>"}
