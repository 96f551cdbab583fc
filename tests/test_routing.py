"""Routing end to end: registration, converters, methods, slashes, hosts, and the caches.

The static-route table and the match cache are shortcuts in front of werkzeug's matcher;
the tests at the end check that they never change what a request matches or what a view
receives.
"""

from __future__ import annotations

import copy
import functools
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from asgi_harness import call
from asgi_harness import http_scope
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from werkzeug.routing import BaseConverter
from werkzeug.routing import Rule as WerkzeugRule
from werkzeug.routing import ValidationError

from microframework import Blueprint
from microframework import current_app
from microframework import g
from microframework import Microframework
from microframework import redirect
from microframework import request
from microframework import Response
from microframework import session
from microframework import url_for
from microframework import websocket
from microframework.testing import WebsocketResponseError


def _allow(response: Response) -> set[str]:
    return {m.strip() for m in response.headers["Allow"].split(",")}


# -- registration -------------------------------------------------------------


async def test_route_registers_the_function_and_returns_it_unchanged(
    app: Microframework,
) -> None:
    async def hello() -> str:
        return "hi"

    decorated = app.route("/hello")(hello)

    assert decorated is hello
    assert app.view_functions["hello"] is hello
    response = await app.test_client().get("/hello")
    assert await response.get_data(as_text=True) == "hi"


async def test_add_url_rule_endpoint_defaults_to_the_function_name(
    app: Microframework,
) -> None:
    def show() -> str:
        return "shown"

    app.add_url_rule("/show", view_func=show)

    assert [r.endpoint for r in app.url_map.iter_rules() if r.endpoint != "static"] == [
        "show"
    ]
    response = await app.test_client().get("/show")
    assert await response.get_data(as_text=True) == "shown"


async def test_add_url_rule_with_explicit_endpoint_names_the_rule(
    app: Microframework,
) -> None:
    async def view() -> str:
        return url_for("custom")

    app.add_url_rule("/c", endpoint="custom", view_func=view)

    assert {k: v for k, v in app.view_functions.items() if k != "static"} == {
        "custom": view
    }
    response = await app.test_client().get("/c")
    assert await response.get_data(as_text=True) == "/c"


async def test_add_url_rule_without_view_is_served_by_the_endpoint_decorator(
    app: Microframework,
) -> None:
    app.add_url_rule("/late", endpoint="late")

    @app.endpoint("late")
    async def late() -> str:
        return "bound later"

    response = await app.test_client().get("/late")
    assert response.status_code == 200
    assert await response.get_data(as_text=True) == "bound later"


def test_add_url_rule_needs_an_endpoint_or_a_view(app: Microframework) -> None:
    with pytest.raises(TypeError, match="endpoint"):
        app.add_url_rule("/x")


def test_methods_given_as_a_string_is_a_type_error(app: Microframework) -> None:
    with pytest.raises(TypeError, match="methods"):
        app.add_url_rule("/x", view_func=lambda: "x", methods="POST")


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE"])
async def test_method_shortcut_routes_only_its_method(
    app: Microframework, method: str
) -> None:
    async def thing() -> str:
        return f"{request.method} ok"

    shortcut: Callable[..., Any] = getattr(app, method.lower())
    shortcut("/thing")(thing)

    client = app.test_client()
    response = await client.open("/thing", method=method)
    assert response.status_code == 200
    assert await response.get_data(as_text=True) == f"{method} ok"
    other = "POST" if method != "POST" else "PUT"
    refused = await client.open("/thing", method=other)
    assert refused.status_code == 405


@pytest.mark.parametrize("name", ["get", "post", "put", "patch", "delete"])
def test_method_shortcut_refuses_a_methods_argument(
    app: Microframework, name: str
) -> None:
    shortcut: Callable[..., Any] = getattr(app, name)
    with pytest.raises(TypeError, match="methods"):
        shortcut("/x", methods=["GET"])


def test_same_endpoint_with_another_function_is_an_assertion_error(
    app: Microframework,
) -> None:
    @app.route("/a", endpoint="shared")
    async def first() -> str:
        return "1"

    async def second() -> str:
        return "2"

    with pytest.raises(AssertionError, match="shared"):
        app.add_url_rule("/b", endpoint="shared", view_func=second)


async def test_same_function_may_serve_several_rules(app: Microframework) -> None:
    @app.route("/one")
    @app.route("/two")
    async def both() -> str:
        return request.path

    client = app.test_client()
    assert await (await client.get("/one")).get_data(as_text=True) == "/one"
    assert await (await client.get("/two")).get_data(as_text=True) == "/two"


@pytest.mark.parametrize(
    "register",
    [
        pytest.param(lambda app: app.route("/late")(lambda: "x"), id="route"),
        pytest.param(
            lambda app: app.add_url_rule("/late", "late", lambda: "x"),
            id="add_url_rule",
        ),
        pytest.param(lambda app: app.get("/late")(lambda: "x"), id="get"),
        pytest.param(lambda app: app.endpoint("index")(lambda: "x"), id="endpoint"),
        pytest.param(lambda app: app.before_request(lambda: None), id="before_request"),
        pytest.param(
            lambda app: app.url_defaults(lambda e, v: None), id="url_defaults"
        ),
    ],
)
async def test_registering_after_the_first_request_is_an_assertion_error(
    app: Microframework, register: Callable[[Microframework], Any]
) -> None:
    @app.route("/")
    async def index() -> str:
        return "index"

    await app.test_client().get("/")

    with pytest.raises(AssertionError, match="first request"):
        register(app)


async def test_one_bound_method_may_serve_two_rules(app: Microframework) -> None:
    # Each ``self.index`` is a new bound method object, equal to the last (Flask's
    # test_multi_route_class_views).
    class Views:
        async def index(self, name: str = "all") -> str:
            return name

    views = Views()
    app.add_url_rule("/", "index", views.index)
    app.add_url_rule("/<name>/", "index", views.index)
    with pytest.raises(AssertionError, match="overwriting"):
        app.add_url_rule("/other/", "index", Views().index)

    client = app.test_client()
    assert await (await client.get("/")).get_data() == b"all"
    assert await (await client.get("/one/")).get_data() == b"one"


async def test_a_test_request_context_during_setup_does_not_end_it(
    app: Microframework,
) -> None:
    # Flask's quickstart: url_for in a test_request_context, between registrations.
    @app.route("/")
    async def index() -> str:
        return "index"

    async with app.test_request_context("/"):
        assert url_for("index") == "/"
    assert not app.got_first_request

    @app.route("/later")
    async def later() -> str:
        return "later"

    async with app.test_request_context("/later"):
        assert (request.endpoint, url_for("later")) == ("later", "/later")
    assert await (await app.test_client().get("/later")).get_data() == b"later"
    assert app.got_first_request


# -- converters ----------------------------------------------------------------


async def test_int_converter_passes_an_int_and_rejects_other_text(
    app: Microframework,
) -> None:
    @app.route("/n/<int:n>")
    async def number(n: int) -> str:
        return repr(n + 1)

    client = app.test_client()
    assert await (await client.get("/n/41")).get_data(as_text=True) == "42"
    assert (await client.get("/n/4x")).status_code == 404
    assert (await client.get("/n/-1")).status_code == 404


async def test_signed_int_converter_accepts_negative_numbers(
    app: Microframework,
) -> None:
    @app.route("/n/<int(signed=True):n>")
    async def number(n: int) -> str:
        return repr(n)

    response = await app.test_client().get("/n/-7")
    assert await response.get_data(as_text=True) == "-7"


