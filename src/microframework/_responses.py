"""``_responses.py``: make, process and finish responses; open sessions; run teardown.

Rule: plain functions of ``(app, ctx)`` that read only public app state and never send
(sending is the response's job). Teardown runs every function; failures are logged.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Coroutine
from collections.abc import Iterator
from collections.abc import Mapping
from inspect import iscoroutine
from inspect import iscoroutinefunction
from types import AsyncGeneratorType
from typing import Any
from typing import cast
from typing import TYPE_CHECKING

from werkzeug.datastructures import Headers
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.routing.exceptions import RequestRedirect
from werkzeug.sansio.response import Response as SansIOResponse

from ._compile import chain_for
from ._compile import compile_tables
from ._compile import teardown_appcontext_funcs
from ._utils import call_awaited
from ._utils import printable
from ._utils import remember
from .exceptions import ClientDisconnected
from .exceptions import WebsocketDisconnect
from .helpers import redirect
from .json.provider import DefaultJSONProvider
from .sessions import opens_at_once
from .sessions import SecureCookieSessionInterface
from .signals import appcontext_tearing_down
from .signals import request_tearing_down
from .signals import send_signal
from .signals import state as _signals
from .signals import websocket_tearing_down
from .wrappers.body import encode_chunk
from .wrappers.response import content_type_for
from .wrappers.response import encode_headers
from .wrappers.response import NO_BODY_STATUS
from .wrappers.response import plain_response_headers
from .wrappers.response import Response

if TYPE_CHECKING:
    from blinker import NamedSignal

    from ._compile import Chain
    from ._compile import Compiled
    from .app import Microframework
    from .ctx import AppContext
    from .sessions import SessionMixin
    from .wrappers.request import Request

_BODY_TYPES = (str, bytes, bytearray)


def make_response(app: Microframework, rv: Any, request: Request | None) -> Response:
    """Turn a view's return value into a response; ``TypeError`` names the culprit."""
    if rv.__class__ is str:
        return app.response_class(rv)
    status = headers = None
    if isinstance(rv, tuple):
        rv, status, headers = _split_tuple(rv, request)
        if status is not None and not isinstance(status, (int, str, bytes)):
            raise TypeError(
                f"{_culprit(request)} returned the status {status!r}; expected an int"
                " or a str such as '404 Not Found'"
            )
        if isinstance(status, bytes):  # decoded here: every kind of body takes a str
            status = status.decode("latin-1")
    if rv is None:
        raise TypeError(
            f"{_culprit(request)} did not return a valid response: it returned None"
            f" or ended without a return statement{_where(app, request)}"
        )
    response_class = app.response_class
    if isinstance(rv, Response):
        pass
    elif isinstance(rv, (dict, list)):
        rv = app.json.response(rv)
    elif isinstance(rv, _BODY_TYPES):
        rv = response_class(rv, status=status, headers=headers)
        status = headers = None
    elif isinstance(rv, SansIOResponse):
        rv = from_werkzeug_response(app, rv)
    elif isinstance(rv, HTTPException):
        rv = response_from_http_exception(app, rv)
    elif _is_body(rv):  # last: the ABC checks cost more
        rv = response_class(rv, status=status, headers=headers)
        status = headers = None
    else:
        hint = ""
        if iscoroutine(rv):  # closed: no "never awaited" warning on top of this
            rv.close()
            hint = " (never awaited: a missing 'await', or a plain decorator?)"
        raise TypeError(
            f"{_culprit(request)} returned {type(rv).__name__}{hint}; expected str,"
            " bytes, dict, list, a Response, a (async) generator, an HTTPException,"
            f" or a tuple of (body, status, headers){_where(app, request)}"
        )
    if status is not None:
        if isinstance(status, str):
            rv.status = status
        else:
            rv.status_code = int(status)
    if headers:
        rv.headers.update(headers)
    return rv  # type: ignore[no-any-return] # narrowed to Response above


