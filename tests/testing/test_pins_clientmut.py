"""Pins from mutation testing the test client (testing/client.py, utils.py,
connections.py, app.py): each test fails with one surviving mutant (helper clientmut,
session 21)."""

from __future__ import annotations

import asyncio
import datetime
import io
from typing import Any

import pytest
from werkzeug.datastructures import MultiDict

from microframework import Microframework
from microframework import redirect
from microframework import request
from microframework import websocket
from microframework.exceptions import WebsocketDisconnect
from microframework.json.provider import DefaultJSONProvider
from microframework.sessions import SecureCookieSessionInterface
from microframework.testing import LifespanError
from microframework.testing import TestApp
from microframework.testing import WebsocketResponseError
from microframework.typing import Receive
from microframework.typing import Scope
from microframework.typing import Send


def _echo_path(app: Microframework) -> None:
    @app.route("/<path:rest>", methods=["GET", "HEAD", "POST"])
    async def target(rest: str) -> dict[str, Any]:
        return {"method": request.method, "path": request.path, "host": request.host}


# -- redirects -------------------------------------------------------------------------
async def test_a_305_redirect_is_followed_as_by_flasks_client(
    app: Microframework,
) -> None:
    _echo_path(app)

    @app.route("/a")
    async def a() -> Any:
        return redirect("/b", 305)

    response = await app.test_client().get("/a", follow_redirects=True)

    assert (await response.get_json())["path"] == "/b"


async def test_a_head_request_redirected_by_a_302_stays_head(
    app: Microframework,
) -> None:
    # werkzeug's resolve_redirect turns all but HEAD into GET.
    seen: list[str] = []

    @app.route("/a")
    async def a() -> Any:
        return redirect("/b", 302)

    @app.route("/b")
    async def b() -> str:
        seen.append(request.method)
        return "b"

    response = await app.test_client().head("/a", follow_redirects=True)

    assert response.status_code == 200
    assert seen == ["HEAD"]


async def test_a_redirect_out_of_the_root_path_drops_it(app: Microframework) -> None:
    # "/mountain" is not under the root path "/mount": a prefix match is not enough.
    @app.route("/a")
    async def a() -> Any:
        return redirect("/mountain")

    @app.route("/mountain")
    async def mountain() -> dict[str, str]:
        return {"root_path": request.root_path, "path": request.path}

    response = await app.test_client().get(
        "/mount/a", root_path="/mount", follow_redirects=True
    )

    assert response.status_code == 200
    assert await response.get_json() == {"root_path": "", "path": "/mountain"}


async def test_a_redirect_to_a_host_ending_in_the_server_name_is_refused(
    app: Microframework,
) -> None:
    # "evillocalhost" is not a subdomain of "localhost".
    @app.route("/a")
    async def a() -> Any:
        return redirect("http://evillocalhost/x")

    with pytest.raises(RuntimeError, match="another host"):
        await app.test_client().get("/a", follow_redirects=True)


async def test_a_redirect_on_the_host_of_an_absolute_url_is_followed(
    app: Microframework,
) -> None:
    _echo_path(app)

    @app.route("/a")
    async def a() -> Any:
        return redirect("/b")

    response = await app.test_client().get(
        "http://example.com/a", follow_redirects=True
    )

    assert await response.get_json() == {
        "method": "GET",
        "path": "/b",
        "host": "example.com",
    }


# -- streamed requests and websockets --------------------------------------------------
async def test_a_streamed_head_request_is_not_framed_as_chunked(
    app: Microframework,
) -> None:
    seen: list[str | None] = []

    @app.route("/h")
    async def h() -> str:
        seen.append(request.headers.get("Transfer-Encoding"))
        return "h"

    async with app.test_client().request("/h", method="HEAD") as connection:
        await connection.send_complete()
        response = await connection.as_response()

    assert response.status_code == 200
    assert seen == [None]


