"""Pins of s23's mutation testing of _responses.py, scaffold.py, views.py, static.py,
config.py, json/provider.py, flashing.py and testing/utils.py: each test fails with
one mutant that the suite let live (m_mutresp.py, PROOF.txt)."""

from __future__ import annotations

import ast
import io
import os
import warnings
from pathlib import Path
from typing import Any

import pytest
from werkzeug.exceptions import NotFound

from microframework import Config
from microframework import Microframework
from microframework import request
from microframework import Response
from microframework.signals import appcontext_tearing_down
from microframework.signals import request_tearing_down
from microframework.views import MethodView


async def test_a_status_string_keeps_its_reason_phrase(app: Microframework) -> None:
    # Flask sets response.status = "201 Made It": the reason is the app's, not werkzeug's.
    seen: list[str] = []

    @app.after_request
    async def record(response: Response) -> Response:
        seen.append(response.status)
        return response

    @app.get("/")
    async def index() -> Any:
        return {"made": True}, "201 Made It"

    response = await app.test_client().get("/")
    assert response.status_code == 201
    assert seen == ["201 Made It"]


async def test_an_http_exception_with_its_own_description_method_shows_it(
    app: Microframework,
) -> None:
    # werkzeug's page calls get_description(): an override is what the page says.
    class Moved(NotFound):
        def __init__(self, where: str) -> None:
            super().__init__()
            self.where = where

        def get_description(self, environ: Any = None, scope: Any = None) -> str:
            return f"<p>Moved to {self.where}.</p>"

    @app.get("/<name>")
    async def index(name: str) -> Any:
        raise Moved(f"the {name} archive")

    client = app.test_client()
    for name in ("old", "older"):
        response = await client.get(f"/{name}")
        assert response.status_code == 404
        assert f"Moved to the {name} archive." in await response.get_data(as_text=True)


async def test_request_tearing_down_receivers_get_the_unhandled_error(
    app: Microframework,
) -> None:
    # Flask and Quart send request_tearing_down with exc=the error that made the 500.
    app.testing = False
    seen: list[BaseException | None] = []

    def receiver(sender: Microframework, exc: BaseException | None = None) -> None:
        seen.append(exc)

    @app.get("/")
    async def index() -> Any:
        raise ValueError("boom")

    with request_tearing_down.connected_to(receiver, app):
        response = await app.test_client().get("/")
    assert response.status_code == 500
    assert len(seen) == 1
    assert isinstance(seen[0], ValueError)


def test_a_method_view_without_http_methods_lists_none() -> None:
    # Flask and Quart leave methods None for a base with no get/post/...; its
    # subclasses then list only their own.
    class Base(MethodView):
        pass

    class Items(Base):
        def get(self) -> str:
            return "items"

    assert Base.methods is None
    assert Items.methods == {"GET"}


def test_from_prefixed_env_keeps_a_value_its_loads_rejects_with_any_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Flask: "except Exception: pass". literal_eval raises SyntaxError, not ValueError.
    monkeypatch.setenv("MICROFRAMEWORK_PASSWORD", "s3cret pass")
    monkeypatch.setenv("MICROFRAMEWORK_PORTS", "[1, 2]")
    config = Config(".")
    config.from_prefixed_env(loads=ast.literal_eval)
    assert config["PASSWORD"] == "s3cret pass"
    assert config["PORTS"] == [1, 2]


async def test_appcontext_tearing_down_receivers_get_the_unhandled_error(
    app: Microframework,
) -> None:
    # Flask sends appcontext_tearing_down with exc=the error, as request_tearing_down.
    app.testing = False
    seen: list[BaseException | None] = []

    def receiver(sender: Microframework, exc: BaseException | None = None) -> None:
        seen.append(exc)

    @app.get("/")
    async def index() -> Any:
        raise KeyError("boom")

    with appcontext_tearing_down.connected_to(receiver, app):
        response = await app.test_client().get("/")
    assert response.status_code == 500
    assert len(seen) == 1
    assert isinstance(seen[0], KeyError)


