"""App and request contexts: the proxies, pushing and popping, copies, and isolation.

Concurrent requests must never see each other's ``request`` or ``g``, and nothing set in
one request may leak into the next.
"""

from __future__ import annotations

import asyncio
import contextvars
import io
from typing import Any
from typing import cast

import pytest
from werkzeug.local import LocalProxy

from microframework import abort
from microframework import after_this_request
from microframework import copy_current_app_context
from microframework import copy_current_request_context
from microframework import current_app
from microframework import g
from microframework import has_app_context
from microframework import has_request_context
from microframework import has_websocket_context
from microframework import Microframework
from microframework import request
from microframework import Response
from microframework import url_for
from microframework import websocket
from microframework.wrappers import Request


def _unproxied(proxy: Any) -> Any:
    """The object behind a werkzeug ``LocalProxy``, to compare identities."""
    return cast(Any, proxy)._get_current_object()


# -- pushing contexts by hand ---------------------------------------------------------


async def test_app_context_gives_current_app_and_g(app: Microframework) -> None:
    async with app.app_context():
        assert _unproxied(current_app) is app
        g.answer = 42
        assert g.answer == 42
        assert g.get("missing", "default") == "default"
        assert "answer" in g


async def test_g_of_one_app_context_is_not_seen_by_the_next(
    app: Microframework,
) -> None:
    async with app.app_context():
        g.leftover = "from the first"
    async with app.app_context():
        assert "leftover" not in g


async def test_test_request_context_gives_a_full_request(app: Microframework) -> None:
    @app.route("/p", methods=["POST"])
    async def page() -> str:
        return "page"

    @app.route("/other/<int:n>")
    async def other(n: int) -> str:
        return "other"

    async with app.test_request_context("/p?x=1", method="POST", json={"k": [1]}):
        assert request.path == "/p"
        assert request.args["x"] == "1"
        assert request.method == "POST"
        assert request.endpoint == "page"
        assert await request.get_json() == {"k": [1]}
        assert url_for("other", n=5) == "/other/5"
        assert url_for("page", _external=True) == "http://localhost/p"
        assert _unproxied(current_app) is app


async def test_has_context_functions_inside_and_outside(
    app: Microframework,
) -> None:
    assert (has_app_context(), has_request_context()) == (False, False)
    async with app.app_context():
        assert (has_app_context(), has_request_context()) == (True, False)
    async with app.test_request_context("/"):
        assert (has_app_context(), has_request_context()) == (True, True)
    assert (has_app_context(), has_request_context()) == (False, False)


async def test_has_request_context_is_true_in_a_view(app: Microframework) -> None:
    @app.route("/")
    async def index() -> str:
        return f"{has_app_context()} {has_request_context()}"

    response = await app.test_client().get("/")
    assert await response.get_data() == b"True True"


async def test_nested_contexts_restore_the_outer_one(app: Microframework) -> None:
    async with app.test_request_context("/outer"):
        async with app.test_request_context("/inner"):
            assert request.path == "/inner"
        assert request.path == "/outer"


def test_request_outside_a_context_is_a_runtime_error() -> None:
    with pytest.raises(RuntimeError, match="outside of request context"):
        request.path  # noqa: B018 - the attribute access is the behaviour under test


async def test_request_in_an_app_context_only_is_a_runtime_error(
    app: Microframework,
) -> None:
    async with app.app_context():
        with pytest.raises(RuntimeError, match="outside of request context"):
            request.path  # noqa: B018


async def test_forwarded_names_fail_as_the_generic_lookup_does(
    app: Microframework,
) -> None:
    # The forwarded names ("path", "send", ...) read in C and fall back to the
    # proxy's __getattr__ on any failure: each case must still say what went wrong.
    with pytest.raises(RuntimeError, match="outside of websocket context"):
        websocket.send  # noqa: B018 - no context at all
    async with app.test_request_context("/"):
        with pytest.raises(RuntimeError, match="outside of websocket context"):
            websocket.send  # noqa: B018 - a request, not a websocket
    async with app.app_context():
        with pytest.raises(RuntimeError, match="outside of request context"):
            request.args  # noqa: B018 - an app context without a request

    class Broken(Request):
        @property
        def args(self) -> Any:
            raise AttributeError("the request's own error")

    app.request_class = Broken
    async with app.test_request_context("/"):
        with pytest.raises(AttributeError, match="the request's own error"):
            request.args  # noqa: B018


