"""Soak test: minutes of mixed traffic through hypercorn against ``apps/soak_app.py``.

The rule: the traffic is every kind a microframework app serves, at once, for long
enough that a slow leak shows: plain GETs, JSON POSTs, multipart uploads, SSE
streams, long-polls woken by a publisher, websocket chat clients joining and leaving,
and requests aborted on purpose (mid-body, mid-stream, mid-poll, mid-websocket). Every
answer is checked; anything unexpected is an error. The server is a ``serve.py``
process (hypercorn, one worker) started, polled for readiness and stopped by PID; its
``/_stats`` route is sampled every second. Every ``--interval`` seconds one line shows
what was served, the errors, the server's RSS and asyncio task count. At the end:

- the RSS slope after the warm-up (least-squares line through the samples), and the
  same for live GC-tracked objects; "flat" means the fitted line grows less than
  ``max(2 MiB, 2 % of RSS)`` over the fitted window (not judged under 60 s);
- whether the task count came back to its baseline once the clients had gone, and no
  chat member or waiting poll was left behind. Hypercorn keeps a connection's tasks
  until its keep-alive timeout even after the client has closed it (5 s by default;
  ``--keep-alive`` changes it), so the baseline is taken once the readiness probe's
  connection has been reaped, and the end may take that long to come back;
- error lines in the server's log (tracebacks, ``ERROR``).

The exit status is 0 only when there were no errors, the tasks came back, and the RSS
was flat (or the run too short to judge).

Usage: python benchmarks/soak.py [--duration S] [--interval S] [--warmup S]
       [--keep-alive S] [--server-cpu N] [--client-cpu N] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import statistics
import sys
import time
from collections import Counter
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any

_HERE = Path(__file__).resolve().parent
if str(_HERE) not in sys.path:
    sys.path.insert(0, str(_HERE))

from e2e import Server  # noqa: E402  (needs the sys.path entry above)

DEFAULT_DURATION = 600.0
DEFAULT_INTERVAL = 10.0
SAMPLE_EVERY = 1.0
#: Hypercorn's own default keep-alive timeout.
DEFAULT_KEEP_ALIVE = 5.0
#: Seconds between two operations of one client: a soak looks for leaks, not limits.
PAUSE = 0.005
#: One operation's limit; a request slower than this is an error.
OP_TIMEOUT = 15.0
#: After the clients stop: how long the server may take to get back to its baseline.
SETTLE_TIMEOUT = 15.0
FLAT_MIN_BYTES = 2 * 1024 * 1024
FLAT_FRACTION = 0.02
MIN_FIT_SECONDS = 60.0
#: How many clients of each kind run at once.
CLIENTS = {"get": 2, "json": 1, "upload": 1, "sse": 1, "poll": 4, "chat": 4}


@dataclass
class Tally:
    """What the clients did: completed operations and errors by kind."""

    served: Counter[str] = field(default_factory=Counter)
    aborted: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    messages: list[str] = field(default_factory=list)

    def error(self, kind: str, problem: str) -> None:
        self.errors[kind] += 1
        if len(self.messages) < 20:
            self.messages.append(f"{kind}: {problem}")


class WrongAnswer(Exception):
    """The server answered, but not what the client expected."""


def expect(condition: bool, problem: str) -> None:
    if not condition:
        raise WrongAnswer(problem)


@dataclass
class Traffic:
    """The client side of the soak: one coroutine per client, until ``stop``."""

    port: int
    tally: Tally
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    poll_seen: int = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def forever(
        self, kind: str, operation: Callable[[int], Awaitable[None]]
    ) -> None:
        """Run *operation* again and again; count it, or the error it raised.

        The ``abort`` operations count themselves, in ``Tally.aborted``.
        """
        index = 0
        while not self.stop.is_set():
            index += 1
            try:
                async with asyncio.timeout(OP_TIMEOUT):
                    await operation(index)
            except Exception as error:
                self.tally.error(kind, f"{type(error).__name__}: {error}"[:300])
            else:
                if kind != "abort":
                    self.tally.served[kind] += 1
            await asyncio.sleep(PAUSE)

    # -- HTTP ------------------------------------------------------------------------
    async def get(self, client: Any, index: int) -> None:
        response = await client.get("/")
        expect(response.status_code == 200 and response.text == "ok", response.text)

    async def json_post(self, client: Any, index: int) -> None:
        payload = {"index": index, "text": "soak " * 20, "list": list(range(10))}
        response = await client.post("/json", json=payload)
        expect(response.status_code == 200, f"status {response.status_code}")
        expect(response.json() == payload, "echo differs")

    async def upload(self, client: Any, index: int) -> None:
        size = 1024 * (1 + index % 128)
        response = await client.post(
            "/upload",
            files={"file": ("blob.bin", random.randbytes(size))},
            data={"note": str(index)},
        )
        expect(response.status_code == 200, f"status {response.status_code}")
        wanted = {"files": {"file": size}, "fields": {"note": str(index)}}
        expect(response.json() == wanted, f"{response.json()} != {wanted}")

    async def sse(self, client: Any, index: int) -> None:
        ids = []
        async with client.stream("GET", "/events", params={"n": 20}) as response:
            expect(response.status_code == 200, f"status {response.status_code}")
            expect(
                response.headers["content-type"].startswith("text/event-stream"),
                response.headers["content-type"],
            )
            async for line in response.aiter_lines():
                if line.startswith("id: "):
                    ids.append(line[4:])
        expect(ids == [str(i) for i in range(20)], f"event ids {ids}")

    async def poll(self, client: Any, index: int) -> None:
        seen = self.poll_seen
        response = await client.get("/poll", params={"after": seen, "timeout": 1})
        if response.status_code == 204:
            return
        expect(response.status_code == 200, f"status {response.status_code}")
        version = response.json()["version"]
        expect(version > seen, f"version {version} after {seen}")
        self.poll_seen = max(self.poll_seen, version)

    async def publish(self, client: Any, index: int) -> None:
        response = await client.post("/publish")
        expect(response.status_code == 200, f"status {response.status_code}")
        await asyncio.sleep(0.2)

    # -- websocket chat -----------------------------------------------------------------
    async def chat(self, member: int, index: int) -> None:
        """Join, say a few lines, wait to hear them back, leave (or just drop off)."""
        import websockets

        name = f"c{member}"
        url = f"ws://127.0.0.1:{self.port}/chat?name={name}"
        lines = [f"m{index}.{n}" for n in range(random.randint(1, 5))]
        async with websockets.connect(url, compression=None) as ws:
            for line in lines:
                await ws.send(line)
            if index % 4 == 0:
                self.tally.aborted["chat-leave"] += 1
                return  # leave without reading the room: the server is mid-send
            wanted = {f"{name}: {line}" for line in lines}
            while wanted:
                wanted.discard(str(await ws.recv()))
                self.tally.served["chat-message"] += 1
        await asyncio.sleep(random.random() * 0.2)

    # -- aborted on purpose -------------------------------------------------------------
    async def _raw(self, head: str, body: bytes = b"") -> Any:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        writer.write(head.encode() + b"\r\n" + body)
        await writer.drain()
        return reader, writer

    async def abort(self, index: int) -> None:
        """One request left unfinished by the client, a different way each time."""
        kind = ABORTS[index % len(ABORTS)]
        host = f"Host: 127.0.0.1:{self.port}\r\n"
        writer = None
        try:
            if kind == "upload-mid-body":
                head = "POST /upload HTTP/1.1\r\n" + host
                head += "Content-Type: multipart/form-data; boundary=soak\r\n"
                head += "Content-Length: 200000\r\n"
                part = b'--soak\r\nContent-Disposition: form-data; name="file"; '
                part += b'filename="f"\r\n\r\n' + b"x" * 20000
                _, writer = await self._raw(head, part)
                await asyncio.sleep(0.02)
            elif kind == "json-mid-body":
                head = "POST /json HTTP/1.1\r\n" + host
                head += "Content-Type: application/json\r\nContent-Length: 10000\r\n"
                _, writer = await self._raw(head, b'{"partial": "')
                await asyncio.sleep(0.02)
            elif kind in ("stream-mid-body", "sse-mid-stream"):
                path = "/events?n=1000" if kind[:3] == "sse" else "/stream?chunks=400"
                reader, writer = await self._raw(f"GET {path} HTTP/1.1\r\n" + host)
                status = await reader.readline()
                expect(b" 200 " in status, f"{kind}: {status!r}")
                await reader.readexactly(4096)
            elif kind == "poll-waiting":
                query = "after=1000000000&timeout=30"
                _, writer = await self._raw(f"GET /poll?{query} HTTP/1.1\r\n" + host)
                await asyncio.sleep(0.05)
            else:  # websocket dropped without a close frame
                import websockets

                url = f"ws://127.0.0.1:{self.port}/chat?name=dropper"
                ws = await websockets.connect(url, compression=None)
                await ws.send("bye")
                ws.transport.abort()
        finally:
            if writer is not None:
                writer.transport.abort()  # a reset, not a polite close
        self.tally.aborted[kind] += 1

    def clients(self, http: Callable[[], Any]) -> list[Awaitable[None]]:
        """Every client coroutine of the soak; *http* makes one httpx client."""
        runs: list[Awaitable[None]] = []
        for kind, method in (
            ("get", self.get),
            ("json", self.json_post),
            ("upload", self.upload),
            ("sse", self.sse),
            ("poll", self.poll),
        ):
            for _ in range(CLIENTS[kind]):
                runs.append(self._with_client(http, kind, method))
        runs.append(self._with_client(http, "publish", self.publish))
        for member in range(CLIENTS["chat"]):
            runs.append(self.forever("chat", _bind(self.chat, member)))
        runs.append(self.forever("abort", self.abort))
        return runs

    async def _with_client(
        self, http: Callable[[], Any], kind: str, method: Callable[[Any, int], Any]
    ) -> None:
        async with http() as client:
            await self.forever(kind, _bind(method, client))


ABORTS = (
    "upload-mid-body",
    "stream-mid-body",
    "poll-waiting",
    "json-mid-body",
    "sse-mid-stream",
    "websocket-drop",
)


def _bind(
    method: Callable[[Any, int], Awaitable[None]], first: Any
) -> Callable[[int], Awaitable[None]]:
    async def bound(index: int) -> None:
        await method(first, index)

    return bound


@dataclass
class Sample:
    at: float
    stats: dict[str, Any]


async def sample_stats(client: Any) -> dict[str, Any]:
    response = await client.get("/_stats")
    response.raise_for_status()
    stats: dict[str, Any] = response.json()
    return stats


def fit(samples: list[Sample], key: str, after: float) -> dict[str, Any] | None:
    """Least-squares slope of ``stats[key]`` per minute over samples after *after*."""
    points = [(s.at, float(s.stats[key])) for s in samples if s.at >= after]
    if len(points) < 3:
        return None
    xs, ys = zip(*points, strict=True)
    slope, _ = statistics.linear_regression(xs, ys)
    return {
        "per_minute": slope * 60,
        "window": xs[-1] - xs[0],
        "samples": len(points),
        "mean": statistics.fmean(ys),
        "first": ys[0],
        "last": ys[-1],
    }


def error_lines(log: str) -> list[str]:
    """The server log's lines that report an error."""
    return [
        line
        for line in log.splitlines()
        if "Traceback" in line or "ERROR" in line or "Exception" in line
    ]


