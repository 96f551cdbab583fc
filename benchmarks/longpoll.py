"""Long-poll scale benchmark: memory per held connection and release latency.

One hypercorn worker (a subprocess, started and stopped by PID) serves a long-poll app;
this process opens N concurrent ``GET /poll`` requests over real sockets on 127.0.0.1
and holds them. The server's RSS (``VmRSS`` in ``/proc/<pid>/status``) is read before
and while they are held; the difference over N is the memory per held connection.
Then one ``POST /release`` wakes every poll, and the time from sending it to the last
answer is the release time. Every one of the N must answer ``200 released``: a lost or
wrong answer is counted and fails the run.

The rule: every phase is bounded in time, the server is always stopped (SIGTERM, then
SIGKILL), and the apps (``apps/longpoll_*.py``) do the same work per poll, so the
numbers compare the frameworks, not the apps. Ratios are against the bare ASGI app.

Usage::

    .venv/bin/python benchmarks/longpoll.py                       # N=10000, all
    .venv/bin/python benchmarks/longpoll.py -n 1000 --frameworks bare,microframework
    .venv/bin/python benchmarks/longpoll.py --json out.json

Both processes raise their ``RLIMIT_NOFILE`` soft limit to the hard limit; N must fit
in it (with some descriptors to spare).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import resource
import signal
import socket
import statistics
import sys
import tempfile
import time
from dataclasses import asdict
from dataclasses import dataclass
from dataclasses import replace
from pathlib import Path

HERE = Path(__file__).resolve().parent
FRAMEWORKS = ("bare", "microframework", "starlette", "quart")
#: Concurrent connection attempts while opening the N polls (the listen backlog is
#: larger, so none is refused).
CONNECT_CONCURRENCY = 256
BACKLOG = 4096
#: Warm-up polls held and released before the baseline RSS is read, so lazy imports,
#: compiled tables and allocator pools are already paid for.
WARMUP_POLLS = 200


def raise_nofile_limit() -> int:
    """Raise the soft open-files limit to the hard limit; return the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = max(soft, 1 << 20)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# -- the server process ------------------------------------------------------------


def serve(framework: str) -> None:
    """Server process: serve ``apps/longpoll_<framework>.py`` with one hypercorn worker.

    Prints the port on stdout once listening; stops gracefully on SIGTERM.
    """
    raise_nofile_limit()
    sys.path.insert(0, str(HERE))
    from hypercorn.asyncio import serve as hypercorn_serve
    from hypercorn.config import Config

    module = importlib.import_module(f"apps.longpoll_{framework}")
    app = module.create_app()
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(BACKLOG)
    port = listener.getsockname()[1]
    config = Config()
    config.bind = [f"fd://{listener.detach()}"]
    config.backlog = BACKLOG
    config.accesslog = None
    config.graceful_timeout = 2

    async def main() -> None:
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        print(port, flush=True)
        await hypercorn_serve(app, config, shutdown_trigger=stop.wait)

    asyncio.run(main())


# -- the client (this process) ---------------------------------------------------------


@dataclass
class Result:
    """One framework's run."""

    framework: str
    version: str
    connections: int
    held: int = 0
    answered: int = 0
    lost: int = 0
    rss_before_kib: int = 0
    rss_held_kib: int = 0
    kib_per_connection: float = 0.0
    release_seconds: float = 0.0
    failure: str | None = None


def rss_kib(pid: int) -> int:
    """The resident set size of process *pid* in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


async def http_request(port: int, method: str, path: str) -> bytes:
    """One ``Connection: close`` request; the raw answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(
            f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Content-Length: 0\r\nConnection: close\r\n\r\n".encode()
        )
        await writer.drain()
        return await reader.read()
    finally:
        writer.close()
        await _closed(writer)


async def _closed(writer: asyncio.StreamWriter) -> None:
    try:
        await writer.wait_closed()
    except OSError:
        pass  # the peer reset: closed either way


def body_of(answer: bytes) -> bytes:
    return answer.partition(b"\r\n\r\n")[2]


async def waiting_polls(port: int) -> int:
    answer = await http_request(port, "GET", "/stats")
    if not answer.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(f"/stats answered {answer[:80]!r}")
    return int(body_of(answer))


async def wait_for_waiting(port: int, count: int, timeout: float) -> None:
    """Poll ``/stats`` until *count* polls are waiting in the app."""
    async with asyncio.timeout(timeout):
        while (seen := await waiting_polls(port)) != count:
            if seen > count:
                raise RuntimeError(f"{seen} polls waiting, expected {count}")
            await asyncio.sleep(0.05)