async def test_float_converter_passes_a_float(app: Microframework) -> None:
    @app.route("/f/<float:x>")
    async def number(x: float) -> str:
        return repr(x * 2)

    client = app.test_client()
    assert await (await client.get("/f/1.25")).get_data(as_text=True) == "2.5"
    # werkzeug's float converter wants a decimal point.
    assert (await client.get("/f/1")).status_code == 404


async def test_path_converter_accepts_slashes(app: Microframework) -> None:
    @app.route("/files/<path:name>")
    async def files(name: str) -> str:
        return name

    response = await app.test_client().get("/files/a/b/c.txt")
    assert await response.get_data(as_text=True) == "a/b/c.txt"


async def test_string_converter_is_the_default_and_stops_at_a_slash(
    app: Microframework,
) -> None:
    @app.route("/u/<name>")
    async def user(name: str) -> str:
        return name

    client = app.test_client()
    assert await (await client.get("/u/ada")).get_data(as_text=True) == "ada"
    assert (await client.get("/u/ada/extra")).status_code == 404


async def test_string_converter_receives_percent_decoded_text(
    app: Microframework,
) -> None:
    @app.route("/u/<name>")
    async def user(name: str) -> str:
        return name

    response = await app.test_client().get("/u/caf%C3%A9%20bar")
    assert await response.get_data(as_text=True) == "café bar"


async def test_uuid_converter_passes_a_uuid(app: Microframework) -> None:
    seen: list[object] = []

    @app.route("/item/<uuid:item_id>")
    async def item(item_id: uuid.UUID) -> str:
        seen.append(item_id)
        return str(item_id)

    value = uuid.UUID("12345678-1234-5678-1234-567812345678")
    client = app.test_client()
    assert (await client.get(f"/item/{value}")).status_code == 200
    assert seen == [value]
    assert type(seen[0]) is uuid.UUID
    assert (await client.get("/item/not-a-uuid")).status_code == 404


async def test_any_converter_accepts_only_the_listed_values(
    app: Microframework,
) -> None:
    @app.route("/<any(about, help):page>")
    async def page(page: str) -> str:
        return page

    client = app.test_client()
    assert await (await client.get("/about")).get_data(as_text=True) == "about"
    assert await (await client.get("/help")).get_data(as_text=True) == "help"
    assert (await client.get("/other")).status_code == 404


class _ListConverter(BaseConverter):
    """``a+b+c`` <-> ``["a", "b", "c"]``: a converter whose value is mutable."""

    def to_python(self, value: str) -> list[str]:
        return value.split("+")

    def to_url(self, value: list[str]) -> str:
        return "+".join(BaseConverter.to_url(self, item) for item in value)


async def test_custom_converter_from_url_map_converters(app: Microframework) -> None:
    app.url_map.converters["list"] = _ListConverter

    @app.route("/tags/<list:tags>")
    async def tags(tags: list[str]) -> dict[str, Any]:
        return {"tags": tags, "url": url_for("tags", tags=["x", "y"])}

    response = await app.test_client().get("/tags/a+b+c")
    assert await response.get_json() == {"tags": ["a", "b", "c"], "url": "/tags/x+y"}


_CONVERTER_RULES = {
    "int": "/int/<int:value>",
    "float": "/float/<float:value>",
    "uuid": "/uuid/<uuid:value>",
    "string": "/string/<value>",
    "path": "/path/<path:value>",
}


def _round_trip_app() -> Microframework:
    app = Microframework(__name__)
    app.testing = True
    for name, rule in _CONVERTER_RULES.items():

        async def view(value: Any) -> dict[str, Any]:
            return {"type": type(value).__name__, "repr": repr(value)}

        app.add_url_rule(rule, endpoint=name, view_func=view)
    return app


# Text a string/path converter can carry: no surrogates; the string converter stops at
# "/", and a path that starts or ends with "/" would trigger slash handling. werkzeug's
# path converter is ``[^/].*?`` without DOTALL, so it never matches a newline.
# "." and ".." are dot-segments: a client removes them from a URL before sending it
# (RFC 3986 5.2.4), and so does the app, so no URL can carry one as a value.
_segment = st.text(
    st.characters(exclude_categories=["Cs"], exclude_characters="/"),
    min_size=1,
).filter(lambda text: text not in (".", ".."))
_path_segment = st.text(
    st.characters(exclude_categories=["Cs"], exclude_characters="/\n"),
    min_size=1,
).filter(lambda text: text not in (".", ".."))
_path = st.lists(_path_segment, min_size=1, max_size=4).map("/".join)


@settings(max_examples=60, deadline=None)
@given(
    st.one_of(
        st.tuples(st.just("int"), st.integers(min_value=0)),
        # werkzeug's float converter only matches plain decimals, never "1e+16".
        st.tuples(st.just("float"), st.integers(0, 10**9).map(lambda i: i / 100)),
        st.tuples(st.just("uuid"), st.uuids()),
        st.tuples(st.just("string"), _segment),
        st.tuples(st.just("path"), _path),
    )
)
async def test_url_for_then_match_round_trips_every_converter(
    case: tuple[str, Any],
) -> None:
    endpoint, value = case
    app = _round_trip_app()
    async with app.test_request_context("/"):
        url = url_for(endpoint, value=value)

    response = await app.test_client().get(url)

    assert response.status_code == 200, url
    assert await response.get_json() == {
        "type": type(value).__name__,
        "repr": repr(value),
    }


# -- methods, HEAD and OPTIONS ---------------------------------------------------


async def test_wrong_method_is_405_with_allow_listing_the_rule_methods(
    app: Microframework,
) -> None:
    @app.route("/form", methods=["GET", "POST"])
    async def form() -> str:
        return "form"

    response = await app.test_client().put("/form")

    assert response.status_code == 405
    assert _allow(response) == {"GET", "HEAD", "OPTIONS", "POST"}


async def test_405_allow_header_merges_every_rule_for_the_path(
    app: Microframework,
) -> None:
    @app.get("/res/<int:n>")
    async def read(n: int) -> str:
        return "read"

    @app.delete("/res/<int:n>")
    async def remove(n: int) -> str:
        return "removed"

    response = await app.test_client().post("/res/1")

    assert response.status_code == 405
    assert _allow(response) == {"GET", "HEAD", "OPTIONS", "DELETE"}


async def test_head_is_automatic_with_no_body_and_the_get_headers(
    app: Microframework,
) -> None:
    calls: list[str] = []

    @app.route("/page")
    async def page() -> tuple[str, dict[str, str]]:
        calls.append(request.method)
        return "some body", {"X-Custom": "yes"}

    client = app.test_client()
    get = await client.get("/page")
    head = await client.head("/page")

    assert head.status_code == 200
    assert await head.get_data() == b""
    assert calls == ["GET", "HEAD"]
    for name in ("Content-Type", "Content-Length", "X-Custom"):
        assert head.headers[name] == get.headers[name]
    assert head.headers["Content-Length"] == "9"


async def test_options_is_automatic_with_allow_and_skips_the_view(
    app: Microframework,
) -> None:
    calls: list[str] = []

    @app.route("/thing", methods=["GET", "POST"])
    async def thing() -> str:
        calls.append(request.method)
        return "view"

    response = await app.test_client().options("/thing")

    assert response.status_code == 200
    assert _allow(response) == {"GET", "HEAD", "OPTIONS", "POST"}
    assert calls == []


