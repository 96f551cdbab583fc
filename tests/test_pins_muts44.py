"""Pins from mutation testing (helper muts44, session 36): the survivors among the
mutants of the lines session 36 added or changed.

Each test kills a mutant that survived the related test files; its first comment names
the code it pins and the mutant id.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from collections.abc import Iterator
from typing import Any

import pytest
from itsdangerous import URLSafeTimedSerializer

from microframework import g
from microframework import has_app_context
from microframework import has_request_context
from microframework import Microframework
from microframework import request
from microframework import stream_with_context
from microframework.sessions import SecureCookieSessionInterface


async def test_closing_an_abandoned_stream_with_context_leaves_no_context_behind() -> (
    None
):
    # helpers._async_with_context / _sync_with_context: the finally's reset (H4, H5).
    # The source's cleanup runs inside the request's context, and the caller's context
    # is as it was afterwards: no request left active where none was.
    app = Microframework(__name__)
    seen: list[str] = []

    async def async_body() -> AsyncIterator[str]:
        try:
            yield "a"
            yield "b"
        finally:
            seen.append(request.path + g.marker)

    def sync_body() -> Iterator[str]:
        try:
            yield "a"
            yield "b"
        finally:
            seen.append(request.path + g.marker)

    async with app.test_request_context("/stream"):
        g.marker = "!"
        wrapped_async = stream_with_context(async_body())
        wrapped_sync = stream_with_context(sync_body())
    assert not has_request_context()
    assert await anext(wrapped_async) == "a"
    await wrapped_async.aclose()
    assert not has_request_context() and not has_app_context()
    assert next(wrapped_sync) == "a"
    wrapped_sync.close()
    assert not has_request_context() and not has_app_context()
    assert seen == ["/stream!", "/stream!"]


def test_a_session_payload_is_compressed_only_when_two_bytes_shorter() -> None:
    # sessions._Serializer.dump_payload: `len(packed) < len(data) - 1` (S2, S4), as
    # itsdangerous decides: saving one byte leaves it plain, saving two compresses.
    app = Microframework(__name__)
    app.secret_key = "k"
    ours = SecureCookieSessionInterface().get_signing_serializer(app)
    assert ours is not None
    theirs = URLSafeTimedSerializer("k", serializer=ours.serializer)
    one_byte = {"a": "ababababababx"}  # zlib saves exactly one byte of its JSON
    two_bytes = {"a": "ababababababxxxx"}  # and exactly two of this one's
    assert not ours.dump_payload(one_byte).startswith(b".")
    assert ours.dump_payload(two_bytes).startswith(b".")
    for value in (one_byte, two_bytes):
        assert ours.dump_payload(value) == theirs.dump_payload(value)
        assert ours.loads(ours.dumps(value)) == value


async def test_the_form_parser_follows_the_request_classs_storage_class() -> None:
    # formparser.parser_for: `cls` in the key (F2). Two apps side by side, one of them
    # with a mutable form (Flask's documented parameter_storage_class override).
    from werkzeug.datastructures import ImmutableMultiDict
    from werkzeug.datastructures import MultiDict

    from microframework import Request

    class MutableFormRequest(Request):
        parameter_storage_class: type[MultiDict[str, Any]] = MultiDict

    def form_app(request_class: type[Request] | None) -> Microframework:
        app = Microframework(__name__)
        if request_class is not None:
            app.request_class = request_class

        @app.post("/")
        async def index() -> str:
            return type(await request.form).__name__

        return app

    plain = form_app(None).test_client()
    mutable = form_app(MutableFormRequest).test_client()
    for client, expected in ((plain, ImmutableMultiDict), (mutable, MultiDict)) * 2:
        response = await client.post("/", form={"a": "1"})
        assert await response.get_data(as_text=True) == expected.__name__


@pytest.mark.parametrize(
    ("server_name", "host"),
    [
        ("bücher.de", "api.xn--bcher-kva.de"),
        ("example.test:8000", "api.example.test:8000"),
    ],
)
async def test_the_client_follows_a_redirect_to_a_subdomain_of_its_server_name(
    server_name: str, host: str
) -> None:
    # testing.client._redirected: the SERVER_NAME in Punycode before the subdomain
    # check (T1; "bücher.de" never matched api.xn--bcher-kva.de), and
    # `server_name = _hostname(server_name)` (T7): the port is not part of the name a
    # subdomain's host ends with.
    from microframework import redirect
    from microframework import url_for

    app = Microframework(__name__, subdomain_matching=True)
    app.config["SERVER_NAME"] = server_name

    @app.get("/")
    async def index() -> Any:
        return redirect(url_for("api_root", _external=True))

    @app.get("/", subdomain="api")
    async def api_root() -> str:
        return request.host

    response = await app.test_client().get("/", follow_redirects=True)
    assert response.status_code == 200
    assert await response.get_data(as_text=True) == host


async def test_a_location_with_an_ip_literal_host_is_sent_encoded_not_refused() -> None:
    # _utils._AUTHORITY: "[" and "]" in the host pattern (N4): an IPv6 literal is a
    # valid host, not a refused one (a 500); as Flask 3.1.3 sends both.
    from microframework import redirect

    app = Microframework(__name__)

    @app.get("/redirect")
    async def to_ipv6() -> Any:
        return redirect("http://[::1]:8000/é")

    @app.get("/header")
    async def header() -> tuple[str, int, dict[str, str]]:
        return "", 201, {"Location": "http://[::1]:8000/a b"}

    client = app.test_client()
    response = await client.get("/redirect")
    assert response.status_code == 302
    assert response.headers["Location"] == "http://[::1]:8000/%C3%A9"
    response = await client.get("/header")
    assert response.status_code == 201
    assert response.headers["Location"] == "http://[::1]:8000/a%20b"


async def test_a_space_in_a_location_the_view_sets_is_encoded() -> None:
    # wrappers.response._NOT_URI: a space is not a URI character (N13); Flask 3.1.3
    # sends /a%20b.
    app = Microframework(__name__)

    @app.get("/")
    async def index() -> tuple[str, int, dict[str, str]]:
        return "", 201, {"Location": "/a b", "Content-Location": "/c d"}

    response = await app.test_client().get("/")
    assert response.headers["Location"] == "/a%20b"
    assert response.headers["Content-Location"] == "/c%20d"


async def test_redirects_response_object_keeps_brackets_as_given() -> None:
    # _utils.to_uri: `keep="[]"` by default, for redirect() (N7): the object holds
    # "/a[1]" as Flask 3.1.3's does; the header goes out as /a%5B1%5D.
    from microframework import redirect

    app = Microframework(__name__)

    @app.get("/")
    async def index() -> Any:
        response = redirect("/a[1]")
        assert response.headers["Location"] == "/a[1]"
        return response

    response = await app.test_client().get("/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/a%5B1%5D"


async def test_the_redirect_pages_link_keeps_a_tab_encoded() -> None:
    # helpers._redirect_page: DROPPED_BY_PARSERS before the page is written (N21). A
    # raw tab in the page's href is dropped by browsers: "/\t/evil.example" would be
    # the link //evil.example, another host.
    from microframework import redirect

    app = Microframework(__name__)

    @app.get("/")
    async def index() -> Any:
        return redirect("/\t/evil.example")

    response = await app.test_client().get("/")
    assert response.headers["Location"] == "/%09/evil.example"
    body = await response.get_data(as_text=True)
    assert 'href="/%09/evil.example"' in body
    assert "\t" not in body


def test_setting_templates_auto_reload_does_not_create_the_environment() -> None:
    # templating.templates_auto_reload setter: `if "jinja_env" in self.__dict__` (N20):
    # setting it before the first render only writes the config (templates.md: it
    # "updates an existing environment"), so jinja_options set afterwards still apply.
    app = Microframework(__name__)
    app.templates_auto_reload = True
    app.jinja_options = {**app.jinja_options, "line_statement_prefix": "%%"}
    assert app.jinja_env.line_statement_prefix == "%%"
    assert app.jinja_env.auto_reload is True