@dataclass
class Options:
    duration: float
    interval: float
    warmup: float
    keep_alive: float
    server_cpu: int | None
    client_cpu: int | None
    json_path: Path | None


async def soak(
    port: int, options: Options, report: Callable[[str], None]
) -> dict[str, Any]:
    """Run the traffic against the server on *port*; return the JSON report."""
    import httpx

    def http() -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10)

    tally = Tally()
    traffic = Traffic(port, tally)
    samples: list[Sample] = []
    # The readiness probe's connection holds hypercorn tasks until keep-alive reaps it.
    await asyncio.sleep(options.keep_alive + 0.5)
    async with http() as stats_client:
        baseline = await sample_stats(stats_client)
        report(
            f"baseline: {baseline['tasks']} tasks, rss {baseline['rss'] / 2**20:.1f} MiB"
        )
        report(
            "  time   served  errors  aborted  rss MiB  tasks   objects  chat  polls"
        )
        started = time.monotonic()
        runs = [asyncio.ensure_future(run) for run in traffic.clients(http)]
        next_report = options.interval
        while (elapsed := time.monotonic() - started) < options.duration:
            await asyncio.sleep(min(SAMPLE_EVERY, options.duration - elapsed))
            stats = await sample_stats(stats_client)
            samples.append(Sample(time.monotonic() - started, stats))
            if samples[-1].at >= next_report or samples[-1].at >= options.duration:
                next_report += options.interval
                report(_progress_line(samples[-1], tally))
        traffic.stop.set()
        _, pending = await asyncio.wait(runs, timeout=OP_TIMEOUT + 5)
        for run in pending:
            run.cancel()
        served_seconds = time.monotonic() - started
        end, settled = await _settle(stats_client, baseline)
    return _report_dict(
        options, tally, samples, baseline, end, settled, served_seconds, len(pending)
    )


