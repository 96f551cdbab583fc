"""Pins from mutation testing of helpers.py (helper mutsold, session 29).

Each test kills a mutant that survived the related test files; its first comment names
the code it pins. Flask 3.1.3 behaves the same (flask.redirect uses app.response_class).
"""

from __future__ import annotations

from microframework import Microframework
from microframework import redirect
from microframework import Response


class MyResponse(Response):
    pass


async def test_redirect_in_an_app_uses_its_response_class() -> None:
    # helpers.redirect: Response = app.response_class when the app doesn't override
    # app.redirect.
    app = Microframework(__name__)
    app.response_class = MyResponse
    kinds: list[type] = []

    @app.get("/")
    async def index() -> Response:
        response = redirect("/elsewhere")
        kinds.append(type(response))
        return response

    response = await app.test_client().get("/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/elsewhere"
    assert kinds == [MyResponse]


async def test_redirect_keeps_tilde_and_brackets_and_encodes_del() -> None:
    # helpers._DROPPED_BY_PARSERS (\x7f, not "~") and helpers._to_uri's safe set ("[]"):
    # "~" and "[]" stay as they are, as Flask's iri_to_uri leaves them; DEL is encoded.
    app = Microframework(__name__)
    async with app.app_context():
        assert redirect("/~user").headers["Location"] == "/~user"
        assert redirect("/s?a[]=1").headers["Location"] == "/s?a[]=1"
        assert redirect("/a\x7fb").headers["Location"] == "/a%7Fb"


async def test_make_push_promise_needs_a_request_not_just_an_app_context() -> None:
    # helpers.make_push_promise: `ctx is None or ctx.request is None` -> RuntimeError
    # (not an AttributeError on None).
    import pytest

    from microframework import make_push_promise

    app = Microframework(__name__)
    async with app.app_context():
        with pytest.raises(RuntimeError, match="needs an active request"):
            await make_push_promise("/style.css")


async def test_stream_with_context_works_in_a_websocket() -> None:
    # helpers.stream_with_context: a websocket context is enough
    # (`ctx.request is None and ctx.websocket is None`).
    from microframework import stream_with_context
    from microframework import websocket

    app = Microframework(__name__)

    @app.websocket("/ws")
    async def ws() -> None:
        async def gen():  # type: ignore[no-untyped-def]
            yield websocket.path

        await websocket.accept()
        async for item in stream_with_context(gen()):
            await websocket.send(item)

    async with app.test_client().websocket("/ws") as conn:
        assert await conn.receive() == "/ws"


async def test_closing_a_wrapped_sync_generator_closes_its_source() -> None:
    # helpers._sync_with_context: `close()` on the source in its finally, so an
    # abandoned body runs the source's own finally.
    from microframework import stream_with_context

    closed: list[bool] = []

    def source():  # type: ignore[no-untyped-def]
        try:
            yield "a"
            yield "b"
        finally:
            closed.append(True)

    app = Microframework(__name__)
    async with app.test_request_context("/"):
        held = source()  # still referenced: only an explicit close() finishes it
        wrapped = stream_with_context(held)
        assert next(wrapped) == "a"
        wrapped.close()
        assert closed == [True]