async def test_a_streamed_requests_own_transfer_encoding_is_sent_as_given(
    app: Microframework,
) -> None:
    seen: list[str | None] = []

    @app.route("/p", methods=["POST"])
    async def p() -> str:
        seen.append(request.headers.get("Transfer-Encoding"))
        return "p"

    headers = {"Transfer-Encoding": "gzip, chunked"}
    async with app.test_client().request(
        "/p", method="POST", headers=headers
    ) as connection:
        await connection.send_complete()
        await connection.as_response()

    assert seen == ["gzip, chunked"]


async def test_the_callers_websocket_protocol_header_wins(app: Microframework) -> None:
    seen: list[str | None] = []

    @app.websocket("/ws")
    async def ws() -> None:
        seen.append(websocket.headers.get("Sec-WebSocket-Protocol"))
        await websocket.accept()
        await websocket.send("hi")

    headers = {"Sec-WebSocket-Protocol": "mine"}
    async with app.test_client().websocket(
        "/ws", subprotocols=["chat"], headers=headers
    ) as connection:
        assert await connection.receive() == "hi"

    assert seen == ["mine"]


async def test_a_body_of_exactly_one_part_arrives_in_one_message(
    app: Microframework,
) -> None:
    # 64 KiB is one read for hypercorn: no empty message after it.
    messages: list[tuple[int, bool]] = []
    inner = app.asgi_app

    async def recording(scope: Scope, receive: Receive, send: Send) -> None:
        async def receive_and_record() -> Any:
            message = await receive()
            if message["type"] == "http.request":
                messages.append((len(message["body"]), message["more_body"]))
            return message

        await inner(scope, receive_and_record, send)

    app.asgi_app = recording  # type: ignore[method-assign]

    @app.route("/up", methods=["POST"])
    async def up() -> str:
        return str(len(await request.get_data()))

    response = await app.test_client().post("/up", data=b"x" * 65536)

    assert await response.get_data(as_text=True) == "65536"
    assert messages == [(65536, False)]


# -- bodies and query strings ----------------------------------------------------------
async def test_str_data_is_sent_as_utf8(app: Microframework) -> None:
    @app.route("/d", methods=["POST"])
    async def d() -> bytes:
        return await request.get_data()

    response = await app.test_client().post("/d", data="é€")

    assert await response.get_data() == "é€".encode()


async def test_an_empty_query_string_argument_adds_nothing_to_the_paths(
    app: Microframework,
) -> None:
    @app.route("/q")
    async def q() -> bytes:
        return request.query_string

    response = await app.test_client().get("/q?a=1", query_string={})

    assert await response.get_data() == b"a=1"


# -- session_transaction ---------------------------------------------------------------
async def test_session_transaction_opens_the_session_for_the_method_given(
    app: Microframework,
) -> None:
    methods: list[str] = []

    class Recording(SecureCookieSessionInterface):
        def open_session(self, app: Any, request: Any) -> Any:
            methods.append(request.method)
            return super().open_session(app, request)

    app.secret_key = "secret"
    app.session_interface = Recording()

    async with app.test_client().session_transaction(method="POST") as session:
        session["x"] = 1

    assert methods and set(methods) == {"POST"}


# -- the cookie jar --------------------------------------------------------------------
def _cookie_header_app(app: Microframework) -> None:
    @app.route("/<path:rest>")
    async def cookies(rest: str) -> str:
        return request.headers.get("Cookie", "")


async def test_delete_cookie_with_a_dotted_domain_removes_it(
    app: Microframework,
) -> None:
    client = app.test_client()
    client.set_cookie("k", "v", domain="example.com")

    client.delete_cookie("k", domain=".example.com")

    assert client.get_cookie("k", domain="example.com") is None


async def test_a_domain_cookie_is_not_sent_to_a_host_that_only_ends_like_it(
    app: Microframework,
) -> None:
    _cookie_header_app(app)
    client = app.test_client()
    client.set_cookie("k", "v", domain="example.com", origin_only=False)

    sub = await client.get("http://sub.example.com/x")
    other = await client.get("http://badexample.com/x")

    assert await sub.get_data(as_text=True) == "k=v"
    assert await other.get_data(as_text=True) == ""


