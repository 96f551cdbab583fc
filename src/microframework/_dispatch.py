"""``_dispatch.py``: turns one ASGI connection into a response.

Owns the only per-request task we ever start, the disconnect watcher, and the only
timer, the response or idle timeout. Both exist only once a view actually waits or a
streamed body is being sent: a view that answers without suspending pays for neither.
A bytes response goes out as exactly two messages. The hot path reads the compiled
tables the app built at freeze time and nothing else.
"""

from __future__ import annotations

import asyncio
from typing import Any
from typing import TYPE_CHECKING

from werkzeug.exceptions import HTTPException
from werkzeug.routing.exceptions import RequestRedirect

from ._utils import Resumed
from .ctx import AppContext
from .exceptions import ClientDisconnected
from .exceptions import ResponseTimeout
from .exceptions import WebsocketDisconnect
from .files import FileBody
from .files import send_file_body
from .globals import _cv_app
from .signals import appcontext_popped
from .signals import appcontext_pushed
from .signals import appcontext_tearing_down
from .signals import got_serving_exception
from .signals import got_websocket_exception
from .signals import request_finished
from .signals import request_started
from .signals import request_tearing_down
from .signals import send_signal
from .signals import state as _signals
from .signals import websocket_finished
from .signals import websocket_started

if TYPE_CHECKING:
    from .app import _Chain
    from .app import _Compiled
    from .app import Microframework
    from .typing import Receive
    from .typing import Scope
    from .typing import Send
    from .wrappers.base import BaseRequestWebsocket
    from .wrappers.request import Request
    from .wrappers.response import Response

# Statuses that never carry a body (RFC 9110 6.4.1).
_NO_BODY_STATUS = frozenset({*range(100, 200), 204, 304})


def match_request(
    compiled: _Compiled, ctx: AppContext, request: BaseRequestWebsocket, websocket: bool
) -> Any:
    """Bind the adapter for this host and match the path; errors land on the request."""
    host = None
    adapter = None
    for name, value in request.scope["headers"]:
        if name == b"host":
            host = value
            break
    try:
        adapters = compiled.adapters
        adapter = adapters.bound.get((host, request.scheme, request.root_path))
        if adapter is None:
            adapter = adapters.get(
                host, request.scheme, request.root_path, request.server
            )
        ctx.url_adapter = adapter
        if not websocket:
            by_method = compiled.static_routes.get(request.path)
            if by_method is not None:
                found = by_method.get(request.method) or by_method.get(None)
                if found is not None:
                    request.url_rule, endpoint = found
                    request.view_args = {}
                    return endpoint
        key = (adapter, request.path, request.method, websocket)
        hit = compiled.match_cache.get(key)
        if hit is not None:
            rule, cached_args = hit
            request.url_rule = rule
            request.view_args = dict(cached_args)
            return compiled.endpoints.get(rule.endpoint)
        rule, args = adapter.match(
            request.path, request.method, websocket=websocket, return_rule=True
        )
        compiled.remember_match(key, rule, args)
    except RequestRedirect:
        assert adapter is not None
        # Match again with the query string so the redirect keeps it; rare, so the
        # common path never decodes the query string.
        try:
            adapter.match(
                request.path,
                request.method,
                websocket=websocket,
                query_args=request.query_string.decode("latin-1"),
            )
        except HTTPException as error:
            request.routing_exception = error
        return None
    except HTTPException as error:
        request.routing_exception = error
        return None
    request.url_rule = rule
    request.view_args = args  # type: ignore[assignment] # werkzeug returns a fresh dict
    return compiled.endpoints.get(rule.endpoint)


