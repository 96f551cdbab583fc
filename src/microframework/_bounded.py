"""``_bounded.py``: a small answer's sends over HTTP/2, bounded in time.

Rule: only a send that waits costs anything (a timer, a drain membership); the cut is
a cancel of the request's task, undone and logged here, so teardown sees no error (a
client heard leaving, once past the grace, is ``ClientDisconnected``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any
from typing import TYPE_CHECKING

from ._guard import ENDING_GRACE
from ._guard import Guard
from ._utils import first_step
from ._utils import no_context
from ._utils import printable
from .exceptions import ClientDisconnected

if TYPE_CHECKING:
    from .app import Microframework
    from .typing import Message
    from .typing import Send
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
                left, self.cut, "idle past its timeout", context=no_context()
            )
        else:
            self.cut("idle past its timeout")

    def on_drain(self, code: int) -> None:
        pass  # its end is on its way: only the deadline cuts it

    def on_drain_deadline(self) -> None:
        self.cut("cut by shutdown")


def sent_until_a_wait(send: Send, head: Message, data: bytes) -> Awaitable[None] | None:
    """A small answer's two sends, run until one waits: what is left of them, if any.

    A plain function, and one first step for both: on the usual path (no send waits)
    a coroutine of ours or a step per send would cost every HTTP/2 answer 1 to 2k
    instructions."""
    body = {"type": "http.response.body", "body": data, "more_body": False}
    return first_step(_both(send, head, body))[1]


async def _both(send: Send, head: Message, body: Message) -> None:
    await send(head)
    await send(body)


async def bounded_send(
    app: Microframework, waiting: Awaitable[None], request: Request, timeout: float
) -> None:
    """What is left of a small answer's sends over HTTP/2 once one waits (*waiting*,
    from :func:`sent_until_a_wait`), within the response's idle *timeout*; a cut is
    logged, and the answer left unfinished.

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
    bound.timer = loop.call_later(
        grace, bound.hear, timeout - grace, context=no_context()
    )
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
            return
        raise
    finally:
        bound.timer.cancel()
        drain.members.discard(bound)
        if bound.guard is not None:
            bound.guard.stop(drain, last=True)
