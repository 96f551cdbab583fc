"""Templates, second round of pins (mutation testing of templating.py, session 21):
jinja's own API on the app's environment, Flask's override points, streaming."""

from __future__ import annotations

from typing import Any

import jinja2
from jinja2 import DictLoader

from microframework import Blueprint
from microframework import Microframework
from microframework import request
from microframework import Response
from microframework import session
from microframework import websocket
from microframework.signals import before_render_template
from microframework.signals import template_rendered
from microframework.templating import render_template
from microframework.templating import render_template_string
from microframework.templating import stream_template
from microframework.templating import stream_template_string


def test_new_context_keeps_the_locals_it_is_given(app: Microframework) -> None:
    # jinja's public Template.new_context(vars, shared, locals): the locals are in
    # the context even when it is not shared (the fast path must not drop them).
    template = app.jinja_env.from_string("{{ a }}{{ b }}")
    context = template.new_context({"a": 1}, locals={"b": 2})
    assert context["a"] == 1
    assert context["b"] == 2
    assert context["range"] is range  # the globals are still there


async def test_autoescape_in_jinja_options_is_the_environments() -> None:
    # As in Flask: jinja_options may set autoescape; the app's rule is only the
    # default.
    class App(Microframework):
        jinja_options = {"autoescape": False}

    app = App(__name__)
    async with app.app_context():
        assert await render_template_string("{{ v }}", v="<b>") == "<b>"


async def test_the_render_context_holds_the_session_during_a_request(
    app: Microframework,
) -> None:
    # As in Flask's default context processor: a receiver reading the context dict
    # finds the session there (here the proxy), not only as a global.
    app.secret_key = "k"
    seen: list[dict[str, Any]] = []

    def before(sender: Any, template: Any, context: dict[str, Any]) -> None:
        seen.append(dict(context))

    with before_render_template.connected_to(before, app):
        async with app.test_request_context("/"):
            session["user"] = "ann"
            await render_template_string("x")
            assert seen[0]["session"]["user"] == "ann"


async def test_a_streamed_template_consumed_after_its_request_keeps_the_request(
    app: Microframework,
) -> None:
    # As Flask's stream_template: the body is wrapped in stream_with_context, so a
    # helper reading the request proxy still works when the body is read later.
    app.add_template_global(lambda: request.path, "path")
    async with app.test_request_context("/here"):
        response = await stream_template_string("{{ path() }}")
    assert await response.get_data(as_text=True) == "/here"


async def test_a_streamed_template_consumed_after_its_websocket_keeps_it(
    app: Microframework,
) -> None:
    # The same in a websocket: websocket, g and session stay bound to the body.
    app.add_template_global(lambda: websocket.path, "path")
    made: list[Response] = []

    @app.websocket("/ws")
    async def ws() -> None:
        made.append(await stream_template_string("{{ path() }}"))
        await websocket.send("made")

    async with app.test_client().websocket("/ws") as client:
        assert await client.receive() == "made"
    assert await made[0].get_data(as_text=True) == "/ws"


async def test_stream_sends_before_render_template_before_the_first_chunk(
    app: Microframework,
) -> None:
    events: list[tuple[str, Any]] = []

    def before(sender: Any, template: Any, context: dict[str, Any]) -> None:
        events.append(("before", context["name"]))

    with before_render_template.connected_to(before, app):
        async with app.test_request_context("/"):
            response = await stream_template_string("{{ name }}", name="x")
            assert events == [("before", "x")]
            assert await response.get_data(as_text=True) == "x"


async def test_an_environment_of_jinjas_own_class_renders_strings() -> None:
    # create_jinja_environment may return a plain (async) jinja2.Environment, which
    # has no compile cache: render_template_string and stream_template_string use
    # its from_string.
    class App(Microframework):
        def create_jinja_environment(self) -> Any:
            return jinja2.Environment(enable_async=True, autoescape=True)

    app = App(__name__)
    async with app.test_request_context("/"):
        assert await render_template_string("{{ v }}", v="<b>") == "&lt;b&gt;"
        response = await stream_template_string("{{ v }}", v=1)
        assert await response.get_data(as_text=True) == "1"


