"""``Broadcast``: publish to channels and fan out to subscribers, across processes with Redis.

Rule: event ids are ``"<ms>-<seq>"``, ordered as integer pairs. A subscriber registers in
the step that reads ``upto``, replays ``(last_event_id, upto]`` and then gets live events:
no gap, no duplicate. Publishing never waits: each subscriber has a bounded queue.
"""

from __future__ import annotations

import asyncio
import copy
import json
import re
import sys
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextlib import suppress
from dataclasses import dataclass
from typing import Any
from typing import Literal
from typing import TYPE_CHECKING

from .json import dumps as _dumps

if TYPE_CHECKING:
    from ._broadcast_redis import RedisBackend
    from .app import Microframework

__all__ = [
    "Broadcast",
    "BroadcastError",
    "Event",
    "Subscriber",
    "SubscriberTooSlow",
    "parse_event_id",
]

_ID = re.compile(r"([0-9]{1,20})(?:-([0-9]{1,20}))?")
_MAX_PART = 2**64 - 1  # Redis stream ids are two unsigned 64-bit integers


class BroadcastError(Exception):
    """The broadcast backend is unreachable, or the broadcast is not connected."""


class SubscriberTooSlow(BroadcastError):
    """The subscriber fell a full queue behind and was dropped from its channel."""


@dataclass(frozen=True, slots=True)
class Event:
    """One published message: its ``id``, its ``channel`` and its ``data``."""

    id: str
    channel: str
    data: str | bytes

    def json(self) -> Any:
        """The data decoded as JSON."""
        return json.loads(self.data)


def parse_event_id(value: str) -> tuple[int, int]:
    """``"<ms>-<seq>"`` (or ``"<ms>"``) as the pair that orders ids; ``ValueError`` if malformed."""
    match = _ID.fullmatch(value) if isinstance(value, str) else None
    ms, seq = (int(match[1]), int(match[2] or 0)) if match else (-1, -1)
    if not (0 <= ms <= _MAX_PART and 0 <= seq <= _MAX_PART):
        raise ValueError(f"invalid event id {value!r}: expected '<ms>-<seq>'")
    return ms, seq


def _format_id(key: tuple[int, int]) -> str:
    return f"{key[0]}-{key[1]}"


class Subscriber:
    """One ``subscribe`` block's feed of a channel: ``async for event in subscriber``."""

    __slots__ = (
        "channel",
        "missed",
        "_owner",
        "_after",
        "_replay",
        "_queue",
        "_ready",
        "_end",
    )

    def __init__(self, channel: str, owner: Broadcast) -> None:
        self.channel = channel
        #: Events dropped because this subscriber fell behind (``on_overflow="drop_oldest"``).
        self.missed = 0
        self._owner = owner
        self._after: tuple[int, int] | None = None  # see subscribe
        self._replay: deque[Event] = deque()  # bounded by history, not queue_size
        self._queue: deque[Event] = deque()
        self._ready = asyncio.Event()
        self._end: BaseException | None = None

    def __aiter__(self) -> Subscriber:
        return self

    async def __anext__(self) -> Event:
        if self._replay:
            return self._replay.popleft()
        while not self._queue:
            if (end := self._end) is not None:
                # Its own copy: one exception raised by every subscriber would gather
                # all their frames in its traceback (a Redis outage, N² lines logged).
                raise copy.copy(end) from end.__cause__
            self._ready.clear()
            await self._ready.wait()
        return self._queue.popleft()

    def drain(self) -> list[Event]:
        """The events already waiting, without waiting for more."""
        events = [*self._replay, *self._queue]
        self._replay.clear()
        self._queue.clear()
        return events

    def _skip_to(self, seen: tuple[int, int]) -> None:
        """Drop live events up to *seen*, which the client has (see subscribe)."""
        queue = self._queue  # what came during the round trip that found *seen*
        while queue and parse_event_id(queue[0].id) <= seen:
            queue.popleft()
        if not queue:  # else ids past it came: nothing more to skip
            self._after = seen

    def _put(self, event: Event) -> bool:
        """Queue *event*; ``False`` if the subscriber overflowed and must leave."""
        if self._after is not None:
            if parse_event_id(event.id) <= self._after:
                return True  # the client had it already
            self._after = None  # ids increase: no more to skip
        size = self._owner.queue_size
        if len(self._queue) >= size:
            if self._owner.on_overflow == "close":
                lag = f"{self.channel!r} fell {size} events behind"
                self._finish(SubscriberTooSlow(f"a subscriber to {lag}"))
                return False
            self._queue.popleft()
            self.missed += 1
        self._queue.append(event)
        self._ready.set()
        return True

    def _finish(self, end: BaseException) -> None:
        # The subscriber still gets what it has queued, then *end* is raised.
        if self._end is None:
            self._end = end
        self._ready.set()


