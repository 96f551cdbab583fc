"""Templates with a real app: loading, autoescaping, context, filters, streaming, signals.

``TemplatingMixin`` is one of the app's bases once the app wires it in; until then the
tests build that class themselves, exactly as the app will be.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import pytest
from jinja2 import TemplateNotFound

from microframework import g
from microframework import Microframework
from microframework import Response
from microframework.blueprints import Blueprint
from microframework.helpers import get_template_attribute
from microframework.sessions import SecureCookieSession
from microframework.signals import before_render_template
from microframework.signals import template_rendered
from microframework.templating import render_template
from microframework.templating import render_template_string
from microframework.templating import stream_template
from microframework.templating import stream_template_string
from microframework.templating import TemplatingMixin


# This order works both before and after Microframework inherits the mixin.
class App(Microframework, TemplatingMixin):
    pass


def _write(folder: Path, name: str, text: str) -> None:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    _write(tmp_path / "templates", "hello.html", "Hello {{ name }}!")
    _write(tmp_path / "templates", "hello.txt", "Hello {{ name }}!")
    return tmp_path


@pytest.fixture
def tapp(root: Path) -> App:
    app = App(__name__, root_path=str(root))
    app.testing = True
    return app


async def _get(app: Microframework, path: str) -> tuple[int, str]:
    response = await app.test_client().get(path)
    return response.status_code, await response.get_data(as_text=True)


# -- loading and escaping ------------------------------------------------------------------


async def test_render_template_from_the_app_folder_autoescapes_html(tapp: App) -> None:
    async with tapp.app_context():
        assert await render_template("hello.html", name="<b>") == "Hello &lt;b&gt;!"


async def test_txt_templates_are_not_autoescaped(tapp: App) -> None:
    async with tapp.app_context():
        assert await render_template("hello.txt", name="<b>") == "Hello <b>!"


async def test_render_template_string_is_autoescaped(tapp: App) -> None:
    async with tapp.app_context():
        assert await render_template_string("{{ x }}", x="<i>") == "&lt;i&gt;"


@pytest.mark.parametrize(
    ("filename", "escaped"),
    [
        ("a.html", True),
        ("a.htm", True),
        ("a.xml", True),
        ("a.xhtml", True),
        ("a.svg", True),
        ("a.txt", False),
        ("a.js", False),
        (None, True),
    ],
)
def test_select_jinja_autoescape(
    tapp: App, filename: str | None, escaped: bool
) -> None:
    assert tapp.select_jinja_autoescape(filename) is escaped


async def test_a_list_renders_the_first_template_that_exists(tapp: App) -> None:
    async with tapp.app_context():
        rendered = await render_template(["missing.html", "hello.html"], name="x")
    assert rendered == "Hello x!"


async def test_missing_template_raises_template_not_found(tapp: App) -> None:
    async with tapp.app_context():
        with pytest.raises(TemplateNotFound):
            await render_template("missing.html")


async def test_render_outside_an_app_context_is_a_runtime_error() -> None:
    with pytest.raises(RuntimeError, match="application context"):
        await render_template("hello.html")


async def test_a_template_source_is_compiled_once(tapp: App) -> None:
    compiled: list[str] = []
    compile_source = tapp.jinja_env.compile

    def counting(source: Any, *args: Any, **kwargs: Any) -> Any:
        compiled.append(source)
        return compile_source(source, *args, **kwargs)

    tapp.jinja_env.compile = counting  # type: ignore[method-assign]
    async with tapp.app_context():
        assert await render_template_string("{{ x }}!", x=1) == "1!"
        assert await render_template_string("{{ x }}!", x=2) == "2!"
        # A global added after the first render is seen by the compiled template.
        tapp.add_template_global(lambda: "late", "later")
        assert await render_template_string("{{ later() }}") == "late"
        assert await render_template_string("{{ later() }}") == "late"
    assert compiled == ["{{ x }}!", "{{ later() }}"]


async def test_a_kept_string_is_compiled_again_once_an_option_changes(
    tapp: App,
) -> None:
    # Flask compiles a string per call, so a changed option always applies; a kept
    # one kept the old (templates review, session 31).
    source = "{% if true %}\nX{% endif %}|{{ nothing }}"
    async with tapp.app_context():
        assert await render_template_string(source, nothing=None) == "\nX|None"
        tapp.jinja_env.trim_blocks = True
        tapp.jinja_env.finalize = lambda value: "" if value is None else value
        assert await render_template_string(source, nothing=None) == "X|"
        tapp.jinja_env.add_extension("jinja2.ext.do")
        assert await render_template_string("{% do [] %}ok") == "ok"


async def test_an_overlay_keeps_its_compiled_strings_to_itself(tapp: App) -> None:
    # jinja's overlay copies the environment's attributes, the string cache with
    # them: one without autoescape handed the app unescaped templates (review10).
    overlay = tapp.jinja_env.overlay(autoescape=False)
    assert await overlay.cached_from_string("{{ y }}").render_async(y="<i>") == "<i>"  # type: ignore[attr-defined]
    async with tapp.app_context():
        assert await render_template_string("{{ y }}", y="<i>") == "&lt;i&gt;"


async def test_a_long_source_is_rendered_but_not_kept(tapp: App) -> None:
    # 256 sources of 512 KiB each stayed in memory for good (202 MiB).
    from microframework._utils import MEMO_KEY_SIZE

    long_source = "x" * (MEMO_KEY_SIZE + 1)
    async with tapp.app_context():
        assert await render_template_string(long_source) == long_source
        assert await render_template_string("short") == "short"
    assert list(tapp.jinja_env._from_source) == ["short"]


async def test_jinja_env_from_string_makes_a_new_template_each_time(tapp: App) -> None:
    # jinja's contract: a template's own globals changed must not leak into the
    # next from_string (or render_template_string) of the same source.
    first = tapp.jinja_env.from_string("hello {{ name }}")
    first.globals["name"] = "alice"
    assert tapp.jinja_env.from_string("hello {{ name }}") is not first
    async with tapp.app_context():
        assert await render_template_string("hello {{ name }}") == "hello "


async def test_compiled_sources_stay_bounded(tapp: App) -> None:
    from microframework._utils import MEMO_LIMIT

    async with tapp.app_context():
        for n in range(MEMO_LIMIT + 10):
            assert await render_template_string(f"{n}") == str(n)
    assert len(tapp.jinja_env._from_source) <= MEMO_LIMIT


async def test_a_template_that_ignores_the_session_does_not_open_it(root: Path) -> None:
    app = Microframework(__name__, root_path=str(root))
    app.secret_key = "k"
    opened: list[bool] = []
    interface = app.session_interface
    real_open = interface.open_session

    async def open_session(*args: Any) -> Any:
        opened.append(True)
        return await real_open(*args)

    interface.open_session = open_session  # type: ignore[method-assign]
    interface.opens_without_waiting = True  # (one of its own opens before each view)

    @app.get("/")
    async def index() -> str:
        return await render_template_string("plain {{ request.path }}")

    response = await app.test_client().get("/")
    assert await response.get_data(as_text=True) == "plain /"
    assert "Vary" not in response.headers
    assert opened == []


async def test_templates_may_await_async_functions(tapp: App) -> None:
    async def fetch() -> str:
        return "fetched"

    tapp.add_template_global(fetch)
    async with tapp.app_context():
        assert await render_template_string("{{ fetch() }}") == "fetched"


# -- blueprints ------------------------------------------------------------------------------


def _blueprint_with_templates(root: Path, name: str) -> Blueprint:
    folder = root / name / "templates"
    _write(folder, "hello.html", f"{name} hello")
    _write(folder, f"{name}/page.html", f"{name} page")
    return Blueprint(
        name, __name__, template_folder="templates", root_path=str(root / name)
    )


async def test_app_templates_win_then_blueprints_in_registration_order(
    tapp: App, root: Path
) -> None:
    first = _blueprint_with_templates(root, "first")
    second = _blueprint_with_templates(root, "second")
    _write(root / "second" / "templates", "shared.html", "second shared")
    _write(root / "first" / "templates", "shared.html", "first shared")
    tapp.register_blueprint(first)
    tapp.register_blueprint(second)
    async with tapp.app_context():
        assert await render_template("hello.html", name="app") == "Hello app!"
        assert await render_template("shared.html") == "first shared"
        assert await render_template("second/page.html") == "second page"
    assert tapp.jinja_env.list_templates() == [
        "first/page.html",
        "hello.html",
        "hello.txt",
        "second/page.html",
        "shared.html",
    ]


async def test_explain_template_loading_logs_every_folder_tried(
    tapp: App, root: Path, caplog: pytest.LogCaptureFixture
) -> None:
    tapp.config["EXPLAIN_TEMPLATE_LOADING"] = True
    _write(root / "first" / "templates", "shared.html", "first shared")
    _write(root / "second" / "templates", "shared.html", "second shared")
    tapp.register_blueprint(_blueprint_with_templates(root, "first"))
    tapp.register_blueprint(_blueprint_with_templates(root, "second"))
    tapp.register_blueprint(Blueprint("plain", __name__))
    async with tapp.app_context():
        with caplog.at_level("INFO", logger=tapp.logger.name):
            assert await render_template("shared.html") == "first shared"
            with pytest.raises(TemplateNotFound):
                await render_template("missing.html")

    shared, missing = (r.getMessage() for r in caplog.records)
    assert shared.splitlines() == [
        "Locating template 'shared.html':",
        f"  the app: not found in {[str(root / 'templates')]}",
        f"  blueprint 'first': found at {str(root / 'first/templates/shared.html')!r} (used)",
        f"  blueprint 'second': found at {str(root / 'second/templates/shared.html')!r}",
        "  blueprint 'plain': no template folder",
    ]
    assert missing.endswith("The template was not found.")
    # Where each folder looked: what the option is turned on to learn.
    assert f"blueprint 'second': not found in {[str(root / 'second/templates')]}" in (
        missing
    )


def test_blueprint_without_template_folder_has_no_loader() -> None:
    assert Blueprint("bp", __name__).jinja_loader is None


def test_app_without_template_folder_has_no_loader(root: Path) -> None:
    assert App(__name__, root_path=str(root), template_folder=None).jinja_loader is None


# -- the context --------------------------------------------------------------------------


async def test_default_context_in_a_request(tapp: App) -> None:
    @tapp.route("/page/<int:n>")
    async def page(n: int) -> str:
        g.user = "ada"
        return await render_template_string(
            "{{ request.path }} {{ g.user }} {{ config.TESTING }}"
            " {{ url_for('page', n=2) }} {{ get_flashed_messages() }}"
        )

    # get_flashed_messages needs the session the app will open per request.
    async with tapp.test_request_context("/page/1") as ctx:
        ctx.session = SecureCookieSession({"_flashes": [("message", "hi")]})
        rendered = await page(1)
    assert rendered == "/page/1 ada True /page/2 [&#39;hi&#39;]"


async def test_session_is_in_the_context(tapp: App) -> None:
    async with tapp.test_request_context("/") as ctx:
        ctx.session = SecureCookieSession({"user": "ada"})
        assert await render_template_string("{{ session.user }}") == "ada"


async def test_outside_a_request_config_and_g_still_work(tapp: App) -> None:
    tapp.config["SITE"] = "blog"
    async with tapp.app_context():
        g.x = 1
        assert await render_template_string("{{ config.SITE }} {{ g.x }}") == "blog 1"


async def test_a_render_context_layers_env_globals_template_globals_and_values(
    tapp: App,
) -> None:
    # The context is merged from dicts, not jinja's ChainMap walk: the same layers.
    env = tapp.jinja_env
    env.globals.update(a="env-a", b="env-b", c="env-c")
    template = env.from_string(
        "{{ a }} {{ b }} {{ c }} {{ d }}", globals={"b": "tpl-b", "c": "tpl-c"}
    )
    env.globals["d"] = "env-d"  # added after the template: still seen
    async with tapp.app_context():
        assert await template.render_async(c="value-c") == "env-a tpl-b value-c env-d"
        context = template.new_context({"c": "value-c"})
    assert context.parent["b"] == "tpl-b"
    assert context.globals_keys == set(template.globals)  # what imports consult
    assert template.new_context({}, shared=True).parent == {}


async def test_context_processors_sync_and_async_and_passed_values_win(
    tapp: App,
) -> None:
    @tapp.context_processor
    def sync_values() -> dict[str, Any]:
        return {"a": "sync", "b": "sync"}

    @tapp.context_processor
    async def async_values() -> dict[str, Any]:
        return {"b": "async", "c": "async"}

    async with tapp.test_request_context("/"):
        rendered = await render_template_string("{{ a }} {{ b }} {{ c }}", c="passed")
    assert rendered == "sync async passed"


async def test_a_sync_context_processor_runs_in_a_worker_thread(tapp: App) -> None:
    # One that looks the user up in a database blocked the loop, and so every other
    # request; Quart runs it in a thread, through the app's ensure_async.
    threads: list[str] = []
    wrapped: list[object] = []
    original = tapp.ensure_async

    def ensure_async(func: Any) -> Any:
        wrapped.append(func)
        return original(func)

    tapp.ensure_async = ensure_async  # type: ignore[method-assign]

    @tapp.context_processor
    def current_user() -> dict[str, Any]:
        threads.append(threading.current_thread().name)
        return {"user": "ada"}

    async with tapp.test_request_context("/"):
        assert await render_template_string("{{ user }}") == "ada"
    assert threads != [threading.main_thread().name]
    assert current_user in wrapped


async def test_blueprint_context_processor_only_for_its_requests(tapp: App) -> None:
    bp = Blueprint("bp", __name__, url_prefix="/bp")

    @bp.context_processor
    def bp_values() -> dict[str, Any]:
        return {"where": "bp"}

    @bp.app_context_processor
    def everywhere() -> dict[str, Any]:
        return {"all": "yes"}

    @bp.route("/")
    async def inside() -> str:
        return await render_template_string("{{ where }} {{ all }}")

    @tapp.route("/")
    async def outside() -> str:
        return await render_template_string("{{ where }} {{ all }}")

    tapp.register_blueprint(bp)
    assert await _get(tapp, "/bp/") == (200, "bp yes")
    assert await _get(tapp, "/") == (200, " yes")


async def test_tojson_uses_the_apps_json_provider(tapp: App) -> None:
    async with tapp.app_context():
        rendered = await render_template_string(
            "{{ data|tojson }}", data={"b": 1, "a": "<"}
        )
    assert rendered == '{"a": "\\u003c", "b": 1}'


# -- filters, tests and globals ----------------------------------------------------------


async def test_template_filter_test_and_global_decorators(tapp: App) -> None:
    @tapp.template_filter()
    def shout(value: str) -> str:
        return value.upper()

    @tapp.template_filter("whisper")
    def lower(value: str) -> str:
        return value.lower()

    @tapp.template_test("even_number")
    def is_even(value: int) -> bool:
        return value % 2 == 0

    @tapp.template_global()
    def answer() -> int:
        return 42

    async with tapp.app_context():
        rendered = await render_template_string(
            "{{ 'a'|shout }} {{ 'B'|whisper }} {{ 4 is even_number }} {{ answer() }}"
        )
    assert rendered == "A b True 42"


def test_add_template_functions_register_on_the_environment(tapp: App) -> None:
    def f(value: Any) -> Any:
        return value

    tapp.add_template_filter(f, "ff")
    tapp.add_template_test(bool, "truthy")
    tapp.add_template_global(f)
    assert tapp.jinja_env.filters["ff"] is f
    assert tapp.jinja_env.tests["truthy"] is bool
    assert tapp.jinja_env.globals["f"] is f


def test_template_filter_without_parentheses_is_a_type_error(tapp: App) -> None:
    with pytest.raises(TypeError, match="parentheses"):

        @tapp.template_filter  # type: ignore[arg-type]
        def bare(value: str) -> str:
            return value


@pytest.mark.parametrize(
    ("owner", "decorator"),
    [
        ("app", "template_test"),
        ("app", "template_global"),
        ("bp", "app_template_filter"),
        ("bp", "app_template_test"),
    ],
)
def test_a_bare_template_decorator_names_itself_in_the_hint(
    tapp: App, owner: str, decorator: str
) -> None:
    # The hint named @app.template_filter() whichever was written.
    target = tapp if owner == "app" else Blueprint("bp", __name__)
    with pytest.raises(TypeError, match=rf"parentheses: @{owner}\.{decorator}\(\)$"):
        getattr(target, decorator)(len)


async def test_blueprint_app_template_functions(tapp: App) -> None:
    bp = Blueprint("bp", __name__)

    @bp.app_template_filter("rev")
    def reverse(value: str) -> str:
        return value[::-1]

    @bp.app_template_test()
    def empty(value: str) -> bool:
        return not value

    @bp.app_template_global("site")
    def site_name() -> str:
        return "blog"

    tapp.register_blueprint(bp)
    async with tapp.app_context():
        rendered = await render_template_string(
            "{{ 'ab'|rev }} {{ '' is empty }} {{ site() }}"
        )
    assert rendered == "ba True blog"


# -- streaming ------------------------------------------------------------------------------


async def test_stream_template_is_a_streamed_response(tapp: App) -> None:
    _write(
        Path(tapp.root_path) / "templates",
        "list.html",
        "{% for i in items %}[{{ i }}]{% endfor %}",
    )

    @tapp.route("/stream")
    async def stream() -> Response:
        return await stream_template("list.html", items=["<a>", "b"])

    @tapp.route("/stream-string")
    async def stream_string() -> Response:
        return await stream_template_string("{{ request.path }}")

    async with tapp.test_request_context("/"):
        response = await stream_template("list.html", items=[1])
        assert response.is_streamed
        await response.get_data()
    assert await _get(tapp, "/stream") == (200, "[&lt;a&gt;][b]")
    assert await _get(tapp, "/stream-string") == (200, "/stream-string")


# -- signals ---------------------------------------------------------------------------------


async def test_render_sends_before_and_after_signals(tapp: App) -> None:
    events: list[tuple[str, Any, str | None, Any]] = []

    def before(sender: Any, template: Any, context: dict[str, Any]) -> None:
        events.append(("before", sender, template.name, context["name"]))

    async def after(sender: Any, template: Any, context: dict[str, Any]) -> None:
        events.append(("after", sender, template.name, context["name"]))

    with (
        before_render_template.connected_to(before, tapp),
        template_rendered.connected_to(after, tapp),
    ):
        async with tapp.app_context():
            await render_template("hello.html", name="x")
    assert events == [
        ("before", tapp, "hello.html", "x"),
        ("after", tapp, "hello.html", "x"),
    ]


async def test_stream_sends_template_rendered_after_the_last_chunk(tapp: App) -> None:
    events: list[str] = []

    def after(sender: Any, **kwargs: Any) -> None:
        events.append("rendered")

    with template_rendered.connected_to(after, tapp):
        async with tapp.test_request_context("/"):
            response = await stream_template("hello.html", name="x")
            assert events == []
            assert await response.get_data(as_text=True) == "Hello x!"
    assert events == ["rendered"]


# -- macros, environment, reloading -------------------------------------------------------


async def test_get_template_attribute_returns_a_macro(tapp: App) -> None:
    _write(
        Path(tapp.root_path) / "templates",
        "macros.html",
        "{% macro hello(name) %}Hi {{ name }}{% endmacro %}{% set answer = 42 %}",
    )
    async with tapp.app_context():
        hello = await get_template_attribute("macros.html", "hello")
        assert str(await hello("<x>")) == "Hi &lt;x&gt;"
        assert await get_template_attribute("macros.html", "answer") == 42


def test_jinja_env_is_created_once_with_the_jinja_options(root: Path) -> None:
    class Custom(App):
        jinja_options = {"trim_blocks": True}

    app = Custom(__name__, root_path=str(root))
    assert app.jinja_env is app.jinja_env
    assert app.jinja_env.trim_blocks is True
    assert app.jinja_env.is_async
    assert app.jinja_env.app is app


@pytest.mark.parametrize(
    ("debug", "setting", "expected"),
    [
        (False, None, False),
        (True, None, True),
        (True, False, False),
        (False, True, True),
    ],
)
def test_templates_auto_reload_defaults_to_debug(
    root: Path, debug: bool, setting: bool | None, expected: bool
) -> None:
    app = App(__name__, root_path=str(root))
    app.config["DEBUG"] = debug
    app.config["TEMPLATES_AUTO_RELOAD"] = setting
    assert app.templates_auto_reload is expected
    assert app.jinja_env.auto_reload is expected


@pytest.mark.parametrize(("setting", "expected"), [(None, True), (False, False)])
def test_setting_debug_after_the_environment_exists_turns_on_auto_reload(
    root: Path, setting: bool | None, expected: bool
) -> None:
    # app.run(debug=True) sets app.debug after a template filter made jinja_env.
    app = App(__name__, root_path=str(root))
    app.config["TEMPLATES_AUTO_RELOAD"] = setting
    assert app.jinja_env.auto_reload is False
    app.debug = True
    assert app.debug is True
    assert app.config["DEBUG"] is True
    assert app.jinja_env.auto_reload is expected


async def test_auto_reload_picks_up_a_changed_template(tapp: App, root: Path) -> None:
    tapp.templates_auto_reload = True
    path = root / "templates" / "hello.html"
    async with tapp.app_context():
        assert await render_template("hello.html", name="a") == "Hello a!"
        path.write_text("Changed {{ name }}")
        # Make the change visible to the mtime check however coarse the clock is.
        stat = path.stat()
        os.utime(path, (stat.st_atime, stat.st_mtime + 10))
        assert await render_template("hello.html", name="a") == "Changed a"


def test_setting_auto_reload_updates_an_existing_environment(tapp: App) -> None:
    tapp.templates_auto_reload = False
    assert tapp.jinja_env.auto_reload is False
    tapp.templates_auto_reload = True
    assert tapp.jinja_env.auto_reload is True
    assert tapp.config["TEMPLATES_AUTO_RELOAD"] is True


async def test_template_registration_after_the_first_request_is_an_error(
    tapp: App,
) -> None:
    await tapp.test_client().get("/")
    with pytest.raises(AssertionError, match="template_filter"):
        tapp.template_filter()(str)


# -- through the app (runs once Microframework inherits TemplatingMixin) -------------------


@pytest.mark.skipif(
    not issubclass(Microframework, TemplatingMixin),
    reason="Microframework does not inherit TemplatingMixin yet (issue 4 integration)",
)
async def test_plain_app_renders_with_the_session_of_the_request(root: Path) -> None:
    from microframework import session

    app = Microframework(__name__, root_path=str(root))
    app.config["SECRET_KEY"] = "k"

    @app.route("/login")
    async def login() -> str:
        session["user"] = "ada"
        return "ok"

    @app.route("/")
    async def index() -> str:
        return await render_template_string("{{ session.user }} {{ request.path }}")

    client = app.test_client()
    await client.get("/login")
    response = await client.get("/")
    assert await response.get_data(as_text=True) == "ada /"


async def test_a_streamed_template_wrapped_in_a_response_streams(tapp: App) -> None:
    # Quart's Response(await stream_template(...)) and Flask's
    # app.response_class(stream_template(...)): a 500 TypeError here.
    @tapp.route("/")
    async def index() -> Response:
        return Response(
            await stream_template_string("{{ a }}-{{ b }}", a=1, b=2), status=201
        )

    response = await tapp.test_client().get("/")
    assert response.status_code == 201
    assert await response.get_data() == b"1-2"


async def test_update_template_context_outside_any_context_runs_the_apps_processors() -> (
    None
):
    # As Flask and Quart: the app's processors (a blueprint's need a request), and
    # the values given win (muts31, session 31).
    app = Microframework(__name__)
    app.context_processor(lambda: {"site": "s", "title": "processor"})
    context = {"title": "given"}
    await app.update_template_context(context)
    assert context == {"site": "s", "title": "given"}


def test_templates_auto_reload_set_back_to_none_follows_debug_again() -> None:
    # docs/templates.md: "The default, None, follows DEBUG. Setting
    # app.templates_auto_reload updates an existing environment as well."
    app = Microframework(__name__)
    app.debug = True
    env = app.jinja_env
    states = [env.auto_reload]
    app.templates_auto_reload = False
    states.append(env.auto_reload)
    app.templates_auto_reload = None
    states.append(env.auto_reload)
    assert app.templates_auto_reload is True
    assert states == [True, False, True]  # was [True, False, False]: no reloading
