"""The watch of a view that waits: what it reads, and what a drain does to it."""

from __future__ import annotations

import asyncio
from typing import Any

from asgi_harness import call
from asgi_harness import http_scope
from asgi_harness import Recorder

from microframework import abort
from microframework import Microframework


async def test_an_expect_header_is_matched_without_regard_to_case(
    app: Microframework,
) -> None:
    # RFC 9110: the 100-continue expectation is case-insensitive. Reading ahead makes
    # a server send 100 Continue, inviting an upload the waiting view then refuses.
    events: list[str] = []

    @app.put("/upload")
    async def upload() -> str:
        await asyncio.sleep(0)  # the view waits: its watch begins
        abort(403)

    async def receive() -> dict[str, Any]:
        events.append("receive")
        return {"type": "http.request", "body": b"", "more_body": False}

    rec = Recorder()

    async def send(message: dict[str, Any]) -> None:
        events.append(message["type"])
        await rec.send(message)

    headers = [(b"content-length", b"100000000"), (b"expect", b"100-Continue")]
    async with asyncio.timeout(2):
        await app(http_scope("/upload", "PUT", headers), receive, send)
    assert rec.status == 403
    assert events[0] == "http.response.start"


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
