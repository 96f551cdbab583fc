"""Static folders of the app and of blueprints, and path traversal through their URLs."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any
from urllib.parse import quote
from urllib.parse import unquote

import pytest
from asgi_harness import call
from asgi_harness import http_scope
from hypothesis import given
from hypothesis import HealthCheck
from hypothesis import settings
from hypothesis import strategies as st

from microframework import Blueprint
from microframework import Microframework
from microframework import static
from microframework import url_for
from microframework.files import send_file
from microframework.files import send_from_directory

SECRET = b"TOP SECRET"


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """``tmp_path/app/static`` with files, a secret beside ``app``, and symlinks out."""
    root = tmp_path / "app"
    static = root / "static"
    (static / "css").mkdir(parents=True)
    (static / "a.txt").write_bytes(b"public a")
    (static / "css" / "site.css").write_bytes(b"body {}")
    (static / "%2e%2e").mkdir()  # a real folder with a percent in its name
    (static / "%2e%2e" / "odd.txt").write_bytes(b"odd but inside")
    (tmp_path / "secret.txt").write_bytes(SECRET)
    (root / "secret.txt").write_bytes(SECRET)
    (static / "escape.txt").symlink_to(tmp_path / "secret.txt")
    (static / "up").symlink_to(tmp_path)
    return root


@pytest.fixture
def static_app(site: Path) -> Microframework:
    app = Microframework("static_app", root_path=str(site))
    app.testing = True
    return app


# -- the app's static route -------------------------------------------------------
async def test_app_serves_its_static_folder(static_app: Microframework) -> None:
    client = static_app.test_client()

    text = await client.get("/static/a.txt")
    css = await client.get("/static/css/site.css")

    assert text.status_code == 200
    assert await text.get_data() == b"public a"
    assert css.headers["Content-Type"] == "text/css; charset=utf-8"
    assert await css.get_data() == b"body {}"


async def test_static_endpoint_builds_urls(static_app: Microframework) -> None:
    async with static_app.test_request_context("/"):
        assert url_for("static", filename="css/site.css") == "/static/css/site.css"


async def test_static_missing_file_and_folder_are_404(
    static_app: Microframework,
) -> None:
    client = static_app.test_client()

    assert (await client.get("/static/missing.txt")).status_code == 404
    assert (await client.get("/static/css")).status_code == 404
    assert (await client.get("/static/css/")).status_code == 404


async def test_static_head_has_no_body(static_app: Microframework) -> None:
    recorder = await call(static_app, http_scope("/static/a.txt", method="HEAD"))

    assert recorder.status == 200
    assert recorder.headers[b"content-length"] == b"8"
    assert recorder.body == b""


async def test_static_answers_conditional_requests(static_app: Microframework) -> None:
    client = static_app.test_client()
    etag = (await client.get("/static/a.txt")).headers["ETag"]

    cached = await client.get("/static/a.txt", headers={"If-None-Match": etag})
    ranged = await client.get("/static/a.txt", headers={"Range": "bytes=-1"})

    assert cached.status_code == 304
    assert ranged.status_code == 206
    assert await ranged.get_data() == b"a"


async def test_custom_static_url_path_and_folder(site: Path) -> None:
    (site / "assets").mkdir()
    (site / "assets" / "x.js").write_bytes(b"js")
    app = Microframework(
        "custom", root_path=str(site), static_folder="assets", static_url_path="/s"
    )

    response = await app.test_client().get("/s/x.js")

    assert await response.get_data() == b"js"
    assert (await app.test_client().get("/static/a.txt")).status_code == 404


async def test_no_static_folder_means_no_static_route(site: Path) -> None:
    app = Microframework("bare", root_path=str(site), static_folder=None)

    assert "static" not in app.view_functions
    assert (await app.test_client().get("/static/a.txt")).status_code == 404


def test_static_route_is_registered_even_if_the_folder_is_missing(
    tmp_path: Path,
) -> None:
    # As Flask: the folder may appear later (a build step), so the route is always there.
    app = Microframework("empty", root_path=str(tmp_path))

    assert "static" in app.view_functions


async def test_static_host_with_host_matching(site: Path) -> None:
    app = Microframework(
        "hosted",
        root_path=str(site),
        host_matching=True,
        static_host="cdn.example.com",
    )
    client = app.test_client()

    on_cdn = await client.get("/static/a.txt", headers={"Host": "cdn.example.com"})
    elsewhere = await client.get("/static/a.txt", headers={"Host": "www.example.com"})

    assert await on_cdn.get_data() == b"public a"
    assert elsewhere.status_code == 404


@pytest.mark.parametrize(
    "kwargs", [{"host_matching": True}, {"static_host": "cdn.example.com"}]
)
def test_static_host_and_host_matching_go_together(
    site: Path, kwargs: dict[str, Any]
) -> None:
    with pytest.raises(ValueError, match="static_host"):
        Microframework("mismatch", root_path=str(site), **kwargs)


# -- caching -----------------------------------------------------------------------
async def test_static_files_are_no_cache_by_default(static_app: Microframework) -> None:
    response = await static_app.test_client().get("/static/a.txt")

    assert response.headers["Cache-Control"] == "no-cache"


async def test_send_file_max_age_default_applies_to_static_files(
    static_app: Microframework,
) -> None:
    static_app.config["SEND_FILE_MAX_AGE_DEFAULT"] = 300

    response = await static_app.test_client().get("/static/a.txt")

    assert response.headers["Cache-Control"] == "public, max-age=300"


async def test_get_send_file_max_age_can_be_overridden_per_file(site: Path) -> None:
    class App(Microframework):
        def get_send_file_max_age(self, filename: str | None) -> int | None:
            return 600 if filename and filename.endswith(".css") else None

    app = App("override", root_path=str(site))
    client = app.test_client()

    css = await client.get("/static/css/site.css")
    text = await client.get("/static/a.txt")

    assert css.headers["Cache-Control"] == "public, max-age=600"
    assert text.headers["Cache-Control"] == "no-cache"


async def test_get_send_file_max_age_gets_send_files_whole_path(site: Path) -> None:
    # As Flask and Quart: an override matching a folder ("/immutable/") sees it.
    seen: list[str | None] = []

    class App(Microframework):
        def get_send_file_max_age(self, filename: str | None) -> int | None:
            seen.append(filename)
            return 60

    app = App("override", root_path=str(site))

    @app.route("/file")
    async def file() -> Any:
        return await send_file(str(site / "static" / "css" / "site.css"))

    @app.route("/from")
    async def from_directory() -> Any:
        return await send_from_directory(str(site / "static"), "css/site.css")

    @app.route("/object")
    async def file_object() -> Any:
        return await send_file(io.BytesIO(b"x"), mimetype="text/plain")

    client = app.test_client()
    for path in ("/file", "/from", "/object", "/static/css/site.css"):
        assert (await client.get(path)).status_code == 200
    whole = str(site / "static" / "css" / "site.css")
    assert seen == [whole, whole, None, "css/site.css"]


async def test_send_static_file_without_a_folder_is_a_runtime_error(
    site: Path,
) -> None:
    app = Microframework("bare", root_path=str(site), static_folder=None)

    async with app.app_context():
        with pytest.raises(RuntimeError, match="static_folder"):
            await static.send_static_file(app, "a.txt")


# -- blueprints ----------------------------------------------------------------------
@pytest.fixture
def blueprint_site(site: Path) -> Path:
    folder = site / "admin" / "static"
    folder.mkdir(parents=True)
    (folder / "admin.js").write_bytes(b"admin js")
    return site / "admin"


async def test_blueprint_serves_its_static_folder(
    static_app: Microframework, blueprint_site: Path
) -> None:
    bp = Blueprint(
        "admin",
        __name__,
        root_path=str(blueprint_site),
        static_folder="static",
        static_url_path="/assets",
        url_prefix="/admin",
    )
    static_app.register_blueprint(bp)
    client = static_app.test_client()

    response = await client.get("/admin/assets/admin.js")

    assert await response.get_data() == b"admin js"
    assert (await client.get("/admin/assets/../static/a.txt")).status_code == 404
    async with static_app.test_request_context("/"):
        assert url_for("admin.static", filename="admin.js") == "/admin/assets/admin.js"


async def test_blueprint_registered_twice_serves_under_both_names(
    static_app: Microframework, blueprint_site: Path
) -> None:
    bp = Blueprint(
        "admin", __name__, root_path=str(blueprint_site), static_folder="static"
    )
    static_app.register_blueprint(bp, url_prefix="/one")
    static_app.register_blueprint(bp, url_prefix="/two", name="second")
    client = static_app.test_client()

    assert (await client.get("/one/static/admin.js")).status_code == 200
    assert (await client.get("/two/static/admin.js")).status_code == 200
    assert {"admin.static", "second.static"} <= set(static_app.view_functions)


async def test_blueprint_without_static_folder_has_no_static_endpoint(
    static_app: Microframework,
) -> None:
    static_app.register_blueprint(Blueprint("plain", __name__), url_prefix="/plain")

    assert "plain.static" not in static_app.view_functions


async def test_blueprint_uses_the_app_max_age(
    static_app: Microframework, blueprint_site: Path
) -> None:
    static_app.config["SEND_FILE_MAX_AGE_DEFAULT"] = 42
    bp = Blueprint(
        "admin",
        __name__,
        root_path=str(blueprint_site),
        static_folder="static",
        url_prefix="/admin",
    )
    static_app.register_blueprint(bp)

    response = await static_app.test_client().get("/admin/static/admin.js")

    assert response.headers["Cache-Control"] == "public, max-age=42"


# -- path traversal, with raw request targets -----------------------------------------
def _target(raw: bytes) -> dict[str, Any]:
    """The scope a server builds: ``path`` percent-decoded, ``raw_path`` as received.

    Hypercorn and uvicorn decode with ``urllib.parse.unquote`` (invalid UTF-8 becomes
    U+FFFD), so encoded slashes, dots, backslashes and NULs all reach ``path`` decoded.
    """
    scope = http_scope(unquote(raw.decode("latin-1")))
    scope["raw_path"] = raw
    return scope


TRAVERSALS = [
    b"/static/../secret.txt",
    b"/static/../../secret.txt",
    b"/static/css/../../secret.txt",
    b"/static/%2e%2e/secret.txt",
    b"/static/%2E%2E/%2E%2E/secret.txt",
    b"/static/.%2e/secret.txt",
    b"/static/%2e%2e%2fsecret.txt",
    b"/static/%2e%2e%2F%2e%2e%2Fsecret.txt",
    b"/static/css%2f..%2f..%2fsecret.txt",
    b"/static/..%5csecret.txt",
    b"/static/..\\secret.txt",
    b"/static/css\\..\\..\\secret.txt",
    b"/static//etc/passwd",
    b"/static/%2fetc%2fpasswd",
    b"/static/%2Fetc/passwd",
    b"/static/a.txt%00.png",
    b"/static/%00",
    b"/static/../secret.txt%00",
    b"/static/C:/secret.txt",
    b"/static/C:%5csecret.txt",
    b"/static/escape.txt",
    b"/static/up/secret.txt",
    b"/static/up/app/secret.txt",
    b"/static/%252e%252e/secret.txt",
    b"/static/%c0%ae%c0%ae/secret.txt",
]


@pytest.mark.parametrize(
    ("raw", "body"),
    [
        (b"/static/css/../a.txt", b"public a"),
        (b"/static/./css/site.css", b"body {}"),
        (b"/static/css/%2e%2e/a.txt", b"public a"),
        (b"/static/css/./../css/site.css", b"body {}"),
    ],
)
async def test_dot_segments_that_stay_inside_the_folder_are_served(
    static_app: Microframework, raw: bytes, body: bytes
) -> None:
    # RFC 3986 5.2.4: the path is normalised before matching, as Quart does.
    recorder = await call(static_app, _target(raw))

    assert recorder.status == 200
    assert recorder.body == body


@pytest.mark.parametrize("raw", TRAVERSALS, ids=lambda raw: raw.decode("latin-1"))
async def test_path_traversal_in_any_encoding_is_404(
    static_app: Microframework, raw: bytes
) -> None:
    recorder = await call(static_app, _target(raw))

    assert recorder.status == 404
    assert SECRET not in recorder.body


@pytest.mark.parametrize("encode", [False, True], ids=["plain", "percent-encoded"])
async def test_an_absolute_path_in_the_url_is_404(
    static_app: Microframework, site: Path, encode: bool
) -> None:
    absolute = (site.parent / "secret.txt").as_posix()
    raw = quote(absolute, safe="") if encode else absolute

    recorder = await call(static_app, _target(b"/static/" + raw.encode()))

    assert recorder.status == 404
    assert SECRET not in recorder.body


@pytest.mark.parametrize(
    ("raw", "body"),
    [
        (b"/static/a.txt", b"public a"),
        (b"/static/./a.txt", b"public a"),
        (b"/static/css/./site.css", b"body {}"),
        (b"/static/%61.txt", b"public a"),
        (b"/static/%252e%252e/odd.txt", b"odd but inside"),
    ],
)
async def test_harmless_encodings_still_serve_the_file(
    static_app: Microframework, raw: bytes, body: bytes
) -> None:
    # The control for the traversal tests: the same harness does serve real files.
    recorder = await call(static_app, _target(raw))

    assert recorder.status == 200
    assert recorder.body == body


async def test_blueprint_static_traversal_is_404(
    static_app: Microframework, blueprint_site: Path
) -> None:
    bp = Blueprint(
        "admin",
        __name__,
        root_path=str(blueprint_site),
        static_folder="static",
        url_prefix="/admin",
    )
    static_app.register_blueprint(bp)

    for raw in (
        b"/admin/static/../../secret.txt",
        b"/admin/static/%2e%2e/%2e%2e/secret.txt",
        b"/admin/static/%2e%2e%2f%2e%2e%2fsecret.txt",
    ):
        recorder = await call(static_app, _target(raw))
        assert recorder.status == 404, raw
        assert SECRET not in recorder.body


_segment = st.sampled_from(
    ["..", ".", "", "a.txt", "css", "up", "escape.txt", "%2e%2e", "%2f", "%00", "%5c"]
)


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(st.lists(_segment, min_size=1, max_size=6))
async def test_no_static_url_reveals_the_secret(
    static_app: Microframework, segments: list[str]
) -> None:
    raw = ("/static/" + "/".join(segments)).encode()

    recorder = await call(static_app, _target(raw))

    assert recorder.status in (200, 404)
    assert SECRET not in recorder.body
