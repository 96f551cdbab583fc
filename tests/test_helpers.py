"""The user-facing helpers: ``url_for``, ``redirect``, ``abort``, ``make_response``,
``jsonify``, ``escape`` and ``Markup``.
"""

from __future__ import annotations

from typing import Any

import pytest
from werkzeug.exceptions import NotFound
from werkzeug.routing import BuildError

from microframework import abort
from microframework import escape
from microframework import g
from microframework import jsonify
from microframework import make_response
from microframework import Markup
from microframework import Microframework
from microframework import redirect
from microframework import request
from microframework import Response
from microframework import url_for


def _with_routes(app: Microframework) -> Microframework:
    @app.route("/")
    async def index() -> str:
        return "index"

    @app.route("/post/<int:post_id>")
    async def post(post_id: int) -> str:
        return str(post_id)

    return app


# -- url_for inside a request -------------------------------------------------------


async def test_url_for_in_a_request_is_relative(app: Microframework) -> None:
    _with_routes(app)

    @app.route("/here")
    async def here() -> str:
        return url_for("post", post_id=3)

    response = await app.test_client().get("/here")
    assert await response.get_data(as_text=True) == "/post/3"


async def test_url_for_takes_a_variable_called_self(app: Microframework) -> None:
    # As Flask 3.0: the app method's own self left no rule variable of that name.
    @app.route("/u/<self>")
    async def user(self: str) -> str:
        return url_for("user", self=self) + " " + app.url_for("user", self="you")

    response = await app.test_client().get("/u/me")
    assert await response.get_data(as_text=True) == "/u/me /u/you"


async def test_url_for_external_uses_the_request_host_and_scheme(
    app: Microframework,
) -> None:
    _with_routes(app)

    @app.route("/here")
    async def here() -> str:
        return url_for("post", post_id=3, _external=True)

    client = app.test_client()
    plain = await client.get("/here", headers={"Host": "shop.example:8080"})
    secure = await client.get("/here", headers={"Host": "shop.example"}, scheme="https")

    assert await plain.get_data(as_text=True) == "http://shop.example:8080/post/3"
    assert await secure.get_data(as_text=True) == "https://shop.example/post/3"


async def test_url_for_scheme_with_external(app: Microframework) -> None:
    _with_routes(app)
    async with app.test_request_context("/", headers={"Host": "shop.example"}):
        assert (
            url_for("post", post_id=1, _scheme="https", _external=True)
            == "https://shop.example/post/1"
        )


async def test_url_for_scheme_alone_implies_external_in_a_request(
    app: Microframework,
) -> None:
    # Flask >= 2.2: inside a request `_external` defaults to `_scheme is not None`.
    _with_routes(app)
    async with app.test_request_context("/"):
        assert url_for("index", _scheme="https") == "https://localhost/"


async def test_url_for_scheme_with_external_false_is_a_value_error(
    app: Microframework,
) -> None:
    _with_routes(app)
    async with app.test_request_context("/"):
        with pytest.raises(ValueError, match="_scheme"):
            url_for("index", _scheme="https", _external=False)


async def test_url_for_scheme_with_external_false_outside_a_request_is_a_value_error(
    app: Microframework,
) -> None:
    _with_routes(app)
    app.config["SERVER_NAME"] = "example.test"
    async with app.app_context():
        with pytest.raises(ValueError, match="_scheme"):
            url_for("index", _scheme="https", _external=False)


async def test_url_for_anchor_is_appended_and_quoted(app: Microframework) -> None:
    _with_routes(app)
    async with app.test_request_context("/"):
        assert url_for("index", _anchor="top") == "/#top"
        assert url_for("index", _anchor="a b<c>") == "/#a%20b%3Cc%3E"
        assert url_for("index", _anchor="it's") == "/#it's"  # as Flask
        assert (
            url_for("post", post_id=2, _anchor="x", _external=True)
            == "http://localhost/post/2#x"
        )


