"""Websocket benchmark: echo messages/s per framework, and the ratio to a bare ASGI app.

The rule, as in ``run.py``: all numbers in a table come from one run on one event loop;
every app is checked before it is timed (it must accept, echo text and bytes exactly,
and finish once the client leaves); a round's order of frameworks rotates; the headline
is the *best* round, with the median beside it. Three cases:

``echo``
    In-process: one open connection, ``--messages`` sequential round trips (the client
    sends a text message and waits for the echo). Pure framework cost per message.
``session``
    In-process: a whole connection per iteration (connect, accept, one echo, client
    close, the app finishing). Per-connection cost: contexts, hooks, tasks.
``hypercorn``
    Through hypercorn on 127.0.0.1 (port 0, in this process's event loop) with the
    ``websockets`` client library: ``--net-messages`` round trips on one connection.
    Client, server and app share one core, so this is the end-to-end cost per message.

The target for microframework is 1.5x the bare app's time per message (``x time`` at
most 1.50, i.e. ``vs bare`` at least 0.67).

Usage: python benchmarks/ws.py [--cases echo,session,hypercorn]
       [--frameworks bare,microframework,starlette,quart] [--messages N]
       [--sessions N] [--net-messages N] [--rounds R] [--json out.json] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import platform
import socket
import statistics
import sys
import time
from collections import deque
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from importlib.metadata import version as _dist_version
from pathlib import Path
from typing import Any

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from harness import ASGIApp  # noqa: E402  (needs the sys.path entry above)
from harness import Lifespan  # noqa: E402
from harness import Message  # noqa: E402
from harness import names_arg  # noqa: E402
from harness import Scope  # noqa: E402
from harness import settle  # noqa: E402

PATH = "/ws"
#: 64 characters: a chat line, a small JSON event.
TEXT = "benchmark message: the quick brown fox jumps over the lazy dog.."
CHECK_BYTES = b"\x00\x01binary\xff"
#: Every wait outside a timed round (checks, lifespan, server start) is bounded by it.
CHECK_TIMEOUT = 10.0
#: A hypercorn round must finish within this many seconds or it is reported as failed.
NET_ROUND_TIMEOUT = 120.0

DEFAULTS = {"messages": 20_000, "sessions": 2_000, "net_messages": 2_000, "rounds": 5}
QUICK = {"messages": 50, "sessions": 20, "net_messages": 20, "rounds": 1}
MAX_WARMUP = 1_000
CASES = ("echo", "session", "hypercorn")


# -- the apps ---------------------------------------------------------------------------
async def _bare(scope: Scope, receive: Any, send: Any) -> None:
    """Hand-written ASGI: accept, echo text or bytes until the client leaves."""
    kind = scope["type"]
    if kind == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if kind != "websocket" or scope["path"] != PATH:
        raise ValueError(f"the bare app only serves the websocket {PATH}")
    if (await receive())["type"] != "websocket.connect":
        return
    await send({"type": "websocket.accept"})
    while True:
        message = await receive()
        if message["type"] != "websocket.receive":
            return
        text = message.get("text")
        if text is not None:
            await send({"type": "websocket.send", "text": text})
        else:
            await send({"type": "websocket.send", "bytes": message["bytes"]})


def _microframework() -> ASGIApp:
    from microframework import Microframework
    from microframework import websocket

    app = Microframework(__name__)

    @app.websocket(PATH)
    async def echo() -> None:
        while True:
            await websocket.send(await websocket.receive())

    return app  # type: ignore[return-value]  # our TypedDict-typed __call__


def _starlette() -> ASGIApp:
    from starlette.applications import Starlette
    from starlette.routing import WebSocketRoute
    from starlette.websockets import WebSocket
    from starlette.websockets import WebSocketDisconnect

    async def echo(ws: WebSocket) -> None:
        await ws.accept()
        while True:
            message = await ws.receive()
            if message["type"] != "websocket.receive":
                return  # disconnected
            if message.get("text") is not None:
                await ws.send_text(message["text"])
            else:
                await ws.send_bytes(message["bytes"])

    async def guarded(ws: WebSocket) -> None:
        try:
            await echo(ws)
        except WebSocketDisconnect:
            pass

    return Starlette(routes=[WebSocketRoute(PATH, guarded)])


def _quart() -> ASGIApp:
    from quart import Quart
    from quart import websocket

    app = Quart(__name__)

    @app.websocket(PATH)
    async def echo() -> None:
        while True:
            await websocket.send(await websocket.receive())

    return app  # type: ignore[return-value]  # hypercorn's TypedDicts


FRAMEWORKS: dict[str, tuple[Callable[[], ASGIApp], str]] = {
    "bare": (lambda: _bare, ""),
    "microframework": (_microframework, "microframework"),
    "starlette": (_starlette, "starlette"),
    "quart": (_quart, "quart"),
}


# -- the in-process driver ----------------------------------------------------------------
def _scope(state: dict[str, Any] | None) -> Scope:
    """A websocket scope shaped like hypercorn's (extension included)."""
    scope: Scope = {
        "type": "websocket",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "scheme": "ws",
        "path": PATH,
        "raw_path": PATH.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1:8000"),
            (b"upgrade", b"websocket"),
            (b"connection", b"Upgrade"),
            (b"sec-websocket-version", b"13"),
            (b"sec-websocket-key", b"dGhlIHNhbXBsZSBub25jZQ=="),
        ],
        "client": ("127.0.0.1", 54321),
        "server": ("127.0.0.1", 8000),
        "subprotocols": [],
        "extensions": {"websocket.http.response": {}},
    }
    if state is not None:
        scope["state"] = state
    return scope