async def test_options_allow_covers_every_rule_for_the_path(
    app: Microframework,
) -> None:
    @app.get("/both")
    async def read() -> str:
        return "r"

    @app.put("/both")
    async def write() -> str:
        return "w"

    response = await app.test_client().options("/both")

    assert response.status_code == 200
    assert _allow(response) == {"GET", "HEAD", "OPTIONS", "PUT"}


async def test_provide_automatic_options_false_makes_options_405(
    app: Microframework,
) -> None:
    @app.route("/thing", provide_automatic_options=False)
    async def thing() -> str:
        return "view"

    response = await app.test_client().options("/thing")

    assert response.status_code == 405
    assert "OPTIONS" not in _allow(response)


async def test_view_attribute_provide_automatic_options_is_honoured(
    app: Microframework,
) -> None:
    async def thing() -> str:
        return "view"

    thing.provide_automatic_options = False  # type: ignore[attr-defined]
    app.add_url_rule("/thing", view_func=thing)

    response = await app.test_client().options("/thing")
    assert response.status_code == 405


async def test_provide_automatic_options_config_false_makes_options_405(
    app: Microframework,
) -> None:
    app.config["PROVIDE_AUTOMATIC_OPTIONS"] = False

    @app.route("/thing")
    async def thing() -> str:
        return "view"

    response = await app.test_client().options("/thing")

    assert response.status_code == 405


async def test_explicit_options_method_runs_the_view(app: Microframework) -> None:
    @app.route("/cors", methods=["GET", "OPTIONS"])
    async def cors() -> tuple[str, dict[str, str]]:
        return "preflight", {"Access-Control-Allow-Origin": "*"}

    response = await app.test_client().options("/cors")

    assert await response.get_data(as_text=True) == "preflight"
    assert response.headers["Access-Control-Allow-Origin"] == "*"


# -- strict slashes ---------------------------------------------------------------


async def test_missing_trailing_slash_redirects_308_keeping_the_query(
    app: Microframework,
) -> None:
    @app.route("/dir/")
    async def directory() -> str:
        return request.full_path

    client = app.test_client()
    response = await client.get("/dir", query_string={"q": "a b", "n": "1"})

    assert response.status_code == 308
    assert response.headers["Location"] == "http://localhost/dir/?q=a+b&n=1"
    followed = await client.get("/dir?q=x", follow_redirects=True)
    assert await followed.get_data(as_text=True) == "/dir/?q=x"


async def test_strict_slash_redirect_of_a_converter_rule(
    app: Microframework,
) -> None:
    @app.route("/user/<int:uid>/")
    async def user(uid: int) -> str:
        return str(uid)

    response = await app.test_client().get("/user/5")

    assert response.status_code == 308
    assert response.headers["Location"] == "http://localhost/user/5/"


async def test_strict_slashes_false_serves_both_spellings(
    app: Microframework,
) -> None:
    @app.route("/dir/", strict_slashes=False)
    async def directory() -> str:
        return "dir"

    client = app.test_client()
    for path in ("/dir", "/dir/"):
        response = await client.get(path)
        assert response.status_code == 200, path
        assert await response.get_data(as_text=True) == "dir"


async def test_extra_trailing_slash_is_404_for_a_rule_without_one(
    app: Microframework,
) -> None:
    @app.route("/file")
    async def file() -> str:
        return "file"

    response = await app.test_client().get("/file/")
    assert response.status_code == 404


# -- hosts and subdomains ------------------------------------------------------------


async def test_host_matching_picks_the_rule_for_the_request_host() -> None:
    app = Microframework(__name__, host_matching=True, static_folder=None)
    app.testing = True

    @app.route("/", host="a.example")
    async def site_a() -> str:
        return "A"

    @app.route("/", host="b.example", endpoint="site_b")
    async def site_b() -> str:
        return "B"

    @app.route("/whoami", host="<tenant>.example")
    async def whoami(tenant: str) -> str:
        return tenant

    client = app.test_client()
    a = await client.get("/", headers={"Host": "a.example"})
    b = await client.get("/", headers={"Host": "b.example"})
    tenant = await client.get("/whoami", headers={"Host": "acme.example"})
    other = await client.get("/", headers={"Host": "c.test"})

    assert await a.get_data(as_text=True) == "A"
    assert await b.get_data(as_text=True) == "B"
    assert await tenant.get_data(as_text=True) == "acme"
    assert other.status_code == 404


async def test_host_matching_url_for_to_another_host_is_external() -> None:
    app = Microframework(__name__, host_matching=True, static_folder=None)
    app.testing = True

    @app.route("/", host="a.example")
    async def site_a() -> str:
        return url_for("site_b")

    @app.route("/b", host="b.example")
    async def site_b() -> str:
        return "B"

    response = await app.test_client().get("/", headers={"Host": "a.example"})
    assert await response.get_data(as_text=True) == "http://b.example/b"


@pytest.mark.parametrize(
    ("raw", "path", "expected"),
    [
        (
            b"/public/..%2fadmin/secret",
            "/public/../admin/secret",
            "public ../admin/secret",
        ),
        (
            b"/public/..%2Fadmin/secret",
            "/public/../admin/secret",
            "public ../admin/secret",
        ),
        (b"/public/../admin/secret", "/public/../admin/secret", "admin"),
    ],
)
async def test_dot_segments_are_resolved_only_between_the_clients_slashes(
    raw: bytes, path: str, expected: str
) -> None:
    # A proxy in front checks "/public/..%2fadmin/secret" as /public/...: the server's
    # decoded %2f must not make ".." a step up to /admin (Flask and Quart keep it).
    app = Microframework(__name__, static_folder=None)

    @app.route("/public/<path:name>")
    async def public(name: str) -> str:
        return f"public {name}"

    @app.route("/admin/secret")
    async def admin() -> str:
        return "admin"

    rec = await call(app, http_scope(path, raw_path=raw))
    assert rec.body.decode() == expected


@pytest.mark.parametrize("host", ["example.test", "evil.example"])
async def test_external_urls_name_server_name_whatever_the_host_header(
    host: str,
) -> None:
    # Flask 3.1: SERVER_NAME doesn't restrict the hosts served, but URLs are built for
    # it, so a forged Host can't poison a password-reset link or a redirect.
    app = Microframework(__name__, static_folder=None)
    app.config["SERVER_NAME"] = "example.test"

    @app.route("/reset")
    async def reset() -> str:
        return url_for("reset", _external=True)

    @app.route("/dir/")
    async def folder() -> str:
        return "folder"

    client = app.test_client()
    link = await client.get("/reset", headers={"Host": host})
    moved = await client.get("/dir", headers={"Host": host})
    assert await link.get_data(as_text=True) == "http://example.test/reset"
    assert moved.headers["Location"] == "http://example.test/dir/"


@pytest.mark.parametrize(
    ("path", "root_path"),
    [("/api/info", "/api"), ("/api/info", "/api/"), ("/api//info", "/api/")],
)
async def test_a_root_path_with_a_trailing_slash_leaves_one_slash(
    path: str, root_path: str
) -> None:
    # uvicorn --root-path /api/ sends "/api//info": the app's path is still "/info".
    app = Microframework(__name__)

    @app.route("/info")
    async def info() -> str:
        return f"{request.root_path} {request.path} {request.url}"

    rec = await call(app, http_scope(path, root_path=root_path))
    assert rec.status == 200
    assert rec.body == b"/api /info http://localhost/api/info"


async def test_remote_addr_without_a_client_is_local_as_in_quart() -> None:
    # A unix socket: the scope's client is None (hypercorn, uvicorn --uds).
    app = Microframework(__name__)

    @app.route("/")
    async def index() -> str:
        return f"{request.remote_addr} {list(request.access_route)}"

    rec = await call(app, http_scope("/", client=None))
    assert rec.body == b"<local> ['<local>']"


