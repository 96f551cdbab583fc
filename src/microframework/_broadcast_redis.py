"""The Redis backend of ``microframework.broadcast``: a stream per channel, one reader per process.

Rule: ``publish`` is one ``XADD`` and fails fast while Redis is unreachable. One task reads
every followed channel with one blocking ``XREAD`` from each channel's cursor (last id
delivered), so after a reconnect nothing is lost or repeated. A newly followed channel
interrupts that ``XREAD`` through this process's wake stream. Every call is bounded by
``asyncio.timeout``, never by redis-py's ``socket_timeout`` (3.11's ``wait_for``).
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import logging
import time
import uuid
from collections.abc import Awaitable
from collections.abc import Callable
from typing import Any
from typing import TYPE_CHECKING

from redis.asyncio import BlockingConnectionPool
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ._utils import no_context
from .broadcast import BroadcastError
from .broadcast import Event
from .broadcast import parse_event_id

if TYPE_CHECKING:
    from .broadcast import Broadcast

logger = logging.getLogger("microframework.broadcast")

PREFIX = "broadcast:"
BLOCK_MS = 10_000  # one XREAD's wait; a newly followed channel interrupts it
BATCH = 1_000  # entries per stream per XREAD, so one read stays bounded
CALL_TIMEOUT = 5.0  # seconds a call may take, waiting for a pooled connection included
CLOSE_TIMEOUT = 0.5  # for the wake key's DELETE at disconnect: it expires anyway
LINGER = 2.0  # seconds a channel stays followed after its last subscriber left
KEEP_MS = 2 * BLOCK_MS  # a stream outlives its last publish by this at least
_UNREACHABLE = (RedisConnectionError, RedisTimeoutError, OSError)


class RedisBackend:
    """Publishes with ``XADD``, replays with ``XRANGE``, follows channels with ``XREAD``."""

    def __init__(
        self,
        url: str,
        broadcast: Broadcast,
        deliver: Callable[[Event], None],
        end_all: Callable[[BaseException], None],
    ) -> None:
        self._deliver, self._end_all = deliver, end_all
        self._broadcast = broadcast
        ttl = broadcast.history_ttl
        # Kept at least KEEP_MS, whatever history_ttl says (replay still stops at it):
        # each worker's reader takes new entries from its cursor at its next XREAD, and
        # an entry that expired before then (a worker busy a few ms, a reconnect) would
        # never reach its subscribers. PEXPIRE 0 also deleted the stream at once, and
        # the next XADD in that millisecond reused the id just published.
        self._ttl_ms = None if ttl is None else max(KEEP_MS, int(ttl * 1000))
        # No retries: a retried XADD that did reach Redis would publish twice. redis-py
        # 5.0.8+ replaces a pooled connection that died idle, so a failure means down.
        # No socket_timeout: redis-py would wrap each send in 3.11's wait_for, which can
        # lose a cancel (a subscriber whose client left ran on). _call and the reader
        # bound calls with asyncio.timeout instead; connecting keeps its own bound.
        options: dict[str, Any] = {
            "socket_timeout": None,
            "socket_connect_timeout": 5,
            "retry": Retry(NoBackoff(), 0),
        }
        pool = BlockingConnectionPool.from_url(url, max_connections=16, **options)
        self._client: Any = Redis.from_pool(pool)
        self._reader: Any = Redis.from_url(
            url, single_connection_client=True, **options
        )
        # Never log a password: in the user part, or as ?password=.
        # host:port/db: no scheme, and never the password
        self._where = url.partition("://")[2].rpartition("@")[2].partition("?")[0]
        self._cursors: dict[str, str] = {}  # followed channel -> last id delivered
        self._lingering: dict[str, asyncio.TimerHandle] = {}  # see unlisten
        self._wake_key = f"broadcast-wake:{uuid.uuid4().hex}"
        self._wake_cursor = "0-0"
        self._followed = asyncio.Event()
        # The wake on its way while the reader has not built its next XREAD: a channel
        # followed meanwhile is in that XREAD anyway, and waits for the same wake (a
        # task: a follower cancelled while it waits must not take it with it).
        self._waking: asyncio.Task[None] | None = None
        self._failing_since: float | None = None
        self._delay = 0.0
        self._task: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        try:
            await self._call(self._client.ping())
        except BroadcastError:
            await self.disconnect()  # close the pools it opened
            raise
        self._task = asyncio.create_task(self._read_forever())

    async def disconnect(self) -> None:
        for timer in self._lingering.values():
            timer.cancel()
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait({self._task})
        try:  # briefly: a paused Redis must not hold up a worker's shutdown
            await self._call(self._client.delete(self._wake_key), CLOSE_TIMEOUT)
        except BroadcastError:
            pass  # it expires on its own
        await self._reader.aclose()
        await self._client.aclose()

    async def publish(self, channel: str, data: str | bytes) -> str:
        key, field = PREFIX + channel, "b" if isinstance(data, bytes) else "s"
        async with self._client.pipeline(transaction=False) as pipe:
            pipe.xadd(key, {field: data}, maxlen=self._broadcast.history)
            if self._ttl_ms is not None:
                pipe.pexpire(key, self._ttl_ms)  # an idle channel leaves Redis too
            replies = await self._call(pipe.execute())
        return str(replies[0].decode())

    async def listen(self, channel: str) -> str:
        if (timer := self._lingering.pop(channel, None)) is not None:
            timer.cancel()  # still followed: its cursor is current
        # A loop: a concurrent subscriber may have unfollowed the channel meanwhile.
        while channel not in self._cursors:
            last = await self._call(self._client.xrevrange(PREFIX + channel, count=1))
            if channel not in self._cursors:
                self._cursors[channel] = last[0][0].decode() if last else "0-0"
                self._followed.set()
                try:
                    if self._waking is None or self._waking.done():
                        self._waking = asyncio.create_task(self._wake())
                        self._waking.add_done_callback(_retrieved)
                    await asyncio.shield(self._waking)
                except BaseException:
                    # Failed or cancelled: unfollow, unless a subscriber joined since.
                    if not self._broadcast.subscriber_count(channel):
                        self._cursors.pop(channel, None)
                    raise
        return self._cursors[channel]

    async def newest(self, channel: str) -> str:
        """The id of *channel*'s newest event in Redis, ``0-0`` if none."""
        last = await self._call(self._client.xrevrange(PREFIX + channel, count=1))
        return last[0][0].decode() if last else "0-0"

    def unlisten(self, channel: str) -> None:
        # Followed a moment longer: long-polls answered by one event subscribe again
        # all at once, and each would look the stream's end up anew (an XREVRANGE).
        loop = asyncio.get_running_loop()
        if (timer := self._lingering.pop(channel, None)) is not None:
            timer.cancel()  # two that subscribed at once leave: one timer
        self._lingering[channel] = loop.call_later(
            LINGER, self._unfollow, channel, context=no_context()
        )

    def _unfollow(self, channel: str) -> None:
        del self._lingering[channel]
        if not self._broadcast.subscriber_count(channel):
            self._cursors.pop(channel, None)  # the next XREAD leaves it out

    async def history(self, channel: str, after: str, upto: str) -> list[Event]:
        command = self._client.xrange(PREFIX + channel, min="(" + after, max=upto)
        entries = await self._call(command)
        # XADD trims approximately (to a whole node): replay what the docs promise.
        return [
            _event(channel, *entry) for entry in entries[-self._broadcast.history :]
        ]

    async def _call(self, awaitable: Awaitable[Any], limit: float | None = None) -> Any:
        # In an empty Context: the timers it arms (ours, the pool's) and the pooled
        # connections it opens copy the current one, which in a view holds the request.
        bounded = self._bounded(awaitable, limit)
        try:
            return await asyncio.create_task(bounded, context=contextvars.Context())
        except asyncio.CancelledError:
            if inspect.iscoroutine(awaitable):  # cancelled before it began: no warning
                awaitable.close()
            raise

    async def _bounded(self, awaitable: Awaitable[Any], limit: float | None) -> Any:
        limit = CALL_TIMEOUT if limit is None else limit
        # Around the whole call: waiting for one of the pool's 16 connections too.
        bound = asyncio.timeout(limit)
        try:
            async with bound:
                return await awaitable
        except _UNREACHABLE as exc:
            said = f"no answer in {limit:g} s" if bound.expired() else _text(exc)
            raise BroadcastError(
                f"Redis at {self._where} is unreachable: {said}"
            ) from exc
        except RedisError as exc:  # BUSY, OOM, READONLY...: Redis can't serve either
            raise BroadcastError(f"Redis at {self._where} failed: {exc}") from exc

    async def _wake(self) -> None:
        """End the reader's blocking XREAD so that the next one has every cursor."""
        async with self._client.pipeline(transaction=False) as pipe:
            pipe.xadd(self._wake_key, {"w": 1}, maxlen=1, approximate=False)
            pipe.pexpire(self._wake_key, 2 * BLOCK_MS)
            await self._call(pipe.execute())

    async def _read_forever(self) -> None:
        while True:
            if not self._cursors:
                self._followed.clear()
                await self._followed.wait()
                continue
            self._waking = None  # what is followed from now on needs a wake of its own
            streams = {PREFIX + name: cursor for name, cursor in self._cursors.items()}
            streams[self._wake_key] = self._wake_cursor
            # While failing, quick tries: a Redis that hangs is given up on in time.
            block, grace = (BLOCK_MS, 5) if self._failing_since is None else (100, 1)
            # At most a queue's worth per channel: fanned out in one step, a backlog
            # (the loop was busy a moment) would overflow even subscribers that keep
            # up; the next XREAD's round trip gives them a turn to drain.
            count = min(BATCH, self._broadcast.queue_size)
            try:
                async with asyncio.timeout(block / 1000 + grace):
                    reply = await self._reader.xread(streams, count=count, block=block)
                if self._failing_since is not None:
                    logger.warning("Broadcast: Redis at %s is back", self._where)
                    self._failing_since = None
                # RESP3 (protocol=3 in the URL) answers {key: [entries]}, RESP2
                # [[key, entries], ...].
                if isinstance(reply, dict):
                    reply = [(key, value[0]) for key, value in reply.items()]
                self._dispatch(reply or [])
            except Exception as exc:  # never silently: one reader serves every channel
                await self._back_off(exc)

    def _dispatch(self, reply: Any) -> None:
        for raw_key, entries in reply:
            channel = raw_key.decode().removeprefix(PREFIX)
            if channel == self._wake_key:
                self._wake_cursor = entries[-1][0].decode()
                continue
            for raw_id, fields in entries:
                cursor = self._cursors.get(channel)
                # The channel may have been left (and followed again) since this XREAD.
                if cursor and parse_event_id(raw_id.decode()) > parse_event_id(cursor):
                    event = _event(channel, raw_id, fields)
                    self._cursors[channel] = event.id
                    self._deliver(event)

    async def _back_off(self, exc: Exception) -> None:
        """Wait before the next try; past ``reconnect_timeout``, end every subscriber."""
        now, where = time.monotonic(), self._where
        if self._failing_since is None:
            logger.warning(
                "Broadcast: lost Redis at %s (%s); retrying", where, _text(exc)
            )
            self._failing_since, self._delay = now, 0.05
        elif now - self._failing_since > self._broadcast.reconnect_timeout:
            logger.error("Broadcast: Redis at %s still unreachable; giving up", where)
            error = BroadcastError(f"Redis at {where} is unreachable: {_text(exc)}")
            self._end_all(error)
            self._failing_since = None
            return
        await asyncio.sleep(self._delay)
        self._delay = min(self._delay * 2, 2.0)


def _retrieved(task: asyncio.Task[None]) -> None:
    if not task.cancelled():
        task.exception()  # the followers waiting for it raise it; none may be left


def _event(channel: str, raw_id: bytes, fields: dict[bytes, bytes]) -> Event:
    text = fields.get(b"s")
    # "replace": an entry someone else wrote must not stop the reader.
    data = fields.get(b"b", b"") if text is None else text.decode(errors="replace")
    return Event(raw_id.decode(), channel, data)


def _text(exc: BaseException) -> str:
    # A timeout's message is empty: say what happened.
    return str(exc) or type(exc).__name__