async def test_a_host_only_cookie_is_not_sent_to_subdomains(
    app: Microframework,
) -> None:
    _cookie_header_app(app)
    client = app.test_client()
    client.set_cookie("k", "v", domain="example.com")

    same = await client.get("http://example.com/x")
    sub = await client.get("http://sub.example.com/x")

    assert await same.get_data(as_text=True) == "k=v"
    assert await sub.get_data(as_text=True) == ""


async def test_cookies_with_longer_paths_are_sent_first(app: Microframework) -> None:
    # RFC 6265 5.4 step 2: the request's parser takes the first of a repeated name.
    _cookie_header_app(app)
    client = app.test_client()
    client.set_cookie("a", "root", path="/")
    client.set_cookie("a", "deep", path="/x")

    response = await client.get("/x/y")

    assert await response.get_data(as_text=True) == "a=deep; a=root"


async def test_max_age_beats_a_later_expires(app: Microframework) -> None:
    # RFC 6265 5.3 step 3: with Max-Age, Expires is ignored, wherever it stands.
    @app.route("/set")
    async def set_() -> Any:
        response = app.response_class("ok")
        response.headers["Set-Cookie"] = (
            "k=v; Max-Age=3600; Expires=Thu, 01 Jan 1970 00:00:00 GMT"
        )
        return response

    client = app.test_client()
    await client.get("/set")

    assert client.get_cookie("k") is not None


async def test_a_relative_cookie_path_attribute_is_ignored(
    app: Microframework,
) -> None:
    # RFC 6265 5.2.4: a Path not starting with "/" gives the default path.
    @app.route("/a/b")
    async def set_() -> Any:
        response = app.response_class("ok")
        response.headers["Set-Cookie"] = "k=v; Path=rel"
        return response

    client = app.test_client()
    await client.get("/a/b")

    assert client.get_cookie("k", path="/a") is not None
    assert client.get_cookie("k", path="rel") is None


async def test_the_cookie_jar_says_which_cookies_named_their_domain(
    app: Microframework,
) -> None:
    @app.route("/set")
    async def set_() -> Any:
        response = app.response_class("ok")
        response.headers.add("Set-Cookie", "host=1")
        response.headers.add("Set-Cookie", "dom=1; Domain=localhost")
        return response

    client = app.test_client()
    await client.get("/set")
    jar = client.cookie_jar
    assert jar is not None

    specified = {cookie.name: cookie.domain_specified for cookie in jar}

    assert specified == {"host": False, "dom": True}


# -- more request building -------------------------------------------------------------
def _form_echo(app: Microframework) -> None:
    @app.route("/form", methods=["POST"])
    async def form() -> dict[str, Any]:
        values = await request.form
        return {key: values.getlist(key) for key in values}


async def test_a_multidict_form_sends_every_value(app: Microframework) -> None:
    _form_echo(app)
    form = MultiDict([("a", "1"), ("a", "2")])

    response = await app.test_client().post("/form", form=form)

    assert await response.get_json() == {"a": ["1", "2"]}


async def test_a_tuple_value_in_pairs_repeats_the_key_as_a_list_does(
    app: Microframework,
) -> None:
    # A mapping goes through MultiDict, which expands both; pairs are flattened here.
    @app.route("/q")
    async def q() -> dict[str, list[str]]:
        return {"a": request.args.getlist("a")}

    query = [("a", ("1", "2"))]
    response = await app.test_client().get("/q", query_string=query)

    assert await response.get_json() == {"a": ["1", "2"]}


async def test_a_files_tuple_gives_the_parts_content_type(
    app: Microframework,
) -> None:
    @app.route("/up", methods=["POST"])
    async def up() -> str:
        return str((await request.files)["f"].content_type)

    files = {"f": (io.BytesIO(b"x"), "notes.txt", "application/x-custom")}
    response = await app.test_client().post("/up", files=files)

    assert await response.get_data(as_text=True) == "application/x-custom"