async def _settle(
    client: Any, baseline: dict[str, Any]
) -> tuple[dict[str, Any], float | None]:
    """Wait for the server's tasks to come back to the baseline; (stats, seconds)."""
    started = time.monotonic()
    while True:
        stats = await sample_stats(client)
        back = stats["tasks"] <= baseline["tasks"]
        if back and not stats["chat_members"] and not stats["pollers"]:
            return stats, time.monotonic() - started
        if time.monotonic() - started > SETTLE_TIMEOUT:
            return stats, None
        await asyncio.sleep(0.1)


def _requests(served: dict[str, int]) -> int:
    """Requests and chat sessions served (chat messages are counted apart)."""
    return sum(count for kind, count in served.items() if kind != "chat-message")


def _progress_line(sample: Sample, tally: Tally) -> str:
    stats = sample.stats
    return (
        f"{sample.at:5.0f} s {_requests(tally.served):8,} "
        f"{sum(tally.errors.values()):7,} {sum(tally.aborted.values()):8,} "
        f"{stats['rss'] / 2**20:8.1f} {stats['tasks']:6} {stats['objects']:9,} "
        f"{stats['chat_members']:5} {stats['pollers']:6}"
    )


def _report_dict(
    options: Options,
    tally: Tally,
    samples: list[Sample],
    baseline: dict[str, Any],
    end: dict[str, Any],
    settled: float | None,
    seconds: float,
    stragglers: int,
) -> dict[str, Any]:
    warmup = min(options.warmup, options.duration)
    rss = fit(samples, "rss", warmup)
    flat = None
    if rss is not None and rss["window"] >= MIN_FIT_SECONDS:
        growth = rss["per_minute"] * rss["window"] / 60
        flat = growth <= max(FLAT_MIN_BYTES, FLAT_FRACTION * rss["mean"])
    from importlib.metadata import version

    return {
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "versions": {n: version(n) for n in ("microframework", "hypercorn")},
        "duration": round(seconds, 1),
        "warmup": warmup,
        "served": dict(tally.served),
        "aborted": dict(tally.aborted),
        "errors": dict(tally.errors),
        "error_messages": tally.messages,
        "stragglers": stragglers,
        "baseline": baseline,
        "end": end,
        "tasks_back": settled is not None,
        "settle_seconds": settled,
        "rss_fit": rss,
        "objects_fit": fit(samples, "objects", warmup),
        "rss_flat": flat,
        "samples": [{"at": round(s.at, 2), **s.stats} for s in samples],
    }


