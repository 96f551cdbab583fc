"""Pins for perf4's url_for memo and session speed-ups (review25): each fails on a
mutant of 400e83f that the suite let live, and passes on the original."""

from __future__ import annotations

from typing import Any

from microframework import Microframework
from microframework import url_for


async def test_urls_built_for_a_huge_subdomain_are_not_remembered() -> None:
    # With SERVER_NAME and subdomain matching, the adapter's server_name is short but
    # its subdomain is the client's: an adapter the adapter cache would not keep.
    import gc

    from werkzeug.routing import MapAdapter

    app = Microframework(__name__, subdomain_matching=True)
    app.config["SERVER_NAME"] = "example.com"

    @app.route("/")
    async def index() -> str:
        return "index"

    @app.errorhandler(404)
    async def missing(error: Any) -> Any:
        return url_for("index", _external=True), 404

    client = app.test_client()
    subdomain = ".".join(["h" * 60] * 50)
    for _ in range(2):
        response = await client.get("/", headers={"host": f"{subdomain}.example.com"})
        assert response.status_code == 404
        assert await response.get_data(as_text=True) == "http://example.com/"
    gc.collect()
    kept = [
        thing
        for thing in gc.get_objects()
        if isinstance(thing, MapAdapter) and thing.subdomain == subdomain
    ]
    assert kept == []


async def test_a_long_endpoint_name_is_built_each_time(monkeypatch: Any) -> None:
    from werkzeug.routing import MapAdapter

    app = Microframework(__name__)
    long_name = "e" * 2100

    async def view() -> str:
        return url_for(long_name)

    app.add_url_rule("/", long_name, view)
    builds: list[str] = []
    real = MapAdapter.build

    def counted(self: MapAdapter, endpoint: str, *args: Any, **kwargs: Any) -> Any:
        builds.append(endpoint)
        return real(self, endpoint, *args, **kwargs)

    monkeypatch.setattr(MapAdapter, "build", counted)
    client = app.test_client()
    for _ in range(2):
        assert await (await client.get("/")).get_data(as_text=True) == "/"
    assert len(builds) == 2


async def test_a_str_enum_value_is_not_taken_for_its_value() -> None:
    # A (str, Enum) member equals (and hashes as) its value, but werkzeug builds
    # with str(member): "Color.RED", not "red". Only exact str and int are remembered.
    from enum import Enum
    from urllib.parse import quote

    class Color(str, Enum):  # noqa: UP042 (not StrEnum: its str() is the value)
        RED = "red"

    app = Microframework(__name__)

    @app.route("/c/<color>")
    async def paint(color: str) -> str:
        return " ".join(
            [
                url_for("paint", color="red", shade="red"),
                url_for("paint", color=Color.RED, shade="red"),
                url_for("paint", color="red", shade=Color.RED),
            ]
        )

    theirs = quote(str(Color.RED))
    expected = f"/c/red?shade=red /c/{theirs}?shade=red /c/red?shade={theirs}"
    client = app.test_client()
    for _ in range(2):
        assert await (await client.get("/c/red")).get_data(as_text=True) == expected


def _count_builds(monkeypatch: Any) -> list[str]:
    from werkzeug.routing import MapAdapter

    builds: list[str] = []
    real = MapAdapter.build

    def counted(self: MapAdapter, endpoint: str, *args: Any, **kwargs: Any) -> Any:
        builds.append(endpoint)
        return real(self, endpoint, *args, **kwargs)

    monkeypatch.setattr(MapAdapter, "build", counted)
    return builds


async def test_long_values_from_the_client_are_not_remembered(monkeypatch: Any) -> None:
    # url_for("search", q=request.args["q"]): the value is the client's.
    from microframework import request

    app = Microframework(__name__)

    @app.route("/search")
    async def search() -> str:
        return url_for("search", q=request.args["q"])

    builds = _count_builds(monkeypatch)
    client = app.test_client()
    for value, count in [("v" * 2100, 1), ("v" * 2100, 2), ("short", 3), ("short", 3)]:
        response = await client.get("/search", query_string={"q": value})
        assert await response.get_data(as_text=True) == f"/search?q={value}"
        assert len(builds) == count


async def test_long_names_with_int_values_are_not_remembered(monkeypatch: Any) -> None:
    app = Microframework(__name__)
    name = "n" * 2100

    @app.route("/")
    async def index() -> str:
        return url_for("index", **{name: 1})

    builds = _count_builds(monkeypatch)
    client = app.test_client()
    for _ in range(2):
        assert await (await client.get("/")).get_data(as_text=True) == f"/?{name}=1"
    assert len(builds) == 2


