"""Small helpers: coroutine detection, sync code in a thread, root paths, bounded memos,
and stepping coroutines by hand where a task or a frame per wait would cost too much.

Rule: imports only the standard library.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import importlib.util
import inspect
import ipaddress
import os
import re
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
from urllib.parse import quote
from urllib.parse import urlsplit

from werkzeug.sansio.utils import get_host
from werkzeug.urls import iri_to_uri

P = ParamSpec("P")
T = TypeVar("T")
K = TypeVar("K")


class ImportedOnRead:
    """A class attribute naming ``"module:name"``, imported when first read.

    Keeps the test classes (and click) out of ``import microframework``; an instance or
    subclass assignment replaces it, as with any class attribute.
    """

    def __init__(self, target: str) -> None:
        self.target = target

    def __get__(self, obj: object, owner: type | None = None) -> Any:
        module, _, name = self.target.partition(":")
        return getattr(importlib.import_module(module), name)


#: An RFC 9110 token: a header name, a media type's halves, a websocket subprotocol.
TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
#: What a query string keeps unescaped in a Location: raw bytes (UTF-8, say) are
#: escaped as they came, and escapes already there are left alone.
URL_QUERY_SAFE = "!#$%&'()*+,/:;=?@[]~"


#: What URL parsers drop (tab, CR, LF anywhere; controls and spaces in front), so that
#: "/\t/evil.example" (from a path "/%09/evil.example") would lead to another host.
DROPPED_BY_PARSERS = re.compile(r"[\x00-\x1f\x7f]|^ +")


def percent_encoded(match: re.Match[str]) -> str:
    """The matched text, every character percent-encoded (a ``re.sub`` callback)."""
    return "".join(f"%{ord(char):02X}" for char in match[0])


def checked_host(scheme: str, value: str | None, server: Any, trusted: Any) -> str:
    """werkzeug's get_host, and "" (as for any host it finds invalid) for "[a:b]" (it lets
    hex digits and colons pass as an IP literal; urlsplit refuses them: request.url,
    external URLs and strict-slash redirects were a 500) and for "xn--zz" (Punycode
    that doesn't decode: request.url raised UnicodeError, as in Flask)."""
    host = get_host(scheme, value, server, trusted)
    try:
        if host[:1] == "[":
            ipaddress.IPv6Address(host[1:].partition("]")[0])
        elif "xn--" in host.lower():  # (a port, if any, cut off)
            (host.rpartition(":")[0] or host).encode().decode("idna")
    except ValueError:  # UnicodeError too
        return ""
    return host


def to_uri(location: str, keep: str = "[]") -> str:  # keep: as redirect() has them
    # Percent-encoded first: urlsplit drops a tab too, and "/\t/evil.example/é" came
    # back as "//evil.example/%C3%A9", another host.
    location = DROPPED_BY_PARSERS.sub(percent_encoded, location)
    # iri_to_uri rebuilds the URL: "https:evil.example", relative on an https page (and
    # so passing the usual urljoin check), would come back as "https:///evil.example",
    # which browsers read as the host evil.example. Without a host, only quote it.
    try:  # a host to Punycode; one urlsplit or IDNA can't take is only quoted below:
        uri = iri_to_uri(location) if urlsplit(location).netloc else ""
    except ValueError:  # ?next=http://[::1 or http://a..b/ was a 500 (Quart sends it)
        uri = ""
    if uri:
        if _AUTHORITY.fullmatch(urlsplit(uri).netloc) is None:
            # IDNA's NFKC turns a fullwidth "\uff3c" into "\\", which browsers read as
            # "/": "https://evil.com\uff3c.example.com/" (a host ending in .example.com,
            # and an invalid URL to browsers) would lead to evil.com.
            raise ValueError(f"the URL {location!r} has an invalid host")
        return uri
    return quote(location, safe="%!#$&'()*+,/:;=?@~" + keep)


# RFC 3986's authority: userinfo (iri_to_uri quotes it), host (a name, an IP literal)
# and port.
_AUTHORITY = re.compile(r"[\w\-.~!$&'()*+,;=%:@\[\]]*", re.ASCII)


#: Entries a memo keyed by values from requests holds before it starts over.
MEMO_LIMIT = 256
#: The longest key (in characters) such a memo keeps: a client choosing keys must not
#: choose how much memory they hold (256 redirects to 2 MB targets would be 3 GB).
MEMO_KEY_SIZE = 2048


def alias(
    value: Any, old: Any, name: str, old_name: str, needed_by: str | None = None
) -> Any:
    """*value*, or *old* given by its other (Quart's) name *old_name*; never both.
    With *needed_by* (the function's name), one of the two is required."""
    if old is not None:
        if value is not None:
            raise TypeError(
                f"pass either {name!r} or its other name {old_name!r}, not both"
            )
        return old
    if value is None and needed_by is not None:
        raise TypeError(f"{needed_by} needs {name!r} (Quart's {old_name!r})")
    return value


def remember(memo: dict[K, T], key: K, value: T, size: int = 0) -> T:
    """Store and return *value*; a full *memo* starts over, as requests choose keys.

    *size* is the key's length; over ``MEMO_KEY_SIZE``, *value* is returned unstored.
    """
    if size <= MEMO_KEY_SIZE:
        if len(memo) >= MEMO_LIMIT:
            memo.clear()
        memo[key] = value
    return value


_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")


def origin_form(target: str, raw: bytes | None = None) -> str:
    """The path part of a request target; ``ValueError`` if it isn't a URL.

    RFC 9112 3.2.2: a server must accept an absolute-form target ("http://host/p"),
    and servers pass it on as the scope's path: its path part is what routes. The
    path is already decoded, so a "?" or "#" in it is the path's (from "%3F")."""
    scheme, colon, rest = target.partition("://")
    # RFC 3986 3.1's scheme, as urlsplit takes one: "a/b://h/x" or a decoded
    # "x?://h/x" is no absolute-form, and routes whole ("/admin" is not its path);
    # nor is the raw "h%74tp://h/x" (*raw*, the scope's raw_path), as a proxy reads it.
    # (A server that kept the target whole in raw_path; one that cut it keeps "/".)
    if raw and raw[:1] != b"/":
        if not _SCHEME.fullmatch(raw.partition(b"://")[0].decode("latin-1")):
            colon = ""
    if colon and _SCHEME.fullmatch(scheme):
        slash = rest.find("/")
        authority = rest if slash == -1 else rest[:slash]
        urlsplit(f"{scheme}://{authority}")  # raises for one that isn't ("[::1")
        target = "/" if slash == -1 else rest[slash:]
    return target if target[:1] == "/" else "/" + target


def printable(text: str) -> str:
    """*text* for a log line: a client's CR, ESC or U+2028 escaped, not obeyed."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def is_async_callable(func: Any) -> bool:
    """True if calling *func* (a partial or callable object too) returns an awaitable."""
    while isinstance(func, functools.partial):
        func = func.func
    if inspect.iscoroutinefunction(func):
        return True
    call = getattr(func, "__call__", None)  # noqa: B004 - we want the bound method
    return call is not None and inspect.iscoroutinefunction(call)


def run_sync(func: Callable[P, T]) -> Callable[P, Coroutine[Any, Any, T]]:
    """Wrap a sync callable to run in a thread (``to_thread`` copies the context)."""

    @functools.wraps(func)
    async def _wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        return await asyncio.to_thread(func, *args, **kwargs)

    return _wrapper


def ensure_async(func: Callable[..., Any]) -> Callable[..., Coroutine[Any, Any, Any]]:
    """Return *func* unchanged if it is async, else a thread-running wrapper."""
    if is_async_callable(func):
        return func
    return run_sync(func)


async def call_awaited(
    ensure_async: Callable[[Callable[..., Any]], Callable[..., Awaitable[Any]]],
    func: Callable[..., Any],
    *args: Any,
) -> Any:
    """Call *func* through *ensure_async* (a sync one in a worker thread) and return
    its result, awaited too if a sync one returned an awaitable (``super()``'s call).
    """
    result = await ensure_async(func)(*args)
    if result is not None and inspect.isawaitable(result):  # None first: an ABC
        result = await result
    return result


async def settled(result: Any) -> Any:
    """*result* awaited if it is awaitable: an extension point Flask's way (a plain
    ``def`` override of ``handle_exception``) or Quart's (``async def``)."""
    return await result if inspect.isawaitable(result) else result


def awaiting(
    func: Callable[..., Coroutine[Any, Any, Any]],
) -> Callable[..., Coroutine[Any, Any, Any]]:
    """*func* (a sync view run in a worker thread), its result awaited too if it is a
    coroutine: a plain decorator around an async view (Flask's ``login_required``,
    ported as is) returns one, awaited on the loop as Flask would have called it."""

    async def view(*args: Any, **kwargs: Any) -> Any:
        step = asyncio.ensure_future(func(*args, **kwargs))
        try:
            rv = await asyncio.shield(step)  # the thread runs on if we are cancelled
        except asyncio.CancelledError:
            step.add_done_callback(_close_returned_coroutine)
            raise
        if inspect.iscoroutine(rv):
            rv = await rv
        return rv

    return view


def _close_returned_coroutine(step: asyncio.Future[Any]) -> None:
    # The client left while the thread ran: its coroutine is never awaited, and is
    # closed rather than warned about.
    if not step.cancelled() and step.exception() is None:
        if inspect.iscoroutine(rv := step.result()):
            rv.close()


def flag(text: str) -> bool:
    """A yes/no environment variable: yes unless empty, ``0``, ``false`` or ``no``."""
    return text.strip().lower() not in ("", "0", "false", "no")


def get_root_path(import_name: str) -> str:
    """Return the folder of the module or package *import_name*, like Flask does."""
    path: str | None = getattr(sys.modules.get(import_name), "__file__", None)
    if path is None:
        try:
            spec = importlib.util.find_spec(import_name)
        except (ImportError, ValueError):
            spec = None
        path = spec.origin if spec is not None else None
        if path is None or path in ("namespace", "built-in", "frozen"):
            return os.getcwd()
    return os.path.dirname(os.path.abspath(path))


def find_instance_path(import_name: str, name: str) -> str:
    """Flask's default instance folder: ``instance`` beside the top-level package (or
    module), or ``<prefix>/var/<name>-instance`` once installed under a prefix."""
    top = import_name.partition(".")[0]
    try:
        if top != "__main__":
            spec = importlib.util.find_spec(top)
        else:  # run with -m, as Flask: beside that module (else, a script: the cwd)
            spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    except (ImportError, ValueError):
        spec = None
    if spec is None:
        return os.path.join(os.getcwd(), "instance")
    parts = spec.submodule_search_locations
    if parts is None:  # a module: beside it
        beside = os.path.dirname(os.path.abspath(spec.origin or ""))
    elif spec.origin not in (None, "namespace"):  # a package: beside its folder
        beside = os.path.dirname(os.path.dirname(os.path.abspath(spec.origin)))
    else:  # a namespace package: beside the portion that holds *import_name*
        sub = importlib.util.find_spec(import_name)
        where = os.path.abspath((sub and sub.origin) or next(iter(parts)))
        portions = (os.path.abspath(p) for p in parts)
        portion = next((p for p in portions if where.startswith(p + os.sep)), where)
        beside = os.path.dirname(portion)
    prefix = os.path.abspath(sys.prefix)
    if beside != prefix and not beside.startswith(prefix + os.sep):
        if os.path.basename(beside).lower() != "site-packages":
            return os.path.join(beside, "instance")
        # Installed outside sys.prefix (pip --user): <prefix>/lib[/pythonX.Y]/site-packages
        prefix = os.path.dirname(beside)
        if os.path.basename(prefix).lower() == "lib":
            prefix = os.path.dirname(prefix)
        elif os.path.basename(os.path.dirname(prefix)).lower() == "lib":
            prefix = os.path.dirname(os.path.dirname(prefix))
    return os.path.join(prefix, "var", f"{name}-instance")


class Done:
    """An awaitable that is already done: a plain method that returns it may also be
    awaited, as its Quart namesake (a coroutine) is."""

    __slots__ = ()

    def __await__(self) -> Generator[None, None, None]:
        yield from ()


DONE = Done()


def first_step(awaitable: Awaitable[T]) -> tuple[Any, Awaitable[T] | None]:
    """Run *awaitable* up to its first wait: ``(result, None)``, else ``(None, rest)``.

    A non-coroutine (a future, a server's own type) can't be stepped: it is the rest.
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
    """Finish *coro*, which was stepped once and yielded *first* (one generator, no wrapper)."""
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
            continue
        if sent is None:
            # Woken with None: run on in C (``yield from`` takes a started coroutine).
            return (yield from coro)  # type: ignore[no-any-return]
        try:
            value = coro.send(sent)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]


async def _run_on(coro: Coroutine[Any, Any, T], first: Any) -> T:
    return await resume(coro, first)


#: For timers that need no context: a cancelled timer stays in the loop's heap until
#: purged, and a copied context would keep the request it was made in alive that long.
#: A new one each time: loops in two threads can't both be inside one context at once.
no_context = contextvars.Context


async def before(
    awaitable: Awaitable[T], deadline: float, error: type[BaseException]
) -> T:
    """Await *awaitable*; *error* once the loop's time passes *deadline*. A timer
    (microseconds) only if it waits."""
    result, waiting = first_step(awaitable)
    if waiting is None:
        return result  # type: ignore[no-any-return]
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    expired = False

    def expire() -> None:
        nonlocal expired
        expired = True
        task.cancel()

    handle = loop.call_at(deadline, expire, context=no_context())  # see no_context
    try:
        return await waiting
    except asyncio.CancelledError:
        if expired and task.uncancel() == 0:
            raise error() from None
        raise
    finally:
        handle.cancel()


#: Messages a Listener takes from a receive() that never waits before a loop turn.
_STEPS_PER_TURN = 64

#: Modules (by prefix) whose ``receive()`` a Listener steps by hand, outside any task:
#: the servers' (hypercorn's and daphne's is an ``asyncio.Queue``'s ``get``) and ours.
#: Another one (a middleware's) gets a task: it may open an anyio cancel scope (as
#: Starlette's ``BaseHTTPMiddleware`` does) or an ``asyncio.timeout``, which bind to the
#: task they start in, and would cancel the view's.
HAND_STEPPED = ("asyncio.", "hypercorn.", "uvicorn.", "daphne.", "microframework.")


def _by_hand(receive: Callable[[], Awaitable[Any]]) -> bool:
    module = getattr(receive, "__module__", None)
    return module is not None and module.startswith(HAND_STEPPED)


class Listener:
    """Call ``receive()`` again and again, handing each message to :meth:`heard`.

    Driven by hand from the futures it waits on, not by a task (about 1 KiB each per
    held long-poll). :meth:`heard` returns False to stop; so does a failing ``receive()``.
    Every step runs in one copied context, as a task's would: a middleware's
    ``receive()`` that sets a context variable must not change the caller's.
    """

    __slots__ = ("_receive", "_coro", "_waiting", "_stopped", "_context", "_by_hand")

    def __init__(self) -> None:
        self._receive: Callable[[], Awaitable[Any]] | None = None
        self._coro: Any = None
        self._waiting: asyncio.Future[Any] | asyncio.Handle | None = None
        self._stopped = False
        self._context: contextvars.Context | None = None

    def listen(
        self, receive: Callable[[], Awaitable[Any]], held: Listener | None = None
    ) -> None:
        """Start listening on *receive* (a second call does nothing).

        *held*, a stopped listener that kept its pending ``receive()``, hands that
        call over: it is awaited first, in its own context.
        """
        if self._receive is None and not self._stopped:
            self._receive = receive
            self._by_hand = _by_hand(receive)
            if held is None:
                self._context = contextvars.copy_context()
                self._context.run(self)
                return
            context = self._context = held._context
            coro, self._coro, held._coro = held._coro, held._coro, None
            future, held._waiting = held._waiting, None
            if future is None:  # it yielded bare: step it on the loop's next pass
                future = asyncio.get_running_loop().call_soon(self, context=context)
            elif coro is None:
                future.add_done_callback(self._got, context=context)  # type: ignore[union-attr]
            else:
                future.add_done_callback(self, context=context)  # type: ignore[union-attr]
            self._waiting = future

    def heard(self, message: Any) -> bool:
        """Handle one message; False to stop listening (or pause: see :meth:`resume`)."""
        raise NotImplementedError

    def __call__(self, _done: object = None) -> None:
        """Step ``receive()`` on; the callback of the future it waits on (no bound method)."""
        if self._stopped:
            return  # a wake-up already on its way when we were stopped
        self._waiting = None
        receive = self._receive
        assert receive is not None
        # A server whose receive() never waits must still let the loop run.
        for _ in range(_STEPS_PER_TURN):
            coro = self._coro
            if coro is None:
                coro = receive()
                if coro.__class__ is not CoroutineType or not self._by_hand:
                    context = self._context
                    if coro.__class__ is not CoroutineType:
                        # A server's future (or own awaitable, which gets a task).
                        future = asyncio.ensure_future(coro)
                    else:  # a middleware's (see HAND_STEPPED), in our one context:
                        # what it sets, its next call sees. A Task, not create_task:
                        # an eager task factory would run it in that context, entered.
                        future = asyncio.Task(coro, context=context)
                    self._waiting = future
                    future.add_done_callback(self._got, context=context)
                    return
                self._coro = coro
            try:
                waited = coro.send(None)
            except StopIteration as done:
                self._coro = None
                if not self.heard(done.value):
                    return
                continue
            except (Exception, asyncio.CancelledError):
                self._coro = None  # the server's receive failed: nothing more to hear
                self.failed()
                return
            context = self._context
            if waited is None:  # a bare yield: step again on the loop's next pass
                self._waiting = asyncio.get_running_loop().call_soon(
                    self, context=context
                )
            elif asyncio.isfuture(waited):
                waited.add_done_callback(self, context=context)
                self._waiting = waited
            else:  # not asyncio's (a task would refuse it too)
                self._stopped, self._coro = True, None
                coro.close()
                self.failed()
            return
        self._waiting = asyncio.get_running_loop().call_soon(
            self, context=self._context
        )

    def _got(self, future: asyncio.Future[Any]) -> None:
        if self._stopped:
            # Done as we stopped (too late to remove this call): the future stays
            # _waiting, so take_held or listen(held=) still hands its message on.
            return
        self._waiting = None
        if future.cancelled() or future.exception() is not None:
            self.failed()
        elif self.heard(future.result()):
            self()

    def failed(self) -> None:
        """The server's ``receive()`` failed: nothing more will be heard."""

    def read_ahead(self) -> None:
        """A body read begins while this listens: pass it what is heard (see Guard)."""

    def resume(self) -> None:
        """Call ``receive()`` again, after :meth:`heard` returned False to pause."""
        if not self._stopped and self._waiting is None and self._coro is None:
            loop = asyncio.get_running_loop()
            self._waiting = loop.call_soon(self, context=self._context)

    def stop_listening(self, keep: bool = False) -> bool:
        """Stop listening; True if a pending ``receive()`` was kept (*keep*) for
        :meth:`listen` of another listener, else it is closed (or cancelled).

        A server's ``receive()`` need not survive cancelling (granian's next call then
        reports a disconnect), so a request hands it on until it ends.
        """
        self._stopped = True
        waiting = self._waiting
        # A call_soon handle (uvloop's aren't asyncio.Handles); hasattr is 800
        # instructions a waited view cheaper than asyncio.isfuture.
        if waiting is not None and not hasattr(waiting, "remove_done_callback"):
            waiting.cancel()
            self._waiting = None
        elif waiting is not None:
            waiting.remove_done_callback(self if self._coro is not None else self._got)
        elif self._coro is None:
            return False
        if keep:
            return True
        self.close_held()
        return False

    def take_held(self) -> Awaitable[Any] | None:
        """The kept ``receive()`` call, for a reader that goes on (the request body):
        run on in a task of its own context, as it was stepped. ``None``: none kept."""
        coro, self._coro = self._coro, None
        waiting, self._waiting = self._waiting, None
        if coro is None:  # the server's own awaitable (a handle was dropped), or none
            return waiting if isinstance(waiting, asyncio.Future) else None
        loop = asyncio.get_running_loop()
        return loop.create_task(_run_on(coro, waiting), context=self._context)

    def close_held(self) -> None:
        """Close the ``receive()`` kept by :meth:`stop_listening` (nobody will listen)."""
        waiting, self._waiting = self._waiting, None
        coro, self._coro = self._coro, None
        if coro is None:
            if waiting is not None:
                waiting.cancel()
            return
        try:  # in its context: a middleware's receive() may reset a variable
            self._context.run(coro.close)  # type: ignore[union-attr]
        except Exception:
            pass  # the server's receive() failing as it closes: nothing to hear
