"""A Host in brackets that is no IPv6 address ("[a:b]"), or with Punycode that doesn't
decode ("xn--zz"), is an invalid host (request.host == ""), not a 500."""

from __future__ import annotations

from typing import Any

import pytest
from asgi_harness import call
from asgi_harness import http_scope

from microframework import Microframework
from microframework import redirect
from microframework import request
from microframework import url_for
from microframework.middleware import ProxyFixMiddleware


def _app() -> Microframework:
    app = Microframework(__name__)

    @app.get("/items/")
    async def items() -> dict[str, Any]:
        return {"url": request.url, "host": request.host}

    @app.get("/login")
    async def login() -> Any:
        return redirect(url_for("items", _external=True))

    return app


def _scope(path: str, *headers: tuple[bytes, bytes]) -> dict[str, Any]:
    scope = http_scope(path)
    scope["headers"] = list(headers)  # the raw Host a server passes on
    return scope


@pytest.mark.parametrize(
    "host", [b"[a:b]", b"[1:2]", b"[a:b]:8080", b"[1:2:3:4:5:6:7:8:9]"]
)
@pytest.mark.parametrize("path", ["/items/", "/items", "/login"])
async def test_a_bracketed_host_that_is_no_ipv6_address_is_invalid(
    host: bytes, path: str
) -> None:
    # werkzeug's host check lets "[hex:hex]" through; urlsplit refuses it, so
    # request.url, url_for(_external=True) and the strict-slash redirect were a 500
    # (uvicorn and hypercorn pass `Host: [a:b]` on). As any invalid Host: "".
    recorder = await call(_app(), _scope(path, (b"host", host)))
    assert recorder.status in (200, 302, 308)
    if recorder.status == 200:
        assert recorder.body == b'{"host":"","url":"http:///items/"}\n'
    else:
        assert recorder.headers[b"location"] == b"http:///items/"


@pytest.mark.parametrize("host", [b"xn--zz", b"xn--a:8080", b"a.xn--"])
async def test_a_host_with_punycode_that_does_not_decode_is_invalid(
    host: bytes,
) -> None:
    # werkzeug's request.url decodes Punycode and raised UnicodeError (as in Flask).
    recorder = await call(_app(), _scope("/items/", (b"host", host)))
    assert recorder.status == 200
    assert recorder.body == b'{"host":"","url":"http:///items/"}\n'


async def test_a_punycode_host_that_decodes_still_works() -> None:
    recorder = await call(_app(), _scope("/items/", (b"host", b"xn--80ak6aa92e.com")))
    assert recorder.status == 200
    assert b'"host":"xn--80ak6aa92e.com"' in recorder.body


async def test_a_real_ipv6_literal_still_works() -> None:
    recorder = await call(_app(), _scope("/items", (b"host", b"[::1]:8080")))
    assert recorder.status == 308
    assert recorder.headers[b"location"] == b"http://[::1]:8080/items/"


async def test_proxy_fix_port_on_a_host_with_a_colon_is_no_500() -> None:
    # ProxyFixMiddleware(x_port=1) brackets a host with a colon as a bare IPv6
    # address: `Host: a:b` with `X-Forwarded-Port: 443` became "[a:b]:443".
    app = _app()
    app.asgi_app = ProxyFixMiddleware(app.asgi_app, x_port=1)  # type: ignore[method-assign]
    for path in ("/items/", "/items", "/login"):
        scope = _scope(path, (b"host", b"a:b"), (b"x-forwarded-port", b"443"))
        recorder = await call(app, scope)
        assert recorder.status in (200, 302, 308)