def _subdomain_app() -> Microframework:
    app = Microframework(__name__, subdomain_matching=True)
    app.testing = True
    app.config["SERVER_NAME"] = "example.test"

    @app.route("/")
    async def root() -> str:
        return "root"

    @app.route("/", subdomain="api", endpoint="api_root")
    async def api_root() -> str:
        return "api"

    @app.route("/hello", subdomain="<user>")
    async def user_page(user: str) -> str:
        return f"hello {user}"

    return app


async def test_subdomain_matching_routes_by_subdomain() -> None:
    client = _subdomain_app().test_client()

    bare = await client.get("/")
    api = await client.get("/", subdomain="api")
    user = await client.get("/hello", subdomain="ada")

    assert await bare.get_data(as_text=True) == "root"
    assert await api.get_data(as_text=True) == "api"
    assert await user.get_data(as_text=True) == "hello ada"


async def test_a_host_outside_server_name_matches_no_rule() -> None:
    # Not even a "<user>" subdomain rule, which werkzeug's "<invalid>" would match.
    app = _subdomain_app()

    @app.errorhandler(404)
    async def not_found(error: Exception) -> tuple[str, int]:
        return url_for("root", _external=True), 404  # building still works

    client = app.test_client()
    foreign = await client.get("/hello", headers={"Host": "other.org"})
    assert foreign.status_code == 404
    assert await foreign.get_data(as_text=True) == "http://example.test/"
    user = await client.get("/hello", headers={"Host": "ada.example.test"})
    assert await user.get_data(as_text=True) == "hello ada"


@pytest.mark.parametrize(
    ("server_name", "scheme"),
    [("example.test:443", "https"), ("example.test:80", "http")],
)
async def test_a_server_name_with_its_schemes_default_port_still_matches(
    server_name: str, scheme: str
) -> None:
    # The Host loses its default port (werkzeug's get_host): so must SERVER_NAME, or
    # every request was outside it, a 404 (Flask strips both).
    app = _subdomain_app()
    app.config["SERVER_NAME"] = server_name
    client = app.test_client()
    user = await client.get("/hello", subdomain="ada", scheme=scheme)
    assert await user.get_data(as_text=True) == "hello ada"
    bare = await client.get("/", headers={"Host": "example.test"}, scheme=scheme)
    assert await bare.get_data(as_text=True) == "root"


@pytest.mark.parametrize("subdomains", [False, True])
@pytest.mark.parametrize(
    ("server_name", "scheme"),
    [("Example.test:443", "https"), ("example.test:80", "http")],
)
async def test_external_urls_drop_the_server_names_default_port(
    server_name: str, scheme: str, subdomains: bool
) -> None:
    # As Flask (werkzeug's bind_to_environ): https://example.test/x, not :443.
    app = Microframework(__name__, subdomain_matching=subdomains)
    app.config["SERVER_NAME"] = server_name

    @app.route("/x")
    async def x() -> str:
        return url_for("x", _external=True)

    client = app.test_client()
    response = await client.get("/x", headers={"Host": "example.test"}, scheme=scheme)
    assert await response.get_data(as_text=True) == f"{scheme}://example.test/x"


async def test_an_idn_server_name_matches_the_punycode_hosts_clients_send() -> None:
    # Hosts arrive in Punycode; SERVER_NAME = "bücher.de" was compared as written, so
    # with subdomain matching every request was outside it, a 404 (Flask routes them
    # all to the "<invalid>" subdomain, with a warning).
    app = _subdomain_app()
    app.config["SERVER_NAME"] = "bücher.de"
    client = app.test_client()
    bare = await client.get("/", headers={"Host": "xn--bcher-kva.de"})
    assert await bare.get_data(as_text=True) == "root"
    user = await client.get("/hello", subdomain="ada")
    assert await user.get_data(as_text=True) == "hello ada"
    foreign = await client.get("/hello", headers={"Host": "ada.other.de"})
    assert foreign.status_code == 404


async def test_rule_without_subdomain_does_not_answer_on_a_subdomain() -> None:
    client = _subdomain_app().test_client()

    response = await client.get("/", subdomain="unknown")
    assert response.status_code == 404


async def test_host_outside_server_name_matches_no_subdomain_rule() -> None:
    client = _subdomain_app().test_client()

    response = await client.get("/", headers={"Host": "elsewhere.test"})
    assert response.status_code == 404


async def test_client_subdomain_argument_sets_the_host_header() -> None:
    app = _subdomain_app()

    @app.route("/host", subdomain="api")
    async def host() -> str:
        return request.host

    response = await app.test_client().get("/host", subdomain="api")
    assert await response.get_data(as_text=True) == "api.example.test"


async def test_without_subdomain_matching_subdomains_reach_default_rules() -> None:
    app = Microframework(__name__)
    app.testing = True
    app.config["SERVER_NAME"] = "example.test"

    @app.route("/")
    async def root() -> str:
        return "root"

    client = app.test_client()
    # Flask 3.1: without subdomain_matching every host reaches the default rules.
    response = await client.get("/", subdomain="www")
    assert await response.get_data(as_text=True) == "root"


async def test_subdomain_matching_without_server_name_binds_no_default_subdomain() -> (
    None
):
    # As Flask 3.1: without SERVER_NAME the Host is the server name and its subdomain
    # "", so a rule in the map's default_subdomain doesn't match and a subdomain=""
    # rule does; no URL names the default subdomain twice ("www.www.localhost").
    app = Microframework(__name__, subdomain_matching=True)
    app.url_map.default_subdomain = "www"

    @app.route("/www")
    async def www() -> str:
        return url_for("www", _external=True)

    @app.route("/bare", subdomain="")
    async def bare() -> str:
        return url_for("bare", _external=True)

    client = app.test_client()
    for host in ("localhost", "www.localhost"):
        assert (await client.get("/www", headers={"Host": host})).status_code == 404
        response = await client.get("/bare", headers={"Host": host})
        assert await response.get_data(as_text=True) == f"http://{host}/bare"


async def test_subdomain_matching_without_server_name_takes_any_host_case() -> None:
    # Hosts are case-insensitive (curl and urllib send the URL's as typed): as in
    # Flask and Quart, "Example.com" is example.com, its subdomain "", not a 404.
    app = Microframework(__name__, subdomain_matching=True)

    @app.route("/")
    async def index() -> str:
        return url_for("index", _external=True)

    @app.route("/bare", subdomain="")
    async def bare() -> str:
        return "bare"

    client = app.test_client()
    for host in ("Example.com", "WWW.EXAMPLE.COM", "LocalHost:5000"):
        response = await client.get("/", headers={"Host": host})
        assert response.status_code == 200, host
        assert await response.get_data(as_text=True) == f"http://{host.lower()}/"
        assert (await client.get("/bare", headers={"Host": host})).status_code == 200


# -- TRUSTED_HOSTS ---------------------------------------------------------------------


def _slash_app(trusted: list[str] | None) -> Microframework:
    app = Microframework(__name__)
    app.testing = True
    app.config["TRUSTED_HOSTS"] = trusted

    @app.route("/dir/")
    async def directory() -> str:
        return request.host

    return app


async def test_untrusted_host_is_400() -> None:
    client = _slash_app(["good.example"]).test_client()

    response = await client.get("/dir/", headers={"Host": "evil.example"})

    assert response.status_code == 400


