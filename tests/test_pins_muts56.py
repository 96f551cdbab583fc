"""Pins from mutation testing (helper muts56, session 39): the survivors among the
mutants of ``sessions.py`` and ``flashing.py``.

Each test kills a mutant that survived the related test files; its first comment names
the code it pins and the mutant id.
"""

from __future__ import annotations

import gc
import hashlib
import weakref
from typing import Any

from itsdangerous import URLSafeTimedSerializer

from microframework import flash
from microframework import get_flashed_messages
from microframework import Microframework
from microframework import request
from microframework import session


class _NotJSON:
    # A serializer whose output the app's tagged JSON can't read: an older format.
    @staticmethod
    def dumps(obj: Any) -> str:
        return "not json {"

    @staticmethod
    def loads(text: Any) -> Any:
        raise AssertionError("never called")


async def test_a_cookie_signed_with_the_key_but_not_json_is_an_empty_session() -> None:
    # sessions.SecureCookieSessionInterface.open_session: `except BadData` (S40: only
    # BadSignature): a cookie the app's key signed whose payload doesn't decode (an
    # older serializer, a removed JSONTag) raises BadPayload, which is no BadSignature.
    # It is an empty session, not a 500 (Flask 3.1.3 and Quart 0.22 answer 500).
    app = Microframework(__name__)
    app.secret_key = "pin key"

    @app.get("/")
    async def index() -> str:
        return repr(dict(session))

    signer = URLSafeTimedSerializer(
        "pin key",
        salt="cookie-session",
        serializer=_NotJSON,
        signer_kwargs={"key_derivation": "hmac", "digest_method": hashlib.sha1},
    )
    response = await app.test_client().get(
        "/", headers={"Cookie": f"session={signer.dumps({})}"}
    )
    assert response.status_code == 200
    assert await response.get_data(as_text=True) == "{}"


async def test_flash_adds_to_flashes_the_session_holds_as_a_tuple() -> None:
    # flashing.flash: `list(session.get("_flashes", ()))` (F2: the stored object
    # itself, appended to in place): flashes another store or older code kept as a
    # tuple (the tagged JSON keeps tuples) take one more, not an AttributeError 500;
    # and the list a caller read before is not changed behind its back.
    app = Microframework(__name__)
    app.secret_key = "pin key"

    @app.get("/add")
    async def add() -> str:
        await flash("b")
        return "ok"

    @app.get("/show")
    async def show() -> Any:
        return {"messages": get_flashed_messages()}

    client = app.test_client()
    async with client.session_transaction() as stored:
        stored["_flashes"] = (("message", "a"),)
    assert (await client.get("/add")).status_code == 200
    assert await (await client.get("/show")).get_json() == {"messages": ["a", "b"]}

    async with app.test_request_context("/"):
        await flash("first")
        before = session["_flashes"]
        await flash("second")
        assert before == [("message", "first")]
        assert get_flashed_messages() == ["first", "second"]


async def test_a_request_that_read_its_flashes_is_not_kept_after_it() -> None:
    # flashing._taken: a WeakKeyDictionary (F22: a plain dict): the flashes popped per
    # connection go with it. Held strongly, every request that showed its flashes (each
    # page of a layout calling get_flashed_messages) stayed in memory for good.
    app = Microframework(__name__)
    app.secret_key = "pin key"
    refs: list[weakref.ref[Any]] = []

    @app.get("/")
    async def index() -> Any:
        refs.append(weakref.ref(request._get_current_object()))  # type: ignore[attr-defined]
        return {"messages": get_flashed_messages()}

    response = await app.test_client().get("/")
    assert await response.get_json() == {"messages": []}
    del response
    gc.collect()
    assert refs[0]() is None
