"""User-facing helpers that work through the current app (``url_for``, ``abort``, ...).

Rule: each reads the active context once and delegates to the app; none holds state.
It also re-exports the helpers Quart's and Flask's ``helpers`` modules hold, for ports.
"""

from __future__ import annotations

import functools
import os
from collections.abc import AsyncGenerator
from collections.abc import AsyncIterator
from collections.abc import Callable
from collections.abc import Generator
from collections.abc import Iterable
from collections.abc import Iterator
from typing import Any
from typing import NoReturn
from typing import overload
from typing import ParamSpec
from typing import TYPE_CHECKING
from typing import TypeVar

from markupsafe import escape
from werkzeug.datastructures import Headers
from werkzeug.exceptions import abort as _werkzeug_abort
from werkzeug.exceptions import Aborter

from ._utils import DROPPED_BY_PARSERS
from ._utils import flag
from ._utils import get_root_path as get_root_path
from ._utils import percent_encoded
from ._utils import remember
from ._utils import to_uri
from .files import safe_join as safe_join
from .files import send_file as send_file
from .files import send_from_directory as send_from_directory
from .flashing import flash as flash
from .flashing import get_flashed_messages as get_flashed_messages
from .globals import _cv_app
from .wrappers.response import encode_headers
from .wrappers.response import Response as _Response

if TYPE_CHECKING:
    from werkzeug.wrappers import Response as WerkzeugResponse

    from .app import Microframework
    from .ctx import AppContext
    from .wrappers.response import Response


#: ``--debug``/``--no-debug`` set this; apps read it when created, workers when loaded.
DEBUG_ENV = "MICROFRAMEWORK_DEBUG"
#: Flask's ``FLASK_SKIP_DOTENV``: for runners that load the ``.env`` files themselves.
SKIP_DOTENV_ENV = "MICROFRAMEWORK_SKIP_DOTENV"


def get_debug_flag() -> bool:
    """True if ``MICROFRAMEWORK_DEBUG`` is set to something other than ``0``/``false``/``no``."""
    return flag(os.environ.get(DEBUG_ENV, ""))


def get_load_dotenv(default: bool = True) -> bool:
    """Whether the CLI loads ``.env`` files: *default* unless ``MICROFRAMEWORK_SKIP_DOTENV`` is set."""
    skip = os.environ.get(SKIP_DOTENV_ENV, "").strip().lower()
    return default if not skip else skip in ("0", "false", "no")


def url_for(
    endpoint: str,
    *,
    _anchor: str | None = None,
    _method: str | None = None,
    _scheme: str | None = None,
    _external: bool | None = None,
    **values: Any,
) -> str:
    """Build the URL of *endpoint* with *values*.

    Relative inside a request unless ``_external``; outside one it needs ``SERVER_NAME``
    and is absolute. ``.name`` means the current blueprint's endpoint."""
    ctx = _cv_app.get(None)
    if ctx is None:
        raise RuntimeError(
            "Attempted to generate a URL without the application context being pushed."
        )
    return ctx.app.url_for(
        endpoint,
        _anchor=_anchor,
        _method=_method,
        _scheme=_scheme,
        _external=_external,
        **values,
    )


def abort(
    code: int | Response | WerkzeugResponse, *args: Any, **kwargs: Any
) -> NoReturn:
    """Raise the ``HTTPException`` for *code*, or one carrying the given response."""
    ctx = _cv_app.get(None)
    if ctx is not None:
        aborter = ctx.app.aborter
        if aborter.__class__ is Aborter and code.__class__ is int:
            exception = aborter.mapping.get(code)
            if exception is not None:  # as Aborter.__call__, without its import
                raise exception(*args, **kwargs)
        aborter(code, *args, **kwargs)
    _werkzeug_abort(code, *args, **kwargs)


def redirect(
    location: str, code: int = 302, Response: type[Response] | None = None
) -> Response:
    """A redirect response to *location* (302 by default, as in Quart), made by
    ``current_app.redirect`` when the app overrides it."""
    if Response is None:
        ctx = _cv_app.get(None)
        if ctx is None:
            Response = _Response
        else:
            app = ctx.app
            # Overridden in a subclass or set on the app (an extension's init_app).
            if getattr(app.redirect, "__func__", None) is not app_redirect:
                return app.redirect(location, code)
            Response = app.response_class
    page = _REDIRECTS.get(location)
    if page is None:
        page = remember(_REDIRECTS, location, _redirect_page(location), len(location))
    response = Response(page[0], code, mimetype="text/html")
    if isinstance(response, _Response) and response.headers.__class__ is Headers:
        # Checked when built: append it without werkzeug validating it again.
        response.headers._list.append(("Location", page[1]))
    else:
        response.headers["Location"] = page[1]
    return response


def app_redirect(app: Microframework, location: str, code: int = 302) -> Response:
    """``app.redirect``, which :func:`redirect` calls when an app overrides it."""
    return redirect(location, code, app.response_class)


# Page and Location per target, built once (escaping and iri_to_uri cost ~3 us).
_REDIRECTS: dict[str, tuple[bytes, str]] = {}