def _split_tuple(rv: tuple[Any, ...], request: Request | None) -> tuple[Any, Any, Any]:
    length = len(rv)
    if length == 3:
        return rv
    if length == 2:
        if isinstance(rv[1], (Headers, Mapping, tuple, list)):
            return rv[0], None, rv[1]
        return rv[0], rv[1], None
    raise TypeError(
        f"{_culprit(request)} returned a tuple of {length} items; expected"
        " (body, status, headers), (body, status) or (body, headers)"
    )


def _is_body(rv: Any) -> bool:
    # An (async) iterable or generator, or a writer ``async def body(write)``.
    if rv.__class__ is AsyncGeneratorType:  # the usual stream: no ABC check (3k)
        return True
    return isinstance(rv, (AsyncIterable, Iterator)) or iscoroutinefunction(rv)


def _culprit(request: Request | None) -> str:
    by = getattr(request, "answered_by", None)
    if isinstance(by, type) and issubclass(by, BaseException):
        return f"the error handler for {by.__name__}"
    if by is not None:
        return f"the before_request function {getattr(by, '__name__', by)!r}"
    endpoint = request.endpoint if request is not None else None
    return f"the view function for {endpoint!r}" if endpoint else "the view function"


def _where(app: Microframework, request: Request | None) -> str:
    # The view has returned: no traceback points at it (a branch that falls through
    # for GET or HEAD, a decorator that drops the return value: each wrapper is
    # named, outermost first). Error path only.
    if request is None or not request.endpoint:
        return ""
    if getattr(request, "answered_by", None) is not None:
        return ""  # a before_request function or an error handler: named already
    view = app.view_functions.get(request.endpoint)
    if (cls := getattr(view, "view_class", None)) is not None:  # its method's place
        method = request.method.lower()
        method = "get" if method == "head" and not hasattr(cls, "head") else method
        view = getattr(cls, method, None) or getattr(cls, "dispatch_request", None)
    places: list[str] = []
    while view is not None and len(places) < 4:
        if (code := getattr(view, "__code__", None)) is not None:
            places.append(
                f"{code.co_name}() at {code.co_filename}:{code.co_firstlineno}"
            )
        view = getattr(view, "__wrapped__", None)
    if not places:
        return ""
    method, path = printable(request.method), printable(request.path)
    return f" (for {method} {path}; {', wrapping '.join(places)})"


def from_werkzeug_response(app: Microframework, rv: SansIOResponse) -> Response:
    """Our response for a werkzeug one: the same status, headers and body."""
    body = getattr(rv, "response", None)
    # Closed as Flask closes it: its call_on_close functions run.
    close = getattr(rv, "close", None)
    if body is None or isinstance(body, (list, tuple)):
        data = b"".join(encode_chunk(chunk) for chunk in body or ())
        response = app.response_class(data, rv.status, Headers(rv.headers))
        response.headers["Content-Length"] = str(len(data))
        if close is not None:
            close()  # all read already
        return response
    iter_encoded = getattr(rv, "iter_encoded", None)
    stream = iter_encoded() if iter_encoded is not None else iter(body)
    if close is not None:
        stream = _Closing(stream, close)
    return app.response_class(stream, rv.status, Headers(rv.headers))


class _Closing:
    """A werkzeug response's chunks; closing them closes it (sent, HEAD, client gone)."""

    def __init__(self, stream: Iterator[Any], close: Callable[[], Any]) -> None:
        self._stream, self.close = stream, close

    def __iter__(self) -> _Closing:
        return self

    def __next__(self) -> Any:
        return next(self._stream)


