"""A client's path reaches log lines escaped: CR, ESC and U+2028 can't forge a line.

Django's CVE-2025-48432: a path logged as sent can start a fake record or drive the
terminal. Routing lets these through (only LF is refused by the converters).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest
from asgi_harness import call
from asgi_harness import http_scope
from asgi_harness import Recorder
from asgi_harness import websocket_scope

from microframework import Microframework
from microframework import Response
from microframework.debug import DebugPages

PATH = "/x\r[CRITICAL] forged \x1b[31mred\u2028y"
SHOWN = "/x\\r[CRITICAL] forged \\x1b[31mred\\u2028y"


def _app() -> Microframework:
    app = Microframework(__name__)

    @app.route("/<path:rest>")
    async def boom(rest: str) -> str:
        raise ValueError("boom")

    @app.websocket("/<path:rest>")
    async def ws(rest: str) -> None:
        raise ValueError("boom")

    return app


def _logged(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(record.getMessage() for record in caplog.records)


async def test_an_unhandled_errors_log_line_escapes_the_path(
    caplog: pytest.LogCaptureFixture,
) -> None:
    rec = await call(_app(), http_scope(PATH))
    assert rec.status == 500
    assert f"Exception on request GET {SHOWN}" in _logged(caplog)
    assert "\r" not in _logged(caplog) and "\x1b" not in _logged(caplog)


async def test_a_websocket_errors_log_line_escapes_the_path(
    caplog: pytest.LogCaptureFixture,
) -> None:
    rec = Recorder()
    rec.inbox = asyncio.Queue()
    rec.inbox.put_nowait({"type": "websocket.connect"})
    await call(_app(), websocket_scope(PATH), rec)
    assert f"Exception on websocket {SHOWN}" in _logged(caplog)


async def test_the_debug_pages_log_line_escapes_the_path(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = _app()
    app.config.update(TESTING=True, DEBUG=True)  # the error propagates to DebugPages
    rec = await call(DebugPages(app), http_scope(PATH))
    assert rec.status == 500
    assert f"Exception on request GET {SHOWN}" in _logged(caplog)
    assert "\r" not in _logged(caplog)


async def test_a_cut_streams_warning_escapes_the_method_and_path(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = Microframework(__name__)

    @app.before_request
    async def stream() -> Response:  # runs for any method, matched or not
        async def body() -> AsyncIterator[bytes]:
            yield b"first"
            await asyncio.Event().wait()

        response = Response(body())
        response.timeout = 0.01
        return response

    scope = http_scope(PATH, method="GET\x1b[2J", http_version="2")
    with caplog.at_level(logging.WARNING):
        async with asyncio.timeout(5):
            await call(app, scope)
    logged = _logged(caplog)
    assert f"Stream for GET\\x1b[2J {SHOWN} idle past its timeout" in logged
    assert "\x1b" not in logged and "\r" not in logged


async def test_the_method_is_escaped_too(caplog: pytest.LogCaptureFixture) -> None:
    # h2 doesn't check that :method is a token: hypercorn passes ESC on to the scope.
    app = _app()

    @app.before_request
    async def failing() -> None:  # runs for any method, matched or not (as Flask's)
        raise RuntimeError("down")

    scope = http_scope("/x", method="GET\x1b[2J", http_version="2")
    rec = await call(app, scope)
    assert rec.status == 500
    assert "Exception on request GET\\x1b[2J /x" in _logged(caplog)


def test_a_printable_path_is_logged_as_it_is() -> None:
    from microframework._utils import printable

    assert printable("/café/a b") == "/café/a b"


def test_the_default_handler_writes_to_stderr_as_it_is_now() -> None:
    # As Flask's wsgi_errors_stream: the stream sys.stderr was when the logger was
    # first used (inside a CliRunner, say, since closed) swallowed every later
    # record, and capsys or redirect_stderr never saw them (logging, session 31).
    import contextlib
    import io

    from microframework.logging import default_handler

    record = logging.LogRecord("app", logging.ERROR, __file__, 1, "boom", None, None)
    with contextlib.redirect_stderr(io.StringIO()) as captured:
        default_handler.handle(record)
    assert "ERROR in test_log_lines: boom" in captured.getvalue()


async def test_log_exception_outside_a_request_says_only_exception(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # "Exception on request" named a request there was not (Quart: "Exception").
    import sys

    app = Microframework(__name__)
    with caplog.at_level(logging.ERROR, app.logger.name):
        try:
            raise KeyError("k")
        except KeyError:
            app.log_exception(sys.exc_info())
    assert [r.getMessage() for r in caplog.records] == ["Exception"]


def test_the_access_log_of_run_escapes_what_the_client_sent() -> None:
    # hypercorn writes the decoded path and the headers as sent: a CR LF forged a
    # log line and an ESC reached the terminal (logging, session 31).
    from microframework._accesslog import logged_config

    config = logged_config()
    logger = config.logger_class(config)
    scope = {
        "type": "http",
        "http_version": "1.1",
        "scheme": "http",
        "method": "GET",
        "path": "/x\r\n[forged] GET /admin",
        "query_string": b"",
        "client": ("127.0.0.1", 1),
        "headers": [(b"user-agent", b"curl\x1b[31m")],
    }
    atoms = logger.atoms(scope, {"status": 200, "headers": []}, 0.1)
    assert "\r" not in atoms["r"] and "\n" not in atoms["r"]
    assert "\x1b" not in atoms["a"]
    assert (config.accesslog, config.errorlog) == ("-", "-")


@pytest.mark.parametrize("root_handler", ["catcher", "none", "null"])
async def test_run_prints_hypercorns_own_records_once(
    capsys: pytest.CaptureFixture[str], root_handler: str
) -> None:
    # With Flask's dictConfig recipe (a root handler), `microframework run` printed
    # "Running on" and every "Error in ASGI Framework" twice: hypercorn's handler,
    # then the root's (logging 3, session 31). As werkzeug's records under flask run,
    # a handler above takes them; without one, hypercorn's own prints them.
    from microframework._accesslog import logged_config

    root = logging.getLogger()
    seen: list[str] = []
    catcher = logging.Handler()
    catcher.emit = lambda record: seen.append(record.getMessage())  # type: ignore[method-assign]
    kept = root.handlers[:]  # pytest's own capture among them
    # A NullHandler prints nothing: hypercorn's own handler still does (review12).
    root.handlers = {"catcher": [catcher], "none": [], "null": [logging.NullHandler()]}[
        root_handler
    ]
    config = logged_config()
    try:
        logger = config.logger_class(config)
        await logger.warning("Running on http://127.0.0.1:1")
    finally:
        root.handlers = kept
    printed = capsys.readouterr().err.count("Running on http://127.0.0.1:1")
    assert (len(seen), printed) == ((1, 0) if root_handler == "catcher" else (0, 1))


def test_the_default_handlers_stream_is_standard_error_to_its_readers() -> None:
    # Flask's stream forwards every attribute: isatty() decides colours in log
    # setups; a write-only stderr (a GUI's) must not make each record an error.
    import contextlib
    import sys

    from microframework.logging import default_handler

    assert default_handler.stream.isatty() == sys.stderr.isatty()

    class WriteOnly:
        text = ""

        def write(self, text: str) -> int:
            self.text += text
            return len(text)

    record = logging.LogRecord("app", logging.ERROR, __file__, 1, "boom", None, None)
    with contextlib.redirect_stderr(WriteOnly()) as only:  # type: ignore[type-var]
        default_handler.handle(record)
    assert only.text.endswith("boom\n")
