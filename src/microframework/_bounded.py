"""``_bounded.py``: the one send of a small body over HTTP/2, bounded in time.

Rule: only a send that waits costs anything (a timer, a drain membership); the cut is
a cancel of the request's task, undone and logged here, so teardown sees no error.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any
from typing import TYPE_CHECKING

from ._guard import ENDING_GRACE
from ._guard import Guard
from ._utils import printable
from .exceptions import ClientDisconnected

if TYPE_CHECKING:
    from .app import Microframework
    from .wrappers.request import Request


class _Bound:
    """A waiting send: cut at its timeout or at the drain's deadline (a drain member);
    one still waiting after a grace hears its client, as a watched stream does."""

    __slots__ = ("task", "why", "timer", "guard", "_request", "_app")

    def __init__(
        self, task: asyncio.Task[Any], request: Request, app: Microframework
    ) -> None:
        self.task = task
        self.why: str | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.guard: Guard | None = None
        self._request = request
        self._app = app

    def cut(self, why: str) -> None:
        if self.why is None:
            self.why = why
            self.task.cancel()

    def hear(self, left: float) -> None:
        # A send is young for a moment only (hypercorn's every send waits a little):
        # a watch from the start would cost every HTTP/2 response.
        if self._app.drain.expired:
            self.cut("cut by shutdown")  # begun past the deadline: given this grace
            return
        guard = self.guard = Guard(self._request, self._app, task=self.task)
        if guard.reason is not None:
            return  # it heard its client leave already
        if left > 0:
            self.timer = asyncio.get_running_loop().call_later(
                left, self.cut, "idle past its timeout"
            )
        else:
            self.cut("idle past its timeout")

    def on_drain(self, code: int) -> None:
        pass  # its end is on its way: only the deadline cuts it

    def on_drain_deadline(self) -> None:
        self.cut("cut by shutdown")


async def bounded_send(
    app: Microframework, waiting: Awaitable[None], request: Request, timeout: float
) -> bool:
    """The rest of a small answer's send over HTTP/2 that waits (*waiting*, what
    ``first_step`` left of it), within the response's idle *timeout*; False if it was
    cut (then nothing more is sent).

    Streams share the connection's window, which one client can keep shut, and
    hypercorn never completes that send once the client resets: the request (and its
    teardown) would wait for ever. Only bounded, not watched as a stream is: that
    would make every HTTP/2 response cost three times as much. A send still waiting
    after ``ENDING_GRACE`` is watched too, so a client that left is heard then
    (``ClientDisconnected``), not at the timeout."""
    task = asyncio.current_task()
    assert task is not None
    bound = _Bound(task, request, app)
    grace = min(ENDING_GRACE, timeout)
    loop = asyncio.get_running_loop()
    bound.timer = loop.call_later(grace, bound.hear, timeout - grace)
    drain = app.drain
    drain.members.add(bound)
    try:
        await waiting
    except asyncio.CancelledError:
        guard = bound.guard
        if guard is not None and guard.claim() == "disconnect":
            raise ClientDisconnected() from None
        if bound.why is not None and task.uncancel() == 0:  # ours alone
            message = "Response for %s %s %s; left unfinished"
            method, path = printable(request.method), printable(request.path)
            app.logger.warning(message, method, path, bound.why)
            return False
        raise
    finally:
        bound.timer.cancel()
        drain.members.discard(bound)
        if bound.guard is not None:
            bound.guard.stop(drain, last=True)
    return True
