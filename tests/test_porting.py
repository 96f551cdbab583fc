"""Code written for Quart and Flask, run unchanged (#9): werkzeug responses, iterables,
datastructures, nested subdomains, the test client's context, cookies and pushes."""

from __future__ import annotations

import asyncio
import io
import pickle
import subprocess
import sys
import types
from collections.abc import AsyncIterator
from collections.abc import Iterator
from typing import Any

import pytest
import werkzeug.datastructures
from werkzeug.datastructures import Headers
from werkzeug.exceptions import HTTPException
from werkzeug.utils import redirect as werkzeug_redirect
from werkzeug.wrappers import Response as WerkzeugResponse

from microframework import abort
from microframework import Blueprint
from microframework import g
from microframework import make_response
from microframework import Microframework
from microframework import Request
from microframework import request
from microframework import Response
from microframework import session
from microframework import url_for
from microframework import websocket
from microframework.exceptions import ClientDisconnected
from microframework.exceptions import WebsocketDisconnect
from microframework.globals import _cv_app
from microframework.sessions import SecureCookieSession
from microframework.sessions import SecureCookieSessionInterface
from microframework.testing import LifespanError
from microframework.testing import MicroframeworkClient
from microframework.testing import WebsocketResponseError

# -- werkzeug responses from ported Flask code ---------------------------------------


@pytest.fixture
def app() -> Microframework:
    app = Microframework(__name__)
    app.testing = True
    app.secret_key = "porting"
    return app


async def test_a_werkzeug_response_goes_out_as_ours_would(app: Microframework) -> None:
    @app.get("/")
    def index() -> Any:
        return WerkzeugResponse("made by werkzeug", 201, {"X-From": "werkzeug"})

    response = await app.test_client().get("/")

    assert response.status_code == 201
    assert response.headers["X-From"] == "werkzeug"
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert response.headers["Content-Length"] == "16"
    assert await response.get_data() == b"made by werkzeug"


async def test_werkzeug_redirect_and_a_tuple_around_a_werkzeug_response(
    app: Microframework,
) -> None:
    @app.get("/old")
    async def old() -> Any:
        return werkzeug_redirect("/new")

    @app.get("/tuple")
    async def in_a_tuple() -> Any:
        return WerkzeugResponse(["a", "b"]), 202, {"X-Extra": "1"}

    client = app.test_client()
    moved = await client.get("/old")
    tupled = await client.get("/tuple")

    assert moved.status_code == 302
    assert moved.headers["Location"] == "/new"
    assert tupled.status_code == 202
    assert tupled.headers["X-Extra"] == "1"
    assert await tupled.get_data() == b"ab"


async def test_a_streamed_werkzeug_response_is_streamed(app: Microframework) -> None:
    def chunks() -> Iterator[bytes]:
        yield b"one "
        yield b"two"

    @app.get("/")
    async def index() -> Any:
        return WerkzeugResponse(chunks(), mimetype="text/csv")

    response = await app.test_client().get("/")

    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert "Content-Length" not in response.headers
    assert await response.get_data() == b"one two"


async def test_error_handlers_and_aborts_may_give_werkzeug_responses(
    app: Microframework,
) -> None:
    @app.errorhandler(404)
    def not_found(error: Exception) -> Any:
        return WerkzeugResponse("no such page", 404)

    @app.get("/teapot")
    async def teapot() -> Any:
        abort(WerkzeugResponse("short and stout", 418))

    @app.get("/raised")
    async def raised() -> Any:
        raise HTTPException(response=WerkzeugResponse("from the exception", 409))

    client = app.test_client()
    missing = await client.get("/missing")
    pot = await client.get("/teapot")
    conflict = await client.get("/raised")

    assert (missing.status_code, await missing.get_data()) == (404, b"no such page")
    assert (pot.status_code, await pot.get_data()) == (418, b"short and stout")
    assert (conflict.status_code, await conflict.get_data()) == (
        409,
        b"from the exception",
    )


async def test_make_response_takes_werkzeug_responses_and_generators(
    app: Microframework,
) -> None:
    def words() -> Iterator[str]:
        yield "sync "
        yield "generator"

    async with app.test_request_context("/"):
        converted = await make_response(WerkzeugResponse("w", 203))
        generated = await make_response(words())
        iterated = await make_response(iter([b"it", b"er"]), 206)

    assert (converted.status_code, await converted.get_data()) == (203, b"w")
    assert await generated.get_data() == b"sync generator"
    assert (iterated.status_code, await iterated.get_data()) == (206, b"iter")


def test_datastructures_re_exports_werkzeugs_classes() -> None:
    from microframework import datastructures

    werkzeugs = vars(werkzeug.datastructures)
    for name in datastructures.__all__:
        if name != "FileStorage":
            assert getattr(datastructures, name) is werkzeugs[name]
    # Its save() may also be awaited (see test_an_upload_saves_with_or_without_await).
    assert issubclass(datastructures.FileStorage, werkzeug.datastructures.FileStorage)


# -- nested blueprints with subdomains -----------------------------------------------


@pytest.mark.parametrize(
    ("parent_sub", "child_sub", "host"),
    [("parent", "api", "api.parent"), ("api", None, "api"), (None, "c", "c")],
)
async def test_nested_subdomains_route_and_build_as_in_flask(
    parent_sub: str | None, child_sub: str | None, host: str
) -> None:
    app = Microframework(__name__, subdomain_matching=True)
    app.config["SERVER_NAME"] = "example.test"
    parent = Blueprint("parent", __name__)
    child = Blueprint("child", __name__, subdomain=child_sub)

    @child.route("/")
    async def index() -> str:
        return url_for("parent.child.index", _external=True)

    parent.register_blueprint(child)
    app.register_blueprint(parent, subdomain=parent_sub)
    client = app.test_client()

    found = await client.get("/", subdomain=host)
    elsewhere = await client.get("/", subdomain="other")

    assert found.status_code == 200
    assert await found.get_data() == f"http://{host}.example.test/".encode()
    assert elsewhere.status_code == 404
    async with app.app_context():
        assert url_for("parent.child.index") == f"http://{host}.example.test/"


# -- the test client ---------------------------------------------------------------


async def test_async_with_client_keeps_the_last_requests_context(
    app: Microframework,
) -> None:
    @app.get("/<name>")
    async def hello(name: str) -> str:
        g.name = name
        session["seen"] = name
        return "hi"

    async with app.test_client() as client:
        await client.get("/first?x=1")
        assert request.path == "/first"
        assert request.args["x"] == "1"
        assert g.name == "first"
        assert session["seen"] == "first"
        await client.get("/second")
        assert request.path == "/second"
        assert g.name == "second"
    assert _cv_app.get(None) is None