async def test_url_for_method_picks_the_rule_for_that_method(
    app: Microframework,
) -> None:
    async def item() -> str:
        return "item"

    app.add_url_rule("/item/show", "item", item, methods=["GET"])
    app.add_url_rule("/item/save", "item", item, methods=["POST"])

    async with app.test_request_context("/"):
        assert url_for("item", _method="GET") == "/item/show"
        assert url_for("item", _method="POST") == "/item/save"


async def test_url_for_extra_values_become_the_query_string(
    app: Microframework,
) -> None:
    _with_routes(app)
    async with app.test_request_context("/"):
        assert url_for("post", post_id=4, page=2) == "/post/4?page=2"
        assert url_for("index", q="a b&c") == "/?q=a+b%26c"
        assert url_for("index", tag=["x", "y"]) == "/?tag=x&tag=y"


async def test_url_for_honours_the_client_root_path(app: Microframework) -> None:
    _with_routes(app)

    @app.route("/here")
    async def here() -> dict[str, str]:
        return {
            "relative": url_for("post", post_id=5),
            "external": url_for("post", post_id=5, _external=True),
            "path": request.path,
        }

    response = await app.test_client().get("/prefix/here", root_path="/prefix")

    assert await response.get_json() == {
        "relative": "/prefix/post/5",
        "external": "http://localhost/prefix/post/5",
        "path": "/here",
    }


async def test_url_for_unknown_endpoint_is_a_build_error(
    app: Microframework,
) -> None:
    _with_routes(app)
    async with app.test_request_context("/"):
        with pytest.raises(BuildError):
            url_for("missing")


async def test_url_for_missing_rule_argument_is_a_build_error(
    app: Microframework,
) -> None:
    _with_routes(app)
    async with app.test_request_context("/"):
        with pytest.raises(BuildError):
            url_for("post")


async def test_url_build_error_handler_supplies_the_url(app: Microframework) -> None:
    _with_routes(app)
    calls: list[tuple[str, dict[str, Any]]] = []

    def external(error: BuildError, endpoint: str, values: dict[str, Any]) -> Any:
        calls.append((endpoint, dict(values)))
        if endpoint == "docs":
            return "https://docs.example/" + str(values.get("page", ""))
        return None

    app.url_build_error_handlers.append(external)

    async with app.test_request_context("/"):
        assert url_for("docs", page="intro") == "https://docs.example/intro"
        with pytest.raises(BuildError):
            url_for("unknown")
    assert [endpoint for endpoint, _ in calls] == ["docs", "unknown"]
    assert calls[0][1]["page"] == "intro"


async def test_url_defaults_and_url_value_preprocessor_carry_a_lang_code(
    app: Microframework,
) -> None:
    @app.url_defaults
    def add_lang(endpoint: str, values: dict[str, Any]) -> None:
        if "lang_code" in values or "lang_code" not in g:
            return
        if app.url_map.is_endpoint_expecting(endpoint, "lang_code"):
            values["lang_code"] = g.lang_code

    @app.url_value_preprocessor
    def pull_lang(endpoint: str | None, values: dict[str, Any] | None) -> None:
        g.lang_code = values.pop("lang_code", None) if values else None

    @app.route("/<lang_code>/")
    async def home() -> dict[str, Any]:
        return {"lang": g.lang_code, "about": url_for("about")}

    @app.route("/<lang_code>/about")
    async def about() -> str:
        return "about"

    @app.route("/plain")
    async def plain() -> str:
        return url_for("about", lang_code="fr")

    client = app.test_client()
    response = await client.get("/de/")
    assert await response.get_json() == {"lang": "de", "about": "/de/about"}
    other = await client.get("/en/")
    assert await other.get_json() == {"lang": "en", "about": "/en/about"}
    explicit = await client.get("/plain")
    assert await explicit.get_data(as_text=True) == "/fr/about"


# -- url_for outside a request -------------------------------------------------------


