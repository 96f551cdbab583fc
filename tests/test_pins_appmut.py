"""Pins from mutation testing app.py, scaffold.py, routing.py, json/provider.py and
globals.py (session 21, helper appmut): each fails with one surviving mutant."""

from __future__ import annotations

import decimal
import io
import re
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from werkzeug.routing import BuildError

from microframework import Blueprint
from microframework import Microframework
from microframework import request
from microframework import Response
from microframework import session
from microframework import url_for
from microframework import websocket
from microframework.globals import request_ctx
from microframework.routing import AdapterCache
from microframework.sessions import SecureCookieSession

# -- construction and configuration (app.py) ------------------------------------------


def test_a_relative_instance_path_is_a_value_error() -> None:
    # docs/configuration.md: "An explicit instance_path must be absolute".
    with pytest.raises(ValueError, match="absolute"):
        Microframework(__name__, instance_path="relative/instance")


def test_instance_relative_config_loads_files_from_the_instance_folder(
    tmp_path: Path,
) -> None:
    (tmp_path / "settings.py").write_text("FROM_INSTANCE = 'yes'\n")
    app = Microframework(
        __name__, instance_path=str(tmp_path), instance_relative_config=True
    )
    assert app.config.root_path == str(tmp_path)
    assert app.config.from_pyfile("settings.py")
    assert app.config["FROM_INSTANCE"] == "yes"


@pytest.mark.parametrize("import_name", ["__main__", "__mp_main__"])
def test_an_app_run_as_a_script_is_named_after_the_script(
    import_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # __mp_main__ is the script's module in a multiprocessing (reloader) worker.
    monkeypatch.setattr(sys.modules["__main__"], "__file__", "/srv/site/myapp.py")
    assert Microframework(import_name, root_path="/srv/site").name == "myapp"


# -- JSON provider ----------------------------------------------------------------------


def test_json_loads_and_load_pass_their_keyword_arguments_on(
    app: Microframework,
) -> None:
    loaded = app.json.loads("0.1", parse_float=decimal.Decimal)
    assert type(loaded) is decimal.Decimal
    assert loaded == decimal.Decimal("0.1")
    from_file = app.json.load(io.StringIO("[0.1]"), parse_float=decimal.Decimal)
    assert type(from_file[0]) is decimal.Decimal


async def test_provider_settings_changed_after_a_response_apply_to_the_next(
    app: Microframework,
) -> None:
    @app.get("/")
    async def index() -> dict[str, str]:
        return {"b": "é", "a": "x"}

    client = app.test_client()
    first = await (await client.get("/")).get_data(as_text=True)
    assert first == '{"a":"x","b":"\\u00e9"}\n'
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    second = await (await client.get("/")).get_data(as_text=True)
    assert second == '{"a":"x","b":"é"}\n'
    app.json.sort_keys = False  # type: ignore[attr-defined]
    third = await (await client.get("/")).get_data(as_text=True)
    assert third == '{"b":"é","a":"x"}\n'


# -- globals.py -------------------------------------------------------------------------


async def test_a_session_assigned_on_request_ctx_is_the_requests_session(
    app: Microframework,
) -> None:
    # Extensions replace the session the way Flask's allow: ctx.session = ...
    app.secret_key = "k"

    @app.get("/")
    async def index() -> str:
        request_ctx.session = SecureCookieSession({"user": "ada"})
        session["seen"] = True
        return str(session["user"])

    response = await app.test_client().get("/")
    assert await response.get_data(as_text=True) == "ada"
    assert "session=" in response.headers["Set-Cookie"]


# -- routing.py -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "error"),
    [(True, TypeError), ("5", TypeError), (0, ValueError), (-1, ValueError)],
)
def test_a_routes_response_timeout_must_be_a_positive_number(
    app: Microframework, value: object, error: type[Exception]
) -> None:
    with pytest.raises(error, match="response_timeout"):
        app.add_url_rule("/", "index", lambda: "", response_timeout=value)


def test_the_adapter_cache_never_holds_more_than_its_size(app: Microframework) -> None:
    cache = AdapterCache(
        app.url_map,
        server_name=None,
        subdomain_matching=False,
        trusted_hosts=None,
        maxsize=2,
    )
    for n in range(3):
        cache.get(f"h{n}.example".encode(), "http", "", None)
        assert len(cache.bound) <= 2


