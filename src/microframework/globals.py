"""The one ``ContextVar`` and the proxies users import.

Everything lives on the active ``AppContext``. Inside the framework, pass ``ctx``
explicitly: a proxy lookup costs far more than an attribute read.
"""

from __future__ import annotations

from collections.abc import Awaitable
from contextvars import ContextVar
from operator import attrgetter
from typing import Any
from typing import TYPE_CHECKING

from werkzeug.local import LocalProxy

if TYPE_CHECKING:
    from .app import Microframework
    from .ctx import AppContext
    from .ctx import AppCtxGlobals
    from .sessions import SessionMixin
    from .wrappers.request import Request
    from .wrappers.websocket import Websocket

_cv_app: ContextVar[AppContext] = ContextVar("microframework.app_ctx")


async def without_context(sending: Awaitable[None]) -> None:
    """Await *sending*, a response's last message, with no app context: the keep-alive
    timer or idle task a server makes as a response ends (uvicorn's, hypercorn's)
    copies the context, and would hold the request until the connection's next one."""
    token = _cv_app.set(None)  # type: ignore[arg-type] # read as get(None): none
    try:
        await sending
    finally:
        _cv_app.reset(token)


_no_app_msg = """\
Working outside of application context.

This typically means that you attempted to use functionality that needed the current
application. To solve this, set up an application context with app.app_context().\
"""
_no_req_msg = """\
Working outside of request context.

This typically means that you attempted to use functionality that needed an active HTTP
request. Consult the documentation on testing for information about how to avoid this
problem (app.test_request_context()).\
"""
_no_ws_msg = "Working outside of websocket context."


def _no_request(ctx: Any) -> str:
    # A context without a request: say what it is, not how to make a test one.
    if ctx is None:
        return _no_req_msg
    if ctx.websocket is not None:
        return (
            "Working outside of request context.\n\nThis is a websocket handler's"
            " context: use 'websocket' (its path, args and headers are the"
            " handshake's), not 'request'."
        )
    return (
        "Working outside of request context.\n\nThis app context has no request (a"
        " background task, a CLI command, before_serving): pass"
        " what it needs from the request as arguments."
    )


def _no_websocket(ctx: Any) -> str:
    if ctx is not None and ctx.request is not None:
        return (
            "Working outside of websocket context.\n\nThis is an HTTP request's"
            " context: use 'request', not 'websocket'."
        )
    return _no_ws_msg


def _request() -> Any:
    ctx = _cv_app.get(None)
    if ctx is not None and (current := ctx.request) is not None:
        return current
    raise RuntimeError(_no_request(ctx))


def _websocket() -> Any:
    ctx = _cv_app.get(None)
    if ctx is not None and (current := ctx.websocket) is not None:
        return current
    raise RuntimeError(_no_websocket(ctx))


def _request_ctx() -> Any:
    ctx = _cv_app.get(None)
    if ctx is not None and ctx.request is not None:
        return ctx
    raise RuntimeError(_no_request(ctx))


def _websocket_ctx() -> Any:
    ctx = _cv_app.get(None)
    if ctx is not None and ctx.websocket is not None:
        return ctx
    raise RuntimeError(_no_websocket(ctx))


def _session() -> Any:
    ctx = _cv_app.get(None)
    if ctx is None or (ctx.request is None and ctx.websocket is None):
        raise RuntimeError(_no_request(ctx))
    session = ctx.session
    # Any use, even `"user" in session`, makes the page vary on Cookie (Flask 3.1.3).
    session.accessed = True
    return session


def _forward(name: str, slot: str) -> property:
    # Runs wholly in C: ``_current_ctx`` is ``ContextVar.get`` defaulting to the proxy.
    # When a read fails (no context, or no request in it) Python falls back to
    # ``__getattr__``, which raises the right error.
    return property(attrgetter(f"_current_ctx.{slot}.{name}"))


