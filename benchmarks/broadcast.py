"""Broadcast fan-out benchmark: publish-to-last-delivery latency and messages per second.

Two setups, each hypercorn serving ``apps/broadcast_app.py`` as a subprocess:

``redis``
    ``--workers 4`` sharing a ``redis-server`` this script starts on a free port.
``memory``
    one worker, ``memory://``: the same app without leaving the process.

This process opens ``--subscribers`` websockets (the kernel spreads them over the
workers; the table shows how) and then measures two things:

latency
    ``--latency-messages`` messages, one at a time, each sent by a connection of the
    next worker in turn and timed from the send to the moment the *last* subscriber
    has it (p50, p99, max).
throughput
    ``--burst`` messages sent back to back, spread over one connection per worker,
    timed from the first send to the last delivery: messages/s (each reaching every
    subscriber) and deliveries/s.

The rule: every phase is bounded by ``asyncio.timeout``, every subprocess is stopped
by its PID (SIGTERM, then SIGKILL), and every message must reach every subscriber
exactly once or the run fails. The client is one Python process on the same machine,
competing with the workers and Redis for the cores: read the figures as the cost of
the whole loop, not as a server's capacity.

Usage::

    .venv/bin/python benchmarks/broadcast.py                   # 1000 subscribers
    .venv/bin/python benchmarks/broadcast.py --quick           # smoke run
    .venv/bin/python benchmarks/broadcast.py --backends memory --subscribers 2000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection

HERE = Path(__file__).resolve().parent
PAD = "x" * 48  # a message is "<seq> " and this: a short chat line
START_LIMIT = 30.0
PHASE_LIMIT = 300.0
CONNECT_CONCURRENCY = 64


@dataclass
class Result:
    backend: str
    workers: int
    subscribers: int
    per_worker: list[int]
    p50_ms: float
    p99_ms: float
    max_ms: float
    messages_per_s: float
    deliveries_per_s: float


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop *process* and its group (hypercorn's workers) by PID."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def wait_until(ready: Callable[[], bool], process: subprocess.Popen[bytes]) -> None:
    """Poll an external process's startup, bounded by START_LIMIT."""
    deadline = time.monotonic() + START_LIMIT
    while not ready():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{process.args} did not start")
        time.sleep(0.05)


