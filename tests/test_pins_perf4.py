"""url_for in a request of another method than GET, the memoised URLs of url_for, and
the session's cheaper Vary and signature (perf4): same answers as before, and as Flask.
"""

from __future__ import annotations

import gc
import hashlib
import hmac
from typing import Any

from itsdangerous import URLSafeTimedSerializer
from werkzeug.routing import BaseConverter
from werkzeug.routing import MapAdapter
from werkzeug.routing import Rule

from microframework import g
from microframework import Microframework
from microframework import session
from microframework import url_for


def _one_endpoint_two_rules(app: Microframework) -> None:
    async def items() -> str:
        return url_for("items")

    app.add_url_rule("/items/list", "items", items, methods=["GET"])
    app.add_url_rule("/items/create", "items", items, methods=["POST", "PUT"])


async def test_url_for_in_a_post_request_prefers_the_rule_for_post() -> None:
    # Flask's and Quart's adapter is bound to the request (its method the default):
    # with no _method, the rule for the request's method comes first.
    app = Microframework(__name__)
    _one_endpoint_two_rules(app)
    client = app.test_client()
    assert await (await client.get("/items/list")).get_data(as_text=True) == (
        "/items/list"
    )
    assert await (await client.post("/items/create")).get_data(as_text=True) == (
        "/items/create"
    )
    assert await (await client.put("/items/create")).get_data(as_text=True) == (
        "/items/create"
    )
    # Memoised per method: GET's URL again, not the last one built.
    assert await (await client.get("/items/list")).get_data(as_text=True) == (
        "/items/list"
    )


async def test_url_for_with_a_method_still_picks_that_methods_rule() -> None:
    app = Microframework(__name__)

    async def both() -> str:
        return f"{url_for('both', _method='GET')} {url_for('both', _method='POST')}"

    app.add_url_rule("/b/get", "both", both, methods=["GET"])
    app.add_url_rule("/b/post", "both", both, methods=["POST"])
    client = app.test_client()
    for _ in range(2):
        response = await client.post("/b/post")
        assert await response.get_data(as_text=True) == "/b/get /b/post"


async def test_the_same_url_for_builds_once(monkeypatch: Any) -> None:
    app = Microframework(__name__)

    @app.route("/users/<int:uid>/posts/<slug>")
    async def post(uid: int, slug: str) -> str:
        return url_for("post", uid=uid, slug=slug, page=2)

    builds: list[str] = []
    real = MapAdapter.build

    def counted(self: MapAdapter, endpoint: str, *args: Any, **kwargs: Any) -> Any:
        builds.append(endpoint)
        return real(self, endpoint, *args, **kwargs)

    monkeypatch.setattr(MapAdapter, "build", counted)
    client = app.test_client()
    for _ in range(3):
        response = await client.get("/users/7/posts/a-b")
        assert await response.get_data(as_text=True) == "/users/7/posts/a-b?page=2"
    assert builds == ["post"]


async def test_memoised_urls_keep_order_types_options_and_defaults() -> None:
    app = Microframework(__name__)

    @app.url_defaults
    def lang(endpoint: str, values: dict[str, Any]) -> None:
        if "lang" in g:
            values.setdefault("lang", g.lang)

    @app.route("/")
    async def index() -> str:
        g.lang = "fr"
        return " ".join(
            [
                url_for("index", a=1, b=2),
                url_for("index", b=2, a=1),  # the query keeps the caller's order
                url_for("index", a=1),
                url_for("index", a=True),  # True == 1, but its text is "True"
                url_for("index", a="1"),
                url_for("index", a=1.0),
                url_for("index", _external=True),
                url_for("index", _anchor="top"),
                url_for("index", _scheme="https", _external=True),
            ]
        )

    expected = (
        "/?a=1&b=2&lang=fr /?b=2&a=1&lang=fr /?a=1&lang=fr /?a=True&lang=fr"
        " /?a=1&lang=fr /?a=1.0&lang=fr http://localhost/?lang=fr /?lang=fr#top"
        " https://localhost/?lang=fr"
    )
    client = app.test_client()
    for _ in range(2):
        assert await (await client.get("/")).get_data(as_text=True) == expected
    response = await client.get("/", headers={"host": "example.com"})
    assert "http://example.com/?lang=fr" in await response.get_data(as_text=True)


