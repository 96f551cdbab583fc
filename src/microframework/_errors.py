"""``_errors.py``: find error handlers and turn errors into responses.

Rule: the peer's mistakes are ``HTTPException``s (4xx), answered by a handler or their
own page; the app's are logged as a 500, or propagate. Handlers are looked up by code,
then class along the MRO, innermost blueprint first, as in Flask.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from types import TracebackType
from typing import Any
from typing import TYPE_CHECKING

from werkzeug.exceptions import BadRequest
from werkzeug.exceptions import BadRequestKeyError
from werkzeug.exceptions import HTTPException
from werkzeug.exceptions import InternalServerError
from werkzeug.routing.exceptions import RoutingException

from ._compile import chain_for
from ._responses import make_response
from ._responses import process_response
from .signals import got_request_exception
from .signals import got_websocket_exception
from .signals import send_signal

if TYPE_CHECKING:
    from ._compile import Chain
    from ._compile import Compiled
    from .app import Microframework
    from .ctx import AppContext
    from .typing import ResponseReturnValue
    from .wrappers.response import Response


def propagates(app: Microframework) -> bool:
    """Re-raise unhandled errors? ``PROPAGATE_EXCEPTIONS``, else testing or debug."""
    propagate = app.config["PROPAGATE_EXCEPTIONS"]
    return bool(app.testing or app.debug) if propagate is None else bool(propagate)


def trap_http_exception(app: Microframework, error: Exception) -> bool:
    if app.config["TRAP_HTTP_EXCEPTIONS"]:
        return True
    trap_bad_request = app.config["TRAP_BAD_REQUEST_ERRORS"]
    if trap_bad_request is None and app.debug and isinstance(error, BadRequestKeyError):
        return True
    if trap_bad_request:
        return isinstance(error, BadRequest)
    return False


def answers_itself(app: Microframework, compiled: Compiled, error: Exception) -> bool:
    """True for an untrapped ``HTTPException`` when no handler is registered at all."""
    return (
        not compiled.error_handlers
        and isinstance(error, HTTPException)
        and not isinstance(error, BadRequestKeyError)
        and not app.trap_http_exception(error)
    )


def find_error_handler(
    app: Microframework, error: BaseException, ctx: AppContext | None
) -> Callable[..., Any] | None:
    """The handler for *error*: by code, then class, innermost blueprint of *ctx* first."""
    current = None if ctx is None else (ctx.request or ctx.websocket)
    blueprints = current.blueprints if current is not None else []
    code = error.code if isinstance(error, HTTPException) else None
    codes = (code, None) if code is not None else (None,)
    spec = app.error_handler_spec
    mro = type(error).__mro__
    for c in codes:
        for name in (*blueprints, None):
            handler_map = spec[name][c] if name in spec else {}
            if not handler_map:
                continue
            for cls in mro:
                handler = handler_map.get(cls)
                if handler is not None:
                    return handler
    return None


async def handle_http_exception(
    app: Microframework, error: HTTPException, ctx: AppContext | None
) -> ResponseReturnValue:
    if error.code is None or isinstance(error, RoutingException):
        return error
    handler = find_error_handler(app, error, ctx)
    if handler is None:
        return error
    rv: ResponseReturnValue = await app.ensure_async(handler)(error)
    return rv


async def handle_user_exception(
    app: Microframework, error: Exception, ctx: AppContext | None
) -> ResponseReturnValue:
    if isinstance(error, BadRequestKeyError) and (
        app.debug or app.config["TRAP_BAD_REQUEST_ERRORS"]
    ):
        error.show_exception = True
    if isinstance(error, HTTPException) and not app.trap_http_exception(error):
        answer: Any = app.handle_http_exception(error)  # a plain def's too (Flask's)
        return await answer if inspect.isawaitable(answer) else answer  # type: ignore[no-any-return]
    handler = find_error_handler(app, error, ctx)
    if handler is None:
        raise error
    rv: ResponseReturnValue = await app.ensure_async(handler)(error)
    return rv


async def handle_exception(
    app: Microframework, error: Exception, ctx: AppContext | None, chain: Chain | None
) -> Response:
    is_websocket = ctx is not None and ctx.websocket is not None
    signal = got_websocket_exception if is_websocket else got_request_exception
    if signal.receivers:
        await send_signal(signal, app, exception=error)
    request = ctx.request if ctx is not None else None
    if ctx is not None:
        ctx.unhandled_error = error
    if (
        app.config["PROPAGATE_EXCEPTIONS"] is None
        and app.debug
        and not app.testing
        and request is not None
    ):
        # Debug mode shows the traceback page; a server would send a bare 500.
        app.log_exception(_exc_info(error))
        from .debug import render_debug_page  # only debug mode needs it

        return render_debug_page(error, request, response_class=app.response_class)
    if propagates(app):
        raise error
    app.log_exception(_exc_info(error))
    server_error = InternalServerError(original_exception=error)
    handler = find_error_handler(app, server_error, ctx)
    rv: Any = server_error
    if handler is not None:
        rv = await app.ensure_async(handler)(server_error)
    response = make_response(app, rv, request)
    if ctx is None:
        return response
    try:
        return await process_response(app, ctx, response, chain or chain_for(app, ctx))
    except Exception:
        app.logger.exception(
            "Request finalizing failed with an error while handling an error"
        )
        return response


def _exc_info(
    error: BaseException,
) -> tuple[type[BaseException], BaseException, TracebackType]:
    # A raised exception has its traceback; the shape is Flask's (and typeshed's) exc_info.
    return type(error), error, error.__traceback__  # type: ignore[return-value]


def drop_tracebacks(error: BaseException) -> None:
    """Drop the tracebacks of a handled *error*, and of the errors it was raised from,
    as its request ends.

    They hold the dispatcher's frames, which hold the request (and the error, when it
    is the response, or kept in ``g``): a reference cycle per error response, left to
    the collector. On Python 3.12+ a finished frame keeps its caller's: theirs too."""
    error.__traceback__ = None
    if error.__context__ is None and error.__cause__ is None:
        return
    seen: set[int] = set()
    todo: list[BaseException | None] = [error.__cause__, error.__context__]
    while todo:
        if (exc := todo.pop()) is not None and id(exc) not in seen:
            seen.add(id(exc))
            exc.__traceback__ = None
            todo += (exc.__cause__, exc.__context__)
