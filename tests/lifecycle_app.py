"""The websocket lifecycle app as a module a server process can load, with ``/stats``."""

from __future__ import annotations

import asyncio

from test_websocket_lifecycle import make_app

app, tracker = make_app()


@app.get("/stats")
async def stats() -> dict[str, int]:
    with open("/proc/self/statm") as statm:
        rss_kib = int(statm.read().split()[1]) * 4
    return {
        "handlers": tracker.active,
        "tasks": len(asyncio.all_tasks()),
        "rss_kib": rss_kib,
    }


@app.get("/idle")
async def idle() -> str:
    await tracker.idle.wait()  # answers once no handler is running
    return "idle"
