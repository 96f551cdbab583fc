"""``ProxyFixMiddleware``: which forwarded values are believed, and what they change."""

from __future__ import annotations

import asyncio
import contextvars
import json
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest
from asgi_harness import call
from asgi_harness import http_scope
from asgi_harness import Recorder
from hypothesis import given
from hypothesis import strategies as st

from microframework import Microframework
from microframework import request
from microframework import url_for
from microframework import websocket
from microframework.middleware import ProxyFixMiddleware


async def _noop(scope: dict[str, Any], receive: Any, send: Any) -> None:
    pass


def fixed(scope: dict[str, Any], **trusted: int) -> dict[str, Any]:
    return ProxyFixMiddleware(_noop, **trusted).fix_scope(scope)


def forwarded(*headers: tuple[str, str], **extra: Any) -> dict[str, Any]:
    return http_scope(
        headers=[(name.encode(), value.encode()) for name, value in headers], **extra
    )


def host_header(scope: dict[str, Any]) -> list[bytes]:
    return [value for name, value in scope["headers"] if name == b"host"]


@pytest.mark.parametrize(
    ("trusted", "client"),
    [(1, "10.0.0.3"), (2, "10.0.0.2"), (3, "10.0.0.1"), (4, "127.0.0.1")],
)
def test_x_for_trusts_only_the_addresses_our_proxies_appended(
    trusted: int, client: str
) -> None:
    scope = forwarded(("x-forwarded-for", "10.0.0.1, 10.0.0.2, 10.0.0.3"))
    assert fixed(scope, x_for=trusted)["client"][0] == client


def test_repeated_header_lines_count_as_one_list() -> None:
    scope = forwarded(
        ("x-forwarded-for", "203.0.113.9"), ("x-forwarded-for", "10.0.0.7")
    )
    assert fixed(scope, x_for=2)["client"] == ("203.0.113.9", 0)


def test_proto_sets_the_scheme_and_websockets_get_ws_schemes() -> None:
    assert fixed(forwarded(("x-forwarded-proto", "HTTPS")))["scheme"] == "https"
    ws = forwarded(("x-forwarded-proto", "https"), type="websocket", scheme="ws")
    assert fixed(ws)["scheme"] == "wss"
    plain_ws = forwarded(("x-forwarded-proto", "http"), type="websocket", scheme="ws")
    assert fixed(plain_ws)["scheme"] == "ws"


def test_an_unknown_proto_is_ignored() -> None:
    assert fixed(forwarded(("x-forwarded-proto", "gopher")))["scheme"] == "http"


def test_host_and_port_replace_the_host_header_and_server() -> None:
    scope = forwarded(
        ("x-forwarded-host", "example.com"),
        ("x-forwarded-port", "8443"),
        ("x-forwarded-proto", "https"),
    )
    result = fixed(scope, x_host=1, x_port=1)
    assert host_header(result) == [b"example.com:8443"]
    assert result["server"] == ("example.com", 8443)


def test_host_without_port_gets_the_schemes_default_port() -> None:
    scope = forwarded(
        ("x-forwarded-host", "example.com"), ("x-forwarded-proto", "https")
    )
    result = fixed(scope, x_host=1)
    assert host_header(result) == [b"example.com"]
    assert result["server"] == ("example.com", 443)


def test_port_alone_changes_the_port_of_the_existing_host() -> None:
    result = fixed(forwarded(("x-forwarded-port", "8080")), x_port=1)
    assert host_header(result) == [b"localhost:8080"]
    ipv6 = http_scope(headers=[(b"x-forwarded-port", b"81")])
    ipv6["headers"] = [(b"host", b"[::1]:5000"), (b"x-forwarded-port", b"81")]
    result = fixed(ipv6, x_port=1)
    assert host_header(result) == [b"[::1]:81"]
    assert result["server"] == ("::1", 81)


def test_port_alone_without_a_host_header_changes_the_servers_port() -> None:
    # An HTTP/1.0 request without Host: werkzeug's ProxyFix still sets the port.
    scope = forwarded(("x-forwarded-port", "9000"), server=("10.0.0.1", 8080))
    scope["headers"] = [(b"x-forwarded-port", b"9000")]
    result = fixed(scope, x_port=1)
    assert result["server"] == ("10.0.0.1", 9000)
    assert host_header(result) == []


