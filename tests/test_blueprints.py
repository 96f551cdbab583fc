"""Blueprints registered on a real app: routes, names, prefixes, hooks, errors, nesting."""

from __future__ import annotations

from typing import Any

import pytest
from werkzeug.exceptions import NotFound

from microframework import g
from microframework import Microframework
from microframework import request
from microframework import url_for
from microframework.blueprints import Blueprint
from microframework.blueprints import BlueprintSetupState
from microframework.views import MethodView


async def _get(app: Microframework, path: str, **kwargs: Any) -> tuple[int, str]:
    response = await app.test_client().get(path, **kwargs)
    return response.status_code, await response.get_data(as_text=True)


def _simple(name: str = "bp", **kwargs: Any) -> Blueprint:
    bp = Blueprint(name, __name__, **kwargs)

    @bp.route("/")
    async def index() -> str:
        return f"{request.endpoint} {request.blueprint}"

    return bp


# -- routes and names --------------------------------------------------------------------


async def test_routes_get_the_prefix_and_a_dotted_endpoint(app: Microframework) -> None:
    app.register_blueprint(_simple(url_prefix="/bp"))
    assert await _get(app, "/bp/") == (200, "bp.index bp")
    assert "bp.index" in app.view_functions
    assert app.blueprints["bp"].name == "bp"


async def test_registration_url_prefix_overrides_the_blueprints(
    app: Microframework,
) -> None:
    app.register_blueprint(_simple(url_prefix="/own"), url_prefix="/given")
    assert (await _get(app, "/given/"))[0] == 200
    assert (await _get(app, "/own/"))[0] == 404


async def test_prefix_and_rule_slashes_are_joined_once(app: Microframework) -> None:
    bp = Blueprint("bp", __name__, url_prefix="/api/")

    @bp.route("/items")
    async def items() -> str:
        return "items"

    @bp.route("")
    async def root() -> str:
        return "root"

    app.register_blueprint(bp)
    assert await _get(app, "/api/items") == (200, "items")
    assert await _get(app, "/api/") == (200, "root")


async def test_one_blueprint_registered_twice_under_two_names(
    app: Microframework,
) -> None:
    bp = _simple()
    app.register_blueprint(bp, url_prefix="/one")
    app.register_blueprint(bp, name="two", url_prefix="/two")
    assert await _get(app, "/one/") == (200, "bp.index bp")
    assert await _get(app, "/two/") == (200, "two.index two")


def test_same_name_twice_is_a_value_error(app: Microframework) -> None:
    bp = _simple()
    app.register_blueprint(bp)
    with pytest.raises(ValueError, match="'bp' is already registered for this"):
        app.register_blueprint(bp, url_prefix="/again")
    with pytest.raises(ValueError, match="a different blueprint"):
        app.register_blueprint(_simple(), url_prefix="/other")


@pytest.mark.parametrize("name", ["", "a.b"])
def test_invalid_names_are_value_errors(name: str) -> None:
    with pytest.raises(ValueError, match="name"):
        Blueprint(name, __name__)


def test_invalid_registration_name_is_a_value_error(app: Microframework) -> None:
    with pytest.raises(ValueError, match="dot"):
        app.register_blueprint(_simple(), name="x.y")


def test_dotted_endpoint_or_view_name_is_a_value_error() -> None:
    bp = Blueprint("bp", __name__)

    async def view() -> str:
        return ""

    with pytest.raises(ValueError, match="endpoint"):
        bp.add_url_rule("/", "a.b", view)
    view.__name__ = "a.b"
    with pytest.raises(ValueError, match="view function name"):
        bp.add_url_rule("/", view_func=view)


def test_registering_something_else_is_a_type_error(app: Microframework) -> None:
    with pytest.raises(TypeError, match="Blueprint"):
        app.register_blueprint(object())  # type: ignore[arg-type]


async def test_url_for_with_full_and_relative_names(app: Microframework) -> None:
    bp = Blueprint("shop", __name__, url_prefix="/shop")

    @bp.route("/item/<int:n>")
    async def item(n: int) -> str:
        return url_for(".item", n=n + 1) + " " + url_for("shop.item", n=0)

    @app.route("/")
    async def home() -> str:
        return url_for(".home")

    app.register_blueprint(bp)
    assert await _get(app, "/shop/item/1") == (200, "/shop/item/2 /shop/item/0")
    assert await _get(app, "/") == (200, "/")


