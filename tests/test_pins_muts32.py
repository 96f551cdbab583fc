"""Pins from mutation testing (helper muts32, session 31) of the session's own changes
(4699b64..s31): _compile, app.create_url_adapter, _responses, _dispatch, formparser,
json.provider, templating, files, wrappers.response, testing.connections.

Each test kills a mutant that survived the related test files; its first comment names
the code it pins and the mutant id (see /tmp/s31/muts32/REPORT.md).
"""

from __future__ import annotations

from typing import Any

import pytest

from microframework import current_app
from microframework import Microframework
from microframework import request


async def test_a_rule_without_a_view_says_so_when_requested() -> None:
    # _compile._missing_view: the stand-in raises a RuntimeError naming the endpoint
    # (mutant cp7 returned None: a TypeError about the return value instead).
    app = Microframework(__name__)
    app.testing = True
    app.add_url_rule("/unbound", "unbound")
    with pytest.raises(RuntimeError, match="no view function .*'unbound'"):
        await app.test_client().get("/unbound")


async def test_the_adapter_of_one_request_is_not_rebound_by_another() -> None:
    # app.create_url_adapter: a copy of the router's shared adapter is bound to the
    # request (mutant ap1 bound the shared one: a later request rebinds an adapter an
    # earlier one kept, and its match() answered the later path).
    app = Microframework(__name__)
    kept: list[Any] = []

    @app.get("/a")
    async def a() -> str:
        kept.append(current_app.create_url_adapter(request))
        return "a"

    @app.post("/b/<int:n>")
    async def b(n: int) -> str:
        current_app.create_url_adapter(request)
        return "b"

    client = app.test_client()
    assert (await client.get("/a?x=1")).status_code == 200
    assert (await client.post("/b/2?y=2")).status_code == 200
    rule, args = kept[0].match(return_rule=True)
    assert (rule.rule, args) == ("/a", {})
    assert (kept[0].default_method, kept[0].query_args) == ("GET", "x=1")


async def test_create_url_adapter_of_a_request_refused_a_host_is_none() -> None:
    # app.create_url_adapter: no adapter was bound (Host outside TRUSTED_HOSTS), so
    # None, not a crash in the 400 handler (mutant ap5 copied None: AttributeError).
    app = Microframework(__name__)
    app.config["TRUSTED_HOSTS"] = ["good.example"]

    @app.errorhandler(400)
    async def refused(error: Exception) -> tuple[str, int]:
        return repr(current_app.create_url_adapter(request)), 400

    @app.get("/")
    async def index() -> str:
        return "index"

    response = await app.test_client().get("/", headers={"Host": "evil.example"})
    assert response.status_code == 400
    assert await response.get_data() == b"None"


async def test_after_this_request_in_a_copied_context_is_the_copys() -> None:
    # ctx._after_this: only an app context pushed in a view hands its functions to the
    # view's response; a copy (copy_current_request_context) keeps its own, as Flask's
    # and Quart's copies do: their response never sees it (mutant cx2 dropped the
    # `_tears_down == "app"` clause, and the copy's function changed the response).
    from microframework import after_this_request
    from microframework import copy_current_request_context

    app = Microframework(__name__)

    @app.get("/")
    async def index() -> str:
        @copy_current_request_context
        async def inner() -> None:
            @after_this_request
            async def mark(response: Any) -> Any:
                response.headers["X-Copy"] = "1"
                return response

        await inner()
        return "index"

    response = await app.test_client().get("/")
    assert response.status_code == 200
    assert "X-Copy" not in response.headers


async def test_an_expect_continue_body_begun_keeps_the_connection() -> None:
    # _responses.continue_unasked: a body the view began reading was asked for (the
    # server sent 100 Continue), so no Connection: close even if the view stopped
    # before its end (mutant cu2 dropped the body_reading() clause).
    app = Microframework(__name__)

    @app.post("/")
    async def index() -> str:
        async for _chunk in request.body:
            break
        return "ok"

    client = app.test_client()
    async with client.request(
        "/", method="POST", headers={"Expect": "100-continue"}
    ) as connection:
        await connection.send(b"first")
        response = await connection.as_response()
    assert response.status_code == 200
    assert "Connection" not in response.headers