async def test_async_with_client_keeps_nothing_of_requests_from_other_tasks(
    app: Microframework,
) -> None:
    # A common way to test concurrency: requests from tasks the test starts. Their
    # contexts are not kept (a task's context copy is gone with it), nor do they pop
    # the test's own: that raised "created in a different Context".
    @app.get("/<name>")
    async def hello(name: str) -> str:
        g.name = name
        return name

    async with app.test_client() as client:
        await client.get("/first")
        await asyncio.create_task(client.get("/task"))
        responses = await asyncio.gather(client.get("/a"), client.get("/b"))
        assert [await r.get_data(as_text=True) for r in responses] == ["a", "b"]
        assert (request.path, g.name) == ("/first", "first")
        await client.get("/second")
        assert (request.path, g.name) == ("/second", "second")
    assert _cv_app.get(None) is None


@pytest.fixture
async def logged_in(app: Microframework) -> AsyncIterator[MicroframeworkClient]:
    @app.get("/<name>")
    async def page(name: str) -> str:
        g.name = name
        return name

    async with app.test_client() as client:
        await client.get("/login")
        yield client


async def test_a_fixtures_async_with_client_keeps_the_tests_own_request(
    logged_in: MicroframeworkClient,
) -> None:
    # pytest-asyncio runs the test in a copy of the fixture's contextvars context:
    # the test's request is kept there (it was taken for a task's, and kept nothing).
    await logged_in.get("/page")
    assert (request.path, g.name) == ("/page", "page")
    await logged_in.get("/other")
    assert (request.path, g.name) == ("/other", "other")


@pytest.mark.parametrize("inner", ["app_context", "test_request_context"])
async def test_a_request_inside_a_context_pushed_in_the_block_keeps_nothing(
    app: Microframework, inner: str
) -> None:
    # Kept on top of the test's own context, leaving that raised "popped a context
    # that is not the active one" (Flask and Quart: fine). An outer context (a
    # fixture's app context) is no obstacle: the first test above.
    @app.get("/<name>")
    async def page(name: str) -> str:
        return name

    async with app.app_context():
        async with app.test_client() as client:
            await client.get("/first")
            assert request.path == "/first"
            context = (
                app.app_context() if inner == "app_context"
                else app.test_request_context("/inner")
            )  # fmt: skip
            async with context:
                assert (await client.get("/second")).status_code == 200
            assert request.path == "/first"
            await client.get("/third")
            assert request.path == "/third"


def _kept_path() -> str | None:
    try:
        return str(request.path)
    except RuntimeError:
        return None


async def test_nested_blocks_of_two_clients_keep_the_inner_clients_request(
    app: Microframework,
) -> None:
    # As Flask: the inner block's request is kept on top of the outer one's. An
    # outer client's request over the inner one's is not kept (it would be left
    # behind when the inner block ends), nor is anything left after both.
    @app.get("/<name>")
    async def page(name: str) -> str:
        return name

    c1, c2 = app.test_client(), app.test_client()
    async with c1:
        async with c2:
            await c1.get("/one")
            await c2.get("/two")
            assert _kept_path() == "/two"
            await c1.get("/again")
            assert _kept_path() == "/two"
        assert _kept_path() == "/one"
    assert _kept_path() is None


async def test_a_clients_block_inside_its_own_is_refused(app: Microframework) -> None:
    # As Flask and Quart ("Cannot nest client invocations"): leaving the inner block
    # silently stopped keeping contexts for the outer one.
    @app.get("/<name>")
    async def page(name: str) -> str:
        return name

    client = app.test_client()
    async with client:
        with pytest.raises(RuntimeError, match="Cannot nest client invocations"):
            async with client:
                pass
        await client.get("/still")
        assert _kept_path() == "/still"


async def test_without_async_with_no_context_is_kept(app: Microframework) -> None:
    @app.get("/")
    async def index() -> str:
        return "hi"

    await app.test_client().get("/")

    assert _cv_app.get(None) is None


@pytest.mark.parametrize("form", ["flask", "quart", "quart-keyword"])
async def test_set_and_delete_cookie_take_flask_and_quart_forms(
    app: Microframework, form: str
) -> None:
    @app.get("/")
    async def index() -> str:
        return request.cookies.get("flavour", "<none>")

    client = app.test_client()
    if form == "flask":
        client.set_cookie("flavour", "oat", domain="localhost")
    elif form == "quart":
        client.set_cookie("localhost", "flavour", "oat")
    else:
        client.set_cookie("flavour", "oat", server_name="localhost")
    assert await (await client.get("/")).get_data() == b"oat"

    if form == "flask":
        client.delete_cookie("flavour", domain="localhost")
    else:
        client.delete_cookie("localhost", "flavour")
    assert await (await client.get("/")).get_data() == b"<none>"


async def test_server_push_uses_the_asgi_extension_over_http2(
    app: Microframework,
) -> None:
    @app.get("/")
    async def index() -> str:
        await request.send_push_promise("/static/site.css")
        return "page"

    client = app.test_client()
    await client.get("/", headers={"Accept": "text/css"})
    assert client.push_promises == []  # HTTP/1.1 offers no push: a no-op

    response = await client.get(
        "/", http_version="2", headers={"Accept": "text/css", "Cookie": "a=b"}
    )

    assert await response.get_data() == b"page"
    [(path, headers)] = client.push_promises
    assert path == "/static/site.css"
    assert headers["Accept"] == "text/css"
    assert "Cookie" not in headers


# -- names and behaviours found by running Quart's own test files --------------------


def test_helpers_holds_the_names_quart_and_flask_keep_there() -> None:
    import microframework
    import microframework.helpers

    names = (
        "flash get_flashed_messages get_template_attribute make_push_promise"
        " make_response send_file send_from_directory stream_with_context url_for"
        " abort redirect"
    )
    for name in names.split():
        assert getattr(microframework.helpers, name) is getattr(microframework, name)
    assert microframework.helpers.safe_join("/srv", "a/../../etc") is None
    assert microframework.signals_available is True


async def test_utils_run_sync_runs_in_a_thread_with_the_context(
    app: Microframework,
) -> None:
    # Quart's sync-code guide: ``from quart.utils import run_sync``.
    import threading

    from microframework.utils import run_sync

    def blocking() -> tuple[str, bool]:
        return request.path, threading.current_thread() is threading.main_thread()

    @app.get("/sync")
    async def view() -> str:
        path, on_main = await run_sync(blocking)()
        return f"{path} {on_main}"

    assert await (await app.test_client().get("/sync")).get_data() == b"/sync False"


