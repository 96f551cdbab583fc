"""``_drain.py``: end long-lived work when the server shuts down (docs/deploying.md).

Rule: the app never replaces a server's SIGTERM/SIGINT handlers: it chains them (and, in a
hypercorn worker, watches its shutdown event read-only). A drain closes websockets and
event streams at once, and gives the rest ``SHUTDOWN_GRACE_PERIOD`` seconds.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import threading
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Mapping
from types import FrameType
from typing import Any
from typing import Protocol

#: Set by ``microframework run --reload`` in the processes it restarts.
RELOADER_ENV = "MICROFRAMEWORK_RELOADING"
_SIGNALS = ("SIGTERM", "SIGINT")


class Drainable(Protocol):
    """Something long-lived that ends when the app drains."""

    def on_drain(self, code: int) -> None: ...  # end now if always long-lived

    def on_drain_deadline(self) -> None: ...  # the grace period ran out


class Drain:
    """Long-lived work in progress, and whether the app is draining."""

    __slots__ = (
        "members", "draining", "expired", "tearing_down", "_idle", "_installed",
        "_watcher", "_timer", "on_start",
    )  # fmt: skip

    def __init__(self) -> None:
        self.members: set[Drainable] = set()
        self.tearing_down = 0  # requests in their teardown, after their response
        self._idle: asyncio.Event | None = None
        self.draining = False
        self.expired = False
        self._installed: dict[int, Any] = {}
        self._watcher: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        #: Called as the drain begins (the app sets its ``shutdown_event``).
        self.on_start: Callable[[], Any] | None = None

    def start(self, grace: float) -> None:
        """Begin draining: end what is always long-lived, and arm the deadline."""
        if self.draining:
            return
        self.draining = True
        if self.on_start is not None:
            self.on_start()
        code = 1012 if os.environ.get(RELOADER_ENV) else 1001
        for member in list(self.members):
            member.on_drain(code)
        self._timer = asyncio.get_running_loop().call_later(grace, self._expire)

    def after(
        self, trigger: Callable[[], Awaitable[Any]], config: Mapping[str, Any]
    ) -> Callable[[], Awaitable[None]]:
        """*trigger*, then the drain: for a server stopped by a coroutine, not a signal."""

        async def drained() -> None:
            await trigger()
            self.start(config["SHUTDOWN_GRACE_PERIOD"])

        return drained

    def torn_down(self) -> None:
        """A request's teardown ended."""
        self.tearing_down -= 1
        if not self.tearing_down and self._idle is not None:
            self._idle.set()

    async def teardowns(self, grace: float) -> None:
        """Wait, at most *grace* seconds, for the handlers the drain ended (granian asks
        for the shutdown while they run), then for the teardowns still running."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        while self.members and loop.time() < deadline:
            await asyncio.sleep(0.01)  # (shutdown only: no signal on every discard)
        if not self.tearing_down:
            return
        self._idle = idle = asyncio.Event()
        try:
            async with asyncio.timeout_at(deadline):
                while self.tearing_down:  # one may begin before this wakes
                    idle.clear()
                    await idle.wait()
        except TimeoutError:
            pass
        finally:
            self._idle = None

    def _expire(self) -> None:
        self.expired = True
        for member in list(self.members):
            member.on_drain_deadline()

    def end(self) -> None:
        """Close the serving period: the app may be served again, without a lifespan."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.draining = self.expired = False

    def install(self, grace: float) -> None:
        """Chain the server's SIGTERM and SIGINT handlers (main thread only)."""
        self.end()
        loop = asyncio.get_running_loop()
        if (event := _worker_shutdown_event()) is not None:
            name = "microframework drain watcher"
            self._watcher = loop.create_task(self._watch(event, grace), name=name)
        if threading.current_thread() is not threading.main_thread():
            return
        for name in _SIGNALS:
            number = getattr(signal, name)
            previous = signal.getsignal(number)
            if not callable(previous) or previous is signal.default_int_handler:
                continue  # no server handler to chain: leave the process alone
            handler = _chained(self, loop, grace, previous)
            signal.signal(number, handler)
            self._installed[number] = (handler, previous)

    async def _watch(self, event: Any, grace: float) -> None:
        # hypercorn's worker polls it every 0.1 s too: we drain as it stops accepting.
        while not event.is_set():
            await asyncio.sleep(0.1)
        self.start(grace)

    def uninstall(self) -> None:
        """Give the server its own handlers back, unless someone replaced ours."""
        if self._watcher is not None:
            self._watcher.cancel()
            self._watcher = None
        for number, (handler, previous) in self._installed.items():
            if signal.getsignal(number) is handler:
                signal.signal(number, previous)
        self._installed.clear()


def _worker_shutdown_event() -> Any | None:
    """The shutdown event of the hypercorn worker process this app runs in, if any.

    hypercorn passes it in the worker ``Process``'s kwargs, which the process keeps: the
    only way a worker learns of shutdown before ``graceful_timeout`` cancels it.
    """
    multiprocessing = sys.modules.get("multiprocessing")
    if multiprocessing is None or multiprocessing.parent_process() is None:
        return None
    kwargs = getattr(multiprocessing.current_process(), "_kwargs", None)
    event = kwargs.get("shutdown_event") if isinstance(kwargs, dict) else None
    return event if callable(getattr(event, "is_set", None)) else None


def _chained(
    drain: Drain,
    loop: asyncio.AbstractEventLoop,
    grace: float,
    previous: Callable[[int, FrameType | None], Any],
) -> Callable[[int, FrameType | None], None]:
    def handler(signum: int, frame: FrameType | None) -> None:
        # A signal handler runs between two bytecodes: only hand the work to the loop.
        # Its loop may be gone: a serving period cancelled without a shutdown left
        # this handler installed, and the server's own must still run.
        if not loop.is_closed():
            loop.call_soon_threadsafe(drain.start, grace)
        previous(signum, frame)

    return handler
