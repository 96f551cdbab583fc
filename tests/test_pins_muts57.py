"""Pins from mutation testing (helper muts57, session 39): the survivors among the
mutants of ``blueprints.py`` and ``views.py``.

Each test kills a mutant that survived the related test files; its first comment names
the code it pins and the mutant id.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

import pytest

from microframework import g
from microframework import Microframework
from microframework import url_for
from microframework.blueprints import Blueprint
from microframework.views import MethodView
from microframework.views import View

LIMIT = 10


async def test_a_plain_method_run_as_is_by_ensure_async_stays_cancellable() -> None:
    # views._call: only a method ensure_async wrapped (view is not func) is awaited
    # through the shielded worker-thread path (V2). An override returning a plain
    # method as is (its coroutine, from a plain decorator, awaited on the loop) must
    # stay cancellable: a 504 cancels the view, as for a function view.
    cancelled: list[str] = []

    class AsIs(Microframework):
        def ensure_async(self, func: Any) -> Any:
            return func

    app = AsIs(__name__)
    app.config["RESPONSE_TIMEOUT"] = 0.01

    def plain(func: Any) -> Any:  # a Flask-style decorator, ported as is
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return func(*args, **kwargs)

        return wrapper

    class Slow(MethodView):
        @plain
        async def get(self) -> str:
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                cancelled.append("get")
                raise
            return "never"

    app.add_url_rule("/", view_func=Slow.as_view("slow"))
    async with asyncio.timeout(LIMIT):
        response = await app.test_client().get("/")
        assert response.status_code == 504
        while not cancelled:
            await asyncio.sleep(0)
    assert cancelled == ["get"]


async def test_a_parents_own_route_wins_over_a_nested_childs_with_the_same_url() -> (
    None
):
    # blueprints.Blueprint.register: the blueprint's deferred functions (its routes)
    # run before its nested blueprints register (B48): on one URL the parent's route,
    # added first, is matched, as in Flask 3.1.3 and Quart 0.22.
    app = Microframework(__name__)
    parent = Blueprint("parent", __name__, url_prefix="/p")
    child = Blueprint("child", __name__)

    @child.route("/dup")
    async def from_child() -> str:
        return "child"

    @parent.route("/dup")
    async def from_parent() -> str:
        return "parent"

    parent.register_blueprint(child)
    app.register_blueprint(parent)
    async with asyncio.timeout(LIMIT):
        response = await app.test_client().get("/p/dup")
        assert await response.get_data(as_text=True) == "parent"
    endpoints = [rule.endpoint for rule in app.url_map.iter_rules()]
    assert endpoints.index("parent.from_parent") < endpoints.index(
        "parent.child.from_child"
    )


def test_a_view_without_dispatch_request_raises_not_implemented_error() -> None:
    # views._not_implemented: NotImplementedError, Flask's and Quart's (V25): code that
    # catches it (an abstract base's tests) sees the same exception.
    class Abstract(View):
        pass

    with pytest.raises(NotImplementedError, match="Abstract must define"):
        Abstract().dispatch_request()


async def test_registries_keyed_by_name_are_extended_and_prefixed_on_registration() -> (
    None
):
    # blueprints.Blueprint._merge_registries: a blueprint's registry entry keyed by a
    # nested blueprint's name lands under the dotted name (B53), and registration adds
    # to what the app already holds for the name instead of replacing it (B54). Flask
    # documents these dicts (key: the blueprint's name); Flask 3.1.3 and Quart 0.22 run
    # all three hooks below.
    app = Microframework(__name__)
    parent = Blueprint("parent", __name__)
    child = Blueprint("child", __name__)

    def log(text: str) -> None:
        g.setdefault("log", []).append(text)

    @child.route("/c")
    async def in_child() -> str:
        return " ".join(g.log)

    @parent.before_request
    def own() -> None:
        log("parent")

    app.before_request_funcs["parent"].append(lambda: log("app-keyed"))
    parent.before_request_funcs["child"].append(lambda: log("keyed-child"))
    parent.register_blueprint(child)
    app.register_blueprint(parent)
    async with asyncio.timeout(LIMIT):
        response = await app.test_client().get("/c")
        assert await response.get_data(as_text=True) == "app-keyed parent keyed-child"


async def test_stacked_app_errorhandlers_of_a_blueprint_register_the_function() -> None:
    # blueprints.Blueprint.app_errorhandler: the decorator returns the function (B59),
    # so stacking two (a common Flask pattern) registers it for both codes.
    app = Microframework(__name__)
    bp = Blueprint("bp", __name__)

    @bp.app_errorhandler(404)
    @bp.app_errorhandler(405)
    async def handled(error: Any) -> tuple[str, int]:
        return f"handled {error.code}", error.code

    @bp.route("/only-get")
    async def only_get() -> str:
        return "ok"

    app.register_blueprint(bp)
    assert handled.__name__ == "handled"
    async with asyncio.timeout(LIMIT):
        client = app.test_client()
        response = await client.get("/missing")
        assert await response.get_data(as_text=True) == "handled 404"
        response = await client.post("/only-get")
        assert await response.get_data(as_text=True) == "handled 405"


async def test_a_nested_blueprint_without_a_prefix_or_subdomain_takes_its_parents() -> (
    None
):
    # blueprints._child_options: a child with no url_prefix / subdomain of its own
    # inherits its parent's (B70, B75), as in Flask 3.1.3 and Quart 0.22.
    app = Microframework(__name__, subdomain_matching=True)
    app.config["SERVER_NAME"] = "example.com"
    parent = Blueprint("parent", __name__, url_prefix="/p", subdomain="api")
    child = Blueprint("child", __name__)

    @child.route("/x")
    async def x() -> str:
        return "child"

    parent.register_blueprint(child)
    app.register_blueprint(parent)
    rule = next(r for r in app.url_map.iter_rules() if r.endpoint == "parent.child.x")
    assert (rule.rule, rule.subdomain) == ("/p/x", "api")
    async with asyncio.timeout(LIMIT):
        response = await app.test_client().get(
            "/p/x", headers={"Host": "api.example.com"}
        )
        assert await response.get_data(as_text=True) == "child"


async def test_a_parent_registered_twice_gives_its_nested_blueprint_each_prefix() -> (
    None
):
    # blueprints._child_options: the child's options are copied, not updated in place
    # (B76): the first registration's joined prefix and name must not leak into the
    # second. Flask 3.1.3 and Quart 0.22: /p/c/x and /q/c/x (diff/d1.py).
    app = Microframework(__name__)
    parent = Blueprint("parent", __name__, url_prefix="/p")
    child = Blueprint("child", __name__)

    @child.route("/x")
    async def x() -> str:
        return "x"

    parent.register_blueprint(child, url_prefix="/c")
    app.register_blueprint(parent)
    app.register_blueprint(parent, name="parent2", url_prefix="/q")
    rules = {r.endpoint: r.rule for r in app.url_map.iter_rules()}
    assert rules["parent.child.x"] == "/p/c/x"
    assert rules["parent2.child.x"] == "/q/c/x"
    async with asyncio.timeout(LIMIT):
        assert (await app.test_client().get("/q/c/x")).status_code == 200


async def test_url_defaults_given_to_a_blueprint_are_the_callers_dict() -> None:
    # Blueprint(url_defaults=d) keeps d itself, as Flask and Quart do (B21): an app
    # factory that fills a module-level dict after the blueprint is made is heard.
    defaults: dict[str, Any] = {}
    blueprint = Blueprint("pages", __name__, url_defaults=defaults)

    @blueprint.get("/<lang>/")
    async def index(lang: str) -> str:
        return lang

    defaults["lang"] = "de"
    app = Microframework(__name__)
    app.register_blueprint(blueprint)
    async with asyncio.timeout(LIMIT), app.test_request_context("/"):
        assert blueprint.url_values_defaults is defaults
        assert url_for("pages.index") == "/de/"