def _redirect_page(location: str) -> tuple[bytes, str]:
    # Percent-encoded, they stay part of the target: never a header break, never a 500.
    location = DROPPED_BY_PARSERS.sub(percent_encoded, location)
    html_location = escape(location)
    body = (
        "<!doctype html>\n<html lang=en>\n<title>Redirecting...</title>\n"
        "<h1>Redirecting...</h1>\n<p>You should be redirected automatically to the"
        f' target URL: <a href="{html_location}">{html_location}</a>. If not, click'
        " the link.\n"
    )
    return body.encode(), to_uri(location)


async def make_response(*args: Any) -> Response:
    """Make a response from view-style return values, to add headers before returning."""
    ctx = _cv_app.get(None)
    if ctx is None:
        raise RuntimeError("make_response needs an application context")
    if not args:
        return ctx.app.response_class()
    if len(args) == 1:
        return await ctx.app.make_response(args[0])
    return await ctx.app.make_response(args)


_T = TypeVar("_T")
_P = ParamSpec("_P")


@overload
def stream_with_context(
    generator_or_function: AsyncIterator[_T],
) -> AsyncGenerator[_T, None]: ...
@overload
def stream_with_context(
    generator_or_function: Callable[_P, AsyncIterator[_T]],
) -> Callable[_P, AsyncGenerator[_T, None]]: ...
@overload
def stream_with_context(
    generator_or_function: Callable[_P, Iterable[_T]],
) -> Callable[_P, Generator[_T, None, None]]: ...
@overload
def stream_with_context(
    generator_or_function: Iterable[_T],
) -> Generator[_T, None, None]: ...
def stream_with_context(generator_or_function: Any) -> Any:
    """Keep the current request context active at every step of a body generator.

    Wrap an (async) generator object, or decorate a generator function."""
    if (
        callable(generator_or_function)
        and not hasattr(generator_or_function, "__next__")
        and not hasattr(generator_or_function, "__anext__")
    ):
        func = generator_or_function

        @functools.wraps(func)
        def decorator(*args: Any, **kwargs: Any) -> Any:
            return stream_with_context(func(*args, **kwargs))

        return decorator
    ctx = _cv_app.get(None)
    if ctx is None or (ctx.request is None and ctx.websocket is None):
        raise RuntimeError("stream_with_context needs an active request context")
    source = generator_or_function
    if hasattr(source, "__anext__"):
        return _async_with_context(ctx, source)
    return _sync_with_context(ctx, iter(source))


async def _async_with_context(
    ctx: AppContext, source: AsyncIterator[Any]
) -> AsyncGenerator[Any, None]:
    try:
        while True:
            token = _cv_app.set(ctx)
            try:
                chunk = await source.__anext__()
            except StopAsyncIteration:
                return
            finally:
                _cv_app.reset(token)
            yield chunk
    finally:
        # Closed early, its cleanup (a finally reading g or request) is a step too.
        aclose = getattr(source, "aclose", None)
        if aclose is not None:
            token = _cv_app.set(ctx)
            try:
                await aclose()
            finally:
                _cv_app.reset(token)


def _sync_with_context(
    ctx: AppContext, source: Iterator[Any]
) -> Generator[Any, None, None]:
    try:
        while True:
            token = _cv_app.set(ctx)
            try:
                chunk = next(source)
            except StopIteration:
                return
            finally:
                _cv_app.reset(token)
            yield chunk
    finally:
        close = getattr(source, "close", None)
        if close is not None:
            token = _cv_app.set(ctx)
            try:
                close()
            finally:
                _cv_app.reset(token)


async def make_push_promise(path: str) -> None:
    """Ask an HTTP/2 or 3 server to push *path* to the client; a no-op where it cannot."""
    ctx = _cv_app.get(None)
    if ctx is None or ctx.request is None:
        raise RuntimeError("make_push_promise needs an active request")
    await ctx.request.send_push_promise(path)


async def get_template_attribute(template_name: str, attribute: str) -> Any:
    """A macro or variable defined by a template; macros return awaitables."""
    ctx = _cv_app.get(None)
    if ctx is None:
        raise RuntimeError("get_template_attribute needs an application context")
    template = ctx.app.jinja_env.get_template(template_name)
    return getattr(await template.make_module_async(), attribute)


async def send_early_hints(*links: str) -> bool:
    """Send a 103 Early Hints response with these ``Link`` values, if the server can.

    Needs the ASGI ``http.response.early_hint`` extension; returns False without it,
    or once the response has started (a streamed body's)."""
    ctx = _cv_app.get(None)
    request = ctx.request if ctx is not None else None
    if request is None:
        raise RuntimeError("send_early_hints needs an active request")
    # Checked as every header is (controls, Latin-1), on every server, so a test finds
    # what a real one would.
    encoded = [value for _, value in encode_headers(("Link", link) for link in links)]
    extensions = request.scope.get("extensions") or {}
    # (No 103 once a streamed body's start went: it would break the exchange.)
    send = None if request.response_started else request.asgi_send
    if "http.response.early_hint" not in extensions or send is None:
        return False
    await send(
        {
            "type": "http.response.early_hint",
            "links": encoded,
        }
    )
    return True
