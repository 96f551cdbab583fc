"""End to end: a headless Chromium ``EventSource`` reads the feed through hypercorn.

Chromium is Debian's ``chromium`` package at ``/usr/bin/chromium``, driven by Playwright
(``playwright install`` is never run: its browser download does not work on these
machines). The test is skipped only when the browser or Playwright is missing; CI
installs both. The server is hypercorn on 127.0.0.1, in the test's event loop.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from feed import CHANNEL
from feed import create_app
from hypercorn.asyncio import serve
from hypercorn.config import Config

from microframework import Microframework
from microframework import request
from microframework.broadcast import Broadcast

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip(
        f"{CHROMIUM} is missing (apt-get install chromium)", allow_module_level=True
    )
playwright = pytest.importorskip(
    "playwright.async_api", reason="Playwright is missing (pip install playwright)"
)

# Running as root in a container: no sandbox, and nothing phoning home.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-gpu",
    "--disable-dev-shm-usage",
]
LIMIT = 60

# In the page: subscribe, and keep what arrives as [lastEventId, message] pairs.
_SUBSCRIBE = """() => new Promise((opened, failed) => {
    window.received = [];
    // after=0: whatever is published once the page is open arrives, even if
    // it is published before the server has registered this subscriber.
    window.feed = new EventSource("/events?after=0");
    window.feed.addEventListener("notification", (event) => {
        window.received.push([event.lastEventId, JSON.parse(event.data).message]);
    });
    window.feed.onopen = () => opened(true);
    window.feed.onerror = () => failed(new Error("the event source failed"));
})"""
_NOTIFY = """(message) => fetch("/notify", {
    method: "POST",
    headers: {"Content-Type": "application/json"},
    body: JSON.stringify({message}),
}).then((response) => response.json()).then((body) => body.id)"""


@asynccontextmanager
async def _served(app: Microframework) -> AsyncIterator[int]:
    """Serve *app* (its lifespan included) with hypercorn on 127.0.0.1; yield the port."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port: int = listener.getsockname()[1]
    config = Config()
    config.bind = [f"fd://{listener.detach()}"]  # hypercorn owns it from here
    config.errorlog = logging.getLogger("test_feed_browser.server")
    config.graceful_timeout = 2
    shutdown = asyncio.Event()
    server = asyncio.create_task(
        serve(app, config, shutdown_trigger=shutdown.wait)  # type: ignore[arg-type]
    )
    try:
        yield port
    finally:
        shutdown.set()
        async with asyncio.timeout(LIMIT):
            await server


async def test_a_browser_event_source_gets_the_feed_and_leaves_cleanly() -> None:
    app = create_app("memory://")
    app.config["SSE_KEEP_ALIVE"] = 0.05  # comments go out while the page waits
    broadcast = app.extensions["broadcast"]
    assert isinstance(broadcast, Broadcast)
    feed_ended = asyncio.Event()

    @app.teardown_request
    async def ended(exc: BaseException | None) -> None:
        if request.path == "/events":
            feed_ended.set()

    async with (
        asyncio.timeout(LIMIT),
        _served(app) as port,
        playwright.async_playwright() as driver,
    ):
        browser = await driver.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        try:
            page = await browser.new_page()
            # Any page of the origin will do: the feed is read from its scripts.
            await page.goto(f"http://127.0.0.1:{port}/poll?after=not-an-id")
            assert await page.evaluate(_SUBSCRIBE) is True
            first = await page.evaluate(_NOTIFY, "hello")
            second = await page.evaluate(_NOTIFY, "again")
            await page.wait_for_function("() => window.received.length === 2")
            # Keep-alive comments in between are not events.
            assert await page.evaluate("() => window.received") == [
                [first, "hello"],
                [second, "again"],
            ]
            await page.evaluate("() => window.feed.close()")
            await feed_ended.wait()  # the server heard the browser go
            assert broadcast.subscriber_count(CHANNEL) == 0
        finally:
            await browser.close()