async def test_an_unasked_expect_continue_body_over_http2_sends_no_connection() -> None:
    # _responses.continue_unasked: HTTP/2 has no Connection header (RFC 9113 8.2.2: a
    # connection-specific field makes the response malformed), and its streams end
    # on their own (mutant cu4 dropped the HTTP/1.x gate).
    app = Microframework(__name__)

    @app.post("/")
    async def index() -> str:
        return "ok"

    client = app.test_client()
    response = await client.post(
        "/",
        data=b"data",
        headers={"Expect": "100-continue"},
        http_version="2",
    )
    assert response.status_code == 200
    assert "Connection" not in response.headers
    # The same over HTTP/1.1 does close (the hunk works through the test client too).
    response = await client.post("/", data=b"data", headers={"Expect": "100-continue"})
    assert response.headers.get("Connection") == "close"


@pytest.mark.parametrize(
    ("method", "expect", "closes"),
    [
        ("POST", "100-Continue", True),  # the value is case-insensitive (mutant cu5)
        ("PATCH", "100-continue", True),  # PATCH uploads too (mutant cu7)
        ("PUT", "100-continue", True),
        ("POST", None, False),  # no Expect: the client sent its body (mutant cu6)
        ("DELETE", "100-continue", False),  # outside UPLOADING (mutant dp3: made)
    ],
)
@pytest.mark.parametrize("made", [False, True])
async def test_which_unread_bodies_close_the_connection(
    method: str, expect: str | None, closes: bool, made: bool
) -> None:
    # _responses.continue_unasked and UPLOADING: only an unread body the client holds
    # back for a 100 Continue never sent makes the response close the connection.
    app = Microframework(__name__)

    @app.route("/", methods=["POST", "PATCH", "PUT", "DELETE"])
    async def index() -> Any:
        return app.response_class("ok") if made else "ok"

    headers = {} if expect is None else {"Expect": expect}
    response = await app.test_client().open(
        "/", method=method, data=b"data", headers=headers
    )
    assert response.status_code == 200
    assert (response.headers.get("Connection") == "close") is closes


@pytest.mark.parametrize(
    ("expect", "closes"), [(b"100-continue", True), (b"x-100-continue", False)]
)
async def test_only_the_100_continue_expectation_closes(
    expect: bytes, closes: bool
) -> None:
    # _responses.continue_unasked: the value is matched whole, as uvicorn does (mutant
    # cu9 matched a substring). Through the harness: the test client hands a body it
    # does not hold back for a 100 at once, so the body is "finished" there.
    from asgi_harness import call
    from asgi_harness import http_scope
    from asgi_harness import Recorder

    app = Microframework(__name__)

    @app.post("/")
    async def index() -> str:
        return "ok"

    scope = http_scope(
        "/", "POST", headers=[(b"expect", expect), (b"content-length", b"4")]
    )
    recorder = await call(app, scope, Recorder(b"data"))
    assert recorder.status == 200
    assert (recorder.headers.get(b"connection") == b"close") is closes


async def test_a_scope_without_http_version_is_http_1_for_continue() -> None:
    # _responses.continue_unasked: a scope without "http_version" is HTTP/1.1, as
    # body_finished() takes it (mutant cu8 took it for HTTP/2: no close).
    from asgi_harness import call
    from asgi_harness import http_scope
    from asgi_harness import Recorder

    app = Microframework(__name__)

    @app.post("/")
    async def index() -> str:
        return "ok"

    scope = http_scope(
        "/",
        "POST",
        headers=[(b"expect", b"100-continue"), (b"content-length", b"4")],
    )
    del scope["http_version"]
    recorder = await call(app, scope, Recorder(b"data"))
    assert recorder.status == 200
    assert recorder.headers.get(b"connection") == b"close"


