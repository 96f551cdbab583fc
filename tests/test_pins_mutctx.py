"""Pins of s22's mutation testing of ctx.py, blueprints.py and _compile.py: each test
fails with one mutant that the suite let live (m_mutctx.py, PROOF.txt)."""

from __future__ import annotations

import asyncio
import warnings
from typing import Any

import pytest
from asgi_harness import call
from asgi_harness import http_scope

from microframework import after_this_request
from microframework import Blueprint
from microframework import copy_current_request_context
from microframework import copy_current_websocket_context
from microframework import current_app
from microframework import g
from microframework import has_app_context
from microframework import has_websocket_context
from microframework import Microframework
from microframework import render_template_string
from microframework import request
from microframework import Response
from microframework import session
from microframework import websocket
from microframework._compile import freeze
from microframework.signals import appcontext_popped


async def test_an_app_context_of_another_app_in_a_view_is_that_apps(
    app: Microframework,
) -> None:
    # Only a context of the same app shares the request's: another app's is its own.
    other = Microframework("other")

    @app.route("/")
    async def index() -> Any:
        async with other.app_context():
            return {"app": current_app.name}

    response = await app.test_client().get("/")
    assert await response.get_json() == {"app": "other"}


async def test_an_app_context_pushed_in_a_websocket_keeps_the_websocket(
    app: Microframework,
) -> None:
    # As in a view: the websocket of the same app stays (Quart's websocket stays too).
    @app.websocket("/ws")
    async def ws() -> None:
        async with app.app_context():
            await websocket.send(f"{has_websocket_context()} {websocket.path}")

    async with app.test_client().websocket("/ws") as socket:
        assert await socket.receive() == "True /ws"


async def test_a_copied_websocket_context_shares_the_websockets_session(
    app: Microframework,
) -> None:
    # As Quart's copy: one session, whichever context writes it.
    app.secret_key = "k"

    @app.websocket("/ws")
    async def ws() -> None:
        @copy_current_websocket_context
        async def write() -> None:
            session["x"] = "written in the copy"

        await write()
        await websocket.send(session.get("x", "missing"))

    async with app.test_client().websocket("/ws") as socket:
        assert await socket.receive() == "written in the copy"


async def test_appcontext_popped_is_sent_once_the_context_is_gone(
    app: Microframework,
) -> None:
    # Flask 3.1 and Quart reset the context, then send the signal.
    seen: list[bool] = []

    def receiver(sender: Microframework, **kwargs: Any) -> None:
        seen.append(has_app_context())

    with appcontext_popped.connected_to(receiver, app):
        async with app.app_context():
            pass
    assert seen == [False]


async def test_a_copied_request_context_function_gets_its_keyword_arguments(
    app: Microframework,
) -> None:
    @app.route("/")
    async def index() -> Any:
        @copy_current_request_context
        def work(prefix: str, *, suffix: str) -> str:
            return f"{prefix}{request.path}{suffix}"

        return await work("<", suffix=">")

    response = await app.test_client().get("/")
    assert await response.get_data(as_text=True) == "</>"


async def test_after_this_request_returns_the_function_it_decorates(
    app: Microframework,
) -> None:
    # As Flask: the name stays bound to the function.
    @app.route("/")
    async def index() -> Any:
        @after_this_request
        def tag(response: Response) -> Response:
            response.headers["X-Tag"] = "1"
            return response

        return {"decorated": callable(tag)}

    response = await app.test_client().get("/")
    assert await response.get_json() == {"decorated": True}
    assert response.headers["X-Tag"] == "1"


async def test_the_session_outside_a_request_or_websocket_raises(
    app: Microframework,
) -> None:
    # An app context alone has no session to open: the context's own attribute says
    # so plainly (the session proxy already checks for a request before it).
    app.secret_key = "k"
    async with app.app_context() as ctx:
        with pytest.raises(RuntimeError, match="no session outside a request"):
            _ = ctx.session


async def test_a_blueprints_routes_are_added_in_the_order_they_were_declared(
    app: Microframework,
) -> None:
    # As on the app: of two rules alike, the first declared matches (Flask, Quart).
    bp = Blueprint("bp", __name__)
    recorded: list[str] = []
    bp.record(lambda state: recorded.append("first"))

    @bp.route("/same")
    async def first() -> str:
        return "first"

    @bp.route("/same")
    async def second() -> str:
        return "second"

    bp.record(lambda state: recorded.append("last"))
    app.register_blueprint(bp)
    response = await app.test_client().get("/same")
    assert await response.get_data(as_text=True) == "first"
    assert recorded == ["first", "last"]