async def test_port_alone_without_a_host_header_reaches_the_request() -> None:
    app = Microframework(__name__)

    @app.route("/")
    async def index() -> str:
        return request.host

    scope = http_scope("/", server=("10.0.0.1", 8080), http_version="1.0")
    scope["headers"] = [(b"x-forwarded-port", b"9000")]
    rec = await call(ProxyFixMiddleware(app, x_port=1), scope)
    assert rec.body == b"10.0.0.1:9000"


def test_a_non_numeric_port_is_ignored() -> None:
    scope = forwarded(("x-forwarded-port", "80; evil"))
    assert fixed(scope, x_port=1) is not scope  # a copy, since the header was present
    assert host_header(fixed(scope, x_port=1)) == [b"localhost"]


@pytest.mark.parametrize(
    "header",
    [
        ("x-forwarded-port", "9" * 4301),
        ("x-forwarded-port", "65536"),
        ("x-forwarded-host", "example.com:" + "9" * 4301),
    ],
)
def test_a_port_out_of_range_is_ignored(header: tuple[str, str]) -> None:
    # Over 4,300 digits int() raised ValueError out of the middleware: a 500 from a
    # header any client can send.
    result = fixed(forwarded(header), x_host=1, x_port=1)
    assert result["server"][1] == 80
    assert host_header(result) in ([b"localhost"], [header[1].encode()])


def test_prefix_becomes_the_root_path_and_leads_the_path() -> None:
    scope = forwarded(("x-forwarded-prefix", "/api/"), path="/users")
    result = fixed(scope, x_prefix=1)
    assert (result["root_path"], result["path"], result["raw_path"]) == (
        "/api",
        "/api/users",
        b"/api/users",
    )


def test_prefix_replaces_a_root_path_the_server_set() -> None:
    scope = forwarded(
        ("x-forwarded-prefix", "/public"), path="/mnt/users", root_path="/mnt"
    )
    scope["raw_path"] = b"/mnt/users"
    result = fixed(scope, x_prefix=1)
    assert (result["root_path"], result["path"], result["raw_path"]) == (
        "/public",
        "/public/users",
        b"/public/users",
    )


@pytest.mark.parametrize(
    ("path", "raw_path", "expected"),
    [
        ("/apple", b"/apple", ("/pub/apple", b"/pub/apple")),  # not the root "/app"
        ("/app", b"/app", ("/pub", b"/pub")),
        ("/app/x", b"/app/x", ("/pub/x", b"/pub/x")),
        ("/app/caf\u00e9", b"/app/caf%C3%A9", ("/pub/caf\u00e9", b"/pub/caf%C3%A9")),
    ],
)
@pytest.mark.parametrize("root_path", ["/app", "/app/"])
def test_the_servers_root_path_goes_only_as_whole_segments(
    path: str, raw_path: bytes, expected: tuple[str, bytes], root_path: str
) -> None:
    # hypercorn --root-path /app with "X-Forwarded-Prefix: /pub": "/apple" is not
    # under "/app"; stripping its text made it the app's "/le".
    scope = forwarded(("x-forwarded-prefix", "/pub"), path=path, root_path=root_path)
    scope["raw_path"] = raw_path
    result = fixed(scope, x_prefix=1)
    assert (result["path"], result["raw_path"]) == expected


@pytest.mark.parametrize(
    ("root", "raw_path"),
    [
        ("/caf\u00e9", b"/caf%C3%A9/x"),
        ("/caf\u00e9", b"/caf\xc3\xa9/x"),  # raw UTF-8, as some clients send it
        ("/a/b", b"/a%2Fb/x"),  # the root's slash escaped
    ],
)
def test_a_root_path_the_client_spelled_with_escapes_leaves_the_raw_path(
    root: str, raw_path: bytes
) -> None:
    scope = forwarded(("x-forwarded-prefix", "/p"), path=root + "/x", root_path=root)
    scope["raw_path"] = raw_path
    result = fixed(scope, x_prefix=1)
    assert (result["path"], result["raw_path"]) == ("/p/x", b"/p/x")