class Connection:
    """Both ends of one in-process websocket: the app's receive/send, the client's side.

    Every framework pays the same here: a deque append and one future per wait, no
    tasks and no queues of our own.
    """

    __slots__ = ("_inbox", "_outbox", "_app_waiter", "_client_waiter")

    def __init__(self) -> None:
        self._inbox: deque[Message] = deque([{"type": "websocket.connect"}])
        self._outbox: deque[Message] = deque()
        self._app_waiter: asyncio.Future[None] | None = None
        self._client_waiter: asyncio.Future[None] | None = None

    async def receive(self) -> Message:
        inbox = self._inbox
        while not inbox:
            self._app_waiter = asyncio.get_running_loop().create_future()
            await self._app_waiter
        return inbox.popleft()

    async def send(self, message: Message) -> None:
        self._outbox.append(message)
        waiter = self._client_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def push(self, message: Message) -> None:
        """Deliver *message* to the app's ``receive``."""
        self._inbox.append(message)
        waiter = self._app_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def next(self) -> Message:
        """The next message the app sent."""
        outbox = self._outbox
        while not outbox:
            self._client_waiter = asyncio.get_running_loop().create_future()
            await self._client_waiter
        return outbox.popleft()


async def _open(
    app: ASGIApp, state: dict[str, Any] | None
) -> tuple[Connection, asyncio.Task[None]]:
    """Start the app in its own task, as a server does, and wait for it to accept."""
    connection = Connection()

    async def serve() -> None:
        await app(_scope(state), connection.receive, connection.send)

    task = asyncio.create_task(serve())
    reply = await connection.next()
    if reply["type"] != "websocket.accept":
        task.cancel()
        raise RuntimeError(f"expected websocket.accept, got {reply}")
    return connection, task


async def _close(connection: Connection, task: asyncio.Task[None]) -> None:
    connection.push({"type": "websocket.disconnect", "code": 1000})
    await task  # the app must finish on its own once the client has gone


async def check(app: ASGIApp, state: dict[str, Any] | None) -> str:
    """Accept, exact echo of text and bytes, clean finish: the error, or ""."""
    try:
        async with asyncio.timeout(CHECK_TIMEOUT):
            connection, task = await _open(app, state)
            for message in (
                {"type": "websocket.receive", "text": TEXT},
                {"type": "websocket.receive", "bytes": CHECK_BYTES},
            ):
                connection.push(message)
                reply = await connection.next()
                expected = {k: v for k, v in message.items() if k != "type"}
                got = {k: v for k, v in reply.items() if k != "type" and v is not None}
                if reply["type"] != "websocket.send" or got != expected:
                    task.cancel()
                    return f"echo of {expected} was {reply}"
            await _close(connection, task)
    except Exception as error:
        return f"raised {type(error).__name__}: {error}"
    return ""