async def test_three_nested_blueprints_join_all_three_names(
    app: Microframework,
) -> None:
    outer = Blueprint("outer", __name__, url_prefix="/o")
    middle = Blueprint("middle", __name__, url_prefix="/m")
    inner = Blueprint("inner", __name__, url_prefix="/i")

    @inner.route("/view")
    async def view() -> str:
        return request.endpoint or ""

    middle.register_blueprint(inner)
    outer.register_blueprint(middle)
    app.register_blueprint(outer)
    assert "outer.middle.inner" in app.blueprints
    response = await app.test_client().get("/o/m/i/view")
    assert await response.get_data(as_text=True) == "outer.middle.inner.view"


async def test_a_blueprint_endpoint_view_serves_under_each_registration_name(
    app: Microframework,
) -> None:
    bp = Blueprint("bp", __name__)
    bp.add_url_rule("/page", endpoint="page")

    @bp.endpoint("page")
    async def page() -> str:
        return request.endpoint or ""

    app.register_blueprint(bp, url_prefix="/one")
    app.register_blueprint(bp, name="two", url_prefix="/two")
    client = app.test_client()
    assert await (await client.get("/one/page")).get_data(as_text=True) == "bp.page"
    assert await (await client.get("/two/page")).get_data(as_text=True) == "two.page"


async def test_a_blueprint_rule_can_turn_automatic_options_off(
    app: Microframework,
) -> None:
    bp = Blueprint("bp", __name__)

    async def view() -> str:
        return "ok"

    bp.add_url_rule("/x", view_func=view, provide_automatic_options=False)
    app.register_blueprint(bp)
    response = await app.test_client().options("/x")
    assert response.status_code == 405


async def test_a_blueprints_app_template_test_keeps_its_given_name(
    app: Microframework,
) -> None:
    bp = Blueprint("bp", __name__)

    @bp.app_template_test("odd_number")
    def is_odd(value: int) -> bool:
        return value % 2 == 1

    app.register_blueprint(bp)
    async with app.app_context():
        rendered = await render_template_string("{{ 3 is odd_number }}")
    assert rendered == "True"
    assert "is_odd" not in app.jinja_env.tests


async def test_blueprint_names_are_checked_as_their_dotted_names(
    app: Microframework,
) -> None:
    # "child" and "parent.child" are two names; two children "child" of one parent
    # collide (as in Flask 3.1).
    parent = Blueprint("parent", __name__, url_prefix="/p")
    parent.register_blueprint(Blueprint("child", __name__))
    app.register_blueprint(Blueprint("child", __name__))
    app.register_blueprint(parent)
    assert {"child", "parent.child"} <= set(app.blueprints)

    twice = Blueprint("twice", __name__)
    twice.register_blueprint(Blueprint("kid", __name__))
    twice.register_blueprint(Blueprint("kid", __name__))
    with pytest.raises(ValueError, match="'twice.kid' is already registered"):
        app.register_blueprint(twice)


async def test_registration_url_defaults_merge_with_the_blueprints(
    app: Microframework,
) -> None:
    # As Flask 3.1's setup state: the blueprint's, updated by the registration's.
    bp = Blueprint("bp", __name__, url_defaults={"lang": "en", "page": "1"})

    @bp.route("/x")
    async def view(lang: str, page: str) -> str:
        return f"{lang} {page}"

    app.register_blueprint(bp, url_defaults={"page": "2"})
    response = await app.test_client().get("/x")
    assert await response.get_data(as_text=True) == "en 2"


async def test_freeze_compiles_once_and_keeps_those_tables(
    app: Microframework,
) -> None:
    # A startup after the first request (a test client's, say) finds the tables built:
    # config read at the first freeze stays what the app runs with.
    @app.route("/")
    async def index() -> str:
        return "ok"

    assert (await app.test_client().get("/")).status_code == 200
    tables = app.compiled
    assert tables is not None
    (rule,) = app.url_map.iter_rules("index")
    limit = tables.by_rule[id(rule)].timeout
    app.config["RESPONSE_TIMEOUT"] = 1.0
    assert freeze(app) is tables
    assert app.compiled.by_rule[id(rule)].timeout == limit != 1.0