def test_current_app_and_g_outside_a_context_are_runtime_errors() -> None:
    with pytest.raises(RuntimeError, match="outside of application context"):
        current_app.name  # noqa: B018
    with pytest.raises(RuntimeError, match="outside of application context"):
        g.anything  # noqa: B018
    with pytest.raises(RuntimeError, match="outside of application context"):
        g.anything = 1
    with pytest.raises(RuntimeError, match="outside of application context"):
        "anything" in g  # noqa: B015


async def test_the_request_proxy_reads_every_attribute_from_the_current_request(
    app: Microframework,
) -> None:
    seen: list[Any] = []

    @app.get("/<name>")
    async def index(name: str) -> str:
        real = request._get_current_object()  # type: ignore[attr-defined]
        # Names the proxy forwards from its class, and one it looks up generically.
        for attribute in ("args", "path", "view_args", "method", "accept_mimetypes"):
            seen.append(getattr(request, attribute) == getattr(real, attribute))
        seen.append(await request.get_data() == b"")
        return "ok"

    await app.test_client().get("/x?a=1")
    assert seen == [True] * 6


async def test_g_behaves_as_its_namespace(app: Microframework) -> None:
    async with app.app_context() as ctx:
        g.user = "ada"
        assert ctx.g.user == "ada"
        assert "user" in g
        assert list(g) == ["user"]
        assert g.get("missing", 1) == 1
        assert g.pop("user") == "ada"
        g.other = 2
        del g.other
        assert "other" not in g
        assert bool(g) is True  # a proxy bound to a context, as werkzeug's
        assert g.pop("missing", "fallback") == "fallback"
        with pytest.raises(KeyError):
            g.pop("missing")
        assert g.setdefault("cart", []) == [] and g.setdefault("cart", [1]) == []
        with pytest.raises(AttributeError, match="missing"):
            del g.missing
        assert repr(g) == f"<microframework.g of '{app.name}'>"


async def test_pushing_a_context_twice_is_a_runtime_error(
    app: Microframework,
) -> None:
    ctx = app.app_context()
    await ctx.push()
    try:
        with pytest.raises(RuntimeError):
            await ctx.push()
    finally:
        await ctx.pop()
    assert not has_app_context()


async def test_popping_a_context_never_pushed_is_a_runtime_error(
    app: Microframework,
) -> None:
    with pytest.raises(RuntimeError):
        await app.app_context().pop()


async def test_popping_a_context_that_is_not_the_active_one_is_a_runtime_error(
    app: Microframework,
) -> None:
    outer = app.app_context()
    inner = app.app_context()
    await outer.push()
    await inner.push()
    try:
        with pytest.raises(RuntimeError):
            await outer.pop()
        assert _unproxied(g) is inner.g  # the failed pop changed nothing
    finally:
        await inner.pop()
        await outer.pop()
    assert not has_app_context()


async def test_popping_a_context_runs_teardown_once(app: Microframework) -> None:
    torn: list[BaseException | None] = []

    @app.teardown_appcontext
    async def teardown(error: BaseException | None) -> None:
        torn.append(error)

    async with app.app_context():
        pass
    assert torn == [None]


async def test_error_leaving_a_context_reaches_teardown(app: Microframework) -> None:
    torn: list[BaseException | None] = []

    @app.teardown_appcontext
    async def teardown(error: BaseException | None) -> None:
        torn.append(error)

    with pytest.raises(KeyError):
        async with app.app_context():
            raise KeyError("inside")
    assert len(torn) == 1 and isinstance(torn[0], KeyError)


def test_after_this_request_outside_a_request_is_a_runtime_error() -> None:
    with pytest.raises(RuntimeError):
        after_this_request(lambda response: response)


async def test_after_this_request_in_an_app_context_only_is_a_runtime_error(
    app: Microframework,
) -> None:
    async with app.app_context():
        with pytest.raises(RuntimeError):
            after_this_request(lambda response: response)


async def test_after_this_request_in_an_app_context_pushed_in_a_view_applies(
    app: Microframework,
) -> None:
    # Flask and Quart apply it to the view's response; it was dropped silently
    # (review9, session 31).
    @app.route("/")
    async def index() -> str:
        async with app.app_context():

            @after_this_request
            def mark(response: Any) -> Any:
                response.headers["X-After"] = "1"
                return response

        return "ok"

    response = await app.test_client().get("/")
    assert response.headers.get("X-After") == "1"