class Broadcast:
    """Channels of events shared by every process that uses the same URL.

    ``url`` is ``"memory://"`` (one process) or ``"redis://host:port/db"`` (``rediss://``
    for TLS); with an app it defaults to ``BROADCAST_URL`` and connects while it serves.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        app: Microframework | None = None,
        history: int = 1000,
        history_ttl: float | None = 3600.0,
        history_bytes: int | None = 64 * 1024 * 1024,
        queue_size: int = 100,
        on_overflow: Literal["close", "drop_oldest"] = "close",
        reconnect_timeout: float = 30.0,
    ) -> None:
        if min(history, queue_size) < 1:
            raise ValueError("history and queue_size must be at least 1")
        if history_bytes is not None and history_bytes < 0:
            raise ValueError("history_bytes must be at least 0, or None")
        if on_overflow not in ("close", "drop_oldest"):
            raise ValueError(
                f"on_overflow {on_overflow!r} is not 'close' or 'drop_oldest'"
            )
        self.url = None if url is None else _check_url(url)
        self._from_config = False
        self.history, self.history_ttl = history, history_ttl
        self.history_bytes = history_bytes  # memory:// only: Redis keeps its own
        self.queue_size, self.on_overflow = queue_size, on_overflow
        self.reconnect_timeout = reconnect_timeout
        self._backend: _MemoryBackend | RedisBackend | None = None
        self._channels: dict[str, set[Subscriber]] = {}
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Microframework) -> None:
        """Connect while *app* serves; the URL defaults to its ``BROADCAST_URL`` config."""
        if self.url is None or self._from_config:  # each app's own, in an app factory
            self.url = _check_url(app.config.get("BROADCAST_URL") or "memory://")
            self._from_config = True
        app.extensions["broadcast"] = self
        app.before_serving(self.connect)
        app.after_serving(self.disconnect)

    async def __aenter__(self) -> Broadcast:
        await self.connect()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.disconnect()

    async def connect(self) -> None:
        """Open the backend; Redis is pinged, so an unreachable one fails here."""
        if self._backend is not None:
            raise RuntimeError("this Broadcast is already connected")
        url = self.url or "memory://"
        if url.startswith("memory://"):
            self._backend = _MemoryBackend(self)
            return
        from ._broadcast_redis import RedisBackend

        backend = RedisBackend(url, self, self._deliver, self._end_all)
        await backend.connect()
        self._backend = backend

    async def disconnect(self) -> None:
        """End every subscriber's iteration and close the backend."""
        backend, self._backend = self._backend, None
        self._end_all(StopAsyncIteration())
        if backend is not None:
            await backend.disconnect()

    async def publish(self, channel: str, message: str | bytes) -> str:
        """Publish *message* on *channel* and return its event id."""
        if not isinstance(message, str | bytes):
            raise TypeError(f"publish takes str or bytes, not {type(message).__name__}")
        _check_utf8(channel, "the channel name")
        if isinstance(message, str):
            _check_utf8(message, "the message")
        return await self._connected().publish(channel, message)

    async def publish_json(self, channel: str, value: Any) -> str:
        """Publish *value* encoded as JSON; read it back with ``event.json()``."""
        data: str | bytes = _dumps(value, separators=(",", ":"))  # (orjson's: bytes)
        return await self.publish(
            channel, data.decode() if isinstance(data, bytes) else data
        )

    @asynccontextmanager
    async def subscribe(
        self, channel: str, last_event_id: str | None = None
    ) -> AsyncIterator[Subscriber]:
        """Receive *channel*'s events, first the retained ones after *last_event_id*."""
        after = None if last_event_id is None else parse_event_id(last_event_id)
        _check_utf8(channel, "the channel name")
        backend = self._connected()
        upto = await backend.listen(channel)
        if self._backend is not backend:  # disconnected meanwhile: nothing would end it
            raise BroadcastError("the broadcast was disconnected")
        # No await between reading upto and registering: no live event is missed.
        subscriber = Subscriber(channel, self)
        replay, last = None, parse_event_id(upto)
        if after is not None and after < last:
            replay = _format_id(after)
        self._channels.setdefault(channel, set()).add(subscriber)
        try:
            if after is not None and after > last:
                await self._skip_seen(backend, subscriber, after, last)
            if replay is not None:
                events = await backend.history(channel, replay, upto)
                subscriber._replay.extend(self._unexpired(events))
            yield subscriber
        finally:
            self._leave(subscriber)
            subscriber._finish(StopAsyncIteration())  # iterating it later just ends

    async def _skip_seen(
        self,
        backend: _MemoryBackend | RedisBackend,
        subscriber: Subscriber,
        after: tuple[int, int],
        last: tuple[int, int],
    ) -> None:
        # The client saw more than this process delivered, on a worker whose reader is
        # ahead of this one's: the live events up to *after* it has already. Never past
        # the channel's newest: an id from the future (or memory's, which never lags)
        # would skip every event to come. Redis down: duplicates, not a failure.
        with suppress(BroadcastError):
            newest = parse_event_id(await backend.newest(subscriber.channel))
            if (seen := min(after, newest)) > last:
                subscriber._skip_to(seen)

    def subscriber_count(self, channel: str) -> int:
        """How many subscribers *channel* has in this process."""
        return len(self._channels.get(channel, ()))

    def _connected(self) -> _MemoryBackend | RedisBackend:
        if self._backend is None:
            raise BroadcastError("the broadcast is not connected (see init_app)")
        return self._backend

    def _unexpired(self, events: list[Event]) -> list[Event]:
        if self.history_ttl is None:
            return events
        oldest = time.time_ns() // 1_000_000 - int(self.history_ttl * 1000)
        return [event for event in events if parse_event_id(event.id)[0] >= oldest]

    def _deliver(self, event: Event) -> None:
        """Fan *event* out to this process's subscribers of its channel."""
        subscribers = self._channels.get(event.channel)
        if subscribers:
            for dropped in [s for s in subscribers if not s._put(event)]:
                self._leave(dropped)

    def _leave(self, subscriber: Subscriber) -> None:
        subscribers = self._channels.get(subscriber.channel)
        if subscribers is not None and subscriber in subscribers:
            subscribers.discard(subscriber)
            if not subscribers:  # an idle channel costs nothing
                del self._channels[subscriber.channel]
                if self._backend is not None:
                    self._backend.unlisten(subscriber.channel)

    def _end_all(self, end: BaseException) -> None:
        """End every subscriber with *end* (the backend gave up, or we disconnect)."""
        for subscribers in list(self._channels.values()):
            for subscriber in list(subscribers):
                subscriber._finish(end)
                self._leave(subscriber)