async def test_the_callers_host_wins_over_an_absolute_urls_as_in_flask(
    app: Microframework,
) -> None:
    @app.route("/x")
    async def x() -> str:
        return request.host

    client = app.test_client()
    response = await client.get("http://example.com/x", headers={"Host": "other.test"})

    assert await response.get_data(as_text=True) == "other.test"


# -- streamed HTTP exchanges -----------------------------------------------------------
async def test_what_the_test_sends_after_disconnecting_never_reaches_the_app(
    app: Microframework,
) -> None:
    received: list[dict[str, Any]] = []
    listening, heard = asyncio.Event(), asyncio.Event()

    async def raw(scope: Scope, receive: Receive, send: Send) -> None:
        listening.set()
        received.append(dict(await receive()))
        heard.set()

    app.asgi_app = raw  # type: ignore[method-assign]
    async with app.test_client().request("/", method="POST") as connection:
        async with asyncio.timeout(5):
            await listening.wait()
            await connection.disconnect()
            await connection.send(b"late")
            await heard.wait()  # the app reads before the block ends

    assert [message["type"] for message in received] == ["http.disconnect"]


async def test_streamed_body_chunks_must_be_bytes(app: Microframework) -> None:
    @app.route("/p", methods=["POST"])
    async def p() -> str:
        return "p"

    async with app.test_client().request("/p", method="POST") as connection:
        with pytest.raises(TypeError, match="must be bytes"):
            await connection.send(3)  # type: ignore[arg-type]
        await connection.send_complete()


async def test_a_response_sent_after_the_disconnect_is_dropped(
    app: Microframework,
) -> None:
    listening = asyncio.Event()

    async def raw(scope: Scope, receive: Receive, send: Send) -> None:
        listening.set()
        assert (await receive())["type"] == "http.disconnect"
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"gone"})

    app.asgi_app = raw  # type: ignore[method-assign]
    async with app.test_client().request("/") as connection:
        async with asyncio.timeout(5):
            await listening.wait()
        await connection.disconnect()

    assert connection.status_code is None