def response_from_http_exception(app: Microframework, error: HTTPException) -> Response:
    """The response an unhandled ``HTTPException`` stands for."""
    existing = error.response
    if isinstance(existing, Response):
        return existing
    if isinstance(existing, SansIOResponse):
        return from_werkzeug_response(app, existing)
    if isinstance(error, RequestRedirect):
        return redirect(error.new_url, error.code, Response=app.response_class)
    if error.__class__.get_response is not _GET_RESPONSE:  # an API's JSON errors, say
        return from_werkzeug_response(app, error.get_response())
    page = _plain_page(error)
    if page is not None:
        return app.response_class(page, error.code, mimetype="text/html")
    return app.response_class(
        error.get_body(), status=error.code or 500, headers=error.get_headers()
    )


def _plain_page(error: HTTPException) -> bytes | None:
    # werkzeug's page, rendered once per (class, code, description), or None if the
    # class renders its own: escaping each time was most of an abort(404) (~6.5 us).
    cls = error.__class__
    description = error.description
    if (
        cls.get_body is not _GET_BODY
        or cls.get_response is not _GET_RESPONSE
        or cls.get_headers is not _GET_HEADERS
        or cls.get_description is not _GET_DESCRIPTION
        or cls.name is not _NAME
        or description.__class__ is not str
        or error.code is None
    ):
        return None
    key = (cls, error.code, description)
    page = _PAGES.get(key)
    if page is None:
        page = remember(_PAGES, key, error.get_body().encode(), len(description))
    return page


_GET_BODY = HTTPException.get_body
_GET_RESPONSE = HTTPException.get_response
_GET_HEADERS = HTTPException.get_headers
_GET_DESCRIPTION = HTTPException.get_description
_NAME = HTTPException.name
_PAGES: dict[tuple[type[HTTPException], int, str], bytes] = {}


async def process_response(
    app: Microframework, ctx: AppContext, response: Response, chain: Chain
) -> Response:
    """Run ``after_this_request`` and ``after_request`` functions, then save the session."""
    if ctx.after_request_functions:
        for func in ctx.after_request_functions:
            response = await app.ensure_async(func)(response)
            _check_returned(response, "an after_this_request function")
    for after in chain.after:
        response = await after(response)
        _check_returned(response, "an after_request function")
    if ctx.request is not None:
        session = ctx.opened_session
        if session is None:
            if app.compiled is not None and app.compiled.saves_always:
                # A subclass's saving runs after each request, as in Flask: open it
                # with await (its open_session may wait, as Quart's may).
                await open_session(app, ctx)
                session = ctx.opened_session
            elif session_cookie_sent(app, ctx.request):
                # Unused, but a permanent session's cookie is refreshed each request.
                session = ctx.session
        if session is not None:
            if not app.session_interface.is_null_session(session):
                await call_session_method(app, "save_session", app, session, response)
    return response


# The cookie store's own save (not a mock's or a wrapper's that copied its attributes).
_COOKIE_SAVE = SecureCookieSessionInterface.save_session


def call_session_method(app: Microframework, name: str, *args: Any) -> Awaitable[Any]:
    """Call the session interface's *name* method: awaited if async, else in a worker
    thread, as Quart runs Flask's plain def ones (one that calls Redis blocks no one).
    """
    # Looked up each time: an interface instance may set its own method.
    method = getattr(app.session_interface, name)
    if getattr(method, "__func__", None) is _COOKIE_SAVE:  # no I/O, done at once
        return method(*args)  # type: ignore[no-any-return]
    return call_awaited(app.ensure_async, method, *args)


def _check_returned(response: object, what: str) -> None:
    if not isinstance(response, Response):
        raise TypeError(
            f"{what} returned {type(response).__name__}; it must return the response"
        )


async def save_websocket_session(
    app: Microframework, ctx: AppContext, response: Response | None
) -> None:
    """Save a websocket's session once, into the rejection *response* or ``None``."""
    compiled = app.compiled
    if ctx.opened_session is None and compiled is not None and compiled.saves_always:
        await open_session(app, ctx)  # a subclass saves each time (Quart opens always)
    session = ctx.opened_session
    if session is None or app.session_interface.is_null_session(session):
        return
    ctx.opened_session = null_session(app)  # saved: once
    await call_session_method(app, "save_session", app, session, response)


