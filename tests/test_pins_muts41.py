"""Pins from mutation testing (helper muts41, session 35): the survivors among the
mutants of the lines session 35 added or changed.

Each test kills a mutant that survived the related test files; its first comment names
the code it pins and the mutant id.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any
from unittest import mock

import click
import pytest
from asgi_harness import call
from asgi_harness import http_scope
from asgi_harness import websocket_scope
from click.testing import CliRunner

from microframework import Blueprint
from microframework import files as files_module
from microframework import flash
from microframework import Microframework
from microframework import Request
from microframework import request
from microframework import send_file
from microframework import send_from_directory
from microframework import session
from microframework.cli import MicroframeworkGroup
from microframework.sessions import SecureCookieSessionInterface
from microframework.signals import message_flashed
from microframework.signals import request_finished
from microframework.signals import request_tearing_down

LIMIT = 20


def test_the_class_reads_its_default_session_interface() -> None:
    # InterfaceOfTheApp.__get__ without an app: the default, as Flask's class
    # attribute is (C1: the descriptor itself).
    interface = Microframework.session_interface
    assert isinstance(interface, SecureCookieSessionInterface)
    assert interface is Microframework(__name__).session_interface


async def test_a_drain_refusal_the_server_never_sends_is_cut_at_the_deadline() -> None:
    # _dispatch.handle_websocket: the websocket stays a drain member while its ending
    # awaits the 503 refusal (D1: discarded first); Websocket.on_drain_deadline cancels
    # that send (W1, W10): the app returns at the deadline, not never.
    app = Microframework(__name__)
    waiting, go = asyncio.Event(), asyncio.Event()

    @app.websocket("/ws")
    async def ws() -> None:
        waiting.set()
        await go.wait()  # returns as the refusal goes out

    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    inbox.put_nowait({"type": "websocket.connect"})
    sent: list[str] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message["type"])
        if message["type"] == "websocket.http.response.start":
            go.set()
            await asyncio.Event().wait()  # a server that never finishes this send

    extensions: dict[str, Any] = {"websocket.http.response": {}}
    async with asyncio.timeout(LIMIT):
        handling = asyncio.create_task(
            app(websocket_scope("/ws", extensions), inbox.get, send)
        )
        await waiting.wait()
        app.drain.start(0.2)  # the handler has returned long before
        try:
            await handling
        finally:
            app.drain.end()
    assert sent == ["websocket.http.response.start"]


async def test_a_views_background_task_alone_keeps_pathsend_off(tmp_path: Path) -> None:
    # Streamer.runs_after: a task the view added runs once the response went, and
    # may remove the file (G1: only teardown, signals and call_on_close counted). No
    # test_app() here: its signal receiver would switch pathsend off by itself.
    app = Microframework(__name__, static_folder=None)
    path = tmp_path / "export.bin"
    path.write_bytes(b"x" * 1000)

    @app.route("/export")
    async def export() -> Any:
        response = await send_file(path)
        app.add_background_task(path.unlink)
        return response

    async with asyncio.timeout(LIMIT):
        recorder = await call(
            app, http_scope("/export", extensions={"http.response.pathsend": {}})
        )
        await asyncio.gather(*app.background_tasks)
    assert not path.exists()
    types = [message["type"] for message in recorder.sent]
    assert "http.response.pathsend" not in types
    assert b"".join(m.get("body", b"") for m in recorder.sent[1:]) == b"x" * 1000


async def _pathsend_used(app: Microframework, url: str = "/export") -> bool:
    async with asyncio.timeout(LIMIT):
        recorder = await call(
            app, http_scope(url, extensions={"http.response.pathsend": {}})
        )
    assert recorder.status == 200
    return any(m["type"] == "http.response.pathsend" for m in recorder.sent)


async def test_call_on_close_alone_keeps_pathsend_off(tmp_path: Path) -> None:
    # Streamer.closing: a call_on_close function runs after the response (G2).
    app = Microframework(__name__, static_folder=None)
    path = tmp_path / "export.bin"
    path.write_bytes(b"x" * 100)
    closed: list[bool] = []

    @app.route("/export")
    async def export() -> Any:
        response = await send_file(path)
        response.call_on_close(lambda: closed.append(True))
        return response

    assert not await _pathsend_used(app)
    assert closed == [True]


async def test_a_blueprints_teardown_keeps_its_views_pathsend_off(
    tmp_path: Path,
) -> None:
    # Streamer.runs_after reads the endpoint's chain (G5, G10: the app's, which has
    # no teardown): a blueprint's teardown_request runs after its view's response.
    app = Microframework(__name__, static_folder=None)
    blueprint = Blueprint("exports", __name__)
    path = tmp_path / "export.bin"
    path.write_bytes(b"x" * 100)
    torn: list[bool] = []

    @blueprint.route("/export")
    async def export() -> Any:
        return await send_file(path)

    @blueprint.teardown_request
    def remove(exc: BaseException | None) -> None:
        torn.append(True)

    @app.route("/plain")
    async def plain() -> Any:
        return await send_file(path)

    app.register_blueprint(blueprint)
    assert not await _pathsend_used(app)
    assert torn == [True]
    assert await _pathsend_used(app, "/plain")  # no teardown of its own: the path


async def test_a_teardown_appcontext_keeps_pathsend_off(tmp_path: Path) -> None:
    # Streamer.runs_after: compiled.teardown_appcontext (G7).
    app = Microframework(__name__, static_folder=None)
    path = tmp_path / "export.bin"
    path.write_bytes(b"x" * 100)
    torn: list[bool] = []

    @app.route("/export")
    async def export() -> Any:
        return await send_file(path)

    @app.teardown_appcontext
    def remove(exc: BaseException | None) -> None:
        torn.append(True)

    assert not await _pathsend_used(app)
    assert torn == [True]


async def test_a_tearing_down_receiver_keeps_pathsend_off(tmp_path: Path) -> None:
    # Streamer.runs_after: a receiver of a signal sent once the response went
    # (request_tearing_down) may remove the file (G6); request_finished's go first,
    # so one of those leaves the path to the server.
    app = Microframework(__name__, static_folder=None)
    path = tmp_path / "export.bin"
    path.write_bytes(b"x" * 100)
    heard: list[str] = []

    @app.route("/export")
    async def export() -> Any:
        return await send_file(path)

    assert await _pathsend_used(app)  # nobody listens yet: the path

    def finished(sender: Any, **extra: Any) -> None:
        heard.append("finished")

    def tearing_down(sender: Any, **extra: Any) -> None:
        heard.append("tearing down")

    with request_finished.connected_to(finished, sender=app):
        assert await _pathsend_used(app)
        with request_tearing_down.connected_to(tearing_down, sender=app):
            assert not await _pathsend_used(app)
    assert heard == ["finished", "finished", "tearing down"]


async def test_undoing_a_patched_session_interface_compiles_the_tables_again() -> None:
    # InterfaceOfTheApp.__delete__ (mock.patch.object's undoing) compiles the tables
    # again (C3: the patched store's "opens before each view" stayed for the default).
    app = Microframework(__name__)
    app.secret_key = "k"

    class Eager(SecureCookieSessionInterface):
        async def open_session(self, app: Any, request: Any) -> Any:
            return await super().open_session(app, request)

    @app.get("/")
    async def index() -> str:
        return "no session used"

    client = app.test_client()
    assert (await client.get("/")).status_code == 200  # the tables compiled
    with mock.patch.object(app, "session_interface", Eager()):
        assert (await client.get("/")).status_code == 200
    default = app.session_interface
    assert type(default) is SecureCookieSessionInterface
    opened: list[bool] = []
    original = default.open_session

    async def counted(self: Any, app: Any, request: Any) -> Any:
        opened.append(True)
        return await original(app, request)

    with mock.patch.object(type(default), "open_session", counted):
        assert (await client.get("/")).status_code == 200
    assert opened == []  # lazily, as before the patch: the view never read it


def test_a_plugin_groups_commands_run_without_loading_the_app() -> None:
    # with_event_loop: a plain click group's subcommands are wrapped by it again, on
    # their own loop without the app (L2: with the app context, which loads the app).
    loaded: list[bool] = []

    def create_app() -> Microframework:
        loaded.append(True)
        return Microframework("plugin")

    main = MicroframeworkGroup(create_app=create_app)
    tools = click.Group("tools")

    @tools.command()
    async def check() -> None:
        click.echo("check ran")

    @tools.command()
    def plain() -> None:
        click.echo("plain ran")

    main.add_command(tools)
    runner = CliRunner()
    result = runner.invoke(main, ["tools", "check"])
    assert (result.exit_code, result.output) == (0, "check ran\n"), result.output
    result = runner.invoke(main, ["tools", "plain"])
    assert (result.exit_code, result.output) == (0, "plain ran\n"), result.output
    assert loaded == []


async def test_a_folder_replaced_by_a_file_after_the_lookup_is_a_404(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # files._source_for: NotADirectoryError between send_from_directory's lookup and
    # the open is a 404 too (F1: a 500). The hook is the one test_files.py uses.
    folder = tmp_path / "uploads"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "a.txt").write_bytes(b"public")
    checked = files_module._lookup

    def then_changed(directory: str, path: str) -> Any:
        found = checked(directory, path)
        shutil.rmtree(folder / "sub")
        (folder / "sub").write_bytes(b"now a file")
        return found

    monkeypatch.setattr(files_module, "_lookup", then_changed)
    app = Microframework(__name__)

    @app.route("/<path:name>")
    async def download(name: str) -> Any:
        return await send_from_directory(folder, name)

    response = await app.test_client().get("/sub/a.txt")
    assert response.status_code == 404


async def test_a_binary_temporary_file_is_sent() -> None:
    # files._source_for refuses "+" modes without "b" only (F6: also "rb+", the mode
    # of tempfile.TemporaryFile(), the usual spool for a generated download).
    app = Microframework(__name__)

    @app.route("/report")
    async def report() -> Any:
        spool = tempfile.TemporaryFile()
        spool.write(b"generated")
        spool.seek(0)
        return await send_file(spool, mimetype="text/plain")

    response = await app.test_client().get("/report")
    assert response.status_code == 200
    assert await response.get_data() == b"generated"


async def test_await_flash_awaits_any_awaitable_a_plain_receiver_returns() -> None:
    # flashing.flash: inspect.isawaitable (FL2: iscoroutine, which a Future fails).
    app = Microframework(__name__)
    app.secret_key = "k"
    done: list[str] = []

    def receiver(sender: Any, message: str, **extra: Any) -> Any:
        future = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().call_soon(
            lambda: (done.append(message), future.set_result(None))
        )
        return future

    @app.route("/")
    async def index() -> str:
        await flash("Saved.")
        return ",".join(done)

    with message_flashed.connected_to(receiver, app):
        response = await app.test_client().get("/")
    assert await response.get_data() == b"Saved."


@pytest.mark.parametrize(
    "attribute, value",
    [
        ("serializer", json),
        ("key_derivation", "concat"),
        ("digest_method", staticmethod(hashlib.sha512)),
    ],
)
async def test_a_cookie_interfaces_new_signing_setting_takes_at_once(
    attribute: str, value: Any
) -> None:
    # SecureCookieSessionInterface.get_signing_serializer's cache key holds what it
    # signs with (S6, S7, S8: one of them left out, the old signer was reused).
    app = Microframework(__name__)
    app.secret_key = "k"

    @app.route("/")
    async def index() -> str:
        session["n"] = (1, 2)  # tagged by the default serializer, not by json
        return "ok"

    client = app.test_client()
    assert (await client.get("/")).status_code == 200
    interface = app.session_interface
    # Set on the class: a staticmethod must stay one, and the instance gets it too.
    Own = type("Own", (SecureCookieSessionInterface,), {attribute: value})
    own = Own()
    fresh = own.get_signing_serializer(app)
    assert fresh is not None
    with mock.patch.object(interface, attribute, getattr(own, attribute)):
        cookie = (await client.get("/")).headers["Set-Cookie"]
    loaded = fresh.loads(cookie.split(";")[0].split("=", 1)[1])
    assert loaded == ({"n": [1, 2]} if attribute == "serializer" else {"n": (1, 2)})


async def test_a_request_classs_trusted_hosts_are_kept(app: Microframework) -> None:
    # BaseRequestWebsocket.host passes trusted_hosts to get_host (H3: None).
    class Guarded(Request):
        trusted_hosts = ["good.example"]

    app.request_class = Guarded

    @app.route("/")
    async def index() -> str:
        return request.host

    client = app.test_client()
    response = await client.get("/", headers={"Host": "good.example"})
    assert await response.get_data() == b"good.example"
    response = await client.get("/", headers={"Host": "evil.example"})
    assert response.status_code == 400