async def test_trusted_hosts_given_as_one_string_is_that_host() -> None:
    # As werkzeug takes it; a str was read as its characters: every host got 400.
    app = _slash_app("good.example")  # type: ignore[arg-type]
    client = app.test_client()

    good = await client.get("/dir/", headers={"Host": "good.example"})
    evil = await client.get("/dir/", headers={"Host": "evil.example"})

    assert (good.status_code, evil.status_code) == (200, 400)


async def test_untrusted_host_never_reaches_a_redirect_location() -> None:
    client = _slash_app(["good.example"]).test_client()

    response = await client.get("/dir", headers={"Host": "evil.example"})

    assert response.status_code == 400
    assert "Location" not in response.headers


async def test_untrusted_host_reaches_no_before_hook() -> None:
    # A login check in before_request would otherwise redirect to the forged host
    # (Flask's request.host raises there; Quart ignores TRUSTED_HOSTS).
    app = _slash_app(["good.example"])
    seen: list[str] = []

    @app.before_request
    async def login_required() -> Any:
        seen.append(request.host)
        return redirect(f"http://{request.host}/login")

    @app.before_websocket
    async def ws_hook() -> None:
        seen.append(request.host)

    @app.websocket("/ws")
    async def ws() -> None:
        await websocket.accept()

    client = app.test_client()
    response = await client.get("/dir/", headers={"Host": "evil.example"})
    assert response.status_code == 400
    assert "Location" not in response.headers
    with pytest.raises(WebsocketResponseError) as refused:
        async with client.websocket("/ws", headers={"Host": "evil.example"}):
            pass
    assert refused.value.response.status_code == 400
    assert seen == []


async def test_untrusted_host_still_runs_the_after_hooks() -> None:
    # As in Flask: they add the security headers every answer needs (review11); they
    # must not count on a before_request function (hooks-and-errors.md's example).
    app = _slash_app(["good.example"])

    @app.before_request
    async def start() -> None:
        g.started = 1

    @app.after_request
    async def headers(response: Response) -> Response:
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["X-Started"] = str(g.get("started"))
        return response

    client = app.test_client()
    response = await client.get("/dir/", headers={"Host": "evil.example"})
    assert response.status_code == 400
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Started"] == "None"


@pytest.mark.parametrize("hooked", [False, True])
async def test_the_400_handler_of_an_untrusted_host_has_the_session(
    hooked: bool,
) -> None:
    # As in Flask. With a before_request function, it had a null session whose write
    # said that no secret key was set, with one set (review11 6, session 31).
    app = _slash_app(["good.example"])
    app.secret_key = "k"
    if hooked:
        app.before_request(lambda: None)

    @app.errorhandler(400)
    async def bad(error: Exception) -> tuple[str, int]:
        session["seen"] = True
        return "bad host", 400

    response = await app.test_client().get("/dir/", headers={"Host": "evil.example"})
    assert response.status_code == 400
    assert response.headers["Set-Cookie"].startswith("session=")


async def test_untrusted_host_is_refused_even_after_a_trusted_one() -> None:
    client = _slash_app(["good.example"]).test_client()

    ok = await client.get("/dir/", headers={"Host": "good.example"})
    bad = await client.get("/dir/", headers={"Host": "evil.example"})

    assert ok.status_code == 200
    assert bad.status_code == 400


async def test_trusted_host_is_served_and_redirected_to() -> None:
    client = _slash_app(["good.example", ".trusted.example"]).test_client()

    page = await client.get("/dir/", headers={"Host": "good.example"})
    redirect = await client.get("/dir", headers={"Host": "good.example"})
    sub = await client.get("/dir/", headers={"Host": "a.trusted.example"})

    assert await page.get_data(as_text=True) == "good.example"
    assert redirect.status_code == 308
    assert redirect.headers["Location"] == "http://good.example/dir/"
    assert sub.status_code == 200


async def test_trusted_host_with_a_port_is_served() -> None:
    client = _slash_app(["good.example"]).test_client()

    response = await client.get("/dir/", headers={"Host": "good.example:8080"})

    assert response.status_code == 200


async def test_without_trusted_hosts_any_host_is_served() -> None:
    client = _slash_app(None).test_client()

    response = await client.get("/dir/", headers={"Host": "anything.example"})

    assert response.status_code == 200
    assert await response.get_data(as_text=True) == "anything.example"


async def test_without_a_host_header_each_request_uses_its_own_server() -> None:
    # Found by tests/fuzz: the adapter bound for the first Host-less request was
    # cached and reused for another server address.
    app = Microframework(__name__)

    @app.route("/")
    async def index() -> str:
        return url_for("index", _external=True)

    answers = []
    for server in [("localhost", 80), ("example.com", 8080)]:
        scope = http_scope("/", server=server)
        scope["headers"] = []
        answers.append((await call(app, scope)).body)

    assert answers == [b"http://localhost/", b"http://example.com:8080/"]


# -- the static table and the match cache keep werkzeug's semantics --------------------


async def test_static_rule_beats_a_converter_rule_for_the_same_path(
    app: Microframework,
) -> None:
    @app.route("/<name>")
    async def by_name(name: str) -> str:
        return f"converter {name}"

    @app.route("/about")
    async def about() -> str:
        return "static"

    client = app.test_client()
    for _ in range(2):
        assert await (await client.get("/about")).get_data(as_text=True) == "static"
        assert (
            await (await client.get("/other")).get_data(as_text=True)
            == "converter other"
        )


async def test_static_rule_for_another_method_falls_back_to_the_converter_rule(
    app: Microframework,
) -> None:
    @app.get("/<name>")
    async def by_name(name: str) -> str:
        return f"converter {name}"

    @app.post("/about")
    async def post_about() -> str:
        return "static post"

    client = app.test_client()
    got = await client.get("/about")
    posted = await client.post("/about")

    assert await got.get_data(as_text=True) == "converter about"
    assert await posted.get_data(as_text=True) == "static post"


@pytest.mark.parametrize("path", ["/static-path", "/conv/7"])
async def test_a_path_matched_with_different_methods_reaches_each_view(
    app: Microframework, path: str
) -> None:
    @app.get("/static-path")
    @app.get("/conv/<int:n>")
    async def read(n: int = 0) -> str:
        return f"read {n}"

    @app.post("/static-path")
    @app.post("/conv/<int:n>")
    async def write(n: int = 0) -> str:
        return f"write {n}"

    client = app.test_client()
    n = "7" if "conv" in path else "0"
    results = [
        await (await client.open(path, method=method)).get_data(as_text=True)
        for method in ("GET", "POST", "GET", "POST")
    ]
    assert results == [f"read {n}", f"write {n}", f"read {n}", f"write {n}"]
    assert (await client.put(path)).status_code == 405


async def test_repeated_path_gets_fresh_view_args_each_time(
    app: Microframework,
) -> None:
    @app.route("/n/<int:n>")
    async def number(n: int) -> str:
        assert request.view_args is not None
        seen = dict(request.view_args)
        request.view_args["n"] = -1  # must not leak into the next request
        return repr(seen)

    client = app.test_client()
    first = await (await client.get("/n/3")).get_data(as_text=True)
    second = await (await client.get("/n/3")).get_data(as_text=True)
    assert first == second == "{'n': 3}"


async def test_mutable_converter_value_is_not_shared_between_requests(
    app: Microframework,
) -> None:
    app.url_map.converters["list"] = _ListConverter

    @app.route("/tags/<list:tags>")
    async def tags(tags: list[str]) -> dict[str, Any]:
        before = list(tags)
        tags.append("mutated")
        return {"tags": before}

    client = app.test_client()
    first = await (await client.get("/tags/a+b")).get_json()
    second = await (await client.get("/tags/a+b")).get_json()

    assert first == second == {"tags": ["a", "b"]}