async def test_stream_template_is_rendered_as_it_is_read(app: Microframework) -> None:
    # The template is rendered as the body is read, not all at once beforehand; the
    # chunks it makes without waiting are joined (see test_streamed_templates).
    evaluated: list[int] = []

    def step(n: int) -> int:
        evaluated.append(n)
        return n

    async with app.test_request_context("/"):
        response = await stream_template_string(
            "{% for i in items %}[{{ step(i) }}]{{ pad }}{% endfor %}",
            items=range(100),
            step=step,
            pad="x" * 1000,
        )
        assert evaluated == []
        body = response.response.__aiter__()  # type: ignore[union-attr]
        first = await body.__anext__()
        assert first.startswith("[0]") and 0 < len(evaluated) < 20
        rest = [chunk async for chunk in body]
    assert len(evaluated) == 100
    assert "".join([first, *rest]).endswith("[99]" + "x" * 1000)


async def test_stream_template_uses_the_apps_response_class(
    app: Microframework,
) -> None:
    class MyResponse(Response):
        pass

    app.response_class = MyResponse
    async with app.test_request_context("/"):
        response = await stream_template_string("x")
        assert type(response) is MyResponse
        assert await response.get_data(as_text=True) == "x"


async def test_stream_template_given_a_list_streams_the_first_that_exists(
    app: Microframework,
) -> None:
    app.jinja_loader = DictLoader({"b.html": "from b"})
    async with app.test_request_context("/"):
        response = await stream_template(["a.html", "b.html"])
        assert await response.get_data(as_text=True) == "from b"


async def test_a_blueprints_context_processor_applies_in_its_websockets(
    app: Microframework,
) -> None:
    # As Quart: the blueprints of the websocket's route count as a request's do.
    bp = Blueprint("bp", __name__)
    app.context_processor(lambda: {"where": "app"})
    bp.context_processor(lambda: {"where": "bp"})

    @bp.websocket("/ws")
    async def ws() -> None:
        await websocket.send(await render_template_string("{{ where }}"))

    app.register_blueprint(bp)
    async with app.test_client().websocket("/ws") as client:
        assert await client.receive() == "bp"


async def test_a_template_global_registered_again_replaces_the_first(
    app: Microframework,
) -> None:
    # As Flask (globals[name] = func): the last registration wins, jinja's own
    # globals (range) included.
    app.add_template_global(lambda: "one", "answer")
    app.add_template_global(lambda: "two", "answer")
    app.add_template_global(lambda *a: "mine", "range")
    async with app.app_context():
        assert await render_template_string("{{ answer() }} {{ range(3) }}") == (
            "two mine"
        )


async def test_an_overridden_update_template_context_is_used() -> None:
    # As Flask: render_template calls app.update_template_context, so a subclass
    # may add to (or change) every template's context there.
    class App(Microframework):
        async def update_template_context(self, context: dict[str, Any]) -> None:
            await super().update_template_context(context)
            context["extra"] = "yes"

    app = App(__name__)
    app.jinja_loader = DictLoader({"page.html": "{{ extra }}"})
    async with app.test_request_context("/"):
        assert await render_template("page.html") == "yes"
        assert await render_template_string("{{ extra }}") == "yes"
        response = await stream_template_string("{{ extra }}")
        assert await response.get_data(as_text=True) == "yes"


def test_an_overridden_create_global_jinja_loader_is_the_environments() -> None:
    # As Flask: the environment asks app.create_global_jinja_loader() for its loader.
    class App(Microframework):
        def create_global_jinja_loader(self) -> jinja2.BaseLoader:
            return DictLoader({"page.html": "from the override"})

    app = App(__name__)
    assert app.jinja_env.get_template("page.html").render() == "from the override"


async def test_an_empty_template_sends_template_rendered(
    app: Microframework,
) -> None:
    rendered: list[str] = []

    def after(sender: Any, template: Any, context: dict[str, Any]) -> None:
        rendered.append("rendered")

    with template_rendered.connected_to(after, app):
        async with app.app_context():
            assert await render_template_string("") == ""
    assert rendered == ["rendered"]