def format_summary(data: dict[str, Any]) -> str:
    """The end-of-run summary."""
    served = data["served"]
    requests = _requests(served)
    out = [
        f"soak: {data['duration']:.0f} s through hypercorn {data['versions']['hypercorn']}"
        f" (microframework {data['versions']['microframework']}, {data['python']})",
        f"served: {requests:,} requests and chat sessions, "
        f"{served.get('chat-message', 0):,} chat messages; errors: "
        f"{sum(data['errors'].values())}; aborted on purpose: "
        f"{sum(data['aborted'].values()):,}",
        "  by kind: " + ", ".join(f"{k} {v:,}" for k, v in sorted(served.items())),
        "  aborted: "
        + ", ".join(f"{k} {v:,}" for k, v in sorted(data["aborted"].items())),
    ]
    if data["errors"]:
        out.append(
            "  errors: " + ", ".join(f"{k} {v}" for k, v in data["errors"].items())
        )
        out += [f"    {message}" for message in data["error_messages"]]
    base, end = data["baseline"], data["end"]
    back = f"yes, after {data['settle_seconds']:.1f} s" if data["tasks_back"] else "NO"
    out.append(
        f"tasks: baseline {base['tasks']}, end {end['tasks']} (back to baseline: "
        f"{back}); chat members left {end['chat_members']}, polls left "
        f"{end['pollers']}; client stragglers cancelled {data['stragglers']}"
    )
    rss = data["rss_fit"]
    if rss is None:
        out.append("rss: too few samples after the warm-up to fit")
    else:
        verdict = {None: "too short to judge", True: "yes", False: "NO"}[
            data["rss_flat"]
        ]
        out.append(
            f"rss: {base['rss'] / 2**20:.1f} MiB at start, {rss['first'] / 2**20:.1f}"
            f" -> {rss['last'] / 2**20:.1f} MiB after the {data['warmup']:.0f} s "
            f"warm-up; slope {rss['per_minute'] / 1024:+.1f} KiB/min over "
            f"{rss['window']:.0f} s ({rss['samples']} samples); flat: {verdict}"
        )
    objects = data["objects_fit"]
    if objects is not None:
        out.append(
            f"objects: {objects['first']:,.0f} -> {objects['last']:,.0f} after the "
            f"warm-up; slope {objects['per_minute']:+,.1f} per minute"
        )
    lines = data.get("server_errors", [])
    out.append(f"server log: {len(lines)} error lines")
    out += [f"    {line}" for line in lines[:10]]
    return "\n".join(out)