async def test_url_value_preprocessor_works_on_a_repeated_path(
    app: Microframework,
) -> None:
    @app.url_value_preprocessor
    def pull_lang(endpoint: str | None, values: dict[str, Any] | None) -> None:
        assert values is not None
        g.lang = values.pop("lang")

    @app.route("/<lang>/page")
    async def page() -> str:
        return str(g.lang)

    client = app.test_client()
    for lang in ("de", "de", "fr", "de"):
        response = await client.get(f"/{lang}/page")
        assert response.status_code == 200
        assert await response.get_data(as_text=True) == lang


async def test_teardown_appcontext_runs_for_every_converter_match(
    app: Microframework,
) -> None:
    torn_down: list[BaseException | None] = []

    @app.teardown_appcontext
    def teardown(error: BaseException | None) -> None:
        torn_down.append(error)

    @app.route("/n/<int:n>")
    async def number(n: int) -> str:
        return str(n)

    client = app.test_client()
    for _ in range(3):
        assert (await client.get("/n/1")).status_code == 200
    assert torn_down == [None, None, None]


async def test_forged_hosts_and_paths_cannot_grow_the_caches() -> None:
    # A client chooses the Host header and the path: the bound adapters and the
    # match cache must stay bounded however many it sends.
    app = Microframework(__name__)

    @app.route("/item/<int:n>")
    async def item(n: int) -> str:
        return str(n)

    client = app.test_client()
    for n in range(300):
        assert (
            await client.get(f"/item/{n}", headers={"Host": f"h{n}.x"})
        ).status_code == 200
    for n in range(1100):
        await client.get(f"/item/{n}")
    compiled = app.compiled
    assert compiled is not None
    assert len(compiled.adapters.bound) <= 256
    assert len(compiled.match_cache) <= 1024


@pytest.mark.parametrize("path", ["/", "/item/1"])
async def test_a_host_longer_than_any_name_pins_no_adapter(path: str) -> None:
    # Only the entry count was bounded: 256 adapters (and 1,024 memoised matches)
    # each kept a client's megabyte-long Host (uvicorn's httptools takes one).
    app = Microframework(__name__)

    @app.route("/")
    async def root() -> str:
        return "root"

    @app.route("/item/<int:n>")
    async def item(n: int) -> str:
        return str(n)

    client = app.test_client()
    label = "a" * 60 + "."
    for n in range(3):
        long_host = f"{n}" + label * 40  # 2,441 bytes of valid labels
        response = await client.get(path, headers={"Host": long_host})
        assert response.status_code == 200
    compiled = app.compiled
    assert compiled is not None
    kept = [key[0] for key in compiled.adapters.bound if key[0] is not None]
    assert all(len(host) <= 2048 for host in kept)
    assert all(len(key[0].server_name) <= 2048 for key in compiled.match_cache)
    assert (await client.get(path)).status_code == 200  # a usual host still is


async def test_match_cache_is_per_host_under_host_matching() -> None:
    app = Microframework(__name__, host_matching=True, static_folder=None)
    app.testing = True

    @app.route("/item/<int:n>", host="a.example")
    async def on_a(n: int) -> str:
        return f"a{n}"

    @app.route("/item/<int:n>", host="b.example")
    async def on_b(n: int) -> str:
        return f"b{n}"

    client = app.test_client()
    results = [
        await (
            await client.get("/item/1", headers={"Host": f"{host}.example"})
        ).get_data(as_text=True)
        for host in ("a", "b", "a", "b")
    ]
    assert results == ["a1", "b1", "a1", "b1"]


async def test_static_path_is_404_on_an_unmatched_subdomain_after_a_hit() -> None:
    client = _subdomain_app().test_client()

    assert (await client.get("/")).status_code == 200
    assert (await client.get("/", subdomain="nope")).status_code == 404
    assert await (await client.get("/")).get_data(as_text=True) == "root"


async def test_static_table_agrees_with_werkzeug_on_rule_order() -> None:
    # A rule taking any method registered before a GET-only rule on the same path
    # wins for GET too, as in werkzeug's matcher; after it, the GET rule wins.
    for any_first in (True, False):
        app = Microframework(__name__, static_folder=None)

        async def any_method() -> str:
            return "any"

        async def get_only() -> str:
            return "get"

        rules = [("any", any_method, None), ("get", get_only, ["GET"])]
        if not any_first:
            rules.reverse()
        for endpoint, view, methods in rules:
            if methods is None:
                # add_url_rule defaults to GET; a rule for any method is added raw.
                app.url_map.add(app.url_rule_class("/x", endpoint=endpoint))
                app.view_functions[endpoint] = view
            else:
                app.add_url_rule("/x", endpoint, view, methods=methods)
        adapter = app.url_map.bind("localhost")
        client = app.test_client()
        for method in ("GET", "POST"):
            expected = adapter.match("/x", method)[0]
            response = await client.open("/x", method=method)
            assert await response.get_data(as_text=True) == expected


@pytest.mark.parametrize("override", [False, True])
async def test_an_apps_own_converter_runs_on_every_request(
    app: Microframework, override: bool
) -> None:
    # Its to_python may change its mind (a user deleted): a memoised match answered
    # 200 after it would have refused, in Flask and Quart a 404. (The app's own
    # class under a built-in name counts too.)
    from werkzeug.routing import ValidationError

    allowed = {"alice"}
    calls: list[str] = []

    class User(BaseConverter):
        def to_python(self, value: str) -> str:
            calls.append(value)
            if value not in allowed:
                raise ValidationError()
            return value

    name = "default" if override else "user"
    app.url_map.converters[name] = User

    @app.route(f"/u/<{name}:who>" if not override else "/u/<who>")
    async def user(who: str) -> str:
        return who

    client = app.test_client()
    assert (await client.get("/u/alice")).status_code == 200
    allowed.clear()
    assert (await client.get("/u/alice")).status_code == 404
    assert calls == ["alice", "alice"]


async def test_a_long_path_is_matched_but_not_memoised(app: Microframework) -> None:
    # The client chooses the path: 1,024 memoised 60 KB paths held 125 MB.
    from microframework._utils import MEMO_KEY_SIZE

    @app.route("/files/<path:name>")
    async def files(name: str) -> str:
        return str(len(name))

    client = app.test_client()
    long_name = "a" * (MEMO_KEY_SIZE + 1)
    assert (
        await (await client.get(f"/files/{long_name}")).get_data()
        == str(len(long_name)).encode()
    )
    assert (await client.get("/files/short")).status_code == 200
    paths = [key[1] for key in app.compiled.match_cache]  # type: ignore[union-attr]
    assert paths == ["/files/short"]


@pytest.mark.parametrize(
    ("raw", "kept"),
    [
        ("q=é".encode(), b"q=%C3%A9"),  # a client's raw UTF-8 (curl, many tools)
        (b"q=%C3%A9&n=1", b"q=%C3%A9&n=1"),
        (b"q=\xff", b"q=%FF"),  # not UTF-8: the bytes as sent
    ],
)
async def test_a_redirect_keeps_the_querys_bytes(
    app: Microframework, raw: bytes, kept: bytes
) -> None:
    # Decoded as latin-1, then encoded as UTF-8: "é" became "Ã©" (Flask keeps it).
    @app.route("/dir/")
    async def directory() -> str:
        return "ok"

    recorder = await call(app, http_scope("/dir", query_string=raw))
    assert recorder.status == 308
    assert recorder.headers[b"location"] == b"http://localhost/dir/?" + kept