async def handle_http(
    app: Microframework, scope: Scope, receive: Receive, send: Send
) -> None:
    """Handle one HTTP request from start to teardown."""
    compiled = app._compiled or app._freeze()
    request = app.request_class(scope, receive, app)
    request._send = send
    ctx = AppContext(app, request)
    token = _cv_app.set(ctx)
    error: BaseException | None = None
    chain = compiled.app_chain
    listening = _signals.listening  # one flag while no signal has a receiver
    try:
        if listening and appcontext_pushed.receivers:
            await send_signal(appcontext_pushed, app)
        endpoint = match_request(compiled, ctx, request, False)
        if endpoint is not None:
            chain = endpoint.chain
        response = await full_dispatch(app, ctx, request, endpoint, chain)
        if listening and request_finished.receivers:
            await send_signal(request_finished, app, response=response)
        try:
            headers = response.asgi_headers()
        except Exception as exc:
            # A header that would split the response is the app's bug: a 500.
            response = await app.handle_exception(exc, ctx, chain)
            headers = response.asgi_headers()
        data = response._data
        status = response.status_code
        if (
            data is not None
            and status not in _NO_BODY_STATUS
            and request.method != "HEAD"
            and response.trailers is None
        ):
            # The common case, inlined: exactly two messages.
            await send(
                {"type": "http.response.start", "status": status, "headers": headers}
            )
            await send({"type": "http.response.body", "body": data, "more_body": False})
        else:
            await send_response(receive, send, request, response, headers)
    except ClientDisconnected as disconnect:
        # Nobody is listening: nothing to send, nothing to log.
        error = disconnect
    except BaseException as exc:
        error = exc
        raise
    finally:
        sent = ctx._response_sent
        if sent is not None and not sent.done():
            sent.set_result(None)
        try:
            if request._files or request._body_file is not None:
                request._close()
            if (
                chain.teardown
                or compiled.teardown_appcontext
                or (
                    listening
                    and (
                        request_tearing_down.receivers
                        or appcontext_tearing_down.receivers
                    )
                )
            ):
                await app._teardown(ctx, error or ctx._unhandled, chain)
        finally:
            _cv_app.reset(token)
            if listening and appcontext_popped.receivers:
                await send_signal(appcontext_popped, app)


async def full_dispatch(
    app: Microframework, ctx: AppContext, request: Request, endpoint: Any, chain: _Chain
) -> Response:
    """Preprocess, run the view, make and process the response; errors become responses."""
    try:
        if app._eager_sessions:
            await app._open_session(ctx)  # a store that waits: open before the view
        try:
            if _signals.listening and request_started.receivers:
                await send_signal(request_started, app)
            if chain.url_value_preprocessors:
                for preprocess in chain.url_value_preprocessors:
                    preprocess(request.endpoint, request.view_args)
            rv = None
            if chain.before:
                for before in chain.before:
                    rv = await before()
                    if rv is not None:
                        break
            if rv is None:
                if request.routing_exception is not None:
                    raise request.routing_exception
                if endpoint is None:
                    raise RuntimeError(
                        f"no view function is registered for endpoint {request.endpoint!r}"
                    )
                if request.method == "OPTIONS" and endpoint.automatic_options:
                    rv = app.make_default_options_response(ctx)
                else:
                    # Step the view once: most finish without waiting, and only
                    # one that suspends needs the timeout and disconnect guard.
                    args = request.view_args
                    coro = endpoint.view(**args) if args else endpoint.view()
                    try:
                        first = coro.send(None)
                    except StopIteration as done:
                        rv = done.value
                    else:
                        rv = await guard_view(endpoint, request, coro, first)
        except ClientDisconnected:
            raise
        except Exception as exc:
            rv = await app.handle_user_exception(exc, ctx)
        response = app._make_response(rv, request)
        if (
            chain.after
            or ctx._after_request_functions
            or ctx._session is not None
            or (app.config["SECRET_KEY"] and app._session_cookie_sent(request))
        ):
            # after_this_request and after_request functions, then the session.
            return await app._process_response(response, ctx, chain)
        return response
    except ClientDisconnected:
        raise
    except Exception as exc:
        return await app.handle_exception(exc, ctx, chain)


async def guard_view(endpoint: Any, request: Request, coro: Any, first: Any) -> Any:
    """Finish a view that suspended, under the response timeout and disconnect watch.

    A suspended view (a long-poll, a slow query) gets a timer for ``RESPONSE_TIMEOUT``
    (or the route's ``response_timeout``) and, once the body has been read, a task that
    notices the client leaving and cancels the view, so its ``finally`` blocks and
    teardown run.
    """
    guard = _Guard(request)
    guard.arm(endpoint.timeout)
    try:
        return await Resumed(coro, first)
    except asyncio.CancelledError:
        reason = guard.claim()
        if reason == "disconnect":
            raise ClientDisconnected() from None
        if reason == "timeout":
            raise ResponseTimeout() from None
        raise
    finally:
        guard.stop()


