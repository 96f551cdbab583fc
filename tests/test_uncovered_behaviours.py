"""Behaviours a user can reach that no other test exercised (found by a coverage run).

One test per behaviour; each asserts what the user observes, so that a change to the
line it covers fails it.
"""

from __future__ import annotations

import asyncio
import datetime
import io
import logging
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from asgi_harness import call
from asgi_harness import http_scope
from asgi_harness import Recorder
from asgi_harness import websocket_scope

import microframework.json
from microframework import abort
from microframework import Blueprint
from microframework import Microframework
from microframework import render_template
from microframework import request
from microframework import Response
from microframework import send_file
from microframework import url_for
from microframework import websocket
from microframework._utils import find_instance_path
from microframework.broadcast import Broadcast
from microframework.exceptions import WebsocketDisconnect
from microframework.middleware import _without_root
from microframework.middleware import ProxyFixMiddleware
from microframework.serving import _config
from microframework.static import get_send_file_max_age
from microframework.testing import LifespanError
from microframework.testing import MicroframeworkClient
from microframework.testing import WebsocketResponseError
from microframework.wrappers import request as request_module

LIMIT = 10


@pytest.fixture
def client(app: Microframework) -> MicroframeworkClient:
    return app.test_client()


# -- responses and headers --------------------------------------------------------------
@pytest.mark.parametrize("form", ["response", "view tuple"])
async def test_a_header_given_as_a_list_is_sent_once_per_value(
    app: Microframework, client: MicroframeworkClient, form: str
) -> None:
    # An unhashable header value skips the encoded-headers cache; werkzeug sends each.
    @app.route("/")
    async def index() -> Any:
        if form == "response":
            return Response("x", headers={"X-A": ["1", "2"]})
        return "x", {"X-A": ["1", "2"]}

    response = await client.get("/")
    assert response.headers.getlist("X-A") == ["1", "2"]
    assert await response.get_data() == b"x"


async def test_make_conditional_ignores_a_range_on_a_streamed_body(
    app: Microframework, client: MicroframeworkClient
) -> None:
    # A generator's length is unknown: the whole body goes out as a 200.
    @app.route("/")
    async def index() -> Response:
        async def gen() -> Any:
            yield b"abcdef"

        response = Response(gen())
        await response.make_conditional(request, accept_ranges=True)
        return response

    response = await client.get("/", headers={"Range": "bytes=0-1"})
    assert response.status_code == 200
    assert "Content-Range" not in response.headers
    assert "Accept-Ranges" not in response.headers
    assert await response.get_data() == b"abcdef"


async def test_a_large_bytes_body_with_trailers_sends_the_body_then_the_trailers(
    app: Microframework,
) -> None:
    big = bytes(range(256)) * 1200  # 300 KiB: more than one buffered message

    @app.route("/")
    async def index() -> Response:
        response = app.response_class(big)
        response.trailers = {"X-Sum": "1"}
        return response

    scope = http_scope(
        headers=[(b"te", b"trailers")],
        http_version="2",
        extensions={"http.response.trailers": {}},
    )
    async with asyncio.timeout(LIMIT):
        recorder = await call(app, scope)
    assert recorder.status == 200
    assert recorder.sent[0]["trailers"] is True
    assert recorder.headers[b"content-length"] == str(len(big)).encode()
    bodies = [m for m in recorder.sent if m["type"] == "http.response.body"]
    assert b"".join(m["body"] for m in bodies) == big
    assert len(bodies) > 1  # streamed in parts: a stalled reader times out
    assert [m.get("more_body", False) for m in bodies][-1] is False
    assert recorder.sent.index(bodies[-1]) == len(recorder.sent) - 2
    assert recorder.sent[-1] == {
        "type": "http.response.trailers",
        "headers": [(b"x-sum", b"1")],
        "more_trailers": False,
    }


# -- requests ---------------------------------------------------------------------------
async def test_get_data_with_parse_form_data_leaves_no_data_for_a_form(
    app: Microframework, client: MicroframeworkClient
) -> None:
    @app.route("/", methods=["POST"])
    async def index() -> Any:
        data = await request.get_data(parse_form_data=True)
        return {"data": data.decode(), "form": dict(await request.form)}

    response = await client.post("/", form={"a": "1"})
    assert await response.get_json() == {"data": "", "form": {"a": "1"}}