@pytest.mark.parametrize("method", ["post", "Post", "head"])
async def test_a_lowercase_method_is_the_uppercase_one(
    app: Microframework, method: str
) -> None:
    # ASGI says servers uppercase it; uvicorn's h11 passes "post" through. Routing
    # ran the POST view while request.method == "POST" was False for the hooks.
    seen: list[str] = []

    @app.route("/", methods=["GET", "POST"])
    async def index() -> str:
        seen.append(request.method)
        return "body"

    @app.route("/stream", methods=["GET", "POST"])
    async def stream() -> Response:
        seen.append(request.method)
        return Response(iter([b"bo", b"dy"]))

    for path in ("/", "/stream"):
        recorder = await call(app, http_scope(path, method=method))
        assert recorder.body == (b"" if method == "head" else b"body")
    assert seen == [method.upper()] * 2


async def test_an_apps_url_rule_class_may_be_a_plain_werkzeug_rule() -> None:
    # As Flask: provide_automatic_options is set on the rule, not passed to it (the
    # app failed at construction, adding its static route).
    from werkzeug.routing import Rule

    class PlainRule(Rule):
        pass

    class App(Microframework):
        url_rule_class = PlainRule

    app = App(__name__)

    @app.route("/")
    async def index() -> str:
        return type(request.url_rule).__name__

    client = app.test_client()
    assert await (await client.get("/")).get_data() == b"PlainRule"
    options = await client.options("/")
    assert options.status_code == 200
    assert set(options.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}


@pytest.mark.parametrize("kind", ["http", "websocket"])
async def test_a_converter_failing_is_the_apps_500(
    app: Microframework, kind: str
) -> None:
    # Not a ValidationError: a bug in the app's converter. As in Flask it goes to the
    # app's 500 handling (errorhandler(500), got_request_exception); it escaped the app.
    class Buggy(BaseConverter):
        def to_python(self, value: str) -> int:
            return int(value)

    app.url_map.converters["num"] = Buggy
    app.testing = False

    @app.route("/n/<num:n>")
    async def number(n: int) -> str:
        return str(n)

    @app.websocket("/ws/<num:n>")
    async def socket(n: int) -> None:
        await websocket.send(str(n))

    @app.errorhandler(500)
    async def failed(error: Exception) -> tuple[str, int]:
        return (
            f"ours: {type(getattr(error, 'original_exception', error)).__name__}",
            500,
        )

    if kind == "http":
        response = await app.test_client().get("/n/abc")
        assert response.status_code == 500
        assert await response.get_data() == b"ours: ValueError"
    else:
        with pytest.raises(WebsocketResponseError) as info:
            async with app.test_client().websocket("/ws/abc") as ws:
                await ws.receive()
        assert info.value.response.status_code == 500


@pytest.mark.parametrize("matching", [False, True])
async def test_subdomain_routes_that_can_never_match_are_named_in_a_warning(
    matching: bool,
) -> None:
    # Flask 3.1 ignores them as here; Quart matches them whenever SERVER_NAME is
    # set: a ported app's api.example.com silently got the root view.
    import warnings

    from microframework import Blueprint

    app = Microframework(__name__, subdomain_matching=matching)
    app.config["SERVER_NAME"] = "example.com"
    api = Blueprint("api", __name__, subdomain="api")

    @api.route("/")
    async def api_root() -> str:
        return "api"

    @app.route("/")
    async def root() -> str:
        return "root"

    app.register_blueprint(api)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        response = await app.test_client().get("/", headers={"Host": "api.example.com"})
    messages = [str(warning.message) for warning in caught]
    if matching:
        assert await response.get_data() == b"api"
        assert messages == []
    else:
        assert await response.get_data() == b"root"
        assert messages == [
            "routes with a subdomain never match without subdomain_matching=True: /"
        ]


@pytest.mark.parametrize(
    "register",
    [
        lambda app, bp: app.url_value_preprocessor,
        lambda app, bp: app.url_defaults,
        lambda app, bp: bp.url_value_preprocessor,
        lambda app, bp: bp.url_defaults,
        lambda app, bp: bp.app_url_value_preprocessor,
        lambda app, bp: bp.app_url_defaults,
    ],
    ids=["app", "app-defaults", "bp", "bp-defaults", "bp-app", "bp-app-defaults"],
)
def test_an_async_url_value_function_is_refused_when_registered(
    register: Callable[[Microframework, Blueprint], Callable[[Any], Any]],
) -> None:
    # Called where nothing awaits it, it was a silent no-op (a never-awaited warning):
    # a preprocessor that pops 'lang' left the view a TypeError to puzzle over.
    app, bp = Microframework(__name__), Blueprint("bp", __name__)

    async def pull_lang(endpoint: str | None, values: dict[str, Any] | None) -> None:
        pass

    class Puller:
        async def __call__(self, endpoint: str | None, values: Any) -> None:
            pass

    with pytest.raises(TypeError, match="must be plain 'def'.*pull_lang"):
        register(app, bp)(pull_lang)
    for other in (functools.partial(pull_lang), Puller()):
        with pytest.raises(TypeError, match="must be plain 'def'"):
            register(app, bp)(other)


# -- parity with Flask found by the routing review (session 31) -----------------------
_TENANTS: set[str] = set()


class _Tenant(BaseConverter):
    def to_python(self, value: str) -> str:
        if value not in _TENANTS:
            raise ValidationError()
        return value


@pytest.mark.parametrize("where", ["host", "subdomain"])
async def test_a_converter_in_the_host_or_subdomain_is_asked_each_time(
    where: str,
) -> None:
    # Like one in the path, its to_python may change its mind (a tenant deleted): a
    # match remembered per path kept answering 200.
    if where == "host":
        app = Microframework(__name__, host_matching=True, static_folder=None)
        app.url_map.converters["tenant"] = _Tenant
        app.add_url_rule("/", "t", lambda t: t, host="<tenant:t>.example.com")
    else:
        app = Microframework(__name__, subdomain_matching=True, static_folder=None)
        app.config["SERVER_NAME"] = "example.com"
        app.url_map.converters["tenant"] = _Tenant
        app.add_url_rule("/", "t", lambda t: t, subdomain="<tenant:t>")
    client, host = app.test_client(), {"Host": "acme.example.com"}
    _TENANTS.clear()
    _TENANTS.add("acme")
    assert (await client.get("/", headers=host)).status_code == 200
    _TENANTS.clear()
    assert (await client.get("/", headers=host)).status_code == 404


async def test_create_url_adapter_of_the_request_is_bound_to_it() -> None:
    # Flask's is: match() with no path matches the request's (the shared adapter
    # matched "/"), with the request's method and query.
    app = Microframework(__name__)

    def show(n: int | None = None) -> dict[str, object]:
        adapter = current_app.create_url_adapter(request)
        assert adapter is not None
        rule, args = adapter.match(return_rule=True)
        return {
            "rule": rule.rule,
            "args": args,
            "allowed": sorted(adapter.allowed_methods()),
            "query": adapter.query_args,
            "default_method": adapter.default_method,
        }

    app.add_url_rule("/", "index", show)
    app.add_url_rule("/items/<int:n>", "item", show, methods=["GET", "DELETE"])
    response = await app.test_client().delete("/items/3?x=1")
    assert await response.get_json() == {
        "rule": "/items/<int:n>",
        "args": {"n": 3},
        "allowed": ["DELETE", "GET", "HEAD", "OPTIONS"],
        "query": "x=1",
        "default_method": "DELETE",
    }


