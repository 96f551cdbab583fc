"""What every long-poll benchmark app serves, and the gate their polls wait on.

The rule: each app does the same work per poll (count itself in, wait on one shared
``asyncio.Event``, answer ``RELEASED_TEXT``), so the benchmark compares what the
framework holds per waiting request, not what the apps choose to do.
"""

from __future__ import annotations

import asyncio

POLL_PATH = "/poll"
RELEASE_PATH = "/release"
STATS_PATH = "/stats"
RELEASED_TEXT = "released"
#: A long-poll's own limit in the framework apps that have one; far above the hold.
RESPONSE_TIMEOUT = 600


class Gate:
    """The shared wake-up: polls wait on it, one POST releases them all."""

    def __init__(self) -> None:
        self.waiting = 0
        self._event: asyncio.Event | None = None

    def _get_event(self) -> asyncio.Event:
        # Made on first use, so it belongs to the server's running loop.
        if self._event is None:
            self._event = asyncio.Event()
        return self._event

    async def wait(self) -> None:
        """Wait until released; counted in ``waiting`` meanwhile."""
        self.waiting += 1
        try:
            await self._get_event().wait()
        finally:
            self.waiting -= 1

    def release(self) -> None:
        """Wake every waiting poll; later polls wait for the next release."""
        self._get_event().set()
        self._event = None