async def test_a_kept_string_is_compiled_again_once_an_extension_is_added() -> None:
    # templating.Environment.add_extension: jinja's adds to a dict, no attribute is
    # set, so the override clears the kept strings itself (mutants tp2/tp4: a string
    # rendered before kept its old compile, where Flask compiles per call).
    from jinja2.ext import Extension

    from microframework import render_template_string

    class Shout(Extension):
        def preprocess(
            self, source: str, name: str | None, filename: str | None = None
        ) -> str:
            return source.upper()

    app = Microframework(__name__)
    async with app.app_context():
        assert await render_template_string("hi") == "hi"
        app.jinja_env.add_extension(Shout)
        assert await render_template_string("hi") == "HI"


@pytest.mark.parametrize(
    "content_type", ["multipart/form-data", "multipart/form-data; boundary=b"]
)
async def test_an_empty_multipart_body_has_plain_files(content_type: str) -> None:
    # formparser.FormDataParser.parse: an empty multipart body (with or without a
    # boundary) is an empty form whose files are a plain (Immutable)MultiDict, not the not-multipart
    # kind whose debug hint would say "the body is 'multipart/form-data', not
    # 'multipart/form-data'" (mutant fp6 gave the boundary-less one _no_files).
    from werkzeug.datastructures import ImmutableMultiDict

    app = Microframework(__name__)

    @app.route("/", methods=["POST", "DELETE"])
    async def index() -> str:
        files = await request.files
        assert type(files) is ImmutableMultiDict
        return f"{len(await request.form)} {len(files)}"

    response = await app.test_client().delete(
        "/", headers={"Content-Type": content_type}
    )
    assert response.status_code == 200
    assert await response.get_data() == b"0 0"


@pytest.mark.parametrize(
    ("options", "why"),
    [
        (
            {"form": {"other": "x"}},
            "the body is &#39;application/x-www-form-urlencoded&#39;",
        ),
        (
            {"data": b"{}", "headers": {"Content-Type": "application/json"}},
            "the body is &#39;application/json&#39;",
        ),
        ({}, "the request has no form body"),
    ],
)
async def test_the_debug_hint_for_a_missing_file_names_the_body_sent(
    options: dict[str, Any], why: str
) -> None:
    # formparser._FilesOfAPlainBody._hint: the body's type when there was one, "no form
    # body" when none (mutant fn5 flipped the test; fn15 dropped the type).
    app = Microframework(__name__)
    app.debug = True

    @app.post("/")
    async def upload() -> str:
        return str((await request.files)["up"].filename)

    response = await app.test_client().post("/", **options)
    page = await response.get_data(as_text=True)  # the debug page (porting.md)
    assert why in page
    assert "the file&#39;s name alone" not in page  # no field "up" came as text


async def test_the_files_of_a_plain_body_pass_for_the_class_they_extend() -> None:
    # formparser._no_files: one class per MultiDict class, made once (mutant fn9 made
    # one per request), named and placed as the class it extends (mutant fn10 left it
    # in microframework.formparser).
    from werkzeug.datastructures import ImmutableMultiDict

    app = Microframework(__name__)
    seen: list[type] = []

    @app.post("/")
    async def index() -> str:
        seen.append(type(await request.files))
        return "ok"

    client = app.test_client()
    await client.post("/", form={"a": "1"})
    await client.post("/", data=b"x")
    assert seen[0] is seen[1]
    assert issubclass(seen[0], ImmutableMultiDict)
    assert (seen[0].__name__, seen[0].__module__) == (
        ImmutableMultiDict.__name__,
        ImmutableMultiDict.__module__,
    )