async def test_url_for_outside_a_request_without_server_name_is_a_runtime_error(
    app: Microframework,
) -> None:
    _with_routes(app)
    async with app.app_context():
        with pytest.raises(RuntimeError, match="SERVER_NAME"):
            url_for("index")


def test_url_for_without_any_context_is_a_runtime_error(app: Microframework) -> None:
    _with_routes(app)
    with pytest.raises(RuntimeError):
        url_for("index")


async def test_url_for_outside_a_request_uses_server_name_root_and_scheme(
    app: Microframework,
) -> None:
    _with_routes(app)
    app.config.update(
        SERVER_NAME="example.test:8443",
        APPLICATION_ROOT="/app",
        PREFERRED_URL_SCHEME="https",
    )
    async with app.app_context():
        assert url_for("post", post_id=9) == "https://example.test:8443/app/post/9"
        assert url_for("index", _external=False) == "/app/"


async def test_app_url_for_outside_any_context_uses_server_name(
    app: Microframework,
) -> None:
    _with_routes(app)
    app.config["SERVER_NAME"] = "example.test"
    assert app.url_for("post", post_id=1) == "http://example.test/post/1"


# -- redirect -------------------------------------------------------------------------


async def test_redirect_defaults_to_302_with_location_and_html_body(
    app: Microframework,
) -> None:
    @app.route("/old")
    async def old() -> Response:
        return redirect("/new?a=1&b=<2>")

    response = await app.test_client().get("/old")

    assert response.status_code == 302
    assert response.headers["Location"] == "/new?a=1&b=%3C2%3E"
    assert response.mimetype == "text/html"
    body = await response.get_data(as_text=True)
    assert "Redirecting" in body
    assert "/new?a=1&amp;b=&lt;2&gt;" in body
    assert "<2>" not in body


@pytest.mark.parametrize("code", [301, 303, 307, 308])
async def test_redirect_uses_the_given_code(app: Microframework, code: int) -> None:
    @app.route("/old")
    async def old() -> Response:
        return redirect("https://elsewhere.example/", code)

    response = await app.test_client().get("/old")

    assert response.status_code == code
    assert response.headers["Location"] == "https://elsewhere.example/"


@pytest.mark.parametrize(
    ("prefer_secure", "scheme"), [(False, "http"), (True, "https")]
)
async def test_prefer_secure_urls_builds_https_outside_a_request(
    prefer_secure: bool, scheme: str
) -> None:
    app = Microframework(__name__)
    app.config.update(SERVER_NAME="example.com", PREFER_SECURE_URLS=prefer_secure)

    @app.get("/page")
    async def page() -> str:
        return ""

    async with app.app_context():
        assert url_for("page", _external=True) == f"{scheme}://example.com/page"


async def test_redirect_goes_through_an_apps_redirect_override() -> None:
    # Flask 2.2+ and Quart: redirect() defers to current_app.redirect.
    class SeeOther(Microframework):
        def redirect(self, location: str, code: int = 302) -> Response:
            return super().redirect(location, 303)

    app = SeeOther(__name__)

    @app.get("/")
    async def index() -> Response:
        return redirect("/elsewhere")

    response = await app.test_client().get("/")
    assert (response.status_code, response.headers["Location"]) == (303, "/elsewhere")
    assert Microframework(__name__).redirect("/x").status_code == 302


async def test_redirect_goes_through_a_redirect_set_on_the_app(
    app: Microframework,
) -> None:
    # As an extension's init_app would do it; Flask and Quart call it too.
    app.redirect = lambda location, code=302: Response("custom", 399)  # type: ignore[method-assign]
    async with app.app_context():
        assert redirect("/x").status_code == 399


def test_redirect_works_without_a_context() -> None:
    response = redirect("/x")
    assert isinstance(response, Response)
    assert response.status_code == 302
    assert response.headers["Location"] == "/x"


def test_redirect_encodes_a_non_ascii_location() -> None:
    assert redirect("/café").headers["Location"] == "/caf%C3%A9"