@pytest.mark.parametrize("status", [204, 304])
async def test_a_bodiless_status_may_announce_a_content_length(
    app: Microframework, status: int
) -> None:
    async def raw(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-length", b"100")]
        await send(
            {"type": "http.response.start", "status": status, "headers": headers}
        )
        await send({"type": "http.response.body", "body": b""})

    app.asgi_app = raw  # type: ignore[method-assign]
    response = await app.test_client().get("/")

    assert response.status_code == status
    assert response.headers["Content-Length"] == "100"


async def test_a_push_without_http2_fails_the_request(app: Microframework) -> None:
    async def raw(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.push", "path": "/s.css", "headers": []})

    app.asgi_app = raw  # type: ignore[method-assign]

    with pytest.raises(RuntimeError, match="not an http response message"):
        await app.test_client().get("/")


async def test_cancelling_a_test_that_waits_for_the_response_cancels_the_app(
    app: Microframework,
) -> None:
    started, ended = asyncio.Event(), asyncio.Event()

    async def raw(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            started.set()
            await asyncio.Event().wait()
        finally:
            ended.set()

    app.asgi_app = raw  # type: ignore[method-assign]

    async def leave() -> None:
        async with app.test_client().request("/") as connection:
            await connection.send_complete()  # leaving now waits for the response

    task = asyncio.create_task(leave())
    async with asyncio.timeout(5):
        await started.wait()
        await asyncio.sleep(0)  # into the wait for the response
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await ended.wait()


# -- websockets ------------------------------------------------------------------------
class _TaggingJSON(DefaultJSONProvider):
    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return {"tagged": super().loads(s, **kwargs)}


async def test_receive_json_parses_with_the_apps_provider(app: Microframework) -> None:
    app.json = _TaggingJSON(app)

    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.send('{"a": 1}')

    async with app.test_client().websocket("/ws") as connection:
        assert await connection.receive_json() == {"tagged": {"a": 1}}


async def test_send_json_encodes_with_the_apps_provider(app: Microframework) -> None:
    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.send(await websocket.receive())

    day = datetime.date(2020, 1, 2)
    async with app.test_client().websocket("/ws") as connection:
        await connection.send_json({"day": day})
        assert await connection.receive() == app.json.dumps({"day": day})


async def test_close_refuses_a_bool_code(app: Microframework) -> None:
    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.accept()
        await websocket.receive()

    async with app.test_client().websocket("/ws") as connection:
        with pytest.raises(TypeError, match="code must be an int"):
            await connection.close(True)


async def _accept(receive: Receive, send: Send) -> None:
    assert (await receive())["type"] == "websocket.connect"
    await send({"type": "websocket.accept"})


async def test_sending_to_an_app_that_returned_without_closing_raises(
    app: Microframework,
) -> None:
    async def raw(scope: Scope, receive: Receive, send: Send) -> None:
        await _accept(receive, send)

    app.asgi_app = raw  # type: ignore[method-assign]
    async with app.test_client().websocket("/") as connection:
        with pytest.raises(WebsocketDisconnect):
            await connection.receive()
        with pytest.raises(WebsocketDisconnect) as info:
            await connection.send("late")

    assert info.value.code == 1011


async def test_a_close_without_a_code_is_a_1000(app: Microframework) -> None:
    async def raw(scope: Scope, receive: Receive, send: Send) -> None:
        await _accept(receive, send)
        await send({"type": "websocket.close"})

    app.asgi_app = raw  # type: ignore[method-assign]
    async with app.test_client().websocket("/") as connection:
        with pytest.raises(WebsocketDisconnect) as info:
            await connection.receive()

    assert info.value.code == 1000


async def test_a_websocket_send_without_data_fails_the_test(
    app: Microframework,
) -> None:
    async def raw(scope: Scope, receive: Receive, send: Send) -> None:
        await _accept(receive, send)
        await send({"type": "websocket.send"})

    app.asgi_app = raw  # type: ignore[method-assign]

    with pytest.raises(RuntimeError, match="needs 'bytes' or a str 'text'"):
        async with app.test_client().websocket("/") as connection:
            await connection.receive()


async def test_what_the_app_sends_after_the_test_closed_is_dropped(
    app: Microframework,
) -> None:
    async def raw(scope: Scope, receive: Receive, send: Send) -> None:
        await _accept(receive, send)
        assert (await receive())["type"] == "websocket.disconnect"
        await send({"type": "websocket.close", "code": 4000})

    app.asgi_app = raw  # type: ignore[method-assign]
    async with app.test_client().websocket("/") as connection:
        await connection.close()

    assert connection.close_code is None


async def test_after_the_app_closed_a_close_from_the_test_is_not_heard_again(
    app: Microframework,
) -> None:
    # The client echoed the app's close (1000); a later close() sends nothing more.
    heard: list[Any] = []
    closed_by_test = asyncio.Event()

    async def raw(scope: Scope, receive: Receive, send: Send) -> None:
        await _accept(receive, send)
        await send({"type": "websocket.close", "code": 4001})
        await closed_by_test.wait()
        heard.append((await receive()).get("code"))

    app.asgi_app = raw  # type: ignore[method-assign]
    async with asyncio.timeout(5):
        async with app.test_client().websocket("/") as connection:
            with pytest.raises(WebsocketDisconnect):
                await connection.receive()
            await connection.close(4002)
            closed_by_test.set()

    assert heard == [1000]


async def test_an_app_listening_after_its_refusal_hears_the_disconnect(
    app: Microframework,
) -> None:
    heard: list[str] = []

    async def raw(scope: Scope, receive: Receive, send: Send) -> None:
        assert (await receive())["type"] == "websocket.connect"
        await send({"type": "websocket.close"})
        heard.append((await receive())["type"])

    app.asgi_app = raw  # type: ignore[method-assign]

    async with asyncio.timeout(2):  # not the 5 s grace a deaf app gets
        with pytest.raises(WebsocketResponseError):
            async with app.test_client().websocket("/"):
                pass

    assert heard == ["websocket.disconnect"]


# -- TestApp ---------------------------------------------------------------------------
def _lifespan(app: Microframework, startup: dict[str, Any], after: Any = None) -> None:
    async def raw(scope: Scope, receive: Receive, send: Send) -> None:
        assert (await receive())["type"] == "lifespan.startup"
        await send(startup)
        if startup["type"] != "lifespan.startup.complete":
            return
        assert (await receive())["type"] == "lifespan.shutdown"
        await send({"type": "lifespan.shutdown.complete"})
        if after is not None:
            await after()

    app.asgi_app = raw  # type: ignore[method-assign]


async def test_a_test_app_starts_only_once(app: Microframework) -> None:
    async with app.test_app() as test_app:
        with pytest.raises(RuntimeError, match="already been started"):
            await test_app.startup()


async def test_shutdown_waits_for_the_app_to_return(app: Microframework) -> None:
    done: list[str] = []

    async def after() -> None:
        await asyncio.sleep(0)
        done.append("cleaned up")

    _lifespan(app, {"type": "lifespan.startup.complete"}, after)
    async with app.test_app():
        pass

    assert done == ["cleaned up"]


async def test_an_error_after_shutdown_complete_is_a_lifespan_error(
    app: Microframework,
) -> None:
    async def after() -> None:
        raise ValueError("late")

    _lifespan(app, {"type": "lifespan.startup.complete"}, after)

    with pytest.raises(LifespanError, match="after shutdown") as info:
        async with app.test_app():
            pass

    assert isinstance(info.value.__cause__, ValueError)


async def test_a_startup_failure_without_a_message_says_which_phase(
    app: Microframework,
) -> None:
    _lifespan(app, {"type": "lifespan.startup.failed", "message": ""})

    with pytest.raises(LifespanError, match="^lifespan startup failed$"):
        async with app.test_app():
            pass


async def test_a_wrong_lifespan_reply_is_an_error(app: Microframework) -> None:
    _lifespan(app, {"type": "lifespan.shutdown.complete"})

    with pytest.raises(LifespanError, match="sent 'lifespan.shutdown.complete'"):
        async with app.test_app():
            pass


def test_lifespan_phases_have_sixty_seconds_by_default(app: Microframework) -> None:
    # docs/testing.md: "Startup and shutdown each have a 60-second time limit".
    test_app = TestApp(app)

    assert (test_app.startup_timeout, test_app.shutdown_timeout) == (60, 60)


async def test_a_test_app_made_once_runs_again_after_its_shutdown(
    app: Microframework,
) -> None:
    # Quart's TestApp may be entered again (a fixture made once); here it raised.
    events: list[str] = []

    @app.before_serving
    async def started() -> None:
        events.append("startup")

    @app.after_serving
    async def stopped() -> None:
        events.append("shutdown")

    test_app = app.test_app()
    for _ in range(2):
        async with test_app:
            events.append("test")
    assert events == ["startup", "test", "shutdown"] * 2


async def test_a_test_app_whose_startup_failed_may_start_again(
    app: Microframework,
) -> None:
    failures = [RuntimeError("database not up yet")]

    @app.before_serving
    async def started() -> None:
        if failures:
            raise failures.pop()

    test_app = app.test_app()
    with pytest.raises(LifespanError):
        await test_app.startup()
    async with test_app:
        pass


async def test_a_client_made_in_one_serving_period_follows_the_next(
    app: Microframework,
) -> None:
    # A module-level client from test_app.test_client() kept the first period's state.
    periods = iter([1, 2])

    @app.while_serving
    async def serving() -> Any:
        app.state["period"] = next(periods)
        yield

    @app.route("/period")
    async def period() -> str:
        return str(request.state["period"])  # type: ignore[attr-defined]

    test_app = app.test_app()
    async with test_app:
        client = test_app.test_client()
        assert await (await client.get("/period")).get_data() == b"1"
    async with test_app:
        assert await (await client.get("/period")).get_data() == b"2"
