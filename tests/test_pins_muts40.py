"""Pins from mutation testing (helper muts40, session 35): the survivors among the
mutants of scaffold.py and testing/connections.py (session 35 note).

Each test kills a mutant that survived the whole suite; its first comment names the
code it pins and the mutant id.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import click
import pytest

from microframework import Blueprint
from microframework import Microframework
from microframework import url_for
from microframework import websocket
from microframework.exceptions import WebsocketDisconnect
from microframework.testing import HTTPDisconnectError
from microframework.testing import WebsocketResponseError
from microframework.typing import Message
from microframework.typing import Receive
from microframework.typing import Scope
from microframework.typing import Send


def test_hook_decorators_name_their_class_as_flasks_do(app: Microframework) -> None:
    # scaffold.py registration_method: `method.__qualname__ = f"{owner}.{name}"` (S19
    # dropped it): a debugger, help() or Sphinx shows the bound method as Flask's
    # ("Scaffold.before_request"), not as a closure inside registration_method.
    assert "Scaffold.before_request of" in repr(app.before_request)
    assert Blueprint.before_app_request.__qualname__ == "Blueprint.before_app_request"


def test_hook_decorators_have_their_own_docstrings() -> None:
    # scaffold.py registration_method: `method.__doc__ = doc` (S20 dropped it): help()
    # and the API docs say what each hook does (Blueprint's name the app's method).
    assert "before each request" in (Microframework.before_request.__doc__ or "")
    assert "app.before_request" in (Blueprint.before_app_request.__doc__ or "")


def test_a_static_folder_given_with_a_trailing_backslash_is_trimmed() -> None:
    # scaffold.py static_folder setter: `.rstrip(r"\/")` (S33: only "/"), as Flask's:
    # a Windows-style "static\\" names the folder, and the URL path is "/static".
    app = Microframework(__name__, static_folder="static\\")
    assert app.static_folder is not None
    assert app.static_folder.endswith("static")
    assert app.static_url_path == "/static"


def test_the_apps_cli_group_is_named_after_the_app() -> None:
    # scaffold.py cli: `AppGroup(self.name)` (S47: AppGroup()): as Flask's, the group's
    # usage line names the app (a blueprint's is named after it until registered).
    app = Microframework("shop")

    @app.cli.command("hello")
    def hello() -> None:
        click.echo("hi")

    result = app.test_cli_runner().invoke(args=["--help"])
    assert result.output.startswith("Usage: shop "), result.output
    assert Blueprint("admin", __name__).cli.name == "admin"


def test_the_websocket_decorator_returns_the_handler(app: Microframework) -> None:
    # scaffold.py websocket: the decorator's `return func` (S59: returned None), as
    # Quart's: the name stays bound to the handler, to stack decorators or call it.
    bp = Blueprint("bp", __name__)

    async def handler() -> None:
        pass

    assert app.websocket("/ws")(handler) is handler
    assert bp.websocket("/ws")(handler) is handler


async def test_the_endpoint_decorator_returns_the_view(app: Microframework) -> None:
    # scaffold.py endpoint: the decorator's `return func` (S63: returned None), as
    # Flask's: the module-level name stays the view, which still answers.
    app.add_url_rule("/", endpoint="index")

    async def index() -> str:
        return "hi"

    assert app.endpoint("index")(index) is index
    response = await app.test_client().get("/")
    assert await response.get_data(as_text=True) == "hi"


async def test_a_websocket_route_takes_its_endpoint_from_the_decorator(
    app: Microframework,
) -> None:
    # scaffold.py websocket: `options.pop("endpoint", None)` passed as the endpoint
    # (S60 passed None: a TypeError, "multiple values for 'endpoint'"), as Quart's.
    @app.websocket("/ws", endpoint="feed")
    async def ws() -> None:
        await websocket.accept()
        await websocket.send("hi")

    async with app.test_request_context("/"):
        assert url_for("feed") == "ws://localhost/ws"
    async with app.test_client().websocket("/ws") as ws_:
        assert await ws_.receive() == "hi"


def test_the_errorhandler_decorator_returns_the_handler(app: Microframework) -> None:
    # scaffold.py errorhandler: the decorator's `return func` (S67: returned None), as
    # Flask's: the handler stays callable, or registrable for another code.
    def handler(error: Exception) -> str:
        return "handled"

    assert app.errorhandler(404)(handler) is handler
    assert app.errorhandler(500)(handler) is handler


async def test_errorhandler_after_the_first_request_fails_at_the_call(
    app: Microframework,
) -> None:
    # scaffold.py errorhandler is a setup method (S68 unmarked it: only applying the
    # decorator failed, naming register_error_handler), as Flask's: the error names
    # the method the user called, and calling it is enough.
    await app.test_client().get("/")
    with pytest.raises(AssertionError, match="setup method 'errorhandler'"):
        app.errorhandler(404)


async def test_open_resource_reads_text_in_the_encoding_given(tmp_path: Path) -> None:
    # scaffold.py open_async: `encoding=None if "b" in mode else encoding` (S92 always
    # None: the locale's encoding), as Flask's open_resource(..., encoding=).
    (tmp_path / "latin.txt").write_bytes("café".encode("latin-1"))
    app = Microframework(__name__, root_path=str(tmp_path))
    async with await app.open_resource("latin.txt", "r", encoding="latin-1") as file:
        assert await file.read() == "café"


async def test_register_error_handler_after_the_first_request_is_an_error(
    app: Microframework,
) -> None:
    # scaffold.py register_error_handler is a setup method (S70 unmarked it: the
    # handler was recorded but never compiled, silently), as Flask's.
    await app.test_client().get("/")
    with pytest.raises(AssertionError, match="setup method 'register_error_handler'"):
        app.register_error_handler(404, lambda error: ("gone", 404))


def test_the_template_decorators_return_the_function(app: Microframework) -> None:
    # scaffold.py name_decorator: `return func` (S80: returned None), as Flask's: the
    # decorated name stays the function, callable from Python too.
    bp = Blueprint("bp", __name__)

    def shout(value: str) -> str:
        return value.upper()

    assert app.template_filter()(shout) is shout
    assert app.template_global("g")(shout) is shout
    assert bp.app_template_filter()(shout) is shout


async def test_receive_after_as_response_finds_the_body_taken(
    app: Microframework,
) -> None:
    # connections.py Mailbox.drain: `items, self._items = self._items, deque()` (C06
    # kept the items): the body as_response() returned is not given again by receive().
    @app.route("/")
    async def index() -> str:
        return "body"

    async with app.test_client().request("/") as connection:
        await connection.send_complete()
        response = await connection.as_response()
        assert await response.get_data() == b"body"
        assert await connection.receive() == b""


async def test_a_handler_stuck_in_its_cleanup_is_cancelled_before_the_block_ends(
    app: Microframework,
) -> None:
    # connections.py _stop: `task.cancel()` then `await wait_owned(task)` (C24 did not
    # wait): as documented, leaving waits disconnect_grace for the app, then cancels
    # it, and the block ends once the app has ended.
    cleaned_up: list[str] = []

    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.accept()
        try:
            await websocket.receive()
        finally:
            try:
                await asyncio.sleep(3600)  # a cleanup that hangs
            finally:
                cleaned_up.append("cancelled")

    async with app.test_client().websocket("/ws") as connection:
        connection.disconnect_grace = 0.01
    assert cleaned_up == ["cancelled"]


async def test_as_response_after_the_block_cancelled_the_app_says_why(
    app: Microframework,
) -> None:
    # connections.py _raise_app_error: `not task.cancelled() and ...` (C17 asked a
    # cancelled task for its exception: CancelledError, as if the test itself were
    # cancelled): the block ends mid-request, the view's cleanup outlasts the grace,
    # the client cancels the app; as_response() then says why there is no response.
    started = asyncio.Event()

    @app.post("/")
    async def index() -> str:
        started.set()
        try:
            await asyncio.Event().wait()
        finally:
            await asyncio.sleep(3600)  # a cleanup that hangs
        return "never"

    async with app.test_client().request("/", method="POST") as connection:
        connection.disconnect_grace = 0.01
        await connection.send(b"part")  # the body never completes
        await started.wait()
    with pytest.raises(RuntimeError, match="disconnected before the response started"):
        await connection.as_response()


async def test_an_app_listening_after_its_refusal_hears_a_1000(
    app: Microframework,
) -> None:
    # connections.py: the default disconnect `{"type": "websocket.disconnect", "code":
    # 1000}` (C71: 1005), what hypercorn's app hears once it refused the handshake.
    heard: list[Message] = []

    async def raw(scope: Scope, receive: Receive, send: Send) -> None:
        assert (await receive())["type"] == "websocket.connect"
        await send({"type": "websocket.close"})
        heard.append(await receive())

    app.asgi_app = raw  # type: ignore[method-assign]
    with pytest.raises(WebsocketResponseError):
        async with app.test_client().websocket("/"):
            pass
    assert heard == [{"type": "websocket.disconnect", "code": 1000}]


async def test_receive_after_disconnect_raises_while_the_app_still_runs(
    app: Microframework,
) -> None:
    # connections.py disconnect: `self._to_client.close()` (C45 left it open: receive()
    # waited for the app to end): as documented, receive() raises HTTPDisconnectError
    # after disconnect(), whatever the app is still doing.
    started, release = asyncio.Event(), asyncio.Event()

    @app.post("/")
    async def index() -> str:
        started.set()
        try:
            await asyncio.Event().wait()
        finally:
            await release.wait()  # a cleanup still running
        return "never"

    async with app.test_client().request("/", method="POST") as connection:
        connection.disconnect_grace = 60
        await connection.send(b"part")
        await started.wait()
        await connection.disconnect()
        try:
            async with asyncio.timeout(5):
                with pytest.raises(HTTPDisconnectError):
                    await connection.receive()
        finally:
            release.set()


async def test_a_failing_block_cancels_an_app_busy_after_its_response(
    app: Microframework,
) -> None:
    # connections.py _asgi_receive: `self._told_disconnect = self._disconnected` (C54:
    # True): the http.disconnect an app reads once its response is complete is not the
    # client's leaving, so a block that fails then cancels the app at once instead of
    # waiting disconnect_grace for it.
    busy, cancelled = asyncio.Event(), asyncio.Event()

    async def raw(scope: Scope, receive: Receive, send: Send) -> None:
        assert (await receive())["type"] == "http.request"
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"done"})
        assert (await receive())["type"] == "http.disconnect"
        busy.set()
        try:
            await asyncio.Event().wait()  # work after the response, deaf
        except asyncio.CancelledError:
            cancelled.set()
            raise

    app.asgi_app = raw  # type: ignore[method-assign]
    async with asyncio.timeout(10):
        with pytest.raises(ZeroDivisionError):
            async with app.test_client().request("/") as connection:
                connection.disconnect_grace = 60
                await connection.send_complete()
                assert await connection.receive() == b"done"
                await busy.wait()
                1 / 0  # noqa: B018
    assert cancelled.is_set()


async def test_receive_gives_the_end_of_the_body_before_the_app_has_returned(
    app: Microframework,
) -> None:
    # connections.py _asgi_send: the last body message closes the client's mailbox
    # (C66 did not: receive() waited for the app to return): b"" comes as soon as
    # the response is complete, while the app's teardown still runs.
    release = asyncio.Event()

    @app.route("/")
    async def index() -> str:
        return "done"

    @app.teardown_request
    async def slow(error: BaseException | None) -> None:
        await release.wait()

    async with app.test_client().request("/") as connection:
        await connection.send_complete()
        try:
            async with asyncio.timeout(5):
                assert await connection.receive() == b"done"
                assert await connection.receive() == b""
        finally:
            release.set()


async def test_a_refusal_body_without_more_body_ends_the_refusal(
    app: Microframework,
) -> None:
    # connections.py: `if not message.get("more_body", False)` ends the refusal (C108
    # defaulted to True): ASGI's more_body defaults to False, so one body message
    # without the key is the whole refusal.
    async def raw(scope: Scope, receive: Receive, send: Send) -> None:
        assert (await receive())["type"] == "websocket.connect"
        await send(
            {"type": "websocket.http.response.start", "status": 401, "headers": []}
        )
        await send({"type": "websocket.http.response.body", "body": b"log in"})

    app.asgi_app = raw  # type: ignore[method-assign]
    with pytest.raises(WebsocketResponseError) as info:
        async with app.test_client().websocket("/"):
            pass
    assert info.value.response.status_code == 401
    assert await info.value.response.get_data() == b"log in"


async def test_an_app_sending_after_both_sides_closed_fails_the_test(
    app: Microframework,
) -> None:
    # connections.py _asgi_send: `if self._client_closed and self._state != _CLOSED`
    # drops what an app sends to a peer that has gone (C103 dropped it after a
    # completed close too): once the app itself closed, a send is its protocol error.
    closed_by_test = asyncio.Event()

    async def raw(scope: Scope, receive: Receive, send: Send) -> None:
        assert (await receive())["type"] == "websocket.connect"
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.close", "code": 1000})
        await closed_by_test.wait()
        await send({"type": "websocket.send", "text": "too late"})

    app.asgi_app = raw  # type: ignore[method-assign]
    with pytest.raises(RuntimeError, match="'websocket.send' while the websocket"):
        async with app.test_client().websocket("/") as connection:
            with pytest.raises(WebsocketDisconnect):
                await connection.receive()
            await connection.close()
            closed_by_test.set()


async def test_entering_raises_a_refusal_while_the_app_still_runs(
    app: Microframework,
) -> None:
    # connections.py _refused: `self._to_client.close()` (C116 dropped it: entering
    # heard of the refusal only once the app returned): an app that refuses and then
    # hangs is cancelled after disconnect_grace, and entering raises the refusal.
    async def raw(scope: Scope, receive: Receive, send: Send) -> None:
        assert (await receive())["type"] == "websocket.connect"
        await send({"type": "websocket.close"})
        await asyncio.Event().wait()  # deaf after its refusal

    app.asgi_app = raw  # type: ignore[method-assign]
    connection = app.test_client().websocket("/")
    connection.disconnect_grace = 0.01
    async with asyncio.timeout(5):
        with pytest.raises(WebsocketResponseError) as info:
            async with connection:
                pass
    assert info.value.response.status_code == 403