async def test_a_host_matching_app_does_not_warn_of_subdomain_rules() -> None:
    # With host_matching, werkzeug matches the host and ignores a rule's subdomain:
    # the "never match" warning would be false.
    hosted = Microframework(__name__, host_matching=True, static_host="a.example")
    bp = Blueprint("api", __name__, subdomain="api")

    @bp.route("/", host="a.example")
    async def index() -> str:
        return "api"

    hosted.register_blueprint(bp)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        response = await hosted.test_client().get("http://a.example/")
    assert await response.get_data(as_text=True) == "api"


@pytest.mark.parametrize("method", ["post", "head"])
async def test_a_lowercase_method_on_a_rule_with_arguments_is_the_uppercase_one(
    app: Microframework, method: str
) -> None:
    # As on a rule without arguments (test_routing): the matcher's path uppercases
    # it too, for the view and for sending (a "head" gets no body).
    seen: list[str] = []

    @app.route("/item/<int:n>", methods=["GET", "POST"])
    async def item(n: int) -> Response:
        seen.append(request.method)
        return Response(iter([b"it", b"em"]))

    recorder = await call(app, http_scope("/item/1", method=method))
    assert recorder.body == (b"" if method == "head" else b"item")
    assert seen == [method.upper()]


async def test_a_memoised_match_still_gives_the_request_its_rule(
    app: Microframework,
) -> None:
    # The second request to a path is answered from the match cache: url_rule and
    # endpoint must be there as on the first.
    @app.route("/item/<int:n>")
    async def item(n: int) -> Any:
        rule = request.url_rule
        return {"endpoint": request.endpoint, "rule": rule and rule.rule, "n": n}

    client = app.test_client()
    expected = {"endpoint": "item", "rule": "/item/<int:n>", "n": 1}
    for _ in range(2):
        assert await (await client.get("/item/1")).get_json() == expected


async def test_a_plain_werkzeug_rule_class_gets_the_configured_response_timeout() -> (
    None
):
    # A rule without response_timeout= of its own (here: a class without the
    # attribute) is bounded by RESPONSE_TIMEOUT, not left without a limit.
    from werkzeug.routing import Rule

    class App(Microframework):
        url_rule_class = Rule

    app = App(__name__)
    app.config["RESPONSE_TIMEOUT"] = 0.05

    @app.route("/")
    async def index() -> str:
        await asyncio.Event().wait()  # never set: only the limit ends it
        return "unreachable"

    async with asyncio.timeout(10):
        response = await app.test_client().get("/")
    assert response.status_code == 504


async def test_a_nested_app_context_outside_a_request_has_its_own_g(
    app: Microframework,
) -> None:
    # As Flask 3.1 and Quart: every app context pushed has a new g.
    async with app.app_context():
        g.outer = 1
        async with app.app_context():
            assert "outer" not in g
        assert g.outer == 1


async def test_url_value_preprocessors_run_in_registration_order(
    app: Microframework,
) -> None:
    order: list[str] = []

    @app.url_value_preprocessor
    def first(endpoint: str | None, values: dict[str, Any] | None) -> None:
        order.append("first")

    @app.url_value_preprocessor
    def second(endpoint: str | None, values: dict[str, Any] | None) -> None:
        order.append("second")

    @app.route("/<name>")
    async def index(name: str) -> str:
        return name

    assert (await app.test_client().get("/x")).status_code == 200
    assert order == ["first", "second"]


@pytest.mark.parametrize(
    "name",
    [
        "asgi_websocket_class", "asgi_lifespan_class", "dispatch_request",
        "finalize_request", "handle_websocket", "full_dispatch_websocket",
        "dispatch_websocket", "finalize_websocket", "postprocess_websocket",
        "handle_websocket_exception", "do_teardown_websocket",
        "do_teardown_appcontext", "should_ignore_error", "raise_routing_exception",
    ],
)  # fmt: skip
async def test_each_quart_only_step_overridden_is_refused(name: str) -> None:
    # The names test_porting doesn't cover, each spelled out: a subclass overriding
    # one (a Quart app's should_ignore_error, say) is told it is never called.
    async def step(self: Any, *args: Any) -> Any:
        raise AssertionError("never called")

    app = type("App", (Microframework,), {name: step})(__name__)

    @app.get("/")
    async def index() -> str:
        return "x"

    with pytest.raises(TypeError, match=f"Quart's {name}, which microframework never"):
        await app.test_client().get("/")
