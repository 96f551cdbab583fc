"""Pins from mutation testing (helper muts44, session 36) for the chat example's page
(examples/chat/chat.py). Lives beside test_chat.py."""

from __future__ import annotations

import asyncio
import re
import time

from chat import create_app

LIMIT = 10


async def test_a_page_resumes_from_a_second_before_it_was_served() -> None:
    # chat._page: `since` is the serving time less 1000 ms (X6, X14): a message whose id is
    # from just before the page (or from a Redis clock a little behind ours) is not lost.
    app = create_app("memory://")
    app.testing = True
    async with asyncio.timeout(LIMIT), app.test_app() as test_app:
        client = test_app.test_client()
        broadcast = app.extensions["broadcast"]
        await broadcast.publish_json("quiet", {"name": "bob", "text": "just before"})
        before = time.time_ns() // 1_000_000
        page = await (await client.get("/quiet?name=ada")).get_data(as_text=True)
        after = time.time_ns() // 1_000_000
        since = re.search(r'data-since="(\d+)-0"', page)
        assert since is not None
        # the serving time less a second (X14: not "0", every retained message)
        assert before - 1000 <= int(since.group(1)) <= after - 1000
        url = f"/ws/quiet?name=ada&after={since.group(1)}-0"
        async with client.websocket(url) as ada:
            await broadcast.publish_json("quiet", {"name": "bob", "text": "after"})
            first = await ada.receive_json()
    assert first["text"] == "just before"