class Polls:
    """N held long-polls: opened with bounded concurrency, each read to its end."""

    def __init__(self, port: int, count: int) -> None:
        self.port = port
        self.count = count
        self.answers: list[bytes | BaseException] = []
        self.finished: list[float] = []
        self._slots = asyncio.Semaphore(CONNECT_CONCURRENCY)
        self._tasks: list[asyncio.Task[None]] = []

    def open(self) -> None:
        self._tasks = [asyncio.create_task(self._poll()) for _ in range(self.count)]

    async def _poll(self) -> None:
        try:
            async with self._slots:
                reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
                writer.write(
                    b"GET /poll HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
                )
                await writer.drain()
            try:
                answer = await reader.read()
            finally:
                writer.close()
                await _closed(writer)
        except Exception as exc:
            self.answers.append(exc)
        else:
            self.answers.append(answer)
        self.finished.append(time.perf_counter())

    async def wait(self, timeout: float) -> None:
        async with asyncio.timeout(timeout):
            await asyncio.gather(*self._tasks)

    async def cancel(self) -> None:
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks)


async def start_server(
    framework: str, log: Path
) -> tuple[asyncio.subprocess.Process, int]:
    with log.open("wb") as errors:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(Path(__file__).resolve()),
            "--serve",
            framework,
            stdout=asyncio.subprocess.PIPE,
            stderr=errors,
        )
    assert process.stdout is not None
    try:
        async with asyncio.timeout(30):
            line = await process.stdout.readline()
        return process, int(line)
    except BaseException:
        await stop_server(process)
        raise


async def stop_server(process: asyncio.subprocess.Process) -> None:
    """SIGTERM by PID, then SIGKILL if it has not exited within 15 s."""
    if process.returncode is None:
        os.kill(process.pid, signal.SIGTERM)
        try:
            async with asyncio.timeout(15):
                await process.wait()
        except TimeoutError:
            os.kill(process.pid, signal.SIGKILL)
            await process.wait()


async def run_one(framework: str, count: int, timeout: float, workdir: Path) -> Result:
    """Hold *count* polls on a fresh server for *framework*, release them, measure."""
    sys.path.insert(0, str(HERE))
    module = importlib.import_module(f"apps.longpoll_{framework}")
    result = Result(framework, module.version(), count)
    process, port = await start_server(framework, workdir / f"{framework}.log")
    polls: Polls | None = None
    try:
        # Warm up the whole path: hold a few polls, release them, read the answers.
        warmup = Polls(port, WARMUP_POLLS)
        warmup.open()
        await wait_for_waiting(port, WARMUP_POLLS, timeout)
        await http_request(port, "POST", "/release")
        await warmup.wait(timeout)
        await wait_for_waiting(port, 0, timeout)
        result.rss_before_kib = rss_kib(process.pid)

        polls = Polls(port, count)
        polls.open()
        await wait_for_waiting(port, count, timeout)
        result.held = count
        result.rss_held_kib = rss_kib(process.pid)
        result.kib_per_connection = (
            result.rss_held_kib - result.rss_before_kib
        ) / count

        released = time.perf_counter()
        release_answer = await http_request(port, "POST", "/release")
        if not release_answer.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(f"/release answered {release_answer[:80]!r}")
        await polls.wait(timeout)
        result.release_seconds = max(polls.finished) - released
        good = [
            a
            for a in polls.answers
            if isinstance(a, bytes)
            and a.startswith(b"HTTP/1.1 200")
            and body_of(a) == b"released"
        ]
        result.answered = len(good)
        result.lost = count - len(good)
        if result.lost:
            wrong = next(
                a for a in polls.answers if not (isinstance(a, bytes) and a in good)
            )
            result.failure = f"{result.lost} polls lost or wrong, e.g. {wrong!r:.120}"
    except Exception as exc:
        result.failure = f"{type(exc).__name__}: {exc}"
    finally:
        if polls is not None:
            await polls.cancel()
        await stop_server(process)
    return result