@pytest.mark.parametrize(
    ("location", "sent"),
    [
        ("/a\r\nSet-Cookie: x=1", "/a%0D%0ASet-Cookie:%20x=1"),
        ("/a\rb", "/a%0Db"),
        ("https://ok.example/\n", "https://ok.example/%0A"),
        # URL parsers drop tabs: "//evil.example", another host (from /%09/evil.example).
        ("/\t/evil.example", "/%09/evil.example"),
        ("/\t\t/\t/evil.example", "/%09%09/%09/evil.example"),
        ("\x00//evil.example", "%00//evil.example"),
        ("  //evil.example", "%20%20//evil.example"),  # stripped in front, as controls
        ("/a b", "/a%20b"),
    ],
)
def test_redirect_keeps_what_url_parsers_drop_encoded(location: str, sent: str) -> None:
    # Refused with a ValueError before (a 500 for a path with %0A), and tabs went
    # through: iri_to_uri dropped them, so a Location led to another host.
    assert redirect(location).headers["Location"] == sent


@pytest.mark.parametrize(
    ("target", "location"),
    [
        ("https:evil.example", "https:evil.example"),
        ("https:/evil.example", "https:/evil.example"),
        ("/\\evil.example", "/%5Cevil.example"),
        ("/caf\u00e9?q=\u00e8", "/caf%C3%A9?q=%C3%A8"),
        ("http://\u2603.net/p\u00e5th", "http://xn--n3h.net/p%C3%A5th"),
    ],
)
def test_a_redirect_without_a_host_is_not_given_one(target: str, location: str) -> None:
    # iri_to_uri rebuilt "https:evil.example" (relative on an https page, so it passes
    # the usual urljoin and same-host check) as "https:///evil.example", which browsers
    # take for the host evil.example. Flask and Quart send it as it is.
    assert redirect(target).headers["Location"] == location


async def test_a_redirect_to_the_path_with_a_tab_stays_on_the_host() -> None:
    app = Microframework(__name__)

    @app.route("/<path:rest>")
    async def view(rest: str) -> Response:
        return redirect(request.path + "/")

    for path in ("/%09/evil.example", "/%0A/evil.example"):
        response = await app.test_client().get(path)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/%0")


async def test_a_location_the_view_sets_itself_is_sent_as_a_uri() -> None:
    # werkzeug's get_wsgi_headers sends Location and Content-Location through
    # iri_to_uri, so Flask's 201 with {"Location": "/items/café"} goes out as
    # /items/caf%C3%A9. Here "é" went out as the Latin-1 byte 0xE9, which browsers
    # read as UTF-8 (Chromium lands on /caf%EF%BF%BD), and "€" was a 500.
    app = Microframework(__name__)

    @app.post("/items")
    async def create() -> tuple[dict[str, str], int, dict[str, str]]:
        return {"name": "café"}, 201, {"Location": "/items/café"}

    @app.post("/notes")
    async def note() -> tuple[str, int, dict[str, str]]:  # the prepared fast path
        return "created", 201, {"Location": "/notes/ü"}

    @app.get("/moved")
    async def moved() -> Response:
        response = Response("moved", 301)
        response.location = "/déjà vu/€"
        return response

    @app.get("/elsewhere")
    async def elsewhere() -> Response:
        response = Response("moved", 302)
        response.headers["Location"] = "https://bücher.example/é"
        response.headers["Content-Location"] = "/docs/résumé"
        return response

    client = app.test_client()
    response = await client.post("/items")
    assert response.status_code == 201
    assert response.headers["Location"] == "/items/caf%C3%A9"
    response = await client.post("/notes")
    assert response.headers["Location"] == "/notes/%C3%BC"
    response = await client.get("/moved")
    assert response.status_code == 301
    assert response.headers["Location"] == "/d%C3%A9j%C3%A0%20vu/%E2%82%AC"
    response = await client.get("/elsewhere")
    assert response.headers["Location"] == "https://xn--bcher-kva.example/%C3%A9"
    assert response.headers["Content-Location"] == "/docs/r%C3%A9sum%C3%A9"


