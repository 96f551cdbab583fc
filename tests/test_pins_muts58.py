"""Pins from mutation testing (helper muts58, session 39): the survivors among the
mutants of ``middleware.py``, ``_unread.py``, ``debug.py``, ``_console.py`` and
``_accesslog.py``.

Each test kills a mutant that survived the related test files; its first comment names
the code it pins and the mutant id.
"""

from __future__ import annotations

from typing import Any

import pytest

from microframework import Microframework
from microframework.debug import render_debug_page
from microframework.middleware import ProxyFixMiddleware
from microframework.wrappers.request import Request


async def _noop(scope: dict[str, Any], receive: Any, send: Any) -> None:
    pass


def _fixed(headers: list[tuple[bytes, bytes]], **trusted: int) -> dict[str, Any]:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/",
        "raw_path": b"/",
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
    }
    return ProxyFixMiddleware(_noop, **trusted).fix_scope(scope)


def _host(scope: dict[str, Any]) -> list[bytes]:
    return [value for name, value in scope["headers"] if name == b"host"]


def test_a_forwarded_port_replaces_the_port_the_host_header_already_has() -> None:
    # middleware._split_host: `or ":" not in name` (M36). nginx's `Host $http_host`
    # keeps the client's port: a forwarded port replaces it, not appended to it in
    # brackets ("[example.com:8000]:443", a host no request accepts).
    result = _fixed(
        [(b"host", b"example.com:8000"), (b"x-forwarded-port", b"443")], x_port=1
    )
    assert _host(result) == [b"example.com:443"]
    assert result["server"] == ("example.com", 443)
    result = _fixed([(b"x-forwarded-host", b"example.com:8443")], x_host=1)
    assert result["server"] == ("example.com", 8443)


def test_a_forwarded_host_with_an_unclosed_bracket_has_no_port() -> None:
    # middleware._split_host: `name.startswith("[") and name.endswith("]")` (M35): an
    # IPv6 literal counts only in whole brackets; "[::1:80" is no host and port.
    result = _fixed([(b"x-forwarded-host", b"[::1:80")], x_host=1)
    assert result["server"] == ("::1:80", 80)


def test_a_forwarded_port_of_six_digits_is_ignored() -> None:
    # middleware._port_number: at most five digits (M39), even with leading zeros.
    result = _fixed(
        [(b"host", b"example.com"), (b"x-forwarded-port", b"000443")], x_port=1
    )
    assert _host(result) == [b"example.com"]
    assert result["server"] == ("127.0.0.1", 8000)


def test_a_forwarded_ipv6_client_is_taken_as_the_proxy_wrote_it() -> None:
    # middleware.ProxyFixMiddleware.fix_scope: the client is the trusted value as
    # written, port 0 (M54), bracketed or not, as werkzeug's ProxyFix takes it.
    for value in (b"2001:db8::1", b"[2001:db8::1]"):
        result = _fixed([(b"x-forwarded-for", value)], x_for=1)
        assert result["client"] == (value.decode(), 0)


async def test_the_debug_page_escapes_the_request_path() -> None:
    # debug.render_debug_page: escape(request.root_path + request.path) (D06). The path
    # is percent-decoded: "/%3Cscript%3E" would put a script on the page.
    app = Microframework(__name__)
    app.debug = True

    @app.route("/<path:rest>")
    async def broken(rest: str) -> str:
        raise RuntimeError("x")

    response = await app.test_client().get("/%3Cscript%3Ealert(1)%3C/script%3E")
    assert response.status_code == 500
    html = await response.get_data(as_text=True)
    assert "<p>GET /&lt;script&gt;alert(1)&lt;/script&gt;</p>" in html
    assert "<script>" not in html


async def test_the_debug_page_names_an_exception_without_a_message_bare() -> None:
    # debug._summary: no ": " after the name of an exception without a message (D15),
    # as Python's traceback prints it.
    html = await render_debug_page(KeyboardInterrupt()).get_data(as_text=True)
    assert "<strong>KeyboardInterrupt</strong>" in html
    assert "<title>KeyboardInterrupt // microframework debug</title>" in html


