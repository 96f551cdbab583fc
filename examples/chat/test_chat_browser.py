"""End to end: two headless Chromium pages join a room and each sees the other's message.

Chromium is Debian's ``chromium`` package at ``/usr/bin/chromium``, driven by Playwright
(``playwright install`` is never run: its browser download does not work on these
machines). The test is skipped only when the browser or Playwright is missing; CI
installs both. The server is hypercorn on 127.0.0.1, in the test's event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import websockets
from chat import create_app
from test_chat_hypercorn import served

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


@contextlib.asynccontextmanager
async def chromium_on(app: Any) -> AsyncIterator[tuple[Any, int]]:
    """A headless Chromium, and the port *app* is served on by hypercorn."""
    async with served(app) as port, playwright.async_playwright() as driver:
        browser = await driver.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        try:
            yield browser, port
        finally:
            await browser.close()


async def test_two_browser_pages_chat_in_a_room() -> None:
    expect = playwright.expect
    async with asyncio.timeout(LIMIT), chromium_on(create_app()) as (browser, port):
        ada = await browser.new_page()
        bob = await browser.new_page()
        for page, name in ((ada, "ada"), (bob, "bob")):
            await page.goto(f"http://127.0.0.1:{port}/kitchen?name={name}")
            await expect(page.locator("#status")).to_have_text("connected")

        await ada.fill("#text", "hello from ada")
        await ada.press("#text", "Enter")
        await expect(bob.locator("#messages li")).to_have_text(["adahello from ada"])
        await bob.fill("#text", "hi from bob")
        await bob.click("#send button")
        for page in (ada, bob):
            await expect(page.locator("#messages li")).to_have_text(
                ["adahello from ada", "bobhi from bob"]
            )


async def test_a_message_typed_while_disconnected_is_kept_not_lost() -> None:
    expect = playwright.expect
    async with asyncio.timeout(LIMIT), chromium_on(create_app()) as (browser, port):
        page = await browser.new_page()
        errors: list[str] = []
        page.on("console", lambda message: errors.append(message.text))
        page.on("pageerror", lambda error: errors.append(str(error)))
        await page.goto(f"http://127.0.0.1:{port}/kitchen?name=ada")
        await expect(page.locator("#status")).to_have_text("connected")
        await page.evaluate("socket.close()")
        await expect(page.locator("#status")).to_contain_text("reconnecting")
        await page.fill("#text", "typed while away")
        await page.press("#text", "Enter")
        await expect(page.locator("#text")).to_have_value("typed while away")
        # Once the page has reconnected, the same message goes out.
        await expect(page.locator("#status")).to_have_text("connected")
        await page.press("#text", "Enter")
        await expect(page.locator("#messages li")).to_have_text(["adatyped while away"])
        assert errors == []


async def test_a_page_that_drops_before_any_message_misses_nothing() -> None:
    expect = playwright.expect
    async with asyncio.timeout(LIMIT), chromium_on(create_app()) as (browser, port):
        page = await browser.new_page()
        await page.goto(f"http://127.0.0.1:{port}/quiet?name=ada")
        await expect(page.locator("#status")).to_have_text("connected")
        async with websockets.connect(f"ws://127.0.0.1:{port}/ws/quiet") as bob:
            await page.evaluate("socket.close()")  # nobody has spoken yet
            await expect(page.locator("#status")).to_contain_text("reconnecting")
            await bob.send("said while ada was away")
            await expect(page.locator("#status")).to_have_text("connected")
            await expect(page.locator("#messages li")).to_have_text(
                ["anonymoussaid while ada was away"]
            )


async def test_send_is_disabled_and_refused_while_the_socket_is_closed() -> None:
    # The page's script: `sendButton.disabled = true` in onclose (X12), and the
    # `readyState !== WebSocket.OPEN` guard in onsubmit (X11), each on its own: a
    # submit that gets past the disabled button (requestSubmit) still keeps the text.
    expect = playwright.expect
    async with asyncio.timeout(LIMIT), chromium_on(create_app()) as (browser, port):
        page = await browser.new_page()
        await page.goto(f"http://127.0.0.1:{port}/kitchen?name=ada")
        button = page.locator("#send button")
        await expect(page.locator("#status")).to_have_text("connected")
        await expect(button).to_be_enabled()
        await page.evaluate("socket.onclose = null; socket.close()")  # no reconnect
        await expect(button).to_be_enabled()  # onclose did not run: still enabled
        await page.fill("#text", "typed while away")
        await page.evaluate(
            "new Promise(r => { const t = () => socket.readyState === 3 ? r() :"
            " setTimeout(t, 10); t(); })"
        )
        await page.evaluate("document.getElementById('send').requestSubmit()")
        await expect(page.locator("#text")).to_have_value("typed while away")
        await page.evaluate("connect()")  # a new socket, onclose and all
        await expect(page.locator("#status")).to_have_text("connected")
        await page.evaluate("socket.close()")
        await expect(page.locator("#status")).to_contain_text("reconnecting")
        await expect(button).to_be_disabled()


async def test_send_starts_disabled_until_the_socket_opens() -> None:
    # The page's markup: `<button disabled>` (X10), enabled by onopen.
    from microframework import Microframework

    app: Microframework = create_app("memory://")
    app.testing = True
    async with asyncio.timeout(LIMIT), app.test_app() as test_app:
        page = await (await test_app.test_client().get("/kitchen")).get_data(
            as_text=True
        )
    assert "<button disabled>Send</button>" in page
