"""``AppContext`` (app, ``g``, and a request *or* websocket), push/pop and the copy helpers.

Rule: one ``ContextVar``; ``push`` stores the token ``set()`` returns, ``pop`` resets it.
A copy shares the original's request and ``g`` and never runs teardown.
"""

from __future__ import annotations

import asyncio
import functools
import sys
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Coroutine
from collections.abc import Iterator
from contextvars import Token
from types import TracebackType
from typing import Any
from typing import Literal
from typing import NoReturn
from typing import overload
from typing import ParamSpec
from typing import Self
from typing import TYPE_CHECKING
from typing import TypeVar

from ._compile import current_tables
from ._compile import match_request
from ._responses import open_session
from ._responses import open_session_now
from ._responses import teardown
from ._responses import teardown_app
from .globals import _cv_app
from .signals import appcontext_popped
from .signals import appcontext_pushed
from .signals import send_signal

if TYPE_CHECKING:
    from werkzeug.routing import MapAdapter

    from .app import Microframework
    from .scaffold import T_after_request
    from .scaffold import T_after_websocket
    from .sessions import SessionMixin
    from .wrappers.request import Request
    from .wrappers.response import Response
    from .wrappers.websocket import Websocket

P = ParamSpec("P")
T = TypeVar("T")
_sentinel: Any = object()


class AppCtxGlobals:
    """The ``g`` object: a namespace for data during one app context."""

    # Declared so type checkers accept ``g.anything``, as users write it.
    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__[name]
        except KeyError:
            raise AttributeError(name) from None

    if TYPE_CHECKING:  # at run time object's own, without a Python call per write

        def __setattr__(self, name: str, value: Any) -> None: ...

    def __delattr__(self, name: str) -> None:
        try:
            del self.__dict__[name]
        except KeyError:
            raise AttributeError(name) from None

    def get(self, name: str, default: Any = None) -> Any:
        return self.__dict__.get(name, default)

    def pop(self, name: str, default: Any = _sentinel) -> Any:
        if default is _sentinel:
            return self.__dict__.pop(name)
        return self.__dict__.pop(name, default)

    def setdefault(self, name: str, default: Any = None) -> Any:
        return self.__dict__.setdefault(name, default)

    def __contains__(self, item: str) -> bool:
        return item in self.__dict__

    def __iter__(self) -> Iterator[str]:
        return iter(self.__dict__)

    def __repr__(self) -> str:
        ctx = _cv_app.get(None)
        if ctx is not None:
            return f"<microframework.g of '{ctx.app.name}'>"
        return object.__repr__(self)