async def test_the_same_values_under_other_names_are_other_urls() -> None:
    app = Microframework(__name__)

    @app.route("/u/<name>")
    async def user(name: str) -> str:
        return " ".join(
            [
                url_for("user", name="x", tab="x"),
                url_for("user", name="x", page="x"),
                url_for("user", name="x", page=1),
                url_for("user", name="x", tab=1),
            ]
        )

    expected = "/u/x?tab=x /u/x?page=x /u/x?page=1 /u/x?tab=1"
    client = app.test_client()
    for _ in range(2):
        assert await (await client.get("/u/x")).get_data(as_text=True) == expected


async def test_a_key_of_2048_characters_is_remembered(monkeypatch: Any) -> None:
    # The key's size: the endpoint, the adapter's host and subdomain, the names and
    # str values. Up to 2,048 (MEMO_KEY_SIZE, as the other memos) it is kept.
    from microframework import request

    app = Microframework(__name__)

    @app.route("/")
    async def index() -> str:
        return url_for("index", q=request.args["q"])

    builds = _count_builds(monkeypatch)
    client = app.test_client()
    at_most = 2048 - len("index") - len("localhost") - len("q")
    for value, count in [
        ("v" * at_most, 1),
        ("v" * at_most, 1),
        ("w" * (at_most + 1), 2),
    ]:
        response = await client.get("/", query_string={"q": value})
        assert await response.get_data(as_text=True) == f"/?q={value}"
        assert len(builds) == count
    response = await client.get("/", query_string={"q": "w" * (at_most + 1)})
    assert len(builds) == 3


async def test_a_session_interfaces_digest_method_signs_the_cookie() -> None:
    # Flask's documented knob: a SecureCookieSessionInterface with sha256. The cookie
    # must be itsdangerous's sha256 signature (a Flask app with the same key reads it).
    import hashlib

    from itsdangerous import URLSafeTimedSerializer

    from microframework import session
    from microframework.sessions import SecureCookieSessionInterface

    class Sha256Sessions(SecureCookieSessionInterface):
        digest_method = staticmethod(hashlib.sha256)

    app = Microframework(__name__)
    app.secret_key = "k"
    app.session_interface = Sha256Sessions()

    @app.route("/set")
    async def set_() -> str:
        session["n"] = 1
        return "ok"

    @app.route("/get")
    async def get() -> str:
        return str(session.get("n"))

    theirs = URLSafeTimedSerializer(
        "k",
        salt="cookie-session",
        serializer=app.session_interface.serializer,
        signer_kwargs={"key_derivation": "hmac", "digest_method": hashlib.sha256},
    )
    client = app.test_client()
    response = await client.get("/set")
    cookie = response.headers["Set-Cookie"].split(";")[0].partition("=")[2]
    assert theirs.loads(cookie) == {"n": 1}
    response = await app.test_client().get(
        "/get", headers={"cookie": f"session={theirs.dumps({'n': 2})}"}
    )
    assert await response.get_data(as_text=True) == "2"


def _vary_app(response_class: Any = None) -> Microframework:
    from microframework import session

    app = Microframework(__name__)
    app.secret_key = "k"
    if response_class is not None:
        app.response_class = response_class

    @app.route("/<how>")
    async def view(how: str) -> Any:
        session.get("x")
        if how == "lower":
            return "ok", [("vary", "Accept")]
        return "ok", [("X-Before", "1")]

    return app


async def test_a_lowercase_vary_of_the_view_gets_cookie_added() -> None:
    app = _vary_app()
    response = await app.test_client().get("/lower")
    assert response.headers.getlist("Vary") == ["Accept, Cookie"]


async def test_the_sessions_vary_comes_after_the_views_headers() -> None:
    # As werkzeug's response.vary.add (Flask's): a new header is appended.
    app = _vary_app()
    response = await app.test_client().get("/none")
    assert response.headers.getlist("Vary") == ["Cookie"]
    names = [name.lower() for name in response.headers.keys()]
    assert names.index("x-before") < names.index("vary")


async def test_a_response_class_with_its_own_vary_is_asked() -> None:
    from werkzeug.datastructures import HeaderSet

    from microframework import Response

    class AlwaysEncoding(Response):
        @property
        def vary(self) -> HeaderSet:
            def update(header_set: HeaderSet) -> None:
                header_set.add("Accept-Encoding")
                self.headers["Vary"] = header_set.to_header()

            return HeaderSet(on_update=update)

    app = _vary_app(AlwaysEncoding)
    response = await app.test_client().get("/none")
    assert response.headers.getlist("Vary") == ["Cookie, Accept-Encoding"]


async def test_a_headers_subclass_of_the_response_is_set_through() -> None:
    from werkzeug.datastructures import Headers

    from microframework import Response

    seen: list[tuple[str, str]] = []

    class Logged(Headers):
        def __setitem__(self, key: Any, value: Any) -> None:
            seen.append((key, value))
            super().__setitem__(key, value)

    class LoggedResponse(Response):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.headers = Logged(self.headers)

    app = _vary_app(LoggedResponse)
    response = await app.test_client().get("/none")
    assert response.headers.getlist("Vary") == ["Cookie"]
    assert ("Vary", "Cookie") in seen