def print_table(results: list[Result]) -> None:
    bare = next((r for r in results if r.framework == "bare" and not r.failure), None)
    header = (
        f"{'framework':<15} {'version':<15} {'held':>6} {'answered':>8} {'lost':>5}"
        f" {'RSS before':>11} {'RSS held':>10} {'KiB/conn':>9} {'x bare':>7}"
        f" {'release s':>10} {'x bare':>7}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        if r.failure and not r.held:
            print(f"{r.framework:<15} {r.version:<15} FAILED: {r.failure}")
            continue
        mem_ratio = time_ratio = "-"
        if bare is not None and bare.kib_per_connection > 0:
            mem_ratio = f"{r.kib_per_connection / bare.kib_per_connection:.2f}"
        if bare is not None and bare.release_seconds > 0:
            time_ratio = f"{r.release_seconds / bare.release_seconds:.2f}"
        print(
            f"{r.framework:<15} {r.version:<15} {r.held:>6} {r.answered:>8} {r.lost:>5}"
            f" {r.rss_before_kib / 1024:>8.1f}MiB {r.rss_held_kib / 1024:>7.1f}MiB"
            f" {r.kib_per_connection:>9.2f} {mem_ratio:>7}"
            f" {r.release_seconds:>10.3f} {time_ratio:>7}"
        )
        if r.failure:
            print(f"{'':<15} FAILED: {r.failure}")


def summarize(rounds: list[Result]) -> Result:
    """One row for a framework: the medians of its rounds (any failure fails it)."""
    summary = replace(rounds[0])
    failures = [r.failure for r in rounds if r.failure]
    summary.failure = failures[0] if failures else None
    summary.held = min(r.held for r in rounds)
    summary.answered = min(r.answered for r in rounds)
    summary.lost = max(r.lost for r in rounds)
    summary.rss_before_kib = int(statistics.median(r.rss_before_kib for r in rounds))
    summary.rss_held_kib = int(statistics.median(r.rss_held_kib for r in rounds))
    summary.kib_per_connection = statistics.median(r.kib_per_connection for r in rounds)
    summary.release_seconds = statistics.median(r.release_seconds for r in rounds)
    return summary


async def run_all(
    frameworks: list[str], count: int, timeout: float, rounds: int
) -> tuple[list[Result], list[Result]]:
    """Run every framework *rounds* times, interleaved; the summaries and every run."""
    runs: dict[str, list[Result]] = {}
    with tempfile.TemporaryDirectory(prefix="longpoll-bench-") as tmp:
        available = []
        for framework in frameworks:
            try:
                importlib.import_module(f"apps.longpoll_{framework}")
            except ImportError as exc:
                print(f"note: skipping {framework}: {exc}")
            else:
                available.append(framework)
        for number in range(1, rounds + 1):
            for framework in available:
                print(
                    f"round {number}/{rounds}: {framework} with {count} connections",
                    flush=True,
                )
                result = await run_one(framework, count, timeout, Path(tmp))
                if result.failure:
                    log = (Path(tmp) / f"{framework}.log").read_text(errors="replace")
                    if log.strip():
                        print(f"server log for {framework} (last lines):")
                        print("\n".join(log.splitlines()[-15:]))
                runs.setdefault(framework, []).append(result)
    every = [r for framework in available for r in runs[framework]]
    summaries = [summarize(runs[framework]) for framework in available]
    return summaries, every


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--connections", type=int, default=10_000)
    parser.add_argument("--frameworks", default=",".join(FRAMEWORKS))
    parser.add_argument(
        "--timeout",
        type=float,
        default=120.0,
        help="seconds each phase (open, hold, release) may take",
    )
    parser.add_argument(
        "--rounds", type=int, default=1, help="runs per framework (medians shown)"
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve)
        return 0
    frameworks = [name.strip() for name in args.frameworks.split(",") if name.strip()]
    unknown = sorted(set(frameworks) - set(FRAMEWORKS))
    if unknown:
        parser.error(f"unknown frameworks: {', '.join(unknown)}")
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if args.connections < 1:
        parser.error("--connections must be at least 1")
    limit = raise_nofile_limit()
    if args.connections + 100 > limit:
        parser.error(
            f"--connections {args.connections} does not fit the open-files limit {limit}"
        )
    sys.path.insert(0, str(HERE))
    results, runs = asyncio.run(
        run_all(frameworks, args.connections, args.timeout, args.rounds)
    )
    every_run = [asdict(r) for r in runs]
    print()
    if args.rounds > 1:
        print(f"medians of {args.rounds} rounds per framework")
    print_table(results)
    if args.json is not None:
        args.json.write_text(
            json.dumps(
                {"summary": [asdict(r) for r in results], "runs": every_run}, indent=2
            )
        )
    return 1 if any(r.failure for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
