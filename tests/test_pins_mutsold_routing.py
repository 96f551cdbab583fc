"""Pins from mutation testing of routing.py (helper mutsold, session 29).

Each test kills a mutant that survived the related test files; its first comment names
the code it pins. Flask 3.1.3 and Quart 0.22 answer the same (see cmp_routing.py).
"""

from __future__ import annotations

from microframework import Microframework


async def test_host_matching_rule_without_host_is_not_on_the_fast_path() -> None:
    # routing.compile_static_routes: `if url_map.host_matching ...: return {}`. Under host
    # matching a rule without host= matches only an empty host: /nohost on a.test is 404.
    app = Microframework(__name__, host_matching=True, static_host="static.test")

    @app.route("/nohost")
    async def nohost() -> str:
        return "nohost"

    @app.route("/h", host="a.test")
    async def h() -> str:
        return "h"

    client = app.test_client()
    assert (await client.get("/nohost", headers={"Host": "a.test"})).status_code == 404
    response = await client.get("/h", headers={"Host": "a.test"})
    assert response.status_code == 200


async def test_a_host_that_merely_ends_with_server_name_is_not_a_subdomain() -> None:
    # routing._subdomain_of: the suffix is "." + SERVER_NAME, so evilexample.test is a
    # foreign host (404), not the subdomain "evi" of example.test.
    app = Microframework(__name__, subdomain_matching=True)
    app.config["SERVER_NAME"] = "example.test"

    @app.route("/", subdomain="<sub>")
    async def tenant(sub: str) -> str:
        return sub

    client = app.test_client()
    response = await client.get("/", headers={"Host": "a.example.test"})
    assert await response.get_data(as_text=True) == "a"
    response = await client.get("/", headers={"Host": "evilexample.test"})
    assert response.status_code == 404


async def test_adapters_are_cached_per_root_path() -> None:
    # routing.AdapterCache.get: the key holds root_path, so an adapter bound for one
    # mount point never builds URLs for another.
    from asgi_harness import call
    from asgi_harness import http_scope

    from microframework import url_for

    app = Microframework(__name__)

    @app.get("/where")
    async def where() -> str:
        return url_for("where")

    async with app.test_app():
        first = await call(app, http_scope("/a/where", root_path="/a"))
        second = await call(app, http_scope("/where"))
        third = await call(app, http_scope("/b/where", root_path="/b"))
    assert (first.body, second.body, third.body) == (
        b"/a/where",
        b"/where",
        b"/b/where",
    )


async def test_host_matching_builds_urls_under_the_root_path() -> None:
    # routing.AdapterCache._bind: under host_matching the adapter is bound with the
    # request's root path too.
    from asgi_harness import call
    from asgi_harness import http_scope

    from microframework import url_for

    app = Microframework(__name__, host_matching=True, static_host="static.test")

    @app.get("/where", host="localhost")
    async def where() -> str:
        return url_for("where")

    async with app.test_app():
        rec = await call(app, http_scope("/pfx/where", root_path="/pfx"))
    assert rec.status == 200
    assert rec.body == b"/pfx/where"
