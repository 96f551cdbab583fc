"""User-facing helpers that work through the current app: ``url_for``, ``abort``,
``redirect``, ``make_response``.

Rule: each helper reads the active context once and delegates to the app; none of them
hold state.
"""

from __future__ import annotations

from typing import Any
from typing import NoReturn
from typing import TYPE_CHECKING

from markupsafe import escape
from werkzeug.exceptions import abort as _werkzeug_abort
from werkzeug.urls import iri_to_uri

from .globals import _cv_app
from .wrappers.response import Response as _Response

if TYPE_CHECKING:
    from .wrappers.response import Response


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
    and is absolute. ``.name`` means the current blueprint's endpoint.
    """
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


def abort(code: int | Response, *args: Any, **kwargs: Any) -> NoReturn:
    """Raise the ``HTTPException`` for *code*, or one carrying the given response."""
    ctx = _cv_app.get(None)
    if ctx is not None:
        ctx.app.aborter(code, *args, **kwargs)
    _werkzeug_abort(code, *args, **kwargs)


def redirect(
    location: str, code: int = 302, Response: type[Response] | None = None
) -> Response:
    """A redirect response to *location* (302 by default, as in Quart)."""
    if Response is None:
        ctx = _cv_app.get(None)
        Response = ctx.app.response_class if ctx is not None else _Response
    html_location = escape(location)
    body = (
        "<!doctype html>\n<html lang=en>\n<title>Redirecting...</title>\n"
        "<h1>Redirecting...</h1>\n<p>You should be redirected automatically to the"
        f' target URL: <a href="{html_location}">{html_location}</a>. If not, click'
        " the link.\n"
    )
    response = Response(body, code, mimetype="text/html")
    response.headers["Location"] = iri_to_uri(location)
    return response


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