# -- copied contexts -----------------------------------------------------------------


def _in_a_bare_context(coro: Any) -> asyncio.Task[Any]:
    """Run *coro* in a task that inherits no context variables at all.

    ``create_task`` normally copies the caller's context, which would hide whether the
    copy decorators do their job.
    """
    return asyncio.create_task(coro, context=contextvars.Context())


async def test_preprocess_request_runs_the_before_hooks_as_quarts_guide_tests(
    app: Microframework,
) -> None:
    @app.url_value_preprocessor
    def pull_lang(endpoint: str | None, values: dict[str, Any] | None) -> None:
        g.lang = (values or {}).pop("lang", None)

    @app.before_request
    async def load() -> str | None:
        g.loaded = True
        return "stop" if request.args.get("stop") else None

    @app.get("/<lang>/page")
    async def page() -> str:
        return "page"

    async with app.test_request_context("/en/page"):
        assert await app.preprocess_request() is None
        assert (g.lang, g.loaded, request.view_args) == ("en", True, {})
    async with app.test_request_context("/en/page?stop=1"):
        assert await app.preprocess_request() == "stop"
    with pytest.raises(RuntimeError, match="context"):
        await app.preprocess_request()


async def test_the_context_proxies_of_flasks_useful_internals(
    app: Microframework,
) -> None:
    # flask.globals.app_ctx / request_ctx (Quart's too): older extensions (quart-auth
    # 0.8) keep per-request state on the request's context.
    from microframework.globals import app_ctx
    from microframework.globals import request_ctx
    from microframework.globals import websocket_ctx

    @app.before_request
    async def load_user() -> None:
        request_ctx.user = "ada"  # type: ignore[attr-defined]

    @app.get("/")
    async def index() -> str:
        assert request_ctx.request is _unproxied(request)
        assert _unproxied(app_ctx) is _unproxied(request_ctx)
        with pytest.raises(RuntimeError, match="websocket context"):
            _ = websocket_ctx.app
        assert g.user == "ada"  # the context has fixed slots: such names live in g
        return str(request_ctx.user)  # type: ignore[attr-defined]

    @app.websocket("/ws")
    async def ws() -> None:
        assert websocket_ctx.websocket is _unproxied(websocket)
        await websocket.send("ok")

    client = app.test_client()
    assert await (await client.get("/")).get_data(as_text=True) == "ada"
    assert await (await client.get("/")).get_data(as_text=True) == "ada"
    async with client.websocket("/ws") as socket:
        assert await socket.receive() == "ok"
    async with app.app_context():
        assert app_ctx.app is app
        with pytest.raises(RuntimeError, match="request context"):
            _ = request_ctx.request
        assert not hasattr(app_ctx, "user")  # nothing leaked from the requests
    with pytest.raises(RuntimeError, match="application context"):
        _ = app_ctx.app


async def test_websocket_context_and_make_aborter_as_in_quart_and_flask() -> None:
    from werkzeug.exceptions import Aborter

    from microframework.wrappers import Websocket

    class Teapots(Aborter):
        pass

    class App(Microframework):
        def make_aborter(self) -> Aborter:
            return Teapots()

    app = App(__name__)
    assert isinstance(app.aborter, Teapots)
    scope = {"type": "websocket", "path": "/ws", "query_string": b"", "headers": []}
    socket = Websocket(scope, None, None, app)  # type: ignore[arg-type]
    async with app.websocket_context(socket):
        assert websocket._get_current_object() is socket  # type: ignore[attr-defined]
        assert has_websocket_context()


async def test_abort_goes_through_a_custom_aborter() -> None:
    # A fast path skips werkzeug's Aborter; a subclass's __call__ must still run.
    from werkzeug.exceptions import Aborter

    class Refused(Exception):
        pass

    class Refusing(Aborter):
        def __call__(self, code: Any, *args: Any, **kwargs: Any) -> Any:
            raise Refused(code)

    class App(Microframework):
        def make_aborter(self) -> Aborter:
            return Refusing()

    app = App(__name__)
    async with app.app_context():
        with pytest.raises(Refused):
            abort(404)