def session_cookie_sent(app: Microframework, request: Request) -> bool:
    """True if the request carries the session cookie and refreshing is on."""
    config = app.config
    if not config["SECRET_KEY"] or not config["SESSION_REFRESH_EACH_REQUEST"]:
        return False
    name = None  # looked up only for a request with cookies
    for key, value in request.scope["headers"]:
        if key == b"cookie":  # HTTP/2 may split cookies (RFC 9113)
            name = name or app.session_interface.get_cookie_name(app).encode()
            if name in value:
                return True
    return False


def open_session_now(app: Microframework, ctx: AppContext) -> SessionMixin:
    """Open the session on first use: step the coroutine once; it must not wait."""
    coro = _begin_session(app, ctx)
    if not iscoroutine(coro):  # a Flask interface's plain open_session
        return _session_or_null(app, cast("SessionMixin | None", coro))
    try:
        coro.send(None)
    except StopIteration as done:
        return _session_or_null(app, done.value)
    coro.close()
    # Lazy tables, for one that opens before the view by its own word: it was set on
    # the app's class after the first request (no descriptor sees that).
    lazy = app.compiled is not None and not app.compiled.eager_sessions
    if stale := lazy and not opens_at_once(app.session_interface):
        app.compiled = compile_tables(app)  # the next requests open it before the view
    raise RuntimeError(
        f"{type(app.session_interface).__name__}.open_session waits on I/O, so it"
        " cannot be opened on first use; "
        + (
            "set it on the app, not on its class"
            if stale
            else "set its opens_without_waiting to False"
        )
    )


async def open_session(app: Microframework, ctx: AppContext) -> None:
    """Open the session of ctx's request or websocket (the null session if none)."""
    connection = ctx.request if ctx.request is not None else ctx.websocket
    session = await call_session_method(app, "open_session", app, connection)
    ctx.session = _session_or_null(app, session)


def _begin_session(
    app: Microframework, ctx: AppContext
) -> Coroutine[Any, Any, SessionMixin | None] | SessionMixin | None:
    # A coroutine, or the session itself from a Flask interface's plain def (called
    # here, on first use, where nothing can wait for a thread).
    connection = ctx.request if ctx.request is not None else ctx.websocket
    return app.session_interface.open_session(app, connection)  # type: ignore[arg-type]


def _session_or_null(app: Microframework, session: SessionMixin | None) -> SessionMixin:
    return null_session(app) if session is None else session


def null_session(app: Microframework) -> SessionMixin:
    """The interface's null session; an override may be async, as Quart's is."""
    session: Any = app.session_interface.make_null_session(app)
    if not iscoroutine(session):
        return session  # type: ignore[no-any-return]
    try:
        session.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    session.close()
    raise RuntimeError("make_null_session must not wait: it makes an empty session")


async def teardown(
    app: Microframework,
    ctx: AppContext,
    error: BaseException | None,
    chain: Chain | None = None,
) -> None:
    """Run request or websocket teardown, then app-context teardown, then the signals."""
    request = ctx.request
    try:
        if request is not None or ctx.websocket is not None:
            try:
                if chain is None:
                    chain = chain_for(app, ctx)
                for func in chain.teardown:
                    await _run_teardown(app, func, error)
                signal = (
                    request_tearing_down
                    if request is not None
                    else websocket_tearing_down
                )
                if signal.receivers:
                    await _signal_teardown(app, signal, error)
            finally:  # after them, as in Flask and Quart: they may still read uploads
                if request is not None:
                    request.release()
    finally:  # a cancel in a teardown function still returns what the app context holds
        await teardown_app(app, error)