class AppContext:
    """The context of one app, and of the request or websocket being handled, if any."""

    __slots__ = (
        "app", "_g", "request", "websocket", "opened_session", "url_adapter",
        "after_request_functions", "_cv_token", "_tears_down", "unhandled_error",
        "handled_error", "response_sent", "sharing",
    )  # fmt: skip

    def __init__(
        self,
        app: Microframework,
        request: Request | None = None,
        websocket: Websocket | None = None,
        *,
        g: AppCtxGlobals | None = None,
    ) -> None:
        self.app = app
        self._g = g  # made on first use: most requests never touch g
        self.request = request
        self.websocket = websocket
        self.opened_session: SessionMixin | None = None
        self.url_adapter: MapAdapter | None = None
        self.after_request_functions: list[Callable[[Response], Any]] | None = None
        self._cv_token: Token[AppContext] | None = None
        #: What pop() tears down: "all"; "none" (a copy); "app" (an app context
        #: pushed inside a request's: the request is the outer one's to tear down).
        self._tears_down = "all"
        #: An error turned into a 500; teardown receives it, as in Flask.
        self.unhandled_error: BaseException | None = None
        #: An error a handler answered: its traceback goes as the request ends.
        self.handled_error: BaseException | None = None
        #: Resolved once the response went out; background tasks wait on it (True:
        #: a stream has begun, they start at once).
        self.response_sent: asyncio.Future[None] | Literal[True] | None = None
        #: The request's own context, for one that shares its request (an app
        #: context pushed in a view, a copy): where its response_sent is.
        self.sharing: AppContext | None = None

    @property
    def g(self) -> AppCtxGlobals:
        """The namespace object behind the ``g`` proxy."""
        g = self._g
        if g is None:
            g = self._g = self.app.app_ctx_globals_class()
        return g

    @property
    def session(self) -> SessionMixin:
        """The session, opened on first use when the interface allows it."""
        session = self.opened_session
        if session is None:
            if self.request is None and self.websocket is None:
                raise RuntimeError("there is no session outside a request or websocket")
            session = self.opened_session = open_session_now(self.app, self)
        return session

    @session.setter
    def session(self, value: SessionMixin | None) -> None:
        self.opened_session = value

    @property
    def pushed(self) -> bool:
        """True while pushed by :meth:`push` (by hand or ``async with``), not by the server."""
        return self._cv_token is not None

    @classmethod
    def for_app(cls, app: Microframework) -> AppContext:
        """A new app context of *app*, keeping the request or websocket of an active
        context of *app* (with a new ``g``; its pop tears the app context down only)."""
        outer = _cv_app.get(None)
        if outer is not None and outer.app is app:
            if outer.request is not None or outer.websocket is not None:
                return outer._sharing(None, "app")
        return cls(app)

    def copy(self) -> AppContext:
        """A context sharing this one's app, request, websocket, session and ``g``."""
        return self._sharing(self.g, "none")

    def _sharing(self, g: AppCtxGlobals | None, tears_down: str) -> AppContext:
        ctx = self.__class__(self.app, self.request, self.websocket, g=g)
        if self.request is not None or self.websocket is not None:
            # Opened now if not yet: one session, which this context saves (as Quart).
            ctx.opened_session = self.session
        ctx.url_adapter = self.url_adapter
        ctx._tears_down = tears_down
        ctx.sharing = self.sharing or self
        return ctx

    async def push(self) -> None:
        """Make this the active context."""
        if self._cv_token is not None:
            raise RuntimeError("this context is already pushed")
        self._cv_token = _cv_app.set(self)
        current = self.request or self.websocket
        if current is not None:
            if self.url_adapter is None:
                # Pushed by hand (tests): route it, so url_for and request.endpoint work.
                compiled = current_tables(self.app)
                match_request(compiled, self, current, self.websocket is not None)
            if self.opened_session is None:
                await open_session(self.app, self)
        if appcontext_pushed.receivers and self._tears_down != "none":  # not a copy
            await send_signal(appcontext_pushed, self.app)

    def match_request(self) -> None:
        """Flask's hook for ``open_session``: here the request is already matched."""

    def pushed_here(self) -> bool:
        """Whether this is the active context, pushed in the running contextvars
        context (a task started since has a copy: active there, but not pushed)."""
        token = self._cv_token
        if token is None or _cv_app.get(None) is not self:
            return False
        try:
            _cv_app.reset(token)  # the one way to tell on 3.11: renewed below
        except ValueError:
            return False
        self._cv_token = _cv_app.set(self)
        return True

    async def pop(self, exc: BaseException | None = _sentinel) -> None:
        """Run teardown (unless this is a copy) and restore the previous context."""
        if not self.pushed_here():
            # (In a task's copy its teardown would run, and then the reset fail.)
            raise RuntimeError("popped a context that is not the active one")
        token = self._cv_token
        assert token is not None
        try:
            if self._tears_down != "none":
                if exc is _sentinel:  # as Flask and Quart: the error being handled
                    exc = sys.exc_info()[1]
                if exc is None:
                    exc = self.unhandled_error
                if self._tears_down == "app":
                    await teardown_app(self.app, exc)
                else:
                    await teardown(self.app, self, exc)
        finally:
            self._cv_token = None
            _cv_app.reset(token)
            if appcontext_popped.receivers and self._tears_down != "none":
                await send_signal(appcontext_popped, self.app)

    def __enter__(self) -> NoReturn:
        # Flask's plain ``with``: its teardown would have to run without awaiting.
        raise TypeError(
            "contexts are entered with 'async with' here, as in Quart:"
            " 'async with app.app_context():', 'async with app.test_request_context():'"
        )

    def __exit__(self, *exc_info: object) -> None:  # only so ``with`` reaches __enter__
        pass

    async def __aenter__(self) -> Self:
        await self.push()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.pop(exc_value)