@pytest.mark.parametrize("root", ["", "/srv"])
async def test_a_prefix_goes_before_an_absolute_form_targets_path(root: str) -> None:
    # hypercorn passes "GET http://host/p" on as the path (RFC 9112 3.2.2: a server
    # must accept it): the prefix went before the whole URL, and the app gave a 404.
    app = Microframework(__name__)

    @app.route("/show/<name>")
    async def show(name: str) -> str:
        return f"{request.root_path} {request.path} {url_for('show', name=name)}"

    target = "http://localhost/show/a"
    scope = forwarded(("x-forwarded-prefix", "/api"), path=target, root_path=root)
    scope["raw_path"] = target.encode()
    seen: list[dict[str, Any]] = []

    async def spy(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.append(scope)
        await app(scope, receive, send)

    rec = await call(ProxyFixMiddleware(spy, x_prefix=1), scope)
    assert (rec.status, rec.body) == (200, b"/api /show/a /api/show/a")
    assert (seen[0]["path"], seen[0]["raw_path"]) == ("/api/show/a", b"/api/show/a")


def test_a_prefix_leaves_a_target_that_isnt_a_url_to_the_app() -> None:
    scope = forwarded(("x-forwarded-prefix", "/api"), path="http://[::1/x")
    result = fixed(scope, x_prefix=1)
    assert (result["path"], result["root_path"]) == ("http://[::1/x", "")


def test_a_prefix_without_a_leading_slash_is_ignored() -> None:
    scope = forwarded(("x-forwarded-prefix", "api"), path="/users")
    assert fixed(scope, x_prefix=1)["path"] == "/users"


def test_untrusted_headers_change_nothing_and_nothing_is_copied() -> None:
    scope = forwarded(
        ("x-forwarded-host", "evil.example"), ("x-forwarded-prefix", "/evil")
    )
    assert fixed(scope) is scope  # x_host and x_prefix default to 0


def test_the_servers_scope_is_never_mutated() -> None:
    scope = forwarded(
        ("x-forwarded-for", "10.1.1.1"), ("x-forwarded-host", "a.example")
    )
    before = {**scope, "headers": list(scope["headers"])}
    fixed(scope, x_host=1)
    assert scope == before


async def test_lifespan_passes_through_untouched() -> None:
    seen: list[dict[str, Any]] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.append(scope)

    scope = {"type": "lifespan", "asgi": {"version": "3.0"}}
    await ProxyFixMiddleware(app)(scope, _noop, _noop)  # type: ignore[arg-type]
    assert seen == [scope] and seen[0] is scope


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"x_for": -1}, ValueError),
        ({"x_host": "1"}, TypeError),
        ({"x_proto": True}, TypeError),
    ],
)
def test_trusted_counts_are_validated(
    kwargs: dict[str, Any], error: type[Exception]
) -> None:
    with pytest.raises(error, match=next(iter(kwargs))):
        ProxyFixMiddleware(_noop, **kwargs)


async def test_the_app_sees_the_forwarded_request() -> None:
    app = Microframework(__name__)
    app.config["TRUSTED_HOSTS"] = ["example.com"]
    app.asgi_app = ProxyFixMiddleware(  # type: ignore[method-assign]
        app.asgi_app, x_for=1, x_proto=1, x_host=1, x_prefix=1
    )

    @app.get("/where")
    async def where() -> dict[str, Any]:
        return {
            "client": request.remote_addr,
            "scheme": request.scheme,
            "url": url_for("where", _external=True),
        }

    scope = forwarded(
        ("x-forwarded-for", "203.0.113.5"),
        ("x-forwarded-proto", "https"),
        ("x-forwarded-host", "example.com"),
        ("x-forwarded-prefix", "/shop"),
        path="/where",
    )
    recorder = await call(app, scope)
    assert recorder.status == 200, recorder.body
    assert json.loads(recorder.body) == {
        "client": "203.0.113.5",
        "scheme": "https",
        "url": "https://example.com/shop/where",
    }


addresses = st.lists(
    st.from_regex(r"[0-9a-f.:]{1,20}", fullmatch=True), min_size=1, max_size=6
)


@given(addresses, st.integers(min_value=1, max_value=8))
def test_x_for_picks_the_nth_address_from_the_right(
    values: list[str], trusted: int
) -> None:
    scope = forwarded(("x-forwarded-for", ", ".join(values)))
    expected = values[-trusted] if len(values) >= trusted else "127.0.0.1"
    assert fixed(scope, x_for=trusted)["client"][0] == expected