async def teardown_app(app: Microframework, error: BaseException | None) -> None:
    """Run app-context teardown, then its signal."""
    compiled = app.compiled
    funcs = (
        compiled.teardown_appcontext
        if compiled is not None
        else teardown_appcontext_funcs(app)
    )
    for func in funcs:
        await _run_teardown(app, func, error)
    if appcontext_tearing_down.receivers:
        await _signal_teardown(app, appcontext_tearing_down, error)


# A failing teardown function or receiver must not keep the others from releasing
# their resources: it is logged, and teardown goes on.
async def _run_teardown(
    app: Microframework,
    func: Callable[[BaseException | None], Awaitable[Any]],
    error: BaseException | None,
) -> None:
    try:
        await func(error)
    except (ClientDisconnected, WebsocketDisconnect):  # CancelledErrors, but told
        _raise_if_cancelled()
        app.logger.warning("Teardown function %r found the connection ended", func)
    except Exception:
        app.logger.exception("Error in teardown function %r", func)


def _raise_if_cancelled() -> None:
    # Inside an except clause: re-raises a disconnect that came with a real cancel.
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise


async def _signal_teardown(
    app: Microframework, signal: NamedSignal, error: BaseException | None
) -> None:
    try:
        await send_signal(signal, app, exc=error)
    except (ClientDisconnected, WebsocketDisconnect):
        _raise_if_cancelled()
        app.logger.warning("A receiver of %r found the connection ended", signal.name)
    except Exception:
        app.logger.exception("Error in a receiver of %r", signal.name)


# Direct answers: sent without a response object.
def is_plain(rv: tuple[Any, ...]) -> bool:
    """``(str, status)`` with a registered status that has a body."""
    return (
        len(rv) == 2
        and rv[0].__class__ is str
        and rv[1].__class__ is int
        and rv[1] in PLAIN_STATUSES
    )


#: Final codes werkzeug names whose responses carry a body (a 204 or 304 sends none).
PLAIN_STATUSES = frozenset(c for c in HTTP_STATUS_CODES if c >= 200) - NO_BODY_STATUS

_JSON_CONTENT_TYPES: dict[str, tuple[bytes, bytes]] = {}
_DEFAULT_RESPONSE = DefaultJSONProvider.response


class Prepared:
    """A view's return value, encoded as its response object would have sent it."""

    __slots__ = ("status", "headers", "data")

    def __init__(
        self, status: int, headers: list[tuple[bytes, bytes]], data: bytes
    ) -> None:
        self.status = status
        self.headers = headers
        self.data = data


def prepare(app: Microframework, rv: Any) -> Prepared | None:
    """A ``dict`` or ``(str, [status,] headers)`` ready to send, or ``None``."""
    if _signals.listening:
        return None  # request_finished receivers get the response object
    kind = rv.__class__
    if kind is dict:
        provider = app.json
        if (
            provider.__class__ is not DefaultJSONProvider
            or "response" in provider.__dict__  # replaced: it makes the response
            or DefaultJSONProvider.response is not _DEFAULT_RESPONSE
        ):
            return None
        data = provider.response_text(rv).encode()
        content_type = _JSON_CONTENT_TYPES.get(provider.mimetype)
        if content_type is None:
            value = content_type_for(provider.mimetype)
            content_type = encode_headers([("Content-Type", value)])[0]
            _JSON_CONTENT_TYPES[provider.mimetype] = content_type  # app-chosen: few
        return Prepared(
            200, [content_type, (b"content-length", b"%d" % len(data))], data
        )
    if isinstance(rv, HTTPException):
        return _prepared_page(rv)
    if kind is not tuple or not rv or rv[0].__class__ is not str:
        return None
    if len(rv) == 3:
        text, status, given = rv
    elif len(rv) == 2:
        text, given = rv
        status = 200
    else:
        return None
    if (
        given.__class__ is not dict
        or status.__class__ is not int
        or status not in PLAIN_STATUSES
    ):
        return None
    data = text.encode()
    headers = plain_response_headers(app.response_class, given, len(data))
    return None if headers is None else Prepared(status, headers, data)


