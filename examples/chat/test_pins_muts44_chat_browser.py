"""Pins from mutation testing (helper muts44, session 36) for the chat page's send
guard (examples/chat/chat.py's script). Lives beside test_chat_browser.py; skipped,
as that file is, without Chromium or Playwright."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from chat import create_app
from test_chat_hypercorn import served

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} is missing", allow_module_level=True)
playwright = pytest.importorskip("playwright.async_api", reason="Playwright is missing")

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-gpu",
    "--disable-dev-shm-usage",
]
LIMIT = 60


async def test_send_is_disabled_and_refused_while_the_socket_is_closed() -> None:
    # The page's script: `sendButton.disabled = true` in onclose (X12), and the
    # `readyState !== WebSocket.OPEN` guard in onsubmit (X11), each on its own: a
    # submit that gets past the disabled button (requestSubmit) still keeps the text.
    expect = playwright.expect
    async with (
        asyncio.timeout(LIMIT),
        served(create_app()) as port,
        playwright.async_playwright() as driver,
    ):
        browser = await driver.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        try:
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
        finally:
            await browser.close()


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
