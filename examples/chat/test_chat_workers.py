"""The chat example under ``hypercorn --workers 4`` with one Redis: scaling out, for real.

Clients are spread over the worker processes by the kernel; each response and websocket
handshake names its worker (``X-Worker``), so the test keeps one client per worker. The
whole test is bounded by ``asyncio.timeout``, and hypercorn (started in its own session)
is always stopped by its PID, its workers with it.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import websockets
from websockets.asyncio.client import ClientConnection

ROOT = Path(__file__).resolve().parents[2]
WORKERS = 4
LIMIT = 60


@pytest.fixture
def port(redis_url: str) -> Iterator[int]:
    """hypercorn serving the chat with 4 workers on the session's Redis."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free: int = probe.getsockname()[1]
    command = [sys.executable, "-m", "hypercorn", "--workers", str(WORKERS)]
    command += ["--bind", f"127.0.0.1:{free}", "examples/chat/chat:app"]
    server = subprocess.Popen(
        command,
        cwd=ROOT,
        env={**os.environ, "BROADCAST_URL": redis_url},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        yield free
    finally:
        server.terminate()  # hypercorn stops its workers
        try:
            server.wait(LIMIT / 2)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)  # the group this test started
            server.wait()


async def _one_client_per_worker(port: int) -> dict[str, ClientConnection]:
    """Connect until every worker holds a client (bounded; at least two workers)."""
    # Polling an external process's startup, bounded by the test's timeout.
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.05)
            continue
        writer.close()
        break
    clients: dict[str, ClientConnection] = {}
    attempt = 0
    # The first worker up may take every connection while the others still start:
    # keep connecting (bounded by the test's timeout) until each has a client.
    while len(clients) < WORKERS:
        attempt += 1
        ws = await websockets.connect(f"ws://127.0.0.1:{port}/ws/room?name=c{attempt}")
        worker = ws.response.headers["X-Worker"] if ws.response else ""
        if worker in clients:
            await ws.close()
            await asyncio.sleep(0.01)  # polling an external process's startup
        else:
            clients[worker] = ws
    return clients


async def _open_sse(
    port: int, last_event_id: str, avoid: str = ""
) -> tuple[str, asyncio.StreamReader, asyncio.StreamWriter]:
    """Open the room's SSE feed after *last_event_id* on a worker other than *avoid*."""
    while True:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        request = f"GET /events/room HTTP/1.0\r\nLast-Event-ID: {last_event_id}\r\n\r\n"
        writer.write(request.encode())
        head = (await reader.readuntil(b"\r\n\r\n")).decode()
        assert head.split(" ", 2)[1] == "200", head
        worker = head.partition("x-worker: ")[2].partition("\r\n")[0]
        if worker and worker != avoid:
            return worker, reader, writer
        writer.close()


async def _events(reader: asyncio.StreamReader, count: int) -> list[dict[str, Any]]:
    events = []
    while len(events) < count:
        block = (await reader.readuntil(b"\n\n")).decode()
        fields = dict(
            line.split(": ", 1)
            for line in block.split("\n")
            if line[:1] != ":" and line
        )
        if "data" in fields:
            assert json.loads(fields["data"])["id"] == fields["id"]
            events.append(json.loads(fields["data"]))
    return events


async def _say(client: ClientConnection, text: str) -> dict[str, Any]:
    await client.send(text)
    message: dict[str, Any] = json.loads(await client.recv())
    return message


async def test_clients_of_four_workers_share_rooms_and_sse_resumes_anywhere(
    port: int,
) -> None:
    async with asyncio.timeout(LIMIT):
        clients = await _one_client_per_worker(port)
        try:
            # A message sent through any worker reaches the clients of every worker.
            sent = []
            for worker, sender in clients.items():
                sent.append(await _say(sender, f"from {worker}"))
                for ws in clients.values():
                    if ws is not sender:
                        assert json.loads(await ws.recv()) == sent[-1]
            # An SSE client resumes after the first message, then disconnects...
            first_worker, reader, writer = await _open_sse(port, sent[0]["id"])
            assert await _events(reader, len(sent) - 1) == sent[1:]
            writer.close()
            # ...misses two messages, reconnects to another worker with Last-Event-ID,
            # and gets them, then live ones, none twice.
            sender = next(iter(clients.values()))
            missed = [await _say(sender, "missed 1"), await _say(sender, "missed 2")]
            worker, reader, writer = await _open_sse(port, sent[-1]["id"], first_worker)
            assert await _events(reader, 2) == missed
            live = await _say(sender, "live")
            assert await _events(reader, 1) == [live]
            writer.close()
        finally:
            for ws in clients.values():
                await ws.close()
