"""Drain on shutdown, measured: SIGTERM to process exit with long-lived work open.

Opens ``--held`` long-polls, event streams and websockets each against the drain test
app (``tests/drain_app.py``) served by hypercorn (in one process, as
``microframework run`` serves; and with hypercorn's default worker process) and by
uvicorn, all with default settings, then sends SIGTERM and reports the time to exit,
what the clients saw, and how many handlers' ``finally`` blocks ran.

Usage: python benchmarks/drain.py [--held 1000] [--grace 2]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent / "tests"
sys.path.insert(0, str(TESTS))

import test_drain  # noqa: E402  (the same servers, clients and outcomes as the test)


async def measure(server: str, held: int, grace: float) -> str:
    test_drain.HELD = held
    log = Path(tempfile.mkdtemp()) / "finally.log"
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4096)
    port = listener.getsockname()[1]
    env = {**os.environ, "DRAIN_LOG": str(log), "DRAIN_GRACE": str(grace)}
    env["PYTHONPATH"] = str(TESTS)
    process = subprocess.Popen(
        test_drain._server_command(server, listener.fileno()),
        pass_fds=[listener.fileno()],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    listener.close()
    try:
        async with asyncio.timeout(300):
            connections = await test_drain._open_everything(port)
            started = time.monotonic()
            process.send_signal(signal.SIGTERM)
            outcomes = await asyncio.gather(
                *(test_drain._outcome(*c) for c in connections)
            )
            await asyncio.to_thread(process.wait)
            took = time.monotonic() - started
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    ran = len(log.read_text().split()) if log.exists() else 0
    seen = dict(collections.Counter(outcomes))
    return f"{server:17} exit {took:5.2f} s  finally {ran}/{3 * held}  clients {seen}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--held", type=int, default=1000, help="of each kind")
    parser.add_argument("--grace", type=float, default=2.0)
    options = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # servers inherit it
    print(f"{options.held} each of long-poll, SSE, websocket; grace {options.grace} s")
    for server in sorted(test_drain.SERVERS):
        print(asyncio.run(measure(server, options.held, options.grace)), flush=True)


if __name__ == "__main__":
    main()