def test_a_repeated_redirect_is_the_same_response_byte_for_byte() -> None:
    # The page and Location are built once per target; each response is new.
    first, second = redirect("/new?a=<1>"), redirect("/new?a=<1>", 301)
    assert first is not second
    assert first.body_bytes == second.body_bytes
    assert first.headers == second.headers
    assert (first.status_code, second.status_code) == (302, 301)
    second.headers["X-Mine"] = "1"  # changing one response leaves the next alone
    assert "X-Mine" not in redirect("/new?a=<1>").headers


def test_a_redirects_headers_are_the_same_for_any_response_class() -> None:
    # Ours gets Location appended directly; another class gets werkzeug's set().
    from werkzeug.urls import iri_to_uri
    from werkzeug.wrappers import Response as WerkzeugResponse

    target = "/ünïcode path?q=<1>"
    ours = redirect(target, 307)
    theirs = redirect(target, 307, Response=WerkzeugResponse)  # type: ignore[arg-type]
    assert list(ours.headers.items()) == list(theirs.headers.items())
    assert ours.headers.getlist("Location") == [iri_to_uri(target)]


# -- abort ------------------------------------------------------------------------------


async def test_abort_404_is_a_not_found_response(app: Microframework) -> None:
    @app.route("/")
    async def index() -> str:
        abort(404)

    response = await app.test_client().get("/")

    assert response.status_code == 404
    assert "Not Found" in await response.get_data(as_text=True)


async def test_abort_418_uses_werkzeugs_teapot(app: Microframework) -> None:
    @app.route("/")
    async def index() -> str:
        abort(418)

    response = await app.test_client().get("/")

    assert response.status_code == 418
    assert "teapot" in (await response.get_data(as_text=True)).lower()


async def test_abort_with_a_description_shows_it(app: Microframework) -> None:
    @app.route("/")
    async def index() -> str:
        abort(403, "members only")

    response = await app.test_client().get("/")

    assert response.status_code == 403
    assert "members only" in await response.get_data(as_text=True)


async def test_abort_with_a_response_sends_that_response(app: Microframework) -> None:
    @app.route("/")
    async def index() -> str:
        abort(Response("custom body", 409, {"X-Reason": "conflict"}))

    response = await app.test_client().get("/")

    assert response.status_code == 409
    assert response.headers["X-Reason"] == "conflict"
    assert await response.get_data(as_text=True) == "custom body"


async def test_abort_is_handled_by_the_errorhandler_for_its_code(
    app: Microframework,
) -> None:
    @app.errorhandler(404)
    async def not_found(error: Exception) -> tuple[str, int]:
        return "nothing here", 404

    @app.route("/")
    async def index() -> str:
        abort(404)

    response = await app.test_client().get("/")
    assert await response.get_data(as_text=True) == "nothing here"


def test_abort_outside_a_context_raises_the_http_exception() -> None:
    with pytest.raises(NotFound):
        abort(404)


def test_abort_with_an_unknown_code_is_a_lookup_error() -> None:
    with pytest.raises(LookupError):
        abort(299)


# -- make_response ------------------------------------------------------------------------


async def test_make_response_with_body_status_and_headers(app: Microframework) -> None:
    @app.route("/")
    async def index() -> Response:
        response = await make_response("x", 201, {"X": "1"})
        response.headers["Y"] = "2"
        return response

    response = await app.test_client().get("/")

    assert response.status_code == 201
    assert response.headers["X"] == "1"
    assert response.headers["Y"] == "2"
    assert await response.get_data(as_text=True) == "x"


