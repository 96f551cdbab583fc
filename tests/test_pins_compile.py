"""What freezing the app decides: when a str return may skip making a response."""

from __future__ import annotations

from typing import Any

from asgi_harness import call
from asgi_harness import http_scope

from microframework import Microframework
from microframework import request
from microframework import websocket
from microframework.blueprints import Blueprint
from microframework.wrappers.response import Response


async def test_a_str_goes_through_an_overridden_make_response(
    app: Microframework,
) -> None:
    # An app class's make_response sees every return value, a plain str included:
    # the fast path that skips it is only for the default one.
    class App(Microframework):
        async def make_response(self, rv: Any) -> Response:
            response = await super().make_response(rv)
            response.headers["X-Made"] = "yes"
            return response

    custom = App(__name__)

    @custom.route("/")
    async def index() -> str:
        return "hi"

    response = await custom.test_client().get("/")
    assert response.headers.get("X-Made") == "yes"
    assert await response.get_data() == b"hi"


async def test_a_str_is_made_with_a_response_class_of_the_apps_own_init(
    app: Microframework,
) -> None:
    # A response class whose __init__ adds to every response gets str returns too.
    class Stamped(Response):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.headers["X-Stamp"] = "1"

    app.response_class = Stamped

    @app.route("/")
    async def index() -> str:
        return "hi"

    rec = await call(app, http_scope("/"))
    assert rec.headers.get(b"x-stamp") == b"1"
    assert rec.body == b"hi"


async def test_a_str_is_sent_with_a_response_class_of_the_apps_own_headers(
    app: Microframework,
) -> None:
    # A response class overriding asgi_headers decides the headers of a str too.
    class Tagged(Response):
        def asgi_headers(self) -> list[tuple[bytes, bytes]]:
            return [*super().asgi_headers(), (b"x-tag", b"t")]

    app.response_class = Tagged

    @app.route("/")
    async def index() -> str:
        return "hi"

    rec = await call(app, http_scope("/"))
    assert rec.headers.get(b"x-tag") == b"t"


async def test_a_str_gets_no_content_length_when_the_class_sets_none(
    app: Microframework,
) -> None:
    # automatically_set_content_length = False is honoured for a str as for a body.
    class NoLength(Response):
        automatically_set_content_length = False

    app.response_class = NoLength

    @app.route("/")
    async def index() -> str:
        return "hi"

    rec = await call(app, http_scope("/"))
    assert b"content-length" not in rec.headers
    assert rec.body == b"hi"


async def test_a_str_gets_no_content_type_when_the_class_has_no_default_mimetype(
    app: Microframework,
) -> None:
    class Untyped(Response):
        default_mimetype = None

    app.response_class = Untyped

    @app.route("/")
    async def index() -> str:
        return "hi"

    rec = await call(app, http_scope("/"))
    assert rec.status == 200
    assert b"content-type" not in rec.headers
    assert rec.body == b"hi"


async def test_url_value_preprocessors_run_from_the_app_inward(
    app: Microframework,
) -> None:
    # As Flask's: the app's url_value_preprocessor first, then the blueprint's.
    order: list[str] = []
    bp = Blueprint("bp", __name__)

    @app.url_value_preprocessor
    def outer(endpoint: str | None, values: dict[str, Any] | None) -> None:
        order.append("app")

    @bp.url_value_preprocessor
    def inner(endpoint: str | None, values: dict[str, Any] | None) -> None:
        order.append("bp")

    @bp.route("/<x>")
    async def view(x: str) -> str:
        return x

    app.register_blueprint(bp)
    assert (await app.test_client().get("/1")).status_code == 200
    assert order == ["app", "bp"]


async def test_teardown_request_functions_run_last_registered_first(
    app: Microframework,
) -> None:
    # As Flask's do_teardown_request: reversed registration order.
    order: list[str] = []

    @app.teardown_request
    def first(exc: BaseException | None) -> None:
        order.append("first")

    @app.teardown_request
    def second(exc: BaseException | None) -> None:
        order.append("second")

    @app.route("/")
    async def index() -> str:
        return "ok"

    assert (await app.test_client().get("/")).status_code == 200
    assert order == ["second", "first"]


async def test_a_blueprints_teardown_runs_before_the_apps(
    app: Microframework,
) -> None:
    # As Flask's: teardown_request functions from the innermost blueprint out.
    order: list[str] = []
    bp = Blueprint("bp", __name__)

    @app.teardown_request
    def app_teardown(exc: BaseException | None) -> None:
        order.append("app")

    @bp.teardown_request
    def bp_teardown(exc: BaseException | None) -> None:
        order.append("bp")

    @bp.route("/x")
    async def view() -> str:
        return "ok"

    app.register_blueprint(bp)
    assert (await app.test_client().get("/x")).status_code == 200
    assert order == ["bp", "app"]


async def test_process_response_in_an_app_context_runs_the_apps_after_functions(
    app: Microframework,
) -> None:
    # With no request in the context, the app's own chain applies (not a crash).
    @app.after_request
    async def stamp(response: Response) -> Response:
        response.headers["X-After"] = "1"
        return response

    async with app.app_context():
        response = await app.process_response(Response("x"))
    assert response.headers.get("X-After") == "1"


async def test_preprocess_websocket_in_a_websocket_runs_the_websocket_hooks(
    app: Microframework,
) -> None:
    # The chain of the current context is the websocket one: before_websocket
    # functions, not before_request ones.
    seen: list[str] = []

    @app.before_request
    def before_request() -> None:
        seen.append("request")

    @app.before_websocket
    def before_websocket() -> None:
        seen.append("websocket")

    @app.websocket("/ws")
    async def ws() -> None:
        seen.clear()
        await app.preprocess_websocket()
        await websocket.send("done")

    async with app.test_client().websocket("/ws") as client:
        assert await client.receive() == "done"
    assert seen == ["websocket"]


async def test_the_first_host_header_picks_the_host_route() -> None:
    # Routing reads the first Host header, as request.host does: a second one must not
    # route the request to another host's view.
    hosted = Microframework(__name__, host_matching=True, static_host="a.example")

    @hosted.route("/", host="a.example")
    async def a() -> str:
        return "a"

    @hosted.route("/", host="b.example", endpoint="b")
    async def b() -> str:
        return "b"

    scope = http_scope("/")
    scope["headers"] = [(b"host", b"a.example"), (b"host", b"b.example")]
    rec = await call(hosted, scope)
    assert rec.body == b"a"


async def test_a_rule_without_arguments_gives_empty_view_args(
    app: Microframework,
) -> None:
    # As Flask's: view_args is {} for a matched rule without variables, not None.
    @app.route("/plain")
    async def plain() -> Any:
        return {"view_args": request.view_args}

    response = await app.test_client().get("/plain")
    assert await response.get_json() == {"view_args": {}}


async def test_teardown_appcontext_functions_run_last_registered_first(
    app: Microframework,
) -> None:
    # As Flask's do_teardown_appcontext: reversed registration order.
    order: list[str] = []

    @app.teardown_appcontext
    def first(exc: BaseException | None) -> None:
        order.append("first")

    @app.teardown_appcontext
    def second(exc: BaseException | None) -> None:
        order.append("second")

    @app.route("/")
    async def index() -> str:
        return "ok"

    assert (await app.test_client().get("/")).status_code == 200
    assert order == ["second", "first"]
