"""Contexts pushed and popped by hand, their copies, their signals, and ``g``."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from asgi_harness import websocket_scope

from microframework import after_this_request
from microframework import copy_current_request_context
from microframework import g
from microframework import has_websocket_context
from microframework import Microframework
from microframework import request
from microframework import Response
from microframework import session
from microframework import websocket
from microframework.ctx import AppCtxGlobals
from microframework.globals import app_ctx
from microframework.sessions import SecureCookieSessionInterface
from microframework.signals import appcontext_popped
from microframework.signals import appcontext_pushed
from microframework.typing import Message
from microframework.typing import Scope


class _WaitingSessionInterface(SecureCookieSessionInterface):
    """A store that waits on I/O to open a session (as Redis or a database would)."""

    opens_without_waiting = False

    async def open_session(self, app: Any, request: Any) -> Any:
        await asyncio.sleep(0)  # one real suspension, as a network round trip
        return await super().open_session(app, request)


# -- g ---------------------------------------------------------------------------------


async def test_in_g_is_about_the_names_set_on_it_not_its_methods(
    app: Microframework,
) -> None:
    # Flask's `name in g` looks at the values stored; g's own methods are not among
    # them (`"get" in g` must not be true in a fresh context).
    async with app.app_context():
        assert "get" not in g
        assert "pop" not in g
        g.user = 1
        assert "user" in g


def test_the_repr_of_g_outside_a_context_is_the_default_one() -> None:
    # Outside a context there is no app to name: the object's default repr.
    assert repr(AppCtxGlobals()).startswith("<microframework.ctx.AppCtxGlobals object")


# -- contexts pushed by hand -----------------------------------------------------------


async def test_a_copied_request_context_keeps_the_preprocessed_view_args(
    app: Microframework,
) -> None:
    # A copy shares the request's matched URL: view_args as url_value_preprocessor
    # left them, not matched again from the URL.
    @app.url_value_preprocessor
    def pull(endpoint: str | None, values: dict[str, Any] | None) -> None:
        assert values is not None
        values.pop("lang", None)

    @app.route("/<lang>/page")
    async def page() -> dict[str, Any]:
        @copy_current_request_context
        async def inner() -> dict[str, Any]:
            return dict(request.view_args or {})

        return {"inner": await inner(), "outer": dict(request.view_args or {})}

    response = await app.test_client().get("/en/page")
    assert await response.get_json() == {"inner": {}, "outer": {}}


async def test_a_websocket_context_pushed_by_hand_is_routed_as_a_websocket(
    app: Microframework,
) -> None:
    # Matched against the websocket rules: its endpoint is the websocket route's, with
    # no routing error.
    @app.websocket("/ws")
    async def ws_handler() -> None:
        pass

    scope: Scope = websocket_scope()

    async def receive() -> Message:
        raise AssertionError("not called")

    async def send(message: Message) -> None:
        raise AssertionError("not called")

    connection = app.websocket_class(scope, receive, send, app)
    async with app.websocket_context(connection):
        assert websocket.routing_exception is None
        assert websocket.endpoint == "ws_handler"


async def test_a_pushed_request_context_opens_a_waiting_session_store(
    app: Microframework,
) -> None:
    # A store that waits can't be opened on first use; pushing the context opens it.
    app.secret_key = "k"
    app.session_interface = _WaitingSessionInterface()
    async with app.test_request_context("/"):
        session["x"] = 1
        assert session["x"] == 1


async def test_an_app_context_pushed_by_hand_sends_appcontext_pushed(
    app: Microframework,
) -> None:
    got: list[Any] = []

    def receiver(sender: Microframework, **kwargs: Any) -> None:
        got.append(sender)

    with appcontext_pushed.connected_to(receiver, app):
        async with app.app_context():
            pass
    assert got == [app]


async def test_an_app_context_popped_by_hand_sends_appcontext_popped(
    app: Microframework,
) -> None:
    got: list[Any] = []

    def receiver(sender: Microframework, **kwargs: Any) -> None:
        got.append(sender)

    with appcontext_popped.connected_to(receiver, app):
        async with app.app_context():
            pass
    assert got == [app]


async def test_popping_the_servers_context_by_hand_is_refused(
    app: Microframework,
) -> None:
    # The context of a request being served is the dispatcher's to pop: popping it in
    # the view raises, and teardown runs once, when the request ends.
    torn: list[BaseException | None] = []

    @app.teardown_request
    def down(exc: BaseException | None) -> None:
        torn.append(exc)

    @app.route("/")
    async def index() -> str:
        with pytest.raises(RuntimeError):
            await app_ctx.pop()
        return "ok"

    response = await app.test_client().get("/")
    assert response.status_code == 200
    assert torn == [None]


async def test_pop_without_an_error_gives_teardown_the_unhandled_one(
    app: Microframework,
) -> None:
    # As Flask's: an error handle_exception turned into a 500 is the one teardown
    # functions see when the context is popped without an error of its own.
    app.config["PROPAGATE_EXCEPTIONS"] = False
    seen: list[BaseException | None] = []

    @app.teardown_request
    def down(exc: BaseException | None) -> None:
        seen.append(exc)

    error = ValueError("boom")
    async with app.test_request_context("/"):
        response = await app.handle_exception(error)
        assert response.status_code == 500
    assert seen == [error]


async def test_an_app_context_popped_by_hand_gives_teardown_none(
    app: Microframework,
) -> None:
    # pop() with no argument: no error to report.
    seen: list[BaseException | None] = []

    @app.teardown_appcontext
    def down(exc: BaseException | None) -> None:
        seen.append(exc)

    ctx = app.app_context()
    await ctx.push()
    await ctx.pop()
    assert seen == [None]


async def test_there_is_no_websocket_context_in_an_app_or_request_context(
    app: Microframework,
) -> None:
    async with app.app_context():
        assert not has_websocket_context()
    async with app.test_request_context("/"):
        assert not has_websocket_context()


# -- decorators ------------------------------------------------------------------------


async def test_copy_current_request_context_keeps_the_functions_name_and_doc(
    app: Microframework,
) -> None:
    # A functools.wraps wrapper, as Flask's: the copy is still named and documented.
    @app.route("/")
    async def index() -> str:
        def work() -> None:
            """doc"""

        wrapped = copy_current_request_context(work)
        return f"{wrapped.__name__} {wrapped.__doc__}"

    response = await app.test_client().get("/")
    assert await response.get_data(as_text=True) == "work doc"


async def test_after_this_request_functions_run_in_registration_order(
    app: Microframework,
) -> None:
    # As Flask's: first registered, first run.
    @app.route("/")
    async def index() -> str:
        @after_this_request
        def first(response: Response) -> Response:
            response.headers.add("X-Order", "first")
            return response

        @after_this_request
        def second(response: Response) -> Response:
            response.headers.add("X-Order", "second")
            return response

        return "ok"

    response = await app.test_client().get("/")
    assert response.headers.getlist("X-Order") == ["first", "second"]
