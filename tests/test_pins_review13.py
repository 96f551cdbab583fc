"""Pins from review13 (session 32): session saving, copies of the app, proxies.

Each failed on the code before its fix; its name says what it holds."""

from __future__ import annotations

import asyncio
import copy
import functools
from typing import Any
from unittest import mock

import pytest
from werkzeug.local import LocalProxy

from microframework import appcontext_popped
from microframework import appcontext_pushed
from microframework import copy_current_app_context
from microframework import Microframework
from microframework import websocket
from microframework.globals import unproxied
from microframework.sessions import SecureCookieSessionInterface
from microframework.testing import WebsocketResponseError


def _app() -> Microframework:
    app = Microframework(__name__)
    app.config.update(TESTING=True, SECRET_KEY="k")

    @app.get("/")
    async def index() -> str:
        return "ok"

    return app


async def test_a_mocked_save_session_is_called_not_awaited_blindly() -> None:
    app = _app()
    with mock.patch.object(app.session_interface, "save_session") as saved:
        response = await app.test_client().get("/")
    assert response.status_code == 200
    assert saved.call_count == 1


async def test_a_wrapper_of_the_cookie_save_that_returns_none_works() -> None:
    def logged(func: Any) -> Any:
        @functools.wraps(func)  # copies the base's attributes
        def wrapper(self: Any, *args: Any) -> None:
            func(self, *args)

        return wrapper

    class Logged(SecureCookieSessionInterface):
        save_session = logged(SecureCookieSessionInterface.save_session)

    app = _app()
    app.session_interface = Logged()
    assert (await app.test_client().get("/")).status_code == 200


async def test_a_subclass_saving_its_own_way_may_open_with_a_wait() -> None:
    class Checked(SecureCookieSessionInterface):
        async def open_session(self, app: Any, request: Any) -> Any:
            await asyncio.sleep(0)
            return await super().open_session(app, request)

        async def save_session(self, app: Any, session: Any, response: Any) -> None:
            await super().save_session(app, session, response)

    app = _app()
    app.session_interface = Checked()
    assert (await app.test_client().get("/")).status_code == 200


async def test_a_subclass_saving_its_own_way_saves_after_a_websocket() -> None:
    saved: list[object] = []
    done = asyncio.Event()

    class Mine(SecureCookieSessionInterface):
        async def save_session(self, app: Any, session: Any, response: Any) -> None:
            saved.append(response)
            done.set()

    app = _app()
    app.session_interface = Mine()

    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.accept()
        await websocket.send("hi")

    async with app.test_client().websocket("/ws") as connection:
        assert await connection.receive() == "hi"
    async with asyncio.timeout(5):  # the handler's end is after the client's
        await done.wait()
    assert saved == [None]


def test_a_subclass_declaring_view_functions_can_be_copied() -> None:
    class Declares(Microframework):
        view_functions = {}  # type: ignore[assignment]

    app = Declares(__name__)
    assert copy.copy(app).view_functions is app.view_functions


def test_view_functions_before_init_is_an_attribute_error() -> None:
    half = Microframework.__new__(Microframework)
    assert not hasattr(half, "view_functions")


def test_unproxied_follows_eight_proxies() -> None:
    target = object()
    value: Any = target
    for _ in range(8):
        value = LocalProxy((lambda v: lambda: v)(value))
    assert unproxied(value) is target


async def test_copy_current_app_context_announces_its_copy_as_quart() -> None:
    app = _app()
    heard: list[str] = []

    async def pushed(sender: Any, **kwargs: Any) -> None:
        heard.append("pushed")

    async def popped(sender: Any, **kwargs: Any) -> None:
        heard.append("popped")

    appcontext_pushed.connect(pushed, app)
    appcontext_popped.connect(popped, app)
    try:
        async with app.app_context():

            @copy_current_app_context
            async def work() -> None:
                heard.append("work")

            await asyncio.ensure_future(work())
    finally:
        appcontext_pushed.disconnect(pushed, app)
        appcontext_popped.disconnect(popped, app)
    assert heard == ["pushed", "pushed", "work", "popped", "popped"]


async def test_a_subclass_saving_its_own_way_saves_into_a_websocket_rejection() -> None:
    # As Quart's: a handler that never touched the session, refused before accept
    # (review14 1).
    saved: list[Any] = []

    class Interface(SecureCookieSessionInterface):
        async def save_session(self, app: Any, session: Any, response: Any) -> None:
            saved.append(response)
            if response is not None:
                response.headers["X-Saved"] = "yes"

    app = Microframework(__name__)
    app.secret_key = "k"
    app.session_interface = Interface()

    @app.websocket("/ws")
    async def ws() -> tuple[str, int]:
        return "no", 401

    with pytest.raises(WebsocketResponseError) as info:
        async with app.test_client().websocket("/ws") as socket:
            await socket.receive()
    assert info.value.response.headers.get("X-Saved") == "yes"
    assert len(saved) == 1 and saved[0] is not None


async def test_a_copied_app_context_whose_pushed_receiver_fails_sends_no_popped() -> (
    None
):
    # As Quart's: popped only after a push that was announced (review14 5).
    app = _app()
    heard: list[str] = []

    def pushed(sender: Any, **kwargs: Any) -> None:
        raise RuntimeError("pushed receiver")

    def popped(sender: Any, **kwargs: Any) -> None:
        heard.append("popped")

    @app.get("/copy")
    async def view() -> str:
        work = copy_current_app_context(lambda: None)
        with appcontext_pushed.connected_to(pushed, app):
            with appcontext_popped.connected_to(popped, app):
                with pytest.raises(RuntimeError, match="pushed receiver"):
                    await work()
        return "ok"

    assert (await app.test_client().get("/copy")).status_code == 200
    assert heard == []