async def test_the_debug_page_escapes_a_frames_file_name() -> None:
    # debug._render_frames: escape(filename) (D21). Code compiled from a string names
    # its own file ("<string>", "<frozen importlib._bootstrap>", a template's name).
    code = compile("raise ValueError('x')", "<img src=x onerror=alert(1)>", "exec")
    try:
        exec(code, {})
    except ValueError as error:
        html = await render_debug_page(error).get_data(as_text=True)
    assert "&lt;img src=x onerror=alert(1)&gt;, line 1" in html
    assert "<img" not in html
    # _render_source: only lines linecache has (D37): no file, no empty source lines.
    assert "alert(1)&gt;, line 1, in &lt;module&gt;</div></div>" in html


async def test_the_debug_page_escapes_a_frames_function_name() -> None:
    # debug._render_frames: escape(frame.name) (D22). A module's code runs as
    # "<module>", a lambda as "<lambda>": raw, each would open an unknown tag.
    code = compile("(lambda: 1 / 0)()", "broken.py", "exec")
    try:
        exec(code, {})
    except ZeroDivisionError as error:
        html = await render_debug_page(error).get_data(as_text=True)
    assert "broken.py, line 1, in &lt;module&gt;" in html
    assert "broken.py, line 1, in &lt;lambda&gt;" in html
    assert "<module>" not in html and "<lambda>" not in html


async def test_the_debug_page_escapes_a_header_name() -> None:
    # debug._render_headers: escape(name) (D28). "&" is a token character, so a valid
    # header name may hold one: "&lt" raw would show as "<".
    async def no_body() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    scope = _fixed([(b"host", b"localhost"), (b"x-a&lt", b"1")])
    html = await render_debug_page(RuntimeError("x"), Request(scope, no_body)).get_data(
        as_text=True
    )
    assert "<tr><td>X-A&amp;Lt</td><td>1</td></tr>" in html


async def test_the_debug_pages_middleware_lets_a_cancellation_through() -> None:
    # debug.DebugPages.__call__: `except Exception` (D31). The server cancels the app's
    # task (the client left, a shutdown): that is no error to answer with a page, and
    # swallowing it would leave the task running as if nothing happened.
    import asyncio

    from microframework.debug import DebugPages

    app = Microframework(__name__)
    app.debug = True
    waiting = asyncio.Event()

    @app.route("/")
    async def index() -> str:
        waiting.set()
        await asyncio.Event().wait()
        return "never"

    async def receive() -> dict[str, Any]:
        await asyncio.Event().wait()
        return {}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = _fixed([(b"host", b"localhost")])
    async with asyncio.timeout(10):
        task = asyncio.create_task(DebugPages(app)(scope, receive, send))
        await waiting.wait()
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
    assert task.cancelled()
    assert sent == []


def test_a_cancellation_raised_in_the_shell_shows_its_traceback_and_goes_on() -> None:
    # _console.AsyncConsole.runcode: `except BaseException` (C03). CancelledError is no
    # Exception (awaiting a cancelled task raises it): as in flask shell, whose console
    # catches everything but SystemExit, the shell shows it and reads the next line.
    from microframework.cli import cli
    from microframework.testing.cli import MicroframeworkCliRunner

    result = MicroframeworkCliRunner(Microframework("cancelled")).invoke(
        cli,
        ["shell"],
        input="import asyncio\nraise asyncio.CancelledError()\nprint('still' + ' here')\n",
    )
    assert result.exit_code == 0
    assert "CancelledError" in result.output
    assert "still here" in result.output


def test_in_a_terminal_without_sites_hook_tab_still_completes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # _console.enable_completion: readline.parse_and_bind("tab: complete") (C09).
    # Without site's hook (python -S, an embedding), nothing else binds the Tab key.
    import sys

    readline = pytest.importorskip("readline")
    from microframework._console import enable_completion

    bound: list[str] = []
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    monkeypatch.delattr(sys, "__interactivehook__", raising=False)
    monkeypatch.setattr(readline, "set_completer", lambda f: None)
    monkeypatch.setattr(readline, "parse_and_bind", bound.append)
    enable_completion({"app": None})
    assert bound == ["tab: complete"]
