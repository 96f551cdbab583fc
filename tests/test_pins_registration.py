"""Setting up an app or a blueprint: decorators, rules, prefixes, options, resources."""

from __future__ import annotations

from pathlib import Path

from werkzeug.exceptions import NotFound

from microframework import abort
from microframework import Microframework
from microframework.blueprints import Blueprint
from microframework.blueprints import BlueprintSetupState


def _rules(app: Microframework, endpoint: str) -> list[str]:
    return [rule.rule for rule in app.url_map.iter_rules() if rule.endpoint == endpoint]


# -- blueprint rules and prefixes ------------------------------------------------------


async def test_an_empty_rule_is_the_blueprints_prefix_itself(
    app: Microframework,
) -> None:
    # As Flask's: route("") under url_prefix="/p" is "/p", not "/p/".
    bp = Blueprint("bp", __name__, url_prefix="/p")

    @bp.route("")
    async def index() -> str:
        return "ok"

    app.register_blueprint(bp)
    assert _rules(app, "bp.index") == ["/p"]
    assert (await app.test_client().get("/p")).status_code == 200


def test_a_prefixs_trailing_slash_is_not_doubled(app: Microframework) -> None:
    bp = Blueprint("bp", __name__, url_prefix="/p/")

    @bp.route("/x")
    async def x() -> str:
        return "ok"

    app.register_blueprint(bp)
    assert _rules(app, "bp.x") == ["/p/x"]


def test_nested_blueprint_prefixes_join_with_one_slash(app: Microframework) -> None:
    parent = Blueprint("parent", __name__, url_prefix="/p/")
    child = Blueprint("child", __name__, url_prefix="/c")

    @child.route("/x")
    async def x() -> str:
        return "ok"

    parent.register_blueprint(child)
    app.register_blueprint(parent)
    assert _rules(app, "parent.child.x") == ["/p/c/x"]


def test_an_empty_url_prefix_option_overrides_the_blueprints(
    app: Microframework,
) -> None:
    # register_blueprint(url_prefix="") means no prefix (as in Flask), not "unset".
    bp = Blueprint("bp", __name__, url_prefix="/p")

    @bp.route("/x")
    async def x() -> str:
        return "ok"

    app.register_blueprint(bp, url_prefix="")
    assert _rules(app, "bp.x") == ["/x"]


def test_a_routes_own_subdomain_wins_over_the_blueprints() -> None:
    app = Microframework(__name__, subdomain_matching=True)
    app.config["SERVER_NAME"] = "example.com"
    bp = Blueprint("bp", __name__)

    @bp.route("/", subdomain="api")
    async def api() -> str:
        return "api"

    app.register_blueprint(bp)
    subdomains = [
        r.subdomain for r in app.url_map.iter_rules() if r.endpoint == "bp.api"
    ]
    assert subdomains == ["api"]


async def test_a_routes_defaults_override_the_blueprints_url_defaults(
    app: Microframework,
) -> None:
    bp = Blueprint("bp", __name__, url_defaults={"x": 1})

    @bp.route("/", defaults={"x": 2})
    async def index(x: int) -> str:
        return str(x)

    app.register_blueprint(bp)
    response = await app.test_client().get("/")
    assert await response.get_data(as_text=True) == "2"


def test_a_dotted_view_name_is_accepted_with_an_explicit_endpoint(
    app: Microframework,
) -> None:
    # Only the endpoint becomes a name in the blueprint: a view function whose
    # __name__ has a dot (made by a decorator, say) is fine when an endpoint is given.
    bp = Blueprint("bp", __name__)

    async def view() -> str:
        return "ok"

    view.__name__ = "a.b"
    bp.add_url_rule("/", endpoint="fine", view_func=view)
    app.register_blueprint(bp)
    assert "bp.fine" in app.view_functions


def test_record_once_keeps_the_functions_name() -> None:
    # A functools.wraps wrapper: deferred functions stay identifiable when debugging.
    bp = Blueprint("bp", __name__)

    def setup_thing(state: BlueprintSetupState) -> None:
        pass

    bp.record_once(setup_thing)
    assert bp.deferred_functions[-1].__name__ == "setup_thing"


# -- blueprint CLI groups --------------------------------------------------------------