# Flask 3.2 and Quart both spell these; they are the same context here.
if TYPE_CHECKING:
    # For the checker only: the contexts made for a request or a websocket have one
    # (Quart's RequestContext.request, Flask 3.2's AppContext.request are never None).

    class RequestContext(AppContext):
        request: Request

    class WebsocketContext(AppContext):
        websocket: Websocket

else:
    RequestContext = AppContext
    WebsocketContext = AppContext


def has_app_context() -> bool:
    """True inside an app context (and so inside any request or websocket)."""
    return _cv_app.get(None) is not None


def has_request_context() -> bool:
    """True while an HTTP request is being handled."""
    ctx = _cv_app.get(None)
    return ctx is not None and ctx.request is not None


def has_websocket_context() -> bool:
    """True while a websocket connection is being handled."""
    ctx = _cv_app.get(None)
    return ctx is not None and ctx.websocket is not None


def _copying(
    what: str, func: Callable[P, Any]
) -> Callable[P, Coroutine[Any, Any, Any]]:
    ctx = _cv_app.get(None)
    if ctx is None or (what != "app" and getattr(ctx, what) is None):
        raise RuntimeError(f"there is no {what} context to copy; use this inside one")

    announces = what == "app"  # Quart's app context copy is a context of its own

    @functools.wraps(func)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
        pushed = False  # popped only after a push that announced itself, as Quart
        try:
            async with ctx.copy():
                if announces and appcontext_pushed.receivers:
                    await send_signal(appcontext_pushed, ctx.app)
                pushed = announces
                return await ctx.app.ensure_async(func)(*args, **kwargs)
        finally:
            if pushed and appcontext_popped.receivers:
                await send_signal(appcontext_popped, ctx.app)

    return wrapper


@overload
def copy_current_app_context(
    func: Callable[P, Awaitable[T]],
) -> Callable[P, Coroutine[Any, Any, T]]: ...
@overload
def copy_current_app_context(
    func: Callable[P, T],
) -> Callable[P, Coroutine[Any, Any, T]]: ...
def copy_current_app_context(
    func: Callable[P, Any],
) -> Callable[P, Coroutine[Any, Any, Any]]:
    """Decorate *func* to run inside a copy of the current app context."""
    return _copying("app", func)


@overload
def copy_current_request_context(
    func: Callable[P, Awaitable[T]],
) -> Callable[P, Coroutine[Any, Any, T]]: ...
@overload
def copy_current_request_context(
    func: Callable[P, T],
) -> Callable[P, Coroutine[Any, Any, T]]: ...
def copy_current_request_context(
    func: Callable[P, Any],
) -> Callable[P, Coroutine[Any, Any, Any]]:
    """Decorate *func* to run inside a copy of the current request context."""
    return _copying("request", func)


@overload
def copy_current_websocket_context(
    func: Callable[P, Awaitable[T]],
) -> Callable[P, Coroutine[Any, Any, T]]: ...
@overload
def copy_current_websocket_context(
    func: Callable[P, T],
) -> Callable[P, Coroutine[Any, Any, T]]: ...
def copy_current_websocket_context(
    func: Callable[P, Any],
) -> Callable[P, Coroutine[Any, Any, Any]]:
    """Decorate *func* to run inside a copy of the current websocket context."""
    return _copying("websocket", func)


def after_this_request(func: T_after_request) -> T_after_request:
    """Run *func* on the response of the current request, before ``after_request``."""
    _after_this("request", func)
    return func


def after_this_websocket(func: T_after_websocket) -> T_after_websocket:
    """Run *func* after the current websocket handler, before ``after_websocket``."""
    _after_this("websocket", func)
    return func


def _after_this(what: str, func: Callable[[Any], Any]) -> None:
    ctx = _cv_app.get(None)
    if ctx is None or getattr(ctx, what) is None:
        raise RuntimeError(f"after_this_{what} can only be used inside a {what}")
    if ctx._tears_down == "app" and ctx.sharing is not None:
        ctx = ctx.sharing  # an app context pushed in a view: for the view's response
    if ctx.after_request_functions is None:
        ctx.after_request_functions = []
    ctx.after_request_functions.append(func)


#: Flask's name for the class of ``g``.
_AppCtxGlobals = AppCtxGlobals