header_names = st.sampled_from(
    [
        b"x-forwarded-for",
        b"x-forwarded-proto",
        b"x-forwarded-host",
        b"x-forwarded-port",
        b"x-forwarded-prefix",
        b"host",
    ]
)


@given(st.lists(st.tuples(header_names, st.binary(max_size=40)), max_size=8))
def test_any_forwarded_headers_give_a_well_formed_scope(
    headers: list[tuple[bytes, bytes]],
) -> None:
    scope = http_scope()
    scope["headers"] = headers
    result = fixed(scope, x_for=1, x_proto=1, x_host=1, x_port=1, x_prefix=1)
    assert result["scheme"] in ("http", "https")
    assert result["path"].endswith("/")
    assert all(isinstance(v, bytes) for _, v in result["headers"])
    assert result["root_path"] == "" or result["root_path"].startswith("/")


@pytest.mark.parametrize(
    "prefix",
    ["//evil.example", "/\\evil.example", "/\t/evil.example", "/a\\b", "/a\x00"],
)
def test_a_prefix_naming_another_host_is_ignored(prefix: str) -> None:
    # "//evil.example" as a root path: url_for's redirects went to another site. So
    # does "/\evil.example" (a browser reads "\" as "/") and a tab (which it drops).
    scope = forwarded(("x-forwarded-prefix", prefix), path="/users")
    assert fixed(scope, x_prefix=1)["root_path"] == ""


def test_a_utf8_prefix_is_decoded_as_utf8() -> None:
    scope = http_scope(headers=[(b"x-forwarded-prefix", "/café".encode())], path="/x")
    result = fixed(scope, x_prefix=1)
    assert (result["root_path"], result["raw_path"]) == ("/café", b"/caf%C3%A9/x")


def test_a_bare_ipv6_forwarded_host_gets_brackets_with_its_port() -> None:
    scope = forwarded(("x-forwarded-host", "::1"), ("x-forwarded-port", "8443"))
    result = fixed(scope, x_host=1, x_port=1)
    assert host_header(result) == [b"[::1]:8443"]
    assert result["server"] == ("::1", 8443)


# -- a third-party middleware's receive() -------------------------------------------------


def _like_starlettes_base_http_middleware(app: Any) -> Any:
    """Starlette's ``BaseHTTPMiddleware`` (FastAPI's ``@app.middleware("http")``): its
    ``receive()`` opens an anyio task group, bound to the task it starts in."""

    async def middleware(scope: Any, receive: Any, send: Any) -> None:
        sent = asyncio.Event()  # starlette's response_sent

        async def receive_or_disconnect() -> Any:
            async with anyio.create_task_group() as group:

                async def wrap(func: Any) -> Any:
                    result = await func()
                    group.cancel_scope.cancel()
                    return result

                group.start_soon(wrap, sent.wait)
                return await wrap(receive)

        receive_or_disconnect.__module__ = "a_middleware"  # not a server's (conftest)
        await app(scope, receive_or_disconnect, send)

    return middleware


@pytest.mark.parametrize("kind", ["waits", "stream", "long_poll_left"])
async def test_a_view_behind_a_middleware_opening_task_groups_in_receive(
    kind: str,
) -> None:
    # Its receive() was stepped by hand, outside a task: the task group bound to the
    # view's task and cancelled it, so every view that awaited anything was a 500.
    app = Microframework(__name__)
    app.asgi_app = _like_starlettes_base_http_middleware(app.asgi_app)  # type: ignore[method-assign]
    waiting, cleaned = asyncio.Event(), []

    @app.get("/")
    async def index() -> Any:
        if kind == "stream":

            async def chunks() -> AsyncIterator[bytes]:
                await asyncio.sleep(0)
                yield b"streamed"

            return chunks()
        if kind == "long_poll_left":
            waiting.set()
            try:
                await asyncio.Event().wait()
            finally:
                cleaned.append("finally")
        await asyncio.sleep(0)
        return "answered"

    recorder = Recorder()
    async with asyncio.timeout(5):
        task = asyncio.create_task(call(app, http_scope("/"), recorder))
        if kind == "long_poll_left":
            await waiting.wait()
            recorder.disconnect()
        await task
    if kind == "long_poll_left":
        assert cleaned == ["finally"]
        return
    assert recorder.status == 200
    assert recorder.body in (b"answered", b"streamed")