def test_from_prefixed_env_does_not_warn_of_flask_skip_dotenv(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # FLASK_SKIP_DOTENV is the command line's, not config: nothing was missed.
    for name in list(os.environ):
        if name.startswith(("FLASK_", "QUART_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("FLASK_SKIP_DOTENV", "1")
    monkeypatch.setenv("QUART_SKIP_DOTENV", "1")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert Config(".").from_prefixed_env() is True


def test_the_unread_prefix_warning_points_at_the_from_prefixed_env_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The line to change is the app's call, not a line inside config.py.
    monkeypatch.setenv("QUART_SECRET_KEY", "ported as is")
    monkeypatch.delenv("MICROFRAMEWORK_SECRET_KEY", raising=False)
    with pytest.warns(UserWarning, match="QUART_SECRET_KEY") as record:
        Config(".").from_prefixed_env()
    assert record[0].filename == __file__


async def test_a_question_mark_in_the_query_is_sent_as_is(app: Microframework) -> None:
    # RFC 3986 allows "?" in a query: Flask's and Quart's clients send it unencoded.
    @app.get("/")
    async def index() -> Any:
        return request.query_string

    response = await app.test_client().get("/?next=/a?b=1")
    assert await response.get_data() == b"next=/a?b=1"


async def test_an_empty_static_url_path_serves_static_files_at_the_root(
    tmp_path: Path,
) -> None:
    # Flask: static_url_path="" is kept (only None derives "/static").
    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "robots.txt").write_text("User-agent: *\n")
    app = Microframework(__name__, root_path=str(tmp_path), static_url_path="")
    assert app.static_url_path == ""
    response = await app.test_client().get("/robots.txt")
    assert response.status_code == 200
    assert await response.get_data() == b"User-agent: *\n"


async def test_each_apps_json_mimetype_is_its_own_on_a_returned_dict() -> None:
    # The encoded Content-Type is remembered per mimetype, not once for every app.
    plain = Microframework("plain")
    api = Microframework("api")
    api.json.mimetype = "application/vnd.api+json"
    for app in (plain, api):

        @app.get("/")
        async def index() -> Any:
            return {"ok": True}

    first = await plain.test_client().get("/")
    second = await api.test_client().get("/")
    assert first.headers["Content-Type"] == "application/json"
    assert second.headers["Content-Type"] == "application/vnd.api+json"
    assert await second.get_json() == {"ok": True}


async def test_the_auth_argument_wins_over_an_authorization_header(
    app: Microframework,
) -> None:
    # Flask's and Quart's clients set Authorization from auth= over the headers given.
    @app.get("/")
    async def index() -> Any:
        return request.headers["Authorization"]

    response = await app.test_client().get(
        "/", headers={"Authorization": "Bearer t"}, auth=("u", "p")
    )
    assert await response.get_data() == b"Basic dTpw"


def test_json_dump_passes_its_options_to_dumps(app: Microframework) -> None:
    # As Flask's: dump(obj, fp, **kwargs) writes dumps(obj, **kwargs).
    out = io.StringIO()
    app.json.dump({"a": 1}, out, indent=2)
    assert out.getvalue() == '{\n  "a": 1\n}'


async def test_a_method_view_lists_the_methods_a_mixin_gives_it(
    app: Microframework,
) -> None:
    # Flask: hasattr(cls, "post"), so a plain mixin's post() is routed too.
    class CreateMixin:
        async def post(self) -> str:
            return "created"

    class Items(CreateMixin, MethodView):
        async def get(self) -> str:
            return "items"

    assert Items.methods == {"GET", "POST"}
    app.add_url_rule("/items", view_func=Items.as_view("items"))
    response = await app.test_client().post("/items")
    assert response.status_code == 200
    assert await response.get_data() == b"created"