async def test_get_data_with_parse_form_data_returns_a_non_form_body(
    app: Microframework, client: MicroframeworkClient
) -> None:
    @app.route("/", methods=["POST"])
    async def index() -> Any:
        data = await request.get_data(parse_form_data=True)
        return {"data": data.decode(), "form": dict(await request.form)}

    response = await client.post(
        "/", data=b"raw", headers={"Content-Type": "text/plain"}
    )
    assert await response.get_json() == {"data": "raw", "form": {}}


async def test_get_json_silent_without_cache_parses_again_and_gives_none(
    app: Microframework, client: MicroframeworkClient
) -> None:
    @app.route("/", methods=["POST"])
    async def index() -> Any:
        first = await request.get_json(silent=True, cache=False)
        second = await request.get_json(silent=True, cache=False)
        unset = request._json_silent is request_module._UNSET
        return {"first": first, "second": second, "unset": unset}

    response = await client.post(
        "/", data=b"{bad", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 200
    # Nothing cached: a later get_json(silent=True) would parse again.
    assert await response.get_json() == {"first": None, "second": None, "unset": True}


async def test_request_http_version(
    app: Microframework, client: MicroframeworkClient
) -> None:
    @app.route("/")
    async def index() -> str:
        return request.http_version

    assert await (await client.get("/")).get_data() == b"1.1"


async def test_abort_with_a_code_without_an_exception_is_a_500(
    app: Microframework, client: MicroframeworkClient
) -> None:
    # werkzeug's Aborter raises LookupError for 299, as in Flask.
    app.testing = False

    @app.route("/")
    async def index() -> None:
        abort(299)

    errors: list[BaseException] = []

    @app.errorhandler(500)
    async def error(e: Any) -> tuple[str, int]:
        errors.append(e.original_exception)
        return "500", 500

    response = await client.get("/")
    assert response.status_code == 500
    [original] = errors
    assert isinstance(original, LookupError)
    assert str(original) == "no exception for 299"


async def test_sync_to_async_runs_a_function_in_a_thread(
    app: Microframework, client: MicroframeworkClient
) -> None:
    @app.route("/")
    async def index() -> Any:
        work = app.sync_to_async(lambda x: (x * 2, threading.get_ident()))
        value, thread = await work(21)
        return {"value": value, "other": thread != threading.get_ident()}

    assert await (await client.get("/")).get_json() == {"value": 42, "other": True}


# -- test client ------------------------------------------------------------------------
async def test_the_client_sends_a_str_query_string_as_given(
    app: Microframework, client: MicroframeworkClient
) -> None:
    @app.route("/")
    async def index() -> Any:
        return {"args": dict(request.args), "raw": request.query_string.decode()}

    response = await client.get("/", query_string="a=1&b=%20")
    assert await response.get_json() == {
        "args": {"a": "1", "b": " "},
        "raw": "a=1&b=%20",
    }


@pytest.mark.parametrize("method", ["delete", "patch", "trace"])
async def test_the_client_method_shortcuts(
    app: Microframework, client: MicroframeworkClient, method: str
) -> None:
    @app.route("/", methods=["DELETE", "PATCH", "TRACE"])
    async def index() -> str:
        return request.method

    response = await getattr(client, method)("/")
    assert await response.get_data() == method.upper().encode()


async def test_quarts_set_cookie_form_with_a_domain(
    app: Microframework, client: MicroframeworkClient
) -> None:
    # (server_name, key, value) with domain=: the cookie is the domain's, so a
    # sibling host gets it too.
    @app.route("/")
    async def index() -> str:
        return request.cookies.get("k", "none")

    client.set_cookie("www.example.com", "k", "v", domain="example.com")
    cookie = client.get_cookie("k", domain="example.com")
    assert cookie is not None and cookie.value == "v"
    response = await client.get("/", headers={"Host": "api.example.com"})
    assert await response.get_data() == b"v"


def test_set_cookie_with_four_positional_arguments_is_a_type_error(
    client: MicroframeworkClient,
) -> None:
    with pytest.raises(TypeError, match=r"\(key, value\) or \(server_name"):
        client.set_cookie("a", "b", "c", "d")


async def test_follow_redirects_stops_at_a_redirect_without_location(
    app: Microframework, client: MicroframeworkClient
) -> None:
    @app.route("/")
    async def index() -> tuple[str, int]:
        return "", 302

    response = await client.get("/", follow_redirects=True)
    assert response.status_code == 302
    assert "Location" not in response.headers


# -- helpers outside a context ----------------------------------------------------------
def test_json_dump_without_an_app_context_uses_the_default_provider() -> None:
    buffer = io.StringIO()
    microframework.json.dump({"d": datetime.date(2020, 1, 2)}, buffer)
    assert buffer.getvalue() == '{"d": "Thu, 02 Jan 2020 00:00:00 GMT"}'


def test_no_signing_serializer_without_a_secret_key() -> None:
    app = Microframework(__name__)
    assert app.session_interface.get_signing_serializer(app) is None
    app.secret_key = "k"
    assert app.session_interface.get_signing_serializer(app) is not None


def test_static_url_path_is_none_without_a_static_folder() -> None:
    assert Microframework(__name__, static_folder=None).static_url_path is None
    assert Microframework(__name__).static_url_path == "/static"


def test_get_send_file_max_age_is_none_outside_a_context() -> None:
    assert get_send_file_max_age() is None


async def test_handle_exception_without_a_context_gives_a_500(
    app: Microframework, caplog: pytest.LogCaptureFixture
) -> None:
    app.testing = False
    response = await app.handle_exception(ValueError("x"))
    assert response.status_code == 500
    assert any(r.exc_info and r.exc_info[0] is ValueError for r in caplog.records)
    # No request to finalize: after_request functions are not looked for.
    assert not [r for r in caplog.records if "finalizing" in r.getMessage()]


async def test_log_exception_in_an_app_context_without_a_request(
    app: Microframework, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, app.logger.name)
    async with app.app_context():
        try:
            raise KeyError("k")
        except KeyError:
            app.log_exception(sys.exc_info())
    [record] = [r for r in caplog.records if r.name == app.logger.name]
    assert record.getMessage() == "Exception"  # as Quart: there is no request
    assert record.exc_info is not None and record.exc_info[0] is KeyError


# -- files ------------------------------------------------------------------------------
async def test_send_file_of_a_file_whose_seek_fails_is_sent_whole(
    app: Microframework, client: MicroframeworkClient
) -> None:
    class BadSeek(io.RawIOBase):
        def __init__(self) -> None:
            self.data = io.BytesIO(b"hello")

        def readable(self) -> bool:
            return True

        def seekable(self) -> bool:
            return True

        def readinto(self, buffer: Any) -> int:
            return self.data.readinto(buffer)

        def seek(self, *args: Any) -> int:
            raise OSError("no")

    @app.route("/")
    async def index() -> Response:
        return await send_file(BadSeek(), mimetype="text/plain")

    response = await client.get("/")
    assert response.status_code == 200
    assert await response.get_data() == b"hello"
    assert "Content-Length" not in response.headers  # size unknown: streamed


async def test_send_file_with_a_bytes_download_name_is_a_type_error(
    app: Microframework, client: MicroframeworkClient
) -> None:
    @app.route("/")
    async def index() -> Response:
        return await send_file(io.BytesIO(b"x"), download_name=b"x.txt")  # type: ignore[arg-type]

    with pytest.raises(TypeError, match="download_name must be a str, not bytes"):
        await client.get("/")


# -- routing, blueprints, url_for -------------------------------------------------------
async def test_a_nested_blueprints_prefix_under_a_parent_without_one(
    app: Microframework, client: MicroframeworkClient
) -> None:
    parent = Blueprint("parent", __name__)
    child = Blueprint("child", __name__, url_prefix="/child")

    @child.route("/x")
    async def x() -> str:
        return url_for("parent.child.x")

    parent.register_blueprint(child)
    app.register_blueprint(parent)
    response = await client.get("/child/x")
    assert response.status_code == 200
    assert await response.get_data() == b"/child/x"


async def test_a_none_default_is_passed_on_every_request(
    app: Microframework, client: MicroframeworkClient
) -> None:
    # A None (or unhashable) default: the match is not memoised.
    @app.route("/d/", defaults={"v": None})
    @app.route("/d/<v>")
    async def d(v: str | None) -> str:
        return repr(v)

    for expected in (b"None", b"None", b"'a'", b"None"):
        path = "/d/a" if expected == b"'a'" else "/d/"
        assert await (await client.get(path)).get_data() == expected


async def test_a_list_default_is_shared_across_requests_as_in_flask(
    app: Microframework, client: MicroframeworkClient
) -> None:
    @app.route("/", defaults={"v": [1]})
    async def index(v: list[int]) -> str:
        v.append(2)
        return repr(v)

    bodies = [await (await client.get("/")).get_data() for _ in range(3)]
    assert bodies == [b"[1, 2]", b"[1, 2, 2]", b"[1, 2, 2, 2]"]


async def test_url_for_in_a_400_handler_for_an_untrusted_host_says_why(
    app: Microframework, client: MicroframeworkClient
) -> None:
    app.config["TRUSTED_HOSTS"] = ["good.example"]

    @app.route("/")
    async def index() -> str:
        return url_for("index")

    @app.errorhandler(400)
    async def bad(e: Any) -> tuple[str, int]:
        try:
            return url_for("index"), 400
        except RuntimeError as error:
            return str(error), 400

    response = await client.get("/", headers={"Host": "evil.example"})
    assert response.status_code == 400
    assert await response.get_data() == (
        b"the request has no URL adapter (routing failed)"
    )
    response = await client.get("/", headers={"Host": "good.example"})
    assert await response.get_data() == b"/"


async def test_a_blueprint_without_templates_renders_the_apps(tmp_path: Path) -> None:
    (tmp_path / "a.html").write_text("hello {{ x }}")
    app = Microframework(__name__, template_folder=str(tmp_path))
    bp = Blueprint("bp", __name__)

    @bp.route("/")
    async def index() -> str:
        return await render_template("a.html", x=1)

    app.register_blueprint(bp)
    assert await (await app.test_client().get("/")).get_data() == b"hello 1"
    async with app.app_context():
        assert app.jinja_env.list_templates() == ["a.html"]


# -- websockets -------------------------------------------------------------------------
async def _eg_handler() -> None:
    async with asyncio.TaskGroup() as group:

        async def boom() -> None:
            raise ValueError("x")

        group.create_task(boom())


async def test_an_exception_group_after_accept_reaches_its_error_handler(
    app: Microframework, client: MicroframeworkClient
) -> None:
    seen: list[BaseException] = []

    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.accept()
        await _eg_handler()

    @app.errorhandler(ExceptionGroup)
    async def handle(e: ExceptionGroup[Exception]) -> tuple[str, int]:
        seen.append(e)
        return "handled", 500

    with pytest.raises(WebsocketDisconnect) as caught:
        async with asyncio.timeout(LIMIT), client.websocket("/ws") as ws_client:
            await ws_client.receive()
    assert caught.value.code == 1000  # handled: websockets.md, not 1011
    [group] = seen
    assert isinstance(group, ExceptionGroup)
    assert [type(e) for e in group.exceptions] == [ValueError]


async def test_an_exception_group_before_accept_is_a_500_rejection(
    app: Microframework, client: MicroframeworkClient
) -> None:
    app.testing = False

    @app.websocket("/ws")
    async def ws() -> None:
        await _eg_handler()

    with pytest.raises(WebsocketResponseError) as caught:
        async with asyncio.timeout(LIMIT), client.websocket("/ws") as ws_client:
            await ws_client.receive()
    assert caught.value.response.status_code == 500


@pytest.mark.parametrize("grouped_by", ["task group", "handler"])
async def test_a_disconnect_in_an_exception_group_ends_the_handler_quietly(
    app: Microframework, grouped_by: str
) -> None:
    # Python < 3.13: a TaskGroup whose body's receive() raised the disconnect raises a
    # BaseExceptionGroup of it; the app ends as for the bare disconnect.
    raised: list[BaseException] = []

    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.accept()
        try:
            if grouped_by == "handler":
                try:
                    await websocket.receive()
                except WebsocketDisconnect as gone:
                    raise BaseExceptionGroup("gone", [gone]) from None
            async with asyncio.TaskGroup() as group:
                group.create_task(asyncio.Event().wait())
                await websocket.receive()
        except BaseException as error:
            raised.append(error)
            raise

    messages = [{"type": "websocket.connect"}, {"type": "websocket.disconnect"}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async with asyncio.timeout(LIMIT):
        await app(websocket_scope(), receive, send)  # returns: nothing raised
    assert [m["type"] for m in sent] == ["websocket.accept"]
    [error] = raised
    if grouped_by == "task group" and sys.version_info >= (3, 13):
        assert type(error) is WebsocketDisconnect  # 3.13's TaskGroup: not grouped
    else:
        assert isinstance(error, BaseExceptionGroup)
        assert [type(e) for e in error.exceptions] == [WebsocketDisconnect]


class Stop(BaseException):
    pass


@pytest.mark.parametrize("with_disconnect", [False, True])
async def test_a_base_exception_group_from_a_websocket_handler_propagates(
    app: Microframework, with_disconnect: bool
) -> None:
    # Only a group of nothing but disconnects counts as the client leaving.
    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.accept()
        if with_disconnect:
            raise BaseExceptionGroup("both", [WebsocketDisconnect(1000), Stop("x")])
        async with asyncio.TaskGroup() as group:

            async def stop() -> None:
                raise Stop("x")

            group.create_task(stop())

    messages = [{"type": "websocket.connect"}]
    never = asyncio.Event()

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop(0)
        await never.wait()
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        pass

    with pytest.raises(BaseExceptionGroup) as caught:
        async with asyncio.timeout(LIMIT):
            await app(websocket_scope(), receive, send)
    assert repr(caught.value.exceptions[-1]) == "Stop('x')"


async def test_accepting_a_websocket_twice_is_a_no_op(
    app: Microframework, client: MicroframeworkClient
) -> None:
    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.accept()
        await websocket.accept()
        await websocket.send("ok")

    async with asyncio.timeout(LIMIT), client.websocket("/ws") as ws_client:
        assert await ws_client.receive() == "ok"


async def test_a_websocket_rule_without_a_view_is_a_500_rejection(
    app: Microframework, client: MicroframeworkClient, caplog: pytest.LogCaptureFixture
) -> None:
    app.testing = False
    app.add_url_rule("/ws", "noview", websocket=True)
    with pytest.raises(WebsocketResponseError) as caught:
        async with asyncio.timeout(LIMIT), client.websocket("/ws") as ws_client:
            await ws_client.receive()
    assert caught.value.response.status_code == 500
    assert any(
        "no handler is registered for endpoint 'noview'" in str(r.exc_info[1])
        for r in caplog.records
        if r.exc_info
    )


async def test_a_drain_ends_a_websocket_whose_close_is_stuck_in_send(
    app: Microframework,
) -> None:
    ended = asyncio.Event()

    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.accept()
        try:
            await asyncio.Event().wait()
        finally:
            ended.set()

    sent: list[str] = []
    accepted, never = asyncio.Event(), asyncio.Event()
    connected = False

    async def receive() -> dict[str, Any]:
        nonlocal connected
        if not connected:
            connected = True
            return {"type": "websocket.connect"}
        await never.wait()
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message["type"])
        if message["type"] == "websocket.accept":
            accepted.set()
        elif message["type"] == "websocket.close":
            await never.wait()  # a server whose send() hangs

    task = asyncio.ensure_future(app(websocket_scope(), receive, send))
    try:
        async with asyncio.timeout(LIMIT):
            await accepted.wait()
            app.drain.start(0.05)
            await task
        assert ended.is_set()
        assert sent == ["websocket.accept", "websocket.close"]
    finally:
        app.drain.end()
        task.cancel()


# -- lifespan ---------------------------------------------------------------------------
async def test_shutdown_errors_raise_the_first_and_log_the_rest(
    app: Microframework, caplog: pytest.LogCaptureFixture
) -> None:
    @app.while_serving
    async def serving() -> Any:
        yield
        raise ValueError("generator boom")

    @app.after_serving
    async def after() -> None:
        raise KeyError("after boom")

    with pytest.raises(LifespanError) as caught:
        async with asyncio.timeout(LIMIT), app.test_app():
            pass
    assert str(caught.value) == "Error during shutdown 'after boom'"  # the first error
    [other] = [r for r in caplog.records if r.getMessage() == "Another shutdown error"]
    assert other.exc_info is not None
    assert repr(other.exc_info[1]) == "ValueError('generator boom')"


# -- the app and its environment --------------------------------------------------------
def test_an_app_named_main_under_python_c_keeps_its_name() -> None:
    source = "from microframework import Microframework; print(Microframework('__main__').name)"
    out = subprocess.run(
        [sys.executable, "-c", source],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert out.stdout.strip() == "__main__"


def test_the_instance_path_of_a_pip_user_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # <base>/lib/pythonX.Y/site-packages/pkg: Flask's <base>/var/pkg-instance.
    site = tmp_path / "lib" / "python3.11" / "site-packages"
    (site / "userpkg_cov").mkdir(parents=True)
    (site / "userpkg_cov" / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delitem(sys.modules, "userpkg_cov", raising=False)
    path = find_instance_path("userpkg_cov", "userpkg_cov")
    assert path == str(tmp_path / "var" / "userpkg_cov-instance")


def test_app_runs_hypercorn_options_are_set_on_its_config() -> None:
    config = _config(
        None, None, {"keep_alive_timeout": 7, "h11_max_incomplete_size": 1234}
    )
    assert config.keep_alive_timeout == 7
    assert config.h11_max_incomplete_size == 1234


# -- ProxyFixMiddleware -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "root", "expected"),
    [
        (b"/a/b/c", "/a/b", b"/c"),
        (b"/a/b", "/a/b", b""),
        (b"/a%2Fb/x", "/a/b", b"/x"),
        (b"/caf%C3%A9/x", "/caf\u00e9", b"/x"),
        (b"/a/bc/x", "/a/b", b"/a/bc/x"),
        (b"/x/y", "/a/b", b"/x/y"),
    ],
)
def test_the_root_path_is_taken_off_a_raw_path(
    raw: bytes, root: str, expected: bytes
) -> None:
    assert _without_root(raw, root) == expected


def _proxy_app() -> Microframework:
    app = Microframework(__name__)

    @app.route("/c")
    async def c() -> Any:
        return {
            "root": request.root_path,
            "path": request.path,
            "url": request.url,
            "host": request.host,
            "raw": request.scope.get("raw_path", b"-").decode(),
        }

    return app


async def test_x_forwarded_prefix_replaces_a_multi_segment_root_path() -> None:
    middleware = ProxyFixMiddleware(_proxy_app(), x_prefix=1)
    scope = http_scope(
        "/a/b/c",
        headers=[(b"x-forwarded-prefix", b"/p")],
        root_path="/a/b",
    )
    recorder = await call(middleware, scope)
    assert recorder.status == 200
    result = microframework.json.loads(recorder.body)
    assert (result["root"], result["path"], result["raw"]) == ("/p", "/c", "/p/c")
    assert result["url"] == "http://localhost/p/c"


@pytest.mark.parametrize(
    ("path", "root_path", "server", "host"),
    [
        ("/c", "", None, ""),
        ("/c", "", ("10.0.0.1", 80), "10.0.0.1:8080"),
        ("http://h/c", "", ("10.0.0.1", 80), "10.0.0.1:8080"),
        ("/r/c", "/r", ("10.0.0.1", 80), "10.0.0.1:8080"),
    ],
    ids=["no-server", "server", "absolute-form", "root-path"],
)
async def test_proxy_fix_on_a_scope_without_raw_path_or_host(
    path: str, root_path: str, server: Any, host: str
) -> None:
    middleware = ProxyFixMiddleware(_proxy_app(), x_prefix=1, x_port=1)
    scope = http_scope(path, root_path=root_path, http_version="1.0")
    scope["headers"] = [(b"x-forwarded-prefix", b"/p"), (b"x-forwarded-port", b"8080")]
    del scope["raw_path"]
    if server is None:
        del scope["server"]
    else:
        scope["server"] = server
    recorder = await call(middleware, scope, Recorder())
    assert recorder.status == 200
    result = microframework.json.loads(recorder.body)
    assert result == {
        "root": "/p",
        "path": "/c",
        "url": f"http://{host}/p/c",
        "host": host,
        "raw": "-",  # none made up
    }


# -- broadcast --------------------------------------------------------------------------
async def test_a_redis_channel_without_history_ttl_never_expires(
    redis_url: str,
) -> None:
    async with (
        asyncio.timeout(LIMIT),
        Broadcast(redis_url, history_ttl=None) as broadcast,
    ):
        first = await broadcast.publish("c", "one")
        async with broadcast.subscribe("c", last_event_id="0-0") as subscriber:
            second = await broadcast.publish("c", b"two")
            events = [await anext(subscriber), await anext(subscriber)]
    assert [(e.id, e.data) for e in events] == [(first, "one"), (second, b"two")]
    import redis

    with redis.Redis.from_url(redis_url) as admin:
        assert admin.pttl("broadcast:c") == -1  # exists, no expiry
        assert admin.xlen("broadcast:c") == 2
