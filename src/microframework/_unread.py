"""``_unread.py``: a body the view left unread as its answer goes out.

Over HTTP/1.1 the rest is dropped once the response's last send waits on it
(``DropBeforeEnd``): hypercorn ends an exchange through the request's queue, which a
body left in it would fill for ever. Over HTTP/2 and 3 it is taken in first, bounded
by the body's limits and the drain's deadline: hypercorn (0.18, issue #329) ends the
whole connection on DATA frames for a stream already answered.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any
from typing import TYPE_CHECKING

from ._utils import first_step
from ._utils import Listener

if TYPE_CHECKING:
    from ._drain import Drain
    from .typing import Message
    from .typing import Send
    from .wrappers.request import Request


class Dropper(Listener):
    """Reads what is left of a body nobody will read, and drops it."""

    __slots__ = ()

    def heard(self, message: Message) -> bool:
        return message["type"] == "http.request" and bool(message.get("more_body"))


def drop_unread_body(request: Request, dropper: Listener | None = None) -> None:
    """Before a response's last message, drop the rest of a body the app left unread.

    hypercorn reads a connection only while its queue to the app has room (ten
    messages), and ends an exchange by putting ``http.disconnect`` into that queue: a
    body left in it would hold the last send, the task and the connection for ever.
    Dropped after ``http.response.start`` (uvicorn then asks no ``100 Continue``), once
    that last send waits. A read waiting for the body takes the rest; one that stopped
    (a 413, a ``break`` not yet closed) is no reader."""
    if not (request.body_finished() or request.body_awaited()):
        request.drop_body(dropper or Dropper())


async def ending(
    sending: Awaitable[Any], request: Request, dropper: Listener | None = None
) -> None:
    """Await a response's last send; one that waits may wait for the body to be read."""
    _, waiting = first_step(sending)
    if waiting is not None:
        drop_unread_body(request, dropper)
        await waiting


_LAST = frozenset(("http.response.body", "http.response.pathsend", "http.response.zerocopysend"))  # fmt: skip


class DropBeforeEnd:
    """The server's ``send`` once a read began, or a watch did with the body not all
    received: the response's last message may drop the rest (:func:`ending`)."""

    __slots__ = ("send", "request")

    def __init__(self, send: Send, request: Request) -> None:
        self.send = send
        self.request = request

    def __call__(self, message: Message) -> Awaitable[None]:
        if message["type"] in _LAST and not message.get("more_body"):
            return ending(self.send(message), self.request)
        return self.send(message)


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