class _Guard:
    """A re-armable timer and a disconnect watcher, both cancelling one task.

    ``reason`` says which fired, so the task can tell its own cancellation from one
    that came from outside (a server shutting down), which it must not swallow.
    """

    __slots__ = ("task", "reason", "_timer", "_watcher", "_request")

    def __init__(self, request: Request) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.task = task
        self.reason: str | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._request = request
        self._watcher: asyncio.Task[None] | None = None
        # Watching consumes receive(): only once the body is no longer needed. If
        # it is still coming, the request starts the watch when the body ends.
        if request._body_finished():
            self.watch()
        else:
            request._guard = self

    def watch(self) -> None:
        """Start noticing a disconnect (the body has been read)."""
        if self._watcher is None:
            self._watcher = asyncio.create_task(self._watch(self._request._receive))

    def arm(self, timeout: float | None) -> None:
        if timeout is not None:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(timeout, self._fire, "timeout")

    def disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _fire(self, reason: str) -> None:
        if self.reason is None:
            self.reason = reason
            self.task.cancel()

    def claim(self) -> str | None:
        """The reason we cancelled the task (undoing that cancel), or ``None``."""
        if self.reason is not None and self.task.uncancel() == 0:
            return self.reason
        return None

    async def _watch(self, receive: Receive) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        self._fire("disconnect")

    def stop(self) -> None:
        self.disarm()
        if self._request._guard is self:
            self._request._guard = None
        watcher = self._watcher
        if watcher is not None and not watcher.done():
            # Cancelling is enough: the watcher only waits in receive(), and it ends
            # on the loop's next pass. Awaiting it would cost every waiting view an
            # extra round trip through the loop when thousands are released at once.
            watcher.cancel()


def _wants_trailers(request: Request, response: Response) -> bool:
    extensions = request.scope.get("extensions")
    return (
        response.trailers is not None
        and extensions is not None
        and "http.response.trailers" in extensions
    )


async def send_response(
    receive: Receive,
    send: Send,
    request: Request,
    response: Response,
    headers: list[tuple[bytes, bytes]],
) -> None:
    """Send *response*: a bytes body, a watched stream, and trailers if the server takes them."""
    status = response.status_code
    trailers = _wants_trailers(request, response)
    start: dict[str, Any] = {
        "type": "http.response.start",
        "status": status,
        "headers": headers,
    }
    if trailers:
        start["trailers"] = True
    await send(start)
    data = response._data
    if request.method == "HEAD" or status in _NO_BODY_STATUS:
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        if data is None:
            await response._close_body()
    elif data is not None:
        await send({"type": "http.response.body", "body": data, "more_body": False})
    elif (
        not trailers
        and isinstance(response._iterable, FileBody)
        and await send_file_body(request.scope, send, response._iterable)
    ):
        pass  # the server sent the file itself (pathsend / zerocopysend)
    elif not await _send_stream(send, request, response):
        return
    if trailers:
        await send(
            {
                "type": "http.response.trailers",
                "headers": await response._trailer_headers(),
                "more_trailers": False,
            }
        )


async def _send_stream(send: Send, request: Request, response: Response) -> bool:
    """Stream the body; False if it was abandoned (idle timeout) and must not be finished.

    Chunks go out as they come (no buffering). Between chunks the body may take at most
    the response's idle ``timeout`` (``RESPONSE_TIMEOUT`` by default) to produce the next.
    """
    guard = _Guard(request)
    timeout = response.timeout
    if timeout is None and request._app is not None:
        timeout = request._app.config.get("RESPONSE_TIMEOUT")
    chunks = response.iter_encoded()
    try:
        while True:
            step = chunks.__anext__()
            try:
                first = step.send(None)
            except StopIteration as done:
                chunk = done.value
            except StopAsyncIteration:
                break
            else:
                guard.arm(timeout)
                try:
                    chunk = await Resumed(step, first)
                except StopAsyncIteration:
                    break
                finally:
                    guard.disarm()
            if chunk:
                await send(
                    {"type": "http.response.body", "body": chunk, "more_body": True}
                )
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        return True
    except asyncio.CancelledError:
        reason = guard.claim()
        if reason == "disconnect":
            raise ClientDisconnected() from None
        if reason == "timeout":
            # Ending the body would make a truncated stream look complete; leave it
            # unfinished so the server closes the connection.
            await chunks.aclose()
            if request._app is not None:
                request._app.logger.warning(
                    "Stream for %s %s idle past its timeout; closing the connection",
                    request.method,
                    request.path,
                )
            return False
        raise
    except OSError as exc:
        # Some servers raise from send() once the peer is gone.
        raise ClientDisconnected() from exc
    finally:
        guard.stop()


