"""The watch of a view that waits: what a drain does to it."""

from __future__ import annotations

import asyncio

from asgi_harness import call
from asgi_harness import http_scope
from asgi_harness import Recorder

from microframework import Microframework


async def test_a_waiting_view_is_left_to_finish_when_the_app_starts_draining(
    app: Microframework,
) -> None:
    # Only an event stream ends when a drain starts; a long poll has the grace period
    # to answer (it is cut with a 503 only at the deadline).
    waiting, release = asyncio.Event(), asyncio.Event()

    @app.get("/poll")
    async def poll() -> str:
        waiting.set()
        await release.wait()
        return "done"

    recorder = Recorder()
    async with asyncio.timeout(2):
        task = asyncio.create_task(call(app, http_scope("/poll"), recorder))
        await waiting.wait()
        app.drain.start(3600)
        release.set()
        await task
    app.drain.end()
    assert recorder.status == 200
    assert recorder.body == b"done"