async def test_subdomain_matching_ignores_the_case_of_the_host() -> None:
    # Host names are case-insensitive; werkzeug (Flask) lowercases both sides.
    app = Microframework(__name__, subdomain_matching=True, static_folder=None)
    app.config["SERVER_NAME"] = "Example.com"

    @app.get("/", subdomain="<tenant>")
    async def tenant_home(tenant: str) -> str:
        return f"tenant {tenant}"

    @app.get("/")
    async def home() -> str:
        return "home"

    client = app.test_client()
    bare = await client.get("/", headers={"Host": "EXAMPLE.com"})
    assert await bare.get_data(as_text=True) == "home"
    sub = await client.get("/", headers={"Host": "API.example.COM"})
    assert await sub.get_data(as_text=True) == "tenant api"


async def test_a_redirect_rule_without_arguments_redirects(app: Microframework) -> None:
    app.add_url_rule("/old", "old", redirect_to="/new")
    response = await app.test_client().get("/old")
    assert response.status_code == 308
    assert response.headers["Location"] == "http://localhost/new"


async def test_of_two_rules_for_a_path_and_method_the_first_registered_answers(
    app: Microframework,
) -> None:
    @app.route("/x", methods=["GET", "POST"])
    async def first() -> str:
        return "first"

    @app.post("/x", endpoint="second")
    async def second() -> str:
        return "second"

    response = await app.test_client().post("/x")
    assert await response.get_data(as_text=True) == "first"


async def test_a_build_only_rule_builds_but_never_matches(app: Microframework) -> None:
    app.add_url_rule("/external", "external", build_only=True)
    async with app.test_request_context("/"):
        assert app.url_for("external") == "/external"
    assert (await app.test_client().get("/external")).status_code == 404


# -- registration (app.py, scaffold.py) --------------------------------------------------


async def test_a_websocket_handler_with_a_methods_attribute_is_still_a_get_upgrade(
    app: Microframework,
) -> None:
    # Quart's add_websocket passes methods={"GET"}: a handler's own ``methods``
    # attribute (a View class's, say) does not turn the rule into something else.
    async def handler() -> None:
        await websocket.send("hi")

    handler.methods = ["POST"]  # type: ignore[attr-defined]
    app.add_websocket("/ws", "ws", handler)
    async with app.test_client().websocket("/ws") as ws:
        assert await ws.receive() == "hi"


async def test_a_views_required_methods_are_added_to_its_rule(
    app: Microframework,
) -> None:
    async def view() -> str:
        return "ok"

    view.required_methods = ["POST"]  # type: ignore[attr-defined]
    app.add_url_rule("/", "index", view)
    assert (await app.test_client().post("/")).status_code == 200


@pytest.mark.parametrize("shortcut", ["get", "post", "put", "delete", "patch"])
def test_a_method_shortcut_given_methods_is_a_type_error(
    app: Microframework, shortcut: str
) -> None:
    # As Flask's _method_route: "Use the 'route' decorator to use 'methods'", not
    # route()'s "got multiple values for keyword argument 'methods'".
    with pytest.raises(TypeError, match="decorator"):
        getattr(app, shortcut)("/", methods=["GET"])


def test_a_static_url_paths_trailing_slash_is_dropped(tmp_path: Path) -> None:
    app = Microframework(__name__, static_url_path="/assets/", root_path=str(tmp_path))
    assert app.static_url_path == "/assets"
    rules = [r.rule for r in app.url_map.iter_rules() if r.endpoint == "static"]
    assert rules == ["/assets/<path:filename>"]


# -- the overridable delegates (app.py) ---------------------------------------------------


async def test_preprocess_request_runs_the_hooks_of_the_context_it_is_given(
    app: Microframework,
) -> None:
    @app.before_request
    async def answer() -> str:
        return "from before_request"

    ctx = app.test_request_context("/")  # given, not pushed
    assert await app.preprocess_request(ctx) == "from before_request"
    assert await app.preprocess_websocket(ctx) == "from before_request"


async def test_process_response_runs_the_after_functions_of_the_context_given(
    app: Microframework,
) -> None:
    @app.after_request
    async def mark(response: Response) -> Response:
        response.headers["X-After"] = "yes"
        return response

    ctx = app.test_request_context("/")  # given, not pushed
    response = await app.process_response(Response("body"), ctx)
    assert response.headers["X-After"] == "yes"