def _check_utf8(text: str, what: str) -> None:
    # As every backend must: Redis raised UnicodeEncodeError deep inside, memory took it
    # (and bytes or an int, which Redis failed on with a TypeError of its own).
    if not isinstance(text, str):
        raise TypeError(f"{what} must be a str, not {type(text).__name__}")
    if not text.isascii():
        try:
            text.encode()
        except UnicodeEncodeError as error:
            raise ValueError(f"{what} must be text UTF-8 can encode: {error}") from None


def _check_url(url: str) -> str:
    if not url.startswith(("memory://", "redis://", "rediss://")):
        raise ValueError(
            f"unsupported broadcast URL {url!r}: use memory:// or redis://"
        )
    return url


class _MemoryBackend:
    """History and fan-out inside this process; ids are ``<ms>-<seq>`` like Redis's."""

    def __init__(self, broadcast: Broadcast) -> None:
        self._broadcast = broadcast
        self._history: dict[str, deque[Event]] = {}  # by last publish, oldest first
        self._last = (0, 0)
        self._bytes = 0  # what the history holds, roughly, against history_bytes

    async def disconnect(self) -> None:
        self._history.clear()
        self._bytes = 0

    async def publish(self, channel: str, data: str | bytes) -> str:
        ms = time.time_ns() // 1_000_000
        # Same rule as Redis: never go back, even when the clock does.
        last_ms, seq = self._last
        self._last = (ms, 0) if ms > last_ms else (last_ms, seq + 1)
        events = self._history.pop(channel, None)
        if events is None:
            events = deque(maxlen=self._broadcast.history)
            self._bytes += _CHANNEL_SIZE + sys.getsizeof(channel)
        else:
            # One name object for all the channel's events: a view builds the name anew
            # for each publish, and only the channel's one copy is counted.
            channel = events[-1].channel
            if (ttl := self._broadcast.history_ttl) is not None:
                # Its own expired events go now: _expire trims only the channels
                # published to longest ago, and this one just became the newest.
                oldest = ms - int(ttl * 1000)
                while events and parse_event_id(events[0].id)[0] < oldest:
                    self._bytes -= _size(events.popleft())
            if len(events) == events.maxlen:
                self._bytes -= _size(events[0])  # pushed out by the append
        event = Event(_format_id(self._last), channel, data)
        events.append(event)
        self._bytes += _size(event)
        self._history[channel] = events
        self._expire(ms)
        self._broadcast._deliver(event)
        await asyncio.sleep(0)  # readers' turn: a relayed burst mustn't overflow them
        return event.id

    def _expire(self, now_ms: int) -> None:
        # Channel names and messages may be a client's: the budget bounds the memory
        # of every channel together, oldest events first, as the TTL does.
        ttl, budget = self._broadcast.history_ttl, self._broadcast.history_bytes
        oldest = -1 if ttl is None else now_ms - int(ttl * 1000)
        while self._history:  # the channel published to longest ago first
            channel, events = next(iter(self._history.items()))
            while events and (
                parse_event_id(events[0].id)[0] < oldest
                or (budget is not None and self._bytes > budget)
            ):
                self._bytes -= _size(events.popleft())
            if events:
                break
            del self._history[channel]
            self._bytes -= _CHANNEL_SIZE + sys.getsizeof(channel)

    async def listen(self, channel: str) -> str:
        return _format_id(self._last)

    async def newest(self, channel: str) -> str:
        return _format_id(self._last)  # what listen said: memory never lags

    def unlisten(self, channel: str) -> None:
        pass

    async def history(self, channel: str, after: str, upto: str) -> list[Event]:
        low, high = parse_event_id(after), parse_event_id(upto)
        events = self._history.get(channel, ())
        return [e for e in events if low < parse_event_id(e.id) <= high]


# About what tracemalloc measured: a channel's deque and dict slot, and an
# event beside its data and channel name.
_CHANNEL_SIZE = 700
_EVENT_SIZE = 150


def _size(event: Event) -> int:
    return _EVENT_SIZE + sys.getsizeof(event.data)  # memory: an emoji is 4 bytes