async def test_make_push_promise_pushes_over_http2(app: Microframework) -> None:
    from microframework import make_push_promise

    @app.get("/")
    async def index() -> str:
        await make_push_promise("/static/site.css")
        return "page"

    client = app.test_client()
    await client.get("/")  # HTTP/1.1 offers no push: a no-op
    assert client.push_promises == []
    await client.get("/", http_version="2")
    assert [path for path, _ in client.push_promises] == ["/static/site.css"]


@pytest.mark.parametrize("style", ["flask", "quart"])
async def test_an_upload_saves_with_or_without_await(
    app: Microframework, style: str, tmp_path: Any
) -> None:
    @app.post("/")
    async def upload() -> str:
        storage = (await request.files)["upload"]
        saved = storage.save(tmp_path / "saved.txt")  # Flask's way: written already
        if style == "quart":
            await saved  # Quart's way: awaited
        return "ok"

    files = {"upload": (io.BytesIO(b"file body"), "notes.txt")}
    response = await app.test_client().post("/", files=files)

    assert response.status_code == 200
    assert (tmp_path / "saved.txt").read_bytes() == b"file body"


async def test_a_file_storage_loads_from_a_path_for_a_test_upload(
    app: Microframework, tmp_path: Any
) -> None:
    # Quart's FileStorage.load: how its users build an upload for the test client.
    from microframework.datastructures import FileStorage

    (tmp_path / "report.csv").write_bytes(b"a,b\n" * 5000)
    storage = FileStorage()
    await storage.load(tmp_path / "report.csv", buffer_size=1024)

    @app.post("/")
    async def upload() -> str:
        file = (await request.files)["f"]
        return f"{file.filename} {len(file.read())}"

    response = await app.test_client().post("/", files={"f": storage})
    assert await response.get_data(as_text=True) == "report.csv 20000"


async def test_quarts_websocket_disconnect_error_when_the_app_closes(
    app: Microframework,
) -> None:
    from microframework.testing.connections import WebsocketDisconnectError

    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.accept()
        await websocket.close(4001, "bye")

    async with app.test_client().websocket("/ws") as socket:
        with pytest.raises(WebsocketDisconnectError) as info:
            await socket.receive()
    assert info.value.args[0] == 4001  # Quart's carries the code first


def test_flasks_environment_flag_helpers(monkeypatch: pytest.MonkeyPatch) -> None:
    from microframework.helpers import get_debug_flag
    from microframework.helpers import get_load_dotenv

    monkeypatch.setenv("MICROFRAMEWORK_DEBUG", "1")
    assert get_debug_flag()
    monkeypatch.setenv("MICROFRAMEWORK_DEBUG", "false")
    assert not get_debug_flag()
    monkeypatch.delenv("MICROFRAMEWORK_SKIP_DOTENV", raising=False)
    assert get_load_dotenv() and not get_load_dotenv(False)
    monkeypatch.setenv("MICROFRAMEWORK_SKIP_DOTENV", "1")
    assert not get_load_dotenv()
    monkeypatch.setenv(
        "MICROFRAMEWORK_SKIP_DOTENV", "no"
    )  # Flask: "no" means don't skip
    assert get_load_dotenv(False)


@pytest.mark.parametrize("waiting_in", ["receive", "wait_for", "elsewhere"])
async def test_quarts_cancelled_error_cleanup_runs_when_the_client_leaves(
    app: Microframework, waiting_in: str
) -> None:
    # Quart's websocket guide, "Detecting disconnection": cleanup in
    # ``except asyncio.CancelledError:``, wherever the handler was waiting.
    caught: list[BaseException] = []
    ended = asyncio.Event()

    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.accept()
        try:
            while True:
                if waiting_in == "receive":
                    await websocket.receive()
                elif waiting_in == "wait_for":
                    await asyncio.wait_for(websocket.receive(), 5)
                else:
                    await asyncio.Event().wait()
        except asyncio.CancelledError as error:
            caught.append(error)
            raise
        finally:
            ended.set()

    async with asyncio.timeout(5):
        async with app.test_client().websocket("/ws") as client:
            await client.close(4000, "bye")
        await ended.wait()
    [error] = caught
    if waiting_in != "elsewhere":  # in receive(): the close code comes with it
        assert isinstance(error, WebsocketDisconnect) and error.code == 4000


async def test_quarts_cancelled_error_cleanup_runs_when_an_upload_is_abandoned(
    app: Microframework,
) -> None:
    # Quart's disconnections guide: "the same applies for ... streaming the request".
    caught: list[BaseException] = []
    reading = asyncio.Event()

    @app.post("/upload")
    async def upload() -> str:
        try:
            async for _chunk in request.body:
                reading.set()
        except asyncio.CancelledError as error:
            caught.append(error)
            raise
        return "complete"

    async with asyncio.timeout(5):
        async with app.test_client().request("/upload", method="POST") as connection:
            await connection.send(b"part")
            await reading.wait()
            await connection.disconnect()
    assert [type(error) for error in caught] == [ClientDisconnected]


async def test_except_exception_does_not_swallow_a_disconnect(
    app: Microframework,
) -> None:
    # As in Quart, where it is the handler's cancellation: not an Exception.
    outcomes: list[str] = []

    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.accept()
        try:
            await websocket.receive()
        except Exception:
            outcomes.append("swallowed")
        except WebsocketDisconnect:
            outcomes.append("disconnect")
            raise

    async with app.test_client().websocket("/ws"):
        pass
    assert outcomes == ["disconnect"]


# -- sessions on websockets ----------------------------------------------------------


class _StoreInterface(SecureCookieSessionInterface):
    """A server-side store: the cookie carries only an id; the data stays here."""

    opens_without_waiting = False

    def __init__(self) -> None:
        self.store: dict[str, dict[str, Any]] = {}

    async def open_session(self, app: Any, request: Any) -> Any:
        sid = request.cookies.get("sid", "new")
        return SecureCookieSession(self.store.get(sid, {}))

    async def save_session(self, app: Any, session: Any, response: Any) -> None:
        self.store["new"] = dict(session)
        if response is not None:
            response.set_cookie("sid", "new")


async def test_a_websocket_handlers_session_reaches_a_server_side_store(
    app: Microframework,
) -> None:
    interface = app.session_interface = _StoreInterface()

    @app.websocket("/ws")
    async def chat() -> None:
        session["nickname"] = await websocket.receive()
        await websocket.send("noted")

    async with app.test_client().websocket("/ws") as ws:
        await ws.send("ada")
        assert await ws.receive() == "noted"

    assert interface.store["new"] == {"nickname": "ada"}