# -- URL building (app.py) ---------------------------------------------------------------


async def test_create_url_adapter_given_the_request_is_the_requests_adapter(
    app: Microframework,
) -> None:
    @app.get("/items/<int:n>")
    async def item(n: int) -> str:
        return str(n)

    async with app.test_request_context("/items/1"):  # no SERVER_NAME
        adapter = app.create_url_adapter(request._get_current_object())  # type: ignore[attr-defined]
        assert adapter is not None
        assert adapter.build("item", {"n": 2}) == "/items/2"


async def test_url_build_error_handlers_see_the_underscore_arguments(
    app: Microframework,
) -> None:
    # As Flask: values.update(_anchor=..., _method=..., _scheme=..., _external=...)
    seen: list[dict[str, object]] = []

    def handler(error: Exception, endpoint: str, values: dict[str, object]) -> str:
        seen.append(dict(values))
        return "/fallback"

    app.url_build_error_handlers.append(handler)
    async with app.test_request_context("/"):
        assert url_for("missing", _anchor="top", _method="POST") == "/fallback"
    assert seen == [
        {"_anchor": "top", "_method": "POST", "_scheme": None, "_external": False}
    ]


async def test_an_anchor_keeps_its_percent_escapes(app: Microframework) -> None:
    # Flask's safe set includes "%": an already-escaped anchor is not escaped twice.
    @app.get("/")
    async def index() -> str:
        return ""

    async with app.test_request_context("/"):
        assert url_for("index", _anchor="a%20b c") == "/#a%20b%20c"


async def test_url_defaults_run_from_the_app_down_to_the_innermost_blueprint(
    app: Microframework,
) -> None:
    # As Flask's inject_url_defaults: the app's, the parent's, then the child's.
    calls: list[str] = []
    parent = Blueprint("parent", __name__, url_prefix="/p")
    child = Blueprint("child", __name__, url_prefix="/c")

    @child.get("/")
    async def index() -> str:
        return ""

    @app.url_defaults
    def app_defaults(endpoint: str, values: dict[str, object]) -> None:
        calls.append("app")

    @parent.url_defaults
    def parent_defaults(endpoint: str, values: dict[str, object]) -> None:
        calls.append("parent")

    @child.url_defaults
    def child_defaults(endpoint: str, values: dict[str, object]) -> None:
        calls.append("child")

    parent.register_blueprint(child)
    app.register_blueprint(parent)
    async with app.test_request_context("/"):
        assert url_for("parent.child.index") == "/p/c/"
    assert calls == ["app", "parent", "child"]


async def test_a_build_error_raised_by_a_handler_is_the_one_raised(
    app: Microframework,
) -> None:
    raised: list[BuildError] = []

    def handler(error: BuildError, endpoint: str, values: dict[str, object]) -> None:
        raised.append(BuildError("from-handler", values, None))
        raise raised[0]

    app.url_build_error_handlers.append(handler)
    async with app.test_request_context("/"):
        with pytest.raises(BuildError) as caught:
            url_for("missing")
    assert caught.value is raised[0]


def test_run_task_given_debug_sets_the_apps_debug(app: Microframework) -> None:
    assert app.debug is False
    serving = app.run_task(port=0, debug=True)
    serving.close()  # never started
    assert app.debug is True


# -- default configuration (app.py) ------------------------------------------------------

_DOCS = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"
_ROW = re.compile(r"^\| `([A-Z_]+)` \| `([^`|]+)` \|", re.MULTILINE)


def test_the_defaults_are_the_documented_ones() -> None:
    # docs/configuration.md, "Built-in keys": limits users rely on (MAX_CONTENT_LENGTH,
    # MAX_FORM_PARTS, WEBSOCKET_MAX_MESSAGE_SIZE...) must not drift from the table.
    documented = {
        key: eval(value, {"__builtins__": {}, "timedelta": timedelta})
        for key, value in _ROW.findall(_DOCS.read_text(encoding="utf-8"))
    }
    assert len(documented) >= 35
    for key, value in documented.items():
        assert Microframework.default_config[key] == value, key
        assert Microframework(__name__).config[key] == value, key