@pytest.mark.parametrize(
    ("args", "status", "body", "header"),
    [
        pytest.param((), 200, b"", None, id="no-args"),
        pytest.param(("text",), 200, b"text", None, id="str"),
        pytest.param((b"raw",), 200, b"raw", None, id="bytes"),
        pytest.param(("text", 202), 202, b"text", None, id="body-status"),
        pytest.param(("text", "418 TEAPOT"), 418, b"text", None, id="status-string"),
        pytest.param(("text", {"X-H": "v"}), 200, b"text", "v", id="body-headers"),
        pytest.param(
            ("text", [("X-H", "v")]), 200, b"text", "v", id="body-header-list"
        ),
        pytest.param(
            ("text", 203, {"X-H": "v"}), 203, b"text", "v", id="body-status-headers"
        ),
    ],
)
async def test_make_response_variants(
    app: Microframework,
    args: tuple[Any, ...],
    status: int,
    body: bytes,
    header: str | None,
) -> None:
    async with app.test_request_context("/"):
        response = await make_response(*args)

    assert isinstance(response, Response)
    assert response.status_code == status
    assert await response.get_data() == body
    assert response.headers.get("X-H") == header


async def test_make_response_of_a_dict_is_json(app: Microframework) -> None:
    async with app.test_request_context("/"):
        response = await make_response({"a": 1})

    assert response.mimetype == "application/json"
    assert await response.get_json() == {"a": 1}


async def test_make_response_returns_a_response_as_is(app: Microframework) -> None:
    original = Response("kept", 202)
    async with app.test_request_context("/"):
        assert await make_response(original) is original


async def test_make_response_of_an_unsupported_value_is_a_type_error(
    app: Microframework,
) -> None:
    async with app.test_request_context("/"):
        with pytest.raises(TypeError, match="int"):
            await make_response(42)


async def test_make_response_outside_a_context_is_a_runtime_error() -> None:
    with pytest.raises(RuntimeError):
        await make_response("x")


# -- jsonify ------------------------------------------------------------------------------


async def test_jsonify_one_argument_is_serialised_as_is(app: Microframework) -> None:
    async with app.test_request_context("/"):
        response = jsonify({"a": [1, 2]})

    assert response.mimetype == "application/json"
    assert await response.get_json() == {"a": [1, 2]}


async def test_jsonify_several_arguments_become_a_list(app: Microframework) -> None:
    async with app.test_request_context("/"):
        response = jsonify(1, "two", None)

    assert await response.get_json() == [1, "two", None]


async def test_jsonify_keywords_become_an_object(app: Microframework) -> None:
    async with app.test_request_context("/"):
        response = jsonify(a=1, b="x")

    assert await response.get_json() == {"a": 1, "b": "x"}


async def test_jsonify_without_arguments_is_null(app: Microframework) -> None:
    async with app.test_request_context("/"):
        response = jsonify()

    assert (await response.get_data(as_text=True)).strip() == "null"


async def test_jsonify_positional_and_keywords_is_a_type_error(
    app: Microframework,
) -> None:
    async with app.test_request_context("/"):
        with pytest.raises(TypeError):
            jsonify(1, a=2)


async def test_jsonify_from_a_view(app: Microframework) -> None:
    @app.route("/")
    async def index() -> Response:
        return jsonify(ok=True)

    response = await app.test_client().get("/")

    assert response.headers["Content-Type"] == "application/json"
    assert await response.get_json() == {"ok": True}


# -- escape and Markup ---------------------------------------------------------------------


def test_escape_and_markup_are_exported_from_the_package() -> None:
    assert escape("<b>&'\"") == "&lt;b&gt;&amp;&#39;&#34;"
    assert isinstance(escape("x"), Markup)
    safe = Markup("<b>bold</b>")
    assert escape(safe) == "<b>bold</b>"
    assert Markup("<p>{}</p>").format("<script>") == "<p>&lt;script&gt;</p>"


async def test_long_redirect_targets_are_answered_but_not_remembered() -> None:
    # The redirect memo is keyed by targets a client may choose (a "next" parameter,
    # a strict-slash path): 256 of 2 MB each would pin half a gigabyte.
    from microframework import helpers

    app = Microframework(__name__)
    target = "/next?" + "a" * 5000

    @app.get("/")
    async def index() -> Any:
        return redirect(target)

    response = await app.test_client().get("/")
    assert response.headers["Location"] == target
    assert target not in helpers._REDIRECTS
    assert redirect("/short").headers["Location"] == "/short"
    assert "/short" in helpers._REDIRECTS