async def test_an_apps_converter_builds_each_time() -> None:
    # Its to_url may change its mind (a renamed user): never memoised.
    names = iter(["ann", "bob"])

    class Name(BaseConverter):
        def to_url(self, value: Any) -> str:
            return next(names)

    app = Microframework(__name__)
    app.url_map.converters["name"] = Name

    @app.route("/u/<name:who>")
    async def user(who: str) -> str:
        return url_for("user", who=1)

    client = app.test_client()
    assert await (await client.get("/u/x")).get_data(as_text=True) == "/u/ann"
    assert await (await client.get("/u/x")).get_data(as_text=True) == "/u/bob"


async def test_a_rule_added_after_the_first_request_is_built() -> None:
    app = Microframework(__name__)

    @app.route("/")
    async def index() -> str:
        return url_for("late", n=3)

    async def late(n: int) -> str:
        return "late"

    app.view_functions["late"] = late
    app.url_map.add(Rule("/old/<int:n>", endpoint="late"))
    client = app.test_client()
    assert await (await client.get("/")).get_data(as_text=True) == "/old/3"
    # A rule for the same endpoint that werkzeug builds first (more defaults): the
    # tables, and their URLs, start anew.
    app.url_map.add(Rule("/new/<int:n>", endpoint="late", defaults={"x": "y"}))
    assert app.url_map.bind("localhost").build("late", {"n": 3}) == "/new/3"
    assert await (await client.get("/")).get_data(as_text=True) == "/new/3"


async def test_the_session_varies_on_cookie_after_the_views_vary() -> None:
    app = Microframework(__name__)
    app.secret_key = "k"

    @app.route("/<how>")
    async def view(how: str) -> Any:
        session.get("x")
        if how == "none":
            return "ok"
        if how == "cookie":
            return "ok", {"Vary": "cookie"}
        return "ok", [("Vary", "Accept-Encoding"), ("X-After", "1")]

    client = app.test_client()
    response = await client.get("/none")
    assert response.headers.getlist("Vary") == ["Cookie"]
    response = await client.get("/cookie")
    assert response.headers.getlist("Vary") == ["cookie"]
    response = await client.get("/accept")
    assert response.headers.getlist("Vary") == ["Accept-Encoding, Cookie"]
    names = [name.lower() for name in response.headers.keys()]
    assert names.index("vary") < names.index("x-after")  # set in place


async def test_the_cookie_is_signed_as_itsdangerous_signs_it() -> None:
    app = Microframework(__name__)
    app.secret_key = "k"
    signer = app.session_interface.get_signing_serializer(app)
    assert signer is not None
    theirs = URLSafeTimedSerializer(
        "k",
        salt="cookie-session",
        serializer=app.session_interface.serializer,
        signer_kwargs={"key_derivation": "hmac", "digest_method": hashlib.sha1},
    )
    value = signer.dumps({"a": [1, 2], "b": "x" * 300})
    assert theirs.loads(value) == {"a": [1, 2], "b": "x" * 300}
    made = signer.make_signer("cookie-session")
    key = made.derive_key()
    assert made.get_signature(b"v.1") == theirs.make_signer(
        "cookie-session"
    ).get_signature(b"v.1")
    assert made.algorithm.get_signature(key, b"v") == (
        hmac.new(key, b"v", hashlib.sha1).digest()
    )
    assert signer.loads(theirs.dumps({"c": 3})) == {"c": 3}


async def test_the_first_of_two_session_cookies_opens_the_session() -> None:
    # As werkzeug's MultiDict.get, which the cookie store read: the first value wins.
    app = Microframework(__name__)
    app.secret_key = "k"

    @app.route("/")
    async def index() -> str:
        return str(session.get("n"))

    signer = app.session_interface.get_signing_serializer(app)
    assert signer is not None
    first, second = signer.dumps({"n": 1}), signer.dumps({"n": 2})
    client = app.test_client()
    for cookie, expected in [
        (f"session={first}; session={second}", "1"),
        (f"session={second}; session={first}", "2"),
        (f"other=1; session=; session={first}", "None"),
        ("other=1", "None"),
    ]:
        response = await client.get("/", headers={"cookie": cookie})
        assert await response.get_data(as_text=True) == expected