_CALLS: contextvars.ContextVar[int] = contextvars.ContextVar("_CALLS", default=0)


async def test_a_middlewares_receive_keeps_its_context_between_calls() -> None:
    # Each call in a task got its own copy of the context: what one call set, the
    # next didn't see (OpenTelemetry's receive() sets a variable; design.md).
    app, seen = Microframework(__name__), []

    @app.post("/")
    async def view() -> str:
        await asyncio.sleep(0)  # the watch starts, and reads the body ahead
        return str(len(await request.get_data()))

    inner = app.asgi_app

    async def counting_middleware(scope: Any, receive: Any, send: Any) -> None:
        async def counting() -> Any:
            _CALLS.set(_CALLS.get() + 1)
            seen.append(_CALLS.get())
            return await receive()

        counting.__module__ = "a_middleware"  # not a server's (conftest)
        await inner(scope, counting, send)

    app.asgi_app = counting_middleware  # type: ignore[method-assign]
    chunks = (b"x" * 10, b"x" * 10, b"x" * 10)
    scope = http_scope("/", method="POST", headers=[(b"content-length", b"30")])
    async with asyncio.timeout(5):
        recorder = await call(app, scope, Recorder(*chunks))
    assert recorder.body == b"30"
    assert len(seen) >= 2 and seen == list(range(1, len(seen) + 1))


async def test_the_servers_own_receive_is_stepped_by_hand() -> None:
    # No task per held request for hypercorn's (an asyncio.Queue's get), daphne's
    # (the same), uvicorn's (each protocol's) or the test client's.
    from uvicorn.protocols.http.h11_impl import RequestResponseCycle

    from microframework._utils import _by_hand

    queue: asyncio.Queue[Any] = asyncio.Queue()
    assert _by_hand(queue.get)
    assert _by_hand(RequestResponseCycle.receive)  # (httptools' alike, if installed)
    app, seen = Microframework(__name__), []
    inner = app.asgi_app

    async def recording(scope: Any, receive: Any, send: Any) -> None:
        seen.append(receive)
        await inner(scope, receive, send)

    app.asgi_app = recording  # type: ignore[method-assign]
    await app.test_client().get("/")
    assert _by_hand(seen[0])


async def test_a_subclass_overriding_asgi_app_gets_every_request() -> None:
    # Quart's (and Flask's wsgi_app) way: __call__ goes through the override.
    seen: list[str] = []

    class App(Microframework):
        async def asgi_app(self, scope: Any, receive: Any, send: Any) -> None:
            seen.append(scope["type"])
            await super().asgi_app(scope, receive, send)

    app = App(__name__)

    @app.route("/")
    async def index() -> str:
        return "ok"

    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.accept()
        await websocket.send("hi")

    recorder = await call(app, http_scope())
    assert recorder.status == 200
    async with app.test_app(), app.test_client().websocket("/ws") as connection:
        assert await connection.receive() == "hi"
    assert seen == ["http", "lifespan", "websocket"]  # one lifespan connection


async def test_an_inherited_call_and_a_late_asgi_app_are_both_kept() -> None:
    # A library's subclass wrapping __call__, the user's overriding asgi_app, and
    # asgi_app replaced on a class afterwards: each runs, as in Quart.
    seen: list[str] = []

    class Lib(Microframework):
        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            seen.append("Lib.__call__")
            await super().__call__(scope, receive, send)

    class App(Lib):
        async def asgi_app(self, scope: Any, receive: Any, send: Any) -> None:
            seen.append("App.asgi_app")
            await super().asgi_app(scope, receive, send)

    class Late(Microframework):
        pass

    async def late(self: Any, scope: Any, receive: Any, send: Any) -> None:
        seen.append("late")
        await Microframework.asgi_app(self, scope, receive, send)

    Late.asgi_app = late  # type: ignore[method-assign]
    for app in (App(__name__), Late(__name__)):
        app.route("/")(lambda: "ok")
        assert (await call(app, http_scope())).status == 200
    assert seen == ["Lib.__call__", "App.asgi_app", "late"]