def _cpus() -> tuple[int | None, int | None]:
    cpus = sorted(os.sched_getaffinity(0))
    return (cpus[0], cpus[1]) if len(cpus) > 1 else (None, None)


def parse_args(argv: Sequence[str] | None) -> Options:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None
    )
    parser.add_argument(
        "--duration",
        type=float,
        default=DEFAULT_DURATION,
        help=f"seconds of traffic (default {DEFAULT_DURATION:.0f})",
    )
    parser.add_argument(
        "--interval",
        type=float,
        default=DEFAULT_INTERVAL,
        help=f"seconds between progress lines (default {DEFAULT_INTERVAL:.0f})",
    )
    parser.add_argument(
        "--warmup",
        type=float,
        help="seconds left out of the RSS fit (default: a fifth of the duration)",
    )
    server_cpu, client_cpu = _cpus()
    parser.add_argument(
        "--server-cpu", type=int, default=server_cpu, help="-1: do not pin"
    )
    parser.add_argument(
        "--client-cpu", type=int, default=client_cpu, help="-1: do not pin"
    )
    parser.add_argument(
        "--keep-alive",
        type=float,
        default=DEFAULT_KEEP_ALIVE,
        help=f"hypercorn's keep-alive timeout (default {DEFAULT_KEEP_ALIVE:.0f}, "
        "its own; must stay above the 1 s stats sampling)",
    )
    parser.add_argument("--json", type=Path, dest="json_path")
    args = parser.parse_args(argv)
    return Options(
        duration=args.duration,
        interval=args.interval,
        warmup=args.duration / 5 if args.warmup is None else args.warmup,
        keep_alive=args.keep_alive,
        server_cpu=None if args.server_cpu in (None, -1) else args.server_cpu,
        client_cpu=None if args.client_cpu in (None, -1) else args.client_cpu,
        json_path=args.json_path,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Start the server, soak it, stop it, print the summary; 0 if all was well."""
    options = parse_args(argv)

    def report(line: str) -> None:
        print(line, flush=True)

    if options.client_cpu is not None:
        os.sched_setaffinity(0, {options.client_cpu})
    server = Server("hypercorn", "soak", ["--keep-alive", str(options.keep_alive)])
    try:
        server.start(options.server_cpu)
        data = asyncio.run(soak(server.port, options, report))
        data["server_errors"] = error_lines(server.output(limit=10**7))
    finally:
        server.stop()
    print(format_summary(data))
    if options.json_path is not None:
        options.json_path.write_text(json.dumps(data, indent=2) + "\n")
    healthy = (
        not data["errors"]
        and data["tasks_back"]
        and data["rss_flat"] is not False
        and not data["server_errors"]
    )
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