async def handle_websocket(
    app: Microframework, scope: Scope, receive: Receive, send: Send
) -> None:
    """Handle one websocket connection: hooks, handler, rejection or close, teardown."""
    compiled = app._compiled or app._freeze()
    message = await receive()
    if message["type"] != "websocket.connect":
        return  # the client left before the handshake began
    websocket = app.websocket_class(scope, receive, send, app)
    # The task a disconnect cancels is this one, whichever task happens to accept.
    websocket._handler = asyncio.current_task()
    ctx = AppContext(app, websocket=websocket)
    token = _cv_app.set(ctx)
    chain = compiled.websocket_chain
    error: BaseException | None = None
    try:
        if appcontext_pushed.receivers:
            await send_signal(appcontext_pushed, app)
        endpoint = match_request(compiled, ctx, websocket, True)
        if endpoint is not None:
            chain = endpoint.chain
        if app._eager_sessions:
            await app._open_session(ctx)
        response = await _dispatch_websocket(app, ctx, websocket, endpoint, chain)
        if websocket_finished.receivers:
            await send_signal(websocket_finished, app, response=response)
        if response is not None and not websocket.accepted:
            await websocket._send_response(response)
        elif not websocket.closed:
            # A handler that returns without closing ends the session normally.
            await websocket.close(1000)
    except (WebsocketDisconnect, asyncio.CancelledError) as exc:
        if isinstance(exc, asyncio.CancelledError):
            task = asyncio.current_task()
            if (
                not websocket._cancelled_by_disconnect
                or task is None
                or task.uncancel()
            ):
                error = exc
                raise
        error = WebsocketDisconnect(
            websocket.close_code or 1005, websocket.close_reason or ""
        )
    except BaseException as exc:
        error = exc
        raise
    finally:
        try:
            await websocket._finish()
            await app._teardown(ctx, error or ctx._unhandled, chain)
        finally:
            _cv_app.reset(token)
            if appcontext_popped.receivers:
                await send_signal(appcontext_popped, app)


async def _dispatch_websocket(
    app: Microframework, ctx: AppContext, websocket: Any, endpoint: Any, chain: _Chain
) -> Response | None:
    try:
        try:
            if websocket_started.receivers:
                await send_signal(websocket_started, app)
            for preprocess in chain.url_value_preprocessors:
                preprocess(websocket.endpoint, websocket.view_args)
            rv = None
            for before in chain.before:
                rv = await before()
                if rv is not None:
                    break
            if rv is None:
                if websocket.routing_exception is not None:
                    raise websocket.routing_exception
                rv = await endpoint.view(**websocket.view_args)
        except WebsocketDisconnect:
            raise
        except Exception as exc:
            rv = await app.handle_user_exception(exc, ctx)
        response = None if rv is None else app._make_response(rv, None)
        for func in ctx._after_request_functions or ():
            response = await app.ensure_async(func)(response)
        for after in chain.after:
            response = await after(response)
        return response
    except WebsocketDisconnect:
        raise
    except Exception as exc:
        if websocket.accepted:
            # Too late for an HTTP answer: log it and close as an internal error.
            ctx._unhandled = exc
            if got_websocket_exception.receivers:
                await send_signal(got_websocket_exception, app, exception=exc)
            app.log_exception((type(exc), exc, exc.__traceback__))
            if not websocket.closed:
                await websocket.close(1011)
            if app._propagates():
                raise
            return None
        return await app.handle_exception(exc, ctx, chain)


async def handle_lifespan(
    app: Microframework, scope: Scope, receive: Receive, send: Send
) -> None:
    """Run the ASGI lifespan protocol: startup hooks, then shutdown hooks."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            try:
                await app.startup(scope.get("state"))
            except Exception as exc:
                if got_serving_exception.receivers:
                    await send_signal(got_serving_exception, app, exception=exc)
                app.logger.exception("Startup failed")
                await send(
                    {"type": "lifespan.startup.failed", "message": _describe(exc)}
                )
                return
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            try:
                await app.shutdown()
            except Exception as exc:
                if got_serving_exception.receivers:
                    await send_signal(got_serving_exception, app, exception=exc)
                app.logger.exception("Shutdown failed")
                await send(
                    {"type": "lifespan.shutdown.failed", "message": _describe(exc)}
                )
                return
            await send({"type": "lifespan.shutdown.complete"})
            return


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"