async def test_blueprint_method_view(app: Microframework) -> None:
    class Thing(MethodView):
        async def get(self) -> str:
            return "got"

    bp = Blueprint("bp", __name__)
    bp.add_url_rule("/thing", view_func=Thing.as_view("thing"))
    app.register_blueprint(bp)
    assert await _get(app, "/thing") == (200, "got")
    assert "bp.thing" in app.view_functions


# "bp.late": code written for Flask and Quart, which never prefix the name given.
@pytest.mark.parametrize("name", ["late", "bp.late"])
async def test_endpoint_decorator_names_a_blueprint_endpoint(
    app: Microframework, name: str
) -> None:
    bp = Blueprint("bp", __name__)
    bp.add_url_rule("/late", endpoint="late")

    @bp.endpoint(name)
    async def late() -> str:
        return "late view"

    app.register_blueprint(bp)
    assert await _get(app, "/late") == (200, "late view")


async def test_blueprint_websocket_route(app: Microframework) -> None:
    from microframework import websocket

    bp = Blueprint("ws", __name__, url_prefix="/live")

    @bp.websocket("/echo")
    async def echo() -> None:
        message = await websocket.receive()
        await websocket.send(f"{websocket.blueprint}:{message}")

    app.register_blueprint(bp)
    async with app.test_client().websocket("/live/echo") as ws:
        await ws.send("hi")
        assert await ws.receive() == "ws:hi"


async def test_url_defaults_become_view_arguments_per_registration(
    app: Microframework,
) -> None:
    bp = Blueprint("bp", __name__, url_defaults={"kind": "book"})

    @bp.route("/items")
    async def items(kind: str) -> str:
        return kind

    app.register_blueprint(bp, url_prefix="/books")
    app.register_blueprint(
        bp, name="films", url_prefix="/films", url_defaults={"kind": "film"}
    )
    assert await _get(app, "/books/items") == (200, "book")
    assert await _get(app, "/films/items") == (200, "film")


async def test_rule_defaults_merge_with_blueprint_url_defaults(
    app: Microframework,
) -> None:
    bp = Blueprint("bp", __name__, url_defaults={"kind": "book"})

    @bp.route("/first", defaults={"page": 1})
    @bp.route("/page/<int:page>")
    async def pages(kind: str, page: int) -> str:
        return f"{kind} {page}"

    app.register_blueprint(bp)
    assert await _get(app, "/first") == (200, "book 1")
    assert await _get(app, "/page/3") == (200, "book 3")


async def test_lang_code_preprocessor_and_defaults_pattern(
    app: Microframework,
) -> None:
    # Flask's documented i18n pattern: the prefix holds a value the views never see.
    bp = Blueprint("i18n", __name__, url_prefix="/<lang>")

    @bp.url_defaults
    def add_lang(endpoint: str, values: dict[str, Any]) -> None:
        values.setdefault("lang", g.lang)

    @bp.url_value_preprocessor
    def pull_lang(endpoint: str | None, values: dict[str, Any] | None) -> None:
        assert values is not None
        g.lang = values.pop("lang")

    @bp.route("/about")
    async def about() -> str:
        return f"{g.lang} {url_for('.about')}"

    app.register_blueprint(bp)
    assert await _get(app, "/fr/about") == (200, "fr /fr/about")


# -- hooks --------------------------------------------------------------------------------


def _recording_app(app: Microframework) -> tuple[Blueprint, list[str]]:
    calls: list[str] = []
    bp = Blueprint("bp", __name__, url_prefix="/bp")

    @app.before_request
    async def app_before() -> None:
        calls.append("app before")

    @bp.before_request
    async def bp_before() -> None:
        calls.append("bp before")

    @app.after_request
    async def app_after(response: Any) -> Any:
        calls.append("app after")
        return response

    @bp.after_request
    def bp_after(response: Any) -> Any:
        calls.append("bp after")
        return response

    @bp.teardown_request
    def bp_teardown(exc: BaseException | None) -> None:
        calls.append("bp teardown")

    @bp.route("/")
    async def inside() -> str:
        calls.append("view")
        return "in"

    @app.route("/")
    async def outside() -> str:
        calls.append("view")
        return "out"

    return bp, calls


async def test_blueprint_hooks_run_only_for_its_routes_in_flasks_order(
    app: Microframework,
) -> None:
    bp, calls = _recording_app(app)
    app.register_blueprint(bp)

    assert await _get(app, "/bp/") == (200, "in")
    assert calls == [
        "app before",
        "bp before",
        "view",
        "bp after",
        "app after",
        "bp teardown",
    ]
    calls.clear()
    assert await _get(app, "/") == (200, "out")
    assert calls == ["app before", "view", "app after"]