async def echo_round(
    app: ASGIApp, state: dict[str, Any] | None, count: int
) -> tuple[float, int]:
    """*count* round trips on one connection; return (seconds, wrong replies)."""
    connection, task = await _open(app, state)
    wrong = 0
    message = {"type": "websocket.receive", "text": TEXT}
    start = time.perf_counter()
    for _ in range(count):
        connection.push(message)
        reply = await connection.next()
        if reply.get("text") != TEXT:
            wrong += 1
    elapsed = time.perf_counter() - start
    await _close(connection, task)
    return elapsed, wrong


async def session_round(
    app: ASGIApp, state: dict[str, Any] | None, count: int
) -> tuple[float, int]:
    """*count* whole sessions (connect, one echo, close); return (seconds, wrong)."""
    wrong = 0
    message = {"type": "websocket.receive", "text": TEXT}
    start = time.perf_counter()
    for _ in range(count):
        connection, task = await _open(app, state)
        connection.push(message)
        if (await connection.next()).get("text") != TEXT:
            wrong += 1
        await _close(connection, task)
    return time.perf_counter() - start, wrong


# -- through hypercorn --------------------------------------------------------------------
class Server:
    """Hypercorn serving one app on 127.0.0.1, in this event loop."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.port = 0
        self._shutdown = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        from hypercorn.asyncio import serve
        from hypercorn.config import Config

        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        self.port = listener.getsockname()[1]
        config = Config()
        config.bind = [f"fd://{listener.detach()}"]  # hypercorn owns it from here
        config.errorlog = logging.getLogger("ws-bench.hypercorn")
        config.graceful_timeout = 2
        self._task = asyncio.create_task(
            serve(self.app, config, shutdown_trigger=self._shutdown.wait)  # type: ignore[arg-type]
        )

    async def stop(self) -> None:
        self._shutdown.set()
        if self._task is not None:
            async with asyncio.timeout(CHECK_TIMEOUT):
                await self._task


async def net_round(port: int, count: int) -> tuple[float, int]:
    """*count* round trips through hypercorn on one ``websockets`` connection."""
    import websockets

    wrong = 0
    async with asyncio.timeout(NET_ROUND_TIMEOUT):
        async with websockets.connect(
            f"ws://127.0.0.1:{port}{PATH}", compression=None
        ) as ws:
            await ws.send(TEXT)
            if await ws.recv() != TEXT:
                wrong += 1  # the connection's first echo is untimed
            start = time.perf_counter()
            for _ in range(count):
                await ws.send(TEXT)
                if await ws.recv() != TEXT:
                    wrong += 1
            elapsed = time.perf_counter() - start
    return elapsed, wrong


# -- running ------------------------------------------------------------------------------
@dataclass
class Framework:
    name: str
    app: ASGIApp | None = None
    version: str = ""
    lifespan: Lifespan | None = None
    server: Server | None = None
    skipped: str = ""
    failed: str = ""
    notes: list[str] = field(default_factory=list)


@dataclass
class Result:
    case: str
    framework: str
    rates: list[float] = field(default_factory=list)
    failed: str = ""

    @property
    def best(self) -> float | None:
        return max(self.rates) if self.rates else None

    @property
    def median(self) -> float | None:
        return statistics.median(self.rates) if self.rates else None


@dataclass
class Options:
    cases: list[str]
    frameworks: list[str]
    counts: dict[str, int]
    rounds: int
    json_path: Path | None


async def load(name: str) -> Framework:
    """Import, build and start one framework's app; record why if that fails."""
    framework = Framework(name)
    build, dist = FRAMEWORKS[name]
    try:
        app = build()
        framework.version = _dist_version(dist) if dist else platform.python_version()
    except ImportError as error:
        framework.skipped = f"not importable ({error})"
        return framework
    except Exception as error:  # a half-written framework must not stop the others
        framework.failed = f"setup raised {type(error).__name__}: {error}"
        return framework
    try:
        framework.lifespan = lifespan = Lifespan(app)
        await lifespan.startup()
    except Exception as error:
        framework.failed = f"lifespan raised {type(error).__name__}: {error}"
        return framework
    if lifespan.note:
        framework.notes.append(lifespan.note)
    framework.app = app
    return framework


