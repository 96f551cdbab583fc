"""Templates: the environment's options, the render context, context processors."""

from __future__ import annotations

import uuid
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import jinja2
from jinja2 import DictLoader

from microframework import Blueprint
from microframework import g
from microframework import Microframework
from microframework import request
from microframework import websocket
from microframework.signals import before_render_template
from microframework.templating import render_template
from microframework.templating import render_template_string
from microframework.templating import stream_template_string


def test_a_loader_in_jinja_options_is_the_environments() -> None:
    # As in Flask: jinja_options may replace the app's loader (templates kept in a
    # database, say); the app's own is made only when none is given.
    class App(Microframework):
        jinja_options = {"loader": DictLoader({"page.html": "from the dict"})}

    app = App(__name__)
    assert app.jinja_env.get_template("page.html").render() == "from the dict"


def test_from_string_makes_a_template_of_the_class_it_is_given(
    app: Microframework,
) -> None:
    # jinja's API: the template_class argument is honoured, not the cache's class.
    class Mine(jinja2.Template):
        pass

    assert isinstance(app.jinja_env.from_string("x", template_class=Mine), Mine)


async def test_tojson_in_a_template_uses_the_apps_json_provider(
    app: Microframework,
) -> None:
    # |tojson dumps with app.json, as in Flask: a UUID (which json.dumps refuses)
    # is written as a string, keys sorted.
    value = uuid.UUID(int=1)
    async with app.app_context():
        out = await render_template_string("{{ v|tojson }}", v={"b": value, "a": 1})
    assert out == '{"a": 1, "b": "00000000-0000-0000-0000-000000000001"}'


async def test_context_processors_run_from_the_app_to_the_innermost_blueprint(
    app: Microframework,
) -> None:
    # As in Flask: the app's, then each blueprint's from the outermost in, all of
    # them, the innermost blueprint's values winning.
    parent, child = Blueprint("parent", __name__), Blueprint("child", __name__)
    app.context_processor(lambda: {"who": "app", "app": 1})
    parent.context_processor(lambda: {"who": "parent", "parent": 1})
    child.context_processor(lambda: {"who": "child", "child": 1})

    @child.get("/page")
    async def page() -> str:
        return await render_template_string(
            "{{ who }} {{ app }}{{ parent }}{{ child }}"
        )

    parent.register_blueprint(child)
    app.register_blueprint(parent)
    response = await app.test_client().get("/page")
    assert await response.get_data(as_text=True) == "child 111"


async def test_a_context_processor_may_return_any_awaitable(
    app: Microframework,
) -> None:
    # A sync function returning an awaitable (an async library's call) is awaited,
    # not taken for the mapping itself. It runs in a worker thread: no loop there.
    async def fetch() -> dict[str, Any]:
        return {"answer": 42}

    def values() -> Coroutine[Any, Any, dict[str, Any]]:
        return fetch()

    app.context_processor(values)
    async with app.test_request_context("/"):
        assert await render_template_string("{{ answer }}") == "42"


async def test_a_streamed_template_gets_the_context_processors_values(
    app: Microframework,
) -> None:
    app.context_processor(lambda: {"answer": 42})

    @app.get("/")
    async def index() -> Any:
        return await stream_template_string("{{ answer }}")

    response = await app.test_client().get("/")
    assert await response.get_data(as_text=True) == "42"


async def test_a_macro_imported_without_context_sees_the_request(
    tmp_path: Path,
) -> None:
    # An import without context gets only the environment's globals: as in Flask,
    # request, session, g and config are among them (proxies).
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "macros.html").write_text(
        "{% macro here() %}{{ request.path }} {{ g.user }}{% endmacro %}"
    )
    (tmp_path / "templates" / "page.html").write_text(
        '{% import "macros.html" as m %}{{ m.here() }}'
    )
    app = Microframework(__name__, root_path=str(tmp_path))

    @app.get("/page")
    async def page() -> str:
        g.user = "ann"
        return await render_template("page.html")

    response = await app.test_client().get("/page")
    assert await response.get_data(as_text=True) == "/page ann"


async def test_the_render_context_holds_g_and_request(app: Microframework) -> None:
    # As in Flask, whose default context processor adds them: a signal receiver or
    # a processor reading the context dict finds them there, not only as globals.
    seen: list[dict[str, Any]] = []

    def before(sender: Any, template: Any, context: dict[str, Any]) -> None:
        seen.append(dict(context))

    with before_render_template.connected_to(before, app):
        async with app.test_request_context("/"):
            await render_template_string("x")
            assert seen[0]["g"] is g._get_current_object()
            assert seen[0]["request"] is request._get_current_object()


async def test_a_template_rendered_in_a_websocket_gets_its_context(
    app: Microframework,
) -> None:
    # The websocket, g and the context processors' values, as for a request.
    app.context_processor(lambda: {"answer": 42})

    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.send(
            await render_template_string("{{ websocket.path }} {{ answer }}")
        )

    async with app.test_client().websocket("/ws") as client:
        assert await client.receive() == "/ws 42"


async def test_a_template_imported_without_context_does_not_see_the_render_values(
    tmp_path: Path,
) -> None:
    # jinja's rule (and Flask's): an import without context sees the globals only.
    # The render's own values must not leak into the globals it is given.
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "macros.html").write_text(
        "{% macro show() %}[{{ name }}]{% endmacro %}"
    )
    (tmp_path / "templates" / "page.html").write_text(
        '{% import "macros.html" as m %}{{ name }}{{ m.show() }}'
    )
    app = Microframework(__name__, root_path=str(tmp_path))
    async with app.app_context():
        assert await render_template("page.html", name="ann") == "ann[]"