async def test_copy_current_request_context_shares_request_and_g(
    app: Microframework,
) -> None:
    @app.route("/")
    async def index() -> Any:
        g.marker = object()
        original = (_unproxied(request), _unproxied(g), g.marker)

        @copy_current_request_context
        async def background() -> Any:
            return (_unproxied(request), _unproxied(g), g.marker), request.args["q"]

        seen, q = await _in_a_bare_context(background())
        return {"same": seen == original, "q": q}

    response = await app.test_client().get("/?q=copied")
    assert await response.get_json() == {"same": True, "q": "copied"}


@pytest.mark.parametrize("body", [None, b"", b"abc"])
async def test_a_copied_request_context_reads_the_body_from_another_task(
    app: Microframework, body: bytes | None
) -> None:
    # The view waits first, so the disconnect watch starts and may take a bodiless
    # request's one empty message: the task's read must not wait for it.
    @app.post("/")
    async def index() -> bytes:
        @copy_current_request_context
        async def read() -> bytes:
            data: bytes = await request.get_data()
            return data

        return await _in_a_bare_context(read())

    async with asyncio.timeout(5):
        response = await app.test_client().post("/", data=body)
    assert await response.get_data() == (body or b"")


async def test_copy_current_request_context_wraps_sync_functions(
    app: Microframework,
) -> None:
    @app.route("/")
    async def index() -> str:
        g.name = "sync"

        @copy_current_request_context
        def background() -> str:
            return f"{request.path} {g.name}"

        return str(await _in_a_bare_context(background()))

    response = await app.test_client().get("/")
    assert await response.get_data() == b"/ sync"


async def test_copied_request_context_outlives_the_request(
    app: Microframework,
) -> None:
    tasks: list[asyncio.Task[Any]] = []
    release = asyncio.Event()

    @app.route("/")
    async def index() -> str:
        g.who = "original"

        @copy_current_request_context
        async def background() -> str:
            await release.wait()
            return f"{request.args['q']} {g.who}"

        tasks.append(_in_a_bare_context(background()))
        return "started"

    response = await app.test_client().get("/?q=later")
    assert await response.get_data() == b"started"
    release.set()
    assert await tasks[0] == "later original"


async def test_copy_current_app_context_shares_app_and_g(
    app: Microframework,
) -> None:
    async with app.app_context():
        g.value = "shared"
        original_g = _unproxied(g)

        @copy_current_app_context
        async def background() -> tuple[Any, Any, str]:
            g.written = "back"
            return _unproxied(current_app), _unproxied(g), g.value

        seen_app, seen_g, value = await _in_a_bare_context(background())
        assert seen_app is app
        assert seen_g is original_g
        assert value == "shared"
        assert g.written == "back"


async def test_copy_current_app_context_from_a_view_shares_g(
    app: Microframework,
) -> None:
    @app.route("/")
    async def index() -> str:
        g.token = "from the view"

        @copy_current_app_context
        async def background() -> str:
            return f"{current_app.name}: {g.token}"

        return str(await _in_a_bare_context(background()))

    response = await app.test_client().get("/")
    assert await response.get_data(as_text=True) == f"{app.name}: from the view"


async def test_copied_context_does_not_run_teardown(app: Microframework) -> None:
    torn: list[str] = []

    @app.teardown_request
    async def request_teardown(error: BaseException | None) -> None:
        torn.append("request")

    @app.teardown_appcontext
    async def app_teardown(error: BaseException | None) -> None:
        torn.append("app")

    @app.route("/")
    async def index() -> str:
        @copy_current_request_context
        async def request_copy() -> str:
            return "r"

        @copy_current_app_context
        async def app_copy() -> str:
            return "a"

        first = await _in_a_bare_context(request_copy())
        second = await _in_a_bare_context(app_copy())
        torn.append("view done")
        return f"{first}{second}"

    response = await app.test_client().get("/")
    assert await response.get_data() == b"ra"
    assert torn == ["view done", "request", "app"]


def test_copy_current_request_context_outside_a_request_is_a_runtime_error() -> None:
    with pytest.raises(RuntimeError):
        copy_current_request_context(lambda: None)


async def test_copy_current_request_context_in_an_app_context_only_is_a_runtime_error(
    app: Microframework,
) -> None:
    async with app.app_context():
        with pytest.raises(RuntimeError):
            copy_current_request_context(lambda: None)