class _RequestProxy(LocalProxy):  # type: ignore[type-arg]
    # A direct ``__getattr__``: werkzeug's generic lookup costs about 0.65 us a read,
    # this about 0.35 us. Every other operation is werkzeug's.
    __slots__ = ()
    _current_ctx = property(_cv_app.get)  # the context, else the proxy itself

    def __getattr__(self, name: str) -> Any:
        ctx = _cv_app.get(None)
        if ctx is not None and (current := ctx.request) is not None:
            return getattr(current, name)
        raise RuntimeError(_no_request(ctx))


class _WebsocketProxy(LocalProxy):  # type: ignore[type-arg]
    __slots__ = ()
    _current_ctx = property(_cv_app.get)

    def __getattr__(self, name: str) -> Any:
        ctx = _cv_app.get(None)
        if ctx is not None and (current := ctx.websocket) is not None:
            return getattr(current, name)
        raise RuntimeError(_no_websocket(ctx))


class _GlobalsProxy(LocalProxy):  # type: ignore[type-arg]
    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        ctx = _cv_app.get(None)
        if ctx is not None:
            return getattr(ctx.g, name)
        raise RuntimeError(_no_app_msg)

    def __setattr__(self, name: str, value: Any) -> None:
        ctx = _cv_app.get(None)
        if ctx is None:
            raise RuntimeError(_no_app_msg)
        setattr(ctx.g, name, value)


class _ContextProxy(LocalProxy):  # type: ignore[type-arg]
    # Older extensions keep per-request state on the context. Its fixed slots save
    # every request a dict, so names it lacks go to the context's ``g``.
    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        ctx = self._get_current_object()
        try:
            return getattr(ctx, name)
        except AttributeError:
            return getattr(ctx.g, name)

    def __setattr__(self, name: str, value: Any) -> None:
        ctx = self._get_current_object()
        setattr(ctx if hasattr(type(ctx), name) else ctx.g, name, value)


# The attributes views read most, looked up on the proxy class (see _forward).
for _name in (
    "args", "body", "cookies", "data", "endpoint", "files", "form", "full_path",
    "get_data", "get_json", "headers", "host", "is_json", "json", "method",
    "mimetype", "path", "remote_addr", "scheme", "url", "values", "view_args",
):  # fmt: skip
    setattr(_RequestProxy, _name, _forward(_name, "request"))
for _name in (
    "accept", "args", "close", "headers", "path", "receive", "receive_json",
    "send", "send_json", "view_args",
):  # fmt: skip
    setattr(_WebsocketProxy, _name, _forward(_name, "websocket"))
del _name

current_app: Microframework = LocalProxy(  # type: ignore[assignment]
    _cv_app, "app", unbound_message=_no_app_msg
)
g: AppCtxGlobals = _GlobalsProxy(_cv_app, "g", unbound_message=_no_app_msg)  # type: ignore[assignment]
request: Request = _RequestProxy(_request)  # type: ignore[assignment]
websocket: Websocket = _WebsocketProxy(_websocket)  # type: ignore[assignment]
session: SessionMixin = LocalProxy(_session)  # type: ignore[assignment]
# Flask's and Quart's "useful internals": the context itself (one class here).
app_ctx: AppContext = _ContextProxy(_cv_app, unbound_message=_no_app_msg)  # type: ignore[assignment]
request_ctx: AppContext = _ContextProxy(_request_ctx)  # type: ignore[assignment]
websocket_ctx: AppContext = _ContextProxy(_websocket_ctx)  # type: ignore[assignment]


def unproxied(value: Any) -> Any:
    """*value*, or what a proxy (the ``request`` global, say) stands for now: a
    context must hold the object, as the global would then resolve to itself."""
    for _ in range(9):  # a proxy of a proxy...; one that resolves to itself must end
        if not isinstance(value, LocalProxy):
            return value
        value = value._get_current_object()
    raise RuntimeError("a proxy that resolves to a proxy, 8 deep or endlessly")