async def test_app_wide_hooks_from_a_blueprint_run_for_every_request(
    app: Microframework,
) -> None:
    calls: list[str] = []
    bp = Blueprint("bp", __name__)

    @bp.before_app_request
    def before() -> None:
        calls.append("before")

    @bp.after_app_request
    def after(response: Any) -> Any:
        calls.append("after")
        return response

    @bp.teardown_app_request
    def teardown(exc: BaseException | None) -> None:
        calls.append("teardown")

    @app.route("/")
    async def index() -> str:
        return "app"

    app.register_blueprint(bp)
    app.register_blueprint(bp, name="again")  # record_once: not added a second time
    assert await _get(app, "/") == (200, "app")
    assert calls == ["before", "after", "teardown"]


async def test_hooks_are_copied_for_each_registration_name(
    app: Microframework,
) -> None:
    seen: list[str | None] = []
    bp = _simple()

    @bp.before_request
    def before() -> None:
        seen.append(request.blueprint)

    app.register_blueprint(bp, url_prefix="/a")
    app.register_blueprint(bp, name="b", url_prefix="/b")
    await _get(app, "/a/")
    await _get(app, "/b/")
    assert seen == ["bp", "b"]


async def test_blueprint_url_defaults_do_not_reach_app_endpoints(
    app: Microframework,
) -> None:
    bp = Blueprint("bp", __name__)

    @bp.url_defaults
    def add(endpoint: str, values: dict[str, Any]) -> None:
        values["from_bp"] = "yes"

    @bp.route("/in")
    async def inside() -> str:
        return url_for("bp.inside")

    @app.route("/out")
    async def outside() -> str:
        return url_for("outside")

    app.register_blueprint(bp)
    assert await _get(app, "/in") == (200, "/in?from_bp=yes")
    assert await _get(app, "/out") == (200, "/out")


async def test_app_url_defaults_from_a_blueprint_reach_every_endpoint(
    app: Microframework,
) -> None:
    bp = Blueprint("bp", __name__)

    @bp.app_url_defaults
    def add(endpoint: str, values: dict[str, Any]) -> None:
        values["v"] = "1"

    @bp.app_url_value_preprocessor
    def strip(endpoint: str | None, values: dict[str, Any] | None) -> None:
        g.endpoint_seen = endpoint

    @app.route("/out")
    async def outside() -> str:
        return f"{url_for('outside')} {g.endpoint_seen}"

    app.register_blueprint(bp)
    assert await _get(app, "/out") == (200, "/out?v=1 outside")


# -- errors -------------------------------------------------------------------------------


async def test_blueprint_error_handler_handles_only_its_own_views(
    app: Microframework,
) -> None:
    bp = Blueprint("bp", __name__, url_prefix="/bp")

    @bp.errorhandler(KeyError)
    async def bp_key_error(error: KeyError) -> tuple[str, int]:
        return "bp handled", 400

    @app.errorhandler(KeyError)
    async def app_key_error(error: KeyError) -> tuple[str, int]:
        return "app handled", 409

    @bp.route("/boom")
    async def bp_boom() -> str:
        raise KeyError("x")

    @app.route("/boom")
    async def app_boom() -> str:
        raise KeyError("x")

    app.register_blueprint(bp)
    assert await _get(app, "/bp/boom") == (400, "bp handled")
    assert await _get(app, "/boom") == (409, "app handled")


async def test_app_errorhandler_from_a_blueprint_handles_app_wide(
    app: Microframework,
) -> None:
    bp = Blueprint("bp", __name__)

    @bp.app_errorhandler(404)
    async def not_found(error: NotFound) -> tuple[str, int]:
        return "custom 404", 404

    app.register_blueprint(bp)
    assert await _get(app, "/nowhere") == (404, "custom 404")


def test_app_errorhandler_rejects_a_bad_code_at_once() -> None:
    bp = Blueprint("bp", __name__)
    with pytest.raises(ValueError, match="999"):
        bp.app_errorhandler(999)


async def test_blueprint_404_handler_applies_to_abort_in_its_views(
    app: Microframework,
) -> None:
    from microframework import abort

    bp = Blueprint("bp", __name__, url_prefix="/bp")

    @bp.errorhandler(404)
    async def missing(error: NotFound) -> tuple[str, int]:
        return "bp 404", 404

    @bp.route("/gone")
    async def gone() -> str:
        abort(404)

    app.register_blueprint(bp)
    assert await _get(app, "/bp/gone") == (404, "bp 404")
    assert (await _get(app, "/bp/unrouted"))[1] != "bp 404"


# -- nesting ------------------------------------------------------------------------------