def test_the_descriptor_under_a_sent_file_finalizes_quietly(tmp_path: Any) -> None:
    # files._Raw: a cycle's collection may finalize the descriptor before its buffer;
    # it closes without a ResourceWarning. tests/test_files.py's cycle test kills the
    # plain FileIO (mutant fl1) only when the collector happens to take the raw first
    # (3 runs in 5): this one calls the finalizer directly.
    import warnings

    from microframework.files import _open_regular

    path = tmp_path / "f.bin"
    path.write_bytes(b"data")
    opened, _ = _open_regular(str(path))
    raw = opened.raw  # type: ignore[attr-defined]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        raw.__del__()
    assert raw.closed
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]
    opened.close()


async def test_a_file_response_whose_start_is_cancelled_closes_the_file(
    tmp_path: Any,
) -> None:
    # wrappers.response.Response.send: the except is BaseException, so a send
    # cancelled at http.response.start closes the file too (mutant rs5 caught
    # Exception: a CancelledError left it open until a collection).
    import asyncio
    import gc
    import os

    from asgi_harness import http_scope

    from microframework import send_file

    if not os.path.isdir("/proc/self/fd"):
        pytest.skip("lists descriptors")
    path = tmp_path / "f.bin"
    path.write_bytes(b"data" * 100)
    app = Microframework(__name__, static_folder=None)
    app.logger.disabled = True

    @app.get("/file")
    async def file() -> Any:
        return await send_file(path)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            raise asyncio.CancelledError

    def open_here() -> list[str]:
        found = []
        for fd in os.listdir("/proc/self/fd"):
            try:
                if os.readlink(f"/proc/self/fd/{fd}") == str(path):
                    found.append(fd)
            except OSError:
                pass
        return found

    gc.disable()
    try:
        with pytest.raises(asyncio.CancelledError):
            await app(http_scope("/file"), receive, send)
        assert not open_here()
    finally:
        gc.enable()


async def test_the_adapter_of_a_request_keeps_its_raw_query_as_latin_1() -> None:
    # app.create_url_adapter: query_args is the raw query string decoded as latin-1,
    # as WSGI's QUERY_STRING that Flask passes (mutant ap7 decoded UTF-8: U+FFFD).
    from asgi_harness import call
    from asgi_harness import http_scope

    app = Microframework(__name__)

    @app.get("/")
    async def index() -> str:
        adapter = current_app.create_url_adapter(request)
        assert adapter is not None
        return repr(adapter.query_args)

    recorder = await call(app, http_scope("/", query_string=b"q=\xe9&r=%C3%A9"))
    assert recorder.status == 200
    assert recorder.body == repr("q=\xe9&r=%C3%A9").encode()


async def test_a_handler_may_set_the_description_of_a_missing_file_error() -> None:
    # formparser._NoFileSent.description's setter keeps the value, as werkzeug's
    # BadRequestKeyError's does (mutant fn13 dropped it: an empty description).
    app = Microframework(__name__)

    @app.errorhandler(400)
    async def bad(error: Any) -> tuple[str, int]:
        error.description = "pick a file"
        return error.description, 400

    @app.post("/")
    async def upload() -> str:
        return str((await request.files)["up"].filename)

    response = await app.test_client().post("/", form={"up": "cat.png"})
    assert response.status_code == 400
    assert await response.get_data() == b"pick a file"


@pytest.mark.parametrize("status", [204, 304])
async def test_a_bodiless_response_whose_start_fails_raises_the_servers_error(
    status: int,
) -> None:
    # wrappers.response.Response.send: a response with no body object (a 204's data)
    # has nothing to close when send(start) fails: the server's error propagates
    # (mutant rs6 dropped `if body is not None`: AttributeError on None instead).
    from asgi_harness import http_scope

    app = Microframework(__name__)
    app.logger.disabled = True

    @app.get("/")
    async def index() -> tuple[str, int]:
        return "", status

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            raise OSError("the connection is gone")

    with pytest.raises(OSError, match="the connection is gone"):
        await app(http_scope("/"), receive, send)
