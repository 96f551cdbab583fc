"""Websocket cleanup, measured: open and close websockets of each handler pattern.

Runs the four patterns of ``tests/test_websocket_lifecycle.py`` (a helper task that
receives, a handler that only sends, one waiting on an event, a tight send loop)
in a hypercorn process on 127.0.0.1, and reports the server's running handlers,
asyncio tasks and RSS before and after ``--count`` connections of each, after a
warm-up of the same size.

Usage: python benchmarks/ws_leak.py [--count 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent / "tests"
sys.path.insert(0, str(TESTS))

import test_websocket_lifecycle as lifecycle  # noqa: E402


async def stats(port: int) -> dict[str, int]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /stats HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    body = (await reader.read()).split(b"\r\n\r\n", 1)[1]
    writer.close()
    return json.loads(body)  # type: ignore[no-any-return]


async def measure(pattern: str, count: int) -> str:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1024)
    port = listener.getsockname()[1]
    command = [sys.executable, "-m", "hypercorn", "--workers", "0"]
    command += ["--bind", f"fd://{listener.fileno()}", "lifecycle_app:app"]
    process = subprocess.Popen(
        command,
        pass_fds=[listener.fileno()],
        env={**os.environ, "PYTHONPATH": str(TESTS)},
        stderr=subprocess.DEVNULL,
    )
    listener.close()
    try:
        await lifecycle._open_and_close(port, pattern, count)  # warm-up
        before = await stats(port)
        await lifecycle._open_and_close(port, pattern, count)
        after = await stats(port)
    finally:
        process.terminate()
        process.wait()
    return f"{pattern:16} " + "   ".join(
        f"{key} {before[key]} -> {after[key]}"
        for key in ("handlers", "tasks", "rss_kib")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    count = parser.parse_args().count
    print(
        f"{count} websockets of each pattern, after a warm-up of {count} (server RSS)"
    )
    for pattern in lifecycle.PATTERNS:
        print(asyncio.run(measure(pattern, count)), flush=True)


if __name__ == "__main__":
    main()