async def test_a_rule_with_a_doubled_slash_redirects_as_werkzeug_does() -> None:
    app = Microframework(__name__)
    app.add_url_rule("/a//b", "dbl", lambda: "dbl")
    response = await app.test_client().get("/a//b")
    assert response.status_code == 308
    assert response.headers["Location"] == "http://localhost/a/b"


async def test_automatic_options_of_a_rule_without_a_view() -> None:
    app = Microframework(__name__)
    app.add_url_rule("/unbound", "unbound")
    response = await app.test_client().options("/unbound")
    assert response.status_code == 200
    assert set(response.headers["Allow"].replace(" ", "").split(",")) == {
        "GET",
        "HEAD",
        "OPTIONS",
    }
    assert (await app.test_client().get("/unbound")).status_code == 500


async def test_a_view_replaced_after_the_first_request_is_used() -> None:
    # Flask reads view_functions per request; a suite sharing one app replaces views
    # with stubs. The old view kept answering, and a rule added to the map with its
    # view was a 500.
    app = Microframework(__name__)
    app.add_url_rule("/a", "a", lambda: "old")
    client = app.test_client()
    assert await (await client.get("/a")).get_data() == b"old"
    app.view_functions["a"] = lambda: "new"
    assert await (await client.get("/a")).get_data() == b"new"
    app.url_map.add(WerkzeugRule("/late", endpoint="late"))
    app.view_functions.update(late=lambda: "late")
    assert await (await client.get("/late")).get_data() == b"late"
    del app.view_functions["a"]
    assert (await client.get("/a")).status_code == 500
    with pytest.raises(AssertionError):
        app.add_url_rule("/b", "b", lambda: "b")  # still set up before serving


def _replace_a(views: dict[str, Any]) -> None:
    views |= {"a": lambda: "new"}


@pytest.mark.parametrize(
    ("change", "status"),
    [
        (_replace_a, 200),
        (lambda views: views.setdefault("late", lambda: "new"), 200),
        (lambda views: views.pop("a"), 500),
        (lambda views: views.popitem(), 500),
        (lambda views: views.clear(), 500),
    ],
    ids=["ior", "setdefault", "pop", "popitem", "clear"],
)
async def test_every_change_to_view_functions_after_the_first_request_is_seen(
    change: Callable[[Any], Any], status: int
) -> None:
    # Flask sees each (review10, session 31); and a dict put in its place.
    app = Microframework(__name__, static_folder=None)
    app.add_url_rule("/a", "a", lambda: "old")
    app.add_url_rule("/late", "late")  # a rule without a view yet
    client = app.test_client()
    assert await (await client.get("/a")).get_data() == b"old"
    change(app.view_functions)
    path = "/late" if status == 200 and "late" in app.view_functions else "/a"
    response = await client.get(path)
    assert response.status_code == status
    if status == 200:
        assert await response.get_data() == b"new"
    app.view_functions = {"a": lambda: "replaced"}
    assert await (await client.get("/a")).get_data() == b"replaced"


@pytest.mark.parametrize("through", ["copy", "original"])
async def test_a_copy_of_the_app_sees_a_view_replaced_in_the_views_it_shares(
    through: str,
) -> None:
    # copy.copy(app) shares view_functions, as in Quart; a view replaced after both
    # served changed one app's tables only (review11 8, review12).
    app = Microframework(__name__, static_folder=None)
    app.add_url_rule("/", "i", lambda: "old")
    assert await (await app.test_client().get("/")).get_data() == b"old"
    twin = copy.copy(app)
    assert await (await twin.test_client().get("/")).get_data() == b"old"
    (twin if through == "copy" else app).view_functions["i"] = lambda: "new"
    assert await (await twin.test_client().get("/")).get_data() == b"new"
    assert await (await app.test_client().get("/")).get_data() == b"new"
    twin.view_functions = {"i": lambda: "own"}  # its own now, as in Quart
    assert await (await twin.test_client().get("/")).get_data() == b"own"
    assert await (await app.test_client().get("/")).get_data() == b"new"


async def test_a_subclass_declaring_view_functions_serves_a_view_replaced_later() -> (
    None
):
    # `view_functions = {}` in the class body hid the descriptor, so a view replaced
    # after the first request was never served, in the app or a copy (review14 4).
    class Declares(Microframework):
        view_functions = {}  # type: ignore[assignment]

    class Below(Declares):
        pass

    for cls in (Declares, Below):
        app = cls(__name__, static_folder=None)
        app.add_url_rule("/", "i", lambda: "old")
        assert await (await app.test_client().get("/")).get_data() == b"old"
        twin = copy.copy(app)
        app.view_functions["i"] = lambda: "new"
        assert await (await app.test_client().get("/")).get_data() == b"new"
        assert await (await twin.test_client().get("/")).get_data() == b"new"


async def test_a_rule_added_to_the_url_map_after_the_first_request_is_served() -> None:
    # Flask and Quart look the view up per request; the per-rule tables of session 33
    # knew only the rules there at the first request: a 500 (review15 1).
    from werkzeug.routing import Rule as WerkzeugRule

    app = Microframework(__name__, static_folder=None)
    app.add_url_rule("/", "index", lambda: "index")
    client = app.test_client()
    assert (await client.get("/")).status_code == 200
    app.url_map.add(WerkzeugRule("/alias", endpoint="index"))
    for _ in range(2):  # matched, then from the match cache
        response = await client.get("/alias")
        assert await response.get_data() == b"index"
    # A path a catch-all answered before: its memoised match goes (review16 1).
    app2 = Microframework(__name__, static_folder=None)
    app2.add_url_rule("/", "index", lambda: "index")
    app2.add_url_rule("/<path:rest>", "rest", lambda rest: "catch-all")
    client2 = app2.test_client()
    assert await (await client2.get("/late")).get_data() == b"catch-all"
    app2.url_map.add(WerkzeugRule("/late", endpoint="index"))
    assert await (await client2.get("/late")).get_data() == b"index"


def _granian_http10_scope(path: str) -> dict[str, Any]:
    # As granian 2.8.9 builds it (ports as strings, an empty Host added).
    scope = http_scope(path, http_version="1.0", server=("127.0.0.1", "8000"))
    scope["headers"] = [(b"host", b"")]
    return scope


def _app() -> Microframework:
    app = Microframework(__name__)

    @app.route("/dir/")
    async def listing() -> Any:
        return {
            "host": request.host,
            "url": request.url,
            "external": url_for("listing", _external=True),
        }

    return app


async def test_an_empty_host_falls_back_to_the_servers_address() -> None:
    # hypercorn gives no host header for such a request: the server's address is
    # used, as WSGI servers do (SERVER_NAME); granian's empty one made "http:///dir/".
    recorder = await call(_app(), _granian_http10_scope("/dir/"))
    assert recorder.status == 200
    assert recorder.body == (
        b'{"external":"http://127.0.0.1:8000/dir/","host":"127.0.0.1:8000",'
        b'"url":"http://127.0.0.1:8000/dir/"}\n'
    )


async def test_the_slash_redirect_of_an_empty_host_names_the_server() -> None:
    # Location: http:///dir/ is no URL a client can follow.
    recorder = await call(_app(), _granian_http10_scope("/dir"))
    assert recorder.status == 308
    assert recorder.headers[b"location"] == b"http://127.0.0.1:8000/dir/"
