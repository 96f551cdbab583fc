"""``debug.py``: the debug error page, an unhandled exception rendered as HTML, and the
development server's middleware that shows it for errors that propagate.

Rule: the page shows source, file paths and headers, so only debug mode renders it (the
caller checks ``app.debug``). It only reads, never runs code, and escapes all it shows.
"""

from __future__ import annotations

import linecache
import os
import sysconfig
import traceback
from collections.abc import Iterator
from collections.abc import MutableMapping
from typing import Any
from typing import TYPE_CHECKING

from markupsafe import escape

from ._utils import printable
from .wrappers.response import Response

if TYPE_CHECKING:
    from .app import Microframework
    from .typing import Receive
    from .typing import Scope
    from .typing import Send
    from .wrappers.request import Request

#: Lines of source shown on each side of a frame's current line.
CONTEXT_LINES = 2
# Credentials have no place on a page that may end up in a screenshot or a bug report:
# any header whose name says it holds one (Authorization, Cookie, X-Api-Key, ...).
_SECRET_IN_NAME = (
    "auth", "cookie", "key", "token", "secret", "session", "password", "signature",
    "jwt", "assertion", "oidc", "principal",
)  # fmt: skip
_DIRECT_CAUSE = "The above exception was the direct cause of the following exception:"
_DURING_HANDLING = "During handling of the above exception, another exception occurred:"
# Frames from the standard library and installed packages are dimmed on the page.
_LIBRARY_KEYS = ("stdlib", "platstdlib", "purelib", "platlib")
_LIBRARY_PATHS = tuple(
    {os.path.realpath(sysconfig.get_path(key)) + os.sep for key in _LIBRARY_KEYS}
)

_STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; }
h1 { font-size: 1.4em; color: #a00; margin-bottom: .2em; }
h2 { font-size: 1.1em; margin-top: 2em; }
.frame { border: 1px solid #ddd; border-radius: 4px; margin: .6em 0; }
.frame.library { opacity: .6; }
.where { background: #f4f4f4; padding: .3em .6em; font-family: monospace; }
pre { margin: 0; padding: .3em .6em; overflow-x: auto; }
.current { background: #fee; font-weight: bold; }
.chain { font-style: italic; margin: 1.5em 0 .5em; }
table { border-collapse: collapse; font-family: monospace; }
td { padding: .1em .8em .1em 0; vertical-align: top; }
"""


def render_debug_page(
    exc: BaseException,
    request: Request | None = None,
    *,
    response_class: type[Response] = Response,
) -> Response:
    """A 500 response showing *exc*'s traceback (with its causes) and the request."""
    title = escape(_summary(exc))
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{title} // microframework"
        f" debug</title><style>{_STYLE}</style></head><body><h1>{title}</h1>"
    ]
    if request is not None:
        parts.append(
            f"<p>{escape(request.method)} {escape(request.root_path + request.path)}</p>"
        )
    parts.append("<h2>Traceback <small>(most recent call last)</small></h2>")
    for item, note in _chain(exc):
        if note:
            parts.append(f"<p class='chain'>{escape(note)}</p>")
        parts.extend(_render_frames(item))
        parts.append(f"<p><strong>{escape(_summary(item))}</strong></p>")
        parts.extend(f"<pre class='note'>{escape(text)}</pre>" for text in _notes(item))
    if request is not None:
        parts.append(_render_headers(request))
    parts.append(
        "<p><small>This page is shown because the app is in debug mode."
        " Never run with debug mode on in production.</small></p></body></html>"
    )
    # As bytes: a message may hold a lone surrogate (a file name from os.fsdecode).
    page = "".join(parts).encode("utf-8", "backslashreplace")
    response = response_class(page, status=500, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    return response


def _summary(exc: BaseException) -> str:
    name = type(exc).__qualname__
    module = type(exc).__module__
    if module not in ("builtins", "__main__"):
        name = f"{module}.{name}"
    message = _text(exc, "exception")
    return f"{name}: {message}" if message else name


def _notes(exc: BaseException) -> list[str]:
    """The notes added to *exc* (``add_note``): Python prints them after it."""
    notes = getattr(exc, "__notes__", None)
    if not isinstance(notes, (list, tuple)):
        return []
    return [_text(note, "note") for note in notes]


def _text(thing: object, what: str) -> str:
    try:
        return str(thing)
    except Exception:  # as Python: a broken __str__ hides no error, and no other note
        return f"<{what} str() failed>"


def _chain(exc: BaseException) -> list[tuple[BaseException, str]]:
    """The exception and its causes, oldest first, each with the note Python prints before it."""
    links: list[tuple[BaseException, str]] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        note, cause = "", None
        if current.__cause__ is not None:
            note, cause = _DIRECT_CAUSE, current.__cause__
        elif current.__context__ is not None and not current.__suppress_context__:
            note, cause = _DURING_HANDLING, current.__context__
        links.append((current, note))
        current = cause
    return links[::-1]


def _render_frames(exc: BaseException) -> Iterator[str]:
    for frame in traceback.extract_tb(exc.__traceback__):
        filename = frame.filename
        library = os.path.realpath(filename).startswith(_LIBRARY_PATHS)
        css = "frame library" if library else "frame"
        yield (
            f"<div class='{css}'><div class='where'>{escape(filename)}, line"
            f" {frame.lineno}, in {escape(frame.name)}</div>"
        )
        yield from _render_source(filename, frame.lineno)
        yield "</div>"


def _render_source(filename: str, lineno: int | None) -> Iterator[str]:
    if lineno is None:
        return
    for number in range(max(1, lineno - CONTEXT_LINES), lineno + CONTEXT_LINES + 1):
        if line := linecache.getline(filename, number):
            css = " class='current'" if number == lineno else ""
            yield f"<pre{css}>{number:>5}  {escape(line.rstrip())}</pre>"


def _render_headers(request: Request) -> str:
    rows = [
        f"<tr><td>{escape(name)}</td><td>"
        f"{'(hidden)' if _hidden(name.lower()) else escape(value)}</td></tr>"
        for name, value in request.headers.items()
    ]
    return f"<h2>Request headers</h2><table>{''.join(rows)}</table>"


def _hidden(name: str) -> bool:
    return any(part in name for part in _SECRET_IN_NAME)


class DebugPages:
    """ASGI middleware of the development server in debug mode, as werkzeug's debugger
    is Flask's: an error that propagates out of an HTTP request (``TESTING`` or
    ``PROPAGATE_EXCEPTIONS`` on) before its response started gets the debug page,
    not the server's bare 500."""

    def __init__(self, app: Microframework) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Call the app; answer an error that escapes it before any response."""
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = False

        async def sending(message: MutableMapping[str, Any]) -> None:
            nonlocal started
            started = True
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception as error:
            if started:
                raise
            app = self.app
            request = app.request_class(scope, receive, app)
            where = f"{printable(request.method)} {printable(request.path)}"
            app.logger.error("Exception on request %s", where, exc_info=error)
            page = render_debug_page(error, request, response_class=app.response_class)
            body = b"" if scope.get("method") == "HEAD" else await page.get_data()
            headers = page.asgi_headers()
            await send(
                {"type": "http.response.start", "status": 500, "headers": headers}
            )
            await send({"type": "http.response.body", "body": body})