async def test_nested_blueprints_join_names_and_prefixes(app: Microframework) -> None:
    parent = Blueprint("parent", __name__, url_prefix="/parent")
    child = Blueprint("child", __name__, url_prefix="/child")

    @child.route("/")
    async def index() -> str:
        return f"{request.endpoint} {request.blueprints} {url_for('.index')}"

    parent.register_blueprint(child)
    app.register_blueprint(parent)
    assert await _get(app, "/parent/child/") == (
        200,
        "parent.child.index ['parent.child', 'parent'] /parent/child/",
    )
    assert list(app.blueprints) == ["parent", "parent.child"]


async def test_nested_registration_options_override_the_childs(
    app: Microframework,
) -> None:
    parent = Blueprint("parent", __name__)
    child = _simple("child", url_prefix="/own")
    parent.register_blueprint(child, url_prefix="/given", name="renamed")
    app.register_blueprint(parent, url_prefix="/p")
    assert await _get(app, "/p/given/") == (200, "parent.renamed.index parent.renamed")


async def test_parent_hooks_and_handlers_apply_to_the_child(
    app: Microframework,
) -> None:
    calls: list[str] = []
    parent = Blueprint("parent", __name__, url_prefix="/p")
    child = Blueprint("child", __name__, url_prefix="/c")

    @parent.before_request
    def parent_before() -> None:
        calls.append("parent before")

    @child.before_request
    def child_before() -> None:
        calls.append("child before")

    @parent.after_request
    def parent_after(response: Any) -> Any:
        calls.append("parent after")
        return response

    @child.after_request
    def child_after(response: Any) -> Any:
        calls.append("child after")
        return response

    @parent.errorhandler(LookupError)
    async def handled(error: LookupError) -> tuple[str, int]:
        return f"parent handled {type(error).__name__}", 418

    @child.route("/ok")
    async def ok() -> str:
        calls.append("view")
        return "ok"

    @child.route("/boom")
    async def boom() -> str:
        raise IndexError

    parent.register_blueprint(child)
    app.register_blueprint(parent)

    assert await _get(app, "/p/c/ok") == (200, "ok")
    assert calls == [
        "parent before",
        "child before",
        "view",
        "child after",
        "parent after",
    ]
    assert await _get(app, "/p/c/boom") == (418, "parent handled IndexError")


def test_nested_subdomains_are_joined(app: Microframework) -> None:
    parent = Blueprint("parent", __name__, subdomain="api")
    child = _simple("child", subdomain="v1")
    parent.register_blueprint(child)
    app.register_blueprint(parent)
    rule = next(
        r for r in app.url_map.iter_rules() if r.endpoint == "parent.child.index"
    )
    assert rule.subdomain == "v1.api"


def test_a_blueprint_cannot_be_nested_in_itself() -> None:
    bp = Blueprint("bp", __name__)
    with pytest.raises(ValueError, match="itself"):
        bp.register_blueprint(bp)


# -- recording and the setup guard ---------------------------------------------------------


def test_record_runs_each_registration_and_record_once_only_the_first(
    app: Microframework,
) -> None:
    every: list[tuple[str, bool]] = []
    once: list[str] = []
    bp = Blueprint("bp", __name__)

    @bp.record
    def on_each(state: BlueprintSetupState) -> None:
        every.append((state.name, state.first_registration))

    @bp.record_once
    def on_first(state: BlueprintSetupState) -> None:
        once.append(state.name)

    app.register_blueprint(bp)
    app.register_blueprint(bp, name="second", custom="value")
    assert every == [("bp", True), ("second", False)]
    assert once == ["bp"]


def test_setup_state_carries_the_registration_options(app: Microframework) -> None:
    states: list[BlueprintSetupState] = []
    bp = Blueprint("bp", __name__, url_prefix="/bp", subdomain="www")
    bp.record(states.append)
    app.register_blueprint(bp, custom="value", url_prefix="/x")
    (state,) = states
    assert state.app is app
    assert state.blueprint is bp
    assert state.options["custom"] == "value"
    assert state.url_prefix == "/x"
    assert state.subdomain == "www"


def test_blueprint_setup_after_registration_is_an_error(app: Microframework) -> None:
    bp = _simple()
    app.register_blueprint(bp)
    with pytest.raises(AssertionError, match="already been registered"):

        @bp.route("/late")
        async def late() -> str:
            return "late"

    with pytest.raises(AssertionError, match="before_request"):
        bp.before_request(lambda: None)


async def test_registering_after_the_first_request_is_an_error(
    app: Microframework,
) -> None:
    @app.route("/")
    async def index() -> str:
        return "ok"

    await _get(app, "/")
    with pytest.raises(AssertionError, match="register_blueprint"):
        app.register_blueprint(_simple())