async def test_a_rule_class_with_its_own_build_builds_each_time() -> None:
    class Counting(Rule):
        calls = 0

        def build(self, values: Any, append_unknown: bool = True) -> Any:
            Counting.calls += 1
            return "", f"/c/{Counting.calls}"

    app = Microframework(__name__)

    @app.route("/")
    async def index() -> str:
        return url_for("counted")

    app.url_map.add(Counting("/c", endpoint="counted"))
    client = app.test_client()
    assert await (await client.get("/")).get_data(as_text=True) == "/c/1"
    assert await (await client.get("/")).get_data(as_text=True) == "/c/2"


async def test_long_names_from_the_client_are_not_remembered(monkeypatch: Any) -> None:
    # url_for(..., **request.args): the client chooses the names, not only values.
    app = Microframework(__name__)

    @app.route("/")
    async def index() -> str:
        from microframework import request

        return url_for("index", **request.args.to_dict())

    builds: list[str] = []
    real = MapAdapter.build

    def counted(self: MapAdapter, endpoint: str, *args: Any, **kwargs: Any) -> Any:
        builds.append(endpoint)
        return real(self, endpoint, *args, **kwargs)

    monkeypatch.setattr(MapAdapter, "build", counted)
    client = app.test_client()
    name = "n" * 3000
    for _ in range(2):
        response = await client.get("/", query_string={name: "1"})
        assert await response.get_data(as_text=True) == f"/?{name}=1"
    assert builds == ["index", "index"]
    for _ in range(2):
        response = await client.get("/", query_string={"short": "1"})
    assert builds == ["index", "index", "index"]


async def test_urls_built_for_a_huge_host_are_not_remembered() -> None:
    # The adapter cache keeps no adapter for a Host longer than any name (a megabyte
    # one pinned 1.2 GB once); the URLs' memo must not keep such adapters either.
    app = Microframework(__name__)

    @app.route("/")
    async def index() -> str:
        return url_for("index", _external=True)

    client = app.test_client()
    host = ".".join(["h" * 60] * 50)
    for _ in range(2):
        response = await client.get("/", headers={"host": host})
        assert await response.get_data(as_text=True) == f"http://{host}/"
    response = await client.get("/")  # a kept adapter's URL may be remembered
    gc.collect()
    kept = [
        thing
        for thing in gc.get_objects()
        if isinstance(thing, MapAdapter) and thing.server_name == host
    ]
    assert kept == []


async def test_a_post_test_request_context_before_any_request_builds_the_post_rule() -> (
    None
):
    # Before the first request there are no tables (and no memo), but the request's
    # method still picks the rule, as in Flask and Quart (review25).
    app = Microframework(__name__)
    _one_endpoint_two_rules(app)
    async with app.test_request_context("/items/create", method="POST"):
        assert url_for("items") == "/items/create"
    async with app.test_request_context("/items/list"):
        assert url_for("items") == "/items/list"


async def test_sort_parameters_set_after_the_first_request_sorts_the_query() -> None:
    # werkzeug reads url_map.sort_parameters (and sort_key) at each build: so do
    # Flask and Quart, and so did url_for before its URLs were remembered.
    app = Microframework(__name__)

    @app.route("/")
    async def index() -> str:
        return url_for("index", b=1, a=2)

    client = app.test_client()
    assert await (await client.get("/")).get_data(as_text=True) == "/?b=1&a=2"
    app.url_map.sort_parameters = True
    assert await (await client.get("/")).get_data(as_text=True) == "/?a=2&b=1"
    app.url_map.sort_key = lambda item: item[0] != "b"
    assert await (await client.get("/")).get_data(as_text=True) == "/?b=1&a=2"
