"""Per-request work done once: the form parser, str chunks, the session compressor."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from unittest import mock

import pytest

import microframework.formparser
import microframework.wrappers.request
from microframework import Microframework
from microframework import request
from microframework import session
from microframework.sessions import SecureCookieSessionInterface
from microframework.wrappers.response import Response


def _form_app() -> Microframework:
    app = Microframework(__name__)

    @app.post("/")
    async def index() -> str:
        return (await request.form)["a"]

    return app


async def test_form_parser_is_made_once_for_unchanged_limits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(microframework.formparser, "_made", [((), None)], raising=False)
    real = microframework.formparser.FormDataParser
    made = mock.Mock(wraps=real)
    monkeypatch.setattr(microframework.formparser, "FormDataParser", made)
    client = _form_app().test_client()
    for value in ("1", "2", "3"):
        response = await client.post("/", form={"a": value})
        assert await response.get_data(as_text=True) == value
    assert made.call_count == 1


async def test_form_parser_follows_changed_limits_and_their_types() -> None:
    app = _form_app()
    client = app.test_client()
    app.config["MAX_FORM_PARTS"] = 1
    assert (await client.post("/", form={"a": "1"})).status_code == 200
    assert (await client.post("/", form={"a": "1", "b": "2"})).status_code == 413
    app.config["MAX_FORM_PARTS"] = 2
    assert (await client.post("/", form={"a": "1", "b": "2"})).status_code == 200
    app.config["MAX_FORM_PARTS"] = 2.0  # floored, as Flask's: the same limit
    assert (await client.post("/", form={"a": "1", "b": "2"})).status_code == 200
    app.config["MAX_FORM_PARTS"] = 1
    assert (await client.post("/", form={"a": "1"})).status_code == 200
    app.config["MAX_FORM_PARTS"] = True  # == 1, but not an int limit: refused
    assert (await client.post("/", form={"a": "1"})).status_code == 500


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (None, ["Cookie"]),
        ("Accept-Encoding", ["Accept-Encoding, Cookie"]),
        ("cookie", ["cookie"]),
        ("*", ["*, Cookie"]),
    ],
)
async def test_session_vary_keeps_what_the_view_set(
    before: str | None, after: list[str]
) -> None:
    app = Microframework(__name__)
    app.secret_key = "k"

    @app.get("/")
    async def index() -> Response:
        session.get("a")
        response = Response("body")
        if before is not None:
            response.headers["VARY"] = before
        return response

    response = await app.test_client().get("/")
    assert response.headers.getlist("Vary") == after


async def test_streamed_str_and_bytes_chunks_are_sent_without_a_call_each() -> None:
    import sys

    from microframework.wrappers import body

    app = Microframework(__name__)

    @app.get("/")
    async def index() -> Any:
        async def chunks() -> AsyncIterator[Any]:
            yield "a"
            yield b"b"
            yield "c"

        return chunks()

    calls = 0

    def count(frame: Any, event: str, arg: Any) -> None:
        nonlocal calls
        if event == "call" and frame.f_code is body.encode_chunk.__code__:
            calls += 1

    client = app.test_client()
    sys.setprofile(count)
    try:
        response = await client.get("/")
    finally:
        sys.setprofile(None)
    assert await response.get_data() == b"abc"
    assert calls == 0


class _Text(str):
    pass


async def test_streamed_chunks_of_other_types_are_still_encoded() -> None:
    app = Microframework(__name__)

    @app.get("/")
    async def index() -> Any:
        async def chunks() -> AsyncIterator[Any]:
            yield _Text("a")
            yield bytearray(b"b")
            yield memoryview(b"c")
            yield "é"

        return chunks()

    response = await app.test_client().get("/")
    assert await response.get_data() == "abcé".encode()


async def test_a_streamed_chunk_of_a_wrong_type_is_still_refused(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = Microframework(__name__)

    @app.get("/")
    async def index() -> Any:
        async def chunks() -> AsyncIterator[Any]:
            yield "a"
            yield 1

        return chunks()

    with pytest.raises(TypeError, match="must be bytes or str, not int"):
        await app.test_client().get("/")


def _flask_like_serializer() -> Any:
    import hashlib

    from itsdangerous import URLSafeTimedSerializer

    from microframework.sessions import session_json_serializer

    return URLSafeTimedSerializer(
        "k",
        salt="cookie-session",
        serializer=session_json_serializer,
        signer_kwargs={"key_derivation": "hmac", "digest_method": hashlib.sha1},
    )


@pytest.mark.parametrize("size", [0, 10, 100, 400, 3000])
async def test_session_cookie_is_compressed_without_zlib_compress(size: int) -> None:
    import random

    app = Microframework(__name__)
    app.secret_key = "k"
    rng = random.Random(size)
    data = {
        f"k{i}": rng.choice(["alice", 7, True, "x" * 30]) for i in range(size // 10)
    }
    with mock.patch("zlib.compress", side_effect=AssertionError("zlib.compress")):
        cookie = SecureCookieSessionInterface().get_signing_serializer(app).dumps(data)  # type: ignore[union-attr]
    reader = _flask_like_serializer()  # itsdangerous as Flask configures it
    assert reader.loads(cookie) == data
    payload = cookie.rsplit(".", 2)[0]
    if size <= 400:  # byte for byte what itsdangerous writes
        assert payload == reader.dump_payload(data).decode()
    assert payload.startswith(".") == (size >= 100)  # compressed when shorter


@pytest.mark.parametrize("size", [1500, 2500, 3500])
def test_session_cookie_is_no_longer_than_itsdangerous_writes_it(size: int) -> None:
    import random
    import string

    # Random letters compress only by their entropy: a payload of many small deflate
    # blocks pays for a Huffman table each, and a session near the 4 KB limit that
    # fits in Flask's cookie must fit in ours (browsers drop a longer one).
    app = Microframework(__name__)
    app.secret_key = "k"
    rng = random.Random(size)
    data = {"x": "".join(rng.choice(string.ascii_letters) for _ in range(size))}
    serializer = SecureCookieSessionInterface().get_signing_serializer(app)
    cookie = serializer.dumps(data)  # type: ignore[union-attr]
    reader = _flask_like_serializer()
    assert reader.loads(cookie) == data
    assert cookie.rsplit(".", 2)[0] == reader.dump_payload(data).decode()