def test_a_blueprint_cli_without_commands_adds_no_group(app: Microframework) -> None:
    # Touching bp.cli creates the group; without a command in it, the app's CLI gets
    # no empty "bp" group.
    bp = Blueprint("bp", __name__)
    assert bp.cli is not None
    app.register_blueprint(bp)
    assert "bp" not in app.cli.commands


def test_the_cli_group_option_of_register_blueprint_wins(app: Microframework) -> None:
    bp = Blueprint("bp", __name__)

    @bp.cli.command("hello")
    def hello() -> None:
        pass

    app.register_blueprint(bp, cli_group="tools")
    assert "tools" in app.cli.commands
    assert "bp" not in app.cli.commands


# -- scaffold: decorators and rules ----------------------------------------------------


def test_setup_methods_keep_their_name_and_doc() -> None:
    # The setup-finished check wraps every setup method with functools.wraps: help()
    # and the API docs show the real names and docstrings.
    assert Microframework.before_request.__name__ == "before_request"
    assert Microframework.register_error_handler.__name__ == "register_error_handler"
    assert Microframework.register_error_handler.__doc__
    assert Blueprint.record.__name__ == "record"


def test_hook_decorators_return_the_function(app: Microframework) -> None:
    # As in Flask, the decorated name is still the function (it may be called or
    # registered again).
    def before() -> None:
        pass

    def after(response: object) -> object:
        return response

    assert app.before_request(before) is before
    assert app.after_request(after) is after


async def test_lower_case_options_in_methods_turns_automatic_options_off(
    app: Microframework,
) -> None:
    # Methods are upper-cased before the check: a route listing "options" answers
    # OPTIONS itself.
    @app.route("/", methods=["get", "options"])
    async def index() -> str:
        return "mine"

    response = await app.test_client().options("/")
    assert await response.get_data(as_text=True) == "mine"


async def test_the_endpoint_decorator_replaces_the_view(app: Microframework) -> None:
    @app.route("/", endpoint="home")
    async def old() -> str:
        return "old"

    @app.endpoint("home")
    async def new() -> str:
        return "new"

    response = await app.test_client().get("/")
    assert await response.get_data(as_text=True) == "new"


async def test_an_app_code_handler_beats_a_blueprint_class_handler(
    app: Microframework,
) -> None:
    # As Flask's lookup: by code first (blueprint, then app), then by class; the app's
    # 404 handler answers before the blueprint's Exception handler.
    bp = Blueprint("bp", __name__)

    @bp.route("/missing")
    async def missing() -> str:
        abort(404)

    @bp.errorhandler(Exception)
    async def bp_any(error: Exception) -> tuple[str, int]:
        return "bp-any", 500

    @app.errorhandler(NotFound)
    async def app_404(error: NotFound) -> tuple[str, int]:
        return "app-404", 404

    app.register_blueprint(bp)
    response = await app.test_client().get("/missing")
    assert await response.get_data(as_text=True) == "app-404"


# -- scaffold: static folder and resources ---------------------------------------------


def test_a_static_folders_trailing_slash_is_dropped() -> None:
    app = Microframework(__name__, static_folder="assets/")
    assert app.static_url_path == "/assets"
    assert app.static_folder is not None
    assert app.static_folder.endswith("assets")


def test_the_static_url_path_of_an_empty_folder_name_has_no_slash() -> None:
    app = Microframework(__name__, static_folder="")
    assert app.static_url_path == ""


async def test_open_resource_reads_text_in_rt_mode(tmp_path: Path) -> None:
    (tmp_path / "data.txt").write_text("héllo", encoding="utf-8")
    app = Microframework(__name__, root_path=str(tmp_path))
    async with await app.open_resource("data.txt", "rt", encoding="utf-8") as f:
        assert await f.read() == "héllo"


async def test_open_resource_ignores_an_encoding_in_binary_mode(tmp_path: Path) -> None:
    # As Flask's: an encoding given with "rb" is not an error, the bytes are returned.
    (tmp_path / "data.txt").write_text("héllo", encoding="utf-8")
    app = Microframework(__name__, root_path=str(tmp_path))
    async with await app.open_resource("data.txt", "rb", encoding="utf-8") as f:
        assert await f.read() == "héllo".encode()