Round = Callable[[Framework, int], Awaitable[tuple[float, int]]]


def _state(framework: Framework) -> dict[str, Any] | None:
    return framework.lifespan.state if framework.lifespan else None


async def _echo(framework: Framework, count: int) -> tuple[float, int]:
    assert framework.app is not None
    return await echo_round(framework.app, _state(framework), count)


async def _session(framework: Framework, count: int) -> tuple[float, int]:
    assert framework.app is not None
    return await session_round(framework.app, _state(framework), count)


async def _net(framework: Framework, count: int) -> tuple[float, int]:
    assert framework.server is not None
    return await net_round(framework.server.port, count)


ROUNDS: dict[str, tuple[Round, str]] = {
    "echo": (_echo, "messages"),
    "session": (_session, "sessions"),
    "hypercorn": (_net, "net_messages"),
}


async def run_case(
    case: str,
    frameworks: list[Framework],
    options: Options,
    report: Callable[[str], None],
) -> list[Result]:
    """Warm up and time one case across every framework that passed its check."""
    results = {f.name: Result(case, f.name) for f in frameworks}
    runnable = [f for f in frameworks if f.app is not None and not f.failed]
    if case == "hypercorn":
        for framework in runnable:
            if framework.server is None:
                assert framework.app is not None
                framework.server = Server(framework.app)
                await framework.server.start()
    round_func, count_key = ROUNDS[case]
    count = options.counts[count_key]
    warmup = min(count, MAX_WARMUP)
    for r in range(-1, options.rounds):
        shift = max(r, 0) % len(runnable) if runnable else 0
        for framework in runnable[shift:] + runnable[:shift]:
            result = results[framework.name]
            if result.failed:
                continue
            await settle()
            gc.collect()
            try:
                elapsed, wrong = await round_func(framework, warmup if r < 0 else count)
            except Exception as error:
                result.failed = f"raised {type(error).__name__}: {error}"
                continue
            if wrong:
                result.failed = f"{wrong} wrong echoes"
            elif r >= 0:
                result.rates.append(count / elapsed)
        if r >= 0:
            report(f"  {case}: round {r + 1}/{options.rounds} done")
    return [results[f.name] for f in frameworks]


async def run(options: Options, report: Callable[[str], None]) -> dict[str, Any]:
    """Run every selected case on every selected framework; return the JSON report."""
    logging.getLogger("ws-bench.hypercorn").addHandler(logging.NullHandler())
    frameworks = [await load(name) for name in options.frameworks]
    for framework in frameworks:
        if framework.app is not None:
            error = await check(framework.app, _state(framework))
            if error:
                framework.failed = f"check failed: {error}"
        if framework.skipped or framework.failed:
            report(f"{framework.name}: {framework.skipped or framework.failed}")
    started = time.perf_counter()
    results: list[Result] = []
    try:
        for case in options.cases:
            results += await run_case(case, frameworks, options, report)
    finally:
        for framework in frameworks:
            try:
                if framework.server is not None:
                    await framework.server.stop()
                if framework.lifespan is not None:
                    await framework.lifespan.shutdown()
            except Exception as error:
                framework.notes.append(
                    f"shutdown raised {type(error).__name__}: {error}"
                )
    return _report_dict(options, frameworks, results, time.perf_counter() - started)


def _report_dict(
    options: Options, frameworks: list[Framework], results: list[Result], seconds: float
) -> dict[str, Any]:
    bare = {r.case: r.best for r in results if r.framework == "bare"}
    rows = []
    for result in results:
        base, best = bare.get(result.case), result.best
        rows.append(
            {
                "case": result.case,
                "framework": result.framework,
                "unit": "sessions" if result.case == "session" else "messages",
                "rates": [round(rate, 1) for rate in result.rates],
                "best": best,
                "median": result.median,
                "ratio_to_bare": best / base if best and base else None,
                "failed": result.failed,
            }
        )
    return {
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(),
        "counts": options.counts,
        "rounds": options.rounds,
        "statistic": "best round",
        "seconds": round(seconds, 2),
        "frameworks": {
            f.name: {
                "version": f.version,
                "skipped": f.skipped,
                "failed": f.failed,
                "notes": f.notes,
            }
            for f in frameworks
        },
        "results": rows,
    }