def test_copy_current_app_context_outside_a_context_is_a_runtime_error() -> None:
    with pytest.raises(RuntimeError):
        copy_current_app_context(lambda: None)


# -- isolation between requests --------------------------------------------------


async def test_concurrent_requests_each_see_their_own_request_and_g(
    app: Microframework,
) -> None:
    count = 50
    started = 0
    all_started = asyncio.Event()

    @app.before_request
    async def remember() -> None:
        g.n = request.args["n"]

    @app.route("/")
    async def index() -> str:
        nonlocal started
        before = (request.args["n"], g.n)
        started += 1
        if started == count:
            all_started.set()
        # Every request is suspended here at once, so their contexts interleave.
        await all_started.wait()
        return f"{before[0]}/{before[1]}/{request.args['n']}/{g.n}"

    @app.after_request
    async def check(response: Response) -> Response:
        response.headers["X-N"] = str(g.n)
        return response

    client = app.test_client()
    responses = await asyncio.gather(
        *(client.get("/", query_string={"n": str(i)}) for i in range(count))
    )
    assert started == count
    for i, response in enumerate(responses):
        assert await response.get_data(as_text=True) == f"{i}/{i}/{i}/{i}"
        assert response.headers["X-N"] == str(i)


async def test_g_set_in_one_request_is_not_visible_in_the_next(
    app: Microframework,
) -> None:
    @app.route("/set")
    async def set_value() -> str:
        g.secret = "first request"
        return "set"

    @app.route("/get")
    async def get_value() -> str:
        return str(g.get("secret", "absent"))

    client = app.test_client()
    await client.get("/set")
    response = await client.get("/get")
    assert await response.get_data() == b"absent"


async def test_no_context_leaks_to_the_caller_after_a_request(
    app: Microframework,
) -> None:
    @app.route("/")
    async def index() -> str:
        g.value = 1
        return "ok"

    await app.test_client().get("/")
    assert not has_app_context()
    assert not has_request_context()


async def test_test_request_context_keeps_an_explicit_content_type() -> None:
    app = Microframework(__name__)
    async with app.test_request_context(
        "/", method="POST", json={}, headers={"Content-Type": "application/vnd.x+json"}
    ):
        from microframework import request as current

        assert current.content_type == "application/vnd.x+json"
        assert await current.get_json() == {}


@pytest.mark.parametrize("touched_first", [False, True])
async def test_a_session_written_in_a_copied_context_is_saved(
    touched_first: bool,
) -> None:
    # The view had not touched the session: the copy opened one of its own, whose
    # writes no response saved (Quart and Flask share the session with the copy).
    from microframework import session

    app = Microframework(__name__)
    app.secret_key = "k"

    @app.route("/set")
    async def store() -> str:
        if touched_first:
            session.get("x")

        @copy_current_request_context
        async def work() -> None:
            session["x"] = 1

        await work()
        return repr(session.get("x"))

    @app.route("/get")
    async def read() -> str:
        return repr(session.get("x"))

    client = app.test_client()
    stored = await client.get("/set")
    assert await stored.get_data() == b"1"
    assert await (await client.get("/get")).get_data() == b"1"


async def test_pop_without_an_error_inside_except_passes_the_error_handled() -> None:
    # As Flask and Quart (sys.exc_info()): teardown got None.
    app = Microframework(__name__)
    got: list[str] = []

    @app.teardown_request
    async def torn(error: BaseException | None) -> None:
        got.append(type(error).__name__)

    ctx = app.test_request_context("/")
    await ctx.push()
    try:
        raise ValueError("x")
    except ValueError:
        await ctx.pop()
    assert got == ["ValueError"]


async def test_an_app_context_pushed_in_a_view_keeps_the_request() -> None:
    # As Flask 3.1 and Quart: request, url_for and the session stay; g is new; its
    # pop tears down the app context only (the request's teardown runs once, later).
    from microframework import session

    app = Microframework(__name__)
    app.secret_key = "k"
    torn: list[str] = []

    @app.teardown_request
    async def request_done(error: BaseException | None) -> None:
        torn.append("request")

    @app.teardown_appcontext
    async def app_done(error: BaseException | None) -> None:
        torn.append("app")

    @app.route("/")
    async def index() -> Any:
        g.outer = True
        async with current_app.app_context():
            seen = {
                "request": has_request_context() and request.path,
                "url": url_for("index"),
                "g": "outer" in g,
            }
            session["x"] = 1
        return seen

    response = await app.test_client().get("/")
    assert await response.get_json() == {"request": "/", "url": "/", "g": False}
    assert "session=" in response.headers["Set-Cookie"]
    assert torn == ["app", "request", "app"]