async def test_a_blueprint_registered_in_before_serving_is_served(
    app: Microframework,
) -> None:
    # quart-events registers its blueprint in before_serving, as Quart allows: startup
    # failed here, the app being frozen before before_serving ran.
    @app.before_serving
    async def start() -> None:
        app.register_blueprint(_simple(url_prefix="/bp"))

    async with app.test_app() as test_app:
        response = await test_app.test_client().get("/bp/")
        assert await response.get_data(as_text=True) == "bp.index bp"
        with pytest.raises(AssertionError, match="finished its startup"):
            app.register_blueprint(_simple("late"))


def test_serving_hooks_are_added_to_the_app(app: Microframework) -> None:
    bp = Blueprint("bp", __name__)

    async def start() -> None: ...

    async def stop() -> None: ...

    async def around() -> Any:
        yield

    bp.before_app_serving(start)
    bp.after_app_serving(stop)
    bp.while_app_serving(around)
    app.register_blueprint(bp)
    assert start in app.before_serving_funcs
    assert stop in app.after_serving_funcs
    assert around in app.while_serving_gens


def test_blueprint_keeps_flask_constructor_arguments() -> None:
    bp = Blueprint(
        "bp",
        __name__,
        static_folder="static",
        static_url_path="/assets",
        template_folder="templates",
        url_prefix="/bp",
        subdomain="api",
        url_defaults={"a": 1},
        cli_group="tools",
    )
    assert bp.static_url_path == "/assets"
    assert bp.static_folder is not None and bp.static_folder.endswith("static")
    assert bp.template_folder == "templates"
    assert bp.url_values_defaults == {"a": 1}
    assert bp.cli_group == "tools"
    assert repr(bp) == "<Blueprint 'bp'>"


@pytest.mark.skipif(
    not hasattr(Microframework, "register_blueprint"),
    reason="app.register_blueprint not pasted yet (issue 4 integration)",
)
async def test_app_register_blueprint_delegates(app: Microframework) -> None:
    import microframework

    assert microframework.Blueprint is Blueprint
    bp = _simple(url_prefix="/bp")
    app.register_blueprint(bp, url_prefix="/x", name="renamed")
    assert await _get(app, "/x/") == (200, "renamed.index renamed")
    assert list(app.iter_blueprints()) == [bp]


async def test_views_put_into_a_blueprints_view_functions_reach_the_app() -> None:
    # As Flask and Quart copy them at registration, keys taken whole; public code adds
    # a rule with only an endpoint, then its view (blueprints, session 32).
    app = Microframework(__name__)
    bp = Blueprint("items", __name__, url_prefix="/items")
    bp.add_url_rule("", "select", methods=["GET"])

    async def filtering() -> str:
        return "selected"

    async def plain() -> str:
        return "plain"

    bp.view_functions["items.select"] = filtering
    bp.view_functions["plain"] = plain
    app.register_blueprint(bp)
    app.add_url_rule("/plain", "plain")
    assert app.view_functions["items.select"] is filtering
    client = app.test_client()
    assert await (await client.get("/items")).get_data(as_text=True) == "selected"
    assert await (await client.get("/plain")).get_data(as_text=True) == "plain"


async def test_registration_methods_take_flasks_keywords() -> None:
    # Flask names the function `f` (and app_errorhandler's argument `code`); code
    # calls bp.before_request(f=...) (blueprints, session 32). Quart's own websocket
    # and serving hooks keep its `func`.
    app = Microframework(__name__)
    bp = Blueprint("bp", __name__)
    seen: list[str] = []

    def before() -> None:
        seen.append("bp")

    def app_before() -> None:
        seen.append("app")

    def handler(error: Exception) -> tuple[str, int]:
        return "handled", 418

    bp.before_request(f=before)
    bp.before_app_request(f=app_before)
    bp.register_error_handler(code_or_exception=KeyError, f=handler)
    bp.add_app_template_filter(f=str.upper, name="up")
    bp.app_errorhandler(code=409)(handler)
    app.teardown_appcontext(f=lambda exc: None)
    app.before_websocket(func=before)
    bp.before_app_serving(func=before)

    @bp.get("/")
    async def index() -> str:
        raise KeyError("x")

    app.register_blueprint(blueprint=bp)
    response = await app.test_client().get("/")
    assert response.status_code == 418
    assert seen == ["app", "bp"]
    assert app.trap_http_exception(e=KeyError()) is False  # Flask's and Quart's `e`
    assert app.jinja_env.filters["up"] is str.upper