def _answers(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


@contextmanager
def serving(backend: str, workers: int) -> Iterator[int]:
    """Start (Redis and) hypercorn with *workers*; yield its port; stop them all."""
    env = {**os.environ, "BENCH_QUEUE_SIZE": "100000", "BROADCAST_URL": "memory://"}
    processes: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryFile() as log:
        spawn: dict[str, Any] = {
            "stdout": log,
            "stderr": log,
            "start_new_session": True,
        }
        try:
            if backend == "redis":
                port = free_port()
                command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1"]
                command += ["--save", "", "--appendonly", "no"]
                processes.append(subprocess.Popen(command, **spawn))
                wait_until(lambda: _answers(port), processes[-1])
                env["BROADCAST_URL"] = f"redis://127.0.0.1:{port}/0"
            port = free_port()
            command = [sys.executable, "-m", "hypercorn", "--workers", str(workers)]
            command += ["--bind", f"127.0.0.1:{port}", "--backlog", "4096"]
            command += ["apps.broadcast_app:app"]
            processes.append(subprocess.Popen(command, cwd=HERE, env=env, **spawn))

            def all_running() -> bool:  # each worker logs "Running on" once it listens
                log.seek(0)
                return log.read().count(b"Running on") >= workers

            wait_until(all_running, processes[-1])
            yield port
        finally:
            for process in reversed(processes):
                stop(process)


class Fanout:
    """Counts each message's deliveries; notes when the first and last arrive."""

    def __init__(self, subscribers: int) -> None:
        self.subscribers = subscribers
        self.counts: dict[int, int] = {}
        self.last: dict[int, float] = {}
        self.done: dict[int, asyncio.Event] = {}

    def expect(self, seq: int) -> None:
        self.counts[seq] = 0
        self.done[seq] = asyncio.Event()

    def received(self, message: str | bytes) -> None:
        seq = int(message.split()[0])
        count = self.counts[seq] = self.counts[seq] + 1
        if count == self.subscribers:
            self.last[seq] = time.perf_counter()
            self.done[seq].set()
        elif count > self.subscribers:
            raise RuntimeError(f"message {seq} was delivered {count} times")


async def _receive(connection: ClientConnection, fanout: Fanout) -> None:
    async for message in connection:
        fanout.received(message)


async def connect_all(
    port: int, count: int
) -> tuple[list[ClientConnection], list[str]]:
    """Open *count* subscriber websockets; also return the worker of each."""
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def one() -> ClientConnection:
        async with gate:
            return await websockets.connect(
                f"ws://127.0.0.1:{port}/ws", compression=None, ping_interval=None
            )

    connections = await asyncio.gather(*(one() for _ in range(count)))
    workers = [
        c.response.headers["X-Worker"] if c.response else "?" for c in connections
    ]
    return connections, workers


async def measure(backend: str, workers: int, options: argparse.Namespace) -> Result:
    with serving(backend, workers) as port:
        async with asyncio.timeout(PHASE_LIMIT):
            connections, owners = await connect_all(port, options.subscribers)
        fanout = Fanout(options.subscribers)
        readers = [asyncio.create_task(_receive(c, fanout)) for c in connections]
        # One sending connection per worker, so messages enter through every worker.
        senders = list(
            {owner: c for owner, c in zip(owners, connections, strict=True)}.values()
        )
        seq = 0
        try:
            async with asyncio.timeout(PHASE_LIMIT):
                latencies = []
                for n in range(options.warmup + options.latency_messages):
                    seq += 1
                    fanout.expect(seq)
                    started = time.perf_counter()
                    await senders[n % len(senders)].send(f"{seq} {PAD}")
                    await fanout.done[seq].wait()
                    if n >= options.warmup:
                        latencies.append(fanout.last[seq] - started)
            async with asyncio.timeout(PHASE_LIMIT):
                burst = range(seq + 1, seq + 1 + options.burst)
                for s in burst:
                    fanout.expect(s)
                started = time.perf_counter()
                for s in burst:
                    await senders[s % len(senders)].send(f"{s} {PAD}")
                await asyncio.gather(*(fanout.done[s].wait() for s in burst))
                elapsed = max(fanout.last[s] for s in burst) - started
        finally:
            for reader in readers:
                reader.cancel()
            await asyncio.gather(*readers, return_exceptions=True)
            await asyncio.gather(
                *(c.close() for c in connections), return_exceptions=True
            )
    ms = sorted(1000 * x for x in latencies)
    return Result(
        backend=backend,
        workers=workers,
        subscribers=options.subscribers,
        per_worker=sorted(Counter(owners).values(), reverse=True),
        p50_ms=round(statistics.median(ms), 2),
        p99_ms=round(ms[min(len(ms) - 1, int(len(ms) * 0.99))], 2),
        max_ms=round(ms[-1], 2),
        messages_per_s=round(options.burst / elapsed, 1),
        deliveries_per_s=round(options.burst * options.subscribers / elapsed),
    )


def format_table(results: list[Result]) -> str:
    head = f"{'backend':8} {'workers':>7} {'subs':>6} {'per worker':>20} "
    head += f"{'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'msgs/s':>8} {'deliv/s':>9}"
    lines = [head]
    for r in results:
        spread = "/".join(map(str, r.per_worker))
        lines.append(
            f"{r.backend:8} {r.workers:>7} {r.subscribers:>6} {spread:>20} {r.p50_ms:>8}"
            f" {r.p99_ms:>8} {r.max_ms:>8} {r.messages_per_s:>8} {r.deliveries_per_s:>9}"
        )
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backends", default="redis,memory")
    parser.add_argument("--subscribers", type=int, default=None)
    parser.add_argument("--redis-workers", type=int, default=4)
    parser.add_argument("--latency-messages", type=int, default=None)
    parser.add_argument("--burst", type=int, default=None)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--quick", action="store_true", help="a smoke run")
    options = parser.parse_args(argv)
    quick = options.quick
    options.subscribers = options.subscribers or (20 if quick else 1000)
    options.latency_messages = options.latency_messages or (5 if quick else 200)
    options.burst = options.burst or (5 if quick else 200)
    options.warmup = 1 if quick else 20
    return options


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # children inherit it
    results = []
    print(format_table([]))
    for backend in options.backends.split(","):
        if backend == "redis" and shutil.which("redis-server") is None:
            print("note: redis-server is not installed; skipping the redis backend")
            continue
        workers = options.redis_workers if backend == "redis" else 1
        results.append(asyncio.run(measure(backend, workers, options)))
        print(format_table(results[-1:]).splitlines()[-1], flush=True)
    if options.json:
        options.json.write_text(json.dumps([asdict(r) for r in results], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