def _prepared_page(error: HTTPException) -> Prepared | None:
    # An unhandled error the view raised: werkzeug's page, as Response sends it.
    code = error.code
    if (
        code not in PLAIN_STATUSES
        or error.response is not None
        or isinstance(error, RequestRedirect)
    ):
        return None
    page = _plain_page(error)
    if page is None:
        return None
    return Prepared(code, [_HTML, (b"content-length", b"%d" % len(page))], page)


_HTML = (b"content-type", b"text/html; charset=utf-8")


def ready(
    compiled: Compiled,
    request: Request,
    response: Response | str | tuple[str, int] | Prepared,
) -> tuple[int, list[tuple[bytes, bytes]], bytes | None]:
    """Status, ASGI headers and, when two messages will do, the body to send.

    The body is ``None`` when the response must send itself (stream, trailers, no body).
    """
    closing = (  # (on the wire only: the response may be the view's own, sent again)
        request.method in UPLOADING
        and not request.body_done
        and continue_unasked(request)
    )
    if isinstance(response, Prepared):
        data = b"" if request.method == "HEAD" else response.data
        headers = response.headers
        return response.status, _closed(headers) if closing else headers, data
    if isinstance(response, (str, tuple)):
        text, status = (response, 200) if isinstance(response, str) else response
        data = text.encode()
        length = (b"content-length", b"%d" % len(data))
        headers = [compiled.str_content_type or length, length]
        if closing:
            headers = _closed(headers)
        return status, headers, b"" if request.method == "HEAD" else data
    headers = response.asgi_headers()
    if closing:
        headers = _closed(headers)
    body = response.body_bytes
    status = response.status_code
    if not 200 <= status <= 599:
        raise _bad_status(response.status, request)
    if (
        body is None
        or status in NO_BODY_STATUS
        or response.trailers is not None
        or response.close_functions is not None  # it sends itself, then closes
    ):
        trailers = response.trailers  # (None first: an ABC's isinstance costs 3k)
        if trailers is not None and isinstance(
            trailers, (Mapping, Headers, list, tuple)
        ):
            # Checked now, so a CR/LF in one is the app's 500, not a cut after the body
            # (an iterator or a function can only be read once, when they are sent).
            encode_headers(Headers(trailers).items())
        return status, headers, None
    return status, headers, b"" if request.method == "HEAD" else body


def _closed(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    return [h for h in headers if h[0] != b"connection"] + [(b"connection", b"close")]


#: Methods whose requests commonly carry a body (the gate of continue_unasked).
UPLOADING = frozenset({"POST", "PUT", "PATCH"})


def continue_unasked(request: Request) -> bool:
    """An HTTP/1.x body sent with ``Expect: 100-continue``, never asked for: answered
    so, a client may reuse the connection without sending it, and uvicorn would read
    its next request as that body. RFC 9110 10.1.1: the response says it closes."""
    if request.body_finished():
        return False
    if request.body_reading():  # asked, unless refused for its declared length
        limit, declared = request.max_content_length, request.content_length
        if limit is None or declared is None:
            return False
        if isinstance(limit, int | float) and declared <= limit:
            return False  # (one that isn't a number was the app's 500 when read)
    if not request.scope.get("http_version", "1.1").startswith("1"):
        return False
    return request.headers.get("Expect", "").lower() == "100-continue"


def _bad_status(status: str, request: Request) -> ValueError:
    # A server refuses it (h11: "status_code should be in range"; uvicorn drops the
    # connection past 599, RFC 9110's last), past the app's error handling; raised
    # here, it is the app's 500. 1xx are interim, not final.
    return ValueError(
        f"{_culprit(request)} answered with the status {status!r}, which is not a"
        " final HTTP status: give one from 200 to 599 (a status given as a string"
        " starts with its number: werkzeug reads 'abc' as '0 abc'). Flask and Quart"
        " pass any number on."
    )