async def test_a_websocket_rejection_carries_the_session_cookie(
    app: Microframework,
) -> None:
    @app.websocket("/ws")
    async def refuse() -> Any:
        session["refused"] = True
        return "go away", 403

    with pytest.raises(WebsocketResponseError) as raised:
        async with app.test_client().websocket("/ws"):
            pass

    assert raised.value.response.status_code == 403
    assert "session=" in raised.value.response.headers["Set-Cookie"]


async def test_a_cookie_session_changed_after_accept_does_not_fail_the_connection(
    app: Microframework, caplog: pytest.LogCaptureFixture
) -> None:
    @app.websocket("/ws")
    async def chat() -> None:
        await websocket.accept()
        session["late"] = True
        await websocket.send("still fine")

    async with app.test_client().websocket("/ws") as ws:
        assert await ws.receive() == "still fine"

    assert "cannot be set" in caplog.text


# -- found by running Quart extensions and their own test suites (session 14) ----------


async def test_make_default_options_response_is_awaited_as_in_quart(
    app: Microframework,
) -> None:
    # quart-cors answers a preflight with `await current_app.make_default_options_response()`.
    @app.route("/r", methods=["GET", "POST"])
    async def r() -> str:
        return "r"

    @app.before_request
    async def preflight() -> Any:
        if request.method == "OPTIONS":
            response = await app.make_default_options_response()
            response.headers["X-Preflight"] = "yes"
            return response
        return None

    response = await app.test_client().options("/r")
    assert response.headers["X-Preflight"] == "yes"
    assert set(response.allow) == {"GET", "HEAD", "OPTIONS", "POST"}


async def test_an_overridden_default_options_response_may_wait() -> None:
    class App(Microframework):
        async def make_default_options_response(self) -> Any:
            await asyncio.sleep(0)  # suspends: stepped and guarded as a view is
            response = await super().make_default_options_response()
            response.headers["X-Waited"] = "yes"
            return response

    app = App(__name__)

    @app.get("/r")
    async def r() -> str:
        return "r"

    response = await app.test_client().options("/r")
    assert response.status_code == 200
    assert response.headers["X-Waited"] == "yes"
    assert set(response.allow) == {"GET", "HEAD", "OPTIONS"}


