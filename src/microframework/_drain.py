"""``_drain.py``: end long-lived work when the server shuts down.

Rule: servers tell an app little about shutting down. hypercorn stops accepting, waits
``graceful_timeout`` for open connections, then cancels them; uvicorn waits for every
open connection, for ever by default, before it sends ``lifespan.shutdown``. So while
the app is served with lifespan, and only if the server put its own SIGTERM/SIGINT
handlers in place, the app *chains* them: its handler starts the drain and then calls
the server's, which it never replaces; at shutdown the server's come back. hypercorn's
worker processes get no signal (they ignore SIGINT; the supervisor sets a
``multiprocessing`` event that the worker polls), so there the app watches the same
event, read-only. A drain:

- closes every websocket at once with 1001 (1012 when ``microframework run --reload``
  restarts the worker) and cancels its handler, so ``finally`` blocks and teardown run;
- ends every server-sent-event stream at once, cleanly, so ``EventSource`` reconnects;
- gives views still waiting, and other streams, ``SHUTDOWN_GRACE_PERIOD`` seconds to
  finish; then a waiting view is answered 503 with ``Retry-After`` and a stream is
  left unfinished (the server closes the connection, so it can't look complete).

``lifespan.shutdown`` starts the same drain, for servers that send it first.
Background tasks then get ``BACKGROUND_TASK_SHUTDOWN_TIMEOUT`` as before.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any
from typing import Protocol

#: Set by ``microframework run --reload`` in the processes it restarts.
RELOADER_ENV = "MICROFRAMEWORK_RELOADING"
_SIGNALS = ("SIGTERM", "SIGINT")


class Drainable(Protocol):
    """Something long-lived that ends when the app drains."""

    def on_drain(self, code: int) -> None:
        """The drain began: end at once if this is always long-lived."""

    def on_drain_deadline(self) -> None:
        """The grace period ran out: end now."""


class Drain:
    """Long-lived work in progress, and whether the app is draining."""

    __slots__ = ("members", "draining", "expired", "_installed", "_watcher")

    def __init__(self) -> None:
        self.members: set[Drainable] = set()
        self.draining = False
        self.expired = False
        self._installed: dict[int, Any] = {}
        self._watcher: asyncio.Task[None] | None = None

    def start(self, grace: float) -> None:
        """Begin draining: end what is always long-lived, and arm the deadline."""
        if self.draining:
            return
        self.draining = True
        code = 1012 if os.environ.get(RELOADER_ENV) else 1001
        for member in list(self.members):
            member.on_drain(code)
        asyncio.get_running_loop().call_later(grace, self._expire)

    def _expire(self) -> None:
        self.expired = True
        for member in list(self.members):
            member.on_drain_deadline()

    def install(self, grace: float) -> None:
        """Chain the server's SIGTERM and SIGINT handlers (main thread only)."""
        self.draining = self.expired = False  # a new serving period
        event = _worker_shutdown_event()
        if event is not None:
            self._watcher = asyncio.get_running_loop().create_task(
                self._watch(event, grace), name="microframework drain watcher"
            )
        if threading.current_thread() is not threading.main_thread():
            return
        loop = asyncio.get_running_loop()
        for name in _SIGNALS:
            number = getattr(signal, name)
            previous = signal.getsignal(number)
            if not callable(previous) or previous is signal.default_int_handler:
                continue  # no server handler to chain: leave the process alone
            handler = _chained(self, loop, grace, previous)
            signal.signal(number, handler)
            self._installed[number] = (handler, previous)

    async def _watch(self, event: Any, grace: float) -> None:
        # hypercorn's worker polls this event every 0.1 s too: the drain starts at
        # the same moment the worker stops accepting.
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
    """The shutdown event of a hypercorn worker process this app runs in, if any.

    hypercorn starts each worker as ``Process(target=worker, kwargs={...,
    "shutdown_event": event})``; the process object keeps its arguments while it runs.
    Reading them is the only way a worker learns of shutdown before hypercorn's
    ``graceful_timeout`` cancels it; nothing of hypercorn's is changed.
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
        # A signal handler runs between two bytecodes of whatever was running: only
        # hand the work to the loop, then let the server's handler do its part.
        loop.call_soon_threadsafe(drain.start, grace)
        previous(signum, frame)

    return handler