def format_table(data: dict[str, Any]) -> str:
    """Render the report as a plain-text table, with notes for skipped frameworks."""
    header: tuple[str, ...] = ("case", "framework", "per s best", "per s median")
    header += ("us each", "vs bare", "x time")
    lines: list[tuple[str, ...]] = [header]
    previous = ""
    for row in data["results"]:
        info = data["frameworks"][row["framework"]]
        if info["skipped"]:
            continue
        case = row["case"] if row["case"] != previous else ""
        previous = row["case"]
        if row["best"] is None:
            reason = info["failed"] or row["failed"] or "no data"
            lines.append((case, row["framework"], "FAILED", "", "", "", reason))
            continue
        ratio = row["ratio_to_bare"]
        lines.append(
            (
                case,
                row["framework"],
                f"{row['best']:,.0f}",
                f"{row['median']:,.0f}",
                f"{1e6 / row['best']:.1f}",
                f"{ratio:.2f}" if ratio else "-",
                f"{1 / ratio:.2f}" if ratio else "-",
            )
        )
    widths = [
        max(len(line[i]) for line in lines if i < 6 or line[2] != "FAILED")
        for i in range(len(header))
    ]
    counts = data["counts"]
    out = [
        f"{data['python']}, {data['rounds']} rounds; echo {counts['messages']} messages,"
        f" session {counts['sessions']} sessions, hypercorn {counts['net_messages']}"
        f" messages per round; {data['statistic']}; {data['seconds']} s",
        "vs bare = rate / bare rate; x time = time each / bare time each"
        " (microframework target: x time <= 1.50)",
        "",
    ]
    for line in lines:
        cells = [line[0].ljust(widths[0]), line[1].ljust(widths[1])]
        cells += [c.rjust(w) for c, w in zip(line[2:6], widths[2:6], strict=True)]
        cells.append(line[6] if line[2] == "FAILED" else line[6].rjust(widths[6]))
        out.append("  ".join(cells).rstrip())
    for name, info in data["frameworks"].items():
        detail = info["skipped"] or info["failed"]
        label = f"{name} {info['version']}".strip()
        if detail:
            out.append(f"note: {label}: {detail}")
        for note in info["notes"]:
            out.append(f"note: {label}: {note}")
    return "\n".join(out)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def parse_args(argv: Sequence[str] | None) -> Options:
    """Parse the command line; ``--quick`` only changes the defaults it is given."""
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None
    )
    parser.add_argument("--cases", type=names_arg(CASES), default=list(CASES))
    parser.add_argument(
        "--frameworks", type=names_arg(list(FRAMEWORKS)), default=list(FRAMEWORKS)
    )
    for key, unit in (
        ("messages", "echo round trips per round"),
        ("sessions", "sessions per round"),
        ("net_messages", "hypercorn round trips per round"),
        ("rounds", "timed rounds"),
    ):
        parser.add_argument(
            f"--{key.replace('_', '-')}",
            dest=key,
            type=_positive,
            help=f"{unit} (default {DEFAULTS[key]}, --quick {QUICK[key]})",
        )
    parser.add_argument("--json", type=Path, dest="json_path")
    parser.add_argument("--quick", action="store_true", help="a smoke run")
    args = parser.parse_args(argv)
    defaults = QUICK if args.quick else DEFAULTS
    counts = {
        key: getattr(args, key) or defaults[key]
        for key in ("messages", "sessions", "net_messages")
    }
    return Options(
        args.cases,
        args.frameworks,
        counts,
        args.rounds or defaults["rounds"],
        args.json_path,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, print the table; exit status 1 if any app failed."""
    options = parse_args(argv)

    def report(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    data = asyncio.run(run(options, report))
    print(format_table(data))
    if options.json_path is not None:
        options.json_path.write_text(json.dumps(data, indent=2) + "\n")
    failed = any(info["failed"] for info in data["frameworks"].values()) or any(
        row["failed"] for row in data["results"]
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