@pytest.mark.parametrize("make", ["app_context", "test_request_context"])
def test_a_plain_with_names_async_with(app: Microframework, make: str) -> None:
    # Flask's `with app.app_context():` would otherwise fail with Python's bare
    # "does not support the context manager protocol".
    context = getattr(app, make)()
    with pytest.raises(TypeError, match=f"'async with app.{make}\\(\\):'"):
        with context:
            pass


async def test_a_context_popped_from_a_task_it_was_not_pushed_in_is_refused(
    app: Microframework,
) -> None:
    # A task's contextvars are a copy: the context is active there, but its pop would
    # run teardown and then fail to reset, leaving it half popped where it was pushed.
    torn: list[object] = []

    @app.teardown_request
    async def teardown(error: BaseException | None) -> None:
        torn.append(error)

    ctx = app.test_request_context("/")
    await ctx.push()
    with pytest.raises(RuntimeError, match="not the active one"):
        await asyncio.create_task(ctx.pop())
    assert torn == []
    assert request.path == "/"
    await ctx.pop()
    assert torn == [None]
    assert not has_request_context()


async def test_a_missing_request_or_websocket_says_what_the_context_holds(
    app: Microframework,
) -> None:
    # The generic message sends the reader to test_request_context(); a websocket
    # handler using `request`, or a background task, has a context of another kind.
    async with app.app_context():
        with pytest.raises(RuntimeError, match="app context has no request"):
            request.path  # noqa: B018
    async with app.test_request_context("/"):
        with pytest.raises(RuntimeError, match="use 'request', not 'websocket'"):
            websocket.path  # noqa: B018
    seen: list[str] = []

    @app.websocket("/ws")
    async def handler() -> None:
        try:
            request.args  # noqa: B018
        except RuntimeError as error:
            seen.append(str(error))
        await websocket.accept()

    async with app.test_client().websocket("/ws"):
        pass
    assert "use 'websocket'" in seen[0]
    assert seen[0].startswith("Working outside of request context.")


@pytest.mark.parametrize("given", ["global", "own proxy", "proxy of the global"])
async def test_request_context_given_the_request_global_holds_the_request(
    app: Microframework, given: str
) -> None:
    # streaming.md's `app.request_context(request)` in a view: the context held the
    # proxy, which then resolved to itself, and the process died of a C stack
    # overflow (docsrun4, session 31); Quart answers 500 (RecursionError). An app's
    # own LocalProxy of the request did too (review11 9).
    torn: list[str] = []
    proxies = {
        "global": request,
        "own proxy": LocalProxy(lambda: request._get_current_object()),  # type: ignore[attr-defined]
        "proxy of the global": LocalProxy(lambda: request),
    }

    @app.teardown_request
    async def count(_error: BaseException | None) -> None:
        torn.append(request.path)

    @app.post("/x")
    async def index() -> str:
        async with app.request_context(proxies[given]):  # type: ignore[arg-type]
            path = request.path
        # The request under way: not torn down, nor its files closed, by the inner
        # context (review11).
        upload = (await request.files)["f"]
        return f"{path} {upload.read().decode()}"

    response = await app.test_client().post(
        "/x", files={"f": (io.BytesIO(b"data"), "f.txt")}
    )
    assert await response.get_data(as_text=True) == "/x data"
    assert torn == ["/x"]


async def test_websocket_context_given_the_websocket_global_holds_it(
    app: Microframework,
) -> None:
    @app.websocket("/ws")
    async def ws() -> None:
        async with app.websocket_context(websocket):
            await websocket.send(websocket.path)

    async with app.test_client().websocket("/ws") as connection:
        assert await connection.receive() == "/ws"


def test_a_proxy_that_resolves_to_itself_is_an_error_not_a_hang(
    app: Microframework,
) -> None:
    # The unwrapping of a proxy given to request_context looped for ever (review12);
    # before it, the process died of a stack overflow.
    endless: Any = LocalProxy(lambda: endless)
    with pytest.raises(RuntimeError, match="resolves to a proxy"):
        app.request_context(endless)
