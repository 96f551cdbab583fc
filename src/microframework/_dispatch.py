"""``_dispatch.py``: turns one ASGI connection into a response.

Starts no task and arms no timer: a view that suspends, or a stream, gets them from
``_guard``. A bytes response is exactly two messages; anything else sends itself.
HTTP and websocket share the hook chains and read only the tables ``freeze`` built.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable
from collections.abc import Coroutine
from contextvars import Token
from typing import Any
from typing import TYPE_CHECKING

from werkzeug.exceptions import SecurityError

from ._bounded import bounded_send
from ._bounded import sent_until_a_wait
from ._compile import freeze
from ._compile import match_request
from ._errors import answers_itself
from ._errors import drop_tracebacks
from ._errors import handle_exception
from ._guard import guard_view
from ._guard import idle_timeout
from ._guard import stream_bytes
from ._guard import Streamer
from ._lifespan import handle_lifespan
from ._responses import is_plain
from ._responses import make_response
from ._responses import open_session
from ._responses import prepare
from ._responses import Prepared
from ._responses import process_response
from ._responses import ready
from ._responses import save_websocket_session
from ._responses import session_cookie_sent
from ._responses import teardown
from ._unread import drop_body_first
from ._unread import DropBeforeEnd
from ._utils import settled
from .ctx import AppContext
from .exceptions import ClientDisconnected
from .exceptions import WebsocketDisconnect
from .globals import _cv_app
from .signals import appcontext_popped
from .signals import appcontext_pushed
from .signals import appcontext_tearing_down
from .signals import request_finished
from .signals import request_started
from .signals import request_tearing_down
from .signals import send_signal
from .signals import state as _signals
from .signals import websocket_finished
from .signals import websocket_started
from .wrappers.body import BUFFERED
from .wrappers.response import Response

if TYPE_CHECKING:
    from blinker import Signal

    from ._compile import Chain
    from ._compile import Compiled
    from ._compile import Endpoint
    from .app import Microframework
    from .typing import Message
    from .typing import Receive
    from .typing import Scope
    from .typing import Send
    from .wrappers.request import Request
    from .wrappers.websocket import Websocket


_BODY = "http.response.body"


async def handle_http(
    app: Microframework, scope: Scope, receive: Receive, send: Send, entry: bool = True
) -> None:
    """Handle one HTTP request to teardown; as ``__call__`` (*entry*), route the rest."""
    if entry and (scope["type"] != "http" or "asgi_app" in app.__dict__):
        return await _elsewhere(app, scope, receive, send)
    compiled = app.compiled or freeze(app)
    request = app.request_class(scope, receive, app)
    request.asgi_send = send
    ctx = AppContext(app, request)
    token: Token[AppContext] | None = _cv_app.set(ctx)
    error: BaseException | None = None
    chain, listening = compiled.app_chain, _signals.listening  # listening: any receiver
    try:
        if listening and appcontext_pushed.receivers:
            await send_signal(appcontext_pushed, app)
        endpoint = match_request(compiled, ctx, request, False)
        chain = chain if endpoint is None else endpoint.chain
        response = await full_dispatch(app, compiled, ctx, request, endpoint, chain)
        if listening := _signals.listening:  # again: the view may connect the first
            response = await _announce(app, compiled, ctx, response, chain)
        try:
            status, headers, data = ready(compiled, request, response)
        except Exception as exc:  # a header that would split the response: a 500
            await _close_unsent(response)
            response = await _handle_exception(app, compiled, exc, ctx, chain)
            status, headers, data = ready(compiled, request, response)
        wrapped = send is not (send := request.asgi_send)  # by a watch: DropBeforeEnd
        if data is not None:
            _cv_app.reset(token)  # type: ignore[arg-type] # first: uvicorn's send copies it
            token = None
            head = {"type": "http.response.start", "status": status, "headers": headers}
            if wrapped or len(data) > BUFFERED or scope.get("http_version") == "2":
                await _send_bytes(app, send, request, endpoint, data, head, response)
            else:  # no body left unread, nothing a server can't buffer, not HTTP/2
                await send(head)
                await send({"type": _BODY, "body": data, "more_body": False})
        elif not isinstance(response, (str, tuple, Prepared)):  # always a body
            streamer = Streamer(app, send, request, response, endpoint)
            sending = response.send(scope, send, headers, streamer)
            del response, headers, streamer  # not held while a long stream runs
            _let_tasks_start(ctx)  # a stream may wait for what its view's tasks make
            await sending
    except BaseException as exc:
        error = exc
        if not isinstance(exc, ClientDisconnected):  # nobody listens: nothing to log
            raise
        exc.__traceback__ = exc.__context__ = None  # their frames hold error: cycles
    finally:
        if (sent := ctx.response_sent) and sent is not True and not sent.done():
            sent.set_result(None)  # tasks the view added start: see _let_tasks_start
        request.asgi_send = None  # the response went: tasks added now start at once
        if chain.teardown or compiled.teardown_appcontext or listening:
            await _finish_http(app, compiled, ctx, chain, error, token, listening)
        else:
            request.release()
            if token is not None:
                _cv_app.reset(token)
        if ctx.handled_error is not None:  # kept for teardown: see full_dispatch
            drop_tracebacks(ctx.handled_error)


async def _send_bytes(
    app: Microframework,
    send: Send,
    request: Request,
    endpoint: Endpoint | None,
    data: bytes,
    head: Message,
    response: object,
) -> None:
    """Send a bytes response once what is left of the body is in (over HTTP/2, see
    drop_body_first; a stream is not held so: it may still read it); one bigger
    than a server buffers is watched, so a reader that stalls times out; over HTTP/2
    any is bounded so (the connection's window, which streams share, may be shut)."""
    if len(data) > BUFFERED or send.__class__ is DropBeforeEnd:
        # (Not for a small one only HTTP/2 sent here.) A client that left meanwhile
        # is no one to answer, as a stream's end would find (hypercorn: an endless send).
        if await drop_body_first(request, app.drain):
            raise ClientDisconnected()
    http2 = request.scope.get("http_version") == "2"
    timeout = None
    if http2:  # (only there: the call costs every request that reads its body)
        timeout = idle_timeout(app, endpoint, getattr(response, "timeout", ...))
    if len(data) > BUFFERED or (http2 and timeout is None):
        # Watched: with no timeout to bound it by, a client that resets ends it.
        await stream_bytes(app, send, request, endpoint, data, head, response)
        return
    if timeout is None:  # (not HTTP/2)
        await send(head)
        await send({"type": _BODY, "body": data, "more_body": False})
    elif (waiting := sent_until_a_wait(send, head, data)) is not None:
        await bounded_send(app, waiting, request, timeout)  # (HTTP/2 only)


def _let_tasks_start(ctx: AppContext) -> None:
    # The background tasks the view added wait for the response to go; those the
    # stream adds from now on start at once (True: not a future, which costs 4k
    # instructions a stream), or one the stream waits on would wait for its end.
    sent = ctx.response_sent
    if sent is None:
        ctx.response_sent = True
    elif sent is not True and not sent.done():
        sent.set_result(None)


async def _close_unsent(response: Any) -> None:
    # A response replaced before it went: its generator's finally runs now, not at gc.
    if isinstance(response, Response):
        await response.aclose()


async def asgi_app(app: Any, scope: Any, receive: Any, send: Any) -> None:
    """``Microframework.asgi_app``: the ASGI app proper, every kind of connection."""
    kind = scope["type"]
    if kind == "http":
        await handle_http(app, scope, receive, send, entry=False)
    elif kind == "websocket":
        await handle_websocket(app, scope, receive, send)
    elif kind == "lifespan":
        await handle_lifespan(app, scope, receive, send)
    else:
        raise ValueError(f"unsupported ASGI scope type {kind!r}")


def _elsewhere(
    app: Microframework, scope: Scope, receive: Receive, send: Send
) -> Awaitable[None]:
    # Middleware wrapping ``asgi_app`` sees every connection, as does lifespan.
    # A subclass's own asgi_app is put on the instance too (Microframework.__init__),
    # so this one check, made once per request, covers both.
    if scope["type"] == "websocket" and "asgi_app" not in app.__dict__:
        return handle_websocket(app, scope, receive, send)
    return app.asgi_app(scope, receive, send)


def _handle_exception(
    app: Microframework,
    compiled: Compiled,
    error: Exception,
    ctx: AppContext,
    chain: Chain,
) -> Awaitable[Response]:
    # An override has Flask's and Quart's signature, handle_exception(self, e).
    if compiled.custom_handle_exception:
        ctx.unhandled_error = ctx.unhandled_error or error  # teardown's, as Flask's
        return settled(app.handle_exception(error))
    return handle_exception(app, error, ctx, chain)


async def _announce(
    app: Microframework,
    compiled: Compiled,
    ctx: AppContext,
    response: Response | str | tuple[str, int] | Prepared,
    chain: Chain,
) -> Response:
    # While signals have receivers, nothing is Prepared.
    if not isinstance(response, Response):
        response = make_response(app, response, ctx.request)
    if request_finished.receivers:
        if ctx.unhandled_error is None:  # else the 500 for an error already
            try:
                await send_signal(request_finished, app, response=response)
                return response
            except Exception as exc:  # the app's 500, as Flask's finalize_request
                await _close_unsent(response)
                response = await _handle_exception(app, compiled, exc, ctx, chain)
        await _announce_error_response(app, request_finished, response)
    return response


async def _announce_error_response(
    app: Microframework, signal: Signal, response: Response | None
) -> None:
    # The error's own response still goes when a receiver fails again: logged, as Flask.
    try:
        await send_signal(signal, app, response=response)
    except Exception:
        app.logger.exception(
            "Request finalizing failed with an error while handling an error"
        )


async def _finish_http(
    app: Microframework,
    compiled: Compiled,
    ctx: AppContext,
    chain: Chain,
    error: BaseException | None,
    token: Token[AppContext] | None,
    listening: bool,
) -> None:
    if token is None:
        token = _cv_app.set(ctx)  # teardown runs in the request's context
    drain = app.drain  # a server may shut down once responses went (granian):
    drain.tearing_down += 1  # after_serving waits for teardowns still running
    try:
        if (
            chain.teardown
            or compiled.teardown_appcontext
            or (
                listening
                and (
                    request_tearing_down.receivers or appcontext_tearing_down.receivers
                )
            )
        ):
            await teardown(app, ctx, ctx.unhandled_error or error, chain)
        else:
            ctx.request.release()  # type: ignore[union-attr] # an HTTP context
    finally:
        _cv_app.reset(token)
        drain.torn_down()
        if listening and appcontext_popped.receivers:
            await send_signal(appcontext_popped, app)


async def full_dispatch(
    app: Microframework,
    compiled: Compiled,
    ctx: AppContext,
    request: Request,
    endpoint: Endpoint | None,
    chain: Chain,
) -> Response | str | tuple[str, int] | Prepared:
    """Preprocess, run the view, make and process the response; errors become responses
    (a ``str`` or ``(str, status)`` may come back as is, others as :class:`Prepared`)."""
    try:
        try:
            rv = None
            if chain.preprocess or compiled.eager_sessions or _signals.listening:
                rv = await _preprocess(app, compiled, ctx, request, chain)
            if rv is None:
                rv = _step_view(app, ctx, request, endpoint)
                if rv.__class__ is _Suspended:
                    rv = await guard_view(app, endpoint, request, rv.coro, rv.first)  # type: ignore[arg-type] # a matched endpoint
        except Exception as exc:  # not a ClientDisconnected: a CancelledError
            if answers_itself(app, compiled, exc):
                rv = exc
            else:
                rv = app.handle_user_exception(exc)
                if inspect.isawaitable(rv):  # else a plain def override's (Flask's)
                    rv = await rv
                request.answered_by = exc.__class__  # not exc: its frames hold us
            # Its traceback, kept for after_request and teardown (as Flask's), holds
            # this frame: a cycle, so it goes as the request ends (see handle_http).
            ctx.handled_error = exc
        custom = compiled.custom_process_response
        processing = (
            custom
            or chain.after
            or ctx.after_request_functions
            or ctx.opened_session is not None
            or compiled.saves_always
            or (app.config["SECRET_KEY"] and session_cookie_sent(app, request))
        )
        if compiled.str_content_type and not processing:
            if rv.__class__ is str or (rv.__class__ is tuple and is_plain(rv)):
                return rv  # sent as it is: see _responses.ready
            prepared = prepare(app, rv)
            if prepared is not None:
                return prepared
        if compiled.custom_make_response:
            response = await app.make_response(rv)  # type: ignore[arg-type]  # rv may be an exception here
        else:
            response = make_response(app, rv, request)
        if custom:
            return await app.process_response(response)
        if processing:
            return await process_response(app, ctx, response, chain)
        return response
    except Exception as exc:
        return await _handle_exception(app, compiled, exc, ctx, chain)
    except asyncio.CancelledError as exc:
        if (error := _unasked(exc)) is None:
            raise
        return await _handle_exception(app, compiled, error, ctx, chain)


def _unasked(exc: asyncio.CancelledError) -> RuntimeError | None:
    """None for a disconnect or a cancel; a view's own CancelledError is a bug (a 500).

    A view gets one by awaiting something cancelled elsewhere: nobody asked this task.
    (Returned, not raised here: this frame in its traceback would make a cycle.)
    """
    task = asyncio.current_task()
    disconnect = (ClientDisconnected, WebsocketDisconnect)
    if isinstance(exc, disconnect) or task is None or task.cancelling():
        return None
    error = RuntimeError("the view raised CancelledError without being cancelled")
    error.__cause__ = exc
    return error


async def _preprocess(
    app: Microframework,
    compiled: Compiled,
    ctx: AppContext,
    request: Request,
    chain: Chain,
) -> Any:
    """Open a waiting session, signal, run preprocessors; a before hook's answer stops it."""
    if compiled.eager_sessions:
        # A store that waits: open before the view, or the 400 handler of an untrusted
        # Host (its session works, as in Flask; a lazy open couldn't wait).
        await open_session(app, ctx)
    if _signals.listening and request_started.receivers:
        await send_signal(request_started, app)  # an untrusted Host's too, as Flask's
    # No adapter: the Host was not in TRUSTED_HOSTS, and such a request reaches no
    # hook. The slot is read first: 90 instructions cheaper than the request's attribute.
    if ctx.url_adapter is None and request.routing_exception.__class__ is SecurityError:
        raise request.routing_exception
    # run_before's loops, inline: a coroutine call costs 1.1k instructions a request.
    for preprocess in chain.url_value_preprocessors:
        preprocess(request.endpoint, request.view_args)
    for before in chain.before:
        rv = await before()
        if rv is not None:
            request.answered_by = before
            return rv
    return None


async def run_before(chain: Chain, current: Request | Websocket) -> Any:
    """The URL value preprocessors, then the before hooks; a hook's answer stops them."""
    for preprocess in chain.url_value_preprocessors:
        preprocess(current.endpoint, current.view_args)
    for before in chain.before:
        rv = await before()
        if rv is not None:
            return rv
    return None


class _Suspended:
    """A view that awaited something: its coroutine and what it yielded."""

    __slots__ = ("coro", "first")

    def __init__(self, coro: Coroutine[Any, Any, Any], first: Any) -> None:
        self.coro = coro
        self.first = first


def _step_view(
    app: Microframework, ctx: AppContext, request: Request, endpoint: Endpoint | None
) -> Any:
    # Run the view up to its first wait: most answer without one, and only one that
    # suspends needs the timeout and disconnect guard.
    if request.routing_exception is not None:
        raise request.routing_exception
    if endpoint is None:
        raise RuntimeError(
            f"no view function is registered for endpoint {request.endpoint!r}"
        )
    if request.method == "OPTIONS" and endpoint.automatic_options:
        coro = app.make_default_options_response()  # stepped as a view is
    elif args := request.view_args:
        coro = endpoint.view(**args)
    else:
        coro = endpoint.view()
    try:
        first = coro.send(None)
    except StopIteration as done:
        return done.value
    return _Suspended(coro, first)


async def handle_websocket(
    app: Microframework, scope: Scope, receive: Receive, send: Send
) -> None:
    """Handle one websocket connection: hooks, handler, rejection or close, teardown."""
    compiled = app.compiled or freeze(app)
    message = await receive()
    if message["type"] != "websocket.connect":
        return  # the client left before the handshake began
    websocket = app.websocket_class(scope, receive, send, app)
    # The task a disconnect cancels is this one, whichever task happens to accept.
    websocket.handler_task = asyncio.current_task()
    app.drain.members.add(websocket)
    if app.drain.draining:
        websocket.on_drain(1001)
    ctx = AppContext(app, websocket=websocket)
    token = _cv_app.set(ctx)
    chain = compiled.websocket_chain
    error: BaseException | None = None
    disconnected = False
    try:
        if appcontext_pushed.receivers:
            await send_signal(appcontext_pushed, app)
        endpoint = match_request(compiled, ctx, websocket, True)
        chain = chain if endpoint is None else endpoint.chain
        if compiled.eager_sessions:
            await open_session(app, ctx)
        response = await _dispatch_websocket(
            app, compiled, ctx, websocket, endpoint, chain
        )
        if response is not None and not websocket.accepted and not websocket.closed:
            await save_websocket_session(app, ctx, response)
            await websocket.send_rejection(response)
        elif not websocket.closed:
            # A handler that returns without closing ends the session normally.
            if not websocket.accepted:  # (a refusal: a mistake, unless it said so)
                _never_accepted(app, websocket)
            await websocket.close(1000)
    except asyncio.CancelledError as exc:  # WebsocketDisconnect is one too
        if not isinstance(exc, WebsocketDisconnect) and not _cancelled_by_peer(
            websocket
        ):
            error = exc
            raise
        disconnected = True
        exc.__traceback__ = None  # a TaskGroup's frame may hold it: see guard_view
    except BaseException as exc:
        error = exc
        raise
    finally:
        try:
            ending = _ending(app, compiled, ctx, websocket, chain, error, disconnected)
            if ending is not None:
                await ending
        finally:
            app.drain.members.discard(websocket)  # after: the deadline bounds ending
            _cv_app.reset(token)
            if ctx.handled_error is not None:  # see full_dispatch
                drop_tracebacks(ctx.handled_error)
            if appcontext_popped.receivers:
                await send_signal(appcontext_popped, app)


def _ending(
    app: Microframework,
    compiled: Compiled,
    ctx: AppContext,
    websocket: Websocket,
    chain: Chain,
    error: BaseException | None,
    disconnected: bool,
) -> Coroutine[Any, Any, None] | None:
    # What is left once the handler ended (most connections: nothing, no coroutine).
    reader, away = websocket.finish(), websocket.going_away
    teardown_needed = (
        chain.teardown or compiled.teardown_appcontext or _signals.listening
    )
    saves = ctx.opened_session is not None or compiled.saves_always  # as Quart's
    if reader is None and away is None and not saves and not teardown_needed:
        return None
    if disconnected:  # a fresh one: the caught one's traceback holds the handler
        error = WebsocketDisconnect(
            websocket.close_code or 1005, websocket.close_reason or ""
        )
    return _end_websocket(
        app,
        ctx,
        reader,
        ctx.unhandled_error or error,
        chain if teardown_needed else None,
        saves,
        away,
    )


async def _end_websocket(
    app: Microframework,
    ctx: AppContext,
    reader: asyncio.Task[None] | None,
    error: BaseException | None,
    chain: Chain | None,
    saves: bool = False,
    away: asyncio.Task[None] | None = None,
) -> None:
    cancelled: asyncio.CancelledError | None = None
    drain = app.drain  # after_serving waits for this too (see _finish_http)
    drain.tearing_down += 1
    try:
        if reader is not None:
            task = asyncio.current_task()
            asked = task.cancelling() if task is not None else 0
            try:
                await reader  # cancelled by finish()
            except asyncio.CancelledError as exc:
                # Unless this task was cancelled meanwhile (shutdown): raised after.
                if task is not None and task.cancelling() > asked:
                    cancelled = exc
        if saves:
            try:
                await save_websocket_session(app, ctx, None)
            except Exception:
                app.logger.exception("Saving the websocket's session failed")
        if chain is not None:
            await teardown(app, ctx, error, chain)
        if away is not None:  # the drain's answer, sent whole before the app returns
            await asyncio.wait({away})
    finally:
        drain.torn_down()
    if cancelled is not None:
        raise cancelled


def _never_accepted(app: Microframework, websocket: Websocket) -> None:
    app.logger.warning(
        "Websocket handler %r returned without accepting: the handshake was refused"
        " (403). A handler is 'async def' and awaits websocket.accept(), send() or"
        " receive(); to refuse on purpose, return a response or abort(403).",
        websocket.endpoint,
    )


def _cancelled_by_peer(websocket: Websocket) -> bool:
    # Ours (the peer left) is swallowed; one from outside (shutdown) must propagate.
    task = asyncio.current_task()
    return (
        websocket.cancelled_by_disconnect
        and task is not None
        and websocket.uncancel_own(task)
    )


async def _dispatch_websocket(
    app: Microframework,
    compiled: Compiled,
    ctx: AppContext,
    websocket: Websocket,
    endpoint: Endpoint | None,
    chain: Chain,
) -> Response | None:
    try:
        try:
            rv = await _websocket_handler(app, websocket, endpoint, chain)
        except Exception as exc:  # not a WebsocketDisconnect: a CancelledError
            rv = app.handle_user_exception(exc)
            if inspect.isawaitable(rv):  # as full_dispatch does
                rv = await rv
            ctx.handled_error = exc
        except asyncio.CancelledError as exc:
            if (error := _unasked(exc)) is None:
                raise
            raise error from exc
        except BaseExceptionGroup as group:
            if (gone := _disconnect_in(group)) is None:
                raise
            raise gone from None
        if rv is None:
            response = None
        elif compiled.custom_make_response:
            response = await app.make_response(rv)
        else:
            response = make_response(app, rv, None)
        for func in ctx.after_request_functions or ():
            # Typed for HTTP; a websocket's may get None, as its after hooks do.
            response = await app.ensure_async(func)(response)  # type: ignore[arg-type]
        for after in chain.after:
            response = await after(response)
        if websocket_finished.receivers:  # a receiver's error is the handler's
            await send_signal(websocket_finished, app, response=response)
        return response
    except Exception as exc:
        # Accepted, too late for an HTTP answer: handled as Quart does (logged; its 500
        # handler, which may still send, and after hooks run), then closed with 1011.
        if accepted := websocket.accepted:
            ctx.unhandled_error = exc
        try:
            response = await _handle_exception(app, compiled, exc, ctx, chain)
        finally:
            if accepted and not websocket.closed:
                await websocket.close(1011)
        if websocket_finished.receivers:
            await _announce_error_response(app, websocket_finished, response)
        return response


def _disconnect_in(group: BaseExceptionGroup[BaseException]) -> BaseException | None:
    # Python < 3.13: an asyncio.TaskGroup whose body's receive() raised the disconnect
    # (a CancelledError subclass) groups it as an error. The disconnect, as without.
    gone, rest = group.split(WebsocketDisconnect)
    if gone is None or rest is not None:
        return None
    first: BaseException = gone
    while isinstance(first, BaseExceptionGroup):
        first = first.exceptions[0]
    return first


def _websocket_handler(
    app: Microframework, websocket: Websocket, endpoint: Endpoint | None, chain: Chain
) -> Awaitable[Any]:
    # The view's own coroutine when nothing runs before it: no frame of ours between.
    if websocket_started.receivers or chain.url_value_preprocessors or chain.before:
        return _before_websocket_handler(app, websocket, endpoint, chain)
    return _websocket_view(websocket, endpoint)


async def _before_websocket_handler(
    app: Microframework, websocket: Websocket, endpoint: Endpoint | None, chain: Chain
) -> Any:
    # An untrusted Host's too, as Flask's request_started: websocket_finished follows.
    if websocket_started.receivers:
        await send_signal(websocket_started, app)
    if websocket.routing_exception.__class__ is SecurityError:
        raise websocket.routing_exception  # a Host not in TRUSTED_HOSTS reaches no hook
    rv = await run_before(chain, websocket)
    if rv is not None:
        return rv
    return await _websocket_view(websocket, endpoint)


def _websocket_view(websocket: Websocket, endpoint: Endpoint | None) -> Awaitable[Any]:
    if websocket.routing_exception is not None:
        raise websocket.routing_exception
    if endpoint is None:
        raise RuntimeError(
            f"no handler is registered for endpoint {websocket.endpoint!r}"
        )
    return endpoint.view(**(websocket.view_args or {}))
