"""End-to-end behaviour of views, return values, sync code, hooks and error handling.

Everything here goes through ``app.test_client()``; the raw ASGI messages are asserted
in ``test_dispatch.py``.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import logging
import threading
import warnings
from collections.abc import AsyncIterator
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from werkzeug.exceptions import BadRequest
from werkzeug.exceptions import Forbidden
from werkzeug.exceptions import HTTPException
from werkzeug.exceptions import InternalServerError
from werkzeug.exceptions import NotFound

from microframework import abort
from microframework import after_this_request
from microframework import Blueprint
from microframework import current_app
from microframework import g
from microframework import Microframework
from microframework import redirect
from microframework import render_template_string
from microframework import Request
from microframework import request
from microframework import Response
from microframework import url_for
from microframework import websocket
from microframework.views import MethodView

# Upper bound for a threading.Event handshake: never reached when the behaviour works,
# it only turns a regression (a blocked event loop) into a failure instead of a hang.
_HANDSHAKE_LIMIT = 5.0


class _AppError(Exception):
    pass


class _SpecificError(_AppError):
    pass


# -- return values ------------------------------------------------------------------


async def test_str_return_is_an_html_200(app: Microframework) -> None:
    @app.route("/")
    async def index() -> str:
        return "héllo"

    response = await app.test_client().get("/")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert await response.get_data() == "héllo".encode()


async def test_bytes_return_is_sent_as_is(app: Microframework) -> None:
    @app.route("/")
    async def index() -> bytes:
        return b"\x00\xffraw"

    response = await app.test_client().get("/")
    assert response.status_code == 200
    assert await response.get_data() == b"\x00\xffraw"
    assert response.headers["Content-Length"] == "5"


async def test_dict_return_is_compact_sorted_json_with_a_newline(
    app: Microframework,
) -> None:
    @app.route("/")
    async def index() -> dict[str, Any]:
        return {"b": 1, "a": {"d": [1, 2], "c": None}}

    response = await app.test_client().get("/")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert await response.get_data() == b'{"a":{"c":null,"d":[1,2]},"b":1}\n'


async def test_list_return_is_json(app: Microframework) -> None:
    @app.route("/")
    async def index() -> list[Any]:
        return [3, "x", {"z": 1, "y": 2}]

    response = await app.test_client().get("/")
    assert response.mimetype == "application/json"
    assert await response.get_data() == b'[3,"x",{"y":2,"z":1}]\n'


async def test_response_return_is_sent_unchanged(app: Microframework) -> None:
    @app.route("/")
    async def index() -> Response:
        response = Response("made", status=202, mimetype="text/plain")
        response.headers["X-Made"] = "by hand"
        return response

    response = await app.test_client().get("/")
    assert response.status_code == 202
    assert response.mimetype == "text/plain"
    assert response.headers["X-Made"] == "by hand"
    assert await response.get_data() == b"made"


async def test_response_with_status_and_headers_tuple_overrides_them(
    app: Microframework,
) -> None:
    @app.route("/")
    async def index() -> tuple[Response, int, dict[str, str]]:
        return Response("made"), 201, {"X-Extra": "1"}

    response = await app.test_client().get("/")
    assert response.status_code == 201
    assert response.headers["X-Extra"] == "1"
    assert await response.get_data() == b"made"


async def test_body_and_status_tuple_sets_the_status(app: Microframework) -> None:
    @app.route("/")
    async def index() -> tuple[str, int]:
        return "created", 201

    response = await app.test_client().get("/")
    assert response.status_code == 201
    assert await response.get_data() == b"created"


@pytest.mark.parametrize(
    "headers",
    [{"X-One": "1", "X-Two": "2"}, [("X-One", "1"), ("X-Two", "2")]],
    ids=["dict", "list-of-tuples"],
)
async def test_body_and_headers_tuple_adds_the_headers(
    app: Microframework, headers: Any
) -> None:
    @app.route("/")
    async def index() -> tuple[str, Any]:
        return "body", headers

    response = await app.test_client().get("/")
    assert response.status_code == 200
    assert response.headers["X-One"] == "1"
    assert response.headers["X-Two"] == "2"
    assert await response.get_data() == b"body"


async def test_body_status_and_headers_tuple(app: Microframework) -> None:
    @app.route("/")
    async def index() -> tuple[dict[str, int], int, dict[str, str]]:
        return {"ok": 1}, 418, {"X-Tea": "pot"}

    response = await app.test_client().get("/")
    assert response.status_code == 418
    assert response.headers["X-Tea"] == "pot"
    assert await response.get_json() == {"ok": 1}


async def test_status_given_as_a_string_keeps_code_and_phrase(
    app: Microframework,
) -> None:
    @app.route("/")
    async def index() -> tuple[str, str]:
        return "made", "201 CREATED"

    response = await app.test_client().get("/")
    assert response.status_code == 201
    assert response.status == "201 CREATED"


async def test_async_generator_return_is_streamed_with_status_and_headers(
    app: Microframework,
) -> None:
    @app.route("/")
    async def index() -> Any:
        async def chunks() -> AsyncIterator[str]:
            yield "one,"
            yield "two"

        return chunks(), 201, {"X-Stream": "async"}

    response = await app.test_client().get("/")
    assert response.status_code == 201
    assert response.headers["X-Stream"] == "async"
    assert "Content-Length" not in response.headers
    assert await response.get_data() == b"one,two"


async def test_sync_generator_return_is_streamed_with_status_and_headers(
    app: Microframework,
) -> None:
    @app.route("/")
    async def index() -> Any:
        def chunks() -> Iterator[bytes]:
            yield b"three,"
            yield b"four"

        return chunks(), 202, [("X-Stream", "sync")]

    response = await app.test_client().get("/")
    assert response.status_code == 202
    assert response.headers["X-Stream"] == "sync"
    assert "Content-Length" not in response.headers
    assert await response.get_data() == b"three,four"


async def test_returned_http_exception_becomes_its_error_page(
    app: Microframework,
) -> None:
    @app.route("/")
    async def index() -> NotFound:
        return NotFound()

    response = await app.test_client().get("/")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "Not Found" in await response.get_data(as_text=True)


async def test_none_return_is_a_type_error_naming_the_endpoint(
    app: Microframework,
) -> None:
    @app.route("/", endpoint="forgetful")
    async def index() -> None:
        return None

    with pytest.raises(TypeError, match="'forgetful'.*None"):
        await app.test_client().get("/")


async def test_int_return_is_a_type_error_naming_the_endpoint_and_type(
    app: Microframework,
) -> None:
    @app.route("/")
    async def counter() -> int:
        return 42

    with pytest.raises(TypeError, match="'counter'.*int"):
        await app.test_client().get("/")


@pytest.mark.parametrize(
    ("rv", "count"), [(("body", 200, {}, "extra"), 4), ((), 0), (("body",), 1)]
)
async def test_a_tuple_of_the_wrong_length_is_a_type_error(
    app: Microframework, rv: tuple[Any, ...], count: int
) -> None:
    @app.route("/")
    async def index() -> tuple[Any, ...]:
        return rv

    with pytest.raises(TypeError, match=f"{count} items"):
        await app.test_client().get("/")


@pytest.mark.parametrize("decorator", ["route", "get", "post", "websocket"])
def test_a_route_decorator_without_parentheses_is_a_type_error(
    app: Microframework, decorator: str
) -> None:
    # The view was taken for the rule and the decorator never applied: a 404.
    async def index() -> str:
        return "never routed"

    with pytest.raises(TypeError, match=r"@app.route\('/path'\)"):
        getattr(app, decorator)(index)


def test_an_errorhandler_without_its_argument_is_a_type_error(
    app: Microframework,
) -> None:
    async def on_error(error: Exception) -> str:
        return "never registered"

    with pytest.raises(TypeError, match=r"@app.errorhandler\(404\)"):
        app.errorhandler(on_error)  # type: ignore[arg-type]


@pytest.mark.parametrize("on", ["app", "blueprint"])
def test_a_view_passed_as_the_endpoint_is_a_type_error(
    app: Microframework, on: str
) -> None:
    # add_url_rule("/", index): Flask's order is (rule, endpoint, view_func).
    async def index() -> str:
        return "x"

    target = app if on == "app" else Blueprint("bp", __name__)
    with pytest.raises(TypeError, match="endpoint of '/' must be a str.*view_func="):
        target.add_url_rule("/", index)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="the view of '/x' is a str"):
        target.add_url_rule("/x", "x", "not callable")  # type: ignore[arg-type]


@pytest.mark.parametrize("body", ["text", b"bytes", {"a": 1}, ["x"]])
async def test_a_bytes_status_is_taken_with_every_kind_of_body(
    app: Microframework, body: Any
) -> None:
    # It was decoded only for bodies made into a response later: with a str or bytes
    # body werkzeug got the bytes, and the view answered 500.
    @app.route("/")
    async def index() -> Any:
        return body, b"201 Created"

    response = await app.test_client().get("/")
    assert (response.status_code, response.status) == (201, "201 CREATED")


async def test_a_status_of_the_wrong_type_is_a_type_error_naming_the_view(
    app: Microframework,
) -> None:
    # werkzeug raised AttributeError: 'float' object has no attribute 'strip'.
    @app.route("/")
    async def created() -> tuple[str, float]:
        return "made", 201.0

    with pytest.raises(TypeError, match="'created' returned the status 201.0"):
        await app.test_client().get("/")


async def test_a_bad_value_from_a_before_hook_names_the_hook(
    app: Microframework,
) -> None:
    # The message named the view, which never ran.
    @app.before_request
    async def load_user() -> bool:
        return False

    @app.route("/")
    async def index() -> str:
        return "view"

    with pytest.raises(TypeError, match="before_request function 'load_user'.* bool"):
        await app.test_client().get("/")


async def test_a_sync_decorator_around_an_async_view_works_as_in_flask(
    app: Microframework,
) -> None:
    # Flask's login_required, ported as is, returned the async view's coroutine
    # unawaited: a 500. A class view's decorators wrap an async view even when its
    # methods are plain def, as in Quart.
    def login_required(view: Any) -> Any:
        @functools.wraps(view)
        def wrapper(**kwargs: Any) -> Any:
            if request.args.get("user") is None:
                return redirect(url_for("login"))
            return view(**kwargs)

        return wrapper

    class Users(MethodView):
        decorators = [login_required]

        def get(self) -> str:
            return "users"

    @app.get("/profile/<name>")
    @login_required
    async def profile(name: str) -> str:
        return f"profile of {name}"

    app.add_url_rule("/users", view_func=Users.as_view("users"))
    app.add_url_rule("/login", "login", lambda: "log in")
    client = app.test_client()
    for path, body in (("/users", "users"), ("/profile/ada", "profile of ada")):
        response = await client.get(path, query_string={"user": "ada"})
        assert await response.get_data(as_text=True) == body
        assert (await client.get(path)).headers["Location"] == "/login"


async def test_a_client_leaving_during_a_sync_decorator_leaves_no_stray_coroutine(
    app: Microframework,
) -> None:
    # The thread ran on and returned the view's coroutine to no one: "coroutine
    # 'profile' was never awaited", an error under warnings-as-errors.
    release, returned = threading.Event(), threading.Event()

    def slow_login_check(view: Any) -> Any:
        def wrapper(**kwargs: Any) -> Any:
            release.wait(5)
            try:
                return view(**kwargs)
            finally:
                returned.set()

        return wrapper

    @app.get("/profile")
    @slow_login_check
    async def profile() -> str:
        return "profile"

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        async with app.test_client().request("/profile") as connection:
            await connection.send_complete()
            await connection.disconnect()
        release.set()
        async with asyncio.timeout(5):
            await asyncio.to_thread(returned.wait, 5)
            for _ in range(3):
                await asyncio.sleep(0)  # the step's result, then its done callback
        gc.collect()
    assert not [w for w in caught if "never awaited" in str(w.message)]


async def test_an_async_view_returning_a_coroutine_names_the_missing_await(
    app: Microframework,
) -> None:
    @app.get("/")
    async def index() -> Any:
        return render_template_string("{{ 1 }}")  # no await

    with pytest.raises(
        TypeError, match="returned coroutine \\(never awaited: a missing"
    ):
        await app.test_client().get("/")


async def test_a_view_returning_none_is_named_with_its_method_and_place(
    app: Microframework,
) -> None:
    # The view has returned, so no traceback points at it: the usual cause is a
    # branch for POST with nothing for GET (or for HEAD), which the message shows.
    @app.route("/form", methods=["GET", "POST"])
    async def form() -> Any:
        if request.method == "POST":
            return "posted"

    line = form.__code__.co_firstlineno
    with pytest.raises(TypeError) as raised:
        await app.test_client().get("/form")
    assert f"(for GET /form; form() at {__file__}:{line})" in str(raised.value)


async def test_a_method_view_returning_none_is_named_by_its_method(
    app: Microframework,
) -> None:
    # Not by the function as_view() makes (in microframework's views.py); the path
    # is printable, so a request can't forge lines in the log it goes to.
    class Page(MethodView):
        async def get(self, rest: str) -> Any:
            pass

    app.add_url_rule("/page/<rest>", view_func=Page.as_view("page"))
    line = Page.get.__code__.co_firstlineno
    with pytest.raises(TypeError) as raised:
        await app.test_client().get("/page/a%0Ab")
    assert f"(for GET /page/a\\nb; get() at {__file__}:{line})" in str(raised.value)


async def test_a_bad_value_from_an_error_handler_names_the_handler(
    app: Microframework,
) -> None:
    @app.errorhandler(ValueError)
    async def on_value_error(error: ValueError) -> int:
        return 400

    @app.route("/")
    async def index() -> str:
        raise ValueError("bad")

    with pytest.raises(TypeError, match="error handler for ValueError returned int"):
        await app.test_client().get("/")


async def test_an_after_this_request_function_must_return_the_response(
    app: Microframework, caplog: pytest.LogCaptureFixture
) -> None:
    # It crashed past the app's error handling ('NoneType' object has no attribute
    # 'asgi_headers'): a bare 500 from the server, as after_request's isn't.
    app.testing = False

    @app.route("/")
    async def index() -> str:
        @after_this_request
        def forgetful(response: Any) -> None:
            response.headers["X-Seen"] = "1"

        return "view"

    response = await app.test_client().get("/")
    assert response.status_code == 500
    assert "an after_this_request function returned NoneType" in caplog.text


async def test_bad_return_value_is_a_logged_500_when_not_testing(
    app: Microframework, caplog: pytest.LogCaptureFixture
) -> None:
    app.testing = False

    @app.route("/")
    async def index() -> int:
        return 42

    response = await app.test_client().get("/")
    assert response.status_code == 500
    assert any(
        record.exc_info is not None and record.exc_info[0] is TypeError
        for record in caplog.records
    )


# -- sync views and hooks run in a worker thread -------------------------------------


async def test_sync_view_runs_in_a_worker_thread_with_the_context(
    app: Microframework,
) -> None:
    seen: dict[str, Any] = {}

    @app.before_request
    async def remember() -> None:
        g.user = "ada"

    @app.route("/")
    def index() -> str:
        seen["thread"] = threading.current_thread()
        return f"{request.args['q']}|{g.user}|{current_app.name}"

    response = await app.test_client().get("/", query_string={"q": "hi"})
    assert await response.get_data(as_text=True) == f"hi|ada|{app.name}"
    assert seen["thread"] is not threading.main_thread()


async def _blocked_sync_code_leaves_the_loop_free(
    app: Microframework, started: threading.Event, release: threading.Event
) -> None:
    """``GET /block`` parks sync code on *release*; ``GET /fast`` must still finish."""

    @app.route("/fast")
    async def fast() -> str:
        return "fast"

    client = app.test_client()
    blocked = asyncio.create_task(client.get("/block"))
    try:
        assert await asyncio.to_thread(started.wait, _HANDSHAKE_LIMIT)
        fast_response = await client.get("/fast")
        assert await fast_response.get_data() == b"fast"
        # The loop answered while the sync code still held its thread.
        assert not blocked.done()
    finally:
        release.set()
    response = await blocked
    assert await response.get_data() == b"released"


async def test_blocking_sync_view_does_not_block_other_requests(
    app: Microframework,
) -> None:
    started, release = threading.Event(), threading.Event()

    @app.route("/block")
    def block() -> str:
        started.set()
        return "released" if release.wait(_HANDSHAKE_LIMIT) else "timed out"

    await _blocked_sync_code_leaves_the_loop_free(app, started, release)


async def test_blocking_sync_before_request_does_not_block_other_requests(
    app: Microframework,
) -> None:
    started, release = threading.Event(), threading.Event()

    @app.before_request
    def gate() -> str | None:
        if request.path != "/block":
            return None
        started.set()
        return "released" if release.wait(_HANDSHAKE_LIMIT) else "timed out"

    @app.route("/block")
    async def block() -> str:
        return "the view never runs"

    await _blocked_sync_code_leaves_the_loop_free(app, started, release)


async def test_blocking_sync_error_handler_does_not_block_other_requests(
    app: Microframework,
) -> None:
    started, release = threading.Event(), threading.Event()

    @app.errorhandler(_AppError)
    def handle(error: _AppError) -> str:
        started.set()
        return "released" if release.wait(_HANDSHAKE_LIMIT) else "timed out"

    @app.route("/block")
    async def block() -> str:
        raise _AppError()

    await _blocked_sync_code_leaves_the_loop_free(app, started, release)


# -- hooks ----------------------------------------------------------------------


async def test_before_request_return_skips_the_view_but_not_after_request(
    app: Microframework,
) -> None:
    ran: list[str] = []

    @app.before_request
    async def deny() -> tuple[str, int]:
        return "denied", 403

    @app.after_request
    async def stamp(response: Response) -> Response:
        response.headers["X-After"] = "yes"
        return response

    @app.route("/")
    async def index() -> str:
        ran.append("view")
        return "view"

    response = await app.test_client().get("/")
    assert response.status_code == 403
    assert await response.get_data() == b"denied"
    assert response.headers["X-After"] == "yes"
    assert ran == []


async def test_before_request_returning_none_lets_the_view_run(
    app: Microframework,
) -> None:
    @app.before_request
    async def prepare() -> None:
        g.prepared = "yes"

    @app.route("/")
    async def index() -> str:
        return str(g.prepared)

    response = await app.test_client().get("/")
    assert await response.get_data() == b"yes"


async def test_after_request_receives_and_may_replace_the_response(
    app: Microframework,
) -> None:
    received: list[bytes] = []

    @app.after_request
    async def replace(response: Response) -> Response:
        received.append(await response.get_data())
        return Response("replaced", status=203)

    @app.route("/")
    async def index() -> str:
        return "original"

    response = await app.test_client().get("/")
    assert received == [b"original"]
    assert response.status_code == 203
    assert await response.get_data() == b"replaced"


async def test_after_request_functions_run_in_reverse_registration_order(
    app: Microframework,
) -> None:
    order: list[str] = []

    def make_hook(name: str) -> Any:
        async def hook(response: Response) -> Response:
            order.append(name)
            response.headers.add("X-Order", name)
            return response

        return hook

    for name in ("first", "second", "third"):
        app.after_request(make_hook(name))

    @app.route("/")
    async def index() -> str:
        return "ok"

    response = await app.test_client().get("/")
    assert order == ["third", "second", "first"]
    assert response.headers.getlist("X-Order") == ["third", "second", "first"]


async def test_http_error_raised_in_before_request_is_handled_and_processed(
    app: Microframework,
) -> None:
    @app.before_request
    async def guard() -> None:
        abort(401)

    @app.after_request
    async def stamp(response: Response) -> Response:
        response.headers["X-After"] = "yes"
        return response

    @app.route("/")
    async def index() -> str:
        return "never"

    response = await app.test_client().get("/")
    assert response.status_code == 401
    assert response.headers["X-After"] == "yes"


async def test_after_request_returning_none_is_a_500(
    app: Microframework, caplog: pytest.LogCaptureFixture
) -> None:
    app.testing = False

    @app.after_request
    async def forgetful(response: Response) -> None:
        return None

    @app.route("/")
    async def index() -> str:
        return "ok"

    response = await app.test_client().get("/")
    assert response.status_code == 500
    assert "after_request" in caplog.text


async def test_sync_after_request_runs_too(app: Microframework) -> None:
    @app.after_request
    def stamp(response: Response) -> Response:
        response.headers["X-Thread"] = str(
            threading.current_thread() is threading.main_thread()
        )
        return response

    @app.route("/")
    async def index() -> str:
        return "ok"

    response = await app.test_client().get("/")
    assert response.headers["X-Thread"] == "False"


async def test_after_this_request_runs_before_after_request(
    app: Microframework,
) -> None:
    order: list[str] = []

    @app.after_request
    async def app_wide(response: Response) -> Response:
        order.append("after_request")
        return response

    @app.route("/")
    async def index() -> str:
        @after_this_request
        async def once(response: Response) -> Response:
            order.append("after_this_request")
            response.headers["X-Once"] = "1"
            return response

        return "ok"

    response = await app.test_client().get("/")
    assert order == ["after_this_request", "after_request"]
    assert response.headers["X-Once"] == "1"


async def test_after_this_request_is_for_one_request_only(
    app: Microframework,
) -> None:
    calls: list[str] = []

    @app.route("/register")
    async def register() -> str:
        @after_this_request
        def record(response: Response) -> Response:
            calls.append("ran")
            return response

        return "registered"

    @app.route("/plain")
    async def plain() -> str:
        return "plain"

    client = app.test_client()
    await client.get("/register")
    await client.get("/plain")
    assert calls == ["ran"]


async def test_teardown_runs_with_none_after_a_successful_request(
    app: Microframework,
) -> None:
    torn: list[tuple[str, BaseException | None]] = []

    @app.teardown_request
    async def request_teardown(error: BaseException | None) -> None:
        torn.append(("request", error))

    @app.teardown_appcontext
    async def app_teardown(error: BaseException | None) -> None:
        torn.append(("app", error))

    @app.route("/")
    async def index() -> str:
        return "ok"

    response = await app.test_client().get("/")
    assert response.status_code == 200
    assert torn == [("request", None), ("app", None)]


async def test_teardown_receives_an_unhandled_error(app: Microframework) -> None:
    app.testing = False
    boom = _AppError("boom")
    torn: list[tuple[str, BaseException | None]] = []

    @app.teardown_request
    async def request_teardown(error: BaseException | None) -> None:
        torn.append(("request", error))

    @app.teardown_appcontext
    def app_teardown(error: BaseException | None) -> None:
        torn.append(("app", error))

    @app.route("/")
    async def index() -> str:
        raise boom

    response = await app.test_client().get("/")
    assert response.status_code == 500
    assert torn == [("request", boom), ("app", boom)]


async def test_teardown_receives_the_views_error_when_the_500_handler_fails(
    app: Microframework,
) -> None:
    # As Flask: the error behind the 500, not the 500 page's own (its template missing).
    app.testing = False
    boom = _AppError("boom")
    torn: list[tuple[str, BaseException | None]] = []

    @app.errorhandler(500)
    async def broken_page(error: Exception) -> str:
        raise RuntimeError("no template")

    @app.teardown_request
    async def request_teardown(error: BaseException | None) -> None:
        torn.append(("request", error))

    @app.teardown_websocket
    async def websocket_teardown(error: BaseException | None) -> None:
        torn.append(("websocket", error))

    @app.teardown_appcontext
    def app_teardown(error: BaseException | None) -> None:
        torn.append(("app", error))

    @app.route("/")
    async def index() -> str:
        raise boom

    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.accept()
        raise boom

    with pytest.raises(RuntimeError, match="no template"):
        await app.test_client().get("/")
    assert torn == [("request", boom), ("app", boom)]
    torn.clear()
    with pytest.raises(RuntimeError, match="no template"):
        async with app.test_client().websocket("/ws") as socket:
            await socket.receive()
    assert torn == [("websocket", boom), ("app", boom)]


async def test_teardown_receives_an_error_that_propagates_in_testing(
    app: Microframework,
) -> None:
    torn: list[BaseException | None] = []

    @app.teardown_request
    async def request_teardown(error: BaseException | None) -> None:
        torn.append(error)

    @app.route("/")
    async def index() -> str:
        raise _AppError("boom")

    with pytest.raises(_AppError):
        await app.test_client().get("/")
    assert len(torn) == 1 and isinstance(torn[0], _AppError)


async def test_teardown_runs_after_a_404(app: Microframework) -> None:
    torn: list[tuple[str, BaseException | None]] = []

    @app.teardown_request
    async def request_teardown(error: BaseException | None) -> None:
        torn.append(("request", error))

    @app.teardown_appcontext
    async def app_teardown(error: BaseException | None) -> None:
        torn.append(("app", error))

    response = await app.test_client().get("/missing")
    assert response.status_code == 404
    assert torn == [("request", None), ("app", None)]


async def test_failing_teardown_is_logged_and_later_ones_still_run(
    app: Microframework, caplog: pytest.LogCaptureFixture
) -> None:
    ran: list[str] = []

    # Teardown runs in reverse registration order: "broken" runs before "survivor".
    @app.teardown_request
    async def survivor(error: BaseException | None) -> None:
        ran.append("request survivor")

    @app.teardown_request
    async def broken(error: BaseException | None) -> None:
        raise RuntimeError("teardown exploded")

    @app.teardown_appcontext
    async def app_survivor(error: BaseException | None) -> None:
        ran.append("app survivor")

    @app.teardown_appcontext
    def app_broken(error: BaseException | None) -> None:
        raise RuntimeError("app teardown exploded")

    @app.route("/")
    async def index() -> str:
        return "ok"

    with caplog.at_level(logging.ERROR):
        response = await app.test_client().get("/")
    assert response.status_code == 200
    assert ran == ["request survivor", "app survivor"]
    logged = [r.exc_info[1] for r in caplog.records if r.exc_info is not None]
    assert [str(e) for e in logged] == [
        "teardown exploded",
        "app teardown exploded",
    ]


async def test_hooks_run_for_a_404_and_before_request_sees_no_endpoint(
    app: Microframework,
) -> None:
    seen: list[Any] = []

    @app.before_request
    async def before() -> None:
        seen.append(("endpoint", request.endpoint))

    @app.after_request
    async def after(response: Response) -> Response:
        seen.append(("status", response.status_code))
        response.headers["X-Seen"] = "1"
        return response

    @app.route("/")
    async def index() -> str:
        return "ok"

    response = await app.test_client().get("/missing")
    assert response.status_code == 404
    assert response.headers["X-Seen"] == "1"
    assert seen == [("endpoint", None), ("status", 404)]


# -- error handlers -----------------------------------------------------------------


async def test_errorhandler_by_code_404_handles_unknown_paths(
    app: Microframework,
) -> None:
    @app.errorhandler(404)
    async def not_found(error: NotFound) -> tuple[str, int]:
        return f"no such page ({error.code})", 404

    response = await app.test_client().get("/nowhere")
    assert response.status_code == 404
    assert await response.get_data() == b"no such page (404)"


async def test_errorhandler_by_code_handles_abort(app: Microframework) -> None:
    @app.errorhandler(403)
    async def forbidden(error: Forbidden) -> tuple[str, int]:
        return "go away", 403

    @app.route("/")
    async def index() -> str:
        abort(403)

    response = await app.test_client().get("/")
    assert response.status_code == 403
    assert await response.get_data() == b"go away"


async def test_errorhandler_by_exception_class(app: Microframework) -> None:
    @app.errorhandler(_AppError)
    async def handle(error: _AppError) -> tuple[str, int]:
        return f"handled {error}", 409

    @app.route("/")
    async def index() -> str:
        raise _AppError("conflict")

    response = await app.test_client().get("/")
    assert response.status_code == 409
    assert await response.get_data() == b"handled conflict"


@pytest.mark.parametrize("base_first", [True, False])
async def test_most_specific_exception_handler_wins_whatever_the_order(
    app: Microframework, base_first: bool
) -> None:
    async def base_handler(error: Exception) -> str:
        return f"base:{type(error).__name__}"

    async def specific_handler(error: Exception) -> str:
        return f"specific:{type(error).__name__}"

    registrations = [(_AppError, base_handler), (_SpecificError, specific_handler)]
    if not base_first:
        registrations.reverse()
    for exc_class, handler in registrations:
        app.register_error_handler(exc_class, handler)

    @app.route("/specific")
    async def specific() -> str:
        raise _SpecificError()

    @app.route("/base")
    async def base() -> str:
        raise _AppError()

    client = app.test_client()
    specific_response = await client.get("/specific")
    base_response = await client.get("/base")
    assert await specific_response.get_data() == b"specific:_SpecificError"
    assert await base_response.get_data() == b"base:_AppError"


async def test_handler_for_a_base_class_catches_subclasses(
    app: Microframework,
) -> None:
    @app.errorhandler(LookupError)
    async def lookup(error: LookupError) -> tuple[str, int]:
        return type(error).__name__, 404

    @app.route("/")
    async def index() -> str:
        empty: dict[str, str] = {}
        return empty["missing"]

    response = await app.test_client().get("/")
    assert response.status_code == 404
    assert await response.get_data() == b"KeyError"


async def test_httpexception_handler_catches_every_http_error(
    app: Microframework,
) -> None:
    @app.errorhandler(HTTPException)
    async def any_http(error: HTTPException) -> tuple[str, int]:
        return f"http {error.code}", error.code or 500

    @app.route("/teapot")
    async def teapot() -> str:
        abort(418)

    @app.route("/only-post", methods=["POST"])
    async def only_post() -> str:
        return "posted"

    client = app.test_client()
    responses = [
        await client.get("/missing"),
        await client.get("/teapot"),
        await client.get("/only-post"),
    ]
    assert [r.status_code for r in responses] == [404, 418, 405]
    assert [await r.get_data() for r in responses] == [
        b"http 404",
        b"http 418",
        b"http 405",
    ]


async def test_httpexception_handler_does_not_swallow_slash_redirects(
    app: Microframework,
) -> None:
    @app.errorhandler(HTTPException)
    async def any_http(error: HTTPException) -> str:
        return "swallowed"

    @app.route("/folder/")
    async def folder() -> str:
        return "folder"

    response = await app.test_client().get("/folder")
    assert response.status_code == 308
    assert response.headers["Location"].endswith("/folder/")


async def test_error_handler_returning_none_is_a_500(
    app: Microframework, caplog: pytest.LogCaptureFixture
) -> None:
    app.testing = False

    @app.errorhandler(_AppError)
    async def forgetful(error: _AppError) -> None:
        return None

    @app.route("/")
    async def index() -> str:
        raise _AppError()

    response = await app.test_client().get("/")
    assert response.status_code == 500


async def test_code_handler_beats_the_httpexception_handler(
    app: Microframework,
) -> None:
    @app.errorhandler(HTTPException)
    async def any_http(error: HTTPException) -> str:
        return "generic"

    @app.errorhandler(404)
    async def not_found(error: NotFound) -> str:
        return "specific"

    response = await app.test_client().get("/missing")
    assert await response.get_data() == b"specific"


async def test_register_error_handler_is_the_decorator_without_sugar(
    app: Microframework,
) -> None:
    def handle(error: ValueError) -> tuple[str, int]:
        return f"bad value: {error}", 422

    app.register_error_handler(ValueError, handle)

    @app.route("/")
    async def index() -> str:
        raise ValueError("nope")

    response = await app.test_client().get("/")
    assert response.status_code == 422
    assert await response.get_data() == b"bad value: nope"


def test_registering_an_exception_instance_is_a_type_error(
    app: Microframework,
) -> None:
    with pytest.raises(TypeError, match="instance"):
        app.register_error_handler(ValueError("x"), lambda e: "")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "cls", [str, SystemExit, KeyboardInterrupt, asyncio.CancelledError]
)
def test_registering_a_class_that_is_no_exception_is_a_value_error(
    app: Microframework, cls: type
) -> None:
    # As Flask and Quart: a handler for SystemExit (a BaseException) was taken and
    # never ran; sys.exit() in a view then ended the process.
    with pytest.raises(ValueError, match=f"'{cls.__name__}' is not a subclass of Exc"):
        app.register_error_handler(cls, lambda e: "")


def test_registering_something_that_is_no_class_is_a_type_error(
    app: Microframework,
) -> None:
    with pytest.raises(TypeError, match="'oops' is not an exception class"):
        app.register_error_handler("oops", lambda e: "")  # type: ignore[arg-type]


def test_registering_an_unknown_status_code_is_a_value_error(
    app: Microframework,
) -> None:
    with pytest.raises(ValueError, match="999"):
        app.register_error_handler(999, lambda e: "")
    with pytest.raises(ValueError, match="999"):
        app.errorhandler(999)(lambda e: "")


async def test_default_http_exception_gives_its_code_and_html_page(
    app: Microframework,
) -> None:
    @app.route("/")
    async def index() -> str:
        abort(403)

    response = await app.test_client().get("/")
    body = await response.get_data(as_text=True)
    assert response.status_code == 403
    assert response.mimetype == "text/html"
    assert "<title>403 Forbidden</title>" in body


async def test_unhandled_error_without_testing_is_a_logged_500(
    app: Microframework, caplog: pytest.LogCaptureFixture
) -> None:
    app.testing = False

    @app.route("/")
    async def index() -> str:
        raise _AppError("kaboom")

    with caplog.at_level(logging.ERROR):
        response = await app.test_client().get("/")
    assert response.status_code == 500
    assert "Internal Server Error" in await response.get_data(as_text=True)
    assert "kaboom" not in await response.get_data(as_text=True)
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert errors[0].exc_info is not None and errors[0].exc_info[0] is _AppError
    assert "Traceback" in caplog.text and "kaboom" in caplog.text
    assert "GET /" in errors[0].getMessage()


@pytest.mark.parametrize("where", ["view", "awaited task"])
async def test_a_views_own_cancelled_error_is_a_logged_500(
    app: Microframework, caplog: pytest.LogCaptureFixture, where: str
) -> None:
    # Found by quart-db's suite: the test client raised "returned without sending
    # http.response.start", and servers answered a bare 500 with nothing logged.
    app.testing = False
    torn: list[BaseException | None] = []

    @app.teardown_request
    async def teardown(error: BaseException | None) -> None:
        torn.append(error)

    @app.route("/")
    async def index() -> str:
        if where == "view":
            raise asyncio.CancelledError
        task = asyncio.create_task(asyncio.Event().wait())
        await asyncio.sleep(0)
        task.cancel()  # cancelled elsewhere: awaiting it raises in this view
        await task
        return "unreachable"

    with caplog.at_level(logging.ERROR):
        response = await app.test_client().get("/")
    assert response.status_code == 500
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and errors[0].exc_info is not None
    assert isinstance(errors[0].exc_info[1], RuntimeError)
    assert isinstance(errors[0].exc_info[1].__cause__, asyncio.CancelledError)
    assert len(torn) == 1 and isinstance(torn[0], RuntimeError)


async def test_500_handler_receives_internal_server_error_with_the_original(
    app: Microframework, caplog: pytest.LogCaptureFixture
) -> None:
    app.testing = False
    boom = _AppError("kaboom")
    received: list[Any] = []

    @app.errorhandler(500)
    async def server_error(error: InternalServerError) -> tuple[str, int]:
        received.append(error)
        return "sorry", 500

    @app.route("/")
    async def index() -> str:
        raise boom

    response = await app.test_client().get("/")
    assert response.status_code == 500
    assert await response.get_data() == b"sorry"
    assert len(received) == 1
    assert isinstance(received[0], InternalServerError)
    assert received[0].original_exception is boom


async def test_unhandled_error_propagates_out_of_the_client_when_testing(
    app: Microframework,
) -> None:
    @app.route("/")
    async def index() -> str:
        raise _AppError("visible to the test")

    with pytest.raises(_AppError, match="visible to the test"):
        await app.test_client().get("/")


async def test_propagate_exceptions_false_gives_500_even_when_testing(
    app: Microframework, caplog: pytest.LogCaptureFixture
) -> None:
    app.config["PROPAGATE_EXCEPTIONS"] = False

    @app.route("/")
    async def index() -> str:
        raise _AppError("hidden")

    response = await app.test_client().get("/")
    assert response.status_code == 500


async def test_propagate_exceptions_true_reraises_without_testing(
    app: Microframework,
) -> None:
    app.testing = False
    app.config["PROPAGATE_EXCEPTIONS"] = True

    @app.route("/")
    async def index() -> str:
        raise _AppError("raised")

    with pytest.raises(_AppError):
        await app.test_client().get("/")


async def test_trap_http_exceptions_propagates_http_errors_when_testing(
    app: Microframework,
) -> None:
    app.config["TRAP_HTTP_EXCEPTIONS"] = True

    @app.route("/")
    async def index() -> str:
        abort(404)

    with pytest.raises(NotFound):
        await app.test_client().get("/")


async def test_trap_http_exceptions_turns_http_errors_into_500_when_not_testing(
    app: Microframework, caplog: pytest.LogCaptureFixture
) -> None:
    app.testing = False
    app.config["TRAP_HTTP_EXCEPTIONS"] = True

    @app.route("/")
    async def index() -> str:
        abort(404)

    response = await app.test_client().get("/")
    assert response.status_code == 500


@pytest.mark.parametrize(
    ("trap", "debug", "missing_key", "trapped"),
    [
        (True, False, False, True),  # any BadRequest
        (None, True, True, True),  # debug: a missing form key only
        (None, True, False, False),
        (None, False, True, False),
        (False, True, True, False),
    ],
)
async def test_trap_bad_request_errors_as_in_flask(
    app: Microframework,
    trap: bool | None,
    debug: bool,
    missing_key: bool,
    trapped: bool,
) -> None:
    from werkzeug.exceptions import BadRequest
    from werkzeug.exceptions import BadRequestKeyError

    app.config["TRAP_BAD_REQUEST_ERRORS"] = trap
    app.debug = debug
    error = BadRequestKeyError("name") if missing_key else BadRequest()

    @app.route("/")
    async def index() -> str:
        raise error

    if trapped:
        with pytest.raises(BadRequest):
            await app.test_client().get("/")
    else:
        assert (await app.test_client().get("/")).status_code == 400


async def test_a_rule_without_a_view_is_a_500_naming_its_endpoint(
    app: Microframework, caplog: pytest.LogCaptureFixture
) -> None:
    app.testing = False
    app.add_url_rule("/later", "later")  # its view never registered

    assert (await app.test_client().get("/later")).status_code == 500
    assert "no view function is registered for endpoint 'later'" in caplog.text


async def test_without_trap_http_exceptions_abort_is_a_response_when_testing(
    app: Microframework,
) -> None:
    @app.route("/")
    async def index() -> str:
        abort(404)

    response = await app.test_client().get("/")
    assert response.status_code == 404


@pytest.mark.parametrize(
    "method", ["handle_user_exception", "handle_http_exception", "trap_http_exception"]
)
async def test_an_overridden_error_step_sees_an_abort_with_no_handler_registered(
    method: str,
) -> None:
    # With no handler anywhere an abort answers with its own page at once; a subclass
    # that overrides a step must still be called.
    seen: list[str] = []

    async def handle_user_exception(self: Any, error: Exception, *args: Any) -> Any:
        seen.append("handle_user_exception")
        return await Microframework.handle_user_exception(self, error, *args)

    async def handle_http_exception(self: Any, error: Any, *args: Any) -> Any:
        seen.append("handle_http_exception")
        return await Microframework.handle_http_exception(self, error, *args)

    def trap_http_exception(self: Any, error: Exception) -> bool:
        seen.append("trap_http_exception")
        return Microframework.trap_http_exception(self, error)

    overrides = {
        "handle_user_exception": handle_user_exception,
        "handle_http_exception": handle_http_exception,
        "trap_http_exception": trap_http_exception,
    }
    App = type("App", (Microframework,), {method: overrides[method]})
    app = App(__name__)

    @app.route("/")
    async def index() -> str:
        abort(404)

    response = await app.test_client().get("/")
    assert response.status_code == 404
    assert seen == [method]


async def test_an_untrapped_missing_key_names_the_key_in_debug_mode() -> None:
    class App(Microframework):
        def trap_http_exception(self, error: Exception) -> bool:
            return False

    app = App(__name__)
    app.debug = True

    @app.post("/")
    async def index() -> str:
        return (await request.form)["missing"]

    response = await app.test_client().post("/", form={"other": "1"})
    assert response.status_code == 400
    assert b"KeyError: &#39;missing&#39;" in await response.get_data()


async def test_error_raised_inside_an_error_handler_is_a_500(
    app: Microframework, caplog: pytest.LogCaptureFixture
) -> None:
    app.testing = False

    @app.errorhandler(_AppError)
    async def clumsy(error: _AppError) -> str:
        raise KeyError("handler bug")

    @app.route("/")
    async def index() -> str:
        raise _AppError("first")

    with caplog.at_level(logging.ERROR):
        response = await app.test_client().get("/")
    assert response.status_code == 500
    assert any(
        r.exc_info is not None and r.exc_info[0] is KeyError for r in caplog.records
    )


# -- bad input is the client's fault: 400, never 500 ---------------------------------


def _json_echo(app: Microframework) -> None:
    app.testing = False

    @app.route("/", methods=["POST"])
    async def echo() -> Any:
        return {"got": await request.get_json()}


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b'{"a": ', id="truncated"),
        pytest.param(b"{'single': 'quotes'}", id="bad-syntax"),
        pytest.param(b'{"a": "\xff\xfe"}', id="invalid-utf8"),
        pytest.param(b"[" * 100_000 + b"]" * 100_000, id="nested-100000"),
        pytest.param(b"1" * 100_000, id="int-100000-digits"),
    ],
)
@pytest.mark.parametrize("debug", [False, True])
async def test_malformed_json_body_is_400_naming_the_error_in_debug_mode(
    app: Microframework, caplog: pytest.LogCaptureFixture, body: bytes, debug: bool
) -> None:
    # As Flask and Quart: the parser's message is for the developer only.
    app.debug = debug
    _json_echo(app)

    response = await app.test_client().post(
        "/", data=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    text = await response.get_data(as_text=True)
    assert ("Failed to decode JSON object" in text) is debug
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_valid_json_body_is_parsed(app: Microframework) -> None:
    _json_echo(app)

    response = await app.test_client().post("/", json={"n": [1, 2]})
    assert response.status_code == 200
    assert await response.get_json() == {"got": {"n": [1, 2]}}


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=64))
async def test_any_json_body_is_200_or_400_never_500(body: bytes) -> None:
    app = Microframework(__name__)
    _json_echo(app)

    response = await app.test_client().post(
        "/", data=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code in (200, 400)


async def test_get_json_silent_returns_none_for_a_malformed_body(
    app: Microframework,
) -> None:
    @app.route("/", methods=["POST"])
    async def index() -> str:
        return repr(await request.get_json(silent=True))

    response = await app.test_client().post(
        "/", data=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 200
    assert await response.get_data() == b"None"


async def test_on_json_loading_failed_can_return_the_value_get_json_gives() -> None:
    class LenientRequest(Request):
        def on_json_loading_failed(self, error: Exception | None) -> Any:
            return {"error": "bad json"}

    app = Microframework(__name__)
    app.request_class = LenientRequest

    @app.route("/", methods=["POST"])
    async def index() -> Any:
        first = await request.get_json()
        return {"first": first, "again": await request.json}

    response = await app.test_client().post(
        "/", data=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 200
    assert await response.get_json() == {
        "first": {"error": "bad json"},
        "again": {"error": "bad json"},
    }


async def test_get_json_on_a_non_json_content_type_returns_none(
    app: Microframework,
) -> None:
    @app.route("/", methods=["POST"])
    async def index() -> str:
        return repr(await request.get_json())

    response = await app.test_client().post(
        "/", data=b'{"a": 1}', headers={"Content-Type": "text/plain"}
    )
    assert response.status_code == 200
    assert await response.get_data() == b"None"


async def test_get_json_force_parses_a_non_json_content_type(
    app: Microframework,
) -> None:
    @app.route("/", methods=["POST"])
    async def index() -> Any:
        return {"got": await request.get_json(force=True)}

    response = await app.test_client().post(
        "/", data=b'{"a": 1}', headers={"Content-Type": "text/plain"}
    )
    assert await response.get_json() == {"got": {"a": 1}}


async def test_get_json_force_on_malformed_body_is_still_400(
    app: Microframework,
) -> None:
    app.testing = False

    @app.route("/", methods=["POST"])
    async def index() -> Any:
        return {"got": await request.get_json(force=True)}

    response = await app.test_client().post(
        "/", data=b"{nope", headers={"Content-Type": "text/plain"}
    )
    assert response.status_code == 400


async def test_json_errors_reach_a_bad_request_handler(app: Microframework) -> None:
    @app.errorhandler(BadRequest)
    async def bad(error: BadRequest) -> tuple[dict[str, str], int]:
        return {"error": "bad json"}, 400

    _json_echo(app)
    response = await app.test_client().post(
        "/", data=b"{", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert await response.get_json() == {"error": "bad json"}


async def test_a_views_own_304_carries_no_representation_headers(
    app: Microframework,
) -> None:
    # RFC 9110 8.6 and 15.4.5, as werkzeug strips them: "Content-Length: 0" is not
    # the size the 200 would have had.
    @app.route("/")
    async def index() -> Any:
        return "", 304, {"ETag": '"v1"', "Cache-Control": "max-age=60"}

    response = await app.test_client().get("/")
    assert response.status_code == 304
    assert "Content-Length" not in response.headers
    assert "Content-Type" not in response.headers
    assert response.headers["ETag"] == '"v1"'
    assert response.headers["Cache-Control"] == "max-age=60"


async def test_the_debug_page_of_an_error_whose_str_fails_is_still_shown() -> None:
    class BadStr(Exception):
        def __str__(self) -> str:
            raise RuntimeError("__str__ failed")

    app = Microframework(__name__)
    app.debug = True

    @app.route("/")
    async def index() -> str:
        raise BadStr()

    response = await app.test_client().get("/")
    assert response.status_code == 500
    assert "BadStr" in await response.get_data(as_text=True)


async def test_the_debug_page_of_a_message_with_a_lone_surrogate_is_shown() -> None:
    # A file name from os.fsdecode of bytes that aren't UTF-8, put in a message: the
    # page's strict encoding raised, and the server sent its own bare 500.
    app = Microframework(__name__)
    app.debug = True

    @app.route("/")
    async def index() -> str:
        name = b"upload-\xff.txt".decode("utf-8", "surrogateescape")
        raise ValueError(f"cannot read {name}")

    response = await app.test_client().get("/")
    assert response.status_code == 500
    assert "cannot read upload-\\udcff.txt" in await response.get_data(as_text=True)


async def test_a_coroutine_given_as_a_background_task_is_refused_in_the_view() -> None:
    # add_background_task(task()) instead of (task): it failed after the response, in
    # a worker thread, naming neither the view nor the mistake.
    app = Microframework(__name__)

    async def task() -> None:
        pass

    @app.route("/")
    async def index() -> str:
        app.add_background_task(task())  # type: ignore[arg-type]
        return "ok"

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "coroutine was never awaited"
        response = await app.test_client().get("/")
        gc.collect()
    assert response.status_code == 500
    assert not app.background_tasks


def test_a_foreign_blueprint_is_refused_naming_its_class() -> None:
    # A left-over 'from quart import Blueprint' has the same repr as ours: the message
    # read "takes a Blueprint, not <Blueprint 'bp'>".
    class Blueprint:
        def __repr__(self) -> str:
            return "<Blueprint 'bp'>"

    with pytest.raises(TypeError) as raised:
        Microframework(__name__).register_blueprint(Blueprint())  # type: ignore[arg-type]
    assert f"not a {__name__}.test_a_foreign_blueprint" in str(raised.value)
    assert "microframework.Blueprint" in str(raised.value)


def test_a_non_callable_background_task_is_refused_and_left_open() -> None:
    # Only a coroutine is closed (so that it isn't "never awaited"): another object
    # given by mistake is the caller's, and stays as it was.
    app = Microframework(__name__)
    closed: list[bool] = []

    class Resource:
        def close(self) -> None:
            closed.append(True)

    with pytest.raises(TypeError, match="takes the function and its arguments"):
        app.add_background_task(Resource())  # type: ignore[arg-type]
    assert closed == []
