"""Small pure helpers: coroutine detection, running sync code in a thread, root paths,
bounded memos.

Rule: imports only the standard library.
"""

from __future__ import annotations

import asyncio
import functools
import importlib.util
import inspect
import os
import sys
import types
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Coroutine
from collections.abc import Generator
from types import CoroutineType
from typing import Any
from typing import ParamSpec
from typing import TypeVar

P = ParamSpec("P")
T = TypeVar("T")
K = TypeVar("K")

#: Entries a memo keyed by values from requests holds before it starts over.
MEMO_LIMIT = 256


def remember(memo: dict[K, T], key: K, value: T) -> T:
    """Store *value* under *key* and return it. A full *memo* starts over, so keys a
    request chooses (redirect targets, error descriptions, template sources) keep
    it bounded."""
    if len(memo) >= MEMO_LIMIT:
        memo.clear()
    memo[key] = value
    return value


def is_async_callable(func: Any) -> bool:
    """True if calling *func* returns an awaitable we should await.

    Looks through ``functools.partial`` and callable objects, so the decision can be made
    once at registration time rather than per call.
    """
    while isinstance(func, functools.partial):
        func = func.func
    if inspect.iscoroutinefunction(func):
        return True
    call = getattr(func, "__call__", None)  # noqa: B004 - we want the bound method
    return call is not None and inspect.iscoroutinefunction(call)


def run_sync(func: Callable[P, T]) -> Callable[P, Coroutine[Any, Any, T]]:
    """Wrap a sync callable so it runs in a worker thread with the context copied.

    ``asyncio.to_thread`` copies the current ``contextvars`` context, so globals such as
    ``request`` keep working inside the thread.
    """

    @functools.wraps(func)
    async def _wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        return await asyncio.to_thread(func, *args, **kwargs)

    return _wrapper


def ensure_async(func: Callable[..., Any]) -> Callable[..., Coroutine[Any, Any, Any]]:
    """Return *func* unchanged if it is async, else a thread-running wrapper."""
    if is_async_callable(func):
        return func
    return run_sync(func)


def get_root_path(import_name: str) -> str:
    """Return the folder of the module or package *import_name*, like Flask does."""
    mod = sys.modules.get(import_name)
    filename: str | None = getattr(mod, "__file__", None) if mod is not None else None
    if filename is not None:
        return os.path.dirname(os.path.abspath(filename))
    try:
        spec = importlib.util.find_spec(import_name)
    except (ImportError, ValueError):
        spec = None
    origin = spec.origin if spec is not None else None
    if origin is None or origin in ("namespace", "built-in", "frozen"):
        return os.getcwd()
    return os.path.dirname(os.path.abspath(origin))


def first_step(awaitable: Awaitable[T]) -> tuple[Any, Awaitable[T] | None]:
    """Run *awaitable* up to its first wait.

    ``(result, None)`` if it finished without waiting; else ``(None, rest)``, and
    ``await rest`` finishes it. An awaitable that is not a coroutine (a future, a
    server's own type) can't be stepped: it is returned as the rest.
    """
    if awaitable.__class__ is not CoroutineType:  # inspect.iscoroutine, cheaper
        return None, awaitable
    try:
        first = awaitable.send(None)
    except StopIteration as done:
        return done.value, None
    return None, resume(awaitable, first)


@types.coroutine
def resume(coro: Coroutine[Any, Any, T], first: Any) -> Generator[Any, Any, T]:
    """Finish *coro*, which was stepped once and yielded *first*.

    This is ``yield from`` written out. Stepping a coroutine once tells us whether it
    finishes without waiting (the common case, which then needs no timer or watcher);
    only one that suspends is resumed through this, after the guards are armed. A
    generator, not an awaitable object: no allocation of ours per wait.
    """
    value = first
    while True:
        try:
            sent = yield value
        except GeneratorExit:
            coro.close()
            raise
        except BaseException as exc:
            try:
                value = coro.throw(exc)
            except StopIteration as done:
                return done.value  # type: ignore[no-any-return]
        else:
            try:
                value = coro.send(sent)
            except StopIteration as done:
                return done.value  # type: ignore[no-any-return]
