"""Flashed messages, kept in the session's ``"_flashes"`` as ``(category, message)``.

Rule: a connection's first :func:`get_flashed_messages` pops them and keeps them for the
rest of it. :func:`flash` acts when called and returns an awaitable, so Flask's
``flash(...)`` and Quart's ``await flash(...)`` both port."""

from __future__ import annotations

import functools
import inspect
import weakref
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Generator
from collections.abc import Iterable
from typing import Any
from typing import Literal
from typing import overload
from typing import TYPE_CHECKING

from ._utils import is_async_callable
from ._utils import settled
from .globals import _cv_app
from .signals import message_flashed

if TYPE_CHECKING:
    from .ctx import AppContext

# Popped flashes per connection; weak keys, so an entry goes with its connection.
_taken: weakref.WeakKeyDictionary[Any, list[tuple[str, str]]] = (
    weakref.WeakKeyDictionary()
)


def _connection_ctx(what: str) -> AppContext:
    ctx = _cv_app.get(None)
    if ctx is None or (ctx.request is None and ctx.websocket is None):
        raise RuntimeError(f"{what} needs an active request or websocket context")
    return ctx


class _Flashed:
    """What :func:`flash` returns: awaiting it runs the async receivers."""

    __slots__ = ("_pending",)

    def __init__(self, pending: list[Callable[[], Any]]) -> None:
        self._pending = pending

    def __await__(self) -> Generator[Any, None, None]:
        pending, self._pending = self._pending, []
        for call in pending:
            yield from call().__await__()


def _pairs(stored: Any) -> list[tuple[str, str]]:
    """*stored* as ``(category, message)`` pairs, or none if flash() didn't write it."""
    try:
        return [(category, message) for category, message in stored]
    except (TypeError, ValueError):
        return []  # not pairs: an older format, or another writer's


def flash(message: str, category: str = "message") -> Awaitable[None]:
    """Store *message* under *category* for the next :func:`get_flashed_messages`.

    Sync ``message_flashed`` receivers run at once, async ones when this is awaited."""
    ctx = _connection_ctx("flash")
    session = ctx.session
    session.accessed = True  # as a use of the proxy
    # What flash() didn't write (None, a number, not pairs) would 500 here on every
    # flash, or make get_flashed_messages drop the new message with it: start anew.
    flashes = _pairs(session.get("_flashes", ()))
    flashes.append((category, message))
    session["_flashes"] = flashes
    pending: list[Callable[[], Any]] = []
    if message_flashed.receivers and not message_flashed.is_muted:
        app = ctx.app
        for receiver in message_flashed.receivers_for(app):
            if is_async_callable(receiver):
                pending.append(
                    functools.partial(receiver, app, message=message, category=category)
                )
            else:
                value = receiver(app, message=message, category=category)
                if inspect.isawaitable(value):  # a plain wrapper of an async one
                    pending.append(functools.partial(settled, value))
    return _Flashed(pending)


@overload
def get_flashed_messages(
    with_categories: Literal[False] = False, category_filter: Iterable[str] = ()
) -> list[str]: ...
@overload
def get_flashed_messages(
    with_categories: Literal[True], category_filter: Iterable[str] = ()
) -> list[tuple[str, str]]: ...
@overload
def get_flashed_messages(
    with_categories: bool, category_filter: Iterable[str] = ()
) -> list[str] | list[tuple[str, str]]: ...
def get_flashed_messages(
    with_categories: bool = False, category_filter: Iterable[str] = ()
) -> list[Any]:
    """The flashed messages, oldest first: strings, or ``(category, message)`` pairs."""
    ctx = _connection_ctx("get_flashed_messages")
    connection = ctx.request if ctx.request is not None else ctx.websocket
    flashes = _taken.get(connection)
    if flashes is None:
        session = ctx.session
        session.accessed = True  # the page shows what the session held: vary on Cookie
        stored = session.pop("_flashes") if "_flashes" in session else []
        flashes = _taken[connection] = _pairs(stored)
    if isinstance(category_filter, str):
        category_filter = (category_filter,)  # one category, not its letters
    if category_filter:
        wanted = set(category_filter)
        selected = [pair for pair in flashes if pair[0] in wanted]
    else:
        selected = list(flashes)
    if with_categories:
        return selected
    return [message for _, message in selected]