@pytest.mark.parametrize("fullwidth", ["\uff3c", "\ufe68"])  # NFKC: "\"
async def test_a_location_whose_host_idna_maps_to_a_backslash_is_refused(
    fullwidth: str,
) -> None:
    # "evil.com\uff3c.example.com" is a hostname ending in ".example.com" (an app's
    # allow-list check passes) and an invalid URL to browsers; IDNA's NFKC made it
    # "evil.com\.example.com", which browsers read as the host evil.com.
    target = f"https://evil.com{fullwidth}.example.com/x"
    with pytest.raises(ValueError, match="invalid host"):
        redirect(target)
    app = Microframework(__name__)

    @app.get("/")
    async def index() -> tuple[str, int, dict[str, str]]:
        return "", 302, {"Location": target}

    response = await app.test_client().get("/")
    assert response.status_code == 500
    assert "Location" not in response.headers


async def test_a_location_the_view_sets_with_a_tab_stays_on_the_host() -> None:
    # As redirect() sends it: browsers drop a tab from a URL, so "/\t/evil.example/"
    # (request.path of /%09/evil.example) led to evil.example, and with a non-ASCII
    # character urlsplit dropped it first and made it the host ("//evil.example/").
    app = Microframework(__name__)

    @app.route("/<path:rest>")
    async def add_slash(rest: str) -> tuple[str, int, dict[str, str]]:
        return "", 301, {"Location": request.path + "/"}

    client = app.test_client()
    response = await client.get("/%09/evil.example")
    assert response.headers["Location"] == "/%09/evil.example/"
    response = await client.get("/%09/evil.example/caf%C3%A9")
    assert response.headers["Location"] == "/%09/evil.example/caf%C3%A9/"
    response = await client.get("/%5Cevil.example")  # browsers read a backslash as "/"
    assert response.headers["Location"] == "/%5Cevil.example/"


async def test_a_location_the_view_sets_with_a_backslash_in_its_userinfo() -> None:
    # urlsplit finds the host ok.example (an allow-list passes); browsers end the
    # authority at the backslash and go to evil.example. Flask's iri_to_uri quotes it.
    app = Microframework(__name__)

    @app.get("/")
    async def index() -> tuple[str, int, dict[str, str]]:
        return "", 302, {"Location": request.args["next"]}

    response = await app.test_client().get(
        "/", query_string={"next": "https://evil.example\\@ok.example/"}
    )
    assert response.headers["Location"] == "https://evil.example%5C@ok.example/"


async def test_a_location_outside_a_uri_is_escaped_as_flask_sends_it() -> None:
    # Flask (werkzeug's get_wsgi_headers) sends every Location and Content-Location
    # through iri_to_uri: "/a b" -> "/a%20b", "[" "]" -> "%5B" "%5D" (RFC 3986: only
    # a host's). Here only a value that wasn't ASCII was converted, and redirect()
    # kept the brackets.
    app = Microframework(__name__)

    @app.route("/set")
    async def set_header() -> Any:
        return "", 302, {"Location": "/a b[1]", "Content-Location": '/x"y'}

    @app.route("/redirect")
    async def to_query() -> Any:
        return redirect("/search?tags[]=a#top[1]")

    client = app.test_client()
    response = await client.get("/set")
    assert response.headers["Location"] == "/a%20b%5B1%5D"
    assert response.headers["Content-Location"] == "/x%22y"
    response = await client.get("/redirect")
    assert response.headers["Location"] == "/search?tags%5B%5D=a#top%5B1%5D"
    # The page's link stays the target as given, escaped for HTML, as Flask's.
    assert 'href="/search?tags[]=a#top[1]"' in await response.get_data(as_text=True)