def test_the_test_classes_are_quarts_defaults_and_stay_out_of_the_import() -> None:
    # quart-schema builds its client with new_class(..., (Mixin, app.test_client_class)).
    from microframework.testing import MicroframeworkClient
    from microframework.testing import TestApp
    from microframework.testing.cli import MicroframeworkCliRunner

    assert Microframework.test_client_class is MicroframeworkClient
    assert Microframework.test_app_class is TestApp
    assert Microframework.test_cli_runner_class is MicroframeworkCliRunner
    code = (
        "import sys, microframework; app = microframework.Microframework('x');"
        " print('microframework.testing' in sys.modules, 'click' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert out.stdout.split() == ["False", "False"]


async def test_a_client_class_derived_from_the_default_serves(
    app: Microframework,
) -> None:
    class Mixin:
        async def hello(self) -> Any:
            return await self.get("/")  # type: ignore[attr-defined]

    app.test_client_class = types.new_class(
        "TestClient", (Mixin, app.test_client_class)
    )

    @app.get("/")
    async def index() -> str:
        return "hi"

    client: Any = app.test_client()
    assert isinstance(client, Mixin)
    assert await (await client.hello()).get_data() == b"hi"
    assert Microframework.test_client_class is not app.test_client_class


def test_quarts_typing_names_exist_and_build_runtime_types() -> None:
    # quart-cors builds Callable[P, ResponseReturnValue] at import time; a string alias
    # failed with "Forward reference must be an expression".
    import typing

    from microframework import typing as mf_typing

    P = typing.ParamSpec("P")
    typing.Callable[P, mf_typing.ResponseReturnValue]
    typing.Optional[mf_typing.ResponseValue]  # noqa: UP045 # the runtime form is the point
    for name in (
        "AfterServingCallable",
        "AfterWebsocketCallable",
        "AppOrBlueprintKey",
        "BeforeServingCallable",
        "BeforeWebsocketCallable",
        "FilePath",
        "HeaderName",
        "ResponseTypes",
        "TemplateFilterCallable",
        "TemplateGlobalCallable",
        "TemplateTestCallable",
        "TestAppProtocol",
        "TestClientProtocol",
        "TestHTTPConnectionProtocol",
        "TestWebsocketConnectionProtocol",
        "WebsocketCallable",
        "WhileServingCallable",
    ):
        assert hasattr(mf_typing, name), name


async def test_shutdown_event_is_set_when_shutdown_begins(app: Microframework) -> None:
    # quart-tasks' scheduler loops `while not app.shutdown_event.is_set()`.
    ticks: list[bool] = []
    tasks: list[asyncio.Task[Any]] = []

    async def scheduler() -> None:
        while not app.shutdown_event.is_set():
            ticks.append(True)
            await asyncio.wait(
                [asyncio.ensure_future(app.shutdown_event.wait())], timeout=3600
            )

    @app.before_serving
    async def start() -> None:
        tasks.append(app.add_background_task(scheduler))

    assert not app.shutdown_event.is_set()
    async with asyncio.timeout(10):
        async with app.test_app():
            assert not app.shutdown_event.is_set()
    assert app.shutdown_event.is_set() and ticks == [True]
    # Set before shutdown waits for the tasks: the loop ended instead of being cancelled.
    assert tasks[0].done() and not tasks[0].cancelled()
    assert app.background_tasks == set()
    async with asyncio.timeout(10), app.test_app():
        assert not app.shutdown_event.is_set()  # a new serving period, a new event


async def test_shutdown_event_is_set_as_the_drain_starts(app: Microframework) -> None:
    # At the server's signal, not once the connections are gone: a stream watching it
    # was cut at the grace period's end instead of ending (lifespan2 6).
    async with asyncio.timeout(10), app.test_app():
        app.drain.start(app.config["SHUTDOWN_GRACE_PERIOD"])  # as SIGTERM does
        assert app.shutdown_event.is_set()

    @app.before_serving
    async def own_event() -> None:  # replaced by the app: that one (review15 5)
        app.shutdown_event = asyncio.Event()

    async with asyncio.timeout(10), app.test_app():
        app.drain.start(app.config["SHUTDOWN_GRACE_PERIOD"])
        assert app.shutdown_event.is_set()


def test_wrappers_export_what_quarts_do() -> None:
    # quart-session and quart-enciphers import these at import time.
    from microframework import wrappers
    from microframework.wrappers import response

    for name in ("BaseRequestWebsocket", "Body", "Request", "Response", "Websocket"):
        assert name in wrappers.__all__ and hasattr(wrappers, name)
    for name in ("DataBody", "FileBody", "IOBody", "IterableBody", "ResponseBody"):
        assert isinstance(getattr(response, name), type)


async def test_flasks_path_less_test_calls_mean_the_root(app: Microframework) -> None:
    # Flask's docs: `with app.test_request_context():` and `client.get()`.
    app.add_url_rule("/", "index", lambda: "index")
    async with app.test_request_context():
        assert (request.path, request.endpoint) == ("/", "index")
    client = app.test_client()
    for call in (client.get, client.post, client.head, client.open):
        assert (await call()).status_code in (200, 405)
    assert await (await client.get()).get_data() == b"index"


async def test_quarts_testing_names_exist(app: Microframework) -> None:
    # A renamed Quart test module that imports no_op_push lost every test it held.
    from microframework import testing

    for name in ("no_op_push", "sentinel", "make_test_scope"):
        assert name in testing.__all__ and hasattr(testing, name)
    assert await testing.no_op_push("/style.css", Headers()) is None
    async with app.test_request_context("/", send_push_promise=testing.no_op_push):
        pass


def test_quarts_routing_and_cli_runner_names_exist_under_the_documented_rename() -> (
    None
):
    # Public apps subclass QuartRule for url_rule_class.
    from pathlib import Path

    from microframework import routing
    from microframework.testing import MicroframeworkCliRunner

    assert routing.MicroframeworkRule is routing.Rule
    assert routing.MicroframeworkMap is routing.Map
    porting = (Path(__file__).parents[1] / "docs" / "porting.md").read_text()
    for quart, ours in [
        ("QuartRule", "MicroframeworkRule"),
        ("QuartMap", "MicroframeworkMap"),
        ("QuartCliRunner", MicroframeworkCliRunner.__name__),
    ]:
        assert any(quart in line and ours in line for line in porting.splitlines())


def test_the_package_does_not_call_itself_a_wsgi_application() -> None:
    import tomllib
    from pathlib import Path

    pyproject = (Path(__file__).parents[1] / "pyproject.toml").read_text()
    classifiers = tomllib.loads(pyproject)["project"]["classifiers"]
    assert not [c for c in classifiers if "WSGI" in c]


async def test_request_header_names_read_as_flask_and_quart_give_them(
    app: Microframework,
) -> None:
    @app.get("/")
    async def index() -> Any:
        return {"names": [name for name, _ in request.headers]}

    response = await app.test_client().get("/", headers={"x-api-key": "k"})
    names = (await response.get_json())["names"]
    assert "X-Api-Key" in names and "Host" in names
    assert all(name == name.title() for name in names)


async def test_the_client_sends_a_header_beyond_latin1_as_utf8(
    app: Microframework,
) -> None:
    @app.get("/")
    async def index() -> Any:
        return {"value": request.headers["X-Token"]}

    client = app.test_client()
    latin = await client.get("/", headers={"X-Token": "é"})
    assert (await latin.get_json())["value"] == "é"  # latin-1 round-trips
    beyond = await client.get("/", headers={"X-Token": "Ā"})  # was UnicodeEncodeError
    assert (await beyond.get_json())["value"] == "Ā".encode().decode("latin-1")


async def test_set_and_delete_cookie_take_key_and_value_by_name(
    app: Microframework,
) -> None:
    @app.get("/")
    async def index() -> Any:
        return dict(request.cookies)

    client = app.test_client()
    client.set_cookie(key="a", value="1")  # Flask's names
    client.set_cookie(server_name="localhost", key="b", value="2")  # Quart's
    assert await (await client.get("/")).get_json() == {"a": "1", "b": "2"}
    client.delete_cookie(key="a")
    client.delete_cookie(server_name="localhost", key="b")
    assert await (await client.get("/")).get_json() == {}


async def test_a_handler_that_waits_for_the_test_before_accepting_is_entered(
    app: Microframework,
) -> None:
    # Quart's broadcast pattern: the handler waits on its queue and accepts on its
    # first send, which a later request triggers. Entering used to wait for the
    # accept for ever; Quart's test connection never waits.
    feed: asyncio.Queue[str] = asyncio.Queue()

    @app.websocket("/feed")
    async def listen() -> None:
        while True:
            await websocket.send(await feed.get())

    @app.post("/say")
    async def say() -> str:
        feed.put_nowait((await request.get_json())["text"])
        return ""

    client = app.test_client()
    async with asyncio.timeout(5), client.websocket("/feed") as ws:
        assert not ws.accepted
        await client.post("/say", json={"text": "hi"})
        assert await ws.receive() == "hi"
        assert ws.accepted


@pytest.mark.parametrize("where", ["receive", "send", "end of block"])
async def test_a_late_refusal_raises_where_the_test_next_talks_to_the_app(
    app: Microframework, where: str
) -> None:
    # As in Quart: a refusal that comes after entering surfaces from receive() or
    # send(), or at the end of the block if the test never talked to the app again.
    gate, refused = asyncio.Event(), asyncio.Event()

    @app.websocket("/ws")
    async def guarded() -> Any:
        await gate.wait()
        return "not now", 409

    @app.after_websocket
    async def noted(response: Any) -> Any:
        refused.set()
        return response

    with pytest.raises(WebsocketResponseError) as raised:
        async with asyncio.timeout(5), app.test_client().websocket("/ws") as ws:
            gate.set()
            await refused.wait()
            if where == "receive":
                await ws.receive()
            elif where == "send":
                await ws.send("hello")
    assert raised.value.response.status_code == 409
    assert await raised.value.response.get_data() == b"not now"


async def test_a_message_sent_before_the_app_accepts_reaches_it(
    app: Microframework,
) -> None:
    gate: asyncio.Event = asyncio.Event()

    @app.websocket("/ws")
    async def late() -> None:
        await gate.wait()
        await websocket.send(f"got {await websocket.receive()}")

    async with asyncio.timeout(5), app.test_client().websocket("/ws") as ws:
        await ws.send("early")
        gate.set()
        assert await ws.receive() == "got early"


def test_a_mark_on_send_static_file_is_seen_on_the_static_view(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # quart-schema hides the static route with hide(app.send_static_file.__func__):
    # in Quart the view *is* that method, so the mark is on view_functions["static"].
    app = Microframework(__name__, static_folder="static")
    monkeypatch.setattr(
        Microframework.send_static_file, "_quart_schema_hidden", True, raising=False
    )
    view = app.view_functions["static"]
    assert view._quart_schema_hidden is True  # type: ignore[attr-defined]
    assert view.__name__ == "send_static_file"


def test_the_static_view_copies_and_a_deepcopy_of_the_app_fails_as_flasks() -> None:
    # The static view's __getattr__ read its own unset slot while copy built it:
    # copy.deepcopy(app) was a RecursionError; Flask's and Quart's give TypeError.
    import copy

    app = Microframework(__name__, static_folder="static")
    view = app.view_functions["static"]
    assert copy.copy(view).__name__ == "send_static_file"
    with pytest.raises(TypeError):
        copy.deepcopy(app)


async def test_an_extension_overriding_make_request_shapes_every_request(
    app: Microframework,
) -> None:
    # quart-schema's TestClientMixin turns models into dicts in _make_request, the
    # hook Quart's client sends every request through.
    from microframework.testing import MicroframeworkClient

    class Model:
        def __init__(self, name: str) -> None:
            self.name = name

    class ModelClient(MicroframeworkClient):
        async def _make_request(self, path: str, method: str, *args: Any) -> Any:
            args = tuple({"name": a.name} if isinstance(a, Model) else a for a in args)
            return await super()._make_request(path, method, *args)

    app.test_client_class = ModelClient

    @app.post("/echo")
    async def echo() -> Any:
        return await request.get_json()

    @app.post("/moved")
    async def moved() -> Any:
        return "", 307, {"Location": "/echo"}

    client = app.test_client()
    response = await client.post("/echo", json=Model("ada"))
    assert await response.get_json() == {"name": "ada"}
    followed = await client.post("/moved", json=Model("bo"), follow_redirects=True)
    assert await followed.get_json() == {"name": "bo"}
    with pytest.raises(TypeError, match="unexpected keyword"):
        await client.get("/echo", jsn={})  # type: ignore[call-arg]


async def test_every_redirect_hop_goes_through_make_request(
    app: Microframework,
) -> None:
    # Quart's client sends each hop of a followed redirect through _make_request, so
    # an override that signs or shapes requests sees them all, and one that answers
    # a request itself (a canned redirect) is followed too.
    from microframework.testing import MicroframeworkClient

    seen: list[tuple[str, str]] = []

    class RecordingClient(MicroframeworkClient):
        async def _make_request(self, path: str, method: str, *args: Any) -> Any:
            seen.append((method, path))
            if path == "/canned":
                return app.response_class("", 302, {"Location": "/a"})
            return await super()._make_request(path, method, *args)

    app.test_client_class = RecordingClient

    @app.post("/a")
    async def a() -> Any:
        return "", 307, {"Location": "/b"}

    @app.route("/b", methods=["POST", "GET"])
    async def b() -> Any:
        return f"{request.method} {(await request.get_data()).decode()}"

    @app.get("/a")
    async def a_get() -> Any:
        return "", 303, {"Location": "/b?x=1"}

    client = app.test_client()
    response = await client.post("/a", data="body", follow_redirects=True)
    assert await response.get_data(as_text=True) == "POST body"
    assert seen == [("POST", "/a"), ("POST", "/b")]
    seen.clear()
    response = await client.post("/canned", follow_redirects=True)
    assert await response.get_data(as_text=True) == "GET "
    assert seen == [("POST", "/canned"), ("GET", "/a"), ("GET", "/b")]


@pytest.mark.parametrize("where", ["view", "after_request", "header"])
async def test_handle_exception_overridden_with_flasks_signature_is_called(
    where: str,
) -> None:
    # Flask documents handle_exception(self, e), Quart calls handle_exception(error);
    # the pipeline called it with (error, ctx, chain), a TypeError for such an override.
    seen: list[BaseException] = []

    class App(Microframework):
        async def handle_exception(self, e: Exception) -> Any:
            seen.append(e)
            return await super().handle_exception(e)

    ported = App(__name__)
    ported.testing = False

    @ported.route("/")
    async def index() -> Any:
        if where == "view":
            raise LookupError("view")
        if where == "header":
            return "x", {"X-Bad": "a\nb"}
        return "ok"

    @ported.after_request
    async def after(response: Any) -> Any:
        if where == "after_request":
            raise LookupError("after")
        return response

    response = await ported.test_client().get("/")
    assert response.status_code == 500
    assert len(seen) == 1


async def test_error_steps_overridden_with_quarts_signatures_are_called() -> None:
    # Quart and Flask call handle_user_exception(error), handle_http_exception(error)
    # and make_default_options_response(); the pipeline passed a context as well,
    # so such overrides raised TypeError and every 404 or OPTIONS became a 500.
    seen: list[str] = []

    class App(Microframework):
        async def handle_user_exception(self, error: Exception) -> Any:
            seen.append("user")
            return await super().handle_user_exception(error)

        async def handle_http_exception(self, error: Any) -> Any:
            seen.append("http")
            return await super().handle_http_exception(error)

        async def make_default_options_response(self) -> Any:
            seen.append("options")
            return await super().make_default_options_response()

    app = App(__name__)

    @app.get("/teapot")
    async def teapot() -> str:
        raise LookupError("brew")

    @app.errorhandler(LookupError)
    async def brew(error: Exception) -> tuple[str, int]:
        return "handled", 418

    client = app.test_client()
    assert (await client.get("/nowhere")).status_code == 404
    assert seen == ["user", "http"]
    seen.clear()
    assert (await client.get("/teapot")).status_code == 418
    assert seen == ["user"]
    seen.clear()
    assert (await client.options("/teapot")).status_code == 200
    assert seen == ["options"]


async def test_steps_called_with_quarts_context_argument() -> None:
    # Quart's process_response and preprocess_request take an optional context.
    class App(Microframework):
        async def process_response(
            self, response: Any, request_context: Any = None
        ) -> Any:
            response = await super().process_response(response, request_context)
            response.headers["X-Processed"] = "yes"
            return response

    app = App(__name__)

    @app.before_request
    async def before() -> None:
        g.before = "ran"

    @app.get("/")
    async def index() -> str:
        return "x"

    response = await app.test_client().get("/")
    assert response.headers["X-Processed"] == "yes"
    async with app.test_request_context("/") as ctx:
        assert await app.preprocess_request(ctx) is None
        assert g.before == "ran"
    async with app.test_request_context("/") as ctx:
        assert await app.preprocess_websocket(websocket_context=ctx) is None


@pytest.mark.parametrize(
    "name",
    [
        "asgi_http_class",
        "full_dispatch_request",
        "handle_request",
        "do_teardown_request",
    ],
)
async def test_quarts_connection_classes_and_steps_are_refused_not_ignored(
    name: str,
) -> None:
    # cookiecutter-style Quart apps set app.asgi_http_class = ASGIProxyFix; nothing
    # here reads it, so the proxy fix was lost without a word.
    async def step(self: Any, *args: Any) -> Any:
        raise AssertionError("never called")

    if name == "asgi_http_class":
        app = Microframework(__name__)
        app.asgi_http_class = type("ASGIProxyFix", (), {})  # type: ignore[attr-defined]
    else:
        app = type("App", (Microframework,), {name: step})(__name__)

    @app.get("/")
    async def index() -> str:
        return "x"

    with pytest.raises(TypeError, match=f"Quart's {name}, which microframework never"):
        await app.test_client().get("/")


@pytest.mark.parametrize("where", ["class", "instance"])
async def test_a_flask_wsgi_app_override_is_refused_not_ignored(where: str) -> None:
    # A ported Flask subclass (or app.wsgi_app = ProxyFix(...) written on a fresh
    # attribute) was ignored: its middleware never ran.
    async def wsgi_app(self: Any, *args: Any) -> Any:
        raise AssertionError("never called")

    if where == "class":
        app = type("App", (Microframework,), {"wsgi_app": wsgi_app})(__name__)
    else:
        app = Microframework(__name__)
        app.wsgi_app = wsgi_app  # type: ignore[attr-defined]

    @app.get("/")
    async def index() -> str:
        return "x"

    with pytest.raises(TypeError, match="Flask's wsgi_app, which microframework never"):
        await app.test_client().get("/")


async def test_quarts_steps_are_refused_at_startup_before_anything_starts() -> None:
    # The app is frozen after before_serving (which may register blueprints), but what
    # it can't serve is refused first: no pool opened for an app that won't serve.
    async def step(self: Any, *args: Any) -> Any:
        raise AssertionError("never called")

    app = type("App", (Microframework,), {"handle_request": step})(__name__)
    started: list[str] = []
    app.before_serving(lambda: started.append("before_serving"))
    with pytest.raises(LifespanError, match="Quart's handle_request"):
        async with app.test_app():
            pass
    assert started == []


def test_quarts_config_keys_are_there_to_read() -> None:
    config = Microframework(__name__).config
    assert config["ENV"] is None
    assert config["PRESERVE_CONTEXT_ON_EXCEPTION"] is None
    assert config["USE_X_SENDFILE"] is False


async def test_a_session_interface_with_quarts_async_null_session() -> None:
    # Quart's make_null_session is a coroutine; an override returned one in place
    # of the session, a 500 on every request.
    class Null(SecureCookieSession):
        pass

    class Interface(SecureCookieSessionInterface):
        async def make_null_session(self, app: Any) -> Any:  # type: ignore[override]
            return Null()

    app = Microframework(__name__)
    app.session_interface = Interface()  # no SECRET_KEY: every session is null

    @app.get("/")
    async def index() -> str:
        return type(session._get_current_object()).__name__  # type: ignore[attr-defined]

    response = await app.test_client().get("/")
    assert await response.get_data(as_text=True) == "Null"


async def test_request_close_may_be_awaited_as_in_quart(app: Microframework) -> None:
    @app.post("/")
    async def index() -> str:
        files = await request.files
        await request.close()
        return str(files["f"].closed)

    client = app.test_client()
    response = await client.post("/", files={"f": (io.BytesIO(b"x"), "f.txt")})
    assert await response.get_data(as_text=True) == "True"


async def test_session_transaction_takes_quarts_body_arguments(
    app: Microframework,
) -> None:
    seen: list[tuple[str, str | None, dict[str, str]]] = []

    class Recording(SecureCookieSessionInterface):
        def open_session(self, app: Any, request: Any) -> Any:
            seen.append((request.method, request.mimetype, dict(request.args)))
            return super().open_session(app, request)

    app.secret_key = "s"
    app.session_interface = Recording()
    client = app.test_client()
    for body in ({"data": b"x"}, {"form": {"a": "1"}}, {"json": {"a": 1}}):
        options: dict[str, Any] = {"query_string": {"q": "1"}, **body}
        async with client.session_transaction("/", method="POST", **options) as sess:
            sess["n"] = sess.get("n", 0) + 1
    async with client.session_transaction() as sess:
        assert sess["n"] == 3
    # The session backend sees the request those arguments make, as in Quart.
    posted = [(mimetype, args) for method, mimetype, args in seen if method == "POST"]
    assert list(dict.fromkeys(mimetype for mimetype, _ in posted)) == [
        "",
        "application/x-www-form-urlencoded",
        "application/json",
    ]
    assert all(args == {"q": "1"} for _, args in posted)


async def test_a_refused_test_websocket_keeps_quarts_response_attributes(
    app: Microframework,
) -> None:
    @app.websocket("/ws")
    async def ws() -> Any:
        return "nope", 401, {"X-Why": "token"}

    connection = app.test_client().websocket("/ws")
    with pytest.raises(WebsocketResponseError):
        async with connection:
            pass
    assert connection.status_code == 401
    assert connection.headers is not None and connection.headers["X-Why"] == "token"
    assert bytes(connection.response_data) == b"nope"


@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("streamed", [False, True])
async def test_a_werkzeug_response_is_closed_as_flask_closes_it(
    app: Microframework, streamed: bool, method: str
) -> None:
    # Its call_on_close functions and its iterable's close() ran in Flask, never here.
    closed: list[str] = []

    class Chunks:
        def __init__(self) -> None:
            self.chunks = iter([b"a", b"b"])

        def __iter__(self) -> Chunks:
            return self

        def __next__(self) -> bytes:
            return next(self.chunks)

        def close(self) -> None:
            closed.append("iterable")

    @app.route("/")
    async def index() -> Any:
        response = WerkzeugResponse(Chunks() if streamed else b"ab")
        response.call_on_close(lambda: closed.append("call_on_close"))
        return response

    response = await app.test_client().open("/", method=method)
    assert await response.get_data() == (b"" if method == "HEAD" else b"ab")
    assert closed == (["iterable", "call_on_close"] if streamed else ["call_on_close"])


async def test_test_request_context_takes_quarts_send_push_promise(
    app: Microframework,
) -> None:
    # Quart's tests pass a callable to see what a view pushes; it was a TypeError.
    pushed: list[tuple[str, str | None]] = []

    async def record(path: str, headers: Any) -> None:
        pushed.append((path, headers.get("User-Agent")))

    async with app.test_request_context(
        "/", headers={"User-Agent": "tester"}, send_push_promise=record
    ):
        await request.send_push_promise("/style.css")
    assert pushed == [("/style.css", "tester")]


@pytest.mark.parametrize("how", ["raised", "returned by a handler"])
async def test_an_http_exception_with_its_own_get_response_is_sent_as_it_says(
    app: Microframework, how: str
) -> None:
    # The usual API pattern (JSON errors); werkzeug's HTML page went instead.
    import json

    class ApiError(HTTPException):
        code = 422

        def get_response(self, environ: Any = None, scope: Any = None) -> Any:
            body = json.dumps({"code": self.code, "description": self.description})
            return WerkzeugResponse(body, self.code, mimetype="application/json")

    @app.route("/")
    async def index() -> Any:
        raise (ApiError if how == "raised" else KeyError)("field missing")

    if how == "returned by a handler":

        @app.errorhandler(KeyError)
        async def as_api_error(error: Exception) -> Any:
            return ApiError(description="field missing")

    app.testing = False
    response = await app.test_client().get("/")
    assert response.status_code == 422
    assert response.mimetype == "application/json"
    assert (await response.get_json())["code"] == 422


async def test_file_storage_takes_quarts_argument_names(tmp_path: Any) -> None:
    # Quart's save(destination=) and load(source=) were TypeErrors.
    from microframework.datastructures import FileStorage

    (tmp_path / "in.txt").write_bytes(b"data")
    storage = FileStorage()
    await storage.load(source=tmp_path / "in.txt")
    await storage.save(destination=tmp_path / "out.txt")
    assert (tmp_path / "out.txt").read_bytes() == b"data"
    with pytest.raises(TypeError, match="not both"):
        storage.save(tmp_path / "a", destination=tmp_path / "b")
    with pytest.raises(TypeError, match="needs 'dst'"):
        storage.save()


@pytest.mark.parametrize("sent", ["form", "none"])
async def test_a_file_asked_of_a_body_that_was_not_multipart_says_why_in_debug(
    sent: str,
) -> None:
    # Flask's debug help for the commonest upload mistake, a <form> without enctype
    # (errmsgs 7, session 30); a plain 400 otherwise, and a missing file is still
    # None to get() and absent to "in".
    app = Microframework(__name__)
    seen: list[Any] = []

    @app.post("/")
    async def upload() -> str:
        files = await request.files
        seen.extend([files.get("up"), "up" in files, pickle.loads(pickle.dumps(files))])
        try:
            return files["up"].filename  # type: ignore[no-any-return]
        except KeyError as error:
            seen.append(error)
            raise

    client = app.test_client()
    options: dict[str, Any] = {"form": {"up": "cat.png"}} if sent == "form" else {}
    response = await client.post("/", **options)
    assert response.status_code == 400
    assert "enctype" not in await response.get_data(as_text=True)
    assert (
        seen[:2] == [None, False]
        and type(seen[2]) is werkzeug.datastructures.ImmutableMultiDict
    )

    app.debug = True
    response = await client.post("/", **options)
    page = await response.get_data(as_text=True)
    assert "so no file was sent" in page
    # An error a log handler pickles (a QueueHandler to another process, say).
    assert pickle.loads(pickle.dumps(seen[-1])).args == ("up",)
    assert "enctype=&#34;multipart/form-data&#34;" in page
    assert ("the file&#39;s name alone" in page) is (sent == "form")
    assert ("application/x-www-form-urlencoded" in page) is (sent == "form")


class _FlaskStyleErrors(Microframework):
    """Flask's plain ``def`` overrides: JSON errors under /api, super() elsewhere."""

    def handle_http_exception(self, e: HTTPException) -> Any:
        if request.path.startswith("/api/"):
            return {"error": e.name}, e.code
        return super().handle_http_exception(e)

    def handle_user_exception(self, e: Exception) -> Any:
        if isinstance(e, LookupError):
            return "lookup failed", 409
        return super().handle_user_exception(e)

    def handle_exception(self, e: Exception) -> Any:
        return self.response_class("plain def 500", 500)


async def test_plain_def_overrides_of_the_error_extension_points() -> None:
    # Flask's pattern: a plain def returning its own answer was a logged 500
    # ("object tuple can't be used in 'await' expression"), or escaped the app.
    app = _FlaskStyleErrors(__name__)

    @app.errorhandler(418)  # an error handler: handle_user_exception is called
    async def teapot(e: HTTPException) -> tuple[str, int]:
        return "teapot", 418

    @app.route("/lookup")
    async def lookup() -> str:
        raise LookupError("x")

    @app.route("/boom")
    async def boom() -> str:
        raise ValueError("boom")

    client = app.test_client()
    api = await client.get("/api/missing")
    assert (api.status_code, await api.get_json()) == (404, {"error": "Not Found"})
    page = await client.get("/missing")
    assert page.status_code == 404 and b"<title>404 Not Found" in await page.get_data()
    looked = await client.get("/lookup")
    assert (looked.status_code, await looked.get_data()) == (409, b"lookup failed")
    failed = await client.get("/boom")
    assert (failed.status_code, await failed.get_data()) == (500, b"plain def 500")


async def test_teardown_gets_the_error_an_overridden_handle_exception_answered() -> (
    None
):
    # Flask passes it (as the default handle_exception here does); it got None.
    torn: list[BaseException | None] = []

    class App(Microframework):
        async def handle_exception(self, e: Exception) -> Response:
            return self.response_class("ours", 500)

    app = App(__name__)
    boom = ValueError("boom")

    @app.route("/")
    async def index() -> str:
        raise boom

    @app.teardown_request
    async def teardown(error: BaseException | None) -> None:
        torn.append(error)

    response = await app.test_client().get("/")
    assert (response.status_code, torn) == (500, [boom])


# Coroutines here that Flask doesn't have at all (Quart's, or ours): nothing to port.
_NOT_IN_FLASK = {"preprocess_websocket", "shutdown", "aclose"}


def test_porting_names_every_method_that_is_awaited_here() -> None:
    # A port that leaves one un-awaited fails silently (add_etag sets no ETag, so no
    # 304 is ever sent) or gets a coroutine where a value was expected (patterns2).
    import inspect
    import re
    from pathlib import Path

    porting = (Path(__file__).parents[1] / "docs" / "porting.md").read_text()
    missing = [
        f"{cls.__name__}.{name}"
        for cls in (Microframework, Blueprint, Response, Request)
        for name in dir(cls)
        if not name.startswith("_")
        and name not in _NOT_IN_FLASK
        and (
            inspect.iscoroutinefunction(method := getattr(cls, name))
            or inspect.isasyncgenfunction(method)
        )
        and not re.search(rf"\b{name}\b", porting)
    ]
    assert not missing
