"""``_unread.py``: a body left unread by a view that answers early, over HTTP/2 and 3.

hypercorn (0.18, issue #329) ends the whole connection on DATA frames for a stream
already answered, so the rest of the body is taken in first, bounded by the body's
limits and the drain's deadline.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from .wrappers.request import Dropper

if TYPE_CHECKING:
    from ._drain import Drain
    from .typing import Message
    from .wrappers.request import Request


async def drop_body_first(request: Request, drain: Drain) -> bool:
    """Over HTTP/2, take in the rest of a body the view left unread before answering;
    ``True`` if the client left meanwhile (nobody to answer).

    hypercorn (0.18, issue #329) ends the whole connection on DATA frames for a stream
    already answered: a view that refuses an upload after awaiting something would
    reach the browser as a connection error (Quart reads bodies ahead, in a task).
    Bounded: not past ``MAX_CONTENT_LENGTH``, nor ``BODY_TIMEOUT`` (as answered then),
    nor the drain's deadline.
    """
    if request.scope.get("http_version") not in _FRAMED or request.body_finished():
        return False
    if request.body_awaited() or expects_continue(request):
        return False  # read now, or waiting to be asked for: reading would ask for it
    limit = request.max_content_length
    length = request.content_length
    if limit is not None and length is not None and length > limit:
        return False  # it won't all be read: answer at once
    dropper = _DropAll(limit)
    dropper.count(request.drop_body(dropper))  # what was read, or read ahead, counts
    if drain.expired:
        return dropper.gone  # answered now, as the deadline would
    drain.members.add(dropper)
    try:
        async with asyncio.timeout(request.body_timeout):
            await dropper.done
    except TimeoutError:
        pass
    finally:
        drain.members.discard(dropper)
    return dropper.gone


_FRAMED = frozenset(("2", "3"))  # HTTP versions whose bodies come in frames


def expects_continue(request: Request) -> bool:
    """Whether the client waits to be asked for its body (``Expect: 100-continue``)."""
    return request.headers.get("Expect", "").lower() == "100-continue"


class _DropAll(Dropper):
    """A :class:`Dropper` that says when the body has all come (``done``), or gone
    past *limit* bytes (it reads on, as a dropper, without being waited for)."""

    __slots__ = ("done", "left", "gone")

    def __init__(self, limit: int | None) -> None:
        super().__init__()
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.left = limit
        self.gone = False  # the client left: an answer would go to nobody

    def heard(self, message: Message) -> bool:
        self.gone = message["type"] == "http.disconnect"
        more = super().heard(message)
        self.count(len(message.get("body", b"")))
        if not more:
            self.failed()
        return more

    def on_drain(self, code: int) -> None:
        pass  # the body may still come in time

    def on_drain_deadline(self) -> None:
        self.failed()  # answer now (hypercorn would cancel the request, not answer it)

    def count(self, received: int) -> None:
        """Count *received* bytes against the limit."""
        if self.left is not None:
            self.left -= received
            if self.left < 0:
                self.failed()

    def failed(self) -> None:
        """All in, past the limit, or ``receive()`` failed: waiting is over."""
        if not self.done.done():
            self.done.set_result(None)
